# Sourced by shell tests that need real identities: ca_start NAME ID:ORG:ROLE... creates a CA
# in $tmp/ca, serves it on a port of its own (ports.sh) ($ca, pid $ca_pid), waits for its health check,
# enrols its admin into $tmp/ids/admin and registers and enrols each identity into
# $tmp/ids/ID. Needs $src, $bin and $tmp; the caller's cleanup stops $ca_pid.
ca_start() {
  local name=$1; shift
  source "$src/tests/support/ports.sh"
  port_range
  ca=127.0.0.1:$base
  "$bin/stele-ca" init --dir "$tmp/ca" --name "$name" --json >"$tmp/ca-init.json"
  local secret
  secret=$(sed -n 's/.*"admin_secret":"\([^"]*\)".*/\1/p' "$tmp/ca-init.json")
  "$bin/stele-ca" serve --dir "$tmp/ca" --listen "$ca" >"$tmp/ca.log" 2>&1 &
  ca_pid=$!
  "$bin/stele" node health --url "$ca" --wait 10 >/dev/null || { echo "FAIL: the CA did not start"; cat "$tmp/ca.log"; return 1; }
  "$bin/stele-ca" enroll --url "$ca" --id admin --secret "$secret" --out "$tmp/ids/admin" >/dev/null
  local spec id org role s
  for spec in "$@"; do
    IFS=: read -r id org role <<<"$spec"
    s=$("$bin/stele-ca" register --url "$ca" --as "$tmp/ids/admin" --id "$id" --org "$org" \
          --role "$role" --json | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
    "$bin/stele-ca" enroll --url "$ca" --id "$id" --secret "$s" --out "$tmp/ids/$id" >/dev/null
  done
}
