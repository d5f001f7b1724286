/* Ownership voucher: the manufacturer's signed statement that device D belongs
 * to the domain whose CA key is K (the BRSKI idea, RFC 8366, in COSE_Sign1).
 * Wire format in docs/formats-crypto.md (CDDL). */
#ifndef STW_LIB_VOUCHER_H
#define STW_LIB_VOUCHER_H

#include "cose.h"

#define STW_VOUCHER_MAX 4096
#define STW_PSK_LEN 32
#define STW_PSK_ID_MAX 64

typedef struct {
  uint8_t device_id[STW_DEVICE_ID_LEN];
  uint8_t owner_spki[STW_SPKI_MAX];     /**< the pinned domain CA public key */
  size_t owner_spki_len;
  int64_t created_on;
  int64_t expires_on;                    /**< 0: does not expire */
  uint8_t serial[16];                    /**< random voucher serial, for audit */
  /** For PSK devices only: the device's bootstrap PSK identity and the PSK
   *  sealed to owner_spki (stw_seal with info "steward voucher psk"). */
  char psk_identity[STW_PSK_ID_MAX];
  uint8_t sealed_psk[256];
  size_t sealed_psk_len;
  /** The device model the manufacturer vouches for (key 8; optional, "" if
   *  absent): a PSK device has no certificate to carry it. */
  char model[STW_NAME_MAX];
} stw_voucher_t;

/** Sign v with the manufacturer CA key; out receives COSE_Sign1 bytes. */
stw_status_t stw_voucher_sign(const stw_voucher_t *v, const stw_key_t *mfg_key, stw_buf_t *out) STW_WUR;
/** Parse without verifying (the domain uses this to index a voucher). */
stw_status_t stw_voucher_parse(const uint8_t *msg, size_t len, stw_voucher_t *out) STW_WUR;
/** Verify against the manufacturer CA's SPKI and parse. Also checks expiry at now. */
stw_status_t stw_voucher_verify(const uint8_t *msg, size_t len, const uint8_t *mfg_spki, size_t mfg_spki_len,
                                int64_t now, stw_voucher_t *out) STW_WUR;

#endif
