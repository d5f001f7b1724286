/* Attestation evidence: an EAT-style claims set (RFC 9711 claim keys) as
 * deterministic CBOR, signed by the device in a COSE_Sign1; and the small
 * EAR-style result the verifier sends back. docs/formats-attestation.md has
 * the CDDL. As with manifests, one set of claims has exactly one encoding:
 * every claim present once, keys in order, shortest heads. */
#include "evidence.h"
#include "cbor_reader.h"
#include "cbor_writer.h"
#include "cose.h"
#include "cose_internal.h"

#include <string.h>

/* Claim keys (RFC 9711 and the CWT registry), and our private one. */
#define CLAIM_IAT 6
#define CLAIM_NONCE 10
#define CLAIM_UEID 256
#define CLAIM_BOOTCOUNT 267
#define CLAIM_MEASUREMENTS 273
#define CLAIM_FW_SEQUENCE (-65537)   /* private use (< -65536): installed manifest sequence */
#define CLAIM_COUNT 6

#define UEID_TYPE_RAND 0x01
#define UEID_LEN (1 + STW_DEVICE_ID_LEN)

/* EAR result: {1: verdict, 2: reasons}. */
#define EAR_KEY_VERDICT 1
#define EAR_KEY_REASONS 2
#define EAR_REASONS_MAX 255
#define EAR_MAX 512

/* The trustworthiness tiers of draft-ietf-rats-ear (AR4SI). */
enum { TIER_AFFIRMING = 2, TIER_WARNING = 32, TIER_CONTRAINDICATED = 96 };

/* Domain separation: a device key's COSE_Sign1 over anything else is never
 * evidence (docs/formats-attestation.md). */
static const uint8_t evidence_aad[] = "steward evidence v1";
#define EVIDENCE_AAD_LEN (sizeof(evidence_aad) - 1)

/* ---- deterministic CBOR (heads: cbor_writer.h) ---- */

