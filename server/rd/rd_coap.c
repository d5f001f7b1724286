#include "rd_coap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/transport.h"

#define RD_BODY_MAX (STW_LINKS_PAYLOAD_MAX + 1)  /* one byte over the limit is enough to refuse */
#define EXPIRY_SWEEP_SECONDS 10

struct stw_rd_coap {
  stw_rd_t *rd;
  stw_committer_t *committer;
  int64_t last_sweep;
  bool sweeping;
};

typedef struct {
  stw_rd_coap_t *t;
  stw_rd_outcome_t o;
  stw_deferred_t *deferred;
} rd_job_t;

/* The Uri-Query options as they came: values may hold any byte, so they are
 * not joined into one string. */
static stw_status_t parse_query(const coap_pdu_t *request, stw_rd_query_t *q)
{
  const char *values[STW_RDQ_OPTIONS_MAX + 1];
  size_t lens[STW_RDQ_OPTIONS_MAX + 1];
  size_t n = 0;
  coap_opt_iterator_t it;
  coap_opt_filter_t filter;
  coap_option_filter_clear(&filter);
  coap_option_filter_set(&filter, COAP_OPTION_URI_QUERY);
  coap_option_iterator_init(request, &it, &filter);
  coap_opt_t *opt;
  while ((opt = coap_option_next(&it)) != NULL) {
    if (n > STW_RDQ_OPTIONS_MAX)
      return STW_ERR_TOO_LARGE;
    values[n] = (const char *)coap_opt_value(opt);
    lens[n] = coap_opt_length(opt);
    n++;
  }
  return stw_rd_query_parse(values, lens, n, q);
}

static const char *query_error_diag(stw_status_t st)
{
  switch (st) {
  case STW_ERR_TOO_LARGE: return "query over its limits (values, filters or count)";
  case STW_ERR_INVALID: return "query value out of range (lt or count)";
  default: return "malformed query";
  }
}

/* For the reads: a bad query is answered at once (writes audit it instead). */
static void answer_query_error(coap_pdu_t *response, stw_status_t st)
{
  stw_coap_error(response, st == STW_ERR_TOO_LARGE ? COAP_RESPONSE_CODE(413) : COAP_RESPONSE_CODE(400),
                 query_error_diag(st));
}

static void identify(stw_rd_coap_t *t, coap_session_t *session, stw_asker_t *asker)
{
  stw_peer_t peer;
  stw_coap_peer(session, &peer);
  stw_rd_identify(t->rd, &peer, asker);
}

static stw_status_t apply_job(stw_store_t *st, void *arg)
{
  rd_job_t *job = arg;
  return stw_rd_apply(st, &job->o);
}

static void done_job(void *arg, stw_status_t status)
{
  rd_job_t *job = arg;
  if (status != STW_OK) {
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                        "store failure; nothing was recorded, retry");
  } else if (job->o.status == STW_OK) {
    if (job->o.op == STW_RD_REGISTER) {
      char location[STW_RD_ID_MAX + 4];
      snprintf(location, sizeof(location), "rd/%s", job->o.reg.id);
      stw_deferred_set_location(job->deferred, location);
    }
    stw_deferred_answer(job->deferred, stw_rd_coap_code(&job->o), STW_CF_TEXT, NULL, 0, NULL);
  } else {
    stw_deferred_answer(job->deferred, stw_rd_coap_code(&job->o), STW_CF_TEXT, NULL, 0, job->o.diag);
  }
  stw_rd_outcome_clear(&job->o);
  free(job);
}

/* Expired registrations already vanish from every answer; the sweep only
 * gives their rows back, now and then, through the writer. */
static stw_status_t sweep_job(stw_store_t *st, void *arg)
{
  (void)arg;
  uint64_t removed = 0;
  return stw_rd_expire(st, stw_now(), &removed);
}

static void sweep_done(void *arg, stw_status_t status)
{
  (void)status;
  stw_rd_coap_t *t = arg;
  t->sweeping = false;
}

static void maybe_sweep(stw_rd_coap_t *t)
{
  int64_t now = stw_now();
  if (t->sweeping || now - t->last_sweep < EXPIRY_SWEEP_SECONDS)
    return;
  t->last_sweep = now;
  if (stw_committer_submit(t->committer, sweep_job, sweep_done, t) == STW_OK)
    t->sweeping = true;
}

static void submit(stw_rd_coap_t *t, rd_job_t *job, coap_session_t *session, const coap_pdu_t *request,
                   coap_pdu_t *response)
{
  if (!stw_coap_defer_job(session, request, response, t->committer, apply_job, done_job, job, &job->deferred)) {
    stw_rd_outcome_clear(&job->o);
    free(job);
  }
}

