/* OSCORE (RFC 8613): HKDF SHA-256 (GnuTLS) for the context, AES-CCM (nettle) with
 * an 8-byte tag and a 13-byte nonce (COSE alg 10) for the messages. Every
 * CBOR structure here is tiny and fixed in shape, so it is written with
 * stw_cbor_put_head() into stack buffers: no heap use of our own. */
#include "oscore.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/ccm.h>
#include <string.h>

#include "cbor_reader.h"

#define HKDF_PRK_LEN 32
#define FLAG_RESERVED 0xe0
#define FLAG_KID_CONTEXT 0x10
#define FLAG_KID 0x08
#define FLAG_PIV_LEN 0x07
#define COAP_PAYLOAD_MARKER 0xff

/* ---- small encoders ---- */

/* Append a CBOR head and, for strings, their bytes; false if it does not fit. */
static bool put_item(uint8_t *out, size_t cap, size_t *len, stw_cbor_type_t major, uint64_t arg,
                     const uint8_t *bytes, size_t n)
{
  uint8_t head[STW_CBOR_HEAD_MAX];
  size_t h = stw_cbor_put_head(major, arg, head);
  if (cap - *len < h || cap - *len - h < n)
    return false;
  memcpy(out + *len, head, h);
  if (n > 0)
    memcpy(out + *len + h, bytes, n);
  *len += h + n;
  return true;
}

static bool put_byte(uint8_t *out, size_t cap, size_t *len, uint8_t b)
{
  if (*len >= cap)
    return false;
  out[(*len)++] = b;
  return true;
}

stw_status_t stw_oscore_info_encode(const uint8_t *id, size_t id_len, bool has_id_context, const uint8_t *id_context,
                                    size_t id_context_len, bool for_iv, uint8_t *out, size_t out_cap,
                                    size_t *out_len)
{
  static const uint8_t type_key[] = {'K', 'e', 'y'};
  static const uint8_t type_iv[] = {'I', 'V'};
  size_t n = 0;
  bool ok = put_item(out, out_cap, &n, STW_CBOR_ARRAY, 5, NULL, 0) &&
            put_item(out, out_cap, &n, STW_CBOR_BSTR, id_len, id, id_len);
  if (ok && has_id_context)
    ok = put_item(out, out_cap, &n, STW_CBOR_BSTR, id_context_len, id_context, id_context_len);
  else if (ok)
    ok = put_byte(out, out_cap, &n, 0xf6);  /* nil: no ID Context */
  ok = ok && put_item(out, out_cap, &n, STW_CBOR_UINT, STW_OSCORE_ALG_AES_CCM_16_64_128, NULL, 0);
  if (for_iv)
    ok = ok && put_item(out, out_cap, &n, STW_CBOR_TSTR, sizeof(type_iv), type_iv, sizeof(type_iv)) &&
         put_item(out, out_cap, &n, STW_CBOR_UINT, STW_OSCORE_NONCE_LEN, NULL, 0);
  else
    ok = ok && put_item(out, out_cap, &n, STW_CBOR_TSTR, sizeof(type_key), type_key, sizeof(type_key)) &&
         put_item(out, out_cap, &n, STW_CBOR_UINT, STW_OSCORE_KEY_LEN, NULL, 0);
  if (!ok)
    return STW_ERR_TOO_LARGE;
  *out_len = n;
  return STW_OK;
}

stw_status_t stw_oscore_aad_encode(const uint8_t *request_kid, size_t kid_len, const uint8_t *request_piv,
                                   size_t piv_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
  static const uint8_t context[] = {'E', 'n', 'c', 'r', 'y', 'p', 't', '0'};
  if (kid_len > STW_OSCORE_ID_MAX || piv_len > STW_OSCORE_PIV_MAX)
    return STW_ERR_INVALID;
  /* aad_array = [1, [alg_aead], request_kid, request_piv, options (no Class I options)] */
  uint8_t array[32];
  size_t a = 0;
  bool ok = put_item(array, sizeof(array), &a, STW_CBOR_ARRAY, 5, NULL, 0) &&
            put_item(array, sizeof(array), &a, STW_CBOR_UINT, 1, NULL, 0) &&
            put_item(array, sizeof(array), &a, STW_CBOR_ARRAY, 1, NULL, 0) &&
            put_item(array, sizeof(array), &a, STW_CBOR_UINT, STW_OSCORE_ALG_AES_CCM_16_64_128, NULL, 0) &&
            put_item(array, sizeof(array), &a, STW_CBOR_BSTR, kid_len, request_kid, kid_len) &&
            put_item(array, sizeof(array), &a, STW_CBOR_BSTR, piv_len, request_piv, piv_len) &&
            put_item(array, sizeof(array), &a, STW_CBOR_BSTR, 0, NULL, 0);
  /* Enc_structure = ["Encrypt0", h'' (empty protected header), external_aad] */
  size_t n = 0;
  ok = ok && put_item(out, out_cap, &n, STW_CBOR_ARRAY, 3, NULL, 0) &&
       put_item(out, out_cap, &n, STW_CBOR_TSTR, sizeof(context), context, sizeof(context)) &&
       put_item(out, out_cap, &n, STW_CBOR_BSTR, 0, NULL, 0) &&
       put_item(out, out_cap, &n, STW_CBOR_BSTR, a, array, a);
  if (!ok)
    return STW_ERR_TOO_LARGE;
  *out_len = n;
  return STW_OK;
}

