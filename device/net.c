#include "net_internal.h"
#include "cbor_reader.h"

#include <assert.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_TIMEOUT_US (60u * 1000000u)
/* Fresh sessions an operation may open after its DTLS session failed with a
 * request in flight. Every request the flows send is idempotent (reads, or an
 * enrollment the server answers again for the same CSR), so sending it again
 * on a new session (a new socket, so a new source port) is safe. */
#define OP_RECONNECTS_MAX 2

/* An operation plus what net.c needs to open its session again and resend
 * the request in flight; flows see only the op (first member). */
typedef struct {
  stw_op_t op;
  bool psk;                               /* how the session authenticates */
  const stw_buf_t *cert_pem, *key_pem;    /* the device's, outlive the op */
  const char *psk_identity;
  const uint8_t *psk_key;
  size_t psk_key_len;
  bool in_flight;                         /* a request waits for its answer */
  coap_pdu_code_t method;
  const char *path;                       /* static strings of the flows */
  int content_format, accept;
  const uint8_t *body;                    /* the device's pending CSR: outlives the op */
  size_t body_len;
  stw_op_response_fn on_response;
  unsigned reconnects;
  bool reconnect_due;
} op_state_t;

static op_state_t *state_of(stw_op_t *op)
{
  return (op_state_t *)op;
}

/* The session failed: try a fresh one (from stw_net_run, outside libcoap's
 * callbacks) if a request is in flight and tries are left. */
static bool reconnect_later(stw_op_t *op)
{
  op_state_t *s = state_of(op);
  if (!s->in_flight || s->reconnects >= OP_RECONNECTS_MAX)
    return false;
  s->reconnect_due = true;
  return true;
}

/* "?a=1&b=2" → Uri-Query "a=1", "b=2" (empty parts skipped). */
static void add_query_options(coap_pdu_t *pdu, const char *query)
{
  if (query == NULL)
    return;
  const char *part = query + 1;
  while (*part) {
    const char *amp = strchr(part, '&');
    size_t n = amp ? (size_t)(amp - part) : strlen(part);
    if (n > 0)
      coap_add_option(pdu, COAP_OPTION_URI_QUERY, n, (const uint8_t *)part);
    part += n + (amp ? 1 : 0);
  }
}

void stw__pdu_add_path(coap_pdu_t *pdu, const char *path)
{
  /* Uri-Path, one option per segment, up to a '?'; then Uri-Query per '&'. */
  const char *query = strchr(path, '?');
  const char *path_end = query ? query : path + strlen(path);
  for (const char *seg = path; seg < path_end;) {
    const char *slash = memchr(seg, '/', (size_t)(path_end - seg));
    size_t n = slash ? (size_t)(slash - seg) : (size_t)(path_end - seg);
    if (n > 0)
      coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)seg);
    seg += n + (slash ? 1 : 0);
  }
  add_query_options(pdu, query);
}

/* Location-Path options of an answer joined with '/' (a registration's place). */
static void remember_location(stw_op_t *op, const coap_pdu_t *received)
{
  op->location[0] = '\0';
  size_t used = 0;
  coap_opt_iterator_t it;
  coap_opt_filter_t filter;
  coap_option_filter_clear(&filter);
  coap_option_filter_set(&filter, COAP_OPTION_LOCATION_PATH);
  coap_option_iterator_init(received, &it, &filter);
  coap_opt_t *opt;
  while ((opt = coap_option_next(&it)) != NULL) {
    size_t n = coap_opt_length(opt);
    if (used + n + 2 > sizeof(op->location)) {
      op->location[0] = '\0';  /* too long to be ours: no location rather than a cut one */
      return;
    }
    if (used > 0)
      op->location[used++] = '/';
    memcpy(op->location + used, coap_opt_value(opt), n);
    used += n;
    op->location[used] = '\0';
  }
}

