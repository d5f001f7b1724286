/* The client side of the ACE OSCORE profile (RFC 9203): the token to the
 * device's /authz-info over plain CoAP, the context both sides derive, and
 * OSCORE-protected requests (RFC 8613) over one UDP socket. The CoAP
 * messages are small and built here by hand: confirmable, one token each,
 * answered piggybacked or separately. End to end on top: answers in blocks
 * (Inner Block2, 4.1.3.4.1) and request bodies in blocks (Inner Block1),
 * one observation (4.1.3.5) whose notifications are ordered by their
 * Partial IV and read whole when they come in blocks (RFC 7959 3.4), and
 * the Echo round of a device that restarted (Appendix B.1.2). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cbor_reader.h"
#include "net_internal.h"
#include "oscore.h"
#include "oscore_client_internal.h"
#include "steward/thing.h"

#define ACE_ACCESS_TOKEN 1
#define ACE_NONCE1 40
#define ACE_NONCE2 42
#define ACE_CLIENT_RECIPIENTID 43
#define ACE_SERVER_RECIPIENTID 44
#define CF_ACE_CBOR 19
#define NONCE_LEN 8
#define NONCE_MAX 32
#define OPT_ETAG 4
#define OPT_OBSERVE 6
#define OPT_URI_PATH 11
#define OPT_CONTENT_FORMAT 12
#define OPT_BLOCK2 23
#define OPT_BLOCK1 27
#define OPT_SIZE1 60
#define OPT_REQUEST_TAG 292   /* RFC 9175 3.2 */
#define CODE_CONTINUE COAP_RESPONSE_CODE(231)
#define CODE_INCOMPLETE COAP_RESPONSE_CODE(408)
#define BLOCK_SZX 6           /* 1024-byte blocks, as the device sends its own */
#define BLOCK_SIZE ((size_t)16 << BLOCK_SZX)
#define BLOCK_NUM_MAX 0xfffffu  /* 20 bits of NUM (RFC 7959 2.2) */
#define CODE_POST 2
#define CODE_FETCH 5
#define ECHO_MAX 40           /* RFC 9175 2.2 */
#define OBSERVE_REGISTER 0    /* RFC 7641 2 */
#define OBSERVE_DEREGISTER 1
#define ETAG_MAX 8
#define TOKEN_LEN 4
#define ATTEMPTS 4            /* RFC 7252 MAX_RETRANSMIT */
#define FIRST_WAIT_MS 2000    /* ACK_TIMEOUT */
#define DATAGRAM_MAX (64 + STW_OSCORE_OPTION_MAX + STW_OSCORE_PLAINTEXT_MAX + STW_OSCORE_TAG_LEN)

struct stw_oscore_peer {
  int fd;
  stw_oscore_ctx_t ctx;
  uint16_t mid;
  uint32_t token;
  uint8_t last[DATAGRAM_MAX];
  size_t last_len;
  stw_oscore_request_t last_binding;
  uint8_t last_token[TOKEN_LEN];
  /* The observation: the registration's token and binding (every
   * notification is bound to it, 4.1.3.5.1) and the Notification Number,
   * the highest Partial IV of a notification delivered (7.4.1). */
  struct {
    bool active;
    uint8_t token[TOKEN_LEN];
    stw_oscore_request_t binding;
    bool numbered;
    uint64_t number;
    uint64_t delivered;
    stw_oscore_notify_t notify;
    void *arg;
    char path[STW_AIF_PATH_MAX + 1];
    /* A verified notification over one block: its first block, kept
     * until stw_oscore_peer_poll() has read the others (RFC 7959 3.4);
     * reading them inside another exchange would clobber that one. */
    struct {
      bool waiting;
      unsigned code;
      unsigned szx;
      uint8_t etag[ETAG_MAX];
      size_t etag_len;
      uint8_t first[BLOCK_SIZE];
    } pending;
  } obs;
  uint32_t request_tag;         /* the last Request-Tag given to a body in blocks */
  /* What was posted to /authz-info, to post again when the device has lost
   * the context (it keeps contexts in RAM only, so a restart drops them). */
  uint8_t posted[STW_PEP_TOKEN_MAX];
  size_t posted_len;
  stw_oscore_material_t material;
  /* Working buffers: per peer, so peers may be used from different threads. */
  uint8_t resp[DATAGRAM_MAX];
  uint8_t ct[STW_OSCORE_PLAINTEXT_MAX + STW_OSCORE_TAG_LEN];
  uint8_t pt[STW_OSCORE_PLAINTEXT_MAX];
};


