#!/usr/bin/env bash
# torture.sh -- the long forms of the reliability tests (`make torture`).
#
#   torture.sh WORK
#
# Runs, one after the other, and stops at the first failure:
#   kill -9 loop      10,000 cycles, group mode   (tests/crash/crash_loop.sh)
#   power cut          5,000 cycles: 3,000 sync, 1,500 group (torn tails), 500 none
#   negative power cut the WAL sync skipped must be detected
#   injected faults    16 combinations x 64 = 1,024 cases
#   disk full          64 tmpfs sizes (skipped without mount rights)
#   corruption         2,000 trials per file class
# TORTURE_SCALE=N divides every count by N (TORTURE_SCALE=50 is a ~10-minute
# rehearsal).  Prints the time each part took; the figures go to
# docs/RELIABILITY.md.  Needs CRASH_BINDIR and REL_BINDIR (the Makefile sets
# them).
set -u
WORK=${1:?usage: torture.sh WORK}
S=${TORTURE_SCALE:-1}
here=$(cd "$(dirname "$0")" && pwd)
crash=$(cd "$here/../crash" && pwd)
mkdir -p "$WORK"
n() { local v=$(($1 / S)); echo $((v < 1 ? 1 : v)); }
part() { # name, command...
    local name=$1 t0=$SECONDS
    shift
    echo "torture: $name ..."
    if ! "$@" >"$WORK/$name.log" 2>&1; then
        local rc=$?
        if [ $rc -eq 77 ]; then echo "torture: $name skipped"; return 0; fi
        tail -n 20 "$WORK/$name.log"
        echo "torture: $name FAILED after $((SECONDS - t0)) s (log: $WORK/$name.log)"
        exit 1
    fi
    echo "torture: $name ok in $((SECONDS - t0)) s: $(tail -n 1 "$WORK/$name.log")"
}
CRASH_FRESH=1 part kill9-group bash "$crash/crash_loop.sh" "$WORK/kill9-group" "$(n 10000)" group
PC_FRESH=1 part powercut-sync bash "$here/powercut_loop.sh" "$WORK/pc-sync" "$(n 3000)" sync
PC_FRESH=1 PC_TORN=1 part powercut-group bash "$here/powercut_loop.sh" "$WORK/pc-group" "$(n 1500)" group
PC_FRESH=1 PC_TORN=1 part powercut-none bash "$here/powercut_loop.sh" "$WORK/pc-none" "$(n 500)" none
PC_FRESH=1 PC_EXPECT_FAIL=1 PC_SKIPSYNC=.log part powercut-negative \
    bash "$here/powercut_loop.sh" "$WORK/pc-neg" 200 sync
part faults bash "$here/fault_loop.sh" "$WORK/faults" "$(n 64)"
part diskfull bash "$here/diskfull.sh" "$WORK/diskfull" "$(n 64)"
part corruption bash "$here/corrupt_loop.sh" "$WORK/corrupt" "$(n 2000)"
echo "torture: all parts passed"
