/* The SQLite backend. One file, one database, shared by several processes
 * (the daemon, its writer thread, `steward admin`): WAL so readers never wait
 * for the writer, synchronous=FULL so a commit that returned survives a power
 * cut, a busy timeout so short write locks are waited out instead of failing.
 * Schema changes are an ordered list of migration steps, applied in one
 * transaction at open. Statements are prepared once per handle and reused. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/** How long a statement waits for another connection's write lock. */
#define BUSY_TIMEOUT_MS 10000

/* ---- schema ------------------------------------------------------------------
 * migrations[i] brings the schema from version i to i + 1. Append new steps;
 * never edit a released one (stores in the field have already run it). The
 * statements carry no IF NOT EXISTS on purpose: running a step twice fails
 * loudly instead of passing unnoticed. */
static const char *const migrations[] = {
  /* 1: the first schema */
  "CREATE TABLE trust ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL,"
  "  fingerprint BLOB NOT NULL UNIQUE CHECK (length(fingerprint) = 32),"
  "  cert_der BLOB NOT NULL"
  ");"
  "CREATE TABLE rules ("
  "  id INTEGER PRIMARY KEY,"
  "  kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
  "  device_id TEXT NOT NULL DEFAULT '',"
  "  model TEXT NOT NULL DEFAULT '',"
  "  manufacturer TEXT NOT NULL DEFAULT '',"
  "  name_prefix TEXT NOT NULL DEFAULT ''"
  ");"
  /* Vouchers arrive before their device enrolls: no foreign key to devices. */
  "CREATE TABLE vouchers ("
  "  device_id TEXT PRIMARY KEY,"
  "  voucher BLOB NOT NULL,"
  "  stored_at INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE TABLE devices ("
  "  id TEXT PRIMARY KEY,"
  "  name TEXT NOT NULL,"
  "  model TEXT NOT NULL,"
  "  manufacturer TEXT NOT NULL,"
  "  state INTEGER NOT NULL CHECK (state >= 0 AND state < 7),"
  "  cred_kind INTEGER NOT NULL CHECK (cred_kind IN (0, 1)),"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  ldevid BLOB,"
  "  ldevid_serial TEXT NOT NULL,"
  "  ldevid_not_after INTEGER NOT NULL,"
  "  csr_digest BLOB NOT NULL CHECK (length(csr_digest) = 32),"
  "  psk_identity TEXT NOT NULL,"
  "  generation INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE INDEX devices_by_state ON devices (state, id);"
  /* The primary key is the guarantee that a serial is issued once, ever. */
  "CREATE TABLE serials ("
  "  serial_hex TEXT PRIMARY KEY,"
  "  device_id TEXT NOT NULL,"
  "  not_after INTEGER NOT NULL,"
  "  issued_at INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE INDEX serials_by_device ON serials (device_id);"
  /* Keys live apart from what listings read; a key row cannot outlive its PSK. */
  "CREATE TABLE psk ("
  "  identity TEXT PRIMARY KEY,"
  "  device_id TEXT NOT NULL,"
  "  kind INTEGER NOT NULL CHECK (kind IN (0, 1)),"
  "  active INTEGER NOT NULL CHECK (active IN (0, 1))"
  ") WITHOUT ROWID;"
  "CREATE INDEX psk_by_device ON psk (device_id);"
  "CREATE TABLE psk_key ("
  "  identity TEXT PRIMARY KEY REFERENCES psk (identity) ON DELETE CASCADE,"
  "  key BLOB NOT NULL CHECK (length(key) BETWEEN 1 AND 32)"
  ") WITHOUT ROWID;"
  "CREATE TABLE audit ("
  "  seq INTEGER PRIMARY KEY,"
  "  at INTEGER NOT NULL,"
  "  actor TEXT NOT NULL,"
  "  action TEXT NOT NULL,"
  "  subject TEXT NOT NULL,"
  "  outcome TEXT NOT NULL,"
  "  detail TEXT NOT NULL,"
  "  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
  "  hash BLOB NOT NULL CHECK (length(hash) = 32)"
  ");"
  /* Append-only in the database itself, not only in this code: a second
   * writer (a script, the sqlite3 shell) is refused too. Removing a trigger to
   * edit history still shows, as a broken chain. */
  "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
  "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
  "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
  "  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
  "CREATE INDEX audit_by_subject ON audit (subject, seq);",

  /* 2: the resource directory and device attributes. */
  "CREATE TABLE rd_reg ("
  "  id TEXT PRIMARY KEY,"
  "  device_id TEXT NOT NULL UNIQUE,"
  "  ep TEXT NOT NULL UNIQUE,"
  "  d TEXT NOT NULL,"
  "  base TEXT NOT NULL,"
  "  et TEXT NOT NULL,"
  "  lt INTEGER NOT NULL,"
  "  expires_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  vis TEXT NOT NULL,"
  "  dattr TEXT NOT NULL,"
  "  links TEXT NOT NULL);"
  "CREATE INDEX rd_reg_by_d ON rd_reg (d, ep);"
  "CREATE INDEX rd_reg_by_expiry ON rd_reg (expires_at);"
  "CREATE TABLE rd_res ("
  "  reg_id TEXT NOT NULL REFERENCES rd_reg (id) ON DELETE CASCADE,"
  "  pos INTEGER NOT NULL,"
  "  ep TEXT NOT NULL,"
  "  href TEXT NOT NULL,"
  "  link TEXT NOT NULL,"
  "  vis TEXT NOT NULL,"
  "  PRIMARY KEY (reg_id, pos));"
  "CREATE INDEX rd_res_by_ep ON rd_res (ep, pos);"
  "CREATE TABLE rd_res_attr ("
  "  reg_id TEXT NOT NULL,"
  "  pos INTEGER NOT NULL,"
  "  name TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  ep TEXT NOT NULL,"
  "  FOREIGN KEY (reg_id, pos) REFERENCES rd_res (reg_id, pos) ON DELETE CASCADE);"
  "CREATE INDEX rd_res_attr_by_value ON rd_res_attr (name, value, ep, pos);"
  "CREATE INDEX rd_res_attr_by_res ON rd_res_attr (reg_id, pos);"
  "CREATE TABLE device_attr ("
  "  device_id TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  authority TEXT NOT NULL,"
  "  PRIMARY KEY (device_id, name));",

  /* 3: authorization: policies, context attributes, issued tokens. */
  "CREATE TABLE policies ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"  /* a removed rule's id is never reused: audit names stay unambiguous */
  "  name TEXT NOT NULL,"
  "  effect INTEGER NOT NULL,"
  "  subject TEXT NOT NULL,"
  "  target TEXT NOT NULL,"
  "  path TEXT NOT NULL,"
  "  methods INTEGER NOT NULL,"
  "  conditions TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL);"
  "CREATE TABLE context_attr ("
  "  scope TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  value TEXT NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  PRIMARY KEY (scope, name));"
  "CREATE TABLE tokens ("
  "  cti TEXT PRIMARY KEY,"
  "  subject_id TEXT NOT NULL,"
  "  audience_id TEXT NOT NULL,"
  "  scope TEXT NOT NULL,"
  "  policy_ids TEXT NOT NULL,"
  "  iat INTEGER NOT NULL,"
  "  exp INTEGER NOT NULL,"
  "  revoked INTEGER NOT NULL DEFAULT 0,"
  "  revoked_at INTEGER NOT NULL DEFAULT 0,"
  "  revoke_seq INTEGER NOT NULL DEFAULT 0,"
  "  reason TEXT NOT NULL DEFAULT '');"
  "CREATE INDEX tokens_live ON tokens (revoked, exp);"
  "CREATE INDEX tokens_by_seq ON tokens (revoke_seq);",

  /* 4: tokens name their audience by its assigned name: find it by index. */
  "CREATE INDEX devices_by_name ON devices (name);",

  /* 5: later life: firmware and roll-outs, attestation, certificate
   * revocation, vulnerability reports. */
  "CREATE TABLE firmware ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"  /* campaigns and audit records name it: never reused */
  "  vendor TEXT NOT NULL,"
  "  class_id TEXT NOT NULL,"
  "  component TEXT NOT NULL,"
  "  sequence INTEGER NOT NULL CHECK (sequence >= 0),"
  "  digest BLOB NOT NULL CHECK (length(digest) = 32),"
  "  size INTEGER NOT NULL CHECK (size >= 0),"
  "  uri TEXT NOT NULL,"
  "  envelope BLOB NOT NULL,"
  "  published_at INTEGER NOT NULL,"
  "  UNIQUE (vendor, class_id, sequence));"
  "CREATE INDEX firmware_by_digest ON firmware (digest);"
  "CREATE TABLE device_fw ("
  "  device_id TEXT PRIMARY KEY,"
  "  sequence INTEGER NOT NULL,"
  "  digest BLOB NOT NULL CHECK (length(digest) = 32),"
  "  reported_at INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE TABLE campaigns ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  firmware_id INTEGER NOT NULL REFERENCES firmware (id),"
  "  target TEXT NOT NULL,"
  "  canary_percent INTEGER NOT NULL CHECK (canary_percent BETWEEN 1 AND 100),"
  "  max_failure_percent INTEGER NOT NULL CHECK (max_failure_percent BETWEEN 0 AND 100),"
  "  stage INTEGER NOT NULL,"
  "  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),"
  "  reason TEXT NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL);"
  "CREATE TABLE rollouts ("
  "  campaign_id INTEGER NOT NULL REFERENCES campaigns (id),"
  "  device_id TEXT NOT NULL,"
  "  stage INTEGER NOT NULL,"
  "  status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 4),"
  "  detail TEXT NOT NULL,"
  "  updated_at INTEGER NOT NULL,"
  "  PRIMARY KEY (campaign_id, device_id)"
  ") WITHOUT ROWID;"
  /* "what is offered to this device": every poll of every device asks it. */
  "CREATE INDEX rollouts_by_device ON rollouts (device_id, status, campaign_id);"
  "CREATE TABLE nonces ("
  "  nonce BLOB PRIMARY KEY,"
  "  device_id TEXT NOT NULL,"
  "  expires_at INTEGER NOT NULL"
  ") WITHOUT ROWID;"
  "CREATE INDEX nonces_by_device ON nonces (device_id);"
  "CREATE INDEX nonces_by_expiry ON nonces (expires_at);"
  "CREATE TABLE attestations ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  device_id TEXT NOT NULL,"
  "  at INTEGER NOT NULL,"
  "  verdict INTEGER NOT NULL CHECK (verdict IN (0, 2, 32, 96)),"
  "  triggered_by TEXT NOT NULL,"  /* TRIGGER is an SQL keyword */
  "  reasons TEXT NOT NULL,"
  "  image_digest BLOB NOT NULL CHECK (length(image_digest) = 32),"
  "  boot_count INTEGER NOT NULL);"
  "CREATE INDEX attestations_by_device ON attestations (device_id, id DESC);"
  /* 0: live. The CRL lists the others; the handshake check asks by serial. */
  "ALTER TABLE serials ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX serials_revoked ON serials (revoked_at, serial_hex) WHERE revoked_at > 0;"
  "CREATE TABLE vuln_reports ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  received_at INTEGER NOT NULL,"
  "  contact TEXT NOT NULL,"
  "  summary TEXT NOT NULL,"
  "  detail TEXT NOT NULL,"
  "  status TEXT NOT NULL);",
};
#define SCHEMA_VERSION ((int)STW_ARRAY_LEN(migrations))

/* ---- statements ----------------------------------------------------------- */

