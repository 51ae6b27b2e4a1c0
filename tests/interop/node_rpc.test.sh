#!/usr/bin/env bash
# Interop: Node's @grpc/grpc-js, loading only the files in proto/, calls a Stele server.
# Installs grpc-js from npm into the build tree on first use.
set -euo pipefail
source "${STELE_SOURCE_DIR:?}/tests/interop/node_setup.sh"   # sets $src, $bin, $work
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$bin/stele-bench" serve --listen 127.0.0.1:0 --port-file "$tmp/port" 2>"$tmp/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "server did not start"; cat "$tmp/server.log"; exit 1; }
node "$work/rpc_client.js" "127.0.0.1:$(cat "$tmp/port")" "$src/proto"
kill -TERM $pid; wait $pid
