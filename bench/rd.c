/* bench/rd: the resource directory with a large population.
 *
 *   bench/rd [--entries N] [--lookups L] [--register R] [--steward PATH]
 *
 * 1. Fill the store with N registrations (default 1,000,000) THROUGH THE STORE
 *    API (stw_store_rd_put in transactions of 10,000; the protocol is measured
 *    separately in 4): each has one or two resources whose rt comes from 1000
 *    values, so a lookup by rt matches about 1 in 1000 resources.
 * 2. Start `steward serve` on that store.
 * 3. Over ONE persistent DTLS session (handshake excluded) with an LDevID of
 *    the domain: L static GETs of /.well-known/core (the round-trip floor),
 *    L endpoint lookups by exact ep, L resource lookups by rt (count=10), each
 *    a fresh random ep or rt: p50/p99 latency and lookups/s (one at a time).
 * 4. `steward sim --devices R --register`: R devices bootstrap, then register
 *    through the protocol (SDK event loop): registrations/s.
 * 5. The daemon's VmRSS with N + R entries. */
#include <coap3/coap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "domain/domain.h"
#include "pki.h"
#include "spawn.h"
#include "store/store.h"

#define RT_VALUES 1000
#define FILL_BATCH 10000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_random(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void die(const char *what, stw_status_t st)
{
  fprintf(stderr, "bench/rd: %s: %s\n", what, stw_status_str(st));
  exit(1);
}

/* ---- 1. fill through the store ------------------------------------------------------ */

static stw_status_t fill(stw_store_t *store, unsigned n)
{
  stw_rd_res_t *res = calloc(2, sizeof(*res));
  if (res == NULL)
    return STW_ERR_NOMEM;
  int64_t now = stw_now();
  stw_status_t st = STW_OK;
  uint64_t t0 = stw_monotonic_us();
  for (unsigned i = 0; st == STW_OK && i < n; i += FILL_BATCH) {
    if ((st = stw_store_begin(store)) != STW_OK)
      break;
    for (unsigned j = i; st == STW_OK && j < n && j < i + FILL_BATCH; j++) {
      stw_rd_reg_t reg;
      memset(&reg, 0, sizeof(reg));
      snprintf(reg.id, sizeof(reg.id), "b%015x", j);
      snprintf(reg.device_id, sizeof(reg.device_id), "be7c%028x", j);
      snprintf(reg.ep, sizeof(reg.ep), "bench-%07u", j);
      snprintf(reg.base, sizeof(reg.base), "coaps://[fd00::%x:%x]", j >> 16, j & 0xffff);
      snprintf(reg.dattr, sizeof(reg.dattr), "manufacturer model");
      reg.lt = 365u * 86400u;
      reg.updated_at = now;
      reg.expires_at = now + reg.lt;
      size_t n_res = 1 + j % 2;
      char links[2 * STW_RD_LINK_MAX] = "";
      size_t used = 0;
      for (size_t r = 0; r < n_res; r++) {
        stw_rd_res_t *x = &res[r];
        memset(x, 0, sizeof(*x));
        unsigned rt = (unsigned)((j * 7919u + r * 503u) % RT_VALUES);
        snprintf(x->href, sizeof(x->href), "/s%zu", r);
        snprintf(x->link, sizeof(x->link), "</s%zu>;rt=\"sensor-%03u\";if=\"core.s\"", r, rt);
        x->n_attrs = 2;
        snprintf(x->attrs[0].name, sizeof(x->attrs[0].name), "rt");
        snprintf(x->attrs[0].value, sizeof(x->attrs[0].value), "sensor-%03u", rt);
        snprintf(x->attrs[1].name, sizeof(x->attrs[1].name), "if");
        snprintf(x->attrs[1].value, sizeof(x->attrs[1].value), "core.s");
        used += (size_t)snprintf(links + used, sizeof(links) - used, "%s%s", r ? "," : "", x->link);
      }
      reg.links = links;
      reg.links_len = used;
      st = stw_store_rd_put(store, &reg, res, n_res);
    }
    if (st == STW_OK)
      st = stw_store_commit(store);
    else
      stw_store_rollback(store);
    unsigned done = i + FILL_BATCH < n ? i + FILL_BATCH : n;
    if (done % 100000 == 0 || done == n)
      fprintf(stderr, "  filled %u/%u (%.0f/s)\n", done, n, done / ((stw_monotonic_us() - t0) / 1e6));
  }
  free(res);
  return st;
}

