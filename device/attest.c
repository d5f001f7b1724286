/* The attester: evidence of what the device runs, for the domain's verifier.
 * One-shot (stw_attest_now) over the blocking request helper, or listening
 * (stw_attester_t) on an observed /att for the domain's own challenges. */
#include "steward/attest.h"

#include <coap3/coap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_internal.h"
#include "cbor_reader.h"
#include "domain_watch.h"
#include "evidence.h"
#include "net_internal.h"
#include "slots.h"

#define CF_CBOR 60
#define CF_COSE_SIGN1 18
#define EAR_MAX 512

stw_status_t stw__attest_challenge_parse(const uint8_t *cbor, size_t len, uint8_t *nonce, size_t *nonce_len,
                                         uint64_t *lifetime)
{
  stw_cbor_reader_t r;
  size_t n = 0;
  bool have_nonce = false, have_lifetime = false;
  *nonce_len = 0;
  *lifetime = 0;
  if (cbor == NULL || len == 0 || len > STW_ATTEST_CHALLENGE_MAX)
    return STW_ERR_MALFORMED;
  stw_cbor_reader_init(&r, cbor, len);
  stw_status_t st = stw_cbor_read_map(&r, &n);
  if (st != STW_OK)
    return st;
  for (size_t i = 0; i < n; i++) {
    uint64_t key;
    if ((st = stw_cbor_read_uint(&r, &key)) != STW_OK)
      return st;
    if (key == 1 && !have_nonce) {
      const uint8_t *p;
      size_t plen;
      if ((st = stw_cbor_read_bstr(&r, &p, &plen)) != STW_OK)
        return st;
      if (plen < STW_EVIDENCE_NONCE_MIN || plen > STW_EVIDENCE_NONCE_MAX)
        return STW_ERR_MALFORMED;
      memcpy(nonce, p, plen);
      *nonce_len = plen;
      have_nonce = true;
    } else if (key == 2 && !have_lifetime) {
      if ((st = stw_cbor_read_uint(&r, lifetime)) != STW_OK)
        return st;
      have_lifetime = true;
    } else {
      return STW_ERR_MALFORMED;  /* a key twice, or one we do not know */
    }
  }
  if ((st = stw_cbor_expect_end(&r)) != STW_OK)
    return st;
  /* {} is "nothing asked"; a nonce comes with its lifetime. */
  return have_nonce == have_lifetime ? STW_OK : STW_ERR_MALFORMED;
}

stw_status_t stw_attest_challenge(stw_dev_t *dev, const char *domain_uri, stw_attest_why_t why, uint8_t *nonce,
                                  size_t *nonce_len, stw_bootstrap_report_t *report)
{
  const char *path = why == STW_ATTEST_UPDATE ? "att?t=update" : why == STW_ATTEST_ENROLL ? "att?t=enroll" : "att";
  uint8_t *answer = NULL;
  size_t len = 0;
  uint64_t lifetime;
  *nonce_len = 0;
  stw_status_t st = stw__request_run(dev, domain_uri, COAP_REQUEST_CODE_GET, path, -1, CF_CBOR, NULL, 0,
                                     STW_ATTEST_CHALLENGE_MAX, &answer, &len, NULL, report);
  if (st == STW_OK && (st = stw__attest_challenge_parse(answer, len, nonce, nonce_len, &lifetime)) == STW_OK &&
      *nonce_len == 0)
    st = STW_ERR_MALFORMED;  /* a plain GET always gets a nonce */
  free(answer);
  return st;
}

stw_status_t stw_attest_evidence(stw_dev_t *dev, const uint8_t *nonce, size_t nonce_len, uint8_t **evidence,
                                 size_t *evidence_len)
{
  *evidence = NULL;
  *evidence_len = 0;
  if (!dev->has_op_cert)
    return STW_ERR_STATE;  /* the LDevID key signs evidence: PSK devices cannot attest */
  if (nonce_len < STW_EVIDENCE_NONCE_MIN || nonce_len > STW_EVIDENCE_NONCE_MAX)
    return STW_ERR_INVALID;
  stw_evidence_t ev;
  memset(&ev, 0, sizeof(ev));
  memcpy(ev.nonce, nonce, nonce_len);
  ev.nonce_len = nonce_len;
  ev.iat = stw_now();
  stw_status_t st = stw_evidence_set_ueid(&ev, dev->id);
  if (st == STW_OK)
    st = stw_slots_measure(dev, ev.meas[0].digest, ev.meas[1].digest, &ev.boot_count, &ev.fw_sequence);
  if (st != STW_OK)
    return st;
  snprintf(ev.meas[0].name, sizeof(ev.meas[0].name), "image");
  snprintf(ev.meas[1].name, sizeof(ev.meas[1].name), "config");
  ev.n_meas = 2;
  stw_key_t *key = NULL;
  stw_buf_t out;
  stw_buf_init(&out, STW_EVIDENCE_MAX);
  if ((st = stw_key_import_pem(dev->op_key_pem.data, dev->op_key_pem.len, &key)) == STW_OK)
    st = stw_evidence_sign(&ev, key, &out);
  stw_key_free(key);
  if (st != STW_OK) {
    stw_buf_free(&out, false);
    return st;
  }
  *evidence = out.data;
  *evidence_len = out.len;
  return STW_OK;
}

