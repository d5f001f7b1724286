/* steward demo: the whole lifecycle, told as it happens, on a temporary
 * SQLite store with the real daemon and the real device SDK. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "demo.h"
#include "domain/domain.h"
#include "enroll/enroll.h"
#include "factory.h"
#include "spawn.h"
#include "steward/bootstrap.h"
#include "steward/discovery.h"
#include "steward/thing.h"
#include "steward/token.h"
#include "authz/context.h"
#include "steward/device.h"
#include "store/store.h"

#define THERMOS 5

void demo_say(const char *who, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  printf("[%-7s] ", who);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  fflush(stdout);
}

typedef struct {
  const char *label;
  const stw_factory_t *factory;
  stw_imprint_t imprint;
  char dir[1100];
} demo_device_t;

static stw_status_t make_device(const char *root, const char *label, const char *folder, const stw_factory_t *f,
                                const char *model, bool psk, demo_device_t *d)
{
  d->label = label;
  d->factory = f;
  stw_status_t st = stw_path_join(d->dir, sizeof(d->dir), root, folder);
  if (st == STW_OK)
    st = stw_factory_imprint(f, model, psk, &d->imprint);
  if (st == STW_OK)
    st = stw_imprint_save(f, &d->imprint, d->dir);
  return st;
}

/* The owner imports a voucher and says what happened. */
static void import_voucher(stw_store_t *store, const stw_domain_t *domain, const stw_factory_t *f,
                           const demo_device_t *d, const stw_cert_info_t *owner_ca, const char *owner_name)
{
  stw_buf_t v;
  stw_buf_init(&v, STW_VOUCHER_MAX);
  stw_status_t st = stw_factory_voucher(f, &d->imprint, owner_ca->spki, owner_ca->spki_len, 0, &v);
  if (st != STW_OK) {
    demo_say("factory", "could not sign a voucher: %s", stw_status_str(st));
    stw_buf_free(&v, false);
    return;
  }
  char id[STW_ID_HEX], diag[192] = "";
  st = stw_enroll_import_voucher(store, domain, v.data, v.len, id, diag, sizeof(diag));
  if (st == STW_OK)
    demo_say("owner", "imports the voucher %s signed for %s (%s), naming %s: accepted", f->name, d->label, d->imprint.id,
        owner_name);
  else
    demo_say("owner", "imports the voucher %s signed for %s, naming %s: REFUSED, %s", f->name, d->label, owner_name, diag);
  stw_buf_free(&v, false);
}

static bool bootstrap_one(const demo_device_t *d, const char *uri)
{
  stw_dev_t *dev = NULL;
  stw_bootstrap_report_t r;
  memset(&r, 0, sizeof(r));
  stw_status_t st = stw_dev_open(d->dir, &dev);
  if (st == STW_OK)
    st = stw_bootstrap(dev, uri, &r);
  if (st == STW_OK && stw_dev_uses_psk(dev)) {
    demo_say("device", "%-22s enrolled as %s: operational PSK received, bootstrap PSK retired (%.1f ms)", d->label,
        stw_dev_name(dev), r.latency_us / 1000.0);
  } else if (st == STW_OK) {
    demo_say("device", "%-22s voucher verified, server key certified by the pinned domain CA; enrolled as %s, "
        "LDevID serial %.12s... (%.1f ms)", d->label, stw_dev_name(dev), stw_dev_cert_serial(dev), r.latency_us / 1000.0);
  } else {
    demo_say("device", "%-22s REFUSED: %s", d->label, r.reason[0] ? r.reason : stw_status_str(st));
  }
  stw_dev_close(dev);
  return st == STW_OK;
}

static stw_status_t set_attr(stw_store_t *store, const stw_domain_t *home, const char *device_id,
                             const char *name, const char *value)
{
  stw_attr_row_t a;
  memset(&a, 0, sizeof(a));
  snprintf(a.name, sizeof(a.name), "%s", name);
  snprintf(a.value, sizeof(a.value), "%s", value);
  snprintf(a.authority, sizeof(a.authority), "%s", home->name);
  return stw_store_attr_set(store, device_id, &a);
}

static size_t count_links(const char *links)
{
  size_t n = links[0] ? 1 : 0;
  for (const char *p = links; *p; p++)
    n += *p == ',';
  return n;
}