/* "coap://host:port" or "coap://[v6]:port" → a connected UDP socket. */
static stw_status_t connect_uri(const char *uri, int *fd_out)
{
  static const char scheme[] = "coap://";
  if (uri == NULL || strncmp(uri, scheme, sizeof(scheme) - 1) != 0)
    return STW_ERR_INVALID;
  const char *h = uri + sizeof(scheme) - 1;
  char host[256], port[8] = "5683";
  const char *end;
  if (*h == '[') {
    end = strchr(h, ']');
    if (end == NULL)
      return STW_ERR_INVALID;
    h++;
  } else {
    end = h + strcspn(h, ":/");
  }
  size_t hl = (size_t)(end - h);
  if (hl == 0 || hl >= sizeof(host))
    return STW_ERR_INVALID;
  memcpy(host, h, hl);
  host[hl] = '\0';
  const char *p = *end == ']' ? end + 1 : end;
  if (*p == ':') {
    size_t pl = strcspn(p + 1, "/");
    if (pl == 0 || pl >= sizeof(port) || strspn(p + 1, "0123456789") != pl)
      return STW_ERR_INVALID;
    memcpy(port, p + 1, pl);
    port[pl] = '\0';
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_family = AF_UNSPEC;
  if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
    return STW_ERR_NETWORK;
  int fd = socket(res->ai_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (fd >= 0)
      close(fd);
    freeaddrinfo(res);
    return STW_ERR_NETWORK;
  }
  freeaddrinfo(res);
  *fd_out = fd;
  return STW_OK;
}

/* Header, token (a fresh one, or reuse's), options (already serialized), payload. */
static stw_status_t build(stw_oscore_peer_t *p, uint8_t code, const uint8_t *reuse, const uint8_t *opts,
                          size_t opts_len, const uint8_t *payload, size_t payload_len, uint8_t *out, size_t cap,
                          size_t *out_len)
{
  size_t need = 4 + TOKEN_LEN + opts_len + (payload_len ? 1 + payload_len : 0);
  if (need > cap)
    return STW_ERR_TOO_LARGE;
  p->mid++;
  p->token++;
  out[0] = 0x40 | TOKEN_LEN;  /* version 1, confirmable */
  out[1] = code;
  out[2] = (uint8_t)(p->mid >> 8);
  out[3] = (uint8_t)p->mid;
  for (size_t i = 0; i < TOKEN_LEN; i++)
    p->last_token[i] = out[4 + i] = reuse != NULL ? reuse[i] : (uint8_t)(p->token >> (8 * (TOKEN_LEN - 1 - i)));
  size_t n = 4 + TOKEN_LEN;
  if (opts_len > 0)
    memcpy(out + n, opts, opts_len);
  n += opts_len;
  if (payload_len > 0) {
    out[n++] = 0xff;
    memcpy(out + n, payload, payload_len);
    n += payload_len;
  }
  *out_len = n;
  return STW_OK;
}

stw_status_t stw__coap_udp_parse(const uint8_t *b, size_t len, stw__coap_msg_t *m)
{
  memset(m, 0, sizeof(*m));
  if (len < 4 || (b[0] >> 6) != 1 || (b[0] & 0x0f) > 8 || (size_t)(4 + (b[0] & 0x0f)) > len)
    return STW_ERR_MALFORMED;
  m->type = (b[0] >> 4) & 3;
  m->code = b[1];
  m->mid = (uint16_t)(b[2] << 8 | b[3]);
  m->token = b + 4;
  m->token_len = b[0] & 0x0f;
  const uint8_t *q = b + 4 + m->token_len, *end = b + len;
  uint32_t number = 0;
  while (q < end && *q != 0xff) {
    uint32_t delta = *q >> 4, l = *q & 0x0f;
    q++;
    uint32_t *fields[2] = { &delta, &l };
    for (int i = 0; i < 2; i++) {
      if (*fields[i] == 13) {
        if (end - q < 1)
          return STW_ERR_MALFORMED;
        *fields[i] = 13u + q[0];
        q += 1;
      } else if (*fields[i] == 14) {
        if (end - q < 2)
          return STW_ERR_MALFORMED;
        *fields[i] = 269u + (uint32_t)(q[0] << 8 | q[1]);
        q += 2;
      } else if (*fields[i] == 15) {
        return STW_ERR_MALFORMED;
      }
    }
    number += delta;
    if (number > 65535 || (size_t)(end - q) < l)
      return STW_ERR_MALFORMED;
    if (number == STW_COAP_OPTION_OSCORE) {
      m->has_oscore = true;
      m->oscore = q;
      m->oscore_len = l;
    }
    q += l;
  }
  if (q < end) {
    q++;
    if (q == end)
      return STW_ERR_MALFORMED;  /* a marker with no payload */
    m->payload = q;
    m->payload_len = (size_t)(end - q);
  }
  return STW_OK;
}

static void on_notification(stw_oscore_peer_t *p, const stw__coap_msg_t *m);

/* Message-layer answer to a confirmable message: an empty ACK, or a reset
 * for one we have no use for (a notification of an observation we ended
 * tells the device so, RFC 7641 3.6). */
static stw_status_t reply_empty(stw_oscore_peer_t *p, const stw__coap_msg_t *m, bool reset)
{
  uint8_t e[4] = { reset ? 0x70 : 0x60, 0, (uint8_t)(m->mid >> 8), (uint8_t)m->mid };
  return send(p->fd, e, sizeof(e), 0) == (ssize_t)sizeof(e) ? STW_OK : STW_ERR_NETWORK;
}

/* A datagram that is not the answer awaited: a notification of our
 * observation, or something to reset. */
static stw_status_t on_other(stw_oscore_peer_t *p, const stw__coap_msg_t *m)
{
  if (p->obs.active && m->code != 0 && m->token_len == TOKEN_LEN && memcmp(m->token, p->obs.token, TOKEN_LEN) == 0) {
    on_notification(p, m);
    return STW_OK;
  }
  return m->type == 0 && m->code != 0 ? reply_empty(p, m, true) : STW_OK;
}

/* Send, retransmit on silence, and wait for the answer carrying our token
 * (piggybacked in an ACK, or separate after an empty ACK). */
static stw_status_t exchange(stw_oscore_peer_t *p, const uint8_t *dgram, size_t len, uint8_t *resp, size_t cap,
                             size_t *resp_len, stw__coap_msg_t *m)
{
  int wait_ms = FIRST_WAIT_MS;
  for (int attempt = 0; attempt < ATTEMPTS; attempt++, wait_ms *= 2) {
    if (send(p->fd, dgram, len, 0) != (ssize_t)len)
      return STW_ERR_NETWORK;
    for (;;) {
      struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
      int r = poll(&pfd, 1, wait_ms);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;  /* retransmit */
      ssize_t got = recv(p->fd, resp, cap, 0);
      if (got < 0)
        return STW_ERR_NETWORK;
      *resp_len = (size_t)got;
      if (stw__coap_udp_parse(resp, *resp_len, m) != STW_OK)
        continue;
      if (m->code == 0)
        continue;  /* an empty ACK (the answer comes separately) */
      if (m->token_len != TOKEN_LEN || memcmp(m->token, p->last_token, TOKEN_LEN) != 0) {
        if (on_other(p, m) != STW_OK)
          return STW_ERR_NETWORK;
        continue;
      }
      if (m->type == 0 && reply_empty(p, m, false) != STW_OK)
        return STW_ERR_NETWORK;
      return STW_OK;
    }
  }
  return STW_ERR_TIMEOUT;
}

stw_status_t stw__ace_oscore_answer_parse(const uint8_t *buf, size_t len, const uint8_t **n2, size_t *n2_len,
                                          const uint8_t **id2, size_t *id2_len)
{
  stw_cbor_reader_t r;
  size_t pairs = 0;
  *n2 = *id2 = NULL;
  *n2_len = *id2_len = 0;
  if (buf == NULL || len == 0 || len > STW_ACE_OSCORE_ANSWER_MAX)
    goto fail;
  stw_cbor_reader_init(&r, buf, len);
  if (stw_cbor_read_map(&r, &pairs) != STW_OK || pairs > 8)
    goto fail;
  bool seen_n2 = false, seen_id2 = false;
  for (size_t i = 0; i < pairs; i++) {
    uint64_t key = 0;
    if (stw_cbor_read_uint(&r, &key) != STW_OK)
      goto fail;
    if (key == ACE_NONCE2 || key == ACE_SERVER_RECIPIENTID) {
      bool *seen = key == ACE_NONCE2 ? &seen_n2 : &seen_id2;
      const uint8_t *v = NULL;
      size_t vl = 0;
      if (*seen || stw_cbor_read_bstr(&r, &v, &vl) != STW_OK)
        goto fail;  /* twice: which one would count? */
      *seen = true;
      if (key == ACE_NONCE2)
        *n2 = v, *n2_len = vl;
      else
        *id2 = v, *id2_len = vl;
    } else if (stw_cbor_skip(&r) != STW_OK) {
      goto fail;
    }
  }
  if (!seen_n2 || !seen_id2 || *n2_len == 0 || *n2_len > NONCE_MAX || *id2_len > STW_OSCORE_ID_MAX ||
      stw_cbor_expect_end(&r) != STW_OK)
    goto fail;
  if (*id2 == NULL)
    *id2 = buf;  /* an empty ID2: a valid pointer all the same */
  return STW_OK;
fail:
  *n2 = *id2 = NULL;
  *n2_len = *id2_len = 0;
  return STW_ERR_MALFORMED;
}

static size_t put_bstr(uint8_t *out, const uint8_t *v, size_t len)
{
  size_t n = stw_cbor_put_head(STW_CBOR_BSTR, len, out);
  if (len > 0)
    memcpy(out + n, v, len);
  return n + len;
}

static stw_status_t copy_answer(const uint8_t *v, size_t len, uint8_t **answer, size_t *answer_len)
{
  if (answer == NULL)
    return STW_OK;
  *answer = malloc(len + 1);
  if (*answer == NULL)
    return STW_ERR_NOMEM;
  if (len > 0)
    memcpy(*answer, v, len);
  (*answer)[len] = '\0';
  if (answer_len != NULL)
    *answer_len = len;
  return STW_OK;
}

static stw_status_t status_of(unsigned code)
{
  return (code >> 5) == 2 ? STW_OK : stw__status_of_code(code);
}

/* POST /authz-info {1: token, 40: N1, 43: ID1} → 2.01 {42: N2, 44: ID2}; derive. */
static stw_status_t post_token(stw_oscore_peer_t *p, const uint8_t *token, size_t token_len,
                               const stw_oscore_material_t *mat, unsigned *code, uint8_t **answer,
                               size_t *answer_len)
{
  uint8_t n1[NONCE_LEN], id1[2];
  stw_status_t st;
  if ((st = stw_random(n1, sizeof(n1))) != STW_OK || (st = stw_random(id1, sizeof(id1))) != STW_OK)
    return st;
  stw_buf_t body;
  stw_buf_init(&body, STW_PEP_TOKEN_MAX + 64);
  uint8_t head[STW_CBOR_HEAD_MAX + NONCE_LEN + 8];
  size_t n = stw_cbor_put_head(STW_CBOR_MAP, 3, head);
  n += stw_cbor_put_head(STW_CBOR_UINT, ACE_ACCESS_TOKEN, head + n);
  n += stw_cbor_put_head(STW_CBOR_BSTR, token_len, head + n);
  if ((st = stw_buf_append(&body, head, n)) != STW_OK || (st = stw_buf_append(&body, token, token_len)) != STW_OK)
    goto out;
  n = stw_cbor_put_head(STW_CBOR_UINT, ACE_NONCE1, head);
  n += put_bstr(head + n, n1, sizeof(n1));
  n += stw_cbor_put_head(STW_CBOR_UINT, ACE_CLIENT_RECIPIENTID, head + n);
  n += put_bstr(head + n, id1, sizeof(id1));
  if ((st = stw_buf_append(&body, head, n)) != STW_OK)
    goto out;
  uint8_t opts[32], cf[2];
  size_t opts_len = 0, cf_len = 0;
  uint16_t last = 0;
  cf[cf_len++] = CF_ACE_CBOR;
  if ((st = stw_oscore_opt_put(opts, sizeof(opts), &opts_len, &last, OPT_URI_PATH, (const uint8_t *)"authz-info",
                               10)) != STW_OK ||
      (st = stw_oscore_opt_put(opts, sizeof(opts), &opts_len, &last, OPT_CONTENT_FORMAT, cf, cf_len)) != STW_OK ||
      (st = build(p, CODE_POST, NULL, opts, opts_len, body.data, body.len, p->last, sizeof(p->last),
                   &p->last_len)) !=
          STW_OK)
    goto out;
  size_t resp_len = 0;
  stw__coap_msg_t m;
  if ((st = exchange(p, p->last, p->last_len, p->resp, sizeof(p->resp), &resp_len, &m)) != STW_OK)
    goto out;
  if (m.code != COAP_RESPONSE_CODE(201)) {
    if (code != NULL)
      *code = m.code;
    st = stw__status_of_code(m.code);
    if (copy_answer(m.payload, m.payload_len, answer, answer_len) != STW_OK)
      st = STW_ERR_NOMEM;
    goto out;
  }
  const uint8_t *n2 = NULL, *id2 = NULL;
  size_t n2_len = 0, id2_len = 0;
  if ((st = stw__ace_oscore_answer_parse(m.payload, m.payload_len, &n2, &n2_len, &id2, &id2_len)) != STW_OK)
    goto out;
  /* The same Master Salt as the device: bstr(salt) | bstr(N1) | bstr(N2). */
  uint8_t salt[3 * STW_CBOR_HEAD_MAX + STW_OSCORE_MATERIAL_SALT_MAX + NONCE_LEN + NONCE_MAX];
  size_t salt_len = put_bstr(salt, mat->salt, mat->salt_len);
  salt_len += put_bstr(salt + salt_len, n1, sizeof(n1));
  salt_len += put_bstr(salt + salt_len, n2, n2_len);
  stw_oscore_params_t params = {
    .master_secret = mat->ms, .master_secret_len = mat->ms_len, .master_salt = salt, .master_salt_len = salt_len,
    .sender_id = id2, .sender_id_len = id2_len, .recipient_id = id1, .recipient_id_len = sizeof(id1),
    .has_id_context = mat->has_context_id, .id_context = mat->context_id, .id_context_len = mat->context_id_len,
  };
  st = stw_oscore_ctx_derive(&p->ctx, &params);
  stw_wipe(salt, sizeof(salt));
out:
  stw_buf_free(&body, false);
  return st;
}

static uint8_t method_code(unsigned bit)
{
  for (uint8_t c = 1; c <= 7; c++)
    if (bit == 1u << (c - 1))
      return c;  /* AIF bit order is GET 0.01 .. iPATCH 0.07 */
  return 0;
}

stw_status_t stw__coap_uint_decode(const uint8_t *v, size_t len, size_t max_len, uint32_t *out)
{
  *out = 0;
  if (len > max_len || len > 4)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < len; i++)
    *out = *out << 8 | v[i];
  return STW_OK;
}

