/* bench/attest: attestation appraisal (issue 6 §4), in this process.
 *
 *   bench/attest [--appraisals N] [--devices D] [--manifests M]
 *
 * A store holds M authorised manifests (the reference values) and D
 * enrolled devices (a current LDevID from the domain CA, an earlier result,
 * a configuration digest seen before), as enrollment and a first
 * attestation leave them. Each device signs one piece of evidence for an
 * authorised image before the clock starts. Figures:
 *   1. one raw ES256 verify (lib/pki.h stw_spki_verify), N times;
 *   2. the evidence's signature check and decode (stw_evidence_verify);
 *   3. the appraisal function (stw_attest_appraise: the device's row and
 *      LDevID from the store, the signature, the ueid, the image against the
 *      reference values, the configuration and boot count against the
 *      device's history), N times, round-robin over the devices;
 *   4. appraise + record (nonce taken, result, audit record), 64 per
 *      transaction as the daemon's writer commits them.
 * The appraisal's cost over the raw verify is what the store reads add. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "domain/domain.h"
#include "evidence.h"
#include "pki.h"
#include "store/store.h"
#include "util.h"

#define DOMAIN_NAME "bench.example"
#define MODEL "bench-1"
#define BATCH 64

static void die(const char *what, stw_status_t st)
{
  fprintf(stderr, "bench/attest: %s: %s\n", what, stw_status_str(st));
  exit(1);
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
  char id[STW_ID_HEX];
  stw_key_t *key;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  stw_buf_t evidence;
  uint8_t nonce[32];
} bdev_t;

static void image_digest(uint64_t seq, uint8_t out[32])
{
  char text[32];
  int n = snprintf(text, sizeof(text), "bench image %llu", (unsigned long long)seq);
  if (stw_sha256((const uint8_t *)text, (size_t)n, out) != STW_OK)
    die("sha256", STW_ERR_CRYPTO);
}

static void make_device(stw_store_t *st, const stw_domain_t *domain, unsigned i, uint64_t seq, bdev_t *d)
{
  uint8_t raw_id[STW_DEVICE_ID_LEN], config[32], image[32];
  stw_status_t rc;
  d->spki_len = sizeof(d->spki);
  if ((rc = stw_key_generate(&d->key)) != STW_OK || (rc = stw_key_spki(d->key, d->spki, &d->spki_len)) != STW_OK ||
      (rc = stw_device_id_from_spki(d->spki, d->spki_len, raw_id)) != STW_OK)
    die("device key", rc);
  stw_device_id_hex(raw_id, d->id);
  char name[32], serial[2 * STW_SERIAL_MAX + 1];
  snprintf(name, sizeof(name), "bench-%u", i);
  stw_cert_template_t t = { .common_name = name, .organization = domain->name, .serial_number = d->id,
                            .not_before = stw_now() - 60, .not_after = stw_now() + 86400, .client_auth = true };
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  if ((rc = stw_cert_issue(domain->ca_key, domain->ca_der.data, domain->ca_der.len, d->spki, d->spki_len, &t, &der,
                           serial)) != STW_OK)
    die("LDevID", rc);
  stw_device_t row;
  memset(&row, 0, sizeof(row));
  snprintf(row.id, sizeof(row.id), "%s", d->id);
  snprintf(row.name, sizeof(row.name), "%s", name);
  snprintf(row.model, sizeof(row.model), MODEL);
  snprintf(row.manufacturer, sizeof(row.manufacturer), "Bench");
  row.state = STW_STATE_OPERATIONAL;
  row.ldevid = der.data;
  row.ldevid_len = der.len;
  snprintf(row.ldevid_serial, sizeof(row.ldevid_serial), "%s", serial);
  if ((rc = stw_store_device_put(st, &row)) != STW_OK)
    die("device row", rc);
  stw_buf_free(&der, false);

  /* What a first attestation left: a result and the configuration seen. */
  image_digest(seq, image);
  memset(config, 0x5c, sizeof(config));
  stw_attest_row_t first = { .verdict = STW_EAR_AFFIRMING, .boot_count = 1 };
  snprintf(first.device_id, sizeof(first.device_id), "%s", d->id);
  snprintf(first.trigger, sizeof(first.trigger), "enroll");
  memcpy(first.image_digest, image, 32);
  stw_attr_row_t attr = { .name = STW_ATTEST_CONFIG_ATTR, .authority = "attestation" };
  stw_hex_encode(config, 32, attr.value);
  if ((rc = stw_store_attest_put(st, &first)) != STW_OK || (rc = stw_store_attr_set(st, d->id, &attr)) != STW_OK)
    die("first result", rc);

  stw_evidence_t ev;
  memset(&ev, 0, sizeof(ev));
  if ((rc = stw_random(d->nonce, sizeof(d->nonce))) != STW_OK)
    die("nonce", rc);
  memcpy(ev.nonce, d->nonce, 32);
  ev.nonce_len = 32;
  if ((rc = stw_evidence_set_ueid(&ev, d->id)) != STW_OK)
    die("ueid", rc);
  ev.iat = stw_now();
  ev.boot_count = 2;
  ev.fw_sequence = seq;
  snprintf(ev.meas[0].name, sizeof(ev.meas[0].name), "image");
  memcpy(ev.meas[0].digest, image, 32);
  snprintf(ev.meas[1].name, sizeof(ev.meas[1].name), "config");
  memcpy(ev.meas[1].digest, config, 32);
  ev.n_meas = 2;
  stw_buf_init(&d->evidence, STW_EVIDENCE_MAX);
  if ((rc = stw_evidence_sign(&ev, d->key, &d->evidence)) != STW_OK)
    die("evidence", rc);
}

