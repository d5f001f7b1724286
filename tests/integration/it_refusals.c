/* Bad input against the real daemon: one test per refusal. Each checks the
 * CoAP code, a diagnostic, the audit record with its outcome code, that
 * nothing else changed (device state, serials, no other audit record), and
 * that the daemon still enrolls a good device afterwards. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/enroll.h"
#include "harness.h"
#include "testutil.h"

typedef struct {
  it_world_t w;
  it_daemon_t d;
  unsigned files;   /* counter for unique file names */
} fixture_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(it_world_start(&f->w, "thermo-1", NULL, &f->d), STW_OK);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  printf("    SIGTERM: the daemon must exit 0 after all that bad input; the audit chain must verify\n");
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

/* ---- what must not change ------------------------------------------------------ */

typedef struct {
  const char *device_id;
  int state;
  uint64_t serials;
  uint64_t audit;
  uint64_t devices;
} snapshot_t;

static snapshot_t snapshot(fixture_t *f, const char *device_id)
{
  snapshot_t s = { .device_id = device_id };
  s.state = it_device_state(f->w.store, device_id);
  s.serials = it_serial_count(f->w.store);
  s.audit = it_audit_last(f->w.store);
  assert_int_equal(stw_store_device_count(f->w.store, -1, &s.devices), STW_OK);
  return s;
}

/* Exactly one new audit record, the refusal; everything else as it was. */
static void assert_only_refusal(fixture_t *f, const snapshot_t *s, const char *action, const char *outcome)
{
  it_audit_print(f->w.store, s->audit);
  stw_audit_t rec;
  assert_int_equal(it_audit_count(f->w.store, s->audit, action, NULL, outcome, &rec), 1);
  assert_int_equal(it_audit_count(f->w.store, s->audit, NULL, NULL, NULL, NULL), 1);
  assert_true(strlen(rec.detail) > 0);
  if (s->device_id != NULL && strcmp(action, "refuse.voucher-import") != 0 && rec.subject[0] != '\0')
    assert_string_equal(rec.subject, s->device_id);
  assert_int_equal(it_device_state(f->w.store, s->device_id), s->state);
  assert_int_equal(it_serial_count(f->w.store), s->serials);
  uint64_t devices = 0;
  assert_int_equal(stw_store_device_count(f->w.store, -1, &devices), STW_OK);
  assert_int_equal(devices, s->devices);
  printf("    nothing else changed: state %d, %" PRIu64 " serials, %" PRIu64 " devices\n", s->state, s->serials,
         s->devices);
}

static void assert_still_serves(fixture_t *f)
{
  it_device_t good;
  assert_int_equal(it_device_new(&f->w, "thermo-1", false, &good), STW_OK);
  stw_bootstrap_report_t rep;
  stw_status_t st = stw_bootstrap(good.dev, f->d.uri, &rep);
  printf("    the daemon still serves: a good device enrolls (%s, %u.%02u)\n", stw_status_str(st),
         rep.coap_code >> 5, rep.coap_code & 31);
  assert_int_equal(st, STW_OK);
  assert_int_equal(it_device_state(f->w.store, stw_dev_id(good.dev)), STW_STATE_BOOTSTRAPPED);
  it_device_free(&good);
}

static void print_report(const char *what, stw_status_t st, const stw_bootstrap_report_t *rep)
{
  printf("    %s: %s, code %u.%02u, \"%s\"\n", what, stw_status_str(st), rep->coap_code >> 5, rep->coap_code & 31,
         rep->reason);
}

/* ---- through the SDK -------------------------------------------------------------- */

