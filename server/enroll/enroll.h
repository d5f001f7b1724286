/* Enrollment (bootstrapping) decisions: who may enroll, what they get. Plain
 * functions over plain data; est_coap.c decodes requests and encodes answers.
 *
 * A request goes through two steps:
 *   stw_enroll_decide()  in the event loop, read-only: authenticates the root
 *                        identity, checks policy and voucher, parses the CSR,
 *                        signs the certificate. Produces an outcome.
 *   stw_enroll_apply()   in the store's writer thread, inside the batch
 *                        transaction: re-checks against what is committed,
 *                        writes device + serial + transition + audit, or the
 *                        refusal's audit record. The answer goes out only after
 *                        the batch commits. */
#ifndef STW_SERVER_ENROLL_H
#define STW_SERVER_ENROLL_H

#include <stdbool.h>
#include "coap/peer.h"
#include "domain/domain.h"
#include "store/store.h"
#include "voucher.h"

typedef enum {
  STW_ENROLL_SEN = 0,   /**< /sen: first enrollment with the IDevID */
  STW_ENROLL_SREN,      /**< /sren: renewal with the LDevID */
  STW_ENROLL_PSK,       /**< operational PSK for a PSK device */
  STW_ENROLL_VOUCHER,   /**< hand the device its voucher */
  STW_ENROLL_PSK_CONFIRM/**< first use of the operational PSK: retire the bootstrap PSK */
} stw_enroll_op_t;

/** Certificates every decision needs, parsed once: the domain CA with its key
 *  (to spot LDevIDs and to issue) and the trusted manufacturer CAs, refreshed
 *  whenever the store's trust list differs from what was parsed. Used by one
 *  thread at a time (the event loop). */
typedef struct stw_enroll_cache stw_enroll_cache_t;

typedef struct {
  stw_store_t *store;            /**< read handle (event loop thread) */
  const stw_domain_t *domain;
  int64_t ldevid_lifetime;       /**< seconds */
  stw_enroll_cache_t *cache;     /**< optional; NULL parses the CAs on every request */
} stw_enroll_ctx_t;

/** A cache for domain (which must outlive it). Free with stw_enroll_cache_free(). */
stw_status_t stw_enroll_cache_new(const stw_domain_t *domain, stw_enroll_cache_t **out)
  __attribute__((warn_unused_result));
/** NULL is fine. */
void stw_enroll_cache_free(stw_enroll_cache_t *cache);

typedef struct {
  stw_enroll_op_t op;
  stw_status_t status;           /**< STW_OK: granted */
  const char *refusal;           /**< short audit code when refused, static */
  char diag[192];                /**< diagnostic for the peer and the audit log */
  char device_id[STW_ID_HEX];    /**< "" when the peer could not be identified */
  bool retry;                    /**< identical retry: answered from the store, nothing new */
  stw_device_t device;           /**< what to write (granted) */
  uint8_t *payload;              /**< answer body (certificate DER, voucher, PSK CBOR); owned */
  size_t payload_len;
  char serial_hex[41];
  char presented_serial[41];     /**< STW_ENROLL_SREN: serial of the LDevID that authenticated */
  stw_psk_t psk;                 /**< STW_ENROLL_PSK: the operational PSK granted */
  char bootstrap_identity[STW_TEXT_MAX];
} stw_enroll_outcome_t;

void stw_enroll_outcome_init(stw_enroll_outcome_t *o, stw_enroll_op_t op);
/** Frees and wipes what the outcome owns. */
void stw_enroll_outcome_clear(stw_enroll_outcome_t *o);

/** Decide a request. body is the CSR (DER) for SEN/SREN, ignored otherwise.
 *  Always fills o (status, refusal, diag); returns o->status. */
stw_status_t stw_enroll_decide(const stw_enroll_ctx_t *ctx, const stw_peer_t *peer,
                               const uint8_t *body, size_t body_len, stw_enroll_outcome_t *o);
/** Name the device an authenticated peer is, for a refusal decided before
 *  stw_enroll_decide() (the request was too large, of the wrong format...):
 *  fills o->device_id from the LDevID's subject, the IDevID's key or the PSK
 *  identity's device; leaves it "" when the peer is nobody we know. */
void stw_enroll_identify(const stw_enroll_ctx_t *ctx, const stw_peer_t *peer, stw_enroll_outcome_t *o);

/** Make o durable through the writer's store handle (inside its batch). May turn
 *  a grant into a retry or a refusal after re-checking. STW_OK unless the store
 *  itself failed. */
stw_status_t stw_enroll_apply(stw_store_t *st, stw_enroll_outcome_t *o);

/** CoAP response code (class*32+detail, e.g. 0x81 for 4.01) for a status. */
unsigned stw_enroll_coap_code(const stw_enroll_outcome_t *o);

/** Import a voucher the manufacturer issued for a device: verify it against a
 *  trusted manufacturer CA and check it names this domain. For PSK devices the
 *  sealed PSK is opened with the domain CA key and stored as the device's
 *  bootstrap PSK. Audited, in its own transaction. diag receives a reason on
 *  refusal. */
stw_status_t stw_enroll_import_voucher(stw_store_t *st, const stw_domain_t *domain,
                                       const uint8_t *voucher, size_t len,
                                       char *device_id_out, char *diag, size_t diag_len);
/** The same inside the caller's open transaction (bulk imports). A refusal
 *  still appends its audit record and returns the refusal status; a store
 *  error leaves the transaction for the caller to roll back. */
stw_status_t stw_enroll_import_voucher_in_tx(stw_store_t *st, const stw_domain_t *domain,
                                             const uint8_t *voucher, size_t len,
                                             char *device_id_out, char *diag, size_t diag_len);


#endif
