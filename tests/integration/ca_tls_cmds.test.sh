#!/usr/bin/env bash
# `stele-ca tls-ca` and `stele-ca tls-issue`, checked with openssl(1): the node certificate
# verifies against the CA for TLS server and client use, carries its hosts as IP and DNS
# subjectAltNames and both extended key usages; the files have modes 0644 and 0600; bad
# arguments exit non-zero with a message naming the problem and write nothing.
set -euo pipefail
bin=${STELE_BINARY_DIR:?}/stele-ca
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mode() { stat -c %a "$1"; }
# refused WHAT CODE PATTERN ARGS...: stele-ca ARGS must exit CODE saying PATTERN and leave no
# file in $tmp/out.
refused() {
  local what=$1 want=$2 pat=$3 rc=0 out; shift 3
  out=$("$bin" "$@" 2>&1 </dev/null) || rc=$?
  [ "$rc" -eq "$want" ] || fail "$what: should exit $want, got $rc: $out"
  echo "$out" | grep -E -- "$pat" >/dev/null || fail "$what: does not say '$pat': $out"
  [ -z "$(ls -A "$tmp/out")" ] || fail "$what: wrote $(ls -A "$tmp/out")"
}
mkdir "$tmp/out"

out=$("$bin" tls-ca --cert "$tmp/ca.crt" --key "$tmp/ca.key" --days 30)
[[ $out == *"$tmp/ca.crt"*"$tmp/ca.key"* ]] || fail "tls-ca output: $out"
[ "$(mode "$tmp/ca.crt")" = 644 ] && [ "$(mode "$tmp/ca.key")" = 600 ] || fail "CA file modes"
openssl x509 -in "$tmp/ca.crt" -noout -subject | grep 'CN *= *stele-tls-ca' >/dev/null || fail "CA name"
openssl x509 -in "$tmp/ca.crt" -noout -text | grep 'CA:TRUE, pathlen:0' >/dev/null || fail "CA:TRUE"

out=$("$bin" tls-issue --ca-cert "$tmp/ca.crt" --ca-key "$tmp/ca.key" --name peer0.org1 \
        --host 127.0.0.1 --host localhost --host ::1 --cert "$tmp/peer.crt" --key "$tmp/peer.key")
[[ $out == *peer0.org1*"$tmp/peer.crt"*"$tmp/peer.key"* ]] || fail "tls-issue output: $out"
[ "$(mode "$tmp/peer.crt")" = 644 ] && [ "$(mode "$tmp/peer.key")" = 600 ] || fail "node file modes"
openssl verify -CAfile "$tmp/ca.crt" -purpose sslserver "$tmp/peer.crt" >/dev/null \
  || fail "openssl verify (sslserver)"
openssl verify -CAfile "$tmp/ca.crt" -purpose sslclient "$tmp/peer.crt" >/dev/null \
  || fail "openssl verify (sslclient)"
openssl verify -x509_strict -CAfile "$tmp/ca.crt" "$tmp/peer.crt" >/dev/null \
  || fail "openssl verify -x509_strict"
text=$(openssl x509 -in "$tmp/peer.crt" -noout -text)
echo "$text" | grep 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1' >/dev/null \
  || fail "subjectAltName: $text"
echo "$text" | grep 'TLS Web Server Authentication, TLS Web Client Authentication' >/dev/null \
  || fail "extendedKeyUsage: $text"
echo "$text" | grep 'CA:FALSE' >/dev/null || fail "CA:FALSE"
# The node certificate ends with the CA (30 days), not 397 days from now.
[ "$(openssl x509 -in "$tmp/peer.crt" -noout -enddate)" = "$(openssl x509 -in "$tmp/ca.crt" -noout -enddate)" ] \
  || fail "the node certificate outlives its CA"
# The key is unencrypted PKCS#8 and belongs to the certificate.
head -n 1 "$tmp/peer.key" | grep -x -- '-----BEGIN PRIVATE KEY-----' >/dev/null || fail "key is not PKCS#8"
[ "$(openssl pkey -in "$tmp/peer.key" -pubout)" = "$(openssl x509 -in "$tmp/peer.crt" -noout -pubkey)" ] \
  || fail "key does not match the certificate"
# An existing TLS CA is not replaced (exit 1, files untouched) unless --force is given.
cp "$tmp/ca.crt" "$tmp/ca.crt.was"
refused "tls-ca over an existing CA" 1 "ca.crt exists: not replacing a TLS CA.*--force" \
  tls-ca --cert "$tmp/ca.crt" --key "$tmp/new.key"
refused "tls-ca over an existing key" 1 "ca.key exists: not replacing" \
  tls-ca --cert "$tmp/new.crt" --key "$tmp/ca.key"
