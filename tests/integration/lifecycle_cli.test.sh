#!/usr/bin/env bash
# `stele chaincode` refusing bad input before anything reaches a peer (no network needed):
#   1. `package` refuses a version a peer would not install nor a definition accept (a
#      newline, an escape, a space, 65 characters) with exit status 2, and writes no file; a
#      64-character version of printable characters is fine;
#   2. `approve` and `commit` with --package refuse a package of another chaincode than --name
#      (exit status 1, naming both), before they read the identity or call the peer: the
#      definition would run that package's code as --name, on --name's state.
set -euo pipefail
bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d /tmp/stele-lccli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# run WANT CMD...: CMD must exit with WANT; $out holds what it said (stdout and stderr).
run() {
  local want=$1 rc=0
  shift
  out=$("$@" </dev/null 2>&1) || rc=$?
  [ $rc -eq "$want" ] || fail "$*: exit $rc, not $want: $out"
}
kv=$bin/tests/chaincode/kv.so

# ---- 1. versions --------------------------------------------------------------------------
long=$(printf 'v%.0s' $(seq 1 65))
for v in $'1.0\nfake' $'1.0\e[2J' '1 0' "$long"; do
  run 2 "$bin/stele" chaincode package --so "$kv" --name kv --version "$v" --out "$tmp/bad.pkg"
  echo "$out" | grep -- '--version: 1..64 printable characters without spaces' >/dev/null || fail "package --version '$v': $out"
  [ ! -e "$tmp/bad.pkg" ] || fail "package --version '$v' wrote a package"
done
run 0 "$bin/stele" chaincode package --so "$kv" --name kv --version "${long:1}" --out "$tmp/kv64.pkg"
run 0 "$bin/stele" chaincode package --so "$kv" --name kv --version 1.0 --out "$tmp/kv.pkg"

# ---- 2. --package of another chaincode ----------------------------------------------------
for fn in approve commit; do
  run 1 "$bin/stele" chaincode "$fn" --name asset --version 1.0 --sequence 1 --package "$tmp/kv.pkg" \
    --policy 'OR(org1.peer)' --peer 127.0.0.1:1 --identity "$tmp/no-such-identity"
  echo "$out" | grep "$tmp/kv.pkg is a package of chaincode 'kv', not 'asset'" >/dev/null || fail "$fn with kv.pkg as asset: $out"
done
# the same package under its own name gets past that check (to the missing identity)
run 1 "$bin/stele" chaincode approve --name kv --version 1.0 --sequence 1 --package "$tmp/kv.pkg" \
  --policy 'OR(org1.peer)' --peer 127.0.0.1:1 --identity "$tmp/no-such-identity"
! echo "$out" | grep 'is a package of chaincode' >/dev/null || fail "approve kv with kv.pkg: $out"
echo "lifecycle_cli: ok"
