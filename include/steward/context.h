/* Steward device SDK — publishing a context attribute (a presence sensor
 * saying whether anyone is home). The domain accepts it only from a device
 * whose `publishes` attribute names it, files it under the device's place
 * (or owner), and revokes the tokens the change no longer allows. */
#ifndef STEWARD_CONTEXT_H
#define STEWARD_CONTEXT_H

#include "steward/bootstrap.h"

#ifdef __cplusplus
extern "C" {
#endif

/** POST /context {1: name, 2: value} over the device's DTLS session.
 *  name and value at most 63 and 255 bytes.
 *  @retval STW_ERR_FORBIDDEN this device may not publish that attribute */
stw_status_t stw_context_publish(stw_dev_t *dev, const char *domain_uri, const char *name, const char *value,
                                 stw_bootstrap_report_t *report) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
