/* Firmware updates, the domain's side (server/update/update.c) over a real
 * store and no network: publishing checks, staged campaigns, halting past the
 * threshold, resume and abort, and what a report moves; and the report
 * format's parser. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "factory.h"
#include "fwreport.h"
#include "manifest.h"
#include "update/update.h"

#define N_DEV 10
#define MODEL "meter-1"

typedef struct {
  char *dir;
  stw_domain_t *domain;
  stw_store_t *store;
  stw_factory_t *mfg;
  char id[N_DEV][STW_ID_HEX];
  uint8_t image[2048];
  int64_t fw;
} fixture_t;

static stw_status_t publish(fixture_t *f, const stw_factory_t *mfg, uint64_t seq, const uint8_t *image, size_t len,
                            int64_t *id)
{
  stw_manifest_t m;
  memset(&m, 0, sizeof(m));
  m.sequence = seq;
  snprintf(m.vendor, sizeof(m.vendor), "%s", mfg->name);
  snprintf(m.class_id, sizeof(m.class_id), MODEL);
  snprintf(m.component, sizeof(m.component), "firmware");
  snprintf(m.uri, sizeof(m.uri), "/fw/img/x");
  m.size = sizeof(f->image);
  assert_int_equal(stw_sha256(f->image, sizeof(f->image), m.digest), STW_OK);
  stw_buf_t signed_manifest;
  stw_buf_init(&signed_manifest, STW_MANIFEST_MAX);
  assert_int_equal(stw_manifest_vendor_sign(&m, mfg->ca_key, &signed_manifest), STW_OK);
  stw_firmware_t fw;
  char why[256];
  stw_status_t st = stw_update_publish(f->store, f->domain, signed_manifest.data, signed_manifest.len, image, len,
                                       "admin", &fw, why, sizeof(why));
  if (st == STW_OK) {
    *id = fw.id;
    stw_firmware_clear(&fw);
  }
  stw_buf_free(&signed_manifest, false);
  return st;
}

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->dir = stw_test_tmpdir("update");
  assert_int_equal(stw_domain_open(f->dir, "home.example", &f->domain), STW_OK);
  assert_int_equal(stw_store_open(f->domain->store_url, &f->store), STW_OK);
  assert_int_equal(stw_factory_new("ACME", &f->mfg), STW_OK);
  assert_int_equal(stw_store_trust_add(f->store, "ACME", f->mfg->ca_der.data, f->mfg->ca_der.len), STW_OK);
  for (int i = 0; i < N_DEV; i++) {
    stw_device_t d;
    memset(&d, 0, sizeof(d));
    snprintf(f->id[i], sizeof(f->id[i]), "%032x", 0xa0 + i);
    snprintf(d.id, sizeof(d.id), "%s", f->id[i]);
    snprintf(d.name, sizeof(d.name), "meter-%d", i);
    snprintf(d.model, sizeof(d.model), MODEL);
    snprintf(d.manufacturer, sizeof(d.manufacturer), "ACME");
    d.state = STW_STATE_COMMISSIONED;
    d.created_at = d.updated_at = stw_now();
    assert_int_equal(stw_store_device_put(f->store, &d), STW_OK);
  }
  for (size_t i = 0; i < sizeof(f->image); i++)
    f->image[i] = (uint8_t)i;
  assert_int_equal(publish(f, f->mfg, 1, f->image, sizeof(f->image), &f->fw), STW_OK);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  stw_store_close(f->store);
  stw_domain_close(f->domain);
  stw_factory_free(f->mfg);
  stw_test_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static stw_campaign_t create(fixture_t *f, unsigned canary, unsigned max_failures)
{
  stw_campaign_t spec, c;
  memset(&spec, 0, sizeof(spec));
  spec.firmware_id = f->fw;
  snprintf(spec.target, sizeof(spec.target), "model=" MODEL);
  spec.canary_percent = canary;
  spec.max_failure_percent = max_failures;
  uint64_t targets = 0;
  char why[256] = "";
  assert_int_equal(stw_update_campaign_create(f->store, &spec, "admin", &c, &targets, why, sizeof(why)), STW_OK);
  assert_int_equal(targets, N_DEV);
  return c;
}

static stw_status_t report(fixture_t *f, int i, stw_fwreport_status_t status, stw_report_outcome_t *o)
{
  stw_fwreport_t r = { .sequence = 1, .status = status };
  snprintf(r.detail, sizeof(r.detail), "test");
  return stw_update_report_apply(f->store, f->id[i], &r, o);
}

static stw_campaign_t reload(fixture_t *f, int64_t id)
{
  stw_campaign_t c;
  assert_int_equal(stw_store_campaign_get(f->store, id, &c), STW_OK);
  return c;
}

/* ---- publishing ---------------------------------------------------------------------- */

