/* lib/evidence.c: EAT-style attestation evidence signed by the device, and
 * the EAR-style appraisal result. Each refusal has its own test, checking
 * the status and that nothing was handed back. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "cose.h"
#include "evidence.h"

#define DEVICE_HEX "00112233445566778899aabbccddeeff"

typedef struct {
  stw_key_t *device, *other;
  uint8_t spki[STW_SPKI_MAX], other_spki[STW_SPKI_MAX];
  size_t spki_len, other_spki_len;
  stw_evidence_t e;
  stw_buf_t msg;
} fx_t;

static const stw_evidence_t zero;

static int setup(void **state)
{
  fx_t *f = calloc(1, sizeof(*f));
  if (f == NULL || stw_key_generate(&f->device) != STW_OK || stw_key_generate(&f->other) != STW_OK)
    return -1;
  f->spki_len = sizeof(f->spki);
  f->other_spki_len = sizeof(f->other_spki);
  if (stw_key_spki(f->device, f->spki, &f->spki_len) != STW_OK ||
      stw_key_spki(f->other, f->other_spki, &f->other_spki_len) != STW_OK)
    return -1;
  stw_evidence_t *e = &f->e;
  for (size_t i = 0; i < 16; i++)
    e->nonce[i] = (uint8_t)(0x10 + i);
  e->nonce_len = 16;
  if (stw_evidence_set_ueid(e, DEVICE_HEX) != STW_OK)
    return -1;
  e->iat = 1700000000;
  e->boot_count = 42;
  e->fw_sequence = 7;
  snprintf(e->meas[0].name, sizeof(e->meas[0].name), "%s", "image");
  memset(e->meas[0].digest, 0xaa, 32);
  snprintf(e->meas[1].name, sizeof(e->meas[1].name), "%s", "config");
  memset(e->meas[1].digest, 0xcc, 32);
  e->n_meas = 2;
  if (stw_evidence_sign(e, f->device, &f->msg) != STW_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx_t *f = *state;
  stw_buf_free(&f->msg, false);
  stw_key_free(f->device);
  stw_key_free(f->other);
  free(f);
  return 0;
}

static void assert_same(const stw_evidence_t *a, const stw_evidence_t *b)
{
  assert_int_equal(a->nonce_len, b->nonce_len);
  assert_memory_equal(a->nonce, b->nonce, a->nonce_len);
  assert_int_equal(a->ueid_len, b->ueid_len);
  assert_memory_equal(a->ueid, b->ueid, a->ueid_len);
  assert_int_equal(a->iat, b->iat);
  assert_int_equal(a->boot_count, b->boot_count);
  assert_int_equal(a->fw_sequence, b->fw_sequence);
  assert_int_equal(a->n_meas, b->n_meas);
  for (size_t i = 0; i < a->n_meas; i++) {
    assert_string_equal(a->meas[i].name, b->meas[i].name);
    assert_memory_equal(a->meas[i].digest, b->meas[i].digest, 32);
  }
}

static void assert_empty(const stw_evidence_t *e)
{
  assert_memory_equal(e, &zero, sizeof(*e));
}

static void test_round_trip(void **state)
{
  fx_t *f = *state;
  stw_evidence_t got;
  assert_int_equal(stw_evidence_verify(f->msg.data, f->msg.len, f->spki, f->spki_len, &got), STW_OK);
  assert_same(&f->e, &got);
  char hex[33];
  assert_int_equal(stw_evidence_ueid_hex(&got, hex), STW_OK);
  assert_string_equal(hex, DEVICE_HEX);
  assert_int_equal(got.ueid[0], 0x01);  /* RAND type UEID */
  assert_int_equal(stw_evidence_parse(f->msg.data, f->msg.len, &got), STW_OK);
  assert_same(&f->e, &got);
  /* The claims pin the RFC 9711 keys: map(6), 6: iat, 10: nonce, ... */
  stw_buf_t enc = {0};
  assert_int_equal(stw_evidence_encode(&f->e, &enc), STW_OK);
  static const uint8_t start[] = {0xa6, 0x06, 0x1a, 0x65, 0x53, 0xf1, 0x00, 0x0a, 0x50};
  assert_memory_equal(enc.data, start, sizeof(start));
  assert_int_equal(stw_evidence_decode(enc.data, enc.len, &got), STW_OK);
  assert_same(&f->e, &got);
  stw_buf_free(&enc, false);
  /* The bounds themselves are fine: 8 and 64 nonce bytes, four measurements,
   * a 31-character name. */
  stw_evidence_t e = f->e;
  e.nonce_len = 8;
  stw_buf_t m = {0};
  assert_int_equal(stw_evidence_sign(&e, f->device, &m), STW_OK);
  assert_int_equal(stw_evidence_verify(m.data, m.len, f->spki, f->spki_len, &got), STW_OK);
  assert_same(&e, &got);
  e.nonce_len = 64;
  e.n_meas = 4;
  snprintf(e.meas[2].name, sizeof(e.meas[2].name), "%s", "0123456789012345678901234567890");
  snprintf(e.meas[3].name, sizeof(e.meas[3].name), "%s", "bootloader");
  assert_int_equal(stw_evidence_sign(&e, f->device, &m), STW_OK);
  assert_int_equal(stw_evidence_verify(m.data, m.len, f->spki, f->spki_len, &got), STW_OK);
  assert_same(&e, &got);
  stw_buf_free(&m, false);
}

