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

port=$(( 20000 + RANDOM % 20000 ))
ca=127.0.0.1:$port
"$bin/stele-ca" init --dir "$tmp/ca" --name interop-ca --json >"$tmp/ca-init.json"
secret=$(sed -n 's/.*"admin_secret":"\([^"]*\)".*/\1/p' "$tmp/ca-init.json")
"$bin/stele-ca" serve --dir "$tmp/ca" --listen "$ca" >"$tmp/ca.log" 2>&1 &
ca_pid=$!
"$bin/stele" node health --url "$ca" --wait 10 >/dev/null
"$bin/stele-ca" enroll --url "$ca" --id admin --secret "$secret" --out "$tmp/ids/admin" >/dev/null
for spec in "orderer0 orderers orderer" "client1 org1 client"; do
  set -- $spec
  s=$("$bin/stele-ca" register --url "$ca" --as "$tmp/ids/admin" --id "$1" --org "$2" --role "$3" \
        --json | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
  "$bin/stele-ca" enroll --url "$ca" --id "$1" --secret "$s" --out "$tmp/ids/$1" >/dev/null
done
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
