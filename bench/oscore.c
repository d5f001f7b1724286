/* bench/oscore: device to device (issue 5), all figures in one run.
 *
 *   bench/oscore [--steward PATH]
 *
 * 1. Bytes on the wire for GET /temp answered 2.05 "21": what OSCORE adds to
 *    the request and to the response (protected CoAP message size minus
 *    unprotected CoAP message size, both encoded here from real lib/oscore
 *    protect output), beside what DTLS 1.2 adds to the same exchange,
 *    MEASURED: the datagrams of one GET on an established DTLS-RPK session
 *    to a real stw_thing pass through a UDP relay in this program, which
 *    counts their bytes; the CoAP message sizes come from the PDUs libcoap
 *    sent and received. Target: <= 13 B per OSCORE request.
 * 2. protect + unprotect per message (request, response) beside raw
 *    AES-CCM-16-64-128 (GnuTLS gnutls_aead_cipher_encrypt + decrypt,
 *    GNUTLS_CIPHER_AES_128_CCM_8) of the same plaintext with an AAD of the
 *    same length, in the same run. Target: <= 2x.
 * 3. Device-to-device requests/s over DTLS-RPK: stw_thing_call (one DTLS
 *    handshake per call), and over one persistent DTLS session driven with
 *    libcoap; DTLS-RPK handshakes/s.
 * 4. Requests/s over OSCORE, lib/oscore driven directly (the protocol's own
 *    cost, without libcoap; stw_thing_call_oscore is exercised by
 *    it_oscore, not timed here): protect -> UDP loopback -> unprotect ->
 *    handler -> protect -> UDP -> unprotect, two sockets, a responder
 *    thread.
 *
 * The meter (the thing) and the caller are real devices: imprinted by a
 * manufacturer, their vouchers imported, bootstrapped against `steward
 * serve`, as tests/integration/it_thing.c does. Tokens are minted as the
 * domain's PDP signs them. Everything shares this machine's cores. */
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cwt.h"
#include "domain/domain.h"
#include "enroll/enroll.h"
#include "oscore.h"
#include "pki.h"
#include "spawn.h"
#include "steward/authz.h"
#include "steward/bootstrap.h"
#include "steward/device.h"
#include "steward/thing.h"
#include "store/store.h"

#include "factory.h"

#define DOMAIN_NAME "bench.example"
#define PATH "temp"
#define ANSWER "21"
#define TOKEN_LEN 2
#define MSG_MAX 256
#define REC_MAX 64

static void die(const char *what, stw_status_t st)
{
  fprintf(stderr, "bench/oscore: %s: %s\n", what, stw_status_str(st));
  exit(1);
}

static const char *verdict(bool ok)
{
  return ok ? "PASS" : "MISS";
}

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double per_second(uint64_t n, uint64_t ns)
{
  return ns ? (double)n * 1e9 / (double)ns : 0;
}

/* ---- a minimal CoAP message codec (RFC 7252 3), enough for these messages ---------------- */

typedef struct {
  uint8_t code;
  uint16_t mid;
  uint8_t token[8];
  size_t token_len;
  const uint8_t *options;   /* serialized, deltas from 0 */
  size_t options_len;
  const uint8_t *payload;
  size_t payload_len;
} coap_msg_t;

static size_t coap_encode(const coap_msg_t *m, uint8_t *out, size_t cap)
{
  size_t need = 4 + m->token_len + m->options_len + (m->payload_len ? 1 + m->payload_len : 0);
  if (need > cap || m->token_len > 8)
    return 0;
  size_t n = 0;
  out[n++] = (uint8_t)(0x40 | m->token_len);  /* version 1, CON */
  out[n++] = m->code;
  out[n++] = (uint8_t)(m->mid >> 8);
  out[n++] = (uint8_t)m->mid;
  memcpy(out + n, m->token, m->token_len);
  n += m->token_len;
  if (m->options_len) {
    memcpy(out + n, m->options, m->options_len);
    n += m->options_len;
  }
  if (m->payload_len) {
    out[n++] = 0xff;
    memcpy(out + n, m->payload, m->payload_len);
    n += m->payload_len;
  }
  return n;
}

/* Split a message; options stay serialized. The OSCORE option's value is
 * returned when present (it is the only option these outer messages carry
 * besides none). */
static bool coap_decode(const uint8_t *buf, size_t len, coap_msg_t *m, const uint8_t **osc, size_t *osc_len,
                        bool *has_osc)
{
  const uint8_t *p = buf, *end = buf + len;
  if (len < 4 || (buf[0] >> 6) != 1 || (buf[0] & 15) > 8)
    return false;
  memset(m, 0, sizeof(*m));
  m->token_len = buf[0] & 15u;
  m->code = buf[1];
  m->mid = (uint16_t)(buf[2] << 8 | buf[3]);
  p += 4;
  if ((size_t)(end - p) < m->token_len)
    return false;
  memcpy(m->token, p, m->token_len);
  p += m->token_len;
  m->options = p;
  *has_osc = false;
  uint32_t number = 0;
  while (p < end && *p != 0xff) {
    uint32_t delta = *p >> 4, olen = *p & 15u;
    p++;
    uint32_t *fields[2] = { &delta, &olen };
    for (int i = 0; i < 2; i++) {
      if (*fields[i] == 13) {
        if (p >= end)
          return false;
        *fields[i] = 13u + *p++;
      } else if (*fields[i] == 14) {
        if (end - p < 2)
          return false;
        *fields[i] = 269u + ((uint32_t)p[0] << 8 | p[1]);
        p += 2;
      } else if (*fields[i] == 15) {
        return false;
      }
    }
    if ((size_t)(end - p) < olen)
      return false;
    number += delta;
    if (number == STW_COAP_OPTION_OSCORE) {
      *has_osc = true;
      *osc = p;
      *osc_len = olen;
    }
    p += olen;
  }
  m->options_len = (size_t)(p - m->options);
  if (p < end) {
    p++;  /* the marker */
    if (p == end)
      return false;
    m->payload = p;
    m->payload_len = (size_t)(end - p);
  }
  return true;
}

/* ---- OSCORE: contexts and one exchange ---------------------------------------------------- */

typedef struct {
  stw_oscore_ctx_t client, server;
} osc_pair_t;

