/* device/pep.c: the device's policy enforcement point. Every rejection rule
 * with the status it must give, checked to store and change nothing; the
 * token store and revocation list at their limits; and the claim that a
 * check allocates nothing, counted with an allocator hook. */
#include "testutil.h"

#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_reader.h"
#include "cose.h"
#include "cwt.h"
#include "pep.h"
#include "pki.h"
#include "steward/authz.h"

/* ---- counting allocations ---------------------------------------------
 * Under AddressSanitizer the sanitizer's own hook sees every malloc of the
 * process; without it, malloc/calloc/realloc are interposed here (glibc's
 * __libc_* do the work). GMP's allocator (which nettle uses too) is hooked
 * in both builds, so an allocation cannot hide there either. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#endif

static volatile int counting;
static volatile long allocations;

#ifdef TEST_UNDER_ASAN
/* From <sanitizer/allocator_interface.h>, which gcc does not install. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void on_malloc(const volatile void *p, size_t n)
{
  (void)p, (void)n;
  if (counting)
    allocations++;
}
static void on_free(const volatile void *p) { (void)p; }
static void install_malloc_counter(void)
{
  assert_int_not_equal(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free), 0);
}
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
void *malloc(size_t n)
{
  if (counting)
    allocations++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
  if (counting)
    allocations++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
  if (counting)
    allocations++;
  return __libc_realloc(p, n);
}
static void install_malloc_counter(void) {}
#endif

static void *(*gmp_alloc_prev)(size_t);
static void *(*gmp_realloc_prev)(void *, size_t, size_t);
static void (*gmp_free_prev)(void *, size_t);
static void *gmp_alloc_counting(size_t n)
{
  if (counting)
    allocations++;
  return gmp_alloc_prev(n);
}
static void *gmp_realloc_counting(void *p, size_t old, size_t n)
{
  if (counting)
    allocations++;
  return gmp_realloc_prev(p, old, n);
}

/* ---- fixtures ---------------------------------------------------------- */

#define NOW 1700000000
#define AUD "coaps://lamp-7"

typedef struct {
  stw_key_t *domain, *holder, *stranger;
  uint8_t domain_spki[STW_SPKI_MAX], holder_spki[STW_SPKI_MAX], stranger_spki[STW_SPKI_MAX];
  size_t domain_spki_len, holder_spki_len, stranger_spki_len;
  stw_pep_t *pep;
  stw_pep_t *snapshot;  /* to prove a refusal changed nothing */
} fx_t;

static void key_and_spki(stw_key_t **key, uint8_t *spki, size_t *len)
{
  assert_int_equal(stw_key_generate(key), STW_OK);
  *len = STW_SPKI_MAX;
  assert_int_equal(stw_key_spki(*key, spki, len), STW_OK);
}

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  key_and_spki(&fx->domain, fx->domain_spki, &fx->domain_spki_len);
  key_and_spki(&fx->holder, fx->holder_spki, &fx->holder_spki_len);
  key_and_spki(&fx->stranger, fx->stranger_spki, &fx->stranger_spki_len);
  fx->pep = calloc(1, sizeof(*fx->pep));
  fx->snapshot = calloc(1, sizeof(*fx->snapshot));
  if (stw_pep_init(fx->pep, fx->domain_spki, fx->domain_spki_len, AUD, 60) != STW_OK)
    return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_pep_deinit(fx->pep);
  free(fx->pep);
  free(fx->snapshot);
  stw_key_free(fx->domain);
  stw_key_free(fx->holder);
  stw_key_free(fx->stranger);
  free(fx);
  return 0;
}

/* A good claim set for the holder: GET/PUT /light, GET below /sensors. */
static void claims_for(const fx_t *fx, stw_cwt_t *c, uint8_t cti_byte)
{
  stw_cwt_init(c);
  c->present = STW_CWT_HAS_ISS | STW_CWT_HAS_AUD | STW_CWT_HAS_EXP | STW_CWT_HAS_NBF |
               STW_CWT_HAS_IAT | STW_CWT_HAS_CTI | STW_CWT_HAS_CNF | STW_CWT_HAS_SCOPE;
  c->iss = "coaps://steward.local";
  c->iss_len = strlen(c->iss);
  c->aud = AUD;
  c->aud_len = strlen(AUD);
  c->iat = c->nbf = NOW - 10;
  c->exp = NOW + 3600;
  memset(c->cti, cti_byte, 8);
  c->cti_len = 8;
  c->cnf_kind = STW_PEP_CNF_KEY;
  assert_int_equal(stw_spki_to_xy(fx->holder_spki, fx->holder_spki_len, c->cnf_x, c->cnf_y), STW_OK);
  assert_int_equal(stw_aif_add(&c->scope, "/light", 6, STW_AIF_GET | STW_AIF_PUT), STW_OK);
  assert_int_equal(stw_aif_add(&c->scope, "/sensors/*", 10, STW_AIF_GET), STW_OK);
}

static void mint(const fx_t *fx, const stw_cwt_t *c, stw_buf_t *token)
{
  memset(token, 0, sizeof(*token));
  assert_int_equal(stw_cwt_encode_sign(c, fx->domain, (const uint8_t *)"d1", 2, token), STW_OK);
}

/* A COSE_Sign1 with any protected and unprotected header, signed by key:
 * for the header rules the PDP's own signer would never break. */
