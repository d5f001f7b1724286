/* Attribute trees: salted leaves, a domain-signed root, multiproof
 * disclosures (docs/formats-attributes.md). Everything hashed or signed is
 * encoded here by hand in deterministic CBOR, so one attribute set has one
 * root; everything read goes through the bounded stw__cbor_load. */
#include "attrtree.h"
#include "cose.h"
#include "cose_internal.h"

#include <cbor.h>
#include <stdlib.h>
#include <string.h>

enum {
  KEY_DEVICE_ID = 1,
  KEY_ROOT = 2,
  KEY_LEAF_COUNT = 3,
  KEY_ISSUED_AT = 4,
  KEY_EXPIRES_AT = 5,
  KEY_LAST = 5,
};

#define LEVELS_MAX 7            /* 64 leaves -> 32 -> 16 -> 8 -> 4 -> 2 -> 1 */
#define PROOF_MAX (STW_ATTR_MAX_LEAVES - 1)  /* disjoint undisclosed subtrees */
#define CLOCK_SKEW_S 300
#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01
/* Largest encoded leaf: prefix, array head, three strings with 2-byte heads, salt. */
#define LEAF_ENC_MAX (1 + 1 + 2 * 3 + (STW_ATTR_NAME_MAX - 1) + (STW_ATTR_VALUE_MAX - 1) + \
                      (STW_ATTR_AUTHORITY_MAX - 1) + 1 + STW_ATTR_SALT_LEN)

/* The signature also covers this, so a domain signature over some other
 * payload (a token, a voucher-like map) can never pass as a root. */
static const char ROOT_AAD[] = "steward attribute root v1";

/* ---- deterministic CBOR writer (shortest heads, definite lengths) ---- */

typedef struct {
  uint8_t *p;
  size_t cap;
  size_t len;
  bool overflow;  /* sticky: checked once at the end */
} writer_t;

static void put_bytes(writer_t *w, const void *data, size_t n)
{
  if (w->overflow || n > w->cap - w->len) {
    w->overflow = true;
    return;
  }
  if (n > 0)
    memcpy(w->p + w->len, data, n);
  w->len += n;
}

static void put_head(writer_t *w, unsigned major, uint64_t v)
{
  uint8_t h[9];
  size_t n;
  uint8_t mt = (uint8_t)(major << 5);
  if (v < 24) {
    h[0] = mt | (uint8_t)v;
    n = 1;
  } else if (v <= UINT8_MAX) {
    h[0] = mt | 24;
    h[1] = (uint8_t)v;
    n = 2;
  } else if (v <= UINT16_MAX) {
    h[0] = mt | 25;
    h[1] = (uint8_t)(v >> 8);
    h[2] = (uint8_t)v;
    n = 3;
  } else if (v <= UINT32_MAX) {
    h[0] = mt | 26;
    for (int i = 0; i < 4; i++)
      h[1 + i] = (uint8_t)(v >> (24 - 8 * i));
    n = 5;
  } else {
    h[0] = mt | 27;
    for (int i = 0; i < 8; i++)
      h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
    n = 9;
  }
  put_bytes(w, h, n);
}

static void put_int(writer_t *w, int64_t v)
{
  if (v >= 0)
    put_head(w, 0, (uint64_t)v);
  else
    put_head(w, 1, (uint64_t)(-(v + 1)));
}

static void put_bstr(writer_t *w, const uint8_t *b, size_t n)
{
  put_head(w, 2, n);
  put_bytes(w, b, n);
}

static void put_tstr(writer_t *w, const char *s)
{
  size_t n = strlen(s);  /* our own validated, NUL-terminated strings */
  put_head(w, 3, n);
  put_bytes(w, s, n);
}

/* ---- leaves ---- */

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF; NUL
 * is refused too so that every value is also a C string. */
static bool utf8_ok(const uint8_t *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t extra;
    uint32_t cp;
    if (c == 0)
      return false;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (extra > n - i - 1)
      return false;
    for (size_t k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += extra + 1;
  }
  return true;
}

/* A NUL-terminated string inside a buffer of size cap, min..cap-1 bytes. */
static bool field_ok(const char *s, size_t cap, size_t min)
{
  size_t n = strnlen(s, cap);
  return n < cap && n >= min && utf8_ok((const uint8_t *)s, n);
}

