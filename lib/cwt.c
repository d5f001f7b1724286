/* CWT claims: deterministic encoding and signing (the PDP's side), and the
 * size the same claims would take as a JWT (for the benchmark). Parsing and
 * matching, which the device needs, live in cwt_claims.c. */
#include "cbor_reader.h"
#include "cbor_writer.h"
#include "cose.h"
#include "cwt.h"

#include <string.h>

/* ---- deterministic CBOR (heads: cbor_writer.h) ---- */

static unsigned count_bits(unsigned v)
{
  unsigned n = 0;
  for (; v != 0; v &= v - 1)
    n++;
  return n;
}

/* {4: {0: id, 5: salt, 6: contextId, -65537: sealed ms}}: labels in the
 * bytewise order of their encodings (0x00 < 0x05 < 0x06 < 0x3a...). */
static stw_status_t put_osc(stw_buf_t *out, const stw_cwt_t *c)
{
  size_t n = 2 + (c->osc_salt_len > 0) + c->osc_has_context_id;
  stw_status_t st;
  if ((st = stw_cbor_write_head(out, STW_CBOR_UINT, 4)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_MAP, n)) != STW_OK || (st = stw_cbor_write_int(out, 0)) != STW_OK ||
      (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->osc_id, c->osc_id_len)) != STW_OK)
    return st;
  if (c->osc_salt_len > 0 && ((st = stw_cbor_write_int(out, 5)) != STW_OK ||
                              (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->osc_salt, c->osc_salt_len)) != STW_OK))
    return st;
  if (c->osc_has_context_id &&
      ((st = stw_cbor_write_int(out, 6)) != STW_OK ||
       (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->osc_context_id, c->osc_context_id_len)) != STW_OK))
    return st;
  if ((st = stw_cbor_write_int(out, STW_CWT_OSC_MS_SEALED)) != STW_OK)
    return st;
  return stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->osc_ms_sealed, c->osc_ms_sealed_len);
}

/* The caller's claim set must be one the device could parse back. */
static bool claims_consistent(const stw_cwt_t *c)
{
  const unsigned known = STW_CWT_HAS_ISS | STW_CWT_HAS_SUB | STW_CWT_HAS_AUD | STW_CWT_HAS_EXP |
                         STW_CWT_HAS_NBF | STW_CWT_HAS_IAT | STW_CWT_HAS_CTI | STW_CWT_HAS_CNF |
                         STW_CWT_HAS_SCOPE;
  if ((c->present & ~known) != 0)
    return false;
  if ((c->present & STW_CWT_HAS_ISS) && (c->iss == NULL || c->iss_len > STW_CWT_STR_MAX))
    return false;
  if ((c->present & STW_CWT_HAS_SUB) && (c->sub == NULL || c->sub_len > STW_CWT_STR_MAX))
    return false;
  if ((c->present & STW_CWT_HAS_AUD) && (c->aud == NULL || c->aud_len > STW_CWT_STR_MAX))
    return false;
  if ((c->present & STW_CWT_HAS_CTI) && (c->cti_len == 0 || c->cti_len > STW_CWT_CTI_MAX))
    return false;
  if (c->present & STW_CWT_HAS_CNF) {
    if (c->cnf_kind == STW_PEP_CNF_KID && (c->cnf_kid_len == 0 || c->cnf_kid_len > STW_CWT_KID_MAX))
      return false;
    if (c->cnf_kind == STW_CWT_CNF_OSC &&
        (c->osc_id_len == 0 || c->osc_id_len > STW_CWT_OSC_ID_MAX || c->osc_salt_len > STW_CWT_OSC_SALT_MAX ||
         c->osc_context_id_len > STW_CWT_OSC_CONTEXT_ID_MAX || c->osc_ms_sealed_len == 0 ||
         c->osc_ms_sealed_len > STW_CWT_OSC_SEALED_MAX))
      return false;
    if (c->cnf_kind != STW_PEP_CNF_KID && c->cnf_kind != STW_PEP_CNF_KEY && c->cnf_kind != STW_CWT_CNF_OSC)
      return false;
  }
  if ((c->present & STW_CWT_HAS_SCOPE) &&
      (c->scope.n > STW_AIF_ENTRIES_MAX || c->scope.pool_len > STW_AIF_POOL_MAX))
    return false;
  return true;
}

