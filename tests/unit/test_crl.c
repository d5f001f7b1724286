/* The domain's CRL (server/enroll/crl.c): what GnuTLS reads back from it —
 * the signature of the domain CA, the revoked serials with their times, the
 * validity window and a CRL number that grows. */
#include "testutil.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain.h"
#include "enroll/crl.h"
#include "store/store.h"
#include "util.h"

#define DEV_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DEV_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Now, in whole seconds: GnuTLS judges a CRL whose nextUpdate passed as
 * superseded, so the times here are real ones. */
static int64_t T0;

typedef struct {
  char *dir;
  stw_domain_t *domain;
  stw_store_t *st;
} fx_t;

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  fx->dir = stw_test_tmpdir("crl");
  T0 = stw_now();
  assert_int_equal(stw_domain_open(fx->dir, "home.example", &fx->domain), STW_OK);
  assert_int_equal(stw_store_open(fx->domain->store_url, &fx->st), STW_OK);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_store_close(fx->st);
  stw_domain_close(fx->domain);
  stw_test_rmtree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

/* Build, import and check the signature against the domain CA. */
static gnutls_x509_crl_t build(fx_t *fx, int64_t now)
{
  stw_buf_t der;
  stw_buf_init(&der, STW_CRL_MAX);
  assert_int_equal(stw_crl_build(fx->st, fx->domain, now, &der), STW_OK);
  gnutls_x509_crl_t crl;
  assert_true(gnutls_x509_crl_init(&crl) >= 0);
  gnutls_datum_t d = { der.data, (unsigned)der.len };
  assert_true(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER) >= 0);
  stw_buf_free(&der, false);

  gnutls_x509_crt_t ca;
  assert_true(gnutls_x509_crt_init(&ca) >= 0);
  gnutls_datum_t cd = { fx->domain->ca_der.data, (unsigned)fx->domain->ca_der.len };
  assert_true(gnutls_x509_crt_import(ca, &cd, GNUTLS_X509_FMT_DER) >= 0);
  unsigned verify = 99;
  assert_true(gnutls_x509_crl_verify(crl, &ca, 1, 0, &verify) >= 0);
  assert_int_equal(verify, 0);
  assert_int_equal(gnutls_x509_crl_check_issuer(crl, ca), 1);
  gnutls_x509_crt_deinit(ca);
  return crl;
}

static uint64_t crl_number(gnutls_x509_crl_t crl)
{
  uint8_t num[20];
  size_t len = sizeof(num);
  assert_true(gnutls_x509_crl_get_number(crl, num, &len, NULL) >= 0);
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++)
    v = v << 8 | num[i];
  return v;
}

static void test_empty_crl(void **state)
{
  fx_t *fx = *state;
  gnutls_x509_crl_t crl = build(fx, T0);
  assert_int_equal(gnutls_x509_crl_get_version(crl), 2);
  assert_int_equal(gnutls_x509_crl_get_crt_count(crl), 0);
  assert_int_equal(gnutls_x509_crl_get_this_update(crl), T0);
  assert_int_equal(gnutls_x509_crl_get_next_update(crl), T0 + STW_CRL_VALIDITY);
  assert_int_equal(crl_number(crl), (uint64_t)(uint32_t)T0);
  gnutls_x509_crl_deinit(crl);
}

static void test_revoked_serials_listed(void **state)
{
  fx_t *fx = *state;
  assert_int_equal(stw_store_serial_claim(fx->st, "0a0b0c", DEV_A, 1800000000), STW_OK);
  assert_int_equal(stw_store_serial_claim(fx->st, "0d0e", DEV_A, 1800000000), STW_OK);
  assert_int_equal(stw_store_serial_claim(fx->st, "abc", DEV_B, 1800000000), STW_OK);  /* odd length */
  assert_int_equal(stw_store_serial_claim(fx->st, "7777", "cccccccccccccccccccccccccccccccc", 1800000000), STW_OK);
  gnutls_x509_crl_t crl = build(fx, T0);
  assert_int_equal(gnutls_x509_crl_get_crt_count(crl), 0);
  uint64_t before = crl_number(crl);
  gnutls_x509_crl_deinit(crl);

  uint64_t n = 0;
  assert_int_equal(stw_store_serial_revoke_device(fx->st, DEV_A, T0 - 200, &n), STW_OK);
  assert_int_equal(n, 2);
  assert_int_equal(stw_store_serial_revoke_device(fx->st, DEV_B, T0 - 100, &n), STW_OK);
  crl = build(fx, T0);
  assert_int_equal(gnutls_x509_crl_get_crt_count(crl), 3);
  uint8_t serial[20];
  size_t len = sizeof(serial);
  time_t t = 0;
  assert_true(gnutls_x509_crl_get_crt_serial(crl, 0, serial, &len, &t) >= 0);
  assert_int_equal(len, 3);
  assert_memory_equal(serial, "\x0a\x0b\x0c", 3);
  assert_int_equal(t, T0 - 200);
  len = sizeof(serial);
  assert_true(gnutls_x509_crl_get_crt_serial(crl, 2, serial, &len, &t) >= 0);
  assert_int_equal(len, 2);
  assert_memory_equal(serial, "\x0a\xbc", 2);  /* "abc" read as 0x0abc */
  assert_int_equal(t, T0 - 100);
  assert_true(crl_number(crl) > before);
  gnutls_x509_crl_deinit(crl);

  /* The serial that stays live is not on it. */
  bool revoked = true;
  assert_int_equal(stw_store_serial_is_revoked(fx->st, "7777", &revoked), STW_OK);
  assert_false(revoked);
}

static void test_number_grows_with_time_alone(void **state)
{
  fx_t *fx = *state;
  gnutls_x509_crl_t a = build(fx, T0 - 1);
  gnutls_x509_crl_t b = build(fx, T0);
  assert_true(crl_number(b) > crl_number(a));
  gnutls_x509_crl_deinit(a);
  gnutls_x509_crl_deinit(b);
}

static void test_bad_arguments(void **state)
{
  fx_t *fx = *state;
  stw_buf_t der;
  stw_buf_init(&der, STW_CRL_MAX);
  assert_int_equal(stw_crl_build(NULL, fx->domain, 1, &der), STW_ERR_INVALID);
  assert_int_equal(stw_crl_build(fx->st, NULL, 1, &der), STW_ERR_INVALID);
  assert_int_equal(stw_crl_build(fx->st, fx->domain, 0, &der), STW_ERR_INVALID);
  assert_int_equal(der.len, 0);
  stw_buf_t tiny;
  stw_buf_init(&tiny, 16);  /* the caller's bound holds too */
  assert_int_not_equal(stw_crl_build(fx->st, fx->domain, T0, &tiny), STW_OK);
  stw_buf_free(&tiny, false);
  stw_buf_free(&der, false);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_empty_crl, setup, teardown),
    cmocka_unit_test_setup_teardown(test_revoked_serials_listed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_number_grows_with_time_alone, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
