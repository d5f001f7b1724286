/* RFC 9176 query parameters from Uri-Query options. */
#include "rdquery.h"

#include <string.h>

static int hex_value(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decode in[0..len) into out (cap bytes plus a NUL). Control
 * characters, raw or decoded (%00 included), are refused: every value ends up
 * a C string the RD can store and compare. */
static stw_status_t percent_decode(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == '%') {
      if (len - i < 3)
        return STW_ERR_MALFORMED;
      int hi = hex_value((unsigned char)in[i + 1]), lo = hex_value((unsigned char)in[i + 2]);
      if (hi < 0 || lo < 0)
        return STW_ERR_MALFORMED;
      c = (unsigned char)(hi * 16 + lo);
      i += 2;
    }
    if (c < 0x20 || c == 0x7f)
      return STW_ERR_MALFORMED;
    if (n >= cap)
      return STW_ERR_TOO_LARGE;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  *out_len = n;
  return STW_OK;
}

/* RFC 5987 attr-char, as for link-format attribute names. */
static bool is_name_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* Decimal digits only, no sign; *over is set when the value passes 2^32-1. */
static stw_status_t parse_u32(const char *s, size_t len, uint32_t *v, bool *over)
{
  uint64_t acc = 0;
  *over = false;
  if (len == 0)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return STW_ERR_MALFORMED;
    if (!*over) {
      acc = acc * 10 + (uint64_t)(s[i] - '0');
      if (acc > UINT32_MAX)
        *over = true;
    }
  }
  *v = *over ? UINT32_MAX : (uint32_t)acc;
  return STW_OK;
}

/* Copy a string parameter that may be given once. */
static stw_status_t set_once(bool *seen, char *dst, size_t cap, const char *value, size_t len)
{
  if (*seen)
    return STW_ERR_MALFORMED;
  if (len > cap)
    return STW_ERR_TOO_LARGE;
  memcpy(dst, value, len);
  dst[len] = '\0';
  *seen = true;
  return STW_OK;
}

static stw_status_t parse_option(const char *opt, size_t len, stw_rd_query_t *q)
{
  if (len == 0)
    return STW_ERR_MALFORMED;
  const char *eq = memchr(opt, '=', len);
  size_t raw_name_len = eq != NULL ? (size_t)(eq - opt) : len;
  char name[STW_RDQ_NAME_MAX + 1];
  char value[STW_RDQ_VALUE_MAX + 1];
  size_t name_len = 0, value_len = 0;
  stw_status_t st = percent_decode(opt, raw_name_len, name, STW_RDQ_NAME_MAX, &name_len);
  if (st != STW_OK)
    return st;
  if (name_len == 0)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < name_len; i++) {
    if (!is_name_char((unsigned char)name[i]))
      return STW_ERR_MALFORMED;
    if (name[i] >= 'A' && name[i] <= 'Z')
      name[i] = (char)(name[i] - 'A' + 'a');
  }
  bool has_value = eq != NULL;
  value[0] = '\0';
  if (has_value) {
    st = percent_decode(eq + 1, len - raw_name_len - 1, value, STW_RDQ_VALUE_MAX, &value_len);
    if (st != STW_OK)
      return st;
  }

  bool is_string = strcmp(name, "ep") == 0 || strcmp(name, "d") == 0 || strcmp(name, "base") == 0 ||
                   strcmp(name, "et") == 0;
  bool is_number = strcmp(name, "lt") == 0 || strcmp(name, "page") == 0 || strcmp(name, "count") == 0;
  /* the named parameters mean nothing without a value */
  if ((is_string || is_number) && value_len == 0)
    return STW_ERR_MALFORMED;

  if (strcmp(name, "ep") == 0)
    return set_once(&q->has_ep, q->ep, STW_RDQ_EP_MAX, value, value_len);
  if (strcmp(name, "d") == 0)
    return set_once(&q->has_d, q->d, STW_RDQ_EP_MAX, value, value_len);
  if (strcmp(name, "base") == 0)
    return set_once(&q->has_base, q->base, STW_RDQ_VALUE_MAX, value, value_len);
  if (strcmp(name, "et") == 0)
    return set_once(&q->has_et, q->et, STW_RDQ_VALUE_MAX, value, value_len);

  if (is_number) {
    uint32_t v = 0;
    bool over = false;
    st = parse_u32(value, value_len, &v, &over);
    if (st != STW_OK)
      return st;
    if (strcmp(name, "lt") == 0) {
      if (q->has_lt)
        return STW_ERR_MALFORMED;
      if (over || v < STW_RDQ_LT_MIN || v > STW_RDQ_LT_MAX)
        return STW_ERR_INVALID;
      q->lt = v;
      q->has_lt = true;
    } else if (strcmp(name, "page") == 0) {
      if (q->has_page)
        return STW_ERR_MALFORMED;
      if (over)
        return STW_ERR_INVALID;
      q->page = v;
      q->has_page = true;
    } else {
      if (q->has_count)
        return STW_ERR_MALFORMED;
      if (over || v > STW_RDQ_COUNT_MAX)
        return STW_ERR_TOO_LARGE;
      if (v == 0)
        return STW_ERR_INVALID;
      q->count = v;
      q->has_count = true;
    }
    return STW_OK;
  }

  if (q->n_filters >= STW_RDQ_FILTERS_MAX)
    return STW_ERR_TOO_LARGE;
  stw_rd_filter_t *f = &q->filters[q->n_filters++];
  memcpy(f->name, name, name_len + 1);
  memcpy(f->value, value, value_len + 1);
  f->has_value = has_value;
  return STW_OK;
}