enum {
  Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
  Q_TRUST_ADD, Q_TRUST_LIST, Q_TRUST_REMOVE,
  Q_RULE_ADD, Q_RULE_LIST, Q_RULE_REMOVE,
  Q_VOUCHER_PUT, Q_VOUCHER_GET, Q_VOUCHER_DELETE,
  Q_DEVICE_GET, Q_DEVICE_PUT, Q_DEVICE_LIST_ALL, Q_DEVICE_LIST_STATE,
  Q_DEVICE_COUNT_ALL, Q_DEVICE_COUNT_STATE,
  Q_SERIAL_CLAIM, Q_SERIAL_COUNT,
  Q_PSK_PUT, Q_PSK_KEY_PUT, Q_PSK_GET, Q_PSK_SET_ACTIVE,
  Q_AUDIT_LAST, Q_AUDIT_INSERT, Q_AUDIT_LIST,
  Q_RD_PUT, Q_RD_RES_CLEAR, Q_RD_RES_PUT, Q_RD_ATTR_PUT, Q_RD_TOUCH, Q_RD_GET, Q_RD_GET_BY_DEVICE,
  Q_RD_DELETE, Q_RD_EXPIRE, Q_RD_COUNT,
  Q_RD_EPS_ALL, Q_RD_EPS_EP, Q_RD_EPS_EP_RANGE, Q_RD_EPS_D, Q_RD_EPS_D_RANGE,
  Q_RD_RES_ALL, Q_RD_RES_EP, Q_RD_RES_EP_RANGE, Q_RD_RES_ATTR, Q_RD_RES_ATTR_RANGE,
  Q_ATTR_SET, Q_ATTR_DELETE, Q_ATTR_LIST,
  Q_DEVICE_BY_NAME,
  Q_POLICY_ADD, Q_POLICY_LIST, Q_POLICY_REMOVE,
  Q_CONTEXT_SET, Q_CONTEXT_GET, Q_CONTEXT_LIST,
  Q_TOKEN_PUT, Q_TOKEN_GET, Q_TOKEN_LIST_ALL, Q_TOKEN_LIST_LIVE, Q_TOKEN_LIST_REVOKED,
  Q_TOKEN_REVOKE, Q_REVOCATION_SEQ,
  Q_FIRMWARE_PUT, Q_FIRMWARE_GET, Q_FIRMWARE_BY_DIGEST, Q_FIRMWARE_LIST,
  Q_DEVICE_FW_SET, Q_DEVICE_FW_GET,
  Q_CAMPAIGN_ADD, Q_CAMPAIGN_GET, Q_CAMPAIGN_UPDATE, Q_CAMPAIGN_LIST,
  Q_ROLLOUT_PUT, Q_ROLLOUT_GET, Q_ROLLOUT_OFFERED, Q_ROLLOUT_LIST, Q_ROLLOUT_COUNTS,
  Q_NONCE_PURGE, Q_NONCE_PUT, Q_NONCE_GET, Q_NONCE_DELETE,
  Q_ATTEST_PUT, Q_ATTEST_LIST,
  Q_SERIAL_REVOKE_DEVICE, Q_SERIAL_IS_REVOKED, Q_SERIAL_REVOKED_LIST,
  Q_ERASE_OWNER_OF, Q_ERASE_SHARED, Q_ERASE_ATTRS, Q_ERASE_CONTEXT, Q_ERASE_VOUCHER, Q_ERASE_PSKS,
  Q_ERASE_ATTESTS, Q_ERASE_NONCES,
  Q_VULN_ADD, Q_VULN_SET_STATUS, Q_VULN_LIST,
  Q_COUNT
};

#define RD_REG_COLUMNS "r.id, r.device_id, r.ep, r.d, r.base, r.et, r.lt, r.expires_at, r.updated_at, r.vis, r.dattr"
/* Resource scans: the registration's columns, then the link and its rule. */
#define RD_RES_SELECT "SELECT " RD_REG_COLUMNS ", s.link, s.vis FROM rd_res s JOIN rd_reg r ON r.id = s.reg_id"

#define DEVICE_COLUMNS \
  "id, name, model, manufacturer, state, cred_kind, created_at, updated_at, ldevid," \
  " ldevid_serial, ldevid_not_after, csr_digest, psk_identity, generation"
#define POLICY_COLUMNS "id, name, effect, subject, target, path, methods, conditions, created_at"
#define TOKEN_COLUMNS \
  "cti, subject_id, audience_id, scope, policy_ids, iat, exp, revoked, revoked_at, revoke_seq, reason"
#define AUDIT_COLUMNS "seq, at, actor, action, subject, outcome, detail, prev_hash, hash"
/* The envelope is last so a listing can leave it out. */
#define FIRMWARE_COLUMNS "id, vendor, class_id, component, sequence, digest, size, uri, published_at"
#define CAMPAIGN_COLUMNS \
  "id, firmware_id, target, canary_percent, max_failure_percent, stage, state, reason, created_at, updated_at"
#define ROLLOUT_COLUMNS "campaign_id, device_id, stage, status, detail, updated_at"
#define ATTEST_COLUMNS "id, device_id, at, verdict, triggered_by, reasons, image_digest, boot_count"

