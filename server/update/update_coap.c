#include "update/update_coap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/transport.h"
#include "coap/watcher.h"

struct stw_update_coap {
  stw_store_t *store;
  const stw_domain_t *domain;
  stw_ca_t *ca;
  stw_committer_t *committer;
  coap_resource_t *fw;
  /* The CLI changes campaigns from another process. */
  stw_store_watcher_t watcher;
};

typedef struct {
  stw_update_coap_t *t;
  char device_id[STW_ID_HEX];
  stw_fwreport_t report;
  stw_report_outcome_t outcome;
  stw_status_t rc;
  stw_deferred_t *deferred;
} report_job_t;

/* The enrolled device behind the session; false with the answer (4.01, 5.03) already set. */
static bool authenticated_device(stw_update_coap_t *t, coap_session_t *session, coap_pdu_t *response,
                                 char device_id[STW_ID_HEX])
{
  stw_identity_t *who = stw_coap_enrolled_device(session, t->store, t->domain, t->ca, response);
  if (who == NULL)
    return false;
  memcpy(device_id, who->device_id, STW_ID_HEX);
  free(who);
  return true;
}

/* ---- GET /fw (observable) ------------------------------------------------------------ */

static void handle_fw(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                      const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  stw_update_coap_t *t = coap_resource_get_userdata(resource);
  char device_id[STW_ID_HEX];
  if (!authenticated_device(t, session, response, device_id))
    return;
  stw_firmware_t fw;
  stw_status_t st = stw_update_offer(t->store, device_id, &fw);
  if (st == STW_OK) {
    stw_coap_body_t *body = stw_coap_body_new(fw.envelope, fw.envelope_len);
    stw_firmware_clear(&fw);
    if (body == NULL) {
      stw_coap_error(response, COAP_RESPONSE_CODE(500), "out of memory");
      return;
    }
    coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
    stw_coap_add_body(resource, session, request, response, STW_CF_COSE_SIGN1, body);
    return;
  }
  coap_opt_iterator_t it;
  if (st == STW_ERR_NOT_FOUND && coap_check_option(request, COAP_OPTION_OBSERVE, &it) != NULL) {
    /* Nothing offered now. An observer gets 2.05 with no payload: a 4.04
     * would end its observation (RFC 7641 §4.2) and it would never hear of
     * the next campaign. */
    coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
    return;
  }
  stw_coap_error(response, st == STW_ERR_NOT_FOUND ? COAP_RESPONSE_CODE(404) : COAP_RESPONSE_CODE(500),
                 st == STW_ERR_NOT_FOUND ? "no update offered to this device" : "store failure");
}

/* ---- GET /fw/img/<hex digest> --------------------------------------------------------- */

static void handle_image(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                         const coap_string_t *query, coap_pdu_t *response, const char *rest, void *arg)
{
  (void)query;
  stw_update_coap_t *t = arg;
  char device_id[STW_ID_HEX], path[1200];
  uint8_t digest[32];
  if (!authenticated_device(t, session, response, device_id))
    return;
  if (strlen(rest) != 64 || stw_hex_decode(rest, 64, digest, sizeof(digest)) != STW_OK) {
    stw_coap_error(response, COAP_RESPONSE_CODE(404), "an image is named by its SHA-256 in hex");
    return;
  }
  /* Only what is offered to this device: images are the vendor's, and what
   * one device may fetch says nothing about what another may. */
  if (!stw_update_may_fetch(t->store, device_id, digest)) {
    stw_coap_error(response, COAP_RESPONSE_CODE(403), "this image is not offered to this device");
    return;
  }
  uint8_t *image = NULL;
  size_t len = 0;
  stw_status_t st = stw_update_image_path(t->domain->dir, digest, path, sizeof(path));
  if (st == STW_OK)
    st = stw_file_read(path, STW_FW_IMAGE_MAX, &image, &len);
  if (st != STW_OK) {
    free(image);
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "the image is missing from the data folder");
    return;
  }
  stw_coap_body_t *body = stw_coap_body_new(image, len);
  free(image);
  if (body == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "out of memory");
    return;
  }
  coap_pdu_set_code(response, COAP_RESPONSE_CODE(205));
  stw_coap_add_body(resource, session, request, response, STW_CF_OCTET_STREAM, body);
}

/* ---- POST /fw/report ------------------------------------------------------------------ */

