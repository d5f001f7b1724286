/* Retiring a device: one transaction that moves it to DECOMMISSIONED,
 * revokes every live token it holds or serves (devices drop them from the
 * revocation list they observe) and removes its directory entry, with the
 * audit records. Later steps of the lifecycle (CRL, personal data) extend
 * this same function. */
#ifndef STW_SERVER_DECOMMISSION_H
#define STW_SERVER_DECOMMISSION_H

#include "store/store.h"

typedef struct {
  stw_state_t was;            /**< the state it left */
  uint64_t tokens_revoked;
  bool registration_removed;
} stw_decommission_t;

/** Decommission device_id on behalf of actor. STW_ERR_NOT_FOUND for an
 *  unknown device, STW_ERR_STATE for one already decommissioned (nothing
 *  written in either case). */
stw_status_t stw_decommission(stw_store_t *st, const char *device_id, const char *actor, const char *reason,
                              stw_decommission_t *out) __attribute__((warn_unused_result));

#endif
