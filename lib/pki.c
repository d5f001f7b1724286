/* Keys, certificates, CSRs and PKCS#7 over GnuTLS's abstract and x509 APIs.
 * Every public key we accept is checked to be P-256; every signature is
 * ECDSA with SHA-256. Nothing here does arithmetic on keys itself.
 *
 * stw_buf_t outputs: pass a buffer set up with stw_buf_init() (its max is
 * respected) or zeroed ({0}), in which case a bound fitting the output kind
 * is used. The output replaces what the buffer held; the caller frees it. */
#include "pki.h"
#include "pki_internal.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>
#include <arpa/inet.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX 16384          /* PEM of the largest certificate, with slack */
#define PKCS7_MAX 65536        /* a certs-only bundle: a chain of a few certs */
#define KEY_PEM_MAX 4096       /* a P-256 key is ~230 bytes; room for others to be refused cleanly */
#define OID_SERIAL_NUMBER "2.5.4.5"

struct stw_key {
  gnutls_x509_privkey_t x509;  /* owns the key material */
  gnutls_privkey_t priv;       /* abstract view of x509, for signing */
};

/* Replace out's content with data (see the note at the top of the file). */
static stw_status_t buf_put(stw_buf_t *out, const void *data, size_t len, size_t max)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, max);
  out->len = 0;
  return stw_buf_append(out, data, len);
}

/* Big-endian integer from GnuTLS (maybe with leading zeros, maybe short)
 * into exactly 32 bytes. */
static stw_status_t to_fixed32(const gnutls_datum_t *d, uint8_t out[32])
{
  size_t off = 0;
  while (off < d->size && d->data[off] == 0)
    off++;
  size_t n = d->size - off;
  if (n > 32)
    return STW_ERR_MALFORMED;
  memset(out, 0, 32 - n);
  if (n > 0)
    memcpy(out + 32 - n, d->data + off, n);
  return STW_OK;
}

static void datum_free(gnutls_datum_t *d, bool wipe)
{
  if (d->data != NULL) {
    if (wipe)
      stw_wipe(d->data, d->size);
    gnutls_free(d->data);
  }
  d->data = NULL;
  d->size = 0;
}

/* True if pub is an ECDSA key on P-256. */
static bool pubkey_is_p256(gnutls_pubkey_t pub)
{
  if (gnutls_pubkey_get_pk_algorithm(pub, NULL) != GNUTLS_PK_ECDSA)
    return false;
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
  int rc = gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0);
  datum_free(&x, false);
  datum_free(&y, false);
  return rc == 0 && curve == GNUTLS_ECC_CURVE_SECP256R1;
}

/* Import DER SPKI; STW_ERR_MALFORMED if it does not parse,
 * STW_ERR_UNSUPPORTED if it is not P-256. On success *out is the caller's. */
static stw_status_t import_spki(const uint8_t *spki, size_t len, gnutls_pubkey_t *out)
{
  *out = NULL;
  if (spki == NULL || len == 0)
    return STW_ERR_INVALID;
  if (len > STW_SPKI_MAX)
    return STW_ERR_MALFORMED;
  gnutls_pubkey_t pub = NULL;
  if (gnutls_pubkey_init(&pub) < 0)
    return STW_ERR_NOMEM;
  gnutls_datum_t d = {(unsigned char *)spki, (unsigned)len};
  stw_status_t st = STW_ERR_MALFORMED;
  if (gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_DER) < 0)
    goto out;
  st = STW_ERR_UNSUPPORTED;
  if (!pubkey_is_p256(pub))
    goto out;
  /* The DER import takes any coordinates; a point off the curve is no key
   * (the same check as stw_spki_from_xy, so both ways in agree). */
  st = STW_ERR_MALFORMED;
  if (gnutls_pubkey_verify_params(pub) < 0)
    goto out;
  *out = pub;
  pub = NULL;
  st = STW_OK;
out:
  if (pub != NULL)
    gnutls_pubkey_deinit(pub);
  return st;
}

/* DER SPKI of pub into spki (capacity *len). */
static stw_status_t export_spki(gnutls_pubkey_t pub, uint8_t *spki, size_t *len)
{
  gnutls_datum_t d = {NULL, 0};
  if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d) < 0)
    return STW_ERR_CRYPTO;
  stw_status_t st = STW_ERR_TOO_LARGE;
  if (d.size <= *len) {
    memcpy(spki, d.data, d.size);
    *len = d.size;
    st = STW_OK;
  }
  datum_free(&d, false);
  return st;
}

/* Checks an imported private key is P-256 and wraps it. Takes x509. */
static stw_status_t key_wrap(gnutls_x509_privkey_t x509, stw_key_t **out)
{
  stw_status_t st = STW_ERR_UNSUPPORTED;
  stw_key_t *key = NULL;
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gnutls_datum_t x = {NULL, 0}, y = {NULL, 0}, k = {NULL, 0};
  if (gnutls_x509_privkey_get_pk_algorithm2(x509, NULL) != GNUTLS_PK_ECDSA)
    goto out;
  if (gnutls_x509_privkey_export_ecc_raw(x509, &curve, &x, &y, &k) < 0 ||
      curve != GNUTLS_ECC_CURVE_SECP256R1)
    goto out;
  st = STW_ERR_NOMEM;
  key = calloc(1, sizeof(*key));
  if (key == NULL)
    goto out;
  if (gnutls_privkey_init(&key->priv) < 0)
    goto out;
  st = STW_ERR_CRYPTO;
  if (gnutls_privkey_import_x509(key->priv, x509, 0) < 0)
    goto out;
  key->x509 = x509;
  x509 = NULL;
  *out = key;
  key = NULL;
  st = STW_OK;
out:
  datum_free(&x, false);
  datum_free(&y, false);
  datum_free(&k, true);
  stw_key_free(key);
  if (x509 != NULL)
    gnutls_x509_privkey_deinit(x509);
  return st;
}

