/* steward serve: the owner domain's daemon. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
  (void)sig;
  stop_requested = 1;
}

static const char *const serve_options[] = { "--data", "--listen", "--plain", "--http-listen", "--ldevid-days",
                                             "--ldevid-seconds", "--name", "--attest-interval",
                                             "--attest-nonce-lifetime", "--help", NULL };

int cmd_serve(int argc, char **argv)
{
  if (cli_flag(argc, argv, "--help")) {
    printf("usage: steward serve --data DIR [--listen HOST:PORT] [--plain HOST:PORT] [--http-listen HOST:PORT]\n"
           "                     [--ldevid-days N | --ldevid-seconds N] [--name DOMAIN]\n"
           "                     [--attest-interval SECONDS] [--attest-nonce-lifetime SECONDS]\n"
           "\n"
           "Serves EST over CoAPS (RFC 9148) on DTLS 1.2: /.well-known/est/crts, sen, sren,\n"
           "the operational-PSK extension /.well-known/est/psk, and the voucher hand-over\n"
           "/.well-known/brski/rv. DIR holds the domain CA (created on first run), the\n"
           "daemon's key and the SQLite store. --listen defaults to 127.0.0.1:5684; port 0\n"
           "picks a free port (printed on stdout). --plain opens plain CoAP for loopback\n"
           "tests only. LDevIDs live 90 days unless told otherwise. SIGINT/SIGTERM stop it\n"
           "after every promised answer is committed. Devices observing /att are challenged\n"
           "for attestation evidence every --attest-interval seconds (default 21600; 0 turns\n"
           "the schedule off); a challenge may be answered for --attest-nonce-lifetime\n"
           "seconds (default 120).\n"
           "--http-listen opens the HTTPS side (never plain HTTP): /.well-known/security.txt\n"
           "for anyone, and the read-only operator API /api/v1/devices, /api/v1/devices/ID,\n"
           "/api/v1/compliance, /api/v1/audit for holders of DIR/admin.token (Authorization:\n"
           "Bearer TOKEN). Its certificate is the server key certified by DIR/domain-ca.pem\n"
           "for the listen address; port 0 picks a free port (printed on stdout after the\n"
           "coaps line).\n");
    return 0;
  }
  if (!cli_check_options(argc, argv, serve_options))
    return 2;
  stw_daemon_opts_t opts = {
    .data_dir = cli_opt(argc, argv, "--data"),
    .listen = cli_opt(argc, argv, "--listen"),
    .plain_listen = cli_opt(argc, argv, "--plain"),
    .http_listen = cli_opt(argc, argv, "--http-listen"),
    .domain_name = cli_opt(argc, argv, "--name"),
  };
  if (opts.data_dir == NULL) {
    fprintf(stderr, "steward serve: --data DIR is required\n");
    return 2;
  }
  uint64_t v;
  const char *days = cli_opt(argc, argv, "--ldevid-days");
  const char *secs = cli_opt(argc, argv, "--ldevid-seconds");
  if (days && (!cli_parse_u64(days, &v) || v == 0 || v > 3650)) {
    fprintf(stderr, "steward serve: --ldevid-days must be 1..3650\n");
    return 2;
  } else if (days) {
    opts.ldevid_lifetime = (int64_t)v * 86400;
  }
  if (secs && (!cli_parse_u64(secs, &v) || v == 0 || v > 315360000)) {
    fprintf(stderr, "steward serve: --ldevid-seconds must be positive\n");
    return 2;
  } else if (secs) {
    opts.ldevid_lifetime = (int64_t)v;
  }
  const char *interval = cli_opt(argc, argv, "--attest-interval");
  if (interval && (!cli_parse_u64(interval, &v) || v > 315360000)) {
    fprintf(stderr, "steward serve: --attest-interval must be 0..315360000 seconds\n");
    return 2;
  } else if (interval) {
    opts.attest_interval = v == 0 ? -1 : (int64_t)v;
  }
  const char *lifetime = cli_opt(argc, argv, "--attest-nonce-lifetime");
  if (lifetime && (!cli_parse_u64(lifetime, &v) || v == 0 || v > 86400)) {
    fprintf(stderr, "steward serve: --attest-nonce-lifetime must be 1..86400 seconds\n");
    return 2;
  } else if (lifetime) {
    opts.attest_nonce_lifetime = (int64_t)v;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  stw_status_t st = stw_daemon_run(&opts, &stop_requested);
  return st == STW_OK ? 0 : 1;
}
