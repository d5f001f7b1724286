#include "authz/pdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/context.h"

const char *stw_ace_error_name(stw_ace_error_t e)
{
  switch (e) {
  case STW_ACE_OK: return "ok";
  case STW_ACE_INVALID_REQUEST: return "invalid_request";
  case STW_ACE_INVALID_CLIENT: return "invalid_client";
  case STW_ACE_UNAUTHORIZED_CLIENT: return "unauthorized_client";
  case STW_ACE_UNSUPPORTED_GRANT_TYPE: return "unsupported_grant_type";
  case STW_ACE_INVALID_SCOPE: return "invalid_scope";
  case STW_ACE_UNSUPPORTED_POP_KEY: return "unsupported_pop_key";
  }
  return "invalid_request";
}

/* ---- the token request ------------------------------------------------------------ */

/* A concrete request path: '/'-separated segments, none empty, "." or "..",
 * no '*' (wildcards are the rules' business) and no byte a scope's text form
 * would misread. */
static bool concrete_path(const char *p, size_t n)
{
  if (n == 0 || p[0] != '/')
    return false;
  size_t seg = 1;
  for (size_t i = 1; i <= n; i++) {
    if (i == n || p[i] == '/') {
      size_t len = i - seg;
      if (len == 0 || (len == 1 && p[seg] == '.') || (len == 2 && p[seg] == '.' && p[seg + 1] == '.'))
        return false;
      seg = i + 1;
      continue;
    }
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c >= 0x7f || c == '*' || c == ';' || c == ',')
      return false;
  }
  return true;
}

static stw_status_t parse_aif(stw_cbor_reader_t *r, stw_aif_t *scope)
{
  size_t n;
  stw_status_t st;
  memset(scope, 0, sizeof(*scope));
  if ((st = stw_cbor_read_array(r, &n)) != STW_OK)
    return st;
  if (n == 0)
    return STW_ERR_MALFORMED;
  if (n > STW_AIF_ENTRIES_MAX)
    return STW_ERR_TOO_LARGE;
  for (size_t i = 0; i < n; i++) {
    size_t pair;
    const char *path;
    size_t path_len;
    uint64_t methods;
    if ((st = stw_cbor_read_array(r, &pair)) != STW_OK)
      return st;
    if (pair != 2)
      return STW_ERR_MALFORMED;
    if ((st = stw_cbor_read_tstr(r, &path, &path_len)) != STW_OK || (st = stw_cbor_read_uint(r, &methods)) != STW_OK)
      return st;
    if (path_len > STW_AIF_PATH_MAX)
      return STW_ERR_TOO_LARGE;
    if (!concrete_path(path, path_len) || methods == 0 || (methods & ~(uint64_t)STW_AIF_METHODS_ALL) != 0)
      return STW_ERR_MALFORMED;
    if ((st = stw_aif_add(scope, path, path_len, (unsigned)methods)) != STW_OK)
      return st == STW_ERR_INVALID ? STW_ERR_MALFORMED : st;
  }
  return STW_OK;
}

