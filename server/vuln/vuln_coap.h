/* Vulnerability reports over CoAP:
 *   POST /vr   CBOR {? 1: contact, 2: summary, 3: detail} -> 2.01, Location-Path vr/<id>
 * Taken from any peer that completed a DTLS handshake (a raw public key of
 * its own is enough: a reporter is rarely one of our devices); refused over
 * plain CoAP. The logic is vuln.c; docs/vulnerability-reports.md. */
#ifndef STW_SERVER_VULN_COAP_H
#define STW_SERVER_VULN_COAP_H

#include "coap/server.h"
#include "store/committer.h"

typedef struct stw_vuln_coap stw_vuln_coap_t;

/** Register /vr; committer records the reports. */
stw_status_t stw_vuln_coap_register(stw_coap_server_t *server, stw_committer_t *committer, stw_vuln_coap_t **out)
    __attribute__((warn_unused_result));
/** Free after the daemon's last drain (pending jobs point at nothing here,
 *  but keep the order of the other parts). NULL is fine. */
void stw_vuln_coap_free(stw_vuln_coap_t *t);

#endif