/* An enrolled device of the domain (COMMISSIONED, with a current LDevID) for
 * the lookups, made the way enrollment makes one. PEM cert and key out. */
static stw_status_t make_asker(stw_store_t *store, const stw_domain_t *domain, stw_buf_t *cert_pem,
                               stw_buf_t *key_pem)
{
  stw_key_t *key = NULL;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  char serial[64] = "";
  stw_status_t st = stw_key_generate(&key);
  if (st == STW_OK)
    st = stw_key_spki(key, spki, &spki_len);
  const char *id = "be7cffffffffffffffffffffffffffff";
  stw_cert_template_t t = { .common_name = "bench-asker", .organization = domain->name, .serial_number = id,
                            .not_before = stw_now() - 60, .not_after = stw_now() + 86400, .client_auth = true };
  if (st == STW_OK)
    st = stw_cert_issue(domain->ca_key, domain->ca_der.data, domain->ca_der.len, spki, spki_len, &t, &der, serial);
  if (st == STW_OK) {
    stw_device_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "%s", id);
    snprintf(d.name, sizeof(d.name), "bench-asker");
    snprintf(d.model, sizeof(d.model), "bench-1");
    snprintf(d.manufacturer, sizeof(d.manufacturer), "Bench");
    d.state = STW_STATE_COMMISSIONED;
    d.created_at = d.updated_at = stw_now();
    d.ldevid = der.data;
    d.ldevid_len = der.len;
    snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "%s", serial);
    d.ldevid_not_after = t.not_after;
    st = stw_store_device_put(store, &d);
  }
  if (st == STW_OK)
    st = stw_der_to_pem("CERTIFICATE", der.data, der.len, cert_pem);
  if (st == STW_OK)
    st = stw_key_export_pem(key, key_pem);
  stw_key_free(key);
  stw_buf_free(&der, false);
  return st;
}

/* ---- 3. lookups over one DTLS session ----------------------------------------------- */

typedef struct {
  bool answered;
  unsigned code;
  size_t len;
} answer_t;

static answer_t last_answer;

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
  (void)session;
  (void)sent;
  (void)mid;
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  if (!coap_get_data_large(received, &len, &data, &offset, &total))
    total = 0;
  last_answer.answered = true;
  last_answer.code = (unsigned)coap_pdu_get_code(received);
  last_answer.len = total;
  return COAP_RESPONSE_OK;
}

/* GET path?query and wait for the whole answer; microseconds, or 0 on failure. */
static uint64_t timed_get(coap_context_t *ctx, coap_session_t *session, const char *path, const char *query)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, coap_new_message_id(session),
                                  coap_session_max_pdu_size(session));
  if (pdu == NULL)
    return 0;
  uint8_t token[8];
  size_t token_len = 0;
  coap_session_new_token(session, &token_len, token);
  coap_add_token(pdu, token_len, token);
  for (const char *seg = path; *seg;) {
    size_t n = strcspn(seg, "/");
    coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)seg);
    seg += n + (seg[n] == '/');
  }
  for (const char *q = query; q && *q;) {
    size_t n = strcspn(q, "&");
    coap_add_option(pdu, COAP_OPTION_URI_QUERY, n, (const uint8_t *)q);
    q += n + (q[n] == '&');
  }
  memset(&last_answer, 0, sizeof(last_answer));
  uint64_t t0 = stw_monotonic_us();
  if (coap_send(session, pdu) == COAP_INVALID_MID)
    return 0;
  while (!last_answer.answered && stw_monotonic_us() - t0 < 10000000)
    coap_io_process(ctx, 1000);
  uint64_t dt = stw_monotonic_us() - t0;
  return last_answer.answered && last_answer.code == COAP_RESPONSE_CODE(205) ? (dt ? dt : 1) : 0;
}

static int compare_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  double p50_ms, p99_ms, per_s;
  double mean_bytes;
  unsigned failed;
} series_t;

typedef enum { STATIC_GET, LOOKUP_EP, LOOKUP_RT } kind_t;

