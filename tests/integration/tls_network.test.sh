#!/usr/bin/env bash
# A whole network over mutual TLS, as `stele-network up` starts it from configs/network.yaml
# with `tls: mutual`: the CA, four PBFT orderers and two peers, every link TLS.
#   1. up makes the network's TLS CA and a certificate per daemon (DIR/tls), and one for its
#      clients; every daemon answers its health check over TLS (stele-network status);
#   2. the orderers agree among themselves over TLS (stele.Cluster): a transaction ordered
#      through the gateway reaches the same height on all four;
#   3. the sample chaincode is deployed and invoked with --network (the CLI takes the roots and
#      the client certificate from network.json): endorsement by the other organisation's peer,
#      Broadcast to every orderer and Deliver to the peers all run over TLS, and the
#      transaction commits VALID on both peers;
#   4. refusals: a plaintext client, a client trusting another CA, and a client without a
#      certificate (or with one of another CA) are each refused by a peer or an orderer, and
#      nothing is ordered for them; the CA serves TLS without asking for client certificates
#      (those who enrol have none yet), and refuses plaintext;
#   5. the daemons' configurations are what an operator would write by hand (tls section with
#      cert, key, root_ca, client_ca), and `stele-orderer --check` accepts them;
# then an orderer and a peer restarted by `stele-network restart` come back over TLS, and at
# the end every daemon stops with exit status 0 on SIGTERM.
source "${STELE_SOURCE_DIR:?}/tests/support/net_setup.sh"   # $src $bin $tmp $net $base $p1 $p2 $ids, fail, ok
o0=127.0.0.1:$base

refused() {
  local what=$1 pat=$2 rc=0
  shift 2
  out=$("$@" </dev/null 2>&1) || rc=$?
  [ $rc -ne 0 ] || fail "$what: should fail, exit 0: $out"
  echo "$out" | grep -E -- "$pat" >/dev/null || fail "$what: message does not say '$pat': $out"
}
heights() { "$bin/stele" chain info --network "$net" --all-orderers --json | grep -o '"height":[0-9]*' | sort -u; }

# 1. Up with mutual TLS.
grep -q '^tls: ' "$src/configs/network.yaml" || fail "configs/network.yaml has no tls key: update this test"
sed 's/^tls: .*/tls: mutual/' "$src/configs/network.yaml" >"$tmp/network.yaml"
# A daemon listening on every interface cannot be named by its certificate; a node id names
# files and directories. check (and up) refuse both, with the line.
sed 's/listen: 127.0.0.1:17061/listen: 0.0.0.0:17061/' "$tmp/network.yaml" >"$tmp/wild.yaml"
refused "wildcard listen with tls" "wild.yaml:[0-9]+:[0-9]+: peers\[1\].listen 0.0.0.0:17061 listens on every interface" \
  "$bin/stele-network" check --config "$tmp/wild.yaml"
sed 's/^tls: .*/tls: none/' "$tmp/wild.yaml" >"$tmp/wild-plain.yaml"
ok "wildcard listen without tls" "$bin/stele-network" check --config "$tmp/wild-plain.yaml"
sed 's/id: peer0.org2$/id: ..\/peer0.org2/; s/{id: peer0.org2,/{id: ..\/peer0.org2,/' "$tmp/network.yaml" >"$tmp/badid.yaml"
grep -q '\.\./peer0.org2' "$tmp/badid.yaml" || fail "badid.yaml: the sed found no peer0.org2 id: update this test"
refused "a node id with a slash" "peers\[1\].id \"../peer0.org2\": use letters" \
  "$bin/stele-network" check --config "$tmp/badid.yaml"
"$bin/stele-network" up --config "$tmp/network.yaml" --dir "$net" --base-port "$base" >"$tmp/up.out" 2>&1 \
  || fail "up: $(cat "$tmp/up.out")"
for f in ca.crt ca.key ca-server.crt nodes/orderer0.crt nodes/orderer3.key nodes/peer0.org2.crt client.crt client.key; do
  [ -s "$net/tls/$f" ] || fail "up wrote no tls/$f"
done
for f in ca.key client.key nodes/orderer0.key; do
  [ "$(stat -c %a "$net/tls/$f")" = 600 ] || fail "tls/$f is not mode 600"