static void sign_raw(stw_key_t *key, const uint8_t *prot, size_t prot_len, const uint8_t *unprot,
                     size_t unprot_len, const uint8_t *payload, size_t payload_len, stw_buf_t *out)
{
  uint8_t tbs[2048], head[STW_CBOR_HEAD_MAX];
  size_t n = 0;
  static const uint8_t prefix[] = {0x84, 0x6a, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1'};
  memcpy(tbs, prefix, sizeof(prefix)); n += sizeof(prefix);
  size_t h = stw_cbor_put_head(STW_CBOR_BSTR, prot_len, head);
  memcpy(tbs + n, head, h); n += h;
  memcpy(tbs + n, prot, prot_len); n += prot_len;
  tbs[n++] = 0x40;
  h = stw_cbor_put_head(STW_CBOR_BSTR, payload_len, head);
  memcpy(tbs + n, head, h); n += h;
  memcpy(tbs + n, payload, payload_len); n += payload_len;
  uint8_t sig[STW_ES256_SIG_LEN];
  assert_int_equal(stw_key_sign(key, tbs, n, sig), STW_OK);

  stw_buf_init(out, 4096);
  uint8_t start[] = {0xd2, 0x84};
  assert_int_equal(stw_buf_append(out, start, 2), STW_OK);
  h = stw_cbor_put_head(STW_CBOR_BSTR, prot_len, head);
  assert_int_equal(stw_buf_append(out, head, h), STW_OK);
  if (prot_len > 0)
    assert_int_equal(stw_buf_append(out, prot, prot_len), STW_OK);
  assert_int_equal(stw_buf_append(out, unprot, unprot_len), STW_OK);
  h = stw_cbor_put_head(STW_CBOR_BSTR, payload_len, head);
  assert_int_equal(stw_buf_append(out, head, h), STW_OK);
  assert_int_equal(stw_buf_append(out, payload, payload_len), STW_OK);
  h = stw_cbor_put_head(STW_CBOR_BSTR, sizeof(sig), head);
  assert_int_equal(stw_buf_append(out, head, h), STW_OK);
  assert_int_equal(stw_buf_append(out, sig, sizeof(sig)), STW_OK);
}

static void take_snapshot(fx_t *fx)
{
  memcpy(fx->snapshot, fx->pep, sizeof(*fx->pep));
}

/* check_token gives want, leaves out zeroed and the PEP as it was. */
static void expect_status(fx_t *fx, const uint8_t *token, size_t len, int64_t now, stw_status_t want)
{
  take_snapshot(fx);
  stw_pep_token_t out;
  memset(&out, 0xee, sizeof(out));
  stw_status_t got = stw_pep_check_token(fx->pep, token, len, now, &out);
  if (got != want)
    fail_msg("check_token: got %d (%s), want %d (%s)", got, stw_status_str(got), want, stw_status_str(want));
  if (got != STW_OK) {
    static const stw_pep_token_t zero;
    assert_memory_equal(&out, &zero, sizeof(out));
  }
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
}

/* ---- the good path ----------------------------------------------------- */

static void test_accepts_and_authorizes(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 1);
  stw_buf_t token;
  mint(fx, &c, &token);
  stw_pep_token_t tok;
  assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
  assert_int_equal(tok.cnf_kind, STW_PEP_CNF_KEY);
  assert_true(tok.expires == NOW + 3600);
  const uint8_t *hs = fx->holder_spki;
  size_t hl = fx->holder_spki_len;
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, hs, hl, "/light", 6, STW_AIF_PUT, NOW), STW_OK);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, hs, hl, "/sensors/t", 10, STW_AIF_GET, NOW), STW_OK);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, hs, hl, "/light", 6, STW_AIF_DELETE, NOW),
                   STW_ERR_FORBIDDEN);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, hs, hl, "/config", 7, STW_AIF_GET, NOW),
                   STW_ERR_FORBIDDEN);
  /* the token is not copied: the bytes can go */
  memset(token.data, 0, token.len);
  assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW), STW_OK);
  assert_int_equal(stw_pep_authorize_stored(fx->pep, hs, hl, "/light", 6, STW_AIF_GET, NOW), STW_OK);
  assert_int_equal(stw_pep_authorize_stored(fx->pep, hs, hl, "/light", 6, STW_AIF_POST, NOW),
                   STW_ERR_FORBIDDEN);
  assert_int_equal(stw_pep_authorize_stored(fx->pep, fx->stranger_spki, fx->stranger_spki_len, "/light",
                                            6, STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  stw_buf_free(&token, false);
}

static void test_tagged_forms(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 2);
  stw_buf_t token;
  mint(fx, &c, &token);  /* 18([...]) */
  assert_int_equal(token.data[0], 0xd2);
  uint8_t buf[STW_PEP_TOKEN_MAX + 2];
  /* untagged */
  expect_status(fx, token.data + 1, token.len - 1, NOW, STW_OK);
  /* 61(18([...])) */
  buf[0] = 0xd8, buf[1] = 61;
  memcpy(buf + 2, token.data, token.len);
  expect_status(fx, buf, token.len + 2, NOW, STW_OK);
  /* 61([...]) */
  memcpy(buf + 2, token.data + 1, token.len - 1);
  expect_status(fx, buf, token.len + 1, NOW, STW_OK);
  /* 17([...]): a COSE_Mac0 tag on a Sign1 body; 18(18(...)) */
  buf[0] = 0xd1;
  memcpy(buf + 1, token.data + 1, token.len - 1);
  expect_status(fx, buf, token.len, NOW, STW_ERR_MALFORMED);
  buf[0] = 0xd2;
  memcpy(buf + 1, token.data, token.len);
  expect_status(fx, buf, token.len + 1, NOW, STW_ERR_MALFORMED);
  stw_buf_free(&token, false);
}

