/* The daemon's CoAP side: one libcoap context on GnuTLS, DTLS with the
 * daemon's raw public key (RFC 7250) and per-device PSKs, and the glue every
 * part's transport file uses: who the peer is, and deferred answers that go out
 * only after the store has committed what they announce. */
#ifndef STW_SERVER_COAP_SERVER_H
#define STW_SERVER_COAP_SERVER_H

#include <coap3/coap.h>
#include <signal.h>
#include <stdbool.h>
#include "coap/peer.h"
#include "domain/domain.h"
#include "store/committer.h"
#include "store/store.h"

typedef struct stw_coap_server stw_coap_server_t;

typedef struct {
  const char *listen;              /**< "127.0.0.1:5684" (DTLS) */
  const char *plain_listen;        /**< plain CoAP address for loopback tests; NULL: none */
  const stw_domain_t *domain;
  stw_store_t *store;              /**< read handle, event loop thread */
  stw_committer_t *committer;      /**< writer thread */
} stw_coap_config_t;

stw_status_t stw_coap_server_new(const stw_coap_config_t *cfg, stw_coap_server_t **out) __attribute__((warn_unused_result));
void stw_coap_server_free(stw_coap_server_t *s);
coap_context_t *stw_coap_server_context(stw_coap_server_t *s);
/** The port actually bound for DTLS (useful when listen asked for port 0). */
uint16_t stw_coap_server_port(const stw_coap_server_t *s);
/** Serve until *stop becomes non-zero. */
stw_status_t stw_coap_server_run(stw_coap_server_t *s, volatile sig_atomic_t *stop);

/** The authenticated peer of a session (pointers valid while the session lives). */
void stw_coap_peer(coap_session_t *session, stw_peer_t *out);

/** The value of a uint option (Content-Format, Accept), or dflt when absent. */
int stw_coap_option_uint(const coap_pdu_t *pdu, uint16_t option, int dflt);

/** Send a CoAP error with a short text diagnostic (RFC 7252 §5.5.2). */
void stw_coap_error(coap_pdu_t *response, unsigned code, const char *diag);

/* ---- deferred answers ------------------------------------------------------
 * In the handler:
 *   if (stw_deferred_resume(resource, session, request, response)) return;
 *   ... decide ...
 *   stw_deferred_t *d = stw_defer(session, request);  // empty ACK goes out now
 *   submit a committer job that owns d; its done() calls stw_deferred_answer().
 */
typedef struct stw_deferred stw_deferred_t;

/** An answer body libcoap may keep for block-wise transfer; wiped when freed. */
typedef struct stw_coap_body stw_coap_body_t;
stw_coap_body_t *stw_coap_body_new(const uint8_t *data, size_t len);
void stw_coap_body_free(stw_coap_body_t *b);
/** Attach body to response (block-wise as needed); libcoap takes it over. */
void stw_coap_add_body(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                       coap_pdu_t *response, int content_format, stw_coap_body_t *body);

stw_deferred_t *stw_defer(coap_session_t *session, const coap_pdu_t *request);
/** Set the answer (body copied) and wake the handler; frees nothing of the caller's. */
void stw_deferred_answer(stw_deferred_t *d, unsigned code, int content_format,
                         const uint8_t *body, size_t len, const char *diag);
/** A Location-Path for the answer ("rd/4521": one option per segment), set
 *  before stw_deferred_answer(). */
void stw_deferred_set_location(stw_deferred_t *d, const char *path);
/** True if this call is the wake-up of a deferred request: the response is
 *  filled in from the stored answer. */
bool stw_deferred_resume(coap_resource_t *resource, coap_session_t *session,
                         const coap_pdu_t *request, coap_pdu_t *response);

/* ---- paths that name things created at run time ----------------------------
 * libcoap has one handler for every path no resource claims; the server turns
 * it into a small prefix router so each part can own a subtree ("rd/",
 * "hdl/") without one coap_resource_t per registration. */
typedef void (*stw_route_handler_t)(coap_resource_t *resource, coap_session_t *session,
                                    const coap_pdu_t *request, const coap_string_t *query,
                                    coap_pdu_t *response, const char *rest, void *arg);
/** Send method (COAP_REQUEST_*) on paths starting with prefix (e.g. "rd/")
 *  to handler, with rest = what follows the prefix (NUL-terminated, at most
 *  255 bytes). Unrouted paths answer 4.04 (4.05 for a known prefix with
 *  another method). */
stw_status_t stw_coap_route(stw_coap_server_t *s, const char *prefix, coap_request_t method,
                            stw_route_handler_t handler, void *arg) __attribute__((warn_unused_result));
/** "coaps://ADDR:PORT" of the session's peer, as a registration's default base. */
void stw_coap_peer_uri(coap_session_t *session, char *out, size_t len);

/** Content formats used by Steward (RFC 9148, cBRSKI). */
#define STW_CF_TEXT 0
#define STW_CF_LINK_FORMAT 40
#define STW_CF_CBOR 60
#define STW_CF_PKCS7_CERTS 281
#define STW_CF_PKCS10 286
#define STW_CF_PKIX_CERT 287
#define STW_CF_VOUCHER_COSE 836

#endif