static series_t run_series(coap_context_t *ctx, coap_session_t *session, kind_t kind, unsigned count, unsigned entries)
{
  series_t s = { 0 };
  uint64_t *lat = calloc(count, sizeof(*lat));
  if (lat == NULL)
    return s;
  uint64_t bytes = 0, t0 = stw_monotonic_us();
  unsigned ok = 0;
  for (unsigned i = 0; i < count; i++) {
    char query[96] = "";
    const char *path = ".well-known/core";
    if (kind == LOOKUP_EP) {
      path = "rd-lookup/ep";
      snprintf(query, sizeof(query), "ep=bench-%07u", (unsigned)(next_random() % entries));
    } else if (kind == LOOKUP_RT) {
      path = "rd-lookup/res";
      snprintf(query, sizeof(query), "rt=sensor-%03u&count=10", (unsigned)(next_random() % RT_VALUES));
    }
    uint64_t us = timed_get(ctx, session, path, query);
    if (us == 0 || (kind != STATIC_GET && last_answer.len == 0)) {
      if (s.failed++ == 0)
        fprintf(stderr, "  first failure: %s?%s -> %u.%02u, %zu bytes\n", path, query, last_answer.code >> 5,
                last_answer.code & 31, last_answer.len);
      continue;
    }
    lat[ok++] = us;
    bytes += last_answer.len;
  }
  uint64_t total = stw_monotonic_us() - t0;
  if (ok > 0) {
    qsort(lat, ok, sizeof(*lat), compare_u64);
    s.p50_ms = lat[ok / 2] / 1000.0;
    s.p99_ms = lat[(size_t)((ok - 1) * 0.99)] / 1000.0;
    s.per_s = ok * 1e6 / (double)total;
    s.mean_bytes = bytes / (double)ok;
  }
  free(lat);
  return s;
}

