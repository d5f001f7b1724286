#!/usr/bin/env bash
# Interop with libcoap's own client: coap-client-gnutls holding a device's
# IDevID reads the trust anchors (PKCS#7) and enrolls with a certtool-made CSR;
# GnuTLS's certtool then checks the certificate against the domain CA.
set -euo pipefail

source "$(dirname "$0")/interop.bash"
interop_begin interop coap-client-gnutls certtool awk

echo "# setup: manufacturer, domain, trust, policy, voucher"
"$STEWARD" mfg init --dir mfg --name ACME >/dev/null
id=$("$STEWARD" mfg imprint --dir mfg --model thermo-1 --out dev/d2)
"$STEWARD" admin --data var init --name home.example >/dev/null
"$STEWARD" admin --data var trust-manufacturer mfg/ca.pem >/dev/null
"$STEWARD" admin --data var enroll allow --model thermo-1 >/dev/null
"$STEWARD" mfg voucher --dir mfg --device dev/d2 --owner var/domain-ca.pem --out d2.voucher >/dev/null
"$STEWARD" admin --data var voucher add d2.voucher >/dev/null

echo "# start the daemon on a free loopback port"
start_daemon
echo "# daemon pid $daemon_pid at $uri, device $id"

split_pem dev/d2/idevid.pem idevid-cert.pem idevid-key.pem

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

interop_end
