#!/usr/bin/env bash
# Interop: a client not written in C submits a transaction through a peer's gateway. On a
# network from stele-network (CA, a solo orderer, two peers of two organisations) the sample
# chaincode is deployed with the CLI (package, install on both peers, approve by both
# organisations, commit, as scripts/demo does); then a Node client (grpc-js, protobufjs,
# node:crypto; tests/interop/node/gateway_client.js), from the files in proto/ and owner1's
# enrolment alone, builds and signs a proposal, has it endorsed by both organisations, signs
# and submits the transaction and sees it committed VALID, reads the asset back, and sees
# badly signed proposals refused. Finally the C CLI, as another identity on the other peer,
# finds the asset the Node client created. All of it twice: over plaintext gRPC, then on a
# network where every link is mutual TLS (`tls: mutual`), the Node client presenting the
# network's client certificate.
set -euo pipefail
source "${STELE_SOURCE_DIR:?}/tests/interop/node_setup.sh"   # sets $src, $bin, $work
tmp=$(mktemp -d)
net=$tmp/net
trap '[ -f "$net/network.json" ] && "$bin/stele-network" down --dir "$net" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -d "$net" ] && tail -n 5 "$net"/*.log; exit 1; }
source "$src/tests/support/ports.sh"; port_range
p1=127.0.0.1:$(( base + 10 )); p2=127.0.0.1:$(( base + 11 ))

for mode in none mutual; do
{ sed "s/^tls: .*/tls: $mode/" "$src/configs/network-solo.yaml"
  printf '\npeers:\n  - {id: peer0.org1, listen: 127.0.0.1:17060}\n  - {id: peer0.org2, listen: 127.0.0.1:17061}\n'
} >"$tmp/net.yaml"
grep -q "^tls: $mode" "$tmp/net.yaml" || fail "configs/network-solo.yaml has no tls key: update this test"
"$bin/stele-network" up --config "$tmp/net.yaml" --dir "$net" --base-port "$base" >"$tmp/up.out" \
  || fail "up ($mode): $(cat "$tmp/up.out")"
tls=(); unset STELE_TLS_CA STELE_TLS_CERT STELE_TLS_KEY
if [ "$mode" = mutual ]; then
  tls=(--tls-ca "$net/tls/ca.crt" --tls-cert "$net/tls/client.crt" --tls-key "$net/tls/client.key")
  export STELE_TLS_CA=$net/tls/ca.crt STELE_TLS_CERT=$net/tls/client.crt STELE_TLS_KEY=$net/tls/client.key
fi

# Deploy the sample chaincode as scripts/demo step 4 does.
cli() { "$bin/stele" "$@" >>"$tmp/cli.out" 2>&1 || fail "stele $*: $(tail -n 3 "$tmp/cli.out")"; }
cli chaincode package --so "$bin/chaincode/asset.so" --name asset --version 1.0 --out "$net/asset.pkg"
cli chaincode install "$net/asset.pkg" --peer "$p1" "${tls[@]}" --identity "$net/ids/admin.org1"
cli chaincode install "$net/asset.pkg" --peer "$p2" "${tls[@]}" --identity "$net/ids/admin.org2"
def=(--name asset --version 1.0 --sequence 1 --package "$net/asset.pkg" --policy "AND(org1.peer, org2.peer)")
cli chaincode approve "${def[@]}" --peer "$p1" "${tls[@]}" --identity "$net/ids/admin.org1"
cli chaincode approve "${def[@]}" --peer "$p2" "${tls[@]}" --identity "$net/ids/admin.org2"
cli chaincode commit "${def[@]}" --peer "$p1" "${tls[@]}" --identity "$net/ids/admin.org1"

# The Node client, as owner1 (org2) on peer0.org2's gateway; datauser1's key is the wrong key.
asset=node-$RANDOM$RANDOM
node "$work/gateway_client.js" "$p2" "$src/proto" "$net/ids/owner1" "$net/ids/datauser1" "$asset" \
  | tee "$tmp/node.out" || fail "node client ($mode)"
tx=$(awk '/^tx / {print $2}' "$tmp/node.out")

# The C CLI sees what the Node client committed, from the other peer.
"$bin/stele" query asset read "$asset" --peer "$p1" "${tls[@]}" --identity "$net/ids/auditor1" >"$tmp/read" 2>&1 \
  || fail "query read ($mode): $(cat "$tmp/read")"
grep -q "\"id\":\"$asset\",\"color\":\"teal\",\"size\":7,\"owner\":\"owner1@org2\",\"value\":420" "$tmp/read" \
  || fail "asset as read by the C CLI ($mode): $(cat "$tmp/read")"
"$bin/stele" tx get "$tx" --peer "$p1" "${tls[@]}" --identity "$net/ids/auditor1" >"$tmp/tx" 2>&1 \
  || fail "tx get $tx ($mode): $(cat "$tmp/tx")"
grep -q '^validation  *VALID' "$tmp/tx" || fail "tx get ($mode): $(cat "$tmp/tx")"

"$bin/stele-network" down --dir "$net" >/dev/null || fail "down ($mode)"
rm -rf "$net"
echo "gateway_node ($mode TLS): tx $tx committed VALID, asset $asset read back by the C CLI"
done
echo "gateway_node: ok"
