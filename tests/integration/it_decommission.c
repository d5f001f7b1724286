/* Decommissioning and ownership transfer (issue 6 §6), through the real
 * daemon, the real `steward admin` and the SDK: a gateway with its folder on
 * disk enrolls, registers, holds a token its meter accepts, and has personal
 * attributes and context. `steward admin decommission` retires it while the
 * daemon runs. Then: the handshake with its old LDevID is refused (SDK and
 * coap-client), the CRL the daemon serves lists it, the meter refuses its
 * token, enrolling with its IDevID is refused 4.03, and no row of the store
 * names its people. After the SDK's factory reset it is refused until the
 * new owner imports a new voucher; then it bootstraps again, a new life. */
#define _GNU_SOURCE  /* memmem */
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"
#include "authz/context.h"
#include "steward/discovery.h"
#include "steward/thing.h"
#include "steward/token.h"

static const char *const personal[] = { "Alice Liddell", "7 Rue des Lilas", "alice-away-until-friday" };

typedef struct {
  it_world_t w;
  it_daemon_t d;
  it_device_t meter, gw;
  it_meter_t m;
  char meter_uri[64];
  char gw_dir[IT_PATH_MAX];
  stw_dev_t *gw_dev;          /* the gateway, from its folder */
} fixture_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(it_home_start(&f->w, NULL, &f->d), STW_OK);
  assert_int_equal(it_device_enrolled(&f->w, f->d.uri, "meter-1", &f->meter), STW_OK);
  assert_int_equal(it_meter_serve(f->meter.dev, f->d.uri, &f->m, f->meter_uri, sizeof(f->meter_uri)), STW_OK);

  /* The gateway lives in a folder, as `steward mfg imprint` leaves it. */
  assert_int_equal(it_device_new(&f->w, "gateway-1", false, &f->gw), STW_OK);
  snprintf(f->gw_dir, sizeof(f->gw_dir), "%s/gateway", f->w.root);
  assert_int_equal(stw_imprint_save(f->w.mfg, &f->gw.im, f->gw_dir), STW_OK);
  assert_int_equal(stw_dev_open(f->gw_dir, &f->gw_dev), STW_OK);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  it_meter_free(&f->m);
  stw_dev_close(f->gw_dev);
  it_device_free(&f->meter);
  it_device_free(&f->gw);
  it_world_stop(&f->w, &f->d);
  free(f);
  return 0;
}

static stw_status_t call_meter(fixture_t *f, const stw_token_t *tok, stw_bootstrap_report_t *rep)
{
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = 0;
  it_ldevid_spki(f->w.store, stw_dev_id(f->meter.dev), spki, &spki_len);
  return stw_thing_call(f->gw_dev, f->meter_uri, spki, spki_len, tok->token, tok->token_len, STW_AIF_GET,
                        "/consumption", NULL, 0, NULL, NULL, rep);
}

static void print_report(const char *what, stw_status_t st, const stw_bootstrap_report_t *rep)
{
  printf("      %s: %s (%u.%02u) %s\n", what, stw_status_str(st), rep->coap_code >> 5, rep->coap_code & 31,
         rep->reason);
}

/* Rows, in every table of the daemon's store file, with a column containing needle. */
static unsigned rows_naming(fixture_t *f, const char *needle)
{
  char path[IT_PATH_MAX + 32];
  snprintf(path, sizeof(path), "%s/steward.db", f->w.data);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *tables = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &tables, NULL),
                   SQLITE_OK);
  unsigned hits = 0, n_tables = 0;
  while (sqlite3_step(tables) == SQLITE_ROW) {
    char sql[256];
    const char *table = (const char *)sqlite3_column_text(tables, 0);
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", table);
    sqlite3_stmt *rows = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
    n_tables++;
    while (sqlite3_step(rows) == SQLITE_ROW)
      for (int c = 0; c < sqlite3_column_count(rows); c++) {
        const void *v = sqlite3_column_blob(rows, c);
        int n = sqlite3_column_bytes(rows, c);
        if (v != NULL && n > 0 && memmem(v, (size_t)n, needle, strlen(needle)) != NULL) {
          printf("      \"%s\" in %s.%s\n", needle, table, sqlite3_column_name(rows, c));
          hits++;
        }
      }
    sqlite3_finalize(rows);
  }
  sqlite3_finalize(tables);
  sqlite3_close(db);
  assert_true(n_tables >= 20);
  return hits;
}