stw_status_t stw_oscore_nonce(const uint8_t common_iv[STW_OSCORE_NONCE_LEN], const uint8_t *id_piv, size_t id_len,
                              const uint8_t *piv, size_t piv_len, uint8_t nonce[STW_OSCORE_NONCE_LEN])
{
  if (id_len > STW_OSCORE_ID_MAX || piv_len > STW_OSCORE_PIV_MAX)
    return STW_ERR_INVALID;
  /* S | ID_PIV left-padded to nonce length - 6 | PIV left-padded to 5, XOR Common IV */
  uint8_t n[STW_OSCORE_NONCE_LEN] = {0};
  n[0] = (uint8_t)id_len;
  if (id_len > 0)
    memcpy(n + 1 + (STW_OSCORE_ID_MAX - id_len), id_piv, id_len);
  if (piv_len > 0)
    memcpy(n + 1 + STW_OSCORE_ID_MAX + (STW_OSCORE_PIV_MAX - piv_len), piv, piv_len);
  for (size_t i = 0; i < STW_OSCORE_NONCE_LEN; i++)
    nonce[i] = n[i] ^ common_iv[i];
  return STW_OK;
}

stw_status_t stw_oscore_piv_encode(uint64_t ssn, uint8_t piv[STW_OSCORE_PIV_MAX], size_t *piv_len)
{
  if (ssn > STW_OSCORE_SSN_MAX)
    return STW_ERR_EXPIRED;
  size_t len = 1;
  while (len < STW_OSCORE_PIV_MAX && (ssn >> (8 * len)) != 0)
    len++;
  for (size_t i = 0; i < len; i++)
    piv[i] = (uint8_t)(ssn >> (8 * (len - 1 - i)));
  *piv_len = len;
  return STW_OK;
}

static uint64_t piv_value(const uint8_t *piv, size_t len)
{
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++)
    v = v << 8 | piv[i];
  return v;
}

/* ---- security context ---- */

stw_status_t stw_oscore_ctx_derive(stw_oscore_ctx_t *ctx, const stw_oscore_params_t *p)
{
  stw_status_t st = STW_ERR_INVALID;
  uint8_t prk[HKDF_PRK_LEN];
  uint8_t info[STW_OSCORE_INFO_MAX];
  size_t info_len;
  memset(ctx, 0, sizeof(*ctx));
  if (p->master_secret == NULL || p->master_secret_len == 0 || p->sender_id_len > STW_OSCORE_ID_MAX ||
      p->recipient_id_len > STW_OSCORE_ID_MAX || (p->has_id_context && p->id_context_len > STW_OSCORE_ID_CONTEXT_MAX))
    goto out;
  /* Equal IDs would give both directions one key and clashing nonces. */
  if (p->sender_id_len == p->recipient_id_len &&
      (p->sender_id_len == 0 || memcmp(p->sender_id, p->recipient_id, p->sender_id_len) == 0))
    goto out;

  /* An empty salt is HMAC's all-zero key, as RFC 5869 wants for "no salt". */
  static const uint8_t no_salt[1];
  gnutls_datum_t ikm = {(unsigned char *)(uintptr_t)p->master_secret, (unsigned)p->master_secret_len};
  gnutls_datum_t salt = {(unsigned char *)(uintptr_t)(p->master_salt_len > 0 ? p->master_salt : no_salt),
                         (unsigned)p->master_salt_len};
  st = STW_ERR_CRYPTO;
  if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &salt, prk) != 0)
    goto out;
  gnutls_datum_t prk_datum = {prk, sizeof(prk)};

  struct {
    const uint8_t *id;
    size_t id_len;
    bool for_iv;
    uint8_t *out;
    size_t out_len;
  } outputs[] = {
    {p->sender_id, p->sender_id_len, false, ctx->sender_key, STW_OSCORE_KEY_LEN},
    {p->recipient_id, p->recipient_id_len, false, ctx->recipient_key, STW_OSCORE_KEY_LEN},
    {NULL, 0, true, ctx->common_iv, STW_OSCORE_NONCE_LEN},
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(outputs); i++) {
    st = stw_oscore_info_encode(outputs[i].id, outputs[i].id_len, p->has_id_context, p->id_context,
                                p->id_context_len, outputs[i].for_iv, info, sizeof(info), &info_len);
    if (st != STW_OK)
      goto out;
    gnutls_datum_t info_datum = {info, (unsigned)info_len};
    if (gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &prk_datum, &info_datum, outputs[i].out, outputs[i].out_len) != 0) {
      st = STW_ERR_CRYPTO;
      goto out;
    }
  }
  if (p->sender_id_len > 0)
    memcpy(ctx->sender_id, p->sender_id, p->sender_id_len);
  ctx->sender_id_len = p->sender_id_len;
  if (p->recipient_id_len > 0)
    memcpy(ctx->recipient_id, p->recipient_id, p->recipient_id_len);
  ctx->recipient_id_len = p->recipient_id_len;
  ctx->has_id_context = p->has_id_context;
  if (p->has_id_context && p->id_context_len > 0)
    memcpy(ctx->id_context, p->id_context, p->id_context_len);
  ctx->id_context_len = p->has_id_context ? p->id_context_len : 0;
  ccm_aes128_set_key(&ctx->sender_ccm, ctx->sender_key);
  ccm_aes128_set_key(&ctx->recipient_ccm, ctx->recipient_key);
  st = STW_OK;
