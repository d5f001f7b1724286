/* The store's later-life functions (issue 6): firmware the domain authorised,
 * what devices run, roll-out campaigns, attestation challenges and results,
 * certificate revocation, erasure of a device's personal rows, vulnerability
 * reports. Every refusal is asserted with its status and with the store
 * unchanged. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_fixture.h"
#include "store/store_internal.h"
#include "util.h"

#define DEV_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DEV_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DEV_C "cccccccccccccccccccccccccccccccc"

static int setup(void **state)
{
  *state = store_fx_open("fleet");
  return 0;
}

static int64_t raw_int(stw_store_t *st, const char *sql)
{
  return store_fx_sql_int(stw__sqlite_handle(st), sql);
}

static void put_device(stw_store_t *st, const char *id, stw_state_t state)
{
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  snprintf(d.id, sizeof(d.id), "%s", id);
  snprintf(d.name, sizeof(d.name), "dev-%.8s", id);
  snprintf(d.model, sizeof(d.model), "meter");
  d.state = state;
  d.created_at = d.updated_at = 1700000000;
  assert_int_equal(stw_store_device_put(st, &d), STW_OK);
}

/* ---- firmware ------------------------------------------------------------------ */

static const uint8_t envelope_bytes[] = { 0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26 };

static void make_fw(stw_firmware_t *f, const char *vendor, const char *cls, uint64_t seq, uint8_t fill)
{
  memset(f, 0, sizeof(*f));
  snprintf(f->vendor, sizeof(f->vendor), "%s", vendor);
  snprintf(f->class_id, sizeof(f->class_id), "%s", cls);
  snprintf(f->component, sizeof(f->component), "firmware");
  f->sequence = seq;
  memset(f->digest, fill, sizeof(f->digest));
  f->size = 1000 + seq;
  snprintf(f->uri, sizeof(f->uri), "/fw/img/%02x", fill);
  f->envelope = (uint8_t *)envelope_bytes;  /* borrowed: put does not take it */
  f->envelope_len = sizeof(envelope_bytes);
}

static int64_t add_fw(stw_store_t *st, const char *vendor, const char *cls, uint64_t seq, uint8_t fill)
{
  stw_firmware_t f;
  make_fw(&f, vendor, cls, seq, fill);
  assert_int_equal(stw_store_firmware_put(st, &f), STW_OK);
  assert_true(f.id > 0);
  assert_true(f.published_at > 0);
  return f.id;
}

static stw_status_t count_fw(const stw_firmware_t *f, void *ctx)
{
  assert_null(f->envelope);  /* listings leave the envelope out */
  (*(int *)ctx)++;
  return STW_OK;
}

static int fw_count(stw_store_t *st)
{
  int n = 0;
  assert_int_equal(stw_store_firmware_list(st, count_fw, &n), STW_OK);
  return n;
}

static void test_firmware_put_get(void **state)
{
  store_fx_t *fx = *state;
  int64_t id1 = add_fw(fx->st, "acme", "meter", 1, 0x11);
  int64_t id2 = add_fw(fx->st, "acme", "meter", 2, 0x22);
  int64_t id3 = add_fw(fx->st, "acme", "valve", 1, 0x33);  /* the same sequence for another class */
  assert_true(id1 < id2 && id2 < id3);

  stw_firmware_t g;
  assert_int_equal(stw_store_firmware_get(fx->st, id2, &g), STW_OK);
  assert_string_equal(g.vendor, "acme");
  assert_string_equal(g.class_id, "meter");
  assert_string_equal(g.component, "firmware");
  assert_int_equal(g.sequence, 2);
  assert_int_equal(g.size, 1002);
  assert_string_equal(g.uri, "/fw/img/22");
  assert_int_equal(g.envelope_len, sizeof(envelope_bytes));
  assert_memory_equal(g.envelope, envelope_bytes, sizeof(envelope_bytes));
  stw_firmware_clear(&g);
  assert_null(g.envelope);

  uint8_t digest[32];
  memset(digest, 0x33, sizeof(digest));
  assert_int_equal(stw_store_firmware_by_digest(fx->st, digest, &g), STW_OK);
  assert_int_equal(g.id, id3);
  assert_string_equal(g.class_id, "valve");
  stw_firmware_clear(&g);

  assert_int_equal(fw_count(fx->st), 3);
}

