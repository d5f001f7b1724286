/* Registration and privacy-aware discovery end to end: the real daemon on
 * loopback, devices registering and looking up through the SDK, an
 * unauthenticated asker through libcoap's coap-client, and what the daemon
 * wrote read back from its store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "steward/discovery.h"
#include "testutil.h"

#define LINKS "</temp>;rt=\"temperature\";if=\"sensor\",</cfg>;rt=\"config\";vis=\"role=maintainer\""
#define OK_CODE(c, d) IT_COAP(c, d)

enum { SENSOR, MAINT, UTIL, HIDDEN, PUBLIC, N_DEV };

typedef struct {
  it_world_t w;
  it_daemon_t d;
  it_device_t dev[N_DEV];
  char where[N_DEV][STW_LOCATION_MAX];
  char idevid_cert[IT_PATH_MAX], idevid_key[IT_PATH_MAX];  /* an untrusted certificate (IDevID) */
} fixture_t;

static fixture_t *F;

static void set_attr(const char *device_id, const char *name, const char *value)
{
  stw_attr_row_t a;
  memset(&a, 0, sizeof(a));
  snprintf(a.name, sizeof(a.name), "%s", name);
  snprintf(a.value, sizeof(a.value), "%s", value);
  snprintf(a.authority, sizeof(a.authority), "home.example");
  assert_int_equal(stw_store_attr_set(F->w.store, device_id, &a), STW_OK);
}

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  F = f;
  assert_int_equal(it_world_start(&f->w, "thermo-1", NULL, &f->d), STW_OK);
  for (int i = 0; i < N_DEV; i++) {
    assert_int_equal(it_device_new(&f->w, "thermo-1", false, &f->dev[i]), STW_OK);
    stw_bootstrap_report_t why;
    stw_status_t st = stw_bootstrap(f->dev[i].dev, f->d.uri, &why);
    if (st != STW_OK)
      printf("    bootstrap refused: %s\n", why.reason);
    assert_int_equal(st, STW_OK);
  }
  set_attr(stw_dev_id(f->dev[MAINT].dev), "role", "maintainer");
  set_attr(stw_dev_id(f->dev[UTIL].dev), "role", "utility");
  set_attr(stw_dev_id(f->dev[SENSOR].dev), "location", "kitchen");
  set_attr(stw_dev_id(f->dev[SENSOR].dev), "owner", "alice");
  set_attr(stw_dev_id(f->dev[PUBLIC].dev), "location", "hall");
  snprintf(f->idevid_cert, sizeof(f->idevid_cert), "%s/idevid-cert.pem", f->w.root);
  snprintf(f->idevid_key, sizeof(f->idevid_key), "%s/idevid-key.pem", f->w.root);
  assert_int_equal(it_device_write_idevid(&f->dev[SENSOR], f->idevid_cert, f->idevid_key), STW_OK);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  for (int i = 0; i < N_DEV; i++)
    it_device_free(&f->dev[i]);
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

static stw_dev_t *dev(int i)
{
  return F->dev[i].dev;
}

static char *lookup(int asker, const char *kind, const char *query, stw_bootstrap_report_t *why)
{
  char *links = NULL;
  size_t len = 0;
  stw_status_t st = stw_lookup(dev(asker), F->d.uri, kind, query, &links, &len, why);
  if (st != STW_OK)
    printf("    lookup %s?%s: %s (%s)\n", kind, query, stw_status_str(st), why->reason);
  assert_int_equal(st, STW_OK);
  assert_int_equal(strlen(links), len);
  return links;
}

static void register_dev(int i, const char *links, const char *extra)
{
  stw_bootstrap_report_t why;
  stw_status_t st = stw_register(dev(i), F->d.uri, links, 3600, extra, F->where[i], &why);
  if (st != STW_OK)
    printf("    register: %s (%s)\n", stw_status_str(st), why.reason);
  assert_int_equal(st, STW_OK);
  assert_int_equal(why.coap_code, OK_CODE(2, 1));
  assert_true(strncmp(F->where[i], "rd/", 3) == 0);
}

