/* Fuzz target: the operational-PSK answer decoder (lib/psk_answer.c). What
 * decodes must encode again and decode to the same values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psk_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1];
  char identity2[STW_PSK_IDENTITY_MAX + 1], name2[STW_PSK_NAME_MAX + 1];
  uint8_t key[STW_PSK_KEY_LEN], key2[STW_PSK_KEY_LEN], again[STW_PSK_ANSWER_MAX];
  size_t len = 0;
  if (stw_psk_answer_decode(data, size, identity, key, name) != STW_OK)
    return 0;
  if (stw_psk_answer_encode(identity, key, name, again, sizeof(again), &len) != STW_OK ||
      stw_psk_answer_decode(again, len, identity2, key2, name2) != STW_OK ||
      strcmp(identity, identity2) != 0 || strcmp(name, name2) != 0 || memcmp(key, key2, sizeof(key)) != 0)
    abort();
  return 0;
}
