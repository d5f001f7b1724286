/* Collecting the compliance report: read what the store holds about each
 * device and the fleet, and judge each provision from it. The verdict rules
 * are written down in docs/compliance.md; keep the two in step. */
#include "compliance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An affirming attestation older than this no longer says much about now. */
#define ATTESTATION_STALE_S (7 * 24 * 3600)

static const struct {
  const char *clause;
  const char *title;
} provisions[STW_PROV_COUNT] = {
  [STW_PROV_UNIQUE_CREDENTIALS] = { "5.1", "No universal default passwords; unique per-device credentials" },
  [STW_PROV_VULN_DISCLOSURE] = { "5.2", "A means to manage reports of vulnerabilities" },
  [STW_PROV_UPDATES] = { "5.3", "Keep software updated" },
  [STW_PROV_SECRETS] = { "5.4", "Securely store sensitive security parameters" },
  [STW_PROV_CHANNEL] = { "5.5", "Communicate securely" },
  [STW_PROV_INTEGRITY] = { "5.7", "Ensure software integrity" },
  [STW_PROV_PERSONAL_DATA] = { "5.8/5.11", "Personal data protected; easy to delete" },
  [STW_PROV_TELEMETRY] = { "5.10", "Examine system telemetry data" },
  [STW_PROV_INPUT_VALIDATION] = { "5.13", "Validate input data" },
};

const char *stw_provision_clause(stw_provision_t p)
{
  return (unsigned)p < STW_PROV_COUNT ? provisions[p].clause : "?";
}

const char *stw_provision_title(stw_provision_t p)
{
  return (unsigned)p < STW_PROV_COUNT ? provisions[p].title : "?";
}

const char *stw_verdict_name(stw_verdict_t v)
{
  switch (v) {
  case STW_VERDICT_PASS: return "pass";
  case STW_VERDICT_WARN: return "warn";
  case STW_VERDICT_FAIL: return "fail";
  case STW_VERDICT_NA: return "n/a";
  }
  return "?";
}

__attribute__((format(printf, 3, 4)))
static void judge(stw_finding_t *f, stw_verdict_t v, const char *fmt, ...)
{
  f->verdict = v;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->evidence, sizeof(f->evidence), fmt, ap);
  va_end(ap);
}

/* ---- what is gathered once for the whole fleet --------------------------- */

typedef struct {
  char class_id[STW_TEXT_MAX];
  uint64_t sequence;
} latest_fw_t;

/* Per device, filled while scanning tables once rather than once a device. */
typedef struct {
  uint64_t audit_events;
  uint64_t audit_refusals;
  char last_action[STW_TEXT_MAX];
  uint64_t context_rows;
} device_tally_t;

typedef struct {
  stw_compliance_t *r;
  device_tally_t *tally;           /* parallel to r->devices */
  latest_fw_t *latest;
  size_t n_latest, cap_latest;
  uint64_t refusals_total;
  uint64_t domain_context_rows;
  uint64_t vuln_total, vuln_open;
} gather_t;

static int cmp_device_id(const void *key, const void *elem)
{
  return strcmp((const char *)key, ((const stw_device_report_t *)elem)->id);
}

static ptrdiff_t device_index(const gather_t *g, const char *id)
{
  const stw_device_report_t *d = bsearch(id, g->r->devices, g->r->n_devices, sizeof(*d), cmp_device_id);
  return d != NULL ? d - g->r->devices : -1;
}

static stw_status_t add_device(const stw_device_t *d, void *arg)
{
  gather_t *g = arg;
  stw_compliance_t *r = g->r;
  stw_device_report_t *grown = realloc(r->devices, (r->n_devices + 1) * sizeof(*grown));
  if (grown == NULL)
    return STW_ERR_NOMEM;
  r->devices = grown;
  stw_device_report_t *out = &r->devices[r->n_devices++];
  memset(out, 0, sizeof(*out));
  snprintf(out->id, sizeof(out->id), "%s", d->id);
  snprintf(out->name, sizeof(out->name), "%s", d->name);
  snprintf(out->model, sizeof(out->model), "%s", d->model);
  out->state = d->state;
  return STW_OK;
}

static stw_status_t note_firmware(const stw_firmware_t *f, void *arg)
{
  gather_t *g = arg;
  for (size_t i = 0; i < g->n_latest; i++) {
    if (strcmp(g->latest[i].class_id, f->class_id) == 0) {
      if (f->sequence > g->latest[i].sequence)
        g->latest[i].sequence = f->sequence;
      return STW_OK;
    }
  }
  if (g->n_latest == g->cap_latest) {
    size_t cap = g->cap_latest ? 2 * g->cap_latest : 8;
    latest_fw_t *grown = realloc(g->latest, cap * sizeof(*grown));
    if (grown == NULL)
      return STW_ERR_NOMEM;
    g->latest = grown;
    g->cap_latest = cap;
  }
  latest_fw_t *l = &g->latest[g->n_latest++];
  snprintf(l->class_id, sizeof(l->class_id), "%s", f->class_id);
  l->sequence = f->sequence;
  return STW_OK;
}

