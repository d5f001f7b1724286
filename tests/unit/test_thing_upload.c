/* The thing's assembly of a request body from Inner Block1 blocks
 * (device/thing_upload.c): in order, bounded, one client at a time, and a
 * refusal changes nothing. The wire side is in it_oscore. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "thing_internal.h"

#define CAP 256
#define T0 1000000u

static uint8_t buf[CAP], body[4 * CAP];

static osc_block1_t block(size_t slot, uint32_t num, bool more, size_t len)
{
  static const uint8_t tag = 0x42;
  osc_block1_t b = { .slot = slot, .method = 4, .path = "/settings", .has_tag = true, .tag = &tag, .tag_len = 1,
                     .num = num, .more = more, .szx = 2, .payload = body + num * 64, .len = len };
  return b;
}

static int setup(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(body); i++)
    body[i] = (uint8_t)(i * 13 + 1);
  memset(buf, 0, sizeof(buf));
  return 0;
}

static void assembles_in_order(void **state)
{
  (void)state;
  osc_upload_t u = { 0 };
  osc_block1_t b = block(0, 0, true, 64);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_CONTINUE);
  b = block(0, 1, true, 64);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_CONTINUE);
  b = block(0, 2, false, 30);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_COMPLETE);
  assert_int_equal(u.len, 158);
  assert_memory_equal(buf, body, 158);
  stw__upload_drop(&u, buf, CAP);
  assert_false(u.active);
  assert_int_equal(buf[0], 0);  /* wiped */
}

static void refuses_what_does_not_continue(void **state)
{
  (void)state;
  osc_upload_t u = { 0 }, before;
  osc_block1_t b = block(0, 1, true, 64);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_INCOMPLETE);  /* no block 0 */
  b = block(0, 0, true, 64);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_CONTINUE);
  memcpy(&before, &u, sizeof(u));
  osc_block1_t bad[5] = { block(0, 2, true, 64), block(0, 1, true, 10), block(1, 1, true, 64), block(0, 1, true, 64),
                          block(0, 1, true, 64) };
  bad[3].szx = 1;
  bad[3].len = 32;                 /* another size */
  static const uint8_t other = 0x43;
  bad[4].tag = &other;             /* another body */
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(stw__upload_block(&u, buf, CAP, &bad[i], T0), UPLOAD_INCOMPLETE);
    assert_memory_equal(&u, &before, sizeof(u));
  }
  b = block(0, 1, false, 64);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_COMPLETE);
  assert_memory_equal(buf, body, 128);
}

static void bounded(void **state)
{
  (void)state;
  osc_upload_t u = { 0 };
  osc_block1_t b = block(0, 0, true, 64);
  b.has_size1 = true;
  b.size1 = CAP + 1;
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_TOO_LARGE);
  assert_false(u.active);
  b.size1 = CAP;
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_CONTINUE);
  for (uint32_t num = 1; num < 3; num++) {
    b = block(0, num, true, 64);
    assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_CONTINUE);
  }
  b = block(0, 3, true, 64);  /* fills the buffer with more to come */
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_TOO_LARGE);
  assert_false(u.active);
  assert_int_equal(u.len, 0);
  b = block(0, 4, false, 1);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b, T0), UPLOAD_INCOMPLETE);
}

static void one_client_at_a_time(void **state)
{
  (void)state;
  osc_upload_t u = { 0 };
  osc_block1_t a0 = block(0, 0, true, 64), b0 = block(1, 0, false, 10);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &a0, T0), UPLOAD_CONTINUE);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b0, T0 + THING_UPLOAD_IDLE_US - 1), UPLOAD_BUSY);
  assert_int_equal(u.slot, 0);
  /* the same client may start over at any time */
  assert_int_equal(stw__upload_block(&u, buf, CAP, &a0, T0 + 1), UPLOAD_CONTINUE);
  /* another may once the body has been idle that long */
  assert_int_equal(stw__upload_block(&u, buf, CAP, &b0, T0 + 1 + THING_UPLOAD_IDLE_US), UPLOAD_COMPLETE);
  assert_int_equal(u.slot, 1);
  assert_int_equal(u.len, 10);
  osc_block1_t a1 = block(0, 1, true, 64);
  assert_int_equal(stw__upload_block(&u, buf, CAP, &a1, T0 + 2 + THING_UPLOAD_IDLE_US), UPLOAD_INCOMPLETE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(assembles_in_order, setup),
    cmocka_unit_test_setup(refuses_what_does_not_continue, setup),
    cmocka_unit_test_setup(bounded, setup),
    cmocka_unit_test_setup(one_client_at_a_time, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