static void run_admin(fixture_t *f, const char *cmd, const char *arg, it_tool_result_t *res)
{
  const char *bin = getenv("STEWARD");
  assert_non_null(bin);
  const char *argv[] = { bin, "admin", "--data", f->w.data, cmd, arg, NULL };
  if (strcmp(cmd, "voucher") == 0) {
    const char *vargv[] = { bin, "admin", "--data", f->w.data, "voucher", "add", arg, NULL };
    assert_int_equal(it_run_tool(vargv, 30, res), STW_OK);
  } else {
    assert_int_equal(it_run_tool(argv, 30, res), STW_OK);
  }
  printf("      $ steward admin %s %s%s\n%s", cmd, strcmp(cmd, "voucher") == 0 ? "add " : "", arg, res->output);
}

/* The CRL as a device reads it from /crl: verified against the domain CA;
 * true if serial_hex is on it. */
static bool crl_lists(fixture_t *f, const char *serial_hex)
{
  char cert[IT_PATH_MAX + 32], key[IT_PATH_MAX + 32], out[IT_PATH_MAX + 32];
  snprintf(cert, sizeof(cert), "%s/meter-idevid.pem", f->w.root);
  snprintf(key, sizeof(key), "%s/meter-idevid.key", f->w.root);
  snprintf(out, sizeof(out), "%s/crl.der", f->w.root);
  unlink(out);
  assert_int_equal(it_device_write_idevid(&f->meter, cert, key), STW_OK);
  it_tool_result_t res;
  assert_int_equal(it_coap_client(&f->d, cert, key, "get", "crl", -1, -1, NULL, out, &res), STW_OK);
  assert_int_equal(res.exit_code, 0);
  size_t len = 0;
  uint8_t *der = it_read_file(out, &len);
  assert_non_null(der);
  gnutls_x509_crl_t crl;
  assert_true(gnutls_x509_crl_init(&crl) >= 0);
  gnutls_datum_t d = { der, (unsigned)len };
  assert_true(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER) >= 0);
  gnutls_x509_crt_t ca;
  assert_true(gnutls_x509_crt_init(&ca) >= 0);
  gnutls_datum_t cd = { f->w.domain->ca_der.data, (unsigned)f->w.domain->ca_der.len };
  assert_true(gnutls_x509_crt_import(ca, &cd, GNUTLS_X509_FMT_DER) >= 0);
  unsigned verify = 99;
  assert_true(gnutls_x509_crl_verify(crl, &ca, 1, 0, &verify) >= 0);
  assert_int_equal(verify, 0);
  bool found = false;
  int n = gnutls_x509_crl_get_crt_count(crl);
  printf("      /crl: %u bytes, %d serial(s), signed by the domain CA\n", (unsigned)len, n);
  for (int i = 0; i < n; i++) {
    uint8_t serial[20];
    size_t slen = sizeof(serial);
    char hex[41];
    assert_true(gnutls_x509_crl_get_crt_serial(crl, (unsigned)i, serial, &slen, NULL) >= 0);
    stw_hex_encode(serial, slen, hex);
    found |= strcmp(hex, serial_hex) == 0;
  }
  gnutls_x509_crt_deinit(ca);
  gnutls_x509_crl_deinit(crl);
  free(der);
  return found;
}

/* GET /crl with coap-client-gnutls presenting cert_pem (certificate and key
 * in one file): true when an answer arrived (written to a file). */
static bool coap_client_gets_crl(fixture_t *f, const char *cert_pem)
{
  char out[IT_PATH_MAX + 32];
  snprintf(out, sizeof(out), "%s/crl-by-client.der", f->w.root);
  unlink(out);
  it_tool_result_t res;
  assert_int_equal(it_coap_client(&f->d, cert_pem, cert_pem, "get", "crl", -1, -1, NULL, out, &res), STW_OK);
  struct stat sb;
  bool answered = stat(out, &sb) == 0 && sb.st_size > 0;
  printf("      coap-client with the LDevID: exit %d, %s\n", res.exit_code, answered ? "answered" : "no answer");
  return answered;
}

