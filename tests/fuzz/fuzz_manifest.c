/* Fuzz target: update manifests as a device receives them (lib/manifest.c):
 * the envelope, the vendor layer and the bare manifest map. Whatever parses
 * must be a manifest we could have written: it encodes again to the very
 * bytes it came from. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

/* Any P-256 key will do: the signatures fail, the paths before them run. */
static const uint8_t key_x[32] = {
  0xba, 0xc5, 0xb1, 0x1c, 0xad, 0x8f, 0x99, 0xf9, 0xc7, 0x2b, 0x05, 0xcf, 0x4b, 0x9e, 0x26, 0xd2,
  0x44, 0xdc, 0x18, 0x9f, 0x74, 0x52, 0x28, 0x25, 0x5a, 0x21, 0x9a, 0x86, 0xd6, 0xa0, 0x9e, 0xff};
static const uint8_t key_y[32] = {
  0x20, 0x13, 0x8b, 0xf8, 0x2d, 0xc1, 0xb6, 0xd5, 0x62, 0xbe, 0x0f, 0xa5, 0x4a, 0xb7, 0x80, 0x4a,
  0x3a, 0x64, 0xb6, 0xd7, 0x2c, 0xcf, 0xed, 0x6b, 0x6f, 0xb6, 0xed, 0x28, 0xbb, 0xfc, 0x11, 0x7e};

static void check_round_trip(const uint8_t *data, size_t size, const stw_manifest_t *m)
{
  stw_buf_t again;
  stw_buf_init(&again, STW_MANIFEST_MAX);
  if (stw_manifest_encode(m, &again) != STW_OK || again.len != size || memcmp(again.data, data, size) != 0)
    abort();
  stw_buf_free(&again, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  stw_manifest_t m;
  (void)!stw_manifest_parse_envelope(data, size, &m);
  if (stw_manifest_decode(data, size, &m) == STW_OK)
    check_round_trip(data, size, &m);
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  if (stw_spki_from_xy(key_x, key_y, spki, &spki_len) == STW_OK) {
    (void)!stw_manifest_vendor_verify(data, size, spki, spki_len, &m);
    (void)!stw_manifest_verify(data, size, spki, spki_len, spki, spki_len, &m);
  }
  return 0;
}