out:
  stw_wipe(prk, sizeof(prk));
  if (st != STW_OK)
    stw_oscore_ctx_wipe(ctx);
  return st;
}

stw_status_t stw_oscore_ctx_set_persistence(stw_oscore_ctx_t *ctx, uint64_t step, stw_oscore_persist_fn persist,
                                            void *arg)
{
  if (step == 0 || persist == NULL)
    return STW_ERR_INVALID;
  ctx->ssn_step = step;
  ctx->persist = persist;
  ctx->persist_arg = arg;
  ctx->ssn_persisted = ctx->ssn;  /* nothing covered yet: the next use persists first */
  return STW_OK;
}

stw_status_t stw_oscore_ctx_resume(stw_oscore_ctx_t *ctx, uint64_t stored_next_ssn)
{
  /* Numbers below the stored bound may have been used before the reboot. */
  ctx->ssn = stored_next_ssn;
  ctx->ssn_persisted = stored_next_ssn;
  stw_oscore_replay_set_lost(ctx);
  return stored_next_ssn > STW_OSCORE_SSN_MAX ? STW_ERR_EXPIRED : STW_OK;
}

void stw_oscore_replay_set_lost(stw_oscore_ctx_t *ctx)
{
  stw_wipe(&ctx->replay, sizeof(ctx->replay));
  ctx->replay.lost = true;
}

void stw_oscore_ctx_wipe(stw_oscore_ctx_t *ctx)
{
  stw_wipe(ctx, sizeof(*ctx));
}

/* The next Sender Sequence Number, persisting the bound first when the
 * number is not yet covered: a reboot can then never hand it out again. */
static stw_status_t ssn_take(stw_oscore_ctx_t *ctx, uint64_t *ssn)
{
  if (ctx->ssn > STW_OSCORE_SSN_MAX)
    return STW_ERR_EXPIRED;
  if (ctx->persist != NULL && ctx->ssn >= ctx->ssn_persisted) {
    uint64_t left = STW_OSCORE_SSN_MAX + 1 - ctx->ssn;
    uint64_t next = ctx->ssn_step >= left ? STW_OSCORE_SSN_MAX + 1 : ctx->ssn + ctx->ssn_step;
    stw_status_t st = ctx->persist(ctx->persist_arg, next);
    if (st != STW_OK)
      return st;
    ctx->ssn_persisted = next;
  }
  *ssn = ctx->ssn++;
  return STW_OK;
}

bool stw_oscore_ctx_matches(const stw_oscore_ctx_t *ctx, const stw_oscore_option_t *opt)
{
  if (!opt->has_kid || opt->kid_len != ctx->recipient_id_len ||
      (opt->kid_len > 0 && memcmp(opt->kid, ctx->recipient_id, opt->kid_len) != 0))
    return false;
  if (!opt->has_kid_context)
    return true;
  return ctx->has_id_context && opt->kid_context_len == ctx->id_context_len &&
         (opt->kid_context_len == 0 || memcmp(opt->kid_context, ctx->id_context, opt->kid_context_len) == 0);
}

/* ---- the OSCORE option value ---- */

