#include "authz/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/pdp.h"
#include "cbor_reader.h"

static const char *identity_attr(const stw_identity_t *who, const char *name)
{
  for (size_t i = 0; i < who->n_attrs; i++)
    if (strcmp(who->attrs[i].name, name) == 0)
      return who->attrs[i].value;
  return NULL;
}

static bool read_scope(stw_store_t *st, const char *scope, const char *name, char *value, size_t cap)
{
  stw_context_row_t row;
  if (stw_store_context_get(st, scope, name, &row) != STW_OK)
    return false;
  snprintf(value, cap, "%s", row.value);
  return true;
}

bool stw_context_read(void *arg, const char *name, char *value, size_t cap)
{
  stw_context_reader_t *r = arg;
  char scope[STW_TEXT_MAX];
  if (r->audience != NULL) {
    snprintf(scope, sizeof(scope), "device:%s", r->audience->device_id);
    if (read_scope(r->store, scope, name, value, cap))
      return true;
    const char *place = identity_attr(r->audience, "place");
    if (place != NULL && snprintf(scope, sizeof(scope), "place:%s", place) < (int)sizeof(scope) &&
        read_scope(r->store, scope, name, value, cap))
      return true;
    const char *owner = identity_attr(r->audience, "owner");
    if (owner != NULL && snprintf(scope, sizeof(scope), "owner:%s", owner) < (int)sizeof(scope) &&
        read_scope(r->store, scope, name, value, cap))
      return true;
  }
  return read_scope(r->store, "", name, value, cap);
}

bool stw_context_scope_valid(const char *scope)
{
  if (scope[0] == '\0')
    return true;
  if (strncmp(scope, "device:", 7) == 0) {
    if (strlen(scope + 7) != 32)
      return false;
    for (const char *p = scope + 7; *p; p++)
      if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
        return false;
    return true;
  }
  const char *v = NULL;
  if (strncmp(scope, "place:", 6) == 0)
    v = scope + 6;
  else if (strncmp(scope, "owner:", 6) == 0)
    v = scope + 6;
  return v != NULL && v[0] != '\0';
}

/* ---- re-evaluation ----------------------------------------------------------------- */

typedef struct {
  char (*ctis)[STW_CTI_HEX];
  size_t n, cap;
} cti_list_t;

typedef struct {
  stw_store_t *st;
  const stw_domain_t *domain;
  const stw_policy_t *rules;
  size_t n_rules;
  int64_t now;
  cti_list_t denied;
} reeval_t;

static stw_status_t cti_push(cti_list_t *l, const char *cti)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    void *p = realloc(l->ctis, cap * sizeof(*l->ctis));
    if (p == NULL)
      return STW_ERR_NOMEM;
    l->ctis = p;
    l->cap = cap;
  }
  snprintf(l->ctis[l->n++], STW_CTI_HEX, "%s", cti);
  return STW_OK;
}

/* A token stays only if every (path, method) it carries is still permitted. */
static stw_status_t reeval_token(const stw_token_row_t *t, void *arg)
{
  reeval_t *re = arg;
  stw_identity_t *who = calloc(2, sizeof(*who));
  stw_aif_t *scope = malloc(sizeof(*scope));
  stw_status_t rc = STW_OK;
  if (who == NULL || scope == NULL) {
    rc = STW_ERR_NOMEM;
    goto out;
  }
  bool deny = false;
  /* A party that is gone or retired denies everything. */
  if (stw_identify_device(re->st, re->domain, t->subject_id, &who[0]) != STW_OK ||
      stw_identify_device(re->st, re->domain, t->audience_id, &who[1]) != STW_OK ||
      stw_scope_parse_text(t->scope, scope) != STW_OK) {
    deny = true;
  } else {
    stw_policy_party_t sp, ap;
    stw_pdp_party(&who[0], &sp);
    stw_pdp_party(&who[1], &ap);
    stw_context_reader_t reader = { .store = re->st, .audience = &who[1] };
    stw_pdp_result_t result;
    stw_pdp_evaluate(re->rules, re->n_rules, &sp, &ap, scope, re->now, stw_context_read, &reader, &result);
    /* Compare what is granted now with what the token carries. */
    deny = !result.permit || result.granted.n != scope->n;
    for (size_t i = 0; !deny && i < scope->n; i++)
      deny = result.granted.entries[i].methods != scope->entries[i].methods;
  }
  if (deny)
    rc = cti_push(&re->denied, t->cti);
out:
  free(who);
  free(scope);
  return rc;
}

