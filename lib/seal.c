/* Sealing a short secret to a P-256 public key, in the manner of COSE
 * ECDH-ES + HKDF-256 with AES-CCM (RFC 9053 6.3.1, 4.2):
 *
 *   z    = x coordinate of e * R        (e ephemeral scalar, R recipient point)
 *   key  = HKDF-SHA256(salt = 0^32, ikm = z,
 *                      info = "steward seal v1" || eph SPKI || recipient SPKI || info)[0..16)
 *   ct   = AES-128-CCM(key, nonce (13 random bytes), aad = info, secret) with a 16-byte tag
 *   out  = [eph SPKI: bstr, nonce: bstr, ct: bstr]
 *
 * The point arithmetic is nettle's (ecc_point_mul). nettle takes and returns
 * numbers as GMP mpz_t; the build links nettle and hogweed but not libgmp, so
 * no GMP function is called here: the mpz_t values live in fixed stack
 * storage large enough that GMP, called from inside hogweed, never
 * reallocates it, and they are converted with hogweed's nettle_mpz_*_256. */
#include "pki.h"
#include "pki_internal.h"
#include "cose_internal.h"

#include <cbor.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/bignum.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_SECRET_MAX 64
#define SEAL_INFO_MAX 256
#define SEAL_MAX 256             /* the largest sealed blob we open */
#define NONCE_LEN 13             /* CCM with a 2-byte length field, as COSE's AES-CCM-16-* */
#define TAG_LEN 16
#define KEY_LEN 16
static const char seal_label[] = "steward seal v1";

/* An mpz_t over fixed storage: 256 bits need at most 8 limbs of 32 bits. */
#define FIXED_LIMBS 8
typedef struct {
  mpz_t z;
  mp_limb_t limbs[FIXED_LIMBS];
} fixed_mpz_t;

static void fixed_init(fixed_mpz_t *f)
{
  memset(f, 0, sizeof(*f));
  f->z->_mp_alloc = FIXED_LIMBS;
  f->z->_mp_size = 0;
  f->z->_mp_d = f->limbs;
}

static void fixed_wipe(fixed_mpz_t *f)
{
  stw_wipe(f->limbs, sizeof(f->limbs));
  f->z->_mp_size = 0;
}

typedef struct {
  bool failed;
} rng_ctx_t;

static void rng(void *ctx, size_t len, uint8_t *dst)
{
  rng_ctx_t *r = ctx;
  if (gnutls_rnd(GNUTLS_RND_KEY, dst, len) != 0)
    r->failed = true;
}

/* Point from raw coordinates; false if it is not on the curve. */
static bool point_set(struct ecc_point *p, const uint8_t x[32], const uint8_t y[32])
{
  fixed_mpz_t mx, my;
  fixed_init(&mx);
  fixed_init(&my);
  nettle_mpz_set_str_256_u(mx.z, 32, x);
  nettle_mpz_set_str_256_u(my.z, 32, y);
  return ecc_point_set(p, mx.z, my.z) == 1;
}

static void point_get(const struct ecc_point *p, uint8_t x[32], uint8_t y[32])
{
  fixed_mpz_t mx, my;
  fixed_init(&mx);
  fixed_init(&my);
  ecc_point_get(p, mx.z, my.z);
  nettle_mpz_get_str_256(32, x, mx.z);
  nettle_mpz_get_str_256(32, y, my.z);
  fixed_wipe(&mx);
  fixed_wipe(&my);
}

/* Scalar limbs are secret; nettle frees them without clearing. */
static void scalar_clear(struct ecc_scalar *s)
{
  stw_wipe(s->p, (256 + GMP_NUMB_BITS - 1) / GMP_NUMB_BITS * sizeof(mp_limb_t));
  ecc_scalar_clear(s);
}

/* z = x(e * R) */
static stw_status_t ecdh(const struct ecc_scalar *e, const uint8_t rx[32], const uint8_t ry[32],
                         uint8_t z[32])
{
  const struct ecc_curve *curve = nettle_get_secp_256r1();
  struct ecc_point r, s;
  ecc_point_init(&r, curve);
  ecc_point_init(&s, curve);
  stw_status_t st = STW_ERR_MALFORMED;
  uint8_t sy[32];
  if (!point_set(&r, rx, ry))
    goto out;
  ecc_point_mul(&s, e, &r);
  point_get(&s, z, sy);
  st = STW_OK;
out:
  stw_wipe(sy, sizeof(sy));
  /* s is the shared secret point; nettle frees it without clearing it. */
  stw_wipe(s.p, 2 * ecc_size(curve) * sizeof(mp_limb_t));
  ecc_point_clear(&r);
  ecc_point_clear(&s);
  return st;
}