/* Printable text without control bytes (names and reasons reach logs). */
static bool printable(const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

static bool name_ok(const char *s, size_t len)
{
  return len > 0 && len < STW_EVIDENCE_MEAS_NAME_MAX && printable(s, len) && memchr(s, '\0', len) == NULL;
}

/* Checks shared by what we sign and what we read. */
static bool evidence_ok(const stw_evidence_t *e)
{
  if (e->nonce_len < STW_EVIDENCE_NONCE_MIN || e->nonce_len > STW_EVIDENCE_NONCE_MAX)
    return false;
  if (e->ueid_len != UEID_LEN || e->ueid[0] != UEID_TYPE_RAND || e->iat < 0)
    return false;
  if (e->n_meas == 0 || e->n_meas > STW_EVIDENCE_MEAS_MAX)
    return false;
  for (size_t i = 0; i < e->n_meas; i++) {
    const char *name = e->meas[i].name;
    size_t len = strnlen(name, sizeof(e->meas[i].name));
    if (!name_ok(name, len))
      return false;
    /* Two digests under one name: which would the verifier appraise? */
    for (size_t j = 0; j < i; j++)
      if (strncmp(e->meas[j].name, name, sizeof(e->meas[j].name)) == 0)
        return false;
  }
  return true;
}

stw_status_t stw_evidence_set_ueid(stw_evidence_t *e, const char *device_id_hex)
{
  if (e == NULL || device_id_hex == NULL)
    return STW_ERR_INVALID;
  size_t len = strnlen(device_id_hex, 2 * STW_DEVICE_ID_LEN + 1);
  if (len != 2 * STW_DEVICE_ID_LEN)
    return STW_ERR_INVALID;
  uint8_t id[STW_DEVICE_ID_LEN];
  if (stw_hex_decode(device_id_hex, len, id, sizeof(id)) != STW_OK)
    return STW_ERR_INVALID;
  e->ueid[0] = UEID_TYPE_RAND;
  memcpy(e->ueid + 1, id, sizeof(id));
  e->ueid_len = UEID_LEN;
  return STW_OK;
}

stw_status_t stw_evidence_ueid_hex(const stw_evidence_t *e, char out[33])
{
  if (e == NULL || out == NULL)
    return STW_ERR_INVALID;
  if (e->ueid_len != UEID_LEN || e->ueid[0] != UEID_TYPE_RAND)
    return STW_ERR_MALFORMED;
  stw_hex_encode(e->ueid + 1, STW_DEVICE_ID_LEN, out);
  return STW_OK;
}

stw_status_t stw_evidence_encode(const stw_evidence_t *e, stw_buf_t *out)
{
  if (e == NULL || out == NULL || !evidence_ok(e))
    return STW_ERR_INVALID;
  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, STW_EVIDENCE_MAX);
  out->len = 0;
  /* Bytewise order of the encoded keys: 0x06, 0x0a, 0x19 0x01 0x00,
   * 0x19 0x01 0x0b, 0x19 0x01 0x11, then the negative 0x3a... */
  stw_status_t st;
  if ((st = stw_cbor_write_head(out, STW_CBOR_MAP, CLAIM_COUNT)) != STW_OK ||
      (st = stw_cbor_write_int(out, CLAIM_IAT)) != STW_OK || (st = stw_cbor_write_int(out, e->iat)) != STW_OK ||
      (st = stw_cbor_write_int(out, CLAIM_NONCE)) != STW_OK ||
      (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, e->nonce, e->nonce_len)) != STW_OK ||
      (st = stw_cbor_write_int(out, CLAIM_UEID)) != STW_OK ||
      (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, e->ueid, e->ueid_len)) != STW_OK ||
      (st = stw_cbor_write_int(out, CLAIM_BOOTCOUNT)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_UINT, e->boot_count)) != STW_OK ||
      (st = stw_cbor_write_int(out, CLAIM_MEASUREMENTS)) != STW_OK ||
      (st = stw_cbor_write_head(out, STW_CBOR_ARRAY, e->n_meas)) != STW_OK)
    return st;
  for (size_t i = 0; i < e->n_meas; i++) {
    const stw_measurement_t *m = &e->meas[i];
    if ((st = stw_cbor_write_head(out, STW_CBOR_ARRAY, 2)) != STW_OK ||
        (st = stw_cbor_write_text(out, m->name)) != STW_OK ||
        (st = stw_cbor_write_bytes(out, STW_CBOR_BSTR, m->digest, sizeof(m->digest))) != STW_OK)
      return st;
  }
  if ((st = stw_cbor_write_int(out, CLAIM_FW_SEQUENCE)) != STW_OK)
    return st;
  return stw_cbor_write_head(out, STW_CBOR_UINT, e->fw_sequence);
}

/* ---- parsing ---- */

static stw_status_t read_measurements(stw_cbor_reader_t *r, stw_evidence_t *e)
{
  size_t n;
  stw_status_t st = stw_cbor_read_array(r, &n);
  if (st != STW_OK)
    return st;
  if (n == 0)
    return STW_ERR_MALFORMED;
  if (n > STW_EVIDENCE_MEAS_MAX)
    return STW_ERR_TOO_LARGE;
  for (size_t i = 0; i < n; i++) {
    size_t pair, name_len, digest_len;
    const char *name;
    const uint8_t *digest;
    if ((st = stw_cbor_read_array(r, &pair)) != STW_OK)
      return st;
    if (pair != 2)
      return STW_ERR_MALFORMED;
    if ((st = stw_cbor_read_tstr(r, &name, &name_len)) != STW_OK ||
        (st = stw_cbor_read_bstr(r, &digest, &digest_len)) != STW_OK)
      return st;
    if (!name_ok(name, name_len) || digest_len != 32)
      return STW_ERR_MALFORMED;
    memcpy(e->meas[i].name, name, name_len);
    e->meas[i].name[name_len] = '\0';
    memcpy(e->meas[i].digest, digest, 32);
  }
  e->n_meas = n;
  return STW_OK;
}

/* The claims in their one order; a claim out of place is a duplicate, an
 * unknown key or a non-canonical map, all refused alike. */
