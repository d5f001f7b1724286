/* Policy rules: grammar, canonical form, matching, deny overrides permit,
 * default deny, wildcards, time windows, context conditions, explain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "authz/policy.h"

static stw_policy_t parse_ok(const char *text, int64_t id)
{
  stw_policy_t p;
  char why[128];
  stw_status_t st = stw_policy_parse(text, strlen(text), &p, why, sizeof(why));
  if (st != STW_OK)
    fail_msg("%s: %s", text, why);
  p.id = id;
  return p;
}

static void test_grammar(void **state)
{
  (void)state;
  stw_policy_t p = parse_ok("permit role=utility -> meter-*:/consumption GET if home.occupied==false", 1);
  assert_int_equal(p.effect, STW_EFFECT_PERMIT);
  assert_int_equal(p.n_subject, 1);
  assert_string_equal(p.subject[0].name, "role");
  assert_int_equal(p.target_kind, STW_TARGET_NAME);
  assert_string_equal(p.target_name, "meter-*");
  assert_string_equal(p.path, "/consumption");
  assert_int_equal(p.methods, STW_AIF_GET);
  assert_int_equal(p.n_conds, 1);
  assert_int_equal(p.conds[0].kind, STW_COND_EQ);

  p = parse_ok("deny * -> [model=lock,owner=al*]:/cfg/* PUT,POST if time 22:00-06:00 and x!=y", 2);
  assert_int_equal(p.n_subject, 0);
  assert_int_equal(p.target_kind, STW_TARGET_ATTRS);
  assert_int_equal(p.n_target, 2);
  assert_int_equal(p.methods, STW_AIF_PUT | STW_AIF_POST);
  assert_int_equal(p.conds[0].kind, STW_COND_TIME);
  assert_int_equal(p.conds[0].from_min, 22 * 60);
  assert_int_equal(p.conds[1].kind, STW_COND_NE);

  /* Canonical text parses back to itself. */
  char text[2048], again[2048];
  stw_policy_format(&p, text, sizeof(text));
  assert_string_equal(text, "deny * -> [model=lock,owner=al*]:/cfg/* POST,PUT if time 22:00-06:00 and x!=y");
  stw_policy_t q = parse_ok(text, 2);
  stw_policy_format(&q, again, sizeof(again));
  assert_string_equal(text, again);

  /* Row round trip. */
  stw_policy_row_t row;
  assert_int_equal(stw_policy_to_row(&p, &row), STW_OK);
  stw_policy_t r;
  assert_int_equal(stw_policy_from_row(&row, &r), STW_OK);
  stw_policy_format(&r, again, sizeof(again));
  assert_string_equal(text, again);
  assert_true(stw_policy_reads(&p, "x"));
  assert_false(stw_policy_reads(&p, "home.occupied"));
}

static void test_grammar_refusals(void **state)
{
  (void)state;
  const char *bad[] = {
    "",
    "allow * -> *:/a GET",
    "permit * *:/a GET",
    "permit * -> *:a GET",
    "permit * -> *:/a GOT",
    "permit * -> *:/a GET when x==y",
    "permit * -> *:/a GET if x=y",
    "permit * -> *:/a GET if time 25:00-26:00",
    "permit * -> *:/a GET if time 08:00-08:00",
    "permit * -> *:/a GET if x==y or z==w",
    "permit role -> *:/a GET",
    "permit * -> [model]:/a GET",
    "permit * -> *:/a b GET",
    "permit r=a b -> *:/a GET",
    "permit * -> *:/a GET if x==y*",
    "permit * -> *:/a GET if",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    stw_policy_t p;
    char why[128] = "";
    stw_status_t st = stw_policy_parse(bad[i], strlen(bad[i]), &p, why, sizeof(why));
    if (st == STW_OK)
      fail_msg("accepted: %s", bad[i]);
    assert_true(why[0] != '\0');
  }
  char big[STW_POLICY_TEXT_MAX + 2];
  memset(big, 'a', sizeof(big));
  stw_policy_t p;
  assert_int_equal(stw_policy_parse(big, sizeof(big), &p, NULL, 0), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_policy_parse("permit * -> *:/a\0 GET", 20, &p, NULL, 0), STW_ERR_MALFORMED);
}

static void test_glob(void **state)
{
  (void)state;
  assert_true(stw_glob_match("/a/*", "/a/b/c"));
  assert_false(stw_glob_match("/a/*", "/a"));
  assert_true(stw_glob_match("meter-*", "meter-1234"));
  assert_true(stw_glob_match("*x*y*", "axbyc"));
  assert_false(stw_glob_match("/a", "/ab"));
  assert_true(stw_glob_match("*", ""));
}

typedef struct {
  const char *occupied;  /* NULL: not set */
} ctx_t;

static bool read_ctx(void *arg, const char *name, char *value, size_t cap)
{
  ctx_t *c = arg;
  if (strcmp(name, "home.occupied") != 0 || c->occupied == NULL)
    return false;
  snprintf(value, cap, "%s", c->occupied);
  return true;
}

static const stw_attr_row_t utility_attrs[] = { { "role", "utility", "d" }, { "domain", "home", "d" } };
static const stw_attr_row_t meter_attrs[] = { { "model", "meter", "m" } };

