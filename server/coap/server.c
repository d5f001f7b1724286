#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <poll.h>

#include "netaddr.h"
#include "util.h"

/* Kernel receive buffer for the DTLS socket: a burst of handshakes from
 * thousands of devices must queue, not drop (a dropped flight costs the device
 * a 1 s DTLS retransmission). */
#define RCVBUF_BYTES (8 * 1024 * 1024)
/* Datagrams handled per loop turn before the committer gets a look in. */
#define DRAIN_MAX 64

/* What we remember of a session's handshake. On a list in the server:
 * libcoap does not report deleting the sessions it frees with the context. */
typedef struct session_peer {
  struct session_peer *next, *prev;
  stw_peer_kind_t kind;
  uint8_t der[STW_CERT_MAX];
  size_t der_len;
  stw_peer_memo_t memo;
} session_peer_t;

struct stw_deferred {
  struct stw_deferred *next, *prev;
  coap_async_t *async;
  bool ready;
  unsigned code;
  int content_format;
  stw_coap_body_t *body;
  char diag[192];
  char location[64];
};

#define ROUTES_MAX 16
#define ROUTE_REST_MAX 256

typedef struct {
  char prefix[32];
  coap_request_t method;
  stw_route_handler_t handler;
  void *arg;
} route_t;

#define REFUSALS_REMEMBERED 16
#define REFUSAL_QUIET_S 60

struct stw_coap_server {
  coap_context_t *ctx;
  int dtls_fd;                      /* the DTLS endpoint's socket, -1 if not found */
  stw_coap_config_t cfg;
  uint16_t port;
  stw_buf_t key_pem;                /* the daemon's key, for libcoap's RPK setup */
  uint8_t psk_key[64];              /* answer of the last PSK look-up; libcoap copies it */
  coap_bin_const_t psk_answer;
  stw_deferred_t deferred;          /* sentinel of the list of pending answers */
  session_peer_t peers;             /* sentinel of the list of session records */
  route_t routes[ROUTES_MAX];
  size_t n_routes;
  coap_resource_t *unknown;         /* libcoap's catch-all, dispatching to routes */
  /* Revoked certificates refused lately: each is audited once a quiet period,
   * so a device retrying in a loop cannot grow the log without bound. */
  struct {
    char serial_hex[2 * STW_SERIAL_MAX + 1];
    int64_t at;
  } refused[REFUSALS_REMEMBERED];
  size_t next_refused;
};

static stw_coap_server_t *server_of(coap_session_t *session)
{
  return coap_get_app_data(coap_session_get_context(session));
}

/* ---- who is on the other end ------------------------------------------- */

/* A certificate whose serial this domain revoked (a decommissioned device's
 * LDevID). The store is asked, not the CRL file: it is the source of truth,
 * and a decommission by `steward admin` in another process counts at the
 * next handshake. Serials are random 16 bytes, so a foreign certificate (an
 * IDevID) does not meet a revoked serial by chance. */
typedef enum { CERT_LIVE, CERT_REVOKED, CERT_UNKNOWN } cert_standing_t;

static cert_standing_t certificate_standing(stw_coap_server_t *s, const uint8_t *der, size_t len,
                                            stw_cert_info_t *info)
{
  bool revoked = false;
  if (stw_cert_parse(der, len, info) != STW_OK)
    return CERT_LIVE;     /* not ours to judge here: the parts refuse what does not parse */
  if (stw_store_serial_is_revoked(s->cfg.store, info->serial_hex, &revoked) != STW_OK)
    return CERT_UNKNOWN;  /* cannot tell: the caller fails closed */
  return revoked ? CERT_REVOKED : CERT_LIVE;
}

typedef struct {
  char subject[STW_TEXT_MAX];
  const char *outcome;           /* static */
  char detail[STW_REASON_MAX];
} refusal_t;

static stw_status_t audit_refusal(stw_store_t *st, void *arg)
{
  const refusal_t *r = arg;
  return stw_store_audit_event(st, "daemon", "refuse.handshake", r->subject, r->outcome, r->detail);
}

static void refusal_audited(void *arg, stw_status_t status)
{
  (void)status;
  free(arg);
}

