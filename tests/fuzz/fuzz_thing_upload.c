/* Fuzz target: the thing's assembly of a request body from Inner Block1
 * blocks (device/thing_upload.c, RFC 7959 2.5). The input is a sequence of
 * blocks, each an 8-byte header and its payload:
 *
 *   slot, method, num, flags (bit 3 more, bits 0-2 szx, bit 4 Size1,
 *   bit 5 Request-Tag, bit 6 a second path), tag, payload length,
 *   Size1 / 16, seconds since the block before
 *
 * A small buffer makes the limit easy to reach. Whatever the order, the
 * assembled bytes must be exactly the accepted blocks' bytes, never more
 * than the buffer; a refusal (4.08, 5.03) must leave the body as it was. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thing_internal.h"

#define CAP 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static uint8_t buf[CAP], model[CAP];
  size_t model_len = 0;
  osc_upload_t u;
  memset(&u, 0, sizeof(u));
  memset(buf, 0, sizeof(buf));
  uint64_t now = 1000000;
  size_t at = 0;
  while (size - at >= 8) {
    const uint8_t *h = data + at;
    at += 8;
    size_t len = h[5] < size - at ? h[5] : size - at;
    uint8_t tag = h[4];
    osc_block1_t b = { .slot = h[0] & 1, .method = 1u << (h[1] % 4), .path = (h[3] & 0x40) ? "/b" : "/a",
                       .has_tag = (h[3] & 0x20) != 0, .tag = &tag, .tag_len = (h[3] & 0x20) ? 1 : 0, .num = h[2],
                       .more = (h[3] & 8) != 0, .szx = h[3] & 7 ? (h[3] & 7) - 1 : 0, .has_size1 = (h[3] & 0x10) != 0,
                       .size1 = (uint32_t)h[6] * 16, .payload = data + at, .len = len };
    at += len;
    now += (uint64_t)h[7] * 1000000u;
    osc_upload_t before;
    memcpy(&before, &u, sizeof(u));
    upload_step_t step = stw__upload_block(&u, buf, CAP, &b, now);
    switch (step) {
    case UPLOAD_CONTINUE:
    case UPLOAD_COMPLETE:
      if (b.num == 0)
        model_len = 0;
      if (model_len + len > CAP)
        abort();  /* accepted past the buffer */
      memcpy(model + model_len, b.payload, len);
      model_len += len;
      if (!u.active || u.len != model_len || memcmp(buf, model, model_len) != 0)
        abort();
      if (step == UPLOAD_COMPLETE) {
        stw__upload_drop(&u, buf, CAP);
        model_len = 0;
      }
      break;
    case UPLOAD_INCOMPLETE:
    case UPLOAD_BUSY:
      if (memcmp(&before, &u, sizeof(u)) != 0)
        abort();  /* a refusal changes nothing */
      break;
    case UPLOAD_TOO_LARGE:
      if (u.active || u.len != 0)
        abort();
      model_len = 0;
      break;
    default:
      abort();
    }
  }
  return 0;
}
