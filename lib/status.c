#include "steward/status.h"

const char *stw_status_str(stw_status_t status)
{
  switch (status) {
  case STW_OK: return "ok";
  case STW_ERR_NOMEM: return "out of memory";
  case STW_ERR_INVALID: return "invalid argument";
  case STW_ERR_MALFORMED: return "malformed input";
  case STW_ERR_TOO_LARGE: return "too large";
  case STW_ERR_CRYPTO: return "crypto failure";
  case STW_ERR_BAD_SIGNATURE: return "bad signature";
  case STW_ERR_UNTRUSTED: return "untrusted";
  case STW_ERR_FORBIDDEN: return "forbidden";
  case STW_ERR_UNAUTHENTICATED: return "unauthenticated";
  case STW_ERR_NOT_FOUND: return "not found";
  case STW_ERR_EXISTS: return "already exists";
  case STW_ERR_CONFLICT: return "conflict";
  case STW_ERR_STATE: return "not allowed in this state";
  case STW_ERR_IO: return "i/o error";
  case STW_ERR_STORE: return "store error";
  case STW_ERR_NETWORK: return "network error";
  case STW_ERR_TIMEOUT: return "timed out";
  case STW_ERR_EXPIRED: return "expired";
  case STW_ERR_REPLAY: return "replayed";
  case STW_ERR_UNSUPPORTED: return "unsupported";
  case STW_ERR_TAMPERED: return "tampered";
  case STW_ERR_BUSY: return "busy";
  }
  return "unknown status";
}