static void unknown_manufacturer(void **state)
{
  fixture_t *f = *state;
  printf("  a device from an untrusted factory: voucher import refused; the device refused 4.01 untrusted-manufacturer\n");
  stw_factory_t *rogue = NULL;
  assert_int_equal(stw_factory_new("ROGUE", &rogue), STW_OK);
  it_device_t x;
  assert_int_equal(it_device_imprint(rogue, "thermo-1", false, &x), STW_OK);
  assert_int_equal(it_device_voucher(&f->w, rogue, &x, NULL, 0), STW_OK);
  snapshot_t s = snapshot(f, x.im.id);
  char diag[192];
  stw_status_t st = it_device_import(&f->w, &x, diag, sizeof(diag));
  printf("    import: %s \"%s\"\n", stw_status_str(st), diag);
  assert_int_equal(st, STW_ERR_UNTRUSTED);
  assert_true(strlen(diag) > 0);
  assert_only_refusal(f, &s, "refuse.voucher-import", "voucher-untrusted");
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  assert_int_equal(stw_store_voucher_get(f->w.store, x.im.id, &raw, &raw_len), STW_ERR_NOT_FOUND);

  /* Put the rogue's voucher in place behind the operator's back: the IDevID
   * itself is refused at the first request (the voucher hand-over), before
   * any voucher is handed out. (/sen refuses it too: tests/unit/test_enroll.c.) */
  assert_int_equal(stw_store_voucher_put(f->w.store, x.im.id, x.voucher.data, x.voucher.len), STW_OK);
  s = snapshot(f, x.im.id);
  stw_bootstrap_report_t rep;
  st = stw_bootstrap(x.dev, f->d.uri, &rep);
  print_report("bootstrap", st, &rep);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_non_null(strstr(rep.reason, "manufacturer"));
  assert_int_equal(stw_dev_state(x.dev), STW_DEV_FACTORY);
  assert_only_refusal(f, &s, "refuse.voucher", "untrusted-manufacturer");
  it_device_free(&x);
  stw_factory_free(rogue);
  assert_still_serves(f);
}

static void not_allowed_by_policy(void **state)
{
  fixture_t *f = *state;
  printf("  a trusted device with a voucher but no policy rule: 4.03 not-allowed\n");
  it_device_t x;
  assert_int_equal(it_device_new(&f->w, "lamp-9", false, &x), STW_OK);
  snapshot_t s = snapshot(f, x.im.id);
  assert_int_equal(s.state, STW_STATE_MANUFACTURED);
  stw_bootstrap_report_t rep;
  stw_status_t st = stw_bootstrap(x.dev, f->d.uri, &rep);
  print_report("bootstrap", st, &rep);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(rep.reason, "policy"));
  assert_only_refusal(f, &s, "refuse.enroll", "not-allowed");

  printf("    once the operator allows it, the same device enrolls\n");
  assert_int_equal(it_allow_device(&f->w, x.im.id), STW_OK);
  assert_int_equal(stw_bootstrap(x.dev, f->d.uri, &rep), STW_OK);
  assert_int_equal(it_device_state(f->w.store, x.im.id), STW_STATE_BOOTSTRAPPED);
  it_device_free(&x);
}

static void voucher_for_another_owner(void **state)
{
  fixture_t *f = *state;
  printf("  a voucher naming another owner: import refused voucher-other-owner; then 4.04 no-voucher\n");
  stw_key_t *other = NULL;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_generate(&other), STW_OK);
  assert_int_equal(stw_key_spki(other, spki, &spki_len), STW_OK);
  stw_key_free(other);
  it_device_t x;
  assert_int_equal(it_device_imprint(f->w.mfg, "thermo-1", false, &x), STW_OK);
  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &x, spki, spki_len), STW_OK);
  snapshot_t s = snapshot(f, x.im.id);
  char diag[192];
  stw_status_t st = it_device_import(&f->w, &x, diag, sizeof(diag));
  printf("    import: %s \"%s\"\n", stw_status_str(st), diag);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_non_null(strstr(diag, "owner"));
  assert_only_refusal(f, &s, "refuse.voucher-import", "voucher-other-owner");

  s = snapshot(f, x.im.id);
  stw_bootstrap_report_t rep;
  st = stw_bootstrap(x.dev, f->d.uri, &rep);
  print_report("bootstrap", st, &rep);
  assert_int_equal(st, STW_ERR_NOT_FOUND);
  assert_int_equal(rep.coap_code, IT_COAP(4, 4));
  assert_non_null(strstr(rep.reason, "voucher"));
  assert_only_refusal(f, &s, "refuse.voucher", "no-voucher");
  it_device_free(&x);
  assert_still_serves(f);
}