stw_status_t stw_authz_reevaluate(stw_store_t *st, const stw_domain_t *domain, const char *only_if_read,
                                  const char *actor, const char *reason, int64_t now, uint64_t *revoked)
{
  reeval_t re = { .st = st, .domain = domain, .now = now };
  stw_policy_t *rules = NULL;
  size_t n = 0;
  if (revoked != NULL)
    *revoked = 0;
  stw_status_t rc = stw_pdp_load_rules(st, &rules, &n);
  if (rc != STW_OK)
    return rc;
  bool relevant = only_if_read == NULL;
  for (size_t i = 0; !relevant && i < n; i++)
    relevant = stw_policy_reads(&rules[i], only_if_read);
  if (!relevant)
    goto out;
  re.rules = rules;
  re.n_rules = n;
  /* Collect first, then revoke: no writes under a running scan. */
  if ((rc = stw_store_token_list(st, true, now, reeval_token, &re)) != STW_OK)
    goto out;
  for (size_t i = 0; i < re.denied.n; i++) {
    uint64_t seq = 0;
    if ((rc = stw_store_token_revoke(st, re.denied.ctis[i], now, reason, &seq)) != STW_OK)
      goto out;
    stw_audit_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.actor, sizeof(a.actor), "%s", actor);
    snprintf(a.action, sizeof(a.action), "token.revoke");
    snprintf(a.subject, sizeof(a.subject), "%s", re.denied.ctis[i]);
    snprintf(a.outcome, sizeof(a.outcome), "ok");
    snprintf(a.detail, sizeof(a.detail), "seq=%llu reason=%s", (unsigned long long)seq, reason);
    if ((rc = stw_store_audit_append(st, &a)) != STW_OK)
      goto out;
  }
  if (revoked != NULL)
    *revoked = re.denied.n;
out:
  free(re.denied.ctis);
  free(rules);
  return rc;
}

/* ---- changes, each in one transaction with its audit and revocations ---------------- */

static stw_status_t tx_enter(stw_store_t *st, bool *own)
{
  /* Join the caller's transaction when one is open (the committer's batch). */
  stw_status_t rc = stw_store_begin(st);
  if (rc == STW_ERR_STATE) {
    *own = false;
    return stw_store_savepoint(st, "stw_authz");
  }
  *own = rc == STW_OK;
  return rc;
}

static stw_status_t tx_leave(stw_store_t *st, bool own, stw_status_t rc)
{
  if (own) {
    if (rc == STW_OK)
      return stw_store_commit(st);
    stw_store_rollback(st);
    return rc;
  }
  if (rc != STW_OK)
    stw_store_rollback_to(st, "stw_authz");
  stw_status_t rel = stw_store_release(st, "stw_authz");
  return rc != STW_OK ? rc : rel;
}

stw_status_t stw_context_set(stw_store_t *st, const stw_domain_t *domain, const stw_context_row_t *c,
                             const char *actor, int64_t now, uint64_t *revoked)
{
  bool own = false;
  if (!stw_context_scope_valid(c->scope))
    return STW_ERR_INVALID;
  stw_status_t rc = tx_enter(st, &own);
  if (rc != STW_OK)
    return rc;
  stw_context_row_t row = *c;
  row.updated_at = now;
  rc = stw_store_context_set(st, &row);
  if (rc == STW_OK) {
    stw_audit_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.actor, sizeof(a.actor), "%s", actor);
    snprintf(a.action, sizeof(a.action), "context.set");
    snprintf(a.subject, sizeof(a.subject), "%s", c->scope[0] ? c->scope : "domain");
    snprintf(a.outcome, sizeof(a.outcome), "ok");
    snprintf(a.detail, sizeof(a.detail), "%s=%s", c->name, c->value);
    rc = stw_store_audit_append(st, &a);
  }
  if (rc == STW_OK) {
    char reason[STW_TEXT_MAX];
    snprintf(reason, sizeof(reason), "context %.30s=%.25s", c->name, c->value);
    rc = stw_authz_reevaluate(st, domain, c->name, actor, reason, now, revoked);
  }
  return tx_leave(st, own, rc);
}

stw_status_t stw_authz_policy_add(stw_store_t *st, const stw_domain_t *domain, const char *text, const char *name,
                                  const char *actor, int64_t now, int64_t *id, uint64_t *revoked, char *why,
                                  size_t why_cap)
{
  bool own = false;
  stw_policy_t *p = calloc(1, sizeof(*p));
  stw_policy_row_t *row = calloc(1, sizeof(*row));
  stw_status_t rc = STW_ERR_NOMEM;
  if (p == NULL || row == NULL)
    goto out;
  if ((rc = stw_policy_parse(text, strlen(text), p, why, why_cap)) != STW_OK)
    goto out;
  if (name != NULL)
    snprintf(p->name, sizeof(p->name), "%s", name);
  if ((rc = stw_policy_to_row(p, row)) != STW_OK)
    goto out;
  row->created_at = now;
  if ((rc = tx_enter(st, &own)) != STW_OK)
    goto out;
  rc = stw_store_policy_add(st, row);
  if (rc == STW_OK) {
    char canon[STW_POLICY_TEXT_MAX + 256];
    stw_policy_format(p, canon, sizeof(canon));
    stw_audit_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.actor, sizeof(a.actor), "%s", actor);
    snprintf(a.action, sizeof(a.action), "policy.add");
    snprintf(a.subject, sizeof(a.subject), "policy:%lld", (long long)row->id);
    snprintf(a.outcome, sizeof(a.outcome), "ok");
    snprintf(a.detail, sizeof(a.detail), "%s", canon);
    rc = stw_store_audit_append(st, &a);
  }
  /* A new deny rule can take away what live tokens carry. */
  if (rc == STW_OK && p->effect == STW_EFFECT_DENY) {
    char reason[STW_TEXT_MAX];
    snprintf(reason, sizeof(reason), "policy %lld added", (long long)row->id);
    rc = stw_authz_reevaluate(st, domain, NULL, actor, reason, now, revoked);
  } else if (revoked != NULL) {
    *revoked = 0;
  }
  rc = tx_leave(st, own, rc);
  if (rc == STW_OK && id != NULL)
    *id = row->id;
