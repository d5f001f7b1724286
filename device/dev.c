#include "dev_internal.h"
#include "devfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PSK_FILE_MAX 256

/* Copy the PEM block "-----BEGIN <label>-----" ... "-----END <label>-----" of
 * text into out (NUL-terminated). labels: alternatives separated by '|'. */
static stw_status_t pem_block(const char *text, const char *labels, stw_buf_t *out)
{
  char begin[64], end[64];
  const char *l = labels;
  while (*l) {
    const char *bar = strchr(l, '|');
    size_t n = bar ? (size_t)(bar - l) : strlen(l);
    snprintf(begin, sizeof(begin), "-----BEGIN %.*s-----", (int)n, l);
    snprintf(end, sizeof(end), "-----END %.*s-----", (int)n, l);
    const char *b = strstr(text, begin);
    const char *e = b ? strstr(b, end) : NULL;
    if (b && e) {
      e += strlen(end);
      stw_wipe(out->data, out->cap);  /* out may hold a key read before: none of it stays */
      out->len = 0;
      stw_status_t st = stw_buf_append(out, b, (size_t)(e - b));
      if (st == STW_OK)
        st = stw_buf_append(out, "\n", 2); /* newline and NUL; len counts the NUL as libcoap wants */
      return st;
    }
    l += n;
    if (*l == '|')
      l++;
  }
  return STW_ERR_NOT_FOUND;
}

static stw_status_t read_text(const stw_dev_t *dev, const char *file, size_t max, uint8_t **out, size_t *len)
{
  char path[1100];
  stw_status_t st = stw_path_join(path, sizeof(path), dev->dir, file);
  if (st != STW_OK)
    return st;
  return stw_file_read(path, max, out, len);
}

static stw_status_t write_file(const stw_dev_t *dev, const char *file, const void *data, size_t len, unsigned mode)
{
  if (dev->dir[0] == '\0')
    return STW_OK; /* memory-only device */
  char path[1100];
  stw_status_t st = stw_path_join(path, sizeof(path), dev->dir, file);
  if (st != STW_OK)
    return st;
  return stw_file_write_atomic(path, data, len, mode);
}

static void remove_file(const stw_dev_t *dev, const char *file)
{
  char path[1100];
  if (dev->dir[0] != '\0' && stw_path_join(path, sizeof(path), dev->dir, file) == STW_OK)
    unlink(path);
}

/* The pending enrollment forgotten in memory: the key's bytes wiped, not
 * only its length reset. */
static void drop_pending(stw_dev_t *dev)
{
  stw_wipe(dev->pending_key_pem.data, dev->pending_key_pem.cap);
  dev->pending_key_pem.len = 0;
  dev->pending_csr_der.len = 0;
}

static stw_dev_t *dev_alloc(void)
{
  stw_dev_t *dev = calloc(1, sizeof(*dev));
  if (dev == NULL)
    return NULL;
  stw_buf_init(&dev->idevid_cert_pem, STW_PEM_MAX);
  stw_buf_init(&dev->idevid_key_pem, STW_PEM_MAX);
  stw_buf_init(&dev->mfg_ca_der, STW_CERT_MAX);
  stw_buf_init(&dev->domain_ca_der, STW_CERT_MAX);
  stw_buf_init(&dev->op_cert_pem, STW_PEM_MAX);
  stw_buf_init(&dev->op_key_pem, STW_PEM_MAX);
  stw_buf_init(&dev->pending_key_pem, STW_PEM_MAX);
  stw_buf_init(&dev->pending_csr_der, STW_CSR_MAX);
  dev->renewal_share = STW_DEFAULT_RENEWAL_SHARE;
  return dev;
}

