/* Steward device SDK — the device's identity and credential store.
 *
 * A device keeps its credentials in a folder (written by `steward mfg imprint`
 * at the factory, completed by bootstrapping):
 *   idevid.pem      IDevID certificate + its private key (0600)   X.509 devices
 *   bootstrap.psk   bootstrap PSK identity and key (0600)          PSK devices
 *   mfg-ca.pem      the manufacturer's CA: the imprinted trust anchor
 *   domain-ca.pem   the owner domain's CA, pinned at bootstrap
 *   operational.pem LDevID certificate + its private key (0600)
 *   operational.psk operational PSK (0600)
 *   name            the name the domain assigned
 * Every file is replaced atomically; the operational credential is written
 * last, so a device is enrolled exactly when it exists. */
#ifndef STEWARD_DEVICE_H
#define STEWARD_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include "steward/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque device: identity, trust anchors, credentials. */
typedef struct stw_dev stw_dev_t;

typedef enum {
  STW_DEV_FACTORY = 0,   /**< only the factory identity: not yet bootstrapped */
  STW_DEV_ENROLLED,      /**< holds an operational credential of its owner's domain */
} stw_dev_state_t;

/** Load a device from its folder. The caller frees it with stw_dev_close(). */
stw_status_t stw_dev_open(const char *dir, stw_dev_t **out) __attribute__((warn_unused_result));

/** A device that lives only in memory (the simulator's many devices): the
 *  same flows, nothing written to disk. PEM buffers are copied. For an X.509
 *  device give idevid_pem (certificate + key) and mfg_ca_pem; for a PSK device
 *  give psk_identity and a 32-byte psk. */
stw_status_t stw_dev_new_memory(const char *idevid_pem, const char *mfg_ca_pem,
                                const char *psk_identity, const uint8_t *psk,
                                stw_dev_t **out) __attribute__((warn_unused_result));

/** Wipes keys and frees. NULL is fine. */
void stw_dev_close(stw_dev_t *dev);

/** The self-certifying device id, 32 hex digits; valid while dev lives. */
const char *stw_dev_id(const stw_dev_t *dev);
/** The name the domain assigned, or "" before bootstrapping. */
const char *stw_dev_name(const stw_dev_t *dev);
stw_dev_state_t stw_dev_state(const stw_dev_t *dev);
bool stw_dev_uses_psk(const stw_dev_t *dev);
/** Validity of the LDevID (seconds since the epoch); 0 when there is none. */
int64_t stw_dev_cert_not_before(const stw_dev_t *dev);
int64_t stw_dev_cert_not_after(const stw_dev_t *dev);
/** The LDevID serial in hex, or "" (valid while dev lives). */
const char *stw_dev_cert_serial(const stw_dev_t *dev);

/** Factory reset: forget everything the owner's domain gave the device, in
 *  memory and in its folder — LDevID and its key, domain CA, name,
 *  operational PSK, an enrollment in flight, OSCORE contexts and any other
 *  file beside them (each overwritten with zeros, flushed, then unlinked) —
 *  and keep what the factory imprinted (IDevID or bootstrap PSK,
 *  manufacturer CA, model) and the firmware (fw/). Afterwards the device is
 *  STW_DEV_FACTORY: a new owner bootstraps it with a new voucher. Past a
 *  failure it goes on removing what it can and returns the first error
 *  (STW_ERR_IO). */
stw_status_t stw_dev_factory_reset(stw_dev_t *dev) __attribute__((warn_unused_result));

/** stw_bootstrap() on an enrolled device renews its LDevID by itself once
 *  this share (0 < share <= 1) of the validity has passed. */
#define STW_DEFAULT_RENEWAL_SHARE (2.0 / 3.0)
stw_status_t stw_dev_set_renewal_share(stw_dev_t *dev, double share) __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