static stw_policy_request_t request(ctx_t *c, const char *path, unsigned method, int64_t now)
{
  stw_policy_request_t r = {
    .subject = { "11111111111111111111111111111111", "util-1", utility_attrs, 2 },
    .audience = { "22222222222222222222222222222222", "meter-22222222", meter_attrs, 1 },
    .path = path,
    .method = method,
    .now = now,
    .read_context = read_ctx,
    .context_arg = c,
  };
  return r;
}

static void test_decide(void **state)
{
  (void)state;
  stw_policy_t rules[3];
  rules[0] = parse_ok("permit role=utility -> meter-*:/consumption GET if home.occupied==false", 1);
  rules[1] = parse_ok("permit role=util* -> [model=meter]:/status/* GET", 2);
  rules[2] = parse_ok("deny * -> *:/status/secret *", 3);
  ctx_t c = { "false" };
  stw_policy_decision_t d;

  stw_policy_request_t r = request(&c, "/consumption", STW_AIF_GET, 0);
  stw_policy_decide(rules, 3, &r, &d);
  assert_true(d.permit);
  assert_int_equal(d.rule_id, 1);

  c.occupied = "true";
  stw_policy_decide(rules, 3, &r, &d);
  assert_false(d.permit);
  assert_int_equal(d.rule_id, 0);  /* default deny */

  c.occupied = NULL;  /* unknown context: the permit does not apply */
  stw_policy_decide(rules, 3, &r, &d);
  assert_false(d.permit);

  r = request(&c, "/consumption", STW_AIF_PUT, 0);
  stw_policy_decide(rules, 3, &r, &d);
  assert_false(d.permit);

  r = request(&c, "/status/a/b", STW_AIF_GET, 0);
  stw_policy_decide(rules, 3, &r, &d);
  assert_true(d.permit);
  assert_int_equal(d.rule_id, 2);

  /* Deny overrides permit. */
  r = request(&c, "/status/secret", STW_AIF_GET, 0);
  stw_policy_decide(rules, 3, &r, &d);
  assert_false(d.permit);
  assert_int_equal(d.rule_id, 3);

  /* Subject attribute that is absent. */
  stw_policy_t only = parse_ok("permit role=admin -> *:/x GET", 9);
  r = request(&c, "/x", STW_AIF_GET, 0);
  stw_policy_decide(&only, 1, &r, &d);
  assert_false(d.permit);
}

static void test_unknown_context_deny_applies(void **state)
{
  (void)state;
  stw_policy_t rules[2];
  rules[0] = parse_ok("permit * -> *:/x GET", 1);
  rules[1] = parse_ok("deny * -> *:/x GET if home.occupied==true", 2);
  ctx_t c = { NULL };
  stw_policy_request_t r = request(&c, "/x", STW_AIF_GET, 0);
  stw_policy_decision_t d;
  stw_policy_decide(rules, 2, &r, &d);
  assert_false(d.permit);  /* fail closed */
  c.occupied = "false";
  stw_policy_decide(rules, 2, &r, &d);
  assert_true(d.permit);
}

static void test_time_windows(void **state)
{
  (void)state;
  stw_policy_t day = parse_ok("permit role=utility -> *:/cfg PUT if time 08:00-17:00", 1);
  stw_policy_t night = parse_ok("permit role=utility -> *:/cfg PUT if time 22:00-06:00", 2);
  ctx_t c = { NULL };
  int64_t base = 19000 * 86400LL;  /* a UTC midnight */
  struct {
    int64_t at;
    bool day, night;
  } cases[] = {
    { base + 8 * 3600, true, false },       { base + 17 * 3600 - 1, true, false }, { base + 17 * 3600, false, false },
    { base + 7 * 3600 + 3599, false, false }, { base + 23 * 3600, false, true },  { base + 2 * 3600, false, true },
    { base + 6 * 3600, false, false },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    stw_policy_request_t r = request(&c, "/cfg", STW_AIF_PUT, cases[i].at);
    assert_int_equal(stw_policy_applies(&day, &r, NULL, 0), cases[i].day);
    assert_int_equal(stw_policy_applies(&night, &r, NULL, 0), cases[i].night);
  }
}

static void test_explain(void **state)
{
  (void)state;
  stw_policy_t rules[2];
  rules[0] = parse_ok("permit role=utility -> meter-*:/consumption GET if home.occupied==false", 4);
  rules[1] = parse_ok("deny * -> *:/consumption GET if home.occupied==true", 5);
  ctx_t c = { "true" };
  stw_policy_request_t r = request(&c, "/consumption", STW_AIF_GET, 0);
  stw_buf_t out;
  assert_int_equal(stw_policy_explain(rules, 2, &r, &out), STW_OK);
  const char *text = (const char *)out.data;
  assert_non_null(strstr(text, "rule 4: permit role=utility -> meter-*:/consumption GET if home.occupied==false"));
  assert_non_null(strstr(text, "does not apply: context home.occupied is true"));
  assert_non_null(strstr(text, "decision: DENY GET /consumption: denied by rule 5"));
  stw_buf_free(&out, false);

  c.occupied = "false";
  assert_int_equal(stw_policy_explain(rules, 2, &r, &out), STW_OK);
  assert_non_null(strstr((const char *)out.data, "decision: PERMIT GET /consumption: permitted by rule 4"));
  stw_buf_free(&out, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_grammar),
    cmocka_unit_test(test_grammar_refusals),
    cmocka_unit_test(test_glob),
    cmocka_unit_test(test_decide),
    cmocka_unit_test(test_unknown_context_deny_applies),
    cmocka_unit_test(test_time_windows),
    cmocka_unit_test(test_explain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
