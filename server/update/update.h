/* Firmware updates, the domain's side: publishing a vendor-signed manifest
 * with the owner's authorisation, roll-out campaigns in stages, and what a
 * device's report changes. Plain functions over the store (no sockets); the
 * CoAP side is update_coap.c. Design and wire formats: docs/updates.md. */
#ifndef STW_SERVER_UPDATE_H
#define STW_SERVER_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "domain/domain.h"
#include "fwreport.h"
#include "manifest.h"
#include "store/store.h"

#define STW_FW_IMAGE_MAX (16u * 1024 * 1024)   /* largest image the domain publishes */
#define STW_FW_DEFAULT_CANARY 10               /* percent of the targets in stage 0 */
#define STW_FW_DEFAULT_MAX_FAILURES 20         /* percent */

/** <data_dir>/firmware/<hex digest>: where an authorised image lives. */
stw_status_t stw_update_image_path(const char *data_dir, const uint8_t digest[32], char *out, size_t len) STW_WUR;

/** Publish: check the vendor signature against the trusted manufacturers
 *  (the one whose name is the manifest's vendor), the image against the
 *  manifest's size and digest, authorise it with the domain CA key, write the
 *  image content-addressed (atomically) and record envelope and metadata with
 *  an audit record, in one transaction. out (may be NULL) gets the row
 *  (envelope owned: stw_firmware_clear). why: a sentence for the operator.
 *  STW_ERR_UNTRUSTED (no trusted manufacturer signed it), STW_ERR_TAMPERED
 *  (image does not match), STW_ERR_EXISTS (that vendor/class/sequence is
 *  there already), or the manifest's parse errors. */
stw_status_t stw_update_publish(stw_store_t *st, const stw_domain_t *domain, const uint8_t *vendor_signed,
                                size_t signed_len, const uint8_t *image, size_t image_len, const char *actor,
                                stw_firmware_t *out, char *why, size_t why_len) STW_WUR;

/** Start a campaign for spec->firmware_id to spec->target ("model=X": the
 *  enrolled devices of that model; "group=Y": those whose attribute group is
 *  Y; only devices of the firmware's vendor and class either way), with
 *  spec->canary_percent (1..100) of them in stage 0 (at least one) and the
 *  rest waiting for stage 1. One transaction with its audit record. out gets
 *  the campaign (id set), *targets the devices it covers.
 *  STW_ERR_NOT_FOUND: no such firmware, or no device matches. */
stw_status_t stw_update_campaign_create(stw_store_t *st, const stw_campaign_t *spec, const char *actor,
                                        stw_campaign_t *out, uint64_t *targets, char *why, size_t why_len) STW_WUR;
/** A HALTED campaign runs again: the operator accepts the failures so far
 *  (only a new failure can halt it again); a finished stage moves on.
 *  STW_ERR_STATE if it is not HALTED. */
stw_status_t stw_update_campaign_resume(stw_store_t *st, int64_t id, const char *actor, char *why,
                                        size_t why_len) STW_WUR;
/** Stop a RUNNING or HALTED campaign for good; nothing more is offered. */
stw_status_t stw_update_campaign_abort(stw_store_t *st, int64_t id, const char *actor, char *why,
                                       size_t why_len) STW_WUR;

/** What one report did. */
typedef struct {
  int64_t campaign_id;
  bool lifecycle_moved;           /**< a transition was recorded */
  stw_state_t state;              /**< the device's state afterwards */
  bool offers_changed;            /**< the campaign moved on, halted or finished: tell observers */
  stw_campaign_state_t campaign_state;
} stw_report_outcome_t;

/** Apply a device's report (inside the caller's transaction when open): the
 *  roll-out row of the newest campaign that offered this device firmware of
 *  that sequence, the device's running firmware on "installed", the
 *  lifecycle (UPDATE_START / UPDATE_DONE / UPDATE_FAILED where the table
 *  allows it), the audit record, then the campaign's evaluation: halt past
 *  the threshold, next stage, done. STW_ERR_NOT_FOUND if nothing of that
 *  sequence was offered to the device. */
stw_status_t stw_update_report_apply(stw_store_t *st, const char *device_id, const stw_fwreport_t *r,
                                     stw_report_outcome_t *out) STW_WUR;

/** The envelope offered to this device now (out->envelope owned).
 *  STW_ERR_NOT_FOUND when nothing is. */
stw_status_t stw_update_offer(stw_store_t *st, const char *device_id, stw_firmware_t *out) STW_WUR;
/** May this device fetch the image with this digest now (it is offered to
 *  it)? */
bool stw_update_may_fetch(stw_store_t *st, const char *device_id, const uint8_t digest[32]);

/** "running", "halted", "aborted", "done"; "offered", ... */
const char *stw_campaign_state_name(stw_campaign_state_t s);
const char *stw_rollout_status_name(stw_rollout_status_t s);

/** A fingerprint of every campaign's state and stage: the daemon polls it to
 *  see the CLI's changes (create, resume, abort) and tell observers. */
stw_status_t stw_update_campaigns_fingerprint(stw_store_t *st, uint64_t *out) STW_WUR;

#endif
