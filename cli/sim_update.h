/* `steward sim --rollout`: the simulated fleet takes part in a firmware
 * roll-out. The manufacturer signs an image, the owner publishes it and
 * starts a campaign for the fleet's model, and every device runs the SDK's
 * update agent until the campaign is done or halted. */
#ifndef STW_CLI_SIM_UPDATE_H
#define STW_CLI_SIM_UPDATE_H

#include <stdbool.h>
#include "factory.h"
#include "steward/device.h"

typedef struct {
  unsigned image_bytes;        /**< size of the image to roll out (0: none, only run the agents) */
  unsigned canary_percent;
  unsigned max_failure_percent;
  double fail_share;           /**< share of devices whose self-test fails */
  const char *fail_devices;    /**< comma-separated device ids (or id prefixes) that fail it */
  double watch_seconds;        /**< how long to run the agents at most */
  bool json;
  bool quiet;
} sim_update_opts_t;

/** Run the roll-out phase over devs (enrolled; NULL entries skipped). Prints a
 *  summary (one JSON line with json). STW_OK when the campaign finished. */
stw_status_t sim_rollout(const char *server, const char *data_dir, const stw_factory_t *f, const char *model,
                         stw_dev_t *const *devs, unsigned n, const sim_update_opts_t *o);

#endif