static void test_firmware_refusals(void **state)
{
  store_fx_t *fx = *state;
  add_fw(fx->st, "acme", "meter", 7, 0x01);
  stw_firmware_t f;
  /* The same (vendor, class, sequence) twice, even with another image. */
  make_fw(&f, "acme", "meter", 7, 0x02);
  assert_int_equal(stw_store_firmware_put(fx->st, &f), STW_ERR_EXISTS);
  make_fw(&f, "", "meter", 8, 0x02);
  assert_int_equal(stw_store_firmware_put(fx->st, &f), STW_ERR_INVALID);
  make_fw(&f, "acme", "meter", 8, 0x02);
  f.envelope_len = 0;
  assert_int_equal(stw_store_firmware_put(fx->st, &f), STW_ERR_INVALID);
  make_fw(&f, "acme", "meter", 8, 0x02);
  f.envelope_len = STW_STORE_BLOB_MAX + 1;
  assert_int_equal(stw_store_firmware_put(fx->st, &f), STW_ERR_TOO_LARGE);
  make_fw(&f, "acme", "meter", UINT64_MAX, 0x02);
  assert_int_equal(stw_store_firmware_put(fx->st, &f), STW_ERR_TOO_LARGE);
  make_fw(&f, "acme", "meter", 8, 0x02);
  memset(f.uri, 'u', sizeof(f.uri));  /* no NUL inside the field */
  assert_int_equal(stw_store_firmware_put(fx->st, &f), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_firmware_put(fx->st, NULL), STW_ERR_INVALID);
  assert_int_equal(fw_count(fx->st), 1);  /* nothing of the above was written */

  stw_firmware_t g;
  assert_int_equal(stw_store_firmware_get(fx->st, 999, &g), STW_ERR_NOT_FOUND);
  assert_null(g.envelope);
  uint8_t digest[32] = { 0 };
  assert_int_equal(stw_store_firmware_by_digest(fx->st, digest, &g), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_firmware_by_digest(fx->st, NULL, &g), STW_ERR_INVALID);
  assert_int_equal(stw_store_firmware_list(fx->st, NULL, NULL), STW_ERR_INVALID);
}

static void test_device_fw(void **state)
{
  store_fx_t *fx = *state;
  stw_device_fw_t f = { .device_id = DEV_A, .sequence = 3, .reported_at = 1700000100 };
  memset(f.digest, 0xab, sizeof(f.digest));
  stw_device_fw_t g;
  assert_int_equal(stw_store_device_fw_get(fx->st, DEV_A, &g), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_device_fw_set(fx->st, &f), STW_OK);
  f.sequence = 4;
  memset(f.digest, 0xcd, sizeof(f.digest));
  f.reported_at = 0;  /* the store stamps it */
  assert_int_equal(stw_store_device_fw_set(fx->st, &f), STW_OK);
  assert_int_equal(stw_store_device_fw_get(fx->st, DEV_A, &g), STW_OK);
  assert_string_equal(g.device_id, DEV_A);
  assert_int_equal(g.sequence, 4);
  assert_int_equal(g.digest[31], 0xcd);
  assert_true(g.reported_at > 1700000100);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM device_fw"), 1);  /* replaced, not added */

  stw_device_fw_t bad = f;
  bad.device_id[0] = '\0';
  assert_int_equal(stw_store_device_fw_set(fx->st, &bad), STW_ERR_INVALID);
  bad = f;
  bad.sequence = UINT64_MAX;
  assert_int_equal(stw_store_device_fw_set(fx->st, &bad), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_device_fw_get(fx->st, DEV_A, &g), STW_OK);
  assert_int_equal(g.sequence, 4);
}

/* ---- campaigns and roll-outs ----------------------------------------------------- */

static int64_t add_campaign(stw_store_t *st, int64_t fw)
{
  stw_campaign_t c = { .firmware_id = fw, .canary_percent = 10, .max_failure_percent = 20 };
  snprintf(c.target, sizeof(c.target), "model=meter");
  assert_int_equal(stw_store_campaign_add(st, &c), STW_OK);
  assert_true(c.id > 0);
  assert_true(c.created_at > 0);
  return c.id;
}

static void put_rollout(stw_store_t *st, int64_t campaign, const char *dev, unsigned stage,
                        stw_rollout_status_t status)
{
  stw_rollout_t r = { .campaign_id = campaign, .stage = stage, .status = status };
  snprintf(r.device_id, sizeof(r.device_id), "%s", dev);
  assert_int_equal(stw_store_rollout_put(st, &r), STW_OK);
}

static stw_status_t count_campaign(const stw_campaign_t *c, void *ctx)
{
  (void)c;
  (*(int *)ctx)++;
  return STW_OK;
}

static void test_campaign_lifecycle(void **state)
{
  store_fx_t *fx = *state;
  int64_t fw = add_fw(fx->st, "acme", "meter", 1, 0x11);
  int64_t id = add_campaign(fx->st, fw);
  stw_campaign_t c;
  assert_int_equal(stw_store_campaign_get(fx->st, id, &c), STW_OK);
  assert_int_equal(c.firmware_id, fw);
  assert_string_equal(c.target, "model=meter");
  assert_int_equal(c.canary_percent, 10);
  assert_int_equal(c.max_failure_percent, 20);
  assert_int_equal(c.stage, 0);
  assert_int_equal(c.state, STW_CAMPAIGN_RUNNING);

  c.stage = 1;
  c.state = STW_CAMPAIGN_HALTED;
  snprintf(c.reason, sizeof(c.reason), "3 of 10 failed");
  c.updated_at = c.created_at + 60;
  c.canary_percent = 50;  /* not written by update */
  assert_int_equal(stw_store_campaign_update(fx->st, &c), STW_OK);
  stw_campaign_t g;
  assert_int_equal(stw_store_campaign_get(fx->st, id, &g), STW_OK);
  assert_int_equal(g.stage, 1);
  assert_int_equal(g.state, STW_CAMPAIGN_HALTED);
  assert_string_equal(g.reason, "3 of 10 failed");
  assert_int_equal(g.updated_at, c.created_at + 60);
  assert_int_equal(g.canary_percent, 10);

  add_campaign(fx->st, fw);
  int n = 0;
  assert_int_equal(stw_store_campaign_list(fx->st, count_campaign, &n), STW_OK);
  assert_int_equal(n, 2);
}

