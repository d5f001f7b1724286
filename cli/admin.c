/* steward admin: the owner's operator commands on the domain and its store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "domain/domain.h"
#include "authz/context.h"
#include "authz/pdp.h"
#include "authz/policy.h"
#include "enroll/crl.h"
#include "enroll/enroll.h"
#include "lifecycle/decommission.h"
#include "store/store.h"

static const char *const admin_options[] = { "--data", "--name", "--device", "--model", "--manufacturer",
                                             "--name-prefix", "--state", "--verify", "--since", "--authority", "--ep",
                                             "--help", "--label", "--subject", "--audience", "--path", "--method",
                                             "--scope", "--live", "--format", "--out", "--wait",
                                             "--manifest", "--image", "--firmware", "--target", "--canary",
                                             "--max-failures", "--contact", "--policy", "--canonical",
                                             "--languages", NULL };
static const char *const with_value[] = { "--data", "--name", "--device", "--model", "--manufacturer",
                                          "--name-prefix", "--state", "--since", "--authority", "--ep", "--label", "--subject",
                                          "--audience", "--path", "--method", "--scope", "--format", "--out", "--wait",
                                             "--manifest", "--image", "--firmware", "--target", "--canary",
                                             "--max-failures", "--contact", "--policy", "--canonical",
                                             "--languages", NULL };

static void usage(FILE *to)
{
  fprintf(to,
    "usage: steward admin --data DIR <command>\n"
    "  init [--name DOMAIN]                       create the domain CA and store (also done on first use)\n"
    "  trust-manufacturer CA.pem [--name NAME]    trust a manufacturer's CA for bootstrapping\n"
    "  enroll allow --device ID [--name-prefix P] allow one device\n"
    "  enroll allow --model M [--manufacturer X] [--name-prefix P]\n"
    "                                             allow a group (like an enrollment group)\n"
    "  enroll list | enroll rm RULE-ID\n"
    "  voucher add FILE                           import a manufacturer's ownership voucher\n"
    "  devices [--state STATE]                    the fleet, one line a device\n"
    "  device show ID                             one device in full\n"
    "  device attr ID                             its attributes (who it is, for discovery rules)\n"
    "  device attr ID set NAME=VALUE [--authority A]\n"
    "                                             set one (authority: who attests it; default the domain)\n"
    "  device attr ID rm NAME                     remove one\n"
    "  rd [--ep PATTERN]                          registrations in the resource directory (PATTERN may end in *)\n"
    "  audit [--since SEQ] [--verify]             the hash-chained audit log; --verify checks it\n"
    "  decommission ID                            retire a device: revoke its tokens and LDevID, remove its\n"
    "                                             directory entry, erase its personal data (docs/operations.md)\n"
    "  crl [--out FILE]                           the domain's CRL: PEM on stdout, or DER to FILE\n"
    "  policy add \"RULE\" [--label L]              add an authorization rule (docs/authorization.md), e.g.\n"
    "      \"permit role=utility -> meter-*:/consumption GET if home.occupied==false\"\n"
    "  policy list | policy rm ID                 the rules; removing one revokes the tokens it carried\n"
    "  policy explain --subject ID --audience ID --path P --method M\n"
    "                                             which rule decides that request now, and why\n"
    "  context set NAME=VALUE [--scope S]         set a context attribute (S: place:P, owner:O, device:ID;\n"
    "                                             default the whole domain); revokes what it now denies\n"
    "  context list                               the context attributes\n"
    "  tokens [--live]                            issued access tokens (--live: unexpired, unrevoked)\n"
    "  firmware publish --manifest M --image F    check the vendor's signature and the image, authorise it\n"
    "  firmware list                              the published firmware\n"
    "  campaign create --firmware ID --target model=X|group=Y [--canary PCT] [--max-failures PCT]\n"
    "                                             roll it out: the canary share first, then the rest\n"
    "  campaign status [ID] | resume ID | abort ID\n"
    "  compliance [--device ID] [--format json|html] [--out FILE]\n"
    "                                             ETSI EN 303 645 report for the fleet or one device\n"
    "  attest ID [--wait SECONDS]                 challenge a device for attestation evidence now\n"
    "  attestations [ID]                          attestation results (one device: its history)\n"
    "  quarantine ID | release ID                 quarantine a device (tokens revoked, entries hidden)\n"
    "                                             or release it without a new attestation\n"
    "  vuln list | vuln show ID                   vulnerability reports received on /vr\n"
    "  vuln status ID received|triaged|fixed|rejected\n"
    "  security-txt [--contact URI] [--policy URI] [--canonical URI] [--languages L]\n"
    "                                             print the RFC 9116 security.txt (defaults from the domain name)\n");
}

typedef struct {
  stw_domain_t *domain;
  stw_store_t *store;
} admin_t;

static stw_status_t admin_open(const char *data, const char *name, admin_t *a)
{
  memset(a, 0, sizeof(*a));
  stw_status_t st = stw_domain_open(data, name, &a->domain);
  if (st == STW_OK)
    st = stw_store_open(a->domain->store_url, &a->store);
  return st;
}

static void admin_close(admin_t *a)
{
  stw_store_close(a->store);
  stw_domain_close(a->domain);
}

/* Operator actions are audited in the same transaction as the change. */
static stw_status_t audit_admin(stw_store_t *st, const char *action, const char *subject, const char *detail)
{
  stw_audit_t rec;
  memset(&rec, 0, sizeof(rec));
  snprintf(rec.actor, sizeof(rec.actor), "admin");
  snprintf(rec.action, sizeof(rec.action), "%s", action);
  snprintf(rec.subject, sizeof(rec.subject), "%s", subject);
  snprintf(rec.outcome, sizeof(rec.outcome), "ok");
  snprintf(rec.detail, sizeof(rec.detail), "%s", detail);
  return stw_store_audit_append(st, &rec);
}

