#include "enroll.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psk_answer.h"

#define COAP_CODE(c, d) ((unsigned)((c) << 5 | (d)))

void stw_enroll_outcome_init(stw_enroll_outcome_t *o, stw_enroll_op_t op)
{
  memset(o, 0, sizeof(*o));
  o->op = op;
  o->status = STW_ERR_INVALID;
}

void stw_enroll_outcome_clear(stw_enroll_outcome_t *o)
{
  stw_device_clear(&o->device);
  stw_wipe(o->payload, o->payload_len);
  free(o->payload);
  o->payload = NULL;
  o->payload_len = 0;
  stw_wipe(&o->psk, sizeof(o->psk));
}

__attribute__((format(printf, 4, 5)))
static stw_status_t refuse(stw_enroll_outcome_t *o, stw_status_t st, const char *code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->diag, sizeof(o->diag), fmt, ap);
  va_end(ap);
  o->status = st;
  o->refusal = code;
  return st;
}

static stw_status_t take_payload(stw_enroll_outcome_t *o, const uint8_t *data, size_t len)
{
  stw_wipe(o->payload, o->payload_len);
  free(o->payload);
  o->payload = malloc(len ? len : 1);
  if (o->payload == NULL)
    return STW_ERR_NOMEM;
  memcpy(o->payload, data, len);
  o->payload_len = len;
  return STW_OK;
}

/* ---- preparsed CAs --------------------------------------------------------------- */

typedef struct {
  uint8_t fingerprint[32];
  char name[STW_TEXT_MAX];
  stw_ca_t *ca;             /* NULL: this certificate cannot act as a CA, never matches */
} mfg_ca_t;

struct stw_enroll_cache {
  stw_ca_t *domain_ca;      /* with the domain CA key, for issuing */
  mfg_ca_t *mfg;
  size_t mfg_count;
};

stw_status_t stw_enroll_cache_new(const stw_domain_t *domain, stw_enroll_cache_t **out)
{
  *out = NULL;
  stw_enroll_cache_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = stw_ca_new(domain->ca_der.data, domain->ca_der.len, domain->ca_key, &c->domain_ca);
  if (st != STW_OK) {
    free(c);
    return st;
  }
  *out = c;
  return STW_OK;
}

static void mfg_list_free(mfg_ca_t *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    stw_ca_free(list[i].ca);
  free(list);
}

void stw_enroll_cache_free(stw_enroll_cache_t *cache)
{
  if (cache == NULL)
    return;
  stw_ca_free(cache->domain_ca);
  mfg_list_free(cache->mfg, cache->mfg_count);
  free(cache);
}

/* Walk 1 compares the store's trust list with the cache by fingerprint (no
 * parsing); only when they differ does walk 2 rebuild, reusing what it can. */
typedef struct {
  stw_enroll_cache_t *cache;
  size_t seen;
  bool differs;
  mfg_ca_t *fresh;
  size_t fresh_count, fresh_cap;
} trust_walk_t;

static stw_status_t compare_trust(const stw_trust_t *t, void *arg)
{
  trust_walk_t *w = arg;
  if (w->seen >= w->cache->mfg_count ||
      memcmp(w->cache->mfg[w->seen].fingerprint, t->fingerprint, 32) != 0 ||
      strcmp(w->cache->mfg[w->seen].name, t->name) != 0) {
    w->differs = true;
    return STW_ERR_EXISTS; /* stop the walk */
  }
  w->seen++;
  return STW_OK;
}

static stw_status_t rebuild_trust(const stw_trust_t *t, void *arg)
{
  trust_walk_t *w = arg;
  if (w->fresh_count == w->fresh_cap) {
    size_t cap = w->fresh_cap ? 2 * w->fresh_cap : 8;
    mfg_ca_t *bigger = realloc(w->fresh, cap * sizeof(*bigger));
    if (bigger == NULL)
      return STW_ERR_NOMEM;
    w->fresh = bigger;
    w->fresh_cap = cap;
  }
  mfg_ca_t *e = &w->fresh[w->fresh_count];
  memset(e, 0, sizeof(*e));
  memcpy(e->fingerprint, t->fingerprint, 32);
  snprintf(e->name, sizeof(e->name), "%s", t->name);
  for (size_t i = 0; i < w->cache->mfg_count; i++) {
    mfg_ca_t *old = &w->cache->mfg[i];
    if (old->ca != NULL && memcmp(old->fingerprint, t->fingerprint, 32) == 0) {
      e->ca = old->ca;
      old->ca = NULL;
      break;
    }
  }
  /* A certificate that cannot act as a CA stays listed (so the walks compare
   * equal) with ca NULL, and never matches. */
  if (e->ca == NULL && stw_ca_new(t->cert_der, t->cert_len, NULL, &e->ca) == STW_ERR_NOMEM)
    return STW_ERR_NOMEM;
  w->fresh_count++;
  return STW_OK;
}

static stw_status_t refresh_trust(stw_enroll_cache_t *cache, stw_store_t *st)
{
  trust_walk_t w;
  memset(&w, 0, sizeof(w));
  w.cache = cache;
  stw_status_t rc = stw_store_trust_list(st, compare_trust, &w);
  if (rc != STW_OK && rc != STW_ERR_EXISTS)
    return rc;
  if (!w.differs && w.seen == cache->mfg_count)
    return STW_OK;
  rc = stw_store_trust_list(st, rebuild_trust, &w);
  if (rc != STW_OK) {
    mfg_list_free(w.fresh, w.fresh_count);
    return rc;
  }
  mfg_list_free(cache->mfg, cache->mfg_count);
  cache->mfg = w.fresh;
  cache->mfg_count = w.fresh_count;
  return STW_OK;
}

/* ---- the manufacturer that issued an IDevID ------------------------------ */

typedef struct {
  bool found;
  bool expired;
  char name[STW_TEXT_MAX];
} mfg_search_t;

