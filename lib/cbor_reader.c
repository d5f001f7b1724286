/* Zero-allocation CBOR pull reader; see cbor_reader.h. */
#include "cbor_reader.h"


/* One decoded head. For strings, the content follows the head. */
typedef struct {
  stw_cbor_type_t major;
  uint8_t info;        /* the low five bits of the initial byte */
  uint64_t argument;   /* value, length, count or tag number */
  size_t head_len;
} head_t;

void stw_cbor_reader_init(stw_cbor_reader_t *r, const uint8_t *buf, size_t len)
{
  r->pos = buf;
  r->end = buf == NULL ? NULL : buf + len;
}

size_t stw_cbor_remaining(const stw_cbor_reader_t *r)
{
  return r->pos == NULL ? 0 : (size_t)(r->end - r->pos);
}

bool stw_cbor_at_end(const stw_cbor_reader_t *r)
{
  return stw_cbor_remaining(r) == 0;
}

stw_status_t stw_cbor_expect_end(const stw_cbor_reader_t *r)
{
  return stw_cbor_at_end(r) ? STW_OK : STW_ERR_MALFORMED;
}

/* Decode the head at r->pos without consuming it. Indefinite lengths (info
 * 31) and the reserved infos 28..30 are malformed for us. */
static stw_status_t decode_head(const stw_cbor_reader_t *r, head_t *h)
{
  size_t left = stw_cbor_remaining(r);
  if (left == 0)
    return STW_ERR_MALFORMED;
  uint8_t initial = r->pos[0];
  h->major = (stw_cbor_type_t)(initial >> 5);
  h->info = initial & 0x1f;
  size_t extra;
  if (h->info < 24)
    extra = 0;
  else if (h->info <= 27)
    extra = (size_t)1 << (h->info - 24);  /* 1, 2, 4 or 8 bytes */
  else
    return STW_ERR_MALFORMED;
  if (left - 1 < extra)
    return STW_ERR_MALFORMED;
  uint64_t arg = h->info < 24 ? h->info : 0;
  for (size_t i = 0; i < extra; i++)
    arg = arg << 8 | r->pos[1 + i];
  h->argument = arg;
  h->head_len = 1 + extra;
  return STW_OK;
}

/* Read a head of the expected major type and consume it. */
static stw_status_t take_head(stw_cbor_reader_t *r, stw_cbor_type_t major, head_t *h)
{
  stw_status_t st = decode_head(r, h);
  if (st != STW_OK)
    return st;
  if (h->major != major)
    return STW_ERR_MALFORMED;
  r->pos += h->head_len;
  return STW_OK;
}

stw_status_t stw_cbor_peek_type(const stw_cbor_reader_t *r, stw_cbor_type_t *type)
{
  if (stw_cbor_remaining(r) == 0)
    return STW_ERR_MALFORMED;
  *type = (stw_cbor_type_t)(r->pos[0] >> 5);
  return STW_OK;
}

stw_status_t stw_cbor_read_uint(stw_cbor_reader_t *r, uint64_t *value)
{
  head_t h;
  stw_status_t st = take_head(r, STW_CBOR_UINT, &h);
  if (st == STW_OK)
    *value = h.argument;
  return st;
}

stw_status_t stw_cbor_read_int(stw_cbor_reader_t *r, int64_t *value)
{
  head_t h;
  stw_status_t st = decode_head(r, &h);
  if (st != STW_OK)
    return st;
  /* A negative integer is -1 - argument; both forms must fit int64_t. */
  if ((h.major != STW_CBOR_UINT && h.major != STW_CBOR_NEGINT) || h.argument > INT64_MAX)
    return STW_ERR_MALFORMED;
  *value = h.major == STW_CBOR_UINT ? (int64_t)h.argument : -1 - (int64_t)h.argument;
  r->pos += h.head_len;
  return STW_OK;
}

static stw_status_t read_string(stw_cbor_reader_t *r, stw_cbor_type_t major,
                                const uint8_t **data, size_t *len)
{
  stw_cbor_reader_t saved = *r;
  head_t h;
  stw_status_t st = take_head(r, major, &h);
  if (st != STW_OK)
    return st;
  if (h.argument > stw_cbor_remaining(r)) {
    *r = saved;
    return STW_ERR_MALFORMED;
  }
  *data = r->pos;
  *len = (size_t)h.argument;
  r->pos += h.argument;
  return STW_OK;
}

stw_status_t stw_cbor_read_bstr(stw_cbor_reader_t *r, const uint8_t **data, size_t *len)
{
  return read_string(r, STW_CBOR_BSTR, data, len);
}

stw_status_t stw_cbor_read_tstr(stw_cbor_reader_t *r, const char **text, size_t *len)
{
  const uint8_t *data;
  stw_status_t st = read_string(r, STW_CBOR_TSTR, &data, len);
  if (st == STW_OK)
    *text = (const char *)data;
  return st;
}

/* A container head whose element count (already multiplied for maps) must
 * fit in what is left: each element takes at least one byte. */