static bool leaf_ok(const stw_attr_t *a)
{
  return field_ok(a->name, sizeof(a->name), 1) && field_ok(a->value, sizeof(a->value), 0) &&
         field_ok(a->authority, sizeof(a->authority), 1);
}

/* Canonical order: bytewise by name, then by authority (strcmp compares as
 * unsigned char, so this is plain byte order with a prefix first). */
static int leaf_cmp(const stw_attr_t *a, const stw_attr_t *b)
{
  int c = strcmp(a->name, b->name);
  return c != 0 ? c : strcmp(a->authority, b->authority);
}

/* SHA-256(0x00 || [name, value, authority, salt]) */
static stw_status_t leaf_hash(const stw_attr_t *a, uint8_t out[STW_ATTR_HASH_LEN])
{
  uint8_t enc[LEAF_ENC_MAX];
  writer_t w = {.p = enc, .cap = sizeof(enc)};
  uint8_t prefix = LEAF_PREFIX;
  put_bytes(&w, &prefix, 1);
  put_head(&w, 4, 4);
  put_tstr(&w, a->name);
  put_tstr(&w, a->value);
  put_tstr(&w, a->authority);
  put_bstr(&w, a->salt, sizeof(a->salt));
  if (w.overflow)
    return STW_ERR_INVALID;
  return stw_sha256(enc, w.len, out);
}

/* SHA-256(0x01 || left || right) */
static stw_status_t node_hash(const uint8_t left[STW_ATTR_HASH_LEN], const uint8_t right[STW_ATTR_HASH_LEN],
                              uint8_t out[STW_ATTR_HASH_LEN])
{
  uint8_t in[1 + 2 * STW_ATTR_HASH_LEN];
  in[0] = NODE_PREFIX;
  memcpy(in + 1, left, STW_ATTR_HASH_LEN);
  memcpy(in + 1 + STW_ATTR_HASH_LEN, right, STW_ATTR_HASH_LEN);
  return stw_sha256(in, sizeof(in), out);
}

/* ---- the tree ---- */

typedef struct {
  size_t leaf_count;
  size_t levels;                    /* level 0 = leaves, levels-1 = root */
  size_t width[LEVELS_MAX];
  uint8_t node[LEVELS_MAX][STW_ATTR_MAX_LEAVES][STW_ATTR_HASH_LEN];
  uint8_t order[STW_ATTR_MAX_LEAVES];  /* tree position -> index in the set */
} tree_t;

static stw_status_t tree_build(const stw_attr_set_t *set, tree_t *t)
{
  if (set == NULL || set->count == 0 || set->count > STW_ATTR_MAX_LEAVES)
    return STW_ERR_INVALID;
  size_t n = set->count;
  for (size_t i = 0; i < n; i++) {
    if (!leaf_ok(&set->attrs[i]))
      return STW_ERR_INVALID;
    /* insertion sort of indices; a tie means a duplicate (name, authority) */
    size_t j = i;
    while (j > 0 && leaf_cmp(&set->attrs[t->order[j - 1]], &set->attrs[i]) > 0) {
      t->order[j] = t->order[j - 1];
      j--;
    }
    if (j > 0 && leaf_cmp(&set->attrs[t->order[j - 1]], &set->attrs[i]) == 0)
      return STW_ERR_INVALID;
    t->order[j] = (uint8_t)i;
  }
  t->leaf_count = n;
  t->width[0] = n;
  stw_status_t st = STW_OK;
  for (size_t i = 0; i < n; i++)
    if ((st = leaf_hash(&set->attrs[t->order[i]], t->node[0][i])) != STW_OK)
      return st;
  size_t level = 0;
  while (t->width[level] > 1) {
    size_t w = t->width[level];
    for (size_t i = 0; i < w; i += 2) {
      if (i + 1 < w)
        st = node_hash(t->node[level][i], t->node[level][i + 1], t->node[level + 1][i / 2]);
      else  /* the last node of an odd level moves up unchanged */
        memcpy(t->node[level + 1][i / 2], t->node[level][i], STW_ATTR_HASH_LEN);
      if (st != STW_OK)
        return st;
    }
    t->width[level + 1] = (w + 1) / 2;
    level++;
  }
  t->levels = level + 1;
  return STW_OK;
}

