/* The client side of the ACE token endpoint: the request in CBOR, the
 * answer read with the bounded, allocation-free CBOR reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "cwt.h"
#include "net_internal.h"
#include "token_internal.h"
#include "steward/token.h"

#define CF_ACE_CBOR 19
#define ANSWER_MAX 4096
#define REQUEST_MAX 512

/* ACE parameters (RFC 9200 8.10, RFC 9201) */
enum {
  ACE_ACCESS_TOKEN = 1,
  ACE_EXPIRES_IN = 2,
  ACE_AUDIENCE = 5,
  ACE_CNF = 8,
  ACE_SCOPE = 9,
  ACE_ERROR = 30,
  ACE_PROFILE = 38,
  ACE_RS_CNF = 41
};
#define ACE_PROFILE_OSCORE 2
#define CNF_OSC 4

static stw_status_t put(stw_buf_t *b, stw_cbor_type_t major, uint64_t arg)
{
  uint8_t head[STW_CBOR_HEAD_MAX];
  size_t n = stw_cbor_put_head(major, arg, head);
  return n ? stw_buf_append(b, head, n) : STW_ERR_INVALID;
}

static stw_status_t put_string(stw_buf_t *b, stw_cbor_type_t major, const void *p, size_t n)
{
  stw_status_t st = put(b, major, n);
  return st == STW_OK ? stw_buf_append(b, p, n) : st;
}

/* {5: audience, 9: [[path, methods]] (, 38: 2)} */
static stw_status_t encode_request(const char *audience, const char *path, unsigned methods, bool oscore, stw_buf_t *b)
{
  stw_status_t st = put(b, STW_CBOR_MAP, oscore ? 3 : 2);
  if (st == STW_OK)
    st = put(b, STW_CBOR_UINT, ACE_AUDIENCE);
  if (st == STW_OK)
    st = put_string(b, STW_CBOR_TSTR, audience, strlen(audience));
  if (st == STW_OK)
    st = put(b, STW_CBOR_UINT, ACE_SCOPE);
  if (st == STW_OK)
    st = put(b, STW_CBOR_ARRAY, 1);
  if (st == STW_OK)
    st = put(b, STW_CBOR_ARRAY, 2);
  if (st == STW_OK)
    st = put_string(b, STW_CBOR_TSTR, path, strlen(path));
  if (st == STW_OK)
    st = put(b, STW_CBOR_UINT, methods);
  if (st == STW_OK && oscore && (st = put(b, STW_CBOR_UINT, ACE_PROFILE)) == STW_OK)
    st = put(b, STW_CBOR_UINT, ACE_PROFILE_OSCORE);
  return st;
}

static stw_status_t read_material_bytes(stw_cbor_reader_t *r, uint8_t *dst, size_t cap, size_t *len)
{
  const uint8_t *p = NULL;
  size_t n = 0;
  if (stw_cbor_read_bstr(r, &p, &n) != STW_OK || n > cap)
    return STW_ERR_MALFORMED;
  if (n > 0)
    memcpy(dst, p, n);
  *len = n;
  return STW_OK;
}

/* cnf: {4: OSCORE_Input_Material {0: id, 2: ms, ? 5: salt, ? 6: contextId, ...}} */
static stw_status_t read_osc_cnf(stw_cbor_reader_t *r, stw_oscore_material_t *m)
{
  size_t n = 0, k = 0;
  uint64_t label = 0;
  if (m == NULL)
    return stw_cbor_skip(r);
  if (stw_cbor_read_map(r, &n) != STW_OK || n != 1 || stw_cbor_read_uint(r, &label) != STW_OK || label != CNF_OSC ||
      stw_cbor_read_map(r, &k) != STW_OK || k > 8)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < k; i++) {
    int64_t l = 0;
    stw_status_t st = stw_cbor_read_int(r, &l);
    if (st == STW_OK) {
      switch (l) {
      case 0: st = read_material_bytes(r, m->id, sizeof(m->id), &m->id_len); break;
      case 2: st = read_material_bytes(r, m->ms, sizeof(m->ms), &m->ms_len); break;
      case 5: st = read_material_bytes(r, m->salt, sizeof(m->salt), &m->salt_len); break;
      case 6:
        st = read_material_bytes(r, m->context_id, sizeof(m->context_id), &m->context_id_len);
        m->has_context_id = st == STW_OK;
        break;
      default: st = stw_cbor_skip(r); break;  /* version, hkdf, alg: the defaults are all we offer */
      }
    }
    if (st != STW_OK)
      return STW_ERR_MALFORMED;
  }
  return m->id_len > 0 && m->ms_len > 0 ? STW_OK : STW_ERR_MALFORMED;
}

