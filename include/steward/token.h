/* Steward device SDK — asking the domain for a capability token (ACE-OAuth,
 * RFC 9200, client credentials grant over the device's DTLS session).
 *
 *   stw_token_t tok;
 *   if (stw_token_request(dev, "coaps://steward.local", "meter-7f3a2b1c", "/consumption",
 *                         STW_AIF_GET, &tok, &why) == STW_OK)
 *     stw_thing_call(dev, meter_uri, tok.rs_spki, tok.rs_spki_len, tok.token, tok.token_len,
 *                    STW_AIF_GET, "/consumption", NULL, 0, &answer, &n, &why);
 *   stw_token_clear(&tok);
 *
 * The token is bound to this device's LDevID key (cnf), so it is worthless to
 * anyone else; rs_spki is the key the target device must prove. */
#ifndef STEWARD_TOKEN_H
#define STEWARD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/authz.h"
#include "steward/bootstrap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint8_t *token;            /**< the access token (COSE_Sign1 CWT), malloc'd */
  size_t token_len;
  int64_t expires_in;        /**< seconds */
  uint8_t rs_spki[128];      /**< the audience's key (DER SPKI), from rs_cnf */
  size_t rs_spki_len;
  stw_aif_t granted;         /**< what the domain granted (may be less than asked) */
  char error[32];            /**< the ACE error on refusal ("invalid_scope", ...) */
} stw_token_t;

/** Ask for methods (STW_AIF_* bits) on path at the device named audience.
 *  On refusal out->error names the ACE error and the status follows the
 *  CoAP code (4.00 STW_ERR_MALFORMED, 4.01 STW_ERR_UNAUTHENTICATED, 4.03
 *  STW_ERR_FORBIDDEN). Free with stw_token_clear(). */
stw_status_t stw_token_request(stw_dev_t *dev, const char *as_uri, const char *audience, const char *path,
                               unsigned methods, stw_token_t *out, stw_bootstrap_report_t *report)
    __attribute__((warn_unused_result));
void stw_token_clear(stw_token_t *t);

/* ---- the ACE OSCORE profile (RFC 9203) ---- */

#define STW_OSCORE_MATERIAL_ID_MAX 16
#define STW_OSCORE_MATERIAL_MS_MAX 64
#define STW_OSCORE_MATERIAL_SALT_MAX 32
#define STW_OSCORE_MATERIAL_CONTEXT_ID_MAX 32

/** OSCORE_Input_Material (RFC 9203 3.2.1) as the domain gave it to the
 *  client: the Master Secret is secret; wipe with stw_oscore_material_clear(). */
typedef struct {
  uint8_t id[STW_OSCORE_MATERIAL_ID_MAX];
  size_t id_len;
  uint8_t ms[STW_OSCORE_MATERIAL_MS_MAX];
  size_t ms_len;
  uint8_t salt[STW_OSCORE_MATERIAL_SALT_MAX];
  size_t salt_len;
  bool has_context_id;
  uint8_t context_id[STW_OSCORE_MATERIAL_CONTEXT_ID_MAX];
  size_t context_id_len;
} stw_oscore_material_t;

/** stw_token_request() asking for the ACE OSCORE profile (ace_profile 38 =
 *  coap_oscore 2): the token carries the Master Secret sealed to the
 *  audience, material receives it in the clear (it came over this device's
 *  DTLS session). Use both with stw_thing_call_oscore(). Free with
 *  stw_token_clear() and stw_oscore_material_clear().
 *  @retval STW_ERR_MALFORMED also when the answer lacks the material */
stw_status_t stw_token_request_oscore(stw_dev_t *dev, const char *as_uri, const char *audience, const char *path,
                                      unsigned methods, stw_token_t *out, stw_oscore_material_t *material,
                                      stw_bootstrap_report_t *report) __attribute__((warn_unused_result));
/** Wipe the material. */
void stw_oscore_material_clear(stw_oscore_material_t *m);

#ifdef __cplusplus
}
#endif
#endif
