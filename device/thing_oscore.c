/* The thing's OSCORE endpoint: the ACE OSCORE profile (RFC 9203) over plain
 * CoAP, OSCORE (RFC 8613) on every other request, with Observe (4.1.3.5),
 * Inner Block2 and Block1 (4.1.3.4.1; the body's assembly is in
 * device/thing_upload.c) and the reboot rules of Appendix B.1: each
 * context is saved in the device folder with its Sender Sequence Number
 * bound (B.1.1), restored at the next start with its replay window lost,
 * and the window rebuilt with an Echo round (B.1.2). docs/oscore.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "cbor_reader.h"
#include "cwt.h"
#include "net_internal.h"
#include "netaddr.h"
#include "oscore_client_internal.h"
#include "thing_internal.h"

#define ACE_ACCESS_TOKEN 1
#define ACE_NONCE1 40
#define ACE_NONCE2 42
#define ACE_CLIENT_RECIPIENTID 43
#define ACE_SERVER_RECIPIENTID 44
#define CF_ACE_CBOR 19

/* Inner options (Class E) we read or write. */
#define OPT_ETAG 4
#define OPT_OBSERVE 6
#define OPT_URI_PATH 11
#define OPT_MAX_AGE 14
#define OPT_BLOCK2 23
#define OPT_BLOCK1 27
#define OPT_SIZE2 28
#define OPT_SIZE1 60
#define OPT_REQUEST_TAG 292    /* RFC 9175 3.2 */
#define CODE_CONTINUE COAP_RESPONSE_CODE(231)
#define CODE_INCOMPLETE COAP_RESPONSE_CODE(408)

#define BLOCK_SZX_MAX 6        /* 1024-byte blocks: what one datagram carries under the MTU */
#define ETAG_LEN 4
/* B.1.1's K: a write (with fsync) every this many Sender Sequence Numbers;
 * a restart skips at most this many. The thing's own numbers go only to
 * notifications and Echo answers, so a small step costs little. */
#define SSN_STEP 64
#define STATE_NAME "oscore-ctx-%zu.cbor"
#define STATE_TOKEN 1
#define STATE_N1 2
#define STATE_N2 3
#define STATE_ID1 4
#define STATE_ID2 5
#define STATE_NEXT_SSN 6

/* The Master Salt: bstr(salt) | bstr(N1) | bstr(N2), each CBOR-encoded (RFC 9203 4.3). */
static size_t put_cbor_bstr(uint8_t *out, const uint8_t *p, size_t len)
{
  size_t n = stw_cbor_put_head(STW_CBOR_BSTR, len, out);
  if (len > 0)
    memcpy(out + n, p, len);
  return n + len;
}

static bool token_dead(const stw_thing_t *t, const osc_slot_t *slot, int64_t now)
{
  return stw_pep_is_revoked(&t->pep, slot->tok.cti, slot->tok.cti_len) ||
         !stw__pep_token_live(&t->pep, &slot->tok, now);
}

/* ---- observers ------------------------------------------------------------------- */

static void observer_drop(osc_observer_t *o)
{
  if (o->used && o->session != NULL)
    coap_session_release(o->session);
  memset(o, 0, sizeof(*o));
}

static void observers_drop_slot(stw_thing_t *t, size_t slot)
{
  for (size_t i = 0; i < STW_THING_OSCORE_OBSERVERS; i++)
    if (t->observers[i].used && t->observers[i].slot == slot)
      observer_drop(&t->observers[i]);
}

static osc_observer_t *observer_find(stw_thing_t *t, const coap_session_t *session, const uint8_t *token,
                                     size_t token_len)
{
  for (size_t i = 0; i < STW_THING_OSCORE_OBSERVERS; i++) {
    osc_observer_t *o = &t->observers[i];
    if (o->used && o->session == session && o->token_len == token_len &&
        (token_len == 0 || memcmp(o->token, token, token_len) == 0))
      return o;
  }
  return NULL;
}

/* ---- contexts and their saved state (B.1.1) ----------------------------------------- */

static bool persistent(const stw_thing_t *t)
{
  return t->dev->dir[0] != '\0';
}

static stw_status_t state_path(const stw_thing_t *t, const osc_slot_t *slot, char *path, size_t cap)
{
  char name[32];
  snprintf(name, sizeof(name), STATE_NAME, (size_t)(slot - t->osc));
  return stw_path_join(path, cap, t->dev->dir, name);
}

/* {1: token, 2: N1, 3: N2, 4: ID1, 5: ID2, 6: next SSN}, 0600, atomically:
 * what it takes to derive the context again, and the bound below which
 * its Sender Sequence Numbers may have been used. */
static stw_status_t state_save(osc_slot_t *slot, uint64_t next_ssn)
{
  stw_thing_t *t = slot->thing;
  char path[1200];
  stw_status_t st = state_path(t, slot, path, sizeof(path));
  if (st != STW_OK)
    return st;
  uint8_t buf[STW_OSC_STATE_MAX];
  size_t n = stw_cbor_put_head(STW_CBOR_MAP, 6, buf);
  n += stw_cbor_put_head(STW_CBOR_UINT, STATE_TOKEN, buf + n);
  n += put_cbor_bstr(buf + n, slot->token, slot->token_len);
  n += stw_cbor_put_head(STW_CBOR_UINT, STATE_N1, buf + n);
  n += put_cbor_bstr(buf + n, slot->n1, slot->n1_len);
  n += stw_cbor_put_head(STW_CBOR_UINT, STATE_N2, buf + n);
  n += put_cbor_bstr(buf + n, slot->n2, sizeof(slot->n2));
  n += stw_cbor_put_head(STW_CBOR_UINT, STATE_ID1, buf + n);
  n += put_cbor_bstr(buf + n, slot->id1, slot->id1_len);
  n += stw_cbor_put_head(STW_CBOR_UINT, STATE_ID2, buf + n);
  n += put_cbor_bstr(buf + n, slot->ctx.recipient_id, slot->ctx.recipient_id_len);
  n += stw_cbor_put_head(STW_CBOR_UINT, STATE_NEXT_SSN, buf + n);
  n += stw_cbor_put_head(STW_CBOR_UINT, next_ssn, buf + n);
  return stw_file_write_atomic(path, buf, n, 0600);
}

