/* The lifecycle table (server/lifecycle): every allowed move, a sample of the
 * refused ones, decommission from every living state, reimprint only from
 * DECOMMISSIONED, and names that round-trip. */
#include "testutil.h"

#include <string.h>

#include "lifecycle/lifecycle.h"

typedef struct {
  stw_state_t from;
  stw_event_t ev;
  stw_state_t to;
} move_t;

/* The whole allowed set, written out independently of lifecycle.c. */
static const move_t allowed[] = {
  { STW_STATE_MANUFACTURED, STW_EV_BOOTSTRAP, STW_STATE_BOOTSTRAPPED },
  { STW_STATE_MANUFACTURED, STW_EV_DECOMMISSION, STW_STATE_DECOMMISSIONED },

  { STW_STATE_BOOTSTRAPPED, STW_EV_REENROLL, STW_STATE_BOOTSTRAPPED },
  { STW_STATE_BOOTSTRAPPED, STW_EV_REGISTER, STW_STATE_COMMISSIONED },
  { STW_STATE_BOOTSTRAPPED, STW_EV_QUARANTINE, STW_STATE_QUARANTINED },
  { STW_STATE_BOOTSTRAPPED, STW_EV_DECOMMISSION, STW_STATE_DECOMMISSIONED },

  { STW_STATE_COMMISSIONED, STW_EV_REENROLL, STW_STATE_COMMISSIONED },
  { STW_STATE_COMMISSIONED, STW_EV_REGISTER, STW_STATE_COMMISSIONED },
  { STW_STATE_COMMISSIONED, STW_EV_ACTIVATE, STW_STATE_OPERATIONAL },
  { STW_STATE_COMMISSIONED, STW_EV_UPDATE_START, STW_STATE_UPDATING },
  { STW_STATE_COMMISSIONED, STW_EV_QUARANTINE, STW_STATE_QUARANTINED },
  { STW_STATE_COMMISSIONED, STW_EV_DECOMMISSION, STW_STATE_DECOMMISSIONED },

  { STW_STATE_OPERATIONAL, STW_EV_REENROLL, STW_STATE_OPERATIONAL },
  { STW_STATE_OPERATIONAL, STW_EV_REGISTER, STW_STATE_OPERATIONAL },
  { STW_STATE_OPERATIONAL, STW_EV_ACTIVATE, STW_STATE_OPERATIONAL },
  { STW_STATE_OPERATIONAL, STW_EV_UPDATE_START, STW_STATE_UPDATING },
  { STW_STATE_OPERATIONAL, STW_EV_QUARANTINE, STW_STATE_QUARANTINED },
  { STW_STATE_OPERATIONAL, STW_EV_DECOMMISSION, STW_STATE_DECOMMISSIONED },

  { STW_STATE_UPDATING, STW_EV_REENROLL, STW_STATE_UPDATING },
  { STW_STATE_UPDATING, STW_EV_REGISTER, STW_STATE_UPDATING },
  { STW_STATE_UPDATING, STW_EV_UPDATE_DONE, STW_STATE_OPERATIONAL },
  { STW_STATE_UPDATING, STW_EV_UPDATE_FAILED, STW_STATE_OPERATIONAL },
  { STW_STATE_UPDATING, STW_EV_QUARANTINE, STW_STATE_QUARANTINED },
  { STW_STATE_UPDATING, STW_EV_DECOMMISSION, STW_STATE_DECOMMISSIONED },

  { STW_STATE_QUARANTINED, STW_EV_UPDATE_START, STW_STATE_QUARANTINED },
  { STW_STATE_QUARANTINED, STW_EV_UPDATE_DONE, STW_STATE_QUARANTINED },
  { STW_STATE_QUARANTINED, STW_EV_UPDATE_FAILED, STW_STATE_QUARANTINED },
  { STW_STATE_QUARANTINED, STW_EV_QUARANTINE, STW_STATE_QUARANTINED },
  { STW_STATE_QUARANTINED, STW_EV_REMEDIATE, STW_STATE_OPERATIONAL },
  { STW_STATE_QUARANTINED, STW_EV_DECOMMISSION, STW_STATE_DECOMMISSIONED },

  { STW_STATE_DECOMMISSIONED, STW_EV_REIMPRINT, STW_STATE_MANUFACTURED },
};

static const move_t *find_allowed(stw_state_t from, stw_event_t ev)
{
  for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
    if (allowed[i].from == from && allowed[i].ev == ev)
      return &allowed[i];
  return NULL;
}

static void test_allowed_moves(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
    stw_state_t next = STW_STATE_COUNT;
    assert_int_equal(stw_lifecycle_next(allowed[i].from, allowed[i].ev, &next), STW_OK);
    assert_int_equal(next, allowed[i].to);
  }
}

