/* Enrollment decisions (server/enroll/enroll.c), driven directly: every
 * refusal with its status, audit code and CoAP code, and that applying a
 * refusal writes one audit record and nothing else; grants for /sen, /sren,
 * the PSK flow and the voucher; identical retries, races between two
 * requests for the same device, decommissioning and voucher import. */
#include "testutil.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/domain.h"
#include "enroll/enroll.h"
#include "factory.h"
#include "psk_answer.h"
#include "store/store.h"

#define COAP(c, d) ((unsigned)((c) << 5 | (d)))
#define LDEVID_LIFETIME 86400

typedef struct {
  char *dir;
  stw_domain_t *domain;
  stw_store_t *st;
  stw_factory_t *f;
  stw_enroll_ctx_t ctx;
} fx_t;

/* An imprinted X.509 device as the domain sees it. */
typedef struct {
  stw_imprint_t im;
  stw_buf_t idevid_der;
  stw_key_t *idevid_key;
  stw_key_t *op_key;     /* the fresh key its CSRs are for */
  stw_buf_t csr;         /* CSR for op_key, CN = id */
  stw_peer_t peer;
} xdev_t;

static int setup(void **state)
{
  fx_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  fx->dir = stw_test_tmpdir("enroll");
  assert_int_equal(stw_domain_open(fx->dir, "Home", &fx->domain), STW_OK);
  assert_int_equal(stw_store_open(fx->domain->store_url, &fx->st), STW_OK);
  assert_int_equal(stw_factory_new("Acme", &fx->f), STW_OK);
  assert_int_equal(stw_store_trust_add(fx->st, "Acme", fx->f->ca_der.data, fx->f->ca_der.len), STW_OK);
  fx->ctx.store = fx->st;
  fx->ctx.domain = fx->domain;
  fx->ctx.ldevid_lifetime = LDEVID_LIFETIME;
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  fx_t *fx = *state;
  stw_factory_free(fx->f);
  stw_store_close(fx->st);
  stw_domain_close(fx->domain);
  stw_test_rmtree(fx->dir);
  free(fx->dir);
  free(fx);
  return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void make_csr(const stw_key_t *key, const char *cn, stw_buf_t *out)
{
  stw_buf_init(out, STW_CSR_MAX);
  assert_int_equal(stw_csr_create(key, cn, out), STW_OK);
}

static void xdev_new(const stw_factory_t *f, const char *model, xdev_t *d)
{
  memset(d, 0, sizeof(*d));
  assert_int_equal(stw_factory_imprint(f, model, false, &d->im), STW_OK);
  stw_buf_init(&d->idevid_der, STW_CERT_MAX);
  assert_int_equal(stw_pem_to_der("CERTIFICATE", d->im.idevid_pem.data, d->im.idevid_pem.len - 1, &d->idevid_der), STW_OK);
  assert_int_equal(stw_key_import_pem(d->im.idevid_pem.data, d->im.idevid_pem.len - 1, &d->idevid_key), STW_OK);
  assert_int_equal(stw_key_generate(&d->op_key), STW_OK);
  make_csr(d->op_key, d->im.id, &d->csr);
  d->peer = (stw_peer_t){ .kind = STW_PEER_CERT, .der = d->idevid_der.data, .der_len = d->idevid_der.len };
}

static void xdev_free(xdev_t *d)
{
  stw_imprint_clear(&d->im);
  stw_buf_free(&d->idevid_der, false);
  stw_buf_free(&d->csr, false);
  stw_key_free(d->idevid_key);
  stw_key_free(d->op_key);
}

static void allow_device(fx_t *fx, const char *id, const char *prefix)
{
  stw_rule_t r;
  memset(&r, 0, sizeof(r));
  r.kind = STW_RULE_DEVICE;
  snprintf(r.device_id, sizeof(r.device_id), "%s", id);
  snprintf(r.name_prefix, sizeof(r.name_prefix), "%s", prefix);
  assert_int_equal(stw_store_rule_add(fx->st, &r), STW_OK);
}

static void import_voucher(fx_t *fx, const stw_factory_t *f, const stw_imprint_t *im)
{
  stw_buf_t v;
  char id[STW_ID_HEX], diag[128];
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(f, im, fx->domain->ca.spki, fx->domain->ca.spki_len, 3600, &v), STW_OK);
  assert_int_equal(stw_enroll_import_voucher(fx->st, fx->domain, v.data, v.len, id, diag, sizeof(diag)), STW_OK);
  assert_string_equal(id, im->id);
  stw_buf_free(&v, false);
}

/* A trusted, allowed X.509 device with its voucher imported. */
static void xdev_ready(fx_t *fx, const char *model, xdev_t *d)
{
  xdev_new(fx->f, model, d);
  allow_device(fx, d->im.id, "");
  import_voucher(fx, fx->f, &d->im);
}

static stw_status_t decide(fx_t *fx, stw_enroll_op_t op, const stw_peer_t *peer, const uint8_t *body, size_t len,
                           stw_enroll_outcome_t *o)
{
  stw_enroll_outcome_init(o, op);
  stw_status_t st = stw_enroll_decide(&fx->ctx, peer, body, len, o);
  assert_int_equal(st, o->status);
  return st;
}

/* As the writer thread does: apply inside the batch's transaction. */
static void apply(fx_t *fx, stw_enroll_outcome_t *o)
{
  assert_int_equal(stw_store_begin(fx->st), STW_OK);
  assert_int_equal(stw_enroll_apply(fx->st, o), STW_OK);
  assert_int_equal(stw_store_commit(fx->st), STW_OK);
}

static uint64_t audit_count(fx_t *fx)
{
  uint64_t n = 0, bad = 0;
  assert_int_equal(stw_store_audit_verify(fx->st, &n, &bad), STW_OK);
  return n;
}

static uint64_t serial_count(fx_t *fx)
{
  uint64_t n = 0;
  assert_int_equal(stw_store_serial_count(fx->st, &n), STW_OK);
  return n;
}

static stw_status_t copy_audit(const stw_audit_t *a, void *arg)
{
  *(stw_audit_t *)arg = *a;
  return STW_OK;
}

static stw_audit_t last_audit(fx_t *fx)
{
  stw_audit_t rec;
  memset(&rec, 0, sizeof(rec));
  uint64_t n = audit_count(fx);
  assert_true(n > 0);
  assert_int_equal(stw_store_audit_list(fx->st, n - 1, 1, copy_audit, &rec), STW_OK);
  assert_int_equal(rec.seq, n);
  return rec;
}

static stw_device_t device(fx_t *fx, const char *id)
{
  stw_device_t d;
  assert_int_equal(stw_store_device_get(fx->st, id, &d), STW_OK);
  return d;
}

static stw_state_t device_state(fx_t *fx, const char *id)
{
  stw_device_t d = device(fx, id);
  stw_state_t s = d.state;
  stw_device_clear(&d);
  return s;
}

/* What a refusal must leave alone. */
typedef struct {
  bool exists;
  stw_state_t state;
  char serial[41];
  uint32_t generation;
  int64_t updated_at;
  char psk_identity[STW_TEXT_MAX];
  uint64_t serials;
  uint64_t audits;
} snapshot_t;

static snapshot_t snapshot(fx_t *fx, const char *id)
{
  snapshot_t s;
  memset(&s, 0, sizeof(s));
  stw_device_t d;
  if (id[0] != '\0' && stw_store_device_get(fx->st, id, &d) == STW_OK) {
    s.exists = true;
    s.state = d.state;
    snprintf(s.serial, sizeof(s.serial), "%s", d.ldevid_serial);
    s.generation = d.generation;
    s.updated_at = d.updated_at;
    snprintf(s.psk_identity, sizeof(s.psk_identity), "%s", d.psk_identity);
    stw_device_clear(&d);
  }
  s.serials = serial_count(fx);
  s.audits = audit_count(fx);
  return s;
}

static const char *action_of(stw_enroll_op_t op)
{
  switch (op) {
  case STW_ENROLL_SEN: return "refuse.enroll";
  case STW_ENROLL_SREN: return "refuse.reenroll";
  case STW_ENROLL_PSK: return "refuse.enroll.psk";
  case STW_ENROLL_VOUCHER: return "refuse.voucher";
  case STW_ENROLL_PSK_CONFIRM: return "refuse.enroll.psk-confirm";
  }
  return "?";
}

/* Decide: refused with this status, code and CoAP code. Apply: exactly one
 * audit record naming the refusal, and the device and serials untouched. */
