/* The PDP: ACE token requests (every error path), scope intersection, deny
 * overrides permit, issuance (a CWT the domain key verifies, with the right
 * sub/aud/scope/cnf), rs_cnf, and the record the writer keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz_fixture.h"
#include "cose.h"
#include "testutil.h"

static int setup(void **state)
{
  return fx_setup(state, "pdp");
}

static void test_issue_and_verify(void **state)
{
  fx_t *fx = *state;
  fx_add_rule(fx, "permit role=utility -> meter-*:/consumption GET if home.occupied==false");
  fx_add_rule(fx, "permit role=utility -> [model=meter]:/status GET,PUT");
  fx_add_rule(fx, "deny * -> *:/status PUT");
  stw_context_row_t c = { .scope = "place:flat-3", .name = "home.occupied", .value = "false" };
  assert_int_equal(stw_context_set(fx->st, fx->domain, &c, "admin", stw_now(), NULL), STW_OK);

  uint8_t x[32], y[32];
  assert_int_equal(stw_spki_to_xy(fx->util_spki, fx->util_spki_len, x, y), STW_OK);
  const char *paths[] = { "/consumption", "/status", "/other" };
  const unsigned methods[] = { STW_AIF_GET, STW_AIF_GET | STW_AIF_PUT, STW_AIF_GET };
  stw_buf_t req;
  fx_build_request(&req, "meter-1", paths, methods, 3, x, y);
  stw_pdp_outcome_t o;
  fx_decide(fx, &fx->util, &req, &o);
  assert_int_equal(o.error, STW_ACE_OK);
  assert_int_equal(o.coap_code, 201);
  /* Scope intersection: /status loses PUT (deny wins), /other is dropped. */
  assert_string_equal(o.row.scope, "/consumption GET;/status GET");
  assert_string_equal(o.row.policy_ids, "1,2");
  assert_string_equal(o.row.audience_id, fx->meter.device_id);
  assert_true(o.has_rs_cnf);

  /* The CWT verifies with the domain key and says what was decided. */
  uint8_t dspki[STW_SPKI_MAX];
  size_t dlen = sizeof(dspki);
  assert_int_equal(stw_key_spki(fx->domain->ca_key, dspki, &dlen), STW_OK);
  stw_cose_sign1_t msg;
  assert_int_equal(stw_cose_sign1_verify(o.token.data, o.token.len, dspki, dlen, NULL, 0, &msg), STW_OK);
  /* kid names the domain key: the device id of its SPKI. */
  uint8_t dkid[STW_DEVICE_ID_LEN];
  assert_int_equal(stw_device_id_from_spki(dspki, dlen, dkid), STW_OK);
  assert_int_equal(msg.kid_len, sizeof(dkid));
  assert_memory_equal(msg.kid, dkid, sizeof(dkid));
  stw_cwt_t claims;
  assert_int_equal(stw_cwt_parse_claims(msg.payload, msg.payload_len, &claims), STW_OK);
  assert_int_equal(claims.sub_len, 32);
  assert_memory_equal(claims.sub, fx->util.device_id, 32);
  assert_int_equal(claims.aud_len, 7);
  assert_memory_equal(claims.aud, "meter-1", 7);
  assert_int_equal(claims.exp - claims.iat, STW_TOKEN_LIFETIME_DEFAULT);
  assert_int_equal(claims.cnf_kind, STW_PEP_CNF_KEY);
  assert_memory_equal(claims.cnf_x, x, 32);
  assert_true(stw_aif_allows(&claims, "/consumption", 12, STW_AIF_GET));
  assert_false(stw_aif_allows(&claims, "/status", 7, STW_AIF_PUT));

  /* Recorded with its audit record. */
  assert_int_equal(stw_pdp_apply(fx->st, &o), STW_OK);
  stw_token_row_t row;
  assert_int_equal(stw_store_token_get(fx->st, o.row.cti, &row), STW_OK);
  assert_false(row.revoked);

  stw_buf_t resp;
  assert_int_equal(stw_pdp_encode_response(&o, &resp), STW_OK);
  assert_true(resp.len > o.token.len);
  assert_int_equal(resp.data[0], 0xa4);  /* map of 4: token, expires_in, scope, rs_cnf */
  stw_buf_free(&resp, false);
  stw_pdp_outcome_clear(&o);
  stw_buf_free(&req, false);
}

