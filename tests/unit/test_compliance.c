/* The compliance report (server/compliance): each provision's verdict follows
 * from what the store holds, the fleet takes the worst device, and both
 * renderings say it without letting stored text become markup. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compliance/compliance.h"
#include "store/store.h"
#include "store_fixture.h"

#define NOW 1900000000

static void put_device(stw_store_t *st, const char *id, const char *name, const char *model, stw_state_t state)
{
  static uint8_t fake_cert[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  snprintf(d.id, sizeof(d.id), "%s", id);
  snprintf(d.name, sizeof(d.name), "%s", name);
  snprintf(d.model, sizeof(d.model), "%s", model);
  snprintf(d.manufacturer, sizeof(d.manufacturer), "Acme");
  d.state = state;
  d.cred_kind = STW_CRED_X509;
  d.created_at = d.updated_at = NOW - 100;
  d.ldevid = fake_cert;
  d.ldevid_len = sizeof(fake_cert);
  snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "%.8s00", id);
  d.ldevid_not_after = NOW + 86400;
  assert_int_equal(stw_store_device_put(st, &d), STW_OK);
  assert_int_equal(stw_store_serial_claim(st, d.ldevid_serial, id, d.ldevid_not_after), STW_OK);
  assert_int_equal(stw_store_audit_event(st, "daemon", "enroll", id, "ok", "test"), STW_OK);
}

static void put_firmware(stw_store_t *st, const char *model, uint64_t sequence, uint8_t digest_byte)
{
  uint8_t envelope[4] = { 0xd2, 0x84, 0x40, 0xa0 };
  stw_firmware_t f;
  memset(&f, 0, sizeof(f));
  snprintf(f.vendor, sizeof(f.vendor), "Acme");
  snprintf(f.class_id, sizeof(f.class_id), "%s", model);
  snprintf(f.component, sizeof(f.component), "firmware");
  f.sequence = sequence;
  memset(f.digest, digest_byte, sizeof(f.digest));
  f.size = 1024;
  snprintf(f.uri, sizeof(f.uri), "/fw/img/x");
  f.envelope = envelope;
  f.envelope_len = sizeof(envelope);
  f.published_at = NOW - 50;
  assert_int_equal(stw_store_firmware_put(st, &f), STW_OK);
}

static void put_running(stw_store_t *st, const char *id, uint64_t sequence, uint8_t digest_byte)
{
  stw_device_fw_t fw = { .sequence = sequence, .reported_at = NOW - 10 };
  snprintf(fw.device_id, sizeof(fw.device_id), "%s", id);
  memset(fw.digest, digest_byte, sizeof(fw.digest));
  assert_int_equal(stw_store_device_fw_set(st, &fw), STW_OK);
}

static void put_attestation(stw_store_t *st, const char *id, stw_ear_t verdict, int64_t at)
{
  stw_attest_row_t a;
  memset(&a, 0, sizeof(a));
  snprintf(a.device_id, sizeof(a.device_id), "%s", id);
  a.at = at;
  a.verdict = verdict;
  snprintf(a.trigger, sizeof(a.trigger), "periodic");
  snprintf(a.reasons, sizeof(a.reasons), verdict == STW_EAR_AFFIRMING ? "" : "image digest unknown");
  assert_int_equal(stw_store_attest_put(st, &a), STW_OK);
}

#define GOOD "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BEHIND "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define TAMPERED "cccccccccccccccccccccccccccccccc"
#define RETIRED "dddddddddddddddddddddddddddddddd"

static int setup(void **state)
{
  store_fx_t *fx = store_fx_open("compliance");
  stw_store_t *st = fx->st;

  put_firmware(st, "meter", 1, 0x11);
  put_firmware(st, "meter", 2, 0x22);
  put_device(st, GOOD, "meter-good", "meter", STW_STATE_OPERATIONAL);
  put_running(st, GOOD, 2, 0x22);
  put_attestation(st, GOOD, STW_EAR_AFFIRMING, NOW - 60);
  stw_attr_row_t role = { .name = "owner", .value = "alice", .authority = "domain" };
  assert_int_equal(stw_store_attr_set(st, GOOD, &role), STW_OK);

  put_device(st, BEHIND, "meter-<b>", "meter", STW_STATE_OPERATIONAL);
  put_running(st, BEHIND, 1, 0x11);
  put_attestation(st, BEHIND, STW_EAR_AFFIRMING, NOW - 30 * 86400);

  put_device(st, TAMPERED, "meter-bad", "meter", STW_STATE_QUARANTINED);
  put_running(st, TAMPERED, 2, 0x22);
  put_attestation(st, TAMPERED, STW_EAR_CONTRAINDICATED, NOW - 5);

  put_device(st, RETIRED, "meter-old", "meter", STW_STATE_DECOMMISSIONED);
  *state = fx;
  return 0;
}

static const stw_device_report_t *find(const stw_compliance_t *r, const char *id)
{
  for (size_t i = 0; i < r->n_devices; i++)
    if (strcmp(r->devices[i].id, id) == 0)
      return &r->devices[i];
  fail_msg("device %s not in the report", id);
  return NULL;
}

static void verdicts_follow_the_store(void **state)
{
  store_fx_t *fx = *state;
  stw_compliance_t r;
  assert_int_equal(stw_compliance_collect(fx->st, NULL, "home", NULL, NOW, &r), STW_OK);
  assert_int_equal(r.n_devices, 4);

  const stw_device_report_t *good = find(&r, GOOD);
  for (int p = 0; p < STW_PROV_COUNT; p++)
    if (p != STW_PROV_VULN_DISCLOSURE)
      assert_int_equal(good->findings[p].verdict, STW_VERDICT_PASS);
  /* attribute names are evidence; their values are personal and never are */
  assert_non_null(strstr(good->findings[STW_PROV_PERSONAL_DATA].evidence, "owner"));
  assert_null(strstr(good->findings[STW_PROV_PERSONAL_DATA].evidence, "alice"));

  const stw_device_report_t *behind = find(&r, BEHIND);
  assert_int_equal(behind->findings[STW_PROV_UPDATES].verdict, STW_VERDICT_WARN);
  assert_non_null(strstr(behind->findings[STW_PROV_UPDATES].evidence, "sequence 2 is authorised"));
  assert_int_equal(behind->findings[STW_PROV_INTEGRITY].verdict, STW_VERDICT_WARN);  /* stale */

  const stw_device_report_t *bad = find(&r, TAMPERED);
  assert_int_equal(bad->findings[STW_PROV_INTEGRITY].verdict, STW_VERDICT_FAIL);

  const stw_device_report_t *old = find(&r, RETIRED);
  assert_int_equal(old->findings[STW_PROV_UNIQUE_CREDENTIALS].verdict, STW_VERDICT_NA);
  assert_int_equal(old->findings[STW_PROV_PERSONAL_DATA].verdict, STW_VERDICT_PASS);

  /* the fleet: the worst device, with counts */
  assert_int_equal(r.fleet[STW_PROV_INTEGRITY].verdict, STW_VERDICT_FAIL);
  assert_int_equal(r.counts[STW_PROV_INTEGRITY][STW_VERDICT_PASS], 1);
  assert_int_equal(r.counts[STW_PROV_INTEGRITY][STW_VERDICT_WARN], 1);
  assert_int_equal(r.counts[STW_PROV_INTEGRITY][STW_VERDICT_FAIL], 1);
  assert_int_equal(r.counts[STW_PROV_INTEGRITY][STW_VERDICT_NA], 1);
  assert_int_equal(r.fleet[STW_PROV_UPDATES].verdict, STW_VERDICT_WARN);
  assert_int_equal(r.fleet[STW_PROV_VULN_DISCLOSURE].verdict, STW_VERDICT_PASS);
  assert_int_equal(r.fleet[STW_PROV_TELEMETRY].verdict, STW_VERDICT_PASS);
  stw_compliance_free(&r);
}