static stw_status_t find_manufacturer(stw_enroll_cache_t *cache, stw_store_t *st, const stw_cert_t *idevid,
                                      mfg_search_t *s)
{
  memset(s, 0, sizeof(*s));
  stw_status_t rc = refresh_trust(cache, st);
  if (rc != STW_OK)
    return rc;
  int64_t now = stw_now();
  for (size_t i = 0; i < cache->mfg_count; i++) {
    const mfg_ca_t *e = &cache->mfg[i];
    if (e->ca == NULL)
      continue;
    rc = stw_ca_verify_cert(e->ca, idevid, now);
    if (rc == STW_ERR_EXPIRED)
      s->expired = true;
    if (rc != STW_OK)
      continue;
    s->found = true;
    snprintf(s->name, sizeof(s->name), "%s", e->name);
    return STW_OK;
  }
  return STW_OK;
}

/* ---- enrollment policy ----------------------------------------------------- */

typedef struct {
  const char *device_id;
  const char *model;
  const char *manufacturer;
  bool allowed;
  char name_prefix[STW_TEXT_MAX];
} rule_search_t;

static stw_status_t match_rule(const stw_rule_t *r, void *arg)
{
  rule_search_t *s = arg;
  bool hit;
  if (r->kind == STW_RULE_DEVICE)
    hit = strcmp(r->device_id, s->device_id) == 0;
  else
    hit = (r->model[0] == '\0' || strcmp(r->model, s->model) == 0) &&
          (r->manufacturer[0] == '\0' || strcmp(r->manufacturer, s->manufacturer) == 0);
  if (!hit)
    return STW_OK;
  /* A rule for this very device wins over a group rule's naming. */
  if (!s->allowed || r->kind == STW_RULE_DEVICE)
    snprintf(s->name_prefix, sizeof(s->name_prefix), "%s", r->name_prefix);
  s->allowed = true;
  return STW_OK;
}

static stw_status_t policy_allows(stw_store_t *st, rule_search_t *s)
{
  s->allowed = false;
  s->name_prefix[0] = '\0';
  return stw_store_rule_list(st, match_rule, s);
}

static void assign_name(char *out, size_t len, const char *prefix, const char *model, const char *id)
{
  if (prefix[0] != '\0')
    snprintf(out, len, "%s%.8s", prefix, id);
  else
    snprintf(out, len, "%.40s-%.8s", model[0] ? model : "device", id);
}

/* ---- the voucher the owner imported for this device ----------------------- */

/* The voucher the owner imported must be in force, for this device and this
 * domain: /sen and the operational PSK request both ask. */
static stw_status_t check_voucher(const stw_enroll_ctx_t *ctx, const char *device_id, stw_enroll_outcome_t *o,
                                  stw_voucher_t *v)
{
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  stw_status_t st = stw_store_voucher_get(ctx->store, device_id, &raw, &raw_len);
  if (st == STW_ERR_NOT_FOUND)
    return refuse(o, STW_ERR_FORBIDDEN, "no-voucher", "no ownership voucher for this device in this domain");
  if (st != STW_OK)
    return refuse(o, st, "store", "store unavailable");
  /* The signature was verified when the owner imported the voucher (only
   * vouchers from trusted manufacturers get into the store), so the hot path
   * parses it again but spends no second verification on it. */
  st = stw_voucher_parse(raw, raw_len, v);
  free(raw);
  if (st != STW_OK)
    return refuse(o, STW_ERR_FORBIDDEN, "voucher-invalid", "stored ownership voucher does not parse");
  if (v->expires_on != 0 && v->expires_on < stw_now())
    return refuse(o, STW_ERR_FORBIDDEN, "voucher-expired", "ownership voucher expired");
  uint8_t id[STW_DEVICE_ID_LEN];
  if (stw_hex_decode(device_id, strlen(device_id), id, sizeof(id)) != STW_OK ||
      !stw_ct_equal(id, v->device_id, sizeof(id)))
    return refuse(o, STW_ERR_FORBIDDEN, "voucher-other-device", "ownership voucher names another device");
  if (v->owner_spki_len != ctx->domain->ca.spki_len ||
      memcmp(v->owner_spki, ctx->domain->ca.spki, v->owner_spki_len) != 0)
    return refuse(o, STW_ERR_FORBIDDEN, "voucher-other-owner", "ownership voucher names another owner");
  return STW_OK;
}

/* ---- decisions --------------------------------------------------------------- */

static stw_status_t issue_ldevid(const stw_enroll_ctx_t *ctx, const stw_enroll_cache_t *cache,
                                 const stw_csr_info_t *csr, stw_enroll_outcome_t *o)
{
  char san[2 * STW_NAME_MAX];
  snprintf(san, sizeof(san), "urn:steward:dev:%s", o->device_id);
  int64_t now = stw_now();
  stw_cert_template_t t = {
    .common_name = o->device.name,
    .organization = ctx->domain->name,
    .unit = o->device.model,
    .serial_number = o->device_id,
    .san_uri = san,
    .not_before = now - 60,
    .not_after = now + ctx->ldevid_lifetime,
    .client_auth = true,
  };
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  stw_status_t st = stw_ca_issue(cache->domain_ca, csr->spki, csr->spki_len, &t, &der, o->serial_hex);
  if (st != STW_OK) {
    stw_buf_free(&der, false);
    return refuse(o, st, "issue-failed", "could not issue the certificate");
  }
  o->payload = der.data;
  o->payload_len = der.len;
  o->device.ldevid_not_after = t.not_after;
  snprintf(o->device.ldevid_serial, sizeof(o->device.ldevid_serial), "%s", o->serial_hex);
  return STW_OK;
}

