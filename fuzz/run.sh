#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] -- build the libFuzzer targets and fuzz each one.
#
# Builds build-fuzz/ with clang-14 (-DBT_FUZZ=ON), then runs every
# fuzz/fuzz_*.c target for SECONDS (default 60) on a scratch copy of its
# committed corpus (fuzz/corpus/NAME is never modified; new inputs stay in
# build-fuzz/corpus-work/NAME).  Crash/leak/timeout artifacts are written to
# build-fuzz/artifacts/NAME/.  Prints one summary line per target and exits
# non-zero if any target found a failure.
#
# Targets run two at a time (FUZZ_PARALLEL, default 2: the CI machine's
# 2 cores), so 6 targets of 60 s take about 3 minutes.
# Environment: FUZZ_JOBS (parallel fuzzing processes per target, default 1),
# FUZZ_TARGETS (space-separated subset, e.g. "fuzz_ops"), CC (default
# clang-14), FUZZ_FLAGS (extra libFuzzer flags).
set -u
secs=${1:-60}
case $secs in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
cc=${CC:-clang-14}
jobs=${FUZZ_JOBS:-1}

# The library itself must carry coverage instrumentation, or libFuzzer only
# sees the harness: -fsanitize=fuzzer-no-link on every object, plus ASan and
# UBSan everywhere (BT_SANITIZE) so the library's own bugs are caught.
mkdir -p "$build"
cmake -S "$root" -B "$build" -DBT_FUZZ=ON -DBT_SANITIZE=ON -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/cmake-configure.log" 2>&1 || {
    cat "$build/cmake-configure.log" >&2; echo "run.sh: cmake configure failed" >&2; exit 1; }

if [ -n "${FUZZ_TARGETS:-}" ]; then
    targets=$FUZZ_TARGETS
else
    targets=$(for f in "$root"/fuzz/fuzz_*.c; do basename "$f" .c; done)
fi
for t in $targets; do
    cmake --build "$build" -j2 --target "$t" >"$build/build-$t.log" 2>&1 || {
        cat "$build/build-$t.log" >&2; echo "run.sh: building $t failed" >&2; exit 1; }
done

# Two targets at a time (the CI machine has 2 cores): each fuzzes in the
# background and leaves its summary line in $build/result-NAME.
par_targets=${FUZZ_PARALLEL:-2}
fuzz_one() {
    t=$1
    work=$build/corpus-work/$t
    art=$build/artifacts/$t
    log=$build/fuzz-$t.log
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art"
    if [ -d "$root/fuzz/corpus/$t" ]; then
        cp -R "$root/fuzz/corpus/$t/." "$work/"
    fi
    seeds=$(ls "$work" | wc -l)
    # -rss_limit_mb bounds memory; -timeout flags any input slower than 30 s.
    # With FUZZ_JOBS > 1 libFuzzer forks workers that write fuzz-N.log into
    # the current directory, so run from a scratch directory.
    jdir=$build/jobs-$t
    rm -rf "$jdir"
    mkdir -p "$jdir"
    par=""
    [ "$jobs" -gt 1 ] && par="-jobs=$jobs -workers=$jobs"
    (cd "$jdir" && exec "$build/$t" "$work" -max_total_time="$secs" -print_final_stats=1 \
        -rss_limit_mb=2048 -timeout=30 -artifact_prefix="$art/" $par ${FUZZ_FLAGS:-}) \
        >"$log" 2>&1
    rc=$?
    cat "$jdir"/fuzz-*.log >>"$log" 2>/dev/null
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    corp=$(ls "$work" | wc -l)
    crashes=$(ls "$art" | wc -l)
    if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
        res=FAIL
        grep -E 'ERROR|SUMMARY|check failed|Test unit written' "$log" | head -20 >&2
    else
        res=ok
    fi
    printf '%-18s %-4s %6ss  execs=%s cov=%s ft=%s corpus=%s->%s artifacts=%s log=%s\n' \
           "$t" "$res" "$secs" "$execs" "${cov:-?}" "${ft:-?}" "$seeds" "$corp" "$crashes" "$log" \
           >"$build/result-$t"
}

running=0
for t in $targets; do
    rm -f "$build/result-$t"
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$par_targets" ]; then
        wait -n 2>/dev/null || wait
        running=$((running - 1))
    fi
done
wait
status=0
summary=""
for t in $targets; do
    line=$(cat "$build/result-$t" 2>/dev/null || echo "$t FAIL (no result)")
    echo "$line"
    case $line in *" FAIL "*|*"FAIL ("*) status=1 ;; esac
    summary="$summary$line
"
done
printf '%s' "$summary" >"$build/summary.txt"
exit $status