size_t stw__coap_uint_encode(uint32_t value, uint8_t out[4])
{
  size_t n = 0;
  for (int shift = 24; shift >= 0; shift -= 8)
    if (n > 0 || (value >> shift) != 0)
      out[n++] = (uint8_t)(value >> shift);
  return n;
}

/* What a request carries beyond method, path and body. */
typedef struct {
  int observe;              /* -1: none; 0 register, 1 deregister */
  bool has_block2;
  uint32_t block2;          /* NUM << 4 | SZX */
  bool has_block1;
  uint32_t block1;          /* NUM << 4 | M << 3 | SZX */
  bool has_size1;
  uint32_t size1;           /* the whole body's size, with its first block */
  bool has_tag;
  uint32_t tag;             /* Request-Tag, shortest bytes */
  const uint8_t *echo;      /* NULL: none */
  size_t echo_len;
  const uint8_t *token;     /* NULL: a fresh token */
} extras_t;

/* Inner options in ascending order (Observe 6, Uri-Path 11, Block2 23,
 * Block1 27, Size1 60, Echo 252, Request-Tag 292), the protection, and the
 * outer message: Observe is Class E and U (4.1.3.5.1) and makes the Outer
 * Code FETCH (4.2), else POST. */
static stw_status_t protect(stw_oscore_peer_t *p, unsigned method, const char *path, const uint8_t *body, size_t len,
                            const extras_t *x, uint8_t *out, size_t cap, size_t *out_len)
{
  uint8_t code = method_code(method);
  if (p == NULL || code == 0 || path == NULL || path[0] != '/' || strlen(path) > STW_AIF_PATH_MAX ||
      (body == NULL && len > 0) || len > STW_OSCORE_PLAINTEXT_MAX || x->echo_len > ECHO_MAX)
    return STW_ERR_INVALID;
  uint8_t inner_opts[STW_AIF_PATH_MAX + 96 + ECHO_MAX], u[4], ov[4];
  size_t inner_len = 0, ov_len = 0;
  uint16_t last = 0;
  stw_status_t st;
  if (x->observe >= 0) {
    ov_len = stw__coap_uint_encode((uint32_t)x->observe, ov);
    if ((st = stw_oscore_opt_put(inner_opts, sizeof(inner_opts), &inner_len, &last, OPT_OBSERVE, ov, ov_len)) != STW_OK)
      return st;
  }
  const char *seg = path + 1;
  while (*seg != '\0') {
    size_t sl = strcspn(seg, "/");
    if (sl > 0 && (st = stw_oscore_opt_put(inner_opts, sizeof(inner_opts), &inner_len, &last, OPT_URI_PATH,
                                           (const uint8_t *)seg, sl)) != STW_OK)
      return st;
    seg += sl;
    if (*seg == '/')
      seg++;
  }
  if (x->has_block2 &&
      (st = stw_oscore_opt_put(inner_opts, sizeof(inner_opts), &inner_len, &last, OPT_BLOCK2, u,
                               stw__coap_uint_encode(x->block2, u))) != STW_OK)
    return st;
  if (x->has_block1 &&
      (st = stw_oscore_opt_put(inner_opts, sizeof(inner_opts), &inner_len, &last, OPT_BLOCK1, u,
                               stw__coap_uint_encode(x->block1, u))) != STW_OK)
    return st;
  if (x->has_size1 &&
      (st = stw_oscore_opt_put(inner_opts, sizeof(inner_opts), &inner_len, &last, OPT_SIZE1, u,
                               stw__coap_uint_encode(x->size1, u))) != STW_OK)
    return st;
  if (x->echo != NULL && (st = stw_oscore_opt_put(inner_opts, sizeof(inner_opts), &inner_len, &last,
                                                  STW_COAP_OPTION_ECHO, x->echo, x->echo_len)) != STW_OK)
    return st;
  if (x->has_tag &&
      (st = stw_oscore_opt_put(inner_opts, sizeof(inner_opts), &inner_len, &last, OPT_REQUEST_TAG, u,
                               stw__coap_uint_encode(x->tag, u))) != STW_OK)
    return st;
  stw_oscore_msg_t msg = { .code = code, .options = inner_opts, .options_len = inner_len,
                           .payload = len ? body : NULL, .payload_len = len };
  uint8_t option[STW_OSCORE_OPTION_MAX], outer[STW_OSCORE_OPTION_MAX + 16];
  size_t option_len = 0, ct_len = 0, outer_len = 0;
  if ((st = stw_oscore_protect_request(&p->ctx, &msg, false, option, sizeof(option), &option_len, p->ct, sizeof(p->ct),
                                       &ct_len, &p->last_binding)) != STW_OK)
    return st;
  last = 0;
  if (x->observe >= 0 &&
      (st = stw_oscore_opt_put(outer, sizeof(outer), &outer_len, &last, OPT_OBSERVE, ov, ov_len)) != STW_OK)
    return st;
  if ((st = stw_oscore_opt_put(outer, sizeof(outer), &outer_len, &last, STW_COAP_OPTION_OSCORE, option,
                               option_len)) != STW_OK)
    return st;
  return build(p, x->observe >= 0 ? CODE_FETCH : CODE_POST, x->token, outer, outer_len, p->ct, ct_len, out, cap,
               out_len);
}