static int trust_manufacturer(admin_t *a, int argc, char **argv)
{
  const char *file = cli_arg(argc, argv, 1, with_value);
  if (file == NULL) {
    usage(stderr);
    return 2;
  }
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  stw_cert_info_t ca;
  memset(&ca, 0, sizeof(ca));
  stw_status_t st = cli_read_cert(file, &der);
  if (st == STW_OK)
    st = stw_cert_parse(der.data, der.len, &ca);
  if (st == STW_OK && !ca.is_ca)
    st = STW_ERR_INVALID;
  const char *name = cli_opt(argc, argv, "--name");
  if (name == NULL)
    name = ca.organization[0] ? ca.organization : ca.common_name[0] ? ca.common_name : file;
  if (st == STW_OK && (st = stw_store_begin(a->store)) == STW_OK) {
    st = stw_store_trust_add(a->store, name, der.data, der.len);
    if (st == STW_OK)
      st = audit_admin(a->store, "trust-manufacturer", name, ca.common_name);
    if (st == STW_OK)
      st = stw_store_commit(a->store);
    else
      stw_store_rollback(a->store);
  }
  stw_buf_free(&der, false);
  if (st == STW_ERR_EXISTS) {
    printf("manufacturer %s is already trusted\n", name);
    return 0;
  }
  if (st != STW_OK)
    return cli_fail("trust-manufacturer (a PEM CA certificate is expected)", st);
  printf("trusting manufacturer %s\n", name);
  return 0;
}

static stw_status_t print_rule(const stw_rule_t *r, void *ctx)
{
  (void)ctx;
  if (r->kind == STW_RULE_DEVICE)
    printf("%-4lld device       %-32s name-prefix=%s\n", (long long)r->id, r->device_id, r->name_prefix);
  else
    printf("%-4lld group        model=%s manufacturer=%s name-prefix=%s\n", (long long)r->id,
           r->model[0] ? r->model : "*", r->manufacturer[0] ? r->manufacturer : "*", r->name_prefix);
  return STW_OK;
}

