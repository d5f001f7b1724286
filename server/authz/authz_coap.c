#include "authz/authz_coap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/context.h"
#include "authz/pdp.h"
#include "coap/transport.h"
#include "coap/watcher.h"

#define REVOKED_MAX_ENTRIES 4096   /* the list answer carries at most this many (block-wise) */

struct stw_authz_coap {
  stw_pdp_t pdp;
  stw_store_t *store;
  const stw_domain_t *domain;
  stw_ca_t *ca;
  stw_committer_t *committer;
  coap_resource_t *revoked;
  uint64_t notified_seq;           /* event loop thread only */
  /* Another process (the CLI) may revoke; look now and then. */
  stw_store_watcher_t watcher;
};

static void release_body(coap_session_t *session, void *p)
{
  (void)session;
  free(p);
}

/* Tell observers of /revoked when the sequence moved (event loop thread). */
static void notify_if_changed(stw_authz_coap_t *t)
{
  uint64_t seq = 0;
  if (stw_store_revocation_seq(t->store, &seq) == STW_OK && seq != t->notified_seq) {
    t->notified_seq = seq;
    coap_resource_notify_observers(t->revoked, NULL);
  }
}

/* ---- POST /token ----------------------------------------------------------------- */

typedef struct {
  stw_authz_coap_t *t;
  stw_pdp_outcome_t o;
  stw_deferred_t *deferred;
} token_job_t;

static stw_status_t token_apply(stw_store_t *st, void *arg)
{
  token_job_t *job = arg;
  return stw_pdp_apply(st, &job->o);
}

static unsigned coap_code_of(unsigned code)
{
  return COAP_RESPONSE_CODE(code);
}

static void token_done(void *arg, stw_status_t status)
{
  token_job_t *job = arg;
  stw_buf_t body;
  if (status != STW_OK) {
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                        "store failure; nothing was recorded, retry");
  } else if (stw_pdp_encode_response(&job->o, &body) != STW_OK) {
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0, "cannot encode the answer");
  } else {
    stw_deferred_answer(job->deferred, coap_code_of(job->o.coap_code), STW_CF_ACE_CBOR, body.data, body.len, NULL);
    stw_buf_free(&body, job->o.oscore);  /* it held an OSCORE Master Secret */
  }
  stw_pdp_outcome_clear(&job->o);
  free(job);
}

static void handle_token(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                         const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  stw_authz_coap_t *t = coap_resource_get_userdata(resource);
  const uint8_t *data;
  size_t len;
  if (!stw_coap_request_body(request, STW_TOKEN_REQUEST_MAX, &data, &len)) {
    stw_coap_error(response, COAP_RESPONSE_CODE(413), "token request over 1024 bytes");
    return;
  }
  int cf = stw_coap_option_uint(request, COAP_OPTION_CONTENT_FORMAT, STW_CF_ACE_CBOR);
  if (cf != STW_CF_ACE_CBOR && cf != STW_CF_CBOR) {
    stw_coap_error(response, COAP_RESPONSE_CODE(415), "send application/ace+cbor (19)");
    return;
  }
  token_job_t *job = calloc(1, sizeof(*job));
  stw_identity_t *who = calloc(1, sizeof(*who));
  if (job == NULL || who == NULL) {
    free(job);
    free(who);
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "busy");
    return;
  }
  job->t = t;
  stw_pdp_outcome_init(&job->o);
  stw_coap_identify(session, t->store, t->domain, t->ca, who);
  stw_status_t st = stw_pdp_decide(&t->pdp, who, data, len, stw_now(), &job->o);
  free(who);
  if (st != STW_OK) {
    stw_pdp_outcome_clear(&job->o);
    free(job);
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "token issuance failed");
    return;
  }
  if (!stw_coap_defer_job(session, request, response, t->committer, token_apply, token_done, job, &job->deferred)) {
    stw_pdp_outcome_clear(&job->o);
    free(job);
  }
}

/* ---- GET /revoked ---------------------------------------------------------------- */

typedef struct {
  stw_buf_t items;
  size_t n;
} revoked_ctx_t;

static stw_status_t put_revoked(const stw_token_row_t *row, void *arg)
{
  revoked_ctx_t *r = arg;
  uint8_t cti[16];
  if (r->n >= REVOKED_MAX_ENTRIES)
    return STW_ERR_TOO_LARGE;
  if (stw_hex_decode(row->cti, strlen(row->cti), cti, sizeof(cti)) != STW_OK)
    return STW_OK;  /* not one of ours */
  stw_status_t st = stw_cbor_write_head(&r->items, STW_CBOR_ARRAY, 2);
  if (st == STW_OK)
    st = stw_cbor_write_bytes(&r->items, STW_CBOR_BSTR, cti, sizeof(cti));
  if (st == STW_OK)
    st = stw_cbor_write_int(&r->items, row->exp);
  if (st == STW_OK)
    r->n++;
  return st;
}

