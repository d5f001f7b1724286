/* The resource directory's decisions, writes, lookups and resolution, driven
 * directly over a temporary store and domain: no network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd/rd.h"
#include "steward/discovery.h"
#include "testutil.h"

#define N_DEV 4

typedef struct {
  char *dir;
  stw_domain_t *domain;
  stw_store_t *store;
  stw_rd_t *rd;
  stw_asker_t asker[N_DEV];
  char id[N_DEV][STW_ID_HEX];
  char name[N_DEV][STW_TEXT_MAX];
} fixture_t;

static void add_attr(stw_asker_t *a, const char *name, const char *value)
{
  stw_attr_row_t *r = &a->attrs[a->n_attrs++];
  snprintf(r->name, sizeof(r->name), "%s", name);
  snprintf(r->value, sizeof(r->value), "%s", value);
  snprintf(r->authority, sizeof(r->authority), "home.example");
}

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->dir = stw_test_tmpdir("rd");
  assert_int_equal(stw_domain_open(f->dir, "home.example", &f->domain), STW_OK);
  assert_int_equal(stw_store_open(f->domain->store_url, &f->store), STW_OK);
  assert_int_equal(stw_rd_new(f->store, f->domain, &f->rd), STW_OK);
  for (int i = 0; i < N_DEV; i++) {
    stw_device_t d;
    memset(&d, 0, sizeof(d));
    snprintf(f->id[i], sizeof(f->id[i]), "%032x", 0xa0 + i);
    snprintf(f->name[i], sizeof(f->name[i]), "thermo-1-%08x", 0xa0 + i);
    snprintf(d.id, sizeof(d.id), "%s", f->id[i]);
    snprintf(d.name, sizeof(d.name), "%s", f->name[i]);
    snprintf(d.model, sizeof(d.model), "thermo-1");
    snprintf(d.manufacturer, sizeof(d.manufacturer), "ACME");
    d.state = STW_STATE_BOOTSTRAPPED;
    d.created_at = d.updated_at = stw_now();
    assert_int_equal(stw_store_device_put(f->store, &d), STW_OK);
    f->asker[i].authenticated = true;
    snprintf(f->asker[i].device_id, sizeof(f->asker[i].device_id), "%s", f->id[i]);
    add_attr(&f->asker[i], "device", f->id[i]);
  }
  add_attr(&f->asker[1], "role", "maintainer");
  add_attr(&f->asker[2], "role", "utility");
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  stw_rd_free(f->rd);
  stw_store_close(f->store);
  stw_domain_close(f->domain);
  stw_test_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static stw_status_t query(const char *text, stw_rd_query_t *q)
{
  return stw_rd_query_parse_string(text, strlen(text), q);
}

/* Decide and apply a registration; the outcome's status. */
static stw_status_t do_register(fixture_t *f, int who, const char *qtext, const char *links, char *location)
{
  stw_rd_query_t q;
  stw_status_t st = query(qtext, &q);
  if (st != STW_OK)
    return st;
  stw_rd_outcome_t o;
  stw_rd_outcome_init(&o, STW_RD_REGISTER);
  stw_rd_decide_register(f->rd, &f->asker[who], &q, links, strlen(links), "coaps://[::1]:5684", &o);
  assert_int_equal(stw_rd_apply(f->store, &o), STW_OK);
  if (location != NULL && o.status == STW_OK)
    snprintf(location, STW_RD_ID_MAX, "%s", o.reg.id);
  st = o.status;
  stw_rd_outcome_clear(&o);
  return st;
}

static char *lookup(fixture_t *f, const stw_asker_t *asker, stw_rd_lookup_t kind, const char *qtext, stw_status_t *st)
{
  stw_rd_query_t q;
  assert_int_equal(query(qtext, &q), STW_OK);
  stw_buf_t out;
  *st = stw_rd_lookup(f->rd, asker, kind, &q, stw_now(), &out);
  char *text = calloc(1, out.len + 1);
  assert_non_null(text);
  if (out.len)
    memcpy(text, out.data, out.len);
  stw_buf_free(&out, false);
  return text;
}

