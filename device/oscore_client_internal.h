/* The ACE OSCORE profile's wire parsers, both sides: the client's
 * (device/oscore_client.c) and the device's /authz-info (device/thing.c),
 * exposed for the fuzz target tests/fuzz/fuzz_ace_oscore.c. */
#ifndef STW_DEVICE_OSCORE_CLIENT_INTERNAL_H
#define STW_DEVICE_OSCORE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/authz.h"
#include "util.h"

#define STW_ACE_OSCORE_ANSWER_MAX 256  /**< bytes of a /authz-info answer we read */

/** A received CoAP message over UDP; pointers into the datagram. */
typedef struct {
  uint8_t type, code;
  uint16_t mid;
  const uint8_t *token;
  size_t token_len;
  bool has_oscore;            /**< the OSCORE option (9), its value below */
  const uint8_t *oscore;
  size_t oscore_len;
  const uint8_t *payload;     /**< NULL: none */
  size_t payload_len;
} stw__coap_msg_t;

/** Bounded parse of a CoAP message (RFC 7252 3): version 1, token length
 *  at most 8, options walked with their extended deltas and lengths (15 is
 *  malformed, numbers over 65535 too), only the OSCORE option kept, a
 *  payload marker with nothing after it malformed.
 *  @retval STW_ERR_MALFORMED not such a message */
stw_status_t stw__coap_udp_parse(const uint8_t *b, size_t len, stw__coap_msg_t *m) STW_WUR;

/** The 2.01 answer of /authz-info (RFC 9203 4.2): {42: N2 bstr (1..32
 *  bytes), 44: ID2 bstr (0..7 bytes)}, other keys skipped, none twice, at
 *  most STW_ACE_OSCORE_ANSWER_MAX bytes. The pointers go into buf.
 *  @retval STW_ERR_MALFORMED not that shape */
stw_status_t stw__ace_oscore_answer_parse(const uint8_t *buf, size_t len, const uint8_t **n2, size_t *n2_len,
                                          const uint8_t **id2, size_t *id2_len) STW_WUR;

#define STW_ACE_OSCORE_POST_MAX (STW_PEP_TOKEN_MAX + 128)  /**< bytes of a /authz-info request we read */

/** The device's side of /authz-info (RFC 9203 4.1): {1: access_token bstr
 *  (not empty), 40: N1 bstr (1..32 bytes), 43: ID1 bstr (0..7 bytes)},
 *  other keys skipped, none twice, at most STW_ACE_OSCORE_POST_MAX bytes.
 *  The pointers go into buf; on a refusal every output is emptied.
 *  @retval STW_ERR_MALFORMED not that shape */
stw_status_t stw__ace_oscore_post_parse(const uint8_t *buf, size_t len, const uint8_t **token, size_t *token_len,
                                        const uint8_t **n1, size_t *n1_len, const uint8_t **id1,
                                        size_t *id1_len) STW_WUR;

#endif
