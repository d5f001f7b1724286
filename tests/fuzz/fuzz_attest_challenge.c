/* Fuzz target: the device's reading of a GET /att answer (device/attest.c),
 * network bytes from the domain. What parses is {} (nothing asked) or a
 * nonce of 8..64 bytes with its lifetime; the server's own encoding of a
 * slot must parse back to the same nonce. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "attest_internal.h"
#include "evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t nonce[STW_EVIDENCE_NONCE_MAX];
  size_t nonce_len = 0;
  uint64_t lifetime = 0;
  if (stw__attest_challenge_parse(data, size, nonce, &nonce_len, &lifetime) == STW_OK &&
      (size > STW_ATTEST_CHALLENGE_MAX ||
       (nonce_len != 0 && (nonce_len < STW_EVIDENCE_NONCE_MIN || nonce_len > STW_EVIDENCE_NONCE_MAX))))
    abort();
  /* Round trip: a slot built from the input's first bytes. */
  stw_attest_slot_t slot;
  memset(&slot, 0, sizeof(slot));
  memcpy(slot.nonce, data, size < sizeof(slot.nonce) ? size : sizeof(slot.nonce));
  slot.expires_at = size;
  stw_buf_t body = { 0 };
  if (stw_attest_challenge_encode(&slot, 0, &body) != STW_OK)
    abort();
  if (stw__attest_challenge_parse(body.data, body.len, nonce, &nonce_len, &lifetime) != STW_OK ||
      nonce_len != sizeof(slot.nonce) || memcmp(nonce, slot.nonce, nonce_len) != 0 || lifetime != (uint64_t)size)
    abort();
  stw_buf_free(&body, false);
  return 0;
}
