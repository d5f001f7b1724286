/* Inside the device SDK: observing one resource of the domain (RFC 7641)
 * over DTLS with the device's LDevID, once the key the daemon proved is one
 * the domain CA pinned at bootstrap certified (checked against its /crts
 * answer first). The attester observes /att, the thing /revoked. Each watch
 * has a client context of its own: libcoap keeps PKI settings per context,
 * and a thing's server side speaks with a raw key. */
#ifndef STW_DEVICE_DOMAIN_WATCH_H
#define STW_DEVICE_DOMAIN_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "dev_internal.h"

/** A 2.xx notification of the observed resource (body valid during the call). */
typedef void (*stw__domain_notify_fn)(void *arg, const uint8_t *body, size_t len);

typedef struct {
  coap_context_t *ctx;               /* NULL until opened; the owner runs its I/O */
  coap_session_t *session;
  const stw_dev_t *dev;
  const char *path;                  /* what is observed once verified */
  int accept;                        /* its Accept option, < 0 for none */
  stw__domain_notify_fn notify;
  void *arg;
  uint8_t server_spki[STW_SPKI_MAX]; /* the key the DTLS server proved */
  size_t server_spki_len;
  bool verified;                     /* that key is the domain's: path is observed */
} stw__domain_watch_t;

/** Connect to domain_uri ("coaps://address[:port]", a numeric address) with
 *  dev's LDevID and ask for /crts; the observation of path (a static string)
 *  follows from the owner's coap_io_process() on w->ctx once the server's key
 *  checks out, and each notification then goes to notify(arg, ...).
 *  w must be zeroed and stay in place. On failure w may hold a context all the
 *  same: stw__domain_watch_close() releases it either way.
 *  @retval STW_ERR_INVALID the URI is not coaps:// with a host
 *  @retval STW_ERR_NETWORK no context or session */
stw_status_t stw__domain_watch_open(stw__domain_watch_t *w, const stw_dev_t *dev, const char *domain_uri,
                                    const char *path, int accept, stw__domain_notify_fn notify, void *arg) STW_WUR;
/** Release the session and context (a zeroed or closed w is fine). */
void stw__domain_watch_close(stw__domain_watch_t *w);

#endif