/* req_cnf: {1: COSE_Key {1: 2 (EC2), -1: 1 (P-256), -2: x, -3: y}} */
static stw_status_t parse_req_cnf(stw_cbor_reader_t *r, stw_token_request_t *out)
{
  size_t n, m;
  uint64_t key;
  stw_status_t st;
  if ((st = stw_cbor_read_map(r, &n)) != STW_OK)
    return st;
  if (n != 1)
    return STW_ERR_UNSUPPORTED;
  if ((st = stw_cbor_read_uint(r, &key)) != STW_OK)
    return st == STW_ERR_MALFORMED ? STW_ERR_UNSUPPORTED : st;
  if (key != 1)
    return STW_ERR_UNSUPPORTED;  /* kid or encrypted keys: not offered */
  if ((st = stw_cbor_read_map(r, &m)) != STW_OK)
    return st;
  int64_t kty = 0, crv = 0;
  bool have_x = false, have_y = false;
  for (size_t i = 0; i < m; i++) {
    int64_t label;
    if ((st = stw_cbor_read_int(r, &label)) != STW_OK)
      return st;
    if (label == 1 || label == -1) {
      int64_t v;
      if ((st = stw_cbor_read_int(r, &v)) != STW_OK)
        return st;
      if (label == 1)
        kty = v;
      else
        crv = v;
    } else if (label == -2 || label == -3) {
      const uint8_t *p;
      size_t len;
      if ((st = stw_cbor_read_bstr(r, &p, &len)) != STW_OK)
        return st;
      if (len != 32)
        return STW_ERR_UNSUPPORTED;
      memcpy(label == -2 ? out->req_x : out->req_y, p, 32);
      if (label == -2)
        have_x = true;
      else
        have_y = true;
    } else if ((st = stw_cbor_skip(r)) != STW_OK) {
      return st;
    }
  }
  if (kty != 2 || crv != 1 || !have_x || !have_y)
    return STW_ERR_UNSUPPORTED;
  out->has_req_cnf = true;
  return STW_OK;
}

stw_status_t stw_token_request_parse(const uint8_t *buf, size_t len, stw_token_request_t *out)
{
  stw_cbor_reader_t r;
  size_t n;
  unsigned seen = 0;
  stw_status_t st = STW_ERR_MALFORMED;
  memset(out, 0, sizeof(*out));
  if (buf == NULL || len == 0)
    goto out;
  if (len > STW_TOKEN_REQUEST_MAX) {
    st = STW_ERR_TOO_LARGE;
    goto out;
  }
  stw_cbor_reader_init(&r, buf, len);
  if ((st = stw_cbor_read_map(&r, &n)) != STW_OK)
    goto out;
  for (size_t i = 0; i < n; i++) {
    uint64_t key;
    if ((st = stw_cbor_read_uint(&r, &key)) != STW_OK)
      goto out;
    unsigned bit = 0;
    switch (key) {
    case STW_ACE_REQ_CNF: bit = 1u << 0; break;
    case STW_ACE_AUDIENCE: bit = 1u << 1; break;
    case STW_ACE_SCOPE: bit = 1u << 2; break;
    case STW_ACE_CLIENT_ID: bit = 1u << 3; break;
    case STW_ACE_GRANT_TYPE: bit = 1u << 4; break;
    case STW_ACE_PROFILE: bit = 1u << 5; break;
    default: bit = 0; break;
    }
    if (bit != 0 && (seen & bit)) {
      st = STW_ERR_MALFORMED;  /* a parameter twice: which one would count? */
      goto out;
    }
    seen |= bit;
    if (key == STW_ACE_AUDIENCE) {
      const char *a;
      size_t alen;
      if ((st = stw_cbor_read_tstr(&r, &a, &alen)) != STW_OK)
        goto out;
      if (alen == 0 || alen >= sizeof(out->audience) || memchr(a, '\0', alen) != NULL) {
        st = alen >= sizeof(out->audience) ? STW_ERR_TOO_LARGE : STW_ERR_MALFORMED;
        goto out;
      }
      memcpy(out->audience, a, alen);
      out->audience[alen] = '\0';
    } else if (key == STW_ACE_SCOPE) {
      stw_cbor_type_t type;
      if ((st = stw_cbor_peek_type(&r, &type)) != STW_OK)
        goto out;
      if (type == STW_CBOR_BSTR) {
        /* RFC 9200 carries a binary scope in a bstr: the AIF's encoding. */
        const uint8_t *p;
        size_t plen;
        stw_cbor_reader_t inner;
        if ((st = stw_cbor_read_bstr(&r, &p, &plen)) != STW_OK)
          goto out;
        stw_cbor_reader_init(&inner, p, plen);
        if ((st = parse_aif(&inner, &out->scope)) != STW_OK || (st = stw_cbor_expect_end(&inner)) != STW_OK)
          goto out;
      } else if ((st = parse_aif(&r, &out->scope)) != STW_OK) {
        goto out;
      }
    } else if (key == STW_ACE_REQ_CNF) {
      if ((st = parse_req_cnf(&r, out)) != STW_OK)
        goto out;
    } else if (key == STW_ACE_GRANT_TYPE) {
      uint64_t g;
      if ((st = stw_cbor_read_uint(&r, &g)) != STW_OK)
        goto out;
      if (g != STW_ACE_GRANT_CLIENT_CREDENTIALS) {
        st = STW_ERR_UNSUPPORTED;
        goto out;
      }
    } else if (key == STW_ACE_PROFILE) {
      uint64_t p;
      if ((st = stw_cbor_read_uint(&r, &p)) != STW_OK)
        goto out;
      if (p != STW_ACE_PROFILE_DTLS && p != STW_ACE_PROFILE_OSCORE) {
        st = STW_ERR_UNSUPPORTED;
        goto out;
      }
      out->profile = (unsigned)p;
    } else if ((st = stw_cbor_skip(&r)) != STW_OK) {
      goto out;
    }
  }
  if ((st = stw_cbor_expect_end(&r)) != STW_OK)
    goto out;
  /* OSCORE tokens are bound to the material, not to a key of the client's. */
  if (out->profile == STW_ACE_PROFILE_OSCORE && out->has_req_cnf) {
    st = STW_ERR_UNSUPPORTED;
    goto out;
  }
  st = (seen & (1u << 1)) && (seen & (1u << 2)) ? STW_OK : STW_ERR_MALFORMED;
out:
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

/* ---- scopes as text ------------------------------------------------------------------ */

void stw_scope_format(const stw_aif_t *scope, char *out, size_t cap)
{
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; i < scope->n && k < cap; i++) {
    char methods[64];
    const stw_aif_entry_t *e = &scope->entries[i];
    stw_methods_format(e->methods, methods, sizeof(methods));
    k += (size_t)snprintf(out + k, cap - k, "%s%.*s %s", i ? ";" : "", (int)e->path_len, scope->pool + e->path_offset,
                          methods);
  }
}

