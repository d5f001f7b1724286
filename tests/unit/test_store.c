/* The store (server/store, SQLite backend): every function, transactions and
 * savepoints, serial uniqueness, the audit chain and its tamper detection,
 * lifecycle transitions, migrations, a second handle, bounded inputs. */
#include "testutil.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store_fixture.h"
#include "store/store_internal.h"

static int setup(void **state)
{
  *state = store_fx_open("store");
  return 0;
}

/* A raw connection to the same file, as an attacker or a script would have. */
static sqlite3 *raw_open(const store_fx_t *fx)
{
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

static int raw_exec(sqlite3 *db, const char *sql)
{
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void make_device(stw_device_t *d, const char *id, stw_state_t state)
{
  memset(d, 0, sizeof(*d));
  snprintf(d->id, sizeof(d->id), "%s", id);
  snprintf(d->name, sizeof(d->name), "dev-%.8s", id);
  snprintf(d->model, sizeof(d->model), "thermo-1");
  snprintf(d->manufacturer, sizeof(d->manufacturer), "Acme");
  d->state = state;
  d->cred_kind = STW_CRED_X509;
  d->created_at = 1700000000;
  d->updated_at = 1700000000;
}

static void put_device(stw_store_t *st, const char *id, stw_state_t state)
{
  stw_device_t d;
  make_device(&d, id, state);
  assert_int_equal(stw_store_device_put(st, &d), STW_OK);
}

static uint64_t device_count(stw_store_t *st)
{
  uint64_t n = 99;
  assert_int_equal(stw_store_device_count(st, -1, &n), STW_OK);
  return n;
}

static uint64_t serial_count(stw_store_t *st)
{
  uint64_t n = 99;
  assert_int_equal(stw_store_serial_count(st, &n), STW_OK);
  return n;
}

static uint64_t audit_count(stw_store_t *st)
{
  uint64_t n = 99, bad = 99;
  assert_int_equal(stw_store_audit_verify(st, &n, &bad), STW_OK);
  return n;
}

static void append_audit(stw_store_t *st, const char *action, const char *detail)
{
  stw_audit_t a = { 0 };
  snprintf(a.actor, sizeof(a.actor), "admin");
  snprintf(a.action, sizeof(a.action), "%s", action);
  snprintf(a.subject, sizeof(a.subject), "00112233445566778899aabbccddeeff");
  snprintf(a.outcome, sizeof(a.outcome), "ok");
  snprintf(a.detail, sizeof(a.detail), "%s", detail);
  assert_int_equal(stw_store_audit_append(st, &a), STW_OK);
}

/* The schema this build writes (server/store/sqlite.c, migrations[]). */
#define SCHEMA_NOW 5

#define DEV_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DEV_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DEV_C "cccccccccccccccccccccccccccccccc"

/* ---- open, migrations ----------------------------------------------------- */

static void test_open_new_store(void **state)
{
  store_fx_t *fx = *state;
  assert_int_equal(stw_store_schema_version(fx->st), SCHEMA_NOW);
  struct stat sb;
  assert_int_equal(stat(fx->path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);  /* it holds PSKs */

  sqlite3 *db = raw_open(fx);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'devices_by_state'"), 1);
  sqlite3_close(db);
}

static void test_reopen_does_not_rerun_migrations(void **state)
{
  store_fx_t *fx = *state;
  put_device(fx->st, DEV_A, STW_STATE_MANUFACTURED);
  stw_store_close(fx->st);
  fx->st = NULL;
  char url[700];
  snprintf(url, sizeof(url), "sqlite:%s", fx->path);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(stw_store_open(url, &fx->st), STW_OK);
    assert_int_equal(stw_store_schema_version(fx->st), SCHEMA_NOW);
    stw_store_close(fx->st);
    fx->st = NULL;
  }
  sqlite3 *db = raw_open(fx);
  /* One row per step ever applied: none ran twice. */
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM schema_version"), SCHEMA_NOW);
  assert_int_equal(store_fx_sql_int(db, "SELECT max(version) FROM schema_version"), SCHEMA_NOW);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM devices"), 1);
  sqlite3_close(db);
  assert_int_equal(stw_store_open(fx->path, &fx->st), STW_OK);
  assert_int_equal(device_count(fx->st), 1);
}

/* A store as release 4 left it, rows written the way release 4 wrote them,
 * is brought to schema 5 at open with every row kept: issued serials read as
 * live, keys and vouchers are there, the audit chain still verifies, and the
 * new tables work on the old rows. */
static void test_migration_from_schema_4_keeps_data(void **state)
{
  store_fx_t *fx = *state;
  char old_path[700];
  snprintf(old_path, sizeof(old_path), "%s/v4.db", fx->dir);
  assert_int_equal(stw__sqlite_create_at(old_path, 4), STW_OK);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
  assert_int_equal(store_fx_sql_int(db, "SELECT max(version) FROM schema_version"), 4);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'firmware'"), 0);
  assert_int_equal(raw_exec(db, "INSERT INTO devices VALUES ('" DEV_A "', 'dev-a', 'thermo-1', 'Acme', 3, 0,"
                                " 1700000000, 1700000000, x'3082', '0a1b', 1800000000, zeroblob(32), '', 0)"),
                   SQLITE_OK);
  assert_int_equal(raw_exec(db, "INSERT INTO serials VALUES ('0a1b', '" DEV_A "', 1800000000, 1700000000)"),
                   SQLITE_OK);
  assert_int_equal(raw_exec(db, "INSERT INTO psk VALUES ('op-a', '" DEV_A "', 1, 1);"
                                "INSERT INTO psk_key VALUES ('op-a', x'0102030405060708');"
                                "INSERT INTO vouchers VALUES ('" DEV_A "', x'a1', 1700000000);"
                                "INSERT INTO device_attr VALUES ('" DEV_A "', 'owner', 'alice', 'owner');"
                                "INSERT INTO tokens (cti, subject_id, audience_id, scope, policy_ids, iat, exp)"
                                " VALUES ('00112233445566778899aabbccddeeff', '" DEV_A "', '" DEV_B "', '/t GET',"
                                " '1', 1700000000, 1900000000)"),
                   SQLITE_OK);
  /* Two audit records chained as release 4 chained them. */
  stw_audit_t rec[2];
  memset(rec, 0, sizeof(rec));
  for (int i = 0; i < 2; i++) {
    rec[i].seq = (uint64_t)i + 1;
    rec[i].at = 1700000000 + i;
    snprintf(rec[i].actor, sizeof(rec[i].actor), "admin");
    snprintf(rec[i].action, sizeof(rec[i].action), "step%d", i);
    snprintf(rec[i].subject, sizeof(rec[i].subject), DEV_A);
    snprintf(rec[i].outcome, sizeof(rec[i].outcome), "ok");
    if (i > 0)
      memcpy(rec[i].prev_hash, rec[i - 1].hash, 32);
    stw_audit_compute_hash(&rec[i], rec[i].hash);
    sqlite3_stmt *ins = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', ?7, ?8)", -1, &ins,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)rec[i].seq);
    sqlite3_bind_int64(ins, 2, rec[i].at);
    sqlite3_bind_text(ins, 3, rec[i].actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, rec[i].action, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 5, rec[i].subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 6, rec[i].outcome, -1, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 7, rec[i].prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 8, rec[i].hash, 32, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
    sqlite3_finalize(ins);
  }
  sqlite3_close(db);

  stw_store_t *st = NULL;
  assert_int_equal(stw_store_open(old_path, &st), STW_OK);
  assert_int_equal(stw_store_schema_version(st), SCHEMA_NOW);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(st, DEV_A, &d), STW_OK);
  assert_string_equal(d.name, "dev-a");
  assert_int_equal(d.state, STW_STATE_OPERATIONAL);
  assert_int_equal(d.ldevid_len, 2);
  stw_device_clear(&d);
  assert_int_equal(serial_count(st), 1);
  bool revoked = true;
  assert_int_equal(stw_store_serial_is_revoked(st, "0A1B", &revoked), STW_OK);
  assert_false(revoked);  /* the added column reads "live" for every old serial */
  stw_psk_t p;
  assert_int_equal(stw_store_psk_get(st, "op-a", &p), STW_OK);
  assert_int_equal(p.key_len, 8);
  uint8_t *v = NULL;
  size_t vlen = 0;
  assert_int_equal(stw_store_voucher_get(st, DEV_A, &v, &vlen), STW_OK);
  assert_int_equal(vlen, 1);
  free(v);
  stw_token_row_t *t = calloc(1, sizeof(*t));
  assert_non_null(t);
  assert_int_equal(stw_store_token_get(st, "00112233445566778899aabbccddeeff", t), STW_OK);
  assert_string_equal(t->scope, "/t GET");
  free(t);
  assert_int_equal(audit_count(st), 2);

  /* The new tables work on the old rows. */
  uint64_t n = 0;
  assert_int_equal(stw_store_serial_revoke_device(st, DEV_A, 1750000000, &n), STW_OK);
  assert_int_equal(n, 1);
  assert_int_equal(stw_store_serial_is_revoked(st, "0a1b", &revoked), STW_OK);
  assert_true(revoked);
  stw_erasure_t e;
  assert_int_equal(stw_store_device_erase(st, DEV_A, &e), STW_OK);
  assert_int_equal(e.attributes, 1);
  assert_int_equal(e.psks, 1);
  assert_int_equal(e.vouchers, 1);
  stw_store_close(st);

  db = NULL;
  assert_int_equal(sqlite3_open(old_path, &db), SQLITE_OK);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM schema_version"), SCHEMA_NOW);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM psk_key"), 0);  /* the cascade reached the key */
  sqlite3_close(db);
}

