#!/usr/bin/env bash
# fuzz_proto decodes arbitrary bytes as every message of proto/stele/*.proto: a message added to
# a .proto file must be added to its list too. protobuf-c names a message's descriptor
# stele__<name>__descriptor, <name> in lower case with '_' before each capital that follows a
# lower-case letter or a digit (TxRwSet: tx_rw_set, KVWrite: kvwrite).
set -euo pipefail
cd "${STELE_SOURCE_DIR:?}"
missing=0
n=0
for name in $(sed -nE 's/^message ([A-Za-z0-9_]+).*/\1/p' proto/stele/*.proto); do
  c=$(printf '%s' "$name" | sed -E 's/([a-z0-9])([A-Z])/\1_\2/g' | tr 'A-Z' 'a-z')
  n=$((n + 1))
  if ! grep -F "&stele__${c}__descriptor," tests/fuzz/fuzz_proto.c >/dev/null; then
    echo "FAIL: message $name (stele__${c}__descriptor) is not in tests/fuzz/fuzz_proto.c"
    missing=1
  fi
done
[ "$n" -gt 0 ] || { echo "FAIL: no message found in proto/stele/*.proto"; exit 1; }
[ "$missing" -eq 0 ] || exit 1
echo "fuzz_proto_types: all $n messages of proto/stele are fuzzed"