/* The CSR must be well formed, self-signed, for a fresh key, and name this device. */
static stw_status_t check_csr(const uint8_t *body, size_t len, const uint8_t *old_spki, size_t old_len,
                              stw_enroll_outcome_t *o, stw_csr_info_t *csr)
{
  if (len > STW_CSR_MAX)
    return refuse(o, STW_ERR_TOO_LARGE, "csr-too-large", "CSR over %d bytes", STW_CSR_MAX);
  if (len == 0)
    return refuse(o, STW_ERR_MALFORMED, "csr-malformed", "empty CSR");
  stw_status_t st = stw_csr_parse_verify(body, len, csr);
  if (st == STW_ERR_BAD_SIGNATURE)
    return refuse(o, STW_ERR_MALFORMED, "csr-bad-signature", "CSR signature does not verify");
  if (st == STW_ERR_UNSUPPORTED)
    return refuse(o, STW_ERR_MALFORMED, "csr-unsupported", "CSR key must be P-256");
  if (st != STW_OK)
    return refuse(o, STW_ERR_MALFORMED, "csr-malformed", "CSR does not parse");
  if (strcmp(csr->common_name, o->device_id) != 0)
    return refuse(o, STW_ERR_FORBIDDEN, "csr-other-identity",
                  "CSR subject CN must be this device's id %s", o->device_id);
  if (old_spki != NULL && csr->spki_len == old_len && memcmp(csr->spki, old_spki, old_len) == 0)
    return refuse(o, STW_ERR_FORBIDDEN, "csr-reused-key", "the operational key must be a fresh key, not the IDevID key");
  return stw_sha256(body, len, o->device.csr_digest);
}

static stw_status_t decide_sen(const stw_enroll_ctx_t *ctx, stw_enroll_cache_t *cache, const stw_peer_t *peer,
                               const stw_cert_t *cert, const uint8_t *body, size_t body_len,
                               stw_enroll_outcome_t *o)
{
  mfg_search_t mfg;
  stw_voucher_t voucher;
  stw_csr_info_t csr;
  stw_device_t existing;
  memset(&existing, 0, sizeof(existing));

  if (peer->kind != STW_PEER_CERT)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "no-idevid", "enroll with the IDevID certificate over DTLS");
  if (cert == NULL)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "bad-idevid", "client certificate does not parse");
  const stw_cert_info_t *idevid = stw_cert_info(cert);
  stw_device_id_hex(idevid->device_id, o->device_id);

  if (stw_ca_verify_cert(cache->domain_ca, cert, stw_now()) == STW_OK)
    return refuse(o, STW_ERR_FORBIDDEN, "already-enrolled", "this is an LDevID: renew with /sren");
  stw_status_t st = find_manufacturer(cache, ctx->store, cert, &mfg);
  if (st != STW_OK)
    return refuse(o, st, "store", "store unavailable");
  if (!mfg.found && mfg.expired)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "idevid-expired", "IDevID or manufacturer CA outside its validity");
  if (!mfg.found)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "untrusted-manufacturer",
                  "IDevID is not issued by a manufacturer CA this domain trusts");

  snprintf(o->device.id, sizeof(o->device.id), "%s", o->device_id);
  snprintf(o->device.model, sizeof(o->device.model), "%s", idevid->unit);
  snprintf(o->device.manufacturer, sizeof(o->device.manufacturer), "%s",
           idevid->organization[0] ? idevid->organization : mfg.name);
  o->device.cred_kind = STW_CRED_X509;

  st = stw_store_device_get(ctx->store, o->device_id, &existing);
  if (st == STW_OK && existing.state == STW_STATE_DECOMMISSIONED) {
    stw_device_clear(&existing);
    return refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned; a new owner needs a new voucher");
  }
  if (st != STW_OK && st != STW_ERR_NOT_FOUND)
    return refuse(o, st, "store", "store unavailable");

  rule_search_t rule = { .device_id = o->device_id, .model = o->device.model,
                         .manufacturer = o->device.manufacturer };
  if ((st = policy_allows(ctx->store, &rule)) != STW_OK) {
    stw_device_clear(&existing);
    return refuse(o, st, "store", "store unavailable");
  }
  if (!rule.allowed) {
    stw_device_clear(&existing);
    return refuse(o, STW_ERR_FORBIDDEN, "not-allowed", "enrollment policy does not allow device %s (model %s, manufacturer %s)",
                  o->device_id, o->device.model, o->device.manufacturer);
  }
  if (check_voucher(ctx, o->device_id, o, &voucher) != STW_OK) {
    stw_device_clear(&existing);
    return o->status;
  }
  if (check_csr(body, body_len, idevid->spki, idevid->spki_len, o, &csr) != STW_OK) {
    stw_device_clear(&existing);
    return o->status;
  }
  if (st == STW_OK && existing.state != STW_STATE_MANUFACTURED) {
    /* Enrolled before: an identical retry gets the same certificate back. */
    bool same = memcmp(existing.csr_digest, o->device.csr_digest, 32) == 0 && existing.ldevid != NULL;
    if (same) {
      o->retry = true;
      st = take_payload(o, existing.ldevid, existing.ldevid_len);
      snprintf(o->serial_hex, sizeof(o->serial_hex), "%s", existing.ldevid_serial);
      stw_device_clear(&existing);
      return o->status = st;
    }
    stw_device_clear(&existing);
    return refuse(o, STW_ERR_CONFLICT, "already-enrolled",
                  "device already enrolled with another CSR; renew with /sren");
  }
  stw_device_clear(&existing);
  assign_name(o->device.name, sizeof(o->device.name), rule.name_prefix, o->device.model, o->device_id);
  if (issue_ldevid(ctx, cache, &csr, o) != STW_OK)
    return o->status;
  return o->status = STW_OK;
}

/* A renewal whose answer was lost: the device comes back with the LDevID it
 * still holds (now superseded) and the same CSR; it gets the certificate that
 * CSR already produced, or it would be locked out. */
static bool renewal_retry(const stw_device_t *d, const uint8_t *body, size_t body_len)
{
  uint8_t digest[32];
  if (d->ldevid == NULL || body_len == 0 || body_len > STW_CSR_MAX ||
      stw_sha256(body, body_len, digest) != STW_OK)
    return false;
  return memcmp(digest, d->csr_digest, sizeof(digest)) == 0;
}

