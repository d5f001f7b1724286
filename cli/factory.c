#include "factory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDEVID_YEARS 25
#define MFG_CA_YEARS 30

stw_status_t stw_factory_new(const char *name, stw_factory_t **out)
{
  stw_factory_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return STW_ERR_NOMEM;
  stw_buf_init(&f->ca_der, STW_CERT_MAX);
  snprintf(f->name, sizeof(f->name), "%s", name);
  int64_t now = stw_now();
  char cn[STW_NAME_MAX + 16];
  snprintf(cn, sizeof(cn), "%.40s Manufacturer CA", name);
  stw_cert_template_t t = {
    .common_name = cn, .organization = name,
    .not_before = now - 60, .not_after = now + (int64_t)MFG_CA_YEARS * 365 * 86400,
    .is_ca = true,
  };
  stw_status_t st = stw_key_generate(&f->ca_key);
  if (st == STW_OK)
    st = stw_cert_self_signed(f->ca_key, &t, &f->ca_der);
  if (st == STW_OK)
    st = stw_cert_parse(f->ca_der.data, f->ca_der.len, &f->ca);
  if (st != STW_OK) {
    stw_factory_free(f);
    f = NULL;
  }
  *out = f;
  return st;
}

static stw_status_t join(char *out, size_t len, const char *dir, const char *file)
{
  return stw_path_join(out, len, dir, file);
}

stw_status_t stw_factory_open(const char *dir, const char *name, bool create, stw_factory_t **out)
{
  char key_path[1100], ca_path[1100], name_path[1100];
  *out = NULL;
  stw_status_t st;
  if ((st = join(key_path, sizeof(key_path), dir, "ca.key")) != STW_OK ||
      (st = join(ca_path, sizeof(ca_path), dir, "ca.pem")) != STW_OK ||
      (st = join(name_path, sizeof(name_path), dir, "name")) != STW_OK)
    return st;
  uint8_t *pem = NULL;
  size_t len = 0;
  st = stw_file_read(key_path, 16384, &pem, &len);
  if (st == STW_ERR_NOT_FOUND && create) {
    stw_factory_t *f = NULL;
    stw_buf_t key_pem, ca_pem;
    stw_buf_init(&key_pem, 8192);
    stw_buf_init(&ca_pem, 8192);
    if ((st = stw_mkdir_p(dir, 0700)) == STW_OK && (st = stw_factory_new(name, &f)) == STW_OK &&
        (st = stw_key_export_pem(f->ca_key, &key_pem)) == STW_OK &&
        (st = stw_der_to_pem("CERTIFICATE", f->ca_der.data, f->ca_der.len, &ca_pem)) == STW_OK &&
        (st = stw_file_write_atomic(ca_path, ca_pem.data, ca_pem.len, 0644)) == STW_OK &&
        (st = stw_file_write_atomic(name_path, name, strlen(name), 0644)) == STW_OK)
      /* The key is the commit point (its presence means "created"): written
       * last, a crash before it leaves a folder the next init simply redoes. */
      st = stw_file_write_atomic(key_path, key_pem.data, key_pem.len, 0600);
    stw_buf_free(&key_pem, true);
    stw_buf_free(&ca_pem, false);
    if (st != STW_OK) {
      stw_factory_free(f);
      f = NULL;
    }
    *out = f;
    return st;
  }
  if (st != STW_OK)
    return st;
  if (create) {
    stw_wipe(pem, len);
    free(pem);
    return STW_ERR_EXISTS;
  }
  stw_factory_t *f = calloc(1, sizeof(*f));
  if (f == NULL) {
    stw_wipe(pem, len);
    free(pem);
    return STW_ERR_NOMEM;
  }
  stw_buf_init(&f->ca_der, STW_CERT_MAX);
  st = stw_key_import_pem(pem, len, &f->ca_key);
  stw_wipe(pem, len);
  free(pem);
  pem = NULL;
  if (st == STW_OK)
    st = stw_file_read(ca_path, 16384, &pem, &len);
  if (st == STW_OK)
    st = stw_pem_to_der("CERTIFICATE", pem, len, &f->ca_der);
  free(pem);
  pem = NULL;
  if (st == STW_OK)
    st = stw_cert_parse(f->ca_der.data, f->ca_der.len, &f->ca);
  if (st == STW_OK)
    snprintf(f->name, sizeof(f->name), "%s", f->ca.organization);
  if (st != STW_OK) {
    stw_factory_free(f);
    f = NULL;
  }
  *out = f;
  return st;
}

void stw_factory_free(stw_factory_t *f)
{
  if (f == NULL)
    return;
  stw_key_free(f->ca_key);
  stw_buf_free(&f->ca_der, false);
  free(f);
}

void stw_imprint_clear(stw_imprint_t *im)
{
  stw_buf_free(&im->idevid_pem, true);
  stw_wipe(im, sizeof(*im));
}

