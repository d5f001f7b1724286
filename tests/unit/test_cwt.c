/* lib/cwt.c, lib/cwt_claims.c: CWT claim sets. Deterministic encoding
 * checked byte for byte against RFC 8392 Appendix A.1; the RFC 8392
 * Appendix A examples (cose-wg/CWT/A_*.json) through the device's PEP;
 * round trips; AIF matching; limits at the edge and one over; the JWT
 * size against a JWT actually serialized with jansson. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cose.h"
#include "cwt.h"
#include "steward/authz.h"

/* ---- helpers ---- */

static uint8_t *hex_field(json_t *obj, const char *key, size_t *len)
{
  const char *hex = json_string_value(json_object_get(obj, key));
  assert_non_null(hex);
  return stw_test_hex(hex, len);
}

/* A private key from raw P-256 d, x, y (SEC1 "EC PRIVATE KEY" DER, then PEM). */
static stw_key_t *key_from_raw(const uint8_t d[32], const uint8_t x[32], const uint8_t y[32])
{
  uint8_t der[121];
  static const uint8_t head[] = {0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20};
  static const uint8_t mid[] = {0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
                                0x07, 0xa1, 0x44, 0x03, 0x42, 0x00, 0x04};
  size_t n = 0;
  memcpy(der + n, head, sizeof(head)); n += sizeof(head);
  memcpy(der + n, d, 32); n += 32;
  memcpy(der + n, mid, sizeof(mid)); n += sizeof(mid);
  memcpy(der + n, x, 32); n += 32;
  memcpy(der + n, y, 32); n += 32;
  assert_int_equal(n, sizeof(der));
  stw_buf_t pem;
  stw_buf_init(&pem, 4096);
  assert_int_equal(stw_der_to_pem("EC PRIVATE KEY", der, n, &pem), STW_OK);
  stw_key_t *key = NULL;
  assert_int_equal(stw_key_import_pem(pem.data, pem.len, &key), STW_OK);
  stw_buf_free(&pem, true);
  return key;
}

/* RFC 8392 A.1's claim set, as a stw_cwt_t. */
static void rfc8392_a1_claims(stw_cwt_t *c)
{
  stw_cwt_init(c);
  c->present = STW_CWT_HAS_ISS | STW_CWT_HAS_SUB | STW_CWT_HAS_AUD | STW_CWT_HAS_EXP |
               STW_CWT_HAS_NBF | STW_CWT_HAS_IAT | STW_CWT_HAS_CTI;
  c->iss = "coap://as.example.com";
  c->iss_len = strlen(c->iss);
  c->sub = "erikw";
  c->sub_len = 5;
  c->aud = "coap://light.example.com";
  c->aud_len = strlen(c->aud);
  c->exp = 1444064944;
  c->nbf = 1443944944;
  c->iat = 1443944944;
  c->cti[0] = 0x0b;
  c->cti[1] = 0x71;
  c->cti_len = 2;
}

static void full_claims(stw_cwt_t *c)
{
  stw_cwt_init(c);
  c->present = STW_CWT_HAS_ISS | STW_CWT_HAS_SUB | STW_CWT_HAS_AUD | STW_CWT_HAS_EXP |
               STW_CWT_HAS_NBF | STW_CWT_HAS_IAT | STW_CWT_HAS_CTI | STW_CWT_HAS_CNF |
               STW_CWT_HAS_SCOPE;
  c->iss = "coaps://steward.local";
  c->iss_len = strlen(c->iss);
  c->sub = "urn:steward:dev:00112233445566778899aabbccddeeff";
  c->sub_len = strlen(c->sub);
  c->aud = "coaps://lamp-7";
  c->aud_len = strlen(c->aud);
  c->exp = 1700003600;
  c->nbf = 1700000000;
  c->iat = 1700000000;
  for (int i = 0; i < 16; i++)
    c->cti[i] = (uint8_t)(0xa0 + i);
  c->cti_len = 16;
  c->cnf_kind = STW_PEP_CNF_KEY;
  for (int i = 0; i < 32; i++) {
    c->cnf_x[i] = (uint8_t)i;
    c->cnf_y[i] = (uint8_t)(255 - i);
  }
  assert_int_equal(stw_aif_add(&c->scope, "/light", 6, STW_AIF_GET | STW_AIF_PUT), STW_OK);
  assert_int_equal(stw_aif_add(&c->scope, "/sensors/*", 10, STW_AIF_GET), STW_OK);
}