static void osc_pair(const uint8_t *client_id, size_t client_id_len, const uint8_t *server_id, size_t server_id_len,
                     osc_pair_t *pair)
{
  static const uint8_t secret[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  static const uint8_t salt[8] = { 0x9e, 0x7c, 0xa9, 0x22, 0x23, 0x78, 0x63, 0x40 };
  stw_oscore_params_t p = { .master_secret = secret, .master_secret_len = sizeof(secret), .master_salt = salt,
                            .master_salt_len = sizeof(salt), .sender_id = client_id,
                            .sender_id_len = client_id_len, .recipient_id = server_id,
                            .recipient_id_len = server_id_len };
  if (stw_oscore_ctx_derive(&pair->client, &p) != STW_OK)
    die("oscore client context", STW_ERR_CRYPTO);
  p.sender_id = server_id;
  p.sender_id_len = server_id_len;
  p.recipient_id = client_id;
  p.recipient_id_len = client_id_len;
  if (stw_oscore_ctx_derive(&pair->server, &p) != STW_OK)
    die("oscore server context", STW_ERR_CRYPTO);
}

/* The Class E options of GET /temp. */
static size_t get_options(uint8_t *out, size_t cap)
{
  size_t len = 0;
  uint16_t last = 0;
  if (stw_oscore_opt_put(out, cap, &len, &last, 11, (const uint8_t *)PATH, strlen(PATH)) != STW_OK)
    die("options", STW_ERR_TOO_LARGE);
  return len;
}

/* Client: GET /temp protected into a CoAP message (outer POST, OSCORE option). */
static size_t osc_request(stw_oscore_ctx_t *client, uint16_t mid, uint8_t *out, size_t cap,
                          stw_oscore_request_t *binding)
{
  uint8_t inner_opts[32], option[STW_OSCORE_OPTION_MAX], ct[MSG_MAX], outer_opts[64];
  stw_oscore_msg_t msg = { .code = 0x01, .options = inner_opts,
                           .options_len = get_options(inner_opts, sizeof(inner_opts)) };
  size_t option_len, ct_len, outer_len = 0;
  uint16_t last = 0;
  if (stw_oscore_protect_request(client, &msg, false, option, sizeof(option), &option_len, ct, sizeof(ct), &ct_len,
                                 binding) != STW_OK ||
      stw_oscore_opt_put(outer_opts, sizeof(outer_opts), &outer_len, &last, STW_COAP_OPTION_OSCORE, option,
                         option_len) != STW_OK)
    die("protect request", STW_ERR_CRYPTO);
  coap_msg_t m = { .code = 0x02, .mid = mid, .token = { 0xa5, (uint8_t)mid }, .token_len = TOKEN_LEN,
                   .options = outer_opts, .options_len = outer_len, .payload = ct, .payload_len = ct_len };
  return coap_encode(&m, out, cap);
}

/* Server: unprotect a request, run the handler (GET /temp -> 2.05 "21"),
 * protect the answer (Outer Code 2.04, empty OSCORE option). 0 on failure. */
static size_t osc_serve(stw_oscore_ctx_t *server, const uint8_t *in, size_t in_len, uint8_t *out, size_t cap)
{
  coap_msg_t m;
  const uint8_t *osc = NULL;
  size_t osc_len = 0;
  bool has_osc;
  stw_oscore_option_t opt;
  if (!coap_decode(in, in_len, &m, &osc, &osc_len, &has_osc) || !has_osc ||
      stw_oscore_option_parse(osc, osc_len, &opt) != STW_OK || !stw_oscore_ctx_matches(server, &opt))
    return 0;
  uint8_t pt[MSG_MAX];
  stw_oscore_msg_t req;
  stw_oscore_request_t binding;
  if (stw_oscore_unprotect_request(server, &opt, m.payload, m.payload_len, pt, sizeof(pt), &req, &binding) != STW_OK)
    return 0;
  const uint8_t *v;
  size_t vlen;
  bool ok = req.code == 0x01 && stw_oscore_msg_find_option(&req, 11, &v, &vlen) == STW_OK &&
            vlen == strlen(PATH) && memcmp(v, PATH, vlen) == 0;
  stw_oscore_msg_t ans = { .code = ok ? 0x45 : 0x84, .payload = (const uint8_t *)ANSWER,
                           .payload_len = ok ? strlen(ANSWER) : 0 };
  uint8_t option[STW_OSCORE_OPTION_MAX], ct[MSG_MAX], outer_opts[16];
  size_t option_len, ct_len, outer_len = 0;
  uint16_t last = 0;
  if (stw_oscore_protect_response(server, &binding, &ans, false, option, sizeof(option), &option_len, ct, sizeof(ct),
                                  &ct_len) != STW_OK ||
      stw_oscore_opt_put(outer_opts, sizeof(outer_opts), &outer_len, &last, STW_COAP_OPTION_OSCORE, option,
                         option_len) != STW_OK)
    return 0;
  coap_msg_t r = { .code = 0x44, .mid = m.mid, .token_len = m.token_len, .options = outer_opts,
                   .options_len = outer_len, .payload = ct, .payload_len = ct_len };
  memcpy(r.token, m.token, m.token_len);
  return coap_encode(&r, out, cap);
}

/* Client: verify the answer to binding; true when it is 2.05 "21". */
static bool osc_answer_ok(stw_oscore_ctx_t *client, const stw_oscore_request_t *binding, const uint8_t *in,
                          size_t in_len)
{
  coap_msg_t m;
  const uint8_t *osc = NULL;
  size_t osc_len = 0;
  bool has_osc;
  stw_oscore_option_t opt;
  if (!coap_decode(in, in_len, &m, &osc, &osc_len, &has_osc) || !has_osc ||
      stw_oscore_option_parse(osc, osc_len, &opt) != STW_OK)
    return false;
  uint8_t pt[MSG_MAX];
  stw_oscore_msg_t ans;
  if (stw_oscore_unprotect_response(client, binding, &opt, m.payload, m.payload_len, pt, sizeof(pt), &ans) != STW_OK)
    return false;
  return ans.code == 0x45 && ans.payload_len == strlen(ANSWER) && memcmp(ans.payload, ANSWER, ans.payload_len) == 0;
}

/* The unprotected messages of the same exchange. */
static size_t plain_request_size(void)
{
  uint8_t opts[32], out[MSG_MAX];
  coap_msg_t m = { .code = 0x01, .mid = 1, .token = { 0xa5, 1 }, .token_len = TOKEN_LEN, .options = opts,
                   .options_len = get_options(opts, sizeof(opts)) };
  return coap_encode(&m, out, sizeof(out));
}

static size_t plain_response_size(void)
{
  uint8_t out[MSG_MAX];
  coap_msg_t m = { .code = 0x45, .mid = 1, .token = { 0xa5, 1 }, .token_len = TOKEN_LEN,
                   .payload = (const uint8_t *)ANSWER, .payload_len = strlen(ANSWER) };
  return coap_encode(&m, out, sizeof(out));
}

typedef struct {
  size_t request, response;   /* bytes OSCORE adds */
} osc_overhead_t;

/* Overhead at a given Sender Sequence Number (it sets the Partial IV length). */
static osc_overhead_t osc_overhead(const uint8_t *client_id, size_t client_id_len, const uint8_t *server_id,
                                   size_t server_id_len, uint64_t ssn)
{
  osc_pair_t pair;
  osc_pair(client_id, client_id_len, server_id, server_id_len, &pair);
  pair.client.ssn = ssn;
  uint8_t req[MSG_MAX], resp[MSG_MAX];
  stw_oscore_request_t binding;
  size_t req_len = osc_request(&pair.client, 1, req, sizeof(req), &binding);
  size_t resp_len = osc_serve(&pair.server, req, req_len, resp, sizeof(resp));
  if (req_len == 0 || resp_len == 0 || !osc_answer_ok(&pair.client, &binding, resp, resp_len))
    die("oscore exchange", STW_ERR_CRYPTO);
  osc_overhead_t o = { req_len - plain_request_size(), resp_len - plain_response_size() };
  stw_oscore_ctx_wipe(&pair.client);
  stw_oscore_ctx_wipe(&pair.server);
  return o;
}

/* ---- 2. protect + unprotect beside raw AES-CCM ------------------------------------------------ */

typedef struct {
  double req_ns, resp_ns;           /* protect + unprotect, per message */
  double raw_req_ns, raw_resp_ns;   /* encrypt + decrypt, handle kept */
  double init_req_ns, init_resp_ns; /* encrypt + decrypt, handle made per message (what lib/oscore did before nettle's one-shot CCM) */
  size_t req_pt, resp_pt, aad_len;
} timing_t;

static double raw_ccm(size_t pt_len, size_t aad_len, unsigned n, bool init_each)
{
  uint8_t key[16] = { 7 }, nonce[13] = { 3 }, pt[64] = { 0x01, 0xb4, 't', 'e', 'm', 'p' }, aad[64] = { 0x83 };
  uint8_t ct[96], back[64];
  gnutls_datum_t k = { key, sizeof(key) };
  gnutls_aead_cipher_hd_t h = NULL;
  uint64_t t0 = now_ns();
  for (unsigned i = 0; i < n; i++) {
    nonce[12] = (uint8_t)i;
    nonce[11] = (uint8_t)(i >> 8);
    if (init_each || h == NULL) {
      if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_CCM_8, &k) != 0)
        die("gnutls aead init", STW_ERR_CRYPTO);
    }
    size_t ct_len = sizeof(ct), back_len = sizeof(back);
    if (gnutls_aead_cipher_encrypt(h, nonce, sizeof(nonce), aad, aad_len, 8, pt, pt_len, ct, &ct_len) != 0)
      die("gnutls encrypt", STW_ERR_CRYPTO);
    if (init_each) {
      gnutls_aead_cipher_deinit(h);
      if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_CCM_8, &k) != 0)
        die("gnutls aead init", STW_ERR_CRYPTO);
    }
    if (gnutls_aead_cipher_decrypt(h, nonce, sizeof(nonce), aad, aad_len, 8, ct, ct_len, back, &back_len) != 0 ||
        back_len != pt_len)
      die("gnutls decrypt", STW_ERR_CRYPTO);
    if (init_each) {
      gnutls_aead_cipher_deinit(h);
      h = NULL;
    }
  }
  uint64_t ns = now_ns() - t0;
  if (h != NULL)
    gnutls_aead_cipher_deinit(h);
  return (double)ns / n;
}

