#include "domain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEY_FILE_MAX 8192
#define CA_YEARS 20
#define SERVER_YEARS 5

static stw_status_t load_or_create_key(const char *dir, const char *file, stw_key_t **key, bool *created)
{
  char path[1100];
  uint8_t *pem = NULL;
  size_t len = 0;
  stw_buf_t out;
  stw_buf_init(&out, KEY_FILE_MAX);
  *created = false;
  stw_status_t st = stw_path_join(path, sizeof(path), dir, file);
  if (st != STW_OK)
    return st;
  st = stw_file_read(path, KEY_FILE_MAX, &pem, &len);
  if (st == STW_OK) {
    st = stw_key_import_pem(pem, len, key);
    goto out;
  }
  if (st != STW_ERR_NOT_FOUND)
    goto out;
  if ((st = stw_key_generate(key)) != STW_OK)
    goto out;
  if ((st = stw_key_export_pem(*key, &out)) != STW_OK)
    goto out;
  st = stw_file_write_atomic(path, out.data, out.len, 0600);
  *created = true;
out:
  stw_wipe(pem, len);
  free(pem);
  stw_buf_free(&out, true);
  return st;
}

static stw_status_t write_cert_pem(const char *dir, const char *file, const stw_buf_t *der)
{
  char path[1100];
  stw_buf_t pem;
  stw_buf_init(&pem, 16384);
  stw_status_t st = stw_path_join(path, sizeof(path), dir, file);
  if (st == STW_OK)
    st = stw_der_to_pem("CERTIFICATE", der->data, der->len, &pem);
  if (st == STW_OK)
    st = stw_file_write_atomic(path, pem.data, pem.len, 0644);
  stw_buf_free(&pem, false);
  return st;
}

static stw_status_t load_cert(const char *dir, const char *file, stw_buf_t *der)
{
  char path[1100];
  uint8_t *pem = NULL;
  size_t len = 0;
  stw_status_t st = stw_path_join(path, sizeof(path), dir, file);
  if (st == STW_OK)
    st = stw_file_read(path, 16384, &pem, &len);
  if (st == STW_OK)
    st = stw_pem_to_der("CERTIFICATE", pem, len, der);
  free(pem);
  return st;
}

static stw_status_t create_admin_token(const char *dir)
{
  char path[1100];
  struct stat sb;
  stw_status_t st = stw_path_join(path, sizeof(path), dir, "admin.token");
  if (st != STW_OK || stat(path, &sb) == 0)
    return st;
  uint8_t raw[32];
  char hex[65];
  if ((st = stw_random(raw, sizeof(raw))) != STW_OK)
    return st;
  stw_hex_encode(raw, sizeof(raw), hex);
  hex[64] = '\n';
  st = stw_file_write_atomic(path, hex, sizeof(hex), 0600);
  stw_wipe(raw, sizeof(raw));
  stw_wipe(hex, sizeof(hex));
  return st;
}

static stw_status_t read_name(stw_domain_t *d, const char *name)
{
  char path[1100];
  uint8_t *txt = NULL;
  size_t len = 0;
  stw_status_t st = stw_path_join(path, sizeof(path), d->dir, "domain.name");
  if (st != STW_OK)
    return st;
  st = stw_file_read(path, STW_NAME_MAX - 1, &txt, &len);
  if (st == STW_OK) {
    while (len > 0 && (txt[len - 1] == '\n' || txt[len - 1] == ' '))
      len--;
    memcpy(d->name, txt, len);
    d->name[len] = '\0';
    free(txt);
    return STW_OK;
  }
  if (st != STW_ERR_NOT_FOUND)
    return st;
  snprintf(d->name, sizeof(d->name), "%s", name && *name ? name : "home.steward");
  return stw_file_write_atomic(path, d->name, strlen(d->name), 0644);
}

