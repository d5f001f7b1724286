/* bench/enroll: durable enrollments per second against the real daemon on
 * loopback, beside the crypto ceiling of one enrollment timed alone, and the
 * daemon's memory with a large fleet in its store.
 *
 *   bench/enroll [--devices N] [--concurrency C] [--fleet F] [--steward PATH]
 *
 * The enrollments are made by `steward sim` (the real SDK, one event loop)
 * against `steward serve`; both run on this machine, so they share its cores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "domain/domain.h"
#include "pki.h"
#include "spawn.h"
#include "store/store.h"

static double per_second(uint64_t n, uint64_t us)
{
  return us ? n * 1e6 / (double)us : 0;
}

/* Time each primitive alone, through the project's own wrappers. */
static void crypto_ceiling(double *ceiling, double *per_enroll_us)
{
  enum { N = 2000 };
  stw_key_t *key = NULL, *other = NULL;
  uint8_t spki[STW_SPKI_MAX], sig[64], msg[64] = { 1 };
  size_t spki_len = sizeof(spki);
  if (stw_key_generate(&key) != STW_OK || stw_key_generate(&other) != STW_OK ||
      stw_key_spki(other, spki, &spki_len) != STW_OK) {
    fprintf(stderr, "crypto setup failed\n");
    exit(1);
  }
  uint64_t t0 = stw_monotonic_us();
  for (int i = 0; i < N; i++)
    if (stw_key_sign(key, msg, sizeof(msg), sig) != STW_OK)
      exit(1);
  uint64_t sign_us = stw_monotonic_us() - t0;
  if (stw_key_sign(other, msg, sizeof(msg), sig) != STW_OK)
    exit(1);
  t0 = stw_monotonic_us();
  for (int i = 0; i < N; i++)
    if (stw_spki_verify(spki, spki_len, msg, sizeof(msg), sig) != STW_OK)
      exit(1);
  uint64_t verify_us = stw_monotonic_us() - t0;
  t0 = stw_monotonic_us();
  for (int i = 0; i < N / 4; i++) {
    stw_key_t *k = NULL;
    if (stw_key_generate(&k) != STW_OK)
      exit(1);
    stw_key_free(k);
  }
  uint64_t keygen_us = (stw_monotonic_us() - t0) * 4;
  /* ECDH: stw_seal is an ephemeral keygen + ECDH + HKDF + AES-CCM; the key
   * agreement is what remains after the keygen. */
  stw_buf_t out;
  stw_buf_init(&out, 512);
  uint8_t secret[32] = { 0 };
  t0 = stw_monotonic_us();
  for (int i = 0; i < N / 4; i++)
    if (stw_seal(spki, spki_len, NULL, 0, secret, sizeof(secret), &out) != STW_OK)
      exit(1);
  uint64_t seal_us = (stw_monotonic_us() - t0) * 4;
  stw_buf_free(&out, false);
  double sign = sign_us / (double)N, verify = verify_us / (double)N, keygen = keygen_us / (double)N;
  double ecdh = seal_us / (double)N - keygen;
  if (ecdh < 0)
    ecdh = 0;
  /* The daemon's share of one enrollment: ECDHE (keygen + agreement), its
   * ServerKeyExchange signature, the client's CertificateVerify, the IDevID's
   * signature by its manufacturer, the CSR's self-signature, the LDevID. */
  double t = keygen + ecdh + sign + verify + verify + verify + sign;
  printf("crypto, one core: ES256 sign %.0f/s (%.1f us), verify %.0f/s (%.1f us), P-256 keygen %.1f us, ECDH %.1f us\n",
         per_second(N, sign_us), sign, per_second(N, verify_us), verify, keygen, ecdh);
  printf("crypto ceiling: one enrollment needs (daemon side) keygen + ECDH + 2 sign + 3 verify = %.1f us"
         " -> %.0f enrollments/s per core\n", t, 1e6 / t);
  *ceiling = 1e6 / t;
  *per_enroll_us = t;
  stw_key_free(key);
  stw_key_free(other);
}

/* Put a fleet of already-enrolled devices into the store, in large
 * transactions, to see what the daemon costs with them. */