/* ---- deterministic encoding ---- */

static void test_encode_matches_rfc8392_a1(void **state)
{
  (void)state;
  /* RFC 8392 A.1 lists its claims in key order with shortest forms, which
   * is exactly the deterministic encoding: ours must be the same bytes. */
  json_error_t err;
  json_t *root = json_load_file(stw_test_vector_path("cose-wg/CWT/A_3.json"), 0, &err);
  assert_non_null(root);
  size_t want_len;
  uint8_t *want = hex_field(json_object_get(root, "input"), "plaintext_hex", &want_len);
  stw_cwt_t c;
  rfc8392_a1_claims(&c);
  stw_buf_t out = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &out), STW_OK);
  assert_int_equal(out.len, want_len);
  assert_memory_equal(out.data, want, want_len);

  stw_cwt_t back;
  assert_int_equal(stw_cwt_parse_claims(want, want_len, &back), STW_OK);
  assert_int_equal(back.present, c.present);
  assert_int_equal(back.aud_len, c.aud_len);
  assert_memory_equal(back.aud, c.aud, c.aud_len);
  assert_memory_equal(back.sub, "erikw", 5);
  assert_true(back.exp == c.exp && back.nbf == c.nbf && back.iat == c.iat);
  assert_int_equal(back.cti_len, 2);
  assert_memory_equal(back.cti, c.cti, 2);
  free(want);
  stw_buf_free(&out, false);
  json_decref(root);
}

static void test_round_trip(void **state)
{
  (void)state;
  stw_cwt_t c;
  full_claims(&c);
  stw_buf_t out = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &out), STW_OK);
  stw_cwt_t back;
  assert_int_equal(stw_cwt_parse_claims(out.data, out.len, &back), STW_OK);
  assert_int_equal(back.present, c.present);
  assert_memory_equal(back.iss, c.iss, c.iss_len);
  assert_memory_equal(back.sub, c.sub, c.sub_len);
  assert_int_equal(back.cnf_kind, STW_PEP_CNF_KEY);
  assert_memory_equal(back.cnf_x, c.cnf_x, 32);
  assert_memory_equal(back.cnf_y, c.cnf_y, 32);
  assert_int_equal(back.scope.n, 2);
  assert_int_equal(back.scope.entries[1].methods, STW_AIF_GET);
  assert_memory_equal(back.scope.pool + back.scope.entries[1].path_offset, "/sensors/*", 10);
  /* encoding again gives the same bytes: deterministic */
  stw_buf_t again = {0};
  back.iss = c.iss;  /* (pointers into out; same content) */
  assert_int_equal(stw_cwt_encode_claims(&back, &again), STW_OK);
  assert_int_equal(again.len, out.len);
  assert_memory_equal(again.data, out.data, out.len);

  /* the kid form of cnf, and negative times */
  c.cnf_kind = STW_PEP_CNF_KID;
  memset(c.cnf_kid, 0x5a, 16);
  c.cnf_kid_len = 16;
  c.nbf = -5;
  assert_int_equal(stw_cwt_encode_claims(&c, &out), STW_OK);
  assert_int_equal(stw_cwt_parse_claims(out.data, out.len, &back), STW_OK);
  assert_int_equal(back.cnf_kind, STW_PEP_CNF_KID);
  assert_int_equal(back.cnf_kid_len, 16);
  assert_true(back.nbf == -5);
  stw_buf_free(&out, false);
  stw_buf_free(&again, false);
}