stw_status_t stw_scope_parse_text(const char *text, stw_aif_t *out)
{
  memset(out, 0, sizeof(*out));
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, ';');
    if (end == NULL)
      end = p + strlen(p);
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL)
      return STW_ERR_MALFORMED;
    unsigned methods = 0;
    const char *m = sp + 1;
    while (m < end) {
      const char *c = memchr(m, ',', (size_t)(end - m));
      if (c == NULL)
        c = end;
      unsigned bit = stw_method_bit(m, (size_t)(c - m));
      if (bit == 0)
        return STW_ERR_MALFORMED;
      methods |= bit;
      m = c + 1;
    }
    stw_status_t st = stw_aif_add(out, p, (size_t)(sp - p), methods);
    if (st != STW_OK)
      return st;
    p = *end ? end + 1 : end;
  }
  return out->n > 0 ? STW_OK : STW_ERR_MALFORMED;
}

/* ---- deciding ------------------------------------------------------------------------- */

void stw_pdp_party(const stw_identity_t *who, stw_policy_party_t *party)
{
  party->device_id = who->device_id;
  party->name = who->name;
  party->attrs = who->attrs;
  party->n_attrs = who->n_attrs;
}

static void add_policy_id(char *ids, size_t cap, int64_t id)
{
  char one[24];
  snprintf(one, sizeof(one), "%lld", (long long)id);
  /* Already listed? Compare whole items. */
  const char *p = ids;
  size_t n = strlen(one);
  while (*p) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    if (len == n && memcmp(p, one, n) == 0)
      return;
    p = c ? c + 1 : p + len;
  }
  size_t used = strlen(ids);
  snprintf(ids + used, cap - used, "%s%s", used ? "," : "", one);
}

