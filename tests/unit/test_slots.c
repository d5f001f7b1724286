/* A/B slots (device/slots.c): the factory image, a trial boot that is
 * confirmed or falls back, a reboot during the trial, what is measured, the
 * same on a memory-only device, and the boot record parser's refusals. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_internal.h"
#include "factory.h"
#include "slots.h"

typedef struct {
  char *dir;
  stw_factory_t *mfg;
  stw_dev_t *disk;
  stw_dev_t *mem;
} fixture_t;

static int setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->dir = stw_test_tmpdir("slots");
  assert_int_equal(stw_factory_new("ACME", &f->mfg), STW_OK);
  stw_imprint_t im;
  assert_int_equal(stw_factory_imprint(f->mfg, "meter-1", false, &im), STW_OK);
  assert_int_equal(stw_imprint_save(f->mfg, &im, f->dir), STW_OK);
  assert_int_equal(stw_dev_open(f->dir, &f->disk), STW_OK);
  stw_buf_t ca;
  stw_buf_init(&ca, 8192);
  assert_int_equal(stw_der_to_pem("CERTIFICATE", f->mfg->ca_der.data, f->mfg->ca_der.len, &ca), STW_OK);
  assert_int_equal(stw_buf_append(&ca, "", 1), STW_OK);
  assert_int_equal(stw_dev_new_memory((const char *)im.idevid_pem.data, (const char *)ca.data, NULL, NULL, &f->mem),
                   STW_OK);
  stw_buf_free(&ca, false);
  stw_imprint_clear(&im);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *f = *state;
  stw_dev_close(f->disk);
  stw_dev_close(f->mem);
  stw_factory_free(f->mfg);
  stw_test_rmtree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static void trial_confirm_fallback(stw_dev_t *dev)
{
  stw_slots_t s;
  assert_int_equal(stw_slots_load(dev, &s), STW_OK);
  assert_int_equal(s.active, 'a');
  assert_int_equal(s.sequence, 0);
  assert_int_equal(s.boot_count, 1);
  uint8_t factory[32], cfg[32], img[32], cfg2[32];
  uint64_t boots, seq;
  assert_int_equal(stw_slots_measure(dev, factory, cfg, &boots, &seq), STW_OK);

  static const uint8_t v1[] = "image one";
  assert_int_equal(stw_slots_write_inactive(dev, v1, sizeof(v1)), STW_OK);
  assert_int_equal(stw_slots_measure(dev, img, cfg2, &boots, &seq), STW_OK);
  assert_memory_equal(img, factory, 32);   /* written, not running yet */
  assert_int_equal(stw_slots_boot_trial(dev, 5, &s), STW_OK);
  assert_true(s.trial);
  assert_int_equal(s.active, 'b');
  assert_int_equal(stw_slots_write_inactive(dev, v1, sizeof(v1)), STW_ERR_STATE);  /* the fallback is kept */
  assert_int_equal(stw_slots_confirm(dev, &s), STW_OK);
  assert_int_equal(stw_slots_measure(dev, img, cfg2, &boots, &seq), STW_OK);
  assert_memory_not_equal(img, factory, 32);
  assert_memory_equal(cfg, cfg2, 32);
  assert_int_equal(seq, 5);
  assert_int_equal(boots, 2);

  /* A second image fails its self-test: back to the first. */
  static const uint8_t v2[] = "image two";
  assert_int_equal(stw_slots_write_inactive(dev, v2, sizeof(v2)), STW_OK);
  assert_int_equal(stw_slots_boot_trial(dev, 6, &s), STW_OK);
  assert_int_equal(stw_slots_fall_back(dev, &s), STW_OK);
  assert_int_equal(s.active, 'b');
  assert_int_equal(s.sequence, 5);
  assert_false(s.trial);
  assert_int_equal(s.boot_count, 4);
  assert_int_equal(stw_slots_fall_back(dev, &s), STW_ERR_STATE);
  assert_int_equal(stw_slots_confirm(dev, &s), STW_ERR_STATE);

  /* A reboot during a trial comes back on the old slot. */
  assert_int_equal(stw_slots_write_inactive(dev, v2, sizeof(v2)), STW_OK);
  assert_int_equal(stw_slots_boot_trial(dev, 6, &s), STW_OK);
  assert_int_equal(stw_slots_boot(dev, &s), STW_OK);
  assert_int_equal(s.active, 'b');
  assert_int_equal(s.sequence, 5);
  assert_false(s.trial);
}

static void test_disk_device(void **state)
{
  fixture_t *f = *state;
  trial_confirm_fallback(f->disk);
  /* The record is in the folder: another open sees it. */
  stw_dev_t *again = NULL;
  stw_slots_t s;
  assert_int_equal(stw_dev_open(f->dir, &again), STW_OK);
  assert_int_equal(stw_slots_load(again, &s), STW_OK);
  assert_int_equal(s.sequence, 5);
  stw_dev_close(again);
}

static void test_memory_device(void **state)
{
  fixture_t *f = *state;
  trial_confirm_fallback(f->mem);
}

static void test_identity(void **state)
{
  fixture_t *f = *state;
  char vendor[STW_NAME_MAX], class_id[STW_NAME_MAX];
  assert_int_equal(stw_slots_identity(f->mem, vendor, class_id), STW_OK);
  assert_string_equal(vendor, "ACME");
  assert_string_equal(class_id, "meter-1");
}

static void test_boot_record_parser(void **state)
{
  (void)state;
  stw_slots_t s;
  static const char good[] = "active=b\ntrial=1\nsequence=3\nprev_sequence=2\nboot_count=9\n";
  assert_int_equal(stw_slots_parse((const uint8_t *)good, strlen(good), &s), STW_OK);
  assert_int_equal(s.active, 'b');
  assert_true(s.trial);
  static const char *const bad[] = {
    "active=c\ntrial=0\nsequence=0\nprev_sequence=0\nboot_count=1\n",            /* no such slot */
    "active=a\ntrial=0\nsequence=0\nprev_sequence=0\n",                           /* a field missing */
    "active=a\ntrial=0\nsequence=0\nprev_sequence=0\nboot_count=1",               /* cut short */
    "active=a\ntrial=0\nsequence=0\nsequence=1\nprev_sequence=0\nboot_count=1\n", /* twice */
    "active=a\ntrial=2\nsequence=0\nprev_sequence=0\nboot_count=1\n",             /* not a flag */
    "active=a\ntrial=0\nsequence=99999999999999999999\nprev_sequence=0\nboot_count=1\n", /* overflow */
    "active=a\ntrial=0\nsequence=0\nprev_sequence=0\nboot_count=1\ncolour=red\n", /* unknown */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(stw_slots_parse((const uint8_t *)bad[i], strlen(bad[i]), &s), STW_ERR_MALFORMED);
  char big[STW_SLOTS_BOOT_MAX + 2];
  memset(big, 'x', sizeof(big));
  assert_int_equal(stw_slots_parse((const uint8_t *)big, sizeof(big), &s), STW_ERR_TOO_LARGE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_disk_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_memory_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
    cmocka_unit_test(test_boot_record_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