static stw_status_t decide_sren(const stw_enroll_ctx_t *ctx, stw_enroll_cache_t *cache, const stw_peer_t *peer,
                                const stw_cert_t *cert, const uint8_t *body, size_t body_len,
                                stw_enroll_outcome_t *o)
{
  stw_csr_info_t csr;
  if (peer->kind != STW_PEER_CERT)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "no-ldevid", "renew with the LDevID certificate over DTLS");
  if (cert == NULL)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "bad-ldevid", "client certificate does not parse");
  const stw_cert_info_t *ldevid = stw_cert_info(cert);
  /* The LDevID's key is not the IDevID's, so the device id is in its subject. */
  snprintf(o->device_id, sizeof(o->device_id), "%.32s", ldevid->serial_number);
  stw_status_t st = stw_ca_verify_cert(cache->domain_ca, cert, stw_now());
  if (st == STW_ERR_EXPIRED)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "ldevid-expired",
                  "LDevID expired: the owner must decommission the device and import a new voucher");
  if (st != STW_OK)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "not-ldevid", "client certificate is not an LDevID of this domain");
  stw_device_t d;
  st = stw_store_device_get(ctx->store, o->device_id, &d);
  if (st == STW_ERR_NOT_FOUND)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "unknown-device", "no such device");
  if (st != STW_OK)
    return refuse(o, st, "store", "store unavailable");
  bool current = strcmp(d.ldevid_serial, ldevid->serial_hex) == 0;
  stw_state_t state = d.state, next;
  stw_device_clear(&o->device);
  o->device = d; /* takes ownership */
  if (state == STW_STATE_DECOMMISSIONED)
    return refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned");
  if (!current && renewal_retry(&o->device, body, body_len)) {
    o->retry = true;
    snprintf(o->serial_hex, sizeof(o->serial_hex), "%s", o->device.ldevid_serial);
    return o->status = take_payload(o, o->device.ldevid, o->device.ldevid_len);
  }
  if (!current)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "ldevid-superseded", "this LDevID was replaced by a newer one");
  snprintf(o->presented_serial, sizeof(o->presented_serial), "%s", ldevid->serial_hex);
  if (stw_lifecycle_next(state, STW_EV_REENROLL, &next) != STW_OK)
    return refuse(o, STW_ERR_STATE, "state", "renewal not allowed in state %s", stw_state_name(state));
  if (check_csr(body, body_len, NULL, 0, o, &csr) != STW_OK)
    return o->status;
  free(o->device.ldevid);
  o->device.ldevid = NULL;
  o->device.ldevid_len = 0;
  if (issue_ldevid(ctx, cache, &csr, o) != STW_OK)
    return o->status;
  return o->status = STW_OK;
}

static stw_status_t decide_psk(const stw_enroll_ctx_t *ctx, const stw_peer_t *peer, stw_enroll_outcome_t *o)
{
  stw_psk_t psk;
  if (peer->kind != STW_PEER_PSK)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "no-psk", "request an operational PSK over DTLS-PSK");
  stw_status_t st = stw_store_psk_get(ctx->store, peer->psk_identity, &psk);
  if (st != STW_OK)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "unknown-psk", "unknown PSK identity");
  snprintf(o->device_id, sizeof(o->device_id), "%s", psk.device_id);
  stw_wipe(psk.key, sizeof(psk.key));
  if (psk.kind != STW_PSK_BOOTSTRAP)
    return refuse(o, STW_ERR_FORBIDDEN, "already-enrolled", "this is already an operational PSK");
  if (!psk.active)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "psk-retired", "bootstrap PSK already used; it no longer works");
  snprintf(o->bootstrap_identity, sizeof(o->bootstrap_identity), "%s", psk.identity);

  stw_device_t d;
  if ((st = stw_store_device_get(ctx->store, o->device_id, &d)) != STW_OK)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "unknown-device", "no device for this PSK");
  stw_device_clear(&o->device);
  o->device = d;
  if (d.state == STW_STATE_DECOMMISSIONED)
    return refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned");
  rule_search_t rule = { .device_id = d.id, .model = d.model, .manufacturer = d.manufacturer };
  if ((st = policy_allows(ctx->store, &rule)) != STW_OK)
    return refuse(o, st, "store", "store unavailable");
  if (!rule.allowed)
    return refuse(o, STW_ERR_FORBIDDEN, "not-allowed", "enrollment policy does not allow device %s (model %s, manufacturer %s)",
                  d.id, d.model, d.manufacturer);
  /* The voucher gave this domain the PSK; it must still be in force. */
  stw_voucher_t v;
  if (check_voucher(ctx, d.id, o, &v) != STW_OK)
    return o->status;

  uint8_t answer[STW_PSK_ANSWER_MAX];
  size_t answer_len = 0;
  if (d.state != STW_STATE_MANUFACTURED && d.psk_identity[0] != '\0') {
    /* Granted before but never used: the same operational PSK again, so a
     * device that lost the answer is not locked out. */
    stw_psk_t op;
    if ((st = stw_store_psk_get(ctx->store, d.psk_identity, &op)) != STW_OK)
      return refuse(o, st, "store", "store unavailable");
    o->retry = true;
    o->psk = op;
    stw_wipe(&op, sizeof(op));
  } else {
    uint8_t rnd[4];
    char tag[9];
    if ((st = stw_random(rnd, sizeof(rnd))) != STW_OK || (st = stw_random(o->psk.key, STW_PSK_KEY_LEN)) != STW_OK)
      return refuse(o, st, "crypto", "no randomness");
    stw_hex_encode(rnd, sizeof(rnd), tag);
    snprintf(o->psk.identity, sizeof(o->psk.identity), "op-%.16s-%s", d.id, tag);
    snprintf(o->psk.device_id, sizeof(o->psk.device_id), "%s", d.id);
    o->psk.kind = STW_PSK_OPERATIONAL;
    o->psk.active = true;
    o->psk.key_len = STW_PSK_KEY_LEN;
    assign_name(o->device.name, sizeof(o->device.name), rule.name_prefix, d.model, d.id);
    snprintf(o->device.psk_identity, sizeof(o->device.psk_identity), "%s", o->psk.identity);
  }
  st = stw_psk_answer_encode(o->psk.identity, o->psk.key, o->device.name, answer, sizeof(answer), &answer_len);
  if (st == STW_OK)
    st = take_payload(o, answer, answer_len);
  stw_wipe(answer, sizeof(answer));
  return o->status = st;
}

/* A decommissioned device's voucher was erased with it: its voucher request
 * says why, as /sen would, rather than a bare 4.04. */
static bool device_retired(stw_store_t *st, const char *device_id)
{
  return stw_store_device_in_state(st, device_id, STW_STATE_DECOMMISSIONED);
}

