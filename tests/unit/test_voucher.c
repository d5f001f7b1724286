/* lib/voucher.c: ownership vouchers signed by the manufacturer. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "voucher.h"

#define T0 1700000000
#define DAY 86400

typedef struct {
  stw_key_t *mfg, *owner, *device;
  uint8_t mfg_spki[STW_SPKI_MAX];
  size_t mfg_spki_len;
  stw_voucher_t v;
} fx_t;

static int setup(void **state)
{
  fx_t *f = calloc(1, sizeof(*f));
  if (f == NULL || stw_key_generate(&f->mfg) != STW_OK || stw_key_generate(&f->owner) != STW_OK ||
      stw_key_generate(&f->device) != STW_OK)
    return -1;
  f->mfg_spki_len = sizeof(f->mfg_spki);
  if (stw_key_spki(f->mfg, f->mfg_spki, &f->mfg_spki_len) != STW_OK)
    return -1;
  uint8_t dev_spki[STW_SPKI_MAX];
  size_t dev_len = sizeof(dev_spki);
  f->v.owner_spki_len = sizeof(f->v.owner_spki);
  if (stw_key_spki(f->device, dev_spki, &dev_len) != STW_OK ||
      stw_device_id_from_spki(dev_spki, dev_len, f->v.device_id) != STW_OK ||
      stw_key_spki(f->owner, f->v.owner_spki, &f->v.owner_spki_len) != STW_OK ||
      stw_random(f->v.serial, sizeof(f->v.serial)) != STW_OK)
    return -1;
  f->v.created_on = T0;
  f->v.expires_on = T0 + DAY;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx_t *f = *state;
  stw_key_free(f->mfg);
  stw_key_free(f->owner);
  stw_key_free(f->device);
  free(f);
  return 0;
}

static void assert_same(const stw_voucher_t *a, const stw_voucher_t *b)
{
  assert_memory_equal(a->device_id, b->device_id, STW_DEVICE_ID_LEN);
  assert_int_equal(a->owner_spki_len, b->owner_spki_len);
  assert_memory_equal(a->owner_spki, b->owner_spki, a->owner_spki_len);
  assert_int_equal(a->created_on, b->created_on);
  assert_int_equal(a->expires_on, b->expires_on);
  assert_memory_equal(a->serial, b->serial, sizeof(a->serial));
  assert_string_equal(a->psk_identity, b->psk_identity);
  assert_int_equal(a->sealed_psk_len, b->sealed_psk_len);
  if (a->sealed_psk_len > 0)
    assert_memory_equal(a->sealed_psk, b->sealed_psk, a->sealed_psk_len);
}

static void test_sign_verify_parse(void **state)
{
  fx_t *f = *state;
  stw_buf_t m = {0};
  assert_int_equal(stw_voucher_sign(&f->v, f->mfg, &m), STW_OK);
  stw_voucher_t got;
  assert_int_equal(stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, T0, &got), STW_OK);
  assert_same(&f->v, &got);
  assert_int_equal(stw_voucher_parse(m.data, m.len, &got), STW_OK);
  assert_same(&f->v, &got);
  /* The kid is SHA-256(manufacturer SPKI)[0..16). */
  stw_cose_sign1_t s;
  uint8_t d[32];
  assert_int_equal(stw_cose_sign1_parse(m.data, m.len, &s), STW_OK);
  assert_int_equal(stw_sha256(f->mfg_spki, f->mfg_spki_len, d), STW_OK);
  assert_int_equal(s.kid_len, 16);
  assert_memory_equal(s.kid, d, 16);
  /* Expired; the last valid second; never-expiring. */
  assert_int_equal(stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, T0 + DAY, &got), STW_OK);
  assert_int_equal(stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, T0 + DAY + 1, &got),
                   STW_ERR_EXPIRED);
  stw_buf_free(&m, false);
  f->v.expires_on = 0;
  assert_int_equal(stw_voucher_sign(&f->v, f->mfg, &m), STW_OK);
  assert_int_equal(stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, INT64_MAX, &got), STW_OK);
  /* Every flipped byte, every truncation: never accepted. */
  for (size_t i = 0; i < m.len; i++) {
    m.data[i] ^= 0x01;
    if (stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, T0, &got) == STW_OK)
      fail_msg("flipped byte %zu of %zu (0x%02x) accepted", i, m.len, m.data[i]);
    m.data[i] ^= 0x01;
  }
  for (size_t n = 0; n < m.len; n++)
    assert_int_not_equal(stw_voucher_verify(m.data, n, f->mfg_spki, f->mfg_spki_len, T0, &got), STW_OK);
  stw_buf_free(&m, false);
}