stw_status_t stw_key_generate(stw_key_t **out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  *out = NULL;
  gnutls_x509_privkey_t x509 = NULL;
  if (gnutls_x509_privkey_init(&x509) < 0)
    return STW_ERR_NOMEM;
  if (gnutls_x509_privkey_generate(x509, GNUTLS_PK_ECDSA,
                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
    gnutls_x509_privkey_deinit(x509);
    return STW_ERR_CRYPTO;
  }
  return key_wrap(x509, out);
}

stw_status_t stw_key_import_pem(const uint8_t *pem, size_t len, stw_key_t **out)
{
  if (out == NULL || pem == NULL)
    return STW_ERR_INVALID;
  *out = NULL;
  if (len == 0 || len > KEY_PEM_MAX)
    return len == 0 ? STW_ERR_MALFORMED : STW_ERR_TOO_LARGE;
  gnutls_x509_privkey_t x509 = NULL;
  if (gnutls_x509_privkey_init(&x509) < 0)
    return STW_ERR_NOMEM;
  gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
  /* import2 reads both PKCS#8 and SEC1; unencrypted keys only. */
  if (gnutls_x509_privkey_import2(x509, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN) < 0) {
    gnutls_x509_privkey_deinit(x509);
    return STW_ERR_MALFORMED;
  }
  return key_wrap(x509, out);
}

stw_status_t stw_key_export_pem(const stw_key_t *key, stw_buf_t *out)
{
  if (key == NULL || out == NULL)
    return STW_ERR_INVALID;
  gnutls_datum_t d = {NULL, 0};
  /* For EC keys GnuTLS writes the SEC1 "EC PRIVATE KEY" form. */
  if (gnutls_x509_privkey_export2(key->x509, GNUTLS_X509_FMT_PEM, &d) < 0)
    return STW_ERR_CRYPTO;
  stw_status_t st = buf_put(out, d.data, d.size, KEY_PEM_MAX);
  datum_free(&d, true);
  return st;
}

stw_status_t stw_key_spki(const stw_key_t *key, uint8_t *spki, size_t *len)
{
  if (key == NULL || spki == NULL || len == NULL)
    return STW_ERR_INVALID;
  gnutls_pubkey_t pub = NULL;
  if (gnutls_pubkey_init(&pub) < 0)
    return STW_ERR_NOMEM;
  stw_status_t st = STW_ERR_CRYPTO;
  if (gnutls_pubkey_import_privkey(pub, key->priv, 0, 0) < 0)
    goto out;
  st = export_spki(pub, spki, len);
out:
  gnutls_pubkey_deinit(pub);
  return st;
}

stw_status_t stw_key_sign(const stw_key_t *key, const uint8_t *msg, size_t len,
                          uint8_t sig[STW_ES256_SIG_LEN])
{
  if (key == NULL || sig == NULL || (msg == NULL && len > 0) || len > UINT32_MAX)
    return STW_ERR_INVALID;
  gnutls_datum_t data = {(unsigned char *)msg, (unsigned)len};
  gnutls_datum_t der = {NULL, 0}, r = {NULL, 0}, s = {NULL, 0};
  stw_status_t st = STW_ERR_CRYPTO;
  if (gnutls_privkey_sign_data2(key->priv, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der) < 0)
    goto out;
  if (gnutls_decode_rs_value(&der, &r, &s) < 0)
    goto out;
  if (to_fixed32(&r, sig) != STW_OK || to_fixed32(&s, sig + 32) != STW_OK)
    goto out;
  st = STW_OK;
out:
  datum_free(&der, false);
  datum_free(&r, false);
  datum_free(&s, false);
  return st;
}

stw_status_t stw__key_scalar(const stw_key_t *key, uint8_t k[32])
{
  if (key == NULL || k == NULL)
    return STW_ERR_INVALID;
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gnutls_datum_t x = {NULL, 0}, y = {NULL, 0}, d = {NULL, 0};
  stw_status_t st = STW_ERR_CRYPTO;
  if (gnutls_x509_privkey_export_ecc_raw(key->x509, &curve, &x, &y, &d) < 0 ||
      curve != GNUTLS_ECC_CURVE_SECP256R1)
    goto out;
  st = to_fixed32(&d, k);
out:
  datum_free(&x, false);
  datum_free(&y, false);
  datum_free(&d, true);
  return st;
}

void stw_key_free(stw_key_t *key)
{
  if (key == NULL)
    return;
  /* GnuTLS clears the key's numbers when it releases them. */
  if (key->priv != NULL)
    gnutls_privkey_deinit(key->priv);
  if (key->x509 != NULL)
    gnutls_x509_privkey_deinit(key->x509);
  stw_wipe(key, sizeof(*key));
  free(key);
}

stw_status_t stw_spki_verify(const uint8_t *spki, size_t spki_len, const uint8_t *msg, size_t len,
                             const uint8_t sig[STW_ES256_SIG_LEN])
{
  if (sig == NULL || (msg == NULL && len > 0) || len > UINT32_MAX)
    return STW_ERR_INVALID;
  gnutls_pubkey_t pub = NULL;
  stw_status_t st = import_spki(spki, spki_len, &pub);
  if (st != STW_OK)
    return st == STW_ERR_UNSUPPORTED ? STW_ERR_MALFORMED : st;
  gnutls_datum_t r = {(unsigned char *)sig, 32};
  gnutls_datum_t s = {(unsigned char *)sig + 32, 32};
  gnutls_datum_t der = {NULL, 0};
  gnutls_datum_t data = {(unsigned char *)msg, (unsigned)len};
  st = STW_ERR_CRYPTO;
  if (gnutls_encode_rs_value(&der, &r, &s) < 0)
    goto out;
  st = STW_ERR_BAD_SIGNATURE;
  if (gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &data, &der) < 0)
    goto out;
  st = STW_OK;
out:
  datum_free(&der, false);
  gnutls_pubkey_deinit(pub);
  return st;
}

