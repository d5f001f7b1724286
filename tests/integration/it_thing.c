/* The smart object enforces capability tokens itself (issue 4, the device's
 * PEP in a real DTLS server): a meter serves /consumption and /config; a
 * utility device calls it with tokens the domain signed; a thief, a stale or
 * revoked token, a wrong scope and an impostor meter are all refused. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cwt.h"
#include "harness.h"
#include "testutil.h"
#include "authz/context.h"
#include "lifecycle/decommission.h"
#include "steward/context.h"
#include "steward/thing.h"
#include "steward/token.h"

typedef struct {
  it_world_t w;
  it_daemon_t d;
  it_device_t meter, utility, thief, sensor;
  it_meter_t m;
  char uri[64];
} fixture_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(it_home_start(&f->w, NULL, &f->d), STW_OK);
  assert_int_equal(it_allow_model(&f->w, "presence-1"), STW_OK);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "meter-1", &f->meter), STW_OK);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "gateway-1", &f->utility), STW_OK);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "gateway-1", &f->thief), STW_OK);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "presence-1", &f->sensor), STW_OK);
  assert_int_equal(it_meter_serve(f->meter.dev, f->d.uri, &f->m, f->uri, sizeof(f->uri)), STW_OK);
  printf("    meter %s serves at %s\n", stw_dev_name(f->meter.dev), f->uri);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  it_meter_free(&f->m);
  it_device_free(&f->meter);
  it_device_free(&f->utility);
  it_device_free(&f->thief);
  it_device_free(&f->sensor);
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

/* A token as the domain's PDP signs it: for the meter, bound to holder's key. */
static void mint(fixture_t *f, const stw_dev_t *holder, const char *path, unsigned methods, int64_t exp,
                 uint8_t cti_byte, stw_buf_t *out)
{
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = 0;
  it_ldevid_spki(f->w.store, stw_dev_id(holder), spki, &spki_len);
  stw_cwt_t c;
  stw_cwt_init(&c);
  const char *iss = "home.example", *aud = stw_dev_name(f->meter.dev), *sub = stw_dev_id(holder);
  c.iss = iss;
  c.iss_len = strlen(iss);
  c.aud = aud;
  c.aud_len = strlen(aud);
  c.sub = sub;
  c.sub_len = strlen(sub);
  c.iat = stw_now() - 5;
  c.exp = exp;
  memset(c.cti, cti_byte, 16);
  c.cti_len = 16;
  c.cnf_kind = STW_PEP_CNF_KEY;
  assert_int_equal(stw_spki_to_xy(spki, spki_len, c.cnf_x, c.cnf_y), STW_OK);
  c.present = STW_CWT_HAS_ISS | STW_CWT_HAS_AUD | STW_CWT_HAS_SUB | STW_CWT_HAS_IAT | STW_CWT_HAS_EXP |
              STW_CWT_HAS_CTI | STW_CWT_HAS_CNF | STW_CWT_HAS_SCOPE;
  assert_int_equal(stw_aif_add(&c.scope, path, strlen(path), methods), STW_OK);
  stw_buf_init(out, STW_PEP_TOKEN_MAX);
  assert_int_equal(stw_cwt_encode_sign(&c, f->w.domain->ca_key, NULL, 0, out), STW_OK);
}

static stw_status_t call(fixture_t *f, stw_dev_t *who, const stw_buf_t *token, unsigned method, const char *path,
                         stw_bootstrap_report_t *rep, char **answer)
{
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = 0;
  it_ldevid_spki(f->w.store, stw_dev_id(f->meter.dev), spki, &spki_len);
  uint8_t *a = NULL;
  size_t n = 0;
  stw_status_t st = stw_thing_call(who, f->uri, spki, spki_len, token ? token->data : NULL, token ? token->len : 0,
                                   method, path, NULL, 0, &a, &n, rep);
  printf("      %s %s: %s (%u.%02u) %s\n", method == STW_AIF_GET ? "GET" : "PUT", path, stw_status_str(st),
         rep->coap_code >> 5, rep->coap_code & 31, st == STW_OK ? (char *)a : rep->reason);
  if (answer)
    *answer = (char *)a;
  else
    free(a);
  return st;
}

