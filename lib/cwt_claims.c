/* CWT claim parsing and AIF scope matching without the heap: the part of
 * cwt.h the device's PEP links. Everything here works on the caller's
 * input and fixed-size structs through the bounded CBOR reader. */
#include "cbor_reader.h"
#include "cwt.h"

#include <string.h>

/* COSE_Key labels and values (RFC 9052 7.1, RFC 9053 7.1). */
#define COSE_KEY_KTY 1
#define COSE_KEY_KID 2
#define COSE_KEY_ALG 3
#define COSE_KEY_EC2_CRV (-1)
#define COSE_KEY_EC2_X (-2)
#define COSE_KEY_EC2_Y (-3)
#define COSE_KTY_EC2 2
#define COSE_CRV_P256 1
#define COSE_ALG_ES256 (-7)

/* cnf members (RFC 8747 3.1). */
#define CNF_COSE_KEY 1
#define CNF_ENCRYPTED_COSE_KEY 2
#define CNF_KID 3
#define CNF_OSC 4

/* OSCORE_Input_Material labels (RFC 9203 3.2.1). */
#define OSC_ID 0
#define OSC_VERSION 1
#define OSC_MS 2
#define OSC_HKDF 3
#define OSC_ALG 4
#define OSC_SALT 5
#define OSC_CONTEXT_ID 6
#define OSC_HKDF_SHA256 (-10)
#define OSC_ALG_AES_CCM_16_64_128 10

void stw_cwt_init(stw_cwt_t *claims)
{
  memset(claims, 0, sizeof(*claims));
}

stw_status_t stw_aif_add(stw_aif_t *scope, const char *path, size_t path_len, unsigned methods)
{
  if (scope == NULL || path == NULL || path_len == 0 || path[0] != '/' ||
      memchr(path, '\0', path_len) != NULL || (methods & ~STW_AIF_METHODS_ALL) != 0)
    return STW_ERR_INVALID;
  if (scope->n >= STW_AIF_ENTRIES_MAX || path_len > STW_AIF_PATH_MAX ||
      path_len > STW_AIF_POOL_MAX - scope->pool_len)
    return STW_ERR_TOO_LARGE;
  stw_aif_entry_t *e = &scope->entries[scope->n++];
  e->path_offset = (uint16_t)scope->pool_len;
  e->path_len = (uint8_t)path_len;
  e->methods = (uint8_t)methods;
  memcpy(scope->pool + scope->pool_len, path, path_len);
  scope->pool_len += path_len;
  return STW_OK;
}

/* ---- parsing ---- */

static stw_status_t read_text_claim(stw_cbor_reader_t *r, const char **s, size_t *len)
{
  stw_status_t st = stw_cbor_read_tstr(r, s, len);
  if (st == STW_OK && *len > STW_CWT_STR_MAX)
    st = STW_ERR_TOO_LARGE;
  return st;
}

/* Exactly 32 bytes: a P-256 coordinate in COSE's fixed-length form. */
static stw_status_t read_coordinate(stw_cbor_reader_t *r, uint8_t out[32])
{
  stw_cbor_type_t type;
  stw_status_t st = stw_cbor_peek_type(r, &type);
  if (st != STW_OK)
    return st;
  if (type == STW_CBOR_SIMPLE)  /* y as a sign bit: a compressed point */
    return STW_ERR_UNSUPPORTED;
  const uint8_t *p;
  size_t n;
  if ((st = stw_cbor_read_bstr(r, &p, &n)) != STW_OK)
    return st;
  if (n != 32)
    return STW_ERR_MALFORMED;
  memcpy(out, p, 32);
  return STW_OK;
}

/* COSE_Key {1: 2, -1: 1, -2: x, -3: y} with optional kid (2) and alg (3:
 * must be ES256); other parameters are skipped. */
