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

/** int64 of a CBOR integer item; false if not an integer or out of range. */
bool stw__cbor_int64(const cbor_item_t *item, int64_t *out);

/** A definite bstr of at most max bytes (exactly max when exact), copied to
 *  dst; its length goes to *len unless len is NULL. */
bool stw__cbor_get_bstr(const cbor_item_t *it, size_t max, bool exact, uint8_t *dst, size_t *len);

/** Adds k: v to map and drops our references to both; false on failure
 *  (either NULL included), with both freed. */
bool stw__cbor_map_put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v);

/* Vouchers and attribute roots name their signer with the same kid, so the
 * one rule lives here. */
#define STW_SPKI_KID_LEN 16

/** kid = SHA-256(spki)[0..16) */
stw_status_t stw__cose_spki_kid(const uint8_t *spki, size_t len, uint8_t kid[STW_SPKI_KID_LEN]) STW_WUR;

/** STW_OK when s carries the kid of spki; STW_ERR_UNTRUSTED when it is
 *  missing or names another key (whatever the signature says). */
stw_status_t stw__cose_check_spki_kid(const stw_cose_sign1_t *s, const uint8_t *spki, size_t len) STW_WUR;

/** stw_cose_sign1_create() naming the signer by the kid of key's SPKI. out
 *  is initialised to max bytes if still empty (data NULL, max 0), and emptied
 *  (len 0) before signing; a message longer than max is refused with
 *  STW_ERR_TOO_LARGE and out->len 0, so we never sign what the reader's bound
 *  would refuse. */
stw_status_t stw__cose_sign1_with_kid(const stw_key_t *key, const uint8_t *payload, size_t payload_len,
                                      const uint8_t *aad, size_t aad_len, size_t max, stw_buf_t *out) STW_WUR;

/** stw_cose_sign1_verify(), then the kid: a kid naming another key than spki
 *  means another signer, whatever the signature says (STW_ERR_BAD_SIGNATURE). */
stw_status_t stw__cose_sign1_verify_kid(const uint8_t *msg, size_t len, const uint8_t *spki, size_t spki_len,
                                        const uint8_t *aad, size_t aad_len, stw_cose_sign1_t *s) STW_WUR;

#endif
