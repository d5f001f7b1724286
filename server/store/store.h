/* The store: everything the daemon remembers, behind one backend-neutral
 * interface. SQLite (sqlite.c) is the default; PostgreSQL (postgres.c) fits
 * behind the same functions. Parts of the daemon meet here and nowhere else.
 *
 * Transactions: every function below runs in its own transaction unless the
 * caller opened one with stw_store_begin(); then it joins it. A failed function
 * inside a caller's transaction leaves that transaction for the caller to roll
 * back (or to roll back to a savepoint).
 *
 * Memory: records with pointers (stw_device_t.ldevid, ...) are filled with
 * malloc'd copies; release them with the matching *_clear() function. */
#ifndef STW_SERVER_STORE_H
#define STW_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/status.h"
#include "lifecycle/lifecycle.h"

typedef struct stw_store stw_store_t;

#define STW_ID_HEX 33            /* device id, 32 hex + NUL */
#define STW_TEXT_MAX 64          /* names, models, manufacturers */
#define STW_REASON_MAX 256       /* audit reasons */

/** Open a store. url: "sqlite:<path>" or a plain path (SQLite, created with the
 *  current schema if new, migrated if older); "postgres:<conninfo>" later.
 *  Opening applies pending migrations in one transaction. */
stw_status_t stw_store_open(const char *url, stw_store_t **out) __attribute__((warn_unused_result));
void stw_store_close(stw_store_t *st);
/** Schema version of the open store. */
int stw_store_schema_version(stw_store_t *st);

/* ---- transactions ---------------------------------------------------- */
stw_status_t stw_store_begin(stw_store_t *st);
stw_status_t stw_store_commit(stw_store_t *st);
void stw_store_rollback(stw_store_t *st);
/** Savepoints inside an open transaction, so one failed job of a batch does not
 *  undo the others. name: [a-z_0-9]+ */
stw_status_t stw_store_savepoint(stw_store_t *st, const char *name);
stw_status_t stw_store_release(stw_store_t *st, const char *name);
void stw_store_rollback_to(stw_store_t *st, const char *name);

/* ---- trusted manufacturers -------------------------------------------- */
typedef struct {
  int64_t id;
  char name[STW_TEXT_MAX];       /**< the CA's subject O or CN */
  uint8_t fingerprint[32];       /**< SHA-256 of the DER certificate */
  uint8_t *cert_der;             /**< owned */
  size_t cert_len;
} stw_trust_t;
void stw_trust_clear(stw_trust_t *t);
/** Add a manufacturer CA (DER). STW_ERR_EXISTS if the same certificate is there. */
stw_status_t stw_store_trust_add(stw_store_t *st, const char *name, const uint8_t *der, size_t len);
typedef stw_status_t (*stw_trust_cb)(const stw_trust_t *t, void *ctx);
stw_status_t stw_store_trust_list(stw_store_t *st, stw_trust_cb cb, void *ctx);
stw_status_t stw_store_trust_remove(stw_store_t *st, int64_t id);

/* ---- enrollment policy ------------------------------------------------- */
typedef enum { STW_RULE_DEVICE = 0, STW_RULE_GROUP = 1 } stw_rule_kind_t;
typedef struct {
  int64_t id;
  stw_rule_kind_t kind;
  char device_id[STW_ID_HEX];      /**< STW_RULE_DEVICE: allow exactly this device */
  char model[STW_TEXT_MAX];        /**< STW_RULE_GROUP: "" matches any model */
  char manufacturer[STW_TEXT_MAX]; /**< STW_RULE_GROUP: "" matches any manufacturer */
  char name_prefix[STW_TEXT_MAX];  /**< assigned names are <prefix><first 8 hex of id>; "" → model + "-" */
} stw_rule_t;
stw_status_t stw_store_rule_add(stw_store_t *st, stw_rule_t *rule /* id set on return */);
typedef stw_status_t (*stw_rule_cb)(const stw_rule_t *r, void *ctx);
stw_status_t stw_store_rule_list(stw_store_t *st, stw_rule_cb cb, void *ctx);
stw_status_t stw_store_rule_remove(stw_store_t *st, int64_t id);

