/* A session with one peer device: tokens asked for per request as needed,
 * uploaded, and the channel keyed the way the application chose (DTLS-RPK
 * through stw_thing_call, OSCORE through stw_thing_call_oscore). */
#include "steward/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cwt.h"
#include "net_internal.h"
#include "steward/thing.h"
#include "steward/token.h"
#include "util.h"

/* Renew a token this many seconds before it would expire at the device. */
#define RENEW_MARGIN 5

typedef struct {
  bool used;
  int64_t expires;             /* stw_now() seconds */
  bool uploaded;               /* DTLS: the device holds it */
  stw_token_t tok;
  stw_oscore_material_t mat;   /* OSCORE: the input material */
  stw_oscore_peer_t *osc;      /* OSCORE: the context keyed with this token */
} grant_t;

struct stw_session {
  stw_dev_t *dev;
  stw_session_kind_t kind;
  char as_uri[256];
  char audience[128];
  char peer_uri[256];
  grant_t grants[STW_SESSION_GRANTS];
  grant_t *observed;           /* the grant whose OSCORE peer holds the observation */
};

static void grant_clear(stw_session_t *s, grant_t *g)
{
  if (s->observed == g)
    s->observed = NULL;
  stw_oscore_peer_free(g->osc);
  stw_token_clear(&g->tok);
  stw_oscore_material_clear(&g->mat);
  memset(g, 0, sizeof(*g));
}

static bool starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

stw_status_t stw_session_open(stw_dev_t *dev, const char *as_uri, const char *audience, const char *peer_uri,
                              stw_session_kind_t kind, stw_session_t **out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  *out = NULL;
  if (dev == NULL || as_uri == NULL || audience == NULL || peer_uri == NULL ||
      strlen(as_uri) >= sizeof(((stw_session_t *)0)->as_uri) ||
      strlen(audience) >= sizeof(((stw_session_t *)0)->audience) ||
      strlen(peer_uri) >= sizeof(((stw_session_t *)0)->peer_uri))
    return STW_ERR_INVALID;
  /* The scheme says what the peer's endpoint speaks; a mismatch is a mistake
   * better caught here than as a timeout. */
  if ((kind == STW_SESSION_DTLS_RPK && !starts_with(peer_uri, "coaps://")) ||
      (kind == STW_SESSION_OSCORE && !starts_with(peer_uri, "coap://")) ||
      (kind != STW_SESSION_DTLS_RPK && kind != STW_SESSION_OSCORE))
    return STW_ERR_INVALID;
  stw_session_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return STW_ERR_NOMEM;
  s->dev = dev;
  s->kind = kind;
  snprintf(s->as_uri, sizeof(s->as_uri), "%s", as_uri);
  snprintf(s->audience, sizeof(s->audience), "%s", audience);
  snprintf(s->peer_uri, sizeof(s->peer_uri), "%s", peer_uri);
  *out = s;
  return STW_OK;
}

/* A held, unexpired token whose granted scope covers (path, method). */
static grant_t *grant_for(stw_session_t *s, const char *path, unsigned method, int64_t now)
{
  for (size_t i = 0; i < STW_SESSION_GRANTS; i++) {
    grant_t *g = &s->grants[i];
    if (!g->used)
      continue;
    if (now + RENEW_MARGIN >= g->expires) {
      grant_clear(s, g);
      continue;
    }
    if (stw_aif_scope_allows(&g->tok.granted, path, strlen(path), method))
      return g;
  }
  return NULL;
}

/* A new token for (path, method) in a free slot (the oldest one if none is). */
static stw_status_t grant_new(stw_session_t *s, const char *path, unsigned method, int64_t now, unsigned *code,
                              grant_t **out)
{
  grant_t *g = NULL;
  for (size_t i = 0; i < STW_SESSION_GRANTS && g == NULL; i++)
    if (!s->grants[i].used)
      g = &s->grants[i];
  if (g == NULL) {
    g = &s->grants[0];
    for (size_t i = 1; i < STW_SESSION_GRANTS; i++)
      if (s->grants[i].expires < g->expires)
        g = &s->grants[i];
    grant_clear(s, g);
  }
  stw_bootstrap_report_t r;
  memset(&r, 0, sizeof(r));
  stw_status_t st = s->kind == STW_SESSION_OSCORE
                        ? stw_token_request_oscore(s->dev, s->as_uri, s->audience, path, method, &g->tok, &g->mat, &r)
                        : stw_token_request(s->dev, s->as_uri, s->audience, path, method, &g->tok, &r);
  if (st != STW_OK) {
    if (code != NULL)
      *code = r.coap_code;
    grant_clear(s, g);
    return st;
  }
  g->used = true;
  /* expires_in is the AS's number: saturate rather than overflow */
  g->expires = g->tok.expires_in > INT64_MAX - now ? INT64_MAX : now + g->tok.expires_in;
  *out = g;
  return STW_OK;
}

