#include "decommission.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

stw_status_t stw_decommission(stw_store_t *st, const char *device_id, const char *actor, const char *reason,
                              stw_decommission_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_status_t rc = stw_store_begin(st);
  if (rc != STW_OK)
    return rc;
  /* Read inside the transaction: the state reported is the one left. */
  stw_device_t d;
  rc = stw_store_device_get(st, device_id, &d);
  out->was = d.state;
  stw_device_clear(&d);
  stw_state_t next;
  int64_t now = stw_now();
  if (rc == STW_OK)
    rc = stw_store_transition(st, device_id, STW_EV_DECOMMISSION, actor, reason, &next);
  if (rc == STW_OK)
    rc = stw_store_token_revoke_device(st, device_id, now, "decommissioned", &out->tokens_revoked);
  if (rc == STW_OK)
    rc = stw_store_serial_revoke_device(st, device_id, now, &out->certs_revoked);
  stw_rd_reg_t reg;
  memset(&reg, 0, sizeof(reg));
  if (rc == STW_OK) {
    stw_status_t found = stw_store_rd_get_by_device(st, device_id, &reg);
    if (found == STW_OK) {
      rc = stw_store_rd_delete(st, reg.id);
      out->registration_removed = rc == STW_OK;
    } else if (found != STW_ERR_NOT_FOUND) {
      rc = found;
    }
    stw_rd_reg_clear(&reg);
  }
  /* After the directory entry: erasure reads the device's owner and place
   * from its attributes, which it then deletes. */
  if (rc == STW_OK)
    rc = stw_store_device_erase(st, device_id, &out->erased);
  if (rc == STW_OK) {
    /* Counts only: the values erased must not live on in the log. */
    const stw_erasure_t *e = &out->erased;
    char detail[STW_REASON_MAX];
    snprintf(detail, sizeof(detail),
             "%llu tokens and %llu certificates revoked, directory entry %s; erased %llu attributes, "
             "%llu context, %llu vouchers, %llu psks, %llu attestations, %llu nonces",
             (unsigned long long)out->tokens_revoked, (unsigned long long)out->certs_revoked,
             out->registration_removed ? "removed" : "none", (unsigned long long)e->attributes,
             (unsigned long long)e->context, (unsigned long long)e->vouchers, (unsigned long long)e->psks,
             (unsigned long long)e->attestations, (unsigned long long)e->nonces);
    rc = stw_store_audit_event(st, actor, "decommission", device_id, "ok", detail);
  }
  if (rc == STW_OK)
    return stw_store_commit(st);
  stw_store_rollback(st);
  return rc;
}
