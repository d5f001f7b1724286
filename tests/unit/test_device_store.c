/* The device SDK's credential folder (device/dev.c): opening imprinted
 * folders, damaged or missing files, memory-only devices, and an enrollment
 * that survives a crash with the identical CSR. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev_internal.h"
#include "factory.h"
#include "steward/device.h"

typedef struct {
  stw_factory_t *f;
  char *root;
  char x509_dir[1100];
  char psk_dir[1100];
  stw_imprint_t x509;
  stw_imprint_t psk;
} fx_t;

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  assert_int_equal(stw_factory_new("Acme", &fx->f), STW_OK);
  fx->root = stw_test_tmpdir("devstore");
  snprintf(fx->x509_dir, sizeof(fx->x509_dir), "%s/x509", fx->root);
  snprintf(fx->psk_dir, sizeof(fx->psk_dir), "%s/psk", fx->root);
  assert_int_equal(stw_factory_imprint(fx->f, "lamp", false, &fx->x509), STW_OK);
  assert_int_equal(stw_imprint_save(fx->f, &fx->x509, fx->x509_dir), STW_OK);
  assert_int_equal(stw_factory_imprint(fx->f, "sensor", true, &fx->psk), STW_OK);
  assert_int_equal(stw_imprint_save(fx->f, &fx->psk, fx->psk_dir), STW_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_imprint_clear(&fx->x509);
  stw_imprint_clear(&fx->psk);
  stw_factory_free(fx->f);
  stw_test_rmtree(fx->root);
  free(fx->root);
  free(fx);
  return 0;
}

static void write_text(const char *dir, const char *name, const void *data, size_t len)
{
  char path[1200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void write_str(const char *dir, const char *name, const char *text)
{
  write_text(dir, name, text, strlen(text));
}

static void remove_file(const char *dir, const char *name)
{
  char path[1200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  assert_int_equal(unlink(path), 0);
}

static bool file_exists(const char *dir, const char *name)
{
  char path[1200];
  struct stat sb;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return stat(path, &sb) == 0;
}

static unsigned file_mode(const char *dir, const char *name)
{
  char path[1200];
  struct stat sb;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  assert_int_equal(stat(path, &sb), 0);
  return (unsigned)(sb.st_mode & 0777);
}

static void test_open_x509(void **state)
{
  fx_t *fx = *state;
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_OK);
  assert_string_equal(stw_dev_id(dev), fx->x509.id);
  assert_false(stw_dev_uses_psk(dev));
  assert_int_equal(stw_dev_state(dev), STW_DEV_FACTORY);
  assert_string_equal(stw_dev_name(dev), "");
  assert_int_equal(stw_dev_cert_not_after(dev), 0);
  assert_string_equal(stw_dev_cert_serial(dev), "");
  /* the imprinted trust anchor is the factory CA */
  assert_int_equal(dev->mfg_ca_der.len, fx->f->ca_der.len);
  assert_memory_equal(dev->mfg_ca_der.data, fx->f->ca_der.data, fx->f->ca_der.len);
  assert_int_equal(dev->domain_ca_der.len, 0);
  assert_non_null(dev->idevid_key);
  stw_dev_close(dev);
}

static void test_open_psk(void **state)
{
  fx_t *fx = *state;
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->psk_dir, &dev), STW_OK);
  assert_string_equal(stw_dev_id(dev), fx->psk.id);
  assert_true(stw_dev_uses_psk(dev));
  assert_int_equal(stw_dev_state(dev), STW_DEV_FACTORY);
  assert_string_equal(dev->boot_psk_identity, fx->psk.psk_identity);
  assert_memory_equal(dev->boot_psk, fx->psk.psk, STW_PSK_KEY_LEN);
  stw_dev_close(dev);

  /* a PSK device does not need the manufacturer CA */
  remove_file(fx->psk_dir, "mfg-ca.pem");
  assert_int_equal(stw_dev_open(fx->psk_dir, &dev), STW_OK);
  stw_dev_close(dev);
}

static void test_missing_files(void **state)
{
  fx_t *fx = *state;
  stw_dev_t *dev = (stw_dev_t *)1;
  char empty[1100];
  snprintf(empty, sizeof(empty), "%s/empty", fx->root);
  assert_int_equal(stw_mkdir_p(empty, 0700), STW_OK);
  assert_int_equal(stw_dev_open(empty, &dev), STW_ERR_NOT_FOUND);
  assert_null(dev);
  snprintf(empty, sizeof(empty), "%s/does-not-exist", fx->root);
  assert_int_not_equal(stw_dev_open(empty, &dev), STW_OK);
  assert_null(dev);
  /* an X.509 device cannot check its voucher without the manufacturer CA */
  remove_file(fx->x509_dir, "mfg-ca.pem");
  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_ERR_NOT_FOUND);
  assert_null(dev);
}

