/* lib/attrtree.c: attribute Merkle trees, signed roots, selective disclosure. */
#include "testutil.h"

#include <cbor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrtree.h"
#include "cose_internal.h"

#define T0 1700000000
#define DAY 86400

typedef struct {
  stw_key_t *domain;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  uint8_t device_id[STW_DEVICE_ID_LEN];
  stw_attr_set_t set;   /* large: keep off the stack */
  stw_attr_set_t other;
  stw_attr_disclosed_t got;
} fx_t;

static int setup(void **state)
{
  fx_t *f = calloc(1, sizeof(*f));
  if (f == NULL || stw_key_generate(&f->domain) != STW_OK)
    return -1;
  f->spki_len = sizeof(f->spki);
  if (stw_key_spki(f->domain, f->spki, &f->spki_len) != STW_OK ||
      stw_random(f->device_id, sizeof(f->device_id)) != STW_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fx_t *f = *state;
  stw_key_free(f->domain);
  free(f);
  return 0;
}

/* A thermostat: two manufacturer leaves, two domain leaves. */
static void fill_thermostat(stw_attr_set_t *s)
{
  stw_attr_set_init(s);
  assert_int_equal(stw_attr_set_add(s, "model", "TH-200", "Acme Sensors"), STW_OK);
  assert_int_equal(stw_attr_set_add(s, "type", "thermostat", "Acme Sensors"), STW_OK);
  assert_int_equal(stw_attr_set_add(s, "location", "kitchen", "home.example"), STW_OK);
  assert_int_equal(stw_attr_set_add(s, "role", "admin", "home.example"), STW_OK);
}

/* n leaves with distinct names attr-00.., values that are easy to search for. */
static void fill_n(stw_attr_set_t *s, size_t n, const char *tag)
{
  stw_attr_set_init(s);
  for (size_t i = 0; i < n; i++) {
    char name[16], value[64];
    snprintf(name, sizeof(name), "attr-%02zu", i);
    snprintf(value, sizeof(value), "%s-value-%02zu", tag, i);
    assert_int_equal(stw_attr_set_add(s, name, value, i % 2 ? "home.example" : "Acme Sensors"), STW_OK);
  }
}

static void sign(fx_t *f, const stw_attr_set_t *s, stw_buf_t *sr)
{
  assert_int_equal(stw_attr_sign_root(s, f->device_id, T0, T0 + DAY, f->domain, sr), STW_OK);
}

static stw_status_t verify(fx_t *f, const uint8_t *d, size_t len)
{
  return stw_attr_verify_disclosure(d, len, f->spki, f->spki_len, f->device_id, T0 + 10, &f->got);
}

static const stw_attr_t *find(const stw_attr_set_t *s, const char *name)
{
  for (size_t i = 0; i < s->count; i++)
    if (strcmp(s->attrs[i].name, name) == 0)
      return &s->attrs[i];
  fail_msg("no leaf %s", name);
  return NULL;
}

/* ---- a disclosure taken apart and put back together, to tamper with ---- */

typedef struct {
  uint8_t signed_root[STW_ATTR_SIGNED_ROOT_MAX];
  size_t signed_root_len;
  size_t index[STW_ATTR_MAX_LEAVES];
  stw_attr_t leaf[STW_ATTR_MAX_LEAVES];
  size_t leaves;
  uint8_t proof[STW_ATTR_MAX_LEAVES][32];
  size_t proof_len;
} parts_t;

static void copy_tstr(const cbor_item_t *it, char *dst, size_t cap)
{
  assert_true(cbor_isa_string(it));
  size_t n = cbor_string_length(it);
  assert_true(n < cap);
  memcpy(dst, cbor_string_handle(it), n);
  dst[n] = '\0';
}

static void take_apart(const stw_buf_t *d, parts_t *p)
{
  cbor_item_t *top = NULL;
  memset(p, 0, sizeof(*p));
  assert_int_equal(stw__cbor_load(d->data, d->len, &top), STW_OK);
  assert_int_equal(cbor_array_size(top), 3);
  cbor_item_t **a = cbor_array_handle(top);
  p->signed_root_len = cbor_bytestring_length(a[0]);
  memcpy(p->signed_root, cbor_bytestring_handle(a[0]), p->signed_root_len);
  p->leaves = cbor_array_size(a[1]);
  for (size_t i = 0; i < p->leaves; i++) {
    cbor_item_t **l = cbor_array_handle(cbor_array_handle(a[1])[i]);
    p->index[i] = cbor_get_int(l[0]);
    copy_tstr(l[1], p->leaf[i].name, sizeof(p->leaf[i].name));
    copy_tstr(l[2], p->leaf[i].value, sizeof(p->leaf[i].value));
    copy_tstr(l[3], p->leaf[i].authority, sizeof(p->leaf[i].authority));
    memcpy(p->leaf[i].salt, cbor_bytestring_handle(l[4]), 16);
  }
  p->proof_len = cbor_array_size(a[2]);
  for (size_t i = 0; i < p->proof_len; i++)
    memcpy(p->proof[i], cbor_bytestring_handle(cbor_array_handle(a[2])[i]), 32);
  cbor_decref(&top);
}

static void add(cbor_item_t *array, cbor_item_t *item)
{
  assert_non_null(item);
  assert_true(cbor_array_push(array, item));
  cbor_decref(&item);
}

/* Returns a malloc'd encoding; *len its length. */
static uint8_t *put_together(const parts_t *p, size_t *len)
{
  cbor_item_t *top = cbor_new_definite_array(3);
  cbor_item_t *leaves = cbor_new_definite_array(p->leaves);
  cbor_item_t *proof = cbor_new_definite_array(p->proof_len);
  add(top, cbor_build_bytestring(p->signed_root, p->signed_root_len));
  for (size_t i = 0; i < p->leaves; i++) {
    cbor_item_t *l = cbor_new_definite_array(5);
    add(l, cbor_build_uint8((uint8_t)p->index[i]));
    add(l, cbor_build_string(p->leaf[i].name));
    add(l, cbor_build_string(p->leaf[i].value));
    add(l, cbor_build_string(p->leaf[i].authority));
    add(l, cbor_build_bytestring(p->leaf[i].salt, 16));
    add(leaves, l);
  }
  for (size_t i = 0; i < p->proof_len; i++)
    add(proof, cbor_build_bytestring(p->proof[i], 32));
  add(top, leaves);
  add(top, proof);
  unsigned char *out = NULL;
  size_t cap = 0;
  *len = cbor_serialize_alloc(top, &out, &cap);
  assert_true(*len > 0);
  cbor_decref(&top);
  return out;
}

static stw_status_t verify_parts(fx_t *f, const parts_t *p)
{
  size_t len;
  uint8_t *d = put_together(p, &len);
  stw_status_t st = verify(f, d, len);
  free(d);
  return st;
}

/* ---- tests ---- */

static void test_root_deterministic(void **state)
{
  fx_t *f = *state;
  uint8_t r1[32], r2[32];
  fill_thermostat(&f->set);
  assert_int_equal(stw_attr_tree_root(&f->set, r1), STW_OK);
  assert_int_equal(stw_attr_tree_root(&f->set, r2), STW_OK);
  assert_memory_equal(r1, r2, 32);
  /* The same leaves in another order give the same tree. */
  f->other = f->set;
  for (size_t i = 0; i < f->set.count; i++)
    f->other.attrs[i] = f->set.attrs[f->set.count - 1 - i];
  assert_int_equal(stw_attr_tree_root(&f->other, r2), STW_OK);
  assert_memory_equal(r1, r2, 32);
  /* Any change to any field of any leaf changes the root. */
  for (size_t i = 0; i < f->set.count; i++) {
    for (int field = 0; field < 4; field++) {
      f->other = f->set;
      stw_attr_t *a = &f->other.attrs[i];
      switch (field) {
      case 0: a->name[0] = 'z'; break;
      case 1: a->value[0] ^= 0x01; break;
      case 2: a->authority[0] = 'Z'; break;
      default: a->salt[15] ^= 0x80; break;
      }
      assert_int_equal(stw_attr_tree_root(&f->other, r2), STW_OK);
      if (memcmp(r1, r2, 32) == 0)
        fail_msg("leaf %zu field %d changed, root did not", i, field);
    }
  }
  /* Fresh salts: the same attributes added again give another root. */
  fill_thermostat(&f->other);
  assert_int_equal(stw_attr_tree_root(&f->other, r2), STW_OK);
  assert_memory_not_equal(r1, r2, 32);
  /* One leaf: the root is SHA-256(0x00 || CBOR leaf), the documented form. */
  stw_attr_set_init(&f->other);
  assert_int_equal(stw_attr_set_add(&f->other, "a", "b", "c"), STW_OK);
  memset(f->other.attrs[0].salt, 0x11, 16);
  uint8_t enc[] = {0x00, 0x84, 0x61, 'a', 0x61, 'b', 0x61, 'c', 0x50,
                   0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                   0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11}, want[32];
  assert_int_equal(stw_sha256(enc, sizeof(enc), want), STW_OK);
  assert_int_equal(stw_attr_tree_root(&f->other, r2), STW_OK);
  assert_memory_equal(r2, want, 32);
  /* Two leaves: SHA-256(0x01 || leaf("a") || leaf("b")), sorted by name. */
  assert_int_equal(stw_attr_set_add(&f->other, "B", "v", "c"), STW_OK);  /* 'B' < 'a' */
  memset(f->other.attrs[1].salt, 0x22, 16);
  uint8_t enc_b[] = {0x00, 0x84, 0x61, 'B', 0x61, 'v', 0x61, 'c', 0x50,
                     0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
                     0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22};
  uint8_t node[65];
  node[0] = 0x01;
  assert_int_equal(stw_sha256(enc_b, sizeof(enc_b), node + 1), STW_OK);
  memcpy(node + 33, want, 32);
  assert_int_equal(stw_sha256(node, sizeof(node), want), STW_OK);
  assert_int_equal(stw_attr_tree_root(&f->other, r2), STW_OK);
  assert_memory_equal(r2, want, 32);
}

/* Every non-empty subset of names of an n-leaf tree discloses and verifies,
 * with exactly the chosen leaves coming back. */
static void check_all_subsets(fx_t *f, size_t n)
{
  stw_buf_t sr = {0};
  fill_n(&f->set, n, "v");
  sign(f, &f->set, &sr);
  for (unsigned mask = 1; mask < (1u << n); mask++) {
    const char *names[8];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (mask & (1u << i))
        names[k++] = f->set.attrs[i].name;
    stw_buf_t d = {0};
    assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, k, &d), STW_OK);
    stw_status_t st = verify(f, d.data, d.len);
    if (st != STW_OK)
      fail_msg("n=%zu mask=%x: %s", n, mask, stw_status_str(st));
    assert_int_equal(f->got.count, k);
    assert_int_equal(f->got.leaf_count, n);
    for (size_t i = 0; i < k; i++) {
      const stw_attr_t *a = find(&f->set, names[i]);
      assert_string_equal(stw_attr_disclosed_value(&f->got, a->name, a->authority), a->value);
    }
    stw_buf_free(&d, false);
  }
  stw_buf_free(&sr, false);
}

