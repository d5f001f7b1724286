/* Zero-touch bootstrapping end to end: the real daemon on loopback, devices
 * driven through the SDK, the outcome read back from the daemon's own store. */
#include <dirent.h>
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
  printf("    SIGTERM: the daemon must commit what it promised and exit 0 (no leak)\n");
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

/* The LDevID in the store, as DER, must chain to the domain CA. */
static void assert_ldevid_in_store(fixture_t *f, const char *id, const char *serial)
{
  stw_device_t d;
  assert_int_equal(stw_store_device_get(f->w.store, id, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_BOOTSTRAPPED);
  assert_string_equal(d.ldevid_serial, serial);
  assert_non_null(d.ldevid);
  assert_int_equal(stw_cert_verify_issued_by(d.ldevid, d.ldevid_len, f->w.domain->ca_der.data,
                                             f->w.domain->ca_der.len, stw_now()),
                   STW_OK);
  stw_cert_info_t info;
  assert_int_equal(stw_cert_parse(d.ldevid, d.ldevid_len, &info), STW_OK);
  assert_string_equal(info.serial_number, id);
  assert_string_equal(info.organization, "home.example");
  stw_device_clear(&d);
}

static void x509_device_bootstraps(void **state)
{
  fixture_t *f = *state;
  it_device_t a;
  printf("  X.509 device: IDevID + voucher -> LDevID, name, BOOTSTRAPPED, audited\n");
  assert_int_equal(it_device_new(&f->w, "thermo-1", false, &a), STW_OK);
  const char *id = stw_dev_id(a.dev);
  assert_string_equal(id, a.im.id);
  uint64_t audit_before = it_audit_last(f->w.store);
  uint64_t serials_before = it_serial_count(f->w.store);
  assert_int_equal(it_device_state(f->w.store, id), STW_STATE_MANUFACTURED);
  assert_int_equal(stw_dev_state(a.dev), STW_DEV_FACTORY);
  assert_string_equal(stw_dev_cert_serial(a.dev), "");

  stw_bootstrap_report_t rep;
  stw_status_t st = stw_bootstrap(a.dev, f->d.uri, &rep);
  printf("    bootstrap: %s, code %u.%02u, %s, %.1f ms\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31, rep.reason, (double)rep.latency_us / 1000.0);
  assert_int_equal(st, STW_OK);
  assert_int_equal(rep.coap_code, IT_COAP(2, 4));

  printf("    device side: enrolled, name \"%s\", serial %s\n", stw_dev_name(a.dev), stw_dev_cert_serial(a.dev));
  assert_int_equal(stw_dev_state(a.dev), STW_DEV_ENROLLED);
  char want_name[64];
  snprintf(want_name, sizeof(want_name), "thermo-1-%.8s", id);
  assert_string_equal(stw_dev_name(a.dev), want_name);
  assert_int_equal(strlen(stw_dev_cert_serial(a.dev)), 32);
  int64_t now = stw_now();
  assert_true(stw_dev_cert_not_before(a.dev) <= now);
  assert_true(stw_dev_cert_not_after(a.dev) > now + 80 * 86400); /* default lifetime 90 days */

  printf("    store side: BOOTSTRAPPED, same serial, LDevID chains to the domain CA, one serial more\n");
  assert_ldevid_in_store(f, id, stw_dev_cert_serial(a.dev));
  assert_int_equal(it_serial_count(f->w.store), serials_before + 1);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(f->w.store, id, &d), STW_OK);
  assert_string_equal(d.name, want_name);
  assert_string_equal(d.model, "thermo-1");
  stw_device_clear(&d);

  printf("    audit: enroll ok + transition MANUFACTURED->BOOTSTRAPPED, chain verifies\n");
  it_audit_print(f->w.store, audit_before);
  stw_audit_t rec;
  assert_int_equal(it_audit_count(f->w.store, audit_before, "enroll", id, "ok", &rec), 1);
  assert_non_null(strstr(rec.detail, stw_dev_cert_serial(a.dev)));
  assert_int_equal(it_audit_count(f->w.store, audit_before, "transition", id, NULL, &rec), 1);
  assert_non_null(strstr(rec.detail, "BOOTSTRAPPED"));
  assert_int_equal(it_audit_count(f->w.store, audit_before, NULL, NULL, NULL, NULL), 2);
  uint64_t checked = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(f->w.store, &checked, &bad), STW_OK);
  assert_true(checked >= audit_before + 2);

  printf("    bootstrapping again is a no-op on the device (already enrolled), the store is unchanged\n");
  uint64_t audit_mid = it_audit_last(f->w.store);
  assert_int_equal(stw_bootstrap(a.dev, f->d.uri, &rep), STW_OK);
  assert_int_equal(it_serial_count(f->w.store), serials_before + 1);
  assert_int_equal(it_audit_last(f->w.store), audit_mid);
  it_device_free(&a);
}