static int enroll_cmd(admin_t *a, int argc, char **argv)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  if (sub == NULL) {
    usage(stderr);
    return 2;
  }
  if (strcmp(sub, "list") == 0) {
    stw_status_t st = stw_store_rule_list(a->store, print_rule, NULL);
    return st == STW_OK ? 0 : cli_fail("enroll list", st);
  }
  if (strcmp(sub, "rm") == 0) {
    uint64_t id;
    const char *arg = cli_arg(argc, argv, 2, with_value);
    if (arg == NULL || !cli_parse_u64(arg, &id)) {
      usage(stderr);
      return 2;
    }
    stw_status_t st = stw_store_begin(a->store);
    if (st == STW_OK) {
      st = stw_store_rule_remove(a->store, (int64_t)id);
      if (st == STW_OK)
        st = audit_admin(a->store, "enroll.rm", arg, "enrollment rule removed");
      if (st == STW_OK)
        st = stw_store_commit(a->store);
      else
        stw_store_rollback(a->store);
    }
    return st == STW_OK ? 0 : cli_fail("enroll rm", st);
  }
  if (strcmp(sub, "allow") != 0) {
    usage(stderr);
    return 2;
  }
  stw_rule_t r;
  memset(&r, 0, sizeof(r));
  const char *device = cli_opt(argc, argv, "--device");
  const char *model = cli_opt(argc, argv, "--model");
  const char *mfg = cli_opt(argc, argv, "--manufacturer");
  const char *prefix = cli_opt(argc, argv, "--name-prefix");
  if (device != NULL) {
    uint8_t raw[STW_DEVICE_ID_LEN];
    if (strlen(device) != 32 || stw_hex_decode(device, 32, raw, sizeof(raw)) != STW_OK) {
      fprintf(stderr, "steward: --device takes a 32-hex-digit device id\n");
      return 2;
    }
    r.kind = STW_RULE_DEVICE;
    snprintf(r.device_id, sizeof(r.device_id), "%s", device);
  } else if (model != NULL || mfg != NULL) {
    r.kind = STW_RULE_GROUP;
    if ((model && strlen(model) >= sizeof(r.model)) || (mfg && strlen(mfg) >= sizeof(r.manufacturer))) {
      fprintf(stderr, "steward: names are at most %zu characters\n", sizeof(r.model) - 1);
      return 2;
    }
    snprintf(r.model, sizeof(r.model), "%s", model ? model : "");
    snprintf(r.manufacturer, sizeof(r.manufacturer), "%s", mfg ? mfg : "");
  } else {
    fprintf(stderr, "steward: enroll allow needs --device ID or --model/--manufacturer\n");
    return 2;
  }
  if (prefix != NULL && strlen(prefix) >= sizeof(r.name_prefix) - 8) {
    fprintf(stderr, "steward: --name-prefix too long\n");
    return 2;
  }
  snprintf(r.name_prefix, sizeof(r.name_prefix), "%s", prefix ? prefix : "");
  stw_status_t st = stw_store_begin(a->store);
  if (st == STW_OK) {
    st = stw_store_rule_add(a->store, &r);
    char detail[STW_REASON_MAX];
    snprintf(detail, sizeof(detail), "rule %lld: %s%s model=%s manufacturer=%s", (long long)r.id,
             r.kind == STW_RULE_DEVICE ? "device " : "group", r.device_id, r.model[0] ? r.model : "*",
             r.manufacturer[0] ? r.manufacturer : "*");
    if (st == STW_OK)
      st = audit_admin(a->store, "enroll.allow", r.kind == STW_RULE_DEVICE ? r.device_id : r.model, detail);
    if (st == STW_OK)
      st = stw_store_commit(a->store);
    else
      stw_store_rollback(a->store);
  }
  if (st != STW_OK)
    return cli_fail("enroll allow", st);
  print_rule(&r, NULL);
  return 0;
}

static int voucher_cmd(admin_t *a, int argc, char **argv)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  const char *file = cli_arg(argc, argv, 2, with_value);
  if (sub == NULL || strcmp(sub, "add") != 0 || file == NULL) {
    usage(stderr);
    return 2;
  }
  uint8_t *raw = NULL;
  size_t len = 0;
  stw_status_t st = stw_file_read(file, STW_VOUCHER_MAX, &raw, &len);
  if (st != STW_OK)
    return cli_fail(file, st);
  char id[STW_ID_HEX], diag[192] = "";
  st = stw_enroll_import_voucher(a->store, a->domain, raw, len, id, diag, sizeof(diag));
  free(raw);
  if (st != STW_OK) {
    fprintf(stderr, "steward: voucher refused%s%s: %s\n", id[0] ? " for " : "", id, diag[0] ? diag : stw_status_str(st));
    return 1;
  }
  printf("voucher imported for device %s\n", id);
  return 0;
}

static stw_status_t print_device_line(const stw_device_t *d, void *ctx)
{
  (void)ctx;
  char until[32];
  cli_format_time(d->ldevid_not_after, until, sizeof(until));
  printf("%-32s  %-17s  %-18s  %-10s  %-14s  %-4s  %s\n", d->id, d->state == STW_STATE_MANUFACTURED && !d->name[0] ? "-" : d->name,
         d->manufacturer[0] ? d->manufacturer : "-", d->model[0] ? d->model : "-", stw_state_name(d->state),
         d->cred_kind == STW_CRED_PSK ? "psk" : "x509", d->cred_kind == STW_CRED_PSK ? "-" : until);
  return STW_OK;
}

stw_status_t cli_print_devices(stw_store_t *store, int state)
{
  printf("%-32s  %-17s  %-18s  %-10s  %-14s  %-4s  %s\n", "DEVICE", "NAME", "MANUFACTURER", "MODEL", "STATE",
         "CRED", "LDEVID-UNTIL");
  return stw_store_device_list(store, state, print_device_line, NULL);
}

