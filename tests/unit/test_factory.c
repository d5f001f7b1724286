/* The manufacturer's side (cli/factory.c): unique identities at imprint, the
 * self-certifying ids, the files a device folder gets and their modes, and
 * vouchers that verify and carry a PSK only the owner can open. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "factory.h"

#define MANY 100

typedef struct {
  stw_factory_t *f;
  char *dir;
} fx_t;

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  assert_int_equal(stw_factory_new("Acme", &fx->f), STW_OK);
  fx->dir = stw_test_tmpdir("factory");
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_factory_free(fx->f);
  stw_test_rmtree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

static stw_cert_info_t idevid_of(const stw_imprint_t *im)
{
  stw_buf_t der;
  stw_cert_info_t info;
  stw_buf_init(&der, STW_CERT_MAX);
  assert_int_equal(stw_pem_to_der("CERTIFICATE", im->idevid_pem.data, im->idevid_pem.len - 1, &der), STW_OK);
  assert_int_equal(stw_cert_parse(der.data, der.len, &info), STW_OK);
  stw_buf_free(&der, false);
  return info;
}

static unsigned file_mode(const char *dir, const char *name)
{
  char path[1200];
  struct stat sb;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  assert_int_equal(stat(path, &sb), 0);
  return (unsigned)(sb.st_mode & 0777);
}

static void test_ca(void **state)
{
  fx_t *fx = *state;
  assert_true(fx->f->ca.is_ca);
  assert_string_equal(fx->f->ca.organization, "Acme");
  assert_string_equal(fx->f->name, "Acme");
  assert_true(fx->f->ca.not_after > stw_now() + 20LL * 365 * 86400);
}

/* Every imprint is a fresh key: no two devices share an id, a key or a
 * certificate serial, and the id is SHA-256(SPKI)[0..16) of the IDevID key. */
static void test_x509_unique(void **state)
{
  fx_t *fx = *state;
  static char ids[MANY][STW_DEVICE_ID_HEX_LEN];
  static uint8_t spkis[MANY][STW_SPKI_MAX];
  static char serials[MANY][2 * STW_SERIAL_MAX + 1];
  for (int i = 0; i < MANY; i++) {
    stw_imprint_t im;
    assert_int_equal(stw_factory_imprint(fx->f, "lamp", false, &im), STW_OK);
    assert_false(im.psk_device);
    assert_string_equal(im.model, "lamp");
    assert_int_equal(strlen(im.id), 32);
    /* NUL-terminated, holding a key and the certificate */
    assert_int_equal(im.idevid_pem.data[im.idevid_pem.len - 1], '\0');
    assert_non_null(strstr((const char *)im.idevid_pem.data, "PRIVATE KEY-----"));
    stw_cert_info_t info = idevid_of(&im);

    uint8_t digest[32];
    char want[STW_DEVICE_ID_HEX_LEN];
    assert_int_equal(stw_sha256(info.spki, info.spki_len, digest), STW_OK);
    stw_hex_encode(digest, STW_DEVICE_ID_LEN, want);
    assert_string_equal(im.id, want);
    assert_string_equal(info.common_name, im.id);
    assert_string_equal(info.serial_number, im.id);
    assert_string_equal(info.organization, "Acme");
    assert_string_equal(info.unit, "lamp");
    char san[128];
    snprintf(san, sizeof(san), "urn:steward:dev:%s", im.id);
    assert_string_equal(info.san_uri, san);
    assert_false(info.is_ca);

    /* the key in the PEM is the certificate's key */
    stw_key_t *key = NULL;
    uint8_t spki[STW_SPKI_MAX];
    size_t spki_len = sizeof(spki);
    assert_int_equal(stw_key_import_pem(im.idevid_pem.data, im.idevid_pem.len - 1, &key), STW_OK);
    assert_int_equal(stw_key_spki(key, spki, &spki_len), STW_OK);
    assert_int_equal(spki_len, info.spki_len);
    assert_memory_equal(spki, info.spki, spki_len);
    stw_key_free(key);

    stw_buf_t der;
    stw_buf_init(&der, STW_CERT_MAX);
    assert_int_equal(stw_pem_to_der("CERTIFICATE", im.idevid_pem.data, im.idevid_pem.len - 1, &der), STW_OK);
    assert_int_equal(stw_cert_verify_issued_by(der.data, der.len, fx->f->ca_der.data, fx->f->ca_der.len, stw_now()), STW_OK);
    stw_buf_free(&der, false);

    for (int j = 0; j < i; j++) {
      assert_string_not_equal(ids[j], im.id);
      assert_false(memcmp(spkis[j], info.spki, info.spki_len) == 0);
      assert_string_not_equal(serials[j], info.serial_hex);
    }
    snprintf(ids[i], sizeof(ids[i]), "%s", im.id);
    memcpy(spkis[i], info.spki, info.spki_len);
    snprintf(serials[i], sizeof(serials[i]), "%s", info.serial_hex);
    stw_imprint_clear(&im);
  }
}