static void test_campaign_refusals(void **state)
{
  store_fx_t *fx = *state;
  int64_t fw = add_fw(fx->st, "acme", "meter", 1, 0x11);
  stw_campaign_t c = { .firmware_id = fw + 100, .canary_percent = 10, .max_failure_percent = 20 };
  snprintf(c.target, sizeof(c.target), "model=meter");
  assert_int_equal(stw_store_campaign_add(fx->st, &c), STW_ERR_NOT_FOUND);  /* no such firmware */
  c.firmware_id = fw;
  c.canary_percent = 0;
  assert_int_equal(stw_store_campaign_add(fx->st, &c), STW_ERR_INVALID);
  c.canary_percent = 101;
  assert_int_equal(stw_store_campaign_add(fx->st, &c), STW_ERR_INVALID);
  c.canary_percent = 10;
  c.max_failure_percent = 101;
  assert_int_equal(stw_store_campaign_add(fx->st, &c), STW_ERR_INVALID);
  c.max_failure_percent = 20;
  c.state = (stw_campaign_state_t)9;
  assert_int_equal(stw_store_campaign_add(fx->st, &c), STW_ERR_INVALID);
  c.state = STW_CAMPAIGN_RUNNING;
  c.stage = 2;
  assert_int_equal(stw_store_campaign_add(fx->st, &c), STW_ERR_INVALID);
  c.stage = 0;
  c.target[0] = '\0';
  assert_int_equal(stw_store_campaign_add(fx->st, &c), STW_ERR_INVALID);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM campaigns"), 0);

  stw_campaign_t g;
  assert_int_equal(stw_store_campaign_get(fx->st, 42, &g), STW_ERR_NOT_FOUND);
  snprintf(c.target, sizeof(c.target), "model=meter");
  c.id = 42;
  assert_int_equal(stw_store_campaign_update(fx->st, &c), STW_ERR_NOT_FOUND);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM campaigns"), 0);
}

typedef struct {
  int n;
  char ids[4][STW_ID_HEX];
} rollout_seen_t;

static stw_status_t collect_rollout(const stw_rollout_t *r, void *ctx)
{
  rollout_seen_t *s = ctx;
  if (s->n < 4)
    snprintf(s->ids[s->n], STW_ID_HEX, "%s", r->device_id);
  s->n++;
  return STW_OK;
}

static void test_rollouts(void **state)
{
  store_fx_t *fx = *state;
  int64_t fw = add_fw(fx->st, "acme", "meter", 1, 0x11);
  int64_t c1 = add_campaign(fx->st, fw);
  put_rollout(fx->st, c1, DEV_C, 1, STW_ROLLOUT_WAITING);
  put_rollout(fx->st, c1, DEV_A, 0, STW_ROLLOUT_OFFERED);
  put_rollout(fx->st, c1, DEV_B, 0, STW_ROLLOUT_FAILED);

  stw_rollout_t r;
  assert_int_equal(stw_store_rollout_get(fx->st, c1, DEV_A, &r), STW_OK);
  assert_int_equal(r.status, STW_ROLLOUT_OFFERED);
  assert_int_equal(r.stage, 0);
  assert_true(r.updated_at > 0);
  assert_int_equal(stw_store_rollout_get(fx->st, c1 + 1, DEV_A, &r), STW_ERR_NOT_FOUND);

  /* Insert or replace: one row per (campaign, device). */
  stw_rollout_t upd = { .campaign_id = c1, .stage = 0, .status = STW_ROLLOUT_DOWNLOADING };
  snprintf(upd.device_id, sizeof(upd.device_id), DEV_A);
  snprintf(upd.detail, sizeof(upd.detail), "block 12");
  assert_int_equal(stw_store_rollout_put(fx->st, &upd), STW_OK);
  assert_int_equal(stw_store_rollout_get(fx->st, c1, DEV_A, &r), STW_OK);
  assert_int_equal(r.status, STW_ROLLOUT_DOWNLOADING);
  assert_string_equal(r.detail, "block 12");

  rollout_seen_t seen = { 0 };
  assert_int_equal(stw_store_rollout_list(fx->st, c1, collect_rollout, &seen), STW_OK);
  assert_int_equal(seen.n, 3);
  assert_string_equal(seen.ids[0], DEV_A);  /* device order */
  assert_string_equal(seen.ids[2], DEV_C);

  uint64_t counts[STW_ROLLOUT_COUNT];
  assert_int_equal(stw_store_rollout_counts(fx->st, c1, 0, counts), STW_OK);
  assert_int_equal(counts[STW_ROLLOUT_DOWNLOADING], 1);
  assert_int_equal(counts[STW_ROLLOUT_FAILED], 1);
  assert_int_equal(counts[STW_ROLLOUT_WAITING], 0);
  assert_int_equal(stw_store_rollout_counts(fx->st, c1, -1, counts), STW_OK);
  assert_int_equal(counts[STW_ROLLOUT_WAITING], 1);
  assert_int_equal(counts[STW_ROLLOUT_DOWNLOADING] + counts[STW_ROLLOUT_FAILED], 2);
  assert_int_equal(stw_store_rollout_counts(fx->st, c1 + 7, -1, counts), STW_OK);
  assert_int_equal(counts[STW_ROLLOUT_FAILED], 0);
  assert_int_equal(stw_store_rollout_counts(fx->st, c1, 2, counts), STW_ERR_INVALID);
}

