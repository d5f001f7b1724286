/* Fuzz target: attribute disclosures (lib/attrtree.c). The domain key is
 * fixed and the seeds in corpus/attrtree/ are real disclosures signed with
 * it, so mutations get past the signature into the leaves and the proof. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attrtree.h"

/* A test-only P-256 key: it signs the seed corpus and nothing else. */
static const char fuzz_domain_key_pem[] =
  "-----BEGIN EC PRIVATE KEY-----\n"
  "MHcCAQEEICGzhO6lBaK3uBd+kjRznk8rgzGQt/kWcXSr9NXUnUMaoAoGCCqGSM49\n"
  "AwEHoUQDQgAEssPp0kyzn554L5JHCxU/fgAFSWcNPRB08Qawf4BHlWA3DuhWzDFU\n"
  "E0fI1sTtccUwnikJHgVtyYq0xlQIIn8aTg==\n"
  "-----END EC PRIVATE KEY-----\n";

/* Seeds are signed valid from FUZZ_T0 for a year. */
#define FUZZ_T0 1700000000
#define FUZZ_NOW (FUZZ_T0 + 10)

static uint8_t domain_spki[STW_SPKI_MAX];
static size_t domain_spki_len;

static bool load_domain_key(void)
{
  if (domain_spki_len > 0)
    return true;
  stw_key_t *key = NULL;
  size_t len = sizeof(domain_spki);
  bool ok = stw_key_import_pem((const uint8_t *)fuzz_domain_key_pem, sizeof(fuzz_domain_key_pem) - 1, &key) ==
                STW_OK &&
            stw_key_spki(key, domain_spki, &len) == STW_OK;
  stw_key_free(key);
  if (ok)
    domain_spki_len = len;
  return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static stw_attr_disclosed_t out;  /* 25 KiB: not on the stack */
  if (!load_domain_key())
    abort();
  stw_status_t st =
    stw_attr_verify_disclosure(data, size, domain_spki, domain_spki_len, NULL, FUZZ_NOW, &out);
  if (st == STW_OK) {
    /* What verification promises, checked on everything it accepts. */
    if (out.count == 0 || out.count > out.leaf_count || out.leaf_count > STW_ATTR_MAX_LEAVES)
      abort();
    for (size_t i = 0; i < out.count; i++) {
      const stw_attr_t *a = &out.leaves[i];
      if (a->name[0] == '\0' || a->authority[0] == '\0' ||
          stw_attr_disclosed_value(&out, a->name, a->authority) != a->value)
        abort();
    }
  } else if (out.count != 0 || out.leaf_count != 0) {
    abort();  /* a refusal leaves nothing behind */
  }
  return 0;
}