static void test_bad_registrations_change_nothing(void **state)
{
  fixture_t *f = *state;
  char ep0[96], ep1[96];
  snprintf(ep0, sizeof(ep0), "ep=%s", f->name[0]);
  snprintf(ep1, sizeof(ep1), "ep=%s", f->name[1]);
  assert_int_equal(do_register(f, 0, ep0, "</t;rt=x", NULL), STW_ERR_MALFORMED);      /* unterminated < */
  assert_int_equal(do_register(f, 0, ep0, "</t>;=x", NULL), STW_ERR_MALFORMED);       /* no attribute name */
  assert_int_equal(do_register(f, 0, ep0, "</t>;rt=\"x", NULL), STW_ERR_MALFORMED);   /* open quote */
  char huge[600];
  snprintf(huge, sizeof(huge), "</t>;rt=\"%0500d\"", 0);
  assert_int_equal(do_register(f, 0, ep0, huge, NULL), STW_ERR_TOO_LARGE);
  char *big = malloc(STW_LINKS_PAYLOAD_MAX + 64);
  assert_non_null(big);
  size_t used = 0;
  while (used < STW_LINKS_PAYLOAD_MAX + 8)
    used += (size_t)snprintf(big + used, STW_LINKS_PAYLOAD_MAX + 64 - used, "</r%04zu>,", used);
  big[used - 1] = '\0';
  assert_int_equal(do_register(f, 0, ep0, big, NULL), STW_ERR_TOO_LARGE);
  free(big);
  assert_int_equal(do_register(f, 0, "lt=100", "</t>", NULL), STW_ERR_MALFORMED);      /* missing ep */
  assert_int_equal(do_register(f, 0, ep1, "</t>", NULL), STW_ERR_FORBIDDEN);           /* another's ep */
  char q[160];
  snprintf(q, sizeof(q), "%s&vis=role", ep0);
  assert_int_equal(do_register(f, 0, q, "</t>", NULL), STW_ERR_MALFORMED);             /* bad vis rule */
  snprintf(q, sizeof(q), "%s&colour=red", ep0);
  assert_int_equal(do_register(f, 0, q, "</t>", NULL), STW_ERR_MALFORMED);             /* unknown parameter */
  stw_rd_query_t parsed;
  snprintf(q, sizeof(q), "%s&lt=59", ep0);
  assert_int_equal(query(q, &parsed), STW_ERR_INVALID);                                /* lt out of range */
  snprintf(q, sizeof(q), "%s&lt=31536001", ep0);
  assert_int_equal(query(q, &parsed), STW_ERR_INVALID);
  /* An unauthenticated asker cannot register at all. */
  stw_asker_t nobody;
  memset(&nobody, 0, sizeof(nobody));
  stw_rd_outcome_t o;
  stw_rd_outcome_init(&o, STW_RD_REGISTER);
  assert_int_equal(query(ep0, &parsed), STW_OK);
  assert_int_equal(stw_rd_decide_register(f->rd, &nobody, &parsed, "</t>", 4, "coaps://[::1]", &o),
                   STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_rd_coap_code(&o), (4u << 5) | 1u);
  stw_rd_outcome_clear(&o);
  /* Nothing was written, nobody moved on. */
  uint64_t count = 99;
  assert_int_equal(stw_store_rd_count(f->store, &count), STW_OK);
  assert_int_equal(count, 0);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(f->store, f->id[0], &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_BOOTSTRAPPED);
  stw_device_clear(&d);
}

static void test_register_update_delete_ownership(void **state)
{
  fixture_t *f = *state;
  char q[160], loc[STW_RD_ID_MAX];
  snprintf(q, sizeof(q), "ep=%s&lt=120", f->name[0]);
  assert_int_equal(do_register(f, 0, q, "</temp>;rt=\"temperature\",</cfg>;rt=\"config\";vis=\"role=maintainer\"", loc),
                   STW_OK);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(f->store, f->id[0], &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_COMMISSIONED);
  stw_device_clear(&d);

  stw_rd_query_t none;
  assert_int_equal(query("", &none), STW_OK);
  stw_rd_outcome_t o;
  stw_rd_outcome_init(&o, STW_RD_UPDATE);
  assert_int_equal(stw_rd_decide_update(f->rd, &f->asker[2], loc, &none, "</x>", 4, true, &o), STW_ERR_FORBIDDEN);
  assert_int_equal(stw_rd_coap_code(&o), (4u << 5) | 3u);
  stw_rd_outcome_clear(&o);
  stw_rd_outcome_init(&o, STW_RD_DELETE);
  assert_int_equal(stw_rd_decide_delete(f->rd, &f->asker[2], loc, &o), STW_ERR_FORBIDDEN);
  stw_rd_outcome_clear(&o);
  stw_rd_outcome_init(&o, STW_RD_UPDATE);
  assert_int_equal(stw_rd_decide_update(f->rd, &f->asker[0], "nosuch", &none, NULL, 0, false, &o), STW_ERR_NOT_FOUND);
  stw_rd_outcome_clear(&o);
  /* Update without payload keeps the links (and their visibility). */
  stw_rd_query_t lt;
  assert_int_equal(query("lt=600", &lt), STW_OK);
  stw_rd_outcome_init(&o, STW_RD_UPDATE);
  assert_int_equal(stw_rd_decide_update(f->rd, &f->asker[0], loc, &lt, NULL, 0, false, &o), STW_OK);
  assert_int_equal(stw_rd_apply(f->store, &o), STW_OK);
  stw_rd_outcome_clear(&o);
  stw_status_t st;
  snprintf(q, sizeof(q), "ep=%s", f->name[0]);
  char *util = lookup(f, &f->asker[2], STW_RD_LOOKUP_RES, q, &st);
  char *maint = lookup(f, &f->asker[1], STW_RD_LOOKUP_RES, q, &st);
  assert_null(strstr(util, "config"));
  assert_non_null(strstr(maint, "config"));
  free(util);
  free(maint);
  stw_rd_reg_t reg;
  assert_int_equal(stw_store_rd_get(f->store, loc, &reg), STW_OK);
  assert_int_equal(reg.lt, 600);
  stw_rd_reg_clear(&reg);
}

