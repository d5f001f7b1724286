#!/usr/bin/env bash
# The later life through the `steward` command alone, as an operator and a
# device's firmware would run it: sign and publish a release, a campaign, the
# device's agents install it and answer the verifier's challenge, the
# compliance report, decommission, the device refused, factory reset, a new
# owner's voucher, bootstrapped again.
set -euo pipefail

source "$(dirname "$0")/interop.bash"
interop_begin later-life python3

echo "# setup: manufacturer, domain, one enrolled device"
"$STEWARD" mfg init --dir mfg --name ACME >/dev/null
id=$("$STEWARD" mfg imprint --dir mfg --model thermo-1 --out dev/d1)
"$STEWARD" admin --data var init --name home.example >/dev/null
"$STEWARD" admin --data var trust-manufacturer mfg/ca.pem >/dev/null
"$STEWARD" admin --data var enroll allow --model thermo-1 >/dev/null
"$STEWARD" mfg voucher --dir mfg --device dev/d1 --owner var/domain-ca.pem --out d1.voucher >/dev/null
"$STEWARD" admin --data var voucher add d1.voucher >/dev/null
start_daemon
"$STEWARD" device --dir dev/d1 --server "$uri" bootstrap

# Each refusal must say why: a crash or a daemon that never answered fails these.
refused() { # refused FILE PATTERN COMMAND...: exit 1 (a refusal, not a crash) and PATTERN in the output
  local out=$1 pattern=$2 rc=0
  shift 2
  "$@" >"$out" 2>&1 || rc=$?
  cat "$out"
  test "$rc" -eq 1 && grep -Eq "$pattern" "$out"
}
echo "# the vendor signs a release, the owner publishes it and starts a campaign"
head -c 4096 /dev/urandom >fw.img
"$STEWARD" mfg firmware-sign --dir mfg --image fw.img --class thermo-1 --sequence 1 --out fw.manifest
"$STEWARD" admin --data var firmware publish --manifest fw.manifest --image fw.img
head -c 4096 /dev/urandom >other.img
check "publishing with an image the manifest does not describe is refused" \
  refused publish-refused.out "does not match the manifest" \
  "$STEWARD" admin --data var firmware publish --manifest fw.manifest --image other.img
"$STEWARD" admin --data var campaign create --firmware 1 --target model=thermo-1 --canary 100 --max-failures 0

echo "# the device runs its agents: it installs the release and answers the challenge that follows"
"$STEWARD" device --dir dev/d1 --server "$uri" run --for 8 | tee run.out
check "the update was installed and confirmed" grep -q "update to sequence 1 installed and confirmed" run.out
check "the post-update challenge was answered: affirming" grep -q "answered a challenge: affirming" run.out
"$STEWARD" admin --data var campaign status 1 | tee status.out
check "the campaign is done" grep -q "done" status.out
"$STEWARD" admin --data var attestations "$id" | tee att.out
check "the result is recorded with trigger update" grep -q "update" att.out

echo "# the device attests on its own"
"$STEWARD" device --dir dev/d1 --server "$uri" attest | tee attest.out
check "affirming" grep -q "affirming" attest.out

echo "# the compliance report"
"$STEWARD" admin --data var compliance --format json >report.json
check "the report is JSON with 9 fleet provisions and 5.3 passing" python3 - <<'PY'
import json
r = json.load(open("report.json"))
fleet = {p["provision"]: p["verdict"] for p in r["fleet"]}
assert len(r["fleet"]) == 9, fleet
assert fleet["5.3"] == "pass" and fleet["5.7"] == "pass", fleet
PY
"$STEWARD" admin --data var compliance --format html --out report.html
check "the HTML report names the device" grep -q "$id" report.html

echo "# decommission: refused from then on, until a new owner's voucher"
"$STEWARD" admin --data var decommission "$id"
check "the decommissioned device cannot attest: its LDevID is refused at the handshake" \
  refused attest-refused.out "attestation of $id failed: .*DTLS" "$STEWARD" device --dir dev/d1 --server "$uri" attest
"$STEWARD" device --dir dev/d1 factory-reset
check "after the reset, without a new voucher, bootstrap is refused 4.03 decommissioned" \
  refused boot-refused.out "refused.*4\.03.*decommissioned" "$STEWARD" device --dir dev/d1 --server "$uri" bootstrap
"$STEWARD" mfg voucher --dir mfg --device dev/d1 --owner var/domain-ca.pem --out d1-new.voucher >/dev/null
"$STEWARD" admin --data var voucher add d1-new.voucher
check "with the new voucher it bootstraps again" "$STEWARD" device --dir dev/d1 --server "$uri" bootstrap

interop_end
