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
#include "evidence.h"
#include "net_internal.h"
#include "netaddr.h"
#include "slots.h"

#define CF_CBOR 60
#define CF_COSE_SIGN1 18
#define CF_PKCS7_CERTS 281
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
  coap_context_t *ctx;
  coap_session_t *session;
  uint8_t server_spki[STW_SPKI_MAX];  /* the key the DTLS server proved */
  size_t server_spki_len;
  bool verified;                      /* that key is the domain's: /att is observed */
  uint8_t last_nonce[STW_ATTEST_NONCE_MAX];
  size_t last_nonce_len;
  uint8_t pending[STW_ATTEST_NONCE_MAX];  /* a challenge to answer after the I/O round */
  size_t pending_len;
  unsigned answered;
  stw_attest_result_t last;
};

static stw_attester_t *attester_of(coap_session_t *session)
{
  return coap_get_app_data(coap_session_get_context(session));
}

static int remember_domain_key(const char *cn, const uint8_t *der, size_t len, coap_session_t *session,
                               unsigned depth, int validated, void *arg)
{
  (void)validated;
  (void)arg;
  stw_attester_t *a = attester_of(session);
  if (depth != 0)
    return 1;
  if (strcmp(cn, COAP_DTLS_RPK_CERT_CN) == 0 && len <= sizeof(a->server_spki)) {
    memcpy(a->server_spki, der, len);
    a->server_spki_len = len;
    return 1;
  }
  return 0;  /* the domain daemon speaks with a raw key */
}

static stw_status_t send_get(coap_session_t *session, const char *path, int accept, bool observe)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, coap_new_message_id(session),
                                  coap_session_max_pdu_size(session));
  if (pdu == NULL)
    return STW_ERR_NOMEM;
  uint8_t token[8], buf[4];
  size_t token_len = 0;
  coap_session_new_token(session, &token_len, token);
  coap_add_token(pdu, token_len, token);
  if (observe)
    coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(buf, sizeof(buf), COAP_OBSERVE_ESTABLISH), buf);
  for (const char *seg = path; *seg;) {
    const char *slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)seg);
    seg += n;
    if (*seg == '/')
      seg++;
  }
  if (accept >= 0)
    coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(buf, sizeof(buf), (unsigned)accept), buf);
  return coap_send(session, pdu) == COAP_INVALID_MID ? STW_ERR_NETWORK : STW_OK;
}

static coap_response_t on_answer(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                 const coap_mid_t mid)
{
  (void)sent;
  (void)mid;
  stw_attester_t *a = attester_of(session);
  size_t len = 0, offset = 0, total = 0;
  const uint8_t *data = NULL;
  if (!coap_get_data_large(received, &len, &data, &offset, &total))
    data = NULL, len = 0;
  if ((coap_pdu_get_code(received) >> 5) != 2)
    return COAP_RESPONSE_OK;
  if (!a->verified) {
    /* The answer to /crts: is the key this session proved certified by the
     * domain CA pinned at bootstrap? Only then listen to its challenges. */
    uint8_t *cert = malloc(STW_CERT_MAX);
    size_t cert_len = 0;
    bool domain = cert != NULL &&
                  stw__p7_find_key(data, len, a->server_spki, a->server_spki_len, cert, &cert_len) == STW_OK &&
                  stw_cert_verify_issued_by(cert, cert_len, a->dev->domain_ca_der.data, a->dev->domain_ca_der.len,
                                            stw_now()) == STW_OK;
    free(cert);
    if (domain && send_get(session, "att", CF_CBOR, true) == STW_OK)
      a->verified = true;
    return COAP_RESPONSE_OK;
  }
  uint8_t nonce[STW_ATTEST_NONCE_MAX];
  size_t nonce_len = 0;
  uint64_t lifetime = 0;
  if (stw__attest_challenge_parse(data, len, nonce, &nonce_len, &lifetime) != STW_OK || nonce_len == 0)
    return COAP_RESPONSE_OK;  /* nothing asked of this device */
  /* Notifications repeat a challenge until it is answered: answer each once. */
  if (nonce_len == a->last_nonce_len && memcmp(nonce, a->last_nonce, nonce_len) == 0)
    return COAP_RESPONSE_OK;
  memcpy(a->pending, nonce, nonce_len);
  a->pending_len = nonce_len;
  return COAP_RESPONSE_OK;
}

stw_status_t stw_attester_new(stw_dev_t *dev, const char *domain_uri, stw_attester_t **out)
{
  *out = NULL;
  if (!dev->has_op_cert)
    return STW_ERR_STATE;
  coap_uri_t uri;
  if (coap_split_uri((const uint8_t *)domain_uri, strlen(domain_uri), &uri) < 0 || uri.scheme != COAP_URI_SCHEME_COAPS)
    return STW_ERR_INVALID;
  char host[128], listen[160];
  if (uri.host.length == 0 || uri.host.length >= sizeof(host) || strlen(domain_uri) >= sizeof((*out)->uri))
    return STW_ERR_INVALID;
  memcpy(host, uri.host.s, uri.host.length);
  host[uri.host.length] = '\0';
  snprintf(listen, sizeof(listen), "%s:%u", host, uri.port ? uri.port : COAPS_DEFAULT_PORT);
  coap_address_t addr;
  coap_address_init(&addr);
  stw_status_t st = stw_listen_parse(listen, &addr.addr.sa, &addr.size);
  if (st != STW_OK)
    return st;
  stw_attester_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return STW_ERR_NOMEM;
  a->dev = dev;
  snprintf(a->uri, sizeof(a->uri), "%s", domain_uri);
  if ((a->ctx = coap_new_context(NULL)) == NULL) {
    free(a);
    return STW_ERR_NETWORK;
  }
  coap_set_app_data(a->ctx, a);
  coap_context_set_block_mode(a->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_register_response_handler(a->ctx, on_answer);
  coap_dtls_pki_t pki;
  memset(&pki, 0, sizeof(pki));
  pki.version = COAP_DTLS_PKI_SETUP_VERSION;
  pki.validate_cn_call_back = remember_domain_key;
  pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
  pki.pki_key.key.pem_buf.public_cert = dev->op_cert_pem.data;
  pki.pki_key.key.pem_buf.public_cert_len = dev->op_cert_pem.len;
  pki.pki_key.key.pem_buf.private_key = dev->op_key_pem.data;
  pki.pki_key.key.pem_buf.private_key_len = dev->op_key_pem.len;
  a->session = coap_new_client_session_pki(a->ctx, NULL, &addr, COAP_PROTO_DTLS, &pki);
  if (a->session == NULL || send_get(a->session, ".well-known/est/crts", CF_PKCS7_CERTS, false) != STW_OK) {
    stw_attester_free(a);
    return STW_ERR_NETWORK;
  }
  *out = a;
  return STW_OK;
}

void stw_attester_run(stw_attester_t *a, unsigned timeout_ms)
{
  coap_io_process(a->ctx, timeout_ms);
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
  return a->verified;
}

void stw_attester_free(stw_attester_t *a)
{
  if (a == NULL)
    return;
  if (a->session != NULL)
    coap_session_release(a->session);
  if (a->ctx != NULL)
    coap_free_context(a->ctx);
  free(a);
}
