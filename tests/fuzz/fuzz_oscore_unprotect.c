/* Fuzz target: OSCORE unprotect (lib/oscore.c) with the fixed security
 * context of RFC 8613 Appendix C.1 (client and server). Input byte 0
 * picks the mode:
 *   even: byte 1 is the OSCORE option length L, then L option bytes, then
 *         the ciphertext: verified as a request by the server and as a
 *         response (to the request of C.4) by the client;
 *   odd:  the rest is a plaintext: if it parses, the client protects it
 *         and the server must get back exactly the same message.
 * Each input starts from fresh copies of the contexts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oscore.h"

static stw_oscore_ctx_t base_client, base_server;
static bool derived;

static void derive_once(void)
{
  if (derived)
    return;
  /* RFC 8613 Appendix C.1 inputs. */
  static const uint8_t secret[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                   0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
  static const uint8_t salt[] = {0x9e, 0x7c, 0xa9, 0x22, 0x23, 0x78, 0x63, 0x40};
  static const uint8_t id01[] = {0x01};
  stw_oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof(secret),
                           .master_salt = salt, .master_salt_len = sizeof(salt),
                           .sender_id = NULL, .sender_id_len = 0, .recipient_id = id01, .recipient_id_len = 1};
  if (stw_oscore_ctx_derive(&base_client, &p) != STW_OK)
    abort();
  p.sender_id = id01;
  p.sender_id_len = 1;
  p.recipient_id = NULL;
  p.recipient_id_len = 0;
  if (stw_oscore_ctx_derive(&base_server, &p) != STW_OK)
    abort();
  derived = true;
}

static void inside(const uint8_t *buf, size_t size, const uint8_t *p, size_t len)
{
  if (len > 0 && (p < buf || p > buf + size || len > (size_t)(buf + size - p)))
    abort();
}

static void wire_mode(const uint8_t *data, size_t size)
{
  if (size < 1)
    return;
  size_t option_len = data[0];
  if (option_len > size - 1)
    return;
  const uint8_t *option = data + 1, *ct = data + 1 + option_len;
  size_t ct_len = size - 1 - option_len;
  stw_oscore_option_t opt;
  if (stw_oscore_option_parse(option, option_len, &opt) != STW_OK)
    return;
  static uint8_t pt[STW_OSCORE_PLAINTEXT_MAX];
  stw_oscore_msg_t msg;
  stw_oscore_request_t binding;
  stw_oscore_ctx_t server = base_server;
  stw_status_t st = stw_oscore_unprotect_request(&server, &opt, ct, ct_len, pt, sizeof(pt), &msg, &binding);
  if (st == STW_OK) {
    inside(pt, sizeof(pt), msg.options, msg.options_len);
    inside(pt, sizeof(pt), msg.payload, msg.payload_len);
    if (stw_oscore_unprotect_request(&server, &opt, ct, ct_len, pt, sizeof(pt), &msg, &binding) != STW_ERR_REPLAY)
      abort();  /* the same request twice */
  }
  stw_oscore_ctx_t client = base_client;
  const stw_oscore_request_t c4 = {.kid_len = 0, .piv = {0x14}, .piv_len = 1};
  if (stw_oscore_unprotect_response(&client, &c4, &opt, ct, ct_len, pt, sizeof(pt), &msg) == STW_OK) {
    inside(pt, sizeof(pt), msg.options, msg.options_len);
    inside(pt, sizeof(pt), msg.payload, msg.payload_len);
  }
  stw_oscore_ctx_wipe(&server);
  stw_oscore_ctx_wipe(&client);
}

static void roundtrip_mode(const uint8_t *data, size_t size)
{
  stw_oscore_msg_t msg;
  if (stw_oscore_plaintext_parse(data, size, &msg) != STW_OK)
    return;
  stw_oscore_ctx_t client = base_client, server = base_server;
  client.ssn = size;  /* vary the Partial IV a little */
  static uint8_t ct[STW_OSCORE_PLAINTEXT_MAX + STW_OSCORE_TAG_LEN], pt[STW_OSCORE_PLAINTEXT_MAX];
  uint8_t option[STW_OSCORE_OPTION_MAX];
  size_t option_len, ct_len;
  stw_oscore_request_t sent, received;
  stw_status_t st = stw_oscore_protect_request(&client, &msg, false, option, sizeof(option), &option_len, ct,
                                               sizeof(ct), &ct_len, &sent);
  if (st == STW_ERR_TOO_LARGE)
    goto out;
  if (st != STW_OK)
    abort();
  stw_oscore_option_t opt;
  stw_oscore_msg_t got;
  if (stw_oscore_option_parse(option, option_len, &opt) != STW_OK ||
      stw_oscore_unprotect_request(&server, &opt, ct, ct_len, pt, sizeof(pt), &got, &received) != STW_OK)
    abort();
  if (got.code != msg.code || got.options_len != msg.options_len || got.payload_len != msg.payload_len ||
      memcmp(got.options, msg.options, msg.options_len) != 0 ||
      (msg.payload_len > 0 && memcmp(got.payload, msg.payload, msg.payload_len) != 0) ||
      memcmp(&sent, &received, sizeof(sent)) != 0)
    abort();
out:
  stw_oscore_ctx_wipe(&server);
  stw_oscore_ctx_wipe(&client);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  derive_once();
  if (size == 0)
    return 0;
  if (data[0] & 1)
    roundtrip_mode(data + 1, size - 1);
  else
    wire_mode(data + 1, size - 1);
  return 0;
}
