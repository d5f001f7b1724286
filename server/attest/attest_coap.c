#include "attest/attest_coap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "coap/transport.h"
#include "coap/watcher.h"

#define REQUESTS_MAX 1024          /* operator requests waiting for the event loop */
#define DUE_PER_TICK 256           /* periodic challenges issued per tick: a big fleet is spread out */

/* A device to challenge, and why: the operator asked, it just enrolled, or
 * it just installed an update. */
typedef struct {
  char device_id[STW_ID_HEX];
  const char *trigger;             /* static: "admin", "enroll", "update" */
} challenge_request_t;

struct stw_attest_coap {
  stw_store_t *store;
  const stw_domain_t *domain;
  stw_ca_t *ca;
  stw_committer_t *committer;
  coap_resource_t *att;
  stw_attest_sched_t sched;        /* event loop thread only */
  /* The follower: operator requests come as audit records from another
   * process (the CLI); it also wakes the loop for periodic challenges. */
  stw_store_watcher_t follower;
  unsigned tick_ms;
  uint64_t followed_seq;           /* follower thread only: the last audit record read */
  unsigned since_tick;             /* follower thread only */
  pthread_mutex_t lock;            /* guards requested */
  challenge_request_t requested[REQUESTS_MAX];
  size_t n_requested;
};

static void answer_challenge(coap_pdu_t *response, const stw_attest_slot_t *slot, int64_t now)
{
  stw_buf_t body;
  if (stw_attest_challenge_encode(slot, now, &body) != STW_OK) {
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "cannot encode the challenge");
    return;
  }
  uint8_t buf[4];
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
  coap_add_option(response, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(buf, sizeof(buf), STW_CF_CBOR), buf);
  coap_add_data(response, body.len, body.data);
  stw_buf_free(&body, false);
}

/* ---- issuing a challenge: the nonce is committed before anyone sees it ---------- */

typedef struct {
  stw_attest_coap_t *t;
  char device_id[STW_ID_HEX];
  uint8_t nonce[STW_ATTEST_NONCE_LEN];
  int64_t expires_at;
  stw_deferred_t *deferred;        /* a device that asked with a plain GET; NULL: notify */
} nonce_job_t;

static stw_status_t nonce_apply(stw_store_t *st, void *arg)
{
  nonce_job_t *job = arg;
  return stw_store_nonce_put(st, job->device_id, job->nonce, sizeof(job->nonce), job->expires_at);
}

static void nonce_done(void *arg, stw_status_t status)
{
  nonce_job_t *job = arg;
  stw_attest_coap_t *t = job->t;
  bool ready = status == STW_OK && stw_attest_sched_ready(&t->sched, job->device_id, job->nonce);
  if (job->deferred != NULL) {
    stw_attest_slot_t answer = { .expires_at = job->expires_at };
    memcpy(answer.nonce, job->nonce, sizeof(answer.nonce));
    stw_buf_t body;
    if (status != STW_OK || stw_attest_challenge_encode(&answer, stw_now(), &body) != STW_OK) {
      stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                          "store failure; no challenge issued, retry");
    } else {
      stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(205), STW_CF_CBOR, body.data, body.len, NULL);
      stw_buf_free(&body, false);
    }
  } else if (ready) {
    /* Every observer's GET runs again; each hears only its own challenge. */
    coap_resource_notify_observers(t->att, NULL);
  }
  stw_wipe(job, sizeof(*job));
  free(job);
}

static stw_status_t issue(stw_attest_coap_t *t, const char *device_id, const char *trigger, stw_deferred_t *deferred)
{
  int64_t now = stw_now();
  stw_attest_slot_t *slot;
  stw_status_t st = stw_attest_sched_challenge(&t->sched, device_id, trigger, now, &slot);
  if (st != STW_OK)
    return st;
  nonce_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL)
    return STW_ERR_NOMEM;
  job->t = t;
  snprintf(job->device_id, sizeof(job->device_id), "%s", device_id);
  memcpy(job->nonce, slot->nonce, sizeof(job->nonce));
  job->expires_at = slot->expires_at;
  job->deferred = deferred;
  if ((st = stw_committer_submit(t->committer, nonce_apply, nonce_done, job)) != STW_OK) {
    slot->challenged = false;
    free(job);
  }
  return st;
}