static const latest_fw_t *latest_for(const gather_t *g, const char *model)
{
  for (size_t i = 0; i < g->n_latest; i++)
    if (strcmp(g->latest[i].class_id, model) == 0)
      return &g->latest[i];
  return NULL;
}

static stw_status_t note_audit(const stw_audit_t *a, void *arg)
{
  gather_t *g = arg;
  bool refused = strcmp(a->outcome, "ok") != 0;
  if (refused)
    g->refusals_total++;
  ptrdiff_t i = device_index(g, a->subject);
  if (i < 0)
    return STW_OK;
  device_tally_t *t = &g->tally[i];
  t->audit_events++;
  if (refused)
    t->audit_refusals++;
  snprintf(t->last_action, sizeof(t->last_action), "%s", a->action);
  return STW_OK;
}

static stw_status_t note_context(const stw_context_row_t *c, void *arg)
{
  gather_t *g = arg;
  static const char prefix[] = "device:";
  if (strncmp(c->scope, prefix, sizeof(prefix) - 1) != 0) {
    g->domain_context_rows++;
    return STW_OK;
  }
  ptrdiff_t i = device_index(g, c->scope + sizeof(prefix) - 1);
  if (i >= 0)
    g->tally[i].context_rows++;
  return STW_OK;
}

static stw_status_t note_vuln(const stw_vuln_t *v, void *arg)
{
  gather_t *g = arg;
  g->vuln_total++;
  if (strcmp(v->status, "fixed") != 0 && strcmp(v->status, "rejected") != 0)
    g->vuln_open++;
  return STW_OK;
}

/* Attribute names (never values: they may be personal) of one device. */
typedef struct {
  char names[STW_EVIDENCE_TEXT_MAX / 2];
  size_t used;
  uint64_t count;
} attr_names_t;

static stw_status_t note_attr(const stw_attr_row_t *a, void *arg)
{
  attr_names_t *n = arg;
  n->count++;
  int w = snprintf(n->names + n->used, sizeof(n->names) - n->used, "%s%s", n->used ? ", " : "", a->name);
  if (w > 0 && (size_t)w < sizeof(n->names) - n->used)
    n->used += (size_t)w;
  return STW_OK;
}

/* ---- the per-device rules ------------------------------------------------- */

static bool retired(const stw_device_report_t *d)
{
  return d->state == STW_STATE_DECOMMISSIONED;
}

static stw_status_t judge_credentials(stw_store_t *st, const stw_device_t *dev, stw_device_report_t *d, int64_t now)
{
  stw_finding_t *f = &d->findings[STW_PROV_UNIQUE_CREDENTIALS];
  if (retired(d)) {
    judge(f, STW_VERDICT_NA, "decommissioned: credentials revoked");
    return STW_OK;
  }
  if (dev->cred_kind == STW_CRED_PSK) {
    if (dev->psk_identity[0] == '\0')
      judge(f, STW_VERDICT_FAIL, "no operational PSK issued");
    else
      judge(f, STW_VERDICT_PASS, "per-device operational PSK \"%s\", derived for this device only", dev->psk_identity);
    return STW_OK;
  }
  if (dev->ldevid_len == 0 || dev->ldevid_serial[0] == '\0') {
    judge(f, STW_VERDICT_FAIL, "no operational certificate issued");
    return STW_OK;
  }
  bool revoked = false;
  stw_status_t rc = stw_store_serial_is_revoked(st, dev->ldevid_serial, &revoked);
  if (rc != STW_OK)
    return rc;
  if (revoked)
    judge(f, STW_VERDICT_FAIL, "LDevID serial %s is revoked", dev->ldevid_serial);
  else if (dev->ldevid_not_after <= now)
    judge(f, STW_VERDICT_WARN, "LDevID serial %s expired; the device must re-enroll", dev->ldevid_serial);
  else
    judge(f, STW_VERDICT_PASS, "own key pair and LDevID serial %s (serials are issued once, ever), valid until %lld",
          dev->ldevid_serial, (long long)dev->ldevid_not_after);
  return STW_OK;
}

