#!/usr/bin/env bash
# What `stele` shows of a ledger, and how it fails, on a real network (CA, a solo orderer, two
# peers of two organisations from stele-network) running the test chaincode kv
# (tests/chaincode/kv.c):
#   - `history` prints every write of a key, however many pages the peer answers in (a page
#     holds the writes of 64 blocks at most);
#   - `state range` fetches pages until --limit (a page ends once its entries fill 3 MiB) and
#     names the key the next call starts from; --json agrees with the text;
#   - `query`/`invoke --json` carry a binary payload exactly (payload_hex), and print nothing on
#     stdout when the chaincode never answered; a chaincode's message, keys and event names
#     reach the terminal without their control characters;
#   - `invoke --prepare` writes the signed transaction 0600, whatever the umask;
#   - `chaincode install|list --json` stay JSON with a version holding a quote and a backslash;
#   - an unreadable --tls-ca is reported as such (not as "no such transaction"), and an
#     unreachable daemon exits 3 (events, block get, chain config) with one message;
#     `chain info --all-peers` says a peer did not answer rather than that the peers differ.
# Every check runs; each failure is listed.
source "${STELE_SOURCE_DIR:?}/tests/support/net_setup.sh" # $src $bin $tmp $net $base $p1 $p2 $ids
stele=$bin/stele
bad=0
nope() { echo "FAIL: $*"; bad=1; }
valid_json() { # FILE WHAT: every line of FILE is one JSON value
  python3 -c 'import json, sys
for line in open(sys.argv[1], "rb"):
    json.loads(line)' "$1" 2>"$tmp/jerr" || nope "$2: not JSON ($(tail -1 "$tmp/jerr")): $(head -c 300 "$1")"
}
# jq_py FILE EXPR: prints EXPR evaluated on the JSON object `d` read from FILE.
jq_py() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# run CMD...: $rc, stdout in $tmp/out, stderr in $tmp/err
run() { rc=0; "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?; }

# Blocks are cut 100 ms after their first transaction, so that each invoke below commits fast.
{ sed 's/^\(  *batch_timeout:\) 2s/\1 100ms/' "$src/configs/network-solo.yaml"
  printf '\npeers:\n  - {id: peer0.org1, listen: 127.0.0.1:17060}\n  - {id: peer0.org2, listen: 127.0.0.1:17061}\n'
} >"$tmp/net.yaml"
grep -q 'batch_timeout: 100ms' "$tmp/net.yaml" || fail "could not shorten batch_timeout"
"$bin/stele-network" up --config "$tmp/net.yaml" --dir "$net" --base-port "$base" >"$tmp/up.out" \
  || fail "up: $(cat "$tmp/up.out")"
owner=(--peer "$p1" --identity "$ids/owner1")
audit=(--peer "$p1" --identity "$ids/auditor1")
closed=127.0.0.1:$(( base + 40 )) # in this test's port range; nothing listens there

# kv, endorsed by either organisation
kv=$bin/tests/chaincode/kv.so
def=(--name kv --version 1.0 --sequence 1 --package "$tmp/kv.pkg" --policy "OR(org1.peer, org2.peer)")
ok "package kv" "$stele" chaincode package --so "$kv" --name kv --version 1.0 --out "$tmp/kv.pkg"
ok "install on peer0.org1" "$stele" chaincode install "$tmp/kv.pkg" --peer "$p1" --identity "$ids/admin.org1"
ok "install on peer0.org2" "$stele" chaincode install "$tmp/kv.pkg" --peer "$p2" --identity "$ids/admin.org2"
ok "approve by org1" "$stele" chaincode approve "${def[@]}" --peer "$p1" --identity "$ids/admin.org1"
ok "approve by org2" "$stele" chaincode approve "${def[@]}" --peer "$p2" --identity "$ids/admin.org2"
ok "commit" "$stele" chaincode commit "${def[@]}" --peer "$p1" --identity "$ids/admin.org1"

# ---- history: 70 writes in 70 blocks, more than one page ----------------------------------
writes=70
for i in $(seq 1 $writes); do
  ok "write $i of hk" "$stele" invoke kv put hk "v$i" "${owner[@]}"
done
run "$stele" history kv hk "${audit[@]}"
[ $rc -eq 0 ] || nope "history: exit $rc: $(cat "$tmp/err")"
[ "$(grep -c '^block ' "$tmp/out")" -eq $writes ] || nope "history printed $(grep -c '^block ' "$tmp/out") of $writes writes"
tail -1 "$tmp/out" | grep " v$writes$" >/dev/null || nope "history does not end with v$writes: $(tail -1 "$tmp/out")"
run "$stele" history kv hk "${audit[@]}" --json
[ "$(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"], d["entries"][-1]["value"]')" = "($writes, False, 'v$writes')" ] \
  || nope "history --json: $(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"]')"

# ---- state range: 40 values of 120 kB (4.8 MB: more than a 3 MiB page) -------------------
big=$(head -c 120000 /dev/zero | tr '\0' x)
for t in 0 1 2 3 4; do
  pairs=()
  for k in 0 1 2 3 4 5 6 7; do pairs+=("b$t$k" "$big"); done
  ok "write b${t}0..b${t}7" "$stele" invoke kv put "${pairs[@]}" "${owner[@]}"