static void test_encode_sign_verifies(void **state)
{
  (void)state;
  stw_key_t *key = NULL;
  assert_int_equal(stw_key_generate(&key), STW_OK);
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_spki(key, spki, &spki_len), STW_OK);
  stw_cwt_t c;
  full_claims(&c);
  stw_buf_t token = {0};
  static const uint8_t kid[] = {'d', 'o', 'm', '1'};
  assert_int_equal(stw_cwt_encode_sign(&c, key, kid, sizeof(kid), &token), STW_OK);
  /* the libcbor COSE path agrees, and sees protected {1:-7}, unprotected {4: kid} */
  stw_cose_sign1_t s;
  assert_int_equal(stw_cose_sign1_verify(token.data, token.len, spki, spki_len, NULL, 0, &s), STW_OK);
  assert_int_equal(s.kid_len, sizeof(kid));
  stw_buf_t claims = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &claims), STW_OK);
  assert_int_equal(s.payload_len, claims.len);
  assert_memory_equal(s.payload, claims.data, claims.len);
  /* and the device's PEP path */
  stw_pep_t *pep = calloc(1, sizeof(*pep));
  assert_int_equal(stw_pep_init(pep, spki, spki_len, "coaps://lamp-7", 0), STW_OK);
  stw_pep_token_t tok;
  assert_int_equal(stw_pep_check_token(pep, token.data, token.len, 1700000001, &tok), STW_OK);
  assert_int_equal(tok.scope.n, 2);
  stw_pep_deinit(pep);
  free(pep);
  stw_buf_free(&token, false);
  stw_buf_free(&claims, false);
  stw_key_free(key);
}

/* ---- RFC 8392 Appendix A through the PEP ---- */

static void test_rfc8392_examples(void **state)
{
  (void)state;
  static const struct {
    const char *file;
    const char *skip_reason;  /* NULL: run through the PEP */
  } files[] = {
    {"A_3.json", NULL},
    {"A_4.json", "COSE_Mac0 with HS256/64: a MAC needs a key shared with the issuer; the PEP checks ES256 signatures only"},
    {"A_5.json", "COSE_Encrypt0 (AES-CCM-16-128/64): tokens of this profile are signed, not encrypted"},
    {"A_6.json", "COSE_Encrypt0 around a signed CWT: tokens of this profile are not encrypted"},
    {"A_7.json", "COSE_Mac0 with HS256/64 (and a floating-point iat, which this profile refuses)"},
  };
  unsigned ran = 0, skipped = 0;
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    char rel[128];
    snprintf(rel, sizeof(rel), "cose-wg/CWT/%s", files[i].file);
    json_error_t err;
    json_t *root = json_load_file(stw_test_vector_path(rel), 0, &err);
    if (root == NULL)
      fail_msg("cannot read %s: %s", rel, err.text);
    size_t token_len;
    uint8_t *token = hex_field(json_object_get(root, "output"), "cbor", &token_len);
    json_t *sign0 = json_object_get(json_object_get(root, "input"), "sign0");
    /* The PEP needs some domain key; for the signed example it is the
     * example's own key, from the JSON. */
    stw_key_t *other = NULL;
    uint8_t spki[STW_SPKI_MAX];
    size_t spki_len = sizeof(spki);
    if (sign0 != NULL) {
      json_t *k = json_object_get(sign0, "key");
      size_t xl, yl;
      uint8_t *x = hex_field(k, "x_hex", &xl), *y = hex_field(k, "y_hex", &yl);
      assert_int_equal(stw_spki_from_xy(x, y, spki, &spki_len), STW_OK);
      free(x);
      free(y);
    } else {
      assert_int_equal(stw_key_generate(&other), STW_OK);
      assert_int_equal(stw_key_spki(other, spki, &spki_len), STW_OK);
    }
    stw_pep_t *pep = calloc(1, sizeof(*pep));
    assert_int_equal(stw_pep_init(pep, spki, spki_len, "coap://light.example.com", 0), STW_OK);
    stw_pep_token_t tok;
    if (files[i].skip_reason != NULL) {
      printf("skip %s: %s\n", files[i].file, files[i].skip_reason);
      /* whatever it is, the PEP must not take it */
      assert_int_not_equal(stw_pep_check_token(pep, token, token_len, 1443944944, &tok), STW_OK);
      skipped++;
    } else {
      /* valid between nbf 1443944944 and exp 1444064944 */
      assert_int_equal(stw_pep_check_token(pep, token, token_len, 1443944944, &tok), STW_OK);
      assert_int_equal(stw_pep_check_token(pep, token, token_len, 1444064944, &tok), STW_OK);
      assert_int_equal(tok.cti_len, 2);
      assert_int_equal(tok.cti[0], 0x0b);
      assert_true(tok.expires == 1444064944);
      assert_int_equal(tok.cnf_kind, STW_PEP_CNF_NONE);  /* a bearer token: */
      static const uint8_t some_spki[91] = {0};
      assert_int_equal(stw_pep_authorize(pep, &tok, some_spki, sizeof(some_spki), "/", 1, STW_AIF_GET,
                                         1443944944),
                       STW_ERR_UNAUTHENTICATED);
      assert_int_equal(stw_pep_store_token(pep, &tok, 1443944944), STW_ERR_UNAUTHENTICATED);
      assert_int_equal(stw_pep_check_token(pep, token, token_len, 1444064945, &tok), STW_ERR_EXPIRED);
      assert_int_equal(stw_pep_check_token(pep, token, token_len, 1443944943, &tok), STW_ERR_EXPIRED);
      token[token_len - 1] ^= 1;
      assert_int_equal(stw_pep_check_token(pep, token, token_len, 1443944944, &tok), STW_ERR_BAD_SIGNATURE);
      ran++;
    }
    stw_pep_deinit(pep);
    free(pep);
    stw_key_free(other);
    free(token);
    json_decref(root);
  }
  printf("RFC 8392 examples: %u through the PEP, %u skipped\n", ran, skipped);
  assert_int_equal(ran, 1);
}

