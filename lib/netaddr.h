/* Listen addresses as the daemon and the device SDK take them. Plain socket
 * types, so lib/ stays free of libcoap: a coap_address_t's addr union and
 * size are filled in place. */
#ifndef STW_LIB_NETADDR_H
#define STW_LIB_NETADDR_H

#include <stdint.h>
#include <sys/socket.h>
#include "util.h"

/** Parse "host:port" or "[v6]:port" (numeric host, port 0 picks one) into sa.
 *  *len is sa's capacity on entry and the address's length on return.
 *  STW_ERR_INVALID for anything else. */
stw_status_t stw_listen_parse(const char *listen, struct sockaddr *sa, socklen_t *len) STW_WUR;

/** The port of an address printed as "127.0.0.1:40213 DTLS" or "[::1]:40213 DTLS"
 *  (libcoap 4.3.1 has no accessor for an endpoint's bound address, but prints
 *  it); 0 if there is none. */
uint16_t stw_addr_text_port(const char *text);

#endif
