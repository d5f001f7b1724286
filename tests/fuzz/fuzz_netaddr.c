/* Fuzz target: listen addresses (lib/netaddr.c), "host:port" and "[v6]:port"
 * from the command line and configuration, and the port read back from
 * libcoap's printed endpoint. What parses is an IPv4 or IPv6 address of
 * its family's size whose port is the one written after the last colon. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

#define TEXT_MAX 512  /* an address line; longer ones are cut, not refused */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char text[TEXT_MAX + 1];
  size_t n = size < TEXT_MAX ? size : TEXT_MAX;
  memcpy(text, data, n);
  text[n] = '\0';

  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  if (stw_listen_parse(text, (struct sockaddr *)&ss, &len) == STW_OK) {
    const char *colon = strrchr(text, ':');
    long port = strtol(colon + 1, NULL, 10);
    if (ss.ss_family == AF_INET) {
      const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
      if (len != sizeof(*in) || ntohs(in->sin_port) != port)
        abort();
    } else if (ss.ss_family == AF_INET6) {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
      if (len != sizeof(*in6) || ntohs(in6->sin6_port) != port)
        abort();
    } else {
      abort();
    }
  }
  /* A capacity too small for any address is refused, never overrun. */
  socklen_t small_len = sizeof(struct sockaddr_in) - 1;
  if (stw_listen_parse(text, (struct sockaddr *)&ss, &small_len) == STW_OK)
    abort();

  (void)stw_addr_text_port(text);
  return 0;
}
