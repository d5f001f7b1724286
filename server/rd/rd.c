#include "rd.h"

#include <cbor.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrtree.h"
#include "coap/identity.h"
#include "cose_internal.h"
#include "pki.h"

#define COAP_CODE(c, d) ((unsigned)((c) << 5 | (d)))
#define ROOT_LIFETIME 3600  /* signed attribute roots are fresh per resolution and live an hour */

struct stw_rd {
  stw_store_t *store;
  const stw_domain_t *domain;
  stw_ca_t *domain_ca;
};

stw_status_t stw_rd_new(stw_store_t *store, const stw_domain_t *domain, stw_rd_t **out)
{
  stw_rd_t *rd = calloc(1, sizeof(*rd));
  if (rd == NULL)
    return STW_ERR_NOMEM;
  rd->store = store;
  rd->domain = domain;
  stw_status_t st = stw_ca_new(domain->ca_der.data, domain->ca_der.len, domain->ca_key, &rd->domain_ca);
  if (st != STW_OK) {
    free(rd);
    rd = NULL;
  }
  *out = rd;
  return st;
}

void stw_rd_free(stw_rd_t *rd)
{
  if (rd == NULL)
    return;
  stw_ca_free(rd->domain_ca);
  free(rd);
}

/* ---- who asks ---------------------------------------------------------------- */

static void asker_add(stw_asker_t *a, const char *name, const char *value, const char *authority)
{
  if (a->n_attrs >= STW_ASKER_ATTRS_MAX)
    return;
  stw_attr_row_t *r = &a->attrs[a->n_attrs++];
  snprintf(r->name, sizeof(r->name), "%s", name);
  snprintf(r->value, sizeof(r->value), "%s", value);
  snprintf(r->authority, sizeof(r->authority), "%s", authority);
}

stw_status_t stw_rd_identify(const stw_rd_t *rd, const stw_peer_t *peer, stw_asker_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_identity_t *who = calloc(1, sizeof(*who));
  if (who == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = stw_identify_peer(rd->store, rd->domain, rd->domain_ca, peer, who);
  if (st == STW_OK && who->authenticated) {
    out->authenticated = true;
    snprintf(out->device_id, sizeof(out->device_id), "%s", who->device_id);
    for (size_t i = 0; i < who->n_attrs; i++)
      asker_add(out, who->attrs[i].name, who->attrs[i].value, who->attrs[i].authority);
  }
  out->decommissioned = st == STW_OK && who->decommissioned;
  free(who);
  return st;
}

/* ---- outcomes -------------------------------------------------------------------- */

void stw_rd_outcome_init(stw_rd_outcome_t *o, stw_rd_op_t op)
{
  memset(o, 0, sizeof(*o));
  o->op = op;
  o->status = STW_ERR_INVALID;
}

void stw_rd_outcome_clear(stw_rd_outcome_t *o)
{
  stw_rd_reg_clear(&o->reg);
  free(o->res);
  o->res = NULL;
  o->n_res = 0;
}

__attribute__((format(printf, 4, 5)))
static stw_status_t refuse(stw_rd_outcome_t *o, stw_status_t st, const char *code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->diag, sizeof(o->diag), fmt, ap);
  va_end(ap);
  o->status = st;
  o->refusal = code;
  return st;
}

/* ---- links of a registration ------------------------------------------------------- */

static bool is_list_attr(const char *name)
{
  return strcmp(name, "rt") == 0 || strcmp(name, "if") == 0 || strcmp(name, "rel") == 0;
}

static stw_status_t index_value(stw_rd_res_t *r, const char *name, const char *value, size_t len)
{
  if (len >= sizeof(r->attrs[0].value))
    return STW_ERR_TOO_LARGE;
  /* Each (name, value) once per resource: an exact-value lookup then reads
   * the index in order and stops at a full page, with no grouping. */
  for (size_t i = 0; i < r->n_attrs; i++)
    if (strcmp(r->attrs[i].name, name) == 0 && strlen(r->attrs[i].value) == len &&
        memcmp(r->attrs[i].value, value, len) == 0)
      return STW_OK;
  if (r->n_attrs >= STW_RD_ATTRS_MAX)
    return STW_ERR_TOO_LARGE;
  snprintf(r->attrs[r->n_attrs].name, sizeof(r->attrs[0].name), "%s", name);
  memcpy(r->attrs[r->n_attrs].value, value, len);
  r->attrs[r->n_attrs].value[len] = '\0';
  r->n_attrs++;
  return STW_OK;
}

/* Turn parsed links into the rows the store indexes. A link's `vis`
 * attribute becomes its visibility rule and is never published. */