/* The refused handshake goes to the audit log through the writer thread
 * (this thread only reads the store), once a quiet period per certificate. */
static void note_refusal(stw_coap_server_t *s, const stw_cert_info_t *info, cert_standing_t standing)
{
  if (s->cfg.committer == NULL)
    return;
  int64_t now = stw_now();
  for (size_t i = 0; i < REFUSALS_REMEMBERED; i++)
    if (strcmp(s->refused[i].serial_hex, info->serial_hex) == 0 && now - s->refused[i].at < REFUSAL_QUIET_S)
      return;
  size_t slot = s->next_refused++ % REFUSALS_REMEMBERED;
  snprintf(s->refused[slot].serial_hex, sizeof(s->refused[slot].serial_hex), "%s", info->serial_hex);
  s->refused[slot].at = now;
  refusal_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return;
  /* An LDevID names its device in serialNumber; anything else by its serial. */
  if (strlen(info->serial_number) == 32)
    snprintf(r->subject, sizeof(r->subject), "%s", info->serial_number);
  else
    snprintf(r->subject, sizeof(r->subject), "serial:%.40s", info->serial_hex);
  if (standing == CERT_REVOKED) {
    r->outcome = "revoked-certificate";
    snprintf(r->detail, sizeof(r->detail), "DTLS handshake with revoked certificate serial %s", info->serial_hex);
  } else {
    r->outcome = "revocation-unknown";
    snprintf(r->detail, sizeof(r->detail), "DTLS handshake refused: the store could not say whether serial %s is revoked",
             info->serial_hex);
  }
  if (stw_committer_submit(s->cfg.committer, audit_refusal, refusal_audited, r) != STW_OK)
    free(r);
}

/* Called by libcoap when the peer's certificate or raw key has passed the DTLS
 * proof of possession. We accept every well-formed credential here and decide
 * at the application layer, so that a refusal is a CoAP answer with a reason
 * and an audit record rather than an anonymous handshake alert. The one
 * exception is a revoked certificate: revocation means no channel at all. */
static int remember_peer(const char *cn, const uint8_t *der, size_t len, coap_session_t *session,
                         unsigned depth, int validated, void *arg)
{
  (void)validated;
  (void)arg;
  if (depth != 0)
    return 1;
  if (len == 0 || len > STW_CERT_MAX)
    return 0;
  bool is_cert = strcmp(cn, COAP_DTLS_RPK_CERT_CN) != 0;
  stw_cert_info_t info;
  cert_standing_t standing = is_cert ? certificate_standing(server_of(session), der, len, &info) : CERT_LIVE;
  if (standing != CERT_LIVE) {
    note_refusal(server_of(session), &info, standing);
    return 0;
  }
  session_peer_t *p = coap_session_get_app_data(session);
  if (p == NULL) {
    stw_coap_server_t *s = server_of(session);
    p = calloc(1, sizeof(*p));
    if (p == NULL)
      return 0;
    p->next = s->peers.next;
    p->prev = &s->peers;
    s->peers.next->prev = p;
    s->peers.next = p;
    coap_session_set_app_data(session, p);
  }
  p->kind = is_cert ? STW_PEER_CERT : STW_PEER_RPK;
  memcpy(p->der, der, len);
  p->der_len = len;
  memset(&p->memo, 0, sizeof(p->memo));  /* a new credential: conclude again */
  return 1;
}

/* PSK look-up by identity. Unknown identities fail the handshake (there is
 * nobody to answer); known but retired ones get through so the enrollment
 * logic can answer 4.01 with the reason and audit it. */
static const coap_bin_const_t *find_psk(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
  (void)session;
  stw_coap_server_t *s = arg;
  char id[STW_TEXT_MAX];
  if (identity->length == 0 || identity->length >= sizeof(id))
    return NULL;
  memcpy(id, identity->s, identity->length);
  id[identity->length] = '\0';
  stw_psk_t psk;
  if (stw_store_psk_get(s->cfg.store, id, &psk) != STW_OK)
    return NULL;
  stw_wipe(s->psk_key, sizeof(s->psk_key));
  memcpy(s->psk_key, psk.key, psk.key_len);
  s->psk_answer.s = s->psk_key;
  s->psk_answer.length = psk.key_len;
  stw_wipe(&psk, sizeof(psk));
  return &s->psk_answer;
}

