#include "lifecycle.h"

#include <stddef.h>
#include <strings.h>

static const char *const state_names[STW_STATE_COUNT] = {
  [STW_STATE_MANUFACTURED] = "MANUFACTURED",
  [STW_STATE_BOOTSTRAPPED] = "BOOTSTRAPPED",
  [STW_STATE_COMMISSIONED] = "COMMISSIONED",
  [STW_STATE_OPERATIONAL] = "OPERATIONAL",
  [STW_STATE_UPDATING] = "UPDATING",
  [STW_STATE_QUARANTINED] = "QUARANTINED",
  [STW_STATE_DECOMMISSIONED] = "DECOMMISSIONED",
};

static const char *const event_names[STW_EV_COUNT] = {
  [STW_EV_BOOTSTRAP] = "bootstrap",
  [STW_EV_REENROLL] = "reenroll",
  [STW_EV_REGISTER] = "register",
  [STW_EV_ACTIVATE] = "activate",
  [STW_EV_UPDATE_START] = "update-start",
  [STW_EV_UPDATE_DONE] = "update-done",
  [STW_EV_UPDATE_FAILED] = "update-failed",
  [STW_EV_QUARANTINE] = "quarantine",
  [STW_EV_REMEDIATE] = "remediate",
  [STW_EV_DECOMMISSION] = "decommission",
  [STW_EV_REIMPRINT] = "reimprint",
};

const char *stw_state_name(stw_state_t s)
{
  return (unsigned)s < STW_STATE_COUNT ? state_names[s] : "UNKNOWN";
}

bool stw_state_parse(const char *name, stw_state_t *out)
{
  for (unsigned i = 0; i < STW_STATE_COUNT; i++) {
    if (strcasecmp(name, state_names[i]) == 0) {
      *out = (stw_state_t)i;
      return true;
    }
  }
  return false;
}

const char *stw_event_name(stw_event_t e)
{
  return (unsigned)e < STW_EV_COUNT ? event_names[e] : "unknown";
}

/* The whole machine of docs/architecture.md in one table: next state for
 * (from, event), or -1 where the event is not allowed. Decommission is allowed
 * from every living state; a decommissioned device only starts a new life.
 * A QUARANTINED device may be updated, but the update events leave it
 * QUARANTINED: only remediate (an affirming attestation after the update, or
 * the operator) returns it to OPERATIONAL (docs/attestation.md). */
