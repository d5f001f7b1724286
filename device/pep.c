/* The device's policy enforcement point for capability tokens (DCapBAC).
 *
 * A token is checked with nothing but the domain key from bootstrap and
 * the device's clock: COSE_Sign1 structure (cbor_reader), alg ES256 only,
 * the signature (the Sig_structure is fed to SHA-256 piece by piece from
 * the token itself, so no buffer is built), then the claims (cwt_claims.c),
 * audience, time, revocation. Only stw_pep_init() allocates. */
#include "pep.h"

#include <nettle/ecc-curve.h>
#include <nettle/ecdsa.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "cwt.h"

#define COSE_ALG_ES256 (-7)
#define HDR_ALG 1
#define HDR_CRIT 2
#define HDR_KID 4
#define TAG_COSE_SIGN1 18
#define TAG_CWT 61

/* SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 04 || x || y } */
static const uint8_t p256_spki_prefix[27] = {
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
  0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};

stw_status_t stw__pep_spki_xy(const uint8_t *spki, size_t len, const uint8_t **x, const uint8_t **y)
{
  if (spki == NULL || len != STW_PEP_P256_SPKI_LEN ||
      memcmp(spki, p256_spki_prefix, sizeof(p256_spki_prefix)) != 0)
    return STW_ERR_MALFORMED;
  *x = spki + sizeof(p256_spki_prefix);
  *y = *x + 32;
  return STW_OK;
}

static int64_t add_saturating(int64_t a, uint32_t b)
{
  return a > INT64_MAX - (int64_t)b ? INT64_MAX : a + (int64_t)b;
}

static int64_t sub_saturating(int64_t a, uint32_t b)
{
  return a < INT64_MIN + (int64_t)b ? INT64_MIN : a - (int64_t)b;
}

/* ---- init ---- */

static void verifier_free(struct stw_pep_verifier *v)
{
  if (v == NULL)
    return;
  if (v->curve != NULL) {
    ecc_point_clear(&v->domain_key);
    mpz_clear(v->r);
    mpz_clear(v->s);
  }
  free(v->scratch);
  free(v);
}

stw_status_t stw_pep_init(stw_pep_t *pep, const uint8_t *domain_spki, size_t len,
                          const char *my_audience, uint32_t skew_seconds)
{
  if (pep == NULL || domain_spki == NULL || my_audience == NULL)
    return STW_ERR_INVALID;
  memset(pep, 0, sizeof(*pep));
  size_t aud_len = strnlen(my_audience, STW_PEP_AUDIENCE_MAX);
  if (aud_len == 0)
    return STW_ERR_INVALID;
  if (aud_len == STW_PEP_AUDIENCE_MAX)
    return STW_ERR_TOO_LARGE;
  const uint8_t *x, *y;
  stw_status_t st = stw__pep_spki_xy(domain_spki, len, &x, &y);
  if (st != STW_OK)
    return st;

  /* GMP itself aborts when out of memory; this runs once, at start-up. */
  struct stw_pep_verifier *v = calloc(1, sizeof(*v));
  if (v == NULL)
    return STW_ERR_NOMEM;
  v->curve = nettle_get_secp_256r1();
  ecc_point_init(&v->domain_key, v->curve);
  mpz_init2(v->r, 256);
  mpz_init2(v->s, 256);
  mpz_t mx, my;
  mpz_init(mx);
  mpz_init(my);
  mpz_import(mx, 32, 1, 1, 1, 0, x);
  mpz_import(my, 32, 1, 1, 1, 0, y);
  int on_curve = ecc_point_set(&v->domain_key, mx, my);
  mpz_clear(mx);
  mpz_clear(my);
  st = STW_ERR_MALFORMED;
  if (!on_curve)
    goto out;
  v->limbs = ecc_size(v->curve);
  v->scratch_limbs = 2 * (size_t)v->limbs + (size_t)ecc_ecdsa_verify_itch(v->curve);
  v->scratch = calloc(v->scratch_limbs, sizeof(mp_limb_t));
  st = STW_ERR_NOMEM;
  if (v->scratch == NULL)
    goto out;
  memcpy(pep->audience, my_audience, aud_len);
  pep->audience_len = aud_len;
  pep->skew = skew_seconds;
  pep->latest_now = INT64_MIN;
  pep->verifier = v;
  v = NULL;
  st = STW_OK;
out:
  verifier_free(v);
  return st;
}

