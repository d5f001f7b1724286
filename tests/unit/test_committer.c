/* The group-commit writer (server/store/committer): jobs from many threads
 * applied once each and in batches, per-job savepoints, completions only
 * after commit and only in dispatch, drain and stop lose nothing, BUSY when
 * the queue is full, and a failed COMMIT fails the whole batch. */
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/committer.h"
#include "store/store_internal.h"

typedef struct {
  char *dir;
  char path[600];
  stw_store_t *reader;  /* a second handle, as the event loop would have */
} fx_t;

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  fx->dir = stw_test_tmpdir("committer");
  snprintf(fx->path, sizeof(fx->path), "%s/steward.db", fx->dir);
  assert_int_equal(stw_store_open(fx->path, &fx->reader), STW_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_store_close(fx->reader);
  stw_test_rmtree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

static uint64_t serials_in(stw_store_t *st)
{
  uint64_t n = 0;
  assert_int_equal(stw_store_serial_count(st, &n), STW_OK);
  return n;
}

static bool fd_readable(int fd, int timeout_ms)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* A job claims one serial; its completion records the status it got. */
typedef struct {
  char serial[24];
  stw_status_t fail_with;    /* returned after the claim, to test rollback */
  atomic_int applied;        /* times apply ran */
  int done_calls;            /* touched only in the dispatching thread */
  stw_status_t status;
  pthread_t done_thread;
  stw_store_t *check;        /* when set, done() checks the serial is durable */
  bool was_visible;
} claim_job_t;

static stw_status_t claim_apply(stw_store_t *st, void *arg)
{
  claim_job_t *j = arg;
  atomic_fetch_add(&j->applied, 1);
  stw_status_t rc = stw_store_serial_claim(st, j->serial, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0);
  if (rc != STW_OK)
    return rc;
  return j->fail_with;
}

static void claim_done(void *arg, stw_status_t status)
{
  claim_job_t *j = arg;
  j->done_calls++;
  j->status = status;
  j->done_thread = pthread_self();
  if (j->check != NULL) {
    /* Committed means another connection can already see it. */
    uint64_t before = serials_in(j->check);
    j->was_visible = stw_store_serial_claim(j->check, j->serial, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0) == STW_ERR_EXISTS;
    assert_int_equal(serials_in(j->check), before);
  }
}

/* A job that holds the writer until the test lets it go. */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool started;
  bool release;
} gate_t;

static void gate_init(gate_t *g)
{
  memset(g, 0, sizeof(*g));
  pthread_mutex_init(&g->lock, NULL);
  pthread_cond_init(&g->cond, NULL);
}

static void gate_destroy(gate_t *g)
{
  pthread_cond_destroy(&g->cond);
  pthread_mutex_destroy(&g->lock);
}

static stw_status_t gate_apply(stw_store_t *st, void *arg)
{
  gate_t *g = arg;
  (void)st;
  pthread_mutex_lock(&g->lock);
  g->started = true;
  pthread_cond_broadcast(&g->cond);
  while (!g->release)
    pthread_cond_wait(&g->cond, &g->lock);
  pthread_mutex_unlock(&g->lock);
  return STW_OK;
}

static void gate_wait_started(gate_t *g)
{
  pthread_mutex_lock(&g->lock);
  while (!g->started)
    pthread_cond_wait(&g->cond, &g->lock);
  pthread_mutex_unlock(&g->lock);
}

static void gate_open(gate_t *g)
{
  pthread_mutex_lock(&g->lock);
  g->release = true;
  pthread_cond_broadcast(&g->cond);
  pthread_mutex_unlock(&g->lock);
}

/* ---- many producers ------------------------------------------------------------ */

#define PRODUCERS 4
#define JOBS_EACH 1500

typedef struct {
  stw_committer_t *c;
  claim_job_t *jobs;
  int n;
  atomic_int *busy_retries;
} producer_t;

