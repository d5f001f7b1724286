/* Steward device SDK — capability tokens enforced on the device (DCapBAC).
 *
 * The domain's policy decision point issues ACE-OAuth access tokens
 * (RFC 9200): CWTs (RFC 8392) in COSE_Sign1 with ES256, scoped in AIF
 * (RFC 9237), bound to the holder's key with cnf (RFC 8747). The device is
 * its own policy enforcement point (PEP): it checks a token with nothing but
 * the domain key it received at bootstrap and its own clock, no call home.
 *
 *   static stw_pep_t pep;                       // fixed size, no heap after init
 *   stw_pep_init(&pep, domain_spki, spki_len, "coaps://lamp-7", 60);
 *   // POST /authz-info from a client:
 *   stw_pep_token_t tok;
 *   if (stw_pep_check_token(&pep, body, body_len, now, &tok) == STW_OK)
 *     st = stw_pep_store_token(&pep, &tok, now);
 *   // every later request, with the key the DTLS session authenticated:
 *   st = stw_pep_authorize_stored(&pep, peer_spki, peer_len, "/light", 6, STW_AIF_PUT, now);
 *   // STW_OK, STW_ERR_UNAUTHENTICATED (4.01), STW_ERR_FORBIDDEN (4.03), ...
 *
 * Only stw_pep_init() allocates (the verifier's big-number state) and only
 * stw_pep_deinit() frees; every other function runs in the caller's stack
 * and the stw_pep_t. See docs/formats-tokens.md for the token format, the
 * checks in order and the limits. */
#ifndef STEWARD_AUTHZ_H
#define STEWARD_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- AIF (RFC 9237) REST-method-set bits -------------------------------- */
#define STW_AIF_GET 1u
#define STW_AIF_POST 2u
#define STW_AIF_PUT 4u
#define STW_AIF_DELETE 8u
#define STW_AIF_FETCH 16u
#define STW_AIF_PATCH 32u
#define STW_AIF_IPATCH 64u
#define STW_AIF_METHODS_ALL 127u  /**< the bits we grant; dynamic-resource bits (>= 2^32) never are */

#define STW_AIF_ENTRIES_MAX 32   /**< [path, methods] pairs in one scope */
#define STW_AIF_PATH_MAX 64      /**< bytes of one path */
#define STW_AIF_POOL_MAX 512     /**< bytes of all paths of one scope together */

/** One scope entry; its path lives in the owning stw_aif_t's pool. */
typedef struct {
  uint16_t path_offset;
  uint8_t path_len;
  uint8_t methods;   /**< STW_AIF_* bits */
} stw_aif_entry_t;

/** An AIF scope: a fixed-size copy, so it outlives the token bytes. */
typedef struct {
  stw_aif_entry_t entries[STW_AIF_ENTRIES_MAX];
  size_t n;
  size_t pool_len;
  char pool[STW_AIF_POOL_MAX];
} stw_aif_t;

/* ---- the enforcement point ------------------------------------------------ */

#define STW_PEP_TOKEN_MAX 1024     /**< largest token accepted, bytes */
#ifndef STW_PEP_TOKENS
#define STW_PEP_TOKENS 16          /**< tokens the store holds */
#endif
#ifndef STW_PEP_REVOKED
#define STW_PEP_REVOKED 64         /**< revoked token ids remembered */
#endif
#define STW_PEP_AUDIENCE_MAX 64    /**< bytes of the device's own audience name */
#define STW_PEP_CTI_MAX 16         /**< bytes of a token id (cti) */
#define STW_PEP_CNF_KID_MAX 32     /**< bytes of a cnf key id */

/** How a token names its holder's key (RFC 8747). */
typedef enum {
  STW_PEP_CNF_NONE = 0,   /**< a bearer token: never authorized */
  STW_PEP_CNF_KEY = 1,    /**< cnf {1: COSE_Key}: an EC2 P-256 public key */
  STW_PEP_CNF_KID = 2,    /**< cnf {3: kid}: the Steward device id of the key, SHA-256(SPKI)[0..16) */
} stw_pep_cnf_kind_t;

/** What the PEP keeps of a checked token. Plain data, fixed size; fields may
 *  be read (e.g. to log what was granted) but are set only by the PEP. */
typedef struct {
  uint8_t cti[STW_PEP_CTI_MAX];
  uint8_t cti_len;
  uint8_t cnf_kind;                /**< stw_pep_cnf_kind_t */
  uint8_t cnf_kid_len;
  uint8_t cnf_x[32], cnf_y[32];    /**< STW_PEP_CNF_KEY: raw affine coordinates */
  uint8_t cnf_kid[STW_PEP_CNF_KID_MAX];
  int64_t not_before;              /**< max(nbf, iat) when present, else INT64_MIN */
  int64_t expires;                 /**< exp (required) */
  stw_aif_t scope;
} stw_pep_token_t;

/** The verifier's preinitialised big-number state (opaque; see device/pep.h). */
struct stw_pep_verifier;

/** The PEP: the domain key, the device's audience, the token store and the
 *  revocation list, all fixed size. Fields are private. */
typedef struct {
  struct stw_pep_verifier *verifier;
  char audience[STW_PEP_AUDIENCE_MAX];
  size_t audience_len;
  uint32_t skew;
  int64_t latest_now;  /**< the latest time the caller told us: recycles revocations */
  bool token_used[STW_PEP_TOKENS];
  stw_pep_token_t tokens[STW_PEP_TOKENS];
  size_t revoked_n;
  struct {
    uint8_t cti[STW_PEP_CTI_MAX];
    uint8_t cti_len;
    int64_t forget_after;  /**< exp + skew of the token if known, else INT64_MAX */
  } revoked[STW_PEP_REVOKED];
} stw_pep_t;

