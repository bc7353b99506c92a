#!/usr/bin/env bash
# corrupt_files.sh -- damaged files of our own formats: snapshots (export)
# and backups (README.md, "Corruption").
#
#   corrupt_files.sh WORK [TRIALS] [CLASS...]      classes: snapshot backup
#
# Builds a template database (inserts, updates, removals, a checkpoint),
# exports its tree to a snapshot file and makes a verified backup.  Then, per
# class, TRIALS times: copy the file (snapshot) or the backup directory
# (backup), damage one file with relcorrupt (bit flips, a cut, a zeroed
# range), and use it the way an operator would:
#   snapshot  basis-trees import NEWDB --tree copy FILE
#   backup    basis-trees backup restore BACKUP_DIR TARGET
# Outcomes:
#   survived  it worked and the result has the original digest and key
#             count (and passes `check`): the damage hit nothing that matters
#             or left the bytes as they were;
#   detected  refused with a corruption message, nothing imported/restored;
#   other     refused with another message, nothing imported/restored;
#   SILENT    it worked with a wrong result, left a partial result behind, or
#             the process died of a signal -- the failure this test exists
#             to find.
# Prints one line per class and "N classes passed, 0 failed" (exit 0) or the
# SILENT trials (exit 1); exit 2: could not run.
# Environment: CRASH_BINDIR, REL_BINDIR (as the other loops; basis-trees is
# taken from CRASH_BINDIR/../../basis-trees unless REL_BT names it),
# REL_CORRUPT_SEED (default 1).
set -u
WORK=${1:?usage: corrupt_files.sh WORK [TRIALS] [CLASS...]}
TRIALS=${2:-200}
shift $(($# < 2 ? $# : 2))
BT=${REL_BT:-${CRASH_BINDIR:?}/../../basis-trees}
RC=${REL_BINDIR:?}/relcorrupt
for f in "$BT" "$RC"; do
    [ -x "$f" ] || { echo "corrupt_files: $f not found" >&2; exit 2; }
done
case $TRIALS in '' | *[!0-9]*) echo "corrupt_files: bad trial count" >&2; exit 2 ;; esac
SEED=${REL_CORRUPT_SEED:-1}
CLASSES=(snapshot backup)
[ $# -gt 0 ] && CLASSES=("$@")
DETECTED='corrupt|checksum|[Mm]ismatch|CRC|crc'

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2

# ---- the template ----------------------------------------------------------
key() { printf '%064x' "$1"; }
{
    for ((i = 1; i <= 3000; i++)); do
        printf '{"op":"Insert","key":"%s","value":"%016x"}\n' "$(key $((i * 7919 % 100003)))" $i
    done
    for ((i = 1; i <= 3000; i += 7)); do
        printf '{"op":"Remove","key":"%s"}\n' "$(key $((i * 7919 % 100003)))"
    done
    for ((i = 2; i <= 3000; i += 5)); do
        printf '{"op":"Update","key":"%s","value":"%016x"}\n' "$(key $((i * 7919 % 100003)))" $((i + 1))
    done
} >ops.jsonl
run() { "$@" >tmpl.out 2>&1 || { echo "corrupt_files: template: $* failed:"; cat tmpl.out; exit 2; }; }
run "$BT" init db --tree notes --key-len 32 --values 8
run "$BT" apply db --tree notes ops.jsonl --batch 250
run "$BT" checkpoint create db
run "$BT" root db --tree notes --json
# {"tree":..,"digest":"..","keys":N,...}
DIGEST=$(sed -n 's/.*"digest":"\([0-9a-f]*\)".*/\1/p' tmpl.out)
KEYS=$(sed -n 's/.*"keys":\([0-9]*\).*/\1/p' tmpl.out)
[ -n "$DIGEST" ] && [ -n "$KEYS" ] || { echo "corrupt_files: no digest in: $(cat tmpl.out)"; exit 2; }
run "$BT" export db --tree notes notes.snap
run "$BT" backup create db bk

# same_tree DB TREE: 0 if DB's TREE has the template's digest and key count
# and the database passes check.
same_tree() {
    local out
    out=$("$BT" root "$1" --tree "$2" --json 2>&1) || return 1
    [ "$(sed -n 's/.*"digest":"\([0-9a-f]*\)".*/\1/p' <<<"$out")" = "$DIGEST" ] || return 1
    [ "$(sed -n 's/.*"keys":\([0-9]*\).*/\1/p' <<<"$out")" = "$KEYS" ] || return 1
    "$BT" check "$1" >/dev/null 2>&1
}

# classify RC OUTPUT LEFTOVER: the outcome of a refused attempt (LEFTOVER:
# "yes" if a result was left behind anyway).
classify() {
    if [ "$1" -ge 128 ]; then echo SILENT; return; fi
    if [ "$3" = yes ]; then echo SILENT; return; fi
    if grep -qE "$DETECTED" <<<"$2"; then echo detected; else echo other; fi
}

trial_snapshot() { # t seed how -> outcome line
    local t=$1 s=$2 how=$3 what out rc o
    rm -rf case.snap case-db
    cp notes.snap case.snap
    what=$("$RC" case.snap "$how" "$s") || { printf 'survived\t%d\tnothing to damage\t\n' "$t"; return; }
    out=$("$BT" import case-db --tree copy case.snap 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        if same_tree case-db copy; then o=survived; else o=SILENT; fi
    else
        local left=no
        [ -d case-db ] && "$BT" root case-db --tree copy >/dev/null 2>&1 && left=yes
        o=$(classify $rc "$out" $left)
    fi
    printf '%s\t%d\t%s\t%s\n' "$o" "$t" "$what" "$(tr '\n' ' ' <<<"$out" | cut -c1-200)"
}

BK_FILES=()
while IFS= read -r f; do BK_FILES+=("$f"); done < <(cd bk && find . -type f -size +0 | sort)
trial_backup() {
    local t=$1 s=$2 how=$3 what out rc o target
    rm -rf case-bk case-target
    cp -a bk case-bk
    target=${BK_FILES[$((s % ${#BK_FILES[@]}))]}
    what="$target: $("$RC" "case-bk/$target" "$how" "$s")" ||
        { printf 'survived\t%d\tnothing to damage\t\n' "$t"; return; }
    out=$("$BT" backup restore case-bk case-target 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        if same_tree case-target notes; then o=survived; else o=SILENT; fi
    else
        local left=no
        [ -e case-target ] && left=yes
        o=$(classify $rc "$out" $left)
    fi
    printf '%s\t%d\t%s\t%s\n' "$o" "$t" "$what" "$(tr '\n' ' ' <<<"$out" | cut -c1-200)"
}

fails=0
for cls in "${CLASSES[@]}"; do
    case $cls in snapshot | backup) ;; *) echo "corrupt_files: unknown class $cls" >&2; exit 2 ;; esac
    : >"res-$cls"
    for ((t = 1; t <= TRIALS; t++)); do
        s=$((SEED * 1000003 + t * 7919))
        case $((t % 3)) in 0) how=flip ;; 1) how=trunc ;; 2) how=zero ;; esac
        ((t % 6 == 5)) && how=flip
        "trial_$cls" $t $s $how >>"res-$cls"
    done
    surv=$(grep -c '^survived' "res-$cls")
    det=$(grep -c '^detected' "res-$cls")
    oth=$(grep -c '^other' "res-$cls")
    silent=$(grep -c '^SILENT' "res-$cls")
    echo "corrupt_files: class $cls: $TRIALS trials: $surv survived, $det detected, $oth other error, $silent SILENT"
    grep '^other' "res-$cls" | head -n 3 | cut -c1-300 | sed 's/^/    /'
    grep '^SILENT' "res-$cls" | head -n 5 | cut -c1-400 | sed 's/^/corrupt_files: SILENT: /'
    fails=$((fails + silent))
done
if [ $fails -ne 0 ]; then
    echo "0 passed, $fails failed"
    exit 1
fi
echo "${#CLASSES[@]} classes passed, 0 failed"
