/* The operator's HTTP side without sockets: which route a request names,
 * whether its query is sound, whether it carries the admin token, and the
 * answers built from the store (docs/operations.md, "HTTP side"). http.c
 * decodes a request into these calls and encodes what comes back.
 *
 *   GET /.well-known/security.txt          public, RFC 9116
 *   GET /api/v1/devices                    the fleet table
 *   GET /api/v1/devices/{id}               one device
 *   GET /api/v1/compliance[?device=ID]     EN 303 645 report (compliance.h)
 *   GET /api/v1/audit[?since=SEQ][&limit=N] the audit log after SEQ */
#ifndef STW_SERVER_HTTP_API_H
#define STW_SERVER_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"
#include "util.h"

#define STW_HTTP_PARAMS_MAX 4           /**< query parameters one request may carry */
#define STW_HTTP_PARAM_MAX 64           /**< bytes of one parameter name or value */
#define STW_HTTP_AUTH_MAX 512           /**< bytes of an Authorization header we look at */
#define STW_HTTP_AUDIT_LIMIT 100        /**< audit records per answer unless limit= says fewer */
#define STW_HTTP_AUDIT_LIMIT_MAX 1000   /**< the most limit= may ask for */
#define STW_HTTP_BODY_MAX (64u * 1024 * 1024) /**< largest answer (a big fleet's compliance report) */

typedef enum {
  STW_ROUTE_SECURITY_TXT = 0,
  STW_ROUTE_DEVICES,
  STW_ROUTE_DEVICE,
  STW_ROUTE_COMPLIANCE,
  STW_ROUTE_AUDIT,
} stw_route_kind_t;

/** One query parameter as the transport decoded it (percent-decoding done);
 *  value is NULL for a bare "?name". Neither is NUL-terminated for us. */
typedef struct {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} stw_http_param_t;

typedef struct {
  stw_route_kind_t kind;
  bool api;                       /**< under /api: needs the admin token, never cached */
  char device_id[STW_ID_HEX];     /**< DEVICE; COMPLIANCE with ?device= ("" for the fleet) */
  uint64_t since;                 /**< AUDIT: records after this sequence number */
  uint64_t limit;                 /**< AUDIT: at most this many (1..STW_HTTP_AUDIT_LIMIT_MAX) */
} stw_route_t;

/** Which route the (percent-decoded) path names; at most STW_URI_MAX bytes
 *  are looked at.
 *  @retval STW_ERR_NOT_FOUND no such route (404), including a device path
 *          whose last segment cannot be a device id */
stw_status_t stw_http_route_match(const char *path, size_t path_len, stw_route_t *out) STW_WUR;

/** Check the query of a matched route and fill its fields. Each route takes
 *  only its own parameters, each at most once; numbers are decimal, without
 *  sign or leading zeros, in range; a device id is 32 lower-case hex digits.
 *  @retval STW_ERR_MALFORMED anything else (400); out keeps its path fields */
stw_status_t stw_http_query_parse(stw_route_t *r, const stw_http_param_t *params, size_t n) STW_WUR;

/** Does header (the Authorization value, NULL when absent) carry "Bearer
 *  <token>" with exactly this token? The scheme is case-insensitive (RFC
 *  9110 11.1); the token is compared in constant time. */
bool stw_http_bearer_ok(const char *header, const char *token, size_t token_len);

/** What to answer: a status and a body the caller owns (free with
 *  stw_buf_free(&a->body, false), or hand body.data to the transport). */
typedef struct {
  unsigned status;
  const char *content_type;       /**< static storage */
  stw_buf_t body;
} stw_http_answer_t;

typedef struct {
  stw_store_t *store;             /**< read only, never written through */
  const char *data_dir;           /**< the domain folder (compliance evidence for 5.4) */
  const char *domain_name;        /**< security.txt defaults, the compliance report */
  const char *coap_contact;       /**< second Contact of security.txt ("coaps://…/vr"), or NULL */
  int64_t now;
} stw_http_api_t;

/** Answer a matched route whose query parsed (authorization is the caller's
 *  check). Always fills a: 200 with the body, 404 for an unknown device, 500
 *  when the store fails; the returned status says why a was not a 200. */
stw_status_t stw_http_answer(const stw_http_api_t *api, const stw_route_t *r, stw_http_answer_t *a);

/** An error answer: {"error": message} for the API, the message as text
 *  elsewhere. a is zeroed or holds a body, which is replaced. */
void stw_http_error(unsigned status, const char *message, bool api, stw_http_answer_t *a);

#endif
