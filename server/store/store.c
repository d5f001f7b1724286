/* The backend-neutral half of the store: argument checks, the choice of
 * backend by URL, the transaction discipline every write follows, the audit
 * hash chain and the one function that performs lifecycle transitions.
 * No SQL here: each backend file speaks its own database. */
#include "store_internal.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- argument checks ---------------------------------------------------- */

/* A C string that fits a field of cap bytes (NUL included). Longer input is
 * refused, never cut: a truncated name could collide with another one. */
static stw_status_t check_str(const char *s, size_t cap, bool allow_empty)
{
  if (s == NULL)
    return STW_ERR_INVALID;
  size_t n = strnlen(s, cap);
  if (n >= cap)
    return STW_ERR_TOO_LARGE;
  if (n == 0 && !allow_empty)
    return STW_ERR_INVALID;
  return STW_OK;
}

/* A char array inside a caller's struct must be NUL-terminated within it. */
#define CHECK_FIELD(field, allow_empty) check_str((field), sizeof(field), (allow_empty))

static stw_status_t check_blob(const uint8_t *p, size_t len, bool allow_empty)
{
  if (len > STW_STORE_BLOB_MAX)
    return STW_ERR_TOO_LARGE;
  if (len == 0)
    return allow_empty ? STW_OK : STW_ERR_INVALID;
  return p != NULL ? STW_OK : STW_ERR_INVALID;
}

static bool savepoint_name_ok(const char *name)
{
  if (name == NULL || name[0] == '\0')
    return false;
  size_t n = strnlen(name, STW_SAVEPOINT_NAME_MAX + 1);
  if (n > STW_SAVEPOINT_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

/* ---- open / close -------------------------------------------------------- */

typedef stw_status_t (*backend_open_fn)(const char *rest, void **be);

static const struct {
  const char *prefix;
  const stw_store_ops_t *ops;  /* NULL: known scheme, backend not built yet */
  backend_open_fn open;
} backends[] = {
  { "sqlite:", &stw__sqlite_ops, stw__sqlite_open },
  { "postgres:", NULL, NULL },
  { "postgresql:", NULL, NULL },
};

stw_status_t stw_store_open(const char *url, stw_store_t **out)
{
  stw_status_t rc = STW_ERR_INVALID;
  stw_store_t *st = NULL;
  const stw_store_ops_t *ops = &stw__sqlite_ops;
  backend_open_fn open_fn = stw__sqlite_open;
  const char *rest = url;

  if (url == NULL || out == NULL || url[0] == '\0')
    goto out;
  *out = NULL;
  for (size_t i = 0; i < STW_ARRAY_LEN(backends); i++) {
    size_t plen = strlen(backends[i].prefix);
    if (strncmp(url, backends[i].prefix, plen) == 0) {
      ops = backends[i].ops;
      open_fn = backends[i].open;
      rest = url + plen;
      break;
    }
  }
  if (ops == NULL) {
    rc = STW_ERR_UNSUPPORTED;
    goto out;
  }
  if (rest[0] == '\0')
    goto out;
  st = calloc(1, sizeof(*st));
  if (st == NULL) {
    rc = STW_ERR_NOMEM;
    goto out;
  }
  st->ops = ops;
  rc = open_fn(rest, &st->be);
  if (rc != STW_OK)
    goto out;
  *out = st;
  st = NULL;
out:
  free(st);
  return rc;
}

void stw_store_close(stw_store_t *st)
{
  if (st == NULL)
    return;
  st->ops->close(st->be);
  free(st);
}

int stw_store_schema_version(stw_store_t *st)
{
  return st != NULL ? st->ops->schema_version(st->be) : -1;
}

/* ---- transactions -------------------------------------------------------- */

stw_status_t stw_store_begin(stw_store_t *st)
{
  if (st == NULL)
    return STW_ERR_INVALID;
  if (st->ops->in_tx(st->be))
    return STW_ERR_STATE;  /* nesting is what savepoints are for */
  return st->ops->begin(st->be);
}

stw_status_t stw_store_commit(stw_store_t *st)
{
  if (st == NULL)
    return STW_ERR_INVALID;
  if (!st->ops->in_tx(st->be))
    return STW_ERR_STATE;
  return st->ops->commit(st->be);
}

void stw_store_rollback(stw_store_t *st)
{
  if (st != NULL && st->ops->in_tx(st->be))
    st->ops->rollback(st->be);
}

stw_status_t stw_store_savepoint(stw_store_t *st, const char *name)
{
  if (st == NULL || !savepoint_name_ok(name))
    return STW_ERR_INVALID;
  if (!st->ops->in_tx(st->be))
    return STW_ERR_STATE;
  return st->ops->savepoint(st->be, name);
}

stw_status_t stw_store_release(stw_store_t *st, const char *name)
{
  if (st == NULL || !savepoint_name_ok(name))
    return STW_ERR_INVALID;
  if (!st->ops->in_tx(st->be))
    return STW_ERR_STATE;
  return st->ops->release(st->be, name);
}

void stw_store_rollback_to(stw_store_t *st, const char *name)
{
  if (st == NULL || !savepoint_name_ok(name) || !st->ops->in_tx(st->be))
    return;
  (void)st->ops->rollback_to(st->be, name);
}

/* Every write runs through write_enter/write_leave. Outside a transaction it
 * gets its own (BEGIN IMMEDIATE: the write lock is taken before anything is
 * read, so read-then-write cannot lose an update to another process). Inside
 * the caller's transaction it runs in a savepoint of its own, so a failing
 * write leaves no half of itself behind in the caller's transaction. */
#define WRITE_SAVEPOINT "stw_write"

static stw_status_t write_enter(stw_store_t *st, bool *own)
{
  if (st->ops->in_tx(st->be)) {
    *own = false;
    return st->ops->savepoint(st->be, WRITE_SAVEPOINT);
  }
  *own = true;
  return st->ops->begin(st->be);
}

static stw_status_t write_leave(stw_store_t *st, bool own, stw_status_t rc)
{
  if (own) {
    if (rc == STW_OK)
      return st->ops->commit(st->be);
    st->ops->rollback(st->be);
    return rc;
  }
  if (!st->ops->in_tx(st->be))
    return rc != STW_OK ? rc : STW_ERR_STORE;  /* the database dropped the transaction */
  if (rc != STW_OK)
    (void)st->ops->rollback_to(st->be, WRITE_SAVEPOINT);
  stw_status_t rel = st->ops->release(st->be, WRITE_SAVEPOINT);
  return rc != STW_OK ? rc : rel;
}

/* The common write: one backend call between write_enter and write_leave.
 * Sets rc to the outcome; the call is made only once the write is entered.
 * A macro only because every backend call has its own signature. */
#define WRITE_ONE(st, rc, call)                      \
  do {                                               \
    bool own_ = false;                               \
    if (((rc) = write_enter((st), &own_)) == STW_OK) \
      (rc) = write_leave((st), own_, (call));        \
  } while (0)

/* The removals that are one backend call on a row id (st already checked). */
static stw_status_t write_by_id(stw_store_t *st, stw_status_t (*op)(void *be, int64_t id), int64_t id)
{
  stw_status_t rc;
  WRITE_ONE(st, rc, op(st->be, id));
  return rc;
}

/* The same on a string key of at most cap bytes (NUL included). */
static stw_status_t write_by_key(stw_store_t *st, stw_status_t (*op)(void *be, const char *key), const char *key,
                                 size_t cap)
{
  stw_status_t rc;
  if ((rc = check_str(key, cap, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, op(st->be, key));
  return rc;
}

/* The argument checks of a read of one row by a string key: the result is
 * emptied first, so a refused or failed read never leaves stale data in it. */
static stw_status_t keyed_read_args(stw_store_t *st, void *out, size_t out_size, const char *key, size_t key_cap)
{
  if (st == NULL || out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, out_size);
  return check_str(key, key_cap, false);
}

/* ---- record helpers ------------------------------------------------------- */

void stw_trust_clear(stw_trust_t *t)
{
  if (t == NULL)
    return;
  free(t->cert_der);
  memset(t, 0, sizeof(*t));
}

void stw_device_clear(stw_device_t *d)
{
  if (d == NULL)
    return;
  free(d->ldevid);
  memset(d, 0, sizeof(*d));
}

/* ---- trusted manufacturers ------------------------------------------------ */

stw_status_t stw_store_trust_add(stw_store_t *st, const char *name, const uint8_t *der, size_t len)
{
  uint8_t fp[32];
  stw_status_t rc = STW_ERR_INVALID;
  if (st == NULL)
    goto out;
  if ((rc = check_str(name, STW_TEXT_MAX, false)) != STW_OK)
    goto out;
  if ((rc = check_blob(der, len, false)) != STW_OK)
    goto out;
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, fp) < 0) {
    rc = STW_ERR_CRYPTO;
    goto out;
  }
  WRITE_ONE(st, rc, st->ops->trust_add(st->be, name, fp, der, len));
out:
  return rc;
}

stw_status_t stw_store_trust_list(stw_store_t *st, stw_trust_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->trust_list(st->be, cb, ctx);
}

stw_status_t stw_store_trust_remove(stw_store_t *st, int64_t id)
{
  if (st == NULL)
    return STW_ERR_INVALID;
  return write_by_id(st, st->ops->trust_remove, id);
}

/* ---- enrollment policy ---------------------------------------------------- */

stw_status_t stw_store_rule_add(stw_store_t *st, stw_rule_t *rule)
{
  stw_status_t rc = STW_ERR_INVALID;
  if (st == NULL || rule == NULL)
    goto out;
  if (rule->kind != STW_RULE_DEVICE && rule->kind != STW_RULE_GROUP)
    goto out;
  if ((rc = CHECK_FIELD(rule->device_id, rule->kind == STW_RULE_GROUP)) != STW_OK ||
      (rc = CHECK_FIELD(rule->model, true)) != STW_OK ||
      (rc = CHECK_FIELD(rule->manufacturer, true)) != STW_OK ||
      (rc = CHECK_FIELD(rule->name_prefix, true)) != STW_OK)
    goto out;
  WRITE_ONE(st, rc, st->ops->rule_add(st->be, rule));
out:
  return rc;
}

stw_status_t stw_store_rule_list(stw_store_t *st, stw_rule_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->rule_list(st->be, cb, ctx);
}

stw_status_t stw_store_rule_remove(stw_store_t *st, int64_t id)
{
  if (st == NULL)
    return STW_ERR_INVALID;
  return write_by_id(st, st->ops->rule_remove, id);
}

/* ---- vouchers --------------------------------------------------------------- */

stw_status_t stw_store_voucher_put(stw_store_t *st, const char *device_id, const uint8_t *voucher, size_t len)
{
  stw_status_t rc = STW_ERR_INVALID;
  if (st == NULL)
    goto out;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK ||
      (rc = check_blob(voucher, len, false)) != STW_OK)
    goto out;
  WRITE_ONE(st, rc, st->ops->voucher_put(st->be, device_id, voucher, len, stw_now()));
out:
  return rc;
}

stw_status_t stw_store_voucher_get(stw_store_t *st, const char *device_id, uint8_t **out, size_t *len)
{
  stw_status_t rc;
  if (st == NULL || out == NULL || len == NULL)
    return STW_ERR_INVALID;
  *out = NULL;
  *len = 0;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK)
    return rc;
  return st->ops->voucher_get(st->be, device_id, out, len);
}

