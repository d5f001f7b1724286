/* Fuzz target: what the HTTP side reads from a request before it touches
 * the store (server/http/api.c): the route a path names, the query of that
 * route, the Authorization header. Input: the path on the first line, the
 * Authorization value on the second, then one "name=value" (or bare "name")
 * query parameter per line, as libmicrohttpd hands them over decoded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"

#define INPUT_MAX 8192
#define PARAMS_SEEN (STW_HTTP_PARAMS_MAX + 2)  /* past the limit, to reach its refusal */

static const char token[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* The next line of [*p, end): its start and length; *p moves past it. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
  const char *start = *p;
  const char *nl = memchr(start, '\n', (size_t)(end - start));
  const char *stop = nl != NULL ? nl : end;
  *len = (size_t)(stop - start);
  *p = nl != NULL ? nl + 1 : end;
  return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > INPUT_MAX)
    return 0;
  const char *p = (const char *)data, *end = p + size;
  size_t path_len, auth_len;
  const char *path = next_line(&p, end, &path_len);
  const char *auth = next_line(&p, end, &auth_len);
  stw_http_param_t params[PARAMS_SEEN];
  size_t n = 0;
  while (p < end && n < PARAMS_SEEN) {
    size_t len;
    const char *line = next_line(&p, end, &len);
    const char *eq = memchr(line, '=', len);
    params[n].name = line;
    params[n].name_len = eq != NULL ? (size_t)(eq - line) : len;
    params[n].value = eq != NULL ? eq + 1 : NULL;
    params[n].value_len = eq != NULL ? len - (size_t)(eq + 1 - line) : 0;
    n++;
  }
  stw_route_t r;
  if (stw_http_route_match(path, path_len, &r) == STW_OK)
    (void)!stw_http_query_parse(&r, params, n);
  /* The header as a C string, the way the transport sees it. */
  char *header = malloc(auth_len + 1);
  if (header != NULL) {
    memcpy(header, auth, auth_len);
    header[auth_len] = '\0';
    (void)stw_http_bearer_ok(header, token, sizeof(token) - 1);
    free(header);
  }
  return 0;
}
