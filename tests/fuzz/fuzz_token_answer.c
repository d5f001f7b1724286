/* Fuzz target: the device's reading of the domain's /token answer
 * (device/token.c), for a DTLS-profile and an OSCORE-profile request, and
 * of an error answer's CBOR map (device/net.c, what any refusal's report
 * quotes). What parses must stay within the documented limits; nothing may
 * leak; a quoted diagnostic is printable text that fits. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "token_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_token_t tok;
  stw_oscore_material_t mat;
  for (int oscore = 0; oscore < 2; oscore++) {
    memset(&tok, 0, sizeof(tok));
    memset(&mat, 0, sizeof(mat));
    if (stw__token_answer_parse(data, size, &tok, oscore ? &mat : NULL) == STW_OK) {
      if (tok.token == NULL || tok.token_len == 0 || tok.token_len > STW_PEP_TOKEN_MAX || tok.rs_spki_len == 0 ||
          tok.rs_spki_len > sizeof(tok.rs_spki) || tok.granted.n > STW_AIF_ENTRIES_MAX ||
          (oscore && (mat.ms_len == 0 || mat.ms_len > sizeof(mat.ms) || mat.salt_len > sizeof(mat.salt) ||
                      mat.id_len > sizeof(mat.id) || mat.context_id_len > sizeof(mat.context_id))))
        abort();
    }
    stw_token_clear(&tok);
    stw_oscore_material_clear(&mat);
  }
  char diag[128];
  size_t cap = size > 0 ? 1 + data[0] % sizeof(diag) : sizeof(diag);  /* small caps cut texts too */
  if (stw__cbor_error_text(data, size, diag, cap)) {
    size_t n = strnlen(diag, cap);
    if (n == 0 || n >= cap)
      abort();
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)diag[i] < 0x20 || (unsigned char)diag[i] >= 0x7f)
        abort();
  }
  return 0;
}