stw_status_t stw_oscore_peer_protect(stw_oscore_peer_t *p, unsigned method, const char *path, const uint8_t *body,
                                     size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
  extras_t none = { .observe = -1 };
  return protect(p, method, path, body, len, &none, out, cap, out_len);
}

const uint8_t *stw_oscore_peer_last_request(const stw_oscore_peer_t *p, size_t *len)
{
  if (p == NULL || p->last_len == 0) {
    if (len != NULL)
      *len = 0;
    return NULL;
  }
  if (len != NULL)
    *len = p->last_len;
  return p->last;
}

void stw_oscore_peer_free(stw_oscore_peer_t *p)
{
  if (p == NULL)
    return;
  if (p->fd >= 0)
    close(p->fd);
  stw_oscore_ctx_wipe(&p->ctx);
  stw_oscore_material_clear(&p->material);
  stw_wipe(p, sizeof(*p));
  free(p);
}

static uint64_t piv_number(const stw_oscore_option_t *opt)
{
  uint64_t v = 0;
  for (size_t i = 0; i < opt->piv_len; i++)
    v = v << 8 | opt->piv[i];
  return v;
}

static bool has_option(const stw_oscore_msg_t *msg, uint16_t number, const uint8_t **v, size_t *len)
{
  const uint8_t *dummy_v;
  size_t dummy_len;
  return stw_oscore_msg_find_option(msg, number, v ? v : &dummy_v, len ? len : &dummy_len) == STW_OK;
}

