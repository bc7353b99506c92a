#!/usr/bin/env bash
# tests/pkg/header_test.sh HEADER [CC [CXX]] -- the public header stands alone.
#
# Compiles a file that includes only basistrees.h (twice: the include guard)
# as strict C11 and C99 (plus -Wstrict-prototypes) and as C++ (C++11 and C++17), warnings as errors,
# and checks that the C++ build sees the functions with C linkage.
set -euo pipefail
header=${1:?usage: header_test.sh HEADER [CC [CXX]]}
cc=${2:-cc}
cxx=${3:-}
if [ -z "$cxx" ]; then
    for c in c++ g++ clang++; do
        if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
    done
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
incdir=$(cd "$(dirname "$header")" && pwd)

cat >"$dir/t.c" <<'SRC'
#include <basistrees.h>
#include <basistrees.h>
/* Use a few declarations so that a broken prototype is an error, not unused. */
int header_probe(void);
int header_probe(void)
{
    bt_params p = BT_PARAMS_INIT;
    bt_verify_opts vo = BT_VERIFY_OPTS_INIT;
    bt_db_options dbo = BT_DB_OPTIONS_INIT;
    const char *(*ver)(void) = bt_version;
    (void)vo;
    (void)dbo;
    return bt_params_check(&p) + (ver != 0) + BT_DIGEST_LEN;
}
SRC
cp "$dir/t.c" "$dir/t.cpp"
cat >>"$dir/t.cpp" <<'SRC'
/* C linkage: the declaration must match an extern "C" function. */
extern "C" int bt_params_check(const bt_params *params);
SRC

fail=0
for std in c11 c99; do
    if ! "$cc" -std=$std -pedantic -Wall -Wextra -Wstrict-prototypes -Werror -I"$incdir" -c "$dir/t.c" \
            -o "$dir/t_$std.o"; then
        echo "header_test: FAIL: $header does not compile alone as -std=$std -pedantic" >&2
        fail=1
    fi
done
if [ -n "$cxx" ]; then
    for std in c++11 c++17; do
        if ! "$cxx" -std=$std -pedantic -Wall -Wextra -Werror -I"$incdir" -c "$dir/t.cpp" \
                -o "$dir/t_$std.o"; then
            echo "header_test: FAIL: $header does not compile alone as -std=$std" >&2
            fail=1
        elif grep -q '_Z[0-9]*bt_' <<<"$(nm "$dir/t_$std.o")"; then
            echo "header_test: FAIL: C++ sees mangled bt_ names (missing extern \"C\")" >&2
            fail=1
        fi
    done
else
    echo "header_test: FAIL: no C++ compiler found (c++, g++, clang++)" >&2
    fail=1
fi
[ $fail = 0 ] && echo "header_test: ok ($cc: c11 c99; $cxx: c++11 c++17)"
exit $fail
