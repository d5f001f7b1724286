# Shared by the interop scripts (sourced, not a test of its own): a work
# folder removed on exit, check() counting results, the daemon started on a
# free loopback port and stopped with SIGTERM, PEM files split for
# coap-client, and the closing checks.

STEWARD=${STEWARD:?set STEWARD to the steward binary (CTest does)}

# interop_begin NAME TOOL...: every tool present, a fresh work folder, cd there.
interop_begin() {
  local name=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
  done
  work=$(mktemp -d "${TMPDIR:-/tmp}/stw-$name-XXXXXX")
  daemon_pid=""
  trap interop_cleanup EXIT
  cd "$work"
  passed=0
  failed=0
}

interop_cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}

check() { # check "what" command...
  local what=$1
  shift
  if "$@"; then
    echo "ok   - $what"
    passed=$((passed + 1))
  else
    echo "FAIL - $what"
    failed=$((failed + 1))
  fi
}

# start_daemon: `steward serve` on the store in ./var; sets daemon_pid, uri.
start_daemon() {
  coproc DAEMON { exec "$STEWARD" serve --data var --listen 127.0.0.1:0 2>daemon.log; }
  daemon_pid=$DAEMON_PID
  local line="" port
  read -r -t 10 line <&"${DAEMON[0]}" || true
  port=$(sed -n 's|^serving coaps://127\.0\.0\.1:\([0-9]*\) .*|\1|p' <<<"$line")
  if [[ -z "$port" ]]; then
    echo "daemon did not report its port: '$line'"
    cat daemon.log
    exit 1
  fi
  uri="coaps://127.0.0.1:$port"
}

# split_pem SRC CERT KEY: coap-client wants the certificate and the key in
# separate files.
split_pem() {
  awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' "$1" >"$2"
  awk '/-----BEGIN (EC )?PRIVATE KEY-----/,/-----END (EC )?PRIVATE KEY-----/' "$1" >"$3"
  chmod 600 "$3"
}

# interop_end: SIGTERM must end the daemon with 0, the audit chain must
# verify; the summary, and the script's status.
interop_end() {
  echo "# SIGTERM: clean exit"
  kill -TERM "$daemon_pid"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=""
  check "daemon exited 0 on SIGTERM" test "$rc" -eq 0
  if [[ $rc -ne 0 ]]; then tail -20 daemon.log; fi
  "$STEWARD" admin --data var audit --verify >verify.out 2>&1 || true
  check "audit chain verifies" grep -q "audit chain intact" verify.out
  echo "$passed passed, $failed failed"
  test "$failed" -eq 0
}