/* ---- vouchers (imported by the owner, handed to devices) --------------- */
/** Store the voucher for a device (replaces an older one for the same device). */
stw_status_t stw_store_voucher_put(stw_store_t *st, const char *device_id, const uint8_t *voucher, size_t len);
/** *out is malloc'd; caller frees. STW_ERR_NOT_FOUND if none. */
stw_status_t stw_store_voucher_get(stw_store_t *st, const char *device_id, uint8_t **out, size_t *len);
stw_status_t stw_store_voucher_delete(stw_store_t *st, const char *device_id);

/* ---- devices ------------------------------------------------------------ */
typedef enum { STW_CRED_X509 = 0, STW_CRED_PSK = 1 } stw_cred_kind_t;
typedef struct {
  char id[STW_ID_HEX];
  char name[STW_TEXT_MAX];
  char model[STW_TEXT_MAX];
  char manufacturer[STW_TEXT_MAX];
  stw_state_t state;
  stw_cred_kind_t cred_kind;
  int64_t created_at;
  int64_t updated_at;
  uint8_t *ldevid;                 /**< current operational certificate, DER; owned; NULL for PSK */
  size_t ldevid_len;
  char ldevid_serial[41];          /**< hex */
  int64_t ldevid_not_after;
  uint8_t csr_digest[32];          /**< SHA-256 of the CSR that produced ldevid (idempotent retries) */
  char psk_identity[STW_TEXT_MAX]; /**< operational PSK identity (PSK devices) */
  uint32_t generation;             /**< bumped by each re-imprint (ownership transfer) */
} stw_device_t;
void stw_device_clear(stw_device_t *d);
/** STW_ERR_NOT_FOUND if absent. */
stw_status_t stw_store_device_get(stw_store_t *st, const char *id, stw_device_t *out);
/** Insert or replace the whole row. */
stw_status_t stw_store_device_put(stw_store_t *st, const stw_device_t *d);
/** The id of the device assigned name (indexed). STW_ERR_NOT_FOUND if none. */
stw_status_t stw_store_device_find_by_name(stw_store_t *st, const char *name, char id[STW_ID_HEX]);
typedef stw_status_t (*stw_device_cb)(const stw_device_t *d, void *ctx);
/** Devices ordered by id; state < 0 lists all states. */
stw_status_t stw_store_device_list(stw_store_t *st, int state, stw_device_cb cb, void *ctx);
stw_status_t stw_store_device_count(stw_store_t *st, int state, uint64_t *count);

/* ---- certificate serials: each used once, ever ------------------------- */
/** Record that serial_hex was issued to device_id. STW_ERR_EXISTS if the serial
 *  was ever issued before (the unique constraint is the guarantee). */
stw_status_t stw_store_serial_claim(stw_store_t *st, const char *serial_hex, const char *device_id, int64_t not_after);
stw_status_t stw_store_serial_count(stw_store_t *st, uint64_t *count);

/* ---- pre-shared keys ----------------------------------------------------- */
typedef enum { STW_PSK_BOOTSTRAP = 0, STW_PSK_OPERATIONAL = 1 } stw_psk_kind_t;
typedef struct {
  char identity[STW_TEXT_MAX];
  char device_id[STW_ID_HEX];
  stw_psk_kind_t kind;
  bool active;                     /**< a retired bootstrap PSK stays, inactive, to name the reuse */
  uint8_t key[32];
  size_t key_len;
} stw_psk_t;
/** Insert or replace by identity. The key is a secret: the backend keeps it in
 *  a table no listing exposes. */
stw_status_t stw_store_psk_put(stw_store_t *st, const stw_psk_t *p);
stw_status_t stw_store_psk_get(stw_store_t *st, const char *identity, stw_psk_t *out);
stw_status_t stw_store_psk_set_active(stw_store_t *st, const char *identity, bool active);