/* Two askers with different roles ask the same directory. */
static stw_status_t discovery_story(stw_store_t *store, const stw_domain_t *home, demo_device_t *thermo,
                                    demo_device_t *tag, const char *uri)
{
  static const char links[] = "</temp>;rt=\"temperature\";if=\"sensor\","
                              "</cfg>;rt=\"config\";if=\"parameter\";vis=\"role=maintainer\"";
  stw_dev_t *devs[THERMOS] = { 0 }, *tag_dev = NULL;
  stw_bootstrap_report_t r;
  stw_resolution_t *res = NULL;
  char *answer = NULL, *hidden = NULL, *absent = NULL;
  stw_status_t st = STW_OK;
  printf("\n");
  for (int i = 0; i < THERMOS && st == STW_OK; i++) {
    st = set_attr(store, home, thermo[i].imprint.id, "location", i < 3 ? "building-7" : "building-9");
    if (st == STW_OK && i == 0)
      st = set_attr(store, home, thermo[i].imprint.id, "owner", "alice");
  }
  if (st == STW_OK)
    st = set_attr(store, home, thermo[4].imprint.id, "role", "maintainer");
  if (st == STW_OK)
    st = set_attr(store, home, tag->imprint.id, "role", "utility");
  if (st != STW_OK)
    return st;
  demo_say("owner", "sets attributes: thermostats #1-3 location=building-7, #4-5 building-9; #1 owner=alice; "
      "thermostat #5 role=maintainer; the tag role=utility");

  for (int i = 0; i < THERMOS && st == STW_OK; i++) {
    char where[STW_LOCATION_MAX];
    memset(&r, 0, sizeof(r));
    if ((st = stw_dev_open(thermo[i].dir, &devs[i])) == STW_OK)
      st = stw_register(devs[i], uri, links, 3600, "dattr=manufacturer%20model%20location", where, &r);
    if (st == STW_OK)
      demo_say("device", "%-22s registers </temp> (anyone in the domain) and </cfg> (maintainers only) at %s",
          thermo[i].label, where);
    else
      demo_say("device", "%-22s registration REFUSED: %s", thermo[i].label, r.reason);
  }
  if (st == STW_OK)
    st = stw_dev_open(tag->dir, &tag_dev);
  if (st != STW_OK)
    goto out;

  /* The same lookup from two askers. */
  size_t n = 0;
  if ((st = stw_lookup(tag_dev, uri, "res", NULL, &answer, &n, &r)) != STW_OK)
    goto out;
  demo_say("lookup", "the tag (role=utility) asks /rd-lookup/res: %zu resources, e.g. %.70s...", count_links(answer), answer);
  free(answer);
  answer = NULL;
  if ((st = stw_lookup(devs[4], uri, "res", NULL, &answer, &n, &r)) != STW_OK)
    goto out;
  demo_say("lookup", "thermostat #5 (role=maintainer) asks the same: %zu resources, the configuration too",
      count_links(answer));
  free(answer);
  answer = NULL;
  size_t hidden_len = 0, absent_len = 0;
  if ((st = stw_lookup(tag_dev, uri, "res", "rt=config", &hidden, &hidden_len, &r)) != STW_OK)
    goto out;
  unsigned hidden_code = r.coap_code;
  if ((st = stw_lookup(tag_dev, uri, "res", "rt=no-such-type", &absent, &absent_len, &r)) != STW_OK)
    goto out;
  demo_say("lookup", "the tag asks rt=config (hidden from it) and rt=no-such-type (absent): %u.%02u with %zu bytes "
      "vs %u.%02u with %zu bytes: indistinguishable", hidden_code >> 5, hidden_code & 0x1f, hidden_len,
      r.coap_code >> 5, r.coap_code & 0x1f, absent_len);
  if ((st = stw_lookup(tag_dev, uri, "ep", "location=building-7", &answer, &n, &r)) != STW_OK)
    goto out;
  demo_say("lookup", "the tag asks /rd-lookup/ep?location=building-7: %zu endpoints", count_links(answer));

  /* A handle, resolved with proofs for chosen attributes only. */
  char handle[STW_NAME_MAX + 40];
  snprintf(handle, sizeof(handle), "%s/%s", home->name, thermo[0].imprint.id);
  if ((st = stw_resolve(tag_dev, uri, handle, "model location owner", &res, &r)) != STW_OK) {
    demo_say("lookup", "resolution failed: %s", r.reason);
    goto out;
  }
  demo_say("lookup", "the tag resolves %s: ep %s at %s", handle, stw_resolution_ep(res),
      stw_resolution_base_count(res) ? stw_resolution_base(res, 0) : "-");
  for (size_t i = 0; i < stw_resolution_attr_count(res); i++) {
    const char *name, *value, *authority;
    if (stw_resolution_attr(res, i, &name, &value, &authority) == STW_OK)
      demo_say("lookup", "  proven by the domain-signed Merkle root: %s = %s (stated by %s)", name, value, authority);
  }
  demo_say("lookup", "  owner: %s (not discoverable: no leaf disclosed, the rest of the tree stays sealed)",
      stw_resolution_attr_value(res, "owner", home->name) ? "DISCLOSED (unexpected!)" : "not disclosed");
out:
  stw_resolution_free(res);
  free(answer);
  free(hidden);
  free(absent);
  for (int i = 0; i < THERMOS; i++)
    stw_dev_close(devs[i]);
  stw_dev_close(tag_dev);
  return st;
}