static int devices_cmd(admin_t *a, int argc, char **argv)
{
  int state = -1;
  const char *s = cli_opt(argc, argv, "--state");
  if (s != NULL) {
    stw_state_t parsed;
    if (!stw_state_parse(s, &parsed)) {
      fprintf(stderr, "steward: unknown state %s\n", s);
      return 2;
    }
    state = (int)parsed;
  }
  stw_status_t st = cli_print_devices(a->store, state);
  return st == STW_OK ? 0 : cli_fail("devices", st);
}

static int device_show(admin_t *a, int argc, char **argv)
{
  const char *id = cli_arg(argc, argv, 2, with_value);
  if (id == NULL) {
    usage(stderr);
    return 2;
  }
  stw_device_t d;
  stw_status_t st = stw_store_device_get(a->store, id, &d);
  if (st != STW_OK)
    return cli_fail(id, st);
  char created[32], updated[32], until[32];
  cli_format_time(d.created_at, created, sizeof(created));
  cli_format_time(d.updated_at, updated, sizeof(updated));
  cli_format_time(d.ldevid_not_after, until, sizeof(until));
  printf("device        %s\nname          %s\nmanufacturer  %s\nmodel         %s\nstate         %s\n"
         "credential    %s\nldevid serial %s\nldevid until  %s\npsk identity  %s\ncreated       %s\n"
         "updated       %s\ngeneration    %u\n",
         d.id, d.name, d.manufacturer, d.model, stw_state_name(d.state),
         d.cred_kind == STW_CRED_PSK ? "pre-shared key" : "X.509 LDevID", d.ldevid_serial[0] ? d.ldevid_serial : "-",
         until, d.psk_identity[0] ? d.psk_identity : "-", created, updated, d.generation);
  stw_device_clear(&d);
  return 0;
}

static stw_status_t print_audit(const stw_audit_t *r, void *ctx)
{
  (void)ctx;
  char at[32], hash[65];
  cli_format_time(r->at, at, sizeof(at));
  stw_hex_encode(r->hash, 8, hash);
  printf("%6llu  %s  %-22s  %-26s  %-32s  %-24s  %s  #%s\n", (unsigned long long)r->seq, at, r->actor, r->action,
         r->subject, r->outcome, r->detail, hash);
  return STW_OK;
}

stw_status_t cli_print_audit(stw_store_t *store, uint64_t since)
{
  return stw_store_audit_list(store, since, 0, print_audit, NULL);
}

static int audit_cmd(admin_t *a, int argc, char **argv)
{
  if (cli_flag(argc, argv, "--verify")) {
    uint64_t count = 0, bad = 0;
    stw_status_t st = stw_store_audit_verify(a->store, &count, &bad);
    if (st == STW_OK) {
      printf("audit chain intact: %llu records verified\n", (unsigned long long)count);
      return 0;
    }
    if (st == STW_ERR_TAMPERED) {
      printf("audit chain BROKEN at record %llu (%llu records checked)\n", (unsigned long long)bad,
             (unsigned long long)count);
      return 1;
    }
    return cli_fail("audit --verify", st);
  }
  uint64_t since = 0;
  const char *s = cli_opt(argc, argv, "--since");
  if (s != NULL && !cli_parse_u64(s, &since)) {
    usage(stderr);
    return 2;
  }
  stw_status_t st = cli_print_audit(a->store, since);
  return st == STW_OK ? 0 : cli_fail("audit", st);
}

/* ---- device attributes ------------------------------------------------------------ */

static stw_status_t print_attr(const stw_attr_row_t *r, void *ctx)
{
  (void)ctx;
  printf("%-20s  %-30s  %s\n", r->name, r->value, r->authority);
  return STW_OK;
}

/* One change and its audit record commit together. */
static stw_status_t attr_change(admin_t *a, const char *id, const stw_attr_row_t *set, const char *rm_name)
{
  stw_device_t d;
  stw_status_t st = stw_store_device_get(a->store, id, &d);
  if (st != STW_OK)
    return st;
  stw_device_clear(&d);
  char detail[STW_REASON_MAX];
  if (set != NULL)
    snprintf(detail, sizeof(detail), "%s=%s (authority %s)", set->name, set->value, set->authority);
  else
    snprintf(detail, sizeof(detail), "%s", rm_name);
  if ((st = stw_store_begin(a->store)) != STW_OK)
    return st;
  st = set != NULL ? stw_store_attr_set(a->store, id, set) : stw_store_attr_delete(a->store, id, rm_name);
  if (st == STW_OK)
    st = audit_admin(a->store, set != NULL ? "attr.set" : "attr.rm", id, detail);
  if (st == STW_OK)
    st = stw_store_commit(a->store);
  else
    stw_store_rollback(a->store);
  return st;
}

