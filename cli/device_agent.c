/* steward device attest | run: the attester and the update agent of one
 * device, as its firmware would run them. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "steward/attest.h"
#include "steward/update.h"

static const char *verdict_name(int verdict)
{
  return verdict == STW_VERDICT_AFFIRMING ? "affirming"
         : verdict == STW_VERDICT_WARNING ? "warning"
         : verdict == STW_VERDICT_CONTRAINDICATED ? "contraindicated" : "refused";
}

int device_attest(stw_dev_t *dev, const char *server)
{
  stw_attest_result_t r;
  memset(&r, 0, sizeof(r));
  stw_status_t st = stw_attest_now(dev, server, STW_ATTEST_ASKED, &r);
  if (st != STW_OK) {
    fprintf(stderr, "steward: attestation of %s failed: %s (%s)\n", stw_dev_id(dev),
            r.report.reason[0] ? r.report.reason : "-", stw_status_str(st));
    return 1;
  }
  printf("%s: %s%s%s\n", stw_dev_id(dev), verdict_name(r.verdict), r.reasons[0] ? ": " : "", r.reasons);
  return r.verdict == STW_VERDICT_CONTRAINDICATED ? 1 : 0;
}

static void print_update(stw_dev_t *dev, const stw_update_result_t *r, void *arg)
{
  (void)arg;
  printf("%s: update to sequence %llu %s%s%s\n", stw_dev_id(dev), (unsigned long long)r->sequence,
         r->status == STW_OK ? "installed and confirmed" : "not kept", r->status == STW_OK ? "" : ": ",
         r->status == STW_OK ? "" : r->detail);
  fflush(stdout);
}

int device_run(stw_dev_t *dev, const char *server, uint64_t seconds)
{
  stw_updater_t *u = NULL;
  stw_attester_t *a = NULL;
  stw_update_opts_t opts = { .on_result = print_update };
  stw_status_t st = stw_updater_new(&u);
  if (st == STW_OK)
    st = stw_updater_watch(u, dev, server, &opts);
  if (st == STW_OK)
    st = stw_attester_new(dev, server, &a);
  if (st != STW_OK) {
    stw_updater_free(u);
    return cli_fail("device agents", st);
  }
  printf("%s: observing /fw (updates) and /att (attestation) for %llu s\n", stw_dev_id(dev),
         (unsigned long long)seconds);
  fflush(stdout);
  uint64_t until = stw_monotonic_us() + seconds * 1000000u;
  unsigned answered = 0;
  while (stw_monotonic_us() < until) {
    stw_updater_run(u, 100);
    stw_attester_run(a, 100);
    if (stw_attester_answered(a) != answered) {
      answered = stw_attester_answered(a);
      const stw_attest_result_t *r = stw_attester_last(a);
      printf("%s: answered a challenge: %s%s%s\n", stw_dev_id(dev), verdict_name(r->verdict), r->reasons[0] ? ": " : "",
             r->reasons);
      fflush(stdout);
    }
  }
  stw_attester_free(a);
  stw_updater_free(u);
  return 0;
}