static void expect_refusal_at(fx_t *fx, stw_enroll_op_t op, const stw_peer_t *peer, const uint8_t *body, size_t len,
                              stw_status_t status, const char *code, unsigned coap, int line)
{
  stw_enroll_outcome_t o;
  stw_status_t got = decide(fx, op, peer, body, len, &o);
  if (got != status || o.refusal == NULL || strcmp(o.refusal, code) != 0)
    fail_msg("line %d: wanted %s/%s, got %s/%s (%s)", line, stw_status_str(status), code, stw_status_str(got),
             o.refusal ? o.refusal : "(none)", o.diag);
  assert_int_equal(stw_enroll_coap_code(&o), coap);
  assert_true(o.diag[0] != '\0');
  assert_false(o.retry);
  snapshot_t before = snapshot(fx, o.device_id);
  apply(fx, &o);
  snapshot_t after = snapshot(fx, o.device_id);
  assert_int_equal(after.audits, before.audits + 1);
  assert_int_equal(after.serials, before.serials);
  assert_int_equal(after.exists, before.exists);
  assert_int_equal(after.state, before.state);
  assert_string_equal(after.serial, before.serial);
  assert_int_equal(after.generation, before.generation);
  assert_int_equal(after.updated_at, before.updated_at);
  assert_string_equal(after.psk_identity, before.psk_identity);
  stw_audit_t rec = last_audit(fx);
  assert_string_equal(rec.action, action_of(op));
  assert_string_equal(rec.outcome, code);
  assert_string_equal(rec.subject, o.device_id);
  stw_enroll_outcome_clear(&o);
}
#define expect_refusal(fx, op, peer, body, len, status, code, coap) \
  expect_refusal_at((fx), (op), (peer), (body), (len), (status), (code), (coap), __LINE__)

/* A decision that was granted, applied after the store moved on (a race):
 * refused at apply with this status, code and CoAP code, exactly one audit
 * record naming it, and the device's state and serials untouched. */
static void expect_late_refusal_at(fx_t *fx, stw_enroll_outcome_t *o, const char *id, stw_status_t status,
                                   const char *code, unsigned coap, int line)
{
  snapshot_t before = snapshot(fx, id);
  apply(fx, o);
  snapshot_t after = snapshot(fx, id);
  if (o->status != status || o->refusal == NULL || strcmp(o->refusal, code) != 0)
    fail_msg("line %d: wanted %s/%s at apply, got %s/%s (%s)", line, stw_status_str(status), code,
             stw_status_str(o->status), o->refusal ? o->refusal : "(none)", o->diag);
  assert_false(o->retry);
  assert_int_equal(stw_enroll_coap_code(o), coap);
  assert_int_equal(after.audits, before.audits + 1);
  assert_int_equal(after.serials, before.serials);
  assert_int_equal(after.state, before.state);
  assert_string_equal(after.serial, before.serial);
  stw_audit_t rec = last_audit(fx);
  assert_string_equal(rec.action, action_of(o->op));
  assert_string_equal(rec.outcome, code);
  assert_string_equal(rec.subject, id);
}
#define expect_late_refusal(fx, o, id, status, code, coap) \
  expect_late_refusal_at((fx), (o), (id), (status), (code), (coap), __LINE__)

/* Enroll d over /sen with its CSR; returns the LDevID (caller frees). */
static void enroll(fx_t *fx, xdev_t *d, stw_buf_t *ldevid)
{
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d->peer, d->csr.data, d->csr.len, &o), STW_OK);
  apply(fx, &o);
  assert_false(o.retry);
  stw_buf_init(ldevid, STW_CERT_MAX);
  assert_int_equal(stw_buf_append(ldevid, o.payload, o.payload_len), STW_OK);
  stw_enroll_outcome_clear(&o);
}

/* A certificate for key issued by ca_key/ca_der with the given validity. */
static void issue(const stw_key_t *ca_key, const stw_buf_t *ca_der, const stw_key_t *key, const char *id,
                  int64_t not_before, int64_t not_after, stw_buf_t *out)
{
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_spki(key, spki, &spki_len), STW_OK);
  stw_cert_template_t t = {
    .common_name = id, .organization = "Acme", .unit = "lamp", .serial_number = id,
    .not_before = not_before, .not_after = not_after, .client_auth = true,
  };
  stw_buf_init(out, STW_CERT_MAX);
  assert_int_equal(stw_cert_issue(ca_key, ca_der->data, ca_der->len, spki, spki_len, &t, out, NULL), STW_OK);
}

/* A PKCS#10 request for an RSA key, made with GnuTLS directly: the domain
 * issues P-256 only. */
static void rsa_csr(const char *cn, stw_buf_t *out)
{
  gnutls_x509_privkey_t key;
  gnutls_x509_crq_t crq;
  gnutls_datum_t der = { NULL, 0 };
  assert_int_equal(gnutls_x509_privkey_init(&key), 0);
  assert_int_equal(gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, 2048, 0), 0);
  assert_int_equal(gnutls_x509_crq_init(&crq), 0);
  assert_int_equal(gnutls_x509_crq_set_version(crq, 1), 0);
  assert_int_equal(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)), 0);
  assert_int_equal(gnutls_x509_crq_set_key(crq, key), 0);
  assert_int_equal(gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0), 0);
  assert_int_equal(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der), 0);
  stw_buf_init(out, STW_CSR_MAX);
  assert_int_equal(stw_buf_append(out, der.data, der.size), STW_OK);
  gnutls_free(der.data);
  gnutls_x509_crq_deinit(crq);
  gnutls_x509_privkey_deinit(key);
}

static void decommission(fx_t *fx, const char *id)
{
  stw_state_t next;
  assert_int_equal(stw_store_transition(fx->st, id, STW_EV_DECOMMISSION, "admin", "retired", &next), STW_OK);
  assert_int_equal(next, STW_STATE_DECOMMISSIONED);
}

/* ---- /sen ------------------------------------------------------------------- */

static void test_sen_grant_and_retry(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_ready(fx, "lamp", &d);
  snapshot_t before = snapshot(fx, d.im.id);
  assert_true(before.exists);
  assert_int_equal(before.state, STW_STATE_MANUFACTURED);

  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, &o), STW_OK);
  assert_int_equal(stw_enroll_coap_code(&o), COAP(2, 4));
  assert_false(o.retry);
  assert_null(o.refusal);
  assert_string_equal(o.device_id, d.im.id);
  /* deciding writes nothing */
  snapshot_t mid = snapshot(fx, d.im.id);
  assert_int_equal(mid.audits, before.audits);
  assert_int_equal(mid.state, STW_STATE_MANUFACTURED);

  /* the certificate: the CSR's key, this device, the domain's CA */
  stw_cert_info_t cert;
  assert_int_equal(stw_cert_parse(o.payload, o.payload_len, &cert), STW_OK);
  assert_int_equal(stw_cert_verify_issued_by(o.payload, o.payload_len, fx->domain->ca_der.data,
                                             fx->domain->ca_der.len, stw_now()), STW_OK);
  stw_csr_info_t csr;
  assert_int_equal(stw_csr_parse_verify(d.csr.data, d.csr.len, &csr), STW_OK);
  assert_int_equal(cert.spki_len, csr.spki_len);
  assert_memory_equal(cert.spki, csr.spki, csr.spki_len);
  assert_string_equal(cert.serial_number, d.im.id);
  assert_string_equal(cert.organization, "Home");
  assert_string_equal(cert.unit, "lamp");
  char name[STW_TEXT_MAX];
  snprintf(name, sizeof(name), "lamp-%.8s", d.im.id);
  assert_string_equal(cert.common_name, name);
  assert_string_equal(cert.serial_hex, o.serial_hex);
  assert_true(cert.not_after - cert.not_before >= LDEVID_LIFETIME);

  apply(fx, &o);
  snapshot_t after = snapshot(fx, d.im.id);
  assert_int_equal(after.state, STW_STATE_BOOTSTRAPPED);
  assert_int_equal(after.serials, before.serials + 1);
  assert_int_equal(after.audits, before.audits + 2);  /* the transition and the grant */
  assert_string_equal(after.serial, cert.serial_hex);
  stw_audit_t rec = last_audit(fx);
  assert_string_equal(rec.action, "enroll");
  assert_string_equal(rec.outcome, "ok");
  assert_string_equal(rec.subject, d.im.id);
  stw_device_t row = device(fx, d.im.id);
  assert_int_equal(row.ldevid_len, o.payload_len);
  assert_memory_equal(row.ldevid, o.payload, o.payload_len);
  assert_string_equal(row.name, name);
  assert_string_equal(row.manufacturer, "Acme");
  assert_int_equal(row.cred_kind, STW_CRED_X509);
  stw_device_clear(&row);

  /* an identical retry (lost answer): the same certificate, nothing new */
  stw_enroll_outcome_t again;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, &again), STW_OK);
  assert_true(again.retry);
  assert_int_equal(again.payload_len, o.payload_len);
  assert_memory_equal(again.payload, o.payload, o.payload_len);
  assert_string_equal(again.serial_hex, cert.serial_hex);
  apply(fx, &again);
  snapshot_t retried = snapshot(fx, d.im.id);
  assert_int_equal(retried.audits, after.audits);
  assert_int_equal(retried.serials, after.serials);
  assert_int_equal(retried.updated_at, after.updated_at);
  stw_enroll_outcome_clear(&again);

  /* a different CSR after success: renew with /sren instead */
  stw_key_t *k2 = NULL;
  stw_buf_t csr2;
  assert_int_equal(stw_key_generate(&k2), STW_OK);
  make_csr(k2, d.im.id, &csr2);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, csr2.data, csr2.len, STW_ERR_CONFLICT, "already-enrolled", COAP(4, 3));
  stw_buf_free(&csr2, false);
  stw_key_free(k2);

  /* the LDevID itself is not an enrollment credential */
  stw_peer_t ldevid_peer = { .kind = STW_PEER_CERT, .der = o.payload, .der_len = o.payload_len };
  expect_refusal(fx, STW_ENROLL_SEN, &ldevid_peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "already-enrolled",
                 COAP(4, 3));
  stw_enroll_outcome_clear(&o);
  xdev_free(&d);
}