static void *producer_main(void *arg)
{
  producer_t *p = arg;
  for (int i = 0; i < p->n; i++) {
    stw_status_t rc;
    while ((rc = stw_committer_submit(p->c, claim_apply, claim_done, &p->jobs[i])) == STW_ERR_BUSY) {
      atomic_fetch_add(p->busy_retries, 1);
      usleep(100);
    }
    if (rc != STW_OK)
      return (void *)1;
  }
  return NULL;
}

static void test_many_threads_each_job_once(void **state)
{
  fx_t *fx = *state;
  stw_committer_t *c = NULL;
  assert_int_equal(stw_committer_start(fx->path, 0, &c), STW_OK);
  int total = PRODUCERS * JOBS_EACH;
  claim_job_t *jobs = calloc((size_t)total, sizeof(*jobs));
  assert_non_null(jobs);
  for (int i = 0; i < total; i++)
    snprintf(jobs[i].serial, sizeof(jobs[i].serial), "%08x", (unsigned)i + 1);

  atomic_int busy = 0;
  producer_t prod[PRODUCERS];
  pthread_t th[PRODUCERS];
  for (int t = 0; t < PRODUCERS; t++) {
    prod[t] = (producer_t){ .c = c, .jobs = jobs + t * JOBS_EACH, .n = JOBS_EACH, .busy_retries = &busy };
    assert_int_equal(pthread_create(&th[t], NULL, producer_main, &prod[t]), 0);
  }

  /* The event loop: wait on the fd, dispatch. */
  unsigned dispatched = 0;
  while (dispatched < (unsigned)total) {
    if (fd_readable(stw_committer_fd(c), 5000))
      dispatched += stw_committer_dispatch(c);
    else
      fail_msg("no completion within 5 s (%u of %d)", dispatched, total);
  }
  for (int t = 0; t < PRODUCERS; t++) {
    void *res = (void *)1;
    pthread_join(th[t], &res);
    assert_null(res);
  }
  assert_int_equal(dispatched, total);

  uint64_t batches = 0, applied = 0;
  stw_committer_stats(c, &batches, &applied);
  assert_int_equal(applied, total);
  assert_true(batches >= 1);
  assert_true(batches < (uint64_t)total);  /* it really batches */
  printf("# %d jobs in %llu batches\n", total, (unsigned long long)batches);

  for (int i = 0; i < total; i++) {
    assert_int_equal(atomic_load(&jobs[i].applied), 1);
    assert_int_equal(jobs[i].done_calls, 1);
    assert_int_equal(jobs[i].status, STW_OK);
    assert_true(pthread_equal(jobs[i].done_thread, pthread_self()));
  }
  assert_int_equal(serials_in(fx->reader), total);
  stw_committer_stop(c);
  free(jobs);
}

/* ---- savepoints ------------------------------------------------------------------- */

static void test_failing_job_rolls_back_only_itself(void **state)
{
  fx_t *fx = *state;
  stw_committer_t *c = NULL;
  gate_t gate;
  gate_init(&gate);
  assert_int_equal(stw_committer_start(fx->path, 0, &c), STW_OK);
  assert_int_equal(stw_committer_submit(c, gate_apply, NULL, &gate), STW_OK);
  gate_wait_started(&gate);

  /* Queued while the writer is held, so they share one batch. */
  claim_job_t a = { .serial = "a1" }, b = { .serial = "b2", .fail_with = STW_ERR_FORBIDDEN };
  claim_job_t dup = { .serial = "a1" }, d = { .serial = "d4" };
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &a), STW_OK);
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &b), STW_OK);
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &dup), STW_OK);
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &d), STW_OK);
  gate_open(&gate);
  stw_committer_drain(c);

  uint64_t batches = 0, applied = 0;
  stw_committer_stats(c, &batches, &applied);
  assert_int_equal(batches, 2);
  assert_int_equal(applied, 5);

  assert_int_equal(a.status, STW_OK);
  assert_int_equal(b.status, STW_ERR_FORBIDDEN);
  assert_int_equal(dup.status, STW_ERR_EXISTS);  /* saw a's claim inside the batch */
  assert_int_equal(d.status, STW_OK);
  assert_int_equal(serials_in(fx->reader), 2);
  /* b's claim was undone with b: its serial is still free. */
  assert_int_equal(stw_store_serial_claim(fx->reader, "b2", "cccccccccccccccccccccccccccccccc", 0), STW_OK);
  stw_committer_stop(c);
  gate_destroy(&gate);
}