/* rs_cnf: {1: COSE_Key {1: 2, -1: 1, -2: x, -3: y}} */
static stw_status_t read_rs_cnf(stw_cbor_reader_t *r, stw_token_t *out)
{
  size_t n = 0, m = 0;
  int64_t k = 0;
  if (stw_cbor_read_map(r, &n) != STW_OK || n != 1 || stw_cbor_read_int(r, &k) != STW_OK || k != 1 ||
      stw_cbor_read_map(r, &m) != STW_OK || m > 8)
    return STW_ERR_MALFORMED;
  const uint8_t *x = NULL, *y = NULL;
  size_t xl = 0, yl = 0;
  int64_t kty = 0, crv = 0;
  for (size_t i = 0; i < m; i++) {
    if (stw_cbor_read_int(r, &k) != STW_OK)
      return STW_ERR_MALFORMED;
    stw_status_t st;
    if (k == 1)
      st = stw_cbor_read_int(r, &kty);
    else if (k == -1)
      st = stw_cbor_read_int(r, &crv);
    else if (k == -2)
      st = stw_cbor_read_bstr(r, &x, &xl);
    else if (k == -3)
      st = stw_cbor_read_bstr(r, &y, &yl);
    else
      st = stw_cbor_skip(r);
    if (st != STW_OK)
      return STW_ERR_MALFORMED;
  }
  if (kty != 2 || crv != 1 || xl != 32 || yl != 32)
    return STW_ERR_UNSUPPORTED;
  out->rs_spki_len = sizeof(out->rs_spki);
  return stw_spki_from_xy(x, y, out->rs_spki, &out->rs_spki_len);
}

static stw_status_t read_scope(const uint8_t *p, size_t len, stw_aif_t *scope)
{
  stw_cbor_reader_t r;
  size_t n = 0;
  stw_cbor_reader_init(&r, p, len);
  if (stw_cbor_read_array(&r, &n) != STW_OK || n > STW_AIF_ENTRIES_MAX)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < n; i++) {
    size_t two = 0;
    const char *path = NULL;
    size_t plen = 0;
    uint64_t methods = 0;
    if (stw_cbor_read_array(&r, &two) != STW_OK || two != 2 || stw_cbor_read_tstr(&r, &path, &plen) != STW_OK ||
        stw_cbor_read_uint(&r, &methods) != STW_OK ||
        stw_aif_add(scope, path, plen, (unsigned)(methods & STW_AIF_METHODS_ALL)) != STW_OK)
      return STW_ERR_MALFORMED;
  }
  return stw_cbor_expect_end(&r);
}

static const char *ace_error_name(int64_t e)
{
  switch (e) {
  case 1: return "invalid_request";
  case 2: return "invalid_client";
  case 3: return "invalid_grant";
  case 4: return "unauthorized_client";
  case 5: return "unsupported_grant_type";
  case 6: return "invalid_scope";
  case 7: return "unsupported_pop_key";
  default: return "error";
  }
}

