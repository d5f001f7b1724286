/* Firmware updates over CoAP, for authenticated enrolled devices:
 *   GET  /fw              observable: the envelope offered to this device
 *   GET  /fw/img/<digest> the image (block-wise), only when offered to it
 *   POST /fw/report       {sequence, status, detail}: what the device did
 * The logic is update.c; docs/updates.md has the wire formats. */
#ifndef STW_SERVER_UPDATE_COAP_H
#define STW_SERVER_UPDATE_COAP_H

#include "coap/server.h"
#include "update/update.h"

#define STW_CF_COSE_SIGN1 18       /* application/cose; cose-type="cose-sign1" */
#define STW_CF_OCTET_STREAM 42
#define STW_CAMPAIGN_POLL_MS 200   /* how often the daemon looks for the CLI's campaign changes */

typedef struct stw_update_coap stw_update_coap_t;

/** Register the resources; store_url: the watcher's own connection, which
 *  sees campaigns the CLI creates, resumes or aborts and tells observers. */
stw_status_t stw_update_coap_register(stw_coap_server_t *server, stw_store_t *store, const char *store_url,
                                      const stw_domain_t *domain, stw_committer_t *committer,
                                      stw_update_coap_t **out) __attribute__((warn_unused_result));
/** Stop the watcher (before the daemon's last drain) and free. NULL is fine. */
void stw_update_coap_free(stw_update_coap_t *t);

#endif