/* ---- audit log: append-only, hash-chained ------------------------------- */
typedef struct {
  uint64_t seq;                    /**< 1, 2, ... assigned by the store */
  int64_t at;                      /**< seconds since the epoch */
  char actor[STW_TEXT_MAX];        /**< "device:<id>", "admin", "daemon" */
  char action[STW_TEXT_MAX];       /**< "enroll", "refuse.enroll", "transition", ... */
  char subject[STW_TEXT_MAX];      /**< usually a device id */
  char outcome[STW_TEXT_MAX];      /**< "ok", or a short refusal code ("untrusted-manufacturer") */
  char detail[STW_REASON_MAX];     /**< free text, never a secret or personal datum */
  uint8_t prev_hash[32];
  uint8_t hash[32];                /**< SHA-256(prev_hash || canonical encoding of the fields above) */
} stw_audit_t;
/** Append one record; the store assigns seq, at (if 0), prev_hash and hash.
 *  Always joins the caller's transaction when one is open: a state change and
 *  its audit record commit together or not at all. */
stw_status_t stw_store_audit_append(stw_store_t *st, stw_audit_t *rec);
typedef stw_status_t (*stw_audit_cb)(const stw_audit_t *a, void *ctx);
/** The same from plain strings (cut to their field sizes): one call for the
 *  common case. An empty actor is recorded as "anonymous". */
stw_status_t stw_store_audit_event(stw_store_t *st, const char *actor, const char *action, const char *subject,
                                   const char *outcome, const char *detail);
/** Records with seq > after, in order, at most limit (0: no limit). */
stw_status_t stw_store_audit_list(stw_store_t *st, uint64_t after, uint64_t limit, stw_audit_cb cb, void *ctx);
/** Recompute the chain. STW_OK, or STW_ERR_TAMPERED with *bad_seq the first
 *  record whose hash or link does not match. *count: records checked. */
stw_status_t stw_store_audit_verify(stw_store_t *st, uint64_t *count, uint64_t *bad_seq);
/** The hash of a record as the chain defines it (exported for tests and tools). */
void stw_audit_compute_hash(const stw_audit_t *rec, uint8_t out[32]);

/* ---- the one place lifecycle transitions happen ------------------------- */
/** Load the device, ask stw_lifecycle_next(), write the new state and an audit
 *  record ("transition", "<from>-><to>"), all in one transaction (the caller's
 *  if open). STW_ERR_STATE (and nothing written) if the move is not allowed. */
stw_status_t stw_store_transition(stw_store_t *st, const char *device_id, stw_event_t ev,
                                  const char *actor, const char *detail, stw_state_t *new_state);

/* ---- resource directory (RFC 9176) ---------------------------------------- */
#define STW_RD_ID_MAX 24           /* location id: /rd/<id> */
#define STW_RD_VALUE_MAX 256       /* base, hrefs, attribute values, visibility rules */
#define STW_RD_LINK_MAX 1024       /* one link, serialized */
#define STW_RD_LINKS_MAX 4096      /* one registration's links, serialized */
#define STW_RD_ATTRS_MAX 32        /* indexed attribute values per resource */

/** One registration. links is the canonical link-format of all its resources. */
typedef struct {
  char id[STW_RD_ID_MAX];
  char device_id[STW_ID_HEX];
  char ep[STW_TEXT_MAX];
  char d[STW_TEXT_MAX];
  char base[STW_RD_VALUE_MAX];
  char et[STW_TEXT_MAX];
  uint32_t lt;                     /**< seconds */
  int64_t expires_at;
  int64_t updated_at;
  char vis[STW_RD_VALUE_MAX];      /**< who may discover it (docs/discovery.md) */
  char dattr[STW_RD_VALUE_MAX];    /**< attribute names the device lets others discover, space-separated */
  char *links;                     /**< owned (malloc), NUL-terminated; NULL in scan callbacks */
  size_t links_len;
} stw_rd_reg_t;
void stw_rd_reg_clear(stw_rd_reg_t *r);

/** One resource of a registration, as the RD indexes it. */
typedef struct {
  char href[STW_RD_VALUE_MAX];
  char link[STW_RD_LINK_MAX];      /**< this link alone, serialized */
  char vis[STW_RD_VALUE_MAX];      /**< the link's own visibility rule, "" = the registration's */
  size_t n_attrs;
  struct {
    char name[STW_TEXT_MAX];
    char value[STW_RD_VALUE_MAX];  /**< one value (an rt list gives one row per element) */
  } attrs[STW_RD_ATTRS_MAX];
} stw_rd_res_t;

/** Insert or replace a registration with all its resources (by id; a device
 *  has at most one registration, and an ep belongs to one device: a second
 *  device with the same ep gets STW_ERR_EXISTS). */
