/* Steward device SDK — talking to another device, the protection chosen
 * once per peer.
 *
 *   stw_session_t *s;
 *   stw_session_open(dev, "coaps://steward.local", "meter-7f3a2b1c", "coap://[fd00::7]:5683",
 *                    STW_SESSION_OSCORE, &s);
 *   stw_session_request(s, STW_AIF_GET, "/consumption", NULL, 0, &code, &answer, &n);
 *   stw_session_close(s);
 *
 * The session asks the domain for a token covering each request it has none
 * for (or whose token expired), uploads it, keys the channel (DTLS with the
 * raw public key the token names, or an OSCORE context derived with the
 * device, RFC 9203) and sends. A device that restarted and lost the key is
 * given the token again, once; one that restarted and kept it (RFC 8613
 * B.1) gets the request again with its Echo. Answers larger than one block
 * arrive whole. Not thread-safe: one caller at a time. */
#ifndef STEWARD_SESSION_H
#define STEWARD_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include "steward/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  STW_SESSION_DTLS_RPK = 1,  /**< peer_uri coaps://: DTLS 1.2, raw public keys (RFC 7250) */
  STW_SESSION_OSCORE = 2,    /**< peer_uri coap://: OSCORE (RFC 8613), ACE OSCORE profile */
} stw_session_kind_t;

#define STW_SESSION_GRANTS 8  /**< tokens a session holds at once */

typedef struct stw_session stw_session_t;

/** A session with the device named audience at peer_uri, tokens from the
 *  domain at as_uri. Nothing is sent yet. dev must outlive the session.
 *  @retval STW_ERR_INVALID a scheme that does not fit kind */
stw_status_t stw_session_open(stw_dev_t *dev, const char *as_uri, const char *audience, const char *peer_uri,
                              stw_session_kind_t kind, stw_session_t **out) __attribute__((warn_unused_result));

/** method (one STW_AIF_* bit) on path, with body. code receives the
 *  device's CoAP code (class << 5 | detail), or the domain's when it refused
 *  the token; answer the payload (malloc'd, NUL-terminated; caller frees).
 *  @retval STW_OK on a 2.xx; STW_ERR_FORBIDDEN / UNAUTHENTICATED / ... as
 *          stw_thing_call_oscore() and stw_token_request() */
stw_status_t stw_session_request(stw_session_t *s, unsigned method, const char *path, const uint8_t *body,
                                 size_t len, unsigned *code, uint8_t **answer, size_t *answer_len)
    __attribute__((warn_unused_result));

/** A notification: its CoAP code and payload (valid during the call). */
typedef void (*stw_session_notify_t)(void *arg, unsigned code, const uint8_t *payload, size_t len);

/** Observe path (RFC 7641) on an OSCORE session: a token for GET as
 *  stw_session_request() gets one, then the registration; code and answer
 *  receive the first answer. Notifications (verified, in order: RFC 8613
 *  4.1.3.5) go to notify from stw_session_poll(), whole when the
 *  representation is over one block (RFC 7959 3.4). One observation per
 *  session; a new one replaces it.
 *  @retval STW_ERR_UNSUPPORTED on a DTLS-RPK session
 *  @retval STW_ERR_STATE       the device answered without accepting the observation */
stw_status_t stw_session_observe(stw_session_t *s, const char *path, stw_session_notify_t notify, void *arg,
                                 unsigned *code, uint8_t **answer, size_t *answer_len)
    __attribute__((warn_unused_result));

/** Wait up to timeout_ms for notifications of the observation and deliver them.
 *  @retval STW_ERR_STATE no observation */
stw_status_t stw_session_poll(stw_session_t *s, unsigned timeout_ms) __attribute__((warn_unused_result));

/** Forget every token and key of the session. NULL is fine. */
void stw_session_close(stw_session_t *s);

#ifdef __cplusplus
}
#endif
#endif