static void test_sign_with_rfc_key(void **state)
{
  (void)state;
  /* Our signer with the RFC's key; the PEP, pinned to the RFC's public key,
   * takes it. */
  json_error_t err;
  json_t *root = json_load_file(stw_test_vector_path("cose-wg/CWT/A_3.json"), 0, &err);
  assert_non_null(root);
  json_t *k = json_object_get(json_object_get(json_object_get(root, "input"), "sign0"), "key");
  size_t l;
  uint8_t *d = hex_field(k, "d_hex", &l), *x = hex_field(k, "x_hex", &l), *y = hex_field(k, "y_hex", &l);
  stw_key_t *key = key_from_raw(d, x, y);
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_spki_from_xy(x, y, spki, &spki_len), STW_OK);
  stw_cwt_t c;
  rfc8392_a1_claims(&c);
  stw_buf_t token = {0};
  assert_int_equal(stw_cwt_encode_sign(&c, key, NULL, 0, &token), STW_OK);
  stw_pep_t *pep = calloc(1, sizeof(*pep));
  assert_int_equal(stw_pep_init(pep, spki, spki_len, "coap://light.example.com", 30), STW_OK);
  stw_pep_token_t tok;
  assert_int_equal(stw_pep_check_token(pep, token.data, token.len, 1444000000, &tok), STW_OK);
  stw_pep_deinit(pep);
  free(pep);
  stw_buf_free(&token, false);
  stw_key_free(key);
  free(d);
  free(x);
  free(y);
  json_decref(root);
}

/* ---- parsing: what is refused ---- */

static void expect_parse(const char *hex, stw_status_t want)
{
  size_t n;
  uint8_t *p = stw_test_hex(hex, &n);
  stw_cwt_t c;
  stw_status_t got = stw_cwt_parse_claims(p, n, &c);
  if (got != want)
    fail_msg("%s: got %d, want %d", hex, got, want);
  if (got != STW_OK)
    assert_int_equal(c.present, 0);
  free(p);
}

