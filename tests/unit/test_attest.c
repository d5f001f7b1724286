/* Appraisal of attestation evidence (server/attest): reference values,
 * nonces, keys and ueids, measurements, quarantine and remediation, the
 * operator's hand, and the challenge scheduler. Each refusal is asserted
 * with its code and with nothing changed but its own audit record. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "domain/domain.h"
#include "evidence.h"
#include "pki.h"
#include "store_fixture.h"

#define MODEL "meter-1"

typedef struct {
  char id[STW_ID_HEX];
  stw_key_t *key;
} tdev_t;

typedef struct {
  char *dir;
  stw_domain_t *domain;
  stw_store_t *st;
  tdev_t a, b;
  uint8_t v2[32];        /* the authorised image, manifest sequence 2 */
  uint8_t factory[32];   /* a factory image (no manifest) */
  uint8_t config[32];
} fx_t;

static void enroll(fx_t *fx, const char *name, tdev_t *dev)
{
  assert_int_equal(stw_key_generate(&dev->key), STW_OK);
  store_fx_put_x509_device(fx->st, fx->domain, dev->key, name, MODEL, STW_STATE_OPERATIONAL, dev->id, NULL);
}

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  fx->dir = stw_test_tmpdir("attest");
  assert_int_equal(stw_domain_open(fx->dir, "home", &fx->domain), STW_OK);
  assert_int_equal(stw_store_open(fx->domain->store_url, &fx->st), STW_OK);
  enroll(fx, "meter-a", &fx->a);
  enroll(fx, "meter-b", &fx->b);
  assert_int_equal(stw_sha256((const uint8_t *)"image v2", 8, fx->v2), STW_OK);
  assert_int_equal(stw_sha256((const uint8_t *)"factory image", 13, fx->factory), STW_OK);
  assert_int_equal(stw_sha256((const uint8_t *)"config", 6, fx->config), STW_OK);
  stw_firmware_t fw;
  memset(&fw, 0, sizeof(fw));
  snprintf(fw.vendor, sizeof(fw.vendor), "acme");
  snprintf(fw.class_id, sizeof(fw.class_id), MODEL);
  snprintf(fw.component, sizeof(fw.component), "firmware");
  fw.sequence = 2;
  memcpy(fw.digest, fx->v2, 32);
  fw.size = 8;
  snprintf(fw.uri, sizeof(fw.uri), "/fw/img/v2");
  uint8_t envelope[4] = { 0xa0 };
  fw.envelope = envelope;
  fw.envelope_len = 1;
  assert_int_equal(stw_store_firmware_put(fx->st, &fw), STW_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_key_free(fx->a.key);
  stw_key_free(fx->b.key);
  stw_store_close(fx->st);
  stw_domain_close(fx->domain);
  stw_test_rmtree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

/* A challenge issued to dev, valid until expires_at. */
static void challenge(fx_t *fx, const tdev_t *dev, uint8_t fill, int64_t expires_at, uint8_t nonce[32])
{
  memset(nonce, fill, 32);
  assert_int_equal(stw_store_nonce_put(fx->st, dev->id, nonce, 32, expires_at), STW_OK);
}

typedef struct {
  const char *ueid_of;       /* device id the ueid names (NULL: the signer's) */
  const uint8_t *image;      /* NULL: no image measurement */
  uint64_t sequence;
  const uint8_t *config;
  uint64_t boot;
  const char *extra;         /* an extra measurement name */
} claims_t;

static void evidence(const tdev_t *signer, const uint8_t nonce[32], const claims_t *c, const char *id, stw_buf_t *out)
{
  stw_evidence_t e;
  memset(&e, 0, sizeof(e));
  memcpy(e.nonce, nonce, 32);
  e.nonce_len = 32;
  assert_int_equal(stw_evidence_set_ueid(&e, c->ueid_of ? c->ueid_of : id), STW_OK);
  e.iat = stw_now();
  e.boot_count = c->boot;
  e.fw_sequence = c->sequence;
  if (c->image) {
    snprintf(e.meas[e.n_meas].name, sizeof(e.meas[0].name), "image");
    memcpy(e.meas[e.n_meas++].digest, c->image, 32);
  }
  if (c->config) {
    snprintf(e.meas[e.n_meas].name, sizeof(e.meas[0].name), "config");
    memcpy(e.meas[e.n_meas++].digest, c->config, 32);
  }
  if (c->extra) {
    snprintf(e.meas[e.n_meas].name, sizeof(e.meas[0].name), "%s", c->extra);
    memset(e.meas[e.n_meas++].digest, 7, 32);
  }
  stw_buf_init(out, STW_EVIDENCE_MAX);
  assert_int_equal(stw_evidence_sign(&e, signer->key, out), STW_OK);
}

/* Appraise as the daemon does for an authenticated device, then record. */
static void attest(fx_t *fx, const char *as_id, const stw_buf_t *msg, stw_appraisal_t *a)
{
  assert_int_equal(stw_attest_appraise(fx->st, as_id, msg->data, msg->len, stw_now(), a), STW_OK);
  snprintf(a->trigger, sizeof(a->trigger), "periodic");
  assert_int_equal(stw_attest_record(fx->st, a, stw_now()), STW_OK);
}

/* What a refusal must leave alone. */
typedef struct {
  int state;
  uint64_t results;
  uint64_t live_tokens;
  uint64_t audit;
} snap_t;

static stw_status_t count_row(const stw_attest_row_t *r, void *ctx)
{
  (void)r;
  (*(uint64_t *)ctx)++;
  return STW_OK;
}

static stw_status_t count_token(const stw_token_row_t *t, void *ctx)
{
  (void)t;
  (*(uint64_t *)ctx)++;
  return STW_OK;
}

static stw_status_t count_audit(const stw_audit_t *a, void *ctx)
{
  (void)a;
  (*(uint64_t *)ctx)++;
  return STW_OK;
}

static snap_t snap(fx_t *fx, const char *id)
{
  snap_t s = { 0 };
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, id, &d), STW_OK);
  s.state = d.state;
  stw_device_clear(&d);
  assert_int_equal(stw_store_attest_list(fx->st, id, 0, count_row, &s.results), STW_OK);
  assert_int_equal(stw_store_token_list(fx->st, true, stw_now(), count_token, &s.live_tokens), STW_OK);
  assert_int_equal(stw_store_audit_list(fx->st, 0, 0, count_audit, &s.audit), STW_OK);
  return s;
}

