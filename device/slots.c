/* A/B firmware slots. The boot record is the commit point: an image is
 * written to the inactive slot first (atomically), and only the boot record
 * that follows makes it the one that runs, so a crash leaves either the old
 * record or the new one, each naming a complete image. */
#include "slots.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_internal.h"
#include "devfiles.h"

#define BOOT_FILE "fw/boot"

static const char *slot_file(char slot)
{
  return slot == 'b' ? "fw/slot-b.img" : "fw/slot-a.img";
}

static char other(char slot)
{
  return slot == 'a' ? 'b' : 'a';
}

/* ---- the boot record: "key=value\n" lines, every key exactly once (devfiles.h) ---- */

enum { KEY_ACTIVE, KEY_TRIAL, KEY_SEQUENCE, KEY_PREV_SEQUENCE, KEY_BOOT_COUNT, KEYS };

static bool boot_value(void *arg, unsigned key, const char *v, size_t len)
{
  stw_slots_t *out = arg;
  uint64_t n = 0;
  switch (key) {
  case KEY_ACTIVE:
    if (len != 1 || (v[0] != 'a' && v[0] != 'b'))
      return false;
    out->active = v[0];
    return true;
  case KEY_TRIAL:
    if (!stw__record_u64(v, len, &n) || n > 1)
      return false;
    out->trial = n == 1;
    return true;
  case KEY_SEQUENCE: return stw__record_u64(v, len, &out->sequence);
  case KEY_PREV_SEQUENCE: return stw__record_u64(v, len, &out->prev_sequence);
  default: return stw__record_u64(v, len, &out->boot_count);
  }
}

stw_status_t stw_slots_parse(const uint8_t *text, size_t len, stw_slots_t *out)
{
  static const char *const keys[KEYS] = { "active", "trial", "sequence", "prev_sequence", "boot_count" };
  if (len > STW_SLOTS_BOOT_MAX)
    return STW_ERR_TOO_LARGE;
  memset(out, 0, sizeof(*out));
  return stw__record_parse(text, len, keys, KEYS, boot_value, out);
}

/* Write s as the boot record; *out (if not NULL) gets it once written. */
static stw_status_t write_record(stw_dev_t *dev, const stw_slots_t *s, stw_slots_t *out)
{
  char text[STW_SLOTS_BOOT_MAX];
  int n = snprintf(text, sizeof(text),
                   "active=%c\ntrial=%d\nsequence=%" PRIu64 "\nprev_sequence=%" PRIu64 "\nboot_count=%" PRIu64 "\n",
                   s->active, s->trial ? 1 : 0, s->sequence, s->prev_sequence, s->boot_count);
  if (n < 0 || (size_t)n >= sizeof(text))
    return STW_ERR_TOO_LARGE;
  stw_status_t st = stw__devfile_write(dev, BOOT_FILE, text, (size_t)n, 0644);
  if (st == STW_OK && out != NULL)
    *out = *s;
  return st;
}

/* What a device runs before any update: an image derived from its id, so
 * every device's factory image differs and measures differently. */
static stw_status_t write_factory(stw_dev_t *dev, stw_slots_t *out)
{
  char image[128];
  int n = snprintf(image, sizeof(image), "steward factory image\ndevice %s\n", dev->id);
  if (n < 0 || (size_t)n >= sizeof(image))
    return STW_ERR_TOO_LARGE;
  stw_status_t st = stw__devfile_write(dev, slot_file('a'), image, (size_t)n, 0644);
  if (st != STW_OK)
    return st;
  stw_slots_t s = { .active = 'a', .trial = false, .sequence = 0, .prev_sequence = 0, .boot_count = 1 };
  return write_record(dev, &s, out);
}

stw_status_t stw_slots_load(stw_dev_t *dev, stw_slots_t *out)
{
  uint8_t *text = NULL;
  size_t len = 0;
  stw_status_t st = stw__devfile_read(dev, BOOT_FILE, STW_SLOTS_BOOT_MAX, &text, &len);
  if (st == STW_OK)
    st = stw_slots_parse(text, len, out);
  else if (st == STW_ERR_NOT_FOUND)
    st = write_factory(dev, out);
  free(text);
  return st;
}

stw_status_t stw_slots_read_active(stw_dev_t *dev, uint8_t **image, size_t *len)
{
  stw_slots_t s;
  stw_status_t st = stw_slots_load(dev, &s);
  if (st != STW_OK)
    return st;
  return stw__devfile_read(dev, slot_file(s.active), STW_SLOTS_IMAGE_MAX, image, len);
}

stw_status_t stw_slots_write_inactive(stw_dev_t *dev, const uint8_t *image, size_t len)
{
  stw_slots_t s;
  stw_status_t st = stw_slots_load(dev, &s);
  if (st != STW_OK)
    return st;
  if (len > STW_SLOTS_IMAGE_MAX)
    return STW_ERR_TOO_LARGE;
  /* While on trial the other slot holds the fallback: never overwrite it. */
  if (s.trial)
    return STW_ERR_STATE;
  return stw__devfile_write(dev, slot_file(other(s.active)), image, len, 0644);
}

/* The boot record, for a step allowed only on trial (trial) or only off it
 * (!trial): STW_ERR_STATE for the other. */
static stw_status_t load_when(stw_dev_t *dev, bool trial, stw_slots_t *s)
{
  stw_status_t st = stw_slots_load(dev, s);
  if (st == STW_OK && s->trial != trial)
    st = STW_ERR_STATE;
  return st;
}