#define NO (-1)
static const signed char transitions[STW_STATE_COUNT][STW_EV_COUNT] = {
  [STW_STATE_MANUFACTURED] = {
    [STW_EV_BOOTSTRAP] = STW_STATE_BOOTSTRAPPED, [STW_EV_REENROLL] = NO,
    [STW_EV_REGISTER] = NO, [STW_EV_ACTIVATE] = NO, [STW_EV_UPDATE_START] = NO,
    [STW_EV_UPDATE_DONE] = NO, [STW_EV_UPDATE_FAILED] = NO, [STW_EV_QUARANTINE] = NO,
    [STW_EV_REMEDIATE] = NO, [STW_EV_DECOMMISSION] = STW_STATE_DECOMMISSIONED,
    [STW_EV_REIMPRINT] = NO },
  [STW_STATE_BOOTSTRAPPED] = {
    [STW_EV_BOOTSTRAP] = NO, [STW_EV_REENROLL] = STW_STATE_BOOTSTRAPPED,
    [STW_EV_REGISTER] = STW_STATE_COMMISSIONED, [STW_EV_ACTIVATE] = NO,
    [STW_EV_UPDATE_START] = NO, [STW_EV_UPDATE_DONE] = NO, [STW_EV_UPDATE_FAILED] = NO,
    [STW_EV_QUARANTINE] = STW_STATE_QUARANTINED, [STW_EV_REMEDIATE] = NO,
    [STW_EV_DECOMMISSION] = STW_STATE_DECOMMISSIONED, [STW_EV_REIMPRINT] = NO },
  [STW_STATE_COMMISSIONED] = {
    [STW_EV_BOOTSTRAP] = NO, [STW_EV_REENROLL] = STW_STATE_COMMISSIONED,
    [STW_EV_REGISTER] = STW_STATE_COMMISSIONED, [STW_EV_ACTIVATE] = STW_STATE_OPERATIONAL,
    [STW_EV_UPDATE_START] = STW_STATE_UPDATING, [STW_EV_UPDATE_DONE] = NO,
    [STW_EV_UPDATE_FAILED] = NO, [STW_EV_QUARANTINE] = STW_STATE_QUARANTINED,
    [STW_EV_REMEDIATE] = NO, [STW_EV_DECOMMISSION] = STW_STATE_DECOMMISSIONED,
    [STW_EV_REIMPRINT] = NO },
  [STW_STATE_OPERATIONAL] = {
    [STW_EV_BOOTSTRAP] = NO, [STW_EV_REENROLL] = STW_STATE_OPERATIONAL,
    [STW_EV_REGISTER] = STW_STATE_OPERATIONAL, [STW_EV_ACTIVATE] = STW_STATE_OPERATIONAL,
    [STW_EV_UPDATE_START] = STW_STATE_UPDATING, [STW_EV_UPDATE_DONE] = NO,
    [STW_EV_UPDATE_FAILED] = NO, [STW_EV_QUARANTINE] = STW_STATE_QUARANTINED,
    [STW_EV_REMEDIATE] = NO, [STW_EV_DECOMMISSION] = STW_STATE_DECOMMISSIONED,
    [STW_EV_REIMPRINT] = NO },
  [STW_STATE_UPDATING] = {
    [STW_EV_BOOTSTRAP] = NO, [STW_EV_REENROLL] = STW_STATE_UPDATING,
    [STW_EV_REGISTER] = STW_STATE_UPDATING, [STW_EV_ACTIVATE] = NO,
    [STW_EV_UPDATE_START] = NO, [STW_EV_UPDATE_DONE] = STW_STATE_OPERATIONAL,
    [STW_EV_UPDATE_FAILED] = STW_STATE_OPERATIONAL, [STW_EV_QUARANTINE] = STW_STATE_QUARANTINED,
    [STW_EV_REMEDIATE] = NO, [STW_EV_DECOMMISSION] = STW_STATE_DECOMMISSIONED,
    [STW_EV_REIMPRINT] = NO },
  [STW_STATE_QUARANTINED] = {
    [STW_EV_BOOTSTRAP] = NO, [STW_EV_REENROLL] = NO, [STW_EV_REGISTER] = NO,
    [STW_EV_ACTIVATE] = NO, [STW_EV_UPDATE_START] = STW_STATE_QUARANTINED,
    [STW_EV_UPDATE_DONE] = STW_STATE_QUARANTINED, [STW_EV_UPDATE_FAILED] = STW_STATE_QUARANTINED,
    [STW_EV_QUARANTINE] = STW_STATE_QUARANTINED, [STW_EV_REMEDIATE] = STW_STATE_OPERATIONAL,
    [STW_EV_DECOMMISSION] = STW_STATE_DECOMMISSIONED, [STW_EV_REIMPRINT] = NO },
  [STW_STATE_DECOMMISSIONED] = {
    [STW_EV_BOOTSTRAP] = NO, [STW_EV_REENROLL] = NO, [STW_EV_REGISTER] = NO,
    [STW_EV_ACTIVATE] = NO, [STW_EV_UPDATE_START] = NO, [STW_EV_UPDATE_DONE] = NO,
    [STW_EV_UPDATE_FAILED] = NO, [STW_EV_QUARANTINE] = NO, [STW_EV_REMEDIATE] = NO,
    [STW_EV_DECOMMISSION] = NO, [STW_EV_REIMPRINT] = STW_STATE_MANUFACTURED },
};
#undef NO

stw_status_t stw_lifecycle_next(stw_state_t from, stw_event_t ev, stw_state_t *next)
{
  if ((unsigned)from >= STW_STATE_COUNT || (unsigned)ev >= STW_EV_COUNT)
    return STW_ERR_INVALID;
  signed char to = transitions[from][ev];
  if (to < 0)
    return STW_ERR_STATE;
  *next = (stw_state_t)to;
  return STW_OK;
}
