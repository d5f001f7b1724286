/* Fuzz target: RD query parameters (lib/rdquery.c). The input is split on
 * '&' into Uri-Query options; what parses must respect every documented
 * limit, and the query-string form must agree with the options form. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rdquery.h"

#define SPLIT_MAX (STW_RDQ_OPTIONS_MAX + 2)  /* a little over, to reach the limit */

static bool terminated(const char *s, size_t cap)
{
  return memchr(s, '\0', cap + 1) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  const char *opts[SPLIT_MAX];
  size_t lens[SPLIT_MAX];
  size_t n = 0;
  const char *p = text, *end = text + size;
  while (size > 0 && n < SPLIT_MAX) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp != NULL ? amp : end;
    opts[n] = p;
    lens[n] = (size_t)(stop - p);
    n++;
    if (amp == NULL)
      break;
    p = amp + 1;
  }
  stw_rd_query_t q;
  stw_status_t st = stw_rd_query_parse(opts, lens, n, &q);
  if (st == STW_OK) {
    if (q.lt < STW_RDQ_LT_MIN || q.lt > STW_RDQ_LT_MAX || q.n_filters > STW_RDQ_FILTERS_MAX ||
        (q.has_count && (q.count == 0 || q.count > STW_RDQ_COUNT_MAX)))
      abort();
    if (!terminated(q.ep, STW_RDQ_EP_MAX) || !terminated(q.d, STW_RDQ_EP_MAX) ||
        !terminated(q.base, STW_RDQ_VALUE_MAX) || !terminated(q.et, STW_RDQ_VALUE_MAX))
      abort();
    for (size_t i = 0; i < q.n_filters; i++)
      if (!terminated(q.filters[i].name, STW_RDQ_NAME_MAX) || !terminated(q.filters[i].value, STW_RDQ_VALUE_MAX) ||
          q.filters[i].name[0] == '\0' || stw_rd_query_filter(&q, q.filters[i].name, 0) == NULL)
        abort();
  }
  /* the string form splits the same way (when the split above was complete) */
  if (size <= STW_RDQ_QUERY_MAX && n < SPLIT_MAX) {
    stw_rd_query_t q2;
    stw_status_t st2 = stw_rd_query_parse_string(text, size, &q2);
    if (st2 != st || (st == STW_OK && memcmp(&q, &q2, sizeof(q)) != 0))
      abort();
  }
  return 0;
}
