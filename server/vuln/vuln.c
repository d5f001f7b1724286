/* Vulnerability reports: the POST /vr body, the rate limit, and the store
 * changes with their audit records. See vuln.h. */
#include "vuln/vuln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"

enum { KEY_CONTACT = 1, KEY_SUMMARY = 2, KEY_DETAIL = 3 };

/* ---- the body ---------------------------------------------------------- */

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF) without C0 or C1 controls or DEL: a report is shown on the
 * operator's terminal, where control bytes would be escape sequences. A
 * multi-line field may keep its line feeds and tabs. */
static bool text_ok(const uint8_t *s, size_t len, bool multi_line)
{
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      if ((c < 0x20 && !(multi_line && (c == '\n' || c == '\t'))) || c == 0x7f)
        return false;
      i++;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;  /* a continuation byte first, 0xc0/0xc1 (overlong), or over 0xf4 */
    }
    if (len - i < n)
      return false;
    for (size_t k = 1; k < n; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    if (cp >= 0x80 && cp <= 0x9f)  /* C1 controls (CSI is 0x9b) */
      return false;
    i += n;
  }
  return true;
}

static stw_status_t read_field(stw_cbor_reader_t *r, char *dst, size_t cap, bool allow_empty)
{
  const char *s;
  size_t len;
  stw_status_t st = stw_cbor_read_tstr(r, &s, &len);
  if (st != STW_OK)
    return st;
  if (len >= cap || (len == 0 && !allow_empty) || !text_ok((const uint8_t *)s, len, false))
    return STW_ERR_MALFORMED;
  memcpy(dst, s, len);
  dst[len] = '\0';
  return STW_OK;
}

static stw_status_t read_detail(stw_cbor_reader_t *r, char **dst)
{
  const char *s;
  size_t len;
  stw_status_t st = stw_cbor_read_tstr(r, &s, &len);
  if (st != STW_OK)
    return st;
  if (len == 0 || len > STW_VULN_TEXT_MAX || !text_ok((const uint8_t *)s, len, true))
    return STW_ERR_MALFORMED;
  if ((*dst = malloc(len + 1)) == NULL)
    return STW_ERR_NOMEM;
  memcpy(*dst, s, len);
  (*dst)[len] = '\0';
  return STW_OK;
}

static stw_status_t parse_body(const uint8_t *data, size_t len, stw_vuln_t *out)
{
  stw_cbor_reader_t r;
  size_t n;
  unsigned seen = 0;
  stw_cbor_reader_init(&r, data, len);
  stw_status_t st = stw_cbor_read_map(&r, &n);
  if (st != STW_OK)
    return st;
  if (n > 3)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < n; i++) {
    uint64_t key;
    if ((st = stw_cbor_read_uint(&r, &key)) != STW_OK)
      return st;
    if (key < KEY_CONTACT || key > KEY_DETAIL || (seen & (1u << key)))
      return STW_ERR_MALFORMED;  /* unknown, or twice */
    seen |= 1u << key;
    if (key == KEY_CONTACT)
      st = read_field(&r, out->contact, sizeof(out->contact), true);
    else if (key == KEY_SUMMARY)
      st = read_field(&r, out->summary, sizeof(out->summary), false);
    else
      st = read_detail(&r, &out->detail);
    if (st != STW_OK)
      return st;
  }
  if ((st = stw_cbor_expect_end(&r)) != STW_OK)
    return st;
  unsigned required = 1u << KEY_SUMMARY | 1u << KEY_DETAIL;
  return (seen & required) == required ? STW_OK : STW_ERR_MALFORMED;
}