done
# The clients' certificate cannot pass for a daemon: client authentication only, no host.
! openssl verify -CAfile "$net/tls/ca.crt" -purpose sslserver "$net/tls/client.crt" >/dev/null 2>&1 \
  || fail "the clients' certificate verifies as a server's"
grep -q '"tls_ca":' "$net/network.json" || fail "network.json names no tls_ca"
ok "status over TLS" "$bin/stele-network" status --dir "$net"
[ "$(echo "$out" | grep -c ' SERVING')" -eq 7 ] || fail "not every daemon SERVING over TLS: $out"
echo "$out" | grep '(channel stele, tls mutual)' >/dev/null || fail "status does not say the network runs mutual TLS: $out"

# 5. The configurations an operator would write, accepted by --check.
grep -q '^  root_ca: ../tls/ca.crt$' "$net/orderer1/orderer.yaml" || fail "orderer1 has no root_ca: $(cat "$net/orderer1/orderer.yaml")"
grep -q '^  client_ca: ../tls/ca.crt$' "$net/peer0.org1/peer.yaml" || fail "peer0.org1 asks no client certificate"
ok "orderer --check" "$bin/stele-orderer" --check "$net/orderer1/orderer.yaml"
ok "peer --check" "$bin/stele-peer" --check "$net/peer0.org1/peer.yaml"

# 3. Deploy through each peer with a client certificate, invoke and query with --network.
tls=(--tls-ca "$net/tls/ca.crt" --tls-cert "$net/tls/client.crt" --tls-key "$net/tls/client.key")
deploy_asset "${tls[@]}"
ok "invoke" "$bin/stele" invoke asset create a1 blue 5 300 --network "$net" --identity "$ids/owner1"
echo "$out" | grep -E '^tx [0-9a-f]{64} committed in block [0-9]+: VALID$' >/dev/null || fail "invoke not VALID: $out"
ok "query on peer0.org2" "$bin/stele" query asset read a1 --peer "$p2" "${tls[@]}" --identity "$ids/auditor1"
echo "$out" | grep '"owner"' >/dev/null || fail "query on peer0.org2 does not show the asset: $out"

# 2. The four orderers agree (their Cluster links are TLS too).
for _ in $(seq 1 100); do [ "$(heights | wc -l)" -eq 1 ] && break; sleep 0.1; done
[ "$(heights | wc -l)" -eq 1 ] || fail "the orderers do not agree: $("$bin/stele" chain info --network "$net" --all-orderers)"
height=$(heights)
ok "peers agree" "$bin/stele" chain info --network "$net" --all-peers --json
echo "$out" | grep '"agree":true' >/dev/null || fail "the peers do not agree: $out"

# 4. Refusals, by a peer and by an orderer; nothing ordered for them.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=rogue \
  -keyout "$tmp/rogue.key" -out "$tmp/rogue.crt" 2>/dev/null || fail "cannot make a rogue CA"
refused "plaintext to a peer" "UNAVAILABLE|unavailable|connect" \
  "$bin/stele" query asset read a1 --peer "$p1" --identity "$ids/auditor1"
refused "another CA's roots" "UNAVAILABLE|unavailable|connect|handshake" \
  "$bin/stele" query asset read a1 --peer "$p1" --tls-ca "$tmp/rogue.crt" --identity "$ids/auditor1"
refused "no client certificate" "UNAVAILABLE|unavailable|connect|handshake" \
  "$bin/stele" invoke asset create a2 red 1 1 --peer "$p1" --tls-ca "$net/tls/ca.crt" --identity "$ids/owner1"
refused "a client certificate of another CA" "UNAVAILABLE|unavailable|connect|handshake" \
  "$bin/stele" invoke asset create a3 red 1 1 --peer "$p1" --tls-ca "$net/tls/ca.crt" \
  --tls-cert "$tmp/rogue.crt" --tls-key "$tmp/rogue.key" --identity "$ids/owner1"
refused "plaintext to an orderer" "UNAVAILABLE|unavailable|connect" "$bin/stele" chain info --orderer "$o0"
refused "no client certificate at an orderer" "UNAVAILABLE|unavailable|connect|handshake" \
  "$bin/stele" chain info --orderer "$o0" --tls-ca "$net/tls/ca.crt"
refused "half a client certificate" "both --tls-cert and --tls-key" \
  "$bin/stele" chain info --orderer "$o0" --tls-ca "$net/tls/ca.crt" --tls-cert "$net/tls/client.crt"
