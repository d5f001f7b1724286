/* steward demo, the later life of the fleet: a signed update rolled out in
 * stages (one device fails its self-test and falls back), an image tampered
 * with and caught by attestation (quarantined, then remediated by an
 * authorised update), a device decommissioned, and the compliance report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "compliance/compliance.h"
#include "demo.h"
#include "lifecycle/decommission.h"
#include "manifest.h"
#include "steward/attest.h"
#include "steward/authz.h"
#include "steward/token.h"
#include "steward/update.h"
#include "update/update.h"

#define IMAGE_LEN 4096
#define ROLLOUT_WAIT_MS 60000

/* The image a vendor builds: its content only has to differ per release. */
static void build_image(uint8_t *image, const char *model, uint64_t sequence)
{
  for (size_t i = 0; i < IMAGE_LEN; i++)
    image[i] = (uint8_t)(i * 31u + sequence * 7u);
  snprintf((char *)image, 64, "%s firmware, release %llu", model, (unsigned long long)sequence);
}

/* Vendor signs, owner checks and authorises: the two signatures a device checks. */
static stw_status_t release(stw_store_t *store, const stw_domain_t *home, const stw_factory_t *vendor,
                            const char *model, uint64_t sequence, stw_firmware_t *fw)
{
  uint8_t image[IMAGE_LEN];
  build_image(image, model, sequence);
  stw_manifest_t m;
  memset(&m, 0, sizeof(m));
  m.sequence = sequence;
  snprintf(m.vendor, sizeof(m.vendor), "%s", vendor->name);
  snprintf(m.class_id, sizeof(m.class_id), "%s", model);
  snprintf(m.component, sizeof(m.component), "firmware");
  m.size = IMAGE_LEN;
  stw_status_t st = stw_sha256(image, sizeof(image), m.digest);
  char digest_hex[65];
  stw_hex_encode(m.digest, sizeof(m.digest), digest_hex);
  snprintf(m.uri, sizeof(m.uri), "/fw/img/%s", digest_hex);
  stw_buf_t signed_manifest = { 0 };
  if (st == STW_OK)
    st = stw_manifest_vendor_sign(&m, vendor->ca_key, &signed_manifest);
  char why[200] = "";
  if (st == STW_OK)
    st = stw_update_publish(store, home, signed_manifest.data, signed_manifest.len, image, sizeof(image), "admin", fw,
                            why, sizeof(why));
  stw_buf_free(&signed_manifest, false);
  if (st == STW_OK)
    demo_say("owner", "steward admin firmware publish: %s release %llu (%u B, sha-256 %.16s...), vendor "
             "signature checked, authorised by the domain CA: firmware #%lld",
             model, (unsigned long long)sequence, IMAGE_LEN, digest_hex, (long long)fw->id);
  else
    demo_say("owner", "publishing %s release %llu failed: %s %s", model, (unsigned long long)sequence,
             stw_status_str(st), why);
  return st;
}

/* ---- the fleet's update agents ---------------------------------------------- */

typedef struct {
  const char *label;
  stw_dev_t *dev;
  bool fail_self_test;
  bool done;
  stw_update_result_t result;
} agent_t;

static bool self_test(stw_dev_t *dev, const uint8_t *image, size_t len, void *arg)
{
  const agent_t *a = arg;
  return !a->fail_self_test;
}

static void on_result(stw_dev_t *dev, const stw_update_result_t *r, void *arg)
{
  agent_t *a = arg;
  a->result = *r;
  a->done = true;
  if (r->status == STW_OK)
    demo_say("device", "%-16s installed release %llu: %llu blocks, booted on trial, self-test passed, confirmed",
             a->label, (unsigned long long)r->sequence, (unsigned long long)r->blocks_fetched);
  else
    demo_say("device", "%-16s release %llu not kept: %s", a->label, (unsigned long long)r->sequence, r->detail);
}