stw_status_t stw_store_voucher_delete(stw_store_t *st, const char *device_id)
{
  if (st == NULL)
    return STW_ERR_INVALID;
  return write_by_key(st, st->ops->voucher_delete, device_id, STW_ID_HEX);
}

/* ---- devices -------------------------------------------------------------- */

static stw_status_t check_device(const stw_device_t *d)
{
  stw_status_t rc;
  if ((unsigned)d->state >= STW_STATE_COUNT)
    return STW_ERR_INVALID;
  if (d->cred_kind != STW_CRED_X509 && d->cred_kind != STW_CRED_PSK)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(d->id, false)) != STW_OK ||
      (rc = CHECK_FIELD(d->name, true)) != STW_OK ||
      (rc = CHECK_FIELD(d->model, true)) != STW_OK ||
      (rc = CHECK_FIELD(d->manufacturer, true)) != STW_OK ||
      (rc = CHECK_FIELD(d->ldevid_serial, true)) != STW_OK ||
      (rc = CHECK_FIELD(d->psk_identity, true)) != STW_OK)
    return rc;
  return check_blob(d->ldevid, d->ldevid_len, true);
}

static bool state_arg_ok(int state)
{
  return state < (int)STW_STATE_COUNT;  /* negative: every state */
}

stw_status_t stw_store_device_get(stw_store_t *st, const char *id, stw_device_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), id, STW_ID_HEX);
  if (rc != STW_OK)
    return rc;
  rc = st->ops->device_get(st->be, id, out);
  if (rc != STW_OK)
    stw_device_clear(out);
  return rc;
}

stw_status_t stw_store_device_put(stw_store_t *st, const stw_device_t *d)
{
  stw_status_t rc;
  if (st == NULL || d == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_device(d)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->device_put(st->be, d));
  return rc;
}

stw_status_t stw_store_device_list(stw_store_t *st, int state, stw_device_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL || !state_arg_ok(state))
    return STW_ERR_INVALID;
  return st->ops->device_list(st->be, state, cb, ctx);
}

stw_status_t stw_store_device_count(stw_store_t *st, int state, uint64_t *count)
{
  if (st == NULL || count == NULL || !state_arg_ok(state))
    return STW_ERR_INVALID;
  *count = 0;
  return st->ops->device_count(st->be, state, count);
}

/* ---- serials ------------------------------------------------------------- */