/* A datagram on the observation's token: a response to the registration
 * protected under the device's own Partial IV (4.1.3.5.2). Delivered only
 * when it verifies and its Partial IV is above the Notification Number;
 * an older one is not delivered as a notification at all (7.4.1). One
 * that carries block 0 of a larger representation (Block2 with M, RFC
 * 7959 3.4) waits in obs.pending for its other blocks; a newer one
 * replaces it there. */
static void on_notification(stw_oscore_peer_t *p, const stw__coap_msg_t *m)
{
  if (m->type == 0 && reply_empty(p, m, false) != STW_OK)
    return;
  stw_oscore_option_t opt;
  stw_oscore_msg_t inner;
  if (!m->has_oscore || m->payload == NULL || stw_oscore_option_parse(m->oscore, m->oscore_len, &opt) != STW_OK ||
      opt.piv_len == 0)
    return;
  uint64_t number = piv_number(&opt);
  if (p->obs.numbered && number <= p->obs.number)
    return;
  if (stw_oscore_unprotect_response(&p->ctx, &p->obs.binding, &opt, m->payload, m->payload_len, p->pt, sizeof(p->pt),
                                    &inner) != STW_OK)
    return;
  p->obs.numbered = true;
  p->obs.number = number;
  if (!has_option(&inner, OPT_OBSERVE, NULL, NULL) || (inner.code >> 5) != 2)
    p->obs.active = false;  /* the last one (RFC 7641 3.2) */
  const uint8_t *v = NULL, *tag = NULL;
  size_t vl = 0, tag_len = 0;
  uint32_t b = 0;
  if ((inner.code >> 5) == 2 && has_option(&inner, OPT_BLOCK2, &v, &vl)) {
    if (stw__coap_uint_decode(v, vl, 3, &b) != STW_OK || (b >> 4) != 0 || (b & 7) > BLOCK_SZX ||
        ((b & 8) != 0 && inner.payload_len != (size_t)16 << (b & 7)) ||
        (has_option(&inner, OPT_ETAG, &tag, &tag_len) && (tag_len == 0 || tag_len > ETAG_MAX)))
      goto out;  /* not a first block we can continue from */
    if ((b & 8) != 0) {
      p->obs.pending.waiting = true;
      p->obs.pending.code = inner.code;
      p->obs.pending.szx = b & 7;
      p->obs.pending.etag_len = tag != NULL ? tag_len : 0;
      if (tag != NULL)
        memcpy(p->obs.pending.etag, tag, tag_len);
      memcpy(p->obs.pending.first, inner.payload, inner.payload_len);
      goto out;
    }
  }
  p->obs.pending.waiting = false;  /* superseded: this one is newer and whole */
  p->obs.delivered++;
  if (p->obs.notify != NULL)
    p->obs.notify(p->obs.arg, inner.code, inner.payload, inner.payload_len);
out:
  stw_wipe(p->pt, sizeof(p->pt));
}

/* Where reading the rest of a representation starts: after the first
 * block of a notification (RFC 7959 3.4), which sets size and ETag. */
typedef struct {
  unsigned szx;
  const uint8_t *etag;
  size_t etag_len;
  const uint8_t *first;     /* block 0: 16 << szx bytes */
} resume_t;

/* A body over one block goes in blocks (Inner Block1, RFC 7959 2.5),
 * each block a request of its own, all under one Request-Tag so that the
 * device never mixes the blocks of two bodies (RFC 9175 3.3). */
typedef struct {
  bool on;
  size_t len;               /* the whole body */
  size_t sent;              /* bytes the device kept (2.31) */
  size_t part;              /* bytes of the block in flight */
  unsigned szx;
  uint32_t tag;
  bool restarted;
} upload_t;

/* From block 0, under a Request-Tag this peer has not used before. */
static void upload_start(stw_oscore_peer_t *p, upload_t *up)
{
  if (++p->request_tag == 0)
    p->request_tag = 1;
  up->tag = p->request_tag;
  up->sent = 0;
  up->szx = BLOCK_SZX;
}

/* The block in flight: its bytes and its options (Size1 with the first,
 * so that a device that cannot take the whole body says so at once). */
static void upload_block(upload_t *up, const uint8_t *body, extras_t *x, const uint8_t **payload, size_t *payload_len)
{
  size_t size = (size_t)16 << up->szx;
  up->part = up->len - up->sent < size ? up->len - up->sent : size;
  uint32_t num = (uint32_t)(up->sent / size);
  bool more = up->sent + up->part < up->len;
  x->has_block1 = true;
  x->block1 = num << 4 | (more ? 8u : 0u) | up->szx;
  x->has_size1 = num == 0;
  x->size1 = (uint32_t)up->len;
  x->has_tag = true;
  x->tag = up->tag;
  *payload = body + up->sent;
  *payload_len = up->part;
}

/* The device's answer to a block. *next: send the next block (2.31
 * Continue, in the size it asks, never larger), or the body again from
 * block 0 (4.08 after block 0: it lost the body, once). Else the answer
 * is final and read as any other; a 2.xx must answer the last block and
 * fit in one block (the next blocks of an answer would run the method
 * again). */
