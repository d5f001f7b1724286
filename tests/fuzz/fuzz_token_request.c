/* Fuzz target: ACE token requests (server/authz/pdp.c
 * stw_token_request_parse). What parses must hold its limits: a NUL-free
 * audience, at most STW_AIF_ENTRIES_MAX concrete paths with known methods;
 * the scope's text form must parse back to the same scope. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/pdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_token_request_t req;
  if (stw_token_request_parse(data, size, &req) != STW_OK)
    return 0;
  if (memchr(req.audience, '\0', sizeof(req.audience)) == NULL || req.audience[0] == '\0')
    abort();
  if (req.scope.n == 0 || req.scope.n > STW_AIF_ENTRIES_MAX || req.scope.pool_len > STW_AIF_POOL_MAX)
    abort();
  char text[STW_TOKEN_SCOPE_MAX];
  stw_scope_format(&req.scope, text, sizeof(text));
  stw_aif_t again;
  if (stw_scope_parse_text(text, &again) != STW_OK || again.n != req.scope.n)
    abort();
  for (size_t i = 0; i < again.n; i++) {
    const stw_aif_entry_t *a = &req.scope.entries[i], *b = &again.entries[i];
    if (a->methods == 0 || (a->methods & ~STW_AIF_METHODS_ALL) || a->methods != b->methods ||
        a->path_len != b->path_len ||
        memcmp(req.scope.pool + a->path_offset, again.pool + b->path_offset, a->path_len) != 0 ||
        memchr(req.scope.pool + a->path_offset, '*', a->path_len) != NULL)
      abort();
  }
  return 0;
}
