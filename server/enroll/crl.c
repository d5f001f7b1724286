#include "crl.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

typedef struct {
  gnutls_x509_crl_t crl;
  uint64_t count;
} crl_fill_t;

static stw_status_t add_revoked(const char *serial_hex, const char *device_id, int64_t not_after, int64_t revoked_at,
                                void *arg)
{
  (void)device_id;
  (void)not_after;
  crl_fill_t *f = arg;
  /* Serials are issued as whole bytes; an odd length (written by someone
   * else) gets its leading zero back rather than being dropped. */
  char hex[2 * 20 + 2];
  uint8_t serial[20];
  size_t n = strlen(serial_hex);
  if (n == 0 || n > 40)
    return STW_ERR_STORE;
  size_t odd = n % 2;
  hex[0] = '0';
  memcpy(hex + odd, serial_hex, n + 1);
  if (stw_hex_decode(hex, n + odd, serial, (n + odd) / 2) != STW_OK)
    return STW_ERR_STORE;
  if (gnutls_x509_crl_set_crt_serial(f->crl, serial, (n + odd) / 2, (time_t)revoked_at) < 0)
    return STW_ERR_CRYPTO;
  f->count++;
  return STW_OK;
}

/* The domain CA key as GnuTLS wants it for signing a CRL: through its PEM,
 * wiped once imported. */
static stw_status_t signing_key(const stw_domain_t *domain, gnutls_privkey_t *out)
{
  stw_buf_t pem;
  gnutls_x509_privkey_t x509 = NULL;
  stw_buf_init(&pem, 8192);
  stw_status_t st = stw_key_export_pem(domain->ca_key, &pem);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_CRYPTO;
  gnutls_datum_t d = { pem.data, (unsigned)pem.len };
  if (gnutls_x509_privkey_init(&x509) < 0)
    goto out;
  if (gnutls_x509_privkey_import(x509, &d, GNUTLS_X509_FMT_PEM) < 0 || gnutls_privkey_init(out) < 0)
    goto out;
  if (gnutls_privkey_import_x509(*out, x509, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0) {
    gnutls_privkey_deinit(*out);
    *out = NULL;
    goto out;
  }
  x509 = NULL;  /* released with *out */
  st = STW_OK;
out:
  if (x509 != NULL)
    gnutls_x509_privkey_deinit(x509);
  stw_buf_free(&pem, true);
  return st;
}

stw_status_t stw_crl_build(stw_store_t *st, const stw_domain_t *domain, int64_t now, stw_buf_t *out)
{
  crl_fill_t f = { 0 };
  gnutls_x509_crt_t ca = NULL;
  gnutls_privkey_t key = NULL;
  gnutls_datum_t der = { NULL, 0 };
  stw_status_t rc = STW_ERR_CRYPTO;

  if (st == NULL || domain == NULL || out == NULL || now <= 0)
    return STW_ERR_INVALID;
  if (gnutls_x509_crl_init(&f.crl) < 0) {
    f.crl = NULL;
    goto out;
  }
  if (gnutls_x509_crt_init(&ca) < 0) {
    ca = NULL;
    goto out;
  }
  gnutls_datum_t ca_der = { domain->ca_der.data, (unsigned)domain->ca_der.len };
  if (gnutls_x509_crt_import(ca, &ca_der, GNUTLS_X509_FMT_DER) < 0)
    goto out;
  if (gnutls_x509_crl_set_version(f.crl, 2) < 0 || gnutls_x509_crl_set_this_update(f.crl, (time_t)now) < 0 ||
      gnutls_x509_crl_set_next_update(f.crl, (time_t)(now + STW_CRL_VALIDITY)) < 0)
    goto out;
  if ((rc = stw_store_serial_revoked_list(st, add_revoked, &f)) != STW_OK)
    goto out;
  rc = STW_ERR_CRYPTO;

  uint8_t number[8];
  uint64_t n = f.count << 32 | (uint64_t)(uint32_t)now;
  for (int i = 7; i >= 0; i--, n >>= 8)
    number[i] = (uint8_t)n;
  if (gnutls_x509_crl_set_number(f.crl, number, sizeof(number)) < 0)
    goto out;
  uint8_t kid[64];
  size_t kid_len = sizeof(kid);
  unsigned critical = 0;
  if (gnutls_x509_crt_get_subject_key_id(ca, kid, &kid_len, &critical) >= 0 &&
      gnutls_x509_crl_set_authority_key_id(f.crl, kid, kid_len) < 0)
    goto out;

  if ((rc = signing_key(domain, &key)) != STW_OK)
    goto out;
  rc = STW_ERR_CRYPTO;
  if (gnutls_x509_crl_privkey_sign(f.crl, ca, key, GNUTLS_DIG_SHA256, 0) < 0)
    goto out;
  if (gnutls_x509_crl_export2(f.crl, GNUTLS_X509_FMT_DER, &der) < 0)
    goto out;
  rc = der.size > STW_CRL_MAX ? STW_ERR_TOO_LARGE : stw_buf_append(out, der.data, der.size);
out:
  gnutls_free(der.data);
  if (key != NULL)
    gnutls_privkey_deinit(key);
  if (ca != NULL)
    gnutls_x509_crt_deinit(ca);
  if (f.crl != NULL)
    gnutls_x509_crl_deinit(f.crl);
  return rc;
}
