/* Firmware updates end to end (issue 6 §1-§3): the vendor signs, the owner
 * publishes and rolls out in stages through the real daemon, devices run the
 * SDK's update agent over DTLS. Each bad input is refused by the device,
 * reported to the domain, and changes nothing on the device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"
#include "../../device/net_internal.h"
#include "../../device/slots.h"
#include "manifest.h"
#include "steward/attest.h"
#include "steward/update.h"
#include "update/update.h"

#define MODEL "meter-1"
#define IMAGE_LEN 4096
#define FLEET 3

typedef struct {
  it_world_t w;
  it_daemon_t d;
  it_device_t dev[FLEET];
  uint8_t image[3 * IMAGE_LEN];
} fixture_t;

typedef struct {
  unsigned results;
  stw_update_result_t last;
  bool fail_self_test;
} watch_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  for (size_t i = 0; i < sizeof(f->image); i++)
    f->image[i] = (uint8_t)(i * 7 + 3);
  assert_int_equal(it_world_start(&f->w, MODEL, NULL, &f->d), STW_OK);
  for (int i = 0; i < FLEET; i++) {
    assert_int_equal(it_device_enrolled(&f->w, f->d.uri, MODEL, &f->dev[i]), STW_OK);
    /* In the directory: COMMISSIONED, where an update may start. */
    stw_state_t s;
    assert_int_equal(stw_store_transition(f->w.store, stw_dev_id(f->dev[i].dev), STW_EV_REGISTER, "test", "", &s), STW_OK);
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  for (int i = 0; i < FLEET; i++)
    it_device_free(&f->dev[i]);
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

/* ---- helpers -------------------------------------------------------------------- */

static void vendor_sign(const stw_factory_t *mfg, const char *class_id, uint64_t seq, const uint8_t *image, size_t len,
                        stw_buf_t *out)
{
  stw_manifest_t m;
  memset(&m, 0, sizeof(m));
  m.sequence = seq;
  snprintf(m.vendor, sizeof(m.vendor), "%s", mfg->name);
  snprintf(m.class_id, sizeof(m.class_id), "%s", class_id);
  snprintf(m.component, sizeof(m.component), "firmware");
  m.size = len;
  assert_int_equal(stw_sha256(image, len, m.digest), STW_OK);
  char hex[65];
  stw_hex_encode(m.digest, 32, hex);
  snprintf(m.uri, sizeof(m.uri), "/fw/img/%s", hex);
  stw_buf_init(out, STW_MANIFEST_MAX);
  assert_int_equal(stw_manifest_vendor_sign(&m, mfg->ca_key, out), STW_OK);
}

/* The vendor signs, the owner publishes: the firmware id. */
static int64_t publish(fixture_t *f, const stw_factory_t *mfg, const char *class_id, uint64_t seq, const uint8_t *image,
                       size_t len)
{
  stw_buf_t signed_manifest;
  vendor_sign(mfg, class_id, seq, image, len, &signed_manifest);
  stw_firmware_t fw;
  char why[256] = "";
  stw_status_t st = stw_update_publish(f->w.store, f->w.domain, signed_manifest.data, signed_manifest.len, image, len,
                                       "admin", &fw, why, sizeof(why));
  if (st != STW_OK)
    printf("    publish: %s\n", why);
  assert_int_equal(st, STW_OK);
  stw_buf_free(&signed_manifest, false);
  int64_t id = fw.id;
  stw_firmware_clear(&fw);
  return id;
}

/* A campaign offering firmware fw_id to exactly one device, written to the
 * store as a careless operator tool might: the daemon serves what is offered,
 * the device alone decides. */
