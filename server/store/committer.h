/* Group commit: jobs from the event loop are applied by one writer thread in
 * batches, one transaction (one fsync) per batch, each job inside its own
 * savepoint so a failing job does not undo its neighbours. A job's completion
 * runs back in the event loop's thread only after its batch is durable: the
 * daemon answers "enrolled" from there, never before. */
#ifndef STW_SERVER_COMMITTER_H
#define STW_SERVER_COMMITTER_H

#include "store.h"

typedef struct stw_committer stw_committer_t;

/** Runs in the writer thread inside the batch transaction. Must not block on
 *  anything but the store. Its status is handed to done(). */
typedef stw_status_t (*stw_job_apply_fn)(stw_store_t *st, void *arg);
/** Runs in the thread that calls stw_committer_dispatch(), after the commit
 *  (status STW_ERR_STORE if the batch failed to commit). Owns arg from then on. */
typedef void (*stw_job_done_fn)(void *arg, stw_status_t status);

/** Open a second store handle on url for the writer thread and start it.
 *  max_batch caps jobs per transaction (0: 1024). */
stw_status_t stw_committer_start(const char *url, unsigned max_batch, stw_committer_t **out) __attribute__((warn_unused_result));
/** Queue a job; thread-safe, never blocks on I/O. STW_ERR_BUSY if the queue is
 *  full (the caller answers 5.03/4.29 instead of queueing without bound). */
stw_status_t stw_committer_submit(stw_committer_t *c, stw_job_apply_fn apply, stw_job_done_fn done, void *arg) __attribute__((warn_unused_result));
/** A file descriptor that becomes readable when completions are waiting. */
int stw_committer_fd(const stw_committer_t *c);
/** Run waiting completions in the calling thread; returns how many ran. */
unsigned stw_committer_dispatch(stw_committer_t *c);
/** Block until every queued job is committed and dispatched (tests, shutdown). */
void stw_committer_drain(stw_committer_t *c);
/** Drain, stop the thread, close its store. NULL is fine. */
void stw_committer_stop(stw_committer_t *c);
/** Figures for the benchmark: batches committed and jobs applied so far. */
void stw_committer_stats(const stw_committer_t *c, uint64_t *batches, uint64_t *jobs);

#endif
