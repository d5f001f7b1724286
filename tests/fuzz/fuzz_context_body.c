/* Fuzz target: the body of POST /context (server/authz/context.c), sent
 * by presence sensors and other context sources. What parses must be two
 * NUL-free strings within the row's fields, the name not empty. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_context_row_t row;
  memset(&row, 0, sizeof(row));
  if (stw_context_body_parse(data, size, &row) != STW_OK)
    return 0;
  size_t name = strnlen(row.name, sizeof(row.name)), value = strnlen(row.value, sizeof(row.value));
  if (size > CONTEXT_BODY_MAX || name == 0 || name == sizeof(row.name) || value == sizeof(row.value))
    abort();
  return 0;
}