static int64_t offer_directly(fixture_t *f, int64_t fw_id, const char *device_id)
{
  stw_campaign_t c;
  memset(&c, 0, sizeof(c));
  c.firmware_id = fw_id;
  snprintf(c.target, sizeof(c.target), "model=%s", MODEL);
  c.canary_percent = 100;
  c.max_failure_percent = 100;
  c.created_at = c.updated_at = stw_now();
  assert_int_equal(stw_store_campaign_add(f->w.store, &c), STW_OK);
  stw_rollout_t r;
  memset(&r, 0, sizeof(r));
  r.campaign_id = c.id;
  snprintf(r.device_id, sizeof(r.device_id), "%s", device_id);
  r.status = STW_ROLLOUT_OFFERED;
  r.updated_at = stw_now();
  assert_int_equal(stw_store_rollout_put(f->w.store, &r), STW_OK);
  return c.id;
}

static void on_result(stw_dev_t *dev, const stw_update_result_t *r, void *arg)
{
  watch_t *w = arg;
  printf("    %.8s: sequence %llu: %s (%s)\n", stw_dev_id(dev), (unsigned long long)r->sequence, r->detail,
         stw_status_str(r->status));
  w->last = *r;
  w->results++;
}

static bool self_test(stw_dev_t *dev, const uint8_t *image, size_t len, void *arg)
{
  (void)dev;
  (void)image;
  (void)len;
  return !((watch_t *)arg)->fail_self_test;
}

/* Run the agent for devices until `want` results came (20 s at most). */
static void run_agents(fixture_t *f, stw_dev_t **devs, size_t n, watch_t *w, unsigned want, uint64_t interrupt_after)
{
  stw_updater_t *u = NULL;
  assert_int_equal(stw_updater_new(&u), STW_OK);
  stw_update_opts_t o = { .self_test = self_test, .on_result = on_result, .arg = w,
                          .interrupt_after_blocks = interrupt_after };
  for (size_t i = 0; i < n; i++)
    assert_int_equal(stw_updater_watch(u, devs[i], f->d.uri, &o), STW_OK);
  double until = it_now_s() + 20;
  while (w->results < want && it_now_s() < until)
    stw_updater_run(u, 50);
  stw_updater_free(u);
  assert_int_equal(w->results, want);
}

static void run_one(fixture_t *f, stw_dev_t *dev, watch_t *w)
{
  run_agents(f, &dev, 1, w, 1, 0);
}

static stw_rollout_status_t row_status(fixture_t *f, int64_t campaign, const stw_dev_t *dev, char *detail)
{
  stw_rollout_t r;
  assert_int_equal(stw_store_rollout_get(f->w.store, campaign, stw_dev_id(dev), &r), STW_OK);
  if (detail != NULL)
    snprintf(detail, STW_REASON_MAX, "%s", r.detail);
  return r.status;
}

/* The device is as it was: factory image active, nothing on trial, no
 * download left behind. */
static void assert_unchanged(stw_dev_t *dev)
{
  stw_slots_t s;
  assert_int_equal(stw_slots_load(dev, &s), STW_OK);
  assert_int_equal(s.active, 'a');
  assert_false(s.trial);
  assert_int_equal(s.sequence, 0);
  assert_int_equal(s.boot_count, 1);
}

/* A refused offer: the code the device gives, its report recorded as failed
 * with the detail, nothing changed on the device. */
static void expect_refusal(fixture_t *f, stw_dev_t *dev, int64_t campaign, stw_status_t code, const char *words)
{
  watch_t w = { 0 };
  stw_slots_t before;
  assert_int_equal(stw_slots_load(dev, &before), STW_OK);
  run_one(f, dev, &w);
  assert_int_equal(w.last.status, code);
  assert_non_null(strstr(w.last.detail, words));
  assert_unchanged(dev);
  char detail[STW_REASON_MAX];
  /* The report reached the domain before the result was delivered. */
  assert_int_equal(row_status(f, campaign, dev, detail), STW_ROLLOUT_FAILED);
  assert_non_null(strstr(detail, words));
}

/* ---- the staged roll-out -------------------------------------------------------------- */

