#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "enroll/enroll.h"
#include "pki.h"
#include "testutil.h"

#define DAEMON_READY_TIMEOUT_MS 10000
#define DAEMON_STOP_TIMEOUT_MS 15000
#define VOUCHER_LIFETIME_S (30 * 86400)

double it_now_s(void)
{
  return (double)stw_monotonic_us() / 1e6;
}

/* ---- child processes ---------------------------------------------------------- */

/* Wait for pid up to timeout_ms; true and *status when it exited. */
static bool wait_child(pid_t pid, unsigned timeout_ms, int *status)
{
  uint64_t deadline = stw_monotonic_us() + (uint64_t)timeout_ms * 1000u;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid)
      return true;
    if (r < 0 && errno != EINTR)
      return false;
    if (stw_monotonic_us() > deadline)
      return false;
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    nanosleep(&ts, NULL);
  }
}

/* Read one line from fd within the deadline; false on EOF or timeout. */
static bool read_line(int fd, char *line, size_t cap, unsigned timeout_ms)
{
  size_t len = 0;
  uint64_t deadline = stw_monotonic_us() + (uint64_t)timeout_ms * 1000u;
  while (len + 1 < cap) {
    uint64_t now = stw_monotonic_us();
    if (now >= deadline)
      return false;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, (int)((deadline - now) / 1000u) + 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n <= 0)
      return false;
    if (c == '\n')
      break;
    line[len++] = c;
  }
  line[len] = '\0';
  return true;
}

/* "serving coaps://127.0.0.1:PORT domain NAME" → PORT */
static bool parse_port(const char *line, unsigned *port)
{
  static const char prefix[] = "serving coaps://127.0.0.1:";
  if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
    return false;
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(line + sizeof(prefix) - 1, &end, 10);
  if (errno != 0 || end == line + sizeof(prefix) - 1 || *end != ' ' || v == 0 || v > 65535)
    return false;
  *port = (unsigned)v;
  return true;
}

stw_status_t it_daemon_start(const char *data_dir, const char *const *extra_args, it_daemon_t *d)
{
  memset(d, 0, sizeof(*d));
  const char *bin = getenv("STEWARD");
  if (bin == NULL || bin[0] == '\0') {
    fprintf(stderr, "harness: $STEWARD is not set (CTest sets it to the built binary)\n");
    return STW_ERR_INVALID;
  }
  snprintf(d->data_dir, sizeof(d->data_dir), "%s", data_dir);
  snprintf(d->log_path, sizeof(d->log_path), "%s.log", data_dir);

  const char *argv[32];
  size_t n = 0;
  argv[n++] = bin;
  argv[n++] = "serve";
  argv[n++] = "--data";
  argv[n++] = data_dir;
  argv[n++] = "--listen";
  argv[n++] = "127.0.0.1:0";
  for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
    argv[n++] = extra_args[i];
  argv[n] = NULL;

  int out[2];
  if (pipe(out) != 0)
    return STW_ERR_IO;
  int log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    close(out[0]);
    close(out[1]);
    return STW_ERR_IO;
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    close(log_fd);
    return STW_ERR_IO;
  }
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2(devnull, STDIN_FILENO);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(out[1]);
  close(log_fd);
  d->pid = pid;

  char line[256];
  bool ok = read_line(out[0], line, sizeof(line), DAEMON_READY_TIMEOUT_MS) && parse_port(line, &d->port);
  bool https = false;
  for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    https = https || strcmp(extra_args[i], "--http-listen") == 0;
  static const char https_prefix[] = "serving https://";
  if (ok && https) {
    ok = read_line(out[0], line, sizeof(line), DAEMON_READY_TIMEOUT_MS) &&
         strncmp(line, https_prefix, sizeof(https_prefix) - 1) == 0 && strlen(line) < sizeof(d->https_uri) + 8;
    if (ok)
      snprintf(d->https_uri, sizeof(d->https_uri), "%s", line + sizeof("serving ") - 1);
  }
  /* The daemon prints nothing more on stdout; closing our end is harmless
   * because it ignores SIGPIPE. */
  close(out[0]);
  if (!ok) {
    fprintf(stderr, "harness: the daemon did not report its port within %d ms\n", DAEMON_READY_TIMEOUT_MS);
    it_daemon_dump_log(d);
    it_daemon_kill(d);
    return STW_ERR_TIMEOUT;
  }
  snprintf(d->uri, sizeof(d->uri), "coaps://127.0.0.1:%u", d->port);
  return STW_OK;
}

