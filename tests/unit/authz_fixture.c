/* The authorization tests' common ground; see authz_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz_fixture.h"
#include "cose.h"
#include "store_fixture.h"


/* An enrolled X.509 device: LDevID from the domain CA, row, attributes. */
void fx_enroll(fx_t *fx, const char *name, const char *model, const char *attr, const char *value,
                   stw_identity_t *who, uint8_t *spki_out, size_t *spki_len_out)
{
  stw_key_t *key = NULL;
  char hex[STW_ID_HEX];
  stw_buf_t der;
  assert_int_equal(stw_key_generate(&key), STW_OK);
  store_fx_put_x509_device(fx->st, fx->domain, key, name, model, STW_STATE_COMMISSIONED, hex, &der);
  if (attr != NULL) {
    stw_attr_row_t a = { 0 };
    snprintf(a.name, sizeof(a.name), "%s", attr);
    snprintf(a.value, sizeof(a.value), "%s", value);
    snprintf(a.authority, sizeof(a.authority), "%s", fx->domain->name);
    assert_int_equal(stw_store_attr_set(fx->st, hex, &a), STW_OK);
  }
  stw_peer_t peer = { .kind = STW_PEER_CERT, .der = der.data, .der_len = der.len };
  stw_ca_t *ca = NULL;
  assert_int_equal(stw_ca_new(fx->domain->ca_der.data, fx->domain->ca_der.len, fx->domain->ca_key, &ca), STW_OK);
  assert_int_equal(stw_identify_peer(fx->st, fx->domain, ca, &peer, who), STW_OK);
  assert_true(who->authenticated);
  stw_ca_free(ca);
  if (spki_out != NULL) {
    *spki_len_out = STW_SPKI_MAX;
    assert_int_equal(stw_key_spki(key, spki_out, spki_len_out), STW_OK);
  }
  stw_buf_free(&der, false);
  stw_key_free(key);
}

int fx_setup(void **state, const char *name)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  fx->dir = stw_test_tmpdir(name);
  assert_int_equal(stw_domain_open(fx->dir, "home", &fx->domain), STW_OK);
  assert_int_equal(stw_store_open(fx->domain->store_url, &fx->st), STW_OK);
  fx_enroll(fx, "util-1", "reader", "role", "utility", &fx->util, fx->util_spki, &fx->util_spki_len);
  fx_enroll(fx, "meter-1", "meter", "place", "flat-3", &fx->meter, NULL, NULL);
  *state = fx;
  return 0;
}

int fx_teardown(void **state)
{
  fx_t *fx = *state;
  stw_store_close(fx->st);
  stw_domain_close(fx->domain);
  stw_test_rmtree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

/* {5: audience, 9: h'AIF', ? 4: req_cnf} */
void fx_build_request(stw_buf_t *b, const char *aud, const char *const *paths, const unsigned *methods, size_t n,
                          const uint8_t *x, const uint8_t *y)
{
  stw_buf_t aif;
  stw_buf_init(&aif, 4096);
  assert_int_equal(stw_cbor_write_head(&aif, STW_CBOR_ARRAY, n), STW_OK);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(stw_cbor_write_head(&aif, STW_CBOR_ARRAY, 2), STW_OK);
    assert_int_equal(stw_cbor_write_bytes(&aif, STW_CBOR_TSTR, paths[i], strlen(paths[i])), STW_OK);
    assert_int_equal(stw_cbor_write_head(&aif, STW_CBOR_UINT, methods[i]), STW_OK);
  }
  stw_buf_init(b, 4096);
  assert_int_equal(stw_cbor_write_head(b, STW_CBOR_MAP, x ? 3 : 2), STW_OK);
  assert_int_equal(stw_cbor_write_int(b, STW_ACE_AUDIENCE), STW_OK);
  assert_int_equal(stw_cbor_write_bytes(b, STW_CBOR_TSTR, aud, strlen(aud)), STW_OK);
  assert_int_equal(stw_cbor_write_int(b, STW_ACE_SCOPE), STW_OK);
  assert_int_equal(stw_cbor_write_bytes(b, STW_CBOR_BSTR, aif.data, aif.len), STW_OK);
  if (x) {
    assert_int_equal(stw_cbor_write_int(b, STW_ACE_REQ_CNF), STW_OK);
    assert_int_equal(stw_cbor_write_head(b, STW_CBOR_MAP, 1), STW_OK);
    assert_int_equal(stw_cbor_write_int(b, 1), STW_OK);
    assert_int_equal(stw_cbor_write_head(b, STW_CBOR_MAP, 4), STW_OK);
    assert_int_equal(stw_cbor_write_int(b, 1), STW_OK);
    assert_int_equal(stw_cbor_write_int(b, 2), STW_OK);
    assert_int_equal(stw_cbor_write_int(b, -1), STW_OK);
    assert_int_equal(stw_cbor_write_int(b, 1), STW_OK);
    assert_int_equal(stw_cbor_write_int(b, -2), STW_OK);
    assert_int_equal(stw_cbor_write_bytes(b, STW_CBOR_BSTR, x, 32), STW_OK);
    assert_int_equal(stw_cbor_write_int(b, -3), STW_OK);
    assert_int_equal(stw_cbor_write_bytes(b, STW_CBOR_BSTR, y, 32), STW_OK);
  }
  stw_buf_free(&aif, false);
}

void fx_add_rule(fx_t *fx, const char *text)
{
  char why[128] = "";
  stw_status_t st = stw_authz_policy_add(fx->st, fx->domain, text, NULL, "admin", stw_now(), NULL, NULL, why, sizeof(why));
  if (st != STW_OK)
    fail_msg("%s: %s", text, why);
}

void fx_decide(fx_t *fx, const stw_identity_t *client, const stw_buf_t *req, stw_pdp_outcome_t *o)
{
  stw_pdp_t pdp = { .store = fx->st, .domain = fx->domain };
  stw_pdp_outcome_init(o);
  assert_int_equal(stw_pdp_decide(&pdp, client, req->data, req->len, stw_now(), o), STW_OK);
}