static bool parse_count(const char *s, unsigned max, unsigned *out)
{
  char *end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (end == s || *end != '\0' || v == 0 || v > max)
    return false;
  *out = (unsigned)v;
  return true;
}

int main(int argc, char **argv)
{
  unsigned appraisals = 5000, devices = 200, manifests = 100;
  for (int i = 1; i < argc; i++) {
    bool has = i + 1 < argc;
    if (strcmp(argv[i], "--appraisals") == 0 && has && parse_count(argv[i + 1], 10000000, &appraisals))
      i++;
    else if (strcmp(argv[i], "--devices") == 0 && has && parse_count(argv[i + 1], 100000, &devices))
      i++;
    else if (strcmp(argv[i], "--manifests") == 0 && has && parse_count(argv[i + 1], 1000000, &manifests))
      i++;
    else {
      fprintf(stderr, "usage: bench/attest [--appraisals N] [--devices D] [--manifests M]\n");
      return 2;
    }
  }
  char dir[] = "/tmp/stw-bench-attest-XXXXXX";
  if (mkdtemp(dir) == NULL)
    die("temporary folder", STW_ERR_IO);
  stw_domain_t *domain = NULL;
  stw_store_t *st = NULL;
  stw_status_t rc;
  if ((rc = stw_domain_open(dir, DOMAIN_NAME, &domain)) != STW_OK || (rc = stw_store_open(domain->store_url, &st)) != STW_OK)
    die("domain", rc);

  printf("bench/attest: %u reference values, %u devices, %u appraisals\n", manifests, devices, appraisals);
  if ((rc = stw_store_begin(st)) != STW_OK)
    die("begin", rc);
  for (unsigned m = 1; m <= manifests; m++) {
    stw_firmware_t fw;
    memset(&fw, 0, sizeof(fw));
    snprintf(fw.vendor, sizeof(fw.vendor), "Bench");
    snprintf(fw.class_id, sizeof(fw.class_id), MODEL);
    snprintf(fw.component, sizeof(fw.component), "firmware");
    fw.sequence = m;
    image_digest(m, fw.digest);
    fw.size = 1 << 20;
    snprintf(fw.uri, sizeof(fw.uri), "/fw/img/%u", m);
    uint8_t envelope[1] = { 0xa0 };
    fw.envelope = envelope;
    fw.envelope_len = 1;
    if ((rc = stw_store_firmware_put(st, &fw)) != STW_OK)
      die("manifest", rc);
  }
  bdev_t *devs = calloc(devices, sizeof(*devs));
  if (devs == NULL)
    die("devices", STW_ERR_NOMEM);
  for (unsigned i = 0; i < devices; i++)
    make_device(st, domain, i, 1 + i % manifests, &devs[i]);
  if ((rc = stw_store_commit(st)) != STW_OK)
    die("commit", rc);

  /* 1. one raw ES256 verify */
  uint8_t msg[320], sig[STW_ES256_SIG_LEN];
  memset(msg, 0x42, sizeof(msg));
  if ((rc = stw_key_sign(devs[0].key, msg, sizeof(msg), sig)) != STW_OK)
    die("sign", rc);
  double t0 = now_s();
  for (unsigned i = 0; i < appraisals; i++)
    if (stw_spki_verify(devs[0].spki, devs[0].spki_len, msg, sizeof(msg), sig) != STW_OK)
      die("raw verify", STW_ERR_BAD_SIGNATURE);
  double raw = appraisals / (now_s() - t0);

  /* 2. the evidence's signature and decode */
  stw_evidence_t ev;
  t0 = now_s();
  for (unsigned i = 0; i < appraisals; i++) {
    bdev_t *d = &devs[i % devices];
    if ((rc = stw_evidence_verify(d->evidence.data, d->evidence.len, d->spki, d->spki_len, &ev)) != STW_OK)
      die("evidence verify", rc);
  }
  double verify = appraisals / (now_s() - t0);

  /* 3. the appraisal function */
  stw_appraisal_t *a = malloc(sizeof(*a));
  if (a == NULL)
    die("appraisal", STW_ERR_NOMEM);
  unsigned affirming = 0;
  t0 = now_s();
  for (unsigned i = 0; i < appraisals; i++) {
    bdev_t *d = &devs[i % devices];
    if ((rc = stw_attest_appraise(st, d->id, d->evidence.data, d->evidence.len, stw_now(), a)) != STW_OK)
      die("appraise", rc);
    affirming += a->coap_code == 0 && a->verdict == STW_EAR_AFFIRMING;
  }
  double appraise = appraisals / (now_s() - t0);
  if (affirming != appraisals)
    die("appraisals not all affirming", STW_ERR_STATE);

  /* 4. appraise + record, one result per device (each nonce once), in batches */
  unsigned recorded = 0;
  for (unsigned i = 0; i < devices; i++)
    if ((rc = stw_store_nonce_put(st, devs[i].id, devs[i].nonce, 32, stw_now() + 600)) != STW_OK)
      die("nonce", rc);
  t0 = now_s();
  for (unsigned i = 0; i < devices; i += BATCH) {
    if ((rc = stw_store_begin(st)) != STW_OK)
      die("begin", rc);
    for (unsigned j = i; j < devices && j < i + BATCH; j++) {
      bdev_t *d = &devs[j];
      if ((rc = stw_attest_appraise(st, d->id, d->evidence.data, d->evidence.len, stw_now(), a)) != STW_OK)
        die("appraise", rc);
      snprintf(a->trigger, sizeof(a->trigger), "periodic");
      if ((rc = stw_attest_record(st, a, stw_now())) != STW_OK || a->coap_code != 0)
        die("record", rc != STW_OK ? rc : STW_ERR_REPLAY);
      recorded++;
    }
    if ((rc = stw_store_commit(st)) != STW_OK)
      die("commit", rc);
  }
  double record = recorded / (now_s() - t0);

  printf("  raw ES256 verify (stw_spki_verify)            %9.0f /s\n", raw);
  printf("  evidence verify + decode (stw_evidence_verify) %8.0f /s   %.2fx the raw verify's time\n", verify,
         raw / verify);
  printf("  appraisal (stw_attest_appraise)               %9.0f /s   %.2fx the raw verify's time\n", appraise,
         raw / appraise);
  printf("  appraise + record, %d per transaction          %9.0f /s   (%u results, durable, audited)\n", BATCH, record,
         recorded);

  free(a);
  for (unsigned i = 0; i < devices; i++) {
    stw_key_free(devs[i].key);
    stw_buf_free(&devs[i].evidence, false);
  }
  free(devs);
  stw_store_close(st);
  stw_domain_close(domain);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "bench/attest: could not remove %s\n", dir);
  return 0;
}
