/* security.txt (RFC 9116): where and how to report a vulnerability, as the
 * HTTP side serves it at /.well-known/security.txt and `steward admin
 * security-txt` prints it. Every value is checked, so no setting can add a
 * line (a field) of its own. */
#include "vuln/vuln.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pki.h"

#define VALUE_MAX 255
#define DAY 86400

/* One line's worth of printable ASCII (RFC 9116 fields are single lines). */
static bool value_ok(const char *s)
{
  size_t len = s != NULL ? strnlen(s, VALUE_MAX + 1) : 0;
  if (len == 0 || len > VALUE_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return false;
  return true;
}

/* An absolute URI without spaces; a web URI only over https (RFC 9116 2.5). */
static bool uri_ok(const char *s)
{
  if (!value_ok(s) || strchr(s, ' ') != NULL)
    return false;
  size_t scheme = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
  if (scheme == 0 || s[scheme] != ':' || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    return false;
  return !(scheme == 4 && strncmp(s, "http", 4) == 0);
}

/* "en" or "en, de, fr": language tags, letters, digits and hyphens. */
static bool languages_ok(const char *s)
{
  if (!value_ok(s))
    return false;
  const char *p = s;
  while (*p) {
    size_t tag = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
    if (tag == 0 || tag > 35)
      return false;
    p += tag;
    if (*p == '\0')
      break;
    if (*p++ != ',')
      return false;
    p += strspn(p, " ");
  }
  return true;
}

/* The domain name as the host of the default URIs. */
static bool host_ok(const char *s)
{
  size_t len = s != NULL ? strnlen(s, STW_NAME_MAX) : 0;
  return len > 0 && len < STW_NAME_MAX && s[0] != '.' && s[0] != '-' &&
         strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == len;
}

static stw_status_t line(stw_buf_t *out, const char *field, const char *value)
{
  char text[VALUE_MAX + 64];
  int n = snprintf(text, sizeof(text), "%s: %s\n", field, value);
  if (n < 0 || (size_t)n >= sizeof(text))
    return STW_ERR_INVALID;
  return stw_buf_append(out, text, (size_t)n);
}

stw_status_t stw_security_txt(const stw_security_txt_opts_t *o, int64_t now, stw_buf_t *out)
{
  if (o == NULL || out == NULL)
    return STW_ERR_INVALID;
  bool need_host = o->contact == NULL || o->policy == NULL || o->canonical == NULL;
  if (need_host && !host_ok(o->domain_name))
    return STW_ERR_INVALID;
  /* A given value must fit as it is: never cut one short and publish that. */
  if ((o->contact != NULL && !value_ok(o->contact)) || (o->policy != NULL && !value_ok(o->policy)) ||
      (o->canonical != NULL && !value_ok(o->canonical)))
    return STW_ERR_INVALID;
  char contact[VALUE_MAX + 1], policy[VALUE_MAX + 1], canonical[VALUE_MAX + 1];
  if (o->contact != NULL)
    snprintf(contact, sizeof(contact), "%s", o->contact);
  else
    snprintf(contact, sizeof(contact), "mailto:security@%s", o->domain_name);
  if (o->policy != NULL)
    snprintf(policy, sizeof(policy), "%s", o->policy);
  else
    snprintf(policy, sizeof(policy), "https://%s/security-policy", o->domain_name);
  if (o->canonical != NULL)
    snprintf(canonical, sizeof(canonical), "%s", o->canonical);
  else
    snprintf(canonical, sizeof(canonical), "https://%s/.well-known/security.txt", o->domain_name);
  const char *languages = o->languages != NULL ? o->languages : "en";
  if (!uri_ok(contact) || !uri_ok(policy) || !uri_ok(canonical) || strncmp(canonical, "https://", 8) != 0 ||
      !languages_ok(languages) || (o->coap_contact != NULL && !uri_ok(o->coap_contact)))
    return STW_ERR_INVALID;
  int64_t expires = o->expires != 0 ? o->expires : now + (int64_t)STW_SECURITY_TXT_DAYS * DAY;
  if (expires <= now)
    return STW_ERR_INVALID;
  time_t t = (time_t)expires;
  struct tm tm;
  char when[32];
  if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return STW_ERR_INVALID;

  if (out->data == NULL && out->max == 0)
    stw_buf_init(out, STW_SECURITY_TXT_MAX);
  out->len = 0;
  stw_status_t st;
  static const char head[] = "# How to report a security vulnerability (RFC 9116), written by steward\n";
  if ((st = stw_buf_append(out, head, sizeof(head) - 1)) != STW_OK || (st = line(out, "Contact", contact)) != STW_OK ||
      (o->coap_contact != NULL && (st = line(out, "Contact", o->coap_contact)) != STW_OK) ||
      (st = line(out, "Expires", when)) != STW_OK || (st = line(out, "Policy", policy)) != STW_OK ||
      (st = line(out, "Preferred-Languages", languages)) != STW_OK || (st = line(out, "Canonical", canonical)) != STW_OK)
    out->len = 0;
  return st;
}
