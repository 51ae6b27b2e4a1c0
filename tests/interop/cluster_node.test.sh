#!/usr/bin/env bash
# Under mutual TLS an orderer takes stele.Cluster streams (PBFT's links) only from the channel's
# orderers: on the demo network with `tls: mutual`, a Node grpc-js client opening Cluster/Step
# with the network's client certificate, or with a peer's certificate, is refused with
# PERMISSION_DENIED saying why; with an orderer's certificate the stream is taken. The four
# orderers, which dial each other with their own certificates, still order blocks.
set -euo pipefail
source "${STELE_SOURCE_DIR:?}/tests/interop/node_setup.sh"   # sets $src, $bin, $work
tmp=$(mktemp -d)
net=$tmp/net
trap '[ -f "$net/network.json" ] && "$bin/stele-network" down --dir "$net" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -d "$net" ] && tail -n 5 "$net"/orderer*.log; exit 1; }
source "$src/tests/support/ports.sh"; port_range
o1=127.0.0.1:$(( base + 1 ))

sed 's/^tls: .*/tls: mutual/' "$src/configs/network.yaml" >"$tmp/net.yaml"
grep '^tls: mutual$' "$tmp/net.yaml" >/dev/null || fail "configs/network.yaml has no tls key: update this test"
"$bin/stele-network" up --config "$tmp/net.yaml" --dir "$net" --base-port "$base" >"$tmp/up.out" \
  || fail "up: $(cat "$tmp/up.out")"

t=$net/tls
probe() { node "$work/cluster_probe.js" "$o1" "$src/proto" "$t/ca.crt" "$1.crt" "$1.key" "$2" || fail "probe $1 $2"; }
probe "$t/client" denied
probe "$t/nodes/peer0.org1" denied
probe "$t/nodes/orderer2" accepted

"$bin/stele-bench" order --network "$net" --duration 1 --clients 2 --json >"$tmp/bench.json" \
  || fail "stele-bench order: $(cat "$tmp/bench.json")"
grep '"delivered_exactly_once":true' "$tmp/bench.json" >/dev/null || fail "ordering under mutual TLS: $(cat "$tmp/bench.json")"
grep 'Cluster is for the channel' "$net/orderer1.log" >/dev/null && fail "orderer1 refused one of its own" || true

"$bin/stele-network" down --dir "$net" >/dev/null || fail "down"
echo "cluster_node: ok"
