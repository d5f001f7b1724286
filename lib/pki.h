/* Keys, certificates and CSRs over GnuTLS. P-256 and ES256 only: one curve,
 * one signature algorithm, so there is nothing to downgrade to. */
#ifndef STW_LIB_PKI_H
#define STW_LIB_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define STW_DEVICE_ID_LEN 16          /* bytes: first 128 bits of SHA-256(SPKI) */
#define STW_DEVICE_ID_HEX_LEN 33      /* 32 hex digits + NUL */
#define STW_SPKI_MAX 128              /* DER SubjectPublicKeyInfo of a P-256 key is 91 bytes */
#define STW_ES256_SIG_LEN 64          /* r || s, 32 bytes each (COSE form) */
#define STW_CERT_MAX 4096             /* largest certificate we accept, DER */
#define STW_CSR_MAX 2048              /* largest CSR we accept, DER */
#define STW_SERIAL_MAX 20             /* RFC 5280: at most 20 octets */
#define STW_NAME_MAX 64               /* CN, O, OU values we issue and accept */

/** An opaque P-256 private key. */
typedef struct stw_key stw_key_t;

/** Fresh P-256 key from the system CSPRNG. Free with stw_key_free(). */
stw_status_t stw_key_generate(stw_key_t **out) STW_WUR;
/** Import a PEM private key (PKCS#8 or SEC1 "EC PRIVATE KEY"). Rejects non-P-256. */
stw_status_t stw_key_import_pem(const uint8_t *pem, size_t len, stw_key_t **out) STW_WUR;
/** Export as SEC1 "EC PRIVATE KEY" PEM (libcoap's raw-public-key mode reads
 *  this form). The caller owns out and should free it with wipe=true. */
stw_status_t stw_key_export_pem(const stw_key_t *key, stw_buf_t *out) STW_WUR;
/** DER SubjectPublicKeyInfo of the key's public half; *len in: capacity, out: length. */
stw_status_t stw_key_spki(const stw_key_t *key, uint8_t *spki, size_t *len) STW_WUR;
/** ES256 over msg: SHA-256 then ECDSA, signature as r||s (64 bytes). */
stw_status_t stw_key_sign(const stw_key_t *key, const uint8_t *msg, size_t len,
                          uint8_t sig[STW_ES256_SIG_LEN]) STW_WUR;
/** Wipes and frees; NULL is fine. */
void stw_key_free(stw_key_t *key);

/** Verify an ES256 r||s signature with a P-256 public key given as DER SPKI.
 *  STW_ERR_BAD_SIGNATURE when it does not verify, STW_ERR_MALFORMED for a bad key. */
stw_status_t stw_spki_verify(const uint8_t *spki, size_t spki_len, const uint8_t *msg, size_t len,
                             const uint8_t sig[STW_ES256_SIG_LEN]) STW_WUR;
/** DER SPKI from the raw affine coordinates of a P-256 point (checks it is on the curve). */
stw_status_t stw_spki_from_xy(const uint8_t x[32], const uint8_t y[32], uint8_t *spki, size_t *len) STW_WUR;
/** Raw coordinates of a P-256 public key given as DER SPKI. */
stw_status_t stw_spki_to_xy(const uint8_t *spki, size_t spki_len, uint8_t x[32], uint8_t y[32]) STW_WUR;

/** Self-certifying device id: the first 128 bits of SHA-256 over the DER SPKI,
 *  as HIP's HIT and CGA derive a name from a key. */
stw_status_t stw_device_id_from_spki(const uint8_t *spki, size_t spki_len,
                                     uint8_t id[STW_DEVICE_ID_LEN]) STW_WUR;
void stw_device_id_hex(const uint8_t id[STW_DEVICE_ID_LEN], char out[STW_DEVICE_ID_HEX_LEN]);

/** What we put into certificates we issue. Strings are NUL-terminated, at most
 *  STW_NAME_MAX-1 bytes; NULL or "" leaves the attribute out. */
