#!/usr/bin/env bash
# Resource directory interop with libcoap's own client: coap-client-gnutls
# holding a device's LDevID registers, updates, looks up and deletes; every
# bad input of docs/discovery.md gets its code and changes nothing; a hidden
# entry answers byte for byte like an absent one; the daemon keeps serving.
set -euo pipefail

source "$(dirname "$0")/interop.bash"
interop_begin interop-rd coap-client-gnutls awk cmp

echo "# setup: manufacturer, domain, two devices bootstrapped with the SDK"
"$STEWARD" mfg init --dir mfg --name ACME >/dev/null
"$STEWARD" admin --data var init --name home.example >/dev/null
"$STEWARD" admin --data var trust-manufacturer mfg/ca.pem >/dev/null
"$STEWARD" admin --data var enroll allow --model thermo-1 >/dev/null
for d in d1 d2; do
  "$STEWARD" mfg imprint --dir mfg --model thermo-1 --out "dev/$d" >/dev/null
  "$STEWARD" mfg voucher --dir mfg --device "dev/$d" --owner var/domain-ca.pem --out "$d.voucher" >/dev/null
  "$STEWARD" admin --data var voucher add "$d.voucher" >/dev/null
done

start_daemon
for d in d1 d2; do
  "$STEWARD" device --dir "dev/$d" --server "$uri" bootstrap >/dev/null
  split_pem "dev/$d/operational.pem" "$d-cert.pem" "$d-key.pem"
done
ep1=$(cat dev/d1/name)
ep2=$(cat dev/d2/name)
echo "# daemon pid $daemon_pid at $uri; devices $ep1, $ep2"

# coap DEV METHOD PATH [coap-client options...]: answer body in out.body, the
# rest (errors, codes) in out.txt.
coap() {
  local dev=$1 method=$2 path=$3
  shift 3
  rm -f out.body
  # -v 6 shows each PDU: coap-client exits 0 even when nothing answered, so
  # success is read from the answer's own code line.
  coap-client-gnutls -B 10 -v 6 -c "$dev-cert.pem" -j "$dev-key.pem" -m "$method" "$@" -o out.body "$uri/$path" \
    >out.txt 2>&1 || true
  touch out.body
}
code_is() { grep -q "^$1" out.txt; }
# An answer came, with a 2.xx code, and no 4.xx/5.xx line anywhere.
no_error() { grep -Eq 'c:2\.0[0-5]' out.txt && ! grep -Eq '^[45]\.[0-9][0-9]|c:[45]\.[0-9][0-9]' out.txt; }
body_has() { grep -qF -- "$1" out.body; }
# The codes in a coap-client log (answers' c:X.YY and error lines), without the
# timestamps, message ids and tokens that differ from run to run.
answer_codes() { grep -Eo 'c:[0-9]\.[0-9][0-9]|^[0-9]\.[0-9][0-9].*' "$1"; }

echo "# discovery of the directory itself"
coap d1 get .well-known/core
check "/.well-known/core lists rt=\"core.rd\"" body_has 'rt="core.rd"'
check "... and the lookup interfaces" body_has 'rt="core.rd-lookup-res"'

echo "# register, look up, update, with the LDevID"
coap d1 post "rd?ep=$ep1&lt=120" -t 40 -e '</temp>;rt="temperature";if="sensor",</cfg>;rt="config"'
check "registration answered without error" no_error
coap d1 get "rd-lookup/ep?ep=$ep1"
check "the endpoint lookup finds it" body_has "ep=$ep1"
loc=$(grep -o '</rd/[0-9a-f]*>' out.body | head -1 | tr -d '<>' | sed 's|^/||')
check "it has a location rd/<id>" test -n "$loc"
coap d1 get "rd-lookup/res?rt=temp*"
check "resource lookup by rt with a wildcard" body_has '/temp>'
check "... only the matching resource" test "$(grep -c cfg out.body)" -eq 0
coap d1 post "$loc?lt=300"
check "update without payload" no_error
coap d1 post "$loc" -t 40 -e '</hum>;rt="humidity"'
check "update with new links" no_error
coap d1 get "rd-lookup/res?ep=$ep1"
check "the new links replaced the old" body_has '/hum>'
check "... and /temp is gone" test "$(grep -c temp out.body)" -eq 0
cp out.body before.body
"$STEWARD" admin --data var rd >rd.out 2>&1 || true
check "steward admin rd lists it with lt 300" grep -q "$ep1.*300" rd.out