/* Open must fail cleanly (and ASan must stay quiet) for each damaged file. */
static void expect_open_fails_at(const char *dir, int line)
{
  stw_dev_t *dev = (stw_dev_t *)1;
  if (stw_dev_open(dir, &dev) == STW_OK) {
    stw_dev_close(dev);
    fail_msg("a damaged folder opened (case at line %d)", line);
  }
  assert_null(dev);
}
#define expect_open_fails(dir) expect_open_fails_at((dir), __LINE__)

static void test_corrupt_identity(void **state)
{
  fx_t *fx = *state;
  const char *pem = (const char *)fx->x509.idevid_pem.data;
  size_t len = fx->x509.idevid_pem.len - 1;

  write_str(fx->x509_dir, "idevid.pem", "");
  expect_open_fails(fx->x509_dir);
  write_str(fx->x509_dir, "idevid.pem", "not a pem at all\n");
  expect_open_fails(fx->x509_dir);
  /* only the key, or only the certificate */
  const char *cert = strstr(pem, "-----BEGIN CERTIFICATE-----");
  assert_non_null(cert);
  write_text(fx->x509_dir, "idevid.pem", pem, (size_t)(cert - pem));
  expect_open_fails(fx->x509_dir);
  write_str(fx->x509_dir, "idevid.pem", cert);
  expect_open_fails(fx->x509_dir);
  /* cut in the middle of the key */
  write_text(fx->x509_dir, "idevid.pem", pem, 60);
  expect_open_fails(fx->x509_dir);
  /* a key whose base64 is damaged */
  char *bad = malloc(len + 1);
  assert_non_null(bad);
  memcpy(bad, pem, len + 1);
  char *body = strstr(bad, "KEY-----\n");
  assert_non_null(body);
  body += strlen("KEY-----\n");
  body[0] = '!';
  body[1] = '!';
  write_text(fx->x509_dir, "idevid.pem", bad, len);
  expect_open_fails(fx->x509_dir);
  free(bad);
  /* larger than any PEM the SDK accepts */
  char *huge = malloc(STW_PEM_MAX + 10);
  assert_non_null(huge);
  memset(huge, 'A', STW_PEM_MAX + 10);
  write_text(fx->x509_dir, "idevid.pem", huge, STW_PEM_MAX + 10);
  expect_open_fails(fx->x509_dir);
  free(huge);
  /* restored, it opens again */
  write_text(fx->x509_dir, "idevid.pem", pem, len);
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_OK);
  stw_dev_close(dev);

  write_str(fx->x509_dir, "mfg-ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  expect_open_fails(fx->x509_dir);
}

static void test_corrupt_psk_file(void **state)
{
  fx_t *fx = *state;
  char hex[2 * STW_PSK_KEY_LEN + 1], text[256];
  stw_hex_encode(fx->psk.psk, STW_PSK_KEY_LEN, hex);

  static const char *const bad[] = {
    "",
    "\n",
    "no-newline-at-all",
    "identity-without-key\n",
    "\n00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    /* 31 key bytes */
    "0123456789abcdef0123456789abcdef\n00112233445566778899aabbccddeeff00112233445566778899aabbccddee\n",
    /* 33 key bytes */
    "0123456789abcdef0123456789abcdef\n00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00\n",
    /* not hex */
    "0123456789abcdef0123456789abcdef\nzz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    /* an identity that is not a device id (the id is the bootstrap identity) */
    "short\n00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
  };
  for (size_t i = 0; i < STW_ARRAY_LEN(bad); i++) {
    write_str(fx->psk_dir, "bootstrap.psk", bad[i]);
    expect_open_fails(fx->psk_dir);
  }
  /* identity over 63 bytes */
  char long_id[80];
  memset(long_id, 'a', 64);
  long_id[64] = '\0';
  snprintf(text, sizeof(text), "%s\n%s\n", long_id, hex);
  write_str(fx->psk_dir, "bootstrap.psk", text);
  expect_open_fails(fx->psk_dir);
  /* over the file limit */
  char huge[400];
  memset(huge, 'a', sizeof(huge));
  write_text(fx->psk_dir, "bootstrap.psk", huge, sizeof(huge));
  expect_open_fails(fx->psk_dir);

  /* CRLF line ends and no final newline are fine */
  snprintf(text, sizeof(text), "%s\n%s\r\n", fx->psk.psk_identity, hex);
  write_str(fx->psk_dir, "bootstrap.psk", text);
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->psk_dir, &dev), STW_OK);
  assert_memory_equal(dev->boot_psk, fx->psk.psk, STW_PSK_KEY_LEN);
  stw_dev_close(dev);
  snprintf(text, sizeof(text), "%s\n%s", fx->psk.psk_identity, hex);
  write_str(fx->psk_dir, "bootstrap.psk", text);
  assert_int_equal(stw_dev_open(fx->psk_dir, &dev), STW_OK);
  stw_dev_close(dev);

  /* a damaged operational PSK is an error too */
  write_str(fx->psk_dir, "operational.psk", "op-id\nnot-hex\n");
  expect_open_fails(fx->psk_dir);
}

