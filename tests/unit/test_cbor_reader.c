/* lib/cbor_reader.c: the zero-allocation CBOR pull reader. Hand-made items
 * from RFC 8949 Appendix A where they fit, the edges of every head size,
 * and the malformed forms each read must refuse without moving. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"

static stw_cbor_reader_t reader(const uint8_t *p, size_t n)
{
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, p, n);
  return r;
}

static void test_uints(void **state)
{
  (void)state;
  /* RFC 8949 Appendix A */
  static const struct {
    const char *hex;
    uint64_t value;
  } cases[] = {
    {"00", 0}, {"17", 23}, {"1818", 24}, {"18ff", 255}, {"190100", 256}, {"19ffff", 65535},
    {"1a00010000", 65536}, {"1a000f4240", 1000000}, {"1b000000e8d4a51000", 1000000000000ULL},
    {"1bffffffffffffffff", UINT64_MAX},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n;
    uint8_t *p = stw_test_hex(cases[i].hex, &n);
    stw_cbor_reader_t r = reader(p, n);
    uint64_t v = 0;
    assert_int_equal(stw_cbor_read_uint(&r, &v), STW_OK);
    assert_true(v == cases[i].value);
    assert_int_equal(stw_cbor_expect_end(&r), STW_OK);
    /* every shorter prefix is truncated */
    for (size_t k = 0; k < n; k++) {
      stw_cbor_reader_t t = reader(p, k);
      assert_int_equal(stw_cbor_read_uint(&t, &v), STW_ERR_MALFORMED);
      assert_true(t.pos == p);
    }
    free(p);
  }
}

