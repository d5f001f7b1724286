/* What the DTLS channel authenticated about the peer of a request. Every part
 * takes identities from here and nowhere else: an endpoint name, a token's
 * subject or a registration's owner is bound to the key of the session. */
#ifndef STW_SERVER_PEER_H
#define STW_SERVER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  STW_PEER_NONE = 0,   /**< plain CoAP (tests only) or nothing presented */
  STW_PEER_CERT,       /**< an X.509 certificate; possession proven by DTLS, chain NOT yet checked */
  STW_PEER_RPK,        /**< a raw public key */
  STW_PEER_PSK,        /**< a pre-shared key identity the store knows */
} stw_peer_kind_t;

/** What a part concluded about the session's certificate, kept with the
 *  session so that later requests on it skip the signature check. Cleared
 *  whenever the session presents a new credential (a new handshake). */
typedef struct {
  bool checked;              /**< the chain was checked */
  bool valid;                /**< ... and it is an LDevID of this domain */
  char device_id[33];
  char serial_hex[41];
  uint8_t spki[128];         /**< the certificate's public key (DER SPKI) */
  size_t spki_len;
} stw_peer_memo_t;

typedef struct {
  stw_peer_kind_t kind;
  const uint8_t *der;        /**< STW_PEER_CERT: leaf certificate; STW_PEER_RPK: SPKI */
  size_t der_len;
  const char *psk_identity;  /**< STW_PEER_PSK, NUL-terminated */
  stw_peer_memo_t *memo;     /**< STW_PEER_CERT: the session's memo; NULL when none */
} stw_peer_t;

#endif