stw_status_t stw_spki_from_xy(const uint8_t x[32], const uint8_t y[32], uint8_t *spki, size_t *len)
{
  if (x == NULL || y == NULL || spki == NULL || len == NULL)
    return STW_ERR_INVALID;
  gnutls_pubkey_t pub = NULL;
  if (gnutls_pubkey_init(&pub) < 0)
    return STW_ERR_NOMEM;
  gnutls_datum_t dx = {(unsigned char *)x, 32}, dy = {(unsigned char *)y, 32};
  stw_status_t st = STW_ERR_MALFORMED;
  if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &dx, &dy) < 0)
    goto out;
  /* The import does not promise an on-curve check; this does. */
  if (gnutls_pubkey_verify_params(pub) < 0)
    goto out;
  st = export_spki(pub, spki, len);
out:
  gnutls_pubkey_deinit(pub);
  return st;
}

stw_status_t stw_spki_to_xy(const uint8_t *spki, size_t spki_len, uint8_t x[32], uint8_t y[32])
{
  if (x == NULL || y == NULL)
    return STW_ERR_INVALID;
  gnutls_pubkey_t pub = NULL;
  stw_status_t st = import_spki(spki, spki_len, &pub);
  if (st != STW_OK)
    return st;
  gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
  gnutls_datum_t dx = {NULL, 0}, dy = {NULL, 0};
  st = STW_ERR_MALFORMED;
  if (gnutls_pubkey_export_ecc_raw2(pub, &curve, &dx, &dy, 0) < 0)
    goto out;
  if (to_fixed32(&dx, x) != STW_OK || to_fixed32(&dy, y) != STW_OK)
    goto out;
  st = STW_OK;
out:
  datum_free(&dx, false);
  datum_free(&dy, false);
  gnutls_pubkey_deinit(pub);
  return st;
}

stw_status_t stw_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
  if (out == NULL || (data == NULL && len > 0))
    return STW_ERR_INVALID;
  return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out) == 0 ? STW_OK : STW_ERR_CRYPTO;
}

stw_status_t stw_device_id_from_spki(const uint8_t *spki, size_t spki_len,
                                     uint8_t id[STW_DEVICE_ID_LEN])
{
  if (spki == NULL || spki_len == 0 || id == NULL)
    return STW_ERR_INVALID;
  if (spki_len > STW_SPKI_MAX)
    return STW_ERR_MALFORMED;
  uint8_t digest[32];
  stw_status_t st = stw_sha256(spki, spki_len, digest);
  if (st == STW_OK)
    memcpy(id, digest, STW_DEVICE_ID_LEN);
  return st;
}

void stw_device_id_hex(const uint8_t id[STW_DEVICE_ID_LEN], char out[STW_DEVICE_ID_HEX_LEN])
{
  stw_hex_encode(id, STW_DEVICE_ID_LEN, out);
}

/* ---- certificates ---- */

static bool name_ok(const char *s)
{
  return s == NULL || strnlen(s, STW_NAME_MAX) < STW_NAME_MAX;
}

static bool has(const char *s)
{
  return s != NULL && s[0] != '\0';
}

static stw_status_t set_dn(gnutls_x509_crt_t crt, const char *oid, const char *value)
{
  if (!has(value))
    return STW_OK;
  return gnutls_x509_crt_set_dn_by_oid(crt, oid, 0, value, (unsigned)strlen(value)) < 0
             ? STW_ERR_CRYPTO : STW_OK;
}

/* An IP literal as the 4 or 16 bytes an iPAddress name holds; 0 if it is none. */
static size_t san_ip_parse(const char *text, uint8_t ip[16])
{
  if (inet_pton(AF_INET, text, ip) == 1)
    return 4;
  return inet_pton(AF_INET6, text, ip) == 1 ? 16 : 0;
}

static bool template_ok(const stw_cert_template_t *t)
{
  if (t == NULL || t->not_after <= t->not_before)
    return false;
  if (!name_ok(t->common_name) || !name_ok(t->organization) || !name_ok(t->unit) ||
      !name_ok(t->serial_number))
    return false;
  if (t->san_uri != NULL && strnlen(t->san_uri, 2 * STW_NAME_MAX) >= 2 * STW_NAME_MAX)
    return false;
  uint8_t ip[16];
  return !has(t->san_ip) || san_ip_parse(t->san_ip, ip) > 0;
}

