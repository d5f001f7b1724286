/* Ownership vouchers: a CBOR map with small integer keys, signed as a
 * COSE_Sign1 by the manufacturer (docs/formats-crypto.md has the CDDL).
 * Parsing is strict: unknown keys, duplicates, wrong types or sizes are
 * all STW_ERR_MALFORMED, so one voucher has one meaning. */
#include "voucher.h"
#include "cose_internal.h"

#include <cbor.h>
#include <stdlib.h>
#include <string.h>

enum {
  KEY_DEVICE_ID = 1,
  KEY_OWNER_SPKI = 2,
  KEY_CREATED_ON = 3,
  KEY_EXPIRES_ON = 4,
  KEY_SERIAL = 5,
  KEY_PSK_IDENTITY = 6,
  KEY_SEALED_PSK = 7,
  KEY_MODEL = 8,
  KEY_LAST = 8,
};

/* Smallest-width CBOR integer for v (libcbor encodes at the item's width). */
static cbor_item_t *build_int(int64_t v)
{
  uint64_t u = v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1));
  cbor_item_t *it;
  if (u <= UINT8_MAX)
    it = v >= 0 ? cbor_build_uint8((uint8_t)u) : cbor_build_negint8((uint8_t)u);
  else if (u <= UINT16_MAX)
    it = v >= 0 ? cbor_build_uint16((uint16_t)u) : cbor_build_negint16((uint16_t)u);
  else if (u <= UINT32_MAX)
    it = v >= 0 ? cbor_build_uint32((uint32_t)u) : cbor_build_negint32((uint32_t)u);
  else
    it = v >= 0 ? cbor_build_uint64(u) : cbor_build_negint64(u);
  return it;
}

static bool put(cbor_item_t *map, int key, cbor_item_t *v)
{
  return stw__cbor_map_put(map, cbor_build_uint8((uint8_t)key), v);
}

static bool has_psk(const stw_voucher_t *v)
{
  return v->psk_identity[0] != '\0' || v->sealed_psk_len > 0;
}

/* Checks that apply to both what we sign and what we read. */
static stw_status_t check_fields(const stw_voucher_t *v)
{
  if (v->owner_spki_len == 0 || v->owner_spki_len > STW_SPKI_MAX || v->expires_on < 0)
    return STW_ERR_MALFORMED;
  uint8_t x[32], y[32];
  stw_status_t st = stw_spki_to_xy(v->owner_spki, v->owner_spki_len, x, y);
  if (st != STW_OK)
    return st;
  if (strnlen(v->model, sizeof(v->model)) == sizeof(v->model))
    return STW_ERR_MALFORMED;
  size_t id_len = strnlen(v->psk_identity, sizeof(v->psk_identity));
  if (id_len == sizeof(v->psk_identity) || v->sealed_psk_len > sizeof(v->sealed_psk))
    return STW_ERR_MALFORMED;
  /* A PSK device's voucher carries both the identity and the sealed key. */
  if (has_psk(v) && (id_len == 0 || v->sealed_psk_len == 0))
    return STW_ERR_MALFORMED;
  return STW_OK;
}

stw_status_t stw_voucher_sign(const stw_voucher_t *v, const stw_key_t *mfg_key, stw_buf_t *out)
{
  if (v == NULL || mfg_key == NULL || out == NULL)
    return STW_ERR_INVALID;
  if (check_fields(v) != STW_OK)
    return STW_ERR_INVALID;
  unsigned char *payload = NULL;
  size_t payload_len = 0, cap = 0;
  bool psk = has_psk(v);
  bool has_model = v->model[0] != '\0';
  cbor_item_t *map = cbor_new_definite_map((psk ? 7 : 5) + (has_model ? 1 : 0));
  stw_status_t st = STW_ERR_NOMEM;
  if (map == NULL)
    goto out;
  if (!put(map, KEY_DEVICE_ID, cbor_build_bytestring(v->device_id, STW_DEVICE_ID_LEN)) ||
      !put(map, KEY_OWNER_SPKI, cbor_build_bytestring(v->owner_spki, v->owner_spki_len)) ||
      !put(map, KEY_CREATED_ON, build_int(v->created_on)) ||
      !put(map, KEY_EXPIRES_ON, build_int(v->expires_on)) ||
      !put(map, KEY_SERIAL, cbor_build_bytestring(v->serial, sizeof(v->serial))))
    goto out;
  if (psk && (!put(map, KEY_PSK_IDENTITY, cbor_build_string(v->psk_identity)) ||
              !put(map, KEY_SEALED_PSK, cbor_build_bytestring(v->sealed_psk, v->sealed_psk_len))))
    goto out;
  if (has_model && !put(map, KEY_MODEL, cbor_build_string(v->model)))
    goto out;
  payload_len = cbor_serialize_alloc(map, &payload, &cap);
  if (payload_len == 0)
    goto out;
  st = stw__cose_sign1_with_kid(mfg_key, payload, payload_len, NULL, 0, STW_VOUCHER_MAX, out);
out:
  free(payload);
  if (map != NULL)
    cbor_decref(&map);
  return st;
}

