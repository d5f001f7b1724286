/* OSCORE (RFC 8613): security contexts, message protection and the state
 * that keeps nonces unique and requests fresh.
 *
 * What is here: context derivation (section 3.2) with HKDF SHA-256 and
 * AES-CCM-16-64-128 (COSE alg 10: 16-byte keys, 13-byte nonce, 8-byte tag),
 * both from GnuTLS; the nonce (5.2); the external_aad and Enc_structure
 * (5.4); the OSCORE option value (6.1); protect and unprotect of requests
 * and responses (8.1-8.4); the Sender Sequence Number with persistence in
 * steps (Appendix B.1.1) and its end at 2^40 - 1; the replay window of 32
 * (7.4) and its "lost after reboot" state that an Echo exchange (RFC 9175,
 * Appendix B.1.2) rebuilds. Not here: the CoAP message itself (header,
 * token, Class U options, the Outer Code), Observe notification numbers,
 * Block-wise, other algorithms, Appendix B.2. docs/oscore.md says more.
 *
 * Messages are given as (code, Class E options, payload): the options
 * already serialized as CoAP options (RFC 7252 section 3.1) with deltas
 * from option number 0, exactly as they go into the plaintext;
 * stw_oscore_opt_put() writes them and stw_oscore_opt_next() reads them.
 *
 * A context is plain data with no heap storage: copy it only to clone it,
 * wipe it with stw_oscore_ctx_wipe(). It is not thread-safe: reading and
 * stepping the Sender Sequence Number and checking and updating the replay
 * window must be atomic (7.2, 7.4), so callers serialize all calls on one
 * context (one lock per context). */
#ifndef STW_LIB_OSCORE_H
#define STW_LIB_OSCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nettle/ccm.h>
#include "util.h"

#define STW_OSCORE_ALG_AES_CCM_16_64_128 10  /**< COSE algorithm, the only one offered */
#define STW_OSCORE_KEY_LEN 16
#define STW_OSCORE_NONCE_LEN 13
#define STW_OSCORE_TAG_LEN 8
#define STW_OSCORE_ID_MAX 7           /**< Sender/Recipient ID: nonce length - 6 (3.3) */
#define STW_OSCORE_ID_CONTEXT_MAX 32  /**< our bound on ID Context (the RFC sets none) */
#define STW_OSCORE_PIV_MAX 5          /**< Partial IV: at most 40 bits */
#define STW_OSCORE_SSN_MAX ((UINT64_C(1) << 40) - 1)  /**< last usable Sender Sequence Number */
#define STW_OSCORE_REPLAY_WINDOW 32
#define STW_OSCORE_ECHO_LEN 8         /**< Echo values we issue (RFC 9175) */
/** Largest OSCORE option value we write: flags, PIV, s, kid context, kid.
 *  Received values may be up to 255 bytes (the option's length, section 2). */
#define STW_OSCORE_OPTION_MAX (1 + STW_OSCORE_PIV_MAX + 1 + STW_OSCORE_ID_CONTEXT_MAX + STW_OSCORE_ID_MAX)
#define STW_OSCORE_OPTION_VALUE_LIMIT 255
/** Largest message we protect or unprotect: the plaintext (code, options,
 *  marker, payload). Bigger messages use Block-wise (Inner Block options). */
#define STW_OSCORE_PLAINTEXT_MAX 4096

#define STW_COAP_OPTION_OSCORE 9
#define STW_COAP_OPTION_ECHO 252

/* ---- security context ---- */

/** Called before a Sender Sequence Number at or above the last persisted
 *  bound is used. It must store next_allowed_ssn durably (written and
 *  flushed) before it returns STW_OK; after a reboot the caller passes the
 *  stored value to stw_oscore_ctx_resume(). Any other return refuses the
 *  message and the number stays unused. */
typedef stw_status_t (*stw_oscore_persist_fn)(void *arg, uint64_t next_allowed_ssn);

/** Input parameters (3.2). Pointers are read during stw_oscore_ctx_derive()
 *  only. An absent ID Context (has_id_context false) is CBOR nil in the
 *  info; a present empty one is h'' and derives different keys. */
