/* steward mfg: the manufacturer's tool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "factory.h"

static const char *const mfg_options[] = { "--dir", "--name", "--model", "--out", "--psk", "--device",
                                           "--owner", "--days", "--help",
                                           "--image", "--class", "--sequence", "--component", NULL };

static void usage(FILE *to)
{
  fprintf(to,
    "usage: steward mfg init    --dir DIR [--name NAME]\n"
    "       steward mfg imprint --dir DIR --model MODEL --out DEVDIR [--psk]\n"
    "       steward mfg voucher --dir DIR --device DEVDIR --owner DOMAIN-CA.pem --out FILE [--days N]\n"
    "       steward mfg firmware-sign --dir DIR --image FILE --class MODEL --sequence N [--out MANIFEST]\n"
    "\n"
    "init     creates the manufacturer CA (P-256) in DIR: ca.key (0600), ca.pem.\n"
    "imprint  gives one device a fresh key pair and an IDevID certificate (subject\n"
    "         CN and serialNumber = the device id, O = manufacturer, OU = model), or\n"
    "         with --psk a fresh 256-bit PSK. Never a shared or default secret.\n"
    "         Prints the device id: the first 128 bits of SHA-256 of its public key.\n"
    "voucher  signs an ownership voucher (COSE_Sign1) giving the device to the owner\n"
    "         whose domain CA is DOMAIN-CA.pem; a PSK device's PSK travels sealed to\n"
    "         that owner. --days 0 (default) never expires.\n"
    "firmware-sign  signs a manifest (COSE_Sign1, docs/updates.md) for an image:\n"
    "         vendor = this manufacturer, class = MODEL, its size and SHA-256;\n"
    "         the owner publishes it with `steward admin firmware publish`.\n");
}

static int mfg_init(int argc, char **argv)
{
  const char *dir = cli_opt(argc, argv, "--dir");
  const char *name = cli_opt(argc, argv, "--name");
  if (dir == NULL) {
    usage(stderr);
    return 2;
  }
  stw_factory_t *f = NULL;
  stw_status_t st = stw_factory_open(dir, name ? name : "ACME Devices", true, &f);
  if (st == STW_ERR_EXISTS) {
    fprintf(stderr, "steward: %s already holds a manufacturer CA; not replacing it\n", dir);
    return 1;
  }
  if (st != STW_OK)
    return cli_fail("mfg init", st);
  printf("manufacturer %s: CA in %s/ca.pem\n", f->name, dir);
  stw_factory_free(f);
  return 0;
}

static int mfg_imprint(int argc, char **argv)
{
  const char *dir = cli_opt(argc, argv, "--dir");
  const char *model = cli_opt(argc, argv, "--model");
  const char *out = cli_opt(argc, argv, "--out");
  if (dir == NULL || model == NULL || out == NULL) {
    usage(stderr);
    return 2;
  }
  if (strlen(model) >= STW_NAME_MAX || strlen(model) == 0) {
    fprintf(stderr, "steward: --model must be 1 to %d characters\n", STW_NAME_MAX - 1);
    return 2;
  }
  stw_factory_t *f = NULL;
  stw_imprint_t im;
  memset(&im, 0, sizeof(im));
  stw_status_t st = stw_factory_open(dir, NULL, false, &f);
  if (st != STW_OK)
    return cli_fail("mfg imprint: manufacturer CA", st);
  st = stw_factory_imprint(f, model, cli_flag(argc, argv, "--psk"), &im);
  if (st == STW_OK)
    st = stw_imprint_save(f, &im, out);
  if (st == STW_OK)
    printf("%s\n", im.id);
  stw_imprint_clear(&im);
  stw_factory_free(f);
  return st == STW_OK ? 0 : cli_fail("mfg imprint", st);
}

static int mfg_voucher(int argc, char **argv)
{
  const char *dir = cli_opt(argc, argv, "--dir");
  const char *device = cli_opt(argc, argv, "--device");
  const char *owner = cli_opt(argc, argv, "--owner");
  const char *out = cli_opt(argc, argv, "--out");
  const char *days_text = cli_opt(argc, argv, "--days");
  uint64_t days = 0;
  if (dir == NULL || device == NULL || owner == NULL || out == NULL ||
      (days_text && !cli_parse_u64(days_text, &days)) || days > 36500) {
    usage(stderr);
    return 2;
  }
  stw_factory_t *f = NULL;
  stw_imprint_t im;
  memset(&im, 0, sizeof(im));
  stw_buf_t owner_der, voucher;
  stw_buf_init(&owner_der, STW_CERT_MAX);
  stw_buf_init(&voucher, STW_VOUCHER_MAX);
  stw_cert_info_t owner_ca;
  stw_status_t st = stw_factory_open(dir, NULL, false, &f);
  const char *what = "manufacturer CA";
  if (st == STW_OK) {
    what = "device folder";
    st = stw_imprint_load(device, &im);
  }
  if (st == STW_OK) {
    what = "owner's domain CA";
    st = cli_read_cert(owner, &owner_der);
  }
  if (st == STW_OK)
    st = stw_cert_parse(owner_der.data, owner_der.len, &owner_ca);
  if (st == STW_OK) {
    what = "signing";
    st = stw_factory_voucher(f, &im, owner_ca.spki, owner_ca.spki_len, (int64_t)days * 86400, &voucher);
  }
  if (st == STW_OK) {
    what = "writing";
    st = stw_file_write_atomic(out, voucher.data, voucher.len, 0600);
  }
  if (st == STW_OK)
    printf("voucher for %s to %s (%s): %s\n", im.id, owner_ca.organization, owner, out);
  stw_imprint_clear(&im);
  stw_factory_free(f);
  stw_buf_free(&owner_der, false);
  stw_buf_free(&voucher, false);
  if (st != STW_OK) {
    fprintf(stderr, "steward: mfg voucher: %s: %s\n", what, stw_status_str(st));
    return 1;
  }
  return 0;
}

int cmd_mfg(int argc, char **argv)
{
  if (argc < 2 || cli_flag(argc, argv, "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!cli_check_options(argc, argv, mfg_options))
    return 2;
  if (strcmp(argv[1], "init") == 0) return mfg_init(argc - 1, argv + 1);
  if (strcmp(argv[1], "imprint") == 0) return mfg_imprint(argc - 1, argv + 1);
  if (strcmp(argv[1], "voucher") == 0) return mfg_voucher(argc - 1, argv + 1);
  if (strcmp(argv[1], "firmware-sign") == 0) return mfg_firmware_sign(argc - 1, argv + 1);
  usage(stderr);
  return 2;
}
