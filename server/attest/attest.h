/* Remote attestation, the verifier's side (RATS roles, RFC 9334): challenges
 * and the appraisal of evidence (lib/evidence.h) against reference values,
 * and what a result does to the device's life. Plain functions over the
 * store; attest_coap.c decodes, calls, encodes. See docs/attestation.md.
 *
 *   stw_attest_appraise()   event loop, read-only: signature with the stored
 *                           LDevID key, ueid, measurements against reference
 *                           values and what the device reported before
 *   stw_attest_record()     writer thread: consume the nonce, record the
 *                           result with its audit record; contraindicated →
 *                           QUARANTINE and its tokens revoked; affirming after
 *                           an authorised update → REMEDIATE (one transaction)
 *   stw_attest_sched_*()    which device is challenged with which nonce,
 *                           and which are due for a periodic challenge
 *   stw_attest_quarantine() / stw_attest_release()  the operator's hand */
#ifndef STW_SERVER_ATTEST_H
#define STW_SERVER_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "evidence.h"
#include "store/store.h"

#define STW_ATTEST_NONCE_LEN 32                 /**< bytes of a challenge we issue */
#define STW_ATTEST_NONCE_LIFETIME_DEFAULT 120   /**< seconds a challenge may be answered */
#define STW_ATTEST_INTERVAL_DEFAULT (6 * 3600)  /**< seconds between periodic challenges */
#define STW_ATTEST_CONFIG_ATTR "attest.config"  /**< device attribute: the configuration digest last seen */
#define STW_ATTEST_HISTORY 16                   /**< earlier results read to find the one that quarantined */
#define STW_ATTEST_DEVICES_MAX 100000           /**< devices the scheduler keeps in memory */

/** The outcome of one piece of evidence: a refusal (coap_code set; nothing
 *  recorded but the refusal's audit record) or an appraised result. */
typedef struct {
  unsigned coap_code;              /**< 0: appraised; else 400 / 403 / 500 as class*100+detail */
  char diag[128];                  /**< the refusal, for the device */
  char refusal[STW_TEXT_MAX];      /**< audit outcome code: "bad-signature", "ueid", "nonce-replay", ... */
  char device_id[STW_ID_HEX];      /**< the authenticated device */
  stw_evidence_t ev;               /**< the claims, once the signature verified */
  /* the appraisal */
  stw_ear_t verdict;
  char reasons[STW_REASON_MAX];    /**< "; "-separated, "" for a clean affirming result */
  bool first;                      /**< the device was never appraised before */
  bool has_config;
  uint8_t config_digest[32];
  bool record_config;              /**< first seen or changed: remember it */
  bool may_remediate;              /**< affirming and another image than the one that failed */
  char trigger[STW_TEXT_MAX];      /**< "enroll", "update", "periodic", "admin", "device" */
  /* what stw_attest_record() did */
  int64_t result_id;
  bool quarantined;
  bool remediated;
  uint64_t tokens_revoked;
} stw_appraisal_t;

/** Appraise evidence msg (a COSE_Sign1, at most STW_EVIDENCE_MAX bytes) that
 *  device_id sent over its authenticated session, at now. Reads only.
 *  Refusals (out->coap_code): 4.00 malformed, 4.03 no LDevID key / signed by
 *  another key / ueid of another device. STW_OK unless the store failed. */
stw_status_t stw_attest_appraise(stw_store_t *st, const char *device_id, const uint8_t *msg, size_t len, int64_t now,
                                 stw_appraisal_t *out) __attribute__((warn_unused_result));

/** Writer thread, one transaction (the caller's if open): take the nonce
 *  (4.03 when unknown, used, another device's or expired: only the refusal is
 *  audited), record the result, the configuration digest, the audit record,
 *  and the lifecycle consequence. STW_OK unless the store failed. */
stw_status_t stw_attest_record(stw_store_t *st, stw_appraisal_t *a, int64_t now) __attribute__((warn_unused_result));