void stw_pep_deinit(stw_pep_t *pep)
{
  if (pep == NULL)
    return;
  verifier_free(pep->verifier);
  stw_wipe(pep, sizeof(*pep));
}

/* ---- COSE_Sign1 ---- */

/* Protected header: alg must be ES256 (an integer; "none", another curve,
 * EdDSA, a text alg are all refused), crit is refused (we act on no header
 * that would need it), kid must be a byte string, others are skipped. */
static stw_status_t check_protected(const uint8_t *p, size_t len)
{
  if (len == 0)
    return STW_ERR_UNSUPPORTED;  /* no alg at all: no unsigned fallback */
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, p, len);
  size_t n;
  stw_status_t st = stw_cbor_read_map(&r, &n);
  if (st != STW_OK)
    return st;
  bool have_alg = false;
  for (size_t i = 0; i < n; i++) {
    stw_cbor_type_t type;
    if ((st = stw_cbor_peek_type(&r, &type)) != STW_OK)
      return st;
    if (type != STW_CBOR_UINT && type != STW_CBOR_NEGINT) {
      if ((st = stw_cbor_skip(&r)) != STW_OK || (st = stw_cbor_skip(&r)) != STW_OK)
        return st;
      continue;
    }
    int64_t label;
    if ((st = stw_cbor_read_int(&r, &label)) != STW_OK)
      return st;
    if (label == HDR_ALG) {
      int64_t alg;
      if (have_alg)
        return STW_ERR_MALFORMED;
      have_alg = true;
      if ((st = stw_cbor_peek_type(&r, &type)) != STW_OK)
        return st;
      if (type != STW_CBOR_UINT && type != STW_CBOR_NEGINT)
        return STW_ERR_UNSUPPORTED;
      if ((st = stw_cbor_read_int(&r, &alg)) != STW_OK)
        return st;
      if (alg != COSE_ALG_ES256)
        return STW_ERR_UNSUPPORTED;
    } else if (label == HDR_CRIT) {
      return STW_ERR_UNSUPPORTED;
    } else if (label == HDR_KID) {
      const uint8_t *kid;
      size_t kid_len;
      if ((st = stw_cbor_read_bstr(&r, &kid, &kid_len)) != STW_OK)
        return st;
    } else if ((st = stw_cbor_skip(&r)) != STW_OK) {
      return st;
    }
  }
  if ((st = stw_cbor_expect_end(&r)) != STW_OK)
    return st;
  return have_alg ? STW_OK : STW_ERR_UNSUPPORTED;
}

/* Unprotected header: an alg or crit here could be swapped in transit. */
static stw_status_t check_unprotected(stw_cbor_reader_t *r)
{
  size_t n;
  stw_status_t st = stw_cbor_read_map(r, &n);
  if (st != STW_OK)
    return st;
  for (size_t i = 0; i < n; i++) {
    stw_cbor_type_t type;
    if ((st = stw_cbor_peek_type(r, &type)) != STW_OK)
      return st;
    int64_t label = 0;
    if (type == STW_CBOR_UINT || type == STW_CBOR_NEGINT) {
      if ((st = stw_cbor_read_int(r, &label)) != STW_OK)
        return st;
    } else if ((st = stw_cbor_skip(r)) != STW_OK) {
      return st;
    }
    if (label == HDR_ALG || label == HDR_CRIT)
      return STW_ERR_UNSUPPORTED;
    if (label == HDR_KID) {
      const uint8_t *kid;
      size_t kid_len;
      if ((st = stw_cbor_read_bstr(r, &kid, &kid_len)) != STW_OK)
        return st;
    } else if ((st = stw_cbor_skip(r)) != STW_OK) {
      return st;
    }
  }
  return STW_OK;
}

