/* The ACE OSCORE profile end to end (RFC 9203 with RFC 8613): the real
 * daemon's PDP issues a token with OSCORE material; a utility device posts
 * it to a meter's /authz-info over plain CoAP and reads over OSCORE; a
 * request outside the scope is refused protected (4.03); a replayed
 * datagram (4.01 "Replay detected"), a flipped ciphertext byte (4.00
 * "Decryption failed") and an unknown kid (4.01) are refused unprotected.
 * Observe through an OSCORE-unaware relay that replays a notification; a
 * 3 KB body in Inner Block2 blocks; a meter kept in a folder restarting
 * with its contexts (B.1: Echo, no replay, no reused number); an expired
 * token. A 3 KB PUT in Inner Block1 blocks, and its refusals (4.08 for a
 * block out of order or of another body, 4.13 over the limit); an
 * observed 3 KB resource delivered whole at each change. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"
#include "authz/context.h"
#include "cwt.h"
#include "enroll/enroll.h"
#include "pki.h"
#include "oscore_client_internal.h"
#include "steward/session.h"
#include "steward/thing.h"
#include "steward/token.h"

typedef struct {
  it_world_t w;
  it_daemon_t d;
  it_device_t meter, utility;
  it_meter_t m;
  char uri[64];
} fixture_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(it_home_start(&f->w, NULL, &f->d), STW_OK);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "meter-1", &f->meter), STW_OK);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "gateway-1", &f->utility), STW_OK);
  assert_int_equal(it_meter_new(f->meter.dev, "127.0.0.1:0", &f->m), STW_OK);
  assert_int_equal(stw_thing_enable_oscore(f->m.thing, "127.0.0.1:0"), STW_OK);
  assert_int_equal(stw_thing_watch_revocations(f->m.thing, f->d.uri), STW_OK);
  snprintf(f->uri, sizeof(f->uri), "coap://127.0.0.1:%u", stw_thing_oscore_port(f->m.thing));
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  printf("    meter %s serves OSCORE at %s\n", stw_dev_name(f->meter.dev), f->uri);
  *state = f;
  return 0;
}

/* Stop the meter's loop, drop the thing with every OSCORE context it held,
 * and start a new one on the same OSCORE port: a restart. */
static void restart_thing(fixture_t *f)
{
  uint16_t port = stw_thing_oscore_port(f->m.thing), dtls_port = stw_thing_port(f->m.thing);
  it_meter_free(&f->m);
  char listen[32], dtls_listen[32];
  snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
  snprintf(dtls_listen, sizeof(dtls_listen), "127.0.0.1:%u", dtls_port);
  assert_int_equal(it_meter_new(f->meter.dev, dtls_listen, &f->m), STW_OK);
  assert_int_equal(stw_thing_port(f->m.thing), dtls_port);
  assert_int_equal(stw_thing_enable_oscore(f->m.thing, listen), STW_OK);
  assert_int_equal(stw_thing_oscore_port(f->m.thing), port);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  it_meter_free(&f->m);
  it_device_free(&f->meter);
  it_device_free(&f->utility);
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

/* One datagram to the meter's OSCORE port through a socket of our own; the
 * answer datagram into resp, and its length. */
static size_t raw_roundtrip(fixture_t *f, const uint8_t *dgram, size_t len, uint8_t *resp, size_t cap)
{
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(stw_thing_oscore_port(f->m.thing));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(send(fd, dgram, len, 0), (ssize_t)len);
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  assert_int_equal(poll(&pfd, 1, 5000), 1);
  ssize_t got = recv(fd, resp, cap, 0);
  close(fd);
  assert_true(got >= 4);
  return (size_t)got;
}

/* raw_roundtrip, and the answer's code and its payload (the diagnostic) as text. */
static unsigned raw_exchange(fixture_t *f, const uint8_t *dgram, size_t len, char *diag, size_t cap)
{
  uint8_t resp[2048];
  ssize_t got = (ssize_t)raw_roundtrip(f, dgram, len, resp, sizeof(resp));
  /* Options carry no 0xff byte in these answers' headers; the payload follows the marker. */
  size_t tkl = resp[0] & 0x0f, i = 4 + tkl;
  diag[0] = '\0';
  while (i < (size_t)got && resp[i] != 0xff) {
    size_t delta = resp[i] >> 4, l = resp[i] & 0x0f;
    i++;
    i += delta == 13 ? 1 : delta == 14 ? 2 : 0;
    if (l == 13)
      l = 13u + resp[i++];
    else if (l == 14)
      l = 269u + (size_t)(resp[i] << 8 | resp[i + 1]), i += 2;
    i += l;
  }
  if (i < (size_t)got) {
    size_t n = (size_t)got - i - 1;
    n = n < cap - 1 ? n : cap - 1;
    memcpy(diag, resp + i + 1, n);
    diag[n] = '\0';
  }
  return resp[1];
}

/* The utility role for the utility, and a rule letting it use methods
 * ("GET", "PUT") on the meter's path; the rule's id. */
static int64_t grant(fixture_t *f, const char *path, const char *methods, const char *name)
{
  stw_attr_row_t role = { .name = "role", .value = "utility", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->w.store, stw_dev_id(f->utility.dev), &role), STW_OK);
  char rule[256], why[256];
  snprintf(rule, sizeof(rule), "permit role=utility -> %s:%s %s", stw_dev_name(f->meter.dev), path, methods);
  int64_t id = 0;
  uint64_t revoked = 0;
  assert_int_equal(stw_authz_policy_add(f->w.store, f->w.domain, rule, name, "admin", stw_now(), &id, &revoked, why,
                                        sizeof(why)),
                   STW_OK);
  return id;
}

static int64_t grant_read(fixture_t *f, const char *path)
{
  return grant(f, path, "GET", "meter-read");
}

static int64_t grant_meter_read(fixture_t *f)
{
  return grant_read(f, "/consumption");
}

/* The utility's first OSCORE read of the meter's /consumption, with a
 * token it fetched for that: the request datagram it sent, copied into req
 * (cap bytes), and its length. *peer keeps its own copies of the token and
 * the material. */
static size_t first_read(fixture_t *f, stw_oscore_peer_t **peer, uint8_t *req, size_t cap)
{
  (void)grant_meter_read(f);
  stw_token_t tok;
  stw_oscore_material_t mat;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_token_request_oscore(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption",
                                            STW_AIF_GET, &tok, &mat, &rep),
                   STW_OK);
  uint8_t *answer = NULL;
  unsigned code = 0;
  assert_int_equal(stw_thing_call_oscore(peer, f->uri, tok.token, tok.token_len, &mat, STW_AIF_GET, "/consumption",
                                         NULL, 0, &code, &answer, NULL),
                   STW_OK);
  free(answer);
  size_t len = 0;
  const uint8_t *last = stw_oscore_peer_last_request(*peer, &len);
  assert_true(last != NULL && len <= cap);
  memcpy(req, last, len);
  stw_oscore_material_clear(&mat);
  stw_token_clear(&tok);
  return len;
}