stw_status_t stw_cwt_encode_claims(const stw_cwt_t *c, stw_buf_t *out)
{
  if (c == NULL || out == NULL || !claims_consistent(c))
    return STW_ERR_INVALID;
  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, STW_PEP_TOKEN_MAX);
  out->len = 0;
  /* Keys 1..9 encode as the single bytes 0x01..0x09, so ascending key order
   * is the bytewise order deterministic encoding asks for. */
  stw_status_t st = stw_cbor_write_head(out, STW_CBOR_MAP, count_bits(c->present));
  for (int key = STW_CWT_ISS; key <= STW_CWT_SCOPE && st == STW_OK; key++) {
    if ((c->present & (1u << key)) == 0)
      continue;
    if ((st = stw_cbor_write_head(out, STW_CBOR_UINT, (uint64_t)key)) != STW_OK)
      break;
    switch (key) {
    case STW_CWT_ISS:
      st = stw_cbor_write_bytes(out, STW_CBOR_TSTR, c->iss, c->iss_len);
      break;
    case STW_CWT_SUB:
      st = stw_cbor_write_bytes(out, STW_CBOR_TSTR, c->sub, c->sub_len);
      break;
    case STW_CWT_AUD:
      st = stw_cbor_write_bytes(out, STW_CBOR_TSTR, c->aud, c->aud_len);
      break;
    case STW_CWT_EXP:
      st = stw_cbor_write_int(out, c->exp);
      break;
    case STW_CWT_NBF:
      st = stw_cbor_write_int(out, c->nbf);
      break;
    case STW_CWT_IAT:
      st = stw_cbor_write_int(out, c->iat);
      break;
    case STW_CWT_CTI:
      st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->cti, c->cti_len);
      break;
    case STW_CWT_CNF:
      if ((st = stw_cbor_write_head(out, STW_CBOR_MAP, 1)) != STW_OK)
        break;
      if (c->cnf_kind == STW_PEP_CNF_KID) {
        if ((st = stw_cbor_write_head(out, STW_CBOR_UINT, 3)) == STW_OK)
          st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->cnf_kid, c->cnf_kid_len);
        break;
      }
      if (c->cnf_kind == STW_CWT_CNF_OSC) {
        st = put_osc(out, c);
        break;
      }
      /* {1: {1: 2, -1: 1, -2: x, -3: y}}: labels 0x01 < 0x20 < 0x21 < 0x22 */
      if ((st = stw_cbor_write_head(out, STW_CBOR_UINT, 1)) != STW_OK ||
          (st = stw_cbor_write_head(out, STW_CBOR_MAP, 4)) != STW_OK ||
          (st = stw_cbor_write_int(out, 1)) != STW_OK || (st = stw_cbor_write_int(out, 2)) != STW_OK ||
          (st = stw_cbor_write_int(out, -1)) != STW_OK || (st = stw_cbor_write_int(out, 1)) != STW_OK ||
          (st = stw_cbor_write_int(out, -2)) != STW_OK ||
          (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->cnf_x, 32)) != STW_OK ||
          (st = stw_cbor_write_int(out, -3)) != STW_OK)
        break;
      st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, c->cnf_y, 32);
      break;
    case STW_CWT_SCOPE:
      st = stw_cbor_write_head(out, STW_CBOR_ARRAY, c->scope.n);
      for (size_t i = 0; i < c->scope.n && st == STW_OK; i++) {
        const stw_aif_entry_t *e = &c->scope.entries[i];
        if ((size_t)e->path_offset + e->path_len > c->scope.pool_len)
          return STW_ERR_INVALID;
        if ((st = stw_cbor_write_head(out, STW_CBOR_ARRAY, 2)) != STW_OK ||
            (st = stw_cbor_write_bytes(out, STW_CBOR_TSTR, c->scope.pool + e->path_offset, e->path_len)) != STW_OK)
          break;
        st = stw_cbor_write_head(out, STW_CBOR_UINT, e->methods);
      }
      break;
    default:
      break;
    }
  }
  return st;
}

