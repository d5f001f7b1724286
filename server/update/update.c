#include "update/update.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAMPAIGNS_SCAN_MAX 4096    /* campaigns a report looks through for its row */

const char *stw_campaign_state_name(stw_campaign_state_t s)
{
  switch (s) {
  case STW_CAMPAIGN_RUNNING: return "running";
  case STW_CAMPAIGN_HALTED: return "halted";
  case STW_CAMPAIGN_ABORTED: return "aborted";
  case STW_CAMPAIGN_DONE: return "done";
  }
  return "?";
}

const char *stw_rollout_status_name(stw_rollout_status_t s)
{
  switch (s) {
  case STW_ROLLOUT_WAITING: return "waiting";
  case STW_ROLLOUT_OFFERED: return "offered";
  case STW_ROLLOUT_DOWNLOADING: return "downloading";
  case STW_ROLLOUT_INSTALLED: return "installed";
  case STW_ROLLOUT_FAILED: return "failed";
  case STW_ROLLOUT_COUNT: break;
  }
  return "?";
}

stw_status_t stw_update_image_path(const char *data_dir, const uint8_t digest[32], char *out, size_t len)
{
  char hex[65];
  stw_hex_encode(digest, 32, hex);
  int n = snprintf(out, len, "%s/firmware/%s", data_dir, hex);
  return n > 0 && (size_t)n < len ? STW_OK : STW_ERR_TOO_LARGE;
}

/* ---- publishing ----------------------------------------------------------------- */

typedef struct {
  const uint8_t *signed_manifest;
  size_t len;
  stw_manifest_t m;
  bool found;
  bool signed_by_other;   /* a trusted key signed it, but for another vendor name */
} vendor_search_t;

static stw_status_t try_manufacturer(const stw_trust_t *t, void *arg)
{
  vendor_search_t *s = arg;
  stw_cert_info_t ca;
  stw_manifest_t m;
  if (s->found || stw_cert_parse(t->cert_der, t->cert_len, &ca) != STW_OK)
    return STW_OK;
  if (stw_manifest_vendor_verify(s->signed_manifest, s->len, ca.spki, ca.spki_len, &m) != STW_OK)
    return STW_OK;
  /* The vendor a manifest names must be the manufacturer whose key signed
   * it: one manufacturer cannot ship images for another's devices. */
  if (strcmp(m.vendor, t->name) != 0 && strcmp(m.vendor, ca.organization) != 0) {
    s->signed_by_other = true;
    return STW_OK;
  }
  s->m = m;
  s->found = true;
  return STW_OK;
}

