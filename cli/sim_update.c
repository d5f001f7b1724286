#include "sim_update.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain.h"
#include "manifest.h"
#include "steward/update.h"
#include "store/store.h"
#include "update/update.h"

typedef struct {
  stw_dev_t *dev;
  bool fail;
  bool done;
} sim_agent_t;

typedef struct {
  unsigned installed, failed, results;
  uint64_t image_bytes, blocks;
} sim_tally_t;

typedef struct {
  sim_agent_t *agent;
  sim_tally_t *tally;
} sim_ctx_t;

static bool sim_self_test(stw_dev_t *dev, const uint8_t *image, size_t len, void *arg)
{
  (void)dev;
  (void)image;
  (void)len;
  return !((sim_ctx_t *)arg)->agent->fail;
}

static void sim_result(stw_dev_t *dev, const stw_update_result_t *r, void *arg)
{
  (void)dev;
  sim_ctx_t *c = arg;
  c->tally->results++;
  c->tally->image_bytes += r->image_bytes;
  c->tally->blocks += r->blocks_fetched;
  if (r->status == STW_OK)
    c->tally->installed++;
  else
    c->tally->failed++;
  c->agent->done = true;
}

static bool listed(const char *list, const char *id)
{
  for (const char *p = list; p != NULL && *p;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n > 0 && strncmp(p, id, n) == 0)
      return true;
    p += n + (comma ? 1 : 0);
  }
  return false;
}

/* The manufacturer signs an image of o->image_bytes, the owner publishes it
 * and starts a campaign for the model: the campaign id. */
static stw_status_t start_campaign(const char *data_dir, const stw_factory_t *f, const char *model,
                                   const sim_update_opts_t *o, int64_t *campaign_id, uint64_t *targets)
{
  stw_domain_t *domain = NULL;
  stw_store_t *store = NULL;
  stw_manifest_t m;
  stw_buf_t signed_manifest;
  stw_firmware_t fw;
  char why[256] = "";
  memset(&m, 0, sizeof(m));
  memset(&fw, 0, sizeof(fw));
  stw_buf_init(&signed_manifest, STW_MANIFEST_MAX);
  uint8_t *image = malloc(o->image_bytes ? o->image_bytes : 1);
  stw_status_t st = image ? stw_domain_open(data_dir, NULL, &domain) : STW_ERR_NOMEM;
  if (st == STW_OK)
    st = stw_store_open(domain->store_url, &store);
  /* A fresh image each run, so each run's sequence is new. */
  uint64_t sequence = (uint64_t)stw_now();
  if (st == STW_OK)
    st = stw_random(image, o->image_bytes);
  if (st == STW_OK) {
    m.sequence = sequence;
    snprintf(m.vendor, sizeof(m.vendor), "%s", f->name);
    snprintf(m.class_id, sizeof(m.class_id), "%s", model);
    snprintf(m.component, sizeof(m.component), "firmware");
    m.size = o->image_bytes;
    st = stw_sha256(image, o->image_bytes, m.digest);
  }
  if (st == STW_OK) {
    char hex[65];
    stw_hex_encode(m.digest, 32, hex);
    snprintf(m.uri, sizeof(m.uri), "/fw/img/%s", hex);
    st = stw_manifest_vendor_sign(&m, f->ca_key, &signed_manifest);
  }
  if (st == STW_OK)
    st = stw_update_publish(store, domain, signed_manifest.data, signed_manifest.len, image, o->image_bytes,
                            "admin:sim", &fw, why, sizeof(why));
  if (st == STW_OK) {
    stw_campaign_t spec, c;
    memset(&spec, 0, sizeof(spec));
    spec.firmware_id = fw.id;
    snprintf(spec.target, sizeof(spec.target), "model=%s", model);
    spec.canary_percent = o->canary_percent;
    spec.max_failure_percent = o->max_failure_percent;
    st = stw_update_campaign_create(store, &spec, "admin:sim", &c, targets, why, sizeof(why));
    *campaign_id = c.id;
  }
  if (st != STW_OK)
    fprintf(stderr, "steward: sim rollout: %s (%s)\n", why[0] ? why : "cannot start the campaign",
            stw_status_str(st));
  stw_firmware_clear(&fw);
  stw_buf_free(&signed_manifest, false);
  free(image);
  stw_store_close(store);
  stw_domain_close(domain);
  return st;
}

