#!/usr/bin/env bash
# Runs every test: unit (cmocka), integration (the real daemon on loopback,
# driven by the SDK and by libcoap's coap-client), RFC/published vectors, and
# the fuzz corpora, all under AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer included). Then a short libFuzzer run of every fuzz target
# (clang) and the banned-call check. Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/check-banned.sh

jobs=$(nproc)
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DSTW_SANITIZE=ON >/dev/null
cmake --build build-test -j"$jobs"

# Short coverage-guided runs: every parser gets a little fuzzing on every CI run.
fuzz_seconds=${STW_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" -gt 0 ] && command -v clang >/dev/null; then
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTW_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j"$jobs" >/dev/null
  for f in build-fuzz/tests/fuzz_*; do
    [ -x "$f" ] || continue
    case "$f" in *_replay) continue ;; esac
    name=$(basename "$f"); corpus=tests/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d); cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    echo "fuzzing $name for ${fuzz_seconds}s"
    "$f" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1 \
      || { echo "fuzz target $name failed:"; tail -40 "$work.log"; exit 1; }
    rm -rf "$work" "$work.log"
  done
fi

cd build-test
ctest --output-on-failure -j"$jobs" --timeout 900