static void test_campaign_installs_in_stages(void **state)
{
  fixture_t *f = *state;
  int64_t fw = publish(f, f->w.mfg, MODEL, 1, f->image, IMAGE_LEN);
  uint64_t audit0 = it_audit_last(f->w.store);
  stw_campaign_t spec, c;
  memset(&spec, 0, sizeof(spec));
  spec.firmware_id = fw;
  snprintf(spec.target, sizeof(spec.target), "model=%s", MODEL);
  spec.canary_percent = 30;   /* one of three */
  spec.max_failure_percent = 50;
  uint64_t targets = 0;
  char why[256] = "";
  assert_int_equal(stw_update_campaign_create(f->w.store, &spec, "admin", &c, &targets, why, sizeof(why)), STW_OK);
  assert_int_equal(targets, FLEET);
  uint64_t n[STW_ROLLOUT_COUNT];
  assert_int_equal(stw_store_rollout_counts(f->w.store, c.id, 0, n), STW_OK);
  assert_int_equal(n[STW_ROLLOUT_OFFERED], 1);
  assert_int_equal(stw_store_rollout_counts(f->w.store, c.id, 1, n), STW_OK);
  assert_int_equal(n[STW_ROLLOUT_WAITING], 2);

  watch_t w = { 0 };
  stw_dev_t *devs[FLEET] = { f->dev[0].dev, f->dev[1].dev, f->dev[2].dev };
  run_agents(f, devs, FLEET, &w, FLEET, 0);
  assert_int_equal(w.last.status, STW_OK);
  assert_int_equal(stw_store_campaign_get(f->w.store, c.id, &c), STW_OK);
  assert_int_equal(c.state, STW_CAMPAIGN_DONE);
  assert_int_equal(c.stage, 1);
  for (int i = 0; i < FLEET; i++) {
    stw_slots_t s;
    assert_int_equal(stw_slots_load(devs[i], &s), STW_OK);
    assert_int_equal(s.active, 'b');
    assert_int_equal(s.sequence, 1);
    assert_false(s.trial);
    stw_device_fw_t run;
    assert_int_equal(stw_store_device_fw_get(f->w.store, stw_dev_id(devs[i]), &run), STW_OK);
    assert_int_equal(run.sequence, 1);
    /* COMMISSIONED -> UPDATING -> OPERATIONAL */
    assert_int_equal(it_device_state(f->w.store, stw_dev_id(devs[i])), STW_STATE_OPERATIONAL);
    uint8_t img[32], cfg[32];
    uint64_t boots, seq;
    assert_int_equal(stw_slots_measure(devs[i], img, cfg, &boots, &seq), STW_OK);
    stw_firmware_t fwrow;
    assert_int_equal(stw_store_firmware_by_digest(f->w.store, img, &fwrow), STW_OK);
    stw_firmware_clear(&fwrow);
  }
  assert_int_equal(it_audit_count(f->w.store, audit0, "update.report", NULL, "installed", NULL), FLEET);
  assert_int_equal(it_audit_count(f->w.store, audit0, "campaign.stage", NULL, NULL, NULL), 1);
  assert_int_equal(it_audit_count(f->w.store, audit0, "campaign.done", NULL, NULL, NULL), 1);

  /* The verifier follows each installed update with a challenge: a device
   * that listens on /att answers it, and the new image is a reference value. */
  stw_attester_t *a = NULL;
  assert_int_equal(stw_attester_new(devs[0], f->d.uri, &a), STW_OK);
  double until = it_now_s() + 15;
  while (stw_attester_answered(a) < 1 && it_now_s() < until)
    stw_attester_run(a, 100);
  assert_int_equal(stw_attester_answered(a), 1);
  stw_attest_row_t row;
  assert_int_equal(stw_store_attest_latest(f->w.store, stw_dev_id(devs[0]), &row), STW_OK);
  assert_string_equal(row.trigger, "update");
  assert_int_equal(row.verdict, STW_EAR_AFFIRMING);
  stw_attester_free(a);
}

