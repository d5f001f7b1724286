/* The compliance report as JSON (for tools) and as one self-contained HTML
 * page (for people). Both say the same things in the same order. */
#include "compliance.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX (64u * 1024 * 1024)

static json_t *finding_json(stw_provision_t p, const stw_finding_t *f)
{
  return json_pack("{s:s, s:s, s:s, s:s}", "provision", stw_provision_clause(p), "title", stw_provision_title(p),
                   "verdict", stw_verdict_name(f->verdict), "evidence", f->evidence);
}

stw_status_t stw_compliance_json(const stw_compliance_t *r, stw_buf_t *out)
{
  stw_buf_init(out, REPORT_MAX);
  json_t *fleet = json_array(), *devices = json_array();
  json_t *root = json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "standard", "ETSI EN 303 645 V2.1.1", "domain", r->domain,
                           "generated_at", (json_int_t)r->generated_at, "devices_total", (json_int_t)r->n_devices,
                           "fleet", fleet, "devices", devices);
  if (root == NULL)
    return STW_ERR_NOMEM;
  for (int p = 0; p < STW_PROV_COUNT; p++) {
    json_t *f = finding_json((stw_provision_t)p, &r->fleet[p]);
    json_object_set_new(f, "devices", json_pack("{s:I, s:I, s:I, s:I}", "pass", (json_int_t)r->counts[p][STW_VERDICT_PASS],
                                                "warn", (json_int_t)r->counts[p][STW_VERDICT_WARN], "fail",
                                                (json_int_t)r->counts[p][STW_VERDICT_FAIL], "n/a",
                                                (json_int_t)r->counts[p][STW_VERDICT_NA]));
    json_array_append_new(fleet, f);
  }
  for (size_t i = 0; i < r->n_devices; i++) {
    const stw_device_report_t *d = &r->devices[i];
    json_t *findings = json_array();
    for (int p = 0; p < STW_PROV_COUNT; p++)
      json_array_append_new(findings, finding_json((stw_provision_t)p, &d->findings[p]));
    json_array_append_new(devices, json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", d->id, "name", d->name, "model", d->model,
                                             "state", stw_state_name(d->state), "provisions", findings));
  }
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (text == NULL)
    return STW_ERR_NOMEM;
  stw_status_t rc = stw_buf_append(out, text, strlen(text));
  if (rc == STW_OK)
    rc = stw_buf_append(out, "\n", 1);
  free(text);
  return rc;
}

/* ---- HTML ------------------------------------------------------------------ */

static stw_status_t put(stw_buf_t *b, const char *s)
{
  return stw_buf_append(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static stw_status_t putf(stw_buf_t *b, const char *fmt, ...)
{
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return STW_ERR_TOO_LARGE;
  return stw_buf_append(b, tmp, (size_t)n);
}

/* Every text that came from the store is escaped: names and evidence are
 * data, never markup. */
static stw_status_t put_text(stw_buf_t *b, const char *s)
{
  stw_status_t rc = STW_OK;
  for (; rc == STW_OK && *s != '\0'; s++) {
    switch (*s) {
    case '&': rc = put(b, "&amp;"); break;
    case '<': rc = put(b, "&lt;"); break;
    case '>': rc = put(b, "&gt;"); break;
    case '"': rc = put(b, "&quot;"); break;
    case '\'': rc = put(b, "&#39;"); break;
    default: rc = stw_buf_append(b, s, 1);
    }
  }
  return rc;
}

static stw_status_t put_row(stw_buf_t *b, stw_provision_t p, const stw_finding_t *f)
{
  stw_status_t rc = putf(b, "<tr class=\"%s\"><td>%s</td><td>", f->verdict == STW_VERDICT_NA ? "na" : stw_verdict_name(f->verdict),
                         stw_provision_clause(p));
  if (rc == STW_OK)
    rc = put_text(b, stw_provision_title(p));
  if (rc == STW_OK)
    rc = putf(b, "</td><td>%s</td><td>", stw_verdict_name(f->verdict));
  if (rc == STW_OK)
    rc = put_text(b, f->evidence);
  if (rc == STW_OK)
    rc = put(b, "</td></tr>\n");
  return rc;
}

static const char table_head[] = "<table><tr><th>provision</th><th>what it asks</th><th>verdict</th><th>evidence</th></tr>\n";

stw_status_t stw_compliance_html(const stw_compliance_t *r, stw_buf_t *out)
{
  stw_buf_init(out, REPORT_MAX);
  stw_status_t rc = put(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                             "<title>Steward compliance report</title><style>"
                             "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
                             "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}"
                             "tr.pass td:nth-child(3){color:#060}tr.warn td:nth-child(3){color:#a60}"
                             "tr.fail td:nth-child(3){color:#b00;font-weight:bold}tr.na{color:#888}"
                             "</style></head><body>\n<h1>ETSI EN 303 645 compliance: ");
  if (rc == STW_OK)
    rc = put_text(out, r->domain);
  if (rc == STW_OK)
    rc = putf(out, "</h1>\n<p>Generated at %lld (Unix time) from the domain's store; %zu devices.</p>\n<h2>Fleet</h2>\n%s",
              (long long)r->generated_at, r->n_devices, table_head);
  for (int p = 0; rc == STW_OK && p < STW_PROV_COUNT; p++)
    rc = put_row(out, (stw_provision_t)p, &r->fleet[p]);
  if (rc == STW_OK)
    rc = put(out, "</table>\n");
  for (size_t i = 0; rc == STW_OK && i < r->n_devices; i++) {
    const stw_device_report_t *d = &r->devices[i];
    rc = put(out, "<h2>");
    if (rc == STW_OK)
      rc = put_text(out, d->name);
    if (rc == STW_OK)
      rc = putf(out, " <small>%s, %s, ", d->id, stw_state_name(d->state));
    if (rc == STW_OK)
      rc = put_text(out, d->model);
    if (rc == STW_OK)
      rc = putf(out, "</small></h2>\n%s", table_head);
    for (int p = 0; rc == STW_OK && p < STW_PROV_COUNT; p++)
      rc = put_row(out, (stw_provision_t)p, &d->findings[p]);
    if (rc == STW_OK)
      rc = put(out, "</table>\n");
  }
  if (rc == STW_OK)
    rc = put(out, "</body></html>\n");
  return rc;
}
