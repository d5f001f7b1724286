/* The HTTP side's decisions without a socket (server/http/api.c): routes,
 * queries, the Bearer check, and the answers built from a store. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "store_fixture.h"

static const char token[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static stw_http_param_t param(const char *name, const char *value)
{
  return (stw_http_param_t){ name, strlen(name), value, value != NULL ? strlen(value) : 0 };
}

static stw_status_t route(const char *path, stw_route_t *r)
{
  return stw_http_route_match(path, strlen(path), r);
}

static void routes(void **state)
{
  (void)state;
  stw_route_t r;
  assert_int_equal(route("/.well-known/security.txt", &r), STW_OK);
  assert_int_equal(r.kind, STW_ROUTE_SECURITY_TXT);
  assert_false(r.api);
  assert_int_equal(route("/api/v1/devices", &r), STW_OK);
  assert_int_equal(r.kind, STW_ROUTE_DEVICES);
  assert_true(r.api);
  assert_int_equal(route("/api/v1/devices/0123456789abcdef0123456789abcdef", &r), STW_OK);
  assert_int_equal(r.kind, STW_ROUTE_DEVICE);
  assert_string_equal(r.device_id, "0123456789abcdef0123456789abcdef");
  assert_int_equal(route("/api/v1/compliance", &r), STW_OK);
  assert_int_equal(r.kind, STW_ROUTE_COMPLIANCE);
  assert_int_equal(route("/api/v1/audit", &r), STW_OK);
  assert_int_equal(r.kind, STW_ROUTE_AUDIT);
  assert_int_equal(r.limit, STW_HTTP_AUDIT_LIMIT);

  static const char *const none[] = {
    "", "/", "/api", "/api/v1", "/api/v1/", "/api/v1/devices/", "/api/v1/devices/x",
    "/api/v1/devices/0123456789ABCDEF0123456789ABCDEF",          /* ids are lower case */
    "/api/v1/devices/0123456789abcdef0123456789abcdef0",         /* one digit too many */
    "/api/v1/devices/0123456789abcdef0123456789abcdef/",
    "/API/V1/DEVICES", "/.well-known/security.txt/", "/.well-known/security.tx",
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(none); i++) {
    assert_int_equal(route(none[i], &r), STW_ERR_NOT_FOUND);
    assert_false(r.api);
  }
  /* A path with a NUL inside is not the path before it. */
  assert_int_equal(stw_http_route_match("/api/v1/devices\0x", 17, &r), STW_ERR_NOT_FOUND);
  char longer[STW_URI_MAX + 32];
  memset(longer, 'a', sizeof(longer));
  longer[0] = '/';
  assert_int_equal(stw_http_route_match(longer, sizeof(longer), &r), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_http_route_match(NULL, 0, &r), STW_ERR_NOT_FOUND);
}