/* A PSK device's id is SHA-256("steward psk device id" || psk)[0..16), its
 * bootstrap identity is that id, and the PSKs are all different. */
static void test_psk_unique_and_stable(void **state)
{
  fx_t *fx = *state;
  static uint8_t keys[MANY][STW_PSK_KEY_LEN];
  static char ids[MANY][STW_DEVICE_ID_HEX_LEN];
  static const char label[] = "steward psk device id";
  for (int i = 0; i < MANY; i++) {
    stw_imprint_t im;
    assert_int_equal(stw_factory_imprint(fx->f, "sensor", true, &im), STW_OK);
    assert_true(im.psk_device);
    assert_int_equal(im.idevid_pem.len, 0);
    assert_string_equal(im.psk_identity, im.id);

    uint8_t input[sizeof(label) - 1 + STW_PSK_KEY_LEN], digest[32];
    char want[STW_DEVICE_ID_HEX_LEN];
    memcpy(input, label, sizeof(label) - 1);
    memcpy(input + sizeof(label) - 1, im.psk, STW_PSK_KEY_LEN);
    assert_int_equal(stw_sha256(input, sizeof(input), digest), STW_OK);
    stw_hex_encode(digest, STW_DEVICE_ID_LEN, want);
    assert_string_equal(im.id, want);

    static const uint8_t zero[STW_PSK_KEY_LEN];
    assert_false(memcmp(im.psk, zero, sizeof(zero)) == 0);
    for (int j = 0; j < i; j++) {
      assert_false(memcmp(keys[j], im.psk, STW_PSK_KEY_LEN) == 0);
      assert_string_not_equal(ids[j], im.id);
    }
    memcpy(keys[i], im.psk, STW_PSK_KEY_LEN);
    snprintf(ids[i], sizeof(ids[i]), "%s", im.id);
    stw_imprint_clear(&im);
  }
}