static void test_create_at_bounds(void **state)
{
  store_fx_t *fx = *state;
  char p[700];
  snprintf(p, sizeof(p), "%s/x.db", fx->dir);
  assert_int_equal(stw__sqlite_create_at(p, 0), STW_ERR_INVALID);
  assert_int_equal(stw__sqlite_create_at(p, SCHEMA_NOW + 1), STW_ERR_INVALID);
  /* Asked for an older version than the file has: the file is left as it is. */
  assert_int_equal(stw__sqlite_create_at(fx->path, 2), STW_OK);
  assert_int_equal(stw_store_schema_version(fx->st), SCHEMA_NOW);
  sqlite3 *db = raw_open(fx);
  assert_int_equal(store_fx_sql_int(db, "SELECT max(version) FROM schema_version"), SCHEMA_NOW);
  sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
  store_fx_t *fx = *state;
  stw_store_close(fx->st);
  fx->st = NULL;
  sqlite3 *db = raw_open(fx);
  assert_int_equal(raw_exec(db, "INSERT INTO schema_version VALUES (99, 0)"), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(stw_store_open(fx->path, &fx->st), STW_ERR_UNSUPPORTED);
  assert_null(fx->st);
}

static void test_open_urls(void **state)
{
  (void)state;
  stw_store_t *st = (stw_store_t *)1;
  assert_int_equal(stw_store_open("postgres:host=localhost dbname=steward", &st), STW_ERR_UNSUPPORTED);
  assert_null(st);
  assert_int_equal(stw_store_open("", &st), STW_ERR_INVALID);
  assert_int_equal(stw_store_open("sqlite:", &st), STW_ERR_INVALID);
  assert_int_equal(stw_store_open(NULL, &st), STW_ERR_INVALID);
  assert_int_equal(stw_store_open("/nonexistent-dir-stw/x.db", &st), STW_ERR_NOT_FOUND);
  stw_store_close(NULL);
}

/* ---- trust, rules, vouchers ---------------------------------------------------- */

typedef struct {
  int n;
  int64_t ids[8];
  uint8_t fp[8][32];
  size_t len[8];
} trust_seen_t;

static stw_status_t trust_collect(const stw_trust_t *t, void *ctx)
{
  trust_seen_t *s = ctx;
  if (s->n >= 8)
    return STW_ERR_TOO_LARGE;
  s->ids[s->n] = t->id;
  memcpy(s->fp[s->n], t->fingerprint, 32);
  s->len[s->n] = t->cert_len;
  s->n++;
  return STW_OK;
}

static void test_trust(void **state)
{
  store_fx_t *fx = *state;
  const uint8_t der1[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
  const uint8_t der2[] = { 0x30, 0x03, 0x02, 0x01, 0x02 };
  assert_int_equal(stw_store_trust_add(fx->st, "Acme CA", der1, sizeof(der1)), STW_OK);
  assert_int_equal(stw_store_trust_add(fx->st, "Acme CA again", der1, sizeof(der1)), STW_ERR_EXISTS);
  assert_int_equal(stw_store_trust_add(fx->st, "Other CA", der2, sizeof(der2)), STW_OK);
  assert_int_equal(stw_store_trust_add(fx->st, "Empty", der2, 0), STW_ERR_INVALID);

  trust_seen_t seen = { 0 };
  assert_int_equal(stw_store_trust_list(fx->st, trust_collect, &seen), STW_OK);
  assert_int_equal(seen.n, 2);
  uint8_t fp[32];
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, der1, sizeof(der1), fp), 0);
  assert_memory_equal(seen.fp[0], fp, 32);
  assert_int_equal(seen.len[0], sizeof(der1));

  assert_int_equal(stw_store_trust_remove(fx->st, seen.ids[0]), STW_OK);
  assert_int_equal(stw_store_trust_remove(fx->st, seen.ids[0]), STW_ERR_NOT_FOUND);
  memset(&seen, 0, sizeof(seen));
  assert_int_equal(stw_store_trust_list(fx->st, trust_collect, &seen), STW_OK);
  assert_int_equal(seen.n, 1);
}