/* Two requests for one device decided before either is applied: the second
 * apply sees the first's commit. */
static void test_sen_race(void **state)
{
  fx_t *fx = *state;
  xdev_t d, e;
  xdev_ready(fx, "lamp", &d);
  xdev_ready(fx, "lamp", &e);

  /* same CSR: the second becomes a retry answered with the first's certificate */
  stw_enroll_outcome_t a, b;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, &a), STW_OK);
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, &b), STW_OK);
  assert_false(b.retry);
  assert_string_not_equal(a.serial_hex, b.serial_hex);
  snapshot_t before = snapshot(fx, d.im.id);
  apply(fx, &a);
  snapshot_t mid = snapshot(fx, d.im.id);
  apply(fx, &b);
  snapshot_t after = snapshot(fx, d.im.id);
  assert_int_equal(mid.serials, before.serials + 1);
  assert_int_equal(mid.audits, before.audits + 2);
  assert_true(b.retry);
  assert_int_equal(b.status, STW_OK);
  assert_int_equal(b.payload_len, a.payload_len);
  assert_memory_equal(b.payload, a.payload, a.payload_len);
  assert_string_equal(b.serial_hex, a.serial_hex);
  assert_int_equal(after.serials, mid.serials);
  assert_int_equal(after.audits, mid.audits);
  assert_string_equal(after.serial, a.serial_hex);
  stw_enroll_outcome_clear(&a);
  stw_enroll_outcome_clear(&b);

  /* different CSRs: the second is refused as a conflict, audited once */
  stw_key_t *k2 = NULL;
  stw_buf_t csr2;
  assert_int_equal(stw_key_generate(&k2), STW_OK);
  make_csr(k2, e.im.id, &csr2);
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &e.peer, e.csr.data, e.csr.len, &a), STW_OK);
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &e.peer, csr2.data, csr2.len, &b), STW_OK);
  apply(fx, &a);
  expect_late_refusal(fx, &b, e.im.id, STW_ERR_CONFLICT, "already-enrolled", COAP(4, 3));
  assert_string_equal(snapshot(fx, e.im.id).serial, a.serial_hex);
  stw_enroll_outcome_clear(&a);
  stw_enroll_outcome_clear(&b);
  stw_buf_free(&csr2, false);
  stw_key_free(k2);
  xdev_free(&d);
  xdev_free(&e);
}

static void test_sen_refuses_identity(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_ready(fx, "lamp", &d);

  stw_peer_t psk_peer = { .kind = STW_PEER_PSK, .psk_identity = d.im.id };
  expect_refusal(fx, STW_ENROLL_SEN, &psk_peer, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "no-idevid", COAP(4, 1));
  stw_peer_t none = { .kind = STW_PEER_NONE };
  expect_refusal(fx, STW_ENROLL_SEN, &none, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "no-idevid", COAP(4, 1));
  static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
  stw_peer_t bad = { .kind = STW_PEER_CERT, .der = junk, .der_len = sizeof(junk) };
  expect_refusal(fx, STW_ENROLL_SEN, &bad, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "bad-idevid", COAP(4, 1));

  /* a manufacturer this domain does not trust */
  stw_factory_t *other = NULL;
  assert_int_equal(stw_factory_new("Initech", &other), STW_OK);
  xdev_t stranger;
  xdev_new(other, "lamp", &stranger);
  allow_device(fx, stranger.im.id, "");
  expect_refusal(fx, STW_ENROLL_SEN, &stranger.peer, stranger.csr.data, stranger.csr.len, STW_ERR_UNAUTHENTICATED,
                 "untrusted-manufacturer", COAP(4, 1));
  xdev_free(&stranger);
  stw_factory_free(other);

  /* an IDevID from the trusted manufacturer, but expired */
  stw_key_t *k = NULL;
  stw_buf_t expired;
  assert_int_equal(stw_key_generate(&k), STW_OK);
  int64_t now = stw_now();
  issue(fx->f->ca_key, &fx->f->ca_der, k, "0123456789abcdef0123456789abcdef", now - 2 * 86400, now - 86400, &expired);
  stw_peer_t old = { .kind = STW_PEER_CERT, .der = expired.data, .der_len = expired.len };
  expect_refusal(fx, STW_ENROLL_SEN, &old, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "idevid-expired", COAP(4, 1));
  stw_buf_free(&expired, false);
  stw_key_free(k);

  /* nothing above touched the device that is ready */
  assert_int_equal(device_state(fx, d.im.id), STW_STATE_MANUFACTURED);
  xdev_free(&d);
}

static void test_sen_refuses_policy_and_voucher(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_new(fx->f, "lamp", &d);

  /* no rule allows it (the voucher is there, so the row exists) */
  import_voucher(fx, fx->f, &d.im);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "not-allowed", COAP(4, 3));
  allow_device(fx, d.im.id, "");

  /* allowed, but no voucher */
  assert_int_equal(stw_store_voucher_delete(fx->st, d.im.id), STW_OK);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "no-voucher", COAP(4, 3));

  /* a stored voucher that is not a voucher */
  static const uint8_t junk[] = { 0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40 };
  assert_int_equal(stw_store_voucher_put(fx->st, d.im.id, junk, sizeof(junk)), STW_OK);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "voucher-invalid", COAP(4, 3));

  /* vouchers put into the store directly, as a tampered store or an old
   * import would hold them */
  stw_voucher_t v;
  stw_buf_t signed_v;
  memset(&v, 0, sizeof(v));
  assert_int_equal(stw_hex_decode(d.im.id, 32, v.device_id, sizeof(v.device_id)), STW_OK);
  memcpy(v.owner_spki, fx->domain->ca.spki, fx->domain->ca.spki_len);
  v.owner_spki_len = fx->domain->ca.spki_len;
  v.created_on = stw_now() - 7200;
  v.expires_on = stw_now() - 3600;
  stw_buf_init(&signed_v, STW_VOUCHER_MAX);
  assert_int_equal(stw_voucher_sign(&v, fx->f->ca_key, &signed_v), STW_OK);
  assert_int_equal(stw_store_voucher_put(fx->st, d.im.id, signed_v.data, signed_v.len), STW_OK);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "voucher-expired", COAP(4, 3));
  stw_buf_free(&signed_v, false);

  /* for another device */
  v.expires_on = 0;
  v.device_id[0] ^= 0x01;
  stw_buf_init(&signed_v, STW_VOUCHER_MAX);
  assert_int_equal(stw_voucher_sign(&v, fx->f->ca_key, &signed_v), STW_OK);
  assert_int_equal(stw_store_voucher_put(fx->st, d.im.id, signed_v.data, signed_v.len), STW_OK);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "voucher-other-device",
                 COAP(4, 3));
  stw_buf_free(&signed_v, false);

  /* for another owner */
  v.device_id[0] ^= 0x01;
  stw_key_t *owner = NULL;
  assert_int_equal(stw_key_generate(&owner), STW_OK);
  v.owner_spki_len = sizeof(v.owner_spki);
  assert_int_equal(stw_key_spki(owner, v.owner_spki, &v.owner_spki_len), STW_OK);
  stw_buf_init(&signed_v, STW_VOUCHER_MAX);
  assert_int_equal(stw_voucher_sign(&v, fx->f->ca_key, &signed_v), STW_OK);
  assert_int_equal(stw_store_voucher_put(fx->st, d.im.id, signed_v.data, signed_v.len), STW_OK);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "voucher-other-owner",
                 COAP(4, 3));
  stw_buf_free(&signed_v, false);
  stw_key_free(owner);

  /* the real voucher again: granted */
  import_voucher(fx, fx->f, &d.im);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, &o), STW_OK);
  stw_enroll_outcome_clear(&o);
  xdev_free(&d);
}

static void test_sen_refuses_csr(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_ready(fx, "lamp", &d);
  const uint8_t *csr = d.csr.data;
  size_t len = d.csr.len;

  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, csr, 0, STW_ERR_MALFORMED, "csr-malformed", COAP(4, 0));
  uint8_t big[STW_CSR_MAX + 1];
  memset(big, 0x30, sizeof(big));
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, big, sizeof(big), STW_ERR_TOO_LARGE, "csr-too-large", COAP(4, 13));
  /* truncated */
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, csr, len - 1, STW_ERR_MALFORMED, "csr-malformed", COAP(4, 0));
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, csr, len / 2, STW_ERR_MALFORMED, "csr-malformed", COAP(4, 0));
  /* the outer length byte claims too much */
  uint8_t copy[STW_CSR_MAX];
  memcpy(copy, csr, len);
  copy[0] = 0x31;  /* SET, not SEQUENCE */
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, copy, len, STW_ERR_MALFORMED, "csr-malformed", COAP(4, 0));
  /* the last byte is in the signature's s: parses, does not verify */
  memcpy(copy, csr, len);
  copy[len - 1] ^= 0x01;
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, copy, len, STW_ERR_MALFORMED, "csr-bad-signature", COAP(4, 0));
  /* the subject changed after signing: same */
  memcpy(copy, csr, len);
  uint8_t *cn = NULL;
  for (size_t i = 0; i + 32 <= len; i++)
    if (memcmp(copy + i, d.im.id, 32) == 0) {
      cn = copy + i;
      break;
    }
  assert_non_null(cn);
  cn[0] = cn[0] == 'a' ? 'b' : 'a';
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, copy, len, STW_ERR_MALFORMED, "csr-bad-signature", COAP(4, 0));

  /* an RSA key */
  stw_buf_t rsa;
  rsa_csr(d.im.id, &rsa);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, rsa.data, rsa.len, STW_ERR_MALFORMED, "csr-unsupported", COAP(4, 0));
  stw_buf_free(&rsa, false);

  /* another subject */
  stw_buf_t other;
  make_csr(d.op_key, "0123456789abcdef0123456789abcdef", &other);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, other.data, other.len, STW_ERR_FORBIDDEN, "csr-other-identity",
                 COAP(4, 3));
  stw_buf_free(&other, false);
  /* the IDevID's own key: the operational key must be fresh */
  stw_buf_t reused;
  make_csr(d.idevid_key, d.im.id, &reused);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, reused.data, reused.len, STW_ERR_FORBIDDEN, "csr-reused-key", COAP(4, 3));
  stw_buf_free(&reused, false);

  assert_int_equal(device_state(fx, d.im.id), STW_STATE_MANUFACTURED);
  xdev_free(&d);
}

