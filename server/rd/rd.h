/* The CoRE Resource Directory (RFC 9176) with privacy-aware discovery, and
 * handle resolution. Plain functions over plain data; rd_coap.c decodes and
 * encodes. Writes go through the committer like enrollments do:
 *   stw_rd_decide_*()  event loop, read-only: who asks, may they, what changes
 *   stw_rd_apply()     writer thread: re-check, write, transition, audit
 * Lookups and resolution only read. What an asker may not see is answered
 * exactly as if it did not exist. */
#ifndef STW_SERVER_RD_H
#define STW_SERVER_RD_H

#include "coap/peer.h"
#include "domain/domain.h"
#include "linkformat.h"
#include "rd/visibility.h"
#include "rdquery.h"
#include "store/store.h"

#define STW_RD_RES_PER_REG STW_LINKS_MAX
#define STW_RD_ANSWER_MAX 65536   /* largest lookup answer (block-wise) */
#define STW_RD_DEFAULT_DATTR "manufacturer model"

typedef struct stw_rd stw_rd_t;

/** The RD over a read handle of the store, for a domain. */
stw_status_t stw_rd_new(stw_store_t *store, const stw_domain_t *domain, stw_rd_t **out) __attribute__((warn_unused_result));
void stw_rd_free(stw_rd_t *rd);

/** Who a DTLS peer is: an LDevID of this domain (current, device not
 *  decommissioned) or an operational PSK makes an authenticated asker with
 *  its attributes; anything else an unauthenticated one. */
stw_status_t stw_rd_identify(const stw_rd_t *rd, const stw_peer_t *peer, stw_asker_t *out);

typedef enum { STW_RD_REGISTER = 0, STW_RD_UPDATE, STW_RD_DELETE } stw_rd_op_t;

typedef struct {
  stw_rd_op_t op;
  stw_status_t status;
  const char *refusal;           /**< audit code when refused */
  char diag[192];
  char device_id[STW_ID_HEX];
  bool new_registration;         /**< a device's first: lifecycle REGISTER */
  stw_rd_reg_t reg;              /**< owns reg.links */
  stw_rd_res_t *res;             /**< n_res entries, owned */
  size_t n_res;
} stw_rd_outcome_t;

void stw_rd_outcome_init(stw_rd_outcome_t *o, stw_rd_op_t op);
void stw_rd_outcome_clear(stw_rd_outcome_t *o);

/** POST /rd?ep=..&lt=..: payload is link format. source_uri is where the
 *  request came from ("coaps://[addr]:port"), the default base. */
stw_status_t stw_rd_decide_register(const stw_rd_t *rd, const stw_asker_t *asker, const stw_rd_query_t *q,
                                    const char *payload, size_t len, const char *source_uri, stw_rd_outcome_t *o);
/** POST /rd/<id>: lifetime refresh, optionally new base/links (has_payload). */
stw_status_t stw_rd_decide_update(const stw_rd_t *rd, const stw_asker_t *asker, const char *id,
                                  const stw_rd_query_t *q, const char *payload, size_t len, bool has_payload,
                                  stw_rd_outcome_t *o);
/** DELETE /rd/<id>. */
stw_status_t stw_rd_decide_delete(const stw_rd_t *rd, const stw_asker_t *asker, const char *id, stw_rd_outcome_t *o);
/** Writer thread: make o durable (or audit its refusal). STW_OK unless the store failed. */
stw_status_t stw_rd_apply(stw_store_t *st, stw_rd_outcome_t *o);
/** CoAP code for an outcome (2.01 created, 2.04 changed, 2.02 deleted, 4.xx). */
unsigned stw_rd_coap_code(const stw_rd_outcome_t *o);

typedef enum { STW_RD_LOOKUP_EP = 0, STW_RD_LOOKUP_RES } stw_rd_lookup_t;
/** /rd-lookup/ep and /rd-lookup/res: link format of what asker may see,
 *  filtered, then paged. out receives the answer (caller frees).
 *  STW_ERR_MALFORMED / STW_ERR_TOO_LARGE for bad queries. */
stw_status_t stw_rd_lookup(const stw_rd_t *rd, const stw_asker_t *asker, stw_rd_lookup_t kind,
                           const stw_rd_query_t *q, int64_t now, stw_buf_t *out);

/** Resolve a handle "<domain>/<device-id>" into CBOR {1: handle, 2: ep,
 *  3: [base], 4: public key (SPKI), 5: links, 6: attribute disclosure}
 *  (docs/discovery.md). names: attributes asked for (NULL: all the device made
 *  discoverable). STW_ERR_NOT_FOUND for unknown, unregistered or hidden. */
stw_status_t stw_rd_resolve(const stw_rd_t *rd, const stw_asker_t *asker, const char *handle,
                            const char *const *names, size_t n_names, int64_t now, stw_buf_t *out);

/** Remove expired registrations (writer thread); audited when any went. */
stw_status_t stw_rd_expire(stw_store_t *st, int64_t now, uint64_t *removed);

#endif