static void test_rollout_offered(void **state)
{
  store_fx_t *fx = *state;
  int64_t fw1 = add_fw(fx->st, "acme", "meter", 1, 0x11);
  int64_t fw2 = add_fw(fx->st, "acme", "meter", 2, 0x22);
  int64_t c1 = add_campaign(fx->st, fw1);
  int64_t c2 = add_campaign(fx->st, fw2);
  stw_rollout_t r;
  assert_int_equal(stw_store_rollout_offered(fx->st, DEV_A, &r), STW_ERR_NOT_FOUND);
  put_rollout(fx->st, c1, DEV_A, 0, STW_ROLLOUT_OFFERED);
  put_rollout(fx->st, c2, DEV_A, 1, STW_ROLLOUT_WAITING);  /* not offered yet */
  put_rollout(fx->st, c2, DEV_B, 0, STW_ROLLOUT_OFFERED);
  assert_int_equal(stw_store_rollout_offered(fx->st, DEV_A, &r), STW_OK);
  assert_int_equal(r.campaign_id, c1);

  put_rollout(fx->st, c2, DEV_A, 1, STW_ROLLOUT_OFFERED);
  assert_int_equal(stw_store_rollout_offered(fx->st, DEV_A, &r), STW_OK);
  assert_int_equal(r.campaign_id, c2);  /* the newest */

  /* A halted campaign offers nothing; the older running one answers again. */
  stw_campaign_t c;
  assert_int_equal(stw_store_campaign_get(fx->st, c2, &c), STW_OK);
  c.state = STW_CAMPAIGN_HALTED;
  assert_int_equal(stw_store_campaign_update(fx->st, &c), STW_OK);
  assert_int_equal(stw_store_rollout_offered(fx->st, DEV_A, &r), STW_OK);
  assert_int_equal(r.campaign_id, c1);
  assert_int_equal(stw_store_rollout_offered(fx->st, DEV_B, &r), STW_ERR_NOT_FOUND);

  put_rollout(fx->st, c1, DEV_A, 0, STW_ROLLOUT_INSTALLED);
  assert_int_equal(stw_store_rollout_offered(fx->st, DEV_A, &r), STW_ERR_NOT_FOUND);
}

static void test_rollout_refusals(void **state)
{
  store_fx_t *fx = *state;
  int64_t c1 = add_campaign(fx->st, add_fw(fx->st, "acme", "meter", 1, 0x11));
  stw_rollout_t r = { .campaign_id = c1 + 5, .status = STW_ROLLOUT_OFFERED };
  snprintf(r.device_id, sizeof(r.device_id), DEV_A);
  assert_int_equal(stw_store_rollout_put(fx->st, &r), STW_ERR_NOT_FOUND);  /* no such campaign */
  r.campaign_id = c1;
  r.status = STW_ROLLOUT_COUNT;
  assert_int_equal(stw_store_rollout_put(fx->st, &r), STW_ERR_INVALID);
  r.status = STW_ROLLOUT_OFFERED;
  r.stage = 2;
  assert_int_equal(stw_store_rollout_put(fx->st, &r), STW_ERR_INVALID);
  r.stage = 0;
  r.device_id[0] = '\0';
  assert_int_equal(stw_store_rollout_put(fx->st, &r), STW_ERR_INVALID);
  snprintf(r.device_id, sizeof(r.device_id), DEV_A);
  memset(r.detail, 'x', sizeof(r.detail));
  assert_int_equal(stw_store_rollout_put(fx->st, &r), STW_ERR_TOO_LARGE);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM rollouts"), 0);
  assert_int_equal(stw_store_rollout_list(fx->st, c1, NULL, NULL), STW_ERR_INVALID);
  assert_int_equal(stw_store_rollout_offered(fx->st, "", &r), STW_ERR_INVALID);
}

/* ---- attestation -------------------------------------------------------------------- */

static const uint8_t nonce1[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t nonce2[16] = { 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void test_nonce_once(void **state)
{
  store_fx_t *fx = *state;
  int64_t now = 1700000000;
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce1, sizeof(nonce1), now + 60), STW_OK);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce1, sizeof(nonce1), now + 1), STW_OK);
  /* Reused: refused, and there is nothing left to take. */
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce1, sizeof(nonce1), now + 2), STW_ERR_REPLAY);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 0);
  /* Never issued. */
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce2, sizeof(nonce2), now), STW_ERR_REPLAY);
  /* A prefix of an issued nonce is another nonce. */
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce2, sizeof(nonce2), now + 60), STW_OK);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce2, 8, now), STW_ERR_REPLAY);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 1);
}