/* Fill crt from the template and subject key; the caller signs it. */
static stw_status_t cert_fill(gnutls_x509_crt_t crt, gnutls_pubkey_t subject,
                              const stw_cert_template_t *t, uint8_t serial[16])
{
  stw_status_t st = stw_random(serial, 16);
  if (st != STW_OK)
    return st;
  /* Positive, and the top byte non-zero so the DER INTEGER stays 16 bytes. */
  serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
  if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
      gnutls_x509_crt_set_serial(crt, serial, 16) < 0 ||
      gnutls_x509_crt_set_activation_time(crt, (time_t)t->not_before) < 0 ||
      gnutls_x509_crt_set_expiration_time(crt, (time_t)t->not_after) < 0 ||
      gnutls_x509_crt_set_pubkey(crt, subject) < 0)
    return STW_ERR_CRYPTO;
  if ((st = set_dn(crt, GNUTLS_OID_X520_COMMON_NAME, t->common_name)) != STW_OK ||
      (st = set_dn(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, t->organization)) != STW_OK ||
      (st = set_dn(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, t->unit)) != STW_OK ||
      (st = set_dn(crt, OID_SERIAL_NUMBER, t->serial_number)) != STW_OK)
    return st;
  if (has(t->san_uri) &&
      gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, t->san_uri,
                                           (unsigned)strlen(t->san_uri), GNUTLS_FSAN_SET) < 0)
    return STW_ERR_CRYPTO;
  uint8_t ip[16];
  size_t ip_len = has(t->san_ip) ? san_ip_parse(t->san_ip, ip) : 0;
  if (ip_len > 0 &&
      gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, (unsigned)ip_len, GNUTLS_FSAN_APPEND) < 0)
    return STW_ERR_CRYPTO;
  unsigned usage = t->is_ca ? (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)
                            : GNUTLS_KEY_DIGITAL_SIGNATURE;
  if (gnutls_x509_crt_set_basic_constraints(crt, t->is_ca ? 1 : 0, -1) < 0 ||
      gnutls_x509_crt_set_key_usage(crt, usage) < 0)
    return STW_ERR_CRYPTO;
  if (t->client_auth && gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0)
    return STW_ERR_CRYPTO;
  if (t->server_auth && gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
    return STW_ERR_CRYPTO;
  uint8_t kid[64];
  size_t kid_len = sizeof(kid);
  if (gnutls_pubkey_get_key_id(subject, 0, kid, &kid_len) < 0 ||
      gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len) < 0)
    return STW_ERR_CRYPTO;
  return STW_OK;
}

static stw_status_t cert_sign_export(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer,
                                     const stw_key_t *key, stw_buf_t *out)
{
  gnutls_datum_t d = {NULL, 0};
  if (gnutls_x509_crt_privkey_sign(crt, issuer, key->priv, GNUTLS_DIG_SHA256, 0) < 0)
    return STW_ERR_CRYPTO;
  if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d) < 0)
    return STW_ERR_CRYPTO;
  stw_status_t st = buf_put(out, d.data, d.size, STW_CERT_MAX);
  datum_free(&d, false);
  return st;
}

static stw_status_t pubkey_of_key(const stw_key_t *key, gnutls_pubkey_t *out)
{
  *out = NULL;
  if (gnutls_pubkey_init(out) < 0)
    return STW_ERR_NOMEM;
  if (gnutls_pubkey_import_privkey(*out, key->priv, 0, 0) < 0) {
    gnutls_pubkey_deinit(*out);
    *out = NULL;
    return STW_ERR_CRYPTO;
  }
  return STW_OK;
}

stw_status_t stw_cert_self_signed(const stw_key_t *key, const stw_cert_template_t *t,
                                  stw_buf_t *out)
{
  if (key == NULL || out == NULL || !template_ok(t))
    return STW_ERR_INVALID;
  gnutls_x509_crt_t crt = NULL;
  gnutls_pubkey_t pub = NULL;
  uint8_t serial[16];
  stw_status_t st = pubkey_of_key(key, &pub);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_NOMEM;
  if (gnutls_x509_crt_init(&crt) < 0)
    goto out;
  if ((st = cert_fill(crt, pub, t, serial)) != STW_OK)
    goto out;
  uint8_t kid[64];
  size_t kid_len = sizeof(kid);
  st = STW_ERR_CRYPTO;
  if (gnutls_pubkey_get_key_id(pub, 0, kid, &kid_len) < 0 ||
      gnutls_x509_crt_set_authority_key_id(crt, kid, kid_len) < 0)
    goto out;
  st = cert_sign_export(crt, crt, key, out);
out:
  if (crt != NULL)
    gnutls_x509_crt_deinit(crt);
  if (pub != NULL)
    gnutls_pubkey_deinit(pub);
  return st;
}

/* Import a DER certificate of bounded size. */
static stw_status_t import_cert(const uint8_t *der, size_t len, gnutls_x509_crt_t *out)
{
  *out = NULL;
  if (der == NULL || len == 0)
    return STW_ERR_MALFORMED;
  if (len > STW_CERT_MAX)
    return STW_ERR_TOO_LARGE;
  if (gnutls_x509_crt_init(out) < 0)
    return STW_ERR_NOMEM;
  gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
  if (gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_DER) < 0) {
    gnutls_x509_crt_deinit(*out);
    *out = NULL;
    return STW_ERR_MALFORMED;
  }
  return STW_OK;
}

/* One DN attribute into a fixed field; absent gives "". A value that does
 * not fit or holds a NUL is refused rather than cut. */