static void test_parse_refusals(void **state)
{
  (void)state;
  expect_parse("a0", STW_OK);                        /* {} parses; the PEP's profile asks more */
  expect_parse("a106fb41d584367c200000", STW_ERR_MALFORMED);  /* RFC 8392 A.7: float iat */
  expect_parse("a2041a0000000a041a0000000b", STW_ERR_MALFORMED);  /* exp twice */
  expect_parse("a10361", STW_ERR_MALFORMED);         /* truncated */
  expect_parse("a1030a", STW_ERR_MALFORMED);         /* aud not a text */
  expect_parse("a10440", STW_ERR_MALFORMED);         /* exp not an integer */
  expect_parse("a1041bffffffffffffffff", STW_ERR_MALFORMED);  /* exp beyond int64 */
  expect_parse("a10740", STW_ERR_MALFORMED);         /* empty cti */
  expect_parse("a1075100112233445566778899aabbccddeeff00", STW_ERR_TOO_LARGE);  /* cti of 17 */
  expect_parse("a1075000112233445566778899aabbccddeeff", STW_OK);  /* cti of 16 */
  expect_parse("a0a0", STW_ERR_MALFORMED);           /* trailing bytes */
  expect_parse("80", STW_ERR_MALFORMED);             /* not a map */
  expect_parse("a1636b6579f6", STW_OK);              /* text keys skipped */
  expect_parse("a1186f8301020f", STW_OK);            /* unknown claim 111 skipped */
  /* cnf */
  expect_parse("a108a10341aa", STW_OK);              /* {3: kid} */
  expect_parse("a108a10340", STW_ERR_MALFORMED);     /* empty kid */
  expect_parse("a108a20341aa0341bb", STW_ERR_MALFORMED);  /* two members */
  expect_parse("a108a10243a10101", STW_ERR_UNSUPPORTED);  /* Encrypted_COSE_Key */
  /* COSE_Key: OKP (1) instead of EC2, P-384 (2), compressed y (true), short x */
  expect_parse("a108a101a40101200121582000000000000000000000000000000000000000000000000000000000000000002258200000000000000000000000000000000000000000000000000000000000000000",
               STW_ERR_UNSUPPORTED);
  expect_parse("a108a101a40102200221582000000000000000000000000000000000000000000000000000000000000000002258200000000000000000000000000000000000000000000000000000000000000000",
               STW_ERR_UNSUPPORTED);
  expect_parse("a108a101a4010220012158200000000000000000000000000000000000000000000000000000000000000000" "22f5",
               STW_ERR_UNSUPPORTED);
  expect_parse("a108a101a401022001214100225820" "0000000000000000000000000000000000000000000000000000000000000000",
               STW_ERR_MALFORMED);
  expect_parse("a108a101a3010220012158200000000000000000000000000000000000000000000000000000000000000000",
               STW_ERR_MALFORMED);  /* y missing */
  /* scope */
  expect_parse("a1098182612f01", STW_OK);             /* [["/", GET]] */
  expect_parse("a10980", STW_OK);                     /* [] grants nothing */
  expect_parse("a1098183622f610101", STW_ERR_MALFORMED);  /* [path, methods, extra] */
  expect_parse("a1098182616101", STW_ERR_MALFORMED);    /* path without a leading slash */
  expect_parse("a10981826001", STW_ERR_MALFORMED);      /* empty path */
  expect_parse("a1098182622f6120", STW_ERR_MALFORMED);   /* negative methods */
  expect_parse("a1098182622f61f5", STW_ERR_MALFORMED);   /* methods not a number */
  expect_parse("a10962676574", STW_ERR_MALFORMED);       /* a text scope: not AIF */
  expect_parse("a1098182412f01", STW_ERR_MALFORMED);
}

