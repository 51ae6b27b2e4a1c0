#!/usr/bin/env bash
# `stele` fed bad input, with no network: everything here is refused before a daemon is asked,
# with the exit codes of DESIGN §9 (2 usage, 1 refused) and a message naming what is wrong,
# nothing on stdout. Addresses that do not parse as HOST:PORT (gRPC would dial port
# 99999 - 65536 and take "1x" for port 1); numbers out of range, signed, overflowing or not
# numbers at all; --help wherever it is given; `chaincode package` of files a peer cannot
# load, and its --json with names that need escaping. Every check runs; each failure is
# listed.
set -euo pipefail
bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stele=$bin/stele
bad=0
nope() { echo "FAIL: $*"; bad=1; }

# expect RC PATTERN WHAT CMD...: CMD exits RC and says PATTERN (stderr, or stdout when RC is
# 0); a failure prints nothing on stdout.
expect() {
  local want=$1 pat=$2 what=$3 rc=0
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
  if [ $rc -ne "$want" ]; then
    nope "$what: exit $rc, want $want: $(head -c 400 "$tmp/out" "$tmp/err")"
    return 0
  fi
  local where=$tmp/err
  [ "$want" -eq 0 ] && where=$tmp/out
  grep -Eq -- "$pat" "$where" || nope "$what: does not say '$pat': $(head -c 400 "$where")"
  if [ "$want" -ne 0 ] && [ -s "$tmp/out" ]; then nope "$what: stdout on failure: $(head -c 200 "$tmp/out")"; fi
  return 0
}
# valid_json FILE WHAT: every line of FILE is one JSON value.
valid_json() {
  python3 -c 'import json, sys
for line in open(sys.argv[1], "rb"):
    json.loads(line)' "$1" 2>"$tmp/jerr" || nope "$2: not JSON ($(tail -1 "$tmp/jerr")): $(head -c 300 "$1")"
}

id=$tmp/no-such-identity
# ---- addresses ------------------------------------------------------------------------------
for addr in 127.0.0.1:99999 127.0.0.1:1x '127.0.0.1:7050"' localhost 127.0.0.1:-1; do
  expect 2 "expected HOST:PORT, got \"$addr\"" "tx get --peer $addr" \
    "$stele" tx get abc --peer "$addr" --identity "$id"
  expect 2 "expected HOST:PORT" "state range --peer ok,$addr" \
    "$stele" state range ns --peer "127.0.0.1:7060,$addr" --identity "$id"
  expect 2 "expected HOST:PORT, got \"$addr\"" "chain info --orderer $addr" \
    "$stele" chain info --orderer "$addr"
  expect 2 "expected HOST:PORT, got \"$addr\"" "block get --orderer $addr" \
    "$stele" block get 1 --orderer "$addr" --identity "$id"
  expect 2 "expected HOST:PORT, got \"$addr\"" "node health --url $addr" \
    "$stele" node health --url "$addr" --json
  expect 2 "expected HOST:PORT, got \"$addr\"" "chain info --all-peers --peer $addr" \
    "$stele" chain info --all-peers --peer "$addr"
done
expect 2 "expected HOST:PORT" "--orderer ," "$stele" chain info --orderer ,
# a TLS root that cannot be read: refused once (1), whichever daemons are listed, not each of
# them "unreachable" (3) with a table on stdout
expect 1 "^stele chain info: error: cannot read root CA file $tmp/none.crt\$" "--all-orderers --tls-ca none" \
  "$stele" chain info --all-orderers --orderer 127.0.0.1:7050,127.0.0.1:7051 --tls-ca "$tmp/none.crt"
expect 1 "^stele chain info: error: cannot read root CA file $tmp/none.crt\$" "--all-peers --tls-ca none" \
  "$stele" chain info --all-peers --peer 127.0.0.1:7060,127.0.0.1:7061 --tls-ca "$tmp/none.crt" --json
[ "$(wc -l <"$tmp/err")" -eq 1 ] || nope "--all-peers --tls-ca none: said more than once: $(cat "$tmp/err")"