static coap_response_t on_coap_response(coap_session_t *session, const coap_pdu_t *sent,
                                        const coap_pdu_t *received, const coap_mid_t mid)
{
  (void)sent;
  (void)mid;
  stw_op_t *op = coap_session_get_app_data(session);
  if (op == NULL || op->finished || op->on_response == NULL)
    return COAP_RESPONSE_OK;
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  if (!coap_get_data_large(received, &len, &data, &offset, &total)) {
    data = NULL;
    len = 0;
  }
  remember_location(op, received);
  stw_op_response_fn fn = op->on_response;
  op->on_response = NULL;
  state_of(op)->in_flight = false;
  fn(op, (unsigned)coap_pdu_get_code(received), data, len);
  return COAP_RESPONSE_OK;
}

static void on_coap_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                         const coap_mid_t mid)
{
  (void)sent;
  (void)mid;
  stw_op_t *op = coap_session_get_app_data(session);
  if (op == NULL || op->finished || state_of(op)->reconnect_due)
    return;
  if (reason == COAP_NACK_TLS_FAILED && reconnect_later(op))
    return;
  const char *why = reason == COAP_NACK_TLS_FAILED ? "DTLS handshake failed"
                  : reason == COAP_NACK_TOO_MANY_RETRIES ? "no answer from the server"
                  : "request not delivered";
  stw__op_finish(op, reason == COAP_NACK_TOO_MANY_RETRIES ? STW_ERR_TIMEOUT : STW_ERR_NETWORK, 0, why);
}

static int on_coap_event(coap_session_t *session, const coap_event_t event)
{
  stw_op_t *op = coap_session_get_app_data(session);
  if (op == NULL || op->finished || state_of(op)->reconnect_due)
    return 0;
  if ((event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED) && !reconnect_later(op))
    stw__op_finish(op, STW_ERR_NETWORK, 0, "DTLS session failed or closed by the server");
  return 0;
}

/* The server's key as DTLS proved it: a raw public key, or a certificate's. */
static int remember_server_key(const char *cn, const uint8_t *der, size_t len, coap_session_t *session,
                               unsigned depth, int validated, void *arg)
{
  (void)validated;
  (void)arg;
  stw_op_t *op = coap_session_get_app_data(session);
  if (op == NULL || depth != 0)
    return 1;
  if (strcmp(cn, COAP_DTLS_RPK_CERT_CN) == 0) {
    if (len > sizeof(op->server_spki))
      return 0;
    memcpy(op->server_spki, der, len);
    op->server_spki_len = len;
  } else {
    stw_cert_info_t info;
    if (stw_cert_parse(der, len, &info) != STW_OK)
      return 0;
    memcpy(op->server_spki, info.spki, info.spki_len);
    op->server_spki_len = info.spki_len;
  }
  /* A peer named in advance (a token's rs_cnf): nothing is sent to any
   * other key, not even the first request. */
  if (op->expected_spki_len > 0 &&
      (op->expected_spki_len != op->server_spki_len ||
       memcmp(op->expected_spki, op->server_spki, op->server_spki_len) != 0))
    return 0;
  return 1;
}

static coap_context_t *new_context(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  if (ctx == NULL)
    return NULL;
  coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(ctx, on_coap_response);
  coap_register_nack_handler(ctx, on_coap_nack);
  coap_register_event_handler(ctx, on_coap_event);
  return ctx;
}

/* libcoap logs to stderr; a device library stays quiet unless asked
 * (STW_COAP_LOG=0..7, syslog levels). */
static void set_coap_log_level(void)
{
  const char *level = getenv("STW_COAP_LOG");
  long v = level ? strtol(level, NULL, 10) : 0;
  coap_set_log_level((coap_log_t)(v >= 0 && v <= 7 ? v : 0));
}

