/* The SDK's factory reset (device/factory_reset.c): an enrolled device's
 * folder goes back to what the factory imprinted; the firmware stays; files
 * it does not know are wiped too; a memory-only device forgets the same;
 * the same handle and a reopened one are both STW_DEV_FACTORY. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev_internal.h"
#include "factory.h"
#include "steward/device.h"
#include "util.h"

typedef struct {
  stw_factory_t *f;
  char *root;
  char dir[1100];
  stw_imprint_t im;
} fx_t;

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  assert_int_equal(stw_factory_new("Acme", &fx->f), STW_OK);
  fx->root = stw_test_tmpdir("reset");
  snprintf(fx->dir, sizeof(fx->dir), "%s/dev", fx->root);
  assert_int_equal(stw_factory_imprint(fx->f, "lamp", false, &fx->im), STW_OK);
  assert_int_equal(stw_imprint_save(fx->f, &fx->im, fx->dir), STW_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_imprint_clear(&fx->im);
  stw_factory_free(fx->f);
  stw_test_rmtree(fx->root);
  free(fx->root);
  free(fx);
  return 0;
}

static bool exists(const fx_t *fx, const char *name)
{
  char path[1200];
  struct stat sb;
  snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
  return lstat(path, &sb) == 0;
}

static void put(const fx_t *fx, const char *name, const char *text)
{
  char path[1200];
  snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
  assert_int_equal(stw_file_write_atomic(path, text, strlen(text), 0600), STW_OK);
}

/* Entries at the top of the folder. */
static unsigned count_entries(const fx_t *fx)
{
  DIR *d = opendir(fx->dir);
  assert_non_null(d);
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

/* Enrol the device the way bootstrapping does: pending key and CSR, an LDevID
 * for it, the domain CA, a name, and an OSCORE context file. */
static void enroll(fx_t *fx, stw_dev_t *dev)
{
  assert_int_equal(stw__dev_pending_csr(dev, fx->im.id), STW_OK);
  stw_csr_info_t csr;
  assert_int_equal(stw_csr_parse_verify(dev->pending_csr_der.data, dev->pending_csr_der.len, &csr), STW_OK);
  int64_t now = stw_now();
  stw_cert_template_t t = {
    .common_name = "lamp-0001", .organization = "Home", .serial_number = dev->id,
    .not_before = now - 60, .not_after = now + 86400, .client_auth = true,
  };
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  assert_int_equal(stw_cert_issue(fx->f->ca_key, fx->f->ca_der.data, fx->f->ca_der.len, csr.spki, csr.spki_len, &t,
                                  &der, NULL),
                   STW_OK);
  assert_int_equal(stw__dev_store_ldevid(dev, der.data, der.len), STW_OK);
  assert_int_equal(stw__dev_store_domain_ca(dev, fx->f->ca_der.data, fx->f->ca_der.len), STW_OK);
  assert_int_equal(stw__dev_store_name(dev, "lamp-0001"), STW_OK);
  stw_buf_free(&der, false);
  put(fx, "oscore-ctx-0.cbor", "an OSCORE context");
  assert_int_equal(stw_dev_state(dev), STW_DEV_ENROLLED);
}

static void test_reset_enrolled_device(void **state)
{
  fx_t *fx = *state;
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->dir, &dev), STW_OK);
  enroll(fx, dev);
  char fw[1200];
  snprintf(fw, sizeof(fw), "%s/fw", fx->dir);
  assert_int_equal(mkdir(fw, 0700), 0);
  put(fx, "fw/boot", "a");
  put(fx, "fw/slot-a.img", "firmware image");
  assert_true(exists(fx, "operational.pem"));
  assert_true(exists(fx, "domain-ca.pem"));
  assert_true(exists(fx, "name"));

  assert_int_equal(stw_dev_factory_reset(dev), STW_OK);
  /* The same handle is back at the factory state, in memory. */
  assert_int_equal(stw_dev_state(dev), STW_DEV_FACTORY);
  assert_string_equal(stw_dev_name(dev), "");
  assert_string_equal(stw_dev_cert_serial(dev), "");
  assert_int_equal(dev->domain_ca_der.len, 0);
  assert_int_equal(dev->op_key_pem.len, 0);

  static const char *const gone[] = { "operational.pem", "domain-ca.pem", "name", "oscore-ctx-0.cbor",
                                      "enroll.pending" };
  for (size_t i = 0; i < STW_ARRAY_LEN(gone); i++)
    assert_false(exists(fx, gone[i]));
  static const char *const kept[] = { "idevid.pem", "mfg-ca.pem", "model", "fw/boot", "fw/slot-a.img" };
  for (size_t i = 0; i < STW_ARRAY_LEN(kept); i++)
    assert_true(exists(fx, kept[i]));
  assert_int_equal(count_entries(fx), 4);  /* idevid.pem, mfg-ca.pem, model, fw */
  stw_dev_close(dev);

  /* Reopened from its folder: the factory identity, nothing of the owner. */
  assert_int_equal(stw_dev_open(fx->dir, &dev), STW_OK);
  assert_string_equal(stw_dev_id(dev), fx->im.id);
  assert_int_equal(stw_dev_state(dev), STW_DEV_FACTORY);
  assert_int_equal(dev->domain_ca_der.len, 0);
  assert_non_null(dev->idevid_key);
  /* ... and it can start an enrollment again. */
  enroll(fx, dev);
  stw_dev_close(dev);
}

