/* Fuzz target: attestation evidence as the verifier receives it, and the
 * appraisal result as the device receives it (lib/evidence.c). Claims that
 * parse must encode again to the very bytes they came from; a result that
 * parses names a known tier and fits the caller's buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_evidence_t e;
  if (stw_evidence_parse(data, size, &e) == STW_OK && (e.nonce_len < STW_EVIDENCE_NONCE_MIN || e.n_meas == 0))
    abort();
  if (stw_evidence_decode(data, size, &e) == STW_OK) {
    stw_buf_t again;
    stw_buf_init(&again, STW_EVIDENCE_MAX);
    if (stw_evidence_encode(&e, &again) != STW_OK || again.len != size || memcmp(again.data, data, size) != 0)
      abort();
    stw_buf_free(&again, false);
  }
  int verdict;
  char reasons[64];
  if (stw_ear_decode(data, size, &verdict, reasons, sizeof(reasons)) == STW_OK &&
      (strcmp(stw_ear_name(verdict), "none") == 0 || strnlen(reasons, sizeof(reasons)) == sizeof(reasons)))
    abort();
  return 0;
}
