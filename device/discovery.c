/* Registration, lookup and resolution (include/steward/discovery.h) over the
 * one-request operation of request.c. Everything that comes back is bounded
 * and, for resolution, verified before the caller sees any of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrtree.h"
#include "cose_internal.h"
#include "net_internal.h"
#include "steward/discovery.h"

#define CF_LINK_FORMAT 40
#define CF_CBOR 60
#define PATH_MAX_LEN 4096        /* path plus query of one request */
#define HANDLE_MAX 160
#define BASES_MAX 8

struct stw_resolution {
  char handle[HANDLE_MAX];
  char ep[STW_NAME_MAX];
  size_t n_base;
  char base[BASES_MAX][256];
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  char *links;
  stw_attr_disclosed_t attrs;
};

/* Text the SDK puts into a request line: printable ASCII, no separators that
 * would change its meaning (a query part, a path segment). */
static bool printable(const char *s, const char *forbidden)
{
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr(forbidden, *p) != NULL)
      return false;
  return true;
}

static bool valid_location(const char *location)
{
  return location != NULL && location[0] != '\0' && strlen(location) < STW_LOCATION_MAX &&
         printable(location, "?&#");
}

static stw_status_t links_body(const char *links, const uint8_t **body, size_t *len)
{
  *body = NULL;
  *len = 0;
  if (links == NULL)
    return STW_OK;
  size_t n = strnlen(links, STW_LOOKUP_ANSWER_MAX + 1);
  if (n > STW_LOOKUP_ANSWER_MAX)
    return STW_ERR_TOO_LARGE;
  *body = (const uint8_t *)links;
  *len = n;
  return STW_OK;
}

static void clear_report(stw_bootstrap_report_t *report)
{
  if (report != NULL)
    memset(report, 0, sizeof(*report));
}

/* "rd?ep=<name>[&lt=N][&extra]" */
static stw_status_t register_path(const stw_dev_t *dev, uint32_t lt, const char *extra, char *out, size_t len)
{
  if (dev->name[0] == '\0')
    return STW_ERR_STATE;
  if (extra != NULL && (!printable(extra, "?#") || strlen(extra) >= len))
    return STW_ERR_INVALID;
  char lt_part[24] = "";
  if (lt > 0)
    snprintf(lt_part, sizeof(lt_part), "&lt=%u", lt);
  int n = snprintf(out, len, "rd?ep=%s%s%s%s", dev->name, lt_part, extra && extra[0] ? "&" : "", extra ? extra : "");
  return n > 0 && (size_t)n < len ? STW_OK : STW_ERR_TOO_LARGE;
}

stw_status_t stw_register(stw_dev_t *dev, const char *server_uri, const char *links, uint32_t lt,
                          const char *extra_query, char location[STW_LOCATION_MAX],
                          stw_bootstrap_report_t *report)
{
  clear_report(report);
  char path[PATH_MAX_LEN];
  char where[STW__LOCATION_MAX] = "";
  const uint8_t *body;
  size_t len;
  stw_status_t st = register_path(dev, lt, extra_query, path, sizeof(path));
  if (st == STW_OK)
    st = links_body(links, &body, &len);
  if (st == STW_OK)
    st = stw__request_run(dev, server_uri, COAP_REQUEST_CODE_POST, path, CF_LINK_FORMAT, -1, body, len, 0, NULL,
                          NULL, where, report);
  if (st == STW_OK && !valid_location(where))
    st = STW_ERR_MALFORMED; /* a 2.01 must say where the registration lives */
  if (location != NULL)
    snprintf(location, STW_LOCATION_MAX, "%s", st == STW_OK ? where : "");
  return st;
}

stw_status_t stw_register_update(stw_dev_t *dev, const char *server_uri, const char *location, uint32_t lt,
                                 const char *links, stw_bootstrap_report_t *report)
{
  clear_report(report);
  if (!valid_location(location))
    return STW_ERR_INVALID;
  char path[STW_LOCATION_MAX + 24];
  if (lt > 0)
    snprintf(path, sizeof(path), "%s?lt=%u", location, lt);
  else
    snprintf(path, sizeof(path), "%s", location);
  const uint8_t *body;
  size_t len;
  stw_status_t st = links_body(links, &body, &len);
  if (st == STW_OK)
    st = stw__request_run(dev, server_uri, COAP_REQUEST_CODE_POST, path, body ? CF_LINK_FORMAT : -1, -1, body,
                          len, 0, NULL, NULL, NULL, report);
  return st;
}