/* Lower-case a serial so "0A" and "0a" are one serial to the unique key. */
static stw_status_t normalize_serial(const char *serial_hex, char serial[STW_SERIAL_HEX_MAX + 1])
{
  stw_status_t rc = check_str(serial_hex, STW_SERIAL_HEX_MAX + 1, false);
  if (rc != STW_OK)
    return rc;
  size_t n = strlen(serial_hex);
  for (size_t i = 0; i < n; i++) {
    char c = serial_hex[i];
    if (c >= 'A' && c <= 'F')
      c = (char)(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return STW_ERR_MALFORMED;
    serial[i] = c;
  }
  serial[n] = '\0';
  return STW_OK;
}

stw_status_t stw_store_serial_claim(stw_store_t *st, const char *serial_hex, const char *device_id, int64_t not_after)
{
  char serial[STW_SERIAL_HEX_MAX + 1];
  stw_status_t rc = STW_ERR_INVALID;
  if (st == NULL)
    goto out;
  if ((rc = normalize_serial(serial_hex, serial)) != STW_OK ||
      (rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK)
    goto out;
  WRITE_ONE(st, rc, st->ops->serial_claim(st->be, serial, device_id, not_after, stw_now()));
out:
  return rc;
}

stw_status_t stw_store_serial_count(stw_store_t *st, uint64_t *count)
{
  if (st == NULL || count == NULL)
    return STW_ERR_INVALID;
  *count = 0;
  return st->ops->serial_count(st->be, count);
}

/* ---- pre-shared keys ------------------------------------------------------ */

stw_status_t stw_store_psk_put(stw_store_t *st, const stw_psk_t *p)
{
  stw_status_t rc;
  if (st == NULL || p == NULL)
    return STW_ERR_INVALID;
  if (p->kind != STW_PSK_BOOTSTRAP && p->kind != STW_PSK_OPERATIONAL)
    return STW_ERR_INVALID;
  if (p->key_len == 0)
    return STW_ERR_INVALID;
  if (p->key_len > sizeof(p->key))
    return STW_ERR_TOO_LARGE;
  if ((rc = CHECK_FIELD(p->identity, false)) != STW_OK ||
      (rc = CHECK_FIELD(p->device_id, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->psk_put(st->be, p));
  return rc;
}

stw_status_t stw_store_psk_get(stw_store_t *st, const char *identity, stw_psk_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), identity, STW_TEXT_MAX);
  if (rc != STW_OK)
    return rc;
  rc = st->ops->psk_get(st->be, identity, out);
  if (rc != STW_OK)
    stw_wipe(out, sizeof(*out));
  return rc;
}

stw_status_t stw_store_psk_set_active(stw_store_t *st, const char *identity, bool active)
{
  stw_status_t rc;
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(identity, STW_TEXT_MAX, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->psk_set_active(st->be, identity, active));
  return rc;
}

/* ---- audit chain --------------------------------------------------------------
 * hash = SHA-256(prev_hash || encoding), where encoding is
 *   "steward-audit-v1" || u64be(seq) || u64be(at, two's complement)
 *   || for actor, action, subject, outcome, detail: u32be(len) || bytes
 * Every variable-length field carries its length, so no two different records
 * encode alike (moving a byte from actor to action changes the encoding). */

static const char audit_domain[] = "steward-audit-v1";

static size_t put_u64(uint8_t *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
  return 8;
}

static size_t put_field(uint8_t *p, const char *s, size_t cap)
{
  size_t n = strnlen(s, cap);  /* bounded even if a caller forgot the NUL */
  p[0] = (uint8_t)(n >> 24);
  p[1] = (uint8_t)(n >> 16);
  p[2] = (uint8_t)(n >> 8);
  p[3] = (uint8_t)n;
  memcpy(p + 4, s, n);
  return 4 + n;
}

static stw_status_t audit_hash(const stw_audit_t *rec, uint8_t out[32])
{
  uint8_t buf[32 + sizeof(audit_domain) + 16 + 5 * 4 + 4 * STW_TEXT_MAX + STW_REASON_MAX];
  size_t n = 0;
  memcpy(buf + n, rec->prev_hash, 32);
  n += 32;
  memcpy(buf + n, audit_domain, sizeof(audit_domain) - 1);
  n += sizeof(audit_domain) - 1;
  n += put_u64(buf + n, rec->seq);
  n += put_u64(buf + n, (uint64_t)rec->at);
  n += put_field(buf + n, rec->actor, sizeof(rec->actor));
  n += put_field(buf + n, rec->action, sizeof(rec->action));
  n += put_field(buf + n, rec->subject, sizeof(rec->subject));
  n += put_field(buf + n, rec->outcome, sizeof(rec->outcome));
  n += put_field(buf + n, rec->detail, sizeof(rec->detail));
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, n, out) < 0)
    return STW_ERR_CRYPTO;
  return STW_OK;
}

void stw_audit_compute_hash(const stw_audit_t *rec, uint8_t out[32])
{
  /* A void contract: on the (practically impossible) crypto failure, hand back
   * all zeros, which no verify will ever accept as a record's hash. */
  if (rec == NULL || audit_hash(rec, out) != STW_OK)
    memset(out, 0, 32);
}

stw_status_t stw_store_audit_append(stw_store_t *st, stw_audit_t *rec)
{
  bool own = false;
  uint64_t last_seq = 0;
  stw_status_t rc = STW_ERR_INVALID;
  if (st == NULL || rec == NULL)
    goto out;
  if ((rc = CHECK_FIELD(rec->actor, false)) != STW_OK ||
      (rc = CHECK_FIELD(rec->action, false)) != STW_OK ||
      (rc = CHECK_FIELD(rec->subject, true)) != STW_OK ||
      (rc = CHECK_FIELD(rec->outcome, false)) != STW_OK ||
      (rc = CHECK_FIELD(rec->detail, true)) != STW_OK)
    goto out;
  if ((rc = write_enter(st, &own)) != STW_OK)
    goto out;
  /* The tail is read inside the write transaction, so two appenders (even in
   * two processes) cannot link to the same predecessor. */
  rc = st->ops->audit_last(st->be, &last_seq, rec->prev_hash);
  if (rc == STW_OK) {
    rec->seq = last_seq + 1;
    if (rec->at == 0)
      rec->at = stw_now();
    rc = audit_hash(rec, rec->hash);
  }
  if (rc == STW_OK)
    rc = st->ops->audit_insert(st->be, rec);
  rc = write_leave(st, own, rc);
out:
  return rc;
}

stw_status_t stw_store_audit_event(stw_store_t *st, const char *actor, const char *action, const char *subject,
                                   const char *outcome, const char *detail)
{
  stw_audit_t rec;
  memset(&rec, 0, sizeof(rec));
  snprintf(rec.actor, sizeof(rec.actor), "%s", actor && *actor ? actor : "anonymous");
  snprintf(rec.action, sizeof(rec.action), "%s", action ? action : "");
  snprintf(rec.subject, sizeof(rec.subject), "%s", subject ? subject : "");
  snprintf(rec.outcome, sizeof(rec.outcome), "%s", outcome ? outcome : "");
  snprintf(rec.detail, sizeof(rec.detail), "%s", detail ? detail : "");
  return stw_store_audit_append(st, &rec);
}

