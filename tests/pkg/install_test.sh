#!/usr/bin/env bash
# tests/pkg/install_test.sh BUILD_DIR PREFIX -- installs a build and uses it
# the way a consumer would.
#
#   1. cmake --install BUILD_DIR --prefix PREFIX (PREFIX is emptied first);
#      the expected files are there (versioned soname chain, archive, header,
#      CLI, basistrees.pc, CMake package; the man page if docs/ has one).
#   2. The installed CLI runs (it finds the library through its RPATH).
#   3. tests/pkg/consumer.c and both examples/ programs build with
#      `pkg-config --cflags --libs basistrees` alone and run; the consumer
#      also links statically (pkg-config --static) without libbasistrees.so.
#   4. The examples work together: embed_tracker's lookup proof is accepted
#      by verify_proof, a corrupted one is rejected, the tree persists across
#      runs.
#   5. A CMake project finds the package (find_package(basistrees 0.1)) and
#      links basistrees::basistrees and basistrees::basistrees_static.
#   6. The installed tree can be moved: pkg-config still points inside it.
# Needs cc, pkg-config and cmake.  Prints "install_test: ok" at the end.
set -euo pipefail
build=$(cd "${1:?usage: install_test.sh BUILD_DIR PREFIX}" && pwd)
prefix=${2:?usage: install_test.sh BUILD_DIR PREFIX}
src=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-cc}

die() { echo "install_test: FAIL: $*" >&2; exit 1; }
step() { echo "install_test: $*"; }

case "$prefix" in
    ""|/|/usr|/usr/local) die "refusing to empty PREFIX '$prefix': give a scratch directory" ;;
esac
rm -rf "$prefix"
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
cmake --install "$build" --prefix "$prefix" >"$prefix.install.log" \
    || { cat "$prefix.install.log" >&2; die "cmake --install failed"; }

# Where GNUInstallDirs put the libraries (lib or lib/<multiarch>).
pc=$(find "$prefix" -name basistrees.pc -print -quit)
[ -n "$pc" ] || die "no basistrees.pc installed"
libdir=$(dirname "$(dirname "$pc")")
version=$(sed -n 's/^Version: //p' "$pc")
major=${version%%.*}

step "1. installed files ($version, libdir ${libdir#$prefix/})"
for f in "$libdir/libbasistrees.so.$version" "$libdir/libbasistrees.so.$major" \
         "$libdir/libbasistrees.so" "$libdir/libbasistrees.a" "$prefix/include/basistrees.h" \
         "$prefix/bin/basis-trees" "$libdir/cmake/basistrees/basistreesConfig.cmake" \
         "$libdir/cmake/basistrees/basistreesConfigVersion.cmake" \
         "$libdir/cmake/basistrees/basistreesTargets.cmake"; do
    [ -e "$f" ] || die "missing $f"
done
[ -L "$libdir/libbasistrees.so" ] && [ -L "$libdir/libbasistrees.so.$major" ] \
    || die "libbasistrees.so and .so.$major should be symlinks"
[ "$(readlink "$libdir/libbasistrees.so.$major")" = "libbasistrees.so.$version" ] \
    || die "libbasistrees.so.$major does not point to libbasistrees.so.$version"
if [ -f "$src/docs/basis-trees.1" ]; then
    [ -f "$prefix/share/man/man1/basis-trees.1" ] || die "man page not installed"
fi
bash "$src/tests/pkg/symbols_test.sh" "$libdir/libbasistrees.so.$version" \
    "$prefix/include/basistrees.h" >/dev/null || die "installed library exports the wrong symbols"

step "2. installed CLI"
[ "$("$prefix/bin/basis-trees" version)" = "$version" ] || die "installed basis-trees version"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
[ "$(pkg-config --modversion basistrees)" = "$version" ] || die "pkg-config --modversion"
# A non-system prefix is not in the loader's path: LD_LIBRARY_PATH, as a user would.
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

step "3. build with pkg-config: $(pkg-config --cflags --libs basistrees)"
for p in "$src/tests/pkg/consumer.c" "$src/examples/embed_tracker.c" \
         "$src/examples/verify_proof.c"; do
    name=$(basename "$p" .c)
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -o "$work/$name" "$p" \
        $(pkg-config --cflags --libs basistrees) || die "$name does not build"
done
"$work/consumer" || die "consumer (shared) failed"
grep -q "libbasistrees.so.$major => $libdir/" <<<"$(ldd "$work/consumer")" \
    || die "consumer is not linked with the installed libbasistrees.so.$major"
