/* Inside the device SDK: CoAP client plumbing shared by every flow. One
 * stw_net_t holds two libcoap contexts (libcoap keeps PKI settings per context,
 * and a PSK session must never offer a certificate set up for another device). */
#ifndef STW_DEVICE_NET_INTERNAL_H
#define STW_DEVICE_NET_INTERNAL_H

#include <coap3/coap.h>
#include "dev_internal.h"
#include "steward/bootstrap.h"

typedef struct stw_op stw_op_t;

/** Called with the complete answer (libcoap reassembles blocks). */
typedef void (*stw_op_response_fn)(stw_op_t *op, unsigned code, const uint8_t *body, size_t len);

struct stw_op {
  stw_op_t *next;
  stw_net_t *net;
  stw_dev_t *dev;
  coap_session_t *session;
  coap_address_t server;
  char server_host[256];
  int step;
  stw_op_response_fn on_response;
  bool finished;
  stw_status_t status;
  stw_bootstrap_report_t report;
  uint64_t started_us;
  uint64_t deadline_us;
  stw_done_cb done;
  void *done_arg;
  uint8_t server_spki[STW_SPKI_MAX];   /* the key the DTLS server proved */
  size_t server_spki_len;
  uint8_t expected_spki[STW_SPKI_MAX]; /* when set, the handshake fails for any other server key */
  size_t expected_spki_len;
  char location[128];                  /* Location-Path of the last answer, "rd/4f2a" ("" if none) */
  void *flow;                          /* the flow's own state */
  void (*flow_free)(void *flow);
};

struct stw_net {
  coap_context_t *pki_ctx;
  coap_context_t *psk_ctx;
  stw_op_t *ops;
  unsigned running;
};

/** Resolve uri ("coaps://host[:port]", port 5684 if none) to addr; host_out
 *  (host_len bytes) receives the host. STW_ERR_INVALID for another scheme or a
 *  host that does not fit, STW_ERR_NETWORK when the name does not resolve. */
stw_status_t stw__coaps_resolve(const char *uri, coap_address_t *addr, char *host_out, size_t host_len) STW_WUR;
/** DTLS client settings for a certificate + key (PEM, NUL counted, outlive
 *  the session), with no chain check by libcoap: remember_key sees the key the
 *  server proves, and the caller decides whether it is the right one. */
void stw__dtls_pki_init(coap_dtls_pki_t *pki, const stw_buf_t *cert_pem, const stw_buf_t *key_pem,
                        coap_dtls_cn_callback_t remember_key);
/** Uri-Path options for path, one per non-empty '/'-separated segment up to a
 *  '?', then one Uri-Query option per non-empty '&'-separated part after it. */
void stw__pdu_add_path(coap_pdu_t *pdu, const char *path);
/** One I/O round over up to STW__IO_CONTEXTS_MAX contexts (NULL entries are
 *  skipped): wait at most timeout_ms, less if a libcoap timer is due sooner,
 *  for any of them to be readable, then let each do its I/O. */
#define STW__IO_CONTEXTS_MAX 4
void stw__coap_io_run(coap_context_t *const *ctxs, size_t n, unsigned timeout_ms);

/** A new operation for dev against uri ("coaps://host[:port]"). */
stw_status_t stw__op_new(stw_net_t *net, stw_dev_t *dev, const char *uri, stw_done_cb done, void *arg,
                         stw_op_t **out);
/** Open a DTLS session authenticated by a certificate + key (PEM, NUL counted). */
stw_status_t stw__op_connect_cert(stw_op_t *op, const stw_buf_t *cert_pem, const stw_buf_t *key_pem);
/** Open a DTLS session authenticated by a PSK. */
stw_status_t stw__op_connect_psk(stw_op_t *op, const char *identity, const uint8_t *key, size_t key_len);
/** Close the current session (e.g. to reconnect with another credential). */
void stw__op_disconnect(stw_op_t *op);
/** Send a confirmable request on the op's session; the answer comes to on_response.
 *  path may carry a query, "rd?ep=a&lt=60": each '&'-separated part becomes one
 *  Uri-Query option, sent as given. path and body must outlive the op (a failed
 *  session resends them). content_format/accept < 0 leave the option out. body may be NULL. */