static stw_status_t upload_answer(stw_oscore_peer_t *p, upload_t *up, const stw_oscore_msg_t *inner, bool *next)
{
  *next = false;
  const uint8_t *v = NULL;
  size_t vl = 0;
  uint32_t b1 = 0, b2 = 0;
  bool acked = has_option(inner, OPT_BLOCK1, &v, &vl) && stw__coap_uint_decode(v, vl, 3, &b1) == STW_OK;
  size_t size = (size_t)16 << up->szx;
  bool more = up->sent + up->part < up->len;
  if (inner->code == CODE_CONTINUE) {
    if (!more || !acked || (b1 >> 4) != up->sent / size || (b1 & 8) == 0 || (b1 & 7) > up->szx)
      return STW_ERR_MALFORMED;
    up->sent += up->part;  /* a multiple of the smaller size too */
    up->szx = b1 & 7;
    *next = true;
    return STW_OK;
  }
  if (inner->code == CODE_INCOMPLETE && up->sent > 0 && !up->restarted) {
    up->restarted = true;
    upload_start(p, up);
    *next = true;
    return STW_OK;
  }
  if ((inner->code >> 5) != 2)
    return STW_OK;
  if (more || (acked && (b1 >> 4) != up->sent / size))
    return STW_ERR_MALFORMED;  /* a success before the last block, or for another block */
  if (has_option(inner, OPT_BLOCK2, &v, &vl) && (stw__coap_uint_decode(v, vl, 3, &b2) != STW_OK || (b2 & 8) != 0))
    return STW_ERR_UNSUPPORTED;
  return STW_OK;
}

/* One request and what the device may ask on the way: the token posted
 * again (an unprotected 4.01/4.00: it lost the context), the request
 * repeated with an Echo (a protected 4.01 with Echo, B.1.2), a body over
 * one block sent in blocks (Inner Block1), the rest of an answer in
 * blocks (Inner Block2, RFC 7959 2.4: each block its own request, same
 * size, same ETag). observe: -1, or the registration (0) or
 * deregistration (1) value, with reuse the token of a deregistration.
 * resume: NULL, or the first block of a notification whose other blocks
 * are to be read (RFC 7959 3.4). */
static stw_status_t call(stw_oscore_peer_t *p, unsigned method, const char *path, const uint8_t *body, size_t len,
                         int observe, const uint8_t *reuse, const resume_t *resume, unsigned *code, uint8_t **answer,
                         size_t *answer_len)
{
  stw_buf_t whole;
  stw_buf_init(&whole, STW_THING_OSCORE_BODY_MAX);
  uint8_t echo[ECHO_MAX], etag[ETAG_MAX];
  size_t echo_len = 0, etag_len = 0, resp_len = 0;
  bool reposted = false, echoed = false, blocks = false, has_etag = false;
  uint32_t num = 0;
  unsigned szx = 0;
  upload_t up = { .on = len > BLOCK_SIZE, .len = len };
  stw__coap_msg_t m;
  stw_oscore_msg_t inner;
  stw_status_t st = STW_OK;
  if (up.on && (len - 1) / BLOCK_SIZE > BLOCK_NUM_MAX) {
    st = STW_ERR_TOO_LARGE;
    goto out;
  }
  if (up.on)
    upload_start(p, &up);
  if (resume != NULL) {
    blocks = true;
    num = 1;
    szx = resume->szx;
    has_etag = resume->etag_len > 0;
    etag_len = resume->etag_len;
    if (has_etag)
      memcpy(etag, resume->etag, etag_len);
    if ((st = stw_buf_append(&whole, resume->first, (size_t)16 << szx)) != STW_OK)
      goto out;
  }
  for (;;) {
    extras_t x = { .observe = num == 0 ? observe : -1, .has_block2 = num > 0, .block2 = num << 4 | szx,
                   .echo = echo_len > 0 ? echo : NULL, .echo_len = echo_len, .token = num == 0 ? reuse : NULL };
    const uint8_t *payload = body;
    size_t payload_len = len;
    if (up.on)
      upload_block(&up, body, &x, &payload, &payload_len);
    if ((st = protect(p, method, path, payload, payload_len, &x, p->last, sizeof(p->last), &p->last_len)) != STW_OK ||
        (st = exchange(p, p->last, p->last_len, p->resp, sizeof(p->resp), &resp_len, &m)) != STW_OK)
      goto out;
    if (!m.has_oscore) {
      /* Refused before it could be verified: an unprotected error (8.2).
       * 4.01 "Security context not found" (the device restarted with its
       * contexts in RAM) or 4.00 (our Recipient ID went to another client
       * since): post the token once more for a fresh context (new nonces,
       * so new keys: nothing is encrypted twice under the old ones). A
       * revoked or expired token is refused at that post. */
      if ((m.code == COAP_RESPONSE_CODE(401) || m.code == COAP_RESPONSE_CODE(400)) && !reposted && num == 0) {
        reposted = true;
        p->obs.active = false;
        if ((st = post_token(p, p->posted, p->posted_len, &p->material, code, answer, answer_len)) != STW_OK)
          goto out;
        if (up.on)
          upload_start(p, &up);  /* a fresh context holds no block of the body */
        continue;
      }
      if (code != NULL)
        *code = m.code;
      st = (m.code >> 5) == 2 ? STW_ERR_BAD_SIGNATURE : stw__status_of_code(m.code);
      if (copy_answer(m.payload, m.payload_len, answer, answer_len) != STW_OK)
        st = STW_ERR_NOMEM;
      goto out;
    }
    stw_oscore_option_t opt;
    if (stw_oscore_option_parse(m.oscore, m.oscore_len, &opt) != STW_OK || m.payload == NULL) {
      st = STW_ERR_MALFORMED;
      goto out;
    }
    if ((st = stw_oscore_unprotect_response(&p->ctx, &p->last_binding, &opt, m.payload, m.payload_len, p->pt,
                                            sizeof(p->pt), &inner)) != STW_OK)
      goto out;
    if (code != NULL)
      *code = inner.code;
    const uint8_t *v = NULL;
    size_t vl = 0;
    if (inner.code == COAP_RESPONSE_CODE(401) && !echoed && has_option(&inner, STW_COAP_OPTION_ECHO, &v, &vl) &&
        vl > 0 && vl <= ECHO_MAX) {
      /* B.1.2: the device restarted and asks for proof that this request is
       * fresh; the same request goes again (new Partial IV) with the Echo. */
      memcpy(echo, v, vl);
      echo_len = vl;
      echoed = true;
      continue;
    }
    echo_len = 0;
    if (num == 0 && observe == OBSERVE_REGISTER) {
      p->obs.active = (inner.code >> 5) == 2 && has_option(&inner, OPT_OBSERVE, NULL, NULL);
      memcpy(p->obs.token, p->last_token, TOKEN_LEN);
      p->obs.binding = p->last_binding;
      p->obs.numbered = opt.piv_len > 0;
      p->obs.number = piv_number(&opt);
      p->obs.delivered = 0;
    } else if (num == 0 && observe == OBSERVE_DEREGISTER) {
      p->obs.active = false;
    }
    if (up.on) {
      bool next = false;
      if ((st = upload_answer(p, &up, &inner, &next)) != STW_OK)
        goto out;
      if (next)
        continue;
    }
    uint32_t b = 0;
    if (has_option(&inner, OPT_BLOCK2, &v, &vl)) {
      if (stw__coap_uint_decode(v, vl, 3, &b) != STW_OK || (b >> 4) != num || (b & 7) == 7 ||
          (blocks && (b & 7) != szx)) {
        st = STW_ERR_MALFORMED;
        goto out;
      }
      const uint8_t *tag = NULL;
      size_t tag_len = 0;
      bool tagged = has_option(&inner, OPT_ETAG, &tag, &tag_len) && tag_len > 0 && tag_len <= ETAG_MAX;
      if (!blocks) {
        blocks = true;
        szx = b & 7;
        has_etag = tagged;
        if (tagged)
          memcpy(etag, tag, tag_len), etag_len = tag_len;
      } else if (tagged != has_etag || (tagged && (tag_len != etag_len || memcmp(tag, etag, tag_len) != 0))) {
        st = STW_ERR_CONFLICT;  /* the representation changed between two blocks */
        goto out;
      }
    } else if (blocks && (inner.code >> 5) == 2) {
      st = STW_ERR_MALFORMED;  /* a block sequence must end with a block */
      goto out;
    }
    if ((inner.code >> 5) == 2 && inner.payload_len > 0 &&
        (st = stw_buf_append(&whole, inner.payload, inner.payload_len)) != STW_OK)
      goto out;
    if ((inner.code >> 5) == 2 && blocks && (b & 8) != 0) {
      if (inner.payload_len != (size_t)16 << szx) {
        st = STW_ERR_MALFORMED;  /* only the last block may be short */
        goto out;
      }
      num++;
      continue;
    }
    if ((inner.code >> 5) == 2)
      st = copy_answer(whole.data, whole.len, answer, answer_len);
    else
      st = copy_answer(inner.payload, inner.payload_len, answer, answer_len);
    if (st == STW_OK)
      st = status_of(inner.code);
    goto out;
  }
out:
  stw_wipe(p->pt, sizeof(p->pt));
  stw_buf_free(&whole, true);
  return st;
}