/* ---- rejections -------------------------------------------------------- */

static void test_forged_signature(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 3);
  stw_buf_t token;
  mint(fx, &c, &token);
  /* each bit of the signature, a few of the payload and the header */
  for (size_t i = token.len - 64; i < token.len; i++) {
    token.data[i] ^= 0x01;
    expect_status(fx, token.data, token.len, NOW, STW_ERR_BAD_SIGNATURE);
    token.data[i] ^= 0x01;
  }
  /* r = 0 and s = 0, r = s = q (out of range): refused by nettle's check */
  memset(token.data + token.len - 64, 0, 64);
  expect_status(fx, token.data, token.len, NOW, STW_ERR_BAD_SIGNATURE);
  memset(token.data + token.len - 64, 0xff, 64);
  expect_status(fx, token.data, token.len, NOW, STW_ERR_BAD_SIGNATURE);
  stw_buf_free(&token, false);
  /* signed by a key that is not the domain's */
  stw_buf_t other = {0};
  assert_int_equal(stw_cwt_encode_sign(&c, fx->stranger, NULL, 0, &other), STW_OK);
  expect_status(fx, other.data, other.len, NOW, STW_ERR_BAD_SIGNATURE);
  stw_buf_free(&other, false);
}

static void test_scope_altered(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 4);
  stw_buf_t token;
  mint(fx, &c, &token);
  stw_cose_sign1_t s;
  assert_int_equal(stw_cose_sign1_parse(token.data, token.len, &s), STW_OK);
  /* the holder widens its scope and keeps the old signature */
  assert_int_equal(stw_aif_add(&c.scope, "/config", 7, STW_AIF_PUT | STW_AIF_DELETE), STW_OK);
  stw_buf_t claims = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &claims), STW_OK);
  stw_buf_t forged = {0};
  static const uint8_t prot[] = {0xa1, 0x01, 0x26};
  static const uint8_t unprot[] = {0xa0};
  sign_raw(fx->stranger, prot, sizeof(prot), unprot, sizeof(unprot), claims.data, claims.len, &forged);
  memcpy(forged.data + forged.len - 64, s.signature, 64);  /* the domain's old signature */
  expect_status(fx, forged.data, forged.len, NOW, STW_ERR_BAD_SIGNATURE);
  /* the methods of one entry changed in place: the byte after "/light"
   * is its methods, GET|PUT (5); make it GET|POST|PUT|DELETE (15) */
  for (size_t i = 0; i + 6 < token.len; i++) {
    if (memcmp(token.data + i, "/light", 6) == 0) {
      assert_int_equal(token.data[i + 6], STW_AIF_GET | STW_AIF_PUT);
      token.data[i + 6] = 0x0f;
      break;
    }
  }
  expect_status(fx, token.data, token.len, NOW, STW_ERR_BAD_SIGNATURE);
  stw_buf_free(&token, false);
  stw_buf_free(&claims, false);
  stw_buf_free(&forged, false);
}

static void test_wrong_audience(void **state)
{
  fx_t *fx = *state;
  static const char *const others[] = {"coaps://lamp-8", "coaps://lamp-7/", "coaps://lamp-", "COAPS://LAMP-7", ""};
  for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
    stw_cwt_t c;
    claims_for(fx, &c, 5);
    c.aud = others[i];
    c.aud_len = strlen(others[i]);
    stw_buf_t token;
    mint(fx, &c, &token);
    expect_status(fx, token.data, token.len, NOW, STW_ERR_FORBIDDEN);
    stw_buf_free(&token, false);
  }
  /* and a token that names no audience at all, or never ends, or has no id */
  static const unsigned missing[] = {STW_CWT_HAS_AUD, STW_CWT_HAS_EXP, STW_CWT_HAS_CTI};
  for (size_t i = 0; i < 3; i++) {
    stw_cwt_t c;
    claims_for(fx, &c, 5);
    c.present &= ~missing[i];
    stw_buf_t token;
    mint(fx, &c, &token);
    expect_status(fx, token.data, token.len, NOW, STW_ERR_MALFORMED);
    stw_buf_free(&token, false);
  }
}

