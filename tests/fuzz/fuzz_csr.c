/* Fuzz target: PKCS#10 parsing and self-signature check (lib/pki.c). */
#include <stddef.h>
#include <stdint.h>

#include "pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_csr_info_t info;
  (void)!stw_csr_parse_verify(data, size, &info);
  return 0;
}
