/* lib/oscore.c: RFC 8613 Appendix C.1-C.8 byte for byte (read from
 * tests/vectors/rfc8613-c*.txt), then what the vectors do not cover:
 * replay detection and window sliding, the Echo rebuild after a reboot,
 * Sender Sequence Number persistence in steps and its end at 2^40 - 1,
 * tampering, unknown kid and kid context, and malformed option values;
 * notifications under the server's own Partial IV (4.1.3.5.2); the
 * thing's saved context file (B.1.1) and CoAP unsigned option values. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oscore.h"
#include "cbor_reader.h"
#include "oscore_client_internal.h"

/* ---- vector files: "name = hex" lines, '#' comments ---- */

#define VEC_ENTRIES_MAX 48

typedef struct {
  char name[48];
  uint8_t *value;
  size_t len;
} vec_entry_t;

typedef struct {
  const char *file;
  vec_entry_t entries[VEC_ENTRIES_MAX];
  size_t count;
} vec_t;

static char *trim(char *s, char *end)
{
  while (s < end && (*s == ' ' || *s == '\t'))
    s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    end--;
  *end = '\0';
  return s;
}

static void vec_load(vec_t *v, const char *file)
{
  memset(v, 0, sizeof(*v));
  v->file = file;
  const char *root = getenv("STW_SOURCE_DIR");
  assert_non_null(root);
  char path[4096];
  snprintf(path, sizeof(path), "%s/tests/vectors/%s", root, file);
  size_t len;
  char *text = (char *)stw_test_read_file(path, &len);
  char *line = text, *text_end = text + len;
  while (line < text_end) {
    char *nl = memchr(line, '\n', (size_t)(text_end - line));
    char *line_end = nl != NULL ? nl : text_end;
    char *eq = memchr(line, '=', (size_t)(line_end - line));
    if (line[0] != '#' && eq != NULL) {
      char *name = trim(line, eq);
      char *hex = trim(eq + 1, line_end);
      size_t hex_len = strlen(hex);
      assert_true(v->count < VEC_ENTRIES_MAX);
      assert_true(hex_len % 2 == 0);
      vec_entry_t *e = &v->entries[v->count++];
      assert_true(strlen(name) < sizeof(e->name));
      memcpy(e->name, name, strlen(name) + 1);
      e->len = hex_len / 2;
      e->value = malloc(e->len + 1);
      assert_non_null(e->value);
      assert_int_equal(stw_hex_decode(hex, hex_len, e->value, e->len), STW_OK);
    }
    line = line_end + 1;
  }
  free(text);
}

static const uint8_t *vec_get(const vec_t *v, const char *name, size_t *len)
{
  for (size_t i = 0; i < v->count; i++) {
    if (strcmp(v->entries[i].name, name) == 0) {
      *len = v->entries[i].len;
      return v->entries[i].value;
    }
  }
  fail_msg("%s has no %s", v->file, name);
  return NULL;
}

static void vec_free(vec_t *v)
{
  for (size_t i = 0; i < v->count; i++)
    free(v->entries[i].value);
  v->count = 0;
}

/* Compare a computed byte string with a named vector entry. */
static void expect_bytes(const vec_t *v, const char *name, const uint8_t *got, size_t got_len)
{
  size_t len;
  const uint8_t *want = vec_get(v, name, &len);
  if (got_len != len)
    fail_msg("%s %s: %zu bytes, want %zu", v->file, name, got_len, len);
  if (len > 0)
    assert_memory_equal(got, want, len);
}

static uint64_t vec_uint(const vec_t *v, const char *name)
{
  size_t len;
  const uint8_t *p = vec_get(v, name, &len);
  uint64_t x = 0;
  for (size_t i = 0; i < len; i++)
    x = x << 8 | p[i];
  return x;
}

/* The context of one side ("client" or "server") of a C.1-C.3 file. */
static void derive_side(const vec_t *v, bool server, stw_oscore_ctx_t *ctx)
{
  stw_oscore_params_t p = {0};
  p.master_secret = vec_get(v, "master_secret", &p.master_secret_len);
  p.master_salt = vec_get(v, "master_salt", &p.master_salt_len);
  p.sender_id = vec_get(v, server ? "server_sender_id" : "client_sender_id", &p.sender_id_len);
  p.recipient_id = vec_get(v, server ? "server_recipient_id" : "client_recipient_id", &p.recipient_id_len);
  for (size_t i = 0; i < v->count; i++) {
    if (strcmp(v->entries[i].name, "id_context") == 0) {
      p.has_id_context = true;
      p.id_context = v->entries[i].value;
      p.id_context_len = v->entries[i].len;
    }
  }
  assert_int_equal(stw_oscore_ctx_derive(ctx, &p), STW_OK);
}

static void derive_pair(const char *file, stw_oscore_ctx_t *client, stw_oscore_ctx_t *server)
{
  vec_t v;
  vec_load(&v, file);
  derive_side(&v, false, client);
  derive_side(&v, true, server);
  vec_free(&v);
}

/* ---- C.1-C.3: context derivation ---- */

static void check_derivation_side(const vec_t *v, bool server)
{
  const char *side = server ? "server" : "client";
  char name[64];
  stw_oscore_ctx_t ctx;
  derive_side(v, server, &ctx);

  /* The info structures, byte for byte. */
  uint8_t info[STW_OSCORE_INFO_MAX];
  size_t info_len;
  const uint8_t *ctx_id = NULL;
  size_t ctx_id_len = 0;
  bool has_ctx = false;
  for (size_t i = 0; i < v->count; i++) {
    if (strcmp(v->entries[i].name, "id_context") == 0) {
      has_ctx = true;
      ctx_id = v->entries[i].value;
      ctx_id_len = v->entries[i].len;
    }
  }
  assert_int_equal(stw_oscore_info_encode(ctx.sender_id, ctx.sender_id_len, has_ctx, ctx_id, ctx_id_len, false, info,
                                          sizeof(info), &info_len), STW_OK);
  snprintf(name, sizeof(name), "%s_info_sender_key", side);
  expect_bytes(v, name, info, info_len);
  assert_int_equal(stw_oscore_info_encode(ctx.recipient_id, ctx.recipient_id_len, has_ctx, ctx_id, ctx_id_len, false,
                                          info, sizeof(info), &info_len), STW_OK);
  snprintf(name, sizeof(name), "%s_info_recipient_key", side);
  expect_bytes(v, name, info, info_len);
  assert_int_equal(stw_oscore_info_encode(NULL, 0, has_ctx, ctx_id, ctx_id_len, true, info, sizeof(info), &info_len),
                   STW_OK);
  snprintf(name, sizeof(name), "%s_info_common_iv", side);
  expect_bytes(v, name, info, info_len);

  /* The outputs. */
  snprintf(name, sizeof(name), "%s_sender_key", side);
  expect_bytes(v, name, ctx.sender_key, sizeof(ctx.sender_key));
  snprintf(name, sizeof(name), "%s_recipient_key", side);
  expect_bytes(v, name, ctx.recipient_key, sizeof(ctx.recipient_key));
  snprintf(name, sizeof(name), "%s_common_iv", side);
  expect_bytes(v, name, ctx.common_iv, sizeof(ctx.common_iv));

  /* Nonces for Partial IV 0 on both sides. */
  static const uint8_t piv0[] = {0x00};
  uint8_t nonce[STW_OSCORE_NONCE_LEN];
  assert_int_equal(stw_oscore_nonce(ctx.common_iv, ctx.sender_id, ctx.sender_id_len, piv0, 1, nonce), STW_OK);
  snprintf(name, sizeof(name), "%s_sender_nonce", side);
  expect_bytes(v, name, nonce, sizeof(nonce));
  assert_int_equal(stw_oscore_nonce(ctx.common_iv, ctx.recipient_id, ctx.recipient_id_len, piv0, 1, nonce), STW_OK);
  snprintf(name, sizeof(name), "%s_recipient_nonce", side);
  expect_bytes(v, name, nonce, sizeof(nonce));
  stw_oscore_ctx_wipe(&ctx);
}