/* ---- refusals --------------------------------------------------------------------------- */

static void test_lower_sequence_refused(void **state)
{
  fixture_t *f = *state;
  stw_dev_t *dev = f->dev[0].dev;
  int64_t fw2 = publish(f, f->w.mfg, MODEL, 2, f->image, IMAGE_LEN);
  int64_t c2 = offer_directly(f, fw2, stw_dev_id(dev));
  watch_t w = { 0 };
  run_one(f, dev, &w);
  assert_int_equal(w.last.status, STW_OK);
  assert_int_equal(row_status(f, c2, dev, NULL), STW_ROLLOUT_INSTALLED);
  stw_slots_t before, after;
  assert_int_equal(stw_slots_load(dev, &before), STW_OK);
  int64_t fw1 = publish(f, f->w.mfg, MODEL, 1, f->image + 1, IMAGE_LEN);
  int64_t c1 = offer_directly(f, fw1, stw_dev_id(dev));
  memset(&w, 0, sizeof(w));
  run_one(f, dev, &w);
  assert_int_equal(w.last.status, STW_ERR_REPLAY);
  assert_non_null(strstr(w.last.detail, "no rollback"));
  assert_int_equal(stw_slots_load(dev, &after), STW_OK);
  assert_memory_equal(&before, &after, sizeof(before));
  assert_int_equal(row_status(f, c1, dev, NULL), STW_ROLLOUT_FAILED);
}

static void test_wrong_class_refused(void **state)
{
  fixture_t *f = *state;
  int64_t fw = publish(f, f->w.mfg, "other-1", 1, f->image, IMAGE_LEN);
  int64_t c = offer_directly(f, fw, stw_dev_id(f->dev[0].dev));
  expect_refusal(f, f->dev[0].dev, c, STW_ERR_FORBIDDEN, "this device is ACME/" MODEL);
}

/* A firmware row put in the store directly, as the domain would not publish
 * it: sequence 1 of MODEL's firmware from vendor, with this envelope. */
static int64_t put_firmware_directly(fixture_t *f, const char *vendor, const uint8_t digest[32],
                                     const stw_buf_t *envelope)
{
  stw_firmware_t fw;
  memset(&fw, 0, sizeof(fw));
  snprintf(fw.vendor, sizeof(fw.vendor), "%s", vendor);
  snprintf(fw.class_id, sizeof(fw.class_id), MODEL);
  snprintf(fw.component, sizeof(fw.component), "firmware");
  snprintf(fw.uri, sizeof(fw.uri), "/fw/img/x");
  fw.sequence = 1;
  fw.size = IMAGE_LEN;
  memcpy(fw.digest, digest, 32);
  fw.envelope = envelope->data;
  fw.envelope_len = envelope->len;
  assert_int_equal(stw_store_firmware_put(f->w.store, &fw), STW_OK);
  return fw.id;
}

static void test_wrong_vendor_refused(void **state)
{
  fixture_t *f = *state;
  /* The device's own manufacturer key, but a manifest naming another vendor
   * (the domain would not publish it; it is put in the store directly). */
  stw_buf_t vendor_signed, envelope;
  stw_manifest_t m;
  memset(&m, 0, sizeof(m));
  m.sequence = 1;
  snprintf(m.vendor, sizeof(m.vendor), "Globex");
  snprintf(m.class_id, sizeof(m.class_id), MODEL);
  snprintf(m.component, sizeof(m.component), "firmware");
  snprintf(m.uri, sizeof(m.uri), "/fw/img/x");
  m.size = IMAGE_LEN;
  assert_int_equal(stw_sha256(f->image, IMAGE_LEN, m.digest), STW_OK);
  stw_buf_init(&vendor_signed, STW_MANIFEST_MAX);
  stw_buf_init(&envelope, STW_MANIFEST_MAX);
  assert_int_equal(stw_manifest_vendor_sign(&m, f->w.mfg->ca_key, &vendor_signed), STW_OK);
  assert_int_equal(stw_manifest_authorize(vendor_signed.data, vendor_signed.len, f->w.domain->ca_key, &envelope), STW_OK);
  int64_t fw = put_firmware_directly(f, "Globex", m.digest, &envelope);
  int64_t c = offer_directly(f, fw, stw_dev_id(f->dev[0].dev));
  expect_refusal(f, f->dev[0].dev, c, STW_ERR_FORBIDDEN, "the manifest is for Globex/" MODEL);
  stw_buf_free(&vendor_signed, false);
  stw_buf_free(&envelope, false);
}

