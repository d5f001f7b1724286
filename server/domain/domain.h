/* The owner domain's own key material, kept in the data folder:
 *   domain-ca.key / domain-ca.pem   the domain CA (signs LDevIDs; its public key
 *                                   is what vouchers pin)
 *   server.key / server.pem         the daemon's DTLS key (a raw public key on
 *                                   the wire) and its certificate from the CA
 *   admin.token                     first-run operator token
 * Secrets are 0600 and written atomically; created on first use. */
#ifndef STW_SERVER_DOMAIN_H
#define STW_SERVER_DOMAIN_H

#include "pki.h"

typedef struct {
  char dir[1024];
  char name[STW_NAME_MAX];         /**< domain name, the O of certificates it issues */
  stw_key_t *ca_key;
  stw_buf_t ca_der;
  stw_cert_info_t ca;
  stw_key_t *server_key;
  stw_buf_t server_der;
  stw_cert_info_t server;
  char store_url[1100];            /**< "sqlite:<dir>/steward.db" */
} stw_domain_t;

/** Load the domain in data_dir, creating what is missing (folder 0700, keys,
 *  certificates, admin token). name is used only when creating. */
stw_status_t stw_domain_open(const char *data_dir, const char *name, stw_domain_t **out) __attribute__((warn_unused_result));
void stw_domain_close(stw_domain_t *d);

#endif
