#include "domain_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "netaddr.h"

#define CF_PKCS7_CERTS 281

static stw__domain_watch_t *watch_of(coap_session_t *session)
{
  return coap_get_app_data(coap_session_get_context(session));
}

static int remember_domain_key(const char *cn, const uint8_t *der, size_t len, coap_session_t *session,
                               unsigned depth, int validated, void *arg)
{
  (void)validated;
  (void)arg;
  stw__domain_watch_t *w = watch_of(session);
  if (depth != 0)
    return 1;
  if (strcmp(cn, COAP_DTLS_RPK_CERT_CN) == 0 && len <= sizeof(w->server_spki)) {
    memcpy(w->server_spki, der, len);
    w->server_spki_len = len;
    return 1;
  }
  return 0;  /* the domain daemon speaks with a raw key */
}

static stw_status_t send_get(coap_session_t *session, const char *path, int accept, bool observe)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, coap_new_message_id(session),
                                  coap_session_max_pdu_size(session));
  if (pdu == NULL)
    return STW_ERR_NOMEM;
  uint8_t token[8], buf[4];
  size_t token_len = 0;
  coap_session_new_token(session, &token_len, token);
  coap_add_token(pdu, token_len, token);
  if (observe)
    coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(buf, sizeof(buf), COAP_OBSERVE_ESTABLISH), buf);
  stw__pdu_add_path(pdu, path);
  if (accept >= 0)
    coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(buf, sizeof(buf), (unsigned)accept), buf);
  return coap_send(session, pdu) == COAP_INVALID_MID ? STW_ERR_NETWORK : STW_OK;
}

static coap_response_t on_answer(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                 const coap_mid_t mid)
{
  (void)sent;
  (void)mid;
  stw__domain_watch_t *w = watch_of(session);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  if (!coap_get_data_large(received, &len, &data, &offset, &total))
    data = NULL, len = 0;
  if ((coap_pdu_get_code(received) >> 5) != 2)
    return COAP_RESPONSE_OK;
  if (!w->verified) {
    /* The answer to /crts: is the key this session proved certified by the
     * domain CA pinned at bootstrap? Only then observe: a server that is not
     * the domain is never listened to. */
    w->verified = stw__domain_certified(w->dev, data, len, w->server_spki, w->server_spki_len) == STW_OK &&
                  send_get(session, w->path, w->accept, true) == STW_OK;
    return COAP_RESPONSE_OK;
  }
  w->notify(w->arg, data, len);
  return COAP_RESPONSE_OK;
}

stw_status_t stw__domain_watch_open(stw__domain_watch_t *w, const stw_dev_t *dev, const char *domain_uri,
                                    const char *path, int accept, stw__domain_notify_fn notify, void *arg)
{
  coap_uri_t uri;
  if (coap_split_uri((const uint8_t *)domain_uri, strlen(domain_uri), &uri) < 0 || uri.scheme != COAP_URI_SCHEME_COAPS)
    return STW_ERR_INVALID;
  char host[128], listen[160];
  if (uri.host.length == 0 || uri.host.length >= sizeof(host))
    return STW_ERR_INVALID;
  memcpy(host, uri.host.s, uri.host.length);
  host[uri.host.length] = '\0';
  snprintf(listen, sizeof(listen), "%s:%u", host, uri.port ? uri.port : COAPS_DEFAULT_PORT);
  coap_address_t addr;
  coap_address_init(&addr);
  stw_status_t st = stw_listen_parse(listen, &addr.addr.sa, &addr.size);
  if (st != STW_OK)
    return st;
  w->dev = dev;
  w->path = path;
  w->accept = accept;
  w->notify = notify;
  w->arg = arg;
  if ((w->ctx = coap_new_context(NULL)) == NULL)
    return STW_ERR_NETWORK;
  coap_set_app_data(w->ctx, w);
  coap_context_set_block_mode(w->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(w->ctx, on_answer);
  coap_dtls_pki_t pki;
  stw__dtls_pki_init(&pki, &dev->op_cert_pem, &dev->op_key_pem, remember_domain_key);
  w->session = coap_new_client_session_pki(w->ctx, NULL, &addr, COAP_PROTO_DTLS, &pki);
  if (w->session == NULL)
    return STW_ERR_NETWORK;
  return send_get(w->session, ".well-known/est/crts", CF_PKCS7_CERTS, false);
}

void stw__domain_watch_close(stw__domain_watch_t *w)
{
  if (w->session != NULL)
    coap_session_release(w->session);
  if (w->ctx != NULL)
    coap_free_context(w->ctx);
  w->session = NULL;
  w->ctx = NULL;
}
