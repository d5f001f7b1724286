/* Helpers shared by the unit and integration tests. */
#ifndef STW_TESTUTIL_H
#define STW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/** A fresh empty folder under $TMPDIR (or /tmp), removed by stw_test_rmtree(). */
char *stw_test_tmpdir(const char *tag);
void stw_test_rmtree(const char *path);
/** Path of a file in ../shared/vectors ($STW_VECTORS); static buffer. */
const char *stw_test_vector_path(const char *rel);
/** Read a whole file; aborts the test if it cannot. Caller frees. */
uint8_t *stw_test_read_file(const char *path, size_t *len);
/** Decode hex into a malloc'd buffer; caller frees. */
uint8_t *stw_test_hex(const char *hex, size_t *len);
/** base64url without padding (JWK coordinates in the cose-wg examples) into
 *  out; returns the length. Fails the test on a bad digit or overflow. */
size_t stw_test_b64url_decode(const char *in, uint8_t *out, size_t cap);
/** One seed of a fuzz target's corpus: p into dir/name (the tests'
 *  test_write_fuzz_seeds, run with STW_FUZZ_SEEDS=dir). Fails the test if it
 *  cannot write. */
void stw_test_write_seed(const char *dir, const char *name, const uint8_t *p, size_t len);

#endif
