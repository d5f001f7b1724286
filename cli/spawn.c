#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

stw_status_t stw_spawn_daemon(const char *exe, const char *data_dir, const char *log_path,
                              const char *const *extra, stw_child_daemon_t *out)
{
  memset(out, 0, sizeof(*out));
  int pipefd[2];
  if (pipe(pipefd) != 0)
    return STW_ERR_IO;
  const char *argv[32] = { "steward", "serve", "--data", data_dir, "--listen", "127.0.0.1:0" };
  int argc = 6;
  for (const char *const *e = extra; e && *e && argc < 31; e++)
    argv[argc++] = *e;
  argv[argc] = NULL;
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return STW_ERR_IO;
  }
  if (pid == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    close(pipefd[0]);
    close(pipefd[1]);
    if (log_path != NULL) {
      int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
    }
    execv(exe ? exe : "/proc/self/exe", (char *const *)argv);
    _exit(127);
  }
  close(pipefd[1]);
  out->pid = pid;
  char line[256];
  size_t used = 0;
  uint64_t deadline = stw_monotonic_us() + 10u * 1000000u;
  stw_status_t st = STW_ERR_TIMEOUT;
  while (stw_monotonic_us() < deadline && used < sizeof(line) - 1) {
    struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
    if (poll(&p, 1, 100) <= 0)
      continue;
    ssize_t n = read(pipefd[0], line + used, sizeof(line) - 1 - used);
    if (n <= 0) {
      st = STW_ERR_IO; /* the daemon exited before serving */
      break;
    }
    used += (size_t)n;
    line[used] = '\0';
    char *nl = strchr(line, '\n');
    if (nl == NULL)
      continue;
    const char *colon = strrchr(line, ':');
    /* "serving coaps://127.0.0.1:PORT domain NAME" */
    const char *port_text = strstr(line, "127.0.0.1:");
    if (strncmp(line, "serving ", 8) == 0 && colon != NULL && port_text != NULL) {
      long port = strtol(port_text + 10, NULL, 10);
      if (port > 0 && port < 65536) {
        out->port = (uint16_t)port;
        snprintf(out->uri, sizeof(out->uri), "coaps://127.0.0.1:%ld", port);
        st = STW_OK;
      }
    }
    break;
  }
  close(pipefd[0]);
  if (st != STW_OK) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    out->pid = 0;
  }
  return st;
}

int stw_stop_daemon(stw_child_daemon_t *d)
{
  if (d->pid <= 0)
    return -1;
  kill(d->pid, SIGTERM);
  int status = 0;
  while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
    ;
  d->pid = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
