/* The device's policy enforcement point: what stays inside the SDK beyond
 * include/steward/authz.h. */
#ifndef STW_DEVICE_PEP_H
#define STW_DEVICE_PEP_H

#include <gmp.h>
#include <nettle/ecc.h>
#include <stdint.h>

#include "cwt.h"
#include "steward/authz.h"
#include "util.h"

/** DER SubjectPublicKeyInfo of an uncompressed P-256 key: 91 bytes. */
#define STW_PEP_P256_SPKI_LEN 91
/** ES256 signature, r || s. */
#define STW_PEP_SIG_LEN 64
/** A Steward device id (lib/pki.h STW_DEVICE_ID_LEN): SHA-256(SPKI)[0..16). */
#define STW_PEP_DEVICE_ID_LEN 16

/** Everything ECDSA verification needs, allocated once by stw_pep_init() so
 *  that a check only reuses it: nettle's ecdsa_verify() would allocate a
 *  scratch area from GMP's allocator on every call, and ecc_point_set()
 *  allocates temporaries, so the point is set once and the low-level
 *  ecc_ecdsa_verify() runs with the scratch kept here. */
struct stw_pep_verifier {
  const struct ecc_curve *curve;
  struct ecc_point domain_key;
  mpz_t r, s;              /**< mpz_init2(256): importing 32 bytes never reallocates */
  mp_size_t limbs;         /**< ecc_size(curve) */
  mp_limb_t *scratch;      /**< r and s as limbs (2 * limbs), then the verify scratch */
  size_t scratch_limbs;
};

/** The raw coordinates of an uncompressed P-256 key in DER SPKI form,
 *  recognised by its fixed 27-byte prefix (no ASN.1 parser, no heap): *x
 *  and *y point into spki. Anything else is STW_ERR_MALFORMED. */
stw_status_t stw__pep_spki_xy(const uint8_t *spki, size_t len, const uint8_t **x,
                              const uint8_t **y) STW_WUR;

/** Where the parts of a COSE_Sign1 token lie inside the token. */
typedef struct {
  const uint8_t *protected_hdr;
  size_t protected_len;
  const uint8_t *payload;
  size_t payload_len;
  const uint8_t *signature;  /**< 64 bytes, r || s */
} stw__pep_sign1_t;

/** Parse a COSE_Sign1 (optionally tagged 61 and/or 18) of this profile:
 *  the protected header holds alg ES256 and nothing critical.
 *  @retval STW_ERR_MALFORMED, STW_ERR_UNSUPPORTED */
stw_status_t stw__pep_parse_sign1(const uint8_t *token, size_t len, stw__pep_sign1_t *out) STW_WUR;

/** stw_pep_check_token() that also hands out the verified claims (a
 *  thing's OSCORE side needs the token's cnf material beyond what
 *  stw_pep_token_t keeps), so the token is parsed once. *claims is
 *  meaningful only on STW_OK; its pointers go into token. */
stw_status_t stw__pep_check_token_claims(stw_pep_t *pep, const uint8_t *token, size_t len, int64_t now,
                                         stw_pep_token_t *out, stw_cwt_t *claims) STW_WUR;

/** Apply the domain's revocation list {1: seq, 2: [[cti, exp], ...]}
 *  (GET /revoked, docs/authorization.md): every listed cti revoked until
 *  its exp (stw_pep_revoke_until), other keys skipped. The entries read
 *  before a refusal stay applied (revoking is always the safe side); *seq
 *  is the list's sequence on STW_OK, else 0. len is bounded by the caller
 *  (the CoAP body); the reader never reads past it.
 *  @retval STW_ERR_MALFORMED not that shape, or a cti of 0 or over
 *          STW_PEP_CTI_MAX bytes
 *  @retval STW_ERR_BUSY the revocation list is full of live entries */
stw_status_t stw__pep_apply_revocations(stw_pep_t *pep, const uint8_t *list, size_t len, uint64_t *seq) STW_WUR;

/** Whether now lies in tok's validity, pep's skew allowed on each side.
 *  Saturating: a token without nbf/iat (not_before INT64_MIN) or with exp
 *  near INT64_MAX never overflows. Revocation is not looked at. */
bool stw__pep_token_live(const stw_pep_t *pep, const stw_pep_token_t *tok, int64_t now) STW_WUR;

#endif
