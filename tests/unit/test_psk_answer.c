/* The operational-PSK answer (lib/psk_answer.c): round trip, the exact bytes
 * it encodes, every truncation, wrong types, keys and lengths, and identities
 * and names at their limits. */
#include "testutil.h"

#include <string.h>

#include "psk_answer.h"

static void fill_key(uint8_t key[STW_PSK_KEY_LEN], uint8_t seed)
{
  for (size_t i = 0; i < STW_PSK_KEY_LEN; i++)
    key[i] = (uint8_t)(seed + 7 * i);
}

/* A string of n copies of c in buf (n + 1 bytes). */
static const char *repeat(char *buf, char c, size_t n)
{
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

static void encode_ok(const char *identity, const char *name, uint8_t *out, size_t *len)
{
  uint8_t key[STW_PSK_KEY_LEN];
  fill_key(key, 1);
  assert_int_equal(stw_psk_answer_encode(identity, key, name, out, STW_PSK_ANSWER_MAX, len), STW_OK);
}

static void test_round_trip(void **state)
{
  (void)state;
  uint8_t key[STW_PSK_KEY_LEN], out[STW_PSK_ANSWER_MAX], back[STW_PSK_KEY_LEN];
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1];
  size_t len = 0;
  fill_key(key, 0x40);
  assert_int_equal(stw_psk_answer_encode("op-0123456789abcdef-deadbeef", key, "lamp-01234567",
                                         out, sizeof(out), &len), STW_OK);
  assert_int_equal(stw_psk_answer_decode(out, len, identity, back, name), STW_OK);
  assert_string_equal(identity, "op-0123456789abcdef-deadbeef");
  assert_string_equal(name, "lamp-01234567");
  assert_memory_equal(back, key, sizeof(key));
}

/* The wire form is fixed (docs/protocol.md): map(3), keys 1, 2, 3, one-byte
 * length forms. Check it byte by byte so a change is deliberate. */
static void test_exact_bytes(void **state)
{
  (void)state;
  uint8_t key[STW_PSK_KEY_LEN], out[STW_PSK_ANSWER_MAX];
  size_t len = 0;
  memset(key, 0xab, sizeof(key));
  assert_int_equal(stw_psk_answer_encode("id", key, "n", out, sizeof(out), &len), STW_OK);
  uint8_t want[1 + 1 + 2 + 2 + 1 + 2 + 32 + 1 + 2 + 1];
  size_t n = 0;
  want[n++] = 0xa3;
  want[n++] = 0x01; want[n++] = 0x78; want[n++] = 2; want[n++] = 'i'; want[n++] = 'd';
  want[n++] = 0x02; want[n++] = 0x58; want[n++] = 32;
  memset(want + n, 0xab, 32);
  n += 32;
  want[n++] = 0x03; want[n++] = 0x78; want[n++] = 1; want[n++] = 'n';
  assert_int_equal(n, sizeof(want));
  assert_int_equal(len, sizeof(want));
  assert_memory_equal(out, want, sizeof(want));
}

static void test_every_truncation_fails(void **state)
{
  (void)state;
  uint8_t out[STW_PSK_ANSWER_MAX], key[STW_PSK_KEY_LEN];
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1];
  size_t len = 0;
  encode_ok("op-identity", "kettle-00ff00ff", out, &len);
  for (size_t cut = 0; cut < len; cut++)
    assert_int_equal(stw_psk_answer_decode(out, cut, identity, key, name), STW_ERR_MALFORMED);
  /* and one byte too many */
  out[len] = 0x00;
  assert_int_equal(stw_psk_answer_decode(out, len + 1, identity, key, name), STW_ERR_MALFORMED);
  assert_int_equal(stw_psk_answer_decode(out, len, identity, key, name), STW_OK);
}

/* Decode a copy of good with byte at offset replaced by value. */
static stw_status_t decode_patched(const uint8_t *good, size_t len, size_t offset, uint8_t value)
{
  uint8_t buf[STW_PSK_ANSWER_MAX + 8], key[STW_PSK_KEY_LEN];
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1];
  memcpy(buf, good, len);
  buf[offset] = value;
  return stw_psk_answer_decode(buf, len, identity, key, name);
}