static void test_forged(void **state)
{
  fx_t *f = *state;
  stw_key_t *other = NULL;
  assert_int_equal(stw_key_generate(&other), STW_OK);
  stw_buf_t m = {0};
  assert_int_equal(stw_voucher_sign(&f->v, other, &m), STW_OK);
  stw_voucher_t got;
  assert_int_equal(stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, T0, &got),
                   STW_ERR_BAD_SIGNATURE);
  /* Parsing alone does not check the signer: that is what verify is for. */
  assert_int_equal(stw_voucher_parse(m.data, m.len, &got), STW_OK);
  stw_buf_free(&m, false);
  stw_key_free(other);
}

/* Sign a hand-made payload with the manufacturer key and verify it. */
static stw_status_t verify_payload(fx_t *f, const uint8_t *payload, size_t len)
{
  uint8_t spki[STW_SPKI_MAX], d[32];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_spki(f->mfg, spki, &spki_len), STW_OK);
  assert_int_equal(stw_sha256(spki, spki_len, d), STW_OK);
  stw_buf_t m = {0};
  assert_int_equal(stw_cose_sign1_create(f->mfg, d, 16, payload, len, NULL, 0, &m), STW_OK);
  stw_voucher_t got;
  stw_status_t st = stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, T0, &got);
  stw_buf_free(&m, false);
  return st;
}

/* Appends a CBOR head (major type, argument < 65536). */
static size_t head(uint8_t *p, unsigned major, size_t arg)
{
  if (arg < 24) {
    p[0] = (uint8_t)(major << 5 | arg);
    return 1;
  }
  if (arg < 256) {
    p[0] = (uint8_t)(major << 5 | 24);
    p[1] = (uint8_t)arg;
    return 2;
  }
  p[0] = (uint8_t)(major << 5 | 25);
  p[1] = (uint8_t)(arg >> 8);
  p[2] = (uint8_t)arg;
  return 3;
}

/* A payload with the usual fields, minus `skip`, with device id of id_len
 * bytes, plus (extra_key -> 0) if extra_key > 0. */
static size_t build_payload(fx_t *f, uint8_t *p, int skip, size_t id_len, int extra_key)
{
  size_t n = 0;
  int count = 5 - (skip ? 1 : 0) + (extra_key ? 1 : 0);
  n += head(p + n, 5, (size_t)count);
  static const uint8_t zeros[32];
  if (skip != 1) {
    n += head(p + n, 0, 1);
    n += head(p + n, 2, id_len);
    memcpy(p + n, zeros, id_len);
    n += id_len;
  }
  if (skip != 2) {
    n += head(p + n, 0, 2);
    n += head(p + n, 2, f->v.owner_spki_len);
    memcpy(p + n, f->v.owner_spki, f->v.owner_spki_len);
    n += f->v.owner_spki_len;
  }
  if (skip != 3) {
    n += head(p + n, 0, 3);
    p[n++] = 0x1a;  /* uint32 */
    p[n++] = (uint8_t)(T0 >> 24);
    p[n++] = (uint8_t)(T0 >> 16);
    p[n++] = (uint8_t)(T0 >> 8);
    p[n++] = (uint8_t)T0;
  }
  if (skip != 4) {
    n += head(p + n, 0, 4);
    n += head(p + n, 0, 0);
  }
  if (skip != 5) {
    n += head(p + n, 0, 5);
    n += head(p + n, 2, 16);
    memcpy(p + n, zeros, 16);
    n += 16;
  }
  if (extra_key) {
    n += head(p + n, 0, (size_t)extra_key);
    n += head(p + n, 0, 0);
  }
  return n;
}

