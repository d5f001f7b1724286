/* lib/pki.c and lib/seal.c: keys, ES256, device ids, certificates, CSRs,
 * PEM, PKCS#7, sealing. ECDSA verification is checked against Wycheproof
 * (ecdsa_secp256r1_sha256_p1363_test.json, C2SP/wycheproof testvectors_v1). */
#include "testutil.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#define T0 1700000000  /* a fixed "now" so the tests do not depend on the clock */
#define DAY 86400

/* memmem is a GNU extension; this is all the tests need. */
static uint8_t *find(uint8_t *hay, size_t n, const char *needle)
{
  size_t m = strlen(needle);
  for (size_t i = 0; m <= n && i <= n - m; i++)
    if (memcmp(hay + i, needle, m) == 0)
      return hay + i;
  return NULL;
}

static stw_key_t *new_key(void)
{
  stw_key_t *k = NULL;
  assert_int_equal(stw_key_generate(&k), STW_OK);
  assert_non_null(k);
  return k;
}

static void key_spki(const stw_key_t *k, uint8_t *spki, size_t *len)
{
  *len = STW_SPKI_MAX;
  assert_int_equal(stw_key_spki(k, spki, len), STW_OK);
}

static void test_sign_verify_round_trip(void **state)
{
  (void)state;
  stw_key_t *k = new_key();
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  key_spki(k, spki, &spki_len);
  assert_int_equal(spki_len, 91);
  static const uint8_t msg[] = "steward";
  uint8_t sig[STW_ES256_SIG_LEN];
  assert_int_equal(stw_key_sign(k, msg, sizeof(msg), sig), STW_OK);
  assert_int_equal(stw_spki_verify(spki, spki_len, msg, sizeof(msg), sig), STW_OK);
  /* Other message, flipped signature, other key: all fail. */
  assert_int_equal(stw_spki_verify(spki, spki_len, msg, sizeof(msg) - 1, sig), STW_ERR_BAD_SIGNATURE);
  sig[10] ^= 1;
  assert_int_equal(stw_spki_verify(spki, spki_len, msg, sizeof(msg), sig), STW_ERR_BAD_SIGNATURE);
  sig[10] ^= 1;
  stw_key_t *k2 = new_key();
  uint8_t spki2[STW_SPKI_MAX];
  size_t spki2_len;
  key_spki(k2, spki2, &spki2_len);
  assert_int_equal(stw_spki_verify(spki2, spki2_len, msg, sizeof(msg), sig), STW_ERR_BAD_SIGNATURE);
  /* Garbage key. */
  assert_int_equal(stw_spki_verify(spki, 10, msg, sizeof(msg), sig), STW_ERR_MALFORMED);
  /* Empty message signs too. */
  assert_int_equal(stw_key_sign(k, NULL, 0, sig), STW_OK);
  assert_int_equal(stw_spki_verify(spki, spki_len, NULL, 0, sig), STW_OK);
  stw_key_free(k);
  stw_key_free(k2);
  stw_key_free(NULL);
}

static void test_key_pem_round_trip(void **state)
{
  (void)state;
  stw_key_t *k = new_key();
  stw_buf_t pem = {0};
  assert_int_equal(stw_key_export_pem(k, &pem), STW_OK);
  assert_non_null(strstr((const char *)pem.data, "-----BEGIN EC PRIVATE KEY-----"));
  stw_key_t *k2 = NULL;
  assert_int_equal(stw_key_import_pem(pem.data, pem.len, &k2), STW_OK);
  uint8_t a[STW_SPKI_MAX], b[STW_SPKI_MAX];
  size_t a_len, b_len;
  key_spki(k, a, &a_len);
  key_spki(k2, b, &b_len);
  assert_int_equal(a_len, b_len);
  assert_memory_equal(a, b, a_len);
  stw_buf_free(&pem, true);
  stw_key_free(k2);
  /* Garbage and RSA keys are refused. */
  static const uint8_t junk[] = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
  assert_int_not_equal(stw_key_import_pem(junk, sizeof(junk) - 1, &k2), STW_OK);
  gnutls_x509_privkey_t rsa;
  assert_int_equal(gnutls_x509_privkey_init(&rsa), 0);
  assert_int_equal(gnutls_x509_privkey_generate(rsa, GNUTLS_PK_RSA, 2048, 0), 0);
  gnutls_datum_t d;
  assert_int_equal(gnutls_x509_privkey_export2_pkcs8(rsa, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d), 0);
  assert_int_equal(stw_key_import_pem(d.data, d.size, &k2), STW_ERR_UNSUPPORTED);
  gnutls_free(d.data);
  gnutls_x509_privkey_deinit(rsa);
  stw_key_free(k);
}