static void forged_voucher(void **state)
{
  fixture_t *f = *state;
  printf("  forged vouchers (another key claiming to be ACME; a flipped signature byte): import refused\n");
  stw_factory_t *forger = NULL;
  assert_int_equal(stw_factory_new("ACME", &forger), STW_OK);
  it_device_t x;
  assert_int_equal(it_device_imprint(f->w.mfg, "thermo-1", false, &x), STW_OK);
  assert_int_equal(it_device_voucher(&f->w, forger, &x, NULL, 0), STW_OK);
  snapshot_t s = snapshot(f, x.im.id);
  char diag[192];
  stw_status_t st = it_device_import(&f->w, &x, diag, sizeof(diag));
  printf("    signed by another key: %s \"%s\"\n", stw_status_str(st), diag);
  assert_int_equal(st, STW_ERR_UNTRUSTED);
  assert_true(strlen(diag) > 0);
  assert_only_refusal(f, &s, "refuse.voucher-import", "voucher-untrusted");

  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &x, NULL, 0), STW_OK);
  x.voucher.data[x.voucher.len - 1] ^= 0x01; /* last byte of the signature */
  s = snapshot(f, x.im.id);
  st = it_device_import(&f->w, &x, diag, sizeof(diag));
  printf("    tampered signature: %s \"%s\"\n", stw_status_str(st), diag);
  assert_int_equal(st, STW_ERR_UNTRUSTED);
  assert_only_refusal(f, &s, "refuse.voucher-import", "voucher-untrusted");
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  assert_int_equal(stw_store_voucher_get(f->w.store, x.im.id, &raw, &raw_len), STW_ERR_NOT_FOUND);

  s = snapshot(f, x.im.id);
  stw_bootstrap_report_t rep;
  st = stw_bootstrap(x.dev, f->d.uri, &rep);
  print_report("bootstrap", st, &rep);
  assert_int_equal(st, STW_ERR_NOT_FOUND);
  assert_int_equal(rep.coap_code, IT_COAP(4, 4));
  assert_non_null(strstr(rep.reason, "voucher"));
  assert_only_refusal(f, &s, "refuse.voucher", "no-voucher");
  it_device_free(&x);
  stw_factory_free(forger);
  assert_still_serves(f);
}

