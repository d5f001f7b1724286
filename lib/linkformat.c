/* CoRE Link Format (RFC 6690): parser, canonical writer, RD matching. */
#include "linkformat.h"

#include <string.h>

/* ---- character classes (RFC 6690 §2, RFC 5987, RFC 3986) ---- */

static bool is_alpha(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
  return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_ctl(unsigned char c)
{
  return c < 0x20 || c == 0x7f;
}

/* attr-char of RFC 5987, the characters of a parmname. */
static bool is_name_char(unsigned char c)
{
  return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* ptokenchar of RFC 6690: what an unquoted value may hold. */
static bool is_ptoken_char(unsigned char c)
{
  return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c) != NULL);
}

/* A URI-reference character other than '%' (RFC 3986 unreserved, gen- and sub-delims). */
static bool is_uri_char(unsigned char c)
{
  return is_alpha(c) || is_digit(c) || (c != 0 && strchr("-._~:/?#[]@!$&'()*+,;=", c) != NULL);
}

static unsigned char lower(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Names that RFC 6690 only allows as quoted-string; the writer always quotes them. */
static bool must_quote(const char *name)
{
  return strcmp(name, "anchor") == 0 || strcmp(name, "title") == 0;
}

/* relation-types: a space-separated list inside one value. */
static bool is_list_attr(const char *name)
{
  return strcmp(name, "rt") == 0 || strcmp(name, "if") == 0 || strcmp(name, "rel") == 0;
}

/* ---- validation shared by the parser and the builder ---- */

/* A target: 1..STW_LINK_TARGET_MAX URI characters, every '%' followed by two hex digits. */
static stw_status_t check_target(const char *t, size_t len)
{
  if (len == 0)
    return STW_ERR_MALFORMED;
  if (len > STW_LINK_TARGET_MAX)
    return STW_ERR_TOO_LARGE;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c == '%') {
      if (len - i < 3 || !is_hex((unsigned char)t[i + 1]) || !is_hex((unsigned char)t[i + 2]))
        return STW_ERR_MALFORMED;
      i += 2;
    } else if (!is_uri_char(c)) {
      return STW_ERR_MALFORMED;
    }
  }
  return STW_OK;
}

/* A name: 1*attr-char, optionally ending in '*' (ext-name-star, e.g. title*). */
static stw_status_t check_name(const char *n, size_t len)
{
  if (len == 0)
    return STW_ERR_MALFORMED;
  if (len > STW_LINK_NAME_MAX)
    return STW_ERR_TOO_LARGE;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)n[i];
    if (!is_name_char(c) && !(c == '*' && i == len - 1 && i > 0))
      return STW_ERR_MALFORMED;
  }
  return STW_OK;
}

/* A decoded value: no control characters (so it is a safe C string), bounded. */
static stw_status_t check_value(const char *v, size_t len)
{
  if (len > STW_LINK_VALUE_MAX)
    return STW_ERR_TOO_LARGE;
  for (size_t i = 0; i < len; i++)
    if (is_ctl((unsigned char)v[i]))
      return STW_ERR_MALFORMED;
  return STW_OK;
}

/* ---- arena ---- */

static stw_status_t arena_put(stw_links_t *links, const char *s, size_t len, bool to_lower, uint16_t *offset)
{
  /* room for the bytes and a NUL */
  if (len >= sizeof(links->arena) || links->arena_used > sizeof(links->arena) - len - 1)
    return STW_ERR_TOO_LARGE;
  char *dst = links->arena + links->arena_used;
  for (size_t i = 0; i < len; i++)
    dst[i] = to_lower ? (char)lower((unsigned char)s[i]) : s[i];
  dst[len] = '\0';
  *offset = (uint16_t)links->arena_used;
  links->arena_used += len + 1;
  return STW_OK;
}

void stw_links_init(stw_links_t *links)
{
  links->count = 0;
  links->arena_used = 0;
  links->arena[0] = '\0';
}

stw_status_t stw_links_add(stw_links_t *links, const char *target, size_t target_len)
{
  if (links == NULL || (target == NULL && target_len > 0))
    return STW_ERR_INVALID;
  stw_status_t st = check_target(target, target_len);
  if (st != STW_OK)
    return st;
  if (links->count >= STW_LINKS_MAX)
    return STW_ERR_TOO_LARGE;
  stw_link_t *link = &links->links[links->count];
  st = arena_put(links, target, target_len, false, &link->target);
  if (st != STW_OK)
    return st;
  link->target_len = (uint16_t)target_len;
  link->n_attrs = 0;
  links->count++;
  return STW_OK;
}

