/* Steward — status codes shared by the device SDK and the daemon. */
#ifndef STEWARD_STATUS_H
#define STEWARD_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Every action returns one of these; STW_OK is 0, failures are negative. */
typedef enum {
  STW_OK = 0,
  STW_ERR_NOMEM = -1,        /**< allocation failed */
  STW_ERR_INVALID = -2,      /**< caller passed an argument that makes no sense */
  STW_ERR_MALFORMED = -3,    /**< input does not parse */
  STW_ERR_TOO_LARGE = -4,    /**< input over its documented limit */
  STW_ERR_CRYPTO = -5,       /**< a crypto operation failed (not a bad signature) */
  STW_ERR_BAD_SIGNATURE = -6,/**< signature or MAC does not verify */
  STW_ERR_UNTRUSTED = -7,    /**< does not chain to a trusted anchor */
  STW_ERR_FORBIDDEN = -8,    /**< authenticated, but policy says no */
  STW_ERR_UNAUTHENTICATED = -9, /**< no acceptable credential presented */
  STW_ERR_NOT_FOUND = -10,   /**< no such record */
  STW_ERR_EXISTS = -11,      /**< record already there (with identical content) */
  STW_ERR_CONFLICT = -12,    /**< record already there with different content */
  STW_ERR_STATE = -13,       /**< lifecycle does not allow this now */
  STW_ERR_IO = -14,          /**< file or socket error */
  STW_ERR_STORE = -15,       /**< the store failed (disk, constraint, corruption) */
  STW_ERR_NETWORK = -16,     /**< no answer, or the transport failed */
  STW_ERR_TIMEOUT = -17,     /**< gave up waiting */
  STW_ERR_EXPIRED = -18,     /**< outside its validity period */
  STW_ERR_REPLAY = -19,      /**< seen before */
  STW_ERR_UNSUPPORTED = -20, /**< algorithm, format or feature not offered */
  STW_ERR_TAMPERED = -21,    /**< integrity check failed (hash chain, digest) */
  STW_ERR_BUSY = -22,        /**< too many requests; retry later */
} stw_status_t;

/** A short English name for a status ("forbidden"); never NULL, static storage. */
const char *stw_status_str(stw_status_t status);

#ifdef __cplusplus
}
#endif
#endif
