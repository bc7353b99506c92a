# snapshot.sh -- export a tree built by inserts, updates and removals,
# import it into an empty database and into the same one under another
# name: same digest, same proofs, survives reopening; damaged, truncated and
# foreign files are rejected and import nothing; usage errors.
. "$(dirname "$0")/lib/common.sh"

key() { printf '%064x' "$1"; }
val() { printf '%016x' "$1"; }

expect_status 0 "$BT" init db --tree notes --key-len 32 --values 8
: >ops.jsonl
for i in $(seq 1 600); do
    printf '{"op":"Insert","key":"%s","value":"%s"}\n' "$(key $((i * 7919 % 10007)))" "$(val "$i")" >>ops.jsonl
done
for i in $(seq 1 600 3); do
    printf '{"op":"Remove","key":"%s"}\n' "$(key $((i * 7919 % 10007)))" >>ops.jsonl
done
for i in $(seq 2 600 5); do
    printf '{"op":"Update","key":"%s","value":"%s"}\n' "$(key $((i * 7919 % 10007)))" "$(val 9)" >>ops.jsonl
done
expect_status 0 "$BT" apply db --tree notes ops.jsonl --batch 97
expect_status 0 "$BT" root db --tree notes --json
DIGEST=$(json_get out.txt 'd["digest"]')
KEYS=$(json_get out.txt 'd["keys"]')

# --- export (read-only open) and import into a new database
expect_status 0 "$BT" export db --tree notes notes.snap --json
[ "$(json_get out.txt 'd["digest"]')" = "$DIGEST" ] || fail "export digest"
[ "$(json_get out.txt 'd["keys"]')" = "$KEYS" ] || fail "export keys"
[ "$(json_get out.txt 'd["file_bytes"]')" = "$(stat -c %s notes.snap)" ] || fail "file_bytes"
expect_status 0 "$BT" import db2 --tree copy notes.snap --json
[ "$(json_get out.txt 'd["digest"]')" = "$DIGEST" ] || fail "import digest"
expect_status 0 "$BT" root db2 --tree copy --json
[ "$(json_get out.txt 'd["digest"]')" = "$DIGEST" ] || fail "digest after reopen"
[ "$(json_get out.txt 'd["keys"]')" = "$KEYS" ] || fail "keys after reopen"
expect_status 0 "$BT" check db2
grep -q "copy ok ($KEYS keys)" out.txt || fail "check of the imported tree"

# same proofs from both databases
expect_status 0 "$BT" prove db --tree notes "$(key 7919)" "$(key 5)" --json
P1=$(json_get out.txt 'd["proof"]')
expect_status 0 "$BT" prove db2 --tree copy "$(key 7919)" "$(key 5)" --json
[ "$(json_get out.txt 'd["proof"]')" = "$P1" ] || fail "proofs differ"

# a second copy in the source database; the name must be new
expect_status 0 "$BT" import db --tree notes2 notes.snap
grep -q "^digest $DIGEST" out.txt || fail "import text output"
expect_status 1 "$BT" import db --tree notes notes.snap
grep -q "exists" err.txt || fail "existing tree: $(cat err.txt)"

# the imported tree takes new operations
printf '{"op":"Insert","key":"%s","value":"%s"}\n' "$(key 1)" "$(val 1)" >one.jsonl
expect_status 0 "$BT" apply db2 --tree copy one.jsonl
expect_status 0 "$BT" get db2 --tree copy "$(key 1)"
[ "$(cat out.txt)" = "$(val 1)" ] || fail "get after apply"

# re-export of the copy (before the insert) equals the original file
expect_status 0 "$BT" export db --tree notes2 again.snap
cmp -s notes.snap again.snap || fail "re-export differs"

# --- damaged files import nothing
python3 - <<'PY'
data = bytearray(open("notes.snap", "rb").read())
open("trunc.snap", "wb").write(data[: len(data) // 2])
flip = bytearray(data); flip[len(data) // 3] ^= 0x04
open("flip.snap", "wb").write(flip)
hdr = bytearray(data); hdr[30] ^= 0x01          # key count, header CRC now wrong
open("hdr.snap", "wb").write(hdr)
open("tail.snap", "wb").write(data + b"\0")
PY
for f in trunc flip hdr tail; do
    expect_status 1 "$BT" import db3 --tree t "$f.snap"
    grep -q "data is corrupt" err.txt || fail "$f: $(cat err.txt)"
    grep -q "snapshot" err.txt || fail "$f: message should name the snapshot"
done
expect_status 1 "$BT" import db3 --tree t ops.jsonl
grep -q "bad magic" err.txt || fail "foreign file: $(cat err.txt)"
expect_status 0 "$BT" tree list db3 --json
[ "$(json_get out.txt 'len(d)')" = 0 ] || fail "a damaged import left a tree"
expect_status 1 "$BT" import db3 --tree t missing.snap

# --- usage
expect_status 2 "$BT" export db notes.snap
expect_status 2 "$BT" export db --tree notes
expect_status 2 "$BT" import db --tree x a b c
expect_status 2 "$BT" import db --tree x --checkpoint 1 notes.snap
expect_status 0 "$BT" export --help
grep -q "usage: basis-trees export" out.txt || fail "export --help"
expect_status 0 "$BT" help import
expect_status 1 "$BT" export db --tree nope x.snap
expect_status 1 "$BT" export db --tree notes --checkpoint 3 x.snap
[ ! -e x.snap ] || fail "a failed export left a file"
echo "ok"
