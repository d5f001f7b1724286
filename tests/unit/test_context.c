/* The context manager: a context change revokes exactly the live tokens it
 * turns to deny, audited, with the revocation sequence bumped; policy removal
 * and decommission revoke too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/context.h"
#include "authz/pdp.h"
#include "cose.h"
#include "testutil.h"

typedef struct {
  char *dir;
  stw_domain_t *domain;
  stw_store_t *st;
  stw_identity_t util, meter, psk;
  uint8_t util_spki[STW_SPKI_MAX];
  size_t util_spki_len;
} fx_t;

/* An enrolled X.509 device: LDevID from the domain CA, row, attributes. */
static void enroll(fx_t *fx, const char *name, const char *model, const char *attr, const char *value,
                   stw_identity_t *who, uint8_t *spki_out, size_t *spki_len_out)
{
  stw_key_t *key = NULL;
  uint8_t spki[STW_SPKI_MAX], id[STW_DEVICE_ID_LEN];
  size_t spki_len = sizeof(spki);
  char hex[STW_ID_HEX];
  assert_int_equal(stw_key_generate(&key), STW_OK);
  assert_int_equal(stw_key_spki(key, spki, &spki_len), STW_OK);
  assert_int_equal(stw_device_id_from_spki(spki, spki_len, id), STW_OK);
  stw_device_id_hex(id, hex);
  stw_cert_template_t t = { .common_name = name, .organization = fx->domain->name, .serial_number = hex,
                            .not_before = stw_now() - 60, .not_after = stw_now() + 86400, .client_auth = true };
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  char serial[2 * STW_SERIAL_MAX + 1];
  assert_int_equal(stw_cert_issue(fx->domain->ca_key, fx->domain->ca_der.data, fx->domain->ca_der.len, spki, spki_len,
                                  &t, &der, serial),
                   STW_OK);
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  snprintf(d.id, sizeof(d.id), "%s", hex);
  snprintf(d.name, sizeof(d.name), "%s", name);
  snprintf(d.model, sizeof(d.model), "%s", model);
  snprintf(d.manufacturer, sizeof(d.manufacturer), "acme");
  d.state = STW_STATE_COMMISSIONED;
  d.ldevid = der.data;
  d.ldevid_len = der.len;
  snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "%s", serial);
  assert_int_equal(stw_store_device_put(fx->st, &d), STW_OK);
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
    memcpy(spki_out, spki, spki_len);
    *spki_len_out = spki_len;
  }
  stw_buf_free(&der, false);
  stw_key_free(key);
}

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  fx->dir = stw_test_tmpdir("context");
  assert_int_equal(stw_domain_open(fx->dir, "home", &fx->domain), STW_OK);
  assert_int_equal(stw_store_open(fx->domain->store_url, &fx->st), STW_OK);
  enroll(fx, "util-1", "reader", "role", "utility", &fx->util, fx->util_spki, &fx->util_spki_len);
  enroll(fx, "meter-1", "meter", "place", "flat-3", &fx->meter, NULL, NULL);
  *state = fx;
  return 0;
}

static int teardown(void **state)
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
static void build_request(stw_buf_t *b, const char *aud, const char *const *paths, const unsigned *methods, size_t n,
                          const uint8_t *x, const uint8_t *y)
{
  stw_buf_t aif;
  stw_buf_init(&aif, 4096);
  assert_int_equal(stw_cbor_put(&aif, STW_CBOR_ARRAY, n), STW_OK);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(stw_cbor_put(&aif, STW_CBOR_ARRAY, 2), STW_OK);
    assert_int_equal(stw_cbor_put_bytes(&aif, STW_CBOR_TSTR, paths[i], strlen(paths[i])), STW_OK);
    assert_int_equal(stw_cbor_put(&aif, STW_CBOR_UINT, methods[i]), STW_OK);
  }
  stw_buf_init(b, 4096);
  assert_int_equal(stw_cbor_put(b, STW_CBOR_MAP, x ? 3 : 2), STW_OK);
  assert_int_equal(stw_cbor_put_int(b, STW_ACE_AUDIENCE), STW_OK);
  assert_int_equal(stw_cbor_put_bytes(b, STW_CBOR_TSTR, aud, strlen(aud)), STW_OK);
  assert_int_equal(stw_cbor_put_int(b, STW_ACE_SCOPE), STW_OK);
  assert_int_equal(stw_cbor_put_bytes(b, STW_CBOR_BSTR, aif.data, aif.len), STW_OK);
  if (x) {
    assert_int_equal(stw_cbor_put_int(b, STW_ACE_REQ_CNF), STW_OK);
    assert_int_equal(stw_cbor_put(b, STW_CBOR_MAP, 1), STW_OK);
    assert_int_equal(stw_cbor_put_int(b, 1), STW_OK);
    assert_int_equal(stw_cbor_put(b, STW_CBOR_MAP, 4), STW_OK);
    assert_int_equal(stw_cbor_put_int(b, 1), STW_OK);
    assert_int_equal(stw_cbor_put_int(b, 2), STW_OK);
    assert_int_equal(stw_cbor_put_int(b, -1), STW_OK);
    assert_int_equal(stw_cbor_put_int(b, 1), STW_OK);
    assert_int_equal(stw_cbor_put_int(b, -2), STW_OK);
    assert_int_equal(stw_cbor_put_bytes(b, STW_CBOR_BSTR, x, 32), STW_OK);
    assert_int_equal(stw_cbor_put_int(b, -3), STW_OK);
    assert_int_equal(stw_cbor_put_bytes(b, STW_CBOR_BSTR, y, 32), STW_OK);
  }
  stw_buf_free(&aif, false);
}

