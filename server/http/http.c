/* HTTPS transport for the operator interface: libmicrohttpd with its
 * GnuTLS back end, one internal thread. Every request is decided and answered
 * on its first call, before any body is read: no route takes a body, so none
 * is ever buffered. */
#include "http/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "netaddr.h"
#include "pki.h"
#include "store/store.h"

#define TOKEN_FILE_MAX 256
#define HOST_MAX 256
/* TLS 1.2 and 1.3 only; the key is P-256, so every suite is ECDHE-ECDSA. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define CONNECTIONS_MAX 64u
#define CONNECTIONS_PER_ADDRESS 16u
#define IDLE_TIMEOUT_S 30u
/* Request line and headers must fit here; longer ones get 414/431 from MHD. */
#define REQUEST_MEMORY (16u * 1024)
#define HSTS "max-age=31536000"

struct stw_http {
  struct MHD_Daemon *mhd;
  stw_store_t *store;            /* used only from the MHD thread once serving */
  const stw_domain_t *domain;
  char coap_contact[STW_URI_MAX];
  bool has_coap_contact;
  char token[TOKEN_FILE_MAX];    /* the admin token, wiped at stop */
  size_t token_len;
  stw_buf_t key_pem;             /* NUL-terminated PEM for MHD; wiped at stop */
  stw_buf_t cert_pem;
  char uri[HOST_MAX + 32];
  FILE *log;
};

/* ---- setup ------------------------------------------------------------------- */

static stw_status_t read_admin_token(stw_http_t *h)
{
  char path[1100];
  uint8_t *raw = NULL;
  size_t len = 0;
  stw_status_t st = stw_path_join(path, sizeof(path), h->domain->dir, "admin.token");
  if (st == STW_OK)
    st = stw_file_read(path, TOKEN_FILE_MAX - 1, &raw, &len);
  if (st != STW_OK)
    return st;
  while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r' || raw[len - 1] == ' '))
    len--;
  if (len == 0) {
    st = STW_ERR_INVALID;  /* an empty token would let an empty Bearer in */
  } else {
    memcpy(h->token, raw, len);
    h->token[len] = '\0';
    h->token_len = len;
  }
  stw_wipe(raw, len);
  free(raw);
  return st;
}

/* The address a client names in its URL, for the certificate's
 * subjectAltName; "" for a wildcard address, which names no one. */
static void named_address(const struct sockaddr *sa, char *out, size_t cap)
{
  out[0] = '\0';
  if (sa->sa_family == AF_INET) {
    const struct in_addr *a = &((const struct sockaddr_in *)sa)->sin_addr;
    if (a->s_addr != htonl(INADDR_ANY))
      inet_ntop(AF_INET, a, out, (socklen_t)cap);
  } else if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!IN6_IS_ADDR_UNSPECIFIED(a))
      inet_ntop(AF_INET6, a, out, (socklen_t)cap);
  }
}

/* The server key, certified by the domain CA for this address: the same key
 * clients pin over DTLS, and a name curl and browsers can check. The
 * certificate lives in memory only and is made again at each start. */
static stw_status_t tls_credentials(stw_http_t *h, const struct sockaddr *sa)
{
  const stw_domain_t *d = h->domain;
  char ip[INET6_ADDRSTRLEN];
  named_address(sa, ip, sizeof(ip));
  stw_cert_template_t t = {
    .common_name = "steward daemon",
    .organization = d->name,
    .san_ip = ip,
    .not_before = stw_now() - 60,
    .not_after = d->server.not_after,
    .server_auth = true,
  };
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  stw_status_t st = stw_cert_issue(d->ca_key, d->ca_der.data, d->ca_der.len, d->server.spki, d->server.spki_len, &t,
                                   &der, NULL);
  if (st == STW_OK)
    st = stw_der_to_pem("CERTIFICATE", der.data, der.len, &h->cert_pem);
  if (st == STW_OK)
    st = stw_buf_append(&h->cert_pem, "", 1);
  stw_buf_free(&der, false);
  if (st == STW_OK)
    st = stw_key_export_pem(d->server_key, &h->key_pem);
  if (st == STW_OK)
    st = stw_buf_append(&h->key_pem, "", 1);
  return st;
}