static stw_status_t rule_collect(const stw_rule_t *r, void *ctx)
{
  stw_rule_t *out = ctx;
  out[r->id > 0 && r->id < 4 ? r->id : 0] = *r;
  return STW_OK;
}

static void test_rules(void **state)
{
  store_fx_t *fx = *state;
  stw_rule_t dev = { .kind = STW_RULE_DEVICE };
  snprintf(dev.device_id, sizeof(dev.device_id), DEV_A);
  stw_rule_t grp = { .kind = STW_RULE_GROUP };
  snprintf(grp.model, sizeof(grp.model), "thermo-1");
  snprintf(grp.manufacturer, sizeof(grp.manufacturer), "Acme");
  snprintf(grp.name_prefix, sizeof(grp.name_prefix), "hall-");
  assert_int_equal(stw_store_rule_add(fx->st, &dev), STW_OK);
  assert_int_equal(stw_store_rule_add(fx->st, &grp), STW_OK);
  assert_true(dev.id > 0);
  assert_true(grp.id > dev.id);

  stw_rule_t bad = { .kind = STW_RULE_DEVICE };  /* a device rule needs its device */
  assert_int_equal(stw_store_rule_add(fx->st, &bad), STW_ERR_INVALID);
  stw_rule_t kind = { .kind = (stw_rule_kind_t)7 };
  assert_int_equal(stw_store_rule_add(fx->st, &kind), STW_ERR_INVALID);

  stw_rule_t got[4];
  memset(got, 0, sizeof(got));
  assert_int_equal(stw_store_rule_list(fx->st, rule_collect, got), STW_OK);
  assert_int_equal(got[dev.id].kind, STW_RULE_DEVICE);
  assert_string_equal(got[dev.id].device_id, DEV_A);
  assert_int_equal(got[grp.id].kind, STW_RULE_GROUP);
  assert_string_equal(got[grp.id].model, "thermo-1");
  assert_string_equal(got[grp.id].manufacturer, "Acme");
  assert_string_equal(got[grp.id].name_prefix, "hall-");

  assert_int_equal(stw_store_rule_remove(fx->st, dev.id), STW_OK);
  assert_int_equal(stw_store_rule_remove(fx->st, dev.id), STW_ERR_NOT_FOUND);
}

static void test_vouchers(void **state)
{
  store_fx_t *fx = *state;
  uint8_t *v = NULL;
  size_t len = 0;
  assert_int_equal(stw_store_voucher_get(fx->st, DEV_A, &v, &len), STW_ERR_NOT_FOUND);
  assert_null(v);
  assert_int_equal(stw_store_voucher_put(fx->st, DEV_A, (const uint8_t *)"first", 5), STW_OK);
  assert_int_equal(stw_store_voucher_put(fx->st, DEV_A, (const uint8_t *)"second!", 7), STW_OK);
  assert_int_equal(stw_store_voucher_get(fx->st, DEV_A, &v, &len), STW_OK);
  assert_int_equal(len, 7);
  assert_memory_equal(v, "second!", 7);
  free(v);
  assert_int_equal(stw_store_voucher_delete(fx->st, DEV_A), STW_OK);
  assert_int_equal(stw_store_voucher_delete(fx->st, DEV_A), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_voucher_get(fx->st, DEV_A, &v, &len), STW_ERR_NOT_FOUND);

  uint8_t *big = calloc(1, STW_STORE_BLOB_MAX + 1);
  assert_non_null(big);
  assert_int_equal(stw_store_voucher_put(fx->st, DEV_A, big, STW_STORE_BLOB_MAX + 1), STW_ERR_TOO_LARGE);
  free(big);
}

/* ---- devices ----------------------------------------------------------------- */

