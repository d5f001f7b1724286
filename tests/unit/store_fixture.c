/* The store tests' common ground; see store_fixture.h. */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

store_fx_t *store_fx_open(const char *tag)
{
  store_fx_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  fx->dir = stw_test_tmpdir(tag);
  snprintf(fx->path, sizeof(fx->path), "%s/steward.db", fx->dir);
  assert_int_equal(stw_store_open(fx->path, &fx->st), STW_OK);
  return fx;
}

void store_fx_close(store_fx_t *fx)
{
  stw_store_close(fx->st);
  stw_test_rmtree(fx->dir);
  free(fx->dir);
  free(fx);
}

int store_fx_teardown(void **state)
{
  store_fx_close(*state);
  return 0;
}

int64_t store_fx_sql_int(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

void store_fx_set_attr(stw_store_t *st, const char *dev, const char *name, const char *value, const char *authority)
{
  stw_attr_row_t a;
  memset(&a, 0, sizeof(a));
  snprintf(a.name, sizeof(a.name), "%s", name);
  snprintf(a.value, sizeof(a.value), "%s", value);
  snprintf(a.authority, sizeof(a.authority), "%s", authority);
  assert_int_equal(stw_store_attr_set(st, dev, &a), STW_OK);
}

void store_fx_set_context(stw_store_t *st, const char *scope, const char *name, const char *value)
{
  stw_context_row_t c;
  memset(&c, 0, sizeof(c));
  snprintf(c.scope, sizeof(c.scope), "%s", scope);
  snprintf(c.name, sizeof(c.name), "%s", name);
  snprintf(c.value, sizeof(c.value), "%s", value);
  assert_int_equal(stw_store_context_set(st, &c), STW_OK);
}

void store_fx_put_x509_device(stw_store_t *st, const stw_domain_t *domain, const stw_key_t *key, const char *name,
                              const char *model, stw_state_t state, char id[STW_ID_HEX], stw_buf_t *der)
{
  uint8_t spki[STW_SPKI_MAX], raw_id[STW_DEVICE_ID_LEN];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_spki(key, spki, &spki_len), STW_OK);
  assert_int_equal(stw_device_id_from_spki(spki, spki_len, raw_id), STW_OK);
  stw_device_id_hex(raw_id, id);
  stw_cert_template_t t = { .common_name = name, .organization = domain->name, .serial_number = id,
                            .not_before = stw_now() - 60, .not_after = stw_now() + 86400, .client_auth = true };
  stw_buf_t cert;
  stw_buf_init(&cert, STW_CERT_MAX);
  char serial[2 * STW_SERIAL_MAX + 1];
  assert_int_equal(stw_cert_issue(domain->ca_key, domain->ca_der.data, domain->ca_der.len, spki, spki_len, &t, &cert,
                                  serial),
                   STW_OK);
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  snprintf(d.id, sizeof(d.id), "%s", id);
  snprintf(d.name, sizeof(d.name), "%s", name);
  snprintf(d.model, sizeof(d.model), "%s", model);
  snprintf(d.manufacturer, sizeof(d.manufacturer), "acme");
  d.state = state;
  d.ldevid = cert.data;
  d.ldevid_len = cert.len;
  snprintf(d.ldevid_serial, sizeof(d.ldevid_serial), "%s", serial);
  assert_int_equal(stw_store_device_put(st, &d), STW_OK);
  if (der != NULL)
    *der = cert;
  else
    stw_buf_free(&cert, false);
}
