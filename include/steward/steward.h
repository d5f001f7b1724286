/* Steward device SDK (libsteward): the umbrella header. Each capability has
 * its own small header; include this one to get them all. */
#ifndef STEWARD_H
#define STEWARD_H

#include "steward/status.h"

#define STEWARD_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** The SDK's version string, e.g. "0.1.0"; static storage. */
const char *stw_version(void);

#ifdef __cplusplus
}
#endif
#endif
