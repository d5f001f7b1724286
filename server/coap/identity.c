#include "coap/identity.h"

#include <stdio.h>
#include <string.h>

static void add_attr(stw_identity_t *a, const char *name, const char *value, const char *authority)
{
  if (a->n_attrs >= STW_IDENTITY_ATTRS_MAX)
    return;
  stw_attr_row_t *r = &a->attrs[a->n_attrs++];
  snprintf(r->name, sizeof(r->name), "%s", name);
  snprintf(r->value, sizeof(r->value), "%s", value);
  snprintf(r->authority, sizeof(r->authority), "%s", authority);
}

static stw_status_t add_store_attr(const stw_attr_row_t *row, void *ctx)
{
  add_attr(ctx, row->name, row->value, row->authority);
  return STW_OK;
}

/* A device that may take part: enrolled, not retired. */
static bool device_may_act(const stw_device_t *d)
{
  return d->state != STW_STATE_MANUFACTURED && d->state != STW_STATE_DECOMMISSIONED;
}

static stw_status_t describe(stw_store_t *store, const stw_domain_t *domain, const stw_device_t *d,
                             stw_identity_t *out)
{
  snprintf(out->device_id, sizeof(out->device_id), "%s", d->id);
  snprintf(out->name, sizeof(out->name), "%s", d->name);
  add_attr(out, "device", d->id, domain->name);
  add_attr(out, "domain", domain->name, domain->name);
  if (d->model[0])
    add_attr(out, "model", d->model, d->manufacturer);
  if (d->manufacturer[0])
    add_attr(out, "manufacturer", d->manufacturer, d->manufacturer);
  /* The key: from the session when it was just checked, else from the row. */
  if (out->spki_len == 0 && d->ldevid != NULL) {
    stw_cert_info_t info;
    if (stw_cert_parse(d->ldevid, d->ldevid_len, &info) == STW_OK && info.spki_len <= sizeof(out->spki)) {
      memcpy(out->spki, info.spki, info.spki_len);
      out->spki_len = info.spki_len;
    }
  }
  return stw_store_attr_list(store, d->id, add_store_attr, out);
}

stw_status_t stw_identify_peer(stw_store_t *store, const stw_domain_t *domain, const stw_ca_t *domain_ca,
                               const stw_peer_t *peer, stw_identity_t *out)
{
  memset(out, 0, sizeof(*out));
  char id[STW_ID_HEX] = "";
  stw_device_t d;
  memset(&d, 0, sizeof(d));
  stw_status_t st = STW_OK;
  if (peer->kind == STW_PEER_CERT) {
    /* The signature check once per session (the memo lives with it); what
     * it proves about this certificate stays true. */
    stw_peer_memo_t local, *memo = peer->memo ? peer->memo : &local;
    if (memo == &local || !memo->checked) {
      stw_cert_info_t info;
      memset(memo, 0, sizeof(*memo));
      memo->checked = true;
      memo->valid = stw_ca_verify_issued(domain_ca, peer->der, peer->der_len, stw_now()) == STW_OK &&
                    stw_cert_parse(peer->der, peer->der_len, &info) == STW_OK;
      if (memo->valid && info.spki_len <= sizeof(memo->spki)) {
        snprintf(memo->device_id, sizeof(memo->device_id), "%.32s", info.serial_number);
        snprintf(memo->serial_hex, sizeof(memo->serial_hex), "%s", info.serial_hex);
        memcpy(memo->spki, info.spki, info.spki_len);
        memo->spki_len = info.spki_len;
      }
    }
    if (!memo->valid)
      return STW_OK; /* not an LDevID of ours: unauthenticated */
    snprintf(id, sizeof(id), "%s", memo->device_id);
    if (stw_store_device_get(store, id, &d) != STW_OK)
      return STW_OK;
    /* Only the current LDevID counts: a superseded one was replaced for a
     * reason. Read from the store on every request, so a renewal or a
     * decommission reaches live sessions at once. */
    if (strcmp(d.ldevid_serial, memo->serial_hex) != 0)
      goto out;
    if (!device_may_act(&d)) {
      out->decommissioned = d.state == STW_STATE_DECOMMISSIONED;
      goto out;
    }
    /* The current LDevID is the one the session presented: same key. */
    if (memo->spki_len <= sizeof(out->spki)) {
      memcpy(out->spki, memo->spki, memo->spki_len);
      out->spki_len = memo->spki_len;
    }
  } else if (peer->kind == STW_PEER_PSK) {
    stw_psk_t psk;
    if (stw_store_psk_get(store, peer->psk_identity, &psk) != STW_OK)
      return STW_OK;
    bool operational = psk.kind == STW_PSK_OPERATIONAL && psk.active;
    snprintf(id, sizeof(id), "%s", psk.device_id);
    stw_wipe(&psk, sizeof(psk));
    if (!operational || stw_store_device_get(store, id, &d) != STW_OK)
      return STW_OK;
    if (!device_may_act(&d)) {
      out->decommissioned = d.state == STW_STATE_DECOMMISSIONED;
      goto out;
    }
  } else {
    return STW_OK;
  }
  out->authenticated = true;
  st = describe(store, domain, &d, out);
out:
  stw_device_clear(&d);
  return st;
}

stw_status_t stw_identify_device(stw_store_t *store, const stw_domain_t *domain, const char *device_id,
                                 stw_identity_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_device_t d;
  stw_status_t st = stw_store_device_get(store, device_id, &d);
  if (st != STW_OK)
    return st;
  st = device_may_act(&d) ? describe(store, domain, &d, out) : STW_ERR_STATE;
  stw_device_clear(&d);
  return st;
}
