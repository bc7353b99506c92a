# help.sh -- every command answers --help, and the top-level help lists them all.
#
# The command list is parsed from `basis-trees --help`, so a command added
# there is covered without editing this script.  For each command CMD:
#   * `basis-trees CMD --help` exits 0 and prints a line "usage: basis-trees CMD";
#   * `basis-trees help CMD` prints the same text;
#   * `basis-trees CMD --no-such-option` exits 2 (a usage error);
#   * each subcommand named in CMD's usage lines (`tree create`, `backup list`,
#     ...) does the same.
# And the other way round: every command in the dispatch table of
# tools/main.c appears in `basis-trees --help`.
. "$(dirname "$0")/lib/common.sh"
SRC=$(realpath "$(dirname "$0")/../..")

expect_status 0 "$BT" --help
cp out.txt main-help.txt
grep -q "^usage: basis-trees COMMAND" main-help.txt || fail "--help has no usage line"
expect_status 0 "$BT" help
cmp -s out.txt main-help.txt || fail "'help' differs from '--help'"
expect_status 2 "$BT"
expect_status 2 "$BT" no-such-command
expect_status 2 "$BT" help no-such-command

# Command names: lines indented by exactly two spaces start with one; a line
# may name several, separated by " | " (e.g. "stats DIR | check DIR").
commands=$(python3 - main-help.txt <<'PY'
import re, sys
names = []
for line in open(sys.argv[1]):
    if not re.match(r"  [a-z]", line):
        continue
    for part in line.strip().split(" | "):
        m = re.match(r"([a-z][a-z-]*)(\s|$)", part)
        if m and m.group(1) not in names:
            names.append(m.group(1))
print(" ".join(names))
PY
)
n=$(echo "$commands" | wc -w)
[ "$n" -ge 20 ] || fail "parsed only $n commands from --help: $commands"

# The dispatch table in tools/main.c: {"name", cmd_...}.
if [ -f "$SRC/tools/main.c" ]; then
    for c in $(sed -n 's/^ *{"\([a-z-]*\)", *cmd_[a-z_]*},.*/\1/p' "$SRC/tools/main.c"); do
        case " $commands " in
        *" $c "*) ;;
        *) fail "command '$c' is in tools/main.c but not in 'basis-trees --help'" ;;
        esac
    done
fi

# The manual page: the tags of the .TP/.TQ paragraphs of its section COMMANDS,
# as plain words ("tree create DIR NAME ..."); every command and subcommand
# must have one.
MAN=$SRC/docs/basis-trees.1
[ -f "$MAN" ] || fail "no docs/basis-trees.1"
awk '/^\.SH/ { inside = ($2 == "COMMANDS") }
     inside && (prev == ".TP" || prev == ".TQ") { print }
     { prev = $0 }' "$MAN" | sed 's/\\-/-/g; s/^\.[BIR]* "\{0,1\}//' >man-tags.txt

checked=0
check_help() { # check_help WORDS...: "CMD" or "CMD SUB"
    grep -q "^$*\b" man-tags.txt || fail "docs/basis-trees.1 has no entry for '$*'"
    expect_status 0 "$BT" "$@" --help
    grep -q "usage: basis-trees $*\\b" out.txt || grep -q "^ *basis-trees $*\\b" out.txt ||
        fail "'$* --help' prints no usage line naming '$*'"
    [ "$(wc -l <out.txt)" -ge 3 ] || fail "'$* --help' is shorter than 3 lines"
    [ ! -s err.txt ] || fail "'$* --help' wrote to stderr: $(cat err.txt)"
    cp out.txt "help-$(echo "$*" | tr ' ' '-').txt"
    # `bench` hands unknown options to the bench_vs program beside the binary;
    # without that program (a build of the basis-trees target only) it exits 1.
    if [ "$1" = bench ] && [ ! -x "$(dirname "$BT")/bench_vs" ]; then
        echo "help.sh: bench_vs not built: skipping 'bench --no-such-option'"
        checked=$((checked + 1))
        return 0
    fi
    expect_status 2 "$BT" "$@" --no-such-option
    grep -q -e "--help" -e "^usage:" err.txt ||
        fail "'$* --no-such-option' shows neither the usage nor a pointer to --help: $(cat err.txt)"
    checked=$((checked + 1))
}

for c in $commands; do
    [ "$c" = help ] && continue # `help CMD` is checked below for every CMD
    check_help "$c"
    expect_status 0 "$BT" help "$c"
    cmp -s out.txt "help-$c.txt" || fail "'help $c' differs from '$c --help'"
    # Subcommands: "usage: basis-trees CMD SUB ..." or "       basis-trees CMD SUB ...".
    subs=$(sed -n "s/^\\(usage:\\)\\{0,1\\} *basis-trees $c \\([a-z][a-z-]*\\)\\( .*\\)\\{0,1\\}\$/\\2/p" \
        "help-$c.txt" | sort -u)
    for s in $subs; do
        check_help "$c" "$s"
    done
done
# An unknown option or a missing value gets one message naming it (and no
# second one from getopt), exit status 2, for every command.
for c in $commands; do
    [ "$c" = help ] && continue
    expect_status 2 "$BT" $c --no-such-option
    [ "$(wc -l <err.txt)" = 1 ] || fail "'$c --no-such-option' printed $(wc -l <err.txt) lines: $(cat err.txt)"
    grep -q -- "--no-such-option" err.txt || fail "'$c --no-such-option' does not name the option: $(cat err.txt)"
done
for c in "backup create db bk --keep-days" "serve-metrics db --listen" "migrate --batch" "apply db --batch"; do
    expect_status 2 "$BT" $c
    [ "$(wc -l <err.txt)" = 1 ] && grep -q "needs a value" err.txt || fail "'$c': $(cat err.txt)"
done
# Every option that a --help text names is described in the manual page.
expect_status 0 "$BT" demo some-dir --help # the data-directory demo has its own help
cp out.txt help-demo-dir.txt
expect_status 0 "$BT" stats some-dir --prometheus --help
cp out.txt help-stats-prometheus.txt
sed 's/\\-/-/g' "$MAN" >man-plain.txt
for o in $(cat help-*.txt main-help.txt | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
    grep -q -- "$o\([^a-z0-9-]\|\$\)" man-plain.txt || fail "option $o (in a --help text) is not in docs/basis-trees.1"
done

# The manual page renders without warnings (when groff is installed).
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$MAN" 2>man-warnings.txt || fail "groff failed on the man page"
    [ ! -s man-warnings.txt ] || fail "the man page renders with warnings: $(cat man-warnings.txt)"
fi
echo "help.sh: $checked commands and subcommands checked"
