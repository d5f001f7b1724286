/* bench/token: capability tokens (issue 4), all figures in one run.
 *
 *   bench/token [--requests N] [--sessions S] [--handshakes H] [--checks K] [--steward PATH]
 *
 * 1. Tokens issued per second by the real daemon (`steward serve` on
 *    loopback): S enrolled devices (each its own LDevID and its own DTLS
 *    session, opened before the clock starts and kept open), one POST /token
 *    in flight per session, N requests in all. No request includes a DTLS
 *    handshake; a second, small series opens a fresh session (full handshake)
 *    per request, one at a time, for contrast. Each token is answered after
 *    its group commit (durable, audited). Beside it: the raw ES256 signing
 *    rate of lib/pki.h stw_key_sign() with the domain's key, in this process,
 *    before the daemon starts. Target: >= 70% of it.
 * 2. The device's check of a real issued token (stw_pep_check_token +
 *    stw_pep_authorize, K times) beside one raw ES256 verify
 *    (stw_spki_verify, K times). Target: <= 1.2x.
 * 3. The token's size beside the same claims as a JWT (stw_cwt_to_jwt_size).
 * 4. The PEP's code size and peak stack: bench/pep_size.sh, run from here.
 *
 * The devices are put into the store the way enrollment leaves them
 * (COMMISSIONED, a current LDevID the domain CA issued), as bench/rd does:
 * enrollment has its own benchmark. Client and daemon share this machine. */
#include <coap3/coap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz/authz_coap.h"
#include "authz/context.h"
#include "authz/pdp.h"
#include "cose.h"
#include "cwt.h"
#include "domain/domain.h"
#include "pki.h"
#include "spawn.h"
#include "steward/authz.h"
#include "store/store.h"

#define AUDIENCE "bench-meter"
#define RESOURCE "/consumption"
#define DOMAIN_NAME "bench.example"
#define SESSIONS_MAX 256
#define SIGN_MSG_LEN 320   /* about the Sig_structure of one of these tokens */

static void die(const char *what, stw_status_t st)
{
  fprintf(stderr, "bench/token: %s: %s\n", what, stw_status_str(st));
  exit(1);
}

static const char *verdict(bool ok)
{
  return ok ? "PASS" : "MISS";
}

/* ---- the devices, as enrollment leaves them ------------------------------------------ */

typedef struct {
  char id[STW_DEVICE_ID_HEX_LEN];
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  stw_buf_t cert_pem, key_pem;   /* NUL-terminated, for libcoap */
} bench_device_t;

static stw_status_t make_device(stw_store_t *store, const stw_domain_t *domain, const char *name, const char *role,
                                bench_device_t *out)
{
  stw_key_t *key = NULL;
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  stw_buf_init(&out->cert_pem, 2048);
  stw_buf_init(&out->key_pem, 1024);
  uint8_t raw_id[STW_DEVICE_ID_LEN];
  char serial[64] = "";
  out->spki_len = sizeof(out->spki);
  stw_status_t st = stw_key_generate(&key);
  if (st == STW_OK)
    st = stw_key_spki(key, out->spki, &out->spki_len);
  if (st == STW_OK)
    st = stw_device_id_from_spki(out->spki, out->spki_len, raw_id);
  if (st != STW_OK)
    goto out;
  stw_device_id_hex(raw_id, out->id);
  stw_cert_template_t t = { .common_name = name, .organization = domain->name, .serial_number = out->id,
                            .not_before = stw_now() - 60, .not_after = stw_now() + 86400, .client_auth = true };
  if ((st = stw_cert_issue(domain->ca_key, domain->ca_der.data, domain->ca_der.len, out->spki, out->spki_len, &t,
                           &der, serial)) != STW_OK)
    goto out;
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  snprintf(d.id, sizeof(d.id), "%s", out->id);
  snprintf(d.name, sizeof(d.name), "%s", name);
  snprintf(d.model, sizeof(d.model), "bench-1");
  snprintf(d.manufacturer, sizeof(d.manufacturer), "Bench");
  d.state = STW_STATE_COMMISSIONED;
  d.created_at = d.updated_at = stw_now();
  d.ldevid = der.data;
  d.ldevid_len = der.len;
  snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "%s", serial);
  d.ldevid_not_after = t.not_after;
  if ((st = stw_store_device_put(store, &d)) != STW_OK)
    goto out;
  if (role != NULL) {
    stw_attr_row_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.name, sizeof(a.name), "role");
    snprintf(a.value, sizeof(a.value), "%s", role);
    snprintf(a.authority, sizeof(a.authority), "%s", domain->name);
    if ((st = stw_store_attr_set(store, out->id, &a)) != STW_OK)
      goto out;
  }
  if ((st = stw_der_to_pem("CERTIFICATE", der.data, der.len, &out->cert_pem)) == STW_OK &&
      (st = stw_key_export_pem(key, &out->key_pem)) == STW_OK &&
      (st = stw_buf_append(&out->cert_pem, "", 1)) == STW_OK)
    st = stw_buf_append(&out->key_pem, "", 1);