static void test_device_id(void **state)
{
  (void)state;
  stw_key_t *k = new_key();
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  key_spki(k, spki, &spki_len);
  uint8_t id[STW_DEVICE_ID_LEN], digest[32];
  assert_int_equal(stw_device_id_from_spki(spki, spki_len, id), STW_OK);
  /* Independently: SHA-256 straight from GnuTLS. */
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, spki_len, digest), 0);
  assert_memory_equal(id, digest, STW_DEVICE_ID_LEN);
  char hex[STW_DEVICE_ID_HEX_LEN];
  stw_device_id_hex(id, hex);
  assert_int_equal(strlen(hex), 32);
  /* SHA-256("abc"), FIPS 180-2 appendix B.1. */
  uint8_t h[32];
  assert_int_equal(stw_sha256((const uint8_t *)"abc", 3, h), STW_OK);
  char hh[65];
  stw_hex_encode(h, 32, hh);
  assert_string_equal(hh, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  stw_key_free(k);
}

static void test_spki_xy(void **state)
{
  (void)state;
  stw_key_t *k = new_key();
  uint8_t spki[STW_SPKI_MAX], spki2[STW_SPKI_MAX];
  size_t spki_len, spki2_len = sizeof(spki2);
  key_spki(k, spki, &spki_len);
  uint8_t x[32], y[32];
  assert_int_equal(stw_spki_to_xy(spki, spki_len, x, y), STW_OK);
  assert_int_equal(stw_spki_from_xy(x, y, spki2, &spki2_len), STW_OK);
  assert_int_equal(spki_len, spki2_len);
  assert_memory_equal(spki, spki2, spki_len);
  /* A point off the curve is refused. */
  y[31] ^= 1;
  spki2_len = sizeof(spki2);
  assert_int_not_equal(stw_spki_from_xy(x, y, spki2, &spki2_len), STW_OK);
  /* And so is the same point in DER, whichever way it comes in. */
  uint8_t off_curve[STW_SPKI_MAX], x2[32], y2[32], sig[STW_ES256_SIG_LEN];
  memcpy(off_curve, spki, spki_len);
  off_curve[spki_len - 1] ^= 1;
  memset(x2, 0xee, sizeof(x2));
  assert_int_equal(stw_spki_to_xy(off_curve, spki_len, x2, y2), STW_ERR_MALFORMED);
  uint8_t untouched[32];
  memset(untouched, 0xee, sizeof(untouched));
  assert_memory_equal(x2, untouched, sizeof(x2));
  assert_int_equal(stw_key_sign(k, spki, spki_len, sig), STW_OK);
  assert_int_equal(stw_spki_verify(spki, spki_len, spki, spki_len, sig), STW_OK);
  assert_int_equal(stw_spki_verify(off_curve, spki_len, spki, spki_len, sig), STW_ERR_MALFORMED);
  stw_key_free(k);
}

/* Valid vectors that nettle 3.8 (under GnuTLS) rejects. tcId 204 ("point
 * duplication during verification") is built so that verification must add
 * a point to itself; nettle's addition formula does not handle that case. */
static bool known_false_reject(int id)
{
  return id == 204;
}

/* Wycheproof: valid must verify, invalid must not; acceptable may go
 * either way. P1363 signatures that are not 64 bytes cannot be passed to
 * stw_spki_verify at all (fixed-size argument), which is a rejection. */
