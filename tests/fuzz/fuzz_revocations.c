/* Fuzz target: the thing's reading of the domain's revocation list
 * {1: seq, 2: [[cti, exp], ...]} (device/pep.c stw__pep_apply_revocations,
 * fed by every GET /revoked notification). Whatever the bytes, the PEP's
 * revocation list stays within its bounds, a refusal names no sequence,
 * and an accepted list leaves every listed id revoked. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "pep.h"

/* RFC 8392 A.3's key: any valid P-256 point serves, nothing is verified. */
static const uint8_t spki[91] = {
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
  0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
  0x14, 0x33, 0x29, 0xcc, 0xe7, 0x86, 0x8e, 0x41, 0x69, 0x27, 0x59, 0x9c, 0xf6, 0x5a, 0x34, 0xf3,
  0xce, 0x2f, 0xfd, 0xa5, 0x5a, 0x7e, 0xca, 0x69, 0xed, 0x89, 0x19, 0xa3, 0x94, 0xd4, 0x2f, 0x0f,
  0x60, 0xf7, 0xf1, 0xa7, 0x80, 0xd8, 0xa7, 0x83, 0xbf, 0xb7, 0xa2, 0xdd, 0x6b, 0x27, 0x96, 0xe8,
  0x12, 0x8d, 0xbb, 0xce, 0xf9, 0xd3, 0xd1, 0x68, 0xdb, 0x95, 0x29, 0x97, 0x1a, 0x36, 0xe7, 0xb9};

static stw_pep_t pristine, pep;

/* An accepted list: each [cti, exp] it holds is revoked now. */
static void check_listed(const uint8_t *data, size_t size)
{
  stw_cbor_reader_t r;
  size_t n = 0;
  stw_cbor_reader_init(&r, data, size);
  if (stw_cbor_read_map(&r, &n) != STW_OK)
    abort();
  for (size_t i = 0; i < n; i++) {
    uint64_t key = 0;
    if (stw_cbor_read_uint(&r, &key) != STW_OK)
      abort();
    if (key != 2) {
      if (stw_cbor_skip(&r) != STW_OK)
        abort();
      continue;
    }
    size_t items = 0;
    if (stw_cbor_read_array(&r, &items) != STW_OK)
      abort();
    for (size_t j = 0; j < items; j++) {
      size_t two = 0;
      const uint8_t *cti = NULL;
      size_t cti_len = 0;
      int64_t exp = 0;
      if (stw_cbor_read_array(&r, &two) != STW_OK || stw_cbor_read_bstr(&r, &cti, &cti_len) != STW_OK ||
          stw_cbor_read_int(&r, &exp) != STW_OK || !stw_pep_is_revoked(&pep, cti, cti_len))
        abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (pristine.verifier == NULL && stw_pep_init(&pristine, spki, sizeof(spki), "coaps://lamp-7", 60) != STW_OK)
    abort();
  pep = pristine;  /* every input starts from an empty revocation list */
  uint64_t seq = 1;
  stw_status_t st = stw__pep_apply_revocations(&pep, data, size, &seq);
  if (pep.revoked_n > STW_PEP_REVOKED)
    abort();
  for (size_t i = 0; i < pep.revoked_n; i++)
    if (pep.revoked[i].cti_len == 0 || pep.revoked[i].cti_len > STW_PEP_CTI_MAX)
      abort();
  if (st != STW_OK) {
    if (seq != 0 || (st != STW_ERR_MALFORMED && st != STW_ERR_BUSY))
      abort();
    return 0;
  }
  check_listed(data, size);
  return 0;
}