static void test_every_subset(void **state)
{
  fx_t *f = *state;
  for (size_t n = 1; n <= 8; n++)
    check_all_subsets(f, n);
}

/* Large trees: every single leaf, every pair of neighbours, all of them,
 * and some random subsets. */
static void check_large(fx_t *f, size_t n)
{
  stw_buf_t sr = {0};
  const char *names[STW_ATTR_MAX_LEAVES];
  fill_n(&f->set, n, "v");
  sign(f, &f->set, &sr);
  for (size_t round = 0; round < 3 * n + 40; round++) {
    size_t k = 0;
    if (round < n) {
      names[k++] = f->set.attrs[round].name;
    } else if (round < 2 * n - 1) {
      names[k++] = f->set.attrs[round - n].name;
      names[k++] = f->set.attrs[round - n + 1].name;
    } else if (round == 2 * n - 1) {
      for (size_t i = 0; i < n; i++)
        names[k++] = f->set.attrs[i].name;
    } else {
      uint8_t pick[STW_ATTR_MAX_LEAVES];
      assert_int_equal(stw_random(pick, sizeof(pick)), STW_OK);
      for (size_t i = 0; i < n; i++)
        if (pick[i] & 1)
          names[k++] = f->set.attrs[i].name;
      if (k == 0)
        names[k++] = f->set.attrs[0].name;
    }
    stw_buf_t d = {0};
    assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, k, &d), STW_OK);
    stw_status_t st = verify(f, d.data, d.len);
    if (st != STW_OK)
      fail_msg("n=%zu round=%zu: %s", n, round, stw_status_str(st));
    assert_int_equal(f->got.count, k);
    stw_buf_free(&d, false);
  }
  stw_buf_free(&sr, false);
}

