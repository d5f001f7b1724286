/* Fuzz target: X.509 parsing and issuer checks (lib/pki.c). The input is
 * also tried as its own issuer, which reaches the signature check for
 * self-signed seeds. */
#include <stddef.h>
#include <stdint.h>

#include "pki.h"

static stw_status_t each_cert(const uint8_t *der, size_t len, void *ctx)
{
  stw_cert_info_t info;
  (void)ctx;
  return stw_cert_parse(der, len, &info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_cert_info_t info;
  (void)!stw_cert_parse(data, size, &info);
  (void)!stw_cert_verify_issued_by(data, size, data, size, 1700000000);
  /* Also as a PKCS#7 bundle, whose decoder shares the certificate bounds. */
  (void)!stw_pkcs7_certs_decode(data, size, each_cert, NULL);
  return 0;
}