static stw_status_t persist_ssn(void *arg, uint64_t next_allowed_ssn)
{
  return state_save(arg, next_allowed_ssn);
}

stw_status_t stw__osc_state_parse(const uint8_t *buf, size_t len, stw__osc_state_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_cbor_reader_t r;
  size_t pairs = 0;
  unsigned seen = 0;
  if (buf == NULL || len == 0 || len > STW_OSC_STATE_MAX)
    goto fail;
  stw_cbor_reader_init(&r, buf, len);
  if (stw_cbor_read_map(&r, &pairs) != STW_OK || pairs > 8)
    goto fail;
  for (size_t i = 0; i < pairs; i++) {
    uint64_t key = 0;
    if (stw_cbor_read_uint(&r, &key) != STW_OK)
      goto fail;
    if (key < STATE_TOKEN || key > STATE_NEXT_SSN) {
      if (stw_cbor_skip(&r) != STW_OK)
        goto fail;
      continue;
    }
    if (seen & (1u << key))
      goto fail;  /* twice: which one would count? */
    seen |= 1u << key;
    if (key == STATE_NEXT_SSN) {
      if (stw_cbor_read_uint(&r, &out->next_ssn) != STW_OK)
        goto fail;
      continue;
    }
    const uint8_t **v[] = { &out->token, &out->n1, &out->n2, &out->id1, &out->id2 };
    size_t *vl[] = { &out->token_len, &out->n1_len, &out->n2_len, &out->id1_len, &out->id2_len };
    if (stw_cbor_read_bstr(&r, v[key - 1], vl[key - 1]) != STW_OK)
      goto fail;
  }
  if (seen != 0x7eu || stw_cbor_expect_end(&r) != STW_OK || out->token_len == 0 ||
      out->token_len > STW_PEP_TOKEN_MAX || out->n1_len == 0 || out->n1_len > THING_OSC_NONCE_MAX ||
      out->n2_len != THING_OSC_NONCE_LEN || out->id1_len > STW_OSCORE_ID_MAX || out->id2_len > STW_OSCORE_ID_MAX ||
      out->next_ssn > STW_OSCORE_SSN_MAX + 1)
    goto fail;
  return STW_OK;
fail:
  memset(out, 0, sizeof(*out));
  return STW_ERR_MALFORMED;
}

/* The PEP's checks of a token and, parsed in the same pass, its claims:
 * a context needs the cnf OSCORE material (osc). */
static stw_status_t check_osc_token(stw_thing_t *t, const uint8_t *token, size_t len, int64_t now,
                                    stw_pep_token_t *tok, stw_cwt_t *claims)
{
  stw_status_t st = stw__pep_check_token_claims(&t->pep, token, len, now, tok, claims);
  if (st == STW_OK && claims->cnf_kind != STW_CWT_CNF_OSC)
    st = STW_ERR_UNAUTHENTICATED;
  return st;
}

/* Derive slot's context from its token's material, its nonces and IDs
 * (RFC 9203 4.3), and save it when the device has a folder. */
static stw_status_t slot_derive(stw_thing_t *t, osc_slot_t *slot, const stw_cwt_t *claims, const uint8_t *id2,
                                size_t id2_len)
{
  uint8_t ms[64], salt[3 * STW_CBOR_HEAD_MAX + STW_CWT_OSC_SALT_MAX + THING_OSC_NONCE_MAX + THING_OSC_NONCE_LEN];
  size_t ms_len = sizeof(ms);
  stw_status_t st = stw_unseal(t->osc_key, (const uint8_t *)STW_CWT_OSC_SEAL_INFO, sizeof(STW_CWT_OSC_SEAL_INFO) - 1,
                               claims->osc_ms_sealed, claims->osc_ms_sealed_len, ms, &ms_len);
  if (st != STW_OK)
    goto out;
  size_t salt_len = put_cbor_bstr(salt, claims->osc_salt, claims->osc_salt_len);
  salt_len += put_cbor_bstr(salt + salt_len, slot->n1, slot->n1_len);
  salt_len += put_cbor_bstr(salt + salt_len, slot->n2, sizeof(slot->n2));
  stw_oscore_params_t params = {
    .master_secret = ms, .master_secret_len = ms_len, .master_salt = salt, .master_salt_len = salt_len,
    .sender_id = slot->id1, .sender_id_len = slot->id1_len, .recipient_id = id2, .recipient_id_len = id2_len,
    .has_id_context = claims->osc_has_context_id, .id_context = claims->osc_context_id,
    .id_context_len = claims->osc_context_id_len,
  };
  if ((st = stw_oscore_ctx_derive(&slot->ctx, &params)) != STW_OK)
    goto out;
  slot->thing = t;
  if (persistent(t))
    st = stw_oscore_ctx_set_persistence(&slot->ctx, SSN_STEP, persist_ssn, slot);
out:
  stw_wipe(ms, sizeof(ms));
  stw_wipe(salt, sizeof(salt));
  return st;
}

static void slot_clear(stw_thing_t *t, osc_slot_t *slot)
{
  observers_drop_slot(t, (size_t)(slot - t->osc));
  if (t->osc_upload.active && t->osc_upload.slot == (size_t)(slot - t->osc))
    stw__upload_drop(&t->osc_upload, t->osc_upload_buf, STW_THING_OSCORE_BODY_MAX);
  stw_oscore_ctx_wipe(&slot->ctx);
  stw_wipe(slot, sizeof(*slot));
}

/* A slot for a new context: a free one, else one whose token has expired
 * or was revoked (its saved state is overwritten by the new one's). */
static osc_slot_t *osc_free_slot(stw_thing_t *t, int64_t now)
{
  for (size_t i = 0; i < STW_THING_OSCORE_CONTEXTS; i++)
    if (!t->osc[i].used)
      return &t->osc[i];
  for (size_t i = 0; i < STW_THING_OSCORE_CONTEXTS; i++)
    if (token_dead(t, &t->osc[i], now)) {
      slot_clear(t, &t->osc[i]);
      return &t->osc[i];
    }
  return NULL;
}

