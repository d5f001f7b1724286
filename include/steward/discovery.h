/* Steward device SDK — registration and privacy-aware discovery: the CoRE
 * Resource Directory (RFC 9176) and handle resolution (docs/discovery.md).
 *
 *   char where[STW_LOCATION_MAX];
 *   stw_register(dev, "coaps://steward.local", "</temp>;rt=\"temperature\"", 3600,
 *                "vis=role=utility&dattr=model%20location", where, &why);
 *   char *links; size_t n;
 *   stw_lookup(dev, "coaps://steward.local", "res", "rt=temp*", &links, &n, &why);
 *   free(links);
 *   stw_resolution_t *r;
 *   if (stw_resolve(dev, uri, "home.example/3f9a...", "model location", &r, &why) == STW_OK)
 *     printf("%s\n", stw_resolution_attr_value(r, "location", "home.example"));
 *   stw_resolution_free(r);
 *
 * Every call speaks DTLS with the device's operational credential (LDevID or
 * operational PSK), so the device must be bootstrapped (else STW_ERR_STATE).
 * An X.509 device first checks that the server's key is certified by the
 * domain CA it pinned at bootstrap (STW_ERR_UNTRUSTED otherwise). The
 * blocking calls take at most a minute. report (may be NULL) receives the
 * server's code and diagnostic. A lookup only ever returns what this device
 * may see; what it may not see is answered as if it did not exist. */
#ifndef STEWARD_DISCOVERY_H
#define STEWARD_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>
#include "steward/bootstrap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STW_LOCATION_MAX 128        /**< a registration's place, "rd/4f2a..." */
#define STW_LOOKUP_ANSWER_MAX 65536 /**< largest lookup answer accepted */
#define STW_RESOLUTION_MAX 65536    /**< largest resolution answer accepted */

/**
 * Register this device's resources (POST /rd). ep is the name the domain
 * assigned at bootstrap; registering again replaces the registration.
 * @param[in]  links        link format (RFC 6690), NUL-terminated; a link
 *                          attribute vis="<rule>" limits who may discover that
 *                          resource and is never published
 * @param[in]  lt           lifetime in seconds (60 .. 31536000), 0: the server's default
 * @param[in]  extra_query  more query parameters, percent-encoded, '&'-separated,
 *                          e.g. "vis=role=utility&dattr=model%20location"; NULL for none
 * @param[out] location     where the registration lives, "rd/<id>" (for
 *                          update and delete); may be NULL
 * @retval STW_ERR_FORBIDDEN  e.g. ep is not this device's name
 * @retval STW_ERR_MALFORMED / STW_ERR_TOO_LARGE  the server refused the input
 */
stw_status_t stw_register(stw_dev_t *dev, const char *server_uri, const char *links, uint32_t lt,
                          const char *extra_query, char location[STW_LOCATION_MAX],
                          stw_bootstrap_report_t *report) __attribute__((warn_unused_result));

/** Refresh a registration (POST to its location): lt 0 keeps the lifetime;
 *  links NULL keeps the resources, otherwise they replace them. */
stw_status_t stw_register_update(stw_dev_t *dev, const char *server_uri, const char *location, uint32_t lt,
                                 const char *links, stw_bootstrap_report_t *report)
    __attribute__((warn_unused_result));

/** Remove a registration (DELETE its location). */
stw_status_t stw_register_delete(stw_dev_t *dev, const char *server_uri, const char *location,
                                 stw_bootstrap_report_t *report) __attribute__((warn_unused_result));

/**
 * Look up endpoints (kind "ep") or resources (kind "res").
 * @param[in]  query      filters, percent-encoded, '&'-separated ("rt=temp*&count=10"), or NULL
 * @param[out] links_out  the answer in link format, NUL-terminated, malloc'd: the
 *                        caller frees it with free(); "" when nothing is visible
 * @param[out] len        its length (may be NULL)
 */
