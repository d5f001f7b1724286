#include "coap/transport.h"

#include <stdlib.h>

void stw_coap_identify(coap_session_t *session, stw_store_t *store, const stw_domain_t *domain,
                       const stw_ca_t *domain_ca, stw_identity_t *who)
{
  stw_peer_t peer;
  stw_coap_peer(session, &peer);
  if (stw_identify_peer(store, domain, domain_ca, &peer, who) != STW_OK)
    who->authenticated = false;
}

stw_identity_t *stw_coap_enrolled_device(coap_session_t *session, stw_store_t *store, const stw_domain_t *domain,
                                         const stw_ca_t *domain_ca, coap_pdu_t *response)
{
  /* On the heap: an identity carries its attributes and is a few kB. */
  stw_identity_t *who = calloc(1, sizeof(*who));
  if (who == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "busy");
    return NULL;
  }
  stw_coap_identify(session, store, domain, domain_ca, who);
  if (!who->authenticated) {
    stw_coap_error(response, COAP_RESPONSE_CODE(401), "not an enrolled device of this domain");
    free(who);
    return NULL;
  }
  return who;
}

bool stw_coap_request_body(const coap_pdu_t *request, size_t max, const uint8_t **data, size_t *len)
{
  size_t offset = 0, total = 0;
  *data = NULL;
  *len = 0;
  if (!coap_get_data_large(request, len, data, &offset, &total)) {
    *data = NULL;
    *len = total = 0;
  }
  return total <= max && *len <= max;
}

coap_resource_t *stw_coap_resource_add(stw_coap_server_t *server, const char *path, coap_request_t method,
                                       coap_method_handler_t handler, void *userdata, const char *rt, const char *ct)
{
  coap_resource_t *r = coap_resource_init(coap_make_str_const(path), 0);
  if (r == NULL)
    return NULL;
  coap_register_request_handler(r, method, handler);
  coap_resource_set_userdata(r, userdata);
  coap_add_attr(r, coap_make_str_const("rt"), coap_make_str_const(rt), 0);
  coap_add_attr(r, coap_make_str_const("ct"), coap_make_str_const(ct), 0);
  coap_add_resource(stw_coap_server_context(server), r);
  return r;
}

bool stw_coap_defer_job(coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response,
                        stw_committer_t *committer, stw_job_apply_fn apply, stw_job_done_fn done, void *job,
                        stw_deferred_t **deferred)
{
  *deferred = stw_defer(session, request);
  if (*deferred == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "busy");
    return false;
  }
  if (stw_committer_submit(committer, apply, done, job) != STW_OK) {
    stw_deferred_answer(*deferred, COAP_RESPONSE_CODE(503), STW_CF_TEXT, NULL, 0, "busy, retry later");
    return false;
  }
  return true;
}