typedef struct {
  const uint8_t *master_secret;
  size_t master_secret_len;     /**< at least 1 byte */
  const uint8_t *master_salt;   /**< NULL/0: the default, empty */
  size_t master_salt_len;
  const uint8_t *sender_id;
  size_t sender_id_len;         /**< at most STW_OSCORE_ID_MAX */
  const uint8_t *recipient_id;
  size_t recipient_id_len;      /**< at most STW_OSCORE_ID_MAX, differs from sender_id */
  bool has_id_context;
  const uint8_t *id_context;
  size_t id_context_len;        /**< at most STW_OSCORE_ID_CONTEXT_MAX */
} stw_oscore_params_t;

/** Replay protection of the Recipient Context (7.4, B.1.2). */
typedef struct {
  bool lost;            /**< after a reboot: requests need an Echo round first */
  bool any_seen;        /**< false: nothing accepted yet, any Partial IV is new */
  uint64_t highest;     /**< highest Partial IV accepted */
  uint32_t seen;        /**< bit i: Partial IV highest - i accepted */
  bool echo_pending;
  uint8_t echo[STW_OSCORE_ECHO_LEN];
} stw_oscore_replay_t;

typedef struct {
  uint8_t sender_key[STW_OSCORE_KEY_LEN];
  uint8_t recipient_key[STW_OSCORE_KEY_LEN];
  /* Their AES key schedules, expanded once at derivation: per message that
   * would be a third of the cost of a small message's AEAD. */
  struct ccm_aes128_ctx sender_ccm;
  struct ccm_aes128_ctx recipient_ccm;
  uint8_t common_iv[STW_OSCORE_NONCE_LEN];
  uint8_t sender_id[STW_OSCORE_ID_MAX];
  size_t sender_id_len;
  uint8_t recipient_id[STW_OSCORE_ID_MAX];
  size_t recipient_id_len;
  bool has_id_context;
  uint8_t id_context[STW_OSCORE_ID_CONTEXT_MAX];
  size_t id_context_len;
  /* Sender Sequence Number: the next one to use, and the bound below which
   * numbers are covered by what was persisted (B.1.1). */
  uint64_t ssn;
  uint64_t ssn_persisted;
  uint64_t ssn_step;
  stw_oscore_persist_fn persist;
  void *persist_arg;
  stw_oscore_replay_t replay;
} stw_oscore_ctx_t;

/** Derive Sender Key, Recipient Key and Common IV (3.2.1). The new context
 *  starts with Sender Sequence Number 0, an empty and valid replay window,
 *  and no persistence (see stw_oscore_ctx_set_persistence()).
 *  @retval STW_ERR_INVALID   an ID or the ID Context too long, equal IDs, no secret
 *  @retval STW_ERR_CRYPTO    HKDF failed */
stw_status_t stw_oscore_ctx_derive(stw_oscore_ctx_t *ctx, const stw_oscore_params_t *params) STW_WUR;

/** Persist the Sender Sequence Number in steps of step (K in B.1.1, > 0):
 *  before number n is used with n >= the persisted bound, persist(arg,
 *  n + step) runs (capped at STW_OSCORE_SSN_MAX + 1). Without persistence
 *  (the default) the context must never be resumed after a reboot: derive
 *  a fresh one instead (new ID Context or new Master Secret). */
stw_status_t stw_oscore_ctx_set_persistence(stw_oscore_ctx_t *ctx, uint64_t step, stw_oscore_persist_fn persist,
                                            void *arg) STW_WUR;

/** After a reboot: continue a derived context from the value the persist
 *  callback stored last. No number below it is ever used again. The replay
 *  window is marked lost: requests are refused until the Echo exchange of
 *  stw_oscore_echo_issue()/stw_oscore_echo_accept() rebuilds it.
 *  @retval STW_ERR_EXPIRED  stored value past STW_OSCORE_SSN_MAX: re-key */
stw_status_t stw_oscore_ctx_resume(stw_oscore_ctx_t *ctx, uint64_t stored_next_ssn) STW_WUR;

/** Mark the replay window lost (e.g. its state could not be restored). */
void stw_oscore_replay_set_lost(stw_oscore_ctx_t *ctx);