/* A tree is some 14 KiB, too much for the stack: built on the heap, NULL
 * on failure, the caller frees it. */
static stw_status_t tree_new(const stw_attr_set_t *set, tree_t **out)
{
  *out = malloc(sizeof(**out));
  if (*out == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = tree_build(set, *out);
  if (st != STW_OK) {
    free(*out);
    *out = NULL;
  }
  return st;
}

typedef struct {
  size_t index;
  uint8_t hash[STW_ATTR_HASH_LEN];
} known_t;

/* One walk for both sides of a multiproof. known[0..m) are leaf positions
 * (strictly increasing) with their hashes. Level by level, a known node
 * joins its known sibling, or takes the sibling from the proof, or moves up
 * alone when it is the last node of an odd level. The prover passes its
 * full tree and gets the sibling hashes it needed appended to proof; the
 * verifier passes full = NULL and the proof it received, which must be used
 * up exactly. known is overwritten. */
static stw_status_t multiproof_walk(size_t leaf_count, known_t *known, size_t m, const tree_t *full,
                                    uint8_t proof[][STW_ATTR_HASH_LEN], size_t *proof_len,
                                    uint8_t root[STW_ATTR_HASH_LEN])
{
  size_t width = leaf_count, used = 0, level = 0;
  stw_status_t st = STW_OK;
  if (m == 0 || leaf_count == 0 || leaf_count > STW_ATTR_MAX_LEAVES)
    return STW_ERR_MALFORMED;
  while (width > 1) {
    size_t next = 0;
    for (size_t j = 0; j < m;) {
      size_t i = known[j].index;
      uint8_t sibling[STW_ATTR_HASH_LEN], parent[STW_ATTR_HASH_LEN];
      bool is_right = (i & 1) != 0;
      size_t sib = is_right ? i - 1 : i + 1;
      if (!is_right && sib >= width) {
        memcpy(parent, known[j].hash, STW_ATTR_HASH_LEN);  /* promoted */
        j++;
      } else if (!is_right && j + 1 < m && known[j + 1].index == sib) {
        st = node_hash(known[j].hash, known[j + 1].hash, parent);
        j += 2;
      } else {
        if (full != NULL) {
          if (used >= PROOF_MAX)
            return STW_ERR_INVALID;
          memcpy(proof[used], full->node[level][sib], STW_ATTR_HASH_LEN);
        } else if (used >= *proof_len) {
          return STW_ERR_MALFORMED;  /* proof too short for these positions */
        }
        memcpy(sibling, proof[used++], STW_ATTR_HASH_LEN);
        st = is_right ? node_hash(sibling, known[j].hash, parent) : node_hash(known[j].hash, sibling, parent);
        j++;
      }
      if (st != STW_OK)
        return st;
      known[next].index = i / 2;
      memcpy(known[next].hash, parent, STW_ATTR_HASH_LEN);
      next++;
    }
    m = next;
    width = (width + 1) / 2;
    level++;
  }
  if (full == NULL && used != *proof_len)
    return STW_ERR_MALFORMED;  /* hashes left over */
  *proof_len = used;
  memcpy(root, known[0].hash, STW_ATTR_HASH_LEN);
  return STW_OK;
}

/* ---- public: sets and roots ---- */

void stw_attr_set_init(stw_attr_set_t *set)
{
  if (set != NULL)
    memset(set, 0, sizeof(*set));
}

static bool copy_field(char *dst, size_t cap, const char *src, size_t min)
{
  if (src == NULL)
    return false;
  size_t n = strnlen(src, cap);
  if (n >= cap || n < min || !utf8_ok((const uint8_t *)src, n))
    return false;
  memcpy(dst, src, n);
  dst[n] = '\0';
  return true;
}

stw_status_t stw_attr_set_add(stw_attr_set_t *set, const char *name, const char *value, const char *authority)
{
  if (set == NULL || set->count > STW_ATTR_MAX_LEAVES)
    return STW_ERR_INVALID;
  if (set->count == STW_ATTR_MAX_LEAVES)
    return STW_ERR_TOO_LARGE;
  stw_attr_t *a = &set->attrs[set->count];
  memset(a, 0, sizeof(*a));
  if (!copy_field(a->name, sizeof(a->name), name, 1) || !copy_field(a->value, sizeof(a->value), value, 0) ||
      !copy_field(a->authority, sizeof(a->authority), authority, 1))
    goto refuse;
  for (size_t i = 0; i < set->count; i++)
    if (leaf_cmp(&set->attrs[i], a) == 0)
      goto refuse;
  stw_status_t st = stw_random(a->salt, sizeof(a->salt));
  if (st != STW_OK) {
    memset(a, 0, sizeof(*a));
    return st;
  }
  set->count++;
  return STW_OK;
refuse:
  memset(a, 0, sizeof(*a));
  return STW_ERR_INVALID;
}

stw_status_t stw_attr_set_add_from_idevid(stw_attr_set_t *set, const stw_cert_info_t *verified_idevid)
{
  if (set == NULL || verified_idevid == NULL || verified_idevid->organization[0] == '\0' ||
      verified_idevid->unit[0] == '\0')
    return STW_ERR_INVALID;
  const char *mfg = verified_idevid->organization;
  stw_status_t st = stw_attr_set_add(set, "manufacturer", mfg, mfg);
  if (st == STW_OK && (st = stw_attr_set_add(set, "model", verified_idevid->unit, mfg)) != STW_OK)
    set->count--;  /* both or neither */
  return st;
}

stw_status_t stw_attr_tree_root(const stw_attr_set_t *set, uint8_t root[STW_ATTR_HASH_LEN])
{
  if (root == NULL)
    return STW_ERR_INVALID;
  tree_t *t = NULL;
  stw_status_t st = tree_new(set, &t);
  if (st == STW_OK)
    memcpy(root, t->node[t->levels - 1][0], STW_ATTR_HASH_LEN);
  free(t);
  return st;
}

stw_status_t stw_attr_sign_root(const stw_attr_set_t *set, const uint8_t device_id[STW_DEVICE_ID_LEN],
                                int64_t iat, int64_t exp, const stw_key_t *domain_key, stw_buf_t *signed_root)
{
  if (set == NULL || device_id == NULL || domain_key == NULL || signed_root == NULL || exp <= iat)
    return STW_ERR_INVALID;
  uint8_t payload[128], spki[STW_SPKI_MAX], kid[STW_SPKI_KID_LEN];
  size_t spki_len = sizeof(spki);
  writer_t w = {.p = payload, .cap = sizeof(payload)};
  tree_t *t = NULL;
  stw_status_t st = tree_new(set, &t);
  if (st != STW_OK)
    goto out;
  put_head(&w, 5, KEY_LAST);
  put_head(&w, 0, KEY_DEVICE_ID);
  put_bstr(&w, device_id, STW_DEVICE_ID_LEN);
  put_head(&w, 0, KEY_ROOT);
  put_bstr(&w, t->node[t->levels - 1][0], STW_ATTR_HASH_LEN);
  put_head(&w, 0, KEY_LEAF_COUNT);
  put_head(&w, 0, t->leaf_count);
  put_head(&w, 0, KEY_ISSUED_AT);
  put_int(&w, iat);
  put_head(&w, 0, KEY_EXPIRES_AT);
  put_int(&w, exp);
  st = STW_ERR_INVALID;
  if (w.overflow)
    goto out;
  if ((st = stw_key_spki(domain_key, spki, &spki_len)) != STW_OK)
    goto out;
  if ((st = stw__cose_spki_kid(spki, spki_len, kid)) != STW_OK)
    goto out;
  if (signed_root->data == NULL && signed_root->max == 0)
    stw_buf_init(signed_root, STW_ATTR_SIGNED_ROOT_MAX);
  st = stw_cose_sign1_create(domain_key, kid, sizeof(kid), payload, w.len, (const uint8_t *)ROOT_AAD,
                             sizeof(ROOT_AAD) - 1, signed_root);
  if (st == STW_OK && signed_root->len > STW_ATTR_SIGNED_ROOT_MAX)
    st = STW_ERR_TOO_LARGE;
out:
  free(t);
  return st;
}

/* ---- reading ---- */

static bool get_bstr_exact(const cbor_item_t *it, uint8_t *dst, size_t len)
{
  return stw__cbor_get_bstr(it, len, true, dst, NULL);
}

/* A definite UTF-8 tstr of min..cap-1 bytes, copied NUL-terminated. */
static bool get_tstr(const cbor_item_t *it, size_t min, char *dst, size_t cap)
{
  if (!cbor_isa_string(it) || !cbor_string_is_definite(it))
    return false;
  size_t n = cbor_string_length(it);
  if (n < min || n >= cap || (n > 0 && !utf8_ok(cbor_string_handle(it), n)))
    return false;
  if (n > 0)
    memcpy(dst, cbor_string_handle(it), n);
  dst[n] = '\0';
  return true;
}

typedef struct {
  uint8_t device_id[STW_DEVICE_ID_LEN];
  uint8_t root[STW_ATTR_HASH_LEN];
  int64_t leaf_count;
  int64_t issued_at;
  int64_t expires_at;
} root_claims_t;

/* Strict: exactly keys 1..5, each once, with its type and size. */
static stw_status_t parse_root_payload(const uint8_t *p, size_t len, root_claims_t *c)
{
  cbor_item_t *map = NULL;
  unsigned seen = 0;
  stw_status_t st = stw__cbor_load(p, len, &map);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_MALFORMED;
  if (!cbor_isa_map(map) || !cbor_map_is_definite(map) || cbor_map_size(map) != KEY_LAST)
    goto out;
  struct cbor_pair *pairs = cbor_map_handle(map);
  for (size_t i = 0; i < KEY_LAST; i++) {
    if (!cbor_isa_uint(pairs[i].key))
      goto out;
    uint64_t k = cbor_get_int(pairs[i].key);
    if (k < 1 || k > KEY_LAST || (seen & (1u << k)))
      goto out;
    seen |= 1u << k;
    const cbor_item_t *v = pairs[i].value;
    bool ok = false;
    switch (k) {
    case KEY_DEVICE_ID:
      ok = get_bstr_exact(v, c->device_id, sizeof(c->device_id));
      break;
    case KEY_ROOT:
      ok = get_bstr_exact(v, c->root, sizeof(c->root));
      break;
    case KEY_LEAF_COUNT:
      ok = cbor_isa_uint(v) && stw__cbor_int64(v, &c->leaf_count) && c->leaf_count >= 1 &&
           c->leaf_count <= STW_ATTR_MAX_LEAVES;
      break;
    case KEY_ISSUED_AT:
      ok = stw__cbor_int64(v, &c->issued_at);
      break;
    case KEY_EXPIRES_AT:
      ok = stw__cbor_int64(v, &c->expires_at);
      break;
    default:
      break;
    }
    if (!ok)
      goto out;
  }
  if (c->expires_at <= c->issued_at)
    goto out;
  st = STW_OK;
out:
  if (map != NULL)
    cbor_decref(&map);
  return st;
}

/* ---- disclose ---- */

stw_status_t stw_attr_disclose(const stw_attr_set_t *set, const uint8_t *signed_root, size_t signed_root_len,
                               const char *const *names, size_t n_names, stw_buf_t *disclosure)
{
  if (set == NULL || signed_root == NULL || names == NULL || n_names == 0 || disclosure == NULL ||
      signed_root_len > STW_ATTR_SIGNED_ROOT_MAX)
    return STW_ERR_INVALID;
  bool chosen[STW_ATTR_MAX_LEAVES] = {false};
  known_t known[STW_ATTR_MAX_LEAVES];
  uint8_t proof[PROOF_MAX][STW_ATTR_HASH_LEN], root[STW_ATTR_HASH_LEN];
  size_t m = 0, proof_len = 0;
  stw_cose_sign1_t cose;
  root_claims_t claims;
  uint8_t *enc = NULL;
  tree_t *t = NULL;
  stw_status_t st = tree_new(set, &t);
  if (st != STW_OK)
    goto out;
  /* A disclosure that cannot verify helps nobody: the signed root must be
   * this tree's (its signature is the verifier's business). */
  st = STW_ERR_INVALID;
  if (stw_cose_sign1_parse(signed_root, signed_root_len, &cose) != STW_OK ||
      parse_root_payload(cose.payload, cose.payload_len, &claims) != STW_OK)
    goto out;
  if ((size_t)claims.leaf_count != t->leaf_count ||
      memcmp(claims.root, t->node[t->levels - 1][0], STW_ATTR_HASH_LEN) != 0)
    goto out;
  for (size_t k = 0; k < n_names; k++) {
    if (names[k] == NULL)
      goto out;
    bool found = false;
    for (size_t i = 0; i < t->leaf_count; i++) {
      if (strcmp(set->attrs[t->order[i]].name, names[k]) == 0) {
        chosen[i] = true;
        found = true;
      }
    }
    if (!found) {
      st = STW_ERR_NOT_FOUND;
      goto out;
    }
  }
  for (size_t i = 0; i < t->leaf_count; i++) {
    if (chosen[i]) {
      known[m].index = i;
      memcpy(known[m].hash, t->node[0][i], STW_ATTR_HASH_LEN);
      m++;
    }
  }
  if ((st = multiproof_walk(t->leaf_count, known, m, t, proof, &proof_len, root)) != STW_OK)
    goto out;
  st = STW_ERR_NOMEM;
  enc = malloc(STW_ATTR_DISCLOSURE_MAX);
  if (enc == NULL)
    goto out;
  writer_t w = {.p = enc, .cap = STW_ATTR_DISCLOSURE_MAX};
  put_head(&w, 4, 3);
  put_bstr(&w, signed_root, signed_root_len);
  put_head(&w, 4, m);
  for (size_t i = 0; i < t->leaf_count; i++) {
    if (!chosen[i])
      continue;
    const stw_attr_t *a = &set->attrs[t->order[i]];
    put_head(&w, 4, 5);
    put_head(&w, 0, i);
    put_tstr(&w, a->name);
    put_tstr(&w, a->value);
    put_tstr(&w, a->authority);
    put_bstr(&w, a->salt, sizeof(a->salt));
  }
  put_head(&w, 4, proof_len);
  for (size_t i = 0; i < proof_len; i++)
    put_bstr(&w, proof[i], STW_ATTR_HASH_LEN);
  st = STW_ERR_TOO_LARGE;
  if (w.overflow)
    goto out;
  if (disclosure->data == NULL && disclosure->max == 0)
    stw_buf_init(disclosure, STW_ATTR_DISCLOSURE_MAX);
  st = stw_buf_append(disclosure, enc, w.len);
out:
  free(enc);
  free(t);
  return st;
}

/* ---- verify ---- */

/* One disclosed leaf: [index, name, value, authority, salt]. */
static bool parse_leaf(const cbor_item_t *it, size_t *index, stw_attr_t *a)
{
  if (!cbor_isa_array(it) || !cbor_array_is_definite(it) || cbor_array_size(it) != 5)
    return false;
  cbor_item_t **f = cbor_array_handle(it);
  int64_t idx;
  if (!cbor_isa_uint(f[0]) || !stw__cbor_int64(f[0], &idx) || idx >= STW_ATTR_MAX_LEAVES)
    return false;
  *index = (size_t)idx;
  return get_tstr(f[1], 1, a->name, sizeof(a->name)) && get_tstr(f[2], 0, a->value, sizeof(a->value)) &&
         get_tstr(f[3], 1, a->authority, sizeof(a->authority)) &&
         get_bstr_exact(f[4], a->salt, sizeof(a->salt));
}

stw_status_t stw_attr_verify_disclosure(const uint8_t *disclosure, size_t len, const uint8_t *domain_spki,
                                        size_t spki_len, const uint8_t *expected_device_id, int64_t now,
                                        stw_attr_disclosed_t *out)
{
  if (out == NULL)
    return STW_ERR_INVALID;
  memset(out, 0, sizeof(*out));
  if (disclosure == NULL || domain_spki == NULL)
    return STW_ERR_INVALID;
  if (len > STW_ATTR_DISCLOSURE_MAX)
    return STW_ERR_TOO_LARGE;
  cbor_item_t *top = NULL;
  known_t known[STW_ATTR_MAX_LEAVES];
  uint8_t proof[PROOF_MAX][STW_ATTR_HASH_LEN], root[STW_ATTR_HASH_LEN];
  size_t proof_len;
  stw_cose_sign1_t cose;
  root_claims_t claims;
  stw_status_t st = stw__cbor_load(disclosure, len, &top);
  if (st != STW_OK)
    goto out;
  st = STW_ERR_MALFORMED;
  if (!cbor_isa_array(top) || !cbor_array_is_definite(top) || cbor_array_size(top) != 3)
    goto out;
  cbor_item_t **parts = cbor_array_handle(top);
  const cbor_item_t *sr = parts[0], *leaves = parts[1], *hashes = parts[2];
  if (!cbor_isa_bytestring(sr) || !cbor_bytestring_is_definite(sr) ||
      cbor_bytestring_length(sr) > STW_ATTR_SIGNED_ROOT_MAX)
    goto out;

  /* The signed root first: nothing else means anything without it. */
  st = stw_cose_sign1_verify(cbor_bytestring_handle(sr), cbor_bytestring_length(sr), domain_spki, spki_len,
                             (const uint8_t *)ROOT_AAD, sizeof(ROOT_AAD) - 1, &cose);
  if (st != STW_OK)
    goto out;
  if ((st = stw__cose_check_spki_kid(&cose, domain_spki, spki_len)) != STW_OK)
    goto out;
  if ((st = parse_root_payload(cose.payload, cose.payload_len, &claims)) != STW_OK)
    goto out;
  st = STW_ERR_UNAUTHENTICATED;
  if (expected_device_id != NULL && memcmp(expected_device_id, claims.device_id, STW_DEVICE_ID_LEN) != 0)
    goto out;
  st = STW_ERR_EXPIRED;
  /* unsigned difference: no overflow whatever the two times are */
  if (now > claims.expires_at ||
      (now < claims.issued_at && (uint64_t)claims.issued_at - (uint64_t)now > CLOCK_SKEW_S))
    goto out;

  /* The leaves: at least one, positions strictly increasing inside the tree,
   * and in canonical order, so one disclosure has one reading. */
  st = STW_ERR_MALFORMED;
  size_t leaf_count = (size_t)claims.leaf_count;
  if (!cbor_isa_array(leaves) || !cbor_array_is_definite(leaves) || cbor_array_size(leaves) == 0 ||
      cbor_array_size(leaves) > leaf_count)
    goto out;
  size_t m = cbor_array_size(leaves);
  cbor_item_t **items = cbor_array_handle(leaves);
  for (size_t j = 0; j < m; j++) {
    if (!parse_leaf(items[j], &known[j].index, &out->leaves[j]) || known[j].index >= leaf_count)
      goto out;
    if (j > 0 && (known[j].index <= known[j - 1].index || leaf_cmp(&out->leaves[j - 1], &out->leaves[j]) >= 0))
      goto out;
    if (leaf_hash(&out->leaves[j], known[j].hash) != STW_OK)
      goto out;
  }
  if (!cbor_isa_array(hashes) || !cbor_array_is_definite(hashes) || cbor_array_size(hashes) > PROOF_MAX)
    goto out;
  proof_len = cbor_array_size(hashes);
  cbor_item_t **h = cbor_array_handle(hashes);
  for (size_t i = 0; i < proof_len; i++)
    if (!get_bstr_exact(h[i], proof[i], STW_ATTR_HASH_LEN))
      goto out;
  if ((st = multiproof_walk(leaf_count, known, m, NULL, proof, &proof_len, root)) != STW_OK)
    goto out;
  st = STW_ERR_TAMPERED;
  if (!stw_ct_equal(root, claims.root, STW_ATTR_HASH_LEN))
    goto out;
  memcpy(out->device_id, claims.device_id, STW_DEVICE_ID_LEN);
  out->issued_at = claims.issued_at;
  out->expires_at = claims.expires_at;
  out->leaf_count = leaf_count;
  out->count = m;
  st = STW_OK;
out:
  if (top != NULL)
    cbor_decref(&top);
  if (st != STW_OK)
    memset(out, 0, sizeof(*out));
  return st;
}

const char *stw_attr_disclosed_value(const stw_attr_disclosed_t *d, const char *name, const char *authority)
{
  if (d == NULL || name == NULL || authority == NULL)
    return NULL;
  for (size_t i = 0; i < d->count && i < STW_ATTR_MAX_LEAVES; i++)
    if (strcmp(d->leaves[i].name, name) == 0 && strcmp(d->leaves[i].authority, authority) == 0)
      return d->leaves[i].value;
  return NULL;
}
