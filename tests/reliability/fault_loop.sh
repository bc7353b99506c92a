#!/usr/bin/env bash
# fault_loop.sh -- injected I/O errors (README.md, "Faults").
#
#   fault_loop.sh WORK [PER_COMBO]
#
# For each fault class (write, sync, open, rename) x errno (EIO, ENOSPC) x
# (one failing call | every call from the N-th on, "sticky"), PER_COMBO
# cases (default 8; 16 combinations) with N spread over the calls that the
# workload makes (measured first by a run without a fault).  Durability
# modes alternate between sync and group.  Each case:
#   1. copies a template torture directory (made by crash_writer init and a
#      few fault-free commits) to WORK/case;
#   2. runs fault_writer (30 commits, a node flush every ~6) with relshim.so
#      injecting the fault AND recording syncs for a power cut;
#   3. fails the case if fault_writer aborted or crashed (any signal), or
#      printed BROKEN (wrong code, no message, not sticky, reads dead);
#   4. cuts every file to its last successful sync (powercut apply): a
#      library that counted a failed fsync as done would now lose an
#      acknowledged commit;
#   5. crash_check must pass (reopen, acknowledged commits present,
#      committed prefix, digests, bt_db_check).
# Prints "N passed, 0 failed (F faults met)" and exits 0 when all passed.
# Environment: CRASH_BINDIR, REL_BINDIR as for powercut_loop.sh;
# REL_KEEP_FAILED=1 keeps WORK/case of the first failure; REL_FAULT_SKIP
# (default "/LOG"): paths never faulted -- RocksDB's info LOG, whose write
# errors abort Debian's librocksdb (docs/RELIABILITY.md, known limits); set it
# empty to see that.
set -u
WORK=${1:?usage: fault_loop.sh WORK [PER_COMBO]}
PER=${2:-8}
W=${CRASH_BINDIR:?}/crash_writer
C=$CRASH_BINDIR/crash_check
FW=${REL_BINDIR:?}/fault_writer
PC=$REL_BINDIR/powercut
SHIM=$REL_BINDIR/relshim.so
for f in "$W" "$C" "$FW" "$PC" "$SHIM"; do
    [ -e "$f" ] || { echo "fault_loop: $f not found" >&2; exit 2; }
done
rm -rf "$WORK"
mkdir -p "$WORK"
for mode in sync group; do
    T=$WORK/tmpl-$mode
    "$W" init "$T" $mode --keys 1000 --flush-ops 1500 >/dev/null || exit 2
    "$FW" "$T" --commits 8 >/dev/null || { echo "fault_loop: template $mode failed"; exit 2; }
done

# calibrate: how many calls of each class does one case make?
declare -A calls
for cls in write sync open rename; do
    rm -rf "$WORK/case"
    cp -a "$WORK/tmpl-sync" "$WORK/case"
    rm -f "$WORK/flog"
    RELSHIM_ROOT=$WORK/case/db RELSHIM_FAULT=$cls:1000000000:EIO RELSHIM_FAULT_LOG=$WORK/flog \
        RELSHIM_FAULT_SKIP=${REL_FAULT_SKIP-/LOG} \
        LD_PRELOAD=$SHIM "$FW" "$WORK/case" >/dev/null 2>&1
    calls[$cls]=$(awk '$1 == "C" { print $2 }' "$WORK/flog" | tail -n 1)
    [ -n "${calls[$cls]}" ] && [ "${calls[$cls]}" -gt 0 ] || calls[$cls]=1
done
echo "fault_loop: calls per case: write ${calls[write]} sync ${calls[sync]} open ${calls[open]} rename ${calls[rename]}"

