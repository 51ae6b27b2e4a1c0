# Sourced by the Node interop tests: installs the npm packages of tests/interop/node/ into
# $STELE_BINARY_DIR/interop-node once, under a lock, since ctest runs the tests in parallel and
# two npm installs in one directory corrupt each other. Sets $work.
src=${STELE_SOURCE_DIR:?}; bin=${STELE_BINARY_DIR:?}
work="$bin/interop-node"
mkdir -p "$work"
(
  flock 9
  cp "$src/tests/interop/node/package.json" "$src/tests/interop/node/"*.js "$work/"
  if ! cmp -s "$work/package.json" "$work/.installed" 2>/dev/null; then
    (cd "$work" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$work/package.json" "$work/.installed"
  fi
) 9>"$work/.lock"