static void test_sen_decommissioned(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t ldevid;
  xdev_ready(fx, "lamp", &d);
  enroll(fx, &d, &ldevid);
  decommission(fx, d.im.id);
  /* neither the old CSR nor a new one */
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  stw_key_t *k = NULL;
  stw_buf_t csr2;
  assert_int_equal(stw_key_generate(&k), STW_OK);
  make_csr(k, d.im.id, &csr2);
  expect_refusal(fx, STW_ENROLL_SEN, &d.peer, csr2.data, csr2.len, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  /* nor a renewal with the LDevID it had */
  stw_peer_t lpeer = { .kind = STW_PEER_CERT, .der = ldevid.data, .der_len = ldevid.len };
  expect_refusal(fx, STW_ENROLL_SEN, &lpeer, csr2.data, csr2.len, STW_ERR_FORBIDDEN, "already-enrolled", COAP(4, 3));
  expect_refusal(fx, STW_ENROLL_SREN, &lpeer, csr2.data, csr2.len, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  stw_buf_free(&csr2, false);
  stw_key_free(k);
  stw_buf_free(&ldevid, false);
  xdev_free(&d);
}

/* ---- /sren ------------------------------------------------------------------ */

static void test_sren(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t l1;
  xdev_ready(fx, "lamp", &d);
  enroll(fx, &d, &l1);
  stw_peer_t p1 = { .kind = STW_PEER_CERT, .der = l1.data, .der_len = l1.len };
  stw_cert_info_t c1;
  assert_int_equal(stw_cert_parse(l1.data, l1.len, &c1), STW_OK);

  stw_key_t *k2 = NULL;
  stw_buf_t csr2;
  assert_int_equal(stw_key_generate(&k2), STW_OK);
  make_csr(k2, d.im.id, &csr2);
  snapshot_t before = snapshot(fx, d.im.id);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p1, csr2.data, csr2.len, &o), STW_OK);
  assert_int_equal(stw_enroll_coap_code(&o), COAP(2, 4));
  assert_string_not_equal(o.serial_hex, c1.serial_hex);
  stw_cert_info_t c2;
  assert_int_equal(stw_cert_parse(o.payload, o.payload_len, &c2), STW_OK);
  assert_string_equal(c2.serial_number, d.im.id);
  assert_string_equal(c2.common_name, c1.common_name);  /* the name stays */
  apply(fx, &o);
  snapshot_t after = snapshot(fx, d.im.id);
  assert_int_equal(after.serials, before.serials + 1);
  assert_int_equal(after.audits, before.audits + 2);  /* transition (state unchanged) and the renewal */
  assert_int_equal(after.state, STW_STATE_BOOTSTRAPPED);
  assert_string_equal(after.serial, c2.serial_hex);
  stw_audit_t rec = last_audit(fx);
  assert_string_equal(rec.action, "reenroll");
  assert_string_equal(rec.outcome, "ok");
  stw_device_t row = device(fx, d.im.id);
  assert_int_equal(row.ldevid_len, o.payload_len);
  assert_memory_equal(row.ldevid, o.payload, o.payload_len);
  stw_device_clear(&row);

  /* the superseded LDevID cannot renew any more */
  stw_key_t *k3 = NULL;
  stw_buf_t csr3;
  assert_int_equal(stw_key_generate(&k3), STW_OK);
  make_csr(k3, d.im.id, &csr3);
  expect_refusal(fx, STW_ENROLL_SREN, &p1, csr3.data, csr3.len, STW_ERR_UNAUTHENTICATED, "ldevid-superseded",
                 COAP(4, 1));
  /* the current one can, but only for this device's id */
  stw_peer_t p2 = { .kind = STW_PEER_CERT, .der = o.payload, .der_len = o.payload_len };
  stw_buf_t wrong;
  make_csr(k3, "0123456789abcdef0123456789abcdef", &wrong);
  expect_refusal(fx, STW_ENROLL_SREN, &p2, wrong.data, wrong.len, STW_ERR_FORBIDDEN, "csr-other-identity", COAP(4, 3));
  expect_refusal(fx, STW_ENROLL_SREN, &p2, csr3.data, 0, STW_ERR_MALFORMED, "csr-malformed", COAP(4, 0));
  stw_buf_free(&wrong, false);

  /* quarantined: no renewal */
  stw_state_t next;
  assert_int_equal(stw_store_transition(fx->st, d.im.id, STW_EV_QUARANTINE, "daemon", "attestation failed", &next),
                   STW_OK);
  expect_refusal(fx, STW_ENROLL_SREN, &p2, csr3.data, csr3.len, STW_ERR_STATE, "state", COAP(4, 3));

  stw_enroll_outcome_clear(&o);
  stw_buf_free(&csr2, false);
  stw_buf_free(&csr3, false);
  stw_key_free(k2);
  stw_key_free(k3);
  stw_buf_free(&l1, false);
  xdev_free(&d);
}

static void test_sren_refuses_identity(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_ready(fx, "lamp", &d);

  stw_peer_t psk_peer = { .kind = STW_PEER_PSK, .psk_identity = "x" };
  expect_refusal(fx, STW_ENROLL_SREN, &psk_peer, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "no-ldevid", COAP(4, 1));
  static const uint8_t junk[] = { 0x30, 0x00 };
  stw_peer_t bad = { .kind = STW_PEER_CERT, .der = junk, .der_len = sizeof(junk) };
  expect_refusal(fx, STW_ENROLL_SREN, &bad, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "bad-ldevid", COAP(4, 1));
  /* the IDevID is not an LDevID of this domain */
  expect_refusal(fx, STW_ENROLL_SREN, &d.peer, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "not-ldevid", COAP(4, 1));

  stw_key_t *k = NULL;
  assert_int_equal(stw_key_generate(&k), STW_OK);
  int64_t now = stw_now();
  /* an LDevID of this domain that has expired */
  stw_buf_t expired;
  issue(fx->domain->ca_key, &fx->domain->ca_der, k, d.im.id, now - 2 * 86400, now - 86400, &expired);
  stw_peer_t old = { .kind = STW_PEER_CERT, .der = expired.data, .der_len = expired.len };
  expect_refusal(fx, STW_ENROLL_SREN, &old, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "ldevid-expired", COAP(4, 1));
  stw_buf_free(&expired, false);
  /* a valid LDevID for a device the store does not know */
  stw_buf_t ghost;
  issue(fx->domain->ca_key, &fx->domain->ca_der, k, "00000000000000000000000000000000", now - 60, now + 3600, &ghost);
  stw_peer_t gp = { .kind = STW_PEER_CERT, .der = ghost.data, .der_len = ghost.len };
  expect_refusal(fx, STW_ENROLL_SREN, &gp, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "unknown-device", COAP(4, 1));
  stw_buf_free(&ghost, false);
  /* a certificate for this device's id, signed by the manufacturer, not the domain */
  stw_buf_t mfg;
  issue(fx->f->ca_key, &fx->f->ca_der, k, d.im.id, now - 60, now + 3600, &mfg);
  stw_peer_t mp = { .kind = STW_PEER_CERT, .der = mfg.data, .der_len = mfg.len };
  expect_refusal(fx, STW_ENROLL_SREN, &mp, d.csr.data, d.csr.len, STW_ERR_UNAUTHENTICATED, "not-ldevid", COAP(4, 1));
  stw_buf_free(&mfg, false);
  stw_key_free(k);
  xdev_free(&d);
}

/* A renewal decided, then the device is decommissioned before the writer
 * applies it: the renewal must not bring the device back. */