static timing_t time_protect(unsigned n)
{
  timing_t t;
  memset(&t, 0, sizeof(t));
  static const uint8_t cid[] = { 0x5e, 0x00 }, sid[] = { 0x01 };  /* the longest kid a thing hands out: the worst case */
  osc_pair_t pair;
  osc_pair(cid, sizeof(cid), sid, sizeof(sid), &pair);
  uint8_t inner_opts[32], option[STW_OSCORE_OPTION_MAX], ct[MSG_MAX], pt[MSG_MAX];
  stw_oscore_msg_t msg = { .code = 0x01, .options = inner_opts,
                           .options_len = get_options(inner_opts, sizeof(inner_opts)) };
  stw_oscore_msg_t ans = { .code = 0x45, .payload = (const uint8_t *)ANSWER, .payload_len = strlen(ANSWER) };
  t.req_pt = 1 + msg.options_len;
  t.resp_pt = 1 + 1 + ans.payload_len;
  uint8_t aad[STW_OSCORE_AAD_MAX], piv[STW_OSCORE_PIV_MAX];
  size_t piv_len;
  if (stw_oscore_piv_encode(1000, piv, &piv_len) != STW_OK ||
      stw_oscore_aad_encode(cid, sizeof(cid), piv, piv_len, aad, sizeof(aad), &t.aad_len) != STW_OK)
    die("aad", STW_ERR_CRYPTO);
  pair.client.ssn = 1000;  /* a 2-byte Partial IV, as for most of a context's life */
  uint64_t req_ns = 0, resp_ns = 0;
  for (unsigned i = 0; i < n + n / 10; i++) {  /* the first tenth warms up */
    size_t option_len, ct_len;
    stw_oscore_request_t b1, b2;
    stw_oscore_option_t opt;
    stw_oscore_msg_t got;
    uint64_t t0 = now_ns();
    if (stw_oscore_protect_request(&pair.client, &msg, false, option, sizeof(option), &option_len, ct, sizeof(ct),
                                   &ct_len, &b1) != STW_OK ||
        stw_oscore_option_parse(option, option_len, &opt) != STW_OK ||
        stw_oscore_unprotect_request(&pair.server, &opt, ct, ct_len, pt, sizeof(pt), &got, &b2) != STW_OK)
      die("request protect/unprotect", STW_ERR_CRYPTO);
    uint64_t t1 = now_ns();
    if (stw_oscore_protect_response(&pair.server, &b2, &ans, false, option, sizeof(option), &option_len, ct,
                                    sizeof(ct), &ct_len) != STW_OK ||
        stw_oscore_option_parse(option, option_len, &opt) != STW_OK ||
        stw_oscore_unprotect_response(&pair.client, &b1, &opt, ct, ct_len, pt, sizeof(pt), &got) != STW_OK)
      die("response protect/unprotect", STW_ERR_CRYPTO);
    uint64_t t2 = now_ns();
    if (i >= n / 10) {
      req_ns += t1 - t0;
      resp_ns += t2 - t1;
    }
  }
  t.req_ns = (double)req_ns / n;
  t.resp_ns = (double)resp_ns / n;
  (void)raw_ccm(t.req_pt, t.aad_len, n / 10, false);  /* warm-up */
  t.raw_req_ns = raw_ccm(t.req_pt, t.aad_len, n, false);
  t.raw_resp_ns = raw_ccm(t.resp_pt, t.aad_len, n, false);
  t.init_req_ns = raw_ccm(t.req_pt, t.aad_len, n, true);
  t.init_resp_ns = raw_ccm(t.resp_pt, t.aad_len, n, true);
  stw_oscore_ctx_wipe(&pair.client);
  stw_oscore_ctx_wipe(&pair.server);
  return t;
}

/* ---- 4. OSCORE over UDP loopback ------------------------------------------------------------ */

typedef struct {
  int fd;
  stw_oscore_ctx_t *server;
  atomic_bool stop;
  atomic_uint served, refused;
} responder_t;

static void *respond(void *arg)
{
  responder_t *r = arg;
  uint8_t in[MSG_MAX], out[MSG_MAX];
  while (!atomic_load(&r->stop)) {
    struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
    if (poll(&pfd, 1, 50) <= 0)
      continue;
    struct sockaddr_in from;
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(r->fd, in, sizeof(in), 0, (struct sockaddr *)&from, &from_len);
    if (n <= 0)
      continue;
    size_t out_len = osc_serve(r->server, in, (size_t)n, out, sizeof(out));
    if (out_len == 0) {
      atomic_fetch_add(&r->refused, 1);
      continue;
    }
    atomic_fetch_add(&r->served, 1);
    (void)sendto(r->fd, out, out_len, 0, (struct sockaddr *)&from, from_len);
  }
  return NULL;
}