static void read_over_oscore(void **state)
{
  fixture_t *f = *state;
  printf("  a token with OSCORE material from the domain; reads over OSCORE; the scope, replays, tampering, revocation\n");
  int64_t id = grant_meter_read(f);
  uint64_t revoked = 0;
  stw_token_t tok;
  stw_oscore_material_t mat;
  stw_bootstrap_report_t rep;
  stw_status_t st = stw_token_request_oscore(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption",
                                             STW_AIF_GET, &tok, &mat, &rep);
  printf("      utility asks for GET /consumption, coap_oscore: %s, %zu-byte token, %zu-byte secret\n",
         stw_status_str(st), tok.token_len, mat.ms_len);
  assert_int_equal(st, STW_OK);
  assert_int_equal(mat.ms_len, 32);
  assert_true(mat.id_len > 0);

  stw_oscore_peer_t *peer = NULL;
  uint8_t *answer = NULL;
  unsigned code = 0;
  st = stw_thing_call_oscore(&peer, f->uri, tok.token, tok.token_len, &mat, STW_AIF_GET, "/consumption", NULL, 0,
                             &code, &answer, NULL);
  printf("      GET /consumption over OSCORE: %s (%u.%02u) %s\n", stw_status_str(st), code >> 5, code & 31,
         answer ? (char *)answer : "");
  assert_int_equal(st, STW_OK);
  assert_int_equal(code, IT_COAP(2, 5));
  assert_string_equal((char *)answer, "1234.5 kWh");
  free(answer);
  assert_non_null(peer);

  /* The same context again: no second token post, the next sequence number. */
  size_t first_len = 0;
  const uint8_t *first = stw_oscore_peer_last_request(peer, &first_len);
  uint8_t replay[4096];
  assert_true(first != NULL && first_len <= sizeof(replay));
  memcpy(replay, first, first_len);
  size_t replay_len = first_len;
  st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code, &answer,
                             NULL);
  assert_int_equal(st, STW_OK);
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), 2);

  /* Outside the scope: verified, then refused inside the protection. */
  st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/config", NULL, 0, &code, &answer, NULL);
  printf("      GET /config (not granted): %s (%u.%02u, protected) %s\n", stw_status_str(st), code >> 5, code & 31,
         answer ? (char *)answer : "");
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(code, IT_COAP(4, 3));
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), 2);

  /* The first request's datagram once more, from another socket. */
  char diag[128];
  code = raw_exchange(f, replay, replay_len, diag, sizeof(diag));
  printf("      the first datagram again: %u.%02u %s\n", code >> 5, code & 31, diag);
  assert_int_equal(code, IT_COAP(4, 1));
  assert_string_equal(diag, "Replay detected");

  /* A fresh request with one ciphertext byte flipped. */
  uint8_t dgram[4096];
  size_t dlen = 0;
  assert_int_equal(stw_oscore_peer_protect(peer, STW_AIF_GET, "/consumption", NULL, 0, dgram, sizeof(dgram), &dlen),
                   STW_OK);
  dgram[dlen - 1] ^= 0x01;
  code = raw_exchange(f, dgram, dlen, diag, sizeof(diag));
  printf("      a flipped ciphertext byte: %u.%02u %s\n", code >> 5, code & 31, diag);
  assert_int_equal(code, IT_COAP(4, 0));
  assert_string_equal(diag, "Decryption failed");

  /* An unknown kid: header (CON POST, no token), OSCORE option {k, n=1: piv 1, kid ee ee}, junk. */
  static const uint8_t unknown[] = { 0x40, 0x02, 0x12, 0x34, 0x94, 0x09, 0x01, 0xee, 0xee, 0xff,
                                     1,    2,    3,    4,    5,    6,    7,    8,    9,    10 };
  code = raw_exchange(f, unknown, sizeof(unknown), diag, sizeof(diag));
  printf("      an unknown kid: %u.%02u %s\n", code >> 5, code & 31, diag);
  assert_int_equal(code, IT_COAP(4, 1));
  assert_int_equal(atomic_load(&f->m.reads), 2);

  /* /authz-info with N1 twice (CON POST, Uri-Path "authz-info", the map). */
  static const uint8_t twice[] = { 0x40, 0x02, 0x12, 0x35, 0xba, 'a',  'u',  't',  'h', 'z',  '-',  'i',
                                   'n',  'f',  'o',  0xff, 0xa4, 0x01, 0x41, 0x01, 0x18, 0x28, 0x41, 0x09,
                                   0x18, 0x28, 0x41, 0x0a, 0x18, 0x2b, 0x40 };
  code = raw_exchange(f, twice, sizeof(twice), diag, sizeof(diag));
  printf("      /authz-info with nonce1 twice: %u.%02u\n", code >> 5, code & 31);
  assert_int_equal(code, IT_COAP(4, 0));

  /* The context still works after all that. */
  st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code, &answer,
                             NULL);
  assert_int_equal(st, STW_OK);
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), 3);

  /* The rule goes: the domain revokes the token, the meter hears it on
   * /revoked, and the OSCORE context bound to that token stops working. */
  uint64_t seq = stw_thing_revocation_seq(f->m.thing);
  assert_int_equal(stw_authz_policy_remove(f->w.store, f->w.domain, id, "admin", stw_now(), &revoked), STW_OK);
  assert_true(revoked >= 1);
  for (int i = 0; i < 100 && stw_thing_revocation_seq(f->m.thing) == seq; i++)
    usleep(50000);
  assert_true(stw_thing_revocation_seq(f->m.thing) > seq);
  st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code, &answer,
                             NULL);
  printf("      rule removed, %llu token(s) revoked; the same context: %s (%u.%02u, protected) %s\n",
         (unsigned long long)revoked, stw_status_str(st), code >> 5, code & 31, answer ? (char *)answer : "");
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(code, IT_COAP(4, 1));
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), 3);

  /* Posting the revoked token again makes no new context. */
  stw_oscore_peer_t *again = NULL;
  answer = NULL;
  st = stw_thing_call_oscore(&again, f->uri, tok.token, tok.token_len, &mat, STW_AIF_GET, "/consumption", NULL, 0,
                             &code, &answer, NULL);
  printf("      the revoked token posted again: %s (%u.%02u)\n", stw_status_str(st), code >> 5, code & 31);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED); /* the meter answered: the token is refused */
  assert_int_equal(code, IT_COAP(4, 1));
  assert_null(again);
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), 3);

  stw_oscore_peer_free(peer);
  stw_oscore_material_clear(&mat);
  stw_token_clear(&tok);
}

static void thing_restarts(void **state)
{
  fixture_t *f = *state;
  printf("  the meter restarts and forgets every OSCORE context; the utility's next call recovers by itself\n");
  stw_oscore_peer_t *peer = NULL;
  uint8_t old_request[4096];
  /* first_read lets its copies of token and material go: the peer kept its own. */
  size_t before_len = first_read(f, &peer, old_request, sizeof(old_request));
  uint8_t *answer = NULL;
  unsigned code = 0;

  restart_thing(f);
  char diag[128];
  code = raw_exchange(f, old_request, before_len, diag, sizeof(diag));
  printf("      after the restart, the last request again: %u.%02u %s\n", code >> 5, code & 31, diag);
  assert_int_equal(code, IT_COAP(4, 1));
  assert_string_equal(diag, "Security context not found");

  stw_status_t st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code,
                                          &answer, NULL);
  printf("      the same peer calls again: %s (%u.%02u) %s\n", stw_status_str(st), code >> 5, code & 31,
         answer ? (char *)answer : "");
  assert_int_equal(st, STW_OK);
  assert_int_equal(code, IT_COAP(2, 5));
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), 2);
  /* and goes on in the fresh context */
  assert_int_equal(stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code,
                                         &answer, NULL),
                   STW_OK);
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), 3);
  stw_oscore_peer_free(peer);
}