static void test_sizes(void **state)
{
  fx_t *f = *state;
  check_large(f, 1);
  check_large(f, 2);
  check_large(f, 3);
  check_large(f, 63);
  check_large(f, 64);
  /* A 65th leaf is refused by the set and by the tree. */
  fill_n(&f->set, 64, "v");
  assert_int_equal(stw_attr_set_add(&f->set, "zz", "x", "home.example"), STW_ERR_TOO_LARGE);
  assert_int_equal(f->set.count, 64);
  uint8_t root[32];
  f->set.count = 65;
  assert_int_equal(stw_attr_tree_root(&f->set, root), STW_ERR_INVALID);
  f->set.count = 0;
  assert_int_equal(stw_attr_tree_root(&f->set, root), STW_ERR_INVALID);
}

static void test_limits_and_strings(void **state)
{
  fx_t *f = *state;
  char long_name[65], long_value[257];
  memset(long_name, 'n', 64);
  long_name[64] = '\0';
  memset(long_value, 'v', 256);
  long_value[256] = '\0';
  stw_attr_set_init(&f->set);
  assert_int_equal(stw_attr_set_add(&f->set, long_name, "x", "a"), STW_ERR_INVALID);
  assert_int_equal(stw_attr_set_add(&f->set, "x", long_value, "a"), STW_ERR_INVALID);
  assert_int_equal(stw_attr_set_add(&f->set, "x", "v", long_name), STW_ERR_INVALID);
  assert_int_equal(stw_attr_set_add(&f->set, "", "v", "a"), STW_ERR_INVALID);
  assert_int_equal(stw_attr_set_add(&f->set, "x", "v", ""), STW_ERR_INVALID);
  assert_int_equal(stw_attr_set_add(&f->set, "x\xC0\x80", "v", "a"), STW_ERR_INVALID);   /* overlong */
  assert_int_equal(stw_attr_set_add(&f->set, "x", "\xED\xA0\x80", "a"), STW_ERR_INVALID); /* surrogate */
  assert_int_equal(stw_attr_set_add(&f->set, "x", "\xE2\x82", "a"), STW_ERR_INVALID);     /* cut short */
  assert_int_equal(stw_attr_set_add(&f->set, NULL, "v", "a"), STW_ERR_INVALID);
  assert_int_equal(f->set.count, 0);
  /* The largest leaf: 63-byte name and authority, 255-byte value; empty value. */
  long_name[63] = '\0';
  long_value[255] = '\0';
  assert_int_equal(stw_attr_set_add(&f->set, long_name, long_value, long_name), STW_OK);
  assert_int_equal(stw_attr_set_add(&f->set, "empty", "", "a"), STW_OK);
  assert_int_equal(stw_attr_set_add(&f->set, "k\xC3\xBC" "che", "\xF0\x9F\x8F\xA0", "a"), STW_OK);
  /* One name from two authorities is two leaves; the same pair twice is not. */
  assert_int_equal(stw_attr_set_add(&f->set, "model", "TH-200", "Acme Sensors"), STW_OK);
  assert_int_equal(stw_attr_set_add(&f->set, "model", "Thermo", "home.example"), STW_OK);
  assert_int_equal(stw_attr_set_add(&f->set, "model", "TH-201", "Acme Sensors"), STW_ERR_INVALID);
  stw_buf_t sr = {0}, d = {0};
  sign(f, &f->set, &sr);
  const char *names[] = {"model", long_name, "empty"};
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 3, &d), STW_OK);
  assert_int_equal(verify(f, d.data, d.len), STW_OK);
  assert_int_equal(f->got.count, 4);
  assert_string_equal(stw_attr_disclosed_value(&f->got, "model", "Acme Sensors"), "TH-200");
  assert_string_equal(stw_attr_disclosed_value(&f->got, "model", "home.example"), "Thermo");
  assert_string_equal(stw_attr_disclosed_value(&f->got, long_name, long_name), long_value);
  assert_string_equal(stw_attr_disclosed_value(&f->got, "empty", "a"), "");
  assert_null(stw_attr_disclosed_value(&f->got, "model", "Evil Corp"));
  stw_buf_free(&d, false);
  /* 64 leaves with 255-byte values do not fit in 8 KiB all at once. */
  stw_buf_free(&sr, false);
  stw_attr_set_init(&f->set);
  const char *all[STW_ATTR_MAX_LEAVES];
  for (size_t i = 0; i < STW_ATTR_MAX_LEAVES; i++) {
    char name[8];
    snprintf(name, sizeof(name), "n%02zu", i);
    assert_int_equal(stw_attr_set_add(&f->set, name, long_value, "home.example"), STW_OK);
    all[i] = f->set.attrs[i].name;
  }
  sign(f, &f->set, &sr);
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, all, 64, &d), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, all, 8, &d), STW_OK);
  assert_int_equal(verify(f, d.data, d.len), STW_OK);
  stw_buf_free(&d, false);
  stw_buf_free(&sr, false);
}

