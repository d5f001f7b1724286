/* The bootstrapping and renewal flows, as step machines over stw_op_t so one
 * thread can run thousands of them (the simulator) or just one (stw_bootstrap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "voucher.h"

#define CF_CBOR 60
#define CF_PKCS7_CERTS 281
#define CF_PKCS10 286
#define CF_PKIX_CERT 287
#define PATH_VOUCHER ".well-known/brski/rv"
#define PATH_CRTS ".well-known/est/crts"
#define PATH_SEN ".well-known/est/sen"
#define PATH_SREN ".well-known/est/sren"
#define PATH_PSK ".well-known/est/psk"

typedef struct {
  uint8_t owner_spki[STW_SPKI_MAX];     /* the domain CA key the voucher pins */
  size_t owner_spki_len;
  bool renewal;
} flow_t;

static bool is_success(unsigned code)
{
  return (code >> 5) == 2;
}

/* ---- checking the server ------------------------------------------------------ */

/* What the anchors answer says: the domain CA (the certificate with the key
 * the voucher pinned) and the certificate of the key the DTLS server proved. */
typedef struct {
  uint8_t ca[STW_CERT_MAX];
  size_t ca_len;
  uint8_t server[STW_CERT_MAX];
  size_t server_len;
} anchors_t;

/* The server is the domain's only if the key it proved in the DTLS handshake
 * is certified by the pinned domain CA. */
static stw_status_t check_server(stw_op_t *op, const uint8_t *p7, size_t len, const uint8_t *ca_spki,
                                 size_t ca_spki_len, anchors_t *a)
{
  memset(a, 0, sizeof(*a));
  if (op->server_spki_len == 0 ||
      stw__p7_find_key(p7, len, ca_spki, ca_spki_len, a->ca, &a->ca_len) != STW_OK ||
      stw__p7_find_key(p7, len, op->server_spki, op->server_spki_len, a->server, &a->server_len) != STW_OK)
    return STW_ERR_UNTRUSTED;
  return stw_cert_verify_issued_by(a->server, a->server_len, a->ca, a->ca_len, stw_now());
}

/* ---- X.509 bootstrap: voucher, anchors, enrollment ----------------------------- */

static void got_certificate(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  flow_t *f = op->flow;
  stw_dev_t *dev = op->dev;
  if (!is_success(code)) {
    /* The server judged this CSR (4.xx): the next attempt makes a new key and
     * CSR. After 5.xx or no answer the identical CSR is sent again. */
    if ((code >> 5) == 4)
      stw__dev_clear_pending(dev);
    stw__op_refused(op, code, body, len, f->renewal ? "renewal" : "enrollment");
    return;
  }
  stw_cert_info_t cert;
  stw_key_t *key = NULL;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len = sizeof(spki);
  const char *bad = NULL;
  if (stw_cert_parse(body, len, &cert) != STW_OK)
    bad = "the certificate does not parse";
  else if (stw_cert_verify_issued_by(body, len, dev->domain_ca_der.data, dev->domain_ca_der.len, stw_now()) != STW_OK)
    bad = "the certificate is not issued by the pinned domain CA";
  else if (stw_key_import_pem(dev->pending_key_pem.data, dev->pending_key_pem.len, &key) != STW_OK ||
           stw_key_spki(key, spki, &spki_len) != STW_OK || spki_len != cert.spki_len ||
           memcmp(spki, cert.spki, spki_len) != 0)
    bad = "the certificate is not for the key this device generated";
  else if (strcmp(cert.serial_number, dev->id) != 0)
    bad = "the certificate names another device";
  stw_key_free(key);
  if (bad != NULL) {
    stw__op_finish(op, STW_ERR_UNTRUSTED, code, bad);
    return;
  }
  stw_status_t st = stw__dev_store_name(dev, cert.common_name);
  if (st == STW_OK)
    st = stw__dev_store_ldevid(dev, body, len);
  stw__op_finish(op, st, code, st == STW_OK ? NULL : "could not store the certificate");
}

