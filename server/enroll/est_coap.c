#include "est_coap.h"
#include "crl.h"
#include "coap/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EST_BODY_MAX 8192  /* anything larger is refused before parsing (4.13) */

/* One decision endpoint: the operation a POST to it asks for, and the answer
 * format when the request names none. Each is its resource's userdata. */
typedef struct {
  stw_est_t *est;
  stw_enroll_op_t op;
  int default_accept;
} est_route_t;

enum { ROUTE_SEN, ROUTE_SREN, ROUTE_PSK, ROUTE_VOUCHER, ROUTE_PSK_CONFIRM, ROUTE_COUNT };

struct stw_est {
  stw_enroll_ctx_t ctx;
  stw_committer_t *committer;
  stw_buf_t crts_p7;        /* domain CA + daemon certificate, certs-only */
  stw_enroll_cache_t *own_cache; /* preparsed CAs, when the caller gave none */
  est_route_t routes[ROUTE_COUNT];
};

typedef struct {
  stw_est_t *est;
  stw_enroll_outcome_t o;
  stw_deferred_t *deferred;
  int accept;               /* content format the client asked for */
} est_job_t;

static int answer_format(const est_job_t *job)
{
  switch (job->o.op) {
  case STW_ENROLL_SEN:
  case STW_ENROLL_SREN: return job->accept;
  case STW_ENROLL_PSK: return STW_CF_CBOR;
  case STW_ENROLL_VOUCHER: return STW_CF_VOUCHER_COSE;
  case STW_ENROLL_PSK_CONFIRM: return STW_CF_PKCS7_CERTS;
  }
  return STW_CF_TEXT;
}

/* Fill body with what a granted request answers; for a certificate, wrap it
 * in PKCS#7 when the client asked for that format. */
static stw_status_t granted_body(est_job_t *job, stw_buf_t *p7, const uint8_t **body, size_t *len)
{
  if (job->o.op == STW_ENROLL_PSK_CONFIRM) {
    *body = job->est->crts_p7.data;
    *len = job->est->crts_p7.len;
    return STW_OK;
  }
  if ((job->o.op == STW_ENROLL_SEN || job->o.op == STW_ENROLL_SREN) && job->accept == STW_CF_PKCS7_CERTS) {
    const uint8_t *certs[1] = { job->o.payload };
    size_t lens[1] = { job->o.payload_len };
    stw_status_t st = stw_pkcs7_certs_encode(certs, lens, 1, p7);
    *body = p7->data;
    *len = p7->len;
    return st;
  }
  *body = job->o.payload;
  *len = job->o.payload_len;
  return STW_OK;
}

static stw_status_t apply_job(stw_store_t *st, void *arg)
{
  est_job_t *job = arg;
  return stw_enroll_apply(st, &job->o);
}

/* The committer's done(): answer what the commit made durable. */
static void done_job(void *arg, stw_status_t store_status)
{
  est_job_t *job = arg;
  stw_buf_t p7;
  stw_buf_init(&p7, 3 * STW_CERT_MAX);
  if (store_status != STW_OK) {
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                        "store failure; nothing was recorded, retry");
  } else if (job->o.status == STW_OK) {
    const uint8_t *body = NULL;
    size_t len = 0;
    if (granted_body(job, &p7, &body, &len) == STW_OK)
      stw_deferred_answer(job->deferred, stw_enroll_coap_code(&job->o), answer_format(job), body, len, NULL);
    else
      stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0, "encoding failed");
  } else {
    stw_deferred_answer(job->deferred, stw_enroll_coap_code(&job->o), STW_CF_TEXT, NULL, 0, job->o.diag);
  }
  stw_buf_free(&p7, false);
  stw_enroll_outcome_clear(&job->o);
  free(job);
}

/* Decide, then answer: at once when nothing needs to be written (a voucher, an
 * identical retry), else after the committer has made it durable. */