static void test_device_round_trip(void **state)
{
  store_fx_t *fx = *state;
  stw_device_t d, got;
  make_device(&d, DEV_A, STW_STATE_OPERATIONAL);
  uint8_t cert[100];
  for (size_t i = 0; i < sizeof(cert); i++)
    cert[i] = (uint8_t)i;
  d.ldevid = cert;
  d.ldevid_len = sizeof(cert);
  snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "0123456789abcdef0123456789abcdef01234567");
  d.ldevid_not_after = 1800000000;
  memset(d.csr_digest, 0x5a, sizeof(d.csr_digest));
  snprintf(d.psk_identity, sizeof(d.psk_identity), "op-psk-1");
  d.generation = 3;
  assert_int_equal(stw_store_device_put(fx->st, &d), STW_OK);

  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &got), STW_OK);
  assert_string_equal(got.id, DEV_A);
  assert_string_equal(got.name, d.name);
  assert_string_equal(got.model, "thermo-1");
  assert_string_equal(got.manufacturer, "Acme");
  assert_int_equal(got.state, STW_STATE_OPERATIONAL);
  assert_int_equal(got.cred_kind, STW_CRED_X509);
  assert_int_equal(got.created_at, 1700000000);
  assert_int_equal(got.ldevid_len, sizeof(cert));
  assert_memory_equal(got.ldevid, cert, sizeof(cert));
  assert_string_equal(got.ldevid_serial, d.ldevid_serial);
  assert_int_equal(got.ldevid_not_after, 1800000000);
  assert_memory_equal(got.csr_digest, d.csr_digest, 32);
  assert_string_equal(got.psk_identity, "op-psk-1");
  assert_int_equal(got.generation, 3);
  stw_device_clear(&got);
  assert_null(got.ldevid);

  /* Put replaces the whole row: a PSK device has no certificate. */
  d.ldevid = NULL;
  d.ldevid_len = 0;
  d.cred_kind = STW_CRED_PSK;
  assert_int_equal(stw_store_device_put(fx->st, &d), STW_OK);
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &got), STW_OK);
  assert_null(got.ldevid);
  assert_int_equal(got.ldevid_len, 0);
  assert_int_equal(got.cred_kind, STW_CRED_PSK);
  stw_device_clear(&got);
  assert_int_equal(device_count(fx->st), 1);

  assert_int_equal(stw_store_device_get(fx->st, DEV_B, &got), STW_ERR_NOT_FOUND);
  d.state = STW_STATE_COUNT;
  assert_int_equal(stw_store_device_put(fx->st, &d), STW_ERR_INVALID);
}

typedef struct {
  int n;
  char ids[8][STW_ID_HEX];
  stw_store_t *st;
  int stop_after;
} dev_seen_t;

static stw_status_t dev_collect(const stw_device_t *d, void *ctx)
{
  dev_seen_t *s = ctx;
  if (s->n >= 8)
    return STW_ERR_TOO_LARGE;
  snprintf(s->ids[s->n], STW_ID_HEX, "%s", d->id);
  s->n++;
  if (s->stop_after > 0 && s->n == s->stop_after)
    return STW_ERR_FORBIDDEN;
  return STW_OK;
}

static stw_status_t nested_list_count(const stw_device_t *d, void *ctx)
{
  dev_seen_t *s = ctx;
  (void)d;
  dev_seen_t inner = { 0 };
  /* The same listing again, from inside the callback: needs its own statement. */
  stw_status_t rc = stw_store_device_list(s->st, -1, dev_collect, &inner);
  if (rc != STW_OK)
    return rc;
  stw_device_t got;
  rc = stw_store_device_get(s->st, d->id, &got);
  stw_device_clear(&got);
  s->n += inner.n;
  return rc;
}

static void test_device_list_and_count(void **state)
{
  store_fx_t *fx = *state;
  put_device(fx->st, DEV_C, STW_STATE_OPERATIONAL);
  put_device(fx->st, DEV_A, STW_STATE_OPERATIONAL);
  put_device(fx->st, DEV_B, STW_STATE_QUARANTINED);

  /* by assigned name, through its index */
  char found[STW_ID_HEX];
  assert_int_equal(stw_store_device_find_by_name(fx->st, "dev-bbbbbbbb", found), STW_OK);
  assert_string_equal(found, DEV_B);
  assert_int_equal(stw_store_device_find_by_name(fx->st, "dev-nobody", found), STW_ERR_NOT_FOUND);

  dev_seen_t all = { 0 };
  assert_int_equal(stw_store_device_list(fx->st, -1, dev_collect, &all), STW_OK);
  assert_int_equal(all.n, 3);
  assert_string_equal(all.ids[0], DEV_A);  /* ordered by id */
  assert_string_equal(all.ids[1], DEV_B);
  assert_string_equal(all.ids[2], DEV_C);

  dev_seen_t op = { 0 };
  assert_int_equal(stw_store_device_list(fx->st, STW_STATE_OPERATIONAL, dev_collect, &op), STW_OK);
  assert_int_equal(op.n, 2);
  assert_string_equal(op.ids[0], DEV_A);
  assert_string_equal(op.ids[1], DEV_C);

  uint64_t n = 0;
  assert_int_equal(stw_store_device_count(fx->st, STW_STATE_QUARANTINED, &n), STW_OK);
  assert_int_equal(n, 1);
  assert_int_equal(stw_store_device_count(fx->st, STW_STATE_UPDATING, &n), STW_OK);
  assert_int_equal(n, 0);
  assert_int_equal(stw_store_device_count(fx->st, STW_STATE_COUNT, &n), STW_ERR_INVALID);

  dev_seen_t stop = { .stop_after = 2 };
  assert_int_equal(stw_store_device_list(fx->st, -1, dev_collect, &stop), STW_ERR_FORBIDDEN);
  assert_int_equal(stop.n, 2);

  dev_seen_t nested = { .st = fx->st };
  assert_int_equal(stw_store_device_list(fx->st, -1, nested_list_count, &nested), STW_OK);
  assert_int_equal(nested.n, 9);
}

/* ---- serials ------------------------------------------------------------------- */

static void test_serials_unique(void **state)
{
  store_fx_t *fx = *state;
  assert_int_equal(stw_store_serial_claim(fx->st, "01ab", DEV_A, 1800000000), STW_OK);
  assert_int_equal(stw_store_serial_claim(fx->st, "01ab", DEV_B, 1800000000), STW_ERR_EXISTS);
  assert_int_equal(stw_store_serial_claim(fx->st, "01AB", DEV_A, 1800000000), STW_ERR_EXISTS);
  assert_int_equal(stw_store_serial_claim(fx->st, "01ac", DEV_A, 1800000000), STW_OK);
  assert_int_equal(stw_store_serial_claim(fx->st, "zz", DEV_A, 0), STW_ERR_MALFORMED);
  assert_int_equal(stw_store_serial_claim(fx->st, "", DEV_A, 0), STW_ERR_INVALID);
  assert_int_equal(stw_store_serial_claim(fx->st, "0123456789abcdef0123456789abcdef012345678", DEV_A, 0),
                   STW_ERR_TOO_LARGE);
  assert_int_equal(serial_count(fx->st), 2);
}