static void test_wrong_types_and_keys(void **state)
{
  (void)state;
  uint8_t out[STW_PSK_ANSWER_MAX];
  size_t len = 0;
  encode_ok("abc", "xy", out, &len);
  /* layout: a3 | 01 78 03 'abc' | 02 58 20 key(32) | 03 78 02 'xy' */
  const size_t key2 = 1 + 1 + 2 + 3, key3 = key2 + 1 + 2 + 32;
  assert_int_equal(decode_patched(out, len, 0, 0xa2), STW_ERR_MALFORMED);   /* map(2) */
  assert_int_equal(decode_patched(out, len, 0, 0xa4), STW_ERR_MALFORMED);   /* map(4) */
  assert_int_equal(decode_patched(out, len, 0, 0x83), STW_ERR_MALFORMED);   /* array(3) */
  assert_int_equal(decode_patched(out, len, 1, 0x02), STW_ERR_MALFORMED);   /* keys out of order */
  assert_int_equal(decode_patched(out, len, 2, 0x58), STW_ERR_MALFORMED);   /* identity as bstr */
  assert_int_equal(decode_patched(out, len, key2, 0x04), STW_ERR_MALFORMED);/* unknown key */
  assert_int_equal(decode_patched(out, len, key2 + 1, 0x78), STW_ERR_MALFORMED); /* key as tstr */
  assert_int_equal(decode_patched(out, len, key3, 0x01), STW_ERR_MALFORMED);/* key 1 again */
  assert_int_equal(decode_patched(out, len, key3 + 1, 0x58), STW_ERR_MALFORMED); /* name as bstr */
  /* two-byte length forms are not used for such short strings */
  assert_int_equal(decode_patched(out, len, 2, 0x79), STW_ERR_MALFORMED);
  /* indefinite length */
  assert_int_equal(decode_patched(out, len, 2, 0x7f), STW_ERR_MALFORMED);
  /* a NUL inside the identity or the name would cut it short in C */
  assert_int_equal(decode_patched(out, len, 4, 0x00), STW_ERR_MALFORMED);
  assert_int_equal(decode_patched(out, len, len - 1, 0x00), STW_ERR_MALFORMED);
  /* untouched, it still decodes */
  assert_int_equal(decode_patched(out, len, 0, 0xa3), STW_OK);
}

/* Build an answer by hand with a key of key_len bytes. */
static size_t build_with_key_len(uint8_t *buf, size_t key_len)
{
  size_t n = 0;
  buf[n++] = 0xa3;
  buf[n++] = 0x01; buf[n++] = 0x62; buf[n++] = 'i'; buf[n++] = 'd';  /* short form tstr */
  buf[n++] = 0x02; buf[n++] = 0x58; buf[n++] = (uint8_t)key_len;
  memset(buf + n, 0x5a, key_len);
  n += key_len;
  buf[n++] = 0x03; buf[n++] = 0x60;                                    /* empty name */
  return n;
}

static void test_key_lengths(void **state)
{
  (void)state;
  uint8_t buf[STW_PSK_ANSWER_MAX], key[STW_PSK_KEY_LEN];
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1];
  size_t n = build_with_key_len(buf, 31);
  assert_int_equal(stw_psk_answer_decode(buf, n, identity, key, name), STW_ERR_MALFORMED);
  n = build_with_key_len(buf, 33);
  assert_int_equal(stw_psk_answer_decode(buf, n, identity, key, name), STW_ERR_MALFORMED);
  n = build_with_key_len(buf, 0);
  assert_int_equal(stw_psk_answer_decode(buf, n, identity, key, name), STW_ERR_MALFORMED);
  /* 32 is right; short string forms are accepted too, and an empty name */
  n = build_with_key_len(buf, 32);
  assert_int_equal(stw_psk_answer_decode(buf, n, identity, key, name), STW_OK);
  assert_string_equal(identity, "id");
  assert_string_equal(name, "");
  uint8_t want[STW_PSK_KEY_LEN];
  memset(want, 0x5a, sizeof(want));
  assert_memory_equal(key, want, sizeof(want));
  /* a length that claims more than there is */
  buf[7] = 0xff;
  assert_int_equal(stw_psk_answer_decode(buf, n, identity, key, name), STW_ERR_MALFORMED);
}

