/* The authorization tests' common ground (test_pdp.c, test_context.c): a
 * domain with its store, a utility and a meter enrolled with LDevIDs and
 * attributes, ACE token requests built by hand, rules, decisions. */
#ifndef STW_TEST_AUTHZ_FIXTURE_H
#define STW_TEST_AUTHZ_FIXTURE_H

#include "authz/context.h"
#include "authz/pdp.h"
#include "testutil.h"

typedef struct {
  char *dir;
  stw_domain_t *domain;
  stw_store_t *st;
  stw_identity_t util, meter, psk;
  uint8_t util_spki[STW_SPKI_MAX];
  size_t util_spki_len;
} fx_t;

/** A fresh domain in a temporary folder named after name, util-1 (role=utility)
 *  and meter-1 (place=flat-3) enrolled; *state gets the fx_t. */
int fx_setup(void **state, const char *name);
int fx_teardown(void **state);
/** An enrolled X.509 device: LDevID from the domain CA, row, one attribute. */
void fx_enroll(fx_t *fx, const char *name, const char *model, const char *attr, const char *value,
               stw_identity_t *who, uint8_t *spki_out, size_t *spki_len_out);
/** {5: audience, 9: h'AIF', ? 4: req_cnf} */
void fx_build_request(stw_buf_t *b, const char *aud, const char *const *paths, const unsigned *methods, size_t n,
                      const uint8_t *x, const uint8_t *y);
void fx_add_rule(fx_t *fx, const char *text);
void fx_decide(fx_t *fx, const stw_identity_t *client, const stw_buf_t *req, stw_pdp_outcome_t *o);

#endif
