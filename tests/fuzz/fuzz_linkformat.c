/* Fuzz target: the link-format parser (lib/linkformat.c). What parses must
 * write out canonically, parse back to the same links, and write out the same
 * bytes again; every attribute value must match itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linkformat.h"

static stw_links_t first, second;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (stw_links_parse((const char *)data, size, &first) != STW_OK)
    return 0;
  stw_buf_t a, b;
  stw_buf_init(&a, 2 * STW_LINKS_PAYLOAD_MAX);
  stw_buf_init(&b, 2 * STW_LINKS_PAYLOAD_MAX);
  if (stw_links_write(&first, &a) != STW_OK)
    abort();
  /* canonical text is never longer than what it came from */
  if (a.len > size)
    abort();
  if (stw_links_parse((const char *)a.data, a.len, &second) != STW_OK || !stw_links_equal(&first, &second))
    abort();
  if (stw_links_write(&second, &b) != STW_OK || a.len != b.len || (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
    abort();
  for (size_t i = 0; i < stw_links_count(&first); i++) {
    for (size_t j = 0; j < stw_link_attr_count(&first, i); j++) {
      const char *name = stw_link_attr_name(&first, i, j);
      const char *value = stw_link_attr_value(&first, i, j);
      if (!stw_link_attr_matches(&first, i, name, value != NULL ? value : ""))
        abort();
    }
  }
  stw_buf_free(&a, false);
  stw_buf_free(&b, false);
  return 0;
}
