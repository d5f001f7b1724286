/* Fuzz target: the OSCORE option value parser (RFC 8613 6.1) and the CoAP
 * option and plaintext walkers of lib/oscore.c. The same input goes to all
 * three. The option parser is strict, so whatever it accepts must encode
 * back to the very same bytes; every field it returns and every option
 * value the walkers return must lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscore.h"

static void inside(const uint8_t *data, size_t size, const uint8_t *p, size_t len)
{
  if (len == 0)
    return;
  if (p < data || p > data + size || len > (size_t)(data + size - p))
    abort();
}

static void check_option(const uint8_t *data, size_t size)
{
  stw_oscore_option_t opt;
  if (stw_oscore_option_parse(data, size, &opt) != STW_OK)
    return;
  inside(data, size, opt.piv, opt.piv_len);
  inside(data, size, opt.kid_context, opt.kid_context_len);
  inside(data, size, opt.kid, opt.kid_len);
  if (opt.piv_len > STW_OSCORE_PIV_MAX || (opt.piv_len > 1 && opt.piv[0] == 0))
    abort();
  uint8_t out[STW_OSCORE_OPTION_VALUE_LIMIT];
  size_t out_len;
  if (stw_oscore_option_encode(&opt, out, sizeof(out), &out_len) != STW_OK)
    abort();
  if (out_len != size || (size > 0 && memcmp(out, data, size) != 0))
    abort();  /* one value, one encoding */
}

static void check_walkers(const uint8_t *data, size_t size)
{
  stw_oscore_opt_iter_t it;
  stw_oscore_opt_iter_init(&it, data, size);
  uint16_t number, last = 0;
  const uint8_t *value;
  size_t len;
  size_t steps = 0;
  while (stw_oscore_opt_next(&it, &number, &value, &len) == STW_OK) {
    inside(data, size, value, len);
    if (number < last || ++steps > size)
      abort();  /* numbers never decrease; every option takes a byte */
    last = number;
  }
  stw_oscore_msg_t msg;
  if (stw_oscore_plaintext_parse(data, size, &msg) == STW_OK) {
    inside(data, size, msg.options, msg.options_len);
    inside(data, size, msg.payload, msg.payload_len);
    if (size == 0 || msg.code != data[0] || 1 + msg.options_len + (msg.payload_len ? 1 + msg.payload_len : 0) != size)
      abort();  /* the parts account for every byte */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  check_option(data, size);
  check_walkers(data, size);
  return 0;
}
