/* The manufacturer's side: a CA, per-device root identities and ownership
 * vouchers. Used by `steward mfg`, the simulator and the demo. */
#ifndef STW_CLI_FACTORY_H
#define STW_CLI_FACTORY_H

#include "pki.h"
#include "psk_answer.h"
#include "voucher.h"

typedef struct {
  char name[STW_NAME_MAX];
  stw_key_t *ca_key;
  stw_buf_t ca_der;
  stw_cert_info_t ca;
} stw_factory_t;

/** A manufacturer in memory (fresh CA). */
stw_status_t stw_factory_new(const char *name, stw_factory_t **out);
/** Load or create the manufacturer kept in dir (ca.key 0600, ca.pem, name). */
stw_status_t stw_factory_open(const char *dir, const char *name, bool create, stw_factory_t **out);
void stw_factory_free(stw_factory_t *f);

/** One imprinted device. X.509: idevid_pem holds certificate + key; PSK:
 *  psk_identity and psk. id is the self-certifying device id. */
typedef struct {
  char id[STW_DEVICE_ID_HEX_LEN];
  char model[STW_NAME_MAX];
  bool psk_device;
  stw_buf_t idevid_pem;          /* NUL-terminated */
  char psk_identity[STW_PSK_IDENTITY_MAX + 1];
  uint8_t psk[STW_PSK_KEY_LEN];
} stw_imprint_t;

/** A fresh unique identity: a P-256 key and an IDevID (or a fresh 256-bit PSK). */
stw_status_t stw_factory_imprint(const stw_factory_t *f, const char *model, bool psk, stw_imprint_t *out);
void stw_imprint_clear(stw_imprint_t *im);
/** Write the imprint into a device folder (secrets 0600, atomically). */
stw_status_t stw_imprint_save(const stw_factory_t *f, const stw_imprint_t *im, const char *dir);
/** Read back what identifies the device in a folder (id, PSK if any). */
stw_status_t stw_imprint_load(const char *dir, stw_imprint_t *out);

/** Sign a voucher that gives device im to the owner whose CA public key is
 *  owner_spki; a PSK device's PSK is sealed to that key. */
stw_status_t stw_factory_voucher(const stw_factory_t *f, const stw_imprint_t *im,
                                 const uint8_t *owner_spki, size_t owner_spki_len, int64_t lifetime,
                                 stw_buf_t *out);

#endif