/* What the reset does not know is not kept: a later capability's files, a
 * folder of them, and a link (removed, its target left alone). */
static void test_unknown_files_wiped(void **state)
{
  fx_t *fx = *state;
  char outside[1200], path[1200], link_path[1200];
  snprintf(outside, sizeof(outside), "%s/outside.txt", fx->root);
  assert_int_equal(stw_file_write_atomic(outside, "keep me", 7, 0600), STW_OK);
  snprintf(path, sizeof(path), "%s/tokens", fx->dir);
  assert_int_equal(mkdir(path, 0700), 0);
  put(fx, "tokens/t1.cwt", "a token");
  put(fx, "contacts.json", "{\"owner\": \"Alice\"}");
  snprintf(link_path, sizeof(link_path), "%s/link", fx->dir);
  assert_int_equal(symlink(outside, link_path), 0);

  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->dir, &dev), STW_OK);
  assert_int_equal(stw_dev_factory_reset(dev), STW_OK);
  stw_dev_close(dev);
  assert_false(exists(fx, "tokens"));
  assert_false(exists(fx, "contacts.json"));
  assert_false(exists(fx, "link"));
  size_t len = 0;
  uint8_t *kept = NULL;
  assert_int_equal(stw_file_read(outside, 64, &kept, &len), STW_OK);
  assert_int_equal(len, 7);
  assert_memory_equal(kept, "keep me", 7);  /* the link was not followed */
  free(kept);
  assert_int_equal(count_entries(fx), 3);
}

static void test_reset_memory_device(void **state)
{
  fx_t *fx = *state;
  char *ca_pem = NULL;
  stw_buf_t pem;
  stw_buf_init(&pem, 8192);
  assert_int_equal(stw_der_to_pem("CERTIFICATE", fx->f->ca_der.data, fx->f->ca_der.len, &pem), STW_OK);
  assert_int_equal(stw_buf_append(&pem, "", 1), STW_OK);
  ca_pem = (char *)pem.data;
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_new_memory((const char *)fx->im.idevid_pem.data, ca_pem, NULL, NULL, &dev), STW_OK);
  enroll(fx, dev);  /* the OSCORE file lands in fx->dir: not this device's */
  assert_int_equal(stw_dev_factory_reset(dev), STW_OK);
  assert_int_equal(stw_dev_state(dev), STW_DEV_FACTORY);
  assert_int_equal(dev->op_cert_pem.len, 0);
  assert_true(exists(fx, "idevid.pem"));  /* a memory device touches no folder */
  assert_true(exists(fx, "oscore-ctx-0.cbor"));
  stw_dev_close(dev);
  stw_buf_free(&pem, false);
}

static void test_reset_refusals(void **state)
{
  fx_t *fx = *state;
  assert_int_equal(stw_dev_factory_reset(NULL), STW_ERR_INVALID);
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->dir, &dev), STW_OK);
  stw_test_rmtree(fx->dir);  /* the folder went away under it */
  assert_int_equal(stw_dev_factory_reset(dev), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_dev_state(dev), STW_DEV_FACTORY);
  stw_dev_close(dev);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_reset_enrolled_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unknown_files_wiped, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reset_memory_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reset_refusals, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
