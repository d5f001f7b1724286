/* What a device tells the domain about an update it was offered: POST
 * /fw/report with a CBOR map {1: sequence, 2: status, 3: detail}
 * (docs/updates.md has the CDDL). The device writes it, the daemon reads it. */
#ifndef STW_LIB_FWREPORT_H
#define STW_LIB_FWREPORT_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define STW_FWREPORT_MAX 512          /* largest report body we parse */
#define STW_FWREPORT_DETAIL_MAX 200   /* detail text, bytes (NUL not counted) */

/* The values match the roll-out row statuses of the store. */
typedef enum {
  STW_FWREPORT_DOWNLOADING = 2,
  STW_FWREPORT_INSTALLED = 3,
  STW_FWREPORT_FAILED = 4,
} stw_fwreport_status_t;

typedef struct {
  uint64_t sequence;                          /**< the manifest's sequence number */
  stw_fwreport_status_t status;
  char detail[STW_FWREPORT_DETAIL_MAX + 1];   /**< printable ASCII, may be "" */
} stw_fwreport_t;

/** "downloading", "installed", "failed" (or "?"). */
const char *stw_fwreport_status_name(stw_fwreport_status_t s);
/** Encode; a detail over the bound is cut, unprintable bytes become '?'. */
stw_status_t stw_fwreport_encode(const stw_fwreport_t *r, stw_buf_t *out) STW_WUR;
/** Parse (bounded by STW_FWREPORT_MAX, keys 1..3 each exactly once, nothing
 *  trailing). STW_ERR_TOO_LARGE or STW_ERR_MALFORMED. */
stw_status_t stw_fwreport_decode(const uint8_t *cbor, size_t len, stw_fwreport_t *out) STW_WUR;

#endif
