/* Steward device SDK — the smart object's own CoAP server, which enforces
 * capability tokens itself (DCapBAC, ACE DTLS profile RFC 9202).
 *
 *   stw_thing_t *t;
 *   stw_thing_new(dev, "0.0.0.0:5684", &t);          // DTLS with the LDevID key as a raw public key
 *   stw_thing_resource(t, "consumption", read_meter, &meter);
 *   for (;;) stw_thing_run(t, 1000);
 *
 * A client first POSTs the access token the domain issued it to /authz-info
 * (2.01); after that, each request on a DTLS session whose key is the token's
 * cnf key is checked against the token's scope before the handler runs.
 * Refusals are 4.01 (no valid token for this key: unauthorized_client) and
 * 4.03 (the token does not cover this method and path: insufficient_scope).
 * Nothing is asked of the domain: the check uses the domain key the device
 * pinned at bootstrap and its own clock. */
#ifndef STEWARD_THING_H
#define STEWARD_THING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/authz.h"
#include "steward/bootstrap.h"
#include "steward/device.h"
#include "steward/token.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stw_thing stw_thing_t;

#define STW_THING_ANSWER_MAX 1024  /**< largest answer a handler may give */

/** A resource handler. method is one STW_AIF_* bit; the answer goes to
 *  out (cap bytes); returns the CoAP code (e.g. 0x45 for 2.05). */
typedef unsigned (*stw_thing_handler_t)(void *arg, unsigned method, const char *path, const uint8_t *body,
                                        size_t len, uint8_t *out, size_t cap, size_t *out_len);

/** Serve on listen ("127.0.0.1:0" picks a port) as the enrolled X.509 device
 *  dev (which must outlive the thing). Its audience is its assigned name. */
stw_status_t stw_thing_new(stw_dev_t *dev, const char *listen, uint32_t skew_seconds, stw_thing_t **out)
    __attribute__((warn_unused_result));
void stw_thing_free(stw_thing_t *t);
uint16_t stw_thing_port(const stw_thing_t *t);
/** Offer a resource at path ("consumption", "config/limits"). */
stw_status_t stw_thing_resource(stw_thing_t *t, const char *path, stw_thing_handler_t handler, void *arg)
    __attribute__((warn_unused_result));
/** Handle network I/O for up to timeout_ms. */
void stw_thing_run(stw_thing_t *t, unsigned timeout_ms);
/** Observe the domain's token revocation list (GET /revoked with Observe,
 *  over DTLS with this device's LDevID, after checking the domain's key
 *  against the pinned domain CA): every revoked token id is dropped at once,
 *  within one notification. Driven by stw_thing_run(). */
stw_status_t stw_thing_watch_revocations(stw_thing_t *t, const char *domain_uri) __attribute__((warn_unused_result));
/** Revocation list updates applied so far (the list's sequence number). */
uint64_t stw_thing_revocation_seq(const stw_thing_t *t);
/** Drop a token at once and refuse it from now on (a revocation list entry). */
stw_status_t stw_thing_revoke(stw_thing_t *t, const uint8_t *cti, size_t len) __attribute__((warn_unused_result));
/** Also serve the ACE OSCORE profile (RFC 9203) over plain CoAP on listen
 *  ("127.0.0.1:0" picks a port): POST /authz-info with {1: access_token,
 *  40: nonce1, 43: ace_client_recipientid} answers 2.01 {42: nonce2,
 *  44: ace_server_recipientid} and derives an OSCORE context from the
 *  token's cnf osc material (Master Secret sealed to this device's key,
 *  Master Salt = bstr(salt) | bstr(N1) | bstr(N2), ID Context = contextId
 *  if given); each OSCORE request is then checked against that token's
 *  scope. Recipient IDs go shortest first: the empty one, then one byte.
 *  Refusals: 4.01 "Security context not found", 4.01 "Replay detected",
 *  4.00 "Decryption failed", 4.02 "Failed to decode COSE" (unprotected);
 *  4.01/4.03/4.04 inside the protected answer. At most
 *  STW_THING_OSCORE_CONTEXTS clients.
 *
 *  Observe (RFC 7641, RFC 8613 4.1.3.5): a GET with Observe 0 registers
 *  (at most STW_THING_OSCORE_OBSERVERS); stw_thing_changed() notifies.
 *  Answers over one 1024-byte block go in blocks (Inner Block2, RFC 8613
 *  4.1.3.4.1); handlers on this endpoint may answer up to
 *  STW_THING_OSCORE_BODY_MAX bytes. Request bodies may come in blocks
 *  (Inner Block1, RFC 7959 2.5), one body at a time: the handler is called
 *  once with the whole body (at most STW_THING_OSCORE_BODY_MAX bytes; 4.13
 *  over that, 4.08 for a block out of order, docs/oscore.md).
 *
 *  A device kept in a folder (stw_dev_open()) saves each context there
 *  (oscore-ctx-<n>.cbor, 0600, atomic) with its Sender Sequence Number
 *  bound, in steps (RFC 8613 B.1.1); a new thing over the same folder
 *  restores them, never reuses a number, and answers the first request
 *  of each context with a protected 4.01 and an Echo option (B.1.2): only
 *  a request that repeats the Echo is acted on. A memory-only device
 *  keeps its contexts in RAM: after a restart its clients post the token
 *  again. */
