/* The attestation resources over DTLS (docs/attestation.md):
 *   GET  /att   observable: the challenge for the device asking ({1: nonce,
 *               2: seconds left}, or {} when nothing is asked). A plain GET
 *               asks for a challenge now (?t=enroll / ?t=update say why).
 *   POST /att   evidence (COSE_Sign1, content format 18) → 2.04 with the EAR
 *               {1: verdict, 2: reasons} once the result is committed.
 * The daemon notifies observers when a device is due: periodically by
 * policy, or when the operator asked (`steward admin attest ID`). Decoding
 * and encoding only; decisions live in attest.c. */
#ifndef STW_SERVER_ATTEST_COAP_H
#define STW_SERVER_ATTEST_COAP_H

#include "coap/server.h"
#include "domain/domain.h"
#include "store/committer.h"
#include "store/store.h"

#define STW_CF_COSE_SIGN1 18
#define STW_ATTEST_POLL_MS 500    /**< how often operator requests (audit records) are looked for */

typedef struct stw_attest_coap stw_attest_coap_t;

typedef struct {
  int64_t interval;               /**< seconds between periodic challenges; 0: default, < 0: none */
  int64_t nonce_lifetime;         /**< seconds a challenge may be answered; 0: default */
} stw_attest_opts_t;

/** Register /att. store: the event loop's read handle; store_url: for the
 *  thread that follows operator requests. */
stw_status_t stw_attest_coap_register(stw_coap_server_t *server, stw_store_t *store, const char *store_url,
                                      const stw_domain_t *domain, stw_committer_t *committer,
                                      const stw_attest_opts_t *opts, stw_attest_coap_t **out)
    __attribute__((warn_unused_result));

/** Stop the follower thread; call before the committer stops. NULL is fine. */
void stw_attest_coap_free(stw_attest_coap_t *t);

#endif