stw_status_t stw_net_new(stw_net_t **out)
{
  coap_startup();
  set_coap_log_level();
  stw_net_t *net = calloc(1, sizeof(*net));
  if (net == NULL)
    return STW_ERR_NOMEM;
  net->pki_ctx = new_context();
  net->psk_ctx = new_context();
  if (net->pki_ctx == NULL || net->psk_ctx == NULL) {
    stw_net_free(net);
    *out = NULL;
    return STW_ERR_NETWORK;
  }
  *out = net;
  return STW_OK;
}

static void op_free(stw_op_t *op)
{
  stw__op_disconnect(op);
  if (op->flow_free)
    op->flow_free(op->flow);
  free(op);
}

void stw_net_free(stw_net_t *net)
{
  if (net == NULL)
    return;
  while (net->ops) {
    stw_op_t *op = net->ops;
    net->ops = op->next;
    op_free(op);
  }
  if (net->pki_ctx)
    coap_free_context(net->pki_ctx);
  if (net->psk_ctx)
    coap_free_context(net->psk_ctx);
  free(net);
}

stw_status_t stw__coaps_resolve(const char *uri, coap_address_t *addr, char *host_out, size_t host_len)
{
  coap_uri_t parsed;
  if (coap_split_uri((const uint8_t *)uri, strlen(uri), &parsed) < 0 || parsed.scheme != COAP_URI_SCHEME_COAPS)
    return STW_ERR_INVALID;
  if (parsed.host.length == 0 || parsed.host.length >= host_len)
    return STW_ERR_INVALID;
  memcpy(host_out, parsed.host.s, parsed.host.length);
  host_out[parsed.host.length] = '\0';
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM };
  struct addrinfo *res = NULL;
  if (getaddrinfo(host_out, NULL, &hints, &res) != 0 || res == NULL)
    return STW_ERR_NETWORK;
  coap_address_init(addr);
  addr->size = res->ai_addrlen;
  memcpy(&addr->addr, res->ai_addr, res->ai_addrlen);
  uint16_t port = parsed.port ? parsed.port : COAPS_DEFAULT_PORT;
  if (res->ai_family == AF_INET)
    addr->addr.sin.sin_port = htons(port);
  else
    addr->addr.sin6.sin6_port = htons(port);
  freeaddrinfo(res);
  return STW_OK;
}

stw_status_t stw__op_new(stw_net_t *net, stw_dev_t *dev, const char *uri, stw_done_cb done, void *arg,
                         stw_op_t **out)
{
  op_state_t *state = calloc(1, sizeof(*state));
  if (state == NULL)
    return STW_ERR_NOMEM;
  stw_op_t *op = &state->op;
  stw_status_t st = stw__coaps_resolve(uri, &op->server, op->server_host, sizeof(op->server_host));
  if (st != STW_OK) {
    free(op);
    return st;
  }
  op->net = net;
  op->dev = dev;
  op->done = done;
  op->done_arg = arg;
  op->started_us = stw_monotonic_us();
  op->deadline_us = op->started_us + OP_TIMEOUT_US;
  op->next = net->ops;
  net->ops = op;
  net->running++;
  *out = op;
  return STW_OK;
}

void stw__dtls_pki_init(coap_dtls_pki_t *pki, const stw_buf_t *cert_pem, const stw_buf_t *key_pem,
                        coap_dtls_cn_callback_t remember_key)
{
  memset(pki, 0, sizeof(*pki));
  pki->version = COAP_DTLS_PKI_SETUP_VERSION;
  pki->verify_peer_cert = 0;
  pki->validate_cn_call_back = remember_key;
  pki->pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
  pki->pki_key.key.pem_buf.public_cert = cert_pem->data;
  pki->pki_key.key.pem_buf.public_cert_len = cert_pem->len;
  pki->pki_key.key.pem_buf.private_key = key_pem->data;
  pki->pki_key.key.pem_buf.private_key_len = key_pem->len;
}