static int udp_socket(uint16_t *port)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t alen = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
    die("udp socket", STW_ERR_IO);
  *port = ntohs(a.sin_port);
  return fd;
}

static void connect_to(int fd, uint16_t port)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
    die("udp connect", STW_ERR_IO);
}

/* One request at a time for up to budget_ns or n requests; *ok_out answered. */
static double oscore_rps(unsigned n, uint64_t budget_ns, unsigned *ok_out)
{
  static const uint8_t cid[] = { 0x5e, 0x00 }, sid[] = { 0x01 };
  osc_pair_t pair;
  osc_pair(cid, sizeof(cid), sid, sizeof(sid), &pair);
  uint16_t server_port, client_port;
  responder_t r = { .fd = udp_socket(&server_port), .server = &pair.server };
  int cfd = udp_socket(&client_port);
  connect_to(cfd, server_port);
  pthread_t th;
  if (pthread_create(&th, NULL, respond, &r) != 0)
    die("thread", STW_ERR_NOMEM);
  unsigned ok = 0, i;
  uint8_t req[MSG_MAX], resp[MSG_MAX];
  uint64_t t0 = now_ns();
  for (i = 0; i < n && now_ns() - t0 < budget_ns; i++) {
    stw_oscore_request_t binding;
    size_t len = osc_request(&pair.client, (uint16_t)i, req, sizeof(req), &binding);
    if (send(cfd, req, len, 0) != (ssize_t)len)
      continue;
    struct pollfd pfd = { .fd = cfd, .events = POLLIN };
    if (poll(&pfd, 1, 1000) <= 0)
      continue;
    ssize_t got = recv(cfd, resp, sizeof(resp), 0);
    if (got > 0 && osc_answer_ok(&pair.client, &binding, resp, (size_t)got))
      ok++;
  }
  uint64_t ns = now_ns() - t0;
  atomic_store(&r.stop, true);
  pthread_join(th, NULL);
  close(cfd);
  close(r.fd);
  stw_oscore_ctx_wipe(&pair.client);
  stw_oscore_ctx_wipe(&pair.server);
  *ok_out = ok;
  return per_second(i, ns);
}

/* ---- the UDP relay that counts DTLS datagrams --------------------------------------------- */

typedef struct {
  int front, back;            /* front: clients send here; back: connected to the thing */
  struct sockaddr_in client;
  socklen_t client_len;
  atomic_bool stop, recording;
  atomic_uint n_up, n_down;   /* datagrams recorded */
  size_t up[REC_MAX], down[REC_MAX];
  uint8_t up_type[REC_MAX], down_type[REC_MAX];
  atomic_ullong bytes_up, bytes_down;   /* everything relayed */
} relay_t;

static void *relay_loop(void *arg)
{
  relay_t *r = arg;
  uint8_t buf[4096];
  while (!atomic_load(&r->stop)) {
    struct pollfd pfd[2] = { { .fd = r->front, .events = POLLIN }, { .fd = r->back, .events = POLLIN } };
    if (poll(pfd, 2, 50) <= 0)
      continue;
    if (pfd[0].revents & POLLIN) {
      r->client_len = sizeof(r->client);
      ssize_t n = recvfrom(r->front, buf, sizeof(buf), 0, (struct sockaddr *)&r->client, &r->client_len);
      if (n > 0) {
        atomic_fetch_add(&r->bytes_up, (unsigned long long)n);
        unsigned k = atomic_load(&r->n_up);
        if (atomic_load(&r->recording) && k < REC_MAX) {
          r->up[k] = (size_t)n;
          r->up_type[k] = buf[0];
          atomic_store(&r->n_up, k + 1);
        }
        (void)send(r->back, buf, (size_t)n, 0);
      }
    }
    if (pfd[1].revents & POLLIN) {
      ssize_t n = recv(r->back, buf, sizeof(buf), 0);
      if (n > 0 && r->client_len > 0) {
        atomic_fetch_add(&r->bytes_down, (unsigned long long)n);
        unsigned k = atomic_load(&r->n_down);
        if (atomic_load(&r->recording) && k < REC_MAX) {
          r->down[k] = (size_t)n;
          r->down_type[k] = buf[0];
          atomic_store(&r->n_down, k + 1);
        }
        (void)sendto(r->front, buf, (size_t)n, 0, (struct sockaddr *)&r->client, r->client_len);
      }
    }
  }
  return NULL;
}

/* ---- libcoap: a DTLS-RPK client on one session ---------------------------------------------- */

typedef struct {
  const uint8_t *thing_spki;
  size_t thing_spki_len;
  bool key_ok;
  bool waiting;
  unsigned code;
  size_t req_size, resp_size;   /* CoAP message sizes of the last exchange */
} client_t;

static client_t cl;

/* The bytes of a CoAP message over DTLS/UDP (RFC 7252 3). */
static size_t pdu_size(const coap_pdu_t *pdu)
{
  coap_bin_const_t tok = coap_pdu_get_token(pdu);
  size_t n = 4 + tok.length;
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  coap_option_iterator_init(pdu, &oi, COAP_OPT_ALL);
  while ((opt = coap_option_next(&oi)) != NULL)
    n += coap_opt_size(opt);
  size_t len = 0;
  const uint8_t *data = NULL;
  if (coap_get_data(pdu, &len, &data) && len > 0)
    n += 1 + len;
  return n;
}

static int check_thing_key(const char *cn, const uint8_t *der, size_t len, coap_session_t *session, unsigned depth,
                           int validated, void *arg)
{
  (void)session;
  (void)validated;
  (void)arg;
  if (depth != 0)
    return 1;
  cl.key_ok = strcmp(cn, COAP_DTLS_RPK_CERT_CN) == 0 && len == cl.thing_spki_len &&
              memcmp(der, cl.thing_spki, len) == 0;
  return cl.key_ok ? 1 : 0;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
  (void)session;
  (void)mid;
  cl.code = (unsigned)coap_pdu_get_code(received);
  cl.resp_size = pdu_size(received);
  if (sent != NULL)
    cl.req_size = pdu_size(sent);
  cl.waiting = false;
  return COAP_RESPONSE_OK;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
  (void)session;
  (void)sent;
  (void)reason;
  (void)mid;
  cl.code = 0;
  cl.waiting = false;
}

static coap_session_t *open_rpk(coap_context_t *ctx, uint16_t port, stw_buf_t *key_pem)
{
  coap_dtls_pki_t pki;
  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.verify_peer_cert = 0;  /* the thing's key is checked against its LDevID's below */
  pki.is_rpk_not_cert = 1;
  pki.validate_cn_call_back = check_thing_key;
  pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
  pki.pki_key.key.pem_buf.public_cert = key_pem->data;
  pki.pki_key.key.pem_buf.public_cert_len = key_pem->len;
  pki.pki_key.key.pem_buf.private_key = key_pem->data;
  pki.pki_key.key.pem_buf.private_key_len = key_pem->len;
  coap_address_t addr;
  coap_address_init(&addr);
  addr.size = sizeof(addr.addr.sin);
  addr.addr.sin.sin_family = AF_INET;
  addr.addr.sin.sin_port = htons(port);
  addr.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return coap_new_client_session_pki(ctx, NULL, &addr, COAP_PROTO_DTLS, &pki);
}