static const char *const sql_text[Q_COUNT] = {
  [Q_BEGIN] = "BEGIN IMMEDIATE",
  [Q_COMMIT] = "COMMIT",
  [Q_ROLLBACK] = "ROLLBACK",
  [Q_TRUST_ADD] = "INSERT INTO trust (name, fingerprint, cert_der) VALUES (?1, ?2, ?3)",
  [Q_TRUST_LIST] = "SELECT id, name, fingerprint, cert_der FROM trust ORDER BY id",
  [Q_TRUST_REMOVE] = "DELETE FROM trust WHERE id = ?1",
  [Q_RULE_ADD] = "INSERT INTO rules (kind, device_id, model, manufacturer, name_prefix)"
                 " VALUES (?1, ?2, ?3, ?4, ?5)",
  [Q_RULE_LIST] = "SELECT id, kind, device_id, model, manufacturer, name_prefix FROM rules ORDER BY id",
  [Q_RULE_REMOVE] = "DELETE FROM rules WHERE id = ?1",
  [Q_VOUCHER_PUT] = "INSERT INTO vouchers (device_id, voucher, stored_at) VALUES (?1, ?2, ?3)"
                    " ON CONFLICT (device_id) DO UPDATE SET voucher = excluded.voucher,"
                    " stored_at = excluded.stored_at",
  [Q_VOUCHER_GET] = "SELECT voucher FROM vouchers WHERE device_id = ?1",
  [Q_VOUCHER_DELETE] = "DELETE FROM vouchers WHERE device_id = ?1",
  [Q_DEVICE_GET] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE id = ?1",
  [Q_DEVICE_PUT] = "INSERT INTO devices (" DEVICE_COLUMNS ")"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                   " ON CONFLICT (id) DO UPDATE SET name = excluded.name, model = excluded.model,"
                   " manufacturer = excluded.manufacturer, state = excluded.state,"
                   " cred_kind = excluded.cred_kind, created_at = excluded.created_at,"
                   " updated_at = excluded.updated_at, ldevid = excluded.ldevid,"
                   " ldevid_serial = excluded.ldevid_serial,"
                   " ldevid_not_after = excluded.ldevid_not_after,"
                   " csr_digest = excluded.csr_digest, psk_identity = excluded.psk_identity,"
                   " generation = excluded.generation",
  [Q_DEVICE_LIST_ALL] = "SELECT " DEVICE_COLUMNS " FROM devices ORDER BY id",
  [Q_DEVICE_LIST_STATE] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE state = ?1 ORDER BY id",
  [Q_DEVICE_COUNT_ALL] = "SELECT count(*) FROM devices",
  [Q_DEVICE_COUNT_STATE] = "SELECT count(*) FROM devices WHERE state = ?1",
  [Q_SERIAL_CLAIM] = "INSERT INTO serials (serial_hex, device_id, not_after, issued_at)"
                     " VALUES (?1, ?2, ?3, ?4)",
  [Q_SERIAL_COUNT] = "SELECT count(*) FROM serials",
  [Q_PSK_PUT] = "INSERT INTO psk (identity, device_id, kind, active) VALUES (?1, ?2, ?3, ?4)"
                " ON CONFLICT (identity) DO UPDATE SET device_id = excluded.device_id,"
                " kind = excluded.kind, active = excluded.active",
  [Q_PSK_KEY_PUT] = "INSERT INTO psk_key (identity, key) VALUES (?1, ?2)"
                    " ON CONFLICT (identity) DO UPDATE SET key = excluded.key",
  [Q_PSK_GET] = "SELECT p.identity, p.device_id, p.kind, p.active, k.key"
                " FROM psk p JOIN psk_key k ON k.identity = p.identity WHERE p.identity = ?1",
  [Q_PSK_SET_ACTIVE] = "UPDATE psk SET active = ?2 WHERE identity = ?1",
  [Q_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
  [Q_AUDIT_INSERT] = "INSERT INTO audit (" AUDIT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
  [Q_AUDIT_LIST] = "SELECT " AUDIT_COLUMNS " FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
  [Q_RD_PUT] = "INSERT INTO rd_reg (id, device_id, ep, d, base, et, lt, expires_at, updated_at, vis, dattr, links)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?11)"
               " ON CONFLICT (id) DO UPDATE SET ep = excluded.ep, d = excluded.d, base = excluded.base,"
               " et = excluded.et, lt = excluded.lt, expires_at = excluded.expires_at,"
               " updated_at = excluded.updated_at, vis = excluded.vis, dattr = excluded.dattr,"
               " links = excluded.links",
  [Q_RD_RES_CLEAR] = "DELETE FROM rd_res WHERE reg_id = ?1",
  [Q_RD_RES_PUT] = "INSERT INTO rd_res (reg_id, pos, ep, href, link, vis) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
  [Q_RD_ATTR_PUT] = "INSERT INTO rd_res_attr (reg_id, pos, name, value, ep) VALUES (?1, ?2, ?3, ?4, ?5)",
  [Q_RD_TOUCH] = "UPDATE rd_reg SET lt = ?2, expires_at = ?3, updated_at = ?4 WHERE id = ?1",
  [Q_RD_GET] = "SELECT " RD_REG_COLUMNS ", r.links FROM rd_reg r WHERE r.id = ?1",
  [Q_RD_GET_BY_DEVICE] = "SELECT " RD_REG_COLUMNS ", r.links FROM rd_reg r WHERE r.device_id = ?1",
  [Q_RD_DELETE] = "DELETE FROM rd_reg WHERE id = ?1",
  [Q_RD_EXPIRE] = "DELETE FROM rd_reg WHERE expires_at <= ?1",
  [Q_RD_COUNT] = "SELECT count(*) FROM rd_reg",
  [Q_RD_EPS_ALL] = "SELECT " RD_REG_COLUMNS " FROM rd_reg r WHERE r.expires_at > ?1 ORDER BY r.ep",
  [Q_RD_EPS_EP] = "SELECT " RD_REG_COLUMNS " FROM rd_reg r WHERE r.ep = ?2 AND r.expires_at > ?1",
  [Q_RD_EPS_EP_RANGE] = "SELECT " RD_REG_COLUMNS " FROM rd_reg r WHERE r.ep >= ?2 AND r.ep < ?3"
                        " AND r.expires_at > ?1 ORDER BY r.ep",
  [Q_RD_EPS_D] = "SELECT " RD_REG_COLUMNS " FROM rd_reg r WHERE r.d = ?2 AND r.expires_at > ?1 ORDER BY r.ep",
  [Q_RD_EPS_D_RANGE] = "SELECT " RD_REG_COLUMNS " FROM rd_reg r WHERE r.d >= ?2 AND r.d < ?3"
                       " AND r.expires_at > ?1 ORDER BY r.d, r.ep",
  [Q_RD_RES_ALL] = RD_RES_SELECT " WHERE r.expires_at > ?1 ORDER BY s.ep, s.pos",
  [Q_RD_RES_EP] = RD_RES_SELECT " WHERE s.ep = ?2 AND r.expires_at > ?1 ORDER BY s.pos",
  [Q_RD_RES_EP_RANGE] = RD_RES_SELECT " WHERE s.ep >= ?2 AND s.ep < ?3 AND r.expires_at > ?1 ORDER BY s.ep, s.pos",
  [Q_RD_RES_ATTR] = "SELECT " RD_REG_COLUMNS ", s.link, s.vis FROM rd_res_attr a"
                    " JOIN rd_res s ON s.reg_id = a.reg_id AND s.pos = a.pos JOIN rd_reg r ON r.id = a.reg_id"
                    " WHERE a.name = ?4 AND a.value = ?2 AND r.expires_at > ?1"
                    " ORDER BY a.ep, a.pos",
  [Q_RD_RES_ATTR_RANGE] = "SELECT " RD_REG_COLUMNS ", s.link, s.vis FROM rd_res_attr a"
                          " JOIN rd_res s ON s.reg_id = a.reg_id AND s.pos = a.pos JOIN rd_reg r ON r.id = a.reg_id"
                          " WHERE a.name = ?4 AND a.value >= ?2 AND a.value < ?3 AND r.expires_at > ?1"
                          " GROUP BY a.reg_id, a.pos ORDER BY a.ep, a.pos",
  [Q_ATTR_SET] = "INSERT INTO device_attr (device_id, name, value, authority) VALUES (?1, ?2, ?3, ?4)"
                 " ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value, authority = excluded.authority",
  [Q_ATTR_DELETE] = "DELETE FROM device_attr WHERE device_id = ?1 AND name = ?2",
  [Q_ATTR_LIST] = "SELECT name, value, authority FROM device_attr WHERE device_id = ?1 ORDER BY name",
  [Q_DEVICE_BY_NAME] = "SELECT id FROM devices WHERE name = ?1 ORDER BY id LIMIT 1",
  [Q_POLICY_ADD] = "INSERT INTO policies (name, effect, subject, target, path, methods, conditions, created_at)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
  [Q_POLICY_LIST] = "SELECT " POLICY_COLUMNS " FROM policies ORDER BY id",
  [Q_POLICY_REMOVE] = "DELETE FROM policies WHERE id = ?1",
  [Q_CONTEXT_SET] = "INSERT INTO context_attr (scope, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)"
                    " ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  [Q_CONTEXT_GET] = "SELECT scope, name, value, updated_at FROM context_attr WHERE scope = ?1 AND name = ?2",
  [Q_CONTEXT_LIST] = "SELECT scope, name, value, updated_at FROM context_attr ORDER BY scope, name",
  [Q_TOKEN_PUT] = "INSERT INTO tokens (cti, subject_id, audience_id, scope, policy_ids, iat, exp)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [Q_TOKEN_GET] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE cti = ?1",
  [Q_TOKEN_LIST_ALL] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE ?1 = ?1 ORDER BY iat, cti",
  [Q_TOKEN_LIST_LIVE] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE revoked = 0 AND exp > ?1 ORDER BY iat, cti",
  [Q_TOKEN_LIST_REVOKED] = "SELECT " TOKEN_COLUMNS " FROM tokens WHERE revoked = 1 AND exp > ?1 ORDER BY revoke_seq",
  [Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1, revoked_at = ?2, reason = ?3, revoke_seq = ?4"
                     " WHERE cti = ?1 AND revoked = 0",
  [Q_REVOCATION_SEQ] = "SELECT coalesce(max(revoke_seq), 0) FROM tokens",
  [Q_FIRMWARE_PUT] = "INSERT INTO firmware (vendor, class_id, component, sequence, digest, size, uri, envelope,"
                     " published_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
  [Q_FIRMWARE_GET] = "SELECT " FIRMWARE_COLUMNS ", envelope FROM firmware WHERE id = ?1",
  /* Two vendors could ship the same image: the newest authorisation answers. */
  [Q_FIRMWARE_BY_DIGEST] = "SELECT " FIRMWARE_COLUMNS ", envelope FROM firmware WHERE digest = ?1"
                           " ORDER BY id DESC LIMIT 1",
  [Q_FIRMWARE_LIST] = "SELECT " FIRMWARE_COLUMNS " FROM firmware ORDER BY id",
  [Q_DEVICE_FW_SET] = "INSERT INTO device_fw (device_id, sequence, digest, reported_at) VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT (device_id) DO UPDATE SET sequence = excluded.sequence,"
                      " digest = excluded.digest, reported_at = excluded.reported_at",
  [Q_DEVICE_FW_GET] = "SELECT device_id, sequence, digest, reported_at FROM device_fw WHERE device_id = ?1",
  [Q_CAMPAIGN_ADD] = "INSERT INTO campaigns (firmware_id, target, canary_percent, max_failure_percent, stage, state,"
                     " reason, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
  [Q_CAMPAIGN_GET] = "SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE id = ?1",
  [Q_CAMPAIGN_UPDATE] = "UPDATE campaigns SET stage = ?2, state = ?3, reason = ?4, updated_at = ?5 WHERE id = ?1",
  [Q_CAMPAIGN_LIST] = "SELECT " CAMPAIGN_COLUMNS " FROM campaigns ORDER BY id",
  [Q_ROLLOUT_PUT] = "INSERT INTO rollouts (" ROLLOUT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    " ON CONFLICT (campaign_id, device_id) DO UPDATE SET stage = excluded.stage,"
                    " status = excluded.status, detail = excluded.detail, updated_at = excluded.updated_at",
  [Q_ROLLOUT_GET] = "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE campaign_id = ?1 AND device_id = ?2",
  [Q_ROLLOUT_OFFERED] = "SELECT r.campaign_id, r.device_id, r.stage, r.status, r.detail, r.updated_at"
                        " FROM rollouts r JOIN campaigns c ON c.id = r.campaign_id"
                        " WHERE r.device_id = ?1 AND r.status IN (1, 2) AND c.state = 0"
                        " ORDER BY r.campaign_id DESC LIMIT 1",
  [Q_ROLLOUT_LIST] = "SELECT " ROLLOUT_COLUMNS " FROM rollouts WHERE campaign_id = ?1 ORDER BY device_id",
  [Q_ROLLOUT_COUNTS] = "SELECT status, count(*) FROM rollouts WHERE campaign_id = ?1 AND (?2 < 0 OR stage = ?2)"
                       " GROUP BY status",
  [Q_NONCE_PURGE] = "DELETE FROM nonces WHERE expires_at <= ?1",
  [Q_NONCE_PUT] = "INSERT INTO nonces (nonce, device_id, expires_at) VALUES (?1, ?2, ?3)",
  [Q_NONCE_GET] = "SELECT device_id, expires_at FROM nonces WHERE nonce = ?1",
  [Q_NONCE_DELETE] = "DELETE FROM nonces WHERE nonce = ?1",
  [Q_ATTEST_PUT] = "INSERT INTO attestations (device_id, at, verdict, triggered_by, reasons, image_digest, boot_count)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [Q_ATTEST_LIST] = "SELECT " ATTEST_COLUMNS " FROM attestations WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2",
  [Q_SERIAL_REVOKE_DEVICE] = "UPDATE serials SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at = 0",
  [Q_SERIAL_IS_REVOKED] = "SELECT revoked_at FROM serials WHERE serial_hex = ?1",
  [Q_SERIAL_REVOKED_LIST] = "SELECT serial_hex, device_id, not_after, revoked_at FROM serials"
                            " WHERE revoked_at > 0 ORDER BY revoked_at, serial_hex",
  /* Erasure. An owner's or a place's context belongs to the people there:
   * it goes with the last live device that names them. */
  [Q_ERASE_OWNER_OF] = "SELECT name, value FROM device_attr WHERE device_id = ?1 AND name IN ('owner', 'place')",
  [Q_ERASE_SHARED] = "SELECT count(*) FROM device_attr a JOIN devices d ON d.id = a.device_id"
                     " WHERE a.name = ?1 AND a.value = ?2 AND a.device_id <> ?3 AND d.state <> ?4",
  [Q_ERASE_ATTRS] = "DELETE FROM device_attr WHERE device_id = ?1",
  [Q_ERASE_CONTEXT] = "DELETE FROM context_attr WHERE scope = ?1",
  [Q_ERASE_VOUCHER] = "DELETE FROM vouchers WHERE device_id = ?1",
  [Q_ERASE_PSKS] = "DELETE FROM psk WHERE device_id = ?1",  /* psk_key rows follow by cascade */
  [Q_ERASE_ATTESTS] = "DELETE FROM attestations WHERE device_id = ?1",
  [Q_ERASE_NONCES] = "DELETE FROM nonces WHERE device_id = ?1",
  [Q_VULN_ADD] = "INSERT INTO vuln_reports (received_at, contact, summary, detail, status) VALUES (?1, ?2, ?3, ?4, ?5)",
  [Q_VULN_SET_STATUS] = "UPDATE vuln_reports SET status = ?2 WHERE id = ?1",
  [Q_VULN_LIST] = "SELECT id, received_at, contact, summary, detail, status FROM vuln_reports ORDER BY id",
};

typedef struct {
  sqlite3 *db;
  int schema_version;
  sqlite3_stmt *stmts[Q_COUNT];  /* prepared on first use, finalized at close */
} sqlite_be_t;

/* A statement in use: the cached one, or a private copy when the cached one is
 * still stepping (a list callback that calls back into the store). */
typedef struct {
  sqlite3_stmt *s;
  bool private_copy;
} query_t;

static stw_status_t map_rc(sqlite_be_t *b, int rc)
{
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_ROW:
  case SQLITE_DONE:
    return STW_OK;
  case SQLITE_CONSTRAINT:
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
      return STW_ERR_EXISTS;
    return STW_ERR_STORE;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return STW_ERR_BUSY;
  case SQLITE_NOMEM:
    return STW_ERR_NOMEM;
  case SQLITE_TOOBIG:
    return STW_ERR_TOO_LARGE;
  default:
    if (getenv("STW_DEBUG_STORE"))
      fprintf(stderr, "store: sqlite error %d: %s\n", rc, sqlite3_errmsg(b->db));
    return STW_ERR_STORE;
  }
}

static stw_status_t query_open(sqlite_be_t *b, int q, query_t *out)
{
  sqlite3_stmt **slot = &b->stmts[q];
  out->s = NULL;
  out->private_copy = false;
  if (*slot != NULL && !sqlite3_stmt_busy(*slot)) {
    out->s = *slot;
    return STW_OK;
  }
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v3(b->db, sql_text[q], -1, *slot == NULL ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL);
  if (rc != SQLITE_OK)
    return map_rc(b, rc);
  if (*slot == NULL)
    *slot = s;
  else
    out->private_copy = true;
  out->s = s;
  return STW_OK;
}

static void query_close(query_t *q)
{
  if (q->s == NULL)
    return;
  if (q->private_copy) {
    sqlite3_finalize(q->s);
  } else {
    sqlite3_reset(q->s);
    sqlite3_clear_bindings(q->s);  /* drop references to the caller's buffers */
  }
  q->s = NULL;
}

/* Run a statement that returns no rows; *changes: rows it touched. */
static stw_status_t query_exec(sqlite_be_t *b, query_t *q, int *changes)
{
  int rc = sqlite3_step(q->s);
  if (rc == SQLITE_ROW)
    rc = SQLITE_DONE;
  if (changes != NULL)
    *changes = rc == SQLITE_DONE ? sqlite3_changes(b->db) : 0;
  return map_rc(b, rc);
}

/* Finish a write whose values are bound (when rc says so): run it and release
 * the statement. must_change: STW_ERR_NOT_FOUND when no row was touched. */
static stw_status_t query_finish(sqlite_be_t *b, query_t *q, stw_status_t rc, bool must_change)
{
  int changes = 0;
  if (rc == STW_OK)
    rc = query_exec(b, q, &changes);
  query_close(q);
  if (rc == STW_OK && must_change && changes == 0)
    rc = STW_ERR_NOT_FOUND;
  return rc;
}

/* Step a query: true with a row in hand; false at the end (*rc = STW_OK) or
 * on an error (*rc says which). The loop of every listing. */
static bool query_row(sqlite_be_t *b, query_t *q, stw_status_t *rc)
{
  int r = sqlite3_step(q->s);
  if (r == SQLITE_ROW)
    return true;
  *rc = map_rc(b, r);
  return false;
}

/* Step a query that yields at most one row: STW_OK with the row in hand,
 * `none` when there is no row. */
static stw_status_t query_one(sqlite_be_t *b, query_t *q, stw_status_t none)
{
  int r = sqlite3_step(q->s);
  if (r == SQLITE_ROW)
    return STW_OK;
  return r == SQLITE_DONE ? none : map_rc(b, r);
}

static stw_status_t bind_rc(sqlite_be_t *b, int rc)
{
  return rc == SQLITE_OK ? STW_OK : map_rc(b, rc);
}

static stw_status_t bind_text(sqlite_be_t *b, query_t *q, int i, const char *s)
{
  return bind_rc(b, sqlite3_bind_text(q->s, i, s, -1, SQLITE_STATIC));
}

static stw_status_t bind_blob(sqlite_be_t *b, query_t *q, int i, const void *p, size_t len)
{
  if (p == NULL)
    return bind_rc(b, sqlite3_bind_null(q->s, i));
  return bind_rc(b, sqlite3_bind_blob64(q->s, i, p, len, SQLITE_STATIC));
}

static stw_status_t bind_int(sqlite_be_t *b, query_t *q, int i, int64_t v)
{
  return bind_rc(b, sqlite3_bind_int64(q->s, i, v));
}

/* Copy a text column into a fixed field. A value that does not fit means the
 * file was written by something other than this store: refuse, do not cut. */
static stw_status_t col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  int n = sqlite3_column_bytes(s, i);
  if (t == NULL) {
    out[0] = '\0';
    return STW_OK;
  }
  if (n < 0 || (size_t)n >= cap || memchr(t, '\0', (size_t)n) != NULL)
    return STW_ERR_STORE;
  memcpy(out, t, (size_t)n);
  out[n] = '\0';
  return STW_OK;
}

static stw_status_t col_fixed_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t len)
{
  const void *p = sqlite3_column_blob(s, i);
  if (p == NULL || (size_t)sqlite3_column_bytes(s, i) != len)
    return STW_ERR_STORE;
  memcpy(out, p, len);
  return STW_OK;
}

/* *out is malloc'd (NULL for an empty or NULL column); the caller frees it. */
static stw_status_t col_blob_dup(sqlite3_stmt *s, int i, uint8_t **out, size_t *len)
{
  const void *p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  *out = NULL;
  *len = 0;
  if (p == NULL || n <= 0)
    return STW_OK;
  *out = malloc((size_t)n);
  if (*out == NULL)
    return STW_ERR_NOMEM;
  memcpy(*out, p, (size_t)n);
  *len = (size_t)n;
  return STW_OK;
}

static stw_status_t exec_sql(sqlite_be_t *b, const char *sql)
{
  return map_rc(b, sqlite3_exec(b->db, sql, NULL, NULL, NULL));
}

/* Cached BEGIN/COMMIT/ROLLBACK: the committer runs them thousands of times. */
static stw_status_t run_cached(sqlite_be_t *b, int q)
{
  query_t qq;
  return query_finish(b, &qq, query_open(b, q, &qq), false);
}

/* ---- transactions -------------------------------------------------------- */

static bool sq_in_tx(void *be)
{
  sqlite_be_t *b = be;
  return !sqlite3_get_autocommit(b->db);
}

static stw_status_t sq_begin(void *be)
{
  return run_cached(be, Q_BEGIN);
}

static void sq_rollback(void *be)
{
  sqlite_be_t *b = be;
  if (!sqlite3_get_autocommit(b->db))
    (void)run_cached(b, Q_ROLLBACK);
}