static void test_time(void **state)
{
  fx_t *fx = *state;  /* skew 60 */
  stw_cwt_t c;
  claims_for(fx, &c, 6);
  c.nbf = NOW;
  c.iat = NOW - 100;
  c.exp = NOW + 100;
  stw_buf_t token;
  mint(fx, &c, &token);
  expect_status(fx, token.data, token.len, NOW - 60, STW_OK);           /* nbf - skew */
  expect_status(fx, token.data, token.len, NOW - 61, STW_ERR_EXPIRED);  /* not yet valid */
  expect_status(fx, token.data, token.len, NOW + 160, STW_OK);          /* exp + skew */
  expect_status(fx, token.data, token.len, NOW + 161, STW_ERR_EXPIRED); /* expired */
  expect_status(fx, token.data, token.len, INT64_MIN, STW_ERR_EXPIRED);
  expect_status(fx, token.data, token.len, INT64_MAX, STW_ERR_EXPIRED);
  stw_buf_free(&token, false);
  /* issued in the future (iat beyond the skew), no nbf */
  c.present &= ~STW_CWT_HAS_NBF;
  c.iat = NOW + 61;
  mint(fx, &c, &token);
  expect_status(fx, token.data, token.len, NOW, STW_ERR_EXPIRED);
  stw_buf_free(&token, false);
  /* exp at the edge of int64: no overflow into validity */
  c.iat = NOW;
  c.exp = INT64_MAX;
  mint(fx, &c, &token);
  expect_status(fx, token.data, token.len, NOW, STW_OK);
  stw_buf_free(&token, false);
  c.exp = INT64_MIN;
  mint(fx, &c, &token);
  expect_status(fx, token.data, token.len, NOW, STW_ERR_EXPIRED);
  stw_buf_free(&token, false);

  /* a checked token expires in authorize too */
  claims_for(fx, &c, 7);
  mint(fx, &c, &token);
  stw_pep_token_t tok;
  assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, fx->holder_spki, fx->holder_spki_len, "/light", 6,
                                     STW_AIF_GET, NOW + 3600 + 61),
                   STW_ERR_EXPIRED);
  stw_buf_free(&token, false);
}

/* The validity test the thing's OSCORE side shares: the ends of int64
 * (a token without nbf/iat starts at INT64_MIN) never overflow. */
static void test_token_live_saturates(void **state)
{
  fx_t *fx = *state;  /* skew 60 */
  stw_pep_token_t tok;
  memset(&tok, 0, sizeof(tok));
  tok.not_before = INT64_MIN;
  tok.expires = INT64_MAX;
  assert_true(stw__pep_token_live(fx->pep, &tok, NOW));
  assert_true(stw__pep_token_live(fx->pep, &tok, INT64_MIN));
  assert_true(stw__pep_token_live(fx->pep, &tok, INT64_MAX));
  tok.expires = INT64_MIN;
  assert_false(stw__pep_token_live(fx->pep, &tok, NOW));
  assert_true(stw__pep_token_live(fx->pep, &tok, INT64_MIN + 60));
  assert_false(stw__pep_token_live(fx->pep, &tok, INT64_MIN + 61));
  tok.not_before = INT64_MAX;
  tok.expires = INT64_MAX;
  assert_false(stw__pep_token_live(fx->pep, &tok, NOW));
  assert_true(stw__pep_token_live(fx->pep, &tok, INT64_MAX - 60));
  assert_false(stw__pep_token_live(fx->pep, &tok, INT64_MAX - 61));
  /* the edges as stw_pep_check_token() has them */
  tok.not_before = NOW;
  tok.expires = NOW + 100;
  assert_true(stw__pep_token_live(fx->pep, &tok, NOW - 60));
  assert_false(stw__pep_token_live(fx->pep, &tok, NOW - 61));
  assert_true(stw__pep_token_live(fx->pep, &tok, NOW + 160));
  assert_false(stw__pep_token_live(fx->pep, &tok, NOW + 161));
}

static void test_stolen_token(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 8);
  stw_buf_t token;
  mint(fx, &c, &token);
  stw_pep_token_t tok;
  assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
  /* presented by someone who does not hold the cnf key */
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, fx->stranger_spki, fx->stranger_spki_len, "/light", 6,
                                     STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  /* nor the domain itself, nor garbage in place of a key */
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, fx->domain_spki, fx->domain_spki_len, "/light", 6,
                                     STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, fx->holder_spki, fx->holder_spki_len - 1, "/light", 6,
                                     STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, NULL, 0, "/light", 6, STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  uint8_t mixed[STW_SPKI_MAX];  /* the holder's x with the stranger's y */
  memcpy(mixed, fx->holder_spki, fx->holder_spki_len);
  memcpy(mixed + 59, fx->stranger_spki + 59, 32);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, mixed, fx->holder_spki_len, "/light", 6, STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  stw_buf_free(&token, false);

  /* cnf {3: kid}: the holder's Steward device id */
  claims_for(fx, &c, 9);
  c.cnf_kind = STW_PEP_CNF_KID;
  assert_int_equal(stw_device_id_from_spki(fx->holder_spki, fx->holder_spki_len, c.cnf_kid), STW_OK);
  c.cnf_kid_len = STW_DEVICE_ID_LEN;
  mint(fx, &c, &token);
  assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
  assert_int_equal(tok.cnf_kind, STW_PEP_CNF_KID);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, fx->holder_spki, fx->holder_spki_len, "/light", 6,
                                     STW_AIF_GET, NOW),
                   STW_OK);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, fx->stranger_spki, fx->stranger_spki_len, "/light", 6,
                                     STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  stw_buf_free(&token, false);

  /* a bearer token (no cnf) is checked but never authorizes or stored */
  claims_for(fx, &c, 10);
  c.present &= ~STW_CWT_HAS_CNF;
  mint(fx, &c, &token);
  assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, fx->holder_spki, fx->holder_spki_len, "/light", 6,
                                     STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  take_snapshot(fx);
  assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW), STW_ERR_UNAUTHENTICATED);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
  stw_buf_free(&token, false);
}