static void test_save_load_x509(void **state)
{
  fx_t *fx = *state;
  char dir[1100];
  snprintf(dir, sizeof(dir), "%s/dev-x509", fx->dir);
  stw_imprint_t im, back;
  assert_int_equal(stw_factory_imprint(fx->f, "thermostat", false, &im), STW_OK);
  assert_int_equal(stw_imprint_save(fx->f, &im, dir), STW_OK);

  assert_int_equal(file_mode(dir, "idevid.pem"), 0600);
  assert_int_equal(file_mode(dir, "mfg-ca.pem"), 0644);
  assert_int_equal(file_mode(dir, "model"), 0644);
  struct stat sb;
  assert_int_equal(stat(dir, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);

  /* the file is the PEM without the in-memory NUL */
  char path[1200];
  size_t len = 0;
  snprintf(path, sizeof(path), "%s/idevid.pem", dir);
  uint8_t *txt = stw_test_read_file(path, &len);
  assert_int_equal(len, im.idevid_pem.len - 1);
  assert_memory_equal(txt, im.idevid_pem.data, len);
  free(txt);
  /* mfg-ca.pem is the factory's CA */
  snprintf(path, sizeof(path), "%s/mfg-ca.pem", dir);
  txt = stw_test_read_file(path, &len);
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  assert_int_equal(stw_pem_to_der("CERTIFICATE", txt, len, &der), STW_OK);
  assert_int_equal(der.len, fx->f->ca_der.len);
  assert_memory_equal(der.data, fx->f->ca_der.data, der.len);
  stw_buf_free(&der, false);
  free(txt);

  assert_int_equal(stw_imprint_load(dir, &back), STW_OK);
  assert_false(back.psk_device);
  assert_string_equal(back.id, im.id);
  assert_string_equal(back.model, "thermostat");
  stw_imprint_clear(&back);
  stw_imprint_clear(&im);
}

static void test_save_load_psk(void **state)
{
  fx_t *fx = *state;
  char dir[1100];
  snprintf(dir, sizeof(dir), "%s/dev-psk", fx->dir);
  stw_imprint_t im, back;
  assert_int_equal(stw_factory_imprint(fx->f, "sensor", true, &im), STW_OK);
  assert_int_equal(stw_imprint_save(fx->f, &im, dir), STW_OK);
  assert_int_equal(file_mode(dir, "bootstrap.psk"), 0600);
  assert_int_equal(file_mode(dir, "mfg-ca.pem"), 0644);

  /* "identity\nhex\n" */
  char path[1200], want[200], hex[2 * STW_PSK_KEY_LEN + 1];
  size_t len = 0;
  snprintf(path, sizeof(path), "%s/bootstrap.psk", dir);
  uint8_t *txt = stw_test_read_file(path, &len);
  stw_hex_encode(im.psk, STW_PSK_KEY_LEN, hex);
  snprintf(want, sizeof(want), "%s\n%s\n", im.psk_identity, hex);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(txt, want, len);
  free(txt);

  assert_int_equal(stw_imprint_load(dir, &back), STW_OK);
  assert_true(back.psk_device);
  assert_string_equal(back.id, im.id);
  assert_string_equal(back.psk_identity, im.psk_identity);
  assert_memory_equal(back.psk, im.psk, STW_PSK_KEY_LEN);
  stw_imprint_clear(&back);

  /* a damaged PSK file is an error, not a device */
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("only-an-identity\n", f);
  fclose(f);
  assert_int_equal(stw_imprint_load(dir, &back), STW_ERR_MALFORMED);
  stw_imprint_clear(&back);
  f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "%s\n%.63sZ\n", im.psk_identity, hex);  /* a non-hex digit */
  fclose(f);
  assert_int_not_equal(stw_imprint_load(dir, &back), STW_OK);
  stw_imprint_clear(&back);
  stw_imprint_clear(&im);

  /* an empty folder has no identity */
  snprintf(path, sizeof(path), "%s/empty", fx->dir);
  assert_int_equal(stw_mkdir_p(path, 0700), STW_OK);
  assert_int_equal(stw_imprint_load(path, &back), STW_ERR_NOT_FOUND);
  stw_imprint_clear(&back);
}

static bool contains(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0)
      return true;
  return false;
}

static void owner_key(stw_key_t **key, uint8_t *spki, size_t *spki_len)
{
  assert_int_equal(stw_key_generate(key), STW_OK);
  *spki_len = STW_SPKI_MAX;
  assert_int_equal(stw_key_spki(*key, spki, spki_len), STW_OK);
}