stw_status_t stw_register_delete(stw_dev_t *dev, const char *server_uri, const char *location,
                                 stw_bootstrap_report_t *report)
{
  clear_report(report);
  if (!valid_location(location))
    return STW_ERR_INVALID;
  return stw__request_run(dev, server_uri, COAP_REQUEST_CODE_DELETE, location, -1, -1, NULL, 0, 0, NULL, NULL, NULL,
                          report);
}

stw_status_t stw_lookup(stw_dev_t *dev, const char *server_uri, const char *kind, const char *query,
                        char **links_out, size_t *len, stw_bootstrap_report_t *report)
{
  clear_report(report);
  *links_out = NULL;
  if (len != NULL)
    *len = 0;
  if (kind == NULL || (strcmp(kind, "ep") != 0 && strcmp(kind, "res") != 0))
    return STW_ERR_INVALID;
  if (query != NULL && (!printable(query, "?#") || strlen(query) > 2048))
    return STW_ERR_INVALID;
  char path[2200];
  snprintf(path, sizeof(path), "rd-lookup/%s%s%s", kind, query && query[0] ? "?" : "", query ? query : "");
  uint8_t *answer = NULL;
  size_t n = 0;
  stw_status_t st = stw__request_run(dev, server_uri, COAP_REQUEST_CODE_GET, path, -1, CF_LINK_FORMAT, NULL, 0,
                                     STW_LOOKUP_ANSWER_MAX, &answer, &n, NULL, report);
  if (st != STW_OK)
    return st;
  *links_out = (char *)answer;
  if (len != NULL)
    *len = n;
  return STW_OK;
}

/* ---- resolution -------------------------------------------------------------------- */

static bool take_text(const cbor_item_t *v, char *out, size_t cap)
{
  if (!cbor_isa_string(v) || !cbor_string_is_definite(v) || cbor_string_length(v) >= cap)
    return false;
  size_t n = cbor_string_length(v);
  memcpy(out, cbor_string_handle(v), n);
  out[n] = '\0';
  return memchr(out, '\0', n) == NULL;
}

/* The device a handle names: what follows its last '/', 32 hex digits. */
static stw_status_t handle_device(const char *handle, uint8_t id[STW_DEVICE_ID_LEN])
{
  const char *slash = strrchr(handle, '/');
  if (slash == NULL || slash == handle || strlen(slash + 1) != 2 * STW_DEVICE_ID_LEN)
    return STW_ERR_INVALID;
  return stw_hex_decode(slash + 1, 2 * STW_DEVICE_ID_LEN, id, STW_DEVICE_ID_LEN) == STW_OK ? STW_OK : STW_ERR_INVALID;
}

