#include "daemon.h"

#include <string.h>

#include "attest/attest_coap.h"
#include "authz/authz_coap.h"
#include "coap/server.h"
#include "domain/domain.h"
#include "enroll/est_coap.h"
#include "http/http.h"
#include "rd/rd_coap.h"
#include "store/committer.h"
#include "store/store.h"
#include "update/update_coap.h"
#include "vuln/vuln_coap.h"

#define DEFAULT_LDEVID_LIFETIME (90 * 86400)

stw_status_t stw_daemon_run(const stw_daemon_opts_t *opts, volatile sig_atomic_t *stop)
{
  FILE *log = opts->log ? opts->log : stderr;
  stw_domain_t *domain = NULL;
  stw_store_t *store = NULL;
  stw_committer_t *committer = NULL;
  stw_coap_server_t *server = NULL;
  stw_est_t *est = NULL;
  stw_rd_t *rd = NULL;
  stw_rd_coap_t *rd_coap = NULL;
  stw_authz_coap_t *authz = NULL;
  stw_update_coap_t *update = NULL;
  stw_attest_coap_t *attest = NULL;
  stw_vuln_coap_t *vuln = NULL;
  stw_http_t *http = NULL;

  stw_status_t st = stw_domain_open(opts->data_dir, opts->domain_name, &domain);
  if (st != STW_OK) {
    fprintf(log, "steward: cannot open the domain in %s: %s\n", opts->data_dir, stw_status_str(st));
    goto out;
  }
  if ((st = stw_store_open(domain->store_url, &store)) != STW_OK) {
    fprintf(log, "steward: cannot open the store: %s\n", stw_status_str(st));
    goto out;
  }
  if ((st = stw_committer_start(domain->store_url, 0, &committer)) != STW_OK) {
    fprintf(log, "steward: cannot start the writer: %s\n", stw_status_str(st));
    goto out;
  }
  stw_coap_config_t cfg = {
    .listen = opts->listen ? opts->listen : "127.0.0.1:5684",
    .plain_listen = opts->plain_listen,
    .domain = domain,
    .store = store,
    .committer = committer,
  };
  if ((st = stw_coap_server_new(&cfg, &server)) != STW_OK) {
    fprintf(log, "steward: cannot listen on %s: %s\n", cfg.listen, stw_status_str(st));
    goto out;
  }
  stw_enroll_ctx_t enroll = {
    .store = store,
    .domain = domain,
    .ldevid_lifetime = opts->ldevid_lifetime > 0 ? opts->ldevid_lifetime : DEFAULT_LDEVID_LIFETIME,
  };
  if ((st = stw_est_register(server, &enroll, committer, &est)) != STW_OK)
    goto out;
  if ((st = stw_rd_new(store, domain, &rd)) != STW_OK ||
      (st = stw_rd_coap_register(server, rd, committer, &rd_coap)) != STW_OK) {
    fprintf(log, "steward: cannot start the resource directory: %s\n", stw_status_str(st));
    goto out;
  }
  if ((st = stw_authz_coap_register(server, store, domain->store_url, domain, committer, &authz)) != STW_OK) {
    fprintf(log, "steward: cannot start authorization: %s\n", stw_status_str(st));
    goto out;
  }
  if ((st = stw_update_coap_register(server, store, domain->store_url, domain, committer, &update)) != STW_OK) {
    fprintf(log, "steward: cannot start firmware updates: %s\n", stw_status_str(st));
    goto out;
  }
  stw_attest_opts_t attest_opts = { .interval = opts->attest_interval, .nonce_lifetime = opts->attest_nonce_lifetime };
  if ((st = stw_attest_coap_register(server, store, domain->store_url, domain, committer, &attest_opts, &attest)) !=
      STW_OK) {
    fprintf(log, "steward: cannot start attestation: %s\n", stw_status_str(st));
    goto out;
  }
  if ((st = stw_vuln_coap_register(server, committer, &vuln)) != STW_OK) {
    fprintf(log, "steward: cannot take vulnerability reports: %s\n", stw_status_str(st));
    goto out;
  }

  char host[256];
  const char *colon = strrchr(cfg.listen, ':');
  size_t n = colon ? (size_t)(colon - cfg.listen) : 0;
  if (n >= sizeof(host))
    n = sizeof(host) - 1;
  memcpy(host, cfg.listen, n);
  host[n] = '\0';
  if (opts->http_listen != NULL) {
    char vr[sizeof(host) + 16];
    snprintf(vr, sizeof(vr), "coaps://%s:%u/vr", host, stw_coap_server_port(server));
    bool wildcard = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0;  /* names no reachable /vr */
    stw_http_config_t http_cfg = { .listen = opts->http_listen, .domain = domain,
                                   .coap_contact = wildcard ? NULL : vr, .log = log };
    if ((st = stw_http_start(&http_cfg, &http)) != STW_OK) {
      fprintf(log, "steward: cannot serve HTTPS on %s: %s\n", opts->http_listen, stw_status_str(st));
      goto out;
    }
  }
  /* The coaps line first: tools that start the daemon read that one. */
  printf("serving coaps://%s:%u domain %s\n", host, stw_coap_server_port(server), domain->name);
  if (http != NULL)
    printf("serving %s\n", stw_http_uri(http));
  fflush(stdout);

  st = stw_coap_server_run(server, stop);
  /* The watcher submits jobs: stop it before the last drain. */
  stw_authz_coap_free(authz);
  authz = NULL;
  stw_update_coap_free(update);
  update = NULL;
  stw_attest_coap_free(attest);
  attest = NULL;
  /* Every answer that was promised gets committed before we go. */
  stw_committer_drain(committer);
  stw_committer_dispatch(committer);
out:
  stw_http_stop(http);  /* its own store handle; reads the domain */
  stw_authz_coap_free(authz);
  stw_update_coap_free(update);
  stw_attest_coap_free(attest);
  stw_coap_server_free(server);
  stw_vuln_coap_free(vuln);  /* after the server: /vr's resource points at it */
  stw_est_free(est);
  stw_rd_coap_free(rd_coap);
  stw_rd_free(rd);
  stw_committer_stop(committer);
  stw_store_close(store);
  stw_domain_close(domain);
  return st;
}
