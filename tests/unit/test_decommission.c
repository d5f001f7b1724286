/* Decommissioning (server/lifecycle/decommission.c): one transaction moves
 * the device to DECOMMISSIONED, revokes its tokens and its certificates,
 * removes its directory entry and erases every row about it and its people;
 * the audit log keeps only counts. The personal-data check reads every
 * column of every table of the SQLite file, so a table added later that keeps
 * a personal value fails it. */
#define _GNU_SOURCE  /* memmem */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle/decommission.h"
#include "store/store.h"
#include "store_fixture.h"
#include "store/store_internal.h"
#include "util.h"

#define DEV_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DEV_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Values that name a person or a place: none may survive A's decommission. */
static const char *const personal[] = { "Alice Liddell", "7 Rue des Lilas", "alice-away-until-friday",
                                        "bedroom-occupied" };

static int setup(void **state)
{
  *state = store_fx_open("decom");
  return 0;
}

/* Rows, across every table of the file, with a column that contains needle
 * (text or blob). Each hit is printed: the evidence when it fails. */
static unsigned rows_naming(const char *path, const char *needle)
{
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *tables = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &tables, NULL),
                   SQLITE_OK);
  unsigned hits = 0, n_tables = 0;
  size_t nlen = strlen(needle);
  while (sqlite3_step(tables) == SQLITE_ROW) {
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", (const char *)sqlite3_column_text(tables, 0));
    sqlite3_stmt *rows = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
    n_tables++;
    while (sqlite3_step(rows) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(rows); c++) {
        const void *v = sqlite3_column_blob(rows, c);
        int n = sqlite3_column_bytes(rows, c);
        if (v != NULL && n > 0 && memmem(v, (size_t)n, needle, nlen) != NULL) {
          printf("    \"%s\" found in %s.%s\n", needle, (const char *)sqlite3_column_text(tables, 0),
                 sqlite3_column_name(rows, c));
          hits++;
        }
      }
    }
    sqlite3_finalize(rows);
  }
  sqlite3_finalize(tables);
  sqlite3_close(db);
  assert_true(n_tables >= 20);  /* it did look at the whole schema */
  return hits;
}

static void put_device(stw_store_t *st, const char *id, stw_state_t state)
{
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  snprintf(d.id, sizeof(d.id), "%s", id);
  snprintf(d.name, sizeof(d.name), "meter-%.8s", id);
  snprintf(d.model, sizeof(d.model), "meter");
  d.state = state;
  d.created_at = d.updated_at = stw_now();
  snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "%.4s01", id);
  assert_int_equal(stw_store_device_put(st, &d), STW_OK);
  assert_int_equal(stw_store_serial_claim(st, d.ldevid_serial, id, stw_now() + 86400), STW_OK);
}

/* A: Alice's meter, registered, holding a token, with attributes, context,
 * a voucher, PSKs, attestation rows and a challenge. B: someone else's. */