/* A definite tstr of 1..cap-1 bytes without NUL, copied NUL-terminated. */
static bool get_text(const cbor_item_t *it, char *dst, size_t cap)
{
  size_t n = cbor_isa_string(it) && cbor_string_is_definite(it) ? cbor_string_length(it) : 0;
  if (n == 0 || n >= cap || memchr(cbor_string_handle(it), '\0', n) != NULL)
    return false;
  memcpy(dst, cbor_string_handle(it), n);
  dst[n] = '\0';
  return true;
}

static stw_status_t parse_payload(const uint8_t *p, size_t len, stw_voucher_t *v)
{
  cbor_item_t *map = NULL;
  unsigned seen = 0;
  stw_status_t st = stw__cbor_load(p, len, &map);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_MALFORMED;
  if (!cbor_isa_map(map) || !cbor_map_is_definite(map) || cbor_map_size(map) > KEY_LAST)
    goto out;
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); i++) {
    if (!cbor_isa_uint(pairs[i].key))
      goto out;
    uint64_t k = cbor_get_int(pairs[i].key);
    if (k < 1 || k > KEY_LAST || (seen & (1u << k)))
      goto out;  /* unknown key or a duplicate */
    seen |= 1u << k;
    const cbor_item_t *val = pairs[i].value;
    bool ok = false;
    switch (k) {
    case KEY_DEVICE_ID:
      ok = stw__cbor_get_bstr(val, STW_DEVICE_ID_LEN, true, v->device_id, NULL);
      break;
    case KEY_OWNER_SPKI:
      ok = stw__cbor_get_bstr(val, STW_SPKI_MAX, false, v->owner_spki, &v->owner_spki_len);
      break;
    case KEY_CREATED_ON:
      ok = stw__cbor_int64(val, &v->created_on);
      break;
    case KEY_EXPIRES_ON:
      ok = stw__cbor_int64(val, &v->expires_on);
      break;
    case KEY_SERIAL:
      ok = stw__cbor_get_bstr(val, sizeof(v->serial), true, v->serial, NULL);
      break;
    case KEY_PSK_IDENTITY:
      ok = get_text(val, v->psk_identity, sizeof(v->psk_identity));
      break;
    case KEY_SEALED_PSK:
      ok = stw__cbor_get_bstr(val, sizeof(v->sealed_psk), false, v->sealed_psk, &v->sealed_psk_len);
      break;
    case KEY_MODEL:
      ok = get_text(val, v->model, sizeof(v->model));
      break;
    default:
      break;
    }
    if (!ok)
      goto out;
  }
  unsigned required = 1u << KEY_DEVICE_ID | 1u << KEY_OWNER_SPKI | 1u << KEY_CREATED_ON |
                      1u << KEY_EXPIRES_ON | 1u << KEY_SERIAL;
  if ((seen & required) != required)
    goto out;
  st = check_fields(v);
  if (st == STW_ERR_UNSUPPORTED)
    st = STW_ERR_MALFORMED;
out:
  if (map != NULL)
    cbor_decref(&map);
  return st;
}

stw_status_t stw_voucher_parse(const uint8_t *msg, size_t len, stw_voucher_t *out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (len > STW_VOUCHER_MAX)
    return STW_ERR_TOO_LARGE;
  stw_cose_sign1_t s;
  stw_status_t st = stw_cose_sign1_parse(msg, len, &s);
  if (st == STW_OK)
    st = parse_payload(s.payload, s.payload_len, out);
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

stw_status_t stw_voucher_verify(const uint8_t *msg, size_t len, const uint8_t *mfg_spki, size_t mfg_spki_len,
                                int64_t now, stw_voucher_t *out)
{
  if (out == NULL || mfg_spki == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (len > STW_VOUCHER_MAX)
    return STW_ERR_TOO_LARGE;
  stw_cose_sign1_t s;
  stw_status_t st = stw_cose_sign1_verify(msg, len, mfg_spki, mfg_spki_len, NULL, 0, &s);
  if (st != STW_OK)
    goto out;
  /* The kid names the manufacturer key and is part of the format: one that
   * is missing or names another key is refused even if the signature checks. */
  if ((st = stw__cose_check_spki_kid(&s, mfg_spki, mfg_spki_len)) != STW_OK)
    goto out;
  if ((st = parse_payload(s.payload, s.payload_len, out)) != STW_OK)
    goto out;
  st = STW_ERR_EXPIRED;
  if (out->expires_on != 0 && now > out->expires_on)
    goto out;
  st = STW_OK;
out:
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}