static void sessions(void **state)
{
  fixture_t *f = *state;
  printf("  one call chooses the protection per peer; the SDK gets, uploads and keys the tokens\n");
  (void)grant_meter_read(f);
  char dtls_uri[64];
  snprintf(dtls_uri, sizeof(dtls_uri), "coaps://127.0.0.1:%u", stw_thing_port(f->m.thing));
  const char *meter = stw_dev_name(f->meter.dev);
  stw_session_t *bad = NULL;
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, meter, dtls_uri, STW_SESSION_OSCORE, &bad),
                   STW_ERR_INVALID);
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, meter, f->uri, STW_SESSION_DTLS_RPK, &bad),
                   STW_ERR_INVALID);
  assert_null(bad);

  stw_session_t *dtls = NULL, *osc = NULL;
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, meter, dtls_uri, STW_SESSION_DTLS_RPK, &dtls), STW_OK);
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, meter, f->uri, STW_SESSION_OSCORE, &osc), STW_OK);
  stw_session_t *both[2] = { dtls, osc };
  const char *names[2] = { "DTLS-RPK", "OSCORE" };
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 2; i++) {
      uint8_t *answer = NULL;
      unsigned code = 0;
      stw_status_t st = stw_session_request(both[k], STW_AIF_GET, "/consumption", NULL, 0, &code, &answer, NULL);
      printf("      %s GET /consumption (%s): %s (%u.%02u) %s\n", names[k], i ? "token held" : "token fetched",
             stw_status_str(st), code >> 5, code & 31, answer ? (char *)answer : "");
      assert_int_equal(st, STW_OK);
      assert_int_equal(code, IT_COAP(2, 5));
      assert_string_equal((char *)answer, "1234.5 kWh");
      free(answer);
    }
    uint8_t *answer = NULL;
    unsigned code = 0;
    stw_status_t st = stw_session_request(both[k], STW_AIF_GET, "/config", NULL, 0, &code, &answer, NULL);
    printf("      %s GET /config: %s (%u.%02u, the domain refuses the token)\n", names[k], stw_status_str(st),
           code >> 5, code & 31);
    assert_int_equal(st, STW_ERR_FORBIDDEN);
    assert_int_equal(code, IT_COAP(4, 3));
    assert_null(answer);
  }
  assert_int_equal(atomic_load(&f->m.reads), 4);

  /* The meter restarts: both sessions give it their token again by themselves. */
  restart_thing(f);
  for (int k = 0; k < 2; k++) {
    uint8_t *answer = NULL;
    unsigned code = 0;
    stw_status_t st = stw_session_request(both[k], STW_AIF_GET, "/consumption", NULL, 0, &code, &answer, NULL);
    printf("      after a restart of the meter, %s: %s (%u.%02u)\n", names[k], stw_status_str(st), code >> 5,
           code & 31);
    assert_int_equal(st, STW_OK);
    free(answer);
  }
  assert_int_equal(atomic_load(&f->m.reads), 6);
  stw_session_close(dtls);
  stw_session_close(osc);
}

/* ---- a relay: an OSCORE-unaware proxy on the path -------------------------------- */

/* Forwards datagrams between one client and the meter's OSCORE port, keeps
 * the notifications it sees (outer 2.05: RFC 8613 4.2) and can send one of
 * them to the client again, as an attacker on the path could. */
typedef struct {
  int front, back;                /* client side, meter side */
  struct sockaddr_in client;
  bool have_client;
  pthread_t loop;
  atomic_bool stop;
  pthread_mutex_t lock;
  uint8_t notes[4][1200];
  size_t note_len[4];
  atomic_int notes_seen;
  uint16_t port;
} relay_t;

static void *relay_serve(void *arg)
{
  relay_t *r = arg;
  uint8_t buf[2048];
  while (!atomic_load(&r->stop)) {
    struct pollfd pfd[2] = { { .fd = r->front, .events = POLLIN }, { .fd = r->back, .events = POLLIN } };
    if (poll(pfd, 2, 20) <= 0)
      continue;
    if (pfd[0].revents & POLLIN) {
      socklen_t al = sizeof(r->client);
      ssize_t n = recvfrom(r->front, buf, sizeof(buf), 0, (struct sockaddr *)&r->client, &al);
      r->have_client = true;
      if (n > 0)
        (void)send(r->back, buf, (size_t)n, 0);
    }
    if (pfd[1].revents & POLLIN) {
      ssize_t n = recv(r->back, buf, sizeof(buf), 0);
      if (n >= 4 && buf[1] == IT_COAP(2, 5) && (buf[0] >> 4 & 3) == 0) {
        pthread_mutex_lock(&r->lock);
        int k = atomic_load(&r->notes_seen);
        if (k < 4 && (size_t)n <= sizeof(r->notes[k])) {
          memcpy(r->notes[k], buf, (size_t)n);
          r->note_len[k] = (size_t)n;
        }
        atomic_store(&r->notes_seen, k + 1);
        pthread_mutex_unlock(&r->lock);
      }
      if (n > 0 && r->have_client)
        (void)sendto(r->front, buf, (size_t)n, 0, (struct sockaddr *)&r->client, sizeof(r->client));
    }
  }
  return NULL;
}

static void relay_start(relay_t *r, uint16_t meter_port)
{
  memset(r, 0, sizeof(*r));
  pthread_mutex_init(&r->lock, NULL);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  r->front = socket(AF_INET, SOCK_DGRAM, 0);
  r->back = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(r->front >= 0 && r->back >= 0);
  assert_int_equal(bind(r->front, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t al = sizeof(a);
  assert_int_equal(getsockname(r->front, (struct sockaddr *)&a, &al), 0);
  r->port = ntohs(a.sin_port);
  a.sin_port = htons(meter_port);
  assert_int_equal(connect(r->back, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(pthread_create(&r->loop, NULL, relay_serve, r), 0);
}

/* The k-th notification seen, sent to the client once more. */
static void relay_replay_note(relay_t *r, int k)
{
  pthread_mutex_lock(&r->lock);
  assert_true(k < atomic_load(&r->notes_seen) && r->note_len[k] > 0);
  assert_int_equal(sendto(r->front, r->notes[k], r->note_len[k], 0, (struct sockaddr *)&r->client, sizeof(r->client)),
                   (ssize_t)r->note_len[k]);
  pthread_mutex_unlock(&r->lock);
}

static void relay_stop(relay_t *r)
{
  atomic_store(&r->stop, true);
  pthread_join(r->loop, NULL);
  close(r->front);
  close(r->back);
  pthread_mutex_destroy(&r->lock);
}

/* A meter reading that changes: "level N". */
static unsigned level_reading(void *arg, unsigned method, const char *path, const uint8_t *body, size_t len,
                              uint8_t *out, size_t cap, size_t *out_len)
{
  (void)method, (void)path, (void)body, (void)len;
  atomic_int *level = arg;
  *out_len = (size_t)snprintf((char *)out, cap, "level %d", atomic_load(level));
  return IT_COAP(2, 5);
}

typedef struct {
  int count;
  unsigned code;
  char last[64];
} notes_t;

static void on_note(void *arg, unsigned code, const uint8_t *payload, size_t len)
{
  notes_t *n = arg;
  n->count++;
  n->code = code;
  len = len < sizeof(n->last) - 1 ? len : sizeof(n->last) - 1;
  memcpy(n->last, payload, len);
  n->last[len] = '\0';
}

/* The meter's level changes: its loop pauses while the test thread tells it. */
static void level_changes(fixture_t *f, atomic_int *level, int to)
{
  it_meter_pause(&f->m);
  atomic_store(level, to);
  assert_int_equal(stw_thing_changed(f->m.thing, "level"), STW_OK);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
}

/* Poll until want notifications were delivered (5 s at most). */
static void wait_notes(stw_oscore_peer_t *peer, const notes_t *n, int want)
{
  for (int i = 0; i < 100 && n->count < want; i++)
    assert_int_equal(stw_oscore_peer_poll(peer, 50), STW_OK);
}

static void observe_over_oscore(void **state)
{
  fixture_t *f = *state;
  printf("  observe over OSCORE through a relay: notifications under the meter's own Partial IV, in order; a\n"
         "  replayed notification is not delivered; cancel ends it\n");
  static atomic_int level;
  atomic_store(&level, 1);
  it_meter_pause(&f->m);
  assert_int_equal(stw_thing_resource(f->m.thing, "level", level_reading, &level), STW_OK);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  (void)grant_read(f, "/level");
  stw_token_t tok;
  stw_oscore_material_t mat;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_token_request_oscore(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/level",
                                            STW_AIF_GET, &tok, &mat, &rep),
                   STW_OK);
  relay_t relay;
  relay_start(&relay, stw_thing_oscore_port(f->m.thing));
  char via[64];
  snprintf(via, sizeof(via), "coap://127.0.0.1:%u", relay.port);

  stw_oscore_peer_t *peer = NULL;
  notes_t notes = { 0 };
  uint8_t *answer = NULL;
  unsigned code = 0;
  stw_status_t st = stw_thing_observe_oscore(&peer, via, tok.token, tok.token_len, &mat, "/level", on_note, &notes,
                                             &code, &answer, NULL);
  printf("      observe /level: %s (%u.%02u) %s, observing: %d\n", stw_status_str(st), code >> 5, code & 31,
         answer ? (char *)answer : "", stw_oscore_peer_observing(peer));
  assert_int_equal(st, STW_OK);
  assert_int_equal(code, IT_COAP(2, 5));
  assert_string_equal((char *)answer, "level 1");
  free(answer);
  assert_true(stw_oscore_peer_observing(peer));
  it_meter_pause(&f->m);
  assert_int_equal(stw_thing_oscore_observers(f->m.thing), 1);
  assert_int_equal(it_meter_start(&f->m), STW_OK);

  level_changes(f, &level, 2);
  wait_notes(peer, &notes, 1);
  level_changes(f, &level, 3);
  wait_notes(peer, &notes, 2);
  printf("      two changes: %d notifications, the last \"%s\" (%u.%02u); the relay saw %d\n", notes.count,
         notes.last, notes.code >> 5, notes.code & 31, atomic_load(&relay.notes_seen));
  assert_int_equal(notes.count, 2);
  assert_string_equal(notes.last, "level 3");
  assert_int_equal(notes.code, IT_COAP(2, 5));
  assert_int_equal(stw_oscore_peer_notifications(peer), 2);

  /* The relay sends the first notification again: it verifies (it is
   * genuine) but its Partial IV is below the Notification Number. */
  relay_replay_note(&relay, 0);
  assert_int_equal(stw_oscore_peer_poll(peer, 300), STW_OK);
  printf("      the first notification replayed: delivered %d (still 2), last \"%s\"\n", notes.count, notes.last);
  assert_int_equal(notes.count, 2);
  assert_string_equal(notes.last, "level 3");

  /* A plain read on the same context meanwhile: no effect on the observation. */
  st = stw_thing_call_oscore(&peer, via, NULL, 0, NULL, STW_AIF_GET, "/level", NULL, 0, &code, &answer, NULL);
  assert_int_equal(st, STW_OK);
  free(answer);
  level_changes(f, &level, 4);
  wait_notes(peer, &notes, 3);
  assert_int_equal(notes.count, 3);
  assert_string_equal(notes.last, "level 4");

  st = stw_oscore_peer_cancel(peer);
  it_meter_pause(&f->m);
  size_t left = stw_thing_oscore_observers(f->m.thing);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  printf("      cancel: %s, observers left at the meter: %zu\n", stw_status_str(st), left);
  assert_int_equal(st, STW_OK);
  assert_false(stw_oscore_peer_observing(peer));
  assert_int_equal(left, 0);
  level_changes(f, &level, 5);
  assert_int_equal(stw_oscore_peer_poll(peer, 300), STW_OK);
  assert_int_equal(notes.count, 3);

  /* The same through a session, straight to the meter. */
  stw_session_t *s = NULL;
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), f->uri, STW_SESSION_OSCORE,
                                    &s),
                   STW_OK);
  notes_t snotes = { 0 };
  st = stw_session_observe(s, "/level", on_note, &snotes, &code, &answer, NULL);
  printf("      session observe /level: %s (%u.%02u) %s\n", stw_status_str(st), code >> 5, code & 31,
         answer ? (char *)answer : "");
  assert_int_equal(st, STW_OK);
  assert_string_equal((char *)answer, "level 5");
  free(answer);
  level_changes(f, &level, 6);
  for (int i = 0; i < 100 && snotes.count < 1; i++)
    assert_int_equal(stw_session_poll(s, 50), STW_OK);
  printf("      session notification: \"%s\"\n", snotes.last);
  assert_int_equal(snotes.count, 1);
  assert_string_equal(snotes.last, "level 6");
  stw_session_close(s);

  /* DTLS sessions do not offer it. */
  char dtls_uri[64];
  snprintf(dtls_uri, sizeof(dtls_uri), "coaps://127.0.0.1:%u", stw_thing_port(f->m.thing));
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), dtls_uri,
                                    STW_SESSION_DTLS_RPK, &s),
                   STW_OK);
  assert_int_equal(stw_session_observe(s, "/level", on_note, &snotes, NULL, NULL, NULL), STW_ERR_UNSUPPORTED);
  stw_session_close(s);

  relay_stop(&relay);
  stw_oscore_peer_free(peer);
  stw_oscore_material_clear(&mat);
  stw_token_clear(&tok);
}

