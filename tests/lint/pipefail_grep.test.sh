#!/usr/bin/env bash
# No shell test or script pipes into `grep -q` (docs/TESTING.md, Conventions): under
# `set -o pipefail` grep -q stops at the first match, the writer can die of SIGPIPE, and the
# pipeline fails although the text was there — an intermittent failure.
set -euo pipefail
cd "${STELE_SOURCE_DIR:?}"
files=$(git ls-files 'tests/*.sh' 'scripts/*' 2>/dev/null || find tests scripts -name '*.sh')
# A pipe, then grep with a q among its flags (-q, -Eq, -qx...).
if bad=$(grep -nE '\|[[:space:]]*grep[[:space:]]+-[A-Za-z]*q' $files); then
  echo "FAIL: pipelines into grep -q (write 'grep PATTERN >/dev/null'):"
  echo "$bad"
  exit 1
fi
echo "pipefail_grep: $(echo "$files" | wc -w) files checked"