static void test_publish_stores_image_and_envelope(void **state)
{
  fixture_t *f = *state;
  stw_firmware_t fw;
  assert_int_equal(stw_store_firmware_get(f->store, f->fw, &fw), STW_OK);
  assert_int_equal(fw.size, sizeof(f->image));
  char path[1200];
  assert_int_equal(stw_update_image_path(f->dir, fw.digest, path, sizeof(path)), STW_OK);
  size_t len = 0;
  uint8_t *img = stw_test_read_file(path, &len);
  assert_int_equal(len, sizeof(f->image));
  assert_memory_equal(img, f->image, len);
  free(img);
  stw_manifest_t m;
  assert_int_equal(stw_manifest_verify(fw.envelope, fw.envelope_len, f->mfg->ca.spki, f->mfg->ca.spki_len,
                                       f->domain->ca.spki, f->domain->ca.spki_len, &m), STW_OK);
  stw_firmware_clear(&fw);
}

static void test_publish_refuses_untrusted_vendor(void **state)
{
  fixture_t *f = *state;
  stw_factory_t *other = NULL;
  assert_int_equal(stw_factory_new("ACME", &other), STW_OK);
  int64_t id = 0;
  assert_int_equal(publish(f, other, 2, f->image, sizeof(f->image), &id), STW_ERR_UNTRUSTED);
  stw_factory_free(other);
  stw_firmware_t fw;
  assert_int_equal(stw_store_firmware_get(f->store, f->fw + 1, &fw), STW_ERR_NOT_FOUND);
}

static void test_publish_refuses_image_mismatch(void **state)
{
  fixture_t *f = *state;
  int64_t id = 0;
  uint8_t other[sizeof(f->image)];
  memcpy(other, f->image, sizeof(other));
  other[5] ^= 1;
  assert_int_equal(publish(f, f->mfg, 2, other, sizeof(other), &id), STW_ERR_TAMPERED);
  assert_int_equal(publish(f, f->mfg, 2, f->image, sizeof(f->image) - 1, &id), STW_ERR_TAMPERED);
  stw_firmware_t fw;
  assert_int_equal(stw_store_firmware_get(f->store, f->fw + 1, &fw), STW_ERR_NOT_FOUND);
}

static void test_publish_refuses_same_sequence_twice(void **state)
{
  fixture_t *f = *state;
  int64_t id = 0;
  assert_int_equal(publish(f, f->mfg, 1, f->image, sizeof(f->image), &id), STW_ERR_EXISTS);
}

/* ---- campaigns ------------------------------------------------------------------------- */

static void test_canary_then_rest_then_done(void **state)
{
  fixture_t *f = *state;
  stw_campaign_t c = create(f, 20, 0);   /* 2 of 10 in the canary */
  uint64_t n[STW_ROLLOUT_COUNT];
  assert_int_equal(stw_store_rollout_counts(f->store, c.id, 0, n), STW_OK);
  assert_int_equal(n[STW_ROLLOUT_OFFERED], 2);
  stw_report_outcome_t o;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(report(f, i, STW_FWREPORT_DOWNLOADING, &o), STW_OK);
    assert_true(o.lifecycle_moved);
    assert_int_equal(o.state, STW_STATE_UPDATING);
    assert_int_equal(report(f, i, STW_FWREPORT_INSTALLED, &o), STW_OK);
    assert_int_equal(o.state, STW_STATE_OPERATIONAL);
  }
  assert_true(o.offers_changed);
  c = reload(f, c.id);
  assert_int_equal(c.stage, 1);
  assert_int_equal(stw_store_rollout_counts(f->store, c.id, 1, n), STW_OK);
  assert_int_equal(n[STW_ROLLOUT_OFFERED], 8);
  for (int i = 2; i < N_DEV; i++)
    assert_int_equal(report(f, i, STW_FWREPORT_INSTALLED, &o), STW_OK);
  c = reload(f, c.id);
  assert_int_equal(c.state, STW_CAMPAIGN_DONE);
  stw_device_fw_t run;
  assert_int_equal(stw_store_device_fw_get(f->store, f->id[9], &run), STW_OK);
  assert_int_equal(run.sequence, 1);
}

