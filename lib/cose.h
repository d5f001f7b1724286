/* COSE_Sign1 (RFC 9052) with ES256 (alg -7) only. The one module that reads
 * and writes COSE; CWT, vouchers, manifests and evidence all go through here. */
#ifndef STW_LIB_COSE_H
#define STW_LIB_COSE_H

#include <stddef.h>
#include <stdint.h>
#include "pki.h"

#define STW_COSE_MAX 65536        /* largest COSE message we parse */
#define STW_COSE_ALG_ES256 (-7)
#define STW_COSE_KID_MAX 64

/** A parsed COSE_Sign1; pointers point into the caller's input buffer, so the
 *  input must outlive this struct. Nothing to free. */
typedef struct {
  const uint8_t *protected_hdr;   /**< serialized protected header map (bstr content) */
  size_t protected_len;
  const uint8_t *payload;
  size_t payload_len;
  const uint8_t *signature;
  size_t signature_len;
  int64_t alg;                    /**< from the protected header */
  uint8_t kid[STW_COSE_KID_MAX];  /**< from either header; kid_len 0 if absent */
  size_t kid_len;
  const uint8_t *content_type;    /**< unused by us; NULL */
} stw_cose_sign1_t;

/** Build a tagged (18) COSE_Sign1: protected {1: -7}, unprotected {4: kid} when
 *  kid_len > 0, the payload embedded. out receives the bytes; caller frees. */
stw_status_t stw_cose_sign1_create(const stw_key_t *key, const uint8_t *kid, size_t kid_len,
                                   const uint8_t *payload, size_t payload_len,
                                   const uint8_t *external_aad, size_t aad_len,
                                   stw_buf_t *out) STW_WUR;

/** Parse (tagged or untagged) without verifying: structure, header types,
 *  critical headers we do not understand (rejected: STW_ERR_UNSUPPORTED). */
stw_status_t stw_cose_sign1_parse(const uint8_t *msg, size_t len, stw_cose_sign1_t *out) STW_WUR;

/** Parse and verify with the signer's DER SPKI. The protected header must say
 *  ES256; anything else is STW_ERR_UNSUPPORTED (no algorithm downgrade).
 *  On success out describes the message; on failure out is unspecified. */
stw_status_t stw_cose_sign1_verify(const uint8_t *msg, size_t len,
                                   const uint8_t *spki, size_t spki_len,
                                   const uint8_t *external_aad, size_t aad_len,
                                   stw_cose_sign1_t *out) STW_WUR;

#endif