/* ---- PSKs ------------------------------------------------------------------------ */

static void test_psk(void **state)
{
  store_fx_t *fx = *state;
  stw_psk_t p = { .kind = STW_PSK_BOOTSTRAP, .active = true, .key_len = 16 };
  snprintf(p.identity, sizeof(p.identity), "boot-%s", DEV_A);
  snprintf(p.device_id, sizeof(p.device_id), DEV_A);
  memset(p.key, 0xa5, p.key_len);
  assert_int_equal(stw_store_psk_put(fx->st, &p), STW_OK);

  stw_psk_t got;
  assert_int_equal(stw_store_psk_get(fx->st, p.identity, &got), STW_OK);
  assert_string_equal(got.device_id, DEV_A);
  assert_int_equal(got.kind, STW_PSK_BOOTSTRAP);
  assert_true(got.active);
  assert_int_equal(got.key_len, 16);
  assert_memory_equal(got.key, p.key, 16);

  assert_int_equal(stw_store_psk_set_active(fx->st, p.identity, false), STW_OK);
  assert_int_equal(stw_store_psk_get(fx->st, p.identity, &got), STW_OK);
  assert_false(got.active);
  assert_int_equal(stw_store_psk_set_active(fx->st, "nobody", false), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_psk_get(fx->st, "nobody", &got), STW_ERR_NOT_FOUND);

  /* Replace by identity: new key, new kind. */
  p.kind = STW_PSK_OPERATIONAL;
  p.key_len = 32;
  memset(p.key, 0x3c, 32);
  assert_int_equal(stw_store_psk_put(fx->st, &p), STW_OK);
  assert_int_equal(stw_store_psk_get(fx->st, p.identity, &got), STW_OK);
  assert_int_equal(got.kind, STW_PSK_OPERATIONAL);
  assert_int_equal(got.key_len, 32);
  assert_memory_equal(got.key, p.key, 32);

  p.key_len = 33;
  assert_int_equal(stw_store_psk_put(fx->st, &p), STW_ERR_TOO_LARGE);
  p.key_len = 0;
  assert_int_equal(stw_store_psk_put(fx->st, &p), STW_ERR_INVALID);

  /* The key lives in its own table; the psk table has no key column. */
  sqlite3 *db = raw_open(fx);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM pragma_table_info('psk') WHERE name = 'key'"), 0);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM psk_key"), 1);
  sqlite3_close(db);
}

/* ---- transactions --------------------------------------------------------------- */

static void test_rollback_leaves_nothing(void **state)
{
  store_fx_t *fx = *state;
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_store_begin(fx->st), STW_ERR_STATE);  /* no nesting */
  put_device(fx->st, DEV_A, STW_STATE_MANUFACTURED);
  assert_int_equal(stw_store_serial_claim(fx->st, "0a", DEV_A, 0), STW_OK);
  append_audit(fx->st, "enroll", "inside a transaction");
  assert_int_equal(stw_store_voucher_put(fx->st, DEV_A, (const uint8_t *)"v", 1), STW_OK);
  assert_int_equal(device_count(fx->st), 1);  /* visible inside */
  stw_store_rollback(fx->st);

  assert_int_equal(device_count(fx->st), 0);
  assert_int_equal(serial_count(fx->st), 0);
  assert_int_equal(audit_count(fx->st), 0);
  uint8_t *v = NULL;
  size_t len;
  assert_int_equal(stw_store_voucher_get(fx->st, DEV_A, &v, &len), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_commit(fx->st), STW_ERR_STATE);
  stw_store_rollback(fx->st);  /* harmless outside a transaction */

  /* After a rollback the chain starts again at 1. */
  append_audit(fx->st, "enroll", "after");
  assert_int_equal(audit_count(fx->st), 1);
}

static void test_commit_visible_to_second_handle(void **state)
{
  store_fx_t *fx = *state;
  stw_store_t *other = NULL;
  assert_int_equal(stw_store_open(fx->path, &other), STW_OK);

  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  put_device(fx->st, DEV_A, STW_STATE_MANUFACTURED);
  assert_int_equal(stw_store_serial_claim(fx->st, "0b", DEV_A, 0), STW_OK);
  /* Not yet committed: the other handle (WAL reader) sees the old snapshot. */
  assert_int_equal(device_count(other), 0);
  assert_int_equal(stw_store_commit(fx->st), STW_OK);
  assert_int_equal(device_count(other), 1);
  assert_int_equal(serial_count(other), 1);

  /* The serial guarantee holds across handles. */
  assert_int_equal(stw_store_serial_claim(other, "0b", DEV_B, 0), STW_ERR_EXISTS);
  /* And the other handle's writes show up here. */
  put_device(other, DEV_B, STW_STATE_BOOTSTRAPPED);
  assert_int_equal(device_count(fx->st), 2);
  stw_store_close(other);
}

