/* A/B firmware slots, as the simulator models them on disk inside the device
 * folder: fw/slot-a.img, fw/slot-b.img and fw/boot (the boot record: which
 * slot is active, whether it runs on trial, the installed manifest sequence,
 * the boot count). Written atomically; the boot record is the commit point.
 * The update agent writes the inactive slot and boots into it on trial; the
 * attester measures what the active slot holds. */
#ifndef STW_DEVICE_SLOTS_H
#define STW_DEVICE_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
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

/* ---- what the update agent does with them (device/update.c) ---------------- */

#define STW_SLOTS_IMAGE_MAX (16u * 1024 * 1024)  /**< largest image a slot holds */
#define STW_SLOTS_BOOT_MAX 256                   /**< the boot record file */

/** Parse a boot record (bounded by STW_SLOTS_BOOT_MAX; every field required). */
stw_status_t stw_slots_parse(const uint8_t *text, size_t len, stw_slots_t *out) __attribute__((warn_unused_result));
/** The active image (malloc'd; the caller frees). */
stw_status_t stw_slots_read_active(stw_dev_t *dev, uint8_t **image, size_t *len) __attribute__((warn_unused_result));
/** Replace the inactive slot's image. The boot record is untouched: until
 *  stw_slots_boot_trial() the device runs what it ran. */
stw_status_t stw_slots_write_inactive(stw_dev_t *dev, const uint8_t *image, size_t len) __attribute__((warn_unused_result));
/** "Reboot" into the inactive slot on trial: it becomes active with sequence,
 *  trial set, boot count + 1. */
stw_status_t stw_slots_boot_trial(stw_dev_t *dev, uint64_t sequence, stw_slots_t *out) __attribute__((warn_unused_result));
/** The trial image passed its self-test: it stays. */
stw_status_t stw_slots_confirm(stw_dev_t *dev, stw_slots_t *out) __attribute__((warn_unused_result));
/** The trial image failed: reboot into the other slot (boot count + 1). */
stw_status_t stw_slots_fall_back(stw_dev_t *dev, stw_slots_t *out) __attribute__((warn_unused_result));
/** A plain reboot (boot count + 1). An image still on trial was never
 *  confirmed, so the device comes back on the old slot, as an A/B bootloader
 *  does after a crash during the self-test. */
stw_status_t stw_slots_boot(stw_dev_t *dev, stw_slots_t *out) __attribute__((warn_unused_result));
/** The device's vendor (the manufacturer: its IDevID's O, else its
 *  manufacturer CA's) and class (the model: the IDevID's OU, else the folder's
 *  "model" file); "" when unknown. Both STW_NAME_MAX bytes. */
stw_status_t stw_slots_identity(const stw_dev_t *dev, char *vendor, char *class_id) __attribute__((warn_unused_result));

#endif
