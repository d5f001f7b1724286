/* Inside the update agent: the download progress record it keeps in the
 * device folder (fw/download.state beside the partial image fw/download),
 * exported for the fuzz target. */
#ifndef STW_DEVICE_UPDATE_INTERNAL_H
#define STW_DEVICE_UPDATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define STW__PROGRESS_MAX 256

typedef struct {
  uint64_t sequence;
  uint64_t size;
  uint8_t digest[32];
  uint64_t have;      /**< bytes of fw/download that count */
} stw__progress_t;

/** Parse "sequence=N\nsize=N\ndigest=HEX\nhave=N\n" (bounded, every line once). */
stw_status_t stw__progress_parse(const uint8_t *text, size_t len, stw__progress_t *out) STW_WUR;

#endif