static stw_status_t call_dtls(stw_session_t *s, grant_t *g, unsigned method, const char *path, const uint8_t *body,
                              size_t len, unsigned *code, uint8_t **answer, size_t *answer_len)
{
  stw_bootstrap_report_t r;
  stw_status_t st;
  for (bool again = false;; again = true) {
    bool upload = !g->uploaded;
    st = stw_thing_call(s->dev, s->peer_uri, g->tok.rs_spki, g->tok.rs_spki_len, upload ? g->tok.token : NULL,
                        upload ? g->tok.token_len : 0, method, path, body, len, answer, answer_len, &r);
    if (st == STW_OK)
      g->uploaded = true;
    /* The device no longer holds the token (it restarted): upload it once more. */
    if (st != STW_ERR_UNAUTHENTICATED || upload || again)
      break;
    g->uploaded = false;
  }
  if (code != NULL)
    *code = st == STW_OK && r.coap_code == 0 ? 0x45 : r.coap_code;
  return st;
}

static void clear_results(unsigned *code, uint8_t **answer, size_t *answer_len)
{
  if (code != NULL)
    *code = 0;
  if (answer != NULL)
    *answer = NULL;
  if (answer_len != NULL)
    *answer_len = 0;
}

/* A held grant for (path, method), or a new one. */
static stw_status_t grant_get(stw_session_t *s, const char *path, unsigned method, unsigned *code, grant_t **g)
{
  int64_t now = stw_now();
  *g = grant_for(s, path, method, now);
  return *g != NULL ? STW_OK : grant_new(s, path, method, now, code, g);
}

stw_status_t stw_session_request(stw_session_t *s, unsigned method, const char *path, const uint8_t *body,
                                 size_t len, unsigned *code, uint8_t **answer, size_t *answer_len)
{
  clear_results(code, answer, answer_len);
  if (s == NULL || path == NULL || path[0] != '/' || strlen(path) > STW_AIF_PATH_MAX || (body == NULL && len > 0))
    return STW_ERR_INVALID;
  grant_t *g = NULL;
  stw_status_t st;
  if ((st = grant_get(s, path, method, code, &g)) != STW_OK)
    return st;
  if (s->kind == STW_SESSION_DTLS_RPK)
    return call_dtls(s, g, method, path, body, len, code, answer, answer_len);
  bool first = g->osc == NULL;
  st = stw_thing_call_oscore(&g->osc, s->peer_uri, g->tok.token, g->tok.token_len, &g->mat, method, path, body, len,
                             code, answer, answer_len);
  if (first && g->osc != NULL)
    stw_oscore_material_clear(&g->mat);  /* the context (and its own copy for a restart) has it now */
  return st;
}

stw_status_t stw_session_observe(stw_session_t *s, const char *path, stw_session_notify_t notify, void *arg,
                                 unsigned *code, uint8_t **answer, size_t *answer_len)
{
  clear_results(code, answer, answer_len);
  if (s == NULL || path == NULL || path[0] != '/' || strlen(path) > STW_AIF_PATH_MAX)
    return STW_ERR_INVALID;
  if (s->kind != STW_SESSION_OSCORE)
    return STW_ERR_UNSUPPORTED;  /* the DTLS side speaks to libcoap's observe; not offered here */
  grant_t *g = NULL;
  stw_status_t st;
  if ((st = grant_get(s, path, STW_AIF_GET, code, &g)) != STW_OK)
    return st;
  /* One observation per session: the old one ends (a failed deregistration
   * ends it too, at the device's next notification, which gets a reset). */
  if (s->observed != NULL && s->observed != g && stw_oscore_peer_observing(s->observed->osc) &&
      stw_oscore_peer_cancel(s->observed->osc) != STW_OK)
    s->observed = NULL;
  bool first = g->osc == NULL;
  st = stw_thing_observe_oscore(&g->osc, s->peer_uri, g->tok.token, g->tok.token_len, &g->mat, path, notify, arg,
                                code, answer, answer_len);
  if (first && g->osc != NULL)
    stw_oscore_material_clear(&g->mat);
  if (st != STW_OK)
    return st;
  if (!stw_oscore_peer_observing(g->osc))
    return STW_ERR_STATE;
  s->observed = g;
  return STW_OK;
}

stw_status_t stw_session_poll(stw_session_t *s, unsigned timeout_ms)
{
  if (s == NULL)
    return STW_ERR_INVALID;
  if (s->observed == NULL || s->observed->osc == NULL)
    return STW_ERR_STATE;
  return stw_oscore_peer_poll(s->observed->osc, timeout_ms);
}

void stw_session_close(stw_session_t *s)
{
  if (s == NULL)
    return;
  for (size_t i = 0; i < STW_SESSION_GRANTS; i++)
    grant_clear(s, &s->grants[i]);
  stw_wipe(s, sizeof(*s));
  free(s);
}
