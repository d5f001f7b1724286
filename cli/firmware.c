/* Firmware from both sides: the manufacturer signs a manifest for an image
 * (`steward mfg firmware-sign`), the owner publishes it for the fleet and
 * rolls it out in campaigns (`steward admin firmware|campaign`). The
 * decisions are server/update/update.c; this file reads options and prints. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "domain/domain.h"
#include "factory.h"
#include "manifest.h"
#include "store/store.h"
#include "update/update.h"

/* ---- steward mfg firmware-sign ----------------------------------------------------------- */

int mfg_firmware_sign(int argc, char **argv)
{
  const char *dir = cli_opt(argc, argv, "--dir");
  const char *image_path = cli_opt(argc, argv, "--image");
  const char *class_id = cli_opt(argc, argv, "--class");
  const char *component = cli_opt(argc, argv, "--component");
  const char *out = cli_opt(argc, argv, "--out");
  uint64_t sequence = 0;
  if (dir == NULL || image_path == NULL || class_id == NULL ||
      !cli_parse_u64(cli_opt(argc, argv, "--sequence"), &sequence) || sequence == 0) {
    fprintf(stderr, "usage: steward mfg firmware-sign --dir DIR --image FILE --class MODEL --sequence N "
                    "[--component C] [--out MANIFEST]\n");
    return 2;
  }
  char default_out[1100];
  if (out == NULL) {
    snprintf(default_out, sizeof(default_out), "%s.manifest", image_path);
    out = default_out;
  }
  stw_factory_t *f = NULL;
  uint8_t *image = NULL;
  size_t len = 0;
  stw_manifest_t m;
  memset(&m, 0, sizeof(m));
  stw_buf_t signed_manifest;
  stw_buf_init(&signed_manifest, STW_MANIFEST_MAX);
  const char *what = "manufacturer CA";
  stw_status_t st = stw_factory_open(dir, NULL, false, &f);
  if (st == STW_OK) {
    what = "image";
    st = stw_file_read(image_path, STW_FW_IMAGE_MAX, &image, &len);
  }
  if (st == STW_OK) {
    what = "manifest";
    m.sequence = sequence;
    snprintf(m.vendor, sizeof(m.vendor), "%s", f->name);
    snprintf(m.class_id, sizeof(m.class_id), "%s", class_id);
    snprintf(m.component, sizeof(m.component), "%s", component ? component : "firmware");
    m.size = len;
    st = stw_sha256(image, len, m.digest);
  }
  if (st == STW_OK) {
    char hex[65];
    stw_hex_encode(m.digest, 32, hex);
    snprintf(m.uri, sizeof(m.uri), "/fw/img/%s", hex);
    st = stw_manifest_vendor_sign(&m, f->ca_key, &signed_manifest);
  }
  if (st == STW_OK) {
    what = "writing";
    st = stw_file_write_atomic(out, signed_manifest.data, signed_manifest.len, 0644);
  }
  if (st == STW_OK)
    printf("manifest for %s/%s sequence %" PRIu64 " (%zu bytes) signed by %s: %s\n", m.vendor, m.class_id,
           m.sequence, len, f->name, out);
  free(image);
  stw_buf_free(&signed_manifest, false);
  stw_factory_free(f);
  if (st != STW_OK) {
    fprintf(stderr, "steward: mfg firmware-sign: %s: %s\n", what, stw_status_str(st));
    return 1;
  }
  return 0;
}

/* ---- steward admin firmware -------------------------------------------------------------- */

static stw_status_t print_firmware(const stw_firmware_t *f, void *ctx)
{
  (void)ctx;
  char hex[65];
  stw_hex_encode(f->digest, 32, hex);
  printf("%-4" PRId64 " %-20s %-16s seq %-6" PRIu64 " %10" PRIu64 " bytes  sha256 %.16s...\n", f->id, f->vendor,
         f->class_id, f->sequence, f->size, hex);
  return STW_OK;
}

int admin_firmware(struct stw_store *store, const stw_domain_t *domain, int argc, char **argv,
                   const char *const *with_value)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  if (sub != NULL && strcmp(sub, "list") == 0) {
    stw_status_t st = stw_store_firmware_list(store, print_firmware, NULL);
    return st == STW_OK ? 0 : cli_fail("firmware list", st);
  }
  const char *manifest_path = cli_opt(argc, argv, "--manifest");
  const char *image_path = cli_opt(argc, argv, "--image");
  if (sub == NULL || strcmp(sub, "publish") != 0 || manifest_path == NULL || image_path == NULL) {
    fprintf(stderr, "usage: steward admin --data DIR firmware publish --manifest M --image F | firmware list\n");
    return 2;
  }
  uint8_t *manifest = NULL, *image = NULL;
  size_t manifest_len = 0, image_len = 0;
  char why[256] = "";
  stw_firmware_t fw;
  memset(&fw, 0, sizeof(fw));
  stw_status_t st = stw_file_read(manifest_path, STW_MANIFEST_MAX, &manifest, &manifest_len);
  if (st != STW_OK)
    snprintf(why, sizeof(why), "cannot read %s", manifest_path);
  if (st == STW_OK && (st = stw_file_read(image_path, STW_FW_IMAGE_MAX, &image, &image_len)) != STW_OK)
    snprintf(why, sizeof(why), "cannot read %s", image_path);
  if (st == STW_OK)
    st = stw_update_publish(store, domain, manifest, manifest_len, image, image_len, "admin", &fw, why, sizeof(why));
  if (st == STW_OK)
    printf("published firmware %" PRId64 ": %s/%s sequence %" PRIu64 ", %" PRIu64 " bytes, at %s\n", fw.id,
           fw.vendor, fw.class_id, fw.sequence, fw.size, fw.uri);
  else
    fprintf(stderr, "steward: firmware publish: %s (%s)\n", why[0] ? why : "failed", stw_status_str(st));
  stw_firmware_clear(&fw);
  free(manifest);
  free(image);
  return st == STW_OK ? 0 : 1;
}

