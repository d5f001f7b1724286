/* Update manifests: one deterministic CBOR map (docs/formats-updates.md has
 * the CDDL), signed by the vendor, then authorised by the owner with a
 * second COSE_Sign1 whose payload is the vendor-signed bytes.
 *
 * Parsing is strict: a manifest has exactly one encoding (keys ascending,
 * shortest heads, every key present once), so what a device installs is
 * what both signers saw. Each signature carries its own external_aad, so a
 * manufacturer or domain key's signature on anything else (a voucher, a
 * token) can never be replayed as a manifest signature. */
#include "manifest.h"
#include "cbor_reader.h"
#include "cbor_writer.h"
#include "cose.h"
#include "cose_internal.h"

#include <string.h>

enum {
  KEY_VERSION = 1,
  KEY_SEQUENCE = 2,
  KEY_VENDOR = 3,
  KEY_CLASS = 4,
  KEY_COMPONENT = 5,
  KEY_DIGEST = 6,
  KEY_SIZE = 7,
  KEY_URI = 8,
  KEY_COUNT = 8,
};

#define MANIFEST_VERSION 1
#define COSE_ALG_SHA256 (-16)   /* RFC 9054: the digest algorithm id SUIT uses */

/* Domain separation: what each signature means (docs/formats-updates.md). */
static const uint8_t vendor_aad[] = "steward manifest v1: vendor";
static const uint8_t owner_aad[] = "steward manifest v1: owner authorisation";
#define VENDOR_AAD_LEN (sizeof(vendor_aad) - 1)
#define OWNER_AAD_LEN (sizeof(owner_aad) - 1)

/* ---- deterministic CBOR (heads: cbor_writer.h) ---- */

/* 1..cap-1 bytes of printable text: these strings end up in logs and on
 * the operator's terminal, so control bytes have no place in them. */
static bool text_ok(const char *s, size_t len, size_t cap)
{
  if (len == 0 || len >= cap)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

static bool field_ok(const char *s, size_t cap)
{
  size_t len = strnlen(s, cap);
  return len < cap && text_ok(s, len, cap);
}

static bool manifest_ok(const stw_manifest_t *m)
{
  return field_ok(m->vendor, sizeof(m->vendor)) && field_ok(m->class_id, sizeof(m->class_id)) &&
         field_ok(m->component, sizeof(m->component)) && field_ok(m->uri, sizeof(m->uri)) && m->size > 0;
}

stw_status_t stw_manifest_encode(const stw_manifest_t *m, stw_buf_t *out)
{
  if (m == NULL || out == NULL || !manifest_ok(m))
    return STW_ERR_INVALID;
  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, STW_MANIFEST_MAX);
  out->len = 0;
  /* Keys 1..8 are single bytes, so ascending order is bytewise order. */
  stw_status_t st;
  if ((st = stw_cbor_write_head(out, STW_CBOR_MAP, KEY_COUNT)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_VERSION)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, MANIFEST_VERSION)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_SEQUENCE)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, m->sequence)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_VENDOR)) != STW_OK ||
      (st = stw_cbor_write_text(out, m->vendor)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_CLASS)) != STW_OK ||
      (st = stw_cbor_write_text(out, m->class_id)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_COMPONENT)) != STW_OK ||
      (st = stw_cbor_write_text(out, m->component)) != STW_OK)
    return st;
  /* SUIT_Digest: [algorithm-id, bytes] */
  if ((st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_DIGEST)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_ARRAY, 2)) != STW_OK ||
      (st = stw_cbor_write_int(out, COSE_ALG_SHA256)) != STW_OK ||
      (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, m->digest, sizeof(m->digest))) != STW_OK)
    return st;
  if ((st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_SIZE)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, m->size)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, KEY_URI)) != STW_OK)
    return st;
  return stw_cbor_write_text(out, m->uri);
}

/* ---- parsing ---- */

static stw_status_t read_text(stw_cbor_reader_t *r, char *dst, size_t cap)
{
  const char *s;
  size_t len;
  stw_status_t st = stw_cbor_read_tstr(r, &s, &len);
  if (st != STW_OK)
    return st;
  if (!text_ok(s, len, cap))
    return STW_ERR_MALFORMED;
  memcpy(dst, s, len);
  dst[len] = '\0';
  return STW_OK;
}