/* ---- GET /att ------------------------------------------------------------------------- */

static bool query_says(const coap_string_t *query, const char *what)
{
  size_t n = strlen(what);
  return query != NULL && query->length == n && memcmp(query->s, what, n) == 0;
}

static bool never_appraised(stw_attest_coap_t *t, const char *device_id, int64_t *last)
{
  stw_attest_row_t row;
  *last = 0;
  if (stw_store_attest_latest(t->store, device_id, &row) != STW_OK)
    return true;
  *last = row.at;
  return false;
}

static void handle_get(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                       const coap_string_t *query, coap_pdu_t *response)
{
  if (stw_deferred_resume(resource, session, request, response))
    return;
  stw_attest_coap_t *t = coap_resource_get_userdata(resource);
  stw_identity_t *who = stw_coap_enrolled_device(session, t->store, t->domain, t->ca, response);
  if (who == NULL)
    return;
  if (who->spki_len == 0) {
    stw_coap_error(response, COAP_RESPONSE_CODE(403), "attestation needs an LDevID key");
    goto out;
  }
  int64_t now = stw_now(), last = 0;
  coap_opt_iterator_t it;
  bool observing = coap_check_option(request, COAP_OPTION_OBSERVE, &it) != NULL;
  stw_attest_slot_t *slot = stw_attest_sched_slot(&t->sched, who->device_id);
  if (slot == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "too many devices attesting");
    goto out;
  }
  if (observing && !slot->watching) {
    slot->watching = true;
    (void)never_appraised(t, who->device_id, &last);
    slot->last_result = last;
  }
  const stw_attest_slot_t *pending = stw_attest_sched_pending(&t->sched, who->device_id, now);
  if (pending != NULL || observing) {
    answer_challenge(response, pending, now);
    goto out;
  }
  /* The device asks to attest now: a challenge of its own, answered once
   * the nonce is committed. An operator's or the schedule's challenge that
   * is still being committed keeps its trigger. */
  const char *trigger = slot->challenged ? slot->trigger
                        : never_appraised(t, who->device_id, &last) ? "enroll"
                        : query_says(query, "t=update") ? "update" : "device";
  char why[STW_TEXT_MAX];
  snprintf(why, sizeof(why), "%s", trigger);
  stw_deferred_t *d = stw_defer(session, request);
  if (d == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "busy");
    goto out;
  }
  if (issue(t, who->device_id, why, d) != STW_OK)
    stw_deferred_answer(d, COAP_RESPONSE_CODE(503), STW_CF_TEXT, NULL, 0, "busy, retry later");
out:
  free(who);
}

/* ---- POST /att -------------------------------------------------------------------------- */

typedef struct {
  stw_attest_coap_t *t;
  stw_appraisal_t a;
  int64_t now;
  stw_deferred_t *deferred;
} evidence_job_t;

static stw_status_t evidence_apply(stw_store_t *st, void *arg)
{
  evidence_job_t *job = arg;
  return stw_attest_record(st, &job->a, job->now);
}

static void evidence_done(void *arg, stw_status_t status)
{
  evidence_job_t *job = arg;
  stw_buf_t ear = { 0 };
  if (status != STW_OK) {
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                        "store failure; nothing was recorded, retry");
  } else if (job->a.coap_code != 0) {
    unsigned code = job->a.coap_code;
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(code), STW_CF_TEXT, NULL, 0, job->a.diag);
  } else if (stw_ear_encode((int)job->a.verdict, job->a.reasons, &ear) != STW_OK) {
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0, "cannot encode the result");
  } else {
    stw_attest_sched_done(&job->t->sched, job->a.device_id, job->a.ev.nonce, job->a.ev.nonce_len, job->now);
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(204), STW_CF_CBOR, ear.data, ear.len, NULL);
    stw_buf_free(&ear, false);
  }
  free(job);
}

