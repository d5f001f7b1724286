/* COSE_Sign1 (RFC 9052 section 4.2) with ES256 only.
 *
 * The outer array is walked with the bounded reader (cbor_reader.h), which
 * hands out byte strings as pointers into the input: that is how the parsed
 * struct can point into the caller's buffer. The two header maps are then
 * decoded with cbor_load from their exact byte ranges. */
#include "cose.h"
#include "cbor_reader.h"
#include "cose_internal.h"

#include <cbor.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LABELS_MAX 32   /* labels across both header maps */

#define LABEL_ALG 1
#define LABEL_CRIT 2
#define LABEL_CONTENT_TYPE 3
#define LABEL_KID 4

/* ---- header maps ---- */

typedef struct {
  bool is_int;
  int64_t i;
  const unsigned char *s;
  size_t slen;
} label_t;

typedef struct {
  label_t labels[HEADER_LABELS_MAX];
  size_t n;
  bool have_alg;
  bool alg_is_int;
  int64_t alg;
  const cbor_item_t *crit;  /* the crit array, if any (protected only) */
} headers_t;

bool stw__cbor_int64(const cbor_item_t *item, int64_t *out)
{
  if (cbor_isa_uint(item)) {
    uint64_t v = cbor_get_int(item);
    if (v > INT64_MAX)
      return false;
    *out = (int64_t)v;
    return true;
  }
  if (cbor_isa_negint(item)) {
    uint64_t v = cbor_get_int(item);
    if (v > INT64_MAX)
      return false;
    *out = -1 - (int64_t)v;
    return true;
  }
  return false;
}

bool stw__cbor_get_bstr(const cbor_item_t *it, size_t max, bool exact, uint8_t *dst, size_t *len)
{
  if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
    return false;
  size_t n = cbor_bytestring_length(it);
  if (n > max || (exact && n != max))
    return false;
  if (n > 0)
    memcpy(dst, cbor_bytestring_handle(it), n);
  if (len != NULL)
    *len = n;
  return true;
}

static stw_status_t to_label(const cbor_item_t *item, label_t *l)
{
  memset(l, 0, sizeof(*l));
  if (stw__cbor_int64(item, &l->i)) {
    l->is_int = true;
    return STW_OK;
  }
  if (cbor_isa_string(item) && cbor_string_is_definite(item)) {
    l->s = cbor_string_handle(item);
    l->slen = cbor_string_length(item);
    return STW_OK;
  }
  return STW_ERR_MALFORMED;
}

static bool label_equal(const label_t *a, const label_t *b)
{
  if (a->is_int != b->is_int)
    return false;
  if (a->is_int)
    return a->i == b->i;
  return a->slen == b->slen && (a->slen == 0 || memcmp(a->s, b->s, a->slen) == 0);
}

static bool label_understood(const label_t *l)
{
  return l->is_int && (l->i == LABEL_ALG || l->i == LABEL_CRIT ||
                       l->i == LABEL_CONTENT_TYPE || l->i == LABEL_KID);
}

/* Read one header map; is_protected says which bucket it is. */
static stw_status_t read_headers(const cbor_item_t *map, bool is_protected, headers_t *h,
                                 stw_cose_sign1_t *out)
{
  if (!cbor_isa_map(map) || !cbor_map_is_definite(map))
    return STW_ERR_MALFORMED;
  size_t n = cbor_map_size(map);
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < n; i++) {
    label_t l;
    stw_status_t st = to_label(pairs[i].key, &l);
    if (st != STW_OK)
      return st;
    /* A label may appear once, in one of the two maps (RFC 9052 3). */
    for (size_t j = 0; j < h->n; j++)
      if (label_equal(&l, &h->labels[j]))
        return STW_ERR_MALFORMED;
    if (h->n == HEADER_LABELS_MAX)
      return STW_ERR_TOO_LARGE;
    h->labels[h->n++] = l;
    if (!l.is_int)
      continue;
    const cbor_item_t *v = pairs[i].value;
    switch (l.i) {
    case LABEL_ALG:
      /* Only a protected alg counts: an unprotected one could be swapped. */
      if (!is_protected)
        return STW_ERR_UNSUPPORTED;
      if (stw__cbor_int64(v, &h->alg)) {
        h->alg_is_int = true;
      } else if (!(cbor_isa_string(v) && cbor_string_is_definite(v))) {
        return STW_ERR_MALFORMED;
      }
      h->have_alg = true;
      break;
    case LABEL_CRIT:
      if (!is_protected || !cbor_isa_array(v) || !cbor_array_is_definite(v) || cbor_array_size(v) == 0)
        return STW_ERR_MALFORMED;
      h->crit = v;
      break;
    case LABEL_CONTENT_TYPE:
      if (!cbor_isa_uint(v) && !(cbor_isa_string(v) && cbor_string_is_definite(v)))
        return STW_ERR_MALFORMED;
      break;
    case LABEL_KID:
      if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v))
        return STW_ERR_MALFORMED;
      if (cbor_bytestring_length(v) > STW_COSE_KID_MAX)
        return STW_ERR_TOO_LARGE;
      out->kid_len = cbor_bytestring_length(v);
      if (out->kid_len > 0)
        memcpy(out->kid, cbor_bytestring_handle(v), out->kid_len);
      break;
    default:
      break;  /* unknown and not critical: ignored, as RFC 9052 says */
    }
  }
  return STW_OK;
}

