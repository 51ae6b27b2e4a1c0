#!/usr/bin/env bash
# The tree is formatted with .clang-format (make format fixes it).
set -euo pipefail
cd "${STELE_SOURCE_DIR:?}"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find lib tools ca tests -name '*.[ch]')
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -w) files formatted"