static stw_status_t read_answer(const cbor_item_t *map, stw_resolution_t *r, const uint8_t **disclosure,
                                size_t *disclosure_len)
{
  bool seen[7] = { false };
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); i++) {
    const cbor_item_t *k = pairs[i].key, *v = pairs[i].value;
    if (!cbor_isa_uint(k) || cbor_get_int(k) < 1 || cbor_get_int(k) > 6 || seen[cbor_get_int(k)])
      return STW_ERR_MALFORMED;
    unsigned key = (unsigned)cbor_get_int(k);
    seen[key] = true;
    switch (key) {
    case 1:
      if (!take_text(v, r->handle, sizeof(r->handle)))
        return STW_ERR_MALFORMED;
      break;
    case 2:
      if (!take_text(v, r->ep, sizeof(r->ep)))
        return STW_ERR_MALFORMED;
      break;
    case 3:
      if (!cbor_isa_array(v) || !cbor_array_is_definite(v) || cbor_array_size(v) > BASES_MAX)
        return STW_ERR_MALFORMED;
      for (size_t j = 0; j < cbor_array_size(v); j++)
        if (!take_text(cbor_array_handle(v)[j], r->base[j], sizeof(r->base[j])))
          return STW_ERR_MALFORMED;
      r->n_base = cbor_array_size(v);
      break;
    case 4:
      if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v) || cbor_bytestring_length(v) > STW_SPKI_MAX)
        return STW_ERR_MALFORMED;
      memcpy(r->spki, cbor_bytestring_handle(v), cbor_bytestring_length(v));
      r->spki_len = cbor_bytestring_length(v);
      break;
    case 5: {
      if (!cbor_isa_string(v) || !cbor_string_is_definite(v) || cbor_string_length(v) > STW_RESOLUTION_MAX)
        return STW_ERR_MALFORMED;
      size_t n = cbor_string_length(v);
      r->links = malloc(n + 1);
      if (r->links == NULL)
        return STW_ERR_NOMEM;
      memcpy(r->links, cbor_string_handle(v), n);
      r->links[n] = '\0';
      if (memchr(r->links, '\0', n) != NULL)
        return STW_ERR_MALFORMED;
      break;
    }
    case 6:
      if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v) ||
          cbor_bytestring_length(v) > STW_ATTR_DISCLOSURE_MAX)
        return STW_ERR_MALFORMED;
      *disclosure = cbor_bytestring_handle(v);
      *disclosure_len = cbor_bytestring_length(v);
      break;
    }
  }
  /* Everything but the key (a PSK device has none) must be there. */
  return seen[1] && seen[2] && seen[3] && seen[5] && seen[6] ? STW_OK : STW_ERR_MALFORMED;
}

stw_status_t stw_resolution_verify(const uint8_t *domain_ca_der, size_t ca_len, const char *handle,
                                   const uint8_t *answer, size_t len, int64_t now, stw_resolution_t **out)
{
  *out = NULL;
  uint8_t device_id[STW_DEVICE_ID_LEN];
  stw_cert_info_t ca;
  if (handle == NULL || strlen(handle) >= HANDLE_MAX || handle_device(handle, device_id) != STW_OK)
    return STW_ERR_INVALID;
  if (len > STW_RESOLUTION_MAX)
    return STW_ERR_TOO_LARGE;
  if (stw_cert_parse(domain_ca_der, ca_len, &ca) != STW_OK)
    return STW_ERR_STATE;
  stw_resolution_t *r = calloc(1, sizeof(*r));
  cbor_item_t *item = NULL;
  if (r == NULL)
    return STW_ERR_NOMEM;
  const uint8_t *disclosure = NULL;
  size_t disclosure_len = 0;
  stw_status_t st = stw__cbor_load(answer, len, &item);
  if (st == STW_OK && (!cbor_isa_map(item) || !cbor_map_is_definite(item)))
    st = STW_ERR_MALFORMED;
  if (st == STW_OK)
    st = read_answer(item, r, &disclosure, &disclosure_len);
  /* The answer must be about the handle that was asked for ... */
  if (st == STW_OK && strcmp(r->handle, handle) != 0)
    st = STW_ERR_UNAUTHENTICATED;
  /* ... and every attribute in it proven by the domain, for that device. */
  if (st == STW_OK && disclosure_len > 0)
    st = stw_attr_verify_disclosure(disclosure, disclosure_len, ca.spki, ca.spki_len, device_id, now, &r->attrs);
  if (item != NULL)
    cbor_decref(&item);
  if (st != STW_OK) {
    stw_resolution_free(r);
    return st;
  }
  *out = r;
  return STW_OK;
}