stw_status_t stw_oscore_option_parse(const uint8_t *value, size_t len, stw_oscore_option_t *out)
{
  memset(out, 0, sizeof(*out));
  if (len > STW_OSCORE_OPTION_VALUE_LIMIT)
    return STW_ERR_TOO_LARGE;
  if (len == 0)
    return STW_OK;  /* all flags zero */
  const uint8_t *pos = value, *end = value + len;
  uint8_t flags = *pos++;
  size_t n = flags & FLAG_PIV_LEN;
  if ((flags & FLAG_RESERVED) != 0 || n > STW_OSCORE_PIV_MAX || flags == 0)
    return STW_ERR_MALFORMED;
  if ((size_t)(end - pos) < n)
    return STW_ERR_MALFORMED;
  if (n > 0) {
    /* Shortest form only (5): one number, one encoding, one AAD. */
    if (n > 1 && pos[0] == 0)
      return STW_ERR_MALFORMED;
    out->piv = pos;
    out->piv_len = n;
    pos += n;
  }
  if (flags & FLAG_KID_CONTEXT) {
    if (pos == end)
      return STW_ERR_MALFORMED;
    size_t s = *pos++;
    if ((size_t)(end - pos) < s)
      return STW_ERR_MALFORMED;
    out->has_kid_context = true;
    out->kid_context = pos;
    out->kid_context_len = s;
    pos += s;
  }
  if (flags & FLAG_KID) {
    out->has_kid = true;
    out->kid = pos;
    out->kid_len = (size_t)(end - pos);
    pos = end;
  }
  return pos == end ? STW_OK : STW_ERR_MALFORMED;
}

stw_status_t stw_oscore_option_encode(const stw_oscore_option_t *opt, uint8_t *out, size_t out_cap, size_t *out_len)
{
  if (opt->piv_len > STW_OSCORE_PIV_MAX || (opt->has_kid_context && opt->kid_context_len > 255))
    return STW_ERR_INVALID;
  uint8_t flags = (uint8_t)opt->piv_len;
  if (opt->has_kid_context)
    flags |= FLAG_KID_CONTEXT;
  if (opt->has_kid)
    flags |= FLAG_KID;
  size_t n = 0;
  if (flags == 0) {
    *out_len = 0;
    return STW_OK;
  }
  size_t need = 1 + opt->piv_len + (opt->has_kid_context ? 1 + opt->kid_context_len : 0) +
                (opt->has_kid ? opt->kid_len : 0);
  if (need > out_cap || need > STW_OSCORE_OPTION_VALUE_LIMIT)
    return STW_ERR_TOO_LARGE;
  out[n++] = flags;
  if (opt->piv_len > 0) {
    memcpy(out + n, opt->piv, opt->piv_len);
    n += opt->piv_len;
  }
  if (opt->has_kid_context) {
    out[n++] = (uint8_t)opt->kid_context_len;
    if (opt->kid_context_len > 0)
      memcpy(out + n, opt->kid_context, opt->kid_context_len);
    n += opt->kid_context_len;
  }
  if (opt->has_kid && opt->kid_len > 0) {
    memcpy(out + n, opt->kid, opt->kid_len);
    n += opt->kid_len;
  }
  *out_len = n;
  return STW_OK;
}

/* ---- CoAP options (RFC 7252 3.1) ---- */

/* Read an extended delta or length nibble. */
static bool opt_nibble(uint8_t nibble, const uint8_t **pos, const uint8_t *end, uint32_t *value)
{
  if (nibble < 13) {
    *value = nibble;
    return true;
  }
  if (nibble == 13) {
    if (end - *pos < 1)
      return false;
    *value = 13u + (*pos)[0];
    *pos += 1;
    return true;
  }
  if (nibble == 14) {
    if (end - *pos < 2)
      return false;
    *value = 269u + ((uint32_t)(*pos)[0] << 8 | (*pos)[1]);
    *pos += 2;
    return true;
  }
  return false;  /* 15 is reserved (and the payload marker) */
}

void stw_oscore_opt_iter_init(stw_oscore_opt_iter_t *it, const uint8_t *options, size_t len)
{
  it->pos = options;
  it->end = options + len;
  it->number = 0;
}

stw_status_t stw_oscore_opt_next(stw_oscore_opt_iter_t *it, uint16_t *number, const uint8_t **value, size_t *len)
{
  if (it->pos == NULL || it->pos >= it->end)
    return STW_ERR_NOT_FOUND;
  const uint8_t *pos = it->pos;
  uint8_t head = *pos++;
  uint32_t delta, length;
  if (!opt_nibble(head >> 4, &pos, it->end, &delta) || !opt_nibble(head & 0x0f, &pos, it->end, &length))
    return STW_ERR_MALFORMED;
  if ((size_t)(it->end - pos) < length || it->number + delta > UINT16_MAX)
    return STW_ERR_MALFORMED;
  it->number += delta;
  *number = (uint16_t)it->number;
  *value = pos;
  *len = length;
  it->pos = pos + length;
  return STW_OK;
}

