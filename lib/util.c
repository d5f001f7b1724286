#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool stw_ct_equal(const void *a, const void *b, size_t len)
{
  const volatile uint8_t *x = a;
  const volatile uint8_t *y = b;
  uint8_t diff = 0;
  for (size_t i = 0; i < len; i++)
    diff |= x[i] ^ y[i];
  return diff == 0;
}

void stw_wipe(void *p, size_t len)
{
  if (p != NULL && len > 0)
    gnutls_memset(p, 0, len);
}

void stw_hex_encode(const uint8_t *in, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 0x0f];
  }
  out[2 * len] = '\0';
}

static int hex_value(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

stw_status_t stw_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_len)
{
  if (hex_len != 2 * out_len)
    return STW_ERR_MALFORMED;
  for (size_t i = 0; i < out_len; i++) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return STW_ERR_MALFORMED;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return STW_OK;
}

static stw_status_t fsync_parent(const char *path)
{
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  if (n == 0) {
    dir[0] = slash ? '/' : '.';
    dir[1] = '\0';
  } else {
    if (n >= sizeof(dir))
      return STW_ERR_TOO_LARGE;
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return STW_ERR_IO;
  int rc = fsync(fd);
  close(fd);
  return rc == 0 ? STW_OK : STW_ERR_IO;
}

stw_status_t stw_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
  char tmp[4096];
  int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return STW_ERR_TOO_LARGE;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0777);
  if (fd < 0)
    return STW_ERR_IO;
  stw_status_t st = STW_ERR_IO;
  if (fchmod(fd, mode & 0777) != 0)
    goto out;
  const uint8_t *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      goto out;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0)
    goto out;
  if (close(fd) != 0) {
    fd = -1;
    goto out;
  }
  fd = -1;
  if (rename(tmp, path) != 0)
    goto out;
  return fsync_parent(path);
out:
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  return st;
}

stw_status_t stw_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
  *out = NULL;
  *out_len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? STW_ERR_NOT_FOUND : STW_ERR_IO;
  stw_status_t st = STW_ERR_IO;
  struct stat sb;
  uint8_t *buf = NULL;
  size_t cap = 0;
  if (fstat(fd, &sb) != 0)
    goto out;
  if (sb.st_size < 0 || (uint64_t)sb.st_size > max) {
    st = STW_ERR_TOO_LARGE;
    goto out;
  }
  size_t size = (size_t)sb.st_size;
  cap = size + 1;
  buf = malloc(cap);
  if (buf == NULL) {
    st = STW_ERR_NOMEM;
    goto out;
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      goto out;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  buf[got] = '\0';
  *out = buf;
  *out_len = got;
  buf = NULL;
  st = STW_OK;
out:
  if (buf != NULL)
    stw_wipe(buf, cap);  /* a half-read key file leaves nothing behind */
  free(buf);
  close(fd);
  return st;
}

stw_status_t stw_mkdir_p(const char *path, unsigned mode)
{
  char tmp[4096];
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof(tmp))
    return STW_ERR_INVALID;
  memcpy(tmp, path, len + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
      return STW_ERR_IO;
    *p = '/';
  }
  if (mkdir(tmp, mode) != 0 && errno != EEXIST)
    return STW_ERR_IO;
  return STW_OK;
}

stw_status_t stw_path_join(char *out, size_t out_len, const char *dir, const char *name)
{
  int n = snprintf(out, out_len, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= out_len)
    return STW_ERR_TOO_LARGE;
  return STW_OK;
}

int64_t stw_now(void)
{
  return (int64_t)time(NULL);
}

uint64_t stw_monotonic_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

stw_status_t stw_random(void *buf, size_t len)
{
  return gnutls_rnd(GNUTLS_RND_RANDOM, buf, len) == 0 ? STW_OK : STW_ERR_CRYPTO;
}

void stw_buf_init(stw_buf_t *b, size_t max)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

stw_status_t stw_buf_append(stw_buf_t *b, const void *data, size_t len)
{
  if (len > b->max || b->len > b->max - len)
    return STW_ERR_TOO_LARGE;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + len)
      cap *= 2;
    if (cap > b->max)
      cap = b->max;
    /* Not realloc: it would free the old block unwiped, and buffers carry
     * keys and secrets (a PEM key followed by its certificate, a token
     * answer with a master secret). */
    uint8_t *p = malloc(cap);
    if (p == NULL)
      return STW_ERR_NOMEM;
    if (b->data != NULL) {
      memcpy(p, b->data, b->len);
      stw_wipe(b->data, b->cap);
      free(b->data);
    }
    b->data = p;
    b->cap = cap;
  }
  if (len > 0)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  return STW_OK;
}

void stw_buf_free(stw_buf_t *b, bool wipe)
{
  if (wipe)
    stw_wipe(b->data, b->cap);
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void stw_explain(char *why, size_t len, const char *fmt, ...)
{
  if (why == NULL || len == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, len, fmt, ap);
  va_end(ap);
}