static void test_wycheproof_ecdsa_p256(void **state)
{
  (void)state;
  const char *path = stw_test_vector_path("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (root == NULL)
    fail_msg("cannot read %s: %s", path, err.text);
  unsigned valid = 0, invalid = 0, acceptable = 0, wrong_len = 0, known = 0;
  size_t gi;
  json_t *group;
  json_array_foreach(json_object_get(root, "testGroups"), gi, group) {
    size_t spki_len;
    uint8_t *spki = stw_test_hex(json_string_value(json_object_get(group, "publicKeyDer")), &spki_len);
    size_t ti;
    json_t *tc;
    json_array_foreach(json_object_get(group, "tests"), ti, tc) {
      size_t msg_len, sig_len;
      uint8_t *msg = stw_test_hex(json_string_value(json_object_get(tc, "msg")), &msg_len);
      uint8_t *sig = stw_test_hex(json_string_value(json_object_get(tc, "sig")), &sig_len);
      const char *result = json_string_value(json_object_get(tc, "result"));
      int id = (int)json_integer_value(json_object_get(tc, "tcId"));
      stw_status_t st = STW_ERR_MALFORMED;
      if (sig_len == STW_ES256_SIG_LEN)
        st = stw_spki_verify(spki, spki_len, msg, msg_len, sig);
      else
        wrong_len++;
      if (strcmp(result, "valid") == 0) {
        if (st != STW_OK && known_false_reject(id)) {
          printf("wycheproof tcId %d: valid, rejected by the library: known limitation "
                 "(nettle's verify misses the point-doubling case; a false reject, never an accept)\n", id);
          known++;
        } else if (st != STW_OK) {
          fail_msg("wycheproof tcId %d: valid signature rejected (%s)", id, stw_status_str(st));
        } else {
          valid++;
        }
      } else if (strcmp(result, "invalid") == 0) {
        if (st == STW_OK)
          fail_msg("wycheproof tcId %d: invalid signature accepted", id);
        invalid++;
      } else {
        acceptable++;
      }
      free(msg);
      free(sig);
    }
    free(spki);
  }
  printf("wycheproof ecdsa p256 p1363: %u valid verified, %u invalid rejected (%u by length), "
         "%u acceptable, %u known false rejects\n", valid, invalid, wrong_len, acceptable, known);
  assert_true(valid > 100 && invalid > 50);
  json_decref(root);
}

/* ---- certificates ---- */

typedef struct {
  stw_key_t *ca_key;
  stw_buf_t ca;
  stw_key_t *dev_key;
  uint8_t dev_spki[STW_SPKI_MAX];
  size_t dev_spki_len;
} pki_fixture_t;

static stw_cert_template_t ca_template(const char *cn)
{
  stw_cert_template_t t = {
    .common_name = cn, .organization = "Steward Test Manufacturer",
    .not_before = T0 - DAY, .not_after = T0 + 365 * DAY, .is_ca = true,
  };
  return t;
}

static stw_cert_template_t dev_template(void)
{
  stw_cert_template_t t = {
    .common_name = "device-1", .organization = "Steward Test Manufacturer",
    .unit = "sensor-x", .serial_number = "00112233445566778899aabbccddeeff",
    .san_uri = "urn:steward:dev:00112233445566778899aabbccddeeff",
    .not_before = T0 - DAY, .not_after = T0 + 30 * DAY, .client_auth = true,
  };
  return t;
}

static int fixture_setup(void **state)
{
  pki_fixture_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return -1;
  f->ca_key = new_key();
  stw_cert_template_t t = ca_template("Steward Test CA");
  if (stw_cert_self_signed(f->ca_key, &t, &f->ca) != STW_OK)
    return -1;
  f->dev_key = new_key();
  key_spki(f->dev_key, f->dev_spki, &f->dev_spki_len);
  *state = f;
  return 0;
}

static int fixture_teardown(void **state)
{
  pki_fixture_t *f = *state;
  stw_key_free(f->ca_key);
  stw_key_free(f->dev_key);
  stw_buf_free(&f->ca, false);
  free(f);
  return 0;
}

static void test_cert_issue_parse_verify(void **state)
{
  pki_fixture_t *f = *state;
  stw_cert_template_t t = dev_template();
  stw_buf_t crt = {0};
  char serial_hex[2 * STW_SERIAL_MAX + 1];
  assert_int_equal(stw_cert_issue(f->ca_key, f->ca.data, f->ca.len, f->dev_spki, f->dev_spki_len,
                                  &t, &crt, serial_hex), STW_OK);
  stw_cert_info_t info;
  assert_int_equal(stw_cert_parse(crt.data, crt.len, &info), STW_OK);
  assert_string_equal(info.common_name, "device-1");
  assert_string_equal(info.organization, "Steward Test Manufacturer");
  assert_string_equal(info.unit, "sensor-x");
  assert_string_equal(info.serial_number, "00112233445566778899aabbccddeeff");
  assert_string_equal(info.san_uri, "urn:steward:dev:00112233445566778899aabbccddeeff");
  assert_string_equal(info.serial_hex, serial_hex);
  assert_int_equal(strlen(serial_hex), 32);
  assert_true(serial_hex[0] >= '4' && serial_hex[0] <= '7');  /* positive, 16 bytes */
  assert_int_equal(info.not_before, T0 - DAY);
  assert_int_equal(info.not_after, T0 + 30 * DAY);
  assert_false(info.is_ca);
  assert_int_equal(info.spki_len, f->dev_spki_len);
  assert_memory_equal(info.spki, f->dev_spki, f->dev_spki_len);
  uint8_t id[STW_DEVICE_ID_LEN];
  assert_int_equal(stw_device_id_from_spki(f->dev_spki, f->dev_spki_len, id), STW_OK);
  assert_memory_equal(info.device_id, id, sizeof(id));

  stw_cert_info_t ca_info;
  assert_int_equal(stw_cert_parse(f->ca.data, f->ca.len, &ca_info), STW_OK);
  assert_true(ca_info.is_ca);
  assert_string_equal(ca_info.common_name, "Steward Test CA");

  /* Good chain, and the CA vouches for itself. */
  assert_int_equal(stw_cert_verify_issued_by(crt.data, crt.len, f->ca.data, f->ca.len, T0), STW_OK);
  assert_int_equal(stw_cert_verify_issued_by(f->ca.data, f->ca.len, f->ca.data, f->ca.len, T0), STW_OK);
  /* Expired and not yet valid. */
  assert_int_equal(stw_cert_verify_issued_by(crt.data, crt.len, f->ca.data, f->ca.len, T0 + 31 * DAY),
                   STW_ERR_EXPIRED);
  assert_int_equal(stw_cert_verify_issued_by(crt.data, crt.len, f->ca.data, f->ca.len, T0 - 2 * DAY),
                   STW_ERR_EXPIRED);
  /* The CA's own expiry counts too. */
  assert_int_equal(stw_cert_verify_issued_by(crt.data, crt.len, f->ca.data, f->ca.len, T0 + 400 * DAY),
                   STW_ERR_EXPIRED);

  /* Wrong CA: another name, and the same name with another key. */
  stw_key_t *other = new_key();
  stw_cert_template_t ot = ca_template("Other CA");
  stw_buf_t other_ca = {0};
  assert_int_equal(stw_cert_self_signed(other, &ot, &other_ca), STW_OK);
  assert_int_equal(stw_cert_verify_issued_by(crt.data, crt.len, other_ca.data, other_ca.len, T0),
                   STW_ERR_UNTRUSTED);
  stw_buf_free(&other_ca, false);
  ot = ca_template("Steward Test CA");
  assert_int_equal(stw_cert_self_signed(other, &ot, &other_ca), STW_OK);
  assert_int_equal(stw_cert_verify_issued_by(crt.data, crt.len, other_ca.data, other_ca.len, T0),
                   STW_ERR_UNTRUSTED);
  stw_buf_free(&other_ca, false);

  /* An issuer that is not a CA. */
  ot = ca_template("Not A CA");
  ot.is_ca = false;
  assert_int_equal(stw_cert_self_signed(other, &ot, &other_ca), STW_OK);
  stw_cert_info_t nca;
  assert_int_equal(stw_cert_parse(other_ca.data, other_ca.len, &nca), STW_OK);
  assert_false(nca.is_ca);
  stw_buf_t crt2 = {0};
  assert_int_equal(stw_cert_issue(other, other_ca.data, other_ca.len, f->dev_spki, f->dev_spki_len,
                                  &t, &crt2, NULL), STW_OK);
  assert_int_equal(stw_cert_verify_issued_by(crt2.data, crt2.len, other_ca.data, other_ca.len, T0),
                   STW_ERR_UNTRUSTED);
  /* The CA key must match the CA certificate. */
  stw_buf_t crt3 = {0};
  assert_int_equal(stw_cert_issue(other, f->ca.data, f->ca.len, f->dev_spki, f->dev_spki_len,
                                  &t, &crt3, NULL), STW_ERR_INVALID);
  stw_buf_free(&crt3, false);
  stw_buf_free(&crt2, false);
  stw_buf_free(&other_ca, false);
  stw_key_free(other);

  /* A flipped byte in the signature. */
  crt.data[crt.len - 5] ^= 0x01;
  assert_int_not_equal(stw_cert_verify_issued_by(crt.data, crt.len, f->ca.data, f->ca.len, T0), STW_OK);
  stw_buf_free(&crt, false);
}

/* The preparsed CA gives the same answers as the one-shot functions. */
static void test_ca_preparsed(void **state)
{
  pki_fixture_t *f = *state;
  stw_ca_t *ca = NULL, *verify_only = NULL;
  assert_int_equal(stw_ca_new(f->ca.data, f->ca.len, f->ca_key, &ca), STW_OK);
  assert_int_equal(stw_ca_new(f->ca.data, f->ca.len, NULL, &verify_only), STW_OK);
  assert_true(stw_ca_info(ca)->is_ca);
  assert_string_equal(stw_ca_info(ca)->common_name, "Steward Test CA");

  stw_cert_template_t t = dev_template();
  stw_buf_t crt = {0}, crt2 = {0};
  char serial_hex[2 * STW_SERIAL_MAX + 1];
  assert_int_equal(stw_ca_issue(ca, f->dev_spki, f->dev_spki_len, &t, &crt, serial_hex), STW_OK);
  assert_int_equal(stw_ca_issue(verify_only, f->dev_spki, f->dev_spki_len, &t, &crt2, NULL), STW_ERR_INVALID);
  stw_cert_t *cert = NULL;
  assert_int_equal(stw_cert_load(crt.data, crt.len, &cert), STW_OK);
  assert_string_equal(stw_cert_info(cert)->serial_hex, serial_hex);
  assert_string_equal(stw_cert_info(cert)->common_name, "device-1");
  assert_int_equal(stw_cert_info(cert)->spki_len, f->dev_spki_len);
  assert_memory_equal(stw_cert_info(cert)->spki, f->dev_spki, f->dev_spki_len);
  /* the one-shot verifier agrees with what the preparsed CA issued */
  assert_int_equal(stw_cert_verify_issued_by(crt.data, crt.len, f->ca.data, f->ca.len, T0), STW_OK);
  const int64_t times[] = { T0, T0 + 31 * DAY, T0 - 2 * DAY, T0 + 400 * DAY };
  for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
    stw_status_t want = stw_cert_verify_issued_by(crt.data, crt.len, f->ca.data, f->ca.len, times[i]);
    assert_int_equal(stw_ca_verify_issued(verify_only, crt.data, crt.len, times[i]), want);
    assert_int_equal(stw_ca_verify_cert(verify_only, cert, times[i]), want);
  }

  /* another CA with the same name but another key does not verify it */
  stw_key_t *other = new_key();
  stw_cert_template_t ot = ca_template("Steward Test CA");
  stw_buf_t other_ca = {0};
  assert_int_equal(stw_cert_self_signed(other, &ot, &other_ca), STW_OK);
  stw_ca_t *impostor = NULL;
  assert_int_equal(stw_ca_new(other_ca.data, other_ca.len, f->ca_key, &impostor), STW_ERR_INVALID); /* wrong key */
  assert_int_equal(stw_ca_new(other_ca.data, other_ca.len, other, &impostor), STW_OK);
  assert_int_equal(stw_ca_verify_cert(impostor, cert, T0), STW_ERR_UNTRUSTED);
  stw_ca_free(impostor);
  stw_buf_free(&other_ca, false);
  /* a certificate that is not a CA cannot become one */
  ot = ca_template("Not A CA");
  ot.is_ca = false;
  assert_int_equal(stw_cert_self_signed(other, &ot, &other_ca), STW_OK);
  assert_int_equal(stw_ca_new(other_ca.data, other_ca.len, NULL, &impostor), STW_ERR_UNTRUSTED);
  assert_null(impostor);
  stw_buf_free(&other_ca, false);
  stw_key_free(other);

  /* a flipped signature byte */
  crt.data[crt.len - 5] ^= 0x01;
  assert_int_not_equal(stw_ca_verify_issued(verify_only, crt.data, crt.len, T0), STW_OK);
  assert_int_equal(stw_ca_verify_issued(verify_only, crt.data, 0, T0), STW_ERR_MALFORMED);
  stw_cert_t *none = NULL;
  assert_int_equal(stw_cert_load(crt.data, 3, &none), STW_ERR_MALFORMED);
  assert_null(none);
  stw_cert_free(cert);
  stw_buf_free(&crt, false);
  stw_buf_free(&crt2, false);
  stw_ca_free(ca);
  stw_ca_free(verify_only);
}