static stw_status_t build_resources(const stw_links_t *links, stw_rd_outcome_t *o)
{
  size_t n = stw_links_count(links);
  o->res = calloc(n ? n : 1, sizeof(*o->res));
  if (o->res == NULL)
    return refuse(o, STW_ERR_NOMEM, "nomem", "out of memory");
  stw_links_t *one = malloc(sizeof(*one));
  stw_buf_t text;
  stw_buf_init(&text, STW_RD_LINK_MAX - 1);
  if (one == NULL) {
    stw_buf_free(&text, false);
    return refuse(o, STW_ERR_NOMEM, "nomem", "out of memory");
  }
  stw_status_t st = STW_OK;
  for (size_t i = 0; i < n && st == STW_OK; i++) {
    stw_rd_res_t *r = &o->res[i];
    size_t tlen = 0;
    const char *target = stw_link_target(links, i, &tlen);
    if (tlen >= sizeof(r->href)) {
      st = refuse(o, STW_ERR_TOO_LARGE, "link-too-large", "link target over %zu bytes", sizeof(r->href) - 1);
      break;
    }
    memcpy(r->href, target, tlen);
    r->href[tlen] = '\0';
    stw_links_init(one);
    if ((st = stw_links_add(one, target, tlen)) != STW_OK)
      break;
    for (size_t j = 0; j < stw_link_attr_count(links, i) && st == STW_OK; j++) {
      const char *name = stw_link_attr_name(links, i, j);
      const char *value = stw_link_attr_value(links, i, j);
      size_t vlen = value ? strlen(value) : 0;
      if (strcmp(name, "vis") == 0) {
        if (value == NULL || !stw_visibility_valid(value)) {
          st = refuse(o, STW_ERR_MALFORMED, "bad-visibility", "link %zu: malformed vis rule", i);
          break;
        }
        snprintf(r->vis, sizeof(r->vis), "%s", value);
        continue;
      }
      if ((st = stw_links_add_attr(one, name, strlen(name), value, vlen)) != STW_OK)
        break;
      if (value != NULL && is_list_attr(name)) {
        const char *p = value, *end = value + vlen;
        while (p < end && st == STW_OK) {
          const char *sp = memchr(p, ' ', (size_t)(end - p));
          const char *e = sp ? sp : end;
          if (e > p)
            st = index_value(r, name, p, (size_t)(e - p));
          p = e + 1;
        }
      } else {
        st = index_value(r, name, value ? value : "", vlen);
      }
    }
    if (st == STW_OK) {
      text.len = 0;
      st = stw_links_write(one, &text);
      if (st == STW_OK && text.len < STW_RD_LINK_MAX) {
        memcpy(r->link, text.data, text.len);
        r->link[text.len] = '\0';
      } else if (st == STW_OK) {
        st = STW_ERR_TOO_LARGE;
      }
    }
    if (st == STW_OK)
      o->n_res++;
  }
  free(one);
  stw_buf_free(&text, false);
  if (st != STW_OK && o->refusal == NULL)
    refuse(o, st, st == STW_ERR_TOO_LARGE ? "links-too-large" : "links-malformed",
           st == STW_ERR_TOO_LARGE ? "a link has too many or too long attributes" : "link format does not parse");
  return st;
}

static stw_status_t take_links(const char *payload, size_t len, stw_rd_outcome_t *o)
{
  stw_links_t *links = malloc(sizeof(*links));
  if (links == NULL)
    return refuse(o, STW_ERR_NOMEM, "nomem", "out of memory");
  stw_status_t st = stw_links_parse(payload, len, links);
  if (st == STW_ERR_TOO_LARGE)
    refuse(o, st, "links-too-large", "link format over %d bytes or %d links", STW_LINKS_PAYLOAD_MAX, STW_LINKS_MAX);
  else if (st != STW_OK)
    refuse(o, STW_ERR_MALFORMED, "links-malformed", "link format does not parse (RFC 6690)");
  if (st == STW_OK)
    st = build_resources(links, o);
  stw_buf_t canon;
  stw_buf_init(&canon, STW_RD_LINKS_MAX);
  if (st == STW_OK && (st = stw_links_write(links, &canon)) != STW_OK)
    refuse(o, st, "links-too-large", "links over %d bytes", STW_RD_LINKS_MAX);
  if (st == STW_OK) {
    o->reg.links = malloc(canon.len + 1);
    if (o->reg.links == NULL) {
      st = refuse(o, STW_ERR_NOMEM, "nomem", "out of memory");
    } else {
      memcpy(o->reg.links, canon.data, canon.len);
      o->reg.links[canon.len] = '\0';
      o->reg.links_len = canon.len;
    }
  }
  stw_buf_free(&canon, false);
  free(links);
  return st;
}

/* vis= and dattr= are Steward's registration parameters; anything else that
 * RFC 9176 does not define is refused rather than silently kept. */
static stw_status_t take_extensions(const stw_rd_query_t *q, stw_rd_outcome_t *o)
{
  for (size_t i = 0; i < q->n_filters; i++) {
    const stw_rd_filter_t *f = &q->filters[i];
    if (strcmp(f->name, "vis") == 0) {
      if (!stw_visibility_valid(f->value))
        return refuse(o, STW_ERR_MALFORMED, "bad-visibility", "malformed vis rule");
      snprintf(o->reg.vis, sizeof(o->reg.vis), "%s", f->value);
    } else if (strcmp(f->name, "dattr") == 0) {
      snprintf(o->reg.dattr, sizeof(o->reg.dattr), "%s", f->value);
    } else {
      return refuse(o, STW_ERR_MALFORMED, "unknown-parameter", "unknown registration parameter %s", f->name);
    }
  }
  return STW_OK;
}

