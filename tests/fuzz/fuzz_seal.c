/* Fuzz target: stw_unseal (lib/seal.c), which opens the secrets sealed into
 * tokens (OSCORE master secrets) and vouchers (PSKs): any bytes, refused or
 * opened within bounds. Then a round trip: the input split into info and
 * secret, sealed to our key, must open to exactly that secret. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

static stw_key_t *key;
static uint8_t spki[STW_SPKI_MAX];
static size_t spki_len;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (key == NULL) {
    spki_len = sizeof(spki);
    if (stw_key_generate(&key) != STW_OK || stw_key_spki(key, spki, &spki_len) != STW_OK)
      abort();
  }
  static const uint8_t info[] = "fuzz";
  uint8_t out[128];
  size_t out_len = sizeof(out);
  if (stw_unseal(key, info, sizeof(info) - 1, data, size, out, &out_len) == STW_OK && out_len > 64)
    abort();

  /* The first byte says how much of the rest is info (at most 32 bytes). */
  if (size < 2)
    return 0;
  size_t info_len = data[0] % 33, rest = size - 1;
  if (info_len > rest)
    info_len = rest;
  size_t secret_len = rest - info_len;
  if (secret_len == 0 || secret_len > 64)
    return 0;
  stw_buf_t sealed;
  stw_buf_init(&sealed, 1024);
  if (stw_seal(spki, spki_len, data + 1, info_len, data + 1 + info_len, secret_len, &sealed) != STW_OK)
    abort();
  out_len = sizeof(out);
  if (stw_unseal(key, data + 1, info_len, sealed.data, sealed.len, out, &out_len) != STW_OK || out_len != secret_len ||
      memcmp(out, data + 1 + info_len, secret_len) != 0)
    abort();
  stw_buf_free(&sealed, false);
  return 0;
}