/* Every label crit names must be one we act on and be present in the
 * protected map (whose labels are the first n_protected entries). */
static stw_status_t check_crit(const headers_t *h, size_t n_protected)
{
  if (h->crit == NULL)
    return STW_OK;
  size_t n = cbor_array_size(h->crit);
  cbor_item_t **items = cbor_array_handle(h->crit);
  for (size_t i = 0; i < n; i++) {
    label_t l;
    if (to_label(items[i], &l) != STW_OK)
      return STW_ERR_MALFORMED;
    if (!label_understood(&l))
      return STW_ERR_UNSUPPORTED;
    bool present = false;
    for (size_t j = 0; j < n_protected; j++)
      present = present || label_equal(&l, &h->labels[j]);
    if (!present)
      return STW_ERR_MALFORMED;
  }
  return STW_OK;
}

stw_status_t stw__cbor_load(const uint8_t *p, size_t len, cbor_item_t **item)
{
  *item = NULL;
  if (p == NULL)
    return STW_ERR_MALFORMED;
  /* The reader's walk checks every count against the bytes left and bounds
   * the nesting before libcbor allocates anything. */
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, p, len);
  if (stw_cbor_skip(&r) != STW_OK || !stw_cbor_at_end(&r))
    return STW_ERR_MALFORMED;
  struct cbor_load_result res;
  *item = cbor_load(p, len, &res);
  if (*item == NULL)
    return res.error.code == CBOR_ERR_MEMERROR ? STW_ERR_NOMEM : STW_ERR_MALFORMED;
  if (res.read != len) {
    cbor_decref(item);
    return STW_ERR_MALFORMED;
  }
  return STW_OK;
}

stw_status_t stw_cose_sign1_parse(const uint8_t *msg, size_t len, stw_cose_sign1_t *out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (msg == NULL || len == 0)
    return STW_ERR_MALFORMED;
  if (len > STW_COSE_MAX)
    return STW_ERR_TOO_LARGE;
  cbor_item_t *prot = NULL, *unprot = NULL;
  headers_t h;
  memset(&h, 0, sizeof(h));
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, msg, len);
  stw_cbor_type_t type;
  uint64_t tag;
  size_t n;
  stw_status_t st = STW_ERR_MALFORMED;
  if (stw_cbor_peek_type(&r, &type) != STW_OK)
    goto out;
  /* The COSE_Sign1 tag is optional; any other tag is another type. */
  if (type == STW_CBOR_TAG && (stw_cbor_read_tag(&r, &tag) != STW_OK || tag != 18))
    goto out;
  /* [protected: bstr, unprotected: map, payload: bstr, signature: bstr] */
  if (stw_cbor_read_array(&r, &n) != STW_OK || n != 4)
    goto out;
  if (stw_cbor_read_bstr(&r, &out->protected_hdr, &out->protected_len) != STW_OK)
    goto out;
  const uint8_t *unprot_start = r.pos;
  if (stw_cbor_peek_type(&r, &type) != STW_OK || type != STW_CBOR_MAP || stw_cbor_skip(&r) != STW_OK)
    goto out;
  size_t unprot_len = (size_t)(r.pos - unprot_start);
  stw_cbor_reader_t probe = r;
  if (stw_cbor_peek_type(&r, &type) == STW_OK && type == STW_CBOR_SIMPLE) {
    /* Detached payloads (nil) are not offered, nor false, true, undefined
     * or a float in their place; an unassigned or broken simple value stays
     * malformed. */
    uint8_t info = r.pos[0] & 0x1f;
    if (info >= 20 && info != 24 && stw_cbor_skip(&probe) == STW_OK)
      st = STW_ERR_UNSUPPORTED;
    goto out;
  }
  if (stw_cbor_read_bstr(&r, &out->payload, &out->payload_len) != STW_OK)
    goto out;
  /* Nothing may follow the item. */
  if (stw_cbor_read_bstr(&r, &out->signature, &out->signature_len) != STW_OK || !stw_cbor_at_end(&r))
    goto out;

  /* Headers. An empty protected bstr means an empty map (RFC 9052 3). */
  if (out->protected_len > 0) {
    if ((st = stw__cbor_load(out->protected_hdr, out->protected_len, &prot)) != STW_OK)
      goto out;
    if ((st = read_headers(prot, true, &h, out)) != STW_OK)
      goto out;
  }
  size_t n_protected = h.n;
  if ((st = stw__cbor_load(unprot_start, unprot_len, &unprot)) != STW_OK)
    goto out;
  if ((st = read_headers(unprot, false, &h, out)) != STW_OK)
    goto out;
  if ((st = check_crit(&h, n_protected)) != STW_OK)
    goto out;
  st = STW_ERR_UNSUPPORTED;
  if (!h.have_alg || !h.alg_is_int || h.alg != STW_COSE_ALG_ES256)
    goto out;
  out->alg = h.alg;
  st = STW_ERR_MALFORMED;
  if (out->signature_len != STW_ES256_SIG_LEN)
    goto out;
  st = STW_OK;