int it_daemon_stop(it_daemon_t *d)
{
  if (d->pid <= 0)
    return -1;
  int status = 0;
  kill(d->pid, SIGTERM);
  if (!wait_child(d->pid, DAEMON_STOP_TIMEOUT_MS, &status)) {
    fprintf(stderr, "harness: the daemon did not stop within %d ms of SIGTERM; killing it\n",
            DAEMON_STOP_TIMEOUT_MS);
    it_daemon_kill(d);
    return -1;
  }
  d->pid = 0;
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) != 0)
      it_daemon_dump_log(d);
    return WEXITSTATUS(status);
  }
  fprintf(stderr, "harness: the daemon died of signal %d\n", WTERMSIG(status));
  it_daemon_dump_log(d);
  return -1;
}

void it_daemon_kill(it_daemon_t *d)
{
  if (d->pid <= 0)
    return;
  int status;
  kill(d->pid, SIGKILL);
  while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
    ;
  d->pid = 0;
}

bool it_daemon_alive(it_daemon_t *d)
{
  if (d->pid <= 0)
    return false;
  int status;
  pid_t r = waitpid(d->pid, &status, WNOHANG);
  if (r == d->pid) {
    d->pid = 0;
    return false;
  }
  return true;
}

void it_daemon_dump_log(const it_daemon_t *d)
{
  size_t len = 0;
  uint8_t *log = it_read_file(d->log_path, &len);
  if (log == NULL)
    return;
  fprintf(stderr, "---- daemon log %s ----\n%.*s---- end of daemon log ----\n", d->log_path, (int)len,
          (const char *)log);
  free(log);
}

/* ---- files --------------------------------------------------------------------- */

stw_status_t it_write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    return STW_ERR_IO;
  bool ok = fwrite(data, 1, len, f) == len;
  if (fclose(f) != 0)
    ok = false;
  return ok ? STW_OK : STW_ERR_IO;
}

uint8_t *it_read_file(const char *path, size_t *len)
{
  uint8_t *data = NULL;
  *len = 0;
  if (stw_file_read(path, 1u << 20, &data, len) != STW_OK)
    return NULL;
  return data;
}

/* ---- the world ------------------------------------------------------------------- */

char *it_ca_pem(const stw_factory_t *f)
{
  stw_buf_t pem;
  stw_buf_init(&pem, 8192);
  if (stw_der_to_pem("CERTIFICATE", f->ca_der.data, f->ca_der.len, &pem) != STW_OK ||
      stw_buf_append(&pem, "", 1) != STW_OK) {
    stw_buf_free(&pem, false);
    return NULL;
  }
  return (char *)pem.data; /* the buffer is the malloc'd string */
}

stw_status_t it_world_init(it_world_t *w, const char *domain_name)
{
  memset(w, 0, sizeof(*w));
  w->root = stw_test_tmpdir("it");
  snprintf(w->data, sizeof(w->data), "%s/var", w->root);
  stw_status_t st = stw_domain_open(w->data, domain_name, &w->domain);
  if (st == STW_OK)
    st = stw_store_open(w->domain->store_url, &w->store);
  if (st == STW_OK)
    st = stw_factory_new("ACME", &w->mfg);
  if (st == STW_OK && (w->mfg_ca_pem = it_ca_pem(w->mfg)) == NULL)
    st = STW_ERR_NOMEM;
  if (st == STW_OK)
    st = stw_store_trust_add(w->store, w->mfg->name, w->mfg->ca_der.data, w->mfg->ca_der.len);
  return st;
}

