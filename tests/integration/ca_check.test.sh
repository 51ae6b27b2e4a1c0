#!/usr/bin/env bash
# ca_check.test.sh — golden test of `stele-ca serve --check`: the shipped configs/ca.yaml and
# the configs in tests/data/ca-check/ (good and broken), each run's output and exit status
# compared with NAME.expected. Run with UPDATE=1 to rewrite the expected files.
# --check also wants the CA directory a config names to hold a CA: the configs run from a copy
# of the tree in which the directories of the valid ones hold a CA (no-ca.yaml names one that
# does not exist, empty-dir.yaml one without a CA).
set -u
src=${STELE_SOURCE_DIR:?}
bin=${STELE_BINARY_DIR:?}/stele-ca
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests/data" && cp -r "$src/configs" "$tmp/" &&
    cp -r "$src/tests/data/ca-check" "$tmp/tests/data/" || exit 1
for d in var/ca tests/data/ca-check/ca; do
    "$bin" init --dir "$tmp/$d" >/dev/null || exit 1
done
cd "$tmp" || exit 1
fail=0
check() { # config expected-file (in the source tree)
    local got
    got=$("$bin" serve --check "$1" 2>&1; echo "exit $?")
    if [[ ${UPDATE:-} == 1 ]]; then
        printf '%s\n' "$got" >"$src/$2"
    elif ! diff -u "$src/$2" <(printf '%s\n' "$got"); then
        echo "FAIL: $1" >&2
        fail=1
    fi
}
check configs/ca.yaml tests/data/ca-check/shipped-ca.expected
for f in tests/data/ca-check/*.yaml; do
    check "$f" "${f%.yaml}.expected"
done
# --json: one object, "ok" true or false with the one-line error.
out=$("$bin" serve --check configs/ca.yaml --json)
[[ $out == '{"file":"configs/ca.yaml","ok":true,"listen":"127.0.0.1:7054",'* ]] ||
    { echo "FAIL: --check --json: $out" >&2; fail=1; }
out=$("$bin" serve --check tests/data/ca-check/bad-listen.yaml --json 2>/dev/null)
[[ $? == 1 && $out == *'"ok":false,"error":"tests/data/ca-check/bad-listen.yaml:1:9: '* ]] ||
    { echo "FAIL: --check --json on a broken file: $out" >&2; fail=1; }
out=$("$bin" serve --check tests/data/ca-check/no-ca.yaml --json 2>/dev/null)
[[ $? == 1 && $out == *'"ok":false,"error":"dir tests/data/ca-check/no-such-ca: no such directory;'* ]] ||
    { echo "FAIL: --check --json without a CA: $out" >&2; fail=1; }
# Usage errors exit 2.
"$bin" serve --check >/dev/null 2>&1
[[ $? == 2 ]] || { echo "FAIL: --check without a file should exit 2" >&2; fail=1; }
"$bin" serve --listen 127.0.0.1:1 >/dev/null 2>&1
[[ $? == 2 ]] || { echo "FAIL: --listen without --dir should exit 2" >&2; fail=1; }
exit $fail