out:
  stw_key_free(key);
  stw_buf_free(&der, false);
  return st;
}

/* ---- the raw primitives, through the project's own wrappers ------------------------------ */

typedef struct {
  double sign_us, verify_us;   /* mean per operation */
} crypto_t;

static crypto_t raw_crypto(const stw_key_t *key, const uint8_t *spki, size_t spki_len, unsigned n)
{
  crypto_t c = { 0, 0 };
  uint8_t msg[SIGN_MSG_LEN], sig[STW_ES256_SIG_LEN];
  for (size_t i = 0; i < sizeof(msg); i++)
    msg[i] = (uint8_t)(i * 131u + 7u);
  if (stw_key_sign(key, msg, sizeof(msg), sig) != STW_OK)  /* warm-up */
    die("sign", STW_ERR_CRYPTO);
  uint64_t t0 = stw_monotonic_us();
  for (unsigned i = 0; i < n; i++) {
    msg[0] = (uint8_t)i;
    if (stw_key_sign(key, msg, sizeof(msg), sig) != STW_OK)
      die("sign", STW_ERR_CRYPTO);
  }
  c.sign_us = (stw_monotonic_us() - t0) / (double)n;
  if (stw_spki_verify(spki, spki_len, msg, sizeof(msg), sig) != STW_OK)  /* warm-up, and proof */
    die("verify", STW_ERR_BAD_SIGNATURE);
  t0 = stw_monotonic_us();
  for (unsigned i = 0; i < n; i++)
    if (stw_spki_verify(spki, spki_len, msg, sizeof(msg), sig) != STW_OK)
      die("verify", STW_ERR_BAD_SIGNATURE);
  c.verify_us = (stw_monotonic_us() - t0) / (double)n;
  return c;
}

/* ---- POST /token over libcoap ---------------------------------------------------------- */

typedef struct {
  coap_session_t *session;
  bool busy;
  uint64_t sent_at;
} slot_t;

typedef struct {
  slot_t slots[SESSIONS_MAX];
  unsigned n_slots;
  unsigned to_send, sent, ok, failed;
  unsigned first_bad_code;
  uint64_t *latency;   /* of the answered ones, microseconds */
  stw_buf_t last_token;
  stw_buf_t body;      /* the request: {5: audience, 9: [[path, GET]]} */
} run_t;

static run_t run;

static stw_status_t encode_request(stw_buf_t *b)
{
  stw_status_t st = stw_cbor_write_head(b, STW_CBOR_MAP, 2);
  if (st == STW_OK && (st = stw_cbor_write_head(b, STW_CBOR_UINT, STW_ACE_AUDIENCE)) == STW_OK &&
      (st = stw_cbor_write_bytes(b, STW_CBOR_TSTR, AUDIENCE, strlen(AUDIENCE))) == STW_OK &&
      (st = stw_cbor_write_head(b, STW_CBOR_UINT, STW_ACE_SCOPE)) == STW_OK &&
      (st = stw_cbor_write_head(b, STW_CBOR_ARRAY, 1)) == STW_OK && (st = stw_cbor_write_head(b, STW_CBOR_ARRAY, 2)) == STW_OK &&
      (st = stw_cbor_write_bytes(b, STW_CBOR_TSTR, RESOURCE, strlen(RESOURCE))) == STW_OK)
    st = stw_cbor_write_head(b, STW_CBOR_UINT, STW_AIF_GET);
  return st;
}