stw_status_t stw__pep_parse_sign1(const uint8_t *token, size_t len, stw__pep_sign1_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, token, len);
  stw_cbor_type_t type;
  stw_status_t st = stw_cbor_peek_type(&r, &type);
  if (st != STW_OK)
    return st;
  /* 61(18([...])), 61([...]), 18([...]) or [...] */
  uint64_t tag;
  if (type == STW_CBOR_TAG) {
    if ((st = stw_cbor_read_tag(&r, &tag)) != STW_OK)
      return st;
    if (tag == TAG_CWT) {
      if ((st = stw_cbor_peek_type(&r, &type)) != STW_OK)
        return st;
      if (type == STW_CBOR_TAG) {
        if ((st = stw_cbor_read_tag(&r, &tag)) != STW_OK)
          return st;
        if (tag != TAG_COSE_SIGN1)
          return STW_ERR_MALFORMED;
      }
    } else if (tag != TAG_COSE_SIGN1) {
      return STW_ERR_MALFORMED;
    }
  }
  size_t n;
  if ((st = stw_cbor_read_array(&r, &n)) != STW_OK)
    return st;
  if (n != 4)
    return STW_ERR_MALFORMED;
  if ((st = stw_cbor_read_bstr(&r, &out->protected_hdr, &out->protected_len)) != STW_OK)
    return st;
  if ((st = check_unprotected(&r)) != STW_OK)
    return st;
  if ((st = stw_cbor_peek_type(&r, &type)) != STW_OK)
    return st;
  if (type == STW_CBOR_SIMPLE)
    return STW_ERR_UNSUPPORTED;  /* nil: a detached payload */
  if ((st = stw_cbor_read_bstr(&r, &out->payload, &out->payload_len)) != STW_OK)
    return st;
  size_t sig_len;
  if ((st = stw_cbor_read_bstr(&r, &out->signature, &sig_len)) != STW_OK)
    return st;
  if (sig_len != STW_PEP_SIG_LEN || (st = stw_cbor_expect_end(&r)) != STW_OK)
    return STW_ERR_MALFORMED;
  return check_protected(out->protected_hdr, out->protected_len);
}

/* SHA-256 over Sig_structure = ["Signature1", protected, h'', payload],
 * written head by head straight into the hash. */
static void hash_sig_structure(const stw__pep_sign1_t *m, uint8_t digest[SHA256_DIGEST_SIZE])
{
  static const uint8_t prefix[] = {0x84, 0x6a, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1'};
  static const uint8_t empty_aad = 0x40;
  uint8_t head[STW_CBOR_HEAD_MAX];
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, sizeof(prefix), prefix);
  sha256_update(&ctx, stw_cbor_put_head(STW_CBOR_BSTR, m->protected_len, head), head);
  sha256_update(&ctx, m->protected_len, m->protected_hdr);
  sha256_update(&ctx, 1, &empty_aad);
  sha256_update(&ctx, stw_cbor_put_head(STW_CBOR_BSTR, m->payload_len, head), head);
  sha256_update(&ctx, m->payload_len, m->payload);
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
}

/* r || s into the preallocated limbs, then nettle's low-level verify (it
 * also checks 0 < r, s < q). */
static stw_status_t verify_es256(struct stw_pep_verifier *v, const uint8_t digest[32],
                                 const uint8_t sig[STW_PEP_SIG_LEN])
{
  mpz_import(v->r, 32, 1, 1, 1, 0, sig);
  mpz_import(v->s, 32, 1, 1, 1, 0, sig + 32);
  mp_limb_t *rp = v->scratch, *sp = v->scratch + v->limbs;
  size_t r_n = mpz_size(v->r), s_n = mpz_size(v->s);
  if (r_n > (size_t)v->limbs || s_n > (size_t)v->limbs)
    return STW_ERR_BAD_SIGNATURE;
  memset(rp, 0, 2 * (size_t)v->limbs * sizeof(mp_limb_t));
  if (r_n > 0)
    memcpy(rp, mpz_limbs_read(v->r), r_n * sizeof(mp_limb_t));
  if (s_n > 0)
    memcpy(sp, mpz_limbs_read(v->s), s_n * sizeof(mp_limb_t));
  int ok = ecc_ecdsa_verify(v->curve, v->domain_key.p, SHA256_DIGEST_SIZE, digest, rp, sp,
                            v->scratch + 2 * v->limbs);
  return ok ? STW_OK : STW_ERR_BAD_SIGNATURE;
}

/* ---- revocation list ---- */

static int revoked_index(const stw_pep_t *pep, const uint8_t *cti, size_t len)
{
  for (size_t i = 0; i < pep->revoked_n && i < STW_PEP_REVOKED; i++)
    if (pep->revoked[i].cti_len == len && memcmp(pep->revoked[i].cti, cti, len) == 0)
      return (int)i;
  return -1;
}

bool stw_pep_is_revoked(const stw_pep_t *pep, const uint8_t *cti, size_t len)
{
  return pep != NULL && cti != NULL && revoked_index(pep, cti, len) >= 0;
}

