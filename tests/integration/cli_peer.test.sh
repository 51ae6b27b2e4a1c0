#!/usr/bin/env bash
# The peer as an operator and an auditor use it from the CLI, on a real network (CA, a solo
# orderer, two peers of two organisations from stele-network): both peers join from the
# genesis block and commit what the orderer orders; chain info (--peer, --all-peers, --json)
# shows them agreeing; block get --peer prints validation codes and the state hash; events
# replays blocks from a height, whole or filtered; tx get finds a transaction with its code and
# an unknown tx_id exits 1; state get of an absent key and history of a key never written exit
# 1, state range answers empty; a peer killed with SIGKILL restarts, catches up and agrees
# again; stele audit checks a whole chain and exits 0.
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
net=$tmp/net
# `down` stops what `up` started, and the peer this test restarts (stele-network restart).
trap '[ -f "$net/network.json" ] && "$bin/stele-network" down --dir "$net" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -d "$net" ] && tail -n 5 "$net"/*.log; exit 1; }
source "$src/tests/support/ports.sh"; port_range
p1=127.0.0.1:$(( base + 10 )); p2=127.0.0.1:$(( base + 11 ))
id=$net/ids/auditor1

{ cat "$src/configs/network-solo.yaml"
  printf '\npeers:\n  - {id: peer0.org1, listen: 127.0.0.1:17060}\n  - {id: peer0.org2, listen: 127.0.0.1:17061}\n'
} >"$tmp/net.yaml"
"$bin/stele-network" up --config "$tmp/net.yaml" --dir "$net" --base-port "$base" >"$tmp/up.out" \
  || fail "up: $(cat "$tmp/up.out")"
"$bin/stele-bench" order --network "$net" --duration 1 --clients 2 >/dev/null || fail "stele-bench order"

# Both peers reach the orderer's height with the same head and state hash.
target=$("$bin/stele" chain info --network "$net" | awk '/^height/ {print $2}')
[ "$target" -ge 2 ] || fail "orderer height $target"
agree() {
  for _ in $(seq 1 100); do
    if "$bin/stele" chain info --network "$net" --all-peers --json >"$tmp/peers.json" 2>&1 \
       && grep -q "\"height\":$target,.*\"height\":$target," "$tmp/peers.json"; then return 0; fi
    sleep 0.1
  done
  return 1
}
agree || fail "peers do not agree at height $target: $(cat "$tmp/peers.json")"
grep -q '"agree":true' "$tmp/peers.json" || fail "agree flag: $(cat "$tmp/peers.json")"

# A second peer on a running peer's data_dir is refused (exit 1), naming the directory; a
# data_dir whose parents are missing is made with them.
set +e
"$bin/stele-peer" --config "$net/peer0.org1/peer.yaml" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "a second peer on a data_dir in use should exit 1, got $rc: $(cat "$tmp/err")"
grep -q "data_dir .*/data is in use by another process (a peer already runs on it?)" "$tmp/err" \
  || fail "data_dir in use message: $(cat "$tmp/err")"
sed -e 's#^data_dir: data#data_dir: deep/er/data#' -e 's#^listen: .*#listen: 127.0.0.1:0#' \
  "$net/peer0.org1/peer.yaml" >"$net/peer0.org1/deep.yaml"
"$bin/stele-peer" --config "$net/peer0.org1/deep.yaml" --port-file "$tmp/deep.port" \
  2>"$tmp/deep.log" &
deep_pid=$!
for _ in $(seq 200); do [ -s "$tmp/deep.port" ] && break; sleep 0.05; done
[ -s "$tmp/deep.port" ] || fail "peer with data_dir deep/er/data: $(cat "$tmp/deep.log")"
kill -TERM $deep_pid; wait $deep_pid || fail "deep peer did not stop cleanly"
[ -d "$net/peer0.org1/deep/er/data/blocks" ] || fail "data_dir deep/er/data not made"
grep -q '"peer_id":"peer0.org1","org":"org1"' "$tmp/peers.json" || fail "peer0.org1 row"
grep -q '"peer_id":"peer0.org2","org":"org2"' "$tmp/peers.json" || fail "peer0.org2 row"
"$bin/stele" chain info --peer "$p2" | grep "peer0.org2 .* $target " >/dev/null || fail "chain info --peer"

