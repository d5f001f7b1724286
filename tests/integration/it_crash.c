/* Crash safety: many devices bootstrap concurrently while the daemon is killed
 * with SIGKILL at random moments and restarted on the same data folder.
 *
 * The promise under test: an answer goes out only after its batch committed,
 * and a batch commits all or nothing. So every device that was told
 * "enrolled" is BOOTSTRAPPED in the store with exactly the serial it was
 * given; no serial is recorded that no device holds; a device that was cut
 * off retries with its kept CSR and gets its certificate (the same one when
 * the daemon had committed it); and the audit chain survives every crash.
 *
 * STW_CRASH_SEED=<n> replays the kill moments of an earlier run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

#define DEVICES 300
#define IN_FLIGHT 96
#define KILLS 3
#define MAX_ATTEMPTS 25
#define RUN_DEADLINE_S 150.0

typedef struct run run_t;

typedef struct {
  run_t *run;
  it_device_t d;
  bool running;
  bool told_enrolled;
  char serial[48];         /* what the device was given, as it recorded it */
  char committed[48];      /* committed by the daemon before a kill, never told */
  unsigned attempts;
  stw_status_t last_status;
  char last_reason[192];
} crash_dev_t;

struct run {
  crash_dev_t devs[DEVICES];
  unsigned told;           /* devices told "enrolled" */
  unsigned running;
  unsigned failures;       /* attempts that ended in an error (expected around kills) */
  unsigned cut_off;        /* committed before a kill but never told */
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
  /* xorshift64*: enough to spread kill moments, reproducible from the seed */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static void on_done(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, void *arg)
{
  crash_dev_t *c = arg;
  c->running = false;
  c->run->running--;
  c->last_status = status;
  snprintf(c->last_reason, sizeof(c->last_reason), "%s", report->reason);
  if (status != STW_OK) {
    c->run->failures++;
    return;
  }
  if (!c->told_enrolled)
    c->run->told++;
  c->told_enrolled = true;
  snprintf(c->serial, sizeof(c->serial), "%s", stw_dev_cert_serial(dev));
}

/* Start devices that are neither done nor running, up to IN_FLIGHT at once. */
static void start_more(run_t *run, stw_net_t *net, const char *uri)
{
  for (unsigned i = 0; i < DEVICES && run->running < IN_FLIGHT; i++) {
    crash_dev_t *c = &run->devs[i];
    if (c->running || c->told_enrolled)
      continue;
    if (c->attempts >= MAX_ATTEMPTS) {
      fail_msg("device %s failed %u times; last: %s (%s)", c->d.im.id, c->attempts, stw_status_str(c->last_status),
               c->last_reason);
    }
    c->attempts++;
    assert_int_equal(stw_bootstrap_start(net, c->d.dev, uri, on_done, c), STW_OK);
    c->running = true;
    run->running++;
  }
}

/* ---- what the store says ------------------------------------------------------------ */

typedef struct {
  unsigned bootstrapped;
  unsigned with_serial;
  char (*serials)[48];
} store_view_t;

static stw_status_t view_device(const stw_device_t *d, void *arg)
{
  store_view_t *v = arg;
  if (d->state == STW_STATE_BOOTSTRAPPED)
    v->bootstrapped++;
  if (d->ldevid_serial[0] != '\0') {
    /* Every serial a device holds must be distinct. */
    for (unsigned i = 0; i < v->with_serial; i++)
      if (strcmp(v->serials[i], d->ldevid_serial) == 0)
        fail_msg("serial %s held by two devices", d->ldevid_serial);
    if (v->with_serial < DEVICES)
      snprintf(v->serials[v->with_serial], sizeof(v->serials[0]), "%s", d->ldevid_serial);
    v->with_serial++;
  }
  return STW_OK;
}

/* Every device told "enrolled" is BOOTSTRAPPED with the serial it was given,
 * and the serials table holds exactly the serials devices hold. */
static void check_store(stw_store_t *store, run_t *run, const char *when)
{
  unsigned checked = 0;
  for (unsigned i = 0; i < DEVICES; i++) {
    crash_dev_t *c = &run->devs[i];
    stw_device_t d;
    if (!c->told_enrolled) {
      /* Committed, but the answer died with the daemon: its retry must get
       * this very certificate back. */
      if (stw_store_device_get(store, c->d.im.id, &d) == STW_OK) {
        if (d.state == STW_STATE_BOOTSTRAPPED && c->committed[0] == '\0') {
          snprintf(c->committed, sizeof(c->committed), "%s", d.ldevid_serial);
          run->cut_off++;
        }
        stw_device_clear(&d);
      }
      continue;
    }
    assert_int_equal(stw_store_device_get(store, c->d.im.id, &d), STW_OK);
    if (d.state != STW_STATE_BOOTSTRAPPED || strcmp(d.ldevid_serial, c->serial) != 0)
      fail_msg("%s: device %s was told enrolled with serial %s, but the store has state %s serial '%s'", when,
               c->d.im.id, c->serial, stw_state_name(d.state), d.ldevid_serial);
    stw_device_clear(&d);
    checked++;
  }
  store_view_t v = { .serials = calloc(DEVICES, sizeof(*v.serials)) };
  assert_non_null(v.serials);
  assert_int_equal(stw_store_device_list(store, -1, view_device, &v), STW_OK);
  free(v.serials);
  uint64_t serial_rows = it_serial_count(store);
  printf("    %s: %u told enrolled, all BOOTSTRAPPED with their serial; store: %u BOOTSTRAPPED, %u distinct "
         "serials held, %" PRIu64 " rows in serials\n",
         when, checked, v.bootstrapped, v.with_serial, serial_rows);
  assert_int_equal(checked, run->told);
  assert_true(v.bootstrapped >= run->told);  /* committed but cut off before the answer: allowed */
  assert_int_equal(serial_rows, v.with_serial);
}

static void bootstrap_survives_kill_9(void **state)
{
  (void)state;
  const char *seed_env = getenv("STW_CRASH_SEED");
  uint64_t seed = 0;
  if (seed_env != NULL)
    seed = strtoull(seed_env, NULL, 10);
  else
    assert_int_equal(stw_random(&seed, sizeof(seed)), STW_OK);
  rng_state = seed | 1;
  printf("  %d devices bootstrap concurrently (%d in flight); kill -9 the daemon %d times (seed %" PRIu64 ")\n",
         DEVICES, IN_FLIGHT, KILLS, seed);

  it_world_t w;
  assert_int_equal(it_world_init(&w, "home.example"), STW_OK);
  assert_int_equal(it_allow_model(&w, "thermo-1"), STW_OK);
  run_t *run = calloc(1, sizeof(*run));
  assert_non_null(run);
  double t0 = it_now_s();
  for (unsigned i = 0; i < DEVICES; i++) {
    run->devs[i].run = run;
    assert_int_equal(it_device_new(&w, "thermo-1", false, &run->devs[i].d), STW_OK);
  }
  printf("    imprinted %d devices and imported their vouchers in %.1f s\n", DEVICES, it_now_s() - t0);

  /* Kill when this many devices have been told "enrolled": three random
   * moments spread over the run, each with some in flight. */
  unsigned kill_at[KILLS];
  for (unsigned k = 0; k < KILLS; k++) {
    unsigned lo = DEVICES * (2 * k + 1) / (2 * KILLS + 2), span = DEVICES / (2 * KILLS + 2);
    kill_at[k] = lo + (unsigned)(rng_next() % span);
  }
  printf("    kill moments: after %u, %u and %u devices were told enrolled\n", kill_at[0], kill_at[1], kill_at[2]);

  it_daemon_t d;
  assert_int_equal(it_daemon_start(w.data, NULL, &d), STW_OK);
  stw_net_t *net = NULL;
  assert_int_equal(stw_net_new(&net), STW_OK);
  unsigned kills = 0;
  t0 = it_now_s();
  while (run->told < DEVICES) {
    if (it_now_s() - t0 > RUN_DEADLINE_S)
      fail_msg("only %u of %d devices enrolled within %.0f s", run->told, DEVICES, RUN_DEADLINE_S);
    start_more(run, net, d.uri);
    stw_net_run(net, 20);
    if (kills < KILLS && run->told >= kill_at[kills]) {
      /* A little more I/O first, so the kill lands at an unpredictable point
       * inside the daemon's batch cycle. */
      unsigned extra = (unsigned)(rng_next() % 4);
      for (unsigned i = 0; i < extra; i++)
        stw_net_run(net, 5);
      unsigned in_flight = run->running;
      it_daemon_kill(&d);
      kills++;
      /* Answers already on the wire still count: deliver them, then drop
       * what can never be answered and start over with a fresh client. */
      stw_net_run(net, 0);
      printf("    kill -9 #%u at %.2f s: %u told enrolled, %u in flight\n", kills, it_now_s() - t0, run->told,
             in_flight);
      stw_net_free(net);
      assert_int_equal(stw_net_new(&net), STW_OK);
      for (unsigned i = 0; i < DEVICES; i++)
        run->devs[i].running = false;
      run->running = 0;
      assert_int_equal(it_daemon_start(w.data, NULL, &d), STW_OK);
      printf("    restarted on the same data: %s\n", d.uri);
      check_store(w.store, run, kills == KILLS ? "after the last restart" : "after a restart");
    }
  }
  printf("    all %d devices enrolled in %.1f s (%u attempts ended in an error around the kills)\n", DEVICES,
         it_now_s() - t0, run->failures);
  assert_int_equal(kills, KILLS);

  printf("  final state: every device BOOTSTRAPPED with the serial it holds, one serial and one enroll record "
         "each, audit chain intact\n");
  check_store(w.store, run, "at the end");
  printf("    %u devices were committed but cut off by a kill; each got the same certificate on retry\n",
         run->cut_off);
  for (unsigned i = 0; i < DEVICES; i++) {
    crash_dev_t *c = &run->devs[i];
    if (c->committed[0] != '\0' && strcmp(c->committed, c->serial) != 0)
      fail_msg("device %s: committed serial %s before the kill, told %s after", c->d.im.id, c->committed, c->serial);
  }
  uint64_t n = 0;
  assert_int_equal(stw_store_device_count(w.store, STW_STATE_BOOTSTRAPPED, &n), STW_OK);
  assert_int_equal(n, DEVICES);
  assert_int_equal(it_serial_count(w.store), DEVICES);
  for (unsigned i = 0; i < DEVICES; i++) {
    crash_dev_t *c = &run->devs[i];
    assert_int_equal(it_audit_count(w.store, 0, "enroll", c->d.im.id, "ok", NULL), 1);
    assert_int_equal(stw_dev_state(c->d.dev), STW_DEV_ENROLLED);
  }
  uint64_t checked = 0, bad = 0;
  stw_status_t verify = stw_store_audit_verify(w.store, &checked, &bad);
  printf("    audit chain: %s, %" PRIu64 " records\n", stw_status_str(verify), checked);
  assert_int_equal(verify, STW_OK);

  stw_net_free(net);
  printf("    SIGTERM after the crashes: clean exit\n");
  assert_int_equal(it_daemon_stop(&d), 0);
  for (unsigned i = 0; i < DEVICES; i++)
    it_device_free(&run->devs[i].d);
  free(run);
  it_world_free(&w);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(bootstrap_survives_kill_9),
  };
  return cmocka_run_group_tests_name("it_crash", tests, NULL, NULL);
}