/* Every (state, event) pair not in the list is refused, and leaves *next alone. */
static void test_everything_else_refused(void **state)
{
  (void)state;
  unsigned refused = 0;
  for (int s = 0; s < STW_STATE_COUNT; s++) {
    for (int e = 0; e < STW_EV_COUNT; e++) {
      if (find_allowed((stw_state_t)s, (stw_event_t)e) != NULL)
        continue;
      stw_state_t next = STW_STATE_COUNT;
      assert_int_equal(stw_lifecycle_next((stw_state_t)s, (stw_event_t)e, &next), STW_ERR_STATE);
      assert_int_equal(next, STW_STATE_COUNT);
      refused++;
    }
  }
  assert_int_equal(refused, STW_STATE_COUNT * STW_EV_COUNT - sizeof(allowed) / sizeof(allowed[0]));
}

static void test_refused_sample(void **state)
{
  (void)state;
  stw_state_t next;
  /* No skipping ahead, no second bootstrap, no way back from the grave but reimprint. */
  assert_int_equal(stw_lifecycle_next(STW_STATE_MANUFACTURED, STW_EV_REGISTER, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_MANUFACTURED, STW_EV_ACTIVATE, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_BOOTSTRAPPED, STW_EV_BOOTSTRAP, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_OPERATIONAL, STW_EV_BOOTSTRAP, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_UPDATING, STW_EV_UPDATE_START, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_QUARANTINED, STW_EV_ACTIVATE, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_QUARANTINED, STW_EV_REENROLL, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_OPERATIONAL, STW_EV_REMEDIATE, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_DECOMMISSIONED, STW_EV_BOOTSTRAP, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_DECOMMISSIONED, STW_EV_REMEDIATE, &next), STW_ERR_STATE);
  assert_int_equal(stw_lifecycle_next(STW_STATE_DECOMMISSIONED, STW_EV_DECOMMISSION, &next), STW_ERR_STATE);
}

static void test_decommission_from_every_living_state(void **state)
{
  (void)state;
  for (int s = 0; s < STW_STATE_COUNT; s++) {
    if (s == STW_STATE_DECOMMISSIONED)
      continue;
    stw_state_t next;
    assert_int_equal(stw_lifecycle_next((stw_state_t)s, STW_EV_DECOMMISSION, &next), STW_OK);
    assert_int_equal(next, STW_STATE_DECOMMISSIONED);
  }
}

static void test_reimprint_only_from_decommissioned(void **state)
{
  (void)state;
  for (int s = 0; s < STW_STATE_COUNT; s++) {
    stw_state_t next;
    stw_status_t rc = stw_lifecycle_next((stw_state_t)s, STW_EV_REIMPRINT, &next);
    if (s == STW_STATE_DECOMMISSIONED) {
      assert_int_equal(rc, STW_OK);
      assert_int_equal(next, STW_STATE_MANUFACTURED);
    } else {
      assert_int_equal(rc, STW_ERR_STATE);
    }
  }
}

static void test_out_of_range_invalid(void **state)
{
  (void)state;
  stw_state_t next;
  assert_int_equal(stw_lifecycle_next(STW_STATE_COUNT, STW_EV_BOOTSTRAP, &next), STW_ERR_INVALID);
  assert_int_equal(stw_lifecycle_next(STW_STATE_MANUFACTURED, STW_EV_COUNT, &next), STW_ERR_INVALID);
  assert_int_equal(stw_lifecycle_next((stw_state_t)-1, STW_EV_BOOTSTRAP, &next), STW_ERR_INVALID);
}

static void test_names_round_trip(void **state)
{
  (void)state;
  for (int s = 0; s < STW_STATE_COUNT; s++) {
    const char *name = stw_state_name((stw_state_t)s);
    assert_non_null(name);
    assert_string_not_equal(name, "UNKNOWN");
    stw_state_t back = STW_STATE_COUNT;
    assert_true(stw_state_parse(name, &back));
    assert_int_equal(back, s);
  }
  stw_state_t st;
  assert_true(stw_state_parse("operational", &st));  /* case-insensitive */
  assert_int_equal(st, STW_STATE_OPERATIONAL);
  assert_false(stw_state_parse("ALIVE", &st));
  assert_false(stw_state_parse("", &st));
  assert_string_equal(stw_state_name(STW_STATE_COUNT), "UNKNOWN");

  for (int e = 0; e < STW_EV_COUNT; e++) {
    const char *name = stw_event_name((stw_event_t)e);
    assert_string_not_equal(name, "unknown");
    for (int f = 0; f < e; f++)  /* distinct, so audit details are unambiguous */
      assert_string_not_equal(name, stw_event_name((stw_event_t)f));
  }
  assert_string_equal(stw_event_name(STW_EV_COUNT), "unknown");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_allowed_moves),
    cmocka_unit_test(test_everything_else_refused),
    cmocka_unit_test(test_refused_sample),
    cmocka_unit_test(test_decommission_from_every_living_state),
    cmocka_unit_test(test_reimprint_only_from_decommissioned),
    cmocka_unit_test(test_out_of_range_invalid),
    cmocka_unit_test(test_names_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
