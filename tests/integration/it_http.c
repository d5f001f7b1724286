/* The daemon's HTTPS side, driven with curl (OpenSSL: a TLS stack other than
 * the daemon's GnuTLS) against `steward serve --http-listen 127.0.0.1:0`.
 * curl checks the server certificate against var/domain-ca.pem, name
 * included. security.txt is public; every /api route wants the admin
 * token. Refused, each changing nothing: no token and a wrong token (401
 * with a Bearer challenge), an unknown route (404), other methods (405),
 * malformed, oversized, repeated or unknown query parameters (400), plain
 * HTTP (no answer at all). The daemon exits 0 on SIGTERM (LSan-clean). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

typedef struct {
  it_world_t w;
  it_daemon_t d;
  it_device_t meter;
  char meter_id[STW_ID_HEX];
  char ca[IT_PATH_MAX + 32];
  char token[128];
  char body_path[IT_PATH_MAX + 32];
  char head_path[IT_PATH_MAX + 32];
} fixture_t;

typedef struct {
  int exit_code;            /* curl's */
  unsigned status;          /* HTTP status, 0 when there was no answer */
  char *body;               /* NUL-terminated; freed by answer_free() */
  char *headers;
} answer_t;

static fixture_t *fx;

static int group_setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  const char *extra[] = { "--http-listen", "127.0.0.1:0", NULL };
  assert_int_equal(it_home_start(&f->w, extra, &f->d), STW_OK);
  assert_true(strncmp(f->d.https_uri, "https://127.0.0.1:", 18) == 0);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "meter-1", &f->meter), STW_OK);
  snprintf(f->meter_id, sizeof(f->meter_id), "%s", f->meter.im.id);
  snprintf(f->ca, sizeof(f->ca), "%s/domain-ca.pem", f->w.data);
  snprintf(f->body_path, sizeof(f->body_path), "%s/body", f->w.root);
  snprintf(f->head_path, sizeof(f->head_path), "%s/headers", f->w.root);
  char token_path[IT_PATH_MAX + 32];
  snprintf(token_path, sizeof(token_path), "%s/admin.token", f->w.data);
  size_t len = 0;
  uint8_t *tok = it_read_file(token_path, &len);
  assert_non_null(tok);
  while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == ' '))
    len--;
  assert_true(len > 0 && len < sizeof(f->token));
  memcpy(f->token, tok, len);
  f->token[len] = '\0';
  free(tok);
  fx = f;
  *state = f;
  return 0;
}

