/* The device lifecycle (docs/architecture.md §lifecycle). One pure function
 * decides every transition; stw_store_transition() (store/store.h) makes it
 * durable together with its audit record. */
#ifndef STW_SERVER_LIFECYCLE_H
#define STW_SERVER_LIFECYCLE_H

#include <stdbool.h>
#include "steward/status.h"

typedef enum {
  STW_STATE_MANUFACTURED = 0,
  STW_STATE_BOOTSTRAPPED,
  STW_STATE_COMMISSIONED,
  STW_STATE_OPERATIONAL,
  STW_STATE_UPDATING,
  STW_STATE_QUARANTINED,
  STW_STATE_DECOMMISSIONED,
  STW_STATE_COUNT
} stw_state_t;

typedef enum {
  STW_EV_BOOTSTRAP = 0,   /* enrolled: LDevID or operational PSK issued */
  STW_EV_REENROLL,        /* LDevID renewed; state unchanged */
  STW_EV_REGISTER,        /* entered the directory */
  STW_EV_ACTIVATE,        /* first token or use */
  STW_EV_UPDATE_START,
  STW_EV_UPDATE_DONE,
  STW_EV_UPDATE_FAILED,
  STW_EV_QUARANTINE,
  STW_EV_REMEDIATE,
  STW_EV_DECOMMISSION,
  STW_EV_REIMPRINT,       /* new owner: decommissioned device starts a new life */
  STW_EV_COUNT
} stw_event_t;

const char *stw_state_name(stw_state_t s);
/** Parse a state name (case-insensitive); false if unknown. */
bool stw_state_parse(const char *name, stw_state_t *out);
const char *stw_event_name(stw_event_t e);

/** The transition function: STW_OK with *next set, or STW_ERR_STATE. */
stw_status_t stw_lifecycle_next(stw_state_t from, stw_event_t ev, stw_state_t *next);

#endif