static stw_status_t get_dn(gnutls_x509_crt_t crt, const char *oid, char out[STW_NAME_MAX])
{
  size_t size = STW_NAME_MAX;
  out[0] = '\0';
  int rc = gnutls_x509_crt_get_dn_by_oid(crt, oid, 0, 0, out, &size);
  if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
    out[0] = '\0';
    return STW_OK;
  }
  if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
    return STW_ERR_TOO_LARGE;
  if (rc < 0 || size >= STW_NAME_MAX || strnlen(out, STW_NAME_MAX) != size)
    return STW_ERR_MALFORMED;
  return STW_OK;
}

/* First URI in subjectAltName, or "". */
static stw_status_t get_san_uri(gnutls_x509_crt_t crt, char *out, size_t cap)
{
  out[0] = '\0';
  for (unsigned seq = 0; seq < 32; seq++) {
    char buf[2 * STW_NAME_MAX];
    size_t size = sizeof(buf);
    int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
    if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
      return STW_OK;
    if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
      continue;  /* some other, longer name; ours are short */
    if (type < 0)
      return STW_ERR_MALFORMED;
    if (type != GNUTLS_SAN_URI)
      continue;
    if (size >= cap || memchr(buf, '\0', size) != NULL)
      return STW_ERR_MALFORMED;
    memcpy(out, buf, size);
    out[size] = '\0';
    return STW_OK;
  }
  return STW_OK;
}

/* What crt says, into info (zeroed first). */
static stw_status_t parse_crt(gnutls_x509_crt_t crt, stw_cert_info_t *info)
{
  memset(info, 0, sizeof(*info));
  gnutls_pubkey_t pub = NULL;
  stw_status_t st;
  if ((st = get_dn(crt, GNUTLS_OID_X520_COMMON_NAME, info->common_name)) != STW_OK ||
      (st = get_dn(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, info->organization)) != STW_OK ||
      (st = get_dn(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, info->unit)) != STW_OK ||
      (st = get_dn(crt, OID_SERIAL_NUMBER, info->serial_number)) != STW_OK ||
      (st = get_san_uri(crt, info->san_uri, sizeof(info->san_uri))) != STW_OK)
    goto out;
  uint8_t serial[STW_SERIAL_MAX + 1];
  size_t serial_len = sizeof(serial);
  st = STW_ERR_MALFORMED;
  if (gnutls_x509_crt_get_serial(crt, serial, &serial_len) < 0 || serial_len == 0 ||
      serial_len > STW_SERIAL_MAX)
    goto out;
  stw_hex_encode(serial, serial_len, info->serial_hex);
  time_t nb = gnutls_x509_crt_get_activation_time(crt);
  time_t na = gnutls_x509_crt_get_expiration_time(crt);
  if (nb == (time_t)-1 || na == (time_t)-1)
    goto out;
  info->not_before = (int64_t)nb;
  info->not_after = (int64_t)na;
  info->is_ca = gnutls_x509_crt_get_ca_status(crt, NULL) > 0;
  st = STW_ERR_NOMEM;
  if (gnutls_pubkey_init(&pub) < 0)
    goto out;
  st = STW_ERR_MALFORMED;
  if (gnutls_pubkey_import_x509(pub, crt, 0) < 0)
    goto out;
  st = STW_ERR_UNSUPPORTED;
  if (!pubkey_is_p256(pub))
    goto out;
  info->spki_len = sizeof(info->spki);
  if ((st = export_spki(pub, info->spki, &info->spki_len)) != STW_OK)
    goto out;
  st = stw_device_id_from_spki(info->spki, info->spki_len, info->device_id);
out:
  if (pub != NULL)
    gnutls_pubkey_deinit(pub);
  return st;
}

stw_status_t stw_cert_parse(const uint8_t *der, size_t len, stw_cert_info_t *info)
{
  if (info == NULL)
    return STW_ERR_INVALID;
  memset(info, 0, sizeof(*info));
  gnutls_x509_crt_t crt = NULL;
  stw_status_t st = import_cert(der, len, &crt);
  if (st == STW_OK)
    st = parse_crt(crt, info);
  if (st != STW_OK)
    memset(info, 0, sizeof(*info));
  if (crt != NULL)
    gnutls_x509_crt_deinit(crt);
  return st;
}

static bool valid_at(gnutls_x509_crt_t crt, int64_t now)
{
  time_t nb = gnutls_x509_crt_get_activation_time(crt);
  time_t na = gnutls_x509_crt_get_expiration_time(crt);
  if (nb == (time_t)-1 || na == (time_t)-1)
    return false;
  return now >= (int64_t)nb && now <= (int64_t)na;
}

/* May ca sign certificates with ES256 on P-256? Checked once per CA. */
static stw_status_t ca_usable(gnutls_x509_crt_t ca)
{
  if (gnutls_x509_crt_get_ca_status(ca, NULL) <= 0)
    return STW_ERR_UNTRUSTED;
  unsigned usage = 0;
  /* Key usage is optional; if present it must allow certificate signing. */
  if (gnutls_x509_crt_get_key_usage(ca, &usage, NULL) >= 0 && !(usage & GNUTLS_KEY_KEY_CERT_SIGN))
    return STW_ERR_UNTRUSTED;
  gnutls_pubkey_t ca_pub = NULL;
  if (gnutls_pubkey_init(&ca_pub) < 0)
    return STW_ERR_NOMEM;
  stw_status_t st = STW_ERR_UNTRUSTED;
  if (gnutls_pubkey_import_x509(ca_pub, ca, 0) >= 0 && pubkey_is_p256(ca_pub))
    st = STW_OK;
  gnutls_pubkey_deinit(ca_pub);
  return st;
}