static void test_corrupt_operational(void **state)
{
  fx_t *fx = *state;
  write_str(fx->x509_dir, "operational.pem", "garbage");
  expect_open_fails(fx->x509_dir);
  /* the key without a certificate */
  const char *pem = (const char *)fx->x509.idevid_pem.data;
  const char *cert = strstr(pem, "-----BEGIN CERTIFICATE-----");
  write_text(fx->x509_dir, "operational.pem", pem, (size_t)(cert - pem));
  expect_open_fails(fx->x509_dir);
  write_str(fx->x509_dir, "operational.pem",
            "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n"
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  expect_open_fails(fx->x509_dir);
  remove_file(fx->x509_dir, "operational.pem");
  write_str(fx->x509_dir, "domain-ca.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
  expect_open_fails(fx->x509_dir);
  /* base64 that decodes, but not to a certificate */
  write_str(fx->x509_dir, "domain-ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  expect_open_fails(fx->x509_dir);
  remove_file(fx->x509_dir, "domain-ca.pem");
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_OK);
  stw_dev_close(dev);
}

/* A damaged enroll.pending is forgotten, not fatal: the next enrollment
 * starts over with a fresh key. */
static void test_corrupt_pending(void **state)
{
  fx_t *fx = *state;
  write_str(fx->x509_dir, "enroll.pending", "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n");
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_OK);
  assert_int_equal(dev->pending_csr_der.len, 0);
  assert_int_equal(dev->pending_key_pem.len, 0);
  assert_int_equal(stw__dev_pending_csr(dev, fx->x509.id), STW_OK);
  assert_true(dev->pending_csr_der.len > 0);
  stw_dev_close(dev);
}

static void test_new_memory(void **state)
{
  fx_t *fx = *state;
  stw_buf_t ca_pem;
  stw_buf_init(&ca_pem, 8192);
  assert_int_equal(stw_der_to_pem("CERTIFICATE", fx->f->ca_der.data, fx->f->ca_der.len, &ca_pem), STW_OK);
  assert_int_equal(stw_buf_append(&ca_pem, "", 1), STW_OK);

  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_new_memory((const char *)fx->x509.idevid_pem.data, (const char *)ca_pem.data,
                                      NULL, NULL, &dev), STW_OK);
  assert_string_equal(stw_dev_id(dev), fx->x509.id);
  assert_false(stw_dev_uses_psk(dev));
  assert_int_equal(stw_dev_state(dev), STW_DEV_FACTORY);
  /* a memory device writes nothing anywhere, but its pending CSR works */
  assert_int_equal(stw__dev_pending_csr(dev, fx->x509.id), STW_OK);
  assert_true(dev->pending_csr_der.len > 0);
  stw_dev_close(dev);

  assert_int_equal(stw_dev_new_memory(NULL, NULL, fx->psk.psk_identity, fx->psk.psk, &dev), STW_OK);
  assert_string_equal(stw_dev_id(dev), fx->psk.id);
  assert_true(stw_dev_uses_psk(dev));
  stw_dev_close(dev);

  /* what does not make a device */
  dev = (stw_dev_t *)1;
  assert_int_equal(stw_dev_new_memory(NULL, NULL, NULL, NULL, &dev), STW_ERR_INVALID);
  assert_null(dev);
  dev = (stw_dev_t *)1;
  assert_int_not_equal(stw_dev_new_memory((const char *)fx->x509.idevid_pem.data, NULL, NULL, NULL, &dev), STW_OK);
  assert_null(dev);
  dev = (stw_dev_t *)1;
  assert_int_not_equal(stw_dev_new_memory("garbage", (const char *)ca_pem.data, NULL, NULL, &dev), STW_OK);
  assert_null(dev);
  dev = (stw_dev_t *)1;
  assert_int_not_equal(stw_dev_new_memory(NULL, NULL, "not-a-device-id", fx->psk.psk, &dev), STW_OK);
  assert_null(dev);
  char long_id[100];
  memset(long_id, 'a', 80);
  long_id[80] = '\0';
  dev = (stw_dev_t *)1;
  assert_int_not_equal(stw_dev_new_memory(NULL, NULL, long_id, fx->psk.psk, &dev), STW_OK);
  assert_null(dev);
  stw_buf_free(&ca_pem, false);
}

