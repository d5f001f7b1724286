/* Link format (lib/linkformat.c): payloads like the ones a CoRE device
 * serves at /.well-known/core, round trips through the canonical writer,
 * every malformed case, every limit at its edge and one over, and the RD
 * (RFC 9176 §7) matching rules. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkformat.h"

static stw_links_t *new_links(void)
{
  stw_links_t *l = malloc(sizeof(*l));
  assert_non_null(l);
  stw_links_init(l);
  return l;
}

static stw_status_t parse_str(const char *s, stw_links_t *out)
{
  return stw_links_parse(s, strlen(s), out);
}

/* Write links and return the payload as a malloc'd C string. */
static char *write_str(const stw_links_t *links)
{
  stw_buf_t b;
  stw_buf_init(&b, 64 * 1024);
  assert_int_equal(stw_links_write(links, &b), STW_OK);
  char *s = malloc(b.len + 1);
  assert_non_null(s);
  if (b.len > 0)
    memcpy(s, b.data, b.len);
  s[b.len] = '\0';
  stw_buf_free(&b, false);
  return s;
}

/* parse(text) succeeds, parse(write(parse(text))) gives the same links, and
 * the canonical text is a fixed point. Returns the canonical text. */
static char *round_trip(const char *text)
{
  stw_links_t *a = new_links(), *b = new_links();
  assert_int_equal(parse_str(text, a), STW_OK);
  char *canon = write_str(a);
  assert_int_equal(parse_str(canon, b), STW_OK);
  assert_true(stw_links_equal(a, b));
  char *again = write_str(b);
  assert_string_equal(canon, again);
  free(again);
  free(a);
  free(b);
  return canon;
}

static void expect(const char *text, stw_status_t want)
{
  stw_links_t *l = new_links();
  stw_status_t got = parse_str(text, l);
  if (got != want)
    fail_msg("%s: got %s, want %s", text, stw_status_str(got), stw_status_str(want));
  if (got != STW_OK)
    assert_int_equal(stw_links_count(l), 0);
  free(l);
}

