/* Steward device SDK — the firmware update agent.
 *
 * The agent keeps one DTLS session per device to its domain (LDevID or
 * operational PSK), observes /fw and, when the domain offers an envelope:
 * checks both signatures (the manufacturer's with the imprinted CA key, the
 * owner's with the pinned domain CA key), that vendor and class are the
 * device's and that the sequence number is above the installed one (no
 * rollback); downloads the image block by block, persisting progress so a
 * restart continues from the last block; checks size and SHA-256; writes the
 * inactive slot, "reboots" into it on trial, runs the application's
 * self-test, and confirms or falls back to the old slot. Every step is
 * reported to the domain (POST /fw/report). A refused offer changes nothing
 * on the device.
 *
 *   stw_updater_t *u; stw_updater_new(&u);
 *   stw_update_opts_t o = { .self_test = my_test, .on_result = done, .arg = app };
 *   stw_updater_watch(u, dev, "coaps://domain.example", &o);
 *   for (;;) stw_updater_run(u, 1000);
 *
 * One updater serves one device or thousands (the simulator). */
#ifndef STEWARD_UPDATE_H
#define STEWARD_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STW_UPDATE_DETAIL_MAX 200

/** How one offered update ended on the device. */
typedef struct {
  uint64_t sequence;          /**< the manifest's sequence (0 if it did not parse) */
  stw_status_t status;        /**< STW_OK: installed and confirmed; else why not */
  char detail[STW_UPDATE_DETAIL_MAX + 1];  /**< the sentence reported to the domain */
  uint64_t resumed_at;        /**< image bytes already there from an earlier, interrupted run */
  uint64_t blocks_fetched;    /**< blocks downloaded in this run */
  uint64_t image_bytes;       /**< bytes downloaded in this run */
  uint64_t latency_us;        /**< from the offer to the domain's answer to the last report */
} stw_update_result_t;

/** The application's self-test of a freshly booted image: true keeps it. */
typedef bool (*stw_self_test_fn)(stw_dev_t *dev, const uint8_t *image, size_t len, void *arg);
/** Called from stw_updater_run() when an offered update ended (either way). */
typedef void (*stw_update_result_fn)(stw_dev_t *dev, const stw_update_result_t *result, void *arg);

typedef struct {
  stw_self_test_fn self_test;          /**< NULL: every image passes */
  stw_update_result_fn on_result;      /**< may be NULL */
  void *arg;                           /**< for both callbacks */
  uint64_t interrupt_after_blocks;     /**< tests: drop everything after this many blocks, as a power loss
                                            would (the result says STW_ERR_NETWORK); 0: never */
} stw_update_opts_t;

typedef struct stw_updater stw_updater_t;

stw_status_t stw_updater_new(stw_updater_t **out) __attribute__((warn_unused_result));
/** Start the agent for an enrolled dev against its domain (coaps://host[:port]).
 *  dev and opts->arg must outlive the updater. */
stw_status_t stw_updater_watch(stw_updater_t *u, stw_dev_t *dev, const char *domain_uri,
                               const stw_update_opts_t *opts) __attribute__((warn_unused_result));
/** Do network I/O and the agents' work for up to timeout_ms. Returns how
 *  many devices are in the middle of an update. */
unsigned stw_updater_run(stw_updater_t *u, unsigned timeout_ms);
/** How many devices observe /fw now (their session is up and checked). */
unsigned stw_updater_observing(const stw_updater_t *u);
/** Closes every session. An update in flight stops where it is; its
 *  progress stays in the device folder for the next run. NULL is fine. */
void stw_updater_free(stw_updater_t *u);

/** The checks made on an offered envelope, without the network: both
 *  signatures, vendor, class and sequence against what dev runs.
 *  @retval STW_ERR_BAD_SIGNATURE a signature does not verify (unknown key)
 *  @retval STW_ERR_UNAUTHENTICATED the owner's authorisation is missing
 *  @retval STW_ERR_FORBIDDEN another vendor or class
 *  @retval STW_ERR_REPLAY the sequence is not above the installed one
 *  @retval STW_ERR_MALFORMED not an envelope
 *  why (may be NULL) gets the sentence the agent reports; *sequence the
 *  manifest's (0 when unreadable). */
stw_status_t stw_update_check_envelope(stw_dev_t *dev, const uint8_t *envelope, size_t len, uint64_t *sequence,
                                       char *why, size_t why_len) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