/* key = HKDF-SHA256(0^32, z, label || eph || rcpt || info)[0..16) */
static stw_status_t derive(const uint8_t z[32], const uint8_t *eph, size_t eph_len,
                           const uint8_t *rcpt, size_t rcpt_len, const uint8_t *info,
                           size_t info_len, uint8_t key[KEY_LEN])
{
  uint8_t salt[32] = {0}, prk[32];
  uint8_t ctx[sizeof(seal_label) - 1 + 2 * STW_SPKI_MAX + SEAL_INFO_MAX];
  size_t n = 0;
  memcpy(ctx + n, seal_label, sizeof(seal_label) - 1);
  n += sizeof(seal_label) - 1;
  memcpy(ctx + n, eph, eph_len);
  n += eph_len;
  memcpy(ctx + n, rcpt, rcpt_len);
  n += rcpt_len;
  if (info_len > 0)
    memcpy(ctx + n, info, info_len);
  n += info_len;
  gnutls_datum_t d_salt = {salt, sizeof(salt)}, d_ikm = {(unsigned char *)z, 32};
  gnutls_datum_t d_prk = {prk, sizeof(prk)}, d_info = {ctx, (unsigned)n};
  stw_status_t st = STW_ERR_CRYPTO;
  if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &d_ikm, &d_salt, prk) < 0)
    goto out;
  if (gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &d_prk, &d_info, key, KEY_LEN) < 0)
    goto out;
  st = STW_OK;
out:
  stw_wipe(prk, sizeof(prk));
  return st;
}

static cbor_item_t *bstr(const uint8_t *p, size_t n)
{
  return cbor_build_bytestring(p, n);
}

stw_status_t stw_seal(const uint8_t *recipient_spki, size_t spki_len, const uint8_t *info, size_t info_len,
                      const uint8_t *secret, size_t secret_len, stw_buf_t *out)
{
  if (out == NULL || secret == NULL || secret_len == 0 || secret_len > SEAL_SECRET_MAX ||
      (info == NULL && info_len > 0) || info_len > SEAL_INFO_MAX)
    return STW_ERR_INVALID;
  const struct ecc_curve *curve = nettle_get_secp_256r1();
  struct ecc_scalar e;
  struct ecc_point ep;
  ecc_scalar_init(&e, curve);
  ecc_point_init(&ep, curve);
  uint8_t rx[32], ry[32], ex[32], ey[32], z[32] = {0}, key[KEY_LEN] = {0}, nonce[NONCE_LEN];
  uint8_t rcpt[STW_SPKI_MAX], eph[STW_SPKI_MAX], ct[SEAL_SECRET_MAX + TAG_LEN];
  size_t rcpt_len = sizeof(rcpt), eph_len = sizeof(eph), ct_len = sizeof(ct);
  gnutls_aead_cipher_hd_t aead = NULL;
  cbor_item_t *arr = NULL;
  unsigned char *bytes = NULL;
  size_t cap = 0, bytes_len = 0;
  rng_ctx_t r = {false};
  /* The recipient key in its canonical DER, as unseal will see it. */
  stw_status_t st = stw_spki_to_xy(recipient_spki, spki_len, rx, ry);
  if (st != STW_OK)
    goto out;
  if ((st = stw_spki_from_xy(rx, ry, rcpt, &rcpt_len)) != STW_OK)
    goto out;
  ecc_scalar_random(&e, &r, rng);
  st = STW_ERR_CRYPTO;
  if (r.failed)
    goto out;
  ecc_point_mul_g(&ep, &e);
  point_get(&ep, ex, ey);
  if ((st = stw_spki_from_xy(ex, ey, eph, &eph_len)) != STW_OK)
    goto out;
  if ((st = ecdh(&e, rx, ry, z)) != STW_OK)
    goto out;
  if ((st = derive(z, eph, eph_len, rcpt, rcpt_len, info, info_len, key)) != STW_OK)
    goto out;
  if ((st = stw_random(nonce, sizeof(nonce))) != STW_OK)
    goto out;
  gnutls_datum_t dkey = {key, sizeof(key)};
  st = STW_ERR_CRYPTO;
  if (gnutls_aead_cipher_init(&aead, GNUTLS_CIPHER_AES_128_CCM, &dkey) < 0)
    goto out;
  if (gnutls_aead_cipher_encrypt(aead, nonce, sizeof(nonce), info, info_len, TAG_LEN,
                                 secret, secret_len, ct, &ct_len) < 0)
    goto out;
  st = STW_ERR_NOMEM;
  arr = cbor_new_definite_array(3);
  if (arr == NULL)
    goto out;
  const uint8_t *parts[3] = {eph, nonce, ct};
  size_t lens[3] = {eph_len, sizeof(nonce), ct_len};
  for (int i = 0; i < 3; i++) {
    cbor_item_t *b = bstr(parts[i], lens[i]);
    bool ok = b != NULL && cbor_array_push(arr, b);
    if (b != NULL)
      cbor_decref(&b);
    if (!ok)
      goto out;
  }
  bytes_len = cbor_serialize_alloc(arr, &bytes, &cap);
  if (bytes_len == 0)
    goto out;
  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, SEAL_MAX);
  out->len = 0;
  st = stw_buf_append(out, bytes, bytes_len);