stw_status_t stw_store_rd_put(stw_store_t *st, const stw_rd_reg_t *reg, const stw_rd_res_t *res, size_t n_res);
/** Refresh a registration's lifetime (update without payload). */
stw_status_t stw_store_rd_touch(stw_store_t *st, const char *id, uint32_t lt, int64_t expires_at, int64_t now);
stw_status_t stw_store_rd_get(stw_store_t *st, const char *id, stw_rd_reg_t *out);
stw_status_t stw_store_rd_get_by_device(stw_store_t *st, const char *device_id, stw_rd_reg_t *out);
stw_status_t stw_store_rd_delete(stw_store_t *st, const char *id);
/** Remove every registration that expired at or before now; *removed counts them. */
stw_status_t stw_store_rd_expire(stw_store_t *st, int64_t now, uint64_t *removed);
stw_status_t stw_store_rd_count(stw_store_t *st, uint64_t *count);

/** What a scan may push down to an index; everything else the RD filters
 *  itself. A string ending in '*' is a prefix. NULL: no condition. */
typedef struct {
  int64_t now;                     /**< only registrations with expires_at > now */
  const char *ep;
  const char *d;
  const char *attr_name;           /**< resource scans: one indexed attribute ... */
  const char *attr_value;          /**< ... and its value or prefix */
} stw_rd_scan_t;
/** Registrations in ep order (links NULL). Stop early with a non-OK status. */
typedef stw_status_t (*stw_rd_reg_cb)(const stw_rd_reg_t *reg, void *ctx);
stw_status_t stw_store_rd_scan_eps(stw_store_t *st, const stw_rd_scan_t *f, stw_rd_reg_cb cb, void *ctx);
/** Resources in (ep, position) order with their registration (links NULL). */
typedef stw_status_t (*stw_rd_res_cb)(const stw_rd_reg_t *reg, const char *link, const char *vis, void *ctx);
stw_status_t stw_store_rd_scan_res(stw_store_t *st, const stw_rd_scan_t *f, stw_rd_res_cb cb, void *ctx);

/* ---- device attributes (who a device is, for discovery and policy) -------- */
typedef struct {
  char name[STW_TEXT_MAX];         /**< "role", "owner", "group", "location", "model", ... */
  char value[STW_RD_VALUE_MAX];
  char authority[STW_TEXT_MAX];    /**< who attests it: the manufacturer or the owner domain */
} stw_attr_row_t;
/** Set (insert or replace) one attribute of a device. */
stw_status_t stw_store_attr_set(stw_store_t *st, const char *device_id, const stw_attr_row_t *a);
stw_status_t stw_store_attr_delete(stw_store_t *st, const char *device_id, const char *name);
typedef stw_status_t (*stw_attr_cb)(const stw_attr_row_t *a, void *ctx);
/** A device's attributes in name order. */
stw_status_t stw_store_attr_list(stw_store_t *st, const char *device_id, stw_attr_cb cb, void *ctx);

/* ---- authorization (DCapBAC): policies, context, issued tokens ------------ */
#define STW_POLICY_PART_MAX 512    /* subject, target, path, conditions of a policy (canonical text) */
#define STW_TOKEN_SCOPE_MAX 4096   /* a token's scope as text: "/p GET,PUT;/q GET" */
#define STW_CTI_HEX 33             /* token id, 16 bytes as 32 hex + NUL */

typedef enum { STW_EFFECT_PERMIT = 0, STW_EFFECT_DENY = 1 } stw_effect_t;

