/* steward device: one device, driven through the SDK exactly as firmware would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "steward/bootstrap.h"
#include "steward/device.h"

static const char *const device_options[] = { "--dir", "--server", "--if-due", "--for", "--help", NULL };
static const char *const with_value[] = { "--dir", "--server", "--if-due", "--for", NULL };

static void usage(FILE *to)
{
  fprintf(to,
    "usage: steward device --dir DEVDIR [--server coaps://HOST:PORT] <command>\n"
    "  bootstrap               enroll with the owner's domain (voucher, EST /sen or PSK)\n"
    "  reenroll [--if-due F]   renew the LDevID over /sren (only past share F of its validity)\n"
    "  status                  what the device holds\n"
    "  factory-reset           wipe the owner's credentials and data, keep the factory identity\n"
    "  attest                  ask for a challenge and answer it with signed evidence\n"
    "  run [--for S]           run the update agent and the attester for S seconds (default 60)\n");
}

int cmd_device(int argc, char **argv)
{
  if (cli_flag(argc, argv, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!cli_check_options(argc, argv, device_options))
    return 2;
  const char *dir = cli_opt(argc, argv, "--dir");
  const char *server = cli_opt(argc, argv, "--server");
  const char *cmd = cli_arg(argc, argv, 0, with_value);
  if (dir == NULL || cmd == NULL) {
    usage(stderr);
    return 2;
  }
  stw_dev_t *dev = NULL;
  stw_status_t st = stw_dev_open(dir, &dev);
  if (st != STW_OK)
    return cli_fail(dir, st);
  int rc = 0;
  stw_bootstrap_report_t report;
  memset(&report, 0, sizeof(report));
  if (strcmp(cmd, "status") == 0) {
    printf("device  %s\nkind    %s\nstate   %s\nname    %s\n", stw_dev_id(dev),
           stw_dev_uses_psk(dev) ? "psk" : "x509", stw_dev_state(dev) == STW_DEV_ENROLLED ? "enrolled" : "factory",
           stw_dev_name(dev)[0] ? stw_dev_name(dev) : "-");
    if (stw_dev_cert_not_after(dev) != 0)
      printf("ldevid  serial %s, valid until %lld\n", stw_dev_cert_serial(dev), (long long)stw_dev_cert_not_after(dev));
  } else if (strcmp(cmd, "factory-reset") == 0) {
    st = stw_dev_factory_reset(dev);
    if (st == STW_OK) {
      printf("%s reset to its factory identity: bootstrap it with its new owner's voucher\n", stw_dev_id(dev));
    } else {
      fprintf(stderr, "steward: factory reset of %s incomplete: %s\n", stw_dev_id(dev), stw_status_str(st));
      rc = 1;
    }
  } else if (server == NULL) {
    fprintf(stderr, "steward device: --server coaps://HOST:PORT is required\n");
    rc = 2;
  } else if (strcmp(cmd, "bootstrap") == 0) {
    st = stw_bootstrap(dev, server, &report);
    if (st == STW_OK) {
      printf("enrolled %s as %s (%.1f ms)\n", stw_dev_id(dev), stw_dev_name(dev), report.latency_us / 1000.0);
    } else {
      fprintf(stderr, "steward: bootstrap of %s refused: %s (%s)\n", stw_dev_id(dev),
              report.reason[0] ? report.reason : "-", stw_status_str(st));
      rc = 1;
    }
  } else if (strcmp(cmd, "reenroll") == 0) {
    const char *due = cli_opt(argc, argv, "--if-due");
    bool renewed = true;
    if (due != NULL) {
      char *end = NULL;
      double share = strtod(due, &end);
      if (end == due || *end != '\0') {
        usage(stderr);
        stw_dev_close(dev);
        return 2;
      }
      st = stw_reenroll_if_due(dev, server, share, stw_now(), &renewed, &report);
    } else {
      st = stw_reenroll(dev, server, &report);
    }
    if (st == STW_OK && renewed)
      printf("renewed %s: LDevID serial %s\n", stw_dev_id(dev), stw_dev_cert_serial(dev));
    else if (st == STW_OK)
      printf("%s: not due yet\n", stw_dev_id(dev));
    else {
      fprintf(stderr, "steward: renewal of %s failed: %s (%s)\n", stw_dev_id(dev), report.reason, stw_status_str(st));
      rc = 1;
    }
  } else if (strcmp(cmd, "attest") == 0) {
    rc = device_attest(dev, server);
  } else if (strcmp(cmd, "run") == 0) {
    uint64_t seconds = 60;
    if (cli_opt(argc, argv, "--for") != NULL && !cli_parse_u64(cli_opt(argc, argv, "--for"), &seconds)) {
      usage(stderr);
      rc = 2;
    } else {
      rc = device_run(dev, server, seconds);
    }
  } else {
    usage(stderr);
    rc = 2;
  }
  stw_dev_close(dev);
  return rc;
}
