/* Remote attestation end to end (issue 6 §4, §5): the real daemon and the
 * real SDK. A gateway attests right after enrollment; replayed, stale and
 * foreign evidence is refused; a tampered image quarantines it (its token
 * refused at the meter's PEP, new tokens for it and to it refused, its
 * directory entry hidden), and an authorised update followed by a good
 * attestation returns it. The domain's own challenges reach a device that
 * observes /att, periodically and when the operator asks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest.h"
#include "authz/context.h"
#include "harness.h"
#include "testutil.h"
#include "steward/attest.h"
#include "steward/discovery.h"
#include "steward/thing.h"
#include "steward/token.h"
/* The update agent's slot primitives: the quarantine test installs the
 * authorised image the way the agent does, without a campaign. */
#include "../../device/slots.h"

#define NONCE_LIFETIME "3"
#define INTERVAL "2"

typedef struct {
  it_world_t w;
  it_daemon_t d;
  it_device_t meter, gw, sensor;
  it_meter_t m;
  char meter_uri[64];
  char gw_location[STW_LOCATION_MAX];
  stw_token_t gw_token;            /* the gateway's token for the meter, from before */
  uint8_t fw_image[32];
} fixture_t;

static fixture_t *F;

static int setup(void **state)
{
  (void)state;
  F = calloc(1, sizeof(*F));
  assert_non_null(F);
  const char *args[] = { "--attest-interval", INTERVAL, "--attest-nonce-lifetime", NONCE_LIFETIME, NULL };
  assert_int_equal(it_home_start(&F->w, args, &F->d), STW_OK);
  assert_int_equal(it_device_enrolled(&F->w, F->d.uri, "meter-1", &F->meter), STW_OK);
  assert_int_equal(it_device_enrolled(&F->w, F->d.uri, "gateway-1", &F->gw), STW_OK);
  assert_int_equal(it_device_enrolled(&F->w, F->d.uri, "meter-1", &F->sensor), STW_OK);
  assert_int_equal(it_meter_serve(F->meter.dev, F->d.uri, &F->m, F->meter_uri, sizeof(F->meter_uri)), STW_OK);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  it_meter_free(&F->m);
  stw_token_clear(&F->gw_token);
  it_device_free(&F->meter);
  it_device_free(&F->gw);
  it_device_free(&F->sensor);
  it_world_stop(&F->w, &F->d);
  free(F);
  return 0;
}

static uint64_t results_of(const stw_dev_t *dev)
{
  uint64_t n = 0;
  stw_attest_row_t row;
  if (stw_store_attest_latest(F->w.store, stw_dev_id(dev), &row) == STW_OK)
    n = (uint64_t)row.id;
  return n;
}

static void print_result(const char *what, stw_status_t st, const stw_attest_result_t *r)
{
  printf("      %s: %s (%u.%02u) %s%s%s\n", what, stw_status_str(st), r->report.coap_code >> 5,
         r->report.coap_code & 31, r->verdict ? stw_ear_name(r->verdict) : r->report.reason, r->reasons[0] ? ": " : "",
         r->reasons);
}

/* ---- enrollment ------------------------------------------------------------------------ */

static void attests_right_after_enrollment(void **state)
{
  (void)state;
  printf("  each device attests right after bootstrap: factory images are a warning\n");
  const it_device_t *devs[] = { &F->gw, &F->meter, &F->sensor };
  for (size_t i = 0; i < 3; i++) {
    stw_attest_result_t r;
    stw_status_t st = stw_attest_now(devs[i]->dev, F->d.uri, STW_ATTEST_ENROLL, &r);
    print_result(stw_dev_name(devs[i]->dev), st, &r);
    assert_int_equal(st, STW_OK);
    assert_int_equal(r.verdict, STW_VERDICT_WARNING);
    assert_string_equal(r.reasons, "factory image: no reference value");
    stw_attest_row_t row;
    assert_int_equal(stw_store_attest_latest(F->w.store, stw_dev_id(devs[i]->dev), &row), STW_OK);
    assert_string_equal(row.trigger, "enroll");
    assert_int_equal(row.verdict, STW_EAR_WARNING);
  }
}

/* ---- refusals over the wire: code, and nothing changed ----------------------------------- */

/* A challenge the daemon issues to challenger, answered with evidence signer
 * signs (*ev, the caller frees it); the nonce's length. */