static void test_register_commissions(void **state)
{
  (void)state;
  uint64_t seq = it_audit_last(F->w.store);
  const char *id = stw_dev_id(dev(SENSOR));
  assert_int_equal(it_device_state(F->w.store, id), STW_STATE_BOOTSTRAPPED);
  register_dev(SENSOR, LINKS, "dattr=model%20location");
  printf("    %s registered at %s\n", stw_dev_name(dev(SENSOR)), F->where[SENSOR]);
  assert_int_equal(it_device_state(F->w.store, id), STW_STATE_COMMISSIONED);
  assert_int_equal(it_audit_count(F->w.store, seq, "transition", id, NULL, NULL), 1);
  assert_int_equal(it_audit_count(F->w.store, seq, "rd.register", id, "ok", NULL), 1);
  stw_rd_reg_t reg;
  assert_int_equal(stw_store_rd_get_by_device(F->w.store, id, &reg), STW_OK);
  assert_string_equal(reg.ep, stw_dev_name(dev(SENSOR)));
  assert_string_equal(F->where[SENSOR] + 3, reg.id);
  assert_int_equal(reg.lt, 3600);
  stw_rd_reg_clear(&reg);

  /* Registering again keeps the place and does not transition again. */
  char again[STW_LOCATION_MAX];
  stw_bootstrap_report_t why;
  seq = it_audit_last(F->w.store);
  assert_int_equal(stw_register(dev(SENSOR), F->d.uri, LINKS, 3600, "dattr=model%20location", again, &why), STW_OK);
  assert_string_equal(again, F->where[SENSOR]);
  assert_int_equal(it_audit_count(F->w.store, seq, "transition", id, NULL, NULL), 0);

  register_dev(HIDDEN, "</secret>;rt=\"temperature\"", "vis=role=maintainer");
  register_dev(PUBLIC, "</pub>;rt=\"temperature\"", "vis=public&dattr=location");
}

static void test_roles_see_different_answers(void **state)
{
  (void)state;
  char q[128];
  snprintf(q, sizeof(q), "ep=%s", stw_dev_name(dev(SENSOR)));
  stw_bootstrap_report_t why;
  char *maint = lookup(MAINT, "res", q, &why);
  assert_int_equal(why.coap_code, OK_CODE(2, 5));
  char *util = lookup(UTIL, "res", q, &why);
  printf("    maintainer sees: %s\n    utility sees:    %s\n", maint, util);
  assert_non_null(strstr(maint, "temperature"));
  assert_non_null(strstr(maint, "config"));
  assert_non_null(strstr(util, "temperature"));
  assert_null(strstr(util, "config"));
  assert_null(strstr(maint, "vis="));  /* a resource's rule is never published */
  free(maint);
  free(util);

  /* The whole registration hidden from all but maintainers. */
  char *m_eps = lookup(MAINT, "ep", NULL, &why);
  char *u_eps = lookup(UTIL, "ep", NULL, &why);
  assert_non_null(strstr(m_eps, stw_dev_name(dev(HIDDEN))));
  assert_null(strstr(u_eps, stw_dev_name(dev(HIDDEN))));
  assert_non_null(strstr(u_eps, stw_dev_name(dev(SENSOR))));
  free(m_eps);
  free(u_eps);

  /* rt filter with a trailing wildcard, and paging after filtering. */
  char *temp = lookup(UTIL, "res", "rt=temp*", &why);
  assert_non_null(strstr(temp, "/temp>"));
  assert_non_null(strstr(temp, "/pub>"));
  assert_null(strstr(temp, "/secret>"));
  free(temp);
  char *page0 = lookup(UTIL, "res", "rt=temp*&count=1&page=0", &why);
  char *page1 = lookup(UTIL, "res", "rt=temp*&count=1&page=1", &why);
  char *page2 = lookup(UTIL, "res", "rt=temp*&count=1&page=2", &why);
  assert_true(strlen(page0) > 0 && strlen(page1) > 0);
  assert_string_not_equal(page0, page1);
  assert_string_equal(page2, "");  /* two visible matches: the hidden one leaves no page */
  free(page0);
  free(page1);
  free(page2);
}

