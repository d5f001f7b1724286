/* Inside the device SDK: the small files a device keeps beside its
 * credentials (firmware slots, boot record, update progress). A device with a
 * folder keeps them there, replaced atomically; a memory-only device (the
 * simulator's fleet) keeps them in memory with the same semantics, so the
 * same update agent runs on both. */
#ifndef STW_DEVICE_DEVFILES_H
#define STW_DEVICE_DEVFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dev_internal.h"

#define STW_DEVFILE_NAME_MAX 64

/** Read name (relative: "fw/boot") of at most max bytes. *out is malloc'd with
 *  a NUL after *len bytes; the caller frees it. STW_ERR_NOT_FOUND if absent,
 *  STW_ERR_TOO_LARGE if over max. */
stw_status_t stw__devfile_read(const stw_dev_t *dev, const char *name, size_t max, uint8_t **out,
                               size_t *len) STW_WUR;
/** Replace name with data, atomically (folders created as needed). */
stw_status_t stw__devfile_write(stw_dev_t *dev, const char *name, const void *data, size_t len,
                                unsigned mode) STW_WUR;
/** Append to name (created if absent). Not atomic: for data whose length is
 *  recorded elsewhere (a download's blocks; its progress record says how
 *  many bytes count). */
stw_status_t stw__devfile_append(stw_dev_t *dev, const char *name, const void *data, size_t len) STW_WUR;
/** Size of name; STW_ERR_NOT_FOUND if absent. */
stw_status_t stw__devfile_size(const stw_dev_t *dev, const char *name, uint64_t *size) STW_WUR;
/** Remove name; absent is fine. */
void stw__devfile_remove(stw_dev_t *dev, const char *name);
/** Free a memory-only device's files (stw_dev_close). NULL is fine. */
void stw__devfiles_free(stw_devfile_t *files);

/* ---- "key=value\n" records (the boot record, the download progress) ---- */

/** Check one value: key is its index in the keys given to stw__record_parse. */
typedef bool (*stw__record_value_fn)(void *arg, unsigned key, const char *value, size_t len);

/** Read text as "key=value\n" lines: each of keys[0..n_keys) exactly once, in
 *  any order, every value accepted by fn(arg, ...). STW_ERR_MALFORMED for a
 *  line without its newline or '=', an unknown key, a key twice, a value fn
 *  refuses, or a key missing. n_keys at most 32. The caller bounds len. */
stw_status_t stw__record_parse(const uint8_t *text, size_t len, const char *const *keys, unsigned n_keys,
                               stw__record_value_fn fn, void *arg) STW_WUR;
/** A record's number: 1 to 20 decimal digits, nothing else, no overflow. */
bool stw__record_u64(const char *s, size_t len, uint64_t *out) STW_WUR;

#endif