/* The LDevID a domain would issue for the device's pending CSR. */
static void issue_for_pending(const fx_t *fx, const stw_dev_t *dev, stw_buf_t *der)
{
  stw_csr_info_t csr;
  assert_int_equal(stw_csr_parse_verify(dev->pending_csr_der.data, dev->pending_csr_der.len, &csr), STW_OK);
  assert_string_equal(csr.common_name, dev->id);
  int64_t now = stw_now();
  stw_cert_template_t t = {
    .common_name = "lamp-0001", .organization = "Home", .serial_number = dev->id,
    .not_before = now - 60, .not_after = now + 86400, .client_auth = true,
  };
  stw_buf_init(der, STW_CERT_MAX);
  assert_int_equal(stw_cert_issue(fx->f->ca_key, fx->f->ca_der.data, fx->f->ca_der.len, csr.spki, csr.spki_len,
                                  &t, der, NULL), STW_OK);
}

/* Crash between sending the CSR and storing the answer: after a restart the
 * device sends the identical CSR (same key), so the server's idempotent retry
 * hands back the same certificate and it still matches the key. */
static void test_pending_survives_restart(void **state)
{
  fx_t *fx = *state;
  stw_dev_t *dev = NULL;
  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_OK);
  assert_int_equal(stw__dev_pending_csr(dev, fx->x509.id), STW_OK);
  assert_true(file_exists(fx->x509_dir, "enroll.pending"));
  assert_int_equal(file_mode(fx->x509_dir, "enroll.pending"), 0600);
  size_t csr_len = dev->pending_csr_der.len;
  uint8_t csr[STW_CSR_MAX];
  assert_true(csr_len > 0 && csr_len <= sizeof(csr));
  memcpy(csr, dev->pending_csr_der.data, csr_len);
  /* asking again in the same life gives the same CSR too */
  assert_int_equal(stw__dev_pending_csr(dev, fx->x509.id), STW_OK);
  assert_int_equal(dev->pending_csr_der.len, csr_len);
  assert_memory_equal(dev->pending_csr_der.data, csr, csr_len);
  stw_dev_close(dev);  /* the "crash" */

  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_OK);
  assert_int_equal(dev->pending_csr_der.len, csr_len);
  assert_memory_equal(dev->pending_csr_der.data, csr, csr_len);
  assert_int_equal(stw__dev_pending_csr(dev, fx->x509.id), STW_OK);
  assert_int_equal(dev->pending_csr_der.len, csr_len);
  assert_memory_equal(dev->pending_csr_der.data, csr, csr_len);
  /* the CSR is for the pending key, not the IDevID key */
  stw_csr_info_t info;
  assert_int_equal(stw_csr_parse_verify(csr, csr_len, &info), STW_OK);
  stw_key_t *pending = NULL;
  uint8_t spki[STW_SPKI_MAX], id_spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki), id_spki_len = sizeof(id_spki);
  assert_int_equal(stw_key_import_pem(dev->pending_key_pem.data, dev->pending_key_pem.len, &pending), STW_OK);
  assert_int_equal(stw_key_spki(pending, spki, &spki_len), STW_OK);
  assert_int_equal(stw_key_spki(dev->idevid_key, id_spki, &id_spki_len), STW_OK);
  assert_int_equal(info.spki_len, spki_len);
  assert_memory_equal(info.spki, spki, spki_len);
  assert_false(spki_len == id_spki_len && memcmp(spki, id_spki, spki_len) == 0);
  stw_key_free(pending);

  /* the answer arrives: stored 0600, the pending state is gone */
  stw_buf_t der;
  issue_for_pending(fx, dev, &der);
  assert_int_equal(stw__dev_store_ldevid(dev, der.data, der.len), STW_OK);
  assert_int_equal(stw__dev_store_name(dev, "lamp-0001"), STW_OK);
  assert_int_equal(stw_dev_state(dev), STW_DEV_ENROLLED);
  assert_false(file_exists(fx->x509_dir, "enroll.pending"));
  assert_int_equal(file_mode(fx->x509_dir, "operational.pem"), 0600);
  stw_cert_info_t issued;
  assert_int_equal(stw_cert_parse(der.data, der.len, &issued), STW_OK);
  assert_string_equal(stw_dev_cert_serial(dev), issued.serial_hex);
  stw_dev_close(dev);

  /* and it is all there after a restart */
  assert_int_equal(stw_dev_open(fx->x509_dir, &dev), STW_OK);
  assert_int_equal(stw_dev_state(dev), STW_DEV_ENROLLED);
  assert_string_equal(stw_dev_cert_serial(dev), issued.serial_hex);
  assert_int_equal(stw_dev_cert_not_after(dev), issued.not_after);
  assert_string_equal(stw_dev_name(dev), "lamp-0001");
  assert_int_equal(dev->pending_csr_der.len, 0);
  /* the operational key in the file is the one the CSR was made with */
  stw_key_t *op = NULL;
  assert_int_equal(stw_key_import_pem(dev->op_key_pem.data, dev->op_key_pem.len, &op), STW_OK);
  spki_len = sizeof(spki);
  assert_int_equal(stw_key_spki(op, spki, &spki_len), STW_OK);
  assert_memory_equal(spki, info.spki, spki_len);
  stw_key_free(op);
  /* a renewal starts a fresh pending key */
  assert_int_equal(stw__dev_pending_csr(dev, fx->x509.id), STW_OK);
  assert_false(dev->pending_csr_der.len == csr_len && memcmp(dev->pending_csr_der.data, csr, csr_len) == 0);
  stw__dev_clear_pending(dev);
  assert_false(file_exists(fx->x509_dir, "enroll.pending"));
  stw_dev_close(dev);
  stw_buf_free(&der, false);
}