static void fill(stw_store_t *st)
{
  put_device(st, DEV_A, STW_STATE_OPERATIONAL);
  put_device(st, DEV_B, STW_STATE_OPERATIONAL);
  store_fx_set_attr(st, DEV_A, "owner", "Alice Liddell", "home.example");
  store_fx_set_attr(st, DEV_A, "place", "7 Rue des Lilas", "home.example");
  store_fx_set_attr(st, DEV_B, "owner", "bob", "home.example");
  store_fx_set_context(st, "owner:Alice Liddell", "note", "alice-away-until-friday");
  store_fx_set_context(st, "place:7 Rue des Lilas", "home.occupied", "bedroom-occupied");
  store_fx_set_context(st, "device:" DEV_A, "temp", "21");
  store_fx_set_context(st, "owner:bob", "home.occupied", "false");
  assert_int_equal(stw_store_voucher_put(st, DEV_A, (const uint8_t *)"voucher", 7), STW_OK);
  stw_psk_t p;
  memset(&p, 0, sizeof(p));
  snprintf(p.identity, sizeof(p.identity), "op-a");
  snprintf(p.device_id, sizeof(p.device_id), DEV_A);
  p.kind = STW_PSK_OPERATIONAL;
  p.active = true;
  p.key_len = 32;
  memset(p.key, 0x42, 32);
  assert_int_equal(stw_store_psk_put(st, &p), STW_OK);
  stw_attest_row_t a = { .verdict = STW_EAR_AFFIRMING, .boot_count = 3 };
  snprintf(a.device_id, sizeof(a.device_id), DEV_A);
  snprintf(a.trigger, sizeof(a.trigger), "periodic");
  assert_int_equal(stw_store_attest_put(st, &a), STW_OK);
  static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  assert_int_equal(stw_store_nonce_put(st, DEV_A, nonce, sizeof(nonce), stw_now() + 60), STW_OK);
  stw_token_row_t *t = calloc(1, sizeof(*t));
  assert_non_null(t);
  snprintf(t->cti, sizeof(t->cti), "0123456789abcdef0123456789abcdef");
  snprintf(t->subject_id, sizeof(t->subject_id), DEV_B);
  snprintf(t->audience_id, sizeof(t->audience_id), DEV_A);
  snprintf(t->scope, sizeof(t->scope), "/consumption GET");
  t->iat = stw_now();
  t->exp = t->iat + 3600;
  assert_int_equal(stw_store_token_put(st, t), STW_OK);
  free(t);
  stw_rd_reg_t reg;
  memset(&reg, 0, sizeof(reg));
  snprintf(reg.id, sizeof(reg.id), "r1");
  snprintf(reg.device_id, sizeof(reg.device_id), DEV_A);
  snprintf(reg.ep, sizeof(reg.ep), "meter-a");
  reg.lt = 3600;
  reg.expires_at = stw_now() + 3600;
  reg.links = (char *)"</consumption>";
  reg.links_len = strlen(reg.links);
  assert_int_equal(stw_store_rd_put(st, &reg, NULL, 0), STW_OK);
}

static void test_decommission_revokes_and_erases(void **state)
{
  store_fx_t *fx = *state;
  fill(fx->st);
  /* The check sees the values while they are there: it can fail. */
  for (size_t i = 0; i < STW_ARRAY_LEN(personal); i++)
    assert_true(rows_naming(fx->path, personal[i]) > 0);

  stw_decommission_t out;
  assert_int_equal(stw_decommission(fx->st, DEV_A, "admin", "sold", &out), STW_OK);
  assert_int_equal(out.was, STW_STATE_OPERATIONAL);
  assert_int_equal(out.tokens_revoked, 1);
  assert_int_equal(out.certs_revoked, 1);
  assert_true(out.registration_removed);
  assert_int_equal(out.erased.attributes, 2);
  assert_int_equal(out.erased.context, 3);
  assert_int_equal(out.erased.vouchers, 1);
  assert_int_equal(out.erased.psks, 1);
  assert_int_equal(out.erased.attestations, 1);
  assert_int_equal(out.erased.nonces, 1);

  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_DECOMMISSIONED);
  bool revoked = false;
  assert_int_equal(stw_store_serial_is_revoked(fx->st, d.ldevid_serial, &revoked), STW_OK);
  assert_true(revoked);
  stw_device_clear(&d);

  for (size_t i = 0; i < STW_ARRAY_LEN(personal); i++)
    assert_int_equal(rows_naming(fx->path, personal[i]), 0);
  /* The rows keyed by the device are gone from every table that holds any. */
  sqlite3 *db = stw__sqlite_handle(fx->st);
  static const char *const by_device[] = {
    "SELECT count(*) FROM device_attr WHERE device_id = '" DEV_A "'",
    "SELECT count(*) FROM context_attr WHERE scope = 'device:" DEV_A "'",
    "SELECT count(*) FROM vouchers WHERE device_id = '" DEV_A "'",
    "SELECT count(*) FROM psk WHERE device_id = '" DEV_A "'",
    "SELECT count(*) FROM psk_key",
    "SELECT count(*) FROM attestations WHERE device_id = '" DEV_A "'",
    "SELECT count(*) FROM nonces WHERE device_id = '" DEV_A "'",
    "SELECT count(*) FROM rd_reg WHERE device_id = '" DEV_A "'",
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(by_device); i++) {
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, by_device[i], -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
  }
  /* B's person is still known. */
  assert_int_equal(rows_naming(fx->path, "bob"), 2);
  uint64_t n = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(fx->st, &n, &bad), STW_OK);
}