static void send_csr(stw_op_t *op, const char *path)
{
  stw_dev_t *dev = op->dev;
  stw_status_t st = stw__dev_pending_csr(dev, dev->id);
  if (st == STW_OK)
    st = stw__op_request(op, COAP_REQUEST_CODE_POST, path, CF_PKCS10, CF_PKIX_CERT,
                         dev->pending_csr_der.data, dev->pending_csr_der.len, got_certificate);
  if (st != STW_OK)
    stw__op_finish(op, st, 0, "could not send the CSR");
}

static void got_anchors(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  flow_t *f = op->flow;
  if (!is_success(code)) {
    stw__op_refused(op, code, body, len, "trust anchors");
    return;
  }
  anchors_t *a = calloc(1, sizeof(*a));
  if (a == NULL) {
    stw__op_finish(op, STW_ERR_NOMEM, 0, "out of memory");
    return;
  }
  stw_status_t st = check_server(op, body, len, f->owner_spki, f->owner_spki_len, a);
  if (st != STW_OK) {
    free(a);
    stw__op_finish(op, STW_ERR_UNTRUSTED, code, "server key is not certified by the domain CA the voucher pins");
    return;
  }
  st = f->renewal ? STW_OK : stw__dev_store_domain_ca(op->dev, a->ca, a->ca_len);
  free(a);
  if (st != STW_OK) {
    stw__op_finish(op, st, 0, "could not store the domain CA");
    return;
  }
  send_csr(op, f->renewal ? PATH_SREN : PATH_SEN);
}

static void got_voucher(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  flow_t *f = op->flow;
  stw_dev_t *dev = op->dev;
  if (!is_success(code)) {
    stw__op_refused(op, code, body, len, "voucher");
    return;
  }
  stw_cert_info_t mfg;
  stw_voucher_t v;
  if (stw_cert_parse(dev->mfg_ca_der.data, dev->mfg_ca_der.len, &mfg) != STW_OK) {
    stw__op_finish(op, STW_ERR_INVALID, 0, "imprinted manufacturer CA does not parse");
    return;
  }
  stw_status_t st = stw_voucher_verify(body, len, mfg.spki, mfg.spki_len, stw_now(), &v);
  if (st != STW_OK) {
    stw__op_finish(op, STW_ERR_UNTRUSTED, code, "voucher not signed by this device's manufacturer, or expired");
    return;
  }
  char vid[STW_DEVICE_ID_HEX_LEN];
  stw_device_id_hex(v.device_id, vid);
  if (strcmp(vid, dev->id) != 0) {
    stw__op_finish(op, STW_ERR_UNTRUSTED, code, "voucher is for another device");
    return;
  }
  memcpy(f->owner_spki, v.owner_spki, v.owner_spki_len);
  f->owner_spki_len = v.owner_spki_len;
  st = stw__op_request(op, COAP_REQUEST_CODE_GET, PATH_CRTS, -1, CF_PKCS7_CERTS, NULL, 0, got_anchors);
  if (st != STW_OK)
    stw__op_finish(op, st, 0, "could not ask for the trust anchors");
}

/* ---- PSK bootstrap: operational PSK, then its first use retires the old one --- */

static void confirmed(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  if (!is_success(code)) {
    stw__op_refused(op, code, body, len, "first use of the operational PSK");
    return;
  }
  stw__op_finish(op, STW_OK, code, NULL);
}

static void confirm_operational_psk(stw_op_t *op)
{
  stw_dev_t *dev = op->dev;
  stw_status_t st = stw__op_connect_psk(op, dev->op_psk_identity, dev->op_psk, STW_PSK_KEY_LEN);
  if (st == STW_OK)
    st = stw__op_request(op, COAP_REQUEST_CODE_GET, PATH_CRTS, -1, CF_PKCS7_CERTS, NULL, 0, confirmed);
  if (st != STW_OK)
    stw__op_finish(op, st, 0, "could not reconnect with the operational PSK");
}