#define STW_THING_OSCORE_CONTEXTS 8
#define STW_THING_OSCORE_OBSERVERS 8
#define STW_THING_OSCORE_BODY_MAX 16384
stw_status_t stw_thing_enable_oscore(stw_thing_t *t, const char *listen) __attribute__((warn_unused_result));
/** The resource at path ("consumption" or "/consumption") changed: every
 *  OSCORE observer of it gets a confirmable notification with the
 *  handler's answer to GET, protected under the thing's own Partial IV.
 *  A token that expired or was revoked gets a last 4.01 instead and the
 *  observation ends; so does one whose notification is reset or never
 *  acknowledged. Call it from the thread that runs stw_thing_run(). */
stw_status_t stw_thing_changed(stw_thing_t *t, const char *path) __attribute__((warn_unused_result));
/** OSCORE observations the thing holds now. */
size_t stw_thing_oscore_observers(const stw_thing_t *t);
/** The OSCORE endpoint's port (0 when not enabled). */
uint16_t stw_thing_oscore_port(const stw_thing_t *t);
/** The enforcement point, for inspection and tests. */
stw_pep_t *stw_thing_pep(stw_thing_t *t);

/* ---- the client side: calling another device with a token -------------- */

/**
 * Call a resource on another device (rs_uri "coaps://host:port") over DTLS
 * with this device's LDevID key. The DTLS handshake fails unless the other
 * device proves rs_spki (the rs_cnf of the token answer, DER SPKI): nothing,
 * not even the token, goes to any other key. If token is not NULL it is
 * posted to /authz-info first (tokens stay at the device for the key they
 * name, so later calls may pass NULL). method is one STW_AIF_* bit.
 * @param[out] answer  the answer body (malloc'd, NUL-terminated; caller frees), may be NULL
 * @retval STW_ERR_UNAUTHENTICATED (4.01) / STW_ERR_FORBIDDEN (4.03) the device's PEP refused
 */
stw_status_t stw_thing_call(stw_dev_t *dev, const char *rs_uri, const uint8_t *rs_spki, size_t rs_spki_len,
                            const uint8_t *token, size_t token_len, unsigned method, const char *path,
                            const uint8_t *body, size_t len, uint8_t **answer, size_t *answer_len,
                            stw_bootstrap_report_t *report) __attribute__((warn_unused_result));

/* ---- the client side of the ACE OSCORE profile (RFC 9203) -------------- */

/** An OSCORE security context with one device, with its Sender Sequence
 *  Number and replay window: keep it for further requests (the token is
 *  posted once). Not thread-safe: one caller at a time. */
typedef struct stw_oscore_peer stw_oscore_peer_t;