static void test_operational_psk_and_domain_ca(void **state)
{
  fx_t *fx = *state;
  stw_dev_t *dev = NULL;
  uint8_t key[STW_PSK_KEY_LEN];
  for (size_t i = 0; i < sizeof(key); i++)
    key[i] = (uint8_t)(0xc0 ^ i);
  assert_int_equal(stw_dev_open(fx->psk_dir, &dev), STW_OK);
  assert_int_equal(stw__dev_store_op_psk(dev, "op-0123-abcd", key), STW_OK);
  assert_int_equal(stw__dev_store_domain_ca(dev, fx->f->ca_der.data, fx->f->ca_der.len), STW_OK);
  assert_int_equal(stw_dev_state(dev), STW_DEV_ENROLLED);
  assert_int_equal(file_mode(fx->psk_dir, "operational.psk"), 0600);
  assert_int_equal(file_mode(fx->psk_dir, "bootstrap.psk"), 0600);
  stw_dev_close(dev);

  assert_int_equal(stw_dev_open(fx->psk_dir, &dev), STW_OK);
  assert_int_equal(stw_dev_state(dev), STW_DEV_ENROLLED);
  assert_true(dev->has_op_psk);
  assert_string_equal(dev->op_psk_identity, "op-0123-abcd");
  assert_memory_equal(dev->op_psk, key, sizeof(key));
  assert_int_equal(dev->domain_ca_der.len, fx->f->ca_der.len);
  assert_memory_equal(dev->domain_ca_der.data, fx->f->ca_der.data, fx->f->ca_der.len);
  /* the bootstrap identity is still the id */
  assert_string_equal(stw_dev_id(dev), fx->psk.id);
  stw_dev_close(dev);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_open_x509, setup, teardown),
    cmocka_unit_test_setup_teardown(test_open_psk, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_corrupt_identity, setup, teardown),
    cmocka_unit_test_setup_teardown(test_corrupt_psk_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_corrupt_operational, setup, teardown),
    cmocka_unit_test_setup_teardown(test_corrupt_pending, setup, teardown),
    cmocka_unit_test_setup_teardown(test_new_memory, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pending_survives_restart, setup, teardown),
    cmocka_unit_test_setup_teardown(test_operational_psk_and_domain_ca, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