/* ---- block-wise ------------------------------------------------------------------ */

#define LOG_LEN 3000

static unsigned log_reading(void *arg, unsigned method, const char *path, const uint8_t *body, size_t len,
                            uint8_t *out, size_t cap, size_t *out_len)
{
  (void)method, (void)path, (void)body, (void)len;
  atomic_fetch_add((atomic_int *)arg, 1);
  if (cap < LOG_LEN)
    return IT_COAP(5, 0);
  for (size_t i = 0; i < LOG_LEN; i++)
    out[i] = (uint8_t)('a' + i % 26);
  *out_len = LOG_LEN;
  return IT_COAP(2, 5);
}

static void large_body_over_oscore(void **state)
{
  fixture_t *f = *state;
  printf("  a 3000-byte answer over OSCORE: Inner Block2, each block a request of its own\n");
  static atomic_int runs;
  atomic_store(&runs, 0);
  it_meter_pause(&f->m);
  assert_int_equal(stw_thing_resource(f->m.thing, "log", log_reading, &runs), STW_OK);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  (void)grant_read(f, "/log");
  stw_token_t tok;
  stw_oscore_material_t mat;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_token_request_oscore(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/log", STW_AIF_GET,
                                            &tok, &mat, &rep),
                   STW_OK);
  stw_oscore_peer_t *peer = NULL;
  uint8_t *answer = NULL;
  size_t len = 0;
  unsigned code = 0;
  stw_status_t st = stw_thing_call_oscore(&peer, f->uri, tok.token, tok.token_len, &mat, STW_AIF_GET, "/log", NULL, 0,
                                          &code, &answer, &len);
  printf("      GET /log: %s (%u.%02u), %zu bytes in %d blocks\n", stw_status_str(st), code >> 5, code & 31, len,
         atomic_load(&runs));
  assert_int_equal(st, STW_OK);
  assert_int_equal(code, IT_COAP(2, 5));
  assert_int_equal(len, LOG_LEN);
  for (size_t i = 0; i < LOG_LEN; i++)
    assert_int_equal(answer[i], 'a' + i % 26);
  free(answer);
  assert_int_equal(atomic_load(&runs), 3);  /* 1024 + 1024 + 952 */
  /* the last block request is the last datagram sent: it asked for block 2 */
  size_t last_len = 0;
  assert_non_null(stw_oscore_peer_last_request(peer, &last_len));

  /* The session API reads it whole too. */
  stw_session_t *s = NULL;
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), f->uri, STW_SESSION_OSCORE,
                                    &s),
                   STW_OK);
  st = stw_session_request(s, STW_AIF_GET, "/log", NULL, 0, &code, &answer, &len);
  printf("      the same through a session: %s, %zu bytes\n", stw_status_str(st), len);
  assert_int_equal(st, STW_OK);
  assert_int_equal(len, LOG_LEN);
  assert_int_equal(answer[LOG_LEN - 1], 'a' + (LOG_LEN - 1) % 26);
  free(answer);
  stw_session_close(s);
  stw_oscore_peer_free(peer);
  stw_oscore_material_clear(&mat);
  stw_token_clear(&tok);
}

/* ---- a body in blocks: Inner Block1 --------------------------------------------- */

#define SETTINGS_LEN 3000

/* What the meter's /settings handler was given. */
typedef struct {
  atomic_int calls;
  size_t len;
  uint8_t body[STW_THING_OSCORE_BODY_MAX];
} settings_t;

static unsigned store_settings(void *arg, unsigned method, const char *path, const uint8_t *body, size_t len,
                               uint8_t *out, size_t cap, size_t *out_len)
{
  (void)path, (void)out, (void)cap;
  settings_t *s = arg;
  *out_len = 0;
  if (method != STW_AIF_PUT || len > sizeof(s->body))
    return IT_COAP(4, 5);
  memcpy(s->body, body, len);
  s->len = len;
  atomic_fetch_add(&s->calls, 1);
  return IT_COAP(2, 4);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)((i * 7 + seed) & 0xff);
}

