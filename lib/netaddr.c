/* Listen addresses: parse "host:port", read back a bound port. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

stw_status_t stw_listen_parse(const char *listen, struct sockaddr *sa, socklen_t *len)
{
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
    return STW_ERR_INVALID;
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
    return STW_ERR_INVALID;
  const char *h = host;
  if (host[0] == '[') { /* [::1]:5684 */
    size_t n = strlen(host);
    if (n < 2 || host[n - 1] != ']')
      return STW_ERR_INVALID;
    host[n - 1] = '\0';
    h = host + 1;
  }
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
  struct addrinfo *res = NULL;
  if (getaddrinfo(h, NULL, &hints, &res) != 0 || res == NULL)
    return STW_ERR_INVALID;
  stw_status_t st = STW_ERR_INVALID;
  if (res->ai_addrlen <= *len) {
    if (res->ai_family == AF_INET)
      ((struct sockaddr_in *)res->ai_addr)->sin_port = htons((uint16_t)port);
    else
      ((struct sockaddr_in6 *)res->ai_addr)->sin6_port = htons((uint16_t)port);
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    st = STW_OK;
  }
  freeaddrinfo(res);
  return st;
}

uint16_t stw_addr_text_port(const char *text)
{
  const char *space = strchr(text, ' ');
  size_t n = space ? (size_t)(space - text) : strlen(text);
  const char *colon = NULL;
  for (size_t i = 0; i < n; i++)
    if (text[i] == ':')
      colon = text + i;
  if (colon == NULL)
    return 0;
  long port = strtol(colon + 1, NULL, 10);
  return port > 0 && port <= 65535 ? (uint16_t)port : 0;
}