static void test_scope_limits(void **state)
{
  (void)state;
  stw_aif_t s;
  memset(&s, 0, sizeof(s));
  char path[STW_AIF_PATH_MAX + 1];
  memset(path, 'p', sizeof(path));
  path[0] = '/';
  assert_int_equal(stw_aif_add(&s, path, STW_AIF_PATH_MAX + 1, STW_AIF_GET), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_aif_add(&s, path, STW_AIF_PATH_MAX, STW_AIF_GET), STW_OK);
  assert_int_equal(stw_aif_add(&s, "x", 1, STW_AIF_GET), STW_ERR_INVALID);
  assert_int_equal(stw_aif_add(&s, "/a", 2, 128), STW_ERR_INVALID);
  assert_int_equal(stw_aif_add(&s, "/a\0b", 4, 1), STW_ERR_INVALID);
  /* the pool: 512 bytes of paths in all */
  memset(&s, 0, sizeof(s));
  for (int i = 0; i < STW_AIF_POOL_MAX / STW_AIF_PATH_MAX; i++)
    assert_int_equal(stw_aif_add(&s, path, STW_AIF_PATH_MAX, STW_AIF_GET), STW_OK);
  assert_int_equal(stw_aif_add(&s, "/a", 2, STW_AIF_GET), STW_ERR_TOO_LARGE);
  /* entries: 32 and not one more */
  memset(&s, 0, sizeof(s));
  for (int i = 0; i < STW_AIF_ENTRIES_MAX; i++)
    assert_int_equal(stw_aif_add(&s, "/e", 2, STW_AIF_GET), STW_OK);
  assert_int_equal(stw_aif_add(&s, "/e", 2, STW_AIF_GET), STW_ERR_TOO_LARGE);

  /* the parser enforces the same: 32 entries parse, 33 do not */
  for (int entries = STW_AIF_ENTRIES_MAX; entries <= STW_AIF_ENTRIES_MAX + 1; entries++) {
    uint8_t buf[512];
    size_t n = 0;
    buf[n++] = 0xa1;
    buf[n++] = 0x09;
    buf[n++] = 0x98;
    buf[n++] = (uint8_t)entries;
    for (int i = 0; i < entries; i++) {
      buf[n++] = 0x82;
      buf[n++] = 0x62;
      buf[n++] = '/';
      buf[n++] = 'e';
      buf[n++] = 0x01;
    }
    stw_cwt_t c;
    assert_int_equal(stw_cwt_parse_claims(buf, n, &c),
                     entries <= STW_AIF_ENTRIES_MAX ? STW_OK : STW_ERR_TOO_LARGE);
  }
  /* a path of 65 bytes in a token */
  uint8_t buf[128];
  size_t n = 0;
  buf[n++] = 0xa1;
  buf[n++] = 0x09;
  buf[n++] = 0x81;
  buf[n++] = 0x82;
  buf[n++] = 0x78;
  buf[n++] = STW_AIF_PATH_MAX + 1;
  memcpy(buf + n, path, STW_AIF_PATH_MAX + 1);
  n += STW_AIF_PATH_MAX + 1;
  buf[n++] = 0x01;
  stw_cwt_t c;
  assert_int_equal(stw_cwt_parse_claims(buf, n, &c), STW_ERR_TOO_LARGE);
  /* dynamic-resource bits (2^32 = Dynamic-GET) are dropped, not granted */
  expect_parse("a1098182622f611b0000000100000000", STW_OK);
  size_t hl;
  uint8_t *p = stw_test_hex("a1098182622f611b0000000100000004", &hl);
  assert_int_equal(stw_cwt_parse_claims(p, hl, &c), STW_OK);
  assert_int_equal(c.scope.entries[0].methods, STW_AIF_PUT);
  free(p);
}

/* ---- AIF matching ---- */