static void handle_post(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                        const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  stw_attest_coap_t *t = coap_resource_get_userdata(resource);
  const uint8_t *data;
  size_t len;
  if (!stw_coap_request_body(request, STW_EVIDENCE_MAX, &data, &len)) {
    stw_coap_error(response, COAP_RESPONSE_CODE(413), "evidence over 4096 bytes");
    return;
  }
  evidence_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(503), "busy");
    return;
  }
  stw_identity_t *who = stw_coap_enrolled_device(session, t->store, t->domain, t->ca, response);
  if (who == NULL)
    goto drop;
  job->t = t;
  job->now = stw_now();
  if (stw_attest_appraise(t->store, who->device_id, data, len, job->now, &job->a) != STW_OK) {
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "cannot appraise now");
    goto drop;
  }
  if (job->a.coap_code == 0) {
    const char *trigger = stw_attest_sched_trigger(&t->sched, who->device_id, job->a.ev.nonce, job->a.ev.nonce_len);
    snprintf(job->a.trigger, sizeof(job->a.trigger), "%s",
             trigger[0] ? trigger : job->a.first ? "enroll" : "device");
  }
  free(who);
  who = NULL;
  if (!stw_coap_defer_job(session, request, response, t->committer, evidence_apply, evidence_done, job,
                          &job->deferred))
    goto drop;
  return;
drop:
  free(who);
  free(job);
}

/* ---- the follower: operator requests and the periodic tick ---------------------------- */

/* Event loop: challenge whom the operator named, then whoever is due. */
static void challenge_requested_and_due(void *arg)
{
  stw_attest_coap_t *t = arg;
  challenge_request_t asked[REQUESTS_MAX];
  size_t n;
  pthread_mutex_lock(&t->lock);
  n = t->n_requested;
  memcpy(asked, t->requested, n * sizeof(asked[0]));
  t->n_requested = 0;
  pthread_mutex_unlock(&t->lock);
  for (size_t i = 0; i < n; i++)
    (void)issue(t, asked[i].device_id, asked[i].trigger, NULL);
  const char *due[DUE_PER_TICK];
  size_t n_due = stw_attest_sched_due(&t->sched, stw_now(), due, DUE_PER_TICK);
  char copy[STW_ID_HEX];
  for (size_t i = 0; i < n_due; i++) {
    snprintf(copy, sizeof(copy), "%s", due[i]);  /* issue() may move the table */
    (void)issue(t, copy, "periodic", NULL);
  }
}

typedef struct {
  stw_attest_coap_t *t;
  uint64_t last;
  bool any;
} tail_t;

static stw_status_t take_request(const stw_audit_t *a, void *ctx)
{
  tail_t *tail = ctx;
  tail->last = a->seq;
  tail->any = true;
  /* The audit log is where the other parts say what happened: attestation
   * follows an enrollment and an installed update without those parts
   * knowing about it (server/enroll, server/update write these records). */
  const char *trigger = NULL;
  if (strcmp(a->action, "attest.request") == 0)
    trigger = "admin";
  else if (strcmp(a->action, "enroll") == 0 && strcmp(a->outcome, "ok") == 0)
    trigger = "enroll";
  else if (strcmp(a->action, "update.report") == 0 && strcmp(a->outcome, "installed") == 0)
    trigger = "update";
  if (trigger == NULL || strlen(a->subject) != 32)
    return STW_OK;
  pthread_mutex_lock(&tail->t->lock);
  if (tail->t->n_requested < REQUESTS_MAX) {
    challenge_request_t *r = &tail->t->requested[tail->t->n_requested++];
    snprintf(r->device_id, sizeof(r->device_id), "%s", a->subject);
    r->trigger = trigger;
  }
  pthread_mutex_unlock(&tail->t->lock);
  return STW_OK;
}