stw_status_t stw_update_publish(stw_store_t *st, const stw_domain_t *domain, const uint8_t *vendor_signed,
                                size_t signed_len, const uint8_t *image, size_t image_len, const char *actor,
                                stw_firmware_t *out, char *why, size_t why_len)
{
  stw_firmware_t fw;
  memset(&fw, 0, sizeof(fw));
  stw_buf_t envelope;
  stw_buf_init(&envelope, STW_MANIFEST_MAX);
  vendor_search_t s = { .signed_manifest = vendor_signed, .len = signed_len };
  char path[1200], hex[65], subject[STW_TEXT_MAX], detail[STW_REASON_MAX];
  stw_status_t rc = stw_store_trust_list(st, try_manufacturer, &s);
  if (rc == STW_OK && !s.found) {
    stw_explain(why, why_len, "%s", s.signed_by_other ? "signed by a trusted manufacturer, but for another vendor's name"
                                              : "not signed by any trusted manufacturer");
    rc = STW_ERR_UNTRUSTED;
  }
  if (rc != STW_OK)
    goto out;
  uint8_t digest[32];
  if ((rc = stw_sha256(image, image_len, digest)) != STW_OK)
    goto out;
  if (image_len != s.m.size || memcmp(digest, s.m.digest, 32) != 0) {
    stw_explain(why, why_len, "the image does not match the manifest (%zu bytes, manifest says %" PRIu64 ")", image_len,
        s.m.size);
    rc = STW_ERR_TAMPERED;
    goto out;
  }
  if (image_len > STW_FW_IMAGE_MAX) {
    stw_explain(why, why_len, "image over %u bytes", STW_FW_IMAGE_MAX);
    rc = STW_ERR_TOO_LARGE;
    goto out;
  }
  if ((rc = stw_manifest_authorize(vendor_signed, signed_len, domain->ca_key, &envelope)) != STW_OK) {
    stw_explain(why, why_len, "cannot authorise the manifest");
    goto out;
  }
  /* The image first: a file no row names is harmless (content-addressed, the
   * next publish of the same image rewrites it), a row without its file is not. */
  if ((rc = stw_path_join(path, sizeof(path), domain->dir, "firmware")) != STW_OK ||
      (rc = stw_mkdir_p(path, 0700)) != STW_OK ||
      (rc = stw_update_image_path(domain->dir, digest, path, sizeof(path))) != STW_OK ||
      (rc = stw_file_write_atomic(path, image, image_len, 0644)) != STW_OK) {
    stw_explain(why, why_len, "cannot write the image to the data folder");
    goto out;
  }
  snprintf(fw.vendor, sizeof(fw.vendor), "%s", s.m.vendor);
  snprintf(fw.class_id, sizeof(fw.class_id), "%s", s.m.class_id);
  snprintf(fw.component, sizeof(fw.component), "%s", s.m.component);
  fw.sequence = s.m.sequence;
  memcpy(fw.digest, digest, 32);
  fw.size = s.m.size;
  stw_hex_encode(digest, 32, hex);
  snprintf(fw.uri, sizeof(fw.uri), "/fw/img/%s", hex);
  fw.envelope = envelope.data;
  fw.envelope_len = envelope.len;
  fw.published_at = stw_now();
  if ((rc = stw_store_begin(st)) != STW_OK)
    goto out;
  rc = stw_store_firmware_put(st, &fw);
  snprintf(subject, sizeof(subject), "firmware:%" PRId64, fw.id);
  snprintf(detail, sizeof(detail), "%s/%s sequence %" PRIu64 ", %" PRIu64 " bytes, sha256 %s", fw.vendor,
           fw.class_id, fw.sequence, fw.size, hex);
  if (rc == STW_OK)
    rc = stw_store_audit_event(st, actor, "firmware.publish", subject, "ok", detail);
  if (rc == STW_OK)
    rc = stw_store_commit(st);
  else
    stw_store_rollback(st);
  if (rc == STW_ERR_EXISTS)
    stw_explain(why, why_len, "%s/%s sequence %" PRIu64 " is published already", fw.vendor, fw.class_id, fw.sequence);
  else if (rc != STW_OK)
    stw_explain(why, why_len, "the store refused the firmware");
out:
  if (rc == STW_OK && out != NULL) {
    *out = fw;
    envelope.data = NULL;  /* handed over */
  }
  stw_buf_free(&envelope, false);
  return rc;
}

/* ---- campaigns ------------------------------------------------------------------- */

typedef struct {
  char (*ids)[STW_ID_HEX];
  size_t n, cap;
  const stw_firmware_t *fw;
} targets_t;

static stw_status_t collect_device(const stw_device_t *d, void *arg)
{
  targets_t *t = arg;
  if (d->state == STW_STATE_MANUFACTURED || d->state == STW_STATE_DECOMMISSIONED)
    return STW_OK;
  if (strcmp(d->model, t->fw->class_id) != 0 || strcmp(d->manufacturer, t->fw->vendor) != 0)
    return STW_OK;
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 64;
    void *p = realloc(t->ids, cap * sizeof(*t->ids));
    if (p == NULL)
      return STW_ERR_NOMEM;
    t->ids = p;
    t->cap = cap;
  }
  memcpy(t->ids[t->n++], d->id, STW_ID_HEX);
  return STW_OK;
}

typedef struct {
  const char *group;
  bool member;
} group_check_t;

static stw_status_t check_group(const stw_attr_row_t *a, void *arg)
{
  group_check_t *g = arg;
  if (strcmp(a->name, "group") == 0 && strcmp(a->value, g->group) == 0)
    g->member = true;
  return STW_OK;
}