static stw_status_t sq_commit(void *be)
{
  sqlite_be_t *b = be;
  stw_status_t rc = run_cached(b, Q_COMMIT);
  if (rc != STW_OK) {
    sq_rollback(b);  /* the contract: a failed commit leaves nothing behind */
    rc = STW_ERR_STORE;
  }
  return rc;
}

static stw_status_t savepoint_sql(sqlite_be_t *b, const char *verb, const char *name)
{
  char sql[96];
  /* name was checked by store.c: [a-z_0-9]+, short. */
  int n = snprintf(sql, sizeof(sql), "%s %s", verb, name);
  if (n < 0 || (size_t)n >= sizeof(sql))
    return STW_ERR_TOO_LARGE;
  return exec_sql(b, sql);
}

static stw_status_t sq_savepoint(void *be, const char *name)
{
  return savepoint_sql(be, "SAVEPOINT", name);
}

static stw_status_t sq_release(void *be, const char *name)
{
  return savepoint_sql(be, "RELEASE", name);
}

static stw_status_t sq_rollback_to(void *be, const char *name)
{
  return savepoint_sql(be, "ROLLBACK TO", name);
}

/* ---- open, migrate, close --------------------------------------------------- */

static int sq_schema_version(void *be)
{
  return ((sqlite_be_t *)be)->schema_version;
}

static void sq_close(void *be)
{
  sqlite_be_t *b = be;
  if (b == NULL)
    return;
  for (int i = 0; i < Q_COUNT; i++)
    sqlite3_finalize(b->stmts[i]);
  if (b->db != NULL && !sqlite3_get_autocommit(b->db))
    (void)exec_sql(b, "ROLLBACK");  /* an open transaction is not committed by closing */
  sqlite3_close_v2(b->db);
  free(b);
}

static stw_status_t read_version(sqlite_be_t *b, int *version)
{
  sqlite3_stmt *s = NULL;
  stw_status_t rc;
  int r = sqlite3_prepare_v2(b->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &s, NULL);
  if (r != SQLITE_OK) {
    rc = map_rc(b, r);
    goto out;
  }
  r = sqlite3_step(s);
  if (r != SQLITE_ROW) {
    rc = r == SQLITE_DONE ? STW_ERR_STORE : map_rc(b, r);
    goto out;
  }
  *version = sqlite3_column_int(s, 0);
  rc = STW_OK;
out:
  sqlite3_finalize(s);
  return rc;
}

/* Bring the schema to SCHEMA_VERSION in one transaction. BEGIN IMMEDIATE
 * serialises two processes opening a new file at once: the second finds the
 * work done. */
static stw_status_t migrate(sqlite_be_t *b, int target)
{
  int version = 0;
  char sql[128];
  stw_status_t rc = exec_sql(b, "BEGIN IMMEDIATE");
  if (rc != STW_OK)
    return rc;
  rc = exec_sql(b, "CREATE TABLE IF NOT EXISTS schema_version ("
                   " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  if (rc != STW_OK)
    goto out;
  if ((rc = read_version(b, &version)) != STW_OK)
    goto out;
  if (version > SCHEMA_VERSION) {
    rc = STW_ERR_UNSUPPORTED;  /* written by a newer Steward: do not guess */
    goto out;
  }
  for (int v = version; v < target; v++) {
    if ((rc = exec_sql(b, migrations[v])) != STW_OK)
      goto out;
    snprintf(sql, sizeof(sql), "INSERT INTO schema_version (version, applied_at) VALUES (%d, %lld)",
             v + 1, (long long)stw_now());
    if ((rc = exec_sql(b, sql)) != STW_OK)
      goto out;
  }
  rc = exec_sql(b, "COMMIT");
  if (rc == STW_OK)
    b->schema_version = version > target ? version : target;
out:
  if (rc != STW_OK && !sqlite3_get_autocommit(b->db))
    (void)exec_sql(b, "ROLLBACK");
  return rc;
}

/* The database holds PSKs: create it owner-only before SQLite does (SQLite
 * gives the -wal and -shm files the permissions of the main file). */
static stw_status_t precreate(const char *path)
{
  if (strcmp(path, ":memory:") == 0)
    return STW_OK;
  /* O_EXCL: never open (and close) an existing database file. Closing any
   * descriptor of a file drops every POSIX lock this process holds on it,
   * including the locks of connections already open: a second handle in the
   * same process (the daemon's writer thread) would corrupt the first. */
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno == EEXIST ? STW_OK : errno == ENOENT ? STW_ERR_NOT_FOUND : STW_ERR_IO;
  close(fd);
  return STW_OK;
}

static stw_status_t open_at(const char *path, int target, void **be)
{
  sqlite_be_t *b = NULL;
  sqlite3_stmt *s = NULL;
  stw_status_t rc;

  *be = NULL;
  if ((rc = precreate(path)) != STW_OK)
    goto out;
  b = calloc(1, sizeof(*b));
  if (b == NULL) {
    rc = STW_ERR_NOMEM;
    goto out;
  }
  int r = sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
  if (r != SQLITE_OK) {
    rc = b->db == NULL ? STW_ERR_NOMEM : STW_ERR_STORE;
    goto out;
  }
  sqlite3_extended_result_codes(b->db, 1);
  sqlite3_busy_timeout(b->db, BUSY_TIMEOUT_MS);

  /* journal_mode answers with the mode it got; anything but WAL (or memory,
   * for a ":memory:" store) would quietly lose the concurrency we rely on. */
  r = sqlite3_prepare_v2(b->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
  if (r == SQLITE_OK)
    r = sqlite3_step(s);
  if (r != SQLITE_ROW) {
    rc = map_rc(b, r);
    if (rc == STW_OK)
      rc = STW_ERR_STORE;
    goto out;
  }
  const char *mode = (const char *)sqlite3_column_text(s, 0);
  if (mode == NULL || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)) {
    rc = STW_ERR_STORE;
    goto out;
  }
  sqlite3_finalize(s);  /* a pragma left stepping would hold its lock */
  s = NULL;
  /* synchronous and foreign_keys are per connection: set them on every open.
   * secure_delete overwrites deleted rows (retired keys, decommissioned
   * devices' data) instead of leaving them in free pages. */
  if ((rc = exec_sql(b, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON")) != STW_OK)
    goto out;
  if ((rc = migrate(b, target)) != STW_OK)
    goto out;
  *be = b;
  b = NULL;
out:
  sqlite3_finalize(s);
  sq_close(b);
  return rc;
}

stw_status_t stw__sqlite_open(const char *path, void **be)
{
  return open_at(path, SCHEMA_VERSION, be);
}

stw_status_t stw__sqlite_create_at(const char *path, int version)
{
  void *be = NULL;
  if (version < 1 || version > SCHEMA_VERSION)
    return STW_ERR_INVALID;
  stw_status_t rc = open_at(path, version, &be);
  sq_close(be);
  return rc;
}

/* ---- trusted manufacturers ------------------------------------------------ */

static stw_status_t sq_trust_add(void *be, const char *name, const uint8_t fingerprint[32],
                                 const uint8_t *der, size_t len)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_TRUST_ADD, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, name);
  if (rc == STW_OK) rc = bind_blob(b, &q, 2, fingerprint, 32);
  if (rc == STW_OK) rc = bind_blob(b, &q, 3, der, len);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_trust_list(void *be, stw_trust_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_trust_t t = { 0 };
  stw_status_t rc = query_open(b, Q_TRUST_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    t.id = sqlite3_column_int64(q.s, 0);
    if ((rc = col_text(q.s, 1, t.name, sizeof(t.name))) == STW_OK &&
        (rc = col_fixed_blob(q.s, 2, t.fingerprint, sizeof(t.fingerprint))) == STW_OK &&
        (rc = col_blob_dup(q.s, 3, &t.cert_der, &t.cert_len)) == STW_OK)
      rc = cb(&t, ctx);
    stw_trust_clear(&t);
  }
  query_close(&q);
  return rc;
}

/* DELETE by key: STW_ERR_NOT_FOUND when no row matched. */
static stw_status_t delete_by(sqlite_be_t *b, int qid, const char *text_key, int64_t int_key)
{
  query_t q = { 0 };
  stw_status_t rc = query_open(b, qid, &q);
  if (rc == STW_OK)
    rc = text_key != NULL ? bind_text(b, &q, 1, text_key) : bind_int(b, &q, 1, int_key);
  return query_finish(b, &q, rc, true);
}

static stw_status_t sq_trust_remove(void *be, int64_t id)
{
  return delete_by(be, Q_TRUST_REMOVE, NULL, id);
}

/* ---- rules ------------------------------------------------------------------- */

static stw_status_t sq_rule_add(void *be, stw_rule_t *rule)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_RULE_ADD, &q);
  if (rc == STW_OK) rc = bind_int(b, &q, 1, rule->kind);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, rule->device_id);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, rule->model);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, rule->manufacturer);
  if (rc == STW_OK) rc = bind_text(b, &q, 5, rule->name_prefix);
  if ((rc = query_finish(b, &q, rc, false)) == STW_OK)
    rule->id = sqlite3_last_insert_rowid(b->db);
  return rc;
}

static stw_status_t sq_rule_list(void *be, stw_rule_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_RULE_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_rule_t rule = { 0 };
    rule.id = sqlite3_column_int64(q.s, 0);
    rule.kind = sqlite3_column_int(q.s, 1) == STW_RULE_GROUP ? STW_RULE_GROUP : STW_RULE_DEVICE;
    if ((rc = col_text(q.s, 2, rule.device_id, sizeof(rule.device_id))) != STW_OK ||
        (rc = col_text(q.s, 3, rule.model, sizeof(rule.model))) != STW_OK ||
        (rc = col_text(q.s, 4, rule.manufacturer, sizeof(rule.manufacturer))) != STW_OK ||
        (rc = col_text(q.s, 5, rule.name_prefix, sizeof(rule.name_prefix))) != STW_OK)
      break;
    rc = cb(&rule, ctx);
  }
  query_close(&q);
  return rc;
}

static stw_status_t sq_rule_remove(void *be, int64_t id)
{
  return delete_by(be, Q_RULE_REMOVE, NULL, id);
}

/* ---- vouchers ------------------------------------------------------------------ */

static stw_status_t sq_voucher_put(void *be, const char *device_id, const uint8_t *v, size_t len, int64_t now)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_VOUCHER_PUT, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, device_id);
  if (rc == STW_OK) rc = bind_blob(b, &q, 2, v, len);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, now);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_voucher_get(void *be, const char *device_id, uint8_t **out, size_t *len)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_VOUCHER_GET, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, device_id);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = col_blob_dup(q.s, 0, out, len);
  query_close(&q);
  return rc;
}

static stw_status_t sq_voucher_delete(void *be, const char *device_id)
{
  return delete_by(be, Q_VOUCHER_DELETE, device_id, 0);
}

/* ---- devices ----------------------------------------------------------------- */

static stw_status_t row_to_device(sqlite3_stmt *s, stw_device_t *d)
{
  stw_status_t rc;
  memset(d, 0, sizeof(*d));
  if ((rc = col_text(s, 0, d->id, sizeof(d->id))) != STW_OK ||
      (rc = col_text(s, 1, d->name, sizeof(d->name))) != STW_OK ||
      (rc = col_text(s, 2, d->model, sizeof(d->model))) != STW_OK ||
      (rc = col_text(s, 3, d->manufacturer, sizeof(d->manufacturer))) != STW_OK)
    return rc;
  int state = sqlite3_column_int(s, 4);
  int cred = sqlite3_column_int(s, 5);
  if (state < 0 || state >= STW_STATE_COUNT || (cred != STW_CRED_X509 && cred != STW_CRED_PSK))
    return STW_ERR_STORE;
  d->state = (stw_state_t)state;
  d->cred_kind = (stw_cred_kind_t)cred;
  d->created_at = sqlite3_column_int64(s, 6);
  d->updated_at = sqlite3_column_int64(s, 7);
  if ((rc = col_blob_dup(s, 8, &d->ldevid, &d->ldevid_len)) != STW_OK ||
      (rc = col_text(s, 9, d->ldevid_serial, sizeof(d->ldevid_serial))) != STW_OK)
    return rc;
  d->ldevid_not_after = sqlite3_column_int64(s, 10);
  if ((rc = col_fixed_blob(s, 11, d->csr_digest, sizeof(d->csr_digest))) != STW_OK ||
      (rc = col_text(s, 12, d->psk_identity, sizeof(d->psk_identity))) != STW_OK)
    return rc;
  d->generation = (uint32_t)sqlite3_column_int64(s, 13);
  return STW_OK;
}

static stw_status_t sq_device_get(void *be, const char *id, stw_device_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_DEVICE_GET, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, id);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = row_to_device(q.s, out);
  query_close(&q);
  return rc;
}

