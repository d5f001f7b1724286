/* The thing's side of Inner Block1 (RFC 7959 2.5, RFC 8613 4.1.3.4.1):
 * a request body that comes in blocks, each block a protected request of
 * its own, assembled in order into one bounded buffer. Only blocks that
 * verified reach this file (device/thing_oscore.c calls it after the
 * OSCORE check and the token's scope), so nothing unverified is kept.
 * Plain data in, a verdict out: no sockets, no clock of its own. */
#include <stdio.h>
#include <string.h>

#include "thing_internal.h"
#include "util.h"

void stw__upload_drop(osc_upload_t *u, uint8_t *buf, size_t cap)
{
  if (buf != NULL)
    stw_wipe(buf, u->len < cap ? u->len : cap);  /* a configuration may hold secrets */
  memset(u, 0, sizeof(*u));
}

/* Whether b continues the body u holds: same client, method, path and
 * Request-Tag (RFC 9175 3.3: blocks of two bodies must never mix), same
 * block size, and the very next number. */
static bool continues(const osc_upload_t *u, const osc_block1_t *b)
{
  return u->active && u->slot == b->slot && u->method == b->method && strcmp(u->path, b->path) == 0 &&
         u->has_tag == b->has_tag && u->tag_len == b->tag_len &&
         (b->tag_len == 0 || memcmp(u->tag, b->tag, b->tag_len) == 0) && u->szx == b->szx &&
         u->next_num == b->num;
}

upload_step_t stw__upload_block(osc_upload_t *u, uint8_t *buf, size_t cap, const osc_block1_t *b, uint64_t now_us)
{
  size_t size = (size_t)16 << b->szx;
  /* RFC 7959 2.3: every block but the last has exactly the size SZX says. */
  bool shaped = b->len <= size && (!b->more || b->len == size) && b->tag_len <= THING_REQUEST_TAG_MAX &&
                strlen(b->path) < sizeof(u->path);
  if (b->num == 0) {
    if (u->active && u->slot != b->slot && now_us - u->touched_us < THING_UPLOAD_IDLE_US)
      return UPLOAD_BUSY;
    if (!shaped)
      return UPLOAD_INCOMPLETE;
    if ((b->has_size1 && b->size1 > cap) || b->len > cap || (b->more && b->len >= cap)) {
      stw__upload_drop(u, buf, cap);
      return UPLOAD_TOO_LARGE;
    }
    stw__upload_drop(u, buf, cap);  /* a new body of this client replaces its old one */
    u->active = true;
    u->slot = b->slot;
    u->method = b->method;
    snprintf(u->path, sizeof(u->path), "%s", b->path);
    u->has_tag = b->has_tag;
    if (b->tag_len > 0)
      memcpy(u->tag, b->tag, b->tag_len);
    u->tag_len = b->tag_len;
    u->szx = b->szx;
  } else {
    if (!shaped || !continues(u, b))
      return UPLOAD_INCOMPLETE;
    /* more set and the buffer full: at least one byte more is coming */
    if (b->len > cap - u->len || (b->more && u->len + b->len >= cap)) {
      stw__upload_drop(u, buf, cap);
      return UPLOAD_TOO_LARGE;
    }
  }
  if (b->len > 0)
    memcpy(buf + u->len, b->payload, b->len);
  u->len += b->len;
  u->next_num = b->num + 1;
  u->touched_us = now_us;
  return b->more ? UPLOAD_CONTINUE : UPLOAD_COMPLETE;
}