done
run "$stele" state range kv b c --limit 1000 "${audit[@]}" --json
[ "$(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"], d["entries"][-1]["key"]')" = "(40, False, 'b47')" ] \
  || nope "range over pages (--json): $(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"]' 2>&1)"
run "$stele" state range kv b c --limit 1000 "${audit[@]}"
[ "$(grep -c '^b[0-4][0-7] = x' "$tmp/out")" -eq 40 ] && ! grep -q 'more keys' "$tmp/out" \
  || nope "range over pages (text): $(grep -c '^b' "$tmp/out") keys, $(grep 'more keys' "$tmp/out")"
run "$stele" state range kv b c --limit 20 "${audit[@]}" --json
[ "$(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"], d.get("next_key")')" = "(20, True, 'b24')" ] \
  || nope "range --limit 20 --json: $(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"], d.get("next_key")' 2>&1)"
run "$stele" state range kv b c --limit 20 "${audit[@]}"
[ "$(grep -c '^b' "$tmp/out")" -eq 20 ] && grep -q '^(more keys follow: ask again with START b24)$' "$tmp/out" \
  || nope "range --limit 20 (text): $(grep -c '^b' "$tmp/out") keys, $(grep -v '^b' "$tmp/out")"
run "$stele" state range kv b24 c --limit 20 "${audit[@]}" --json
[ "$(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"], d["entries"][0]["key"]')" = "(20, False, 'b24')" ] \
  || nope "range from next_key: $(jq_py "$tmp/out" 'len(d["entries"]), d["has_more"]' 2>&1)"

# ---- payloads and messages -------------------------------------------------------------------
ok "put a binary value" "$stele" invoke kv put bin $'\xff\xfe\x01A"\\' "${owner[@]}"
run "$stele" query kv get bin "${owner[@]}" --json
valid_json "$tmp/out" "query --json of a binary payload"
[ "$(jq_py "$tmp/out" 'd.get("payload_hex")')" = fffe0141225c ] || nope "query --json payload_hex: $(cat "$tmp/out")"
run "$stele" invoke kv get bin "${owner[@]}" --json
[ "$(jq_py "$tmp/out" 'd.get("payload_hex"), d["validation_code"]')" = "('fffe0141225c', 'VALID')" ] \
  || nope "invoke --json payload_hex: $(cat "$tmp/out")"
run "$stele" query kv get bin "${owner[@]}"
[ "$(cat "$tmp/out")" = fffe0141225c ] || nope "query (text) of a binary payload: $(od -c "$tmp/out" | head -3)"
for cmd in query invoke; do
  run "$stele" $cmd nosuchcc get x "${owner[@]}" --json
  [ $rc -eq 1 ] && grep -q 'chaincode nosuchcc is not committed' "$tmp/err" || nope "$cmd of no chaincode: exit $rc: $(cat "$tmp/err")"
  [ ! -s "$tmp/out" ] || nope "$cmd --json printed on stdout though the chaincode never answered: $(cat "$tmp/out")"
done
run "$stele" query kv get nokey "${owner[@]}" --json
[ $rc -eq 1 ] && [ "$(jq_py "$tmp/out" 'd["status"], d["message"]')" = "(404, 'no such key')" ] \
  || nope "a chaincode's refusal is still JSON: exit $rc: $(cat "$tmp/out" "$tmp/err")"
run "$stele" query kv $'fn\e]0;pwned\a\r' "${owner[@]}"
[ $rc -eq 1 ] && grep -q 'answered 400: unknown function fn\\x1b\]0;pwned\\x07\\x0d' "$tmp/err" \
  || nope "a chaincode's message with control characters: exit $rc: $(od -c "$tmp/err" | head -5)"
if grep -q $'\e' "$tmp/err"; then nope "an escape character reached the terminal"; fi
# ... nor do keys and event names a chaincode chose
ok "a key and an event with control characters" "$stele" invoke kv batch $'put k\e]0;key\a v' \
  $'event ev\e[2J x' "${owner[@]}"
blk=$(echo "$out" | sed -n 's/.* committed in block \([0-9]*\): VALID$/\1/p')
run "$stele" state range kv k l "${audit[@]}"
grep -q '^k\\x1b\]0;key\\x07 = v ' "$tmp/out" || nope "a key with control characters: $(od -c "$tmp/out" | head -3)"
run timeout 20 "$stele" events --from "$blk" --to "$blk" --chaincode kv "${audit[@]}"
grep -q "^block $blk kv ev\\\\x1b\\[2J " "$tmp/out" || nope "an event name with control characters: $(od -c "$tmp/out" | head -3)"
if grep -q $'\e' "$tmp/out"; then nope "an escape character reached the terminal"; fi