/* The notification waiting in obs.pending, delivered whole: its other
 * blocks read with ordinary protected GETs (RFC 7959 3.4). When one comes
 * back with another ETag, the resource changed meanwhile: this
 * notification is dropped, and the one the change brings is read instead.
 * Called only outside any exchange, which the GETs would disturb. */
static void complete_notification(stw_oscore_peer_t *p)
{
  uint8_t first[BLOCK_SIZE], etag[ETAG_MAX];
  char path[sizeof(p->obs.path)];
  unsigned note_code = p->obs.pending.code, code = 0;
  resume_t from = { .szx = p->obs.pending.szx, .etag = etag, .etag_len = p->obs.pending.etag_len, .first = first };
  memcpy(first, p->obs.pending.first, sizeof(first));
  memcpy(etag, p->obs.pending.etag, sizeof(etag));
  memcpy(path, p->obs.path, sizeof(path));
  stw_wipe(&p->obs.pending, sizeof(p->obs.pending));
  uint8_t *body = NULL;
  size_t len = 0;
  if (call(p, STW_AIF_GET, path, NULL, 0, -1, NULL, &from, &code, &body, &len) == STW_OK) {
    p->obs.delivered++;
    if (p->obs.notify != NULL)
      p->obs.notify(p->obs.arg, note_code, body, len);
  }
  if (body != NULL)
    stw_wipe(body, len);
  free(body);
  stw_wipe(first, sizeof(first));
}

/* A peer for rs_uri: a socket, the token posted, the context derived. */
static stw_status_t peer_open(stw_oscore_peer_t **peer, const char *rs_uri, const uint8_t *token, size_t token_len,
                              const stw_oscore_material_t *material, unsigned *code, uint8_t **answer,
                              size_t *answer_len)
{
  stw_status_t st;
  if (token == NULL || token_len == 0 || token_len > STW_PEP_TOKEN_MAX || material == NULL ||
      material->ms_len == 0 || material->ms_len > sizeof(material->ms) ||
      material->salt_len > sizeof(material->salt) || material->context_id_len > sizeof(material->context_id))
    return STW_ERR_INVALID;
  stw_oscore_peer_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return STW_ERR_NOMEM;
  p->fd = -1;
  if ((st = stw_random(&p->mid, sizeof(p->mid))) != STW_OK || (st = stw_random(&p->token, sizeof(p->token))) != STW_OK ||
      (st = connect_uri(rs_uri, &p->fd)) != STW_OK ||
      (st = post_token(p, token, token_len, material, code, answer, answer_len)) != STW_OK) {
    stw_oscore_peer_free(p);
    return st;
  }
  memcpy(p->posted, token, token_len);
  p->posted_len = token_len;
  p->material = *material;
  *peer = p;
  return STW_OK;
}

static void clear_results(unsigned *code, uint8_t **answer, size_t *answer_len)
{
  if (code != NULL)
    *code = 0;
  if (answer != NULL)
    *answer = NULL;
  if (answer_len != NULL)
    *answer_len = 0;
}

