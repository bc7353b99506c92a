#!/usr/bin/env bash
# powercut_loop.sh -- the power-cut torture loop (README.md, "Power cut").
#
#   powercut_loop.sh DIR CYCLES [sync|group|none]
#
# As tests/crash/crash_loop.sh, but each cycle simulates a machine crash, not
# only a process crash: the writer (tests/crash/crash_writer) runs with
# relshim.so preloaded, which logs every fsync/fdatasync/rename/link/unlink/
# O_TRUNC under DIR/db; after the kill -9, "powercut apply" cuts every file
# of DIR/db to its size at its last sync (PC_TORN=1: sometimes keeps a random
# part of the unsynced tail), and only then tests/crash/crash_check reopens
# and checks (acknowledged commits present, a committed prefix, digests,
# bt_db_check).  DIR/acks is not cut: it stands for the client, outside the
# crashed machine ("A" lines are fdatasync'd anyway).
#
# Environment: CYCLES (overrides the argument), CRASH_BINDIR (crash_writer,
# crash_check), REL_BINDIR (powercut, relshim.so), PC_FRESH=1 (delete DIR
# first), PC_TORN=1, PC_LOOP_SEED, PC_SLEEP_MIN_MS/PC_SLEEP_MAX_MS (kill delay,
# default 20..250), PC_FLUSH_OPS (default 1500),
# PC_SKIPSYNC=SUBSTR  syncs of files whose path contains SUBSTR are skipped
#                     (a build that forgets a sync; ".log" = RocksDB's WAL)
# PC_EXPECT_FAIL=1    the negative test: succeed (exit 0, "detected") when a
#                     check fails within CYCLES cycles, fail if none did.
# Prints "N passed, 0 failed (G WAL gaps repaired)" and exits 0 when every
# cycle passed.
set -u
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: powercut_loop.sh DIR CYCLES [sync|group|none]" >&2
    exit 2
fi
DIR=$1
CYCLES=${CYCLES:-$2}
MODE=${3:-sync}
case $MODE in sync|group|none) ;; *) echo "powercut_loop: bad mode $MODE" >&2; exit 2 ;; esac
W=${CRASH_BINDIR:?set CRASH_BINDIR}/crash_writer
C=$CRASH_BINDIR/crash_check
PC=${REL_BINDIR:?set REL_BINDIR}/powercut
SHIM=$REL_BINDIR/relshim.so
for f in "$W" "$C" "$PC" "$SHIM"; do
    [ -e "$f" ] || { echo "powercut_loop: $f not found" >&2; exit 2; }
done
RANDOM=${PC_LOOP_SEED:-$$}
SMIN=${PC_SLEEP_MIN_MS:-20}
SMAX=${PC_SLEEP_MAX_MS:-250}
[ "${PC_FRESH:-0}" = 1 ] && rm -rf "$DIR"
if [ ! -f "$DIR/params" ]; then
    "$W" init "$DIR" "$MODE" --flush-ops "${PC_FLUSH_OPS:-1500}" >/dev/null || exit 2
fi
ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

pass=0 gaps=0
start_s=$SECONDS
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
    rm -f "$DIR/ready" "$DIR/pc.log"
    "$PC" base "$DIR/db" "$DIR/pc.base" || exit 2
    RELSHIM_ROOT=$DIR/db RELSHIM_LOG=$DIR/pc.log RELSHIM_SKIPSYNC=${PC_SKIPSYNC:-} \
        LD_PRELOAD=$SHIM "$W" run "$DIR" >>"$DIR/writer.log" 2>&1 &
    pid=$!
    delay=$((SMIN + RANDOM % (SMAX - SMIN + 1)))
    if ((RANDOM % 5 != 0)); then
        for ((i = 0; i < 2000; i++)); do
            [ -s "$DIR/ready" ] && break
            kill -0 "$pid" 2>/dev/null || break
            ms_sleep 5
        done
    fi
    ms_sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
    st=$?
    if [ "$st" -ne 137 ]; then
        echo "powercut_loop: cycle $cycle: the writer exited with status $st before the kill"
        tail -n 5 "$DIR/writer.log"
        echo "$pass passed, 1 failed"
        exit 1
    fi
    torn=()
    [ "${PC_TORN:-0}" = 1 ] && torn=(--torn "$RANDOM$cycle")
    cut=$("$PC" apply "$DIR/db" "$DIR/pc.base" "$DIR/pc.log" "${torn[@]}") || exit 2
    out=$("$C" "$DIR" 2>&1)
    rc=$?
    printf 'cycle %d delay %dms: %s | %s\n' "$cycle" "$delay" "$cut" "$out" >>"$DIR/check.log"
    if [ "$rc" -ne 0 ]; then
        if [ "${PC_EXPECT_FAIL:-0}" = 1 ]; then
            echo "powercut_loop: detected at cycle $cycle (as expected): $out"
            echo "detected"
            exit 0
        fi
        echo "powercut_loop: cycle $cycle FAILED: $out"
        echo "  $cut"
        tail -n 4 "$DIR/acks" | cut -c1-100
        echo "powercut_loop: kept $DIR"
        echo "$pass passed, 1 failed"
        exit 1
    fi
    pass=$((pass + 1))
    # A gap in the WAL (unsynced writes of an older WAL file lost while a
    # newer file's survived) is repaired by the open, which moves the newer
    # files into db/wal-gap-*; the check above has just shown that the
    # result is a committed prefix holding every acknowledged commit.
    for g in "$DIR"/db/wal-gap-*; do
        [ -d "$g" ] || continue
        gaps=$((gaps + 1))
        echo "powercut_loop: cycle $cycle: a WAL gap was repaired ($(ls "$g" | tr '\n' ' '))"
        rm -rf "$g"
    done
    if ((cycle % 50 == 0)) || ((cycle == CYCLES)); then
        echo "powercut_loop: $MODE cycle $cycle/$CYCLES ok ($((SECONDS - start_s)) s): ${out#crash_check: OK }"
    fi
done
if [ "${PC_EXPECT_FAIL:-0}" = 1 ]; then
    echo "powercut_loop: NOT detected in $CYCLES cycles: the test cannot see a missing sync"
    exit 1
fi
echo "$pass passed, 0 failed ($gaps WAL gaps repaired)"
exit 0