static int group_teardown(void **state)
{
  fixture_t *f = *state;
  it_device_free(&f->meter);
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

static void answer_free(answer_t *a)
{
  free(a->body);
  free(a->headers);
  memset(a, 0, sizeof(*a));
}

static char *slurp(const char *path)
{
  size_t len = 0;
  uint8_t *data = it_read_file(path, &len);
  if (data == NULL)
    return calloc(1, 1);
  char *s = realloc(data, len + 1);
  assert_non_null(s);
  s[len] = '\0';
  return s;
}

/* curl -X method [-H auth] base+target, verifying against the domain CA
 * unless ca is NULL. auth: the whole Authorization value, or NULL. */
static void request_with(const char *base, const char *ca, const char *method, const char *target, const char *auth,
                         answer_t *a)
{
  fixture_t *f = fx;
  memset(a, 0, sizeof(*a));
  remove(f->body_path);
  remove(f->head_path);
  char url[4096], header[512];
  snprintf(url, sizeof(url), "%s%s", base, target);
  const char *argv[24];
  size_t n = 0;
  argv[n++] = "curl";
  argv[n++] = "-sS";
  argv[n++] = "--max-time";
  argv[n++] = "20";
  argv[n++] = "-o";
  argv[n++] = f->body_path;
  argv[n++] = "-D";
  argv[n++] = f->head_path;
  argv[n++] = "-w";
  argv[n++] = "%{http_code}";
  argv[n++] = "-X";
  argv[n++] = method;
  if (ca != NULL) {
    argv[n++] = "--cacert";
    argv[n++] = ca;
  }
  if (auth != NULL) {
    snprintf(header, sizeof(header), "Authorization: %s", auth);
    argv[n++] = "-H";
    argv[n++] = header;
  }
  argv[n++] = url;
  argv[n] = NULL;
  it_tool_result_t res;
  assert_int_equal(it_run_tool(argv, 30, &res), STW_OK);
  a->exit_code = res.exit_code;
  a->status = (unsigned)strtoul(res.output, NULL, 10);
  a->body = slurp(f->body_path);
  a->headers = slurp(f->head_path);
}

static void request(const char *method, const char *target, const char *auth, answer_t *a)
{
  request_with(fx->d.https_uri, fx->ca, method, target, auth, a);
}

static const char *bearer(void)
{
  static char value[160];
  snprintf(value, sizeof(value), "Bearer %s", fx->token);
  return value;
}

static bool has_header(const answer_t *a, const char *line)
{
  return strstr(a->headers, line) != NULL;
}

static json_t *parse_json(const answer_t *a)
{
  json_error_t err;
  json_t *j = json_loads(a->body, 0, &err);
  if (j == NULL)
    fprintf(stderr, "not JSON (%s): %s\n", err.text, a->body);
  assert_non_null(j);
  return j;
}

/* What a refused request must leave alone: the audit log's last record
 * written by anyone but the daemon's own attestation schedule, and the
 * device's state. */
typedef struct {
  uint64_t audit_last;
  int meter_state;
} snapshot_t;

static snapshot_t snapshot(void)
{
  return (snapshot_t){ it_audit_last(fx->w.store), it_device_state(fx->w.store, fx->meter_id) };
}

static void assert_unchanged(snapshot_t before)
{
  assert_int_equal(it_audit_count(fx->w.store, before.audit_last, NULL, NULL, NULL, NULL), 0);
  assert_int_equal(it_device_state(fx->w.store, fx->meter_id), before.meter_state);
}

/* Refused with this status; the answer says why in JSON under /api. */
static void assert_refused(const char *method, const char *target, const char *auth, unsigned status)
{
  snapshot_t before = snapshot();
  answer_t a;
  request(method, target, auth, &a);
  if (a.status != status)
    fprintf(stderr, "%s %s: %u, wanted %u: %s\n", method, target, a.status, status, a.body);
  assert_int_equal(a.status, status);
  assert_true(has_header(&a, "Strict-Transport-Security: max-age="));
  assert_true(has_header(&a, "X-Content-Type-Options: nosniff"));
  if (strncmp(target, "/api/", 5) == 0) {
    assert_true(has_header(&a, "Cache-Control: no-store"));
    json_t *j = parse_json(&a);
    assert_true(json_is_string(json_object_get(j, "error")));
    json_decref(j);
  }
  answer_free(&a);
  assert_unchanged(before);
}

/* ---- the tests ------------------------------------------------------------------ */

static void security_txt_over_tls(void **state)
{
  fixture_t *f = *state;
  answer_t a;
  request("GET", "/.well-known/security.txt", NULL, &a);
  assert_int_equal(a.exit_code, 0);  /* the chain and the address checked out */
  assert_int_equal(a.status, 200);
  assert_true(has_header(&a, "Content-Type: text/plain; charset=utf-8"));
  assert_true(has_header(&a, "Strict-Transport-Security: max-age="));
  assert_true(has_header(&a, "X-Content-Type-Options: nosniff"));
  assert_false(has_header(&a, "Cache-Control: no-store"));  /* public and cacheable */
  assert_non_null(strstr(a.body, "\nContact: mailto:security@home.example\n"));
  char vr[128];
  snprintf(vr, sizeof(vr), "\nContact: coaps://127.0.0.1:%u/vr\n", f->d.port);
  assert_non_null(strstr(a.body, vr));
  assert_non_null(strstr(a.body, "\nExpires: "));
  answer_free(&a);
}

static void certificate_is_the_domains(void **state)
{
  fixture_t *f = *state;
  answer_t a;
  /* Without the domain CA curl trusts nothing here (exit 60: peer certificate). */
  request_with(f->d.https_uri, NULL, "GET", "/.well-known/security.txt", NULL, &a);
  assert_int_equal(a.exit_code, 60);
  assert_int_equal(a.status, 0);
  answer_free(&a);
  /* Another CA (the manufacturer's) does not vouch for it either. */
  char other_ca[IT_PATH_MAX + 32];
  snprintf(other_ca, sizeof(other_ca), "%s/acme-ca.pem", f->w.root);
  assert_int_equal(it_write_file(other_ca, f->w.mfg_ca_pem, strlen(f->w.mfg_ca_pem)), STW_OK);
  request_with(f->d.https_uri, other_ca, "GET", "/.well-known/security.txt", NULL, &a);
  assert_int_equal(a.exit_code, 60);
  answer_free(&a);
}

static void plain_http_is_never_offered(void **state)
{
  fixture_t *f = *state;
  char plain[80];
  snprintf(plain, sizeof(plain), "http://%s", f->d.https_uri + strlen("https://"));
  snapshot_t before = snapshot();
  answer_t a;
  request_with(plain, NULL, "GET", "/.well-known/security.txt", NULL, &a);
  assert_int_not_equal(a.exit_code, 0);
  assert_int_equal(a.status, 0);
  answer_free(&a);
  assert_unchanged(before);
}

static void devices_need_the_token(void **state)
{
  (void)state;
  snapshot_t before = snapshot();
  answer_t a;
  request("GET", "/api/v1/devices", NULL, &a);
  assert_int_equal(a.status, 401);
  assert_true(has_header(&a, "WWW-Authenticate: Bearer"));
  assert_null(strstr(a.body, fx->meter_id));
  answer_free(&a);
  /* The right length, one digit off. */
  char wrong[160];
  snprintf(wrong, sizeof(wrong), "%s", bearer());
  size_t last = strlen(wrong) - 1;
  wrong[last] = wrong[last] == '0' ? '1' : '0';
  request("GET", "/api/v1/devices", wrong, &a);
  assert_int_equal(a.status, 401);
  assert_true(has_header(&a, "WWW-Authenticate: Bearer"));
  assert_true(has_header(&a, "error=\"invalid_token\""));
  assert_null(strstr(a.body, fx->meter_id));
  answer_free(&a);
  assert_unchanged(before);
  assert_refused("GET", "/api/v1/devices", "Bearer", 401);
  assert_refused("GET", "/api/v1/devices", "Basic YWRtaW46YWRtaW4=", 401);
  char longer[200];
  snprintf(longer, sizeof(longer), "%s0", bearer());
  assert_refused("GET", "/api/v1/devices", longer, 401);
  char shorter[160];
  snprintf(shorter, sizeof(shorter), "%s", bearer());
  shorter[strlen(shorter) - 1] = '\0';
  assert_refused("GET", "/api/v1/devices", shorter, 401);
  /* The token alone, without its scheme. */
  assert_refused("GET", "/api/v1/devices", fx->token, 401);
  assert_refused("GET", "/api/v1/compliance", NULL, 401);
  assert_refused("GET", "/api/v1/audit", NULL, 401);
  char one[128];
  snprintf(one, sizeof(one), "/api/v1/devices/%s", fx->meter_id);
  assert_refused("GET", one, NULL, 401);
}

static void devices_with_the_token(void **state)
{
  (void)state;
  answer_t a;
  request("GET", "/api/v1/devices", bearer(), &a);
  assert_int_equal(a.status, 200);
  assert_true(has_header(&a, "Content-Type: application/json"));
  assert_true(has_header(&a, "Cache-Control: no-store"));
  assert_true(has_header(&a, "X-Content-Type-Options: nosniff"));
  json_t *j = parse_json(&a);
  assert_string_equal(json_string_value(json_object_get(j, "domain")), "home.example");
  json_t *list = json_object_get(j, "devices");
  assert_int_equal(json_array_size(list), 1);
  json_t *d = json_array_get(list, 0);
  assert_string_equal(json_string_value(json_object_get(d, "id")), fx->meter_id);
  assert_string_equal(json_string_value(json_object_get(d, "model")), "meter-1");
  assert_string_equal(json_string_value(json_object_get(d, "manufacturer")), "ACME");
  assert_string_equal(json_string_value(json_object_get(d, "credential")), "x509");
  assert_true(json_is_string(json_object_get(d, "name")));
  assert_true(json_is_string(json_object_get(d, "state")));
  assert_true(json_integer_value(json_object_get(d, "ldevid_not_after")) > stw_now());
  json_decref(j);
  answer_free(&a);

  /* The scheme is case-insensitive (RFC 9110 11.1). */
  char lower[160];
  snprintf(lower, sizeof(lower), "bearer %s", fx->token);
  char one[128];
  snprintf(one, sizeof(one), "/api/v1/devices/%s", fx->meter_id);
  request("GET", one, lower, &a);
  assert_int_equal(a.status, 200);
  j = parse_json(&a);
  assert_string_equal(json_string_value(json_object_get(j, "id")), fx->meter_id);
  stw_device_t row;
  memset(&row, 0, sizeof(row));
  assert_int_equal(stw_store_device_get(fx->w.store, fx->meter_id, &row), STW_OK);
  assert_string_equal(json_string_value(json_object_get(j, "name")), row.name);
  assert_string_equal(json_string_value(json_object_get(j, "state")), stw_state_name(row.state));
  assert_int_equal(json_integer_value(json_object_get(j, "ldevid_not_after")), row.ldevid_not_after);
  stw_device_clear(&row);
  json_decref(j);
  answer_free(&a);

  assert_refused("GET", "/api/v1/devices/00000000000000000000000000000000", bearer(), 404);
  assert_refused("GET", "/api/v1/devices/not-a-device", bearer(), 404);
  assert_refused("GET", "/api/v1/devices/", bearer(), 404);
}

static void compliance_json(void **state)
{
  (void)state;
  answer_t a;
  request("GET", "/api/v1/compliance", bearer(), &a);
  assert_int_equal(a.status, 200);
  json_t *j = parse_json(&a);
  assert_string_equal(json_string_value(json_object_get(j, "domain")), "home.example");
  assert_int_equal(json_integer_value(json_object_get(j, "devices_total")), 1);
  assert_true(json_array_size(json_object_get(j, "fleet")) > 0);
  json_decref(j);
  answer_free(&a);

  char target[128];
  snprintf(target, sizeof(target), "/api/v1/compliance?device=%s", fx->meter_id);
  request("GET", target, bearer(), &a);
  assert_int_equal(a.status, 200);
  j = parse_json(&a);
  json_t *devices = json_object_get(j, "devices");
  assert_int_equal(json_array_size(devices), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 0), "id")), fx->meter_id);
  json_decref(j);
  answer_free(&a);

  assert_refused("GET", "/api/v1/compliance?device=00000000000000000000000000000000", bearer(), 404);
  assert_refused("GET", "/api/v1/compliance?device=meter-1", bearer(), 400);
  assert_refused("GET", "/api/v1/compliance?device=", bearer(), 400);
  assert_refused("GET", "/api/v1/compliance?device", bearer(), 400);
}