static void add_rule(fx_t *fx, const char *text)
{
  char why[128] = "";
  stw_status_t st = stw_authz_policy_add(fx->st, fx->domain, text, NULL, "admin", stw_now(), NULL, NULL, why, sizeof(why));
  if (st != STW_OK)
    fail_msg("%s: %s", text, why);
}

static void decide(fx_t *fx, const stw_identity_t *client, const stw_buf_t *req, stw_pdp_outcome_t *o)
{
  stw_pdp_t pdp = { .store = fx->st, .domain = fx->domain };
  stw_pdp_outcome_init(o);
  assert_int_equal(stw_pdp_decide(&pdp, client, req->data, req->len, stw_now(), o), STW_OK);
}

/* Issue a token for util → meter on paths, recorded like the daemon does. */
static void issue(fx_t *fx, const char *path, char cti[STW_CTI_HEX])
{
  const char *paths[] = { path };
  const unsigned get[] = { STW_AIF_GET };
  stw_buf_t req;
  build_request(&req, "meter-1", paths, get, 1, NULL, NULL);
  stw_pdp_outcome_t o;
  decide(fx, &fx->util, &req, &o);
  assert_int_equal(o.error, STW_ACE_OK);
  assert_int_equal(stw_pdp_apply(fx->st, &o), STW_OK);
  snprintf(cti, STW_CTI_HEX, "%s", o.row.cti);
  stw_pdp_outcome_clear(&o);
  stw_buf_free(&req, false);
}

static bool revoked(fx_t *fx, const char *cti)
{
  stw_token_row_t row;
  assert_int_equal(stw_store_token_get(fx->st, cti, &row), STW_OK);
  return row.revoked;
}

static void set_occupied(fx_t *fx, const char *scope, const char *value, uint64_t *count)
{
  stw_context_row_t c = { 0 };
  snprintf(c.scope, sizeof(c.scope), "%s", scope);
  snprintf(c.name, sizeof(c.name), "home.occupied");
  snprintf(c.value, sizeof(c.value), "%s", value);
  assert_int_equal(stw_context_set(fx->st, fx->domain, &c, "admin", stw_now(), count), STW_OK);
}

typedef struct {
  int n;
  char first[STW_CTI_HEX];
} revoked_seen_t;

static stw_status_t count_revoked(const stw_token_row_t *t, void *arg)
{
  revoked_seen_t *s = arg;
  if (s->n++ == 0)
    snprintf(s->first, sizeof(s->first), "%s", t->cti);
  return STW_OK;
}