/* ---- completions ------------------------------------------------------------------ */

static void test_done_only_after_commit_and_in_dispatch(void **state)
{
  fx_t *fx = *state;
  stw_committer_t *c = NULL;
  assert_int_equal(stw_committer_start(fx->path, 8, &c), STW_OK);
  assert_false(fd_readable(stw_committer_fd(c), 0));

  claim_job_t j = { .serial = "c0ffee", .check = fx->reader };
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &j), STW_OK);
  /* Wait for the writer to finish the batch, without dispatching. */
  assert_true(fd_readable(stw_committer_fd(c), 5000));
  uint64_t applied = 0;
  stw_committer_stats(c, NULL, &applied);
  assert_int_equal(applied, 1);
  usleep(20000);
  assert_int_equal(j.done_calls, 0);  /* nothing runs behind the event loop's back */
  assert_int_equal(serials_in(fx->reader), 1);

  assert_int_equal(stw_committer_dispatch(c), 1);
  assert_int_equal(j.done_calls, 1);
  assert_int_equal(j.status, STW_OK);
  assert_true(j.was_visible);
  assert_true(pthread_equal(j.done_thread, pthread_self()));
  assert_false(fd_readable(stw_committer_fd(c), 0));  /* dispatch consumed the signal */
  assert_int_equal(stw_committer_dispatch(c), 0);
  stw_committer_stop(c);
}

/* ---- drain and stop ------------------------------------------------------------------ */

static void test_drain_and_stop_lose_nothing(void **state)
{
  fx_t *fx = *state;
  enum { N = 3000 };
  claim_job_t *jobs = calloc(N, sizeof(*jobs));
  assert_non_null(jobs);
  stw_committer_t *c = NULL;
  assert_int_equal(stw_committer_start(fx->path, 64, &c), STW_OK);

  for (int i = 0; i < N / 2; i++) {
    snprintf(jobs[i].serial, sizeof(jobs[i].serial), "%x", 0x1000 + i);
    assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &jobs[i]), STW_OK);
  }
  stw_committer_drain(c);
  for (int i = 0; i < N / 2; i++)
    assert_int_equal(jobs[i].done_calls, 1);
  assert_int_equal(serials_in(fx->reader), N / 2);

  for (int i = N / 2; i < N; i++) {
    snprintf(jobs[i].serial, sizeof(jobs[i].serial), "%x", 0x1000 + i);
    assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &jobs[i]), STW_OK);
  }
  stw_committer_stop(c);  /* no dispatch by hand: stop must deliver them all */
  for (int i = 0; i < N; i++) {
    assert_int_equal(jobs[i].done_calls, 1);
    assert_int_equal(jobs[i].status, STW_OK);
  }
  assert_int_equal(serials_in(fx->reader), N);
  stw_committer_stop(NULL);
  stw_committer_drain(NULL);
  free(jobs);
}

/* ---- back-pressure -------------------------------------------------------------------- */

static stw_status_t noop_apply(stw_store_t *st, void *arg)
{
  (void)st;
  (void)arg;
  return STW_OK;
}

static void count_done(void *arg, stw_status_t status)
{
  if (status == STW_OK)
    (*(unsigned *)arg)++;
}

