/* Definite-length CBOR (RFC 8949) written head by head into a bounded
 * stw_buf_t: the deterministic encodings (CWT claims, manifests, evidence,
 * firmware reports) are built with these, so every head is the shortest one
 * (RFC 8949 4.2.1) and one set of values has exactly one encoding.
 *
 * The heap-free code writes heads into its own stack buffers with
 * stw_cbor_put_head() (cbor_reader.h) instead. Each function appends to b
 * and fails with what stw_buf_append() fails with (STW_ERR_TOO_LARGE past
 * b->max, STW_ERR_NOMEM); on failure b may hold part of the item. */
#ifndef STW_LIB_CBOR_WRITER_H
#define STW_LIB_CBOR_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "cbor_reader.h"
#include "util.h"

/** The shortest head for major type and argument (a uint's value, a string's
 *  length, an array's or map's count, a tag's number). */
stw_status_t stw_cbor_write_head(stw_buf_t *b, stw_cbor_type_t major, uint64_t argument) STW_WUR;

/** An integer: major type 0 for v >= 0, else 1 with argument -1 - v. */
stw_status_t stw_cbor_write_int(stw_buf_t *b, int64_t v) STW_WUR;

/** A byte (STW_CBOR_BSTR) or text (STW_CBOR_TSTR) string of len bytes from p
 *  (p may be NULL only with len 0). Text is written as given: UTF-8 and
 *  control bytes are the caller's to check. */
stw_status_t stw_cbor_write_bytes(stw_buf_t *b, stw_cbor_type_t major, const void *p, size_t len) STW_WUR;

/** A text string from a NUL-terminated s the caller has already bounded. */
stw_status_t stw_cbor_write_text(stw_buf_t *b, const char *s) STW_WUR;

/** The last step of decoding a format that has exactly one encoding: the
 *  reader accepts long heads, so the decoder re-encodes what it read into
 *  again (encoded: that encoder's status) and the bytes must be the input's.
 *  @retval STW_OK when encoded is STW_OK and again holds exactly cbor[0..len)
 *  @retval STW_ERR_MALFORMED otherwise
 *  again is freed either way. */
stw_status_t stw_cbor_check_one_encoding(stw_status_t encoded, stw_buf_t *again, const uint8_t *cbor,
                                         size_t len) STW_WUR;

#endif