/* The meter with /settings that the utility may PUT; a peer keyed with a
 * token for it, which has written one small body (so it holds a context). */
static stw_oscore_peer_t *settings_peer(fixture_t *f, settings_t *set)
{
  it_meter_pause(&f->m);
  assert_int_equal(stw_thing_resource(f->m.thing, "settings", store_settings, set), STW_OK);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  (void)grant(f, "/settings", "PUT", "meter-write");
  stw_token_t tok;
  stw_oscore_material_t mat;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_token_request_oscore(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/settings",
                                            STW_AIF_PUT, &tok, &mat, &rep),
                   STW_OK);
  stw_oscore_peer_t *peer = NULL;
  unsigned code = 0;
  assert_int_equal(stw_thing_call_oscore(&peer, f->uri, tok.token, tok.token_len, &mat, STW_AIF_PUT, "/settings",
                                         (const uint8_t *)"mode=eco", 8, &code, NULL, NULL),
                   STW_OK);
  assert_int_equal(code, IT_COAP(2, 4));
  assert_int_equal(atomic_load(&set->calls), 1);
  stw_oscore_material_clear(&mat);
  stw_token_clear(&tok);
  return peer;
}

/* One block of a body for /settings, protected on peer and sent from a
 * socket of our own: the inner code of the answer, its Block1 and Size1
 * (UINT32_MAX when absent). */
static unsigned send_block(fixture_t *f, stw_oscore_peer_t *peer, const uint8_t *block, size_t len, uint32_t num,
                           bool more, unsigned szx, uint8_t tag, uint32_t size1, uint32_t *block1, uint32_t *size1_out)
{
  uint8_t dgram[2048], resp[2048];
  size_t dlen = 0;
  assert_int_equal(stw__oscore_peer_protect_block(peer, STW_AIF_PUT, "/settings", block, len, num, more, szx,
                                                  size1 > 0, size1, &tag, 1, dgram, sizeof(dgram), &dlen),
                   STW_OK);
  size_t rlen = raw_roundtrip(f, dgram, dlen, resp, sizeof(resp));
  assert_int_equal(resp[1], IT_COAP(2, 4));  /* the Outer Code: the real one is inside */
  unsigned code = 0;
  assert_int_equal(stw__oscore_peer_open_answer(peer, resp, rlen, &code, block1, size1_out), STW_OK);
  return code;
}

static void upload_over_oscore(void **state)
{
  fixture_t *f = *state;
  printf("  a 3000-byte PUT over OSCORE: Inner Block1, each block a request of its own, the handler called once\n");
  static settings_t set;
  memset(&set, 0, sizeof(set));
  stw_oscore_peer_t *peer = settings_peer(f, &set);
  static uint8_t body[STW_THING_OSCORE_BODY_MAX];
  fill(body, SETTINGS_LEN, 1);
  uint8_t *answer = NULL;
  unsigned code = 0;
  stw_status_t st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_PUT, "/settings", body, SETTINGS_LEN,
                                          &code, &answer, NULL);
  printf("      PUT /settings, %d bytes: %s (%u.%02u); the handler ran %d time(s) more, with %zu bytes\n",
         SETTINGS_LEN, stw_status_str(st), code >> 5, code & 31, atomic_load(&set.calls) - 1, set.len);
  assert_int_equal(st, STW_OK);
  assert_int_equal(code, IT_COAP(2, 4));
  free(answer);
  assert_int_equal(atomic_load(&set.calls), 2);
  assert_int_equal(set.len, SETTINGS_LEN);
  assert_memory_equal(set.body, body, SETTINGS_LEN);
  /* the last datagram was the last block: 3000 = 1024 + 1024 + 952 */
  size_t last_len = 0;
  assert_non_null(stw_oscore_peer_last_request(peer, &last_len));
  printf("      the last block's datagram: %zu bytes for 952 bytes of body\n", last_len);
  assert_true(last_len < 1200);

  /* The whole limit, 16 blocks, through a session. */
  stw_session_t *s = NULL;
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), f->uri, STW_SESSION_OSCORE,
                                    &s),
                   STW_OK);
  fill(body, sizeof(body), 2);
  st = stw_session_request(s, STW_AIF_PUT, "/settings", body, sizeof(body), &code, &answer, NULL);
  printf("      the same through a session, %zu bytes (the limit): %s (%u.%02u)\n", sizeof(body), stw_status_str(st),
         code >> 5, code & 31);
  assert_int_equal(st, STW_OK);
  assert_int_equal(code, IT_COAP(2, 4));
  free(answer);
  assert_int_equal(atomic_load(&set.calls), 3);
  assert_int_equal(set.len, sizeof(body));
  assert_memory_equal(set.body, body, sizeof(body));
  stw_session_close(s);
  stw_oscore_peer_free(peer);
}

static void upload_out_of_order(void **state)
{
  fixture_t *f = *state;
  printf("  blocks out of order: 4.08 Request Entity Incomplete, the handler not called, the body kept\n");
  static settings_t set;
  memset(&set, 0, sizeof(set));
  stw_oscore_peer_t *peer = settings_peer(f, &set);
  uint8_t body[SETTINGS_LEN];
  fill(body, sizeof(body), 3);
  uint32_t block1 = 0, size1 = 0;

  /* Block 1 with no block 0 before it. */
  unsigned code = send_block(f, peer, body + 1024, 1024, 1, true, 6, 0x41, 0, &block1, &size1);
  printf("      block 1 first: %u.%02u\n", code >> 5, code & 31);
  assert_int_equal(code, IT_COAP(4, 8));
  assert_int_equal(block1, UINT32_MAX);
  assert_int_equal(atomic_load(&set.calls), 1);

  /* Block 0, then block 2: the device still waits for block 1. */
  code = send_block(f, peer, body, 1024, 0, true, 6, 0x41, SETTINGS_LEN, &block1, &size1);
  printf("      block 0: %u.%02u, Block1 0x%02x\n", code >> 5, code & 31, (unsigned)block1);
  assert_int_equal(code, IT_COAP(2, 31));
  assert_int_equal(block1, 0u << 4 | 8u | 6u);
  code = send_block(f, peer, body + 2048, SETTINGS_LEN - 2048, 2, false, 6, 0x41, 0, &block1, &size1);
  printf("      then block 2: %u.%02u\n", code >> 5, code & 31);
  assert_int_equal(code, IT_COAP(4, 8));
  assert_int_equal(atomic_load(&set.calls), 1);

  /* The body was left as it was: blocks 1 and 2 complete it. */
  code = send_block(f, peer, body + 1024, 1024, 1, true, 6, 0x41, 0, &block1, &size1);
  assert_int_equal(code, IT_COAP(2, 31));
  assert_int_equal(block1, 1u << 4 | 8u | 6u);
  code = send_block(f, peer, body + 2048, SETTINGS_LEN - 2048, 2, false, 6, 0x41, 0, &block1, &size1);
  printf("      blocks 1 and 2 in order after that: %u.%02u, Block1 0x%02x, the handler got %zu bytes\n", code >> 5,
         code & 31, (unsigned)block1, set.len);
  assert_int_equal(code, IT_COAP(2, 4));
  assert_int_equal(block1, 2u << 4 | 6u);
  assert_int_equal(atomic_load(&set.calls), 2);
  assert_int_equal(set.len, SETTINGS_LEN);
  assert_memory_equal(set.body, body, SETTINGS_LEN);

  /* A block repeated after the body was handed over: nothing to continue. */
  code = send_block(f, peer, body + 2048, SETTINGS_LEN - 2048, 2, false, 6, 0x41, 0, &block1, &size1);
  assert_int_equal(code, IT_COAP(4, 8));
  assert_int_equal(atomic_load(&set.calls), 2);
  stw_oscore_peer_free(peer);
}