static void test_revoked(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 11);
  stw_buf_t token;
  mint(fx, &c, &token);
  stw_pep_token_t tok;
  assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
  assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW), STW_OK);
  const uint8_t *hs = fx->holder_spki;
  size_t hl = fx->holder_spki_len;
  assert_int_equal(stw_pep_authorize_stored(fx->pep, hs, hl, "/light", 6, STW_AIF_GET, NOW), STW_OK);
  assert_int_equal(stw_pep_revoke(fx->pep, tok.cti, tok.cti_len), STW_OK);
  assert_true(stw_pep_is_revoked(fx->pep, tok.cti, tok.cti_len));
  /* dropped at once from the store; a kept copy is refused; so is the token again */
  assert_int_equal(stw_pep_authorize_stored(fx->pep, hs, hl, "/light", 6, STW_AIF_GET, NOW),
                   STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_pep_authorize(fx->pep, &tok, hs, hl, "/light", 6, STW_AIF_GET, NOW), STW_ERR_UNTRUSTED);
  expect_status(fx, token.data, token.len, NOW, STW_ERR_UNTRUSTED);
  take_snapshot(fx);
  assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW), STW_ERR_UNTRUSTED);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
  /* revoking twice is fine; other tokens are unaffected */
  assert_int_equal(stw_pep_revoke(fx->pep, tok.cti, tok.cti_len), STW_OK);
  stw_buf_free(&token, false);
  claims_for(fx, &c, 12);
  mint(fx, &c, &token);
  expect_status(fx, token.data, token.len, NOW, STW_OK);
  stw_buf_free(&token, false);
}

/* The domain's list {1: seq, 2: [[cti, exp], ...]} as a thing reads it. */
static void test_apply_revocations(void **state)
{
  fx_t *fx = *state;
  static const uint8_t list[] = {0xa2, 0x01, 0x07, 0x02, 0x82,
                                 0x82, 0x42, 0x01, 0x02, 0x1a, 0x6b, 0x49, 0xd2, 0x00,  /* [h'0102', 1800000000] */
                                 0x82, 0x41, 0x0a, 0x20};                            /* [h'0a', -1] */
  uint64_t seq = 99;
  assert_int_equal(stw__pep_apply_revocations(fx->pep, list, sizeof(list), &seq), STW_OK);
  assert_int_equal(seq, 7);
  assert_true(stw_pep_is_revoked(fx->pep, (const uint8_t *)"\x01\x02", 2));
  assert_true(stw_pep_is_revoked(fx->pep, (const uint8_t *)"\x0a", 1));
  assert_int_equal(fx->pep->revoked_n, 2);

  /* the same list again changes nothing */
  take_snapshot(fx);
  assert_int_equal(stw__pep_apply_revocations(fx->pep, list, sizeof(list), &seq), STW_OK);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));

  /* cut short, or a cti over STW_PEP_CTI_MAX: no sequence, nothing added */
  take_snapshot(fx);
  seq = 99;
  assert_int_equal(stw__pep_apply_revocations(fx->pep, list, sizeof(list) - 1, &seq), STW_ERR_MALFORMED);
  assert_int_equal(seq, 0);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
  uint8_t long_cti[] = {0xa1, 0x02, 0x81, 0x82, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 0x00};
  seq = 99;
  assert_int_equal(stw__pep_apply_revocations(fx->pep, long_cti, sizeof(long_cti), &seq), STW_ERR_MALFORMED);
  assert_int_equal(seq, 0);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
  static const uint8_t not_a_map[] = {0x82, 0x01, 0x02};
  assert_int_equal(stw__pep_apply_revocations(fx->pep, not_a_map, sizeof(not_a_map), &seq), STW_ERR_MALFORMED);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));

  /* a full list of live ids: BUSY, the ones already remembered kept */
  uint8_t cti[2];
  for (size_t i = fx->pep->revoked_n; i < STW_PEP_REVOKED; i++) {
    cti[0] = 0xf0;
    cti[1] = (uint8_t)i;
    assert_int_equal(stw_pep_revoke_until(fx->pep, cti, 2, INT64_MAX / 2), STW_OK);
  }
  static const uint8_t one_more[] = {0xa2, 0x01, 0x08, 0x02, 0x81, 0x82, 0x42, 0xee, 0xee, 0x1a, 0x6b, 0x49, 0xd2, 0x00};
  seq = 99;
  assert_int_equal(stw__pep_apply_revocations(fx->pep, one_more, sizeof(one_more), &seq), STW_ERR_BUSY);
  assert_int_equal(seq, 0);
  assert_true(stw_pep_is_revoked(fx->pep, (const uint8_t *)"\x01\x02", 2));
  assert_false(stw_pep_is_revoked(fx->pep, (const uint8_t *)"\xee\xee", 2));
}

static void test_revocation_list_full(void **state)
{
  fx_t *fx = *state;
  uint8_t cti[4] = {0xaa, 0, 0, 0};
  /* fill it with ids whose tokens end at NOW + 10 */
  for (int i = 0; i < STW_PEP_REVOKED; i++) {
    cti[1] = (uint8_t)i;
    assert_int_equal(stw_pep_revoke_until(fx->pep, cti, sizeof(cti), NOW + 10), STW_OK);
  }
  cti[1] = 0xff;
  /* full of live ids: refused loudly, nothing forgotten */
  take_snapshot(fx);
  assert_int_equal(stw_pep_revoke(fx->pep, cti, sizeof(cti)), STW_ERR_BUSY);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
  /* once the PEP has seen a time past exp + skew, the slots are recycled */
  assert_int_equal(stw_pep_authorize_stored(fx->pep, fx->holder_spki, fx->holder_spki_len, "/light", 6,
                                            STW_AIF_GET, NOW + 10 + 61),
                   STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_pep_revoke(fx->pep, cti, sizeof(cti)), STW_OK);
  assert_true(stw_pep_is_revoked(fx->pep, cti, sizeof(cti)));
  /* bad arguments */
  uint8_t long_cti[STW_PEP_CTI_MAX + 1] = {0};
  assert_int_equal(stw_pep_revoke(fx->pep, long_cti, sizeof(long_cti)), STW_ERR_INVALID);
  assert_int_equal(stw_pep_revoke(fx->pep, cti, 0), STW_ERR_INVALID);
}

