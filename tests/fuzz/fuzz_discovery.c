/* Fuzz target: what a device reads from discovery and what the directory
 * reads from a registering device, beyond link format and queries: the
 * resolution answer of a handle (device/discovery.c, verified against a
 * domain CA made here) and visibility rules (server/rd/visibility.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "rd/visibility.h"
#include "steward/discovery.h"

#define OWNER "0123456789abcdef0123456789abcdef"

static uint8_t ca_der[STW_CERT_MAX];
static size_t ca_len;

static void make_ca(void)
{
  stw_key_t *key = NULL;
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  stw_cert_template_t t = { .common_name = "home.example CA", .organization = "home.example",
                            .not_before = 0, .not_after = 4102444800, .is_ca = true };
  if (stw_key_generate(&key) != STW_OK || stw_cert_self_signed(key, &t, &der) != STW_OK || der.len > sizeof(ca_der))
    abort();
  memcpy(ca_der, der.data, der.len);
  ca_len = der.len;
  stw_buf_free(&der, false);
  stw_key_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (ca_len == 0)
    make_ca();
  stw_resolution_t *r = NULL;
  if (stw_resolution_verify(ca_der, ca_len, "home.example/" OWNER, data, size, 1700000000, &r) == STW_OK &&
      r == NULL)
    abort();
  stw_resolution_free(r);

  char rule[512];
  size_t n = size < sizeof(rule) - 1 ? size : sizeof(rule) - 1;
  memcpy(rule, data, n);
  rule[n] = '\0';
  stw_asker_t asker = { .authenticated = true, .device_id = "fedcba9876543210fedcba9876543210", .n_attrs = 2,
                        .attrs = { { .name = "role", .value = "maintainer" }, { .name = "model", .value = "thermo-1" } } };
  (void)stw_visibility_valid(rule);
  (void)stw_visible(rule, &asker, OWNER);
  /* The owner always sees its own entries; nobody unauthenticated sees
   * anything but public ones. */
  if (!stw_visible(rule, &(stw_asker_t){ .authenticated = true, .device_id = OWNER }, OWNER) ||
      (stw_visible(rule, &(stw_asker_t){ .authenticated = false }, OWNER) && strcmp(rule, "public") != 0))
    abort();
  return 0;
}