static void got_operational_psk(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  if (!is_success(code)) {
    stw__op_refused(op, code, body, len, "PSK enrollment");
    return;
  }
  char identity[STW_PSK_IDENTITY_MAX + 1], name[STW_PSK_NAME_MAX + 1];
  uint8_t key[STW_PSK_KEY_LEN];
  stw_status_t st = stw_psk_answer_decode(body, len, identity, key, name);
  if (st == STW_OK)
    st = stw__dev_store_name(op->dev, name);
  if (st == STW_OK)
    st = stw__dev_store_op_psk(op->dev, identity, key);
  stw_wipe(key, sizeof(key));
  if (st != STW_OK) {
    stw__op_finish(op, st, code, "operational PSK answer malformed or not stored");
    return;
  }
  confirm_operational_psk(op);
}

typedef struct {
  uint8_t der[STW_CERT_MAX];
  size_t len;
} self_signed_t;

static stw_status_t pick_self_signed(const uint8_t *der, size_t len, void *arg)
{
  self_signed_t *found = arg;
  stw_cert_info_t info;
  if (found->len > 0 || len > sizeof(found->der) || stw_cert_parse(der, len, &info) != STW_OK || !info.is_ca)
    return STW_OK;
  if (stw_cert_verify_issued_by(der, len, der, len, stw_now()) != STW_OK)
    return STW_OK;
  memcpy(found->der, der, len);
  found->len = len;
  return STW_OK;
}

static void got_psk_anchors(stw_op_t *op, unsigned code, const uint8_t *body, size_t len)
{
  if (!is_success(code)) {
    stw__op_refused(op, code, body, len, "trust anchors");
    return;
  }
  /* The PSK itself authenticated the server: only the owner the voucher
   * named could open it. The device keeps the domain CA (the self-signed
   * certificate of the set) for peers and checks that can use it. */
  self_signed_t *ca = calloc(1, sizeof(*ca));
  stw_status_t st = ca ? stw_pkcs7_certs_decode(body, len, pick_self_signed, ca) : STW_ERR_NOMEM;
  if (st == STW_OK && ca->len == 0)
    st = STW_ERR_UNTRUSTED;
  if (st == STW_OK)
    st = stw__dev_store_domain_ca(op->dev, ca->der, ca->len);
  free(ca);
  if (st != STW_OK) {
    stw__op_finish(op, st, code, "the server's trust anchors hold no domain CA");
    return;
  }
  st = stw__op_request(op, COAP_REQUEST_CODE_POST, PATH_PSK, -1, CF_CBOR, NULL, 0, got_operational_psk);
  if (st != STW_OK)
    stw__op_finish(op, st, 0, "could not ask for the operational PSK");
}

/* ---- starting ------------------------------------------------------------------- */

static stw_status_t start(stw_net_t *net, stw_dev_t *dev, const char *uri, stw_done_cb cb, void *arg, bool renewal)
{
  stw_op_t *op = NULL;
  stw_status_t st = stw__op_new(net, dev, uri, cb, arg, &op);
  if (st != STW_OK)
    return st;
  flow_t *f = calloc(1, sizeof(*f));
  if (f == NULL) {
    stw__op_finish(op, STW_ERR_NOMEM, 0, "out of memory");
    return STW_OK;
  }
  f->renewal = renewal;
  op->flow = f;
  op->flow_free = free;

  if (dev->psk_device) {
    if (renewal) {
      stw__op_finish(op, STW_ERR_UNSUPPORTED, 0, "PSK devices renew by bootstrapping again");
    } else if (dev->has_op_psk) {
      confirm_operational_psk(op); /* resume after a restart */
    } else if ((st = stw__op_connect_psk(op, dev->boot_psk_identity, dev->boot_psk, STW_PSK_KEY_LEN)) != STW_OK ||
               (st = stw__op_request(op, COAP_REQUEST_CODE_GET, PATH_CRTS, -1, CF_PKCS7_CERTS, NULL, 0,
                                     got_psk_anchors)) != STW_OK) {
      stw__op_finish(op, st, 0, "could not reach the server");
    }
    return STW_OK;
  }
  /* An enrolled device bootstrapping again renews on its own once the share
   * of its LDevID's validity set with stw_dev_set_renewal_share() has passed. */
  if (!renewal && dev->has_op_cert) {
    int64_t from = dev->op_cert.not_before, to = dev->op_cert.not_after;
    int64_t due = from + (int64_t)((double)(to - from) * dev->renewal_share);
    if (stw_now() < due) {
      stw__op_finish(op, STW_OK, 0, "already enrolled");
      return STW_OK;
    }
    renewal = f->renewal = true;
  }
  if (renewal) {
    stw_cert_info_t ca;
    if (!dev->has_op_cert || stw_cert_parse(dev->domain_ca_der.data, dev->domain_ca_der.len, &ca) != STW_OK) {
      stw__op_finish(op, STW_ERR_STATE, 0, "not enrolled: bootstrap first");
      return STW_OK;
    }
    memcpy(f->owner_spki, ca.spki, ca.spki_len);
    f->owner_spki_len = ca.spki_len;
    if ((st = stw__op_connect_cert(op, &dev->op_cert_pem, &dev->op_key_pem)) != STW_OK ||
        (st = stw__op_request(op, COAP_REQUEST_CODE_GET, PATH_CRTS, -1, CF_PKCS7_CERTS, NULL, 0, got_anchors)) != STW_OK)
      stw__op_finish(op, st, 0, "could not reach the server");
    return STW_OK;
  }
  if ((st = stw__op_connect_cert(op, &dev->idevid_cert_pem, &dev->idevid_key_pem)) != STW_OK ||
      (st = stw__op_request(op, COAP_REQUEST_CODE_POST, PATH_VOUCHER, -1, -1, NULL, 0, got_voucher)) != STW_OK)
    stw__op_finish(op, st, 0, "could not reach the server");
  return STW_OK;
}

