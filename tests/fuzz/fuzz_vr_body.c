/* Fuzz target: the body of POST /vr (server/vuln/vuln.c), sent by anyone
 * with a DTLS key. What parses must hold a summary and a detail within the
 * store's sizes, with no control character a terminal would act on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vuln/vuln.h"

static bool clean(const char *s, bool multi_line)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c < 0x20 && !(multi_line && (c == '\n' || c == '\t'))) || c == 0x7f)
      return false;
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_vuln_t v;
  if (stw_vr_body_parse(data, size, &v) != STW_OK)
    return 0;
  if (size > STW_VR_BODY_MAX || v.summary[0] == '\0' || v.detail == NULL || v.detail[0] == '\0' ||
      strnlen(v.detail, STW_VULN_TEXT_MAX + 1) > STW_VULN_TEXT_MAX || !clean(v.contact, false) ||
      !clean(v.summary, false) || !clean(v.detail, true))
    abort();
  stw_vuln_clear(&v);
  return 0;
}