static void notify_fw(stw_update_coap_t *t)
{
  coap_resource_notify_observers(t->fw, NULL);
}

static stw_status_t report_apply(stw_store_t *st, void *arg)
{
  report_job_t *job = arg;
  job->rc = stw_update_report_apply(st, job->device_id, &job->report, &job->outcome);
  return job->rc;
}

static void report_done(void *arg, stw_status_t status)
{
  report_job_t *job = arg;
  if (job->rc == STW_ERR_NOT_FOUND)
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(404), STW_CF_TEXT, NULL, 0,
                        "no update of that sequence was offered to this device");
  else if (job->rc == STW_ERR_STATE)
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(409), STW_CF_TEXT, NULL, 0,
                        "this update already ended otherwise");
  else if (status != STW_OK)
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(500), STW_CF_TEXT, NULL, 0,
                        "store failure; nothing was recorded, retry");
  else
    stw_deferred_answer(job->deferred, COAP_RESPONSE_CODE(204), STW_CF_TEXT, NULL, 0, NULL);
  if (status == STW_OK && job->outcome.offers_changed)
    notify_fw(job->t);
  free(job);
}

static void handle_report(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                          const coap_string_t *query, coap_pdu_t *response)
{
  (void)query;
  if (stw_deferred_resume(resource, session, request, response))
    return;
  stw_update_coap_t *t = coap_resource_get_userdata(resource);
  char device_id[STW_ID_HEX];
  if (!authenticated_device(t, session, response, device_id))
    return;
  const uint8_t *data;
  size_t len;
  if (!stw_coap_request_body(request, STW_FWREPORT_MAX, &data, &len)) {
    stw_coap_error(response, COAP_RESPONSE_CODE(413), "report over 512 bytes");
    return;
  }
  report_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    stw_coap_error(response, COAP_RESPONSE_CODE(500), "out of memory");
    return;
  }
  if (stw_fwreport_decode(data, len, &job->report) != STW_OK) {
    free(job);
    stw_coap_error(response, COAP_RESPONSE_CODE(400), "a report is {1: sequence, 2: status, 3: detail}");
    return;
  }
  job->t = t;
  memcpy(job->device_id, device_id, STW_ID_HEX);
  if (!stw_coap_defer_job(session, request, response, t->committer, report_apply, report_done, job, &job->deferred))
    free(job);
}

/* ---- the watcher: campaigns the CLI changed ----------------------------------------------- */

static void campaigns_wake(void *arg)
{
  notify_fw(arg);
}

/* ---- registration ------------------------------------------------------------------------- */

stw_status_t stw_update_coap_register(stw_coap_server_t *server, stw_store_t *store, const char *store_url,
                                      const stw_domain_t *domain, stw_committer_t *committer, stw_update_coap_t **out)
{
  *out = NULL;
  stw_update_coap_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return STW_ERR_NOMEM;
  t->store = store;
  t->domain = domain;
  t->committer = committer;
  stw_status_t st = stw_ca_new(domain->ca_der.data, domain->ca_der.len, NULL, &t->ca);
  if (st != STW_OK) {
    free(t);
    return st;
  }
  if ((t->fw = stw_coap_resource_add(server, "fw", COAP_REQUEST_GET, handle_fw, t, "\"steward.fw\"", "18")) == NULL ||
      stw_coap_resource_add(server, "fw/report", COAP_REQUEST_POST, handle_report, t, "\"steward.fw.report\"",
                            "60") == NULL) {
    stw_ca_free(t->ca);
    free(t);
    return STW_ERR_NOMEM;
  }
  coap_resource_set_get_observable(t->fw, 1);
  if ((st = stw_coap_route(server, "fw/img/", COAP_REQUEST_GET, handle_image, t)) != STW_OK) {
    stw_ca_free(t->ca);
    free(t);
    return st;
  }
  /* The fingerprint of the campaigns moves with every change the CLI makes. */
  stw_store_watcher_start_number(&t->watcher, store_url, STW_CAMPAIGN_POLL_MS, committer,
                                 stw_update_campaigns_fingerprint, campaigns_wake, t);
  *out = t;
  return STW_OK;
}

void stw_update_coap_free(stw_update_coap_t *t)
{
  if (t == NULL)
    return;
  /* Also runs what is still queued for t (wake-ups, reports), not after free. */
  stw_store_watcher_stop(&t->watcher);
  stw_ca_free(t->ca);
  free(t);
}