static void serve(const est_route_t *route, coap_resource_t *resource, coap_session_t *session,
                  const coap_pdu_t *request, coap_pdu_t *response)
{
  stw_est_t *est = route->est;
  stw_enroll_op_t op = route->op;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  est_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "out of memory");
    return;
  }
  job->est = est;
  job->accept = stw_coap_option_uint(request, COAP_OPTION_ACCEPT, route->default_accept);
  stw_enroll_outcome_init(&job->o, op);

  size_t len = 0;
  const uint8_t *data = NULL;
  bool too_large = !stw_coap_request_body(request, EST_BODY_MAX, &data, &len);
  stw_peer_t peer;
  stw_coap_peer(session, &peer);
  bool wants_csr = op == STW_ENROLL_SEN || op == STW_ENROLL_SREN;
  if (too_large) {
    stw_enroll_identify(&est->ctx, &peer, &job->o);
    job->o.status = STW_ERR_TOO_LARGE;
    job->o.refusal = "payload-too-large";
    snprintf(job->o.diag, sizeof(job->o.diag), "payload over %d bytes", EST_BODY_MAX);
  } else if (wants_csr && stw_coap_option_uint(request, COAP_OPTION_CONTENT_FORMAT, STW_CF_PKCS10) != STW_CF_PKCS10) {
    stw_enroll_identify(&est->ctx, &peer, &job->o);
    job->o.status = STW_ERR_UNSUPPORTED;
    job->o.refusal = "content-format";
    snprintf(job->o.diag, sizeof(job->o.diag), "send application/pkcs10 (286)");
  } else if (wants_csr && job->accept != STW_CF_PKIX_CERT && job->accept != STW_CF_PKCS7_CERTS) {
    stw_enroll_outcome_clear(&job->o);
    free(job);
    stw_coap_error(response, COAP_RESPONSE_CODE(406), "accept 287 or 281");
    return;
  } else {
    stw_enroll_decide(&est->ctx, &peer, data, len, &job->o);
  }

  if (job->o.status == STW_OK && job->o.retry) {
    stw_buf_t p7;
    stw_buf_init(&p7, 3 * STW_CERT_MAX);
    const uint8_t *body = NULL;
    size_t blen = 0;
    if (granted_body(job, &p7, &body, &blen) == STW_OK) {
      coap_pdu_set_code(response, (coap_pdu_code_t)stw_enroll_coap_code(&job->o));
      stw_coap_body_t *copy = stw_coap_body_new(body, blen);
      if (copy != NULL)
        stw_coap_add_body(resource, session, request, response, answer_format(job), copy);
    } else {
      stw_coap_error(response, COAP_RESPONSE_CODE(500), "encoding failed");
    }
    stw_buf_free(&p7, false);
    stw_enroll_outcome_clear(&job->o);
    free(job);
    return;
  }

  /* Too busy: the 5.03 is answered and nothing was queued, so nothing was written. */
  if (!stw_coap_defer_job(session, request, response, est->committer, apply_job, done_job, job, &job->deferred)) {
    stw_enroll_outcome_clear(&job->o);
    free(job);
  }
}

/* /sen, /sren, /psk and /rv: the route (the resource's userdata) says which decision. */
static void handle_decision(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
                            const coap_string_t *q, coap_pdu_t *resp)
{
  (void)q;
  serve(coap_resource_get_userdata(r), r, s, req, resp);
}

/* The domain's trust anchors. Anyone on a DTLS session may read them (RFC 7030
 * §4.1); the first request over a fresh operational PSK also retires the
 * device's bootstrap PSK, so it is answered once that is durable. */
static void handle_crts(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
                        const coap_string_t *q, coap_pdu_t *resp)
{
  (void)q;
  stw_est_t *est = coap_resource_get_userdata(r);
  stw_peer_t peer;
  stw_coap_peer(s, &peer);
  if (peer.kind == STW_PEER_PSK) {
    serve(&est->routes[ROUTE_PSK_CONFIRM], r, s, req, resp);
    return;
  }
  int accept = stw_coap_option_uint(req, COAP_OPTION_ACCEPT, STW_CF_PKCS7_CERTS);
  const stw_buf_t *ca = &est->ctx.domain->ca_der;
  const uint8_t *body;
  size_t len;
  if (accept == STW_CF_PKCS7_CERTS) {
    body = est->crts_p7.data;
    len = est->crts_p7.len;
  } else if (accept == STW_CF_PKIX_CERT) {
    body = ca->data;
    len = ca->len;
  } else {
    stw_coap_error(resp, COAP_RESPONSE_CODE(406), "accept 281 or 287");
    return;
  }
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
  coap_add_data_large_response(r, s, req, resp, NULL, (uint16_t)accept, 3600, 0, len, body, NULL, NULL);
}

/* The CRL, built from the store on each request: a decommission done by
 * `steward admin` in another process shows at once. Anyone on a DTLS session
 * may read it, as the trust anchors. */