static void decommission_and_new_owner(void **state)
{
  fixture_t *f = *state;
  stw_bootstrap_report_t rep;
  const char *id = stw_dev_id(f->gw_dev);
  printf("  a gateway enrolls, registers, gets a token and personal data\n");
  assert_int_equal(stw_bootstrap(f->gw_dev, f->d.uri, &rep), STW_OK);
  char old_serial[41];
  snprintf(old_serial, sizeof(old_serial), "%s", stw_dev_cert_serial(f->gw_dev));
  char old_ldevid[IT_PATH_MAX + 32], op[IT_PATH_MAX + 32];
  snprintf(op, sizeof(op), "%s/operational.pem", f->gw_dir);
  snprintf(old_ldevid, sizeof(old_ldevid), "%s/old-ldevid.pem", f->w.root);
  size_t len = 0;
  uint8_t *pem = it_read_file(op, &len);
  assert_non_null(pem);
  assert_int_equal(it_write_file(old_ldevid, pem, len), STW_OK);
  free(pem);

  char loc[STW_LOCATION_MAX];
  assert_int_equal(stw_register(f->gw_dev, f->d.uri, "</temp>;rt=temp", 0, NULL, loc, &rep), STW_OK);
  stw_attr_row_t attrs[] = {
    { .name = "role", .value = "utility", .authority = "home.example" },
    { .name = "owner", .value = "Alice Liddell", .authority = "home.example" },
    { .name = "place", .value = "7 Rue des Lilas", .authority = "home.example" },
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(attrs); i++)
    assert_int_equal(stw_store_attr_set(f->w.store, id, &attrs[i]), STW_OK);
  stw_context_row_t ctx = { .scope = "owner:Alice Liddell", .name = "note", .value = "alice-away-until-friday" };
  assert_int_equal(stw_store_context_set(f->w.store, &ctx), STW_OK);
  char rule[256], why[256];
  snprintf(rule, sizeof(rule), "permit role=utility -> %s:/consumption GET", stw_dev_name(f->meter.dev));
  int64_t pid = 0;
  uint64_t revoked = 0;
  assert_int_equal(stw_authz_policy_add(f->w.store, f->w.domain, rule, "meter-read", "admin", stw_now(), &pid,
                                        &revoked, why, sizeof(why)),
                   STW_OK);
  stw_token_t tok;
  assert_int_equal(stw_token_request(f->gw_dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption", STW_AIF_GET,
                                     &tok, &rep),
                   STW_OK);
  assert_int_equal(call_meter(f, &tok, &rep), STW_OK);
  for (size_t i = 0; i < STW_ARRAY_LEN(personal); i++)
    assert_true(rows_naming(f, personal[i]) > 0);  /* the check can see them */
  assert_false(crl_lists(f, old_serial));
  assert_true(coap_client_gets_crl(f, old_ldevid));  /* the tool works with it while it is live */

  printf("  steward admin decommission, while the daemon runs\n");
  uint64_t seq = stw_thing_revocation_seq(f->m.thing);
  uint64_t audit_before = it_audit_last(f->w.store);
  it_tool_result_t res;
  run_admin(f, "decommission", id, &res);
  assert_int_equal(res.exit_code, 0);
  assert_non_null(strstr(res.output, "1 certificates revoked"));
  assert_int_equal(it_device_state(f->w.store, id), STW_STATE_DECOMMISSIONED);

  printf("  its token: the meter drops it from the revocation list it observes\n");
  for (int i = 0; i < 100 && stw_thing_revocation_seq(f->m.thing) == seq; i++)
    usleep(50000);
  assert_true(stw_thing_revocation_seq(f->m.thing) > seq);
  stw_status_t st = call_meter(f, &tok, &rep);
  print_report("the meter, with its token", st, &rep);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_UNAUTHENTICATED); /* the meter answered, and said why */
  assert_int_equal(rep.coap_code, IT_COAP(4, 1));
  stw_token_clear(&tok);

  printf("  its old LDevID: refused at the DTLS handshake, nothing reaches the parts\n");
  uint64_t audit_mark = it_audit_last(f->w.store);
  st = stw_reenroll(f->gw_dev, f->d.uri, &rep);
  print_report("renewal (/sren)", st, &rep);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_NETWORK); /* the handshake failed: not a timeout */
  assert_int_equal(rep.coap_code, 0);
  assert_non_null(strstr(rep.reason, "DTLS"));
  st = stw_register(f->gw_dev, f->d.uri, "</temp>;rt=temp", 0, NULL, loc, &rep);
  print_report("registration", st, &rep);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_NETWORK); /* the handshake failed: not a timeout */
  assert_int_equal(rep.coap_code, 0);
  assert_non_null(strstr(rep.reason, "DTLS"));
  st = stw_token_request(f->gw_dev, f->d.uri, stw_dev_name(f->meter.dev), "/consumption", STW_AIF_GET, &tok, &rep);
  print_report("token request", st, &rep);
  assert_int_not_equal(st, STW_OK);
  assert_int_equal(st, STW_ERR_NETWORK); /* the handshake failed: not a timeout */
  assert_int_equal(rep.coap_code, 0);
  assert_non_null(strstr(rep.reason, "DTLS"));
  stw_token_clear(&tok);
  assert_false(coap_client_gets_crl(f, old_ldevid));
  /* Nothing was decided by a part; the refusals are audited once (a device
   * retrying in a loop cannot grow the log): one record, naming the device. */
  double until = it_now_s() + 5;
  while (it_audit_last(f->w.store) == audit_mark && it_now_s() < until)
    usleep(50 * 1000);
  stw_audit_t refused;
  assert_int_equal(it_audit_count(f->w.store, audit_mark, "refuse.handshake", id, "revoked-certificate", &refused), 1);
  assert_int_equal(it_audit_last(f->w.store), audit_mark + 1);
  printf("      audit: %s\n", refused.detail);
  assert_true(crl_lists(f, old_serial));

  printf("  its IDevID: enrollment refused 4.03 decommissioned\n");
  stw_dev_t *factory = NULL;
  assert_int_equal(it_device_reopen(&f->w, &f->gw, &factory), STW_OK);
  st = stw_bootstrap(factory, f->d.uri, &rep);
  print_report("bootstrap with the IDevID", st, &rep);
  stw_dev_close(factory);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));
  assert_non_null(strstr(rep.reason, "decommissioned"));

  printf("  the store: no row names its people; the audit record says counts\n");
  for (size_t i = 0; i < STW_ARRAY_LEN(personal); i++)
    assert_int_equal(rows_naming(f, personal[i]), 0);
  stw_audit_t last;
  assert_int_equal(it_audit_count(f->w.store, audit_before, "decommission", id, "ok", &last), 1);
  printf("      audit: %s\n", last.detail);
  for (size_t i = 0; i < STW_ARRAY_LEN(personal); i++)
    assert_null(strstr(last.detail, personal[i]));
  uint8_t *v = NULL;
  size_t vlen = 0;
  assert_int_equal(stw_store_voucher_get(f->w.store, id, &v, &vlen), STW_ERR_NOT_FOUND);

  printf("  factory reset: only the factory identity is left; still refused without a new voucher\n");
  assert_int_equal(stw_dev_factory_reset(f->gw_dev), STW_OK);
  assert_int_equal(stw_dev_state(f->gw_dev), STW_DEV_FACTORY);
  struct stat sb;
  assert_int_not_equal(stat(op, &sb), 0);
  st = stw_bootstrap(f->gw_dev, f->d.uri, &rep);
  print_report("bootstrap after the reset", st, &rep);
  assert_int_equal(st, STW_ERR_FORBIDDEN);
  assert_int_equal(rep.coap_code, IT_COAP(4, 3));

  printf("  the new owner imports a new voucher: a new life\n");
  assert_int_equal(it_device_voucher(&f->w, f->w.mfg, &f->gw, NULL, 0), STW_OK);
  char voucher_path[IT_PATH_MAX + 32];
  snprintf(voucher_path, sizeof(voucher_path), "%s/new-voucher.cbor", f->w.root);
  assert_int_equal(it_write_file(voucher_path, f->gw.voucher.data, f->gw.voucher.len), STW_OK);
  run_admin(f, "voucher", voucher_path, &res);
  assert_int_equal(res.exit_code, 0);
  assert_int_equal(it_device_state(f->w.store, id), STW_STATE_MANUFACTURED);
  st = stw_bootstrap(f->gw_dev, f->d.uri, &rep);
  print_report("bootstrap with the new voucher", st, &rep);
  assert_int_equal(st, STW_OK);
  assert_int_equal(it_device_state(f->w.store, id), STW_STATE_BOOTSTRAPPED);
  assert_string_not_equal(stw_dev_cert_serial(f->gw_dev), old_serial);
  stw_device_t row;
  assert_int_equal(stw_store_device_get(f->w.store, id, &row), STW_OK);
  printf("      generation %u, LDevID %s (was %s)\n", row.generation, row.ldevid_serial, old_serial);
  assert_int_equal(row.generation, 1);
  stw_device_clear(&row);
  assert_int_equal(stw_register(f->gw_dev, f->d.uri, "</temp>;rt=temp", 0, NULL, loc, &rep), STW_OK);
  /* The old LDevID stays revoked in the new life. */
  assert_false(coap_client_gets_crl(f, old_ldevid));
  assert_true(crl_lists(f, old_serial));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(decommission_and_new_owner, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