void stw_pdp_evaluate(const stw_policy_t *rules, size_t n, const stw_policy_party_t *subject,
                      const stw_policy_party_t *audience, const stw_aif_t *asked, int64_t now,
                      stw_context_read_fn read_context, void *context_arg, stw_pdp_result_t *out)
{
  memset(out, 0, sizeof(*out));
  snprintf(out->why, sizeof(out->why), "nothing asked");
  for (size_t i = 0; i < asked->n; i++) {
    const stw_aif_entry_t *e = &asked->entries[i];
    char path[STW_AIF_PATH_MAX + 1];
    memcpy(path, asked->pool + e->path_offset, e->path_len);
    path[e->path_len] = '\0';
    unsigned granted = 0;
    for (unsigned bit = 1; bit <= STW_AIF_IPATCH; bit <<= 1) {
      if ((e->methods & bit) == 0)
        continue;
      stw_policy_request_t r = {
        .subject = *subject,
        .audience = *audience,
        .path = path,
        .method = bit,
        .now = now,
        .read_context = read_context,
        .context_arg = context_arg,
      };
      stw_policy_decision_t d;
      stw_policy_decide(rules, n, &r, &d);
      if (d.permit) {
        granted |= bit;
        add_policy_id(out->policy_ids, sizeof(out->policy_ids), d.rule_id);
      } else {
        out->deciding_rule = d.rule_id;
        snprintf(out->why, sizeof(out->why), "%s %s: %s", stw_method_name(bit), path, d.why);
      }
    }
    /* Cannot fail: the granted scope is a subset of one that fitted. */
    if (granted != 0 && stw_aif_add(&out->granted, path, e->path_len, granted) != STW_OK)
      continue;
  }
  out->permit = out->granted.n > 0;
  if (out->permit)
    snprintf(out->why, sizeof(out->why), "permitted by rule(s) %s", out->policy_ids);
}

typedef struct {
  stw_policy_t *rules;
  size_t n;
  size_t cap;
  stw_status_t status;
} load_ctx_t;

static stw_status_t load_one(const stw_policy_row_t *row, void *arg)
{
  load_ctx_t *l = arg;
  if (l->n >= STW_PDP_RULES_MAX)
    return STW_ERR_TOO_LARGE;
  /* Grow as rules come: a decision costs the rules there are, not the maximum. */
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    stw_policy_t *more = realloc(l->rules, cap * sizeof(*more));
    if (more == NULL)
      return STW_ERR_NOMEM;
    l->rules = more;
    l->cap = cap;
  }
  /* A row that no longer parses is skipped, never half-read: it cannot permit. */
  if (stw_policy_from_row(row, &l->rules[l->n]) == STW_OK)
    l->n++;
  return STW_OK;
}

stw_status_t stw_pdp_load_rules(stw_store_t *st, stw_policy_t **rules, size_t *n)
{
  load_ctx_t l = { 0 };
  *rules = NULL;
  *n = 0;
  stw_status_t rc = stw_store_policy_list(st, load_one, &l);
  if (rc != STW_OK) {
    free(l.rules);
    return rc;
  }
  *rules = l.rules;
  *n = l.n;
  return STW_OK;
}

void stw_pdp_outcome_init(stw_pdp_outcome_t *o)
{
  memset(o, 0, sizeof(*o));
  stw_buf_init(&o->token, STW_PEP_TOKEN_MAX);
  o->error = STW_ACE_INVALID_REQUEST;
  o->coap_code = 400;
}

void stw_pdp_outcome_clear(stw_pdp_outcome_t *o)
{
  stw_buf_free(&o->token, false);
  stw_wipe(o->osc_ms, sizeof(o->osc_ms));
  memset(o, 0, sizeof(*o));
}

static stw_status_t refuse(stw_pdp_outcome_t *o, stw_ace_error_t e, unsigned code, const char *diag)
{
  o->error = e;
  o->coap_code = code;
  snprintf(o->diag, sizeof(o->diag), "%s", diag);
  return STW_OK;
}