static stw_status_t read_digest(stw_cbor_reader_t *r, uint8_t digest[32])
{
  size_t n, len;
  int64_t alg;
  const uint8_t *p;
  stw_status_t st;
  if ((st = stw_cbor_read_array(r, &n)) != STW_OK || (st = stw_cbor_read_int(r, &alg)) != STW_OK)
    return st;
  if (n != 2)
    return STW_ERR_MALFORMED;
  if (alg != COSE_ALG_SHA256)
    return STW_ERR_UNSUPPORTED;
  if ((st = stw_cbor_read_bstr(r, &p, &len)) != STW_OK)
    return st;
  if (len != 32)
    return STW_ERR_MALFORMED;
  memcpy(digest, p, 32);
  return STW_OK;
}

static stw_status_t decode_fields(const uint8_t *cbor, size_t len, stw_manifest_t *m)
{
  stw_cbor_reader_t r;
  size_t n;
  stw_cbor_reader_init(&r, cbor, len);
  stw_status_t st = stw_cbor_read_map(&r, &n);
  if (st != STW_OK)
    return st;
  if (n != KEY_COUNT)
    return STW_ERR_MALFORMED;
  uint64_t last = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t key, version;
    if ((st = stw_cbor_read_uint(&r, &key)) != STW_OK)
      return st;
    /* Strictly ascending: no duplicate, no key out of order, none unknown. */
    if (key <= last || key > KEY_COUNT)
      return STW_ERR_MALFORMED;
    last = key;
    switch (key) {
    case KEY_VERSION:
      if ((st = stw_cbor_read_uint(&r, &version)) != STW_OK)
        return st;
      if (version != MANIFEST_VERSION)
        return STW_ERR_UNSUPPORTED;
      break;
    case KEY_SEQUENCE:
      st = stw_cbor_read_uint(&r, &m->sequence);
      break;
    case KEY_VENDOR:
      st = read_text(&r, m->vendor, sizeof(m->vendor));
      break;
    case KEY_CLASS:
      st = read_text(&r, m->class_id, sizeof(m->class_id));
      break;
    case KEY_COMPONENT:
      st = read_text(&r, m->component, sizeof(m->component));
      break;
    case KEY_DIGEST:
      st = read_digest(&r, m->digest);
      break;
    case KEY_SIZE:
      st = stw_cbor_read_uint(&r, &m->size);
      if (st == STW_OK && m->size == 0)
        st = STW_ERR_MALFORMED;
      break;
    default: /* KEY_URI */
      st = read_text(&r, m->uri, sizeof(m->uri));
      break;
    }
    if (st != STW_OK)
      return st;
  }
  return stw_cbor_expect_end(&r);
}