static void test_aif_allows(void **state)
{
  (void)state;
  stw_cwt_t c;
  stw_cwt_init(&c);
  c.present = STW_CWT_HAS_SCOPE;
  assert_int_equal(stw_aif_add(&c.scope, "/light", 6, STW_AIF_GET | STW_AIF_PUT), STW_OK);
  assert_int_equal(stw_aif_add(&c.scope, "/sensors/*", 10, STW_AIF_GET), STW_OK);
  assert_int_equal(stw_aif_add(&c.scope, "/cfg", 4, STW_AIF_IPATCH), STW_OK);
#define ALLOWS(p, m) stw_aif_allows(&c, p, strlen(p), m)
  assert_true(ALLOWS("/light", STW_AIF_GET));
  assert_true(ALLOWS("/light", STW_AIF_PUT));
  assert_false(ALLOWS("/light", STW_AIF_POST));
  assert_false(ALLOWS("/light", STW_AIF_DELETE));
  assert_false(ALLOWS("/light", STW_AIF_GET | STW_AIF_PUT));  /* one method at a time */
  assert_false(ALLOWS("/light", 0));
  assert_false(ALLOWS("/lights", STW_AIF_GET));     /* exact, not a prefix */
  assert_false(ALLOWS("/ligh", STW_AIF_GET));
  assert_false(ALLOWS("/light/x", STW_AIF_GET));
  assert_false(ALLOWS("/LIGHT", STW_AIF_GET));
  assert_true(ALLOWS("/sensors/t1", STW_AIF_GET));
  assert_true(ALLOWS("/sensors/t1/raw", STW_AIF_GET));
  assert_false(ALLOWS("/sensors/t1", STW_AIF_PUT));
  assert_false(ALLOWS("/sensors", STW_AIF_GET));     /* strictly below */
  assert_false(ALLOWS("/sensors/", STW_AIF_GET));    /* empty segment */
  assert_false(ALLOWS("/sensorsX/t", STW_AIF_GET));
  assert_false(ALLOWS("/sensors/../light", STW_AIF_GET));
  assert_false(ALLOWS("/sensors/./t1", STW_AIF_GET));
  assert_false(ALLOWS("/sensors//t1", STW_AIF_GET));
  assert_false(ALLOWS("sensors/t1", STW_AIF_GET));
  assert_false(ALLOWS("", STW_AIF_GET));
  assert_true(ALLOWS("/cfg", STW_AIF_IPATCH));
  assert_false(ALLOWS("/cfg", STW_AIF_PATCH));
  /* no scope claim: nothing */
  c.present = 0;
  assert_false(ALLOWS("/light", STW_AIF_GET));
#undef ALLOWS
}

/* ---- JWT size ---- */

static char *b64url(const uint8_t *p, size_t n)
{
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *out = calloc(1, 4 * n / 3 + 4);
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    out[o++] = a[v >> 18 & 63];
    out[o++] = a[v >> 12 & 63];
    if (i + 1 < n)
      out[o++] = a[v >> 6 & 63];
    if (i + 2 < n)
      out[o++] = a[v & 63];
  }
  return out;
}

static json_t *b64url_json(const uint8_t *p, size_t n)
{
  char *s = b64url(p, n);
  json_t *j = json_string(s);
  free(s);
  return j;
}

/* The JWT as a JOSE library would serialize it, built with jansson. */
static size_t real_jwt_size(const stw_cwt_t *c, const uint8_t *kid, size_t kid_len)
{
  json_t *h = json_object();
  json_object_set_new(h, "alg", json_string("ES256"));
  if (kid_len > 0)
    json_object_set_new(h, "kid", b64url_json(kid, kid_len));
  json_t *p = json_object();
  json_object_set_new(p, "iss", json_stringn(c->iss, c->iss_len));
  json_object_set_new(p, "sub", json_stringn(c->sub, c->sub_len));
  json_object_set_new(p, "aud", json_stringn(c->aud, c->aud_len));
  json_object_set_new(p, "exp", json_integer(c->exp));
  json_object_set_new(p, "nbf", json_integer(c->nbf));
  json_object_set_new(p, "iat", json_integer(c->iat));
  json_object_set_new(p, "jti", b64url_json(c->cti, c->cti_len));
  json_t *scope = json_array();
  for (size_t i = 0; i < c->scope.n; i++) {
    json_t *e = json_array();
    json_array_append_new(e, json_stringn(c->scope.pool + c->scope.entries[i].path_offset,
                                          c->scope.entries[i].path_len));
    json_array_append_new(e, json_integer(c->scope.entries[i].methods));
    json_array_append_new(scope, e);
  }
  json_object_set_new(p, "scope", scope);
  json_t *jwk = json_object();
  json_object_set_new(jwk, "kty", json_string("EC"));
  json_object_set_new(jwk, "crv", json_string("P-256"));
  json_object_set_new(jwk, "x", b64url_json(c->cnf_x, 32));
  json_object_set_new(jwk, "y", b64url_json(c->cnf_y, 32));
  json_t *cnf = json_object();
  json_object_set_new(cnf, "jwk", jwk);
  json_object_set_new(p, "cnf", cnf);
  char *hs = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
  char *ps = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
  char *hb = b64url((const uint8_t *)hs, strlen(hs)), *pb = b64url((const uint8_t *)ps, strlen(ps));
  uint8_t sig[64] = {0};
  char *sb = b64url(sig, 64);
  size_t size = strlen(hb) + 1 + strlen(pb) + 1 + strlen(sb);
  free(hs);
  free(ps);
  free(hb);
  free(pb);
  free(sb);
  json_decref(h);
  json_decref(p);
  return size;
}

