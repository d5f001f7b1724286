/* The policy decision point and token issuance (ACE-OAuth, RFC 9200).
 *
 *   stw_token_request_parse()  bounded parse of an ACE token request (CBOR)
 *   stw_pdp_evaluate()         pure: rules + parties + requested scope + context
 *                              → granted scope (the part the rules permit) or deny
 *   stw_pdp_decide()           event loop, read-only: who asks, for whom, rules
 *                              from the store, sign the CWT
 *   stw_pdp_apply()            writer thread: record the token (or the refusal)
 *                              with its audit record; the answer goes out after
 *   stw_pdp_encode_response()  the ACE answer in CBOR
 * See docs/authorization.md. */
#ifndef STW_SERVER_AUTHZ_PDP_H
#define STW_SERVER_AUTHZ_PDP_H

#include "authz/policy.h"
#include "coap/identity.h"
#include "cbor_reader.h"
#include "cbor_writer.h"
#include "cwt.h"
#include "domain/domain.h"
#include "store/store.h"

#define STW_TOKEN_REQUEST_MAX 1024      /**< bytes of a token request */
#define STW_TOKEN_LIFETIME_DEFAULT 3600 /**< seconds */
#define STW_PDP_RULES_MAX 1024          /**< rules loaded per decision */

/* ACE parameters (RFC 9200 8.10, RFC 9201) and error codes (RFC 9200 8.4). */
#define STW_ACE_ACCESS_TOKEN 1
#define STW_ACE_EXPIRES_IN 2
#define STW_ACE_REQ_CNF 4
#define STW_ACE_AUDIENCE 5
#define STW_ACE_CNF 8
#define STW_ACE_SCOPE 9
#define STW_ACE_CLIENT_ID 24
#define STW_ACE_ERROR 30
#define STW_ACE_ERROR_DESCRIPTION 31
#define STW_ACE_GRANT_TYPE 33
#define STW_ACE_PROFILE 38             /**< ace_profile (RFC 9200 8.10) */
#define STW_ACE_RS_CNF 41
#define STW_ACE_PROFILE_DTLS 1        /**< coap_dtls (RFC 9202) */
#define STW_ACE_PROFILE_OSCORE 2      /**< coap_oscore (RFC 9203) */
#define STW_PDP_OSC_MS_LEN 32         /**< bytes of a Master Secret we issue */
#define STW_PDP_OSC_ID_LEN 8          /**< bytes of the material's id */
#define STW_PDP_OSC_SALT_LEN 8        /**< bytes of the material's salt */
#define STW_ACE_GRANT_CLIENT_CREDENTIALS 2

typedef enum {
  STW_ACE_OK = 0,
  STW_ACE_INVALID_REQUEST = 1,
  STW_ACE_INVALID_CLIENT = 2,
  STW_ACE_UNAUTHORIZED_CLIENT = 4,
  STW_ACE_UNSUPPORTED_GRANT_TYPE = 5,
  STW_ACE_INVALID_SCOPE = 6,
  STW_ACE_UNSUPPORTED_POP_KEY = 7,
} stw_ace_error_t;

const char *stw_ace_error_name(stw_ace_error_t e);

/** A parsed token request. */
typedef struct {
  char audience[STW_TEXT_MAX];
  stw_aif_t scope;
  bool has_req_cnf;
  uint8_t req_x[32], req_y[32];   /**< req_cnf {1: COSE_Key} EC2 P-256 */
  unsigned profile;               /**< ace_profile asked: 0 (none: DTLS), STW_ACE_PROFILE_* */
} stw_token_request_t;

/** Parse {5: audience tstr, 9: scope (AIF array, or a bstr holding one),
 *  ? 4: req_cnf {1: COSE_Key}, ? 24: client_id, ? 33: grant_type 2,
 *  ? 38: ace_profile 1 (coap_dtls) / 2 (coap_oscore)}; other
 *  keys are ignored, a key twice is refused. Paths must be concrete: no '*',
 *  no empty, "." or ".." segment.
 *  @retval STW_ERR_MALFORMED   not that shape (invalid_request)
 *  @retval STW_ERR_TOO_LARGE   over STW_TOKEN_REQUEST_MAX or an AIF limit
 *  @retval STW_ERR_UNSUPPORTED a req_cnf other than an EC2 P-256 COSE_Key (unsupported_pop_key),
 *                              a grant_type other than client_credentials, or another
 *                              ace_profile; req_cnf together with coap_oscore */