out:
  if (prot != NULL)
    cbor_decref(&prot);
  if (unprot != NULL)
    cbor_decref(&unprot);
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

/* ---- building ---- */

/* A byte string item; an empty one needs no content allocation. */
static cbor_item_t *build_bstr(const uint8_t *data, size_t len)
{
  if (len == 0)
    return cbor_new_definite_bytestring();
  return cbor_build_bytestring(data, len);
}

/* Appends it to arr and drops our reference; false (and it freed) on failure. */
static bool push(cbor_item_t *arr, cbor_item_t *it)
{
  if (it == NULL)
    return false;
  bool ok = cbor_array_push(arr, it);
  cbor_decref(&it);
  return ok;
}

/* Sig_structure = ["Signature1", body_protected, external_aad, payload],
 * serialized; *out is malloc'd, the caller frees it. */
static stw_status_t sig_structure(const uint8_t *prot, size_t prot_len,
                                  const uint8_t *aad, size_t aad_len,
                                  const uint8_t *payload, size_t payload_len,
                                  uint8_t **out, size_t *out_len)
{
  *out = NULL;
  *out_len = 0;
  cbor_item_t *arr = cbor_new_definite_array(4);
  if (arr == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = STW_ERR_NOMEM;
  if (!push(arr, cbor_build_string("Signature1")) || !push(arr, build_bstr(prot, prot_len)) ||
      !push(arr, build_bstr(aad, aad_len)) || !push(arr, build_bstr(payload, payload_len)))
    goto out;
  size_t cap = 0;
  unsigned char *buf = NULL;
  size_t n = cbor_serialize_alloc(arr, &buf, &cap);
  if (n == 0) {
    free(buf);
    goto out;
  }
  *out = buf;
  *out_len = n;
  st = STW_OK;
out:
  cbor_decref(&arr);
  return st;
}

bool stw__cbor_map_put(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
  bool ok = k != NULL && v != NULL && cbor_map_add(map, (struct cbor_pair){.key = k, .value = v});
  if (k != NULL)
    cbor_decref(&k);
  if (v != NULL)
    cbor_decref(&v);
  return ok;
}

stw_status_t stw__cose_spki_kid(const uint8_t *spki, size_t len, uint8_t kid[STW_SPKI_KID_LEN])
{
  uint8_t d[32];
  stw_status_t st = stw_sha256(spki, len, d);
  if (st == STW_OK)
    memcpy(kid, d, STW_SPKI_KID_LEN);
  return st;
}

stw_status_t stw__cose_check_spki_kid(const stw_cose_sign1_t *s, const uint8_t *spki, size_t len)
{
  uint8_t kid[STW_SPKI_KID_LEN];
  stw_status_t st = stw__cose_spki_kid(spki, len, kid);
  if (st != STW_OK)
    return st;
  if (s->kid_len != STW_SPKI_KID_LEN || !stw_ct_equal(s->kid, kid, STW_SPKI_KID_LEN))
    return STW_ERR_UNTRUSTED;
  return STW_OK;
}

stw_status_t stw__cose_sign1_with_kid(const stw_key_t *key, const uint8_t *payload, size_t payload_len,
                                      const uint8_t *aad, size_t aad_len, size_t max, stw_buf_t *out)
{
  uint8_t spki[STW_SPKI_MAX], kid[STW_SPKI_KID_LEN];
  size_t spki_len = sizeof(spki);
  stw_status_t st = stw_key_spki(key, spki, &spki_len);
  if (st == STW_OK)
    st = stw__cose_spki_kid(spki, spki_len, kid);
  if (st != STW_OK)
    return st;
  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, max);
  out->len = 0;
  st = stw_cose_sign1_create(key, kid, sizeof(kid), payload, payload_len, aad, aad_len, out);
  if (st == STW_OK && out->len > max) {
    out->len = 0;
    st = STW_ERR_TOO_LARGE;
  }
  return st;
}