static stw_status_t sq_device_put(void *be, const stw_device_t *d)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_DEVICE_PUT, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, d->id);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, d->name);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, d->model);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, d->manufacturer);
  if (rc == STW_OK) rc = bind_int(b, &q, 5, d->state);
  if (rc == STW_OK) rc = bind_int(b, &q, 6, d->cred_kind);
  if (rc == STW_OK) rc = bind_int(b, &q, 7, d->created_at);
  if (rc == STW_OK) rc = bind_int(b, &q, 8, d->updated_at);
  if (rc == STW_OK) rc = bind_blob(b, &q, 9, d->ldevid_len > 0 ? d->ldevid : NULL, d->ldevid_len);
  if (rc == STW_OK) rc = bind_text(b, &q, 10, d->ldevid_serial);
  if (rc == STW_OK) rc = bind_int(b, &q, 11, d->ldevid_not_after);
  if (rc == STW_OK) rc = bind_blob(b, &q, 12, d->csr_digest, sizeof(d->csr_digest));
  if (rc == STW_OK) rc = bind_text(b, &q, 13, d->psk_identity);
  if (rc == STW_OK) rc = bind_int(b, &q, 14, d->generation);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_device_list(void *be, int state, stw_device_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_device_t d = { 0 };
  stw_status_t rc = query_open(b, state < 0 ? Q_DEVICE_LIST_ALL : Q_DEVICE_LIST_STATE, &q);
  if (rc == STW_OK && state >= 0)
    rc = bind_int(b, &q, 1, state);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    if ((rc = row_to_device(q.s, &d)) == STW_OK)
      rc = cb(&d, ctx);
    stw_device_clear(&d);
  }
  query_close(&q);
  return rc;
}

static stw_status_t count_rows(sqlite_be_t *b, int qid, bool bind_state, int state, uint64_t *count)
{
  query_t q = { 0 };
  stw_status_t rc = query_open(b, qid, &q);
  if (rc == STW_OK && bind_state)
    rc = bind_int(b, &q, 1, state);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_STORE)) == STW_OK)
    *count = (uint64_t)sqlite3_column_int64(q.s, 0);
  query_close(&q);
  return rc;
}

static stw_status_t sq_device_count(void *be, int state, uint64_t *count)
{
  if (state < 0)
    return count_rows(be, Q_DEVICE_COUNT_ALL, false, 0, count);
  return count_rows(be, Q_DEVICE_COUNT_STATE, true, state, count);
}

/* ---- serials --------------------------------------------------------------------- */

static stw_status_t sq_serial_claim(void *be, const char *serial_hex, const char *device_id,
                                    int64_t not_after, int64_t now)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_SERIAL_CLAIM, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, serial_hex);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, device_id);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, not_after);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, now);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_serial_count(void *be, uint64_t *count)
{
  return count_rows(be, Q_SERIAL_COUNT, false, 0, count);
}

/* ---- pre-shared keys --------------------------------------------------------------- */

static stw_status_t sq_psk_put(void *be, const stw_psk_t *p)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_PSK_PUT, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, p->identity);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, p->device_id);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, p->kind);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, p->active ? 1 : 0);
  if ((rc = query_finish(b, &q, rc, false)) != STW_OK)
    return rc;
  rc = query_open(b, Q_PSK_KEY_PUT, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, p->identity);
  if (rc == STW_OK) rc = bind_blob(b, &q, 2, p->key, p->key_len);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_psk_get(void *be, const char *identity, stw_psk_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_PSK_GET, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, identity);
  if (rc != STW_OK || (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) != STW_OK)
    goto out;
  if ((rc = col_text(q.s, 0, out->identity, sizeof(out->identity))) != STW_OK ||
      (rc = col_text(q.s, 1, out->device_id, sizeof(out->device_id))) != STW_OK)
    goto out;
  out->kind = sqlite3_column_int(q.s, 2) == STW_PSK_OPERATIONAL ? STW_PSK_OPERATIONAL : STW_PSK_BOOTSTRAP;
  out->active = sqlite3_column_int(q.s, 3) != 0;
  const void *key = sqlite3_column_blob(q.s, 4);
  int n = sqlite3_column_bytes(q.s, 4);
  if (key == NULL || n <= 0 || (size_t)n > sizeof(out->key)) {
    rc = STW_ERR_STORE;
    goto out;
  }
  memcpy(out->key, key, (size_t)n);
  out->key_len = (size_t)n;
out:
  query_close(&q);  /* reset releases SQLite's copy of the row */
  return rc;
}

static stw_status_t sq_psk_set_active(void *be, const char *identity, bool active)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_PSK_SET_ACTIVE, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, identity);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, active ? 1 : 0);
  return query_finish(b, &q, rc, true);
}

/* ---- audit ---------------------------------------------------------------------- */

static stw_status_t sq_audit_last(void *be, uint64_t *seq, uint8_t hash[32])
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_AUDIT_LAST, &q);
  if (rc == STW_OK && query_row(b, &q, &rc)) {
    *seq = (uint64_t)sqlite3_column_int64(q.s, 0);
    rc = col_fixed_blob(q.s, 1, hash, 32);
  } else if (rc == STW_OK) {  /* empty log: the first record links to zeros */
    *seq = 0;
    memset(hash, 0, 32);
  }
  query_close(&q);
  return rc;
}

static stw_status_t sq_audit_insert(void *be, const stw_audit_t *a)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  if (a->seq > (uint64_t)INT64_MAX)
    return STW_ERR_TOO_LARGE;
  stw_status_t rc = query_open(b, Q_AUDIT_INSERT, &q);
  if (rc == STW_OK) rc = bind_int(b, &q, 1, (int64_t)a->seq);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, a->at);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, a->actor);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, a->action);
  if (rc == STW_OK) rc = bind_text(b, &q, 5, a->subject);
  if (rc == STW_OK) rc = bind_text(b, &q, 6, a->outcome);
  if (rc == STW_OK) rc = bind_text(b, &q, 7, a->detail);
  if (rc == STW_OK) rc = bind_blob(b, &q, 8, a->prev_hash, 32);
  if (rc == STW_OK) rc = bind_blob(b, &q, 9, a->hash, 32);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_audit_list(void *be, uint64_t after, uint64_t limit, stw_audit_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  if (after > (uint64_t)INT64_MAX)
    return STW_OK;  /* nothing can follow */
  stw_status_t rc = query_open(b, Q_AUDIT_LIST, &q);
  if (rc == STW_OK) rc = bind_int(b, &q, 1, (int64_t)after);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, limit == 0 || limit > (uint64_t)INT64_MAX ? -1 : (int64_t)limit);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_audit_t a = { 0 };
    a.seq = (uint64_t)sqlite3_column_int64(q.s, 0);
    a.at = sqlite3_column_int64(q.s, 1);
    if ((rc = col_text(q.s, 2, a.actor, sizeof(a.actor))) != STW_OK ||
        (rc = col_text(q.s, 3, a.action, sizeof(a.action))) != STW_OK ||
        (rc = col_text(q.s, 4, a.subject, sizeof(a.subject))) != STW_OK ||
        (rc = col_text(q.s, 5, a.outcome, sizeof(a.outcome))) != STW_OK ||
        (rc = col_text(q.s, 6, a.detail, sizeof(a.detail))) != STW_OK)
      break;
    /* A hash of the wrong size is damage, not a reason to stop reading:
     * leave it zero so verify names this record. */
    (void)col_fixed_blob(q.s, 7, a.prev_hash, 32);
    (void)col_fixed_blob(q.s, 8, a.hash, 32);
    rc = cb(&a, ctx);
  }
  query_close(&q);
  return rc;
}

sqlite3 *stw__sqlite_handle(stw_store_t *st)
{
  if (st == NULL || st->ops != &stw__sqlite_ops)
    return NULL;
  return ((sqlite_be_t *)st->be)->db;
}

/* ---- resource directory ------------------------------------------------------ */

static stw_status_t row_to_reg(sqlite3_stmt *s, stw_rd_reg_t *r)
{
  stw_status_t rc;
  memset(r, 0, sizeof(*r));
  if ((rc = col_text(s, 0, r->id, sizeof(r->id))) != STW_OK ||
      (rc = col_text(s, 1, r->device_id, sizeof(r->device_id))) != STW_OK ||
      (rc = col_text(s, 2, r->ep, sizeof(r->ep))) != STW_OK ||
      (rc = col_text(s, 3, r->d, sizeof(r->d))) != STW_OK ||
      (rc = col_text(s, 4, r->base, sizeof(r->base))) != STW_OK ||
      (rc = col_text(s, 5, r->et, sizeof(r->et))) != STW_OK ||
      (rc = col_text(s, 9, r->vis, sizeof(r->vis))) != STW_OK ||
      (rc = col_text(s, 10, r->dattr, sizeof(r->dattr))) != STW_OK)
    return rc;
  r->lt = (uint32_t)sqlite3_column_int64(s, 6);
  r->expires_at = sqlite3_column_int64(s, 7);
  r->updated_at = sqlite3_column_int64(s, 8);
  return STW_OK;
}

static stw_status_t sq_rd_put(void *be, const stw_rd_reg_t *reg, const stw_rd_res_t *res, size_t n_res)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_RD_PUT, &q);
  if (rc == STW_OK &&
      ((rc = bind_text(b, &q, 1, reg->id)) != STW_OK || (rc = bind_text(b, &q, 2, reg->device_id)) != STW_OK ||
       (rc = bind_text(b, &q, 3, reg->ep)) != STW_OK || (rc = bind_text(b, &q, 4, reg->d)) != STW_OK ||
       (rc = bind_text(b, &q, 5, reg->base)) != STW_OK || (rc = bind_text(b, &q, 6, reg->et)) != STW_OK ||
       (rc = bind_int(b, &q, 7, reg->lt)) != STW_OK || (rc = bind_int(b, &q, 8, reg->expires_at)) != STW_OK ||
       (rc = bind_int(b, &q, 9, reg->updated_at)) != STW_OK || (rc = bind_text(b, &q, 10, reg->vis)) != STW_OK ||
       (rc = bind_text(b, &q, 11, reg->links)) != STW_OK || (rc = bind_text(b, &q, 12, reg->dattr)) != STW_OK))
    goto out;
  if ((rc = query_finish(b, &q, rc, false)) != STW_OK)
    goto out;
  /* Resources are replaced whole: an update's payload is the new set. */
  if ((rc = query_open(b, Q_RD_RES_CLEAR, &q)) != STW_OK || (rc = bind_text(b, &q, 1, reg->id)) != STW_OK ||
      (rc = query_exec(b, &q, NULL)) != STW_OK)
    goto out;
  query_close(&q);
  for (size_t i = 0; i < n_res; i++) {
    if ((rc = query_open(b, Q_RD_RES_PUT, &q)) != STW_OK || (rc = bind_text(b, &q, 1, reg->id)) != STW_OK ||
        (rc = bind_int(b, &q, 2, (int64_t)i)) != STW_OK || (rc = bind_text(b, &q, 3, reg->ep)) != STW_OK ||
        (rc = bind_text(b, &q, 4, res[i].href)) != STW_OK || (rc = bind_text(b, &q, 5, res[i].link)) != STW_OK ||
        (rc = bind_text(b, &q, 6, res[i].vis)) != STW_OK || (rc = query_exec(b, &q, NULL)) != STW_OK)
      goto out;
    query_close(&q);
    for (size_t j = 0; j < res[i].n_attrs; j++) {
      if ((rc = query_open(b, Q_RD_ATTR_PUT, &q)) != STW_OK || (rc = bind_text(b, &q, 1, reg->id)) != STW_OK ||
          (rc = bind_int(b, &q, 2, (int64_t)i)) != STW_OK ||
          (rc = bind_text(b, &q, 3, res[i].attrs[j].name)) != STW_OK ||
          (rc = bind_text(b, &q, 4, res[i].attrs[j].value)) != STW_OK ||
          (rc = bind_text(b, &q, 5, reg->ep)) != STW_OK || (rc = query_exec(b, &q, NULL)) != STW_OK)
        goto out;
      query_close(&q);
    }
  }
out:
  query_close(&q);
  return rc;
}

static stw_status_t sq_rd_touch(void *be, const char *id, uint32_t lt, int64_t expires_at, int64_t now)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_RD_TOUCH, &q);
  if (rc == STW_OK && (rc = bind_text(b, &q, 1, id)) == STW_OK && (rc = bind_int(b, &q, 2, lt)) == STW_OK &&
      (rc = bind_int(b, &q, 3, expires_at)) == STW_OK)
    rc = bind_int(b, &q, 4, now);
  return query_finish(b, &q, rc, true);
}

static stw_status_t sq_rd_get(void *be, const char *id, const char *device_id, stw_rd_reg_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, id ? Q_RD_GET : Q_RD_GET_BY_DEVICE, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, id ? id : device_id);
  if (rc != STW_OK || (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) != STW_OK ||
      (rc = row_to_reg(q.s, out)) != STW_OK)
    goto out;
  uint8_t *links = NULL;
  size_t len = 0;
  const unsigned char *t = sqlite3_column_text(q.s, 11);
  int n = sqlite3_column_bytes(q.s, 11);
  if (t == NULL || n < 0 || (size_t)n > STW_RD_LINKS_MAX) {
    rc = STW_ERR_STORE;
    goto out;
  }
  links = malloc((size_t)n + 1);
  if (links == NULL) {
    rc = STW_ERR_NOMEM;
    goto out;
  }
  memcpy(links, t, (size_t)n);
  links[n] = '\0';
  len = (size_t)n;
  out->links = (char *)links;
  out->links_len = len;
out:
  query_close(&q);
  return rc;
}