void it_world_free(it_world_t *w)
{
  stw_store_close(w->store);
  stw_domain_close(w->domain);
  stw_factory_free(w->mfg);
  free(w->mfg_ca_pem);
  if (w->root != NULL && getenv("STW_KEEP_TMP") == NULL)
    stw_test_rmtree(w->root);
  free(w->root);
  memset(w, 0, sizeof(*w));
}

stw_status_t it_allow_model(it_world_t *w, const char *model)
{
  stw_rule_t r;
  memset(&r, 0, sizeof(r));
  r.kind = STW_RULE_GROUP;
  snprintf(r.model, sizeof(r.model), "%s", model);
  return stw_store_rule_add(w->store, &r);
}

stw_status_t it_allow_device(it_world_t *w, const char *device_id)
{
  stw_rule_t r;
  memset(&r, 0, sizeof(r));
  r.kind = STW_RULE_DEVICE;
  snprintf(r.device_id, sizeof(r.device_id), "%s", device_id);
  return stw_store_rule_add(w->store, &r);
}

/* The world, the models allowed (NULL-terminated), then the daemon. */
static stw_status_t world_start(it_world_t *w, const char *const *models, const char *const *extra_args,
                                it_daemon_t *d)
{
  stw_status_t st = it_world_init(w, "home.example");
  for (size_t i = 0; st == STW_OK && models[i] != NULL; i++)
    st = it_allow_model(w, models[i]);
  if (st == STW_OK)
    st = it_daemon_start(w->data, extra_args, d);
  if (st == STW_OK)
    printf("    daemon pid %d serving %s\n", (int)d->pid, d->uri);
  return st;
}

stw_status_t it_world_start(it_world_t *w, const char *model, const char *const *extra_args, it_daemon_t *d)
{
  const char *const models[] = { model, NULL };
  return world_start(w, models, extra_args, d);
}

stw_status_t it_home_start(it_world_t *w, const char *const *extra_args, it_daemon_t *d)
{
  static const char *const models[] = { "meter-1", "gateway-1", NULL };
  return world_start(w, models, extra_args, d);
}

void it_world_stop(it_world_t *w, it_daemon_t *d)
{
  int rc = it_daemon_stop(d);
  if (rc != 0)
    it_daemon_dump_log(d);
  uint64_t checked = 0, bad = 0;
  stw_status_t verify = stw_store_audit_verify(w->store, &checked, &bad);
  if (verify != STW_OK)
    printf("    audit chain: %s at record %" PRIu64 " of %" PRIu64 "\n", stw_status_str(verify), bad, checked);
  it_world_free(w);
  assert_int_equal(rc, 0);
  assert_int_equal(verify, STW_OK);
}

/* ---- devices ----------------------------------------------------------------------- */

static stw_status_t open_memory_device(const stw_imprint_t *im, const char *mfg_ca_pem, stw_dev_t **out)
{
  if (im->psk_device)
    return stw_dev_new_memory(NULL, NULL, im->psk_identity, im->psk, out);
  return stw_dev_new_memory((const char *)im->idevid_pem.data, mfg_ca_pem, NULL, NULL, out);
}

