#!/usr/bin/env bash
# tests/pkg/bindings_test.sh PREFIX [TARGET_DIR] -- the Rust crate and the
# Python module, tested against the library installed in PREFIX (by
# install_test.sh) and found the way a user finds it: through pkg-config.
#
#   cargo test --offline   bindings/rust  (build artefacts in TARGET_DIR,
#                                          default PREFIX/../cargo-target)
#   python3 -m unittest    bindings/python/tests
#
# BT_VECTORS_DIR is passed through (default: ../shared/vectors next to the
# checkout).  Exit status 1 if either fails; both always run.
set -euo pipefail
prefix=$(cd "${1:?usage: bindings_test.sh PREFIX [TARGET_DIR]}" && pwd)
target=${2:-$prefix/../cargo-target}
src=$(cd "$(dirname "$0")/../.." && pwd)

pc=$(find "$prefix" -name basistrees.pc -print -quit)
[ -n "$pc" ] || { echo "bindings_test: no basistrees.pc under $prefix (run install_test.sh)" >&2; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# Only the installed library: not a build tree picked up by accident.
unset BASISTREES_BUILD_DIR BASISTREES_LIB BASISTREES_LIB_DIR BASISTREES_INCLUDE_DIR
echo "bindings_test: library $(pkg-config --variable=libdir basistrees), $(pkg-config --modversion basistrees)"

fail=0
start=$SECONDS
if command -v cargo >/dev/null 2>&1; then
    if CARGO_TARGET_DIR=$target cargo test --offline --quiet \
            --manifest-path "$src/bindings/rust/Cargo.toml"; then
        echo "bindings_test: rust ok ($((SECONDS - start)) s)"
    else
        echo "bindings_test: FAIL: cargo test" >&2
        fail=1
    fi
else
    echo "bindings_test: FAIL: cargo not found" >&2
    fail=1
fi

start=$SECONDS
# No bytecode next to the sources.
if PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s "$src/bindings/python/tests" -t \
        "$src/bindings/python/tests"; then
    echo "bindings_test: python ok ($((SECONDS - start)) s)"
else
    echo "bindings_test: FAIL: python tests" >&2
    fail=1
fi
exit $fail