static bool recipient_id_taken(const stw_thing_t *t, const uint8_t *id, size_t len)
{
  for (size_t i = 0; i < STW_THING_OSCORE_CONTEXTS; i++) {
    const stw_oscore_ctx_t *c = &t->osc[i].ctx;
    if (t->osc[i].used && c->recipient_id_len == len && (len == 0 || memcmp(c->recipient_id, id, len) == 0))
      return true;
  }
  return false;
}

/* Our Recipient ID, the kid of every request: shortest first (the empty
 * string, then one byte, then two) so that requests carry as few bytes as
 * possible; unique among the live contexts (RFC 9203 4.2 asks no more),
 * and never the client's own (equal IDs would share nonces). */
static void pick_recipient_id(const stw_thing_t *t, const uint8_t *id1, size_t id1_len, uint8_t id2[2],
                              size_t *id2_len)
{
  uint8_t cand[2];
  for (size_t len = 0; len <= 2; len++) {
    uint32_t count = len == 0 ? 1 : 1u << (8 * len);
    for (uint32_t v = 0; v < count; v++) {
      cand[0] = (uint8_t)(len == 2 ? v >> 8 : v);
      cand[1] = (uint8_t)v;
      bool clients_own = len == id1_len && (len == 0 || memcmp(id1, cand, len) == 0);
      if (clients_own || recipient_id_taken(t, cand, len))
        continue;
      memcpy(id2, cand, sizeof(cand));
      *id2_len = len;
      return;
    }
  }
  *id2_len = 2;  /* unreachable: STW_THING_OSCORE_CONTEXTS is far below 65,793 */
}

/* Derive slot i again from its saved state after a restart: the token must
 * still verify (an expired or foreign one is dropped with its file), the
 * Sender Sequence Number goes on past the saved bound, and the replay
 * window is lost until an Echo round (B.1.2). */
static void restore_slot(stw_thing_t *t, osc_slot_t *slot, int64_t now)
{
  char path[1200];
  uint8_t *buf = NULL;
  size_t len = 0;
  if (state_path(t, slot, path, sizeof(path)) != STW_OK)
    return;
  stw_status_t st = stw_file_read(path, STW_OSC_STATE_MAX, &buf, &len);
  if (st == STW_ERR_NOT_FOUND)
    return;
  stw__osc_state_t s;
  stw_cwt_t claims;
  if (st == STW_OK)
    st = stw__osc_state_parse(buf, len, &s);
  if (st == STW_OK)
    st = check_osc_token(t, s.token, s.token_len, now, &slot->tok, &claims);
  if (st == STW_OK && recipient_id_taken(t, s.id2, s.id2_len))
    st = STW_ERR_CONFLICT;
  if (st == STW_OK) {
    memcpy(slot->token, s.token, s.token_len);
    slot->token_len = s.token_len;
    memcpy(slot->n1, s.n1, s.n1_len);
    slot->n1_len = s.n1_len;
    memcpy(slot->n2, s.n2, sizeof(slot->n2));
    if (s.id1_len > 0)
      memcpy(slot->id1, s.id1, s.id1_len);
    slot->id1_len = s.id1_len;
    st = slot_derive(t, slot, &claims, s.id2, s.id2_len);
  }
  if (st == STW_OK)
    st = persistent(t) ? stw_oscore_ctx_resume(&slot->ctx, s.next_ssn) : STW_ERR_STATE;
  if (st == STW_OK) {
    slot->used = true;
  } else {
    slot_clear(t, slot);
    unlink(path);  /* nothing left to restore from it */
  }
  stw_wipe(buf, len);
  free(buf);
}

/* ---- POST /authz-info (RFC 9203 4.1-4.2) ------------------------------------------- */

stw_status_t stw__ace_oscore_post_parse(const uint8_t *buf, size_t len, const uint8_t **token, size_t *token_len,
                                        const uint8_t **n1, size_t *n1_len, const uint8_t **id1, size_t *id1_len)
{
  const uint8_t **value[3] = { token, n1, id1 };
  size_t *value_len[3] = { token_len, n1_len, id1_len };
  bool seen[3] = { false, false, false };
  for (int i = 0; i < 3; i++)
    *value[i] = NULL, *value_len[i] = 0;
  stw_cbor_reader_t r;
  size_t pairs = 0;
  if (buf == NULL || len == 0 || len > STW_ACE_OSCORE_POST_MAX)
    goto fail;
  stw_cbor_reader_init(&r, buf, len);
  if (stw_cbor_read_map(&r, &pairs) != STW_OK || pairs > 8)
    goto fail;
  for (size_t i = 0; i < pairs; i++) {
    uint64_t key = 0;
    if (stw_cbor_read_uint(&r, &key) != STW_OK)
      goto fail;
    int which = key == ACE_ACCESS_TOKEN ? 0 : key == ACE_NONCE1 ? 1 : key == ACE_CLIENT_RECIPIENTID ? 2 : -1;
    if (which < 0) {
      if (stw_cbor_skip(&r) != STW_OK)
        goto fail;
      continue;
    }
    if (seen[which] || stw_cbor_read_bstr(&r, value[which], value_len[which]) != STW_OK)
      goto fail;  /* twice: which one would count? */
    seen[which] = true;
  }
  if (!seen[0] || !seen[1] || !seen[2] || *token_len == 0 || *n1_len == 0 || *n1_len > THING_OSC_NONCE_MAX ||
      *id1_len > STW_OSCORE_ID_MAX || stw_cbor_expect_end(&r) != STW_OK)
    goto fail;
  if (*id1 == NULL)
    *id1 = buf;  /* an empty ID1: a valid pointer all the same */
  return STW_OK;
fail:
  for (int i = 0; i < 3; i++)
    *value[i] = NULL, *value_len[i] = 0;
  return STW_ERR_MALFORMED;
}

