#!/usr/bin/env bash
# Revocation carried on the ledger (`stele crl publish`; the `_lifecycle crl` rule of
# lib/ledger/lifecycle.h), on a real network from configs/network.yaml (the CA, four PBFT
# orderers, two peers of two organisations) where no peer or orderer has a CRL file:
#   1. booth1 creates an asset and reads a block from an orderer; it is revoked at the CA;
#      until the CRL is on the ledger the peers still accept it (nothing told them);
#   2. booth1 has a transaction endorsed and signed now, to send later (stele invoke --prepare);
#   3. a client cannot publish the CRL, a file that is no CRL is refused, org1's admin
#      publishes it (VALID), and the same CRL again is refused (not newer);
#   4. booth1's Events stream, open since before the publication, ends FORBIDDEN while
#      owner1's keeps following; booth1's proposals are refused at both gateways; every
#      orderer, which learns CRLs from the blocks it appends, refuses booth1's Deliver and the
#      transaction endorsed before the revocation, which reaches no peer;
#   5. a second revocation's CRL is published too; peer0.org2, restarted with a CRL file
#      older than the ledger's (which it ignores, saying so), still refuses both revoked
#      identities (it installs the ledger's CRLs when it opens its ledger), and so does
#      orderer0 restarted (it keeps what it learnt in its data directory); `stele audit`
#      recomputes both peers' chains as consistent without being given any CRL file;
#   6. a CRL and a transaction of the identity it revokes, sent at once: refused by the
#      orderers when they had appended the CRL's block; otherwise VALID when it lands in the
#      CRL's block (or before), CREATOR_REVOKED after, the same on both peers.
source "${STELE_SOURCE_DIR:?}/tests/support/net_setup.sh"   # $src $bin $tmp $net $base $p1 $p2 $ids, fail, ok
stele() { "$bin/stele" "$@"; }
# refused WHAT PATTERN CMD...: CMD must exit 1 saying PATTERN.
refused() {
  local what=$1 pat=$2 rc=0; shift 2
  out=$("$@" </dev/null 2>&1) || rc=$?
  [ $rc -eq 1 ] || fail "$what: should exit 1, got $rc: $out"
  echo "$out" | grep -E -- "$pat" >/dev/null || fail "$what: does not say '$pat': $out"
}
# code PEER TX_ID: the validation code the peer recorded.
code() { stele tx get "$2" --peer "$1" --identity "$ids/auditor1" --json | sed -n 's/.*"validation_code":"\([A-Z_]*\)".*/\1/p'; }

"$bin/stele-network" up --config "$src/configs/network.yaml" --dir "$net" --base-port "$base" >"$tmp/up.out" \
  || fail "up: $(cat "$tmp/up.out")"
ca=$(sed -n 's/.*"ca_url":"\([^"]*\)".*/\1/p' "$net/network.json")
! grep -rq '^crls:' "$net"/peer0.org*/peer.yaml || fail "a peer has a CRL file: this test needs none"
deploy_asset

# ---- 1 and 2 ------------------------------------------------------------------------------
o0=127.0.0.1:$base
ok "booth1 creates" stele invoke asset create b1 red 1 1 --peer "$p1" --identity "$ids/booth1"
ok "booth1 reads block 0 from orderer0" stele block get 0 --orderer "$o0" --identity "$ids/booth1"
ok "the CRL before any revocation" "$bin/stele-ca" crl --url "$ca" --out "$tmp/crl0.bin"
ok "revoke booth1" "$bin/stele-ca" revoke --url "$ca" --as "$ids/admin" --id booth1 --reason "booth lost"
ok "fetch the CRL" "$bin/stele-ca" crl --url "$ca" --out "$tmp/crl.bin"
ok "booth1 still accepted before the CRL is on the ledger" \
  stele invoke asset create b2 red 1 1 --peer "$p2" --identity "$ids/booth1"
ok "booth1 prepares a transaction" \
  stele invoke asset create b3 red 1 1 --peer "$p1" --identity "$ids/booth1" --prepare "$tmp/late.tx"
