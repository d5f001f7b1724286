#include "authz/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  unsigned bit;
} methods_table[] = {
  { "GET", STW_AIF_GET },     { "POST", STW_AIF_POST },   { "PUT", STW_AIF_PUT },       { "DELETE", STW_AIF_DELETE },
  { "FETCH", STW_AIF_FETCH }, { "PATCH", STW_AIF_PATCH }, { "iPATCH", STW_AIF_IPATCH },
};

unsigned stw_method_bit(const char *name, size_t len)
{
  for (size_t i = 0; i < STW_ARRAY_LEN(methods_table); i++)
    if (strlen(methods_table[i].name) == len && memcmp(methods_table[i].name, name, len) == 0)
      return methods_table[i].bit;
  return 0;
}

const char *stw_method_name(unsigned bit)
{
  for (size_t i = 0; i < STW_ARRAY_LEN(methods_table); i++)
    if (methods_table[i].bit == bit)
      return methods_table[i].name;
  return "?";
}

void stw_methods_format(unsigned methods, char *out, size_t cap)
{
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < STW_ARRAY_LEN(methods_table) && n < cap; i++)
    if (methods & methods_table[i].bit)
      n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", methods_table[i].name);
}

/* Iterative glob with one backtrack point: linear in practice, never recursive
 * (a fuzzer's "*a*a*a*..." cannot blow the stack). */
bool stw_glob_match(const char *p, const char *s)
{
  const char *star = NULL, *resume = NULL;
  while (*s) {
    if (*p == '*') {
      star = p++;
      resume = s;
    } else if (*p == *s) {
      p++;
      s++;
    } else if (star) {
      p = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (*p == '*')
    p++;
  return *p == '\0';
}

/* ---- parsing ----------------------------------------------------------------- */

typedef struct {
  const char *pos, *end;
  char *why;
  size_t why_cap;
} lexer_t;

__attribute__((format(printf, 3, 4)))
static stw_status_t fail(lexer_t *lx, stw_status_t st, const char *fmt, ...)
{
  if (lx->why != NULL && lx->why_cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->why, lx->why_cap, fmt, ap);
    va_end(ap);
  }
  return st;
}

/* Next space-separated word; false at the end. */
static bool next_word(lexer_t *lx, const char **w, size_t *n)
{
  while (lx->pos < lx->end && *lx->pos == ' ')
    lx->pos++;
  if (lx->pos >= lx->end)
    return false;
  *w = lx->pos;
  while (lx->pos < lx->end && *lx->pos != ' ')
    lx->pos++;
  *n = (size_t)(lx->pos - *w);
  return true;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
  return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static bool name_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

static bool value_char(char c)
{
  return name_char(c) || c == ':' || c == '@' || c == '/' || c == '+';
}

/* Copy a name (or value, with a trailing '*' allowed) into a field. */
static stw_status_t take(lexer_t *lx, const char *s, size_t n, char *out, size_t cap, bool is_value,
                         const char *what)
{
  if (n == 0 && !is_value)
    return fail(lx, STW_ERR_MALFORMED, "empty %s", what);
  if (n >= cap)
    return fail(lx, STW_ERR_TOO_LARGE, "%s over %zu bytes", what, cap - 1);
  for (size_t i = 0; i < n; i++) {
    bool star_ok = is_value && s[i] == '*' && i + 1 == n;
    if (!(is_value ? value_char(s[i]) : name_char(s[i])) && !star_ok)
      return fail(lx, STW_ERR_MALFORMED, "bad character '%c' in %s", s[i], what);
  }
  memcpy(out, s, n);
  out[n] = '\0';
  return STW_OK;
}

/* term *("," term) */
static stw_status_t parse_terms(lexer_t *lx, const char *s, size_t n, stw_policy_term_t *terms, size_t *count)
{
  *count = 0;
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && s[j] != ',')
      j++;
    const char *eq = memchr(s + i, '=', j - i);
    if (eq == NULL)
      return fail(lx, STW_ERR_MALFORMED, "attribute term without '='");
    if (*count >= STW_POLICY_TERMS_MAX)
      return fail(lx, STW_ERR_TOO_LARGE, "more than %d terms", STW_POLICY_TERMS_MAX);
    stw_policy_term_t *t = &terms[(*count)++];
    stw_status_t st = take(lx, s + i, (size_t)(eq - (s + i)), t->name, sizeof(t->name), false, "attribute name");
    if (st == STW_OK)
      st = take(lx, eq + 1, (size_t)(s + j - eq - 1), t->value, sizeof(t->value), true, "attribute value");
    if (st != STW_OK)
      return st;
    if (t->value[0] == '\0')
      return fail(lx, STW_ERR_MALFORMED, "empty attribute value");
    i = j + 1;
  }
  return STW_OK;
}