static void expect_error(fx_t *fx, const stw_identity_t *client, const stw_buf_t *req, stw_ace_error_t err,
                         unsigned code)
{
  stw_pdp_outcome_t o;
  fx_decide(fx, client, req, &o);
  assert_int_equal(o.error, err);
  assert_int_equal(o.coap_code, code);
  assert_true(o.diag[0] != '\0');
  stw_buf_t resp;
  assert_int_equal(stw_pdp_encode_response(&o, &resp), STW_OK);
  assert_int_equal(resp.data[0], 0xa2);  /* {30: error, 31: description} */
  assert_int_equal(resp.data[1], 0x18);
  assert_int_equal(resp.data[2], 30);
  assert_int_equal(resp.data[3], err);
  stw_buf_free(&resp, false);
  assert_int_equal(stw_pdp_apply(fx->st, &o), STW_OK);  /* the refusal is audited */
  stw_pdp_outcome_clear(&o);
}

static void test_errors(void **state)
{
  fx_t *fx = *state;
  fx_add_rule(fx, "permit role=utility -> meter-*:/consumption GET");
  const char *paths[] = { "/consumption" };
  const unsigned get[] = { STW_AIF_GET };
  stw_buf_t req;

  /* Default deny: a path no rule names, and an unknown audience look the same. */
  const char *other[] = { "/valve" };
  fx_build_request(&req, "meter-1", other, get, 1, NULL, NULL);
  expect_error(fx, &fx->util, &req, STW_ACE_INVALID_SCOPE, 403);
  stw_buf_free(&req, false);
  fx_build_request(&req, "nobody-7", paths, get, 1, NULL, NULL);
  expect_error(fx, &fx->util, &req, STW_ACE_INVALID_SCOPE, 403);
  stw_buf_free(&req, false);

  /* A subject without the role. */
  fx_build_request(&req, "meter-1", paths, get, 1, NULL, NULL);
  expect_error(fx, &fx->meter, &req, STW_ACE_INVALID_SCOPE, 403);

  /* Unauthenticated. */
  stw_identity_t nobody;
  memset(&nobody, 0, sizeof(nobody));
  expect_error(fx, &nobody, &req, STW_ACE_INVALID_CLIENT, 401);

  /* A PSK device: nothing to bind a token to. */
  stw_identity_t psk = fx->util;
  psk.spki_len = 0;
  expect_error(fx, &psk, &req, STW_ACE_UNAUTHORIZED_CLIENT, 401);
  stw_buf_free(&req, false);

  /* req_cnf for another key. */
  uint8_t x[32], y[32];
  assert_int_equal(stw_spki_to_xy(fx->meter.spki, fx->meter.spki_len, x, y), STW_OK);
  fx_build_request(&req, "meter-1", paths, get, 1, x, y);
  expect_error(fx, &fx->util, &req, STW_ACE_UNSUPPORTED_POP_KEY, 400);
  stw_buf_free(&req, false);

  /* Malformed: not CBOR, no scope, wildcard path, dot segment. */
  stw_buf_t junk = { (uint8_t *)"\xff\x00", 2, 2, 2 };
  expect_error(fx, &fx->util, &junk, STW_ACE_INVALID_REQUEST, 400);
  const char *star[] = { "/a/*" };
  fx_build_request(&req, "meter-1", star, get, 1, NULL, NULL);
  expect_error(fx, &fx->util, &req, STW_ACE_INVALID_REQUEST, 400);
  stw_buf_free(&req, false);
  const char *dots[] = { "/a/../b" };
  fx_build_request(&req, "meter-1", dots, get, 1, NULL, NULL);
  expect_error(fx, &fx->util, &req, STW_ACE_INVALID_REQUEST, 400);
  stw_buf_free(&req, false);
}