static void device_checks_the_voucher(void **state)
{
  fixture_t *f = *state;
  printf("  a daemon serving a voucher for another device, or for another owner: the DEVICE refuses, no CSR sent\n");
  it_device_t a, b;
  assert_int_equal(it_device_new(&f->w, "thermo-1", false, &a), STW_OK);
  assert_int_equal(it_device_new(&f->w, "thermo-1", false, &b), STW_OK);
  assert_int_equal(stw_store_voucher_put(f->w.store, b.im.id, a.voucher.data, a.voucher.len), STW_OK);
  snapshot_t s = snapshot(f, b.im.id);
  stw_bootstrap_report_t rep;
  stw_status_t st = stw_bootstrap(b.dev, f->d.uri, &rep);
  print_report("B given A's voucher", st, &rep);
  assert_int_equal(st, STW_ERR_UNTRUSTED);
  assert_string_equal(rep.reason, "voucher is for another device");
  assert_int_equal(stw_dev_state(b.dev), STW_DEV_FACTORY);
  assert_int_equal(it_audit_count(f->w.store, s.audit, NULL, NULL, NULL, NULL), 0);
  assert_int_equal(it_device_state(f->w.store, b.im.id), STW_STATE_MANUFACTURED);
  assert_int_equal(it_serial_count(f->w.store), s.serials);
  printf("    no enroll or refuse.enroll record: the CSR never left the device\n");

  stw_key_t *other = NULL;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_generate(&other), STW_OK);
  assert_int_equal(stw_key_spki(other, spki, &spki_len), STW_OK);
  stw_key_free(other);
  it_device_t b2;  /* b's voucher, but naming another owner */
  memset(&b2, 0, sizeof(b2));
  stw_buf_init(&b2.voucher, STW_VOUCHER_MAX);
  b2.im = b.im;
  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &b2, spki, spki_len), STW_OK);
  assert_int_equal(stw_store_voucher_put(f->w.store, b.im.id, b2.voucher.data, b2.voucher.len), STW_OK);
  memset(&b2.im, 0, sizeof(b2.im)); /* b owns the imprint */
  s = snapshot(f, b.im.id);
  st = stw_bootstrap(b.dev, f->d.uri, &rep);
  print_report("B given a voucher for another owner", st, &rep);
  assert_int_equal(st, STW_ERR_UNTRUSTED);
  assert_non_null(strstr(rep.reason, "not certified by the domain CA the voucher pins"));
  assert_int_equal(stw_dev_state(b.dev), STW_DEV_FACTORY);
  assert_int_equal(it_audit_count(f->w.store, s.audit, NULL, NULL, NULL, NULL), 0);
  assert_int_equal(it_device_state(f->w.store, b.im.id), STW_STATE_MANUFACTURED);
  assert_int_equal(it_serial_count(f->w.store), s.serials);
  stw_buf_free(&b2.voucher, false);

  printf("    with its own voucher back in place, B enrolls\n");
  assert_int_equal(stw_store_voucher_put(f->w.store, b.im.id, b.voucher.data, b.voucher.len), STW_OK);
  assert_int_equal(stw_bootstrap(b.dev, f->d.uri, &rep), STW_OK);
  assert_int_equal(it_device_state(f->w.store, b.im.id), STW_STATE_BOOTSTRAPPED);
  it_device_free(&a);
  it_device_free(&b);
}

static void decommissioned_device(void **state)
{
  fixture_t *f = *state;
  printf("  a device decommissioned while the daemon runs: /sen and /sren refused 4.03 decommissioned\n");
  it_device_t x;
  assert_int_equal(it_device_new(&f->w, "thermo-1", false, &x), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_bootstrap(x.dev, f->d.uri, &rep), STW_OK);
  stw_state_t next;
  assert_int_equal(stw_store_transition(f->w.store, x.im.id, STW_EV_DECOMMISSION, "admin", "integration test", &next),
                   STW_OK);
  assert_int_equal(next, STW_STATE_DECOMMISSIONED);

  snapshot_t s = snapshot(f, x.im.id);
  stw_status_t st = stw_reenroll(x.dev, f->d.uri, &rep);
  print_report("renewal with the LDevID", st, &rep);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(rep.reason, "decommissioned"));
  assert_only_refusal(f, &s, "refuse.reenroll", "decommissioned");

  stw_dev_t *again = NULL;  /* the same IDevID, bootstrapping from scratch */
  assert_int_equal(it_device_reopen(&f->w, &x, &again), STW_OK);
  s = snapshot(f, x.im.id);
  st = stw_bootstrap(again, f->d.uri, &rep);
  print_report("bootstrap with the IDevID", st, &rep);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(rep.reason, "decommissioned"));
  assert_only_refusal(f, &s, "refuse.enroll", "decommissioned");
  stw_dev_close(again);
  it_device_free(&x);
  assert_still_serves(f);
}

static void reused_bootstrap_psk(void **state)
{
  fixture_t *f = *state;
  printf("  the bootstrap PSK used again after enrollment: 4.01 psk-retired\n");
  it_device_t t;
  assert_int_equal(it_device_imprint(f->w.mfg, "tag-1", true, &t), STW_OK);
  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &t, NULL, 0), STW_OK);
  char diag[192];
  assert_int_equal(it_device_import(&f->w, &t, diag, sizeof(diag)), STW_OK);
  assert_int_equal(it_allow_device(&f->w, t.im.id), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_bootstrap(t.dev, f->d.uri, &rep), STW_OK);
  stw_dev_t *clone = NULL;
  assert_int_equal(it_device_reopen(&f->w, &t, &clone), STW_OK);
  snapshot_t s = snapshot(f, t.im.id);
  stw_status_t st = stw_bootstrap(clone, f->d.uri, &rep);
  print_report("bootstrap PSK again", st, &rep);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_true(strlen(rep.reason) > 0);
  assert_only_refusal(f, &s, "refuse.enroll.psk", "psk-retired");
  stw_dev_close(clone);
  it_device_free(&t);
  assert_still_serves(f);
}