stw_status_t stw_bootstrap_start(stw_net_t *net, stw_dev_t *dev, const char *server_uri, stw_done_cb cb, void *arg)
{
  return start(net, dev, server_uri, cb, arg, false);
}

stw_status_t stw_reenroll_start(stw_net_t *net, stw_dev_t *dev, const char *server_uri, stw_done_cb cb, void *arg)
{
  return start(net, dev, server_uri, cb, arg, true);
}

/* ---- the blocking forms ------------------------------------------------------------ */

typedef struct {
  bool done;
  stw_status_t status;
  stw_bootstrap_report_t report;
} waiter_t;

static void wake(stw_dev_t *dev, stw_status_t status, const stw_bootstrap_report_t *report, void *arg)
{
  (void)dev;
  waiter_t *w = arg;
  w->done = true;
  w->status = status;
  w->report = *report;
}

static stw_status_t run_blocking(stw_dev_t *dev, const char *uri, bool renewal, stw_bootstrap_report_t *report)
{
  stw_net_t *net = NULL;
  waiter_t w;
  memset(&w, 0, sizeof(w));
  stw_status_t st = stw_net_new(&net);
  if (st == STW_OK)
    st = start(net, dev, uri, wake, &w, renewal);
  while (st == STW_OK && !w.done)
    stw_net_run(net, 100);
  stw_net_free(net);
  if (st == STW_OK)
    st = w.status;
  if (report != NULL)
    *report = w.report;
  return st;
}

stw_status_t stw_bootstrap(stw_dev_t *dev, const char *server_uri, stw_bootstrap_report_t *report)
{
  return run_blocking(dev, server_uri, false, report);
}

stw_status_t stw_reenroll(stw_dev_t *dev, const char *server_uri, stw_bootstrap_report_t *report)
{
  return run_blocking(dev, server_uri, true, report);
}

stw_status_t stw_reenroll_if_due(stw_dev_t *dev, const char *server_uri, double share, int64_t now,
                                 bool *renewed, stw_bootstrap_report_t *report)
{
  *renewed = false;
  if (report != NULL)
    memset(report, 0, sizeof(*report));
  if (!dev->has_op_cert)
    return STW_ERR_STATE;
  if (share < 0.0 || share > 1.0)
    return STW_ERR_INVALID;
  int64_t from = dev->op_cert.not_before, to = dev->op_cert.not_after;
  int64_t due = from + (int64_t)((double)(to - from) * share);
  if (now < due)
    return STW_OK;
  stw_status_t st = stw_reenroll(dev, server_uri, report);
  *renewed = st == STW_OK;
  return st;
}