stw_status_t stw_links_add_attr(stw_links_t *links, const char *name, size_t name_len,
                                const char *value, size_t value_len)
{
  if (links == NULL || links->count == 0 || (name == NULL && name_len > 0))
    return STW_ERR_INVALID;
  stw_status_t st = check_name(name, name_len);
  if (st == STW_OK && value != NULL)
    st = check_value(value, value_len);
  if (st != STW_OK)
    return st;
  stw_link_t *link = &links->links[links->count - 1];
  if (link->n_attrs >= STW_LINK_ATTRS_MAX)
    return STW_ERR_TOO_LARGE;
  stw_link_attr_t *attr = &link->attrs[link->n_attrs];
  size_t mark = links->arena_used;
  st = arena_put(links, name, name_len, true, &attr->name);
  if (st == STW_OK && value != NULL)
    st = arena_put(links, value, value_len, false, &attr->value);
  if (st != STW_OK) {
    links->arena_used = mark;
    return st;
  }
  attr->name_len = (uint8_t)name_len;
  attr->has_value = value != NULL;
  attr->value_len = value != NULL ? (uint16_t)value_len : 0;
  if (value == NULL)
    attr->value = 0;
  link->n_attrs++;
  return STW_OK;
}

/* ---- parser ---- */

typedef struct {
  const char *p;
  const char *end;
} cursor_t;

static bool at(const cursor_t *c, char ch)
{
  return c->p < c->end && *c->p == ch;
}

/* '<' target '>' */
static stw_status_t parse_target(cursor_t *c, stw_links_t *out)
{
  if (!at(c, '<'))
    return STW_ERR_MALFORMED;
  c->p++;
  const char *start = c->p;
  /* The closing '>' must come within the target limit; a longer run of URI
   * characters is a too-long target, anything else is malformed. */
  while (c->p < c->end && *c->p != '>') {
    if ((size_t)(c->p - start) >= STW_LINK_TARGET_MAX) {
      stw_status_t st = check_target(start, (size_t)(c->p - start));
      return st != STW_OK ? st : STW_ERR_TOO_LARGE;
    }
    c->p++;
  }
  if (c->p >= c->end)
    return STW_ERR_MALFORMED;  /* missing '>' */
  size_t len = (size_t)(c->p - start);
  c->p++;
  return stw_links_add(out, start, len);
}

/* quoted-string into buf (STW_LINK_VALUE_MAX bytes); the cursor is on the opening quote. */
static stw_status_t parse_quoted(cursor_t *c, char *buf, size_t *len)
{
  size_t n = 0;
  c->p++;
  for (;;) {
    if (c->p >= c->end)
      return STW_ERR_MALFORMED;  /* unterminated */
    unsigned char ch = (unsigned char)*c->p++;
    if (ch == '"')
      break;
    if (ch == '\\') {
      /* quoted-pair: backslash and one US-ASCII character, not a control */
      if (c->p >= c->end)
        return STW_ERR_MALFORMED;
      ch = (unsigned char)*c->p++;
      if (ch >= 0x80)
        return STW_ERR_MALFORMED;
    }
    if (is_ctl(ch))
      return STW_ERR_MALFORMED;
    if (n >= STW_LINK_VALUE_MAX)
      return STW_ERR_TOO_LARGE;
    buf[n++] = (char)ch;
  }
  *len = n;
  return STW_OK;
}

/* ';' name [ '=' ( ptoken / quoted-string ) ] */
static stw_status_t parse_attr(cursor_t *c, stw_links_t *out)
{
  c->p++;  /* ';' */
  const char *name = c->p;
  while (c->p < c->end && *c->p != '=' && *c->p != ';' && *c->p != ',') {
    if ((size_t)(c->p - name) > STW_LINK_NAME_MAX)
      break;  /* check_name below reports it */
    c->p++;
  }
  size_t name_len = (size_t)(c->p - name);
  stw_status_t st = check_name(name, name_len);
  if (st != STW_OK)
    return st;
  if (!at(c, '='))
    return stw_links_add_attr(out, name, name_len, NULL, 0);
  c->p++;
  char value[STW_LINK_VALUE_MAX];
  size_t value_len = 0;
  if (at(c, '"')) {
    st = parse_quoted(c, value, &value_len);
    if (st != STW_OK)
      return st;
  } else {
    /* anchor and title are quoted-string only (RFC 6690 §2) */
    char lname[STW_LINK_NAME_MAX + 1];
    for (size_t i = 0; i < name_len; i++)
      lname[i] = (char)lower((unsigned char)name[i]);
    lname[name_len] = '\0';
    if (must_quote(lname))
      return STW_ERR_MALFORMED;
    const char *start = c->p;
    while (c->p < c->end && *c->p != ';' && *c->p != ',') {
      if (!is_ptoken_char((unsigned char)*c->p))
        return STW_ERR_MALFORMED;
      if ((size_t)(c->p - start) >= STW_LINK_VALUE_MAX)
        return STW_ERR_TOO_LARGE;
      c->p++;
    }
    value_len = (size_t)(c->p - start);
    if (value_len == 0)
      return STW_ERR_MALFORMED;  /* `name=` with nothing */
    memcpy(value, start, value_len);
  }
  return stw_links_add_attr(out, name, name_len, value, value_len);
}