typedef struct {
  const char *common_name;    /**< CN */
  const char *organization;   /**< O: the manufacturer (IDevID) or domain (LDevID) */
  const char *unit;           /**< OU: the device model */
  const char *serial_number;  /**< subject serialNumber: the device id in hex */
  const char *san_uri;        /**< subjectAltName URI, e.g. "urn:steward:dev:<id>" */
  const char *san_ip;         /**< subjectAltName iPAddress, an IPv4 or IPv6 literal (the HTTPS side) */
  int64_t not_before;         /**< seconds since the epoch */
  int64_t not_after;
  bool is_ca;                 /**< basicConstraints CA, keyCertSign + cRLSign */
  bool client_auth;           /**< extKeyUsage id-kp-clientAuth (devices) */
  bool server_auth;           /**< extKeyUsage id-kp-serverAuth (the daemon) */
} stw_cert_template_t;

/** Self-signed CA certificate for key. The serial is 16 random bytes (positive).
 *  out receives DER; the caller frees it. */
stw_status_t stw_cert_self_signed(const stw_key_t *key, const stw_cert_template_t *t,
                                  stw_buf_t *out) STW_WUR;
/** Certificate for subject_spki signed by ca_key, issuer taken from ca_der. The
 *  serial is 16 random bytes; its hex (lower case) goes to serial_hex if not NULL
 *  (2*STW_SERIAL_MAX+1 bytes). out receives DER; the caller frees it. */
stw_status_t stw_cert_issue(const stw_key_t *ca_key, const uint8_t *ca_der, size_t ca_len,
                            const uint8_t *subject_spki, size_t spki_len,
                            const stw_cert_template_t *t, stw_buf_t *out,
                            char *serial_hex) STW_WUR;

/** What a parsed certificate says. Fixed-size fields: parsing allocates nothing
 *  the caller must free. */
typedef struct {
  char common_name[STW_NAME_MAX];
  char organization[STW_NAME_MAX];
  char unit[STW_NAME_MAX];
  char serial_number[STW_NAME_MAX];      /**< subject serialNumber attribute */
  char san_uri[2 * STW_NAME_MAX];
  char serial_hex[2 * STW_SERIAL_MAX + 1];  /**< certificate serial */
  int64_t not_before;
  int64_t not_after;
  bool is_ca;
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
  uint8_t device_id[STW_DEVICE_ID_LEN];  /**< derived from spki */
} stw_cert_info_t;

/** Parse a DER certificate of at most STW_CERT_MAX bytes (P-256 key only). */
stw_status_t stw_cert_parse(const uint8_t *der, size_t len, stw_cert_info_t *info) STW_WUR;
/** True if cert was signed by the CA whose DER certificate is ca_der, the CA is
 *  a CA, and both are valid at time now. Returns STW_OK, STW_ERR_UNTRUSTED
 *  (wrong issuer or bad signature) or STW_ERR_EXPIRED. */
stw_status_t stw_cert_verify_issued_by(const uint8_t *der, size_t len,
                                       const uint8_t *ca_der, size_t ca_len, int64_t now) STW_WUR;
/* ---- parsed once, used many times ------------------------------------------
 * Importing DER into GnuTLS and reading its fields costs more than the ECDSA
 * verification itself, so hot paths parse a certificate once and keep it. */

/** A parsed certificate (opaque). */
typedef struct stw_cert stw_cert_t;

/** Parse a DER certificate as stw_cert_parse() does, keeping it for
 *  stw_ca_verify_cert(). *out is the caller's; free with stw_cert_free(). */
stw_status_t stw_cert_load(const uint8_t *der, size_t len, stw_cert_t **out) STW_WUR;
/** What the certificate says; valid while cert lives. */
const stw_cert_info_t *stw_cert_info(const stw_cert_t *cert);
/** NULL is fine. */
void stw_cert_free(stw_cert_t *cert);

/** A CA certificate checked once (a CA, may sign certificates, P-256 key) and
 *  kept parsed, optionally with its private key for issuing (opaque). */
typedef struct stw_ca stw_ca_t;

/** Parse and check the CA certificate ca_der. key may be NULL (verify only);
 *  otherwise it must be the certificate's key (STW_ERR_INVALID if not), is not
 *  copied and must outlive the stw_ca_t. STW_ERR_UNTRUSTED if the certificate
 *  cannot act as a CA. *out is the caller's; free with stw_ca_free(). */