static void test_hidden_is_absent(void **state)
{
  (void)state;
  char hidden_q[128], absent_q[128];
  snprintf(hidden_q, sizeof(hidden_q), "ep=%s", stw_dev_name(dev(HIDDEN)));
  snprintf(absent_q, sizeof(absent_q), "ep=thermo-1-ffffffff");
  const char *kinds[] = { "ep", "res" };
  for (size_t k = 0; k < 2; k++) {
    stw_bootstrap_report_t why_h, why_a;
    char *h = lookup(UTIL, kinds[k], hidden_q, &why_h);
    char *a = lookup(UTIL, kinds[k], absent_q, &why_a);
    assert_int_equal(why_h.coap_code, why_a.coap_code);
    assert_int_equal(strlen(h), strlen(a));
    assert_memory_equal(h, a, strlen(a) + 1);
    free(h);
    free(a);
    char *seen = lookup(MAINT, kinds[k], hidden_q, &why_h);
    assert_true(strlen(seen) > 0);
    free(seen);
  }
  /* Resolution: hidden and unknown handles get the same refusal. */
  char hidden_h[128], absent_h[128];
  snprintf(hidden_h, sizeof(hidden_h), "home.example/%s", stw_dev_id(dev(HIDDEN)));
  snprintf(absent_h, sizeof(absent_h), "home.example/%032x", 7);
  stw_resolution_t *r = NULL;
  stw_bootstrap_report_t why_h, why_a;
  assert_int_equal(stw_resolve(dev(UTIL), F->d.uri, hidden_h, NULL, &r, &why_h), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_resolve(dev(UTIL), F->d.uri, absent_h, NULL, &r, &why_a), STW_ERR_NOT_FOUND);
  assert_null(r);
  assert_int_equal(why_h.coap_code, why_a.coap_code);
  assert_string_equal(why_h.reason, why_a.reason);
  printf("    hidden and absent alike: %u.%02u \"%s\"\n", why_h.coap_code >> 5, why_h.coap_code & 31, why_h.reason);
}

/* An asker whose certificate is not an LDevID of this domain (here the
 * IDevID, from the manufacturer) sees only public entries. */
static void test_unauthenticated_sees_public_only(void **state)
{
  (void)state;
  char out[IT_PATH_MAX + 16];
  snprintf(out, sizeof(out), "%s/eps.out", F->w.root);
  it_tool_result_t res;
  unlink(out);
  assert_int_equal(it_coap_client(&F->d, F->idevid_cert, F->idevid_key, "get", "rd-lookup/ep", -1, 40, NULL, out, &res),
                   STW_OK);
  size_t len = 0;
  uint8_t *body = it_read_file(out, &len);
  char text[4096] = "";
  if (body != NULL)
    snprintf(text, sizeof(text), "%.*s", (int)len, (const char *)body);
  free(body);
  printf("    unauthenticated sees: %s\n", text);
  assert_non_null(strstr(text, stw_dev_name(dev(PUBLIC))));
  assert_null(strstr(text, stw_dev_name(dev(SENSOR))));
  assert_null(strstr(text, stw_dev_name(dev(HIDDEN))));

  /* And it cannot register: 4.01, audited. */
  char path[128];
  snprintf(path, sizeof(path), "rd?ep=%s", stw_dev_name(dev(SENSOR)));
  uint64_t seq = it_audit_last(F->w.store);
  assert_int_equal(it_coap_client(&F->d, F->idevid_cert, F->idevid_key, "post", path, 40, -1, NULL, NULL, &res), STW_OK);
  assert_int_equal(res.code, IT_COAP(4, 1));
  assert_int_equal(it_audit_count(F->w.store, seq, "refuse.rd.register", NULL, "rd-unauthenticated", NULL), 1);
}

static void test_resolution_discloses_chosen_attributes(void **state)
{
  (void)state;
  char handle[128];
  snprintf(handle, sizeof(handle), "home.example/%s", stw_dev_id(dev(SENSOR)));
  stw_resolution_t *r = NULL;
  stw_bootstrap_report_t why;
  stw_status_t st = stw_resolve(dev(UTIL), F->d.uri, handle, "model location owner", &r, &why);
  if (st != STW_OK)
    printf("    resolve: %s (%s)\n", stw_status_str(st), why.reason);
  assert_int_equal(st, STW_OK);
  assert_string_equal(stw_resolution_handle(r), handle);
  assert_string_equal(stw_resolution_ep(r), stw_dev_name(dev(SENSOR)));
  assert_int_equal(stw_resolution_base_count(r), 1);
  size_t spki_len = 0;
  assert_non_null(stw_resolution_spki(r, &spki_len));
  assert_true(spki_len > 60);
  assert_string_equal(stw_resolution_attr_value(r, "location", "home.example"), "kitchen");
  assert_string_equal(stw_resolution_attr_value(r, "model", "ACME"), "thermo-1");
  assert_null(stw_resolution_attr_value(r, "owner", "home.example"));  /* not made discoverable */
  assert_int_equal(stw_resolution_attr_count(r), 2);
  assert_null(strstr(stw_resolution_links(r), "config"));  /* a utility may not see /cfg */
  assert_non_null(strstr(stw_resolution_links(r), "temperature"));
  for (size_t i = 0; i < stw_resolution_attr_count(r); i++) {
    const char *n, *v, *a;
    assert_int_equal(stw_resolution_attr(r, i, &n, &v, &a), STW_OK);
    printf("    verified: %s = %s (said by %s)\n", n, v, a);
  }
  stw_resolution_free(r);
}

