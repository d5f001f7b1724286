/* RD query parameters (lib/rdquery.c): registration and lookup queries,
 * percent-decoding and its bad escapes, lifetime and count ranges,
 * duplicates, attribute filters, and values over their limits. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdquery.h"

static stw_status_t parse(const char *s, stw_rd_query_t *q)
{
  return stw_rd_query_parse_string(s, strlen(s), q);
}

static void expect(const char *s, stw_status_t want)
{
  stw_rd_query_t q;
  stw_status_t got = parse(s, &q);
  if (got != want)
    fail_msg("%s: got %s, want %s", s, stw_status_str(got), stw_status_str(want));
  if (got != STW_OK) {
    /* a refused query leaves nothing half-filled */
    assert_false(q.has_ep);
    assert_int_equal(q.n_filters, 0);
    assert_int_equal(q.lt, STW_RDQ_LT_DEFAULT);
  }
}

static char *repeat(char c, size_t n)
{
  char *s = malloc(n + 1);
  assert_non_null(s);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

static void test_registration(void **state)
{
  (void)state;
  stw_rd_query_t q;
  assert_int_equal(parse("ep=node-17&d=floor2&lt=3600&base=coaps://[2001:db8::17]&et=core.rd-ep&room=kitchen", &q),
                   STW_OK);
  assert_true(q.has_ep && q.has_d && q.has_lt && q.has_base && q.has_et);
  assert_string_equal(q.ep, "node-17");
  assert_string_equal(q.d, "floor2");
  assert_int_equal(q.lt, 3600);
  assert_string_equal(q.base, "coaps://[2001:db8::17]");
  assert_string_equal(q.et, "core.rd-ep");
  assert_false(q.has_page || q.has_count);
  /* an extra endpoint attribute lands among the filters */
  assert_int_equal(q.n_filters, 1);
  assert_string_equal(q.filters[0].name, "room");
  assert_string_equal(q.filters[0].value, "kitchen");
  assert_true(q.filters[0].has_value);
}

static void test_defaults(void **state)
{
  (void)state;
  stw_rd_query_t q;
  assert_int_equal(stw_rd_query_parse_string(NULL, 0, &q), STW_OK);
  assert_false(q.has_ep || q.has_lt || q.has_page || q.has_count);
  assert_int_equal(q.lt, STW_RDQ_LT_DEFAULT);
  assert_int_equal(q.n_filters, 0);
  assert_int_equal(stw_rd_query_parse(NULL, NULL, 0, &q), STW_OK);
}

static void test_lookup(void **state)
{
  (void)state;
  stw_rd_query_t q;
  assert_int_equal(parse("rt=temp*&if=core.s&href=/sensors/*&ep=node-*&page=2&count=50&obs&rt=oic.r.temp", &q),
                   STW_OK);
  assert_true(q.has_ep);
  assert_string_equal(q.ep, "node-*");
  assert_true(q.has_page && q.has_count);
  assert_int_equal(q.page, 2);
  assert_int_equal(q.count, 50);
  assert_int_equal(q.n_filters, 5);
  const stw_rd_filter_t *f = stw_rd_query_filter(&q, "rt", 0);
  assert_non_null(f);
  assert_string_equal(f->value, "temp*");
  f = stw_rd_query_filter(&q, "rt", 1);
  assert_non_null(f);
  assert_string_equal(f->value, "oic.r.temp");
  assert_null(stw_rd_query_filter(&q, "rt", 2));
  assert_string_equal(stw_rd_query_filter(&q, "href", 0)->value, "/sensors/*");
  assert_string_equal(stw_rd_query_filter(&q, "if", 0)->value, "core.s");
  f = stw_rd_query_filter(&q, "obs", 0);
  assert_non_null(f);
  assert_false(f->has_value);
  assert_string_equal(f->value, "");
  assert_null(stw_rd_query_filter(&q, "sz", 0));
}

/* Options as they come from libcoap: already split, not NUL-terminated. */
static void test_options_array(void **state)
{
  (void)state;
  const char raw[] = "ep=a%20bXXlt=120YYrt=x";
  const char *opts[] = { raw, raw + 10, raw + 18 };
  const size_t lens[] = { 8, 6, 4 };
  stw_rd_query_t q;
  assert_int_equal(stw_rd_query_parse(opts, lens, 3, &q), STW_OK);
  assert_string_equal(q.ep, "a b");
  assert_int_equal(q.lt, 120);
  assert_string_equal(q.filters[0].value, "x");
  /* an option holding '&' is one option: the split is the caller's */
  const char *one[] = { "rt=a&b" };
  const size_t one_len[] = { 6 };
  assert_int_equal(stw_rd_query_parse(one, one_len, 1, &q), STW_OK);
  assert_string_equal(q.filters[0].value, "a&b");
  assert_int_equal(stw_rd_query_parse(NULL, NULL, 1, &q), STW_ERR_INVALID);
}

static void test_percent_decoding(void **state)
{
  (void)state;
  stw_rd_query_t q;
  assert_int_equal(parse("ep=n%C3%A9ud%2F1&rt=a%20b&%72%74=%2a&base=coap://h%3A5683", &q), STW_OK);
  assert_string_equal(q.ep, "n\xc3\xa9ud/1");
  assert_string_equal(q.filters[0].name, "rt");
  assert_string_equal(q.filters[0].value, "a b");
  assert_string_equal(q.filters[1].name, "rt");  /* a percent-encoded name */
  assert_string_equal(q.filters[1].value, "*");
  assert_string_equal(q.base, "coap://h:5683");
  /* '+' is not a space in CoAP; an encoded '=' belongs to the value */
  assert_int_equal(parse("rt=a+b&x=%3D=", &q), STW_OK);
  assert_string_equal(q.filters[0].value, "a+b");
  assert_string_equal(q.filters[1].value, "==");
  /* lower- and upper-case hex */
  assert_int_equal(parse("ep=%2f%2F", &q), STW_OK);
  assert_string_equal(q.ep, "//");

  static const char *const bad[] = {
    "ep=%", "ep=%4", "ep=a%4", "ep=%zz", "ep=%4g", "ep=%g4", "rt=%%41",
    "ep=%00", "ep=a%0Ab", "rt=%7F", "rt=%1f", "%=1", "r%t=1",
    "rt=a\tb", "rt=a\nb",
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(bad); i++)
    expect(bad[i], STW_ERR_MALFORMED);
}

static void test_names(void **state)
{
  (void)state;
  stw_rd_query_t q;
  assert_int_equal(parse("EP=x&RT=y&Lt=100", &q), STW_OK);
  assert_string_equal(q.ep, "x");
  assert_string_equal(q.filters[0].name, "rt");
  assert_int_equal(q.lt, 100);
  static const char *const bad[] = {
    "=x", "&", "ep=a&", "&ep=a", "ep=a&&lt=90", "a b=1", "a%20b=1", "a/b=1", "a*=1", "a;b",
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(bad); i++)
    expect(bad[i], STW_ERR_MALFORMED);
}

static void test_values_required(void **state)
{
  (void)state;
  static const char *const bad[] = {
    "ep", "ep=", "d", "d=", "lt", "lt=", "base", "base=", "et=", "page", "page=", "count", "count=",
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(bad); i++)
    expect(bad[i], STW_ERR_MALFORMED);
  /* filters may be bare or empty */
  stw_rd_query_t q;
  assert_int_equal(parse("obs&title=", &q), STW_OK);
  assert_false(q.filters[0].has_value);
  assert_true(q.filters[1].has_value);
  assert_string_equal(q.filters[1].value, "");
}

static void test_lifetime_range(void **state)
{
  (void)state;
  char s[64];
  stw_rd_query_t q;
  snprintf(s, sizeof(s), "lt=%u", STW_RDQ_LT_MIN);
  assert_int_equal(parse(s, &q), STW_OK);
  assert_int_equal(q.lt, STW_RDQ_LT_MIN);
  snprintf(s, sizeof(s), "lt=%u", STW_RDQ_LT_MAX);
  assert_int_equal(parse(s, &q), STW_OK);
  assert_int_equal(q.lt, STW_RDQ_LT_MAX);
  snprintf(s, sizeof(s), "lt=%u", STW_RDQ_LT_MIN - 1);
  expect(s, STW_ERR_INVALID);
  snprintf(s, sizeof(s), "lt=%u", STW_RDQ_LT_MAX + 1);
  expect(s, STW_ERR_INVALID);
  expect("lt=0", STW_ERR_INVALID);
  expect("lt=4294967295", STW_ERR_INVALID);
  expect("lt=4294967296", STW_ERR_INVALID);
  expect("lt=99999999999999999999999999999999", STW_ERR_INVALID);
  assert_int_equal(parse("lt=0000000090", &q), STW_OK);  /* leading zeros are still decimal */
  assert_int_equal(q.lt, 90);
  static const char *const bad[] = { "lt=-60", "lt=+60", "lt=60s", "lt= 60", "lt=0x60", "lt=6.0", "lt=%3660x" };
  for (size_t i = 0; i < STW_ARRAY_LEN(bad); i++)
    expect(bad[i], STW_ERR_MALFORMED);
  assert_int_equal(parse("lt=%36%30", &q), STW_OK);  /* digits may arrive percent-encoded */
  assert_int_equal(q.lt, 60);
}

static void test_paging(void **state)
{
  (void)state;
  char s[64];
  stw_rd_query_t q;
  snprintf(s, sizeof(s), "count=%u", STW_RDQ_COUNT_MAX);
  assert_int_equal(parse(s, &q), STW_OK);
  assert_int_equal(q.count, STW_RDQ_COUNT_MAX);
  snprintf(s, sizeof(s), "count=%u", STW_RDQ_COUNT_MAX + 1);
  expect(s, STW_ERR_TOO_LARGE);
  expect("count=99999999999", STW_ERR_TOO_LARGE);
  expect("count=0", STW_ERR_INVALID);
  expect("count=-1", STW_ERR_MALFORMED);
  assert_int_equal(parse("page=0&count=1", &q), STW_OK);
  assert_true(q.has_page);
  assert_int_equal(q.page, 0);
  assert_int_equal(parse("page=4294967295", &q), STW_OK);
  assert_int_equal(q.page, UINT32_MAX);
  expect("page=4294967296", STW_ERR_INVALID);
  expect("page=x", STW_ERR_MALFORMED);
}

static void test_duplicates(void **state)
{
  (void)state;
  static const char *const dup[] = {
    "ep=a&ep=a", "ep=a&EP=b", "d=x&d=y", "lt=60&lt=60", "base=coap://a&base=coap://b",
    "et=a&et=b", "page=1&page=2", "count=1&count=1", "ep=a&rt=x&ep=%61",
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(dup); i++)
    expect(dup[i], STW_ERR_MALFORMED);
  /* filters may repeat */
  stw_rd_query_t q;
  assert_int_equal(parse("rt=a&rt=a&href=/x&href=/y", &q), STW_OK);
  assert_int_equal(q.n_filters, 4);
}

static void test_filter_and_option_limits(void **state)
{
  (void)state;
  char s[1024] = "";
  for (int i = 0; i < STW_RDQ_FILTERS_MAX; i++) {
    char f[16];
    snprintf(f, sizeof(f), "%sa%d=%d", i ? "&" : "", i, i);
    strncat(s, f, sizeof(s) - strlen(s) - 1);
  }
  stw_rd_query_t q;
  assert_int_equal(parse(s, &q), STW_OK);
  assert_int_equal(q.n_filters, STW_RDQ_FILTERS_MAX);
  strncat(s, "&one=more", sizeof(s) - strlen(s) - 1);
  expect(s, STW_ERR_TOO_LARGE);
  /* the named parameters do not count as filters */
  s[strlen(s) - strlen("&one=more")] = '\0';
  strncat(s, "&ep=e&d=d&lt=60&base=b&et=t&page=1&count=9", sizeof(s) - strlen(s) - 1);
  assert_int_equal(parse(s, &q), STW_OK);

  /* more options than STW_RDQ_OPTIONS_MAX */
  const char *opts[STW_RDQ_OPTIONS_MAX + 1];
  size_t lens[STW_RDQ_OPTIONS_MAX + 1];
  for (size_t i = 0; i <= STW_RDQ_OPTIONS_MAX; i++) {
    opts[i] = "obs";
    lens[i] = 3;
  }
  assert_int_equal(stw_rd_query_parse(opts, lens, STW_RDQ_OPTIONS_MAX + 1, &q), STW_ERR_TOO_LARGE);
  s[0] = '\0';
  for (size_t i = 0; i <= STW_RDQ_OPTIONS_MAX; i++)
    strncat(s, i ? "&x" : "x", sizeof(s) - strlen(s) - 1);
  expect(s, STW_ERR_TOO_LARGE);
}

static void test_huge_values(void **state)
{
  (void)state;
  char *v = repeat('v', STW_RDQ_VALUE_MAX + 1);
  char *n = repeat('n', STW_RDQ_NAME_MAX + 1);
  char s[STW_RDQ_QUERY_MAX + 64];
  stw_rd_query_t q;

  snprintf(s, sizeof(s), "rt=%.*s", STW_RDQ_VALUE_MAX, v);
  assert_int_equal(parse(s, &q), STW_OK);
  assert_int_equal(strlen(q.filters[0].value), STW_RDQ_VALUE_MAX);
  snprintf(s, sizeof(s), "rt=%s", v);
  expect(s, STW_ERR_TOO_LARGE);
  snprintf(s, sizeof(s), "base=%s", v);
  expect(s, STW_ERR_TOO_LARGE);

  /* the limit is on decoded bytes: 255 escapes fit, 256 do not */
  size_t k = 0;
  k += (size_t)snprintf(s, sizeof(s), "et=");
  for (int i = 0; i < STW_RDQ_VALUE_MAX; i++)
    k += (size_t)snprintf(s + k, sizeof(s) - k, "%%41");
  assert_int_equal(parse(s, &q), STW_OK);
  assert_int_equal(strlen(q.et), STW_RDQ_VALUE_MAX);
  snprintf(s + k, sizeof(s) - k, "%%41");
  expect(s, STW_ERR_TOO_LARGE);

  /* ep and d: 63 bytes (RFC 9176 §5) */
  snprintf(s, sizeof(s), "ep=%.*s&d=%.*s", STW_RDQ_EP_MAX, v, STW_RDQ_EP_MAX, v);
  assert_int_equal(parse(s, &q), STW_OK);
  snprintf(s, sizeof(s), "ep=%.*s", STW_RDQ_EP_MAX + 1, v);
  expect(s, STW_ERR_TOO_LARGE);
  snprintf(s, sizeof(s), "d=%.*s", STW_RDQ_EP_MAX + 1, v);
  expect(s, STW_ERR_TOO_LARGE);

  snprintf(s, sizeof(s), "%.*s=1", STW_RDQ_NAME_MAX, n);
  assert_int_equal(parse(s, &q), STW_OK);
  snprintf(s, sizeof(s), "%s=1", n);
  expect(s, STW_ERR_TOO_LARGE);
  snprintf(s, sizeof(s), "%s", n);
  expect(s, STW_ERR_TOO_LARGE);

  /* a whole query string over its limit is refused before splitting */
  char *big = repeat('x', STW_RDQ_QUERY_MAX + 1);
  assert_int_equal(stw_rd_query_parse_string(big, STW_RDQ_QUERY_MAX + 1, &q), STW_ERR_TOO_LARGE);
  free(big);
  free(v);
  free(n);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_registration),
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_lookup),
    cmocka_unit_test(test_options_array),
    cmocka_unit_test(test_percent_decoding),
    cmocka_unit_test(test_names),
    cmocka_unit_test(test_values_required),
    cmocka_unit_test(test_lifetime_range),
    cmocka_unit_test(test_paging),
    cmocka_unit_test(test_duplicates),
    cmocka_unit_test(test_filter_and_option_limits),
    cmocka_unit_test(test_huge_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
