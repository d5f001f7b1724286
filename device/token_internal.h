/* The token client's answer parser (device/token.c), exposed for the fuzz
 * target tests/fuzz/fuzz_token_answer.c. */
#ifndef STW_DEVICE_TOKEN_INTERNAL_H
#define STW_DEVICE_TOKEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "steward/token.h"

/** The AS's /token answer (RFC 9200 5.8.2): {1: access_token, 2:
 *  expires_in, 9: scope, 41: rs_cnf, 8: cnf (OSCORE material, when m is not
 *  NULL), 30: error}, at most 4096 bytes. out->token is malloc'd on success
 *  (stw_token_clear()); m receives the material.
 *  @retval STW_ERR_MALFORMED not that shape, or no token / rs_cnf / (for m) material */
stw_status_t stw__token_answer_parse(const uint8_t *p, size_t len, stw_token_t *out,
                                     stw_oscore_material_t *m) __attribute__((warn_unused_result));

#endif