static void test_nonce_other_device(void **state)
{
  store_fx_t *fx = *state;
  int64_t now = 1700000000;
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce1, sizeof(nonce1), now + 60), STW_OK);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_B, nonce1, sizeof(nonce1), now), STW_ERR_REPLAY);
  /* B's attempt did not spend A's challenge. */
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 1);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce1, sizeof(nonce1), now), STW_OK);
}

static void test_nonce_expired_is_consumed(void **state)
{
  store_fx_t *fx = *state;
  int64_t now = 1700000000;
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce1, sizeof(nonce1), now + 30), STW_OK);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce1, sizeof(nonce1), now + 30), STW_ERR_EXPIRED);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 0);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce1, sizeof(nonce1), now), STW_ERR_REPLAY);

  /* Inside a caller's transaction the consumption is part of it. */
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce2, sizeof(nonce2), now + 30), STW_OK);
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce2, sizeof(nonce2), now + 31), STW_ERR_EXPIRED);
  assert_int_equal(stw_store_commit(fx->st), STW_OK);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 0);
}

static void test_nonce_refusals(void **state)
{
  store_fx_t *fx = *state;
  int64_t later = stw_now() + 600;
  uint8_t big[STW_NONCE_MAX + 1];
  memset(big, 7, sizeof(big));
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce1, sizeof(nonce1), later), STW_OK);
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_B, nonce1, sizeof(nonce1), later), STW_ERR_EXISTS);
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, big, sizeof(big), later), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, big, STW_NONCE_MAX, later), STW_OK);
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce2, 0, later), STW_ERR_INVALID);
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, NULL, 16, later), STW_ERR_INVALID);
  assert_int_equal(stw_store_nonce_put(fx->st, "", nonce2, 16, later), STW_ERR_INVALID);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, big, sizeof(big), 0), STW_ERR_TOO_LARGE);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 2);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces WHERE device_id = '" DEV_A "'"), 2);
}

static void test_nonce_stale_ones_forgotten(void **state)
{
  store_fx_t *fx = *state;
  int64_t now = stw_now();
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_A, nonce1, sizeof(nonce1), now - 10), STW_OK);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 1);
  /* The next challenge issued sweeps the ones nobody answered in time. */
  assert_int_equal(stw_store_nonce_put(fx->st, DEV_B, nonce2, sizeof(nonce2), now + 60), STW_OK);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM nonces"), 1);
  assert_int_equal(stw_store_nonce_take(fx->st, DEV_A, nonce1, sizeof(nonce1), now), STW_ERR_REPLAY);
}

static void put_attest(stw_store_t *st, const char *dev, stw_ear_t verdict, uint64_t boot, int64_t *id)
{
  stw_attest_row_t a = { .verdict = verdict, .boot_count = boot };
  snprintf(a.device_id, sizeof(a.device_id), "%s", dev);
  snprintf(a.trigger, sizeof(a.trigger), "periodic");
  snprintf(a.reasons, sizeof(a.reasons), "boot %llu", (unsigned long long)boot);
  memset(a.image_digest, (int)boot, sizeof(a.image_digest));
  assert_int_equal(stw_store_attest_put(st, &a), STW_OK);
  assert_true(a.at > 0);
  if (id != NULL)
    *id = a.id;
}

typedef struct {
  int n;
  uint64_t boots[8];
} attest_seen_t;

static stw_status_t collect_attest(const stw_attest_row_t *a, void *ctx)
{
  attest_seen_t *s = ctx;
  if (s->n < 8)
    s->boots[s->n] = a->boot_count;
  s->n++;
  return STW_OK;
}

static void test_attestations(void **state)
{
  store_fx_t *fx = *state;
  stw_attest_row_t a;
  assert_int_equal(stw_store_attest_latest(fx->st, DEV_A, &a), STW_ERR_NOT_FOUND);
  int64_t id1 = 0, id3 = 0;
  put_attest(fx->st, DEV_A, STW_EAR_AFFIRMING, 1, &id1);
  put_attest(fx->st, DEV_B, STW_EAR_WARNING, 9, NULL);
  put_attest(fx->st, DEV_A, STW_EAR_CONTRAINDICATED, 2, NULL);
  put_attest(fx->st, DEV_A, STW_EAR_AFFIRMING, 3, &id3);
  assert_true(id3 > id1);

  assert_int_equal(stw_store_attest_latest(fx->st, DEV_A, &a), STW_OK);
  assert_int_equal(a.id, id3);
  assert_int_equal(a.verdict, STW_EAR_AFFIRMING);
  assert_string_equal(a.trigger, "periodic");
  assert_string_equal(a.reasons, "boot 3");
  assert_int_equal(a.image_digest[0], 3);

  attest_seen_t seen = { 0 };
  assert_int_equal(stw_store_attest_list(fx->st, DEV_A, 0, collect_attest, &seen), STW_OK);
  assert_int_equal(seen.n, 3);
  assert_int_equal(seen.boots[0], 3);  /* newest first */
  assert_int_equal(seen.boots[2], 1);
  memset(&seen, 0, sizeof(seen));
  assert_int_equal(stw_store_attest_list(fx->st, DEV_A, 2, collect_attest, &seen), STW_OK);
  assert_int_equal(seen.n, 2);
  assert_int_equal(seen.boots[1], 2);
}

