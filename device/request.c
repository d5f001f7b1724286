/* One request on the device's operational credential: what registration,
 * lookup and resolution are built on. An X.509 device first checks that the
 * key the DTLS server proved is certified by the pinned domain CA (from
 * /.well-known/est/crts, as renewal does): the session itself does not check
 * it. A PSK session needs no such step: only the domain knows the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define CF_PKCS7_CERTS 281
#define PATH_CRTS ".well-known/est/crts"

typedef struct {
  char *path;                  /* owned: the op resends it after a failed session */
  uint8_t *body;               /* owned copy */
  size_t body_len;
  coap_pdu_code_t method;
  int content_format, accept;
  size_t answer_max;
  stw__answer_fn fn;
  void *arg;
  uint8_t *answer;             /* owned copy of a 2.xx body */
  size_t answer_len;
  char location[STW__LOCATION_MAX];
} request_t;

static void request_free(void *p)
{
  request_t *r = p;
  if (r == NULL)
    return;
  free(r->path);
  free(r->body);
  if (r->answer != NULL)
    stw_wipe(r->answer, r->answer_len);  /* a token answer holds an OSCORE master secret */
  free(r->answer);
  free(r);
}

static void request_done(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, void *arg)
{
  request_t *r = arg;
  r->fn(dev, status, report, r->answer, r->answer_len, r->location, r->arg);
}

static void got_answer(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  request_t *r = op->flow;
  if ((code >> 5) != 2) {
    stw__op_refused(op, code, body, len, NULL);
    return;
  }
  if (len > r->answer_max) {
    stw__op_finish(op, STW_ERR_TOO_LARGE, code, "answer over the caller's limit");
    return;
  }
  /* One byte more for a NUL, so text answers can be used as strings. */
  r->answer = malloc(len + 1);
  if (r->answer == NULL) {
    stw__op_finish(op, STW_ERR_NOMEM, code, "out of memory");
    return;
  }
  if (len > 0)
    memcpy(r->answer, body, len);
  r->answer[len] = '\0';
  r->answer_len = len;
  /* Only what the server placed itself: printable path characters. */
  size_t n = strlen(op->location);
  for (size_t i = 0; i < n; i++)
    if (op->location[i] <= 0x20 || op->location[i] >= 0x7f || op->location[i] == '?')
      n = 0;
  memcpy(r->location, op->location, n);
  r->location[n] = '\0';
  stw__op_finish(op, STW_OK, code, NULL);
}

static void send_request(stw_op_t *op)
{
  request_t *r = op->flow;
  stw_status_t st = stw__op_request(op, r->method, r->path, r->content_format, r->accept, r->body, r->body_len,
                                    got_answer);
  if (st != STW_OK)
    stw__op_finish(op, st, 0, "could not send the request");
}

static void got_anchors(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  if ((code >> 5) != 2) {
    stw__op_refused(op, code, body, len, NULL);
    return;
  }
  stw_status_t st = stw__domain_certified(op->dev, body, len, op->server_spki, op->server_spki_len);
  if (st == STW_ERR_NOMEM) {
    stw__op_finish(op, STW_ERR_NOMEM, 0, "out of memory");
    return;
  }
  if (st != STW_OK) {
    stw__op_finish(op, STW_ERR_UNTRUSTED, code, "server key is not certified by the pinned domain CA");
    return;
  }
  send_request(op);
}

stw_status_t stw__request_start(stw_net_t *net, stw_dev_t *dev, const char *uri, coap_pdu_code_t method,
                                const char *path, int content_format, int accept, const uint8_t *body,
                                size_t len, size_t answer_max, stw__answer_fn fn, void *arg)
{
  if (!dev->has_op_cert && !dev->has_op_psk)
    return STW_ERR_STATE;
  request_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return STW_ERR_NOMEM;
  r->path = strdup(path);
  r->body = len > 0 ? malloc(len) : NULL;
  if (r->path == NULL || (len > 0 && r->body == NULL)) {
    request_free(r);
    return STW_ERR_NOMEM;
  }
  if (len > 0)
    memcpy(r->body, body, len);
  r->body_len = len;
  r->method = method;
  r->content_format = content_format;
  r->accept = accept;
  r->answer_max = answer_max;
  r->fn = fn;
  r->arg = arg;
  stw_op_t *op = NULL;
  stw_status_t st = stw__op_new(net, dev, uri, request_done, r, &op);
  if (st != STW_OK) {
    request_free(r);
    return st;
  }
  op->flow = r;
  op->flow_free = request_free;
  if (dev->has_op_cert) {
    if ((st = stw__op_connect_cert(op, &dev->op_cert_pem, &dev->op_key_pem)) != STW_OK ||
        (st = stw__op_request(op, COAP_REQUEST_CODE_GET, PATH_CRTS, -1, CF_PKCS7_CERTS, NULL, 0, got_anchors)) != STW_OK)
      stw__op_finish(op, st, 0, "could not reach the server");
  } else if ((st = stw__op_connect_psk(op, dev->op_psk_identity, dev->op_psk, STW_PSK_KEY_LEN)) != STW_OK) {
    stw__op_finish(op, st, 0, "could not reach the server");
  } else {
    send_request(op);
  }
  return STW_OK;
}

/* ---- blocking ---------------------------------------------------------------------- */

typedef struct {
  bool done;
  stw_status_t status;
  stw_bootstrap_report_t report;
  uint8_t *answer;
  size_t answer_len;
  char location[STW__LOCATION_MAX];
} waiter_t;

static void wake(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, const uint8_t *answer,
                 size_t len, const char *location, void *arg)
{
  (void)dev;
  waiter_t *w = arg;
  w->done = true;
  w->status = status;
  w->report = *report;
  snprintf(w->location, sizeof(w->location), "%s", location);
  if (status == STW_OK && answer != NULL) {
    w->answer = malloc(len + 1);
    if (w->answer == NULL) {
      w->status = STW_ERR_NOMEM;
      return;
    }
    memcpy(w->answer, answer, len + 1);  /* answers carry a NUL after len */
    w->answer_len = len;
  }
}

stw_status_t stw__request_run(stw_dev_t *dev, const char *uri, coap_pdu_code_t method, const char *path,
                              int content_format, int accept, const uint8_t *body, size_t len,
                              size_t answer_max, uint8_t **answer, size_t *answer_len, char *location,
                              stw_bootstrap_report_t *report)
{
  stw_net_t *net = NULL;
  waiter_t w;
  memset(&w, 0, sizeof(w));
  stw_status_t st = stw_net_new(&net);
  if (st == STW_OK)
    st = stw__request_start(net, dev, uri, method, path, content_format, accept, body, len, answer_max, wake, &w);
  while (st == STW_OK && !w.done)
    stw_net_run(net, 100);
  stw_net_free(net);
  if (st == STW_OK)
    st = w.status;
  if (report != NULL)
    *report = w.report;
  if (location != NULL)
    snprintf(location, STW__LOCATION_MAX, "%s", w.location);
  if (st == STW_OK && answer != NULL) {
    *answer = w.answer;
    w.answer = NULL;
    if (answer_len != NULL)
      *answer_len = w.answer_len;
  }
  if (w.answer != NULL)
    stw_wipe(w.answer, w.answer_len);
  free(w.answer);
  return st;
}
