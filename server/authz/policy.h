/* DCapBAC policy rules: the language, its parser and its evaluation. Pure
 * functions over plain data: no store, no clock, no sockets (the caller
 * passes the time and a way to read context attributes).
 *
 *   rule    = effect SP subject SP "->" SP target ":" path SP methods
 *             [SP "if" SP cond *(SP "and" SP cond)]
 *   effect  = "permit" / "deny"
 *   subject = "*" / term *("," term)          ; read the client's attributes
 *   target  = "*" / pattern / "[" term *("," term) "]"
 *             ; pattern: the audience's name or device id, '*' matches any run
 *   path    = "/" ...                           ; '*' matches any run, '/' included
 *   methods = "*" / method *("," method)        ; GET POST PUT DELETE FETCH PATCH iPATCH
 *   cond    = name "==" value / name "!=" value / "time" SP HH:MM "-" HH:MM
 *   term    = name "=" value                    ; value "*" any, "abc*" a prefix
 *
 * e.g.  permit role=utility -> meter-*:/consumption GET if home.occupied==false
 *       deny * -> [model=lock]:/config/x* PUT,POST
 *       permit role=maintenance -> [model=thermostat]:/cfg* GET,PUT if time 08:00-17:00
 *
 * Deciding: a deny rule that applies wins over any permit; with no rule that
 * applies the answer is deny. Time windows are UTC, [from, to), wrapping
 * midnight when from > to. A condition on a context attribute that is not set
 * is unknown: a permit rule with it does not apply, a deny rule with it does
 * (both fail closed). See docs/authorization.md. */
#ifndef STW_SERVER_AUTHZ_POLICY_H
#define STW_SERVER_AUTHZ_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "steward/authz.h"
#include "store/store.h"
#include "util.h"

#define STW_POLICY_TEXT_MAX 1024   /**< bytes of one rule's text */
#define STW_POLICY_TERMS_MAX 8     /**< terms in a subject or target */
#define STW_POLICY_CONDS_MAX 8     /**< conditions of one rule */

typedef struct {
  char name[STW_TEXT_MAX];
  char value[STW_TEXT_MAX];        /**< "*" any, ending in '*' a prefix */
} stw_policy_term_t;

typedef enum { STW_COND_EQ = 0, STW_COND_NE, STW_COND_TIME } stw_cond_kind_t;

typedef struct {
  stw_cond_kind_t kind;
  char name[STW_TEXT_MAX];         /**< context attribute (EQ, NE) */
  char value[STW_TEXT_MAX];
  int from_min, to_min;            /**< TIME: minutes of the UTC day */
} stw_policy_cond_t;

typedef enum { STW_TARGET_ANY = 0, STW_TARGET_NAME, STW_TARGET_ATTRS } stw_target_kind_t;

/** A parsed rule. */
typedef struct {
  int64_t id;                      /**< the store's id, 0 before it is added */
  char name[STW_TEXT_MAX];         /**< optional label */
  stw_effect_t effect;
  size_t n_subject;                /**< 0: "*" (any authenticated device) */
  stw_policy_term_t subject[STW_POLICY_TERMS_MAX];
  stw_target_kind_t target_kind;
  char target_name[STW_TEXT_MAX];  /**< STW_TARGET_NAME: pattern */
  size_t n_target;
  stw_policy_term_t target[STW_POLICY_TERMS_MAX];
  char path[STW_AIF_PATH_MAX + 1]; /**< pattern */
  unsigned methods;                /**< STW_AIF_* bits */
  size_t n_conds;
  stw_policy_cond_t conds[STW_POLICY_CONDS_MAX];
} stw_policy_t;

/** Parse one rule of at most STW_POLICY_TEXT_MAX bytes.
 *  @retval STW_ERR_MALFORMED with a short reason in why (may be NULL)
 *  @retval STW_ERR_TOO_LARGE  text, a name, a value or a list over its limit */
stw_status_t stw_policy_parse(const char *text, size_t len, stw_policy_t *out, char *why, size_t why_cap) STW_WUR;

/** The canonical text of a rule (what parsing it gives back). */
void stw_policy_format(const stw_policy_t *p, char *out, size_t cap);

/** Into the store's row and back (row → text → parse, so a row written by
 *  hand is checked like typed input). */
stw_status_t stw_policy_to_row(const stw_policy_t *p, stw_policy_row_t *row) STW_WUR;
stw_status_t stw_policy_from_row(const stw_policy_row_t *row, stw_policy_t *out) STW_WUR;

/** Does the rule read context attribute name? */
bool stw_policy_reads(const stw_policy_t *p, const char *name);

/** One side of a request: a device and its attributes ("device", "name",
 *  "model", "domain", role, owner, ... as the store knows them). */
typedef struct {
  const char *device_id;
  const char *name;                /**< the device's assigned name ("" if none) */
  const stw_attr_row_t *attrs;
  size_t n_attrs;
} stw_policy_party_t;

/** Reads a context attribute for the audience; false if it is not set. */
typedef bool (*stw_context_read_fn)(void *arg, const char *name, char *value, size_t cap);

typedef struct {
  stw_policy_party_t subject;
  stw_policy_party_t audience;
  const char *path;                /**< concrete path, NUL-terminated */
  unsigned method;                 /**< one STW_AIF_* bit */
  int64_t now;                     /**< seconds since the epoch (time windows) */
  stw_context_read_fn read_context;
  void *context_arg;
} stw_policy_request_t;

/** The outcome of evaluating rules for one (path, method). */
typedef struct {
  bool permit;
  int64_t rule_id;                 /**< the deciding rule, 0 for the default deny */
  char why[256];
} stw_policy_decision_t;

/** Does p apply to r? why (may be NULL) gets the first reason it does not,
 *  or "applies". */
bool stw_policy_applies(const stw_policy_t *p, const stw_policy_request_t *r, char *why, size_t cap);

/** Deny overrides permit; default deny. */
void stw_policy_decide(const stw_policy_t *rules, size_t n, const stw_policy_request_t *r, stw_policy_decision_t *out);

/** Human-readable account: one line per rule (applies or why not), then the
 *  decision and the rule that made it. out is the caller's (stw_buf_free). */
stw_status_t stw_policy_explain(const stw_policy_t *rules, size_t n, const stw_policy_request_t *r,
                                stw_buf_t *out) STW_WUR;

/** Method name ↔ bit ("GET" ↔ STW_AIF_GET); 0 for an unknown name. */
unsigned stw_method_bit(const char *name, size_t len);
const char *stw_method_name(unsigned bit);
/** "GET,PUT" for a mask. */
void stw_methods_format(unsigned methods, char *out, size_t cap);

/** Glob match: '*' matches any run of bytes (including '/'). */
bool stw_glob_match(const char *pattern, const char *s);

#endif