stw_status_t stw_oscore_opt_put(uint8_t *out, size_t out_cap, size_t *out_len, uint16_t *last_number,
                                uint16_t number, const uint8_t *value, size_t value_len)
{
  if (number < *last_number || value_len > 65535u + 269u)
    return STW_ERR_INVALID;
  uint32_t fields[2] = {(uint32_t)(number - *last_number), (uint32_t)value_len};
  uint8_t head[5];
  size_t h = 1;
  uint8_t nibbles[2];
  for (size_t i = 0; i < 2; i++) {
    uint32_t v = fields[i];
    if (v < 13) {
      nibbles[i] = (uint8_t)v;
    } else if (v < 269) {
      nibbles[i] = 13;
      head[h++] = (uint8_t)(v - 13);
    } else {
      nibbles[i] = 14;
      head[h++] = (uint8_t)((v - 269) >> 8);
      head[h++] = (uint8_t)(v - 269);
    }
  }
  head[0] = (uint8_t)(nibbles[0] << 4 | nibbles[1]);
  if (out_cap < *out_len || out_cap - *out_len < h || out_cap - *out_len - h < value_len)
    return STW_ERR_TOO_LARGE;
  memcpy(out + *out_len, head, h);
  if (value_len > 0)
    memcpy(out + *out_len + h, value, value_len);
  *out_len += h + value_len;
  *last_number = number;
  return STW_OK;
}

stw_status_t stw_oscore_msg_find_option(const stw_oscore_msg_t *msg, uint16_t number, const uint8_t **value,
                                        size_t *len)
{
  stw_oscore_opt_iter_t it;
  stw_oscore_opt_iter_init(&it, msg->options, msg->options_len);
  uint16_t n;
  stw_status_t st;
  while ((st = stw_oscore_opt_next(&it, &n, value, len)) == STW_OK) {
    if (n == number)
      return STW_OK;
  }
  return st;
}

stw_status_t stw_oscore_plaintext_parse(const uint8_t *pt, size_t len, stw_oscore_msg_t *msg)
{
  memset(msg, 0, sizeof(*msg));
  if (len == 0)
    return STW_ERR_MALFORMED;
  msg->code = pt[0];
  const uint8_t *start = pt + 1, *end = pt + len;
  stw_oscore_opt_iter_t it;
  stw_oscore_opt_iter_init(&it, start, (size_t)(end - start));
  /* Walk the options up to the payload marker or the end. */
  while (it.pos < end && *it.pos != COAP_PAYLOAD_MARKER) {
    uint16_t number;
    const uint8_t *value;
    size_t vlen;
    if (stw_oscore_opt_next(&it, &number, &value, &vlen) != STW_OK)
      return STW_ERR_MALFORMED;
  }
  msg->options = start;
  msg->options_len = (size_t)(it.pos - start);
  if (it.pos < end) {
    if (end - it.pos < 2)
      return STW_ERR_MALFORMED;  /* a marker must be followed by payload */
    msg->payload = it.pos + 1;
    msg->payload_len = (size_t)(end - it.pos - 1);
  }
  return STW_OK;
}

static size_t plaintext_len(const stw_oscore_msg_t *msg)
{
  if (msg->options_len > STW_OSCORE_PLAINTEXT_MAX || msg->payload_len > STW_OSCORE_PLAINTEXT_MAX)
    return 0;
  size_t n = 1 + msg->options_len + (msg->payload_len > 0 ? 1 + msg->payload_len : 0);
  return n > STW_OSCORE_PLAINTEXT_MAX ? 0 : n;
}

size_t stw_oscore_ciphertext_len(const stw_oscore_msg_t *msg)
{
  size_t n = plaintext_len(msg);
  return n == 0 ? 0 : n + STW_OSCORE_TAG_LEN;
}

/* ---- AEAD ---- */

/* nettle's one-shot CCM over the key schedule the context keeps: no
 * allocation and no handle to set up per message, which is what made gnutls'
 * aead_cipher_init the larger share of a small message's cost. */
static stw_status_t aead_seal(struct ccm_aes128_ctx *cipher, const uint8_t nonce[STW_OSCORE_NONCE_LEN],
                              const uint8_t *aad, size_t aad_len, const stw_oscore_msg_t *msg, uint8_t *ct,
                              size_t ct_len)
{
  if (ct_len < STW_OSCORE_TAG_LEN + 1)
    return STW_ERR_CRYPTO;
  /* The plaintext (Code, options, marker, payload) is laid out in the
   * ciphertext's own buffer and encrypted in place. */
  size_t pt_len = ct_len - STW_OSCORE_TAG_LEN, at = 0;
  ct[at++] = msg->code;
  if (msg->options_len > 0) {
    memcpy(ct + at, msg->options, msg->options_len);
    at += msg->options_len;
  }
  if (msg->payload_len > 0) {
    ct[at++] = COAP_PAYLOAD_MARKER;
    memcpy(ct + at, msg->payload, msg->payload_len);
    at += msg->payload_len;
  }
  if (at != pt_len) {
    stw_wipe(ct, at);
    return STW_ERR_CRYPTO;
  }
  ccm_aes128_encrypt_message(cipher, STW_OSCORE_NONCE_LEN, nonce, aad_len, aad, STW_OSCORE_TAG_LEN, ct_len, ct, ct);
  return STW_OK;
}

