/* What every part's transport file does the same way: say who the peer is,
 * take a bounded request body, register a resource, and hand a request to
 * the committer so its answer goes out only after the commit. */
#ifndef STW_SERVER_COAP_TRANSPORT_H
#define STW_SERVER_COAP_TRANSPORT_H

#include <stdbool.h>
#include "coap/identity.h"
#include "coap/server.h"

/** Identify the session's peer; any failure leaves who unauthenticated. */
void stw_coap_identify(coap_session_t *session, stw_store_t *store, const stw_domain_t *domain,
                       const stw_ca_t *domain_ca, stw_identity_t *who);

/** The enrolled device of this domain behind the session, allocated (the
 *  caller frees it). NULL with the answer already set: 5.03 when out of
 *  memory, 4.01 for anyone else. */
stw_identity_t *stw_coap_enrolled_device(coap_session_t *session, stw_store_t *store, const stw_domain_t *domain,
                                         const stw_ca_t *domain_ca, coap_pdu_t *response);

/** The request body in *data, *len (NULL, 0 when there is none; it stays
 *  libcoap's). False when it, or the block-wise total announced, is over max:
 *  the caller answers 4.13. */
bool stw_coap_request_body(const coap_pdu_t *request, size_t max, const uint8_t **data, size_t *len);

/** Register path for method with handler, userdata, and the link attributes
 *  rt and ct (quoted as they appear in /.well-known/core). The server's
 *  context owns the resource; NULL when out of memory. */
coap_resource_t *stw_coap_resource_add(stw_coap_server_t *server, const char *path, coap_request_t method,
                                       coap_method_handler_t handler, void *userdata, const char *rt, const char *ct);

/** Defer the request and queue job on the committer; *deferred (a field of
 *  job) is set before the job is queued, so its done() can answer through it
 *  and owns job from then on. False when the daemon is too busy: the 5.03 is
 *  already answered, nothing was queued and job is still the caller's. */
bool stw_coap_defer_job(coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response,
                        stw_committer_t *committer, stw_job_apply_fn apply, stw_job_done_fn done, void *job,
                        stw_deferred_t **deferred);

#endif