stw_status_t stw_store_audit_last(stw_store_t *st, uint64_t *seq)
{
  if (st == NULL || seq == NULL)
    return STW_ERR_INVALID;
  uint8_t hash[32];
  return st->ops->audit_last(st->be, seq, hash);
}

stw_status_t stw_store_audit_list(stw_store_t *st, uint64_t after, uint64_t limit, stw_audit_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->audit_list(st->be, after, limit, cb, ctx);
}

typedef struct {
  uint64_t expect_seq;
  uint8_t prev[32];
  uint64_t checked;
  uint64_t bad_seq;
} verify_ctx_t;

static stw_status_t verify_one(const stw_audit_t *a, void *arg)
{
  verify_ctx_t *v = arg;
  uint8_t h[32];
  v->checked++;
  /* A missing row shows as a gap in seq; a changed or reordered one as a
   * broken link or a hash that no longer matches its fields. */
  if (a->seq != v->expect_seq || !stw_ct_equal(a->prev_hash, v->prev, 32) ||
      audit_hash(a, h) != STW_OK || !stw_ct_equal(h, a->hash, 32)) {
    v->bad_seq = a->seq;
    return STW_ERR_TAMPERED;
  }
  memcpy(v->prev, a->hash, 32);
  v->expect_seq++;
  return STW_OK;
}

stw_status_t stw_store_audit_verify(stw_store_t *st, uint64_t *count, uint64_t *bad_seq)
{
  verify_ctx_t v = { .expect_seq = 1 };
  stw_status_t rc;
  if (count != NULL)
    *count = 0;
  if (bad_seq != NULL)
    *bad_seq = 0;
  if (st == NULL)
    return STW_ERR_INVALID;
  /* One listing query reads one consistent snapshot of the log. */
  rc = st->ops->audit_list(st->be, 0, 0, verify_one, &v);
  if (count != NULL)
    *count = v.checked;
  if (rc == STW_ERR_TAMPERED && bad_seq != NULL)
    *bad_seq = v.bad_seq;
  return rc;
}

/* ---- lifecycle transitions --------------------------------------------------- */

stw_status_t stw_store_transition(stw_store_t *st, const char *device_id, stw_event_t ev,
                                  const char *actor, const char *detail, stw_state_t *new_state)
{
  stw_device_t dev = { 0 };
  stw_audit_t rec = { 0 };
  stw_state_t from = STW_STATE_MANUFACTURED;
  stw_state_t to = STW_STATE_MANUFACTURED;
  bool own = false;
  bool entered = false;
  int n;
  stw_status_t rc = STW_ERR_INVALID;

  if (st == NULL || (unsigned)ev >= STW_EV_COUNT)
    goto out;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK ||
      (rc = check_str(actor, sizeof(rec.actor), false)) != STW_OK ||
      (detail != NULL && (rc = check_str(detail, sizeof(rec.detail), true)) != STW_OK))
    goto out;

  /* Load, decide and write under one write lock: nobody can move the device
   * between our read of its state and our write of the next one. */
  if ((rc = write_enter(st, &own)) != STW_OK)
    goto out;
  entered = true;
  if ((rc = st->ops->device_get(st->be, device_id, &dev)) != STW_OK)
    goto out;
  from = dev.state;
  if ((rc = stw_lifecycle_next(from, ev, &to)) != STW_OK)
    goto out;  /* refused: nothing has been written */

  /* detail: "<FROM>-><TO> (<event>)[: <caller's detail>]"; refused if it does
   * not fit rather than cut short. */
  if (detail != NULL && detail[0] != '\0')
    n = snprintf(rec.detail, sizeof(rec.detail), "%s->%s (%s): %s", stw_state_name(from),
                 stw_state_name(to), stw_event_name(ev), detail);
  else
    n = snprintf(rec.detail, sizeof(rec.detail), "%s->%s (%s)", stw_state_name(from),
                 stw_state_name(to), stw_event_name(ev));
  if (n < 0 || (size_t)n >= sizeof(rec.detail)) {
    rc = STW_ERR_TOO_LARGE;
    goto out;
  }

  dev.state = to;
  dev.updated_at = stw_now();
  if (ev == STW_EV_REIMPRINT)
    dev.generation++;  /* a new owner, a new life */
  if ((rc = st->ops->device_put(st->be, &dev)) != STW_OK)
    goto out;

  snprintf(rec.actor, sizeof(rec.actor), "%s", actor);
  snprintf(rec.action, sizeof(rec.action), "%s", "transition");
  snprintf(rec.subject, sizeof(rec.subject), "%s", device_id);
  snprintf(rec.outcome, sizeof(rec.outcome), "%s", "ok");
  /* Joins the transaction (or savepoint) opened above. */
  rc = stw_store_audit_append(st, &rec);
out:
  if (entered)
    rc = write_leave(st, own, rc);
  if (rc == STW_OK && new_state != NULL)
    *new_state = to;  /* only once it is durable (or part of the caller's transaction) */
  stw_device_clear(&dev);
  return rc;
}

/* ---- resource directory ---------------------------------------------------- */

void stw_rd_reg_clear(stw_rd_reg_t *r)
{
  if (r == NULL)
    return;
  free(r->links);
  r->links = NULL;
  r->links_len = 0;
}

static stw_status_t check_rd_reg(const stw_rd_reg_t *r)
{
  stw_status_t rc;
  if ((rc = CHECK_FIELD(r->id, false)) != STW_OK || (rc = CHECK_FIELD(r->device_id, false)) != STW_OK ||
      (rc = CHECK_FIELD(r->ep, false)) != STW_OK || (rc = CHECK_FIELD(r->d, true)) != STW_OK ||
      (rc = CHECK_FIELD(r->base, true)) != STW_OK || (rc = CHECK_FIELD(r->et, true)) != STW_OK ||
      (rc = CHECK_FIELD(r->vis, true)) != STW_OK || (rc = CHECK_FIELD(r->dattr, true)) != STW_OK)
    return rc;
  if (r->lt == 0)
    return STW_ERR_INVALID;
  if (r->links_len > STW_RD_LINKS_MAX)
    return STW_ERR_TOO_LARGE;
  if (r->links == NULL || strnlen(r->links, r->links_len + 1) != r->links_len)
    return STW_ERR_INVALID;
  return STW_OK;
}

static stw_status_t check_rd_res(const stw_rd_res_t *res)
{
  stw_status_t rc;
  if ((rc = CHECK_FIELD(res->href, false)) != STW_OK || (rc = CHECK_FIELD(res->link, false)) != STW_OK ||
      (rc = CHECK_FIELD(res->vis, true)) != STW_OK)
    return rc;
  if (res->n_attrs > STW_RD_ATTRS_MAX)
    return STW_ERR_TOO_LARGE;
  for (size_t i = 0; i < res->n_attrs; i++)
    if ((rc = CHECK_FIELD(res->attrs[i].name, false)) != STW_OK ||
        (rc = CHECK_FIELD(res->attrs[i].value, true)) != STW_OK)
      return rc;
  return STW_OK;
}

