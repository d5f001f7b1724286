/* Who may discover what: visibility rules over the asker's attributes.
 *
 *   rule  = "" | "public" | "private" | alt *( "|" alt )
 *   alt   = term *( "," term )
 *   term  = name "=" value        ; value may end in "*" (a prefix)
 *
 * ""        every authenticated device of this domain (the default)
 * "public"  anyone, unauthenticated askers too
 * "private" nobody but the device itself
 * otherwise an authenticated asker that satisfies every term of one
 * alternative; a device always sees its own entries. Terms read the asker's
 * attributes: those the operator set (role, owner, group, ...) and "device",
 * "model", "manufacturer", "domain" from its enrollment record. */
#ifndef STW_SERVER_RD_VISIBILITY_H
#define STW_SERVER_RD_VISIBILITY_H

#include <stdbool.h>
#include <stddef.h>
#include "store/store.h"

#define STW_ASKER_ATTRS_MAX 40

/** Who is asking, as the DTLS session proved it. */
typedef struct {
  bool authenticated;
  bool decommissioned;      /**< unauthenticated: the credential of a decommissioned device */
  char device_id[STW_ID_HEX];
  size_t n_attrs;
  stw_attr_row_t attrs[STW_ASKER_ATTRS_MAX];
} stw_asker_t;

/** Does rule let asker see an entry that belongs to owner_device_id? */
bool stw_visible(const char *rule, const stw_asker_t *asker, const char *owner_device_id);
/** Is rule well formed (registration time check)? */
bool stw_visibility_valid(const char *rule);

#endif
