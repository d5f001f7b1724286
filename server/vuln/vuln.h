/* Vulnerability reports (ETSI EN 303 645 provision 5.2-1): anyone may tell
 * the domain's operator about a security problem. The logic without
 * sockets: the body of POST /vr, the per-address rate limit, recording a
 * report with its audit record, moving it through its states, and the
 * security.txt (RFC 9116) that says where to report. docs/vulnerability-reports.md. */
#ifndef STW_SERVER_VULN_H
#define STW_SERVER_VULN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/store.h"
#include "util.h"

#define STW_VR_BODY_MAX STW_VULN_TEXT_MAX   /**< bytes of a POST /vr body; over it: 4.13 */
#define STW_VR_RATE_MAX 5                   /**< reports one address may file per window */
#define STW_VR_RATE_WINDOW 600              /**< seconds */
#define STW_VR_LIMITER_SLOTS 64             /**< addresses remembered at once */

/** Parse a POST /vr body: CBOR {? 1: contact, 2: summary, 3: detail}, each
 *  key once, text only, valid UTF-8 without control characters (detail may
 *  hold line feeds and tabs), within the store's field sizes, at most
 *  STW_VR_BODY_MAX bytes in all. On success out->contact, summary and the
 *  malloc'd out->detail are set (free with stw_vuln_clear()); on failure
 *  out is left cleared.
 *  @retval STW_ERR_TOO_LARGE the body is over STW_VR_BODY_MAX
 *  @retval STW_ERR_MALFORMED not that shape
 *  @retval STW_ERR_NOMEM */
stw_status_t stw_vr_body_parse(const uint8_t *data, size_t len, stw_vuln_t *out) STW_WUR;

/** Record a report (status "received") and its audit record in the caller's
 *  transaction (the writer thread's batch); sets v->id. actor names the
 *  channel ("device:<id>", "peer"), never the reporter's contact: the audit
 *  log keeps no personal data. */
stw_status_t stw_vuln_record(stw_store_t *st, stw_vuln_t *v, const char *actor) STW_WUR;

/** Move report id to status ("received", "triaged", "fixed", "rejected") in
 *  one transaction of its own with its audit record.
 *  @retval STW_ERR_INVALID unknown status
 *  @retval STW_ERR_NOT_FOUND no such report */
stw_status_t stw_vuln_change_status(stw_store_t *st, int64_t id, const char *status, const char *actor) STW_WUR;

/** Report id in full (detail malloc'd: stw_vuln_clear()). STW_ERR_NOT_FOUND. */
stw_status_t stw_vuln_get(stw_store_t *st, int64_t id, stw_vuln_t *out) STW_WUR;

/* ---- rate limit: a fixed window per address ---------------------------- */

typedef struct {
  char key[64];          /**< the peer's address without its port; "" free */
  int64_t window_start;
  unsigned count;
} stw_vr_slot_t;

/** Zero-initialise; one per daemon, touched by the event loop thread only. */
typedef struct {
  stw_vr_slot_t slot[STW_VR_LIMITER_SLOTS];
} stw_vr_limiter_t;

/** May key file one more report at now? Counts it when so. When every slot
 *  is taken by a live window, the oldest window is forgotten (a flood from
 *  many addresses can reset one address's count, never block the table). */
bool stw_vr_limiter_allow(stw_vr_limiter_t *l, const char *key, int64_t now);

/* ---- security.txt (RFC 9116) -------------------------------------------- */

/** What the file says. NULL fields take the defaults derived from the
 *  domain name (which must then be a host name): Contact
 *  mailto:security@<domain>, Policy https://<domain>/security-policy,
 *  Preferred-Languages en, Canonical https://<domain>/.well-known/security.txt.
 *  coap_contact, when set, is a second Contact line (the /vr endpoint). */
typedef struct {
  const char *domain_name;
  const char *contact;
  const char *coap_contact;
  const char *policy;
  const char *languages;
  const char *canonical;
  int64_t expires;       /**< 0: now + STW_SECURITY_TXT_DAYS */
} stw_security_txt_opts_t;

#define STW_SECURITY_TXT_DAYS 180   /**< RFC 9116 2.5.5: keep Expires under a year ahead */
#define STW_SECURITY_TXT_MAX 2048

/** Render the file (LF line ends) into out (caller frees).
 *  @retval STW_ERR_INVALID a value with a line break or control character,
 *          a URI without a scheme or over http:, Expires not in the future,
 *          no domain name where a default needs one */
stw_status_t stw_security_txt(const stw_security_txt_opts_t *o, int64_t now, stw_buf_t *out) STW_WUR;

#endif
