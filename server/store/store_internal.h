/* What stays inside the store: the backend vtable that store.c dispatches to,
 * and the limits every backend shares. Nothing outside server/store/ (and the
 * store's own tests) includes this file. */
#ifndef STW_SERVER_STORE_INTERNAL_H
#define STW_SERVER_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

/** Largest certificate or voucher the store accepts (STW_ERR_TOO_LARGE above). */
#define STW_STORE_BLOB_MAX 65536u
/** Longest certificate serial in hex (20 bytes, RFC 5280 §4.1.2.2). */
#define STW_SERIAL_HEX_MAX 40u
/** Savepoint names: [a-z_0-9]{1,STW_SAVEPOINT_NAME_MAX}. */
#define STW_SAVEPOINT_NAME_MAX 48u
/** Jobs that may be outstanding in a committer (queued, being applied, or
 *  committed but not yet dispatched); one more gets STW_ERR_BUSY. */
#define STW_COMMITTER_QUEUE_MAX 65536u
/** Jobs per batch when stw_committer_start() is given 0. */
#define STW_COMMITTER_BATCH_DEFAULT 1024u

/* A backend implements these over its own handle `be`. store.c has already
 * checked every argument (lengths, NUL termination, ranges), computed the
 * trust fingerprint and the audit hash, and opened a transaction or savepoint
 * around each write, so a backend function is one plain read or write.
 * Status mapping: unique/primary-key conflict → STW_ERR_EXISTS, lock timeout →
 * STW_ERR_BUSY, anything else the database reports → STW_ERR_STORE.
 * List functions stop at the first callback that does not return STW_OK and
 * return its status. */