static void test_limits(void **state)
{
  (void)state;
  char longest_id[STW_PSK_IDENTITY_MAX + 2], longest_name[STW_PSK_NAME_MAX + 2];
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1];
  uint8_t key[STW_PSK_KEY_LEN], back[STW_PSK_KEY_LEN], out[STW_PSK_ANSWER_MAX];
  size_t len = 0;
  fill_key(key, 9);

  /* both at their maximum: fits the documented answer size and round-trips */
  repeat(longest_id, 'i', STW_PSK_IDENTITY_MAX);
  repeat(longest_name, 'n', STW_PSK_NAME_MAX);
  assert_int_equal(stw_psk_answer_encode(longest_id, key, longest_name, out, sizeof(out), &len), STW_OK);
  assert_true(len <= STW_PSK_ANSWER_MAX);
  memset(identity, 0x7e, sizeof(identity));
  memset(name, 0x7e, sizeof(name));
  assert_int_equal(stw_psk_answer_decode(out, len, identity, back, name), STW_OK);
  assert_string_equal(identity, longest_id);
  assert_string_equal(name, longest_name);
  assert_memory_equal(back, key, sizeof(key));

  /* one over: refused by the encoder, and by the decoder when built by hand */
  repeat(longest_id, 'i', STW_PSK_IDENTITY_MAX + 1);
  assert_int_equal(stw_psk_answer_encode(longest_id, key, "n", out, sizeof(out), &len), STW_ERR_INVALID);
  repeat(longest_id, 'i', STW_PSK_IDENTITY_MAX);
  repeat(longest_name, 'n', STW_PSK_NAME_MAX + 1);
  assert_int_equal(stw_psk_answer_encode("id", key, longest_name, out, sizeof(out), &len), STW_ERR_INVALID);
  assert_int_equal(stw_psk_answer_encode("", key, "n", out, sizeof(out), &len), STW_ERR_INVALID);

  encode_ok("id", "n", out, &len);
  /* name length 64: patch the length and append the bytes */
  uint8_t big[STW_PSK_ANSWER_MAX];
  memcpy(big, out, len - 1);               /* everything but the 1-byte name */
  size_t n = len - 2;                      /* at the name's length byte */
  big[n++] = STW_PSK_NAME_MAX + 1;
  memset(big + n, 'n', STW_PSK_NAME_MAX + 1);
  n += STW_PSK_NAME_MAX + 1;
  assert_int_equal(stw_psk_answer_decode(big, n, identity, back, name), STW_ERR_MALFORMED);
  big[len - 2] = STW_PSK_NAME_MAX;         /* 63 is fine */
  assert_int_equal(stw_psk_answer_decode(big, n - 1, identity, back, name), STW_OK);
  assert_int_equal(strlen(name), STW_PSK_NAME_MAX);

  /* identity length 64 by hand */
  n = 0;
  big[n++] = 0xa3; big[n++] = 0x01; big[n++] = 0x78; big[n++] = STW_PSK_IDENTITY_MAX + 1;
  memset(big + n, 'i', STW_PSK_IDENTITY_MAX + 1);
  n += STW_PSK_IDENTITY_MAX + 1;
  big[n++] = 0x02; big[n++] = 0x58; big[n++] = 32;
  memcpy(big + n, key, 32);
  n += 32;
  big[n++] = 0x03; big[n++] = 0x60;
  assert_int_equal(stw_psk_answer_decode(big, n, identity, back, name), STW_ERR_MALFORMED);
  /* empty identity */
  static const uint8_t empty_id[] = { 0xa3, 0x01, 0x60 };
  assert_int_equal(stw_psk_answer_decode(empty_id, sizeof(empty_id), identity, back, name), STW_ERR_MALFORMED);

  /* input over the documented maximum is refused before it is read */
  uint8_t huge[STW_PSK_ANSWER_MAX + 1];
  memset(huge, 0, sizeof(huge));
  memcpy(huge, out, len);
  assert_int_equal(stw_psk_answer_decode(huge, sizeof(huge), identity, back, name), STW_ERR_MALFORMED);
}

static void test_encode_capacity(void **state)
{
  (void)state;
  uint8_t key[STW_PSK_KEY_LEN], out[STW_PSK_ANSWER_MAX];
  size_t len = 0, need = 0;
  fill_key(key, 3);
  assert_int_equal(stw_psk_answer_encode("ident", key, "name", out, sizeof(out), &need), STW_OK);
  assert_int_equal(stw_psk_answer_encode("ident", key, "name", out, need - 1, &len), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_psk_answer_encode("ident", key, "name", out, need, &len), STW_OK);
  assert_int_equal(len, need);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_exact_bytes),
    cmocka_unit_test(test_every_truncation_fails),
    cmocka_unit_test(test_wrong_types_and_keys),
    cmocka_unit_test(test_key_lengths),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_encode_capacity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
