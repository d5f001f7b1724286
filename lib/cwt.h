/* CWT claim sets (RFC 8392) for Steward's capability tokens: the claims,
 * AIF scopes (RFC 9237) and proof-of-possession keys (RFC 8747).
 *
 * Two halves in two files, so the device's share can be measured alone:
 * cwt_claims.c parses claims and matches scopes with the zero-allocation
 * CBOR reader (the device's PEP uses it); cwt.c encodes and signs tokens
 * (the PDP) and computes the JWT size for the benchmark. */
#ifndef STW_LIB_CWT_H
#define STW_LIB_CWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pki.h"
#include "steward/authz.h"
#include "util.h"

/* Claim keys (RFC 8392 4, RFC 8747 3.1, RFC 9200 5.9.2). */
#define STW_CWT_ISS 1
#define STW_CWT_SUB 2
#define STW_CWT_AUD 3
#define STW_CWT_EXP 4
#define STW_CWT_NBF 5
#define STW_CWT_IAT 6
#define STW_CWT_CTI 7
#define STW_CWT_CNF 8
#define STW_CWT_SCOPE 9

#define STW_CWT_STR_MAX 255                 /**< bytes of iss, sub, aud */
#define STW_CWT_CTI_MAX STW_PEP_CTI_MAX     /**< 16 */
#define STW_CWT_KID_MAX STW_PEP_CNF_KID_MAX /**< 32: cnf {3: kid} */

/* cnf {4: OSCORE_Input_Material} (RFC 9203 3.2.1, the ACE OSCORE profile).
 * Not a stw_pep_cnf_kind_t: the DTLS PEP never matches a peer key to it. */
#define STW_CWT_CNF_OSC 4
#define STW_CWT_OSC_ID_MAX 16          /**< bytes of the material's id */
#define STW_CWT_OSC_SALT_MAX 32        /**< bytes of salt */
#define STW_CWT_OSC_CONTEXT_ID_MAX 32  /**< bytes of contextId */
#define STW_CWT_OSC_SEALED_MAX 256     /**< bytes of the sealed Master Secret */
/** Our tokens are signed, not encrypted, and travel to /authz-info in the
 *  clear, so a token never carries the Master Secret itself (ms, 2): it
 *  carries it sealed to the audience's LDevID key (lib/pki.h stw_seal with
 *  info STW_CWT_OSC_SEAL_INFO) under this private-use label. A token with a
 *  plain ms is refused (STW_ERR_UNSUPPORTED). */
#define STW_CWT_OSC_MS_SEALED (-65537)
#define STW_CWT_OSC_SEAL_INFO "steward ace-oscore ms"

/** Which optional claims a claim set has (bits). */
#define STW_CWT_HAS_ISS (1u << STW_CWT_ISS)
#define STW_CWT_HAS_SUB (1u << STW_CWT_SUB)
#define STW_CWT_HAS_AUD (1u << STW_CWT_AUD)
#define STW_CWT_HAS_EXP (1u << STW_CWT_EXP)
#define STW_CWT_HAS_NBF (1u << STW_CWT_NBF)
#define STW_CWT_HAS_IAT (1u << STW_CWT_IAT)
#define STW_CWT_HAS_CTI (1u << STW_CWT_CTI)
#define STW_CWT_HAS_CNF (1u << STW_CWT_CNF)
#define STW_CWT_HAS_SCOPE (1u << STW_CWT_SCOPE)

/** A claim set. Strings are (pointer, length), not NUL-terminated: after
 *  stw_cwt_parse_claims() they point into the parsed input, which must
 *  outlive the struct; for encoding they are the caller's. The scope and
 *  the cnf key are copies. */
typedef struct {
  unsigned present;            /**< STW_CWT_HAS_* bits */
  const char *iss;
  size_t iss_len;
  const char *sub;
  size_t sub_len;
  const char *aud;
  size_t aud_len;
  int64_t exp, nbf, iat;
  uint8_t cti[STW_CWT_CTI_MAX];
  size_t cti_len;
  uint8_t cnf_kind;            /**< stw_pep_cnf_kind_t */
  uint8_t cnf_x[32], cnf_y[32];
  uint8_t cnf_kid[STW_CWT_KID_MAX];
  size_t cnf_kid_len;
  /* cnf_kind STW_CWT_CNF_OSC: the OSCORE input material (copies) */
  uint8_t osc_id[STW_CWT_OSC_ID_MAX];
  size_t osc_id_len;
  uint8_t osc_salt[STW_CWT_OSC_SALT_MAX];
  size_t osc_salt_len;
  bool osc_has_context_id;
  uint8_t osc_context_id[STW_CWT_OSC_CONTEXT_ID_MAX];
  size_t osc_context_id_len;
  uint8_t osc_ms_sealed[STW_CWT_OSC_SEALED_MAX];
  size_t osc_ms_sealed_len;
  stw_aif_t scope;
} stw_cwt_t;