static void check_derivation(const char *file)
{
  vec_t v;
  vec_load(&v, file);
  check_derivation_side(&v, false);
  check_derivation_side(&v, true);
  vec_free(&v);
}

static void test_c1_derivation_with_salt(void **state) { (void)state; check_derivation("rfc8613-c1.txt"); }
static void test_c2_derivation_without_salt(void **state) { (void)state; check_derivation("rfc8613-c2.txt"); }
static void test_c3_derivation_with_id_context(void **state) { (void)state; check_derivation("rfc8613-c3.txt"); }

/* ---- C.4-C.6: protected requests ---- */

static const uint8_t uri_path_tv1[] = {'t', 'v', '1'};

/* GET /tv1 as (code, Class E options): Uri-Host stays outside (Class U). */
static void get_tv1(uint8_t *options, size_t cap, stw_oscore_msg_t *msg)
{
  size_t len = 0;
  uint16_t last = 0;
  assert_int_equal(stw_oscore_opt_put(options, cap, &len, &last, 11, uri_path_tv1, sizeof(uri_path_tv1)), STW_OK);
  *msg = (stw_oscore_msg_t){.code = 0x01, .options = options, .options_len = len};
}

static void check_request(const char *file, const char *context_file, bool send_kid_context)
{
  vec_t v;
  vec_load(&v, file);
  stw_oscore_ctx_t client, server;
  derive_pair(context_file, &client, &server);
  expect_bytes(&v, "common_iv", client.common_iv, sizeof(client.common_iv));
  expect_bytes(&v, "sender_key", client.sender_key, sizeof(client.sender_key));
  expect_bytes(&v, "sender_id", client.sender_id, client.sender_id_len);

  /* Building blocks first: Partial IV, AAD, nonce, plaintext. */
  uint64_t ssn = vec_uint(&v, "sender_sequence_number");
  assert_int_equal(ssn, 20);
  uint8_t piv[STW_OSCORE_PIV_MAX], aad[STW_OSCORE_AAD_MAX], nonce[STW_OSCORE_NONCE_LEN];
  size_t piv_len, aad_len;
  assert_int_equal(stw_oscore_piv_encode(ssn, piv, &piv_len), STW_OK);
  expect_bytes(&v, "partial_iv", piv, piv_len);
  assert_int_equal(stw_oscore_aad_encode(client.sender_id, client.sender_id_len, piv, piv_len, aad, sizeof(aad),
                                         &aad_len), STW_OK);
  expect_bytes(&v, "aad", aad, aad_len);
  size_t array_len;
  const uint8_t *array = vec_get(&v, "aad_array", &array_len);
  assert_memory_equal(aad + aad_len - array_len, array, array_len);  /* the AAD ends with aad_array */
  assert_int_equal(stw_oscore_nonce(client.common_iv, client.sender_id, client.sender_id_len, piv, piv_len, nonce),
                   STW_OK);
  expect_bytes(&v, "nonce", nonce, sizeof(nonce));

  size_t pt_len;
  const uint8_t *plaintext = vec_get(&v, "plaintext", &pt_len);
  stw_oscore_msg_t parsed;
  assert_int_equal(stw_oscore_plaintext_parse(plaintext, pt_len, &parsed), STW_OK);
  uint8_t options[16];
  stw_oscore_msg_t msg;
  get_tv1(options, sizeof(options), &msg);
  assert_int_equal(parsed.code, msg.code);
  assert_int_equal(parsed.options_len, msg.options_len);
  assert_memory_equal(parsed.options, msg.options, msg.options_len);
  assert_null(parsed.payload);

  /* Protect with SSN 20 and compare option value and ciphertext. */
  client.ssn = ssn;  /* the vector's state: 20 numbers already used */
  uint8_t option[STW_OSCORE_OPTION_MAX], ct[64];
  size_t option_len, ct_len;
  stw_oscore_request_t binding;
  assert_int_equal(stw_oscore_protect_request(&client, &msg, send_kid_context, option, sizeof(option), &option_len,
                                              ct, sizeof(ct), &ct_len, &binding), STW_OK);
  expect_bytes(&v, "oscore_option", option, option_len);
  expect_bytes(&v, "ciphertext", ct, ct_len);
  assert_int_equal(client.ssn, 21);
  /* The protected message ends with the payload marker and the ciphertext. */
  size_t wire_len;
  const uint8_t *wire = vec_get(&v, "protected_request", &wire_len);
  assert_true(wire_len > ct_len);
  assert_int_equal(wire[wire_len - ct_len - 1], 0xff);
  assert_memory_equal(wire + wire_len - ct_len, ct, ct_len);

  /* The server side: parse, choose, verify, decrypt. */
  stw_oscore_option_t opt;
  assert_int_equal(stw_oscore_option_parse(option, option_len, &opt), STW_OK);
  assert_true(stw_oscore_ctx_matches(&server, &opt));
  uint8_t pt[64];
  stw_oscore_msg_t got;
  stw_oscore_request_t server_binding;
  assert_int_equal(stw_oscore_unprotect_request(&server, &opt, ct, ct_len, pt, sizeof(pt), &got, &server_binding),
                   STW_OK);
  assert_memory_equal(pt, plaintext, pt_len);
  assert_int_equal(got.code, 0x01);
  assert_int_equal(got.options_len, msg.options_len);
  assert_memory_equal(&server_binding, &binding, sizeof(binding));
  vec_free(&v);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

static void test_c4_request(void **state) { (void)state; check_request("rfc8613-c4.txt", "rfc8613-c1.txt", false); }
static void test_c5_request(void **state) { (void)state; check_request("rfc8613-c5.txt", "rfc8613-c2.txt", false); }
static void test_c6_request_kid_context(void **state)
{
  (void)state;
  check_request("rfc8613-c6.txt", "rfc8613-c3.txt", true);
}

/* ---- C.7, C.8: protected responses ---- */

static const uint8_t hello[] = "Hello World!";

static void check_response(const char *file, bool with_piv)
{
  vec_t v;
  vec_load(&v, file);
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  expect_bytes(&v, "sender_key", server.sender_key, sizeof(server.sender_key));
  expect_bytes(&v, "sender_id", server.sender_id, server.sender_id_len);
  server.ssn = vec_uint(&v, "sender_sequence_number");

  /* The request of C.4, as both sides keep it. */
  stw_oscore_request_t binding = {0};
  size_t n;
  const uint8_t *p = vec_get(&v, "request_kid", &n);
  memcpy(binding.kid, p, n);
  binding.kid_len = n;
  p = vec_get(&v, "request_piv", &n);
  memcpy(binding.piv, p, n);
  binding.piv_len = n;

  uint8_t aad[STW_OSCORE_AAD_MAX];
  size_t aad_len;
  assert_int_equal(stw_oscore_aad_encode(binding.kid, binding.kid_len, binding.piv, binding.piv_len, aad, sizeof(aad),
                                         &aad_len), STW_OK);
  expect_bytes(&v, "aad", aad, aad_len);

  stw_oscore_msg_t msg = {.code = 0x45, .payload = hello, .payload_len = sizeof(hello) - 1};
  size_t pt_len;
  const uint8_t *plaintext = vec_get(&v, "plaintext", &pt_len);
  stw_oscore_msg_t parsed;
  assert_int_equal(stw_oscore_plaintext_parse(plaintext, pt_len, &parsed), STW_OK);
  assert_int_equal(parsed.code, 0x45);
  assert_int_equal(parsed.options_len, 0);
  assert_int_equal(parsed.payload_len, msg.payload_len);
  assert_memory_equal(parsed.payload, hello, msg.payload_len);

  uint8_t option[STW_OSCORE_OPTION_MAX], ct[64];
  size_t option_len, ct_len;
  assert_int_equal(stw_oscore_protect_response(&server, &binding, &msg, with_piv, option, sizeof(option),
                                               &option_len, ct, sizeof(ct), &ct_len), STW_OK);
  expect_bytes(&v, "oscore_option", option, option_len);
  expect_bytes(&v, "ciphertext", ct, ct_len);
  assert_int_equal(server.ssn, with_piv ? 1 : 0);  /* no Partial IV: no number spent */
  size_t wire_len;
  const uint8_t *wire = vec_get(&v, "protected_response", &wire_len);
  assert_memory_equal(wire + wire_len - ct_len, ct, ct_len);

  uint8_t nonce[STW_OSCORE_NONCE_LEN];
  if (with_piv) {
    expect_bytes(&v, "partial_iv", option + 1, option_len - 1);
    assert_int_equal(stw_oscore_nonce(server.common_iv, server.sender_id, server.sender_id_len, option + 1,
                                      option_len - 1, nonce), STW_OK);
  } else {
    assert_int_equal(stw_oscore_nonce(server.common_iv, binding.kid, binding.kid_len, binding.piv, binding.piv_len,
                                      nonce), STW_OK);
  }
  expect_bytes(&v, "nonce", nonce, sizeof(nonce));

  /* The client verifies it against its request. */
  stw_oscore_option_t opt;
  assert_int_equal(stw_oscore_option_parse(option, option_len, &opt), STW_OK);
  uint8_t pt[64];
  stw_oscore_msg_t got;
  assert_int_equal(stw_oscore_unprotect_response(&client, &binding, &opt, ct, ct_len, pt, sizeof(pt), &got), STW_OK);
  assert_memory_equal(pt, plaintext, pt_len);
  assert_int_equal(got.code, 0x45);

  /* Bound to its request: the same bytes fail for another request. */
  stw_oscore_request_t other = binding;
  other.piv[0] ^= 1;
  assert_int_equal(stw_oscore_unprotect_response(&client, &other, &opt, ct, ct_len, pt, sizeof(pt), &got),
                   STW_ERR_BAD_SIGNATURE);
  vec_free(&v);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

static void test_c7_response(void **state) { (void)state; check_response("rfc8613-c7.txt", false); }
static void test_c8_response_with_piv(void **state) { (void)state; check_response("rfc8613-c8.txt", true); }

/* ---- helpers for the behaviour tests: the C.1 pair ---- */

typedef struct {
  uint8_t option[STW_OSCORE_OPTION_MAX];
  size_t option_len;
  uint8_t ct[64];
  size_t ct_len;
  stw_oscore_request_t binding;
} wire_t;

static void send_request(stw_oscore_ctx_t *client, uint64_t ssn, const stw_oscore_msg_t *msg, wire_t *w)
{
  client->ssn = ssn;
  assert_int_equal(stw_oscore_protect_request(client, msg, false, w->option, sizeof(w->option), &w->option_len,
                                              w->ct, sizeof(w->ct), &w->ct_len, &w->binding), STW_OK);
}

/* Test vector 1's request, protected on client with Sender Sequence Number ssn. */
static void send_tv1(stw_oscore_ctx_t *client, uint64_t ssn, wire_t *w)
{
  uint8_t options[16];
  stw_oscore_msg_t msg;
  get_tv1(options, sizeof(options), &msg);
  send_request(client, ssn, &msg, w);
}

static stw_status_t receive_request(stw_oscore_ctx_t *server, const wire_t *w, stw_oscore_msg_t *msg,
                                    stw_oscore_request_t *binding)
{
  static uint8_t pt[64];
  stw_oscore_option_t opt;
  stw_status_t st = stw_oscore_option_parse(w->option, w->option_len, &opt);
  if (st != STW_OK)
    return st;
  return stw_oscore_unprotect_request(server, &opt, w->ct, w->ct_len, pt, sizeof(pt), msg, binding);
}

static stw_status_t deliver(stw_oscore_ctx_t *client, stw_oscore_ctx_t *server, uint64_t ssn)
{
  stw_oscore_msg_t got;
  wire_t w;
  send_tv1(client, ssn, &w);
  stw_oscore_request_t binding;
  return receive_request(server, &w, &got, &binding);
}

/* ---- replay ---- */

static void test_replay_detected(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  stw_oscore_msg_t got;
  wire_t w;
  send_tv1(&client, 20, &w);
  stw_oscore_request_t binding;
  assert_int_equal(receive_request(&server, &w, &got, &binding), STW_OK);
  assert_int_equal(receive_request(&server, &w, &got, &binding), STW_ERR_REPLAY);
  uint8_t code;
  const char *diag;
  assert_true(stw_oscore_error_reply(STW_ERR_REPLAY, &code, &diag));
  assert_int_equal(code, 0x81);  /* 4.01 */
  assert_string_equal(diag, "Replay detected");
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

static void test_replay_window_slides(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  assert_int_equal(deliver(&client, &server, 100), STW_OK);
  assert_int_equal(deliver(&client, &server, 90), STW_OK);        /* late but inside the window */
  assert_int_equal(deliver(&client, &server, 90), STW_ERR_REPLAY);
  assert_int_equal(deliver(&client, &server, 100), STW_ERR_REPLAY);
  assert_int_equal(deliver(&client, &server, 69), STW_OK);        /* 31 behind: last slot */
  assert_int_equal(deliver(&client, &server, 68), STW_ERR_REPLAY); /* 32 behind: outside */
  assert_int_equal(deliver(&client, &server, 101), STW_OK);
  assert_int_equal(deliver(&client, &server, 90), STW_ERR_REPLAY); /* still marked after the shift */
  assert_int_equal(deliver(&client, &server, 95), STW_OK);
  assert_int_equal(deliver(&client, &server, 200), STW_OK);       /* a jump clears the window */
  assert_int_equal(deliver(&client, &server, 168), STW_ERR_REPLAY);
  assert_int_equal(deliver(&client, &server, 169), STW_OK);
  assert_int_equal(deliver(&client, &server, 169), STW_ERR_REPLAY);
  /* Large Partial IVs: 5 bytes, at the top. */
  assert_int_equal(deliver(&client, &server, STW_OSCORE_SSN_MAX), STW_OK);
  assert_int_equal(deliver(&client, &server, STW_OSCORE_SSN_MAX), STW_ERR_REPLAY);
  assert_int_equal(deliver(&client, &server, STW_OSCORE_SSN_MAX - 1), STW_OK);

  /* The window by itself, starting empty: Partial IV 0 counts. */
  stw_oscore_replay_t w = {0};
  assert_int_equal(stw_oscore_replay_check(&w, 0), STW_OK);
  stw_oscore_replay_update(&w, 0);
  assert_int_equal(stw_oscore_replay_check(&w, 0), STW_ERR_REPLAY);
  for (uint64_t i = 1; i <= 31; i++)
    stw_oscore_replay_update(&w, i);
  assert_int_equal(stw_oscore_replay_check(&w, 0), STW_ERR_REPLAY);
  stw_oscore_replay_update(&w, 32);
  assert_int_equal(stw_oscore_replay_check(&w, 0), STW_ERR_REPLAY);  /* fell out: too old */
  assert_int_equal(w.seen, UINT32_MAX);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

static void test_forged_request_does_not_move_window(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  stw_oscore_msg_t got;
  wire_t forged;
  send_tv1(&client, 5000, &forged);
  forged.ct[0] ^= 0x01;
  stw_oscore_request_t binding;
  assert_int_equal(receive_request(&server, &forged, &got, &binding), STW_ERR_BAD_SIGNATURE);
  assert_false(server.replay.any_seen);
  assert_int_equal(deliver(&client, &server, 200), STW_OK);  /* would be too old had 5000 counted */
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

/* ---- lost replay window and the Echo rebuild (B.1.2) ---- */

static void test_lost_window_needs_echo(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  assert_int_equal(stw_oscore_ctx_resume(&server, 40), STW_OK);  /* the server rebooted */
  assert_true(server.replay.lost);

  uint8_t options[32];
  stw_oscore_msg_t msg, got;
  get_tv1(options, sizeof(options), &msg);
  wire_t first;
  send_request(&client, 20, &msg, &first);
  stw_oscore_request_t binding;
  assert_int_equal(receive_request(&server, &first, &got, &binding), STW_ERR_STATE);
  assert_int_equal(got.code, 0x01);  /* verified and readable, but not to be acted on */
  uint8_t code;
  const char *diag;
  assert_false(stw_oscore_error_reply(STW_ERR_STATE, &code, &diag));

  /* The 4.01 with Echo: a Partial IV is forced even when not asked for. */
  uint8_t echo[STW_OSCORE_ECHO_LEN];
  assert_int_equal(stw_oscore_echo_issue(&server, echo), STW_OK);
  uint8_t resp_options[16];
  size_t resp_options_len = 0;
  uint16_t last = 0;
  assert_int_equal(stw_oscore_opt_put(resp_options, sizeof(resp_options), &resp_options_len, &last,
                                      STW_COAP_OPTION_ECHO, echo, sizeof(echo)), STW_OK);
  stw_oscore_msg_t unauthorized = {.code = 0x81, .options = resp_options, .options_len = resp_options_len};
  wire_t resp;
  assert_int_equal(stw_oscore_protect_response(&server, &binding, &unauthorized, false, resp.option,
                                               sizeof(resp.option), &resp.option_len, resp.ct, sizeof(resp.ct),
                                               &resp.ct_len), STW_OK);
  assert_int_equal(resp.option_len, 2);
  assert_int_equal(resp.option[0], 0x01);
  assert_int_equal(resp.option[1], 40);  /* the resumed Sender Sequence Number */
  stw_oscore_option_t opt;
  assert_int_equal(stw_oscore_option_parse(resp.option, resp.option_len, &opt), STW_OK);
  uint8_t pt[64];
  stw_oscore_msg_t client_got;
  assert_int_equal(stw_oscore_unprotect_response(&client, &first.binding, &opt, resp.ct, resp.ct_len, pt, sizeof(pt),
                                                 &client_got), STW_OK);
  const uint8_t *echo_value;
  size_t echo_len;
  assert_int_equal(stw_oscore_msg_find_option(&client_got, STW_COAP_OPTION_ECHO, &echo_value, &echo_len), STW_OK);
  assert_int_equal(echo_len, sizeof(echo));

  /* The second request carries the Echo back. */
  uint8_t echo_copy[STW_OSCORE_ECHO_LEN];
  memcpy(echo_copy, echo_value, sizeof(echo_copy));
  size_t req_options_len = 0;
  last = 0;
  assert_int_equal(stw_oscore_opt_put(options, sizeof(options), &req_options_len, &last, 11, uri_path_tv1,
                                      sizeof(uri_path_tv1)), STW_OK);
  assert_int_equal(stw_oscore_opt_put(options, sizeof(options), &req_options_len, &last, STW_COAP_OPTION_ECHO,
                                      echo_copy, sizeof(echo_copy)), STW_OK);
  msg.options_len = req_options_len;
  wire_t second;
  send_request(&client, 21, &msg, &second);
  stw_oscore_request_t second_binding;
  assert_int_equal(receive_request(&server, &second, &got, &second_binding), STW_ERR_STATE);
  assert_int_equal(stw_oscore_msg_find_option(&got, STW_COAP_OPTION_ECHO, &echo_value, &echo_len), STW_OK);
  uint8_t wrong[STW_OSCORE_ECHO_LEN];
  memcpy(wrong, echo_value, sizeof(wrong));
  wrong[0] ^= 0x80;
  assert_int_equal(stw_oscore_echo_accept(&server, wrong, sizeof(wrong), &second_binding), STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_oscore_echo_accept(&server, echo_value, 4, &second_binding), STW_ERR_UNAUTHENTICATED);
  assert_int_equal(stw_oscore_echo_accept(&server, echo_value, echo_len, &second_binding), STW_OK);
  assert_false(server.replay.lost);
  assert_int_equal(stw_oscore_echo_accept(&server, echo_value, echo_len, &second_binding), STW_ERR_STATE);

  /* The fresh request's Partial IV is the lower limit now. */
  assert_int_equal(receive_request(&server, &second, &got, &second_binding), STW_ERR_REPLAY);
  assert_int_equal(receive_request(&server, &first, &got, &binding), STW_ERR_REPLAY);
  assert_int_equal(deliver(&client, &server, 3), STW_ERR_REPLAY);
  assert_int_equal(deliver(&client, &server, 22), STW_OK);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

/* ---- Sender Sequence Number: persistence and the end ---- */

typedef struct {
  unsigned calls;
  uint64_t stored;
  stw_status_t answer;
} nv_t;

static stw_status_t nv_persist(void *arg, uint64_t next_allowed)
{
  nv_t *nv = arg;
  nv->calls++;
  if (nv->answer != STW_OK)
    return nv->answer;
  assert_true(next_allowed > nv->stored);  /* the stored bound only grows */
  nv->stored = next_allowed;
  return STW_OK;
}

static uint64_t protect_one(stw_oscore_ctx_t *client, stw_status_t want)
{
  uint8_t options[16];
  stw_oscore_msg_t msg;
  get_tv1(options, sizeof(options), &msg);
  wire_t w;
  w.option_len = 99;
  stw_status_t st = stw_oscore_protect_request(client, &msg, false, w.option, sizeof(w.option), &w.option_len, w.ct,
                                               sizeof(w.ct), &w.ct_len, &w.binding);
  assert_int_equal(st, want);
  if (st != STW_OK)
    return UINT64_MAX;
  uint64_t piv = 0;
  for (size_t i = 0; i < w.binding.piv_len; i++)
    piv = piv << 8 | w.binding.piv[i];
  return piv;
}

static void test_ssn_persisted_in_steps(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  assert_int_equal(stw_oscore_ctx_set_persistence(&client, 0, nv_persist, NULL), STW_ERR_INVALID);
  nv_t nv = {0, 0, STW_OK};
  assert_int_equal(stw_oscore_ctx_set_persistence(&client, 10, nv_persist, &nv), STW_OK);
  uint64_t used_max = 0;
  for (uint64_t i = 0; i < 25; i++) {
    uint64_t piv = protect_one(&client, STW_OK);
    assert_int_equal(piv, i);
    assert_true(piv < nv.stored);  /* every number used was covered before its use */
    used_max = piv;
  }
  assert_int_equal(nv.calls, 3);  /* before 0, 10 and 20 */
  assert_int_equal(nv.stored, 30);

  /* Reboot: a new derivation resumed from the stored bound. */
  stw_oscore_ctx_t rebooted, unused;
  derive_pair("rfc8613-c1.txt", &rebooted, &unused);
  assert_int_equal(stw_oscore_ctx_set_persistence(&rebooted, 10, nv_persist, &nv), STW_OK);
  assert_int_equal(stw_oscore_ctx_resume(&rebooted, nv.stored), STW_OK);
  nv.answer = STW_ERR_IO;  /* the flash write fails: nothing is sent */
  protect_one(&rebooted, STW_ERR_IO);
  assert_int_equal(rebooted.ssn, 30);
  nv.answer = STW_OK;
  uint64_t piv = protect_one(&rebooted, STW_OK);
  assert_true(piv > used_max);
  assert_int_equal(piv, 30);
  assert_int_equal(nv.stored, 40);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
  stw_oscore_ctx_wipe(&rebooted);
  stw_oscore_ctx_wipe(&unused);
}

static void test_ssn_exhaustion(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  nv_t nv = {0, 0, STW_OK};
  assert_int_equal(stw_oscore_ctx_set_persistence(&client, 1000, nv_persist, &nv), STW_OK);
  assert_int_equal(stw_oscore_ctx_resume(&client, STW_OSCORE_SSN_MAX - 1), STW_OK);
  assert_int_equal(protect_one(&client, STW_OK), STW_OSCORE_SSN_MAX - 1);
  assert_int_equal(nv.stored, STW_OSCORE_SSN_MAX + 1);  /* the step is capped at the end */
  assert_int_equal(protect_one(&client, STW_OK), STW_OSCORE_SSN_MAX);  /* the last one, 5 bytes */
  protect_one(&client, STW_ERR_EXPIRED);
  protect_one(&client, STW_ERR_EXPIRED);  /* and it stays so: never wraps to 0 */
  assert_int_equal(client.ssn, STW_OSCORE_SSN_MAX + 1);

  /* Responses with a Partial IV need numbers too; without one they do not
   * (the server's window is intact: it was not resumed). */
  server.ssn = STW_OSCORE_SSN_MAX + 1;
  stw_oscore_request_t binding = {.kid_len = 0, .piv = {0x14}, .piv_len = 1};
  stw_oscore_msg_t msg = {.code = 0x45};
  uint8_t option[STW_OSCORE_OPTION_MAX], ct[32];
  size_t option_len, ct_len;
  assert_int_equal(stw_oscore_protect_response(&server, &binding, &msg, true, option, sizeof(option), &option_len,
                                               ct, sizeof(ct), &ct_len), STW_ERR_EXPIRED);
  assert_int_equal(stw_oscore_protect_response(&server, &binding, &msg, false, option, sizeof(option), &option_len,
                                               ct, sizeof(ct), &ct_len), STW_OK);
  /* A resumed context forces a Partial IV, so it cannot answer at all. */
  assert_int_equal(stw_oscore_protect_response(&client, &binding, &msg, false, option, sizeof(option), &option_len,
                                               ct, sizeof(ct), &ct_len), STW_ERR_EXPIRED);

  /* A stored bound past the end: nothing more can be sent. */
  assert_int_equal(stw_oscore_ctx_resume(&server, STW_OSCORE_SSN_MAX + 1), STW_ERR_EXPIRED);
  protect_one(&server, STW_ERR_EXPIRED);

  uint8_t piv[STW_OSCORE_PIV_MAX];
  size_t piv_len;
  assert_int_equal(stw_oscore_piv_encode(STW_OSCORE_SSN_MAX, piv, &piv_len), STW_OK);
  assert_int_equal(piv_len, 5);
  assert_int_equal(stw_oscore_piv_encode(STW_OSCORE_SSN_MAX + 1, piv, &piv_len), STW_ERR_EXPIRED);
  assert_int_equal(stw_oscore_piv_encode(0, piv, &piv_len), STW_OK);
  assert_int_equal(piv_len, 1);
  assert_int_equal(piv[0], 0);
  assert_int_equal(stw_oscore_piv_encode(256, piv, &piv_len), STW_OK);
  assert_int_equal(piv_len, 2);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

/* ---- tampering, unknown kid, kid context ---- */

static void test_tampered_ciphertext_and_tag(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  stw_oscore_msg_t got;
  wire_t w;
  send_tv1(&client, 20, &w);
  stw_oscore_request_t binding;
  for (size_t i = 0; i < w.ct_len; i++) {  /* every byte: ciphertext and tag */
    wire_t bad = w;
    bad.ct[i] ^= 0x40;
    assert_int_equal(receive_request(&server, &bad, &got, &binding), STW_ERR_BAD_SIGNATURE);
  }
  wire_t short_ct = w;
  short_ct.ct_len = STW_OSCORE_TAG_LEN;
  assert_int_equal(receive_request(&server, &short_ct, &got, &binding), STW_ERR_MALFORMED);
  short_ct.ct_len = w.ct_len - 1;
  assert_int_equal(receive_request(&server, &short_ct, &got, &binding), STW_ERR_BAD_SIGNATURE);
  wire_t other_piv = w;
  other_piv.option[1] = 0x15;  /* the Partial IV is in the nonce and the AAD */
  assert_int_equal(receive_request(&server, &other_piv, &got, &binding), STW_ERR_BAD_SIGNATURE);
  uint8_t code;
  const char *diag;
  assert_true(stw_oscore_error_reply(STW_ERR_BAD_SIGNATURE, &code, &diag));
  assert_int_equal(code, 0x80);  /* 4.00 */
  assert_string_equal(diag, "Decryption failed");
  assert_int_equal(receive_request(&server, &w, &got, &binding), STW_OK);  /* failures left no trace */

  /* A tampered response. */
  stw_oscore_msg_t resp = {.code = 0x45, .payload = hello, .payload_len = 5};
  wire_t r;
  assert_int_equal(stw_oscore_protect_response(&server, &binding, &resp, false, r.option, sizeof(r.option),
                                               &r.option_len, r.ct, sizeof(r.ct), &r.ct_len), STW_OK);
  stw_oscore_option_t opt;
  assert_int_equal(stw_oscore_option_parse(r.option, r.option_len, &opt), STW_OK);
  uint8_t pt[64];
  r.ct[r.ct_len - 1] ^= 1;
  assert_int_equal(stw_oscore_unprotect_response(&client, &w.binding, &opt, r.ct, r.ct_len, pt, sizeof(pt), &got),
                   STW_ERR_BAD_SIGNATURE);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

static void test_unknown_kid(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  stw_oscore_msg_t got;
  wire_t w;
  send_tv1(&client, 20, &w);
  wire_t bad = w;
  bad.option[bad.option_len++] = 0x05;  /* kid 0x05 instead of the empty one */
  stw_oscore_request_t binding;
  assert_int_equal(receive_request(&server, &bad, &got, &binding), STW_ERR_NOT_FOUND);
  uint8_t code;
  const char *diag;
  assert_true(stw_oscore_error_reply(STW_ERR_NOT_FOUND, &code, &diag));
  assert_int_equal(code, 0x81);
  assert_string_equal(diag, "Security context not found");
  /* No kid at all, or no Partial IV, in a request: malformed (4.02). */
  static const uint8_t no_kid[] = {0x01, 0x14};
  static const uint8_t no_piv[] = {0x08};
  stw_oscore_option_t opt;
  uint8_t pt[64];
  assert_int_equal(stw_oscore_option_parse(no_kid, sizeof(no_kid), &opt), STW_OK);
  assert_int_equal(stw_oscore_unprotect_request(&server, &opt, w.ct, w.ct_len, pt, sizeof(pt), &got, &binding),
                   STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_option_parse(no_piv, sizeof(no_piv), &opt), STW_OK);
  assert_int_equal(stw_oscore_unprotect_request(&server, &opt, w.ct, w.ct_len, pt, sizeof(pt), &got, &binding),
                   STW_ERR_MALFORMED);
  assert_true(stw_oscore_error_reply(STW_ERR_MALFORMED, &code, &diag));
  assert_int_equal(code, 0x82);
  /* The server's own Sender ID as kid is not a Recipient ID either. */
  wire_t own = w;
  own.option[own.option_len++] = 0x01;
  assert_int_equal(receive_request(&server, &own, &got, &binding), STW_ERR_NOT_FOUND);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

static void test_kid_context(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server, plain_client, plain_server;
  derive_pair("rfc8613-c3.txt", &client, &server);
  derive_pair("rfc8613-c1.txt", &plain_client, &plain_server);
  uint8_t options[16];
  stw_oscore_msg_t msg, got;
  get_tv1(options, sizeof(options), &msg);
  wire_t w;
  client.ssn = 20;
  assert_int_equal(stw_oscore_protect_request(&client, &msg, true, w.option, sizeof(w.option), &w.option_len, w.ct,
                                              sizeof(w.ct), &w.ct_len, &w.binding), STW_OK);
  stw_oscore_request_t binding;
  /* A different kid context: not this context. */
  wire_t bad = w;
  bad.option[3] ^= 0x01;
  assert_int_equal(receive_request(&server, &bad, &got, &binding), STW_ERR_NOT_FOUND);
  /* A kid context for a context that has none. */
  assert_int_equal(receive_request(&plain_server, &w, &got, &binding), STW_ERR_NOT_FOUND);
  /* The right one. */
  assert_int_equal(receive_request(&server, &w, &got, &binding), STW_OK);
  /* Without kid context the ID Context is still used (both know it). */
  wire_t implicit;
  client.ssn = 21;
  assert_int_equal(stw_oscore_protect_request(&client, &msg, false, implicit.option, sizeof(implicit.option),
                                              &implicit.option_len, implicit.ct, sizeof(implicit.ct),
                                              &implicit.ct_len, &implicit.binding), STW_OK);
  assert_int_equal(implicit.option[0], 0x09);
  assert_int_equal(receive_request(&server, &implicit, &got, &binding), STW_OK);
  /* A context without ID Context cannot send one. */
  assert_int_equal(stw_oscore_protect_request(&plain_client, &msg, true, w.option, sizeof(w.option), &w.option_len,
                                              w.ct, sizeof(w.ct), &w.ct_len, &w.binding), STW_ERR_INVALID);
  assert_int_equal(plain_client.ssn, 0);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
  stw_oscore_ctx_wipe(&plain_client);
  stw_oscore_ctx_wipe(&plain_server);
}

/* ---- option values ---- */

static void test_option_partial_iv_too_long(void **state)
{
  (void)state;
  static const uint8_t n6[] = {0x0e, 1, 2, 3, 4, 5, 6};
  static const uint8_t n7[] = {0x0f, 1, 2, 3, 4, 5, 6, 7};
  static const uint8_t leading_zero[] = {0x0a, 0x00, 0x14};
  static const uint8_t five[] = {0x0d, 0xff, 0xff, 0xff, 0xff, 0xff, 0x42};
  stw_oscore_option_t opt;
  assert_int_equal(stw_oscore_option_parse(n6, sizeof(n6), &opt), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_option_parse(n7, sizeof(n7), &opt), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_option_parse(leading_zero, sizeof(leading_zero), &opt), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_option_parse(five, sizeof(five), &opt), STW_OK);
  assert_int_equal(opt.piv_len, 5);
  assert_int_equal(opt.kid_len, 1);
  /* The encoder refuses to write one. */
  uint8_t piv[6] = {1, 2, 3, 4, 5, 6};
  stw_oscore_option_t too_long = {.piv = piv, .piv_len = 6};
  uint8_t out[STW_OSCORE_OPTION_MAX];
  size_t out_len;
  assert_int_equal(stw_oscore_option_encode(&too_long, out, sizeof(out), &out_len), STW_ERR_INVALID);
}

static void test_option_malformed(void **state)
{
  (void)state;
  stw_oscore_option_t opt;
  /* Every truncation of C.6's value (flags, PIV, s, kid context) fails. */
  static const uint8_t c6[] = {0x19, 0x14, 0x08, 0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17, 0xa2, 0xd3};
  for (size_t len = 1; len < sizeof(c6); len++)
    assert_int_equal(stw_oscore_option_parse(c6, len, &opt), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_option_parse(c6, sizeof(c6), &opt), STW_OK);
  assert_true(opt.has_kid_context);
  assert_int_equal(opt.kid_context_len, 8);
  assert_true(opt.has_kid);
  assert_int_equal(opt.kid_len, 0);
  /* Every truncation of a value with a 5-byte Partial IV and kid context. */
  static const uint8_t full[] = {0x1d, 0x01, 0x02, 0x03, 0x04, 0x05, 0x02, 0xaa, 0xbb, 0x42};
  for (size_t len = 1; len < 9; len++)
    assert_int_equal(stw_oscore_option_parse(full, len, &opt), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_option_parse(full, 9, &opt), STW_OK);  /* kid cut to empty: a different kid */
  assert_int_equal(stw_oscore_option_parse(full, sizeof(full), &opt), STW_OK);
  /* Reserved flag bits. */
  for (unsigned bit = 5; bit < 8; bit++) {
    uint8_t v[] = {(uint8_t)(0x09 | 1u << bit), 0x14};
    assert_int_equal(stw_oscore_option_parse(v, sizeof(v), &opt), STW_ERR_MALFORMED);
  }
  /* All-zero flags are sent as the empty value; a lone 0x00 is malformed. */
  static const uint8_t zero[] = {0x00};
  assert_int_equal(stw_oscore_option_parse(zero, sizeof(zero), &opt), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_option_parse(NULL, 0, &opt), STW_OK);
  assert_int_equal(opt.piv_len, 0);
  assert_false(opt.has_kid);
  /* Bytes the flags do not announce. */
  static const uint8_t trailing[] = {0x01, 0x07, 0xff};
  assert_int_equal(stw_oscore_option_parse(trailing, sizeof(trailing), &opt), STW_ERR_MALFORMED);
  /* Over the option's length limit. */
  uint8_t big[STW_OSCORE_OPTION_VALUE_LIMIT + 1];
  memset(big, 0, sizeof(big));
  big[0] = 0x08;
  assert_int_equal(stw_oscore_option_parse(big, sizeof(big), &opt), STW_ERR_TOO_LARGE);
  assert_int_equal(stw_oscore_option_parse(big, sizeof(big) - 1, &opt), STW_OK);

  /* Encode and parse agree (RFC 8613 6.3 examples). */
  static const uint8_t ex3[] = {0x19, 0x05, 0x05, 0x44, 0x61, 0x6c, 0x65, 0x6b};
  assert_int_equal(stw_oscore_option_parse(ex3, sizeof(ex3), &opt), STW_OK);
  uint8_t out[STW_OSCORE_OPTION_MAX];
  size_t out_len;
  assert_int_equal(stw_oscore_option_encode(&opt, out, sizeof(out), &out_len), STW_OK);
  assert_int_equal(out_len, sizeof(ex3));
  assert_memory_equal(out, ex3, sizeof(ex3));
  assert_int_equal(stw_oscore_option_encode(&opt, out, sizeof(ex3) - 1, &out_len), STW_ERR_TOO_LARGE);
}

/* ---- CoAP options and plaintext ---- */

static void test_options_and_plaintext(void **state)
{
  (void)state;
  uint8_t buf[600];
  size_t len = 0;
  uint16_t last = 0;
  uint8_t value[300];
  memset(value, 0x5a, sizeof(value));
  assert_int_equal(stw_oscore_opt_put(buf, sizeof(buf), &len, &last, 11, value, 3), STW_OK);
  assert_int_equal(stw_oscore_opt_put(buf, sizeof(buf), &len, &last, 11, value, 13), STW_OK);   /* 1-byte length */
  assert_int_equal(stw_oscore_opt_put(buf, sizeof(buf), &len, &last, 60, value, 0), STW_OK);    /* 1-byte delta */
  assert_int_equal(stw_oscore_opt_put(buf, sizeof(buf), &len, &last, 2000, value, 300), STW_OK); /* 2-byte both */
  assert_int_equal(stw_oscore_opt_put(buf, sizeof(buf), &len, &last, 12, value, 0), STW_ERR_INVALID);
  assert_int_equal(stw_oscore_opt_put(buf, len + 3, &len, &last, 2000, value, 3), STW_ERR_TOO_LARGE);
  static const uint16_t numbers[] = {11, 11, 60, 2000};
  static const size_t lengths[] = {3, 13, 0, 300};
  stw_oscore_opt_iter_t it;
  stw_oscore_opt_iter_init(&it, buf, len);
  uint16_t number;
  const uint8_t *v;
  size_t vlen;
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(stw_oscore_opt_next(&it, &number, &v, &vlen), STW_OK);
    assert_int_equal(number, numbers[i]);
    assert_int_equal(vlen, lengths[i]);
  }
  assert_int_equal(stw_oscore_opt_next(&it, &number, &v, &vlen), STW_ERR_NOT_FOUND);
  /* Every truncation inside an option is malformed, never read past. */
  for (size_t cut = 1; cut < len; cut++) {
    stw_oscore_opt_iter_init(&it, buf, cut);
    stw_status_t st;
    while ((st = stw_oscore_opt_next(&it, &number, &v, &vlen)) == STW_OK)
      assert_true(v + vlen <= buf + cut);
    assert_true(st == STW_ERR_MALFORMED || st == STW_ERR_NOT_FOUND);
  }
  static const uint8_t nibble15[] = {0xf1, 0x00};
  static const uint8_t len15[] = {0x1f};
  static const uint8_t over[] = {0xe0, 0xff, 0xff, 0xe0, 0xff, 0xff};
  stw_oscore_opt_iter_init(&it, nibble15, sizeof(nibble15));
  assert_int_equal(stw_oscore_opt_next(&it, &number, &v, &vlen), STW_ERR_MALFORMED);
  stw_oscore_opt_iter_init(&it, len15, sizeof(len15));
  assert_int_equal(stw_oscore_opt_next(&it, &number, &v, &vlen), STW_ERR_MALFORMED);
  stw_oscore_opt_iter_init(&it, over, sizeof(over));
  assert_int_equal(stw_oscore_opt_next(&it, &number, &v, &vlen), STW_ERR_MALFORMED);  /* number past 65535 */

  /* Plaintext: code only, options only, payload, a marker with nothing after. */
  stw_oscore_msg_t msg;
  static const uint8_t code_only[] = {0x45};
  static const uint8_t marker_only[] = {0x45, 0xff};
  static const uint8_t with_payload[] = {0x45, 0xb3, 't', 'v', '1', 0xff, 0xff};
  assert_int_equal(stw_oscore_plaintext_parse(code_only, 1, &msg), STW_OK);
  assert_int_equal(msg.options_len, 0);
  assert_null(msg.payload);
  assert_int_equal(stw_oscore_plaintext_parse(marker_only, 2, &msg), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_plaintext_parse(code_only, 0, &msg), STW_ERR_MALFORMED);
  assert_int_equal(stw_oscore_plaintext_parse(with_payload, sizeof(with_payload), &msg), STW_OK);
  assert_int_equal(msg.options_len, 4);
  assert_int_equal(msg.payload_len, 1);
  assert_int_equal(msg.payload[0], 0xff);
  assert_int_equal(stw_oscore_plaintext_parse(with_payload, 4, &msg), STW_ERR_MALFORMED);

  /* Size limits. */
  stw_oscore_msg_t huge = {.code = 0x02, .payload = value, .payload_len = STW_OSCORE_PLAINTEXT_MAX};
  assert_int_equal(stw_oscore_ciphertext_len(&huge), 0);
  huge.payload_len = STW_OSCORE_PLAINTEXT_MAX - 2;
  assert_int_equal(stw_oscore_ciphertext_len(&huge), STW_OSCORE_PLAINTEXT_MAX + STW_OSCORE_TAG_LEN);
}

/* ---- derivation refusals ---- */

static void test_derive_refuses(void **state)
{
  (void)state;
  static const uint8_t secret[16] = {1};
  static const uint8_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[1] = {2};
  uint8_t long_ctx[STW_OSCORE_ID_CONTEXT_MAX + 1] = {0};
  stw_oscore_ctx_t ctx;
  stw_oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof(secret), .sender_id = a,
                           .sender_id_len = 7, .recipient_id = b, .recipient_id_len = 1};
  assert_int_equal(stw_oscore_ctx_derive(&ctx, &p), STW_OK);
  p.sender_id_len = 8;
  assert_int_equal(stw_oscore_ctx_derive(&ctx, &p), STW_ERR_INVALID);
  p.sender_id = b;
  p.sender_id_len = 1;
  assert_int_equal(stw_oscore_ctx_derive(&ctx, &p), STW_ERR_INVALID);  /* equal IDs */
  p.sender_id_len = 0;
  p.master_secret_len = 0;
  assert_int_equal(stw_oscore_ctx_derive(&ctx, &p), STW_ERR_INVALID);
  p.master_secret_len = sizeof(secret);
  p.has_id_context = true;
  p.id_context = long_ctx;
  p.id_context_len = sizeof(long_ctx);
  assert_int_equal(stw_oscore_ctx_derive(&ctx, &p), STW_ERR_INVALID);
  /* Empty ID Context differs from none. */
  stw_oscore_ctx_t with_empty, without;
  p.id_context_len = 0;
  assert_int_equal(stw_oscore_ctx_derive(&with_empty, &p), STW_OK);
  p.has_id_context = false;
  assert_int_equal(stw_oscore_ctx_derive(&without, &p), STW_OK);
  assert_memory_not_equal(with_empty.sender_key, without.sender_key, STW_OSCORE_KEY_LEN);
  stw_oscore_ctx_wipe(&with_empty);
  stw_oscore_ctx_wipe(&without);
  stw_oscore_ctx_wipe(&ctx);
}

/* ---- Observe: notifications bound to the registration (4.1.3.5.2) ---- */

static void test_notifications_use_server_piv(void **state)
{
  (void)state;
  stw_oscore_ctx_t client, server;
  derive_pair("rfc8613-c1.txt", &client, &server);
  stw_oscore_msg_t got;
  wire_t w;
  send_tv1(&client, 7, &w);
  stw_oscore_request_t binding;
  assert_int_equal(receive_request(&server, &w, &got, &binding), STW_OK);
  /* Two notifications of the same representation: each its own Partial IV,
   * so each its own nonce and ciphertext, both bound to the registration. */
  static const uint8_t empty_observe[] = { 0x60 };  /* Observe (6), empty value */
  stw_oscore_msg_t note = { .code = 0x45, .options = empty_observe, .options_len = sizeof(empty_observe),
                            .payload = (const uint8_t *)"21", .payload_len = 2 };
  uint8_t opt1[STW_OSCORE_OPTION_MAX], opt2[STW_OSCORE_OPTION_MAX], ct1[64], ct2[64], pt[64];
  size_t o1 = 0, o2 = 0, c1 = 0, c2 = 0;
  assert_int_equal(stw_oscore_protect_response(&server, &binding, &note, true, opt1, sizeof(opt1), &o1, ct1,
                                               sizeof(ct1), &c1),
                   STW_OK);
  assert_int_equal(stw_oscore_protect_response(&server, &binding, &note, true, opt2, sizeof(opt2), &o2, ct2,
                                               sizeof(ct2), &c2),
                   STW_OK);
  assert_int_equal(c1, c2);
  assert_memory_not_equal(ct1, ct2, c1);
  stw_oscore_option_t p1, p2;
  assert_int_equal(stw_oscore_option_parse(opt1, o1, &p1), STW_OK);
  assert_int_equal(stw_oscore_option_parse(opt2, o2, &p2), STW_OK);
  assert_int_equal(p1.piv_len, 1);
  assert_int_equal(p1.piv[0], 0);
  assert_int_equal(p2.piv[0], 1);
  assert_false(p1.has_kid);
  stw_oscore_msg_t inner;
  assert_int_equal(stw_oscore_unprotect_response(&client, &binding, &p2, ct2, c2, pt, sizeof(pt), &inner), STW_OK);
  const uint8_t *v;
  size_t vl;
  assert_int_equal(stw_oscore_msg_find_option(&inner, 6, &v, &vl), STW_OK);
  assert_int_equal(vl, 0);
  assert_int_equal(stw_oscore_unprotect_response(&client, &binding, &p1, ct1, c1, pt, sizeof(pt), &inner), STW_OK);
  /* Under the other notification's Partial IV: the nonce is wrong. */
  assert_int_equal(stw_oscore_unprotect_response(&client, &binding, &p1, ct2, c2, pt, sizeof(pt), &inner),
                   STW_ERR_BAD_SIGNATURE);
  stw_oscore_ctx_wipe(&client);
  stw_oscore_ctx_wipe(&server);
}

/* ---- the thing's saved context (device/thing_oscore.c, B.1.1) ---- */

static size_t put_pair_bstr(uint8_t *out, uint64_t key, const uint8_t *v, size_t len)
{
  size_t n = stw_cbor_put_head(STW_CBOR_UINT, key, out);
  n += stw_cbor_put_head(STW_CBOR_BSTR, len, out + n);
  if (len > 0)
    memcpy(out + n, v, len);
  return n + len;
}

/* {1: token, 2: N1, 3: N2, 4: ID1, 5: ID2, 6: next_ssn} with one field changed:
 * which (0: none) gets bad, or is left out (skip), or comes twice (twice). */
static size_t saved_state(uint8_t *out, int which, const char *how)
{
  static const uint8_t token[40] = { 0xd2, 0x84 }, n1[8] = { 1 }, n2[8] = { 2 }, id1[2] = { 0x9c, 0x41 };
  bool skip = strcmp(how, "skip") == 0, twice = strcmp(how, "twice") == 0, bad = strcmp(how, "bad") == 0;
  size_t n = stw_cbor_put_head(STW_CBOR_MAP, 6 - (skip ? 1 : 0) + (twice ? 1 : 0), out);
  for (int round = 0; round < (twice ? 2 : 1); round++)
    for (int key = 1; key <= 6; key++) {
      if ((skip && key == which) || (round == 1 && key != which))
        continue;
      bool b = bad && key == which;
      switch (key) {
      case 1: n += put_pair_bstr(out + n, 1, token, b ? 0 : sizeof(token)); break;
      case 2: n += put_pair_bstr(out + n, 2, n1, b ? 0 : sizeof(n1)); break;
      case 3: n += put_pair_bstr(out + n, 3, n2, b ? 7 : sizeof(n2)); break;
      case 4: n += put_pair_bstr(out + n, 4, id1, sizeof(id1)); break;
      case 5: {
        static const uint8_t long_id[8] = { 0 };
        n += put_pair_bstr(out + n, 5, long_id, b ? 8 : 0);
        break;
      }
      default:
        n += stw_cbor_put_head(STW_CBOR_UINT, 6, out + n);
        n += stw_cbor_put_head(STW_CBOR_UINT, b ? STW_OSCORE_SSN_MAX + 2 : 64, out + n);
      }
    }
  return n;
}

static void test_saved_state(void **state)
{
  (void)state;
  uint8_t buf[256];
  stw__osc_state_t s;
  size_t n = saved_state(buf, 0, "");
  assert_int_equal(stw__osc_state_parse(buf, n, &s), STW_OK);
  assert_int_equal(s.token_len, 40);
  assert_int_equal(s.n1_len, 8);
  assert_int_equal(s.n2_len, 8);
  assert_int_equal(s.id1_len, 2);
  assert_int_equal(s.id2_len, 0);  /* the first client's: empty */
  assert_int_equal(s.next_ssn, 64);
  /* Each refusal is malformed and leaves nothing behind. */
  const char *hows[] = { "bad", "skip", "twice" };
  for (int which = 1; which <= 6; which++)
    for (size_t h = 0; h < 3; h++) {
      if (strcmp(hows[h], "bad") == 0 && which == 4)
        continue;  /* any ID1 up to 7 bytes is fine */
      n = saved_state(buf, which, hows[h]);
      memset(&s, 0x5a, sizeof(s));
      assert_int_equal(stw__osc_state_parse(buf, n, &s), STW_ERR_MALFORMED);
      assert_null(s.token);
      assert_int_equal(s.token_len, 0);
      assert_int_equal(s.next_ssn, 0);
    }
  n = saved_state(buf, 0, "");
  assert_int_equal(stw__osc_state_parse(buf, n - 1, &s), STW_ERR_MALFORMED);  /* truncated */
  assert_int_equal(stw__osc_state_parse(buf, STW_OSC_STATE_MAX + 1, &s), STW_ERR_MALFORMED);
  assert_int_equal(stw__osc_state_parse(NULL, 0, &s), STW_ERR_MALFORMED);
}

static void test_coap_uint(void **state)
{
  (void)state;
  uint8_t enc[4];
  uint32_t v = 1;
  assert_int_equal(stw__coap_uint_encode(0, enc), 0);  /* 0 is the empty value */
  assert_int_equal(stw__coap_uint_decode(enc, 0, 3, &v), STW_OK);
  assert_int_equal(v, 0);
  assert_int_equal(stw__coap_uint_encode(0x2e, enc), 1);
  assert_int_equal(stw__coap_uint_encode(0x10000, enc), 3);
  assert_int_equal(stw__coap_uint_decode(enc, 3, 3, &v), STW_OK);
  assert_int_equal(v, 0x10000);
  assert_int_equal(stw__coap_uint_encode(0xffffffffu, enc), 4);
  assert_int_equal(stw__coap_uint_decode(enc, 4, 3, &v), STW_ERR_MALFORMED);  /* Block2 and Observe: 3 bytes */
  assert_int_equal(stw__coap_uint_decode(enc, 4, 4, &v), STW_OK);
  assert_int_equal(v, 0xffffffffu);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_c1_derivation_with_salt),
    cmocka_unit_test(test_c2_derivation_without_salt),
    cmocka_unit_test(test_c3_derivation_with_id_context),
    cmocka_unit_test(test_c4_request),
    cmocka_unit_test(test_c5_request),
    cmocka_unit_test(test_c6_request_kid_context),
    cmocka_unit_test(test_c7_response),
    cmocka_unit_test(test_c8_response_with_piv),
    cmocka_unit_test(test_replay_detected),
    cmocka_unit_test(test_replay_window_slides),
    cmocka_unit_test(test_forged_request_does_not_move_window),
    cmocka_unit_test(test_lost_window_needs_echo),
    cmocka_unit_test(test_ssn_persisted_in_steps),
    cmocka_unit_test(test_ssn_exhaustion),
    cmocka_unit_test(test_tampered_ciphertext_and_tag),
    cmocka_unit_test(test_unknown_kid),
    cmocka_unit_test(test_kid_context),
    cmocka_unit_test(test_option_partial_iv_too_long),
    cmocka_unit_test(test_option_malformed),
    cmocka_unit_test(test_options_and_plaintext),
    cmocka_unit_test(test_derive_refuses),
    cmocka_unit_test(test_notifications_use_server_piv),
    cmocka_unit_test(test_saved_state),
    cmocka_unit_test(test_coap_uint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
