/* steward sim: a fleet of simulated devices in one process. The manufacturer
 * imprints them in memory, the owner imports their vouchers, and all of them
 * bootstrap concurrently against a running daemon through the real SDK, driven
 * by one event loop (stw_net_run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "domain/domain.h"
#include "enroll/enroll.h"
#include "factory.h"
#include "sim_update.h"
#include "steward/bootstrap.h"
#include "steward/discovery.h"
#include "store/store.h"

#define IMPORT_BATCH 500

static const char *const sim_options[] = { "--devices", "--server", "--data", "--mfg", "--psk-share", "--concurrency",
                                           "--model", "--json", "--quiet", "--register", "--help",
                                           "--rollout", "--canary", "--max-failures", "--fail-share", "--fail-device",
                                           "--watch", NULL };

/* What each device registers with --register: one resource for everyone in
 * the domain, one only maintainers may discover. */
#define SIM_LINKS "</temp>;rt=\"temperature\";if=\"sensor\",</cfg>;rt=\"config\";vis=\"role=maintainer\""
#define SIM_LIFETIME 3600

typedef struct {
  stw_dev_t *dev;
  stw_imprint_t imprint;
  uint64_t latency_us;
  stw_status_t status;
  char reason[96];
  unsigned attempts;
  stw_status_t reg_status;     /* --register: how its registration ended */
  uint64_t reg_latency_us;
  unsigned reg_attempts;
} sim_device_t;

typedef struct {
  sim_device_t *devices;
  unsigned count;
  unsigned next;        /* next device to start */
  unsigned in_flight;
  unsigned ok, failed;
  const char *server;
  stw_net_t *net;
  uint64_t started_us;
  bool progress;
  bool registering;     /* second phase: enrolled devices register */
  unsigned reg_ok, reg_failed;
} sim_t;

