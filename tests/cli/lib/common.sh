# common.sh -- sourced by the tests/cli/*.sh scripts (kept in lib/ so that ctest,
# which registers tests/cli/*.sh, does not run it as a test).
#
# Each script is run as:  bash SCRIPT BINARY VECTORS_DIR
# It works in a fresh temporary directory, removed on exit, and fails with a
# message naming the step.

set -eu
BT=$(realpath "${1:?usage: $0 BINARY VECTORS_DIR}")
VECTORS=$(realpath "${2:?usage: $0 BINARY VECTORS_DIR}")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bt-cli-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_status WANT CMD...: runs CMD, fails unless its exit status is WANT.
# Its stdout is left in out.txt and its stderr in err.txt.
expect_status() {
    local want=$1 got=0
    shift
    "$@" >out.txt 2>err.txt || got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stdout" >&2; cat out.txt >&2
        echo "--- stderr" >&2; cat err.txt >&2
        fail "'$*' exited $got, want $want"
    fi
}

# json_get FILE EXPR: evaluates the python expression EXPR on the JSON value
# d parsed from FILE (or on the list d of values of a JSON-lines file).
json_get() {
    python3 - "$1" "$2" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    d = json.loads(text)
except ValueError:
    d = [json.loads(l) for l in text.splitlines() if l.strip()]
print(eval(sys.argv[2]))
PY
}