static size_t evidence_for(stw_dev_t *challenger, stw_dev_t *signer, uint8_t **ev, size_t *ev_len)
{
  uint8_t nonce[STW_ATTEST_NONCE_MAX];
  size_t nonce_len = 0;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_attest_challenge(challenger, F->d.uri, STW_ATTEST_ASKED, nonce, &nonce_len, &rep), STW_OK);
  assert_int_equal(stw_attest_evidence(signer, nonce, nonce_len, ev, ev_len), STW_OK);
  return nonce_len;
}

static void reused_nonce_refused(void **state)
{
  (void)state;
  printf("  the same evidence twice: the second is refused (4.03), nothing recorded\n");
  uint8_t *ev = NULL;
  size_t ev_len = 0;
  stw_attest_result_t r;
  assert_int_equal(evidence_for(F->sensor.dev, F->sensor.dev, &ev, &ev_len), 32);
  assert_int_equal(stw_attest_send(F->sensor.dev, F->d.uri, ev, ev_len, &r), STW_OK);
  uint64_t before = results_of(F->sensor.dev);
  int state_before = it_device_state(F->w.store, stw_dev_id(F->sensor.dev));
  stw_status_t st = stw_attest_send(F->sensor.dev, F->d.uri, ev, ev_len, &r);
  print_result("again", st, &r);
  free(ev);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(r.report.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(r.report.reason, "nonce unknown, used, or issued to another device"));
  assert_int_equal(results_of(F->sensor.dev), before);
  assert_int_equal(it_device_state(F->w.store, stw_dev_id(F->sensor.dev)), state_before);
}

static void stale_nonce_refused(void **state)
{
  (void)state;
  printf("  evidence for a challenge older than its lifetime (" NONCE_LIFETIME " s): 4.03, nothing recorded\n");
  uint8_t *ev = NULL;
  size_t ev_len = 0;
  stw_attest_result_t r;
  (void)evidence_for(F->sensor.dev, F->sensor.dev, &ev, &ev_len);
  sleep(4);
  uint64_t before = results_of(F->sensor.dev);
  stw_status_t st = stw_attest_send(F->sensor.dev, F->d.uri, ev, ev_len, &r);
  print_result("late", st, &r);
  free(ev);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(r.report.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(r.report.reason, "nonce expired"));
  assert_int_equal(results_of(F->sensor.dev), before);
}

static void nonce_of_another_device_refused(void **state)
{
  (void)state;
  printf("  a challenge the meter got, answered by the sensor: 4.03, nothing recorded\n");
  uint8_t *ev = NULL;
  size_t ev_len = 0;
  stw_attest_result_t r;
  (void)evidence_for(F->meter.dev, F->sensor.dev, &ev, &ev_len);
  uint64_t before = results_of(F->sensor.dev);
  stw_status_t st = stw_attest_send(F->sensor.dev, F->d.uri, ev, ev_len, &r);
  print_result("sensor with the meter's nonce", st, &r);
  free(ev);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(r.report.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(r.report.reason, "nonce unknown, used, or issued to another device"));
  assert_int_equal(results_of(F->sensor.dev), before);
}

static void evidence_signed_by_another_key_refused(void **state)
{
  (void)state;
  printf("  the meter's evidence sent over the sensor's session: 4.03, nothing recorded\n");
  uint8_t *ev = NULL;
  size_t ev_len = 0;
  stw_attest_result_t r;
  (void)evidence_for(F->sensor.dev, F->meter.dev, &ev, &ev_len);
  uint64_t before = results_of(F->sensor.dev), meter_before = results_of(F->meter.dev);
  stw_status_t st = stw_attest_send(F->sensor.dev, F->d.uri, ev, ev_len, &r);
  print_result("signed by the meter's key", st, &r);
  free(ev);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(r.report.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(r.report.reason, "not signed by this device's LDevID key"));
  assert_int_equal(results_of(F->sensor.dev), before);
  assert_int_equal(results_of(F->meter.dev), meter_before);
}

/* ---- quarantine and remediation ---------------------------------------------------------- */

static stw_status_t gw_calls_meter(const uint8_t *token, size_t token_len, stw_bootstrap_report_t *rep)
{
  uint8_t *answer = NULL;
  stw_status_t st = stw_thing_call(F->gw.dev, F->meter_uri, F->gw_token.rs_spki, F->gw_token.rs_spki_len, token,
                                   token_len, STW_AIF_GET, "/consumption", NULL, 0, &answer, NULL, rep);
  printf("      gateway GET /consumption at the meter: %s (%u.%02u) %s\n", stw_status_str(st), rep->coap_code >> 5,
         rep->coap_code & 31, st == STW_OK ? (char *)answer : rep->reason);
  free(answer);
  return st;
}