/** One policy rule, in the parts server/authz/policy.c writes and reads back. */
typedef struct {
  int64_t id;                             /**< assigned by the store; never reused */
  char name[STW_TEXT_MAX];                /**< optional label, "" for none */
  stw_effect_t effect;
  char subject[STW_POLICY_PART_MAX];      /**< "*" or "role=utility,owner=alice" */
  char target[STW_POLICY_PART_MAX];       /**< "*", a name pattern "meter-*", or "[model=meter]" */
  char path[STW_POLICY_PART_MAX];         /**< "/consumption", "/config/" "*" */
  unsigned methods;                       /**< STW_AIF_* bits */
  char conditions[STW_POLICY_PART_MAX];   /**< "home.occupied==false and time 08:00-17:00", "" for none */
  int64_t created_at;
} stw_policy_row_t;
/** Add a policy; sets p->id (and created_at if 0). */
stw_status_t stw_store_policy_add(stw_store_t *st, stw_policy_row_t *p);
stw_status_t stw_store_policy_get(stw_store_t *st, int64_t id, stw_policy_row_t *out);
typedef stw_status_t (*stw_policy_cb)(const stw_policy_row_t *p, void *ctx);
/** Policies in id order. */
stw_status_t stw_store_policy_list(stw_store_t *st, stw_policy_cb cb, void *ctx);
/** STW_ERR_NOT_FOUND if absent. */
stw_status_t stw_store_policy_remove(stw_store_t *st, int64_t id);

/** A context attribute: scope "" (the whole domain), "owner:<o>", "place:<p>"
 *  or "device:<id>"; name "home.occupied"; value "true". */
typedef struct {
  char scope[STW_TEXT_MAX];
  char name[STW_TEXT_MAX];
  char value[STW_RD_VALUE_MAX];
  int64_t updated_at;
} stw_context_row_t;
/** Insert or replace (updated_at set to now if 0). */
stw_status_t stw_store_context_set(stw_store_t *st, const stw_context_row_t *c);
/** STW_ERR_NOT_FOUND if absent. */
stw_status_t stw_store_context_get(stw_store_t *st, const char *scope, const char *name, stw_context_row_t *out);
typedef stw_status_t (*stw_context_cb)(const stw_context_row_t *c, void *ctx);
/** Every context attribute in (scope, name) order. */
stw_status_t stw_store_context_list(stw_store_t *st, stw_context_cb cb, void *ctx);
stw_status_t stw_store_context_delete(stw_store_t *st, const char *scope, const char *name);

/** An access token the domain issued. */
typedef struct {
  char cti[STW_CTI_HEX];                  /**< hex of the 16-byte CWT id */
  char subject_id[STW_ID_HEX];            /**< the client device (sub) */
  char audience_id[STW_ID_HEX];           /**< the resource server device (aud) */
  char scope[STW_TOKEN_SCOPE_MAX];        /**< what was granted, "/p GET,PUT;/q GET" */
  char policy_ids[STW_TEXT_MAX];          /**< the permit rules it rests on, "3,7" */
  int64_t iat;
  int64_t exp;
  bool revoked;
  int64_t revoked_at;
  uint64_t revoke_seq;                    /**< position in the revocation list, 0 if live */
  char reason[STW_TEXT_MAX];              /**< why it was revoked */
} stw_token_row_t;
/** Record an issued token (revoked fields are ignored). STW_ERR_EXISTS on a cti collision. */
stw_status_t stw_store_token_put(stw_store_t *st, const stw_token_row_t *t);
stw_status_t stw_store_token_get(stw_store_t *st, const char *cti, stw_token_row_t *out);
typedef stw_status_t (*stw_token_cb)(const stw_token_row_t *t, void *ctx);
/** Tokens in (iat, cti) order; live_only: not revoked and exp > now. */
stw_status_t stw_store_token_list(stw_store_t *st, bool live_only, int64_t now, stw_token_cb cb, void *ctx);
/** Revoke one token: it gets the next revocation sequence number (*seq if
 *  not NULL). STW_ERR_NOT_FOUND if there is no such token or it is revoked already. */
stw_status_t stw_store_token_revoke(stw_store_t *st, const char *cti, int64_t now, const char *reason, uint64_t *seq);
/** Revoke every live token a device holds or is the audience of (decommission,
 *  issue 6); *count: how many. */
stw_status_t stw_store_token_revoke_device(stw_store_t *st, const char *device_id, int64_t now, const char *reason,
                                           uint64_t *count);
/** Revoked tokens not yet expired at now, in revocation order (the list devices observe). */
stw_status_t stw_store_token_revoked_list(stw_store_t *st, int64_t now, stw_token_cb cb, void *ctx);
/** The latest revocation sequence number (0: nothing ever revoked). */
stw_status_t stw_store_revocation_seq(stw_store_t *st, uint64_t *seq);

#endif