/* Nothing changed but one refusal audit record. */
static void assert_only_refusal(fx_t *fx, const char *id, const snap_t *before)
{
  snap_t after = snap(fx, id);
  assert_int_equal(after.state, before->state);
  assert_int_equal(after.results, before->results);
  assert_int_equal(after.live_tokens, before->live_tokens);
  assert_int_equal(after.audit, before->audit + 1);
}

static void give_token(fx_t *fx, const char *subject, const char *audience, uint8_t fill)
{
  stw_token_row_t t;
  memset(&t, 0, sizeof(t));
  memset(t.cti, 'a' + fill, 32);
  snprintf(t.subject_id, sizeof(t.subject_id), "%s", subject);
  snprintf(t.audience_id, sizeof(t.audience_id), "%s", audience);
  snprintf(t.scope, sizeof(t.scope), "/consumption GET");
  t.iat = stw_now();
  t.exp = stw_now() + 3600;
  assert_int_equal(stw_store_token_put(fx->st, &t), STW_OK);
}

static int state_of(fx_t *fx, const char *id)
{
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, id, &d), STW_OK);
  int s = d.state;
  stw_device_clear(&d);
  return s;
}

/* dev's answer to nonce: claims c signed with signer's key (another device's,
 * where a test forges), appraised as from dev and recorded. */
static void answer(fx_t *fx, const tdev_t *signer, const tdev_t *dev, const uint8_t nonce[32], const claims_t *c,
                   stw_appraisal_t *a)
{
  stw_buf_t msg;
  evidence(signer, nonce, c, dev->id, &msg);
  attest(fx, dev->id, &msg, a);
  stw_buf_free(&msg, false);
}

