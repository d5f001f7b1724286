/* Group commit. Producers (any thread) append jobs to a bounded queue; one
 * writer thread takes everything queued, up to max_batch, applies it in one
 * transaction with a savepoint per job, commits once (one fsync for the whole
 * batch), then hands the jobs to a done list and makes an eventfd readable.
 * The event loop runs the done callbacks in its own thread via dispatch, so
 * an answer ("enrolled") is only ever sent for a change that is durable.
 *
 * Locking: one mutex guards the lists and the counters that move with them;
 * the batch being applied belongs to the writer thread alone. */
#include "committer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "store_internal.h"

typedef struct job {
  struct job *next;
  stw_job_apply_fn apply;
  stw_job_done_fn done;
  void *arg;
  stw_status_t status;
} job_t;

typedef struct {
  job_t *head;
  job_t *tail;
} job_list_t;

struct stw_committer {
  stw_store_t *st;                  /* the writer thread's own handle */
  unsigned max_batch;
  int efd;                          /* readable while done jobs wait */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t work;              /* writer: jobs queued, or stopping */
  pthread_cond_t progress;          /* drain: a batch finished, or jobs dispatched */
  job_list_t queued;
  job_list_t done;
  size_t outstanding;               /* submitted and not yet dispatched: the bound */
  bool stopping;
  atomic_uint_fast64_t batches;     /* read without the lock by stats() */
  atomic_uint_fast64_t jobs;
};

static void list_push(job_list_t *l, job_t *j)
{
  j->next = NULL;
  if (l->tail != NULL)
    l->tail->next = j;
  else
    l->head = j;
  l->tail = j;
}

static void list_concat(job_list_t *dst, job_list_t *src)
{
  if (src->head == NULL)
    return;
  if (dst->tail != NULL)
    dst->tail->next = src->head;
  else
    dst->head = src->head;
  dst->tail = src->tail;
  src->head = src->tail = NULL;
}

/* Take up to max jobs off the front of src. */
static unsigned list_take(job_list_t *src, unsigned max, job_list_t *out)
{
  unsigned n = 0;
  out->head = out->tail = NULL;
  while (src->head != NULL && n < max) {
    job_t *j = src->head;
    src->head = j->next;
    if (src->head == NULL)
      src->tail = NULL;
    list_push(out, j);
    n++;
  }
  return n;
}

static void mark_all(job_t *from, job_t *until, stw_status_t status)
{
  for (job_t *j = from; j != until; j = j->next)
    j->status = status;
}

#define JOB_SAVEPOINT "stw_job"

/* Apply one batch inside one transaction. Each job's status is set. If the
 * database drops the transaction under a job (disk full, I/O error), the jobs
 * applied before it in this transaction are lost with it: they get
 * STW_ERR_STORE and the rest of the batch continues in a new transaction. */
static void apply_batch(stw_committer_t *c, job_list_t *batch)
{
  stw_store_t *st = c->st;
  job_t *tx_first = batch->head;   /* first job of the current transaction */
  stw_status_t rc = stw_store_begin(st);
  if (rc != STW_OK) {
    mark_all(batch->head, NULL, STW_ERR_STORE);
    return;
  }
  for (job_t *j = batch->head; j != NULL; j = j->next) {
    if (stw_store_savepoint(st, JOB_SAVEPOINT) != STW_OK) {
      j->status = STW_ERR_STORE;
      continue;
    }
    j->status = j->apply(st, j->arg);
    if (st->ops->in_tx(st->be)) {
      if (j->status != STW_OK)
        stw_store_rollback_to(st, JOB_SAVEPOINT);  /* undo this job only */
      if (stw_store_release(st, JOB_SAVEPOINT) != STW_OK && j->status == STW_OK)
        j->status = STW_ERR_STORE;
      continue;
    }
    /* The transaction is gone: everything since tx_first is lost. */
    mark_all(tx_first, j->next, STW_ERR_STORE);
    tx_first = j->next;
    if (tx_first != NULL && stw_store_begin(st) != STW_OK) {
      mark_all(tx_first, NULL, STW_ERR_STORE);
      return;
    }
  }
  if (tx_first == NULL)
    return;
  /* One COMMIT, one fsync, for every job of the transaction. */
  if (stw_store_commit(st) != STW_OK)
    mark_all(tx_first, NULL, STW_ERR_STORE);
}

static void signal_done(stw_committer_t *c)
{
  uint64_t one = 1;
  /* EAGAIN only when the counter is near 2^64: it is readable already. */
  while (write(c->efd, &one, sizeof(one)) < 0 && errno == EINTR)
    ;
}