static void test_savepoint_isolation(void **state)
{
  store_fx_t *fx = *state;
  assert_int_equal(stw_store_savepoint(fx->st, "job_1"), STW_ERR_STATE);  /* needs a transaction */
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  put_device(fx->st, DEV_A, STW_STATE_MANUFACTURED);

  assert_int_equal(stw_store_savepoint(fx->st, "job_1"), STW_OK);
  put_device(fx->st, DEV_B, STW_STATE_MANUFACTURED);
  assert_int_equal(stw_store_serial_claim(fx->st, "0c", DEV_B, 0), STW_OK);
  stw_store_rollback_to(fx->st, "job_1");
  assert_int_equal(stw_store_release(fx->st, "job_1"), STW_OK);

  assert_int_equal(stw_store_savepoint(fx->st, "job_2"), STW_OK);
  put_device(fx->st, DEV_C, STW_STATE_MANUFACTURED);
  assert_int_equal(stw_store_release(fx->st, "job_2"), STW_OK);
  assert_int_equal(stw_store_commit(fx->st), STW_OK);

  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(stw_store_device_get(fx->st, DEV_B, &d), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_device_get(fx->st, DEV_C, &d), STW_OK);
  assert_int_equal(serial_count(fx->st), 0);

  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_store_savepoint(fx->st, "Bad-Name"), STW_ERR_INVALID);
  assert_int_equal(stw_store_savepoint(fx->st, "x; DROP TABLE devices"), STW_ERR_INVALID);
  assert_int_equal(stw_store_savepoint(fx->st, ""), STW_ERR_INVALID);
  stw_store_rollback(fx->st);
}

/* A failed write inside the caller's transaction undoes only itself. */
static void test_failed_write_inside_transaction(void **state)
{
  store_fx_t *fx = *state;
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_store_serial_claim(fx->st, "0d", DEV_A, 0), STW_OK);
  assert_int_equal(stw_store_serial_claim(fx->st, "0d", DEV_B, 0), STW_ERR_EXISTS);
  assert_int_equal(stw_store_trust_remove(fx->st, 12345), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_serial_claim(fx->st, "0e", DEV_A, 0), STW_OK);
  assert_int_equal(stw_store_commit(fx->st), STW_OK);
  assert_int_equal(serial_count(fx->st), 2);
}

/* ---- audit ------------------------------------------------------------------------ */

typedef struct {
  int n;
  stw_audit_t recs[16];
} audit_seen_t;

static stw_status_t audit_collect(const stw_audit_t *a, void *ctx)
{
  audit_seen_t *s = ctx;
  if (s->n >= 16)
    return STW_ERR_TOO_LARGE;
  s->recs[s->n++] = *a;
  return STW_OK;
}

static void test_audit_chain(void **state)
{
  store_fx_t *fx = *state;
  for (int i = 0; i < 10; i++) {
    char detail[32];
    snprintf(detail, sizeof(detail), "record %d", i + 1);
    append_audit(fx->st, "enroll", detail);
  }
  uint64_t count = 0, bad = 1;
  assert_int_equal(stw_store_audit_verify(fx->st, &count, &bad), STW_OK);
  assert_int_equal(count, 10);
  assert_int_equal(bad, 0);

  audit_seen_t seen = { 0 };
  assert_int_equal(stw_store_audit_list(fx->st, 0, 0, audit_collect, &seen), STW_OK);
  assert_int_equal(seen.n, 10);
  uint8_t zero[32] = { 0 };
  assert_memory_equal(seen.recs[0].prev_hash, zero, 32);
  for (int i = 0; i < 10; i++) {
    uint8_t h[32];
    assert_int_equal(seen.recs[i].seq, (uint64_t)i + 1);
    assert_true(seen.recs[i].at > 0);  /* filled in by the store */
    stw_audit_compute_hash(&seen.recs[i], h);
    assert_memory_equal(h, seen.recs[i].hash, 32);
    if (i > 0)
      assert_memory_equal(seen.recs[i].prev_hash, seen.recs[i - 1].hash, 32);
  }

  memset(&seen, 0, sizeof(seen));
  assert_int_equal(stw_store_audit_list(fx->st, 7, 0, audit_collect, &seen), STW_OK);
  assert_int_equal(seen.n, 3);
  assert_int_equal(seen.recs[0].seq, 8);
  memset(&seen, 0, sizeof(seen));
  assert_int_equal(stw_store_audit_list(fx->st, 2, 4, audit_collect, &seen), STW_OK);
  assert_int_equal(seen.n, 4);
  assert_int_equal(seen.recs[3].seq, 6);
  assert_string_equal(seen.recs[0].detail, "record 3");
}

/* The encoding is unambiguous: moving bytes between fields changes the hash. */
static void test_audit_hash_canonical(void **state)
{
  (void)state;
  stw_audit_t a = { .seq = 5, .at = 1700000000 };
  snprintf(a.actor, sizeof(a.actor), "ab");
  snprintf(a.action, sizeof(a.action), "c");
  snprintf(a.outcome, sizeof(a.outcome), "ok");
  stw_audit_t b = a;
  snprintf(b.actor, sizeof(b.actor), "a");
  snprintf(b.action, sizeof(b.action), "bc");
  uint8_t ha[32], hb[32], hc[32];
  stw_audit_compute_hash(&a, ha);
  stw_audit_compute_hash(&b, hb);
  assert_memory_not_equal(ha, hb, 32);

  stw_audit_t c = a;
  c.prev_hash[31] ^= 1;
  stw_audit_compute_hash(&c, hc);
  assert_memory_not_equal(ha, hc, 32);
  c = a;
  c.seq = 6;
  stw_audit_compute_hash(&c, hc);
  assert_memory_not_equal(ha, hc, 32);
  c = a;
  stw_audit_compute_hash(&c, hc);
  assert_memory_equal(ha, hc, 32);  /* deterministic */
}

static void test_audit_triggers_refuse_changes(void **state)
{
  store_fx_t *fx = *state;
  append_audit(fx->st, "enroll", "one");
  append_audit(fx->st, "enroll", "two");
  sqlite3 *db = raw_open(fx);
  assert_int_equal(raw_exec(db, "UPDATE audit SET detail = 'forged' WHERE seq = 1"), SQLITE_CONSTRAINT);
  assert_int_equal(raw_exec(db, "DELETE FROM audit WHERE seq = 2"), SQLITE_CONSTRAINT);
  assert_int_equal(raw_exec(db, "DELETE FROM audit"), SQLITE_CONSTRAINT);
  assert_int_equal(store_fx_sql_int(db, "SELECT count(*) FROM audit"), 2);
  sqlite3_close(db);
  assert_int_equal(audit_count(fx->st), 2);
}