static stw_status_t decide_voucher(const stw_enroll_ctx_t *ctx, stw_enroll_cache_t *cache, const stw_peer_t *peer,
                                   const stw_cert_t *cert, stw_enroll_outcome_t *o)
{
  if (peer->kind != STW_PEER_CERT)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "no-idevid", "ask for the voucher with the IDevID over DTLS");
  if (cert == NULL)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "bad-idevid", "client certificate does not parse");
  stw_device_id_hex(stw_cert_info(cert)->device_id, o->device_id);
  /* The first thing a device asks for: say here, not later, when its maker
   * is not one this domain trusts. */
  mfg_search_t mfg;
  stw_status_t st = find_manufacturer(cache, ctx->store, cert, &mfg);
  if (st != STW_OK)
    return refuse(o, st, "store", "store unavailable");
  if (!mfg.found && mfg.expired)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "idevid-expired", "IDevID or manufacturer CA outside its validity");
  if (!mfg.found)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "untrusted-manufacturer",
                  "IDevID is not issued by a manufacturer CA this domain trusts");
  uint8_t *raw = NULL;
  size_t len = 0;
  st = stw_store_voucher_get(ctx->store, o->device_id, &raw, &len);
  if (st == STW_ERR_NOT_FOUND && device_retired(ctx->store, o->device_id))
    return refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned; a new owner needs a new voucher");
  if (st == STW_ERR_NOT_FOUND)
    return refuse(o, STW_ERR_NOT_FOUND, "no-voucher", "no ownership voucher for this device in this domain");
  if (st != STW_OK)
    return refuse(o, st, "store", "store unavailable");
  o->payload = raw;
  o->payload_len = len;
  o->retry = true; /* nothing to write */
  return o->status = STW_OK;
}

static stw_status_t decide_psk_confirm(const stw_enroll_ctx_t *ctx, const stw_peer_t *peer, stw_enroll_outcome_t *o)
{
  stw_psk_t psk;
  if (peer->kind != STW_PEER_PSK || stw_store_psk_get(ctx->store, peer->psk_identity, &psk) != STW_OK)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "unknown-psk", "unknown PSK identity");
  stw_wipe(psk.key, sizeof(psk.key));
  snprintf(o->device_id, sizeof(o->device_id), "%s", psk.device_id);
  if (psk.kind != STW_PSK_OPERATIONAL) {
    o->retry = true; /* a bootstrap PSK reading the anchors: nothing to retire */
    return o->status = STW_OK;
  }
  stw_psk_t boot;
  if (stw_store_psk_get(ctx->store, psk.device_id, &boot) != STW_OK || !boot.active)
    o->retry = true; /* already retired */
  stw_wipe(&boot, sizeof(boot));
  return o->status = STW_OK;
}

stw_status_t stw_enroll_decide(const stw_enroll_ctx_t *ctx, const stw_peer_t *peer,
                               const uint8_t *body, size_t body_len, stw_enroll_outcome_t *o)
{
  stw_enroll_cache_t *cache = ctx->cache, *own_cache = NULL;
  stw_cert_t *cert = NULL;
  bool x509_op = o->op == STW_ENROLL_SEN || o->op == STW_ENROLL_SREN || o->op == STW_ENROLL_VOUCHER;
  if (cache == NULL && x509_op) {
    stw_status_t st = stw_enroll_cache_new(ctx->domain, &own_cache);
    if (st != STW_OK)
      return refuse(o, st, "domain-ca", "domain CA unusable");
    cache = own_cache;
  }
  /* Parsed once per request; NULL when it does not parse (each op refuses). */
  if (x509_op && peer->kind == STW_PEER_CERT && stw_cert_load(peer->der, peer->der_len, &cert) != STW_OK)
    cert = NULL;
  switch (o->op) {
  case STW_ENROLL_SEN: decide_sen(ctx, cache, peer, cert, body, body_len, o); break;
  case STW_ENROLL_SREN: decide_sren(ctx, cache, peer, cert, body, body_len, o); break;
  case STW_ENROLL_PSK: decide_psk(ctx, peer, o); break;
  case STW_ENROLL_VOUCHER: decide_voucher(ctx, cache, peer, cert, o); break;
  case STW_ENROLL_PSK_CONFIRM: decide_psk_confirm(ctx, peer, o); break;
  }
  stw_cert_free(cert);
  stw_enroll_cache_free(own_cache);
  return o->status;
}

void stw_enroll_identify(const stw_enroll_ctx_t *ctx, const stw_peer_t *peer, stw_enroll_outcome_t *o)
{
  o->device_id[0] = '\0';
  if (peer->kind == STW_PEER_PSK) {
    stw_psk_t psk;
    memset(&psk, 0, sizeof(psk));
    if (peer->psk_identity != NULL && stw_store_psk_get(ctx->store, peer->psk_identity, &psk) == STW_OK)
      snprintf(o->device_id, sizeof(o->device_id), "%s", psk.device_id);
    stw_wipe(&psk, sizeof(psk));
    return;
  }
  if (peer->kind != STW_PEER_CERT)
    return;
  stw_cert_info_t info;
  if (stw_cert_parse(peer->der, peer->der_len, &info) != STW_OK)
    return;
  /* An LDevID names its device in its subject (its key is a fresh one); any
   * other certificate's device id is derived from its key. */
  if (stw_cert_verify_issued_by(peer->der, peer->der_len, ctx->domain->ca_der.data, ctx->domain->ca_der.len,
                                stw_now()) == STW_OK)
    snprintf(o->device_id, sizeof(o->device_id), "%.32s", info.serial_number);
  else
    stw_device_id_hex(info.device_id, o->device_id);
}

/* ---- making it durable (writer thread) ------------------------------------- */

static stw_status_t audit(stw_store_t *st, const char *actor_id, const char *action,
                          const char *subject, const char *outcome, const char *detail)
{
  char actor[STW_TEXT_MAX] = "";
  if (actor_id[0] != '\0')
    snprintf(actor, sizeof(actor), "device:%.40s", actor_id);
  return stw_store_audit_event(st, actor, action, subject, outcome, detail);
}

