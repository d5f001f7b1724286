/* Small shared helpers: constant-time compare, wiping, hex, bounded buffers,
 * atomic secret files. One place for each so nothing is written twice. */
#ifndef STW_LIB_UTIL_H
#define STW_LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/status.h"

#define STW_WUR __attribute__((warn_unused_result))
#define STW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/** Constant-time equality of two equal-length byte strings. */
bool stw_ct_equal(const void *a, const void *b, size_t len);

/** Overwrite len bytes at p with zeros in a way the compiler keeps. NULL is fine. */
void stw_wipe(void *p, size_t len);

/** Lower-case hex of in[0..len) into out (2*len+1 bytes, NUL-terminated). */
void stw_hex_encode(const uint8_t *in, size_t len, char *out);

/** Parse exactly 2*out_len hex digits from hex[0..hex_len) into out. */
stw_status_t stw_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_len) STW_WUR;

/** Write data to path atomically: temp file in the same folder, fsync, rename,
 *  fsync of the folder. mode is applied to the temp file before any byte is
 *  written, so a secret is never readable by others, not even for an instant. */
stw_status_t stw_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode) STW_WUR;

/** Read a whole file of at most max bytes. On success *out is malloc'd (the
 *  caller frees it; a NUL is appended after *out_len bytes for convenience).
 *  STW_ERR_TOO_LARGE if the file is bigger than max, STW_ERR_NOT_FOUND if absent. */
stw_status_t stw_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len) STW_WUR;

/** mkdir -p with the given mode for folders it creates. */
stw_status_t stw_mkdir_p(const char *path, unsigned mode) STW_WUR;

/** Join folder and name into out (size out_len); STW_ERR_TOO_LARGE if it does not fit. */
stw_status_t stw_path_join(char *out, size_t out_len, const char *dir, const char *name) STW_WUR;

/** Write a reason into an optional caller buffer (why NULL or len 0: nothing). */
void stw_explain(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Seconds since the Unix epoch (wall clock) and a monotonic clock in microseconds. */
int64_t stw_now(void);
uint64_t stw_monotonic_us(void);

/** Fill buf with len bytes from the system's CSPRNG (GnuTLS). */
stw_status_t stw_random(void *buf, size_t len) STW_WUR;

/** A growable byte buffer with a hard upper bound (curl's dynbuf idea). */
typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
  size_t max;  /**< appends beyond this fail with STW_ERR_TOO_LARGE */
} stw_buf_t;

void stw_buf_init(stw_buf_t *b, size_t max);
stw_status_t stw_buf_append(stw_buf_t *b, const void *data, size_t len) STW_WUR;
/** Frees the storage; wipes it first when wipe is true. */
void stw_buf_free(stw_buf_t *b, bool wipe);

#endif
