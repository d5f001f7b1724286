/* Vulnerability reports (EN 303 645 §5.2) through the real daemon: a
 * stranger with nothing but a raw public key of its own posts a report to
 * /vr with libcoap's coap-client; the store holds it, its audit record names
 * no one, and `steward admin vuln list|show|status` shows and moves it.
 * Refused, each changing nothing: a malformed body (4.00), an oversized one
 * (4.13), plain CoAP (4.01), the sixth report from one address within ten
 * minutes (4.29). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"
#include "cbor_reader.h"
#include "vuln/vuln.h"

typedef struct {
  it_world_t w;
  it_daemon_t d;
  unsigned plain_port;
  char key[IT_PATH_MAX + 32];   /* the reporter's own key, PEM */
  char body[IT_PATH_MAX + 32];  /* the payload file */
} fixture_t;

/* A free UDP port on loopback for the daemon's plain CoAP side. */
static unsigned free_udp_port(void)
{
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(it_world_init(&f->w, "home.example"), STW_OK);
  f->plain_port = free_udp_port();
  char plain[32];
  snprintf(plain, sizeof(plain), "127.0.0.1:%u", f->plain_port);
  const char *extra[] = { "--plain", plain, NULL };
  assert_int_equal(it_daemon_start(f->w.data, extra, &f->d), STW_OK);
  /* A reporter is no device of ours: a key made on the spot. */
  stw_key_t *k = NULL;
  stw_buf_t pem = { 0 };
  assert_int_equal(stw_key_generate(&k), STW_OK);
  assert_int_equal(stw_key_export_pem(k, &pem), STW_OK);
  snprintf(f->key, sizeof(f->key), "%s/reporter.pem", f->w.root);
  assert_int_equal(it_write_file(f->key, pem.data, pem.len), STW_OK);
  stw_buf_free(&pem, true);
  stw_key_free(k);
  snprintf(f->body, sizeof(f->body), "%s/report.cbor", f->w.root);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

/* {1: contact, 2: summary, 3: detail} into the payload file. */
static void write_body(fixture_t *f, const char *contact, const char *summary, const char *detail)
{
  size_t cap = 16 + strlen(contact) + strlen(summary) + strlen(detail) + 32;
  uint8_t *p = malloc(cap);
  assert_non_null(p);
  size_t n = stw_cbor_put_head(STW_CBOR_MAP, 3, p);
  const char *values[3] = { contact, summary, detail };
  for (unsigned k = 0; k < 3; k++) {
    size_t len = strlen(values[k]);
    n += stw_cbor_put_head(STW_CBOR_UINT, k + 1, p + n);
    n += stw_cbor_put_head(STW_CBOR_TSTR, len, p + n);
    memcpy(p + n, values[k], len);
    n += len;
  }
  assert_int_equal(it_write_file(f->body, p, n), STW_OK);
  free(p);
}

/* coap-client-gnutls POSTs the payload file to /vr: over DTLS with the
 * reporter's raw public key, or over plain CoAP. */
static void post_report(fixture_t *f, bool dtls, it_tool_result_t *res)
{
  char uri[96];
  if (dtls)
    snprintf(uri, sizeof(uri), "%s/vr", f->d.uri);
  else
    snprintf(uri, sizeof(uri), "coap://127.0.0.1:%u/vr", f->plain_port);
  const char *argv[16] = { "coap-client-gnutls", "-m", "post", "-B", "10", "-t", "60", "-b", "1024", "-f", f->body };
  size_t n = 11;
  if (dtls) {
    argv[n++] = "-M";  /* a raw public key: the PEM holds the private key */
    argv[n++] = f->key;
  }
  argv[n++] = uri;
  argv[n] = NULL;
  assert_int_equal(it_run_tool(argv, 20, res), STW_OK);
}

static stw_status_t count(const stw_vuln_t *v, void *ctx)
{
  (void)v;
  (*(unsigned *)ctx)++;
  return STW_OK;
}

static unsigned reports(fixture_t *f)
{
  unsigned n = 0;
  assert_int_equal(stw_store_vuln_list(f->w.store, count, &n), STW_OK);
  return n;
}

/* `steward admin --data DIR vuln ...` */
static void admin(fixture_t *f, const char *a1, const char *a2, const char *a3, it_tool_result_t *res)
{
  const char *argv[] = { getenv("STEWARD"), "admin", "--data", f->w.data, "vuln", a1, a2, a3, NULL };
  assert_non_null(argv[0]);
  assert_int_equal(it_run_tool(argv, 20, res), STW_OK);
}

static void report_list_and_triage(void **state)
{
  fixture_t *f = *state;
  it_tool_result_t res;
  uint64_t audit_before = it_audit_last(f->w.store);
  printf("  a stranger with its own raw public key posts a report to /vr\n");
  write_body(f, "mailto:ada@example.org", "lock accepts a replayed token",
             "Capture a POST /lock with its token, send it again an hour later: the lock opens.");
  post_report(f, true, &res);
  printf("      coap-client: exit %d, code %u.%02u %s\n", res.exit_code, res.code >> 5, res.code & 31, res.output);
  assert_int_equal(res.exit_code, 0);
  assert_int_equal(res.code, 0);  /* 2.01: coap-client prints only errors */
  assert_int_equal(reports(f), 1);
  stw_vuln_t v;
  assert_int_equal(stw_vuln_get(f->w.store, 1, &v), STW_OK);
  assert_string_equal(v.status, "received");
  assert_string_equal(v.contact, "mailto:ada@example.org");
  assert_string_equal(v.summary, "lock accepts a replayed token");
  assert_non_null(strstr(v.detail, "the lock opens"));
  stw_vuln_clear(&v);
  stw_audit_t last;
  assert_int_equal(it_audit_count(f->w.store, audit_before, "vuln.report", "vuln:1", "ok", &last), 1);
  assert_string_equal(last.actor, "reporter:rpk");
  assert_null(strstr(last.detail, "ada"));

  printf("  the operator lists it, reads it, triages it\n");
  admin(f, "list", NULL, NULL, &res);
  printf("%s", res.output);
  assert_int_equal(res.exit_code, 0);
  assert_non_null(strstr(res.output, "lock accepts a replayed token"));
  admin(f, "show", "1", NULL, &res);
  assert_int_equal(res.exit_code, 0);
  assert_non_null(strstr(res.output, "mailto:ada@example.org"));
  assert_non_null(strstr(res.output, "the lock opens"));
  admin(f, "status", "1", "triaged", &res);
  assert_int_equal(res.exit_code, 0);
  assert_int_equal(stw_vuln_get(f->w.store, 1, &v), STW_OK);
  assert_string_equal(v.status, "triaged");
  stw_vuln_clear(&v);
  assert_int_equal(it_audit_count(f->w.store, audit_before, "vuln.status", "vuln:1", "ok", NULL), 1);
  admin(f, "status", "1", "forgotten", &res);
  assert_int_equal(res.exit_code, 2);
  admin(f, "status", "7", "fixed", &res);
  assert_int_equal(res.exit_code, 1);
}

static void refusals_change_nothing(void **state)
{
  fixture_t *f = *state;
  it_tool_result_t res;
  uint64_t audit_before = it_audit_last(f->w.store);

  printf("  a body that is not the report map: 4.00\n");
  static const uint8_t not_a_map[] = { 0x82, 0x61, 's', 0x61, 'd' };
  assert_int_equal(it_write_file(f->body, not_a_map, sizeof(not_a_map)), STW_OK);
  post_report(f, true, &res);
  assert_int_equal(res.code, IT_COAP(4, 0));
  write_body(f, "", "escape \x1b[2J in the summary", "d");
  post_report(f, true, &res);
  assert_int_equal(res.code, IT_COAP(4, 0));

  printf("  a report over 4096 bytes: 4.13\n");
  char *detail = malloc(5001);
  assert_non_null(detail);
  memset(detail, 'x', 5000);
  detail[5000] = '\0';
  write_body(f, "", "too long", detail);
  free(detail);
  post_report(f, true, &res);
  assert_int_equal(res.code, IT_COAP(4, 13));

  printf("  plain CoAP, no DTLS at all: 4.01\n");
  write_body(f, "", "plain", "over plain CoAP");
  post_report(f, false, &res);
  assert_int_equal(res.code, IT_COAP(4, 1));
  assert_int_equal(reports(f), 0);
  assert_int_equal(it_audit_count(f->w.store, audit_before, NULL, NULL, NULL, NULL), 0);

  printf("  five reports from one address are taken, the sixth is 4.29\n");
  write_body(f, "", "one of many", "d");
  for (unsigned i = 0; i < STW_VR_RATE_MAX; i++) {
    post_report(f, true, &res);
    assert_int_equal(res.code, 0);
  }
  post_report(f, true, &res);
  printf("      sixth: %u.%02u %s", res.code >> 5, res.code & 31, res.output);
  assert_int_equal(res.code, IT_COAP(4, 29));
  assert_int_equal(reports(f), STW_VR_RATE_MAX);
  assert_int_equal(it_audit_count(f->w.store, audit_before, "vuln.report", NULL, NULL, NULL), STW_VR_RATE_MAX);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(report_list_and_triage, setup, teardown),
    cmocka_unit_test_setup_teardown(refusals_change_nothing, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