static stw_status_t check_device(const stw_rd_t *rd, const stw_asker_t *asker, stw_rd_outcome_t *o, stw_device_t *d)
{
  if (asker->decommissioned)
    return refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned");
  if (!asker->authenticated)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "rd-unauthenticated",
                  "register with this domain's LDevID or operational PSK over DTLS");
  snprintf(o->device_id, sizeof(o->device_id), "%s", asker->device_id);
  if (stw_store_device_get(rd->store, asker->device_id, d) != STW_OK)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "unknown-device", "no such device");
  stw_state_t next;
  if (stw_lifecycle_next(d->state, STW_EV_REGISTER, &next) != STW_OK)
    return refuse(o, STW_ERR_FORBIDDEN, "state", "registration not allowed in state %s", stw_state_name(d->state));
  return STW_OK;
}

stw_status_t stw_rd_decide_register(const stw_rd_t *rd, const stw_asker_t *asker, const stw_rd_query_t *q,
                                    const char *payload, size_t len, const char *source_uri, stw_rd_outcome_t *o)
{
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  if (check_device(rd, asker, o, &d) != STW_OK)
    goto out;
  if (!q->has_ep) {
    refuse(o, STW_ERR_MALFORMED, "missing-ep", "ep is required");
    goto out;
  }
  if (strcmp(q->ep, d.name) != 0) {
    refuse(o, STW_ERR_FORBIDDEN, "ep-not-yours", "ep must be the name this device was assigned: %s", d.name);
    goto out;
  }
  stw_rd_reg_t *r = &o->reg;
  snprintf(r->device_id, sizeof(r->device_id), "%s", d.id);
  snprintf(r->ep, sizeof(r->ep), "%s", q->ep);
  snprintf(r->d, sizeof(r->d), "%s", q->has_d ? q->d : "");
  snprintf(r->base, sizeof(r->base), "%s", q->has_base ? q->base : source_uri);
  snprintf(r->et, sizeof(r->et), "%s", q->has_et ? q->et : "");
  snprintf(r->dattr, sizeof(r->dattr), "%s", STW_RD_DEFAULT_DATTR);
  r->lt = q->lt;
  r->updated_at = stw_now();
  r->expires_at = r->updated_at + r->lt;
  if (take_extensions(q, o) != STW_OK || take_links(payload, len, o) != STW_OK)
    goto out;
  /* Registering again replaces the device's registration at the same place. */
  stw_rd_reg_t old;
  if (stw_store_rd_get_by_device(rd->store, d.id, &old) == STW_OK) {
    snprintf(r->id, sizeof(r->id), "%s", old.id);
    stw_rd_reg_clear(&old);
  } else {
    uint8_t rnd[8];
    if (stw_random(rnd, sizeof(rnd)) != STW_OK) {
      refuse(o, STW_ERR_CRYPTO, "crypto", "no randomness");
      goto out;
    }
    stw_hex_encode(rnd, sizeof(rnd), r->id);
  }
  o->new_registration = d.state == STW_STATE_BOOTSTRAPPED;
  o->status = STW_OK;
out:
  stw_device_clear(&d);
  return o->status;
}

stw_status_t stw_rd_decide_update(const stw_rd_t *rd, const stw_asker_t *asker, const char *id,
                                  const stw_rd_query_t *q, const char *payload, size_t len, bool has_payload,
                                  stw_rd_outcome_t *o)
{
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  stw_rd_reg_t cur;
  memset(&cur, 0, sizeof(cur));
  if (check_device(rd, asker, o, &d) != STW_OK)
    goto out;
  stw_status_t st = stw_store_rd_get(rd->store, id, &cur);
  if (st == STW_ERR_NOT_FOUND) {
    refuse(o, STW_ERR_NOT_FOUND, "no-registration", "no such registration");
    goto out;
  }
  if (st != STW_OK) {
    refuse(o, st, "store", "store unavailable");
    goto out;
  }
  if (strcmp(cur.device_id, asker->device_id) != 0) {
    refuse(o, STW_ERR_FORBIDDEN, "not-yours", "this registration belongs to another device");
    goto out;
  }
  if ((q->has_ep && strcmp(q->ep, cur.ep) != 0) || (q->has_d && strcmp(q->d, cur.d) != 0)) {
    refuse(o, STW_ERR_MALFORMED, "immutable", "ep and d cannot change; register anew");
    goto out;
  }
  o->reg = cur;
  cur.links = NULL;
  stw_rd_reg_t *r = &o->reg;
  if (q->has_lt)
    r->lt = q->lt;
  if (q->has_base)
    snprintf(r->base, sizeof(r->base), "%s", q->base);
  if (q->has_et)
    snprintf(r->et, sizeof(r->et), "%s", q->et);
  r->updated_at = stw_now();
  r->expires_at = r->updated_at + r->lt;
  if (take_extensions(q, o) != STW_OK)
    goto out;
  char *stored = r->links;
  size_t stored_len = r->links_len;
  r->links = NULL;
  r->links_len = 0;
  /* Without a payload the links stay; they are re-read to rebuild the rows. */
  st = has_payload ? take_links(payload, len, o) : take_links(stored, stored_len, o);
  free(stored);
  if (st != STW_OK)
    goto out;
  o->status = STW_OK;
out:
  stw_rd_reg_clear(&cur);
  stw_device_clear(&d);
  return o->status;
}