/* Paging counts visible matches only, and hidden answers like absent. */
static void test_paging_and_hidden_is_absent(void **state)
{
  fixture_t *f = *state;
  char q[160];
  snprintf(q, sizeof(q), "ep=%s&vis=role=maintainer", f->name[3]);
  assert_int_equal(do_register(f, 3, q, "</h1>;rt=\"temperature\",</h2>;rt=\"temperature\"", NULL), STW_OK);
  snprintf(q, sizeof(q), "ep=%s", f->name[1]);
  assert_int_equal(do_register(f, 1, q, "</m>;rt=\"temperature\"", NULL), STW_OK);
  stw_status_t st;
  /* The utility sees /temp (dev 0) and /m (dev 1), never dev 3's. */
  char *all = lookup(f, &f->asker[2], STW_RD_LOOKUP_RES, "rt=temp*", &st);
  assert_int_equal(st, STW_OK);
  assert_null(strstr(all, "/h1"));
  char *p0 = lookup(f, &f->asker[2], STW_RD_LOOKUP_RES, "rt=temp*&count=1&page=0", &st);
  char *p1 = lookup(f, &f->asker[2], STW_RD_LOOKUP_RES, "rt=temp*&count=1&page=1", &st);
  char *p2 = lookup(f, &f->asker[2], STW_RD_LOOKUP_RES, "rt=temp*&count=1&page=2", &st);
  assert_true(strlen(p0) > 0 && strlen(p1) > 0);
  assert_string_equal(p2, "");
  assert_null(strstr(p0, "/h"));
  assert_null(strstr(p1, "/h"));
  free(all);
  free(p0);
  free(p1);
  free(p2);
  char hidden[96], absent[96];
  snprintf(hidden, sizeof(hidden), "ep=%s", f->name[3]);
  snprintf(absent, sizeof(absent), "ep=%s", "thermo-1-ffffffff");
  for (int kind = 0; kind < 2; kind++) {
    stw_status_t sh, sa;
    char *h = lookup(f, &f->asker[2], (stw_rd_lookup_t)kind, hidden, &sh);
    char *a = lookup(f, &f->asker[2], (stw_rd_lookup_t)kind, absent, &sa);
    assert_int_equal(sh, sa);
    assert_string_equal(h, a);
    free(h);
    free(a);
    char *m = lookup(f, &f->asker[1], (stw_rd_lookup_t)kind, hidden, &sh);
    assert_true(strlen(m) > 0);
    free(m);
  }
  char handle_h[96], handle_a[96];
  snprintf(handle_h, sizeof(handle_h), "home.example/%s", f->id[3]);
  snprintf(handle_a, sizeof(handle_a), "home.example/%032x", 0xfff);
  stw_buf_t out;
  assert_int_equal(stw_rd_resolve(f->rd, &f->asker[2], handle_h, NULL, 0, stw_now(), &out), STW_ERR_NOT_FOUND);
  assert_int_equal(out.len, 0);
  stw_buf_free(&out, false);
  assert_int_equal(stw_rd_resolve(f->rd, &f->asker[2], handle_a, NULL, 0, stw_now(), &out), STW_ERR_NOT_FOUND);
  stw_buf_free(&out, false);
  /* Bad lookup queries. */
  stw_rd_query_t q2;
  assert_int_equal(query("count=100000", &q2), STW_ERR_TOO_LARGE);
  assert_int_equal(query("rt=%zz", &q2), STW_ERR_MALFORMED);
}