stw_status_t stw_cwt_encode_sign(const stw_cwt_t *claims, const stw_key_t *key,
                                 const uint8_t *kid, size_t kid_len, stw_buf_t *out)
{
  if (claims == NULL || key == NULL || out == NULL || (kid == NULL && kid_len > 0))
    return STW_ERR_INVALID;
  stw_buf_t payload;
  stw_buf_init(&payload, STW_PEP_TOKEN_MAX);
  stw_status_t st = stw_cwt_encode_claims(claims, &payload);
  if (st != STW_OK)
    goto out;
  if ((st = stw_cose_sign1_create(key, kid, kid_len, payload.data, payload.len, NULL, 0, out)) != STW_OK)
    goto out;
  /* Issue nothing a device would refuse for its size. */
  if (out->len > STW_PEP_TOKEN_MAX) {
    out->len = 0;
    st = STW_ERR_TOO_LARGE;
  }
out:
  stw_buf_free(&payload, false);
  return st;
}

/* ---- JWT size, computed ---- */

static size_t b64url_len(size_t n)
{
  return (4 * n + 2) / 3;  /* unpadded */
}

/* A JSON string literal holding s[0..len), as a compact serializer writes it. */
static size_t json_str_len(const char *s, size_t len)
{
  size_t n = 2;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
      n += 2;
    else if (c < 0x20)
      n += 6;  /* \u00XX */
    else
      n += 1;
  }
  return n;
}

static size_t json_int_len(int64_t v)
{
  uint64_t mag = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
  size_t n = v < 0 ? 2 : 1;
  while (mag >= 10) {
    mag /= 10;
    n++;
  }
  return n;
}

/* "name": plus a value of value_len bytes, with the comma before it unless first. */
static size_t json_member_len(bool *first, const char *name, size_t value_len)
{
  size_t n = json_str_len(name, strlen(name)) + 1 + value_len;
  if (!*first)
    n++;
  *first = false;
  return n;
}

size_t stw_cwt_to_jwt_size(const stw_cwt_t *c, const uint8_t *kid, size_t kid_len)
{
  (void)kid;  /* only its length counts */
  if (c == NULL)
    return 0;
  size_t header = sizeof("{\"alg\":\"ES256\"}") - 1;
  if (kid_len > 0)
    header += sizeof(",\"kid\":\"\"") - 1 + b64url_len(kid_len);

  size_t payload = 2;  /* { } */
  bool first = true;
  if (c->present & STW_CWT_HAS_ISS)
    payload += json_member_len(&first, "iss", json_str_len(c->iss, c->iss_len));
  if (c->present & STW_CWT_HAS_SUB)
    payload += json_member_len(&first, "sub", json_str_len(c->sub, c->sub_len));
  if (c->present & STW_CWT_HAS_AUD)
    payload += json_member_len(&first, "aud", json_str_len(c->aud, c->aud_len));
  if (c->present & STW_CWT_HAS_EXP)
    payload += json_member_len(&first, "exp", json_int_len(c->exp));
  if (c->present & STW_CWT_HAS_NBF)
    payload += json_member_len(&first, "nbf", json_int_len(c->nbf));
  if (c->present & STW_CWT_HAS_IAT)
    payload += json_member_len(&first, "iat", json_int_len(c->iat));
  if (c->present & STW_CWT_HAS_CTI)
    payload += json_member_len(&first, "jti", 2 + b64url_len(c->cti_len));
  if (c->present & STW_CWT_HAS_SCOPE) {
    size_t scope = 2;  /* [ ] */
    for (size_t i = 0; i < c->scope.n && i < STW_AIF_ENTRIES_MAX; i++) {
      const stw_aif_entry_t *e = &c->scope.entries[i];
      /* ["path",methods] */
      scope += (i > 0) + 3 + json_str_len(c->scope.pool + e->path_offset, e->path_len) +
               json_int_len(e->methods);
    }
    payload += json_member_len(&first, "scope", scope);
  }
  if (c->present & STW_CWT_HAS_CNF) {
    size_t cnf;
    if (c->cnf_kind == STW_PEP_CNF_KID)
      cnf = sizeof("{\"kid\":\"\"}") - 1 + b64url_len(c->cnf_kid_len);
    else
      cnf = sizeof("{\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\",\"y\":\"\"}}") - 1 +
            2 * b64url_len(32);
    payload += json_member_len(&first, "cnf", cnf);
  }
  return b64url_len(header) + 1 + b64url_len(payload) + 1 + b64url_len(STW_ES256_SIG_LEN);
}
