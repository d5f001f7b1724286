#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

char *stw_test_tmpdir(const char *tag)
{
  const char *base = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof(tmpl), "%s/stw-%s-XXXXXX", base ? base : "/tmp", tag);
  char *dir = mkdtemp(tmpl);
  assert_non_null(dir);
  return strdup(dir);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

void stw_test_rmtree(const char *path)
{
  if (path != NULL)
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *stw_test_vector_path(const char *rel)
{
  static char buf[1024];
  const char *base = getenv("STW_VECTORS");
  snprintf(buf, sizeof(buf), "%s/%s", base ? base : "../shared/vectors", rel);
  return buf;
}

uint8_t *stw_test_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint8_t *stw_test_hex(const char *hex, size_t *len)
{
  size_t n = strlen(hex) / 2;
  uint8_t *out = malloc(n + 1);
  assert_non_null(out);
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    assert_true(hi >= 0 && lo >= 0);
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *len = n;
  return out;
}

size_t stw_test_b64url_decode(const char *in, uint8_t *out, size_t cap)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (const char *p = in; *p && *p != '='; p++) {
    const char *c = strchr(alphabet, *p);
    assert_non_null(c);
    acc = (acc << 6) | (uint32_t)(c - alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      assert_true(n < cap);
      out[n++] = (uint8_t)(acc >> bits);
    }
  }
  return n;
}

void stw_test_write_seed(const char *dir, const char *name, const uint8_t *p, size_t len)
{
  char path[512];
  assert_int_equal(stw_path_join(path, sizeof(path), dir, name), STW_OK);
  assert_int_equal(stw_file_write_atomic(path, p, len, 0644), STW_OK);
}