/* ---- requests ------------------------------------------------------------------- */

typedef struct {
  stw_http_param_t params[STW_HTTP_PARAMS_MAX];
  size_t n;                      /* counts past the array: more than the max is refused */
} query_t;

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                     const char *value, size_t value_size)
{
  (void)kind;
  query_t *q = cls;
  if (q->n < STW_HTTP_PARAMS_MAX)
    q->params[q->n] = (stw_http_param_t){ key, key_size, value, value_size };
  q->n++;
  return q->n <= STW_HTTP_PARAMS_MAX ? MHD_YES : MHD_NO;
}

static bool add_header(struct MHD_Response *resp, const char *name, const char *value)
{
  return MHD_add_response_header(resp, name, value) == MHD_YES;
}

/* Queue a's answer (its body now belongs to MHD) with the security headers. */
static enum MHD_Result send_answer(struct MHD_Connection *c, stw_http_answer_t *a, bool api, bool challenge,
                                   bool bad_token, bool wrong_method)
{
  struct MHD_Response *resp;
  if (a->body.len > 0) {
    resp = MHD_create_response_from_buffer(a->body.len, a->body.data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
      stw_buf_free(&a->body, false);
  } else {
    stw_buf_free(&a->body, false);
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  }
  a->body.data = NULL;
  if (resp == NULL)
    return MHD_NO;
  bool ok = add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type) &&
            add_header(resp, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY, HSTS) &&
            add_header(resp, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
  if (ok && api)
    ok = add_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  /* RFC 6750 3: name the realm; say invalid_token when one was offered. */
  if (ok && challenge)
    ok = add_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                    bad_token ? "Bearer realm=\"steward\", error=\"invalid_token\"" : "Bearer realm=\"steward\"");
  if (ok && wrong_method)
    ok = add_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result r = ok ? MHD_queue_response(c, a->status, resp) : MHD_NO;
  MHD_destroy_response(resp);
  return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
  (void)version;
  (void)upload_data;
  (void)upload_data_size;
  (void)req_cls;
  stw_http_t *h = cls;
  stw_http_answer_t a;
  memset(&a, 0, sizeof(a));
  stw_route_t r;
  size_t url_len = strnlen(url, STW_URI_MAX + 1);
  bool api = strncmp(url, "/api/", 5) == 0;
  bool challenge = false, bad_token = false, wrong_method = false;

  if (stw_http_route_match(url, url_len, &r) != STW_OK) {
    stw_http_error(404, "no such resource", api, &a);
  } else if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
    wrong_method = true;
    stw_http_error(405, "only GET and HEAD", api, &a);
  } else {
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    query_t q = { .n = 0 };
    if (r.api && !stw_http_bearer_ok(auth, h->token, h->token_len)) {
      challenge = true;
      bad_token = auth != NULL;
      stw_http_error(401, "the admin token is needed: Authorization: Bearer <admin.token>", true, &a);
    } else if (MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_param, &q) < 0 ||
               stw_http_query_parse(&r, q.params, q.n) != STW_OK) {
      stw_http_error(400, "bad query", r.api, &a);
    } else {
      stw_http_api_t ctx = {
        .store = h->store,
        .data_dir = h->domain->dir,
        .domain_name = h->domain->name,
        .coap_contact = h->has_coap_contact ? h->coap_contact : NULL,
        .now = stw_now(),
      };
      if (stw_http_answer(&ctx, &r, &a) != STW_OK && a.status >= 500)
        fprintf(h->log, "steward: https: %s %.*s: %.*s\n", method, 128, url, (int)a.body.len, (const char *)a.body.data);
    }
  }
  return send_answer(c, &a, api, challenge, bad_token, wrong_method);
}