static void test_disclose_refusals(void **state)
{
  fx_t *f = *state;
  stw_buf_t sr = {0}, sr_other = {0}, d = {0};
  fill_thermostat(&f->set);
  fill_thermostat(&f->other);
  sign(f, &f->set, &sr);
  sign(f, &f->other, &sr_other);
  const char *names[] = {"location", "colour"};
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 2, &d), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 0, &d), STW_ERR_INVALID);
  /* The signed root of another set (same attributes, other salts). */
  assert_int_equal(stw_attr_disclose(&f->set, sr_other.data, sr_other.len, names, 1, &d), STW_ERR_INVALID);
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len - 1, names, 1, &d), STW_ERR_INVALID);
  assert_null(d.data);
  assert_int_equal(stw_attr_sign_root(&f->set, f->device_id, T0, T0, f->domain, &d), STW_ERR_INVALID);
  stw_buf_free(&sr, false);
  stw_buf_free(&sr_other, false);
}

static void test_tampering(void **state)
{
  fx_t *f = *state;
  stw_buf_t sr = {0}, d = {0};
  parts_t *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
  assert_non_null(p);
  assert_non_null(q);
  fill_n(&f->set, 7, "v");
  sign(f, &f->set, &sr);
  const char *names[] = {"attr-02", "attr-05"};
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 2, &d), STW_OK);
  assert_int_equal(verify(f, d.data, d.len), STW_OK);
  take_apart(&d, p);
  assert_int_equal(p->leaves, 2);
  assert_true(p->proof_len >= 2);
  assert_int_equal(verify_parts(f, p), STW_OK);  /* our re-encoding is faithful */

  *q = *p;  /* wrong value */
  q->leaf[0].value[0] ^= 0x01;
  assert_int_equal(verify_parts(f, q), STW_ERR_TAMPERED);
  *q = *p;  /* wrong salt */
  q->leaf[1].salt[7] ^= 0x40;
  assert_int_equal(verify_parts(f, q), STW_ERR_TAMPERED);
  *q = *p;  /* wrong authority: a domain leaf claimed for the manufacturer */
  snprintf(q->leaf[1].authority, sizeof(q->leaf[1].authority), "%s",
           strcmp(q->leaf[1].authority, "home.example") == 0 ? "Acme Sensors" : "home.example");
  assert_int_equal(verify_parts(f, q), STW_ERR_TAMPERED);
  *q = *p;  /* a leaf moved to another position */
  q->index[0] = 1;
  assert_int_equal(verify_parts(f, q), STW_ERR_TAMPERED);
  *q = *p;  /* swapped siblings in the proof */
  memcpy(q->proof[0], p->proof[1], 32);
  memcpy(q->proof[1], p->proof[0], 32);
  assert_int_equal(verify_parts(f, q), STW_ERR_TAMPERED);
  *q = *p;  /* one sibling flipped */
  q->proof[q->proof_len - 1][0] ^= 1;
  assert_int_equal(verify_parts(f, q), STW_ERR_TAMPERED);
  *q = *p;  /* truncated proof */
  q->proof_len--;
  assert_int_equal(verify_parts(f, q), STW_ERR_MALFORMED);
  *q = *p;  /* a hash too many */
  q->proof_len++;
  assert_int_equal(verify_parts(f, q), STW_ERR_MALFORMED);
  *q = *p;  /* leaves out of order */
  q->leaf[0] = p->leaf[1];
  q->leaf[1] = p->leaf[0];
  q->index[0] = p->index[1];
  q->index[1] = p->index[0];
  assert_int_equal(verify_parts(f, q), STW_ERR_MALFORMED);
  *q = *p;  /* a position outside the tree */
  q->index[1] = 7;
  assert_int_equal(verify_parts(f, q), STW_ERR_MALFORMED);
  *q = *p;  /* no leaves at all */
  q->leaves = 0;
  assert_int_equal(verify_parts(f, q), STW_ERR_MALFORMED);
  *q = *p;  /* a leaf dropped, its proof kept */
  q->leaves = 1;
  assert_int_not_equal(verify_parts(f, q), STW_OK);

  /* Leaves and proof of another tree of the same shape under this root. */
  stw_buf_t d2 = {0}, sr2 = {0};
  fill_n(&f->other, 7, "w");
  sign(f, &f->other, &sr2);
  assert_int_equal(stw_attr_disclose(&f->other, sr2.data, sr2.len, names, 2, &d2), STW_OK);
  take_apart(&d2, q);
  memcpy(q->signed_root, p->signed_root, p->signed_root_len);
  q->signed_root_len = p->signed_root_len;
  assert_int_equal(verify_parts(f, q), STW_ERR_TAMPERED);
  stw_buf_free(&d2, false);
  stw_buf_free(&sr2, false);

  /* Truncated bytes, flipped bytes: never accepted. */
  for (size_t n = 0; n < d.len; n++)
    assert_int_not_equal(verify(f, d.data, n), STW_OK);
  for (size_t i = 0; i < d.len; i++) {
    d.data[i] ^= 0x01;
    if (verify(f, d.data, d.len) == STW_OK)
      fail_msg("flipped byte %zu of %zu accepted", i, d.len);
    d.data[i] ^= 0x01;
  }
  assert_int_equal(verify(f, d.data, d.len), STW_OK);
  assert_int_equal(verify(f, d.data, STW_ATTR_DISCLOSURE_MAX + 1), STW_ERR_TOO_LARGE);
  /* On failure nothing is left in out. */
  d.data[d.len - 1] ^= 0x01;
  assert_int_not_equal(verify(f, d.data, d.len), STW_OK);
  assert_int_equal(f->got.count, 0);
  stw_buf_free(&d, false);
  stw_buf_free(&sr, false);
  free(p);
  free(q);
}