/* A fresh challenge to dev (nonce bytes fill), answered with claims c. */
static void challenge_and_answer(fx_t *fx, const tdev_t *dev, uint8_t fill, const claims_t *c, stw_appraisal_t *a)
{
  uint8_t n[32];
  challenge(fx, dev, fill, stw_now() + 60, n);
  answer(fx, dev, dev, n, c, a);
}

/* ---- results ------------------------------------------------------------------------ */

static void authorised_image_is_affirming(void **state)
{
  fx_t *fx = *state;
  stw_appraisal_t a;
  claims_t c = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 3 };
  challenge_and_answer(fx, &fx->a, 1, &c, &a);
  assert_int_equal(a.coap_code, 0);
  assert_int_equal(a.verdict, STW_EAR_AFFIRMING);
  assert_string_equal(a.reasons, "");
  stw_attest_row_t row;
  assert_int_equal(stw_store_attest_latest(fx->st, fx->a.id, &row), STW_OK);
  assert_int_equal(row.verdict, STW_EAR_AFFIRMING);
  assert_string_equal(row.trigger, "periodic");
  assert_memory_equal(row.image_digest, fx->v2, 32);
  assert_int_equal(row.boot_count, 3);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_OPERATIONAL);
}

static void factory_image_is_a_warning(void **state)
{
  fx_t *fx = *state;
  stw_appraisal_t a;
  claims_t c = { .image = fx->factory, .sequence = 0, .config = fx->config, .boot = 1 };
  challenge_and_answer(fx, &fx->a, 1, &c, &a);
  assert_int_equal(a.verdict, STW_EAR_WARNING);
  assert_string_equal(a.reasons, "factory image: no reference value");
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_OPERATIONAL);
}

static void config_change_and_boot_count_back_are_warnings(void **state)
{
  fx_t *fx = *state;
  uint8_t other[32];
  stw_appraisal_t a;
  memset(other, 9, sizeof(other));
  claims_t c = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 5 };
  challenge_and_answer(fx, &fx->a, 1, &c, &a);
  assert_int_equal(a.verdict, STW_EAR_AFFIRMING);
  claims_t c2 = { .image = fx->v2, .sequence = 2, .config = other, .boot = 4 };
  challenge_and_answer(fx, &fx->a, 2, &c2, &a);
  assert_int_equal(a.verdict, STW_EAR_WARNING);
  assert_non_null(strstr(a.reasons, "configuration changed without an update"));
  assert_non_null(strstr(a.reasons, "boot count went back (4 < 5)"));
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_OPERATIONAL);
}

/* ---- refusals: code, and nothing changed ------------------------------------------------- */

/* dev's answer to nonce is refused (403, refusal), and nothing changed but
 * its own audit record. */
static void assert_answer_refused(fx_t *fx, const tdev_t *signer, const tdev_t *dev, const uint8_t nonce[32],
                                  const claims_t *c, const char *refusal)
{
  stw_appraisal_t a;
  snap_t before = snap(fx, dev->id);
  answer(fx, signer, dev, nonce, c, &a);
  assert_int_equal(a.coap_code, 403);
  assert_string_equal(a.refusal, refusal);
  assert_only_refusal(fx, dev->id, &before);
}

static void expired_nonce_refused(void **state)
{
  fx_t *fx = *state;
  uint8_t n[32];
  challenge(fx, &fx->a, 1, stw_now() - 1, n);
  claims_t c = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1 };
  assert_answer_refused(fx, &fx->a, &fx->a, n, &c, "nonce-expired");
}

static void reused_nonce_refused(void **state)
{
  fx_t *fx = *state;
  uint8_t n[32];
  stw_buf_t msg;
  stw_appraisal_t a;
  challenge(fx, &fx->a, 1, stw_now() + 60, n);
  claims_t c = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1 };
  evidence(&fx->a, n, &c, fx->a.id, &msg);
  attest(fx, fx->a.id, &msg, &a);
  assert_int_equal(a.coap_code, 0);
  snap_t before = snap(fx, fx->a.id);
  attest(fx, fx->a.id, &msg, &a);  /* the same evidence again */
  stw_buf_free(&msg, false);
  assert_int_equal(a.coap_code, 403);
  assert_string_equal(a.refusal, "nonce-replay");
  assert_only_refusal(fx, fx->a.id, &before);
}