stw_status_t stw_domain_open(const char *data_dir, const char *name, stw_domain_t **out)
{
  stw_domain_t *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return STW_ERR_NOMEM;
  stw_buf_init(&d->ca_der, STW_CERT_MAX);
  stw_buf_init(&d->server_der, STW_CERT_MAX);
  stw_status_t st = STW_ERR_TOO_LARGE;
  if ((size_t)snprintf(d->dir, sizeof(d->dir), "%s", data_dir) >= sizeof(d->dir))
    goto out;
  snprintf(d->store_url, sizeof(d->store_url), "sqlite:%s/steward.db", data_dir);
  if ((st = stw_mkdir_p(data_dir, 0700)) != STW_OK)
    goto out;
  if ((st = read_name(d, name)) != STW_OK)
    goto out;

  bool fresh_ca = false, fresh_server = false;
  if ((st = load_or_create_key(d->dir, "domain-ca.key", &d->ca_key, &fresh_ca)) != STW_OK)
    goto out;
  int64_t now = stw_now();
  /* A key whose certificate is missing is a first start cut short between
   * the two files: issue the certificate now rather than never start. */
  bool issue_ca = fresh_ca;
  if (!issue_ca && (st = load_cert(d->dir, "domain-ca.pem", &d->ca_der)) != STW_OK) {
    if (st != STW_ERR_NOT_FOUND)
      goto out;
    issue_ca = true;
  }
  if (issue_ca) {
    char cn[STW_NAME_MAX + 16];
    snprintf(cn, sizeof(cn), "%.*s CA", STW_NAME_MAX - 4, d->name);
    stw_cert_template_t t = {
      .common_name = cn, .organization = d->name,
      .not_before = now - 60, .not_after = now + (int64_t)CA_YEARS * 365 * 86400,
      .is_ca = true,
    };
    if ((st = stw_cert_self_signed(d->ca_key, &t, &d->ca_der)) != STW_OK ||
        (st = write_cert_pem(d->dir, "domain-ca.pem", &d->ca_der)) != STW_OK)
      goto out;
  }
  if ((st = stw_cert_parse(d->ca_der.data, d->ca_der.len, &d->ca)) != STW_OK)
    goto out;

  if ((st = load_or_create_key(d->dir, "server.key", &d->server_key, &fresh_server)) != STW_OK)
    goto out;
  bool issue_server = fresh_server || issue_ca;
  if (!issue_server && (st = load_cert(d->dir, "server.pem", &d->server_der)) != STW_OK) {
    if (st != STW_ERR_NOT_FOUND)
      goto out;
    issue_server = true;
  }
  if (issue_server) {
    uint8_t spki[STW_SPKI_MAX];
    size_t spki_len = sizeof(spki);
    stw_cert_template_t t = {
      .common_name = "steward daemon", .organization = d->name,
      .not_before = now - 60, .not_after = now + (int64_t)SERVER_YEARS * 365 * 86400,
      .server_auth = true,
    };
    d->server_der.len = 0;
    if ((st = stw_key_spki(d->server_key, spki, &spki_len)) != STW_OK ||
        (st = stw_cert_issue(d->ca_key, d->ca_der.data, d->ca_der.len, spki, spki_len, &t,
                             &d->server_der, NULL)) != STW_OK ||
        (st = write_cert_pem(d->dir, "server.pem", &d->server_der)) != STW_OK)
      goto out;
  }
  if ((st = stw_cert_parse(d->server_der.data, d->server_der.len, &d->server)) != STW_OK)
    goto out;
  st = create_admin_token(d->dir);
out:
  if (st != STW_OK) {
    stw_domain_close(d);
    d = NULL;
  }
  *out = d;
  return st;
}

void stw_domain_close(stw_domain_t *d)
{
  if (d == NULL)
    return;
  stw_key_free(d->ca_key);
  stw_key_free(d->server_key);
  stw_buf_free(&d->ca_der, false);
  stw_buf_free(&d->server_der, false);
  free(d);
}