static void test_store_full(void **state)
{
  fx_t *fx = *state;
  stw_pep_token_t tok;
  for (int i = 0; i < STW_PEP_TOKENS; i++) {
    stw_cwt_t c;
    claims_for(fx, &c, (uint8_t)(0x40 + i));
    c.exp = NOW + 100 + i;  /* the first one ends first */
    stw_buf_t token;
    mint(fx, &c, &token);
    assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
    assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW), STW_OK);
    /* storing the same token again replaces it */
    assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW), STW_OK);
    stw_buf_free(&token, false);
  }
  stw_cwt_t c;
  claims_for(fx, &c, 0x7f);
  stw_buf_t token;
  mint(fx, &c, &token);
  assert_int_equal(stw_pep_check_token(fx->pep, token.data, token.len, NOW, &tok), STW_OK);
  take_snapshot(fx);
  assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW), STW_ERR_BUSY);
  assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
  /* after the first has expired (exp + skew), its slot is recycled */
  assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW + 100 + 61), STW_OK);
  assert_int_equal(stw_pep_store_token(fx->pep, &tok, NOW + 100 + 3600 + 61), STW_ERR_EXPIRED);
  stw_buf_free(&token, false);
}

static void test_truncated_and_malformed(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 13);
  stw_buf_t token;
  mint(fx, &c, &token);
  /* every prefix, in its own exact-size heap buffer so ASan sees any overread */
  for (size_t n = 0; n < token.len; n++) {
    uint8_t *p = malloc(n > 0 ? n : 1);
    memcpy(p, token.data, n);
    stw_pep_token_t out;
    take_snapshot(fx);
    stw_status_t st = stw_pep_check_token(fx->pep, n > 0 ? p : NULL, n, NOW, &out);
    assert_int_not_equal(st, STW_OK);
    assert_true(st == STW_ERR_MALFORMED);
    assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
    free(p);
  }
  /* one byte more: trailing garbage */
  uint8_t *p = malloc(token.len + 1);
  memcpy(p, token.data, token.len);
  p[token.len] = 0x00;
  expect_status(fx, p, token.len + 1, NOW, STW_ERR_MALFORMED);
  /* each single byte changed to each of a few values: never accepted, never a crash */
  static const uint8_t values[] = {0x00, 0x17, 0x18, 0x1f, 0x40, 0x5b, 0x7f, 0x80, 0x9f, 0xa0,
                                   0xbb, 0xc0, 0xdb, 0xf4, 0xf6, 0xf9, 0xfb, 0xff};
  for (size_t i = 0; i < token.len; i++) {
    /* d2 84 43a10126 | a1 04 42 6431 | ...: the unprotected header (bytes
     * 6..10) is not covered by the signature, by COSE's design; a changed
     * kid there still verifies. */
    if (i >= 6 && i <= 10)
      continue;
    memcpy(p, token.data, token.len);
    for (size_t v = 0; v < sizeof(values); v++) {
      if (values[v] == token.data[i])
        continue;
      p[i] = values[v];
      stw_pep_token_t out;
      assert_int_not_equal(stw_pep_check_token(fx->pep, p, token.len, NOW, &out), STW_OK);
    }
  }
  free(p);
  stw_buf_free(&token, false);
}

static void test_too_large(void **state)
{
  fx_t *fx = *state;
  /* a well-signed token of STW_PEP_TOKEN_MAX + 1 bytes (built by hand: our
   * signer refuses to make one) */
  stw_cwt_t c;
  claims_for(fx, &c, 14);
  stw_buf_t claims = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &claims), STW_OK);
  /* pad the claim set with an unknown claim 100: h'00...' to the size */
  static const uint8_t prot[] = {0xa1, 0x01, 0x26};
  static const uint8_t unprot[] = {0xa0};
  for (size_t target = STW_PEP_TOKEN_MAX; target <= STW_PEP_TOKEN_MAX + 1; target++) {
    size_t overhead = 2 + 4 + 1 + 3 + 2 + 64;  /* tag+array, prot, unprot, payload head, sig */
    size_t pad = target - overhead - claims.len - 2 - 3;  /* key 100 (2 bytes), bstr head (3) */
    uint8_t payload[STW_PEP_TOKEN_MAX];
    size_t n = 0;
    payload[n++] = (uint8_t)(claims.data[0] + 1);  /* one more entry in the map */
    memcpy(payload + n, claims.data + 1, claims.len - 1); n += claims.len - 1;
    payload[n++] = 0x18, payload[n++] = 100;
    payload[n++] = 0x59, payload[n++] = (uint8_t)(pad >> 8), payload[n++] = (uint8_t)pad;
    memset(payload + n, 0, pad); n += pad;
    stw_buf_t token;
    sign_raw(fx->domain, prot, sizeof(prot), unprot, sizeof(unprot), payload, n, &token);
    assert_int_equal(token.len, target);
    expect_status(fx, token.data, token.len, NOW, target <= STW_PEP_TOKEN_MAX ? STW_OK : STW_ERR_TOO_LARGE);
    stw_buf_free(&token, false);
  }
  stw_buf_free(&claims, false);
}