/* The raw answer, as coap-client fetched it, verifies; any change does not. */
static void test_tampered_resolution_refused(void **state)
{
  (void)state;
  char handle[128], path[200], out[IT_PATH_MAX + 16];
  snprintf(handle, sizeof(handle), "home.example/%s", stw_dev_id(dev(PUBLIC)));
  snprintf(path, sizeof(path), "hdl/%s?a=location", handle);
  snprintf(out, sizeof(out), "%s/hdl.cbor", F->w.root);
  it_tool_result_t res;
  assert_int_equal(it_coap_client(&F->d, F->idevid_cert, F->idevid_key, "get", path, -1, 60, NULL, out, &res), STW_OK);
  size_t len = 0;
  uint8_t *cbor = it_read_file(out, &len);
  assert_non_null(cbor);
  const stw_buf_t *ca = &F->w.domain->ca_der;
  stw_resolution_t *r = NULL;
  assert_int_equal(stw_resolution_verify(ca->data, ca->len, handle, cbor, len, stw_now(), &r), STW_OK);
  assert_string_equal(stw_resolution_attr_value(r, "location", "home.example"), "hall");
  stw_resolution_free(r);

  /* Another value in the disclosed leaf: the proof no longer reaches the root. */
  uint8_t *hall = NULL;
  for (size_t i = 0; i + 4 <= len; i++)
    if (memcmp(cbor + i, "hall", 4) == 0)
      hall = cbor + i;
  assert_non_null(hall);
  hall[0] = 'w';
  assert_int_equal(stw_resolution_verify(ca->data, ca->len, handle, cbor, len, stw_now(), &r), STW_ERR_TAMPERED);
  assert_null(r);
  hall[0] = 'h';
  /* The answer about another handle than the one asked for. */
  char other[128];
  snprintf(other, sizeof(other), "home.example/%s", stw_dev_id(dev(SENSOR)));
  assert_int_not_equal(stw_resolution_verify(ca->data, ca->len, other, cbor, len, stw_now(), &r), STW_OK);
  /* A root checked against another domain's key. */
  const stw_buf_t *mfg_der = &F->w.mfg->ca_der;
  stw_status_t st = stw_resolution_verify(mfg_der->data, mfg_der->len, handle, cbor, len, stw_now(), &r);
  assert_true(st == STW_ERR_BAD_SIGNATURE || st == STW_ERR_UNTRUSTED);
  assert_null(r);
  free(cbor);
}

static void test_update_with_and_without_payload(void **state)
{
  (void)state;
  const char *id = stw_dev_id(dev(SENSOR));
  stw_bootstrap_report_t why;
  assert_int_equal(stw_register_update(dev(SENSOR), F->d.uri, F->where[SENSOR], 120, NULL, &why), STW_OK);
  assert_int_equal(why.coap_code, OK_CODE(2, 4));
  stw_rd_reg_t reg;
  assert_int_equal(stw_store_rd_get_by_device(F->w.store, id, &reg), STW_OK);
  assert_int_equal(reg.lt, 120);
  assert_non_null(strstr(reg.links, "temperature"));  /* links kept */
  stw_rd_reg_clear(&reg);

  assert_int_equal(stw_register_update(dev(SENSOR), F->d.uri, F->where[SENSOR], 0, "</hum>;rt=\"humidity\"", &why),
                   STW_OK);
  char q[128];
  snprintf(q, sizeof(q), "ep=%s", stw_dev_name(dev(SENSOR)));
  char *links = lookup(MAINT, "res", q, &why);
  assert_non_null(strstr(links, "humidity"));
  assert_null(strstr(links, "temperature"));
  free(links);
  assert_int_equal(stw_store_rd_get_by_device(F->w.store, id, &reg), STW_OK);
  assert_int_equal(reg.lt, 120);
  stw_rd_reg_clear(&reg);
}