/* What every write decodes the same way. */
typedef struct {
  stw_asker_t asker;
  stw_rd_query_t q;
  stw_status_t query_status;
  const uint8_t *body;
  size_t len;
  bool too_large;
} rd_write_t;

/* Decode the common parts of a write: who, what query, what body. Refusals
 * that happen here are still decided by rd.c so they are audited. NULL: out
 * of memory, already answered. */
static rd_job_t *start_job(stw_rd_coap_t *t, stw_rd_op_t op, coap_session_t *session, const coap_pdu_t *request,
                           coap_pdu_t *response, rd_write_t *w)
{
  rd_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "out of memory");
    return NULL;
  }
  job->t = t;
  stw_rd_outcome_init(&job->o, op);
  identify(t, session, &w->asker);
  w->query_status = parse_query(request, &w->q);
  w->too_large = !stw_coap_request_body(request, RD_BODY_MAX, &w->body, &w->len);
  return job;
}

static bool refuse_early(rd_job_t *job, const rd_write_t *w)
{
  stw_status_t query_status = w->query_status;
  snprintf(job->o.device_id, sizeof(job->o.device_id), "%s", w->asker.device_id);
  if (w->too_large) {
    job->o.status = STW_ERR_TOO_LARGE;
    job->o.refusal = "payload-too-large";
    snprintf(job->o.diag, sizeof(job->o.diag), "payload over %d bytes", STW_LINKS_PAYLOAD_MAX);
    return true;
  }
  if (query_status != STW_OK) {
    job->o.status = query_status == STW_ERR_TOO_LARGE ? STW_ERR_TOO_LARGE : STW_ERR_MALFORMED;
    job->o.refusal = query_status == STW_ERR_INVALID ? "query-out-of-range" : "query-malformed";
    snprintf(job->o.diag, sizeof(job->o.diag), "%s", query_error_diag(query_status));
    return true;
  }
  return false;
}

static void handle_register(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                            const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  stw_rd_coap_t *t = coap_resource_get_userdata(resource);
  if (stw_deferred_resume(resource, session, request, response))
    return;
  maybe_sweep(t);
  rd_write_t w;
  rd_job_t *job = start_job(t, STW_RD_REGISTER, session, request, response, &w);
  if (job == NULL)
    return;
  if (!refuse_early(job, &w)) {
    char source[128];
    stw_coap_peer_uri(session, source, sizeof(source));
    stw_rd_decide_register(t->rd, &w.asker, &w.q, (const char *)w.body, w.len, source, &job->o);
  }
  submit(t, job, session, request, response);
}

static void handle_update(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                          const coap_string_t *query, coap_pdu_t *response, const char *rest, void *arg)
{
  (void)query;
  stw_rd_coap_t *t = arg;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  rd_write_t w;
  rd_job_t *job = start_job(t, STW_RD_UPDATE, session, request, response, &w);
  if (job == NULL)
    return;
  if (!refuse_early(job, &w))
    stw_rd_decide_update(t->rd, &w.asker, rest, &w.q, (const char *)w.body, w.len, w.body != NULL && w.len > 0,
                         &job->o);
  submit(t, job, session, request, response);
}

static void handle_delete(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                          const coap_string_t *query, coap_pdu_t *response, const char *rest, void *arg)
{
  (void)query;
  stw_rd_coap_t *t = arg;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  rd_write_t w;
  rd_job_t *job = start_job(t, STW_RD_DELETE, session, request, response, &w);
  if (job == NULL)
    return;
  stw_rd_decide_delete(t->rd, &w.asker, rest, &job->o);
  submit(t, job, session, request, response);
}

static void release_answer(coap_session_t *session, void *p)
{
  (void)session;
  free(p);
}

/* libcoap keeps pointing at a body it sends block by block, so the body goes
 * to it with a release function instead of being freed here. */
static void send_owned(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                       coap_pdu_t *response, uint16_t format, stw_buf_t *out)
{
  if (out->len == 0) {
    stw_buf_free(out, false);
    coap_add_option(response, COAP_OPTION_CONTENT_FORMAT, 1, (const uint8_t[]){ (uint8_t)format });
    return;
  }
  coap_add_data_large_response(resource, session, request, response, NULL, format, -1, 0, out->len, out->data,
                               release_answer, out->data);
  out->data = NULL;
  out->len = out->cap = 0;
}

