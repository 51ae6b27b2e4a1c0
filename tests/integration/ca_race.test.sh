#!/usr/bin/env bash
# An admin's signed register or revoke that has passed its checks when another admin revokes
# it, and only then reaches the CA's lock, is refused and changes nothing: the CA checks the
# signer again under the lock. Test builds hold the request in between (STELE_TEST_CA_HOLD,
# ca/service.c), so the revocation lands inside that window every time. Without the hold the
# test cannot make the race happen and skips.
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
if [ "${STELE_TEST_HOOKS:-}" != 1 ]; then
  echo "skipped: holding a request needs a test build (STELE_TEST_HOOKS)"
  exit 0
fi
tmp=$(mktemp -d)
ca_pid=; job=
cleanup() {
  for p in $job $ca_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/ca.log" ] && tail -20 "$tmp/ca.log"; exit 1; }

# Two more admins, each revoked while a request it signed is held, and a client.
source "$src/tests/support/ca_setup.sh"
ca_start race-ca admin2:org1:admin admin3:org1:admin victim:org1:client

# Serves the CA again with requests of method $1 signed by $2 held $3 ms after their checks.
serve_holding() {
  kill "$ca_pid"; wait "$ca_pid" 2>/dev/null || true
  STELE_TEST_CA_HOLD="$1@$2=$3" "$bin/stele-ca" serve --dir "$tmp/ca" --listen "$ca" \
    >>"$tmp/ca.log" 2>&1 &
  ca_pid=$!
  "$bin/stele" node health --url "$ca" --wait 10 >/dev/null || fail "the CA did not restart"
}

# Runs "$@" in the background, its output into $tmp/job.out.
start_job() {
  rm -f "$tmp/job.rc"
  ( set +e; "$@" >"$tmp/job.out" 2>&1; echo $? >"$tmp/job.rc" ) &
  job=$!
}
# Waits until the CA has said $2 times that a request of $1 is held (its checks passed).
wait_held() {
  local i n
  for i in $(seq 100); do
    n=$(grep -c "test hold: $1" "$tmp/ca.log" || true)
    if [ "$n" -ge "$2" ]; then return 0; fi
    sleep 0.05
  done
  fail "the request was never held"
}
# The revocation must have committed while the request was held, or the test proves nothing.
still_held() {
  [ ! -f "$tmp/job.rc" ] || fail "the held request ended before the revocation committed (hold too short here)"
}
# Waits for it; its exit status into $rc.
wait_job() {
  wait "$job" || true; job=
  rc=$(cat "$tmp/job.rc")
}
# admin revokes $1 while the job (a request $1 signed) is held; the job must then be refused,
# saying why.
revoke_signer_meanwhile() {
  "$bin/stele-ca" revoke --url "$ca" --as "$tmp/ids/admin" --id "$1" --reason compromised \
    >/dev/null || fail "revoking $1"
  still_held
  wait_job
  [ "$rc" = 1 ] || fail "$1's held request ended with exit $rc: $(cat "$tmp/job.out")"
  grep -q 'revoked' "$tmp/job.out" || fail "the refusal does not say why: $(cat "$tmp/job.out")"
}

# 1. The hold is real: a register that nobody races waits for it and succeeds.
serve_holding /stele.CA/RegisterIdentity admin2 3000
t0=$(date +%s%N)
"$bin/stele-ca" register --url "$ca" --as "$tmp/ids/admin2" --id early --org org1 \
  --role client >/dev/null || fail "a register without a race was refused"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 2900 ] || fail "the register was not held (answered in $ms ms)"
echo "ok 1 - a held register succeeds when nothing races it ($ms ms)"

# 2. admin2 registers mallory; while the request is held, admin revokes admin2.
start_job "$bin/stele-ca" register --url "$ca" --as "$tmp/ids/admin2" --id mallory --org org1 \
  --role client
wait_held "/stele.CA/RegisterIdentity by \"admin2\"" 2 # the first was in 1.
revoke_signer_meanwhile admin2
# Nothing was written: mallory is not registered, so admin may register that id now.
"$bin/stele-ca" register --url "$ca" --as "$tmp/ids/admin" --id mallory --org org1 \
  --role client >/dev/null || fail "mallory was registered by the refused request"
echo "ok 2 - a register held while its signer was revoked is refused and writes nothing"

# 3. admin3 revokes victim; while the request is held, admin revokes admin3.
serve_holding /stele.CA/Revoke admin3 3000
start_job "$bin/stele-ca" revoke --url "$ca" --as "$tmp/ids/admin3" --id victim --reason x
wait_held "/stele.CA/Revoke by \"admin3\"" 1
revoke_signer_meanwhile admin3
# victim's certificate still stands: it may sign its own reenrolment (a revoked one may not).
"$bin/stele-ca" reenroll --url "$ca" --as "$tmp/ids/victim" >/dev/null ||
  fail "victim was revoked by the refused request"
echo "ok 3 - a revoke held while its signer was revoked is refused and revokes nothing"
