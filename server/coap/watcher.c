#include "coap/watcher.h"

#include <stdio.h>
#include <time.h>

static stw_status_t noop_apply(stw_store_t *st, void *arg)
{
  (void)st;
  (void)arg;
  return STW_OK;
}

/* Event loop thread. The flag drops first: a change seen from here on
 * queues the next wake-up. */
static void wake_done(void *arg, stw_status_t status)
{
  (void)status;
  stw_store_watcher_t *w = arg;
  atomic_store(&w->wake_queued, false);
  w->wake(w->arg);
}

static bool number_moved(stw_store_watcher_t *w, stw_store_t *st, bool first)
{
  uint64_t now = 0;
  if (w->read(st, &now) != STW_OK || (!first && now == w->seen))
    return false;
  w->seen = now;
  return true;
}

static bool changed(stw_store_watcher_t *w, stw_store_t *st, bool first)
{
  return w->poll != NULL ? w->poll(st, first, w->arg) : number_moved(w, st, first);
}

static void *watch(void *arg)
{
  stw_store_watcher_t *w = arg;
  stw_store_t *st = NULL;
  if (stw_store_open(w->store_url, &st) != STW_OK)
    return NULL;
  (void)changed(w, st, true);
  while (!atomic_load(&w->stop)) {
    struct timespec ts = { (time_t)(w->poll_ms / 1000), (long)(w->poll_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    if (!changed(w, st, false))
      continue;
    if (!atomic_exchange(&w->wake_queued, true) &&
        stw_committer_submit(w->committer, noop_apply, wake_done, w) != STW_OK)
      atomic_store(&w->wake_queued, false);
  }
  stw_store_close(st);
  return NULL;
}

/* poll, or read for a watched number, is set by the caller. */
static void launch(stw_store_watcher_t *w, const char *store_url, unsigned poll_ms, stw_committer_t *committer,
                   stw_watch_wake_fn wake, void *arg)
{
  snprintf(w->store_url, sizeof(w->store_url), "%s", store_url);
  w->poll_ms = poll_ms;
  w->committer = committer;
  w->seen = 0;
  w->wake = wake;
  w->arg = arg;
  atomic_init(&w->stop, false);
  atomic_init(&w->wake_queued, false);
  w->running = pthread_create(&w->thread, NULL, watch, w) == 0;
}

void stw_store_watcher_start(stw_store_watcher_t *w, const char *store_url, unsigned poll_ms,
                             stw_committer_t *committer, stw_watch_poll_fn poll, stw_watch_wake_fn wake, void *arg)
{
  w->poll = poll;
  w->read = NULL;
  launch(w, store_url, poll_ms, committer, wake, arg);
}

void stw_store_watcher_start_number(stw_store_watcher_t *w, const char *store_url, unsigned poll_ms,
                                    stw_committer_t *committer, stw_watch_read_fn read, stw_watch_wake_fn wake,
                                    void *arg)
{
  w->poll = NULL;
  w->read = read;
  launch(w, store_url, poll_ms, committer, wake, arg);
}

void stw_store_watcher_stop(stw_store_watcher_t *w)
{
  atomic_store(&w->stop, true);
  if (w->running)
    pthread_join(w->thread, NULL);
  w->running = false;
  stw_committer_drain(w->committer);
  stw_committer_dispatch(w->committer);
}
