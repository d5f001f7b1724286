/* steward: one command for the manufacturer, the owner's daemon and admin,
 * devices, the simulator and the demo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "steward/steward.h"

static void usage(FILE *to)
{
  fprintf(to,
    "usage: steward <command> [options]\n"
    "\n"
    "  mfg init    --dir DIR [--name NAME]              manufacturer CA (P-256)\n"
    "  mfg imprint --dir DIR --model M --out DEV [--psk] unique IDevID (or PSK) for one device\n"
    "  mfg voucher --dir DIR --device DEV --owner CA.pem --out FILE [--days N]\n"
    "  serve       --data DIR [--listen HOST:PORT] [--plain HOST:PORT] [--ldevid-days N]\n"
    "  admin       --data DIR <init|trust-manufacturer|enroll|voucher|devices|device|audit> ...\n"
    "  device      --dir DEV --server coaps://HOST:PORT <bootstrap|reenroll|status>\n"
    "  sim         --devices N --server coaps://HOST:PORT --data DIR [--psk-share F] [--concurrency C]\n"
    "  demo        [--keep DIR]                         the whole story on a temporary store\n"
    "\n"
    "`steward <command> --help` says more. Exit status: 0 ok, 1 refused or failed, 2 usage.\n");
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "mfg") == 0) return cmd_mfg(argc - 1, argv + 1);
  if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
  if (strcmp(cmd, "admin") == 0) return cmd_admin(argc - 1, argv + 1);
  if (strcmp(cmd, "device") == 0) return cmd_device(argc - 1, argv + 1);
  if (strcmp(cmd, "sim") == 0) return cmd_sim(argc - 1, argv + 1);
  if (strcmp(cmd, "demo") == 0) return cmd_demo(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("steward %s\n", stw_version());
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "steward: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
