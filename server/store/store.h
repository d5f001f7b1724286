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
/** Is the device known and in this state now? (false when absent or unreadable) */
bool stw_store_device_in_state(stw_store_t *st, const char *id, stw_state_t state);

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
/** The sequence number of the newest record (0: the log is empty). */
stw_status_t stw_store_audit_last(stw_store_t *st, uint64_t *seq);
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

/* ==== later life (issue 6): firmware, campaigns, attestation, revocation of
 * certificates, erasure, vulnerability reports ============================ */
#define STW_URI_MAX 256

/* ---- firmware the domain authorised (manifests; images live in files) ----- */
typedef struct {
  int64_t id;                      /**< assigned by the store */
  char vendor[STW_TEXT_MAX];       /**< the manifest's vendor id (manufacturer) */
  char class_id[STW_TEXT_MAX];     /**< the device class it is for (model) */
  char component[STW_TEXT_MAX];    /**< "firmware" */
  uint64_t sequence;               /**< manifest sequence number (monotonic per vendor/class) */
  uint8_t digest[32];              /**< SHA-256 of the image: also the attestation reference value */
  uint64_t size;                   /**< image bytes */
  char uri[STW_URI_MAX];           /**< where devices fetch it ("/fw/img/<hex digest>") */
  uint8_t *envelope;               /**< the signed envelope devices receive; owned */
  size_t envelope_len;
  int64_t published_at;
} stw_firmware_t;
void stw_firmware_clear(stw_firmware_t *f);
/** Record an authorised manifest; sets f->id. STW_ERR_EXISTS if (vendor,
 *  class_id, sequence) is there already. */
stw_status_t stw_store_firmware_put(stw_store_t *st, stw_firmware_t *f);
stw_status_t stw_store_firmware_get(stw_store_t *st, int64_t id, stw_firmware_t *out);
/** The manifest with this image digest (reference values for appraisal). */
stw_status_t stw_store_firmware_by_digest(stw_store_t *st, const uint8_t digest[32], stw_firmware_t *out);
typedef stw_status_t (*stw_firmware_cb)(const stw_firmware_t *f, void *ctx);
/** Every manifest in id order (envelope NULL in the callback). */
stw_status_t stw_store_firmware_list(stw_store_t *st, stw_firmware_cb cb, void *ctx);

/* ---- what each device reports it runs ------------------------------------- */
typedef struct {
  char device_id[STW_ID_HEX];
  uint64_t sequence;               /**< installed manifest sequence (0: factory image) */
  uint8_t digest[32];              /**< running image digest as last reported */
  int64_t reported_at;
} stw_device_fw_t;
stw_status_t stw_store_device_fw_set(stw_store_t *st, const stw_device_fw_t *f);
stw_status_t stw_store_device_fw_get(stw_store_t *st, const char *device_id, stw_device_fw_t *out);

/* ---- roll-out campaigns ---------------------------------------------------- */
typedef enum {
  STW_CAMPAIGN_RUNNING = 0,
  STW_CAMPAIGN_HALTED = 1,         /**< failures passed the threshold; resume or abort */
  STW_CAMPAIGN_ABORTED = 2,
  STW_CAMPAIGN_DONE = 3,
} stw_campaign_state_t;
typedef struct {
  int64_t id;                      /**< assigned by the store */
  int64_t firmware_id;
  char target[STW_POLICY_PART_MAX];/**< "model=meter" or "group=kitchen" */
  unsigned canary_percent;         /**< share of the targets in stage 0 (1..100) */
  unsigned max_failure_percent;    /**< halt when failed/finished of the open stage passes this */
  unsigned stage;                  /**< 0: canary, 1: the rest */
  stw_campaign_state_t state;
  char reason[STW_REASON_MAX];     /**< why it halted or aborted */
  int64_t created_at;
  int64_t updated_at;
} stw_campaign_t;
stw_status_t stw_store_campaign_add(stw_store_t *st, stw_campaign_t *c /* id set */);
stw_status_t stw_store_campaign_get(stw_store_t *st, int64_t id, stw_campaign_t *out);
/** Write stage, state, reason and updated_at of an existing campaign. */
stw_status_t stw_store_campaign_update(stw_store_t *st, const stw_campaign_t *c);
typedef stw_status_t (*stw_campaign_cb)(const stw_campaign_t *c, void *ctx);
stw_status_t stw_store_campaign_list(stw_store_t *st, stw_campaign_cb cb, void *ctx);

typedef enum {
  STW_ROLLOUT_WAITING = 0,         /**< in a later stage, not offered yet */
  STW_ROLLOUT_OFFERED = 1,         /**< the device may fetch the manifest */
  STW_ROLLOUT_DOWNLOADING = 2,
  STW_ROLLOUT_INSTALLED = 3,       /**< reported running and confirmed */
  STW_ROLLOUT_FAILED = 4,          /**< rejected, digest mismatch, self-test failed (rolled back) */
  STW_ROLLOUT_COUNT
} stw_rollout_status_t;
typedef struct {
  int64_t campaign_id;
  char device_id[STW_ID_HEX];
  unsigned stage;
  stw_rollout_status_t status;
  char detail[STW_REASON_MAX];
  int64_t updated_at;
} stw_rollout_t;
/** Insert or replace one device's row of a campaign. */
stw_status_t stw_store_rollout_put(stw_store_t *st, const stw_rollout_t *r);
stw_status_t stw_store_rollout_get(stw_store_t *st, int64_t campaign_id, const char *device_id, stw_rollout_t *out);
/** The newest RUNNING campaign row offered to this device (status OFFERED or
 *  DOWNLOADING). STW_ERR_NOT_FOUND if nothing is offered. */