static stw_status_t aead_open(struct ccm_aes128_ctx *cipher, const uint8_t nonce[STW_OSCORE_NONCE_LEN],
                              const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt,
                              size_t pt_cap, size_t *pt_len)
{
  if (ct_len < STW_OSCORE_TAG_LEN || pt_cap < ct_len - STW_OSCORE_TAG_LEN)
    return STW_ERR_CRYPTO;
  int valid = ccm_aes128_decrypt_message(cipher, STW_OSCORE_NONCE_LEN, nonce, aad_len, aad, STW_OSCORE_TAG_LEN,
                                         ct_len - STW_OSCORE_TAG_LEN, pt, ct);
  if (!valid) {
    stw_wipe(pt, ct_len - STW_OSCORE_TAG_LEN);  /* nothing unverified leaves */
    return STW_ERR_BAD_SIGNATURE;
  }
  *pt_len = ct_len - STW_OSCORE_TAG_LEN;
  return STW_OK;
}

/* Check the ciphertext's size and the room for its plaintext. */
static stw_status_t check_ciphertext(size_t ct_len, size_t pt_cap)
{
  if (ct_len < STW_OSCORE_TAG_LEN + 1)
    return STW_ERR_MALFORMED;  /* not even a Code inside */
  if (ct_len - STW_OSCORE_TAG_LEN > STW_OSCORE_PLAINTEXT_MAX)
    return STW_ERR_TOO_LARGE;
  if (pt_cap < ct_len - STW_OSCORE_TAG_LEN)
    return STW_ERR_INVALID;
  return STW_OK;
}

/* ---- protect / unprotect ---- */

stw_status_t stw_oscore_protect_request(stw_oscore_ctx_t *ctx, const stw_oscore_msg_t *msg, bool send_kid_context,
                                        uint8_t *option, size_t option_cap, size_t *option_len, uint8_t *ct,
                                        size_t ct_cap, size_t *ct_len, stw_oscore_request_t *binding)
{
  stw_status_t st;
  uint8_t piv[STW_OSCORE_PIV_MAX], nonce[STW_OSCORE_NONCE_LEN], aad[STW_OSCORE_AAD_MAX];
  size_t piv_len, aad_len;
  uint64_t ssn;
  size_t need = stw_oscore_ciphertext_len(msg);
  if (need == 0 || need > ct_cap)
    return STW_ERR_TOO_LARGE;
  if (send_kid_context && !ctx->has_id_context)
    return STW_ERR_INVALID;
  /* Check every buffer before a sequence number is spent. */
  st = stw_oscore_piv_encode(ctx->ssn, piv, &piv_len);
  if (st != STW_OK)
    return st;
  stw_oscore_option_t opt = {
    .piv = piv, .piv_len = piv_len,
    .has_kid_context = send_kid_context, .kid_context = ctx->id_context, .kid_context_len = ctx->id_context_len,
    .has_kid = true, .kid = ctx->sender_id, .kid_len = ctx->sender_id_len,
  };
  st = stw_oscore_option_encode(&opt, option, option_cap, option_len);
  if (st != STW_OK)
    return st;
  st = ssn_take(ctx, &ssn);
  if (st != STW_OK)
    goto out;
  st = stw_oscore_nonce(ctx->common_iv, ctx->sender_id, ctx->sender_id_len, piv, piv_len, nonce);
  if (st == STW_OK)
    st = stw_oscore_aad_encode(ctx->sender_id, ctx->sender_id_len, piv, piv_len, aad, sizeof(aad), &aad_len);
  if (st == STW_OK)
    st = aead_seal(&ctx->sender_ccm, nonce, aad, aad_len, msg, ct, need);
  if (st != STW_OK)
    goto out;
  *ct_len = need;
  memset(binding, 0, sizeof(*binding));
  memcpy(binding->kid, ctx->sender_id, ctx->sender_id_len);
  binding->kid_len = ctx->sender_id_len;
  memcpy(binding->piv, piv, piv_len);
  binding->piv_len = piv_len;
out:
  if (st != STW_OK)
    *option_len = 0;
  stw_wipe(nonce, sizeof(nonce));
  return st;
}

