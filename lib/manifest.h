/* Update manifests (SUIT model, RFC 9019): a CBOR map of what an image is and
 * where it lives, signed twice. The vendor (manufacturer) signs the manifest
 * in a COSE_Sign1; the owner domain authorises that exact signed manifest for
 * its fleet with a second COSE_Sign1 over it. A device checks both: the vendor
 * with the manufacturer CA key it was imprinted with, the owner with the
 * domain CA key its voucher pinned. Wire format: docs/formats-updates.md. */
#ifndef STW_LIB_MANIFEST_H
#define STW_LIB_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "pki.h"
#include "util.h"

#define STW_MANIFEST_MAX 8192       /* largest envelope we parse */
#define STW_MANIFEST_TEXT_MAX 64    /* vendor, class, component */
#define STW_MANIFEST_URI_MAX 256

typedef struct {
  uint64_t sequence;                       /**< monotonic; a device never installs a lower or equal one */
  char vendor[STW_MANIFEST_TEXT_MAX];      /**< vendor id: the manufacturer's name */
  char class_id[STW_MANIFEST_TEXT_MAX];    /**< device class: the model */
  char component[STW_MANIFEST_TEXT_MAX];   /**< "firmware" */
  uint8_t digest[32];                      /**< SHA-256 of the image */
  uint64_t size;                           /**< image bytes */
  char uri[STW_MANIFEST_URI_MAX];          /**< where to fetch it, relative to the domain ("/fw/img/<hex>") */
} stw_manifest_t;

/** The manifest alone, as canonical CBOR. */
stw_status_t stw_manifest_encode(const stw_manifest_t *m, stw_buf_t *out) STW_WUR;
/** Parse canonical CBOR (bounded, every field checked). */
stw_status_t stw_manifest_decode(const uint8_t *cbor, size_t len, stw_manifest_t *out) STW_WUR;

/** Vendor step: COSE_Sign1 (ES256) over the encoded manifest. */
stw_status_t stw_manifest_vendor_sign(const stw_manifest_t *m, const stw_key_t *vendor_key, stw_buf_t *out) STW_WUR;
/** Owner step: wrap a vendor-signed manifest in the owner's authorisation;
 *  out is the envelope devices receive. The vendor signature is not checked
 *  here (the daemon checks it before calling, with stw_manifest_vendor_verify). */
stw_status_t stw_manifest_authorize(const uint8_t *vendor_signed, size_t len, const stw_key_t *owner_key,
                                    stw_buf_t *out) STW_WUR;
/** Check the vendor signature of a vendor-signed manifest and decode it. */
stw_status_t stw_manifest_vendor_verify(const uint8_t *vendor_signed, size_t len, const uint8_t *vendor_spki,
                                        size_t vendor_spki_len, stw_manifest_t *out) STW_WUR;
/** Device step: check both signatures of an envelope and decode the manifest.
 *  STW_ERR_BAD_SIGNATURE if either signature fails (the owner's missing is
 *  STW_ERR_UNAUTHENTICATED); STW_ERR_MALFORMED for bad structure. */
stw_status_t stw_manifest_verify(const uint8_t *envelope, size_t len, const uint8_t *vendor_spki,
                                 size_t vendor_spki_len, const uint8_t *owner_spki, size_t owner_spki_len,
                                 stw_manifest_t *out) STW_WUR;
/** Parse an envelope without checking signatures (fuzzing, listing). */
stw_status_t stw_manifest_parse_envelope(const uint8_t *envelope, size_t len, stw_manifest_t *out) STW_WUR;

/** Is this manifest for this device, and newer than what it runs?
 *  STW_ERR_FORBIDDEN: another vendor or class; STW_ERR_REPLAY: sequence not
 *  above installed (rollback); STW_OK otherwise. */
stw_status_t stw_manifest_applies(const stw_manifest_t *m, const char *vendor, const char *class_id,
                                  uint64_t installed_sequence) STW_WUR;

#endif
