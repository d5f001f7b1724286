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

#ifdef __cplusplus
}
#endif
#endif