/* The audience by name (as assigned at bootstrap) or by device id. */
static stw_status_t find_audience(stw_store_t *st, const char *audience, char id[STW_ID_HEX])
{
  stw_device_t d;
  if (strlen(audience) == 32 && stw_store_device_get(st, audience, &d) == STW_OK) {
    snprintf(id, STW_ID_HEX, "%s", d.id);
    stw_device_clear(&d);
    return STW_OK;
  }
  if (strlen(audience) >= STW_TEXT_MAX)
    return STW_ERR_NOT_FOUND;
  return stw_store_device_find_by_name(st, audience, id);
}

/* A quarantined device neither gets tokens nor is the audience of new ones
 * until it is remediated (docs/attestation.md). */
static bool is_quarantined(stw_store_t *st, const char *device_id)
{
  return stw_store_device_in_state(st, device_id, STW_STATE_QUARANTINED);
}

stw_status_t stw_pdp_decide(const stw_pdp_t *pdp, const stw_identity_t *client, const uint8_t *body, size_t len,
                            int64_t now, stw_pdp_outcome_t *o)
{
  stw_token_request_t *req = NULL;
  stw_identity_t *aud = NULL;
  stw_policy_t *rules = NULL;
  size_t n_rules = 0;
  stw_pdp_result_t result;
  stw_status_t st = STW_OK;

  if (client->decommissioned) {
    st = refuse(o, STW_ACE_UNAUTHORIZED_CLIENT, 403, "decommissioned");
    goto out;
  }
  if (!client->authenticated) {
    st = refuse(o, STW_ACE_INVALID_CLIENT, 401, "not an enrolled device of this domain");
    goto out;
  }
  snprintf(o->client_id, sizeof(o->client_id), "%s", client->device_id);
  if (is_quarantined(pdp->store, client->device_id)) {
    st = refuse(o, STW_ACE_UNAUTHORIZED_CLIENT, 403, "quarantined");
    goto out;
  }
  if (client->spki_len == 0) {
    st = refuse(o, STW_ACE_UNAUTHORIZED_CLIENT, 401, "tokens are bound to an LDevID key; PSK devices get none");
    goto out;
  }
  req = calloc(1, sizeof(*req));
  aud = calloc(1, sizeof(*aud));
  if (req == NULL || aud == NULL) {
    st = STW_ERR_NOMEM;
    goto out;
  }
  stw_status_t ps = stw_token_request_parse(body, len, req);
  if (ps == STW_ERR_UNSUPPORTED) {
    st = refuse(o, STW_ACE_UNSUPPORTED_POP_KEY, 400,
                "req_cnf must be an EC2 P-256 COSE_Key; grant_type client_credentials; ace_profile 1 or 2, "
                "no req_cnf with 2");
    goto out;
  }
  if (ps != STW_OK) {
    st = refuse(o, STW_ACE_INVALID_REQUEST, 400,
                ps == STW_ERR_TOO_LARGE ? "request over its limits" : "malformed token request (audience and AIF scope of concrete paths)");
    goto out;
  }
  uint8_t x[32], y[32];
  if (stw_spki_to_xy(client->spki, client->spki_len, x, y) != STW_OK) {
    st = refuse(o, STW_ACE_UNAUTHORIZED_CLIENT, 401, "client key is not P-256");
    goto out;
  }
  /* The token binds the key the session proved; asking for another one is refused. */
  if (req->has_req_cnf && (!stw_ct_equal(req->req_x, x, 32) || !stw_ct_equal(req->req_y, y, 32))) {
    st = refuse(o, STW_ACE_UNSUPPORTED_POP_KEY, 400, "req_cnf is not the key of this DTLS session");
    goto out;
  }
  char aud_id[STW_ID_HEX];
  /* An unknown audience is answered like a forbidden one: no probing for devices. */
  if (find_audience(pdp->store, req->audience, aud_id) != STW_OK ||
      stw_identify_device(pdp->store, pdp->domain, aud_id, aud) != STW_OK) {
    st = refuse(o, STW_ACE_INVALID_SCOPE, 403, "no rule permits this scope at this audience");
    goto out;
  }
  if (is_quarantined(pdp->store, aud_id)) {
    st = refuse(o, STW_ACE_INVALID_SCOPE, 403, "quarantined");
    goto out;
  }
  if ((st = stw_pdp_load_rules(pdp->store, &rules, &n_rules)) != STW_OK)
    goto out;
  stw_policy_party_t sp, ap;
  stw_pdp_party(client, &sp);
  stw_pdp_party(aud, &ap);
  stw_context_reader_t reader = { .store = pdp->store, .audience = aud };
  stw_pdp_evaluate(rules, n_rules, &sp, &ap, &req->scope, now, stw_context_read, &reader, &result);
  if (!result.permit) {
    char diag[192];
    snprintf(diag, sizeof(diag), "%s", result.why);
    st = refuse(o, STW_ACE_INVALID_SCOPE, 403, diag);
    goto out;
  }

  /* Issue. */
  uint8_t cti[16];
  if ((st = stw_random(cti, sizeof(cti))) != STW_OK)
    goto out;
  int64_t lifetime = pdp->lifetime > 0 ? pdp->lifetime : STW_TOKEN_LIFETIME_DEFAULT;
  stw_cwt_t claims;
  stw_cwt_init(&claims);
  claims.present = STW_CWT_HAS_ISS | STW_CWT_HAS_SUB | STW_CWT_HAS_AUD | STW_CWT_HAS_IAT | STW_CWT_HAS_EXP |
                   STW_CWT_HAS_CTI | STW_CWT_HAS_CNF | STW_CWT_HAS_SCOPE;
  claims.iss = pdp->domain->name;
  claims.iss_len = strlen(pdp->domain->name);
  claims.sub = client->device_id;
  claims.sub_len = strlen(client->device_id);
  /* aud is the name the device was given: what its PEP knows itself as. */
  const char *aud_name = aud->name[0] ? aud->name : aud->device_id;
  claims.aud = aud_name;
  claims.aud_len = strlen(aud_name);
  claims.iat = now;
  claims.exp = now + lifetime;
  memcpy(claims.cti, cti, sizeof(cti));
  claims.cti_len = sizeof(cti);
  claims.scope = result.granted;
  if (req->profile == STW_ACE_PROFILE_OSCORE) {
    /* RFC 9203 3.2: fresh material; the token holds the secret sealed to
     * the audience's LDevID key, the client gets it over this session. */
    if (aud->spki_len == 0) {
      st = refuse(o, STW_ACE_UNSUPPORTED_POP_KEY, 400, "the audience has no LDevID key to seal an OSCORE secret to");
      goto out;
    }
    stw_buf_t sealed = { 0 };
    if ((st = stw_random(o->osc_ms, sizeof(o->osc_ms))) != STW_OK ||
        (st = stw_random(o->osc_id, sizeof(o->osc_id))) != STW_OK ||
        (st = stw_random(o->osc_salt, sizeof(o->osc_salt))) != STW_OK ||
        (st = stw_seal(aud->spki, aud->spki_len, (const uint8_t *)STW_CWT_OSC_SEAL_INFO,
                       sizeof(STW_CWT_OSC_SEAL_INFO) - 1, o->osc_ms, sizeof(o->osc_ms), &sealed)) != STW_OK)
      goto out;
    if (sealed.len > sizeof(claims.osc_ms_sealed)) {
      stw_buf_free(&sealed, false);
      st = STW_ERR_TOO_LARGE;
      goto out;
    }
    claims.cnf_kind = STW_CWT_CNF_OSC;
    memcpy(claims.osc_id, o->osc_id, sizeof(o->osc_id));
    claims.osc_id_len = sizeof(o->osc_id);
    memcpy(claims.osc_salt, o->osc_salt, sizeof(o->osc_salt));
    claims.osc_salt_len = sizeof(o->osc_salt);
    memcpy(claims.osc_ms_sealed, sealed.data, sealed.len);
    claims.osc_ms_sealed_len = sealed.len;
    stw_buf_free(&sealed, false);
    o->oscore = true;
  } else {
    claims.cnf_kind = STW_PEP_CNF_KEY;
    memcpy(claims.cnf_x, x, 32);
    memcpy(claims.cnf_y, y, 32);
  }
  /* kid: the domain key's id, derived from the CA certificate's SPKI once
   * when the domain was opened (the daemon checked the key matches it). */
  const uint8_t *kid = pdp->domain->ca.device_id;
  if ((st = stw_cwt_encode_sign(&claims, pdp->domain->ca_key, kid, sizeof(pdp->domain->ca.device_id), &o->token)) !=
      STW_OK)
    goto out;

  stw_hex_encode(cti, sizeof(cti), o->row.cti);
  snprintf(o->row.subject_id, sizeof(o->row.subject_id), "%s", client->device_id);
  snprintf(o->row.audience_id, sizeof(o->row.audience_id), "%s", aud->device_id);
  stw_scope_format(&result.granted, o->row.scope, sizeof(o->row.scope));
  snprintf(o->row.policy_ids, sizeof(o->row.policy_ids), "%s", result.policy_ids);
  o->row.iat = now;
  o->row.exp = now + lifetime;
  o->granted = result.granted;
  o->expires_in = lifetime;
  if (aud->spki_len > 0 && stw_spki_to_xy(aud->spki, aud->spki_len, o->rs_x, o->rs_y) == STW_OK)
    o->has_rs_cnf = true;
  o->error = STW_ACE_OK;
  o->coap_code = 201;
  o->diag[0] = '\0';
out:
  free(rules);
  free(req);
  free(aud);
  return st;
}