/** Wipe keys, IV and state. */
void stw_oscore_ctx_wipe(stw_oscore_ctx_t *ctx);

/* ---- building blocks, exposed for the test vectors and tools ---- */

/** The CBOR info of 3.2.1: [id, id_context / nil, 10, "Key" / "IV", L].
 *  out needs 64 + STW_OSCORE_ID_CONTEXT_MAX bytes. */
#define STW_OSCORE_INFO_MAX (64 + STW_OSCORE_ID_CONTEXT_MAX)
stw_status_t stw_oscore_info_encode(const uint8_t *id, size_t id_len, bool has_id_context, const uint8_t *id_context,
                                    size_t id_context_len, bool for_iv, uint8_t *out, size_t out_cap,
                                    size_t *out_len) STW_WUR;

/** AAD = Enc_structure ["Encrypt0", h'', bstr .cbor aad_array] (5.4) with
 *  empty Class I options. out needs STW_OSCORE_AAD_MAX bytes. */
#define STW_OSCORE_AAD_MAX 48
stw_status_t stw_oscore_aad_encode(const uint8_t *request_kid, size_t kid_len, const uint8_t *request_piv,
                                   size_t piv_len, uint8_t *out, size_t out_cap, size_t *out_len) STW_WUR;

/** Nonce (5.2) from the ID of the endpoint that made the Partial IV. */
stw_status_t stw_oscore_nonce(const uint8_t common_iv[STW_OSCORE_NONCE_LEN], const uint8_t *id_piv, size_t id_len,
                              const uint8_t *piv, size_t piv_len, uint8_t nonce[STW_OSCORE_NONCE_LEN]) STW_WUR;

/** Shortest Partial IV of a sequence number: 0 is 0x00, no leading zeros.
 *  @retval STW_ERR_EXPIRED  ssn > STW_OSCORE_SSN_MAX */
stw_status_t stw_oscore_piv_encode(uint64_t ssn, uint8_t piv[STW_OSCORE_PIV_MAX], size_t *piv_len) STW_WUR;

/* ---- the OSCORE option value (6.1) ---- */

/** A parsed option value; pointers into the input. */
typedef struct {
  const uint8_t *piv;           /**< NULL when n = 0 */
  size_t piv_len;
  bool has_kid_context;
  const uint8_t *kid_context;
  size_t kid_context_len;
  bool has_kid;
  const uint8_t *kid;
  size_t kid_len;
} stw_oscore_option_t;

/** Parse an OSCORE option value of at most STW_OSCORE_OPTION_VALUE_LIMIT
 *  bytes. Strict: reserved flag bits, n = 6 or 7, a Partial IV with a
 *  leading zero byte, lengths past the end, bytes after the fields the
 *  flags announce, and the value 0x00 (all-zero flags are sent as an empty
 *  value, section 2) are all STW_ERR_MALFORMED.
 *  @retval STW_ERR_TOO_LARGE  longer than STW_OSCORE_OPTION_VALUE_LIMIT */
stw_status_t stw_oscore_option_parse(const uint8_t *value, size_t len, stw_oscore_option_t *out) STW_WUR;

/** Encode an option value; out needs up to STW_OSCORE_OPTION_MAX bytes.
 *  All fields absent gives the empty value. */
stw_status_t stw_oscore_option_encode(const stw_oscore_option_t *opt, uint8_t *out, size_t out_cap,
                                      size_t *out_len) STW_WUR;

/* ---- messages ---- */

/** An unprotected message: its Code and its Class E parts. Pointers are
 *  the caller's (protect) or into the plaintext buffer (unprotect). */
typedef struct {
  uint8_t code;
  const uint8_t *options;   /**< serialized Class E options, deltas from 0 */
  size_t options_len;
  const uint8_t *payload;   /**< NULL/0: no payload (and no marker) */
  size_t payload_len;
} stw_oscore_msg_t;

/** What both sides keep per request (section 8: with the Token) to protect
 *  or verify its response: the request's kid and Partial IV. */
