#!/usr/bin/env bash
# `stele node info|health` against a real server: output, --json and the exit codes of DESIGN §9.
set -euo pipefail
bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$bin/stele-bench" serve --listen 127.0.0.1:0 --port-file "$tmp/port" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url="127.0.0.1:$(cat "$tmp/port")"
fail() { echo "FAIL: $*"; exit 1; }

out=$("$bin/stele" node info --url "$url" --json)
echo "$out" | grep '"node_id":"stele-bench"' >/dev/null || fail "info --json: $out"
echo "$out" | grep '"role":"bench"' >/dev/null || fail "info --json role: $out"
"$bin/stele" node info --url "$url" | grep '^version  ' >/dev/null || fail "info text"

[ "$("$bin/stele" node health --url "$url" --json)" = "{\"url\":\"$url\",\"status\":\"SERVING\"}" ] \
  || fail "health --json"
set +e
"$bin/stele" node health --url "$url" --service no.such >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] || fail "unknown service should exit 1, got $rc"
"$bin/stele" node health --url 127.0.0.1:1 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 3 ] || fail "unreachable should exit 3, got $rc"
grep -q 'Connection refused\|failed to connect' "$tmp/err" || fail "unreachable should say why"
"$bin/stele" node info >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "missing --url should exit 2, got $rc"
"$bin/stele" frobnicate >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "unknown command should exit 2, got $rc"
set -e
kill -TERM $pid; wait $pid || fail "server did not stop cleanly on SIGTERM"
echo "cli_node: all checks passed"