static_libs=$(pkg-config --static --libs basistrees)
for m in sodium rocksdb inih; do
    case " $static_libs " in *" -l$m "*) ;; *) die "pkg-config --static lacks -l$m" ;; esac
done
# shellcheck disable=SC2086
"$cc" -std=c11 -o "$work/consumer_static" "$src/tests/pkg/consumer.c" \
    $(pkg-config --cflags basistrees) "$libdir/libbasistrees.a" \
    ${static_libs/-lbasistrees/} || die "static link with pkg-config --static failed"
if grep -q libbasistrees <<<"$(ldd "$work/consumer_static")"; then
    die "consumer_static still needs libbasistrees.so"
fi
"$work/consumer_static" || die "consumer (static) failed"

step "4. examples"
"$work/embed_tracker" "$work/db" 20 >"$work/run1.txt" || die "embed_tracker run 1"
"$work/embed_tracker" "$work/db" 20 >"$work/run2.txt" || die "embed_tracker run 2"
grep -q "total debt: 1000 " "$work/run1.txt" || die "embed_tracker run 1 total"
grep -q "total debt: 2000 " "$work/run2.txt" || die "embed_tracker: the tree did not persist"
read -r -a args < <(sed -n 's/^check: verify_proof //p' "$work/run2.txt")
[ ${#args[@]} = 3 ] || die "embed_tracker printed no verify_proof line"
out=$("$work/verify_proof" --expect "${args[0]}" "${args[@]}") || die "verify_proof rejected: $out"
grep -q "found 00000000000007d0" <<<"$out" || die "verify_proof: wrong value: $out"
# The value 2000 = 0x7d0 sits in the proof; change it: the root label no longer matches.
bad=${args[1]/00000000000007d0/00000000000007d1}
[ "$bad" != "${args[1]}" ] || die "value not found in the proof"
if "$work/verify_proof" "${args[0]}" "$bad" "${args[2]}" >/dev/null; then
    die "verify_proof accepted a corrupted proof"
fi
# A lookup in run 1's digest against run 2's proof must fail too.
old=$(sed -n 's/^digest: //p' "$work/run1.txt")
if "$work/verify_proof" "$old" "${args[1]}" "${args[2]}" >/dev/null; then
    die "verify_proof accepted a proof against the wrong digest"
fi

step "5. CMake find_package"
mkdir -p "$work/cm"
cat >"$work/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(basistrees 0.1 REQUIRED)
add_executable(consumer_shared $src/tests/pkg/consumer.c)
target_link_libraries(consumer_shared PRIVATE basistrees::basistrees)
add_executable(consumer_static $src/tests/pkg/consumer.c)
target_link_libraries(consumer_static PRIVATE basistrees::basistrees_static)
CM
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cm.log" 2>&1 \
    || { cat "$work/cm.log" >&2; die "find_package(basistrees) failed"; }
cmake --build "$work/cm/build" >>"$work/cm.log" 2>&1 \
    || { cat "$work/cm.log" >&2; die "CMake consumer does not build"; }
"$work/cm/build/consumer_shared" >/dev/null || die "CMake consumer (shared) failed"
"$work/cm/build/consumer_static" >/dev/null || die "CMake consumer (static) failed"
# A version from another minor series must not match (0.x: SameMinorVersion).
sed -i 's/basistrees 0.1 REQUIRED/basistrees 0.2 QUIET/' "$work/cm/CMakeLists.txt"
printf 'if(basistrees_FOUND)\n  message(FATAL_ERROR "0.2 matched")\nendif()\n' \
    >>"$work/cm/CMakeLists.txt"
sed -i '/add_executable\|target_link_libraries/d' "$work/cm/CMakeLists.txt"
cmake -S "$work/cm" -B "$work/cm/build2" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cm2.log" 2>&1 \
    || { cat "$work/cm2.log" >&2; die "version file accepted 0.2"; }

step "6. relocated tree"
cp -a "$prefix" "$work/moved"
moved_pc=$work/moved/${pc#$prefix/}
inc=$(PKG_CONFIG_PATH=$(dirname "$moved_pc") pkg-config --cflags basistrees)
case "$inc" in
    *"$work/moved/"*) ;;
    -I/usr/include|"") ;;  # pkg-config may hide system paths; not ours
    *) die "moved basistrees.pc still points elsewhere: $inc" ;;
esac
grep -q "$work/moved/" <<<"$(PKG_CONFIG_PATH=$(dirname "$moved_pc") pkg-config --libs basistrees)" \
    || die "moved basistrees.pc: --libs does not point into the moved tree"
[ "$("$work/moved/bin/basis-trees" version)" = "$version" ] || die "moved CLI does not run"

echo "install_test: ok"