stw_status_t stw_token_request_parse(const uint8_t *buf, size_t len, stw_token_request_t *out) STW_WUR;

/** What the rules grant. */
typedef struct {
  bool permit;
  stw_aif_t granted;
  char policy_ids[STW_TEXT_MAX];  /**< permit rules used, "3,7" */
  int64_t deciding_rule;          /**< for a deny: the deny rule, or 0 (default deny) */
  char why[256];
} stw_pdp_result_t;

/** Pure decision: for every [path, methods] asked, each method is granted
 *  when the rules permit it (deny overrides permit, default deny); the
 *  result permits when anything at all was granted. */
void stw_pdp_evaluate(const stw_policy_t *rules, size_t n, const stw_policy_party_t *subject,
                      const stw_policy_party_t *audience, const stw_aif_t *asked, int64_t now,
                      stw_context_read_fn read_context, void *context_arg, stw_pdp_result_t *out);

/** Load every policy of the store (up to STW_PDP_RULES_MAX). *rules is malloc'd. */
stw_status_t stw_pdp_load_rules(stw_store_t *st, stw_policy_t **rules, size_t *n) STW_WUR;

/** A device described for policy (party points into who). */
void stw_pdp_party(const stw_identity_t *who, stw_policy_party_t *party);

typedef struct {
  stw_store_t *store;             /**< read handle */
  const stw_domain_t *domain;     /**< iss, and the key that signs tokens (the domain CA key) */
  int64_t lifetime;               /**< token lifetime, 0: STW_TOKEN_LIFETIME_DEFAULT */
} stw_pdp_t;

typedef struct {
  stw_ace_error_t error;          /**< STW_ACE_OK: a token was issued */
  unsigned coap_code;             /**< 201 (2.01) or 400/401/403 as class*100+detail */
  char diag[192];
  char client_id[STW_ID_HEX];     /**< "" when the client was not identified */
  stw_token_row_t row;            /**< what is recorded */
  stw_buf_t token;                /**< the signed CWT (owned) */
  stw_aif_t granted;
  int64_t expires_in;
  uint8_t rs_x[32], rs_y[32];
  bool has_rs_cnf;
  /* ace_profile coap_oscore: the OSCORE_Input_Material the client gets in
   * the clear over its DTLS session (the token carries ms sealed). */
  bool oscore;
  uint8_t osc_id[STW_PDP_OSC_ID_LEN];
  uint8_t osc_salt[STW_PDP_OSC_SALT_LEN];
  uint8_t osc_ms[STW_PDP_OSC_MS_LEN];  /**< wiped by stw_pdp_outcome_clear() */
} stw_pdp_outcome_t;

void stw_pdp_outcome_init(stw_pdp_outcome_t *o);
void stw_pdp_outcome_clear(stw_pdp_outcome_t *o);

/** Decide a token request from an identified client (identity from the DTLS
 *  session) at now; fills o (a refusal is STW_OK with o->error set). */
stw_status_t stw_pdp_decide(const stw_pdp_t *pdp, const stw_identity_t *client, const uint8_t *body, size_t len,
                            int64_t now, stw_pdp_outcome_t *o);

/** Writer thread: record the token and its audit record, or audit the refusal. */
stw_status_t stw_pdp_apply(stw_store_t *st, stw_pdp_outcome_t *o);

/** The ACE answer: {1: token, 2: expires_in, 9: scope, 41: rs_cnf} or
 *  {30: error, 31: description}; for coap_oscore also 8: cnf {4: {0: id,
 *  2: ms, 5: salt}} and 38: ace_profile 2 (RFC 9203 3.2). */
stw_status_t stw_pdp_encode_response(const stw_pdp_outcome_t *o, stw_buf_t *out) STW_WUR;

/** "/p GET,PUT;/q GET" for a scope, and back. */
void stw_scope_format(const stw_aif_t *scope, char *out, size_t cap);
stw_status_t stw_scope_parse_text(const char *text, stw_aif_t *out) STW_WUR;


#endif