static void token_grants_its_scope_only(void **state)
{
  fixture_t *f = *state;
  printf("  a token for GET /consumption: read works, write and other paths 4.03\n");
  stw_buf_t tok;
  mint(f, f->utility.dev, "/consumption", STW_AIF_GET, stw_now() + 3600, 1, &tok);
  stw_bootstrap_report_t rep;
  char *answer = NULL;
  assert_int_equal(call(f, f->utility.dev, &tok, STW_AIF_GET, "/consumption", &rep, &answer), STW_OK);
  assert_string_equal(answer, "1234.5 kWh");
  free(answer);
  int reads = atomic_load(&f->m.reads);
  assert_int_equal(call(f, f->utility.dev, NULL, STW_AIF_PUT, "/consumption", &rep, NULL), STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_int_equal(call(f, f->utility.dev, NULL, STW_AIF_GET, "/config", &rep, NULL), STW_ERR_FORBIDDEN);
  assert_int_equal(atomic_load(&f->m.reads), reads);  /* no handler ran for a refusal */
  stw_buf_free(&tok, false);
}

static void stolen_token_is_useless(void **state)
{
  fixture_t *f = *state;
  printf("  the utility's token presented by another device (its key is not cnf): 4.01\n");
  stw_buf_t tok;
  mint(f, f->utility.dev, "/consumption", STW_AIF_GET, stw_now() + 3600, 2, &tok);
  stw_bootstrap_report_t rep;
  int reads = atomic_load(&f->m.reads);
  assert_int_equal(call(f, f->thief.dev, &tok, STW_AIF_GET, "/consumption", &rep, NULL), STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_int_equal(atomic_load(&f->m.reads), reads);
  stw_buf_free(&tok, false);
}

static void bad_tokens_are_refused(void **state)
{
  fixture_t *f = *state;
  printf("  expired, forged and foreign-audience tokens: /authz-info 4.01, nothing stored\n");
  stw_bootstrap_report_t rep;
  stw_buf_t tok;
  mint(f, f->thief.dev, "/consumption", STW_AIF_GET, stw_now() - 3600, 3, &tok);
  assert_int_equal(call(f, f->thief.dev, &tok, STW_AIF_GET, "/consumption", &rep, NULL), STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_non_null(strstr(rep.reason, "token"));
  stw_buf_free(&tok, false);
  /* forged: flip a byte of the signature */
  mint(f, f->thief.dev, "/consumption", STW_AIF_GET, stw_now() + 3600, 4, &tok);
  tok.data[tok.len - 1] ^= 1;
  assert_int_equal(call(f, f->thief.dev, &tok, STW_AIF_GET, "/consumption", &rep, NULL), STW_ERR_UNAUTHENTICATED);
  stw_buf_free(&tok, false);
  /* the thief still has no valid token: a plain request is 4.01 */
  assert_int_equal(call(f, f->thief.dev, NULL, STW_AIF_GET, "/consumption", &rep, NULL), STW_ERR_UNAUTHENTICATED);
}

static void revoked_token_stops_at_once(void **state)
{
  fixture_t *f = *state;
  printf("  a revoked token: refused from the next request on\n");
  stw_buf_t tok;
  mint(f, f->utility.dev, "/consumption", STW_AIF_GET, stw_now() + 3600, 5, &tok);
  stw_bootstrap_report_t rep;
  assert_int_equal(call(f, f->utility.dev, &tok, STW_AIF_GET, "/consumption", &rep, NULL), STW_OK);
  /* Revoke every token the meter holds for the utility's key (this one, the
   * first test's, and the one the thief posted), as the revocation list the
   * meter observes would name them. The thing is single-threaded: its loop
   * pauses while the test thread touches it. */
  it_meter_pause(&f->m);
  uint8_t cti[16];
  for (uint8_t b = 1; b <= 5; b++) {
    memset(cti, b, sizeof(cti));
    assert_int_equal(stw_thing_revoke(f->m.thing, cti, sizeof(cti)), STW_OK);
  }
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  assert_int_equal(call(f, f->utility.dev, NULL, STW_AIF_GET, "/consumption", &rep, NULL), STW_ERR_UNAUTHENTICATED);
  /* posting the revoked token again does not bring it back */
  assert_int_equal(call(f, f->utility.dev, &tok, STW_AIF_GET, "/consumption", &rep, NULL), STW_ERR_UNAUTHENTICATED);
  stw_buf_free(&tok, false);
}

static void impostor_meter_gets_nothing(void **state)
{
  fixture_t *f = *state;
  printf("  a server that is not the key the token answer named: the handshake fails, nothing is sent\n");
  stw_buf_t tok;
  mint(f, f->utility.dev, "/consumption", STW_AIF_GET, stw_now() + 3600, 6, &tok);
  uint8_t wrong[STW_SPKI_MAX];
  size_t wrong_len = 0;
  it_ldevid_spki(f->w.store, stw_dev_id(f->thief.dev), wrong, &wrong_len);
  stw_bootstrap_report_t rep;
  int reads = atomic_load(&f->m.reads);
  stw_status_t st = stw_thing_call(f->utility.dev, f->uri, wrong, wrong_len, tok.data, tok.len, STW_AIF_GET,
                                   "/consumption", NULL, 0, NULL, NULL, &rep);
  printf("      %s: %s\n", stw_status_str(st), rep.reason);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_NETWORK); /* the handshake failed: not a timeout */
  assert_int_equal(rep.coap_code, 0);
  assert_non_null(strstr(rep.reason, "DTLS"));
  assert_int_equal(atomic_load(&f->m.reads), reads);
  stw_buf_free(&tok, false);
}

static void token_from_the_domain(void **state)
{
  fixture_t *f = *state;
  printf("  the domain's PDP issues a token by policy; the meter accepts it; the thief is refused a token\n");
  stw_attr_row_t role = { .name = "role", .value = "utility", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->w.store, stw_dev_id(f->utility.dev), &role), STW_OK);
  char rule[256], why[256];
  snprintf(rule, sizeof(rule), "permit role=utility -> %s:/consumption GET", stw_dev_name(f->meter.dev));
  int64_t id = 0;
  uint64_t revoked = 0;
  assert_int_equal(stw_authz_policy_add(f->w.store, f->w.domain, rule, "meter-read", "admin", stw_now(), &id,
                                        &revoked, why, sizeof(why)),
                   STW_OK);
  stw_token_t tok;
  stw_bootstrap_report_t rep;
  stw_status_t st = stw_token_request(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption",
                                      STW_AIF_GET, &tok, &rep);
  printf("      utility asks for GET /consumption: %s (%u.%02u), %zu-byte token, expires in %lld s\n",
         stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31, tok.token_len, (long long)tok.expires_in);
  assert_int_equal(st, STW_OK);
  assert_true(tok.token_len > 0 && tok.rs_spki_len > 0);
  uint8_t *answer = NULL;
  st = stw_thing_call(f->utility.dev, f->uri, tok.rs_spki, tok.rs_spki_len, tok.token, tok.token_len, STW_AIF_GET,
                      "/consumption", NULL, 0, &answer, NULL, &rep);
  printf("      with it, GET /consumption at the meter: %s\n", st == STW_OK ? (char *)answer : rep.reason);
  assert_int_equal(st, STW_OK);
  assert_string_equal((char *)answer, "1234.5 kWh");
  free(answer);
  stw_token_clear(&tok);

  /* More than the rules permit is not granted; the thief has no role at all. */
  st = stw_token_request(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption", STW_AIF_PUT, &tok,
                         &rep);
  printf("      utility asks for PUT: %s (%u.%02u) %s\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31,
         rep.reason);
  assert_int_not_equal(st, STW_OK);
  assert_true(rep.coap_code == IT_COAP(4, 0) || rep.coap_code == IT_COAP(4, 3));
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(rep.reason, "no rule permits it"));
  st = stw_token_request(f->thief.dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption", STW_AIF_GET, &tok,
                         &rep);
  printf("      the thief asks for GET: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31);
  assert_int_not_equal(st, STW_OK);
  assert_true((rep.coap_code >> 5) == 4);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  /* The rule goes; so do the tokens it alone permitted (revoked with it). */
  assert_int_equal(stw_authz_policy_remove(f->w.store, f->w.domain, id, "admin", stw_now(), &revoked), STW_OK);
  printf("      rule removed: %llu token(s) revoked with it\n", (unsigned long long)revoked);
  assert_true(revoked >= 1);
}

static void set_occupied(fixture_t *f, const char *value)
{
  stw_context_row_t c;
  memset(&c, 0, sizeof(c));
  snprintf(c.name, sizeof(c.name), "home.occupied");
  snprintf(c.value, sizeof(c.value), "%s", value);
  uint64_t revoked = 0;
  assert_int_equal(stw_context_set(f->w.store, f->w.domain, &c, "admin", stw_now(), &revoked), STW_OK);
  printf("      home.occupied=%s: %llu live token(s) revoked by the context manager\n", value,
         (unsigned long long)revoked);
}

static stw_status_t read_meter(fixture_t *f, stw_bootstrap_report_t *rep, bool fresh_token)
{
  stw_token_t tok;
  memset(&tok, 0, sizeof(tok));
  if (fresh_token) {
    stw_status_t st = stw_token_request(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption",
                                        STW_AIF_GET, &tok, rep);
    if (st != STW_OK)
      return st;
  }
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = 0;
  it_ldevid_spki(f->w.store, stw_dev_id(f->meter.dev), spki, &spki_len);
  stw_status_t st = stw_thing_call(f->utility.dev, f->uri, spki, spki_len, tok.token, tok.token_len, STW_AIF_GET,
                                   "/consumption", NULL, 0, NULL, NULL, rep);
  stw_token_clear(&tok);
  return st;
}

/* The smart-meter story: the utility may read while the home is empty. */
static void context_change_revokes(void **state)
{
  fixture_t *f = *state;
  printf("  the utility reads the meter while nobody is home; someone arrives: the token is revoked and the\n"
         "  next read refused within one notification; they leave: a new token works\n");
  stw_attr_row_t role = { .name = "role", .value = "utility", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->w.store, stw_dev_id(f->utility.dev), &role), STW_OK);
  char rule[256], why[256];
  snprintf(rule, sizeof(rule), "permit role=utility -> %s:/consumption GET if home.occupied==false",
           stw_dev_name(f->meter.dev));
  int64_t id = 0;
  uint64_t revoked = 0;
  assert_int_equal(stw_authz_policy_add(f->w.store, f->w.domain, rule, "privacy-at-home", "admin", stw_now(), &id,
                                        &revoked, why, sizeof(why)),
                   STW_OK);
  set_occupied(f, "false");
  stw_bootstrap_report_t rep;
  assert_int_equal(read_meter(f, &rep, true), STW_OK);
  printf("      empty home: read ok\n");

  uint64_t seq = stw_thing_revocation_seq(f->m.thing);
  set_occupied(f, "true");
  /* The meter hears of it through its observation of /revoked. */
  for (int i = 0; i < 100 && stw_thing_revocation_seq(f->m.thing) == seq; i++)
    usleep(50000);
  printf("      the meter's revocation list moved from %llu to %llu\n", (unsigned long long)seq,
         (unsigned long long)stw_thing_revocation_seq(f->m.thing));
  assert_true(stw_thing_revocation_seq(f->m.thing) > seq);
  stw_status_t st = read_meter(f, &rep, false);
  printf("      someone home, same token: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1)); /* the meter answered */
  st = read_meter(f, &rep, true);
  printf("      someone home, asking for a new token: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_FORBIDDEN); /* the PDP answered: the context denies it */
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));

  set_occupied(f, "false");
  st = read_meter(f, &rep, true);
  printf("      they left, a new token: %s\n", stw_status_str(st));
  assert_int_equal(st, STW_OK);
}