/* Names and values end up in rules, link attributes and audit lines: keep
 * them printable, without the separators of the rule language in names. */
static bool attr_text_ok(const char *s, size_t max, bool is_name)
{
  size_t n = strlen(s);
  if (n >= max || (is_name && n == 0))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || (is_name && (c == ' ' || strchr("=,|*", c) != NULL)))
      return false;
  }
  return true;
}

static int device_attr(admin_t *a, int argc, char **argv)
{
  const char *id = cli_arg(argc, argv, 2, with_value);
  const char *op = cli_arg(argc, argv, 3, with_value);
  const char *arg = cli_arg(argc, argv, 4, with_value);
  if (id == NULL || (op != NULL && arg == NULL)) {
    usage(stderr);
    return 2;
  }
  stw_status_t st;
  if (op == NULL) {
    stw_device_t d;
    if ((st = stw_store_device_get(a->store, id, &d)) != STW_OK)
      return cli_fail(id, st);
    stw_device_clear(&d);
    printf("%-20s  %-30s  %s\n", "NAME", "VALUE", "AUTHORITY");
    st = stw_store_attr_list(a->store, id, print_attr, NULL);
    return st == STW_OK ? 0 : cli_fail(id, st);
  }
  if (strcmp(op, "set") == 0) {
    const char *eq = strchr(arg, '=');
    stw_attr_row_t row;
    memset(&row, 0, sizeof(row));
    const char *authority = cli_opt(argc, argv, "--authority");
    if (authority == NULL)
      authority = a->domain->name;
    size_t name_len = eq ? (size_t)(eq - arg) : 0;
    if (eq == NULL || name_len == 0 || name_len >= sizeof(row.name)) {
      fprintf(stderr, "steward: attr set wants NAME=VALUE\n");
      return 2;
    }
    memcpy(row.name, arg, name_len);
    if (!attr_text_ok(row.name, sizeof(row.name), true) || !attr_text_ok(eq + 1, sizeof(row.value), false) ||
        !attr_text_ok(authority, sizeof(row.authority), true)) {
      fprintf(stderr, "steward: attribute name, value or authority too long or not printable\n");
      return 2;
    }
    snprintf(row.value, sizeof(row.value), "%s", eq + 1);
    snprintf(row.authority, sizeof(row.authority), "%s", authority);
    st = attr_change(a, id, &row, NULL);
    if (st == STW_OK)
      printf("%s: %s=%s (authority %s)\n", id, row.name, row.value, row.authority);
  } else if (strcmp(op, "rm") == 0) {
    st = attr_change(a, id, NULL, arg);
    if (st == STW_OK)
      printf("%s: %s removed\n", id, arg);
  } else {
    usage(stderr);
    return 2;
  }
  return st == STW_OK ? 0 : cli_fail(id, st);
}

static int device_cmd(admin_t *a, int argc, char **argv)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  if (sub != NULL && strcmp(sub, "attr") == 0)
    return device_attr(a, argc, argv);
  if (sub != NULL && strcmp(sub, "show") == 0)
    return device_show(a, argc, argv);
  usage(stderr);
  return 2;
}

/* ---- resource directory ------------------------------------------------------------ */

typedef struct {
  stw_store_t *store;
  int64_t now;
  unsigned count;
} rd_list_t;

static stw_status_t print_registration(const stw_rd_reg_t *r, void *ctx)
{
  rd_list_t *l = ctx;
  char expires[32];
  cli_format_time(r->expires_at, expires, sizeof(expires));
  stw_rd_reg_t full;
  const char *links = "-";
  bool have = stw_store_rd_get(l->store, r->id, &full) == STW_OK;
  if (have && full.links != NULL && full.links[0])
    links = full.links;
  printf("%-20s  %-32s  %-8u  %-20s%s  %-16s  %s\n", r->ep, r->device_id, r->lt, expires,
         r->expires_at <= l->now ? "!" : " ", r->vis[0] ? r->vis : "(domain)", links);
  if (have)
    stw_rd_reg_clear(&full);
  l->count++;
  return STW_OK;
}

