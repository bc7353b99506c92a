#!/usr/bin/env bash
# tests/pkg/symbols_test.sh LIBRARY.so HEADER -- the shared library exports
# exactly the public API.
#
#  1. Every dynamic symbol the library defines starts with bt_ (the object
#     files are built with -fvisibility=hidden; only BT_API is visible).
#     The linker's own markers (_init, _fini, _edata, _end, __bss_start) are
#     allowed.
#  2. Every function the header declares with BT_API is exported (a missing
#     BT_API would make it hidden and unlinkable).
#  3. Every exported bt_ symbol is declared in the header (no stray internals
#     named bt_*).
#  4. The soname is versioned (libbasistrees.so.N).
set -euo pipefail
lib=${1:?usage: symbols_test.sh LIBRARY.so HEADER}
header=${2:?usage: symbols_test.sh LIBRARY.so HEADER}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0

nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$dir/exported"
[ -s "$dir/exported" ] || { echo "symbols_test: FAIL: nm -D shows no symbols in $lib" >&2; exit 1; }
grep -v -E '^(bt_[A-Za-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' "$dir/exported" \
    >"$dir/stray" || true
if [ -s "$dir/stray" ]; then
    echo "symbols_test: FAIL: exported symbols outside the bt_ API:" >&2
    sed 's/^/  /' "$dir/stray" >&2
    fail=1
fi

# Declared functions: "BT_API <type> <name>(" possibly with the name on the
# same line after pointer stars.
# Preprocessor lines and one-line comments are dropped first.
grep -v '^[[:space:]]*#' "$header" | sed 's#/\*.*\*/##g' | tr '\n' ' ' | grep -o 'BT_API[^;(]*(' | sed -E 's/.*[ *]([A-Za-z0-9_]+)\($/\1/' \
    | sort -u >"$dir/declared"
[ -s "$dir/declared" ] || { echo "symbols_test: FAIL: no BT_API declarations in $header" >&2; exit 1; }
comm -23 "$dir/declared" "$dir/exported" >"$dir/missing"
if [ -s "$dir/missing" ]; then
    echo "symbols_test: FAIL: declared in the header but not exported (missing BT_API or definition?):" >&2
    sed 's/^/  /' "$dir/missing" >&2
    fail=1
fi
grep '^bt_' "$dir/exported" | comm -13 "$dir/declared" - >"$dir/undeclared"
if [ -s "$dir/undeclared" ]; then
    echo "symbols_test: FAIL: exported but not declared with BT_API in the header:" >&2
    sed 's/^/  /' "$dir/undeclared" >&2
    fail=1
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case "$soname" in
    libbasistrees.so.[0-9]*) ;;
    *) echo "symbols_test: FAIL: soname '$soname' is not libbasistrees.so.N" >&2; fail=1 ;;
esac

[ $fail = 0 ] && echo "symbols_test: ok ($(grep -c . "$dir/exported") symbols, soname $soname)"
exit $fail
