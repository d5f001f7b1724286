/* Calling another device's resources with a capability token: DTLS with our
 * LDevID key towards the key the token answer named (rs_cnf), the token to
 * /authz-info, then the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "steward/thing.h"

#define CF_CWT 61
#define ANSWER_MAX 65536

typedef struct {
  coap_pdu_code_t method;
  char path[STW_AIF_PATH_MAX + 1];
  uint8_t *body;
  size_t body_len;
  uint8_t *answer;
  size_t answer_len;
  bool done;
  stw_status_t status;
  stw_bootstrap_report_t report;
} call_t;

static void call_free(void *p)
{
  (void)p; /* the blocking caller owns the call */
}

static void got_answer(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  call_t *c = op->flow;
  if ((code >> 5) != 2) {
    stw__op_refused(op, code, body, len, "request");
    return;
  }
  if (len > ANSWER_MAX) {
    stw__op_finish(op, STW_ERR_TOO_LARGE, code, "answer too large");
    return;
  }
  c->answer = malloc(len + 1);
  if (c->answer == NULL) {
    stw__op_finish(op, STW_ERR_NOMEM, code, "out of memory");
    return;
  }
  if (len > 0)
    memcpy(c->answer, body, len);
  c->answer[len] = '\0';
  c->answer_len = len;
  stw__op_finish(op, STW_OK, code, NULL);
}

static void send_call(stw_op_t *op)
{
  call_t *c = op->flow;
  stw_status_t st = stw__op_request(op, c->method, c->path + 1, -1, -1, c->body, c->body_len, got_answer);
  if (st != STW_OK)
    stw__op_finish(op, st, 0, "could not send the request");
}

static void token_posted(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  if (code != COAP_RESPONSE_CODE(201) && (code >> 5) != 2) {
    stw__op_refused(op, code, body, len, "token");
    return;
  }
  send_call(op);
}

static void done(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, void *arg)
{
  (void)dev;
  call_t *c = arg;
  c->done = true;
  c->status = status;
  c->report = *report;
}

static coap_pdu_code_t method_code(unsigned bit)
{
  switch (bit) {
  case STW_AIF_GET: return COAP_REQUEST_CODE_GET;
  case STW_AIF_POST: return COAP_REQUEST_CODE_POST;
  case STW_AIF_PUT: return COAP_REQUEST_CODE_PUT;
  case STW_AIF_DELETE: return COAP_REQUEST_CODE_DELETE;
  case STW_AIF_FETCH: return COAP_REQUEST_CODE_FETCH;
  case STW_AIF_PATCH: return COAP_REQUEST_CODE_PATCH;
  case STW_AIF_IPATCH: return COAP_REQUEST_CODE_IPATCH;
  default: return (coap_pdu_code_t)0;
  }
}

stw_status_t stw_thing_call(stw_dev_t *dev, const char *rs_uri, const uint8_t *rs_spki, size_t rs_spki_len,
                            const uint8_t *token, size_t token_len, unsigned method, const char *path,
                            const uint8_t *body, size_t len, uint8_t **answer, size_t *answer_len,
                            stw_bootstrap_report_t *report)
{
  if (answer != NULL)
    *answer = NULL;
  if (answer_len != NULL)
    *answer_len = 0;
  if (report != NULL)
    memset(report, 0, sizeof(*report));
  if (!dev->has_op_cert)
    return STW_ERR_STATE;
  if (rs_spki == NULL || rs_spki_len == 0 || rs_spki_len > STW_SPKI_MAX || method_code(method) == 0 ||
      path == NULL || path[0] != '/' || strlen(path) > STW_AIF_PATH_MAX || (token == NULL && token_len > 0))
    return STW_ERR_INVALID;
  call_t c;
  memset(&c, 0, sizeof(c));
  c.method = method_code(method);
  snprintf(c.path, sizeof(c.path), "%s", path);
  c.body = (uint8_t *)body;
  c.body_len = len;
  stw_net_t *net = NULL;
  stw_op_t *op = NULL;
  stw_status_t st = stw_net_new(&net);
  if (st == STW_OK)
    st = stw__op_new(net, dev, rs_uri, done, &c, &op);
  if (st == STW_OK) {
    op->flow = &c;
    op->flow_free = call_free;
    memcpy(op->expected_spki, rs_spki, rs_spki_len);
    op->expected_spki_len = rs_spki_len;
    if ((st = stw__op_connect_cert(op, &dev->op_cert_pem, &dev->op_key_pem)) != STW_OK)
      stw__op_finish(op, st, 0, "could not reach the device");
    else if (token != NULL &&
             (st = stw__op_request(op, COAP_REQUEST_CODE_POST, "authz-info", CF_CWT, -1, token, token_len,
                                   token_posted)) != STW_OK)
      stw__op_finish(op, st, 0, "could not send the token");
    else if (token == NULL)
      send_call(op);
    st = STW_OK;
    while (!c.done)
      stw_net_run(net, 100);
    st = c.status;
  }
  stw_net_free(net);
  if (report != NULL)
    *report = c.report;
  if (st == STW_OK && answer != NULL) {
    *answer = c.answer;
    c.answer = NULL;
    if (answer_len != NULL)
      *answer_len = c.answer_len;
  }
  free(c.answer);
  return st;
}