stw_status_t stw_manifest_decode(const uint8_t *cbor, size_t len, stw_manifest_t *out)
{
  if (out == NULL || (cbor == NULL && len > 0))
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (len > STW_MANIFEST_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t st = decode_fields(cbor, len, out);
  if (st == STW_OK) {
    /* One manifest, one encoding: the reader accepts long heads, so the
     * bytes must also be exactly what we would have written. */
    stw_buf_t again;
    stw_buf_init(&again, STW_MANIFEST_MAX);
    st = stw_cbor_check_one_encoding(stw_manifest_encode(out, &again), &again, cbor, len);
  }
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

/* ---- signing ---- */

stw_status_t stw_manifest_vendor_sign(const stw_manifest_t *m, const stw_key_t *vendor_key, stw_buf_t *out)
{
  if (m == NULL || vendor_key == NULL || out == NULL)
    return STW_ERR_INVALID;
  stw_buf_t payload;
  stw_buf_init(&payload, STW_MANIFEST_MAX);
  stw_status_t st = stw_manifest_encode(m, &payload);
  if (st == STW_OK)
    st = stw__cose_sign1_with_kid(vendor_key, payload.data, payload.len, vendor_aad, VENDOR_AAD_LEN,
                                  STW_MANIFEST_MAX, out);
  stw_buf_free(&payload, false);
  return st;
}

/* A vendor-signed manifest, structure only: a COSE_Sign1 whose payload is a
 * manifest. */
static stw_status_t parse_vendor_signed(const uint8_t *msg, size_t len, stw_cose_sign1_t *s, stw_manifest_t *m)
{
  stw_status_t st = stw_cose_sign1_parse(msg, len, s);
  if (st == STW_OK)
    st = stw_manifest_decode(s->payload, s->payload_len, m);
  return st;
}

stw_status_t stw_manifest_authorize(const uint8_t *vendor_signed, size_t len, const stw_key_t *owner_key,
                                    stw_buf_t *out)
{
  if (vendor_signed == NULL || owner_key == NULL || out == NULL)
    return STW_ERR_INVALID;
  if (len > STW_MANIFEST_MAX)
    return STW_ERR_TOO_LARGE;
  /* The owner vouches for a manifest, never for bytes it cannot read. */
  stw_cose_sign1_t s;
  stw_manifest_t m;
  stw_status_t st = parse_vendor_signed(vendor_signed, len, &s, &m);
  if (st == STW_OK)
    st = stw__cose_sign1_with_kid(owner_key, vendor_signed, len, owner_aad, OWNER_AAD_LEN, STW_MANIFEST_MAX, out);
  return st;
}

stw_status_t stw_manifest_vendor_verify(const uint8_t *vendor_signed, size_t len, const uint8_t *vendor_spki,
                                        size_t vendor_spki_len, stw_manifest_t *out)
{
  if (out == NULL || vendor_signed == NULL || vendor_spki == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (len > STW_MANIFEST_MAX)
    return STW_ERR_TOO_LARGE;
  stw_cose_sign1_t s;
  stw_manifest_t m;
  /* Structure first: a malformed message is malformed, not badly signed. */
  stw_status_t st = parse_vendor_signed(vendor_signed, len, &s, &m);
  if (st == STW_OK)
    st = stw__cose_sign1_verify_kid(vendor_signed, len, vendor_spki, vendor_spki_len, vendor_aad, VENDOR_AAD_LEN, &s);
  if (st == STW_OK)
    *out = m;
  return st;
}

/* The envelope's structure: an owner COSE_Sign1 around a vendor COSE_Sign1
 * around a manifest. A bare vendor-signed manifest (its payload a manifest,
 * not a COSE_Sign1) lacks the owner's authorisation: STW_ERR_UNAUTHENTICATED. */
static stw_status_t parse_envelope(const uint8_t *env, size_t len, stw_cose_sign1_t *outer, stw_cose_sign1_t *inner,
                                   stw_manifest_t *m)
{
  if (len > STW_MANIFEST_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t st = stw_cose_sign1_parse(env, len, outer);
  if (st != STW_OK)
    return st;
  st = parse_vendor_signed(outer->payload, outer->payload_len, inner, m);
  if (st != STW_OK && stw_manifest_decode(outer->payload, outer->payload_len, m) == STW_OK)
    st = STW_ERR_UNAUTHENTICATED;
  return st;
}

stw_status_t stw_manifest_parse_envelope(const uint8_t *envelope, size_t len, stw_manifest_t *out)
{
  if (out == NULL || (envelope == NULL && len > 0))
    return STW_ERR_INVALID;
  stw_cose_sign1_t outer, inner;
  stw_status_t st = parse_envelope(envelope, len, &outer, &inner, out);
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

stw_status_t stw_manifest_verify(const uint8_t *envelope, size_t len, const uint8_t *vendor_spki,
                                 size_t vendor_spki_len, const uint8_t *owner_spki, size_t owner_spki_len,
                                 stw_manifest_t *out)
{
  if (out == NULL || envelope == NULL || vendor_spki == NULL || owner_spki == NULL)
    return STW_ERR_INVALID;
  stw_cose_sign1_t outer, inner;
  stw_manifest_t m;
  memset(out, 0, sizeof(*out));
  stw_status_t st = parse_envelope(envelope, len, &outer, &inner, &m);
  if (st != STW_OK)
    return st;
  /* The owner's signature covers the vendor's bytes, so checking it first
   * means the vendor layer we then check is the one the owner authorised. */
  st = stw__cose_sign1_verify_kid(envelope, len, owner_spki, owner_spki_len, owner_aad, OWNER_AAD_LEN, &outer);
  if (st == STW_OK)
    st = stw__cose_sign1_verify_kid(outer.payload, outer.payload_len, vendor_spki, vendor_spki_len, vendor_aad,
                                    VENDOR_AAD_LEN, &inner);
  if (st != STW_OK)
    return st;
  *out = m;
  return STW_OK;
}

stw_status_t stw_manifest_applies(const stw_manifest_t *m, const char *vendor, const char *class_id,
                                  uint64_t installed_sequence)
{
  if (m == NULL || vendor == NULL || class_id == NULL)
    return STW_ERR_INVALID;
  if (strncmp(m->vendor, vendor, sizeof(m->vendor)) != 0 || strncmp(m->class_id, class_id, sizeof(m->class_id)) != 0)
    return STW_ERR_FORBIDDEN;
  if (m->sequence <= installed_sequence)
    return STW_ERR_REPLAY;
  return STW_OK;
}
