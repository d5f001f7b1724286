/* steward admin compliance: the ETSI EN 303 645 report, to stdout or a file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "compliance/compliance.h"

int admin_compliance(struct stw_store *store, const char *data_dir, const char *domain_name, int argc, char **argv)
{
  const char *format = cli_opt(argc, argv, "--format");
  if (format == NULL)
    format = "json";
  bool html = strcmp(format, "html") == 0;
  if (!html && strcmp(format, "json") != 0) {
    fprintf(stderr, "steward: --format is json or html, not %s\n", format);
    return 2;
  }
  stw_compliance_t report;
  stw_status_t st = stw_compliance_collect(store, data_dir, domain_name, cli_opt(argc, argv, "--device"), stw_now(),
                                           &report);
  if (st != STW_OK)
    return cli_fail("compliance", st);
  stw_buf_t text;
  st = html ? stw_compliance_html(&report, &text) : stw_compliance_json(&report, &text);
  stw_compliance_free(&report);
  const char *out = cli_opt(argc, argv, "--out");
  if (st == STW_OK && out != NULL)
    st = stw_file_write_atomic(out, text.data, text.len, 0644);
  else if (st == STW_OK && fwrite(text.data, 1, text.len, stdout) != text.len)
    st = STW_ERR_IO;
  stw_buf_free(&text, false);
  if (st != STW_OK)
    return cli_fail(out != NULL ? out : "compliance", st);
  if (out != NULL)
    printf("compliance report written to %s\n", out);
  return 0;
}
