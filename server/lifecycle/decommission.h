/* Retiring a device: one transaction that moves it to DECOMMISSIONED,
 * revokes every live token it holds or serves (devices drop them from the
 * revocation list they observe), revokes every certificate serial it was
 * issued (the CRL lists them and the DTLS handshake refuses them), removes its
 * directory entry and erases what the domain knew about it and its people
 * (attributes, context, voucher, PSKs, attestation rows), with the audit
 * records. The audit record says only counts: nothing personal survives in
 * the log. */
#ifndef STW_SERVER_DECOMMISSION_H
#define STW_SERVER_DECOMMISSION_H

#include "store/store.h"

typedef struct {
  stw_state_t was;            /**< the state it left */
  uint64_t tokens_revoked;
  uint64_t certs_revoked;     /**< LDevID serials newly on the CRL */
  bool registration_removed;
  stw_erasure_t erased;       /**< rows deleted, by kind */
} stw_decommission_t;

/** Decommission device_id on behalf of actor. STW_ERR_NOT_FOUND for an
 *  unknown device, STW_ERR_STATE for one already decommissioned (nothing
 *  written in either case). */
stw_status_t stw_decommission(stw_store_t *st, const char *device_id, const char *actor, const char *reason,
                              stw_decommission_t *out) __attribute__((warn_unused_result));

#endif