typedef struct {
  stw_thing_t *thing;
  volatile bool stop;
} meter_loop_t;

static unsigned meter_answer(void *arg, unsigned method, const char *path, const uint8_t *body, size_t len,
                             uint8_t *out, size_t cap, size_t *out_len)
{
  (void)arg;
  (void)body;
  (void)len;
  if (method == STW_AIF_GET)
    *out_len = (size_t)snprintf((char *)out, cap, "%s", strcmp(path, "/consumption") == 0 ? "3.2 kWh today" : "limit=16A");
  else
    *out_len = (size_t)snprintf((char *)out, cap, "configuration written");
  return method == STW_AIF_GET ? 0x45 : 0x44; /* 2.05, 2.04 */
}

static void *meter_loop(void *arg)
{
  meter_loop_t *m = arg;
  while (!m->stop)
    stw_thing_run(m->thing, 20);
  return NULL;
}

static stw_status_t set_context(stw_store_t *store, const stw_domain_t *home, const char *name, const char *value)
{
  stw_context_row_t c;
  memset(&c, 0, sizeof(c));
  snprintf(c.name, sizeof(c.name), "%s", name);
  snprintf(c.value, sizeof(c.value), "%s", value);
  uint64_t revoked = 0;
  stw_status_t st = stw_context_set(store, home, &c, "admin", stw_now(), &revoked);
  if (st == STW_OK)
    demo_say("context", "%s = %s%s", name, value, revoked ? ": the context manager revokes the tokens it no longer allows" : "");
  return st;
}

/* Ask the domain for a token, then use it at the meter, and say what happened. */
static stw_status_t use_meter(stw_dev_t *who, const char *label, const char *uri, stw_dev_t *meter,
                              const char *meter_uri, unsigned method, const char *path, stw_token_t *keep)
{
  stw_token_t tok;
  stw_bootstrap_report_t r;
  stw_status_t st = stw_token_request(who, uri, stw_dev_name(meter), path, method, &tok, &r);
  const char *verb = method == STW_AIF_GET ? "GET" : "PUT";
  if (st != STW_OK) {
    demo_say("authz", "%s asks the domain for %s %s: refused %u.%02u (the PDP's rules)", label, verb, path, r.coap_code >> 5,
        r.coap_code & 0x1f);
    return st;
  }
  uint8_t *answer = NULL;
  st = stw_thing_call(who, meter_uri, tok.rs_spki, tok.rs_spki_len, tok.token, tok.token_len, method, path,
                      (const uint8_t *)"16A", 3, &answer, NULL, &r);
  demo_say("authz", "%s gets a %zu-byte token for %s %s and uses it at the meter: %s", label, tok.token_len, verb, path,
      st == STW_OK ? (const char *)answer : r.reason);
  free(answer);
  if (keep != NULL && st == STW_OK)
    *keep = tok;
  else
    stw_token_clear(&tok);
  return st;
}

/* An attacker's move: one captured datagram sent again to the meter's OSCORE
 * port from a socket of its own. Returns the answer's code (0: none) and its
 * diagnostic payload as text. */
static unsigned resend_datagram(uint16_t port, const uint8_t *dgram, size_t len, char *diag, size_t cap)
{
  unsigned code = 0;
  diag[0] = '\0';
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint8_t in[512];
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && send(fd, dgram, len, 0) == (ssize_t)len &&
      poll(&pfd, 1, 3000) == 1) {
    ssize_t got = recv(fd, in, sizeof(in), 0);
    if (got >= 4) {
      code = in[1];
      size_t tkl = in[0] & 0x0f, at = 4 + tkl;
      while (at < (size_t)got && in[at] != 0xff)
        at++;  /* an error answer carries no options here; skip to the payload */
      if (at < (size_t)got)
        snprintf(diag, cap, "%.*s", (int)((size_t)got - at - 1), (const char *)in + at + 1);
    }
  }
  close(fd);
  return code;
}