static void test_headers(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 15);
  stw_buf_t claims = {0};
  assert_int_equal(stw_cwt_encode_claims(&c, &claims), STW_OK);
  static const struct {
    const char *what;
    const char *prot_hex;
    const char *unprot_hex;
    stw_status_t want;
  } cases[] = {
    {"ES256", "a10126", "a0", STW_OK},
    {"ES256 with kid in both", "a2012604426b31", "a104426b32", STW_OK},
    {"unknown non-critical header", "a201261904d201", "a11904d202", STW_OK},
    {"ES384 (-35)", "a1013822", "a0", STW_ERR_UNSUPPORTED},
    {"ES512 (-36)", "a1013823", "a0", STW_ERR_UNSUPPORTED},
    {"alg 0 (reserved, 'none')", "a10100", "a0", STW_ERR_UNSUPPORTED},
    {"EdDSA (-8)", "a10127", "a0", STW_ERR_UNSUPPORTED},
    {"HS256 (5)", "a10105", "a0", STW_ERR_UNSUPPORTED},
    {"alg as text", "a1016545533235 36", "a0", STW_ERR_UNSUPPORTED},
    {"no alg", "a0", "a0", STW_ERR_UNSUPPORTED},
    {"empty protected", "", "a0", STW_ERR_UNSUPPORTED},
    {"alg only unprotected", "", "a10126", STW_ERR_UNSUPPORTED},
    {"alg in both", "a10126", "a10126", STW_ERR_UNSUPPORTED},
    {"critical unknown header", "a3012602811904d21904d201", "a0", STW_ERR_UNSUPPORTED},
    {"critical alg", "a20126028101", "a0", STW_ERR_UNSUPPORTED},
    {"crit unprotected", "a10126", "a1028101", STW_ERR_UNSUPPORTED},
    {"alg twice", "a201260126", "a0", STW_ERR_MALFORMED},
    {"kid not a bstr", "a10126", "a10401", STW_ERR_MALFORMED},
    {"protected not a map", "810126", "a0", STW_ERR_MALFORMED},
    {"protected with trailing bytes", "a1012600", "a0", STW_ERR_MALFORMED},
    {"unprotected not a map", "a10126", "80", STW_ERR_MALFORMED},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char hex[64];
    size_t o = 0;
    for (const char *q = cases[i].prot_hex; *q; q++)  /* allow spaces in the table */
      if (*q != ' ')
        hex[o++] = *q;
    hex[o] = '\0';
    size_t prot_len = 0, unprot_len;
    uint8_t *prot = o > 0 ? stw_test_hex(hex, &prot_len) : calloc(1, 1);
    uint8_t *unprot = stw_test_hex(cases[i].unprot_hex, &unprot_len);
    stw_buf_t token;
    sign_raw(fx->domain, prot, prot_len, unprot, unprot_len, claims.data, claims.len, &token);
    take_snapshot(fx);
    stw_pep_token_t out;
    stw_status_t got = stw_pep_check_token(fx->pep, token.data, token.len, NOW, &out);
    if (got != cases[i].want)
      fail_msg("%s: got %s, want %s", cases[i].what, stw_status_str(got), stw_status_str(cases[i].want));
    assert_memory_equal(fx->pep, fx->snapshot, sizeof(*fx->pep));
    stw_buf_free(&token, false);
    free(prot);
    free(unprot);
  }
  /* a detached payload (nil) */
  static const uint8_t detached[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0xf6, 0x58, 0x40,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0};
  expect_status(fx, detached, sizeof(detached), NOW, STW_ERR_UNSUPPORTED);
  stw_buf_free(&claims, false);
}

static void test_bad_arguments(void **state)
{
  fx_t *fx = *state;
  stw_pep_t *p = calloc(1, sizeof(*p));
  uint8_t bad[91];
  memcpy(bad, fx->domain_spki, 91);
  bad[90] ^= 1;  /* y off the curve */
  assert_int_equal(stw_pep_init(p, bad, 91, AUD, 0), STW_ERR_MALFORMED);
  assert_int_equal(stw_pep_init(p, fx->domain_spki, 90, AUD, 0), STW_ERR_MALFORMED);
  assert_int_equal(stw_pep_init(p, fx->domain_spki, fx->domain_spki_len, "", 0), STW_ERR_INVALID);
  char long_aud[STW_PEP_AUDIENCE_MAX + 1];
  memset(long_aud, 'a', sizeof(long_aud) - 1);
  long_aud[sizeof(long_aud) - 1] = '\0';
  assert_int_equal(stw_pep_init(p, fx->domain_spki, fx->domain_spki_len, long_aud, 0), STW_ERR_TOO_LARGE);
  long_aud[STW_PEP_AUDIENCE_MAX - 1] = '\0';
  assert_int_equal(stw_pep_init(p, fx->domain_spki, fx->domain_spki_len, long_aud, 0), STW_OK);
  stw_pep_deinit(p);
  /* a PEP never initialised refuses to check */
  stw_pep_token_t out;
  memset(p, 0, sizeof(*p));
  assert_int_equal(stw_pep_check_token(p, fx->domain_spki, 10, NOW, &out), STW_ERR_INVALID);
  stw_pep_deinit(NULL);
  free(p);
}

