/* The smart object's CoAP server: DTLS with the device's LDevID key as a raw
 * public key (RFC 7250), /authz-info for access tokens, and every other
 * request checked by the device's own PEP before its handler runs. The
 * OSCORE endpoint is device/thing_oscore.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

#include "dev_internal.h"
#include "net_internal.h"
#include "netaddr.h"
#include "pep.h"
#include "steward/thing.h"
#include "thing_internal.h"

stw_thing_t *stw__thing_of(coap_session_t *session)
{
  return coap_get_app_data(coap_session_get_context(session));
}

/* The key the DTLS peer proved: a raw public key, or its certificate's. */
static int remember_peer(const char *cn, const uint8_t *der, size_t len, coap_session_t *session,
                         unsigned depth, int validated, void *arg)
{
  (void)validated;
  (void)arg;
  if (depth != 0)
    return 1;
  stw_thing_t *t = stw__thing_of(session);
  thing_peer_t *p = coap_session_get_app_data(session);
  if (p == NULL) {
    p = calloc(1, sizeof(*p));
    if (p == NULL)
      return 0;
    p->next = t->peers.next;
    p->prev = &t->peers;
    t->peers.next->prev = p;
    t->peers.next = p;
    coap_session_set_app_data(session, p);
  }
  p->spki_len = 0;
  if (strcmp(cn, COAP_DTLS_RPK_CERT_CN) == 0) {
    if (len > sizeof(p->spki))
      return 0;
    memcpy(p->spki, der, len);
    p->spki_len = len;
    return 1;
  }
  stw_cert_info_t info;
  if (stw_cert_parse(der, len, &info) != STW_OK)
    return 0;
  memcpy(p->spki, info.spki, info.spki_len);
  p->spki_len = info.spki_len;
  return 1;
}

static void forget_peer(stw_thing_t *t, thing_peer_t *p)
{
  (void)t;
  p->prev->next = p->next;
  p->next->prev = p->prev;
  free(p);
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
  if (event == COAP_EVENT_SERVER_SESSION_DEL) {
    thing_peer_t *p = coap_session_get_app_data(session);
    if (p != NULL)
      forget_peer(stw__thing_of(session), p);
    coap_session_set_app_data(session, NULL);
  }
  return 0;
}

void stw__thing_answer_error(coap_pdu_t *response, unsigned code, const char *diag)
{
  coap_pdu_set_code(response, (coap_pdu_code_t)code);
  coap_add_data(response, strlen(diag), (const uint8_t *)diag);
}

/* POST /authz-info (RFC 9200 5.10.1): check the token, keep it. */
static void handle_authz_info(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                              const coap_string_t *query, coap_pdu_t *response)
{
  (void)resource;
  (void)query;
  stw_thing_t *t = stw__thing_of(session);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *body = NULL;
  if (!coap_get_data_large(request, &len, &body, &offset, &total) || len == 0) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(400), "invalid_request: no token");
    return;
  }
  if (total > STW_PEP_TOKEN_MAX || len > STW_PEP_TOKEN_MAX) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(413), "token over the size limit");
    return;
  }
  stw_pep_token_t tok;
  int64_t now = stw_now();
  stw_status_t st = stw_pep_check_token(&t->pep, body, len, now, &tok);
  if (st == STW_OK)
    st = stw_pep_store_token(&t->pep, &tok, now);
  if (st != STW_OK) {
    char diag[96];
    snprintf(diag, sizeof(diag), "invalid token: %s", stw_status_str(st));
    stw__thing_answer_error(response, st == STW_ERR_TOO_LARGE ? COAP_RESPONSE_CODE(413) : COAP_RESPONSE_CODE(401), diag);
    return;
  }
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(201));
}

static unsigned method_bit(coap_pdu_code_t code)
{
  switch (code) {
  case COAP_REQUEST_CODE_GET: return STW_AIF_GET;
  case COAP_REQUEST_CODE_POST: return STW_AIF_POST;
  case COAP_REQUEST_CODE_PUT: return STW_AIF_PUT;
  case COAP_REQUEST_CODE_DELETE: return STW_AIF_DELETE;
  case COAP_REQUEST_CODE_FETCH: return STW_AIF_FETCH;
  case COAP_REQUEST_CODE_PATCH: return STW_AIF_PATCH;
  case COAP_REQUEST_CODE_IPATCH: return STW_AIF_IPATCH;
  default: return 0;
  }
}

/* Every application resource: the PEP first, then the handler. */
static void handle_protected(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                             const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  stw_thing_t *t = stw__thing_of(session);
  thing_resource_t *r = coap_resource_get_userdata(resource);
  thing_peer_t *p = coap_session_get_app_data(session);
  unsigned method = method_bit(coap_pdu_get_code(request));
  if (p == NULL || p->spki_len == 0) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(401), "unauthorized_client: authenticate your key over DTLS");
    return;
  }
  stw_status_t st = stw_pep_authorize_stored(&t->pep, p->spki, p->spki_len, r->path, strlen(r->path), method,
                                             stw_now());
  if (st == STW_ERR_FORBIDDEN) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(403), "insufficient_scope");
    return;
  }
  if (st != STW_OK) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(401), "unauthorized_client: no valid token for this key");
    return;
  }
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *body = NULL;
  if (!coap_get_data_large(request, &len, &body, &offset, &total))
    body = NULL, len = 0;
  uint8_t out[STW_THING_ANSWER_MAX];
  size_t out_len = 0;
  unsigned code = r->handler(r->arg, method, r->path, body, len, out, sizeof(out), &out_len);
  coap_pdu_set_code(response, (coap_pdu_code_t)code);
  if (out_len > 0 && out_len <= sizeof(out))
    coap_add_data(response, out_len, out);
}