static void upload_inconsistent_blocks(void **state)
{
  fixture_t *f = *state;
  printf("  blocks that do not belong to the body: another Request-Tag, another size, a short middle block: 4.08\n");
  static settings_t set;
  memset(&set, 0, sizeof(set));
  stw_oscore_peer_t *peer = settings_peer(f, &set);
  uint8_t body[SETTINGS_LEN];
  fill(body, sizeof(body), 4);
  uint32_t block1 = 0, size1 = 0;
  unsigned code = send_block(f, peer, body, 1024, 0, true, 6, 0x42, 0, &block1, &size1);
  assert_int_equal(code, IT_COAP(2, 31));

  code = send_block(f, peer, body + 1024, 1024, 1, true, 6, 0x43, 0, &block1, &size1);
  printf("      block 1 under another Request-Tag: %u.%02u\n", code >> 5, code & 31);
  assert_int_equal(code, IT_COAP(4, 8));
  code = send_block(f, peer, body + 1024, 512, 2, true, 5, 0x42, 0, &block1, &size1);
  printf("      the next bytes in 512-byte blocks: %u.%02u\n", code >> 5, code & 31);
  assert_int_equal(code, IT_COAP(4, 8));
  code = send_block(f, peer, body + 1024, 100, 1, true, 6, 0x42, 0, &block1, &size1);
  printf("      a 100-byte block 1 with more to come: %u.%02u\n", code >> 5, code & 31);
  assert_int_equal(code, IT_COAP(4, 8));
  assert_int_equal(atomic_load(&set.calls), 1);

  /* None of them moved the body. */
  code = send_block(f, peer, body + 1024, 1024, 1, true, 6, 0x42, 0, &block1, &size1);
  assert_int_equal(code, IT_COAP(2, 31));
  code = send_block(f, peer, body + 2048, SETTINGS_LEN - 2048, 2, false, 6, 0x42, 0, &block1, &size1);
  assert_int_equal(code, IT_COAP(2, 4));
  assert_int_equal(atomic_load(&set.calls), 2);
  assert_int_equal(set.len, SETTINGS_LEN);
  assert_memory_equal(set.body, body, SETTINGS_LEN);
  stw_oscore_peer_free(peer);
}

static void upload_over_limit(void **state)
{
  fixture_t *f = *state;
  printf("  a body over the 16 KiB limit: 4.13 with Size1 16384, at once when Size1 says so, else at the block\n"
         "  that passes the limit; nothing handed to the handler\n");
  static settings_t set;
  memset(&set, 0, sizeof(set));
  stw_oscore_peer_t *peer = settings_peer(f, &set);
  static uint8_t body[STW_THING_OSCORE_BODY_MAX + 1024];
  fill(body, sizeof(body), 5);

  /* The SDK announces the size (Size1) with block 0. */
  uint8_t *answer = NULL;
  unsigned code = 0;
  stw_status_t st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_PUT, "/settings", body,
                                          STW_THING_OSCORE_BODY_MAX + 1, &code, &answer, NULL);
  printf("      PUT of %d bytes: %s (%u.%02u) %s\n", STW_THING_OSCORE_BODY_MAX + 1, stw_status_str(st), code >> 5,
         code & 31, answer ? (char *)answer : "");
  assert_int_equal(st, STW_ERR_TOO_LARGE);
  assert_int_equal(code, IT_COAP(4, 13));
  free(answer);
  assert_int_equal(atomic_load(&set.calls), 1);

  uint32_t block1 = 0, size1 = 0;
  code = send_block(f, peer, body, 1024, 0, true, 6, 0x44, 20000, &block1, &size1);
  printf("      block 0 with Size1 20000: %u.%02u, Size1 %u\n", code >> 5, code & 31, (unsigned)size1);
  assert_int_equal(code, IT_COAP(4, 13));
  assert_int_equal(size1, STW_THING_OSCORE_BODY_MAX);

  /* Without Size1: 15 blocks go in, the 16th with more to come would fill the limit. */
  for (uint32_t num = 0; num < 15; num++) {
    code = send_block(f, peer, body + num * 1024, 1024, num, true, 6, 0x45, 0, &block1, &size1);
    assert_int_equal(code, IT_COAP(2, 31));
  }
  code = send_block(f, peer, body + 15 * 1024, 1024, 15, true, 6, 0x45, 0, &block1, &size1);
  printf("      16 blocks of 1024 with more to come, no Size1: the 16th gets %u.%02u, Size1 %u\n", code >> 5,
         code & 31, (unsigned)size1);
  assert_int_equal(code, IT_COAP(4, 13));
  assert_int_equal(size1, STW_THING_OSCORE_BODY_MAX);
  /* the body is gone: its next block has nothing to continue */
  code = send_block(f, peer, body + 16 * 1024, 1024, 16, false, 6, 0x45, 0, &block1, &size1);
  assert_int_equal(code, IT_COAP(4, 8));
  assert_int_equal(atomic_load(&set.calls), 1);
  assert_int_equal(set.len, 8);  /* still the first small body */

  /* and a body within the limit goes through afterwards */
  st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_PUT, "/settings", body, SETTINGS_LEN, &code,
                             &answer, NULL);
  assert_int_equal(st, STW_OK);
  free(answer);
  assert_int_equal(atomic_load(&set.calls), 2);
  assert_memory_equal(set.body, body, SETTINGS_LEN);
  stw_oscore_peer_free(peer);
}

/* ---- an observed resource over one block ----------------------------------------- */

#define JOURNAL_LEN 3000

/* 3000 bytes of one letter: 'A' + the level. */
static unsigned journal_reading(void *arg, unsigned method, const char *path, const uint8_t *body, size_t len,
                                uint8_t *out, size_t cap, size_t *out_len)
{
  (void)method, (void)path, (void)body, (void)len;
  if (cap < JOURNAL_LEN)
    return IT_COAP(5, 0);
  memset(out, 'A' + atomic_load((atomic_int *)arg), JOURNAL_LEN);
  *out_len = JOURNAL_LEN;
  return IT_COAP(2, 5);
}

typedef struct {
  int count;
  size_t len;
  char letter;
  bool mixed;              /* a body not of one letter: blocks of two versions */
} big_notes_t;

static void on_big_note(void *arg, unsigned code, const uint8_t *payload, size_t len)
{
  big_notes_t *n = arg;
  (void)code;
  n->count++;
  n->len = len;
  n->letter = len > 0 ? (char)payload[0] : 0;
  for (size_t i = 0; i < len; i++)
    n->mixed |= payload[i] != payload[0];
}

static void journal_changes(fixture_t *f, atomic_int *level, int to)
{
  it_meter_pause(&f->m);
  atomic_store(level, to);
  assert_int_equal(stw_thing_changed(f->m.thing, "journal"), STW_OK);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
}

static void wait_big_notes(stw_session_t *s, const big_notes_t *n, int want)
{
  for (int i = 0; i < 100 && n->count < want; i++)
    assert_int_equal(stw_session_poll(s, 50), STW_OK);
}