stw_status_t sim_rollout(const char *server, const char *data_dir, const stw_factory_t *f, const char *model,
                         stw_dev_t *const *devs, unsigned n, const sim_update_opts_t *o)
{
  sim_agent_t *agents = calloc(n ? n : 1, sizeof(*agents));
  sim_ctx_t *ctx = calloc(n ? n : 1, sizeof(*ctx));
  sim_tally_t tally = { 0 };
  stw_updater_t *u = NULL;
  stw_store_t *store = NULL;
  stw_domain_t *domain = NULL;
  int64_t campaign = 0;
  uint64_t targets = 0;
  unsigned watching = 0, failing = 0;
  stw_status_t st = agents && ctx ? stw_updater_new(&u) : STW_ERR_NOMEM;
  unsigned every = o->fail_share > 0 ? (unsigned)(1.0 / o->fail_share + 0.5) : 0;
  for (unsigned i = 0; st == STW_OK && i < n; i++) {
    if (devs[i] == NULL)
      continue;
    agents[i].dev = devs[i];
    agents[i].fail = (every > 0 && i % every == every - 1) || listed(o->fail_devices, stw_dev_id(devs[i]));
    failing += agents[i].fail;
    ctx[i].agent = &agents[i];
    ctx[i].tally = &tally;
    stw_update_opts_t uo = { .self_test = sim_self_test, .on_result = sim_result, .arg = &ctx[i] };
    if ((st = stw_updater_watch(u, devs[i], server, &uo)) == STW_OK)
      watching++;
  }
  /* Every agent observes /fw before the campaign starts: what is timed is
   * the roll-out, not the DTLS handshakes. */
  uint64_t until = stw_monotonic_us() + (uint64_t)(o->watch_seconds * 1e6);
  while (st == STW_OK && stw_updater_observing(u) < watching && stw_monotonic_us() < until)
    stw_updater_run(u, 50);
  unsigned observing = u ? stw_updater_observing(u) : 0;
  if (!o->quiet && !o->json)
    fprintf(stderr, "%u devices observe /fw (%u will fail their self-test)\n", observing, failing);
  if (st == STW_OK && o->image_bytes > 0)
    st = start_campaign(data_dir, f, model, o, &campaign, &targets);
  if (st == STW_OK && (st = stw_domain_open(data_dir, NULL, &domain)) == STW_OK)
    st = stw_store_open(domain->store_url, &store);
  uint64_t t0 = stw_monotonic_us(), last_look = 0;
  stw_campaign_t c;
  memset(&c, 0, sizeof(c));
  bool finished = false;
  while (st == STW_OK && !finished && stw_monotonic_us() < until) {
    stw_updater_run(u, 50);
    uint64_t now = stw_monotonic_us();
    if (campaign > 0 && now - last_look > 100000) {
      last_look = now;
      if (stw_store_campaign_get(store, campaign, &c) == STW_OK &&
          (c.state == STW_CAMPAIGN_DONE || c.state == STW_CAMPAIGN_HALTED || c.state == STW_CAMPAIGN_ABORTED))
        finished = true;
    }
  }
  double secs = (stw_monotonic_us() - t0) / 1e6;
  uint64_t counts[STW_ROLLOUT_COUNT] = { 0 };
  if (store != NULL && campaign > 0 && stw_store_rollout_counts(store, campaign, -1, counts) != STW_OK)
    memset(counts, 0, sizeof(counts));
  double manifests_s = secs > 0 ? tally.results / secs : 0;
  double images_s = secs > 0 ? (counts[STW_ROLLOUT_INSTALLED] + counts[STW_ROLLOUT_FAILED]) / secs : 0;
  if (o->json)
    printf("{\"rollout_devices\":%u,\"observing\":%u,\"campaign\":%" PRId64 ",\"state\":\"%s\",\"stage\":%u,"
           "\"targets\":%" PRIu64 ",\"installed\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"image_bytes\":%u,"
           "\"seconds\":%.3f,\"manifests_per_s\":%.1f,\"images_per_s\":%.1f,\"blocks\":%" PRIu64 "}\n",
           n, observing, campaign, stw_campaign_state_name(c.state), c.stage, targets,
           counts[STW_ROLLOUT_INSTALLED], counts[STW_ROLLOUT_FAILED], o->image_bytes, secs, manifests_s, images_s,
           tally.blocks);
  else
    printf("sim: campaign %" PRId64 " %s at stage %u%s%s%s after %.2f s: %" PRIu64 " installed, %" PRIu64
           " failed of %" PRIu64 "; %.0f manifests/s, %.0f images/s of %u bytes\n",
           campaign, stw_campaign_state_name(c.state), c.stage, c.reason[0] ? " (" : "", c.reason,
           c.reason[0] ? ")" : "", secs,
           counts[STW_ROLLOUT_INSTALLED], counts[STW_ROLLOUT_FAILED], targets, manifests_s, images_s,
           o->image_bytes);
  stw_updater_free(u);
  stw_store_close(store);
  stw_domain_close(domain);
  free(agents);
  free(ctx);
  if (st == STW_OK && campaign > 0 && !finished)
    st = STW_ERR_TIMEOUT;
  return st;
}