stw_status_t stw_store_rd_put(stw_store_t *st, const stw_rd_reg_t *reg, const stw_rd_res_t *res, size_t n_res)
{
  stw_status_t rc;
  if (st == NULL || reg == NULL || (n_res > 0 && res == NULL) || n_res > 256)
    return STW_ERR_INVALID;
  if ((rc = check_rd_reg(reg)) != STW_OK)
    return rc;
  for (size_t i = 0; i < n_res; i++)
    if ((rc = check_rd_res(&res[i])) != STW_OK)
      return rc;
  WRITE_ONE(st, rc, st->ops->rd_put(st->be, reg, res, n_res));
  return rc;
}

stw_status_t stw_store_rd_touch(stw_store_t *st, const char *id, uint32_t lt, int64_t expires_at, int64_t now)
{
  stw_status_t rc;
  if (st == NULL || lt == 0)
    return STW_ERR_INVALID;
  if ((rc = check_str(id, STW_RD_ID_MAX, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->rd_touch(st->be, id, lt, expires_at, now));
  return rc;
}

stw_status_t stw_store_rd_get(stw_store_t *st, const char *id, stw_rd_reg_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), id, STW_RD_ID_MAX);
  if (rc != STW_OK)
    return rc;
  return st->ops->rd_get(st->be, id, NULL, out);
}

stw_status_t stw_store_rd_get_by_device(stw_store_t *st, const char *device_id, stw_rd_reg_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), device_id, STW_ID_HEX);
  if (rc != STW_OK)
    return rc;
  return st->ops->rd_get(st->be, NULL, device_id, out);
}

stw_status_t stw_store_rd_delete(stw_store_t *st, const char *id)
{
  if (st == NULL)
    return STW_ERR_INVALID;
  return write_by_key(st, st->ops->rd_delete, id, STW_RD_ID_MAX);
}

stw_status_t stw_store_rd_expire(stw_store_t *st, int64_t now, uint64_t *removed)
{
  stw_status_t rc;
  if (st == NULL || removed == NULL)
    return STW_ERR_INVALID;
  *removed = 0;
  WRITE_ONE(st, rc, st->ops->rd_expire(st->be, now, removed));
  return rc;
}

stw_status_t stw_store_rd_count(stw_store_t *st, uint64_t *count)
{
  if (st == NULL || count == NULL)
    return STW_ERR_INVALID;
  return st->ops->rd_count(st->be, count);
}

static stw_status_t check_scan(const stw_rd_scan_t *f)
{
  stw_status_t rc = STW_OK;
  if (f->ep != NULL)
    rc = check_str(f->ep, STW_TEXT_MAX, false);
  if (rc == STW_OK && f->d != NULL)
    rc = check_str(f->d, STW_TEXT_MAX, false);
  if (rc == STW_OK && f->attr_name != NULL)
    rc = check_str(f->attr_name, STW_TEXT_MAX, false);
  if (rc == STW_OK && f->attr_value != NULL)
    rc = check_str(f->attr_value, STW_RD_VALUE_MAX, false);
  if (rc == STW_OK && (f->attr_name == NULL) != (f->attr_value == NULL))
    rc = STW_ERR_INVALID;
  return rc;
}

stw_status_t stw_store_rd_scan_eps(stw_store_t *st, const stw_rd_scan_t *f, stw_rd_reg_cb cb, void *ctx)
{
  stw_status_t rc;
  if (st == NULL || f == NULL || cb == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_scan(f)) != STW_OK)
    return rc;
  return st->ops->rd_scan_eps(st->be, f, cb, ctx);
}

stw_status_t stw_store_rd_scan_res(stw_store_t *st, const stw_rd_scan_t *f, stw_rd_res_cb cb, void *ctx)
{
  stw_status_t rc;
  if (st == NULL || f == NULL || cb == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_scan(f)) != STW_OK)
    return rc;
  return st->ops->rd_scan_res(st->be, f, cb, ctx);
}

/* ---- device attributes ------------------------------------------------------ */

stw_status_t stw_store_attr_set(stw_store_t *st, const char *device_id, const stw_attr_row_t *a)
{
  stw_status_t rc;
  if (st == NULL || a == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK || (rc = CHECK_FIELD(a->name, false)) != STW_OK ||
      (rc = CHECK_FIELD(a->value, true)) != STW_OK || (rc = CHECK_FIELD(a->authority, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->attr_set(st->be, device_id, a));
  return rc;
}

stw_status_t stw_store_attr_delete(stw_store_t *st, const char *device_id, const char *name)
{
  stw_status_t rc;
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK || (rc = check_str(name, STW_TEXT_MAX, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->attr_delete(st->be, device_id, name));
  return rc;
}

stw_status_t stw_store_attr_list(stw_store_t *st, const char *device_id, stw_attr_cb cb, void *ctx)
{
  stw_status_t rc;
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK)
    return rc;
  return st->ops->attr_list(st->be, device_id, cb, ctx);
}

/* ---- authorization: policies ------------------------------------------------ */

stw_status_t stw_store_policy_add(stw_store_t *st, stw_policy_row_t *p)
{
  stw_status_t rc = STW_ERR_INVALID;
  if (st == NULL || p == NULL)
    goto out;
  if (p->effect != STW_EFFECT_PERMIT && p->effect != STW_EFFECT_DENY)
    goto out;
  if ((rc = CHECK_FIELD(p->name, true)) != STW_OK || (rc = CHECK_FIELD(p->subject, false)) != STW_OK ||
      (rc = CHECK_FIELD(p->target, false)) != STW_OK || (rc = CHECK_FIELD(p->path, false)) != STW_OK ||
      (rc = CHECK_FIELD(p->conditions, true)) != STW_OK)
    goto out;
  if (p->methods == 0 || p->methods > 127u) {
    rc = STW_ERR_INVALID;
    goto out;
  }
  if (p->created_at == 0)
    p->created_at = stw_now();
  WRITE_ONE(st, rc, st->ops->policy_add(st->be, p));
out:
  return rc;
}

stw_status_t stw_store_policy_list(stw_store_t *st, stw_policy_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->policy_list(st->be, cb, ctx);
}

stw_status_t stw_store_policy_remove(stw_store_t *st, int64_t id)
{
  if (st == NULL)
    return STW_ERR_INVALID;
  return write_by_id(st, st->ops->policy_remove, id);
}

/* ---- authorization: context attributes --------------------------------------- */

stw_status_t stw_store_context_set(stw_store_t *st, const stw_context_row_t *c)
{
  stw_status_t rc;
  if (st == NULL || c == NULL)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(c->scope, true)) != STW_OK || (rc = CHECK_FIELD(c->name, false)) != STW_OK ||
      (rc = CHECK_FIELD(c->value, true)) != STW_OK)
    return rc;
  stw_context_row_t row = *c;
  if (row.updated_at == 0)
    row.updated_at = stw_now();
  WRITE_ONE(st, rc, st->ops->context_set(st->be, &row));
  return rc;
}

