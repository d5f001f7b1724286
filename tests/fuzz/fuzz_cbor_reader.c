/* Fuzz target: the zero-allocation CBOR reader (lib/cbor_reader.c). Each
 * input is read twice, with stw_cbor_skip() and with a walk through the
 * typed reads, and both must agree on where the first item ends; a failed
 * read must not move the reader. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"

/* Read one item with the typed calls; false when malformed. */
static bool walk(stw_cbor_reader_t *r, unsigned depth)
{
  stw_cbor_type_t type;
  if (stw_cbor_peek_type(r, &type) != STW_OK)
    return false;
  stw_cbor_reader_t before = *r;
  uint64_t u;
  int64_t i;
  const uint8_t *p;
  const char *t;
  size_t n;
  bool b;
  switch (type) {
  case STW_CBOR_UINT:
    if (stw_cbor_read_uint(r, &u) != STW_OK)
      return false;
    {
      uint8_t head[STW_CBOR_HEAD_MAX];  /* the writer's shortest form is never longer */
      if (stw_cbor_put_head(STW_CBOR_UINT, u, head) > (size_t)(r->pos - before.pos))
        abort();
    }
    return true;
  case STW_CBOR_NEGINT:
    if (stw_cbor_read_int(r, &i) == STW_OK)
      return true;
    if (r->pos != before.pos)
      abort();
    return stw_cbor_skip(r) == STW_OK;  /* below INT64_MIN: well-formed all the same */
  case STW_CBOR_BSTR:
    if (stw_cbor_read_bstr(r, &p, &n) != STW_OK) {
      if (r->pos != before.pos)
        abort();
      return false;
    }
    if (p + n != r->pos)
      abort();
    return true;
  case STW_CBOR_TSTR:
    return stw_cbor_read_tstr(r, &t, &n) == STW_OK;
  case STW_CBOR_ARRAY:
  case STW_CBOR_MAP:
    if ((type == STW_CBOR_ARRAY ? stw_cbor_read_array(r, &n) : stw_cbor_read_map(r, &n)) != STW_OK)
      return false;
    if (type == STW_CBOR_MAP)
      n *= 2;
    if (n > 0 && depth == STW_CBOR_DEPTH_MAX)  /* the reader's nesting limit */
      return false;
    for (size_t k = 0; k < n; k++)
      if (!walk(r, depth + 1))
        return false;
    return true;
  case STW_CBOR_TAG:
    if (depth == STW_CBOR_DEPTH_MAX || stw_cbor_read_tag(r, &u) != STW_OK)
      return false;
    return walk(r, depth + 1);
  case STW_CBOR_SIMPLE:
    if (stw_cbor_read_bool(r, &b) == STW_OK || stw_cbor_read_null(r) == STW_OK)
      return true;
    return stw_cbor_skip(r) == STW_OK;
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_cbor_reader_t a, b;
  stw_cbor_reader_init(&a, data, size);
  b = a;
  stw_status_t skipped = stw_cbor_skip(&a);
  if (skipped != STW_OK && a.pos != data)
    abort();
  bool walked = walk(&b, 0);
  if ((skipped == STW_OK) != walked)
    abort();
  if (walked && a.pos != b.pos)
    abort();
  if (skipped == STW_OK)
    (void)!stw_cbor_expect_end(&a);
  return 0;
}