static void nonce_of_another_device_refused(void **state)
{
  fx_t *fx = *state;
  uint8_t n[32];
  stw_appraisal_t a;
  challenge(fx, &fx->b, 1, stw_now() + 60, n);  /* issued to b */
  claims_t c = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1 };
  assert_answer_refused(fx, &fx->a, &fx->a, n, &c, "nonce-replay");
  /* ... and b can still use it. */
  answer(fx, &fx->b, &fx->b, n, &c, &a);
  assert_int_equal(a.coap_code, 0);
  assert_int_equal(a.verdict, STW_EAR_AFFIRMING);
}

static void evidence_signed_by_another_key_refused(void **state)
{
  fx_t *fx = *state;
  uint8_t n[32];
  stw_appraisal_t a;
  challenge(fx, &fx->a, 1, stw_now() + 60, n);
  claims_t c = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1 };
  assert_answer_refused(fx, &fx->b, &fx->a, n, &c, "bad-signature");  /* a's claims, b's key */
  /* The nonce was not spent: the genuine evidence still goes through. */
  answer(fx, &fx->a, &fx->a, n, &c, &a);
  assert_int_equal(a.coap_code, 0);
}

static void ueid_of_another_device_refused(void **state)
{
  fx_t *fx = *state;
  uint8_t n[32];
  challenge(fx, &fx->a, 1, stw_now() + 60, n);
  claims_t c = { .ueid_of = fx->b.id, .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1 };
  assert_answer_refused(fx, &fx->a, &fx->a, n, &c, "ueid");
}

static void malformed_evidence_refused(void **state)
{
  fx_t *fx = *state;
  stw_appraisal_t a;
  const uint8_t junk[] = { 0xd2, 0x84, 0x40, 0xa0, 0x41 };
  stw_buf_t msg = { .data = (uint8_t *)junk, .len = sizeof(junk) };
  snap_t before = snap(fx, fx->a.id);
  attest(fx, fx->a.id, &msg, &a);
  assert_int_equal(a.coap_code, 400);
  assert_only_refusal(fx, fx->a.id, &before);
}

/* ---- contraindicated: quarantine in one transaction ------------------------------------ */

static void unknown_measurement_quarantines(void **state)
{
  fx_t *fx = *state;
  stw_appraisal_t a;
  give_token(fx, fx->b.id, fx->a.id, 1);  /* a token to the device */
  claims_t c = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1, .extra = "debug-port" };
  challenge_and_answer(fx, &fx->a, 1, &c, &a);
  assert_int_equal(a.verdict, STW_EAR_CONTRAINDICATED);
  assert_string_equal(a.reasons, "unknown measurement 'debug-port'");
  assert_true(a.quarantined);
  assert_int_equal(a.tokens_revoked, 1);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_QUARANTINED);
}

static void tampered_image_quarantines_and_update_remediates(void **state)
{
  fx_t *fx = *state;
  uint8_t tampered[32];
  stw_appraisal_t a;
  memset(tampered, 0x66, sizeof(tampered));
  give_token(fx, fx->a.id, fx->b.id, 2);  /* a token it holds */
  snap_t before = snap(fx, fx->a.id);
  claims_t bad = { .image = tampered, .sequence = 2, .config = fx->config, .boot = 1 };
  challenge_and_answer(fx, &fx->a, 1, &bad, &a);
  assert_int_equal(a.verdict, STW_EAR_CONTRAINDICATED);
  assert_string_equal(a.reasons, "image digest is not a reference value");
  assert_true(a.quarantined);
  snap_t after = snap(fx, fx->a.id);
  assert_int_equal(after.state, STW_STATE_QUARANTINED);
  assert_int_equal(after.results, before.results + 1);
  assert_int_equal(after.live_tokens, before.live_tokens - 1);
  /* attest, transition, quarantine: three records */
  assert_int_equal(after.audit, before.audit + 3);

  /* The same tampered image again: still contraindicated, stays. */
  challenge_and_answer(fx, &fx->a, 2, &bad, &a);
  assert_false(a.quarantined);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_QUARANTINED);

  /* The update engineer's events keep it quarantined... */
  stw_state_t next;
  assert_int_equal(stw_store_transition(fx->st, fx->a.id, STW_EV_UPDATE_START, "daemon", NULL, &next), STW_OK);
  assert_int_equal(next, STW_STATE_QUARANTINED);
  assert_int_equal(stw_store_transition(fx->st, fx->a.id, STW_EV_UPDATE_DONE, "daemon", NULL, &next), STW_OK);
  assert_int_equal(next, STW_STATE_QUARANTINED);
  /* ... the authorised image, affirming: remediated. */
  claims_t good = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 2 };
  challenge_and_answer(fx, &fx->a, 3, &good, &a);
  assert_int_equal(a.verdict, STW_EAR_AFFIRMING);
  assert_true(a.remediated);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_OPERATIONAL);
}

