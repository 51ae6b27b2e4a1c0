#!/usr/bin/env bash
# Writing a chaincode outside the Stele tree, as docs/CHAINCODE.md tells an author to:
#   1. the build tree is installed into a fresh prefix (`cmake --install --prefix`, as a
#      packager or `make install PREFIX=...` would), and pkg-config finds the chaincode API and
#      the harness there through PKG_CONFIG_PATH alone;
#   2. the sample chaincode's source is built into a .so with exactly the command of "Building
#      a .so", and that .so exports the descriptor `stele_chaincode` and nothing else;
#   3. the unit test of "Testing with the harness" — the code block in the guide, compiled as
#      it stands there — passes when linked with the chaincode's source, and so does the same
#      test run against the .so loaded with dlopen (as the peer loads it): no stele_cc_* symbol
#      was left undefined;
#   4. a test that expects the wrong status fails (the harness really ran the chaincode).
set -euo pipefail
src=${STELE_SOURCE_DIR:?}
bin=${STELE_BINARY_DIR:?}
tmp=$(mktemp -d /tmp/stele-ccsdk-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. install
cmake --install "$bin" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install"; }
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
pc=$(pkg-config --cflags --libs stele-chaincode) || fail "pkg-config stele-chaincode"
case "$pc" in *"$tmp/prefix"*) ;; *) fail "pkg-config points outside the prefix: $pc" ;; esac
hpc=$(pkg-config --cflags --libs stele-chaincode-harness) || fail "pkg-config harness"
[ -f "$tmp/prefix/include/stele/chaincode.h" ] || fail "chaincode.h not installed"

# Code linked against a sanitized build's static libraries needs the sanitizer runtime too.
san=()
! grep -q '^STELE_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" ||
  san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)

# 2. the .so, with the guide's command
mkdir "$tmp/author"
cd "$tmp/author"
cp "$src/chaincode/samples/asset/asset.c" .
# shellcheck disable=SC2086 # pkg-config output is a list of words
cc -O2 -shared -fPIC -fvisibility=hidden asset.c -o asset.so "${san[@]}" $pc \
  -Wl,--exclude-libs,ALL || fail "building asset.so as the guide says"
exported=$(nm -D --defined-only asset.so | awk '$2 ~ /^[A-Z]$/ && $2 != "A" {print $3}' |
  grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$|^__(odr_asan|asan|ubsan|sanitizer)' |
  sort | tr '\n' ' ')
[ "$exported" = "stele_chaincode " ] || fail "asset.so exports: $exported (only stele_chaincode)"

# 3. the guide's harness test, taken from docs/CHAINCODE.md as it stands
awk '/^## Testing with the harness/ {on = 1} on && /^```c$/ {code = 1; next}
     code && /^```$/ {exit} code {print}' "$src/docs/CHAINCODE.md" >guide_test.c
grep -q 'stele_cc_harness_create' guide_test.c || fail "no harness example found in the guide"
grep -q '^int main(void)' guide_test.c || fail "the guide's harness example has no main: it should build as given"
cp guide_test.c test_asset.c # whole, as a reader copies it
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror test_asset.c asset.c -o test_asset "${san[@]}" $hpc -lcmocka ||
  fail "the guide's harness test does not build"
./test_asset >test.out 2>&1 || { cat test.out >&2; fail "the guide's harness test fails"; }
grep -q 'belongs to bob@Org2' test.out || fail "the refusal message printed: $(cat test.out)"

# ... and against the .so as the peer loads it: the descriptor comes from dlsym
sed -e 's/^extern const struct stele_chaincode stele_chaincode;.*$/#include <dlfcn.h>\
static const struct stele_chaincode *so_descriptor(void)\
{\
    void *h = dlopen("\.\/asset.so", RTLD_NOW | RTLD_LOCAL);\
    if (!h)\
        fprintf(stderr, "dlopen: %s\\n", dlerror());\
    return h ? dlsym(h, "stele_chaincode") : NULL;\
}/' -e 's/&stele_chaincode/so_descriptor()/' test_asset.c >test_so.c
grep -q 'so_descriptor()' test_so.c || fail "could not rewrite the test for dlopen"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror test_so.c -o test_so "${san[@]}" $hpc -lcmocka -ldl ||
  fail "the dlopen test does not build"
./test_so >so.out 2>&1 || { cat so.out >&2; fail "the harness test against asset.so fails"; }

# 4. the harness is not a rubber stamp: the same test expecting 200 for mallory fails
sed 's/"mallory@Org2", NULL), 403)/"mallory@Org2", NULL), 200)/' test_asset.c >test_wrong.c
! cmp -s test_asset.c test_wrong.c || fail "could not make the wrong test"
# shellcheck disable=SC2086
cc test_wrong.c asset.c -o test_wrong "${san[@]}" $hpc -lcmocka || fail "build test_wrong"
if ASAN_OPTIONS=detect_leaks=0 ./test_wrong >wrong.out 2>&1; then
  fail "a test expecting mallory's transfer to pass passed"
fi
grep -q 'FAILED.*test_transfer' wrong.out || fail "test_wrong failed otherwise: $(cat wrong.out)"
echo "chaincode_sdk: installed prefix, asset.so built out of the tree exporting only" \
  "stele_chaincode, the guide's harness test passes (linked and dlopen'd), a wrong one fails"