stw_status_t stw__op_connect_cert(stw_op_t *op, const stw_buf_t *cert_pem, const stw_buf_t *key_pem)
{
  stw__op_disconnect(op);
  coap_dtls_pki_t pki;
  /* No libcoap chain check: the flow checks the server against the voucher's pin. */
  stw__dtls_pki_init(&pki, cert_pem, key_pem, remember_server_key);
  op->server_spki_len = 0;
  op_state_t *s = state_of(op);
  s->psk = false;
  s->cert_pem = cert_pem;
  s->key_pem = key_pem;
  op->session = coap_new_client_session_pki(op->net->pki_ctx, NULL, &op->server, COAP_PROTO_DTLS, &pki);
  if (op->session == NULL)
    return STW_ERR_NETWORK;
  coap_session_set_app_data(op->session, op);
  return STW_OK;
}

stw_status_t stw__op_connect_psk(stw_op_t *op, const char *identity, const uint8_t *key, size_t key_len)
{
  stw__op_disconnect(op);
  coap_dtls_cpsk_t cpsk;
  memset(&cpsk, 0, sizeof(cpsk));
  cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
  cpsk.psk_info.identity.s = (const uint8_t *)identity;
  cpsk.psk_info.identity.length = strlen(identity);
  cpsk.psk_info.key.s = key;
  cpsk.psk_info.key.length = key_len;
  op_state_t *s = state_of(op);
  s->psk = true;
  s->psk_identity = identity;
  s->psk_key = key;
  s->psk_key_len = key_len;
  op->session = coap_new_client_session_psk2(op->net->psk_ctx, NULL, &op->server, COAP_PROTO_DTLS, &cpsk);
  if (op->session == NULL)
    return STW_ERR_NETWORK;
  coap_session_set_app_data(op->session, op);
  return STW_OK;
}

void stw__op_disconnect(stw_op_t *op)
{
  state_of(op)->in_flight = false;
  if (op->session == NULL)
    return;
  coap_session_set_app_data(op->session, NULL);
  coap_session_release(op->session);
  op->session = NULL;
}

stw_status_t stw__op_request(stw_op_t *op, coap_pdu_code_t method, const char *path,
                             int content_format, int accept, const uint8_t *body, size_t len,
                             stw_op_response_fn on_response)
{
  if (op->session == NULL)
    return STW_ERR_INVALID;
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(op->session),
                                  coap_session_max_pdu_size(op->session));
  if (pdu == NULL)
    return STW_ERR_NOMEM;
  uint8_t token[8];
  size_t token_len = 0;
  coap_session_new_token(op->session, &token_len, token);
  coap_add_token(pdu, token_len, token);
  stw__pdu_add_path(pdu, path);
  uint8_t buf[4];
  if (content_format >= 0)
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof(buf), (unsigned)content_format), buf);
  if (accept >= 0)
    coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(buf, sizeof(buf), (unsigned)accept), buf);
  if (body != NULL && len > 0 && !coap_add_data_large_request(op->session, pdu, len, body, NULL, NULL)) {
    coap_delete_pdu(pdu);
    return STW_ERR_NOMEM;
  }
  op->on_response = on_response;
  if (coap_send(op->session, pdu) == COAP_INVALID_MID) {
    op->on_response = NULL;
    return STW_ERR_NETWORK;
  }
  op_state_t *s = state_of(op);
  s->in_flight = true;
  s->method = method;
  s->path = path;
  s->content_format = content_format;
  s->accept = accept;
  s->body = body;
  s->body_len = len;
  s->on_response = on_response;
  return STW_OK;
}

void stw__op_finish(stw_op_t *op, stw_status_t status, unsigned coap_code, const char *reason)
{
  if (op->finished)
    return;
  op->finished = true;
  op->status = status;
  op->report.coap_code = coap_code;
  if (reason != NULL)
    snprintf(op->report.reason, sizeof(op->report.reason), "%s", reason);
  op->report.latency_us = stw_monotonic_us() - op->started_us;
  op->on_response = NULL;
}

