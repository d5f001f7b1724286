/* The firmware update agent (include/steward/update.h). One libcoap context
 * pair for every device of the updater, one DTLS session per device, and a
 * small state machine per device driven by answers: check the server, observe
 * /fw, then for an offer: report, fetch blocks, install, report.
 *
 * Blocks are fetched one request at a time with an explicit Block2 option
 * (libcoap's own block handling is off in these contexts), because only then
 * can a restarted device ask for block n instead of block 0. */
#include <coap3/coap.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cose.h"
#include "dev_internal.h"
#include "devfiles.h"
#include "fwreport.h"
#include "manifest.h"
#include "net_internal.h"
#include "slots.h"
#include "steward/update.h"
#include "update_internal.h"

#define PATH_CRTS ".well-known/est/crts"
#define CF_PKCS7_CERTS 281
#define CF_CBOR 60
#define BLOCK_SZX 6                         /* 1024-byte blocks: one fits a DTLS record on any sane path */
#define CRTS_MAX 8192
#define RECONNECT_US (2u * 1000000u)
/* A request unanswered this long (libcoap's own retransmissions give up only
 * after about 90 s): the session is presumed dead, a new one resumes. */
#define ANSWER_TIMEOUT_US (10u * 1000000u)
#define PROGRESS_FILE "fw/download.state"
#define PARTIAL_FILE "fw/download"

typedef enum {
  AGENT_IDLE = 0,        /* not connected; reconnect at retry_at */
  AGENT_CHECKING,        /* fetching /crts to check the server's key */
  AGENT_OBSERVING,       /* nothing to do but listen */
  AGENT_REPORTING,       /* a report in flight; then next_step */
  AGENT_FETCHING,        /* a block in flight */
} agent_state_t;

typedef enum { STEP_NONE = 0, STEP_FETCH, STEP_FINISH } agent_step_t;

typedef struct agent {
  struct agent *next;
  stw_updater_t *u;
  stw_dev_t *dev;
  stw_update_opts_t opts;
  coap_address_t server;
  coap_session_t *session;
  coap_session_t *dropped;      /* released from stw_updater_run, never inside a libcoap callback */
  agent_state_t state;
  uint64_t retry_at;
  uint8_t server_spki[STW_SPKI_MAX];
  size_t server_spki_len;
  uint8_t obs_token[8], req_token[8];
  size_t obs_token_len, req_token_len;
  uint64_t answer_due;          /* when the request in flight counts as lost */
  stw_buf_t crts;               /* /crts answer, reassembled */
  /* the update in progress */
  bool busy;
  stw_manifest_t m;
  uint8_t envelope_digest[32];  /* of the envelope handled last: notifications repeat */
  bool have_envelope_digest;
  uint8_t *pending;             /* an offer that came while busy */
  size_t pending_len;
  stw__progress_t progress;
  uint64_t block_size;
  stw_buf_t report_body;
  agent_step_t next_step;
  stw_update_result_t result;
  uint64_t offered_us;
} agent_t;

struct stw_updater {
  coap_context_t *pki_ctx;
  coap_context_t *psk_ctx;
  agent_t *agents;
};

/* ---- the progress record ------------------------------------------------------- */

static bool progress_value(void *arg, unsigned key, const char *v, size_t len)
{
  stw__progress_t *out = arg;
  switch (key) {
  case 0: return stw__record_u64(v, len, &out->sequence);
  case 1: return stw__record_u64(v, len, &out->size);
  case 2: return len == 64 && stw_hex_decode(v, 64, out->digest, 32) == STW_OK;
  default: return stw__record_u64(v, len, &out->have);
  }
}