stw_status_t stw_pdp_apply(stw_store_t *st, stw_pdp_outcome_t *o)
{
  stw_audit_t a;
  memset(&a, 0, sizeof(a));
  if (o->client_id[0])
    snprintf(a.actor, sizeof(a.actor), "device:%s", o->client_id);
  else
    snprintf(a.actor, sizeof(a.actor), "unauthenticated");
  snprintf(a.subject, sizeof(a.subject), "%s", o->client_id[0] ? o->client_id : "-");
  if (o->error != STW_ACE_OK) {
    snprintf(a.action, sizeof(a.action), "refuse.token");
    snprintf(a.outcome, sizeof(a.outcome), "%s", stw_ace_error_name(o->error));
    snprintf(a.detail, sizeof(a.detail), "%s", o->diag);
    return stw_store_audit_append(st, &a);
  }
  stw_status_t rc = stw_store_token_put(st, &o->row);
  if (rc != STW_OK)
    return rc;
  snprintf(a.action, sizeof(a.action), "token.issue");
  snprintf(a.outcome, sizeof(a.outcome), "ok");
  snprintf(a.detail, sizeof(a.detail), "cti=%s aud=%s exp=%lld rules=%s scope=%.100s", o->row.cti, o->row.audience_id,
           (long long)o->row.exp, o->row.policy_ids, o->row.scope);
  return stw_store_audit_append(st, &a);
}

