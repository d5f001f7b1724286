/* The device's factory reset: back to what the factory imprinted, so that a
 * new owner can bootstrap it with a new voucher, and nothing of the old
 * owner's domain is left on it.
 *
 * Kept: the factory identity (idevid.pem or bootstrap.psk), the manufacturer
 * CA (mfg-ca.pem), the model, and the firmware (fw/: the software it runs is
 * not the owner's, and a new owner's attestation measures it). Everything
 * else in the folder — LDevID and its key, the domain CA, the assigned name,
 * operational PSK, an enrollment in flight, OSCORE contexts, whatever a later
 * capability writes there — is overwritten with zeros, flushed and unlinked:
 * a list of what to keep cannot miss a new file the way a list of what to
 * delete can. (On flash or copy-on-write file systems the overwrite reaches
 * the same blocks only where the file system lets it; the keys are gone from
 * the file system either way.) */
#include "dev_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const factory_files[] = { "idevid.pem", "bootstrap.psk", "mfg-ca.pem", "model", "fw" };

/* Depth of nested folders a device's own files use; deeper is not ours. */
#define WIPE_DEPTH_MAX 4

static bool from_factory(const char *name)
{
  for (size_t i = 0; i < sizeof(factory_files) / sizeof(factory_files[0]); i++)
    if (strcmp(name, factory_files[i]) == 0)
      return true;
  return false;
}

/* Overwrite a regular file's bytes with zeros and flush them, before unlink. */
static stw_status_t overwrite(int dirfd, const char *name)
{
  int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return STW_ERR_IO;
  struct stat sb;
  stw_status_t st = STW_OK;
  static const uint8_t zeros[4096];
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = STW_ERR_IO;
  } else {
    off_t left = sb.st_size;
    while (left > 0 && st == STW_OK) {
      size_t n = left < (off_t)sizeof(zeros) ? (size_t)left : sizeof(zeros);
      ssize_t w = write(fd, zeros, n);
      if (w <= 0)
        st = STW_ERR_IO;
      else
        left -= w;
    }
    if (st == STW_OK && fsync(fd) != 0)
      st = STW_ERR_IO;
  }
  close(fd);
  return st;
}

/* Wipe every entry of the folder open as dirfd (consumed), except the
 * factory's at the top. Goes on past a failure; returns the first. */
static stw_status_t wipe_folder(int dirfd, int depth)
{
  DIR *d = fdopendir(dirfd);
  if (d == NULL) {
    close(dirfd);
    return STW_ERR_IO;
  }
  stw_status_t first = STW_OK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || (depth == 0 && from_factory(name)))
      continue;
    struct stat sb;
    stw_status_t st = STW_OK;
    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
      st = STW_ERR_IO;
    } else if (S_ISDIR(sb.st_mode)) {
      int sub = depth < WIPE_DEPTH_MAX ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      st = sub < 0 ? STW_ERR_IO : wipe_folder(sub, depth + 1);
      if (st == STW_OK && unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
        st = STW_ERR_IO;
    } else {
      if (S_ISREG(sb.st_mode))
        st = overwrite(dirfd, name);
      if (unlinkat(dirfd, name, 0) != 0 && st == STW_OK)  /* a link only goes: never follow it */
        st = STW_ERR_IO;
    }
    if (first == STW_OK)
      first = st;
  }
  closedir(d);  /* closes dirfd */
  return first;
}

/* What bootstrapping gave, forgotten in memory too: the same handle can
 * bootstrap again at once. */
static void forget_owner(stw_dev_t *dev)
{
  stw_buf_free(&dev->domain_ca_der, false);
  stw_buf_init(&dev->domain_ca_der, STW_CERT_MAX);
  stw_buf_free(&dev->op_cert_pem, false);
  stw_buf_init(&dev->op_cert_pem, STW_PEM_MAX);
  stw_buf_free(&dev->op_key_pem, true);
  stw_buf_init(&dev->op_key_pem, STW_PEM_MAX);
  stw_buf_free(&dev->pending_key_pem, true);
  stw_buf_init(&dev->pending_key_pem, STW_PEM_MAX);
  stw_buf_free(&dev->pending_csr_der, false);
  stw_buf_init(&dev->pending_csr_der, STW_CSR_MAX);
  memset(&dev->op_cert, 0, sizeof(dev->op_cert));
  dev->has_op_cert = false;
  stw_wipe(dev->op_psk_identity, sizeof(dev->op_psk_identity));
  stw_wipe(dev->op_psk, sizeof(dev->op_psk));
  dev->has_op_psk = false;
  memset(dev->name, 0, sizeof(dev->name));
}

stw_status_t stw_dev_factory_reset(stw_dev_t *dev)
{
  if (dev == NULL)
    return STW_ERR_INVALID;
  forget_owner(dev);
  if (dev->dir[0] == '\0')
    return STW_OK;  /* memory-only: nothing on disk; its firmware files stay */
  int dirfd = open(dev->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return errno == ENOENT ? STW_ERR_NOT_FOUND : STW_ERR_IO;
  stw_status_t st = wipe_folder(dirfd, 0);
  /* The removals themselves must survive a power cut. */
  int again = open(dev->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (again >= 0) {
    if (fsync(again) != 0 && st == STW_OK)
      st = STW_ERR_IO;
    close(again);
  }
  return st;
}