/* The per-certificate half of a verification; ca already passed ca_usable(). */
static stw_status_t verify_signed_by(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca, int64_t now)
{
  if (!gnutls_x509_crt_check_issuer(crt, ca))
    return STW_ERR_UNTRUSTED;
  if (gnutls_x509_crt_get_signature_algorithm(crt) != GNUTLS_SIGN_ECDSA_SHA256)
    return STW_ERR_UNTRUSTED;
  /* Time is checked below against the caller's clock, not the system's. */
  unsigned status = 0;
  unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
  if (gnutls_x509_crt_verify(crt, &ca, 1, flags, &status) < 0 || status != 0)
    return STW_ERR_UNTRUSTED;
  if (!valid_at(crt, now) || !valid_at(ca, now))
    return STW_ERR_EXPIRED;
  return STW_OK;
}

stw_status_t stw_cert_verify_issued_by(const uint8_t *der, size_t len,
                                       const uint8_t *ca_der, size_t ca_len, int64_t now)
{
  gnutls_x509_crt_t crt = NULL, ca = NULL;
  stw_status_t st = import_cert(der, len, &crt);
  if (st != STW_OK)
    goto out;
  if ((st = import_cert(ca_der, ca_len, &ca)) != STW_OK)
    goto out;
  if (!gnutls_x509_crt_check_issuer(crt, ca)) {
    st = STW_ERR_UNTRUSTED;
    goto out;
  }
  if ((st = ca_usable(ca)) != STW_OK)
    goto out;
  st = verify_signed_by(crt, ca, now);
out:
  if (crt != NULL)
    gnutls_x509_crt_deinit(crt);
  if (ca != NULL)
    gnutls_x509_crt_deinit(ca);
  return st;
}

/* ---- parsed once, used many times ---- */

struct stw_cert {
  gnutls_x509_crt_t crt;
  stw_cert_info_t info;
};

struct stw_ca {
  stw_cert_t cert;
  const stw_key_t *key;       /* NULL: verify only; not owned */
  uint8_t key_id[64];         /* authority key id of what it issues */
  size_t key_id_len;
};

stw_status_t stw_cert_load(const uint8_t *der, size_t len, stw_cert_t **out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  *out = NULL;
  stw_cert_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = import_cert(der, len, &c->crt);
  if (st == STW_OK)
    st = parse_crt(c->crt, &c->info);
  if (st != STW_OK) {
    stw_cert_free(c);
    return st;
  }
  *out = c;
  return STW_OK;
}

const stw_cert_info_t *stw_cert_info(const stw_cert_t *cert)
{
  return &cert->info;
}

void stw_cert_free(stw_cert_t *cert)
{
  if (cert == NULL)
    return;
  if (cert->crt != NULL)
    gnutls_x509_crt_deinit(cert->crt);
  free(cert);
}

/* The CA key must be the key of the CA certificate, or what it issues would
 * never verify. */
static stw_status_t key_matches(const stw_key_t *key, const stw_cert_info_t *info)
{
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  stw_status_t st = stw_key_spki(key, spki, &spki_len);
  if (st != STW_OK)
    return st;
  if (spki_len != info->spki_len || memcmp(spki, info->spki, spki_len) != 0)
    return STW_ERR_INVALID;
  return STW_OK;
}

/* Authority key id for what ca issues: its own subject key id, or one derived
 * from its key. */
static stw_status_t ca_key_id(gnutls_x509_crt_t ca, uint8_t *kid, size_t *kid_len)
{
  size_t cap = *kid_len;
  unsigned critical = 0;
  if (gnutls_x509_crt_get_subject_key_id(ca, kid, kid_len, &critical) >= 0)
    return STW_OK;
  *kid_len = cap;
  return gnutls_x509_crt_get_key_id(ca, 0, kid, kid_len) < 0 ? STW_ERR_CRYPTO : STW_OK;
}

/* stw_ca_new(), and with check_usable false the older stw_cert_issue(),
 * which never asked that its issuer be marked a CA. */
