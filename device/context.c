/* Publishing a context attribute: one CBOR map to the domain's /context. */
#include <string.h>

#include "cbor_reader.h"
#include "net_internal.h"
#include "steward/context.h"

#define CF_CBOR 60

static stw_status_t put_text(stw_buf_t *b, uint64_t key, const char *text)
{
  uint8_t head[STW_CBOR_HEAD_MAX];
  size_t n = stw_cbor_put_head(STW_CBOR_UINT, key, head);
  stw_status_t st = stw_buf_append(b, head, n);
  size_t len = strlen(text);
  if (st == STW_OK) {
    n = stw_cbor_put_head(STW_CBOR_TSTR, len, head);
    st = stw_buf_append(b, head, n);
  }
  return st == STW_OK ? stw_buf_append(b, text, len) : st;
}

stw_status_t stw_context_publish(stw_dev_t *dev, const char *domain_uri, const char *name, const char *value,
                                 stw_bootstrap_report_t *report)
{
  if (report != NULL)
    memset(report, 0, sizeof(*report));
  if (name == NULL || value == NULL || name[0] == '\0' || strlen(name) > 63 || strlen(value) > 255)
    return STW_ERR_INVALID;
  stw_buf_t body;
  stw_buf_init(&body, 512);
  uint8_t head[STW_CBOR_HEAD_MAX];
  size_t n = stw_cbor_put_head(STW_CBOR_MAP, 2, head);
  stw_status_t st = stw_buf_append(&body, head, n);
  if (st == STW_OK)
    st = put_text(&body, 1, name);
  if (st == STW_OK)
    st = put_text(&body, 2, value);
  if (st == STW_OK)
    st = stw__request_run(dev, domain_uri, COAP_REQUEST_CODE_POST, "context", CF_CBOR, -1, body.data, body.len, 1024,
                          NULL, NULL, NULL, report);
  stw_buf_free(&body, false);
  return st;
}
