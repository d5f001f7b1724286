#include "steward/steward.h"

const char *stw_version(void)
{
  return STEWARD_VERSION;
}