static void test_request_parser(void **state)
{
  (void)state;
  stw_token_request_t r;
  /* {5: "m", 9: [["/a", 1]]} — the AIF inline is accepted too. */
  const uint8_t inline_aif[] = { 0xa2, 0x05, 0x61, 'm', 0x09, 0x81, 0x82, 0x62, '/', 'a', 0x01 };
  assert_int_equal(stw_token_request_parse(inline_aif, sizeof(inline_aif), &r), STW_OK);
  assert_string_equal(r.audience, "m");
  assert_int_equal(r.scope.n, 1);
  /* The audience twice. */
  const uint8_t twice[] = { 0xa3, 0x05, 0x61, 'm', 0x05, 0x61, 'n', 0x09, 0x81, 0x82, 0x62, '/', 'a', 0x01 };
  assert_int_equal(stw_token_request_parse(twice, sizeof(twice), &r), STW_ERR_MALFORMED);
  /* Trailing bytes. */
  const uint8_t trailing[] = { 0xa2, 0x05, 0x61, 'm', 0x09, 0x81, 0x82, 0x62, '/', 'a', 0x01, 0x00 };
  assert_int_equal(stw_token_request_parse(trailing, sizeof(trailing), &r), STW_ERR_MALFORMED);
  /* grant_type other than client_credentials. */
  const uint8_t grant[] = { 0xa3, 0x05, 0x61, 'm', 0x09, 0x81, 0x82, 0x62, '/', 'a', 0x01, 0x18, 33, 0x01 };
  assert_int_equal(stw_token_request_parse(grant, sizeof(grant), &r), STW_ERR_UNSUPPORTED);
  /* Methods beyond iPATCH. */
  const uint8_t dyn[] = { 0xa2, 0x05, 0x61, 'm', 0x09, 0x81, 0x82, 0x62, '/', 'a', 0x18, 0x80 };
  assert_int_equal(stw_token_request_parse(dyn, sizeof(dyn), &r), STW_ERR_MALFORMED);
  uint8_t big[STW_TOKEN_REQUEST_MAX + 1];
  memset(big, 0, sizeof(big));
  assert_int_equal(stw_token_request_parse(big, sizeof(big), &r), STW_ERR_TOO_LARGE);
}

/* {5: audience, 9: h'AIF' for one path, 38: profile (, 4: req_cnf)} */
static void build_profile_request(stw_buf_t *b, const char *aud, const char *path, unsigned methods, uint64_t profile,
                                  bool with_req_cnf)
{
  uint8_t aif[64];
  size_t n = stw_cbor_put_head(STW_CBOR_ARRAY, 1, aif);
  n += stw_cbor_put_head(STW_CBOR_ARRAY, 2, aif + n);
  n += stw_cbor_put_head(STW_CBOR_TSTR, strlen(path), aif + n);
  memcpy(aif + n, path, strlen(path));
  n += strlen(path);
  n += stw_cbor_put_head(STW_CBOR_UINT, methods, aif + n);
  stw_buf_init(b, 4096);
  assert_int_equal(stw_cbor_write_head(b, STW_CBOR_MAP, with_req_cnf ? 4 : 3), STW_OK);
  assert_int_equal(stw_cbor_write_int(b, STW_ACE_AUDIENCE), STW_OK);
  assert_int_equal(stw_cbor_write_bytes(b, STW_CBOR_TSTR, aud, strlen(aud)), STW_OK);
  assert_int_equal(stw_cbor_write_int(b, STW_ACE_SCOPE), STW_OK);
  assert_int_equal(stw_cbor_write_bytes(b, STW_CBOR_BSTR, aif, n), STW_OK);
  assert_int_equal(stw_cbor_write_int(b, STW_ACE_PROFILE), STW_OK);
  assert_int_equal(stw_cbor_write_head(b, STW_CBOR_UINT, profile), STW_OK);
  if (with_req_cnf) {
    static const uint8_t kid_cnf[] = { 0xa1, 0x03, 0x41, 0x01 };  /* {3: h'01'} */
    assert_int_equal(stw_cbor_write_int(b, STW_ACE_REQ_CNF), STW_OK);
    assert_int_equal(stw_buf_append(b, kid_cnf, sizeof(kid_cnf)), STW_OK);
  }
}

