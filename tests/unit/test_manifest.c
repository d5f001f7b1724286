/* lib/manifest.c: update manifests signed by the vendor and authorised by
 * the owner. Every refusal the device relies on has its own test, each
 * checking the status and that nothing was handed back. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "cose.h"
#include "manifest.h"

typedef struct {
  stw_key_t *vendor, *owner, *other;
  uint8_t vendor_spki[STW_SPKI_MAX], owner_spki[STW_SPKI_MAX], other_spki[STW_SPKI_MAX];
  size_t vendor_spki_len, owner_spki_len, other_spki_len;
  stw_manifest_t m;
  stw_buf_t signed_m;   /* vendor-signed */
  stw_buf_t envelope;   /* owner-authorised */
} fx_t;

static const stw_manifest_t zero;

static int spki_of(stw_key_t *k, uint8_t *spki, size_t *len)
{
  *len = STW_SPKI_MAX;
  return stw_key_spki(k, spki, len) == STW_OK ? 0 : -1;
}

static int setup(void **state)
{
  fx_t *f = calloc(1, sizeof(*f));
  if (f == NULL || stw_key_generate(&f->vendor) != STW_OK || stw_key_generate(&f->owner) != STW_OK ||
      stw_key_generate(&f->other) != STW_OK)
    return -1;
  if (spki_of(f->vendor, f->vendor_spki, &f->vendor_spki_len) != 0 ||
      spki_of(f->owner, f->owner_spki, &f->owner_spki_len) != 0 ||
      spki_of(f->other, f->other_spki, &f->other_spki_len) != 0)
    return -1;
  f->m.sequence = 7;
  snprintf(f->m.vendor, sizeof(f->m.vendor), "%s", "Acme Sensors");
  snprintf(f->m.class_id, sizeof(f->m.class_id), "%s", "thermo-2");
  snprintf(f->m.component, sizeof(f->m.component), "%s", "firmware");
  for (size_t i = 0; i < sizeof(f->m.digest); i++)
    f->m.digest[i] = (uint8_t)(0xa0 + i);
  f->m.size = 70000;
  snprintf(f->m.uri, sizeof(f->m.uri), "%s", "/fw/img/a0a1a2a3");
  if (stw_manifest_vendor_sign(&f->m, f->vendor, &f->signed_m) != STW_OK ||
      stw_manifest_authorize(f->signed_m.data, f->signed_m.len, f->owner, &f->envelope) != STW_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx_t *f = *state;
  stw_buf_free(&f->signed_m, false);
  stw_buf_free(&f->envelope, false);
  stw_key_free(f->vendor);
  stw_key_free(f->owner);
  stw_key_free(f->other);
  free(f);
  return 0;
}

static void assert_same(const stw_manifest_t *a, const stw_manifest_t *b)
{
  assert_int_equal(a->sequence, b->sequence);
  assert_string_equal(a->vendor, b->vendor);
  assert_string_equal(a->class_id, b->class_id);
  assert_string_equal(a->component, b->component);
  assert_memory_equal(a->digest, b->digest, sizeof(a->digest));
  assert_int_equal(a->size, b->size);
  assert_string_equal(a->uri, b->uri);
}

static void assert_empty(const stw_manifest_t *m)
{
  assert_memory_equal(m, &zero, sizeof(*m));
}

static stw_status_t verify(fx_t *f, const uint8_t *env, size_t len, stw_manifest_t *out)
{
  return stw_manifest_verify(env, len, f->vendor_spki, f->vendor_spki_len, f->owner_spki, f->owner_spki_len, out);
}

static void test_round_trip(void **state)
{
  fx_t *f = *state;
  stw_buf_t enc = {0};
  stw_manifest_t got;
  assert_int_equal(stw_manifest_encode(&f->m, &enc), STW_OK);
  assert_int_equal(stw_manifest_decode(enc.data, enc.len, &got), STW_OK);
  assert_same(&f->m, &got);
  /* The first bytes pin the layout: map(8), 1: 1, 2: 7, 3: "Acme Sensors". */
  static const uint8_t start[] = {0xa8, 0x01, 0x01, 0x02, 0x07, 0x03, 0x6c, 'A'};
  assert_memory_equal(enc.data, start, sizeof(start));
  stw_buf_free(&enc, false);

  assert_int_equal(stw_manifest_vendor_verify(f->signed_m.data, f->signed_m.len, f->vendor_spki,
                                              f->vendor_spki_len, &got), STW_OK);
  assert_same(&f->m, &got);
  assert_int_equal(verify(f, f->envelope.data, f->envelope.len, &got), STW_OK);
  assert_same(&f->m, &got);
  assert_int_equal(stw_manifest_parse_envelope(f->envelope.data, f->envelope.len, &got), STW_OK);
  assert_same(&f->m, &got);
  assert_int_equal(stw_manifest_applies(&got, "Acme Sensors", "thermo-2", 6), STW_OK);
  /* Largest fields still fit the bounds. */
  memset(f->m.uri, 'u', sizeof(f->m.uri) - 1);
  f->m.uri[sizeof(f->m.uri) - 1] = '\0';
  memset(f->m.vendor, 'v', sizeof(f->m.vendor) - 1);
  f->m.vendor[sizeof(f->m.vendor) - 1] = '\0';
  f->m.sequence = UINT64_MAX;
  f->m.size = UINT64_MAX;
  stw_buf_t s = {0}, e = {0};
  assert_int_equal(stw_manifest_vendor_sign(&f->m, f->vendor, &s), STW_OK);
  assert_int_equal(stw_manifest_authorize(s.data, s.len, f->owner, &e), STW_OK);
  assert_int_equal(verify(f, e.data, e.len, &got), STW_OK);
  assert_same(&f->m, &got);
  stw_buf_free(&s, false);
  stw_buf_free(&e, false);
}

/* The manifest layers are plain COSE_Sign1 with the documented external_aad,
 * read by the same verifier the cose-wg examples check (test_cose.c). */
static void test_known_good_cose_path(void **state)
{
  fx_t *f = *state;
  /* The cose-wg example with external data verifies with its aad, and
   * without it does not: the binding the manifest relies on. */
  json_error_t err;
  json_t *root = json_load_file(stw_test_vector_path("cose-wg/sign1-tests/sign-pass-02.json"), 0, &err);
  assert_non_null(root);
  json_t *sign0 = json_object_get(json_object_get(root, "input"), "sign0");
  json_t *key = json_object_get(sign0, "key");
  uint8_t x[32], y[32], spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki), msg_len, aad_len;
  assert_int_equal(stw_test_b64url_decode(json_string_value(json_object_get(key, "x")), x, sizeof(x)), 32);
  assert_int_equal(stw_test_b64url_decode(json_string_value(json_object_get(key, "y")), y, sizeof(y)), 32);
  assert_int_equal(stw_spki_from_xy(x, y, spki, &spki_len), STW_OK);
  uint8_t *msg = stw_test_hex(json_string_value(json_object_get(json_object_get(root, "output"), "cbor")), &msg_len);
  uint8_t *aad = stw_test_hex(json_string_value(json_object_get(sign0, "external")), &aad_len);
  stw_cose_sign1_t s;
  assert_int_equal(stw_cose_sign1_verify(msg, msg_len, spki, spki_len, aad, aad_len, &s), STW_OK);
  assert_int_equal(stw_cose_sign1_verify(msg, msg_len, spki, spki_len, NULL, 0, &s), STW_ERR_BAD_SIGNATURE);
  /* A COSE_Sign1 that is good but not a manifest is not taken for one. */
  stw_manifest_t got;
  assert_int_equal(stw_manifest_vendor_verify(msg, msg_len, spki, spki_len, &got), STW_ERR_MALFORMED);
  assert_empty(&got);
  free(msg);
  free(aad);
  json_decref(root);

  /* Our two layers through that verifier, with the aad strings of
   * docs/formats-updates.md. */
  static const char vendor_aad[] = "steward manifest v1: vendor";
  static const char owner_aad[] = "steward manifest v1: owner authorisation";
  stw_cose_sign1_t outer, inner;
  assert_int_equal(stw_cose_sign1_verify(f->envelope.data, f->envelope.len, f->owner_spki, f->owner_spki_len,
                                         (const uint8_t *)owner_aad, strlen(owner_aad), &outer), STW_OK);
  assert_int_equal(outer.payload_len, f->signed_m.len);
  assert_memory_equal(outer.payload, f->signed_m.data, f->signed_m.len);
  assert_int_equal(stw_cose_sign1_verify(outer.payload, outer.payload_len, f->vendor_spki, f->vendor_spki_len,
                                         (const uint8_t *)vendor_aad, strlen(vendor_aad), &inner), STW_OK);
  assert_int_equal(inner.alg, STW_COSE_ALG_ES256);
  assert_int_equal(inner.kid_len, 16);
  stw_buf_t enc = {0};
  assert_int_equal(stw_manifest_encode(&f->m, &enc), STW_OK);
  assert_int_equal(inner.payload_len, enc.len);
  assert_memory_equal(inner.payload, enc.data, enc.len);
  stw_buf_free(&enc, false);
  /* Without the aad, neither layer verifies: a signature made for anything
   * else by the same key cannot pass as a manifest signature. */
  assert_int_equal(stw_cose_sign1_verify(f->envelope.data, f->envelope.len, f->owner_spki, f->owner_spki_len,
                                         NULL, 0, &outer), STW_ERR_BAD_SIGNATURE);
  /* And a plain COSE_Sign1 over the manifest by the vendor key, without
   * the vendor aad, is refused. */
  stw_buf_t plain = {0};
  assert_int_equal(stw_manifest_encode(&f->m, &enc), STW_OK);
  assert_int_equal(stw_cose_sign1_create(f->vendor, inner.kid, inner.kid_len, enc.data, enc.len, NULL, 0, &plain),
                   STW_OK);
  assert_int_equal(stw_manifest_vendor_verify(plain.data, plain.len, f->vendor_spki, f->vendor_spki_len, &got),
                   STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  stw_buf_free(&enc, false);
  stw_buf_free(&plain, false);
}

static void test_wrong_vendor_key(void **state)
{
  fx_t *f = *state;
  stw_manifest_t got;
  /* The envelope checked with another vendor key. */
  assert_int_equal(stw_manifest_verify(f->envelope.data, f->envelope.len, f->other_spki, f->other_spki_len,
                                       f->owner_spki, f->owner_spki_len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  assert_int_equal(stw_manifest_vendor_verify(f->signed_m.data, f->signed_m.len, f->other_spki,
                                              f->other_spki_len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
}

static void test_signed_by_unknown_vendor(void **state)
{
  fx_t *f = *state;
  /* The owner authorises a manifest an unknown key signed: the device
   * still refuses it, the vendor signature is its own check. */
  stw_buf_t s = {0}, e = {0};
  assert_int_equal(stw_manifest_vendor_sign(&f->m, f->other, &s), STW_OK);
  assert_int_equal(stw_manifest_authorize(s.data, s.len, f->owner, &e), STW_OK);
  stw_manifest_t got;
  assert_int_equal(verify(f, e.data, e.len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  stw_buf_free(&s, false);
  stw_buf_free(&e, false);
}

static void test_wrong_owner_key(void **state)
{
  fx_t *f = *state;
  stw_manifest_t got;
  assert_int_equal(stw_manifest_verify(f->envelope.data, f->envelope.len, f->vendor_spki, f->vendor_spki_len,
                                       f->other_spki, f->other_spki_len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  /* Authorised by an unknown key. */
  stw_buf_t e = {0};
  assert_int_equal(stw_manifest_authorize(f->signed_m.data, f->signed_m.len, f->other, &e), STW_OK);
  assert_int_equal(verify(f, e.data, e.len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  stw_buf_free(&e, false);
}

static void test_missing_owner_authorisation(void **state)
{
  fx_t *f = *state;
  stw_manifest_t got;
  assert_int_equal(verify(f, f->signed_m.data, f->signed_m.len, &got), STW_ERR_UNAUTHENTICATED);
  assert_empty(&got);
  assert_int_equal(stw_manifest_parse_envelope(f->signed_m.data, f->signed_m.len, &got), STW_ERR_UNAUTHENTICATED);
  assert_empty(&got);
  /* Nor does the owner's signature over the bare manifest (no vendor layer)
   * stand in for both. */
  stw_buf_t enc = {0}, e = {0};
  assert_int_equal(stw_manifest_encode(&f->m, &enc), STW_OK);
  assert_int_equal(stw_manifest_authorize(enc.data, enc.len, f->owner, &e), STW_ERR_MALFORMED);
  assert_int_equal(e.len, 0);
  stw_buf_free(&enc, false);
  stw_buf_free(&e, false);
}

static void test_tampered(void **state)
{
  fx_t *f = *state;
  stw_manifest_t got;
  /* Every flipped bit pattern at every byte: never accepted. */
  for (size_t i = 0; i < f->envelope.len; i++) {
    f->envelope.data[i] ^= 0x01;
    stw_status_t st = verify(f, f->envelope.data, f->envelope.len, &got);
    if (st == STW_OK)
      fail_msg("flipped byte %zu of %zu accepted", i, f->envelope.len);
    assert_empty(&got);
    f->envelope.data[i] ^= 0x01;
  }
  /* The digest changed in place: the structure holds, the signature not. */
  size_t at = 0;
  for (size_t i = 0; i + 4 <= f->envelope.len; i++)
    if (memcmp(f->envelope.data + i, f->m.digest, 4) == 0)
      at = i;
  assert_int_not_equal(at, 0);
  f->envelope.data[at] ^= 0xff;
  assert_int_equal(verify(f, f->envelope.data, f->envelope.len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  f->envelope.data[at] ^= 0xff;
  /* The owner's authorisation moved onto another vendor-signed manifest of
   * the same length: the owner signature no longer covers it. */
  stw_manifest_t other = f->m;
  other.digest[0] ^= 0xff;
  stw_buf_t s = {0};
  assert_int_equal(stw_manifest_vendor_sign(&other, f->vendor, &s), STW_OK);
  stw_cose_sign1_t outer;
  assert_int_equal(stw_cose_sign1_parse(f->envelope.data, f->envelope.len, &outer), STW_OK);
  assert_int_equal(outer.payload_len, s.len);
  memcpy((uint8_t *)outer.payload, s.data, s.len);
  assert_int_equal(verify(f, f->envelope.data, f->envelope.len, &got), STW_ERR_BAD_SIGNATURE);
  assert_empty(&got);
  stw_buf_free(&s, false);
}

static void test_truncated(void **state)
{
  fx_t *f = *state;
  stw_manifest_t got;
  for (size_t n = 0; n < f->envelope.len; n++) {
    stw_status_t st = verify(f, f->envelope.data, n, &got);
    if (st != STW_ERR_MALFORMED)
      fail_msg("envelope cut to %zu of %zu: %s", n, f->envelope.len, stw_status_str(st));
    assert_empty(&got);
    assert_int_equal(stw_manifest_parse_envelope(f->envelope.data, n, &got), STW_ERR_MALFORMED);
  }
  stw_buf_t enc = {0};
  assert_int_equal(stw_manifest_encode(&f->m, &enc), STW_OK);
  for (size_t n = 0; n < enc.len; n++) {
    assert_int_equal(stw_manifest_decode(enc.data, n, &got), STW_ERR_MALFORMED);
    assert_empty(&got);
  }
  stw_buf_free(&enc, false);
}

static void test_oversized(void **state)
{
  fx_t *f = *state;
  uint8_t *big = calloc(1, STW_MANIFEST_MAX + 1);
  assert_non_null(big);
  memcpy(big, f->envelope.data, f->envelope.len);
  stw_manifest_t got;
  assert_int_equal(verify(f, big, STW_MANIFEST_MAX + 1, &got), STW_ERR_TOO_LARGE);
  assert_empty(&got);
  assert_int_equal(stw_manifest_parse_envelope(big, STW_MANIFEST_MAX + 1, &got), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_manifest_decode(big, STW_MANIFEST_MAX + 1, &got), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_manifest_vendor_verify(big, STW_MANIFEST_MAX + 1, f->vendor_spki, f->vendor_spki_len, &got),
                   STW_ERR_TOO_LARGE);
  assert_empty(&got);
  stw_buf_t e = {0};
  assert_int_equal(stw_manifest_authorize(big, STW_MANIFEST_MAX + 1, f->owner, &e), STW_ERR_TOO_LARGE);
  assert_int_equal(e.len, 0);
  /* Trailing bytes after the envelope are not ignored. */
  assert_int_equal(verify(f, big, f->envelope.len + 1, &got), STW_ERR_MALFORMED);
  assert_empty(&got);
  free(big);
  /* Fields over their bounds are refused before anything is signed. */
  stw_buf_t s = {0};
  memset(f->m.uri, 'u', sizeof(f->m.uri));
  assert_int_equal(stw_manifest_vendor_sign(&f->m, f->vendor, &s), STW_ERR_INVALID);
  assert_int_equal(s.len, 0);
  stw_buf_free(&s, false);
}

static void test_lower_sequence(void **state)
{
  fx_t *f = *state;
  stw_manifest_t got;
  assert_int_equal(verify(f, f->envelope.data, f->envelope.len, &got), STW_OK);
  assert_int_equal(stw_manifest_applies(&got, "Acme Sensors", "thermo-2", 7), STW_ERR_REPLAY);   /* equal */
  assert_int_equal(stw_manifest_applies(&got, "Acme Sensors", "thermo-2", 8), STW_ERR_REPLAY);   /* rollback */
  assert_int_equal(stw_manifest_applies(&got, "Acme Sensors", "thermo-2", UINT64_MAX), STW_ERR_REPLAY);
  assert_int_equal(stw_manifest_applies(&got, "Acme Sensors", "thermo-2", 0), STW_OK);
  assert_same(&f->m, &got);  /* the check changes nothing */
}

static void test_wrong_vendor_or_class(void **state)
{
  fx_t *f = *state;
  assert_int_equal(stw_manifest_applies(&f->m, "Acme Sensor", "thermo-2", 0), STW_ERR_FORBIDDEN);
  assert_int_equal(stw_manifest_applies(&f->m, "Acme Sensors", "thermo-3", 0), STW_ERR_FORBIDDEN);
  assert_int_equal(stw_manifest_applies(&f->m, "acme sensors", "thermo-2", 0), STW_ERR_FORBIDDEN);
  assert_int_equal(stw_manifest_applies(&f->m, "Acme Sensors", "", 0), STW_ERR_FORBIDDEN);
  /* The wrong class is refused even when the sequence is also stale. */
  assert_int_equal(stw_manifest_applies(&f->m, "Acme Sensors", "thermo-3", 9), STW_ERR_FORBIDDEN);
  assert_int_equal(stw_manifest_applies(&f->m, NULL, "thermo-2", 0), STW_ERR_INVALID);
}

/* ---- strict decoding, on hand-made manifests ---- */

typedef struct {
  int skip;          /* key left out */
  int dup;           /* key written twice */
  int extra;         /* unknown key appended */
  int swap;          /* write keys 2 and 3 in the other order */
  uint64_t version;
  int64_t alg;
  size_t digest_len;
  uint64_t size;
  const char *vendor;
  bool long_seq;     /* sequence 7 in a two-byte head */
} variant_t;

static size_t put(uint8_t *p, stw_cbor_type_t major, uint64_t arg)
{
  return stw_cbor_put_head(major, arg, p);
}

static size_t put_field(uint8_t *p, int key, const variant_t *v)
{
  static const uint8_t digest[40];
  size_t n = put(p, STW_CBOR_UINT, (uint64_t)key);
  switch (key) {
  case 1:
    return n + put(p + n, STW_CBOR_UINT, v->version);
  case 2:
    if (v->long_seq) {
      p[n] = 0x18;
      p[n + 1] = 7;
      return n + 2;
    }
    return n + put(p + n, STW_CBOR_UINT, 7);
  case 3:
  case 4:
  case 5:
  case 8: {
    const char *s = key == 3 ? v->vendor : key == 4 ? "thermo-2" : key == 5 ? "firmware" : "/fw/img/1";
    size_t len = strlen(s);
    n += put(p + n, STW_CBOR_TSTR, len);
    memcpy(p + n, s, len);
    return n + len;
  }
  case 6:
    n += put(p + n, STW_CBOR_ARRAY, 2);
    n += v->alg < 0 ? put(p + n, STW_CBOR_NEGINT, (uint64_t)(-1 - v->alg)) : put(p + n, STW_CBOR_UINT, (uint64_t)v->alg);
    n += put(p + n, STW_CBOR_BSTR, v->digest_len);
    memcpy(p + n, digest, v->digest_len);
    return n + v->digest_len;
  case 7:
    return n + put(p + n, STW_CBOR_UINT, v->size);
  default:
    return n + put(p + n, STW_CBOR_UINT, 0);
  }
}

static size_t build(uint8_t *p, const variant_t *v)
{
  size_t count = 8 - (v->skip ? 1 : 0) + (v->dup ? 1 : 0) + (v->extra ? 1 : 0);
  size_t n = put(p, STW_CBOR_MAP, count);
  static const int plain[] = {1, 2, 3, 4, 5, 6, 7, 8};
  static const int swapped[] = {1, 3, 2, 4, 5, 6, 7, 8};
  const int *order = v->swap ? swapped : plain;
  for (size_t i = 0; i < 8; i++) {
    int key = order[i];
    if (key == v->skip)
      continue;
    n += put_field(p + n, key, v);
    if (key == v->dup)
      n += put_field(p + n, key, v);
  }
  if (v->extra)
    n += put_field(p + n, v->extra, v);
  return n;
}

static variant_t good(void)
{
  variant_t v = {.version = 1, .alg = -16, .digest_len = 32, .size = 100, .vendor = "Acme"};
  return v;
}

static stw_status_t decode_variant(const variant_t *v)
{
  uint8_t p[512];
  size_t n = build(p, v);
  stw_manifest_t got;
  memset(&got, 0x55, sizeof(got));
  stw_status_t st = stw_manifest_decode(p, n, &got);
  if (st != STW_OK)
    assert_empty(&got);
  return st;
}

static void test_strict_decoding(void **state)
{
  (void)state;
  variant_t v = good();
  assert_int_equal(decode_variant(&v), STW_OK);
  for (int key = 1; key <= 8; key++) {
    v = good();
    v.skip = key;
    assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
    v = good();
    v.dup = key;
    assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  }
  v = good();
  v.extra = 9;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.swap = 1;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.long_seq = true;   /* same value, a non-shortest head */
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.version = 2;
  assert_int_equal(decode_variant(&v), STW_ERR_UNSUPPORTED);
  v = good();
  v.alg = -43;  /* SHA-384 */
  assert_int_equal(decode_variant(&v), STW_ERR_UNSUPPORTED);
  v = good();
  v.digest_len = 31;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.digest_len = 33;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.size = 0;
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.vendor = "";
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.vendor = "Ac\nme";
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  v = good();
  v.vendor = "0123456789012345678901234567890123456789012345678901234567890123";  /* 64: one over */
  assert_int_equal(decode_variant(&v), STW_ERR_MALFORMED);
  /* Not a map at all. */
  static const uint8_t array[] = {0x80};
  stw_manifest_t got;
  assert_int_equal(stw_manifest_decode(array, sizeof(array), &got), STW_ERR_MALFORMED);
  assert_int_equal(stw_manifest_decode(NULL, 0, &got), STW_ERR_MALFORMED);
}

static void test_encode_refuses_bad_fields(void **state)
{
  fx_t *f = *state;
  stw_buf_t out = {0};
  stw_manifest_t m = f->m;
  m.vendor[0] = '\0';
  assert_int_equal(stw_manifest_encode(&m, &out), STW_ERR_INVALID);
  m = f->m;
  m.size = 0;
  assert_int_equal(stw_manifest_encode(&m, &out), STW_ERR_INVALID);
  m = f->m;
  m.uri[0] = '\t';
  assert_int_equal(stw_manifest_encode(&m, &out), STW_ERR_INVALID);
  assert_int_equal(out.len, 0);
  stw_buf_free(&out, false);
}

/* With STW_FUZZ_SEEDS=<dir>, write the seed corpus of fuzz_manifest there
 * (tests/fuzz/corpus/manifest/ holds what this wrote); otherwise nothing. */
static void test_write_fuzz_seeds(void **state)
{
  fx_t *f = *state;
  const char *dir = getenv("STW_FUZZ_SEEDS");
  if (dir == NULL)
    skip();
  stw_buf_t enc = {0};
  assert_int_equal(stw_manifest_encode(&f->m, &enc), STW_OK);
  stw_test_write_seed(dir, "envelope.cbor", f->envelope.data, f->envelope.len);
  stw_test_write_seed(dir, "vendor-signed.cbor", f->signed_m.data, f->signed_m.len);
  stw_test_write_seed(dir, "manifest.cbor", enc.data, enc.len);
  stw_test_write_seed(dir, "envelope-truncated.cbor", f->envelope.data, f->envelope.len / 2);
  uint8_t p[512];
  variant_t v = good();
  v.long_seq = true;
  stw_test_write_seed(dir, "manifest-long-head.cbor", p, build(p, &v));
  v = good();
  v.dup = 3;
  stw_test_write_seed(dir, "manifest-duplicate-key.cbor", p, build(p, &v));
  stw_buf_free(&enc, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_known_good_cose_path, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_vendor_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_signed_by_unknown_vendor, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_owner_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_owner_authorisation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
    cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lower_sequence, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_vendor_or_class, setup, teardown),
    cmocka_unit_test(test_strict_decoding),
    cmocka_unit_test_setup_teardown(test_encode_refuses_bad_fields, setup, teardown),
    cmocka_unit_test_setup_teardown(test_write_fuzz_seeds, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
