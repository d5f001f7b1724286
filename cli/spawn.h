/* Start `steward serve` as a child process and learn its port: the demo, the
 * benchmarks and the tests all drive the real daemon this way. */
#ifndef STW_CLI_SPAWN_H
#define STW_CLI_SPAWN_H

#include <stdint.h>
#include <sys/types.h>
#include "steward/status.h"

typedef struct {
  pid_t pid;
  uint16_t port;
  char uri[64];          /* "coaps://127.0.0.1:PORT" */
} stw_child_daemon_t;

/** Run `<exe> serve --data DIR --listen 127.0.0.1:0 [extra...]` with stderr
 *  sent to log_path (NULL: inherited) and wait up to 10 s for it to serve.
 *  exe NULL means this very program (/proc/self/exe). extra is NULL-terminated. */
stw_status_t stw_spawn_daemon(const char *exe, const char *data_dir, const char *log_path,
                              const char *const *extra, stw_child_daemon_t *out);
/** SIGTERM, wait; returns the exit status (or -1). */
int stw_stop_daemon(stw_child_daemon_t *d);

#endif