typedef struct {
  uint8_t kid[STW_OSCORE_ID_MAX];
  size_t kid_len;
  uint8_t piv[STW_OSCORE_PIV_MAX];
  size_t piv_len;
} stw_oscore_request_t;

/** Append one option to a serialized option list (RFC 7252 3.1): numbers
 *  must not decrease; *last_number is the previous one (start at 0).
 *  @retval STW_ERR_TOO_LARGE  does not fit in out_cap */
stw_status_t stw_oscore_opt_put(uint8_t *out, size_t out_cap, size_t *out_len, uint16_t *last_number,
                                uint16_t number, const uint8_t *value, size_t value_len) STW_WUR;

/** Walks a serialized option list. */
typedef struct {
  const uint8_t *pos;
  const uint8_t *end;
  uint32_t number;
} stw_oscore_opt_iter_t;

void stw_oscore_opt_iter_init(stw_oscore_opt_iter_t *it, const uint8_t *options, size_t len);

/** Next option: its number and value (pointing into the list).
 *  @retval STW_ERR_NOT_FOUND  at the end
 *  @retval STW_ERR_MALFORMED  reserved nibble 15, payload marker, length past the end, number over 65535 */
stw_status_t stw_oscore_opt_next(stw_oscore_opt_iter_t *it, uint16_t *number, const uint8_t **value,
                                 size_t *len) STW_WUR;

/** First option with this number in msg's Class E options.
 *  @retval STW_ERR_NOT_FOUND  absent */
stw_status_t stw_oscore_msg_find_option(const stw_oscore_msg_t *msg, uint16_t number, const uint8_t **value,
                                        size_t *len) STW_WUR;

/** Split a plaintext (5.3) into code, options and payload. A marker with
 *  no payload after it is malformed (RFC 7252 3). */
stw_status_t stw_oscore_plaintext_parse(const uint8_t *pt, size_t len, stw_oscore_msg_t *msg) STW_WUR;

/** Bytes the ciphertext of msg takes (plaintext + tag); 0 if msg's
 *  plaintext would exceed STW_OSCORE_PLAINTEXT_MAX. */
size_t stw_oscore_ciphertext_len(const stw_oscore_msg_t *msg);

/* ---- protect and unprotect ---- */

/** Protect a request (8.1) with the next Sender Sequence Number: writes
 *  the OSCORE option value (option_cap >= STW_OSCORE_OPTION_MAX is always
 *  enough), the ciphertext (ct_cap >= stw_oscore_ciphertext_len(msg)) and
 *  the binding to keep for the response. send_kid_context puts the ID
 *  Context in the option (the context must have one).
 *  @retval STW_ERR_EXPIRED    Sender Sequence Numbers used up: re-key
 *  @retval STW_ERR_TOO_LARGE  message or buffers too small
 *  other failures of the persist callback are passed on; the number is not used */
stw_status_t stw_oscore_protect_request(stw_oscore_ctx_t *ctx, const stw_oscore_msg_t *msg, bool send_kid_context,
                                        uint8_t *option, size_t option_cap, size_t *option_len, uint8_t *ct,
                                        size_t ct_cap, size_t *ct_len, stw_oscore_request_t *binding) STW_WUR;

/** Verify a request (8.2). opt is the parsed OSCORE option (its kid and
 *  kid context chose ctx, see stw_oscore_ctx_matches()). On success msg
 *  points into pt (pt_cap >= ct_len - STW_OSCORE_TAG_LEN) and binding is
 *  what stw_oscore_protect_response() needs.
 *  @retval STW_ERR_MALFORMED      no Partial IV or kid, bad plaintext (4.02)
 *  @retval STW_ERR_NOT_FOUND      kid or kid context not this context's (4.01)
 *  @retval STW_ERR_REPLAY         Partial IV seen or too old (4.01 "Replay detected")
 *  @retval STW_ERR_BAD_SIGNATURE  decryption failed (4.00 "Decryption failed")
 *  @retval STW_ERR_STATE          verified, but the replay window is lost:
 *          msg and binding are filled; do not act on the request; answer
 *          with a protected 4.01 carrying the Echo of stw_oscore_echo_issue()
 *          (stw_oscore_protect_response() then uses a Partial IV), or, if
 *          the request carries that Echo, call stw_oscore_echo_accept(). */
