/* steward sim: many simulated devices, one process, event driven. */
#include <stdio.h>
#include "cli.h"

int cmd_sim(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "steward sim: not built yet\n");
  return 1;
}
