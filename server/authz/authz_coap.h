/* The authorization resources over DTLS:
 *   POST /token    ACE token endpoint (application/ace+cbor, 19)
 *   GET  /revoked  the token revocation list, observable (CBOR, 60)
 *   POST /context  a device publishes a context attribute it may publish
 * Decoding and encoding only; decisions live in pdp.c and context.c. */
#ifndef STW_SERVER_AUTHZ_COAP_H
#define STW_SERVER_AUTHZ_COAP_H

#include "coap/server.h"
#include "domain/domain.h"
#include "store/committer.h"
#include "store/store.h"

#define STW_CF_ACE_CBOR 19
#define STW_REVOKED_POLL_MS 500   /**< how often changes made by other processes (the CLI) are looked for */

typedef struct stw_authz_coap stw_authz_coap_t;

/** Register the resources. store: the event loop's read handle; store_url:
 *  for the thread that watches the revocation sequence. */
stw_status_t stw_authz_coap_register(stw_coap_server_t *server, stw_store_t *store, const char *store_url,
                                     const stw_domain_t *domain, stw_committer_t *committer,
                                     stw_authz_coap_t **out) __attribute__((warn_unused_result));
/** Stop the watcher; call before the committer stops. NULL is fine. */
void stw_authz_coap_free(stw_authz_coap_t *t);

#endif