/* Run the agents until every one of the selected devices reported. */
static size_t run_agents(stw_updater_t *u, agent_t *agents, size_t n, const bool *waiting_for)
{
  uint64_t deadline = stw_monotonic_us() + (uint64_t)ROLLOUT_WAIT_MS * 1000;
  size_t finished = 0;
  while (stw_monotonic_us() < deadline) {
    stw_updater_run(u, 100);
    finished = 0;
    size_t wanted = 0;
    for (size_t i = 0; i < n; i++) {
      if (!waiting_for[i])
        continue;
      wanted++;
      finished += agents[i].done;
    }
    if (finished == wanted)
      break;
  }
  return finished;
}

static void print_campaign(stw_store_t *store, int64_t id)
{
  stw_campaign_t c;
  uint64_t counts[STW_ROLLOUT_COUNT] = { 0 };
  if (stw_store_campaign_get(store, id, &c) != STW_OK || stw_store_rollout_counts(store, id, -1, counts) != STW_OK)
    return;
  demo_say("owner", "steward admin campaign status %lld: %s, stage %u; %llu installed, %llu failed, %llu waiting%s%s",
           (long long)id, stw_campaign_state_name(c.state), c.stage,
           (unsigned long long)counts[STW_ROLLOUT_INSTALLED], (unsigned long long)counts[STW_ROLLOUT_FAILED],
           (unsigned long long)(counts[STW_ROLLOUT_WAITING] + counts[STW_ROLLOUT_OFFERED] +
                                counts[STW_ROLLOUT_DOWNLOADING]),
           c.reason[0] ? ": " : "", c.reason);
}

static size_t pick_stage1_device(const demo_fleet_t *fleet, int64_t campaign_id)
{
  for (size_t i = 0; i < fleet->n; i++) {
    stw_rollout_t row;
    if (i != fleet->tampered && i != fleet->n - 1 &&
        stw_store_rollout_get(fleet->store, campaign_id, fleet->ids[i], &row) == STW_OK && row.stage == 1)
      return i;
  }
  return fleet->n;
}

static stw_state_t state_of(stw_store_t *store, const char *id)
{
  stw_device_t d;
  if (stw_store_device_get(store, id, &d) != STW_OK)
    return STW_STATE_COUNT;
  stw_state_t s = d.state;
  stw_device_clear(&d);
  return s;
}

static int attest(agent_t *a, const char *uri, stw_attest_why_t why)
{
  stw_attest_result_t r;
  memset(&r, 0, sizeof(r));
  stw_status_t st = stw_attest_now(a->dev, uri, why, &r);
  if (st != STW_OK) {
    demo_say("device", "%-16s attestation failed: %s %s", a->label, stw_status_str(st), r.report.reason);
    return 0;
  }
  demo_say("verifier", "%-16s evidence appraised: %s%s%s", a->label,
           r.verdict == STW_VERDICT_AFFIRMING ? "affirming"
           : r.verdict == STW_VERDICT_WARNING ? "warning" : "contraindicated",
           r.reasons[0] ? " - " : "", r.reasons);
  return r.verdict;
}

/* Flip one byte of the images on the device's flash (both slots: whichever
 * it runs is then not what was authorised), as an attacker with write access
 * would leave them. */
static stw_status_t tamper(const char *dir)
{
  stw_status_t st = STW_ERR_NOT_FOUND;
  for (char slot = 'a'; slot <= 'b'; slot++) {
    char path[1200];
    snprintf(path, sizeof(path), "%s/fw/slot-%c.img", dir, slot);
    uint8_t *image = NULL;
    size_t len = 0;
    if (stw_file_read(path, 16u << 20, &image, &len) == STW_OK && len > 100) {
      image[100] ^= 0x5a;
      st = stw_file_write_atomic(path, image, len, 0600);
    }
    free(image);
    if (st != STW_OK && st != STW_ERR_NOT_FOUND)
      return st;
  }
  return st;
}

/* ---- the story ------------------------------------------------------------------- */