stw_status_t stw_thing_new(stw_dev_t *dev, const char *listen, uint32_t skew_seconds, stw_thing_t **out)
{
  *out = NULL;
  if (!dev->has_op_cert || dev->domain_ca_der.len == 0)
    return STW_ERR_STATE;
  stw_thing_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->dev = dev;
  t->peers.next = t->peers.prev = &t->peers;
  stw_cert_info_t ca;
  coap_address_t addr;
  stw_status_t st = stw_cert_parse(dev->domain_ca_der.data, dev->domain_ca_der.len, &ca);
  if (st != STW_OK)
    goto out;
  /* Tokens for this device name it by its assigned name. */
  if ((st = stw_pep_init(&t->pep, ca.spki, ca.spki_len, dev->name, skew_seconds)) != STW_OK)
    goto out;
  t->pep_ready = true;
  coap_startup();
  st = STW_ERR_NETWORK;
  if ((t->ctx = coap_new_context(NULL)) == NULL)
    goto out;
  coap_set_app_data(t->ctx, t);
  coap_context_set_block_mode(t->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_event_handler(t->ctx, on_event);
  coap_dtls_pki_t pki;
  /* No chain check: the PEP decides, from the key the peer proved. The
   * device's own key goes out raw (RFC 7250), so it stands for the cert. */
  stw__dtls_pki_init(&pki, &dev->op_key_pem, &dev->op_key_pem, remember_peer);
  pki.is_rpk_not_cert = 1;
  if (!coap_context_set_pki(t->ctx, &pki))
    goto out;
  coap_address_init(&addr);
  if ((st = stw_listen_parse(listen, &addr.addr.sa, &addr.size)) != STW_OK)
    goto out;
  coap_endpoint_t *ep = coap_new_endpoint(t->ctx, &addr, COAP_PROTO_DTLS);
  st = STW_ERR_NETWORK;
  if (ep == NULL)
    goto out;
  t->port = stw_addr_text_port(coap_endpoint_str(ep));
  coap_resource_t *authz = coap_resource_init(coap_make_str_const("authz-info"), 0);
  if (authz == NULL)
    goto out;
  coap_register_request_handler(authz, COAP_REQUEST_POST, handle_authz_info);
  coap_add_attr(authz, coap_make_str_const("rt"), coap_make_str_const("\"ace.ai\""), 0);
  coap_add_resource(t->ctx, authz);
  st = STW_OK;
out:
  if (st != STW_OK) {
    stw_thing_free(t);
    t = NULL;
  }
  *out = t;
  return st;
}

stw_status_t stw_thing_resource(stw_thing_t *t, const char *path, stw_thing_handler_t handler, void *arg)
{
  if (t->n_res >= THING_RESOURCES_MAX || path[0] == '\0' || path[0] == '/' || strlen(path) >= STW_AIF_PATH_MAX)
    return STW_ERR_INVALID;
  thing_resource_t *r = &t->res[t->n_res];
  snprintf(r->path, sizeof(r->path), "/%s", path);
  r->handler = handler;
  r->arg = arg;
  coap_resource_t *res = coap_resource_init(coap_make_str_const(path), 0);
  if (res == NULL)
    return STW_ERR_NOMEM;
  coap_register_request_handler(res, COAP_REQUEST_GET, handle_protected);
  coap_register_request_handler(res, COAP_REQUEST_POST, handle_protected);
  coap_register_request_handler(res, COAP_REQUEST_PUT, handle_protected);
  coap_register_request_handler(res, COAP_REQUEST_DELETE, handle_protected);
  coap_resource_set_userdata(res, r);
  coap_add_resource(t->ctx, res);
  t->n_res++;
  return STW_OK;
}

void stw_thing_run(stw_thing_t *t, unsigned timeout_ms)
{
  coap_context_t *ctxs[] = { t->ctx, t->osc_ctx, t->watch.domain.ctx };
  stw__coap_io_run(ctxs, 3, timeout_ms);
}

/* ---- the revocation list ---------------------------------------------------------- */

/* A notification of the domain's revocation list: every listed token
 * dropped; the list's sequence kept once the whole list was read. */
static void apply_revocations(void *arg, const uint8_t *p, size_t len)
{
  stw_thing_t *t = arg;
  uint64_t seq = 0;
  if (stw__pep_apply_revocations(&t->pep, p, len, &seq) == STW_OK && seq > t->watch.seq)
    t->watch.seq = seq;
}

stw_status_t stw_thing_watch_revocations(stw_thing_t *t, const char *domain_uri)
{
  if (t->watch.domain.ctx != NULL)
    return STW_ERR_STATE;
  return stw__domain_watch_open(&t->watch.domain, t->dev, domain_uri, "revoked", -1, apply_revocations, t);
}

uint64_t stw_thing_revocation_seq(const stw_thing_t *t)
{
  return t->watch.seq;
}

stw_status_t stw_thing_revoke(stw_thing_t *t, const uint8_t *cti, size_t len)
{
  return stw_pep_revoke(&t->pep, cti, len);
}

stw_pep_t *stw_thing_pep(stw_thing_t *t)
{
  return &t->pep;
}

uint16_t stw_thing_port(const stw_thing_t *t)
{
  return t->port;
}

void stw_thing_free(stw_thing_t *t)
{
  if (t == NULL)
    return;
  stw__domain_watch_close(&t->watch.domain);
  if (t->ctx != NULL)
    coap_free_context(t->ctx);
  stw__thing_oscore_free(t);
  while (t->peers.next != &t->peers)
    forget_peer(t, t->peers.next);
  if (t->pep_ready)
    stw_pep_deinit(&t->pep);
  free(t);
}
