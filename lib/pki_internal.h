/* What lib/ modules may ask of a key beyond lib/pki.h. Not for the SDK. */
#ifndef STW_LIB_PKI_INTERNAL_H
#define STW_LIB_PKI_INTERNAL_H

#include "pki.h"

/** The private scalar of key as 32 big-endian bytes, for ECDH in seal.c.
 *  The caller wipes k after use. */
stw_status_t stw__key_scalar(const stw_key_t *key, uint8_t k[32]) STW_WUR;

#endif