stw_status_t stw_links_parse(const char *text, size_t len, stw_links_t *out)
{
  if (out == NULL || (text == NULL && len > 0))
    return STW_ERR_INVALID;
  stw_links_init(out);
  if (len > STW_LINKS_PAYLOAD_MAX)
    return STW_ERR_TOO_LARGE;
  if (len == 0)
    return STW_OK;  /* also spares NULL + 0, which C leaves undefined */
  cursor_t c = { text, text + len };
  stw_status_t st = STW_OK;
  while (c.p < c.end) {
    if (out->count > 0) {
      if (!at(&c, ',')) {
        st = STW_ERR_MALFORMED;  /* trailing garbage after a link */
        goto out;
      }
      c.p++;
      if (c.p == c.end) {
        st = STW_ERR_MALFORMED;  /* `<a>,` with nothing after the separator */
        goto out;
      }
    }
    if (out->count >= STW_LINKS_MAX) {
      st = STW_ERR_TOO_LARGE;
      goto out;
    }
    st = parse_target(&c, out);
    if (st != STW_OK)
      goto out;
    while (at(&c, ';')) {
      st = parse_attr(&c, out);
      if (st != STW_OK)
        goto out;
    }
  }
out:
  if (st != STW_OK)
    stw_links_init(out);
  return st;
}

/* ---- writer ---- */

static bool needs_quotes(const char *name, const char *v, size_t len)
{
  if (len == 0 || must_quote(name))
    return true;
  for (size_t i = 0; i < len; i++)
    if (!is_ptoken_char((unsigned char)v[i]))
      return true;
  return false;
}

static stw_status_t write_quoted(stw_buf_t *out, const char *v, size_t len)
{
  stw_status_t st = stw_buf_append(out, "\"", 1);
  size_t run = 0;  /* start of the bytes not yet written */
  for (size_t i = 0; i < len && st == STW_OK; i++) {
    if (v[i] == '"' || v[i] == '\\') {
      st = stw_buf_append(out, v + run, i - run);
      if (st == STW_OK)
        st = stw_buf_append(out, "\\", 1);
      run = i;
    }
  }
  if (st == STW_OK)
    st = stw_buf_append(out, v + run, len - run);
  if (st == STW_OK)
    st = stw_buf_append(out, "\"", 1);
  return st;
}

stw_status_t stw_links_write(const stw_links_t *links, stw_buf_t *out)
{
  if (links == NULL || out == NULL)
    return STW_ERR_INVALID;
  stw_status_t st = STW_OK;
  for (size_t i = 0; i < links->count && st == STW_OK; i++) {
    const stw_link_t *link = &links->links[i];
    if (out->len > 0)
      st = stw_buf_append(out, ",", 1);
    if (st == STW_OK)
      st = stw_buf_append(out, "<", 1);
    if (st == STW_OK)
      st = stw_buf_append(out, links->arena + link->target, link->target_len);
    if (st == STW_OK)
      st = stw_buf_append(out, ">", 1);
    for (size_t j = 0; j < link->n_attrs && st == STW_OK; j++) {
      const stw_link_attr_t *attr = &link->attrs[j];
      const char *name = links->arena + attr->name;
      st = stw_buf_append(out, ";", 1);
      if (st == STW_OK)
        st = stw_buf_append(out, name, attr->name_len);
      if (st != STW_OK || !attr->has_value)
        continue;
      const char *value = links->arena + attr->value;
      st = stw_buf_append(out, "=", 1);
      if (st != STW_OK)
        break;
      if (needs_quotes(name, value, attr->value_len))
        st = write_quoted(out, value, attr->value_len);
      else
        st = stw_buf_append(out, value, attr->value_len);
    }
  }
  return st;
}