static void test_root_refusals(void **state)
{
  fx_t *f = *state;
  stw_buf_t sr = {0}, d = {0};
  const char *names[] = {"location"};
  fill_thermostat(&f->set);

  /* Signed by another key. */
  stw_key_t *other = NULL;
  assert_int_equal(stw_key_generate(&other), STW_OK);
  assert_int_equal(stw_attr_sign_root(&f->set, f->device_id, T0, T0 + DAY, other, &sr), STW_OK);
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 1, &d), STW_OK);
  assert_int_equal(verify(f, d.data, d.len), STW_ERR_BAD_SIGNATURE);
  stw_buf_free(&d, false);
  stw_buf_free(&sr, false);
  stw_key_free(other);

  /* Validity: the last second, one after, clock skew before iat. */
  sign(f, &f->set, &sr);
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 1, &d), STW_OK);
  const uint8_t *id = f->device_id;
  assert_int_equal(stw_attr_verify_disclosure(d.data, d.len, f->spki, f->spki_len, id, T0 + DAY, &f->got),
                   STW_OK);
  assert_int_equal(f->got.issued_at, T0);
  assert_int_equal(f->got.expires_at, T0 + DAY);
  assert_memory_equal(f->got.device_id, f->device_id, 16);
  assert_int_equal(stw_attr_verify_disclosure(d.data, d.len, f->spki, f->spki_len, id, T0 + DAY + 1, &f->got),
                   STW_ERR_EXPIRED);
  assert_int_equal(stw_attr_verify_disclosure(d.data, d.len, f->spki, f->spki_len, id, T0 - 300, &f->got),
                   STW_OK);
  assert_int_equal(stw_attr_verify_disclosure(d.data, d.len, f->spki, f->spki_len, id, T0 - 301, &f->got),
                   STW_ERR_EXPIRED);
  assert_int_equal(stw_attr_verify_disclosure(d.data, d.len, f->spki, f->spki_len, id, INT64_MIN, &f->got),
                   STW_ERR_EXPIRED);

  /* About another device; any device when the caller does not say. */
  uint8_t other_id[16];
  memcpy(other_id, f->device_id, 16);
  other_id[0] ^= 1;
  assert_int_equal(stw_attr_verify_disclosure(d.data, d.len, f->spki, f->spki_len, other_id, T0, &f->got),
                   STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_attr_verify_disclosure(d.data, d.len, f->spki, f->spki_len, NULL, T0, &f->got), STW_OK);
  assert_memory_equal(f->got.device_id, f->device_id, 16);

  /* The same domain key's signature over the same payload without our
   * external aad (say, in another format) is not a root. */
  parts_t *p = malloc(sizeof(*p));
  assert_non_null(p);
  take_apart(&d, p);
  stw_cose_sign1_t s;
  assert_int_equal(stw_cose_sign1_parse(p->signed_root, p->signed_root_len, &s), STW_OK);
  uint8_t kid[32];
  assert_int_equal(stw_sha256(f->spki, f->spki_len, kid), STW_OK);
  stw_buf_t resigned = {0};
  assert_int_equal(stw_cose_sign1_create(f->domain, kid, 16, s.payload, s.payload_len, NULL, 0, &resigned),
                   STW_OK);
  memcpy(p->signed_root, resigned.data, resigned.len);
  p->signed_root_len = resigned.len;
  assert_int_equal(verify_parts(f, p), STW_ERR_BAD_SIGNATURE);
  stw_buf_free(&resigned, false);
  /* Right signature and aad, but the kid names another key. */
  static const char aad[] = "steward attribute root v1";
  kid[0] ^= 1;
  assert_int_equal(stw_cose_sign1_create(f->domain, kid, 16, s.payload, s.payload_len, (const uint8_t *)aad,
                                         sizeof(aad) - 1, &resigned),
                   STW_OK);
  take_apart(&d, p);
  memcpy(p->signed_root, resigned.data, resigned.len);
  p->signed_root_len = resigned.len;
  assert_int_equal(verify_parts(f, p), STW_ERR_UNTRUSTED);
  stw_buf_free(&resigned, false);
  free(p);
  stw_buf_free(&d, false);
  stw_buf_free(&sr, false);
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
  for (size_t i = 0; m <= n && i <= n - m; i++)
    if (memcmp(hay + i, needle, m) == 0)
      return true;
  return false;
}

