/* Small helpers the bench programs share. The build makes a program of each
 * .c file in bench/, so a shared helper lives here, static inline. */
#ifndef STW_BENCH_H
#define STW_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number after "key": in the one-line JSON summary `steward sim --json`
 * prints; -1 when the key is not there. */
static inline double bench_json_number(const char *json, const char *key)
{
  char pattern[64];
  snprintf(pattern, sizeof(pattern), "\"%s\":", key);
  const char *at = strstr(json, pattern);
  return at ? strtod(at + strlen(pattern), NULL) : -1;
}

#endif