static stw_status_t read_container(stw_cbor_reader_t *r, stw_cbor_type_t major, size_t *count)
{
  stw_cbor_reader_t saved = *r;
  head_t h;
  stw_status_t st = take_head(r, major, &h);
  if (st != STW_OK)
    return st;
  uint64_t left = stw_cbor_remaining(r);
  uint64_t needed_limit = major == STW_CBOR_MAP ? left / 2 : left;
  if (h.argument > needed_limit) {
    *r = saved;
    return STW_ERR_MALFORMED;
  }
  *count = (size_t)h.argument;
  return STW_OK;
}

stw_status_t stw_cbor_read_array(stw_cbor_reader_t *r, size_t *count)
{
  return read_container(r, STW_CBOR_ARRAY, count);
}

stw_status_t stw_cbor_read_map(stw_cbor_reader_t *r, size_t *count)
{
  return read_container(r, STW_CBOR_MAP, count);
}

stw_status_t stw_cbor_read_tag(stw_cbor_reader_t *r, uint64_t *tag)
{
  stw_cbor_reader_t saved = *r;
  head_t h;
  stw_status_t st = take_head(r, STW_CBOR_TAG, &h);
  if (st != STW_OK)
    return st;
  if (stw_cbor_at_end(r)) {  /* a tag without its item */
    *r = saved;
    return STW_ERR_MALFORMED;
  }
  *tag = h.argument;
  return STW_OK;
}

#define SIMPLE_FALSE 20
#define SIMPLE_TRUE 21
#define SIMPLE_NULL 22

stw_status_t stw_cbor_read_bool(stw_cbor_reader_t *r, bool *value)
{
  head_t h;
  stw_status_t st = decode_head(r, &h);
  if (st != STW_OK)
    return st;
  if (h.major != STW_CBOR_SIMPLE || (h.info != SIMPLE_FALSE && h.info != SIMPLE_TRUE))
    return STW_ERR_MALFORMED;
  *value = h.info == SIMPLE_TRUE;
  r->pos += h.head_len;
  return STW_OK;
}

stw_status_t stw_cbor_read_null(stw_cbor_reader_t *r)
{
  head_t h;
  stw_status_t st = decode_head(r, &h);
  if (st != STW_OK)
    return st;
  if (h.major != STW_CBOR_SIMPLE || h.info != SIMPLE_NULL)
    return STW_ERR_MALFORMED;
  r->pos += h.head_len;
  return STW_OK;
}

stw_status_t stw_cbor_skip(stw_cbor_reader_t *r)
{
  /* pending[d]: items still to skip at depth d. Counts are bounded by the
   * bytes left when their head is read, so they cannot overflow. */
  uint64_t pending[STW_CBOR_DEPTH_MAX + 1];
  size_t depth = 0;
  pending[0] = 1;
  stw_cbor_reader_t cur = *r;
  while (true) {
    while (pending[depth] == 0) {
      if (depth == 0) {
        *r = cur;
        return STW_OK;
      }
      depth--;
    }
    pending[depth]--;
    head_t h;
    stw_status_t st = decode_head(&cur, &h);
    if (st != STW_OK)
      return st;
    cur.pos += h.head_len;
    uint64_t left = stw_cbor_remaining(&cur);
    uint64_t children = 0;
    switch (h.major) {
    case STW_CBOR_UINT:
    case STW_CBOR_NEGINT:
      break;
    case STW_CBOR_BSTR:
    case STW_CBOR_TSTR:
      if (h.argument > left)
        return STW_ERR_MALFORMED;
      cur.pos += h.argument;
      break;
    case STW_CBOR_ARRAY:
      children = h.argument;
      if (children > left)
        return STW_ERR_MALFORMED;
      break;
    case STW_CBOR_MAP:
      if (h.argument > left / 2)
        return STW_ERR_MALFORMED;
      children = 2 * h.argument;
      break;
    case STW_CBOR_TAG:
      children = 1;
      break;
    case STW_CBOR_SIMPLE:
      /* One-byte simple values below 32 are not well-formed (RFC 8949 3.3). */
      if (h.info == 24 && h.argument < 32)
        return STW_ERR_MALFORMED;
      break;  /* floats: the head already covered their bytes */
    }
    if (children > 0) {
      if (depth == STW_CBOR_DEPTH_MAX)
        return STW_ERR_MALFORMED;
      pending[++depth] = children;
    }
  }
}

size_t stw_cbor_put_head(stw_cbor_type_t major, uint64_t argument, uint8_t out[STW_CBOR_HEAD_MAX])
{
  uint8_t type_bits = (uint8_t)((unsigned)major << 5);
  if (argument < 24) {
    out[0] = type_bits | (uint8_t)argument;
    return 1;
  }
  size_t extra = argument <= 0xff ? 1 : argument <= 0xffff ? 2 : argument <= 0xffffffffu ? 4 : 8;
  out[0] = type_bits | (uint8_t)(extra == 1 ? 24 : extra == 2 ? 25 : extra == 4 ? 26 : 27);
  for (size_t i = 0; i < extra; i++)
    out[1 + i] = (uint8_t)(argument >> (8 * (extra - 1 - i)));
  return 1 + extra;
}