# ---- --prepare: the signed transaction is the signer's alone ---------------------------------
run bash -c 'umask 022; "$@"' _ "$stele" invoke kv put prep 1 "${owner[@]}" --prepare "$tmp/prep.tx" --json
[ $rc -eq 0 ] || nope "invoke --prepare: exit $rc: $(cat "$tmp/err")"
[ "$(stat -c %a "$tmp/prep.tx" 2>&1)" = 600 ] || nope "--prepare wrote mode $(stat -c %a "$tmp/prep.tx" 2>&1), not 600"
[ "$(jq_py "$tmp/out" 'd.get("prepared"), d["committed"]' 2>&1)" = "('$tmp/prep.tx', False)" ] \
  || nope "invoke --prepare --json does not name the file: $(cat "$tmp/out")"
ok "submit the prepared transaction" "$stele" submit "$tmp/prep.tx" --peer "$p2"
echo "$out" | grep -E '^tx [0-9a-f]{64} committed in block [0-9]+: VALID$' >/dev/null || fail "submit: $out"

# ---- failures named for what they are ----------------------------------------------------------
run "$stele" tx get "$(printf '%064d' 0)" "${audit[@]}" --tls-ca "$tmp/none.pem"
[ $rc -eq 1 ] && grep -q "cannot read root CA file $tmp/none.pem" "$tmp/err" || nope "tx get, bad --tls-ca: exit $rc: $(cat "$tmp/err")"
if grep -q 'has no transaction' "$tmp/err"; then nope "tx get blames the peer for an unreadable --tls-ca: $(cat "$tmp/err")"; fi
run "$stele" block get 1 "${audit[@]}" --tls-ca "$tmp/none.pem"
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'cannot read root CA file' "$tmp/err" \
  || nope "block get --peer, bad --tls-ca: exit $rc: $(cat "$tmp/err")"
run "$stele" events --peer "$closed" --identity "$ids/auditor1" --from 0 --to 0
[ $rc -eq 3 ] || nope "events from an unreachable peer: exit $rc (not 3): $(cat "$tmp/err")"
run "$stele" chain info --all-peers --peer "$p1,$closed"
[ $rc -eq 3 ] && grep -q '^not every peer answered$' "$tmp/out" && ! grep -q DIFFER "$tmp/out" \
  || nope "chain info --all-peers, one peer unreachable: exit $rc: $(cat "$tmp/out" "$tmp/err")"
for cmd in "block get 1" "chain config"; do
  run "$stele" $cmd --orderer "$closed" --identity "$ids/auditor1" --channel stele
  [ $rc -eq 3 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "$closed: .*Connection refused" "$tmp/err" \
    || nope "$cmd from an unreachable orderer: exit $rc (not 3, one line): $(cat "$tmp/err")"
done

orderer=127.0.0.1:$base # configs/network-solo.yaml: orderer0 listens on base_port
run "$stele" block get 1 --orderer "$orderer" --identity "$ids/auditor1" --channel nosuch
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'answered STATUS_[A-Z_]* to the request for block 1 of channel nosuch' "$tmp/err" \
  || nope "block get of another channel: exit $rc: $(cat "$tmp/err")"

# ---- --json with a version that needs escaping ------------------------------------------------
v2='2"\'
ok "package kv $v2" "$stele" chaincode package --so "$kv" --name kv --version "$v2" --out "$tmp/kv2.pkg" --json
valid_json <(echo "$out") "package --json"
for p in "$p1:admin.org1" "$p2:admin.org2"; do
  ok "install kv $v2 on ${p%%:*}" "$stele" chaincode install "$tmp/kv2.pkg" --peer "${p%:*}" --identity "$ids/${p##*:}" --json
  echo "$out" >"$tmp/install.json"
  valid_json "$tmp/install.json" "install --json"
done
def2=(--name kv --version "$v2" --sequence 2 --package "$tmp/kv2.pkg" --policy "OR(org1.peer, org2.peer)")
ok "approve $v2 by org1" "$stele" chaincode approve "${def2[@]}" --peer "$p1" --identity "$ids/admin.org1" --json
ok "approve $v2 by org2" "$stele" chaincode approve "${def2[@]}" --peer "$p2" --identity "$ids/admin.org2"
ok "commit $v2" "$stele" chaincode commit "${def2[@]}" --peer "$p1" --identity "$ids/admin.org1" --json
echo "$out" >"$tmp/commit.json"
valid_json "$tmp/commit.json" "commit --json"
for flag in "" --installed; do
  run "$stele" chaincode list $flag --peer "$p1" --identity "$ids/admin.org1" --json
  valid_json "$tmp/out" "chaincode list $flag --json"
  python3 -c 'import json, sys
vs = [json.loads(l)["version"] for l in open(sys.argv[1])]
sys.exit(0 if sys.argv[2] in vs else 1)' "$tmp/out" "$v2" 2>/dev/null || nope "list $flag --json lacks version $v2: $(cat "$tmp/out")"
done

# The ledger still audits clean, and both peers agree.
run "$stele" audit --network "$net" --json
[ $rc -eq 0 ] && grep -q '"consistent":true' "$tmp/out" || nope "audit: exit $rc: $(cat "$tmp/out" "$tmp/err")"

[ $bad = 0 ] || exit 1
echo "cli_ledger: ok"