static stw_status_t parse_cose_key(stw_cbor_reader_t *r, stw_cwt_t *out)
{
  size_t n;
  stw_status_t st = stw_cbor_read_map(r, &n);
  if (st != STW_OK)
    return st;
  enum { SEEN_KTY = 1, SEEN_CRV = 2, SEEN_X = 4, SEEN_Y = 8, SEEN_KID = 16, SEEN_ALG = 32 };
  unsigned seen = 0;
  for (size_t i = 0; i < n; i++) {
    stw_cbor_type_t type;
    if ((st = stw_cbor_peek_type(r, &type)) != STW_OK)
      return st;
    if (type != STW_CBOR_UINT && type != STW_CBOR_NEGINT) {
      /* text labels are private-use parameters: not ours, skipped */
      if ((st = stw_cbor_skip(r)) != STW_OK || (st = stw_cbor_skip(r)) != STW_OK)
        return st;
      continue;
    }
    int64_t label, v;
    if ((st = stw_cbor_read_int(r, &label)) != STW_OK)
      return st;
    unsigned bit = label == COSE_KEY_KTY ? SEEN_KTY : label == COSE_KEY_EC2_CRV ? SEEN_CRV
                 : label == COSE_KEY_EC2_X ? SEEN_X : label == COSE_KEY_EC2_Y ? SEEN_Y
                 : label == COSE_KEY_KID ? SEEN_KID : label == COSE_KEY_ALG ? SEEN_ALG : 0;
    if (bit != 0 && (seen & bit) != 0)
      return STW_ERR_MALFORMED;  /* a label twice */
    seen |= bit;
    switch (bit) {
    case SEEN_KTY:
      if ((st = stw_cbor_read_int(r, &v)) != STW_OK)
        return st;
      if (v != COSE_KTY_EC2)
        return STW_ERR_UNSUPPORTED;
      break;
    case SEEN_CRV:
      if ((st = stw_cbor_read_int(r, &v)) != STW_OK)
        return st;
      if (v != COSE_CRV_P256)
        return STW_ERR_UNSUPPORTED;
      break;
    case SEEN_ALG:
      if ((st = stw_cbor_read_int(r, &v)) != STW_OK)
        return st;
      if (v != COSE_ALG_ES256)
        return STW_ERR_UNSUPPORTED;
      break;
    case SEEN_X:
      if ((st = read_coordinate(r, out->cnf_x)) != STW_OK)
        return st;
      break;
    case SEEN_Y:
      if ((st = read_coordinate(r, out->cnf_y)) != STW_OK)
        return st;
      break;
    case SEEN_KID: {  /* the key's own name: checked for type, not used */
      const uint8_t *kid;
      size_t kid_len;
      if ((st = stw_cbor_read_bstr(r, &kid, &kid_len)) != STW_OK)
        return st;
      break;
    }
    default:  /* a parameter we do not use */
      if ((st = stw_cbor_skip(r)) != STW_OK)
        return st;
      break;
    }
  }
  unsigned required = SEEN_KTY | SEEN_CRV | SEEN_X | SEEN_Y;
  if ((seen & required) != required)
    return STW_ERR_MALFORMED;
  out->cnf_kind = STW_PEP_CNF_KEY;
  return STW_OK;
}

/* A bstr of 1..max bytes (0..max when empty_ok) copied to dst. */
static stw_status_t read_osc_bytes(stw_cbor_reader_t *r, uint8_t *dst, size_t max, bool empty_ok, size_t *len)
{
  const uint8_t *p;
  size_t n;
  stw_status_t st = stw_cbor_read_bstr(r, &p, &n);
  if (st != STW_OK)
    return st;
  if (n == 0 && !empty_ok)
    return STW_ERR_MALFORMED;
  if (n > max)
    return STW_ERR_TOO_LARGE;
  if (n > 0)
    memcpy(dst, p, n);
  *len = n;
  return STW_OK;
}

/* {4: OSCORE_Input_Material}: each label once; id and the sealed secret required. */
static stw_status_t parse_osc(stw_cbor_reader_t *r, stw_cwt_t *out)
{
  size_t n;
  stw_status_t st = stw_cbor_read_map(r, &n);
  if (st != STW_OK)
    return st;
  if (n > 8)
    return STW_ERR_MALFORMED;
  unsigned seen = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t label, v;
    if ((st = stw_cbor_read_int(r, &label)) != STW_OK)
      return st;
    unsigned bit = label == STW_CWT_OSC_MS_SEALED ? 1u << 7 : (label >= 0 && label <= 6) ? 1u << label : 0;
    if (bit == 0)
      return STW_ERR_UNSUPPORTED;  /* an input we would not apply */
    if (seen & bit)
      return STW_ERR_MALFORMED;
    seen |= bit;
    switch (label) {
    case OSC_ID:
      st = read_osc_bytes(r, out->osc_id, sizeof(out->osc_id), false, &out->osc_id_len);
      break;
    case OSC_VERSION:
    case OSC_HKDF:
    case OSC_ALG:
      if ((st = stw_cbor_read_int(r, &v)) != STW_OK)
        return st;
      if ((label == OSC_VERSION && v != 1) || (label == OSC_HKDF && v != OSC_HKDF_SHA256) ||
          (label == OSC_ALG && v != OSC_ALG_AES_CCM_16_64_128))
        return STW_ERR_UNSUPPORTED;
      break;
    case OSC_MS:
      return STW_ERR_UNSUPPORTED;  /* a Master Secret in the clear: never */
    case OSC_SALT:
      st = read_osc_bytes(r, out->osc_salt, sizeof(out->osc_salt), true, &out->osc_salt_len);
      break;
    case OSC_CONTEXT_ID:
      st = read_osc_bytes(r, out->osc_context_id, sizeof(out->osc_context_id), true, &out->osc_context_id_len);
      out->osc_has_context_id = st == STW_OK;
      break;
    default:
      st = read_osc_bytes(r, out->osc_ms_sealed, sizeof(out->osc_ms_sealed), false, &out->osc_ms_sealed_len);
      break;
    }
    if (st != STW_OK)
      return st;
  }
  if ((seen & (1u << OSC_ID)) == 0 || (seen & (1u << 7)) == 0)
    return STW_ERR_MALFORMED;
  out->cnf_kind = STW_CWT_CNF_OSC;
  return STW_OK;
}