/* ---- checking a token ---- */

stw_status_t stw_pep_check_token(stw_pep_t *pep, const uint8_t *token, size_t len, int64_t now,
                                 stw_pep_token_t *out)
{
  stw_cwt_t claims;
  return stw__pep_check_token_claims(pep, token, len, now, out, &claims);
}

stw_status_t stw__pep_check_token_claims(stw_pep_t *pep, const uint8_t *token, size_t len, int64_t now,
                                         stw_pep_token_t *out, stw_cwt_t *claims)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (pep == NULL || pep->verifier == NULL)
    return STW_ERR_INVALID;
  if (token == NULL || len == 0)
    return STW_ERR_MALFORMED;
  if (len > STW_PEP_TOKEN_MAX)
    return STW_ERR_TOO_LARGE;
  stw__pep_sign1_t msg;
  stw_status_t st = stw__pep_parse_sign1(token, len, &msg);
  if (st != STW_OK)
    return st;
  uint8_t digest[SHA256_DIGEST_SIZE];
  hash_sig_structure(&msg, digest);
  if ((st = verify_es256(pep->verifier, digest, msg.signature)) != STW_OK)
    return st;

  /* Only now, from authenticated bytes: the claims. */
  if ((st = stw_cwt_parse_claims(msg.payload, msg.payload_len, claims)) != STW_OK)
    return st;
  /* This profile: a token names its audience, ends, and can be revoked. */
  const unsigned required = STW_CWT_HAS_AUD | STW_CWT_HAS_EXP | STW_CWT_HAS_CTI;
  if ((claims->present & required) != required)
    return STW_ERR_MALFORMED;
  if (claims->aud_len != pep->audience_len || memcmp(claims->aud, pep->audience, claims->aud_len) != 0)
    return STW_ERR_FORBIDDEN;
  int64_t not_before = INT64_MIN;
  if (claims->present & STW_CWT_HAS_NBF)
    not_before = claims->nbf;
  if ((claims->present & STW_CWT_HAS_IAT) && claims->iat > not_before)
    not_before = claims->iat;  /* issued in the future: our clock or theirs is off */
  if (now < sub_saturating(not_before, pep->skew) || now > add_saturating(claims->exp, pep->skew))
    return STW_ERR_EXPIRED;
  if (revoked_index(pep, claims->cti, claims->cti_len) >= 0)
    return STW_ERR_UNTRUSTED;

  memcpy(out->cti, claims->cti, claims->cti_len);
  out->cti_len = (uint8_t)claims->cti_len;
  out->not_before = not_before;
  out->expires = claims->exp;
  out->cnf_kind = (claims->present & STW_CWT_HAS_CNF) ? claims->cnf_kind : STW_PEP_CNF_NONE;
  memcpy(out->cnf_x, claims->cnf_x, 32);
  memcpy(out->cnf_y, claims->cnf_y, 32);
  memcpy(out->cnf_kid, claims->cnf_kid, claims->cnf_kid_len);
  out->cnf_kid_len = (uint8_t)claims->cnf_kid_len;
  out->scope = claims->scope;
  return STW_OK;
}

/* ---- authorizing a request ---- */

/* Does the DTLS peer hold the token's cnf key? */
static stw_status_t peer_holds_key(const stw_pep_token_t *tok, const uint8_t *spki, size_t spki_len)
{
  const uint8_t *x, *y;
  if (stw__pep_spki_xy(spki, spki_len, &x, &y) != STW_OK)
    return STW_ERR_UNAUTHENTICATED;
  if (tok->cnf_kind == STW_PEP_CNF_KEY) {
    /* public keys: no secret to keep from timing */
    bool same = memcmp(x, tok->cnf_x, 32) == 0 && memcmp(y, tok->cnf_y, 32) == 0;
    return same ? STW_OK : STW_ERR_UNAUTHENTICATED;
  }
  if (tok->cnf_kind == STW_PEP_CNF_KID && tok->cnf_kid_len == STW_PEP_DEVICE_ID_LEN) {
    /* The Steward device id: the first 128 bits of SHA-256 over the SPKI. */
    uint8_t id[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, spki_len, spki);
    sha256_digest(&ctx, sizeof(id), id);
    return stw_ct_equal(id, tok->cnf_kid, STW_PEP_DEVICE_ID_LEN) ? STW_OK : STW_ERR_UNAUTHENTICATED;
  }
  return STW_ERR_UNAUTHENTICATED;  /* bearer tokens prove nothing about the peer */
}

