/* Fuzz target: AIF scopes (lib/cwt_claims.c). Input: one byte choosing the
 * method, one byte n, n bytes of request path, the rest an AIF array. The
 * scope is parsed as claim 9 of a claim set; when it parses, the matcher is
 * compared with a plain restatement of the rule, and the scope must survive
 * encode-then-parse unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cwt.h"

static bool path_ok(const char *p, size_t n)
{
  if (n == 0 || p[0] != '/')
    return false;
  if (n == 1)
    return true;
  size_t start = 1;
  for (size_t i = 1; i <= n; i++) {
    if (i < n && p[i] != '/')
      continue;
    size_t len = i - start;
    if (len == 0 || (len == 1 && p[start] == '.') || (len == 2 && p[start] == '.' && p[start + 1] == '.'))
      return false;
    start = i + 1;
  }
  return true;
}

static bool reference_allows(const stw_aif_t *s, const char *path, size_t n, unsigned m)
{
  if (!path_ok(path, n))
    return false;
  for (size_t i = 0; i < s->n; i++) {
    const char *g = s->pool + s->entries[i].path_offset;
    size_t gl = s->entries[i].path_len;
    if (!(s->entries[i].methods & m))
      continue;
    if (gl == n && memcmp(g, path, n) == 0)
      return true;
    if (gl >= 2 && g[gl - 1] == '*' && g[gl - 2] == '/' && n > gl - 1 && memcmp(g, path, gl - 1) == 0)
      return true;
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  unsigned method = 1u << (data[0] % 8);  /* 128: not a method, never granted */
  size_t path_len = data[1];
  if (size - 2 < path_len)
    return 0;
  const char *path = (const char *)data + 2;
  const uint8_t *aif = data + 2 + path_len;
  size_t aif_len = size - 2 - path_len;
  if (aif_len > STW_PEP_TOKEN_MAX - 2)
    return 0;
  uint8_t claims_buf[STW_PEP_TOKEN_MAX];
  claims_buf[0] = 0xa1;  /* {9: aif} */
  claims_buf[1] = 0x09;
  memcpy(claims_buf + 2, aif, aif_len);
  stw_cwt_t c;
  if (stw_cwt_parse_claims(claims_buf, aif_len + 2, &c) != STW_OK)
    return 0;
  bool got = stw_aif_allows(&c, path, path_len, method);
  if (got != reference_allows(&c.scope, path, path_len, method & STW_AIF_METHODS_ALL))
    abort();
  stw_buf_t out = {0};
  if (stw_cwt_encode_claims(&c, &out) != STW_OK)
    abort();
  stw_cwt_t again;
  if (stw_cwt_parse_claims(out.data, out.len, &again) != STW_OK || again.scope.n != c.scope.n ||
      again.scope.pool_len != c.scope.pool_len ||
      memcmp(again.scope.pool, c.scope.pool, c.scope.pool_len) != 0 ||
      memcmp(again.scope.entries, c.scope.entries, c.scope.n * sizeof(c.scope.entries[0])) != 0)
    abort();
  stw_buf_free(&out, false);
  return 0;
}