/* ace_profile coap_oscore (RFC 9203): cnf osc in the token with the secret
 * sealed to the audience, the plain material in the answer only. */
static void test_issue_oscore(void **state)
{
  fx_t *fx = *state;
  fx_add_rule(fx, "permit role=utility -> meter-*:/consumption GET");
  stw_buf_t req;
  build_profile_request(&req, "meter-1", "/consumption", STW_AIF_GET, STW_ACE_PROFILE_OSCORE, false);
  stw_pdp_outcome_t o;
  fx_decide(fx, &fx->util, &req, &o);
  assert_int_equal(o.error, STW_ACE_OK);
  assert_true(o.oscore);

  uint8_t dspki[STW_SPKI_MAX];
  size_t dlen = sizeof(dspki);
  assert_int_equal(stw_key_spki(fx->domain->ca_key, dspki, &dlen), STW_OK);
  stw_cose_sign1_t msg;
  assert_int_equal(stw_cose_sign1_verify(o.token.data, o.token.len, dspki, dlen, NULL, 0, &msg), STW_OK);
  stw_cwt_t claims;
  assert_int_equal(stw_cwt_parse_claims(msg.payload, msg.payload_len, &claims), STW_OK);
  assert_int_equal(claims.cnf_kind, STW_CWT_CNF_OSC);
  assert_int_equal(claims.osc_id_len, STW_PDP_OSC_ID_LEN);
  assert_memory_equal(claims.osc_id, o.osc_id, STW_PDP_OSC_ID_LEN);
  assert_int_equal(claims.osc_salt_len, STW_PDP_OSC_SALT_LEN);
  assert_memory_equal(claims.osc_salt, o.osc_salt, STW_PDP_OSC_SALT_LEN);
  /* The secret is not in the token in the clear. */
  for (size_t i = 0; i + STW_PDP_OSC_MS_LEN <= o.token.len; i++)
    assert_false(memcmp(o.token.data + i, o.osc_ms, STW_PDP_OSC_MS_LEN) == 0);

  /* The answer: {1, 2, 8: {4: {0: id, 2: ms, 5: salt}}, 9, 38: 2, 41} */
  stw_buf_t resp;
  assert_int_equal(stw_pdp_encode_response(&o, &resp), STW_OK);
  assert_int_equal(resp.data[0], 0xa6);
  stw_cbor_reader_t r;
  size_t n = 0;
  stw_cbor_reader_init(&r, resp.data, resp.len);
  assert_int_equal(stw_cbor_read_map(&r, &n), STW_OK);
  bool saw_cnf = false, saw_profile = false;
  for (size_t i = 0; i < n; i++) {
    uint64_t key = 0;
    assert_int_equal(stw_cbor_read_uint(&r, &key), STW_OK);
    if (key == STW_ACE_CNF) {
      size_t one = 0, three = 0;
      uint64_t k = 0;
      assert_int_equal(stw_cbor_read_map(&r, &one), STW_OK);
      assert_int_equal(one, 1);
      assert_int_equal(stw_cbor_read_uint(&r, &k), STW_OK);
      assert_int_equal(k, STW_CWT_CNF_OSC);
      assert_int_equal(stw_cbor_read_map(&r, &three), STW_OK);
      assert_int_equal(three, 3);
      for (size_t j = 0; j < 3; j++) {
        const uint8_t *v = NULL;
        size_t vl = 0;
        assert_int_equal(stw_cbor_read_uint(&r, &k), STW_OK);
        assert_int_equal(stw_cbor_read_bstr(&r, &v, &vl), STW_OK);
        if (k == 2) {
          assert_int_equal(vl, STW_PDP_OSC_MS_LEN);
          assert_memory_equal(v, o.osc_ms, vl);
        }
      }
      saw_cnf = true;
    } else if (key == STW_ACE_PROFILE) {
      uint64_t p = 0;
      assert_int_equal(stw_cbor_read_uint(&r, &p), STW_OK);
      assert_int_equal(p, STW_ACE_PROFILE_OSCORE);
      saw_profile = true;
    } else {
      assert_int_equal(stw_cbor_skip(&r), STW_OK);
    }
  }
  assert_int_equal(stw_cbor_expect_end(&r), STW_OK);
  assert_true(saw_cnf && saw_profile);
  stw_buf_free(&resp, true);
  assert_int_equal(stw_pdp_apply(fx->st, &o), STW_OK);
  stw_pdp_outcome_clear(&o);
  stw_buf_free(&req, false);

  /* ace_profile coap_dtls: the DTLS profile as before, bound to the key. */
  build_profile_request(&req, "meter-1", "/consumption", STW_AIF_GET, STW_ACE_PROFILE_DTLS, false);
  fx_decide(fx, &fx->util, &req, &o);
  assert_int_equal(o.error, STW_ACE_OK);
  assert_false(o.oscore);
  assert_int_equal(stw_cose_sign1_verify(o.token.data, o.token.len, dspki, dlen, NULL, 0, &msg), STW_OK);
  assert_int_equal(stw_cwt_parse_claims(msg.payload, msg.payload_len, &claims), STW_OK);
  assert_int_equal(claims.cnf_kind, STW_PEP_CNF_KEY);
  stw_pdp_outcome_clear(&o);
  stw_buf_free(&req, false);

  /* Unknown profiles and req_cnf with coap_oscore: unsupported_pop_key. */
  build_profile_request(&req, "meter-1", "/consumption", STW_AIF_GET, 7, false);
  expect_error(fx, &fx->util, &req, STW_ACE_UNSUPPORTED_POP_KEY, 400);
  stw_buf_free(&req, false);
  build_profile_request(&req, "meter-1", "/consumption", STW_AIF_GET, STW_ACE_PROFILE_OSCORE, true);
  expect_error(fx, &fx->util, &req, STW_ACE_UNSUPPORTED_POP_KEY, 400);
  stw_buf_free(&req, false);
  /* Out of scope: refused like any other. */
  build_profile_request(&req, "meter-1", "/status", STW_AIF_GET, STW_ACE_PROFILE_OSCORE, false);
  expect_error(fx, &fx->util, &req, STW_ACE_INVALID_SCOPE, 403);
  stw_buf_free(&req, false);
}

static void test_scope_text_round_trip(void **state)
{
  (void)state;
  stw_aif_t s;
  assert_int_equal(stw_scope_parse_text("/a GET,PUT;/b/c DELETE", &s), STW_OK);
  char text[256];
  stw_scope_format(&s, text, sizeof(text));
  assert_string_equal(text, "/a GET,PUT;/b/c DELETE");
  assert_int_equal(stw_scope_parse_text("/a", &s), STW_ERR_MALFORMED);
  assert_int_equal(stw_scope_parse_text("/a GOT", &s), STW_ERR_MALFORMED);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_issue_and_verify, setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_errors, setup, fx_teardown),
    cmocka_unit_test(test_request_parser),
    cmocka_unit_test_setup_teardown(test_issue_oscore, setup, fx_teardown),
    cmocka_unit_test(test_scope_text_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