stw_status_t stw_vr_body_parse(const uint8_t *data, size_t len, stw_vuln_t *out)
{
  if (out == NULL || (data == NULL && len > 0))
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (len > STW_VR_BODY_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t st = parse_body(data, len, out);
  if (st == STW_ERR_TOO_LARGE)
    st = STW_ERR_MALFORMED;  /* only the body's own size is "too large" */
  if (st != STW_OK)
    stw_vuln_clear(out);
  return st;
}

/* ---- the store ----------------------------------------------------------- */

stw_status_t stw_vuln_record(stw_store_t *st, stw_vuln_t *v, const char *actor)
{
  if (st == NULL || v == NULL || actor == NULL)
    return STW_ERR_INVALID;
  v->id = 0;
  v->status[0] = '\0';  /* every report starts as "received" */
  stw_status_t rc = stw_store_vuln_add(st, v);
  if (rc != STW_OK)
    return rc;
  /* Sizes only: the text may name people, the audit log keeps no personal data. */
  char subject[32], detail[96];
  snprintf(subject, sizeof(subject), "vuln:%lld", (long long)v->id);
  snprintf(detail, sizeof(detail), "summary %zu bytes, detail %zu bytes, contact %s", strlen(v->summary),
           v->detail != NULL ? strlen(v->detail) : (size_t)0, v->contact[0] ? "given" : "none");
  return stw_store_audit_event(st, actor, "vuln.report", subject, "ok", detail);
}

stw_status_t stw_vuln_change_status(stw_store_t *st, int64_t id, const char *status, const char *actor)
{
  if (st == NULL || status == NULL || actor == NULL)
    return STW_ERR_INVALID;
  char subject[32];
  snprintf(subject, sizeof(subject), "vuln:%lld", (long long)id);
  stw_status_t rc = stw_store_begin(st);
  if (rc != STW_OK)
    return rc;
  if ((rc = stw_store_vuln_set_status(st, id, status)) == STW_OK &&
      (rc = stw_store_audit_event(st, actor, "vuln.status", subject, "ok", status)) == STW_OK)
    rc = stw_store_commit(st);
  if (rc != STW_OK)
    stw_store_rollback(st);
  return rc;
}

typedef struct {
  int64_t id;
  stw_vuln_t *out;
  stw_status_t found;
} find_t;

static stw_status_t take_if_wanted(const stw_vuln_t *v, void *ctx)
{
  find_t *f = ctx;
  if (v->id != f->id)
    return STW_OK;
  *f->out = *v;
  f->out->detail = v->detail != NULL ? strdup(v->detail) : NULL;
  f->found = v->detail == NULL || f->out->detail != NULL ? STW_OK : STW_ERR_NOMEM;
  return STW_OK;
}

stw_status_t stw_vuln_get(stw_store_t *st, int64_t id, stw_vuln_t *out)
{
  if (st == NULL || out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  find_t f = { .id = id, .out = out, .found = STW_ERR_NOT_FOUND };
  stw_status_t rc = stw_store_vuln_list(st, take_if_wanted, &f);
  if (rc == STW_OK)
    rc = f.found;
  if (rc != STW_OK)
    stw_vuln_clear(out);
  return rc;
}

/* ---- rate limit ---------------------------------------------------------- */

bool stw_vr_limiter_allow(stw_vr_limiter_t *l, const char *key, int64_t now)
{
  if (l == NULL || key == NULL)
    return false;
  /* Compare what a slot can hold; "" marks a free slot, so it is never a key. */
  char k[sizeof(l->slot[0].key)];
  snprintf(k, sizeof(k), "%s", key[0] != '\0' ? key : "?");
  stw_vr_slot_t *slot = NULL, *oldest = NULL;
  for (size_t i = 0; i < STW_VR_LIMITER_SLOTS; i++) {
    stw_vr_slot_t *s = &l->slot[i];
    if (strcmp(s->key, k) == 0) {
      slot = s;
      break;
    }
    if (oldest == NULL || s->key[0] == '\0' || (oldest->key[0] != '\0' && s->window_start < oldest->window_start))
      oldest = s;
  }
  if (slot == NULL) {
    slot = oldest;
    memcpy(slot->key, k, sizeof(k));
    slot->window_start = now;
    slot->count = 0;
  }
  if (now - slot->window_start >= STW_VR_RATE_WINDOW || now < slot->window_start) {
    slot->window_start = now;
    slot->count = 0;
  }
  if (slot->count >= STW_VR_RATE_MAX)
    return false;
  slot->count++;
  return true;
}