stw_status_t stw_oscore_unprotect_request(stw_oscore_ctx_t *ctx, const stw_oscore_option_t *opt, const uint8_t *ct,
                                          size_t ct_len, uint8_t *pt, size_t pt_cap, stw_oscore_msg_t *msg,
                                          stw_oscore_request_t *binding)
{
  stw_status_t st;
  uint8_t nonce[STW_OSCORE_NONCE_LEN], aad[STW_OSCORE_AAD_MAX];
  size_t aad_len, pt_len = 0;
  memset(msg, 0, sizeof(*msg));
  if (opt->piv_len == 0 || opt->piv_len > STW_OSCORE_PIV_MAX || !opt->has_kid)
    return STW_ERR_MALFORMED;  /* a request carries both (5) */
  if (!stw_oscore_ctx_matches(ctx, opt))
    return STW_ERR_NOT_FOUND;
  st = check_ciphertext(ct_len, pt_cap);
  if (st != STW_OK)
    return st;
  uint64_t piv = piv_value(opt->piv, opt->piv_len);
  bool lost = ctx->replay.lost;
  if (!lost) {
    st = stw_oscore_replay_check(&ctx->replay, piv);
    if (st != STW_OK)
      return st;
  }
  st = stw_oscore_nonce(ctx->common_iv, opt->kid, opt->kid_len, opt->piv, opt->piv_len, nonce);
  if (st == STW_OK)
    st = stw_oscore_aad_encode(opt->kid, opt->kid_len, opt->piv, opt->piv_len, aad, sizeof(aad), &aad_len);
  if (st == STW_OK)
    st = aead_open(&ctx->recipient_ccm, nonce, aad, aad_len, ct, ct_len, pt, pt_cap, &pt_len);
  if (st != STW_OK)
    goto out;
  /* Verified: only now may the window move (8.2 step 6). */
  if (!lost)
    stw_oscore_replay_update(&ctx->replay, piv);
  memset(binding, 0, sizeof(*binding));
  memcpy(binding->kid, opt->kid, opt->kid_len);
  binding->kid_len = opt->kid_len;
  memcpy(binding->piv, opt->piv, opt->piv_len);
  binding->piv_len = opt->piv_len;
  st = stw_oscore_plaintext_parse(pt, pt_len, msg);
  if (st == STW_OK && lost)
    st = STW_ERR_STATE;
out:
  if (st != STW_OK && st != STW_ERR_STATE) {
    stw_wipe(pt, pt_len);
    memset(msg, 0, sizeof(*msg));
  }
  stw_wipe(nonce, sizeof(nonce));
  return st;
}

stw_status_t stw_oscore_protect_response(stw_oscore_ctx_t *ctx, const stw_oscore_request_t *binding,
                                         const stw_oscore_msg_t *msg, bool with_piv, uint8_t *option,
                                         size_t option_cap, size_t *option_len, uint8_t *ct, size_t ct_cap,
                                         size_t *ct_len)
{
  stw_status_t st;
  uint8_t piv[STW_OSCORE_PIV_MAX], nonce[STW_OSCORE_NONCE_LEN], aad[STW_OSCORE_AAD_MAX];
  size_t piv_len = 0, aad_len;
  uint64_t ssn;
  size_t need = stw_oscore_ciphertext_len(msg);
  if (need == 0 || need > ct_cap)
    return STW_ERR_TOO_LARGE;
  if (binding->kid_len > STW_OSCORE_ID_MAX || binding->piv_len == 0 || binding->piv_len > STW_OSCORE_PIV_MAX)
    return STW_ERR_INVALID;
  if (ctx->replay.lost)
    with_piv = true;
  stw_oscore_option_t opt = {0};
  if (with_piv) {
    st = stw_oscore_piv_encode(ctx->ssn, piv, &piv_len);
    if (st != STW_OK)
      return st;
    opt.piv = piv;
    opt.piv_len = piv_len;
  }
  st = stw_oscore_option_encode(&opt, option, option_cap, option_len);
  if (st != STW_OK)
    return st;
  if (with_piv) {
    st = ssn_take(ctx, &ssn);
    if (st == STW_OK)
      st = stw_oscore_nonce(ctx->common_iv, ctx->sender_id, ctx->sender_id_len, piv, piv_len, nonce);
  } else {
    /* The request's nonce: its kid made its Partial IV (5.2). */
    st = stw_oscore_nonce(ctx->common_iv, binding->kid, binding->kid_len, binding->piv, binding->piv_len, nonce);
  }
  if (st == STW_OK)
    st = stw_oscore_aad_encode(binding->kid, binding->kid_len, binding->piv, binding->piv_len, aad, sizeof(aad),
                               &aad_len);
  if (st == STW_OK)
    st = aead_seal(&ctx->sender_ccm, nonce, aad, aad_len, msg, ct, need);
  if (st == STW_OK)
    *ct_len = need;
  else
    *option_len = 0;
  stw_wipe(nonce, sizeof(nonce));
  return st;
}