/* What is not disclosed is not in the bytes: no value, no name, no salt. */
static void test_undisclosed_absent(void **state)
{
  fx_t *f = *state;
  stw_buf_t sr = {0};
  for (size_t n = 1; n <= 64; n += 9) {
    fill_n(&f->set, n, "secret");
    sign(f, &f->set, &sr);
    for (size_t pick = 0; pick < n; pick++) {
      const char *names[] = {f->set.attrs[pick].name};
      stw_buf_t d = {0};
      assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 1, &d), STW_OK);
      for (size_t i = 0; i < n; i++) {
        const stw_attr_t *a = &f->set.attrs[i];
        bool shown = i == pick;
        assert_true(contains(d.data, d.len, a->value, strlen(a->value)) == shown);
        assert_true(contains(d.data, d.len, a->name, strlen(a->name)) == shown);
        assert_true(contains(d.data, d.len, a->salt, sizeof(a->salt)) == shown);
      }
      stw_buf_free(&d, false);
    }
    stw_buf_free(&sr, false);
  }
  /* The thermostat: "role=admin" stays hidden when only location is shown. */
  fill_thermostat(&f->set);
  sign(f, &f->set, &sr);
  const char *names[] = {"location"};
  stw_buf_t d = {0};
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 1, &d), STW_OK);
  assert_false(contains(d.data, d.len, "admin", 5));
  assert_false(contains(d.data, d.len, "role", 4));
  assert_false(contains(d.data, d.len, "TH-200", 6));
  assert_true(contains(d.data, d.len, "kitchen", 7));
  stw_buf_free(&d, false);
  stw_buf_free(&sr, false);
}