static void test_unknown_key_refused(void **state)
{
  fixture_t *f = *state;
  /* Someone holding another key under the same manufacturer name, trusted by
   * a careless operator: the domain publishes, the device knows better. */
  stw_factory_t *impostor = NULL;
  assert_int_equal(stw_factory_new("ACME", &impostor), STW_OK);
  assert_int_equal(stw_store_trust_add(f->w.store, "ACME", impostor->ca_der.data, impostor->ca_der.len), STW_OK);
  int64_t fw = publish(f, impostor, MODEL, 1, f->image, IMAGE_LEN);
  int64_t c = offer_directly(f, fw, stw_dev_id(f->dev[0].dev));
  expect_refusal(f, f->dev[0].dev, c, STW_ERR_BAD_SIGNATURE, "signature does not verify");
  stw_factory_free(impostor);
}

static void test_missing_owner_authorisation_refused(void **state)
{
  fixture_t *f = *state;
  stw_buf_t vendor_only;
  vendor_sign(f->w.mfg, MODEL, 1, f->image, IMAGE_LEN, &vendor_only);
  uint8_t digest[32];
  assert_int_equal(stw_sha256(f->image, IMAGE_LEN, digest), STW_OK);
  int64_t fw = put_firmware_directly(f, "ACME", digest, &vendor_only);  /* the vendor's signature alone */
  int64_t c = offer_directly(f, fw, stw_dev_id(f->dev[0].dev));
  watch_t w = { 0 };
  run_one(f, f->dev[0].dev, &w);
  assert_int_equal(w.last.status, STW_ERR_UNAUTHENTICATED);
  assert_non_null(strstr(w.last.detail, "owner's authorisation is missing"));
  assert_unchanged(f->dev[0].dev);
  assert_int_equal(row_status(f, c, f->dev[0].dev, NULL), STW_ROLLOUT_FAILED);
  stw_buf_free(&vendor_only, false);
}

/* The image on the domain's disk damaged after publishing. */
static int64_t offer_damaged(fixture_t *f, const uint8_t *served, size_t served_len)
{
  int64_t fw = publish(f, f->w.mfg, MODEL, 1, f->image, IMAGE_LEN);
  uint8_t digest[32];
  char path[1200];
  assert_int_equal(stw_sha256(f->image, IMAGE_LEN, digest), STW_OK);
  assert_int_equal(stw_update_image_path(f->w.data, digest, path, sizeof(path)), STW_OK);
  assert_int_equal(it_write_file(path, served, served_len), STW_OK);
  return offer_directly(f, fw, stw_dev_id(f->dev[1].dev));
}

static void test_digest_mismatch_refused(void **state)
{
  fixture_t *f = *state;
  uint8_t bad[IMAGE_LEN];
  memcpy(bad, f->image, IMAGE_LEN);
  bad[IMAGE_LEN / 2] ^= 1;
  int64_t c = offer_damaged(f, bad, IMAGE_LEN);
  expect_refusal(f, f->dev[1].dev, c, STW_ERR_TAMPERED, "SHA-256 does not match");
}

static void test_truncated_download_refused(void **state)
{
  fixture_t *f = *state;
  int64_t c = offer_damaged(f, f->image, IMAGE_LEN - 100);
  expect_refusal(f, f->dev[1].dev, c, STW_ERR_MALFORMED, "truncated download");
}

