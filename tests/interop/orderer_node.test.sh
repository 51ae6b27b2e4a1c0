#!/usr/bin/env bash
# Interop: a Node client (grpc-js, protobufjs, node:crypto) builds, signs and broadcasts an
# envelope to stele-orderer and reads it back with Deliver, from the files in proto/ alone,
# with an identity enrolled by stele-ca. Installs the Node packages into the build tree on
# first use.
set -euo pipefail
source "${STELE_SOURCE_DIR:?}/tests/interop/node_setup.sh"   # sets $src, $bin, $work
tmp=$(mktemp -d)
ca_pid=; ord_pid=
cleanup() {
  for p in $ord_pid $ca_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

source "$src/tests/support/ca_setup.sh"
ca_start interop-ca orderer0:orderers:orderer client1:org1:client
cat >"$tmp/orderer.yaml" <<YAML
node_id: orderer0
listen: 127.0.0.1:0
data_dir: data
identity_dir: ids/orderer0
channel_id: interop
genesis_file: genesis.block
batch:
  batch_timeout: 100ms
membership:
  cas:
    - public_key: ca/ca.pub
YAML
"$bin/stele-orderer" genesis --config "$tmp/orderer.yaml" --out "$tmp/genesis.block" >/dev/null
"$bin/stele-orderer" --config "$tmp/orderer.yaml" --port-file "$tmp/port" 2>"$tmp/orderer.log" &
ord_pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "orderer did not start"; cat "$tmp/orderer.log"; exit 1; }
node "$work/orderer_client.js" "127.0.0.1:$(cat "$tmp/port")" "$src/proto" "$tmp/ids/client1"
kill -TERM $ord_pid; wait $ord_pid
ord_pid=
