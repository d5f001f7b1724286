/* Fuzz target: the device's PEP (device/pep.c, lib/cwt_claims.c,
 * lib/cbor_reader.c) on arbitrary bytes, with a fixed domain key: the
 * RFC 8392 A.3 example key, so the seeds (RFC 8392 A.3 itself and tokens
 * signed with that key) reach the claims, the time, proof-of-possession and
 * scope checks. Whatever a token says, an accepted one must satisfy what
 * the PEP promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cwt.h"
#include "pep.h"
#include "steward/authz.h"

static const uint8_t key_x[32] = {
  0x14, 0x33, 0x29, 0xcc, 0xe7, 0x86, 0x8e, 0x41, 0x69, 0x27, 0x59, 0x9c, 0xf6, 0x5a, 0x34, 0xf3,
  0xce, 0x2f, 0xfd, 0xa5, 0x5a, 0x7e, 0xca, 0x69, 0xed, 0x89, 0x19, 0xa3, 0x94, 0xd4, 0x2f, 0x0f};
static const uint8_t key_y[32] = {
  0x60, 0xf7, 0xf1, 0xa7, 0x80, 0xd8, 0xa7, 0x83, 0xbf, 0xb7, 0xa2, 0xdd, 0x6b, 0x27, 0x96, 0xe8,
  0x12, 0x8d, 0xbb, 0xce, 0xf9, 0xd3, 0xd1, 0x68, 0xdb, 0x95, 0x29, 0x97, 0x1a, 0x36, 0xe7, 0xb9};
static const uint8_t spki_prefix[27] = {
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
  0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};

#define NOW 1444000000  /* inside RFC 8392 A.3's validity, and the seeds' */

static stw_pep_t pristine, pep;
static uint8_t spki[91];  /* the domain key also plays the holder in the seeds */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (pristine.verifier == NULL) {
    memcpy(spki, spki_prefix, 27);
    memcpy(spki + 27, key_x, 32);
    memcpy(spki + 59, key_y, 32);
    if (stw_pep_init(&pristine, spki, sizeof(spki), "coap://light.example.com", 60) != STW_OK)
      abort();
  }
  pep = pristine;  /* every input starts from the same store and revocation list */
  stw_pep_token_t tok;
  stw_status_t st = stw_pep_check_token(&pep, data, size, NOW, &tok);
  if (st != STW_OK) {
    static const stw_pep_token_t zero;
    if (memcmp(&tok, &zero, sizeof(tok)) != 0)
      abort();  /* a refusal leaves nothing behind */
    return 0;
  }
  if (size > STW_PEP_TOKEN_MAX || tok.cti_len == 0 || tok.cti_len > STW_PEP_CTI_MAX ||
      tok.scope.n > STW_AIF_ENTRIES_MAX || tok.scope.pool_len > STW_AIF_POOL_MAX)
    abort();
  if (NOW > tok.expires + 60)
    abort();
  static const char *const paths[] = {"/light", "/sensors/t1", "/", "/a/b/c", "/sensors/../light"};
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    for (unsigned m = 1; m <= STW_AIF_IPATCH; m <<= 1) {
      st = stw_pep_authorize(&pep, &tok, spki, sizeof(spki), paths[i], strlen(paths[i]), m, NOW);
      if (st == STW_OK && (tok.cnf_kind == STW_PEP_CNF_NONE ||
                           !stw_aif_scope_allows(&tok.scope, paths[i], strlen(paths[i]), m)))
        abort();
    }
  }
  if (stw_pep_store_token(&pep, &tok, NOW) == STW_OK) {
    (void)!stw_pep_authorize_stored(&pep, spki, sizeof(spki), "/light", 6, STW_AIF_GET, NOW);
    if (stw_pep_revoke(&pep, tok.cti, tok.cti_len) != STW_OK)
      abort();
    if (stw_pep_authorize_stored(&pep, spki, sizeof(spki), "/light", 6, STW_AIF_GET, NOW) == STW_OK)
      abort();  /* revoked means gone */
    if (stw_pep_check_token(&pep, data, size, NOW, &tok) != STW_ERR_UNTRUSTED)
      abort();
  }
  return 0;
}
