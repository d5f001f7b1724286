/* Replays a fuzz target's corpus (seeds and every crash ever found) without
 * libFuzzer, so each build checks the parsers against them under ASan/UBSan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  uint8_t *buf = malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
  fclose(f);
  if (buf == NULL)
    return -1;
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

int main(int argc, char **argv)
{
  unsigned ran = 0;
  for (int i = 1; i < argc; i++) {
    DIR *d = opendir(argv[i]);
    if (d == NULL) {
      if (run_file(argv[i]) == 0)
        ran++;
      continue;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.')
        continue;
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
      if (run_file(path) == 0)
        ran++;
    }
    closedir(d);
  }
  /* Also a few degenerate inputs every parser must survive. */
  static const uint8_t zeros[64];
  LLVMFuzzerTestOneInput(zeros, 0);
  LLVMFuzzerTestOneInput(zeros, 1);
  LLVMFuzzerTestOneInput(zeros, sizeof(zeros));
  printf("replayed %u inputs\n", ran);
  return ran > 0 ? 0 : 1;
}