/** Call path on the device at rs_uri ("coap://127.0.0.1:5683", its plain
 *  CoAP OSCORE endpoint, stw_thing_enable_oscore()) over OSCORE. When
 *  *peer is NULL, first POST {1: token, 40: N1, 43: ID1} to /authz-info,
 *  read {42: N2, 44: ID2} and derive the context (Master Salt =
 *  bstr(salt) | bstr(N1) | bstr(N2)); *peer then owns it (free with
 *  stw_oscore_peer_free()) and token and material are not read again.
 *  The request goes protected (Outer Code POST, the real method and
 *  Uri-Path inside), the answer is verified and unprotected. An answer in
 *  blocks (Inner Block2) is read block by block, each one a request of its
 *  own, and handed over whole (at most STW_THING_OSCORE_BODY_MAX bytes;
 *  STW_ERR_CONFLICT if its ETag changed between blocks). A body over 1024
 *  bytes goes in blocks (Inner Block1 with Size1 and a Request-Tag), each
 *  a request of its own; STW_ERR_TOO_LARGE (4.13) when the device cannot
 *  take it. When the device answers an unprotected 4.01 or 4.00 (it
 *  restarted and lost the context, or gave our Recipient ID to another
 *  client since), *peer posts the token once more, derives a fresh context
 *  and sends the request again, once. When it answers a protected 4.01 with an Echo option (it
 *  restarted and restored the context, RFC 8613 B.1.2), the request goes
 *  again with that Echo, once.
 *  @param[out] code    the (inner, when protected) CoAP code, class << 5 | detail; may be NULL
 *  @param[out] answer  its payload, NUL-terminated, malloc'd (caller frees); a diagnostic on refusals
 *  @retval STW_OK on a 2.xx; STW_ERR_FORBIDDEN / UNAUTHENTICATED / MALFORMED / NOT_FOUND
 *          for 4.03 / 4.01 / 4.00 / 4.04; STW_ERR_BAD_SIGNATURE when the answer does not verify;
 *          STW_ERR_TIMEOUT or STW_ERR_NETWORK when the device does not answer */
stw_status_t stw_thing_call_oscore(stw_oscore_peer_t **peer, const char *rs_uri, const uint8_t *token,
                                   size_t token_len, const stw_oscore_material_t *material, unsigned method,
                                   const char *path, const uint8_t *body, size_t len, unsigned *code,
                                   uint8_t **answer, size_t *answer_len) __attribute__((warn_unused_result));

/** A notification of an observed resource: its inner code and payload
 *  (valid during the call). */
typedef void (*stw_oscore_notify_t)(void *arg, unsigned code, const uint8_t *payload, size_t len);

/** Observe path (RFC 7641) on the device over OSCORE: a GET with Observe 0
 *  that goes as FETCH outside (RFC 8613 4.2); token, material and the
 *  results as stw_thing_call_oscore(). When the device accepted (the
 *  protected answer carries Observe), later notifications go to notify
 *  from stw_oscore_peer_poll() (or any later call on the peer): verified,
 *  and in order, since one whose Partial IV is not above the last one's is
 *  dropped (RFC 8613 7.4.1). A notification that is not 2.xx ends the
 *  observation. One observation per peer; a new one replaces it. A
 *  notification that carries block 0 of a larger representation is
 *  delivered from stw_oscore_peer_poll() once its other blocks were read
 *  with GETs, whole; it is dropped when they came back with another ETag
 *  (the resource changed meanwhile: its next notification follows). */
stw_status_t stw_thing_observe_oscore(stw_oscore_peer_t **peer, const char *rs_uri, const uint8_t *token,
                                      size_t token_len, const stw_oscore_material_t *material, const char *path,
                                      stw_oscore_notify_t notify, void *arg, unsigned *code, uint8_t **answer,
                                      size_t *answer_len) __attribute__((warn_unused_result));

/** Wait up to timeout_ms for notifications and deliver them.
 *  @retval STW_OK (also when none came); STW_ERR_NETWORK when the socket failed */
stw_status_t stw_oscore_peer_poll(stw_oscore_peer_t *peer, unsigned timeout_ms) __attribute__((warn_unused_result));

/** Whether the peer holds an observation the device accepted. */
bool stw_oscore_peer_observing(const stw_oscore_peer_t *peer);

/** Notifications delivered so far. */
uint64_t stw_oscore_peer_notifications(const stw_oscore_peer_t *peer);

/** End the observation: a GET with Observe 1 on the same token (RFC 7641
 *  3.6), protected. STW_ERR_STATE when there is none. */
stw_status_t stw_oscore_peer_cancel(stw_oscore_peer_t *peer) __attribute__((warn_unused_result));

/** Protect a request as stw_thing_call_oscore() would (it takes the next
 *  Sender Sequence Number) and write the whole CoAP datagram to out without
 *  sending it: for tests and tools that play the network themselves. */
stw_status_t stw_oscore_peer_protect(stw_oscore_peer_t *peer, unsigned method, const char *path,
                                     const uint8_t *body, size_t len, uint8_t *out, size_t cap, size_t *out_len)
    __attribute__((warn_unused_result));

/** The last protected datagram sent (valid until the next call); NULL before any. */
const uint8_t *stw_oscore_peer_last_request(const stw_oscore_peer_t *peer, size_t *len);

/** Wipe the context and close the socket. NULL is fine. */
void stw_oscore_peer_free(stw_oscore_peer_t *peer);

#ifdef __cplusplus
}
#endif
#endif