static void test_context_change_revokes_exactly(void **state)
{
  fx_t *fx = *state;
  add_rule(fx, "permit role=utility -> meter-*:/consumption GET if home.occupied==false");
  add_rule(fx, "permit role=utility -> meter-*:/status GET");
  uint64_t n = 99;
  set_occupied(fx, "place:flat-3", "false", &n);
  assert_int_equal(n, 0);
  char a[STW_CTI_HEX], b[STW_CTI_HEX];
  issue(fx, "/consumption", a);
  issue(fx, "/status", b);
  uint64_t seq0 = 0;
  assert_int_equal(stw_store_revocation_seq(fx->st, &seq0), STW_OK);

  /* Another place's context changes nothing. */
  set_occupied(fx, "place:flat-9", "true", &n);
  assert_int_equal(n, 0);
  /* Someone comes home: the consumption token goes, the status token stays. */
  set_occupied(fx, "place:flat-3", "true", &n);
  assert_int_equal(n, 1);
  assert_true(revoked(fx, a));
  assert_false(revoked(fx, b));
  uint64_t seq1 = 0;
  assert_int_equal(stw_store_revocation_seq(fx->st, &seq1), STW_OK);
  assert_int_equal(seq1, seq0 + 1);

  /* A new request is refused now; after they leave, a new token is issued. */
  const char *paths[] = { "/consumption" };
  const unsigned get[] = { STW_AIF_GET };
  stw_buf_t req;
  build_request(&req, "meter-1", paths, get, 1, NULL, NULL);
  stw_pdp_outcome_t o;
  decide(fx, &fx->util, &req, &o);
  assert_int_equal(o.error, STW_ACE_INVALID_SCOPE);
  stw_pdp_outcome_clear(&o);
  set_occupied(fx, "place:flat-3", "false", &n);
  assert_int_equal(n, 0);
  decide(fx, &fx->util, &req, &o);
  assert_int_equal(o.error, STW_ACE_OK);
  stw_pdp_outcome_clear(&o);
  stw_buf_free(&req, false);

  /* The revocation list lists a, in order, and the audit chain holds. */
  revoked_seen_t seen = { 0 };
  assert_int_equal(stw_store_token_revoked_list(fx->st, stw_now(), count_revoked, &seen), STW_OK);
  assert_int_equal(seen.n, 1);
  assert_string_equal(seen.first, a);
  uint64_t count = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(fx->st, &count, &bad), STW_OK);
}

static void test_policy_removal_and_decommission_revoke(void **state)
{
  fx_t *fx = *state;
  int64_t id = 0;
  char why[64];
  assert_int_equal(stw_authz_policy_add(fx->st, fx->domain, "permit role=utility -> meter-*:/status GET", NULL, "admin",
                                        stw_now(), &id, NULL, why, sizeof(why)),
                   STW_OK);
  char a[STW_CTI_HEX], b[STW_CTI_HEX];
  issue(fx, "/status", a);
  /* A deny rule added later revokes at once. */
  uint64_t n = 0;
  int64_t deny_id = 0;
  assert_int_equal(stw_authz_policy_add(fx->st, fx->domain, "deny * -> *:/status GET", NULL, "admin", stw_now(),
                                        &deny_id, &n, why, sizeof(why)),
                   STW_OK);
  assert_int_equal(n, 1);
  assert_true(revoked(fx, a));
  assert_int_equal(stw_authz_policy_remove(fx->st, fx->domain, deny_id, "admin", stw_now(), &n), STW_OK);
  issue(fx, "/status", b);
  /* Removing the permit revokes what rested on it. */
  assert_int_equal(stw_authz_policy_remove(fx->st, fx->domain, id, "admin", stw_now(), &n), STW_OK);
  assert_int_equal(n, 1);
  assert_true(revoked(fx, b));
  assert_int_equal(stw_authz_policy_remove(fx->st, fx->domain, id, "admin", stw_now(), &n), STW_ERR_NOT_FOUND);
}

static void test_revoke_device(void **state)
{
  fx_t *fx = *state;
  add_rule(fx, "permit role=utility -> meter-*:/status GET");
  char a[STW_CTI_HEX];
  issue(fx, "/status", a);
  uint64_t n = 0;
  assert_int_equal(stw_store_token_revoke_device(fx->st, fx->meter.device_id, stw_now(), "decommission", &n), STW_OK);
  assert_int_equal(n, 1);
  assert_true(revoked(fx, a));
  assert_int_equal(stw_store_token_revoke(fx->st, a, stw_now(), "again", NULL), STW_ERR_NOT_FOUND);
}

static void test_scope_validation(void **state)
{
  (void)state;
  assert_true(stw_context_scope_valid(""));
  assert_true(stw_context_scope_valid("place:flat-3"));
  assert_true(stw_context_scope_valid("owner:alice"));
  assert_true(stw_context_scope_valid("device:0123456789abcdef0123456789abcdef"));
  assert_false(stw_context_scope_valid("device:xyz"));
  assert_false(stw_context_scope_valid("room:1"));
  assert_false(stw_context_scope_valid("place:"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_context_change_revokes_exactly, setup, teardown),
    cmocka_unit_test_setup_teardown(test_policy_removal_and_decommission_revoke, setup, teardown),
    cmocka_unit_test_setup_teardown(test_revoke_device, setup, teardown),
    cmocka_unit_test(test_scope_validation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