/* The access token of an ACE answer {1: token, ...}, copied into out. */
static bool keep_token(const uint8_t *p, size_t len, stw_buf_t *out)
{
  stw_cbor_reader_t r;
  size_t n = 0;
  stw_cbor_reader_init(&r, p, len);
  if (stw_cbor_read_map(&r, &n) != STW_OK || n > 16)
    return false;
  for (size_t i = 0; i < n; i++) {
    int64_t key = 0;
    if (stw_cbor_read_int(&r, &key) != STW_OK)
      return false;
    if (key == STW_ACE_ACCESS_TOKEN) {
      const uint8_t *tok = NULL;
      size_t tok_len = 0;
      if (stw_cbor_read_bstr(&r, &tok, &tok_len) != STW_OK)
        return false;
      out->len = 0;
      return stw_buf_append(out, tok, tok_len) == STW_OK;
    }
    if (stw_cbor_skip(&r) != STW_OK)
      return false;
  }
  return false;
}

static bool send_request(slot_t *s)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(s->session),
                                  coap_session_max_pdu_size(s->session));
  if (pdu == NULL)
    return false;
  uint8_t token[8], cf[4];
  size_t token_len = 0;
  coap_session_new_token(s->session, &token_len, token);
  coap_add_token(pdu, token_len, token);
  coap_add_option(pdu, COAP_OPTION_URI_PATH, 5, (const uint8_t *)"token");
  coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cf, sizeof(cf), STW_CF_ACE_CBOR), cf);
  coap_add_data(pdu, run.body.len, run.body.data);
  s->busy = true;
  s->sent_at = stw_monotonic_us();
  run.sent++;
  if (coap_send(s->session, pdu) == COAP_INVALID_MID) {
    s->busy = false;
    return false;
  }
  return true;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
  (void)sent;
  (void)mid;
  slot_t *s = coap_session_get_app_data(session);
  if (s == NULL || !s->busy)
    return COAP_RESPONSE_OK;
  unsigned code = (unsigned)coap_pdu_get_code(received);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  if (!coap_get_data_large(received, &len, &data, &offset, &total))
    len = 0;
  s->busy = false;
  if (code == COAP_RESPONSE_CODE(201) && len > 0 && keep_token(data, len, &run.last_token)) {
    if (run.latency)
      run.latency[run.ok] = stw_monotonic_us() - s->sent_at;
    run.ok++;
  } else {
    if (run.failed++ == 0)
      run.first_bad_code = code;
  }
  if (run.sent < run.to_send && !send_request(s))
    run.failed++;
  return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
  (void)sent;
  (void)reason;
  (void)mid;
  slot_t *s = coap_session_get_app_data(session);
  if (s == NULL || !s->busy)
    return;
  s->busy = false;
  run.failed++;
  if (run.sent < run.to_send && !send_request(s))
    run.failed++;
}

static bool any_busy(void)
{
  for (unsigned i = 0; i < run.n_slots; i++)
    if (run.slots[i].busy)
      return true;
  return false;
}

static coap_session_t *open_session(coap_context_t *ctx, uint16_t port, bench_device_t *dev)
{
  coap_dtls_pki_t pki;
  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
  pki.pki_key.key.pem_buf.public_cert = dev->cert_pem.data;
  pki.pki_key.key.pem_buf.public_cert_len = dev->cert_pem.len;
  pki.pki_key.key.pem_buf.private_key = dev->key_pem.data;
  pki.pki_key.key.pem_buf.private_key_len = dev->key_pem.len;
  coap_address_t addr;
  coap_address_init(&addr);
  addr.size = sizeof(addr.addr.sin);
  addr.addr.sin.sin_family = AF_INET;
  addr.addr.sin.sin_port = htons(port);
  addr.addr.sin.sin_addr.s_addr = htonl(0x7f000001);
  return coap_new_client_session_pki(ctx, NULL, &addr, COAP_PROTO_DTLS, &pki);
}

/* Drive until every request is answered (or 60 s pass); microseconds taken. */
static uint64_t drive(coap_context_t *ctx)
{
  uint64_t t0 = stw_monotonic_us();
  while ((run.sent < run.to_send || any_busy()) && stw_monotonic_us() - t0 < 60000000)
    coap_io_process(ctx, 100);
  return stw_monotonic_us() - t0;
}

