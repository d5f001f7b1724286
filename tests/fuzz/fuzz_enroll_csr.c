/* Fuzz target: the CSR body of /sen as stw_enroll_decide() sees it, for a
 * device that is trusted, allowed and has its voucher, so the input reaches
 * the CSR checks and, when it is a valid request, issuance and apply (rolled
 * back, so every input meets the same store). The device's IDevID key is
 * fixed (a test key, below) so that the seed corpus can hold CSRs naming it. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain.h"
#include "enroll/enroll.h"
#include "factory.h"
#include "store/store.h"

/* Test key only; its device id is 2596943fa2535d6abde76119a01d8b87. */
static const char idevid_key_pem[] =
  "-----BEGIN EC PRIVATE KEY-----\n"
  "MHgCAQEEIQDyikYyd/wGMXLmWuQ8iEYUdPnSfQa9QFqYwHbCZtliYqAKBggqhkjO\n"
  "PQMBB6FEA0IABO5OMUEYqJtFMRCkjjlWpJ0Z0W7B/HWmysw6PaiW8zGea+aNjn3o\n"
  "LOQV+7NInYnEpLxrl58xdZXMWRZVwL6wHZU=\n"
  "-----END EC PRIVATE KEY-----\n";

static struct {
  char dir[512];
  stw_domain_t *domain;
  stw_store_t *store;
  stw_factory_t *factory;
  stw_buf_t idevid_der;
  char id[STW_DEVICE_ID_HEX_LEN];
  stw_enroll_ctx_t ctx;
  stw_peer_t peer;
} world;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

static void world_free(void)
{
  stw_store_close(world.store);
  stw_domain_close(world.domain);
  stw_factory_free(world.factory);
  stw_buf_free(&world.idevid_der, false);
  if (world.dir[0] != '\0')
    nftw(world.dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Setting up is not under test: any failure here stops the run. */
static void need(stw_status_t st, const char *what)
{
  if (st != STW_OK) {
    fprintf(stderr, "fuzz_enroll_csr setup: %s: %s\n", what, stw_status_str(st));
    abort();
  }
}

static void world_init(void)
{
  const char *base = getenv("TMPDIR");
  snprintf(world.dir, sizeof(world.dir), "%s/stw-fuzz-enroll-XXXXXX", base ? base : "/tmp");
  if (mkdtemp(world.dir) == NULL)
    abort();
  atexit(world_free);
  need(stw_domain_open(world.dir, "Fuzz Home", &world.domain), "domain");
  need(stw_store_open(world.domain->store_url, &world.store), "store");
  need(stw_factory_new("Fuzz Mfg", &world.factory), "factory");
  need(stw_store_trust_add(world.store, "Fuzz Mfg", world.factory->ca_der.data, world.factory->ca_der.len), "trust");

  stw_key_t *key = NULL;
  uint8_t spki[STW_SPKI_MAX], id[STW_DEVICE_ID_LEN];
  size_t spki_len = sizeof(spki);
  need(stw_key_import_pem((const uint8_t *)idevid_key_pem, sizeof(idevid_key_pem) - 1, &key), "key");
  need(stw_key_spki(key, spki, &spki_len), "spki");
  need(stw_device_id_from_spki(spki, spki_len, id), "id");
  stw_key_free(key);
  stw_device_id_hex(id, world.id);

  char san[2 * STW_NAME_MAX];
  snprintf(san, sizeof(san), "urn:steward:dev:%s", world.id);
  int64_t now = stw_now();
  stw_cert_template_t t = {
    .common_name = world.id, .organization = "Fuzz Mfg", .unit = "lamp", .serial_number = world.id,
    .san_uri = san, .not_before = now - 60, .not_after = now + 86400, .client_auth = true,
  };
  stw_buf_init(&world.idevid_der, STW_CERT_MAX);
  need(stw_cert_issue(world.factory->ca_key, world.factory->ca_der.data, world.factory->ca_der.len, spki, spki_len,
                      &t, &world.idevid_der, NULL), "idevid");

  stw_rule_t rule;
  memset(&rule, 0, sizeof(rule));
  rule.kind = STW_RULE_DEVICE;
  snprintf(rule.device_id, sizeof(rule.device_id), "%s", world.id);
  need(stw_store_rule_add(world.store, &rule), "rule");

  stw_imprint_t im;
  memset(&im, 0, sizeof(im));
  snprintf(im.id, sizeof(im.id), "%s", world.id);
  snprintf(im.model, sizeof(im.model), "lamp");
  stw_buf_t voucher;
  stw_buf_init(&voucher, STW_VOUCHER_MAX);
  char got[STW_ID_HEX], diag[160];
  need(stw_factory_voucher(world.factory, &im, world.domain->ca.spki, world.domain->ca.spki_len, 0, &voucher),
       "voucher");
  need(stw_enroll_import_voucher(world.store, world.domain, voucher.data, voucher.len, got, diag, sizeof(diag)),
       "import");
  stw_buf_free(&voucher, false);

  world.ctx.store = world.store;
  world.ctx.domain = world.domain;
  world.ctx.ldevid_lifetime = 86400;
  world.peer = (stw_peer_t){ .kind = STW_PEER_CERT, .der = world.idevid_der.data, .der_len = world.idevid_der.len };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (world.store == NULL)
    world_init();
  stw_enroll_outcome_t o;
  stw_enroll_outcome_init(&o, STW_ENROLL_SEN);
  stw_status_t st = stw_enroll_decide(&world.ctx, &world.peer, data, size, &o);
  if (st != o.status || (st != STW_OK && o.refusal == NULL))
    abort();
  if (st == STW_OK) {
    /* Granted: the answer must be a certificate for this device. */
    stw_cert_info_t cert;
    if (o.retry || stw_cert_parse(o.payload, o.payload_len, &cert) != STW_OK ||
        strcmp(cert.serial_number, world.id) != 0)
      abort();
  }
  if (stw_store_begin(world.store) != STW_OK)
    abort();
  if (stw_enroll_apply(world.store, &o) != STW_OK)
    abort();
  stw_store_rollback(world.store);
  stw_enroll_outcome_clear(&o);
  return 0;
}
