/* Inside the thing: the server state its two files share. device/thing.c
 * is the DTLS side (RFC 9202) and the revocation list; device/thing_oscore.c
 * the ACE OSCORE profile (RFC 9203) with Observe, Block-wise and the
 * reboot rules of RFC 8613 Appendix B.1. */
#ifndef STW_DEVICE_THING_INTERNAL_H
#define STW_DEVICE_THING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "dev_internal.h"
#include "domain_watch.h"
#include "oscore.h"
#include "pep.h"
#include "steward/thing.h"

#define THING_RESOURCES_MAX 16
#define THING_OSC_NONCE_MAX 32   /* bytes of N1 we accept (RFC 9203 leaves it open) */
#define THING_OSC_NONCE_LEN 8    /* bytes of the N2 we pick */

typedef struct thing_peer {
  struct thing_peer *next, *prev;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
} thing_peer_t;

typedef struct {
  char path[STW_AIF_PATH_MAX + 1];   /* with its leading '/' */
  stw_thing_handler_t handler;
  void *arg;
} thing_resource_t;

/* The observation of the domain's revocation list. */
typedef struct {
  stw__domain_watch_t domain;       /* /revoked, once the domain's key checked out */
  uint64_t seq;
} revocation_watch_t;

/* One client's OSCORE context, the token it was derived for, and what it
 * takes to derive it once more after a restart (B.1.1): the token (it holds
 * the Master Secret sealed to this device's key), both nonces and both IDs. */
typedef struct {
  bool used;
  stw_oscore_ctx_t ctx;
  stw_pep_token_t tok;
  stw_thing_t *thing;               /* for the persist callback */
  uint8_t token[STW_PEP_TOKEN_MAX];
  size_t token_len;
  uint8_t n1[THING_OSC_NONCE_MAX];
  size_t n1_len;
  uint8_t n2[THING_OSC_NONCE_LEN];
  uint8_t id1[STW_OSCORE_ID_MAX];   /* the client's Recipient ID: our Sender ID */
  size_t id1_len;
} osc_slot_t;

/* An OSCORE observation (RFC 8613 4.1.3.5, RFC 7641): who, on which
 * context, and the registration every notification is bound to. */
typedef struct {
  bool used;
  size_t slot;
  coap_session_t *session;          /* referenced while observed */
  uint8_t token[8];
  size_t token_len;
  stw_oscore_request_t binding;     /* the registration's kid and Partial IV */
  char path[STW_AIF_PATH_MAX + 2];
  uint32_t seq;                     /* the Outer Observe value last sent */
} osc_observer_t;

/* Inner Block1 (RFC 7959 2.5, RFC 8613 4.1.3.4.1): the one request body
 * the thing is assembling, block by verified block, and what the blocks
 * that belong to it must match. One at a time keeps the memory at one
 * STW_THING_OSCORE_BODY_MAX buffer. */
#define THING_REQUEST_TAG_MAX 8    /* RFC 9175 3.2.1: Request-Tag is 0..8 bytes */
typedef struct {
  bool active;
  size_t slot;                     /* the context (client) that sends it */
  unsigned method;
  char path[STW_AIF_PATH_MAX + 2];
  bool has_tag;                    /* RFC 9175: absent is a value of its own */
  uint8_t tag[THING_REQUEST_TAG_MAX];
  size_t tag_len;
  unsigned szx;
  uint32_t next_num;               /* the block expected next */
  size_t len;                      /* bytes assembled so far */
  uint64_t touched_us;             /* stw_monotonic_us() of the last block */
} osc_upload_t;

/* One verified request block, as the upload sees it. */
typedef struct {
  size_t slot;
  unsigned method;
  const char *path;
  bool has_tag;
  const uint8_t *tag;
  size_t tag_len;
  uint32_t num;
  bool more;
  unsigned szx;
  bool has_size1;
  uint32_t size1;
  const uint8_t *payload;
  size_t len;
} osc_block1_t;

typedef enum {
  UPLOAD_CONTINUE,                 /* stored; 2.31 Continue */
  UPLOAD_COMPLETE,                 /* the body is whole in the buffer: run the handler once */
  UPLOAD_INCOMPLETE,               /* out of order or not of this body: 4.08 */
  UPLOAD_TOO_LARGE,                /* over the buffer: 4.13 with Size1 */
  UPLOAD_BUSY,                     /* another client's body is being assembled: 5.03 */
} upload_step_t;

#define THING_UPLOAD_IDLE_US (30u * 1000000u)  /* an upload silent this long may be replaced */

struct stw_thing {
  revocation_watch_t watch;
  coap_context_t *osc_ctx;         /* plain CoAP for the ACE OSCORE profile, NULL if off */
  stw_key_t *osc_key;              /* the LDevID key tokens' secrets are sealed to, parsed once */
  uint16_t osc_port;
  osc_slot_t osc[STW_THING_OSCORE_CONTEXTS];
  osc_observer_t observers[STW_THING_OSCORE_OBSERVERS];
  uint8_t *osc_body;               /* STW_THING_OSCORE_BODY_MAX bytes: a handler's answer */
  uint8_t *osc_upload_buf;         /* STW_THING_OSCORE_BODY_MAX bytes: a request body in blocks */
  osc_upload_t osc_upload;
  uint8_t osc_pt[STW_OSCORE_PLAINTEXT_MAX];                         /* a request's plaintext */
  uint8_t osc_sealed[STW_OSCORE_PLAINTEXT_MAX + STW_OSCORE_TAG_LEN]; /* an answer's ciphertext */
  coap_context_t *ctx;
  stw_dev_t *dev;
  stw_pep_t pep;
  bool pep_ready;
  uint16_t port;
  thing_peer_t peers;              /* sentinel: per-session peer keys */
  thing_resource_t res[THING_RESOURCES_MAX];
  size_t n_res;
};

/** The thing a libcoap session belongs to. */
stw_thing_t *stw__thing_of(coap_session_t *session);
/** An error answer: code and a short diagnostic as payload. */
void stw__thing_answer_error(coap_pdu_t *response, unsigned code, const char *diag);
/** Take one verified block b into the upload u (its body in buf, cap
 *  bytes) at now_us (RFC 7959 2.5). Block 0 starts a body (replacing one
 *  of the same client, or one idle for THING_UPLOAD_IDLE_US); any other
 *  block must be the next one of the body of the same client, method,
 *  path and Request-Tag, in the same size, and every block but the last
 *  exactly that size. A refusal leaves u as it was, except for
 *  UPLOAD_TOO_LARGE, which drops the body (wiped). device/thing_upload.c. */
upload_step_t stw__upload_block(osc_upload_t *u, uint8_t *buf, size_t cap, const osc_block1_t *b, uint64_t now_us);
/** Forget the body being assembled, wiping its bytes. */
void stw__upload_drop(osc_upload_t *u, uint8_t *buf, size_t cap);

/** Release what the OSCORE side holds (observers, contexts, body); the
 *  saved context states stay on disk for the next start. */
void stw__thing_oscore_free(stw_thing_t *t);

#endif
