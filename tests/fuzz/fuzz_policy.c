/* Fuzz target: policy rules (server/authz/policy.c). What parses must come
 * back from its canonical text and its store row unchanged, and evaluating
 * it against a fixed request must not crash (globs are iterative). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/policy.h"

static bool read_nothing(void *arg, const char *name, char *value, size_t cap)
{
  (void)arg;
  (void)name;
  snprintf(value, cap, "false");
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_policy_t p, q;
  char why[128];
  if (stw_policy_parse((const char *)data, size, &p, why, sizeof(why)) != STW_OK)
    return 0;
  char text[STW_POLICY_TEXT_MAX + 512], again[STW_POLICY_TEXT_MAX + 512];
  stw_policy_format(&p, text, sizeof(text));
  if (stw_policy_parse(text, strlen(text), &q, why, sizeof(why)) != STW_OK)
    abort();
  stw_policy_format(&q, again, sizeof(again));
  if (strcmp(text, again) != 0)
    abort();
  stw_policy_row_t row;
  if (stw_policy_to_row(&p, &row) != STW_OK || stw_policy_from_row(&row, &q) != STW_OK)
    abort();
  stw_policy_format(&q, again, sizeof(again));
  if (strcmp(text, again) != 0)
    abort();
  static const stw_attr_row_t attrs[] = { { "role", "utility", "d" }, { "model", "meter", "m" } };
  stw_policy_request_t r = {
    .subject = { "11111111111111111111111111111111", "util-1", attrs, 2 },
    .audience = { "22222222222222222222222222222222", "meter-2", attrs, 2 },
    .path = "/consumption/a/b/c/d/e/f/g/h/i/j",
    .method = STW_AIF_GET,
    .now = 1700000000,
    .read_context = read_nothing,
  };
  (void)stw_policy_applies(&p, &r, why, sizeof(why));
  return 0;
}