stw_status_t stw_resolve(stw_dev_t *dev, const char *server_uri, const char *handle, const char *attrs,
                         stw_resolution_t **out, stw_bootstrap_report_t *report)
{
  clear_report(report);
  *out = NULL;
  uint8_t device_id[STW_DEVICE_ID_LEN];
  if (handle == NULL || strlen(handle) >= HANDLE_MAX || !printable(handle, "?&#%") ||
      handle_device(handle, device_id) != STW_OK)
    return STW_ERR_INVALID;
  if (dev->domain_ca_der.len == 0)
    return STW_ERR_STATE;
  /* "model location" → "?a=model&a=location" */
  char path[PATH_MAX_LEN];
  size_t used = (size_t)snprintf(path, sizeof(path), "hdl/%s", handle);
  const char *p = attrs ? attrs : "";
  char sep = '?';
  while (*p) {
    while (*p == ' ')
      p++;
    size_t n = strcspn(p, " ");
    if (n == 0)
      break;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e || strchr("?&#=%/", p[i]) != NULL)
        return STW_ERR_INVALID;
    int w = snprintf(path + used, sizeof(path) - used, "%ca=%.*s", sep, (int)n, p);
    if (w < 0 || (size_t)w >= sizeof(path) - used)
      return STW_ERR_TOO_LARGE;
    used += (size_t)w;
    sep = '&';
    p += n;
  }
  uint8_t *answer = NULL;
  size_t len = 0;
  stw_status_t st = stw__request_run(dev, server_uri, COAP_REQUEST_CODE_GET, path, -1, CF_CBOR, NULL, 0,
                                     STW_RESOLUTION_MAX, &answer, &len, NULL, report);
  if (st == STW_OK)
    st = stw_resolution_verify(dev->domain_ca_der.data, dev->domain_ca_der.len, handle, answer, len, stw_now(), out);
  if (st != STW_OK && report != NULL && report->reason[0] == '\0')
    snprintf(report->reason, sizeof(report->reason), "resolution does not verify: %s", stw_status_str(st));
  free(answer);
  return st;
}

void stw_resolution_free(stw_resolution_t *r)
{
  if (r == NULL)
    return;
  free(r->links);
  free(r);
}

const char *stw_resolution_handle(const stw_resolution_t *r) { return r->handle; }
const char *stw_resolution_ep(const stw_resolution_t *r) { return r->ep; }
size_t stw_resolution_base_count(const stw_resolution_t *r) { return r->n_base; }

const char *stw_resolution_base(const stw_resolution_t *r, size_t i)
{
  return i < r->n_base ? r->base[i] : NULL;
}

const uint8_t *stw_resolution_spki(const stw_resolution_t *r, size_t *len)
{
  *len = r->spki_len;
  return r->spki_len ? r->spki : NULL;
}

const char *stw_resolution_links(const stw_resolution_t *r)
{
  return r->links ? r->links : "";
}

size_t stw_resolution_attr_count(const stw_resolution_t *r)
{
  return r->attrs.count;
}

stw_status_t stw_resolution_attr(const stw_resolution_t *r, size_t i, const char **name, const char **value,
                                 const char **authority)
{
  if (i >= r->attrs.count)
    return STW_ERR_NOT_FOUND;
  if (name)
    *name = r->attrs.leaves[i].name;
  if (value)
    *value = r->attrs.leaves[i].value;
  if (authority)
    *authority = r->attrs.leaves[i].authority;
  return STW_OK;
}

const char *stw_resolution_attr_value(const stw_resolution_t *r, const char *name, const char *authority)
{
  return stw_attr_disclosed_value(&r->attrs, name, authority);
}

/* ---- event-driven registration ------------------------------------------------------ */

typedef struct {
  stw_register_cb cb;
  void *arg;
} register_job_t;

static void registered(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report,
                       const uint8_t *answer, size_t len, const char *location, void *arg)
{
  (void)answer;
  (void)len;
  register_job_t *job = arg;
  if (status == STW_OK && !valid_location(location))
    status = STW_ERR_MALFORMED;
  job->cb(dev, status, status == STW_OK ? location : "", report, job->arg);
  free(job);
}

stw_status_t stw_register_start(stw_net_t *net, stw_dev_t *dev, const char *server_uri, const char *links,
                                uint32_t lt, const char *extra_query, stw_register_cb cb, void *arg)
{
  char path[PATH_MAX_LEN];
  const uint8_t *body;
  size_t len;
  stw_status_t st = register_path(dev, lt, extra_query, path, sizeof(path));
  if (st == STW_OK)
    st = links_body(links, &body, &len);
  if (st != STW_OK)
    return st;
  register_job_t *job = malloc(sizeof(*job));
  if (job == NULL)
    return STW_ERR_NOMEM;
  job->cb = cb;
  job->arg = arg;
  st = stw__request_start(net, dev, server_uri, COAP_REQUEST_CODE_POST, path, CF_LINK_FORMAT, -1, body, len, 0,
                          registered, job);
  if (st != STW_OK)
    free(job);
  return st;
}