bool stw__pep_token_live(const stw_pep_t *pep, const stw_pep_token_t *tok, int64_t now)
{
  return now >= sub_saturating(tok->not_before, pep->skew) &&
         now <= add_saturating(tok->expires, pep->skew);
}

stw_status_t stw_pep_authorize(const stw_pep_t *pep, const stw_pep_token_t *tok,
                               const uint8_t *peer_spki, size_t spki_len,
                               const char *path, size_t path_len, unsigned method_bit, int64_t now)
{
  if (pep == NULL || tok == NULL || path == NULL)
    return STW_ERR_INVALID;
  stw_status_t st = peer_holds_key(tok, peer_spki, spki_len);
  if (st != STW_OK)
    return st;
  if (revoked_index(pep, tok->cti, tok->cti_len) >= 0)
    return STW_ERR_UNTRUSTED;
  if (!stw__pep_token_live(pep, tok, now))
    return STW_ERR_EXPIRED;
  if (!stw_aif_scope_allows(&tok->scope, path, path_len, method_bit))
    return STW_ERR_FORBIDDEN;
  return STW_OK;
}

/* ---- the token store ---- */

static void note_time(stw_pep_t *pep, int64_t now)
{
  if (now > pep->latest_now)
    pep->latest_now = now;
}

static void drop_token(stw_pep_t *pep, size_t i)
{
  stw_wipe(&pep->tokens[i], sizeof(pep->tokens[i]));
  pep->token_used[i] = false;
}

stw_status_t stw_pep_store_token(stw_pep_t *pep, const stw_pep_token_t *tok, int64_t now)
{
  if (pep == NULL || tok == NULL || tok->cti_len == 0 || tok->cti_len > STW_PEP_CTI_MAX)
    return STW_ERR_INVALID;
  if (tok->cnf_kind == STW_PEP_CNF_NONE)
    return STW_ERR_UNAUTHENTICATED;
  if (revoked_index(pep, tok->cti, tok->cti_len) >= 0)
    return STW_ERR_UNTRUSTED;
  if (now > add_saturating(tok->expires, pep->skew))
    return STW_ERR_EXPIRED;
  note_time(pep, now);
  size_t slot = STW_PEP_TOKENS;
  for (size_t i = 0; i < STW_PEP_TOKENS; i++) {
    if (!pep->token_used[i] || now > add_saturating(pep->tokens[i].expires, pep->skew)) {
      if (slot == STW_PEP_TOKENS)
        slot = i;  /* free or expired: recycle */
      continue;
    }
    if (pep->tokens[i].cti_len == tok->cti_len &&
        memcmp(pep->tokens[i].cti, tok->cti, tok->cti_len) == 0) {
      slot = i;  /* the same token again, or a refreshed one: replace */
      break;
    }
  }
  if (slot == STW_PEP_TOKENS)
    return STW_ERR_BUSY;
  pep->tokens[slot] = *tok;
  pep->token_used[slot] = true;
  return STW_OK;
}

/* Which refusal tells a peer most: FORBIDDEN (holds a good token that does
 * not cover this) over EXPIRED over UNTRUSTED over UNAUTHENTICATED. */
static int refusal_rank(stw_status_t st)
{
  return st == STW_ERR_FORBIDDEN ? 3 : st == STW_ERR_EXPIRED ? 2 : st == STW_ERR_UNTRUSTED ? 1 : 0;
}

stw_status_t stw_pep_authorize_stored(stw_pep_t *pep, const uint8_t *peer_spki, size_t spki_len,
                                      const char *path, size_t path_len, unsigned method_bit,
                                      int64_t now)
{
  if (pep == NULL || path == NULL)
    return STW_ERR_INVALID;
  note_time(pep, now);
  stw_status_t best = STW_ERR_UNAUTHENTICATED;
  for (size_t i = 0; i < STW_PEP_TOKENS; i++) {
    if (!pep->token_used[i])
      continue;
    if (now > add_saturating(pep->tokens[i].expires, pep->skew)) {
      drop_token(pep, i);
      continue;
    }
    stw_status_t st = stw_pep_authorize(pep, &pep->tokens[i], peer_spki, spki_len, path, path_len,
                                        method_bit, now);
    if (st == STW_OK)
      return STW_OK;
    if (refusal_rank(st) > refusal_rank(best))
      best = st;
  }
  return best;
}