static void same_image_does_not_remediate(void **state)
{
  fx_t *fx = *state;
  stw_appraisal_t a;
  claims_t bad = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1, .extra = "shell" };
  challenge_and_answer(fx, &fx->a, 1, &bad, &a);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_QUARANTINED);
  /* Without an update, clean evidence of the same image is not enough. */
  claims_t clean = { .image = fx->v2, .sequence = 2, .config = fx->config, .boot = 1 };
  challenge_and_answer(fx, &fx->a, 2, &clean, &a);
  assert_int_equal(a.verdict, STW_EAR_AFFIRMING);
  assert_false(a.remediated);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_QUARANTINED);
}

static void sequence_mismatch_is_contraindicated(void **state)
{
  fx_t *fx = *state;
  stw_appraisal_t a;
  claims_t c = { .image = fx->v2, .sequence = 3, .config = fx->config, .boot = 1 };
  challenge_and_answer(fx, &fx->a, 1, &c, &a);
  assert_int_equal(a.verdict, STW_EAR_CONTRAINDICATED);
  assert_string_equal(a.reasons, "image is manifest sequence 2, device claims 3");
}

/* ---- the operator ------------------------------------------------------------------------ */

static void operator_quarantines_and_releases(void **state)
{
  fx_t *fx = *state;
  uint64_t revoked = 9;
  give_token(fx, fx->a.id, fx->b.id, 3);
  assert_int_equal(stw_attest_quarantine(fx->st, fx->a.id, "admin", "lost in the field", stw_now(), &revoked), STW_OK);
  assert_int_equal(revoked, 1);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_QUARANTINED);
  assert_int_equal(stw_attest_release(fx->st, fx->a.id, "admin", "found"), STW_OK);
  assert_int_equal(state_of(fx, fx->a.id), STW_STATE_OPERATIONAL);
  /* Releasing what is not quarantined changes nothing. */
  snap_t before = snap(fx, fx->a.id);
  assert_int_equal(stw_attest_release(fx->st, fx->a.id, "admin", "again"), STW_ERR_STATE);
  snap_t after = snap(fx, fx->a.id);
  assert_int_equal(after.audit, before.audit);
  assert_int_equal(after.state, before.state);
  assert_int_equal(stw_attest_request(fx->st, fx->b.id, "admin"), STW_OK);
  assert_int_equal(stw_attest_request(fx->st, "00000000000000000000000000000000", "admin"), STW_ERR_NOT_FOUND);
}

/* ---- the scheduler ------------------------------------------------------------------------- */