stw_status_t stw_rd_decide_delete(const stw_rd_t *rd, const stw_asker_t *asker, const char *id, stw_rd_outcome_t *o)
{
  if (asker->decommissioned)
    return refuse(o, STW_ERR_FORBIDDEN, "decommissioned", "device is decommissioned");
  if (!asker->authenticated)
    return refuse(o, STW_ERR_UNAUTHENTICATED, "rd-unauthenticated", "authenticate with this domain's LDevID or PSK");
  snprintf(o->device_id, sizeof(o->device_id), "%s", asker->device_id);
  stw_status_t st = stw_store_rd_get(rd->store, id, &o->reg);
  if (st == STW_ERR_NOT_FOUND)
    return refuse(o, STW_ERR_NOT_FOUND, "no-registration", "no such registration");
  if (st != STW_OK)
    return refuse(o, st, "store", "store unavailable");
  if (strcmp(o->reg.device_id, asker->device_id) != 0)
    return refuse(o, STW_ERR_FORBIDDEN, "not-yours", "this registration belongs to another device");
  return o->status = STW_OK;
}

/* ---- writer thread ------------------------------------------------------------------ */

static stw_status_t audit(stw_store_t *st, const char *device_id, const char *action, const char *outcome,
                          const char *detail)
{
  char actor[STW_TEXT_MAX] = "";
  if (device_id[0])
    snprintf(actor, sizeof(actor), "device:%.40s", device_id);
  return stw_store_audit_event(st, actor, action, device_id, outcome, detail);
}

static const char *op_name(stw_rd_op_t op)
{
  return op == STW_RD_REGISTER ? "rd.register" : op == STW_RD_UPDATE ? "rd.update" : "rd.delete";
}

stw_status_t stw_rd_apply(stw_store_t *st, stw_rd_outcome_t *o)
{
  char action[STW_TEXT_MAX];
  if (o->status != STW_OK) {
    snprintf(action, sizeof(action), "refuse.%s", op_name(o->op));
    return audit(st, o->device_id, action, o->refusal ? o->refusal : "refused", o->diag);
  }
  if (o->op == STW_RD_DELETE) {
    stw_status_t rc = stw_store_rd_delete(st, o->reg.id);
    if (rc == STW_ERR_NOT_FOUND) { /* gone meanwhile (expired): deleting is idempotent */
      o->status = STW_ERR_NOT_FOUND;
      return STW_OK;
    }
    return rc == STW_OK ? audit(st, o->device_id, "rd.delete", "ok", o->reg.ep) : rc;
  }
  /* Re-check the committed state: the device may have been retired since. */
  stw_device_t d;
  stw_status_t rc = stw_store_device_get(st, o->device_id, &d);
  if (rc != STW_OK)
    return rc;
  stw_state_t next;
  bool allowed = stw_lifecycle_next(d.state, STW_EV_REGISTER, &next) == STW_OK;
  bool transition = d.state == STW_STATE_BOOTSTRAPPED;
  stw_device_clear(&d);
  if (!allowed) {
    refuse(o, STW_ERR_FORBIDDEN, "state", "registration not allowed in this state");
    snprintf(action, sizeof(action), "refuse.%s", op_name(o->op));
    return audit(st, o->device_id, action, o->refusal, o->diag);
  }
  if (o->op == STW_RD_UPDATE) {
    stw_rd_reg_t cur;
    rc = stw_store_rd_get(st, o->reg.id, &cur);
    stw_rd_reg_clear(&cur);
    if (rc == STW_ERR_NOT_FOUND) { /* expired or deleted meanwhile */
      refuse(o, STW_ERR_NOT_FOUND, "no-registration", "no such registration");
      return STW_OK;
    }
    if (rc != STW_OK)
      return rc;
  }
  rc = stw_store_rd_put(st, &o->reg, o->res, o->n_res);
  if (rc == STW_ERR_EXISTS) {
    refuse(o, STW_ERR_FORBIDDEN, "ep-taken", "another device holds this ep");
    snprintf(action, sizeof(action), "refuse.%s", op_name(o->op));
    return audit(st, o->device_id, action, o->refusal, o->diag);
  }
  if (rc != STW_OK)
    return rc;
  if (transition && (rc = stw_store_transition(st, o->device_id, STW_EV_REGISTER, "daemon", "registered in the directory",
                                               &next)) != STW_OK)
    return rc;
  if (o->op == STW_RD_REGISTER) {
    char detail[STW_REASON_MAX];
    snprintf(detail, sizeof(detail), "ep %s, %zu links, lt %u, location /rd/%s", o->reg.ep, o->n_res, o->reg.lt,
             o->reg.id);
    return audit(st, o->device_id, "rd.register", "ok", detail);
  }
  return STW_OK;
}