static stw_status_t parse_hhmm(const char *s, size_t n, int *minutes)
{
  if (n != 5 || s[2] != ':')
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < 5; i++)
    if (i != 2 && (s[i] < '0' || s[i] > '9'))
      return STW_ERR_MALFORMED;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0))
    return STW_ERR_MALFORMED;
  *minutes = h * 60 + m;
  return STW_OK;
}

static stw_status_t parse_cond(lexer_t *lx, const char *w, size_t n, stw_policy_t *p)
{
  if (p->n_conds >= STW_POLICY_CONDS_MAX)
    return fail(lx, STW_ERR_TOO_LARGE, "more than %d conditions", STW_POLICY_CONDS_MAX);
  stw_policy_cond_t *c = &p->conds[p->n_conds];
  memset(c, 0, sizeof(*c));
  if (word_is(w, n, "time")) {
    const char *r;
    size_t rn;
    if (!next_word(lx, &r, &rn) || rn != 11 || r[5] != '-' || parse_hhmm(r, 5, &c->from_min) != STW_OK ||
        parse_hhmm(r + 6, 5, &c->to_min) != STW_OK)
      return fail(lx, STW_ERR_MALFORMED, "time window must be HH:MM-HH:MM (UTC)");
    if (c->from_min == c->to_min)
      return fail(lx, STW_ERR_MALFORMED, "empty time window");
    c->kind = STW_COND_TIME;
    p->n_conds++;
    return STW_OK;
  }
  const char *op = NULL;
  for (size_t i = 0; i + 1 < n; i++)
    if ((w[i] == '=' || w[i] == '!') && w[i + 1] == '=') {
      op = w + i;
      break;
    }
  if (op == NULL)
    return fail(lx, STW_ERR_MALFORMED, "condition must be name==value, name!=value or time HH:MM-HH:MM");
  c->kind = *op == '=' ? STW_COND_EQ : STW_COND_NE;
  stw_status_t st = take(lx, w, (size_t)(op - w), c->name, sizeof(c->name), false, "context attribute");
  if (st == STW_OK)
    st = take(lx, op + 2, (size_t)(w + n - op - 2), c->value, sizeof(c->value), true, "context value");
  if (st != STW_OK)
    return st;
  if (strchr(c->value, '*') != NULL)
    return fail(lx, STW_ERR_MALFORMED, "context values are compared exactly (no '*')");
  p->n_conds++;
  return STW_OK;
}

