/* Fuzz target: DER SubjectPublicKeyInfo (lib/pki.c), as a peer presents it
 * (a DTLS raw public key, a certificate's key the PDP binds a token to) and
 * as a sealed blob carries its ephemeral key. What imports is a P-256 point
 * that survives a round trip through its coordinates, and no signature of
 * zeros verifies under it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t id[STW_DEVICE_ID_LEN];
  (void)!stw_device_id_from_spki(data, size, id);

  static const uint8_t zero_sig[STW_ES256_SIG_LEN];
  if (stw_spki_verify(data, size, data, size, zero_sig) == STW_OK)
    abort();

  uint8_t x[32], y[32], x2[32], y2[32], again[STW_SPKI_MAX];
  size_t again_len = sizeof(again);
  if (stw_spki_to_xy(data, size, x, y) != STW_OK)
    return 0;
  if (size > STW_SPKI_MAX || stw_spki_from_xy(x, y, again, &again_len) != STW_OK ||
      stw_spki_to_xy(again, again_len, x2, y2) != STW_OK || memcmp(x, x2, 32) != 0 || memcmp(y, y2, 32) != 0)
    abort();
  return 0;
}