static void queries(void **state)
{
  (void)state;
  stw_route_t r;
  assert_int_equal(route("/api/v1/audit", &r), STW_OK);
  stw_http_param_t ok[] = { param("since", "9223372036854775807"), param("limit", "1000") };
  assert_int_equal(stw_http_query_parse(&r, ok, 2), STW_OK);
  assert_true(r.since == INT64_MAX);
  assert_int_equal(r.limit, 1000);
  assert_int_equal(stw_http_query_parse(&r, NULL, 0), STW_OK);
  assert_int_equal(r.since, 0);
  assert_int_equal(r.limit, STW_HTTP_AUDIT_LIMIT);

  /* Each refusal leaves the route's fields as they were. */
  static const char *const bad_since[] = { "", "-1", "+1", "01", "1.0", "0x10", "9223372036854775808",
                                           "99999999999999999999", " 1", "1 " };
  for (size_t i = 0; i < STW_ARRAY_LEN(bad_since); i++) {
    r.since = 7;
    stw_http_param_t p = param("since", bad_since[i]);
    assert_int_equal(stw_http_query_parse(&r, &p, 1), STW_ERR_MALFORMED);
    assert_int_equal(r.since, 7);
  }
  stw_http_param_t bare = param("since", NULL);
  assert_int_equal(stw_http_query_parse(&r, &bare, 1), STW_ERR_MALFORMED);
  stw_http_param_t nul = { "since", 5, "1\0", 2 };
  assert_int_equal(stw_http_query_parse(&r, &nul, 1), STW_ERR_MALFORMED);
  stw_http_param_t limits[] = { param("limit", "0"), param("limit", "1001") };
  assert_int_equal(stw_http_query_parse(&r, &limits[0], 1), STW_ERR_MALFORMED);
  assert_int_equal(stw_http_query_parse(&r, &limits[1], 1), STW_ERR_MALFORMED);
  stw_http_param_t twice[] = { param("since", "1"), param("since", "2") };
  assert_int_equal(stw_http_query_parse(&r, twice, 2), STW_ERR_MALFORMED);
  stw_http_param_t unknown = param("sort", "seq");
  assert_int_equal(stw_http_query_parse(&r, &unknown, 1), STW_ERR_MALFORMED);
  stw_http_param_t many[STW_HTTP_PARAMS_MAX + 1];
  for (size_t i = 0; i < STW_ARRAY_LEN(many); i++)
    many[i] = param("since", "1");
  assert_int_equal(stw_http_query_parse(&r, many, STW_ARRAY_LEN(many)), STW_ERR_MALFORMED);
  char huge[STW_HTTP_PARAM_MAX + 2];
  memset(huge, '1', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = '\0';
  stw_http_param_t big = param("since", huge);
  assert_int_equal(stw_http_query_parse(&r, &big, 1), STW_ERR_MALFORMED);

  assert_int_equal(route("/api/v1/compliance", &r), STW_OK);
  stw_http_param_t dev = param("device", "0123456789abcdef0123456789abcdef");
  assert_int_equal(stw_http_query_parse(&r, &dev, 1), STW_OK);
  assert_string_equal(r.device_id, "0123456789abcdef0123456789abcdef");
  assert_int_equal(route("/api/v1/compliance", &r), STW_OK);
  stw_http_param_t baddev[] = { param("device", "meter-1"), param("device", ""), param("device", NULL),
                                param("since", "1") };
  for (size_t i = 0; i < STW_ARRAY_LEN(baddev); i++) {
    assert_int_equal(stw_http_query_parse(&r, &baddev[i], 1), STW_ERR_MALFORMED);
    assert_string_equal(r.device_id, "");
  }
  assert_int_equal(route("/api/v1/devices", &r), STW_OK);
  assert_int_equal(stw_http_query_parse(&r, &dev, 1), STW_ERR_MALFORMED);
  assert_int_equal(route("/.well-known/security.txt", &r), STW_OK);
  stw_http_param_t any = param("x", "1");
  assert_int_equal(stw_http_query_parse(&r, &any, 1), STW_ERR_MALFORMED);
}

static void bearer(void **state)
{
  (void)state;
  size_t n = sizeof(token) - 1;
  char header[256];
  snprintf(header, sizeof(header), "Bearer %s", token);
  assert_true(stw_http_bearer_ok(header, token, n));
  snprintf(header, sizeof(header), "bEARER %s", token);
  assert_true(stw_http_bearer_ok(header, token, n));

  assert_false(stw_http_bearer_ok(NULL, token, n));
  assert_false(stw_http_bearer_ok("", token, n));
  assert_false(stw_http_bearer_ok("Bearer", token, n));
  assert_false(stw_http_bearer_ok("Bearer ", token, n));
  assert_false(stw_http_bearer_ok(token, token, n));
  assert_false(stw_http_bearer_ok("Bearer ", "", 0));   /* no token configured lets no one in */
  snprintf(header, sizeof(header), "Basic %s", token);
  assert_false(stw_http_bearer_ok(header, token, n));
  snprintf(header, sizeof(header), "Bearer  %s", token);
  assert_false(stw_http_bearer_ok(header, token, n));
  snprintf(header, sizeof(header), "Bearer %s ", token);
  assert_false(stw_http_bearer_ok(header, token, n));
  snprintf(header, sizeof(header), "Bearer %.*s", (int)n - 1, token);
  assert_false(stw_http_bearer_ok(header, token, n));
  snprintf(header, sizeof(header), "Bearer %.*sX", (int)n - 1, token);
  assert_false(stw_http_bearer_ok(header, token, n));
  char huge[STW_HTTP_AUTH_MAX + 64];
  memset(huge, 'a', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = '\0';
  memcpy(huge, "Bearer ", 7);
  assert_false(stw_http_bearer_ok(huge, token, n));
}

/* ---- answers over a store ----------------------------------------------------- */

typedef struct {
  store_fx_t *fx;
  stw_http_api_t api;
} answers_fx_t;

static void put_device(stw_store_t *st, const char *id, const char *name, stw_cred_kind_t kind, int64_t not_after)
{
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  snprintf(d.id, sizeof(d.id), "%s", id);
  snprintf(d.name, sizeof(d.name), "%s", name);
  snprintf(d.model, sizeof(d.model), "meter");
  snprintf(d.manufacturer, sizeof(d.manufacturer), "acme");
  d.state = STW_STATE_OPERATIONAL;
  d.cred_kind = kind;
  d.ldevid_not_after = not_after;
  if (kind == STW_CRED_PSK)
    snprintf(d.psk_identity, sizeof(d.psk_identity), "op-%s", id);
  assert_int_equal(stw_store_device_put(st, &d), STW_OK);
}

static int answers_setup(void **state)
{
  answers_fx_t *a = calloc(1, sizeof(*a));
  assert_non_null(a);
  a->fx = store_fx_open("http-api");
  put_device(a->fx->st, "0123456789abcdef0123456789abcdef", "meter-01234567", STW_CRED_X509, 1900000000);
  /* A name that is not UTF-8 still makes valid JSON. */
  put_device(a->fx->st, "fedcba9876543210fedcba9876543210", "caf\xe9", STW_CRED_PSK, 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(stw_store_audit_event(a->fx->st, "admin", "test", "x", "ok", "a \"quoted\" detail"), STW_OK);
  a->api = (stw_http_api_t){ .store = a->fx->st, .data_dir = a->fx->dir, .domain_name = "home.example",
                             .coap_contact = "coaps://127.0.0.1:5684/vr", .now = 1800000000 };
  *state = a;
  return 0;
}

static int answers_teardown(void **state)
{
  answers_fx_t *a = *state;
  store_fx_close(a->fx);
  free(a);
  return 0;
}

static json_t *answer_json(const stw_http_api_t *api, const char *path, const stw_http_param_t *params, size_t n,
                           unsigned want_status)
{
  stw_route_t r;
  assert_int_equal(route(path, &r), STW_OK);
  assert_int_equal(stw_http_query_parse(&r, params, n), STW_OK);
  stw_http_answer_t a;
  memset(&a, 0, sizeof(a));
  stw_status_t st = stw_http_answer(api, &r, &a);
  assert_int_equal(a.status, want_status);
  /* The status returned says why the answer is not a 200. */
  if (want_status == 200)
    assert_int_equal(st, STW_OK);
  else
    assert_int_not_equal(st, STW_OK);
  assert_string_equal(a.content_type, "application/json");
  json_error_t err;
  json_t *j = json_loadb((const char *)a.body.data, a.body.len, 0, &err);
  assert_non_null(j);
  stw_buf_free(&a.body, false);
  return j;
}

static void devices_answer(void **state)
{
  answers_fx_t *a = *state;
  json_t *j = answer_json(&a->api, "/api/v1/devices", NULL, 0, 200);
  json_t *list = json_object_get(j, "devices");
  assert_int_equal(json_array_size(list), 2);
  json_t *x = json_array_get(list, 0), *psk = json_array_get(list, 1);
  assert_string_equal(json_string_value(json_object_get(x, "credential")), "x509");
  assert_int_equal(json_integer_value(json_object_get(x, "ldevid_not_after")), 1900000000);
  assert_string_equal(json_string_value(json_object_get(x, "state")), stw_state_name(STW_STATE_OPERATIONAL));
  assert_string_equal(json_string_value(json_object_get(psk, "credential")), "psk");
  assert_true(json_is_null(json_object_get(psk, "ldevid_not_after")));
  assert_string_equal(json_string_value(json_object_get(psk, "name")), "caf?");
  json_decref(j);

  j = answer_json(&a->api, "/api/v1/devices/fedcba9876543210fedcba9876543210", NULL, 0, 200);
  assert_string_equal(json_string_value(json_object_get(j, "id")), "fedcba9876543210fedcba9876543210");
  json_decref(j);
  j = answer_json(&a->api, "/api/v1/devices/00000000000000000000000000000000", NULL, 0, 404);
  assert_true(json_is_string(json_object_get(j, "error")));
  json_decref(j);
}

static void audit_answer(void **state)
{
  answers_fx_t *a = *state;
  stw_http_param_t p[] = { param("since", "1"), param("limit", "3") };
  json_t *j = answer_json(&a->api, "/api/v1/audit", p, 2, 200);
  json_t *records = json_object_get(j, "records");
  assert_int_equal(json_array_size(records), 3);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(records, 0), "seq")), 2);
  assert_int_equal(json_integer_value(json_object_get(j, "next")), 4);
  assert_string_equal(json_string_value(json_object_get(json_array_get(records, 0), "detail")), "a \"quoted\" detail");
  json_decref(j);
}