static void handle_osc_authz_info(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                                  const coap_string_t *query, coap_pdu_t *response)
{
  (void)resource;
  (void)query;
  stw_thing_t *t = stw__thing_of(session);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *body = NULL;
  if (!coap_get_data_large(request, &len, &body, &offset, &total) || len == 0 || len != total) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(400), "invalid_request");
    return;
  }
  const uint8_t *token = NULL, *n1 = NULL, *id1 = NULL;
  size_t token_len = 0, n1_len = 0, id1_len = 0;
  if (stw__ace_oscore_post_parse(body, len, &token, &token_len, &n1, &n1_len, &id1, &id1_len) != STW_OK) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(400),
                            "invalid_request: access_token, nonce1, ace_client_recipientid");
    return;
  }
  int64_t now = stw_now();
  stw_pep_token_t tok;
  stw_cwt_t claims;
  stw_status_t st = check_osc_token(t, token, token_len, now, &tok, &claims);
  if (st != STW_OK) {
    char diag[96];
    snprintf(diag, sizeof(diag), "invalid token: %s", stw_status_str(st));
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(401), diag);
    return;
  }
  osc_slot_t *slot = osc_free_slot(t, now);
  if (slot == NULL) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(503), "too many OSCORE clients");
    return;
  }
  uint8_t id2[2];
  size_t id2_len = 0;
  pick_recipient_id(t, id1, id1_len, id2, &id2_len);
  if (stw_random(slot->n2, sizeof(slot->n2)) != STW_OK) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(500), "no randomness");
    return;
  }
  memcpy(slot->token, token, token_len);
  slot->token_len = token_len;
  memcpy(slot->n1, n1, n1_len);
  slot->n1_len = n1_len;
  if (id1_len > 0)
    memcpy(slot->id1, id1, id1_len);
  slot->id1_len = id1_len;
  st = slot_derive(t, slot, &claims, id2, id2_len);
  if (st != STW_OK) {
    bool sealed = st == STW_ERR_BAD_SIGNATURE || st == STW_ERR_MALFORMED || st == STW_ERR_CRYPTO;
    slot_clear(t, slot);
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(sealed ? 401 : 400),
                            sealed ? "invalid token: the secret is not sealed to this device"
                                   : "invalid_request: cannot derive a context");
    return;
  }
  /* Saved before the client hears of it: a context the client may use is
   * one a restart brings back (no number used yet, so the bound is 0). */
  if (persistent(t) && state_save(slot, 0) != STW_OK) {
    slot_clear(t, slot);
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(500), "cannot save the context");
    return;
  }
  slot->tok = tok;
  slot->used = true;
  uint8_t answer[64];
  size_t a = stw_cbor_put_head(STW_CBOR_MAP, 2, answer);
  a += stw_cbor_put_head(STW_CBOR_UINT, ACE_NONCE2, answer + a);
  a += put_cbor_bstr(answer + a, slot->n2, sizeof(slot->n2));
  a += stw_cbor_put_head(STW_CBOR_UINT, ACE_SERVER_RECIPIENTID, answer + a);
  a += put_cbor_bstr(answer + a, id2, id2_len);
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(201));
  uint8_t cf[4];
  coap_add_option(response, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cf, sizeof(cf), CF_ACE_CBOR), cf);
  coap_add_data(response, a, answer);
}

/* ---- OSCORE requests ------------------------------------------------------------- */

static unsigned method_of_code(uint8_t code)
{
  return code >= 1 && code <= 7 ? 1u << (code - 1) : 0;  /* GET 0.01 .. iPATCH 0.07 in AIF bit order */
}

/* What the inner request asks beyond its code and payload. */
typedef struct {
  char path[STW_AIF_PATH_MAX + 2];
  size_t path_len;
  bool has_observe;
  uint32_t observe;
  bool has_block2;
  uint32_t block_num;
  unsigned block_szx;
  bool has_block1;          /* a body in blocks (RFC 7959 2.5) */
  uint32_t block1_num;
  bool block1_more;
  unsigned block1_szx;
  bool has_size1;
  uint32_t size1;
  bool has_tag;             /* Request-Tag (RFC 9175 3.2): which body a block belongs to */
  const uint8_t *tag;
  size_t tag_len;
  bool has_echo;
  const uint8_t *echo;
  size_t echo_len;
} inner_request_t;

/* Uri-Path ("/a/b"), Observe, Block2, Block1, Size1, Echo and Request-Tag
 * of the inner request.
 * @retval STW_ERR_TOO_LARGE  a path over STW_AIF_PATH_MAX
 * @retval STW_ERR_MALFORMED  a bad option */
static stw_status_t inner_request_parse(const stw_oscore_msg_t *msg, inner_request_t *r)
{
  memset(r, 0, sizeof(*r));
  stw_oscore_opt_iter_t it;
  stw_oscore_opt_iter_init(&it, msg->options, msg->options_len);
  size_t n = 0;
  for (;;) {
    uint16_t number;
    const uint8_t *v;
    size_t len;
    uint32_t u = 0;
    stw_status_t st = stw_oscore_opt_next(&it, &number, &v, &len);
    if (st == STW_ERR_NOT_FOUND)
      break;
    if (st != STW_OK)
      return st;
    if (number == OPT_URI_PATH) {
      if (n + 1 + len >= sizeof(r->path) || memchr(v, '\0', len) != NULL)
        return STW_ERR_TOO_LARGE;
      r->path[n++] = '/';
      memcpy(r->path + n, v, len);
      n += len;
    } else if (number == OPT_OBSERVE) {
      if (r->has_observe || stw__coap_uint_decode(v, len, 3, &u) != STW_OK)
        return STW_ERR_MALFORMED;
      r->has_observe = true;
      r->observe = u;
    } else if (number == OPT_BLOCK2) {
      if (r->has_block2 || stw__coap_uint_decode(v, len, 3, &u) != STW_OK || (u & 7) == 7)
        return STW_ERR_MALFORMED;  /* SZX 7 is BERT, for reliable transports only */
      r->has_block2 = true;
      r->block_num = u >> 4;
      r->block_szx = u & 7;
    } else if (number == OPT_BLOCK1) {
      if (r->has_block1 || stw__coap_uint_decode(v, len, 3, &u) != STW_OK || (u & 7) == 7)
        return STW_ERR_MALFORMED;
      r->has_block1 = true;
      r->block1_num = u >> 4;
      r->block1_more = (u & 8) != 0;
      r->block1_szx = u & 7;
    } else if (number == OPT_SIZE1) {
      if (r->has_size1 || stw__coap_uint_decode(v, len, 4, &u) != STW_OK)
        return STW_ERR_MALFORMED;
      r->has_size1 = true;
      r->size1 = u;
    } else if (number == OPT_REQUEST_TAG) {
      /* Repeatable in RFC 9175; one is all a client needs, and one is what
       * the upload compares, so a second is refused rather than ignored. */
      if (r->has_tag || len > THING_REQUEST_TAG_MAX)
        return STW_ERR_MALFORMED;
      r->has_tag = true;
      r->tag = v;
      r->tag_len = len;
    } else if (number == STW_COAP_OPTION_ECHO) {
      if (r->has_echo)
        return STW_ERR_MALFORMED;
      r->has_echo = true;
      r->echo = v;
      r->echo_len = len;
    }
  }
  if (n == 0)
    r->path[n++] = '/';
  r->path[n] = '\0';
  r->path_len = n;
  return STW_OK;
}

