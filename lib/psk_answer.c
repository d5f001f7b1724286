#include "psk_answer.h"

#include <string.h>

stw_status_t stw_psk_answer_encode(const char *identity, const uint8_t key[STW_PSK_KEY_LEN], const char *name,
                                   uint8_t *out, size_t cap, size_t *len)
{
  size_t id_len = strlen(identity);
  size_t name_len = strlen(name);
  if (id_len == 0 || id_len > STW_PSK_IDENTITY_MAX || name_len > STW_PSK_NAME_MAX)
    return STW_ERR_INVALID;
  size_t need = 1 + 1 + 2 + id_len + 1 + 2 + STW_PSK_KEY_LEN + 1 + 2 + name_len;
  if (cap < need)
    return STW_ERR_TOO_LARGE;
  size_t n = 0;
  out[n++] = 0xa3;                 /* map(3) */
  out[n++] = 0x01;                 /* 1: identity */
  out[n++] = 0x78;                 /* tstr, one-byte length */
  out[n++] = (uint8_t)id_len;
  memcpy(out + n, identity, id_len);
  n += id_len;
  out[n++] = 0x02;                 /* 2: key */
  out[n++] = 0x58;                 /* bstr, one-byte length */
  out[n++] = STW_PSK_KEY_LEN;
  memcpy(out + n, key, STW_PSK_KEY_LEN);
  n += STW_PSK_KEY_LEN;
  out[n++] = 0x03;                 /* 3: name */
  out[n++] = 0x78;
  out[n++] = (uint8_t)name_len;
  memcpy(out + n, name, name_len);
  n += name_len;
  *len = n;
  return STW_OK;
}

/* Reads a text/byte string header at in[*pos]; accepts the short and the
 * one-byte length forms, which is all a 63-byte identity or a 32-byte key needs. */
static stw_status_t read_string(const uint8_t *in, size_t len, size_t *pos, uint8_t major,
                                const uint8_t **data, size_t *dlen)
{
  if (*pos >= len || (in[*pos] >> 5) != major)
    return STW_ERR_MALFORMED;
  uint8_t info = in[*pos] & 0x1f;
  (*pos)++;
  size_t n;
  if (info < 24) {
    n = info;
  } else if (info == 24) {
    if (*pos >= len)
      return STW_ERR_MALFORMED;
    n = in[(*pos)++];
  } else {
    return STW_ERR_MALFORMED;
  }
  if (n > len - *pos)
    return STW_ERR_MALFORMED;
  *data = in + *pos;
  *dlen = n;
  *pos += n;
  return STW_OK;
}

stw_status_t stw_psk_answer_decode(const uint8_t *in, size_t len, char *identity,
                                   uint8_t key[STW_PSK_KEY_LEN], char *name)
{
  size_t pos = 0;
  const uint8_t *id = NULL, *k = NULL, *nm = NULL;
  size_t id_len = 0, k_len = 0, nm_len = 0;
  if (len > STW_PSK_ANSWER_MAX || len < 1 || in[pos++] != 0xa3)
    return STW_ERR_MALFORMED;
  if (pos >= len || in[pos++] != 0x01)
    return STW_ERR_MALFORMED;
  if (read_string(in, len, &pos, 3, &id, &id_len) != STW_OK)
    return STW_ERR_MALFORMED;
  if (pos >= len || in[pos++] != 0x02)
    return STW_ERR_MALFORMED;
  if (read_string(in, len, &pos, 2, &k, &k_len) != STW_OK)
    return STW_ERR_MALFORMED;
  if (pos >= len || in[pos++] != 0x03)
    return STW_ERR_MALFORMED;
  if (read_string(in, len, &pos, 3, &nm, &nm_len) != STW_OK)
    return STW_ERR_MALFORMED;
  if (pos != len || id_len == 0 || id_len > STW_PSK_IDENTITY_MAX || k_len != STW_PSK_KEY_LEN ||
      nm_len > STW_PSK_NAME_MAX)
    return STW_ERR_MALFORMED;
  if (memchr(id, '\0', id_len) != NULL || (nm_len > 0 && memchr(nm, '\0', nm_len) != NULL))
    return STW_ERR_MALFORMED;
  memcpy(identity, id, id_len);
  identity[id_len] = '\0';
  memcpy(name, nm, nm_len);
  name[nm_len] = '\0';
  memcpy(key, k, STW_PSK_KEY_LEN);
  return STW_OK;
}