static void test_waiting_device_is_not_offered(void **state)
{
  fixture_t *f = *state;
  create(f, 10, 0);
  stw_firmware_t fw;
  assert_int_equal(stw_update_offer(f->store, f->id[0], &fw), STW_OK);
  assert_true(stw_update_may_fetch(f->store, f->id[0], fw.digest));
  assert_false(stw_update_may_fetch(f->store, f->id[5], fw.digest));
  stw_firmware_clear(&fw);
  assert_int_equal(stw_update_offer(f->store, f->id[5], &fw), STW_ERR_NOT_FOUND);
  stw_report_outcome_t o;
  assert_int_equal(report(f, 5, STW_FWREPORT_INSTALLED, &o), STW_ERR_NOT_FOUND);
}

static void test_halts_past_threshold(void **state)
{
  fixture_t *f = *state;
  stw_campaign_t c = create(f, 40, 25);  /* 4 in the canary, halt over 25% */
  stw_report_outcome_t o;
  assert_int_equal(report(f, 0, STW_FWREPORT_INSTALLED, &o), STW_OK);
  assert_int_equal(report(f, 1, STW_FWREPORT_INSTALLED, &o), STW_OK);
  assert_int_equal(report(f, 2, STW_FWREPORT_INSTALLED, &o), STW_OK);
  assert_int_equal(report(f, 3, STW_FWREPORT_FAILED, &o), STW_OK);  /* 1 of 4: 25%, not over */
  c = reload(f, c.id);
  assert_int_equal(c.state, STW_CAMPAIGN_RUNNING);
  assert_int_equal(c.stage, 1);
  /* Stage 1 holds 6: one early failure (1 of 1) does not decide alone ... */
  assert_int_equal(report(f, 4, STW_FWREPORT_FAILED, &o), STW_OK);
  assert_int_equal(reload(f, c.id).state, STW_CAMPAIGN_RUNNING);
  /* ... a second one does: 2 of 6 is past 25% whatever the other four report */
  assert_int_equal(report(f, 5, STW_FWREPORT_FAILED, &o), STW_OK);
  assert_true(o.offers_changed);
  c = reload(f, c.id);
  assert_int_equal(c.state, STW_CAMPAIGN_HALTED);
  assert_non_null(strstr(c.reason, "stage 1: 2 of 2"));
  stw_firmware_t fw;
  assert_int_equal(stw_update_offer(f->store, f->id[6], &fw), STW_ERR_NOT_FOUND);
  /* A report arriving after the halt is still recorded. */
  assert_int_equal(report(f, 6, STW_FWREPORT_INSTALLED, &o), STW_OK);
  stw_rollout_t r;
  assert_int_equal(stw_store_rollout_get(f->store, c.id, f->id[6], &r), STW_OK);
  assert_int_equal(r.status, STW_ROLLOUT_INSTALLED);
  assert_int_equal(reload(f, c.id).state, STW_CAMPAIGN_HALTED);
}

static void test_resume_and_abort(void **state)
{
  fixture_t *f = *state;
  stw_campaign_t c = create(f, 10, 0);
  char why[256];
  assert_int_equal(stw_update_campaign_resume(f->store, c.id, "admin", why, sizeof(why)), STW_ERR_STATE);
  stw_report_outcome_t o;
  assert_int_equal(report(f, 0, STW_FWREPORT_FAILED, &o), STW_OK);
  assert_int_equal(reload(f, c.id).state, STW_CAMPAIGN_HALTED);
  assert_int_equal(stw_update_campaign_resume(f->store, c.id, "admin", why, sizeof(why)), STW_OK);
  c = reload(f, c.id);
  assert_int_equal(c.state, STW_CAMPAIGN_RUNNING);
  assert_int_equal(c.stage, 1);   /* the canary was finished: the rest is offered */
  stw_firmware_t fw;
  assert_int_equal(stw_update_offer(f->store, f->id[3], &fw), STW_OK);
  stw_firmware_clear(&fw);
  assert_int_equal(stw_update_campaign_abort(f->store, c.id, "admin", why, sizeof(why)), STW_OK);
  assert_int_equal(reload(f, c.id).state, STW_CAMPAIGN_ABORTED);
  assert_int_equal(stw_update_offer(f->store, f->id[3], &fw), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_update_campaign_abort(f->store, c.id, "admin", why, sizeof(why)), STW_ERR_STATE);
}

static void test_repeated_and_contradicting_reports(void **state)
{
  fixture_t *f = *state;
  stw_campaign_t c = create(f, 100, 100);
  stw_report_outcome_t o;
  assert_int_equal(report(f, 0, STW_FWREPORT_INSTALLED, &o), STW_OK);
  assert_int_equal(report(f, 0, STW_FWREPORT_INSTALLED, &o), STW_OK);  /* resent: nothing new */
  assert_false(o.lifecycle_moved);
  assert_int_equal(report(f, 0, STW_FWREPORT_FAILED, &o), STW_ERR_STATE);
  stw_rollout_t r;
  assert_int_equal(stw_store_rollout_get(f->store, c.id, f->id[0], &r), STW_OK);
  assert_int_equal(r.status, STW_ROLLOUT_INSTALLED);
}