/* A protected answer before sealing: code, payload and the inner options. */
typedef struct {
  uint8_t code;
  const uint8_t *payload;
  size_t payload_len;
  bool observe;             /* a notification: inner Observe, empty (4.1.3.5.2) */
  bool block;
  uint32_t block_num;
  bool more;
  unsigned szx;
  size_t size2;             /* 0: none */
  bool block1;              /* Block1 of the request's block, acknowledged */
  uint32_t block1_num;
  bool block1_more;
  unsigned block1_szx;
  uint32_t size1;           /* 0: none; with 4.13, the most we take */
  uint32_t max_age;         /* 0: none; with 5.03, when to try again */
  bool has_etag;
  uint8_t etag[ETAG_LEN];
  const uint8_t *echo;
  size_t echo_len;
} osc_answer_t;

static void answer_text(osc_answer_t *a, unsigned code, const char *text)
{
  a->code = (uint8_t)code;
  a->payload = (const uint8_t *)text;
  a->payload_len = strlen(text);
}

/* The inner options (ascending numbers) and the protection (8.3). */
static stw_status_t answer_seal(stw_thing_t *t, osc_slot_t *slot, const stw_oscore_request_t *binding,
                                const osc_answer_t *a, bool with_piv, uint8_t option[STW_OSCORE_OPTION_MAX],
                                size_t *option_len, size_t *ct_len)
{
  uint8_t opts[96], u[4];
  size_t n = 0, ul;
  uint16_t last = 0;
  stw_status_t st = STW_OK;
  if (a->has_etag)
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, OPT_ETAG, a->etag, sizeof(a->etag));
  if (st == STW_OK && a->observe)
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, OPT_OBSERVE, NULL, 0);
  if (st == STW_OK && a->max_age > 0) {
    ul = stw__coap_uint_encode(a->max_age, u);
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, OPT_MAX_AGE, u, ul);
  }
  if (st == STW_OK && a->block) {
    ul = stw__coap_uint_encode(a->block_num << 4 | (a->more ? 8u : 0u) | a->szx, u);
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, OPT_BLOCK2, u, ul);
  }
  if (st == STW_OK && a->block1) {
    ul = stw__coap_uint_encode(a->block1_num << 4 | (a->block1_more ? 8u : 0u) | a->block1_szx, u);
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, OPT_BLOCK1, u, ul);
  }
  if (st == STW_OK && a->size2 > 0) {
    ul = stw__coap_uint_encode((uint32_t)a->size2, u);
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, OPT_SIZE2, u, ul);
  }
  if (st == STW_OK && a->size1 > 0) {
    ul = stw__coap_uint_encode(a->size1, u);
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, OPT_SIZE1, u, ul);
  }
  if (st == STW_OK && a->echo_len > 0)
    st = stw_oscore_opt_put(opts, sizeof(opts), &n, &last, STW_COAP_OPTION_ECHO, a->echo, a->echo_len);
  if (st != STW_OK)
    return st;
  stw_oscore_msg_t msg = { .code = a->code, .options = opts, .options_len = n,
                           .payload = a->payload_len > 0 ? a->payload : NULL, .payload_len = a->payload_len };
  return stw_oscore_protect_response(&slot->ctx, binding, &msg, with_piv, option, STW_OSCORE_OPTION_MAX, option_len,
                                     t->osc_sealed, sizeof(t->osc_sealed), ct_len);
}

/* Run the handler of path for GET (or the request's method) into osc_body
 * and cut the block asked for (RFC 7959 2.4): an answer over one block
 * goes in blocks of at most 1024 bytes with Block2, Size2 (first block)
 * and an ETag, so the client can tell a representation that changed
 * between two blocks. */
static void run_handler(stw_thing_t *t, const thing_resource_t *res, unsigned method, const uint8_t *body,
                        size_t len, const inner_request_t *r, osc_answer_t *a)
{
  size_t out_len = 0;
  unsigned code = res->handler(res->arg, method, res->path, body, len, t->osc_body, STW_THING_OSCORE_BODY_MAX,
                               &out_len);
  if (out_len > STW_THING_OSCORE_BODY_MAX) {
    answer_text(a, COAP_RESPONSE_CODE(500), "answer over the size limit");
    return;
  }
  a->code = (uint8_t)code;
  a->payload = t->osc_body;
  a->payload_len = out_len;
  unsigned szx = r != NULL && r->has_block2 && r->block_szx < BLOCK_SZX_MAX ? r->block_szx : BLOCK_SZX_MAX;
  size_t size = (size_t)16 << szx;
  uint32_t num = r != NULL && r->has_block2 ? r->block_num : 0;
  if (out_len <= size && num == 0)
    return;  /* one block: sent whole */
  size_t offset = (size_t)num * size;
  if (offset >= out_len) {
    answer_text(a, COAP_RESPONSE_CODE(402), "no such block");
    return;
  }
  uint8_t digest[32];
  if (stw_sha256(t->osc_body, out_len, digest) != STW_OK) {
    answer_text(a, COAP_RESPONSE_CODE(500), "no digest");
    return;
  }
  memcpy(a->etag, digest, ETAG_LEN);
  a->has_etag = true;
  a->block = true;
  a->block_num = num;
  a->szx = szx;
  a->more = offset + size < out_len;
  a->size2 = num == 0 ? out_len : 0;
  a->payload = t->osc_body + offset;
  a->payload_len = a->more ? size : out_len - offset;
}