static void test_attest_refusals(void **state)
{
  store_fx_t *fx = *state;
  stw_attest_row_t a = { .verdict = (stw_ear_t)5 };
  snprintf(a.device_id, sizeof(a.device_id), DEV_A);
  snprintf(a.trigger, sizeof(a.trigger), "admin");
  assert_int_equal(stw_store_attest_put(fx->st, &a), STW_ERR_INVALID);
  a.verdict = STW_EAR_WARNING;
  a.trigger[0] = '\0';
  assert_int_equal(stw_store_attest_put(fx->st, &a), STW_ERR_INVALID);
  snprintf(a.trigger, sizeof(a.trigger), "admin");
  a.boot_count = UINT64_MAX;
  assert_int_equal(stw_store_attest_put(fx->st, &a), STW_ERR_TOO_LARGE);
  a.boot_count = 0;
  memset(a.reasons, 'r', sizeof(a.reasons));
  assert_int_equal(stw_store_attest_put(fx->st, &a), STW_ERR_TOO_LARGE);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM attestations"), 0);
  assert_int_equal(stw_store_attest_list(fx->st, DEV_A, 0, NULL, NULL), STW_ERR_INVALID);
  assert_int_equal(stw_store_attest_latest(fx->st, NULL, &a), STW_ERR_INVALID);
}

/* ---- certificate revocation -------------------------------------------------------- */

typedef struct {
  int n;
  char serials[4][41];
  int64_t revoked_at[4];
} serial_seen_t;

static stw_status_t collect_serial(const char *serial, const char *device_id, int64_t not_after, int64_t revoked_at,
                                   void *ctx)
{
  serial_seen_t *s = ctx;
  (void)device_id;
  assert_true(not_after > 0);
  if (s->n < 4) {
    snprintf(s->serials[s->n], 41, "%s", serial);
    s->revoked_at[s->n] = revoked_at;
  }
  s->n++;
  return STW_OK;
}

static void test_serial_revocation(void **state)
{
  store_fx_t *fx = *state;
  assert_int_equal(stw_store_serial_claim(fx->st, "0A01", DEV_A, 1800000000), STW_OK);
  assert_int_equal(stw_store_serial_claim(fx->st, "0a02", DEV_A, 1800000000), STW_OK);  /* re-enrolled */
  assert_int_equal(stw_store_serial_claim(fx->st, "0b01", DEV_B, 1800000000), STW_OK);
  bool revoked = true;
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "0a01", &revoked), STW_OK);
  assert_false(revoked);
  serial_seen_t seen = { 0 };
  assert_int_equal(stw_store_serial_revoked_list(fx->st, collect_serial, &seen), STW_OK);
  assert_int_equal(seen.n, 0);

  uint64_t n = 99;
  assert_int_equal(stw_store_serial_revoke_device(fx->st, DEV_A, 1750000000, &n), STW_OK);
  assert_int_equal(n, 2);
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "0A01", &revoked), STW_OK);  /* any case */
  assert_true(revoked);
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "0a02", &revoked), STW_OK);
  assert_true(revoked);
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "0b01", &revoked), STW_OK);
  assert_false(revoked);
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "ffff", &revoked), STW_OK);  /* never issued */
  assert_false(revoked);

  /* Again: nothing newly revoked, the first revocation time stays. */
  assert_int_equal(stw_store_serial_revoke_device(fx->st, DEV_A, 1760000000, &n), STW_OK);
  assert_int_equal(n, 0);
  assert_int_equal(stw_store_serial_revoke_device(fx->st, DEV_B, 1760000000, &n), STW_OK);
  assert_int_equal(n, 1);
  assert_int_equal(stw_store_serial_revoked_list(fx->st, collect_serial, &seen), STW_OK);
  assert_int_equal(seen.n, 3);
  assert_string_equal(seen.serials[0], "0a01");
  assert_int_equal(seen.revoked_at[0], 1750000000);
  assert_string_equal(seen.serials[2], "0b01");  /* revocation order */
  assert_int_equal(seen.revoked_at[2], 1760000000);
}

static void test_serial_revocation_refusals(void **state)
{
  store_fx_t *fx = *state;
  assert_int_equal(stw_store_serial_claim(fx->st, "0a01", DEV_A, 1800000000), STW_OK);
  uint64_t n = 99;
  assert_int_equal(stw_store_serial_revoke_device(fx->st, DEV_A, 0, &n), STW_ERR_INVALID);  /* 0 means live */
  assert_int_equal(n, 0);
  assert_int_equal(stw_store_serial_revoke_device(fx->st, "", 1750000000, &n), STW_ERR_INVALID);
  assert_int_equal(stw_store_serial_revoke_device(fx->st, DEV_C, 1750000000, &n), STW_OK);  /* nothing issued */
  assert_int_equal(n, 0);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM serials WHERE revoked_at > 0"), 0);
  bool revoked = true;
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "0x01", &revoked), STW_ERR_MALFORMED);
  assert_false(revoked);
  char long_serial[50];
  memset(long_serial, 'a', sizeof(long_serial) - 1);
  long_serial[49] = '\0';
  assert_int_equal(stw_store_serial_is_revoked(fx->st, long_serial, &revoked), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "0a01", NULL), STW_ERR_INVALID);
  assert_int_equal(stw_store_serial_revoked_list(fx->st, NULL, NULL), STW_ERR_INVALID);
}