static stw_status_t ca_open(const uint8_t *der, size_t len, const stw_key_t *key, bool check_usable,
                            stw_ca_t **out)
{
  *out = NULL;
  stw_ca_t *ca = calloc(1, sizeof(*ca));
  if (ca == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = import_cert(der, len, &ca->cert.crt);
  if (st != STW_OK)
    goto out;
  if ((st = parse_crt(ca->cert.crt, &ca->cert.info)) != STW_OK)
    goto out;
  if (check_usable && (st = ca_usable(ca->cert.crt)) != STW_OK)
    goto out;
  if (key != NULL) {
    if ((st = key_matches(key, &ca->cert.info)) != STW_OK)
      goto out;
    ca->key_id_len = sizeof(ca->key_id);
    if ((st = ca_key_id(ca->cert.crt, ca->key_id, &ca->key_id_len)) != STW_OK)
      goto out;
    ca->key = key;
  }
  *out = ca;
  ca = NULL;
out:
  stw_ca_free(ca);
  return st;
}

stw_status_t stw_ca_new(const uint8_t *der, size_t len, const stw_key_t *key, stw_ca_t **out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  return ca_open(der, len, key, true, out);
}

const stw_cert_info_t *stw_ca_info(const stw_ca_t *ca)
{
  return &ca->cert.info;
}

void stw_ca_free(stw_ca_t *ca)
{
  if (ca == NULL)
    return;
  if (ca->cert.crt != NULL)
    gnutls_x509_crt_deinit(ca->cert.crt);
  free(ca);
}

stw_status_t stw_ca_verify_cert(const stw_ca_t *ca, const stw_cert_t *cert, int64_t now)
{
  if (ca == NULL || cert == NULL)
    return STW_ERR_INVALID;
  return verify_signed_by(cert->crt, ca->cert.crt, now);
}

stw_status_t stw_ca_verify_issued(const stw_ca_t *ca, const uint8_t *der, size_t len, int64_t now)
{
  if (ca == NULL)
    return STW_ERR_INVALID;
  gnutls_x509_crt_t crt = NULL;
  stw_status_t st = import_cert(der, len, &crt);
  if (st != STW_OK)
    return st;
  st = verify_signed_by(crt, ca->cert.crt, now);
  gnutls_x509_crt_deinit(crt);
  return st;
}

stw_status_t stw_ca_issue(const stw_ca_t *ca, const uint8_t *subject_spki, size_t spki_len,
                          const stw_cert_template_t *t, stw_buf_t *out, char *serial_hex)
{
  if (ca == NULL || ca->key == NULL || out == NULL || !template_ok(t))
    return STW_ERR_INVALID;
  gnutls_x509_crt_t crt = NULL;
  gnutls_pubkey_t subject = NULL;
  uint8_t serial[16];
  stw_status_t st = import_spki(subject_spki, spki_len, &subject);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_NOMEM;
  if (gnutls_x509_crt_init(&crt) < 0)
    goto out;
  if ((st = cert_fill(crt, subject, t, serial)) != STW_OK)
    goto out;
  st = STW_ERR_CRYPTO;
  if (gnutls_x509_crt_set_authority_key_id(crt, ca->key_id, ca->key_id_len) < 0)
    goto out;
  if ((st = cert_sign_export(crt, ca->cert.crt, ca->key, out)) != STW_OK)
    goto out;
  if (serial_hex != NULL)
    stw_hex_encode(serial, sizeof(serial), serial_hex);
out:
  if (crt != NULL)
    gnutls_x509_crt_deinit(crt);
  if (subject != NULL)
    gnutls_pubkey_deinit(subject);
  return st;
}

stw_status_t stw_cert_issue(const stw_key_t *ca_key, const uint8_t *ca_der, size_t ca_len,
                            const uint8_t *subject_spki, size_t spki_len,
                            const stw_cert_template_t *t, stw_buf_t *out,
                            char *serial_hex)
{
  if (ca_key == NULL || out == NULL || !template_ok(t))
    return STW_ERR_INVALID;
  stw_ca_t *ca = NULL;
  stw_status_t st = ca_open(ca_der, ca_len, ca_key, false, &ca);
  if (st == STW_OK)
    st = stw_ca_issue(ca, subject_spki, spki_len, t, out, serial_hex);
  stw_ca_free(ca);
  return st;
}

/* ---- PEM ---- */

stw_status_t stw_pem_to_der(const char *label, const uint8_t *pem, size_t len, stw_buf_t *der)
{
  if (label == NULL || pem == NULL || der == NULL)
    return STW_ERR_INVALID;
  if (len > PEM_MAX)
    return STW_ERR_TOO_LARGE;
  gnutls_datum_t in = {(unsigned char *)pem, (unsigned)len};
  gnutls_datum_t out = {NULL, 0};
  if (gnutls_pem_base64_decode2(label, &in, &out) < 0)
    return STW_ERR_MALFORMED;
  stw_status_t st = buf_put(der, out.data, out.size, PEM_MAX);
  datum_free(&out, true);
  return st;
}

stw_status_t stw_der_to_pem(const char *label, const uint8_t *der, size_t len, stw_buf_t *pem)
{
  if (label == NULL || der == NULL || pem == NULL || len == 0)
    return STW_ERR_INVALID;
  if (len > PEM_MAX)
    return STW_ERR_TOO_LARGE;
  gnutls_datum_t in = {(unsigned char *)der, (unsigned)len};
  gnutls_datum_t out = {NULL, 0};
  if (gnutls_pem_base64_encode2(label, &in, &out) < 0)
    return STW_ERR_CRYPTO;
  stw_status_t st = buf_put(pem, out.data, out.size, 2 * PEM_MAX);
  datum_free(&out, true);
  return st;
}

/* ---- CSR ---- */

stw_status_t stw_csr_create(const stw_key_t *key, const char *cn, stw_buf_t *out)
{
  if (key == NULL || out == NULL || !has(cn) || !name_ok(cn))
    return STW_ERR_INVALID;
  gnutls_x509_crq_t crq = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t d = {NULL, 0};
  stw_status_t st = pubkey_of_key(key, &pub);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_NOMEM;
  if (gnutls_x509_crq_init(&crq) < 0)
    goto out;
  st = STW_ERR_CRYPTO;
  if (gnutls_x509_crq_set_version(crq, 1) < 0 ||
      gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)) < 0 ||
      gnutls_x509_crq_set_pubkey(crq, pub) < 0 ||
      gnutls_x509_crq_privkey_sign(crq, key->priv, GNUTLS_DIG_SHA256, 0) < 0 ||
      gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &d) < 0)
    goto out;
  st = buf_put(out, d.data, d.size, STW_CSR_MAX);