static void answer_lookup(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                          coap_pdu_t *response, stw_rd_lookup_t kind)
{
  stw_rd_coap_t *t = coap_resource_get_userdata(resource);
  maybe_sweep(t);
  stw_rd_query_t q;
  stw_status_t st = parse_query(request, &q);
  if (st != STW_OK) {
    answer_query_error(response, st);
    return;
  }
  stw_asker_t asker;
  identify(t, session, &asker);
  stw_buf_t out;
  st = stw_rd_lookup(t->rd, &asker, kind, &q, stw_now(), &out);
  if (st != STW_OK) {
    stw_buf_free(&out, false);
    stw_coap_error(response, st == STW_ERR_TOO_LARGE ? COAP_RESPONSE_CODE(413) : COAP_RESPONSE_CODE(500),
                   st == STW_ERR_TOO_LARGE ? "answer over the limit: use count and page" : "lookup failed");
    return;
  }
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
  /* Same code and format whether nothing matched or nothing was visible. */
  send_owned(resource, session, request, response, STW_CF_LINK_FORMAT, &out);
}

static void handle_lookup_ep(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *q,
                             coap_pdu_t *resp)
{
  (void)q;
  answer_lookup(r, s, req, resp, STW_RD_LOOKUP_EP);
}

static void handle_lookup_res(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req, const coap_string_t *q,
                              coap_pdu_t *resp)
{
  (void)q;
  answer_lookup(r, s, req, resp, STW_RD_LOOKUP_RES);
}

static void handle_resolve(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                           const coap_string_t *query, coap_pdu_t *response, const char *rest, void *arg)
{
  (void)query;
  stw_rd_coap_t *t = arg;
  stw_rd_query_t q;
  stw_status_t st = parse_query(request, &q);
  if (st != STW_OK) {
    answer_query_error(response, st);
    return;
  }
  /* ?a=model&a=location picks the attributes to disclose. */
  const char *names[STW_RDQ_FILTERS_MAX];
  size_t n = 0;
  for (size_t i = 0; i < q.n_filters; i++)
    if (strcmp(q.filters[i].name, "a") == 0 && q.filters[i].has_value)
      names[n++] = q.filters[i].value;
  stw_asker_t asker;
  identify(t, session, &asker);
  stw_buf_t out;
  st = stw_rd_resolve(t->rd, &asker, rest, n ? names : NULL, n, stw_now(), &out);
  if (st != STW_OK) {
    stw_buf_free(&out, false);
    stw_coap_error(response, st == STW_ERR_NOT_FOUND ? COAP_RESPONSE_CODE(404) : COAP_RESPONSE_CODE(500),
                   st == STW_ERR_NOT_FOUND ? "no such handle" : "resolution failed");
    return;
  }
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
  send_owned(resource, session, request, response, STW_CF_CBOR, &out);
}

/* Every directory resource answers in link-format (40). */
static stw_status_t add(stw_coap_server_t *server, stw_rd_coap_t *t, const char *path, coap_request_t method,
                        coap_method_handler_t handler, const char *rt)
{
  return stw_coap_resource_add(server, path, method, handler, t, rt, "40") != NULL ? STW_OK : STW_ERR_NOMEM;
}

stw_status_t stw_rd_coap_register(stw_coap_server_t *server, stw_rd_t *rd, stw_committer_t *committer,
                                  stw_rd_coap_t **out)
{
  stw_rd_coap_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->rd = rd;
  t->committer = committer;
  stw_status_t st = add(server, t, "rd", COAP_REQUEST_POST, handle_register, "\"core.rd\"");
  if (st == STW_OK)
    st = add(server, t, "rd-lookup/ep", COAP_REQUEST_GET, handle_lookup_ep, "\"core.rd-lookup-ep\"");
  if (st == STW_OK)
    st = add(server, t, "rd-lookup/res", COAP_REQUEST_GET, handle_lookup_res, "\"core.rd-lookup-res\"");
  if (st == STW_OK)
    st = stw_coap_route(server, "rd/", COAP_REQUEST_POST, handle_update, t);
  if (st == STW_OK)
    st = stw_coap_route(server, "rd/", COAP_REQUEST_DELETE, handle_delete, t);
  if (st == STW_OK)
    st = stw_coap_route(server, "hdl/", COAP_REQUEST_GET, handle_resolve, t);
  if (st != STW_OK) {
    free(t);
    t = NULL;
  }
  *out = t;
  return st;
}

void stw_rd_coap_free(stw_rd_coap_t *t)
{
  free(t);
}
