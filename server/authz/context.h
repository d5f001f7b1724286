/* The context manager and revocation: context attributes that policies read
 * at decision time, and every change that can turn a live token's permit into
 * a deny (a context change, a policy added or removed) followed, in the same
 * transaction, by the revocation of exactly those tokens.
 *
 * Context lookup for a condition "name" reads, most specific first:
 *   device:<audience id>, place:<audience's place attribute>,
 *   owner:<audience's owner attribute>, "" (the whole domain). */
#ifndef STW_SERVER_AUTHZ_CONTEXT_H
#define STW_SERVER_AUTHZ_CONTEXT_H

#include "authz/policy.h"
#include "coap/identity.h"
#include "store/store.h"

typedef struct {
  stw_store_t *store;
  const stw_identity_t *audience;
} stw_context_reader_t;

/** stw_context_read_fn over the store; arg is a stw_context_reader_t. */
bool stw_context_read(void *arg, const char *name, char *value, size_t cap);

/** Is scope well formed: "", "device:<32 hex>", "place:<v>" or "owner:<v>"? */
bool stw_context_scope_valid(const char *scope);

/** Re-decide every live token at now and revoke (audited) those a rule no
 *  longer permits in full; only_if_read: skip unless some rule reads that
 *  context attribute (NULL: always). Joins the caller's transaction.
 *  *revoked (may be NULL) counts the revocations. */
stw_status_t stw_authz_reevaluate(stw_store_t *st, const stw_domain_t *domain, const char *only_if_read,
                                  const char *actor, const char *reason, int64_t now, uint64_t *revoked);

/** Set a context attribute, audit it, and revoke the live tokens the change
 *  denies, all in one transaction (the caller's if open). */
stw_status_t stw_context_set(stw_store_t *st, const stw_domain_t *domain, const stw_context_row_t *c,
                             const char *actor, int64_t now, uint64_t *revoked);

/** Add a rule (text) / remove one, audited, revoking what it now denies,
 *  in one transaction. why gets a parse error. */
stw_status_t stw_authz_policy_add(stw_store_t *st, const stw_domain_t *domain, const char *text, const char *name,
                                  const char *actor, int64_t now, int64_t *id, uint64_t *revoked, char *why,
                                  size_t why_cap);
stw_status_t stw_authz_policy_remove(stw_store_t *st, const stw_domain_t *domain, int64_t id, const char *actor,
                                     int64_t now, uint64_t *revoked);

#define CONTEXT_BODY_MAX 512  /**< bytes of a POST /context body */

/** A POST /context body {1: name tstr, 2: value tstr}, each once, no NUL
 *  inside, within the row's field sizes; at most CONTEXT_BODY_MAX bytes.
 *  row's name and value are written (the caller sets scope and time).
 *  @retval STW_ERR_MALFORMED not that shape */
stw_status_t stw_context_body_parse(const uint8_t *data, size_t len, stw_context_row_t *row)
    __attribute__((warn_unused_result));

/** The row a device publishes with POST /context: the body parsed
 *  (stw_context_body_parse), the name one the device's "publishes" attribute
 *  lists (names separated by spaces or commas), the scope where the device
 *  is: "place:<its place>", else "owner:<its owner>", else "device:<its id>".
 *  @retval STW_ERR_MALFORMED the body is not that shape
 *  @retval STW_ERR_FORBIDDEN the device may not publish that name */
stw_status_t stw_context_from_device(const stw_identity_t *who, const uint8_t *data, size_t len,
                                     stw_context_row_t *row) __attribute__((warn_unused_result));

#endif
