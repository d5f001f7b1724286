/* steward admin vuln list | show ID | status ID STATUS, and steward admin
 * security-txt: the operator's side of vulnerability reports
 * (docs/vulnerability-reports.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "store/store.h"
#include "vuln/vuln.h"

/* Reports come from strangers: even though /vr refuses control characters,
 * never let a stored byte steer the operator's terminal. */
static void print_text(const char *s, bool multi_line)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    bool keep = c >= 0x20 ? c != 0x7f : (multi_line && (c == '\n' || c == '\t'));
    putchar(keep ? c : '?');
  }
}

static stw_status_t print_row(const stw_vuln_t *v, void *ctx)
{
  (void)ctx;
  char when[32];
  cli_format_time(v->received_at, when, sizeof(when));
  printf("%-6lld  %-20s  %-9s  %-7s  ", (long long)v->id, when, v->status, v->contact[0] ? "yes" : "-");
  print_text(v->summary, false);
  putchar('\n');
  return STW_OK;
}

int admin_vuln(struct stw_store *store, int argc, char **argv, const char *const *with_value)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  const char *id_text = cli_arg(argc, argv, 2, with_value);
  int64_t id = 0;
  if (sub == NULL || strcmp(sub, "list") == 0) {
    printf("%-6s  %-20s  %-9s  %-7s  %s\n", "ID", "RECEIVED", "STATUS", "CONTACT", "SUMMARY");
    stw_status_t st = stw_store_vuln_list(store, print_row, NULL);
    return st == STW_OK ? 0 : cli_fail("vuln list", st);
  }
  if (strcmp(sub, "show") == 0 && cli_parse_id(id_text, &id)) {
    stw_vuln_t v;
    stw_status_t st = stw_vuln_get(store, id, &v);
    if (st != STW_OK)
      return cli_fail("vuln show", st);
    char when[32];
    cli_format_time(v.received_at, when, sizeof(when));
    printf("id:       %lld\nreceived: %s\nstatus:   %s\ncontact:  ", (long long)v.id, when, v.status);
    print_text(v.contact[0] ? v.contact : "(none given)", false);
    printf("\nsummary:  ");
    print_text(v.summary, false);
    printf("\n\n");
    print_text(v.detail != NULL ? v.detail : "", true);
    putchar('\n');
    stw_vuln_clear(&v);
    return 0;
  }
  const char *status = cli_arg(argc, argv, 3, with_value);
  if (strcmp(sub, "status") == 0 && cli_parse_id(id_text, &id) && status != NULL) {
    stw_status_t st = stw_vuln_change_status(store, id, status, "admin");
    if (st == STW_ERR_INVALID) {
      fprintf(stderr, "steward: vuln status: one of received, triaged, fixed, rejected\n");
      return 2;
    }
    if (st != STW_OK)
      return cli_fail("vuln status", st);
    printf("report %lld is %s\n", (long long)id, status);
    return 0;
  }
  fprintf(stderr, "usage: steward admin --data DIR vuln list | vuln show ID | vuln status ID "
                  "received|triaged|fixed|rejected\n");
  return 2;
}

int admin_security_txt(const char *domain_name, int argc, char **argv)
{
  stw_security_txt_opts_t o = {
    .domain_name = domain_name,
    .contact = cli_opt(argc, argv, "--contact"),
    .policy = cli_opt(argc, argv, "--policy"),
    .canonical = cli_opt(argc, argv, "--canonical"),
    .languages = cli_opt(argc, argv, "--languages"),
  };
  stw_buf_t out = { 0 };
  stw_status_t st = stw_security_txt(&o, stw_now(), &out);
  if (st != STW_OK) {
    fprintf(stderr, "steward: security-txt: each value one line; URIs absolute and not http: (RFC 9116); "
                    "--contact, --policy and --canonical are needed when the domain name is not a host name\n");
    stw_buf_free(&out, false);
    return 2;
  }
  fwrite(out.data, 1, out.len, stdout);
  stw_buf_free(&out, false);
  return 0;
}