out:
  datum_free(&d, false);
  if (crq != NULL)
    gnutls_x509_crq_deinit(crq);
  if (pub != NULL)
    gnutls_pubkey_deinit(pub);
  return st;
}

stw_status_t stw_csr_parse_verify(const uint8_t *der, size_t len, stw_csr_info_t *info)
{
  if (info == NULL)
    return STW_ERR_INVALID;
  memset(info, 0, sizeof(*info));
  if (der == NULL || len == 0)
    return STW_ERR_MALFORMED;
  if (len > STW_CSR_MAX)
    return STW_ERR_TOO_LARGE;
  gnutls_x509_crq_t crq = NULL;
  gnutls_pubkey_t pub = NULL;
  stw_status_t st = STW_ERR_NOMEM;
  if (gnutls_x509_crq_init(&crq) < 0)
    goto out;
  gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
  st = STW_ERR_MALFORMED;
  if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER) < 0)
    goto out;
  /* Key type first: an RSA request is unsupported even if well signed. */
  if (gnutls_pubkey_init(&pub) < 0) {
    st = STW_ERR_NOMEM;
    goto out;
  }
  if (gnutls_pubkey_import_x509_crq(pub, crq, 0) < 0)
    goto out;
  st = STW_ERR_UNSUPPORTED;
  if (!pubkey_is_p256(pub) ||
      gnutls_x509_crq_get_signature_algorithm(crq) != GNUTLS_SIGN_ECDSA_SHA256)
    goto out;
  st = STW_ERR_BAD_SIGNATURE;
  if (gnutls_x509_crq_verify(crq, 0) < 0)
    goto out;
  size_t size = sizeof(info->common_name);
  int rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                         info->common_name, &size);
  st = STW_ERR_MALFORMED;
  if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
    info->common_name[0] = '\0';
  } else if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER) {
    st = STW_ERR_TOO_LARGE;
    goto out;
  } else if (rc < 0 || size >= sizeof(info->common_name) ||
             strnlen(info->common_name, sizeof(info->common_name)) != size) {
    goto out;
  }
  info->spki_len = sizeof(info->spki);
  st = export_spki(pub, info->spki, &info->spki_len);
out:
  if (st != STW_OK)
    memset(info, 0, sizeof(*info));
  if (pub != NULL)
    gnutls_pubkey_deinit(pub);
  if (crq != NULL)
    gnutls_x509_crq_deinit(crq);
  return st;
}

/* ---- PKCS#7 certs-only ---- */

stw_status_t stw_pkcs7_certs_encode(const uint8_t *const *certs, const size_t *lens, size_t n,
                                    stw_buf_t *out)
{
  if (out == NULL || (n > 0 && (certs == NULL || lens == NULL)) || n > 16)
    return STW_ERR_INVALID;
  gnutls_pkcs7_t p7 = NULL;
  gnutls_datum_t d = {NULL, 0};
  stw_status_t st = STW_ERR_NOMEM;
  if (gnutls_pkcs7_init(&p7) < 0)
    goto out;
  for (size_t i = 0; i < n; i++) {
    st = STW_ERR_INVALID;
    if (certs[i] == NULL || lens[i] == 0 || lens[i] > STW_CERT_MAX)
      goto out;
    gnutls_datum_t c = {(unsigned char *)certs[i], (unsigned)lens[i]};
    st = STW_ERR_MALFORMED;
    if (gnutls_pkcs7_set_crt_raw(p7, &c) < 0)
      goto out;
  }
  st = STW_ERR_CRYPTO;
  if (gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &d) < 0)
    goto out;
  st = buf_put(out, d.data, d.size, PKCS7_MAX);
out:
  datum_free(&d, false);
  if (p7 != NULL)
    gnutls_pkcs7_deinit(p7);
  return st;
}

stw_status_t stw_pkcs7_certs_decode(const uint8_t *p7, size_t len, stw_cert_cb cb, void *ctx)
{
  if (cb == NULL)
    return STW_ERR_INVALID;
  if (p7 == NULL || len == 0)
    return STW_ERR_MALFORMED;
  if (len > PKCS7_MAX)
    return STW_ERR_TOO_LARGE;
  gnutls_pkcs7_t pk = NULL;
  stw_status_t st = STW_ERR_NOMEM;
  if (gnutls_pkcs7_init(&pk) < 0)
    goto out;
  gnutls_datum_t d = {(unsigned char *)p7, (unsigned)len};
  st = STW_ERR_MALFORMED;
  if (gnutls_pkcs7_import(pk, &d, GNUTLS_X509_FMT_DER) < 0)
    goto out;
  int count = gnutls_pkcs7_get_crt_count(pk);
  if (count < 0)
    goto out;
  st = STW_OK;
  for (int i = 0; i < count && st == STW_OK; i++) {
    gnutls_datum_t c = {NULL, 0};
    if (gnutls_pkcs7_get_crt_raw2(pk, (unsigned)i, &c) < 0) {
      st = STW_ERR_MALFORMED;
      break;
    }
    st = c.size > STW_CERT_MAX ? STW_ERR_TOO_LARGE : cb(c.data, c.size, ctx);
    datum_free(&c, false);
  }
out:
  if (pk != NULL)
    gnutls_pkcs7_deinit(pk);
  return st;
}