stw_status_t stw__progress_parse(const uint8_t *text, size_t len, stw__progress_t *out)
{
  static const char *const keys[] = { "sequence", "size", "digest", "have" };
  memset(out, 0, sizeof(*out));
  if (len > STW__PROGRESS_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t st = stw__record_parse(text, len, keys, 4, progress_value, out);
  if (st == STW_OK && out->have > out->size)
    st = STW_ERR_MALFORMED;
  return st;
}

static stw_status_t progress_write(agent_t *a)
{
  char text[STW__PROGRESS_MAX], hex[65];
  stw_hex_encode(a->progress.digest, 32, hex);
  int n = snprintf(text, sizeof(text), "sequence=%" PRIu64 "\nsize=%" PRIu64 "\ndigest=%s\nhave=%" PRIu64 "\n",
                   a->progress.sequence, a->progress.size, hex, a->progress.have);
  if (n < 0 || (size_t)n >= sizeof(text))
    return STW_ERR_TOO_LARGE;
  return stw__devfile_write(a->dev, PROGRESS_FILE, text, (size_t)n, 0600);
}

static void progress_forget(agent_t *a)
{
  stw__devfile_remove(a->dev, PARTIAL_FILE);
  stw__devfile_remove(a->dev, PROGRESS_FILE);
}

/* Continue a download of this very image if one was under way; otherwise
 * start from nothing. Bytes past the recorded count (appended just before a
 * crash) are cut off. */
static stw_status_t progress_resume(agent_t *a)
{
  uint8_t *text = NULL, *partial = NULL;
  size_t len = 0, plen = 0;
  stw__progress_t old;
  bool same = stw__devfile_read(a->dev, PROGRESS_FILE, STW__PROGRESS_MAX, &text, &len) == STW_OK &&
              stw__progress_parse(text, len, &old) == STW_OK && old.sequence == a->m.sequence &&
              old.size == a->m.size && memcmp(old.digest, a->m.digest, 32) == 0;
  free(text);
  stw_status_t st = STW_OK;
  if (same && old.have > 0 &&
      stw__devfile_read(a->dev, PARTIAL_FILE, STW_SLOTS_IMAGE_MAX, &partial, &plen) == STW_OK && plen >= old.have) {
    if (plen > old.have)
      st = stw__devfile_write(a->dev, PARTIAL_FILE, partial, old.have, 0600);
    a->progress = old;
  } else {
    progress_forget(a);
    memset(&a->progress, 0, sizeof(a->progress));
    a->progress.sequence = a->m.sequence;
    a->progress.size = a->m.size;
    memcpy(a->progress.digest, a->m.digest, 32);
    st = progress_write(a);
  }
  free(partial);
  return st;
}

/* ---- checking an offer ------------------------------------------------------------- */

static stw_status_t anchor_spki(const stw_buf_t *der, uint8_t *spki, size_t *len)
{
  stw_cert_info_t info;
  if (der->len == 0 || stw_cert_parse(der->data, der->len, &info) != STW_OK)
    return STW_ERR_UNTRUSTED;
  memcpy(spki, info.spki, info.spki_len);
  *len = info.spki_len;
  return STW_OK;
}

static stw_status_t check_envelope(stw_dev_t *dev, const uint8_t *env, size_t len, stw_manifest_t *m, char *why,
                                   size_t why_len)
{
  uint8_t vendor_spki[STW_SPKI_MAX], owner_spki[STW_SPKI_MAX];
  size_t vendor_len = 0, owner_len = 0;
  char vendor[STW_NAME_MAX], class_id[STW_NAME_MAX];
  stw_slots_t slots;
  stw_cose_sign1_t layer;
  memset(m, 0, sizeof(*m));
  /* Unverified, only to name the offer in a refusal's report. */
  uint64_t sequence = 0;
  if (stw_manifest_parse_envelope(env, len, m) == STW_OK)
    sequence = m->sequence;
  else if (stw_cose_sign1_parse(env, len, &layer) == STW_OK &&
           stw_manifest_decode(layer.payload, layer.payload_len, m) == STW_OK)
    sequence = m->sequence;  /* a vendor layer without the owner's */
  memset(m, 0, sizeof(*m));
  if (anchor_spki(&dev->mfg_ca_der, vendor_spki, &vendor_len) != STW_OK ||
      anchor_spki(&dev->domain_ca_der, owner_spki, &owner_len) != STW_OK) {
    stw_explain(why, why_len, "refused: the device holds no manufacturer or domain trust anchor");
    return STW_ERR_UNTRUSTED;
  }
  stw_status_t st = stw_manifest_verify(env, len, vendor_spki, vendor_len, owner_spki, owner_len, m);
  if (st != STW_OK) {
    memset(m, 0, sizeof(*m));
    m->sequence = sequence;  /* unverified, only to name the offer in the report */
    if (st == STW_ERR_UNAUTHENTICATED)
      stw_explain(why, why_len, "refused: the owner's authorisation is missing");
    else if (st == STW_ERR_BAD_SIGNATURE)
      stw_explain(why, why_len, "refused: a signature does not verify with the manufacturer and domain keys this device trusts");
    else
      stw_explain(why, why_len, "refused: the envelope does not parse (%s)", stw_status_str(st));
    return st;
  }
  if ((st = stw_slots_identity(dev, vendor, class_id)) != STW_OK || (st = stw_slots_load(dev, &slots)) != STW_OK) {
    stw_explain(why, why_len, "refused: cannot read what the device runs (%s)", stw_status_str(st));
    return st;
  }
  st = stw_manifest_applies(m, vendor, class_id, slots.sequence);
  if (st == STW_ERR_FORBIDDEN)
    stw_explain(why, why_len, "refused: the manifest is for %s/%s, this device is %s/%s", m->vendor, m->class_id, vendor,
        class_id);
  else if (st == STW_ERR_REPLAY)
    stw_explain(why, why_len, "refused: sequence %" PRIu64 " is not above the installed %" PRIu64 " (no rollback)",
        m->sequence, slots.sequence);
  else if (st == STW_OK && m->size > STW_SLOTS_IMAGE_MAX) {
    stw_explain(why, why_len, "refused: image of %" PRIu64 " bytes is over what a slot holds", m->size);
    st = STW_ERR_TOO_LARGE;
  }
  return st;
}

stw_status_t stw_update_check_envelope(stw_dev_t *dev, const uint8_t *envelope, size_t len, uint64_t *sequence,
                                       char *why, size_t why_len)
{
  stw_manifest_t m;
  if (why != NULL && why_len > 0)
    why[0] = '\0';
  stw_status_t st = check_envelope(dev, envelope, len, &m, why, why_len);
  *sequence = m.sequence;
  return st;
}

/* ---- requests ----------------------------------------------------------------------- */

static stw_status_t send_request(agent_t *a, coap_pdu_code_t method, const char *path, bool observe, int block_num,
                                 int content_format, const uint8_t *body, size_t len)
{
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, method, coap_new_message_id(a->session),
                                  coap_session_max_pdu_size(a->session));
  if (pdu == NULL)
    return STW_ERR_NOMEM;
  uint8_t *token = observe ? a->obs_token : a->req_token;
  if (!observe)
    a->answer_due = stw_monotonic_us() + ANSWER_TIMEOUT_US;
  size_t *token_len = observe ? &a->obs_token_len : &a->req_token_len;
  coap_session_new_token(a->session, token_len, token);
  coap_add_token(pdu, *token_len, token);
  uint8_t buf[4];
  if (observe)
    coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(buf, sizeof(buf), COAP_OBSERVE_ESTABLISH), buf);
  stw__pdu_add_path(pdu, path);
  if (content_format >= 0)
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof(buf), (unsigned)content_format), buf);
  if (block_num >= 0)
    coap_add_option(pdu, COAP_OPTION_BLOCK2,
                    coap_encode_var_safe(buf, sizeof(buf), ((unsigned)block_num << 4) | BLOCK_SZX), buf);
  if (body != NULL && len > 0 && !coap_add_data(pdu, len, body)) {
    coap_delete_pdu(pdu);
    return STW_ERR_TOO_LARGE;
  }
  return coap_send(a->session, pdu) == COAP_INVALID_MID ? STW_ERR_NETWORK : STW_OK;
}

