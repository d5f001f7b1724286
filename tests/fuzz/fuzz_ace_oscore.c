/* Fuzz target: the ACE OSCORE profile's parsers, both sides: the client's
 * (device/oscore_client.c) CoAP datagram a device answers with and the
 * {42: N2, 44: ID2} answer of its /authz-info, and the device's own
 * /authz-info request {1: token, 40: N1, 43: ID1} (device/thing.c), read
 * from the whole input and from the datagram's payload. Whatever parses
 * must point inside the input and stay within the documented limits. */
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

static void post(const uint8_t *data, size_t size)
{
  const uint8_t *token = NULL, *n1 = NULL, *id1 = NULL;
  size_t token_len = 0, n1_len = 0, id1_len = 0;
  if (stw__ace_oscore_post_parse(data, size, &token, &token_len, &n1, &n1_len, &id1, &id1_len) != STW_OK) {
    if (token != NULL || n1 != NULL || id1 != NULL || token_len != 0 || n1_len != 0 || id1_len != 0)
      abort();
    return;
  }
  if (token == NULL || n1 == NULL || id1 == NULL || token_len == 0 || n1_len == 0 || n1_len > 32 ||
      id1_len > STW_OSCORE_ID_MAX || size > STW_ACE_OSCORE_POST_MAX)
    abort();
  check_inside(data, size, token, token_len);
  check_inside(data, size, n1, n1_len);
  check_inside(data, size, id1, id1_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  answer(data, size);
  post(data, size);
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
  if (m.payload != NULL) {
    answer(m.payload, m.payload_len);
    post(m.payload, m.payload_len);
  }
  return 0;
}