static void psk_device_bootstraps_and_retires_its_bootstrap_psk(void **state)
{
  fixture_t *f = *state;
  it_device_t t;
  printf("  PSK device: bootstrap PSK -> operational PSK; first use retires the bootstrap PSK\n");
  assert_int_equal(it_device_imprint(f->w.mfg, "tag-1", true, &t), STW_OK);
  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &t, NULL, 0), STW_OK);
  char diag[192];
  assert_int_equal(it_device_import(&f->w, &t, diag, sizeof(diag)), STW_OK);
  const char *id = stw_dev_id(t.dev);
  assert_true(stw_dev_uses_psk(t.dev));
  assert_int_equal(it_allow_device(&f->w, id), STW_OK);
  stw_psk_t boot;
  assert_int_equal(stw_store_psk_get(f->w.store, t.im.psk_identity, &boot), STW_OK);
  assert_true(boot.active);
  assert_int_equal(boot.kind, STW_PSK_BOOTSTRAP);
  uint64_t audit_before = it_audit_last(f->w.store);
  uint64_t serials_before = it_serial_count(f->w.store);

  stw_bootstrap_report_t rep;
  stw_status_t st = stw_bootstrap(t.dev, f->d.uri, &rep);
  printf("    bootstrap: %s, code %u.%02u %s, name \"%s\"\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31, rep.reason, stw_dev_name(t.dev));
  assert_int_equal(st, STW_OK);
  assert_int_equal(stw_dev_state(t.dev), STW_DEV_ENROLLED);
  /* A PSK device's model reaches the domain through its voucher. */
  char want_name[64];
  snprintf(want_name, sizeof(want_name), "tag-1-%.8s", id);
  assert_string_equal(stw_dev_name(t.dev), want_name);

  printf("    store: BOOTSTRAPPED, operational PSK active, bootstrap PSK inactive, no certificate serial\n");
  stw_device_t d;
  assert_int_equal(stw_store_device_get(f->w.store, id, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_BOOTSTRAPPED);
  assert_int_equal(d.cred_kind, STW_CRED_PSK);
  assert_string_equal(d.name, stw_dev_name(t.dev));
  stw_psk_t op;
  assert_int_equal(stw_store_psk_get(f->w.store, d.psk_identity, &op), STW_OK);
  assert_int_equal(op.kind, STW_PSK_OPERATIONAL);
  assert_true(op.active);
  assert_string_equal(op.device_id, id);
  stw_device_clear(&d);
  assert_int_equal(stw_store_psk_get(f->w.store, t.im.psk_identity, &boot), STW_OK);
  assert_false(boot.active);
  assert_int_equal(it_serial_count(f->w.store), serials_before);
  it_audit_print(f->w.store, audit_before);
  assert_int_equal(it_audit_count(f->w.store, audit_before, "enroll.psk", id, "ok", NULL), 1);
  assert_int_equal(it_audit_count(f->w.store, audit_before, "retire.bootstrap-psk", id, "ok", NULL), 1);
  assert_int_equal(it_audit_count(f->w.store, audit_before, "transition", id, NULL, NULL), 1);

  printf("    the operational PSK keeps working (a fresh DTLS-PSK session reads the anchors)\n");
  uint64_t audit_mid = it_audit_last(f->w.store);
  st = stw_bootstrap(t.dev, f->d.uri, &rep);
  printf("    operational PSK: %s, code %u.%02u\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31);
  assert_int_equal(st, STW_OK);
  /* A success class; the daemon answers this GET with 2.04 where RFC 9148 has 2.05. */
  assert_int_equal(rep.coap_code >> 5, 2);
  assert_int_equal(it_audit_last(f->w.store), audit_mid);

  printf("    the bootstrap PSK, used again (a clone with the factory secret), gets 4.01 psk-retired\n");
  stw_dev_t *clone = NULL;
  assert_int_equal(it_device_reopen(&f->w, &t, &clone), STW_OK);
  st = stw_bootstrap(clone, f->d.uri, &rep);
  printf("    clone: %s, code %u.%02u, \"%s\"\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31,
         rep.reason);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_non_null(strstr(rep.reason, "no longer works"));
  assert_int_equal(stw_dev_state(clone), STW_DEV_FACTORY);
  stw_audit_t rec;
  assert_int_equal(it_audit_count(f->w.store, audit_mid, "refuse.enroll.psk", id, "psk-retired", &rec), 1);
  assert_int_equal(it_audit_count(f->w.store, audit_mid, NULL, NULL, NULL, NULL), 1);
  assert_int_equal(it_device_state(f->w.store, id), STW_STATE_BOOTSTRAPPED);
  stw_dev_close(clone);
  it_device_free(&t);
}

/* Copy every file of a device folder (a snapshot of the device as it is). */
static void copy_folder(const char *from, const char *to)
{
  assert_int_equal(stw_mkdir_p(to, 0700), STW_OK);
  DIR *dir = opendir(from);
  assert_non_null(dir);
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char src[IT_PATH_MAX * 2], dst[IT_PATH_MAX * 2];
    snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
    snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
    size_t len = 0;
    uint8_t *data = it_read_file(src, &len);
    assert_non_null(data);
    assert_int_equal(it_write_file(dst, data, len), STW_OK);
    free(data);
  }
  closedir(dir);
}

static void reenroll_supersedes_the_old_ldevid(void **state)
{
  fixture_t *f = *state;
  printf("  renewal over /sren: new serial, same name; the superseded LDevID can no longer renew\n");
  /* A device kept in a folder, as `steward mfg imprint` writes it. */
  stw_imprint_t im;
  char dir[IT_PATH_MAX + 32], snapshot[IT_PATH_MAX + 32], diag[192], vid[STW_ID_HEX];
  snprintf(dir, sizeof(dir), "%s/dev-renew", f->w.root);
  snprintf(snapshot, sizeof(snapshot), "%s/dev-renew-old", f->w.root);
  assert_int_equal(stw_factory_imprint(f->w.mfg, "thermo-1", false, &im), STW_OK);
  assert_int_equal(stw_imprint_save(f->w.mfg, &im, dir), STW_OK);
  stw_buf_t voucher;
  stw_buf_init(&voucher, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(f->w.mfg, &im, f->w.domain->ca.spki, f->w.domain->ca.spki_len, 86400,
                                       &voucher), STW_OK);
  assert_int_equal(stw_enroll_import_voucher(f->w.store, f->w.domain, voucher.data, voucher.len, vid, diag,
                                             sizeof(diag)), STW_OK);
  stw_buf_free(&voucher, false);

  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(dir, &dev), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_bootstrap(dev, f->d.uri, &rep), STW_OK);
  char id[STW_ID_HEX], first[48], name[64];
  snprintf(id, sizeof(id), "%s", stw_dev_id(dev));
  snprintf(first, sizeof(first), "%s", stw_dev_cert_serial(dev));
  snprintf(name, sizeof(name), "%s", stw_dev_name(dev));
  int64_t first_not_after = stw_dev_cert_not_after(dev);
  stw_dev_close(dev);
  copy_folder(dir, snapshot); /* the device as it was with its first LDevID */

  uint64_t audit_before = it_audit_last(f->w.store);
  uint64_t serials_before = it_serial_count(f->w.store);
  assert_int_equal(stw_dev_open(dir, &dev), STW_OK);
  assert_int_equal(stw_dev_state(dev), STW_DEV_ENROLLED);
  stw_status_t st = stw_reenroll(dev, f->d.uri, &rep);
  printf("    reenroll: %s, code %u.%02u, serial %s -> %s\n", stw_status_str(st), rep.coap_code >> 5,
         rep.coap_code & 31, first, stw_dev_cert_serial(dev));
  assert_int_equal(st, STW_OK);
  assert_int_equal(rep.coap_code, IT_COAP(2, 4));
  assert_string_not_equal(stw_dev_cert_serial(dev), first);
  assert_int_equal(strlen(stw_dev_cert_serial(dev)), 32);
  assert_string_equal(stw_dev_name(dev), name);
  assert_true(stw_dev_cert_not_after(dev) >= first_not_after);
  assert_ldevid_in_store(f, id, stw_dev_cert_serial(dev));
  assert_int_equal(it_serial_count(f->w.store), serials_before + 1);
  assert_int_equal(it_audit_count(f->w.store, audit_before, "reenroll", id, "ok", NULL), 1);
  char second[48];
  snprintf(second, sizeof(second), "%s", stw_dev_cert_serial(dev));
  stw_dev_close(dev);

  printf("    the new LDevID persisted in the folder: reopened, it renews again\n");
  assert_int_equal(stw_dev_open(dir, &dev), STW_OK);
  assert_string_equal(stw_dev_cert_serial(dev), second);
  stw_dev_close(dev);

  printf("    the snapshot with the superseded LDevID tries /sren: 4.01 ldevid-superseded\n");
  uint64_t audit_mid = it_audit_last(f->w.store);
  uint64_t serials_mid = it_serial_count(f->w.store);
  assert_int_equal(stw_dev_open(snapshot, &dev), STW_OK);
  assert_string_equal(stw_dev_cert_serial(dev), first);
  st = stw_reenroll(dev, f->d.uri, &rep);
  printf("    old LDevID: %s, code %u.%02u, \"%s\"\n", stw_status_str(st), rep.coap_code >> 5, rep.coap_code & 31,
         rep.reason);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED);
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  assert_non_null(strstr(rep.reason, "replaced"));
  assert_string_equal(stw_dev_cert_serial(dev), first);
  stw_dev_close(dev);
  it_audit_print(f->w.store, audit_mid);
  assert_int_equal(it_audit_count(f->w.store, audit_mid, "refuse.reenroll", id, "ldevid-superseded", NULL), 1);
  assert_int_equal(it_audit_count(f->w.store, audit_mid, NULL, NULL, NULL, NULL), 1);
  assert_int_equal(it_serial_count(f->w.store), serials_mid);
  assert_ldevid_in_store(f, id, second);
  stw_imprint_clear(&im);
}