stw_status_t stw_oscore_unprotect_response(stw_oscore_ctx_t *ctx, const stw_oscore_request_t *binding,
                                           const stw_oscore_option_t *opt, const uint8_t *ct, size_t ct_len,
                                           uint8_t *pt, size_t pt_cap, stw_oscore_msg_t *msg)
{
  stw_status_t st;
  uint8_t nonce[STW_OSCORE_NONCE_LEN], aad[STW_OSCORE_AAD_MAX];
  size_t aad_len, pt_len = 0;
  memset(msg, 0, sizeof(*msg));
  if (binding->kid_len > STW_OSCORE_ID_MAX || binding->piv_len == 0 || binding->piv_len > STW_OSCORE_PIV_MAX)
    return STW_ERR_INVALID;
  st = check_ciphertext(ct_len, pt_cap);
  if (st != STW_OK)
    return st;
  if (opt->piv_len > 0)
    st = stw_oscore_nonce(ctx->common_iv, ctx->recipient_id, ctx->recipient_id_len, opt->piv, opt->piv_len, nonce);
  else
    st = stw_oscore_nonce(ctx->common_iv, binding->kid, binding->kid_len, binding->piv, binding->piv_len, nonce);
  if (st == STW_OK)
    st = stw_oscore_aad_encode(binding->kid, binding->kid_len, binding->piv, binding->piv_len, aad, sizeof(aad),
                               &aad_len);
  if (st == STW_OK)
    st = aead_open(&ctx->recipient_ccm, nonce, aad, aad_len, ct, ct_len, pt, pt_cap, &pt_len);
  if (st == STW_OK)
    st = stw_oscore_plaintext_parse(pt, pt_len, msg);
  if (st != STW_OK) {
    stw_wipe(pt, pt_len);
    memset(msg, 0, sizeof(*msg));
  }
  stw_wipe(nonce, sizeof(nonce));
  return st;
}

/* ---- replay window ---- */

stw_status_t stw_oscore_replay_check(const stw_oscore_replay_t *w, uint64_t piv)
{
  if (w->lost)
    return STW_ERR_STATE;
  if (!w->any_seen || piv > w->highest)
    return STW_OK;
  uint64_t age = w->highest - piv;
  if (age >= STW_OSCORE_REPLAY_WINDOW)
    return STW_ERR_REPLAY;  /* older than the window: cannot tell, so refuse */
  return (w->seen >> age) & 1u ? STW_ERR_REPLAY : STW_OK;
}

void stw_oscore_replay_update(stw_oscore_replay_t *w, uint64_t piv)
{
  if (!w->any_seen) {
    w->any_seen = true;
    w->highest = piv;
    w->seen = 1;
    return;
  }
  if (piv > w->highest) {
    uint64_t shift = piv - w->highest;
    w->seen = shift >= STW_OSCORE_REPLAY_WINDOW ? 1u : (w->seen << shift) | 1u;
    w->highest = piv;
    return;
  }
  uint64_t age = w->highest - piv;
  if (age < STW_OSCORE_REPLAY_WINDOW)
    w->seen |= (uint32_t)1u << age;
}

stw_status_t stw_oscore_echo_issue(stw_oscore_ctx_t *ctx, uint8_t echo[STW_OSCORE_ECHO_LEN])
{
  stw_status_t st = stw_random(ctx->replay.echo, STW_OSCORE_ECHO_LEN);
  if (st != STW_OK)
    return st;
  memcpy(echo, ctx->replay.echo, STW_OSCORE_ECHO_LEN);
  ctx->replay.echo_pending = true;
  return STW_OK;
}

stw_status_t stw_oscore_echo_accept(stw_oscore_ctx_t *ctx, const uint8_t *echo, size_t echo_len,
                                    const stw_oscore_request_t *request)
{
  if (!ctx->replay.lost)
    return STW_ERR_STATE;
  if (!ctx->replay.echo_pending || echo_len != STW_OSCORE_ECHO_LEN ||
      !stw_ct_equal(echo, ctx->replay.echo, STW_OSCORE_ECHO_LEN))
    return STW_ERR_UNAUTHENTICATED;
  if (request->piv_len == 0 || request->piv_len > STW_OSCORE_PIV_MAX)
    return STW_ERR_INVALID;
  /* The fresh request's Partial IV becomes the lower limit: it and every
   * number below it count as seen (B.1.2). */
  stw_wipe(&ctx->replay, sizeof(ctx->replay));
  ctx->replay.any_seen = true;
  ctx->replay.highest = piv_value(request->piv, request->piv_len);
  ctx->replay.seen = UINT32_MAX;
  return STW_OK;
}

/* ---- errors on the wire ---- */

#define COAP_CODE(c, d) ((uint8_t)((c) << 5 | (d)))

bool stw_oscore_error_reply(stw_status_t status, uint8_t *code, const char **diagnostic)
{
  switch (status) {
  case STW_ERR_MALFORMED:
    *code = COAP_CODE(4, 2);
    *diagnostic = "Failed to decode COSE";
    return true;
  case STW_ERR_NOT_FOUND:
    *code = COAP_CODE(4, 1);
    *diagnostic = "Security context not found";
    return true;
  case STW_ERR_REPLAY:
    *code = COAP_CODE(4, 1);
    *diagnostic = "Replay detected";
    return true;
  case STW_ERR_BAD_SIGNATURE:
    *code = COAP_CODE(4, 0);
    *diagnostic = "Decryption failed";
    return true;
  case STW_ERR_TOO_LARGE:
    *code = COAP_CODE(4, 13);
    *diagnostic = "Request too large";
    return true;
  default:
    return false;
  }
}
