/* Fuzz target: the thing's saved OSCORE context (device/thing_oscore.c,
 * RFC 8613 B.1.1) {1: token, 2: N1, 3: N2, 4: ID1, 5: ID2, 6: next_ssn},
 * read back from the device folder at every start, and the CoAP unsigned
 * option values both sides decode (Observe, Block2, Size2). Whatever parses
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw__osc_state_t s;
  if (stw__osc_state_parse(data, size, &s) == STW_OK) {
    if (size > STW_OSC_STATE_MAX || s.token_len == 0 || s.token_len > STW_PEP_TOKEN_MAX || s.n1_len == 0 ||
        s.n1_len > 32 || s.n2_len != 8 || s.id1_len > STW_OSCORE_ID_MAX || s.id2_len > STW_OSCORE_ID_MAX ||
        s.next_ssn > STW_OSCORE_SSN_MAX + 1)
      abort();
    check_inside(data, size, s.token, s.token_len);
    check_inside(data, size, s.n1, s.n1_len);
    check_inside(data, size, s.n2, s.n2_len);
    check_inside(data, size, s.id1, s.id1_len);
    check_inside(data, size, s.id2, s.id2_len);
  } else if (s.token != NULL || s.token_len != 0 || s.next_ssn != 0) {
    abort();  /* a refusal leaves nothing behind */
  }
  uint32_t v = 0;
  size_t max = size > 0 ? data[0] % 6 : 0;
  if (stw__coap_uint_decode(size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0, max, &v) == STW_OK) {
    uint8_t enc[4];
    size_t n = stw__coap_uint_encode(v, enc);
    uint32_t back = 0;
    if (n > 4 || stw__coap_uint_decode(enc, n, 4, &back) != STW_OK || back != v)
      abort();
  }
  return 0;
}