static bool wait_established(coap_context_t *ctx, coap_session_t *s)
{
  uint64_t t0 = now_ns();
  while (coap_session_get_state(s) != COAP_SESSION_STATE_ESTABLISHED && now_ns() - t0 < 5000000000ull) {
    if (coap_session_get_state(s) == COAP_SESSION_STATE_NONE)
      return false;
    coap_io_process(ctx, 20);
  }
  return coap_session_get_state(s) == COAP_SESSION_STATE_ESTABLISHED;
}

/* One request, waited for; the CoAP code of the answer (0: none). */
static unsigned exchange(coap_context_t *ctx, coap_session_t *s, coap_pdu_code_t code, const char *path,
                         const uint8_t *body, size_t len)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, code, coap_new_message_id(s), coap_session_max_pdu_size(s));
  if (pdu == NULL)
    return 0;
  uint8_t token[8];
  size_t token_len = 0;
  coap_session_new_token(s, &token_len, token);
  coap_add_token(pdu, token_len, token);
  coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(path), (const uint8_t *)path);
  if (body != NULL) {
    uint8_t cf[4];
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cf, sizeof(cf), 61), cf);
    coap_add_data(pdu, len, body);
  }
  cl.waiting = true;
  cl.code = 0;
  if (coap_send(s, pdu) == COAP_INVALID_MID)
    return 0;
  uint64_t t0 = now_ns();
  while (cl.waiting && now_ns() - t0 < 5000000000ull)
    coap_io_process(ctx, 20);
  return cl.waiting ? 0 : cl.code;
}

/* ---- the world: domain, daemon, two enrolled devices, the thing ------------------------------ */

typedef struct {
  stw_imprint_t im;
  stw_dev_t *dev;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
} device_t;

static void enroll_device(stw_store_t *store, stw_domain_t *domain, stw_factory_t *f, const char *ca_pem,
                          const char *model, device_t *d)
{
  memset(d, 0, sizeof(*d));
  stw_buf_t v;
  stw_buf_init(&v, STW_VOUCHER_MAX);
  char id[STW_ID_HEX], diag[192] = "";
  stw_status_t st = stw_factory_imprint(f, model, false, &d->im);
  if (st == STW_OK)
    st = stw_dev_new_memory((const char *)d->im.idevid_pem.data, ca_pem, NULL, NULL, &d->dev);
  if (st == STW_OK)
    st = stw_factory_voucher(f, &d->im, domain->ca.spki, domain->ca.spki_len, 86400, &v);
  if (st == STW_OK)
    st = stw_enroll_import_voucher(store, domain, v.data, v.len, id, diag, sizeof(diag));
  stw_buf_free(&v, false);
  if (st != STW_OK)
    die(diag[0] ? diag : "device", st);
}

static void ldevid_spki(stw_store_t *store, device_t *d)
{
  stw_device_t row;
  stw_cert_info_t info;
  if (stw_store_device_get(store, stw_dev_id(d->dev), &row) != STW_OK)
    die("device row", STW_ERR_NOT_FOUND);
  if (stw_cert_parse(row.ldevid, row.ldevid_len, &info) != STW_OK)
    die("LDevID", STW_ERR_MALFORMED);
  memcpy(d->spki, info.spki, info.spki_len);
  d->spki_len = info.spki_len;
  stw_device_clear(&row);
}

/* A token as the domain's PDP signs it: GET /temp at the meter, bound to holder_spki. */
static void mint(const stw_domain_t *domain, const char *audience, const char *subject, const uint8_t *holder_spki,
                 size_t holder_spki_len, uint8_t cti_byte, stw_buf_t *out)
{
  stw_cwt_t c;
  stw_cwt_init(&c);
  c.iss = DOMAIN_NAME;
  c.iss_len = strlen(DOMAIN_NAME);
  c.aud = audience;
  c.aud_len = strlen(audience);
  c.sub = subject;
  c.sub_len = strlen(subject);
  c.iat = stw_now() - 5;
  c.exp = stw_now() + 3600;
  memset(c.cti, cti_byte, 16);
  c.cti_len = 16;
  c.cnf_kind = STW_PEP_CNF_KEY;
  if (stw_spki_to_xy(holder_spki, holder_spki_len, c.cnf_x, c.cnf_y) != STW_OK ||
      stw_aif_add(&c.scope, "/" PATH, strlen("/" PATH), STW_AIF_GET) != STW_OK)
    die("token claims", STW_ERR_INVALID);
  c.present = STW_CWT_HAS_ISS | STW_CWT_HAS_AUD | STW_CWT_HAS_SUB | STW_CWT_HAS_IAT | STW_CWT_HAS_EXP |
              STW_CWT_HAS_CTI | STW_CWT_HAS_CNF | STW_CWT_HAS_SCOPE;
  stw_buf_init(out, STW_PEP_TOKEN_MAX);
  stw_status_t st = stw_cwt_encode_sign(&c, domain->ca_key, NULL, 0, out);
  if (st != STW_OK)
    die("token", st);
}

typedef struct {
  size_t kid_len;     /* the Recipient ID the thing gave the client */
  size_t overhead;    /* bytes the protected datagram adds to the same GET unprotected */
} wire_overhead_t;

/* The first OSCORE request the SDK sends to a fresh stw_thing: a token
 * with OSCORE material minted for the caller (the Master Secret sealed to
 * the meter's key, as the domain's PDP does), the post to /authz-info, one
 * GET; its datagram beside the same GET unprotected with the same token. */
