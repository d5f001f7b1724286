#!/usr/bin/env bash
# The calls this project does not use (STYLE.md §8): unbounded or unchecked
# string and number handling. Fails listing each use.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|sscanf|strtok)[[:space:]]*\('
if grep -nE "$pattern" --include='*.c' --include='*.h' -r lib device server cli include bench tests; then
  echo "banned calls found (use snprintf, strtol with checks, bounded copies)" >&2
  exit 1
fi
echo "banned-call check: clean"