out:
  free(p);
  free(row);
  return rc;
}

stw_status_t stw_authz_policy_remove(stw_store_t *st, const stw_domain_t *domain, int64_t id, const char *actor,
                                     int64_t now, uint64_t *revoked)
{
  bool own = false;
  stw_status_t rc = tx_enter(st, &own);
  if (rc != STW_OK)
    return rc;
  rc = stw_store_policy_remove(st, id);
  if (rc == STW_OK) {
    stw_audit_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.actor, sizeof(a.actor), "%s", actor);
    snprintf(a.action, sizeof(a.action), "policy.remove");
    snprintf(a.subject, sizeof(a.subject), "policy:%lld", (long long)id);
    snprintf(a.outcome, sizeof(a.outcome), "ok");
    rc = stw_store_audit_append(st, &a);
  }
  if (rc == STW_OK) {
    char reason[STW_TEXT_MAX];
    snprintf(reason, sizeof(reason), "policy %lld removed", (long long)id);
    rc = stw_authz_reevaluate(st, domain, NULL, actor, reason, now, revoked);
  }
  return tx_leave(st, own, rc);
}

/* ---- what a device publishes (POST /context) ------------------------------------ */

/* May the device publish this attribute? Its "publishes" attribute lists the
 * names, separated by spaces or commas. */
static bool may_publish(const stw_identity_t *who, const char *name)
{
  size_t n = strlen(name);
  for (size_t i = 0; i < who->n_attrs; i++) {
    if (strcmp(who->attrs[i].name, "publishes") != 0)
      continue;
    const char *p = who->attrs[i].value;
    while (*p) {
      size_t len = strcspn(p, " ,");
      if (len == n && memcmp(p, name, n) == 0)
        return true;
      p += len;
      p += strspn(p, " ,");
    }
  }
  return false;
}

stw_status_t stw_context_body_parse(const uint8_t *data, size_t len, stw_context_row_t *row)
{
  stw_cbor_reader_t r;
  size_t n;
  stw_status_t st;
  bool have_name = false, have_value = false;
  if (data == NULL || len == 0 || len > CONTEXT_BODY_MAX)
    return STW_ERR_MALFORMED;
  stw_cbor_reader_init(&r, data, len);
  if ((st = stw_cbor_read_map(&r, &n)) != STW_OK)
    return st;
  for (size_t i = 0; i < n; i++) {
    uint64_t key;
    const char *s;
    size_t slen;
    if ((st = stw_cbor_read_uint(&r, &key)) != STW_OK || (st = stw_cbor_read_tstr(&r, &s, &slen)) != STW_OK)
      return st;
    char *field = key == 1 ? row->name : key == 2 ? row->value : NULL;
    size_t cap = key == 1 ? sizeof(row->name) : sizeof(row->value);
    bool *seen = key == 1 ? &have_name : &have_value;
    if (field == NULL || *seen || slen >= cap || memchr(s, '\0', slen) != NULL)
      return STW_ERR_MALFORMED;
    memcpy(field, s, slen);
    field[slen] = '\0';
    *seen = true;
  }
  if ((st = stw_cbor_expect_end(&r)) != STW_OK)
    return st;
  return have_name && have_value && row->name[0] ? STW_OK : STW_ERR_MALFORMED;
}

stw_status_t stw_context_from_device(const stw_identity_t *who, const uint8_t *data, size_t len,
                                     stw_context_row_t *row)
{
  memset(row, 0, sizeof(*row));
  if (stw_context_body_parse(data, len, row) != STW_OK)
    return STW_ERR_MALFORMED;
  if (!may_publish(who, row->name))
    return STW_ERR_FORBIDDEN;
  /* The attribute belongs to where the device is: its place, else its owner, else itself. */
  const char *place = identity_attr(who, "place");
  const char *owner = identity_attr(who, "owner");
  if (place != NULL && place[0])
    snprintf(row->scope, sizeof(row->scope), "place:%.56s", place);
  else if (owner != NULL && owner[0])
    snprintf(row->scope, sizeof(row->scope), "owner:%.56s", owner);
  else
    snprintf(row->scope, sizeof(row->scope), "device:%s", who->device_id);
  return STW_OK;
}