static stw_status_t fill_fleet(const char *data_dir, unsigned n)
{
  stw_domain_t *domain = NULL;
  stw_store_t *store = NULL;
  stw_status_t st = stw_domain_open(data_dir, NULL, &domain);
  if (st == STW_OK)
    st = stw_store_open(domain->store_url, &store);
  uint8_t cert[600];
  memset(cert, 0x5a, sizeof(cert));
  for (unsigned i = 0; st == STW_OK && i < n; i += 5000) {
    if ((st = stw_store_begin(store)) != STW_OK)
      break;
    for (unsigned j = i; st == STW_OK && j < n && j < i + 5000; j++) {
      stw_device_t d;
      memset(&d, 0, sizeof(d));
      snprintf(d.id, sizeof(d.id), "f1ee7%027x", j);
      snprintf(d.name, sizeof(d.name), "fleet-%08x", j);
      snprintf(d.model, sizeof(d.model), "fleet-1");
      snprintf(d.manufacturer, sizeof(d.manufacturer), "Bench");
      d.state = STW_STATE_BOOTSTRAPPED;
      d.created_at = d.updated_at = stw_now();
      d.ldevid = cert;
      d.ldevid_len = sizeof(cert);
      snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "f1ee7%027x", j);
      d.ldevid_not_after = stw_now() + 90 * 86400;
      st = stw_store_device_put(store, &d);
      if (st == STW_OK)
        st = stw_store_serial_claim(store, d.ldevid_serial, d.id, d.ldevid_not_after);
    }
    if (st == STW_OK)
      st = stw_store_commit(store);
    else
      stw_store_rollback(store);
  }
  stw_store_close(store);
  stw_domain_close(domain);
  return st;
}

static long status_kib(pid_t pid, const char *field)
{
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long v = -1;
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, field, strlen(field)) == 0)
      v = strtol(line + strlen(field) + 1, NULL, 10);
  if (f)
    fclose(f);
  return v;
}

/* Run `steward sim` and return its JSON summary line. */
static int run_sim(const char *steward, const char *uri, const char *data, unsigned devices, unsigned concurrency,
                   char *json, size_t json_len)
{
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "'%s' sim --devices %u --concurrency %u --server %s --data '%s' --json", steward,
           devices, concurrency, uri, data);
  FILE *p = popen(cmd, "r");
  if (p == NULL)
    return -1;
  json[0] = '\0';
  char line[1024];
  while (fgets(line, sizeof(line), p))
    if (line[0] == '{')
      snprintf(json, json_len, "%s", line);
  return pclose(p);
}

int main(int argc, char **argv)
{
  unsigned devices = 5000, concurrency = 32, fleet = 100000;
  char steward[1024];
  snprintf(steward, sizeof(steward), "%s", STEWARD_BINARY);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--devices") == 0)
      devices = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--concurrency") == 0)
      concurrency = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--fleet") == 0)
      fleet = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--steward") == 0)
      snprintf(steward, sizeof(steward), "%s", argv[i + 1]);
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  printf("bench/enroll on %ld cores; daemon %s\n", cores, steward);
  double ceiling = 0, per_us = 0;
  crypto_ceiling(&ceiling, &per_us);

  char dir[] = "/tmp/steward-bench-XXXXXX";
  if (mkdtemp(dir) == NULL)
    return 1;
  char data[1100];
  snprintf(data, sizeof(data), "%s/var", dir);
  stw_child_daemon_t d;
  if (stw_spawn_daemon(steward, data, NULL, NULL, &d) != STW_OK) {
    fprintf(stderr, "could not start the daemon\n");
    return 1;
  }
  char json[1024];
  int rc = run_sim(steward, d.uri, data, devices, concurrency, json, sizeof(json));
  double rate = bench_json_number(json, "enrollments_per_s");
  printf("enroll: %u devices, %u in flight, durable (answered after commit): %.0f enrollments/s, "
         "latency p50 %.1f ms, p99 %.1f ms, failed %.0f\n", devices, concurrency, rate,
         bench_json_number(json, "p50_ms"), bench_json_number(json, "p99_ms"), bench_json_number(json, "failed"));
  printf("enroll vs crypto ceiling: %.0f%% of one core's ceiling (%.0f/s)\n", ceiling > 0 ? 100 * rate / ceiling : 0,
         ceiling);
  long rss_small = status_kib(d.pid, "VmRSS:");
  stw_stop_daemon(&d);

  if (fleet > 0) {
    uint64_t t0 = stw_monotonic_us();
    if (fill_fleet(data, fleet) != STW_OK) {
      fprintf(stderr, "could not fill the store\n");
      return 1;
    }
    printf("fleet: %u enrolled devices written to the store in %.1f s\n", fleet, (stw_monotonic_us() - t0) / 1e6);
    if (stw_spawn_daemon(steward, data, NULL, NULL, &d) != STW_OK)
      return 1;
    run_sim(steward, d.uri, data, 1000, concurrency, json, sizeof(json));
    printf("rss: daemon VmRSS %.1f MiB (peak %.1f MiB) with %u + %u devices in its store, after 1000 more "
           "enrollments; %.1f MiB after the first run\n", status_kib(d.pid, "VmRSS:") / 1024.0,
           status_kib(d.pid, "VmHWM:") / 1024.0, fleet, devices, rss_small / 1024.0);
    stw_stop_daemon(&d);
  }
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return rc == 0 ? 0 : 1;
}
