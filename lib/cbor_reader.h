/* A zero-allocation, bounded CBOR (RFC 8949) pull reader over (buf, len).
 *
 * For the parsers that must not touch the heap (the device's policy
 * enforcement point): libcbor builds item trees with malloc. The reader
 * walks the input in place; strings come back as pointer + length into the
 * caller's buffer, so the buffer must outlive what was read from it.
 *
 * What it reads: unsigned and negative integers up to 64 bits, definite
 * byte and text strings, definite arrays and maps, tags, the simple values
 * false/true/null (and skips undefined, other simple values and floats).
 * Indefinite lengths are refused: nothing we read needs them. Non-minimal
 * heads are accepted (a signature covers the bytes, not their meaning).
 *
 * Every read checks against the end pointer before it looks at a byte, and
 * a failed read leaves the reader where it was. Array and map counts larger
 * than the bytes left (every element takes at least one byte) are refused
 * at once, so a count can never drive a loop past the input. */
#ifndef STW_LIB_CBOR_READER_H
#define STW_LIB_CBOR_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

/** Deepest nesting stw_cbor_skip() follows (arrays, maps and tags count). */
#define STW_CBOR_DEPTH_MAX 16
/** Longest head: initial byte + 8 argument bytes. */
#define STW_CBOR_HEAD_MAX 9

/** Major types (RFC 8949 3.1). */
typedef enum {
  STW_CBOR_UINT = 0,
  STW_CBOR_NEGINT = 1,
  STW_CBOR_BSTR = 2,
  STW_CBOR_TSTR = 3,
  STW_CBOR_ARRAY = 4,
  STW_CBOR_MAP = 5,
  STW_CBOR_TAG = 6,
  STW_CBOR_SIMPLE = 7,  /**< false, true, null, undefined, other simple values, floats */
} stw_cbor_type_t;

/** Position in an input. Plain data: copy it to look ahead and come back. */
typedef struct {
  const uint8_t *pos;
  const uint8_t *end;
} stw_cbor_reader_t;

/** Start reading buf[0..len). buf may be NULL only with len 0. */
void stw_cbor_reader_init(stw_cbor_reader_t *r, const uint8_t *buf, size_t len);

/** Bytes not yet read. */
size_t stw_cbor_remaining(const stw_cbor_reader_t *r);

/** Major type of the next item without consuming it.
 *  @retval STW_ERR_MALFORMED at the end of the input */
stw_status_t stw_cbor_peek_type(const stw_cbor_reader_t *r, stw_cbor_type_t *type) STW_WUR;

/** Unsigned integer (major type 0). */
stw_status_t stw_cbor_read_uint(stw_cbor_reader_t *r, uint64_t *value) STW_WUR;

/** Unsigned or negative integer that fits int64_t (others: STW_ERR_MALFORMED). */
stw_status_t stw_cbor_read_int(stw_cbor_reader_t *r, int64_t *value) STW_WUR;

/** Byte string: *data points into the input (not copied), *len its length. */
stw_status_t stw_cbor_read_bstr(stw_cbor_reader_t *r, const uint8_t **data, size_t *len) STW_WUR;

/** Text string: as stw_cbor_read_bstr(). Not NUL-terminated; UTF-8 is not checked. */
stw_status_t stw_cbor_read_tstr(stw_cbor_reader_t *r, const char **text, size_t *len) STW_WUR;

/** Array head: *count elements follow (at most the bytes left). */
stw_status_t stw_cbor_read_array(stw_cbor_reader_t *r, size_t *count) STW_WUR;

/** Map head: *count key/value pairs follow (2 * count at most the bytes left). */
stw_status_t stw_cbor_read_map(stw_cbor_reader_t *r, size_t *count) STW_WUR;

/** Tag head (e.g. 18 COSE_Sign1, 61 CWT): *tag is the tag number; the tagged
 *  item follows and is read next. */
stw_status_t stw_cbor_read_tag(stw_cbor_reader_t *r, uint64_t *tag) STW_WUR;

/** false or true. */
stw_status_t stw_cbor_read_bool(stw_cbor_reader_t *r, bool *value) STW_WUR;

/** null. */
stw_status_t stw_cbor_read_null(stw_cbor_reader_t *r) STW_WUR;

/** Skip one complete data item, nested items included, at most
 *  STW_CBOR_DEPTH_MAX levels deep (deeper: STW_ERR_MALFORMED). Iterative:
 *  its stack use does not grow with the nesting. */
stw_status_t stw_cbor_skip(stw_cbor_reader_t *r) STW_WUR;

/** True when every byte has been read. */
bool stw_cbor_at_end(const stw_cbor_reader_t *r);

/** STW_OK when every byte has been read, STW_ERR_MALFORMED when bytes trail
 *  the item (one message, one item: trailing bytes are a smuggling channel). */
stw_status_t stw_cbor_expect_end(const stw_cbor_reader_t *r) STW_WUR;

/** Write the shortest head for major type and argument into out (at least
 *  STW_CBOR_HEAD_MAX bytes); returns its length. The one CBOR writer the
 *  zero-allocation code needs: to feed a Sig_structure to a hash, and to
 *  write deterministic CWT claims. */
size_t stw_cbor_put_head(stw_cbor_type_t major, uint64_t argument, uint8_t out[STW_CBOR_HEAD_MAX]);

#endif