/* A string of n copies of c, malloc'd. */
static char *repeat(char c, size_t n)
{
  char *s = malloc(n + 1);
  assert_non_null(s);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* ---- examples ---- */

/* A weather station's /.well-known/core: several resources, rt lists, a
 * bare `obs`, content-format, size, a quoted title with an escaped quote. */
static void test_weather_station(void **state)
{
  (void)state;
  const char *text =
      "</sensors/wind>;rt=\"speed.ms direction\";if=sensor;obs,"
      "</sensors/rain>;rt=rain.mm;ct=0;sz=64,"
      "</config>;title=\"Station \\\"North\\\" setup\";ct=50";
  stw_links_t *l = new_links();
  assert_int_equal(parse_str(text, l), STW_OK);
  assert_int_equal(stw_links_count(l), 3);

  size_t tlen = 0;
  assert_string_equal(stw_link_target(l, 0, &tlen), "/sensors/wind");
  assert_int_equal(tlen, 13);
  assert_int_equal(stw_link_attr_count(l, 0), 3);
  assert_string_equal(stw_link_attr_name(l, 0, 0), "rt");
  assert_string_equal(stw_link_attr_value(l, 0, 0), "speed.ms direction");
  assert_string_equal(stw_link_attr_name(l, 0, 2), "obs");
  assert_null(stw_link_attr_value(l, 0, 2));

  const char *v = "x";
  assert_true(stw_link_find_attr(l, 0, "OBS", 0, &v));
  assert_null(v);
  assert_true(stw_link_find_attr(l, 1, "sz", 0, &v));
  assert_string_equal(v, "64");
  assert_false(stw_link_find_attr(l, 1, "sz", 1, &v));
  assert_false(stw_link_find_attr(l, 1, "title", 0, &v));
  assert_true(stw_link_find_attr(l, 2, "title", 0, &v));
  assert_string_equal(v, "Station \"North\" setup");

  /* out of range accessors */
  assert_null(stw_link_target(l, 3, NULL));
  assert_int_equal(stw_link_attr_count(l, 3), 0);
  assert_null(stw_link_attr_name(l, 0, 3));
  assert_null(stw_link_attr_value(l, 9, 0));
  free(l);

  char *canon = round_trip(text);
  assert_string_equal(canon,
      "</sensors/wind>;rt=\"speed.ms direction\";if=sensor;obs,"
      "</sensors/rain>;rt=rain.mm;ct=0;sz=64,"
      "</config>;title=\"Station \\\"North\\\" setup\";ct=50");
  free(canon);
}

/* Links with anchors and relations, absolute targets, as an RD returns them. */
static void test_anchors_and_relations(void **state)
{
  (void)state;
  const char *text =
      "<coap://[2001:db8::7]:5683/lamp>;anchor=\"coap://[2001:db8::7]\";rel=\"item alternate\","
      "<http://example.org/docs/lamp.html>;anchor=\"/lamp\";rel=describedby;type=\"text/html\","
      "<?q=1&r=%2Fx>;hreflang=en";
  stw_links_t *l = new_links();
  assert_int_equal(parse_str(text, l), STW_OK);
  assert_int_equal(stw_links_count(l), 3);
  assert_string_equal(stw_link_target(l, 0, NULL), "coap://[2001:db8::7]:5683/lamp");
  assert_string_equal(stw_link_target(l, 2, NULL), "?q=1&r=%2Fx");
  assert_true(stw_link_attr_matches(l, 0, "rel", "alternate"));
  assert_true(stw_link_attr_matches(l, 1, "rel", "describedby"));
  free(l);
  char *canon = round_trip(text);
  /* type's quotes were optional (text/html is a ptoken); anchor's are required */
  assert_non_null(strstr(canon, ";type=text/html"));
  assert_non_null(strstr(canon, ";anchor=\"/lamp\""));
  free(canon);
}

static void test_canonical_form(void **state)
{
  (void)state;
  char *c;
  /* names lower-cased, unneeded quotes and escapes dropped, needed ones kept */
  c = round_trip("</a>;RT=\"temp\";If=\"x\\y\";TITLE=\"t\\\\2\";ct=\"\"");
  assert_string_equal(c, "</a>;rt=temp;if=xy;title=\"t\\\\2\";ct=\"\"");
  free(c);
  /* a bare attribute stays bare, an empty quoted value stays a value */
  c = round_trip("</b>;obs;foo=\"\"");
  assert_string_equal(c, "</b>;obs;foo=\"\"");
  free(c);
  /* ptoken may hold '<', '>' and '=' */
  c = round_trip("</c>;x=a<b>=c;y=\"a,b;c\"");
  assert_string_equal(c, "</c>;x=a<b>=c;y=\"a,b;c\"");
  free(c);
  /* ext-name-star and UTF-8 inside a quoted value */
  c = round_trip("</d>;title*=UTF-8'en'%E2%82%AC;title=\"caf\xc3\xa9\"");
  assert_string_equal(c, "</d>;title*=UTF-8'en'%E2%82%AC;title=\"caf\xc3\xa9\"");
  free(c);
  /* repeated attributes keep their order */
  c = round_trip("</e>;rt=a;rt=b");
  assert_string_equal(c, "</e>;rt=a;rt=b");
  free(c);
}

static void test_empty_payload(void **state)
{
  (void)state;
  stw_links_t *l = new_links();
  assert_int_equal(stw_links_parse(NULL, 0, l), STW_OK);
  assert_int_equal(stw_links_count(l), 0);
  char *c = write_str(l);
  assert_string_equal(c, "");
  free(c);
  free(l);
}

/* ---- malformed ---- */

static void test_malformed(void **state)
{
  (void)state;
  static const char *const bad[] = {
    "<",                       /* unterminated '<' */
    "</a",                     /* missing '>' */
    "</a;rt=x",                /* missing '>' */
    "/a>",                     /* no '<' */
    "<>",                      /* empty target */
    "<>;rt=x",
    "</a b>",                  /* space in a target */
    "</a\"b>",                 /* quote in a target */
    "</a<b>",                  /* '<' in a target */
    "</a%2>",                  /* bad percent escape in a target */
    "</a%zz>",
    "</\xc3\xa9>",            /* non-ASCII target */
    "</a>x",                   /* trailing garbage */
    "</a> ",
    "</a>,",                   /* separator with no link after it */
    ",</a>",
    "</a>,,</b>",
    "</a>;",                   /* empty attribute name */
    "</a>;;rt=x",
    "</a>;=x",
    "</a>;rt=",                /* '=' with no value */
    "</a>;rt=,</b>",
    "</a>;r t=x",              /* bad name characters */
    "</a>;r\"t=x",
    "</a>;*=x",
    "</a>;a*b=x",
    "</a>;rt=a b",             /* space in a token */
    "</a>;rt=a\"b\"",
    "</a>;rt=\"abc",           /* unterminated quoted string */
    "</a>;rt=\"abc\\\"",
    "</a>;rt=\"abc\\",
    "</a>;rt=\"x\"y",          /* garbage after a quoted string */
    "</a>;anchor=/x",          /* anchor and title must be quoted */
    "</a>;title=hello",
    "</a>;rt=\"a\tb\"",        /* control characters */
    "</a>;rt=\"a\\\nb\"",
    "</a>;rt=\"a\x7f\"",
    "</a>;rt=a\x01",
    "</a>\n",
    "\n</a>",
    "</a>;rt=\"\\\xc3\xa9\"",  /* quoted-pair of a non-ASCII byte */
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(bad); i++)
    expect(bad[i], STW_ERR_MALFORMED);

  /* a NUL inside the buffer is a control character, not an end */
  stw_links_t *l = new_links();
  assert_int_equal(stw_links_parse("</a>;rt=\"x\0y\"", 13, l), STW_ERR_MALFORMED);
  assert_int_equal(stw_links_parse("</a\0>", 5, l), STW_ERR_MALFORMED);
  /* a failed parse leaves an empty set even after a good one */
  assert_int_equal(parse_str("</a>,</b>", l), STW_OK);
  assert_int_equal(parse_str("</a>,</b", l), STW_ERR_MALFORMED);
  assert_int_equal(stw_links_count(l), 0);
  free(l);
}

/* ---- limits ---- */

static void test_target_limit(void **state)
{
  (void)state;
  char *t = repeat('t', STW_LINK_TARGET_MAX + 1);
  char text[STW_LINK_TARGET_MAX + 16];
  snprintf(text, sizeof(text), "<%.*s>", STW_LINK_TARGET_MAX, t);
  expect(text, STW_OK);
  snprintf(text, sizeof(text), "<%s>", t);
  expect(text, STW_ERR_TOO_LARGE);
  /* still too large when the '>' never comes */
  snprintf(text, sizeof(text), "<%s", t);
  expect(text, STW_ERR_TOO_LARGE);
  free(t);
}

static void test_name_and_value_limits(void **state)
{
  (void)state;
  char *name = repeat('n', STW_LINK_NAME_MAX + 1);
  char *value = repeat('v', STW_LINK_VALUE_MAX + 1);
  char text[1024];

  snprintf(text, sizeof(text), "</a>;%.*s=1", STW_LINK_NAME_MAX, name);
  expect(text, STW_OK);
  snprintf(text, sizeof(text), "</a>;%s=1", name);
  expect(text, STW_ERR_TOO_LARGE);
  snprintf(text, sizeof(text), "</a>;%s", name);
  expect(text, STW_ERR_TOO_LARGE);

  snprintf(text, sizeof(text), "</a>;x=%.*s", STW_LINK_VALUE_MAX, value);
  expect(text, STW_OK);
  snprintf(text, sizeof(text), "</a>;x=%s", value);
  expect(text, STW_ERR_TOO_LARGE);
  snprintf(text, sizeof(text), "</a>;x=\"%.*s\"", STW_LINK_VALUE_MAX, value);
  expect(text, STW_OK);
  snprintf(text, sizeof(text), "</a>;x=\"%s\"", value);
  expect(text, STW_ERR_TOO_LARGE);
  /* the limit is on the decoded value: 255 escaped bytes fit */
  char esc[2 * STW_LINK_VALUE_MAX + 1];
  for (size_t i = 0; i < STW_LINK_VALUE_MAX; i++) {
    esc[2 * i] = '\\';
    esc[2 * i + 1] = 'q';
  }
  esc[2 * STW_LINK_VALUE_MAX] = '\0';
  snprintf(text, sizeof(text), "</a>;x=\"%s\"", esc);
  expect(text, STW_OK);
  snprintf(text, sizeof(text), "</a>;x=\"%sq\"", esc);
  expect(text, STW_ERR_TOO_LARGE);
  free(name);
  free(value);
}

static void test_attr_count_limit(void **state)
{
  (void)state;
  char text[512] = "</a>";
  for (int i = 0; i < STW_LINK_ATTRS_MAX; i++) {
    char a[16];
    snprintf(a, sizeof(a), ";a%d=%d", i, i);
    strncat(text, a, sizeof(text) - strlen(text) - 1);
  }
  expect(text, STW_OK);
  strncat(text, ";obs", sizeof(text) - strlen(text) - 1);
  expect(text, STW_ERR_TOO_LARGE);
}

static void test_link_count_limit(void **state)
{
  (void)state;
  char text[1024] = "";
  for (int i = 0; i < STW_LINKS_MAX; i++) {
    char a[16];
    snprintf(a, sizeof(a), "%s</%d>", i ? "," : "", i);
    strncat(text, a, sizeof(text) - strlen(text) - 1);
  }
  expect(text, STW_OK);
  strncat(text, ",</x>", sizeof(text) - strlen(text) - 1);
  expect(text, STW_ERR_TOO_LARGE);
}

static void test_payload_limit(void **state)
{
  (void)state;
  /* exactly STW_LINKS_PAYLOAD_MAX bytes: links of 255-byte targets and one filler */
  char *text = malloc(STW_LINKS_PAYLOAD_MAX + 2);
  assert_non_null(text);
  size_t n = 0;
  while (STW_LINKS_PAYLOAD_MAX - n > STW_LINK_TARGET_MAX + 3 + 5) {
    if (n > 0)
      text[n++] = ',';
    text[n++] = '<';
    memset(text + n, 'p', STW_LINK_TARGET_MAX);
    n += STW_LINK_TARGET_MAX;
    text[n++] = '>';
  }
  size_t filler = STW_LINKS_PAYLOAD_MAX - n - 3;  /* ",<" ... ">" */
  text[n++] = ',';
  text[n++] = '<';
  memset(text + n, 'f', filler);
  n += filler;
  text[n++] = '>';
  assert_int_equal(n, STW_LINKS_PAYLOAD_MAX);
  stw_links_t *l = new_links();
  assert_int_equal(stw_links_parse(text, n, l), STW_OK);
  /* the same payload written back has the same size: arena and writer cope */
  char *c = write_str(l);
  assert_int_equal(strlen(c), STW_LINKS_PAYLOAD_MAX);
  free(c);
  /* one byte more is refused before any parsing */
  text[n - 1] = 'f';
  text[n++] = '>';
  assert_int_equal(stw_links_parse(text, n, l), STW_ERR_TOO_LARGE);
  free(text);
  free(l);
}

/* The smallest links with the most strings still fit the arena. */
static void test_arena_worst_case(void **state)
{
  (void)state;
  char *text = malloc(STW_LINKS_PAYLOAD_MAX + 1);
  assert_non_null(text);
  size_t n = 0;
  for (int i = 0; i < STW_LINKS_MAX; i++) {
    if (i > 0)
      text[n++] = ',';
    memcpy(text + n, "<a>", 3);
    n += 3;
    for (int j = 0; j < STW_LINK_ATTRS_MAX - 1; j++) {
      memcpy(text + n, ";b=c", 4);
      n += 4;
    }
  }
  assert_true(n <= STW_LINKS_PAYLOAD_MAX);
  stw_links_t *l = new_links();
  assert_int_equal(stw_links_parse(text, n, l), STW_OK);
  assert_true(l->arena_used <= n);  /* decoded strings and NULs never outgrow the text */
  free(text);
  free(l);
}

static void test_writer_bound(void **state)
{
  (void)state;
  stw_links_t *l = new_links();
  assert_int_equal(parse_str("</abc>;rt=x", l), STW_OK);
  stw_buf_t b;
  stw_buf_init(&b, 10);
  assert_int_equal(stw_links_write(l, &b), STW_ERR_TOO_LARGE);
  stw_buf_free(&b, false);
  stw_buf_init(&b, 11);
  assert_int_equal(stw_links_write(l, &b), STW_OK);
  assert_int_equal(b.len, 11);
  /* a second write joins with ',' */
  b.max = 100;
  assert_int_equal(stw_links_write(l, &b), STW_OK);
  assert_int_equal(b.len, 23);
  assert_memory_equal(b.data, "</abc>;rt=x,</abc>;rt=x", 23);
  stw_buf_free(&b, false);
  free(l);
}

/* ---- building ---- */

static void test_builder(void **state)
{
  (void)state;
  stw_links_t *l = new_links();
  assert_int_equal(stw_links_add_attr(l, "rt", 2, "x", 1), STW_ERR_INVALID);  /* no link yet */
  assert_int_equal(stw_links_add(l, "/temp", 5), STW_OK);
  assert_int_equal(stw_links_add_attr(l, "RT", 2, "temperature c", 13), STW_OK);
  assert_int_equal(stw_links_add_attr(l, "obs", 3, NULL, 0), STW_OK);
  assert_int_equal(stw_links_add_attr(l, "anchor", 6, "coap://h", 8), STW_OK);
  assert_int_equal(stw_links_add_attr(l, "q", 1, "a\"b\\c", 5), STW_OK);
  assert_int_equal(stw_links_add(l, "", 0), STW_ERR_MALFORMED);
  assert_int_equal(stw_links_add(l, "/a b", 4), STW_ERR_MALFORMED);
  assert_int_equal(stw_links_add_attr(l, "bad name", 8, "v", 1), STW_ERR_MALFORMED);
  assert_int_equal(stw_links_add_attr(l, "n", 1, "a\nb", 3), STW_ERR_MALFORMED);
  char *c = write_str(l);
  assert_string_equal(c, "</temp>;rt=\"temperature c\";obs;anchor=\"coap://h\";q=\"a\\\"b\\\\c\"");
  stw_links_t *back = new_links();
  assert_int_equal(parse_str(c, back), STW_OK);
  assert_true(stw_links_equal(l, back));
  /* and equality notices a difference */
  assert_int_equal(stw_links_add_attr(back, "sz", 2, "1", 1), STW_OK);
  assert_false(stw_links_equal(l, back));
  free(c);
  free(back);
  free(l);
}

static void test_builder_arena_full(void **state)
{
  (void)state;
  stw_links_t *l = new_links();
  char *t = repeat('t', STW_LINK_TARGET_MAX);
  char *v = repeat('v', STW_LINK_VALUE_MAX);
  stw_status_t st = STW_OK;
  size_t added = 0;
  while (st == STW_OK) {
    st = stw_links_add(l, t, STW_LINK_TARGET_MAX);
    for (int j = 0; j < 4 && st == STW_OK; j++)
      st = stw_links_add_attr(l, "x", 1, v, STW_LINK_VALUE_MAX);
    added++;
  }
  assert_int_equal(st, STW_ERR_TOO_LARGE);
  assert_true(added < STW_LINKS_MAX);
  assert_true(l->arena_used <= sizeof(l->arena));
  free(t);
  free(v);
  free(l);
}

/* ---- matching ---- */

static void test_match_value(void **state)
{
  (void)state;
  assert_true(stw_match_value("temp", "temp"));
  assert_false(stw_match_value("temp", "temperature"));
  assert_false(stw_match_value("temperature", "temp"));
  assert_true(stw_match_value("temp*", "temperature"));
  assert_true(stw_match_value("temp*", "temp"));
  assert_false(stw_match_value("temp*", "tem"));
  assert_false(stw_match_value("temp*", "xtemp"));
  assert_true(stw_match_value("*", "anything"));
  assert_true(stw_match_value("*", ""));
  assert_true(stw_match_value("", ""));
  assert_false(stw_match_value("", "a"));
  /* '*' only counts at the end */
  assert_false(stw_match_value("*emp", "temp"));
  assert_true(stw_match_value("a*b", "a*b"));
  assert_false(stw_match_value("a*b", "axxb"));
  assert_false(stw_match_value(NULL, "a"));
  assert_false(stw_match_value("a", NULL));
}

static void test_attr_matches(void **state)
{
  (void)state;
  stw_links_t *l = new_links();
  assert_int_equal(parse_str("</s>;rt=\"oic.r.temp core.s\";if=\"core.s core.rp\";ct=0;obs;"
                             "title=\"two words\";rt=extra", l), STW_OK);
  /* rt, if: any element of the list */
  assert_true(stw_link_attr_matches(l, 0, "rt", "core.s"));
  assert_true(stw_link_attr_matches(l, 0, "rt", "oic.r.temp"));
  assert_true(stw_link_attr_matches(l, 0, "rt", "oic.*"));
  assert_true(stw_link_attr_matches(l, 0, "RT", "core*"));
  assert_true(stw_link_attr_matches(l, 0, "rt", "extra"));          /* second rt */
  assert_true(stw_link_attr_matches(l, 0, "rt", "oic.r.temp core.s"));  /* whole value */
  assert_false(stw_link_attr_matches(l, 0, "rt", "core"));
  assert_false(stw_link_attr_matches(l, 0, "rt", "r.temp"));
  assert_true(stw_link_attr_matches(l, 0, "if", "core.rp"));
  assert_false(stw_link_attr_matches(l, 0, "if", "core.b"));
  /* other attributes compare the whole value */
  assert_true(stw_link_attr_matches(l, 0, "title", "two words"));
  assert_false(stw_link_attr_matches(l, 0, "title", "two"));
  assert_true(stw_link_attr_matches(l, 0, "title", "two*"));
  assert_true(stw_link_attr_matches(l, 0, "ct", "0"));
  assert_false(stw_link_attr_matches(l, 0, "ct", "40"));
  /* a bare attribute has the value "" */
  assert_true(stw_link_attr_matches(l, 0, "obs", NULL));
  assert_true(stw_link_attr_matches(l, 0, "obs", "*"));
  assert_false(stw_link_attr_matches(l, 0, "obs", "1"));
  /* absent */
  assert_false(stw_link_attr_matches(l, 0, "sz", NULL));
  assert_false(stw_link_attr_matches(l, 0, "sz", "*"));
  assert_false(stw_link_attr_matches(l, 1, "rt", "*"));
  free(l);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_weather_station),
    cmocka_unit_test(test_anchors_and_relations),
    cmocka_unit_test(test_canonical_form),
    cmocka_unit_test(test_empty_payload),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_target_limit),
    cmocka_unit_test(test_name_and_value_limits),
    cmocka_unit_test(test_attr_count_limit),
    cmocka_unit_test(test_link_count_limit),
    cmocka_unit_test(test_payload_limit),
    cmocka_unit_test(test_arena_worst_case),
    cmocka_unit_test(test_writer_bound),
    cmocka_unit_test(test_builder),
    cmocka_unit_test(test_builder_arena_full),
    cmocka_unit_test(test_match_value),
    cmocka_unit_test(test_attr_matches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