static void scheduler_challenges_and_periodic_due(void **state)
{
  (void)state;
  stw_attest_sched_t s;
  stw_attest_sched_init(&s, 100, 10);
  const char *ids[4];
  stw_attest_slot_t *slot = stw_attest_sched_slot(&s, "aa");
  slot->watching = true;
  slot->last_result = 1000;
  assert_int_equal(stw_attest_sched_due(&s, 1050, ids, 4), 0);
  assert_int_equal(stw_attest_sched_due(&s, 1100, ids, 4), 1);
  assert_string_equal(ids[0], "aa");
  assert_int_equal(stw_attest_sched_challenge(&s, "aa", "periodic", 1100, &slot), STW_OK);
  uint8_t nonce[STW_ATTEST_NONCE_LEN];
  memcpy(nonce, slot->nonce, sizeof(nonce));
  /* Not sent before the nonce is committed. */
  assert_null(stw_attest_sched_pending(&s, "aa", 1101));
  assert_int_equal(stw_attest_sched_due(&s, 1101, ids, 4), 0);
  assert_true(stw_attest_sched_ready(&s, "aa", nonce));
  assert_non_null(stw_attest_sched_pending(&s, "aa", 1101));
  assert_string_equal(stw_attest_sched_trigger(&s, "aa", nonce, sizeof(nonce)), "periodic");
  assert_string_equal(stw_attest_sched_trigger(&s, "bb", nonce, sizeof(nonce)), "");
  stw_buf_t body;
  assert_int_equal(stw_attest_challenge_encode(stw_attest_sched_pending(&s, "aa", 1101), 1101, &body), STW_OK);
  assert_int_equal(body.len, 1 + 1 + 2 + 32 + 1 + 1);  /* {1: h'32 bytes', 2: 9} */
  stw_buf_free(&body, false);
  /* Unanswered past its lifetime: dropped, and no longer watching. */
  assert_null(stw_attest_sched_pending(&s, "aa", 1111));
  assert_false(stw_attest_sched_find(&s, "aa")->watching);
  /* {} when nothing is asked. */
  assert_int_equal(stw_attest_challenge_encode(NULL, 0, &body), STW_OK);
  assert_int_equal(body.len, 1);
  assert_int_equal(body.data[0], 0xa0);
  stw_buf_free(&body, false);
  stw_attest_sched_free(&s);
}

static void answering_an_old_challenge_keeps_the_new_one(void **state)
{
  (void)state;
  stw_attest_sched_t s;
  stw_attest_sched_init(&s, 0, 60);
  stw_attest_slot_t *slot;
  uint8_t old[STW_ATTEST_NONCE_LEN], fresh[STW_ATTEST_NONCE_LEN];
  assert_int_equal(stw_attest_sched_challenge(&s, "aa", "device", 100, &slot), STW_OK);
  memcpy(old, slot->nonce, sizeof(old));
  assert_int_equal(stw_attest_sched_challenge(&s, "aa", "admin", 101, &slot), STW_OK);
  memcpy(fresh, slot->nonce, sizeof(fresh));
  assert_false(stw_attest_sched_ready(&s, "aa", old));  /* replaced */
  assert_true(stw_attest_sched_ready(&s, "aa", fresh));
  stw_attest_sched_done(&s, "aa", old, sizeof(old), 102);
  assert_non_null(stw_attest_sched_pending(&s, "aa", 102));
  assert_int_equal(stw_attest_sched_find(&s, "aa")->last_result, 102);
  stw_attest_sched_done(&s, "aa", fresh, sizeof(fresh), 103);
  assert_null(stw_attest_sched_pending(&s, "aa", 103));
  stw_attest_sched_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(authorised_image_is_affirming, setup, teardown),
    cmocka_unit_test_setup_teardown(factory_image_is_a_warning, setup, teardown),
    cmocka_unit_test_setup_teardown(config_change_and_boot_count_back_are_warnings, setup, teardown),
    cmocka_unit_test_setup_teardown(expired_nonce_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(reused_nonce_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(nonce_of_another_device_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(evidence_signed_by_another_key_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(ueid_of_another_device_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(malformed_evidence_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(unknown_measurement_quarantines, setup, teardown),
    cmocka_unit_test_setup_teardown(tampered_image_quarantines_and_update_remediates, setup, teardown),
    cmocka_unit_test_setup_teardown(same_image_does_not_remediate, setup, teardown),
    cmocka_unit_test_setup_teardown(sequence_mismatch_is_contraindicated, setup, teardown),
    cmocka_unit_test_setup_teardown(operator_quarantines_and_releases, setup, teardown),
    cmocka_unit_test(scheduler_challenges_and_periodic_due),
    cmocka_unit_test(answering_an_old_challenge_keeps_the_new_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