/** Prepare pep: import the domain's public key (DER SubjectPublicKeyInfo,
 *  uncompressed P-256, as received at bootstrap), remember the device's
 *  audience (the exact string tokens carry in aud, at most
 *  STW_PEP_AUDIENCE_MAX - 1 bytes) and the clock skew allowed on each side
 *  of a token's validity. The only PEP call that allocates; release with
 *  stw_pep_deinit().
 *  @retval STW_ERR_MALFORMED the key is not an uncompressed P-256 SPKI or not on the curve
 *  @retval STW_ERR_TOO_LARGE audience too long
 *  @retval STW_ERR_NOMEM */
stw_status_t stw_pep_init(stw_pep_t *pep, const uint8_t *domain_spki, size_t len,
                          const char *my_audience, uint32_t skew_seconds)
    __attribute__((warn_unused_result));

/** Free what stw_pep_init() allocated and wipe pep. NULL is fine. */
void stw_pep_deinit(stw_pep_t *pep);

/** Check a token (a COSE_Sign1, optionally tagged 61 and/or 18) at time now
 *  (seconds since the epoch) and copy what enforcement needs into *out.
 *  Allocates nothing; changes nothing in pep. On failure *out is zeroed.
 *  @retval STW_ERR_TOO_LARGE     over STW_PEP_TOKEN_MAX, or a claim over its limit
 *  @retval STW_ERR_MALFORMED     not a well-formed token of this profile
 *  @retval STW_ERR_UNSUPPORTED   alg other than ES256, a critical header, a detached payload
 *  @retval STW_ERR_BAD_SIGNATURE not signed by the domain key
 *  @retval STW_ERR_FORBIDDEN     aud is not this device
 *  @retval STW_ERR_EXPIRED       now outside [nbf/iat - skew, exp + skew]
 *  @retval STW_ERR_UNTRUSTED     its cti has been revoked */
stw_status_t stw_pep_check_token(stw_pep_t *pep, const uint8_t *token, size_t len, int64_t now,
                                 stw_pep_token_t *out) __attribute__((warn_unused_result));

/** May the DTLS peer whose key is peer_spki (DER SPKI) perform method_bit
 *  (one STW_AIF_* bit) on path under token tok, at now? Allocates nothing.
 *  @retval STW_OK
 *  @retval STW_ERR_UNAUTHENTICATED the peer does not hold the token's cnf key (a stolen
 *                                  or bearer token), or peer_spki is not a P-256 key
 *  @retval STW_ERR_UNTRUSTED       the token has been revoked
 *  @retval STW_ERR_EXPIRED         the token has expired (or is not yet valid)
 *  @retval STW_ERR_FORBIDDEN       method and path are not in its scope */
stw_status_t stw_pep_authorize(const stw_pep_t *pep, const stw_pep_token_t *tok,
                               const uint8_t *peer_spki, size_t spki_len,
                               const char *path, size_t path_len, unsigned method_bit, int64_t now)
    __attribute__((warn_unused_result));

/** Keep a checked token. A token with the same cti replaces the stored one;
 *  expired tokens are dropped to make room.
 *  @retval STW_ERR_UNAUTHENTICATED a bearer token (no cnf): never stored
 *  @retval STW_ERR_UNTRUSTED       its cti has been revoked meanwhile
 *  @retval STW_ERR_EXPIRED         expired by now
 *  @retval STW_ERR_BUSY            the store is full of valid tokens */
stw_status_t stw_pep_store_token(stw_pep_t *pep, const stw_pep_token_t *tok, int64_t now)
    __attribute__((warn_unused_result));

/** stw_pep_authorize() over the stored tokens: STW_OK if one of them lets the
 *  peer do it; otherwise the answer for the peer's best token
 *  (STW_ERR_FORBIDDEN if it holds a valid token that does not cover this,
 *  STW_ERR_UNAUTHENTICATED if it holds none). Drops tokens that have expired. */
stw_status_t stw_pep_authorize_stored(stw_pep_t *pep, const uint8_t *peer_spki, size_t spki_len,
                                      const char *path, size_t path_len, unsigned method_bit,
                                      int64_t now) __attribute__((warn_unused_result));

/** Revoke token id cti: a stored token with it is dropped at once, and the
 *  id is remembered until that token would have expired anyway (exp + skew),
 *  after which its slot is recycled. A cti of a token not stored here has
 *  no known expiry and is remembered for good: prefer stw_pep_revoke_until().
 *  @retval STW_ERR_BUSY the list is full of ids whose tokens may still be
 *                       valid; nothing was revoked (fail loudly, never forget
 *                       an older revocation to make room) */
stw_status_t stw_pep_revoke(stw_pep_t *pep, const uint8_t *cti, size_t len)
    __attribute__((warn_unused_result));

/** As stw_pep_revoke() for a token the revoker knows expires at expires (the
 *  PDP does): remembered until expires + skew. */
stw_status_t stw_pep_revoke_until(stw_pep_t *pep, const uint8_t *cti, size_t len, int64_t expires)
    __attribute__((warn_unused_result));

/** True if cti is on the revocation list. */
bool stw_pep_is_revoked(const stw_pep_t *pep, const uint8_t *cti, size_t len);

#ifdef __cplusplus
}
#endif
#endif
