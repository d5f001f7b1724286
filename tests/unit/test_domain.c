/* The domain's keys and certificates on disk: created once, reloaded the
 * same, and a first start cut short between a key and its certificate
 * recovers instead of refusing to start forever. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain/domain.h"
#include "pki.h"
#include "testutil.h"

static void spki_of(const stw_buf_t *der, uint8_t *spki, size_t *len)
{
  stw_cert_info_t info;
  assert_int_equal(stw_cert_parse(der->data, der->len, &info), STW_OK);
  memcpy(spki, info.spki, info.spki_len);
  *len = info.spki_len;
}

static void remove_in(const char *dir, const char *file)
{
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  assert_int_equal(unlink(path), 0);
}

static void test_reopen_is_the_same(void **state)
{
  (void)state;
  char *dir = stw_test_tmpdir("domain");
  stw_domain_t *a = NULL, *b = NULL;
  assert_int_equal(stw_domain_open(dir, "home.example", &a), STW_OK);
  assert_int_equal(stw_domain_open(dir, "home.example", &b), STW_OK);
  assert_int_equal(a->ca_der.len, b->ca_der.len);
  assert_memory_equal(a->ca_der.data, b->ca_der.data, a->ca_der.len);
  assert_int_equal(a->server_der.len, b->server_der.len);
  assert_memory_equal(a->server_der.data, b->server_der.data, a->server_der.len);
  stw_domain_close(a);
  stw_domain_close(b);
  stw_test_rmtree(dir);
  free(dir);
}

static void test_missing_certificates_are_issued_again(void **state)
{
  (void)state;
  char *dir = stw_test_tmpdir("domain");
  stw_domain_t *d = NULL;
  assert_int_equal(stw_domain_open(dir, "home.example", &d), STW_OK);
  uint8_t ca_key[STW_SPKI_MAX], server_key[STW_SPKI_MAX], again[STW_SPKI_MAX];
  size_t ca_key_len, server_key_len, again_len;
  spki_of(&d->ca_der, ca_key, &ca_key_len);
  spki_of(&d->server_der, server_key, &server_key_len);
  stw_domain_close(d);

  /* As if the first start died after writing the keys. */
  remove_in(dir, "domain-ca.pem");
  remove_in(dir, "server.pem");
  assert_int_equal(stw_domain_open(dir, "home.example", &d), STW_OK);
  spki_of(&d->ca_der, again, &again_len);
  assert_int_equal(again_len, ca_key_len);
  assert_memory_equal(again, ca_key, ca_key_len);  /* the same CA key, certified again */
  spki_of(&d->server_der, again, &again_len);
  assert_memory_equal(again, server_key, server_key_len);
  stw_domain_close(d);

  /* Only the daemon's certificate missing. */
  remove_in(dir, "server.pem");
  assert_int_equal(stw_domain_open(dir, "home.example", &d), STW_OK);
  spki_of(&d->server_der, again, &again_len);
  assert_memory_equal(again, server_key, server_key_len);
  stw_domain_close(d);
  stw_test_rmtree(dir);
  free(dir);
}

static mode_t mode_of(const char *dir, const char *file)
{
  char path[1024];
  struct stat sb;
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  assert_int_equal(stat(path, &sb), 0);
  return sb.st_mode & 0777;
}

static void read_token(const char *dir, char *out, size_t cap)
{
  char path[1024];
  snprintf(path, sizeof(path), "%s/admin.token", dir);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  assert_non_null(fgets(out, (int)cap, fp));
  fclose(fp);
}

/* The secrets are the owner's alone, the folder too; the admin token is made
 * once (a restart must not change the operator's credential). */
static void test_secrets_are_private(void **state)
{
  (void)state;
  char *dir = stw_test_tmpdir("domain");
  char sub[1024];
  snprintf(sub, sizeof(sub), "%s/data", dir);
  stw_domain_t *d = NULL;
  assert_int_equal(stw_domain_open(sub, "home.example", &d), STW_OK);
  stw_domain_close(d);
  struct stat sb;
  assert_int_equal(stat(sub, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);
  assert_int_equal(mode_of(sub, "domain-ca.key"), 0600);
  assert_int_equal(mode_of(sub, "server.key"), 0600);
  assert_int_equal(mode_of(sub, "admin.token"), 0600);
  char first[80], second[80];
  read_token(sub, first, sizeof(first));
  assert_int_equal(strlen(first), 65);  /* 32 random bytes in hex, and a newline */

  assert_int_equal(stw_domain_open(sub, "home.example", &d), STW_OK);
  stw_domain_close(d);
  read_token(sub, second, sizeof(second));
  assert_string_equal(first, second);
  stw_test_rmtree(dir);
  free(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reopen_is_the_same),
    cmocka_unit_test(test_missing_certificates_are_issued_again),
    cmocka_unit_test(test_secrets_are_private),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