static void test_busy_when_full(void **state)
{
  fx_t *fx = *state;
  stw_committer_t *c = NULL;
  gate_t gate;
  gate_init(&gate);
  unsigned ok = 0;
  assert_int_equal(stw_committer_start(fx->path, 0, &c), STW_OK);
  assert_int_equal(stw_committer_submit(c, gate_apply, NULL, &gate), STW_OK);
  gate_wait_started(&gate);

  unsigned queued = 1;  /* the gate job holds a place too */
  stw_status_t rc;
  while ((rc = stw_committer_submit(c, noop_apply, count_done, &ok)) == STW_OK)
    queued++;
  assert_int_equal(rc, STW_ERR_BUSY);
  assert_int_equal(queued, STW_COMMITTER_QUEUE_MAX);
  assert_int_equal(stw_committer_submit(c, noop_apply, count_done, &ok), STW_ERR_BUSY);

  gate_open(&gate);
  stw_committer_drain(c);
  assert_int_equal(ok, STW_COMMITTER_QUEUE_MAX - 1);
  /* Room again once completions are dispatched. */
  assert_int_equal(stw_committer_submit(c, noop_apply, count_done, &ok), STW_OK);
  stw_committer_stop(c);
  assert_int_equal(ok, STW_COMMITTER_QUEUE_MAX);
  gate_destroy(&gate);
}

/* ---- failed commit ------------------------------------------------------------------------ */

/* A deferred foreign key is checked at COMMIT: the one way to make a commit
 * fail on demand without breaking the disk. */
static stw_status_t orphan_apply(stw_store_t *st, void *arg)
{
  (void)arg;
  sqlite3 *db = stw__sqlite_handle(st);
  if (db == NULL)
    return STW_ERR_UNSUPPORTED;
  return sqlite3_exec(db, "INSERT INTO t_child (parent) VALUES (42)", NULL, NULL, NULL) == SQLITE_OK
           ? STW_OK : STW_ERR_STORE;
}

static void status_done(void *arg, stw_status_t status)
{
  *(stw_status_t *)arg = status;
}

static void test_failed_commit_fails_whole_batch(void **state)
{
  fx_t *fx = *state;
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
    "CREATE TABLE t_parent (id INTEGER PRIMARY KEY);"
    "CREATE TABLE t_child (parent INTEGER REFERENCES t_parent (id) DEFERRABLE INITIALLY DEFERRED);",
    NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);

  stw_committer_t *c = NULL;
  gate_t gate;
  gate_init(&gate);
  assert_int_equal(stw_committer_start(fx->path, 0, &c), STW_OK);
  assert_int_equal(stw_committer_submit(c, gate_apply, NULL, &gate), STW_OK);
  gate_wait_started(&gate);

  claim_job_t a = { .serial = "f1" };
  stw_status_t orphan_status = STW_OK;
  claim_job_t b = { .serial = "f2" };
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &a), STW_OK);
  assert_int_equal(stw_committer_submit(c, orphan_apply, status_done, &orphan_status), STW_OK);
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &b), STW_OK);
  gate_open(&gate);
  stw_committer_drain(c);

  assert_int_equal(a.status, STW_ERR_STORE);
  assert_int_equal(orphan_status, STW_ERR_STORE);
  assert_int_equal(b.status, STW_ERR_STORE);
  assert_int_equal(serials_in(fx->reader), 0);

  /* The writer carries on with the next batch. */
  claim_job_t after = { .serial = "f3" };
  assert_int_equal(stw_committer_submit(c, claim_apply, claim_done, &after), STW_OK);
  stw_committer_drain(c);
  assert_int_equal(after.status, STW_OK);
  assert_int_equal(serials_in(fx->reader), 1);
  stw_committer_stop(c);
  gate_destroy(&gate);
}

static void test_start_errors(void **state)
{
  (void)state;
  stw_committer_t *c = (stw_committer_t *)1;
  assert_int_equal(stw_committer_start("postgres:dbname=x", 0, &c), STW_ERR_UNSUPPORTED);
  assert_null(c);
  assert_int_equal(stw_committer_start(NULL, 0, &c), STW_ERR_INVALID);
  assert_int_equal(stw_committer_fd(NULL), -1);
  assert_int_equal(stw_committer_dispatch(NULL), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_many_threads_each_job_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_failing_job_rolls_back_only_itself, setup, teardown),
    cmocka_unit_test_setup_teardown(test_done_only_after_commit_and_in_dispatch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_drain_and_stop_lose_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_busy_when_full, setup, teardown),
    cmocka_unit_test_setup_teardown(test_failed_commit_fails_whole_batch, setup, teardown),
    cmocka_unit_test(test_start_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