/* Issue 5: a consumer finds the meter through the directory, gets a token
 * with OSCORE material, reads over OSCORE and then over DTLS-RPK; a request
 * outside its scope and a replayed OSCORE datagram are refused. */
static stw_status_t session_story(const char *uri, stw_dev_t *meter, stw_dev_t *consumer, stw_thing_t *thing)
{
  printf("\n");
  stw_bootstrap_report_t r;
  char where[STW_LOCATION_MAX], links[256], base[64], *found = NULL;
  size_t found_len = 0;
  snprintf(base, sizeof(base), "coap://127.0.0.1:%u", stw_thing_oscore_port(thing));
  snprintf(links, sizeof(links), "</consumption>;rt=\"meter.consumption\";osc");
  char query[96];
  snprintf(query, sizeof(query), "base=%s", base);
  stw_status_t st = stw_register(meter, uri, links, 3600, query, where, &r);
  if (st != STW_OK) {
    demo_say("device", "the meter's registration REFUSED: %s", r.reason);
    return st;
  }
  demo_say("device", "the meter registers %s with its OSCORE endpoint %s as base", links, base);
  if ((st = stw_lookup(consumer, uri, "res", "rt=meter.consumption", &found, &found_len, &r)) != STW_OK)
    return st;
  /* The first link's target: <coap://host:port/consumption>. */
  char target[128] = "", endpoint[96] = "";
  const char *lt = strchr(found, '<'), *gt = lt ? strchr(lt, '>') : NULL;
  if (gt != NULL && (size_t)(gt - lt - 1) < sizeof(target))
    snprintf(target, sizeof(target), "%.*s", (int)(gt - lt - 1), lt + 1);
  const char *path = strstr(target, "://") ? strchr(strstr(target, "://") + 3, '/') : NULL;
  free(found);
  if (path == NULL) {
    demo_say("discover", "the utility finds no meter (answer: %s)", target);
    return STW_ERR_NOT_FOUND;
  }
  snprintf(endpoint, sizeof(endpoint), "%.*s", (int)(path - target), target);
  demo_say("discover", "the utility looks up rt=meter.consumption and finds <%s>", target);

  stw_token_t tok;
  stw_oscore_material_t mat;
  if ((st = stw_token_request_oscore(consumer, uri, stw_dev_name(meter), path, STW_AIF_GET, &tok, &mat, &r)) !=
      STW_OK) {
    demo_say("authz", "the utility's token request (OSCORE profile) refused: %s", r.reason);
    return st;
  }
  demo_say("authz", "the utility gets a %zu-byte token for GET %s with OSCORE input material (a %zu-byte master secret "
      "for it; the meter's copy travels sealed inside the token)", tok.token_len, path, mat.ms_len);
  stw_oscore_peer_t *peer = NULL;
  uint8_t *answer = NULL;
  unsigned code = 0;
  st = stw_thing_call_oscore(&peer, endpoint, tok.token, tok.token_len, &mat, STW_AIF_GET, path, NULL, 0, &code,
                             &answer, NULL);
  demo_say("oscore", "the utility posts the token to %s/authz-info (N1, N2), both derive the context, then GET %s "
      "protected end to end: %u.%02u %s", endpoint, path, code >> 5, code & 31, answer ? (char *)answer : "");
  free(answer);
  answer = NULL;
  stw_status_t outcome = st;
  uint8_t captured[1024];
  size_t captured_len = 0;
  const uint8_t *last = peer != NULL ? stw_oscore_peer_last_request(peer, &captured_len) : NULL;
  if (last != NULL && captured_len <= sizeof(captured))
    memcpy(captured, last, captured_len);
  else
    captured_len = 0;

  stw_status_t scope = stw_thing_call_oscore(&peer, endpoint, NULL, 0, NULL, STW_AIF_GET, "/config", NULL, 0, &code,
                                             &answer, NULL);
  demo_say("oscore", "the same context, GET /config (not in the token's scope): %u.%02u %s (the refusal is protected too)",
      code >> 5, code & 31, answer ? (char *)answer : "");
  free(answer);
  answer = NULL;

  char diag[128] = "";
  unsigned replay = captured_len > 0 ? resend_datagram(stw_thing_oscore_port(thing), captured, captured_len, diag,
                                                       sizeof(diag))
                                     : 0;
  demo_say("oscore", "an eavesdropper sends the captured GET datagram again: %u.%02u %s", replay >> 5, replay & 31, diag);

  char dtls_uri[64];
  snprintf(dtls_uri, sizeof(dtls_uri), "coaps://127.0.0.1:%u", stw_thing_port(thing));
  stw_token_t dtok;
  stw_status_t dtls = stw_token_request(consumer, uri, stw_dev_name(meter), path, STW_AIF_GET, &dtok, &r);
  if (dtls == STW_OK) {
    dtls = stw_thing_call(consumer, dtls_uri, dtok.rs_spki, dtok.rs_spki_len, dtok.token, dtok.token_len, STW_AIF_GET,
                          path, NULL, 0, &answer, NULL, &r);
    stw_token_clear(&dtok);
  }
  demo_say("dtls", "the same read over DTLS 1.2 with raw public keys at %s (the token's rs_cnf names the meter's key, "
      "no certificate travels): %s", dtls_uri, dtls == STW_OK ? (char *)answer : r.reason);
  free(answer);

  stw_oscore_peer_free(peer);
  stw_oscore_material_clear(&mat);
  stw_token_clear(&tok);
  if (outcome != STW_OK || dtls != STW_OK)
    return outcome != STW_OK ? outcome : dtls;
  return scope == STW_ERR_FORBIDDEN && replay == 0x81 ? STW_OK : STW_ERR_TAMPERED;  /* 4.01 */
}