static const int64_t claim_order[CLAIM_COUNT] = {
  CLAIM_IAT, CLAIM_NONCE, CLAIM_UEID, CLAIM_BOOTCOUNT, CLAIM_MEASUREMENTS, CLAIM_FW_SEQUENCE,
};

static stw_status_t decode_claims(const uint8_t *cbor, size_t len, stw_evidence_t *e)
{
  stw_cbor_reader_t r;
  size_t n;
  stw_cbor_reader_init(&r, cbor, len);
  stw_status_t st = stw_cbor_read_map(&r, &n);
  if (st != STW_OK)
    return st;
  if (n != CLAIM_COUNT)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < n; i++) {
    int64_t key;
    const uint8_t *p;
    size_t plen;
    if ((st = stw_cbor_read_int(&r, &key)) != STW_OK)
      return st;
    if (key != claim_order[i])
      return STW_ERR_MALFORMED;
    switch (key) {
    case CLAIM_IAT:
      st = stw_cbor_read_int(&r, &e->iat);
      break;
    case CLAIM_NONCE:
      if ((st = stw_cbor_read_bstr(&r, &p, &plen)) != STW_OK)
        break;
      if (plen < STW_EVIDENCE_NONCE_MIN || plen > STW_EVIDENCE_NONCE_MAX)
        return STW_ERR_MALFORMED;
      memcpy(e->nonce, p, plen);
      e->nonce_len = plen;
      break;
    case CLAIM_UEID:
      if ((st = stw_cbor_read_bstr(&r, &p, &plen)) != STW_OK)
        break;
      if (plen != UEID_LEN)
        return STW_ERR_MALFORMED;
      memcpy(e->ueid, p, plen);
      e->ueid_len = plen;
      break;
    case CLAIM_BOOTCOUNT:
      st = stw_cbor_read_uint(&r, &e->boot_count);
      break;
    case CLAIM_MEASUREMENTS:
      st = read_measurements(&r, e);
      break;
    default: /* CLAIM_FW_SEQUENCE */
      st = stw_cbor_read_uint(&r, &e->fw_sequence);
      break;
    }
    if (st != STW_OK)
      return st;
  }
  if ((st = stw_cbor_expect_end(&r)) != STW_OK)
    return st;
  return evidence_ok(e) ? STW_OK : STW_ERR_MALFORMED;
}