/* ---- allocates nothing ------------------------------------------------- */

static void test_allocates_nothing(void **state)
{
  fx_t *fx = *state;
  stw_cwt_t c;
  claims_for(fx, &c, 16);
  stw_buf_t good, bad;
  mint(fx, &c, &good);
  mint(fx, &c, &bad);
  bad.data[bad.len - 1] ^= 1;
  stw_cwt_t kid_claims;
  claims_for(fx, &kid_claims, 17);
  kid_claims.cnf_kind = STW_PEP_CNF_KID;
  assert_int_equal(stw_device_id_from_spki(fx->holder_spki, fx->holder_spki_len, kid_claims.cnf_kid), STW_OK);
  kid_claims.cnf_kid_len = STW_DEVICE_ID_LEN;
  stw_buf_t kid_token;
  mint(fx, &kid_claims, &kid_token);

  install_malloc_counter();
  mp_get_memory_functions(&gmp_alloc_prev, &gmp_realloc_prev, &gmp_free_prev);
  mp_set_memory_functions(gmp_alloc_counting, gmp_realloc_counting, gmp_free_prev);
  /* the counter itself works */
  allocations = 0;
  counting = 1;
  void *volatile probe = malloc(16);  /* volatile: the pair may not be optimised away */
  long after_malloc = allocations;
  mpz_t z;
  mpz_init2(z, 4096);  /* plain mpz_init allocates nothing since GMP 6.2 */
  long after_gmp = allocations;
  counting = 0;
  free(probe);
  mpz_clear(z);
  assert_true(after_malloc >= 1);
  assert_true(after_gmp > after_malloc);

  stw_pep_token_t tok, kid_tok, out;
  stw_status_t st_good, st_bad, st_kid, st_auth, st_forbidden, st_kid_auth, st_store, st_stored, st_revoke;
  allocations = 0;
  counting = 1;
  st_good = stw_pep_check_token(fx->pep, good.data, good.len, NOW, &tok);
  st_bad = stw_pep_check_token(fx->pep, bad.data, bad.len, NOW, &out);
  st_kid = stw_pep_check_token(fx->pep, kid_token.data, kid_token.len, NOW, &kid_tok);
  st_auth = stw_pep_authorize(fx->pep, &tok, fx->holder_spki, fx->holder_spki_len, "/light", 6, STW_AIF_GET, NOW);
  st_forbidden = stw_pep_authorize(fx->pep, &tok, fx->holder_spki, fx->holder_spki_len, "/x", 2, STW_AIF_GET, NOW);
  st_kid_auth = stw_pep_authorize(fx->pep, &kid_tok, fx->holder_spki, fx->holder_spki_len, "/sensors/a", 10,
                                  STW_AIF_GET, NOW);
  st_store = stw_pep_store_token(fx->pep, &tok, NOW);
  st_stored = stw_pep_authorize_stored(fx->pep, fx->holder_spki, fx->holder_spki_len, "/light", 6, STW_AIF_PUT, NOW);
  st_revoke = stw_pep_revoke(fx->pep, tok.cti, tok.cti_len);
  counting = 0;
  long seen = allocations;
  mp_set_memory_functions(gmp_alloc_prev, gmp_realloc_prev, gmp_free_prev);

  assert_int_equal(st_good, STW_OK);
  assert_int_equal(st_bad, STW_ERR_BAD_SIGNATURE);
  assert_int_equal(st_kid, STW_OK);
  assert_int_equal(st_auth, STW_OK);
  assert_int_equal(st_forbidden, STW_ERR_FORBIDDEN);
  assert_int_equal(st_kid_auth, STW_OK);
  assert_int_equal(st_store, STW_OK);
  assert_int_equal(st_stored, STW_OK);
  assert_int_equal(st_revoke, STW_OK);
  if (seen != 0)
    fail_msg("%ld allocations during check/authorize/store/revoke", seen);
#ifdef TEST_UNDER_ASAN
  const char *how = "the ASan allocator hook and GMP's memory functions";
#else
  const char *how = "malloc/calloc/realloc interposed and GMP's memory functions";
#endif
  printf("allocations during 3 checks, 3 authorizations, store, stored authorization, revoke: %ld"
         " (counted with %s)\n", seen, how);
  stw_buf_free(&good, false);
  stw_buf_free(&bad, false);
  stw_buf_free(&kid_token, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_accepts_and_authorizes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tagged_forms, setup, teardown),
    cmocka_unit_test_setup_teardown(test_forged_signature, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scope_altered, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_audience, setup, teardown),
    cmocka_unit_test_setup_teardown(test_time, setup, teardown),
    cmocka_unit_test_setup_teardown(test_token_live_saturates, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stolen_token, setup, teardown),
    cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
    cmocka_unit_test_setup_teardown(test_revocation_list_full, setup, teardown),
    cmocka_unit_test_setup_teardown(test_apply_revocations, setup, teardown),
    cmocka_unit_test_setup_teardown(test_store_full, setup, teardown),
    cmocka_unit_test_setup_teardown(test_truncated_and_malformed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
    cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    cmocka_unit_test_setup_teardown(test_allocates_nothing, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