/* The smart-meter story, and a maintenance window. */
static stw_status_t dcapbac_story(stw_store_t *store, const stw_domain_t *home, demo_device_t *thermo, const char *uri)
{
  stw_dev_t *meter = NULL, *utility = NULL, *maint = NULL;
  stw_thing_t *thing = NULL;
  meter_loop_t loop = { 0 };
  pthread_t tid;
  bool running = false;
  stw_token_t held;
  memset(&held, 0, sizeof(held));
  char rule[256], why[256], meter_uri[64];
  int64_t id = 0;
  uint64_t revoked = 0;
  printf("\n");
  stw_status_t st = stw_dev_open(thermo[0].dir, &meter);
  if (st == STW_OK)
    st = stw_dev_open(thermo[3].dir, &utility);
  if (st == STW_OK)
    st = stw_dev_open(thermo[4].dir, &maint);
  if (st == STW_OK)
    st = set_attr(store, home, thermo[3].imprint.id, "role", "utility");
  if (st == STW_OK)
    st = stw_thing_new(meter, "127.0.0.1:0", 60, &thing);
  if (st == STW_OK)
    st = stw_thing_resource(thing, "consumption", meter_answer, NULL);
  if (st == STW_OK)
    st = stw_thing_resource(thing, "config", meter_answer, NULL);
  if (st == STW_OK)
    st = stw_thing_watch_revocations(thing, uri);
  if (st == STW_OK)
    st = stw_thing_enable_oscore(thing, "127.0.0.1:0");
  if (st != STW_OK)
    goto out;
  loop.thing = thing;
  if (pthread_create(&tid, NULL, meter_loop, &loop) != 0) {
    st = STW_ERR_NOMEM;
    goto out;
  }
  running = true;
  snprintf(meter_uri, sizeof(meter_uri), "coaps://127.0.0.1:%u", stw_thing_port(thing));
  demo_say("device", "thermostat #1 is also the home's meter %s: it serves /consumption and /config at %s and checks "
      "every token itself (its own PEP, the domain key it pinned, no call home)", stw_dev_name(meter), meter_uri);
  snprintf(rule, sizeof(rule), "permit role=utility -> %s:/consumption GET if home.occupied==false",
           stw_dev_name(meter));
  if ((st = stw_authz_policy_add(store, home, rule, "share-consumption", "admin", stw_now(), &id, &revoked, why,
                                 sizeof(why))) != STW_OK)
    goto out;
  demo_say("policy", "%s", rule);
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  snprintf(rule, sizeof(rule), "permit role=maintainer -> %s:/config PUT if time %02d:00-%02d:59", stw_dev_name(meter),
           tm.tm_hour, tm.tm_hour);
  if ((st = stw_authz_policy_add(store, home, rule, "maintenance-window", "admin", stw_now(), &id, &revoked, why,
                                 sizeof(why))) != STW_OK)
    goto out;
  demo_say("policy", "%s   (the window is UTC, open now)", rule);

  if ((st = set_context(store, home, "home.occupied", "false")) != STW_OK)
    goto out;
  if (use_meter(utility, "the utility (#4)", uri, meter, meter_uri, STW_AIF_GET, "/consumption", &held) != STW_OK) {
    st = STW_ERR_FORBIDDEN;
    goto out;
  }
  use_meter(utility, "the utility (#4)", uri, meter, meter_uri, STW_AIF_PUT, "/config", NULL);
  use_meter(maint, "the maintainer (#5)", uri, meter, meter_uri, STW_AIF_PUT, "/config", NULL);

  uint64_t seq = stw_thing_revocation_seq(thing);
  if ((st = set_context(store, home, "home.occupied", "true")) != STW_OK)
    goto out;
  for (int i = 0; i < 100 && stw_thing_revocation_seq(thing) == seq; i++)
    usleep(50000);
  demo_say("device", "the meter hears it from the revocation list it observes (list now at %llu) and drops the token",
      (unsigned long long)stw_thing_revocation_seq(thing));
  stw_bootstrap_report_t r;
  uint8_t *answer = NULL;
  stw_status_t again = stw_thing_call(utility, meter_uri, held.rs_spki, held.rs_spki_len, NULL, 0, STW_AIF_GET,
                                      "/consumption", NULL, 0, &answer, NULL, &r);
  demo_say("authz", "the utility reads again with the same token: %s", again == STW_OK ? "accepted (unexpected!)" : r.reason);
  free(answer);
  use_meter(utility, "the utility (#4)", uri, meter, meter_uri, STW_AIF_GET, "/consumption", NULL);
  if ((st = set_context(store, home, "home.occupied", "false")) != STW_OK)
    goto out;
  use_meter(utility, "the utility (#4)", uri, meter, meter_uri, STW_AIF_GET, "/consumption", NULL);
  st = again == STW_OK ? STW_ERR_TAMPERED : STW_OK;

  /* Device to device: OSCORE and DTLS-RPK (issue 5). */
  if (st == STW_OK)
    st = session_story(uri, meter, utility, thing);
out:
  if (running) {
    loop.stop = true;
    pthread_join(tid, NULL);
  }
  stw_token_clear(&held);
  stw_thing_free(thing);
  stw_dev_close(meter);
  stw_dev_close(utility);
  stw_dev_close(maint);
  return st;
}