static stw_status_t parse_target_path(lexer_t *lx, const char *w, size_t n, stw_policy_t *p)
{
  const char *colon = NULL;
  if (n > 0 && w[0] == '[') {
    const char *close = memchr(w, ']', n);
    if (close == NULL || close + 1 >= w + n || close[1] != ':')
      return fail(lx, STW_ERR_MALFORMED, "target [terms] must be followed by ':path'");
    stw_status_t st = parse_terms(lx, w + 1, (size_t)(close - w - 1), p->target, &p->n_target);
    if (st != STW_OK)
      return st;
    p->target_kind = STW_TARGET_ATTRS;
    colon = close + 1;
  } else {
    colon = memchr(w, ':', n);
    if (colon == NULL)
      return fail(lx, STW_ERR_MALFORMED, "expected target:path");
    size_t tn = (size_t)(colon - w);
    if (tn == 1 && w[0] == '*') {
      p->target_kind = STW_TARGET_ANY;
    } else {
      if (tn == 0)
        return fail(lx, STW_ERR_MALFORMED, "empty target");
      if (tn >= sizeof(p->target_name))
        return fail(lx, STW_ERR_TOO_LARGE, "target over %zu bytes", sizeof(p->target_name) - 1);
      for (size_t i = 0; i < tn; i++)
        if (!name_char(w[i]) && w[i] != '*')
          return fail(lx, STW_ERR_MALFORMED, "bad character '%c' in target", w[i]);
      memcpy(p->target_name, w, tn);
      p->target_name[tn] = '\0';
      p->target_kind = STW_TARGET_NAME;
    }
  }
  const char *path = colon + 1;
  size_t pn = (size_t)(w + n - path);
  if (pn == 0 || path[0] != '/')
    return fail(lx, STW_ERR_MALFORMED, "path must start with '/'");
  if (pn > STW_AIF_PATH_MAX)
    return fail(lx, STW_ERR_TOO_LARGE, "path over %d bytes", STW_AIF_PATH_MAX);
  for (size_t i = 0; i < pn; i++) {
    char c = path[i];
    if (!(name_char(c) || c == '/' || c == '*' || c == '~'))
      return fail(lx, STW_ERR_MALFORMED, "bad character '%c' in path", c);
  }
  memcpy(p->path, path, pn);
  p->path[pn] = '\0';
  return STW_OK;
}

static stw_status_t parse_methods(lexer_t *lx, const char *w, size_t n, unsigned *methods)
{
  *methods = 0;
  if (n == 1 && w[0] == '*') {
    *methods = STW_AIF_METHODS_ALL;
    return STW_OK;
  }
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && w[j] != ',')
      j++;
    unsigned bit = stw_method_bit(w + i, j - i);
    if (bit == 0)
      return fail(lx, STW_ERR_MALFORMED, "unknown method '%.*s'", (int)(j - i > 16 ? 16 : j - i), w + i);
    *methods |= bit;
    i = j + 1;
  }
  return STW_OK;
}

stw_status_t stw_policy_parse(const char *text, size_t len, stw_policy_t *out, char *why, size_t why_cap)
{
  lexer_t lx = { .pos = text, .end = text + len, .why = why, .why_cap = why_cap };
  const char *w;
  size_t n;
  stw_status_t st;
  memset(out, 0, sizeof(*out));
  if (why != NULL && why_cap > 0)
    why[0] = '\0';
  if (text == NULL && len > 0)
    return STW_ERR_INVALID;
  if (len > STW_POLICY_TEXT_MAX) {
    st = fail(&lx, STW_ERR_TOO_LARGE, "rule over %d bytes", STW_POLICY_TEXT_MAX);
    goto out;
  }
  if (memchr(text, '\0', len) != NULL) {
    st = fail(&lx, STW_ERR_MALFORMED, "NUL in rule");
    goto out;
  }
  st = fail(&lx, STW_ERR_MALFORMED, "expected permit or deny");
  if (!next_word(&lx, &w, &n))
    goto out;
  if (word_is(w, n, "permit"))
    out->effect = STW_EFFECT_PERMIT;
  else if (word_is(w, n, "deny"))
    out->effect = STW_EFFECT_DENY;
  else
    goto out;

  st = fail(&lx, STW_ERR_MALFORMED, "expected a subject ('*' or name=value,...)");
  if (!next_word(&lx, &w, &n))
    goto out;
  if (!word_is(w, n, "*") && (st = parse_terms(&lx, w, n, out->subject, &out->n_subject)) != STW_OK)
    goto out;

  st = fail(&lx, STW_ERR_MALFORMED, "expected '->'");
  if (!next_word(&lx, &w, &n) || !word_is(w, n, "->"))
    goto out;
  st = fail(&lx, STW_ERR_MALFORMED, "expected target:path");
  if (!next_word(&lx, &w, &n) || (st = parse_target_path(&lx, w, n, out)) != STW_OK)
    goto out;
  st = fail(&lx, STW_ERR_MALFORMED, "expected methods (GET,PUT,... or *)");
  if (!next_word(&lx, &w, &n) || (st = parse_methods(&lx, w, n, &out->methods)) != STW_OK)
    goto out;

  if (next_word(&lx, &w, &n)) {
    st = fail(&lx, STW_ERR_MALFORMED, "expected 'if' after the methods");
    if (!word_is(w, n, "if"))
      goto out;
    for (;;) {
      st = fail(&lx, STW_ERR_MALFORMED, "expected a condition");
      if (!next_word(&lx, &w, &n) || (st = parse_cond(&lx, w, n, out)) != STW_OK)
        goto out;
      if (!next_word(&lx, &w, &n))
        break;
      st = fail(&lx, STW_ERR_MALFORMED, "expected 'and' between conditions");
      if (!word_is(w, n, "and"))
        goto out;
    }
  }
  st = STW_OK;
  if (why != NULL && why_cap > 0)
    why[0] = '\0';
out:
  if (st != STW_OK) {
    char keep[256] = "";
    if (why != NULL && why_cap > 0)
      snprintf(keep, sizeof(keep), "%s", why);
    memset(out, 0, sizeof(*out));
    if (why != NULL && why_cap > 0)
      snprintf(why, why_cap, "%s", keep);
  }
  return st;
}