static int rd_cmd(admin_t *a, int argc, char **argv)
{
  rd_list_t l = { .store = a->store, .now = stw_now() };
  /* now = 0: expired entries the sweep has not removed yet are listed too, marked '!'. */
  stw_rd_scan_t scan = { .now = 0, .ep = cli_opt(argc, argv, "--ep") };
  printf("%-20s  %-32s  %-8s  %-21s  %-16s  %s\n", "EP", "DEVICE", "LT", "EXPIRES", "VIS", "LINKS");
  stw_status_t st = stw_store_rd_scan_eps(a->store, &scan, print_registration, &l);
  if (st != STW_OK)
    return cli_fail("rd", st);
  printf("%u registrations\n", l.count);
  return 0;
}

/* ---- authorization: policies, context, tokens ---------------------------------------- */

static stw_status_t print_policy(const stw_policy_row_t *row, void *ctx)
{
  (void)ctx;
  stw_policy_t p;
  char text[STW_POLICY_TEXT_MAX + 256];
  if (stw_policy_from_row(row, &p) == STW_OK)
    stw_policy_format(&p, text, sizeof(text));
  else
    snprintf(text, sizeof(text), "(unreadable rule)");
  printf("%-6lld  %-16s  %s\n", (long long)row->id, row->name[0] ? row->name : "-", text);
  return STW_OK;
}

static int policy_explain(admin_t *a, int argc, char **argv)
{
  const char *subject = cli_opt(argc, argv, "--subject");
  const char *audience = cli_opt(argc, argv, "--audience");
  const char *path = cli_opt(argc, argv, "--path");
  const char *method = cli_opt(argc, argv, "--method");
  unsigned bit = method ? stw_method_bit(method, strlen(method)) : 0;
  if (subject == NULL || audience == NULL || path == NULL || bit == 0 || path[0] != '/') {
    fprintf(stderr, "steward: policy explain --subject ID --audience ID --path /P --method GET|POST|PUT|DELETE|...\n");
    return 2;
  }
  stw_identity_t *who = calloc(2, sizeof(*who));
  stw_policy_t *rules = NULL;
  size_t n = 0;
  stw_buf_t out = { 0 };
  int rc = 1;
  if (who == NULL)
    goto out;
  stw_status_t st;
  if ((st = stw_identify_device(a->store, a->domain, subject, &who[0])) != STW_OK) {
    rc = cli_fail(subject, st);
    goto out;
  }
  if ((st = stw_identify_device(a->store, a->domain, audience, &who[1])) != STW_OK) {
    rc = cli_fail(audience, st);
    goto out;
  }
  if ((st = stw_pdp_load_rules(a->store, &rules, &n)) != STW_OK) {
    rc = cli_fail("policies", st);
    goto out;
  }
  stw_context_reader_t reader = { .store = a->store, .audience = &who[1] };
  stw_policy_request_t r = { .path = path, .method = bit, .now = stw_now(), .read_context = stw_context_read,
                             .context_arg = &reader };
  stw_pdp_party(&who[0], &r.subject);
  stw_pdp_party(&who[1], &r.audience);
  if ((st = stw_policy_explain(rules, n, &r, &out)) != STW_OK) {
    rc = cli_fail("explain", st);
    goto out;
  }
  fputs((const char *)out.data, stdout);
  rc = 0;
out:
  stw_buf_free(&out, false);
  free(rules);
  free(who);
  return rc;
}

static int policy_cmd(admin_t *a, int argc, char **argv)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  const char *arg = cli_arg(argc, argv, 2, with_value);
  stw_status_t st;
  if (sub != NULL && strcmp(sub, "list") == 0) {
    printf("%-6s  %-16s  %s\n", "ID", "LABEL", "RULE");
    st = stw_store_policy_list(a->store, print_policy, NULL);
    return st == STW_OK ? 0 : cli_fail("policies", st);
  }
  if (sub != NULL && strcmp(sub, "explain") == 0)
    return policy_explain(a, argc, argv);
  if (sub != NULL && strcmp(sub, "add") == 0 && arg != NULL) {
    char why[256] = "";
    int64_t id = 0;
    uint64_t revoked = 0;
    const char *label = cli_opt(argc, argv, "--label");
    if (label != NULL && strlen(label) >= STW_TEXT_MAX) {
      fprintf(stderr, "steward: label too long\n");
      return 2;
    }
    st = stw_authz_policy_add(a->store, a->domain, arg, label, "admin", stw_now(), &id, &revoked, why, sizeof(why));
    if (st == STW_ERR_MALFORMED || st == STW_ERR_TOO_LARGE) {
      fprintf(stderr, "steward: rule refused: %s\n", why[0] ? why : stw_status_str(st));
      return 2;
    }
    if (st != STW_OK)
      return cli_fail("policy add", st);
    printf("policy %lld added; %llu token(s) revoked\n", (long long)id, (unsigned long long)revoked);
    return 0;
  }
  if (sub != NULL && strcmp(sub, "rm") == 0 && arg != NULL) {
    uint64_t id = 0, revoked = 0;
    if (!cli_parse_u64(arg, &id) || id > INT64_MAX) {
      fprintf(stderr, "steward: policy rm wants a rule id\n");
      return 2;
    }
    st = stw_authz_policy_remove(a->store, a->domain, (int64_t)id, "admin", stw_now(), &revoked);
    if (st != STW_OK)
      return cli_fail(arg, st);
    printf("policy %s removed; %llu token(s) revoked\n", arg, (unsigned long long)revoked);
    return 0;
  }
  usage(stderr);
  return 2;
}