static void test_other_devices_entry_forbidden(void **state)
{
  (void)state;
  uint64_t seq = it_audit_last(F->w.store);
  stw_bootstrap_report_t why;
  assert_int_equal(stw_register_update(dev(UTIL), F->d.uri, F->where[SENSOR], 600, "</evil>", &why), STW_ERR_FORBIDDEN);
  assert_int_equal(why.coap_code, IT_COAP(4, 3));
  assert_int_equal(stw_register_delete(dev(UTIL), F->d.uri, F->where[SENSOR], &why), STW_ERR_FORBIDDEN);
  assert_int_equal(why.coap_code, IT_COAP(4, 3));
  assert_int_equal(it_audit_count(F->w.store, seq, NULL, NULL, "not-yours", NULL), 2);
  stw_rd_reg_t reg;
  assert_int_equal(stw_store_rd_get_by_device(F->w.store, stw_dev_id(dev(SENSOR)), &reg), STW_OK);
  assert_null(strstr(reg.links, "evil"));
  assert_int_equal(reg.lt, 120);
  stw_rd_reg_clear(&reg);
}

/* Lifetime expiry without waiting the minimum minute: the test moves the
 * entry's expiry into the past through the store, as time would. */
static void test_lifetime_expiry(void **state)
{
  (void)state;
  const char *id = stw_dev_id(dev(HIDDEN));
  char q[128];
  snprintf(q, sizeof(q), "ep=%s", stw_dev_name(dev(HIDDEN)));
  stw_bootstrap_report_t why;
  char *before = lookup(MAINT, "ep", q, &why);
  assert_true(strlen(before) > 0);
  free(before);
  int64_t now = stw_now();
  assert_int_equal(stw_store_rd_touch(F->w.store, F->where[HIDDEN] + 3, 60, now - 1, now - 61), STW_OK);
  char *after = lookup(MAINT, "ep", q, &why);
  assert_string_equal(after, "");  /* gone from answers at once */
  free(after);
  uint64_t seq = it_audit_last(F->w.store);
  /* The sweep runs at most every 10 s, on the next request after that. */
  stw_rd_reg_t reg;
  stw_status_t st = STW_OK;
  for (int i = 0; i < 30 && st == STW_OK; i++) {
    sleep(1);
    char *again = lookup(MAINT, "ep", q, &why);
    free(again);
    usleep(200000);
    st = stw_store_rd_get_by_device(F->w.store, id, &reg);
    if (st == STW_OK)
      stw_rd_reg_clear(&reg);
  }
  assert_int_equal(st, STW_ERR_NOT_FOUND);
  assert_true(it_audit_count(F->w.store, seq, "rd.expire", NULL, "ok", NULL) >= 1);
  /* Its owner may no longer update it. */
  assert_int_equal(stw_register_update(dev(HIDDEN), F->d.uri, F->where[HIDDEN], 0, NULL, &why), STW_ERR_NOT_FOUND);
}

static void test_delete(void **state)
{
  (void)state;
  uint64_t seq = it_audit_last(F->w.store);
  stw_bootstrap_report_t why;
  assert_int_equal(stw_register_delete(dev(SENSOR), F->d.uri, F->where[SENSOR], &why), STW_OK);
  assert_int_equal(why.coap_code, OK_CODE(2, 2));
  assert_int_equal(it_audit_count(F->w.store, seq, "rd.delete", stw_dev_id(dev(SENSOR)), "ok", NULL), 1);
  char q[128];
  snprintf(q, sizeof(q), "ep=%s", stw_dev_name(dev(SENSOR)));
  char *links = lookup(MAINT, "res", q, &why);
  assert_string_equal(links, "");
  free(links);
  assert_int_equal(stw_register_delete(dev(SENSOR), F->d.uri, F->where[SENSOR], &why), STW_ERR_NOT_FOUND);
  /* A device that is not enrolled cannot use any of it. */
  stw_dev_t *fresh = NULL;
  assert_int_equal(it_device_reopen(&F->w, &F->dev[SENSOR], &fresh), STW_OK);
  char where[STW_LOCATION_MAX];
  assert_int_equal(stw_register(fresh, F->d.uri, LINKS, 0, NULL, where, &why), STW_ERR_STATE);
  stw_dev_close(fresh);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_register_commissions),
    cmocka_unit_test(test_roles_see_different_answers),
    cmocka_unit_test(test_hidden_is_absent),
    cmocka_unit_test(test_unauthenticated_sees_public_only),
    cmocka_unit_test(test_resolution_discloses_chosen_attributes),
    cmocka_unit_test(test_tampered_resolution_refused),
    cmocka_unit_test(test_update_with_and_without_payload),
    cmocka_unit_test(test_other_devices_entry_forbidden),
    cmocka_unit_test(test_lifetime_expiry),
    cmocka_unit_test(test_delete),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
