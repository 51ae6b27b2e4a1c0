#!/usr/bin/env bash
# stele-network as an operator uses it: check the shipped description (and refuse a broken
# one), up on a fresh directory, status shows every process alive and SERVING, the chain is
# readable with --network, broadcast envelopes make it grow, a second up on the same directory
# is refused, and down stops every process.
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
net=$tmp/net
trap '[ -f "$net/network.json" ] && "$bin/stele-network" down --dir "$net" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -d "$net" ] && tail -n 5 "$net"/*.log; exit 1; }
base=$(( 20000 + (RANDOM % 800) * 50 ))

"$bin/stele-network" check --config "$src/configs/network.yaml" | grep -q '^orderers\[0\].id: orderer0$' \
  || fail "check of configs/network.yaml"
sed 's/listen: 127.0.0.1:17050/listen: 127.0.0.1:18050/' "$src/configs/network.yaml" >"$tmp/bad.yaml"
set +e
out=$("$bin/stele-network" check --config "$tmp/bad.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "a port outside the range should exit 1, got $rc"
echo "$out" | grep -q 'outside base_port' || fail "bad port message: $out"

"$bin/stele-network" up --config "$src/configs/network.yaml" --dir "$net" --base-port $base --json >"$tmp/up.json" \
  || fail "up"
grep -q "\"ca_url\":\"127.0.0.1:$((base + 4))\"" "$tmp/up.json" || fail "up --json: $(cat "$tmp/up.json")"
grep -q "\"id\":\"orderer0\",\"url\":\"127.0.0.1:$base\"" "$tmp/up.json" || fail "up --json orderers"

"$bin/stele-network" status --dir "$net" --json >"$tmp/status.json" || fail "status: $(cat "$tmp/status.json")"
[ "$(grep -o '"alive":true' "$tmp/status.json" | wc -l)" -eq 2 ] || fail "status: not 2 alive"
[ "$(grep -o '"health":"SERVING"' "$tmp/status.json" | wc -l)" -eq 2 ] || fail "status: not 2 SERVING"

h0=$("$bin/stele" chain info --network "$net" --json | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
[ "$h0" = 1 ] || fail "a new chain should have height 1, got '$h0'"
"$bin/stele-bench" order --network "$net" --duration 1 --clients 4 --json >"$tmp/bench.json" \
  || fail "stele-bench order: $(cat "$tmp/bench.json")"
grep -q '"delivered_exactly_once":true' "$tmp/bench.json" || fail "exactly once: $(cat "$tmp/bench.json")"
grep -q '"bound_per_s":' "$tmp/bench.json" || fail "no bound_per_s"
h1=$("$bin/stele" chain info --network "$net" --json | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
[ "$h1" -gt 1 ] || fail "the height did not grow: $h1"
"$bin/stele" block get 1 --network "$net" --json | grep -q '"number":1' || fail "block get 1"

set +e
out=$("$bin/stele-network" up --config "$src/configs/network.yaml" --dir "$net" --base-port $base 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "up on a running network should exit 1, got $rc"
echo "$out" | grep -q 'already holds a running network' || fail "refusal message: $out"

pids=$(cat "$net"/*.pid)
"$bin/stele-network" down --dir "$net" >"$tmp/down.txt" || fail "down: $(cat "$tmp/down.txt")"
for p in $pids; do ! kill -0 "$p" 2>/dev/null || fail "pid $p still runs after down"; done
[ "$(grep -c 'exited 0' "$tmp/down.txt")" -eq 2 ] || fail "down: $(cat "$tmp/down.txt")"
set +e
"$bin/stele-network" status --dir "$net" >/dev/null; rc=$?
set -e
[ $rc -eq 1 ] || fail "status of a stopped network should exit 1, got $rc"
echo "network: up, status, chain info, $((h1 - h0)) blocks cut, refusal and down all fine"
