/* The update side's parsers of bytes it did not write itself in this run:
 * the device's boot record and download progress record (a folder can be
 * damaged), and the report the daemon reads from the network. */
#include <stddef.h>
#include <stdint.h>

#include "fwreport.h"
#include "slots.h"
#include "update_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_slots_t s;
  stw__progress_t p;
  stw_fwreport_t r;
  /* what the agent relies on in a record that parses */
  if (stw_slots_parse(data, size, &s) == STW_OK && (size > STW_SLOTS_BOOT_MAX || (s.active != 'a' && s.active != 'b')))
    __builtin_trap();
  if (stw__progress_parse(data, size, &p) == STW_OK && (size > STW__PROGRESS_MAX || p.have > p.size))
    __builtin_trap();
  if (stw_fwreport_decode(data, size, &r) == STW_OK) {
    stw_buf_t b;
    stw_buf_init(&b, STW_FWREPORT_MAX);
    if (stw_fwreport_encode(&r, &b) != STW_OK)
      __builtin_trap();
    stw_buf_free(&b, false);
  }
  return 0;
}