static wire_overhead_t oscore_wire_overhead(const stw_domain_t *domain, const device_t *meter, const device_t *caller,
                                            uint16_t osc_port)
{
  stw_oscore_material_t mat;
  memset(&mat, 0, sizeof(mat));
  mat.ms_len = 32, mat.salt_len = 8, mat.id_len = 4;
  stw_buf_t sealed = { 0 }, token;
  stw_cwt_t c;
  stw_cwt_init(&c);
  if (stw_random(mat.ms, mat.ms_len) != STW_OK || stw_random(mat.salt, mat.salt_len) != STW_OK ||
      stw_random(mat.id, mat.id_len) != STW_OK ||
      stw_seal(meter->spki, meter->spki_len, (const uint8_t *)STW_CWT_OSC_SEAL_INFO, sizeof(STW_CWT_OSC_SEAL_INFO) - 1,
               mat.ms, mat.ms_len, &sealed) != STW_OK || sealed.len > sizeof(c.osc_ms_sealed))
    die("oscore material", STW_ERR_CRYPTO);
  const char *aud = stw_dev_name(meter->dev), *sub = stw_dev_id(caller->dev);
  c.iss = DOMAIN_NAME, c.iss_len = strlen(DOMAIN_NAME);
  c.aud = aud, c.aud_len = strlen(aud);
  c.sub = sub, c.sub_len = strlen(sub);
  c.iat = stw_now() - 5;
  c.exp = stw_now() + 3600;
  memset(c.cti, 0x0c, 16);
  c.cti_len = 16;
  c.cnf_kind = STW_CWT_CNF_OSC;
  memcpy(c.osc_id, mat.id, mat.id_len), c.osc_id_len = mat.id_len;
  memcpy(c.osc_salt, mat.salt, mat.salt_len), c.osc_salt_len = mat.salt_len;
  memcpy(c.osc_ms_sealed, sealed.data, sealed.len), c.osc_ms_sealed_len = sealed.len;
  stw_buf_free(&sealed, false);
  if (stw_aif_add(&c.scope, "/" PATH, strlen("/" PATH), STW_AIF_GET) != STW_OK)
    die("token claims", STW_ERR_INVALID);
  c.present = STW_CWT_HAS_ISS | STW_CWT_HAS_AUD | STW_CWT_HAS_SUB | STW_CWT_HAS_IAT | STW_CWT_HAS_EXP |
              STW_CWT_HAS_CTI | STW_CWT_HAS_CNF | STW_CWT_HAS_SCOPE;
  stw_buf_init(&token, STW_PEP_TOKEN_MAX);
  stw_status_t st = stw_cwt_encode_sign(&c, domain->ca_key, NULL, 0, &token);
  if (st != STW_OK)
    die("oscore token", st);
  char uri[64];
  snprintf(uri, sizeof(uri), "coap://127.0.0.1:%u", osc_port);
  stw_oscore_peer_t *peer = NULL;
  uint8_t *answer = NULL;
  if ((st = stw_thing_call_oscore(&peer, uri, token.data, token.len, &mat, STW_AIF_GET, "/" PATH, NULL, 0, NULL,
                                  &answer, NULL)) != STW_OK)
    die("stw_thing_call_oscore", st);
  free(answer);
  size_t len = 0;
  const uint8_t *d = stw_oscore_peer_last_request(peer, &len);
  /* header, token, then the OSCORE option (9, the first outer option) */
  size_t tkl = d[0] & 0x0f, opt_len = d[4 + tkl] & 0x0f;
  if ((d[4 + tkl] >> 4) != 9 || opt_len == 0 || opt_len > 12)
    die("the OSCORE option", STW_ERR_MALFORMED);
  uint8_t flags = d[4 + tkl + 1];
  wire_overhead_t w = { .kid_len = opt_len - 1 - (flags & 7),
                        .overhead = len - (plain_request_size() - TOKEN_LEN + tkl) };
  stw_oscore_peer_free(peer);
  stw_oscore_material_clear(&mat);
  stw_buf_free(&token, false);
  return w;
}

static unsigned read_temp(void *arg, unsigned method, const char *path, const uint8_t *body, size_t len,
                          uint8_t *out, size_t cap, size_t *out_len)
{
  (void)arg;
  (void)method;
  (void)path;
  (void)body;
  (void)len;
  if (cap < strlen(ANSWER))
    return 0xa0;  /* 5.00 */
  memcpy(out, ANSWER, strlen(ANSWER));
  *out_len = strlen(ANSWER);
  return 0x45;
}

typedef struct {
  stw_thing_t *thing;
  atomic_bool stop;
} serve_t;

static void *serve_thing(void *arg)
{
  serve_t *s = arg;
  while (!atomic_load(&s->stop))
    stw_thing_run(s->thing, 20);
  return NULL;
}