void stw_coap_peer(coap_session_t *session, stw_peer_t *out)
{
  memset(out, 0, sizeof(*out));
  const coap_bin_const_t *psk_id = coap_session_get_psk_identity(session);
  if (coap_session_get_proto(session) == COAP_PROTO_DTLS && psk_id != NULL && psk_id->length > 0) {
    static _Thread_local char id[STW_TEXT_MAX];
    size_t n = psk_id->length < sizeof(id) - 1 ? psk_id->length : sizeof(id) - 1;
    memcpy(id, psk_id->s, n);
    id[n] = '\0';
    out->kind = STW_PEER_PSK;
    out->psk_identity = id;
    return;
  }
  session_peer_t *p = coap_session_get_app_data(session);
  if (p == NULL || coap_session_get_proto(session) != COAP_PROTO_DTLS)
    return;
  out->kind = p->kind;
  out->der = p->der;
  out->der_len = p->der_len;
  out->memo = p->kind == STW_PEER_CERT ? &p->memo : NULL;
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
  if (event == COAP_EVENT_SERVER_SESSION_DEL) {
    session_peer_t *p = coap_session_get_app_data(session);
    if (p != NULL) {
      p->prev->next = p->next;
      p->next->prev = p->prev;
      free(p);
    }
    coap_session_set_app_data(session, NULL);
  }
  return 0;
}

/* ---- answers -------------------------------------------------------------- */

