/* CoRE Link Format (RFC 6690): a bounded parser, a canonical writer and the
 * matching helpers a Resource Directory (RFC 9176) needs for lookups.
 *
 * Ownership: a stw_links_t owns every string it hands out. Parsing copies the
 * decoded target, names and values into the structure's own arena, so results
 * outlive the input buffer. Strings are stored as offsets, so a stw_links_t may
 * be copied with memcpy or plain assignment. Returned `const char *` point into
 * the stw_links_t and stay valid while it is neither modified nor freed.
 * Nothing here allocates, except stw_links_write() growing the caller's
 * stw_buf_t (bounded by its max).
 *
 * Accepted syntax and limits are in docs/formats-linkformat.md. */
#ifndef STW_LIB_LINKFORMAT_H
#define STW_LIB_LINKFORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define STW_LINKS_MAX 64           /**< links per payload */
#define STW_LINK_ATTRS_MAX 16      /**< attributes per link */
#define STW_LINKS_PAYLOAD_MAX 4096 /**< bytes of link format per payload */
#define STW_LINK_TARGET_MAX 255    /**< bytes between < and > */
#define STW_LINK_NAME_MAX 63       /**< bytes of an attribute name */
#define STW_LINK_VALUE_MAX 255     /**< bytes of a decoded attribute value */

/* Internal layout; use the accessors below. Offsets index links->arena,
 * where every string is NUL-terminated. */
typedef struct {
  uint16_t name;
  uint16_t value;     /**< meaningful only when has_value */
  uint16_t value_len;
  uint8_t name_len;
  bool has_value;     /**< false for a bare attribute such as `obs` */
} stw_link_attr_t;

typedef struct {
  uint16_t target;
  uint16_t target_len;
  uint8_t n_attrs;
  stw_link_attr_t attrs[STW_LINK_ATTRS_MAX];
} stw_link_t;

typedef struct {
  size_t count;
  stw_link_t links[STW_LINKS_MAX];
  size_t arena_used;
  /* Decoded strings plus their NULs never take more room than their encoded
   * form, so one payload's worth of arena always holds a parsed payload. */
  char arena[STW_LINKS_PAYLOAD_MAX];
} stw_links_t;

/** Empty the set (no links). */
void stw_links_init(stw_links_t *links);

/**
 * Parse a link-format payload.
 * @param[in]  text  the payload, not NUL-terminated; may be NULL when len is 0
 * @param[in]  len   its length; 0 gives an empty set
 * @param[out] out   the links; on failure it is left empty
 * @retval STW_OK
 * @retval STW_ERR_TOO_LARGE  payload over STW_LINKS_PAYLOAD_MAX, too many links or
 *                            attributes, a target, name or value over its limit
 * @retval STW_ERR_MALFORMED  anything that is not link format (see the docs)
 */
stw_status_t stw_links_parse(const char *text, size_t len, stw_links_t *out) STW_WUR;

/**
 * Append the canonical link format of links to out: `<target>;name=value,...`,
 * names lower-case, a value quoted when it is empty or not a ptoken (and always
 * for anchor and title, as RFC 6690 requires). If out already holds bytes, a
 * ',' is written first, so the links of several registrations can be joined
 * into one payload. On failure out may hold a partial append.
 * @retval STW_ERR_TOO_LARGE  out->max reached
 * @retval STW_ERR_NOMEM
 */
stw_status_t stw_links_write(const stw_links_t *links, stw_buf_t *out) STW_WUR;

/**
 * Build links by hand (RD lookup answers). Inputs are checked as the parser
 * checks them, so what is built writes out as link format that parses back.
 * stw_links_add() appends a link; stw_links_add_attr() adds an attribute to the
 * last link (value NULL: an attribute without a value). Names are lower-cased.
 * @retval STW_ERR_TOO_LARGE  a limit above, or the arena is full
 * @retval STW_ERR_MALFORMED  a character not allowed there
 * @retval STW_ERR_INVALID    stw_links_add_attr() with no link yet
 */
stw_status_t stw_links_add(stw_links_t *links, const char *target, size_t target_len) STW_WUR;
stw_status_t stw_links_add_attr(stw_links_t *links, const char *name, size_t name_len,
                                const char *value, size_t value_len) STW_WUR;

/** True when both sets hold the same links, attributes and values in the same order. */
bool stw_links_equal(const stw_links_t *a, const stw_links_t *b);

/** Number of links. */
size_t stw_links_count(const stw_links_t *links);
/** Target of link i (i < count), NUL-terminated; *len gets its length if len is not NULL. */
const char *stw_link_target(const stw_links_t *links, size_t i, size_t *len);
/** Number of attributes of link i. */
size_t stw_link_attr_count(const stw_links_t *links, size_t i);
/** Attribute j of link i: its name, and its value or NULL when it has none. */
const char *stw_link_attr_name(const stw_links_t *links, size_t i, size_t j);
const char *stw_link_attr_value(const stw_links_t *links, size_t i, size_t j);

/**
 * The value of the nth attribute called name (compared case-insensitively) on link i.
 * @param[out] value  set to the value, or to NULL when that attribute has no value
 * @retval true when there is such an attribute
 */
bool stw_link_find_attr(const stw_links_t *links, size_t i, const char *name, size_t nth,
                        const char **value);

/**
 * RFC 9176 §7 value filter: true when value equals pattern, or when pattern ends
 * with '*' and value starts with what precedes it ("*" alone matches anything).
 * Both are NUL-terminated strings the caller has already bounded.
 */
bool stw_match_value(const char *pattern, const char *value);

/**
 * Does link i carry attribute name with a value matching pattern (stw_match_value)?
 * For rt, if and rel (relation-types) a value is a space-separated list and
 * matches if any element matches (or the whole value does). Every occurrence of
 * the attribute is tried. A bare attribute has the value "". pattern NULL asks
 * only whether the attribute is present.
 */
bool stw_link_attr_matches(const stw_links_t *links, size_t i, const char *name, const char *pattern);

#endif