# ---- numbers --------------------------------------------------------------------------------
for n in abc 5abc -1 99999999999999999999999 ''; do
  expect 2 "--from takes a block number" "events --from '$n'" \
    "$stele" events --peer 127.0.0.1:7060 --identity "$id" --from "$n"
  expect 2 "--to takes a block number" "events --to '$n'" \
    "$stele" events --peer 127.0.0.1:7060 --identity "$id" --to "$n"
  expect 2 "--limit takes 1..1000" "state range --limit '$n'" \
    "$stele" state range ns --limit "$n" --peer 127.0.0.1:7060 --identity "$id"
  expect 2 "--sequence takes a number from 1" "approve --sequence '$n'" \
    "$stele" chaincode approve --name cc --version 1 --sequence "$n" \
    --package-hash "$(printf '%064d' 0)" --policy 'OR(org1.peer)' --peer 127.0.0.1:7060 --identity "$id"
done
expect 2 "--sequence takes a number from 1" "approve --sequence 0" \
  "$stele" chaincode approve --name cc --version 1 --sequence 0 \
  --package-hash "$(printf '%064d' 0)" --policy 'OR(org1.peer)' --peer 127.0.0.1:7060 --identity "$id"
for n in 101 4294967297 18446744073709551617 -1 1x; do
  expect 2 "--retries takes 0..100" "invoke --retries $n" \
    "$stele" invoke cc fn --retries "$n" --peer 127.0.0.1:7060 --identity "$id"
done
for w in nan inf -1 1e300 abc 86401; do # (a wait taken would last: 5 s of it is enough)
  expect 2 "--wait takes 0..86400 seconds" "node health --wait $w" \
    timeout 5 "$stele" node health --url 127.0.0.1:1 --wait "$w"
done
expect 2 "--to 1 is before --from 2" "events --from 2 --to 1" \
  "$stele" events --peer 127.0.0.1:7060 --identity "$id" --from 2 --to 1
expect 2 "--filtered or --chaincode, not both" "events --filtered --chaincode" \
  "$stele" events --peer 127.0.0.1:7060 --identity "$id" --filtered --chaincode cc

# ---- --help wherever it is given --------------------------------------------------------------
expect 0 '^Usage: stele chain info' "chain info --all-peers --help" \
  "$stele" chain info --all-peers --peer 127.0.0.1:7060 --help
expect 0 '^Usage: stele chain info' "chain info --peer --help" "$stele" chain info --peer 127.0.0.1:7060 --help
expect 0 '^Usage: stele block get' "block get --peer --help" "$stele" block get 1 --peer 127.0.0.1:7060 --help
expect 2 "unrecognized option '--bogus'" "events --bogus" "$stele" events --bogus

# ---- bad options: getopt's message names the whole subcommand; one hint to --help ------------
# once EXPECTED-STDERR WHAT CMD...: CMD exits 2 and prints exactly EXPECTED-STDERR.
once() {
  local want=$1 what=$2 rc=0
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
  [ $rc -eq 2 ] && [ "$(cat "$tmp/err")" = "$want" ] && [ ! -s "$tmp/out" ] \
    || nope "$what: exit $rc: $(cat "$tmp/out" "$tmp/err")"
}
once "stele chain info: unrecognized option '--orderrer'
Try 'stele chain info --help'." "chain info --orderrer" "$stele" chain info --orderrer x
once "stele chain info: unrecognized option '--bogus'
Try 'stele chain info --help'." "chain info --peer --bogus" \
  "$stele" chain info --peer 127.0.0.1:7060 --bogus
once "stele chaincode approve: option '--sequence' requires an argument
Try 'stele chaincode approve --help'." "chaincode approve --sequence" \
  "$stele" chaincode approve --sequence
once "stele node health: unrecognized option '--bogus'
Try 'stele node health --help'." "node health --bogus" "$stele" node health --bogus
once "stele history: unrecognized option '--bogus'
Try 'stele history --help'." "history --bogus" "$stele" history cc k --bogus
# A negative number among the arguments is taken for an option: say to put '--' before them.
once "stele invoke: invalid option -- '5'
stele invoke: an argument that starts with '-' (a negative number?) goes after '--', which ends the options: stele invoke [OPTIONS] -- ARG...
Try 'stele invoke --help'." "invoke with a negative argument" \
  "$stele" invoke asset create a3 blue 5 -5 --peer 127.0.0.1:7060
expect 1 "no-such-identity/cert: not found" "invoke with '--' before a negative argument" \
  "$stele" invoke --peer 127.0.0.1:7060 --identity "$id" -- asset create a3 blue 5 -5