/* One block of a request body (Inner Block1, RFC 7959 2.5): kept, and
 * answered 2.31 Continue with its Block1; the last one runs the handler
 * once with the whole body. The block verified and passed the token's
 * scope before it came here. */
static void receive_block(stw_thing_t *t, size_t slot, const thing_resource_t *res, unsigned method,
                          const inner_request_t *r, const stw_oscore_msg_t *msg, osc_answer_t *a)
{
  osc_block1_t b = { .slot = slot, .method = method, .path = r->path, .has_tag = r->has_tag, .tag = r->tag,
                     .tag_len = r->tag_len, .num = r->block1_num, .more = r->block1_more, .szx = r->block1_szx,
                     .has_size1 = r->has_size1, .size1 = r->size1, .payload = msg->payload,
                     .len = msg->payload_len };
  osc_upload_t *u = &t->osc_upload;
  uint64_t now_us = stw_monotonic_us();
  switch (stw__upload_block(u, t->osc_upload_buf, STW_THING_OSCORE_BODY_MAX, &b, now_us)) {
  case UPLOAD_CONTINUE:
    a->code = CODE_CONTINUE;
    break;
  case UPLOAD_COMPLETE:
    run_handler(t, res, method, t->osc_upload_buf, u->len, NULL, a);
    stw__upload_drop(u, t->osc_upload_buf, STW_THING_OSCORE_BODY_MAX);
    if (a->block) {
      /* Its next blocks would each run the method again: an answer to a
       * body in blocks goes in one block. */
      memset(a, 0, sizeof(*a));
      answer_text(a, COAP_RESPONSE_CODE(500), "answer to a body in blocks over one block");
    }
    break;
  case UPLOAD_INCOMPLETE:
    answer_text(a, CODE_INCOMPLETE, "Request Entity Incomplete: not the next block of this body");
    return;
  case UPLOAD_TOO_LARGE:
    answer_text(a, COAP_RESPONSE_CODE(413), "request body over the limit");
    a->size1 = STW_THING_OSCORE_BODY_MAX;  /* RFC 7959 4: the most we take */
    return;
  case UPLOAD_BUSY:
    answer_text(a, COAP_RESPONSE_CODE(503), "busy with another client's body");
    a->max_age = (uint32_t)((THING_UPLOAD_IDLE_US - (now_us - u->touched_us) + 999999u) / 1000000u);
    return;
  }
  a->block1 = true;
  a->block1_num = r->block1_num;
  a->block1_more = r->block1_more;
  a->block1_szx = r->block1_szx;
}

static const thing_resource_t *resource_at(const stw_thing_t *t, const char *path)
{
  for (size_t i = 0; i < t->n_res; i++)
    if (strcmp(t->res[i].path, path) == 0)
      return &t->res[i];
  return NULL;
}

/* A new observer for this registration, or the old one of the same token
 * renewed (RFC 7641 4.1); NULL when the table is full (then the answer is
 * an ordinary one: the client sees no Observe and knows). */
static osc_observer_t *observer_add(stw_thing_t *t, size_t slot, coap_session_t *session, const coap_pdu_t *request,
                                    const stw_oscore_request_t *binding, const char *path)
{
  coap_bin_const_t tok = coap_pdu_get_token(request);
  if (tok.length > sizeof(((osc_observer_t *)0)->token))
    return NULL;
  osc_observer_t *o = observer_find(t, session, tok.s, tok.length);
  for (size_t i = 0; i < STW_THING_OSCORE_OBSERVERS && o == NULL; i++)
    if (!t->observers[i].used)
      o = &t->observers[i];
  if (o == NULL)
    return NULL;
  if (!o->used)
    o->session = coap_session_reference(session);
  o->used = true;
  o->slot = slot;
  if (tok.length > 0)
    memcpy(o->token, tok.s, tok.length);
  o->token_len = tok.length;
  o->binding = *binding;
  snprintf(o->path, sizeof(o->path), "%s", path);
  return o;
}

/* Outer parts of a protected answer: 2.05 with the Outer Observe for a
 * notification, else 2.04 (RFC 8613 4.2); the OSCORE option; the ciphertext. */
static void answer_outer(stw_thing_t *t, coap_pdu_t *pdu, const osc_observer_t *obs, const uint8_t *option,
                         size_t option_len, size_t ct_len)
{
  coap_pdu_set_code(pdu, obs != NULL ? COAP_RESPONSE_CODE(205) : COAP_RESPONSE_CODE(204));
  if (obs != NULL) {
    uint8_t v[4];
    coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(v, sizeof(v), obs->seq & 0xffffffu), v);
  }
  coap_add_option(pdu, COAP_OPTION_OSCORE, option_len, option);
  coap_add_data(pdu, ct_len, t->osc_sealed);
}

/* Every OSCORE request: unprotect, the Echo round after a restart, the
 * token's scope, the handler, Observe and Block2, protect. */