static void test_jwt_size(void **state)
{
  (void)state;
  stw_cwt_t c;
  full_claims(&c);
  c.sub = "quote\" back\\slash\ttab\x01";  /* escapes count too */
  c.sub_len = strlen(c.sub);
  c.nbf = -42;
  static const uint8_t kid[] = {1, 2, 3, 4, 5};
  for (size_t kl = 0; kl <= sizeof(kid); kl += sizeof(kid)) {
    size_t want = real_jwt_size(&c, kid, kl);
    assert_int_equal(stw_cwt_to_jwt_size(&c, kid, kl), want);
  }
  /* and the CWT is smaller */
  stw_key_t *key = NULL;
  assert_int_equal(stw_key_generate(&key), STW_OK);
  stw_buf_t token = {0};
  full_claims(&c);
  assert_int_equal(stw_cwt_encode_sign(&c, key, kid, sizeof(kid), &token), STW_OK);
  size_t jwt = stw_cwt_to_jwt_size(&c, kid, sizeof(kid));
  printf("same claims: CWT %zu bytes, JWT %zu bytes\n", token.len, jwt);
  assert_true(token.len < jwt);
  stw_buf_free(&token, false);
  stw_key_free(key);
}

static void test_encode_refusals(void **state)
{
  (void)state;
  stw_cwt_t c;
  full_claims(&c);
  stw_buf_t out = {0};
  c.cti_len = 17;
  assert_int_equal(stw_cwt_encode_claims(&c, &out), STW_ERR_INVALID);
  full_claims(&c);
  c.cnf_kind = 9;
  assert_int_equal(stw_cwt_encode_claims(&c, &out), STW_ERR_INVALID);
  full_claims(&c);
  c.iss = NULL;
  assert_int_equal(stw_cwt_encode_claims(&c, &out), STW_ERR_INVALID);
  full_claims(&c);
  c.present |= 1u << 12;
  assert_int_equal(stw_cwt_encode_claims(&c, &out), STW_ERR_INVALID);
  /* a token the device would refuse for its size is not issued */
  full_claims(&c);
  static char big[STW_CWT_STR_MAX];
  memset(big, 'a', sizeof(big));
  c.iss = big, c.iss_len = sizeof(big);
  c.sub = big, c.sub_len = sizeof(big);
  c.aud = big, c.aud_len = sizeof(big);
  stw_key_t *key = NULL;
  assert_int_equal(stw_key_generate(&key), STW_OK);
  big[0] = '/';
  for (int i = 0; i < 5; i++)
    assert_int_equal(stw_aif_add(&c.scope, big, STW_AIF_PATH_MAX, STW_AIF_GET), STW_OK);
  stw_buf_t token = {0};
  assert_int_equal(stw_cwt_encode_sign(&c, key, NULL, 0, &token), STW_ERR_TOO_LARGE);
  stw_buf_free(&token, false);
  stw_buf_free(&out, false);
  stw_key_free(key);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_encode_matches_rfc8392_a1),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_encode_sign_verifies),
    cmocka_unit_test(test_rfc8392_examples),
    cmocka_unit_test(test_sign_with_rfc_key),
    cmocka_unit_test(test_parse_refusals),
    cmocka_unit_test(test_scope_limits),
    cmocka_unit_test(test_aif_allows),
    cmocka_unit_test(test_jwt_size),
    cmocka_unit_test(test_encode_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
