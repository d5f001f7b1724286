#include "attest/attest.h"

#include <cbor.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cose_internal.h"
#include "pki.h"
#include "util.h"

/* ---- appraisal ------------------------------------------------------------------ */

static stw_status_t refuse(stw_appraisal_t *a, unsigned code, const char *refusal, const char *diag)
{
  a->coap_code = code;
  snprintf(a->refusal, sizeof(a->refusal), "%s", refusal);
  snprintf(a->diag, sizeof(a->diag), "%s", diag);
  return STW_OK;
}

/* Lower the verdict to at least tier and add the reason. */
static void judge(stw_appraisal_t *a, stw_ear_t tier, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void judge(stw_appraisal_t *a, stw_ear_t tier, const char *fmt, ...)
{
  if (tier > a->verdict)
    a->verdict = tier;
  char reason[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  /* Names come from the evidence: keep the reasons printable text. */
  for (char *c = reason; *c; c++)
    if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
      *c = '?';
  size_t used = strlen(a->reasons);
  /* A reason that no longer fits is dropped whole: the verdict still counts it. */
  if (used + strlen(reason) + 3 < sizeof(a->reasons))
    snprintf(a->reasons + used, sizeof(a->reasons) - used, "%s%s", used ? "; " : "", reason);
}

typedef struct {
  stw_attest_row_t latest;         /* the newest earlier result */
  bool has_latest;
  uint8_t failed_image[32];        /* the image of the newest contraindicated result */
  bool has_failed;
} history_t;

static stw_status_t take_history(const stw_attest_row_t *row, void *ctx)
{
  history_t *h = ctx;
  if (!h->has_latest) {
    h->latest = *row;
    h->has_latest = true;
  }
  if (!h->has_failed && row->verdict == STW_EAR_CONTRAINDICATED) {
    memcpy(h->failed_image, row->image_digest, 32);
    h->has_failed = true;
  }
  return STW_OK;
}

typedef struct {
  uint8_t digest[32];
  bool found;
} config_seen_t;

static stw_status_t take_config(const stw_attr_row_t *row, void *ctx)
{
  config_seen_t *c = ctx;
  if (strcmp(row->name, STW_ATTEST_CONFIG_ATTR) == 0 && strlen(row->value) == 64 &&
      stw_hex_decode(row->value, 64, c->digest, sizeof(c->digest)) == STW_OK)
    c->found = true;
  return STW_OK;
}

/* The running image against the reference values: the digests of the
 * manifests this domain authorised, for this device's class. */
static stw_status_t appraise_image(stw_store_t *st, const stw_device_t *d, const history_t *h, const uint8_t image[32],
                                   stw_appraisal_t *a)
{
  stw_firmware_t fw;
  memset(&fw, 0, sizeof(fw));
  stw_status_t rc = stw_store_firmware_by_digest(st, image, &fw);
  if (rc == STW_OK) {
    if (fw.sequence != a->ev.fw_sequence)
      judge(a, STW_EAR_CONTRAINDICATED, "image is manifest sequence %llu, device claims %llu",
            (unsigned long long)fw.sequence, (unsigned long long)a->ev.fw_sequence);
    if (d->model[0] && fw.class_id[0] && strcmp(fw.class_id, d->model) != 0)
      judge(a, STW_EAR_CONTRAINDICATED, "image authorised for class %.40s, not %.40s", fw.class_id, d->model);
    stw_firmware_clear(&fw);
    return STW_OK;
  }
  if (rc != STW_ERR_NOT_FOUND)
    return rc;
  /* No reference value. A factory image (sequence 0) is pinned on first
   * sight: the manufacturer publishes no digest for it. Anything else, or a
   * factory image that changed since, is not what the domain authorised. */
  bool factory_as_before = a->ev.fw_sequence == 0 &&
                           (!h->has_latest || memcmp(h->latest.image_digest, image, 32) == 0);
  if (factory_as_before)
    judge(a, STW_EAR_WARNING, "factory image: no reference value");
  else
    judge(a, STW_EAR_CONTRAINDICATED, "image digest is not a reference value");
  return STW_OK;
}

stw_status_t stw_attest_appraise(stw_store_t *st, const char *device_id, const uint8_t *msg, size_t len, int64_t now,
                                 stw_appraisal_t *out)
{
  (void)now;
  memset(out, 0, sizeof(*out));
  out->verdict = STW_EAR_AFFIRMING;
  snprintf(out->device_id, sizeof(out->device_id), "%s", device_id);
  if (msg == NULL || len == 0 || len > STW_EVIDENCE_MAX)
    return refuse(out, 400, "malformed", "evidence: a COSE_Sign1 of at most 4096 bytes");

  stw_device_t d;
  memset(&d, 0, sizeof(d));
  stw_status_t rc = stw_store_device_get(st, device_id, &d);
  if (rc != STW_OK)
    return rc == STW_ERR_NOT_FOUND ? refuse(out, 403, "unknown-device", "not an enrolled device") : rc;

  /* The key: the LDevID the store holds for the authenticated device. */
  stw_cert_info_t info;
  if (d.ldevid == NULL || stw_cert_parse(d.ldevid, d.ldevid_len, &info) != STW_OK) {
    rc = refuse(out, 403, "no-ldevid", "attestation needs an LDevID key");
    goto out;
  }
  stw_status_t vs = stw_evidence_verify(msg, len, info.spki, info.spki_len, &out->ev);
  if (vs == STW_ERR_BAD_SIGNATURE) {
    rc = refuse(out, 403, "bad-signature", "evidence not signed by this device's LDevID key");
    goto out;
  }
  if (vs != STW_OK) {
    rc = refuse(out, 400, "malformed", "evidence does not parse (docs/formats-attestation.md)");
    goto out;
  }
  char ueid[33];
  if (stw_evidence_ueid_hex(&out->ev, ueid) != STW_OK || strcmp(ueid, device_id) != 0) {
    rc = refuse(out, 403, "ueid", "evidence names another device");
    goto out;
  }

  history_t h;
  memset(&h, 0, sizeof(h));
  if ((rc = stw_store_attest_list(st, device_id, STW_ATTEST_HISTORY, take_history, &h)) != STW_OK)
    goto out;
  out->first = !h.has_latest;

  const uint8_t *image = NULL;
  for (size_t i = 0; i < out->ev.n_meas; i++) {
    const stw_measurement_t *m = &out->ev.meas[i];
    bool twice = false;
    for (size_t j = 0; j < i; j++)
      twice |= strcmp(out->ev.meas[j].name, m->name) == 0;
    if (twice) {
      judge(out, STW_EAR_CONTRAINDICATED, "measurement '%.32s' twice", m->name);
    } else if (strcmp(m->name, "image") == 0) {
      image = m->digest;
    } else if (strcmp(m->name, "config") == 0) {
      memcpy(out->config_digest, m->digest, 32);
      out->has_config = true;
    } else {
      judge(out, STW_EAR_CONTRAINDICATED, "unknown measurement '%.32s'", m->name);
    }
  }
  if (image == NULL)
    judge(out, STW_EAR_CONTRAINDICATED, "no image measurement");
  else if ((rc = appraise_image(st, &d, &h, image, out)) != STW_OK)
    goto out;

  /* The configuration against what the device reported before: an update
   * may change it, nothing else should. */
  if (!out->has_config) {
    judge(out, STW_EAR_WARNING, "no configuration measurement");
  } else {
    config_seen_t seen = { .found = false };
    if ((rc = stw_store_attr_list(st, device_id, take_config, &seen)) != STW_OK)
      goto out;
    bool updated = image != NULL && h.has_latest && memcmp(h.latest.image_digest, image, 32) != 0;
    if (!seen.found) {
      out->record_config = true;
    } else if (!stw_ct_equal(seen.digest, out->config_digest, 32)) {
      out->record_config = true;
      if (!updated)
        judge(out, STW_EAR_WARNING, "configuration changed without an update");
    }
  }
  if (h.has_latest && out->ev.boot_count < h.latest.boot_count)
    judge(out, STW_EAR_WARNING, "boot count went back (%llu < %llu)", (unsigned long long)out->ev.boot_count,
          (unsigned long long)h.latest.boot_count);

  /* Remediation needs an authorised update since the failure: another image. */
  out->may_remediate = out->verdict == STW_EAR_AFFIRMING && image != NULL && h.has_failed &&
                       memcmp(h.failed_image, image, 32) != 0;
  rc = STW_OK;
out:
  stw_device_clear(&d);
  return rc;
}

/* ---- recording ----------------------------------------------------------------------- */

static const uint8_t *image_of(const stw_appraisal_t *a)
{
  for (size_t i = 0; i < a->ev.n_meas; i++)
    if (strcmp(a->ev.meas[i].name, "image") == 0)
      return a->ev.meas[i].digest;
  return NULL;
}

/* Open a transaction, or join the caller's (the committer's batch): *own
 * says which. */
static stw_status_t enter(stw_store_t *st, bool *own)
{
  stw_status_t rc = stw_store_begin(st);
  *own = rc == STW_OK;
  return rc == STW_ERR_STATE ? STW_OK : rc;
}

static stw_status_t leave(stw_store_t *st, bool own, stw_status_t rc)
{
  if (!own)
    return rc;
  if (rc == STW_OK)
    return stw_store_commit(st);
  stw_store_rollback(st);
  return rc;
}

static stw_status_t quarantine_in_tx(stw_store_t *st, const char *device_id, const char *actor, const char *why,
                                     int64_t now, uint64_t *revoked)
{
  stw_state_t next;
  stw_status_t rc = stw_store_transition(st, device_id, STW_EV_QUARANTINE, actor, why, &next);
  if (rc == STW_OK)
    rc = stw_store_token_revoke_device(st, device_id, now, "quarantined", revoked);
  if (rc == STW_OK) {
    char detail[STW_REASON_MAX];
    snprintf(detail, sizeof(detail), "%s; %llu tokens revoked, directory entries hidden", why,
             (unsigned long long)*revoked);
    rc = stw_store_audit_event(st, actor, "quarantine", device_id, "ok", detail);
  }
  return rc;
}

static stw_status_t record_in_tx(stw_store_t *st, stw_appraisal_t *a, int64_t now)
{
  char actor[STW_TEXT_MAX];
  snprintf(actor, sizeof(actor), "device:%s", a->device_id);
  stw_status_t rc = stw_store_nonce_take(st, a->device_id, a->ev.nonce, a->ev.nonce_len, now);
  if (rc == STW_ERR_REPLAY || rc == STW_ERR_EXPIRED) {
    bool expired = rc == STW_ERR_EXPIRED;
    refuse(a, 403, expired ? "nonce-expired" : "nonce-replay",
           expired ? "nonce expired: ask for a new one" : "nonce unknown, used, or issued to another device");
    /* The expired nonce is spent all the same: that much is kept. */
    return stw_store_audit_event(st, actor, "refuse.attest", a->device_id, a->refusal, a->diag);
  }
  if (rc != STW_OK)
    return rc;

  stw_device_t d;
  if ((rc = stw_store_device_get(st, a->device_id, &d)) != STW_OK)
    return rc;
  stw_state_t state = d.state;
  stw_device_clear(&d);

  stw_attest_row_t row;
  memset(&row, 0, sizeof(row));
  snprintf(row.device_id, sizeof(row.device_id), "%s", a->device_id);
  row.at = now;
  row.verdict = a->verdict;
  snprintf(row.trigger, sizeof(row.trigger), "%s", a->trigger[0] ? a->trigger : "device");
  snprintf(row.reasons, sizeof(row.reasons), "%s", a->reasons);
  const uint8_t *image = image_of(a);
  if (image != NULL)
    memcpy(row.image_digest, image, 32);
  row.boot_count = a->ev.boot_count;
  if ((rc = stw_store_attest_put(st, &row)) != STW_OK)
    return rc;
  a->result_id = row.id;

  if (a->record_config) {
    stw_attr_row_t attr;
    memset(&attr, 0, sizeof(attr));
    snprintf(attr.name, sizeof(attr.name), "%s", STW_ATTEST_CONFIG_ATTR);
    stw_hex_encode(a->config_digest, 32, attr.value);
    snprintf(attr.authority, sizeof(attr.authority), "attestation");
    if ((rc = stw_store_attr_set(st, a->device_id, &attr)) != STW_OK)
      return rc;
  }
  char detail[STW_REASON_MAX];
  snprintf(detail, sizeof(detail), "trigger=%s seq=%llu boot=%llu%s%.180s", row.trigger,
           (unsigned long long)a->ev.fw_sequence, (unsigned long long)a->ev.boot_count, a->reasons[0] ? " " : "",
           a->reasons);
  if ((rc = stw_store_audit_event(st, actor, "attest", a->device_id, stw_ear_name(a->verdict), detail)) != STW_OK)
    return rc;

  if (a->verdict == STW_EAR_CONTRAINDICATED && state != STW_STATE_QUARANTINED) {
    rc = quarantine_in_tx(st, a->device_id, "daemon", "attestation contraindicated", now, &a->tokens_revoked);
    if (rc != STW_OK && rc != STW_ERR_STATE)
      return rc;
    a->quarantined = rc == STW_OK;
  } else if (a->may_remediate && state == STW_STATE_QUARANTINED) {
    stw_state_t next;
    if ((rc = stw_store_transition(st, a->device_id, STW_EV_REMEDIATE, "daemon",
                                   "authorised update, then an affirming attestation", &next)) != STW_OK)
      return rc;
    if ((rc = stw_store_audit_event(st, "daemon", "remediate", a->device_id, "ok",
                                    "directory entries visible and tokens issued again")) != STW_OK)
      return rc;
    a->remediated = true;
  }
  return STW_OK;
}

stw_status_t stw_attest_record(stw_store_t *st, stw_appraisal_t *a, int64_t now)
{
  if (a->coap_code != 0) {
    /* Refused before the nonce: audit only. */
    char actor[STW_TEXT_MAX];
    snprintf(actor, sizeof(actor), "device:%s", a->device_id);
    return stw_store_audit_event(st, actor, "refuse.attest", a->device_id, a->refusal, a->diag);
  }
  bool own;
  stw_status_t rc = enter(st, &own);
  if (rc != STW_OK)
    return rc;
  return leave(st, own, record_in_tx(st, a, now));
}

stw_status_t stw_attest_quarantine(stw_store_t *st, const char *device_id, const char *actor, const char *reason,
                                   int64_t now, uint64_t *tokens_revoked)
{
  uint64_t revoked = 0;
  bool own;
  stw_status_t rc = enter(st, &own);
  if (rc != STW_OK)
    return rc;
  rc = leave(st, own, quarantine_in_tx(st, device_id, actor, reason, now, &revoked));
  if (rc == STW_OK && tokens_revoked)
    *tokens_revoked = revoked;
  return rc;
}

stw_status_t stw_attest_release(stw_store_t *st, const char *device_id, const char *actor, const char *reason)
{
  bool own;
  stw_status_t rc = enter(st, &own);
  if (rc != STW_OK)
    return rc;
  stw_state_t next;
  if ((rc = stw_store_transition(st, device_id, STW_EV_REMEDIATE, actor, reason, &next)) == STW_OK)
    rc = stw_store_audit_event(st, actor, "remediate", device_id, "ok", reason);
  return leave(st, own, rc);
}

stw_status_t stw_attest_request(stw_store_t *st, const char *device_id, const char *actor)
{
  stw_device_t d;
  stw_status_t rc = stw_store_device_get(st, device_id, &d);
  if (rc != STW_OK)
    return rc;
  bool living = d.state != STW_STATE_MANUFACTURED && d.state != STW_STATE_DECOMMISSIONED;
  stw_device_clear(&d);
  if (!living)
    return STW_ERR_STATE;
  return stw_store_audit_event(st, actor, "attest.request", device_id, "ok", "challenge when it next listens");
}

/* ---- the scheduler ---------------------------------------------------------------------- */

void stw_attest_sched_init(stw_attest_sched_t *s, int64_t interval, int64_t nonce_lifetime)
{
  memset(s, 0, sizeof(*s));
  s->interval = interval;
  s->nonce_lifetime = nonce_lifetime > 0 ? nonce_lifetime : STW_ATTEST_NONCE_LIFETIME_DEFAULT;
}

void stw_attest_sched_free(stw_attest_sched_t *s)
{
  if (s->slots != NULL)
    stw_wipe(s->slots, s->cap * sizeof(*s->slots));
  free(s->slots);
  memset(s, 0, sizeof(*s));
}

stw_attest_slot_t *stw_attest_sched_find(stw_attest_sched_t *s, const char *device_id)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->slots[i].device_id, device_id) == 0)
      return &s->slots[i];
  return NULL;
}

