#!/usr/bin/env bash
# Code size, RAM and stack of the device's policy enforcement point: the
# files a device links to check capability tokens (device/pep.c,
# lib/cwt_claims.c, lib/cbor_reader.c), built alone with -Os as firmware
# would be. Prints text/data/bss per object, the stack frame of every
# function (gcc -fstack-usage), the deepest call chain inside these files
# (gcc -fcallgraph-info), and the RAM the PEP's structures take.
#
#   bench/pep_size.sh            # gcc, -Os, host architecture
#   CC=arm-none-eabi-gcc CFLAGS_EXTRA="-mcpu=cortex-m4 -mthumb" bench/pep_size.sh
#
# nettle (SHA-256, ecc_ecdsa_verify) and GMP (mpz_import) are libraries
# the device links anyway and are not counted; their stack is in the
# figures docs/formats-tokens.md gives separately.
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-gcc}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files="device/pep.c lib/cwt_claims.c lib/cbor_reader.c"
flags="-std=c11 -Os -ffunction-sections -fdata-sections -fstack-usage -fcallgraph-info=su
       -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Ilib -Idevice ${CFLAGS_EXTRA:-}"
for f in $files; do
  # shellcheck disable=SC2086
  (cd "$out" && $CC $flags -I"$OLDPWD/include" -I"$OLDPWD/lib" -I"$OLDPWD/device" -c "$OLDPWD/$f" -o "$(basename "$f").o")
done

echo "== code size ($CC -Os), bytes"
(cd "$out" && size pep.c.o cwt_claims.c.o cbor_reader.c.o && size -t pep.c.o cwt_claims.c.o cbor_reader.c.o | tail -1)

echo
echo "== stack frame per function, bytes (gcc -fstack-usage; largest first)"
cat "$out"/*.su | awk -F'\t' '{ split($1, a, ":"); printf "%6d  %-10s %s\n", $2, $3, a[4] }' | sort -rn

echo
echo "== deepest call chains inside these files (frames added up)"
python3 - "$out" <<'PY'
import glob, re, sys
frames, edges = {}, {}
for ci in glob.glob(sys.argv[1] + "/*.ci"):
    text = open(ci).read()
    for m in re.finditer(r'node: \{ title: "([^"]+)" label: "([^"]*)"', text):
        title, label = m.group(1), m.group(2)
        s = re.search(r'(\d+) bytes \((static|dynamic)', label)
        if s:
            frames[title] = int(s.group(1))
    for m in re.finditer(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
        edges.setdefault(m.group(1), set()).add(m.group(2))
memo = {}
def deepest(fn, seen=()):
    if fn in seen:
        return (float("inf"), [fn + " (recursion)"])
    if fn in memo:
        return memo[fn]
    best = (0, [])
    for callee in edges.get(fn, ()):
        if callee in frames:          # only functions built here
            best = max(best, deepest(callee, seen + (fn,)), key=lambda b: b[0])
    memo[fn] = (frames.get(fn, 0) + best[0], [fn] + best[1])
    return memo[fn]
for entry in ["stw_pep_check_token", "stw_pep_authorize", "stw_pep_authorize_stored",
              "stw_pep_store_token", "stw_pep_revoke", "stw_pep_init"]:
    name = next((t for t in frames if t.split(":")[-1] == entry), None)
    if name:
        total, chain = deepest(name)
        print("%6d  %s" % (total, " -> ".join(c.split(":")[-1] for c in chain)))
PY

echo
echo "== RAM of the PEP's structures, bytes (host ABI)"
cat > "$out/ram.c" <<'C'
#include <stdio.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecdsa.h>
#include "steward/authz.h"
#include "pep.h"
int main(void)
{
  const struct ecc_curve *c = nettle_get_secp_256r1();
  size_t limbs = (size_t)ecc_size(c);
  size_t scratch = (2 * limbs + (size_t)ecc_ecdsa_verify_itch(c)) * sizeof(mp_limb_t);
  printf("%6zu  stw_pep_t (store of %d tokens, %d revoked ids, audience)\n", sizeof(stw_pep_t),
         STW_PEP_TOKENS, STW_PEP_REVOKED);
  printf("%6zu  stw_pep_token_t (one checked token; its scope is %zu of it)\n", sizeof(stw_pep_token_t),
         sizeof(stw_aif_t));
  printf("%6zu  heap at stw_pep_init: verifier %zu + domain point %zu + r,s %zu + scratch %zu\n",
         sizeof(struct stw_pep_verifier) + 2 * limbs * sizeof(mp_limb_t) + 2 * 4 * sizeof(mp_limb_t) + scratch,
         sizeof(struct stw_pep_verifier), 2 * limbs * sizeof(mp_limb_t), 2 * 4 * sizeof(mp_limb_t), scratch);
  return 0;
}
C
# shellcheck disable=SC2086
(cd "$out" && $CC -std=c11 -I"$OLDPWD/include" -I"$OLDPWD/lib" -I"$OLDPWD/device" ram.c -o ram -lnettle -lhogweed -lgmp && ./ram)
