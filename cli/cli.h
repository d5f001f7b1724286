/* The `steward` command: shared helpers of its subcommands. */
#ifndef STW_CLI_H
#define STW_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "domain/domain.h"
#include "pki.h"
#include "steward/status.h"

int cmd_mfg(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/** Print "steward: <what>: <status>" to stderr and return 1 (for `return fail(...)`). */
int cli_fail(const char *what, stw_status_t st);
/** Value of "--name value" or "--name=value" in argv (NULL if absent); flags
 *  without a value are found with cli_flag(). Unknown options are an error the
 *  caller reports with cli_check_options(). */
const char *cli_opt(int argc, char **argv, const char *name);
bool cli_flag(int argc, char **argv, const char *name);
/** The n-th argument that is neither an option nor an option's value (0-based);
 *  with_value lists the options that take a value. */
const char *cli_arg(int argc, char **argv, int n, const char *const *with_value);
/** Fails with a message if argv has an option not in allowed (NULL-terminated). */
bool cli_check_options(int argc, char **argv, const char *const *allowed);
/** Parse a non-negative integer; false if it is not one. */
bool cli_parse_u64(const char *text, uint64_t *out);
/** Parse a row id (1..INT64_MAX); false for NULL or anything else. */
bool cli_parse_id(const char *text, int64_t *id);
/** "2024-05-01T12:00:00Z" (UTC) in out; "-" for 0 or a time gmtime cannot show. */
void cli_format_time(int64_t t, char *out, size_t len);

/** The fleet table of `steward admin devices` (state < 0: all) and the audit
 *  log of `steward admin audit` (records after since). */
struct stw_store;
stw_status_t cli_print_devices(struct stw_store *store, int state);
stw_status_t cli_print_audit(struct stw_store *store, uint64_t since);
/** `steward device attest` and `steward device run` (cli/device_agent.c). */
struct stw_dev;
int device_attest(struct stw_dev *dev, const char *server);
int device_run(struct stw_dev *dev, const char *server, uint64_t seconds);
/** `steward admin compliance`: the EN 303 645 report (cli/compliance.c). */
int admin_compliance(struct stw_store *store, const char *data_dir, const char *domain_name, int argc, char **argv);
/** `steward admin attest|attestations|quarantine|release` (cli/attest.c); id may be
 *  NULL for attestations, wait the --wait value or NULL. */
int admin_attest(struct stw_store *store, const char *cmd, const char *id, const char *wait);

/** `steward admin firmware publish|list` and `campaign create|status|resume|abort`,
 *  `steward mfg firmware-sign` (cli/firmware.c); domain: the one admin opened,
 *  with_value: the admin options taking a value. */
int admin_firmware(struct stw_store *store, const stw_domain_t *domain, int argc, char **argv,
                   const char *const *with_value);
int admin_campaign(struct stw_store *store, int argc, char **argv, const char *const *with_value);
int mfg_firmware_sign(int argc, char **argv);

/** `steward admin vuln list|show ID|status ID STATUS` and `steward admin
 *  security-txt` (cli/vuln.c); with_value: the admin options taking a value. */
int admin_vuln(struct stw_store *store, int argc, char **argv, const char *const *with_value);
int admin_security_txt(const char *domain_name, int argc, char **argv);

/** Read a PEM certificate file into DER. */
stw_status_t cli_read_cert(const char *path, stw_buf_t *der);
/** Read a PEM key file. */
stw_status_t cli_read_key(const char *path, stw_key_t **key);

#endif