/** Operator: QUARANTINE device_id (its tokens revoked) or release it
 *  (REMEDIATE), audited as actor, one transaction. STW_ERR_STATE when the
 *  lifecycle does not allow it (nothing written). */
stw_status_t stw_attest_quarantine(stw_store_t *st, const char *device_id, const char *actor, const char *reason,
                                   int64_t now, uint64_t *tokens_revoked) __attribute__((warn_unused_result));
stw_status_t stw_attest_release(stw_store_t *st, const char *device_id, const char *actor, const char *reason)
    __attribute__((warn_unused_result));
/** Operator: ask the daemon to challenge device_id now (an audit record
 *  "attest.request" the daemon follows). */
stw_status_t stw_attest_request(stw_store_t *st, const char *device_id, const char *actor)
    __attribute__((warn_unused_result));

/* ---- the scheduler: challenges in flight and devices watching /att ------- */

typedef struct {
  char device_id[STW_ID_HEX];
  bool watching;                   /**< observes /att: may be challenged by the daemon */
  int64_t last_result;             /**< when it was last appraised (0: never) */
  /* the outstanding challenge, if any */
  bool challenged;
  bool ready;                      /**< its nonce is committed: it may be sent */
  uint8_t nonce[STW_ATTEST_NONCE_LEN];
  int64_t expires_at;
  char trigger[STW_TEXT_MAX];
} stw_attest_slot_t;

typedef struct {
  stw_attest_slot_t *slots;        /**< owned */
  size_t n, cap;
  int64_t interval;                /**< periodic challenges; 0: none */
  int64_t nonce_lifetime;
} stw_attest_sched_t;

void stw_attest_sched_init(stw_attest_sched_t *s, int64_t interval, int64_t nonce_lifetime);
void stw_attest_sched_free(stw_attest_sched_t *s);
/** The device's slot, created when absent (NULL: table full or no memory). */
stw_attest_slot_t *stw_attest_sched_slot(stw_attest_sched_t *s, const char *device_id);
/** Its slot if it has one (NULL otherwise). */
stw_attest_slot_t *stw_attest_sched_find(stw_attest_sched_t *s, const char *device_id);
/** A fresh nonce for the device (replacing an outstanding one), not ready
 *  until stw_attest_sched_ready(). */
stw_status_t stw_attest_sched_challenge(stw_attest_sched_t *s, const char *device_id, const char *trigger, int64_t now,
                                        stw_attest_slot_t **out) __attribute__((warn_unused_result));
/** The nonce is committed: mark it ready (false when it was replaced since). */
bool stw_attest_sched_ready(stw_attest_sched_t *s, const char *device_id, const uint8_t nonce[STW_ATTEST_NONCE_LEN]);
/** The outstanding ready challenge of a device, or NULL (an expired one is dropped). */
const stw_attest_slot_t *stw_attest_sched_pending(stw_attest_sched_t *s, const char *device_id, int64_t now);
/** The trigger of the challenge this nonce answers ("" when it is not ours). */
const char *stw_attest_sched_trigger(stw_attest_sched_t *s, const char *device_id, const uint8_t *nonce, size_t len);
/** A result for nonce was recorded at now: that challenge is answered (a
 *  newer one stays outstanding). */
void stw_attest_sched_done(stw_attest_sched_t *s, const char *device_id, const uint8_t *nonce, size_t len,
                           int64_t now);
/** Watching devices due for a periodic challenge at now (no challenge
 *  outstanding, last result older than the interval), at most max of them. */
size_t stw_attest_sched_due(stw_attest_sched_t *s, int64_t now, const char **ids, size_t max);

/** Challenge answer {1: nonce, 2: seconds left}, or {} when nothing is asked. */
stw_status_t stw_attest_challenge_encode(const stw_attest_slot_t *slot, int64_t now, stw_buf_t *out)
    __attribute__((warn_unused_result));

#endif