/* A PSK device has no public key to name it by. Its id is derived from the
 * PSK the same way (first 128 bits of SHA-256, here over a labelled input),
 * so nobody can claim a PSK device's name without holding its key. */
static stw_status_t psk_device_id(const uint8_t psk[STW_PSK_KEY_LEN], char id[STW_DEVICE_ID_HEX_LEN])
{
  static const char label[] = "steward psk device id";
  uint8_t input[sizeof(label) - 1 + STW_PSK_KEY_LEN], digest[32];
  memcpy(input, label, sizeof(label) - 1);
  memcpy(input + sizeof(label) - 1, psk, STW_PSK_KEY_LEN);
  stw_status_t st = stw_sha256(input, sizeof(input), digest);
  if (st == STW_OK)
    stw_device_id_hex(digest, id);
  stw_wipe(input, sizeof(input));
  return st;
}

stw_status_t stw_factory_imprint(const stw_factory_t *f, const char *model, bool psk, stw_imprint_t *out)
{
  memset(out, 0, sizeof(*out));
  stw_buf_init(&out->idevid_pem, 8192);
  snprintf(out->model, sizeof(out->model), "%s", model);
  out->psk_device = psk;
  if (psk) {
    stw_status_t st = stw_random(out->psk, sizeof(out->psk));
    if (st == STW_OK)
      st = psk_device_id(out->psk, out->id);
    if (st == STW_OK)
      snprintf(out->psk_identity, sizeof(out->psk_identity), "%s", out->id);
    return st;
  }
  stw_key_t *key = NULL;
  uint8_t spki[STW_SPKI_MAX], id[STW_DEVICE_ID_LEN];
  size_t spki_len = sizeof(spki);
  stw_buf_t der, cert_pem;
  stw_buf_init(&der, STW_CERT_MAX);
  stw_buf_init(&cert_pem, 8192);
  char san[2 * STW_NAME_MAX];
  stw_status_t st = stw_key_generate(&key);
  if (st == STW_OK)
    st = stw_key_spki(key, spki, &spki_len);
  if (st == STW_OK)
    st = stw_device_id_from_spki(spki, spki_len, id);
  if (st != STW_OK)
    goto out;
  stw_device_id_hex(id, out->id);
  snprintf(san, sizeof(san), "urn:steward:dev:%s", out->id);
  int64_t now = stw_now();
  stw_cert_template_t t = {
    .common_name = out->id, .organization = f->name, .unit = model, .serial_number = out->id,
    .san_uri = san, .not_before = now - 60, .not_after = now + (int64_t)IDEVID_YEARS * 365 * 86400,
    .client_auth = true,
  };
  if ((st = stw_cert_issue(f->ca_key, f->ca_der.data, f->ca_der.len, spki, spki_len, &t, &der, NULL)) != STW_OK)
    goto out;
  if ((st = stw_der_to_pem("CERTIFICATE", der.data, der.len, &cert_pem)) != STW_OK)
    goto out;
  /* stw_key_export_pem() replaces its output, so the key comes first. */
  if ((st = stw_key_export_pem(key, &out->idevid_pem)) != STW_OK)
    goto out;
  if ((st = stw_buf_append(&out->idevid_pem, cert_pem.data, cert_pem.len)) != STW_OK)
    goto out;
  st = stw_buf_append(&out->idevid_pem, "", 1);
out:
  stw_key_free(key);
  stw_buf_free(&der, false);
  stw_buf_free(&cert_pem, false);
  return st;
}

stw_status_t stw_imprint_save(const stw_factory_t *f, const stw_imprint_t *im, const char *dir)
{
  char path[1100];
  stw_buf_t ca_pem;
  stw_buf_init(&ca_pem, 8192);
  stw_status_t st = stw_mkdir_p(dir, 0700);
  if (st == STW_OK)
    st = stw_der_to_pem("CERTIFICATE", f->ca_der.data, f->ca_der.len, &ca_pem);
  if (st == STW_OK && (st = stw_path_join(path, sizeof(path), dir, "mfg-ca.pem")) == STW_OK)
    st = stw_file_write_atomic(path, ca_pem.data, ca_pem.len, 0644);
  if (st == STW_OK && (st = stw_path_join(path, sizeof(path), dir, "model")) == STW_OK)
    st = stw_file_write_atomic(path, im->model, strlen(im->model), 0644);
  stw_buf_free(&ca_pem, false);
  if (st != STW_OK)
    return st;
  if (!im->psk_device) {
    if ((st = stw_path_join(path, sizeof(path), dir, "idevid.pem")) != STW_OK)
      return st;
    return stw_file_write_atomic(path, im->idevid_pem.data, im->idevid_pem.len - 1, 0600);
  }
  char text[STW_PSK_IDENTITY_MAX + 2 * STW_PSK_KEY_LEN + 4], hex[2 * STW_PSK_KEY_LEN + 1];
  stw_hex_encode(im->psk, STW_PSK_KEY_LEN, hex);
  int n = snprintf(text, sizeof(text), "%s\n%s\n", im->psk_identity, hex);
  if ((st = stw_path_join(path, sizeof(path), dir, "bootstrap.psk")) == STW_OK)
    st = stw_file_write_atomic(path, text, (size_t)n, 0600);
  stw_wipe(text, sizeof(text));
  stw_wipe(hex, sizeof(hex));
  return st;
}