stw_attest_slot_t *stw_attest_sched_slot(stw_attest_sched_t *s, const char *device_id)
{
  stw_attest_slot_t *slot = stw_attest_sched_find(s, device_id);
  if (slot != NULL)
    return slot;
  if (strlen(device_id) >= STW_ID_HEX || s->n >= STW_ATTEST_DEVICES_MAX)
    return NULL;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    stw_attest_slot_t *more = realloc(s->slots, cap * sizeof(*more));
    if (more == NULL)
      return NULL;
    s->slots = more;
    s->cap = cap;
  }
  slot = &s->slots[s->n++];
  memset(slot, 0, sizeof(*slot));
  snprintf(slot->device_id, sizeof(slot->device_id), "%s", device_id);
  return slot;
}

stw_status_t stw_attest_sched_challenge(stw_attest_sched_t *s, const char *device_id, const char *trigger, int64_t now,
                                        stw_attest_slot_t **out)
{
  stw_attest_slot_t *slot = stw_attest_sched_slot(s, device_id);
  if (slot == NULL)
    return STW_ERR_BUSY;
  stw_status_t rc = stw_random(slot->nonce, sizeof(slot->nonce));
  if (rc != STW_OK)
    return rc;
  slot->challenged = true;
  slot->ready = false;
  slot->expires_at = now + s->nonce_lifetime;
  snprintf(slot->trigger, sizeof(slot->trigger), "%s", trigger);
  *out = slot;
  return STW_OK;
}

