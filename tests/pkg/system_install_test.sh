#!/usr/bin/env bash
# tests/pkg/system_install_test.sh BUILD_DIR -- the issue's "done" check, a
# system-wide install, without touching the machine: as root, inside a
# private mount namespace (unshare -m) where /usr/local is an empty tmpfs and
# /etc a scratch copy (so the ldconfig run by `cmake --install` writes a
# private loader cache).  Then, exactly as a user would:
#   cmake --install BUILD_DIR                     (prefix /usr/local)
#   cc tiny.c $(pkg-config --cflags --libs basistrees) && ./tiny
#   basis-trees version
#   cargo test --offline (bindings/rust) and the Python tests, found through
#   pkg-config with no environment variables.
# Manual (needs root and unshare); not part of CI, where install_test.sh and
# bindings_test.sh cover the same ground under a scratch prefix.
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then
    build=$(cd "${1:?usage: system_install_test.sh BUILD_DIR}" && pwd)
    [ "$(id -u)" = 0 ] || { echo "system_install_test: needs root" >&2; exit 2; }
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    mkdir "$scratch/etc"
    cp -a /etc/. "$scratch/etc/" 2>/dev/null || true
    rc=0
    unshare -m bash "$0" --inside "$build" "$scratch" || rc=$?
    exit $rc
fi
build=$2
scratch=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
mount -t tmpfs none /usr/local
mount --bind "$scratch/etc" /etc
unset BASISTREES_BUILD_DIR BASISTREES_LIB BASISTREES_LIB_DIR BASISTREES_INCLUDE_DIR PKG_CONFIG_PATH \
      LD_LIBRARY_PATH

cmake --install "$build" >"$scratch/install.log"
ldconfig -p >"$scratch/ldconfig.txt"
grep -q 'libbasistrees.so.0 .*/usr/local/' "$scratch/ldconfig.txt" \
    || { echo "system_install_test: FAIL: ldconfig did not learn libbasistrees.so.0" >&2; exit 1; }
cat >"$scratch/tiny.c" <<'C'
#include <stdio.h>
#include <basistrees.h>
int main(void)
{
    bt_params p = BT_PARAMS_INIT;
    uint8_t d[BT_DIGEST_LEN];
    if (bt_empty_digest(d, &p) != 0)
        return 1;
    printf("tiny: libbasistrees %s, empty digest %02x%02x..%02x\n", bt_version(), d[0], d[1],
           d[BT_DIGEST_LEN - 1]);
    return 0;
}
C
# shellcheck disable=SC2046
cc "$scratch/tiny.c" $(pkg-config --cflags --libs basistrees) -o "$scratch/tiny"
"$scratch/tiny"
basis-trees version >/dev/null
echo "system_install_test: C ok ($(pkg-config --cflags --libs basistrees))"
CARGO_TARGET_DIR="$scratch/cargo-target" cargo test --offline --quiet \
    --manifest-path "$src/bindings/rust/Cargo.toml" >"$scratch/cargo.log" 2>&1 \
    || { cat "$scratch/cargo.log" >&2; echo "system_install_test: FAIL: cargo test" >&2; exit 1; }
echo "system_install_test: rust ok"
PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s "$src/bindings/python/tests" \
    >"$scratch/python.log" 2>&1 \
    || { cat "$scratch/python.log" >&2; echo "system_install_test: FAIL: python" >&2; exit 1; }
echo "system_install_test: python ok"
echo "system_install_test: ok"
