/* The daemon's HTTPS side (libmicrohttpd over GnuTLS): security.txt for
 * anyone, the operator's read-only JSON API behind the admin token. Plain
 * HTTP is never offered. The routes and their answers are api.c; this is
 * the transport: TLS, one thread, decode, call, encode. */
#ifndef STW_SERVER_HTTP_H
#define STW_SERVER_HTTP_H

#include <stdio.h>
#include "domain/domain.h"
#include "steward/status.h"

typedef struct stw_http stw_http_t;

typedef struct {
  const char *listen;          /**< "127.0.0.1:8443" (numeric host); port 0 picks a free one */
  const stw_domain_t *domain;  /**< keys, CA, folder (admin.token), name; must outlive the server */
  const char *coap_contact;    /**< "coaps://HOST:PORT/vr" for security.txt, or NULL */
  FILE *log;                   /**< NULL: stderr */
} stw_http_config_t;

/** Start serving from a thread of its own, which also owns the store handle
 *  every request reads through. The TLS certificate is the daemon's server
 *  key certified afresh by the domain CA, naming the listen address
 *  (docs/operations.md). *out is the caller's: stw_http_stop().
 *  @retval STW_ERR_INVALID a bad listen address
 *  @retval STW_ERR_UNSUPPORTED libmicrohttpd was built without TLS
 *  @retval STW_ERR_IO cannot listen there */
stw_status_t stw_http_start(const stw_http_config_t *cfg, stw_http_t **out) __attribute__((warn_unused_result));

/** "https://HOST:PORT" with the port really bound; valid while h lives. */
const char *stw_http_uri(const stw_http_t *h);

/** Finish the requests under way, stop the thread, wipe the key; NULL is fine. */
void stw_http_stop(stw_http_t *h);

#endif