static stw_status_t audit_campaign(stw_store_t *st, const char *actor, const char *action, int64_t id,
                                   const char *outcome, const char *detail)
{
  char subject[STW_TEXT_MAX];
  snprintf(subject, sizeof(subject), "campaign:%" PRId64, id);
  return stw_store_audit_event(st, actor, action, subject, outcome, detail);
}

typedef struct {
  stw_rollout_t *rows;
  size_t n, cap;
} rows_t;

static stw_status_t collect_row(const stw_rollout_t *r, void *arg)
{
  rows_t *rows = arg;
  if (rows->n == rows->cap) {
    size_t cap = rows->cap ? 2 * rows->cap : 64;
    void *p = realloc(rows->rows, cap * sizeof(*rows->rows));
    if (p == NULL)
      return STW_ERR_NOMEM;
    rows->rows = p;
    rows->cap = cap;
  }
  rows->rows[rows->n++] = *r;
  return STW_OK;
}

/* Offer stage 1 to its devices, or finish: the open stage has no device
 * left to hear from. */
static stw_status_t next_stage(stw_store_t *st, stw_campaign_t *c, const char *actor, int64_t now)
{
  rows_t rows = { 0 };
  uint64_t offered = 0;
  stw_status_t rc = STW_OK;
  if (c->stage == 0)
    rc = stw_store_rollout_list(st, c->id, collect_row, &rows);
  for (size_t i = 0; rc == STW_OK && i < rows.n; i++) {
    if (rows.rows[i].stage != 1 || rows.rows[i].status != STW_ROLLOUT_WAITING)
      continue;
    rows.rows[i].status = STW_ROLLOUT_OFFERED;
    rows.rows[i].updated_at = now;
    rc = stw_store_rollout_put(st, &rows.rows[i]);
    offered++;
  }
  free(rows.rows);
  if (rc != STW_OK)
    return rc;
  char detail[STW_REASON_MAX];
  if (offered > 0) {
    c->stage = 1;
    snprintf(detail, sizeof(detail), "stage 0 finished; stage 1 offered to %" PRIu64 " devices", offered);
  } else {
    c->state = STW_CAMPAIGN_DONE;
    snprintf(detail, sizeof(detail), "every device finished");
  }
  c->updated_at = now;
  if ((rc = stw_store_campaign_update(st, c)) == STW_OK)
    rc = audit_campaign(st, actor, offered > 0 ? "campaign.stage" : "campaign.done", c->id, "ok", detail);
  return rc;
}

/* Finished devices of a stage before its failure share is judged (all of a
 * smaller stage): one early failure must not halt a large stage alone, and a
 * failure share over a handful of devices already says enough. */
#define JUDGE_AFTER 10

/* The campaign's rule, after a device of the open stage finished: once the
 * stage's sample has finished, a failed/finished share past the threshold
 * halts it (judged when the sample completes, then on each failure), and so
 * do failures past the threshold's share of the whole stage, at once; a
 * stage with no device left to hear from moves on. */
/* What made the campaign look again: creation or a resume (which accepts the
 * failures so far), or a device's report that finished it. */
typedef enum { NO_REPORT, REPORT_INSTALLED, REPORT_FAILED } trigger_t;