static void handle_oscore(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                          const coap_string_t *query, coap_pdu_t *response)
{
  (void)resource;
  (void)query;
  stw_thing_t *t = stw__thing_of(session);
  coap_opt_iterator_t oi;
  coap_opt_t *o = coap_check_option(request, COAP_OPTION_OSCORE, &oi);
  if (o == NULL) {
    stw__thing_answer_error(response, COAP_RESPONSE_CODE(401), "unauthorized_client: OSCORE only");
    return;
  }
  stw_oscore_option_t opt;
  uint8_t code = 0;
  const char *diag = NULL;
  stw_status_t st = stw_oscore_option_parse(coap_opt_value(o), coap_opt_length(o), &opt);
  osc_slot_t *slot = NULL;
  if (st == STW_OK) {
    st = STW_ERR_NOT_FOUND;
    for (size_t i = 0; i < STW_THING_OSCORE_CONTEXTS && slot == NULL; i++)
      if (t->osc[i].used && opt.has_kid && stw_oscore_ctx_matches(&t->osc[i].ctx, &opt))
        slot = &t->osc[i];
  }
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *ct = NULL;
  if (!coap_get_data_large(request, &len, &ct, &offset, &total))
    ct = NULL, len = 0;
  stw_oscore_msg_t msg;
  stw_oscore_request_t binding;
  if (slot != NULL)
    st = len == total && len > 0
             ? stw_oscore_unprotect_request(&slot->ctx, &opt, ct, len, t->osc_pt, sizeof(t->osc_pt), &msg, &binding)
             : STW_ERR_MALFORMED;
  if (st != STW_OK && st != STW_ERR_STATE) {
    if (!stw_oscore_error_reply(st, &code, &diag))
      code = COAP_RESPONSE_CODE(401), diag = "Security context not found";
    stw__thing_answer_error(response, code, diag);
    return;
  }
  /* The request verified: everything from here is answered protected. */
  inner_request_t r;
  stw_status_t parsed = inner_request_parse(&msg, &r);
  osc_answer_t a;
  memset(&a, 0, sizeof(a));
  osc_observer_t *obs = NULL;
  bool with_piv = false;
  uint8_t echo[STW_OSCORE_ECHO_LEN];
  size_t slot_index = (size_t)(slot - t->osc);
  if (st == STW_ERR_STATE &&
      !(parsed == STW_OK && r.has_echo && stw_oscore_echo_accept(&slot->ctx, r.echo, r.echo_len, &binding) == STW_OK)) {
    /* B.1.2: the replay window went with the restart, so this request may
     * be an old one replayed. Not acted on: a 4.01 with a fresh Echo that
     * the client repeats the request with (the answer uses our own
     * Partial IV, never the request's nonce once more). */
    if (stw_oscore_echo_issue(&slot->ctx, echo) == STW_OK) {
      answer_text(&a, COAP_RESPONSE_CODE(401), "repeat with Echo");
      a.echo = echo;
      a.echo_len = sizeof(echo);
    } else {
      answer_text(&a, COAP_RESPONSE_CODE(503), "no randomness");
    }
    goto seal;
  }
  int64_t now = stw_now();
  unsigned method = method_of_code(msg.code);
  const thing_resource_t *res = NULL;
  if (parsed != STW_OK || method == 0) {
    answer_text(&a, COAP_RESPONSE_CODE(parsed == STW_ERR_MALFORMED ? 402 : 400), "bad request");
  } else if (token_dead(t, slot, now)) {
    answer_text(&a, COAP_RESPONSE_CODE(401), "unauthorized_client: token expired or revoked");
  } else if (!stw_aif_scope_allows(&slot->tok.scope, r.path, r.path_len, method)) {
    answer_text(&a, COAP_RESPONSE_CODE(403), "insufficient_scope");
  } else if ((res = resource_at(t, r.path)) == NULL) {
    answer_text(&a, COAP_RESPONSE_CODE(404), "not found");
  } else if (r.has_block1) {
    receive_block(t, slot_index, res, method, &r, &msg, &a);
  } else {
    coap_bin_const_t tok = coap_pdu_get_token(request);
    osc_observer_t *old = observer_find(t, session, tok.s, tok.length);
    if (r.has_observe && r.observe == COAP_OBSERVE_CANCEL && old != NULL)
      observer_drop(old);  /* RFC 7641 3.6: deregistration, then an ordinary answer */
    run_handler(t, res, method, msg.payload, msg.payload_len, &r, &a);
    if (r.has_observe && r.observe == COAP_OBSERVE_ESTABLISH && method == STW_AIF_GET && (a.code >> 5) == 2 &&
        (obs = observer_add(t, slot_index, session, request, &binding, r.path)) != NULL) {
      /* 4.1.3.5.2: every notification, the first one too, carries our own
       * Partial IV, which the client orders them by. */
      obs->seq++;
      a.observe = true;
      with_piv = true;
    }
  }
seal:;
  uint8_t option[STW_OSCORE_OPTION_MAX];
  size_t option_len = 0, ct_len = 0;
  st = answer_seal(t, slot, &binding, &a, with_piv, option, &option_len, &ct_len);
  stw_wipe(t->osc_pt, sizeof(t->osc_pt));  /* the request's plaintext */
  if (st != STW_OK) {
    if (obs != NULL)
      observer_drop(obs);
    /* The saved bound could not move (a full disk?): no number is used unsaved. */
    coap_pdu_set_code(response, COAP_RESPONSE_CODE(500));
    return;
  }
  answer_outer(t, response, obs, option, option_len, ct_len);
}

/* ---- notifications ----------------------------------------------------------------- */

/* One notification to o: the handler's answer to GET, protected with our
 * own Partial IV and bound to the registration (8.3, 4.1.3.5.2). An error,
 * or a token that died, is the last one (RFC 7641 4.2). */
static void notify(stw_thing_t *t, osc_observer_t *o, int64_t now)
{
  osc_slot_t *slot = &t->osc[o->slot];
  osc_answer_t a;
  memset(&a, 0, sizeof(a));
  const thing_resource_t *res = resource_at(t, o->path);
  if (token_dead(t, slot, now))
    answer_text(&a, COAP_RESPONSE_CODE(401), "unauthorized_client: token expired or revoked");
  else if (!stw_aif_scope_allows(&slot->tok.scope, o->path, strlen(o->path), STW_AIF_GET) || res == NULL)
    answer_text(&a, COAP_RESPONSE_CODE(403), "insufficient_scope");
  else
    run_handler(t, res, STW_AIF_GET, NULL, 0, NULL, &a);
  bool last = (a.code >> 5) != 2;
  a.observe = !last;
  uint8_t option[STW_OSCORE_OPTION_MAX];
  size_t option_len = 0, ct_len = 0;
  coap_pdu_t *pdu = NULL;
  if (answer_seal(t, slot, &o->binding, &a, true, option, &option_len, &ct_len) == STW_OK)
    pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_RESPONSE_CODE(205), coap_new_message_id(o->session),
                        coap_session_max_pdu_size(o->session));
  if (pdu == NULL) {
    observer_drop(o);
    return;
  }
  coap_add_token(pdu, o->token_len, o->token);
  o->seq++;
  answer_outer(t, pdu, last ? NULL : o, option, option_len, ct_len);
  /* Confirmable: a client that has gone answers with a reset or not at
   * all, and on_nack ends the observation. */
  if (coap_send(o->session, pdu) == COAP_INVALID_MID || last)
    observer_drop(o);
}