static void test_sren_race_with_decommission(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t l1;
  xdev_ready(fx, "lamp", &d);
  enroll(fx, &d, &l1);
  stw_peer_t p1 = { .kind = STW_PEER_CERT, .der = l1.data, .der_len = l1.len };
  stw_key_t *k2 = NULL;
  stw_buf_t csr2;
  assert_int_equal(stw_key_generate(&k2), STW_OK);
  make_csr(k2, d.im.id, &csr2);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p1, csr2.data, csr2.len, &o), STW_OK);
  decommission(fx, d.im.id);
  expect_late_refusal(fx, &o, d.im.id, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  assert_int_equal(device_state(fx, d.im.id), STW_STATE_DECOMMISSIONED);
  stw_enroll_outcome_clear(&o);

  stw_buf_free(&csr2, false);
  stw_key_free(k2);
  stw_buf_free(&l1, false);
  xdev_free(&d);
}

/* Two renewals with the same LDevID decided together: one new certificate,
 * the other request gets it back (same CSR) or is refused. */
static void test_sren_race(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t l1;
  xdev_ready(fx, "lamp", &d);
  enroll(fx, &d, &l1);
  stw_peer_t p1 = { .kind = STW_PEER_CERT, .der = l1.data, .der_len = l1.len };
  stw_key_t *k2 = NULL, *k3 = NULL;
  stw_buf_t csr2, csr3;
  assert_int_equal(stw_key_generate(&k2), STW_OK);
  assert_int_equal(stw_key_generate(&k3), STW_OK);
  make_csr(k2, d.im.id, &csr2);
  make_csr(k3, d.im.id, &csr3);

  stw_enroll_outcome_t a, b;
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p1, csr2.data, csr2.len, &a), STW_OK);
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p1, csr2.data, csr2.len, &b), STW_OK);
  snapshot_t before = snapshot(fx, d.im.id);
  apply(fx, &a);
  apply(fx, &b);
  snapshot_t after = snapshot(fx, d.im.id);
  assert_int_equal(after.serials, before.serials + 1);
  assert_string_equal(after.serial, a.serial_hex);
  assert_true(b.retry);
  assert_int_equal(b.payload_len, a.payload_len);
  assert_memory_equal(b.payload, a.payload, a.payload_len);
  stw_enroll_outcome_clear(&a);
  stw_enroll_outcome_clear(&b);

  /* now with the new LDevID, two different CSRs */
  stw_device_t row = device(fx, d.im.id);
  stw_peer_t p2 = { .kind = STW_PEER_CERT, .der = row.ldevid, .der_len = row.ldevid_len };
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p2, csr3.data, csr3.len, &a), STW_OK);
  stw_key_t *k4 = NULL;
  stw_buf_t csr4;
  assert_int_equal(stw_key_generate(&k4), STW_OK);
  make_csr(k4, d.im.id, &csr4);
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p2, csr4.data, csr4.len, &b), STW_OK);
  before = snapshot(fx, d.im.id);
  apply(fx, &a);
  expect_late_refusal(fx, &b, d.im.id, STW_ERR_UNAUTHENTICATED, "ldevid-superseded", COAP(4, 1));
  after = snapshot(fx, d.im.id);
  assert_int_equal(after.serials, before.serials + 1);
  assert_string_equal(after.serial, a.serial_hex);
  stw_device_clear(&row);
  stw_enroll_outcome_clear(&a);
  stw_enroll_outcome_clear(&b);
  stw_buf_free(&csr2, false);
  stw_buf_free(&csr3, false);
  stw_buf_free(&csr4, false);
  stw_key_free(k2);
  stw_key_free(k3);
  stw_key_free(k4);
  stw_buf_free(&l1, false);
  xdev_free(&d);
}

/* ---- PSK devices ------------------------------------------------------------ */

typedef struct {
  stw_imprint_t im;
  stw_peer_t peer;
} pdev_t;

static void pdev_ready(fx_t *fx, pdev_t *p, bool allow)
{
  assert_int_equal(stw_factory_imprint(fx->f, "sensor", true, &p->im), STW_OK);
  if (allow)
    allow_device(fx, p->im.id, "sensor-");
  import_voucher(fx, fx->f, &p->im);
  p->peer = (stw_peer_t){ .kind = STW_PEER_PSK, .psk_identity = p->im.psk_identity };
}

static void test_psk_flow(void **state)
{
  fx_t *fx = *state;
  pdev_t p;
  pdev_ready(fx, &p, true);

  /* the voucher import stored the bootstrap PSK, opened with the domain key */
  stw_psk_t boot;
  assert_int_equal(stw_store_psk_get(fx->st, p.im.psk_identity, &boot), STW_OK);
  assert_int_equal(boot.kind, STW_PSK_BOOTSTRAP);
  assert_true(boot.active);
  assert_int_equal(boot.key_len, STW_PSK_KEY_LEN);
  assert_memory_equal(boot.key, p.im.psk, STW_PSK_KEY_LEN);
  assert_string_equal(boot.device_id, p.im.id);
  stw_device_t row = device(fx, p.im.id);
  assert_int_equal(row.cred_kind, STW_CRED_PSK);
  stw_device_clear(&row);

  snapshot_t before = snapshot(fx, p.im.id);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, &o), STW_OK);
  assert_int_equal(stw_enroll_coap_code(&o), COAP(2, 4));
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1], want_name[STW_TEXT_MAX];
  uint8_t key[STW_PSK_KEY_LEN];
  assert_int_equal(stw_psk_answer_decode(o.payload, o.payload_len, identity, key, name), STW_OK);
  snprintf(want_name, sizeof(want_name), "sensor-%.8s", p.im.id);
  assert_string_equal(name, want_name);
  assert_string_equal(identity, o.psk.identity);
  assert_memory_equal(key, o.psk.key, STW_PSK_KEY_LEN);
  assert_string_not_equal(identity, p.im.psk_identity);
  assert_false(memcmp(key, p.im.psk, STW_PSK_KEY_LEN) == 0);
  apply(fx, &o);
  snapshot_t after = snapshot(fx, p.im.id);
  assert_int_equal(after.state, STW_STATE_BOOTSTRAPPED);
  assert_int_equal(after.audits, before.audits + 2);
  assert_int_equal(after.serials, before.serials);
  assert_string_equal(after.psk_identity, identity);
  stw_psk_t op;
  assert_int_equal(stw_store_psk_get(fx->st, identity, &op), STW_OK);
  assert_int_equal(op.kind, STW_PSK_OPERATIONAL);
  assert_true(op.active);
  assert_memory_equal(op.key, key, STW_PSK_KEY_LEN);
  stw_enroll_outcome_clear(&o);

  /* the answer was lost: asking again before first use gives the same PSK */
  assert_int_equal(decide(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, &o), STW_OK);
  assert_true(o.retry);
  char identity2[STW_PSK_IDENTITY_MAX + 1], name2[STW_PSK_NAME_MAX + 1];
  uint8_t key2[STW_PSK_KEY_LEN];
  assert_int_equal(stw_psk_answer_decode(o.payload, o.payload_len, identity2, key2, name2), STW_OK);
  assert_string_equal(identity2, identity);
  assert_memory_equal(key2, key, STW_PSK_KEY_LEN);
  assert_string_equal(name2, name);
  apply(fx, &o);
  snapshot_t retried = snapshot(fx, p.im.id);
  assert_int_equal(retried.audits, after.audits);
  stw_enroll_outcome_clear(&o);

  /* a confirm over the bootstrap PSK changes nothing */
  assert_int_equal(decide(fx, STW_ENROLL_PSK_CONFIRM, &p.peer, NULL, 0, &o), STW_OK);
  assert_true(o.retry);
  apply(fx, &o);
  assert_int_equal(audit_count(fx), after.audits);
  stw_enroll_outcome_clear(&o);

  /* first use of the operational PSK retires the bootstrap PSK */
  stw_peer_t op_peer = { .kind = STW_PEER_PSK, .psk_identity = identity };
  assert_int_equal(decide(fx, STW_ENROLL_PSK_CONFIRM, &op_peer, NULL, 0, &o), STW_OK);
  assert_false(o.retry);
  assert_string_equal(o.device_id, p.im.id);
  apply(fx, &o);
  assert_int_equal(audit_count(fx), after.audits + 1);
  stw_audit_t rec = last_audit(fx);
  assert_string_equal(rec.action, "retire.bootstrap-psk");
  assert_int_equal(stw_store_psk_get(fx->st, p.im.psk_identity, &boot), STW_OK);
  assert_false(boot.active);
  stw_enroll_outcome_clear(&o);
  /* confirming again: nothing left to retire */
  assert_int_equal(decide(fx, STW_ENROLL_PSK_CONFIRM, &op_peer, NULL, 0, &o), STW_OK);
  assert_true(o.retry);
  apply(fx, &o);
  assert_int_equal(audit_count(fx), after.audits + 1);
  stw_enroll_outcome_clear(&o);

  /* the bootstrap identity no longer works; the operational one is not a bootstrap one */
  expect_refusal(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, STW_ERR_UNAUTHENTICATED, "psk-retired", COAP(4, 1));
  expect_refusal(fx, STW_ENROLL_PSK, &op_peer, NULL, 0, STW_ERR_FORBIDDEN, "already-enrolled", COAP(4, 3));

  /* importing the voucher again must not bring the retired bootstrap PSK back */
  import_voucher(fx, fx->f, &p.im);
  assert_int_equal(stw_store_psk_get(fx->st, p.im.psk_identity, &boot), STW_OK);
  assert_false(boot.active);
  expect_refusal(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, STW_ERR_UNAUTHENTICATED, "psk-retired", COAP(4, 1));
  stw_wipe(key, sizeof(key));
  stw_wipe(key2, sizeof(key2));
  stw_imprint_clear(&p.im);
}

