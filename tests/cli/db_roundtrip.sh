# db_roundtrip.sh -- init, apply (with proof files), get, prove, verify the
# proofs with 'basis-trees verify', root, check, stats --json, flush,
# compact, and that everything survives closing and reopening.
. "$(dirname "$0")/lib/common.sh"

key() { printf '%064x' "$1"; }
val() { printf '%016x' "$1"; }

# --- init with two trees, list them
expect_status 0 "$BT" init db --tree notes --key-len 32 --values 8 --tree blobs --key-len 4 --json
[ "$(json_get out.txt 'len(d)')" = 2 ] || fail "init --json should print two trees"
expect_status 0 "$BT" tree list db --json
[ "$(json_get out.txt '[t["tree"] for t in d]')" = "['blobs', 'notes']" ] || fail "tree list"
[ "$(json_get out.txt 'd[1]["value_length"]')" = 8 ] || fail "notes has 8-byte values"
EMPTY=$(json_get out.txt 'd[1]["digest"]')
expect_status 1 "$BT" init db                        # not empty
expect_status 1 "$BT" tree create db notes          # exists
expect_status 2 "$BT" init db2 --key-len 3           # --key-len before --tree
expect_status 0 "$BT" tree create db extra --key-len 8 --values var

# --- apply 250 inserts in batches of 100, plus one failing op
: >ops.jsonl
for i in $(seq 1 250); do
    printf '{"op":"Insert","key":"%s","value":"%s"}\n' "$(key "$i")" "$(val $((i * 7)))" >>ops.jsonl
done
printf '{"op":"Insert","key":"%s","value":"%s"}\n' "$(key 5)" "$(val 1)" >>ops.jsonl
expect_status 2 "$BT" apply db ops.jsonl              # three trees: --tree needed
expect_status 0 "$BT" apply db --tree notes ops.jsonl --batch 100 --proof-dir proofs --json
cp out.txt apply.json
[ "$(json_get apply.json 'len(d)')" = 3 ] || fail "three batches expected"
[ "$(json_get apply.json 'sum(b["failed"] for b in d)')" = 1 ] || fail "one failed op"
[ "$(json_get apply.json 'd[0]["start_digest"]')" = "$EMPTY" ] || fail "first start digest"
[ "$(json_get apply.json '[b["commit"] for b in d]')" = "[1, 2, 3]" ] || fail "commit seqs"
FINAL=$(json_get apply.json 'd[2]["digest"]')

# every batch proof verifies from its start digest to its end digest
for n in 0 1 2; do
    start=$(json_get apply.json "d[$n]['start_digest']")
    end=$(json_get apply.json "d[$n]['digest']")
    seq=$(json_get apply.json "d[$n]['commit']")
    expect_status 0 "$BT" verify --params 32:8 --digest "$start" \
        --proof "@proofs/commit-$seq.proof" --ops "proofs/commit-$seq.ops" --expect "$end"
done
[ "$(wc -l <proofs/commit-3.ops)" = 50 ] || fail "commit-3.ops holds the 50 succeeded ops"

# --- get (and absent keys)
expect_status 0 "$BT" get db --tree notes "$(key 17)"
[ "$(cat out.txt)" = "$(val 119)" ] || fail "get returned $(cat out.txt)"
expect_status 1 "$BT" get db --tree notes "$(key 999)"
expect_status 1 "$BT" get db --tree notes "$(key 999)" --json
[ "$(json_get out.txt 'd["found"]')" = False ] || fail "get --json found:false"
expect_status 2 "$BT" get db --tree notes zz

# --- lookup proofs (present and absent keys) verify against the root
expect_status 0 "$BT" prove db --tree notes "$(key 3)" "$(key 999)" --json
cp out.txt prove.json
[ "$(json_get prove.json 'd["start_digest"] == d["digest"]')" = True ] || fail "lookups change nothing"
[ "$(json_get prove.json 'd["start_digest"]')" = "$FINAL" ] || fail "prove starts at the root"
printf '{"op":"Lookup","key":"%s"}\n{"op":"Lookup","key":"%s"}\n' "$(key 3)" "$(key 999)" >lookups.jsonl
expect_status 0 "$BT" verify --params 32:8 --digest "$FINAL" \
    --proof "$(json_get prove.json 'd["proof"]')" --ops lookups.jsonl --expect "$FINAL"
grep -q "\"old\":\"$(val 21)\"" out.txt || fail "verified lookup returns the value"
grep -q '"old":null' out.txt || fail "verified lookup of an absent key returns null"

# --- what-if proof: the digest it predicts is the one apply then commits
printf '{"op":"Update","key":"%s","value":"%s"}\n{"op":"Remove","key":"%s"}\n' \
    "$(key 10)" "$(val 1)" "$(key 11)" >whatif.jsonl
expect_status 0 "$BT" prove db --tree notes --whatif whatif.jsonl --json
cp out.txt whatif.json
PREDICTED=$(json_get whatif.json 'd["digest"]')
expect_status 0 "$BT" verify --params 32:8 --digest "$FINAL" \
    --proof "$(json_get whatif.json 'd["proof"]')" --ops whatif.jsonl --expect "$PREDICTED"
expect_status 0 "$BT" root db --tree notes --json
[ "$(json_get out.txt 'd["digest"]')" = "$FINAL" ] || fail "what-if changed the tree"
expect_status 0 "$BT" apply db --tree notes whatif.jsonl --json
[ "$(json_get out.txt 'd["digest"]')" = "$PREDICTED" ] || fail "apply differs from what-if"
expect_status 1 "$BT" get db --tree notes "$(key 11)"

# --- root: the SAvlTree register is 0x64 || digest || flags || ...
expect_status 0 "$BT" root db --json
[ "$(json_get out.txt 'len(d)')" = 3 ] || fail "root lists every tree"
REG=$(json_get out.txt '[t for t in d if t["tree"] == "notes"][0]["register"]')
[ "$REG" = "64${PREDICTED}03200108" ] || fail "register $REG"
[ "$(json_get out.txt '[t for t in d if t["tree"] == "notes"][0]["keys"]')" = 249 ] || fail "keys"

# --- check, stats, flush, compact, then the state after all these reopens
expect_status 0 "$BT" check db
grep -q "notes ok (249 keys)" out.txt || fail "check output"
expect_status 0 "$BT" stats db --json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["trees"] == 3 and d["commits"] >= 4, d' <out.txt \
    || fail "stats --json"
expect_status 0 "$BT" stats db
grep -q '^commits' out.txt || fail "stats table"
expect_status 0 "$BT" flush db
expect_status 0 "$BT" compact db --json
python3 -c 'import json,sys; json.load(sys.stdin)' <out.txt || fail "compact --json"
expect_status 0 "$BT" get db --tree notes "$(key 250)"
[ "$(cat out.txt)" = "$(val 1750)" ] || fail "value after compact"
expect_status 0 "$BT" root db --tree notes
grep -q "digest=$PREDICTED" out.txt || fail "digest after reopen"

# --- stdin, a malformed line stops before its batch commits
printf '{"op":"Insert","key":"%s","value":"%s"}\nnot json\n' "$(key 400)" "$(val 4)" \
    | { expect_status 1 "$BT" apply db --tree notes - ; }
grep -q -- "apply: -:2:" err.txt || fail "malformed line named as -:2"
expect_status 1 "$BT" get db --tree notes "$(key 400)"
echo "ok"