out:
  if (aead != NULL)
    gnutls_aead_cipher_deinit(aead);
  if (arr != NULL)
    cbor_decref(&arr);
  free(bytes);
  stw_wipe(z, sizeof(z));
  stw_wipe(key, sizeof(key));
  scalar_clear(&e);
  ecc_point_clear(&ep);
  return st;
}

/* The i-th element of a 3-array of definite bstrs. */
static bool part(const cbor_item_t *arr, size_t i, const uint8_t **p, size_t *n)
{
  cbor_item_t *it = cbor_array_handle(arr)[i];
  if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
    return false;
  *p = cbor_bytestring_handle(it);
  *n = cbor_bytestring_length(it);
  return *p != NULL || *n == 0;
}

stw_status_t stw_unseal(const stw_key_t *key, const uint8_t *info, size_t info_len,
                        const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t *out_len)
{
  if (key == NULL || out == NULL || out_len == NULL || (info == NULL && info_len > 0) ||
      info_len > SEAL_INFO_MAX)
    return STW_ERR_INVALID;
  if (sealed == NULL || sealed_len == 0)
    return STW_ERR_MALFORMED;
  if (sealed_len > SEAL_MAX)
    return STW_ERR_TOO_LARGE;
  const struct ecc_curve *curve = nettle_get_secp_256r1();
  struct ecc_scalar d;
  ecc_scalar_init(&d, curve);
  uint8_t k[32] = {0}, z[32] = {0}, aes[KEY_LEN] = {0}, pt[SEAL_SECRET_MAX + TAG_LEN];
  uint8_t ex[32], ey[32], rcpt[STW_SPKI_MAX];
  size_t rcpt_len = sizeof(rcpt), pt_len = sizeof(pt);
  fixed_mpz_t mk;
  fixed_init(&mk);
  gnutls_aead_cipher_hd_t aead = NULL;
  cbor_item_t *arr = NULL;
  const uint8_t *eph, *nonce, *ct;
  size_t eph_len, nonce_len, ct_len;
  stw_status_t st = stw__cbor_load(sealed, sealed_len, &arr);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_MALFORMED;
  if (!cbor_isa_array(arr) || !cbor_array_is_definite(arr) ||
      cbor_array_size(arr) != 3)
    goto out;
  if (!part(arr, 0, &eph, &eph_len) || !part(arr, 1, &nonce, &nonce_len) || !part(arr, 2, &ct, &ct_len))
    goto out;
  if (nonce_len != NONCE_LEN || ct_len <= TAG_LEN || ct_len > SEAL_SECRET_MAX + TAG_LEN)
    goto out;
  if ((st = stw_spki_to_xy(eph, eph_len, ex, ey)) != STW_OK)
    goto out;
  if ((st = stw_key_spki(key, rcpt, &rcpt_len)) != STW_OK)
    goto out;
  if ((st = stw__key_scalar(key, k)) != STW_OK)
    goto out;
  nettle_mpz_set_str_256_u(mk.z, sizeof(k), k);
  st = STW_ERR_CRYPTO;
  if (ecc_scalar_set(&d, mk.z) != 1)
    goto out;
  if ((st = ecdh(&d, ex, ey, z)) != STW_OK)
    goto out;
  if ((st = derive(z, eph, eph_len, rcpt, rcpt_len, info, info_len, aes)) != STW_OK)
    goto out;
  gnutls_datum_t dkey = {aes, sizeof(aes)};
  st = STW_ERR_CRYPTO;
  if (gnutls_aead_cipher_init(&aead, GNUTLS_CIPHER_AES_128_CCM, &dkey) < 0)
    goto out;
  st = STW_ERR_BAD_SIGNATURE;  /* the tag does not verify: wrong key, info or bytes */
  if (gnutls_aead_cipher_decrypt(aead, nonce, nonce_len, info, info_len, TAG_LEN,
                                 ct, ct_len, pt, &pt_len) < 0)
    goto out;
  st = STW_ERR_TOO_LARGE;
  if (pt_len > *out_len)
    goto out;
  memcpy(out, pt, pt_len);
  *out_len = pt_len;
  st = STW_OK;
out:
  if (aead != NULL)
    gnutls_aead_cipher_deinit(aead);
  if (arr != NULL)
    cbor_decref(&arr);
  stw_wipe(k, sizeof(k));
  stw_wipe(z, sizeof(z));
  stw_wipe(aes, sizeof(aes));
  stw_wipe(pt, sizeof(pt));
  fixed_wipe(&mk);
  scalar_clear(&d);
  return st;
}