/* Manufacturer leaves come from an IDevID the domain verified. */
static void test_from_idevid(void **state)
{
  fx_t *f = *state;
  stw_cert_info_t info;
  memset(&info, 0, sizeof(info));
  stw_attr_set_init(&f->set);
  assert_int_equal(stw_attr_set_add_from_idevid(&f->set, &info), STW_ERR_INVALID);
  snprintf(info.organization, sizeof(info.organization), "Acme Sensors");
  snprintf(info.unit, sizeof(info.unit), "TH-200");
  assert_int_equal(stw_attr_set_add_from_idevid(&f->set, &info), STW_OK);
  assert_int_equal(stw_attr_set_add(&f->set, "location", "hall", "home.example"), STW_OK);
  /* A second time: "manufacturer" is a duplicate, and nothing half-added stays. */
  assert_int_equal(stw_attr_set_add_from_idevid(&f->set, &info), STW_ERR_INVALID);
  assert_int_equal(f->set.count, 3);
  stw_buf_t sr = {0}, d = {0};
  sign(f, &f->set, &sr);
  const char *names[] = {"model"};
  assert_int_equal(stw_attr_disclose(&f->set, sr.data, sr.len, names, 1, &d), STW_OK);
  assert_int_equal(verify(f, d.data, d.len), STW_OK);
  assert_string_equal(stw_attr_disclosed_value(&f->got, "model", "Acme Sensors"), "TH-200");
  assert_null(stw_attr_disclosed_value(&f->got, "model", "home.example"));
  assert_null(stw_attr_disclosed_value(&f->got, "manufacturer", "Acme Sensors"));
  stw_buf_free(&d, false);
  stw_buf_free(&sr, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_root_deterministic, setup, teardown),
    cmocka_unit_test_setup_teardown(test_every_subset, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_limits_and_strings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_disclose_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tampering, setup, teardown),
    cmocka_unit_test_setup_teardown(test_root_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(test_undisclosed_absent, setup, teardown),
    cmocka_unit_test_setup_teardown(test_from_idevid, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