static void test_audit_tamper_detected(void **state)
{
  store_fx_t *fx = *state;
  for (int i = 0; i < 8; i++)
    append_audit(fx->st, "enroll", "fine");
  sqlite3 *db = raw_open(fx);
  assert_int_equal(raw_exec(db, "DROP TRIGGER audit_no_update"), SQLITE_OK);
  assert_int_equal(raw_exec(db, "UPDATE audit SET outcome = 'refused' WHERE seq = 5"), SQLITE_OK);
  sqlite3_close(db);

  uint64_t count = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(fx->st, &count, &bad), STW_ERR_TAMPERED);
  assert_int_equal(bad, 5);
  assert_int_equal(count, 5);
}

/* Recomputing the hash after the edit does not help: the next link breaks. */
static void test_audit_rehash_detected(void **state)
{
  store_fx_t *fx = *state;
  for (int i = 0; i < 6; i++)
    append_audit(fx->st, "enroll", "fine");
  audit_seen_t seen = { 0 };
  assert_int_equal(stw_store_audit_list(fx->st, 2, 1, audit_collect, &seen), STW_OK);
  stw_audit_t forged = seen.recs[0];
  snprintf(forged.detail, sizeof(forged.detail), "nothing happened");
  stw_audit_compute_hash(&forged, forged.hash);

  sqlite3 *db = raw_open(fx);
  assert_int_equal(raw_exec(db, "DROP TRIGGER audit_no_update"), SQLITE_OK);
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET detail = ?1, hash = ?2 WHERE seq = 3", -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_text(s, 1, forged.detail, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, forged.hash, 32, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);

  uint64_t count = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(fx->st, &count, &bad), STW_ERR_TAMPERED);
  assert_int_equal(bad, 4);
}

static void test_audit_deletion_detected(void **state)
{
  store_fx_t *fx = *state;
  for (int i = 0; i < 6; i++)
    append_audit(fx->st, "enroll", "fine");
  sqlite3 *db = raw_open(fx);
  assert_int_equal(raw_exec(db, "DROP TRIGGER audit_no_delete"), SQLITE_OK);
  assert_int_equal(raw_exec(db, "DELETE FROM audit WHERE seq = 3"), SQLITE_OK);
  sqlite3_close(db);
  uint64_t count = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(fx->st, &count, &bad), STW_ERR_TAMPERED);
  assert_int_equal(bad, 4);  /* the first record whose link does not match */
}

static void test_audit_bounds(void **state)
{
  store_fx_t *fx = *state;
  stw_audit_t a = { 0 };
  snprintf(a.action, sizeof(a.action), "enroll");
  snprintf(a.outcome, sizeof(a.outcome), "ok");
  memset(a.actor, 'x', sizeof(a.actor));  /* no NUL inside the field */
  assert_int_equal(stw_store_audit_append(fx->st, &a), STW_ERR_TOO_LARGE);
  snprintf(a.actor, sizeof(a.actor), "admin");
  memset(a.detail, 'y', sizeof(a.detail));
  assert_int_equal(stw_store_audit_append(fx->st, &a), STW_ERR_TOO_LARGE);
  a.detail[0] = '\0';
  a.action[0] = '\0';
  assert_int_equal(stw_store_audit_append(fx->st, &a), STW_ERR_INVALID);
  assert_int_equal(audit_count(fx->st), 0);
}

/* ---- transitions ------------------------------------------------------------------ */

static void test_transition_allowed(void **state)
{
  store_fx_t *fx = *state;
  put_device(fx->st, DEV_A, STW_STATE_MANUFACTURED);
  stw_state_t next = STW_STATE_COUNT;
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_BOOTSTRAP, "device:" DEV_A, "ldevid issued", &next), STW_OK);
  assert_int_equal(next, STW_STATE_BOOTSTRAPPED);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_REGISTER, "daemon", NULL, &next), STW_OK);
  assert_int_equal(next, STW_STATE_COMMISSIONED);

  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_COMMISSIONED);
  assert_true(d.updated_at > 1700000000);
  assert_int_equal(d.created_at, 1700000000);
  stw_device_clear(&d);

  audit_seen_t seen = { 0 };
  assert_int_equal(stw_store_audit_list(fx->st, 0, 0, audit_collect, &seen), STW_OK);
  assert_int_equal(seen.n, 2);
  assert_string_equal(seen.recs[0].action, "transition");
  assert_string_equal(seen.recs[0].actor, "device:" DEV_A);
  assert_string_equal(seen.recs[0].subject, DEV_A);
  assert_string_equal(seen.recs[0].outcome, "ok");
  assert_string_equal(seen.recs[0].detail, "MANUFACTURED->BOOTSTRAPPED (bootstrap): ldevid issued");
  assert_string_equal(seen.recs[1].detail, "BOOTSTRAPPED->COMMISSIONED (register)");
  assert_int_equal(audit_count(fx->st), 2);
}

static void test_transition_refused_writes_nothing(void **state)
{
  store_fx_t *fx = *state;
  put_device(fx->st, DEV_A, STW_STATE_MANUFACTURED);
  stw_state_t next = STW_STATE_COUNT;
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_ACTIVATE, "admin", NULL, &next), STW_ERR_STATE);
  assert_int_equal(next, STW_STATE_COUNT);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_REIMPRINT, "admin", NULL, &next), STW_ERR_STATE);
  assert_int_equal(stw_store_transition(fx->st, DEV_B, STW_EV_BOOTSTRAP, "admin", NULL, &next), STW_ERR_NOT_FOUND);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_MANUFACTURED);
  assert_int_equal(d.updated_at, 1700000000);
  stw_device_clear(&d);
  assert_int_equal(audit_count(fx->st), 0);

  /* Refused inside a caller's transaction: the transaction carries on intact. */
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  append_audit(fx->st, "note", "before");
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_REMEDIATE, "admin", NULL, &next), STW_ERR_STATE);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_BOOTSTRAP, "admin", NULL, &next), STW_OK);
  assert_int_equal(stw_store_commit(fx->st), STW_OK);
  assert_int_equal(audit_count(fx->st), 2);
}