static int run_demo(const char *root)
{
  stw_factory_t *acme = NULL, *rogue = NULL;
  stw_domain_t *home = NULL, *neighbour = NULL;
  stw_store_t *store = NULL;
  stw_child_daemon_t daemon = { 0 };
  demo_device_t thermo[THERMOS], tag, rogue_dev, foreign;
  memset(thermo, 0, sizeof(thermo));
  memset(&tag, 0, sizeof(tag));
  memset(&rogue_dev, 0, sizeof(rogue_dev));
  memset(&foreign, 0, sizeof(foreign));
  char path[1100], devices[1100];
  int rc = 1;
  stw_status_t st;

  printf("Steward demo: factory imprinting and zero-touch bootstrapping, in %s\n\n", root);

  /* 1. Manufacturers. */
  if ((st = stw_path_join(path, sizeof(path), root, "mfg-acme")) != STW_OK ||
      (st = stw_factory_open(path, "ACME Devices", true, &acme)) != STW_OK)
    goto fail;
  demo_say("factory", "ACME Devices creates its manufacturer CA (P-256): %s/ca.pem", path);
  if ((st = stw_factory_new("Rogue Gadgets", &rogue)) != STW_OK)
    goto fail;
  demo_say("factory", "Rogue Gadgets creates a CA of its own; no owner trusts it");

  /* 2. Owners. */
  if ((st = stw_path_join(path, sizeof(path), root, "home")) != STW_OK ||
      (st = stw_domain_open(path, "home.example", &home)) != STW_OK ||
      (st = stw_store_open(home->store_url, &store)) != STW_OK)
    goto fail;
  demo_say("owner", "home.example sets up its domain in %s: domain CA, daemon key, SQLite store (WAL, synchronous=FULL)", path);
  if ((st = stw_path_join(path, sizeof(path), root, "neighbour")) != STW_OK ||
      (st = stw_domain_open(path, "neighbour.example", &neighbour)) != STW_OK)
    goto fail;
  demo_say("owner", "neighbour.example, another owner, has a domain of its own");

  /* 3. Devices leave the factory, each with its own identity. */
  if ((st = stw_path_join(devices, sizeof(devices), root, "devices")) != STW_OK)
    goto fail;
  static const char *const thermo_labels[THERMOS] = { "thermostat #1", "thermostat #2", "thermostat #3",
                                                      "thermostat #4", "thermostat #5" };
  for (int i = 0; i < THERMOS; i++) {
    char folder[32];
    snprintf(folder, sizeof(folder), "thermo-%d", i + 1);
    if ((st = make_device(devices, thermo_labels[i], folder, acme, "thermo-1", false, &thermo[i])) != STW_OK)
      goto fail;
  }
  if ((st = make_device(devices, "tag (PSK)", "tag-1", acme, "tag-1", true, &tag)) != STW_OK ||
      (st = make_device(devices, "rogue thermostat", "rogue", rogue, "thermo-1", false, &rogue_dev)) != STW_OK ||
      (st = make_device(devices, "neighbour's thermostat", "foreign", acme, "thermo-1", false, &foreign)) != STW_OK)
    goto fail;
  demo_say("factory", "ACME imprints 5 thermo-1 devices: each a fresh P-256 key and an IDevID (device id = first "
      "128 bits of SHA-256 of its public key), e.g. %s", thermo[0].imprint.id);
  demo_say("factory", "ACME imprints a tag-1, too small for public keys: a fresh 256-bit PSK, id %s", tag.imprint.id);
  demo_say("factory", "Rogue Gadgets imprints a thermostat; ACME imprints one more, sold to neighbour.example");
  struct stat sb;
  if ((st = stw_path_join(path, sizeof(path), thermo[0].dir, "idevid.pem")) == STW_OK && stat(path, &sb) == 0)
    demo_say("factory", "secrets are written atomically and owner-only: %s is %03o", path, (unsigned)(sb.st_mode & 0777));

  /* 4. The owner's policy and vouchers. */
  stw_rule_t rule;
  memset(&rule, 0, sizeof(rule));
  rule.kind = STW_RULE_GROUP;
  snprintf(rule.model, sizeof(rule.model), "thermo-1");
  if ((st = stw_store_trust_add(store, acme->name, acme->ca_der.data, acme->ca_der.len)) != STW_OK ||
      (st = stw_store_rule_add(store, &rule)) != STW_OK)
    goto fail;
  memset(&rule, 0, sizeof(rule));
  rule.kind = STW_RULE_DEVICE;
  snprintf(rule.device_id, sizeof(rule.device_id), "%s", tag.imprint.id);
  snprintf(rule.name_prefix, sizeof(rule.name_prefix), "tag-");
  if ((st = stw_store_rule_add(store, &rule)) != STW_OK)
    goto fail;
  demo_say("owner", "trusts ACME's CA; enrollment policy: group model=thermo-1, and the one tag-1 by its id");
  for (int i = 0; i < THERMOS; i++)
    import_voucher(store, home, acme, &thermo[i], &home->ca, "home.example");
  import_voucher(store, home, acme, &tag, &home->ca, "home.example");
  import_voucher(store, home, rogue, &rogue_dev, &home->ca, "home.example");
  import_voucher(store, home, acme, &foreign, &neighbour->ca, "neighbour.example");

  /* 5. The daemon, then the devices, with no manual step. */
  char log_path[1100];
  if ((st = stw_path_join(log_path, sizeof(log_path), root, "daemon.log")) != STW_OK ||
      (st = stw_spawn_daemon(NULL, home->dir, log_path, NULL, &daemon)) != STW_OK)
    goto fail;
  demo_say("daemon", "steward serve: EST over CoAPS (RFC 9148) on DTLS 1.2 at %s", daemon.uri);
  printf("\n");
  int enrolled = 0;
  for (int i = 0; i < THERMOS; i++)
    enrolled += bootstrap_one(&thermo[i], daemon.uri);
  enrolled += bootstrap_one(&tag, daemon.uri);
  bool rogue_in = bootstrap_one(&rogue_dev, daemon.uri);
  bool foreign_in = bootstrap_one(&foreign, daemon.uri);

  /* A clone of the tag's factory state tries its bootstrap PSK again. */
  stw_dev_t *clone = NULL;
  stw_bootstrap_report_t r;
  memset(&r, 0, sizeof(r));
  if (stw_dev_new_memory(NULL, NULL, tag.imprint.psk_identity, tag.imprint.psk, &clone) == STW_OK) {
    stw_status_t cst = stw_bootstrap(clone, daemon.uri, &r);
    demo_say("device", "%-22s %s", "tag, bootstrap PSK again", cst == STW_OK ? "accepted (unexpected!)" : r.reason);
    stw_dev_close(clone);
  }

  /* 6. Registration and privacy-aware discovery. */
  if ((st = discovery_story(store, home, thermo, &tag, daemon.uri)) != STW_OK)
    goto fail;

  /* 7. Capability tokens the devices enforce themselves, and context. */
  if ((st = dcapbac_story(store, home, thermo, daemon.uri)) != STW_OK)
    goto fail;

  /* 8. Later life: updates, attestation, quarantine, retirement, compliance. */
  char thermo_names[THERMOS][STW_NAME_MAX];
  demo_fleet_t fleet = { .store = store, .home = home, .vendor = acme, .model = "thermo-1", .uri = daemon.uri,
                         .root = root, .n = THERMOS, .tampered = 1 };
  for (int i = 0; i < THERMOS; i++) {
    stw_device_t d;
    thermo_names[i][0] = '\0';
    if (stw_store_device_get(store, thermo[i].imprint.id, &d) == STW_OK) {
      snprintf(thermo_names[i], sizeof(thermo_names[i]), "%s", d.name);
      stw_device_clear(&d);
    }
    fleet.dirs[i] = thermo[i].dir;
    fleet.labels[i] = thermo_labels[i];
    fleet.ids[i] = thermo[i].imprint.id;
    fleet.names[i] = thermo_names[i];
  }
  bool later_ok = false;
  if ((st = demo_later_life(&fleet, &later_ok)) != STW_OK)
    goto fail;

  /* 9. What the owner sees. */
  printf("\n");
  demo_say("owner", "steward admin devices:");
  cli_print_devices(store, -1);
  printf("\n");
  uint64_t count = 0, bad = 0;
  st = stw_store_audit_verify(store, &count, &bad);
  demo_say("owner", "steward admin audit (the last 16 of %llu records; every transition and refusal is there):",
      (unsigned long long)count);
  cli_print_audit(store, count > 16 ? count - 16 : 0);
  printf("\n");
  if (st == STW_OK)
    demo_say("owner", "steward admin audit --verify: hash chain intact, %llu records", (unsigned long long)count);
  else
    demo_say("owner", "audit chain BROKEN at record %llu", (unsigned long long)bad);
  int exit_code = stw_stop_daemon(&daemon);
  demo_say("daemon", "stopped (exit %d) after committing every promised answer", exit_code);

  bool as_expected = enrolled == THERMOS + 1 && !rogue_in && !foreign_in && st == STW_OK && exit_code == 0 && later_ok;
  printf("\n%s: %d devices enrolled, 2 refused with their reasons, %d registered and discovered by role, "
         "tokens enforced by the meter and revoked by context, reads over OSCORE and DTLS-RPK with the scope and replays "
         "refused, a staged update with one rollback, a tampered image quarantined and remediated, a device retired, the compliance report, the audit chain verified.\n",
         as_expected ? "demo complete" : "demo FAILED", enrolled, THERMOS);
  rc = as_expected ? 0 : 1;
  goto out;
fail:
  fprintf(stderr, "steward demo: %s\n", stw_status_str(st));
out:
  if (daemon.pid > 0)
    stw_stop_daemon(&daemon);
  for (int i = 0; i < THERMOS; i++)
    stw_imprint_clear(&thermo[i].imprint);
  stw_imprint_clear(&tag.imprint);
  stw_imprint_clear(&rogue_dev.imprint);
  stw_imprint_clear(&foreign.imprint);
  stw_store_close(store);
  stw_domain_close(home);
  stw_domain_close(neighbour);
  stw_factory_free(acme);
  stw_factory_free(rogue);
  return rc;
}

