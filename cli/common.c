#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_fail(const char *what, stw_status_t st)
{
  fprintf(stderr, "steward: %s: %s\n", what, stw_status_str(st));
  return 1;
}

static bool is_opt(const char *arg, const char *name, const char **value)
{
  size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0)
    return false;
  if (arg[n] == '\0') {
    *value = NULL;
    return true;
  }
  if (arg[n] == '=') {
    *value = arg + n + 1;
    return true;
  }
  return false;
}

const char *cli_opt(int argc, char **argv, const char *name)
{
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (is_opt(argv[i], name, &v))
      return v ? v : (i + 1 < argc ? argv[i + 1] : NULL);
  }
  return NULL;
}

bool cli_flag(int argc, char **argv, const char *name)
{
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0)
      return true;
  return false;
}

static bool takes_value(const char *arg, const char *const *with_value)
{
  for (const char *const *w = with_value; w && *w; w++)
    if (strcmp(arg, *w) == 0)
      return true;
  return false;
}

const char *cli_arg(int argc, char **argv, int n, const char *const *with_value)
{
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] == '-') {
      if (strchr(argv[i], '=') == NULL && takes_value(argv[i], with_value))
        i++;
      continue;
    }
    if (n-- == 0)
      return argv[i];
  }
  return NULL;
}

bool cli_check_options(int argc, char **argv, const char *const *allowed)
{
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] != '-' || argv[i][1] != '-')
      continue;
    size_t n = strcspn(argv[i], "=");
    bool ok = false;
    for (const char *const *a = allowed; *a; a++)
      if (strlen(*a) == n && strncmp(argv[i], *a, n) == 0)
        ok = true;
    if (!ok) {
      fprintf(stderr, "steward: unknown option %.*s\n", (int)n, argv[i]);
      return false;
    }
  }
  return true;
}

bool cli_parse_u64(const char *text, uint64_t *out)
{
  if (text == NULL || *text == '\0' || *text == '-')
    return false;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0')
    return false;
  *out = v;
  return true;
}

bool cli_parse_id(const char *text, int64_t *id)
{
  uint64_t v = 0;
  if (!cli_parse_u64(text, &v) || v == 0 || v > INT64_MAX)
    return false;
  *id = (int64_t)v;
  return true;
}

void cli_format_time(int64_t t, char *out, size_t len)
{
  time_t tt = (time_t)t;
  struct tm tm;
  if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(out, len, "-");
}

stw_status_t cli_read_cert(const char *path, stw_buf_t *der)
{
  uint8_t *pem = NULL;
  size_t len = 0;
  stw_status_t st = stw_file_read(path, 65536, &pem, &len);
  if (st == STW_OK)
    st = stw_pem_to_der("CERTIFICATE", pem, len, der);
  free(pem);
  return st;
}

stw_status_t cli_read_key(const char *path, stw_key_t **key)
{
  uint8_t *pem = NULL;
  size_t len = 0;
  stw_status_t st = stw_file_read(path, 65536, &pem, &len);
  if (st == STW_OK)
    st = stw_key_import_pem(pem, len, key);
  stw_wipe(pem, len);
  free(pem);
  return st;
}