stw_status_t stw_attest_send(stw_dev_t *dev, const char *domain_uri, const uint8_t *evidence, size_t len,
                             stw_attest_result_t *result)
{
  memset(result, 0, sizeof(*result));
  uint8_t *answer = NULL;
  size_t answer_len = 0;
  stw_status_t st = stw__request_run(dev, domain_uri, COAP_REQUEST_CODE_POST, "att", CF_COSE_SIGN1, CF_CBOR, evidence,
                                     len, EAR_MAX, &answer, &answer_len, NULL, &result->report);
  if (st == STW_OK &&
      stw_ear_decode(answer, answer_len, &result->verdict, result->reasons, sizeof(result->reasons)) != STW_OK) {
    result->verdict = 0;
    st = STW_ERR_MALFORMED;
  }
  free(answer);
  return st;
}

stw_status_t stw_attest_now(stw_dev_t *dev, const char *domain_uri, stw_attest_why_t why, stw_attest_result_t *result)
{
  uint8_t nonce[STW_ATTEST_NONCE_MAX], *evidence = NULL;
  size_t nonce_len = 0, evidence_len = 0;
  memset(result, 0, sizeof(*result));
  stw_status_t st = stw_attest_challenge(dev, domain_uri, why, nonce, &nonce_len, &result->report);
  if (st == STW_OK)
    st = stw_attest_evidence(dev, nonce, nonce_len, &evidence, &evidence_len);
  if (st == STW_OK)
    st = stw_attest_send(dev, domain_uri, evidence, evidence_len, result);
  free(evidence);
  return st;
}

/* ---- the listening attester ------------------------------------------------------ */

struct stw_attester {
  stw_dev_t *dev;
  char uri[256];
  stw__domain_watch_t watch;              /* /att, observed once the domain's key checks out */
  uint8_t last_nonce[STW_ATTEST_NONCE_MAX];
  size_t last_nonce_len;
  uint8_t pending[STW_ATTEST_NONCE_MAX];  /* a challenge to answer after the I/O round */
  size_t pending_len;
  unsigned answered;
  stw_attest_result_t last;
};

static void on_challenge(void *arg, const uint8_t *data, size_t len)
{
  stw_attester_t *a = arg;
  uint8_t nonce[STW_ATTEST_NONCE_MAX];
  size_t nonce_len = 0;
  uint64_t lifetime = 0;
  if (stw__attest_challenge_parse(data, len, nonce, &nonce_len, &lifetime) != STW_OK || nonce_len == 0)
    return;  /* nothing asked of this device */
  /* Notifications repeat a challenge until it is answered: answer each once. */
  if (nonce_len == a->last_nonce_len && memcmp(nonce, a->last_nonce, nonce_len) == 0)
    return;
  memcpy(a->pending, nonce, nonce_len);
  a->pending_len = nonce_len;
}

stw_status_t stw_attester_new(stw_dev_t *dev, const char *domain_uri, stw_attester_t **out)
{
  *out = NULL;
  if (!dev->has_op_cert)
    return STW_ERR_STATE;
  if (strlen(domain_uri) >= sizeof((*out)->uri))
    return STW_ERR_INVALID;
  stw_attester_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return STW_ERR_NOMEM;
  a->dev = dev;
  snprintf(a->uri, sizeof(a->uri), "%s", domain_uri);
  stw_status_t st = stw__domain_watch_open(&a->watch, dev, domain_uri, "att", CF_CBOR, on_challenge, a);
  if (st != STW_OK) {
    stw_attester_free(a);
    return st;
  }
  *out = a;
  return STW_OK;
}

void stw_attester_run(stw_attester_t *a, unsigned timeout_ms)
{
  coap_io_process(a->watch.ctx, timeout_ms);
  if (a->pending_len == 0)
    return;
  /* Answered outside the I/O round: the evidence goes on a session of its
   * own, through the same checks as stw_attest_send(). */
  uint8_t *evidence = NULL;
  size_t evidence_len = 0;
  memcpy(a->last_nonce, a->pending, a->pending_len);
  a->last_nonce_len = a->pending_len;
  a->pending_len = 0;
  stw_status_t st = stw_attest_evidence(a->dev, a->last_nonce, a->last_nonce_len, &evidence, &evidence_len);
  if (st == STW_OK)
    st = stw_attest_send(a->dev, a->uri, evidence, evidence_len, &a->last);
  free(evidence);
  a->answered++;
}

unsigned stw_attester_answered(const stw_attester_t *a)
{
  return a->answered;
}

const stw_attest_result_t *stw_attester_last(const stw_attester_t *a)
{
  return &a->last;
}

bool stw_attester_listening(const stw_attester_t *a)
{
  return a->watch.verified;
}

void stw_attester_free(stw_attester_t *a)
{
  if (a == NULL)
    return;
  stw__domain_watch_close(&a->watch);
  free(a);
}