int cmd_demo(int argc, char **argv)
{
  if (cli_flag(argc, argv, "--help")) {
    printf("usage: steward demo [--keep DIR]\n\n"
           "Tells the first lifecycle step with the real daemon and SDK: two manufacturers,\n"
           "two owners, 5 thermostats and 1 PSK tag bootstrapped, 1 device of an untrusted\n"
           "manufacturer and 1 with a voucher for another owner refused with their reasons,\n"
           "discovery, tokens, OSCORE and DTLS-RPK between devices, then the later life: a\n"
           "staged update with one rollback, a tampered image quarantined and remediated, a\n"
           "device decommissioned and the EN 303 645 compliance report,\n"
           "the fleet table and the verified audit chain. Without --keep it works in a\n"
           "temporary folder and removes it afterwards.\n");
    return 0;
  }
  const char *keep = cli_opt(argc, argv, "--keep");
  char tmpl[] = "/tmp/steward-demo-XXXXXX";
  const char *root = keep;
  if (root == NULL) {
    root = mkdtemp(tmpl);
    if (root == NULL)
      return cli_fail("temporary folder", STW_ERR_IO);
  } else if (stw_mkdir_p(root, 0700) != STW_OK) {
    return cli_fail(root, STW_ERR_IO);
  }
  int rc = run_demo(root);
  if (keep == NULL) {
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
      fprintf(stderr, "steward demo: could not remove %s\n", root);
  } else {
    printf("kept in %s\n", root);
  }
  return rc;
}