static stw_status_t print_context(const stw_context_row_t *c, void *ctx)
{
  (void)ctx;
  char at[32];
  cli_format_time(c->updated_at, at, sizeof(at));
  printf("%-24s  %-24s  %-20s  %s\n", c->scope[0] ? c->scope : "(domain)", c->name, c->value, at);
  return STW_OK;
}

static int context_cmd(admin_t *a, int argc, char **argv)
{
  const char *sub = cli_arg(argc, argv, 1, with_value);
  const char *arg = cli_arg(argc, argv, 2, with_value);
  if (sub != NULL && strcmp(sub, "list") == 0) {
    printf("%-24s  %-24s  %-20s  %s\n", "SCOPE", "NAME", "VALUE", "UPDATED");
    stw_status_t st = stw_store_context_list(a->store, print_context, NULL);
    return st == STW_OK ? 0 : cli_fail("context", st);
  }
  if (sub == NULL || strcmp(sub, "set") != 0 || arg == NULL) {
    usage(stderr);
    return 2;
  }
  stw_context_row_t row;
  memset(&row, 0, sizeof(row));
  const char *eq = strchr(arg, '=');
  size_t name_len = eq ? (size_t)(eq - arg) : 0;
  const char *scope = cli_opt(argc, argv, "--scope");
  if (eq == NULL || name_len == 0 || name_len >= sizeof(row.name) || strlen(eq + 1) >= sizeof(row.value) ||
      (scope != NULL && strlen(scope) >= sizeof(row.scope))) {
    fprintf(stderr, "steward: context set wants NAME=VALUE (and a short --scope)\n");
    return 2;
  }
  memcpy(row.name, arg, name_len);
  snprintf(row.value, sizeof(row.value), "%s", eq + 1);
  snprintf(row.scope, sizeof(row.scope), "%s", scope ? scope : "");
  if (!stw_context_scope_valid(row.scope)) {
    fprintf(stderr, "steward: --scope is place:P, owner:O or device:<32 hex>\n");
    return 2;
  }
  uint64_t revoked = 0;
  stw_status_t st = stw_context_set(a->store, a->domain, &row, "admin", stw_now(), &revoked);
  if (st != STW_OK)
    return cli_fail("context set", st);
  printf("%s %s=%s; %llu token(s) revoked\n", row.scope[0] ? row.scope : "(domain)", row.name, row.value,
         (unsigned long long)revoked);
  return 0;
}

static stw_status_t print_token(const stw_token_row_t *t, void *ctx)
{
  int64_t now = *(const int64_t *)ctx;
  char exp[32];
  cli_format_time(t->exp, exp, sizeof(exp));
  const char *state = t->revoked ? "revoked" : t->exp <= now ? "expired" : "live";
  printf("%-32s  %-32s  %-32s  %-20s  %-8s  %s%s%s\n", t->cti, t->subject_id, t->audience_id, exp, state, t->scope,
         t->revoked ? "  # " : "", t->revoked ? t->reason : "");
  return STW_OK;
}

static int decommission_cmd(admin_t *a, int argc, char **argv)
{
  const char *id = cli_arg(argc, argv, 1, with_value);
  if (id == NULL) {
    usage(stderr);
    return 2;
  }
  stw_decommission_t out;
  stw_status_t st = stw_decommission(a->store, id, "admin", "decommissioned by the operator", &out);
  if (st == STW_ERR_STATE) {
    fprintf(stderr, "steward: %s is already decommissioned\n", id);
    return 1;
  }
  if (st != STW_OK)
    return cli_fail(id, st);
  const stw_erasure_t *e = &out.erased;
  printf("decommissioned %s (was %s): %llu tokens and %llu certificates revoked, directory entry %s\n", id,
         stw_state_name(out.was), (unsigned long long)out.tokens_revoked, (unsigned long long)out.certs_revoked,
         out.registration_removed ? "removed" : "none");
  printf("erased: %llu attributes, %llu context attributes, %llu vouchers, %llu PSKs, %llu attestations, "
         "%llu challenges\n",
         (unsigned long long)e->attributes, (unsigned long long)e->context, (unsigned long long)e->vouchers,
         (unsigned long long)e->psks, (unsigned long long)e->attestations, (unsigned long long)e->nonces);
  printf("a new owner bootstraps it after a factory reset, with a voucher imported for it\n");
  return 0;
}