static const char *op_action(stw_enroll_op_t op)
{
  switch (op) {
  case STW_ENROLL_SEN: return "enroll";
  case STW_ENROLL_SREN: return "reenroll";
  case STW_ENROLL_PSK: return "enroll.psk";
  case STW_ENROLL_VOUCHER: return "voucher";
  case STW_ENROLL_PSK_CONFIRM: return "enroll.psk-confirm";
  }
  return "enroll";
}

/* An identical request already committed: answer with the certificate it
 * got, write nothing. Takes the row's certificate and clears the row. */
static stw_status_t answer_with_stored(stw_enroll_outcome_t *o, stw_device_t *cur)
{
  o->retry = true;
  free(o->payload);
  o->payload = cur->ldevid;
  o->payload_len = cur->ldevid_len;
  cur->ldevid = NULL;
  snprintf(o->serial_hex, sizeof(o->serial_hex), "%s", cur->ldevid_serial);
  stw_device_clear(cur);
  return STW_OK;
}

static stw_status_t apply_refusal(stw_store_t *st, stw_enroll_outcome_t *o)
{
  char action[STW_TEXT_MAX];
  snprintf(action, sizeof(action), "refuse.%s", op_action(o->op));
  return audit(st, o->device_id, action, o->device_id, o->refusal ? o->refusal : "refused", o->diag);
}

/* The device moved on since decide() (decommissioned, or to a state where
 * `what` is not allowed): refuse, and record it like any refusal. */
static stw_status_t refuse_moved_on(stw_store_t *st, stw_enroll_outcome_t *o, stw_device_t *cur, const char *what)
{
  stw_state_t was = cur->state;
  stw_device_clear(cur);
  if (was == STW_STATE_DECOMMISSIONED)
    refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned");
  else
    refuse(o, STW_ERR_STATE, "state", "%s not allowed in state %s", what, stw_state_name(was));
  return apply_refusal(st, o);
}