static void test_psk_refusals(void **state)
{
  fx_t *fx = *state;
  pdev_t p, q;
  pdev_ready(fx, &p, false);
  expect_refusal(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, STW_ERR_FORBIDDEN, "not-allowed", COAP(4, 3));
  xdev_t d;
  xdev_ready(fx, "lamp", &d);
  expect_refusal(fx, STW_ENROLL_PSK, &d.peer, NULL, 0, STW_ERR_UNAUTHENTICATED, "no-psk", COAP(4, 1));
  stw_peer_t unknown = { .kind = STW_PEER_PSK, .psk_identity = "nobody" };
  expect_refusal(fx, STW_ENROLL_PSK, &unknown, NULL, 0, STW_ERR_UNAUTHENTICATED, "unknown-psk", COAP(4, 1));
  expect_refusal(fx, STW_ENROLL_PSK_CONFIRM, &unknown, NULL, 0, STW_ERR_UNAUTHENTICATED, "unknown-psk", COAP(4, 1));
  expect_refusal(fx, STW_ENROLL_PSK_CONFIRM, &d.peer, NULL, 0, STW_ERR_UNAUTHENTICATED, "unknown-psk", COAP(4, 1));

  /* a bootstrap PSK whose device row is gone */
  stw_psk_t orphan;
  memset(&orphan, 0, sizeof(orphan));
  snprintf(orphan.identity, sizeof(orphan.identity), "orphan");
  snprintf(orphan.device_id, sizeof(orphan.device_id), "ffffffffffffffffffffffffffffffff");
  orphan.kind = STW_PSK_BOOTSTRAP;
  orphan.active = true;
  orphan.key_len = STW_PSK_KEY_LEN;
  assert_int_equal(stw_store_psk_put(fx->st, &orphan), STW_OK);
  stw_peer_t op = { .kind = STW_PEER_PSK, .psk_identity = "orphan" };
  expect_refusal(fx, STW_ENROLL_PSK, &op, NULL, 0, STW_ERR_UNAUTHENTICATED, "unknown-device", COAP(4, 1));

  /* decommissioned before it ever enrolled */
  pdev_ready(fx, &q, true);
  decommission(fx, q.im.id);
  expect_refusal(fx, STW_ENROLL_PSK, &q.peer, NULL, 0, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  xdev_free(&d);
  stw_imprint_clear(&p.im);
  stw_imprint_clear(&q.im);
}

/* The operational PSK needs the voucher in force, as /sen does: each refusal
 * writes only its audit record (expect_refusal checks nothing else moved). */
static void test_psk_refuses_without_voucher(void **state)
{
  fx_t *fx = *state;
  pdev_t p;
  pdev_ready(fx, &p, true);

  assert_int_equal(stw_store_voucher_delete(fx->st, p.im.id), STW_OK);
  expect_refusal(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, STW_ERR_FORBIDDEN, "no-voucher", COAP(4, 3));

  static const uint8_t junk[] = { 0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40 };
  assert_int_equal(stw_store_voucher_put(fx->st, p.im.id, junk, sizeof(junk)), STW_OK);
  expect_refusal(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, STW_ERR_FORBIDDEN, "voucher-invalid", COAP(4, 3));

  stw_voucher_t v;
  stw_buf_t signed_v;
  memset(&v, 0, sizeof(v));
  assert_int_equal(stw_hex_decode(p.im.id, 32, v.device_id, sizeof(v.device_id)), STW_OK);
  memcpy(v.owner_spki, fx->domain->ca.spki, fx->domain->ca.spki_len);
  v.owner_spki_len = fx->domain->ca.spki_len;
  v.created_on = stw_now() - 7200;
  v.expires_on = stw_now() - 3600;
  stw_buf_init(&signed_v, STW_VOUCHER_MAX);
  assert_int_equal(stw_voucher_sign(&v, fx->f->ca_key, &signed_v), STW_OK);
  assert_int_equal(stw_store_voucher_put(fx->st, p.im.id, signed_v.data, signed_v.len), STW_OK);
  expect_refusal(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, STW_ERR_FORBIDDEN, "voucher-expired", COAP(4, 3));
  stw_buf_free(&signed_v, false);

  /* in force again, but naming another owner (the manufacturer's key stands in) */
  v.expires_on = 0;
  memcpy(v.owner_spki, fx->f->ca.spki, fx->f->ca.spki_len);
  v.owner_spki_len = fx->f->ca.spki_len;
  stw_buf_init(&signed_v, STW_VOUCHER_MAX);
  assert_int_equal(stw_voucher_sign(&v, fx->f->ca_key, &signed_v), STW_OK);
  assert_int_equal(stw_store_voucher_put(fx->st, p.im.id, signed_v.data, signed_v.len), STW_OK);
  expect_refusal(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, STW_ERR_FORBIDDEN, "voucher-other-owner", COAP(4, 3));
  stw_buf_free(&signed_v, false);
  stw_imprint_clear(&p.im);
}

/* Two PSK requests decided before either is applied: both get the first's PSK. */
static void test_psk_race(void **state)
{
  fx_t *fx = *state;
  pdev_t p;
  pdev_ready(fx, &p, true);
  stw_enroll_outcome_t a, b;
  assert_int_equal(decide(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, &a), STW_OK);
  assert_int_equal(decide(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, &b), STW_OK);
  assert_string_not_equal(a.psk.identity, b.psk.identity);
  char loser[STW_TEXT_MAX];
  snprintf(loser, sizeof(loser), "%s", b.psk.identity);
  apply(fx, &a);
  uint64_t audits = audit_count(fx);
  apply(fx, &b);
  assert_int_equal(audit_count(fx), audits);
  assert_true(b.retry);
  assert_int_equal(b.payload_len, a.payload_len);
  assert_memory_equal(b.payload, a.payload, a.payload_len);
  stw_device_t row = device(fx, p.im.id);
  assert_string_equal(row.psk_identity, a.psk.identity);
  stw_device_clear(&row);
  /* the PSK the second decision drew was never stored */
  stw_psk_t lost;
  assert_int_equal(stw_store_psk_get(fx->st, loser, &lost), STW_ERR_NOT_FOUND);
  assert_string_equal(b.psk.identity, a.psk.identity);
  stw_enroll_outcome_clear(&a);
  stw_enroll_outcome_clear(&b);
  stw_imprint_clear(&p.im);
}

/* ---- the voucher, handed to the device -------------------------------------- */

static void test_voucher_op(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_new(fx->f, "lamp", &d);
  expect_refusal(fx, STW_ENROLL_VOUCHER, &d.peer, NULL, 0, STW_ERR_NOT_FOUND, "no-voucher", COAP(4, 4));
  stw_peer_t psk_peer = { .kind = STW_PEER_PSK, .psk_identity = "x" };
  expect_refusal(fx, STW_ENROLL_VOUCHER, &psk_peer, NULL, 0, STW_ERR_UNAUTHENTICATED, "no-idevid", COAP(4, 1));
  static const uint8_t junk[] = { 0x01 };
  stw_peer_t bad = { .kind = STW_PEER_CERT, .der = junk, .der_len = sizeof(junk) };
  expect_refusal(fx, STW_ENROLL_VOUCHER, &bad, NULL, 0, STW_ERR_UNAUTHENTICATED, "bad-idevid", COAP(4, 1));

  stw_buf_t v;
  char id[STW_ID_HEX], diag[128];
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(fx->f, &d.im, fx->domain->ca.spki, fx->domain->ca.spki_len, 0, &v), STW_OK);
  assert_int_equal(stw_enroll_import_voucher(fx->st, fx->domain, v.data, v.len, id, diag, sizeof(diag)), STW_OK);
  uint64_t audits = audit_count(fx);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_VOUCHER, &d.peer, NULL, 0, &o), STW_OK);
  assert_int_equal(stw_enroll_coap_code(&o), COAP(2, 5));
  assert_int_equal(o.payload_len, v.len);
  assert_memory_equal(o.payload, v.data, v.len);
  apply(fx, &o);
  assert_int_equal(audit_count(fx), audits);
  stw_enroll_outcome_clear(&o);
  stw_buf_free(&v, false);
  xdev_free(&d);
}

/* ---- voucher import ----------------------------------------------------------- */

static stw_status_t try_import(fx_t *fx, const uint8_t *v, size_t len, char *id, uint64_t *audits_added,
                               stw_audit_t *rec)
{
  char diag[128] = "";
  uint64_t before = audit_count(fx);
  stw_status_t st = stw_enroll_import_voucher(fx->st, fx->domain, v, len, id, diag, sizeof(diag));
  *audits_added = audit_count(fx) - before;
  if (*audits_added > 0)
    *rec = last_audit(fx);
  if (st != STW_OK)
    assert_true(diag[0] != '\0');
  return st;
}