static stw_status_t evaluate(stw_store_t *st, stw_campaign_t *c, trigger_t why, const char *actor, bool *changed)
{
  uint64_t counts[STW_ROLLOUT_COUNT] = { 0 };
  stw_status_t rc = stw_store_rollout_counts(st, c->id, (int)c->stage, counts);
  if (rc != STW_OK || c->state != STW_CAMPAIGN_RUNNING)
    return rc;
  uint64_t failed = counts[STW_ROLLOUT_FAILED], finished = failed + counts[STW_ROLLOUT_INSTALLED];
  uint64_t pending = counts[STW_ROLLOUT_WAITING] + counts[STW_ROLLOUT_OFFERED] + counts[STW_ROLLOUT_DOWNLOADING];
  int64_t now = stw_now();
  uint64_t stage_size = finished + pending;
  uint64_t sample = stage_size < JUDGE_AFTER ? stage_size : JUDGE_AFTER;
  bool judge_now = why == REPORT_FAILED || (why == REPORT_INSTALLED && finished == sample);
  bool over_share = finished > 0 && failed * 100 > (uint64_t)c->max_failure_percent * finished;
  /* Past the share of the whole stage: no report still to come can save it. */
  bool certain = failed * 100 > (uint64_t)c->max_failure_percent * stage_size;
  if (judge_now && over_share && (finished >= sample || certain)) {
    c->state = STW_CAMPAIGN_HALTED;
    c->updated_at = now;
    snprintf(c->reason, sizeof(c->reason), "stage %u: %" PRIu64 " of %" PRIu64 " finished devices failed (over %u%%)",
             c->stage, failed, finished, c->max_failure_percent);
    *changed = true;
    if ((rc = stw_store_campaign_update(st, c)) == STW_OK)
      rc = audit_campaign(st, actor, "campaign.halt", c->id, "halted", c->reason);
    return rc;
  }
  if (pending == 0) {
    *changed = true;
    rc = next_stage(st, c, actor, now);
  }
  return rc;
}

static bool parse_target(const char *target, const char **kind_value, bool *is_group)
{
  if (strncmp(target, "model=", 6) == 0 && target[6] != '\0') {
    *is_group = false;
    *kind_value = target + 6;
    return true;
  }
  if (strncmp(target, "group=", 6) == 0 && target[6] != '\0') {
    *is_group = true;
    *kind_value = target + 6;
    return true;
  }
  return false;
}

stw_status_t stw_update_campaign_create(stw_store_t *st, const stw_campaign_t *spec, const char *actor,
                                        stw_campaign_t *out, uint64_t *targets_out, char *why, size_t why_len)
{
  stw_firmware_t fw;
  targets_t t = { 0 };
  const char *value = NULL;
  bool is_group = false;
  bool in_tx = false;
  *targets_out = 0;
  if (!parse_target(spec->target, &value, &is_group)) {
    stw_explain(why, why_len, "the target is model=MODEL or group=GROUP");
    return STW_ERR_INVALID;
  }
  if (spec->canary_percent < 1 || spec->canary_percent > 100 || spec->max_failure_percent > 100) {
    stw_explain(why, why_len, "canary is 1..100 percent, max failures 0..100 percent");
    return STW_ERR_INVALID;
  }
  stw_status_t rc = stw_store_firmware_get(st, spec->firmware_id, &fw);
  if (rc != STW_OK) {
    stw_explain(why, why_len, "no firmware %" PRId64, spec->firmware_id);
    return rc;
  }
  if (!is_group && strcmp(value, fw.class_id) != 0) {
    stw_explain(why, why_len, "firmware %" PRId64 " is for class %s, not model %s", fw.id, fw.class_id, value);
    rc = STW_ERR_INVALID;
    goto out;
  }
  t.fw = &fw;
  if ((rc = stw_store_device_list(st, -1, collect_device, &t)) != STW_OK)
    goto out;
  if (is_group) {
    size_t kept = 0;
    for (size_t i = 0; rc == STW_OK && i < t.n; i++) {
      group_check_t g = { .group = value };
      rc = stw_store_attr_list(st, t.ids[i], check_group, &g);
      if (g.member)
        memmove(t.ids[kept++], t.ids[i], STW_ID_HEX);
    }
    t.n = kept;
  }
  if (rc != STW_OK)
    goto out;
  if (t.n == 0) {
    stw_explain(why, why_len, "no enrolled %s/%s device matches %s", fw.vendor, fw.class_id, spec->target);
    rc = STW_ERR_NOT_FOUND;
    goto out;
  }
  stw_campaign_t c = *spec;
  int64_t now = stw_now();
  c.id = 0;
  c.stage = 0;
  c.state = STW_CAMPAIGN_RUNNING;
  c.reason[0] = '\0';
  c.created_at = c.updated_at = now;
  size_t canary = (t.n * spec->canary_percent + 99) / 100;
  if (canary < 1)
    canary = 1;
  if ((rc = stw_store_begin(st)) != STW_OK)
    goto out;
  in_tx = true;
  if ((rc = stw_store_campaign_add(st, &c)) != STW_OK)
    goto out;
  for (size_t i = 0; rc == STW_OK && i < t.n; i++) {
    stw_rollout_t r;
    memset(&r, 0, sizeof(r));
    r.campaign_id = c.id;
    memcpy(r.device_id, t.ids[i], STW_ID_HEX);
    r.stage = i < canary ? 0 : 1;
    r.status = i < canary ? STW_ROLLOUT_OFFERED : STW_ROLLOUT_WAITING;
    r.updated_at = now;
    /* A device that already runs this sequence or a later one has nothing to do. */
    stw_device_fw_t running;
    if (stw_store_device_fw_get(st, r.device_id, &running) == STW_OK && running.sequence >= fw.sequence) {
      r.status = STW_ROLLOUT_INSTALLED;
      snprintf(r.detail, sizeof(r.detail), "already runs sequence %" PRIu64, running.sequence);
    }
    rc = stw_store_rollout_put(st, &r);
  }
  char detail[STW_REASON_MAX];
  snprintf(detail, sizeof(detail), "firmware %" PRId64 " (%s/%s sequence %" PRIu64 ") to %s: %zu devices, %zu in the canary stage, halt over %u%% failures",
           fw.id, fw.vendor, fw.class_id, fw.sequence, spec->target, t.n, canary, spec->max_failure_percent);
  if (rc == STW_OK)
    rc = audit_campaign(st, actor, "campaign.create", c.id, "ok", detail);
  bool changed = false;
  if (rc == STW_OK)
    rc = evaluate(st, &c, NO_REPORT, actor, &changed);  /* a canary already up to date moves on at once */
  if (rc == STW_OK)
    rc = stw_store_commit(st);
  in_tx = false;
  if (rc == STW_OK) {
    *out = c;
    *targets_out = t.n;
  }
out:
  if (in_tx)
    stw_store_rollback(st);
  if (rc != STW_OK && why != NULL && why[0] == '\0')
    stw_explain(why, why_len, "the store refused the campaign");
  free(t.ids);
  stw_firmware_clear(&fw);
  return rc;
}

