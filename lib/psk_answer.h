/* The operational-PSK answer of /.well-known/est/psk: CBOR {1: identity tstr,
 * 2: key bstr(32), 3: assigned name tstr}. Encoded and decoded by hand because the key is a secret:
 * no copy is left in a CBOR library's heap. */
#ifndef STW_LIB_PSK_ANSWER_H
#define STW_LIB_PSK_ANSWER_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define STW_PSK_KEY_LEN 32
#define STW_PSK_IDENTITY_MAX 63

#define STW_PSK_NAME_MAX 63
#define STW_PSK_ANSWER_MAX 200

/** out must hold STW_PSK_ANSWER_MAX bytes. */
stw_status_t stw_psk_answer_encode(const char *identity, const uint8_t key[STW_PSK_KEY_LEN], const char *name,
                                   uint8_t *out, size_t cap, size_t *len) STW_WUR;
/** identity and name get NUL-terminated copies (STW_PSK_IDENTITY_MAX + 1 and
 *  STW_PSK_NAME_MAX + 1 bytes). */
stw_status_t stw_psk_answer_decode(const uint8_t *in, size_t len, char *identity,
                                   uint8_t key[STW_PSK_KEY_LEN], char *name) STW_WUR;

#endif