/* ---- raw requests with libcoap's coap-client --------------------------------------- */

typedef struct {
  it_device_t dev;
  char cert[IT_PATH_MAX + 64], key[IT_PATH_MAX + 64], csr[IT_PATH_MAX + 64], out[IT_PATH_MAX + 64];
} raw_device_t;

static void raw_device_new(fixture_t *f, raw_device_t *r)
{
  memset(r, 0, sizeof(*r));
  assert_int_equal(it_device_new(&f->w, "thermo-1", false, &r->dev), STW_OK);
  unsigned n = f->files++;
  snprintf(r->cert, sizeof(r->cert), "%s/raw%u-cert.pem", f->w.root, n);
  snprintf(r->key, sizeof(r->key), "%s/raw%u-key.pem", f->w.root, n);
  snprintf(r->csr, sizeof(r->csr), "%s/raw%u.csr", f->w.root, n);
  snprintf(r->out, sizeof(r->out), "%s/raw%u.crt", f->w.root, n);
  assert_int_equal(it_device_write_idevid(&r->dev, r->cert, r->key), STW_OK);
}

/* A CSR (DER) for a fresh key, or for key when not NULL, with subject CN cn. */
static void make_csr(const stw_key_t *key, const char *cn, stw_buf_t *out)
{
  stw_key_t *fresh = NULL;
  if (key == NULL) {
    assert_int_equal(stw_key_generate(&fresh), STW_OK);
    key = fresh;
  }
  stw_buf_init(out, STW_CSR_MAX);
  assert_int_equal(stw_csr_create(key, cn, out), STW_OK);
  stw_key_free(fresh);
}

/* POST body to /sen with the IDevID; returns coap-client's result. */
static void post_sen(fixture_t *f, raw_device_t *r, const void *body, size_t len, int content_format,
                     it_tool_result_t *res)
{
  assert_int_equal(it_write_file(r->csr, body, len), STW_OK);
  remove(r->out);
  assert_int_equal(it_coap_client(&f->d, r->cert, r->key, "post", ".well-known/est/sen", content_format, 287,
                                  r->csr, r->out, res),
                   STW_OK);
  printf("    coap-client: exit %d, code %u.%02u, output \"%.*s\"\n", res->exit_code, res->code >> 5, res->code & 31,
         (int)strcspn(res->output, "\n"), res->output);
}

/* The whole refusal check for one bad /sen request. */
static void sen_refused(fixture_t *f, const void *body, size_t len, int content_format, unsigned want_code,
                        const char *want_outcome, const char *want_diag)
{
  raw_device_t r;
  raw_device_new(f, &r);
  snapshot_t s = snapshot(f, r.dev.im.id);
  it_tool_result_t res;
  post_sen(f, &r, body, len, content_format, &res);
  assert_int_equal(res.code, want_code);
  assert_non_null(strstr(res.output, want_diag));
  size_t out_len = 0;
  uint8_t *out = it_read_file(r.out, &out_len);
  assert_true(out == NULL || out_len == 0); /* no certificate */
  free(out);
  assert_only_refusal(f, &s, "refuse.enroll", want_outcome);
  it_device_free(&r.dev);
  assert_still_serves(f);
}

static void csr_malformed(void **state)
{
  printf("  /sen with bytes that are not a CSR: 4.00 csr-malformed\n");
  static const char junk[] = "this is not a PKCS#10 request, just text pretending to be one";
  sen_refused(*state, junk, sizeof(junk) - 1, 286, IT_COAP(4, 0), "csr-malformed", "does not parse");
}