stw_status_t stw_store_context_get(stw_store_t *st, const char *scope, const char *name, stw_context_row_t *out)
{
  stw_status_t rc;
  if (st == NULL || out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if ((rc = check_str(scope, STW_TEXT_MAX, true)) != STW_OK || (rc = check_str(name, STW_TEXT_MAX, false)) != STW_OK)
    return rc;
  return st->ops->context_get(st->be, scope, name, out);
}

stw_status_t stw_store_context_list(stw_store_t *st, stw_context_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->context_list(st->be, cb, ctx);
}

/* ---- authorization: issued tokens ------------------------------------------- */

stw_status_t stw_store_token_put(stw_store_t *st, const stw_token_row_t *t)
{
  stw_status_t rc;
  if (st == NULL || t == NULL)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(t->cti, false)) != STW_OK || (rc = CHECK_FIELD(t->subject_id, false)) != STW_OK ||
      (rc = CHECK_FIELD(t->audience_id, false)) != STW_OK || (rc = CHECK_FIELD(t->scope, false)) != STW_OK ||
      (rc = CHECK_FIELD(t->policy_ids, true)) != STW_OK)
    return rc;
  if (t->exp <= t->iat)
    return STW_ERR_INVALID;
  WRITE_ONE(st, rc, st->ops->token_put(st->be, t));
  return rc;
}

stw_status_t stw_store_token_get(stw_store_t *st, const char *cti, stw_token_row_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), cti, STW_CTI_HEX);
  if (rc != STW_OK)
    return rc;
  return st->ops->token_get(st->be, cti, out);
}

stw_status_t stw_store_token_list(stw_store_t *st, bool live_only, int64_t now, stw_token_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->token_list(st->be, live_only, false, now, cb, ctx);
}

stw_status_t stw_store_token_revoked_list(stw_store_t *st, int64_t now, stw_token_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->token_list(st->be, false, true, now, cb, ctx);
}

stw_status_t stw_store_revocation_seq(stw_store_t *st, uint64_t *seq)
{
  if (st == NULL || seq == NULL)
    return STW_ERR_INVALID;
  return st->ops->revocation_seq(st->be, seq);
}

/* Revoke one token under the next revocation number (*seq). The caller holds
 * the write lock, so two revokers never share a number. */
static stw_status_t revoke_next(stw_store_t *st, const char *cti, int64_t now, const char *reason, uint64_t *seq)
{
  uint64_t last = 0;
  stw_status_t rc = st->ops->revocation_seq(st->be, &last);
  *seq = last + 1;
  if (rc == STW_OK)
    rc = st->ops->token_revoke(st->be, cti, now, reason, *seq);
  return rc;
}

stw_status_t stw_store_token_revoke(stw_store_t *st, const char *cti, int64_t now, const char *reason, uint64_t *seq)
{
  uint64_t next = 0;
  stw_status_t rc;
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(cti, STW_CTI_HEX, false)) != STW_OK || (rc = check_str(reason, STW_TEXT_MAX, true)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, revoke_next(st, cti, now, reason, &next));
  if (rc == STW_OK && seq != NULL)
    *seq = next;
  return rc;
}

typedef struct {
  const char *device_id;
  char (*ctis)[STW_CTI_HEX];
  size_t n, cap;
  stw_status_t status;
} device_tokens_t;

static stw_status_t collect_device_token(const stw_token_row_t *t, void *arg)
{
  device_tokens_t *dt = arg;
  if (strcmp(t->subject_id, dt->device_id) != 0 && strcmp(t->audience_id, dt->device_id) != 0)
    return STW_OK;
  if (dt->n == dt->cap) {
    size_t cap = dt->cap ? dt->cap * 2 : 16;
    void *p = realloc(dt->ctis, cap * sizeof(*dt->ctis));
    if (p == NULL)
      return STW_ERR_NOMEM;
    dt->ctis = p;
    dt->cap = cap;
  }
  memcpy(dt->ctis[dt->n++], t->cti, STW_CTI_HEX);
  return STW_OK;
}

stw_status_t stw_store_token_revoke_device(stw_store_t *st, const char *device_id, int64_t now, const char *reason,
                                           uint64_t *count)
{
  bool own = false;
  device_tokens_t dt = { .device_id = device_id };
  stw_status_t rc;
  if (count != NULL)
    *count = 0;
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK || (rc = check_str(reason, STW_TEXT_MAX, true)) != STW_OK)
    return rc;
  if ((rc = write_enter(st, &own)) != STW_OK)
    return rc;
  /* Collect first, then write: no updates under a running SELECT. */
  rc = st->ops->token_list(st->be, true, false, now, collect_device_token, &dt);
  for (size_t i = 0; rc == STW_OK && i < dt.n; i++) {
    uint64_t next;
    rc = revoke_next(st, dt.ctis[i], now, reason, &next);
  }
  rc = write_leave(st, own, rc);
  if (rc == STW_OK && count != NULL)
    *count = dt.n;
  free(dt.ctis);
  return rc;
}

bool stw_store_device_in_state(stw_store_t *st, const char *id, stw_state_t state)
{
  stw_device_t d;
  if (stw_store_device_get(st, id, &d) != STW_OK)
    return false;
  bool in_state = d.state == state;
  stw_device_clear(&d);
  return in_state;
}

stw_status_t stw_store_device_find_by_name(stw_store_t *st, const char *name, char id[STW_ID_HEX])
{
  stw_status_t rc;
  if (st == NULL || id == NULL)
    return STW_ERR_INVALID;
  id[0] = '\0';
  if ((rc = check_str(name, STW_TEXT_MAX, false)) != STW_OK)
    return rc;
  return st->ops->device_by_name(st->be, name, id);
}

/* ==== later life (issue 6) ================================================== */

/* Unsigned counters live in signed 64-bit columns: refuse what would wrap. */
static bool fits_i64(uint64_t v)
{
  return v <= (uint64_t)INT64_MAX;
}

/* ---- firmware ---------------------------------------------------------------- */

void stw_firmware_clear(stw_firmware_t *f)
{
  if (f == NULL)
    return;
  free(f->envelope);
  memset(f, 0, sizeof(*f));
}

stw_status_t stw_store_firmware_put(stw_store_t *st, stw_firmware_t *f)
{
  stw_status_t rc;
  if (st == NULL || f == NULL)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(f->vendor, false)) != STW_OK || (rc = CHECK_FIELD(f->class_id, false)) != STW_OK ||
      (rc = CHECK_FIELD(f->component, false)) != STW_OK || (rc = CHECK_FIELD(f->uri, false)) != STW_OK ||
      (rc = check_blob(f->envelope, f->envelope_len, false)) != STW_OK)
    return rc;
  if (!fits_i64(f->sequence) || !fits_i64(f->size))
    return STW_ERR_TOO_LARGE;
  if (f->published_at == 0)
    f->published_at = stw_now();
  WRITE_ONE(st, rc, st->ops->firmware_put(st->be, f));
  return rc;
}