static void test_transition_joins_caller_transaction(void **state)
{
  store_fx_t *fx = *state;
  put_device(fx->st, DEV_A, STW_STATE_OPERATIONAL);
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_QUARANTINE, "daemon", "attestation failed", NULL), STW_OK);
  stw_store_rollback(fx->st);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_OPERATIONAL);  /* state and audit went together */
  stw_device_clear(&d);
  assert_int_equal(audit_count(fx->st), 0);

  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_QUARANTINE, "daemon", NULL, NULL), STW_OK);
  assert_int_equal(stw_store_commit(fx->st), STW_OK);
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_QUARANTINED);
  stw_device_clear(&d);
  assert_int_equal(audit_count(fx->st), 1);
}

static void test_transition_reimprint(void **state)
{
  store_fx_t *fx = *state;
  put_device(fx->st, DEV_A, STW_STATE_UPDATING);
  stw_state_t next;
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_DECOMMISSION, "admin", NULL, &next), STW_OK);
  assert_int_equal(next, STW_STATE_DECOMMISSIONED);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_BOOTSTRAP, "admin", NULL, &next), STW_ERR_STATE);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_REIMPRINT, "admin", "sold", &next), STW_OK);
  assert_int_equal(next, STW_STATE_MANUFACTURED);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.generation, 1);
  stw_device_clear(&d);
  assert_int_equal(audit_count(fx->st), 2);
}

static void test_transition_bounds(void **state)
{
  store_fx_t *fx = *state;
  put_device(fx->st, DEV_A, STW_STATE_MANUFACTURED);
  char long_detail[STW_REASON_MAX];
  memset(long_detail, 'z', sizeof(long_detail) - 1);
  long_detail[sizeof(long_detail) - 1] = '\0';
  /* Fits the field on its own, but not with the "<from>-><to>" prefix: refused, not cut. */
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_BOOTSTRAP, "admin", long_detail, NULL), STW_ERR_TOO_LARGE);
  char long_actor[STW_TEXT_MAX + 1];
  memset(long_actor, 'a', STW_TEXT_MAX);
  long_actor[STW_TEXT_MAX] = '\0';
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_BOOTSTRAP, long_actor, NULL, NULL), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_transition(fx->st, DEV_A, STW_EV_COUNT, "admin", NULL, NULL), STW_ERR_INVALID);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, DEV_A, &d), STW_OK);
  assert_int_equal(d.state, STW_STATE_MANUFACTURED);
  stw_device_clear(&d);
  assert_int_equal(audit_count(fx->st), 0);
}

/* ---- bounded inputs ------------------------------------------------------------- */

static void test_strings_too_long(void **state)
{
  store_fx_t *fx = *state;
  char name[STW_TEXT_MAX + 1];
  memset(name, 'n', STW_TEXT_MAX);
  name[STW_TEXT_MAX] = '\0';
  const uint8_t der[] = { 0x30, 0x00 };
  assert_int_equal(stw_store_trust_add(fx->st, name, der, sizeof(der)), STW_ERR_TOO_LARGE);
  name[STW_TEXT_MAX - 1] = '\0';  /* 63 characters: the longest that fits */
  assert_int_equal(stw_store_trust_add(fx->st, name, der, sizeof(der)), STW_OK);

  char id[STW_ID_HEX + 1];
  memset(id, 'f', STW_ID_HEX);
  id[STW_ID_HEX] = '\0';
  uint8_t *v = NULL;
  size_t len;
  assert_int_equal(stw_store_voucher_put(fx->st, id, der, sizeof(der)), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_voucher_get(fx->st, id, &v, &len), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_serial_claim(fx->st, "01", id, 0), STW_ERR_TOO_LARGE);
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, id, &d), STW_ERR_TOO_LARGE);

  make_device(&d, DEV_A, STW_STATE_MANUFACTURED);
  memset(d.model, 'm', sizeof(d.model));  /* field without its NUL */
  assert_int_equal(stw_store_device_put(fx->st, &d), STW_ERR_TOO_LARGE);
  make_device(&d, DEV_A, STW_STATE_MANUFACTURED);
  memset(d.id, 'a', sizeof(d.id));
  assert_int_equal(stw_store_device_put(fx->st, &d), STW_ERR_TOO_LARGE);

  stw_rule_t r = { .kind = STW_RULE_GROUP };
  memset(r.name_prefix, 'p', sizeof(r.name_prefix));
  assert_int_equal(stw_store_rule_add(fx->st, &r), STW_ERR_TOO_LARGE);

  stw_psk_t p = { .kind = STW_PSK_BOOTSTRAP, .key_len = 16 };
  memset(p.identity, 'i', sizeof(p.identity));
  snprintf(p.device_id, sizeof(p.device_id), DEV_A);
  assert_int_equal(stw_store_psk_put(fx->st, &p), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_store_psk_set_active(fx->st, name, true), STW_ERR_NOT_FOUND);

  assert_int_equal(device_count(fx->st), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_open_new_store, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_reopen_does_not_rerun_migrations, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_migration_from_schema_4_keeps_data, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_create_at_bounds, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, store_fx_teardown),
    cmocka_unit_test(test_open_urls),
    cmocka_unit_test_setup_teardown(test_trust, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_rules, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_vouchers, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_device_round_trip, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_device_list_and_count, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_serials_unique, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_psk, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_commit_visible_to_second_handle, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_savepoint_isolation, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_failed_write_inside_transaction, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_audit_chain, setup, store_fx_teardown),
    cmocka_unit_test(test_audit_hash_canonical),
    cmocka_unit_test_setup_teardown(test_audit_triggers_refuse_changes, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_audit_tamper_detected, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_audit_rehash_detected, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_audit_deletion_detected, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_audit_bounds, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_transition_allowed, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_transition_refused_writes_nothing, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_transition_joins_caller_transaction, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_transition_reimprint, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_transition_bounds, setup, store_fx_teardown),
    cmocka_unit_test_setup_teardown(test_strings_too_long, setup, store_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
