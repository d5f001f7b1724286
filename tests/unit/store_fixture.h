/* The store tests' common ground (test_store.c, test_store_fleet.c,
 * test_decommission.c, test_compliance.c, test_attest.c, authz_fixture.c):
 * a fresh SQLite store in a temporary folder, and X.509 devices put into a
 * store as enrollment leaves them. */
#ifndef STW_TEST_STORE_FIXTURE_H
#define STW_TEST_STORE_FIXTURE_H

#include <sqlite3.h>

#include "domain/domain.h"
#include "pki.h"
#include "store/store.h"
#include "testutil.h"

typedef struct {
  char *dir;
  char path[600];  /* dir/steward.db */
  stw_store_t *st;
} store_fx_t;

/** A fresh store in a new temporary folder named after tag. The caller ends
 *  it with store_fx_close(). */
store_fx_t *store_fx_open(const char *tag);
/** Closes the store, removes its folder and frees fx. */
void store_fx_close(store_fx_t *fx);
/** cmocka teardown for a store_fx_t in *state. */
int store_fx_teardown(void **state);

/** The first column of the one row sql selects, read with a raw SQLite
 *  connection (as a script or an attacker would); fails the test otherwise. */
int64_t store_fx_sql_int(sqlite3 *db, const char *sql);
/** An attribute name=value of device dev, set by authority. */
void store_fx_set_attr(stw_store_t *st, const char *dev, const char *name, const char *value, const char *authority);
/** A context value name=value in scope. */
void store_fx_set_context(stw_store_t *st, const char *scope, const char *name, const char *value);

/** An X.509 device of domain, as enrollment leaves it: an LDevID the domain
 *  CA issued for key (CN name, serialNumber the device id), and its row in
 *  st (model, manufacturer "acme", state). The device id goes into id; the
 *  certificate into *der when der is not NULL (the caller frees it with
 *  stw_buf_free), otherwise it is freed here. */
void store_fx_put_x509_device(stw_store_t *st, const stw_domain_t *domain, const stw_key_t *key, const char *name,
                              const char *model, stw_state_t state, char id[STW_ID_HEX], stw_buf_t *der);

#endif
