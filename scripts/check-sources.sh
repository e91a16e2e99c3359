#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Source checks: every tracked source file carries an SPDX line near its top,
# and the C sources are clang-formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0'; then
    echo "missing SPDX line: $f" >&2
    bad=1
  fi
done < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' '*.sh' '*.mjs' '*.js' \
           'Makefile' 'CMakeLists.txt' '.ci/run' | while read -r p; do [[ -f $p ]] && echo "$p"; done)
mapfile -t csrc < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h')
clang-format --dry-run --Werror "${csrc[@]}" || bad=1
if ((bad)); then
  echo "source checks failed" >&2
  exit 1
fi
echo "source checks passed (${#csrc[@]} C files)"