/* The claims go through the COSE verifier the cose-wg examples check
 * (test_cose.c), with the documented external_aad. */
static void test_cose_layer(void **state)
{
  fx_t *f = *state;
  static const char aad[] = "steward evidence v1";
  stw_cose_sign1_t s;
  assert_int_equal(stw_cose_sign1_verify(f->msg.data, f->msg.len, f->spki, f->spki_len, (const uint8_t *)aad,
                                         strlen(aad), &s), STW_OK);
  assert_int_equal(s.kid_len, 16);
  assert_int_equal(stw_cose_sign1_verify(f->msg.data, f->msg.len, f->spki, f->spki_len, NULL, 0, &s),
                   STW_ERR_BAD_SIGNATURE);
  /* The same claims signed by the device key without the aad: not evidence. */
  stw_buf_t enc = {0}, plain = {0};
  assert_int_equal(stw_evidence_encode(&f->e, &enc), STW_OK);
  assert_int_equal(stw_cose_sign1_create(f->device, s.kid, s.kid_len, enc.data, enc.len, NULL, 0, &plain), STW_OK);
  stw_evidence_t got;
  assert_int_equal(stw_evidence_verify(plain.data, plain.len, f->spki, f->spki_len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  stw_buf_free(&enc, false);
  stw_buf_free(&plain, false);
}

static void test_signed_by_another_key(void **state)
{
  fx_t *f = *state;
  stw_evidence_t got;
  assert_int_equal(stw_evidence_verify(f->msg.data, f->msg.len, f->other_spki, f->other_spki_len, &got),
                   STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  /* Another device signs claims naming this device. */
  stw_buf_t m = {0};
  assert_int_equal(stw_evidence_sign(&f->e, f->other, &m), STW_OK);
  assert_int_equal(stw_evidence_verify(m.data, m.len, f->spki, f->spki_len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  stw_buf_free(&m, false);
}

static void test_tampered(void **state)
{
  fx_t *f = *state;
  stw_evidence_t got;
  for (size_t i = 0; i < f->msg.len; i++) {
    f->msg.data[i] ^= 0x01;
    if (stw_evidence_verify(f->msg.data, f->msg.len, f->spki, f->spki_len, &got) == STW_OK)
      fail_msg("flipped byte %zu of %zu accepted", i, f->msg.len);
    assert_empty(&got);
    f->msg.data[i] ^= 0x01;
  }
  /* The boot count rewritten in place: parses, does not verify. */
  stw_cose_sign1_t s;
  assert_int_equal(stw_cose_sign1_parse(f->msg.data, f->msg.len, &s), STW_OK);
  static const uint8_t bootcount[] = {0x19, 0x01, 0x0b, 0x18, 42};
  uint8_t *at = NULL;
  for (size_t i = 0; i + sizeof(bootcount) <= s.payload_len; i++)
    if (memcmp(s.payload + i, bootcount, sizeof(bootcount)) == 0)
      at = (uint8_t *)s.payload + i;
  assert_non_null(at);
  at[4] = 43;
  assert_int_equal(stw_evidence_parse(f->msg.data, f->msg.len, &got), STW_OK);
  assert_int_equal(got.boot_count, 43);
  assert_int_equal(stw_evidence_verify(f->msg.data, f->msg.len, f->spki, f->spki_len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
}

static void test_truncated_and_oversized(void **state)
{
  fx_t *f = *state;
  stw_evidence_t got;
  for (size_t n = 0; n < f->msg.len; n++) {
    assert_int_equal(stw_evidence_verify(f->msg.data, n, f->spki, f->spki_len, &got), STW_ERR_MALFORMED);
    assert_empty(&got);
  }
  uint8_t *big = calloc(1, STW_EVIDENCE_MAX + 1);
  assert_non_null(big);
  memcpy(big, f->msg.data, f->msg.len);
  assert_int_equal(stw_evidence_verify(big, STW_EVIDENCE_MAX + 1, f->spki, f->spki_len, &got), STW_ERR_TOO_LARGE);
  assert_empty(&got);
  assert_int_equal(stw_evidence_parse(big, STW_EVIDENCE_MAX + 1, &got), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_evidence_decode(big, STW_EVIDENCE_MAX + 1, &got), STW_ERR_TOO_LARGE);
  assert_empty(&got);
  /* A trailing byte is not ignored. */
  assert_int_equal(stw_evidence_verify(big, f->msg.len + 1, f->spki, f->spki_len, &got), STW_ERR_MALFORMED);
  free(big);
}

static void test_bad_nonce_length(void **state)
{
  fx_t *f = *state;
  stw_buf_t m = {0};
  stw_evidence_t e = f->e;
  e.nonce_len = 7;
  assert_int_equal(stw_evidence_sign(&e, f->device, &m), STW_ERR_INVALID);
  e.nonce_len = 65;
  assert_int_equal(stw_evidence_sign(&e, f->device, &m), STW_ERR_INVALID);
  e.nonce_len = 0;
  assert_int_equal(stw_evidence_sign(&e, f->device, &m), STW_ERR_INVALID);
  assert_int_equal(m.len, 0);
  stw_buf_free(&m, false);
}

/* ---- strict decoding of hand-made claims ---- */

typedef struct {
  size_t nonce_len;
  size_t ueid_len;
  size_t n_meas;
  size_t digest_len;
  const char *name2;   /* second measurement's name */
  int extra;           /* unknown key added (0: none) */
  int dup;             /* index of a claim written twice (-1: none) */
  int skip;            /* index of a claim left out (-1: none) */
  bool long_iat;       /* iat in a longer head than needed */
} variant_t;

static size_t put(uint8_t *p, stw_cbor_type_t major, uint64_t arg)
{
  return stw_cbor_put_head(major, arg, p);
}

static size_t put_claim(uint8_t *p, int index, const variant_t *v)
{
  static const uint8_t bytes[80];
  size_t n = 0;
  switch (index) {
  case 0:
    n += put(p, STW_CBOR_UINT, 6);
    if (v->long_iat) {
      static const uint8_t long_head[] = {0x1b, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00};
      memcpy(p + n, long_head, sizeof(long_head));
      return n + sizeof(long_head);
    }
    return n + put(p + n, STW_CBOR_UINT, 1700000000);
  case 1:
    n += put(p, STW_CBOR_UINT, 10);
    n += put(p + n, STW_CBOR_BSTR, v->nonce_len);
    memcpy(p + n, bytes, v->nonce_len);
    return n + v->nonce_len;
  case 2:
    n += put(p, STW_CBOR_UINT, 256);
    n += put(p + n, STW_CBOR_BSTR, v->ueid_len);
    p[n] = 0x01;
    memcpy(p + n + 1, bytes, v->ueid_len - 1);
    return n + v->ueid_len;
  case 3:
    n += put(p, STW_CBOR_UINT, 267);
    return n + put(p + n, STW_CBOR_UINT, 3);
  case 4:
    n += put(p, STW_CBOR_UINT, 273);
    n += put(p + n, STW_CBOR_ARRAY, v->n_meas);
    for (size_t i = 0; i < v->n_meas; i++) {
      const char *name = i == 1 ? v->name2 : i == 0 ? "image" : i == 2 ? "c" : i == 3 ? "d" : "e";
      n += put(p + n, STW_CBOR_ARRAY, 2);
      n += put(p + n, STW_CBOR_TSTR, strlen(name));
      memcpy(p + n, name, strlen(name));
      n += strlen(name);
      n += put(p + n, STW_CBOR_BSTR, v->digest_len);
      memcpy(p + n, bytes, v->digest_len);
      n += v->digest_len;
    }
    return n;
  case 5:
    n += put(p, STW_CBOR_NEGINT, 65536);  /* -65537 */
    return n + put(p + n, STW_CBOR_UINT, 7);
  default:
    n += put(p, STW_CBOR_UINT, (uint64_t)v->extra);
    return n + put(p + n, STW_CBOR_UINT, 0);
  }
}

static size_t build(uint8_t *p, const variant_t *v)
{
  size_t count = 6 - (v->skip >= 0) + (v->dup >= 0) + (v->extra != 0);
  size_t n = put(p, STW_CBOR_MAP, count);
  for (int i = 0; i < 6; i++) {
    if (i == v->skip)
      continue;
    n += put_claim(p + n, i, v);
    if (i == v->dup)
      n += put_claim(p + n, i, v);
  }
  if (v->extra)
    n += put_claim(p + n, 6, v);
  return n;
}

static variant_t good(void)
{
  variant_t v = {.nonce_len = 16, .ueid_len = 17, .n_meas = 2, .digest_len = 32, .name2 = "config",
                 .dup = -1, .skip = -1};
  return v;
}

static stw_status_t decode_variant(const variant_t *v)
{
  uint8_t p[1024];
  size_t n = build(p, v);
  stw_evidence_t got;
  memset(&got, 0x55, sizeof(got));
  stw_status_t st = stw_evidence_decode(p, n, &got);
  if (st != STW_OK)
    assert_empty(&got);
  return st;
}

static void test_strict_decoding(void **state)
{
  (void)state;
  variant_t v = good();
  assert_int_equal(decode_variant(&v), STW_OK);
  v.nonce_len = 7;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v.nonce_len = 65;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.ueid_len = 16;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.n_meas = 5;
  assert_int_equal(decode_variant(&v), STW_ERR_TOO_LARGE);
  v = good();
  v.n_meas = 0;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.digest_len = 31;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.digest_len = 33;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.name2 = "image";  /* the same measurement twice */
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.name2 = "01234567890123456789012345678901";  /* 32 characters: one over */
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.name2 = "";
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.name2 = "con\x01" "fig";
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.extra = 11;  /* an unknown claim */
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.long_iat = true;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  for (int i = 0; i < 6; i++) {
    v = good();
    v.dup = i;
    assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
    v = good();
    v.skip = i;
    assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  }
}

static void test_ueid(void **state)
{
  fx_t *f = *state;
  stw_evidence_t e = f->e;
  assert_int_equal(stw_evidence_set_ueid(&e, "0011"), STW_ERR_INVALID);
  assert_int_equal(stw_evidence_set_ueid(&e, DEVICE_HEX "00"), STW_ERR_INVALID);
  assert_int_equal(stw_evidence_set_ueid(&e, "zz112233445566778899aabbccddeeff"), STW_ERR_INVALID);
  assert_memory_equal(e.ueid, f->e.ueid, sizeof(e.ueid));  /* unchanged */
  char hex[33];
  e.ueid[0] = 0x02;  /* an IEEE EUI: not how we name devices */
  assert_int_equal(stw_evidence_ueid_hex(&e, hex), STW_ERR_MALFORMED);
}

static void test_ear(void **state)
{
  (void)state;
  stw_buf_t b = {0};
  int verdict;
  char reasons[64];
  static const int tiers[] = {2, 32, 96};
  static const char *names[] = {"affirming", "warning", "contraindicated"};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(stw_ear_encode(tiers[i], "image digest unknown", &b), STW_OK);
    assert_int_equal(stw_ear_decode(b.data, b.len, &verdict, reasons, sizeof(reasons)), STW_OK);
    assert_int_equal(verdict, tiers[i]);
    assert_string_equal(reasons, "image digest unknown");
    assert_string_equal(stw_ear_name(verdict), names[i]);
  }
  assert_string_equal(stw_ear_name(0), "none");
  assert_string_equal(stw_ear_name(3), "none");
  static const uint8_t pinned[] = {0xa2, 0x01, 0x18, 0x60, 0x02, 0x60};  /* {1: 96, 2: ""} */
  assert_int_equal(stw_ear_encode(96, NULL, &b), STW_OK);
  assert_int_equal(b.len, sizeof(pinned));
  assert_memory_equal(b.data, pinned, sizeof(pinned));
  /* Refusals: unknown tier, control bytes, no room, truncated, trailing. */
  assert_int_equal(stw_ear_encode(3, "x", &b), STW_ERR_INVALID);
  assert_int_equal(stw_ear_encode(2, "a\nb", &b), STW_ERR_INVALID);
  assert_int_equal(stw_ear_encode(2, "image digest unknown", &b), STW_OK);
  assert_int_equal(stw_ear_decode(b.data, b.len, &verdict, reasons, 5), STW_ERR_TOO_LARGE);
  assert_int_equal(verdict, 0);
  assert_string_equal(reasons, "");
  for (size_t n = 0; n < b.len; n++)
    assert_int_equal(stw_ear_decode(b.data, n, &verdict, reasons, sizeof(reasons)), STW_ERR_MALFORMED);
  static const uint8_t bad_tier[] = {0xa2, 0x01, 0x03, 0x02, 0x60};
  static const uint8_t swapped[] = {0xa2, 0x02, 0x60, 0x01, 0x02};
  static const uint8_t trailing[] = {0xa2, 0x01, 0x02, 0x02, 0x60, 0x00};
  assert_int_equal(stw_ear_decode(bad_tier, sizeof(bad_tier), &verdict, reasons, sizeof(reasons)), STW_ERR_MALFORMED);
  assert_int_equal(stw_ear_decode(swapped, sizeof(swapped), &verdict, reasons, sizeof(reasons)), STW_ERR_MALFORMED);
  assert_int_equal(stw_ear_decode(trailing, sizeof(trailing), &verdict, reasons, sizeof(reasons)), STW_ERR_MALFORMED);
  assert_int_equal(verdict, 0);
  char longer[300];
  memset(longer, 'r', sizeof(longer) - 1);
  longer[sizeof(longer) - 1] = '\0';
  assert_int_equal(stw_ear_encode(2, longer, &b), STW_ERR_TOO_LARGE);
  stw_buf_free(&b, false);
}

/* With STW_FUZZ_SEEDS=<dir>, write the seed corpus of fuzz_evidence there
 * (tests/fuzz/corpus/evidence/ holds what this wrote); otherwise nothing. */
static void test_write_fuzz_seeds(void **state)
{
  fx_t *f = *state;
  const char *dir = getenv("STW_FUZZ_SEEDS");
  if (dir == NULL)
    skip();
  stw_buf_t b = {0};
  stw_test_write_seed(dir, "evidence.cbor", f->msg.data, f->msg.len);
  assert_int_equal(stw_evidence_encode(&f->e, &b), STW_OK);
  stw_test_write_seed(dir, "claims.cbor", b.data, b.len);
  assert_int_equal(stw_ear_encode(2, "", &b), STW_OK);
  stw_test_write_seed(dir, "ear-affirming.cbor", b.data, b.len);
  assert_int_equal(stw_ear_encode(96, "image digest unknown", &b), STW_OK);
  stw_test_write_seed(dir, "ear-contraindicated.cbor", b.data, b.len);
  uint8_t p[1024];
  variant_t v = good();
  v.name2 = "image";
  stw_test_write_seed(dir, "claims-duplicate-measurement.cbor", p, build(p, &v));
  v = good();
  v.dup = 1;
  stw_test_write_seed(dir, "claims-nonce-twice.cbor", p, build(p, &v));
  stw_buf_free(&b, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cose_layer, setup, teardown),
    cmocka_unit_test_setup_teardown(test_signed_by_another_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
    cmocka_unit_test_setup_teardown(test_truncated_and_oversized, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_nonce_length, setup, teardown),
    cmocka_unit_test(test_strict_decoding),
    cmocka_unit_test_setup_teardown(test_ueid, setup, teardown),
    cmocka_unit_test(test_ear),
    cmocka_unit_test_setup_teardown(test_write_fuzz_seeds, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