static void test_ints(void **state)
{
  (void)state;
  static const struct {
    const char *hex;
    int64_t value;
  } cases[] = {
    {"20", -1}, {"29", -10}, {"3863", -100}, {"3903e7", -1000}, {"37", -24}, {"3818", -25},
    {"1b7fffffffffffffff", INT64_MAX}, {"3b7fffffffffffffff", INT64_MIN},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t n;
    uint8_t *p = stw_test_hex(cases[i].hex, &n);
    stw_cbor_reader_t r = reader(p, n);
    int64_t v = 0;
    assert_int_equal(stw_cbor_read_int(&r, &v), STW_OK);
    assert_true(v == cases[i].value);
    assert_true(stw_cbor_at_end(&r));
    free(p);
  }
  /* beyond int64_t either way: refused, and the reader stays put */
  static const uint8_t too_big[] = {0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t too_small[] = {0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0};  /* -2^63 - 1 */
  int64_t v;
  stw_cbor_reader_t r = reader(too_big, sizeof(too_big));
  assert_int_equal(stw_cbor_read_int(&r, &v), STW_ERR_MALFORMED);
  assert_true(r.pos == too_big);
  r = reader(too_small, sizeof(too_small));
  assert_int_equal(stw_cbor_read_int(&r, &v), STW_ERR_MALFORMED);
  /* but skipping them is fine: they are well-formed */
  assert_int_equal(stw_cbor_skip(&r), STW_OK);
  assert_true(stw_cbor_at_end(&r));
  /* a uint is not a negative integer's type and vice versa */
  static const uint8_t neg[] = {0x20};
  uint64_t u;
  r = reader(neg, 1);
  assert_int_equal(stw_cbor_read_uint(&r, &u), STW_ERR_MALFORMED);
}

static void test_strings(void **state)
{
  (void)state;
  static const uint8_t msg[] = {0x44, 1, 2, 3, 4, 0x64, 'I', 'E', 'T', 'F', 0x40, 0x60};
  stw_cbor_reader_t r = reader(msg, sizeof(msg));
  const uint8_t *b;
  const char *t;
  size_t n;
  assert_int_equal(stw_cbor_read_tstr(&r, &t, &n), STW_ERR_MALFORMED);  /* wrong type */
  assert_true(r.pos == msg);
  assert_int_equal(stw_cbor_read_bstr(&r, &b, &n), STW_OK);
  assert_int_equal(n, 4);
  assert_ptr_equal(b, msg + 1);  /* points into the input, no copy */
  assert_int_equal(stw_cbor_read_tstr(&r, &t, &n), STW_OK);
  assert_int_equal(n, 4);
  assert_memory_equal(t, "IETF", 4);
  assert_int_equal(stw_cbor_read_bstr(&r, &b, &n), STW_OK);
  assert_int_equal(n, 0);
  assert_int_equal(stw_cbor_read_tstr(&r, &t, &n), STW_OK);
  assert_int_equal(n, 0);
  assert_int_equal(stw_cbor_expect_end(&r), STW_OK);

  /* a length running past the end, at every head size, including 2^64-1 */
  static const uint8_t lies[][9] = {
    {0x45, 1, 2, 3, 4}, {0x58, 0xff, 1}, {0x79, 0xff, 0xff, 'a'},
    {0x5a, 0xff, 0xff, 0xff, 0xff}, {0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
  };
  static const size_t lie_len[] = {5, 3, 4, 5, 9};
  for (size_t i = 0; i < 5; i++) {
    r = reader(lies[i], lie_len[i]);
    stw_status_t st = (lies[i][0] >> 5) == 2 ? stw_cbor_read_bstr(&r, &b, &n) : stw_cbor_read_tstr(&r, &t, &n);
    assert_int_equal(st, STW_ERR_MALFORMED);
    assert_true(r.pos == lies[i]);
    assert_int_equal(stw_cbor_skip(&r), STW_ERR_MALFORMED);
  }
}

static void test_containers(void **state)
{
  (void)state;
  size_t n;
  uint8_t *p = stw_test_hex("a201020304", &n);  /* {1: 2, 3: 4} */
  stw_cbor_reader_t r = reader(p, n);
  size_t count;
  assert_int_equal(stw_cbor_read_array(&r, &count), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_read_map(&r, &count), STW_OK);
  assert_int_equal(count, 2);
  for (int i = 1; i <= 4; i++) {
    uint64_t v;
    assert_int_equal(stw_cbor_read_uint(&r, &v), STW_OK);
    assert_true(v == (uint64_t)i);
  }
  assert_true(stw_cbor_at_end(&r));
  free(p);

  /* counts that the bytes left cannot hold are lies: refused at the head */
  static const uint8_t big_array[] = {0x9a, 0xff, 0xff, 0xff, 0xff, 0x00};
  static const uint8_t big_map[] = {0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0};
  static const uint8_t map_odd[] = {0xa2, 0x01, 0x02, 0x03};  /* 2 pairs need 4 bytes */
  r = reader(big_array, sizeof(big_array));
  assert_int_equal(stw_cbor_read_array(&r, &count), STW_ERR_MALFORMED);
  assert_true(r.pos == big_array);
  assert_int_equal(stw_cbor_skip(&r), STW_ERR_MALFORMED);
  r = reader(big_map, sizeof(big_map));
  assert_int_equal(stw_cbor_read_map(&r, &count), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_skip(&r), STW_ERR_MALFORMED);
  r = reader(map_odd, sizeof(map_odd));
  assert_int_equal(stw_cbor_read_map(&r, &count), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_skip(&r), STW_ERR_MALFORMED);
}

static void test_tags_and_simple(void **state)
{
  (void)state;
  /* 18([]) as one-byte tag, 61(h'') with a one-byte argument, false, true, null */
  static const uint8_t msg[] = {0xd2, 0x80, 0xd8, 0x3d, 0x40, 0xf4, 0xf5, 0xf6};
  stw_cbor_reader_t r = reader(msg, sizeof(msg));
  uint64_t tag;
  size_t count;
  bool b;
  const uint8_t *data;
  size_t n;
  assert_int_equal(stw_cbor_read_tag(&r, &tag), STW_OK);
  assert_true(tag == 18);
  assert_int_equal(stw_cbor_read_array(&r, &count), STW_OK);
  assert_int_equal(count, 0);
  assert_int_equal(stw_cbor_read_tag(&r, &tag), STW_OK);
  assert_true(tag == 61);
  assert_int_equal(stw_cbor_read_bstr(&r, &data, &n), STW_OK);
  assert_int_equal(stw_cbor_read_null(&r), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_read_bool(&r, &b), STW_OK);
  assert_false(b);
  assert_int_equal(stw_cbor_read_bool(&r, &b), STW_OK);
  assert_true(b);
  assert_int_equal(stw_cbor_read_bool(&r, &b), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_read_null(&r), STW_OK);
  assert_int_equal(stw_cbor_expect_end(&r), STW_OK);

  /* a tag with nothing after it */
  static const uint8_t lonely_tag[] = {0xd2};
  r = reader(lonely_tag, 1);
  assert_int_equal(stw_cbor_read_tag(&r, &tag), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_skip(&r), STW_ERR_MALFORMED);
}

static void test_refused_forms(void **state)
{
  (void)state;
  /* indefinite lengths, reserved additional info, a lone break, a two-byte
   * simple value below 32 */
  static const uint8_t forms[][3] = {
    {0x5f, 0x40, 0xff}, {0x7f, 0x60, 0xff}, {0x9f, 0xff}, {0xbf, 0xff}, {0x1c}, {0x3d}, {0x5e},
    {0xff}, {0xf8, 0x10},
  };
  static const size_t lens[] = {3, 3, 2, 2, 1, 1, 1, 1, 2};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    stw_cbor_reader_t r = reader(forms[i], lens[i]);
    assert_int_equal(stw_cbor_skip(&r), STW_ERR_MALFORMED);
    assert_true(r.pos == forms[i]);
  }
  /* empty input: every read refuses */
  stw_cbor_reader_t r = reader(NULL, 0);
  stw_cbor_type_t type;
  uint64_t u;
  assert_int_equal(stw_cbor_peek_type(&r, &type), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_read_uint(&r, &u), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_skip(&r), STW_ERR_MALFORMED);
  assert_int_equal(stw_cbor_expect_end(&r), STW_OK);
}

static void test_skip(void **state)
{
  (void)state;
  /* [1, [2, 3], {"a": h'00', -1: [true, null]}, 1.5 (half), 100000.0 (single),
   *  1.1 (double), 18(h''), undefined, simple(32)] */
  size_t n;
  uint8_t *p = stw_test_hex("8901820203a2616141002082f5f6f93e00fa47c35000fb3ff199999999999ad240f7f820", &n);
  stw_cbor_reader_t r = reader(p, n);
  assert_int_equal(stw_cbor_skip(&r), STW_OK);
  assert_true(stw_cbor_at_end(&r));
  /* every truncation fails, and trailing bytes are seen */
  for (size_t k = 0; k < n; k++) {
    stw_cbor_reader_t t = reader(p, k);
    assert_int_equal(stw_cbor_skip(&t), STW_ERR_MALFORMED);
    assert_true(t.pos == p);
  }
  free(p);
  static const uint8_t two_items[] = {0x01, 0x02};
  r = reader(two_items, 2);
  assert_int_equal(stw_cbor_skip(&r), STW_OK);
  assert_int_equal(stw_cbor_expect_end(&r), STW_ERR_MALFORMED);
}

static void test_skip_depth(void **state)
{
  (void)state;
  /* STW_CBOR_DEPTH_MAX nested arrays around a 0 are fine; one more is not.
   * Tags count as a level. */
  uint8_t deep[STW_CBOR_DEPTH_MAX + 2];
  for (size_t depth = STW_CBOR_DEPTH_MAX; depth <= STW_CBOR_DEPTH_MAX + 1; depth++) {
    memset(deep, 0x81, depth);
    deep[depth] = 0x00;
    stw_cbor_reader_t r = reader(deep, depth + 1);
    assert_int_equal(stw_cbor_skip(&r), depth <= STW_CBOR_DEPTH_MAX ? STW_OK : STW_ERR_MALFORMED);
    memset(deep, 0xd2, depth);
    r = reader(deep, depth + 1);
    assert_int_equal(stw_cbor_skip(&r), depth <= STW_CBOR_DEPTH_MAX ? STW_OK : STW_ERR_MALFORMED);
  }
  /* wide is not deep: [[0],[0],...] of 200 */
  uint8_t wide[3 + 2 * 200];
  size_t w = 0;
  wide[w++] = 0x98;
  wide[w++] = 200;
  for (int i = 0; i < 200; i++) {
    wide[w++] = 0x81;
    wide[w++] = 0x00;
  }
  stw_cbor_reader_t r = reader(wide, w);
  assert_int_equal(stw_cbor_skip(&r), STW_OK);
  assert_true(stw_cbor_at_end(&r));
}

static void test_put_head(void **state)
{
  (void)state;
  static const uint64_t values[] = {0, 23, 24, 255, 256, 65535, 65536, 0xffffffffULL,
                                    0x100000000ULL, UINT64_MAX};
  static const size_t sizes[] = {1, 1, 2, 2, 3, 3, 5, 5, 9, 9};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    uint8_t head[STW_CBOR_HEAD_MAX];
    size_t n = stw_cbor_put_head(STW_CBOR_UINT, values[i], head);
    assert_int_equal(n, sizes[i]);
    stw_cbor_reader_t r = reader(head, n);
    uint64_t v;
    assert_int_equal(stw_cbor_read_uint(&r, &v), STW_OK);
    assert_true(v == values[i]);
    assert_true(stw_cbor_at_end(&r));
  }
  uint8_t head[STW_CBOR_HEAD_MAX];
  assert_int_equal(stw_cbor_put_head(STW_CBOR_BSTR, 64, head), 2);
  assert_int_equal(head[0], 0x58);
  assert_int_equal(head[1], 64);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_uints),          cmocka_unit_test(test_ints),
    cmocka_unit_test(test_strings),        cmocka_unit_test(test_containers),
    cmocka_unit_test(test_tags_and_simple), cmocka_unit_test(test_refused_forms),
    cmocka_unit_test(test_skip),           cmocka_unit_test(test_skip_depth),
    cmocka_unit_test(test_put_head),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