static stw_status_t change_campaign(stw_store_t *st, int64_t id, bool resume, const char *actor, char *why,
                                    size_t why_len)
{
  stw_campaign_t c;
  stw_status_t rc = stw_store_begin(st);
  if (rc != STW_OK)
    return rc;
  if ((rc = stw_store_campaign_get(st, id, &c)) != STW_OK) {
    stw_explain(why, why_len, "no campaign %" PRId64, id);
    goto out;
  }
  bool allowed = resume ? c.state == STW_CAMPAIGN_HALTED
                        : c.state == STW_CAMPAIGN_RUNNING || c.state == STW_CAMPAIGN_HALTED;
  if (!allowed) {
    stw_explain(why, why_len, "campaign %" PRId64 " is %s", id, stw_campaign_state_name(c.state));
    rc = STW_ERR_STATE;
    goto out;
  }
  c.state = resume ? STW_CAMPAIGN_RUNNING : STW_CAMPAIGN_ABORTED;
  c.updated_at = stw_now();
  snprintf(c.reason, sizeof(c.reason), "%s by %s", resume ? "resumed" : "aborted", actor);
  rc = stw_store_campaign_update(st, &c);
  if (rc == STW_OK)
    rc = audit_campaign(st, actor, resume ? "campaign.resume" : "campaign.abort", id, "ok", c.reason);
  bool changed = false;
  if (rc == STW_OK && resume)
    rc = evaluate(st, &c, NO_REPORT, actor, &changed);
out:
  if (rc == STW_OK)
    rc = stw_store_commit(st);
  else
    stw_store_rollback(st);
  return rc;
}

stw_status_t stw_update_campaign_resume(stw_store_t *st, int64_t id, const char *actor, char *why, size_t why_len)
{
  return change_campaign(st, id, true, actor, why, why_len);
}

