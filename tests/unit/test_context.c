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

#include "authz_fixture.h"
#include "cose.h"
#include "testutil.h"

static int setup(void **state)
{
  return fx_setup(state, "context");
}

/* Issue a token for util → meter on paths, recorded like the daemon does. */
static void issue(fx_t *fx, const char *path, char cti[STW_CTI_HEX])
{
  const char *paths[] = { path };
  const unsigned get[] = { STW_AIF_GET };
  stw_buf_t req;
  fx_build_request(&req, "meter-1", paths, get, 1, NULL, NULL);
  stw_pdp_outcome_t o;
  fx_decide(fx, &fx->util, &req, &o);
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
  fx_add_rule(fx, "permit role=utility -> meter-*:/consumption GET if home.occupied==false");
  fx_add_rule(fx, "permit role=utility -> meter-*:/status GET");
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
  fx_build_request(&req, "meter-1", paths, get, 1, NULL, NULL);
  stw_pdp_outcome_t o;
  fx_decide(fx, &fx->util, &req, &o);
  assert_int_equal(o.error, STW_ACE_INVALID_SCOPE);
  stw_pdp_outcome_clear(&o);
  set_occupied(fx, "place:flat-3", "false", &n);
  assert_int_equal(n, 0);
  fx_decide(fx, &fx->util, &req, &o);
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
  fx_add_rule(fx, "permit role=utility -> meter-*:/status GET");
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

/* POST /context: a device publishes only the names its "publishes" attribute
 * lists, scoped to its place, else its owner, else itself. */
static void with_attr(stw_identity_t *who, const char *name, const char *value)
{
  stw_attr_row_t *a = &who->attrs[who->n_attrs++];
  snprintf(a->name, sizeof(a->name), "%s", name);
  snprintf(a->value, sizeof(a->value), "%s", value);
}

static void test_device_publishes(void **state)
{
  (void)state;
  /* {1: "home.occupied", 2: "true"} */
  static const uint8_t body[] = { 0xa2, 0x01, 0x6d, 'h', 'o', 'm', 'e', '.', 'o', 'c', 'c', 'u', 'p', 'i', 'e', 'd',
                                  0x02, 0x64, 't', 'r', 'u', 'e' };
  stw_identity_t who;
  memset(&who, 0, sizeof(who));
  who.authenticated = true;
  snprintf(who.device_id, sizeof(who.device_id), "0123456789abcdef0123456789abcdef");
  stw_context_row_t row;

  /* Not listed, or listed only as part of a longer name: refused. */
  assert_int_equal(stw_context_from_device(&who, body, sizeof(body), &row), STW_ERR_FORBIDDEN);
  with_attr(&who, "publishes", "home.occupiedX,lights");
  assert_int_equal(stw_context_from_device(&who, body, sizeof(body), &row), STW_ERR_FORBIDDEN);
  snprintf(who.attrs[0].value, sizeof(who.attrs[0].value), "lights, home.occupied");

  assert_int_equal(stw_context_from_device(&who, body, sizeof(body), &row), STW_OK);
  assert_string_equal(row.scope, "device:0123456789abcdef0123456789abcdef");
  assert_string_equal(row.name, "home.occupied");
  assert_string_equal(row.value, "true");
  with_attr(&who, "owner", "alice");
  assert_int_equal(stw_context_from_device(&who, body, sizeof(body), &row), STW_OK);
  assert_string_equal(row.scope, "owner:alice");
  with_attr(&who, "place", "flat-3");
  assert_int_equal(stw_context_from_device(&who, body, sizeof(body), &row), STW_OK);
  assert_string_equal(row.scope, "place:flat-3");

  /* A body that is not {1: name, 2: value} is malformed before anything else. */
  assert_int_equal(stw_context_from_device(&who, body, sizeof(body) - 1, &row), STW_ERR_MALFORMED);
  assert_int_equal(stw_context_from_device(&who, NULL, 0, &row), STW_ERR_MALFORMED);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_context_change_revokes_exactly, setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_policy_removal_and_decommission_revoke, setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_revoke_device, setup, fx_teardown),
    cmocka_unit_test(test_scope_validation),
    cmocka_unit_test(test_device_publishes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