static void release_dropped(agent_t *a)
{
  if (a->dropped != NULL) {
    coap_session_release(a->dropped);
    a->dropped = NULL;
  }
}

static void disconnect(agent_t *a)
{
  if (a->session != NULL) {
    coap_session_set_app_data(a->session, NULL);  /* nothing more reaches this agent from it */
    release_dropped(a);
    a->dropped = a->session;
    a->session = NULL;
  }
  a->state = AGENT_IDLE;
  a->retry_at = stw_monotonic_us() + RECONNECT_US;
  a->obs_token_len = a->req_token_len = 0;
}

/* ---- the end of an update ---------------------------------------------------------------- */

static void consider(agent_t *a, const uint8_t *env, size_t len);

static void deliver_result(agent_t *a)
{
  a->result.latency_us = stw_monotonic_us() - a->offered_us;
  a->busy = false;
  a->state = AGENT_OBSERVING;
  if (a->opts.on_result != NULL)
    a->opts.on_result(a->dev, &a->result, a->opts.arg);
  if (a->pending != NULL && a->session != NULL) {
    uint8_t *env = a->pending;
    size_t len = a->pending_len;
    a->pending = NULL;
    consider(a, env, len);
    free(env);
  }
}

static void send_report(agent_t *a, stw_fwreport_status_t status, const char *detail, agent_step_t then)
{
  stw_fwreport_t r;
  memset(&r, 0, sizeof(r));
  r.sequence = a->result.sequence;
  r.status = status;
  snprintf(r.detail, sizeof(r.detail), "%s", detail);
  a->report_body.len = 0;
  a->next_step = then;
  a->state = AGENT_REPORTING;
  if (stw_fwreport_encode(&r, &a->report_body) != STW_OK ||
      send_request(a, COAP_REQUEST_CODE_POST, "fw/report", false, -1, CF_CBOR, a->report_body.data,
                   a->report_body.len) != STW_OK) {
    /* No way to tell the domain: the update still ends here. */
    a->next_step = STEP_NONE;
    if (then == STEP_FINISH)
      deliver_result(a);
  }
}