static stw_status_t judge_updates(stw_store_t *st, const gather_t *g, stw_device_report_t *d)
{
  stw_finding_t *f = &d->findings[STW_PROV_UPDATES];
  if (retired(d)) {
    judge(f, STW_VERDICT_NA, "decommissioned");
    return STW_OK;
  }
  const latest_fw_t *latest = latest_for(g, d->model);
  stw_device_fw_t fw;
  stw_status_t rc = stw_store_device_fw_get(st, d->id, &fw);
  if (rc != STW_OK && rc != STW_ERR_NOT_FOUND)
    return rc;
  bool reported = rc == STW_OK;
  uint64_t running = reported ? fw.sequence : 0;
  if (d->state == STW_STATE_UPDATING)
    judge(f, STW_VERDICT_WARN, "update in progress (running sequence %llu)", (unsigned long long)running);
  else if (latest == NULL)
    judge(f, STW_VERDICT_WARN, "no authorised firmware for model %s; running sequence %llu%s", d->model,
          (unsigned long long)running, reported ? "" : " (factory image, never reported)");
  else if (running < latest->sequence)
    judge(f, STW_VERDICT_WARN, "runs sequence %llu; sequence %llu is authorised for %s",
          (unsigned long long)running, (unsigned long long)latest->sequence, d->model);
  else
    judge(f, STW_VERDICT_PASS, "runs the latest authorised firmware (sequence %llu), reported at %lld",
          (unsigned long long)running, (long long)fw.reported_at);
  return STW_OK;
}

static void judge_secrets(const stw_device_t *dev, stw_device_report_t *d)
{
  stw_finding_t *f = &d->findings[STW_PROV_SECRETS];
  if (retired(d))
    judge(f, STW_VERDICT_NA, "decommissioned: keys erased by factory reset on the device, PSKs deleted here");
  else if (dev->cred_kind == STW_CRED_PSK)
    judge(f, STW_VERDICT_PASS, "operational PSK held in a key table no listing reads; device keeps it in a 0600 file");
  else
    judge(f, STW_VERDICT_PASS, "private key generated on the device and never sent; the domain holds only its certificate");
}

static void judge_channel(const stw_device_t *dev, stw_device_report_t *d)
{
  stw_finding_t *f = &d->findings[STW_PROV_CHANNEL];
  if (retired(d))
    judge(f, STW_VERDICT_NA, "decommissioned");
  else if (dev->cred_kind == STW_CRED_PSK)
    judge(f, STW_VERDICT_PASS, "DTLS 1.2 with a per-device PSK to the domain; OSCORE for peers");
  else
    judge(f, STW_VERDICT_PASS, "DTLS 1.2 authenticated by its LDevID to the domain; DTLS raw public keys or OSCORE "
                               "(keyed by tokens) to peers");
}

static stw_status_t judge_integrity(stw_store_t *st, const stw_device_t *dev, stw_device_report_t *d, int64_t now)
{
  stw_finding_t *f = &d->findings[STW_PROV_INTEGRITY];
  if (retired(d)) {
    judge(f, STW_VERDICT_NA, "decommissioned");
    return STW_OK;
  }
  stw_attest_row_t a;
  stw_status_t rc = stw_store_attest_latest(st, d->id, &a);
  if (rc == STW_ERR_NOT_FOUND && dev->cred_kind == STW_CRED_PSK) {
    judge(f, STW_VERDICT_WARN, "never attested: a PSK device has no key to sign evidence with");
    return STW_OK;
  }
  if (rc == STW_ERR_NOT_FOUND) {
    judge(f, STW_VERDICT_FAIL, "never attested");
    return STW_OK;
  }
  if (rc != STW_OK)
    return rc;
  char digest[65];
  stw_hex_encode(a.image_digest, sizeof(a.image_digest), digest);
  digest[16] = '\0';  /* a prefix is enough to tell images apart in a report */
  if (d->state == STW_STATE_QUARANTINED || a.verdict == STW_EAR_CONTRAINDICATED)
    judge(f, STW_VERDICT_FAIL, "%s at %lld (%s): %s; image %s...", d->state == STW_STATE_QUARANTINED ? "quarantined" : "contraindicated",
          (long long)a.at, a.trigger, a.reasons, digest);
  else if (a.verdict == STW_EAR_WARNING)
    judge(f, STW_VERDICT_WARN, "warning at %lld (%s): %s", (long long)a.at, a.trigger, a.reasons);
  else if (now - a.at > ATTESTATION_STALE_S)
    judge(f, STW_VERDICT_WARN, "last affirming attestation at %lld is older than %d days", (long long)a.at,
          ATTESTATION_STALE_S / 86400);
  else
    judge(f, STW_VERDICT_PASS, "affirming at %lld (%s), image %s..., boot %llu", (long long)a.at, a.trigger, digest,
          (unsigned long long)a.boot_count);
  return STW_OK;
}