/* A decommissioned device about which a personal row survived fails 5.11. */
static void leftover_personal_row_fails(void **state)
{
  store_fx_t *fx = *state;
  stw_attr_row_t loc = { .name = "location", .value = "kitchen", .authority = "domain" };
  assert_int_equal(stw_store_attr_set(fx->st, RETIRED, &loc), STW_OK);
  stw_compliance_t r;
  assert_int_equal(stw_compliance_collect(fx->st, NULL, "home", RETIRED, NOW, &r), STW_OK);
  assert_int_equal(r.n_devices, 1);
  assert_int_equal(r.devices[0].findings[STW_PROV_PERSONAL_DATA].verdict, STW_VERDICT_FAIL);
  assert_int_equal(r.fleet[STW_PROV_PERSONAL_DATA].verdict, STW_VERDICT_FAIL);
  stw_compliance_free(&r);
}

static void unknown_device_is_not_found(void **state)
{
  store_fx_t *fx = *state;
  stw_compliance_t r;
  assert_int_equal(stw_compliance_collect(fx->st, NULL, "home", "00000000000000000000000000000000", NOW, &r),
                   STW_ERR_NOT_FOUND);
}

/* A domain key readable by others fails 5.4 for the fleet. */
static void loose_key_file_fails_secrets(void **state)
{
  store_fx_t *fx = *state;
  const char *names[] = { "domain-ca.key", "server.key", "admin.token" };
  char path[700];
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof(path), "%s/%s", fx->dir, names[i]);
    assert_int_equal(stw_file_write_atomic(path, "k", 1, 0600), STW_OK);
  }
  stw_compliance_t r;
  assert_int_equal(stw_compliance_collect(fx->st, fx->dir, "home", NULL, NOW, &r), STW_OK);
  assert_int_equal(r.fleet[STW_PROV_SECRETS].verdict, STW_VERDICT_PASS);
  stw_compliance_free(&r);
  snprintf(path, sizeof(path), "%s/server.key", fx->dir);
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(stw_compliance_collect(fx->st, fx->dir, "home", NULL, NOW, &r), STW_OK);
  assert_int_equal(r.fleet[STW_PROV_SECRETS].verdict, STW_VERDICT_FAIL);
  assert_non_null(strstr(r.fleet[STW_PROV_SECRETS].evidence, "server.key"));
  stw_compliance_free(&r);
}