unsigned stw_rd_coap_code(const stw_rd_outcome_t *o)
{
  switch (o->status) {
  case STW_OK:
    return o->op == STW_RD_REGISTER ? COAP_CODE(2, 1) : o->op == STW_RD_DELETE ? COAP_CODE(2, 2) : COAP_CODE(2, 4);
  case STW_ERR_MALFORMED:
  case STW_ERR_INVALID: return COAP_CODE(4, 0);
  case STW_ERR_UNAUTHENTICATED: return COAP_CODE(4, 1);
  case STW_ERR_FORBIDDEN: return COAP_CODE(4, 3);
  case STW_ERR_NOT_FOUND: return COAP_CODE(4, 4);
  case STW_ERR_TOO_LARGE: return COAP_CODE(4, 13);
  case STW_ERR_BUSY: return COAP_CODE(5, 3);
  default: return COAP_CODE(5, 0);
  }
}

stw_status_t stw_rd_expire(stw_store_t *st, int64_t now, uint64_t *removed)
{
  stw_status_t rc = stw_store_rd_expire(st, now, removed);
  if (rc != STW_OK || *removed == 0)
    return rc;
  char detail[STW_REASON_MAX];
  snprintf(detail, sizeof(detail), "%llu registrations passed their lifetime", (unsigned long long)*removed);
  return stw_store_audit_event(st, "daemon", "rd.expire", "", "ok", detail);
}

/* ---- lookups ----------------------------------------------------------------------- */

/* Is name one of the space-separated names in list? */
static bool in_list(const char *list, const char *name)
{
  size_t n = strlen(name);
  const char *p = list;
  while (*p) {
    while (*p == ' ')
      p++;
    const char *e = p;
    while (*e && *e != ' ')
      e++;
    if ((size_t)(e - p) == n && n > 0 && memcmp(p, name, n) == 0)
      return true;
    p = e;
  }
  return false;
}

typedef struct {
  const stw_rd_t *rd;
  const stw_asker_t *asker;
  const stw_rd_query_t *q;
  uint64_t skip;            /* visible matches still to skip (paging) */
  uint64_t left;            /* visible matches still to emit */
  stw_links_t *out;         /* the answer being built */
  stw_buf_t *text;
  stw_status_t err;
  bool any_quarantined;     /* else no entry needs the check below */
  char checked_id[STW_ID_HEX];  /* the device last checked, and its answer */
  bool checked_hidden;
} lookup_t;

/* A quarantined device's entries are hidden from everyone but itself; the
 * registration stays, so remediation brings them back as they were. */
static bool quarantined(stw_store_t *st, const char *device_id)
{
  return stw_store_device_in_state(st, device_id, STW_STATE_QUARANTINED);
}

static bool hidden_from(const stw_asker_t *asker, const char *device_id)
{
  return !(asker->authenticated && strcmp(asker->device_id, device_id) == 0);
}

static bool quarantine_hides(lookup_t *l, const stw_rd_reg_t *r)
{
  if (!l->any_quarantined || !hidden_from(l->asker, r->device_id))
    return false;
  /* Resource scans meet one registration's links in a row: ask once. */
  if (strcmp(l->checked_id, r->device_id) != 0) {
    snprintf(l->checked_id, sizeof(l->checked_id), "%s", r->device_id);
    l->checked_hidden = quarantined(l->rd->store, r->device_id);
  }
  return l->checked_hidden;
}

typedef struct {
  const char *name;
  const char *pattern;
  bool found;
} attr_match_t;

static stw_status_t match_device_attr(const stw_attr_row_t *a, void *ctx)
{
  attr_match_t *m = ctx;
  if (strcmp(a->name, m->name) == 0 && stw_match_value(m->pattern, a->value))
    m->found = true;
  return STW_OK;
}

/* Filters on the registration itself, and on the attributes its device lets
 * others discover (dattr); anything else does not match an endpoint. */
static bool reg_matches(const lookup_t *l, const stw_rd_reg_t *r, bool resource_scan)
{
  const stw_rd_query_t *q = l->q;
  if (q->has_ep && !stw_match_value(q->ep, r->ep))
    return false;
  if (q->has_d && !stw_match_value(q->d, r->d))
    return false;
  if (resource_scan)
    return true;
  for (size_t i = 0; i < q->n_filters; i++) {
    const stw_rd_filter_t *f = &q->filters[i];
    const char *pattern = f->has_value ? f->value : "*";
    if (strcmp(f->name, "base") == 0) {
      if (!stw_match_value(pattern, r->base))
        return false;
    } else if (strcmp(f->name, "et") == 0) {
      if (!stw_match_value(pattern, r->et))
        return false;
    } else if (strcmp(f->name, "href") == 0) {
      char href[STW_RD_ID_MAX + 8];
      snprintf(href, sizeof(href), "/rd/%s", r->id);
      if (!stw_match_value(pattern, href))
        return false;
    } else if (strcmp(f->name, "lt") == 0) {
      char lt[16];
      snprintf(lt, sizeof(lt), "%u", r->lt);
      if (!stw_match_value(pattern, lt))
        return false;
    } else {
      if (!in_list(r->dattr, f->name))
        return false;
      attr_match_t m = { .name = f->name, .pattern = pattern };
      if (stw_store_attr_list(l->rd->store, r->device_id, match_device_attr, &m) != STW_OK || !m.found)
        return false;
    }
  }
  return true;
}