static void query_reset(stw_rd_query_t *q)
{
  memset(q, 0, sizeof(*q));
  q->lt = STW_RDQ_LT_DEFAULT;
}

stw_status_t stw_rd_query_parse(const char *const *options, const size_t *lens, size_t n,
                                stw_rd_query_t *out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  query_reset(out);
  if (n > 0 && (options == NULL || lens == NULL))
    return STW_ERR_INVALID;
  if (n > STW_RDQ_OPTIONS_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t st = STW_OK;
  for (size_t i = 0; i < n; i++) {
    if (options[i] == NULL && lens[i] > 0) {
      st = STW_ERR_INVALID;
      break;
    }
    st = parse_option(options[i], lens[i], out);
    if (st != STW_OK)
      break;
  }
  if (st != STW_OK)
    query_reset(out);
  return st;
}

stw_status_t stw_rd_query_parse_string(const char *query, size_t len, stw_rd_query_t *out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  query_reset(out);
  if (query == NULL && len > 0)
    return STW_ERR_INVALID;
  if (len > STW_RDQ_QUERY_MAX)
    return STW_ERR_TOO_LARGE;
  if (len == 0)
    return STW_OK;
  const char *opts[STW_RDQ_OPTIONS_MAX];
  size_t lens[STW_RDQ_OPTIONS_MAX];
  size_t n = 0;
  const char *p = query, *end = query + len;
  for (;;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp != NULL ? amp : end;
    if (n >= STW_RDQ_OPTIONS_MAX)
      return STW_ERR_TOO_LARGE;
    opts[n] = p;
    lens[n] = (size_t)(stop - p);
    n++;
    if (amp == NULL)
      break;
    p = amp + 1;  /* a trailing '&' leaves an empty option, refused by the parser */
  }
  return stw_rd_query_parse(opts, lens, n, out);
}

const stw_rd_filter_t *stw_rd_query_filter(const stw_rd_query_t *q, const char *name, size_t nth)
{
  for (size_t i = 0; i < q->n_filters; i++)
    if (strcmp(q->filters[i].name, name) == 0 && nth-- == 0)
      return &q->filters[i];
  return NULL;
}