static stw_status_t put_aif(stw_buf_t *b, const stw_aif_t *scope)
{
  stw_status_t st = stw_cbor_write_head(b, STW_CBOR_ARRAY, scope->n);
  for (size_t i = 0; st == STW_OK && i < scope->n; i++) {
    const stw_aif_entry_t *e = &scope->entries[i];
    if ((st = stw_cbor_write_head(b, STW_CBOR_ARRAY, 2)) == STW_OK &&
        (st = stw_cbor_write_bytes(b, STW_CBOR_TSTR, scope->pool + e->path_offset, e->path_len)) == STW_OK)
      st = stw_cbor_write_head(b, STW_CBOR_UINT, e->methods);
  }
  return st;
}

stw_status_t stw_pdp_encode_response(const stw_pdp_outcome_t *o, stw_buf_t *out)
{
  stw_status_t st;
  stw_buf_init(out, 8192);
  if (o->error != STW_ACE_OK) {
    if ((st = stw_cbor_write_head(out, STW_CBOR_MAP, 2)) == STW_OK && (st = stw_cbor_write_int(out, STW_ACE_ERROR)) == STW_OK &&
        (st = stw_cbor_write_int(out, o->error)) == STW_OK &&
        (st = stw_cbor_write_int(out, STW_ACE_ERROR_DESCRIPTION)) == STW_OK)
      st = stw_cbor_write_bytes(out, STW_CBOR_TSTR, o->diag, strlen(o->diag));
    goto out;
  }
  stw_buf_t aif;
  stw_buf_init(&aif, 4096);
  if ((st = put_aif(&aif, &o->granted)) != STW_OK) {
    stw_buf_free(&aif, false);
    goto out;
  }
  st = stw_cbor_write_head(out, STW_CBOR_MAP, 3u + o->has_rs_cnf + 2u * o->oscore);
  if (st == STW_OK && (st = stw_cbor_write_int(out, STW_ACE_ACCESS_TOKEN)) == STW_OK)
    st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, o->token.data, o->token.len);
  if (st == STW_OK && (st = stw_cbor_write_int(out, STW_ACE_EXPIRES_IN)) == STW_OK)
    st = stw_cbor_write_int(out, o->expires_in);
  if (st == STW_OK && o->oscore) {
    /* cnf: {4: OSCORE_Input_Material {0: id, 2: ms, 5: salt}} (RFC 9203 3.2.1) */
    if ((st = stw_cbor_write_int(out, STW_ACE_CNF)) == STW_OK && (st = stw_cbor_write_head(out, STW_CBOR_MAP, 1)) == STW_OK &&
        (st = stw_cbor_write_int(out, STW_CWT_CNF_OSC)) == STW_OK && (st = stw_cbor_write_head(out, STW_CBOR_MAP, 3)) == STW_OK &&
        (st = stw_cbor_write_int(out, 0)) == STW_OK &&
        (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, o->osc_id, sizeof(o->osc_id))) == STW_OK &&
        (st = stw_cbor_write_int(out, 2)) == STW_OK &&
        (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, o->osc_ms, sizeof(o->osc_ms))) == STW_OK &&
        (st = stw_cbor_write_int(out, 5)) == STW_OK)
      st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, o->osc_salt, sizeof(o->osc_salt));
  }
  if (st == STW_OK && (st = stw_cbor_write_int(out, STW_ACE_SCOPE)) == STW_OK)
    st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, aif.data, aif.len);
  stw_buf_free(&aif, false);
  if (st == STW_OK && o->oscore && (st = stw_cbor_write_int(out, STW_ACE_PROFILE)) == STW_OK)
    st = stw_cbor_write_int(out, STW_ACE_PROFILE_OSCORE);
  if (st == STW_OK && o->has_rs_cnf) {
    /* rs_cnf: {1: COSE_Key {1: 2, -1: 1, -2: x, -3: y}} */
    if ((st = stw_cbor_write_int(out, STW_ACE_RS_CNF)) == STW_OK && (st = stw_cbor_write_head(out, STW_CBOR_MAP, 1)) == STW_OK &&
        (st = stw_cbor_write_int(out, 1)) == STW_OK && (st = stw_cbor_write_head(out, STW_CBOR_MAP, 4)) == STW_OK &&
        (st = stw_cbor_write_int(out, 1)) == STW_OK && (st = stw_cbor_write_int(out, 2)) == STW_OK &&
        (st = stw_cbor_write_int(out, -1)) == STW_OK && (st = stw_cbor_write_int(out, 1)) == STW_OK &&
        (st = stw_cbor_write_int(out, -2)) == STW_OK &&
        (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, o->rs_x, 32)) == STW_OK &&
        (st = stw_cbor_write_int(out, -3)) == STW_OK)
      st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, o->rs_y, 32);
  }
out:
  if (st != STW_OK)
    stw_buf_free(out, o->oscore);
  return st;
}
