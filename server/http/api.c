/* The HTTP side's decisions and answers, over plain data and the store. */
#include "http/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compliance/compliance.h"
#include "vuln/vuln.h"

#define JSON_TYPE "application/json"
#define TEXT_TYPE "text/plain; charset=utf-8"
#define ERROR_MAX 512
#define UINT63_DIGITS 19   /* INT64_MAX has 19 digits: every sequence number fits */

#define PREFIX_DEVICE "/api/v1/devices/"

/* ---- routes and queries ---------------------------------------------------- */

static bool path_is(const char *path, size_t len, const char *want)
{
  size_t n = strlen(want);
  return len == n && memcmp(path, want, n) == 0;
}

static bool is_device_id(const char *s, size_t len)
{
  if (len != STW_ID_HEX - 1)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

stw_status_t stw_http_route_match(const char *path, size_t path_len, stw_route_t *out)
{
  memset(out, 0, sizeof(*out));
  out->limit = STW_HTTP_AUDIT_LIMIT;
  if (path == NULL || path_len > STW_URI_MAX)
    return STW_ERR_NOT_FOUND;
  if (path_is(path, path_len, "/.well-known/security.txt")) {
    out->kind = STW_ROUTE_SECURITY_TXT;
    return STW_OK;
  }
  out->api = true;
  if (path_is(path, path_len, "/api/v1/devices"))
    out->kind = STW_ROUTE_DEVICES;
  else if (path_is(path, path_len, "/api/v1/compliance"))
    out->kind = STW_ROUTE_COMPLIANCE;
  else if (path_is(path, path_len, "/api/v1/audit"))
    out->kind = STW_ROUTE_AUDIT;
  else if (path_len > sizeof(PREFIX_DEVICE) - 1 && memcmp(path, PREFIX_DEVICE, sizeof(PREFIX_DEVICE) - 1) == 0 &&
           is_device_id(path + sizeof(PREFIX_DEVICE) - 1, path_len - (sizeof(PREFIX_DEVICE) - 1))) {
    out->kind = STW_ROUTE_DEVICE;
    memcpy(out->device_id, path + sizeof(PREFIX_DEVICE) - 1, STW_ID_HEX - 1);
    out->device_id[STW_ID_HEX - 1] = '\0';
  } else {
    out->api = false;
    return STW_ERR_NOT_FOUND;
  }
  return STW_OK;
}

/* Decimal without sign or leading zeros, at most max. */
static bool parse_number(const stw_http_param_t *p, uint64_t min, uint64_t max, uint64_t *out)
{
  if (p->value == NULL || p->value_len == 0 || p->value_len > UINT63_DIGITS ||
      (p->value_len > 1 && p->value[0] == '0'))
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < p->value_len; i++) {
    if (p->value[i] < '0' || p->value[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(p->value[i] - '0');  /* 19 digits cannot overflow 64 bits */
  }
  if (v < min || v > max)
    return false;
  *out = v;
  return true;
}

static bool name_is(const stw_http_param_t *p, const char *want)
{
  return p->name != NULL && path_is(p->name, p->name_len, want);
}

stw_status_t stw_http_query_parse(stw_route_t *r, const stw_http_param_t *params, size_t n)
{
  if (n > STW_HTTP_PARAMS_MAX || (n > 0 && params == NULL))
    return STW_ERR_MALFORMED;
  bool seen_device = false, seen_since = false, seen_limit = false;
  char device_id[STW_ID_HEX] = "";
  uint64_t since = 0, limit = STW_HTTP_AUDIT_LIMIT;
  for (size_t i = 0; i < n; i++) {
    const stw_http_param_t *p = &params[i];
    if (p->name_len > STW_HTTP_PARAM_MAX || p->value_len > STW_HTTP_PARAM_MAX)
      return STW_ERR_MALFORMED;
    if (r->kind == STW_ROUTE_COMPLIANCE && name_is(p, "device") && !seen_device) {
      if (p->value == NULL || !is_device_id(p->value, p->value_len))
        return STW_ERR_MALFORMED;
      memcpy(device_id, p->value, STW_ID_HEX - 1);
      device_id[STW_ID_HEX - 1] = '\0';
      seen_device = true;
    } else if (r->kind == STW_ROUTE_AUDIT && name_is(p, "since") && !seen_since) {
      if (!parse_number(p, 0, INT64_MAX, &since))
        return STW_ERR_MALFORMED;
      seen_since = true;
    } else if (r->kind == STW_ROUTE_AUDIT && name_is(p, "limit") && !seen_limit) {
      if (!parse_number(p, 1, STW_HTTP_AUDIT_LIMIT_MAX, &limit))
        return STW_ERR_MALFORMED;
      seen_limit = true;
    } else {
      return STW_ERR_MALFORMED;  /* unknown here, or said twice */
    }
  }
  if (seen_device)
    memcpy(r->device_id, device_id, sizeof(device_id));
  r->since = since;
  r->limit = limit;
  return STW_OK;
}

bool stw_http_bearer_ok(const char *header, const char *token, size_t token_len)
{
  static const char scheme[] = "Bearer ";
  if (header == NULL || token == NULL || token_len == 0)
    return false;
  size_t len = strnlen(header, STW_HTTP_AUTH_MAX + 1);
  if (len > STW_HTTP_AUTH_MAX || len < sizeof(scheme) - 1 || strncasecmp(header, scheme, sizeof(scheme) - 1) != 0)
    return false;
  const char *given = header + sizeof(scheme) - 1;
  size_t given_len = len - (sizeof(scheme) - 1);
  /* The token's length is no secret (64 hex digits); its bytes are. */
  return given_len == token_len && stw_ct_equal(given, token, token_len);
}

/* ---- answers ------------------------------------------------------------------ */

/* Store text as a JSON string. jansson refuses bytes that are not UTF-8; such
 * a value is shown with '?' for every non-ASCII byte rather than dropped. */
static json_t *text(const char *s)
{
  json_t *j = json_string(s);
  if (j != NULL)
    return j;
  size_t n = strlen(s);
  char *copy = malloc(n + 1);
  if (copy == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
  copy[n] = '\0';
  j = json_string(copy);
  free(copy);
  return j;
}

static stw_status_t set(json_t *obj, const char *key, json_t *value)
{
  return value != NULL && json_object_set_new(obj, key, value) == 0 ? STW_OK : STW_ERR_NOMEM;
}

/* Dump root (consumed) into a's body with status 200. */
static stw_status_t put_json(json_t *root, stw_http_answer_t *a)
{
  if (root == NULL)
    return STW_ERR_NOMEM;
  char *dump = json_dumps(root, JSON_INDENT(2));
  json_decref(root);
  if (dump == NULL)
    return STW_ERR_NOMEM;
  a->body.len = 0;
  stw_status_t st = stw_buf_append(&a->body, dump, strlen(dump));
  if (st == STW_OK)
    st = stw_buf_append(&a->body, "\n", 1);
  free(dump);
  if (st == STW_OK) {
    a->status = 200;
    a->content_type = JSON_TYPE;
  }
  return st;
}

static json_t *device_json(const stw_device_t *d)
{
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  bool has_ldevid = d->cred_kind == STW_CRED_X509 && d->ldevid_not_after > 0;
  if (set(o, "id", text(d->id)) != STW_OK || set(o, "name", text(d->name)) != STW_OK ||
      set(o, "model", text(d->model)) != STW_OK || set(o, "manufacturer", text(d->manufacturer)) != STW_OK ||
      set(o, "state", json_string(stw_state_name(d->state))) != STW_OK ||
      set(o, "credential", json_string(d->cred_kind == STW_CRED_PSK ? "psk" : "x509")) != STW_OK ||
      set(o, "ldevid_not_after", has_ldevid ? json_integer((json_int_t)d->ldevid_not_after) : json_null()) != STW_OK) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static stw_status_t add_device(const stw_device_t *d, void *ctx)
{
  json_t *o = device_json(d);
  return o != NULL && json_array_append_new(ctx, o) == 0 ? STW_OK : STW_ERR_NOMEM;
}

static stw_status_t answer_devices(const stw_http_api_t *api, stw_http_answer_t *a)
{
  json_t *list = json_array();
  json_t *root = json_object();
  stw_status_t st = STW_ERR_NOMEM;
  if (list == NULL || root == NULL)
    goto fail;
  if ((st = stw_store_device_list(api->store, -1, add_device, list)) != STW_OK)
    goto fail;
  if ((st = set(root, "domain", text(api->domain_name))) != STW_OK)
    goto fail;
  st = set(root, "devices", list);
  list = NULL;
  if (st != STW_OK)
    goto fail;
  return put_json(root, a);
fail:
  json_decref(list);
  json_decref(root);
  return st;
}

static stw_status_t answer_device(const stw_http_api_t *api, const char *id, stw_http_answer_t *a)
{
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  stw_status_t st = stw_store_device_get(api->store, id, &d);
  if (st != STW_OK)
    return st;
  json_t *o = device_json(&d);
  stw_device_clear(&d);
  return put_json(o, a);
}

static stw_status_t answer_compliance(const stw_http_api_t *api, const stw_route_t *r, stw_http_answer_t *a)
{
  stw_compliance_t report;
  memset(&report, 0, sizeof(report));
  stw_status_t st = stw_compliance_collect(api->store, api->data_dir, api->domain_name,
                                           r->device_id[0] != '\0' ? r->device_id : NULL, api->now, &report);
  if (st == STW_OK) {
    stw_buf_free(&a->body, false);
    st = stw_compliance_json(&report, &a->body);
  }
  stw_compliance_free(&report);
  if (st == STW_OK) {
    a->status = 200;
    a->content_type = JSON_TYPE;
  }
  return st;
}

typedef struct {
  json_t *list;
  uint64_t last;
} audit_page_t;

static stw_status_t add_audit(const stw_audit_t *r, void *ctx)
{
  audit_page_t *page = ctx;
  char hash[65], prev[65];
  stw_hex_encode(r->hash, sizeof(r->hash), hash);
  stw_hex_encode(r->prev_hash, sizeof(r->prev_hash), prev);
  json_t *o = json_object();
  if (o == NULL)
    return STW_ERR_NOMEM;
  if (set(o, "seq", json_integer((json_int_t)r->seq)) != STW_OK || set(o, "at", json_integer((json_int_t)r->at)) != STW_OK ||
      set(o, "actor", text(r->actor)) != STW_OK || set(o, "action", text(r->action)) != STW_OK ||
      set(o, "subject", text(r->subject)) != STW_OK || set(o, "outcome", text(r->outcome)) != STW_OK ||
      set(o, "detail", text(r->detail)) != STW_OK || set(o, "prev_hash", json_string(prev)) != STW_OK ||
      set(o, "hash", json_string(hash)) != STW_OK || json_array_append_new(page->list, o) != 0) {
    json_decref(o);
    return STW_ERR_NOMEM;
  }
  page->last = r->seq;
  return STW_OK;
}

static stw_status_t answer_audit(const stw_http_api_t *api, const stw_route_t *r, stw_http_answer_t *a)
{
  audit_page_t page = { json_array(), r->since };
  json_t *root = json_object();
  stw_status_t st = STW_ERR_NOMEM;
  if (page.list == NULL || root == NULL)
    goto fail;
  if ((st = stw_store_audit_list(api->store, r->since, r->limit, add_audit, &page)) != STW_OK)
    goto fail;
  /* next: the since= of the following page (equal to since when nothing more came). */
  if ((st = set(root, "next", json_integer((json_int_t)page.last))) != STW_OK)
    goto fail;
  st = set(root, "records", page.list);
  page.list = NULL;
  if (st != STW_OK)
    goto fail;
  return put_json(root, a);
fail:
  json_decref(page.list);
  json_decref(root);
  return st;
}

static stw_status_t answer_security_txt(const stw_http_api_t *api, stw_http_answer_t *a)
{
  /* Rendered for each request, so Expires always lies STW_SECURITY_TXT_DAYS ahead. */
  stw_security_txt_opts_t o = { .domain_name = api->domain_name, .coap_contact = api->coap_contact };
  stw_buf_free(&a->body, false);
  stw_status_t st = stw_security_txt(&o, api->now, &a->body);
  if (st == STW_OK) {
    a->status = 200;
    a->content_type = TEXT_TYPE;
  }
  return st;
}

stw_status_t stw_http_answer(const stw_http_api_t *api, const stw_route_t *r, stw_http_answer_t *a)
{
  stw_buf_init(&a->body, STW_HTTP_BODY_MAX);
  a->status = 500;
  a->content_type = TEXT_TYPE;
  stw_status_t st = STW_ERR_INVALID;
  switch (r->kind) {
  case STW_ROUTE_SECURITY_TXT:
    st = answer_security_txt(api, a);
    if (st == STW_ERR_INVALID) {
      stw_http_error(404, "no security.txt: the domain name is not a host name", false, a);
      return st;
    }
    break;
  case STW_ROUTE_DEVICES:
    st = answer_devices(api, a);
    break;
  case STW_ROUTE_DEVICE:
    st = answer_device(api, r->device_id, a);
    break;
  case STW_ROUTE_COMPLIANCE:
    st = answer_compliance(api, r, a);
    break;
  case STW_ROUTE_AUDIT:
    st = answer_audit(api, r, a);
    break;
  }
  if (st == STW_ERR_NOT_FOUND)
    stw_http_error(404, "no such device", r->api, a);
  else if (st != STW_OK)
    stw_http_error(500, stw_status_str(st), r->api, a);
  return st;
}

void stw_http_error(unsigned status, const char *message, bool api, stw_http_answer_t *a)
{
  stw_buf_free(&a->body, false);
  stw_buf_init(&a->body, ERROR_MAX);
  a->status = status;
  a->content_type = TEXT_TYPE;
  if (api) {
    json_t *root = json_pack("{s:s}", "error", message);
    if (put_json(root, a) == STW_OK) {
      a->status = status;
      return;
    }
    a->body.len = 0;
  }
  a->status = status;
  a->content_type = TEXT_TYPE;
  if (stw_buf_append(&a->body, message, strnlen(message, ERROR_MAX - 1)) != STW_OK ||
      stw_buf_append(&a->body, "\n", 1) != STW_OK)
    a->body.len = 0;
}