static bool gw_visible_to_meter(void)
{
  char *links = NULL;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_lookup(F->meter.dev, F->d.uri, "ep", NULL, &links, NULL, &rep), STW_OK);
  bool seen = strstr(links, stw_dev_name(F->gw.dev)) != NULL;
  free(links);
  return seen;
}

static stw_status_t count_live(const stw_token_row_t *t, void *ctx)
{
  (void)t;
  (*(uint64_t *)ctx)++;
  return STW_OK;
}

static uint64_t live_tokens(void)
{
  uint64_t n = 0;
  assert_int_equal(stw_store_token_list(F->w.store, true, stw_now(), count_live, &n), STW_OK);
  return n;
}

typedef struct {
  const char *subject;
  uint64_t n;
} held_t;

static stw_status_t count_held(const stw_token_row_t *t, void *ctx)
{
  held_t *h = ctx;
  h->n += strcmp(t->subject_id, h->subject) == 0;
  return STW_OK;
}

/* Live tokens the device holds. */
static uint64_t live_tokens_of(const char *id)
{
  held_t h = { .subject = id };
  assert_int_equal(stw_store_token_list(F->w.store, true, stw_now(), count_held, &h), STW_OK);
  return h.n;
}

static void before_the_tamper(void **state)
{
  (void)state;
  printf("  the gateway registers, holds a token for the meter and uses it\n");
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_register(F->gw.dev, F->d.uri, "</status>;rt=\"gw.status\"", 3600, NULL, F->gw_location, &rep),
                   STW_OK);
  stw_attr_row_t role = { .name = "role", .value = "utility", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(F->w.store, stw_dev_id(F->gw.dev), &role), STW_OK);
  char rule[256], why[256];
  int64_t id = 0;
  uint64_t revoked = 0;
  snprintf(rule, sizeof(rule), "permit role=utility -> %s:/consumption GET", stw_dev_name(F->meter.dev));
  assert_int_equal(stw_authz_policy_add(F->w.store, F->w.domain, rule, "meter-read", "admin", stw_now(), &id, &revoked,
                                        why, sizeof(why)),
                   STW_OK);
  snprintf(rule, sizeof(rule), "permit model=meter-1 -> %s:/status GET", stw_dev_name(F->gw.dev));
  assert_int_equal(stw_authz_policy_add(F->w.store, F->w.domain, rule, "gw-status", "admin", stw_now(), &id, &revoked,
                                        why, sizeof(why)),
                   STW_OK);
  assert_int_equal(stw_token_request(F->gw.dev, F->d.uri, stw_dev_name(F->meter.dev), "/consumption", STW_AIF_GET,
                                     &F->gw_token, &rep),
                   STW_OK);
  assert_int_equal(gw_calls_meter(F->gw_token.token, F->gw_token.token_len, &rep), STW_OK);
  assert_true(gw_visible_to_meter());
  assert_int_equal(live_tokens_of(stw_dev_id(F->gw.dev)), 1);
}

static void tampered_image_quarantines(void **state)
{
  (void)state;
  printf("  the gateway's image is tampered with: contraindicated, QUARANTINED, its token revoked\n");
  uint64_t audit = it_audit_last(F->w.store);
  stw_slots_t slots;
  const char tampered[] = "gateway firmware with a backdoor";
  assert_int_equal(stw_slots_write_inactive(F->gw.dev, (const uint8_t *)tampered, sizeof(tampered) - 1), STW_OK);
  assert_int_equal(stw_slots_boot_trial(F->gw.dev, 0, &slots), STW_OK);
  assert_int_equal(stw_slots_confirm(F->gw.dev, &slots), STW_OK);
  stw_attest_result_t r;
  stw_status_t st = stw_attest_now(F->gw.dev, F->d.uri, STW_ATTEST_ASKED, &r);
  print_result("gateway attests", st, &r);
  assert_int_equal(st, STW_OK);
  assert_int_equal(r.verdict, STW_VERDICT_CONTRAINDICATED);
  assert_string_equal(r.reasons, "image digest is not a reference value");
  assert_int_equal(it_device_state(F->w.store, stw_dev_id(F->gw.dev)), STW_STATE_QUARANTINED);
  assert_int_equal(it_audit_count(F->w.store, audit, "quarantine", stw_dev_id(F->gw.dev), "ok", NULL), 1);
  assert_int_equal(it_audit_count(F->w.store, audit, "attest", stw_dev_id(F->gw.dev), "contraindicated", NULL), 1);
  assert_int_equal(live_tokens_of(stw_dev_id(F->gw.dev)), 0);
  it_audit_print(F->w.store, audit);
}