static void test_voucher_x509(void **state)
{
  fx_t *fx = *state;
  stw_key_t *owner = NULL;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = 0;
  owner_key(&owner, spki, &spki_len);
  stw_imprint_t im;
  assert_int_equal(stw_factory_imprint(fx->f, "lamp", false, &im), STW_OK);
  stw_buf_t v;
  stw_buf_init(&v, STW_VOUCHER_MAX);
  int64_t before = stw_now();
  assert_int_equal(stw_factory_voucher(fx->f, &im, spki, spki_len, 3600, &v), STW_OK);

  stw_voucher_t out;
  assert_int_equal(stw_voucher_verify(v.data, v.len, fx->f->ca.spki, fx->f->ca.spki_len, stw_now(), &out), STW_OK);
  char id[STW_DEVICE_ID_HEX_LEN];
  stw_device_id_hex(out.device_id, id);
  assert_string_equal(id, im.id);
  assert_int_equal(out.owner_spki_len, spki_len);
  assert_memory_equal(out.owner_spki, spki, spki_len);
  assert_int_equal(out.sealed_psk_len, 0);
  assert_true(out.created_on >= before && out.created_on <= stw_now());
  assert_int_equal(out.expires_on, out.created_on + 3600);
  /* past its lifetime it no longer verifies */
  assert_int_equal(stw_voucher_verify(v.data, v.len, fx->f->ca.spki, fx->f->ca.spki_len, stw_now() + 7200, &out),
                   STW_ERR_EXPIRED);

  /* another manufacturer's key does not verify it */
  stw_factory_t *other = NULL;
  assert_int_equal(stw_factory_new("Other", &other), STW_OK);
  assert_int_not_equal(stw_voucher_verify(v.data, v.len, other->ca.spki, other->ca.spki_len, stw_now(), &out), STW_OK);
  stw_factory_free(other);

  /* lifetime 0: does not expire */
  stw_buf_free(&v, false);
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(fx->f, &im, spki, spki_len, 0, &v), STW_OK);
  assert_int_equal(stw_voucher_verify(v.data, v.len, fx->f->ca.spki, fx->f->ca.spki_len, stw_now(), &out), STW_OK);
  assert_int_equal(out.expires_on, 0);

  stw_buf_free(&v, false);
  stw_imprint_clear(&im);
  stw_key_free(owner);
}

static void test_voucher_psk_sealed(void **state)
{
  fx_t *fx = *state;
  stw_key_t *owner = NULL, *stranger = NULL;
  uint8_t spki[STW_SPKI_MAX], other_spki[STW_SPKI_MAX];
  size_t spki_len = 0, other_len = 0;
  owner_key(&owner, spki, &spki_len);
  owner_key(&stranger, other_spki, &other_len);
  stw_imprint_t im;
  assert_int_equal(stw_factory_imprint(fx->f, "sensor", true, &im), STW_OK);
  stw_buf_t v;
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(fx->f, &im, spki, spki_len, 0, &v), STW_OK);

  stw_voucher_t out;
  assert_int_equal(stw_voucher_verify(v.data, v.len, fx->f->ca.spki, fx->f->ca.spki_len, stw_now(), &out), STW_OK);
  assert_string_equal(out.psk_identity, im.psk_identity);
  assert_true(out.sealed_psk_len > 0);
  /* the PSK itself is not in the voucher in clear */
  assert_false(contains(v.data, v.len, im.psk, STW_PSK_KEY_LEN));

  static const char info[] = "steward voucher psk";
  uint8_t psk[64];
  size_t psk_len = sizeof(psk);
  assert_int_equal(stw_unseal(owner, (const uint8_t *)info, sizeof(info) - 1, out.sealed_psk, out.sealed_psk_len,
                              psk, &psk_len), STW_OK);
  assert_int_equal(psk_len, STW_PSK_KEY_LEN);
  assert_memory_equal(psk, im.psk, STW_PSK_KEY_LEN);
  /* only the owner's key opens it */
  psk_len = sizeof(psk);
  assert_int_not_equal(stw_unseal(stranger, (const uint8_t *)info, sizeof(info) - 1, out.sealed_psk,
                                  out.sealed_psk_len, psk, &psk_len), STW_OK);
  stw_wipe(psk, sizeof(psk));
  stw_buf_free(&v, false);
  stw_imprint_clear(&im);
  stw_key_free(owner);
  stw_key_free(stranger);
}