static void test_voucher_import(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_new(fx->f, "lamp", &d);
  char id[STW_ID_HEX];
  uint64_t added = 0;
  stw_audit_t rec;
  stw_device_t row;

  /* for another owner */
  stw_key_t *owner = NULL;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  assert_int_equal(stw_key_generate(&owner), STW_OK);
  assert_int_equal(stw_key_spki(owner, spki, &spki_len), STW_OK);
  stw_buf_t v;
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(fx->f, &d.im, spki, spki_len, 0, &v), STW_OK);
  assert_int_equal(try_import(fx, v.data, v.len, id, &added, &rec), STW_ERR_FORBIDDEN);
  assert_int_equal(added, 1);
  assert_string_equal(rec.action, "refuse.voucher-import");
  assert_string_equal(rec.outcome, "voucher-other-owner");
  assert_string_equal(rec.subject, d.im.id);
  assert_int_equal(stw_store_device_get(fx->st, d.im.id, &row), STW_ERR_NOT_FOUND);
  stw_buf_free(&v, false);
  stw_key_free(owner);

  /* signed by a manufacturer the domain does not trust */
  stw_factory_t *other = NULL;
  assert_int_equal(stw_factory_new("Initech", &other), STW_OK);
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(other, &d.im, fx->domain->ca.spki, fx->domain->ca.spki_len, 0, &v), STW_OK);
  assert_int_equal(try_import(fx, v.data, v.len, id, &added, &rec), STW_ERR_UNTRUSTED);
  assert_int_equal(added, 1);
  assert_string_equal(rec.outcome, "voucher-untrusted");
  stw_buf_free(&v, false);
  stw_factory_free(other);

  /* forged: our manufacturer's voucher with one signature byte changed */
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(fx->f, &d.im, fx->domain->ca.spki, fx->domain->ca.spki_len, 0, &v), STW_OK);
  v.data[v.len - 1] ^= 0x80;
  assert_int_equal(try_import(fx, v.data, v.len, id, &added, &rec), STW_ERR_UNTRUSTED);
  assert_int_equal(added, 1);
  assert_string_equal(rec.outcome, "voucher-untrusted");
  assert_int_equal(stw_store_device_get(fx->st, d.im.id, &row), STW_ERR_NOT_FOUND);
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  assert_int_equal(stw_store_voucher_get(fx->st, d.im.id, &raw, &raw_len), STW_ERR_NOT_FOUND);
  stw_buf_free(&v, false);

  /* expired by the time it is imported */
  stw_voucher_t old;
  memset(&old, 0, sizeof(old));
  assert_int_equal(stw_hex_decode(d.im.id, 32, old.device_id, sizeof(old.device_id)), STW_OK);
  memcpy(old.owner_spki, fx->domain->ca.spki, fx->domain->ca.spki_len);
  old.owner_spki_len = fx->domain->ca.spki_len;
  old.created_on = stw_now() - 7200;
  old.expires_on = stw_now() - 60;
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_voucher_sign(&old, fx->f->ca_key, &v), STW_OK);
  assert_int_equal(try_import(fx, v.data, v.len, id, &added, &rec), STW_ERR_UNTRUSTED);
  stw_buf_free(&v, false);

  /* in force, but its sealed PSK is not one this domain's key opens: refused
   * before anything is written, the refusal audited */
  old.expires_on = 0;
  snprintf(old.psk_identity, sizeof(old.psk_identity), "%s", d.im.id);
  memset(old.sealed_psk, 0x5a, 64);
  old.sealed_psk_len = 64;
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_voucher_sign(&old, fx->f->ca_key, &v), STW_OK);
  assert_int_equal(try_import(fx, v.data, v.len, id, &added, &rec), STW_ERR_FORBIDDEN);
  assert_int_equal(added, 1);
  assert_string_equal(rec.action, "refuse.voucher-import");
  assert_string_equal(rec.outcome, "voucher-psk-sealed");
  assert_string_equal(rec.subject, d.im.id);
  assert_int_equal(stw_store_device_get(fx->st, d.im.id, &row), STW_ERR_NOT_FOUND);
  assert_int_equal(stw_store_voucher_get(fx->st, d.im.id, &raw, &raw_len), STW_ERR_NOT_FOUND);
  stw_psk_t psk;
  assert_int_equal(stw_store_psk_get(fx->st, d.im.id, &psk), STW_ERR_NOT_FOUND);
  stw_buf_free(&v, false);

  /* not a voucher */
  static const uint8_t junk[] = { 0xa1, 0x01, 0x02 };
  assert_int_equal(try_import(fx, junk, sizeof(junk), id, &added, &rec), STW_ERR_MALFORMED);
  assert_int_equal(try_import(fx, junk, 0, id, &added, &rec), STW_ERR_MALFORMED);
  uint8_t *huge = calloc(1, STW_VOUCHER_MAX + 1);
  assert_non_null(huge);
  assert_int_equal(try_import(fx, huge, STW_VOUCHER_MAX + 1, id, &added, &rec), STW_ERR_MALFORMED);
  free(huge);
  assert_int_equal(stw_store_device_get(fx->st, d.im.id, &row), STW_ERR_NOT_FOUND);

  /* the good one: a MANUFACTURED device row, the voucher stored, audited */
  stw_buf_init(&v, STW_VOUCHER_MAX);
  assert_int_equal(stw_factory_voucher(fx->f, &d.im, fx->domain->ca.spki, fx->domain->ca.spki_len, 0, &v), STW_OK);
  assert_int_equal(try_import(fx, v.data, v.len, id, &added, &rec), STW_OK);
  assert_int_equal(added, 1);
  assert_string_equal(rec.action, "voucher-import");
  assert_string_equal(rec.outcome, "ok");
  assert_string_equal(id, d.im.id);
  row = device(fx, d.im.id);
  assert_int_equal(row.state, STW_STATE_MANUFACTURED);
  assert_string_equal(row.manufacturer, "Acme");
  assert_int_equal(row.generation, 0);
  stw_device_clear(&row);
  assert_int_equal(stw_store_voucher_get(fx->st, d.im.id, &raw, &raw_len), STW_OK);
  assert_int_equal(raw_len, v.len);
  assert_memory_equal(raw, v.data, v.len);
  free(raw);
  stw_buf_free(&v, false);
  xdev_free(&d);
}

/* Decommissioned, then a new voucher: a new life (ownership transfer). */
static void test_reimport_after_decommission(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t l1;
  xdev_ready(fx, "lamp", &d);
  enroll(fx, &d, &l1);
  decommission(fx, d.im.id);
  stw_device_t row = device(fx, d.im.id);
  uint32_t generation = row.generation;
  stw_device_clear(&row);

  /* re-importing while enrolled does not reset anything; after decommission it does */
  import_voucher(fx, fx->f, &d.im);
  row = device(fx, d.im.id);
  assert_int_equal(row.state, STW_STATE_MANUFACTURED);
  assert_int_equal(row.generation, generation + 1);
  stw_device_clear(&row);

  /* and the device can enroll again, with a fresh key */
  stw_key_t *k = NULL;
  stw_buf_t csr2;
  assert_int_equal(stw_key_generate(&k), STW_OK);
  make_csr(k, d.im.id, &csr2);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, csr2.data, csr2.len, &o), STW_OK);
  assert_false(o.retry);
  apply(fx, &o);
  row = device(fx, d.im.id);
  assert_int_equal(row.state, STW_STATE_BOOTSTRAPPED);
  assert_int_equal(row.generation, generation + 1);
  assert_string_equal(row.ldevid_serial, o.serial_hex);
  stw_device_clear(&row);
  stw_enroll_outcome_clear(&o);
  stw_buf_free(&csr2, false);
  stw_key_free(k);
  stw_buf_free(&l1, false);
  xdev_free(&d);
}

static void test_reimport_while_enrolled(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t l1;
  xdev_ready(fx, "lamp", &d);
  enroll(fx, &d, &l1);
  import_voucher(fx, fx->f, &d.im);
  stw_device_t row = device(fx, d.im.id);
  assert_int_equal(row.state, STW_STATE_BOOTSTRAPPED);
  assert_int_equal(row.generation, 0);
  stw_device_clear(&row);
  stw_buf_free(&l1, false);
  xdev_free(&d);
}

/* ---- fixes: answer codes, late refusals, lost answers ------------------------ */

/* PSK_CONFIRM answers a GET of /crts: success is 2.05 Content. */
static void test_psk_confirm_code(void **state)
{
  fx_t *fx = *state;
  pdev_t p;
  pdev_ready(fx, &p, true);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_PSK_CONFIRM, &p.peer, NULL, 0, &o), STW_OK);
  assert_int_equal(stw_enroll_coap_code(&o), COAP(2, 5));
  stw_enroll_outcome_clear(&o);
  stw_imprint_clear(&p.im);
}

/* A refusal est_coap.c decides before stw_enroll_decide() names the device
 * the DTLS session authenticated, not "anonymous". */
static void refuse_early(fx_t *fx, const stw_peer_t *peer, const char *want_id)
{
  stw_enroll_outcome_t o;
  stw_enroll_outcome_init(&o, STW_ENROLL_SEN);
  stw_enroll_identify(&fx->ctx, peer, &o);
  assert_string_equal(o.device_id, want_id);
  o.status = STW_ERR_TOO_LARGE;
  o.refusal = "payload-too-large";
  snprintf(o.diag, sizeof(o.diag), "payload over 8192 bytes");
  apply(fx, &o);
  stw_audit_t rec = last_audit(fx);
  char actor[64];
  if (want_id[0] != '\0')
    snprintf(actor, sizeof(actor), "device:%s", want_id);
  else
    snprintf(actor, sizeof(actor), "anonymous");
  assert_string_equal(rec.actor, actor);
  assert_string_equal(rec.subject, want_id);
  assert_string_equal(rec.outcome, "payload-too-large");
  stw_enroll_outcome_clear(&o);
}