ok "the CA over TLS" "$bin/stele-ca" info --url "127.0.0.1:$(( base + 4 ))" --tls-ca "$net/tls/ca.crt"
echo "$out" | grep '^public_key: ' >/dev/null || fail "stele-ca info over TLS: $out"
refused "plaintext to the CA" "UNAVAILABLE" "$bin/stele-ca" info --url "127.0.0.1:$(( base + 4 ))"
ok "orderer with a client certificate" "$bin/stele" chain info --orderer "$o0" "${tls[@]}" --json
echo "$out" | grep "\"height\":${height#*:}," >/dev/null || fail "the orderer's height moved: $out (was $height)"
for a in a2 a3; do
  rc=0; "$bin/stele" query asset read $a --network "$net" --identity "$ids/auditor1" >/dev/null 2>&1 || rc=$?
  [ $rc -ne 0 ] || fail "asset $a exists: a refused client's transaction was ordered"
done

# A restarted orderer and peer come back over TLS: the restart's health check dials them with
# the network's client certificate, the orderer catches up with the others over its Cluster
# links, and the peer pulls the blocks it missed.
ok "restart orderer1" "$bin/stele-network" restart --dir "$net" orderer1
ok "restart peer0.org2" "$bin/stele-network" restart --dir "$net" peer0.org2
ok "invoke after the restarts" "$bin/stele" invoke asset create a4 green 2 20 --network "$net" --identity "$ids/owner1"
echo "$out" | grep -E '^tx [0-9a-f]{64} committed in block [0-9]+: VALID$' >/dev/null || fail "invoke after the restarts: $out"
for _ in $(seq 1 100); do [ "$(heights | wc -l)" -eq 1 ] && break; sleep 0.1; done
[ "$(heights | wc -l)" -eq 1 ] || fail "orderer1 did not catch up: $("$bin/stele" chain info --network "$net" --all-orderers)"
ok "query a4 on peer0.org2" "$bin/stele" query asset read a4 --peer "$p2" "${tls[@]}" --identity "$ids/auditor1"
echo "$out" | grep '"green"' >/dev/null || fail "peer0.org2 does not see a4 after its restart: $out"

# Every daemon stops cleanly.
ok "down" "$bin/stele-network" down --dir "$net"
[ "$(echo "$out" | grep -Ec '^  (ca|orderer[0-3]|peer0\.org[12]) .* exited 0$')" -eq 7 ] || fail "down: $out"
! grep -l 'ERROR: AddressSanitizer\|runtime error:' "$net"/*.log || fail "a sanitizer report in the logs"

# An orderer whose tls.root_ca cannot be read refuses to start, naming the file, instead of
# running without its links to the other orderers.
sed 's|^  root_ca: .*|  root_ca: ../tls/missing.crt|' "$net/orderer1/orderer.yaml" >"$net/orderer1/broken.yaml"
rc=0; out=$(timeout 30 "$bin/stele-orderer" serve --config "$net/orderer1/broken.yaml" 2>&1) || rc=$?
[ $rc -eq 1 ] || fail "an orderer with an unreadable root_ca: exit $rc (1: the operator's to fix): $out"
echo "$out" | grep 'missing.crt' >/dev/null || fail "the orderer's error does not name the missing file: $out"
# So does a peer whose certificate cannot be read, and the CA: exit 1, bad configuration.
sed 's|^  cert: .*|  cert: ../tls/missing.crt|' "$net/peer0.org1/peer.yaml" >"$net/peer0.org1/broken.yaml"
rc=0; out=$(timeout 30 "$bin/stele-peer" serve --config "$net/peer0.org1/broken.yaml" 2>&1) || rc=$?
[ $rc -eq 1 ] || fail "a peer with an unreadable tls.cert: exit $rc (1: the operator's to fix): $out"
echo "$out" | grep 'missing.crt' >/dev/null || fail "the peer's error does not name the missing file: $out"
sed 's|^  cert: .*|  cert: tls/missing.crt|' "$net/ca.yaml" >"$net/broken-ca.yaml"
rc=0; out=$(timeout 30 "$bin/stele-ca" serve --config "$net/broken-ca.yaml" 2>&1) || rc=$?
[ $rc -eq 1 ] || fail "a CA with an unreadable tls.cert: exit $rc (1: the operator's to fix): $out"
echo "$out" | grep 'missing.crt' >/dev/null || fail "the CA's error does not name the missing file: $out"
echo "PASS"
