/* Who a DTLS peer is, for every part that needs it (RD, authorization): an
 * LDevID of this domain (the current one of a device that is neither
 * MANUFACTURED nor DECOMMISSIONED) or an operational PSK makes an
 * authenticated device with its attributes; anything else is unauthenticated.
 * The same attribute list describes any enrolled device by id (the audience of
 * a token request). */
#ifndef STW_SERVER_COAP_IDENTITY_H
#define STW_SERVER_COAP_IDENTITY_H

#include <stdbool.h>
#include "coap/peer.h"
#include "domain/domain.h"
#include "pki.h"
#include "store/store.h"

#define STW_IDENTITY_ATTRS_MAX 40

typedef struct {
  bool authenticated;
  /** Not authenticated because the credential is the current one of a
   *  DECOMMISSIONED device (a session opened before the decommission): the
   *  parts answer 4.03 "decommissioned" instead of 4.01. */
  bool decommissioned;
  char device_id[STW_ID_HEX];
  char name[STW_TEXT_MAX];                 /**< the name assigned at bootstrap */
  uint8_t spki[STW_SPKI_MAX];              /**< the LDevID's key (X.509 devices), spki_len 0 otherwise */
  size_t spki_len;
  size_t n_attrs;
  stw_attr_row_t attrs[STW_IDENTITY_ATTRS_MAX];  /**< device, domain, model, manufacturer, then the store's */
} stw_identity_t;

/** Identify the peer of a session. domain_ca: the domain CA (stw_ca_new). An
 *  unknown peer is STW_OK with out->authenticated false. */
stw_status_t stw_identify_peer(stw_store_t *store, const stw_domain_t *domain, const stw_ca_t *domain_ca,
                               const stw_peer_t *peer, stw_identity_t *out);

/** Describe an enrolled device by id (not authenticated: nobody proved
 *  anything here). STW_ERR_NOT_FOUND for an unknown device, STW_ERR_STATE for
 *  one that is MANUFACTURED or DECOMMISSIONED. */
stw_status_t stw_identify_device(stw_store_t *store, const stw_domain_t *domain, const char *device_id,
                                 stw_identity_t *out);

#endif
