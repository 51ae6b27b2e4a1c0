#!/usr/bin/env bash
# peer_check.test.sh — golden test of `stele-peer --check`: the shipped
# configs/peer.yaml and the configs in tests/data/peer-check/ (good and broken), each
# run's output and exit status compared with NAME.expected. Run with UPDATE=1 to rewrite the
# expected files.
set -u
src=${STELE_SOURCE_DIR:?}
bin=${STELE_BINARY_DIR:?}/stele-peer
cd "$src" || exit 1
fail=0
check() { # config expected-file
    local got
    got=$("$bin" --check "$1" 2>&1; echo "exit $?")
    if [[ ${UPDATE:-} == 1 ]]; then
        printf '%s\n' "$got" >"$2"
    elif ! diff -u "$2" <(printf '%s\n' "$got"); then
        echo "FAIL: $1" >&2
        fail=1
    fi
}
check configs/peer.yaml tests/data/peer-check/shipped-peer.expected
for f in tests/data/peer-check/*.yaml; do
    check "$f" "${f%.yaml}.expected"
done
# A directory given as the file is the user's mistake: refused (1), not an I/O failure (3).
"$bin" --check tests/data/peer-check >/dev/null 2>&1
[[ $? == 1 ]] || { echo "FAIL: --check of a directory should exit 1" >&2; fail=1; }
# Usage errors exit 2.
"$bin" --check >/dev/null 2>&1
[[ $? == 2 ]] || { echo "FAIL: --check without a file should exit 2" >&2; fail=1; }
"$bin" serve >/dev/null 2>&1
[[ $? == 2 ]] || { echo "FAIL: serve without --config should exit 2" >&2; fail=1; }
"$bin" frobnicate >/dev/null 2>&1
[[ $? == 2 ]] || { echo "FAIL: an unknown command should exit 2" >&2; fail=1; }
exit $fail