static void audit_pages(void **state)
{
  (void)state;
  answer_t a;
  request("GET", "/api/v1/audit?since=0&limit=2", bearer(), &a);
  assert_int_equal(a.status, 200);
  json_t *j = parse_json(&a);
  json_t *records = json_object_get(j, "records");
  assert_int_equal(json_array_size(records), 2);  /* enrollment left more than two */
  json_t *second = json_array_get(records, 1);
  assert_int_equal(json_integer_value(json_object_get(second, "seq")), 2);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 2);
  assert_int_equal(strlen(json_string_value(json_object_get(second, "hash"))), 64);
  /* Each record's prev_hash is the hash before it: the chain is there to check. */
  assert_string_equal(json_string_value(json_object_get(second, "prev_hash")),
                      json_string_value(json_object_get(json_array_get(records, 0), "hash")));
  json_decref(j);
  answer_free(&a);

  request("GET", "/api/v1/audit?since=1", bearer(), &a);
  assert_int_equal(a.status, 200);
  j = parse_json(&a);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "records"), 0), "seq")), 2);
  json_decref(j);
  answer_free(&a);

  request("GET", "/api/v1/audit?since=999999999", bearer(), &a);
  assert_int_equal(a.status, 200);
  j = parse_json(&a);
  assert_int_equal(json_array_size(json_object_get(j, "records")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 999999999);
  json_decref(j);
  answer_free(&a);
}