[ ! -e "$tmp/new.key" ] && [ ! -e "$tmp/new.crt" ] || fail "a refused tls-ca wrote a file"
cmp -s "$tmp/ca.crt" "$tmp/ca.crt.was" || fail "a refused tls-ca replaced the CA"
"$bin" tls-ca --cert "$tmp/f.crt" --key "$tmp/f.key" >/dev/null
"$bin" tls-ca --cert "$tmp/f.crt" --key "$tmp/f.key" --force >/dev/null || fail "tls-ca --force"
# Another CA's roots do not verify it.
"$bin" tls-ca --cert "$tmp/other.crt" --key "$tmp/other.key" --name other >/dev/null
! openssl verify -CAfile "$tmp/other.crt" "$tmp/peer.crt" >/dev/null 2>&1 \
  || fail "verifies against another CA"

# A client certificate: clientAuth only, no host; it cannot serve.
out=$("$bin" tls-issue "--ca-cert" "$tmp/ca.crt" --ca-key "$tmp/ca.key" --name clients --client \
        --cert "$tmp/cli.crt" --key "$tmp/cli.key") || fail "tls-issue --client: $out"
[[ $out == *"client certificate"*clients* ]] || fail "tls-issue --client output: $out"
openssl verify -CAfile "$tmp/ca.crt" -purpose sslclient "$tmp/cli.crt" >/dev/null \
  || fail "client certificate: openssl verify (sslclient)"
! openssl verify -CAfile "$tmp/ca.crt" -purpose sslserver "$tmp/cli.crt" >/dev/null 2>&1 \
  || fail "a client certificate verifies as a server's"
text=$(openssl x509 -in "$tmp/cli.crt" -noout -text)
! echo "$text" | grep 'Subject Alternative Name' >/dev/null || fail "client certificate names hosts: $text"

# Refusals: usage errors exit 2, refused input 1, and none writes anything.
o=(--cert "$tmp/out/n.crt" --key "$tmp/out/n.key")
ca=(--ca-cert "$tmp/ca.crt" --ca-key "$tmp/ca.key")
refused "tls-ca without --key" 2 'required' tls-ca --cert "$tmp/out/n.crt"
refused "tls-ca --days 0" 2 'days' tls-ca "${o[@]}" --days 0
refused "tls-ca --days 3651" 2 'days' tls-ca "${o[@]}" --days 3651
refused "tls-ca --days x" 2 'days' tls-ca "${o[@]}" --days 12x
refused "tls-ca unknown option" 2 "unknown.*--frob" tls-ca "${o[@]}" --frob
refused "tls-ca empty name" 1 'name' tls-ca "${o[@]}" --name ''
refused "tls-ca long name" 1 'name' tls-ca "${o[@]}" --name "$(printf 'a%.0s' {1..65})"
refused "tls-ca same file twice" 1 'different' tls-ca --cert "$tmp/out/n" --key "$tmp/out/n"
refused "tls-issue without --host" 2 'required' tls-issue "${ca[@]}" --name n "${o[@]}"
refused "tls-issue --client with --host" 2 'not both' \
  tls-issue "${ca[@]}" --name n --client --host h "${o[@]}"
refused "tls-issue without --name" 2 'required' tls-issue "${ca[@]}" --host h "${o[@]}"
refused "tls-issue extra argument" 2 "unexpected argument 'extra'" \
  tls-issue "${ca[@]}" --name n --host h "${o[@]}" extra
refused "tls-issue comma in host" 1 'host "a,b"' tls-issue "${ca[@]}" --name n --host a,b "${o[@]}"
refused "tls-issue space in host" 1 'host "bad host"' \
  tls-issue "${ca[@]}" --name n --host "bad host" "${o[@]}"
hosts=(); for i in $(seq 17); do hosts+=(--host "h$i"); done
refused "tls-issue 17 hosts" 1 '1 to 16 hosts' tls-issue "${ca[@]}" --name n "${hosts[@]}" "${o[@]}"
refused "tls-issue missing CA" 1 "$tmp/nope.crt: no such file" \
  tls-issue --ca-cert "$tmp/nope.crt" --ca-key "$tmp/ca.key" --name n --host h "${o[@]}"
refused "tls-issue mismatched CA key" 1 "other.key is not the key" \
  tls-issue --ca-cert "$tmp/ca.crt" --ca-key "$tmp/other.key" --name n --host h "${o[@]}"
refused "tls-issue node cert as CA" 1 'not a CA' \
  tls-issue --ca-cert "$tmp/peer.crt" --ca-key "$tmp/peer.key" --name n --host h "${o[@]}"
refused "tls-issue over the CA" 1 'would replace the CA file' \
  tls-issue "${ca[@]}" --name n --host h --cert "$tmp/ca.crt" --key "$tmp/out/n.key"
refused "tls-issue unwritable" 3 'cannot write' \
  tls-issue "${ca[@]}" --name n --host h --cert "$tmp/out/no/n.crt" --key "$tmp/out/n.key"
# The CA's own files are untouched by all of that.
openssl verify -CAfile "$tmp/ca.crt" "$tmp/peer.crt" >/dev/null || fail "the CA changed"
"$bin" tls-ca --help | grep '^Usage: stele-ca tls-ca' >/dev/null || fail "tls-ca --help"
"$bin" tls-issue --help | grep '^Usage: stele-ca tls-issue' >/dev/null || fail "tls-issue --help"
echo "ok"