static void test_early_refusal_names_device(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t ldevid;
  xdev_ready(fx, "lamp", &d);
  refuse_early(fx, &d.peer, d.im.id);          /* IDevID: id from its key */
  enroll(fx, &d, &ldevid);
  stw_peer_t lpeer = { .kind = STW_PEER_CERT, .der = ldevid.data, .der_len = ldevid.len };
  refuse_early(fx, &lpeer, d.im.id);           /* LDevID: id from its subject */
  pdev_t p;
  pdev_ready(fx, &p, true);
  refuse_early(fx, &p.peer, p.im.id);          /* PSK: the identity's device */
  stw_peer_t nobody = { .kind = STW_PEER_PSK, .psk_identity = "nobody" };
  refuse_early(fx, &nobody, "");
  static const uint8_t junk[] = { 0x30, 0x00 };
  stw_peer_t bad = { .kind = STW_PEER_CERT, .der = junk, .der_len = sizeof(junk) };
  refuse_early(fx, &bad, "");
  stw_imprint_clear(&p.im);
  stw_buf_free(&ldevid, false);
  xdev_free(&d);
}

/* Decommissioned between decide and apply: no PSK comes back as a "retry". */
static void test_psk_race_with_decommission(void **state)
{
  fx_t *fx = *state;
  pdev_t p, q;
  stw_enroll_outcome_t a, b;
  /* the device never got a PSK: the committed row has no PSK identity */
  pdev_ready(fx, &p, true);
  assert_int_equal(decide(fx, STW_ENROLL_PSK, &p.peer, NULL, 0, &a), STW_OK);
  decommission(fx, p.im.id);
  expect_late_refusal(fx, &a, p.im.id, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  assert_int_equal(device_state(fx, p.im.id), STW_STATE_DECOMMISSIONED);
  stw_enroll_outcome_clear(&a);

  /* a concurrent request got its PSK first, then the device was retired */
  pdev_ready(fx, &q, true);
  assert_int_equal(decide(fx, STW_ENROLL_PSK, &q.peer, NULL, 0, &a), STW_OK);
  assert_int_equal(decide(fx, STW_ENROLL_PSK, &q.peer, NULL, 0, &b), STW_OK);
  apply(fx, &a);
  decommission(fx, q.im.id);
  expect_late_refusal(fx, &b, q.im.id, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  stw_enroll_outcome_clear(&a);
  stw_enroll_outcome_clear(&b);
  stw_imprint_clear(&p.im);
  stw_imprint_clear(&q.im);
}

/* Two identical /sen decided together, the first applied, then the device is
 * decommissioned: the second must not hand out the old certificate. */
static void test_sen_race_with_decommission(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  xdev_ready(fx, "lamp", &d);
  stw_enroll_outcome_t a, b;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, &a), STW_OK);
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &d.peer, d.csr.data, d.csr.len, &b), STW_OK);
  apply(fx, &a);
  decommission(fx, d.im.id);
  expect_late_refusal(fx, &b, d.im.id, STW_ERR_FORBIDDEN, "decommissioned", COAP(4, 3));
  assert_int_equal(device_state(fx, d.im.id), STW_STATE_DECOMMISSIONED);
  stw_enroll_outcome_clear(&a);
  stw_enroll_outcome_clear(&b);
  xdev_free(&d);
}

/* The answer to a renewal was lost: the device retries with the LDevID it
 * still holds and the same CSR, and gets the certificate that CSR produced. */
static void test_sren_lost_answer(void **state)
{
  fx_t *fx = *state;
  xdev_t d;
  stw_buf_t l1;
  xdev_ready(fx, "lamp", &d);
  enroll(fx, &d, &l1);
  stw_peer_t p1 = { .kind = STW_PEER_CERT, .der = l1.data, .der_len = l1.len };
  stw_key_t *k2 = NULL, *k3 = NULL;
  stw_buf_t csr2, csr3;
  assert_int_equal(stw_key_generate(&k2), STW_OK);
  assert_int_equal(stw_key_generate(&k3), STW_OK);
  make_csr(k2, d.im.id, &csr2);
  make_csr(k3, d.im.id, &csr3);
  stw_enroll_outcome_t o, again;
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p1, csr2.data, csr2.len, &o), STW_OK);
  apply(fx, &o);
  snapshot_t before = snapshot(fx, d.im.id);
  assert_int_equal(decide(fx, STW_ENROLL_SREN, &p1, csr2.data, csr2.len, &again), STW_OK);
  assert_true(again.retry);
  assert_int_equal(stw_enroll_coap_code(&again), COAP(2, 4));
  assert_string_equal(again.serial_hex, o.serial_hex);
  assert_int_equal(again.payload_len, o.payload_len);
  assert_memory_equal(again.payload, o.payload, o.payload_len);
  apply(fx, &again);
  snapshot_t after = snapshot(fx, d.im.id);
  assert_int_equal(after.serials, before.serials);
  assert_int_equal(after.audits, before.audits);
  assert_string_equal(after.serial, before.serial);
  stw_enroll_outcome_clear(&again);
  /* another CSR with the superseded LDevID is still refused */
  expect_refusal(fx, STW_ENROLL_SREN, &p1, csr3.data, csr3.len, STW_ERR_UNAUTHENTICATED, "ldevid-superseded",
                 COAP(4, 1));
  stw_enroll_outcome_clear(&o);
  stw_buf_free(&csr2, false);
  stw_buf_free(&csr3, false);
  stw_key_free(k2);
  stw_key_free(k3);
  stw_buf_free(&l1, false);
  xdev_free(&d);
}

static stw_status_t find_trust_id(const stw_trust_t *t, void *arg)
{
  if (strcmp(t->name, "Initech") == 0)
    *(int64_t *)arg = t->id;
  return STW_OK;
}

/* The preparsed manufacturer list follows the store's trust list. */
static void test_cache_follows_trust_list(void **state)
{
  fx_t *fx = *state;
  stw_enroll_cache_t *cache = NULL;
  assert_int_equal(stw_enroll_cache_new(fx->domain, &cache), STW_OK);
  fx->ctx.cache = cache;
  xdev_t a, b, c;
  xdev_ready(fx, "lamp", &a);
  stw_enroll_outcome_t o;
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &a.peer, a.csr.data, a.csr.len, &o), STW_OK);
  stw_enroll_outcome_clear(&o);

  stw_factory_t *other = NULL;
  assert_int_equal(stw_factory_new("Initech", &other), STW_OK);
  xdev_new(other, "lamp", &b);
  allow_device(fx, b.im.id, "");
  expect_refusal(fx, STW_ENROLL_SEN, &b.peer, b.csr.data, b.csr.len, STW_ERR_UNAUTHENTICATED,
                 "untrusted-manufacturer", COAP(4, 1));
  /* trusted now: the next request sees it without a restart */
  assert_int_equal(stw_store_trust_add(fx->st, "Initech", other->ca_der.data, other->ca_der.len), STW_OK);
  import_voucher(fx, other, &b.im);
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &b.peer, b.csr.data, b.csr.len, &o), STW_OK);
  assert_string_equal(o.device.manufacturer, "Initech");
  stw_enroll_outcome_clear(&o);
  /* and no longer once removed */
  int64_t id = -1;
  assert_int_equal(stw_store_trust_list(fx->st, find_trust_id, &id), STW_OK);
  assert_int_equal(stw_store_trust_remove(fx->st, id), STW_OK);
  xdev_new(other, "lamp", &c);
  allow_device(fx, c.im.id, "");
  expect_refusal(fx, STW_ENROLL_SEN, &c.peer, c.csr.data, c.csr.len, STW_ERR_UNAUTHENTICATED,
                 "untrusted-manufacturer", COAP(4, 1));
  /* the first manufacturer still works */
  assert_int_equal(decide(fx, STW_ENROLL_SEN, &a.peer, a.csr.data, a.csr.len, &o), STW_OK);
  stw_enroll_outcome_clear(&o);
  fx->ctx.cache = NULL;
  stw_enroll_cache_free(cache);
  stw_factory_free(other);
  xdev_free(&a);
  xdev_free(&b);
  xdev_free(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_sen_grant_and_retry, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sen_race, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sen_refuses_identity, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sen_refuses_policy_and_voucher, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sen_refuses_csr, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sen_decommissioned, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sren, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sren_refuses_identity, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sren_race_with_decommission, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sren_race, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_flow, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_refusals, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_refuses_without_voucher, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_race, setup, teardown),
    cmocka_unit_test_setup_teardown(test_voucher_op, setup, teardown),
    cmocka_unit_test_setup_teardown(test_voucher_import, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reimport_after_decommission, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reimport_while_enrolled, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_confirm_code, setup, teardown),
    cmocka_unit_test_setup_teardown(test_early_refusal_names_device, setup, teardown),
    cmocka_unit_test_setup_teardown(test_psk_race_with_decommission, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sen_race_with_decommission, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sren_lost_answer, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cache_follows_trust_list, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
