/* lib/cwt.c, lib/cwt_claims.c: cnf {4: OSCORE_Input_Material} (RFC 9203
 * 3.2.1) for the ACE OSCORE profile. Round trip with the Master Secret
 * sealed to the audience's key and opened again; the deterministic bytes
 * of the cnf; refusals: a plain ms, unknown parameters, other algorithms,
 * a missing id or secret, labels twice, limits one over. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "cwt.h"
#include "pki.h"

static void fill_osc(stw_cwt_t *c, const uint8_t *sealed, size_t sealed_len)
{
  stw_cwt_init(c);
  c->present = STW_CWT_HAS_AUD | STW_CWT_HAS_EXP | STW_CWT_HAS_CTI | STW_CWT_HAS_CNF;
  c->aud = "meter-1";
  c->aud_len = 7;
  c->exp = 2000000000;
  c->cti_len = 4;
  memcpy(c->cti, "\x01\x02\x03\x04", 4);
  c->cnf_kind = STW_CWT_CNF_OSC;
  memcpy(c->osc_id, "\xa1\xb2", 2);
  c->osc_id_len = 2;
  memcpy(c->osc_salt, "\x5a\x5b", 2);
  c->osc_salt_len = 2;
  memcpy(c->osc_ms_sealed, sealed, sealed_len);
  c->osc_ms_sealed_len = sealed_len;
}

static void test_round_trip_sealed(void **state)
{
  (void)state;
  stw_key_t *device = NULL, *other = NULL;
  assert_int_equal(stw_key_generate(&device), STW_OK);
  assert_int_equal(stw_key_generate(&other), STW_OK);
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_spki(device, spki, &spki_len), STW_OK);
  uint8_t ms[32];
  assert_int_equal(stw_random(ms, sizeof(ms)), STW_OK);
  static const char info[] = STW_CWT_OSC_SEAL_INFO;
  stw_buf_t sealed = {0};
  assert_int_equal(stw_seal(spki, spki_len, (const uint8_t *)info, sizeof(info) - 1, ms, sizeof(ms), &sealed),
                   STW_OK);
  assert_true(sealed.len <= STW_CWT_OSC_SEALED_MAX);

  stw_cwt_t c, back;
  fill_osc(&c, sealed.data, sealed.len);
  c.osc_has_context_id = true;
  c.osc_context_id_len = 0;  /* present and empty differs from absent */
  stw_buf_t enc = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &enc), STW_OK);
  assert_int_equal(stw_cwt_parse_claims(enc.data, enc.len, &back), STW_OK);
  assert_int_equal(back.cnf_kind, STW_CWT_CNF_OSC);
  assert_int_equal(back.osc_id_len, 2);
  assert_memory_equal(back.osc_id, c.osc_id, 2);
  assert_int_equal(back.osc_salt_len, 2);
  assert_memory_equal(back.osc_salt, c.osc_salt, 2);
  assert_true(back.osc_has_context_id);
  assert_int_equal(back.osc_context_id_len, 0);
  assert_int_equal(back.osc_ms_sealed_len, sealed.len);
  /* Only the audience opens the secret. */
  uint8_t out[64];
  size_t out_len = sizeof(out);
  assert_int_equal(stw_unseal(device, (const uint8_t *)info, sizeof(info) - 1, back.osc_ms_sealed,
                              back.osc_ms_sealed_len, out, &out_len),
                   STW_OK);
  assert_int_equal(out_len, sizeof(ms));
  assert_memory_equal(out, ms, sizeof(ms));
  out_len = sizeof(out);
  assert_int_not_equal(stw_unseal(other, (const uint8_t *)info, sizeof(info) - 1, back.osc_ms_sealed,
                                  back.osc_ms_sealed_len, out, &out_len),
                       STW_OK);
  /* The secret is nowhere in the token's bytes. */
  for (size_t i = 0; i + sizeof(ms) <= enc.len; i++)
    assert_false(memcmp(enc.data + i, ms, sizeof(ms)) == 0);
  stw_buf_free(&enc, false);
  stw_buf_free(&sealed, false);
  stw_key_free(device);
  stw_key_free(other);
}

