# Sourced by shell tests that run a whole network with stele-network (tests/integration/
# chaincode, crl, tls_network). Sets $src and $bin (from the test environment), $tmp (a
# temporary directory, removed at exit after `stele-network down` of the network in $net, if
# one was started), $net, $base (a range of 50 ports, tests/support/ports.sh), $p1 and $p2 (the addresses of
# the two peers of configs/network.yaml moved there) and $ids; defines:
#   fail MESSAGE...    print FAIL and the logs' last lines, exit 1;
#   ok WHAT CMD...     CMD must succeed; $out holds its stdout and stderr;
#   deploy_asset [OPTION...]
#                      package the sample chaincode, install it on both peers, have both
#                      organisations' admins approve it under AND(org1.peer, org2.peer) and
#                      org1's commit it, as scripts/demo step 4 does (OPTIONs, such as TLS
#                      ones, go to every call to a peer).
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
net=$tmp/net
net_cleanup() {
  if [ -f "$net/network.json" ]; then "$bin/stele-network" down --dir "$net" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap net_cleanup EXIT
fail() {
  echo "FAIL: $*"
  [ -d "$net" ] && tail -n 5 "$net"/*.log
  # a sanitizer's report, whole (the last lines are only its summary)
  [ -d "$net" ] && grep -l 'Sanitizer' "$net"/*.log 2>/dev/null | while read -r f; do
    echo "==> $f (sanitizer report) <=="; sed -n '/ERROR: .*Sanitizer/,$p' "$f" | head -n 200
  done
  exit 1
}
source "$src/tests/support/ports.sh"
port_range
p1=127.0.0.1:$(( base + 10 )); p2=127.0.0.1:$(( base + 11 ))
ids=$net/ids

ok() {
  local what=$1 rc=0
  shift
  out=$("$@" </dev/null 2>&1) || rc=$?
  [ $rc -eq 0 ] || fail "$what: exit $rc: $out"
}

deploy_asset() {
  local def=(--name asset --version 1.0 --sequence 1 --package "$net/asset.pkg"
             --policy "AND(org1.peer, org2.peer)")
  ok "package" "$bin/stele" chaincode package --so "$bin/chaincode/asset.so" --name asset \
    --version 1.0 --out "$net/asset.pkg"
  ok "install on peer0.org1" "$bin/stele" chaincode install "$net/asset.pkg" --peer "$p1" "$@" \
    --identity "$ids/admin.org1"
  ok "install on peer0.org2" "$bin/stele" chaincode install "$net/asset.pkg" --peer "$p2" "$@" \
    --identity "$ids/admin.org2"
  ok "approve by org1" "$bin/stele" chaincode approve "${def[@]}" --peer "$p1" "$@" \
    --identity "$ids/admin.org1"
  ok "approve by org2" "$bin/stele" chaincode approve "${def[@]}" --peer "$p2" "$@" \
    --identity "$ids/admin.org2"
  ok "commit" "$bin/stele" chaincode commit "${def[@]}" --peer "$p1" "$@" --identity "$ids/admin.org1"
}