/* Paging counts only what the asker may see, so hidden entries leave no gap. */
static stw_status_t take_match(lookup_t *l, bool *emit)
{
  *emit = false;
  if (l->skip > 0) {
    l->skip--;
    return STW_OK;
  }
  if (l->left == 0)
    return STW_ERR_EXISTS; /* page full: stop the scan */
  l->left--;
  *emit = true;
  return STW_OK;
}

static stw_status_t add_attr_str(stw_links_t *links, const char *name, const char *value)
{
  return stw_links_add_attr(links, name, strlen(name), value, strlen(value));
}

static stw_status_t on_endpoint(const stw_rd_reg_t *r, void *ctx)
{
  lookup_t *l = ctx;
  if (!stw_visible(r->vis, l->asker, r->device_id) || !reg_matches(l, r, false) || quarantine_hides(l, r))
    return STW_OK;
  bool emit;
  stw_status_t st = take_match(l, &emit);
  if (st != STW_OK || !emit)
    return st;
  char href[STW_RD_ID_MAX + 8];
  snprintf(href, sizeof(href), "/rd/%s", r->id);
  if ((st = stw_links_add(l->out, href, strlen(href))) == STW_OK && (st = add_attr_str(l->out, "ep", r->ep)) == STW_OK &&
      (!r->d[0] || (st = add_attr_str(l->out, "d", r->d)) == STW_OK) &&
      (st = add_attr_str(l->out, "base", r->base)) == STW_OK && (!r->et[0] || (st = add_attr_str(l->out, "et", r->et)) == STW_OK))
    st = add_attr_str(l->out, "rt", "core.rd-ep");
  return st == STW_OK ? STW_OK : (l->err = st);
}

/* A resource's target made absolute against its registration's base. */
static stw_status_t absolute_target(const stw_rd_reg_t *r, const char *href, char *out, size_t len)
{
  bool relative = strstr(href, "://") == NULL;
  int n = relative ? snprintf(out, len, "%s%s%s", r->base, href[0] == '/' ? "" : "/", href) : snprintf(out, len, "%s", href);
  return n > 0 && (size_t)n < len ? STW_OK : STW_ERR_TOO_LARGE;
}

static stw_status_t on_resource(const stw_rd_reg_t *r, const char *link, const char *vis, void *ctx)
{
  lookup_t *l = ctx;
  if (!stw_visible(r->vis, l->asker, r->device_id) || (vis[0] && !stw_visible(vis, l->asker, r->device_id)))
    return STW_OK;
  if (!reg_matches(l, r, true) || quarantine_hides(l, r))
    return STW_OK;
  stw_links_t one;
  if (stw_links_parse(link, strlen(link), &one) != STW_OK || stw_links_count(&one) != 1)
    return STW_OK; /* the store only holds links we wrote; skip anything else */
  const char *href = stw_link_target(&one, 0, NULL);
  for (size_t i = 0; i < l->q->n_filters; i++) {
    const stw_rd_filter_t *f = &l->q->filters[i];
    const char *pattern = f->has_value ? f->value : NULL;
    if (strcmp(f->name, "href") == 0) {
      if (pattern == NULL || !stw_match_value(pattern, href))
        return STW_OK;
    } else if (strcmp(f->name, "base") == 0) {
      if (pattern == NULL || !stw_match_value(pattern, r->base))
        return STW_OK;
    } else if (!stw_link_attr_matches(&one, 0, f->name, pattern)) {
      return STW_OK;
    }
  }
  bool emit;
  stw_status_t st = take_match(l, &emit);
  if (st != STW_OK || !emit)
    return st;
  char target[2 * STW_RD_VALUE_MAX];
  if ((st = absolute_target(r, href, target, sizeof(target))) != STW_OK ||
      (st = stw_links_add(l->out, target, strlen(target))) != STW_OK)
    return l->err = st;
  for (size_t j = 0; j < stw_link_attr_count(&one, 0) && st == STW_OK; j++) {
    const char *name = stw_link_attr_name(&one, 0, j);
    const char *value = stw_link_attr_value(&one, 0, j);
    st = stw_links_add_attr(l->out, name, strlen(name), value, value ? strlen(value) : 0);
  }
  return st == STW_OK ? STW_OK : (l->err = st);
}