/* One firmware row by id, or by digest when digest is not NULL. */
static stw_status_t firmware_read(stw_store_t *st, int64_t id, const uint8_t *digest, stw_firmware_t *out)
{
  stw_status_t rc;
  if (st == NULL || out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if ((rc = st->ops->firmware_get(st->be, id, digest, out)) != STW_OK)
    stw_firmware_clear(out);
  return rc;
}

stw_status_t stw_store_firmware_get(stw_store_t *st, int64_t id, stw_firmware_t *out)
{
  return firmware_read(st, id, NULL, out);
}

stw_status_t stw_store_firmware_by_digest(stw_store_t *st, const uint8_t digest[32], stw_firmware_t *out)
{
  if (digest == NULL)
    return STW_ERR_INVALID;
  return firmware_read(st, 0, digest, out);
}

stw_status_t stw_store_firmware_list(stw_store_t *st, stw_firmware_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->firmware_list(st->be, cb, ctx);
}

stw_status_t stw_store_device_fw_set(stw_store_t *st, const stw_device_fw_t *f)
{
  stw_status_t rc;
  if (st == NULL || f == NULL)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(f->device_id, false)) != STW_OK)
    return rc;
  if (!fits_i64(f->sequence))
    return STW_ERR_TOO_LARGE;
  stw_device_fw_t row = *f;
  if (row.reported_at == 0)
    row.reported_at = stw_now();
  WRITE_ONE(st, rc, st->ops->device_fw_set(st->be, &row));
  return rc;
}

stw_status_t stw_store_device_fw_get(stw_store_t *st, const char *device_id, stw_device_fw_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), device_id, STW_ID_HEX);
  if (rc != STW_OK)
    return rc;
  return st->ops->device_fw_get(st->be, device_id, out);
}

/* ---- campaigns and roll-outs ---------------------------------------------------- */

#define CAMPAIGN_STAGES 2  /* 0: canary, 1: the rest */

static stw_status_t check_campaign(const stw_campaign_t *c)
{
  stw_status_t rc;
  if ((rc = CHECK_FIELD(c->target, false)) != STW_OK || (rc = CHECK_FIELD(c->reason, true)) != STW_OK)
    return rc;
  if (c->canary_percent < 1 || c->canary_percent > 100 || c->max_failure_percent > 100 ||
      c->stage >= CAMPAIGN_STAGES || (unsigned)c->state > STW_CAMPAIGN_DONE)
    return STW_ERR_INVALID;
  return STW_OK;
}

/* A campaign must name firmware the domain authorised; the foreign key is the
 * guarantee, this gives the caller STW_ERR_NOT_FOUND instead of a store error. */
static stw_status_t firmware_exists(stw_store_t *st, int64_t id)
{
  stw_firmware_t f;
  memset(&f, 0, sizeof(f));
  stw_status_t rc = st->ops->firmware_get(st->be, id, NULL, &f);
  stw_firmware_clear(&f);
  return rc;
}

stw_status_t stw_store_campaign_add(stw_store_t *st, stw_campaign_t *c)
{
  bool own = false;
  stw_status_t rc;
  if (st == NULL || c == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_campaign(c)) != STW_OK)
    return rc;
  if (c->created_at == 0)
    c->created_at = stw_now();
  if (c->updated_at == 0)
    c->updated_at = c->created_at;
  if ((rc = write_enter(st, &own)) != STW_OK)
    return rc;
  rc = firmware_exists(st, c->firmware_id);
  if (rc == STW_OK)
    rc = st->ops->campaign_add(st->be, c);
  return write_leave(st, own, rc);
}

stw_status_t stw_store_campaign_get(stw_store_t *st, int64_t id, stw_campaign_t *out)
{
  if (st == NULL || out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  return st->ops->campaign_get(st->be, id, out);
}

stw_status_t stw_store_campaign_update(stw_store_t *st, const stw_campaign_t *c)
{
  stw_status_t rc;
  if (st == NULL || c == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_campaign(c)) != STW_OK)
    return rc;
  stw_campaign_t row = *c;
  if (row.updated_at == 0)
    row.updated_at = stw_now();
  WRITE_ONE(st, rc, st->ops->campaign_update(st->be, &row));
  return rc;
}

stw_status_t stw_store_campaign_list(stw_store_t *st, stw_campaign_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->campaign_list(st->be, cb, ctx);
}

stw_status_t stw_store_rollout_put(stw_store_t *st, const stw_rollout_t *r)
{
  bool own = false;
  stw_campaign_t c;
  stw_status_t rc;
  if (st == NULL || r == NULL)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(r->device_id, false)) != STW_OK || (rc = CHECK_FIELD(r->detail, true)) != STW_OK)
    return rc;
  if ((unsigned)r->status >= STW_ROLLOUT_COUNT || r->stage >= CAMPAIGN_STAGES)
    return STW_ERR_INVALID;
  stw_rollout_t row = *r;
  if (row.updated_at == 0)
    row.updated_at = stw_now();
  if ((rc = write_enter(st, &own)) != STW_OK)
    return rc;
  memset(&c, 0, sizeof(c));
  rc = st->ops->campaign_get(st->be, r->campaign_id, &c);  /* a row of no campaign: NOT_FOUND */
  if (rc == STW_OK)
    rc = st->ops->rollout_put(st->be, &row);
  return write_leave(st, own, rc);
}

stw_status_t stw_store_rollout_get(stw_store_t *st, int64_t campaign_id, const char *device_id, stw_rollout_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), device_id, STW_ID_HEX);
  if (rc != STW_OK)
    return rc;
  return st->ops->rollout_get(st->be, campaign_id, device_id, out);
}

stw_status_t stw_store_rollout_offered(stw_store_t *st, const char *device_id, stw_rollout_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), device_id, STW_ID_HEX);
  if (rc != STW_OK)
    return rc;
  return st->ops->rollout_offered(st->be, device_id, out);
}

stw_status_t stw_store_rollout_list(stw_store_t *st, int64_t campaign_id, stw_rollout_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->rollout_list(st->be, campaign_id, cb, ctx);
}

stw_status_t stw_store_rollout_counts(stw_store_t *st, int64_t campaign_id, int stage,
                                      uint64_t counts[STW_ROLLOUT_COUNT])
{
  if (st == NULL || counts == NULL || stage >= CAMPAIGN_STAGES)
    return STW_ERR_INVALID;
  memset(counts, 0, sizeof(uint64_t) * STW_ROLLOUT_COUNT);
  return st->ops->rollout_counts(st->be, campaign_id, stage, counts);
}

/* ---- attestation --------------------------------------------------------------- */

static stw_status_t check_nonce(const char *device_id, const uint8_t *nonce, size_t len)
{
  stw_status_t rc = check_str(device_id, STW_ID_HEX, false);
  if (rc != STW_OK)
    return rc;
  if (nonce == NULL || len == 0)
    return STW_ERR_INVALID;
  return len > STW_NONCE_MAX ? STW_ERR_TOO_LARGE : STW_OK;
}

