/* Visibility rules: the grammar (stw_visibility_valid) and who they let see
 * an entry (stw_visible), over askers built by hand. */
#include <stdio.h>
#include <string.h>

#include "rd/visibility.h"
#include "testutil.h"

#define OWNER "00112233445566778899aabbccddeeff"

static void add(stw_asker_t *a, const char *name, const char *value)
{
  assert_true(a->n_attrs < STW_ASKER_ATTRS_MAX);
  snprintf(a->attrs[a->n_attrs].name, sizeof(a->attrs[0].name), "%s", name);
  snprintf(a->attrs[a->n_attrs].value, sizeof(a->attrs[0].value), "%s", value);
  snprintf(a->attrs[a->n_attrs].authority, sizeof(a->attrs[0].authority), "home.example");
  a->n_attrs++;
}

static stw_asker_t asker(const char *device_id, const char *role, const char *group)
{
  stw_asker_t a;
  memset(&a, 0, sizeof(a));
  a.authenticated = true;
  snprintf(a.device_id, sizeof(a.device_id), "%s", device_id);
  add(&a, "device", device_id);
  add(&a, "domain", "home.example");
  if (role)
    add(&a, "role", role);
  if (group)
    add(&a, "group", group);
  return a;
}

static void test_grammar(void **state)
{
  (void)state;
  const char *good[] = { "", "public", "private", "role=maintainer", "role=maint*", "role=a,group=b",
                         "role=a|role=b", "role=a,group=x|owner=alice", "role=", "x=y=z" };
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if (!stw_visibility_valid(good[i]))
      fail_msg("should be valid: \"%s\"", good[i]);
  }
  const char *bad[] = { "role", "=x", "role=a,", "role=a|", "|role=a", ",role=a", "role=a||role=b",
                        "role=a,,group=b", "role=a b", "role=\x01", "Public ", "pub lic", "role=\x7f" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (stw_visibility_valid(bad[i]))
      fail_msg("should be invalid: \"%s\"", bad[i]);
  }
  /* The longest rule a registration can hold, and one over. */
  char rule[STW_RD_VALUE_MAX + 8];
  memset(rule, 'a', sizeof(rule));
  memcpy(rule, "role=", 5);
  rule[STW_RD_VALUE_MAX - 1] = '\0';
  assert_true(stw_visibility_valid(rule));
  rule[STW_RD_VALUE_MAX - 1] = 'a';
  rule[STW_RD_VALUE_MAX] = '\0';
  assert_false(stw_visibility_valid(rule));
}

static void test_public_private_default(void **state)
{
  (void)state;
  stw_asker_t nobody;
  memset(&nobody, 0, sizeof(nobody));
  stw_asker_t someone = asker("ffeeddccbbaa99887766554433221100", NULL, NULL);
  stw_asker_t owner = asker(OWNER, NULL, NULL);

  assert_true(stw_visible("public", &nobody, OWNER));
  assert_true(stw_visible("public", &someone, OWNER));
  /* "" = any authenticated device of the domain, never the anonymous. */
  assert_false(stw_visible("", &nobody, OWNER));
  assert_true(stw_visible("", &someone, OWNER));
  /* private: only the device itself. */
  assert_false(stw_visible("private", &nobody, OWNER));
  assert_false(stw_visible("private", &someone, OWNER));
  assert_true(stw_visible("private", &owner, OWNER));
  /* The owner always sees its own entries, whatever the rule says. */
  assert_true(stw_visible("role=maintainer", &owner, OWNER));
  /* An unauthenticated asker never matches a rule over attributes, even one
   * it might seem to satisfy. */
  stw_asker_t forged = nobody;
  add(&forged, "role", "maintainer");
  assert_false(stw_visible("role=maintainer", &forged, OWNER));
  assert_false(stw_visible("private", &forged, ""));
}

static void test_matching(void **state)
{
  (void)state;
  stw_asker_t maint = asker("aa00000000000000000000000000000a", "maintainer", "kitchen");
  stw_asker_t util = asker("bb00000000000000000000000000000b", "utility", "garden");
  stw_asker_t bare = asker("cc00000000000000000000000000000c", NULL, NULL);

  assert_true(stw_visible("role=maintainer", &maint, OWNER));
  assert_false(stw_visible("role=maintainer", &util, OWNER));
  assert_false(stw_visible("role=maintainer", &bare, OWNER));  /* missing attribute */
  /* Every term of an alternative must hold. */
  assert_true(stw_visible("role=maintainer,group=kitchen", &maint, OWNER));
  assert_false(stw_visible("role=maintainer,group=garden", &maint, OWNER));
  /* Any alternative may hold. */
  assert_true(stw_visible("role=maintainer|role=utility", &util, OWNER));
  assert_false(stw_visible("role=admin|group=attic", &util, OWNER));
  assert_true(stw_visible("role=admin|group=garden", &util, OWNER));
  /* Values are exact unless they end in '*'. */
  assert_false(stw_visible("role=maint", &maint, OWNER));
  assert_false(stw_visible("role=maintainers", &maint, OWNER));
  assert_true(stw_visible("role=maint*", &maint, OWNER));
  assert_true(stw_visible("role=*", &util, OWNER));
  assert_false(stw_visible("role=*", &bare, OWNER));
  assert_false(stw_visible("role=util*", &maint, OWNER));
  /* Names are whole names, not prefixes. */
  assert_false(stw_visible("rol=maintainer", &maint, OWNER));
  assert_false(stw_visible("roles=maintainer", &maint, OWNER));
  /* The enrollment attributes work like any other. */
  assert_true(stw_visible("domain=home.example", &bare, OWNER));
  assert_false(stw_visible("domain=other.example", &bare, OWNER));
  assert_true(stw_visible("device=cc00000000000000000000000000000c", &bare, OWNER));
  /* An empty value matches only an empty value. */
  assert_false(stw_visible("role=", &maint, OWNER));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_grammar),
    cmocka_unit_test(test_public_private_default),
    cmocka_unit_test(test_matching),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