static void json_and_html_say_the_same(void **state)
{
  store_fx_t *fx = *state;
  stw_compliance_t r;
  assert_int_equal(stw_compliance_collect(fx->st, NULL, "home", NULL, NOW, &r), STW_OK);
  stw_buf_t js, html;
  assert_int_equal(stw_compliance_json(&r, &js), STW_OK);
  assert_int_equal(stw_compliance_html(&r, &html), STW_OK);
  stw_compliance_free(&r);

  json_error_t err;
  json_t *root = json_loadb((const char *)js.data, js.len, 0, &err);
  assert_non_null(root);
  assert_int_equal(json_integer_value(json_object_get(root, "devices_total")), 4);
  json_t *fleet = json_object_get(root, "fleet");
  assert_int_equal(json_array_size(fleet), STW_PROV_COUNT);
  json_t *integrity = json_array_get(fleet, STW_PROV_INTEGRITY);
  assert_string_equal(json_string_value(json_object_get(integrity, "provision")), "5.7");
  assert_string_equal(json_string_value(json_object_get(integrity, "verdict")), "fail");
  json_decref(root);

  /* a device name is data: escaped, never markup */
  assert_int_equal(stw_buf_append(&html, "", 1), STW_OK);
  assert_non_null(strstr((const char *)html.data, "meter-&lt;b&gt;"));
  assert_null(strstr((const char *)html.data, "meter-<b>"));
  stw_buf_free(&js, false);
  stw_buf_free(&html, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(verdicts_follow_the_store, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(leftover_personal_row_fails, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(unknown_device_is_not_found, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(loose_key_file_fails_secrets, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(json_and_html_say_the_same, setup, store_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