stw_status_t stw_update_campaign_abort(stw_store_t *st, int64_t id, const char *actor, char *why, size_t why_len)
{
  return change_campaign(st, id, false, actor, why, why_len);
}

/* ---- reports --------------------------------------------------------------------- */

typedef struct {
  int64_t ids[CAMPAIGNS_SCAN_MAX];
  size_t n;
} campaign_ids_t;

static stw_status_t collect_campaign(const stw_campaign_t *c, void *arg)
{
  campaign_ids_t *ids = arg;
  if (ids->n < CAMPAIGNS_SCAN_MAX)
    ids->ids[ids->n++] = c->id;
  return STW_OK;
}

/* Is this (campaign, row) the one the report speaks of: firmware of that
 * sequence, and a row the device has not left yet? */
static bool row_matches(stw_store_t *st, int64_t campaign_id, const char *device_id, uint64_t sequence,
                        stw_campaign_t *c, stw_rollout_t *row, stw_firmware_t *fw)
{
  if (stw_store_campaign_get(st, campaign_id, c) != STW_OK ||
      stw_store_rollout_get(st, campaign_id, device_id, row) != STW_OK || row->status == STW_ROLLOUT_WAITING)
    return false;
  if (stw_store_firmware_get(st, c->firmware_id, fw) != STW_OK)
    return false;
  if (fw->sequence == sequence)
    return true;
  stw_firmware_clear(fw);
  return false;
}

static stw_status_t find_row(stw_store_t *st, const char *device_id, uint64_t sequence, stw_campaign_t *c,
                             stw_rollout_t *row, stw_firmware_t *fw)
{
  /* The usual case: the offer of a running campaign. */
  stw_rollout_t offered;
  if (stw_store_rollout_offered(st, device_id, &offered) == STW_OK &&
      row_matches(st, offered.campaign_id, device_id, sequence, c, row, fw))
    return STW_OK;
  /* A report that arrives after a halt or abort still tells the truth about
   * the device: find its row, newest campaign first. */
  campaign_ids_t *ids = calloc(1, sizeof(*ids));
  if (ids == NULL)
    return STW_ERR_NOMEM;
  stw_status_t rc = stw_store_campaign_list(st, collect_campaign, ids);
  if (rc == STW_OK)
    rc = STW_ERR_NOT_FOUND;
  for (size_t i = ids->n; rc == STW_ERR_NOT_FOUND && i > 0; i--)
    if (row_matches(st, ids->ids[i - 1], device_id, sequence, c, row, fw))
      rc = STW_OK;
  free(ids);
  return rc;
}

static stw_status_t move_lifecycle(stw_store_t *st, const char *device_id, stw_event_t ev, const char *actor,
                                   const char *detail, stw_report_outcome_t *out)
{
  stw_device_t d;
  stw_state_t next;
  stw_status_t rc = stw_store_device_get(st, device_id, &d);
  if (rc != STW_OK)
    return rc;
  out->state = d.state;
  stw_device_clear(&d);
  /* Where the table has no such move (a device refusing an offer before it
   * began, a repeated report), the report is recorded without one. */
  if (stw_lifecycle_next(out->state, ev, &next) != STW_OK || next == out->state)
    return STW_OK;
  if ((rc = stw_store_transition(st, device_id, ev, actor, detail, &out->state)) == STW_OK)
    out->lifecycle_moved = true;
  return rc;
}