static void observe_large_resource(void **state)
{
  fixture_t *f = *state;
  printf("  an observed 3000-byte resource: each notification carries block 0 (Block2, ETag), the SDK reads the\n"
         "  rest and delivers the body whole; one whose later blocks changed meanwhile is dropped\n");
  static atomic_int level;
  atomic_store(&level, 0);
  it_meter_pause(&f->m);
  assert_int_equal(stw_thing_resource(f->m.thing, "journal", journal_reading, &level), STW_OK);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  (void)grant_read(f, "/journal");
  stw_session_t *s = NULL;
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), f->uri, STW_SESSION_OSCORE,
                                    &s),
                   STW_OK);
  big_notes_t notes = { 0 };
  uint8_t *answer = NULL;
  size_t len = 0;
  unsigned code = 0;
  stw_status_t st = stw_session_observe(s, "/journal", on_big_note, &notes, &code, &answer, &len);
  printf("      observe /journal: %s (%u.%02u), %zu bytes\n", stw_status_str(st), code >> 5, code & 31, len);
  assert_int_equal(st, STW_OK);
  assert_int_equal(len, JOURNAL_LEN);
  assert_int_equal(answer[0], 'A');
  assert_int_equal(answer[JOURNAL_LEN - 1], 'A');
  free(answer);

  for (int change = 1; change <= 3; change++) {
    journal_changes(f, &level, change);
    wait_big_notes(s, &notes, change);
    printf("      change %d: %d notification(s), the last %zu bytes of '%c'\n", change, notes.count, notes.len,
           notes.letter);
    assert_int_equal(notes.count, change);
    assert_int_equal(notes.len, JOURNAL_LEN);
    assert_int_equal(notes.letter, 'A' + change);
    assert_false(notes.mixed);
  }

  /* The resource changes again between the notification's block 0 and
   * the client's read of block 1: that notification is dropped, and the
   * next one (the change told) brings the new body whole. */
  it_meter_pause(&f->m);
  atomic_store(&level, 4);
  assert_int_equal(stw_thing_changed(f->m.thing, "journal"), STW_OK);
  atomic_store(&level, 5);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  for (int i = 0; i < 10; i++)
    assert_int_equal(stw_session_poll(s, 50), STW_OK);
  printf("      changed while its blocks were read: %d notification(s) delivered (still 3)\n", notes.count);
  assert_int_equal(notes.count, 3);
  assert_int_equal(notes.letter, 'A' + 3);
  journal_changes(f, &level, 5);
  wait_big_notes(s, &notes, 4);
  printf("      the next change: %d, %zu bytes of '%c'\n", notes.count, notes.len, notes.letter);
  assert_int_equal(notes.count, 4);
  assert_int_equal(notes.len, JOURNAL_LEN);
  assert_int_equal(notes.letter, 'A' + 5);
  assert_false(notes.mixed);
  stw_session_close(s);
}

/* ---- B.1: a meter kept in a folder restarts with its contexts ------------------------- */

/* The fixture with the meter as a device in a folder (stw_dev_open). */
static int setup_folder(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(it_home_start(&f->w, NULL, &f->d), STW_OK);
  char dir[IT_PATH_MAX + 32], diag[192], vid[STW_ID_HEX];
  snprintf(dir, sizeof(dir), "%s/meter", f->w.root);
  stw_buf_init(&f->meter.voucher, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_imprint(f->w.mfg, "meter-1", false, &f->meter.im), STW_OK);
  assert_int_equal(stw_imprint_save(f->w.mfg, &f->meter.im, dir), STW_OK);
  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &f->meter, NULL, 0), STW_OK);
  assert_int_equal(stw_enroll_import_voucher(f->w.store, f->w.domain, f->meter.voucher.data, f->meter.voucher.len, vid,
                                             diag, sizeof(diag)),
                   STW_OK);
  assert_int_equal(stw_dev_open(dir, &f->meter.dev), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(it_device_new(&f->w, "gateway-1", false, &f->utility), STW_OK);
  assert_int_equal(stw_bootstrap(f->meter.dev, f->d.uri, &rep), STW_OK);
  assert_int_equal(stw_bootstrap(f->utility.dev, f->d.uri, &rep), STW_OK);
  assert_int_equal(it_meter_new(f->meter.dev, "127.0.0.1:0", &f->m), STW_OK);
  assert_int_equal(stw_thing_enable_oscore(f->m.thing, "127.0.0.1:0"), STW_OK);
  snprintf(f->uri, sizeof(f->uri), "coap://127.0.0.1:%u", stw_thing_oscore_port(f->m.thing));
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  printf("    meter %s (folder %s) serves OSCORE at %s\n", stw_dev_name(f->meter.dev), dir, f->uri);
  *state = f;
  return 0;
}

/* One datagram; the answer's code, its OSCORE option (has, Partial IV
 * value) and the diagnostic of an unprotected one. */
static unsigned raw_exchange_oscore(fixture_t *f, const uint8_t *dgram, size_t len, bool *protected_answer,
                                    uint64_t *piv, size_t *piv_len, char *diag, size_t cap)
{
  uint8_t resp[2048];
  ssize_t got = (ssize_t)raw_roundtrip(f, dgram, len, resp, sizeof(resp));
  size_t i = 4 + (resp[0] & 0x0f), number = 0;
  *protected_answer = false;
  *piv = 0;
  *piv_len = 0;
  diag[0] = '\0';
  while (i < (size_t)got && resp[i] != 0xff) {
    size_t delta = resp[i] >> 4, l = resp[i] & 0x0f;
    i++;
    if (delta == 13)
      delta = 13u + resp[i++];
    if (l == 13)
      l = 13u + resp[i++];
    number += delta;
    if (number == 9) {
      *protected_answer = true;
      *piv_len = l > 0 ? (resp[i] & 7) : 0;
      for (size_t k = 0; k < *piv_len; k++)
        *piv = *piv << 8 | resp[i + 1 + k];
    }
    i += l;
  }
  if (!*protected_answer && i < (size_t)got) {
    size_t n = (size_t)got - i - 1;
    n = n < cap - 1 ? n : cap - 1;
    memcpy(diag, resp + i + 1, n);
    diag[n] = '\0';
  }
  return resp[1];
}

static void restart_keeps_contexts(void **state)
{
  fixture_t *f = *state;
  printf("  B.1: the meter saves its contexts in its folder; after a restart an old request replayed gets\n"
         "  4.01 + Echo (not acted on), the SDK repeats with the Echo, the meter's numbers never repeat\n");
  stw_oscore_peer_t *peer = NULL;
  uint8_t old_request[2048];
  size_t old_len = first_read(f, &peer, old_request, sizeof(old_request));
  uint8_t *answer = NULL;
  unsigned code = 0;
  /* the first client gets the empty Recipient ID: the kid is absent, so the
   * OSCORE option (9, after the header and the token) is 2 bytes: flags
   * (k, n = 1) and the Partial IV */
  size_t tkl = old_request[0] & 0x0f;
  assert_int_equal(old_request[4 + tkl], 0x92);
  assert_int_equal(old_request[4 + tkl + 1], 0x09);

  /* The meter's own numbers on this context: an observation of the same
   * client uses some (the registration's answer and a notification). */
  notes_t notes = { 0 };
  assert_int_equal(stw_thing_observe_oscore(&peer, f->uri, NULL, 0, NULL, "/consumption", on_note, &notes, &code,
                                            &answer, NULL),
                   STW_OK);
  free(answer);
  assert_true(stw_oscore_peer_observing(peer));
  it_meter_pause(&f->m);
  assert_int_equal(stw_thing_changed(f->m.thing, "consumption"), STW_OK);
  assert_int_equal(it_meter_start(&f->m), STW_OK);
  wait_notes(peer, &notes, 1);
  assert_int_equal(notes.count, 1);

  char path[IT_PATH_MAX + 64];
  struct stat sb;
  snprintf(path, sizeof(path), "%s/meter/oscore-ctx-0.cbor", f->w.root);
  assert_int_equal(stat(path, &sb), 0);
  printf("      saved: %s, mode %03o, %lld bytes\n", path, (unsigned)(sb.st_mode & 0777), (long long)sb.st_size);
  assert_int_equal(sb.st_mode & 0777, 0600);
  int reads = atomic_load(&f->m.reads);

  /* A saved state that does not parse (a torn write cannot make one, a
   * stray file can): dropped at the start, nothing derived from it. */
  char junk[IT_PATH_MAX + 64];
  snprintf(junk, sizeof(junk), "%s/meter/oscore-ctx-5.cbor", f->w.root);
  assert_int_equal(it_write_file(junk, "\xa1\x01\x01", 3), STW_OK);

  restart_thing(f);
  assert_int_not_equal(stat(junk, &sb), 0);
  assert_int_equal(stat(path, &sb), 0);
  bool prot = false;
  uint64_t piv = 0;
  size_t piv_len = 0;
  char diag[128];
  code = raw_exchange_oscore(f, old_request, old_len, &prot, &piv, &piv_len, diag, sizeof(diag));
  printf("      after the restart, the old request replayed: %u.%02u, protected %d, the meter's Partial IV %llu\n",
         code >> 5, code & 31, prot, (unsigned long long)piv);
  assert_int_equal(code, IT_COAP(2, 4));  /* the Outer Code of a protected answer: a 4.01 + Echo inside */
  assert_true(prot);
  assert_true(piv_len > 0);
  assert_true(piv >= 64);  /* past the saved bound: the numbers 0 and 1 used before are never used again */
  assert_int_equal(atomic_load(&f->m.reads), reads);

  stw_status_t st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code,
                                          &answer, NULL);
  printf("      the SDK calls on the old context: %s (%u.%02u) %s after an Echo round\n", stw_status_str(st),
         code >> 5, code & 31, answer ? (char *)answer : "");
  assert_int_equal(st, STW_OK);
  assert_int_equal(code, IT_COAP(2, 5));
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), reads + 1);

  code = raw_exchange_oscore(f, old_request, old_len, &prot, &piv, &piv_len, diag, sizeof(diag));
  printf("      the old request once more: %u.%02u %s\n", code >> 5, code & 31, diag);
  assert_int_equal(code, IT_COAP(4, 1));
  assert_false(prot);
  assert_string_equal(diag, "Replay detected");
  assert_int_equal(atomic_load(&f->m.reads), reads + 1);

  /* and the context goes on */
  st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code, &answer, NULL);
  assert_int_equal(st, STW_OK);
  free(answer);
  stw_oscore_peer_free(peer);
}

