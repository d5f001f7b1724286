/* Query parameters of a CoRE Resource Directory request (RFC 9176): the
 * registration parameters of §5 and the lookup filters of §7, from the
 * Uri-Query options of a CoAP request, percent-decoded (RFC 3986 §2.1).
 *
 * Ownership: stw_rd_query_t holds fixed-size, NUL-terminated copies of every
 * name and value; nothing points into the caller's options and nothing is
 * allocated. Limits and rules: docs/formats-linkformat.md. */
#ifndef STW_LIB_RDQUERY_H
#define STW_LIB_RDQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define STW_RDQ_OPTIONS_MAX 32     /**< Uri-Query options per request */
#define STW_RDQ_NAME_MAX 63        /**< bytes of a decoded parameter name */
#define STW_RDQ_VALUE_MAX 255      /**< bytes of a decoded value */
#define STW_RDQ_EP_MAX 63          /**< ep and d: RFC 9176 §5 caps them at 63 bytes */
#define STW_RDQ_FILTERS_MAX 16     /**< attribute filters / extra endpoint attributes */
#define STW_RDQ_LT_MIN 60u         /**< lifetime bounds, seconds: a minute .. a year */
#define STW_RDQ_LT_MAX (365u * 86400u)
#define STW_RDQ_LT_DEFAULT 90000u  /**< RFC 9176 default when lt is absent */
#define STW_RDQ_COUNT_MAX 1000u    /**< results per lookup page */
#define STW_RDQ_QUERY_MAX 2048     /**< bytes of a whole query string (parse_string) */

/** A name=value filter (lookup) or extra endpoint attribute (registration). */
typedef struct {
  char name[STW_RDQ_NAME_MAX + 1];    /**< lower-case */
  char value[STW_RDQ_VALUE_MAX + 1];  /**< "" when has_value is false */
  bool has_value;                     /**< false for a bare `name` option */
} stw_rd_filter_t;

typedef struct {
  /* §5 registration parameters; ep and d are lookup filters too. Each may
   * appear once; has_* tells whether it did. */
  bool has_ep, has_d, has_lt, has_base, has_et;
  char ep[STW_RDQ_EP_MAX + 1];
  char d[STW_RDQ_EP_MAX + 1];
  uint32_t lt;                        /**< STW_RDQ_LT_DEFAULT when absent */
  char base[STW_RDQ_VALUE_MAX + 1];
  char et[STW_RDQ_VALUE_MAX + 1];
  /* §7 paging; each may appear once */
  bool has_page, has_count;
  uint32_t page;                      /**< 0 when absent */
  uint32_t count;                     /**< 1..STW_RDQ_COUNT_MAX when present */
  /* Everything else (href, rt, if, and any attribute), in order, repeats allowed. */
  size_t n_filters;
  stw_rd_filter_t filters[STW_RDQ_FILTERS_MAX];
} stw_rd_query_t;

/**
 * Parse Uri-Query option values, each "name=value" or "name" (split at the
 * first '='; name and value then percent-decoded separately).
 * @param[in]  options  n option values, not NUL-terminated
 * @param[in]  lens     their lengths
 * @param[out] out      the parameters; zeroed (lt defaulted) on failure too
 * @retval STW_OK
 * @retval STW_ERR_MALFORMED  empty option or name, bad %-escape, control character,
 *                            a name outside RFC 5987 attr-chars, a parameter that needs
 *                            a value without one, a number that is not decimal digits,
 *                            a registration or paging parameter given twice
 * @retval STW_ERR_INVALID    lt outside STW_RDQ_LT_MIN..STW_RDQ_LT_MAX, count 0,
 *                            page over 2^32-1
 * @retval STW_ERR_TOO_LARGE  more than STW_RDQ_OPTIONS_MAX options or STW_RDQ_FILTERS_MAX
 *                            filters, a name or value over its limit, count over
 *                            STW_RDQ_COUNT_MAX
 */
stw_status_t stw_rd_query_parse(const char *const *options, const size_t *lens, size_t n,
                                stw_rd_query_t *out) STW_WUR;

/**
 * The same from a query string "ep=a&lt=60" (no leading '?'), split on '&';
 * for tests and the SDK. len 0 is an empty query. Over STW_RDQ_QUERY_MAX bytes:
 * STW_ERR_TOO_LARGE.
 */
stw_status_t stw_rd_query_parse_string(const char *query, size_t len, stw_rd_query_t *out) STW_WUR;

/** The filter called name (lower-case), the nth of them, or NULL. */
const stw_rd_filter_t *stw_rd_query_filter(const stw_rd_query_t *q, const char *name, size_t nth);

#endif