/* Follower thread: take the operator's and the other parts' requests from
 * the audit log, and say when the periodic tick is due. */
static bool follow(stw_store_t *st, bool first, void *arg)
{
  stw_attest_coap_t *t = arg;
  if (first) {
    if (stw_store_audit_last(st, &t->followed_seq) != STW_OK)
      t->followed_seq = 0;
    return false;
  }
  t->since_tick += STW_ATTEST_POLL_MS;
  pthread_mutex_lock(&t->lock);
  size_t before = t->n_requested;
  pthread_mutex_unlock(&t->lock);
  tail_t tail = { .t = t, .last = t->followed_seq };
  /* Read up to the end: a roll-out writes records faster than one page a poll. */
  for (uint64_t from = tail.last + 1; from != tail.last;) {
    from = tail.last;
    if (stw_store_audit_list(st, tail.last, 256, take_request, &tail) != STW_OK)
      break;
  }
  t->followed_seq = tail.last;
  pthread_mutex_lock(&t->lock);
  bool requested = t->n_requested > before;
  pthread_mutex_unlock(&t->lock);
  bool tick = t->tick_ms > 0 && t->since_tick >= t->tick_ms;
  if (tick)
    t->since_tick = 0;
  return requested || tick;
}

/* ---- registration ---------------------------------------------------------------------- */

stw_status_t stw_attest_coap_register(stw_coap_server_t *server, stw_store_t *store, const char *store_url,
                                      const stw_domain_t *domain, stw_committer_t *committer,
                                      const stw_attest_opts_t *opts, stw_attest_coap_t **out)
{
  *out = NULL;
  stw_attest_coap_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->store = store;
  t->domain = domain;
  t->committer = committer;
  int64_t interval = opts && opts->interval != 0 ? opts->interval : STW_ATTEST_INTERVAL_DEFAULT;
  if (interval < 0)
    interval = 0;
  stw_attest_sched_init(&t->sched, interval, opts ? opts->nonce_lifetime : 0);
  /* Look for due devices ten times per interval, at most every 5 s. */
  int64_t tick = interval * 100;
  t->tick_ms = interval == 0 ? 0 : tick > 5000 ? 5000 : tick < STW_ATTEST_POLL_MS ? STW_ATTEST_POLL_MS : (unsigned)tick;
  pthread_mutex_init(&t->lock, NULL);
  stw_status_t st = stw_ca_new(domain->ca_der.data, domain->ca_der.len, domain->ca_key, &t->ca);
  if (st != STW_OK) {
    pthread_mutex_destroy(&t->lock);
    free(t);
    return st;
  }
  t->att = coap_resource_init(coap_make_str_const("att"), 0);
  if (t->att == NULL) {
    stw_ca_free(t->ca);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return STW_ERR_NOMEM;
  }
  coap_register_request_handler(t->att, COAP_REQUEST_GET, handle_get);
  coap_register_request_handler(t->att, COAP_REQUEST_POST, handle_post);
  coap_resource_set_userdata(t->att, t);
  coap_resource_set_get_observable(t->att, 1);
  coap_add_attr(t->att, coap_make_str_const("rt"), coap_make_str_const("\"steward.att\""), 0);
  coap_add_attr(t->att, coap_make_str_const("obs"), NULL, 0);
  coap_add_resource(stw_coap_server_context(server), t->att);
  stw_store_watcher_start(&t->follower, store_url, STW_ATTEST_POLL_MS, committer, follow,
                          challenge_requested_and_due, t);
  *out = t;
  return STW_OK;
}

void stw_attest_coap_free(stw_attest_coap_t *t)
{
  if (t == NULL)
    return;
  /* Also runs the jobs still queued, which point at t, now rather than after free. */
  stw_store_watcher_stop(&t->follower);
  stw_attest_sched_free(&t->sched);
  stw_ca_free(t->ca);
  pthread_mutex_destroy(&t->lock);
  free(t);
}
