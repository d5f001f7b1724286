/* A/B firmware slots, as the simulator models them on disk inside the device
 * folder: fw/slot-a.img, fw/slot-b.img and fw/boot (the boot record: which
 * slot is active, whether it runs on trial, the installed manifest sequence,
 * the boot count). Written atomically; the boot record is the commit point.
 * The update agent writes the inactive slot and boots into it on trial; the
 * attester measures what the active slot holds. */
#ifndef STW_DEVICE_SLOTS_H
#define STW_DEVICE_SLOTS_H

#include <stdbool.h>
#include <stdint.h>
#include "steward/device.h"

typedef struct {
  char active;                   /**< 'a' or 'b' */
  bool trial;                    /**< booted into a new image that has not confirmed itself yet */
  uint64_t sequence;             /**< manifest sequence of the active image (0: factory image) */
  uint64_t prev_sequence;        /**< of the other slot, to fall back to */
  uint64_t boot_count;           /**< incremented by every stw_slots_boot() */
} stw_slots_t;

/** Load the boot record; a folder without one gets the factory image in slot a
 *  (fw/slot-a.img created from the device id, sequence 0). */
stw_status_t stw_slots_load(stw_dev_t *dev, stw_slots_t *out) __attribute__((warn_unused_result));
/** SHA-256 of the active image and of the device's configuration (its name,
 *  domain CA and model as the folder holds them), and the boot count: what
 *  the attester reports. */
stw_status_t stw_slots_measure(stw_dev_t *dev, uint8_t image_digest[32], uint8_t config_digest[32],
                               uint64_t *boot_count, uint64_t *sequence) __attribute__((warn_unused_result));

#endif