stw_status_t stw_pep_revoke_until(stw_pep_t *pep, const uint8_t *cti, size_t len, int64_t expires)
{
  if (pep == NULL || cti == NULL || len == 0 || len > STW_PEP_CTI_MAX)
    return STW_ERR_INVALID;
  int64_t forget_after = add_saturating(expires, pep->skew);
  int found = revoked_index(pep, cti, len);
  size_t slot;
  if (found >= 0) {
    slot = (size_t)found;
    if (pep->revoked[slot].forget_after > forget_after)
      forget_after = pep->revoked[slot].forget_after;
  } else if (pep->revoked_n < STW_PEP_REVOKED) {
    slot = pep->revoked_n++;
  } else {
    /* Recycle an id whose token has expired by the latest time we saw. */
    slot = STW_PEP_REVOKED;
    for (size_t i = 0; i < STW_PEP_REVOKED && slot == STW_PEP_REVOKED; i++)
      if (pep->revoked[i].forget_after < pep->latest_now)
        slot = i;
    if (slot == STW_PEP_REVOKED)
      return STW_ERR_BUSY;
  }
  memcpy(pep->revoked[slot].cti, cti, len);
  pep->revoked[slot].cti_len = (uint8_t)len;
  pep->revoked[slot].forget_after = forget_after;
  for (size_t i = 0; i < STW_PEP_TOKENS; i++)
    if (pep->token_used[i] && pep->tokens[i].cti_len == len && memcmp(pep->tokens[i].cti, cti, len) == 0)
      drop_token(pep, i);
  return STW_OK;
}

stw_status_t stw__pep_apply_revocations(stw_pep_t *pep, const uint8_t *list, size_t len, uint64_t *seq)
{
  *seq = 0;
  if (pep == NULL || list == NULL)
    return STW_ERR_INVALID;
  stw_cbor_reader_t r;
  size_t n = 0;
  uint64_t got_seq = 0;
  stw_cbor_reader_init(&r, list, len);
  if (stw_cbor_read_map(&r, &n) != STW_OK || n > 4)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < n; i++) {
    uint64_t key = 0;
    if (stw_cbor_read_uint(&r, &key) != STW_OK)
      return STW_ERR_MALFORMED;
    if (key == 1) {
      if (stw_cbor_read_uint(&r, &got_seq) != STW_OK)
        return STW_ERR_MALFORMED;
    } else if (key == 2) {
      size_t items = 0;
      if (stw_cbor_read_array(&r, &items) != STW_OK)
        return STW_ERR_MALFORMED;
      for (size_t j = 0; j < items; j++) {
        size_t two = 0;
        const uint8_t *cti = NULL;
        size_t cti_len = 0;
        int64_t exp = 0;
        if (stw_cbor_read_array(&r, &two) != STW_OK || two != 2 || stw_cbor_read_bstr(&r, &cti, &cti_len) != STW_OK ||
            stw_cbor_read_int(&r, &exp) != STW_OK)
          return STW_ERR_MALFORMED;
        /* A full list refuses loudly (BUSY) rather than forget an older
         * revocation; the next notification tries again. */
        stw_status_t st = STW_OK;
        if (!stw_pep_is_revoked(pep, cti, cti_len) && (st = stw_pep_revoke_until(pep, cti, cti_len, exp)) != STW_OK)
          return st == STW_ERR_BUSY ? st : STW_ERR_MALFORMED;
      }
    } else if (stw_cbor_skip(&r) != STW_OK) {
      return STW_ERR_MALFORMED;
    }
  }
  *seq = got_seq;
  return STW_OK;
}

stw_status_t stw_pep_revoke(stw_pep_t *pep, const uint8_t *cti, size_t len)
{
  if (pep == NULL || cti == NULL || len == 0 || len > STW_PEP_CTI_MAX)
    return STW_ERR_INVALID;
  /* A stored token tells us when it ends; otherwise remember for good. */
  int64_t expires = INT64_MAX;
  for (size_t i = 0; i < STW_PEP_TOKENS; i++)
    if (pep->token_used[i] && pep->tokens[i].cti_len == len && memcmp(pep->tokens[i].cti, cti, len) == 0)
      expires = pep->tokens[i].expires;
  return stw_pep_revoke_until(pep, cti, len, expires);
}