typedef struct stw_store_ops {
  const char *name;
  void (*close)(void *be);
  int (*schema_version)(void *be);

  /* transactions */
  bool (*in_tx)(void *be);
  stw_status_t (*begin)(void *be);         /* a write transaction: takes the write lock now */
  stw_status_t (*commit)(void *be);        /* on failure the transaction is rolled back */
  void (*rollback)(void *be);
  stw_status_t (*savepoint)(void *be, const char *name);
  stw_status_t (*release)(void *be, const char *name);
  stw_status_t (*rollback_to)(void *be, const char *name);

  stw_status_t (*trust_add)(void *be, const char *name, const uint8_t fingerprint[32],
                            const uint8_t *der, size_t len);
  stw_status_t (*trust_list)(void *be, stw_trust_cb cb, void *ctx);
  stw_status_t (*trust_remove)(void *be, int64_t id);

  stw_status_t (*rule_add)(void *be, stw_rule_t *rule);
  stw_status_t (*rule_list)(void *be, stw_rule_cb cb, void *ctx);
  stw_status_t (*rule_remove)(void *be, int64_t id);

  stw_status_t (*voucher_put)(void *be, const char *device_id, const uint8_t *v, size_t len, int64_t now);
  stw_status_t (*voucher_get)(void *be, const char *device_id, uint8_t **out, size_t *len);
  stw_status_t (*voucher_delete)(void *be, const char *device_id);

  stw_status_t (*device_get)(void *be, const char *id, stw_device_t *out);
  stw_status_t (*device_put)(void *be, const stw_device_t *d);
  stw_status_t (*device_list)(void *be, int state, stw_device_cb cb, void *ctx);
  stw_status_t (*device_count)(void *be, int state, uint64_t *count);

  stw_status_t (*serial_claim)(void *be, const char *serial_hex, const char *device_id,
                               int64_t not_after, int64_t now);
  stw_status_t (*serial_count)(void *be, uint64_t *count);

  stw_status_t (*psk_put)(void *be, const stw_psk_t *p);
  stw_status_t (*psk_get)(void *be, const char *identity, stw_psk_t *out);
  stw_status_t (*psk_set_active)(void *be, const char *identity, bool active);

  /* The chain logic lives in store.c; a backend only reads the tail and
   * appends a finished record (seq and hashes already set). */
  stw_status_t (*audit_last)(void *be, uint64_t *seq, uint8_t hash[32]);
  stw_status_t (*audit_insert)(void *be, const stw_audit_t *rec);
  stw_status_t (*audit_list)(void *be, uint64_t after, uint64_t limit, stw_audit_cb cb, void *ctx);

  stw_status_t (*rd_put)(void *be, const stw_rd_reg_t *reg, const stw_rd_res_t *res, size_t n_res);
  stw_status_t (*rd_touch)(void *be, const char *id, uint32_t lt, int64_t expires_at, int64_t now);
  stw_status_t (*rd_get)(void *be, const char *id, const char *device_id, stw_rd_reg_t *out);
  stw_status_t (*rd_delete)(void *be, const char *id);
  stw_status_t (*rd_expire)(void *be, int64_t now, uint64_t *removed);
  stw_status_t (*rd_count)(void *be, uint64_t *count);
  stw_status_t (*rd_scan_eps)(void *be, const stw_rd_scan_t *f, stw_rd_reg_cb cb, void *ctx);
  stw_status_t (*rd_scan_res)(void *be, const stw_rd_scan_t *f, stw_rd_res_cb cb, void *ctx);

  stw_status_t (*attr_set)(void *be, const char *device_id, const stw_attr_row_t *a);
  stw_status_t (*attr_delete)(void *be, const char *device_id, const char *name);
  stw_status_t (*attr_list)(void *be, const char *device_id, stw_attr_cb cb, void *ctx);
  stw_status_t (*device_by_name)(void *be, const char *name, char id[STW_ID_HEX]);
  stw_status_t (*policy_add)(void *be, stw_policy_row_t *p);
  stw_status_t (*policy_list)(void *be, stw_policy_cb cb, void *ctx);
  stw_status_t (*policy_remove)(void *be, int64_t id);

  stw_status_t (*context_set)(void *be, const stw_context_row_t *c);
  stw_status_t (*context_get)(void *be, const char *scope, const char *name, stw_context_row_t *out);
  stw_status_t (*context_list)(void *be, stw_context_cb cb, void *ctx);

  stw_status_t (*token_put)(void *be, const stw_token_row_t *t);
  stw_status_t (*token_get)(void *be, const char *cti, stw_token_row_t *out);
  /* live_only: revoked = 0 and exp > now; revoked_only: revoked = 1 and exp > now, in seq order */
  stw_status_t (*token_list)(void *be, bool live_only, bool revoked_only, int64_t now, stw_token_cb cb, void *ctx);
  /* STW_ERR_NOT_FOUND unless a live row was changed */
  stw_status_t (*token_revoke)(void *be, const char *cti, int64_t now, const char *reason, uint64_t seq);
  stw_status_t (*revocation_seq)(void *be, uint64_t *seq);

  /* later life (issue 6) */
  stw_status_t (*firmware_put)(void *be, stw_firmware_t *f);
  /* by id, or by digest when digest != NULL */
  stw_status_t (*firmware_get)(void *be, int64_t id, const uint8_t *digest, stw_firmware_t *out);
  stw_status_t (*firmware_list)(void *be, stw_firmware_cb cb, void *ctx);
  stw_status_t (*device_fw_set)(void *be, const stw_device_fw_t *f);
  stw_status_t (*device_fw_get)(void *be, const char *device_id, stw_device_fw_t *out);

  stw_status_t (*campaign_add)(void *be, stw_campaign_t *c);
  stw_status_t (*campaign_get)(void *be, int64_t id, stw_campaign_t *out);
  /* STW_ERR_NOT_FOUND unless a row was changed */
  stw_status_t (*campaign_update)(void *be, const stw_campaign_t *c);
  stw_status_t (*campaign_list)(void *be, stw_campaign_cb cb, void *ctx);
  stw_status_t (*rollout_put)(void *be, const stw_rollout_t *r);
  stw_status_t (*rollout_get)(void *be, int64_t campaign_id, const char *device_id, stw_rollout_t *out);
  stw_status_t (*rollout_offered)(void *be, const char *device_id, stw_rollout_t *out);
  stw_status_t (*rollout_list)(void *be, int64_t campaign_id, stw_rollout_cb cb, void *ctx);
  /* counts[] zeroed by store.c; stage < 0: every stage */
  stw_status_t (*rollout_counts)(void *be, int64_t campaign_id, int stage, uint64_t counts[STW_ROLLOUT_COUNT]);

  /* nonce_put also forgets challenges that expired at or before now. */
  stw_status_t (*nonce_put)(void *be, const char *device_id, const uint8_t *nonce, size_t len, int64_t expires_at,
                            int64_t now);
  /* Deletes the row when it belongs to device_id; STW_ERR_REPLAY when there is
   * no such row or it is another device's (left in place); STW_ERR_EXPIRED
   * (row deleted) when expires_at <= now. */
  stw_status_t (*nonce_take)(void *be, const char *device_id, const uint8_t *nonce, size_t len, int64_t now);
  stw_status_t (*attest_put)(void *be, stw_attest_row_t *a);
  /* newest first, at most limit (0: all) */
  stw_status_t (*attest_list)(void *be, const char *device_id, uint64_t limit, stw_attest_cb cb, void *ctx);

  stw_status_t (*serial_revoke_device)(void *be, const char *device_id, int64_t now, uint64_t *count);
  stw_status_t (*serial_is_revoked)(void *be, const char *serial_hex, bool *revoked);
  stw_status_t (*serial_revoked_list)(void *be, stw_serial_cb cb, void *ctx);

  /* Runs inside store.c's transaction or savepoint; out zeroed by store.c. */
  stw_status_t (*device_erase)(void *be, const char *device_id, stw_erasure_t *out);

  stw_status_t (*vuln_add)(void *be, stw_vuln_t *v);
  stw_status_t (*vuln_set_status)(void *be, int64_t id, const char *status);
  stw_status_t (*vuln_list)(void *be, stw_vuln_cb cb, void *ctx);
} stw_store_ops_t;

struct stw_store {
  const stw_store_ops_t *ops;
  void *be;                                /* owned; released by ops->close */
};

/** Open the SQLite backend on a file path (created 0600 if new, migrated). */
stw_status_t stw__sqlite_open(const char *path, void **be) __attribute__((warn_unused_result));
extern const stw_store_ops_t stw__sqlite_ops;

/** Create (or bring) an SQLite store file at an older schema version and
 *  close it: for the tests of migrations, which need a store as an older
 *  release left it. */
stw_status_t stw__sqlite_create_at(const char *path, int version);

struct sqlite3;
/** The raw SQLite connection behind a store, or NULL for another backend.
 *  For the store's own tests (tampering, forcing a failed commit); nothing
 *  else may use it. */
struct sqlite3 *stw__sqlite_handle(stw_store_t *st);

#endif