stw_status_t stw_store_rollout_offered(stw_store_t *st, const char *device_id, stw_rollout_t *out);
typedef stw_status_t (*stw_rollout_cb)(const stw_rollout_t *r, void *ctx);
/** A campaign's rows in device order. */
stw_status_t stw_store_rollout_list(stw_store_t *st, int64_t campaign_id, stw_rollout_cb cb, void *ctx);
/** counts[status] of one stage of a campaign (stage < 0: all stages). */
stw_status_t stw_store_rollout_counts(stw_store_t *st, int64_t campaign_id, int stage,
                                      uint64_t counts[STW_ROLLOUT_COUNT]);

/* ---- attestation: challenges and results ---------------------------------- */
#define STW_NONCE_MAX 64
/** Remember a challenge issued to a device until expires_at. */
stw_status_t stw_store_nonce_put(stw_store_t *st, const char *device_id, const uint8_t *nonce, size_t len,
                                 int64_t expires_at);
/** Consume a challenge: STW_OK once; STW_ERR_REPLAY if unknown or already
 *  used (or issued to another device); STW_ERR_EXPIRED if past expires_at
 *  (consumed all the same). */
stw_status_t stw_store_nonce_take(stw_store_t *st, const char *device_id, const uint8_t *nonce, size_t len,
                                  int64_t now);

typedef enum { STW_EAR_NONE = 0, STW_EAR_AFFIRMING = 2, STW_EAR_WARNING = 32, STW_EAR_CONTRAINDICATED = 96 } stw_ear_t;
typedef struct {
  int64_t id;                      /**< assigned by the store */
  char device_id[STW_ID_HEX];
  int64_t at;
  stw_ear_t verdict;               /**< EAR trustworthiness tier (draft-ietf-rats-ear) */
  char trigger[STW_TEXT_MAX];      /**< "enroll", "update", "periodic", "admin" */
  char reasons[STW_REASON_MAX];    /**< "image digest unknown; boot count went back" */
  uint8_t image_digest[32];
  uint64_t boot_count;
} stw_attest_row_t;
stw_status_t stw_store_attest_put(stw_store_t *st, stw_attest_row_t *a /* id set */);
/** The device's latest result. STW_ERR_NOT_FOUND if never attested. */
stw_status_t stw_store_attest_latest(stw_store_t *st, const char *device_id, stw_attest_row_t *out);
typedef stw_status_t (*stw_attest_cb)(const stw_attest_row_t *a, void *ctx);
/** A device's results, newest first, at most limit (0: all). */
stw_status_t stw_store_attest_list(stw_store_t *st, const char *device_id, uint64_t limit, stw_attest_cb cb, void *ctx);

/* ---- certificate revocation (the CRL the daemon serves) -------------------- */
/** Revoke every certificate serial ever issued to the device; *count: newly revoked. */
stw_status_t stw_store_serial_revoke_device(stw_store_t *st, const char *device_id, int64_t now, uint64_t *count);
/** *revoked: whether this serial is revoked (false for an unknown serial). */
stw_status_t stw_store_serial_is_revoked(stw_store_t *st, const char *serial_hex, bool *revoked);
typedef stw_status_t (*stw_serial_cb)(const char *serial_hex, const char *device_id, int64_t not_after,
                                      int64_t revoked_at, void *ctx);
/** Revoked serials in revocation order (what the CRL lists). */
stw_status_t stw_store_serial_revoked_list(stw_store_t *st, stw_serial_cb cb, void *ctx);

/* ---- erasure of what the domain knew about a device and its people ---------- */
typedef struct {
  uint64_t attributes;             /**< device_attr rows */
  uint64_t context;                /**< context_attr rows scoped to the device or its owner */
  uint64_t vouchers;
  uint64_t psks;
  uint64_t attestations;
  uint64_t nonces;
} stw_erasure_t;
/** Delete every row that describes the device's people or place: its
 *  attributes, context attributes scoped "device:<id>" (and "owner:<o>" /
 *  "place:<p>" when no other live device has that owner / place), its
 *  voucher, its PSK keys, its attestation nonces and results. Joins the
 *  caller's transaction. */
stw_status_t stw_store_device_erase(stw_store_t *st, const char *device_id, stw_erasure_t *out);

/* ---- vulnerability reports (EN 303 645 §5.2) ------------------------------- */
#define STW_VULN_TEXT_MAX 4096
typedef struct {
  int64_t id;                      /**< assigned by the store */
  int64_t received_at;
  char contact[STW_RD_VALUE_MAX];  /**< how to reach the reporter ("" if anonymous) */
  char summary[STW_RD_VALUE_MAX];
  char *detail;                    /**< owned, NUL-terminated, at most STW_VULN_TEXT_MAX bytes */
  char status[STW_TEXT_MAX];       /**< "received", "triaged", "fixed", "rejected" */
} stw_vuln_t;
void stw_vuln_clear(stw_vuln_t *v);
stw_status_t stw_store_vuln_add(stw_store_t *st, stw_vuln_t *v /* id set */);
stw_status_t stw_store_vuln_set_status(stw_store_t *st, int64_t id, const char *status);
typedef stw_status_t (*stw_vuln_cb)(const stw_vuln_t *v, void *ctx);
/** Reports in id order (detail filled). */
stw_status_t stw_store_vuln_list(stw_store_t *st, stw_vuln_cb cb, void *ctx);

#endif
