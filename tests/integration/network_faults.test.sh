#!/usr/bin/env bash
# stele-network given bad input and a broken environment: numbers that are not numbers are
# usage errors; ids that would name a path outside the directory are refused by check; names
# with YAML syntax in them reach the daemons unchanged; an id of 64 characters is recorded in
# full; a port another process holds is refused before anything starts (also by restart); a pid
# that the system gave to another process since the daemon died is never signalled (status
# says dead, restart and down leave it alone) nor taken for a running network by up; and SIGINT during up stops every daemon up
# started.
set -euo pipefail
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
decoys=()
cleanup() {
  set +e
  for d in "$tmp"/net*; do
    [ -f "$d/network.json" ] && "$bin/stele-network" down --dir "$d" --timeout 5 >/dev/null 2>&1
  done
  for p in "${decoys[@]}"; do kill "$p" 2>/dev/null; done
  # A daemon an interrupted up started but did not record (only if that pid is still ours).
  for f in "$tmp"/net*/*.pid; do
    p=$(cat "$f" 2>/dev/null)
    [ -n "$p" ] && tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -F -- "--config $tmp/" >/dev/null \
      && kill "$p" && for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# refused EXIT REGEX CMD...: CMD exits EXIT and its output matches REGEX.
refused() {
  local want=$1 re=$2 out rc
  shift 2
  set +e
  out=$("$@" 2>&1); rc=$?
  set -e
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, not $want: $out"
  echo "$out" | grep -E -- "$re" >/dev/null || fail "$*: expected /$re/ in: $out"
}
source "$src/tests/support/ports.sh"; port_range 2
solo=$src/configs/network-solo.yaml

# Numbers: a usage error (exit 2) before anything is created, never the default silently.
refused 2 'base-port' "$bin/stele-network" up --config "$solo" --dir "$tmp/net-usage" --base-port abc
refused 2 'base-port' "$bin/stele-network" up --config "$solo" --dir "$tmp/net-usage" --base-port "${base}x"
refused 2 'wait' "$bin/stele-network" up --config "$solo" --dir "$tmp/net-usage" --base-port "$base" --wait 5s
[ ! -e "$tmp/net-usage" ] || fail "a refused up created $tmp/net-usage"
refused 2 'timeout' "$bin/stele-network" down --dir "$tmp/net-usage" --timeout 5s
# A --config or --dir that cannot be used is the operator's to mend (1), not a failure to retry
# (3).
refused 1 "$tmp: cannot read: Is a directory" "$bin/stele-network" check --config "$tmp"
refused 1 "$tmp: cannot read: Is a directory" \
  "$bin/stele-network" up --config "$tmp" --dir "$tmp/net-never" --base-port "$base"
[ ! -e "$tmp/net-never" ] || fail "up with --config a directory made $tmp/net-never"
touch "$tmp/a-file"
refused 1 "cannot create $tmp/a-file: File exists" \
  "$bin/stele-network" up --config "$solo" --dir "$tmp/a-file" --base-port "$base"
refused 1 "cannot create $tmp/no/dir: No such file or directory" \
  "$bin/stele-network" up --config "$solo" --dir "$tmp/no/dir" --base-port "$base"
rm "$tmp/a-file"
# An unknown option is named with the whole subcommand, and one hint follows.
for cmd in up status down restart check; do
  set +e
  out=$("$bin/stele-network" "$cmd" --bogus 2>&1); rc=$?
  set -e
  [ $rc -eq 2 ] && [ "$out" = "stele-network $cmd: unrecognized option '--bogus'
Try 'stele-network $cmd --help'." ] || fail "$cmd --bogus: exit $rc: $out"
done

# A network.json a process's files are missing from (not as up writes it): a clear refusal
# from status, down and restart, not a crash.
mkdir "$tmp/net-partial"
printf '{"network":"n","ca_url":"127.0.0.1:1","ids_dir":"ids","processes":[{"name":"ca","kind":"ca","url":"127.0.0.1:1","pid":1,"log":"ca.log","pid_file":"ca.pid"}]}\n' \
  >"$tmp/net-partial/network.json"
for cmd in status down "restart ca"; do
  # shellcheck disable=SC2086
  refused 1 'network.json: process 0 \(ca\) has no exit_file' "$bin/stele-network" $cmd --dir "$tmp/net-partial"
done
rm -r "$tmp/net-partial"

# Every id names a directory under DIR: a path is refused with its line.
grep -q '^  - {id: auditor1, org: org1, role: auditor}$' "$solo" || fail "no auditor1 in $solo: update this test"
sed 's#^  - {id: auditor1, .*#  - {id: ../../evil, org: org1, role: auditor}#' "$solo" >"$tmp/evil.yaml"
line=$(grep -n 'evil' "$tmp/evil.yaml" | cut -d: -f1)
refused 1 "evil.yaml:$line:5: identities\[[0-9]+\]\.id \"\.\./\.\./evil\": use letters" \
  "$bin/stele-network" check --config "$tmp/evil.yaml"
sed 's#admin: admin.org1$#admin: org1/admin#' "$solo" >"$tmp/evil-admin.yaml"
refused 1 'organisations\[1\]\.admin "org1/admin": use letters' \
  "$bin/stele-network" check --config "$tmp/evil-admin.yaml"

# A CA name and a channel id with ':' and '#' in them: the daemons get them as written. An
# orderer id as long as check allows (64): network.json names it and its files in full.
o=orderer0-$(printf '%055d' 0)
[ ${#o} -eq 64 ] || fail "the long id has ${#o} characters"
sed -e 's/^  name: stele-ca$/  name: "Acme: CA #1"/' -e 's/^  id: stele$/  id: "votes: #1"/' \
  -e "s/orderer0/$o/g" "$solo" >"$tmp/a.yaml"
grep -q 'Acme' "$tmp/a.yaml" && grep -q 'votes' "$tmp/a.yaml" || fail "could not rename the CA and channel"
a=$tmp/net-a
"$bin/stele-network" up --config "$tmp/a.yaml" --dir "$a" --base-port "$base" >"$tmp/up-a.txt" 2>&1 \
  || fail "up with a CA named 'Acme: CA #1': $(cat "$tmp/up-a.txt"; tail -n 3 "$a"/*.log)"
"$bin/stele-ca" info --url "127.0.0.1:$((base + 4))" | grep '^name: *Acme: CA #1$' >/dev/null || fail "CA name"
"$bin/stele" chain info --network "$a" | grep '^channel *votes: #1$' >/dev/null || fail "channel id"
grep -q "\"name\":\"$o\",.*\"log\":\"$o.log\",\"pid_file\":\"$o.pid\",\"exit_file\":\"$o.exit\"" "$a/network.json" \
  || fail "network.json does not name $o and its files: $(cat "$a/network.json")"
"$bin/stele-network" status --dir "$a" >"$tmp/status.txt" 2>&1 || fail "status: $(cat "$tmp/status.txt")"

# Another network whose orderer0 would listen on the port a's CA holds: refused before
# anything starts, naming the key and the port; nothing of it runs and its directory is not
# left behind.
b=$tmp/net-b
refused 1 "orderers\[0\]\.listen 127\.0\.0\.1:$((base + 4)): another process listens" \
  "$bin/stele-network" up --config "$solo" --dir "$b" --base-port $((base + 4))
[ ! -e "$b" ] || fail "a refused up left $b: $(ls "$b")"

# A daemon dies and the system gives its pid to another process (a decoy here): status says
# it is dead, restart and down leave the decoy alone.
opid=$(cat "$a/$o.pid")
kill -9 "$opid"
for _ in $(seq 200); do [ -f "$a/$o.exit" ] && break; sleep 0.05; done
[ -f "$a/$o.exit" ] || fail "$o's keeper recorded no exit"
sleep 300 & decoy=$!; decoys+=("$decoy")
sed -i "s/\"pid\":$opid,/\"pid\":$decoy,/" "$a/network.json"
grep -q "\"pid\":$decoy," "$a/network.json" || fail "could not put the decoy's pid in network.json"
set +e
"$bin/stele-network" status --dir "$a" >"$tmp/status.txt" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "status with a dead orderer should exit 1, got $rc: $(cat "$tmp/status.txt")"
grep -Eq "^  $o .* pid $decoy +dead +- killed by signal 9$" "$tmp/status.txt" \
  || fail "status should say the orderer is dead: $(cat "$tmp/status.txt")"
"$bin/stele-network" restart --dir "$a" "$o" >"$tmp/restart.txt" 2>&1 \
  || fail "restart: $(cat "$tmp/restart.txt")"
kill -0 "$decoy" 2>/dev/null || fail "restart killed pid $decoy, which is not the orderer"
grep -Eq "^  $o +pid $decoy +was not running \(killed by signal 9\)$" "$tmp/restart.txt" \
  || fail "restart: $(cat "$tmp/restart.txt")"
"$bin/stele-network" status --dir "$a" >/dev/null || fail "status after restart"

# The same when the keeper died too (no exit file): down stops the CA, not the decoy.
npid=$(cat "$a/$o.pid")
keeper=$(awk '{print $4}' "/proc/$npid/stat")
kill -9 "$keeper" "$npid"
for _ in $(seq 200); do kill -0 "$npid" 2>/dev/null || break; sleep 0.05; done
sed -i "s/\"pid\":$npid,/\"pid\":$decoy,/" "$a/network.json"
capid=$(cat "$a/ca.pid")
"$bin/stele-network" down --dir "$a" --timeout 5 >"$tmp/down.txt" 2>&1 || fail "down: $(cat "$tmp/down.txt")"
kill -0 "$decoy" 2>/dev/null || fail "down killed pid $decoy, which is not the orderer"
! kill -0 "$capid" 2>/dev/null || fail "down left the CA (pid $capid) running"
grep -Eq "^  ca +pid $capid +exited 0$" "$tmp/down.txt" || fail "down: $(cat "$tmp/down.txt")"
# up on that directory is refused as holding a stopped network: the decoy's pid is not the
# network's (it was said to be running, and 'down' to stop it, which had nothing to stop).
refused 1 "$a already holds a stopped network" \
  "$bin/stele-network" up --config "$solo" --dir "$a" --base-port "$base"

# restart refuses to start a daemon on a port another process took meanwhile (a CA of its
# own on the orderer's port): its health check would have reached that process.
"$bin/stele-ca" init --dir "$tmp/ca2" --name other --org o >/dev/null || fail "stele-ca init"
printf 'listen: 127.0.0.1:%s\ndir: ca2\n' "$base" >"$tmp/ca2.yaml"
"$bin/stele-ca" serve --config "$tmp/ca2.yaml" >"$tmp/ca2.log" 2>&1 & ca2=$!; decoys+=("$ca2")
for _ in $(seq 200); do "$bin/stele" node health --url "127.0.0.1:$base" >/dev/null 2>&1 && break; sleep 0.05; done
refused 1 "another process listens on 127\.0\.0\.1:$base: $o not started" \
  "$bin/stele-network" restart --dir "$a" "$o"
kill "$ca2"; wait "$ca2" 2>/dev/null || true
kill "$decoy"

# SIGINT while up starts the orderers of the shipped network: up stops every daemon it
# started before it exits (their keepers record how they ended).
c=$tmp/net-c
env --default-signal=INT "$bin/stele-network" up --config "$src/configs/network.yaml" --dir "$c" \
  --base-port $((base + 50)) >"$tmp/up-c.txt" 2>&1 & up=$!
for _ in $(seq 600); do [ -f "$c/orderer1.pid" ] && break; sleep 0.02; done
[ -f "$c/orderer1.pid" ] || fail "up never started orderer1: $(cat "$tmp/up-c.txt")"
kill -INT "$up"
set +e
wait "$up"; rc=$?
set -e
[ $rc -ne 0 ] || fail "an interrupted up exited 0: $(cat "$tmp/up-c.txt")"
for f in "$c"/*.pid; do
  p=$(cat "$f")
  ! kill -0 "$p" 2>/dev/null || fail "$(basename "$f" .pid) (pid $p) still runs after up was interrupted: $(cat "$tmp/up-c.txt")"
done
grep -q 'interrupted by signal 2' "$tmp/up-c.txt" || fail "up did not say it was interrupted: $(cat "$tmp/up-c.txt")"
echo "network_faults: usage, ids, quoting, busy ports, reused pids and SIGINT during up all fine"