# ---- chaincode package ------------------------------------------------------------------------
so=$bin/tests/chaincode/kv.so
[ -f "$so" ] || so=$bin/chaincode/asset.so
echo 'not a shared object' >"$tmp/text.so"
printf 'int x;\n' >"$tmp/x.c"
cc -c "$tmp/x.c" -o "$tmp/x.o"
cp "$bin/libstele-chaincode.a" "$tmp/lib.a"
for f in text.so x.o lib.a; do
  expect 1 "$tmp/$f is not an ELF shared object" "package --so $f" \
    "$stele" chaincode package --so "$tmp/$f" --name cc --version 1 --out "$tmp/$f.pkg"
  [ ! -e "$tmp/$f.pkg" ] || nope "package --so $f wrote $f.pkg"
done
expect 1 "cannot read $tmp/none.so: not found" "package --so missing" \
  "$stele" chaincode package --so "$tmp/none.so" --name cc --version 1 --out "$tmp/none.pkg"
for name in '' _lifecycle 'a b' 'a/../b' "$(printf 'n%.0s' {1..65})"; do
  expect 2 "--name: 1..64 of" "package --name '$name'" \
    "$stele" chaincode package --so "$so" --name "$name" --version 1 --out "$tmp/n.pkg"
done
for v in '' "$(printf 'v%.0s' {1..65})"; do
  expect 2 "--version: 1..64 printable characters" "package --version of ${#v}" \
    "$stele" chaincode package --so "$so" --name cc --version "$v" --out "$tmp/n.pkg"
done
[ ! -e "$tmp/n.pkg" ] || nope "a refused package was written"
mkdir "$tmp/q\"d"
expect 0 '"package_hash":"[0-9a-f]{64}"' "package --json" \
  "$stele" chaincode package --so "$so" --name kv --version '2"\' --out "$tmp/q\"d/k\\v.pkg" --json
valid_json "$tmp/out" "package --json with a quote and a backslash"
[ -f "$tmp/q\"d/k\\v.pkg" ] || nope "package --json wrote no package"
for f in "$tmp/q\"d"/*tmp*; do [ ! -e "$f" ] || nope "package left a temporary file: $f"; done
# --out where no file can be written: refused (1, naming why), not an I/O failure to retry (3)
expect 1 "cannot write $tmp/no-dir/k.pkg: No such file or directory" "package --out in no directory" \
  "$stele" chaincode package --so "$so" --name kv --version 1 --out "$tmp/no-dir/k.pkg"
expect 1 "cannot write $tmp/q\"d: Is a directory" "package --out a directory" \
  "$stele" chaincode package --so "$so" --name kv --version 1 --out "$tmp/q\"d"

# approve|commit --package must be given a package, not the .so (whose hash no peer installs)
for f in "$so" "$tmp/text.so"; do
  expect 1 "$f is not a chaincode package" "approve --package $(basename "$f")" \
    "$stele" chaincode approve --name kv --version 1 --sequence 1 --package "$f" \
    --policy 'OR(org1.peer)' --peer 127.0.0.1:7060 --identity "$id"
done
expect 1 "no-such-identity/cert: not found" "approve --package of a package" \
  "$stele" chaincode approve --name kv --version 1 --sequence 1 --package "$tmp/q\"d/k\\v.pkg" \
  --policy 'OR(org1.peer)' --peer 127.0.0.1:7060 --identity "$id"

# a directory given for a file: refused (exit 1), not an I/O error (exit 3)
expect 1 "cannot read $tmp: it is a directory" "package --so a directory" \
  "$stele" chaincode package --so "$tmp" --name cc --version 1 --out "$tmp/d.pkg"
expect 1 "cannot read $tmp: it is a directory" "chain config --file a directory" \
  "$stele" chain config --file "$tmp"
expect 1 "cannot read $tmp: it is a directory" "submit a directory" \
  "$stele" submit "$tmp" --peer 127.0.0.1:7060
expect 1 "cannot read $tmp: it is a directory" "crl publish a directory" \
  "$stele" crl publish "$tmp" --peer 127.0.0.1:7060 --identity "$id"

# an identity "directory" that is a file: not found (exit 1), not an I/O error (exit 3)
expect 1 "--identity /etc/passwd: /etc/passwd/cert: not found" "--identity /etc/passwd" \
  "$stele" tx get abc --peer 127.0.0.1:7060 --identity /etc/passwd

[ $bad = 0 ] || exit 1
echo "cli_input: ok"