static void test_oversized_download_refused(void **state)
{
  fixture_t *f = *state;
  int64_t c = offer_damaged(f, f->image, IMAGE_LEN + 1500);
  expect_refusal(f, f->dev[1].dev, c, STW_ERR_TOO_LARGE, "oversized download");
}

/* ---- resume, self-test, halting ---------------------------------------------------------- */

static void test_download_resumes_after_interruption(void **state)
{
  fixture_t *f = *state;
  /* A device with a folder: the restart is a new process reading it. */
  char dir[IT_PATH_MAX + 16];
  snprintf(dir, sizeof(dir), "%s/resumer", f->w.root);
  it_device_t d;
  assert_int_equal(it_device_imprint(f->w.mfg, MODEL, false, &d), STW_OK);
  assert_int_equal(stw_imprint_save(f->w.mfg, &d.im, dir), STW_OK);
  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &d, NULL, 0), STW_OK);
  char diag[128];
  assert_int_equal(it_device_import(&f->w, &d, diag, sizeof(diag)), STW_OK);
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(dir, &dev), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_bootstrap(dev, f->d.uri, &rep), STW_OK);

  size_t len = 3 * IMAGE_LEN;  /* 12 blocks of 1 KiB */
  int64_t fw = publish(f, f->w.mfg, MODEL, 1, f->image, len);
  int64_t c = offer_directly(f, fw, stw_dev_id(dev));
  watch_t w = { 0 };
  run_agents(f, &dev, 1, &w, 1, 5);   /* power lost after 5 blocks */
  assert_int_equal(w.last.status, STW_ERR_NETWORK);
  assert_int_equal(row_status(f, c, dev, NULL), STW_ROLLOUT_DOWNLOADING);
  stw_dev_close(dev);

  assert_int_equal(stw_dev_open(dir, &dev), STW_OK);
  memset(&w, 0, sizeof(w));
  run_one(f, dev, &w);
  assert_int_equal(w.last.status, STW_OK);
  assert_int_equal(w.last.resumed_at, 5 * 1024);
  assert_int_equal(w.last.blocks_fetched, 7);  /* the rest, not all 12 */
  assert_int_equal(row_status(f, c, dev, NULL), STW_ROLLOUT_INSTALLED);
  uint8_t *slot = NULL;
  size_t slot_len = 0;
  assert_int_equal(stw_slots_read_active(dev, &slot, &slot_len), STW_OK);
  assert_int_equal(slot_len, len);
  assert_memory_equal(slot, f->image, len);
  free(slot);
  stw_dev_close(dev);
  it_device_free(&d);
}