static void csr_truncated(void **state)
{
  fixture_t *f = *state;
  printf("  /sen with a CSR cut short by 12 bytes: 4.00 csr-malformed\n");
  stw_buf_t csr;
  make_csr(NULL, "anything", &csr);
  sen_refused(f, csr.data, csr.len - 12, 286, IT_COAP(4, 0), "csr-malformed", "does not parse");
  stw_buf_free(&csr, false);
}

static void csr_bad_signature(void **state)
{
  fixture_t *f = *state;
  printf("  /sen with a CSR whose signature has one flipped bit: 4.00 csr-bad-signature\n");
  /* The CN must not matter: the signature is checked first. */
  stw_buf_t csr;
  make_csr(NULL, "0123456789abcdef0123456789abcdef", &csr);
  csr.data[csr.len - 1] ^= 0x01;
  sen_refused(f, csr.data, csr.len, 286, IT_COAP(4, 0), "csr-bad-signature", "signature");
  stw_buf_free(&csr, false);
}

static void csr_other_identity(void **state)
{
  fixture_t *f = *state;
  printf("  /sen with a well-signed CSR naming another device: 4.03 csr-other-identity\n");
  stw_buf_t csr;
  make_csr(NULL, "00112233445566778899aabbccddeeff", &csr);
  sen_refused(f, csr.data, csr.len, 286, IT_COAP(4, 3), "csr-other-identity", "CN must be");
  stw_buf_free(&csr, false);
}

static void csr_reuses_idevid_key(void **state)
{
  fixture_t *f = *state;
  printf("  /sen with a CSR for the IDevID key itself: 4.03 csr-reused-key\n");
  raw_device_t r;
  raw_device_new(f, &r);
  size_t key_len = 0;
  uint8_t *key_pem = it_read_file(r.key, &key_len);
  assert_non_null(key_pem);
  stw_key_t *idevid_key = NULL;
  assert_int_equal(stw_key_import_pem(key_pem, key_len, &idevid_key), STW_OK);
  free(key_pem);
  stw_buf_t csr;
  make_csr(idevid_key, r.dev.im.id, &csr);
  stw_key_free(idevid_key);
  snapshot_t s = snapshot(f, r.dev.im.id);
  it_tool_result_t res;
  post_sen(f, &r, csr.data, csr.len, 286, &res);
  assert_int_equal(res.code, IT_COAP(4, 3));
  assert_non_null(strstr(res.output, "fresh key"));
  assert_only_refusal(f, &s, "refuse.enroll", "csr-reused-key");
  stw_buf_free(&csr, false);
  it_device_free(&r.dev);
  assert_still_serves(f);
}

static void payload_too_large(void **state)
{
  fixture_t *f = *state;
  printf("  /sen with 9000 bytes sent block-wise: 4.13 payload-too-large\n");
  uint8_t *big = malloc(9000);
  assert_non_null(big);
  memset(big, 0x30, 9000);
  sen_refused(f, big, 9000, 286, IT_COAP(4, 13), "payload-too-large", "8192");
  free(big);
}

static void wrong_content_format(void **state)
{
  fixture_t *f = *state;
  printf("  /sen with a valid CSR labelled application/cbor (60): 4.15 content-format\n");
  raw_device_t r;
  raw_device_new(f, &r);
  stw_buf_t csr;
  make_csr(NULL, r.dev.im.id, &csr);
  snapshot_t s = snapshot(f, r.dev.im.id);
  it_tool_result_t res;
  post_sen(f, &r, csr.data, csr.len, 60, &res);
  assert_int_equal(res.code, IT_COAP(4, 15));
  assert_non_null(strstr(res.output, "286"));
  assert_only_refusal(f, &s, "refuse.enroll", "content-format");

  printf("    the same CSR labelled 286 enrolls the same device\n");
  post_sen(f, &r, csr.data, csr.len, 286, &res);
  assert_int_equal(res.code, 0);
  assert_int_equal(res.exit_code, 0);
  assert_int_equal(it_device_state(f->w.store, r.dev.im.id), STW_STATE_BOOTSTRAPPED);
  stw_buf_free(&csr, false);
  it_device_free(&r.dev);
}