/* ---- main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
  const char *steward = STEWARD_BINARY;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--steward") == 0 && i + 1 < argc) {
      steward = argv[++i];
    } else {
      fprintf(stderr, "usage: bench/oscore [--steward PATH]\n");
      return 2;
    }
  }
  printf("bench/oscore on %ld cores (caller, thing and relay share them)\n", sysconf(_SC_NPROCESSORS_ONLN));
  uint64_t run_start = now_ns();

  /* ---- 1a. OSCORE overhead, from real protect output ---- */
  /* The kid of a request is the client's Sender ID, which is the Recipient
   * ID the thing assigned at /authz-info: the empty one for its first
   * client, then 1 byte, then 2 (device/thing_oscore.c). The thing's own
   * Sender ID is the client's ID1, 2 random bytes in the SDK. */
  static const uint8_t id1[] = { 0x9c, 0x41 }, one[] = { 0x01 }, two[] = { 0x01, 0x00 }, none[] = { 0 };
  osc_overhead_t o_none1 = osc_overhead(none, 0, id1, 2, 1);
  osc_overhead_t o_none2 = osc_overhead(none, 0, id1, 2, 1000);
  osc_overhead_t o_one1 = osc_overhead(one, 1, id1, 2, 1);
  osc_overhead_t o_one2 = osc_overhead(one, 1, id1, 2, 1000);
  osc_overhead_t o_two1 = osc_overhead(two, 2, id1, 2, 1);
  osc_overhead_t o_two2 = osc_overhead(two, 2, id1, 2, 1000);
  printf("\n1. bytes added to GET /%s (unprotected %zu B) and its 2.05 \"%s\" (unprotected %zu B), token %d B\n",
         PATH, plain_request_size(), ANSWER, plain_response_size(), TOKEN_LEN);
  printf("   OSCORE (protected - unprotected CoAP message, lib/oscore output; response without Partial IV):\n");
  printf("     client Sender ID (the request's kid)            Partial IV 1 B (SSN < 256)   Partial IV 2 B (SSN < 65536)\n");
  printf("     0 B: the thing's first client                   req %2zu  resp %2zu   req %2zu  resp %2zu\n",
         o_none1.request, o_none1.response, o_none2.request, o_none2.response);
  printf("     1 B: its next 256 live clients                  req %2zu  resp %2zu   req %2zu  resp %2zu\n",
         o_one1.request, o_one1.response, o_one2.request, o_one2.response);
  printf("     2 B: beyond (never, with %d contexts at most)    req %2zu  resp %2zu   req %2zu  resp %2zu\n",
         STW_THING_OSCORE_CONTEXTS, o_two1.request, o_two1.response, o_two2.request, o_two2.response);

  /* ---- 2. protect + unprotect ---- */
  timing_t t = time_protect(200000);

  /* ---- the world for 1b and 3 ---- */
  char dir[] = "/tmp/stw-bench-oscore-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  char data[sizeof(dir) + 8], log_path[sizeof(dir) + 16];
  snprintf(data, sizeof(data), "%s/var", dir);
  snprintf(log_path, sizeof(log_path), "%s/serve.log", dir);
  stw_domain_t *domain = NULL;
  stw_store_t *store = NULL;
  stw_factory_t *factory = NULL;
  stw_status_t st = stw_domain_open(data, DOMAIN_NAME, &domain);
  if (st == STW_OK)
    st = stw_store_open(domain->store_url, &store);
  if (st == STW_OK)
    st = stw_factory_new("Bench Devices", &factory);
  if (st == STW_OK)
    st = stw_store_trust_add(store, factory->name, factory->ca_der.data, factory->ca_der.len);
  if (st != STW_OK)
    die("domain", st);
  stw_rule_t rule;
  memset(&rule, 0, sizeof(rule));
  rule.kind = STW_RULE_GROUP;
  snprintf(rule.model, sizeof(rule.model), "bench-1");
  if ((st = stw_store_rule_add(store, &rule)) != STW_OK)
    die("enrollment rule", st);
  stw_buf_t ca_pem;
  stw_buf_init(&ca_pem, 8192);
  if (stw_der_to_pem("CERTIFICATE", factory->ca_der.data, factory->ca_der.len, &ca_pem) != STW_OK ||
      stw_buf_append(&ca_pem, "", 1) != STW_OK)
    die("CA PEM", STW_ERR_NOMEM);
  device_t meter, caller;
  enroll_device(store, domain, factory, (const char *)ca_pem.data, "bench-1", &meter);
  enroll_device(store, domain, factory, (const char *)ca_pem.data, "bench-1", &caller);
  stw_child_daemon_t daemon;
  if ((st = stw_spawn_daemon(steward, data, log_path, NULL, &daemon)) != STW_OK)
    die("steward serve", st);
  stw_bootstrap_report_t rep;
  if ((st = stw_bootstrap(meter.dev, daemon.uri, &rep)) != STW_OK || (st = stw_bootstrap(caller.dev, daemon.uri,
                                                                                          &rep)) != STW_OK)
    die("bootstrap", st);
  stw_stop_daemon(&daemon);  /* device to device needs no domain from here on */
  ldevid_spki(store, &meter);
  ldevid_spki(store, &caller);

  serve_t srv = { 0 };
  if ((st = stw_thing_new(meter.dev, "127.0.0.1:0", 30, &srv.thing)) != STW_OK ||
      (st = stw_thing_resource(srv.thing, PATH, read_temp, NULL)) != STW_OK ||
      (st = stw_thing_enable_oscore(srv.thing, "127.0.0.1:0")) != STW_OK)
    die("thing", st);
  uint16_t thing_port = stw_thing_port(srv.thing);
  pthread_t serve_th;
  if (pthread_create(&serve_th, NULL, serve_thing, &srv) != 0)
    die("thread", STW_ERR_NOMEM);
  printf("\nsetup: domain %s, meter %s (stw_thing at coaps://127.0.0.1:%u, DTLS with its LDevID key as a raw "
         "public key) and a caller, both bootstrapped against steward serve\n",
         DOMAIN_NAME, stw_dev_name(meter.dev), thing_port);

  /* ---- 1a on the wire: the first OSCORE client of stw_thing ---- */
  wire_overhead_t wire = oscore_wire_overhead(domain, &meter, &caller, stw_thing_oscore_port(srv.thing));

  /* ---- 3a. stw_thing_call: a handshake per call ---- */
  stw_buf_t tok_caller;
  mint(domain, stw_dev_name(meter.dev), stw_dev_id(caller.dev), caller.spki, caller.spki_len, 1, &tok_caller);
  char uri[64];
  snprintf(uri, sizeof(uri), "coaps://127.0.0.1:%u", thing_port);
  uint8_t *answer = NULL;
  size_t answer_len = 0;
  if ((st = stw_thing_call(caller.dev, uri, meter.spki, meter.spki_len, tok_caller.data, tok_caller.len,
                           STW_AIF_GET, "/" PATH, NULL, 0, &answer, &answer_len, &rep)) != STW_OK ||
      answer_len != strlen(ANSWER))
    die("first stw_thing_call", st);
  free(answer);
  unsigned calls = 0, calls_ok = 0;
  uint64_t t0 = now_ns();
  while (calls < 300 && now_ns() - t0 < 4000000000ull) {
    calls++;
    answer = NULL;
    if (stw_thing_call(caller.dev, uri, meter.spki, meter.spki_len, NULL, 0, STW_AIF_GET, "/" PATH, NULL, 0,
                       &answer, &answer_len, &rep) == STW_OK && answer_len == strlen(ANSWER))
      calls_ok++;
    free(answer);
  }
  double call_rps = per_second(calls, now_ns() - t0);

  /* ---- libcoap client: a fresh P-256 key, its own token ---- */
  coap_startup();
  coap_set_log_level(LOG_EMERG);
  stw_key_t *key = NULL;
  uint8_t key_spki[STW_SPKI_MAX];
  size_t key_spki_len = sizeof(key_spki);
  stw_buf_t key_pem;
  stw_buf_init(&key_pem, 1024);
  if (stw_key_generate(&key) != STW_OK || stw_key_spki(key, key_spki, &key_spki_len) != STW_OK ||
      stw_key_export_pem(key, &key_pem) != STW_OK || stw_buf_append(&key_pem, "", 1) != STW_OK)
    die("client key", STW_ERR_CRYPTO);
  stw_buf_t tok_key;
  mint(domain, stw_dev_name(meter.dev), "bench-client", key_spki, key_spki_len, 2, &tok_key);
  cl.thing_spki = meter.spki;
  cl.thing_spki_len = meter.spki_len;
  coap_context_t *ctx = coap_new_context(NULL);
  if (ctx == NULL)
    die("libcoap", STW_ERR_NOMEM);
  coap_register_response_handler(ctx, on_response);
  coap_register_nack_handler(ctx, on_nack);

  /* ---- 1b. DTLS bytes, through the relay ---- */
  static relay_t relay;
  uint16_t relay_port, back_port;
  relay.front = udp_socket(&relay_port);
  relay.back = udp_socket(&back_port);
  connect_to(relay.back, thing_port);
  pthread_t relay_th;
  if (pthread_create(&relay_th, NULL, relay_loop, &relay) != 0)
    die("thread", STW_ERR_NOMEM);
  atomic_store(&relay.recording, true);
  coap_session_t *s = open_rpk(ctx, relay_port, &key_pem);
  if (s == NULL || !wait_established(ctx, s) || !cl.key_ok)
    die("DTLS-RPK session through the relay", STW_ERR_UNAUTHENTICATED);
  atomic_store(&relay.recording, false);
  unsigned long long hs_up = atomic_load(&relay.bytes_up), hs_down = atomic_load(&relay.bytes_down);
  unsigned hs_dgrams = atomic_load(&relay.n_up) + atomic_load(&relay.n_down);
  if (exchange(ctx, s, COAP_REQUEST_CODE_POST, "authz-info", tok_key.data, tok_key.len) != 0x41)
    die("POST /authz-info", STW_ERR_UNAUTHENTICATED);
  if (exchange(ctx, s, COAP_REQUEST_CODE_GET, PATH, NULL, 0) != 0x45)  /* settle */
    die("GET over DTLS", STW_ERR_FORBIDDEN);
  usleep(100000);
  atomic_store(&relay.n_up, 0);
  atomic_store(&relay.n_down, 0);
  atomic_store(&relay.recording, true);
  unsigned code = exchange(ctx, s, COAP_REQUEST_CODE_GET, PATH, NULL, 0);
  usleep(100000);
  atomic_store(&relay.recording, false);
  size_t dtls_req = 0, dtls_resp = 0;
  unsigned up_app = 0, down_app = 0;
  for (unsigned i = 0; i < atomic_load(&relay.n_up); i++)
    if (relay.up_type[i] == 23 && up_app++ == 0)
      dtls_req = relay.up[i];
  for (unsigned i = 0; i < atomic_load(&relay.n_down); i++)
    if (relay.down_type[i] == 23 && down_app++ == 0)
      dtls_resp = relay.down[i];
  if (code != 0x45 || up_app != 1 || down_app != 1)
    die("one GET through the relay", STW_ERR_STATE);
  size_t dtls_req_over = dtls_req - cl.req_size, dtls_resp_over = dtls_resp - cl.resp_size;
  coap_session_release(s);
  coap_io_process(ctx, 50);
  atomic_store(&relay.stop, true);
  pthread_join(relay_th, NULL);
  close(relay.front);
  close(relay.back);
  printf("   DTLS 1.2 (measured: datagrams of one GET /%s on an established DTLS-RPK session with stw_thing, counted "
         "by a UDP relay here)\n", PATH);
  printf("     request  datagram %zu B = CoAP %zu B (libcoap's token) + %zu B record overhead\n", dtls_req,
         cl.req_size, dtls_req_over);
  printf("     response datagram %zu B = CoAP %zu B + %zu B record overhead\n", dtls_resp, cl.resp_size,
         dtls_resp_over);
  printf("     (AES-128-CCM-8 would be 13 header + 8 explicit nonce + 8 tag = 29 B; AES-128-GCM 13 + 8 + 16 = 37 B;"
         " the handshake before it: %llu B up, %llu B down in %u datagrams)\n", hs_up, hs_down, hs_dgrams);
  printf("   OSCORE request overhead on the wire at stw_thing (the SDK's first datagram after /authz-info): the "
         "first client's kid is %zu B, %zu B added (1-byte Partial IV): target <= 13 B: %s; with a 1-byte kid "
         "(the next clients) %zu B; with 2-byte Partial IVs (SSN >= 256) %zu / %zu B\n", wire.kid_len, wire.overhead,
         verdict(wire.overhead <= 13), o_one1.request, o_none2.request, o_one2.request);
  printf("   OSCORE beside DTLS record: request %zu vs %zu B, response %zu vs %zu B\n", wire.overhead, dtls_req_over,
         o_none1.response, dtls_resp_over);

  printf("\n2. protect + unprotect per message (2-byte kid, 2-byte Partial IV, one core) beside raw AES-CCM-16-64-128 "
         "of the same plaintext, %zu-byte AAD (GnuTLS, same run)\n", t.aad_len);
  printf("   request  (%zu B plaintext): OSCORE %.0f ns; raw encrypt+decrypt %.0f ns (handle kept) -> %.2fx, "
         "%.0f ns (GnuTLS handle made per message) -> %.2fx: target <= 2x: %s\n", t.req_pt, t.req_ns,
         t.raw_req_ns, t.req_ns / t.raw_req_ns, t.init_req_ns, t.req_ns / t.init_req_ns,
         verdict(t.req_ns <= 2 * t.raw_req_ns));
  printf("   response (%zu B plaintext): OSCORE %.0f ns; raw %.0f ns (handle kept) -> %.2fx, %.0f ns (handle per "
         "message) -> %.2fx: target <= 2x: %s\n", t.resp_pt, t.resp_ns, t.raw_resp_ns, t.resp_ns / t.raw_resp_ns,
         t.init_resp_ns, t.resp_ns / t.init_resp_ns, verdict(t.resp_ns <= 2 * t.raw_resp_ns));

  /* ---- 3b. one persistent DTLS session, direct ---- */
  s = open_rpk(ctx, thing_port, &key_pem);
  if (s == NULL || !wait_established(ctx, s))
    die("DTLS-RPK session", STW_ERR_UNAUTHENTICATED);
  if (exchange(ctx, s, COAP_REQUEST_CODE_POST, "authz-info", tok_key.data, tok_key.len) != 0x41)
    die("POST /authz-info", STW_ERR_UNAUTHENTICATED);
  unsigned reqs = 0, reqs_ok = 0;
  t0 = now_ns();
  while (reqs < 20000 && now_ns() - t0 < 4000000000ull) {
    reqs++;
    if (exchange(ctx, s, COAP_REQUEST_CODE_GET, PATH, NULL, 0) == 0x45)
      reqs_ok++;
  }
  double session_rps = per_second(reqs, now_ns() - t0);
  coap_session_release(s);
  coap_io_process(ctx, 20);

  /* ---- 3c. handshakes ---- */
  unsigned hs = 0, hs_ok = 0;
  t0 = now_ns();
  while (hs < 500 && now_ns() - t0 < 4000000000ull) {
    hs++;
    s = open_rpk(ctx, thing_port, &key_pem);
    if (s != NULL && wait_established(ctx, s))
      hs_ok++;
    if (s != NULL)
      coap_session_release(s);
    coap_io_process(ctx, COAP_IO_NO_WAIT);
  }
  double hs_rate = per_second(hs, now_ns() - t0);

  /* ---- 4. OSCORE over UDP loopback ---- */
  unsigned osc_ok = 0;
  double osc_rps = oscore_rps(200000, 4000000000ull, &osc_ok);

  printf("\n3. device to device over DTLS-RPK (one request at a time; no target in issue 5 for these rates)\n");
  printf("   stw_thing_call (a full DTLS handshake per call): %.0f calls/s (%u of %u answered 2.05)\n", call_rps,
         calls_ok, calls);
  printf("   one persistent DTLS session (libcoap, RPK, token posted once): %.0f requests/s (%u of %u answered 2.05)\n",
         session_rps, reqs_ok, reqs);
  printf("   DTLS-RPK handshakes (ECDHE-ECDSA P-256, libcoap client, session opened and closed): %.0f/s (%u of %u "
         "established)\n", hs_rate, hs_ok, hs);
  printf("\n4. device to device over OSCORE: lib/oscore "
         "directly (stw_thing_call_oscore adds libcoap and the thing; not timed here), protect -> UDP loopback -> unprotect -> handler -> protect -> UDP -> unprotect, a responder "
         "thread, one request at a time\n");
  printf("   %.0f requests/s (%u answered and verified); %.1fx the persistent DTLS session's rate, which also runs "
         "libcoap and the thing's token check\n", osc_rps, osc_ok, session_rps > 0 ? osc_rps / session_rps : 0);

  printf("\nwhole run %.1f s\n", (double)(now_ns() - run_start) / 1e9);
  coap_free_context(ctx);
  coap_cleanup();
  atomic_store(&srv.stop, true);
  pthread_join(serve_th, NULL);
  stw_thing_free(srv.thing);
  stw_key_free(key);
  stw_buf_free(&key_pem, true);
  stw_buf_free(&tok_key, false);
  stw_buf_free(&tok_caller, false);
  stw_buf_free(&ca_pem, false);
  stw_dev_close(meter.dev);
  stw_dev_close(caller.dev);
  stw_imprint_clear(&meter.im);
  stw_imprint_clear(&caller.im);
  stw_factory_free(factory);
  stw_store_close(store);
  stw_domain_close(domain);
  return 0;
}
