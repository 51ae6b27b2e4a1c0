#!/usr/bin/env bash
# stele-orderer with identities from a real stele-ca: genesis, serving, `stele chain info` and
# `stele block get` (text, --json and the exit codes of DESIGN §9), and a clean stop on SIGTERM.
# (--check on shipped and broken configurations: orderer_check.test.sh.)
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
ca_pid=; ord_pid=
cleanup() {
  for p in $ord_pid $ca_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/orderer.log" ] && cat "$tmp/orderer.log"; exit 1; }

# A CA and four identities: the orderer, another orderer, an auditor (reader), a client.
source "$src/tests/support/ca_setup.sh"
ca_start test-ca orderer0:orderers:orderer orderer1:orderers:orderer auditor1:org1:auditor \
  client1:org1:client

cat >"$tmp/orderer.yaml" <<YAML
node_id: orderer0
listen: 127.0.0.1:0
data_dir: data
identity_dir: ids/orderer0
channel_id: ch1
genesis_file: genesis.block
membership:
  cas:
    - public_key: ca/ca.pub
YAML
"$bin/stele-orderer" --check "$tmp/orderer.yaml" >/dev/null || fail "test config"

# Only an orderer identity may run an orderer.
sed 's#^identity_dir: ids/orderer0#identity_dir: ids/client1#' "$tmp/orderer.yaml" >"$tmp/wrong-id.yaml"
set +e
"$bin/stele-orderer" --config "$tmp/wrong-id.yaml" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "a client identity should not run an orderer (exit $rc)"
grep -q 'needs role orderer' "$tmp/err" || fail "wrong identity message: $(cat "$tmp/err")"

# Genesis, then serve.
"$bin/stele-orderer" genesis --config "$tmp/orderer.yaml" --out "$tmp/genesis.block" >/dev/null

# The genesis block decides: an orderer it does not list, another enrolment of the orderer it
# lists, and a batch section that differs are refused with a sentence, before anything is
# written to their block stores.
refused() { # yaml-file expected-message
  set +e
  "$bin/stele-orderer" --config "$1" >/dev/null 2>"$tmp/err"; local rc=$?
  set -e
  [ $rc -eq 1 ] || fail "$1 should be refused with exit 1, got $rc: $(cat "$tmp/err")"
  grep -q "$2" "$tmp/err" || fail "refusal of $1: $(cat "$tmp/err")"
}
sed -e 's#^node_id: orderer0#node_id: orderer1#' -e 's#ids/orderer0#ids/orderer1#' \
  -e 's#^data_dir: data#data_dir: data1#' "$tmp/orderer.yaml" >"$tmp/other.yaml"
refused "$tmp/other.yaml" 'node_id orderer1 is not one of the orderers of channel ch1 in .*genesis.block (orderer0)'
sed -e 's#ids/orderer0#ids/orderer1#' -e 's#^data_dir: data#data_dir: data2#' "$tmp/orderer.yaml" >"$tmp/rekeyed.yaml"
refused "$tmp/rekeyed.yaml" 'lists orderer orderer0 with public key [0-9a-f]*\.\.\., but identity_dir .*ids/orderer1 holds key'
sed -e 's#^data_dir: data#data_dir: data3#' "$tmp/orderer.yaml" >"$tmp/batch.yaml"
printf 'batch:\n  max_message_count: 7\n' >>"$tmp/batch.yaml"
refused "$tmp/batch.yaml" 'the batch section (line 11) differs from the batch parameters of channel ch1'
[ ! -e "$tmp/data1/blocks.000000" ] || fail "a refused orderer wrote its block store"
"$bin/stele-orderer" --config "$tmp/orderer.yaml" --port-file "$tmp/port" 2>"$tmp/orderer.log" &
ord_pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url="127.0.0.1:$(cat "$tmp/port")"

"$bin/stele" node health --url "$url" --service stele.AtomicBroadcast >/dev/null || fail "health"

# A second orderer on the running one's data_dir is refused (exit 1), naming the directory.
set +e
"$bin/stele-orderer" --config "$tmp/orderer.yaml" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "a second orderer on a data_dir in use should exit 1, got $rc: $(cat "$tmp/err")"
grep -q "data_dir .*/data is in use by another process (an orderer already runs on it?)" "$tmp/err" \
  || fail "data_dir in use message: $(cat "$tmp/err")"

# A channel has one genesis block: genesis refuses to replace it (exit 1) and leaves it as it was.
cp "$tmp/genesis.block" "$tmp/genesis.copy"
set +e
"$bin/stele-orderer" genesis --config "$tmp/orderer.yaml" --out "$tmp/genesis.block" >/dev/null \
  2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "genesis over an existing file should exit 1, got $rc"
grep -q "genesis.block exists: a channel has one genesis block; remove it first" "$tmp/err" \
  || fail "genesis over an existing file: $(cat "$tmp/err")"
cmp -s "$tmp/genesis.block" "$tmp/genesis.copy" || fail "genesis replaced an existing block 0"

# A data_dir whose parents are missing is made with them.
sed -e 's#^data_dir: data#data_dir: deep/er/data#' "$tmp/orderer.yaml" >"$tmp/deep.yaml"
"$bin/stele-orderer" --config "$tmp/deep.yaml" --port-file "$tmp/deep.port" 2>"$tmp/deep.log" &
deep_pid=$!
for _ in $(seq 200); do [ -s "$tmp/deep.port" ] && break; sleep 0.05; done
[ -s "$tmp/deep.port" ] || fail "orderer with data_dir deep/er/data: $(cat "$tmp/deep.log")"
kill -TERM $deep_pid; wait $deep_pid || fail "deep orderer did not stop cleanly"
[ -d "$tmp/deep/er/data" ] || fail "data_dir deep/er/data not made"
# A data_dir that cannot be made names the directory that failed.
: >"$tmp/notadir"
sed -e 's#^data_dir: data#data_dir: notadir/data#' "$tmp/orderer.yaml" >"$tmp/bad.yaml"
set +e
"$bin/stele-orderer" --config "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"; rc=$?
set -e
[ $rc -eq 3 ] || fail "an unmakeable data_dir should exit 3, got $rc"
grep -q "cannot create .*/notadir: it exists and is not a directory" "$tmp/err" || fail "mkdir message: $(cat "$tmp/err")"
"$bin/stele" node info --url "$url" | grep '^role     orderer$' >/dev/null || fail "node info role"
out=$("$bin/stele" chain info --orderer "$url" --json)
echo "$out" | grep '"channel_id":"ch1","height":1,' >/dev/null || fail "chain info: $out"
"$bin/stele" chain info --orderer "$url" | grep '^height         1$' >/dev/null || fail "chain info text"
out=$("$bin/stele" block get 0 --orderer "$url" --identity "$tmp/ids/auditor1" --json)
echo "$out" | grep '"number":0,' >/dev/null || fail "block get: $out"
echo "$out" | grep '"data_hash_valid":true' >/dev/null || fail "block get data hash: $out"
echo "$out" | grep '"orderers":\[{"node_id":"orderer0","organisation":"orderers",' >/dev/null \
  || fail "block 0 shows the orderer of its channel configuration: $out"
out=$("$bin/stele" chain config --orderer "$url" --identity "$tmp/ids/auditor1")
echo "$out" | grep '^signed by      orderer0 of orderers: verified$' >/dev/null || fail "chain config: $out"
"$bin/stele" block get 0 --orderer "$url" --identity "$tmp/ids/client1" | grep '^number         0$' >/dev/null \
  || fail "block get text"

set +e
"$bin/stele" block get 1 --orderer "$url" --identity "$tmp/ids/auditor1" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "missing block should exit 1, got $rc"
grep -q 'block 1 does not exist' "$tmp/err" || fail "missing block message: $(cat "$tmp/err")"
"$bin/stele" block get 0 --orderer "$url" --identity "$tmp/ids/admin" >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] || fail "admin may read, got $rc"
"$bin/stele" block get 0 --identity "$tmp/ids/auditor1" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "missing --orderer should exit 2, got $rc"
"$bin/stele" block get x --orderer "$url" --identity "$tmp/ids/auditor1" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "bad block number should exit 2, got $rc"
"$bin/stele" chain info --orderer 127.0.0.1:1 >/dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "unreachable orderer should exit 3, got $rc"
set -e

