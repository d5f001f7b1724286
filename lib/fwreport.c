#include "fwreport.h"

#include <string.h>

#include "cbor_writer.h"

const char *stw_fwreport_status_name(stw_fwreport_status_t s)
{
  switch (s) {
  case STW_FWREPORT_DOWNLOADING: return "downloading";
  case STW_FWREPORT_INSTALLED: return "installed";
  case STW_FWREPORT_FAILED: return "failed";
  }
  return "?";
}

static bool printable(char c)
{
  return c >= 0x20 && c < 0x7f;
}

stw_status_t stw_fwreport_encode(const stw_fwreport_t *r, stw_buf_t *out)
{
  char detail[STW_FWREPORT_DETAIL_MAX + 1];
  size_t n = strnlen(r->detail, STW_FWREPORT_DETAIL_MAX);
  for (size_t i = 0; i < n; i++)
    detail[i] = printable(r->detail[i]) ? r->detail[i] : '?';
  stw_status_t st = stw_cbor_write_head(out, STW_CBOR_MAP, 3);
  if (st == STW_OK)
    st = stw_cbor_write_head(out, STW_CBOR_UINT, 1);
  if (st == STW_OK)
    st = stw_cbor_write_head(out, STW_CBOR_UINT, r->sequence);
  if (st == STW_OK)
    st = stw_cbor_write_head(out, STW_CBOR_UINT, 2);
  if (st == STW_OK)
    st = stw_cbor_write_head(out, STW_CBOR_UINT, (uint64_t)r->status);
  if (st == STW_OK)
    st = stw_cbor_write_head(out, STW_CBOR_UINT, 3);
  if (st == STW_OK)
    st = stw_cbor_write_bytes(out, STW_CBOR_TSTR, detail, n);
  return st;
}

stw_status_t stw_fwreport_decode(const uint8_t *cbor, size_t len, stw_fwreport_t *out)
{
  memset(out, 0, sizeof(*out));
  if (len > STW_FWREPORT_MAX)
    return STW_ERR_TOO_LARGE;
  stw_cbor_reader_t r;
  stw_cbor_reader_init(&r, cbor, len);
  size_t pairs = 0;
  if (stw_cbor_read_map(&r, &pairs) != STW_OK || pairs != 3)
    return STW_ERR_MALFORMED;
  unsigned seen = 0;
  for (size_t i = 0; i < pairs; i++) {
    uint64_t key = 0, v = 0;
    if (stw_cbor_read_uint(&r, &key) != STW_OK || key < 1 || key > 3 || (seen & (1u << key)))
      return STW_ERR_MALFORMED;
    seen |= 1u << key;
    if (key == 1) {
      if (stw_cbor_read_uint(&r, &out->sequence) != STW_OK)
        return STW_ERR_MALFORMED;
    } else if (key == 2) {
      if (stw_cbor_read_uint(&r, &v) != STW_OK ||
          (v != STW_FWREPORT_DOWNLOADING && v != STW_FWREPORT_INSTALLED && v != STW_FWREPORT_FAILED))
        return STW_ERR_MALFORMED;
      out->status = (stw_fwreport_status_t)v;
    } else {
      const char *text = NULL;
      size_t n = 0;
      if (stw_cbor_read_tstr(&r, &text, &n) != STW_OK || n > STW_FWREPORT_DETAIL_MAX)
        return STW_ERR_MALFORMED;
      for (size_t j = 0; j < n; j++)
        if (!printable(text[j]))
          return STW_ERR_MALFORMED;  /* it goes into the audit log and onto terminals */
      if (n > 0)
        memcpy(out->detail, text, n);
      out->detail[n] = '\0';
    }
  }
  return stw_cbor_expect_end(&r);
}
