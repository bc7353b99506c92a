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
#   corruption         2,000 trials per file class (RocksDB's files and ours)
# TORTURE_SCALE=N divides every count by N (TORTURE_SCALE=50 is a ~10-minute
# rehearsal).  TORTURE_JOBS=J (default: the number of CPUs) splits the kill -9,
# power-cut and corruption parts into J shards run side by side, each on its
# own directory with its own seeds; the counts are totals over the shards.
# TORTURE_PARTS="name ..." runs only the parts named (kill9-group,
# powercut-sync, powercut-group, powercut-none, powercut-negative, faults,
# diskfull, corruption, corrupt-files).
# Prints the time each part took and the CPU time of the whole run; the
# figures go to docs/RELIABILITY.md.  Needs CRASH_BINDIR and REL_BINDIR (the
# Makefile sets them).
set -u
WORK=${1:?usage: torture.sh WORK}
S=${TORTURE_SCALE:-1}
here=$(cd "$(dirname "$0")" && pwd)
crash=$(cd "$here/../crash" && pwd)
mkdir -p "$WORK"
J=${TORTURE_JOBS:-$(nproc 2>/dev/null || echo 1)}
case $J in '' | *[!0-9]* | 0) echo "torture: bad TORTURE_JOBS" >&2; exit 2 ;; esac
n() { local v=$(($1 / S)); echo $((v < 1 ? 1 : v)); }

# shards TOTAL SCRIPT DIR MODE: runs J copies of a loop script ("SCRIPT DIR
# COUNT MODE") on DIR.1 .. DIR.J with TOTAL split among them and distinct
# seeds; prints each shard's last line and "N passed, 0 failed" over all.
shards() {
    local total=$1 script=$2 dir=$3 mode=$4 j pids=() bad=0 sum=0 k
    local per=$((total / J)) extra=$((total % J))
    for ((j = 1; j <= J; j++)); do
        k=$((per + (j <= extra ? 1 : 0)))
        ((k > 0)) || continue
        CRASH_LOOP_SEED=$((7919 * j)) CRASH_SEED=$j PC_LOOP_SEED=$((104729 * j)) \
            bash "$script" "$dir.$j" "$k" "$mode" >"$dir.$j.out" 2>&1 &
        pids+=($!)
    done
    for ((j = 1; j <= ${#pids[@]}; j++)); do
        wait "${pids[j - 1]}" || bad=1
        echo "shard $j: $(tail -n 1 "$dir.$j.out")"
        k=$(tail -n 1 "$dir.$j.out" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
        sum=$((sum + ${k:-0}))
    done
    if ((bad)); then
        for ((j = 1; j <= ${#pids[@]}; j++)); do tail -n 25 "$dir.$j.out"; done
        echo "$sum passed, at least 1 failed"
        return 1
    fi
    echo "$sum passed, 0 failed ($J shards)"
}

# corruption_shards TRIALS: J corruption loops with seeds 1..J, TRIALS per
# class in all.
corruption_shards() {
    local total=$1 j pids=() bad=0
    for ((j = 1; j <= J; j++)); do
        REL_CORRUPT_SEED=$j bash "$here/corrupt_loop.sh" "$WORK/corrupt.$j" \
            "$(((total + J - 1) / J))" >"$WORK/corrupt.$j.out" 2>&1 &
        pids+=($!)
    done
    for ((j = 1; j <= J; j++)); do
        wait "${pids[j - 1]}" || bad=1
        grep 'corrupt_loop: class' "$WORK/corrupt.$j.out" | sed "s/^/shard $j: /"
        echo "shard $j: $(tail -n 1 "$WORK/corrupt.$j.out")"
    done
    ((bad == 0)) || return 1
    echo "every class passed in all $J shards ($(((total + J - 1) / J)) trials per class each)"
}
part() { # name, command...
    local name=$1 t0=$SECONDS
    shift
    if [ -n "${TORTURE_PARTS:-}" ] && ! grep -qw -- "$name" <<<"$TORTURE_PARTS"; then
        echo "torture: $name not selected"
        return 0
    fi
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
CRASH_FRESH=1 part kill9-group shards "$(n 10000)" "$crash/crash_loop.sh" "$WORK/kill9-group" group
PC_FRESH=1 part powercut-sync shards "$(n 3000)" "$here/powercut_loop.sh" "$WORK/pc-sync" sync
PC_FRESH=1 PC_TORN=1 part powercut-group shards "$(n 1500)" "$here/powercut_loop.sh" "$WORK/pc-group" group
PC_FRESH=1 PC_TORN=1 part powercut-none shards "$(n 500)" "$here/powercut_loop.sh" "$WORK/pc-none" none
PC_FRESH=1 PC_EXPECT_FAIL=1 PC_SKIPSYNC=.log part powercut-negative \
    bash "$here/powercut_loop.sh" "$WORK/pc-neg" 200 sync
part faults bash "$here/fault_loop.sh" "$WORK/faults" "$(n 64)"
part diskfull bash "$here/diskfull.sh" "$WORK/diskfull" "$(n 64)"
part corruption corruption_shards "$(n 2000)"
part corrupt-files bash "$here/corrupt_files.sh" "$WORK/corrupt-files" "$(n 2000)"
times
echo "torture: all parts passed in $SECONDS s wall (above: shell user/sys, then children's user/sys)"