static void second_sen_after_success(void **state)
{
  fixture_t *f = *state;
  printf("  /sen again after success: identical CSR -> 2.04 and the same certificate; another CSR -> 4.03\n");
  raw_device_t r;
  raw_device_new(f, &r);
  stw_buf_t csr1, csr2;
  make_csr(NULL, r.dev.im.id, &csr1);
  make_csr(NULL, r.dev.im.id, &csr2);
  it_tool_result_t res;
  post_sen(f, &r, csr1.data, csr1.len, 286, &res);
  assert_int_equal(res.code, 0);
  size_t cert1_len = 0;
  uint8_t *cert1 = it_read_file(r.out, &cert1_len);
  assert_non_null(cert1);
  stw_cert_info_t info;
  assert_int_equal(stw_cert_parse(cert1, cert1_len, &info), STW_OK);
  assert_string_equal(info.serial_number, r.dev.im.id);
  assert_int_equal(stw_cert_verify_issued_by(cert1, cert1_len, f->w.domain->ca_der.data, f->w.domain->ca_der.len,
                                             stw_now()),
                   STW_OK);
  printf("    first /sen: certificate serial %s\n", info.serial_hex);

  snapshot_t s = snapshot(f, r.dev.im.id);
  assert_int_equal(s.state, STW_STATE_BOOTSTRAPPED);
  post_sen(f, &r, csr1.data, csr1.len, 286, &res);
  assert_int_equal(res.code, 0);
  size_t cert2_len = 0;
  uint8_t *cert2 = it_read_file(r.out, &cert2_len);
  assert_non_null(cert2);
  assert_int_equal(cert2_len, cert1_len);
  assert_memory_equal(cert2, cert1, cert1_len);
  printf("    identical retry: the same %zu certificate bytes, serials still %" PRIu64 ", no audit record\n",
         cert2_len, it_serial_count(f->w.store));
  assert_int_equal(it_serial_count(f->w.store), s.serials);
  assert_int_equal(it_audit_last(f->w.store), s.audit);
  free(cert2);

  post_sen(f, &r, csr2.data, csr2.len, 286, &res);
  assert_int_equal(res.code, IT_COAP(4, 3));
  assert_non_null(strstr(res.output, "already enrolled"));
  assert_only_refusal(f, &s, "refuse.enroll", "already-enrolled");
  stw_device_t d;
  assert_int_equal(stw_store_device_get(f->w.store, r.dev.im.id, &d), STW_OK);
  assert_string_equal(d.ldevid_serial, info.serial_hex);
  assert_int_equal(d.ldevid_len, cert1_len);
  assert_memory_equal(d.ldevid, cert1, cert1_len);
  stw_device_clear(&d);
  free(cert1);
  stw_buf_free(&csr1, false);
  stw_buf_free(&csr2, false);
  it_device_free(&r.dev);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(unknown_manufacturer),
    cmocka_unit_test(not_allowed_by_policy),
    cmocka_unit_test(voucher_for_another_owner),
    cmocka_unit_test(forged_voucher),
    cmocka_unit_test(device_checks_the_voucher),
    cmocka_unit_test(csr_malformed),
    cmocka_unit_test(csr_truncated),
    cmocka_unit_test(csr_bad_signature),
    cmocka_unit_test(csr_other_identity),
    cmocka_unit_test(csr_reuses_idevid_key),
    cmocka_unit_test(payload_too_large),
    cmocka_unit_test(wrong_content_format),
    cmocka_unit_test(second_sen_after_success),
    cmocka_unit_test(decommissioned_device),
    cmocka_unit_test(reused_bootstrap_psk),
  };
  return cmocka_run_group_tests_name("it_refusals", tests, setup, teardown);
}