stw_status_t stw_rd_lookup(const stw_rd_t *rd, const stw_asker_t *asker, stw_rd_lookup_t kind,
                           const stw_rd_query_t *q, int64_t now, stw_buf_t *out)
{
  lookup_t l = { .rd = rd, .asker = asker, .q = q, .text = out };
  uint64_t n_quarantined = 0;
  l.any_quarantined = stw_store_device_count(rd->store, STW_STATE_QUARANTINED, &n_quarantined) != STW_OK ||
                      n_quarantined > 0;
  uint64_t count = q->has_count ? q->count : STW_RDQ_COUNT_MAX;
  l.skip = q->has_page ? (uint64_t)q->page * count : 0;
  l.left = count;
  /* The answer is built in pieces: one links set holds at most STW_LINKS_MAX
   * links, so it is flushed into the text as it fills. */
  stw_buf_init(out, STW_RD_ANSWER_MAX);
  stw_status_t st = STW_OK;
  stw_rd_scan_t scan = { .now = now };
  if (q->has_ep)
    scan.ep = q->ep;
  else if (q->has_d && kind == STW_RD_LOOKUP_EP)
    scan.d = q->d;
  if (kind == STW_RD_LOOKUP_RES) {
    const stw_rd_filter_t *rt = stw_rd_query_filter(q, "rt", 0);
    if (rt != NULL && rt->has_value && strcmp(rt->value, "*") != 0) {
      scan.attr_name = "rt";
      scan.attr_value = rt->value;
      scan.ep = NULL;
    }
  }
  l.out = malloc(sizeof(*l.out));
  if (l.out == NULL)
    return STW_ERR_NOMEM;
  /* Scan page by page of links: flush whenever the set is nearly full. */
  uint64_t remaining = l.left;
  while (st == STW_OK) {
    stw_links_init(l.out);
    uint64_t batch = remaining < STW_LINKS_MAX ? remaining : STW_LINKS_MAX;
    l.left = batch;
    l.err = STW_OK;
    st = kind == STW_RD_LOOKUP_EP ? stw_store_rd_scan_eps(rd->store, &scan, on_endpoint, &l)
                                  : stw_store_rd_scan_res(rd->store, &scan, on_resource, &l);
    if (st == STW_ERR_EXISTS)
      st = STW_OK;
    if (st == STW_OK && l.err != STW_OK)
      st = l.err;
    if (st != STW_OK)
      break;
    size_t emitted = stw_links_count(l.out);
    if (emitted > 0 && (st = stw_links_write(l.out, out)) != STW_OK)
      break;
    remaining -= emitted;
    if (emitted < batch || remaining == 0)
      break;
    /* The next batch starts after everything emitted so far. */
    l.skip = (q->has_page ? (uint64_t)q->page * count : 0) + (count - remaining);
  }
  free(l.out);
  if (st != STW_OK) {
    stw_buf_free(out, false);
    stw_buf_init(out, STW_RD_ANSWER_MAX);
  }
  return st;
}

/* ---- resolution ---------------------------------------------------------------------- */

typedef struct {
  stw_attr_set_t *set;
  const char *dattr;
  stw_status_t err;
} attr_collect_t;

static stw_status_t collect_attr(const stw_attr_row_t *a, void *ctx)
{
  attr_collect_t *c = ctx;
  if (!in_list(c->dattr, a->name))
    return STW_OK;
  stw_status_t st = stw_attr_set_add(c->set, a->name, a->value, a->authority);
  if (st != STW_OK && st != STW_ERR_INVALID)
    c->err = st;
  return STW_OK;
}

/* key: value into map; our references to value are dropped either way. */
static bool put_pair(cbor_item_t *map, uint8_t key, cbor_item_t *value)
{
  return stw__cbor_map_put(map, cbor_build_uint8(key), value);
}