static stw_status_t sq_rd_delete(void *be, const char *id)
{
  return delete_by(be, Q_RD_DELETE, id, 0);
}

static stw_status_t sq_rd_expire(void *be, int64_t now, uint64_t *removed)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  int changes = 0;
  stw_status_t rc = query_open(b, Q_RD_EXPIRE, &q);
  if (rc == STW_OK && (rc = bind_int(b, &q, 1, now)) == STW_OK)
    rc = query_exec(b, &q, &changes);
  query_close(&q);
  *removed = (uint64_t)changes;
  return rc;
}

static stw_status_t sq_rd_count(void *be, uint64_t *count)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_RD_COUNT, &q);
  if (rc == STW_OK && query_row(b, &q, &rc))
    *count = (uint64_t)sqlite3_column_int64(q.s, 0);
  query_close(&q);
  return rc;
}

/* "abc*" is the range ["abc", "abd"): the index answers a prefix query. The
 * upper bound is the prefix with its last byte raised, dropping 0xff bytes. */
typedef struct {
  char lo[STW_RD_VALUE_MAX];
  char hi[STW_RD_VALUE_MAX];
  bool prefix;
  bool unbounded;   /* prefix of only 0xff bytes (or empty): no upper bound */
} match_range_t;

static void make_range(const char *pattern, match_range_t *m)
{
  size_t n = strlen(pattern);
  memset(m, 0, sizeof(*m));
  m->prefix = n > 0 && pattern[n - 1] == '*';
  if (!m->prefix) {
    snprintf(m->lo, sizeof(m->lo), "%s", pattern);
    return;
  }
  n--;
  memcpy(m->lo, pattern, n);
  m->lo[n] = '\0';
  memcpy(m->hi, pattern, n);
  while (n > 0 && (unsigned char)m->hi[n - 1] == 0xff)
    n--;
  if (n == 0) {
    m->unbounded = true;
    snprintf(m->hi, sizeof(m->hi), "\xf4\x90");  /* above every UTF-8 string */
    return;
  }
  m->hi[n - 1] = (char)((unsigned char)m->hi[n - 1] + 1);
  m->hi[n] = '\0';
}

static stw_status_t scan_rows(sqlite_be_t *b, query_t *q, bool res, stw_rd_reg_cb reg_cb, stw_rd_res_cb res_cb,
                              void *ctx)
{
  stw_status_t rc = STW_OK;
  while (rc == STW_OK && query_row(b, q, &rc)) {
    stw_rd_reg_t reg;
    if ((rc = row_to_reg(q->s, &reg)) != STW_OK)
      break;
    if (res) {
      const char *link = (const char *)sqlite3_column_text(q->s, 11);
      const char *vis = (const char *)sqlite3_column_text(q->s, 12);
      rc = res_cb(&reg, link ? link : "", vis ? vis : "", ctx);
    } else {
      rc = reg_cb(&reg, ctx);
    }
  }
  return rc;
}

static stw_status_t bind_match(sqlite_be_t *b, query_t *q, const match_range_t *m)
{
  stw_status_t rc = bind_rc(b, sqlite3_bind_text(q->s, 2, m->lo, -1, SQLITE_TRANSIENT));
  if (rc == STW_OK && m->prefix)
    rc = bind_rc(b, sqlite3_bind_text(q->s, 3, m->hi, -1, SQLITE_TRANSIENT));
  return rc;
}

static stw_status_t sq_rd_scan_eps(void *be, const stw_rd_scan_t *f, stw_rd_reg_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  match_range_t m;
  int qid = Q_RD_EPS_ALL;
  if (f->ep != NULL) {
    make_range(f->ep, &m);
    qid = m.prefix ? Q_RD_EPS_EP_RANGE : Q_RD_EPS_EP;
  } else if (f->d != NULL) {
    make_range(f->d, &m);
    qid = m.prefix ? Q_RD_EPS_D_RANGE : Q_RD_EPS_D;
  }
  stw_status_t rc = query_open(b, qid, &q);
  if (rc == STW_OK)
    rc = bind_int(b, &q, 1, f->now);
  if (rc == STW_OK && qid != Q_RD_EPS_ALL)
    rc = bind_match(b, &q, &m);
  if (rc == STW_OK)
    rc = scan_rows(b, &q, false, cb, NULL, ctx);
  query_close(&q);
  return rc;
}

static stw_status_t sq_rd_scan_res(void *be, const stw_rd_scan_t *f, stw_rd_res_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  match_range_t m;
  int qid = Q_RD_RES_ALL;
  if (f->attr_name != NULL) {
    make_range(f->attr_value, &m);
    qid = m.prefix ? Q_RD_RES_ATTR_RANGE : Q_RD_RES_ATTR;
  } else if (f->ep != NULL) {
    make_range(f->ep, &m);
    qid = m.prefix ? Q_RD_RES_EP_RANGE : Q_RD_RES_EP;
  }
  stw_status_t rc = query_open(b, qid, &q);
  if (rc == STW_OK)
    rc = bind_int(b, &q, 1, f->now);
  if (rc == STW_OK && qid != Q_RD_RES_ALL)
    rc = bind_match(b, &q, &m);
  if (rc == STW_OK && f->attr_name != NULL) {
    if (!m.prefix)  /* ?3 unused: bind something harmless */
      rc = bind_rc(b, sqlite3_bind_null(q.s, 3));
    if (rc == STW_OK)
      rc = bind_text(b, &q, 4, f->attr_name);
  }
  if (rc == STW_OK)
    rc = scan_rows(b, &q, true, NULL, cb, ctx);
  query_close(&q);
  return rc;
}

/* ---- device attributes --------------------------------------------------------- */

static stw_status_t sq_attr_set(void *be, const char *device_id, const stw_attr_row_t *a)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ATTR_SET, &q);
  if (rc == STW_OK && (rc = bind_text(b, &q, 1, device_id)) == STW_OK && (rc = bind_text(b, &q, 2, a->name)) == STW_OK &&
      (rc = bind_text(b, &q, 3, a->value)) == STW_OK)
    rc = bind_text(b, &q, 4, a->authority);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_attr_delete(void *be, const char *device_id, const char *name)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ATTR_DELETE, &q);
  if (rc == STW_OK && (rc = bind_text(b, &q, 1, device_id)) == STW_OK)
    rc = bind_text(b, &q, 2, name);
  return query_finish(b, &q, rc, true);
}

static stw_status_t sq_attr_list(void *be, const char *device_id, stw_attr_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ATTR_LIST, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, device_id);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_attr_row_t a;
    memset(&a, 0, sizeof(a));
    if ((rc = col_text(q.s, 0, a.name, sizeof(a.name))) == STW_OK &&
        (rc = col_text(q.s, 1, a.value, sizeof(a.value))) == STW_OK &&
        (rc = col_text(q.s, 2, a.authority, sizeof(a.authority))) == STW_OK)
      rc = cb(&a, ctx);
  }
  query_close(&q);
  return rc;
}

/* ---- authorization: policies, context, tokens ------------------------------------ */

static stw_status_t row_to_policy(sqlite3_stmt *s, stw_policy_row_t *p)
{
  stw_status_t rc;
  memset(p, 0, sizeof(*p));
  p->id = sqlite3_column_int64(s, 0);
  p->effect = sqlite3_column_int(s, 2) == STW_EFFECT_DENY ? STW_EFFECT_DENY : STW_EFFECT_PERMIT;
  p->methods = (unsigned)sqlite3_column_int(s, 6);
  p->created_at = sqlite3_column_int64(s, 8);
  if ((rc = col_text(s, 1, p->name, sizeof(p->name))) != STW_OK ||
      (rc = col_text(s, 3, p->subject, sizeof(p->subject))) != STW_OK ||
      (rc = col_text(s, 4, p->target, sizeof(p->target))) != STW_OK ||
      (rc = col_text(s, 5, p->path, sizeof(p->path))) != STW_OK ||
      (rc = col_text(s, 7, p->conditions, sizeof(p->conditions))) != STW_OK)
    return rc;
  return STW_OK;
}

static stw_status_t sq_policy_add(void *be, stw_policy_row_t *p)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_POLICY_ADD, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, p->name);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, p->effect);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, p->subject);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, p->target);
  if (rc == STW_OK) rc = bind_text(b, &q, 5, p->path);
  if (rc == STW_OK) rc = bind_int(b, &q, 6, p->methods);
  if (rc == STW_OK) rc = bind_text(b, &q, 7, p->conditions);
  if (rc == STW_OK) rc = bind_int(b, &q, 8, p->created_at);
  if ((rc = query_finish(b, &q, rc, false)) == STW_OK)
    p->id = sqlite3_last_insert_rowid(b->db);
  return rc;
}

static stw_status_t sq_policy_list(void *be, stw_policy_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_POLICY_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_policy_row_t p;
    if ((rc = row_to_policy(q.s, &p)) == STW_OK)
      rc = cb(&p, ctx);
  }
  query_close(&q);
  return rc;
}

static stw_status_t sq_policy_remove(void *be, int64_t id)
{
  return delete_by(be, Q_POLICY_REMOVE, NULL, id);
}

static stw_status_t row_to_context(sqlite3_stmt *s, stw_context_row_t *c)
{
  stw_status_t rc;
  memset(c, 0, sizeof(*c));
  c->updated_at = sqlite3_column_int64(s, 3);
  if ((rc = col_text(s, 0, c->scope, sizeof(c->scope))) != STW_OK ||
      (rc = col_text(s, 1, c->name, sizeof(c->name))) != STW_OK ||
      (rc = col_text(s, 2, c->value, sizeof(c->value))) != STW_OK)
    return rc;
  return STW_OK;
}

static stw_status_t sq_context_set(void *be, const stw_context_row_t *c)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_CONTEXT_SET, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, c->scope);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, c->name);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, c->value);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, c->updated_at);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_context_get(void *be, const char *scope, const char *name, stw_context_row_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_CONTEXT_GET, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, scope);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, name);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = row_to_context(q.s, out);
  query_close(&q);
  return rc;
}

static stw_status_t sq_context_list(void *be, stw_context_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_CONTEXT_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_context_row_t c;
    if ((rc = row_to_context(q.s, &c)) == STW_OK)
      rc = cb(&c, ctx);
  }
  query_close(&q);
  return rc;
}

static stw_status_t row_to_token(sqlite3_stmt *s, stw_token_row_t *t)
{
  stw_status_t rc;
  memset(t, 0, sizeof(*t));
  t->iat = sqlite3_column_int64(s, 5);
  t->exp = sqlite3_column_int64(s, 6);
  t->revoked = sqlite3_column_int(s, 7) != 0;
  t->revoked_at = sqlite3_column_int64(s, 8);
  t->revoke_seq = (uint64_t)sqlite3_column_int64(s, 9);
  if ((rc = col_text(s, 0, t->cti, sizeof(t->cti))) != STW_OK ||
      (rc = col_text(s, 1, t->subject_id, sizeof(t->subject_id))) != STW_OK ||
      (rc = col_text(s, 2, t->audience_id, sizeof(t->audience_id))) != STW_OK ||
      (rc = col_text(s, 3, t->scope, sizeof(t->scope))) != STW_OK ||
      (rc = col_text(s, 4, t->policy_ids, sizeof(t->policy_ids))) != STW_OK ||
      (rc = col_text(s, 10, t->reason, sizeof(t->reason))) != STW_OK)
    return rc;
  return STW_OK;
}

static stw_status_t sq_token_put(void *be, const stw_token_row_t *t)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_TOKEN_PUT, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, t->cti);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, t->subject_id);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, t->audience_id);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, t->scope);
  if (rc == STW_OK) rc = bind_text(b, &q, 5, t->policy_ids);
  if (rc == STW_OK) rc = bind_int(b, &q, 6, t->iat);
  if (rc == STW_OK) rc = bind_int(b, &q, 7, t->exp);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_token_get(void *be, const char *cti, stw_token_row_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_TOKEN_GET, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, cti);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = row_to_token(q.s, out);
  query_close(&q);
  return rc;
}

static stw_status_t sq_token_list(void *be, bool live_only, bool revoked_only, int64_t now, stw_token_cb cb,
                                  void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  int qid = revoked_only ? Q_TOKEN_LIST_REVOKED : live_only ? Q_TOKEN_LIST_LIVE : Q_TOKEN_LIST_ALL;
  stw_status_t rc = query_open(b, qid, &q);
  if (rc == STW_OK)
    rc = bind_int(b, &q, 1, now);
  /* Rows are copied one at a time: a token row is big, keep it off the stack frame of callers. */
  stw_token_row_t *t = rc == STW_OK ? malloc(sizeof(*t)) : NULL;
  if (rc == STW_OK && t == NULL)
    rc = STW_ERR_NOMEM;
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    if ((rc = row_to_token(q.s, t)) == STW_OK)
      rc = cb(t, ctx);
  }
  free(t);
  query_close(&q);
  return rc;
}

static stw_status_t sq_token_revoke(void *be, const char *cti, int64_t now, const char *reason, uint64_t seq)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_TOKEN_REVOKE, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, cti);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, now);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, reason);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, (int64_t)seq);
  return query_finish(b, &q, rc, true);
}