static void test_cert_bad_input(void **state)
{
  pki_fixture_t *f = *state;
  stw_cert_info_t info;
  assert_int_equal(stw_cert_parse(f->ca.data, 0, &info), STW_ERR_MALFORMED);
  assert_int_equal(stw_cert_parse(f->ca.data, STW_CERT_MAX + 1, &info), STW_ERR_TOO_LARGE);
  for (size_t n = 1; n < f->ca.len; n += 7)
    assert_int_not_equal(stw_cert_parse(f->ca.data, n, &info), STW_OK);
  stw_cert_template_t t = dev_template();
  t.not_after = t.not_before;
  stw_buf_t crt = {0};
  assert_int_equal(stw_cert_issue(f->ca_key, f->ca.data, f->ca.len, f->dev_spki, f->dev_spki_len,
                                  &t, &crt, NULL), STW_ERR_INVALID);
  t = dev_template();
  char long_cn[STW_NAME_MAX + 8];
  memset(long_cn, 'a', sizeof(long_cn) - 1);
  long_cn[sizeof(long_cn) - 1] = '\0';
  t.common_name = long_cn;
  assert_int_equal(stw_cert_issue(f->ca_key, f->ca.data, f->ca.len, f->dev_spki, f->dev_spki_len,
                                  &t, &crt, NULL), STW_ERR_INVALID);
  stw_buf_free(&crt, false);
}