static void compliance_answer(void **state)
{
  answers_fx_t *a = *state;
  json_t *j = answer_json(&a->api, "/api/v1/compliance", NULL, 0, 200);
  assert_int_equal(json_integer_value(json_object_get(j, "devices_total")), 2);
  json_decref(j);
  stw_http_param_t unknown = param("device", "00000000000000000000000000000000");
  j = answer_json(&a->api, "/api/v1/compliance", &unknown, 1, 404);
  json_decref(j);
}

static void security_txt_answer(void **state)
{
  answers_fx_t *a = *state;
  stw_route_t r;
  assert_int_equal(route("/.well-known/security.txt", &r), STW_OK);
  stw_http_answer_t ans;
  memset(&ans, 0, sizeof(ans));
  assert_int_equal(stw_http_answer(&a->api, &r, &ans), STW_OK);
  assert_int_equal(ans.status, 200);
  assert_string_equal(ans.content_type, "text/plain; charset=utf-8");
  assert_int_equal(stw_buf_append(&ans.body, "", 1), STW_OK);
  assert_non_null(strstr((const char *)ans.body.data, "Contact: mailto:security@home.example\n"));
  assert_non_null(strstr((const char *)ans.body.data, "Contact: coaps://127.0.0.1:5684/vr\n"));
  stw_buf_free(&ans.body, false);

  /* A domain name that is no host name gives no file rather than a wrong one. */
  stw_http_api_t odd = a->api;
  odd.domain_name = "My Home";
  memset(&ans, 0, sizeof(ans));
  assert_int_not_equal(stw_http_answer(&odd, &r, &ans), STW_OK);
  assert_int_equal(ans.status, 404);
  stw_buf_free(&ans.body, false);
}

static void errors(void **state)
{
  (void)state;
  stw_http_answer_t a;
  memset(&a, 0, sizeof(a));
  stw_http_error(401, "token \"needed\"", true, &a);
  assert_int_equal(a.status, 401);
  assert_string_equal(a.content_type, "application/json");
  json_t *j = json_loadb((const char *)a.body.data, a.body.len, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(j, "error")), "token \"needed\"");
  json_decref(j);
  stw_http_error(404, "no such resource", false, &a);  /* replaces the body */
  assert_int_equal(a.status, 404);
  assert_string_equal(a.content_type, "text/plain; charset=utf-8");
  assert_int_equal(a.body.len, strlen("no such resource\n"));
  stw_buf_free(&a.body, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(routes),
    cmocka_unit_test(queries),
    cmocka_unit_test(bearer),
    cmocka_unit_test(errors),
    cmocka_unit_test_setup_teardown(devices_answer, answers_setup, answers_teardown),
    cmocka_unit_test_setup_teardown(audit_answer, answers_setup, answers_teardown),
    cmocka_unit_test_setup_teardown(compliance_answer, answers_setup, answers_teardown),
    cmocka_unit_test_setup_teardown(security_txt_answer, answers_setup, answers_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