/* An update that ends badly: nothing on the device changed, say so. */
static void fail(agent_t *a, stw_status_t status, const char *detail)
{
  a->result.status = status;
  snprintf(a->result.detail, sizeof(a->result.detail), "%s", detail);
  progress_forget(a);
  send_report(a, STW_FWREPORT_FAILED, detail, STEP_FINISH);
}

static void install(agent_t *a)
{
  uint8_t *image = NULL, digest[32];
  size_t len = 0;
  stw_slots_t before, after;
  char why[STW_UPDATE_DETAIL_MAX + 1];
  stw_status_t st = stw__devfile_read(a->dev, PARTIAL_FILE, STW_SLOTS_IMAGE_MAX, &image, &len);
  if (st == STW_OK)
    st = stw_sha256(image, len, digest);
  if (st != STW_OK) {
    free(image);
    fail(a, st, "failed: cannot read the downloaded image");
    return;
  }
  if (len != a->m.size || memcmp(digest, a->m.digest, 32) != 0) {
    free(image);
    fail(a, STW_ERR_TAMPERED, "refused: the image's SHA-256 does not match the manifest");
    return;
  }
  if ((st = stw_slots_load(a->dev, &before)) != STW_OK || (st = stw_slots_write_inactive(a->dev, image, len)) != STW_OK ||
      (st = stw_slots_boot_trial(a->dev, a->m.sequence, &after)) != STW_OK) {
    free(image);
    stw_explain(why, sizeof(why), "failed: cannot write the inactive slot (%s)", stw_status_str(st));
    fail(a, st, why);
    return;
  }
  progress_forget(a);
  /* Running the new image now, on trial: it keeps itself only if it works. */
  bool passed = a->opts.self_test == NULL || a->opts.self_test(a->dev, image, len, a->opts.arg);
  free(image);
  if (passed && (st = stw_slots_confirm(a->dev, &after)) == STW_OK) {
    a->result.status = STW_OK;
    stw_explain(a->result.detail, sizeof(a->result.detail), "installed sequence %" PRIu64 " in slot %c (boot %" PRIu64 ")",
        a->m.sequence, after.active, after.boot_count);
    send_report(a, STW_FWREPORT_INSTALLED, a->result.detail, STEP_FINISH);
    return;
  }
  if ((st = stw_slots_fall_back(a->dev, &after)) != STW_OK) {
    fail(a, st, "failed: self-test failed and the fallback could not be recorded");
    return;
  }
  a->result.status = STW_ERR_STATE;
  stw_explain(a->result.detail, sizeof(a->result.detail),
      "self-test failed; rolled back to sequence %" PRIu64 " in slot %c", after.sequence, after.active);
  send_report(a, STW_FWREPORT_FAILED, a->result.detail, STEP_FINISH);
}