stw_status_t it_device_imprint(const stw_factory_t *f, const char *model, bool psk, it_device_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_buf_init(&out->voucher, STW_VOUCHER_MAX);
  char *ca_pem = it_ca_pem(f);
  if (ca_pem == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = stw_factory_imprint(f, model, psk, &out->im);
  if (st == STW_OK)
    st = open_memory_device(&out->im, ca_pem, &out->dev);
  free(ca_pem);
  return st;
}

stw_status_t it_device_voucher(const it_world_t *w, const stw_factory_t *f, it_device_t *dev,
                               const uint8_t *owner_spki, size_t owner_spki_len)
{
  if (owner_spki == NULL) {
    owner_spki = w->domain->ca.spki;
    owner_spki_len = w->domain->ca.spki_len;
  }
  dev->voucher.len = 0;
  return stw_factory_voucher(f, &dev->im, owner_spki, owner_spki_len, VOUCHER_LIFETIME_S, &dev->voucher);
}

stw_status_t it_device_import(it_world_t *w, it_device_t *dev, char *diag, size_t diag_len)
{
  char id[STW_ID_HEX];
  diag[0] = '\0';
  return stw_enroll_import_voucher(w->store, w->domain, dev->voucher.data, dev->voucher.len, id, diag, diag_len);
}

stw_status_t it_device_new(it_world_t *w, const char *model, bool psk, it_device_t *out)
{
  char diag[192];
  stw_status_t st = it_device_imprint(w->mfg, model, psk, out);
  if (st == STW_OK)
    st = it_device_voucher(w, w->mfg, out, NULL, 0);
  if (st == STW_OK && (st = it_device_import(w, out, diag, sizeof(diag))) != STW_OK)
    fprintf(stderr, "harness: voucher import refused: %s (%s)\n", stw_status_str(st), diag);
  return st;
}

stw_status_t it_device_enrolled(it_world_t *w, const char *daemon_uri, const char *model, it_device_t *out)
{
  stw_bootstrap_report_t rep;
  stw_status_t st = it_device_new(w, model, false, out);
  if (st == STW_OK)
    st = stw_bootstrap(out->dev, daemon_uri, &rep);
  return st;
}

stw_status_t it_device_reopen(const it_world_t *w, const it_device_t *dev, stw_dev_t **out)
{
  return open_memory_device(&dev->im, w->mfg_ca_pem, out);
}

void it_device_free(it_device_t *dev)
{
  stw_dev_close(dev->dev);
  stw_imprint_clear(&dev->im);
  stw_buf_free(&dev->voucher, false);
  memset(dev, 0, sizeof(*dev));
}

/* The PEM block that starts with "-----BEGIN <label>" (any label containing
 * label_part), up to the end of its END line. */
static bool pem_block(const char *pem, const char *begin_marker, const char *end_marker, const char **start,
                      size_t *len)
{
  const char *b = strstr(pem, begin_marker);
  if (b == NULL)
    return false;
  const char *e = strstr(b, end_marker);
  if (e == NULL)
    return false;
  e = strchr(e + 1, '\n');
  if (e == NULL)
    return false;
  *start = b;
  *len = (size_t)(e + 1 - b);
  return true;
}

stw_status_t it_device_write_idevid(const it_device_t *dev, const char *cert_path, const char *key_path)
{
  const char *pem = (const char *)dev->im.idevid_pem.data;
  const char *cert, *key;
  size_t cert_len, key_len;
  if (pem == NULL || !pem_block(pem, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----", &cert, &cert_len) ||
      !pem_block(pem, "-----BEGIN EC PRIVATE KEY-----", "-----END EC PRIVATE KEY-----", &key, &key_len))
    return STW_ERR_MALFORMED;
  stw_status_t st = it_write_file(cert_path, cert, cert_len);
  if (st == STW_OK)
    st = it_write_file(key_path, key, key_len);
  if (st == STW_OK && chmod(key_path, 0600) != 0)
    st = STW_ERR_IO;
  return st;
}

/* ---- the store ---------------------------------------------------------------------- */

int it_device_state(stw_store_t *st, const char *device_id)
{
  stw_device_t d;
  if (stw_store_device_get(st, device_id, &d) != STW_OK)
    return -1;
  int state = (int)d.state;
  stw_device_clear(&d);
  return state;
}

uint64_t it_serial_count(stw_store_t *st)
{
  uint64_t n = 0;
  assert_int_equal(stw_store_serial_count(st, &n), STW_OK);
  return n;
}

void it_ldevid_spki(stw_store_t *st, const char *device_id, uint8_t *spki, size_t *len)
{
  stw_device_t row;
  assert_int_equal(stw_store_device_get(st, device_id, &row), STW_OK);
  stw_cert_info_t info;
  assert_int_equal(stw_cert_parse(row.ldevid, row.ldevid_len, &info), STW_OK);
  memcpy(spki, info.spki, info.spki_len);
  *len = info.spki_len;
  stw_device_clear(&row);
}

uint64_t it_audit_last(stw_store_t *st)
{
  uint64_t last = 0;
  assert_int_equal(stw_store_audit_last(st, &last), STW_OK);
  return last;
}

typedef struct {
  const char *action, *subject, *outcome;
  unsigned count;
  stw_audit_t *last;
} audit_match_t;

static stw_status_t match_audit(const stw_audit_t *a, void *arg)
{
  audit_match_t *m = arg;
  if ((m->action == NULL || strcmp(a->action, m->action) == 0) &&
      (m->subject == NULL || strcmp(a->subject, m->subject) == 0) &&
      (m->outcome == NULL || strcmp(a->outcome, m->outcome) == 0)) {
    m->count++;
    if (m->last != NULL)
      *m->last = *a;
  }
  return STW_OK;
}

unsigned it_audit_count(stw_store_t *st, uint64_t after, const char *action, const char *subject,
                        const char *outcome, stw_audit_t *last)
{
  audit_match_t m = { .action = action, .subject = subject, .outcome = outcome, .last = last };
  assert_int_equal(stw_store_audit_list(st, after, 0, match_audit, &m), STW_OK);
  return m.count;
}

static stw_status_t print_audit(const stw_audit_t *a, void *arg)
{
  (void)arg;
  printf("      audit #%" PRIu64 " %-22s %-12.12s %-24s %s\n", a->seq, a->action, a->subject, a->outcome, a->detail);
  return STW_OK;
}

void it_audit_print(stw_store_t *st, uint64_t after)
{
  assert_int_equal(stw_store_audit_list(st, after, 0, print_audit, NULL), STW_OK);
}

/* ---- tools ------------------------------------------------------------------------- */

/* "4.03 ..." at the start of a line of coap-client's output → 0x83. */
static unsigned find_coap_code(const char *out)
{
  for (const char *line = out; line != NULL && *line; ) {
    if (line[0] >= '2' && line[0] <= '5' && line[1] == '.' && line[2] >= '0' && line[2] <= '3' &&
        line[3] >= '0' && line[3] <= '9' && (line[4] == ' ' || line[4] == '\n' || line[4] == '\0'))
      return IT_COAP(line[0] - '0', (line[2] - '0') * 10 + (line[3] - '0'));
    line = strchr(line, '\n');
    if (line != NULL)
      line++;
  }
  return 0;
}

stw_status_t it_run_tool(const char *const *argv, unsigned timeout_s, it_tool_result_t *res)
{
  memset(res, 0, sizeof(*res));
  res->exit_code = -1;
  int out[2];
  if (pipe(out) != 0)
    return STW_ERR_IO;
  pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return STW_ERR_IO;
  }
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(out[1]);
  size_t len = 0;
  uint64_t deadline = stw_monotonic_us() + (uint64_t)timeout_s * 1000000u;
  for (;;) {
    uint64_t now = stw_monotonic_us();
    if (now >= deadline)
      break;
    struct pollfd p = { .fd = out[0], .events = POLLIN };
    int r = poll(&p, 1, (int)((deadline - now) / 1000u) + 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    char chunk[256];
    ssize_t n = read(out[0], chunk, sizeof(chunk));
    if (n <= 0)
      break;
    size_t take = (size_t)n;
    if (take > sizeof(res->output) - 1 - len)
      take = sizeof(res->output) - 1 - len;
    memcpy(res->output + len, chunk, take);
    len += take;
  }
  res->output[len] = '\0';
  close(out[0]);
  int status = 0;
  if (!wait_child(pid, 1000, &status)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "harness: %s did not finish within %u s\n", argv[0], timeout_s);
    return STW_ERR_TIMEOUT;
  }
  res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  res->code = find_coap_code(res->output);
  return STW_OK;
}

stw_status_t it_coap_client(const it_daemon_t *d, const char *cert, const char *key, const char *method,
                            const char *path, int content_format, int accept, const char *payload_file,
                            const char *out_file, it_tool_result_t *res)
{
  char uri[128], cf[16], acc[16];
  snprintf(uri, sizeof(uri), "%s/%s", d->uri, path);
  snprintf(cf, sizeof(cf), "%d", content_format);
  snprintf(acc, sizeof(acc), "%d", accept);
  const char *argv[24];
  size_t n = 0;
  argv[n++] = "coap-client-gnutls";
  argv[n++] = "-c";
  argv[n++] = cert;
  argv[n++] = "-j";
  argv[n++] = key;
  argv[n++] = "-m";
  argv[n++] = method;
  argv[n++] = "-B";   /* give up after 10 s rather than the default 90 */
  argv[n++] = "10";
  if (content_format >= 0) {
    argv[n++] = "-t";
    argv[n++] = cf;
  }
  if (accept >= 0) {
    argv[n++] = "-A";
    argv[n++] = acc;
  }
  if (payload_file != NULL) {
    argv[n++] = "-f";
    argv[n++] = payload_file;
    argv[n++] = "-b";   /* block-wise in 1024-byte blocks when the payload is large */
    argv[n++] = "1024";
  }
  if (out_file != NULL) {
    argv[n++] = "-o";
    argv[n++] = out_file;
  }
  argv[n++] = uri;
  argv[n] = NULL;
  return it_run_tool(argv, 20, res);
}

/* ---- a meter for the device-to-device tests -------------------------------- */

static unsigned meter_reading(void *arg, unsigned method, const char *path, const uint8_t *body, size_t len,
                              uint8_t *out, size_t cap, size_t *out_len)
{
  (void)method;
  (void)path;
  (void)body;
  (void)len;
  it_meter_t *m = arg;
  atomic_fetch_add(&m->reads, 1);
  *out_len = (size_t)snprintf((char *)out, cap, "1234.5 kWh");
  return IT_COAP(2, 5);
}

static void *meter_serve(void *arg)
{
  it_meter_t *m = arg;
  while (!atomic_load(&m->stop))
    stw_thing_run(m->thing, 20);
  return NULL;
}

stw_status_t it_meter_new(stw_dev_t *dev, const char *listen, it_meter_t *m)
{
  m->thing = NULL;
  m->running = false;
  stw_status_t st = stw_thing_new(dev, listen, 30, &m->thing);
  if (st == STW_OK)
    st = stw_thing_resource(m->thing, "consumption", meter_reading, m);
  if (st == STW_OK)
    st = stw_thing_resource(m->thing, "config", meter_reading, m);
  if (st != STW_OK) {
    stw_thing_free(m->thing);
    m->thing = NULL;
  }
  return st;
}

stw_status_t it_meter_serve(stw_dev_t *dev, const char *daemon_uri, it_meter_t *m, char *uri, size_t uri_len)
{
  stw_status_t st = it_meter_new(dev, "127.0.0.1:0", m);
  if (st == STW_OK)
    st = stw_thing_watch_revocations(m->thing, daemon_uri);
  if (st == STW_OK) {
    snprintf(uri, uri_len, "coaps://127.0.0.1:%u", stw_thing_port(m->thing));
    st = it_meter_start(m);
  }
  return st;
}

stw_status_t it_meter_start(it_meter_t *m)
{
  atomic_store(&m->stop, false);
  if (pthread_create(&m->loop, NULL, meter_serve, m) != 0)
    return STW_ERR_NOMEM;
  m->running = true;
  return STW_OK;
}

void it_meter_pause(it_meter_t *m)
{
  if (m->running) {
    atomic_store(&m->stop, true);
    pthread_join(m->loop, NULL);
    m->running = false;
  }
}

void it_meter_free(it_meter_t *m)
{
  it_meter_pause(m);
  stw_thing_free(m->thing);
  m->thing = NULL;
}
