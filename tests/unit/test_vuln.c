/* server/vuln: the POST /vr body, the rate limit, recording reports with
 * their audit records, and security.txt (RFC 9116). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "store/store.h"
#include "vuln/vuln.h"

#define T0 1700000000

static const stw_vuln_t zero;

/* {? 1: contact, 2: summary, 3: detail} from text; NULL leaves a key out. */
static size_t body(uint8_t *p, const char *contact, const char *summary, const char *detail)
{
  size_t n = stw_cbor_put_head(STW_CBOR_MAP, (contact != NULL) + (summary != NULL) + (detail != NULL), p);
  const char *values[3] = { contact, summary, detail };
  for (unsigned k = 0; k < 3; k++) {
    if (values[k] == NULL)
      continue;
    size_t len = strlen(values[k]);
    n += stw_cbor_put_head(STW_CBOR_UINT, k + 1, p + n);
    n += stw_cbor_put_head(STW_CBOR_TSTR, len, p + n);
    memcpy(p + n, values[k], len);
    n += len;
  }
  return n;
}

static stw_status_t parse(const uint8_t *p, size_t n)
{
  stw_vuln_t v;
  memset(&v, 0x55, sizeof(v));
  stw_status_t st = stw_vr_body_parse(p, n, &v);
  if (st != STW_OK)
    assert_memory_equal(&v, &zero, sizeof(v));  /* nothing handed back */
  stw_vuln_clear(&v);
  return st;
}

static stw_status_t parse_text(const char *contact, const char *summary, const char *detail)
{
  uint8_t p[8192];
  return parse(p, body(p, contact, summary, detail));
}

static void test_body(void **state)
{
  (void)state;
  uint8_t p[8192];
  stw_vuln_t v;
  size_t n = body(p, "mailto:ada@example.org", "token replay on /lock", "Steps:\n\t1. capture\n\t2. replay");
  assert_int_equal(stw_vr_body_parse(p, n, &v), STW_OK);
  assert_string_equal(v.contact, "mailto:ada@example.org");
  assert_string_equal(v.summary, "token replay on /lock");
  assert_string_equal(v.detail, "Steps:\n\t1. capture\n\t2. replay");
  stw_vuln_clear(&v);
  /* Contact is optional and may be empty; UTF-8 text is fine. */
  assert_int_equal(parse_text(NULL, "s", "d"), STW_OK);
  assert_int_equal(parse_text("", "s", "d"), STW_OK);
  assert_int_equal(parse_text("Zoë", "Überlauf in /rd", "détail \xe2\x82\xac \xf0\x9f\x94\x92"), STW_OK);
  /* The largest detail and summary that fit. */
  char *big = malloc(STW_VULN_TEXT_MAX + 2);
  assert_non_null(big);
  memset(big, 'd', 4000);
  big[4000] = '\0';
  assert_int_equal(parse_text(NULL, "s", big), STW_OK);
  free(big);
}