/* A resolution verifies in the SDK; a changed leaf or another key does not. */
static void test_resolution_proofs(void **state)
{
  fixture_t *f = *state;
  stw_attr_row_t a = { .name = "location", .value = "kitchen", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->store, f->id[1], &a), STW_OK);
  stw_attr_row_t b = { .name = "owner", .value = "alice", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->store, f->id[1], &b), STW_OK);
  char q[160];
  snprintf(q, sizeof(q), "ep=%s&dattr=model%%20location", f->name[1]);
  assert_int_equal(do_register(f, 1, q, "</m>;rt=\"temperature\"", NULL), STW_OK);
  char handle[96];
  snprintf(handle, sizeof(handle), "home.example/%s", f->id[1]);
  const char *names[] = { "location", "owner" };
  stw_buf_t out;
  assert_int_equal(stw_rd_resolve(f->rd, &f->asker[2], handle, names, 2, stw_now(), &out), STW_OK);
  stw_resolution_t *r = NULL;
  const stw_buf_t *ca = &f->domain->ca_der;
  assert_int_equal(stw_resolution_verify(ca->data, ca->len, handle, out.data, out.len, stw_now(), &r), STW_OK);
  assert_string_equal(stw_resolution_attr_value(r, "location", "home.example"), "kitchen");
  assert_null(stw_resolution_attr_value(r, "owner", "home.example"));
  assert_int_equal(stw_resolution_attr_count(r), 1);
  stw_resolution_free(r);
  /* Wrong leaf. */
  uint8_t *hit = NULL;
  for (size_t i = 0; i + 7 <= out.len; i++)
    if (memcmp(out.data + i, "kitchen", 7) == 0)
      hit = out.data + i;
  assert_non_null(hit);
  hit[0] = 'K';
  assert_int_equal(stw_resolution_verify(ca->data, ca->len, handle, out.data, out.len, stw_now(), &r),
                   STW_ERR_TAMPERED);
  hit[0] = 'k';
  /* Wrong root signature: checked against a key that did not sign it. */
  stw_key_t *other = NULL;
  stw_buf_t other_ca;
  stw_buf_init(&other_ca, STW_CERT_MAX);
  stw_cert_template_t t = { .common_name = "other", .organization = "other.example", .not_before = stw_now() - 60,
                            .not_after = stw_now() + 3600, .is_ca = true };
  assert_int_equal(stw_key_generate(&other), STW_OK);
  assert_int_equal(stw_cert_self_signed(other, &t, &other_ca), STW_OK);
  stw_status_t st = stw_resolution_verify(other_ca.data, other_ca.len, handle, out.data, out.len, stw_now(), &r);
  assert_true(st == STW_ERR_BAD_SIGNATURE || st == STW_ERR_UNTRUSTED);
  assert_null(r);
  /* Expired root (an hour's life). */
  assert_int_equal(stw_resolution_verify(ca->data, ca->len, handle, out.data, out.len, stw_now() + 7200, &r),
                   STW_ERR_EXPIRED);
  /* Truncated answer. */
  assert_int_equal(stw_resolution_verify(ca->data, ca->len, handle, out.data, out.len - 1, stw_now(), &r),
                   STW_ERR_MALFORMED);
  stw_key_free(other);
  stw_buf_free(&other_ca, false);
  stw_buf_free(&out, false);
}

static void test_expiry(void **state)
{
  fixture_t *f = *state;
  char q[96];
  snprintf(q, sizeof(q), "ep=%s", f->name[0]);
  stw_status_t st;
  char *before = lookup(f, &f->asker[1], STW_RD_LOOKUP_EP, q, &st);
  assert_true(strlen(before) > 0);
  free(before);
  stw_rd_reg_t reg;
  assert_int_equal(stw_store_rd_get_by_device(f->store, f->id[0], &reg), STW_OK);
  int64_t now = stw_now();
  assert_int_equal(stw_store_rd_touch(f->store, reg.id, 60, now - 1, now - 61), STW_OK);
  stw_rd_reg_clear(&reg);
  char *after = lookup(f, &f->asker[1], STW_RD_LOOKUP_EP, q, &st);
  assert_string_equal(after, "");
  free(after);
  uint64_t removed = 0;
  assert_int_equal(stw_rd_expire(f->store, now, &removed), STW_OK);
  assert_int_equal(removed, 1);
  assert_int_equal(stw_store_rd_get_by_device(f->store, f->id[0], &reg), STW_ERR_NOT_FOUND);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bad_registrations_change_nothing),
    cmocka_unit_test(test_register_update_delete_ownership),
    cmocka_unit_test(test_paging_and_hidden_is_absent),
    cmocka_unit_test(test_resolution_proofs),
    cmocka_unit_test(test_expiry),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