bool stw_attest_sched_ready(stw_attest_sched_t *s, const char *device_id, const uint8_t nonce[STW_ATTEST_NONCE_LEN])
{
  stw_attest_slot_t *slot = stw_attest_sched_find(s, device_id);
  if (slot == NULL || !slot->challenged || memcmp(slot->nonce, nonce, STW_ATTEST_NONCE_LEN) != 0)
    return false;
  slot->ready = true;
  return true;
}

const stw_attest_slot_t *stw_attest_sched_pending(stw_attest_sched_t *s, const char *device_id, int64_t now)
{
  stw_attest_slot_t *slot = stw_attest_sched_find(s, device_id);
  if (slot == NULL || !slot->challenged)
    return NULL;
  if (slot->expires_at <= now) {
    /* Unanswered: a device that no longer listens is not asked again until
     * it observes /att anew. */
    slot->challenged = slot->ready = false;
    if (strcmp(slot->trigger, "periodic") == 0)
      slot->watching = false;
    return NULL;
  }
  return slot->ready ? slot : NULL;
}

const char *stw_attest_sched_trigger(stw_attest_sched_t *s, const char *device_id, const uint8_t *nonce, size_t len)
{
  stw_attest_slot_t *slot = stw_attest_sched_find(s, device_id);
  if (slot == NULL || !slot->challenged || len != STW_ATTEST_NONCE_LEN || memcmp(slot->nonce, nonce, len) != 0)
    return "";
  return slot->trigger;
}