/* One line per message, whether or not libmicrohttpd ended it with one. */
__attribute__((format(printf, 2, 0)))
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
  stw_http_t *h = cls;
  char line[512];
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  if (n < 0)
    return;
  size_t len = strnlen(line, sizeof(line));
  while (len > 0 && line[len - 1] == '\n')
    len--;
  fprintf(h->log, "steward: https: %.*s\n", (int)len, line);
}

/* ---- life --------------------------------------------------------------------- */

stw_status_t stw_http_start(const stw_http_config_t *cfg, stw_http_t **out)
{
  *out = NULL;
  if (cfg == NULL || cfg->listen == NULL || cfg->domain == NULL)
    return STW_ERR_INVALID;
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
    return STW_ERR_UNSUPPORTED;
  struct sockaddr_storage addr;
  socklen_t addr_len = sizeof(addr);
  stw_status_t st = stw_listen_parse(cfg->listen, (struct sockaddr *)&addr, &addr_len);
  if (st != STW_OK)
    return st;
  const char *colon = strrchr(cfg->listen, ':');
  size_t host_len = (size_t)(colon - cfg->listen);
  if (host_len >= HOST_MAX)
    return STW_ERR_INVALID;

  stw_http_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return STW_ERR_NOMEM;
  h->domain = cfg->domain;
  h->log = cfg->log != NULL ? cfg->log : stderr;
  stw_buf_init(&h->key_pem, 4096);
  stw_buf_init(&h->cert_pem, 16384);
  if (cfg->coap_contact != NULL) {
    h->has_coap_contact = (size_t)snprintf(h->coap_contact, sizeof(h->coap_contact), "%s", cfg->coap_contact) <
                          sizeof(h->coap_contact);
  }
  if ((st = read_admin_token(h)) != STW_OK) {
    fprintf(h->log, "steward: https: cannot read the admin token: %s\n", stw_status_str(st));
    goto fail;
  }
  if ((st = tls_credentials(h, (const struct sockaddr *)&addr)) != STW_OK) {
    fprintf(h->log, "steward: https: cannot make the TLS certificate: %s\n", stw_status_str(st));
    goto fail;
  }
  /* Opened here, used only by the MHD thread from now on: SQLite lets a
   * connection change threads as long as two never use it at once. */
  if ((st = stw_store_open(cfg->domain->store_url, &h->store)) != STW_OK)
    goto fail;
  unsigned flags = MHD_USE_TLS | MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (addr.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The thread MHD starts inherits this mask: SIGINT and SIGTERM stay with
   * the event loop, which is the one that stops the daemon. */
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, log_mhd, h,  /* first, so it hears every message */
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_HTTPS_MEM_KEY, (const char *)h->key_pem.data,
                            MHD_OPTION_HTTPS_MEM_CERT, (const char *)h->cert_pem.data,
                            MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
                            MHD_OPTION_CONNECTION_LIMIT, CONNECTIONS_MAX,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, CONNECTIONS_PER_ADDRESS,
                            MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)REQUEST_MEMORY,
                            MHD_OPTION_END);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  if (h->mhd == NULL) {
    st = STW_ERR_IO;
    goto fail;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = info != NULL ? info->port : 0;
  if (port == 0) {
    st = STW_ERR_IO;
    goto fail;
  }
  snprintf(h->uri, sizeof(h->uri), "https://%.*s:%u", (int)host_len, cfg->listen, port);
  *out = h;
  return STW_OK;
fail:
  stw_http_stop(h);
  return st;
}

const char *stw_http_uri(const stw_http_t *h)
{
  return h->uri;
}

void stw_http_stop(stw_http_t *h)
{
  if (h == NULL)
    return;
  if (h->mhd != NULL)
    MHD_stop_daemon(h->mhd);  /* joins the thread: the store is ours again */
  stw_store_close(h->store);
  stw_wipe(h->token, sizeof(h->token));
  stw_buf_free(&h->key_pem, true);
  stw_buf_free(&h->cert_pem, false);
  free(h);
}