stw_status_t stw__op_request(stw_op_t *op, coap_pdu_code_t method, const char *path,
                             int content_format, int accept, const uint8_t *body, size_t len,
                             stw_op_response_fn on_response);
/** End the operation; the done callback runs from stw_net_run(). reason may be NULL. */
void stw__op_finish(stw_op_t *op, stw_status_t status, unsigned coap_code, const char *reason);
/** Map a CoAP error answer to a status. */
stw_status_t stw__status_of_code(unsigned code);
/** An error body in CBOR (an ACE error map, RFC 9200 5.8.3) says why in its
 *  text values: those joined with "; " into out (cap > 0 bytes,
 *  NUL-terminated when true, cut at cap, every byte printable ASCII with
 *  '?' for any other), not the bytes of the map. false: not such a map, or
 *  no text in it. Network bytes: nothing past len is read. */
bool stw__cbor_error_text(const uint8_t *body, size_t len, char *out, size_t cap);
/** End op with the server's refusal: the status follows the code, the reason
 *  reads "<what> refused (c.dd): <diagnostic>" (what NULL: "refused ..."),
 *  keeping only printable bytes of the diagnostic, which is network text. */
void stw__op_refused(stw_op_t *op, unsigned code, const uint8_t *body, size_t len, const char *what);
/** The certificate in a PKCS#7 certs-only set whose public key is spki (DER),
 *  copied to out (STW_CERT_MAX bytes). STW_ERR_NOT_FOUND when none is. */
stw_status_t stw__p7_find_key(const uint8_t *p7, size_t len, const uint8_t *spki, size_t spki_len, uint8_t *out,
                              size_t *out_len);
/** Is spki (the key a DTLS server proved) one the domain CA that dev pinned at
 *  bootstrap certified, by a certificate in p7 (a /crts answer, PKCS#7
 *  certs-only)? STW_OK if so, STW_ERR_UNTRUSTED if not, STW_ERR_NOMEM. */
stw_status_t stw__domain_certified(const stw_dev_t *dev, const uint8_t *p7, size_t len, const uint8_t *spki,
                                   size_t spki_len) STW_WUR;

/* ---- one request on the device's operational credential (request.c) ---- */

/** How a request ended: status is STW_OK for a 2.xx answer; answer (valid
 *  only during the call) is its body, location its Location-Path ("" if none). */
typedef void (*stw__answer_fn)(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report,
                               const uint8_t *answer, size_t len, const char *location, void *arg);

/** Send one request over DTLS with the device's LDevID (after checking the
 *  server's key against the pinned domain CA) or its operational PSK.
 *  path may carry a query ("rd?ep=a"); path and body are copied. An answer
 *  over answer_max bytes ends with STW_ERR_TOO_LARGE. fn runs from stw_net_run(). */
stw_status_t stw__request_start(stw_net_t *net, stw_dev_t *dev, const char *uri, coap_pdu_code_t method,
                                const char *path, int content_format, int accept, const uint8_t *body,
                                size_t len, size_t answer_max, stw__answer_fn fn, void *arg);

/** The same, blocking. *answer (malloc'd, NUL-terminated, may be NULL) and
 *  location (STW__LOCATION_MAX, may be NULL) receive the answer; the caller frees *answer. */
#define STW__LOCATION_MAX 128
stw_status_t stw__request_run(stw_dev_t *dev, const char *uri, coap_pdu_code_t method, const char *path,
                              int content_format, int accept, const uint8_t *body, size_t len,
                              size_t answer_max, uint8_t **answer, size_t *answer_len, char *location,
                              stw_bootstrap_report_t *report);

#endif
