/* Fuzz target: the device SDK's credential folder (device/dev.c). The first
 * byte picks a file, the rest is its content; stw_dev_open() must return an
 * error or a usable device, never crash. Seeds are real files with their
 * selector byte in front. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factory.h"
#include "steward/device.h"

typedef struct {
  const char *file;
  bool psk_device;     /* which folder it goes into */
  bool identity;       /* the factory file: restored after each input */
} target_t;

static const target_t targets[] = {
  { "operational.pem", false, false },
  { "bootstrap.psk", true, true },
  { "operational.psk", true, false },
  { "enroll.pending", false, false },
  { "domain-ca.pem", false, false },
  { "idevid.pem", false, true },
  { "name", false, false },
};

static struct {
  char root[512];
  char x509_dir[600];
  char psk_dir[600];
  stw_imprint_t x509;
  stw_imprint_t psk;
  stw_factory_t *factory;
} world;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

static void world_free(void)
{
  stw_imprint_clear(&world.x509);
  stw_imprint_clear(&world.psk);
  stw_factory_free(world.factory);
  if (world.root[0] != '\0')
    nftw(world.root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void need(stw_status_t st)
{
  if (st != STW_OK)
    abort();
}

static void world_init(void)
{
  const char *base = getenv("TMPDIR");
  snprintf(world.root, sizeof(world.root), "%s/stw-fuzz-dev-XXXXXX", base ? base : "/tmp");
  if (mkdtemp(world.root) == NULL)
    abort();
  atexit(world_free);
  snprintf(world.x509_dir, sizeof(world.x509_dir), "%s/x509", world.root);
  snprintf(world.psk_dir, sizeof(world.psk_dir), "%s/psk", world.root);
  need(stw_factory_new("Fuzz Mfg", &world.factory));
  need(stw_factory_imprint(world.factory, "lamp", false, &world.x509));
  need(stw_factory_imprint(world.factory, "sensor", true, &world.psk));
  need(stw_imprint_save(world.factory, &world.x509, world.x509_dir));
  need(stw_imprint_save(world.factory, &world.psk, world.psk_dir));
}

/* Plain write: atomic replacement and fsync only slow the fuzzer down here. */
static void put(const char *dir, const char *file, const uint8_t *data, size_t len)
{
  char path[700];
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    abort();
  if (len > 0 && fwrite(data, 1, len, f) != len)
    abort();
  fclose(f);
}

static void drop(const char *dir, const char *file)
{
  char path[700];
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (world.factory == NULL)
    world_init();
  if (size == 0)
    return 0;
  const target_t *t = &targets[data[0] % (sizeof(targets) / sizeof(targets[0]))];
  const char *dir = t->psk_device ? world.psk_dir : world.x509_dir;
  put(dir, t->file, data + 1, size - 1);

  stw_dev_t *dev = NULL;
  stw_status_t st = stw_dev_open(dir, &dev);
  if ((st == STW_OK) != (dev != NULL))
    abort();
  if (dev != NULL) {
    /* what the rest of the SDK relies on after a successful open */
    if (strlen(stw_dev_id(dev)) != 32 || stw_dev_uses_psk(dev) != t->psk_device)
      abort();
    (void)stw_dev_state(dev);
    (void)strlen(stw_dev_name(dev));
    (void)strlen(stw_dev_cert_serial(dev));
    (void)stw_dev_cert_not_after(dev);
    stw_dev_close(dev);
  }

  /* put the folder back as the factory left it */
  if (t->identity && t->psk_device) {
    drop(dir, t->file);
    need(stw_imprint_save(world.factory, &world.psk, world.psk_dir));
  } else if (t->identity) {
    drop(dir, t->file);
    need(stw_imprint_save(world.factory, &world.x509, world.x509_dir));
  } else {
    drop(dir, t->file);
  }
  return 0;
}