/* ---- canonical text ------------------------------------------------------------- */

static void format_terms(const stw_policy_term_t *t, size_t n, char *out, size_t cap)
{
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%s=%s", i ? "," : "", t[i].name, t[i].value);
}

static void format_parts(const stw_policy_t *p, char *subject, char *target, char *conds, size_t cap)
{
  if (p->n_subject == 0)
    snprintf(subject, cap, "*");
  else
    format_terms(p->subject, p->n_subject, subject, cap);
  if (p->target_kind == STW_TARGET_ANY) {
    snprintf(target, cap, "*");
  } else if (p->target_kind == STW_TARGET_NAME) {
    snprintf(target, cap, "%s", p->target_name);
  } else {
    char terms[STW_POLICY_PART_MAX];
    format_terms(p->target, p->n_target, terms, sizeof(terms));
    snprintf(target, cap, "[%s]", terms);
  }
  size_t k = 0;
  conds[0] = '\0';
  for (size_t i = 0; i < p->n_conds && k < cap; i++) {
    const stw_policy_cond_t *c = &p->conds[i];
    const char *sep = i ? " and " : "";
    if (c->kind == STW_COND_TIME)
      k += (size_t)snprintf(conds + k, cap - k, "%stime %02d:%02d-%02d:%02d", sep, c->from_min / 60, c->from_min % 60,
                            c->to_min / 60, c->to_min % 60);
    else
      k += (size_t)snprintf(conds + k, cap - k, "%s%s%s%s", sep, c->name, c->kind == STW_COND_EQ ? "==" : "!=",
                            c->value);
  }
}

void stw_policy_format(const stw_policy_t *p, char *out, size_t cap)
{
  char subject[STW_POLICY_PART_MAX], target[STW_POLICY_PART_MAX], conds[STW_POLICY_PART_MAX], methods[64];
  format_parts(p, subject, target, conds, STW_POLICY_PART_MAX);
  if (p->methods == STW_AIF_METHODS_ALL)
    snprintf(methods, sizeof(methods), "*");
  else
    stw_methods_format(p->methods, methods, sizeof(methods));
  snprintf(out, cap, "%s %s -> %s:%s %s%s%s", p->effect == STW_EFFECT_DENY ? "deny" : "permit", subject, target,
           p->path, methods, conds[0] ? " if " : "", conds);
}

stw_status_t stw_policy_to_row(const stw_policy_t *p, stw_policy_row_t *row)
{
  memset(row, 0, sizeof(*row));
  row->id = p->id;
  snprintf(row->name, sizeof(row->name), "%s", p->name);
  row->effect = p->effect;
  format_parts(p, row->subject, row->target, row->conditions, STW_POLICY_PART_MAX);
  snprintf(row->path, sizeof(row->path), "%s", p->path);
  row->methods = p->methods;
  return p->methods != 0 ? STW_OK : STW_ERR_INVALID;
}

