/* Integration harness: the real daemon as a child process on a free loopback
 * port, and a small world around it (a manufacturer, an owner domain, trust,
 * policy, vouchers), built in a temporary folder.
 *
 *   it_world_t w;  it_daemon_t d;  it_device_t a;
 *   it_world_init(&w, "home.example");          // domain + store + trusted ACME
 *   it_allow_model(&w, "thermo-1");
 *   it_device_new(&w, w.mfg, "thermo-1", false, &a);   // imprint + voucher import
 *   it_daemon_start(w.data, &d);                 // $STEWARD serve ... 127.0.0.1:0
 *   stw_bootstrap(a.dev, d.uri, &report);
 *   it_daemon_stop(&d);                          // SIGTERM; 0 when it exited cleanly
 *
 * The store stays open in the test process too (SQLite WAL lets a reader and a
 * second writer work beside the daemon), so tests read what the daemon wrote. */
#ifndef STW_IT_HARNESS_H
#define STW_IT_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "domain/domain.h"
#include "factory.h"
#include "steward/bootstrap.h"
#include "steward/thing.h"
#include "store/store.h"

#define IT_PATH_MAX 512

/* CoAP codes as the SDK reports them (class << 5 | detail). */
#define IT_COAP(c, d) ((unsigned)((c) << 5 | (d)))

/* ---- the daemon ------------------------------------------------------------ */

typedef struct {
  pid_t pid;                 /**< 0 when not running */
  unsigned port;
  char uri[64];              /**< "coaps://127.0.0.1:PORT" */
  char https_uri[64];        /**< "https://127.0.0.1:PORT" when started with --http-listen, else "" */
  char data_dir[IT_PATH_MAX];
  char log_path[IT_PATH_MAX + 16]; /**< the daemon's stderr, kept for diagnosis */
} it_daemon_t;

/** Start `$STEWARD serve --data data_dir --listen 127.0.0.1:0` and wait (10 s at
 *  most) for its "serving coaps://..." line. extra_args (NULL-terminated, may be
 *  NULL) are appended to the command line; with --http-listen among them, the
 *  "serving https://..." line that follows is read into https_uri too. */
stw_status_t it_daemon_start(const char *data_dir, const char *const *extra_args, it_daemon_t *d)
    __attribute__((warn_unused_result));
/** SIGTERM and wait (15 s at most, then SIGKILL). Returns the exit code (0 for a
 *  clean stop), or -1 when it died of a signal or had to be killed. */
int it_daemon_stop(it_daemon_t *d);
/** SIGKILL and reap: the crash. */
void it_daemon_kill(it_daemon_t *d);
/** True while the child has not exited. */
bool it_daemon_alive(it_daemon_t *d);
/** Print the daemon's stderr (for a failing test). */
void it_daemon_dump_log(const it_daemon_t *d);

/* ---- the world: manufacturer, domain, store --------------------------------- */

typedef struct {
  char *root;                /**< temporary folder, removed by it_world_free() */
  char data[IT_PATH_MAX];    /**< <root>/var: the daemon's --data */
  stw_factory_t *mfg;        /**< "ACME", trusted by the domain */
  stw_domain_t *domain;      /**< the owner domain (keys created on init) */
  stw_store_t *store;        /**< the daemon's store, opened by the test */
  char *mfg_ca_pem;          /**< ACME's CA certificate, PEM, NUL-terminated */
} it_world_t;

/** Create a domain named domain_name in a fresh folder, trust a fresh
 *  manufacturer "ACME". */
stw_status_t it_world_init(it_world_t *w, const char *domain_name) __attribute__((warn_unused_result));
void it_world_free(it_world_t *w);

/** Policy: allow a model (any manufacturer), or exactly one device. */
stw_status_t it_allow_model(it_world_t *w, const char *model) __attribute__((warn_unused_result));
stw_status_t it_allow_device(it_world_t *w, const char *device_id) __attribute__((warn_unused_result));
/** A test's start: a world "home.example" that allows model, and its daemon
 *  started with extra_args (as it_daemon_start). */
stw_status_t it_world_start(it_world_t *w, const char *model, const char *const *extra_args, it_daemon_t *d)
    __attribute__((warn_unused_result));
/** The device-to-device tests' start: the same, allowing meter-1 and
 *  gateway-1. */
stw_status_t it_home_start(it_world_t *w, const char *const *extra_args, it_daemon_t *d)
    __attribute__((warn_unused_result));
/** A test's end: SIGTERM the daemon (its log printed when it did not exit 0),
 *  recompute the audit chain of the store it leaves, free the world. Fails
 *  the test unless the daemon exited 0 and the chain verifies. */
void it_world_stop(it_world_t *w, it_daemon_t *d);

/** A CA certificate as PEM (malloc'd, NUL-terminated; caller frees). */
char *it_ca_pem(const stw_factory_t *f);

/* ---- devices ------------------------------------------------------------------ */

typedef struct {
  stw_imprint_t im;          /**< what the factory imprinted */
  stw_buf_t voucher;         /**< the voucher the factory signed (empty if none) */
  stw_dev_t *dev;            /**< the device, in memory */
} it_device_t;

/** Imprint a device at factory f (X.509, or PSK when psk), and open it in
 *  memory with f's CA as its anchor. No voucher. */
stw_status_t it_device_imprint(const stw_factory_t *f, const char *model, bool psk, it_device_t *out)
    __attribute__((warn_unused_result));