pass=0 met=0 i=0 known=0
declare -A seen
fail() {
    echo "fault_loop: case $i ($spec, mode $mode) FAILED: $1"
    [ -f "$WORK/out" ] && sed -n 1,5p "$WORK/out"
    [ -f "$WORK/err" ] && grep -v '^basistrees: ' "$WORK/err" | sed -n 1,30p
    if [ "${REL_KEEP_FAILED:-0}" = 1 ]; then
        echo "fault_loop: kept $WORK/case"
    fi
    echo "$pass passed, 1 failed"
    exit 1
}
for cls in write sync open rename; do
    for err in EIO ENOSPC; do
        for sticky in "" ":sticky"; do
            total=${calls[$cls]}
            for ((j = 0; j < PER; j++)); do
                i=$((i + 1))
                n=$((1 + (j * total + i % 3) / PER))
                spec="$cls:$n:$err$sticky"
                mode=sync
                ((i % 2)) && mode=group
                rm -rf "$WORK/case" "$WORK/flog" "$WORK/pc.log"
                cp -a "$WORK/tmpl-$mode" "$WORK/case"
                "$PC" base "$WORK/case/db" "$WORK/pc.base" || exit 2
                RELSHIM_ROOT=$WORK/case/db RELSHIM_FAULT=$spec RELSHIM_FAULT_LOG=$WORK/flog \
                    RELSHIM_FAULT_SKIP=${REL_FAULT_SKIP-/LOG} RELSHIM_BACKTRACE=1 RELSHIM_LOG=$WORK/pc.log LD_PRELOAD=$SHIM \
                    "$FW" "$WORK/case" >"$WORK/out" 2>"$WORK/err"
                rc=$?
                case $rc in
                0) ;;
                3) met=$((met + 1)); w=$(awk '{print $1, $2}' "$WORK/out" | head -n 1); seen[$w]=1 ;;
                1) fail "a promise was broken" ;;
                134)
                    # Debian's RocksDB 7.8 is built with assertions; its own
                    # automatic recovery from a no-space error (SstFileManager ->
                    # DBImpl::ResumeImpl) can trip one when ENOSPC persists.  The
                    # C API cannot turn that recovery off (docs/RELIABILITY.md,
                    # known limits).  Counted and reported, and the database must
                    # still hold everything acknowledged; REL_STRICT=1 fails.
                    # The same build asserts (WritableFileWriter::
                    # AssertFalseAndGetStatusForPrevError) when a WAL file's
                    # writer is synced again after an earlier sync error:
                    # a background flush's sync of a closed WAL failed, then
                    # our next WAL sync (SyncWithoutFlush, one case in 1,024
                    # of the long run) or the next flush's SyncClosedLogs
                    # (seen in CI) syncs it again.  Both are RocksDB threads
                    # or calls the library cannot order differently.
                    if [ "${REL_STRICT:-0}" != 1 ] && grep -q 'ResumeImpl' "$WORK/err" &&
                        grep -q 'file_deletion_disabled' "$WORK/err"; then
                        known=$((known + 1))
                        echo "fault_loop: case $i ($spec, mode $mode): RocksDB aborted in its no-space auto-recovery (known defect)"
                    elif [ "${REL_STRICT:-0}" != 1 ] && grep -q 'AssertFalseAndGetStatusForPrevError' "$WORK/err" &&
                        grep -q 'sync_without_flush_called_' "$WORK/err"; then
                        known=$((known + 1))
                        echo "fault_loop: case $i ($spec, mode $mode): RocksDB aborted syncing a WAL after its own earlier sync error (known defect)"
                    else
                        fail "fault_writer exited with status $rc (abort/crash?)"
                    fi ;;
                *) fail "fault_writer exited with status $rc (abort/crash?)" ;;
                esac
                "$PC" apply "$WORK/case/db" "$WORK/pc.base" "$WORK/pc.log" >/dev/null || exit 2
                if ! out=$("$C" "$WORK/case" 2>&1); then
                    echo "$out" >>"$WORK/out"
                    fail "check after the power cut: $out"
                fi
                pass=$((pass + 1))
            done
        done
    done
    echo "fault_loop: class $cls done: $pass passed so far, $met met a fault"
done
echo "fault_loop: where faults surfaced: ${!seen[*]}"
[ "$known" -gt 0 ] && echo "fault_loop: $known case(s) hit a known RocksDB abort (docs/RELIABILITY.md, known limits); nothing acknowledged was lost in them"
echo "$pass passed, 0 failed ($met faults met, $known known RocksDB aborts)"
exit 0
