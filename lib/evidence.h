/* Attestation evidence: EAT-style claims (RFC 9711) in a COSE_Sign1 signed
 * with the device's operational key, and the verifier's appraisal result in
 * the EAR tiers (affirming / warning / contraindicated). Wire format:
 * docs/formats-attestation.md. */
#ifndef STW_LIB_EVIDENCE_H
#define STW_LIB_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>
#include "pki.h"
#include "util.h"

#define STW_EVIDENCE_MAX 4096        /* largest evidence message we parse */
#define STW_EVIDENCE_NONCE_MIN 8     /* RFC 9711 eat_nonce: 8..64 bytes */
#define STW_EVIDENCE_NONCE_MAX 64
#define STW_EVIDENCE_MEAS_MAX 4
#define STW_EVIDENCE_MEAS_NAME_MAX 32

typedef struct {
  char name[STW_EVIDENCE_MEAS_NAME_MAX];   /**< "image", "config" */
  uint8_t digest[32];                      /**< SHA-256 */
} stw_measurement_t;

typedef struct {
  uint8_t nonce[STW_EVIDENCE_NONCE_MAX];   /**< the verifier's challenge (eat_nonce, 10) */
  size_t nonce_len;
  uint8_t ueid[17];                        /**< 0x01 (RAND type) || the 16-byte device id (ueid, 256) */
  size_t ueid_len;
  int64_t iat;                             /**< when the device made it (6) */
  uint64_t boot_count;                     /**< bootcount (267) */
  uint64_t fw_sequence;                    /**< installed manifest sequence (private claim) */
  stw_measurement_t meas[STW_EVIDENCE_MEAS_MAX];  /**< measurements (273), our own simple form */
  size_t n_meas;
} stw_evidence_t;

/** Fill ueid from a 32-hex device id. */
stw_status_t stw_evidence_set_ueid(stw_evidence_t *e, const char *device_id_hex) STW_WUR;
/** The device id (33 bytes with NUL) a ueid names. */
stw_status_t stw_evidence_ueid_hex(const stw_evidence_t *e, char out[33]) STW_WUR;

stw_status_t stw_evidence_encode(const stw_evidence_t *e, stw_buf_t *out) STW_WUR;
stw_status_t stw_evidence_decode(const uint8_t *cbor, size_t len, stw_evidence_t *out) STW_WUR;
/** COSE_Sign1 (ES256) over the encoded claims. */
stw_status_t stw_evidence_sign(const stw_evidence_t *e, const stw_key_t *device_key, stw_buf_t *out) STW_WUR;
/** Check the signature with the device's DER SPKI and decode. */
stw_status_t stw_evidence_verify(const uint8_t *msg, size_t len, const uint8_t *spki, size_t spki_len,
                                 stw_evidence_t *out) STW_WUR;
/** Parse without checking the signature (fuzzing). */
stw_status_t stw_evidence_parse(const uint8_t *msg, size_t len, stw_evidence_t *out) STW_WUR;

/** The appraisal result a device receives: CBOR {verdict, reasons}. */
stw_status_t stw_ear_encode(int verdict, const char *reasons, stw_buf_t *out) STW_WUR;
stw_status_t stw_ear_decode(const uint8_t *cbor, size_t len, int *verdict, char *reasons, size_t reasons_cap) STW_WUR;
const char *stw_ear_name(int verdict);   /* "affirming", "warning", "contraindicated", "none" */

#endif