/* ---- erasure ------------------------------------------------------------------------ */

static void put_psk(stw_store_t *st, const char *identity, const char *dev, stw_psk_kind_t kind)
{
  stw_psk_t p;
  memset(&p, 0, sizeof(p));
  snprintf(p.identity, sizeof(p.identity), "%s", identity);
  snprintf(p.device_id, sizeof(p.device_id), "%s", dev);
  p.kind = kind;
  p.active = true;
  p.key_len = 16;
  memset(p.key, 0x5a, 16);
  assert_int_equal(stw_store_psk_put(st, &p), STW_OK);
}

/* A: alice's meter at home; B: bob's, the last live device of bob's;
 * C: alice's second device, still live. */
static void fill_people(stw_store_t *st)
{
  int64_t later = stw_now() + 600;
  put_device(st, DEV_A, STW_STATE_OPERATIONAL);
  put_device(st, DEV_B, STW_STATE_OPERATIONAL);
  put_device(st, DEV_C, STW_STATE_OPERATIONAL);
  store_fx_set_attr(st, DEV_A, "owner", "alice", "owner");
  store_fx_set_attr(st, DEV_A, "place", "alices-flat", "owner");
  store_fx_set_attr(st, DEV_A, "role", "meter", "owner");
  store_fx_set_attr(st, DEV_B, "owner", "bob", "owner");
  store_fx_set_attr(st, DEV_C, "owner", "alice", "owner");
  store_fx_set_context(st, "device:" DEV_A, "temp", "21");
  store_fx_set_context(st, "owner:alice", "home.occupied", "true");
  store_fx_set_context(st, "place:alices-flat", "window.open", "false");
  store_fx_set_context(st, "owner:bob", "home.occupied", "false");
  store_fx_set_context(st, "", "alarm", "off");
  assert_int_equal(stw_store_voucher_put(st, DEV_A, (const uint8_t *)"v", 1), STW_OK);
  assert_int_equal(stw_store_voucher_put(st, DEV_B, (const uint8_t *)"w", 1), STW_OK);
  put_psk(st, "boot-a", DEV_A, STW_PSK_BOOTSTRAP);
  put_psk(st, "op-a", DEV_A, STW_PSK_OPERATIONAL);
  put_psk(st, "op-b", DEV_B, STW_PSK_OPERATIONAL);
  put_attest(st, DEV_A, STW_EAR_AFFIRMING, 1, NULL);
  put_attest(st, DEV_B, STW_EAR_AFFIRMING, 1, NULL);
  assert_int_equal(stw_store_nonce_put(st, DEV_A, nonce1, sizeof(nonce1), later), STW_OK);
  assert_int_equal(stw_store_nonce_put(st, DEV_B, nonce2, sizeof(nonce2), later), STW_OK);
}

static void test_erase_device(void **state)
{
  store_fx_t *fx = *state;
  fill_people(fx->st);
  stw_erasure_t e;
  assert_int_equal(stw_store_device_erase(fx->st, DEV_A, &e), STW_OK);
  assert_int_equal(e.attributes, 3);
  /* device:A and place:alices-flat; owner:alice stays, C is alice's and live. */
  assert_int_equal(e.context, 2);
  assert_int_equal(e.vouchers, 1);
  assert_int_equal(e.psks, 2);
  assert_int_equal(e.attestations, 1);
  assert_int_equal(e.nonces, 1);

  stw_store_t *st = fx->st;
  assert_int_equal(raw_int(st, "SELECT count(*) FROM device_attr WHERE device_id = '" DEV_A "'"), 0);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM context_attr WHERE scope = 'device:" DEV_A "'"), 0);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM context_attr WHERE scope = 'place:alices-flat'"), 0);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM context_attr WHERE scope = 'owner:alice'"), 1);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM vouchers WHERE device_id = '" DEV_A "'"), 0);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM psk WHERE device_id = '" DEV_A "'"), 0);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM psk_key WHERE identity IN ('boot-a', 'op-a')"), 0);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM attestations WHERE device_id = '" DEV_A "'"), 0);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM nonces WHERE device_id = '" DEV_A "'"), 0);
  /* The others' rows are untouched. */
  assert_int_equal(raw_int(st, "SELECT count(*) FROM device_attr"), 2);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM context_attr"), 3);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM psk_key"), 1);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM nonces"), 1);
  assert_int_equal(raw_int(st, "SELECT count(*) FROM devices"), 3);  /* the device row itself stays */

  /* Erasing again finds nothing. */
  assert_int_equal(stw_store_device_erase(fx->st, DEV_A, &e), STW_OK);
  assert_int_equal(e.attributes + e.context + e.vouchers + e.psks + e.attestations + e.nonces, 0);
}