int stw_coap_option_uint(const coap_pdu_t *pdu, uint16_t option, int dflt)
{
  coap_opt_iterator_t it;
  coap_opt_t *opt = coap_check_option(pdu, option, &it);
  if (opt == NULL)
    return dflt;
  return (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
}

void stw_coap_error(coap_pdu_t *response, unsigned code, const char *diag)
{
  coap_pdu_set_code(response, (coap_pdu_code_t)code);
  if (diag != NULL && *diag != '\0')
    coap_add_data(response, strlen(diag), (const uint8_t *)diag);
}

stw_deferred_t *stw_defer(coap_session_t *session, const coap_pdu_t *request)
{
  stw_coap_server_t *s = server_of(session);
  stw_deferred_t *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return NULL;
  d->async = coap_register_async(session, request, 0);
  if (d->async == NULL) {
    free(d);
    return NULL;
  }
  coap_async_set_app_data(d->async, d);
  d->next = s->deferred.next;
  d->prev = &s->deferred;
  s->deferred.next->prev = d;
  s->deferred.next = d;
  return d;
}

void stw_deferred_answer(stw_deferred_t *d, unsigned code, int content_format,
                         const uint8_t *body, size_t len, const char *diag)
{
  d->code = code;
  d->content_format = content_format;
  if (body != NULL && len > 0 && (d->body = stw_coap_body_new(body, len)) == NULL)
    d->code = COAP_RESPONSE_CODE(500);
  snprintf(d->diag, sizeof(d->diag), "%s", diag ? diag : "");
  d->ready = true;
  coap_async_trigger(d->async);
}

void stw_deferred_set_location(stw_deferred_t *d, const char *path)
{
  snprintf(d->location, sizeof(d->location), "%s", path);
}

static void unlink_deferred(stw_deferred_t *d)
{
  d->prev->next = d->next;
  d->next->prev = d->prev;
}

/* Answers may carry secrets (an operational PSK, an OSCORE master secret):
 * the copy libcoap holds until the last block went out is wiped on release. */
struct stw_coap_body {
  size_t len;
  uint8_t data[];
};

stw_coap_body_t *stw_coap_body_new(const uint8_t *data, size_t len)
{
  stw_coap_body_t *b = malloc(sizeof(*b) + (len > 0 ? len : 1));
  if (b == NULL)
    return NULL;
  b->len = len;
  if (len > 0)
    memcpy(b->data, data, len);
  return b;
}

void stw_coap_body_free(stw_coap_body_t *b)
{
  if (b == NULL)
    return;
  stw_wipe(b->data, b->len);
  free(b);
}

static void release_body(coap_session_t *session, void *body)
{
  (void)session;
  stw_coap_body_free(body);
}

void stw_coap_add_body(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                       coap_pdu_t *response, int content_format, stw_coap_body_t *body)
{
  /* libcoap owns the body from here (released even when adding fails) and
   * splits it into blocks if needed. */
  coap_add_data_large_response(resource, session, request, response, NULL, (uint16_t)content_format, -1, 0,
                               body->len, body->data, release_body, body);
}

bool stw_deferred_resume(coap_resource_t *resource, coap_session_t *session,
                         const coap_pdu_t *request, coap_pdu_t *response)
{
  coap_bin_const_t token = coap_pdu_get_token(request);
  coap_async_t *async = coap_find_async(session, token);
  if (async == NULL)
    return false;
  stw_deferred_t *d = coap_async_get_app_data(async);
  if (d == NULL || !d->ready)
    return false;
  coap_async_set_app_data(async, NULL);
  unlink_deferred(d);
  coap_pdu_set_code(response, (coap_pdu_code_t)d->code);
  for (const char *seg = d->location; *seg;) {
    const char *slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    if (n > 0)
      coap_add_option(response, COAP_OPTION_LOCATION_PATH, n, (const uint8_t *)seg);
    seg += n;
    if (*seg == '/')
      seg++;
  }
  if (d->body != NULL) {
    stw_coap_add_body(resource, session, request, response, d->content_format, d->body);
  } else if (d->diag[0] != '\0') {
    coap_add_data(response, strlen(d->diag), (const uint8_t *)d->diag);
  }
  free(d);
  return true;
}

/* ---- routing ---------------------------------------------------------------- */

static void dispatch(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                     const coap_string_t *query, coap_pdu_t *response)
{
  stw_coap_server_t *s = server_of(session);
  coap_string_t *path = coap_get_uri_path(request);
  bool prefix_known = false;
  if (path != NULL && path->length < ROUTE_REST_MAX + 32) {
    coap_pdu_code_t code = coap_pdu_get_code(request);
    for (size_t i = 0; i < s->n_routes; i++) {
      const route_t *r = &s->routes[i];
      size_t n = strlen(r->prefix);
      if (path->length <= n || memcmp(path->s, r->prefix, n) != 0)
        continue;
      prefix_known = true;
      if ((coap_pdu_code_t)r->method != code)
        continue;
      char rest[ROUTE_REST_MAX + 32];
      memcpy(rest, path->s + n, path->length - n);
      rest[path->length - n] = '\0';
      if (memchr(rest, '\0', path->length - n) != NULL)
        break;
      r->handler(resource, session, request, query, response, rest, r->arg);
      coap_delete_string(path);
      return;
    }
  }
  coap_delete_string(path);
  stw_coap_error(response, prefix_known ? COAP_RESPONSE_CODE(405) : COAP_RESPONSE_CODE(404), NULL);
}

stw_status_t stw_coap_route(stw_coap_server_t *s, const char *prefix, coap_request_t method,
                            stw_route_handler_t handler, void *arg)
{
  if (s->n_routes >= ROUTES_MAX || strlen(prefix) >= sizeof(s->routes[0].prefix))
    return STW_ERR_TOO_LARGE;
  if (s->unknown == NULL) {
    s->unknown = coap_resource_unknown_init(dispatch);
    if (s->unknown == NULL)
      return STW_ERR_NOMEM;
    coap_register_request_handler(s->unknown, COAP_REQUEST_GET, dispatch);
    coap_register_request_handler(s->unknown, COAP_REQUEST_POST, dispatch);
    coap_register_request_handler(s->unknown, COAP_REQUEST_DELETE, dispatch);
    coap_add_resource(s->ctx, s->unknown);
  }
  route_t *r = &s->routes[s->n_routes++];
  snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
  r->method = method;
  r->handler = handler;
  r->arg = arg;
  return STW_OK;
}

void stw_coap_peer_uri(coap_session_t *session, char *out, size_t len)
{
  char addr[INET6_ADDRSTRLEN + 16] = "";
  const coap_address_t *a = coap_session_get_addr_remote(session);
  if (a != NULL)
    coap_print_addr(a, (unsigned char *)addr, sizeof(addr));
  snprintf(out, len, "%s://%s", coap_session_get_proto(session) == COAP_PROTO_DTLS ? "coaps" : "coap", addr);
}

/* ---- set-up -------------------------------------------------------------- */

/* libcoap 4.3.1 does not hand out an endpoint's socket; find it among our
 * descriptors as the UDP socket bound to the endpoint's port. */
static int find_udp_socket(uint16_t port)
{
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL)
    return -1;
  int found = -1;
  struct dirent *e;
  while (found < 0 && (e = readdir(dir)) != NULL) {
    char *end = NULL;
    long fd = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd < 0 || fd == dirfd(dir))
      continue;
    int type = 0;
    socklen_t tlen = sizeof(type);
    if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM)
      continue;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    if (getsockname((int)fd, (struct sockaddr *)&ss, &slen) != 0)
      continue;
    uint16_t bound = 0;
    if (ss.ss_family == AF_INET)
      bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
      bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    if (bound == port)
      found = (int)fd;
  }
  closedir(dir);
  return found;
}