stw_status_t stw_lookup(stw_dev_t *dev, const char *server_uri, const char *kind, const char *query,
                        char **links_out, size_t *len, stw_bootstrap_report_t *report)
    __attribute__((warn_unused_result));

/** A verified resolution of a handle. Opaque; free with stw_resolution_free(). */
typedef struct stw_resolution stw_resolution_t;

/**
 * Resolve a handle "<domain>/<device-id>" (GET /hdl/...) and verify the
 * attribute disclosure it carries against the pinned domain CA, for that device.
 * @param[in]  attrs  attribute names to ask for, space-separated ("model location"),
 *                    or NULL for all the device made discoverable
 * @param[out] out    the resolution (caller frees); NULL on failure
 * @retval STW_ERR_NOT_FOUND  unknown, unregistered, or not visible to this device
 * @retval STW_ERR_TAMPERED / STW_ERR_BAD_SIGNATURE / STW_ERR_UNTRUSTED / STW_ERR_EXPIRED /
 *         STW_ERR_UNAUTHENTICATED / STW_ERR_MALFORMED  the answer does not verify: nothing is returned
 */
stw_status_t stw_resolve(stw_dev_t *dev, const char *server_uri, const char *handle, const char *attrs,
                         stw_resolution_t **out, stw_bootstrap_report_t *report)
    __attribute__((warn_unused_result));

/**
 * Verify a resolution answer obtained by other means (a cache, another
 * transport): CBOR {1: handle, 2: ep, 3: [base], 4: SPKI, 5: links, 6: disclosure}
 * at most STW_RESOLUTION_MAX bytes; the handle must be the one asked for and
 * the disclosure must verify with domain_ca_der (DER) for the handle's device at now.
 * Statuses as stw_resolve(). The caller frees *out.
 */
stw_status_t stw_resolution_verify(const uint8_t *domain_ca_der, size_t ca_len, const char *handle,
                                   const uint8_t *answer, size_t len, int64_t now, stw_resolution_t **out)
    __attribute__((warn_unused_result));

void stw_resolution_free(stw_resolution_t *r);

/* What a verified resolution says. Strings and bytes live as long as r. */
const char *stw_resolution_handle(const stw_resolution_t *r);
const char *stw_resolution_ep(const stw_resolution_t *r);
size_t stw_resolution_base_count(const stw_resolution_t *r);
const char *stw_resolution_base(const stw_resolution_t *r, size_t i);
/** The device's LDevID SubjectPublicKeyInfo (DER), as the server holds it; NULL, 0 for a PSK device. */
const uint8_t *stw_resolution_spki(const stw_resolution_t *r, size_t *len);
/** The resources visible to the asker, link format ("" for none). */
const char *stw_resolution_links(const stw_resolution_t *r);
/** Verified attributes: each disclosed leaf with the authority that states it. */
size_t stw_resolution_attr_count(const stw_resolution_t *r);
/** The i-th verified attribute; any out pointer may be NULL. STW_ERR_NOT_FOUND past the end. */
stw_status_t stw_resolution_attr(const stw_resolution_t *r, size_t i, const char **name, const char **value,
                                 const char **authority);
/** The verified value of (name, authority), or NULL when not disclosed.
 *  Check the authority is one you trust for that attribute. */
const char *stw_resolution_attr_value(const stw_resolution_t *r, const char *name, const char *authority);

/* ---- event-driven form (the simulator) ---------------------------------------- */

/** How an event-driven registration ended; location is "" on failure. */
typedef void (*stw_register_cb)(stw_dev_t *dev, stw_status_t status, const char *location,
                                const stw_bootstrap_report_t *report, void *arg);

/** stw_register() on net; cb runs from stw_net_run(). links and extra_query
 *  are copied; dev must outlive the operation. */
stw_status_t stw_register_start(stw_net_t *net, stw_dev_t *dev, const char *server_uri, const char *links,
                                uint32_t lt, const char *extra_query, stw_register_cb cb, void *arg)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