/* ---- access and matching ---- */

bool stw_links_equal(const stw_links_t *a, const stw_links_t *b)
{
  if (a->count != b->count)
    return false;
  for (size_t i = 0; i < a->count; i++) {
    const stw_link_t *la = &a->links[i], *lb = &b->links[i];
    if (la->target_len != lb->target_len || la->n_attrs != lb->n_attrs ||
        memcmp(a->arena + la->target, b->arena + lb->target, la->target_len) != 0)
      return false;
    for (size_t j = 0; j < la->n_attrs; j++) {
      const stw_link_attr_t *x = &la->attrs[j], *y = &lb->attrs[j];
      if (x->name_len != y->name_len || x->has_value != y->has_value ||
          memcmp(a->arena + x->name, b->arena + y->name, x->name_len) != 0)
        return false;
      if (x->has_value && (x->value_len != y->value_len ||
                           memcmp(a->arena + x->value, b->arena + y->value, x->value_len) != 0))
        return false;
    }
  }
  return true;
}

size_t stw_links_count(const stw_links_t *links)
{
  return links->count;
}

const char *stw_link_target(const stw_links_t *links, size_t i, size_t *len)
{
  if (i >= links->count)
    return NULL;
  if (len != NULL)
    *len = links->links[i].target_len;
  return links->arena + links->links[i].target;
}

size_t stw_link_attr_count(const stw_links_t *links, size_t i)
{
  return i < links->count ? links->links[i].n_attrs : 0;
}

const char *stw_link_attr_name(const stw_links_t *links, size_t i, size_t j)
{
  if (j >= stw_link_attr_count(links, i))
    return NULL;
  return links->arena + links->links[i].attrs[j].name;
}

const char *stw_link_attr_value(const stw_links_t *links, size_t i, size_t j)
{
  if (j >= stw_link_attr_count(links, i) || !links->links[i].attrs[j].has_value)
    return NULL;
  return links->arena + links->links[i].attrs[j].value;
}

/* Stored names are lower-case already; the caller's may not be. */
static bool name_equals(const char *stored, const char *name)
{
  size_t i = 0;
  for (; stored[i] != '\0' && name[i] != '\0'; i++)
    if (stored[i] != (char)lower((unsigned char)name[i]))
      return false;
  return stored[i] == name[i];
}

bool stw_link_find_attr(const stw_links_t *links, size_t i, const char *name, size_t nth,
                        const char **value)
{
  size_t n = stw_link_attr_count(links, i);
  for (size_t j = 0; j < n; j++) {
    if (!name_equals(stw_link_attr_name(links, i, j), name))
      continue;
    if (nth-- > 0)
      continue;
    if (value != NULL)
      *value = stw_link_attr_value(links, i, j);
    return true;
  }
  return false;
}

/* stw_match_value() over value[0..len), which need not be NUL-terminated. */
static bool match_span(const char *pattern, const char *value, size_t len)
{
  size_t plen = strlen(pattern);
  if (plen > 0 && pattern[plen - 1] == '*')
    return len >= plen - 1 && memcmp(pattern, value, plen - 1) == 0;
  return len == plen && memcmp(pattern, value, len) == 0;
}

bool stw_match_value(const char *pattern, const char *value)
{
  if (pattern == NULL || value == NULL)
    return false;
  return match_span(pattern, value, strlen(value));
}

static bool list_matches(const char *pattern, const char *value)
{
  const char *p = value;
  for (;;) {
    const char *sp = strchr(p, ' ');
    size_t len = sp != NULL ? (size_t)(sp - p) : strlen(p);
    if (len > 0 && match_span(pattern, p, len))
      return true;
    if (sp == NULL)
      return false;
    p = sp + 1;
  }
}

bool stw_link_attr_matches(const stw_links_t *links, size_t i, const char *name, const char *pattern)
{
  const char *value = NULL;
  for (size_t nth = 0; stw_link_find_attr(links, i, name, nth, &value); nth++) {
    if (pattern == NULL)
      return true;
    const char *v = value != NULL ? value : "";
    if (stw_match_value(pattern, v))
      return true;
    char lname[STW_LINK_NAME_MAX + 1];
    size_t k = 0;
    for (; name[k] != '\0' && k < STW_LINK_NAME_MAX; k++)
      lname[k] = (char)lower((unsigned char)name[k]);
    lname[k] = '\0';
    if (is_list_attr(lname) && list_matches(pattern, v))
      return true;
  }
  return false;
}