stw_status_t stw_imprint_load(const char *dir, stw_imprint_t *out)
{
  char path[1100];
  uint8_t *txt = NULL;
  size_t len = 0;
  memset(out, 0, sizeof(*out));
  stw_buf_init(&out->idevid_pem, 16384);
  stw_status_t st = stw_path_join(path, sizeof(path), dir, "idevid.pem");
  if (st != STW_OK)
    return st;
  st = stw_file_read(path, 16384, &txt, &len);
  if (st == STW_OK) {
    stw_buf_t der;
    stw_buf_init(&der, STW_CERT_MAX);
    stw_cert_info_t info;
    st = stw_pem_to_der("CERTIFICATE", txt, len, &der);
    if (st == STW_OK)
      st = stw_cert_parse(der.data, der.len, &info);
    if (st == STW_OK) {
      stw_device_id_hex(info.device_id, out->id);
      snprintf(out->model, sizeof(out->model), "%s", info.unit);
    }
    stw_buf_free(&der, false);
    stw_wipe(txt, len);
    free(txt);
    return st;
  }
  if (st != STW_ERR_NOT_FOUND)
    return st;
  if ((st = stw_path_join(path, sizeof(path), dir, "bootstrap.psk")) != STW_OK ||
      (st = stw_file_read(path, 256, &txt, &len)) != STW_OK)
    return st;
  out->psk_device = true;
  const char *nl = memchr(txt, '\n', len);
  size_t id_len = nl ? (size_t)(nl - (const char *)txt) : 0;
  st = STW_ERR_MALFORMED;
  if (nl != NULL && id_len > 0 && id_len <= STW_PSK_IDENTITY_MAX && len >= id_len + 1 + 2 * STW_PSK_KEY_LEN) {
    memcpy(out->psk_identity, txt, id_len);
    out->psk_identity[id_len] = '\0';
    st = stw_hex_decode(nl + 1, 2 * STW_PSK_KEY_LEN, out->psk, STW_PSK_KEY_LEN);
    if (st == STW_OK)
      st = psk_device_id(out->psk, out->id);
  }
  stw_wipe(txt, len);
  free(txt);
  if (st != STW_OK)
    return st;
  /* A PSK device has no certificate to carry its model: the folder does, and
   * the voucher vouches for it. */
  uint8_t *model = NULL;
  size_t model_len = 0;
  if (stw_path_join(path, sizeof(path), dir, "model") == STW_OK &&
      stw_file_read(path, STW_NAME_MAX - 1, &model, &model_len) == STW_OK) {
    while (model_len > 0 && (model[model_len - 1] == '\n' || model[model_len - 1] == '\r'))
      model_len--;
    memcpy(out->model, model, model_len);
    out->model[model_len] = '\0';
  }
  free(model);
  return STW_OK;
}

stw_status_t stw_factory_voucher(const stw_factory_t *f, const stw_imprint_t *im,
                                 const uint8_t *owner_spki, size_t owner_spki_len, int64_t lifetime,
                                 stw_buf_t *out)
{
  stw_voucher_t v;
  memset(&v, 0, sizeof(v));
  if (owner_spki_len > sizeof(v.owner_spki))
    return STW_ERR_TOO_LARGE;
  stw_status_t st = stw_hex_decode(im->id, strlen(im->id), v.device_id, sizeof(v.device_id));
  if (st != STW_OK)
    return st;
  memcpy(v.owner_spki, owner_spki, owner_spki_len);
  v.owner_spki_len = owner_spki_len;
  snprintf(v.model, sizeof(v.model), "%s", im->model);
  v.created_on = stw_now();
  v.expires_on = lifetime > 0 ? v.created_on + lifetime : 0;
  if ((st = stw_random(v.serial, sizeof(v.serial))) != STW_OK)
    return st;
  if (im->psk_device) {
    static const char info[] = "steward voucher psk";
    snprintf(v.psk_identity, sizeof(v.psk_identity), "%s", im->psk_identity);
    stw_buf_t sealed;
    stw_buf_init(&sealed, sizeof(v.sealed_psk));
    st = stw_seal(owner_spki, owner_spki_len, (const uint8_t *)info, sizeof(info) - 1, im->psk,
                  STW_PSK_KEY_LEN, &sealed);
    if (st == STW_OK) {
      memcpy(v.sealed_psk, sealed.data, sealed.len);
      v.sealed_psk_len = sealed.len;
    }
    stw_buf_free(&sealed, false);
    if (st != STW_OK)
      return st;
  }
  return stw_voucher_sign(&v, f->ca_key, out);
}