static void test_pem_der_round_trip(void **state)
{
  pki_fixture_t *f = *state;
  stw_buf_t pem = {0}, der = {0};
  assert_int_equal(stw_der_to_pem("CERTIFICATE", f->ca.data, f->ca.len, &pem), STW_OK);
  assert_non_null(find(pem.data, pem.len, "-----BEGIN CERTIFICATE-----"));
  assert_int_equal(stw_pem_to_der("CERTIFICATE", pem.data, pem.len, &der), STW_OK);
  assert_int_equal(der.len, f->ca.len);
  assert_memory_equal(der.data, f->ca.data, der.len);
  /* The label must match. */
  stw_buf_t der2 = {0};
  assert_int_not_equal(stw_pem_to_der("CERTIFICATE REQUEST", pem.data, pem.len, &der2), STW_OK);
  stw_buf_free(&der2, false);
  stw_buf_free(&pem, false);
  stw_buf_free(&der, false);
}

typedef struct {
  const uint8_t *const *want;
  const size_t *lens;
  size_t n;
} cert_list_t;

/* Checks each certificate against the expected list, in any order. */
static stw_status_t expect_cert(const uint8_t *der, size_t len, void *ctx)
{
  cert_list_t *s = ctx;
  for (size_t i = 0; i < 2; i++)
    if (s->lens[i] == len && memcmp(s->want[i], der, len) == 0) {
      s->n++;
      return STW_OK;
    }
  return STW_ERR_MALFORMED;
}