late=$(echo "$out" | sed -n 's/^tx \([0-9a-f]\{64\}\) endorsed and signed.*/\1/p')
[ ${#late} -eq 64 ] || fail "--prepare printed no tx_id: $out"

# ---- 3 ------------------------------------------------------------------------------------
# booth1 and owner1 follow peer0.org1's blocks from before the publication on
stele events --peer "$p1" --identity "$ids/booth1" >"$tmp/ev.booth1" 2>&1 &
ev_booth1=$!
stele events --peer "$p1" --identity "$ids/owner1" >"$tmp/ev.owner1" 2>&1 &
ev_owner1=$!
refused "a client publishes the CRL" 'only an admin of a channel organisation' \
  stele crl publish "$tmp/crl.bin" --peer "$p1" --identity "$ids/owner1"
printf 'not a crl' >"$tmp/junk.bin"
refused "a file that is no CRL" 'not a signed CRL' \
  stele crl publish "$tmp/junk.bin" --peer "$p1" --identity "$ids/admin.org1"
ok "org1's admin publishes the CRL" stele crl publish "$tmp/crl.bin" --peer "$p1" --identity "$ids/admin.org1"
echo "$out" | grep -E '^CRL number [0-9]+ \(1 revoked\) committed in block [0-9]+' >/dev/null || fail "publish said: $out"
refused "the same CRL again" 'greater' \
  stele crl publish "$tmp/crl.bin" --peer "$p1" --identity "$ids/admin.org2"

# ---- 4 ------------------------------------------------------------------------------------
for _ in $(seq 1 50); do kill -0 $ev_booth1 2>/dev/null || break; sleep 0.1; done
rc=0; kill -0 $ev_booth1 2>/dev/null && { kill $ev_booth1; fail "booth1's Events stream still open"; }
wait $ev_booth1 || rc=$?
[ $rc -eq 1 ] && grep -q 'STATUS_FORBIDDEN' "$tmp/ev.booth1" \
  || fail "booth1's Events stream ended with $rc: $(cat "$tmp/ev.booth1")"
kill -0 $ev_owner1 2>/dev/null || fail "owner1's Events stream ended: $(cat "$tmp/ev.owner1")"
kill $ev_owner1; wait $ev_owner1 2>/dev/null || true
grep -q '^block ' "$tmp/ev.owner1" || fail "owner1's Events stream got no block: $(cat "$tmp/ev.owner1")"
for p in "$p1" "$p2"; do
  refused "booth1 proposes through $p" 'revoked' \
    stele invoke asset create b4 red 1 1 --peer "$p" --identity "$ids/booth1"
done
for i in 0 1 2 3; do
  refused "booth1 reads a block from orderer$i" 'is not a reader' \
    stele block get 0 --orderer "127.0.0.1:$(( base + i ))" --identity "$ids/booth1"
done
refused "the transaction endorsed before the revocation" 'no orderer accepted.*FORBIDDEN' \
  stele submit "$tmp/late.tx" --peer "$p2"
sleep 0.5
for p in "$p1" "$p2"; do
  c=$(code "$p" "$late" 2>/dev/null || true)
  [ -z "$c" ] || fail "peer $p recorded '$c' for the late transaction, which no orderer took"
done
ok "owner1 still works" stele invoke asset create o1 blue 1 1 --peer "$p1" --identity "$ids/owner1"

# ---- 5 ------------------------------------------------------------------------------------
# A second revocation, a second CRL of the same CA on the ledger. In test builds orderer0 cannot
# keep it in its data directory (a test hook fails the write): restarted below, it must still
# refuse sensor1, reading the CRL's block again.
ok "revoke sensor1" "$bin/stele-ca" revoke --url "$ca" --as "$ids/admin" --id sensor1 --reason "stolen"
ok "fetch the second CRL" "$bin/stele-ca" crl --url "$ca" --out "$tmp/crl2.bin"
if [ "${STELE_TEST_HOOKS:-}" = 1 ]; then
  STELE_TEST_ORDERER_CRL_KEEP_FAIL=$tmp/crl-disk-fails "$bin/stele-network" restart --dir "$net" \
    orderer0 >"$tmp/restart0" 2>&1 || fail "restart orderer0: $(cat "$tmp/restart0")"
  : >"$tmp/crl-disk-fails"
fi
ok "publish the second CRL" stele crl publish "$tmp/crl2.bin" --peer "$p1" --identity "$ids/admin.org1"
echo "$out" | grep -E '^CRL number [0-9]+ \(2 revoked\)' >/dev/null || fail "second publish said: $out"
if [ "${STELE_TEST_HOOKS:-}" = 1 ]; then
  for _ in $(seq 1 50); do grep -q 'cannot keep the CRL' "$net/orderer0.log" && break; sleep 0.1; done
  grep -q 'cannot keep the CRL' "$net/orderer0.log" || fail "orderer0 did not fail to keep the CRL"
  rm -f "$tmp/crl-disk-fails"
fi
refused "sensor1 queries peer0.org1" 'revoked' stele query asset read b1 --peer "$p1" --identity "$ids/sensor1"
# (a query runs on peer0.org2 alone: an invoke would also be refused by peer0.org1's endorsement)
refused "booth1 queries peer0.org2" 'revoked' stele query asset read b1 --peer "$p2" --identity "$ids/booth1"
before=$(grep -c 'installed the CRL _lifecycle/crl/' "$net/peer0.org2.log" || true)
# restarted with a CRL file older than the ledger's: it starts, and ignores the file
printf 'crls: [%s]\n' "$tmp/crl0.bin" >>"$net/peer0.org2/peer.yaml"
"$bin/stele-network" restart --dir "$net" peer0.org2 >"$tmp/restart" 2>&1 || fail "restart: $(cat "$tmp/restart")"
stele node health --url "$p2" --wait 20 >/dev/null || fail "peer0.org2 not serving after restart"
after=$(grep -c 'installed the CRL _lifecycle/crl/' "$net/peer0.org2.log" || true)
[ "$after" -gt "$before" ] || fail "peer0.org2 did not install the ledger's CRL when it restarted"
grep -q 'the ledger carries a newer CRL of that CA; file ignored' "$net/peer0.org2.log" \
  || fail "peer0.org2 did not say it ignores the older CRL file"
for who in booth1 sensor1; do
  refused "$who queries peer0.org2 after its restart" 'revoked' \
    stele query asset read b1 --peer "$p2" --identity "$ids/$who"
done
"$bin/stele-network" restart --dir "$net" orderer0 >"$tmp/restart0" 2>&1 || fail "restart orderer0: $(cat "$tmp/restart0")"
for _ in $(seq 1 50); do stele block get 0 --orderer "$o0" --identity "$ids/owner1" >/dev/null 2>&1 && break; sleep 0.2; done
ok "owner1 reads from orderer0 after its restart" stele block get 0 --orderer "$o0" --identity "$ids/owner1"
for who in booth1 sensor1; do
  refused "$who reads from orderer0 after its restart" 'is not a reader' \
    stele block get 0 --orderer "$o0" --identity "$ids/$who"
done
# A CRL and a transaction of the identity it revokes, sent at once: they may share a block
# (the primary batches for 40 ms). Revocation counts from the block after the CRL's, so the
# transaction is VALID in the CRL's block or before, CREATOR_REVOKED after, on both peers.
ok "juror1 prepares a transaction" \
  stele invoke asset create j1 red 1 1 --peer "$p1" --identity "$ids/juror1" --prepare "$tmp/j.tx"
jtx=$(echo "$out" | sed -n 's/^tx \([0-9a-f]\{64\}\) endorsed and signed.*/\1/p')
ok "revoke juror1" "$bin/stele-ca" revoke --url "$ca" --as "$ids/admin" --id juror1 --reason "left"
ok "fetch the third CRL" "$bin/stele-ca" crl --url "$ca" --out "$tmp/crl3.bin"
stele crl publish "$tmp/crl3.bin" --peer "$p1" --identity "$ids/admin.org1" --json >"$tmp/pub3" 2>&1 &
pp=$!
subrc=0
stele submit "$tmp/j.tx" --peer "$p1" >"$tmp/sub3" 2>&1 || subrc=$?
wait $pp || fail "third publish: $(cat "$tmp/pub3")"
crlblock=$(sed -n 's/.*"block":\([0-9]*\).*/\1/p' "$tmp/pub3")
[ -n "$crlblock" ] || fail "third publish printed no block: $(cat "$tmp/pub3")"
if grep -q 'no orderer accepted' "$tmp/sub3"; then
  # the orderers had appended the CRL's block: nobody has the transaction
  sleep 0.5
  for p in "$p1" "$p2"; do
    c=$(code "$p" "$jtx" 2>/dev/null || true)
    [ -z "$c" ] || fail "$p recorded '$c' for juror1's transaction, which no orderer took"
  done
  echo "juror1's transaction: refused by the orderers (CRL in block $crlblock)"
else
  echo "juror1's transaction submitted (exit $subrc): $(head -c 300 "$tmp/sub3")"
fi
for p in "$p1" "$p2"; do
  grep -q 'no orderer accepted' "$tmp/sub3" && break
  for _ in $(seq 1 50); do
    stele tx get "$jtx" --peer "$p" --identity "$ids/auditor1" --json >"$tmp/jt" 2>/dev/null && break
    sleep 0.1
  done
  jblock=$(sed -n 's/.*"block":\([0-9]*\).*/\1/p' "$tmp/jt")
  jcode=$(sed -n 's/.*"validation_code":"\([A-Z_]*\)".*/\1/p' "$tmp/jt")
  want=VALID; [ -n "$jblock" ] && [ "$jblock" -gt "$crlblock" ] && want=CREATOR_REVOKED
  [ "$jcode" = "$want" ] || fail "$p: juror1's transaction in block '$jblock' (CRL in $crlblock) is '$jcode', not $want"
  echo "juror1's transaction: block $jblock, CRL in block $crlblock: $jcode on $p"
done

for p in "$p1" "$p2"; do
  ok "audit $p without a CRL file" stele audit --peer "$p" --identity "$ids/auditor1"
  echo "$out" | grep 'check out' >/dev/null || fail "audit $p: $out"
done
echo "crl: ok"