void stw_attest_sched_done(stw_attest_sched_t *s, const char *device_id, const uint8_t *nonce, size_t len,
                           int64_t now)
{
  stw_attest_slot_t *slot = stw_attest_sched_find(s, device_id);
  if (slot == NULL)
    return;
  if (slot->challenged && len == STW_ATTEST_NONCE_LEN && memcmp(slot->nonce, nonce, len) == 0)
    slot->challenged = slot->ready = false;
  slot->last_result = now;
}

size_t stw_attest_sched_due(stw_attest_sched_t *s, int64_t now, const char **ids, size_t max)
{
  size_t n = 0;
  if (s->interval <= 0)
    return 0;
  for (size_t i = 0; i < s->n && n < max; i++) {
    stw_attest_slot_t *slot = &s->slots[i];
    if (slot->challenged && slot->expires_at <= now)
      (void)stw_attest_sched_pending(s, slot->device_id, now);  /* drop the expired one */
    if (slot->watching && !slot->challenged && now - slot->last_result >= s->interval)
      ids[n++] = slot->device_id;
  }
  return n;
}

/* ---- the challenge answer ------------------------------------------------------------ */

/* key: value into map; our references to value are dropped either way. */
static bool map_put(cbor_item_t *map, uint8_t key, cbor_item_t *value)
{
  return stw__cbor_map_put(map, cbor_build_uint8(key), value);
}