static void sessions_across_restart(void **state)
{
  fixture_t *f = *state;
  printf("  a session on a meter kept in a folder: after a restart the Echo round is transparent\n");
  (void)grant_meter_read(f);
  stw_session_t *s = NULL;
  assert_int_equal(stw_session_open(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), f->uri, STW_SESSION_OSCORE,
                                    &s),
                   STW_OK);
  for (int round = 0; round < 2; round++) {
    uint8_t *answer = NULL;
    unsigned code = 0;
    stw_status_t st = stw_session_request(s, STW_AIF_GET, "/consumption", NULL, 0, &code, &answer, NULL);
    printf("      %s: %s (%u.%02u)\n", round ? "after a restart" : "first", stw_status_str(st), code >> 5, code & 31);
    assert_int_equal(st, STW_OK);
    free(answer);
    if (round == 0)
      restart_thing(f);
  }
  assert_int_equal(atomic_load(&f->m.reads), 2);
  stw_session_close(s);
}

/* ---- an expired token --------------------------------------------------------------- */

static void expired_token(void **state)
{
  fixture_t *f = *state;
  printf("  a context whose token expires: protected 4.01 from the next request on; the token posted again: 4.01\n");
  /* A short-lived token as the domain's PDP signs one: it expires 2 s from
   * now at the meter, whose clock skew allowance is 30 s. */
  int64_t now = stw_now();
  uint8_t meter_spki[STW_SPKI_MAX];
  size_t meter_spki_len = 0;
  it_ldevid_spki(f->w.store, stw_dev_id(f->meter.dev), meter_spki, &meter_spki_len);
  stw_oscore_material_t mat;
  memset(&mat, 0, sizeof(mat));
  mat.ms_len = 32;
  mat.salt_len = 8;
  mat.id_len = 4;
  assert_int_equal(stw_random(mat.ms, mat.ms_len), STW_OK);
  assert_int_equal(stw_random(mat.salt, mat.salt_len), STW_OK);
  assert_int_equal(stw_random(mat.id, mat.id_len), STW_OK);
  stw_buf_t sealed = { 0 };
  assert_int_equal(stw_seal(meter_spki, meter_spki_len, (const uint8_t *)STW_CWT_OSC_SEAL_INFO,
                            sizeof(STW_CWT_OSC_SEAL_INFO) - 1, mat.ms, mat.ms_len, &sealed),
                   STW_OK);
  stw_cwt_t c;
  stw_cwt_init(&c);
  const char *iss = "home.example", *aud = stw_dev_name(f->meter.dev), *sub = stw_dev_id(f->utility.dev);
  c.iss = iss, c.iss_len = strlen(iss);
  c.aud = aud, c.aud_len = strlen(aud);
  c.sub = sub, c.sub_len = strlen(sub);
  c.iat = now - 60;
  c.exp = now - 28;
  memset(c.cti, 0x7e, 16);
  c.cti_len = 16;
  c.cnf_kind = STW_CWT_CNF_OSC;
  memcpy(c.osc_id, mat.id, mat.id_len);
  c.osc_id_len = mat.id_len;
  memcpy(c.osc_salt, mat.salt, mat.salt_len);
  c.osc_salt_len = mat.salt_len;
  assert_true(sealed.len <= sizeof(c.osc_ms_sealed));
  memcpy(c.osc_ms_sealed, sealed.data, sealed.len);
  c.osc_ms_sealed_len = sealed.len;
  stw_buf_free(&sealed, false);
  c.present = STW_CWT_HAS_ISS | STW_CWT_HAS_AUD | STW_CWT_HAS_SUB | STW_CWT_HAS_IAT | STW_CWT_HAS_EXP |
              STW_CWT_HAS_CTI | STW_CWT_HAS_CNF | STW_CWT_HAS_SCOPE;
  assert_int_equal(stw_aif_add(&c.scope, "/consumption", strlen("/consumption"), STW_AIF_GET), STW_OK);
  stw_buf_t token;
  stw_buf_init(&token, STW_PEP_TOKEN_MAX);
  assert_int_equal(stw_cwt_encode_sign(&c, f->w.domain->ca_key, NULL, 0, &token), STW_OK);

  stw_oscore_peer_t *peer = NULL;
  uint8_t *answer = NULL;
  unsigned code = 0;
  stw_status_t st = stw_thing_call_oscore(&peer, f->uri, token.data, token.len, &mat, STW_AIF_GET, "/consumption",
                                          NULL, 0, &code, &answer, NULL);
  printf("      while valid: %s (%u.%02u)\n", stw_status_str(st), code >> 5, code & 31);
  assert_int_equal(st, STW_OK);
  free(answer);
  int reads = atomic_load(&f->m.reads);
  while (stw_now() <= c.exp + 30)
    usleep(100000);
  st = stw_thing_call_oscore(&peer, f->uri, NULL, 0, NULL, STW_AIF_GET, "/consumption", NULL, 0, &code, &answer, NULL);
  printf("      expired: %s (%u.%02u, protected) %s\n", stw_status_str(st), code >> 5, code & 31,
         answer ? (char *)answer : "");
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(code, IT_COAP(4, 1));
  assert_non_null(strstr((char *)answer, "expired"));
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), reads);

  /* Posting it again makes no new context. */
  stw_oscore_peer_t *again = NULL;
  st = stw_thing_call_oscore(&again, f->uri, token.data, token.len, &mat, STW_AIF_GET, "/consumption", NULL, 0, &code,
                             &answer, NULL);
  printf("      the expired token posted again: %s (%u.%02u) %s\n", stw_status_str(st), code >> 5, code & 31,
         answer ? (char *)answer : "");
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(code, IT_COAP(4, 1));
  assert_null(again);
  free(answer);
  assert_int_equal(atomic_load(&f->m.reads), reads);
  stw_oscore_peer_free(peer);
  stw_oscore_material_clear(&mat);
  stw_buf_free(&token, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(read_over_oscore, setup, teardown),
    cmocka_unit_test_setup_teardown(thing_restarts, setup, teardown),
    cmocka_unit_test_setup_teardown(sessions, setup, teardown),
    cmocka_unit_test_setup_teardown(observe_over_oscore, setup, teardown),
    cmocka_unit_test_setup_teardown(large_body_over_oscore, setup, teardown),
    cmocka_unit_test_setup_teardown(upload_over_oscore, setup, teardown),
    cmocka_unit_test_setup_teardown(upload_out_of_order, setup, teardown),
    cmocka_unit_test_setup_teardown(upload_inconsistent_blocks, setup, teardown),
    cmocka_unit_test_setup_teardown(upload_over_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(observe_large_resource, setup, teardown),
    cmocka_unit_test_setup_teardown(expired_token, setup, teardown),
    cmocka_unit_test_setup_teardown(restart_keeps_contexts, setup_folder, teardown),
    cmocka_unit_test_setup_teardown(sessions_across_restart, setup_folder, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