static void test_pkcs7_round_trip(void **state)
{
  pki_fixture_t *f = *state;
  stw_cert_template_t t = dev_template();
  stw_buf_t crt = {0}, p7 = {0};
  assert_int_equal(stw_cert_issue(f->ca_key, f->ca.data, f->ca.len, f->dev_spki, f->dev_spki_len,
                                  &t, &crt, NULL), STW_OK);
  const uint8_t *certs[2] = {crt.data, f->ca.data};
  size_t lens[2] = {crt.len, f->ca.len};
  assert_int_equal(stw_pkcs7_certs_encode(certs, lens, 2, &p7), STW_OK);
  cert_list_t s = {certs, lens, 0};
  assert_int_equal(stw_pkcs7_certs_decode(p7.data, p7.len, NULL, &s), STW_ERR_INVALID);
  stw_status_t st;
  assert_int_equal(stw_pkcs7_certs_decode(p7.data, p7.len, expect_cert, &s), STW_OK);
  assert_int_equal(s.n, 2);
  /* Truncations never crash and never succeed with a full chain. */
  for (size_t n = 0; n < p7.len; n++) {
    s.n = 0;
    st = stw_pkcs7_certs_decode(p7.data, n, expect_cert, &s);
    assert_true(st != STW_OK || s.n < 2);
  }
  stw_buf_free(&crt, false);
  stw_buf_free(&p7, false);
}