echo "# bad input: clear codes, nothing changed"
coap d1 post "rd?ep=$ep1" -t 40 -e '</temp;rt="x"'
check "unterminated '<' → 4.00" code_is "4.00"
coap d1 post "rd?ep=$ep1" -t 40 -e '</temp>;=x'
check "attribute without a name → 4.00" code_is "4.00"
coap d1 post "rd?ep=$ep1" -t 40 -e '</temp>;rt="open'
check "unterminated quoted value → 4.00" code_is "4.00"
huge=$(head -c 400 /dev/zero | tr '\0' 'a')
coap d1 post "rd?ep=$ep1" -t 40 -e "</temp>;rt=\"$huge\""
check "a 400-byte attribute value → 4.13" code_is "4.13"
{ printf '</x>'; for i in $(seq 1 300); do printf ',</r%03d>' "$i"; done; } >big.lf
coap d1 post "rd?ep=$ep1" -t 40 -f big.lf -b 1024
check "payload over 4096 bytes → 4.13" code_is "4.13"
coap d1 post "rd?ep=$ep1&lt=10" -t 40 -e '</t>'
check "lt=10 (under a minute) → 4.00" code_is "4.00"
coap d1 post "rd?ep=$ep1&lt=99999999999" -t 40 -e '</t>'
check "lt over a year → 4.00" code_is "4.00"
coap d1 post "rd?lt=100" -t 40 -e '</t>'
check "missing ep → 4.00" code_is "4.00"
coap d2 post "rd?ep=$ep1" -t 40 -e '</t>'
check "ep of another device → 4.03" code_is "4.03"
coap d2 post "$loc?lt=600" -t 40 -e '</evil>'
check "update of another device's registration → 4.03" code_is "4.03"
coap d2 delete "$loc"
check "delete of another device's registration → 4.03" code_is "4.03"
coap d1 get "rd-lookup/res?=temp"
check "lookup with an empty parameter name → 4.00" code_is "4.00"
coap d1 get "rd-lookup/res?r(t=temp"
check "lookup with a bad parameter name → 4.00" code_is "4.00"
coap d1 get "rd-lookup/res?count=100000"
check "lookup with count=100000 → 4.13" code_is "4.13"
coap d1 get "rd-lookup/res?count=0"
check "lookup with count=0 → 4.00" code_is "4.00"
coap d1 get "rd-lookup/res?ep=$ep1"
check "after all that, the registration is unchanged" cmp -s before.body out.body
"$STEWARD" admin --data var rd >rd.out 2>&1 || true
check "... with its lifetime unchanged" grep -q "$ep1.*300" rd.out

echo "# hidden is absent: same code, same bytes"
coap d2 post "rd?ep=$ep2&vis=private" -t 40 -e '</secret>;rt="temperature"'
check "d2 registers privately" no_error
coap d1 get "rd-lookup/ep?ep=$ep2"
cp out.body hidden.body; cp out.txt hidden.txt
coap d1 get "rd-lookup/ep?ep=thermo-1-ffffffff"
check "same answer bytes for hidden and absent" cmp -s hidden.body out.body
check "same code and output for hidden and absent" \
  bash -c 'test -n "$1" && test "$1" = "$2"' _ "$(answer_codes hidden.txt)" "$(answer_codes out.txt)"
coap d2 get "rd-lookup/ep?ep=$ep2"
check "its owner still sees it" body_has "ep=$ep2"

echo "# delete"
coap d1 delete "$loc"
check "delete by its owner" no_error
coap d1 get "rd-lookup/res?ep=$ep1"
check "nothing left" test ! -s out.body
coap d1 get .well-known/core
check "the daemon still serves" body_has 'rt="core.rd"'

interop_end