/* cnf: a map with exactly one member, {1: COSE_Key}, {3: kid} or {4: osc}. */
static stw_status_t parse_cnf(stw_cbor_reader_t *r, stw_cwt_t *out)
{
  size_t n;
  stw_status_t st = stw_cbor_read_map(r, &n);
  if (st != STW_OK)
    return st;
  if (n != 1)
    return STW_ERR_MALFORMED;
  int64_t member;
  if ((st = stw_cbor_read_int(r, &member)) != STW_OK)
    return st;
  if (member == CNF_COSE_KEY)
    return parse_cose_key(r, out);
  if (member == CNF_OSC)
    return parse_osc(r, out);
  if (member == CNF_KID) {
    const uint8_t *kid;
    size_t kid_len;
    if ((st = stw_cbor_read_bstr(r, &kid, &kid_len)) != STW_OK)
      return st;
    if (kid_len == 0)
      return STW_ERR_MALFORMED;
    if (kid_len > STW_CWT_KID_MAX)
      return STW_ERR_TOO_LARGE;
    memcpy(out->cnf_kid, kid, kid_len);
    out->cnf_kid_len = kid_len;
    out->cnf_kind = STW_PEP_CNF_KID;
    return STW_OK;
  }
  /* Encrypted_COSE_Key (2), a JWK, anything else: nothing we can match a
   * DTLS raw public key against. */
  (void)CNF_ENCRYPTED_COSE_KEY;
  return STW_ERR_UNSUPPORTED;
}

/* AIF-REST: [* [path: tstr, methods: uint]]. */
static stw_status_t parse_scope(stw_cbor_reader_t *r, stw_aif_t *scope)
{
  size_t n;
  stw_status_t st = stw_cbor_read_array(r, &n);
  if (st != STW_OK)
    return st;
  if (n > STW_AIF_ENTRIES_MAX)
    return STW_ERR_TOO_LARGE;
  for (size_t i = 0; i < n; i++) {
    size_t pair_len;
    const char *path;
    size_t path_len;
    uint64_t methods;
    if ((st = stw_cbor_read_array(r, &pair_len)) != STW_OK)
      return st;
    if (pair_len != 2)
      return STW_ERR_MALFORMED;
    if ((st = stw_cbor_read_tstr(r, &path, &path_len)) != STW_OK ||
        (st = stw_cbor_read_uint(r, &methods)) != STW_OK)
      return st;
    /* Dynamic-resource bits (2^32 and up) and unassigned ones grant
     * nothing here: dropping them fails closed. */
    st = stw_aif_add(scope, path, path_len, (unsigned)(methods & STW_AIF_METHODS_ALL));
    if (st == STW_ERR_INVALID)
      return STW_ERR_MALFORMED;
    if (st != STW_OK)
      return st;
  }
  return STW_OK;
}

static stw_status_t parse_claim(stw_cbor_reader_t *r, int64_t key, stw_cwt_t *out)
{
  stw_status_t st;
  const uint8_t *cti;
  switch (key) {
  case STW_CWT_ISS:
    return read_text_claim(r, &out->iss, &out->iss_len);
  case STW_CWT_SUB:
    return read_text_claim(r, &out->sub, &out->sub_len);
  case STW_CWT_AUD:
    return read_text_claim(r, &out->aud, &out->aud_len);
  case STW_CWT_EXP:
    return stw_cbor_read_int(r, &out->exp);
  case STW_CWT_NBF:
    return stw_cbor_read_int(r, &out->nbf);
  case STW_CWT_IAT:
    return stw_cbor_read_int(r, &out->iat);
  case STW_CWT_CTI:
    if ((st = stw_cbor_read_bstr(r, &cti, &out->cti_len)) != STW_OK)
      return st;
    if (out->cti_len == 0)
      return STW_ERR_MALFORMED;
    if (out->cti_len > STW_CWT_CTI_MAX)
      return STW_ERR_TOO_LARGE;
    memcpy(out->cti, cti, out->cti_len);
    return STW_OK;
  case STW_CWT_CNF:
    return parse_cnf(r, out);
  case STW_CWT_SCOPE:
    return parse_scope(r, &out->scope);
  default:
    return stw_cbor_skip(r);  /* a claim we do not use */
  }
}