/* CPU time (user + system) of a process so far, microseconds; 0 when unknown. */
static uint64_t cpu_us_of(pid_t pid)
{
  char path[64], line[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  bool got = fgets(line, sizeof(line), f) != NULL;
  fclose(f);
  /* Fields after the command name, which is in parentheses: state is 3rd, utime 14th, stime 15th. */
  const char *p = got ? strrchr(line, ')') : NULL;
  if (p == NULL)
    return 0;
  unsigned long long v[13] = { 0 };
  p += 2;
  for (int i = 0; i < 13 && *p; i++) {
    char *end = NULL;
    while (*p == ' ')
      p++;
    v[i] = strtoull(p, &end, 10);
    if (end == p) /* the state letter */
      end = (char *)p + 1;
    p = end;
  }
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? (v[11] + v[12]) * 1000000ull / (unsigned long long)hz : 0;
}

static int compare_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* ---- 4. bench/pep_size.sh ----------------------------------------------------------------- */

typedef struct {
  long code, chain, pep_ram;
  bool ran;
} pep_size_t;

static pep_size_t run_pep_size(void)
{
  pep_size_t r = { -1, -1, -1, false };
  char dir[1024], cmd[1200], line[512];
  snprintf(dir, sizeof(dir), "%s", __FILE__);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    snprintf(dir, sizeof(dir), "bench");
  else
    *slash = '\0';
  snprintf(cmd, sizeof(cmd), "%s/pep_size.sh", dir);
  if (access(cmd, X_OK) != 0) {
    printf("  (not found: %s; run bench/pep_size.sh from the source tree)\n", cmd);
    return r;
  }
  printf("  $ %s\n", cmd);
  snprintf(cmd, sizeof(cmd), "'%s/pep_size.sh' 2>&1", dir);
  FILE *p = popen(cmd, "r");
  if (p == NULL)
    return r;
  int section = 0, frames_shown = 0;
  while (fgets(line, sizeof(line), p)) {
    if (strncmp(line, "==", 2) == 0)
      section++;
    /* The per-function frame list is long: its largest 6 say enough. */
    if (section == 2 && line[0] != '=' && line[0] != '\n' && frames_shown++ >= 6) {
      if (frames_shown == 8)
        printf("  ...   (the rest of the frames: run the script)\n");
      continue;
    }
    printf("  | %s", line);
    char *end = NULL;
    long v = strtol(line, &end, 10);
    if (section == 1 && strstr(line, "(TOTALS)"))
      r.code = v;
    else if (section == 3 && end != line && strstr(line, "stw_pep_check_token") == end + 2 && v > r.chain)
      r.chain = v;
    else if (section == 3 && end != line && v > r.chain && strstr(line, "stw_pep_authorize"))
      r.chain = v;
    else if (section == 4 && end != line && strstr(line, "stw_pep_t ("))
      r.pep_ram = v;
  }
  r.ran = pclose(p) == 0;
  return r;
}

/* ---- main ------------------------------------------------------------------------------ */

static bool parse_count(const char *s, unsigned max, unsigned *out)
{
  char *end = NULL;
  unsigned long v = s ? strtoul(s, &end, 10) : 0;
  if (s == NULL || end == s || *end != '\0' || v == 0 || v > max)
    return false;
  *out = (unsigned)v;
  return true;
}

int main(int argc, char **argv)
{
  unsigned requests = 20000, sessions = 32, handshakes = 100, checks = 3000;
  const char *steward = STEWARD_BINARY;
  for (int i = 1; i < argc; i++) {
    bool has = i + 1 < argc;
    if (strcmp(argv[i], "--requests") == 0 && has && parse_count(argv[i + 1], 10000000, &requests))
      i++;
    else if (strcmp(argv[i], "--sessions") == 0 && has && parse_count(argv[i + 1], SESSIONS_MAX, &sessions))
      i++;
    else if (strcmp(argv[i], "--handshakes") == 0 && has && parse_count(argv[i + 1], 100000, &handshakes))
      i++;
    else if (strcmp(argv[i], "--checks") == 0 && has && parse_count(argv[i + 1], 10000000, &checks))
      i++;
    else if (strcmp(argv[i], "--steward") == 0 && has)
      steward = argv[++i];
    else {
      fprintf(stderr, "usage: bench/token [--requests N] [--sessions S (<= %d)] [--handshakes H] [--checks K] "
                      "[--steward PATH]\n", SESSIONS_MAX);
      return 2;
    }
  }
  printf("bench/token on %ld cores (client and daemon share them); daemon %s\n", sysconf(_SC_NPROCESSORS_ONLN),
         steward);

  /* The domain, its devices and the rule. */
  char dir[] = "/tmp/stw-bench-token-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  stw_domain_t *domain = NULL;
  stw_store_t *store = NULL;
  stw_status_t st = stw_domain_open(dir, DOMAIN_NAME, &domain);
  if (st == STW_OK)
    st = stw_store_open(domain->store_url, &store);
  if (st != STW_OK)
    die("domain", st);
  uint8_t domain_spki[STW_SPKI_MAX];
  size_t domain_spki_len = sizeof(domain_spki);
  if ((st = stw_key_spki(domain->ca_key, domain_spki, &domain_spki_len)) != STW_OK)
    die("domain key", st);
  bench_device_t meter, *clients = calloc(sessions, sizeof(*clients));
  if (clients == NULL)
    die("devices", STW_ERR_NOMEM);
  if ((st = make_device(store, domain, AUDIENCE, NULL, &meter)) != STW_OK)
    die("meter", st);
  for (unsigned i = 0; i < sessions; i++) {
    char name[32];
    snprintf(name, sizeof(name), "bench-utility-%03u", i);
    if ((st = make_device(store, domain, name, "utility", &clients[i])) != STW_OK)
      die("client device", st);
  }
  char why[256];
  int64_t rule_id = 0;
  uint64_t revoked = 0;
  if ((st = stw_authz_policy_add(store, domain, "permit role=utility -> " AUDIENCE ":" RESOURCE " GET", "bench",
                                 "bench", stw_now(), &rule_id, &revoked, why, sizeof(why))) != STW_OK) {
    fprintf(stderr, "policy: %s\n", why);
    die("policy", st);
  }
  stw_store_close(store);
  printf("setup: domain %s, %u utility devices (role=utility) + %s, rule \"permit role=utility -> %s:%s GET\"\n",
         DOMAIN_NAME, sessions, AUDIENCE, AUDIENCE, RESOURCE);

  /* The raw primitives first, while nothing else runs. */
  crypto_t raw = raw_crypto(domain->ca_key, domain_spki, domain_spki_len, 2000);
  printf("raw ES256 (lib/pki.h, this process, one core, %d-byte message, domain key): sign %.1f us = %.0f/s, "
         "verify (stw_spki_verify) %.1f us = %.0f/s\n", SIGN_MSG_LEN, raw.sign_us, 1e6 / raw.sign_us, raw.verify_us,
         1e6 / raw.verify_us);

  /* 1. The daemon. */
  char log_path[1100];
  snprintf(log_path, sizeof(log_path), "%s/daemon.log", dir);
  stw_child_daemon_t daemon;
  if ((st = stw_spawn_daemon(steward, dir, log_path, NULL, &daemon)) != STW_OK)
    die("daemon", st);
  coap_startup();
  coap_set_log_level(LOG_EMERG);
  coap_context_t *ctx = coap_new_context(NULL);
  if (ctx == NULL)
    die("libcoap", STW_ERR_NOMEM);
  coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(ctx, on_response);
  coap_register_nack_handler(ctx, on_nack);
  stw_buf_init(&run.body, 64);
  stw_buf_init(&run.last_token, STW_PEP_TOKEN_MAX);
  if ((st = encode_request(&run.body)) != STW_OK)
    die("request", st);

  /* Open every session and take one token on each: handshakes not timed. */
  uint64_t t0 = stw_monotonic_us();
  run.n_slots = sessions;
  for (unsigned i = 0; i < sessions; i++) {
    run.slots[i].session = open_session(ctx, daemon.port, &clients[i]);
    if (run.slots[i].session == NULL)
      die("session", STW_ERR_NETWORK);
    coap_session_set_app_data(run.slots[i].session, &run.slots[i]);
  }
  run.to_send = sessions;
  for (unsigned i = 0; i < sessions; i++)
    if (!send_request(&run.slots[i]))
      die("warm-up send", STW_ERR_NETWORK);
  drive(ctx);
  if (run.ok != sessions) {
    fprintf(stderr, "warm-up: %u of %u tokens (first refusal %u.%02u); see %s\n", run.ok, sessions,
            run.first_bad_code >> 5, run.first_bad_code & 31, log_path);
    return 1;
  }
  printf("warm-up: %u DTLS sessions opened (one per device, full handshake with its LDevID) and one token each, "
         "in %.0f ms (not timed below)\n", sessions, (stw_monotonic_us() - t0) / 1e3);

  /* Persistent sessions: the measured run. */
  run.latency = calloc(requests, sizeof(*run.latency));
  if (run.latency == NULL)
    die("latency", STW_ERR_NOMEM);
  run.ok = run.failed = run.sent = 0;
  run.to_send = requests;
  uint64_t daemon_cpu0 = cpu_us_of(daemon.pid), own_cpu0 = cpu_us_of(getpid());
  for (unsigned i = 0; i < sessions && run.sent < run.to_send; i++)
    if (!send_request(&run.slots[i]))
      die("send", STW_ERR_NETWORK);
  uint64_t took = drive(ctx);
  double daemon_cpu = (double)(cpu_us_of(daemon.pid) - daemon_cpu0), own_cpu = (double)(cpu_us_of(getpid()) - own_cpu0);
  double rate = run.ok * 1e6 / (double)took;
  double p50 = 0, p99 = 0;
  if (run.ok > 0) {
    qsort(run.latency, run.ok, sizeof(*run.latency), compare_u64);
    p50 = run.latency[run.ok / 2] / 1e3;
    p99 = run.latency[(size_t)((run.ok - 1) * 0.99)] / 1e3;
  }
  unsigned persistent_failed = run.failed, persistent_ok = run.ok;
  for (unsigned i = 0; i < sessions; i++)
    coap_session_release(run.slots[i].session);

  /* Contrast: a fresh DTLS session (full handshake) per request, one at a time. */
  run.n_slots = 1;
  run.ok = run.failed = run.sent = 0;
  free(run.latency);
  run.latency = NULL;
  t0 = stw_monotonic_us();
  for (unsigned i = 0; i < handshakes; i++) {
    slot_t *s = &run.slots[0];
    memset(s, 0, sizeof(*s));
    s->session = open_session(ctx, daemon.port, &clients[i % sessions]);
    if (s->session == NULL)
      die("session", STW_ERR_NETWORK);
    coap_session_set_app_data(s->session, s);
    run.to_send = run.sent + 1;
    if (!send_request(s))
      die("send", STW_ERR_NETWORK);
    drive(ctx);
    coap_session_set_app_data(s->session, NULL);
    coap_session_release(s->session);
  }
  double hs_rate = run.ok * 1e6 / (double)(stw_monotonic_us() - t0);
  unsigned hs_ok = run.ok, hs_failed = run.failed;
  coap_free_context(ctx);
  coap_cleanup();
  int daemon_rc = stw_stop_daemon(&daemon);

  /* 2. The device's check, on the last token the daemon issued. It was
   * issued to a client device; the check is the meter's. */
  static stw_pep_t pep;
  if ((st = stw_pep_init(&pep, domain_spki, domain_spki_len, AUDIENCE, 60)) != STW_OK)
    die("pep init", st);
  const stw_buf_t *tok = &run.last_token;
  stw_pep_token_t checked;
  const bench_device_t *holder = NULL;
  if ((st = stw_pep_check_token(&pep, tok->data, tok->len, stw_now(), &checked)) != STW_OK)
    die("check the issued token", st);
  for (unsigned i = 0; i < sessions && holder == NULL; i++)
    if (stw_pep_authorize(&pep, &checked, clients[i].spki, clients[i].spki_len, RESOURCE, strlen(RESOURCE),
                          STW_AIF_GET, stw_now()) == STW_OK)
      holder = &clients[i];
  if (holder == NULL)
    die("no device holds the token's cnf key", STW_ERR_UNAUTHENTICATED);
  int64_t now = stw_now();
  t0 = stw_monotonic_us();
  for (unsigned i = 0; i < checks; i++) {
    if (stw_pep_check_token(&pep, tok->data, tok->len, now, &checked) != STW_OK ||
        stw_pep_authorize(&pep, &checked, holder->spki, holder->spki_len, RESOURCE, strlen(RESOURCE), STW_AIF_GET,
                          now) != STW_OK)
      die("check", STW_ERR_CRYPTO);
  }
  double check_us = (stw_monotonic_us() - t0) / (double)checks;
  /* The raw verify again, now, so both sit at the same clock and load. */
  crypto_t raw2 = raw_crypto(domain->ca_key, domain_spki, domain_spki_len, checks);
  stw_pep_deinit(&pep);

  /* 3. Sizes: the claims of that very token, as a JWT. */
  stw_cose_sign1_t cose;
  stw_cwt_t claims;
  if ((st = stw_cose_sign1_parse(tok->data, tok->len, &cose)) != STW_OK ||
      (st = stw_cwt_parse_claims(cose.payload, cose.payload_len, &claims)) != STW_OK)
    die("parse the token", st);
  size_t jwt = stw_cwt_to_jwt_size(&claims, cose.kid, cose.kid_len);

  /* The figures. */
  double sign_rate = 1e6 / raw.sign_us, share = rate / sign_rate;
  double ratio = check_us / raw2.verify_us;
  printf("\n== 1. tokens issued by the daemon (POST /token, ES256 CWT, durable: answered after its group commit)\n");
  printf("persistent DTLS sessions, NO handshake in any timed request: %u devices x 1 in flight, %u requests: "
         "%u issued, %u failed in %.2f s\n", sessions, requests, persistent_ok, persistent_failed, took / 1e6);
  printf("  %.0f tokens/s (latency p50 %.2f ms, p99 %.2f ms) vs raw ES256 sign %.0f/s: %.0f%%   target >= 70%%   %s\n",
         rate, p50, p99, sign_rate, 100 * share, verdict(share >= 0.70 && persistent_failed == 0));
  if (persistent_ok > 0 && daemon_cpu > 0)
    printf("  where it goes: the daemon used %.0f us of CPU per token (%.0f%% of a core over the run; the ES256 sign is "
           "%.0f us of it), this client %.0f us per request; with the daemon's CPU alone the ceiling is %.0f tokens/s "
           "per core\n", daemon_cpu / persistent_ok, 100 * daemon_cpu / (double)took, raw.sign_us,
           own_cpu / persistent_ok, 1e6 * persistent_ok / daemon_cpu);
  printf("  for contrast, a full DTLS handshake (LDevID) in EVERY request, one at a time: %.0f tokens/s "
         "(%u issued, %u failed)\n", hs_rate, hs_ok, hs_failed);
  printf("\n== 2. the device's check (stw_pep_check_token + stw_pep_authorize, a real issued token, %u times)\n",
         checks);
  printf("  %.1f us per check vs one raw ES256 verify (stw_spki_verify) %.1f us: %.2fx   target <= 1.2x   %s\n",
         check_us, raw2.verify_us, ratio, verdict(ratio <= 1.2));
  printf("\n== 3. token size (the issued token: iss, sub, aud, iat, exp, 16-byte cti, cnf P-256 key, 1 scope entry, "
         "%zu-byte kid)\n", cose.kid_len);
  printf("  CWT %zu bytes vs the same claims as a JWT (ES256, compact) %zu bytes: %.0f%%   target: smaller than the "
         "JWT (the issue names no number)   %s\n", tok->len, jwt, 100.0 * tok->len / (double)jwt,
         verdict(tok->len < jwt));
  printf("\n== 4. the PEP's code size and peak stack (device/pep.c, lib/cwt_claims.c, lib/cbor_reader.c, gcc -Os)\n");
  pep_size_t ps = run_pep_size();
  if (ps.ran && ps.code > 0 && ps.chain > 0) {
    /* The issue names no number; RFC 7228 class 1 (~100 KiB code, ~10 KiB RAM) is the device we aim at. */
    printf("  code %ld bytes   target <= 100 KiB flash of an RFC 7228 class-1 device (assumed; the issue names no "
           "number)   %s\n", ps.code, verdict(ps.code <= 100 * 1024));
    printf("  peak stack %ld bytes in the PEP's own frames (+ nettle's verify and SHA-256 frames)   target <= 2 KiB "
           "(assumed: a fifth of class-1 RAM)   %s\n", ps.chain, verdict(ps.chain <= 2048));
    if (ps.pep_ram > 0)
      printf("  stw_pep_t %ld bytes of RAM with the default 16 tokens / 64 revoked ids   target <= 10 KiB "
             "(class-1 RAM, assumed)   %s\n", ps.pep_ram, verdict(ps.pep_ram <= 10 * 1024));
  } else {
    printf("  bench/pep_size.sh did not run to the end: MISS (run it by hand)\n");
  }
  printf("\ndaemon stopped (exit %d)\n", daemon_rc);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);

  stw_buf_free(&run.body, false);
  stw_buf_free(&run.last_token, false);
  for (unsigned i = 0; i < sessions; i++) {
    stw_buf_free(&clients[i].cert_pem, false);
    stw_buf_free(&clients[i].key_pem, true);
  }
  stw_buf_free(&meter.cert_pem, false);
  stw_buf_free(&meter.key_pem, true);
  free(clients);
  stw_domain_close(domain);
  return 0;
}
