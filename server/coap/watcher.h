/* A thread that notices what another process wrote to the store (the CLI
 * revokes, starts campaigns and asks for attestation from its own process)
 * and wakes the event loop through the committer, the one thread-safe way
 * into it: a no-op job whose completion runs the part's callback in the
 * loop's thread, where it may notify observers. At most one wake-up is
 * queued at a time; a change seen while one is queued is covered by it. */
#ifndef STW_SERVER_COAP_WATCHER_H
#define STW_SERVER_COAP_WATCHER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "store/committer.h"
#include "store/store.h"

/** Runs in the watcher thread on the watcher's own store connection: once
 *  right after it opens with first true (to take a baseline; the answer is
 *  ignored), then every poll interval with first false. True: wake the loop. */
typedef bool (*stw_watch_poll_fn)(stw_store_t *st, bool first, void *arg);
/** Reads one number that moves with every change (a sequence, a fingerprint). */
typedef stw_status_t (*stw_watch_read_fn)(stw_store_t *st, uint64_t *out);
/** Runs in the event loop's thread, once per wake-up. */
typedef void (*stw_watch_wake_fn)(void *arg);

/** Embedded in the part that watches; the fields are the watcher's own. */
typedef struct {
  char store_url[1100];
  unsigned poll_ms;
  stw_committer_t *committer;
  stw_watch_poll_fn poll;          /* NULL when watching a number */
  stw_watch_read_fn read;
  uint64_t seen;                   /* the number last read (watcher thread) */
  stw_watch_wake_fn wake;
  void *arg;
  pthread_t thread;
  bool running;
  atomic_bool stop;
  atomic_bool wake_queued;
} stw_store_watcher_t;

/** Start the thread on an own connection to store_url. If the thread cannot
 *  start the part still serves, only without news from other processes, so
 *  there is nothing to report. arg is handed to poll and wake and must live
 *  until stw_store_watcher_stop() returns. */
void stw_store_watcher_start(stw_store_watcher_t *w, const char *store_url, unsigned poll_ms,
                             stw_committer_t *committer, stw_watch_poll_fn poll, stw_watch_wake_fn wake, void *arg);

/** The common case: wake the loop whenever the number read moves (a read
 *  that fails counts as no change). */
void stw_store_watcher_start_number(stw_store_watcher_t *w, const char *store_url, unsigned poll_ms,
                                    stw_committer_t *committer, stw_watch_read_fn read, stw_watch_wake_fn wake,
                                    void *arg);

/** Stop and join the thread, then drain the committer and dispatch what
 *  completed: a wake-up still queued points at arg, so it runs now, before
 *  the caller frees arg (and so does every other queued job). Only after
 *  stw_store_watcher_start(). */
void stw_store_watcher_stop(stw_store_watcher_t *w);

#endif