static void test_cnf_bytes(void **state)
{
  (void)state;
  stw_cwt_t c;
  fill_osc(&c, (const uint8_t *)"\xee", 1);
  c.present = STW_CWT_HAS_CNF;
  stw_buf_t enc = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &enc), STW_OK);
  /* {8: {4: {0: h'a1b2', 5: h'5a5b', -65537: h'ee'}}} */
  static const uint8_t want[] = {0xa1, 0x08, 0xa1, 0x04, 0xa3, 0x00, 0x42, 0xa1, 0xb2, 0x05, 0x42, 0x5a,
                                 0x5b, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(enc.len, sizeof(want));
  assert_memory_equal(enc.data, want, sizeof(want));
  stw_buf_free(&enc, false);
}

/* {8: {4: <material>}} around raw material bytes. */
static stw_status_t parse_material(const uint8_t *m, size_t len)
{
  uint8_t buf[128] = {0xa1, 0x08, 0xa1, 0x04};
  assert_true(len + 4 <= sizeof(buf));
  memcpy(buf + 4, m, len);
  stw_cwt_t c;
  return stw_cwt_parse_claims(buf, len + 4, &c);
}

static void test_refusals(void **state)
{
  (void)state;
  /* accepted: id, version 1, hkdf -10, alg 10, sealed */
  static const uint8_t ok[] = {0xa5, 0x00, 0x41, 0x01, 0x01, 0x01, 0x03, 0x29, 0x04, 0x0a, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(ok, sizeof(ok)), STW_OK);
  /* a plain ms */
  static const uint8_t plain_ms[] = {0xa2, 0x00, 0x41, 0x01, 0x02, 0x41, 0x33};
  assert_int_equal(parse_material(plain_ms, sizeof(plain_ms)), STW_ERR_UNSUPPORTED);
  /* version 2, hkdf -11, alg 11, an unknown label 7 */
  static const uint8_t v2[] = {0xa3, 0x00, 0x41, 0x01, 0x01, 0x02, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(v2, sizeof(v2)), STW_ERR_UNSUPPORTED);
  static const uint8_t hkdf[] = {0xa3, 0x00, 0x41, 0x01, 0x03, 0x2a, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(hkdf, sizeof(hkdf)), STW_ERR_UNSUPPORTED);
  static const uint8_t alg[] = {0xa3, 0x00, 0x41, 0x01, 0x04, 0x0b, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(alg, sizeof(alg)), STW_ERR_UNSUPPORTED);
  static const uint8_t unknown[] = {0xa3, 0x00, 0x41, 0x01, 0x07, 0x41, 0x00, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(unknown, sizeof(unknown)), STW_ERR_UNSUPPORTED);
  /* missing id, missing secret, empty id, id twice */
  static const uint8_t no_id[] = {0xa1, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(no_id, sizeof(no_id)), STW_ERR_MALFORMED);
  static const uint8_t no_ms[] = {0xa1, 0x00, 0x41, 0x01};
  assert_int_equal(parse_material(no_ms, sizeof(no_ms)), STW_ERR_MALFORMED);
  static const uint8_t empty_id[] = {0xa2, 0x00, 0x40, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(empty_id, sizeof(empty_id)), STW_ERR_MALFORMED);
  static const uint8_t twice[] = {0xa3, 0x00, 0x41, 0x01, 0x00, 0x41, 0x02, 0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  assert_int_equal(parse_material(twice, sizeof(twice)), STW_ERR_MALFORMED);
  /* id of 17 bytes: one over */
  uint8_t long_id[32] = {0xa2, 0x00, 0x51};
  size_t n = 3 + 17;
  static const uint8_t tail[] = {0x3a, 0x00, 0x01, 0x00, 0x00, 0x41, 0xee};
  memcpy(long_id + n, tail, sizeof(tail));
  assert_int_equal(parse_material(long_id, n + sizeof(tail)), STW_ERR_TOO_LARGE);
  long_id[2] = 0x50;  /* 16 bytes: at the limit */
  memmove(long_id + 3 + 16, tail, sizeof(tail));
  assert_int_equal(parse_material(long_id, 3 + 16 + sizeof(tail)), STW_OK);
  /* the encoder refuses what the parser would */
  stw_cwt_t c;
  fill_osc(&c, (const uint8_t *)"\xee", 1);
  c.osc_ms_sealed_len = 0;
  stw_buf_t enc = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &enc), STW_ERR_INVALID);
  fill_osc(&c, (const uint8_t *)"\xee", 1);
  c.osc_id_len = 0;
  assert_int_equal(stw_cwt_encode_claims(&c, &enc), STW_ERR_INVALID);
  stw_buf_free(&enc, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip_sealed),
    cmocka_unit_test(test_cnf_bytes),
    cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