static void test_body_refusals(void **state)
{
  (void)state;
  /* Missing summary or detail, empty ones. */
  assert_int_equal(parse_text("c", NULL, "d"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text("c", "s", NULL), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "", "d"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "s", ""), STW_ERR_MALFORMED);
  /* Control characters: a terminal escape, a line break where one line is
   * meant, DEL, a C1 control (U+009B, CSI), a NUL inside. */
  assert_int_equal(parse_text(NULL, "s", "a\x1b[2Jb"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "two\nlines", "d"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text("c\r", "s", "d"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "s\x7f", "d"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "s", "a\xc2\x9b" "2J"), STW_ERR_MALFORMED);
  uint8_t p[256];
  size_t n = body(p, NULL, "sX", "d");
  p[n - 4] = '\0';  /* the X of the summary */
  assert_int_equal(parse(p, n), STW_ERR_MALFORMED);
  /* Not UTF-8: a lone continuation byte, an overlong '/', a surrogate,
   * beyond U+10FFFF, a sequence cut short. */
  assert_int_equal(parse_text(NULL, "s", "\x80"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "s", "\xc0\xaf"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "s", "\xed\xa0\x80"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "s", "\xf4\x90\x80\x80"), STW_ERR_MALFORMED);
  assert_int_equal(parse_text(NULL, "s", "ab\xe2\x82"), STW_ERR_MALFORMED);
  /* Fields over the store's sizes. */
  char long_summary[STW_RD_VALUE_MAX + 1];
  memset(long_summary, 's', STW_RD_VALUE_MAX);
  long_summary[STW_RD_VALUE_MAX] = '\0';
  assert_int_equal(parse_text(NULL, long_summary, "d"), STW_ERR_MALFORMED);
  long_summary[STW_RD_VALUE_MAX - 1] = '\0';
  assert_int_equal(parse_text(NULL, long_summary, "d"), STW_OK);
  /* Unknown key, a key twice, a non-text value, not a map, trailing bytes,
   * truncated, empty. */
  static const uint8_t unknown[] = {0xa3, 0x02, 0x61, 's', 0x03, 0x61, 'd', 0x04, 0x61, 'x'};
  static const uint8_t twice[] = {0xa3, 0x02, 0x61, 's', 0x03, 0x61, 'd', 0x02, 0x61, 't'};
  static const uint8_t bytes[] = {0xa2, 0x02, 0x41, 's', 0x03, 0x61, 'd'};
  static const uint8_t array[] = {0x82, 0x61, 's', 0x61, 'd'};
  static const uint8_t trailing[] = {0xa2, 0x02, 0x61, 's', 0x03, 0x61, 'd', 0x00};
  assert_int_equal(parse(unknown, sizeof(unknown)), STW_ERR_MALFORMED);
  assert_int_equal(parse(twice, sizeof(twice)), STW_ERR_MALFORMED);
  assert_int_equal(parse(bytes, sizeof(bytes)), STW_ERR_MALFORMED);
  assert_int_equal(parse(array, sizeof(array)), STW_ERR_MALFORMED);
  assert_int_equal(parse(trailing, sizeof(trailing)), STW_ERR_MALFORMED);
  for (size_t cut = 0; cut < sizeof(trailing) - 1; cut++)
    assert_int_equal(parse(trailing, cut), STW_ERR_MALFORMED);
  assert_int_equal(parse(NULL, 0), STW_ERR_MALFORMED);
}

static void test_body_too_large(void **state)
{
  (void)state;
  uint8_t *p = calloc(1, STW_VR_BODY_MAX + 64);
  char *detail = malloc(STW_VR_BODY_MAX + 1);
  assert_non_null(p);
  assert_non_null(detail);
  /* map, key, "s", key, detail head: 8 bytes around the detail. */
  memset(detail, 'd', STW_VR_BODY_MAX - 8);
  detail[STW_VR_BODY_MAX - 8] = '\0';
  size_t n = body(p, NULL, "s", detail);
  assert_int_equal(n, STW_VR_BODY_MAX);
  assert_int_equal(parse(p, n), STW_OK);
  memset(detail, 'd', STW_VR_BODY_MAX - 7);
  detail[STW_VR_BODY_MAX - 7] = '\0';
  n = body(p, NULL, "s", detail);
  assert_int_equal(n, STW_VR_BODY_MAX + 1);
  assert_int_equal(parse(p, n), STW_ERR_TOO_LARGE);
  assert_int_equal(parse(p, STW_VR_BODY_MAX + 1), STW_ERR_TOO_LARGE);
  free(p);
  free(detail);
}

static void test_rate_limit(void **state)
{
  (void)state;
  stw_vr_limiter_t *l = calloc(1, sizeof(*l));
  assert_non_null(l);
  for (unsigned i = 0; i < STW_VR_RATE_MAX; i++)
    assert_true(stw_vr_limiter_allow(l, "192.0.2.1", T0 + i));
  assert_false(stw_vr_limiter_allow(l, "192.0.2.1", T0 + 10));
  /* Another address is not held back; the window ends. */
  assert_true(stw_vr_limiter_allow(l, "192.0.2.2", T0 + 10));
  assert_false(stw_vr_limiter_allow(l, "192.0.2.1", T0 + STW_VR_RATE_WINDOW - 1));
  assert_true(stw_vr_limiter_allow(l, "192.0.2.1", T0 + STW_VR_RATE_WINDOW));
  /* A full table forgets its oldest window instead of refusing newcomers. */
  char key[32];
  for (unsigned i = 0; i < 2 * STW_VR_LIMITER_SLOTS; i++) {
    snprintf(key, sizeof(key), "198.51.100.%u", i);
    assert_true(stw_vr_limiter_allow(l, key, T0 + 1000 + i));
  }
  /* Keys longer than a slot count as what fits; an empty key is one key. */
  char longkey[200];
  memset(longkey, 'a', sizeof(longkey) - 1);
  longkey[sizeof(longkey) - 1] = '\0';
  for (unsigned i = 0; i < STW_VR_RATE_MAX; i++)
    assert_true(stw_vr_limiter_allow(l, longkey, T0 + 2000));
  assert_false(stw_vr_limiter_allow(l, longkey, T0 + 2000));
  for (unsigned i = 0; i < STW_VR_RATE_MAX; i++)
    assert_true(stw_vr_limiter_allow(l, "", T0 + 2000));
  assert_false(stw_vr_limiter_allow(l, "", T0 + 2000));
  free(l);
}

typedef struct {
  char *dir;
  stw_store_t *store;
} fx_t;

static int store_setup(void **state)
{
  fx_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return -1;
  f->dir = stw_test_tmpdir("vuln");
  char url[600];
  snprintf(url, sizeof(url), "sqlite:%s/steward.db", f->dir);
  if (stw_store_open(url, &f->store) != STW_OK)
    return -1;
  *state = f;
  return 0;
}

static int store_teardown(void **state)
{
  fx_t *f = *state;
  stw_store_close(f->store);
  stw_test_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static stw_status_t count_reports(const stw_vuln_t *v, void *ctx)
{
  (void)v;
  (*(unsigned *)ctx)++;
  return STW_OK;
}

typedef struct {
  unsigned n;
  stw_audit_t last;
} audits_t;

static stw_status_t collect_audit(const stw_audit_t *a, void *ctx)
{
  audits_t *x = ctx;
  x->n++;
  x->last = *a;
  return STW_OK;
}

static void test_record_and_status(void **state)
{
  fx_t *f = *state;
  uint8_t p[512];
  stw_vuln_t v;
  size_t n = body(p, "mailto:ada@example.org", "token replay", "details");
  assert_int_equal(stw_vr_body_parse(p, n, &v), STW_OK);
  assert_int_equal(stw_store_begin(f->store), STW_OK);
  assert_int_equal(stw_vuln_record(f->store, &v, "reporter:rpk"), STW_OK);
  assert_int_equal(stw_store_commit(f->store), STW_OK);
  assert_true(v.id > 0);
  int64_t id = v.id;
  stw_vuln_clear(&v);

  stw_vuln_t got;
  assert_int_equal(stw_vuln_get(f->store, id, &got), STW_OK);
  assert_string_equal(got.status, "received");
  assert_string_equal(got.contact, "mailto:ada@example.org");
  assert_string_equal(got.detail, "details");
  stw_vuln_clear(&got);
  /* The audit record names the channel, never the reporter or the text. */
  audits_t a = {0};
  assert_int_equal(stw_store_audit_list(f->store, 0, 0, collect_audit, &a), STW_OK);
  assert_int_equal(a.n, 1);
  assert_string_equal(a.last.action, "vuln.report");
  assert_string_equal(a.last.actor, "reporter:rpk");
  assert_null(strstr(a.last.detail, "ada"));
  assert_null(strstr(a.last.detail, "replay"));

  assert_int_equal(stw_vuln_change_status(f->store, id, "triaged", "admin"), STW_OK);
  assert_int_equal(stw_vuln_get(f->store, id, &got), STW_OK);
  assert_string_equal(got.status, "triaged");
  stw_vuln_clear(&got);
  /* Refusals change nothing: an unknown status, an unknown report. */
  assert_int_equal(stw_vuln_change_status(f->store, id, "ignored", "admin"), STW_ERR_INVALID);
  assert_int_equal(stw_vuln_change_status(f->store, id + 1, "fixed", "admin"), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_vuln_get(f->store, id + 1, &got), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_vuln_get(f->store, id, &got), STW_OK);
  assert_string_equal(got.status, "triaged");
  stw_vuln_clear(&got);
  a.n = 0;
  assert_int_equal(stw_store_audit_list(f->store, 0, 0, collect_audit, &a), STW_OK);
  assert_int_equal(a.n, 2);
  assert_string_equal(a.last.action, "vuln.status");
  unsigned reports = 0;
  assert_int_equal(stw_store_vuln_list(f->store, count_reports, &reports), STW_OK);
  assert_int_equal(reports, 1);
}

static stw_status_t render(const stw_security_txt_opts_t *o, char *out, size_t cap)
{
  stw_buf_t b = {0};
  stw_status_t st = stw_security_txt(o, T0, &b);
  if (st == STW_OK) {
    assert_true(b.len < cap);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
  }
  stw_buf_free(&b, false);
  return st;
}

static void test_security_txt(void **state)
{
  (void)state;
  char text[2048];
  stw_security_txt_opts_t o = { .domain_name = "home.example" };
  assert_int_equal(render(&o, text, sizeof(text)), STW_OK);
  /* T0 + 180 days = 2024-05-12T22:13:20Z */
  assert_string_equal(text,
                      "# How to report a security vulnerability (RFC 9116), written by steward\n"
                      "Contact: mailto:security@home.example\n"
                      "Expires: 2024-05-12T22:13:20Z\n"
                      "Policy: https://home.example/security-policy\n"
                      "Preferred-Languages: en\n"
                      "Canonical: https://home.example/.well-known/security.txt\n");
  o.contact = "https://home.example/report";
  o.coap_contact = "coaps://gw.home.example/vr";
  o.languages = "en, de,fr";
  o.expires = T0 + 86400;
  assert_int_equal(render(&o, text, sizeof(text)), STW_OK);
  assert_non_null(strstr(text, "Contact: https://home.example/report\nContact: coaps://gw.home.example/vr\n"));
  assert_non_null(strstr(text, "Expires: 2023-11-15T22:13:20Z\n"));
  assert_non_null(strstr(text, "Preferred-Languages: en, de,fr\n"));
  /* Every value stays on its line: no setting can add a field. */
  stw_security_txt_opts_t bad = o;
  bad.contact = "mailto:a@b\nCanonical: https://evil.example/";
  assert_int_equal(render(&bad, text, sizeof(text)), STW_ERR_INVALID);
  bad = o;
  bad.languages = "en\r\nContact: x:y";
  assert_int_equal(render(&bad, text, sizeof(text)), STW_ERR_INVALID);
  /* URIs: a scheme is needed, http: is refused, Canonical is https. */
  bad = o;
  bad.contact = "security@home.example";
  assert_int_equal(render(&bad, text, sizeof(text)), STW_ERR_INVALID);
  bad = o;
  bad.policy = "http://home.example/policy";
  assert_int_equal(render(&bad, text, sizeof(text)), STW_ERR_INVALID);
  bad = o;
  bad.canonical = "mailto:x@y";
  assert_int_equal(render(&bad, text, sizeof(text)), STW_ERR_INVALID);
  /* Expires in the past; a language list that is not one. */
  bad = o;
  bad.expires = T0 - 1;
  assert_int_equal(render(&bad, text, sizeof(text)), STW_ERR_INVALID);
  bad = o;
  bad.languages = "en;q=1";
  assert_int_equal(render(&bad, text, sizeof(text)), STW_ERR_INVALID);
  /* A domain name that is no host name needs explicit values. */
  stw_security_txt_opts_t named = { .domain_name = "Home Example" };
  assert_int_equal(render(&named, text, sizeof(text)), STW_ERR_INVALID);
  named.contact = "mailto:sec@example.org";
  named.policy = "https://example.org/policy";
  named.canonical = "https://example.org/.well-known/security.txt";
  assert_int_equal(render(&named, text, sizeof(text)), STW_OK);
  /* An over-long value is refused, not cut short. */
  char longuri[400];
  memset(longuri, 'a', sizeof(longuri) - 1);
  longuri[sizeof(longuri) - 1] = '\0';
  memcpy(longuri, "https://", 8);
  named.policy = longuri;
  assert_int_equal(render(&named, text, sizeof(text)), STW_ERR_INVALID);
}

/* With STW_FUZZ_SEEDS=<dir>, write the seed corpus of fuzz_vr_body there
 * (tests/fuzz/corpus/vr_body/ holds what this wrote); otherwise nothing. */
static void test_write_fuzz_seeds(void **state)
{
  (void)state;
  const char *dir = getenv("STW_FUZZ_SEEDS");
  if (dir == NULL)
    skip();
  uint8_t p[512];
  stw_test_write_seed(dir, "report.cbor", p, body(p, "mailto:ada@example.org", "token replay", "Steps:\n\t1. capture"));
  stw_test_write_seed(dir, "anonymous.cbor", p, body(p, NULL, "Zo\xc3\xab", "d\xc3\xa9tail \xf0\x9f\x94\x92"));
  stw_test_write_seed(dir, "escape.cbor", p, body(p, NULL, "s", "a\x1b[2Jb"));
  stw_test_write_seed(dir, "overlong-utf8.cbor", p, body(p, NULL, "s", "\xc0\xaf"));
  static const uint8_t twice[] = {0xa3, 0x02, 0x61, 's', 0x03, 0x61, 'd', 0x02, 0x61, 't'};
  stw_test_write_seed(dir, "summary-twice.cbor", twice, sizeof(twice));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_body),
    cmocka_unit_test(test_body_refusals),
    cmocka_unit_test(test_body_too_large),
    cmocka_unit_test(test_rate_limit),
    cmocka_unit_test_setup_teardown(test_record_and_status, store_setup, store_teardown),
    cmocka_unit_test(test_security_txt),
    cmocka_unit_test(test_write_fuzz_seeds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
