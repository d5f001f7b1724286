/* Privacy-aware discovery: a device's attributes as the leaves of a Merkle
 * tree whose root the owner domain signs (COSE_Sign1), and disclosures that
 * reveal a chosen subset of leaves with one multiproof, so a discoverer can
 * check "location = kitchen, said by the domain" without learning the other
 * attributes. Wire formats and rules: docs/formats-attributes.md (CDDL). */
#ifndef STW_LIB_ATTRTREE_H
#define STW_LIB_ATTRTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pki.h"

#define STW_ATTR_MAX_LEAVES 64
#define STW_ATTR_NAME_MAX 64          /* buffer: names are 1..63 bytes of UTF-8 */
#define STW_ATTR_VALUE_MAX 256        /* buffer: values are 0..255 bytes of UTF-8 */
#define STW_ATTR_AUTHORITY_MAX 64     /* buffer: authorities are 1..63 bytes of UTF-8 */
#define STW_ATTR_SALT_LEN 16
#define STW_ATTR_HASH_LEN 32
#define STW_ATTR_SIGNED_ROOT_MAX 1024 /* largest signed root we make or accept */
#define STW_ATTR_DISCLOSURE_MAX 8192  /* largest disclosure we make or accept */

/** One leaf: what is said (name = value) and who says it (authority). The
 *  salt is random per leaf so that the hash of an undisclosed leaf cannot be
 *  used to confirm a guessed value. Strings are NUL-terminated. */
typedef struct {
  char name[STW_ATTR_NAME_MAX];
  char value[STW_ATTR_VALUE_MAX];
  char authority[STW_ATTR_AUTHORITY_MAX];
  uint8_t salt[STW_ATTR_SALT_LEN];
} stw_attr_t;

/** A device's attribute set, in any order (the tree sorts it canonically).
 *  At most one leaf per (name, authority). Plain data: nothing to free, but
 *  the salts are what keeps undisclosed values private, so keep the set with
 *  the same care as the attributes themselves. */
typedef struct {
  stw_attr_t attrs[STW_ATTR_MAX_LEAVES];
  size_t count;
} stw_attr_set_t;

/** What a verified disclosure proves. */
typedef struct {
  uint8_t device_id[STW_DEVICE_ID_LEN];
  int64_t issued_at;
  int64_t expires_at;
  size_t leaf_count;                        /**< leaves in the whole tree */
  stw_attr_t leaves[STW_ATTR_MAX_LEAVES];   /**< the disclosed ones, in tree order */
  size_t count;
} stw_attr_disclosed_t;

/** Empty set. */
void stw_attr_set_init(stw_attr_set_t *set);

/** Add a leaf with a fresh random salt. name and authority 1..63 bytes,
 *  value 0..255 bytes, all UTF-8 without NUL.
 *  @retval STW_ERR_INVALID    bad string, or (name, authority) already present
 *  @retval STW_ERR_TOO_LARGE  the set already holds 64 leaves */
stw_status_t stw_attr_set_add(stw_attr_set_t *set, const char *name, const char *value,
                              const char *authority) STW_WUR;

/** Add the manufacturer's statements carried by an IDevID: "manufacturer" =
 *  O and "model" = OU, both with authority O. The caller MUST have verified
 *  the certificate against the manufacturer CA it trusts (stw_ca_verify_issued)
 *  before: the domain's signature over the root then says "the manufacturer
 *  said so, and we checked". Fails with STW_ERR_INVALID if O or OU is empty. */
stw_status_t stw_attr_set_add_from_idevid(stw_attr_set_t *set,
                                          const stw_cert_info_t *verified_idevid) STW_WUR;

/** The tree root over set (1..64 valid leaves, unique (name, authority)).
 *  @retval STW_ERR_INVALID  empty set, a bad leaf or a duplicate */
stw_status_t stw_attr_tree_root(const stw_attr_set_t *set, uint8_t root[STW_ATTR_HASH_LEN]) STW_WUR;

/** The domain signs the root of set for device_id, valid from iat to exp
 *  (exp > iat). signed_root receives COSE_Sign1 bytes; if it is zeroed it is
 *  initialised with the STW_ATTR_SIGNED_ROOT_MAX bound. The caller frees it. */
stw_status_t stw_attr_sign_root(const stw_attr_set_t *set, const uint8_t device_id[STW_DEVICE_ID_LEN],
                                int64_t iat, int64_t exp, const stw_key_t *domain_key,
                                stw_buf_t *signed_root) STW_WUR;

/** Disclose every leaf whose name is one of names[0..n_names) (all
 *  authorities of that name), with the signed root and one multiproof.
 *  signed_root must be the one made for this set (checked: not its signature,
 *  but its root and leaf count). disclosure receives the bytes, initialised
 *  with the STW_ATTR_DISCLOSURE_MAX bound if zeroed; the caller frees it.
 *  @retval STW_ERR_NOT_FOUND  a name has no leaf
 *  @retval STW_ERR_INVALID    no names, a bad set, or signed_root is not for it
 *  @retval STW_ERR_TOO_LARGE  the disclosure would exceed 8 KiB */
stw_status_t stw_attr_disclose(const stw_attr_set_t *set, const uint8_t *signed_root, size_t signed_root_len,
                               const char *const *names, size_t n_names, stw_buf_t *disclosure) STW_WUR;

/** Verify a disclosure with the domain's DER SPKI at time now. If
 *  expected_device_id is not NULL the root must be about that device.
 *  On success out holds the device id, validity and the disclosed leaves
 *  (with the authority each one names: check it is one you trust, e.g. with
 *  stw_attr_disclosed_value()). On failure out is zeroed.
 *  @retval STW_ERR_TOO_LARGE        over STW_ATTR_DISCLOSURE_MAX
 *  @retval STW_ERR_MALFORMED        does not parse, or the proof has the wrong shape
 *  @retval STW_ERR_UNSUPPORTED      the root is not ES256
 *  @retval STW_ERR_BAD_SIGNATURE    the root is not signed by this domain key
 *  @retval STW_ERR_UNTRUSTED        the root's kid names another key
 *  @retval STW_ERR_UNAUTHENTICATED  the root is about another device
 *  @retval STW_ERR_EXPIRED          now is outside [iat - 300 s, exp]
 *  @retval STW_ERR_TAMPERED         leaves and proof do not hash to the signed root */
stw_status_t stw_attr_verify_disclosure(const uint8_t *disclosure, size_t len,
                                        const uint8_t *domain_spki, size_t spki_len,
                                        const uint8_t *expected_device_id, int64_t now,
                                        stw_attr_disclosed_t *out) STW_WUR;

/** The value of the verified leaf (name, authority), or NULL if it was not
 *  disclosed. The pointer lives as long as d. */
const char *stw_attr_disclosed_value(const stw_attr_disclosed_t *d, const char *name,
                                     const char *authority);

#endif
