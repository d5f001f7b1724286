/* Steward device SDK — remote attestation, the attester's side (RATS, RFC
 * 9334). The device proves what it runs: evidence with the verifier's nonce,
 * its id, the digests of its running image and configuration, its boot count
 * and installed manifest sequence, signed with its LDevID key. The domain
 * answers with its appraisal (EAR tiers); a contraindicated device is
 * quarantined until an authorised update and a good attestation.
 *
 *   stw_bootstrap(dev, uri, NULL);
 *   stw_attest_now(dev, uri, STW_ATTEST_ENROLL, &result);   // right after enrollment
 *   ...
 *   stw_attester_t *a;                                     // answer the domain's challenges
 *   stw_attester_new(dev, uri, &a);
 *   for (;;) stw_attester_run(a, 1000);
 *
 * Every call goes over DTLS with the LDevID, after checking the domain's key
 * against the domain CA pinned at bootstrap. See docs/attestation.md. */
#ifndef STEWARD_ATTEST_H
#define STEWARD_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/bootstrap.h"
#include "steward/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Why the device attests (the domain records it with the result). */
typedef enum {
  STW_ATTEST_ASKED = 0,   /**< on its own, or because the domain asked */
  STW_ATTEST_ENROLL,      /**< right after bootstrapping */
  STW_ATTEST_UPDATE,      /**< right after installing an update */
} stw_attest_why_t;

/** The appraisal tiers (draft-ietf-rats-ear). */
#define STW_VERDICT_AFFIRMING 2
#define STW_VERDICT_WARNING 32
#define STW_VERDICT_CONTRAINDICATED 96

#define STW_ATTEST_NONCE_MAX 64

typedef struct {
  int verdict;                    /**< STW_VERDICT_*; 0 when the evidence was refused */
  char reasons[256];              /**< the domain's reasons, "; "-separated ("" when affirming) */
  stw_bootstrap_report_t report;  /**< the exchange: coap_code and diagnostic of a refusal */
} stw_attest_result_t;

/** Ask the domain for a challenge (GET /att), measure, sign, send the
 *  evidence (POST /att) and read the result: one call. An X.509 device only.
 *  @retval STW_OK             appraised (whatever the verdict): see result
 *  @retval STW_ERR_FORBIDDEN  refused (4.03): result->report says why */
stw_status_t stw_attest_now(stw_dev_t *dev, const char *domain_uri, stw_attest_why_t why, stw_attest_result_t *result)
    __attribute__((warn_unused_result));

/* ---- the steps, for tools and tests ---------------------------------------------- */

/** GET /att: a fresh challenge. nonce receives up to STW_ATTEST_NONCE_MAX bytes. */
stw_status_t stw_attest_challenge(stw_dev_t *dev, const char *domain_uri, stw_attest_why_t why, uint8_t *nonce,
                                  size_t *nonce_len, stw_bootstrap_report_t *report) __attribute__((warn_unused_result));
/** Measure the running image and configuration (the firmware slots) and sign
 *  evidence for nonce with the LDevID key. *evidence is malloc'd; caller frees. */
stw_status_t stw_attest_evidence(stw_dev_t *dev, const uint8_t *nonce, size_t nonce_len, uint8_t **evidence,
                                 size_t *evidence_len) __attribute__((warn_unused_result));
/** POST /att with evidence (any bytes: tests send wrong ones) and read the result. */
stw_status_t stw_attest_send(stw_dev_t *dev, const char *domain_uri, const uint8_t *evidence, size_t len,
                             stw_attest_result_t *result) __attribute__((warn_unused_result));

/* ---- answering the domain's challenges --------------------------------------------- */

/** Observes /att; each new challenge (periodic, or the operator's) is answered
 *  with fresh evidence. Single-threaded: drive it with stw_attester_run(). */
typedef struct stw_attester stw_attester_t;

/** dev must outlive the attester. */
stw_status_t stw_attester_new(stw_dev_t *dev, const char *domain_uri, stw_attester_t **out)
    __attribute__((warn_unused_result));
/** Handle network I/O for up to timeout_ms; answers a challenge that came. */
void stw_attester_run(stw_attester_t *a, unsigned timeout_ms);
/** Challenges answered so far, and the last result (zeroed before any). */
unsigned stw_attester_answered(const stw_attester_t *a);
const stw_attest_result_t *stw_attester_last(const stw_attester_t *a);
/** True once the domain's key checked out and /att is observed. */
bool stw_attester_listening(const stw_attester_t *a);
void stw_attester_free(stw_attester_t *a);

#ifdef __cplusplus
}
#endif
#endif