stw_status_t stw_thing_call_oscore(stw_oscore_peer_t **peer, const char *rs_uri, const uint8_t *token,
                                   size_t token_len, const stw_oscore_material_t *material, unsigned method,
                                   const char *path, const uint8_t *body, size_t len, unsigned *code,
                                   uint8_t **answer, size_t *answer_len)
{
  clear_results(code, answer, answer_len);
  if (peer == NULL || method_code(method) == 0)
    return STW_ERR_INVALID;
  stw_status_t st;
  if (*peer == NULL && (st = peer_open(peer, rs_uri, token, token_len, material, code, answer, answer_len)) != STW_OK)
    return st;
  return call(*peer, method, path, body, len, -1, NULL, NULL, code, answer, answer_len);
}

stw_status_t stw_thing_observe_oscore(stw_oscore_peer_t **peer, const char *rs_uri, const uint8_t *token,
                                      size_t token_len, const stw_oscore_material_t *material, const char *path,
                                      stw_oscore_notify_t notify, void *arg, unsigned *code, uint8_t **answer,
                                      size_t *answer_len)
{
  clear_results(code, answer, answer_len);
  if (peer == NULL || path == NULL || path[0] != '/' || strlen(path) > STW_AIF_PATH_MAX)
    return STW_ERR_INVALID;
  stw_status_t st;
  if (*peer == NULL && (st = peer_open(peer, rs_uri, token, token_len, material, code, answer, answer_len)) != STW_OK)
    return st;
  stw_oscore_peer_t *p = *peer;
  memset(&p->obs, 0, sizeof(p->obs));
  p->obs.notify = notify;
  p->obs.arg = arg;
  snprintf(p->obs.path, sizeof(p->obs.path), "%s", path);
  return call(p, STW_AIF_GET, path, NULL, 0, OBSERVE_REGISTER, NULL, NULL, code, answer, answer_len);
}

stw_status_t stw_oscore_peer_poll(stw_oscore_peer_t *p, unsigned timeout_ms)
{
  if (p == NULL)
    return STW_ERR_INVALID;
  uint64_t deadline = stw_monotonic_us() + (uint64_t)timeout_ms * 1000u;
  for (;;) {
    uint64_t now = stw_monotonic_us();
    int wait_ms = now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
    struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
    int r = poll(&pfd, 1, wait_ms);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return STW_ERR_NETWORK;
    if (r == 0)
      return STW_OK;
    ssize_t got = recv(p->fd, p->resp, sizeof(p->resp), 0);
    if (got < 0)
      return STW_ERR_NETWORK;
    stw__coap_msg_t m;
    if (stw__coap_udp_parse(p->resp, (size_t)got, &m) == STW_OK && on_other(p, &m) != STW_OK)
      return STW_ERR_NETWORK;
    /* a newer notification in blocks may come in while the last is read */
    while (p->obs.pending.waiting)
      complete_notification(p);
  }
}

bool stw_oscore_peer_observing(const stw_oscore_peer_t *p)
{
  return p != NULL && p->obs.active;
}

uint64_t stw_oscore_peer_notifications(const stw_oscore_peer_t *p)
{
  return p != NULL ? p->obs.delivered : 0;
}

stw_status_t stw_oscore_peer_cancel(stw_oscore_peer_t *p)
{
  if (p == NULL || !p->obs.active)
    return STW_ERR_STATE;
  uint8_t token[TOKEN_LEN];
  char path[sizeof(p->obs.path)];
  memcpy(token, p->obs.token, TOKEN_LEN);
  memcpy(path, p->obs.path, sizeof(path));
  stw_status_t st = call(p, STW_AIF_GET, path, NULL, 0, OBSERVE_DEREGISTER, token, NULL, NULL, NULL, NULL);
  p->obs.active = false;
  return st;
}

/* ---- for tests that play the network (oscore_client_internal.h) ---- */

stw_status_t stw__oscore_peer_protect_block(stw_oscore_peer_t *p, unsigned method, const char *path,
                                            const uint8_t *block, size_t len, uint32_t num, bool more, unsigned szx,
                                            bool has_size1, uint32_t size1, const uint8_t *tag, size_t tag_len,
                                            uint8_t *out, size_t cap, size_t *out_len)
{
  if (szx > BLOCK_SZX || num > BLOCK_NUM_MAX || (tag != NULL && tag_len > 4))
    return STW_ERR_INVALID;
  uint32_t tag_value = 0;
  for (size_t i = 0; tag != NULL && i < tag_len; i++)
    tag_value = tag_value << 8 | tag[i];
  if (tag != NULL && (tag_len == 0 || tag[0] == 0))
    return STW_ERR_INVALID;  /* written shortest, as upload_start's are */
  extras_t x = { .observe = -1, .has_block1 = true, .block1 = num << 4 | (more ? 8u : 0u) | szx,
                 .has_size1 = has_size1, .size1 = size1, .has_tag = tag != NULL, .tag = tag_value };
  return protect(p, method, path, block, len, &x, out, cap, out_len);
}

stw_status_t stw__oscore_peer_open_answer(stw_oscore_peer_t *p, const uint8_t *dgram, size_t len, unsigned *code,
                                          uint32_t *block1, uint32_t *size1)
{
  uint32_t *outs[2] = { block1, size1 };
  const uint16_t numbers[2] = { OPT_BLOCK1, OPT_SIZE1 };
  for (int i = 0; i < 2; i++)
    if (outs[i] != NULL)
      *outs[i] = UINT32_MAX;
  stw__coap_msg_t m;
  stw_oscore_option_t opt;
  stw_oscore_msg_t inner;
  stw_status_t st;
  if (p == NULL || stw__coap_udp_parse(dgram, len, &m) != STW_OK || !m.has_oscore || m.payload == NULL ||
      stw_oscore_option_parse(m.oscore, m.oscore_len, &opt) != STW_OK)
    return STW_ERR_MALFORMED;
  if ((st = stw_oscore_unprotect_response(&p->ctx, &p->last_binding, &opt, m.payload, m.payload_len, p->pt,
                                          sizeof(p->pt), &inner)) != STW_OK)
    return st;
  if (code != NULL)
    *code = inner.code;
  for (int i = 0; i < 2; i++) {
    const uint8_t *v = NULL;
    size_t vl = 0;
    if (outs[i] != NULL && has_option(&inner, numbers[i], &v, &vl) &&
        stw__coap_uint_decode(v, vl, 4, outs[i]) != STW_OK)
      st = STW_ERR_MALFORMED;
  }
  stw_wipe(p->pt, sizeof(p->pt));
  return st;
}