static void old_token_refused_at_the_pep(void **state)
{
  (void)state;
  printf("  the meter hears the revocation; the gateway's old token is refused at its PEP\n");
  uint64_t seq = 0;
  assert_int_equal(stw_store_revocation_seq(F->w.store, &seq), STW_OK);
  for (int i = 0; i < 100 && stw_thing_revocation_seq(F->m.thing) < seq; i++)
    usleep(100 * 1000);
  assert_true(stw_thing_revocation_seq(F->m.thing) >= seq);
  int reads = atomic_load(&F->m.reads);
  stw_bootstrap_report_t rep;
  /* Posted again as if fresh, and without posting: both refused. */
  assert_int_equal(gw_calls_meter(F->gw_token.token, F->gw_token.token_len, &rep), STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_int_equal(gw_calls_meter(NULL, 0, &rep), STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_int_equal(atomic_load(&F->m.reads), reads);
}

static void new_tokens_refused(void **state)
{
  (void)state;
  printf("  no new token for the quarantined gateway, nor to it: 4.03 quarantined\n");
  stw_token_t tok;
  stw_bootstrap_report_t rep;
  uint64_t live = live_tokens();
  stw_status_t st = stw_token_request(F->gw.dev, F->d.uri, stw_dev_name(F->meter.dev), "/consumption", STW_AIF_GET,
                                      &tok, &rep);
  printf("      gateway asks: %s (%u.%02u) %s\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31,
         rep.reason);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(rep.reason, "quarantined"));
  st = stw_token_request(F->sensor.dev, F->d.uri, stw_dev_name(F->gw.dev), "/status", STW_AIF_GET, &tok, &rep);
  printf("      a meter asks for the gateway: %s (%u.%02u) %s\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31, rep.reason);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(rep.reason, "quarantined"));
  assert_int_equal(live_tokens(), live);  /* nothing issued */
}

static void directory_hides_it(void **state)
{
  (void)state;
  printf("  the directory hides the quarantined gateway (its registration stays)\n");
  assert_false(gw_visible_to_meter());
  stw_rd_reg_t reg;
  assert_int_equal(stw_store_rd_get_by_device(F->w.store, stw_dev_id(F->gw.dev), &reg), STW_OK);
  stw_rd_reg_clear(&reg);
}

static void update_and_good_attestation_remediate(void **state)
{
  (void)state;
  printf("  an authorised update, then an affirming attestation: OPERATIONAL, visible, tokens again\n");
  const char image[] = "gateway firmware v1";
  uint8_t digest[32];
  assert_int_equal(stw_sha256((const uint8_t *)image, sizeof(image) - 1, digest), STW_OK);
  /* The domain authorised it (as `steward admin firmware publish` records it). */
  stw_firmware_t fw;
  memset(&fw, 0, sizeof(fw));
  snprintf(fw.vendor, sizeof(fw.vendor), "ACME");
  snprintf(fw.class_id, sizeof(fw.class_id), "gateway-1");
  snprintf(fw.component, sizeof(fw.component), "firmware");
  fw.sequence = 1;
  memcpy(fw.digest, digest, 32);
  fw.size = sizeof(image) - 1;
  snprintf(fw.uri, sizeof(fw.uri), "/fw/img/v1");
  uint8_t envelope[1] = { 0xa0 };
  fw.envelope = envelope;
  fw.envelope_len = sizeof(envelope);
  assert_int_equal(stw_store_firmware_put(F->w.store, &fw), STW_OK);
  /* The update, as the agent reports it: the device stays QUARANTINED. */
  stw_state_t next;
  const char *id = stw_dev_id(F->gw.dev);
  assert_int_equal(stw_store_transition(F->w.store, id, STW_EV_UPDATE_START, "daemon", "campaign 1", &next), STW_OK);
  assert_int_equal(next, STW_STATE_QUARANTINED);
  stw_slots_t slots;
  assert_int_equal(stw_slots_write_inactive(F->gw.dev, (const uint8_t *)image, sizeof(image) - 1), STW_OK);
  assert_int_equal(stw_slots_boot_trial(F->gw.dev, 1, &slots), STW_OK);
  assert_int_equal(stw_slots_confirm(F->gw.dev, &slots), STW_OK);
  assert_int_equal(stw_store_transition(F->w.store, id, STW_EV_UPDATE_DONE, "daemon", "campaign 1", &next), STW_OK);
  assert_int_equal(next, STW_STATE_QUARANTINED);
  assert_false(gw_visible_to_meter());

  uint64_t audit = it_audit_last(F->w.store);
  stw_attest_result_t r;
  stw_status_t st = stw_attest_now(F->gw.dev, F->d.uri, STW_ATTEST_UPDATE, &r);
  print_result("gateway attests after the update", st, &r);
  assert_int_equal(st, STW_OK);
  assert_int_equal(r.verdict, STW_VERDICT_AFFIRMING);
  assert_int_equal(it_device_state(F->w.store, id), STW_STATE_OPERATIONAL);
  assert_int_equal(it_audit_count(F->w.store, audit, "remediate", id, "ok", NULL), 1);
  stw_attest_row_t row;
  assert_int_equal(stw_store_attest_latest(F->w.store, id, &row), STW_OK);
  assert_string_equal(row.trigger, "update");
  assert_true(gw_visible_to_meter());
  stw_token_t tok;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_token_request(F->gw.dev, F->d.uri, stw_dev_name(F->meter.dev), "/consumption", STW_AIF_GET,
                                     &tok, &rep),
                   STW_OK);
  assert_int_equal(gw_calls_meter(tok.token, tok.token_len, &rep), STW_OK);
  stw_token_clear(&tok);
  it_audit_print(F->w.store, audit);
}

/* ---- the domain's own challenges ------------------------------------------------------------ */

static void observer_answers_periodic_and_operator_challenges(void **state)
{
  (void)state;
  printf("  the gateway observes /att (no challenge of its own outstanding): a periodic challenge (every " INTERVAL " s), then the operator's\n");
  stw_attester_t *a = NULL;
  assert_int_equal(stw_attester_new(F->gw.dev, F->d.uri, &a), STW_OK);
  double until = it_now_s() + 15;
  while (stw_attester_answered(a) < 1 && it_now_s() < until)
    stw_attester_run(a, 100);
  assert_int_equal(stw_attester_answered(a), 1);
  assert_true(stw_attester_listening(a));
  print_result("periodic", STW_OK, stw_attester_last(a));
  stw_attest_row_t row;
  assert_int_equal(stw_store_attest_latest(F->w.store, stw_dev_id(F->gw.dev), &row), STW_OK);
  assert_string_equal(row.trigger, "periodic");

  /* The operator asks (what `steward admin attest ID` writes). */
  assert_int_equal(stw_attest_request(F->w.store, stw_dev_id(F->gw.dev), "admin"), STW_OK);
  until = it_now_s() + 10;
  bool admin = false;
  while (!admin && it_now_s() < until) {
    stw_attester_run(a, 100);
    admin = stw_store_attest_latest(F->w.store, stw_dev_id(F->gw.dev), &row) == STW_OK &&
            strcmp(row.trigger, "admin") == 0;
  }
  print_result("operator's", STW_OK, stw_attester_last(a));
  assert_true(admin);
  assert_int_equal(stw_attester_last(a)->verdict, STW_VERDICT_AFFIRMING);
  stw_attester_free(a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(attests_right_after_enrollment),
    cmocka_unit_test(reused_nonce_refused),
    cmocka_unit_test(stale_nonce_refused),
    cmocka_unit_test(nonce_of_another_device_refused),
    cmocka_unit_test(evidence_signed_by_another_key_refused),
    cmocka_unit_test(before_the_tamper),
    cmocka_unit_test(tampered_image_quarantines),
    cmocka_unit_test(old_token_refused_at_the_pep),
    cmocka_unit_test(new_tokens_refused),
    cmocka_unit_test(directory_hides_it),
    cmocka_unit_test(update_and_good_attestation_remediate),
    cmocka_unit_test(observer_answers_periodic_and_operator_challenges),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