static void *writer_main(void *arg)
{
  stw_committer_t *c = arg;
  pthread_mutex_lock(&c->lock);
  for (;;) {
    while (c->queued.head == NULL && !c->stopping)
      pthread_cond_wait(&c->work, &c->lock);
    if (c->queued.head == NULL)
      break;  /* stopping, and nothing left to write */
    job_list_t batch;
    unsigned n = list_take(&c->queued, c->max_batch, &batch);
    pthread_mutex_unlock(&c->lock);

    apply_batch(c, &batch);

    pthread_mutex_lock(&c->lock);
    list_concat(&c->done, &batch);
    atomic_fetch_add(&c->batches, 1);
    atomic_fetch_add(&c->jobs, n);
    signal_done(c);
    pthread_cond_broadcast(&c->progress);
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

stw_status_t stw_committer_start(const char *url, unsigned max_batch, stw_committer_t **out)
{
  stw_committer_t *c = NULL;
  stw_status_t rc = STW_ERR_INVALID;
  bool lock_ok = false, work_ok = false, progress_ok = false;

  if (url == NULL || out == NULL)
    goto out;
  *out = NULL;
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    rc = STW_ERR_NOMEM;
    goto out;
  }
  c->efd = -1;
  c->max_batch = max_batch != 0 ? max_batch : STW_COMMITTER_BATCH_DEFAULT;
  atomic_init(&c->batches, 0);
  atomic_init(&c->jobs, 0);
  rc = STW_ERR_NOMEM;
  if (pthread_mutex_init(&c->lock, NULL) != 0)
    goto out;
  lock_ok = true;
  if (pthread_cond_init(&c->work, NULL) != 0)
    goto out;
  work_ok = true;
  if (pthread_cond_init(&c->progress, NULL) != 0)
    goto out;
  progress_ok = true;
  c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (c->efd < 0) {
    rc = STW_ERR_IO;
    goto out;
  }
  if ((rc = stw_store_open(url, &c->st)) != STW_OK)
    goto out;
  if (pthread_create(&c->thread, NULL, writer_main, c) != 0) {
    rc = STW_ERR_NOMEM;
    goto out;
  }
  *out = c;
  c = NULL;
  rc = STW_OK;
out:
  if (c != NULL) {
    stw_store_close(c->st);
    if (c->efd >= 0)
      close(c->efd);
    if (progress_ok)
      pthread_cond_destroy(&c->progress);
    if (work_ok)
      pthread_cond_destroy(&c->work);
    if (lock_ok)
      pthread_mutex_destroy(&c->lock);
    free(c);
  }
  return rc;
}

stw_status_t stw_committer_submit(stw_committer_t *c, stw_job_apply_fn apply, stw_job_done_fn done, void *arg)
{
  stw_status_t rc = STW_ERR_INVALID;
  if (c == NULL || apply == NULL)
    goto out;
  job_t *j = malloc(sizeof(*j));
  if (j == NULL) {
    rc = STW_ERR_NOMEM;
    goto out;
  }
  j->apply = apply;
  j->done = done;
  j->arg = arg;
  j->status = STW_ERR_STORE;
  pthread_mutex_lock(&c->lock);
  if (c->stopping) {
    rc = STW_ERR_STATE;
  } else if (c->outstanding >= STW_COMMITTER_QUEUE_MAX) {
    rc = STW_ERR_BUSY;  /* back-pressure instead of unbounded memory */
  } else {
    list_push(&c->queued, j);
    c->outstanding++;
    j = NULL;
    pthread_cond_signal(&c->work);
    rc = STW_OK;
  }
  pthread_mutex_unlock(&c->lock);
  free(j);
out:
  return rc;
}

int stw_committer_fd(const stw_committer_t *c)
{
  return c != NULL ? c->efd : -1;
}

unsigned stw_committer_dispatch(stw_committer_t *c)
{
  job_list_t ready;
  unsigned n = 0;
  uint64_t counter;
  if (c == NULL)
    return 0;
  pthread_mutex_lock(&c->lock);
  ready = c->done;
  c->done.head = c->done.tail = NULL;
  /* Reset the eventfd with the list it announced, under the same lock the
   * writer signals under, so a readable fd always means work is waiting. */
  while (read(c->efd, &counter, sizeof(counter)) < 0 && errno == EINTR)
    ;
  pthread_mutex_unlock(&c->lock);

  for (job_t *j = ready.head; j != NULL;) {
    job_t *next = j->next;
    if (j->done != NULL)
      j->done(j->arg, j->status);
    free(j);
    j = next;
    n++;
  }
  if (n > 0) {
    pthread_mutex_lock(&c->lock);
    c->outstanding -= n;
    pthread_cond_broadcast(&c->progress);
    pthread_mutex_unlock(&c->lock);
  }
  return n;
}

void stw_committer_drain(stw_committer_t *c)
{
  if (c == NULL)
    return;
  /* Drain runs in the dispatching thread, so it dispatches what completes. */
  for (;;) {
    stw_committer_dispatch(c);
    pthread_mutex_lock(&c->lock);
    if (c->outstanding == 0) {
      pthread_mutex_unlock(&c->lock);
      return;
    }
    while (c->done.head == NULL && c->outstanding > 0)
      pthread_cond_wait(&c->progress, &c->lock);
    pthread_mutex_unlock(&c->lock);
  }
}

void stw_committer_stop(stw_committer_t *c)
{
  if (c == NULL)
    return;
  stw_committer_drain(c);
  pthread_mutex_lock(&c->lock);
  c->stopping = true;
  pthread_cond_signal(&c->work);
  pthread_mutex_unlock(&c->lock);
  pthread_join(c->thread, NULL);
  /* A job submitted between drain and stopping was still written by the
   * thread before it left: hand its completion over too. */
  stw_committer_dispatch(c);
  stw_store_close(c->st);
  close(c->efd);
  pthread_cond_destroy(&c->progress);
  pthread_cond_destroy(&c->work);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

void stw_committer_stats(const stw_committer_t *c, uint64_t *batches, uint64_t *jobs)
{
  if (batches != NULL)
    *batches = c != NULL ? (uint64_t)atomic_load(&c->batches) : 0;
  if (jobs != NULL)
    *jobs = c != NULL ? (uint64_t)atomic_load(&c->jobs) : 0;
}