static stw_status_t judge_personal_data(stw_store_t *st, const device_tally_t *t, stw_device_report_t *d)
{
  stw_finding_t *f = &d->findings[STW_PROV_PERSONAL_DATA];
  attr_names_t names;
  memset(&names, 0, sizeof(names));
  stw_status_t rc = stw_store_attr_list(st, d->id, note_attr, &names);
  if (rc != STW_OK)
    return rc;
  uint64_t held = names.count + t->context_rows;
  if (retired(d)) {
    if (held == 0)
      judge(f, STW_VERDICT_PASS, "decommissioned: no attribute or context row about it or its people remains");
    else
      judge(f, STW_VERDICT_FAIL, "decommissioned but %llu rows remain (%s)", (unsigned long long)held, names.names);
    return STW_OK;
  }
  judge(f, STW_VERDICT_PASS, "holds %llu attributes (%s) and %llu context attributes; all deleted on decommission",
        (unsigned long long)names.count, names.used ? names.names : "none", (unsigned long long)t->context_rows);
  return STW_OK;
}

static void judge_telemetry(const device_tally_t *t, stw_device_report_t *d)
{
  stw_finding_t *f = &d->findings[STW_PROV_TELEMETRY];
  if (t->audit_events == 0)
    judge(f, STW_VERDICT_WARN, "no audit record names this device");
  else
    judge(f, STW_VERDICT_PASS, "%llu audit records in the hash chain, the last \"%s\"", (unsigned long long)t->audit_events,
          t->last_action);
}

static void judge_input(const device_tally_t *t, stw_device_report_t *d)
{
  judge(&d->findings[STW_PROV_INPUT_VALIDATION], STW_VERDICT_PASS,
        "%llu refused requests recorded against it; every parser is bounded and fuzzed",
        (unsigned long long)t->audit_refusals);
}

static void judge_disclosure_device(stw_device_report_t *d)
{
  judge(&d->findings[STW_PROV_VULN_DISCLOSURE], STW_VERDICT_NA, "a fleet-wide provision");
}

/* ---- the fleet ------------------------------------------------------------- */

