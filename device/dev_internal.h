/* Inside the device SDK: the device record and its persistence. */
#ifndef STW_DEVICE_INTERNAL_H
#define STW_DEVICE_INTERNAL_H

#include "pki.h"
#include "psk_answer.h"
#include "steward/device.h"

#define STW_PEM_MAX 8192

/** A memory-only device's small files (devfiles.h). */
typedef struct stw_devfile stw_devfile_t;

struct stw_dev {
  char dir[1024];                 /* "" for a memory-only device */
  char id[STW_DEVICE_ID_HEX_LEN];
  char name[STW_NAME_MAX];
  bool psk_device;

  /* factory identity */
  stw_buf_t idevid_cert_pem;      /* X.509: certificate PEM (NUL-terminated) */
  stw_buf_t idevid_key_pem;       /* X.509: private key PEM (NUL-terminated) */
  stw_key_t *idevid_key;
  stw_buf_t mfg_ca_der;           /* imprinted trust anchor */
  char boot_psk_identity[STW_PSK_IDENTITY_MAX + 1];
  uint8_t boot_psk[STW_PSK_KEY_LEN];

  /* what bootstrapping gave */
  stw_buf_t domain_ca_der;        /* pinned domain CA; empty before */
  stw_buf_t op_cert_pem;          /* LDevID PEM */
  stw_buf_t op_key_pem;
  stw_cert_info_t op_cert;        /* parsed LDevID */
  bool has_op_cert;
  char op_psk_identity[STW_PSK_IDENTITY_MAX + 1];
  uint8_t op_psk[STW_PSK_KEY_LEN];
  bool has_op_psk;

  double renewal_share;           /* stw_bootstrap() renews past this share of validity */

  /* an enrollment in flight: the key and CSR are kept so that a retry after a
   * crash sends the identical CSR and gets the same certificate back */
  stw_buf_t pending_key_pem;
  stw_buf_t pending_csr_der;

  /* a memory-only device's firmware slots and update progress (devfiles.c) */
  stw_devfile_t *mem_files;
};

/** Create (or reuse) the pending key + CSR for the next enrollment; persisted
 *  before it is sent. */
stw_status_t stw__dev_pending_csr(stw_dev_t *dev, const char *cn);
/** Store a new LDevID for the pending key, then forget the pending state. */
stw_status_t stw__dev_store_ldevid(stw_dev_t *dev, const uint8_t *der, size_t len);
stw_status_t stw__dev_store_domain_ca(stw_dev_t *dev, const uint8_t *der, size_t len);
stw_status_t stw__dev_store_op_psk(stw_dev_t *dev, const char *identity, const uint8_t key[STW_PSK_KEY_LEN]);
stw_status_t stw__dev_store_name(stw_dev_t *dev, const char *name);
/** Drop a pending enrollment whose CSR the server refused as stale. */
void stw__dev_clear_pending(stw_dev_t *dev);

#endif