/* Parse "identity\nhex-key\n". */
static stw_status_t parse_psk_file(const uint8_t *txt, size_t len, char *identity, uint8_t key[STW_PSK_KEY_LEN])
{
  const char *nl = memchr(txt, '\n', len);
  if (nl == NULL)
    return STW_ERR_MALFORMED;
  size_t id_len = (size_t)(nl - (const char *)txt);
  if (id_len == 0 || id_len > STW_PSK_IDENTITY_MAX)
    return STW_ERR_MALFORMED;
  const char *hex = nl + 1;
  size_t hex_len = len - id_len - 1;
  while (hex_len > 0 && (hex[hex_len - 1] == '\n' || hex[hex_len - 1] == '\r'))
    hex_len--;
  if (stw_hex_decode(hex, hex_len, key, STW_PSK_KEY_LEN) != STW_OK)
    return STW_ERR_MALFORMED;
  memcpy(identity, txt, id_len);
  identity[id_len] = '\0';
  return STW_OK;
}

static stw_status_t load_x509_identity(stw_dev_t *dev, const char *pem)
{
  stw_status_t st = pem_block(pem, "CERTIFICATE", &dev->idevid_cert_pem);
  if (st == STW_OK)
    st = pem_block(pem, "EC PRIVATE KEY|PRIVATE KEY", &dev->idevid_key_pem);
  if (st == STW_OK)
    st = stw_key_import_pem(dev->idevid_key_pem.data, dev->idevid_key_pem.len, &dev->idevid_key);
  if (st != STW_OK)
    return st;
  uint8_t spki[STW_SPKI_MAX], id[STW_DEVICE_ID_LEN];
  size_t spki_len = sizeof(spki);
  if ((st = stw_key_spki(dev->idevid_key, spki, &spki_len)) != STW_OK ||
      (st = stw_device_id_from_spki(spki, spki_len, id)) != STW_OK)
    return st;
  stw_device_id_hex(id, dev->id);
  return STW_OK;
}

static stw_status_t psk_device_id(stw_dev_t *dev)
{
  /* A PSK device has no public key; its id is the bootstrap identity, which
   * the manufacturer derived from the PSK itself (see mfg imprint). */
  if (strlen(dev->boot_psk_identity) != STW_DEVICE_ID_HEX_LEN - 1)
    return STW_ERR_MALFORMED;
  memcpy(dev->id, dev->boot_psk_identity, STW_DEVICE_ID_HEX_LEN);
  return STW_OK;
}

static stw_status_t load_op_cert(stw_dev_t *dev, const char *pem)
{
  stw_status_t st = pem_block(pem, "CERTIFICATE", &dev->op_cert_pem);
  if (st == STW_OK)
    st = pem_block(pem, "EC PRIVATE KEY|PRIVATE KEY", &dev->op_key_pem);
  stw_buf_t der;
  stw_buf_init(&der, STW_CERT_MAX);
  if (st == STW_OK)
    st = stw_pem_to_der("CERTIFICATE", dev->op_cert_pem.data, dev->op_cert_pem.len, &der);
  if (st == STW_OK)
    st = stw_cert_parse(der.data, der.len, &dev->op_cert);
  stw_buf_free(&der, false);
  dev->has_op_cert = st == STW_OK;
  return st;
}

/* A trust anchor must be a certificate that parses: a damaged one is an error
 * at open, not a puzzling voucher or server refusal during bootstrap. */
static stw_status_t load_anchor(const uint8_t *pem, size_t len, stw_buf_t *der)
{
  stw_cert_info_t info;
  stw_status_t st = stw_pem_to_der("CERTIFICATE", pem, len, der);
  if (st == STW_OK)
    st = stw_cert_parse(der->data, der->len, &info);
  return st;
}

/* An anchor file the device may not have (yet): absent or unreadable is no error. */
static stw_status_t read_anchor(const stw_dev_t *dev, const char *file, stw_buf_t *der)
{
  uint8_t *txt = NULL;
  size_t len = 0;
  stw_status_t st = STW_OK;
  if (read_text(dev, file, STW_PEM_MAX, &txt, &len) == STW_OK)
    st = load_anchor(txt, len, der);
  free(txt);
  return st;
}