stw_status_t stw_oscore_unprotect_request(stw_oscore_ctx_t *ctx, const stw_oscore_option_t *opt, const uint8_t *ct,
                                          size_t ct_len, uint8_t *pt, size_t pt_cap, stw_oscore_msg_t *msg,
                                          stw_oscore_request_t *binding) STW_WUR;

/** Protect a response (8.3) to the request in binding. Without with_piv it
 *  reuses the request's nonce and the option value is empty; with_piv uses
 *  the next Sender Sequence Number. A context whose replay window is lost
 *  always uses a Partial IV (B.1.2: an old request replayed after a reboot
 *  must not make it encrypt under the request's nonce a second time). */
stw_status_t stw_oscore_protect_response(stw_oscore_ctx_t *ctx, const stw_oscore_request_t *binding,
                                         const stw_oscore_msg_t *msg, bool with_piv, uint8_t *option,
                                         size_t option_cap, size_t *option_len, uint8_t *ct, size_t ct_cap,
                                         size_t *ct_len) STW_WUR;

/** Verify a response (8.4) to the request in binding. opt is its parsed
 *  OSCORE option; with a Partial IV the nonce is the responder's.
 *  @retval STW_ERR_BAD_SIGNATURE  decryption failed
 *  @retval STW_ERR_MALFORMED      bad plaintext */
stw_status_t stw_oscore_unprotect_response(stw_oscore_ctx_t *ctx, const stw_oscore_request_t *binding,
                                           const stw_oscore_option_t *opt, const uint8_t *ct, size_t ct_len,
                                           uint8_t *pt, size_t pt_cap, stw_oscore_msg_t *msg) STW_WUR;

/** Whether a request's kid and kid context select this context: kid equals
 *  the Recipient ID, and a kid context, when present, equals the ID Context. */
bool stw_oscore_ctx_matches(const stw_oscore_ctx_t *ctx, const stw_oscore_option_t *opt);

/* ---- replay window (7.4) ---- */

/** STW_OK if piv (a received Partial IV as a number) is new to the window;
 *  STW_ERR_REPLAY if seen or older than the window; STW_ERR_STATE if lost. */
stw_status_t stw_oscore_replay_check(const stw_oscore_replay_t *w, uint64_t piv) STW_WUR;
/** Record piv as received (after the message verified). */
void stw_oscore_replay_update(stw_oscore_replay_t *w, uint64_t piv);

/** B.1.2 step one: a fresh random Echo value for the 4.01 answering the
 *  first request after a reboot; it replaces any earlier one. */
stw_status_t stw_oscore_echo_issue(stw_oscore_ctx_t *ctx, uint8_t echo[STW_OSCORE_ECHO_LEN]) STW_WUR;

/** B.1.2 step two: request (verified, returned with STW_ERR_STATE) carried
 *  echo. If it is the value issued, the window restarts with the request's
 *  Partial IV as its lower limit (it and all below are refused from now on)
 *  and the request may be processed.
 *  @retval STW_ERR_UNAUTHENTICATED  no Echo pending or a different value
 *  @retval STW_ERR_STATE            the window is not lost */
stw_status_t stw_oscore_echo_accept(stw_oscore_ctx_t *ctx, const uint8_t *echo, size_t echo_len,
                                    const stw_oscore_request_t *request) STW_WUR;

/* ---- errors on the wire ---- */

/** The unprotected CoAP error (8.2, 7.4) for a failed stw_oscore_unprotect_request():
 *  *code as a CoAP code byte (class << 5 | detail) and a diagnostic.
 *  STW_ERR_MALFORMED 4.02 "Failed to decode COSE"; STW_ERR_NOT_FOUND 4.01
 *  "Security context not found"; STW_ERR_REPLAY 4.01 "Replay detected";
 *  STW_ERR_BAD_SIGNATURE 4.00 "Decryption failed". False for other
 *  statuses (STW_ERR_STATE is answered with a protected 4.01 and Echo). */
bool stw_oscore_error_reply(stw_status_t status, uint8_t *code, const char **diagnostic);

#endif