/* Best effort: SO_RCVBUFFORCE passes net.core.rmem_max when we may
 * (CAP_NET_ADMIN), else SO_RCVBUF gets what the system allows. */
static void enlarge_receive_buffer(int fd)
{
  int bytes = RCVBUF_BYTES;
  if (fd < 0)
    return;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

static bool readable_now(int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

stw_status_t stw_coap_server_new(const stw_coap_config_t *cfg, stw_coap_server_t **out)
{
  *out = NULL;
  stw_coap_server_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return STW_ERR_NOMEM;
  s->cfg = *cfg;
  s->deferred.next = s->deferred.prev = &s->deferred;
  s->peers.next = s->peers.prev = &s->peers;
  s->dtls_fd = -1;
  stw_buf_init(&s->key_pem, 8192);
  stw_status_t st = STW_ERR_NETWORK;
  coap_address_t addr;

  coap_startup();
  /* The daemon reports errors by default; STW_COAP_LOG=0..7 changes that. */
  const char *level = getenv("STW_COAP_LOG");
  long lv = level ? strtol(level, NULL, 10) : LOG_ERR;
  coap_set_log_level((coap_log_t)(lv >= 0 && lv <= 7 ? lv : LOG_ERR));
  s->ctx = coap_new_context(NULL);
  if (s->ctx == NULL)
    goto out;
  coap_set_app_data(s->ctx, s);
  coap_context_set_block_mode(s->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_context_set_max_handshake_sessions(s->ctx, 1024);
  coap_context_set_max_idle_sessions(s->ctx, 20000);
  coap_context_set_session_timeout(s->ctx, 120);
  coap_register_event_handler(s->ctx, on_event);

  if ((st = stw_key_export_pem(cfg->domain->server_key, &s->key_pem)) != STW_OK)
    goto out;
  /* libcoap wants the PEM NUL-terminated and counted with its NUL. */
  if ((st = stw_buf_append(&s->key_pem, "", 1)) != STW_OK)
    goto out;
  coap_dtls_pki_t pki;
  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.verify_peer_cert = 0;      /* chains are checked by the part that serves the request */
  pki.is_rpk_not_cert = 1;       /* RFC 7250: our key travels bare, and peers may use theirs */
  pki.validate_cn_call_back = remember_peer;
  pki.cn_call_back_arg = s;
  pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
  pki.pki_key.key.pem_buf.public_cert = s->key_pem.data;
  pki.pki_key.key.pem_buf.public_cert_len = s->key_pem.len;
  pki.pki_key.key.pem_buf.private_key = s->key_pem.data;
  pki.pki_key.key.pem_buf.private_key_len = s->key_pem.len;
  st = STW_ERR_CRYPTO;
  if (!coap_context_set_pki(s->ctx, &pki))
    goto out;
  coap_dtls_spsk_t spsk;
  memset(&spsk, 0, sizeof(spsk));
  spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
  spsk.validate_id_call_back = find_psk;
  spsk.id_call_back_arg = s;
  if (!coap_context_set_psk2(s->ctx, &spsk))
    goto out;

  coap_address_init(&addr);
  if ((st = stw_listen_parse(cfg->listen, &addr.addr.sa, &addr.size)) != STW_OK)
    goto out;
  coap_endpoint_t *ep = coap_new_endpoint(s->ctx, &addr, COAP_PROTO_DTLS);
  st = STW_ERR_NETWORK;
  if (ep == NULL)
    goto out;
  s->port = stw_addr_text_port(coap_endpoint_str(ep));
  s->dtls_fd = find_udp_socket(s->port);
  enlarge_receive_buffer(s->dtls_fd);
  if (cfg->plain_listen != NULL) {
    coap_address_init(&addr);
    if ((st = stw_listen_parse(cfg->plain_listen, &addr.addr.sa, &addr.size)) != STW_OK)
      goto out;
    if (coap_new_endpoint(s->ctx, &addr, COAP_PROTO_UDP) == NULL) {
      st = STW_ERR_NETWORK;
      goto out;
    }
  }
  st = STW_OK;
out:
  if (st != STW_OK) {
    stw_coap_server_free(s);
    s = NULL;
  }
  *out = s;
  return st;
}

coap_context_t *stw_coap_server_context(stw_coap_server_t *s)
{
  return s->ctx;
}

uint16_t stw_coap_server_port(const stw_coap_server_t *s)
{
  return s->port;
}

/* libcoap (Debian's build) waits on its own epoll descriptor and ignores any
 * extra descriptors given to coap_io_process_with_fds(), so the loop polls
 * that descriptor and the committer's together, then lets libcoap do its I/O
 * without waiting. */
stw_status_t stw_coap_server_run(stw_coap_server_t *s, volatile sig_atomic_t *stop)
{
  int cfd = s->cfg.committer ? stw_committer_fd(s->cfg.committer) : -1;
  int coap_fd = coap_context_get_coap_fd(s->ctx);
  while (!*stop) {
    coap_tick_t now;
    coap_ticks(&now);
    unsigned wait_ms = coap_io_prepare_epoll(s->ctx, now);
    if (wait_ms == 0 || wait_ms > 1000)
      wait_ms = 1000;
    struct pollfd fds[2] = {
      { .fd = coap_fd, .events = POLLIN },
      { .fd = cfd, .events = POLLIN },
    };
    int rc = poll(fds, cfd >= 0 ? 2 : 1, (int)wait_ms);
    if (rc < 0 && errno != EINTR)
      return STW_ERR_NETWORK;
    /* libcoap reads one datagram per endpoint per call: drain what queued. */
    int turns = 0;
    do {
      if (coap_io_process(s->ctx, COAP_IO_NO_WAIT) < 0)
        return STW_ERR_NETWORK;
    } while (++turns < DRAIN_MAX && readable_now(s->dtls_fd));
    if (cfd >= 0 && stw_committer_dispatch(s->cfg.committer) > 0)
      coap_io_process(s->ctx, COAP_IO_NO_WAIT); /* send the answers just released */
  }
  return STW_OK;
}

void stw_coap_server_free(stw_coap_server_t *s)
{
  if (s == NULL)
    return;
  if (s->ctx != NULL)
    coap_free_context(s->ctx);
  /* Sessions freed with the context sent no SESSION_DEL: free their records. */
  while (s->peers.next != &s->peers) {
    session_peer_t *p = s->peers.next;
    p->prev->next = p->next;
    p->next->prev = p->prev;
    free(p);
  }
  /* Answers that never went out: their asyncs died with the context. */
  while (s->deferred.next != &s->deferred) {
    stw_deferred_t *d = s->deferred.next;
    unlink_deferred(d);
    stw_coap_body_free(d->body);
    free(d);
  }
  stw_buf_free(&s->key_pem, true);
  stw_wipe(s->psk_key, sizeof(s->psk_key));
  free(s);
}