stw_status_t stw_dev_open(const char *dir, stw_dev_t **out)
{
  *out = NULL;
  stw_dev_t *dev = dev_alloc();
  if (dev == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = STW_ERR_TOO_LARGE;
  uint8_t *txt = NULL;
  size_t len = 0;
  if ((size_t)snprintf(dev->dir, sizeof(dev->dir), "%s", dir) >= sizeof(dev->dir))
    goto out;

  st = read_text(dev, "idevid.pem", STW_PEM_MAX, &txt, &len);
  if (st == STW_OK) {
    st = load_x509_identity(dev, (const char *)txt);
  } else if (st == STW_ERR_NOT_FOUND) {
    st = read_text(dev, "bootstrap.psk", PSK_FILE_MAX, &txt, &len);
    if (st == STW_OK)
      st = parse_psk_file(txt, len, dev->boot_psk_identity, dev->boot_psk);
    if (st == STW_OK)
      st = psk_device_id(dev);
    dev->psk_device = true;
  }
  stw_wipe(txt, len);
  free(txt);
  txt = NULL;
  if (st != STW_OK)
    goto out;

  if ((st = read_anchor(dev, "mfg-ca.pem", &dev->mfg_ca_der)) != STW_OK)
    goto out;
  if (!dev->psk_device && dev->mfg_ca_der.len == 0) {
    st = STW_ERR_NOT_FOUND; /* an X.509 device cannot check vouchers without it */
    goto out;
  }

  if ((st = read_anchor(dev, "domain-ca.pem", &dev->domain_ca_der)) != STW_OK)
    goto out;

  if (read_text(dev, "name", STW_NAME_MAX - 1, &txt, &len) == STW_OK) {
    while (len > 0 && txt[len - 1] == '\n')
      len--;
    memcpy(dev->name, txt, len);
    dev->name[len] = '\0';
  }
  free(txt);
  txt = NULL;

  if (read_text(dev, "operational.pem", STW_PEM_MAX, &txt, &len) == STW_OK)
    st = load_op_cert(dev, (const char *)txt);
  stw_wipe(txt, len);
  free(txt);
  txt = NULL;
  if (st != STW_OK)
    goto out;
  if (read_text(dev, "operational.psk", PSK_FILE_MAX, &txt, &len) == STW_OK) {
    st = parse_psk_file(txt, len, dev->op_psk_identity, dev->op_psk);
    dev->has_op_psk = st == STW_OK;
  }
  stw_wipe(txt, len);
  free(txt);
  txt = NULL;
  if (st != STW_OK)
    goto out;

  /* An enrollment that was in flight when the device stopped. */
  if (read_text(dev, "enroll.pending", STW_PEM_MAX, &txt, &len) == STW_OK) {
    if (pem_block((const char *)txt, "EC PRIVATE KEY|PRIVATE KEY", &dev->pending_key_pem) != STW_OK ||
        stw_pem_to_der("CERTIFICATE REQUEST", txt, len, &dev->pending_csr_der) != STW_OK)
      drop_pending(dev);
  }
  stw_wipe(txt, len);
  free(txt);
  txt = NULL;
  st = STW_OK;
out:
  if (st != STW_OK) {
    stw_dev_close(dev);
    dev = NULL;
  }
  *out = dev;
  return st;
}

stw_status_t stw_dev_new_memory(const char *idevid_pem, const char *mfg_ca_pem,
                                const char *psk_identity, const uint8_t *psk, stw_dev_t **out)
{
  *out = NULL;
  stw_dev_t *dev = dev_alloc();
  if (dev == NULL)
    return STW_ERR_NOMEM;
  stw_status_t st = STW_ERR_INVALID;
  if (idevid_pem != NULL) {
    if ((st = load_x509_identity(dev, idevid_pem)) != STW_OK)
      goto out;
    /* Without the manufacturer CA an X.509 device cannot check its voucher. */
    st = STW_ERR_INVALID;
    if (mfg_ca_pem == NULL ||
        (st = load_anchor((const uint8_t *)mfg_ca_pem, strlen(mfg_ca_pem), &dev->mfg_ca_der)) != STW_OK)
      goto out;
  } else if (psk_identity != NULL && psk != NULL && strlen(psk_identity) <= STW_PSK_IDENTITY_MAX) {
    dev->psk_device = true;
    snprintf(dev->boot_psk_identity, sizeof(dev->boot_psk_identity), "%s", psk_identity);
    memcpy(dev->boot_psk, psk, STW_PSK_KEY_LEN);
    if ((st = psk_device_id(dev)) != STW_OK)
      goto out;
  } else {
    goto out;
  }
  st = STW_OK;
out:
  if (st != STW_OK) {
    stw_dev_close(dev);
    dev = NULL;
  }
  *out = dev;
  return st;
}

void stw_dev_close(stw_dev_t *dev)
{
  if (dev == NULL)
    return;
  stw_key_free(dev->idevid_key);
  stw_buf_free(&dev->idevid_cert_pem, false);
  stw_buf_free(&dev->idevid_key_pem, true);
  stw_buf_free(&dev->mfg_ca_der, false);
  stw_buf_free(&dev->domain_ca_der, false);
  stw_buf_free(&dev->op_cert_pem, false);
  stw_buf_free(&dev->op_key_pem, true);
  stw_buf_free(&dev->pending_key_pem, true);
  stw_buf_free(&dev->pending_csr_der, false);
  stw__devfiles_free(dev->mem_files);
  stw_wipe(dev, sizeof(*dev));
  free(dev);
}

const char *stw_dev_id(const stw_dev_t *dev) { return dev->id; }
const char *stw_dev_name(const stw_dev_t *dev) { return dev->name; }
bool stw_dev_uses_psk(const stw_dev_t *dev) { return dev->psk_device; }

stw_dev_state_t stw_dev_state(const stw_dev_t *dev)
{
  return (dev->has_op_cert || dev->has_op_psk) ? STW_DEV_ENROLLED : STW_DEV_FACTORY;
}

int64_t stw_dev_cert_not_before(const stw_dev_t *dev) { return dev->has_op_cert ? dev->op_cert.not_before : 0; }
int64_t stw_dev_cert_not_after(const stw_dev_t *dev) { return dev->has_op_cert ? dev->op_cert.not_after : 0; }
const char *stw_dev_cert_serial(const stw_dev_t *dev) { return dev->has_op_cert ? dev->op_cert.serial_hex : ""; }

/* ---- persistence used by the flows ------------------------------------------ */

stw_status_t stw__dev_pending_csr(stw_dev_t *dev, const char *cn)
{
  if (dev->pending_key_pem.len > 0 && dev->pending_csr_der.len > 0)
    return STW_OK; /* resume: the identical CSR again */
  stw_key_t *key = NULL;
  stw_buf_t file, csr_pem;
  stw_buf_init(&file, 2 * STW_PEM_MAX);
  stw_buf_init(&csr_pem, STW_PEM_MAX);
  drop_pending(dev);
  stw_status_t st = stw_key_generate(&key);
  if (st == STW_OK)
    st = stw_key_export_pem(key, &dev->pending_key_pem);
  if (st == STW_OK)
    st = stw_buf_append(&dev->pending_key_pem, "", 1);
  if (st == STW_OK)
    st = stw_csr_create(key, cn, &dev->pending_csr_der);
  if (st == STW_OK)
    st = stw_der_to_pem("CERTIFICATE REQUEST", dev->pending_csr_der.data, dev->pending_csr_der.len, &csr_pem);
  if (st == STW_OK)
    st = stw_buf_append(&file, dev->pending_key_pem.data, dev->pending_key_pem.len - 1);
  if (st == STW_OK)
    st = stw_buf_append(&file, csr_pem.data, csr_pem.len);
  if (st == STW_OK)
    st = write_file(dev, "enroll.pending", file.data, file.len, 0600);
  if (st != STW_OK)
    drop_pending(dev);
  stw_key_free(key);
  stw_buf_free(&file, true);
  stw_buf_free(&csr_pem, false);
  return st;
}

void stw__dev_clear_pending(stw_dev_t *dev)
{
  drop_pending(dev);
  remove_file(dev, "enroll.pending");
}

stw_status_t stw__dev_store_ldevid(stw_dev_t *dev, const uint8_t *der, size_t len)
{
  stw_buf_t cert_pem, file;
  stw_buf_init(&cert_pem, STW_PEM_MAX);
  stw_buf_init(&file, 2 * STW_PEM_MAX);
  stw_status_t st = stw_der_to_pem("CERTIFICATE", der, len, &cert_pem);
  if (st == STW_OK)
    st = stw_buf_append(&file, dev->pending_key_pem.data, dev->pending_key_pem.len - 1);
  if (st == STW_OK)
    st = stw_buf_append(&file, cert_pem.data, cert_pem.len);
  if (st == STW_OK)
    st = stw_buf_append(&file, "", 1);
  /* One file holds key and certificate, so the pair changes atomically. */
  if (st == STW_OK)
    st = write_file(dev, "operational.pem", file.data, file.len - 1, 0600);
  if (st == STW_OK)
    st = load_op_cert(dev, (const char *)file.data);
  if (st == STW_OK)
    stw__dev_clear_pending(dev);
  stw_buf_free(&cert_pem, false);
  stw_buf_free(&file, true);
  return st;
}

stw_status_t stw__dev_store_domain_ca(stw_dev_t *dev, const uint8_t *der, size_t len)
{
  stw_buf_t pem;
  stw_buf_init(&pem, STW_PEM_MAX);
  stw_status_t st = stw_der_to_pem("CERTIFICATE", der, len, &pem);
  if (st == STW_OK)
    st = write_file(dev, "domain-ca.pem", pem.data, pem.len, 0644);
  if (st == STW_OK) {
    dev->domain_ca_der.len = 0;
    st = stw_buf_append(&dev->domain_ca_der, der, len);
  }
  stw_buf_free(&pem, false);
  return st;
}

stw_status_t stw__dev_store_op_psk(stw_dev_t *dev, const char *identity, const uint8_t key[STW_PSK_KEY_LEN])
{
  char text[STW_PSK_IDENTITY_MAX + 2 * STW_PSK_KEY_LEN + 4];
  char hex[2 * STW_PSK_KEY_LEN + 1];
  stw_hex_encode(key, STW_PSK_KEY_LEN, hex);
  int n = snprintf(text, sizeof(text), "%s\n%s\n", identity, hex);
  stw_status_t st = STW_ERR_TOO_LARGE;
  if (n > 0 && (size_t)n < sizeof(text))
    st = write_file(dev, "operational.psk", text, (size_t)n, 0600);
  if (st == STW_OK) {
    snprintf(dev->op_psk_identity, sizeof(dev->op_psk_identity), "%s", identity);
    memcpy(dev->op_psk, key, STW_PSK_KEY_LEN);
    dev->has_op_psk = true;
  }
  stw_wipe(text, sizeof(text));
  stw_wipe(hex, sizeof(hex));
  return st;
}

stw_status_t stw__dev_store_name(stw_dev_t *dev, const char *name)
{
  snprintf(dev->name, sizeof(dev->name), "%s", name);
  return write_file(dev, "name", dev->name, strlen(dev->name), 0644);
}

stw_status_t stw_dev_set_renewal_share(stw_dev_t *dev, double share)
{
  if (!(share > 0.0 && share <= 1.0))
    return STW_ERR_INVALID;
  dev->renewal_share = share;
  return STW_OK;
}