kill -TERM $ord_pid; wait $ord_pid || fail "orderer did not stop cleanly on SIGTERM"
ord_pid=

# The same orderer again, now serving TLS: it resumes its chain; the CLI needs --tls-ca.
(cd "$tmp" &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=test-tls-ca -keyout tls-ca.key -out tls-ca.crt 2>/dev/null &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=orderer0 \
    -keyout srv.key -out srv.csr 2>/dev/null &&
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >srv.ext &&
  openssl x509 -req -in srv.csr -CA tls-ca.crt -CAkey tls-ca.key -CAcreateserial -days 2 \
    -extfile srv.ext -out srv.crt 2>/dev/null) || fail "cannot make TLS certificates"
printf 'tls:\n  cert: srv.crt\n  key: srv.key\n' >>"$tmp/orderer.yaml"
rm -f "$tmp/port"
"$bin/stele-orderer" --config "$tmp/orderer.yaml" --port-file "$tmp/port" 2>>"$tmp/orderer.log" &
ord_pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url="127.0.0.1:$(cat "$tmp/port")"
out=$("$bin/stele" chain info --orderer "$url" --tls-ca "$tmp/tls-ca.crt" --json) || fail "TLS chain info"
echo "$out" | grep '"height":1,' >/dev/null || fail "TLS chain info after restart: $out"
"$bin/stele" block get 0 --orderer "$url" --tls-ca "$tmp/tls-ca.crt" --identity "$tmp/ids/auditor1" \
  >/dev/null || fail "TLS block get"
set +e
"$bin/stele" chain info --orderer "$url" >/dev/null 2>&1; rc=$?
[ $rc -eq 3 ] || fail "plaintext against TLS should exit 3, got $rc"
set -e
kill -TERM $ord_pid; wait $ord_pid || fail "TLS orderer did not stop cleanly on SIGTERM"
ord_pid=
echo "cli_orderer: all checks passed"