/* ---- fetching ------------------------------------------------------------------------- */

static void fetch_next(agent_t *a)
{
  char path[96], hex[65];
  stw_hex_encode(a->m.digest, 32, hex);
  snprintf(path, sizeof(path), "fw/img/%s", hex);
  a->state = AGENT_FETCHING;
  uint64_t num = a->progress.have / a->block_size;
  if (num > 0xFFFFF || send_request(a, COAP_REQUEST_CODE_GET, path, false, (int)num, -1, NULL, 0) != STW_OK)
    disconnect(a);  /* the next connection resumes from the progress record */
}

static void got_block(agent_t *a, const coap_pdu_t *received)
{
  unsigned code = coap_pdu_get_code(received);
  size_t len = 0;
  const uint8_t *data = NULL;
  char why[STW_UPDATE_DETAIL_MAX + 1];
  if (!coap_get_data(received, &len, &data))
    data = NULL, len = 0;
  if ((code >> 5) != 2) {
    char diag[96];
    size_t n = len < sizeof(diag) - 1 ? len : sizeof(diag) - 1;
    for (size_t i = 0; i < n; i++)
      diag[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
    diag[n] = '\0';
    stw_explain(why, sizeof(why), "failed: image refused (%u.%02u) %s", code >> 5, code & 0x1f, diag);
    fail(a, stw__status_of_code(code), why);
    return;
  }
  coap_block_t block = { .num = 0, .m = 0, .szx = BLOCK_SZX };
  bool blocked = coap_get_block(received, COAP_OPTION_BLOCK2, &block) != 0;
  uint64_t size = blocked ? (1u << (block.szx + 4)) : len;
  uint64_t offset = blocked ? (uint64_t)block.num * size : 0;
  if (blocked && block.szx < BLOCK_SZX && offset == a->progress.have)
    a->block_size = size;  /* the server chose smaller blocks: follow it */
  if (offset != a->progress.have || (blocked && block.m && len != size)) {
    fail(a, STW_ERR_MALFORMED, "failed: the server sent a block out of order");
    return;
  }
  if (len > a->m.size - a->progress.have) {
    stw_explain(why, sizeof(why), "refused: oversized download (more than the manifest's %" PRIu64 " bytes)", a->m.size);
    fail(a, STW_ERR_TOO_LARGE, why);
    return;
  }
  stw_status_t st = stw__devfile_append(a->dev, PARTIAL_FILE, data, len);
  if (st == STW_OK) {
    a->progress.have += len;
    st = progress_write(a);
  }
  if (st != STW_OK) {
    fail(a, st, "failed: cannot store the download");
    return;
  }
  a->result.blocks_fetched++;
  a->result.image_bytes += len;
  bool more = blocked && block.m;
  if (!more) {
    if (a->progress.have < a->m.size) {
      stw_explain(why, sizeof(why), "refused: truncated download (%" PRIu64 " of %" PRIu64 " bytes)", a->progress.have,
          a->m.size);
      fail(a, STW_ERR_MALFORMED, why);
      return;
    }
    install(a);
    return;
  }
  if (a->opts.interrupt_after_blocks > 0 && a->result.blocks_fetched >= a->opts.interrupt_after_blocks) {
    /* A power loss, as tests ask for it: everything stops here, the
     * progress record stays, nothing more is said to anyone. */
    a->result.status = STW_ERR_NETWORK;
    stw_explain(a->result.detail, sizeof(a->result.detail), "interrupted after %" PRIu64 " blocks", a->result.blocks_fetched);
    stw_update_result_t r = a->result;
    disconnect(a);
    a->busy = false;
    a->retry_at = UINT64_MAX;
    if (a->opts.on_result != NULL)
      a->opts.on_result(a->dev, &r, a->opts.arg);
    return;
  }
  fetch_next(a);
}

/* ---- offers --------------------------------------------------------------------------- */

static void consider(agent_t *a, const uint8_t *env, size_t len)
{
  uint8_t digest[32];
  if (stw_sha256(env, len, digest) != STW_OK)
    return;
  /* The same envelope again (notifications repeat on every campaign
   * change): already handled, unless it was cut short by a restart. */
  if (a->have_envelope_digest && memcmp(digest, a->envelope_digest, 32) == 0)
    return;
  if (a->busy) {
    free(a->pending);
    a->pending = malloc(len);
    if (a->pending != NULL)
      memcpy(a->pending, env, len);
    a->pending_len = a->pending ? len : 0;
    return;
  }
  memcpy(a->envelope_digest, digest, 32);
  a->have_envelope_digest = true;
  a->busy = true;
  a->offered_us = stw_monotonic_us();
  memset(&a->result, 0, sizeof(a->result));
  char why[STW_UPDATE_DETAIL_MAX + 1] = "";
  stw_status_t st = check_envelope(a->dev, env, len, &a->m, why, sizeof(why));
  a->result.sequence = a->m.sequence;
  if (st != STW_OK) {
    /* Refused before anything was written: report, change nothing. */
    a->result.status = st;
    snprintf(a->result.detail, sizeof(a->result.detail), "%s", why);
    send_report(a, STW_FWREPORT_FAILED, why, STEP_FINISH);
    return;
  }
  a->block_size = 1u << (BLOCK_SZX + 4);
  if ((st = progress_resume(a)) != STW_OK) {
    fail(a, st, "failed: cannot record download progress");
    return;
  }
  a->result.resumed_at = a->progress.have;
  send_report(a, STW_FWREPORT_DOWNLOADING, a->progress.have ? "resuming the download" : "", STEP_FETCH);
}

/* ---- libcoap callbacks -------------------------------------------------------------------- */

static bool same_token(const coap_pdu_t *pdu, const uint8_t *token, size_t len)
{
  coap_bin_const_t t = coap_pdu_get_token(pdu);
  return len > 0 && t.length == len && memcmp(t.s, token, len) == 0;
}

static void server_checked(agent_t *a)
{
  bool domain =
      stw__domain_certified(a->dev, a->crts.data, a->crts.len, a->server_spki, a->server_spki_len) == STW_OK;
  a->crts.len = 0;
  if (!domain) {
    disconnect(a);  /* not our domain: nothing is asked of it */
    return;
  }
  a->state = AGENT_OBSERVING;
  if (send_request(a, COAP_REQUEST_CODE_GET, "fw", true, -1, -1, NULL, 0) != STW_OK)
    disconnect(a);
}

static void got_crts(agent_t *a, const coap_pdu_t *received)
{
  size_t len = 0;
  const uint8_t *data = NULL;
  if ((coap_pdu_get_code(received) >> 5) != 2 || !coap_get_data(received, &len, &data) ||
      stw_buf_append(&a->crts, data, len) != STW_OK) {
    disconnect(a);
    return;
  }
  coap_block_t block;
  if (coap_get_block(received, COAP_OPTION_BLOCK2, &block) && block.m) {
    if (send_request(a, COAP_REQUEST_CODE_GET, PATH_CRTS, false, (int)block.num + 1, -1, NULL, 0) != STW_OK)
      disconnect(a);
    return;
  }
  server_checked(a);
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
  (void)sent;
  (void)mid;
  agent_t *a = coap_session_get_app_data(session);
  if (a == NULL)
    return COAP_RESPONSE_OK;
  if (same_token(received, a->obs_token, a->obs_token_len)) {
    size_t len = 0;
    const uint8_t *data = NULL;
    unsigned code = coap_pdu_get_code(received);
    if ((code >> 5) != 2) {
      a->obs_token_len = 0;  /* the observation ended (4.01: not enrolled here) */
      return COAP_RESPONSE_OK;
    }
    if (coap_get_data(received, &len, &data) && len > 0 && len <= STW_MANIFEST_MAX)
      consider(a, data, len);
    return COAP_RESPONSE_OK;
  }
  if (!same_token(received, a->req_token, a->req_token_len))
    return COAP_RESPONSE_OK;
  a->req_token_len = 0;
  switch (a->state) {
  case AGENT_CHECKING:
    got_crts(a, received);
    break;
  case AGENT_FETCHING:
    got_block(a, received);
    break;
  case AGENT_REPORTING: {
    agent_step_t step = a->next_step;
    a->next_step = STEP_NONE;
    a->state = AGENT_OBSERVING;
    if (step == STEP_FETCH)
      fetch_next(a);
    else if (step == STEP_FINISH)
      deliver_result(a);
    break;
  }
  default:
    break;
  }
  return COAP_RESPONSE_OK;
}

/* The session failed (no answer, DTLS down): connect again later; an
 * update in progress resumes from its progress record. */
static void session_lost(agent_t *a)
{
  bool finishing = a->state == AGENT_REPORTING && a->next_step == STEP_FINISH;
  disconnect(a);
  if (finishing) {
    a->state = AGENT_OBSERVING;
    deliver_result(a);
    a->state = AGENT_IDLE;
  } else if (a->busy) {
    a->busy = false;
    a->have_envelope_digest = false;  /* the offer is considered again on reconnect */
  }
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
  (void)sent;
  (void)reason;
  (void)mid;
  agent_t *a = coap_session_get_app_data(session);
  if (a != NULL)
    session_lost(a);
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
  agent_t *a = coap_session_get_app_data(session);
  if (a != NULL && (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED))
    session_lost(a);
  return 0;
}

static int remember_server_key(const char *cn, const uint8_t *der, size_t len, coap_session_t *session,
                               unsigned depth, int validated, void *arg)
{
  (void)validated;
  (void)arg;
  agent_t *a = coap_session_get_app_data(session);
  if (a == NULL || depth != 0)
    return 1;
  if (strcmp(cn, COAP_DTLS_RPK_CERT_CN) != 0 || len > sizeof(a->server_spki))
    return 0;  /* the domain daemon speaks with a raw key */
  memcpy(a->server_spki, der, len);
  a->server_spki_len = len;
  return 1;
}

/* ---- connecting --------------------------------------------------------------------------- */

static void connect_agent(agent_t *a)
{
  stw_dev_t *dev = a->dev;
  a->server_spki_len = 0;
  a->crts.len = 0;
  if (dev->has_op_cert) {
    coap_dtls_pki_t pki;
    stw__dtls_pki_init(&pki, &dev->op_cert_pem, &dev->op_key_pem, remember_server_key);
    a->session = coap_new_client_session_pki(a->u->pki_ctx, NULL, &a->server, COAP_PROTO_DTLS, &pki);
  } else {
    coap_dtls_cpsk_t cpsk;
    memset(&cpsk, 0, sizeof(cpsk));
    cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
    cpsk.psk_info.identity.s = (const uint8_t *)dev->op_psk_identity;
    cpsk.psk_info.identity.length = strlen(dev->op_psk_identity);
    cpsk.psk_info.key.s = dev->op_psk;
    cpsk.psk_info.key.length = STW_PSK_KEY_LEN;
    a->session = coap_new_client_session_psk2(a->u->psk_ctx, NULL, &a->server, COAP_PROTO_DTLS, &cpsk);
  }
  if (a->session == NULL) {
    a->retry_at = stw_monotonic_us() + RECONNECT_US;
    return;
  }
  coap_session_set_app_data(a->session, a);
  stw_status_t st;
  if (dev->has_op_cert) {
    /* The session proved a key; is it one the pinned domain CA certified? */
    a->state = AGENT_CHECKING;
    st = send_request(a, COAP_REQUEST_CODE_GET, PATH_CRTS, false, -1, -1, NULL, 0);
  } else {
    /* Only the domain knows the operational PSK. */
    a->state = AGENT_OBSERVING;
    st = send_request(a, COAP_REQUEST_CODE_GET, "fw", true, -1, -1, NULL, 0);
  }
  if (st != STW_OK)
    disconnect(a);
}

static coap_context_t *new_context(void)
{
  coap_context_t *ctx = coap_new_context(NULL);
  if (ctx == NULL)
    return NULL;
  /* No libcoap block handling: the agent asks for each block itself. */
  coap_register_response_handler(ctx, on_response);
  coap_register_nack_handler(ctx, on_nack);
  coap_register_event_handler(ctx, on_event);
  return ctx;
}

stw_status_t stw_updater_new(stw_updater_t **out)
{
  coap_startup();
  stw_updater_t *u = calloc(1, sizeof(*u));
  if (u == NULL)
    return STW_ERR_NOMEM;
  u->pki_ctx = new_context();
  u->psk_ctx = new_context();
  if (u->pki_ctx == NULL || u->psk_ctx == NULL) {
    stw_updater_free(u);
    *out = NULL;
    return STW_ERR_NETWORK;
  }
  *out = u;
  return STW_OK;
}

stw_status_t stw_updater_watch(stw_updater_t *u, stw_dev_t *dev, const char *domain_uri, const stw_update_opts_t *opts)
{
  if (stw_dev_state(dev) != STW_DEV_ENROLLED || dev->domain_ca_der.len == 0)
    return STW_ERR_STATE;
  stw_slots_t slots;
  stw_status_t st = stw_slots_load(dev, &slots);
  /* An image still on trial was never confirmed: the device went down during
   * its self-test, and comes back on the old slot. */
  if (st == STW_OK && slots.trial)
    st = stw_slots_boot(dev, &slots);
  if (st != STW_OK)
    return st;
  agent_t *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return STW_ERR_NOMEM;
  char host[256];
  if ((st = stw__coaps_resolve(domain_uri, &a->server, host, sizeof(host))) != STW_OK) {
    free(a);
    return st;
  }
  a->u = u;
  a->dev = dev;
  if (opts != NULL)
    a->opts = *opts;
  stw_buf_init(&a->crts, CRTS_MAX);
  stw_buf_init(&a->report_body, STW_FWREPORT_MAX);
  a->next = u->agents;
  u->agents = a;
  connect_agent(a);
  return STW_OK;
}

unsigned stw_updater_run(stw_updater_t *u, unsigned timeout_ms)
{
  coap_context_t *ctxs[] = { u->pki_ctx, u->psk_ctx };
  stw__coap_io_run(ctxs, 2, timeout_ms);
  uint64_t now = stw_monotonic_us();
  unsigned busy = 0;
  for (agent_t *a = u->agents; a != NULL; a = a->next) {
    release_dropped(a);
    if (a->session != NULL && a->req_token_len > 0 && now > a->answer_due)
      session_lost(a);
    if (a->state == AGENT_IDLE && a->session == NULL && now >= a->retry_at)
      connect_agent(a);
    busy += a->busy;
  }
  return busy;
}

unsigned stw_updater_observing(const stw_updater_t *u)
{
  unsigned n = 0;
  for (const agent_t *a = u->agents; a != NULL; a = a->next)
    n += a->session != NULL && a->obs_token_len > 0 && a->state != AGENT_CHECKING;
  return n;
}

void stw_updater_free(stw_updater_t *u)
{
  if (u == NULL)
    return;
  while (u->agents != NULL) {
    agent_t *a = u->agents;
    u->agents = a->next;
    disconnect(a);
    release_dropped(a);
    stw_buf_free(&a->crts, false);
    stw_buf_free(&a->report_body, false);
    free(a->pending);
    free(a);
  }
  if (u->pki_ctx != NULL)
    coap_free_context(u->pki_ctx);
  if (u->psk_ctx != NULL)
    coap_free_context(u->psk_ctx);
  free(u);
}
