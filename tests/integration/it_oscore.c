/* The ACE OSCORE profile end to end (RFC 9203 with RFC 8613): the real
 * daemon's PDP issues a token with OSCORE material; a utility device posts
 * it to a meter's /authz-info over plain CoAP and reads over OSCORE; a
 * request outside the scope is refused protected (4.03); a replayed
 * datagram (4.01 "Replay detected"), a flipped ciphertext byte (4.00
 * "Decryption failed") and an unknown kid (4.01) are refused unprotected. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"
#include "authz/context.h"
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
  assert_int_equal(it_world_init(&f->w, "home.example"), STW_OK);
  assert_int_equal(it_allow_model(&f->w, "meter-1"), STW_OK);
  assert_int_equal(it_allow_model(&f->w, "gateway-1"), STW_OK);
  assert_int_equal(it_daemon_start(f->w.data, NULL, &f->d), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(it_device_new(&f->w, "meter-1", false, &f->meter), STW_OK);
  assert_int_equal(it_device_new(&f->w, "gateway-1", false, &f->utility), STW_OK);
  assert_int_equal(stw_bootstrap(f->meter.dev, f->d.uri, &rep), STW_OK);
  assert_int_equal(stw_bootstrap(f->utility.dev, f->d.uri, &rep), STW_OK);
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
  int rc = it_daemon_stop(&f->d);
  it_device_free(&f->meter);
  it_device_free(&f->utility);
  it_world_free(&f->w);
  free(f);
  assert_int_equal(rc, 0);
  return 0;
}

/* One datagram to the meter's OSCORE port through a socket of our own; the
 * answer's code and its payload (the diagnostic) as text. */
static unsigned raw_exchange(fixture_t *f, const uint8_t *dgram, size_t len, char *diag, size_t cap)
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
  uint8_t resp[2048];
  ssize_t got = recv(fd, resp, sizeof(resp), 0);
  close(fd);
  assert_true(got >= 4);
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

/* The utility role for the utility, and a rule letting it GET the meter's
 * /consumption; the rule's id. */
static int64_t grant_meter_read(fixture_t *f)
{
  stw_attr_row_t role = { .name = "role", .value = "utility", .authority = "home.example" };
  assert_int_equal(stw_store_attr_set(f->w.store, stw_dev_id(f->utility.dev), &role), STW_OK);
  char rule[256], why[256];
  snprintf(rule, sizeof(rule), "permit role=utility -> %s:/consumption GET", stw_dev_name(f->meter.dev));
  int64_t id = 0;
  uint64_t revoked = 0;
  assert_int_equal(stw_authz_policy_add(f->w.store, f->w.domain, rule, "meter-read", "admin", stw_now(), &id,
                                        &revoked, why, sizeof(why)),
                   STW_OK);
  return id;
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
  (void)grant_meter_read(f);
  stw_token_t tok;
  stw_oscore_material_t mat;
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_token_request_oscore(f->utility.dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption",
                                            STW_AIF_GET, &tok, &mat, &rep),
                   STW_OK);
  stw_oscore_peer_t *peer = NULL;
  uint8_t *answer = NULL;
  unsigned code = 0;
  assert_int_equal(stw_thing_call_oscore(&peer, f->uri, tok.token, tok.token_len, &mat, STW_AIF_GET, "/consumption",
                                         NULL, 0, &code, &answer, NULL),
                   STW_OK);
  free(answer);
  size_t before_len = 0;
  const uint8_t *before = stw_oscore_peer_last_request(peer, &before_len);
  uint8_t old_request[4096];
  assert_true(before != NULL && before_len <= sizeof(old_request));
  memcpy(old_request, before, before_len);
  /* The caller's copies of token and material go: the peer kept its own. */
  stw_oscore_material_clear(&mat);
  stw_token_clear(&tok);

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

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(read_over_oscore, setup, teardown),
    cmocka_unit_test_setup_teardown(thing_restarts, setup, teardown),
    cmocka_unit_test_setup_teardown(sessions, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