/* ---- CSRs ---- */

static void test_csr_round_trip(void **state)
{
  pki_fixture_t *f = *state;
  stw_buf_t csr = {0};
  assert_int_equal(stw_csr_create(f->dev_key, "device-1", &csr), STW_OK);
  stw_csr_info_t info;
  assert_int_equal(stw_csr_parse_verify(csr.data, csr.len, &info), STW_OK);
  assert_string_equal(info.common_name, "device-1");
  assert_int_equal(info.spki_len, f->dev_spki_len);
  assert_memory_equal(info.spki, f->dev_spki, f->dev_spki_len);

  /* PEM round trip with the CSR label. */
  stw_buf_t pem = {0}, der = {0};
  assert_int_equal(stw_der_to_pem("CERTIFICATE REQUEST", csr.data, csr.len, &pem), STW_OK);
  assert_int_equal(stw_pem_to_der("CERTIFICATE REQUEST", pem.data, pem.len, &der), STW_OK);
  assert_int_equal(der.len, csr.len);
  assert_memory_equal(der.data, csr.data, csr.len);
  stw_buf_free(&pem, false);
  stw_buf_free(&der, false);

  /* A flipped byte in the signature (last bytes of the DER). */
  csr.data[csr.len - 3] ^= 0x01;
  assert_int_not_equal(stw_csr_parse_verify(csr.data, csr.len, &info), STW_OK);
  csr.data[csr.len - 3] ^= 0x01;
  /* A flipped byte in the body: inside the CN value, so the DER still parses. */
  uint8_t *cn = find(csr.data, csr.len, "device-1");
  assert_non_null(cn);
  cn[7] = '2';
  assert_int_equal(stw_csr_parse_verify(csr.data, csr.len, &info), STW_ERR_BAD_SIGNATURE);
  cn[7] = '1';
  /* Every truncation is an error. */
  for (size_t n = 0; n < csr.len; n++)
    assert_int_not_equal(stw_csr_parse_verify(csr.data, n, &info), STW_OK);
  assert_int_equal(stw_csr_parse_verify(csr.data, STW_CSR_MAX + 1, &info), STW_ERR_TOO_LARGE);
  stw_buf_free(&csr, false);
}

static void test_csr_rsa_unsupported(void **state)
{
  (void)state;
  gnutls_x509_privkey_t rsa;
  gnutls_privkey_t priv;
  gnutls_x509_crq_t crq;
  assert_int_equal(gnutls_x509_privkey_init(&rsa), 0);
  assert_int_equal(gnutls_x509_privkey_generate(rsa, GNUTLS_PK_RSA, 2048, 0), 0);
  assert_int_equal(gnutls_privkey_init(&priv), 0);
  assert_int_equal(gnutls_privkey_import_x509(priv, rsa, 0), 0);
  assert_int_equal(gnutls_x509_crq_init(&crq), 0);
  assert_int_equal(gnutls_x509_crq_set_version(crq, 1), 0);
  assert_int_equal(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, "rsa", 3), 0);
  assert_int_equal(gnutls_x509_crq_set_key(crq, rsa), 0);
  assert_int_equal(gnutls_x509_crq_privkey_sign(crq, priv, GNUTLS_DIG_SHA256, 0), 0);
  gnutls_datum_t d;
  assert_int_equal(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &d), 0);
  stw_csr_info_t info;
  assert_int_equal(stw_csr_parse_verify(d.data, d.size, &info), STW_ERR_UNSUPPORTED);
  gnutls_free(d.data);
  gnutls_x509_crq_deinit(crq);
  gnutls_privkey_deinit(priv);
  gnutls_x509_privkey_deinit(rsa);
}