stw_status_t stw_update_report_apply(stw_store_t *st, const char *device_id, const stw_fwreport_t *r,
                                     stw_report_outcome_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_campaign_t c;
  stw_rollout_t row;
  stw_firmware_t fw;
  stw_status_t rc = find_row(st, device_id, r->sequence, &c, &row, &fw);
  if (rc != STW_OK)
    return rc;
  out->campaign_id = c.id;
  out->campaign_state = c.state;
  stw_rollout_status_t to = (stw_rollout_status_t)r->status;
  bool final_before = row.status == STW_ROLLOUT_INSTALLED || row.status == STW_ROLLOUT_FAILED;
  char actor[STW_TEXT_MAX], detail[STW_REASON_MAX];
  snprintf(actor, sizeof(actor), "device:%s", device_id);
  snprintf(detail, sizeof(detail), "campaign %" PRId64 " sequence %" PRIu64 ": %s", c.id, r->sequence,
           r->detail[0] ? r->detail : stw_fwreport_status_name(r->status));
  /* Repeats (a report resent after a lost answer) change nothing; a device
   * that finished cannot start over within the same campaign. */
  if (row.status == to || (final_before && to == STW_ROLLOUT_DOWNLOADING)) {
    rc = STW_OK;
    goto out;
  }
  if (final_before) {
    rc = STW_ERR_STATE;
    goto out;
  }
  row.status = to;
  snprintf(row.detail, sizeof(row.detail), "%s", r->detail);
  row.updated_at = stw_now();
  if ((rc = stw_store_rollout_put(st, &row)) != STW_OK)
    goto out;
  if (to == STW_ROLLOUT_INSTALLED) {
    stw_device_fw_t running;
    memset(&running, 0, sizeof(running));
    snprintf(running.device_id, sizeof(running.device_id), "%s", device_id);
    running.sequence = fw.sequence;
    memcpy(running.digest, fw.digest, 32);
    running.reported_at = row.updated_at;
    if ((rc = stw_store_device_fw_set(st, &running)) != STW_OK)
      goto out;
  }
  stw_event_t ev = to == STW_ROLLOUT_DOWNLOADING ? STW_EV_UPDATE_START
                 : to == STW_ROLLOUT_INSTALLED ? STW_EV_UPDATE_DONE : STW_EV_UPDATE_FAILED;
  if ((rc = move_lifecycle(st, device_id, ev, actor, detail, out)) != STW_OK)
    goto out;
  if ((rc = stw_store_audit_event(st, actor, "update.report", device_id, stw_fwreport_status_name(r->status),
                                  detail)) != STW_OK)
    goto out;
  if (to != STW_ROLLOUT_DOWNLOADING && row.stage == c.stage)
    rc = evaluate(st, &c, to == STW_ROLLOUT_FAILED ? REPORT_FAILED : REPORT_INSTALLED, "daemon", &out->offers_changed);
  out->campaign_state = c.state;
out:
  stw_firmware_clear(&fw);
  return rc;
}

/* ---- offers ---------------------------------------------------------------------- */

stw_status_t stw_update_offer(stw_store_t *st, const char *device_id, stw_firmware_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_rollout_t row;
  stw_campaign_t c;
  stw_status_t rc = stw_store_rollout_offered(st, device_id, &row);
  if (rc == STW_OK)
    rc = stw_store_campaign_get(st, row.campaign_id, &c);
  if (rc == STW_OK && c.state != STW_CAMPAIGN_RUNNING)
    rc = STW_ERR_NOT_FOUND;
  if (rc == STW_OK)
    rc = stw_store_firmware_get(st, c.firmware_id, out);
  return rc;
}

bool stw_update_may_fetch(stw_store_t *st, const char *device_id, const uint8_t digest[32])
{
  stw_firmware_t fw;
  if (stw_update_offer(st, device_id, &fw) != STW_OK)
    return false;
  bool ok = memcmp(fw.digest, digest, 32) == 0;
  stw_firmware_clear(&fw);
  return ok;
}

static stw_status_t mix_campaign(const stw_campaign_t *c, void *arg)
{
  uint64_t *h = arg;
  uint64_t parts[3] = { (uint64_t)c->id, (uint64_t)c->state, (uint64_t)c->stage };
  for (size_t i = 0; i < 3; i++) {
    *h ^= parts[i];
    *h *= 0x100000001b3ull;  /* FNV-1a step: a change detector, not a secret */
  }
  return STW_OK;
}

stw_status_t stw_update_campaigns_fingerprint(stw_store_t *st, uint64_t *out)
{
  *out = 0xcbf29ce484222325ull;
  return stw_store_campaign_list(st, mix_campaign, out);
}
