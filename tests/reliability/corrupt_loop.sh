#!/usr/bin/env bash
# corrupt_loop.sh -- damaged files (README.md, "Corruption").
#
#   corrupt_loop.sh WORK [TRIALS_PER_CLASS] [CLASS...]
#
# Builds a template torture directory: crash_writer init, then a writer
# session killed with SIGKILL mid-stream (so the WAL holds acknowledged
# commits that are not in any table file yet), then one clean check.  Then,
# for every file class, TRIALS_PER_CLASS (default 200) trials: copy the
# template, damage one file of the class (relcorrupt: bit flips, a cut, or a
# zeroed range, chosen by the trial number), and run tests/crash/crash_check
# on the copy.  Each outcome is classified:
#   survived   the reopened database passed every check (the damage was
#              harmless, or repaired from the log)           -> pass
#   detected   open, a read or bt_db_check failed with BT_ECORRUPT
#              ("data is corrupt") and a message             -> pass
#   other-err  failed with another code (I/O error, ...)      -> pass, counted
#              and listed: the issue asks for BT_ECORRUPT
#   SILENT     opened and served a wrong digest, count or value, or lost an
#              acknowledged commit, or a check crashed        -> FAIL
#
# Adding a file class is one entry in CLASSES below: "name:glob" with the
# glob relative to the database directory (e.g. "snapshot:snapshots/*.bts");
# if the class needs a file that the template does not make, give a hook
# script in REL_TEMPLATE_HOOK (called with the template directory after the
# killed session, before the check) that creates it.
# Environment: CRASH_BINDIR, REL_BINDIR as for powercut_loop.sh;
# REL_CORRUPT_SEED (default 1); REL_KEEP_FAILED=1 keeps the failing copy;
# REL_CORRUPT_NEGATIVE=1 runs only the negative control (see below).
set -u
WORK=${1:?usage: corrupt_loop.sh WORK [TRIALS_PER_CLASS] [CLASS...]}
TRIALS=${2:-200}
shift $(($# >= 2 ? 2 : $#))
CLASSES=(
    "sst:*.sst"
    "wal:*.log"
    "manifest:MANIFEST-*"
    "current:CURRENT"
    "options:OPTIONS-*"
    "durable:DURABLE"
)
W=${CRASH_BINDIR:?}/crash_writer
C=$CRASH_BINDIR/crash_check
RC=${REL_BINDIR:?}/relcorrupt
for f in "$W" "$C" "$RC"; do
    [ -e "$f" ] || { echo "corrupt_loop: $f not found" >&2; exit 2; }
done
SEED=${REL_CORRUPT_SEED:-1}
rm -rf "$WORK"
mkdir -p "$WORK"
T=$WORK/tmpl
"$W" init "$T" sync --keys 400 --flush-ops 600 >/dev/null || exit 2
"$W" run "$T" >>"$T/writer.log" 2>&1 &
pid=$!
for ((i = 0; i < 400; i++)); do [ -s "$T/ready" ] && break; sleep 0.01; done
sleep 0.4
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -n "${REL_TEMPLATE_HOOK:-}" ]; then "$REL_TEMPLATE_HOOK" "$T" || exit 2; fi
# One clean check first, so the template is a database that passes (the
# check's own recovery runs once here), then one more kill -9 session so the
# newest WAL is not empty.
out=$("$C" "$T" 2>&1) || { echo "corrupt_loop: template fails its check: $out"; exit 2; }
# (the database as it was then: the negative control's old copy)
[ "${REL_CORRUPT_NEGATIVE:-0}" = 1 ] && cp -a "$T/db" "$WORK/db-before"
"$W" run "$T" >>"$T/writer.log" 2>&1 &
pid=$!
for ((i = 0; i < 400; i++)); do [ -s "$T/ready" ] && break; sleep 0.01; done
sleep 0.2
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
echo "corrupt_loop: template: $(cd "$T/db" && ls | tr '\n' ' ' | cut -c1-300)"

# What crash_check prints when the damage was caught with BT_ECORRUPT
# ("data is corrupt", or rc -4 from a read) by any check -- open, a read,
# bt_db_check, checkpoint validation, close; and when a check that reports
# errors (not mismatches) failed with another code.  Anything else that is
# not "OK" is silent: C2, C3, C5, C4 digest/count/value mismatches, C7
# checkpoint digests that differ.
DETECTED='data is corrupt|rc -4[ )]'
OTHER='C1: bt_db_open: |C6: bt_db_check|C6: bt_db_close|C4: bt_db_digest\(|C7: checkpoint [0-9]+ does not validate|C7: bt_db_checkpoint_list'
# Negative control (REL_CORRUPT_NEGATIVE=1): put back the whole database
# directory as it was before the template's last writer session -- a
# consistent older state whose loss of acknowledged commits no check inside
# the database can see -- and show that the classifier calls it SILENT (so
# the test can fail).  (Removing every WAL file and the marker was the
# control until memtables flushed per family at different times: then the
# open itself detects the mismatch between the partitions.)
if [ "${REL_CORRUPT_NEGATIVE:-0}" = 1 ]; then
    rm -rf "$WORK/neg"
    cp -a "$T" "$WORK/neg"
    rm -rf "$WORK/neg/db"
    cp -a "$WORK/db-before" "$WORK/neg/db"
    # The checker leaves on a failure without closing; under LeakSanitizer
    # RocksDB's pending background work then shows as a leak (exit 134).
    out=$(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "$C" "$WORK/neg" 2>&1)
    rc=$?
    if [ $rc -eq 1 ] && ! grep -qE "$DETECTED|$OTHER" <<<"$out"; then
        echo "corrupt_loop: negative control: SILENT as expected: $out" | cut -c1-300
        exit 0
    fi
    echo "corrupt_loop: negative control NOT classified silent (exit $rc): $out" | cut -c1-300
    exit 1
fi

if [ $# -gt 0 ]; then
    sel=()
    for c in "${CLASSES[@]}"; do for want in "$@"; do [ "${c%%:*}" = "$want" ] && sel+=("$c"); done; done
    CLASSES=("${sel[@]}")
fi

total_fail=0
summary=""
for spec in "${CLASSES[@]}"; do
    cls=${spec%%:*}
    glob=${spec#*:}
    files=()
    for f in "$T"/db/$glob; do [ -f "$f" ] && [ -s "$f" ] && files+=("${f#"$T"/db/}"); done
    if [ ${#files[@]} -eq 0 ]; then
        echo "corrupt_loop: class $cls: no non-empty file matches $glob in the template: FAIL"
        total_fail=$((total_fail + 1))
        continue
    fi
    # Two workers (shards t = 1, 3, 5, ... and 2, 4, 6, ...), each with its own
    # copy; every trial appends one line "OUTCOME<TAB>t<TAB>what<TAB>output".
    for shard in 0 1; do
        (
            case_dir=$WORK/case$shard
            for ((t = 1 + shard; t <= TRIALS; t += 2)); do
                rm -rf "$case_dir"
                cp -a "$T" "$case_dir"
                s=$((SEED * 1000003 + t * 7919))
                target=${files[$((s % ${#files[@]}))]}
                case $((t % 3)) in 0) how=flip ;; 1) how=trunc ;; 2) how=zero ;; esac
                ((t % 6 == 5)) && how=flip # flips are the main interest
                if ! what=$("$RC" "$case_dir/db/$target" $how $s); then
                    printf 'survived\t%d\t%s\t\n' $t "$what"
                    continue
                fi
                out=$("$C" "$case_dir" 2>&1)
                rc=$?
                if [ $rc -eq 0 ]; then
                    o=survived
                elif [ $rc -eq 1 ] && grep -qE "$DETECTED" <<<"$out"; then
                    o=detected
                elif [ $rc -eq 1 ] && grep -qE "$OTHER" <<<"$out"; then
                    o=other
                else
                    o=SILENT
                    if [ "${REL_KEEP_FAILED:-0}" = 1 ] && [ ! -d "$WORK/failed-$cls-$t" ]; then
                        mv "$case_dir" "$WORK/failed-$cls-$t"
                    fi
                fi
                printf '%s\t%d\t%s\t%s\n' $o $t "${what#relcorrupt: }" "$(tr '\t\n' '  ' <<<"$out" | cut -c1-400)"
            done
            rm -rf "$case_dir"
        ) >"$WORK/res-$cls-$shard" &
    done
    wait
    cat "$WORK/res-$cls-0" "$WORK/res-$cls-1" >"$WORK/res-$cls"
    surv=$(grep -c '^survived' "$WORK/res-$cls")
    det=$(grep -c '^detected' "$WORK/res-$cls")
    oth=$(grep -c '^other' "$WORK/res-$cls")
    silent=$(grep -c '^SILENT' "$WORK/res-$cls")
    others=$(grep '^other' "$WORK/res-$cls" | head -n 3 | awk -F'\t' '{print "    [" $2 "] " $3 " => " $4}')
    grep '^SILENT' "$WORK/res-$cls" | head -n 5 | awk -F'\t' '{print "corrupt_loop: SILENT or crashed: trial " $2 ": " $3 " => " $4}' | cut -c1-500
    line="class $cls: $TRIALS trials: $surv survived, $det detected (BT_ECORRUPT), $oth other error, $silent SILENT"
    echo "corrupt_loop: $line"
    [ -n "$others" ] && { echo "corrupt_loop: other errors (first few):"; echo "$others" | cut -c1-300; }
    summary="$summary$line
"
    total_fail=$((total_fail + silent))
done
printf '%s' "$summary" >"$WORK/summary.txt"
if [ $total_fail -ne 0 ]; then
    echo "corrupt_loop: $total_fail silent outcomes"
    echo "0 passed, $total_fail failed"
    exit 1
fi
echo "${#CLASSES[@]} classes passed, 0 failed"
exit 0
