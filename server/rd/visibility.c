#include "visibility.h"

#include <string.h>

#include "linkformat.h"

static const char *asker_value(const stw_asker_t *a, const char *name, size_t name_len)
{
  for (size_t i = 0; i < a->n_attrs; i++)
    if (strlen(a->attrs[i].name) == name_len && memcmp(a->attrs[i].name, name, name_len) == 0)
      return a->attrs[i].value;
  return NULL;
}

/* One term "name=value" (not NUL-terminated: [t, end)). */
static bool term_holds(const char *t, const char *end, const stw_asker_t *a)
{
  const char *eq = memchr(t, '=', (size_t)(end - t));
  if (eq == NULL || eq == t)
    return false;
  char pattern[STW_RD_VALUE_MAX];
  size_t n = (size_t)(end - eq - 1);
  if (n >= sizeof(pattern))
    return false;
  memcpy(pattern, eq + 1, n);
  pattern[n] = '\0';
  const char *have = asker_value(a, t, (size_t)(eq - t));
  return have != NULL && stw_match_value(pattern, have);
}

static bool alternative_holds(const char *alt, const char *end, const stw_asker_t *a)
{
  const char *t = alt;
  while (t < end) {
    const char *comma = memchr(t, ',', (size_t)(end - t));
    const char *term_end = comma ? comma : end;
    if (!term_holds(t, term_end, a))
      return false;
    t = term_end + 1;
  }
  return alt < end;
}

bool stw_visible(const char *rule, const stw_asker_t *asker, const char *owner_device_id)
{
  if (strcmp(rule, "public") == 0)
    return true;
  if (!asker->authenticated)
    return false;
  if (owner_device_id != NULL && strcmp(asker->device_id, owner_device_id) == 0)
    return true;
  if (rule[0] == '\0')
    return true;
  if (strcmp(rule, "private") == 0)
    return false;
  const char *alt = rule, *end = rule + strlen(rule);
  while (alt < end) {
    const char *bar = memchr(alt, '|', (size_t)(end - alt));
    const char *alt_end = bar ? bar : end;
    if (alternative_holds(alt, alt_end, asker))
      return true;
    alt = alt_end + 1;
  }
  return false;
}

bool stw_visibility_valid(const char *rule)
{
  size_t n = strlen(rule);
  if (n >= STW_RD_VALUE_MAX)
    return false;
  if (n == 0 || strcmp(rule, "public") == 0 || strcmp(rule, "private") == 0)
    return true;
  /* Every term needs a non-empty name, an '=', and no empty alternatives. */
  const char *p = rule, *end = rule + n;
  while (p <= end) {
    const char *sep = p;
    while (sep < end && *sep != ',' && *sep != '|')
      sep++;
    const char *eq = memchr(p, '=', (size_t)(sep - p));
    if (eq == NULL || eq == p)
      return false;
    for (const char *c = p; c < sep; c++)
      if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
        return false;
    if (sep == end)
      break;
    p = sep + 1;
  }
  return true;
}