/* A presence sensor publishes the context itself (POST /context). */
static void sensor_publishes_context(void **state)
{
  fixture_t *f = *state;
  printf("  a presence sensor in the same place publishes home.occupied itself; a device not allowed to is refused\n");
  stw_attr_row_t a = { .name = "place", .value = "home-7", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->w.store, stw_dev_id(f->meter.dev), &a), STW_OK);
  assert_int_equal(stw_store_attr_set(f->w.store, stw_dev_id(f->sensor.dev), &a), STW_OK);
  stw_attr_row_t p = { .name = "publishes", .value = "home.occupied", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->w.store, stw_dev_id(f->sensor.dev), &p), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_context_publish(f->sensor.dev, f->d.uri, "home.occupied", "false", &rep), STW_OK);
  assert_int_equal(read_meter(f, &rep, true), STW_OK);
  uint64_t seq = stw_thing_revocation_seq(f->m.thing);
  stw_status_t st = stw_context_publish(f->sensor.dev, f->d.uri, "home.occupied", "true", &rep);
  printf("      the sensor publishes home.occupied=true: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31);
  assert_int_equal(st, STW_OK);
  for (int i = 0; i < 100 && stw_thing_revocation_seq(f->m.thing) == seq; i++)
    usleep(50000);
  assert_true(stw_thing_revocation_seq(f->m.thing) > seq);
  st = read_meter(f, &rep, false);
  printf("      the meter, same token: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1)); /* the meter answered */
  st = stw_context_publish(f->thief.dev, f->d.uri, "home.occupied", "false", &rep);
  printf("      another device publishing it: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_int_equal(stw_context_publish(f->sensor.dev, f->d.uri, "home.occupied", "false", &rep), STW_OK);
}

static void decommission_revokes_everything(void **state)
{
  fixture_t *f = *state;
  printf("  decommissioning the utility: its tokens are revoked, the meter drops them, no new token is issued\n");
  stw_bootstrap_report_t rep;
  assert_int_equal(read_meter(f, &rep, true), STW_OK);
  uint64_t seq = stw_thing_revocation_seq(f->m.thing);
  stw_decommission_t out;
  assert_int_equal(stw_decommission(f->w.store, stw_dev_id(f->utility.dev), "admin", "test", &out), STW_OK);
  printf("      decommissioned (was %s): %llu token(s) revoked\n", stw_state_name(out.was),
         (unsigned long long)out.tokens_revoked);
  assert_true(out.tokens_revoked >= 1);
  assert_int_equal(it_device_state(f->w.store, stw_dev_id(f->utility.dev)), STW_STATE_DECOMMISSIONED);
  for (int i = 0; i < 100 && stw_thing_revocation_seq(f->m.thing) == seq; i++)
    usleep(50000);
  assert_true(stw_thing_revocation_seq(f->m.thing) > seq);
  stw_status_t st = read_meter(f, &rep, false);
  printf("      the meter, same token: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1)); /* the meter answered */
  st = read_meter(f, &rep, true);
  printf("      a new token for a decommissioned device: %s (%u.%02u)\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_NETWORK); /* its LDevID is revoked: refused at the handshake */
  assert_int_equal(rep.coap_code, 0);
  assert_int_equal(stw_decommission(f->w.store, stw_dev_id(f->utility.dev), "admin", "again", &out), STW_ERR_STATE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(token_grants_its_scope_only),
    cmocka_unit_test(stolen_token_is_useless),
    cmocka_unit_test(bad_tokens_are_refused),
    cmocka_unit_test(revoked_token_stops_at_once),
    cmocka_unit_test(impostor_meter_gets_nothing),
    cmocka_unit_test(token_from_the_domain),
    cmocka_unit_test(context_change_revokes),
    cmocka_unit_test(sensor_publishes_context),
    cmocka_unit_test(decommission_revokes_everything),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