/* ---- seal ---- */

static void test_seal_round_trip(void **state)
{
  (void)state;
  stw_key_t *owner = new_key(), *other = new_key();
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  key_spki(owner, spki, &spki_len);
  uint8_t psk[32];
  assert_int_equal(stw_random(psk, sizeof(psk)), STW_OK);
  static const uint8_t info[] = "steward voucher psk";
  stw_buf_t sealed = {0};
  assert_int_equal(stw_seal(spki, spki_len, info, sizeof(info) - 1, psk, sizeof(psk), &sealed), STW_OK);
  assert_true(sealed.len <= 256);
  uint8_t out[64];
  size_t out_len = sizeof(out);
  assert_int_equal(stw_unseal(owner, info, sizeof(info) - 1, sealed.data, sealed.len, out, &out_len), STW_OK);
  assert_int_equal(out_len, sizeof(psk));
  assert_memory_equal(out, psk, sizeof(psk));
  /* Two seals of the same secret differ (fresh ephemeral key and nonce). */
  stw_buf_t sealed2 = {0};
  assert_int_equal(stw_seal(spki, spki_len, info, sizeof(info) - 1, psk, sizeof(psk), &sealed2), STW_OK);
  assert_false(sealed.len == sealed2.len && memcmp(sealed.data, sealed2.data, sealed.len) == 0);
  stw_buf_free(&sealed2, false);
  /* Wrong key, wrong info. */
  out_len = sizeof(out);
  assert_int_not_equal(stw_unseal(other, info, sizeof(info) - 1, sealed.data, sealed.len, out, &out_len), STW_OK);
  out_len = sizeof(out);
  assert_int_not_equal(stw_unseal(owner, info, sizeof(info) - 2, sealed.data, sealed.len, out, &out_len), STW_OK);
  /* Every single flipped byte and every truncation fails. */
  for (size_t i = 0; i < sealed.len; i++) {
    sealed.data[i] ^= 0x04;
    out_len = sizeof(out);
    assert_int_not_equal(stw_unseal(owner, info, sizeof(info) - 1, sealed.data, sealed.len, out, &out_len), STW_OK);
    sealed.data[i] ^= 0x04;
  }
  for (size_t n = 0; n < sealed.len; n++) {
    out_len = sizeof(out);
    assert_int_not_equal(stw_unseal(owner, info, sizeof(info) - 1, sealed.data, n, out, &out_len), STW_OK);
  }
  /* Output buffer too small. */
  out_len = 8;
  assert_int_not_equal(stw_unseal(owner, info, sizeof(info) - 1, sealed.data, sealed.len, out, &out_len), STW_OK);
  /* Too long a secret. */
  uint8_t big[65] = {0};
  stw_buf_t s3 = {0};
  assert_int_equal(stw_seal(spki, spki_len, info, 1, big, sizeof(big), &s3), STW_ERR_INVALID);
  stw_buf_free(&s3, false);
  stw_buf_free(&sealed, false);
  stw_key_free(owner);
  stw_key_free(other);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sign_verify_round_trip),
    cmocka_unit_test(test_key_pem_round_trip),
    cmocka_unit_test(test_device_id),
    cmocka_unit_test(test_spki_xy),
    cmocka_unit_test(test_wycheproof_ecdsa_p256),
    cmocka_unit_test_setup_teardown(test_cert_issue_parse_verify, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_cert_bad_input, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_pem_der_round_trip, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_pkcs7_round_trip, fixture_setup, fixture_teardown),
    cmocka_unit_test_setup_teardown(test_csr_round_trip, fixture_setup, fixture_teardown),
    cmocka_unit_test(test_csr_rsa_unsupported),
    cmocka_unit_test(test_seal_round_trip),
    cmocka_unit_test_setup_teardown(test_ca_preparsed, fixture_setup, fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