/** Empty claim set. */
void stw_cwt_init(stw_cwt_t *claims);

/** Append [path, methods] to scope. path must start with '/'; methods are
 *  STW_AIF_* bits.
 *  @retval STW_ERR_TOO_LARGE more than STW_AIF_ENTRIES_MAX entries, a path over
 *          STW_AIF_PATH_MAX bytes or all paths over STW_AIF_POOL_MAX bytes
 *  @retval STW_ERR_INVALID empty path, no leading '/', a NUL, or unknown method bits */
stw_status_t stw_aif_add(stw_aif_t *scope, const char *path, size_t path_len, unsigned methods) STW_WUR;

/** Parse a CWT claim set (the COSE payload) of at most STW_PEP_TOKEN_MAX
 *  bytes into *out without allocating. Unknown claims are skipped; each
 *  known claim at most once and of its type; integer times only (no floats).
 *  cnf must be {1: COSE_Key} with kty EC2 (2), crv P-256 (1), 32-byte x and
 *  y, or {3: kid}, or {4: OSCORE_Input_Material} with id (0), the sealed
 *  Master Secret (STW_CWT_OSC_MS_SEALED), optionally version 1 (1), hkdf
 *  HKDF SHA-256 (3: -10), alg AES-CCM-16-64-128 (4: 10), salt (5) and
 *  contextId (6); other parameters are STW_ERR_UNSUPPORTED. scope is an AIF array of [tstr path, uint methods]; method
 *  bits above iPATCH (dynamic resources) are dropped, never granted.
 *  On failure *out is emptied.
 *  @retval STW_ERR_MALFORMED   not a claim set of that shape
 *  @retval STW_ERR_TOO_LARGE   a claim over its limit
 *  @retval STW_ERR_UNSUPPORTED a cnf form or key type other than the above */
stw_status_t stw_cwt_parse_claims(const uint8_t *payload, size_t len, stw_cwt_t *out) STW_WUR;

/** Does scope grant method_bit (exactly one STW_AIF_* bit) on path? Path
 *  match is exact, byte for byte. One wildcard: a scope path whose last
 *  segment is a lone '*' grants every path strictly below the part before
 *  the star, at any depth: "/s/" + "*" covers "/s/a" and "/s/a/b", not "/s".
 *  A request path must start with '/' and hold no empty, "." or ".."
 *  segment (nothing to resolve, nothing to climb out with); otherwise
 *  nothing is granted. */
bool stw_aif_scope_allows(const stw_aif_t *scope, const char *path, size_t path_len,
                          unsigned method_bit);

/** stw_aif_scope_allows() on the claim set's scope (false without one). */
bool stw_aif_allows(const stw_cwt_t *claims, const char *path, size_t path_len, unsigned method_bit);

/** Encode the claim set as deterministic CBOR (RFC 8949 4.2.1: shortest
 *  forms, map keys in bytewise order of their encodings) and sign it as a
 *  tagged COSE_Sign1 with ES256: protected {1: -7}, unprotected {4: kid}
 *  when kid_len > 0. out receives the token; the caller frees it.
 *  @retval STW_ERR_INVALID a claim over its limit or inconsistent */
stw_status_t stw_cwt_encode_sign(const stw_cwt_t *claims, const stw_key_t *key,
                                 const uint8_t *kid, size_t kid_len, stw_buf_t *out) STW_WUR;

/** The same claims encoded without signing (what stw_cwt_encode_sign() signs). */
stw_status_t stw_cwt_encode_claims(const stw_cwt_t *claims, stw_buf_t *out) STW_WUR;

/** Size in bytes of the same claims as a compact-serialized JWS JWT with
 *  ES256 (RFC 7519/7515): base64url(header) "." base64url(payload) "."
 *  base64url(64-byte signature), header {"alg":"ES256","kid":"<b64url kid>"}
 *  (kid left out when kid_len is 0), payload the claims as compact JSON in
 *  the order iss, sub, aud, exp, nbf, iat, jti (b64url cti), scope (AIF as
 *  JSON arrays), cnf ({"jwk":{"kty":"EC","crv":"P-256","x":..,"y":..}} or
 *  {"kid":<b64url>}). Computed, never built: for size comparisons only. */
size_t stw_cwt_to_jwt_size(const stw_cwt_t *claims, const uint8_t *kid, size_t kid_len);

#endif
