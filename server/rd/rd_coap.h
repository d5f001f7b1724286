/* The resource directory's CoAP resources (RFC 9176): registration at /rd,
 * updates and removal at /rd/<id>, lookups at /rd-lookup/ep and
 * /rd-lookup/res, and handle resolution at /hdl/<domain>/<device-id>. */
#ifndef STW_SERVER_RD_COAP_H
#define STW_SERVER_RD_COAP_H

#include "coap/server.h"
#include "rd/rd.h"

typedef struct stw_rd_coap stw_rd_coap_t;

stw_status_t stw_rd_coap_register(stw_coap_server_t *server, stw_rd_t *rd, stw_committer_t *committer,
                                  stw_rd_coap_t **out) __attribute__((warn_unused_result));
void stw_rd_coap_free(stw_rd_coap_t *t);

#endif