static long vm_rss_kib(pid_t pid)
{
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long v = -1;
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0)
      v = strtol(line + 6, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

static bool parse_count(const char *s, unsigned *out)
{
  char *end = NULL;
  unsigned long v = s ? strtoul(s, &end, 10) : 0;
  if (s == NULL || end == s || *end != '\0' || v == 0 || v > 100000000ul)
    return false;
  *out = (unsigned)v;
  return true;
}

int main(int argc, char **argv)
{
  unsigned entries = 1000000, lookups = 2000, registrations = 2000;
  const char *steward = STEWARD_BINARY;
  for (int i = 1; i < argc; i++) {
    bool has_value = i + 1 < argc;
    if (strcmp(argv[i], "--entries") == 0 && has_value && parse_count(argv[i + 1], &entries))
      i++;
    else if (strcmp(argv[i], "--lookups") == 0 && has_value && parse_count(argv[i + 1], &lookups))
      i++;
    else if (strcmp(argv[i], "--register") == 0 && has_value && parse_count(argv[i + 1], &registrations))
      i++;
    else if (strcmp(argv[i], "--steward") == 0 && has_value)
      steward = argv[++i];
    else {
      fprintf(stderr, "usage: bench/rd [--entries N] [--lookups L] [--register R] [--steward PATH]\n");
      return 2;
    }
  }
  char data[] = "/tmp/stw-bench-rd-XXXXXX";
  if (mkdtemp(data) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  printf("bench/rd: %u registrations filled THROUGH THE STORE API (stw_store_rd_put, %u per transaction),\n"
         "          1-2 resources each, rt from %u values; lookups over one DTLS session (LDevID), one at a time\n",
         entries, FILL_BATCH, RT_VALUES);
  stw_domain_t *domain = NULL;
  stw_store_t *store = NULL;
  stw_status_t st = stw_domain_open(data, "bench.example", &domain);
  if (st == STW_OK)
    st = stw_store_open(domain->store_url, &store);
  if (st != STW_OK)
    die("domain", st);
  stw_buf_t cert_pem, key_pem;
  stw_buf_init(&cert_pem, 8192);
  stw_buf_init(&key_pem, 8192);
  uint64_t t0 = stw_monotonic_us();
  if ((st = fill(store, entries)) != STW_OK)
    die("fill", st);
  double fill_s = (stw_monotonic_us() - t0) / 1e6;
  if ((st = make_asker(store, domain, &cert_pem, &key_pem)) != STW_OK)
    die("asker", st);
  stw_store_close(store);
  printf("fill: %u registrations in %.1f s (%.0f/s, store API, not the protocol)\n", entries, fill_s,
         entries / fill_s);

  char log_path[512];
  snprintf(log_path, sizeof(log_path), "%s/daemon.log", data);
  stw_child_daemon_t daemon;
  if ((st = stw_spawn_daemon(steward, data, log_path, NULL, &daemon)) != STW_OK)
    die("daemon", st);
  printf("daemon pid %d at %s, VmRSS %ld KiB after start\n", (int)daemon.pid, daemon.uri, vm_rss_kib(daemon.pid));

  coap_startup();
  coap_set_log_level(LOG_EMERG);
  coap_context_t *ctx = coap_new_context(NULL);
  coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(ctx, on_response);
  coap_dtls_pki_t pki;
  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
  if (stw_buf_append(&cert_pem, "", 1) != STW_OK || stw_buf_append(&key_pem, "", 1) != STW_OK)
    die("pem", STW_ERR_NOMEM);
  pki.pki_key.key.pem_buf.public_cert = cert_pem.data;
  pki.pki_key.key.pem_buf.public_cert_len = cert_pem.len;
  pki.pki_key.key.pem_buf.private_key = key_pem.data;
  pki.pki_key.key.pem_buf.private_key_len = key_pem.len;
  coap_address_t addr;
  coap_address_init(&addr);
  addr.size = sizeof(addr.addr.sin);
  addr.addr.sin.sin_family = AF_INET;
  addr.addr.sin.sin_port = htons(daemon.port);
  addr.addr.sin.sin_addr.s_addr = htonl(0x7f000001);
  coap_session_t *session = coap_new_client_session_pki(ctx, NULL, &addr, COAP_PROTO_DTLS, &pki);
  if (session == NULL)
    die("session", STW_ERR_NETWORK);
  /* Warm up: the handshake and the first answers are not measured. */
  for (int i = 0; i < 20; i++)
    if (timed_get(ctx, session, ".well-known/core", NULL) == 0)
      die("warm-up GET", STW_ERR_NETWORK);

  series_t base = run_series(ctx, session, STATIC_GET, lookups, entries);
  series_t by_ep = run_series(ctx, session, LOOKUP_EP, lookups, entries);
  series_t by_rt = run_series(ctx, session, LOOKUP_RT, lookups, entries);
  printf("static GET /.well-known/core      : p50 %6.3f ms  p99 %6.3f ms  %7.0f req/s      (%u failed)\n",
         base.p50_ms, base.p99_ms, base.per_s, base.failed);
  printf("lookup /rd-lookup/ep?ep=<exact>   : p50 %6.3f ms  p99 %6.3f ms  %7.0f lookups/s  (%u failed, %.0f B/answer)"
         "  p99 = %.2fx static\n",
         by_ep.p50_ms, by_ep.p99_ms, by_ep.per_s, by_ep.failed, by_ep.mean_bytes,
         base.p99_ms > 0 ? by_ep.p99_ms / base.p99_ms : 0);
  printf("lookup /rd-lookup/res?rt=..&count=10: p50 %6.3f ms  p99 %6.3f ms  %7.0f lookups/s  (%u failed, %.0f B/answer)"
         "  p99 = %.2fx static\n",
         by_rt.p50_ms, by_rt.p99_ms, by_rt.per_s, by_rt.failed, by_rt.mean_bytes,
         base.p99_ms > 0 ? by_rt.p99_ms / base.p99_ms : 0);
  coap_session_release(session);
  coap_free_context(ctx);

  /* 4. registrations through the protocol, by the simulator. */
  char cmd[2048], line[2048], json[2048] = "";
  snprintf(cmd, sizeof(cmd), "'%s' sim --devices %u --concurrency 64 --server %s --data '%s' --register --json",
           steward, registrations, daemon.uri, data);
  FILE *p = popen(cmd, "r");
  while (p && fgets(line, sizeof(line), p))
    if (line[0] == '{')
      snprintf(json, sizeof(json), "%s", line);
  if (p)
    pclose(p);
  printf("protocol: %u devices bootstrapped then registered (steward sim --register, 64 in flight, DTLS handshake each):\n"
         "          %.0f registrations/s, p50 %.1f ms, p99 %.1f ms, %.0f registered, %.0f failed\n",
         registrations, bench_json_number(json, "registrations_per_s"), bench_json_number(json, "register_p50_ms"),
         bench_json_number(json, "register_p99_ms"), bench_json_number(json, "registered"),
         bench_json_number(json, "register_failed"));
  printf("daemon VmRSS with %u registrations: %ld KiB\n", entries + registrations, vm_rss_kib(daemon.pid));
  int rc = stw_stop_daemon(&daemon);
  printf("daemon stopped (exit %d); data in %s (remove it when done)\n", rc, data);
  stw_buf_free(&cert_pem, true);
  stw_buf_free(&key_pem, true);
  stw_domain_close(domain);
  return 0;
}