/* ---- steward admin campaign ---------------------------------------------------------------- */

static stw_status_t print_campaign(const stw_campaign_t *c, void *ctx)
{
  stw_store_t *store = ctx;
  uint64_t n[STW_ROLLOUT_COUNT] = { 0 };
  stw_status_t st = stw_store_rollout_counts(store, c->id, -1, n);
  if (st != STW_OK)
    return st;
  printf("%-4" PRId64 " firmware %-4" PRId64 " %-20s stage %u  %-8s waiting %" PRIu64 " offered %" PRIu64
         " downloading %" PRIu64 " installed %" PRIu64 " failed %" PRIu64 "%s%s\n",
         c->id, c->firmware_id, c->target, c->stage, stw_campaign_state_name(c->state), n[STW_ROLLOUT_WAITING],
         n[STW_ROLLOUT_OFFERED], n[STW_ROLLOUT_DOWNLOADING], n[STW_ROLLOUT_INSTALLED], n[STW_ROLLOUT_FAILED],
         c->reason[0] ? "  " : "", c->reason);
  return STW_OK;
}

static stw_status_t print_rollout(const stw_rollout_t *r, void *ctx)
{
  (void)ctx;
  printf("  %s  stage %u  %-11s %s\n", r->device_id, r->stage, stw_rollout_status_name(r->status), r->detail);
  return STW_OK;
}

int admin_campaign(struct stw_store *store, int argc, char **argv, const char *const *with_value)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  const char *arg = cli_arg(argc, argv, 2, with_value);
  char why[256] = "";
  int64_t id = 0;
  stw_status_t st;
  if (sub != NULL && strcmp(sub, "create") == 0) {
    stw_campaign_t spec, c;
    memset(&spec, 0, sizeof(spec));
    uint64_t canary = STW_FW_DEFAULT_CANARY, max_failures = STW_FW_DEFAULT_MAX_FAILURES, targets = 0;
    const char *target = cli_opt(argc, argv, "--target");
    if (!cli_parse_id(cli_opt(argc, argv, "--firmware"), &spec.firmware_id) || target == NULL ||
        (cli_opt(argc, argv, "--canary") && !cli_parse_u64(cli_opt(argc, argv, "--canary"), &canary)) ||
        (cli_opt(argc, argv, "--max-failures") && !cli_parse_u64(cli_opt(argc, argv, "--max-failures"), &max_failures)) ||
        canary > 100 || max_failures > 100) {
      fprintf(stderr, "usage: steward admin --data DIR campaign create --firmware ID --target model=X|group=Y "
                      "[--canary PCT] [--max-failures PCT]\n");
      return 2;
    }
    snprintf(spec.target, sizeof(spec.target), "%s", target);
    spec.canary_percent = (unsigned)canary;
    spec.max_failure_percent = (unsigned)max_failures;
    st = stw_update_campaign_create(store, &spec, "admin", &c, &targets, why, sizeof(why));
    if (st != STW_OK) {
      fprintf(stderr, "steward: campaign create: %s (%s)\n", why, stw_status_str(st));
      return 1;
    }
    printf("campaign %" PRId64 ": firmware %" PRId64 " to %s, %" PRIu64 " devices, canary %u%%, halt over %u%% "
           "failures; %s\n", c.id, c.firmware_id, c.target, targets, c.canary_percent, c.max_failure_percent,
           stw_campaign_state_name(c.state));
    return 0;
  }
  if (sub != NULL && strcmp(sub, "status") == 0) {
    if (arg == NULL)
      return stw_store_campaign_list(store, print_campaign, store) == STW_OK ? 0 : cli_fail("campaign status", STW_ERR_STORE);
    stw_campaign_t c;
    if (!cli_parse_id(arg, &id) || (st = stw_store_campaign_get(store, id, &c)) != STW_OK) {
      fprintf(stderr, "steward: no campaign %s\n", arg);
      return 1;
    }
    if ((st = print_campaign(&c, store)) == STW_OK)
      st = stw_store_rollout_list(store, id, print_rollout, NULL);
    return st == STW_OK ? 0 : cli_fail("campaign status", st);
  }
  bool resume = sub != NULL && strcmp(sub, "resume") == 0, abort_it = sub != NULL && strcmp(sub, "abort") == 0;
  if ((!resume && !abort_it) || !cli_parse_id(arg, &id)) {
    fprintf(stderr, "usage: steward admin --data DIR campaign create ... | status [ID] | resume ID | abort ID\n");
    return 2;
  }
  st = resume ? stw_update_campaign_resume(store, id, "admin", why, sizeof(why))
              : stw_update_campaign_abort(store, id, "admin", why, sizeof(why));
  if (st != STW_OK) {
    fprintf(stderr, "steward: campaign %s: %s (%s)\n", sub, why, stw_status_str(st));
    return 1;
  }
  stw_campaign_t c;
  if (stw_store_campaign_get(store, id, &c) == STW_OK)
    printf("campaign %" PRId64 " %s: now %s, stage %u\n", id, resume ? "resumed" : "aborted",
           stw_campaign_state_name(c.state), c.stage);
  return 0;
}