/* {1: seq, 2: [[cti, exp], ...]}: revoked tokens that have not expired yet. */
static stw_status_t encode_revoked(stw_store_t *store, stw_buf_t *out)
{
  revoked_ctx_t r = { 0 };
  uint64_t seq = 0;
  stw_buf_init(&r.items, 1u << 20);
  stw_buf_init(out, 1u << 20);
  stw_status_t st = stw_store_revocation_seq(store, &seq);
  if (st == STW_OK)
    st = stw_store_token_revoked_list(store, stw_now(), put_revoked, &r);
  if (st == STW_OK && (st = stw_cbor_write_head(out, STW_CBOR_MAP, 2)) == STW_OK && (st = stw_cbor_write_int(out, 1)) == STW_OK &&
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, seq)) == STW_OK && (st = stw_cbor_write_int(out, 2)) == STW_OK &&
      (st = stw_cbor_write_head(out, STW_CBOR_ARRAY, r.n)) == STW_OK && r.items.len > 0)
    st = stw_buf_append(out, r.items.data, r.items.len);
  stw_buf_free(&r.items, false);
  if (st != STW_OK)
    stw_buf_free(out, false);
  return st;
}

static void handle_revoked(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                           const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  stw_authz_coap_t *t = coap_resource_get_userdata(resource);
  stw_identity_t *who = stw_coap_enrolled_device(session, t->store, t->domain, t->ca, response);
  if (who == NULL)
    return;
  free(who);
  stw_buf_t out;
  if (encode_revoked(t->store, &out) != STW_OK) {
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "cannot read the revocation list");
    return;
  }
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
  coap_add_data_large_response(resource, session, request, response, NULL, STW_CF_CBOR, -1, 0, out.len, out.data,
                               release_body, out.data);
}

/* ---- POST /context ---------------------------------------------------------------- */

typedef struct {
  stw_authz_coap_t *t;
  stw_context_row_t row;
  char actor[STW_TEXT_MAX];
  uint64_t revoked;
  stw_deferred_t *deferred;
} context_job_t;

static stw_status_t context_apply(stw_store_t *st, void *arg)
{
  context_job_t *job = arg;
  return stw_context_set(st, job->t->domain, &job->row, job->actor, stw_now(), &job->revoked);
}

static void context_done(void *arg, stw_status_t status)
{
  context_job_t *job = arg;
  if (status != STW_OK)
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                        "store failure; nothing was recorded, retry");
  else
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(204), STW_CF_TEXT, NULL, 0, NULL);
  if (status == STW_OK && job->revoked > 0)
    notify_if_changed(job->t);
  free(job);
}

static void handle_context(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                           const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  stw_authz_coap_t *t = coap_resource_get_userdata(resource);
  const uint8_t *data;
  size_t len;
  if (!stw_coap_request_body(request, CONTEXT_BODY_MAX, &data, &len)) {
    stw_coap_error(response, COAP_RESPONSE_CODE(413), "context body over 512 bytes");
    return;
  }
  context_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "busy");
    return;
  }
  job->t = t;
  stw_identity_t *who = stw_coap_enrolled_device(session, t->store, t->domain, t->ca, response);
  if (who == NULL)
    goto drop;
  stw_status_t st = stw_context_from_device(who, data, len, &job->row);
  if (st != STW_OK) {
    bool forbidden = st == STW_ERR_FORBIDDEN;
    stw_coap_error(response, forbidden ? COAP_RESPONSE_CODE(403) : COAP_RESPONSE_CODE(400),
                   forbidden ? "this device may not publish that attribute" : "expected CBOR {1: name, 2: value}");
    goto drop;
  }
  snprintf(job->actor, sizeof(job->actor), "device:%s", who->device_id);
  free(who);
  who = NULL;
  if (!stw_coap_defer_job(session, request, response, t->committer, context_apply, context_done, job,
                          &job->deferred))
    goto drop;
  return;
drop:
  free(who);
  free(job);
}

/* ---- the watcher ------------------------------------------------------------------- */

static void revocations_wake(void *arg)
{
  notify_if_changed(arg);
}

/* ---- registration ------------------------------------------------------------------- */

stw_status_t stw_authz_coap_register(stw_coap_server_t *server, stw_store_t *store, const char *store_url,
                                     const stw_domain_t *domain, stw_committer_t *committer, stw_authz_coap_t **out)
{
  *out = NULL;
  stw_authz_coap_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->store = store;
  t->domain = domain;
  t->committer = committer;
  t->pdp.store = store;
  t->pdp.domain = domain;
  stw_status_t st = stw_ca_new(domain->ca_der.data, domain->ca_der.len, domain->ca_key, &t->ca);
  if (st != STW_OK) {
    free(t);
    return st;
  }
  (void)stw_store_revocation_seq(store, &t->notified_seq);
  if (stw_coap_resource_add(server, "token", COAP_REQUEST_POST, handle_token, t, "\"ace.as.token\"", "19") == NULL ||
      (t->revoked = stw_coap_resource_add(server, "revoked", COAP_REQUEST_GET, handle_revoked, t, "\"ace.trl\"",
                                          "60")) == NULL ||
      stw_coap_resource_add(server, "context", COAP_REQUEST_POST, handle_context, t, "\"steward.context\"", "60") ==
          NULL) {
    stw_ca_free(t->ca);
    free(t);
    return STW_ERR_NOMEM;
  }
  coap_resource_set_get_observable(t->revoked, 1);
  stw_store_watcher_start_number(&t->watcher, store_url, STW_REVOKED_POLL_MS, committer, stw_store_revocation_seq,
                                 revocations_wake, t);
  *out = t;
  return STW_OK;
}

void stw_authz_coap_free(stw_authz_coap_t *t)
{
  if (t == NULL)
    return;
  /* Also runs what is still queued for t (wake-ups, jobs), not after free. */
  stw_store_watcher_stop(&t->watcher);
  stw_ca_free(t->ca);
  free(t);
}