static int compare_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void draw_progress(const sim_t *s, bool final)
{
  if (!s->progress)
    return;
  unsigned done = s->registering ? s->reg_ok + s->reg_failed : s->ok + s->failed;
  unsigned total = s->registering ? s->ok : s->count;
  unsigned good = s->registering ? s->reg_ok : s->ok, bad = s->registering ? s->reg_failed : s->failed;
  double secs = (stw_monotonic_us() - s->started_us) / 1e6;
  unsigned width = 40, filled = total ? (unsigned)((uint64_t)done * width / total) : width;
  char bar[64];
  for (unsigned i = 0; i < width; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  fprintf(stderr, "\r[%s] %u/%u %s %u failed %u  %.0f/s ", bar, done, total,
          s->registering ? "registered" : "enrolled", good, bad, secs > 0 ? good / secs : 0.0);
  if (final)
    fputc('\n', stderr);
}

static void start_next(sim_t *s);
static void ticket_done(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, void *arg);

/* The done callback needs both the device and the fleet. */
typedef struct {
  sim_t *sim;
  sim_device_t *device;
} sim_ticket_t;

static stw_status_t launch(sim_t *s, sim_device_t *d)
{
  sim_ticket_t *t = malloc(sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->sim = s;
  t->device = d;
  stw_status_t st = stw_bootstrap_start(s->net, d->dev, s->server, ticket_done, t);
  if (st != STW_OK) {
    free(t);
    return st;
  }
  s->in_flight++;
  return STW_OK;
}

static void ticket_done(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, void *arg)
{
  (void)dev;
  sim_ticket_t *t = arg;
  sim_t *s = t->sim;
  sim_device_t *d = t->device;
  free(t);
  s->in_flight--;
  d->attempts++;
  d->status = status;
  d->latency_us += report->latency_us;
  snprintf(d->reason, sizeof(d->reason), "%s", report->reason);
  /* The daemon shed load (5.03, nothing written): this device tries again. */
  if (status == STW_ERR_BUSY && d->attempts < 5 && launch(s, d) == STW_OK)
    return;
  if (status == STW_OK)
    s->ok++;
  else
    s->failed++;
  start_next(s);
}

static void start_next(sim_t *s)
{
  while (s->next < s->count) {
    sim_device_t *d = &s->devices[s->next++];
    stw_status_t st = launch(s, d);
    if (st == STW_OK)
      return;
    d->status = st;
    s->failed++;
  }
}

/* ---- --register: the enrolled devices register in the directory ---------------- */

static void start_next_registration(sim_t *s);

static void registered(stw_dev_t *dev, stw_status_t status, const char *location,
                       const stw_bootstrap_report_t *report, void *arg);

static stw_status_t launch_registration(sim_t *s, sim_device_t *d)
{
  sim_ticket_t *t = malloc(sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->sim = s;
  t->device = d;
  stw_status_t st = stw_register_start(s->net, d->dev, s->server, SIM_LINKS, SIM_LIFETIME, NULL, registered, t);
  if (st != STW_OK) {
    free(t);
    return st;
  }
  s->in_flight++;
  return STW_OK;
}

static void registered(stw_dev_t *dev, stw_status_t status, const char *location,
                       const stw_bootstrap_report_t *report, void *arg)
{
  (void)dev;
  (void)location;
  sim_ticket_t *t = arg;
  sim_t *s = t->sim;
  sim_device_t *d = t->device;
  free(t);
  s->in_flight--;
  d->reg_attempts++;
  d->reg_status = status;
  d->reg_latency_us += report->latency_us;
  if (status != STW_OK)
    snprintf(d->reason, sizeof(d->reason), "%s", report->reason);
  if (status == STW_ERR_BUSY && d->reg_attempts < 5 && launch_registration(s, d) == STW_OK)
    return;
  if (status == STW_OK)
    s->reg_ok++;
  else
    s->reg_failed++;
  start_next_registration(s);
}

/* Only devices that enrolled register; the others were already counted. */
static void start_next_registration(sim_t *s)
{
  while (s->next < s->count) {
    sim_device_t *d = &s->devices[s->next++];
    if (d->status != STW_OK)
      continue;
    stw_status_t st = launch_registration(s, d);
    if (st == STW_OK)
      return;
    d->reg_status = st;
    s->reg_failed++;
  }
}

static void latency_percentiles(const sim_t *s, bool registration, double *p50, double *p99)
{
  uint64_t *lat = calloc(s->count, sizeof(*lat));
  unsigned nl = 0;
  for (unsigned i = 0; i < s->count && lat; i++) {
    const sim_device_t *d = &s->devices[i];
    if (registration ? (d->status == STW_OK && d->reg_status == STW_OK) : d->status == STW_OK)
      lat[nl++] = registration ? d->reg_latency_us : d->latency_us;
  }
  if (lat != NULL && nl > 0)
    qsort(lat, nl, sizeof(*lat), compare_u64);
  *p50 = nl ? lat[nl / 2] / 1000.0 : 0;
  *p99 = nl ? lat[(size_t)((nl - 1) * 0.99)] / 1000.0 : 0;
  free(lat);
}

typedef struct {
  const char *model;
  const char *manufacturer;
  bool present;
} sim_rule_t;

static stw_status_t find_rule(const stw_rule_t *r, void *arg)
{
  sim_rule_t *s = arg;
  if (r->kind == STW_RULE_GROUP && strcmp(r->model, s->model) == 0 && strcmp(r->manufacturer, s->manufacturer) == 0)
    s->present = true;
  return STW_OK;
}

/* Trust the factory, allow its model, and import every voucher, in batches of
 * one transaction each (the owner's side of the story). */
static stw_status_t owner_prepares(const char *data_dir, const stw_factory_t *f, const char *model,
                                   sim_device_t *devices, unsigned n)
{
  stw_domain_t *domain = NULL;
  stw_store_t *store = NULL;
  stw_buf_t voucher;
  stw_buf_init(&voucher, STW_VOUCHER_MAX);
  stw_status_t st = stw_domain_open(data_dir, NULL, &domain);
  if (st == STW_OK)
    st = stw_store_open(domain->store_url, &store);
  /* Trust and policy, audited like an operator's commands; a rule that is
   * already there (an earlier run) is not added twice. */
  if (st == STW_OK && (st = stw_store_begin(store)) == STW_OK) {
    stw_audit_t rec;
    memset(&rec, 0, sizeof(rec));
    snprintf(rec.actor, sizeof(rec.actor), "admin:sim");
    snprintf(rec.outcome, sizeof(rec.outcome), "ok");
    st = stw_store_trust_add(store, f->name, f->ca_der.data, f->ca_der.len);
    if (st == STW_OK) {
      snprintf(rec.action, sizeof(rec.action), "trust-manufacturer");
      snprintf(rec.subject, sizeof(rec.subject), "%s", f->name);
      st = stw_store_audit_append(store, &rec);
    } else if (st == STW_ERR_EXISTS) {
      st = STW_OK;
    }
    sim_rule_t found = { .model = model, .manufacturer = f->name, .present = false };
    if (st == STW_OK)
      st = stw_store_rule_list(store, find_rule, &found);
    if (st == STW_OK && !found.present) {
      stw_rule_t rule;
      memset(&rule, 0, sizeof(rule));
      rule.kind = STW_RULE_GROUP;
      snprintf(rule.model, sizeof(rule.model), "%s", model);
      snprintf(rule.manufacturer, sizeof(rule.manufacturer), "%s", f->name);
      st = stw_store_rule_add(store, &rule);
      if (st == STW_OK) {
        snprintf(rec.action, sizeof(rec.action), "enroll.allow");
        snprintf(rec.subject, sizeof(rec.subject), "%s", model);
        snprintf(rec.detail, sizeof(rec.detail), "group model=%s manufacturer=%s", model, f->name);
        st = stw_store_audit_append(store, &rec);
      }
    }
    if (st == STW_OK)
      st = stw_store_commit(store);
    else
      stw_store_rollback(store);
  }
  for (unsigned i = 0; st == STW_OK && i < n; i += IMPORT_BATCH) {
    if ((st = stw_store_begin(store)) != STW_OK)
      break;
    for (unsigned j = i; st == STW_OK && j < n && j < i + IMPORT_BATCH; j++) {
      char id[STW_ID_HEX], diag[192];
      st = stw_factory_voucher(f, &devices[j].imprint, domain->ca.spki, domain->ca.spki_len, 0, &voucher);
      if (st == STW_OK)
        st = stw_enroll_import_voucher_in_tx(store, domain, voucher.data, voucher.len, id, diag, sizeof(diag));
    }
    if (st == STW_OK)
      st = stw_store_commit(store);
    else
      stw_store_rollback(store);
  }
  stw_buf_free(&voucher, false);
  stw_store_close(store);
  stw_domain_close(domain);
  return st;
}

static void usage(FILE *to)
{
  fprintf(to,
    "usage: steward sim --devices N --server coaps://HOST:PORT --data DIR [--mfg DIR]\n"
    "                   [--psk-share F] [--concurrency C] [--model M] [--register] [--json] [--quiet]\n"
    "\n"
    "Imprints N devices in memory (a share F of them PSK devices, default 0), has the\n"
    "owner in DIR (the daemon's data folder) trust the manufacturer, allow the model\n"
    "and import the vouchers, then bootstraps them all with C in flight at once\n"
    "(default 128) through the SDK's event loop, with a progress bar and a summary.\n"
    "--mfg uses that manufacturer (steward mfg init), else a throwaway one.\n"
    "--register: then every enrolled device registers in the resource directory\n"
    "(</temp> for the domain, </cfg> only for role=maintainer), C at once, and the\n"
    "summary gives registrations/s too.\n"
    "--json prints the summary as one JSON object on stdout.\n"
    "--rollout BYTES: then the manufacturer signs an image of BYTES, the owner\n"
    "publishes it and starts a campaign for the model ([--canary PCT] default 10,\n"
    "[--max-failures PCT] default 20), and every enrolled device runs the update\n"
    "agent until the campaign is done or halted (at most --watch SECONDS, default\n"
    "300); --watch alone runs the agents for a campaign the operator starts.\n"
    "--fail-share F / --fail-device ID[,ID...]: those devices fail their self-test\n"
    "and roll back.\n");
}

int cmd_sim(int argc, char **argv)
{
  if (cli_flag(argc, argv, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!cli_check_options(argc, argv, sim_options))
    return 2;
  const char *server = cli_opt(argc, argv, "--server");
  const char *data = cli_opt(argc, argv, "--data");
  const char *mfg_dir = cli_opt(argc, argv, "--mfg");
  const char *model = cli_opt(argc, argv, "--model");
  const char *share_text = cli_opt(argc, argv, "--psk-share");
  uint64_t n = 0, concurrency = 128;
  double psk_share = 0.0;
  if (!cli_parse_u64(cli_opt(argc, argv, "--devices"), &n) || n == 0 || n > 10000000 || server == NULL ||
      data == NULL || (cli_opt(argc, argv, "--concurrency") &&
                       (!cli_parse_u64(cli_opt(argc, argv, "--concurrency"), &concurrency) || concurrency == 0 ||
                        concurrency > 4096))) {
    usage(stderr);
    return 2;
  }
  if (share_text != NULL) {
    char *end = NULL;
    psk_share = strtod(share_text, &end);
    if (end == share_text || *end != '\0' || psk_share < 0.0 || psk_share > 1.0) {
      usage(stderr);
      return 2;
    }
  }
  if (model == NULL)
    model = "sim-1";
  bool json = cli_flag(argc, argv, "--json");
  bool quiet = cli_flag(argc, argv, "--quiet");
  bool do_register = cli_flag(argc, argv, "--register");

  stw_factory_t *factory = NULL;
  stw_status_t update_st = STW_OK;
  stw_status_t st = mfg_dir ? stw_factory_open(mfg_dir, NULL, false, &factory)
                            : stw_factory_new("Simulated Devices", &factory);
  if (st != STW_OK)
    return cli_fail("manufacturer", st);

  sim_t s;
  memset(&s, 0, sizeof(s));
  s.count = (unsigned)n;
  s.server = server;
  s.progress = !quiet && !json && isatty(STDERR_FILENO);
  s.devices = calloc(s.count, sizeof(*s.devices));
  stw_buf_t ca_pem;
  stw_buf_init(&ca_pem, 8192);
  if (s.devices == NULL) {
    stw_factory_free(factory);
    return cli_fail("sim", STW_ERR_NOMEM);
  }
  st = stw_der_to_pem("CERTIFICATE", factory->ca_der.data, factory->ca_der.len, &ca_pem);
  if (st == STW_OK)
    st = stw_buf_append(&ca_pem, "", 1);
  unsigned psk_every = psk_share > 0 ? (unsigned)(1.0 / psk_share + 0.5) : 0;
  if (psk_share > 0 && psk_every == 0)
    psk_every = 1;
  uint64_t t0 = stw_monotonic_us();
  for (unsigned i = 0; st == STW_OK && i < s.count; i++) {
    sim_device_t *d = &s.devices[i];
    bool psk = psk_every != 0 && i % psk_every == psk_every - 1;
    st = stw_factory_imprint(factory, model, psk, &d->imprint);
    if (st == STW_OK)
      st = psk ? stw_dev_new_memory(NULL, NULL, d->imprint.psk_identity, d->imprint.psk, &d->dev)
               : stw_dev_new_memory((const char *)d->imprint.idevid_pem.data, (const char *)ca_pem.data, NULL, NULL, &d->dev);
  }
  double imprint_s = (stw_monotonic_us() - t0) / 1e6;
  if (st == STW_OK) {
    t0 = stw_monotonic_us();
    st = owner_prepares(data, factory, model, s.devices, s.count);
  }
  double import_s = (stw_monotonic_us() - t0) / 1e6;
  if (st != STW_OK) {
    cli_fail("preparing the fleet", st);
    goto out;
  }
  if (!quiet && !json)
    fprintf(stderr, "imprinted %u devices in %.1f s, owner imported their vouchers in %.1f s; bootstrapping...\n",
            s.count, imprint_s, import_s);

  if ((st = stw_net_new(&s.net)) != STW_OK) {
    cli_fail("network", st);
    goto out;
  }
  s.started_us = stw_monotonic_us();
  for (unsigned i = 0; i < concurrency && s.next < s.count; i++)
    start_next(&s);
  uint64_t last_draw = 0;
  while (s.ok + s.failed < s.count) {
    stw_net_run(s.net, 50);
    uint64_t now = stw_monotonic_us();
    if (now - last_draw > 200000) {
      draw_progress(&s, false);
      last_draw = now;
    }
  }
  double secs = (stw_monotonic_us() - s.started_us) / 1e6;
  draw_progress(&s, true);

  double reg_secs = 0;
  if (do_register && s.ok > 0) {
    s.registering = true;
    s.next = 0;
    s.started_us = stw_monotonic_us();
    for (unsigned i = 0; i < concurrency && s.next < s.count; i++)
      start_next_registration(&s);
    while (s.reg_ok + s.reg_failed < s.ok) {
      stw_net_run(s.net, 50);
      uint64_t now = stw_monotonic_us();
      if (now - last_draw > 200000) {
        draw_progress(&s, false);
        last_draw = now;
      }
    }
    reg_secs = (stw_monotonic_us() - s.started_us) / 1e6;
    draw_progress(&s, true);
  }

  double p50, p99, reg_p50, reg_p99;
  latency_percentiles(&s, false, &p50, &p99);
  latency_percentiles(&s, true, &reg_p50, &reg_p99);
  const char *rollout = cli_opt(argc, argv, "--rollout"), *watch = cli_opt(argc, argv, "--watch");
  if ((rollout != NULL || watch != NULL) && s.ok > 0) {
    uint64_t bytes = 0, canary = 10, max_failures = 20;
    sim_update_opts_t uo = { .watch_seconds = 300, .json = json, .quiet = quiet,
                             .fail_devices = cli_opt(argc, argv, "--fail-device") };
    const char *fail_share = cli_opt(argc, argv, "--fail-share");
    if ((rollout && (!cli_parse_u64(rollout, &bytes) || bytes == 0 || bytes > 16u * 1024 * 1024)) ||
        (watch && (uo.watch_seconds = strtod(watch, NULL)) <= 0) ||
        (cli_opt(argc, argv, "--canary") && !cli_parse_u64(cli_opt(argc, argv, "--canary"), &canary)) ||
        (cli_opt(argc, argv, "--max-failures") && !cli_parse_u64(cli_opt(argc, argv, "--max-failures"), &max_failures)) ||
        canary == 0 || canary > 100 || max_failures > 100 ||
        (fail_share && ((uo.fail_share = strtod(fail_share, NULL)) < 0 || uo.fail_share > 1))) {
      usage(stderr);
      update_st = STW_ERR_INVALID;
    } else {
      uo.image_bytes = (unsigned)bytes;
      uo.canary_percent = (unsigned)canary;
      uo.max_failure_percent = (unsigned)max_failures;
      stw_dev_t **enrolled = calloc(s.count, sizeof(*enrolled));
      for (unsigned i = 0; enrolled != NULL && i < s.count; i++)
        enrolled[i] = s.devices[i].status == STW_OK ? s.devices[i].dev : NULL;
      update_st = enrolled ? sim_rollout(server, data, factory, model, enrolled, s.count, &uo) : STW_ERR_NOMEM;
      free(enrolled);
    }
  }
  double rate = secs > 0 ? s.ok / secs : 0;
  double reg_rate = reg_secs > 0 ? s.reg_ok / reg_secs : 0;
  if (json) {
    printf("{\"devices\":%u,\"ok\":%u,\"failed\":%u,\"seconds\":%.3f,\"enrollments_per_s\":%.1f,"
           "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"concurrency\":%llu",
           s.count, s.ok, s.failed, secs, rate, p50, p99, (unsigned long long)concurrency);
    if (do_register)
      printf(",\"registered\":%u,\"register_failed\":%u,\"register_seconds\":%.3f,\"registrations_per_s\":%.1f,"
             "\"register_p50_ms\":%.2f,\"register_p99_ms\":%.2f",
             s.reg_ok, s.reg_failed, reg_secs, reg_rate, reg_p50, reg_p99);
    printf("}\n");
  } else {
    printf("sim: %u devices, %u enrolled, %u failed in %.2f s: %.0f enrollments/s, latency p50 %.1f ms, p99 %.1f ms\n",
           s.count, s.ok, s.failed, secs, rate, p50, p99);
    if (do_register)
      printf("sim: %u registered, %u failed in %.2f s: %.0f registrations/s, latency p50 %.1f ms, p99 %.1f ms\n",
             s.reg_ok, s.reg_failed, reg_secs, reg_rate, reg_p50, reg_p99);
    unsigned shown = 0;
    for (unsigned i = 0; i < s.count && shown < 5; i++) {
      const sim_device_t *d = &s.devices[i];
      stw_status_t why = d->status != STW_OK ? d->status : do_register ? d->reg_status : STW_OK;
      if (why != STW_OK) {
        printf("  %s: %s (%s)\n", stw_dev_id(d->dev), d->reason, stw_status_str(why));
        shown++;
      }
    }
  }
out:
  stw_net_free(s.net);
  for (unsigned i = 0; i < s.count; i++) {
    stw_dev_close(s.devices[i].dev);
    stw_imprint_clear(&s.devices[i].imprint);
  }
  free(s.devices);
  stw_buf_free(&ca_pem, false);
  stw_factory_free(factory);
  return st == STW_OK && s.failed == 0 && s.reg_failed == 0 && update_st == STW_OK ? 0 : 1;
}
