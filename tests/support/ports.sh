# Sourced by shell tests that start daemons on fixed ports. `port_range [SLOTS]` sets $base to
# the first port of SLOTS (default 1) free ranges of 50 ports in 20000..32499: below the
# kernel's ephemeral ports (32768 and up, which every outgoing connection draws from) and
# above the C fixtures' (10000..19999). Tests running at once never get the same range: each
# range is claimed with flock on /tmp/stele-test-ports/<n>.lock, held until the test exits.
port_range() {
  local slots=${1:-1} k i fd ok
  local dir=${TMPDIR:-/tmp}/stele-test-ports
  mkdir -p "$dir"
  for _ in $(seq 1 500); do
    k=$(( RANDOM % (250 - slots + 1) ))
    ok=1
    port_fds=()
    for (( i = k; i < k + slots; i++ )); do
      exec {fd}>"$dir/$i.lock"
      port_fds+=("$fd")
      if ! flock -n "$fd"; then ok=0; break; fi
    done
    if [ $ok = 1 ]; then
      base=$(( 20000 + k * 50 ))
      return 0
    fi
    for fd in "${port_fds[@]}"; do exec {fd}>&-; done
  done
  echo "FAIL: no free port range in 20000..32499" >&2
  return 1
}
