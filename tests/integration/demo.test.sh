#!/usr/bin/env bash
# `make demo` works: run scripts/demo against this build, then check what a user would check
# afterwards — every identity directory is complete and verifies, the genesis block's channel
# configuration was shown and its signer verified, the orderer cut blocks and
# delivered every envelope once, `stele-network down` left no process running, and the enrol
# command refuses to overwrite an enrolment before asking the CA for anything.
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
trap '[ -f "$tmp/net/network.json" ] && "$bin/stele-network" down --dir "$tmp/net" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
source "$src/tests/support/ports.sh"; port_range 2   # the demo network and its TLS one (base + 50)
port=$(( base + 4 ))
STELE_BIN="$bin" STELE_DEMO_DIR="$tmp/net" STELE_DEMO_CA_PORT=$port bash "$src/scripts/demo" >"$tmp/demo.log" 2>&1 \
  || { cat "$tmp/demo.log"; echo "FAIL: the demo failed"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
n=0
for d in "$tmp/net/ids"/*/; do
  for f in key.pem cert identity ca.pub; do [ -s "$d/$f" ] || fail "$d lacks $f"; done
  [ "$(stat -c %a "$d/key.pem")" = 600 ] || fail "$d/key.pem is not mode 0600"
  "$bin/stele-ca" inspect "$d" --json | grep '"verified":true' >/dev/null || fail "$d does not verify"
  n=$((n + 1))
done
# the CA admin, three organisation admins and the 14 identities of configs/network.yaml
[ $n -eq 18 ] || fail "expected 18 enrolled identities, found $n"
grep -q '"delivered_exactly_once":true' "$tmp/demo.log" || fail "the orderer bench did not deliver every envelope once"
height=$(sed -n 's/^height *\([0-9]*\)$/\1/p' "$tmp/demo.log" | sed -n 1p)
[ -n "$height" ] && [ "$height" -gt 1 ] || fail "chain info height is '$height', expected > 1"
grep -q '^number *1$' "$tmp/demo.log" || fail "block 1 was not printed"
grep -q '^signed by      admin.orderers of orderers: verified$' "$tmp/demo.log" \
  || fail "the genesis block's configuration was not shown"
grep -q '^organisations  3$' "$tmp/demo.log" || fail "the genesis block does not list 3 organisations"
for f in "$tmp/net"/*.pid; do
  pid=$(cat "$f")
  ! kill -0 "$pid" 2>/dev/null || fail "$(basename "$f" .pid) (pid $pid) still runs after down"
done
grep -q 'exited 0' "$tmp/demo.log" || fail "down did not report a clean exit"
grep -Eq '^stele_ledger_height [1-9][0-9]*$' "$tmp/demo.log" || fail "the peer's /metrics showed no ledger height"
grep -q '^stele_consensus_role{role="primary"} 1$' "$tmp/demo.log" || fail "orderer0's /metrics: not the primary"
grep -q '^{"status":"OK"}$' "$tmp/demo.log" || fail "the CA's /healthz was not OK"
grep -q 'they match' "$tmp/demo.log" || fail "openssl did not confirm the key"
grep -q 'booth lost at table 1' "$tmp/demo.log" || fail "the revoked booth is not on the CRL"
grep -Eq '^CRL number [0-9]+ \(1 revoked\) committed in block [0-9]+' "$tmp/demo.log" \
  || fail "the CRL was not put on the ledger"
grep -q 'creator is refused: .*revoked' "$tmp/demo.log" || fail "the revoked booth was not refused"
# Step 8: the mutual-TLS network answered its clients, refused one without a certificate.
grep -q '^consensus *solo$' "$tmp/demo.log" || fail "the TLS network's chain info was not printed"
grep -A3 'presents no certificate is refused' "$tmp/demo.log" | grep '^  exit status 3$' >/dev/null \
  || fail "the client without a certificate was not refused"
[ ! -f "$tmp/net/tls-net/network.json" ] || ! kill -0 "$(cat "$tmp/net/tls-net/orderer0.pid")" 2>/dev/null \
  || fail "the TLS network still runs after the demo"

# Enrolling into a directory that already holds an enrolment is refused before any RPC
# (no CA is running now: a refusal that mentions the directory proves nothing was sent).
set +e
out=$("$bin/stele-ca" enroll --url 127.0.0.1:1 --id x --secret y --out "$tmp/net/ids/juror1" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "overwrite should exit 1, got $rc: $out"
echo "$out" | grep 'already holds an enrolment' >/dev/null || fail "overwrite message: $out"
echo "demo: $n identities enrolled and verified; height $height; all stopped; overwrite refused"
