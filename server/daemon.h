/* The daemon: wires the domain, the store, the writer thread and every part's
 * transport into one CoAP server. */
#ifndef STW_SERVER_DAEMON_H
#define STW_SERVER_DAEMON_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include "steward/status.h"

typedef struct {
  const char *data_dir;        /**< domain keys and the store */
  const char *listen;          /**< DTLS address, "127.0.0.1:5684"; port 0 picks a free one */
  const char *plain_listen;    /**< plain CoAP for loopback tests; NULL: off */
  const char *http_listen;     /**< HTTPS (security.txt, the operator API), "127.0.0.1:8443"; NULL: off */
  const char *domain_name;     /**< used when the domain is created */
  int64_t ldevid_lifetime;     /**< seconds; 0: 90 days */
  FILE *log;                   /**< where to say what happens; NULL: stderr */
  int64_t attest_interval;     /**< seconds between periodic attestations; 0: 6 h, < 0: none */
  int64_t attest_nonce_lifetime; /**< seconds a challenge may be answered; 0: 120 */
} stw_daemon_opts_t;

/** Serve until *stop is set (SIGINT/SIGTERM in `steward serve`). Prints
 *  "serving coaps://HOST:PORT" on stdout once ready to answer, then
 *  "serving https://HOST:PORT" on a line of its own when http_listen is set. */
stw_status_t stw_daemon_run(const stw_daemon_opts_t *opts, volatile sig_atomic_t *stop);

#endif