stw_status_t stw__status_of_code(unsigned code)
{
  switch (code) {
  case COAP_RESPONSE_CODE(400): return STW_ERR_MALFORMED;
  case COAP_RESPONSE_CODE(401): return STW_ERR_UNAUTHENTICATED;
  case COAP_RESPONSE_CODE(403): return STW_ERR_FORBIDDEN;
  case COAP_RESPONSE_CODE(404): return STW_ERR_NOT_FOUND;
  case COAP_RESPONSE_CODE(413): return STW_ERR_TOO_LARGE;
  case COAP_RESPONSE_CODE(415): return STW_ERR_UNSUPPORTED;
  case COAP_RESPONSE_CODE(429):
  case COAP_RESPONSE_CODE(503): return STW_ERR_BUSY;
  default: return code >= COAP_RESPONSE_CODE(500) ? STW_ERR_STORE : STW_ERR_NETWORK;
  }
}

/* Open the same kind of session again and resend the request in flight. */
static void reconnect(stw_op_t *op)
{
  op_state_t *s = state_of(op);
  s->reconnect_due = false;
  s->reconnects++;
  op_state_t again = *s;  /* the connect below resets the request state */
  stw_status_t st = again.psk ? stw__op_connect_psk(op, again.psk_identity, again.psk_key, again.psk_key_len)
                              : stw__op_connect_cert(op, again.cert_pem, again.key_pem);
  if (st == STW_OK)
    st = stw__op_request(op, again.method, again.path, again.content_format, again.accept, again.body,
                         again.body_len, again.on_response);
  if (st != STW_OK)
    stw__op_finish(op, STW_ERR_NETWORK, 0, "DTLS session failed and could not be opened again");
}

void stw__coap_io_run(coap_context_t *const *ctxs, size_t n, unsigned timeout_ms)
{
  /* Wait on every context's epoll descriptor at once, bounded by the
   * nearest libcoap timer (retransmissions), then let each do its I/O. */
  struct pollfd fds[STW__IO_CONTEXTS_MAX];
  assert(n <= STW__IO_CONTEXTS_MAX);
  coap_tick_t now;
  coap_ticks(&now);
  unsigned wait_ms = timeout_ms;
  for (size_t i = 0; i < n; i++) {
    fds[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
    if (ctxs[i] == NULL)
      continue;
    unsigned w = coap_io_prepare_epoll(ctxs[i], now);
    if (w > 0 && w < wait_ms)
      wait_ms = w;
    fds[i].fd = coap_context_get_coap_fd(ctxs[i]);
  }
  poll(fds, (nfds_t)n, (int)wait_ms);
  for (size_t i = 0; i < n; i++)
    if (ctxs[i] != NULL)
      coap_io_process(ctxs[i], COAP_IO_NO_WAIT);
}

unsigned stw_net_run(stw_net_t *net, unsigned timeout_ms)
{
  if (net->running > 0) {
    coap_context_t *ctxs[] = { net->pki_ctx, net->psk_ctx };
    stw__coap_io_run(ctxs, 2, timeout_ms);
  }
  uint64_t now = stw_monotonic_us();
  stw_op_t **link = &net->ops;
  while (*link) {
    stw_op_t *op = *link;
    if (!op->finished && state_of(op)->reconnect_due)
      reconnect(op);
    if (!op->finished && now > op->deadline_us)
      stw__op_finish(op, STW_ERR_TIMEOUT, 0, "gave up waiting for the server");
    if (!op->finished) {
      link = &op->next;
      continue;
    }
    *link = op->next;
    net->running--;
    stw__op_disconnect(op);
    if (op->done)
      op->done(op->dev, op->status, &op->report, op->done_arg);
    op_free(op);
  }
  return net->running;
}

bool stw__cbor_error_text(const uint8_t *body, size_t len, char *out, size_t cap)
{
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, body, len);
  size_t pairs = 0, used = 0;
  if (stw_cbor_read_map(&r, &pairs) != STW_OK)
    return false;
  out[0] = '\0';
  for (size_t i = 0; i < pairs; i++) {
    stw_cbor_type_t type;
    const char *text;
    size_t text_len;
    if (stw_cbor_skip(&r) != STW_OK || stw_cbor_peek_type(&r, &type) != STW_OK)
      return false;
    if (type != STW_CBOR_TSTR) {
      if (stw_cbor_skip(&r) != STW_OK)
        return false;
      continue;
    }
    if (stw_cbor_read_tstr(&r, &text, &text_len) != STW_OK)
      return false;
    int w = snprintf(out + used, cap - used, "%s%.*s", used ? "; " : "", (int)text_len, text);
    if (w < 0 || (size_t)w >= cap - used)
      break;
    used += (size_t)w;
  }
  /* Network text goes into a report: printable ASCII only, as the raw
   * diagnostic below. */
  for (char *c = out; *c != '\0'; c++)
    if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
      *c = '?';
  return used > 0;
}