/* A manufacturer kept in a folder: created once (key 0600), loaded after. */
static void test_factory_folder(void **state)
{
  fx_t *fx = *state;
  char dir[1100];
  snprintf(dir, sizeof(dir), "%s/mfg", fx->dir);
  stw_factory_t *made = NULL, *loaded = NULL, *again = NULL;
  assert_int_equal(stw_factory_open(dir, "Globex", false, &made), STW_ERR_NOT_FOUND);
  assert_null(made);
  assert_int_equal(stw_factory_open(dir, "Globex", true, &made), STW_OK);
  assert_int_equal(file_mode(dir, "ca.key"), 0600);
  assert_int_equal(stw_factory_open(dir, "Globex", true, &again), STW_ERR_EXISTS);
  assert_null(again);
  assert_int_equal(stw_factory_open(dir, "ignored", false, &loaded), STW_OK);
  assert_string_equal(loaded->name, "Globex");
  assert_int_equal(loaded->ca_der.len, made->ca_der.len);
  assert_memory_equal(loaded->ca_der.data, made->ca_der.data, made->ca_der.len);
  /* the loaded key is the CA key: what it imprints chains to the CA */
  stw_imprint_t im;
  assert_int_equal(stw_factory_imprint(loaded, "m", false, &im), STW_OK);
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  assert_int_equal(stw_pem_to_der("CERTIFICATE", im.idevid_pem.data, im.idevid_pem.len - 1, &der), STW_OK);
  assert_int_equal(stw_cert_verify_issued_by(der.data, der.len, made->ca_der.data, made->ca_der.len, stw_now()), STW_OK);
  stw_buf_free(&der, false);
  stw_imprint_clear(&im);
  stw_factory_free(made);
  stw_factory_free(loaded);
}

/* A create that died after the certificate but before the key: the next
 * create starts over instead of reporting EXISTS on a folder it cannot load. */
static void test_factory_folder_interrupted(void **state)
{
  fx_t *fx = *state;
  char dir[1100], path[1200];
  snprintf(dir, sizeof(dir), "%s/mfg", fx->dir);
  stw_factory_t *first = NULL, *again = NULL;
  assert_int_equal(stw_factory_open(dir, "Globex", true, &first), STW_OK);
  snprintf(path, sizeof(path), "%s/ca.key", dir);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(stw_factory_open(dir, "Globex", false, &again), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_factory_open(dir, "Globex", true, &again), STW_OK);
  assert_int_equal(file_mode(dir, "ca.key"), 0600);
  /* a fresh CA, and the folder's certificate is the new one */
  stw_factory_t *loaded = NULL;
  assert_int_equal(stw_factory_open(dir, "ignored", false, &loaded), STW_OK);
  assert_int_equal(loaded->ca_der.len, again->ca_der.len);
  assert_memory_equal(loaded->ca_der.data, again->ca_der.data, again->ca_der.len);
  assert_false(first->ca_der.len == again->ca_der.len &&
               memcmp(first->ca_der.data, again->ca_der.data, first->ca_der.len) == 0);
  stw_factory_free(first);
  stw_factory_free(again);
  stw_factory_free(loaded);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_factory_folder_interrupted, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ca, setup, teardown),
    cmocka_unit_test_setup_teardown(test_x509_unique, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_unique_and_stable, setup, teardown),
    cmocka_unit_test_setup_teardown(test_save_load_x509, setup, teardown),
    cmocka_unit_test_setup_teardown(test_save_load_psk, setup, teardown),
    cmocka_unit_test_setup_teardown(test_voucher_x509, setup, teardown),
    cmocka_unit_test_setup_teardown(test_voucher_psk_sealed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_factory_folder, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