stw_status_t stw_ca_new(const uint8_t *ca_der, size_t ca_len, const stw_key_t *key,
                        stw_ca_t **out) STW_WUR;
/** What the CA certificate says; valid while ca lives. */
const stw_cert_info_t *stw_ca_info(const stw_ca_t *ca);
/** NULL is fine; does not free the key. */
void stw_ca_free(stw_ca_t *ca);
/** As stw_cert_verify_issued_by() with a preparsed CA: STW_OK, STW_ERR_UNTRUSTED
 *  or STW_ERR_EXPIRED (and import errors for der). */
stw_status_t stw_ca_verify_issued(const stw_ca_t *ca, const uint8_t *der, size_t len,
                                  int64_t now) STW_WUR;
/** The same for a certificate parsed with stw_cert_load(). */
stw_status_t stw_ca_verify_cert(const stw_ca_t *ca, const stw_cert_t *cert, int64_t now) STW_WUR;
/** As stw_cert_issue(), signed with the key ca was made with (STW_ERR_INVALID
 *  if it was made without one). */
stw_status_t stw_ca_issue(const stw_ca_t *ca, const uint8_t *subject_spki, size_t spki_len,
                          const stw_cert_template_t *t, stw_buf_t *out, char *serial_hex) STW_WUR;

/** SHA-256 of a byte string (certificate fingerprints, CSR digests). */
stw_status_t stw_sha256(const uint8_t *data, size_t len, uint8_t out[32]) STW_WUR;

/** PEM <-> DER for "CERTIFICATE" (and "CERTIFICATE REQUEST" for CSRs). */
stw_status_t stw_pem_to_der(const char *label, const uint8_t *pem, size_t len, stw_buf_t *der) STW_WUR;
stw_status_t stw_der_to_pem(const char *label, const uint8_t *der, size_t len, stw_buf_t *pem) STW_WUR;

/** PKCS#10 request for key with subject CN = cn, self-signed (ES256). */
stw_status_t stw_csr_create(const stw_key_t *key, const char *cn, stw_buf_t *out) STW_WUR;

typedef struct {
  char common_name[STW_NAME_MAX];
  uint8_t spki[STW_SPKI_MAX];
  size_t spki_len;
} stw_csr_info_t;

/** Parse a DER PKCS#10 request of at most STW_CSR_MAX bytes and verify its self
 *  signature. STW_ERR_MALFORMED, STW_ERR_TOO_LARGE, STW_ERR_BAD_SIGNATURE, or
 *  STW_ERR_UNSUPPORTED for a key that is not P-256. */
stw_status_t stw_csr_parse_verify(const uint8_t *der, size_t len, stw_csr_info_t *info) STW_WUR;

/** PKCS#7 certs-only (RFC 9148 application/pkcs7-mime; smime-type=certs-only)
 *  holding the given DER certificates. */
stw_status_t stw_pkcs7_certs_encode(const uint8_t *const *certs, const size_t *lens, size_t n,
                                    stw_buf_t *out) STW_WUR;
/** Callback gets each DER certificate in turn; stop early by returning non-OK. */
typedef stw_status_t (*stw_cert_cb)(const uint8_t *der, size_t len, void *ctx);
stw_status_t stw_pkcs7_certs_decode(const uint8_t *p7, size_t len, stw_cert_cb cb, void *ctx) STW_WUR;

/** Seal a short secret (<= 64 bytes) to the holder of a P-256 public key:
 *  ephemeral ECDH, HKDF-SHA256, AES-128-CCM (COSE ECDH-ES + A128CCM style).
 *  Output: CBOR [ephemeral SPKI bstr, nonce bstr, ciphertext bstr]. */
stw_status_t stw_seal(const uint8_t *recipient_spki, size_t spki_len, const uint8_t *info, size_t info_len,
                      const uint8_t *secret, size_t secret_len, stw_buf_t *out) STW_WUR;
/** Open what stw_seal made; out receives the secret (wipe it after use). */
stw_status_t stw_unseal(const stw_key_t *key, const uint8_t *info, size_t info_len,
                        const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t *out_len) STW_WUR;

#endif