stw_status_t stw__cose_sign1_verify_kid(const uint8_t *msg, size_t len, const uint8_t *spki, size_t spki_len,
                                        const uint8_t *aad, size_t aad_len, stw_cose_sign1_t *s)
{
  stw_status_t st = stw_cose_sign1_verify(msg, len, spki, spki_len, aad, aad_len, s);
  if (st == STW_OK && stw__cose_check_spki_kid(s, spki, spki_len) != STW_OK)
    st = STW_ERR_BAD_SIGNATURE;
  return st;
}

stw_status_t stw_cose_sign1_create(const stw_key_t *key, const uint8_t *kid, size_t kid_len,
                                   const uint8_t *payload, size_t payload_len,
                                   const uint8_t *external_aad, size_t aad_len,
                                   stw_buf_t *out)
{
  if (key == NULL || out == NULL || (kid == NULL && kid_len > 0) || kid_len > STW_COSE_KID_MAX ||
      (payload == NULL && payload_len > 0) || (external_aad == NULL && aad_len > 0))
    return STW_ERR_INVALID;
  if (payload_len > STW_COSE_MAX || aad_len > STW_COSE_MAX)
    return STW_ERR_TOO_LARGE;
  /* The protected header is fixed: {1: -7}. */
  static const uint8_t prot[] = {0xa1, 0x01, 0x26};
  uint8_t *tbs = NULL, *bytes = NULL;
  size_t tbs_len = 0, bytes_len = 0, cap = 0;
  uint8_t sig[STW_ES256_SIG_LEN];
  cbor_item_t *arr = NULL, *unprot = NULL, *tagged = NULL;
  stw_status_t st = sig_structure(prot, sizeof(prot), external_aad, aad_len, payload, payload_len,
                                  &tbs, &tbs_len);
  if (st != STW_OK)
    goto out;
  if ((st = stw_key_sign(key, tbs, tbs_len, sig)) != STW_OK)
    goto out;
  st = STW_ERR_NOMEM;
  arr = cbor_new_definite_array(4);
  unprot = cbor_new_definite_map(kid_len > 0 ? 1 : 0);
  if (arr == NULL || unprot == NULL)
    goto out;
  if (kid_len > 0 && !stw__cbor_map_put(unprot, cbor_build_uint8(LABEL_KID), build_bstr(kid, kid_len)))
    goto out;
  if (!push(arr, build_bstr(prot, sizeof(prot))))
    goto out;
  bool pushed = cbor_array_push(arr, unprot);
  cbor_decref(&unprot);  /* only NULLs the pointer when it frees the item */
  unprot = NULL;
  if (!pushed || !push(arr, build_bstr(payload, payload_len)) || !push(arr, build_bstr(sig, sizeof(sig))))
    goto out;
  tagged = cbor_build_tag(18, arr);
  if (tagged == NULL)
    goto out;
  bytes_len = cbor_serialize_alloc(tagged, &bytes, &cap);
  if (bytes_len == 0)
    goto out;
  st = bytes_len > STW_COSE_MAX ? STW_ERR_TOO_LARGE : STW_OK;
  if (st == STW_OK) {
    if (out->data == NULL && out->max == 0)
      stw_buf_init(out, STW_COSE_MAX);
    out->len = 0;
    st = stw_buf_append(out, bytes, bytes_len);
  }
out:
  free(tbs);
  free(bytes);
  if (unprot != NULL)
    cbor_decref(&unprot);
  if (arr != NULL)
    cbor_decref(&arr);
  if (tagged != NULL)
    cbor_decref(&tagged);
  return st;
}

stw_status_t stw_cose_sign1_verify(const uint8_t *msg, size_t len,
                                   const uint8_t *spki, size_t spki_len,
                                   const uint8_t *external_aad, size_t aad_len,
                                   stw_cose_sign1_t *out)
{
  if (out == NULL || spki == NULL || (external_aad == NULL && aad_len > 0))
    return STW_ERR_INVALID;
  if (aad_len > STW_COSE_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t st = stw_cose_sign1_parse(msg, len, out);
  if (st != STW_OK)
    return st;
  uint8_t *tbs = NULL;
  size_t tbs_len = 0;
  st = sig_structure(out->protected_hdr, out->protected_len, external_aad, aad_len,
                     out->payload, out->payload_len, &tbs, &tbs_len);
  if (st == STW_OK)
    st = stw_spki_verify(spki, spki_len, tbs, tbs_len, out->signature);
  free(tbs);
  return st;
}