/* The last step of every grant: the lifecycle transition, then its audit record. */
__attribute__((format(printf, 6, 7)))
static stw_status_t transition_audited(stw_store_t *st, const stw_enroll_outcome_t *o, stw_event_t ev,
                                       const char *reason, const char *action, const char *fmt, ...)
{
  stw_state_t next;
  stw_status_t rc = stw_store_transition(st, o->device_id, ev, "daemon", reason, &next);
  if (rc != STW_OK)
    return rc;
  char detail[STW_REASON_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  return audit(st, o->device_id, action, o->device_id, "ok", detail);
}

/* Re-check against committed state: a concurrent request for the same device
 * may have committed since stw_enroll_decide() read the store. */
static stw_status_t apply_sen(stw_store_t *st, stw_enroll_outcome_t *o)
{
  stw_device_t cur;
  stw_status_t rc = stw_store_device_get(st, o->device_id, &cur);
  if (rc != STW_OK && rc != STW_ERR_NOT_FOUND)
    return rc;
  if (rc == STW_OK && cur.state == STW_STATE_DECOMMISSIONED) {
    /* Decommissioned since decide(): even the same CSR gets nothing back. */
    stw_device_clear(&cur);
    refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned; a new owner needs a new voucher");
    return apply_refusal(st, o);
  }
  if (rc == STW_OK && cur.state != STW_STATE_MANUFACTURED) {
    bool same = memcmp(cur.csr_digest, o->device.csr_digest, 32) == 0 && cur.ldevid != NULL;
    if (same)
      return answer_with_stored(o, &cur);
    stw_device_clear(&cur);
    refuse(o, STW_ERR_CONFLICT, "already-enrolled", "device already enrolled with another CSR; renew with /sren");
    return apply_refusal(st, o);
  }
  if (rc == STW_OK) {
    o->device.generation = cur.generation;
    o->device.created_at = cur.created_at;
  } else {
    o->device.created_at = stw_now();
  }
  stw_device_clear(&cur);
  o->device.state = STW_STATE_MANUFACTURED;
  o->device.updated_at = stw_now();
  o->device.ldevid = o->payload;
  o->device.ldevid_len = o->payload_len;
  rc = stw_store_device_put(st, &o->device);
  o->device.ldevid = NULL;
  o->device.ldevid_len = 0;
  if (rc != STW_OK)
    return rc;
  if ((rc = stw_store_serial_claim(st, o->serial_hex, o->device_id, o->device.ldevid_not_after)) != STW_OK)
    return rc;
  return transition_audited(st, o, STW_EV_BOOTSTRAP, "LDevID issued", "enroll",
                            "LDevID serial %s, name %s, model %s, manufacturer %s",
                            o->serial_hex, o->device.name, o->device.model, o->device.manufacturer);
}

/* Re-check against committed state, and write the new certificate onto the
 * committed row rather than the one decide() read: since then the device may
 * have been decommissioned, moved on in its lifecycle, or renewed by another
 * request made with the same LDevID. */
static stw_status_t apply_sren(stw_store_t *st, stw_enroll_outcome_t *o)
{
  stw_device_t cur;
  stw_state_t next;
  stw_status_t rc = stw_store_device_get(st, o->device_id, &cur);
  if (rc != STW_OK)
    return rc;
  if (strcmp(cur.ldevid_serial, o->presented_serial) != 0 && cur.state != STW_STATE_DECOMMISSIONED) {
    if (cur.ldevid != NULL && memcmp(cur.csr_digest, o->device.csr_digest, 32) == 0) {
      /* the same CSR renewed by a concurrent request: answer with its certificate */
      return answer_with_stored(o, &cur);
    }
    stw_device_clear(&cur);
    refuse(o, STW_ERR_UNAUTHENTICATED, "ldevid-superseded", "this LDevID was replaced by a newer one");
    return apply_refusal(st, o);
  }
  if (stw_lifecycle_next(cur.state, STW_EV_REENROLL, &next) != STW_OK)
    return refuse_moved_on(st, o, &cur, "renewal");
  free(cur.ldevid);
  cur.ldevid = o->payload;
  cur.ldevid_len = o->payload_len;
  snprintf(cur.ldevid_serial, sizeof(cur.ldevid_serial), "%s", o->serial_hex);
  cur.ldevid_not_after = o->device.ldevid_not_after;
  memcpy(cur.csr_digest, o->device.csr_digest, sizeof(cur.csr_digest));
  cur.updated_at = stw_now();
  rc = stw_store_device_put(st, &cur);
  cur.ldevid = NULL;  /* still o->payload's */
  cur.ldevid_len = 0;
  stw_device_clear(&cur);
  if (rc != STW_OK)
    return rc;
  if ((rc = stw_store_serial_claim(st, o->serial_hex, o->device_id, o->device.ldevid_not_after)) != STW_OK)
    return rc;
  return transition_audited(st, o, STW_EV_REENROLL, "LDevID renewed", "reenroll", "LDevID serial %s", o->serial_hex);
}

static stw_status_t apply_psk(stw_store_t *st, stw_enroll_outcome_t *o)
{
  stw_device_t cur;
  stw_status_t rc = stw_store_device_get(st, o->device_id, &cur);
  if (rc != STW_OK)
    return rc;
  if (cur.state == STW_STATE_DECOMMISSIONED || (cur.state != STW_STATE_MANUFACTURED && cur.psk_identity[0] == '\0')) {
    /* Decommissioned (or re-imprinted) since decide(): the old PSK must not
     * come back as a retry. */
    return refuse_moved_on(st, o, &cur, "PSK enrollment");
  }
  if (cur.state != STW_STATE_MANUFACTURED) {
    /* Someone else's identical request committed first; answer with theirs. */
    stw_psk_t op;
    rc = stw_store_psk_get(st, cur.psk_identity, &op);
    snprintf(o->device.name, sizeof(o->device.name), "%s", cur.name);
    stw_device_clear(&cur);
    if (rc != STW_OK)
      return rc;
    o->retry = true;
    o->psk = op;
    stw_wipe(&op, sizeof(op));
    uint8_t answer[STW_PSK_ANSWER_MAX];
    size_t len = 0;
    if ((rc = stw_psk_answer_encode(o->psk.identity, o->psk.key, o->device.name, answer, sizeof(answer), &len)) ==
        STW_OK)
      rc = take_payload(o, answer, len);
    stw_wipe(answer, sizeof(answer));
    return rc;
  }
  stw_device_clear(&cur);
  o->device.updated_at = stw_now();
  if ((rc = stw_store_device_put(st, &o->device)) != STW_OK)
    return rc;
  if ((rc = stw_store_psk_put(st, &o->psk)) != STW_OK)
    return rc;
  return transition_audited(st, o, STW_EV_BOOTSTRAP, "operational PSK issued", "enroll.psk",
                            "operational PSK %s, name %s", o->psk.identity, o->device.name);
}

static stw_status_t apply_psk_confirm(stw_store_t *st, stw_enroll_outcome_t *o)
{
  stw_device_t d;
  stw_status_t rc = stw_store_device_get(st, o->device_id, &d);
  if (rc != STW_OK)
    return rc;
  /* Find the device's bootstrap PSK through its voucher-time identity: the
   * store keys PSKs by identity, and the bootstrap identity is the device id. */
  stw_psk_t boot;
  rc = stw_store_psk_get(st, d.id, &boot);
  stw_device_clear(&d);
  if (rc == STW_ERR_NOT_FOUND)
    return STW_OK;
  if (rc != STW_OK)
    return rc;
  stw_wipe(boot.key, sizeof(boot.key));
  if (boot.kind != STW_PSK_BOOTSTRAP || !boot.active)
    return STW_OK;
  if ((rc = stw_store_psk_set_active(st, boot.identity, false)) != STW_OK)
    return rc;
  return audit(st, o->device_id, "retire.bootstrap-psk", o->device_id, "ok",
               "first use of the operational PSK; the bootstrap PSK no longer works");
}

stw_status_t stw_enroll_apply(stw_store_t *st, stw_enroll_outcome_t *o)
{
  if (o->status != STW_OK)
    return apply_refusal(st, o);
  if (o->retry)
    return STW_OK;
  switch (o->op) {
  case STW_ENROLL_SEN: return apply_sen(st, o);
  case STW_ENROLL_SREN: return apply_sren(st, o);
  case STW_ENROLL_PSK: return apply_psk(st, o);
  case STW_ENROLL_PSK_CONFIRM: return apply_psk_confirm(st, o);
  case STW_ENROLL_VOUCHER: return STW_OK;
  }
  return STW_ERR_INVALID;
}

unsigned stw_enroll_coap_code(const stw_enroll_outcome_t *o)
{
  switch (o->status) {
  case STW_OK:
    /* The voucher and the anchors (PSK_CONFIRM) answer GETs-like reads: 2.05. */
    return o->op == STW_ENROLL_VOUCHER || o->op == STW_ENROLL_PSK_CONFIRM ? COAP_CODE(2, 5) : COAP_CODE(2, 4);
  case STW_ERR_MALFORMED: return COAP_CODE(4, 0);
  case STW_ERR_UNAUTHENTICATED: return COAP_CODE(4, 1);
  case STW_ERR_FORBIDDEN:
  case STW_ERR_CONFLICT:
  case STW_ERR_STATE: return COAP_CODE(4, 3);
  case STW_ERR_NOT_FOUND: return COAP_CODE(4, 4);
  case STW_ERR_TOO_LARGE: return COAP_CODE(4, 13);
  case STW_ERR_UNSUPPORTED: return COAP_CODE(4, 15);
  case STW_ERR_BUSY: return COAP_CODE(5, 3);
  default: return COAP_CODE(5, 0);
  }
}

/* ---- voucher import (operator) ----------------------------------------------- */

typedef struct {
  const uint8_t *voucher;
  size_t len;
  stw_voucher_t v;
  bool found;
  char name[STW_TEXT_MAX];
} voucher_search_t;

static stw_status_t match_voucher_signer(const stw_trust_t *t, void *arg)
{
  voucher_search_t *s = arg;
  stw_cert_info_t ca;
  if (stw_cert_parse(t->cert_der, t->cert_len, &ca) != STW_OK)
    return STW_OK;
  if (stw_voucher_verify(s->voucher, s->len, ca.spki, ca.spki_len, stw_now(), &s->v) != STW_OK)
    return STW_OK;
  s->found = true;
  snprintf(s->name, sizeof(s->name), "%s", t->name);
  return STW_ERR_EXISTS;
}

static stw_status_t import_audit(stw_store_t *st, const char *action, const char *subject,
                                 const char *outcome, const char *detail)
{
  return stw_store_audit_event(st, "admin", action, subject, outcome, detail);
}

stw_status_t stw_enroll_import_voucher_in_tx(stw_store_t *st, const stw_domain_t *domain,
                                             const uint8_t *voucher, size_t len,
                                             char *device_id_out, char *diag, size_t diag_len)
{
  voucher_search_t s;
  memset(&s, 0, sizeof(s));
  s.voucher = voucher;
  s.len = len;
  device_id_out[0] = '\0';
  stw_voucher_t parsed;
  if (len > STW_VOUCHER_MAX || stw_voucher_parse(voucher, len, &parsed) != STW_OK) {
    snprintf(diag, diag_len, "not a voucher");
    stw_status_t rc = import_audit(st, "refuse.voucher-import", "-", "voucher-malformed", diag);
    return rc == STW_OK ? STW_ERR_MALFORMED : rc;
  }
  stw_device_id_hex(parsed.device_id, device_id_out);
  stw_status_t rc = stw_store_trust_list(st, match_voucher_signer, &s);
  if (rc != STW_OK && rc != STW_ERR_EXISTS)
    return rc;
  if (!s.found) {
    snprintf(diag, diag_len, "voucher is not signed by a trusted manufacturer, or expired");
    rc = import_audit(st, "refuse.voucher-import", device_id_out, "voucher-untrusted", diag);
    return rc == STW_OK ? STW_ERR_UNTRUSTED : rc;
  }
  if (s.v.owner_spki_len != domain->ca.spki_len ||
      memcmp(s.v.owner_spki, domain->ca.spki, s.v.owner_spki_len) != 0) {
    snprintf(diag, diag_len, "voucher names another owner");
    rc = import_audit(st, "refuse.voucher-import", device_id_out, "voucher-other-owner", diag);
    return rc == STW_OK ? STW_ERR_FORBIDDEN : rc;
  }
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  rc = stw_store_device_get(st, device_id_out, &d);
  if (rc != STW_OK && rc != STW_ERR_NOT_FOUND)
    return rc;
  /* Only a device that has not enrolled here (or starts a new life) takes
   * its bootstrap PSK from the voucher: importing the voucher again for an
   * enrolled device must not bring a retired bootstrap PSK back to life. */
  bool fresh = rc == STW_ERR_NOT_FOUND || d.state == STW_STATE_MANUFACTURED || d.state == STW_STATE_DECOMMISSIONED;
  /* Open the sealed PSK before anything is written: one this domain's key
   * cannot open is refused like any other voucher, with nothing half made. */
  stw_psk_t psk;
  memset(&psk, 0, sizeof(psk));
  bool takes_psk = s.v.sealed_psk_len > 0 && fresh;
  if (takes_psk) {
    size_t key_len = sizeof(psk.key);
    static const char info[] = "steward voucher psk";
    if (stw_unseal(domain->ca_key, (const uint8_t *)info, sizeof(info) - 1, s.v.sealed_psk, s.v.sealed_psk_len,
                   psk.key, &key_len) != STW_OK) {
      stw_wipe(&psk, sizeof(psk));
      stw_device_clear(&d);
      snprintf(diag, diag_len, "cannot open the sealed PSK with this domain's key");
      rc = import_audit(st, "refuse.voucher-import", device_id_out, "voucher-psk-sealed", diag);
      return rc == STW_OK ? STW_ERR_FORBIDDEN : rc;
    }
    snprintf(psk.identity, sizeof(psk.identity), "%s", s.v.psk_identity);
    snprintf(psk.device_id, sizeof(psk.device_id), "%s", device_id_out);
    psk.kind = STW_PSK_BOOTSTRAP;
    psk.active = true;
    psk.key_len = key_len;
  }
  if (rc == STW_ERR_NOT_FOUND) {
    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "%s", device_id_out);
    snprintf(d.manufacturer, sizeof(d.manufacturer), "%s", s.name);
    snprintf(d.model, sizeof(d.model), "%s", s.v.model);
    d.state = STW_STATE_MANUFACTURED;
    d.cred_kind = s.v.sealed_psk_len > 0 ? STW_CRED_PSK : STW_CRED_X509;
    d.created_at = d.updated_at = stw_now();
    rc = stw_store_device_put(st, &d);
  } else if (d.state == STW_STATE_DECOMMISSIONED) {
    /* A new voucher starts a new life: ownership transfer. */
    stw_state_t next;
    rc = stw_store_transition(st, device_id_out, STW_EV_REIMPRINT, "admin", "new voucher imported", &next);
  }
  stw_device_clear(&d);
  if (rc == STW_OK)
    rc = stw_store_voucher_put(st, device_id_out, voucher, len);
  if (rc == STW_OK && takes_psk)
    rc = stw_store_psk_put(st, &psk);
  stw_wipe(&psk, sizeof(psk));
  if (rc == STW_OK) {
    char detail[STW_REASON_MAX];
    snprintf(detail, sizeof(detail), "voucher from %s", s.name);
    rc = import_audit(st, "voucher-import", device_id_out, "ok", detail);
  }
  return rc;
}

stw_status_t stw_enroll_import_voucher(stw_store_t *st, const stw_domain_t *domain,
                                       const uint8_t *voucher, size_t len,
                                       char *device_id_out, char *diag, size_t diag_len)
{
  stw_status_t rc = stw_store_begin(st);
  if (rc != STW_OK)
    return rc;
  stw_status_t result = stw_enroll_import_voucher_in_tx(st, domain, voucher, len, device_id_out, diag, diag_len);
  /* A refusal keeps its audit record: commit unless the store itself failed. */
  bool refused = result == STW_ERR_MALFORMED || result == STW_ERR_UNTRUSTED || result == STW_ERR_FORBIDDEN;
  if (result == STW_OK || refused) {
    rc = stw_store_commit(st);
    return rc == STW_OK ? result : rc;
  }
  stw_store_rollback(st);
  return result;
}
