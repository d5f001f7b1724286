/* CBOR helpers that lib/ modules share with lib/cose.c. Not for the SDK. */
#ifndef STW_LIB_COSE_INTERNAL_H
#define STW_LIB_COSE_INTERNAL_H

#include <cbor.h>
#include "cose.h"

/** cbor_load of exactly one data item filling p[0..len), safe against
 *  libcbor 0.8's habit of preallocating whatever count an array or map head
 *  claims: the item is first walked head by head and every count checked
 *  against the bytes left, so a 5-byte "array of 2^32" is refused before
 *  libcbor sees it. Indefinite lengths are refused. On success *item is
 *  the caller's to cbor_decref. STW_ERR_MALFORMED or STW_ERR_NOMEM. */
stw_status_t stw__cbor_load(const uint8_t *p, size_t len, cbor_item_t **item) STW_WUR;

#endif
