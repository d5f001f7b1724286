#include "devfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct stw_devfile {
  stw_devfile_t *next;
  char name[STW_DEVFILE_NAME_MAX];
  stw_buf_t data;
};

/* Slot images are the largest files; nothing a device keeps is bigger. */
#define MEM_FILE_MAX (64u * 1024 * 1024)

static bool on_disk(const stw_dev_t *dev)
{
  return dev->dir[0] != '\0';
}

static stw_status_t disk_path(const stw_dev_t *dev, const char *name, char *path, size_t len)
{
  if (strlen(name) >= STW_DEVFILE_NAME_MAX || strstr(name, "..") != NULL)
    return STW_ERR_INVALID;
  return stw_path_join(path, len, dev->dir, name);
}

/* The folder of path (everything before the last '/') exists. */
static stw_status_t make_parent(const char *path)
{
  char dir[1200];
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    return STW_OK;
  size_t n = (size_t)(slash - path);
  if (n >= sizeof(dir))
    return STW_ERR_TOO_LARGE;
  memcpy(dir, path, n);
  dir[n] = '\0';
  return stw_mkdir_p(dir, 0700);
}

static stw_devfile_t *mem_find(const stw_dev_t *dev, const char *name)
{
  for (stw_devfile_t *f = dev->mem_files; f != NULL; f = f->next)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}

static stw_status_t mem_get(stw_dev_t *dev, const char *name, stw_devfile_t **out)
{
  if (strlen(name) >= STW_DEVFILE_NAME_MAX)
    return STW_ERR_INVALID;
  stw_devfile_t *f = mem_find(dev, name);
  if (f == NULL) {
    if ((f = calloc(1, sizeof(*f))) == NULL)
      return STW_ERR_NOMEM;
    snprintf(f->name, sizeof(f->name), "%s", name);
    stw_buf_init(&f->data, MEM_FILE_MAX);
    f->next = dev->mem_files;
    dev->mem_files = f;
  }
  *out = f;
  return STW_OK;
}

stw_status_t stw__devfile_read(const stw_dev_t *dev, const char *name, size_t max, uint8_t **out, size_t *len)
{
  *out = NULL;
  *len = 0;
  if (on_disk(dev)) {
    char path[1200];
    stw_status_t st = disk_path(dev, name, path, sizeof(path));
    return st != STW_OK ? st : stw_file_read(path, max, out, len);
  }
  const stw_devfile_t *f = mem_find(dev, name);
  if (f == NULL)
    return STW_ERR_NOT_FOUND;
  if (f->data.len > max)
    return STW_ERR_TOO_LARGE;
  if ((*out = malloc(f->data.len + 1)) == NULL)
    return STW_ERR_NOMEM;
  if (f->data.len > 0)
    memcpy(*out, f->data.data, f->data.len);
  (*out)[f->data.len] = '\0';
  *len = f->data.len;
  return STW_OK;
}

stw_status_t stw__devfile_write(stw_dev_t *dev, const char *name, const void *data, size_t len, unsigned mode)
{
  if (on_disk(dev)) {
    char path[1200];
    stw_status_t st = disk_path(dev, name, path, sizeof(path));
    if (st == STW_OK)
      st = make_parent(path);
    return st != STW_OK ? st : stw_file_write_atomic(path, data, len, mode);
  }
  stw_devfile_t *f = NULL;
  stw_status_t st = mem_get(dev, name, &f);
  if (st != STW_OK)
    return st;
  /* Build the new content aside first: a failed write keeps the old one. */
  stw_buf_t fresh;
  stw_buf_init(&fresh, MEM_FILE_MAX);
  if (len > 0 && (st = stw_buf_append(&fresh, data, len)) != STW_OK) {
    stw_buf_free(&fresh, false);
    return st;
  }
  stw_buf_free(&f->data, false);
  f->data = fresh;
  return STW_OK;
}

stw_status_t stw__devfile_append(stw_dev_t *dev, const char *name, const void *data, size_t len)
{
  if (on_disk(dev)) {
    char path[1200];
    stw_status_t st = disk_path(dev, name, path, sizeof(path));
    if (st == STW_OK)
      st = make_parent(path);
    if (st != STW_OK)
      return st;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
      return STW_ERR_IO;
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
      ssize_t n = write(fd, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        close(fd);
        return STW_ERR_IO;
      }
      p += n;
      left -= (size_t)n;
    }
    /* The progress record that counts these bytes is written after this
     * returns: the bytes must be on disk first. */
    st = fsync(fd) == 0 ? STW_OK : STW_ERR_IO;
    close(fd);
    return st;
  }
  stw_devfile_t *f = NULL;
  stw_status_t st = mem_get(dev, name, &f);
  return st != STW_OK || len == 0 ? st : stw_buf_append(&f->data, data, len);
}

stw_status_t stw__devfile_size(const stw_dev_t *dev, const char *name, uint64_t *size)
{
  *size = 0;
  if (on_disk(dev)) {
    char path[1200];
    struct stat sb;
    stw_status_t st = disk_path(dev, name, path, sizeof(path));
    if (st != STW_OK)
      return st;
    if (stat(path, &sb) != 0)
      return errno == ENOENT ? STW_ERR_NOT_FOUND : STW_ERR_IO;
    *size = (uint64_t)sb.st_size;
    return STW_OK;
  }
  const stw_devfile_t *f = mem_find(dev, name);
  if (f == NULL)
    return STW_ERR_NOT_FOUND;
  *size = f->data.len;
  return STW_OK;
}

void stw__devfile_remove(stw_dev_t *dev, const char *name)
{
  if (on_disk(dev)) {
    char path[1200];
    if (disk_path(dev, name, path, sizeof(path)) == STW_OK)
      unlink(path);
    return;
  }
  for (stw_devfile_t **p = &dev->mem_files; *p != NULL; p = &(*p)->next) {
    if (strcmp((*p)->name, name) == 0) {
      stw_devfile_t *f = *p;
      *p = f->next;
      stw_buf_free(&f->data, false);
      free(f);
      return;
    }
  }
}

void stw__devfiles_free(stw_devfile_t *files)
{
  while (files != NULL) {
    stw_devfile_t *next = files->next;
    stw_buf_free(&files->data, false);
    free(files);
    files = next;
  }
}

/* ---- "key=value\n" records ----------------------------------------------------- */

bool stw__record_u64(const char *s, size_t len, uint64_t *out)
{
  if (len == 0 || len > 20)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

stw_status_t stw__record_parse(const uint8_t *text, size_t len, const char *const *keys, unsigned n_keys,
                               stw__record_value_fn fn, void *arg)
{
  if (n_keys == 0 || n_keys > 32)
    return STW_ERR_INVALID;
  uint32_t seen = 0, all = n_keys == 32 ? UINT32_MAX : (1u << n_keys) - 1;
  const char *p = (const char *)text, *end = p + len;
  while (p < end) {
    /* Every line ends: a cut record is no record. */
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eq = nl ? memchr(p, '=', (size_t)(nl - p)) : NULL;
    if (eq == NULL)
      return STW_ERR_MALFORMED;
    size_t klen = (size_t)(eq - p), vlen = (size_t)(nl - eq - 1);
    unsigned k = 0;
    while (k < n_keys && (strlen(keys[k]) != klen || memcmp(p, keys[k], klen) != 0))
      k++;
    if (k == n_keys || (seen & (1u << k)) || !fn(arg, k, eq + 1, vlen))
      return STW_ERR_MALFORMED;
    seen |= 1u << k;
    p = nl + 1;
  }
  return seen == all ? STW_OK : STW_ERR_MALFORMED;
}