static void test_self_test_failure_rolls_back_and_halts(void **state)
{
  fixture_t *f = *state;
  int64_t fw = publish(f, f->w.mfg, MODEL, 1, f->image, IMAGE_LEN);
  stw_campaign_t spec, c;
  memset(&spec, 0, sizeof(spec));
  spec.firmware_id = fw;
  snprintf(spec.target, sizeof(spec.target), "model=%s", MODEL);
  spec.canary_percent = 30;
  spec.max_failure_percent = 0;
  uint64_t targets = 0, audit0 = it_audit_last(f->w.store);
  char why[256] = "";
  assert_int_equal(stw_update_campaign_create(f->w.store, &spec, "admin", &c, &targets, why, sizeof(why)), STW_OK);
  stw_dev_t *canary = f->dev[0].dev;  /* ids sort the canary first; find it */
  for (int i = 0; i < FLEET; i++)
    if (row_status(f, c.id, f->dev[i].dev, NULL) == STW_ROLLOUT_OFFERED)
      canary = f->dev[i].dev;
  watch_t w = { .fail_self_test = true };
  run_one(f, canary, &w);
  assert_int_equal(w.last.status, STW_ERR_STATE);
  assert_non_null(strstr(w.last.detail, "rolled back"));
  stw_slots_t s;
  assert_int_equal(stw_slots_load(canary, &s), STW_OK);
  assert_int_equal(s.active, 'a');
  assert_int_equal(s.sequence, 0);
  assert_false(s.trial);
  assert_int_equal(s.boot_count, 3);   /* into the trial, and back */
  char detail[STW_REASON_MAX];
  assert_int_equal(row_status(f, c.id, canary, detail), STW_ROLLOUT_FAILED);
  assert_non_null(strstr(detail, "self-test failed"));
  /* UPDATING and back: the device runs its old image, OPERATIONAL. */
  assert_int_equal(it_device_state(f->w.store, stw_dev_id(canary)), STW_STATE_OPERATIONAL);
  assert_int_equal(stw_store_campaign_get(f->w.store, c.id, &c), STW_OK);
  assert_int_equal(c.state, STW_CAMPAIGN_HALTED);
  assert_non_null(strstr(c.reason, "1 of 1"));
  assert_int_equal(it_audit_count(f->w.store, audit0, "campaign.halt", NULL, "halted", NULL), 1);

  /* Resumed: the operator accepts the canary's failure, stage 1 is offered. */
  assert_int_equal(stw_update_campaign_resume(f->w.store, c.id, "admin", why, sizeof(why)), STW_OK);
  assert_int_equal(stw_store_campaign_get(f->w.store, c.id, &c), STW_OK);
  assert_int_equal(c.state, STW_CAMPAIGN_RUNNING);
  assert_int_equal(c.stage, 1);
  /* Aborted: nothing more is offered; aborting twice is refused. */
  assert_int_equal(stw_update_campaign_abort(f->w.store, c.id, "admin", why, sizeof(why)), STW_OK);
  stw_firmware_t offered;
  for (int i = 0; i < FLEET; i++)
    assert_int_equal(stw_update_offer(f->w.store, stw_dev_id(f->dev[i].dev), &offered), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_update_campaign_abort(f->w.store, c.id, "admin", why, sizeof(why)), STW_ERR_STATE);
  assert_int_equal(stw_update_campaign_resume(f->w.store, c.id, "admin", why, sizeof(why)), STW_ERR_STATE);
}

static void test_image_not_offered_is_forbidden(void **state)
{
  fixture_t *f = *state;
  int64_t fw = publish(f, f->w.mfg, MODEL, 1, f->image, IMAGE_LEN);
  offer_directly(f, fw, stw_dev_id(f->dev[0].dev));
  uint8_t digest[32];
  char hex[65], path[96];
  assert_int_equal(stw_sha256(f->image, IMAGE_LEN, digest), STW_OK);
  stw_hex_encode(digest, 32, hex);
  snprintf(path, sizeof(path), "fw/img/%s", hex);
  uint8_t *answer = NULL;
  size_t len = 0;
  stw_bootstrap_report_t rep;
  /* Offered to dev[0], asked for by dev[1]. */
  stw_status_t st = stw__request_run(f->dev[1].dev, f->d.uri, COAP_REQUEST_CODE_GET, path, -1, -1, NULL, 0, 65536,
                                     &answer, &len, NULL, &rep);
  free(answer);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  /* dev[0] may. */
  answer = NULL;
  st = stw__request_run(f->dev[0].dev, f->d.uri, COAP_REQUEST_CODE_GET, path, -1, -1, NULL, 0, 65536, &answer, &len,
                        NULL, &rep);
  assert_int_equal(st, STW_OK);
  assert_int_equal(len, IMAGE_LEN);
  assert_memory_equal(answer, f->image, IMAGE_LEN);
  free(answer);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_campaign_installs_in_stages, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lower_sequence_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_class_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_vendor_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unknown_key_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_owner_authorisation_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_digest_mismatch_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_truncated_download_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_oversized_download_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_download_resumes_after_interruption, setup, teardown),
    cmocka_unit_test_setup_teardown(test_self_test_failure_rolls_back_and_halts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_image_not_offered_is_forbidden, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