stw_status_t demo_later_life(const demo_fleet_t *fleet, bool *as_expected)
{
  *as_expected = false;
  printf("\n");
  demo_say("story", "later life: a staged roll-out, a tampered image caught, a device retired");
  size_t n = fleet->n;
  agent_t agents[DEMO_FLEET_MAX];
  bool all[DEMO_FLEET_MAX], only_repair[DEMO_FLEET_MAX];
  memset(agents, 0, sizeof(agents));
  stw_updater_t *u = NULL;
  stw_status_t st = stw_updater_new(&u);
  for (size_t i = 0; st == STW_OK && i < n; i++) {
    agents[i].label = fleet->labels[i];
    all[i] = true;
    only_repair[i] = i == fleet->tampered;
    if ((st = stw_dev_open(fleet->dirs[i], &agents[i].dev)) != STW_OK)
      break;
    stw_update_opts_t opts = { .self_test = self_test, .on_result = on_result, .arg = &agents[i] };
    st = stw_updater_watch(u, agents[i].dev, fleet->uri, &opts);
  }
  stw_firmware_t fw1 = { 0 }, fw2 = { 0 };
  stw_campaign_t spec, campaign = { 0 }, repair = { 0 };
  uint64_t targets = 0;
  char why[200] = "";
  size_t failing = n;
  bool rollout_ok = false, quarantined = false, token_refused = false, remediated = false, retired = false;
  stw_compliance_t report = { 0 };

  /* 1. A release for the whole model, canary first. */
  if (st == STW_OK)
    st = release(fleet->store, fleet->home, fleet->vendor, fleet->model, 1, &fw1);
  if (st == STW_OK) {
    memset(&spec, 0, sizeof(spec));
    spec.firmware_id = fw1.id;
    snprintf(spec.target, sizeof(spec.target), "model=%s", fleet->model);
    spec.canary_percent = 20;
    spec.max_failure_percent = 30;
    st = stw_update_campaign_create(fleet->store, &spec, "admin", &campaign, &targets, why, sizeof(why));
  }
  if (st == STW_OK) {
    demo_say("owner", "steward admin campaign create --target model=%s --canary 20 --max-failures 30: campaign %lld, "
             "%llu devices, stage 0 (canary) first",
             fleet->model, (long long)campaign.id, (unsigned long long)targets);
    /* The device that will fail is one of stage 1: the canary passes, the
     * campaign moves on, and one failure in four stays under the threshold. */
    failing = pick_stage1_device(fleet, campaign.id);
    if (failing < n)
      agents[failing].fail_self_test = true;
    size_t finished = run_agents(u, agents, n, all);
    print_campaign(fleet->store, campaign.id);
    size_t installed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
      installed += agents[i].done && agents[i].result.status == STW_OK;
      failed += agents[i].done && agents[i].result.status != STW_OK;
    }
    stw_rollout_t row;
    bool fell_back = stw_store_rollout_get(fleet->store, campaign.id, fleet->ids[failing], &row) == STW_OK &&
                     row.status == STW_ROLLOUT_FAILED;
    if (fell_back)
      demo_say("device", "%-16s is back on its old image; the domain recorded: %s", agents[failing].label,
               row.detail);
    rollout_ok = finished == n && installed == n - 1 && failed == 1 && fell_back;
  }

  /* 2. Attestation after the update; then an image is tampered with. */
  if (st == STW_OK) {
    for (size_t i = 0; i < n; i++)
      attest(&agents[i], fleet->uri, i == failing ? STW_ATTEST_ASKED : STW_ATTEST_UPDATE);
    agent_t *victim = &agents[fleet->tampered];
    if ((st = tamper(fleet->dirs[fleet->tampered])) != STW_OK) {
      snprintf(why, sizeof(why), "(tampering with %s's image)", victim->label);
    } else {
      demo_say("attacker", "flips one byte of the image %s runs", victim->label);
      attest(victim, fleet->uri, STW_ATTEST_ASKED);
      quarantined = state_of(fleet->store, fleet->ids[fleet->tampered]) == STW_STATE_QUARANTINED;
      demo_say("daemon", "%s is %s: its tokens revoked, hidden from the directory, new tokens refused",
               victim->label, quarantined ? "QUARANTINED" : "NOT quarantined (unexpected)");
      stw_token_t tok;
      stw_bootstrap_report_t rep;
      memset(&tok, 0, sizeof(tok));
      memset(&rep, 0, sizeof(rep));
      stw_status_t tst = stw_token_request(victim->dev, fleet->uri, fleet->names[0], "/consumption", STW_AIF_GET, &tok,
                                         &rep);
      token_refused = tst == STW_ERR_FORBIDDEN;
      demo_say("device", "%-16s asks for a token: %s", victim->label,
               tst == STW_OK ? "granted (unexpected!)" : rep.reason[0] ? rep.reason : stw_status_str(tst));
      stw_token_clear(&tok);
    }
  }

  /* 3. Remediation: an authorised update for that device, then a good attestation. */
  if (st == STW_OK)
    st = release(fleet->store, fleet->home, fleet->vendor, fleet->model, 2, &fw2);
  if (st == STW_OK) {
    stw_attr_row_t group = { .name = "group", .value = "repair", .authority = "domain" };
    st = stw_store_attr_set(fleet->store, fleet->ids[fleet->tampered], &group);
  }
  if (st == STW_OK) {
    memset(&spec, 0, sizeof(spec));
    spec.firmware_id = fw2.id;
    snprintf(spec.target, sizeof(spec.target), "group=repair");
    spec.canary_percent = 100;
    spec.max_failure_percent = 0;
    agents[fleet->tampered].done = false;
    st = stw_update_campaign_create(fleet->store, &spec, "admin", &repair, &targets, why, sizeof(why));
  }
  if (st == STW_OK) {
    demo_say("owner", "steward admin campaign create --target group=repair: release 2 for %s alone",
             agents[fleet->tampered].label);
    run_agents(u, agents, n, only_repair);
    int verdict = attest(&agents[fleet->tampered], fleet->uri, STW_ATTEST_UPDATE);
    remediated = verdict == STW_VERDICT_AFFIRMING &&
                 state_of(fleet->store, fleet->ids[fleet->tampered]) == STW_STATE_OPERATIONAL;
    demo_say("daemon", "%s is %s", agents[fleet->tampered].label,
             remediated ? "OPERATIONAL again: remediated, visible, tokens issued again" : "still not remediated");
  }
  stw_updater_free(u);
  u = NULL;

  /* 4. Retirement. */
  if (st == STW_OK) {
    stw_decommission_t out;
    size_t last = n - 1;
    st = stw_decommission(fleet->store, fleet->ids[last], "admin", "sold", &out);
    if (st == STW_OK) {
      retired = true;
      demo_say("owner", "steward admin decommission %s: %llu tokens and %llu certificates revoked (the CRL at /crl "
               "lists it; its handshakes are refused), directory entry %s, %llu attributes and %llu context rows "
               "about its people deleted",
               agents[last].label, (unsigned long long)out.tokens_revoked, (unsigned long long)out.certs_revoked,
               out.registration_removed ? "removed" : "none", (unsigned long long)out.erased.attributes,
               (unsigned long long)out.erased.context);
    }
  }

  /* 5. What the owner can show an auditor. */
  if (st == STW_OK)
    st = stw_compliance_collect(fleet->store, fleet->home->dir, fleet->home->name, NULL, stw_now(), &report);
  if (st == STW_OK) {
    demo_say("owner", "steward admin compliance --format json|html (EN 303 645), fleet of %zu:", report.n_devices);
    for (int p = 0; p < STW_PROV_COUNT; p++)
      printf("          %-8s %-4s %s\n", stw_provision_clause((stw_provision_t)p),
             stw_verdict_name(report.fleet[p].verdict), report.fleet[p].evidence);
    stw_buf_t html;
    char path[1200];
    snprintf(path, sizeof(path), "%s/compliance.html", fleet->root);
    if (stw_compliance_html(&report, &html) == STW_OK && stw_file_write_atomic(path, html.data, html.len, 0644) == STW_OK)
      demo_say("owner", "the same as a page: %s", path);
    stw_buf_free(&html, false);
    stw_compliance_free(&report);
  }

  for (size_t i = 0; i < n; i++)
    stw_dev_close(agents[i].dev);
  stw_firmware_clear(&fw1);
  stw_firmware_clear(&fw2);
  stw_updater_free(u);
  *as_expected = st == STW_OK && rollout_ok && quarantined && token_refused && remediated && retired;
  if (st != STW_OK)
    demo_say("story", "stopped: %s %s", stw_status_str(st), why);
  return st;
}
