#!/usr/bin/env bash
# crash_loop.sh -- the kill -9 torture loop (tests/crash/README.md).
#
#   crash_loop.sh DIR CYCLES [sync|group|none]
#
# Each cycle starts crash_writer on DIR in the background, lets it commit for
# a random 10..300 ms, kills it with SIGKILL and runs crash_check on DIR.
# DIR is kept across cycles (and across runs: an existing torture directory
# is continued), so the database grows, and node flushes, memtable flushes
# and compactions get killed too.  One cycle in five kills at a random moment
# from the writer's start, which may fall inside bt_db_open's recovery.
# Stops at the first failure (exit 1), keeping DIR; prints
# "N passed, 0 failed" at the end (exit 0).  Exit 2: the test could not run.
#
# Environment:
#   CYCLES, CRASH_CYCLES  override the CYCLES argument (long runs through ctest)
#   CRASH_BINDIR        where crash_writer and crash_check are (default: the
#                       directory of this script, then PATH)
#   CRASH_FRESH=1       delete DIR first
#   CRASH_FLUSH_OPS     flush_ops of a new DIR (default 2000)
#   CRASH_SEED          stream seed of a new DIR (default: the writer's)
#   CRASH_SLEEP_MIN_MS, CRASH_SLEEP_MAX_MS   kill delay range (10, 300)
#   CRASH_LOOP_SEED     seed of the kill delays (default: the shell's pid)
#   CRASH_KEEP_FAILED   copy DIR there on failure (e.g. /tmp/crash-fail-1)
#   CRASH_SYNC_PREACK=1 fdatasync the writer's "P" lines (passed through)
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: crash_loop.sh DIR CYCLES [sync|group|none]" >&2
    exit 2
fi
DIR=$1
# Long runs: CYCLES (or CRASH_CYCLES) in the environment overrides the argument.
CYCLES=${CRASH_CYCLES:-${CYCLES:-$2}}
MODE=${3:-sync}
case $MODE in sync|group|none) ;; *) echo "crash_loop: bad mode $MODE" >&2; exit 2 ;; esac
case $CYCLES in ''|*[!0-9]*) echo "crash_loop: bad cycle count $CYCLES" >&2; exit 2 ;; esac

BIN=${CRASH_BINDIR:-$(cd "$(dirname "$0")" && pwd)}
W=$BIN/crash_writer
C=$BIN/crash_check
[ -x "$W" ] || W=$(command -v crash_writer || true)
[ -x "$C" ] || C=$(command -v crash_check || true)
if [ -z "$W" ] || [ -z "$C" ]; then
    echo "crash_loop: crash_writer/crash_check not found (set CRASH_BINDIR)" >&2
    exit 2
fi

SLEEP_MIN_MS=${CRASH_SLEEP_MIN_MS:-10}
SLEEP_MAX_MS=${CRASH_SLEEP_MAX_MS:-300}
RANDOM=${CRASH_LOOP_SEED:-$$}

if [ "${CRASH_FRESH:-0}" = 1 ]; then rm -rf "$DIR"; fi
if [ ! -f "$DIR/params" ]; then
    args=(--flush-ops "${CRASH_FLUSH_OPS:-2000}")
    [ -n "${CRASH_SEED:-}" ] && args+=(--seed "$CRASH_SEED")
    "$W" init "$DIR" "$MODE" "${args[@]}" || exit 2
elif ! grep -qx "mode $MODE" "$DIR/params"; then
    echo "crash_loop: $DIR was made for another mode: $(grep '^mode' "$DIR/params")" >&2
    exit 2
fi

ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

report_failure() { # cycle, what
    echo "crash_loop: cycle $1 FAILED: $2"
    echo "---- last lines of $DIR/acks"
    tail -n 6 "$DIR/acks" | cut -c1-120
    echo "---- last lines of $DIR/writer.log"
    tail -n 5 "$DIR/writer.log" 2>/dev/null
    if [ -n "${CRASH_KEEP_FAILED:-}" ]; then
        rm -rf "$CRASH_KEEP_FAILED" && cp -a "$DIR" "$CRASH_KEEP_FAILED" &&
            echo "crash_loop: copied $DIR to $CRASH_KEEP_FAILED"
    fi
    echo "crash_loop: kept $DIR"
    echo "$pass passed, 1 failed"
    exit 1
}

pass=0
start_s=$SECONDS
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
    rm -f "$DIR/ready"
    "$W" run "$DIR" >>"$DIR/writer.log" 2>&1 &
    pid=$!
    delay=$((SLEEP_MIN_MS + RANDOM % (SLEEP_MAX_MS - SLEEP_MIN_MS + 1)))
    if ((RANDOM % 5 != 0)); then
        # Wait for the open to end, so that most kills land among commits.
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
        report_failure "$cycle" "the writer exited by itself with status $st before the kill"
    fi
    out=$("$C" "$DIR" 2>&1)
    rc=$?
    printf 'cycle %d delay %dms: %s\n' "$cycle" "$delay" "$out" >>"$DIR/check.log"
    if [ "$rc" -ne 0 ]; then
        report_failure "$cycle" "$out"
    fi
    pass=$((pass + 1))
    if ((cycle % 25 == 0)) || ((cycle == CYCLES)); then
        echo "crash_loop: $MODE cycle $cycle/$CYCLES ok ($((SECONDS - start_s)) s): ${out#crash_check: OK }"
    fi
done
echo "$pass passed, 0 failed"
exit 0
