/* Compliance: for each device and for the fleet, which ETSI EN 303 645
 * provisions the domain can evidence from what it holds, with the verdict
 * and the evidence that supports it (docs/compliance.md). Read-only: a report
 * never changes the store. Rendering to JSON or HTML is compliance_render.c. */
#ifndef STW_SERVER_COMPLIANCE_H
#define STW_SERVER_COMPLIANCE_H

#include <stddef.h>
#include <stdint.h>
#include "store/store.h"
#include "util.h"

typedef enum {
  STW_VERDICT_PASS = 0,
  STW_VERDICT_WARN = 1,    /**< holds, with a caveat the operator should act on */
  STW_VERDICT_FAIL = 2,
  STW_VERDICT_NA = 3,      /**< does not apply to this device now (e.g. decommissioned) */
} stw_verdict_t;

/* The provisions the system can evidence, in report order. */
typedef enum {
  STW_PROV_UNIQUE_CREDENTIALS = 0,  /* 5.1 */
  STW_PROV_VULN_DISCLOSURE,         /* 5.2 (fleet) */
  STW_PROV_UPDATES,                 /* 5.3 */
  STW_PROV_SECRETS,                 /* 5.4 */
  STW_PROV_CHANNEL,                 /* 5.5 */
  STW_PROV_INTEGRITY,               /* 5.7 */
  STW_PROV_PERSONAL_DATA,           /* 5.8 / 5.11 */
  STW_PROV_TELEMETRY,               /* 5.10 */
  STW_PROV_INPUT_VALIDATION,        /* 5.13 */
  STW_PROV_COUNT
} stw_provision_t;

const char *stw_provision_clause(stw_provision_t p);   /* "5.1" */
const char *stw_provision_title(stw_provision_t p);    /* "No universal default passwords; unique credentials" */
const char *stw_verdict_name(stw_verdict_t v);         /* "pass", "warn", "fail", "n/a" */

#define STW_EVIDENCE_TEXT_MAX 384

typedef struct {
  stw_verdict_t verdict;
  char evidence[STW_EVIDENCE_TEXT_MAX];
} stw_finding_t;

typedef struct {
  char id[STW_ID_HEX];
  char name[STW_TEXT_MAX];
  char model[STW_TEXT_MAX];
  stw_state_t state;
  stw_finding_t findings[STW_PROV_COUNT];
} stw_device_report_t;

typedef struct {
  int64_t generated_at;
  char domain[STW_TEXT_MAX];
  stw_finding_t fleet[STW_PROV_COUNT];            /**< the fleet's verdict per provision */
  uint64_t counts[STW_PROV_COUNT][STW_VERDICT_NA + 1]; /**< devices per provision and verdict */
  stw_device_report_t *devices;                   /**< owned */
  size_t n_devices;
} stw_compliance_t;

/** Collect the report. device_id NULL: the whole fleet; else that device
 *  only (STW_ERR_NOT_FOUND if unknown). data_dir: the domain folder (the
 *  permissions of its key files are evidence for 5.4). */
stw_status_t stw_compliance_collect(stw_store_t *st, const char *data_dir, const char *domain_name,
                                    const char *device_id, int64_t now, stw_compliance_t *out) STW_WUR;
void stw_compliance_free(stw_compliance_t *r);

/** Render as JSON (UTF-8, one object) or as a self-contained HTML page. */
stw_status_t stw_compliance_json(const stw_compliance_t *r, stw_buf_t *out) STW_WUR;
stw_status_t stw_compliance_html(const stw_compliance_t *r, stw_buf_t *out) STW_WUR;

#endif