stw_status_t stw_policy_from_row(const stw_policy_row_t *row, stw_policy_t *out)
{
  char text[STW_POLICY_TEXT_MAX + 512], methods[64];
  if (row->methods == STW_AIF_METHODS_ALL)
    snprintf(methods, sizeof(methods), "*");
  else
    stw_methods_format(row->methods, methods, sizeof(methods));
  int n = snprintf(text, sizeof(text), "%s %s -> %s:%s %s%s%s", row->effect == STW_EFFECT_DENY ? "deny" : "permit",
                   row->subject, row->target, row->path, methods, row->conditions[0] ? " if " : "", row->conditions);
  if (n < 0 || (size_t)n >= sizeof(text))
    return STW_ERR_TOO_LARGE;
  stw_status_t st = stw_policy_parse(text, (size_t)n, out, NULL, 0);
  if (st == STW_OK) {
    out->id = row->id;
    snprintf(out->name, sizeof(out->name), "%s", row->name);
  }
  return st;
}

bool stw_policy_reads(const stw_policy_t *p, const char *name)
{
  for (size_t i = 0; i < p->n_conds; i++)
    if (p->conds[i].kind != STW_COND_TIME && strcmp(p->conds[i].name, name) == 0)
      return true;
  return false;
}

/* ---- evaluation ---------------------------------------------------------------------- */

static const char *party_attr(const stw_policy_party_t *party, const char *name)
{
  if (strcmp(name, "device") == 0)
    return party->device_id;
  if (strcmp(name, "name") == 0 && party->name != NULL)
    return party->name;
  for (size_t i = 0; i < party->n_attrs; i++)
    if (strcmp(party->attrs[i].name, name) == 0)
      return party->attrs[i].value;
  return NULL;
}

static bool value_matches(const char *pattern, const char *value)
{
  size_t n = strlen(pattern);
  if (n > 0 && pattern[n - 1] == '*')
    return strncmp(pattern, value, n - 1) == 0;
  return strcmp(pattern, value) == 0;
}

/* Every term must hold. A party attribute with several values (rare) matches
 * if any of them does. */
static bool terms_match(const stw_policy_term_t *terms, size_t n, const stw_policy_party_t *party, char *why,
                        size_t cap, const char *side)
{
  for (size_t i = 0; i < n; i++) {
    bool ok = false;
    if (strcmp(terms[i].name, "device") == 0 || strcmp(terms[i].name, "name") == 0) {
      const char *v = party_attr(party, terms[i].name);
      ok = v != NULL && value_matches(terms[i].value, v);
    } else {
      for (size_t k = 0; k < party->n_attrs && !ok; k++)
        ok = strcmp(party->attrs[k].name, terms[i].name) == 0 && value_matches(terms[i].value, party->attrs[k].value);
    }
    if (!ok) {
      if (why != NULL)
        snprintf(why, cap, "%s has no %s=%s", side, terms[i].name, terms[i].value);
      return false;
    }
  }
  return true;
}

typedef enum { COND_FALSE = 0, COND_TRUE, COND_UNKNOWN } cond_result_t;

static cond_result_t eval_cond(const stw_policy_cond_t *c, const stw_policy_request_t *r, char *why, size_t cap)
{
  if (c->kind == STW_COND_TIME) {
    int64_t day = r->now % 86400;
    if (day < 0)
      day += 86400;
    int minute = (int)(day / 60);
    bool in = c->from_min < c->to_min ? (minute >= c->from_min && minute < c->to_min)
                                      : (minute >= c->from_min || minute < c->to_min);
    if (!in && why != NULL)
      snprintf(why, cap, "outside time %02d:%02d-%02d:%02d UTC (now %02d:%02d)", c->from_min / 60, c->from_min % 60,
               c->to_min / 60, c->to_min % 60, minute / 60, minute % 60);
    return in ? COND_TRUE : COND_FALSE;
  }
  char value[STW_RD_VALUE_MAX];
  if (r->read_context == NULL || !r->read_context(r->context_arg, c->name, value, sizeof(value))) {
    if (why != NULL)
      snprintf(why, cap, "context %s is not set", c->name);
    return COND_UNKNOWN;
  }
  bool eq = strcmp(value, c->value) == 0;
  bool holds = c->kind == STW_COND_EQ ? eq : !eq;
  if (!holds && why != NULL)
    snprintf(why, cap, "context %s is %s", c->name, value);
  return holds ? COND_TRUE : COND_FALSE;
}