static void reenroll_if_due(void **state)
{
  fixture_t *f = *state;
  it_device_t a;
  printf("  stw_reenroll_if_due: share 0.99 of the validity not reached -> no renewal; share 0.0 -> renews\n");
  assert_int_equal(it_device_new(&f->w, "thermo-1", false, &a), STW_OK);
  stw_bootstrap_report_t rep;
  assert_int_equal(stw_bootstrap(a.dev, f->d.uri, &rep), STW_OK);
  char first[48];
  snprintf(first, sizeof(first), "%s", stw_dev_cert_serial(a.dev));
  uint64_t serials_before = it_serial_count(f->w.store);
  uint64_t audit_before = it_audit_last(f->w.store);

  bool renewed = true;
  assert_int_equal(stw_reenroll_if_due(a.dev, f->d.uri, 0.99, stw_now(), &renewed, &rep), STW_OK);
  printf("    share 0.99: renewed=%s, serial %s\n", renewed ? "yes" : "no", stw_dev_cert_serial(a.dev));
  assert_false(renewed);
  assert_string_equal(stw_dev_cert_serial(a.dev), first);
  assert_int_equal(it_serial_count(f->w.store), serials_before);
  assert_int_equal(it_audit_last(f->w.store), audit_before);

  renewed = false;
  assert_int_equal(stw_reenroll_if_due(a.dev, f->d.uri, 0.0, stw_now(), &renewed, &rep), STW_OK);
  printf("    share 0.0: renewed=%s, serial %s\n", renewed ? "yes" : "no", stw_dev_cert_serial(a.dev));
  assert_true(renewed);
  assert_string_not_equal(stw_dev_cert_serial(a.dev), first);
  assert_int_equal(it_serial_count(f->w.store), serials_before + 1);
  assert_ldevid_in_store(f, stw_dev_id(a.dev), stw_dev_cert_serial(a.dev));
  assert_int_equal(it_audit_count(f->w.store, audit_before, "reenroll", stw_dev_id(a.dev), "ok", NULL), 1);

  printf("    share 0.99 evaluated at the end of the validity: due -> renews\n");
  renewed = false;
  char second[48];
  snprintf(second, sizeof(second), "%s", stw_dev_cert_serial(a.dev));
  assert_int_equal(stw_reenroll_if_due(a.dev, f->d.uri, 0.99, stw_dev_cert_not_after(a.dev), &renewed, &rep),
                   STW_OK);
  assert_true(renewed);
  assert_string_not_equal(stw_dev_cert_serial(a.dev), second);
  assert_int_equal(it_serial_count(f->w.store), serials_before + 2);

  printf("    stw_bootstrap on an enrolled device: nothing before the renewal share, a renewal after it\n");
  char third[48];
  snprintf(third, sizeof(third), "%s", stw_dev_cert_serial(a.dev));
  assert_int_equal(stw_bootstrap(a.dev, f->d.uri, &rep), STW_OK);
  assert_string_equal(stw_dev_cert_serial(a.dev), third);
  assert_int_equal(it_serial_count(f->w.store), serials_before + 2);
  assert_int_equal(stw_dev_set_renewal_share(a.dev, 0.0), STW_ERR_INVALID);
  assert_int_equal(stw_dev_set_renewal_share(a.dev, 1e-9), STW_OK);
  assert_int_equal(stw_bootstrap(a.dev, f->d.uri, &rep), STW_OK);
  assert_string_not_equal(stw_dev_cert_serial(a.dev), third);
  assert_int_equal(it_serial_count(f->w.store), serials_before + 3);
  assert_ldevid_in_store(f, stw_dev_id(a.dev), stw_dev_cert_serial(a.dev));
  it_device_free(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(x509_device_bootstraps),
    cmocka_unit_test(psk_device_bootstraps_and_retires_its_bootstrap_psk),
    cmocka_unit_test(reenroll_supersedes_the_old_ldevid),
    cmocka_unit_test(reenroll_if_due),
  };
  return cmocka_run_group_tests_name("it_bootstrap", tests, setup, teardown);
}
