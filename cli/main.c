#include <stdio.h>
int main(void) { puts("steward"); return 0; }