bool stw_policy_applies(const stw_policy_t *p, const stw_policy_request_t *r, char *why, size_t cap)
{
  char scratch[256];
  if (why == NULL) {
    why = scratch;
    cap = sizeof(scratch);
  }
  if ((p->methods & r->method) == 0) {
    snprintf(why, cap, "method %s not in the rule", stw_method_name(r->method));
    return false;
  }
  if (!stw_glob_match(p->path, r->path)) {
    snprintf(why, cap, "path does not match %s", p->path);
    return false;
  }
  if (!terms_match(p->subject, p->n_subject, &r->subject, why, cap, "subject"))
    return false;
  if (p->target_kind == STW_TARGET_NAME) {
    bool by_name = r->audience.name != NULL && r->audience.name[0] && stw_glob_match(p->target_name, r->audience.name);
    bool by_id = r->audience.device_id != NULL && stw_glob_match(p->target_name, r->audience.device_id);
    if (!by_name && !by_id) {
      snprintf(why, cap, "audience is not %s", p->target_name);
      return false;
    }
  } else if (p->target_kind == STW_TARGET_ATTRS &&
             !terms_match(p->target, p->n_target, &r->audience, why, cap, "audience")) {
    return false;
  }
  for (size_t i = 0; i < p->n_conds; i++) {
    cond_result_t c = eval_cond(&p->conds[i], r, why, cap);
    if (c == COND_FALSE)
      return false;
    /* Unknown context fails closed: a permit does not apply, a deny does. */
    if (c == COND_UNKNOWN && p->effect == STW_EFFECT_PERMIT)
      return false;
  }
  snprintf(why, cap, "applies");
  return true;
}

void stw_policy_decide(const stw_policy_t *rules, size_t n, const stw_policy_request_t *r, stw_policy_decision_t *out)
{
  memset(out, 0, sizeof(*out));
  const stw_policy_t *permit = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!stw_policy_applies(&rules[i], r, NULL, 0))
      continue;
    if (rules[i].effect == STW_EFFECT_DENY) {
      out->permit = false;
      out->rule_id = rules[i].id;
      snprintf(out->why, sizeof(out->why), "denied by rule %lld", (long long)rules[i].id);
      return;
    }
    if (permit == NULL)
      permit = &rules[i];
  }
  if (permit != NULL) {
    out->permit = true;
    out->rule_id = permit->id;
    snprintf(out->why, sizeof(out->why), "permitted by rule %lld", (long long)permit->id);
    return;
  }
  out->permit = false;
  out->rule_id = 0;
  snprintf(out->why, sizeof(out->why), "no rule permits it (default deny)");
}

__attribute__((format(printf, 2, 3)))
static stw_status_t append_line(stw_buf_t *b, const char *fmt, ...)
{
  char line[STW_POLICY_TEXT_MAX + 512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n < 0)
    return STW_ERR_INVALID;
  return stw_buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

stw_status_t stw_policy_explain(const stw_policy_t *rules, size_t n, const stw_policy_request_t *r, stw_buf_t *out)
{
  stw_status_t st = STW_OK;
  stw_buf_init(out, 1u << 20);
  for (size_t i = 0; i < n && st == STW_OK; i++) {
    char text[STW_POLICY_TEXT_MAX + 256], why[256];
    stw_policy_format(&rules[i], text, sizeof(text));
    bool applies = stw_policy_applies(&rules[i], r, why, sizeof(why));
    st = append_line(out, "rule %lld: %s\n  %s%s\n", (long long)rules[i].id, text, applies ? "" : "does not apply: ",
                     why);
  }
  stw_policy_decision_t d;
  stw_policy_decide(rules, n, r, &d);
  if (st == STW_OK)
    st = append_line(out, "decision: %s %s %s: %s\n", d.permit ? "PERMIT" : "DENY", stw_method_name(r->method),
                     r->path, d.why);
  if (st == STW_OK)
    st = stw_buf_append(out, "", 1);  /* NUL-terminated for printing */
  if (st != STW_OK)
    stw_buf_free(out, false);
  return st;
}
