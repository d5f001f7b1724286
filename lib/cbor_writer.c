/* Definite-length CBOR writing into a bounded buffer (see cbor_writer.h). */
#include "cbor_writer.h"

#include <string.h>

stw_status_t stw_cbor_write_head(stw_buf_t *b, stw_cbor_type_t major, uint64_t argument)
{
  uint8_t head[STW_CBOR_HEAD_MAX];
  size_t n = stw_cbor_put_head(major, argument, head);
  return stw_buf_append(b, head, n);
}

stw_status_t stw_cbor_write_int(stw_buf_t *b, int64_t v)
{
  /* -(v + 1) rather than -1 - (uint64_t)v: no overflow for INT64_MIN */
  return v >= 0 ? stw_cbor_write_head(b, STW_CBOR_UINT, (uint64_t)v)
                : stw_cbor_write_head(b, STW_CBOR_NEGINT, (uint64_t)(-(v + 1)));
}

stw_status_t stw_cbor_write_bytes(stw_buf_t *b, stw_cbor_type_t major, const void *p, size_t len)
{
  stw_status_t st = stw_cbor_write_head(b, major, len);
  if (st == STW_OK && len > 0)
    st = stw_buf_append(b, p, len);
  return st;
}

stw_status_t stw_cbor_write_text(stw_buf_t *b, const char *s)
{
  return stw_cbor_write_bytes(b, STW_CBOR_TSTR, s, strlen(s));
}

stw_status_t stw_cbor_check_one_encoding(stw_status_t encoded, stw_buf_t *again, const uint8_t *cbor, size_t len)
{
  bool same = encoded == STW_OK && again->len == len && (len == 0 || memcmp(again->data, cbor, len) == 0);
  stw_buf_free(again, false);
  return same ? STW_OK : STW_ERR_MALFORMED;
}
