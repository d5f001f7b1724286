/* The ACE OSCORE profile's wire parsers, both sides: the client's
 * (device/oscore_client.c) and the device's /authz-info and saved contexts
 * (device/thing_oscore.c), exposed for the fuzz targets
 * tests/fuzz/fuzz_ace_oscore.c and tests/fuzz/fuzz_oscore_state.c; and the
 * client's block hooks that tests/integration/it_oscore.c plays Inner
 * Block1 with. */
#ifndef STW_DEVICE_OSCORE_CLIENT_INTERNAL_H
#define STW_DEVICE_OSCORE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/authz.h"
#include "steward/thing.h"
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

/** An unsigned CoAP option value (RFC 7252 3.2): at most max_len bytes,
 *  big-endian, the empty value is 0.
 *  @retval STW_ERR_MALFORMED longer than max_len (at most 4) */
stw_status_t stw__coap_uint_decode(const uint8_t *v, size_t len, size_t max_len, uint32_t *out) STW_WUR;
/** Shortest encoding of value into out (4 bytes); its length (0 for 0). */
size_t stw__coap_uint_encode(uint32_t value, uint8_t out[4]);

/* ---- playing the network in tests: one block of a body at a time ---- */

/** Protect one block of a request body as stw_thing_call_oscore() sends
 *  it (inner Block1 = num << 4 | more << 3 | szx; Size1 when has_size1;
 *  Request-Tag tag[tag_len] when tag is not NULL) and write the datagram
 *  to out without sending it. The peer keeps the request's binding for
 *  stw__oscore_peer_open_answer().
 *  @retval STW_ERR_INVALID a bad argument (szx over 6; a tag empty, over 4
 *          bytes or with a leading zero: the SDK writes its tags shortest) */
stw_status_t stw__oscore_peer_protect_block(stw_oscore_peer_t *p, unsigned method, const char *path,
                                            const uint8_t *block, size_t len, uint32_t num, bool more, unsigned szx,
                                            bool has_size1, uint32_t size1, const uint8_t *tag, size_t tag_len,
                                            uint8_t *out, size_t cap, size_t *out_len) STW_WUR;

/** Verify an answer datagram to the last request protected on p (RFC
 *  8613 8.4): its inner code, and the values of its inner Block1 and Size1
 *  options (UINT32_MAX when absent); any of them may be NULL.
 *  @retval STW_ERR_MALFORMED  not a protected answer
 *  @retval STW_ERR_BAD_SIGNATURE  does not verify */
stw_status_t stw__oscore_peer_open_answer(stw_oscore_peer_t *p, const uint8_t *dgram, size_t len, unsigned *code,
                                          uint32_t *block1, uint32_t *size1) STW_WUR;

/* ---- the thing's saved OSCORE contexts (RFC 8613 B.1.1), device/thing_oscore.c ---- */

#define STW_OSC_STATE_MAX (STW_PEP_TOKEN_MAX + 128)  /**< bytes of one saved context */

/** A saved context; pointers into the file's bytes. */
typedef struct {
  const uint8_t *token;       /**< the access token as posted (1..STW_PEP_TOKEN_MAX bytes) */
  size_t token_len;
  const uint8_t *n1, *n2;     /**< N1 (1..32 bytes), N2 (8 bytes) */
  size_t n1_len, n2_len;
  const uint8_t *id1, *id2;   /**< the client's and the thing's Recipient IDs (0..7 bytes) */
  size_t id1_len, id2_len;
  uint64_t next_ssn;          /**< the bound: no Sender Sequence Number below it is used again */
} stw__osc_state_t;

/** {1: token, 2: N1, 3: N2, 4: ID1, 5: ID2, 6: next_ssn} (docs/oscore.md):
 *  every key once, other keys skipped, at most STW_OSC_STATE_MAX bytes,
 *  next_ssn at most 2^40. On a refusal *out is emptied.
 *  @retval STW_ERR_MALFORMED not that shape */
stw_status_t stw__osc_state_parse(const uint8_t *buf, size_t len, stw__osc_state_t *out) STW_WUR;

#endif