stw_status_t stw_thing_changed(stw_thing_t *t, const char *path)
{
  if (t == NULL || path == NULL || path[0] == '\0' || strlen(path) >= STW_AIF_PATH_MAX)
    return STW_ERR_INVALID;
  char full[STW_AIF_PATH_MAX + 2];
  snprintf(full, sizeof(full), "%s%s", path[0] == '/' ? "" : "/", path);
  int64_t now = stw_now();
  for (size_t i = 0; i < STW_THING_OSCORE_OBSERVERS; i++)
    if (t->observers[i].used && strcmp(t->observers[i].path, full) == 0)
      notify(t, &t->observers[i], now);
  return STW_OK;
}

size_t stw_thing_oscore_observers(const stw_thing_t *t)
{
  size_t n = 0;
  for (size_t i = 0; i < STW_THING_OSCORE_OBSERVERS; i++)
    n += t->observers[i].used ? 1 : 0;
  return n;
}

/* A notification reset or never acknowledged: the observer is gone. */
static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
  (void)mid;
  if (sent == NULL || (reason != COAP_NACK_RST && reason != COAP_NACK_TOO_MANY_RETRIES))
    return;
  stw_thing_t *t = stw__thing_of(session);
  coap_bin_const_t tok = coap_pdu_get_token(sent);
  osc_observer_t *o = observer_find(t, session, tok.s, tok.length);
  if (o != NULL)
    observer_drop(o);
}

/* ---- the endpoint ------------------------------------------------------------------ */

stw_status_t stw_thing_enable_oscore(stw_thing_t *t, const char *listen)
{
  if (t->osc_ctx != NULL)
    return STW_ERR_STATE;
  coap_address_t addr;
  coap_address_init(&addr);
  stw_status_t st = stw_listen_parse(listen, &addr.addr.sa, &addr.size);
  if (st != STW_OK)
    return st;
  /* Parsed here rather than per token post: a private-key import is the
   * costliest step of /authz-info after the signature check. */
  if (t->osc_key == NULL &&
      (st = stw_key_import_pem(t->dev->op_key_pem.data, t->dev->op_key_pem.len, &t->osc_key)) != STW_OK)
    return st;
  if (t->osc_body == NULL && (t->osc_body = malloc(STW_THING_OSCORE_BODY_MAX)) == NULL)
    return STW_ERR_NOMEM;
  if (t->osc_upload_buf == NULL && (t->osc_upload_buf = malloc(STW_THING_OSCORE_BODY_MAX)) == NULL)
    return STW_ERR_NOMEM;
  if ((t->osc_ctx = coap_new_context(NULL)) == NULL)
    return STW_ERR_NETWORK;
  coap_set_app_data(t->osc_ctx, t);
  coap_register_option(t->osc_ctx, COAP_OPTION_OSCORE);  /* critical: else libcoap answers 4.02 */
  coap_register_nack_handler(t->osc_ctx, on_nack);
  coap_endpoint_t *ep = coap_new_endpoint(t->osc_ctx, &addr, COAP_PROTO_UDP);
  if (ep == NULL)
    return STW_ERR_NETWORK;
  t->osc_port = stw_addr_text_port(coap_endpoint_str(ep));
  coap_resource_t *authz = coap_resource_init(coap_make_str_const("authz-info"), 0);
  coap_resource_t *any = coap_resource_unknown_init2(handle_oscore, 0);
  if (authz == NULL || any == NULL)
    return STW_ERR_NOMEM;
  coap_register_request_handler(authz, COAP_REQUEST_POST, handle_osc_authz_info);
  coap_add_resource(t->osc_ctx, authz);
  coap_register_request_handler(any, COAP_REQUEST_POST, handle_oscore);
  coap_register_request_handler(any, COAP_REQUEST_FETCH, handle_oscore);
  coap_add_resource(t->osc_ctx, any);
  /* The contexts saved before a restart (B.1.1). */
  if (persistent(t)) {
    int64_t now = stw_now();
    for (size_t i = 0; i < STW_THING_OSCORE_CONTEXTS; i++)
      restore_slot(t, &t->osc[i], now);
  }
  return STW_OK;
}

uint16_t stw_thing_oscore_port(const stw_thing_t *t)
{
  return t->osc_port;
}

void stw__thing_oscore_free(stw_thing_t *t)
{
  for (size_t i = 0; i < STW_THING_OSCORE_OBSERVERS; i++)
    observer_drop(&t->observers[i]);
  if (t->osc_ctx != NULL)
    coap_free_context(t->osc_ctx);
  t->osc_ctx = NULL;
  stw_key_free(t->osc_key);
  t->osc_key = NULL;
  for (size_t i = 0; i < STW_THING_OSCORE_CONTEXTS; i++)
    stw_oscore_ctx_wipe(&t->osc[i].ctx);
  stw_wipe(t->osc, sizeof(t->osc));
  if (t->osc_body != NULL)
    stw_wipe(t->osc_body, STW_THING_OSCORE_BODY_MAX);
  free(t->osc_body);
  t->osc_body = NULL;
  if (t->osc_upload_buf != NULL)
    stw_wipe(t->osc_upload_buf, STW_THING_OSCORE_BODY_MAX);
  free(t->osc_upload_buf);
  t->osc_upload_buf = NULL;
  memset(&t->osc_upload, 0, sizeof(t->osc_upload));
  stw_wipe(t->osc_pt, sizeof(t->osc_pt));
  stw_wipe(t->osc_sealed, sizeof(t->osc_sealed));
}
