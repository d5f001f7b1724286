/* Fuzz target: the ACE OSCORE client's parsers (device/oscore_client.c):
 * the CoAP datagram a device answers with, and the {42: N2, 44: ID2}
 * answer of its /authz-info, read from the whole input and from the
 * datagram's payload. Whatever parses must point inside the input and stay
 * within the documented limits. (The device's own /authz-info request
 * parser is inside device/thing.c's handler and not callable on its own.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "oscore.h"
#include "oscore_client_internal.h"

static void check_inside(const uint8_t *data, size_t size, const uint8_t *p, size_t len)
{
  if (len > 0 && (p == NULL || p < data || p + len > data + size))
    abort();
}

static void answer(const uint8_t *data, size_t size)
{
  const uint8_t *n2 = NULL, *id2 = NULL;
  size_t n2_len = 0, id2_len = 0;
  if (stw__ace_oscore_answer_parse(data, size, &n2, &n2_len, &id2, &id2_len) != STW_OK) {
    if (n2 != NULL || id2 != NULL || n2_len != 0 || id2_len != 0)
      abort();
    return;
  }
  if (n2 == NULL || id2 == NULL || n2_len == 0 || n2_len > 32 || id2_len > STW_OSCORE_ID_MAX)
    abort();
  check_inside(data, size, n2, n2_len);
  check_inside(data, size, id2, id2_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  answer(data, size);
  stw__coap_msg_t m;
  if (stw__coap_udp_parse(data, size, &m) != STW_OK)
    return 0;
  check_inside(data, size, m.token, m.token_len);
  if (m.token_len > 8 || (m.payload != NULL && m.payload_len == 0))
    abort();
  if (m.has_oscore) {
    check_inside(data, size, m.oscore, m.oscore_len);
    stw_oscore_option_t opt;
    if (stw_oscore_option_parse(m.oscore, m.oscore_len, &opt) != STW_OK)
      return 0;
  }
  check_inside(data, size, m.payload, m.payload_len);
  if (m.payload != NULL)
    answer(m.payload, m.payload_len);
  return 0;
}