static void test_strict_parsing(void **state)
{
  fx_t *f = *state;
  uint8_t p[512];
  size_t n = build_payload(f, p, 0, 16, 0);
  assert_int_equal(verify_payload(f, p, n), STW_OK);
  /* Each required field missing. */
  for (int skip = 1; skip <= 5; skip++) {
    n = build_payload(f, p, skip, 16, 0);
    assert_int_equal(verify_payload(f, p, n), STW_ERR_MALFORMED);
  }
  /* Device id of the wrong size. */
  n = build_payload(f, p, 0, 15, 0);
  assert_int_equal(verify_payload(f, p, n), STW_ERR_MALFORMED);
  n = build_payload(f, p, 0, 17, 0);
  assert_int_equal(verify_payload(f, p, n), STW_ERR_MALFORMED);
  /* Unknown key 8; duplicate key 4; key 6 without key 7. */
  n = build_payload(f, p, 0, 16, 8);
  assert_int_equal(verify_payload(f, p, n), STW_ERR_MALFORMED);
  n = build_payload(f, p, 0, 16, 4);
  assert_int_equal(verify_payload(f, p, n), STW_ERR_MALFORMED);
  /* Trailing bytes after the map. */
  n = build_payload(f, p, 0, 16, 0);
  p[n++] = 0x00;
  assert_int_equal(verify_payload(f, p, n), STW_ERR_MALFORMED);
  /* Not a map at all. */
  static const uint8_t arr[] = {0x80};
  assert_int_equal(verify_payload(f, arr, sizeof(arr)), STW_ERR_MALFORMED);
  /* An owner key that is not a P-256 SPKI. */
  stw_voucher_t bad = f->v;
  bad.owner_spki_len = 10;
  stw_buf_t m = {0};
  assert_int_equal(stw_voucher_sign(&bad, f->mfg, &m), STW_ERR_INVALID);
  stw_buf_free(&m, false);
  /* Oversize input. */
  stw_voucher_t got;
  uint8_t *big = calloc(1, STW_VOUCHER_MAX + 1);
  assert_non_null(big);
  assert_int_equal(stw_voucher_parse(big, STW_VOUCHER_MAX + 1, &got), STW_ERR_TOO_LARGE);
  free(big);
}

static void test_psk_variant(void **state)
{
  fx_t *f = *state;
  uint8_t psk[STW_PSK_LEN];
  assert_int_equal(stw_random(psk, sizeof(psk)), STW_OK);
  static const char info[] = "steward voucher psk";
  stw_buf_t sealed = {0};
  assert_int_equal(stw_seal(f->v.owner_spki, f->v.owner_spki_len, (const uint8_t *)info, sizeof(info) - 1,
                            psk, sizeof(psk), &sealed), STW_OK);
  assert_true(sealed.len <= sizeof(f->v.sealed_psk));
  memcpy(f->v.sealed_psk, sealed.data, sealed.len);
  f->v.sealed_psk_len = sealed.len;
  memcpy(f->v.psk_identity, "dev-0042", 9);
  stw_buf_t m = {0};
  assert_int_equal(stw_voucher_sign(&f->v, f->mfg, &m), STW_OK);
  stw_voucher_t got;
  assert_int_equal(stw_voucher_verify(m.data, m.len, f->mfg_spki, f->mfg_spki_len, T0, &got), STW_OK);
  assert_same(&f->v, &got);
  uint8_t out[64];
  size_t out_len = sizeof(out);
  assert_int_equal(stw_unseal(f->owner, (const uint8_t *)info, sizeof(info) - 1, got.sealed_psk,
                              got.sealed_psk_len, out, &out_len), STW_OK);
  assert_int_equal(out_len, sizeof(psk));
  assert_memory_equal(out, psk, sizeof(psk));
  /* The manufacturer (or anyone but the owner) cannot open it. */
  out_len = sizeof(out);
  assert_int_not_equal(stw_unseal(f->mfg, (const uint8_t *)info, sizeof(info) - 1, got.sealed_psk,
                                  got.sealed_psk_len, out, &out_len), STW_OK);
  /* Identity without sealed key is refused at signing. */
  f->v.sealed_psk_len = 0;
  stw_buf_t m2 = {0};
  assert_int_equal(stw_voucher_sign(&f->v, f->mfg, &m2), STW_ERR_INVALID);
  stw_buf_free(&m2, false);
  stw_buf_free(&m, false);
  stw_buf_free(&sealed, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_sign_verify_parse, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forged, setup, teardown),
    cmocka_unit_test_setup_teardown(test_strict_parsing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_variant, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