/** Have f sign a voucher giving the device to the owner whose CA key is
 *  owner_spki (NULL: this world's domain), keep it in dev->voucher. */
stw_status_t it_device_voucher(const it_world_t *w, const stw_factory_t *f, it_device_t *dev,
                               const uint8_t *owner_spki, size_t owner_spki_len)
    __attribute__((warn_unused_result));
/** Import dev->voucher as the operator would (stw_enroll_import_voucher);
 *  diag receives the refusal. */
stw_status_t it_device_import(it_world_t *w, it_device_t *dev, char *diag, size_t diag_len)
    __attribute__((warn_unused_result));
/** Imprint at the world's manufacturer, voucher for the world's domain, import. */
stw_status_t it_device_new(it_world_t *w, const char *model, bool psk, it_device_t *out)
    __attribute__((warn_unused_result));
/** A second in-memory device with the same factory identity (a clone, or the
 *  same device after losing its memory). */
stw_status_t it_device_reopen(const it_world_t *w, const it_device_t *dev, stw_dev_t **out)
    __attribute__((warn_unused_result));
/** it_device_new (X.509), then bootstrapped at the daemon at daemon_uri. */
stw_status_t it_device_enrolled(it_world_t *w, const char *daemon_uri, const char *model, it_device_t *out)
    __attribute__((warn_unused_result));
void it_device_free(it_device_t *dev);

/** Write the IDevID certificate and key of an X.509 device as two PEM files
 *  (what coap-client's -c and -j want). */
stw_status_t it_device_write_idevid(const it_device_t *dev, const char *cert_path, const char *key_path)
    __attribute__((warn_unused_result));

/* ---- the store, read from the test ------------------------------------------- */

/** State of a device; -1 when the store has no such device. */
int it_device_state(stw_store_t *st, const char *device_id);
uint64_t it_serial_count(stw_store_t *st);
/** The public key of the LDevID the store holds for a device, as DER SPKI
 *  (spki has STW_SPKI_MAX bytes); fails the test when there is none. */
void it_ldevid_spki(stw_store_t *st, const char *device_id, uint8_t *spki, size_t *len);
/** Sequence number of the last audit record (0 for an empty log). */
uint64_t it_audit_last(stw_store_t *st);
/** Number of audit records after seq `after` that match; NULL fields match
 *  anything. The last match is copied to *last when not NULL. */
unsigned it_audit_count(stw_store_t *st, uint64_t after, const char *action, const char *subject,
                        const char *outcome, stw_audit_t *last);
/** Print audit records after seq (a test's evidence, and help when it fails). */
void it_audit_print(stw_store_t *st, uint64_t after);

/* ---- libcoap's own client ------------------------------------------------------- */

typedef struct {
  int exit_code;
  unsigned code;             /**< CoAP code found in its output (e.g. 0x83), 0 when none */
  char output[1024];         /**< stdout + stderr */
} it_tool_result_t;

/** Run a program (argv[0] looked up in PATH) and capture its output. */
stw_status_t it_run_tool(const char *const *argv, unsigned timeout_s, it_tool_result_t *res)
    __attribute__((warn_unused_result));
/** coap-client-gnutls with the given client cert/key: method "get"/"post",
 *  path under the daemon, optional content format (<0: none), accept (<0: none),
 *  payload file (NULL: none), output file (NULL: none). A success answer has
 *  code 0 in res (coap-client prints only errors); see res->exit_code. */
stw_status_t it_coap_client(const it_daemon_t *d, const char *cert, const char *key, const char *method,
                            const char *path, int content_format, int accept, const char *payload_file,
                            const char *out_file, it_tool_result_t *res) __attribute__((warn_unused_result));

/** Write / read a whole file. it_read_file's result is malloc'd. */
stw_status_t it_write_file(const char *path, const void *data, size_t len) __attribute__((warn_unused_result));
uint8_t *it_read_file(const char *path, size_t *len);

/* ---- a meter for the device-to-device tests -------------------------------- */

/** A thing whose /consumption and /config both answer 2.05 "1234.5 kWh",
 *  served from its own thread. reads counts the answers across restarts. */
typedef struct {
  stw_thing_t *thing;
  pthread_t loop;
  atomic_bool stop;
  atomic_int reads;
  bool running;
} it_meter_t;

/** The thing for dev, its DTLS side on listen ("127.0.0.1:0": any port);
 *  configure it (revocations, OSCORE) before it_meter_start(). */
stw_status_t it_meter_new(stw_dev_t *dev, const char *listen, it_meter_t *m) __attribute__((warn_unused_result));
stw_status_t it_meter_start(it_meter_t *m) __attribute__((warn_unused_result));
/** A meter for dev on any loopback port, watching the daemon at daemon_uri for
 *  revocations, started; its "coaps://127.0.0.1:PORT" into uri. */
stw_status_t it_meter_serve(stw_dev_t *dev, const char *daemon_uri, it_meter_t *m, char *uri, size_t uri_len)
    __attribute__((warn_unused_result));
/** Stop the thread (the thing is single-threaded: touch it only paused);
 *  it_meter_start() resumes. */
void it_meter_pause(it_meter_t *m);
/** Stop the thread and free the thing (reads stays). */
void it_meter_free(it_meter_t *m);

/** Seconds, monotonic, as a double (for progress messages). */
double it_now_s(void);

#endif