static void bad_queries(void **state)
{
  (void)state;
  static const char *const bad[] = {
    "/api/v1/audit?limit=0",                      /* below the range */
    "/api/v1/audit?limit=1001",                   /* above it */
    "/api/v1/audit?since=abc",                    /* not a number */
    "/api/v1/audit?since=-1",                     /* signed */
    "/api/v1/audit?since=+1",
    "/api/v1/audit?since=01",                     /* leading zero */
    "/api/v1/audit?since=9223372036854775808",    /* past INT64_MAX */
    "/api/v1/audit?since=1%00",                   /* a NUL inside */
    "/api/v1/audit?since=",                       /* empty */
    "/api/v1/audit?since",                        /* no value */
    "/api/v1/audit?since=1&since=2",              /* twice */
    "/api/v1/audit?sort=seq",                     /* unknown */
    "/api/v1/audit?since=1&limit=2&a=1&b=2&c=3",  /* too many */
    "/api/v1/devices?state=operational",          /* takes none */
    "/api/v1/compliance?since=1",                 /* another route's */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_refused("GET", bad[i], bearer(), 400);
  /* Oversized: a value of 4000 digits. */
  char huge[4200];
  int n = snprintf(huge, sizeof(huge), "/api/v1/audit?since=");
  memset(huge + n, '7', 4000);
  huge[n + 4000] = '\0';
  assert_refused("GET", huge, bearer(), 400);
  /* Public routes take no query either. */
  assert_refused("GET", "/.well-known/security.txt?x=1", NULL, 400);
}

static void unknown_routes_and_methods(void **state)
{
  (void)state;
  assert_refused("GET", "/", NULL, 404);
  assert_refused("GET", "/api/v1/nothing", bearer(), 404);
  assert_refused("GET", "/api/v1/nothing", NULL, 404);
  assert_refused("GET", "/.well-known/security.txt/", NULL, 404);
  assert_refused("GET", "/api/v2/devices", bearer(), 404);
  static const char *const methods[] = { "POST", "PUT", "DELETE", "PATCH" };
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    assert_refused(methods[i], "/api/v1/devices", bearer(), 405);
    assert_refused(methods[i], "/.well-known/security.txt", NULL, 405);
  }
  answer_t a;
  request("POST", "/api/v1/devices", bearer(), &a);
  assert_true(has_header(&a, "Allow: GET, HEAD"));
  answer_free(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(security_txt_over_tls),
    cmocka_unit_test(certificate_is_the_domains),
    cmocka_unit_test(plain_http_is_never_offered),
    cmocka_unit_test(devices_need_the_token),
    cmocka_unit_test(devices_with_the_token),
    cmocka_unit_test(compliance_json),
    cmocka_unit_test(audit_pages),
    cmocka_unit_test(bad_queries),
    cmocka_unit_test(unknown_routes_and_methods),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
