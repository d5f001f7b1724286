/* bench/rollout: a firmware campaign to a simulated fleet through the real
 * daemon on loopback: time until the campaign is done, manifests and images
 * delivered per second.
 *
 *   bench/rollout [--devices N] [--image BYTES] [--canary PCT] [--steward PATH]
 *
 * `steward sim --rollout` enrolls N devices (the real SDK), starts the update
 * agent on each (one DTLS session per device, observing /fw), and once all
 * observe, the manufacturer signs an image, the owner publishes it and starts
 * a campaign for the model. Each device is offered the envelope by an observe
 * notification, verifies both signatures, reports, fetches the image in
 * 1 KiB blocks, installs it in its inactive slot, self-tests, confirms and
 * reports again. The image is small on purpose (default 4 KiB: 4 blocks):
 * what is measured is the campaign machinery, not the loopback's bandwidth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "spawn.h"
#include "util.h"

int main(int argc, char **argv)
{
  unsigned devices = 1000, image = 4096, canary = 10;
  char steward[1024];
  snprintf(steward, sizeof(steward), "%s", STEWARD_BINARY);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--devices") == 0)
      devices = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--image") == 0)
      image = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--canary") == 0)
      canary = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--steward") == 0)
      snprintf(steward, sizeof(steward), "%s", argv[i + 1]);
  }
  printf("bench/rollout on %ld cores; daemon %s\n", sysconf(_SC_NPROCESSORS_ONLN), steward);
  char dir[] = "/tmp/steward-bench-XXXXXX";
  if (mkdtemp(dir) == NULL)
    return 1;
  char data[1100], cmd[4096], line[2048], rollout[2048] = "", sim[2048] = "";
  snprintf(data, sizeof(data), "%s/var", dir);
  stw_child_daemon_t d;
  if (stw_spawn_daemon(steward, data, NULL, NULL, &d) != STW_OK) {
    fprintf(stderr, "could not start the daemon\n");
    return 1;
  }
  snprintf(cmd, sizeof(cmd),
           "'%s' sim --devices %u --concurrency 64 --server %s --data '%s' --rollout %u --canary %u "
           "--max-failures 20 --watch 600 --json", steward, devices, d.uri, data, image, canary);
  FILE *p = popen(cmd, "r");
  while (p != NULL && fgets(line, sizeof(line), p))
    snprintf(strstr(line, "rollout_devices") ? rollout : sim, sizeof(rollout), "%s", line);
  int rc = p ? pclose(p) : -1;
  int daemon_rc = stw_stop_daemon(&d);
  printf("enroll: %u devices in %.2f s (%.0f/s), before the roll-out\n", devices, bench_json_number(sim, "seconds"),
         bench_json_number(sim, "enrollments_per_s"));
  printf("rollout: %.0f devices observing /fw; campaign (canary %u%%, then the rest) to %.0f devices, image %u bytes "
         "(%.0f blocks of 1 KiB fetched)\n", bench_json_number(rollout, "observing"), canary,
         bench_json_number(rollout, "targets"), image, bench_json_number(rollout, "blocks"));
  printf("rollout: done in %.2f s: %.0f installed, %.0f failed; %.1f manifests/s verified and reported, "
         "%.1f images/s delivered and installed\n", bench_json_number(rollout, "seconds"),
         bench_json_number(rollout, "installed"), bench_json_number(rollout, "failed"),
         bench_json_number(rollout, "manifests_per_s"), bench_json_number(rollout, "images_per_s"));
  printf("daemon exit %d, sim exit %d\n", daemon_rc, rc);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return rc == 0 ? 0 : 1;
}