# A block as the peer committed it: the envelopes stele-bench sends are signed but are not
# endorsed transactions, so each gets BAD_PAYLOAD; the genesis transaction is VALID.
"$bin/stele" block get 1 --peer "$p1" --identity "$id" >"$tmp/b1" || fail "block get --peer"
grep -q ' BAD_PAYLOAD$' "$tmp/b1" || fail "no validation code: $(head "$tmp/b1")"
grep -q '^state_hash  *[0-9a-f]\{64\}' "$tmp/b1" || fail "no state hash: $(cat "$tmp/b1")"
grep -q '^finality .*valid' "$tmp/b1" || fail "finality not checked: $(grep finality "$tmp/b1")"

"$bin/stele" events --peer "$p1" --identity "$id" --from 0 --to 2 >"$tmp/ev" || fail "events"
[ "$(grep -c '^block ' "$tmp/ev")" -eq 3 ] || fail "events 0..2: $(grep '^block' "$tmp/ev")"
grep -q ' VALID' "$tmp/ev" || fail "genesis tx not VALID"
"$bin/stele" events --peer "$p1" --identity "$id" --from 1 --to 1 --filtered --json >"$tmp/evj" \
  || fail "events --filtered --json"
grep -q '"block":1,.*"validation_code":"BAD_PAYLOAD"' "$tmp/evj" || fail "filtered: $(head -c 300 "$tmp/evj")"

tx=$(sed -n 2p "$tmp/ev" | awk '{print $1}')
[ ${#tx} -eq 64 ] || fail "no tx_id in events: $(head -3 "$tmp/ev")"
"$bin/stele" tx get "$tx" --peer "$p2" --identity "$id" >"$tmp/tx" || fail "tx get"
grep -q '^validation  *VALID' "$tmp/tx" && grep -q '^block  *0 ' "$tmp/tx" || fail "tx get: $(cat "$tmp/tx")"
set +e
"$bin/stele" tx get "$(printf '%064d' 0)" --peer "$p2" --identity "$id" >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] || fail "unknown tx_id should exit 1, got $rc"
"$bin/stele" state get demo nokey --peer "$p1" --identity "$id" >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] || fail "absent key should exit 1, got $rc"
# A key never written has no history: said on stderr, exit 1, as state get; --json alike.
for fmt in "" --json; do
  "$bin/stele" history demo nokey --peer "$p1" --identity "$id" $fmt >"$tmp/hist" 2>"$tmp/err"; rc=$?
  [ $rc -eq 1 ] && [ ! -s "$tmp/hist" ] || fail "history$fmt of a key never written: exit $rc: $(cat "$tmp/hist")"
  grep -q '^stele history: error: chaincode demo has no history for key nokey$' "$tmp/err" \
    || fail "history$fmt of a key never written: $(cat "$tmp/err")"
done
set -e
"$bin/stele" state range demo --peer "$p1" --identity "$id" --json | grep '"entries":\[\]' >/dev/null || fail "range"

# kill -9 a peer, more blocks arrive, restart it: it catches up and agrees again.
pid=$(cat "$net/peer0.org2.pid")
kill -9 "$pid"
"$bin/stele-bench" order --network "$net" --duration 1 --clients 2 >/dev/null || fail "stele-bench order"
"$bin/stele-network" restart --dir "$net" peer0.org2 >"$tmp/restart" 2>&1 || fail "restart: $(cat "$tmp/restart")"
grep -q "^  peer0.org2 *pid $pid *was not running (killed by signal 9)$" "$tmp/restart" \
  || fail "restart of the killed peer: $(cat "$tmp/restart")"
"$bin/stele" node health --url "$p2" --wait 20 >/dev/null || fail "restarted peer not serving"
target=$("$bin/stele" chain info --network "$net" | awk '/^height/ {print $2}')
agree || fail "restarted peer does not catch up to $target: $(cat "$tmp/peers.json")"

"$bin/stele" audit --peer "$p2" --identity "$id" >"$tmp/audit" || fail "audit: $(cat "$tmp/audit")"
grep -q "$target blocks audited" "$tmp/audit" || fail "audit output: $(cat "$tmp/audit")"

"$bin/stele-network" down --dir "$net" >"$tmp/down" || fail "down: $(cat "$tmp/down")"
grep -Eq '^  peer0.org2 +pid [0-9]+ +exited 0$' "$tmp/down" || fail "the restarted peer did not stop cleanly: $(cat "$tmp/down")"
echo "cli_peer: ok (height $target, two peers agree, audit passed)"