void stw__op_refused(stw_op_t *op, unsigned code, const uint8_t *body, size_t len, const char *what)
{
  char diag[128];
  size_t n = len < sizeof(diag) - 1 ? len : sizeof(diag) - 1;
  if (len > 0 && stw__cbor_error_text(body, len, diag, sizeof(diag))) {
    n = strlen(diag);
  } else {
    for (size_t i = 0; i < n; i++)
      diag[i] = (body[i] >= 0x20 && body[i] < 0x7f) ? (char)body[i] : '?';
    diag[n] = '\0';
  }
  char reason[192];
  snprintf(reason, sizeof(reason), "%s%srefused (%u.%02u)%s%s", what ? what : "", what ? " " : "", code >> 5,
           code & 0x1f, n ? ": " : "", diag);
  stw__op_finish(op, stw__status_of_code(code), code, reason);
}

typedef struct {
  const uint8_t *spki;
  size_t spki_len;
  uint8_t *out;
  size_t *out_len;
  bool found;
} key_search_t;

static stw_status_t match_key(const uint8_t *der, size_t len, void *arg)
{
  key_search_t *k = arg;
  stw_cert_info_t info;
  if (k->found || len > STW_CERT_MAX || stw_cert_parse(der, len, &info) != STW_OK)
    return STW_OK;
  if (info.spki_len == k->spki_len && memcmp(info.spki, k->spki, k->spki_len) == 0) {
    memcpy(k->out, der, len);
    *k->out_len = len;
    k->found = true;
  }
  return STW_OK;
}

stw_status_t stw__p7_find_key(const uint8_t *p7, size_t len, const uint8_t *spki, size_t spki_len, uint8_t *out,
                              size_t *out_len)
{
  key_search_t k = { .spki = spki, .spki_len = spki_len, .out = out, .out_len = out_len };
  *out_len = 0;
  if (spki_len == 0)
    return STW_ERR_NOT_FOUND;
  stw_status_t st = stw_pkcs7_certs_decode(p7, len, match_key, &k);
  if (st != STW_OK)
    return STW_ERR_MALFORMED;
  return k.found ? STW_OK : STW_ERR_NOT_FOUND;
}

stw_status_t stw__domain_certified(const stw_dev_t *dev, const uint8_t *p7, size_t len, const uint8_t *spki,
                                   size_t spki_len)
{
  uint8_t *cert = malloc(STW_CERT_MAX);
  size_t cert_len = 0;
  if (cert == NULL)
    return STW_ERR_NOMEM;
  bool certified = stw__p7_find_key(p7, len, spki, spki_len, cert, &cert_len) == STW_OK &&
                   stw_cert_verify_issued_by(cert, cert_len, dev->domain_ca_der.data, dev->domain_ca_der.len,
                                             stw_now()) == STW_OK;
  free(cert);
  return certified ? STW_OK : STW_ERR_UNTRUSTED;
}
