#!/usr/bin/env bash
# valgrind.sh -- memcheck over an integration run (docs/RELIABILITY.md, item 7).
#
#   valgrind.sh WORK
#
# Under valgrind's memcheck (--error-exitcode, definite leaks are errors):
# fault_writer commits 40 transactions of the crash stream with node flushes
# (open, commit path, flusher thread, close), then crash_check reopens,
# replays the mirror and checks everything (recovery, reads, bt_db_check,
# checkpoints).  Exit 77 (skipped) when valgrind is not installed.
# Environment: CRASH_BINDIR, REL_BINDIR as for powercut_loop.sh.
set -u
WORK=${1:?usage: valgrind.sh WORK}
command -v valgrind >/dev/null || { echo "valgrind.sh: no valgrind: skipped"; exit 77; }
W=${CRASH_BINDIR:?}/crash_writer
C=$CRASH_BINDIR/crash_check
FW=${REL_BINDIR:?}/fault_writer
rm -rf "$WORK"
"$W" init "$WORK" sync --keys 400 --flush-ops 1000 >/dev/null || exit 2
VG=(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)
for step in writer check; do
    if [ $step = writer ]; then cmd=("$FW" "$WORK" --commits 40); else cmd=("$C" "$WORK"); fi
    "${VG[@]}" "${cmd[@]}" >"$WORK/vg-$step.log" 2>&1
    rc=$?
    grep -v -e '^basistrees: ' -e 'unimplemented fcntl command' "$WORK/vg-$step.log" | head -n 40
    if [ $rc -ne 0 ]; then
        echo "valgrind.sh: $step: exit $rc (9: memcheck errors)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
echo "2 passed, 0 failed"