typedef struct {
  int seen;
  char detail[STW_REASON_MAX];
} audit_find_t;

static stw_status_t find_decommission(const stw_audit_t *a, void *ctx)
{
  audit_find_t *f = ctx;
  if (strcmp(a->action, "decommission") == 0) {
    f->seen++;
    snprintf(f->detail, sizeof(f->detail), "%s", a->detail);
  }
  return STW_OK;
}

static void test_audit_keeps_counts_only(void **state)
{
  store_fx_t *fx = *state;
  fill(fx->st);
  stw_decommission_t out;
  assert_int_equal(stw_decommission(fx->st, DEV_A, "admin", "sold", &out), STW_OK);
  audit_find_t f = { 0 };
  assert_int_equal(stw_store_audit_list(fx->st, 0, 0, find_decommission, &f), STW_OK);
  assert_int_equal(f.seen, 1);
  printf("    audit: %s\n", f.detail);
  assert_non_null(strstr(f.detail, "1 tokens and 1 certificates revoked"));
  assert_non_null(strstr(f.detail, "erased 2 attributes, 3 context, 1 vouchers, 1 psks, 1 attestations, 1 nonces"));
  for (size_t i = 0; i < STW_ARRAY_LEN(personal); i++)
    assert_null(strstr(f.detail, personal[i]));
}

static void test_refusals_change_nothing(void **state)
{
  store_fx_t *fx = *state;
  fill(fx->st);
  uint64_t before = 0, after = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(fx->st, &before, &bad), STW_OK);
  stw_decommission_t out;
  assert_int_equal(stw_decommission(fx->st, "cccccccccccccccccccccccccccccccc", "admin", "x", &out), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_decommission(fx->st, DEV_A, "admin", "sold", &out), STW_OK);
  assert_int_equal(stw_store_audit_verify(fx->st, &before, &bad), STW_OK);
  /* Again: refused by the lifecycle, and nothing written. */
  assert_int_equal(stw_decommission(fx->st, DEV_A, "admin", "sold", &out), STW_ERR_STATE);
  assert_int_equal(stw_store_audit_verify(fx->st, &after, &bad), STW_OK);
  assert_int_equal(after, before);
  assert_int_equal(out.certs_revoked, 0);
  assert_int_equal(out.erased.attributes, 0);
}

/* A failure half-way leaves everything as it was: the erasure is in the
 * decommission's transaction. */
static void test_failure_rolls_back_everything(void **state)
{
  store_fx_t *fx = *state;
  fill(fx->st);
  sqlite3 *db = stw__sqlite_handle(fx->st);
  /* Make the last write (the audit record) fail. */
  assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER no_decom BEFORE INSERT ON audit WHEN NEW.action = 'decommission'"
                                    " BEGIN SELECT RAISE(ABORT, 'test'); END", NULL, NULL, NULL),
                   SQLITE_OK);
  stw_decommission_t out;
  assert_int_not_equal(stw_decommission(fx->st, DEV_A, "admin", "sold", &out), STW_OK);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_OPERATIONAL);
  bool revoked = true;
  assert_int_equal(stw_store_serial_is_revoked(fx->st, d.ldevid_serial, &revoked), STW_OK);
  assert_false(revoked);
  stw_device_clear(&d);
  for (size_t i = 0; i < STW_ARRAY_LEN(personal); i++)
    assert_true(rows_naming(fx->path, personal[i]) > 0);
  stw_rd_reg_t reg;
  assert_int_equal(stw_store_rd_get_by_device(fx->st, DEV_A, &reg), STW_OK);
  stw_rd_reg_clear(&reg);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_decommission_revokes_and_erases, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_audit_keeps_counts_only, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_failure_rolls_back_everything, setup, store_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