stw_status_t stw_rd_resolve(const stw_rd_t *rd, const stw_asker_t *asker, const char *handle,
                            const char *const *names, size_t n_names, int64_t now, stw_buf_t *out)
{
  stw_buf_init(out, STW_RD_ANSWER_MAX);
  size_t dlen = strlen(rd->domain->name);
  if (strncmp(handle, rd->domain->name, dlen) != 0 || handle[dlen] != '/' || strlen(handle + dlen + 1) != 32)
    return STW_ERR_NOT_FOUND;
  const char *id = handle + dlen + 1;
  uint8_t raw_id[STW_DEVICE_ID_LEN];
  if (stw_hex_decode(id, 32, raw_id, sizeof(raw_id)) != STW_OK)
    return STW_ERR_NOT_FOUND;

  stw_rd_reg_t reg;
  stw_device_t d;
  memset(&reg, 0, sizeof(reg));
  memset(&d, 0, sizeof(d));
  stw_attr_set_t *set = malloc(sizeof(*set));
  stw_buf_t root, disclosure, links_text;
  stw_buf_init(&root, STW_ATTR_SIGNED_ROOT_MAX);
  stw_buf_init(&disclosure, STW_ATTR_DISCLOSURE_MAX);
  stw_buf_init(&links_text, STW_RD_LINKS_MAX * 2);
  cbor_item_t *map = NULL;
  stw_status_t st = set ? STW_OK : STW_ERR_NOMEM;
  if (st == STW_OK)
    st = stw_store_rd_get_by_device(rd->store, id, &reg);
  /* Unknown, unregistered, expired and hidden all look the same. */
  if (st == STW_OK && (reg.expires_at <= now || !stw_visible(reg.vis, asker, reg.device_id) ||
                      (hidden_from(asker, reg.device_id) && quarantined(rd->store, reg.device_id))))
    st = STW_ERR_NOT_FOUND;
  if (st == STW_OK)
    st = stw_store_device_get(rd->store, id, &d);
  if (st != STW_OK)
    goto out;

  /* The visible resources, as a resource lookup for this ep would give them. */
  stw_rd_query_t q;
  memset(&q, 0, sizeof(q));
  q.has_ep = true;
  snprintf(q.ep, sizeof(q.ep), "%s", reg.ep);
  if ((st = stw_rd_lookup(rd, asker, STW_RD_LOOKUP_RES, &q, now, &links_text)) != STW_OK)
    goto out;

  /* Attributes: the manufacturer's (checked against the IDevID at
   * enrollment) and the owner's, but only those the device made discoverable;
   * a fresh salted tree and signed root per answer, so answers do not link. */
  stw_attr_set_init(set);
  if (in_list(reg.dattr, "manufacturer") && d.manufacturer[0])
    st = stw_attr_set_add(set, "manufacturer", d.manufacturer, d.manufacturer);
  if (st == STW_OK && in_list(reg.dattr, "model") && d.model[0])
    st = stw_attr_set_add(set, "model", d.model, d.manufacturer[0] ? d.manufacturer : rd->domain->name);
  attr_collect_t c = { .set = set, .dattr = reg.dattr };
  if (st == STW_OK)
    st = stw_store_attr_list(rd->store, id, collect_attr, &c);
  if (st == STW_OK)
    st = c.err;
  if (st != STW_OK)
    goto out;
  if (set->count > 0) {
    const char *wanted[STW_ATTR_MAX_LEAVES];
    size_t n_wanted = 0;
    for (size_t i = 0; i < set->count; i++) {
      bool asked = names == NULL;
      for (size_t j = 0; names && j < n_names; j++)
        if (strcmp(names[j], set->attrs[i].name) == 0)
          asked = true;
      bool dup = false;
      for (size_t j = 0; j < n_wanted; j++)
        if (strcmp(wanted[j], set->attrs[i].name) == 0)
          dup = true;
      if (asked && !dup)
        wanted[n_wanted++] = set->attrs[i].name;
    }
    if (n_wanted > 0) {
      if ((st = stw_attr_sign_root(set, raw_id, now, now + ROOT_LIFETIME, rd->domain->ca_key, &root)) != STW_OK ||
          (st = stw_attr_disclose(set, root.data, root.len, wanted, n_wanted, &disclosure)) != STW_OK)
        goto out;
    }
  }

  stw_cert_info_t ldevid;
  bool have_key = d.ldevid != NULL && stw_cert_parse(d.ldevid, d.ldevid_len, &ldevid) == STW_OK;
  map = cbor_new_definite_map(have_key ? 6 : 5);
  cbor_item_t *addrs = cbor_new_definite_array(1);
  bool ok = map != NULL && addrs != NULL;
  if (ok) {
    cbor_item_t *base = cbor_build_string(reg.base);
    ok = base != NULL && cbor_array_push(addrs, base);
    if (base)
      cbor_decref(&base);
  }
  ok = ok && put_pair(map, 1, cbor_build_string(handle)) && put_pair(map, 2, cbor_build_string(reg.ep));
  if (ok) {
    ok = put_pair(map, 3, addrs);
    addrs = NULL;
  }
  if (ok && have_key)
    ok = put_pair(map, 4, cbor_build_bytestring(ldevid.spki, ldevid.spki_len));
  if (ok)
    ok = put_pair(map, 5, cbor_build_stringn(links_text.len ? (const char *)links_text.data : "", links_text.len));
  if (ok)
    ok = put_pair(map, 6, cbor_build_bytestring(disclosure.len ? disclosure.data : (const uint8_t *)"", disclosure.len));
  if (addrs)
    cbor_decref(&addrs);
  if (!ok) {
    st = STW_ERR_NOMEM;
    goto out;
  }
  unsigned char *bytes = NULL;
  size_t cap = 0;
  size_t n = cbor_serialize_alloc(map, &bytes, &cap);
  st = n > 0 ? stw_buf_append(out, bytes, n) : STW_ERR_NOMEM;
  free(bytes);
out:
  if (map)
    cbor_decref(&map);
  free(set);
  stw_buf_free(&root, false);
  stw_buf_free(&disclosure, false);
  stw_buf_free(&links_text, false);
  stw_rd_reg_clear(&reg);
  stw_device_clear(&d);
  if (st != STW_OK) {
    stw_buf_free(out, false);
    stw_buf_init(out, STW_RD_ANSWER_MAX);
  }
  return st;
}