static void handle_crl(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
                       const coap_string_t *q, coap_pdu_t *resp)
{
  (void)q;
  stw_est_t *est = coap_resource_get_userdata(r);
  int accept = stw_coap_option_uint(req, COAP_OPTION_ACCEPT, STW_CF_PKIX_CRL);
  if (accept != STW_CF_PKIX_CRL) {
    stw_coap_error(resp, COAP_RESPONSE_CODE(406), "the CRL is DER, content format 42");
    return;
  }
  stw_buf_t der;
  stw_buf_init(&der, STW_CRL_MAX);
  stw_status_t st = stw_crl_build(est->ctx.store, est->ctx.domain, stw_now(), &der);
  stw_coap_body_t *body = st == STW_OK ? stw_coap_body_new(der.data, der.len) : NULL;
  stw_buf_free(&der, false);
  if (body == NULL) {
    stw_coap_error(resp, COAP_RESPONSE_CODE(500), "cannot build the CRL");
    return;
  }
  coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
  stw_coap_add_body(r, s, req, resp, STW_CF_PKIX_CRL, body);
}

stw_status_t stw_est_register(stw_coap_server_t *server, const stw_enroll_ctx_t *ctx,
                              stw_committer_t *committer, stw_est_t **out)
{
  stw_est_t *est = calloc(1, sizeof(*est));
  if (est == NULL)
    return STW_ERR_NOMEM;
  est->ctx = *ctx;
  est->committer = committer;
  stw_buf_init(&est->crts_p7, 3 * STW_CERT_MAX);
  stw_status_t st = STW_OK;
  if (est->ctx.cache == NULL) {
    if ((st = stw_enroll_cache_new(ctx->domain, &est->own_cache)) != STW_OK) {
      stw_est_free(est);
      *out = NULL;
      return st;
    }
    est->ctx.cache = est->own_cache;
  }
  static const struct { stw_enroll_op_t op; int accept; } ops[ROUTE_COUNT] = {
    [ROUTE_SEN] = { STW_ENROLL_SEN, STW_CF_PKIX_CERT },
    [ROUTE_SREN] = { STW_ENROLL_SREN, STW_CF_PKIX_CERT },
    [ROUTE_PSK] = { STW_ENROLL_PSK, STW_CF_CBOR },
    [ROUTE_VOUCHER] = { STW_ENROLL_VOUCHER, STW_CF_VOUCHER_COSE },
    [ROUTE_PSK_CONFIRM] = { STW_ENROLL_PSK_CONFIRM, STW_CF_PKCS7_CERTS },
  };
  for (int i = 0; i < ROUTE_COUNT; i++)
    est->routes[i] = (est_route_t){ .est = est, .op = ops[i].op, .default_accept = ops[i].accept };
  const uint8_t *certs[2] = { ctx->domain->ca_der.data, ctx->domain->server_der.data };
  size_t lens[2] = { ctx->domain->ca_der.len, ctx->domain->server_der.len };
  st = stw_pkcs7_certs_encode(certs, lens, 2, &est->crts_p7);
  if (st == STW_OK &&
      (stw_coap_resource_add(server, ".well-known/est/crts", COAP_REQUEST_GET, handle_crts, est, "ace.est.crts",
                             "\"281 287\"") == NULL ||
       stw_coap_resource_add(server, ".well-known/est/sen", COAP_REQUEST_POST, handle_decision,
                             &est->routes[ROUTE_SEN], "ace.est.sen", "\"286 281 287\"") == NULL ||
       stw_coap_resource_add(server, ".well-known/est/sren", COAP_REQUEST_POST, handle_decision,
                             &est->routes[ROUTE_SREN], "ace.est.sren", "\"286 281 287\"") == NULL ||
       stw_coap_resource_add(server, ".well-known/est/psk", COAP_REQUEST_POST, handle_decision,
                             &est->routes[ROUTE_PSK], "steward.est.psk", "60") == NULL ||
       stw_coap_resource_add(server, ".well-known/brski/rv", COAP_REQUEST_POST, handle_decision,
                             &est->routes[ROUTE_VOUCHER], "brski.rv", "836") == NULL ||
       stw_coap_resource_add(server, "crl", COAP_REQUEST_GET, handle_crl, est, "steward.crl", "42") == NULL))
    st = STW_ERR_NOMEM;
  if (st != STW_OK) {
    stw_est_free(est);
    est = NULL;
  }
  *out = est;
  return st;
}

void stw_est_free(stw_est_t *est)
{
  if (est == NULL)
    return;
  stw_buf_free(&est->crts_p7, false);
  stw_enroll_cache_free(est->own_cache);
  free(est);
}
