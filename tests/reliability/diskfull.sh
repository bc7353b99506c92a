#!/usr/bin/env bash
# diskfull.sh -- a real full file system (README.md, "Faults").
#
#   diskfull.sh WORK [CASES]
#
# Needs root (mount -t tmpfs); exits 77 (ctest: skipped) when it cannot
# mount.  Each case mounts a tmpfs a little larger than a template database
# (its size + 64 KiB .. + 2 MiB, spread over CASES, default 12) at
# WORK/case/db, copies the template in and runs fault_writer until the disk
# is full (at most 3000 commits).  Half the cases keep the library's
# free-space reserve (min_free_bytes 1 MiB: a commit must be refused with
# BT_ENOSPC before anything is written), half turn it off (0: RocksDB itself
# hits ENOSPC).  RocksDB's info LOG stays in the database (the default) in
# half the cases and goes to WORK (info_log_dir) in the other half.  A case passes when fault_writer did not
# crash, met the full disk as a clean error (or finished), and -- after the
# file system was grown (remount) -- crash_check finds every acknowledged
# commit, a committed prefix and a sound tree.
# Environment: CRASH_BINDIR, REL_BINDIR as for powercut_loop.sh;
set -u
WORK=${1:?usage: diskfull.sh WORK [CASES]}
CASES=${2:-12}
W=${CRASH_BINDIR:?}/crash_writer
C=$CRASH_BINDIR/crash_check
FW=${REL_BINDIR:?}/fault_writer
for f in "$W" "$C" "$FW"; do
    [ -e "$f" ] || { echo "diskfull: $f not found" >&2; exit 2; }
done
rm -rf "$WORK"
mkdir -p "$WORK/probe"
if ! mount -t tmpfs -o size=1m tmpfs "$WORK/probe" 2>/dev/null; then
    echo "diskfull: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN): skipped"
    exit 77
fi
umount "$WORK/probe"
T=$WORK/tmpl
"$W" init "$T" sync --keys 1000 --flush-ops 1500 >/dev/null || exit 2
"$FW" "$T" --commits 5 >/dev/null || exit 2
base_kb=$(du -sk "$T/db" | awk '{print $1}')
pass=0 full=0 refused=0
mnt=""
cleanup() { [ -n "$mnt" ] && umount "$mnt" 2>/dev/null; }
trap cleanup EXIT
for ((i = 0; i < CASES; i++)); do
    rm -rf "$WORK/case"
    mkdir -p "$WORK/case/db" "$WORK/log"
    cp "$T/params" "$T/acks" "$WORK/case/"
    size_kb=$((base_kb + 64 + i * 2048 / (CASES > 1 ? CASES - 1 : 1)))
    mount -t tmpfs -o size=${size_kb}k tmpfs "$WORK/case/db" || exit 2
    mnt=$WORK/case/db
    cp -a "$T/db/." "$WORK/case/db/" || { echo "diskfull: template does not fit"; exit 2; }
    minfree=0
    ((i % 2)) && minfree=$((1 << 20))
    logopt=()
    ((i % 4 >= 2)) && logopt=(--info-log-dir "$WORK/log")
    "$FW" "$WORK/case" --commits 3000 --min-free $minfree "${logopt[@]}" >"$WORK/out" 2>&1
    rc=$?
    case $rc in
    0) ;;
    3) full=$((full + 1))
       grep -q 'rc=ENOSPC' "$WORK/out" && refused=$((refused + 1)) ;;
    *) echo "diskfull: case $i (${size_kb} KiB, min_free $minfree) FAILED: exit $rc"
       head -n 5 "$WORK/out"
       echo "$pass passed, 1 failed"; exit 1 ;;
    esac
    mount -o remount,size=$((size_kb + 65536))k "$WORK/case/db" || exit 2
    if ! out=$("$C" "$WORK/case" 2>&1); then
        echo "diskfull: case $i (${size_kb} KiB, min_free $minfree) check FAILED: $out"
        head -n 3 "$WORK/out"
        echo "$pass passed, 1 failed"; exit 1
    fi
    echo "diskfull: case $i ${size_kb} KiB min_free $minfree: $(head -c 160 "$WORK/out")"
    umount "$WORK/case/db"
    mnt=""
    pass=$((pass + 1))
done
echo "diskfull: $full of $CASES cases filled the disk ($refused reported ENOSPC)"
echo "$pass passed, 0 failed"
