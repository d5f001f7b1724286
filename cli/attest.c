/* steward admin attest | attestations | quarantine | release: the operator's
 * side of attestation (docs/attestation.md). The CLI works on the store; the
 * daemon follows an "attest.request" audit record and challenges the device
 * the next time it listens on /att. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "cli.h"
#include "evidence.h"
#include "store/store.h"
#include "util.h"

static void print_row(const stw_attest_row_t *r)
{
  char when[32], image[17];
  cli_format_time(r->at, when, sizeof(when));
  stw_hex_encode(r->image_digest, 8, image);
  printf("%-6lld  %-32s  %-20s  %-15s  %-8s  %-16s  %-5llu  %s\n", (long long)r->id, r->device_id, when,
         stw_ear_name(r->verdict), r->trigger, image, (unsigned long long)r->boot_count,
         r->reasons[0] ? r->reasons : "-");
}

static stw_status_t print_attest(const stw_attest_row_t *r, void *ctx)
{
  (void)ctx;
  print_row(r);
  return STW_OK;
}

static void header(void)
{
  printf("%-6s  %-32s  %-20s  %-15s  %-8s  %-16s  %-5s  %s\n", "ID", "DEVICE", "AT", "VERDICT", "TRIGGER", "IMAGE",
         "BOOT", "REASONS");
}

static stw_status_t print_latest(const stw_device_t *d, void *ctx)
{
  stw_store_t *st = ctx;
  stw_attest_row_t row;
  stw_status_t rc = stw_store_attest_latest(st, d->id, &row);
  if (rc == STW_OK)
    print_row(&row);
  return rc == STW_ERR_NOT_FOUND ? STW_OK : rc;
}

/* Wait up to seconds for a result newer than after_id. */
static int wait_result(stw_store_t *st, const char *id, int64_t after_id, uint64_t seconds)
{
  for (uint64_t waited_ms = 0; waited_ms <= seconds * 1000; waited_ms += 200) {
    stw_attest_row_t row;
    if (stw_store_attest_latest(st, id, &row) == STW_OK && row.id > after_id) {
      header();
      print_row(&row);
      return 0;
    }
    struct timespec ts = { 0, 200 * 1000000L };
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "steward: no result from %s within %llu s (is it observing /att?)\n", id,
          (unsigned long long)seconds);
  return 1;
}

int admin_attest(struct stw_store *store, const char *cmd, const char *id, const char *wait)
{
  if (strcmp(cmd, "attestations") == 0) {
    header();
    stw_status_t st = id ? stw_store_attest_list(store, id, 0, print_attest, NULL)
                         : stw_store_device_list(store, -1, print_latest, store);
    return st == STW_OK ? 0 : cli_fail("attestations", st);
  }
  if (id == NULL) {
    fprintf(stderr, "usage: steward admin --data DIR %s ID\n", cmd);
    return 2;
  }
  stw_status_t st;
  if (strcmp(cmd, "attest") == 0) {
    uint64_t seconds = 0;
    if (wait != NULL && (!cli_parse_u64(wait, &seconds) || seconds > 3600)) {
      fprintf(stderr, "steward: --wait takes 0..3600 seconds\n");
      return 2;
    }
    stw_attest_row_t before;
    int64_t after_id = stw_store_attest_latest(store, id, &before) == STW_OK ? before.id : 0;
    if ((st = stw_attest_request(store, id, "admin")) != STW_OK)
      return cli_fail(id, st);
    printf("attestation requested from %s: the daemon challenges it on /att\n", id);
    return seconds > 0 ? wait_result(store, id, after_id, seconds) : 0;
  }
  if (strcmp(cmd, "quarantine") == 0) {
    uint64_t revoked = 0;
    st = stw_attest_quarantine(store, id, "admin", "quarantined by the operator", stw_now(), &revoked);
    if (st == STW_ERR_STATE) {
      fprintf(stderr, "steward: %s cannot be quarantined in its state\n", id);
      return 1;
    }
    if (st != STW_OK)
      return cli_fail(id, st);
    printf("quarantined %s: %llu tokens revoked, directory entries hidden\n", id, (unsigned long long)revoked);
    return 0;
  }
  st = stw_attest_release(store, id, "admin", "released by the operator");
  if (st == STW_ERR_STATE) {
    fprintf(stderr, "steward: %s is not quarantined\n", id);
    return 1;
  }
  if (st != STW_OK)
    return cli_fail(id, st);
  printf("released %s: operational again\n", id);
  return 0;
}
