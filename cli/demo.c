/* steward demo: the whole lifecycle story. */
#include <stdio.h>
#include "cli.h"

int cmd_demo(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "steward demo: not built yet\n");
  return 1;
}
