/* Inside the device SDK: the attester's reading of a challenge answer. */
#ifndef STW_DEVICE_ATTEST_INTERNAL_H
#define STW_DEVICE_ATTEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "steward/status.h"

#define STW_ATTEST_CHALLENGE_MAX 128   /**< bytes of a GET /att answer */

/** Parse a GET /att answer: {1: nonce bstr (8..64 bytes), 2: seconds left}
 *  or {} (nothing asked: *nonce_len 0). nonce holds STW_EVIDENCE_NONCE_MAX
 *  bytes. A key twice, an unknown key, or a nonce without its lifetime is
 *  STW_ERR_MALFORMED; at most STW_ATTEST_CHALLENGE_MAX bytes. */
stw_status_t stw__attest_challenge_parse(const uint8_t *cbor, size_t len, uint8_t *nonce, size_t *nonce_len,
                                         uint64_t *lifetime) __attribute__((warn_unused_result));

#endif