/* The shortest encoding (libcbor keeps the width it was built with). */
static cbor_item_t *build_uint(uint64_t v)
{
  return v <= UINT8_MAX ? cbor_build_uint8((uint8_t)v) : v <= UINT16_MAX ? cbor_build_uint16((uint16_t)v)
         : v <= UINT32_MAX ? cbor_build_uint32((uint32_t)v) : cbor_build_uint64(v);
}

stw_status_t stw_attest_challenge_encode(const stw_attest_slot_t *slot, int64_t now, stw_buf_t *out)
{
  stw_buf_init(out, 128);
  cbor_item_t *map = cbor_new_definite_map(slot ? 2 : 0);
  if (map == NULL)
    return STW_ERR_NOMEM;
  bool ok = true;
  if (slot != NULL) {
    int64_t left = slot->expires_at > now ? slot->expires_at - now : 0;
    ok = map_put(map, 1, cbor_build_bytestring(slot->nonce, sizeof(slot->nonce))) &&
         map_put(map, 2, build_uint((uint64_t)left));
  }
  unsigned char *bytes = NULL;
  size_t cap = 0, n = ok ? cbor_serialize_alloc(map, &bytes, &cap) : 0;
  cbor_decref(&map);
  stw_status_t rc = n > 0 ? stw_buf_append(out, bytes, n) : STW_ERR_NOMEM;
  free(bytes);
  return rc;
}