static stw_status_t sq_revocation_seq(void *be, uint64_t *seq)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_REVOCATION_SEQ, &q);
  if (rc == STW_OK && query_row(b, &q, &rc))
    *seq = (uint64_t)sqlite3_column_int64(q.s, 0);
  query_close(&q);
  return rc;
}

static stw_status_t sq_device_by_name(void *be, const char *name, char id[STW_ID_HEX])
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_DEVICE_BY_NAME, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, name);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = col_text(q.s, 0, id, STW_ID_HEX);
  query_close(&q);
  return rc;
}

/* ==== later life (issue 6) ====================================================== */

/* ---- firmware ------------------------------------------------------------------- */

static stw_status_t row_to_firmware(sqlite3_stmt *s, stw_firmware_t *f, bool with_envelope)
{
  stw_status_t rc;
  f->id = sqlite3_column_int64(s, 0);
  f->sequence = (uint64_t)sqlite3_column_int64(s, 4);
  f->size = (uint64_t)sqlite3_column_int64(s, 6);
  f->published_at = sqlite3_column_int64(s, 8);
  if ((rc = col_text(s, 1, f->vendor, sizeof(f->vendor))) != STW_OK ||
      (rc = col_text(s, 2, f->class_id, sizeof(f->class_id))) != STW_OK ||
      (rc = col_text(s, 3, f->component, sizeof(f->component))) != STW_OK ||
      (rc = col_fixed_blob(s, 5, f->digest, sizeof(f->digest))) != STW_OK ||
      (rc = col_text(s, 7, f->uri, sizeof(f->uri))) != STW_OK)
    return rc;
  return with_envelope ? col_blob_dup(s, 9, &f->envelope, &f->envelope_len) : STW_OK;
}

static stw_status_t sq_firmware_put(void *be, stw_firmware_t *f)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_FIRMWARE_PUT, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, f->vendor);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, f->class_id);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, f->component);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, (int64_t)f->sequence);
  if (rc == STW_OK) rc = bind_blob(b, &q, 5, f->digest, sizeof(f->digest));
  if (rc == STW_OK) rc = bind_int(b, &q, 6, (int64_t)f->size);
  if (rc == STW_OK) rc = bind_text(b, &q, 7, f->uri);
  if (rc == STW_OK) rc = bind_blob(b, &q, 8, f->envelope, f->envelope_len);
  if (rc == STW_OK) rc = bind_int(b, &q, 9, f->published_at);
  if ((rc = query_finish(b, &q, rc, false)) == STW_OK)
    f->id = sqlite3_last_insert_rowid(b->db);
  return rc;
}

static stw_status_t sq_firmware_get(void *be, int64_t id, const uint8_t *digest, stw_firmware_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, digest != NULL ? Q_FIRMWARE_BY_DIGEST : Q_FIRMWARE_GET, &q);
  if (rc == STW_OK)
    rc = digest != NULL ? bind_blob(b, &q, 1, digest, 32) : bind_int(b, &q, 1, id);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = row_to_firmware(q.s, out, true);
  query_close(&q);
  return rc;
}

static stw_status_t sq_firmware_list(void *be, stw_firmware_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_FIRMWARE_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_firmware_t f;
    memset(&f, 0, sizeof(f));
    if ((rc = row_to_firmware(q.s, &f, false)) == STW_OK)
      rc = cb(&f, ctx);
  }
  query_close(&q);
  return rc;
}

static stw_status_t sq_device_fw_set(void *be, const stw_device_fw_t *f)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_DEVICE_FW_SET, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, f->device_id);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, (int64_t)f->sequence);
  if (rc == STW_OK) rc = bind_blob(b, &q, 3, f->digest, sizeof(f->digest));
  if (rc == STW_OK) rc = bind_int(b, &q, 4, f->reported_at);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_device_fw_get(void *be, const char *device_id, stw_device_fw_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_DEVICE_FW_GET, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, device_id);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK &&
      (rc = col_text(q.s, 0, out->device_id, sizeof(out->device_id))) == STW_OK &&
      (rc = col_fixed_blob(q.s, 2, out->digest, sizeof(out->digest))) == STW_OK) {
    out->sequence = (uint64_t)sqlite3_column_int64(q.s, 1);
    out->reported_at = sqlite3_column_int64(q.s, 3);
  }
  query_close(&q);
  return rc;
}

/* ---- campaigns and roll-outs --------------------------------------------------- */

static stw_status_t row_to_campaign(sqlite3_stmt *s, stw_campaign_t *c)
{
  int state = sqlite3_column_int(s, 6);
  memset(c, 0, sizeof(*c));
  if (state < STW_CAMPAIGN_RUNNING || state > STW_CAMPAIGN_DONE)
    return STW_ERR_STORE;
  c->id = sqlite3_column_int64(s, 0);
  c->firmware_id = sqlite3_column_int64(s, 1);
  c->canary_percent = (unsigned)sqlite3_column_int(s, 3);
  c->max_failure_percent = (unsigned)sqlite3_column_int(s, 4);
  c->stage = (unsigned)sqlite3_column_int(s, 5);
  c->state = (stw_campaign_state_t)state;
  c->created_at = sqlite3_column_int64(s, 8);
  c->updated_at = sqlite3_column_int64(s, 9);
  stw_status_t rc = col_text(s, 2, c->target, sizeof(c->target));
  if (rc == STW_OK)
    rc = col_text(s, 7, c->reason, sizeof(c->reason));
  return rc;
}

static stw_status_t sq_campaign_add(void *be, stw_campaign_t *c)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_CAMPAIGN_ADD, &q);
  if (rc == STW_OK) rc = bind_int(b, &q, 1, c->firmware_id);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, c->target);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, c->canary_percent);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, c->max_failure_percent);
  if (rc == STW_OK) rc = bind_int(b, &q, 5, c->stage);
  if (rc == STW_OK) rc = bind_int(b, &q, 6, c->state);
  if (rc == STW_OK) rc = bind_text(b, &q, 7, c->reason);
  if (rc == STW_OK) rc = bind_int(b, &q, 8, c->created_at);
  if (rc == STW_OK) rc = bind_int(b, &q, 9, c->updated_at);
  if ((rc = query_finish(b, &q, rc, false)) == STW_OK)
    c->id = sqlite3_last_insert_rowid(b->db);
  return rc;
}

static stw_status_t sq_campaign_get(void *be, int64_t id, stw_campaign_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_CAMPAIGN_GET, &q);
  if (rc == STW_OK)
    rc = bind_int(b, &q, 1, id);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = row_to_campaign(q.s, out);
  query_close(&q);
  return rc;
}

static stw_status_t sq_campaign_update(void *be, const stw_campaign_t *c)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_CAMPAIGN_UPDATE, &q);
  if (rc == STW_OK) rc = bind_int(b, &q, 1, c->id);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, c->stage);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, c->state);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, c->reason);
  if (rc == STW_OK) rc = bind_int(b, &q, 5, c->updated_at);
  return query_finish(b, &q, rc, true);
}

static stw_status_t sq_campaign_list(void *be, stw_campaign_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_CAMPAIGN_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_campaign_t c;
    if ((rc = row_to_campaign(q.s, &c)) == STW_OK)
      rc = cb(&c, ctx);
  }
  query_close(&q);
  return rc;
}

static stw_status_t row_to_rollout(sqlite3_stmt *s, stw_rollout_t *r)
{
  int status = sqlite3_column_int(s, 3);
  memset(r, 0, sizeof(*r));
  if (status < 0 || status >= STW_ROLLOUT_COUNT)
    return STW_ERR_STORE;
  r->campaign_id = sqlite3_column_int64(s, 0);
  r->stage = (unsigned)sqlite3_column_int(s, 2);
  r->status = (stw_rollout_status_t)status;
  r->updated_at = sqlite3_column_int64(s, 5);
  stw_status_t rc = col_text(s, 1, r->device_id, sizeof(r->device_id));
  if (rc == STW_OK)
    rc = col_text(s, 4, r->detail, sizeof(r->detail));
  return rc;
}

static stw_status_t sq_rollout_put(void *be, const stw_rollout_t *r)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ROLLOUT_PUT, &q);
  if (rc == STW_OK) rc = bind_int(b, &q, 1, r->campaign_id);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, r->device_id);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, r->stage);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, r->status);
  if (rc == STW_OK) rc = bind_text(b, &q, 5, r->detail);
  if (rc == STW_OK) rc = bind_int(b, &q, 6, r->updated_at);
  return query_finish(b, &q, rc, false);
}

/* One rollout row from a query whose ?1 (and ?2) are bound by the caller. */
static stw_status_t rollout_one(sqlite_be_t *b, query_t *q, stw_status_t rc, stw_rollout_t *out)
{
  if (rc == STW_OK && (rc = query_one(b, q, STW_ERR_NOT_FOUND)) == STW_OK)
    rc = row_to_rollout(q->s, out);
  query_close(q);
  return rc;
}

static stw_status_t sq_rollout_get(void *be, int64_t campaign_id, const char *device_id, stw_rollout_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ROLLOUT_GET, &q);
  if (rc == STW_OK && (rc = bind_int(b, &q, 1, campaign_id)) == STW_OK)
    rc = bind_text(b, &q, 2, device_id);
  return rollout_one(b, &q, rc, out);
}

static stw_status_t sq_rollout_offered(void *be, const char *device_id, stw_rollout_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ROLLOUT_OFFERED, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, device_id);
  return rollout_one(b, &q, rc, out);
}

static stw_status_t sq_rollout_list(void *be, int64_t campaign_id, stw_rollout_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ROLLOUT_LIST, &q);
  if (rc == STW_OK)
    rc = bind_int(b, &q, 1, campaign_id);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_rollout_t r;
    if ((rc = row_to_rollout(q.s, &r)) == STW_OK)
      rc = cb(&r, ctx);
  }
  query_close(&q);
  return rc;
}

static stw_status_t sq_rollout_counts(void *be, int64_t campaign_id, int stage, uint64_t counts[STW_ROLLOUT_COUNT])
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ROLLOUT_COUNTS, &q);
  if (rc == STW_OK && (rc = bind_int(b, &q, 1, campaign_id)) == STW_OK)
    rc = bind_int(b, &q, 2, stage);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    int status = sqlite3_column_int(q.s, 0);
    if (status < 0 || status >= STW_ROLLOUT_COUNT) {
      rc = STW_ERR_STORE;
      break;
    }
    counts[status] = (uint64_t)sqlite3_column_int64(q.s, 1);
  }
  query_close(&q);
  return rc;
}

/* ---- attestation ------------------------------------------------------------------ */

static stw_status_t sq_nonce_put(void *be, const char *device_id, const uint8_t *nonce, size_t len,
                                 int64_t expires_at, int64_t now)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  /* Challenges nobody answered would pile up: forget the stale ones here. */
  stw_status_t rc = query_open(b, Q_NONCE_PURGE, &q);
  if (rc == STW_OK)
    rc = bind_int(b, &q, 1, now);
  if ((rc = query_finish(b, &q, rc, false)) != STW_OK)
    return rc;
  rc = query_open(b, Q_NONCE_PUT, &q);
  if (rc == STW_OK) rc = bind_blob(b, &q, 1, nonce, len);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, device_id);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, expires_at);
  return query_finish(b, &q, rc, false);
}

static stw_status_t sq_nonce_take(void *be, const char *device_id, const uint8_t *nonce, size_t len, int64_t now)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  char owner[STW_ID_HEX];
  int64_t expires_at = 0;
  stw_status_t rc = query_open(b, Q_NONCE_GET, &q);
  if (rc == STW_OK)
    rc = bind_blob(b, &q, 1, nonce, len);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_REPLAY)) == STW_OK) {
    /* An over-long id in the row cannot be ours: a replay all the same. */
    if (col_text(q.s, 0, owner, sizeof(owner)) != STW_OK)
      rc = STW_ERR_REPLAY;
    expires_at = sqlite3_column_int64(q.s, 1);
  }
  query_close(&q);
  if (rc != STW_OK)
    return rc;
  /* Another device's challenge stays for that device: refusing must not let
   * one device spend another's. */
  if (strcmp(owner, device_id) != 0)
    return STW_ERR_REPLAY;
  rc = query_open(b, Q_NONCE_DELETE, &q);
  if (rc == STW_OK)
    rc = bind_blob(b, &q, 1, nonce, len);
  if ((rc = query_finish(b, &q, rc, true)) != STW_OK)
    return rc;
  return expires_at <= now ? STW_ERR_EXPIRED : STW_OK;
}

static stw_status_t sq_attest_put(void *be, stw_attest_row_t *a)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ATTEST_PUT, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, a->device_id);
  if (rc == STW_OK) rc = bind_int(b, &q, 2, a->at);
  if (rc == STW_OK) rc = bind_int(b, &q, 3, a->verdict);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, a->trigger);
  if (rc == STW_OK) rc = bind_text(b, &q, 5, a->reasons);
  if (rc == STW_OK) rc = bind_blob(b, &q, 6, a->image_digest, sizeof(a->image_digest));
  if (rc == STW_OK) rc = bind_int(b, &q, 7, (int64_t)a->boot_count);
  if ((rc = query_finish(b, &q, rc, false)) == STW_OK)
    a->id = sqlite3_last_insert_rowid(b->db);
  return rc;
}

