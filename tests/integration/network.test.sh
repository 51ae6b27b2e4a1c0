#!/usr/bin/env bash
# stele-network as an operator uses it: check the shipped description (and refuse broken ones
# with file:line), up on a fresh directory, the genesis block it wrote carries the channel
# configuration (organisations with the CA key, orderers with addresses, batch parameters,
# chaincode definitions) and every orderer started from it, an orderer the genesis block does
# not list refuses to start, an identity of an organisation it does not list is refused,
# status shows every process alive and SERVING, the chain is readable with --network,
# broadcast envelopes make it grow, restart brings an orderer back under a new pid that status
# and down know, a second up on the same directory is refused, and down
# stops every process.
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
net=$tmp/net
trap '[ -f "$net/network.json" ] && "$bin/stele-network" down --dir "$net" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -d "$net" ] && tail -n 5 "$net"/*.log; exit 1; }
source "$src/tests/support/ports.sh"; port_range

"$bin/stele-network" check --config "$src/configs/network-solo.yaml" | grep '^orderers\[0\].id: orderer0$' >/dev/null \
  || fail "check of configs/network-solo.yaml"
sed 's/listen: 127.0.0.1:17050/listen: 127.0.0.1:18050/' "$src/configs/network-solo.yaml" >"$tmp/bad.yaml"
set +e
out=$("$bin/stele-network" check --config "$tmp/bad.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "a port outside the range should exit 1, got $rc"
echo "$out" | grep "bad.yaml:[0-9]*:[0-9]*: orderers\[0\].listen 127.0.0.1:18050: port lies outside base_port" >/dev/null \
  || fail "bad port message: $out"

# An operations port is a port of the network like the others: in range, used once.
sed 's/operations: 127.0.0.1:17070/operations: 127.0.0.1:17054/' "$src/configs/network-solo.yaml" >"$tmp/bad-ops.yaml"
set +e
out=$("$bin/stele-network" check --config "$tmp/bad-ops.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep 'bad-ops.yaml:[0-9]*:[0-9]*: orderers\[0\].operations 127.0.0.1:17054: port is used twice' >/dev/null \
  || fail "an operations port used twice: $rc $out"

# A pbft channel: four orderers, its parameters checked with the line they are on.
{ sed -n '/^network:/,/^organisations:/p' "$src/configs/network-solo.yaml" | sed '$d'
  cat <<'YAML'
organisations: [{name: orderers, admin: admin.orderers}, {name: org1}]
channel:
  consensus:
    type: pbft
    pbft:
      checkpoint_interval: 10
      log_window: 40
orderers:
  - {id: orderer0, listen: 127.0.0.1:17050}
  - {id: orderer1, listen: 127.0.0.1:17051}
  - {id: orderer2, listen: 127.0.0.1:17052}
  - {id: orderer3, listen: 127.0.0.1:17053}
identities:
  - {id: orderer0, org: orderers, role: orderer}
  - {id: orderer1, org: orderers, role: orderer}
  - {id: orderer2, org: orderers, role: orderer}
  - {id: orderer3, org: orderers, role: orderer}
YAML
} >"$tmp/pbft.yaml"
"$bin/stele-network" check --config "$tmp/pbft.yaml" | grep '^channel.consensus.pbft.view_change_timeout_max: 30s$' >/dev/null \
  || fail "check of a pbft network: $("$bin/stele-network" check --config "$tmp/pbft.yaml" 2>&1)"
sed 's/log_window: 40/log_window: 45/' "$tmp/pbft.yaml" >"$tmp/bad-pbft.yaml"
line=$(grep -n 'checkpoint_interval: 10' "$tmp/bad-pbft.yaml" | cut -d: -f1)
set +e
out=$("$bin/stele-network" check --config "$tmp/bad-pbft.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "log_window 45 should exit 1, got $rc"
echo "$out" | grep "bad-pbft.yaml:$line:7: channel.consensus.pbft.log_window 45 is not a multiple of checkpoint_interval 10" >/dev/null \
  || fail "bad pbft message: $out"
# Who commits chaincode definitions: a policy the channel could never satisfy is refused.
sed 's/^channel:$/channel:\n  lifecycle_policy: AND(org1.admin, org7.admin)/' "$tmp/pbft.yaml" >"$tmp/bad-lc.yaml"
set +e
out=$("$bin/stele-network" check --config "$tmp/bad-lc.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep 'channel.lifecycle_policy names organisation "org7", which is not one of the channel' >/dev/null \
  || fail "lifecycle_policy naming org7: $rc $out"
sed 's/^channel:$/channel:\n  lifecycle_policy: AND(orderers.admin, org1.admin)/' "$tmp/pbft.yaml" >"$tmp/lc.yaml"
"$bin/stele-network" check --config "$tmp/lc.yaml" | grep '^channel.lifecycle_policy: AND(orderers.admin, org1.admin)$' >/dev/null \
  || fail "check with a lifecycle policy: $("$bin/stele-network" check --config "$tmp/lc.yaml" 2>&1)"
sed '/orderer3, listen/d' "$tmp/pbft.yaml" >"$tmp/three.yaml"
set +e
out=$("$bin/stele-network" check --config "$tmp/three.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep 'pbft needs at least 4 orderers' >/dev/null || fail "pbft with 3: $out"
# pow is refused by check, as the orderers have no such plug-in (up would start orderers that
# exit at once).
sed 's/type: pbft/type: pow/' "$tmp/pbft.yaml" >"$tmp/pow.yaml"
set +e
out=$("$bin/stele-network" check --config "$tmp/pow.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep 'pow.yaml:[0-9]*:[0-9]*: channel.consensus.type pow: the orderers have no proof-of-work plug-in' >/dev/null \
  || fail "pow: $out"

# Attributes as the CA takes them (key 1..64 octets, value at most 256): a longer key is
# refused with the entry's line before anything starts (up used to cut "key=value" at 127
# octets: a key that long crashed it with the CA left running, a long value was cut short).
long_key=$(printf 'k%.0s' $(seq 65))
sed "s/{id: datauser1, org: org1, role: client}/{id: datauser1, org: org1, role: client, attrs: [$long_key=1]}/" \
  "$src/configs/network-solo.yaml" >"$tmp/bad-attr.yaml"
grep -q "$long_key" "$tmp/bad-attr.yaml" || fail "could not add an attribute to datauser1"
set +e
out=$("$bin/stele-network" check --config "$tmp/bad-attr.yaml" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep 'bad-attr.yaml:[0-9]*:[0-9]*: identities\[11\].attrs\[0\]: the CA takes a key of 1..64 octets' >/dev/null \
  || fail "an attribute key of 65 octets: $rc $out"
set +e
out=$("$bin/stele-network" up --config "$tmp/bad-attr.yaml" --dir "$tmp/never" --base-port $base 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && [ ! -e "$tmp/never" ] || fail "up with an attribute key of 65 octets: $rc $out"

# The shipped network, with one chaincode defined at genesis.
hash=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
sed "s/^  chaincodes: \[\].*/  chaincodes: [{name: election, version: '1.0', package_hash: $hash, policy: 'AND(org1.peer, org2.peer)'}]/" \
  "$src/configs/network-solo.yaml" >"$tmp/network.yaml"
grep -q 'name: election' "$tmp/network.yaml" || fail "could not add a chaincode to the description"
long_value=$(printf 'v%.0s' $(seq 256)) # datauser1 carries the longest value the CA takes
sed -i "s/{id: datauser1, org: org1, role: client}/{id: datauser1, org: org1, role: client, attrs: [note=$long_value]}/" \
  "$tmp/network.yaml"
grep -q "$long_value" "$tmp/network.yaml" || fail "could not add an attribute to datauser1"
sed -i '/^    log_level: info$/a\    scheduler: batch' "$tmp/network.yaml" # orderer0's entry
grep -q '^    scheduler: batch$' "$tmp/network.yaml" || fail "could not set orderer0's scheduler"
"$bin/stele-network" up --config "$tmp/network.yaml" --dir "$net" --base-port $base --json >"$tmp/up.json" \
  || fail "up"
grep -q "\"ca_url\":\"127.0.0.1:$((base + 4))\"" "$tmp/up.json" || fail "up --json: $(cat "$tmp/up.json")"
grep -aq "$long_value" "$net/ids/datauser1/identity" \
  || fail "datauser1's identity does not carry its 256-octet attribute whole"
grep -q "\"id\":\"orderer0\",\"url\":\"127.0.0.1:$base\"" "$tmp/up.json" || fail "up --json orderers"
# Each daemon's operations endpoint, moved with the network: the orderer's /metrics says it
# runs solo, the CA's /healthz that it serves.
grep -q "\"id\":\"orderer0\",\"url\":\"127.0.0.1:$base\",\"operations\":\"127.0.0.1:$((base + 20))\"" "$tmp/up.json" \
  || fail "up --json: orderer0's operations address: $(cat "$tmp/up.json")"
http_get() { exec 3<>"/dev/tcp/127.0.0.1/$1"; printf 'GET %s HTTP/1.1\r\n\r\n' "$2" >&3; cat <&3; exec 3<&-; }
m=$(http_get $((base + 20)) /metrics)
echo "$m" | grep '^stele_consensus_role{role="solo"} 1$' >/dev/null || fail "orderer0's /metrics: $m"
m=$(http_get $((base + 24)) /healthz)
echo "$m" | grep '^{"status":"OK"}$' >/dev/null || fail "the CA's /healthz: $m"
"$bin/stele-network" status --dir "$net" | grep "http://127.0.0.1:$((base + 20))/metrics" >/dev/null \
  || fail "status does not show orderer0's operations address"

# The genesis block the launcher wrote: every organisation trusting the network's CA key, the
# orderer with its address, the batch parameters, the chaincode, signed by admin.orderers.
"$bin/stele" chain config --file "$net/genesis.block" --json >"$tmp/genesis.json" || fail "chain config --file"
g=$(cat "$tmp/genesis.json")
cakey=$(od -An -tx1 "$net/ca/ca.pub" | tr -d ' \n')
for org in orderers org1 org2; do
  echo "$g" | grep "{\"name\":\"$org\",\"ca_public_keys\":\[\"$cakey\"\],\"admins\":\[\"admin.$org\"\]}" >/dev/null \
    || fail "genesis organisation $org with the CA key $cakey: $g"
done
echo "$g" | grep "{\"node_id\":\"orderer0\",\"organisation\":\"orderers\",\"public_key\":\"[0-9a-f]\{66\}\",\"address\":\"127.0.0.1:$base\"" >/dev/null \
  || fail "genesis orderer0 with its address: $g"
echo "$g" | grep '"batch":{"max_message_count":500,"batch_timeout_ms":2000,"preferred_max_bytes":2097152,"absolute_max_bytes":10485760}' >/dev/null \
  || fail "genesis batch parameters: $g"
echo "$g" | grep '"consensus":{"type":"solo"}' >/dev/null || fail "genesis consensus: $g"
echo "$g" | grep "\"chaincodes\":\[{\"name\":\"election\",\"version\":\"1.0\",\"sequence\":1,\"package_hash\":\"$hash\"" >/dev/null \
  || fail "genesis chaincodes: $g"
echo "$g" | grep '"signed_by":{"id":"admin.orderers","org":"orderers","verdict":"verified"}' >/dev/null \
  || fail "genesis signer: $g"
genesis_hash=$(echo "$g" | sed -n 's/.*"block_hash":"\([0-9a-f]*\)".*/\1/p')

# Every orderer started from it: its configuration names it, and its block 0 is that block.
for url in $(sed 's/},{/}\n{/g' "$tmp/up.json" | sed -n 's/.*"id":"orderer[0-9]*","url":"\([^"]*\)".*/\1/p'); do
  o=$("$bin/stele" chain config --orderer "$url" --identity "$net/ids/auditor1" --json) || fail "chain config from $url"
  echo "$o" | grep "\"block_hash\":\"$genesis_hash\"" >/dev/null || fail "orderer $url started from another block 0: $o"
done
grep -q '^genesis_file: ../genesis.block$' "$net/orderer0/orderer.yaml" || fail "orderer0.yaml genesis_file"
grep -q '^  batch_delay: 10ms$' "$net/orderer0/orderer.yaml" || fail "orderer0.yaml: no default batch_delay"
"$bin/stele-network" check --config "$src/configs/network.yaml" | grep '^orderers\[3\].batch_delay: 40ms$' >/dev/null \
  || fail "configs/network.yaml: the orderers' batch_delay is not 40ms"
"$bin/stele" block get 0 --network "$net" --json | grep '"channel_config":{"channel_id":"stele"' >/dev/null \
  || fail "block get 0 shows the channel configuration"
"$bin/stele" block get 0 --network "$net" | grep '^  orderer0       127.0.0.1:'"$base"', orderers, key ' >/dev/null \
  || fail "block get 0 text summary: $("$bin/stele" block get 0 --network "$net")"

# orderer1 is enrolled but not in the genesis block: it refuses to start, saying so.
sed -e 's/^node_id: orderer0/node_id: orderer1/' -e 's#ids/orderer0#ids/orderer1#' \
  -e "s/^listen: .*/listen: 127.0.0.1:$((base + 1))/" "$net/orderer0/orderer.yaml" >"$tmp/orderer1.yaml"
sed -i "s#^genesis_file: .*#genesis_file: $net/genesis.block#; s#^identity_dir: .*#identity_dir: $net/ids/orderer1#" "$tmp/orderer1.yaml"
set +e
"$bin/stele-orderer" --config "$tmp/orderer1.yaml" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "an orderer the genesis block does not list should exit 1, got $rc"
grep -q "node_id orderer1 is not one of the orderers of channel stele in $net/genesis.block (orderer0)" "$tmp/err" \
  || fail "refusal message: $(cat "$tmp/err")"

# Membership comes from the genesis block: an auditor of org1 reads, an identity of an
# organisation it does not list is refused.
ca=127.0.0.1:$((base + 4))
s=$("$bin/stele-ca" register --url "$ca" --as "$net/ids/admin" --id stranger --org outsiders --role auditor --json \
    | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
"$bin/stele-ca" enroll --url "$ca" --id stranger --secret "$s" --out "$tmp/stranger" >/dev/null || fail "enrol stranger"
"$bin/stele" block get 0 --network "$net" --identity "$net/ids/auditor1" >/dev/null || fail "auditor1 of org1 may read"
set +e
"$bin/stele" block get 0 --network "$net" --identity "$tmp/stranger" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q 'refused the request' "$tmp/err" || fail "an outsider should be refused (exit $rc): $(cat "$tmp/err")"

"$bin/stele-network" status --dir "$net" --json >"$tmp/status.json" || fail "status: $(cat "$tmp/status.json")"
[ "$(grep -o '"alive":true' "$tmp/status.json" | wc -l)" -eq 2 ] || fail "status: not 2 alive"
[ "$(grep -o '"health":"SERVING"' "$tmp/status.json" | wc -l)" -eq 2 ] || fail "status: not 2 SERVING"

# orderer0 runs every thread under the scheduler its description asks for (batch here); the
# shipped network runs all six daemons so.
grep -q '^scheduler: batch$' "$net/orderer0/orderer.yaml" || fail "orderer0.yaml: scheduler"
opid=$(cat "$net/orderer0.pid")
[ -d "/proc/$opid/task" ] || fail "no process $opid for orderer0"
for t in /proc/"$opid"/task/*; do
  pol=$(chrt -p "${t##*/}" 2>/dev/null) || { [ -d "$t" ] || continue; fail "chrt -p ${t##*/}"; } # a thread may end meanwhile
  echo "$pol" | grep 'SCHED_BATCH' >/dev/null || fail "thread ${t##*/} of orderer0: $pol"
done
[ "$("$bin/stele-network" check --config "$src/configs/network.yaml" | grep -c '^\(orderers\|peers\)\[[0-9]\]\.scheduler: batch$')" = 6 ] \
  || fail "configs/network.yaml: not every daemon runs with scheduler batch"

h0=$("$bin/stele" chain info --network "$net" --json | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
[ "$h0" = 1 ] || fail "a new chain should have height 1, got '$h0'"
"$bin/stele-bench" order --network "$net" --duration 1 --clients 4 --json >"$tmp/bench.json" \
  || fail "stele-bench order: $(cat "$tmp/bench.json")"
grep -q '"delivered_exactly_once":true' "$tmp/bench.json" || fail "exactly once: $(cat "$tmp/bench.json")"
grep -q '"bound_per_s":' "$tmp/bench.json" || fail "no bound_per_s"
h1=$("$bin/stele" chain info --network "$net" --json | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
[ "$h1" -gt 1 ] || fail "the height did not grow: $h1"
"$bin/stele" block get 1 --network "$net" --json | grep '"number":1' >/dev/null || fail "block get 1"

# restart: the orderer stops (exit 0) and starts again from its chain under a new pid, which
# network.json, status and down then know; an unknown name is refused.
old=$(cat "$net/orderer0.pid")
"$bin/stele-network" restart --dir "$net" orderer0 >"$tmp/restart.txt" || fail "restart: $(cat "$tmp/restart.txt")"
grep -Eq "^  orderer0 +pid $old +exited 0$" "$tmp/restart.txt" || fail "restart: $(cat "$tmp/restart.txt")"
new=$(cat "$net/orderer0.pid")
[ "$new" != "$old" ] && ! kill -0 "$old" 2>/dev/null && kill -0 "$new" || fail "restart: pid $old -> $new"
grep -Eq "^  orderer0 +pid $new +serving at " "$tmp/restart.txt" || fail "restart: $(cat "$tmp/restart.txt")"
grep -q "\"pid\":$new," "$net/network.json" || fail "network.json does not hold the new pid $new"
"$bin/stele-network" status --dir "$net" >/dev/null || fail "status after the restart"
h2=$("$bin/stele" chain info --network "$net" --json | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
[ "$h2" = "$h1" ] || fail "the restarted orderer's height is $h2, was $h1"
set +e
out=$("$bin/stele-network" restart --dir "$net" orderer9 2>&1); rc=$?
set -e
[ $rc -eq 1 ] && echo "$out" | grep 'has no process orderer9' >/dev/null || fail "restart of an unknown process (exit $rc): $out"

set +e
out=$("$bin/stele-network" up --config "$src/configs/network-solo.yaml" --dir "$net" --base-port $base 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "up on a running network should exit 1, got $rc"
echo "$out" | grep 'already holds a running network' >/dev/null || fail "refusal message: $out"

pids=$(cat "$net"/*.pid)
"$bin/stele-network" down --dir "$net" >"$tmp/down.txt" || fail "down: $(cat "$tmp/down.txt")"
for p in $pids; do ! kill -0 "$p" 2>/dev/null || fail "pid $p still runs after down"; done
[ "$(grep -c 'exited 0' "$tmp/down.txt")" -eq 2 ] && ! grep -q 'was not running' "$tmp/down.txt" \
  || fail "down: $(cat "$tmp/down.txt")"
# down again: each process is listed once, as not running, with how it ended.
"$bin/stele-network" down --dir "$net" >"$tmp/down2.txt" || fail "down again: $(cat "$tmp/down2.txt")"
[ "$(grep -c 'pid' "$tmp/down2.txt")" -eq "$(grep -c 'pid' "$tmp/down.txt")" ] \
  && [ "$(grep -c 'was not running (exited 0)' "$tmp/down2.txt")" -eq 2 ] \
  || fail "down of a stopped network: $(cat "$tmp/down2.txt") (first down: $(cat "$tmp/down.txt"))"
# down --json: one JSON object, each process with how it ended; restart has no JSON to give.
"$bin/stele-network" down --dir "$net" --json >"$tmp/down3.json" || fail "down --json: $(cat "$tmp/down3.json")"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
p = d["processes"]
assert len(p) == 2 and all(not x["was_running"] and x["ended"] == "exited 0" and not x["still_running"] for x in p), p' \
  "$tmp/down3.json" || fail "down --json: $(cat "$tmp/down3.json")"
set +e
out=$("$bin/stele-network" restart --dir "$net" orderer0 --json 2>&1); rc=$?
set -e
[ $rc -eq 2 ] && echo "$out" | grep -- '--json: this command prints lines of text only' >/dev/null \
  || fail "restart --json should be a usage error: $rc $out"
set +e
"$bin/stele-network" status --dir "$net" >/dev/null; rc=$?
set -e
[ $rc -eq 1 ] || fail "status of a stopped network should exit 1, got $rc"
echo "network: checks, up, genesis block, refusals, status, chain info, $((h1 - h0)) blocks cut, restart and down all fine"