/* {1: token, 2: expires_in, 9: scope bstr, 41: rs_cnf} or {30: error, 31: text} */
stw_status_t stw__token_answer_parse(const uint8_t *p, size_t len, stw_token_t *out, stw_oscore_material_t *m)
{
  stw_cbor_reader_t r;
  size_t n = 0;
  if (p == NULL || len == 0 || len > ANSWER_MAX)
    return STW_ERR_MALFORMED;
  stw_cbor_reader_init(&r, p, len);
  if (stw_cbor_read_map(&r, &n) != STW_OK || n > 16)
    return STW_ERR_MALFORMED;
  const uint8_t *token = NULL;
  size_t token_len = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t key = 0;
    stw_status_t st = stw_cbor_read_int(&r, &key);
    if (st != STW_OK)
      return STW_ERR_MALFORMED;
    if (key == ACE_ACCESS_TOKEN) {
      st = stw_cbor_read_bstr(&r, &token, &token_len);
    } else if (key == ACE_EXPIRES_IN) {
      st = stw_cbor_read_int(&r, &out->expires_in);
    } else if (key == ACE_SCOPE) {
      const uint8_t *s = NULL;
      size_t sl = 0;
      st = stw_cbor_read_bstr(&r, &s, &sl);
      if (st == STW_OK)
        st = read_scope(s, sl, &out->granted);
    } else if (key == ACE_RS_CNF) {
      st = read_rs_cnf(&r, out);
    } else if (key == ACE_CNF) {
      st = read_osc_cnf(&r, m);
    } else if (key == ACE_ERROR) {
      int64_t e = 0;
      st = stw_cbor_read_int(&r, &e);
      snprintf(out->error, sizeof(out->error), "%s", ace_error_name(e));
    } else {
      st = stw_cbor_skip(&r);
    }
    if (st != STW_OK)
      return STW_ERR_MALFORMED;
  }
  if (stw_cbor_expect_end(&r) != STW_OK)
    return STW_ERR_MALFORMED;
  if (token == NULL || token_len == 0 || token_len > STW_PEP_TOKEN_MAX || out->rs_spki_len == 0)
    return STW_ERR_MALFORMED;
  if (m != NULL && m->ms_len == 0)
    return STW_ERR_MALFORMED;  /* asked for OSCORE, got a DTLS-profile token */
  out->token = malloc(token_len);
  if (out->token == NULL)
    return STW_ERR_NOMEM;
  memcpy(out->token, token, token_len);
  out->token_len = token_len;
  return STW_OK;
}

static stw_status_t token_request(stw_dev_t *dev, const char *as_uri, const char *audience, const char *path,
                                  unsigned methods, stw_token_t *out, stw_oscore_material_t *m,
                                  stw_bootstrap_report_t *report)
{
  memset(out, 0, sizeof(*out));
  if (m != NULL)
    memset(m, 0, sizeof(*m));
  if (audience == NULL || path == NULL || path[0] != '/' || strlen(audience) > 255 ||
      strlen(path) > STW_AIF_PATH_MAX || methods == 0 || (methods & ~STW_AIF_METHODS_ALL) != 0)
    return STW_ERR_INVALID;
  stw_buf_t req;
  stw_buf_init(&req, REQUEST_MAX);
  uint8_t *answer = NULL;
  size_t answer_len = 0;
  stw_status_t st = encode_request(audience, path, methods, m != NULL, &req);
  if (st == STW_OK)
    st = stw__request_run(dev, as_uri, COAP_REQUEST_CODE_POST, "token", CF_ACE_CBOR, CF_ACE_CBOR, req.data, req.len,
                          ANSWER_MAX, &answer, &answer_len, NULL, report);
  if (st == STW_OK) {
    st = stw__token_answer_parse(answer, answer_len, out, m);
    if (st != STW_OK) {
      stw_token_clear(out);
      stw_oscore_material_clear(m);
    }
  }
  stw_buf_free(&req, false);
  if (answer != NULL)
    stw_wipe(answer, answer_len);  /* it may hold a Master Secret */
  free(answer);
  return st;
}

stw_status_t stw_token_request(stw_dev_t *dev, const char *as_uri, const char *audience, const char *path,
                               unsigned methods, stw_token_t *out, stw_bootstrap_report_t *report)
{
  return token_request(dev, as_uri, audience, path, methods, out, NULL, report);
}

stw_status_t stw_token_request_oscore(stw_dev_t *dev, const char *as_uri, const char *audience, const char *path,
                                      unsigned methods, stw_token_t *out, stw_oscore_material_t *material,
                                      stw_bootstrap_report_t *report)
{
  if (material == NULL)
    return STW_ERR_INVALID;
  return token_request(dev, as_uri, audience, path, methods, out, material, report);
}

void stw_oscore_material_clear(stw_oscore_material_t *m)
{
  if (m != NULL)
    stw_wipe(m, sizeof(*m));
}

void stw_token_clear(stw_token_t *t)
{
  if (t == NULL)
    return;
  free(t->token);
  memset(t, 0, sizeof(*t));
}
