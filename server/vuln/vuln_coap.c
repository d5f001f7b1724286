/* POST /vr: decode, check the channel and the rate, hand the report to the
 * writer thread, answer 2.01 only once it is committed. */
#include "vuln/vuln_coap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/transport.h"
#include "vuln/vuln.h"

struct stw_vuln_coap {
  stw_committer_t *committer;
  stw_vr_limiter_t limiter;   /* event loop thread only */
};

typedef struct {
  stw_vuln_t v;
  char actor[STW_TEXT_MAX];
  stw_deferred_t *deferred;
} vr_job_t;

static stw_status_t vr_apply(stw_store_t *st, void *arg)
{
  vr_job_t *job = arg;
  return stw_vuln_record(st, &job->v, job->actor);
}

static void vr_done(void *arg, stw_status_t status)
{
  vr_job_t *job = arg;
  if (status != STW_OK) {
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                        "store failure; nothing was recorded, retry");
  } else {
    char location[32];
    snprintf(location, sizeof(location), "vr/%lld", (long long)job->v.id);
    stw_deferred_set_location(job->deferred, location);
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(201), STW_CF_TEXT, NULL, 0, NULL);
  }
  stw_vuln_clear(&job->v);
  free(job);
}

/* The rate limit counts per address, not per key: a reporter's raw public
 * key costs nothing to replace. "coaps://[::1]:5684" -> "[::1]". */
static void peer_address(coap_session_t *session, char *out, size_t len)
{
  char uri[96];
  stw_coap_peer_uri(session, uri, sizeof(uri));
  const char *host = strstr(uri, "://");
  host = host != NULL ? host + 3 : uri;
  const char *colon = strrchr(host, ':');
  size_t n = colon != NULL && (host[0] != '[' || colon[-1] == ']') ? (size_t)(colon - host) : strlen(host);
  snprintf(out, len, "%.*s", (int)n, host);
}

static const char *peer_kind(const stw_peer_t *peer)
{
  switch (peer->kind) {
  case STW_PEER_CERT:
    return "reporter:cert";
  case STW_PEER_RPK:
    return "reporter:rpk";
  default:
    return "reporter:psk";
  }
}

static void handle_vr(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                      const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  stw_vuln_coap_t *t = coap_resource_get_userdata(resource);
  stw_peer_t peer;
  stw_coap_peer(session, &peer);
  if (peer.kind == STW_PEER_NONE || coap_session_get_proto(session) != COAP_PROTO_DTLS) {
    stw_coap_error(response, COAP_RESPONSE_CODE(401), "reports are taken over DTLS only; any raw public key will do");
    return;
  }
  int cf = stw_coap_option_uint(request, COAP_OPTION_CONTENT_FORMAT, STW_CF_CBOR);
  if (cf != STW_CF_CBOR) {
    stw_coap_error(response, COAP_RESPONSE_CODE(415), "expected application/cbor (60)");
    return;
  }
  const uint8_t *data;
  size_t len;
  if (!stw_coap_request_body(request, STW_VR_BODY_MAX, &data, &len)) {
    stw_coap_error(response, COAP_RESPONSE_CODE(413), "report over 4096 bytes");
    return;
  }
  vr_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "busy");
    return;
  }
  stw_status_t st = stw_vr_body_parse(data, len, &job->v);
  if (st != STW_OK) {
    stw_coap_error(response, st == STW_ERR_NOMEM ? COAP_RESPONSE_CODE(503) : COAP_RESPONSE_CODE(400),
                   st == STW_ERR_NOMEM ? "busy" : "expected CBOR {? 1: contact, 2: summary, 3: detail}, UTF-8 text");
    goto drop;
  }
  char address[64];
  peer_address(session, address, sizeof(address));
  if (!stw_vr_limiter_allow(&t->limiter, address, stw_now())) {
    stw_coap_error(response, COAP_RESPONSE_CODE(429), "too many reports from this address; retry in 10 minutes");
    goto drop;
  }
  snprintf(job->actor, sizeof(job->actor), "%s", peer_kind(&peer));
  if (!stw_coap_defer_job(session, request, response, t->committer, vr_apply, vr_done, job, &job->deferred))
    goto drop;
  return;
drop:
  stw_vuln_clear(&job->v);
  free(job);
}

stw_status_t stw_vuln_coap_register(stw_coap_server_t *server, stw_committer_t *committer, stw_vuln_coap_t **out)
{
  *out = NULL;
  stw_vuln_coap_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->committer = committer;
  if (stw_coap_resource_add(server, "vr", COAP_REQUEST_POST, handle_vr, t, "\"steward.vr\"", "60") == NULL) {
    free(t);
    return STW_ERR_NOMEM;
  }
  *out = t;
  return STW_OK;
}

void stw_vuln_coap_free(stw_vuln_coap_t *t)
{
  free(t);
}