stw_status_t stw_slots_boot_trial(stw_dev_t *dev, uint64_t sequence, stw_slots_t *out)
{
  stw_slots_t s;
  uint64_t size = 0;
  stw_status_t st = load_when(dev, false, &s);
  if (st != STW_OK)
    return st;
  if ((st = stw__devfile_size(dev, slot_file(other(s.active)), &size)) != STW_OK)
    return st;
  stw_slots_t next = { .active = other(s.active), .trial = true, .sequence = sequence,
                       .prev_sequence = s.sequence, .boot_count = s.boot_count + 1 };
  return write_record(dev, &next, out);
}

stw_status_t stw_slots_confirm(stw_dev_t *dev, stw_slots_t *out)
{
  stw_slots_t s;
  stw_status_t st = load_when(dev, true, &s);
  if (st != STW_OK)
    return st;
  s.trial = false;
  return write_record(dev, &s, out);
}

static stw_status_t fall_back(stw_dev_t *dev, const stw_slots_t *s, stw_slots_t *out)
{
  /* The failed image stays in what is now the inactive slot, where the next
   * update overwrites it; its sequence is forgotten. */
  stw_slots_t back = { .active = other(s->active), .trial = false, .sequence = s->prev_sequence,
                       .prev_sequence = s->prev_sequence, .boot_count = s->boot_count + 1 };
  return write_record(dev, &back, out);
}

stw_status_t stw_slots_fall_back(stw_dev_t *dev, stw_slots_t *out)
{
  stw_slots_t s;
  stw_status_t st = load_when(dev, true, &s);
  if (st != STW_OK)
    return st;
  return fall_back(dev, &s, out);
}

stw_status_t stw_slots_boot(stw_dev_t *dev, stw_slots_t *out)
{
  stw_slots_t s;
  stw_status_t st = stw_slots_load(dev, &s);
  if (st != STW_OK)
    return st;
  if (s.trial)
    return fall_back(dev, &s, out);
  s.boot_count++;
  return write_record(dev, &s, out);
}

/* ---- identity and measurement ----------------------------------------------------- */

static void copy_text(char *dst, const char *src)
{
  snprintf(dst, STW_NAME_MAX, "%s", src);
}

stw_status_t stw_slots_identity(const stw_dev_t *dev, char *vendor, char *class_id)
{
  vendor[0] = class_id[0] = '\0';
  stw_cert_info_t info;
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  stw_status_t st = STW_OK;
  if (dev->idevid_cert_pem.len > 0) {
    st = stw_pem_to_der("CERTIFICATE", dev->idevid_cert_pem.data, dev->idevid_cert_pem.len, &der);
    if (st == STW_OK)
      st = stw_cert_parse(der.data, der.len, &info);
    if (st == STW_OK) {
      copy_text(vendor, info.organization);
      copy_text(class_id, info.unit);
    }
  } else {
    /* A PSK device: its manufacturer is its CA's, its model in the folder. */
    if (dev->mfg_ca_der.len > 0 && stw_cert_parse(dev->mfg_ca_der.data, dev->mfg_ca_der.len, &info) == STW_OK)
      copy_text(vendor, info.organization[0] ? info.organization : info.common_name);
    uint8_t *model = NULL;
    size_t len = 0;
    if (stw__devfile_read(dev, "model", STW_NAME_MAX - 1, &model, &len) == STW_OK) {
      while (len > 0 && (model[len - 1] == '\n' || model[len - 1] == '\r'))
        len--;
      model[len] = '\0';
      copy_text(class_id, (const char *)model);
    }
    free(model);
  }
  stw_buf_free(&der, false);
  return st;
}

/* Length-prefixed, so no two configurations hash the same input. */
static stw_status_t put_field(stw_buf_t *b, const void *data, size_t len)
{
  uint8_t n[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
  stw_status_t st = stw_buf_append(b, n, sizeof(n));
  if (st == STW_OK && len > 0)
    st = stw_buf_append(b, data, len);
  return st;
}

stw_status_t stw_slots_measure(stw_dev_t *dev, uint8_t image_digest[32], uint8_t config_digest[32],
                               uint64_t *boot_count, uint64_t *sequence)
{
  stw_slots_t s;
  uint8_t *image = NULL;
  size_t len = 0;
  char vendor[STW_NAME_MAX], model[STW_NAME_MAX];
  stw_buf_t config;
  stw_buf_init(&config, 2 * STW_CERT_MAX);
  stw_status_t st = stw_slots_load(dev, &s);
  if (st == STW_OK)
    st = stw__devfile_read(dev, slot_file(s.active), STW_SLOTS_IMAGE_MAX, &image, &len);
  if (st == STW_OK)
    st = stw_sha256(image, len, image_digest);
  /* The configuration: the name the domain gave, the domain CA it pinned and
   * its model. */
  if (st == STW_OK)
    st = stw_slots_identity(dev, vendor, model);
  if (st == STW_OK)
    st = put_field(&config, dev->name, strlen(dev->name));
  if (st == STW_OK)
    st = put_field(&config, dev->domain_ca_der.data, dev->domain_ca_der.len);
  if (st == STW_OK)
    st = put_field(&config, model, strlen(model));
  if (st == STW_OK)
    st = stw_sha256(config.data, config.len, config_digest);
  if (st == STW_OK) {
    *boot_count = s.boot_count;
    *sequence = s.sequence;
  }
  free(image);
  stw_buf_free(&config, false);
  return st;
}