static void test_campaign_refuses_bad_specs(void **state)
{
  fixture_t *f = *state;
  stw_campaign_t spec, c;
  memset(&spec, 0, sizeof(spec));
  spec.firmware_id = f->fw;
  spec.canary_percent = 10;
  uint64_t targets = 0;
  char why[256] = "";
  snprintf(spec.target, sizeof(spec.target), "colour=blue");
  assert_int_equal(stw_update_campaign_create(f->store, &spec, "admin", &c, &targets, why, sizeof(why)), STW_ERR_INVALID);
  snprintf(spec.target, sizeof(spec.target), "model=other-1");
  assert_int_equal(stw_update_campaign_create(f->store, &spec, "admin", &c, &targets, why, sizeof(why)), STW_ERR_INVALID);
  snprintf(spec.target, sizeof(spec.target), "group=kitchen");
  assert_int_equal(stw_update_campaign_create(f->store, &spec, "admin", &c, &targets, why, sizeof(why)),
                   STW_ERR_NOT_FOUND);
  stw_attr_row_t a = { .name = "group", .value = "kitchen", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->store, f->id[3], &a), STW_OK);
  assert_int_equal(stw_update_campaign_create(f->store, &spec, "admin", &c, &targets, why, sizeof(why)), STW_OK);
  assert_int_equal(targets, 1);
}

/* ---- the report format ------------------------------------------------------------------ */

static void test_report_round_trip_and_bad_inputs(void **state)
{
  (void)state;
  stw_fwreport_t r = { .sequence = 7, .status = STW_FWREPORT_FAILED }, back;
  snprintf(r.detail, sizeof(r.detail), "self-test failed");
  stw_buf_t b;
  stw_buf_init(&b, STW_FWREPORT_MAX);
  assert_int_equal(stw_fwreport_encode(&r, &b), STW_OK);
  assert_int_equal(stw_fwreport_decode(b.data, b.len, &back), STW_OK);
  assert_int_equal(back.sequence, 7);
  assert_string_equal(back.detail, "self-test failed");
  assert_int_equal(stw_fwreport_decode(b.data, b.len - 1, &back), STW_ERR_MALFORMED);
  uint8_t trailing[STW_FWREPORT_MAX];
  memcpy(trailing, b.data, b.len);
  trailing[b.len] = 0;
  assert_int_equal(stw_fwreport_decode(trailing, b.len + 1, &back), STW_ERR_MALFORMED);
  static const uint8_t bad_status[] = { 0xa3, 0x01, 0x01, 0x02, 0x09, 0x03, 0x60 };
  assert_int_equal(stw_fwreport_decode(bad_status, sizeof(bad_status), &back), STW_ERR_MALFORMED);
  static const uint8_t twice[] = { 0xa3, 0x01, 0x01, 0x01, 0x01, 0x03, 0x60 };
  assert_int_equal(stw_fwreport_decode(twice, sizeof(twice), &back), STW_ERR_MALFORMED);
  static const uint8_t control[] = { 0xa3, 0x01, 0x01, 0x02, 0x04, 0x03, 0x61, 0x1b };
  assert_int_equal(stw_fwreport_decode(control, sizeof(control), &back), STW_ERR_MALFORMED);
  uint8_t big[STW_FWREPORT_MAX + 1] = { 0 };
  assert_int_equal(stw_fwreport_decode(big, sizeof(big), &back), STW_ERR_TOO_LARGE);
  stw_buf_free(&b, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_publish_stores_image_and_envelope, setup, teardown),
    cmocka_unit_test_setup_teardown(test_publish_refuses_untrusted_vendor, setup, teardown),
    cmocka_unit_test_setup_teardown(test_publish_refuses_image_mismatch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_publish_refuses_same_sequence_twice, setup, teardown),
    cmocka_unit_test_setup_teardown(test_canary_then_rest_then_done, setup, teardown),
    cmocka_unit_test_setup_teardown(test_waiting_device_is_not_offered, setup, teardown),
    cmocka_unit_test_setup_teardown(test_halts_past_threshold, setup, teardown),
    cmocka_unit_test_setup_teardown(test_resume_and_abort, setup, teardown),
    cmocka_unit_test_setup_teardown(test_repeated_and_contradicting_reports, setup, teardown),
    cmocka_unit_test_setup_teardown(test_campaign_refuses_bad_specs, setup, teardown),
    cmocka_unit_test(test_report_round_trip_and_bad_inputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