static void test_erase_last_device_of_owner(void **state)
{
  store_fx_t *fx = *state;
  fill_people(fx->st);
  stw_erasure_t e;
  assert_int_equal(stw_store_device_erase(fx->st, DEV_B, &e), STW_OK);
  assert_int_equal(e.context, 1);  /* owner:bob: no other live device of bob's */
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM context_attr WHERE scope = 'owner:bob'"), 0);

  /* alice's other device decommissioned: erasing A now takes owner:alice too. */
  put_device(fx->st, DEV_C, STW_STATE_DECOMMISSIONED);
  assert_int_equal(stw_store_device_erase(fx->st, DEV_A, &e), STW_OK);
  assert_int_equal(e.context, 3);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM context_attr"), 1);  /* the domain's own "alarm" */
}

static void test_erase_joins_caller_transaction(void **state)
{
  store_fx_t *fx = *state;
  fill_people(fx->st);
  stw_erasure_t e;
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_store_device_erase(fx->st, DEV_A, &e), STW_OK);
  assert_int_equal(e.attributes, 3);
  stw_store_rollback(fx->st);
  /* Rolled back with the caller's transaction: everything is there again. */
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM device_attr WHERE device_id = '" DEV_A "'"), 3);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM psk_key"), 3);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM context_attr"), 5);

  assert_int_equal(stw_store_device_erase(fx->st, "", &e), STW_ERR_INVALID);
  assert_int_equal(stw_store_device_erase(NULL, DEV_A, &e), STW_ERR_INVALID);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM device_attr"), 5);
}

/* ---- vulnerability reports ------------------------------------------------------------ */

typedef struct {
  int n;
  char status[4][STW_TEXT_MAX];
  size_t detail_len[4];
} vuln_seen_t;

static stw_status_t collect_vuln(const stw_vuln_t *v, void *ctx)
{
  vuln_seen_t *s = ctx;
  assert_non_null(v->detail);
  if (s->n < 4) {
    snprintf(s->status[s->n], STW_TEXT_MAX, "%s", v->status);
    s->detail_len[s->n] = strlen(v->detail);
  }
  s->n++;
  return STW_OK;
}

static void test_vuln_reports(void **state)
{
  store_fx_t *fx = *state;
  char *detail = malloc(STW_VULN_TEXT_MAX + 1);
  assert_non_null(detail);
  memset(detail, 'd', STW_VULN_TEXT_MAX);
  detail[STW_VULN_TEXT_MAX] = '\0';
  stw_vuln_t v = { .detail = detail };
  snprintf(v.summary, sizeof(v.summary), "token endpoint accepts expired tokens");
  snprintf(v.contact, sizeof(v.contact), "mailto:researcher@example.org");
  assert_int_equal(stw_store_vuln_add(fx->st, &v), STW_OK);
  assert_true(v.id > 0);
  assert_string_equal(v.status, "received");
  assert_true(v.received_at > 0);
  int64_t first = v.id;

  stw_vuln_t anon = { .detail = NULL };
  snprintf(anon.summary, sizeof(anon.summary), "anonymous report");
  assert_int_equal(stw_store_vuln_add(fx->st, &anon), STW_OK);
  assert_int_equal(stw_store_vuln_set_status(fx->st, first, "triaged"), STW_OK);

  vuln_seen_t seen = { 0 };
  assert_int_equal(stw_store_vuln_list(fx->st, collect_vuln, &seen), STW_OK);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.status[0], "triaged");
  assert_int_equal(seen.detail_len[0], STW_VULN_TEXT_MAX);
  assert_string_equal(seen.status[1], "received");
  assert_int_equal(seen.detail_len[1], 0);

  /* Refusals: too long, unknown status, no summary, no such report. */
  detail = realloc(detail, STW_VULN_TEXT_MAX + 2);
  assert_non_null(detail);
  memset(detail, 'd', STW_VULN_TEXT_MAX + 1);
  detail[STW_VULN_TEXT_MAX + 1] = '\0';
  v.detail = detail;
  v.id = 0;
  assert_int_equal(stw_store_vuln_add(fx->st, &v), STW_ERR_TOO_LARGE);
  v.detail = NULL;
  snprintf(v.status, sizeof(v.status), "ignored");
  assert_int_equal(stw_store_vuln_add(fx->st, &v), STW_ERR_INVALID);
  v.status[0] = '\0';
  v.summary[0] = '\0';
  assert_int_equal(stw_store_vuln_add(fx->st, &v), STW_ERR_INVALID);
  assert_int_equal(stw_store_vuln_set_status(fx->st, first, "lost"), STW_ERR_INVALID);
  assert_int_equal(stw_store_vuln_set_status(fx->st, first + 99, "fixed"), STW_ERR_NOT_FOUND);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM vuln_reports"), 2);
  assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM vuln_reports WHERE status = 'triaged'"), 1);
  free(detail);
  stw_vuln_clear(&v);
  stw_vuln_clear(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_firmware_put_get, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_firmware_refusals, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_device_fw, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_campaign_lifecycle, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_campaign_refusals, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_rollouts, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_rollout_offered, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_rollout_refusals, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_nonce_once, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_nonce_other_device, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_nonce_expired_is_consumed, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_nonce_refusals, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_nonce_stale_ones_forgotten, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_attestations, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_attest_refusals, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_serial_revocation, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_serial_revocation_refusals, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_erase_device, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_erase_last_device_of_owner, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_erase_joins_caller_transaction, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_vuln_reports, setup, store_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