stw_status_t stw_evidence_decode(const uint8_t *cbor, size_t len, stw_evidence_t *out)
{
  if (out == NULL || (cbor == NULL && len > 0))
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (len > STW_EVIDENCE_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t st = decode_claims(cbor, len, out);
  if (st == STW_OK) {
    /* The reader accepts long heads; evidence must be in its one encoding. */
    stw_buf_t again;
    stw_buf_init(&again, STW_EVIDENCE_MAX);
    st = stw_cbor_check_one_encoding(stw_evidence_encode(out, &again), &again, cbor, len);
  }
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

stw_status_t stw_evidence_sign(const stw_evidence_t *e, const stw_key_t *device_key, stw_buf_t *out)
{
  if (e == NULL || device_key == NULL || out == NULL)
    return STW_ERR_INVALID;
  stw_buf_t claims;
  stw_buf_init(&claims, STW_EVIDENCE_MAX);
  stw_status_t st = stw_evidence_encode(e, &claims);
  if (st == STW_OK)
    st = stw__cose_sign1_with_kid(device_key, claims.data, claims.len, evidence_aad, EVIDENCE_AAD_LEN,
                                  STW_EVIDENCE_MAX, out);
  stw_buf_free(&claims, false);
  return st;
}

stw_status_t stw_evidence_parse(const uint8_t *msg, size_t len, stw_evidence_t *out)
{
  if (out == NULL || (msg == NULL && len > 0))
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (len > STW_EVIDENCE_MAX)
    return STW_ERR_TOO_LARGE;
  stw_cose_sign1_t s;
  stw_status_t st = stw_cose_sign1_parse(msg, len, &s);
  if (st == STW_OK)
    st = stw_evidence_decode(s.payload, s.payload_len, out);
  return st;
}

stw_status_t stw_evidence_verify(const uint8_t *msg, size_t len, const uint8_t *spki, size_t spki_len,
                                 stw_evidence_t *out)
{
  if (out == NULL || msg == NULL || spki == NULL)
    return STW_ERR_INVALID;
  /* Structure first (a malformed message is not "badly signed"), then the
   * signature, then the kid: one naming another key means another signer. */
  stw_status_t st = stw_evidence_parse(msg, len, out);
  if (st != STW_OK)
    return st;
  stw_cose_sign1_t s;
  st = stw__cose_sign1_verify_kid(msg, len, spki, spki_len, evidence_aad, EVIDENCE_AAD_LEN, &s);
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

/* ---- appraisal result ---- */

static bool tier_known(int verdict)
{
  return verdict == TIER_AFFIRMING || verdict == TIER_WARNING || verdict == TIER_CONTRAINDICATED;
}

const char *stw_ear_name(int verdict)
{
  switch (verdict) {
  case TIER_AFFIRMING:
    return "affirming";
  case TIER_WARNING:
    return "warning";
  case TIER_CONTRAINDICATED:
    return "contraindicated";
  default:
    return "none";
  }
}

stw_status_t stw_ear_encode(int verdict, const char *reasons, stw_buf_t *out)
{
  if (out == NULL || !tier_known(verdict))
    return STW_ERR_INVALID;
  if (reasons == NULL)
    reasons = "";
  size_t len = strnlen(reasons, EAR_REASONS_MAX + 1);
  if (len > EAR_REASONS_MAX)
    return STW_ERR_TOO_LARGE;
  if (!printable(reasons, len))
    return STW_ERR_INVALID;
  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, EAR_MAX);
  out->len = 0;
  stw_status_t st;
  if ((st = stw_cbor_write_head(out, STW_CBOR_MAP, 2)) != STW_OK ||
      (st = stw_cbor_write_int(out, EAR_KEY_VERDICT)) != STW_OK || (st = stw_cbor_write_int(out, verdict)) != STW_OK ||
      (st = stw_cbor_write_int(out, EAR_KEY_REASONS)) != STW_OK)
    return st;
  return stw_cbor_write_bytes(out, STW_CBOR_TSTR, reasons, len);
}

stw_status_t stw_ear_decode(const uint8_t *cbor, size_t len, int *verdict, char *reasons, size_t reasons_cap)
{
  if (verdict == NULL || reasons == NULL || reasons_cap == 0 || (cbor == NULL && len > 0))
    return STW_ERR_INVALID;
  *verdict = 0;
  reasons[0] = '\0';
  if (len > EAR_MAX)
    return STW_ERR_TOO_LARGE;
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, cbor, len);
  size_t n, text_len;
  uint64_t k1, k2, tier;
  const char *text;
  stw_status_t st;
  if ((st = stw_cbor_read_map(&r, &n)) != STW_OK || (st = stw_cbor_read_uint(&r, &k1)) != STW_OK ||
      (st = stw_cbor_read_uint(&r, &tier)) != STW_OK || (st = stw_cbor_read_uint(&r, &k2)) != STW_OK ||
      (st = stw_cbor_read_tstr(&r, &text, &text_len)) != STW_OK || (st = stw_cbor_expect_end(&r)) != STW_OK)
    return st;
  if (n != 2 || k1 != EAR_KEY_VERDICT || k2 != EAR_KEY_REASONS || tier > INT32_MAX || !tier_known((int)tier))
    return STW_ERR_MALFORMED;
  if (text_len > EAR_REASONS_MAX || !printable(text, text_len))
    return STW_ERR_MALFORMED;
  if (text_len >= reasons_cap)
    return STW_ERR_TOO_LARGE;
  memcpy(reasons, text, text_len);
  reasons[text_len] = '\0';
  *verdict = (int)tier;
  return STW_OK;
}