/* A secret file must be readable by its owner only. */
static bool file_private(const char *dir, const char *name, char *why, size_t why_cap)
{
  char path[1200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  struct stat sb;
  if (stat(path, &sb) != 0) {
    snprintf(why, why_cap, "%s missing", name);
    return false;
  }
  if ((sb.st_mode & 077) != 0) {
    snprintf(why, why_cap, "%s is mode %03o", name, (unsigned)(sb.st_mode & 0777));
    return false;
  }
  return true;
}

static stw_status_t judge_fleet(stw_store_t *st, const char *data_dir, gather_t *g)
{
  stw_compliance_t *r = g->r;
  /* Per-device provisions: the worst device verdict (n/a ignored). */
  for (size_t p = 0; p < STW_PROV_COUNT; p++) {
    stw_verdict_t worst = STW_VERDICT_PASS;
    uint64_t applicable = 0;
    for (size_t i = 0; i < r->n_devices; i++) {
      stw_verdict_t v = r->devices[i].findings[p].verdict;
      r->counts[p][v]++;
      if (v == STW_VERDICT_NA)
        continue;
      applicable++;
      if (v > worst)
        worst = v;
    }
    judge(&r->fleet[p], applicable ? worst : STW_VERDICT_NA, "%llu pass, %llu warn, %llu fail, %llu n/a",
          (unsigned long long)r->counts[p][STW_VERDICT_PASS], (unsigned long long)r->counts[p][STW_VERDICT_WARN],
          (unsigned long long)r->counts[p][STW_VERDICT_FAIL], (unsigned long long)r->counts[p][STW_VERDICT_NA]);
  }

  /* 5.2 lives only at fleet level. */
  judge(&r->fleet[STW_PROV_VULN_DISCLOSURE], STW_VERDICT_PASS,
        "reports accepted at coaps /vr and listed by `steward admin vuln list`; security.txt published; %llu received, "
        "%llu open",
        (unsigned long long)g->vuln_total, (unsigned long long)g->vuln_open);

  /* 5.4: the domain's own secrets. */
  char why[128] = "";
  if (data_dir != NULL && !(file_private(data_dir, "domain-ca.key", why, sizeof(why)) &&
                            file_private(data_dir, "server.key", why, sizeof(why)) &&
                            file_private(data_dir, "admin.token", why, sizeof(why))))
    judge(&r->fleet[STW_PROV_SECRETS], STW_VERDICT_FAIL, "%s", why);
  else if (r->fleet[STW_PROV_SECRETS].verdict != STW_VERDICT_FAIL)
    snprintf(r->fleet[STW_PROV_SECRETS].evidence, sizeof(r->fleet[STW_PROV_SECRETS].evidence),
             "domain CA key, server key and admin token are 0600; %llu devices keep their own keys",
             (unsigned long long)r->counts[STW_PROV_SECRETS][STW_VERDICT_PASS]);

  /* 5.10: the audit chain itself must verify. */
  uint64_t checked = 0, bad = 0;
  stw_status_t rc = stw_store_audit_verify(st, &checked, &bad);
  if (rc == STW_ERR_TAMPERED)
    judge(&r->fleet[STW_PROV_TELEMETRY], STW_VERDICT_FAIL, "audit chain broken at record %llu of %llu",
          (unsigned long long)bad, (unsigned long long)checked);
  else if (rc != STW_OK)
    return rc;
  else
    snprintf(r->fleet[STW_PROV_TELEMETRY].evidence, sizeof(r->fleet[STW_PROV_TELEMETRY].evidence),
             "audit chain of %llu records verifies; %llu devices with records", (unsigned long long)checked,
             (unsigned long long)r->counts[STW_PROV_TELEMETRY][STW_VERDICT_PASS]);

  snprintf(r->fleet[STW_PROV_INPUT_VALIDATION].evidence, sizeof(r->fleet[STW_PROV_INPUT_VALIDATION].evidence),
           "%llu refused requests recorded in the audit log; malformed input gets 4.00, oversized 4.13",
           (unsigned long long)g->refusals_total);
  r->fleet[STW_PROV_INPUT_VALIDATION].verdict = STW_VERDICT_PASS;
  return STW_OK;
}

/* ---- the whole report -------------------------------------------------------- */

static stw_status_t judge_device(stw_store_t *st, const gather_t *g, size_t i, int64_t now)
{
  stw_device_report_t *d = &g->r->devices[i];
  stw_device_t dev;
  stw_status_t rc = stw_store_device_get(st, d->id, &dev);
  if (rc != STW_OK)
    return rc;
  rc = judge_credentials(st, &dev, d, now);
  if (rc == STW_OK)
    rc = judge_updates(st, g, d);
  if (rc == STW_OK)
    rc = judge_integrity(st, &dev, d, now);
  if (rc == STW_OK)
    rc = judge_personal_data(st, &g->tally[i], d);
  judge_secrets(&dev, d);
  judge_channel(&dev, d);
  judge_disclosure_device(d);
  judge_telemetry(&g->tally[i], d);
  judge_input(&g->tally[i], d);
  stw_device_clear(&dev);
  return rc;
}

stw_status_t stw_compliance_collect(stw_store_t *st, const char *data_dir, const char *domain_name,
                                    const char *device_id, int64_t now, stw_compliance_t *out)
{
  memset(out, 0, sizeof(*out));
  out->generated_at = now;
  snprintf(out->domain, sizeof(out->domain), "%s", domain_name != NULL ? domain_name : "");
  gather_t g = { .r = out };
  stw_status_t rc;
  if (device_id != NULL) {
    stw_device_t d;
    if ((rc = stw_store_device_get(st, device_id, &d)) != STW_OK)
      return rc;
    rc = add_device(&d, &g);
    stw_device_clear(&d);
  } else {
    rc = stw_store_device_list(st, -1, add_device, &g);  /* in id order: bsearch below relies on it */
  }
  if (rc == STW_OK && (g.tally = calloc(out->n_devices ? out->n_devices : 1, sizeof(*g.tally))) == NULL)
    rc = STW_ERR_NOMEM;
  if (rc == STW_OK)
    rc = stw_store_firmware_list(st, note_firmware, &g);
  if (rc == STW_OK)
    rc = stw_store_audit_list(st, 0, 0, note_audit, &g);
  if (rc == STW_OK)
    rc = stw_store_context_list(st, note_context, &g);
  if (rc == STW_OK)
    rc = stw_store_vuln_list(st, note_vuln, &g);
  for (size_t i = 0; rc == STW_OK && i < out->n_devices; i++)
    rc = judge_device(st, &g, i, now);
  if (rc == STW_OK)
    rc = judge_fleet(st, data_dir, &g);
  free(g.tally);
  free(g.latest);
  if (rc != STW_OK)
    stw_compliance_free(out);
  return rc;
}

void stw_compliance_free(stw_compliance_t *r)
{
  if (r == NULL)
    return;
  free(r->devices);
  r->devices = NULL;
  r->n_devices = 0;
}
