/* The domain's certificate revocation list (RFC 5280 §5): every LDevID serial
 * the store holds as revoked (decommissioned devices), signed by the domain
 * CA. The store is the source of truth, and the DTLS handshake asks it
 * directly (server/coap/server.c); the CRL is what others fetch: a gateway, a
 * device checking a peer, an auditor. Served at GET /crl (docs/operations.md). */
#ifndef STW_SERVER_CRL_H
#define STW_SERVER_CRL_H

#include <stdint.h>
#include "domain/domain.h"
#include "store/store.h"
#include "util.h"

/** The CoAP Content-Format of the CRL: application/octet-stream (42). The
 *  registry has no entry for application/pkix-crl; the body is the DER. */
#define STW_CF_PKIX_CRL 42

/** nextUpdate - thisUpdate: a fetched CRL is due again after a day. */
#define STW_CRL_VALIDITY (24 * 3600)
/** Largest CRL built (about 38 bytes an entry: some 50,000 serials). */
#define STW_CRL_MAX (2u * 1024 * 1024)

/** Build the CRL as of now: version 2, issuer and authority key id of the
 *  domain CA, thisUpdate now, nextUpdate now + STW_CRL_VALIDITY, one entry
 *  per revoked serial with its revocation time, CRL number
 *  (revoked count << 32 | now mod 2^32, so it grows with either), ECDSA
 *  SHA-256. out (initialised by the caller) receives the DER.
 *  STW_ERR_TOO_LARGE over STW_CRL_MAX. */
stw_status_t stw_crl_build(stw_store_t *st, const stw_domain_t *domain, int64_t now, stw_buf_t *out)
    __attribute__((warn_unused_result));

#endif
