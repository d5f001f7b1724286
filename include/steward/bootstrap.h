/* Steward device SDK — zero-touch bootstrapping (EST over CoAPS, RFC 9148).
 *
 *   stw_dev_t *dev;
 *   stw_bootstrap_report_t why;
 *   if (stw_dev_open("dev/d1", &dev) == STW_OK &&
 *       stw_bootstrap(dev, "coaps://steward.local", &why) == STW_OK)
 *     printf("enrolled as %s\n", stw_dev_name(dev));
 *   else
 *     printf("refused: %s\n", why.reason);
 *
 * What bootstrapping does, for an X.509 device: DTLS with the IDevID; fetch the
 * ownership voucher and verify it against the imprinted manufacturer CA; accept
 * the server only if its key is certified by the domain CA the voucher pins;
 * send a CSR for a fresh key; store the LDevID. A PSK device uses its bootstrap
 * PSK and receives an operational PSK; the bootstrap PSK then stops working. */
#ifndef STEWARD_BOOTSTRAP_H
#define STEWARD_BOOTSTRAP_H

#include "steward/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Why an operation ended the way it did. */
typedef struct {
  unsigned coap_code;   /**< the server's answer (e.g. 0x83 for 4.03), 0 if none */
  char reason[192];     /**< the server's diagnostic, or what the device itself refused */
  uint64_t latency_us;  /**< start to finish */
} stw_bootstrap_report_t;

/** Bootstrap and persist; blocks until done or failed (a minute at most).
 *  Called again on an enrolled device it is cheap: nothing happens until the
 *  renewal share of the LDevID's validity has passed (stw_dev_set_renewal_share,
 *  default 2/3), then it renews over /sren by itself. Call it at every start.
 *  server_uri: "coaps://host[:port]". report may be NULL. */
stw_status_t stw_bootstrap(stw_dev_t *dev, const char *server_uri, stw_bootstrap_report_t *report)
    __attribute__((warn_unused_result));

/** Renew the LDevID over /sren with a fresh key. */
stw_status_t stw_reenroll(stw_dev_t *dev, const char *server_uri, stw_bootstrap_report_t *report)
    __attribute__((warn_unused_result));

/** Renew only when share (0..1) of the LDevID's validity has passed at now;
 *  *renewed tells whether it did. The SDK's own re-enrollment policy. */
stw_status_t stw_reenroll_if_due(stw_dev_t *dev, const char *server_uri, double share, int64_t now,
                                 bool *renewed, stw_bootstrap_report_t *report)
    __attribute__((warn_unused_result));

/* ---- event-driven form: many devices, one thread (the simulator) ---------- */

/** A CoAP client context shared by many operations. */
typedef struct stw_net stw_net_t;
stw_status_t stw_net_new(stw_net_t **out) __attribute__((warn_unused_result));
void stw_net_free(stw_net_t *net);

typedef void (*stw_done_cb)(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, void *arg);

/** Start bootstrapping dev on net; cb runs from stw_net_run() when it ends.
 *  dev must outlive the operation. */
stw_status_t stw_bootstrap_start(stw_net_t *net, stw_dev_t *dev, const char *server_uri,
                                 stw_done_cb cb, void *arg) __attribute__((warn_unused_result));
/** Same for renewal. */
stw_status_t stw_reenroll_start(stw_net_t *net, stw_dev_t *dev, const char *server_uri,
                                stw_done_cb cb, void *arg) __attribute__((warn_unused_result));
/** Do network I/O for up to timeout_ms; returns the number of operations still running. */
unsigned stw_net_run(stw_net_t *net, unsigned timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
