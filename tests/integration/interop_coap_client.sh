#!/usr/bin/env bash
# Interop with libcoap's own client: coap-client-gnutls holding a device's
# IDevID reads the trust anchors (PKCS#7) and enrolls with a certtool-made CSR;
# GnuTLS's certtool then checks the certificate against the domain CA.
set -euo pipefail

STEWARD=${STEWARD:?set STEWARD to the steward binary (CTest does)}
for tool in coap-client-gnutls certtool awk; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/stw-interop-XXXXXX")
daemon_pid=""
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

passed=0
failed=0
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

echo "# setup: manufacturer, domain, trust, policy, voucher"
"$STEWARD" mfg init --dir mfg --name ACME >/dev/null
id=$("$STEWARD" mfg imprint --dir mfg --model thermo-1 --out dev/d2)
"$STEWARD" admin --data var init --name home.example >/dev/null
"$STEWARD" admin --data var trust-manufacturer mfg/ca.pem >/dev/null
"$STEWARD" admin --data var enroll allow --model thermo-1 >/dev/null
"$STEWARD" mfg voucher --dir mfg --device dev/d2 --owner var/domain-ca.pem --out d2.voucher >/dev/null
"$STEWARD" admin --data var voucher add d2.voucher >/dev/null

echo "# start the daemon on a free loopback port"
coproc DAEMON { exec "$STEWARD" serve --data var --listen 127.0.0.1:0 2>daemon.log; }
daemon_pid=$DAEMON_PID
line=""
read -r -t 10 line <&"${DAEMON[0]}" || true
port=$(sed -n 's|^serving coaps://127\.0\.0\.1:\([0-9]*\) .*|\1|p' <<<"$line")
if [[ -z "$port" ]]; then
  echo "daemon did not report its port: '$line'"
  cat daemon.log
  exit 1
fi
uri="coaps://127.0.0.1:$port"
echo "# daemon pid $daemon_pid at $uri, device $id"

# coap-client wants the certificate and the key in separate files.
awk '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/' dev/d2/idevid.pem >idevid-cert.pem
awk '/-----BEGIN (EC )?PRIVATE KEY-----/,/-----END (EC )?PRIVATE KEY-----/' dev/d2/idevid.pem >idevid-key.pem
chmod 600 idevid-key.pem

echo "# GET /.well-known/est/crts (Accept 281) with the IDevID"
coap-client-gnutls -B 10 -c idevid-cert.pem -j idevid-key.pem -m get -A 281 "$uri/.well-known/est/crts" -o crts.p7 >crts.out 2>&1 || true
check "crts answered with a body" test -s crts.p7
check "crts is PKCS#7 holding 2 certificates" \
  grep -q "Number of certificates: 2" <(certtool --p7-info --inder --infile crts.p7 2>&1)
certtool --p7-info --inder --infile crts.p7 >p7info.txt 2>&1 || true
# The domain CA's base64 body must appear among the PEM certificates listed.
pem_body() { grep -v -- '-----' "$1" | tr -d '\n'; }
check "the domain CA is among the anchors" grep -qF "$(pem_body var/domain-ca.pem)" <(pem_body p7info.txt)

echo "# a CSR from certtool for a fresh key, CN = device id"
certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile new.key 2>/dev/null
printf 'cn = "%s"\n' "$id" >csr.tmpl
certtool --generate-request --load-privkey new.key --template csr.tmpl --outder --outfile d2.csr 2>/dev/null
check "certtool made a DER CSR" test -s d2.csr

echo "# POST /.well-known/est/sen (Content-Format 286, Accept 287) with the IDevID"
coap-client-gnutls -B 10 -c idevid-cert.pem -j idevid-key.pem -m post -t 286 -A 287 -f d2.csr \
  "$uri/.well-known/est/sen" -o d2.crt >sen.out 2>&1 || true
cat sen.out
check "sen answered with a certificate" test -s d2.crt
certtool --certificate-info --inder --infile d2.crt --outfile d2.pem >/dev/null 2>&1 || true
check "the certificate parses" grep -q "BEGIN CERTIFICATE" d2.pem
check "certtool verifies it against var/domain-ca.pem" \
  certtool --verify --load-ca-certificate var/domain-ca.pem --infile d2.pem
key_id() { grep -A3 "Public Key ID" | grep -o -m1 'sha256:[0-9a-f]*'; }
check "it certifies the key of the CSR" \
  test "$(certtool --key-info --load-privkey new.key 2>/dev/null | key_id)" = \
       "$(certtool --certificate-info --infile d2.pem 2>/dev/null | key_id)"
check "its subject serialNumber is the device id" \
  grep -q "$id" <(certtool --certificate-info --infile d2.pem)

echo "# the daemon's own view"
"$STEWARD" admin --data var devices >devices.out 2>&1 || true
cat devices.out
check "the device is BOOTSTRAPPED" grep -Eiq "$id.*bootstrapped" devices.out

echo "# the same CSR again: the same certificate (idempotent retry)"
coap-client-gnutls -B 10 -c idevid-cert.pem -j idevid-key.pem -m post -t 286 -A 287 -f d2.csr \
  "$uri/.well-known/est/sen" -o d2-again.crt >sen2.out 2>&1 || true
check "identical retry returns identical bytes" cmp -s d2.crt d2-again.crt

echo "# a wrong content format is refused with 4.15"
coap-client-gnutls -B 10 -c idevid-cert.pem -j idevid-key.pem -m post -t 0 -A 287 -f d2.csr \
  "$uri/.well-known/est/sen" >cf.out 2>&1 || true
check "4.15 for text/plain" grep -q "^4.15" cf.out

echo "# SIGTERM: clean exit"
kill -TERM "$daemon_pid"
rc=0
wait "$daemon_pid" || rc=$?
daemon_pid=""
check "daemon exited 0 on SIGTERM" test "$rc" -eq 0
if [[ $rc -ne 0 ]]; then cat daemon.log; fi
"$STEWARD" admin --data var audit --verify >verify.out 2>&1 || true
check "audit chain verifies" grep -q "audit chain intact" verify.out

echo "$passed passed, $failed failed"
test "$failed" -eq 0