static int crl_cmd(admin_t *a, int argc, char **argv)
{
  const char *out_path = cli_opt(argc, argv, "--out");
  stw_buf_t der, pem;
  stw_buf_init(&der, STW_CRL_MAX);
  stw_buf_init(&pem, 2 * STW_CRL_MAX);
  stw_status_t st = stw_crl_build(a->store, a->domain, stw_now(), &der);
  if (st == STW_OK && out_path != NULL)
    st = stw_file_write_atomic(out_path, der.data, der.len, 0644);
  else if (st == STW_OK && (st = stw_der_to_pem("X509 CRL", der.data, der.len, &pem)) == STW_OK)
    fwrite(pem.data, 1, pem.len, stdout);
  stw_buf_free(&der, false);
  stw_buf_free(&pem, false);
  return st == STW_OK ? 0 : cli_fail(out_path ? out_path : "crl", st);
}

static int tokens_cmd(admin_t *a, int argc, char **argv)
{
  int64_t now = stw_now();
  printf("%-32s  %-32s  %-32s  %-20s  %-8s  %s\n", "CTI", "SUBJECT", "AUDIENCE", "EXPIRES", "STATE", "SCOPE");
  stw_status_t st = stw_store_token_list(a->store, cli_flag(argc, argv, "--live"), now, print_token, &now);
  return st == STW_OK ? 0 : cli_fail("tokens", st);
}

int cmd_admin(int argc, char **argv)
{
  if (cli_flag(argc, argv, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!cli_check_options(argc, argv, admin_options))
    return 2;
  const char *data = cli_opt(argc, argv, "--data");
  const char *cmd = cli_arg(argc, argv, 0, with_value);
  if (data == NULL || cmd == NULL) {
    usage(stderr);
    return 2;
  }
  admin_t a;
  stw_status_t st = admin_open(data, cli_opt(argc, argv, "--name"), &a);
  if (st != STW_OK) {
    admin_close(&a);
    return cli_fail(data, st);
  }
  int rc;
  if (strcmp(cmd, "init") == 0) {
    printf("domain %s: CA %s/domain-ca.pem, store %s\n", a.domain->name, data, a.domain->store_url);
    rc = 0;
  } else if (strcmp(cmd, "trust-manufacturer") == 0) {
    rc = trust_manufacturer(&a, argc, argv);
  } else if (strcmp(cmd, "enroll") == 0) {
    rc = enroll_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "voucher") == 0) {
    rc = voucher_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "devices") == 0) {
    rc = devices_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "device") == 0) {
    rc = device_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "rd") == 0) {
    rc = rd_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "audit") == 0) {
    rc = audit_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "policy") == 0) {
    rc = policy_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "context") == 0) {
    rc = context_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "decommission") == 0) {
    rc = decommission_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "crl") == 0) {
    rc = crl_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "tokens") == 0) {
    rc = tokens_cmd(&a, argc, argv);
  } else if (strcmp(cmd, "attest") == 0 || strcmp(cmd, "attestations") == 0 || strcmp(cmd, "quarantine") == 0 ||
             strcmp(cmd, "release") == 0) {
    rc = admin_attest(a.store, cmd, cli_arg(argc, argv, 1, with_value), cli_opt(argc, argv, "--wait"));
  } else if (strcmp(cmd, "firmware") == 0) {
    rc = admin_firmware(a.store, a.domain, argc, argv, with_value);
  } else if (strcmp(cmd, "campaign") == 0) {
    rc = admin_campaign(a.store, argc, argv, with_value);
  } else if (strcmp(cmd, "vuln") == 0) {
    rc = admin_vuln(a.store, argc, argv, with_value);
  } else if (strcmp(cmd, "security-txt") == 0) {
    rc = admin_security_txt(a.domain->name, argc, argv);
  } else if (strcmp(cmd, "compliance") == 0) {
    rc = admin_compliance(a.store, data, a.domain->name, argc, argv);
  } else {
    usage(stderr);
    rc = 2;
  }
  admin_close(&a);
  return rc;
}