static stw_status_t row_to_attest(sqlite3_stmt *s, stw_attest_row_t *a)
{
  stw_status_t rc;
  memset(a, 0, sizeof(*a));
  a->id = sqlite3_column_int64(s, 0);
  a->at = sqlite3_column_int64(s, 2);
  a->verdict = (stw_ear_t)sqlite3_column_int(s, 3);
  a->boot_count = (uint64_t)sqlite3_column_int64(s, 7);
  if ((rc = col_text(s, 1, a->device_id, sizeof(a->device_id))) != STW_OK ||
      (rc = col_text(s, 4, a->trigger, sizeof(a->trigger))) != STW_OK ||
      (rc = col_text(s, 5, a->reasons, sizeof(a->reasons))) != STW_OK)
    return rc;
  return col_fixed_blob(s, 6, a->image_digest, sizeof(a->image_digest));
}

static stw_status_t sq_attest_list(void *be, const char *device_id, uint64_t limit, stw_attest_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ATTEST_LIST, &q);
  if (rc == STW_OK && (rc = bind_text(b, &q, 1, device_id)) == STW_OK)
    rc = bind_int(b, &q, 2, limit == 0 ? -1 : (int64_t)limit);  /* LIMIT -1: no limit */
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_attest_row_t a;
    if ((rc = row_to_attest(q.s, &a)) == STW_OK)
      rc = cb(&a, ctx);
  }
  query_close(&q);
  return rc;
}

/* ---- certificate revocation ---------------------------------------------------------- */

static stw_status_t sq_serial_revoke_device(void *be, const char *device_id, int64_t now, uint64_t *count)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  int changes = 0;
  stw_status_t rc = query_open(b, Q_SERIAL_REVOKE_DEVICE, &q);
  if (rc == STW_OK && (rc = bind_text(b, &q, 1, device_id)) == STW_OK)
    rc = bind_int(b, &q, 2, now);
  if (rc == STW_OK)
    rc = query_exec(b, &q, &changes);
  query_close(&q);
  if (rc == STW_OK)
    *count = (uint64_t)changes;
  return rc;
}

static stw_status_t sq_serial_is_revoked(void *be, const char *serial_hex, bool *revoked)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_SERIAL_IS_REVOKED, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, serial_hex);
  if (rc == STW_OK) {
    rc = query_one(b, &q, STW_ERR_NOT_FOUND);
    if (rc == STW_OK)
      *revoked = sqlite3_column_int64(q.s, 0) > 0;
    else if (rc == STW_ERR_NOT_FOUND)
      rc = STW_OK;  /* never issued here: nothing to revoke */
  }
  query_close(&q);
  return rc;
}

static stw_status_t sq_serial_revoked_list(void *be, stw_serial_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_SERIAL_REVOKED_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    char serial[STW_SERIAL_HEX_MAX + 1];
    char device_id[STW_ID_HEX];
    if ((rc = col_text(q.s, 0, serial, sizeof(serial))) == STW_OK &&
        (rc = col_text(q.s, 1, device_id, sizeof(device_id))) == STW_OK)
      rc = cb(serial, device_id, sqlite3_column_int64(q.s, 2), sqlite3_column_int64(q.s, 3), ctx);
  }
  query_close(&q);
  return rc;
}

/* ---- erasure -------------------------------------------------------------------------- */

/* Run a DELETE bound to one text key; *count += rows it removed. */
static stw_status_t erase_rows(sqlite_be_t *b, int qid, const char *key, uint64_t *count)
{
  query_t q = { 0 };
  int changes = 0;
  stw_status_t rc = query_open(b, qid, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, key);
  if (rc == STW_OK)
    rc = query_exec(b, &q, &changes);
  query_close(&q);
  if (rc == STW_OK)
    *count += (uint64_t)changes;
  return rc;
}

/* Whether a live device other than device_id carries attribute name=value. */
static stw_status_t attr_shared(sqlite_be_t *b, const char *name, const char *value, const char *device_id,
                                bool *shared)
{
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_ERASE_SHARED, &q);
  if (rc == STW_OK) rc = bind_text(b, &q, 1, name);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, value);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, device_id);
  if (rc == STW_OK) rc = bind_int(b, &q, 4, STW_STATE_DECOMMISSIONED);
  if (rc == STW_OK && (rc = query_one(b, &q, STW_ERR_STORE)) == STW_OK)
    *shared = sqlite3_column_int64(q.s, 0) > 0;
  query_close(&q);
  return rc;
}

#define ERASE_SCOPES 3  /* device:<id>, owner:<o>, place:<p> */

static stw_status_t sq_device_erase(void *be, const char *device_id, stw_erasure_t *out)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  char scopes[ERASE_SCOPES][STW_TEXT_MAX];
  size_t n_scopes = 0;
  stw_status_t rc;

  /* The scopes are named the way the context manager names them
   * (server/authz/authz_coap.c: "owner:%.56s"), read before the attributes go. */
  snprintf(scopes[n_scopes++], STW_TEXT_MAX, "device:%s", device_id);
  rc = query_open(b, Q_ERASE_OWNER_OF, &q);
  if (rc == STW_OK)
    rc = bind_text(b, &q, 1, device_id);
  while (rc == STW_OK && n_scopes < ERASE_SCOPES && query_row(b, &q, &rc)) {
    const char *name = (const char *)sqlite3_column_text(q.s, 0);
    char value[STW_RD_VALUE_MAX];
    if (name == NULL || (rc = col_text(q.s, 1, value, sizeof(value))) != STW_OK)
      break;
    if (value[0] != '\0')
      snprintf(scopes[n_scopes++], STW_TEXT_MAX, "%s:%.56s", name, value);
  }
  query_close(&q);
  if (rc != STW_OK)
    return rc;
  for (size_t i = 1; i < n_scopes; i++) {
    /* scopes[i] is "<name>:<value>": ask whether another live device has it. */
    char name[STW_TEXT_MAX];
    const char *colon = strchr(scopes[i], ':');
    size_t nlen = (size_t)(colon - scopes[i]);
    bool shared = true;
    memcpy(name, scopes[i], nlen);
    name[nlen] = '\0';
    if ((rc = attr_shared(b, name, colon + 1, device_id, &shared)) != STW_OK)
      return rc;
    if (shared)
      scopes[i][0] = '\0';
  }
  for (size_t i = 0; rc == STW_OK && i < n_scopes; i++)
    if (scopes[i][0] != '\0')
      rc = erase_rows(b, Q_ERASE_CONTEXT, scopes[i], &out->context);
  if (rc == STW_OK) rc = erase_rows(b, Q_ERASE_ATTRS, device_id, &out->attributes);
  if (rc == STW_OK) rc = erase_rows(b, Q_ERASE_VOUCHER, device_id, &out->vouchers);
  if (rc == STW_OK) rc = erase_rows(b, Q_ERASE_PSKS, device_id, &out->psks);
  if (rc == STW_OK) rc = erase_rows(b, Q_ERASE_ATTESTS, device_id, &out->attestations);
  if (rc == STW_OK) rc = erase_rows(b, Q_ERASE_NONCES, device_id, &out->nonces);
  return rc;
}

/* ---- vulnerability reports ------------------------------------------------------------------ */

static stw_status_t sq_vuln_add(void *be, stw_vuln_t *v)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_VULN_ADD, &q);
  if (rc == STW_OK) rc = bind_int(b, &q, 1, v->received_at);
  if (rc == STW_OK) rc = bind_text(b, &q, 2, v->contact);
  if (rc == STW_OK) rc = bind_text(b, &q, 3, v->summary);
  if (rc == STW_OK) rc = bind_text(b, &q, 4, v->detail != NULL ? v->detail : "");
  if (rc == STW_OK) rc = bind_text(b, &q, 5, v->status);
  if ((rc = query_finish(b, &q, rc, false)) == STW_OK)
    v->id = sqlite3_last_insert_rowid(b->db);
  return rc;
}

static stw_status_t sq_vuln_set_status(void *be, int64_t id, const char *status)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_VULN_SET_STATUS, &q);
  if (rc == STW_OK && (rc = bind_int(b, &q, 1, id)) == STW_OK)
    rc = bind_text(b, &q, 2, status);
  return query_finish(b, &q, rc, true);
}

static stw_status_t sq_vuln_list(void *be, stw_vuln_cb cb, void *ctx)
{
  sqlite_be_t *b = be;
  query_t q = { 0 };
  stw_status_t rc = query_open(b, Q_VULN_LIST, &q);
  while (rc == STW_OK && query_row(b, &q, &rc)) {
    stw_vuln_t v;
    memset(&v, 0, sizeof(v));
    v.id = sqlite3_column_int64(q.s, 0);
    v.received_at = sqlite3_column_int64(q.s, 1);
    const unsigned char *detail = sqlite3_column_text(q.s, 4);
    int n = sqlite3_column_bytes(q.s, 4);
    if (n < 0 || (size_t)n > STW_VULN_TEXT_MAX || (detail != NULL && memchr(detail, '\0', (size_t)n) != NULL)) {
      rc = STW_ERR_STORE;
      break;
    }
    if ((v.detail = malloc((size_t)n + 1)) == NULL) {
      rc = STW_ERR_NOMEM;
      break;
    }
    if (n > 0)
      memcpy(v.detail, detail, (size_t)n);
    v.detail[n] = '\0';
    if ((rc = col_text(q.s, 2, v.contact, sizeof(v.contact))) == STW_OK &&
        (rc = col_text(q.s, 3, v.summary, sizeof(v.summary))) == STW_OK &&
        (rc = col_text(q.s, 5, v.status, sizeof(v.status))) == STW_OK)
      rc = cb(&v, ctx);
    stw_vuln_clear(&v);
  }
  query_close(&q);
  return rc;
}

const stw_store_ops_t stw__sqlite_ops = {
  .name = "sqlite",
  .close = sq_close,
  .schema_version = sq_schema_version,
  .in_tx = sq_in_tx,
  .begin = sq_begin,
  .commit = sq_commit,
  .rollback = sq_rollback,
  .savepoint = sq_savepoint,
  .release = sq_release,
  .rollback_to = sq_rollback_to,
  .trust_add = sq_trust_add,
  .trust_list = sq_trust_list,
  .trust_remove = sq_trust_remove,
  .rule_add = sq_rule_add,
  .rule_list = sq_rule_list,
  .rule_remove = sq_rule_remove,
  .voucher_put = sq_voucher_put,
  .voucher_get = sq_voucher_get,
  .voucher_delete = sq_voucher_delete,
  .device_get = sq_device_get,
  .device_put = sq_device_put,
  .device_list = sq_device_list,
  .device_count = sq_device_count,
  .serial_claim = sq_serial_claim,
  .serial_count = sq_serial_count,
  .psk_put = sq_psk_put,
  .psk_get = sq_psk_get,
  .psk_set_active = sq_psk_set_active,
  .audit_last = sq_audit_last,
  .audit_insert = sq_audit_insert,
  .audit_list = sq_audit_list,
  .rd_put = sq_rd_put,
  .rd_touch = sq_rd_touch,
  .rd_get = sq_rd_get,
  .rd_delete = sq_rd_delete,
  .rd_expire = sq_rd_expire,
  .rd_count = sq_rd_count,
  .rd_scan_eps = sq_rd_scan_eps,
  .rd_scan_res = sq_rd_scan_res,
  .attr_set = sq_attr_set,
  .attr_delete = sq_attr_delete,
  .attr_list = sq_attr_list,
  .device_by_name = sq_device_by_name,
  .policy_add = sq_policy_add,
  .policy_list = sq_policy_list,
  .policy_remove = sq_policy_remove,
  .context_set = sq_context_set,
  .context_get = sq_context_get,
  .context_list = sq_context_list,
  .token_put = sq_token_put,
  .token_get = sq_token_get,
  .token_list = sq_token_list,
  .token_revoke = sq_token_revoke,
  .revocation_seq = sq_revocation_seq,
  .firmware_put = sq_firmware_put,
  .firmware_get = sq_firmware_get,
  .firmware_list = sq_firmware_list,
  .device_fw_set = sq_device_fw_set,
  .device_fw_get = sq_device_fw_get,
  .campaign_add = sq_campaign_add,
  .campaign_get = sq_campaign_get,
  .campaign_update = sq_campaign_update,
  .campaign_list = sq_campaign_list,
  .rollout_put = sq_rollout_put,
  .rollout_get = sq_rollout_get,
  .rollout_offered = sq_rollout_offered,
  .rollout_list = sq_rollout_list,
  .rollout_counts = sq_rollout_counts,
  .nonce_put = sq_nonce_put,
  .nonce_take = sq_nonce_take,
  .attest_put = sq_attest_put,
  .attest_list = sq_attest_list,
  .serial_revoke_device = sq_serial_revoke_device,
  .serial_is_revoked = sq_serial_is_revoked,
  .serial_revoked_list = sq_serial_revoked_list,
  .device_erase = sq_device_erase,
  .vuln_add = sq_vuln_add,
  .vuln_set_status = sq_vuln_set_status,
  .vuln_list = sq_vuln_list,
};