stw_status_t stw_cwt_parse_claims(const uint8_t *payload, size_t len, stw_cwt_t *out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  stw_cwt_init(out);
  if (payload == NULL || len == 0)
    return STW_ERR_MALFORMED;
  if (len > STW_PEP_TOKEN_MAX)
    return STW_ERR_TOO_LARGE;
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, payload, len);
  size_t n;
  stw_status_t st = stw_cbor_read_map(&r, &n);
  if (st != STW_OK)
    goto out;
  for (size_t i = 0; i < n; i++) {
    stw_cbor_type_t type;
    if ((st = stw_cbor_peek_type(&r, &type)) != STW_OK)
      goto out;
    if (type != STW_CBOR_UINT && type != STW_CBOR_NEGINT) {
      /* text keys are JWT-style names: not claims of this profile */
      if ((st = stw_cbor_skip(&r)) != STW_OK || (st = stw_cbor_skip(&r)) != STW_OK)
        goto out;
      continue;
    }
    int64_t key;
    if ((st = stw_cbor_read_int(&r, &key)) != STW_OK)
      goto out;
    if (key >= STW_CWT_ISS && key <= STW_CWT_SCOPE) {
      unsigned bit = 1u << key;
      st = STW_ERR_MALFORMED;  /* a claim twice: which one would count? */
      if (out->present & bit)
        goto out;
      out->present |= bit;
    }
    if ((st = parse_claim(&r, key, out)) != STW_OK)
      goto out;
  }
  st = stw_cbor_expect_end(&r);
out:
  if (st != STW_OK)
    stw_cwt_init(out);
  return st;
}

/* ---- matching ---- */

/* A request path we are willing to match: "/" or "/seg(/seg)*" with no
 * empty, "." or ".." segment. */
static bool request_path_ok(const char *path, size_t len)
{
  if (path == NULL || len == 0 || path[0] != '/')
    return false;
  if (len == 1)
    return true;
  size_t seg_start = 1;
  for (size_t i = 1; i <= len; i++) {
    if (i < len && path[i] != '/')
      continue;
    size_t seg_len = i - seg_start;
    const char *seg = path + seg_start;
    if (seg_len == 0 || (seg_len == 1 && seg[0] == '.') ||
        (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
      return false;
    seg_start = i + 1;
  }
  return true;
}

static bool entry_matches(const stw_aif_t *scope, const stw_aif_entry_t *e,
                          const char *path, size_t path_len)
{
  const char *grant = scope->pool + e->path_offset;
  size_t grant_len = e->path_len;
  if (grant_len == path_len && memcmp(grant, path, path_len) == 0)
    return true;
  /* "/prefix/" + "*": strictly below "/prefix" */
  if (grant_len >= 2 && grant[grant_len - 1] == '*' && grant[grant_len - 2] == '/') {
    size_t prefix_len = grant_len - 1;  /* keeps the '/' */
    return path_len > prefix_len && memcmp(grant, path, prefix_len) == 0;
  }
  return false;
}

bool stw_aif_scope_allows(const stw_aif_t *scope, const char *path, size_t path_len,
                          unsigned method_bit)
{
  /* exactly one known method: a mask of several would ask "any of them" */
  if (scope == NULL || method_bit == 0 || (method_bit & (method_bit - 1)) != 0 ||
      (method_bit & ~STW_AIF_METHODS_ALL) != 0)
    return false;
  if (!request_path_ok(path, path_len) || scope->n > STW_AIF_ENTRIES_MAX)
    return false;
  for (size_t i = 0; i < scope->n; i++) {
    const stw_aif_entry_t *e = &scope->entries[i];
    if ((e->methods & method_bit) != 0 && entry_matches(scope, e, path, path_len))
      return true;
  }
  return false;
}

bool stw_aif_allows(const stw_cwt_t *claims, const char *path, size_t path_len, unsigned method_bit)
{
  if (claims == NULL || (claims->present & STW_CWT_HAS_SCOPE) == 0)
    return false;
  return stw_aif_scope_allows(&claims->scope, path, path_len, method_bit);
}