stw_status_t stw_store_nonce_put(stw_store_t *st, const char *device_id, const uint8_t *nonce, size_t len,
                                 int64_t expires_at)
{
  stw_status_t rc;
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_nonce(device_id, nonce, len)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->nonce_put(st->be, device_id, nonce, len, expires_at, stw_now()));
  return rc;
}

stw_status_t stw_store_nonce_take(stw_store_t *st, const char *device_id, const uint8_t *nonce, size_t len,
                                  int64_t now)
{
  bool own = false;
  stw_status_t rc;
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_nonce(device_id, nonce, len)) != STW_OK)
    return rc;
  if ((rc = write_enter(st, &own)) != STW_OK)
    return rc;
  rc = st->ops->nonce_take(st->be, device_id, nonce, len, now);
  /* An expired challenge is refused and consumed: commit its deletion. */
  stw_status_t done = write_leave(st, own, rc == STW_ERR_EXPIRED ? STW_OK : rc);
  return done != STW_OK ? done : rc;
}

static bool verdict_ok(stw_ear_t v)
{
  return v == STW_EAR_NONE || v == STW_EAR_AFFIRMING || v == STW_EAR_WARNING || v == STW_EAR_CONTRAINDICATED;
}

stw_status_t stw_store_attest_put(stw_store_t *st, stw_attest_row_t *a)
{
  stw_status_t rc;
  if (st == NULL || a == NULL)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(a->device_id, false)) != STW_OK || (rc = CHECK_FIELD(a->trigger, false)) != STW_OK ||
      (rc = CHECK_FIELD(a->reasons, true)) != STW_OK)
    return rc;
  if (!verdict_ok(a->verdict))
    return STW_ERR_INVALID;
  if (!fits_i64(a->boot_count))
    return STW_ERR_TOO_LARGE;
  if (a->at == 0)
    a->at = stw_now();
  WRITE_ONE(st, rc, st->ops->attest_put(st->be, a));
  return rc;
}

static stw_status_t keep_first_attest(const stw_attest_row_t *a, void *ctx)
{
  *(stw_attest_row_t *)ctx = *a;
  return STW_OK;
}

stw_status_t stw_store_attest_latest(stw_store_t *st, const char *device_id, stw_attest_row_t *out)
{
  stw_status_t rc = keyed_read_args(st, out, sizeof(*out), device_id, STW_ID_HEX);
  if (rc != STW_OK)
    return rc;
  if ((rc = st->ops->attest_list(st->be, device_id, 1, keep_first_attest, out)) != STW_OK)
    return rc;
  return out->id != 0 ? STW_OK : STW_ERR_NOT_FOUND;
}

stw_status_t stw_store_attest_list(stw_store_t *st, const char *device_id, uint64_t limit, stw_attest_cb cb, void *ctx)
{
  stw_status_t rc;
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK)
    return rc;
  if (!fits_i64(limit))
    return STW_ERR_TOO_LARGE;
  return st->ops->attest_list(st->be, device_id, limit, cb, ctx);
}

/* ---- certificate revocation ------------------------------------------------------ */

stw_status_t stw_store_serial_revoke_device(stw_store_t *st, const char *device_id, int64_t now, uint64_t *count)
{
  uint64_t n = 0;
  stw_status_t rc;
  if (count != NULL)
    *count = 0;
  if (st == NULL || now <= 0)  /* revoked_at 0 means live */
    return STW_ERR_INVALID;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->serial_revoke_device(st->be, device_id, now, &n));
  if (rc == STW_OK && count != NULL)
    *count = n;
  return rc;
}

stw_status_t stw_store_serial_is_revoked(stw_store_t *st, const char *serial_hex, bool *revoked)
{
  char serial[STW_SERIAL_HEX_MAX + 1];
  stw_status_t rc;
  if (revoked != NULL)
    *revoked = false;
  if (st == NULL || revoked == NULL)
    return STW_ERR_INVALID;
  if ((rc = normalize_serial(serial_hex, serial)) != STW_OK)
    return rc;
  return st->ops->serial_is_revoked(st->be, serial, revoked);
}

stw_status_t stw_store_serial_revoked_list(stw_store_t *st, stw_serial_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->serial_revoked_list(st->be, cb, ctx);
}

/* ---- erasure ----------------------------------------------------------------------- */

stw_status_t stw_store_device_erase(stw_store_t *st, const char *device_id, stw_erasure_t *out)
{
  stw_erasure_t n;
  stw_status_t rc;
  memset(&n, 0, sizeof(n));
  if (out != NULL)
    memset(out, 0, sizeof(*out));
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(device_id, STW_ID_HEX, false)) != STW_OK)
    return rc;
  WRITE_ONE(st, rc, st->ops->device_erase(st->be, device_id, &n));
  if (rc == STW_OK && out != NULL)
    *out = n;
  return rc;
}

/* ---- vulnerability reports ---------------------------------------------------------- */

static const char *const vuln_states[] = { "received", "triaged", "fixed", "rejected" };

static bool vuln_status_ok(const char *s)
{
  for (size_t i = 0; i < STW_ARRAY_LEN(vuln_states); i++)
    if (strcmp(s, vuln_states[i]) == 0)
      return true;
  return false;
}

void stw_vuln_clear(stw_vuln_t *v)
{
  if (v == NULL)
    return;
  free(v->detail);
  memset(v, 0, sizeof(*v));
}

stw_status_t stw_store_vuln_add(stw_store_t *st, stw_vuln_t *v)
{
  stw_status_t rc;
  if (st == NULL || v == NULL)
    return STW_ERR_INVALID;
  if ((rc = CHECK_FIELD(v->contact, true)) != STW_OK || (rc = CHECK_FIELD(v->summary, false)) != STW_OK ||
      (rc = CHECK_FIELD(v->status, true)) != STW_OK ||
      (v->detail != NULL && (rc = check_str(v->detail, STW_VULN_TEXT_MAX + 1, true)) != STW_OK))
    return rc;
  if (v->status[0] == '\0')
    snprintf(v->status, sizeof(v->status), "%s", vuln_states[0]);
  if (!vuln_status_ok(v->status))
    return STW_ERR_INVALID;
  if (v->received_at == 0)
    v->received_at = stw_now();
  WRITE_ONE(st, rc, st->ops->vuln_add(st->be, v));
  return rc;
}

stw_status_t stw_store_vuln_set_status(stw_store_t *st, int64_t id, const char *status)
{
  stw_status_t rc;
  if (st == NULL)
    return STW_ERR_INVALID;
  if ((rc = check_str(status, STW_TEXT_MAX, false)) != STW_OK)
    return rc;
  if (!vuln_status_ok(status))
    return STW_ERR_INVALID;
  WRITE_ONE(st, rc, st->ops->vuln_set_status(st->be, id, status));
  return rc;
}

stw_status_t stw_store_vuln_list(stw_store_t *st, stw_vuln_cb cb, void *ctx)
{
  if (st == NULL || cb == NULL)
    return STW_ERR_INVALID;
  return st->ops->vuln_list(st->be, cb, ctx);
}
