/* EST over CoAPS (RFC 9148) and the voucher hand-over: the resources of the
 * enrollment part. Decodes, calls enroll.c, encodes. */
#ifndef STW_SERVER_EST_COAP_H
#define STW_SERVER_EST_COAP_H

#include "coap/server.h"
#include "enroll/enroll.h"

typedef struct stw_est stw_est_t;

/** Register /.well-known/est/{crts,sen,sren,psk}, /.well-known/brski/rv and
 *  /crl (the domain's CRL, DER, content format 42: CoAP has none registered
 *  for application/pkix-crl). */
stw_status_t stw_est_register(stw_coap_server_t *server, const stw_enroll_ctx_t *ctx,
                              stw_committer_t *committer, stw_est_t **out) __attribute__((warn_unused_result));
void stw_est_free(stw_est_t *est);

#endif
