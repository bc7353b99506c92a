# history.sh -- the history commands: checkpoint create/list/show/validate/
# rollback/delete, prove --checkpoint (verified with `verify` after the head
# moved on and after reopening), log by sequence, time and key, log export
# (JSON lines and binary), log prune, replay (verify, and point-in-time into a
# new directory).
. "$(dirname "$0")/lib/common.sh"

key() { printf '%064x' "$1"; }
val() { printf '%016x' "$1"; }

expect_status 0 "$BT" init db --tree notes --key-len 32 --values 8
gen() { # gen FROM TO VALUE_OFFSET
    : >"ops-$1.jsonl"
    for i in $(seq "$1" "$2"); do
        printf '{"op":"InsertOrUpdate","key":"%s","value":"%s"}\n' "$(key "$i")" "$(val $((i + $3)))" \
            >>"ops-$1.jsonl"
    done
}
gen 1 300 0
expect_status 0 "$BT" apply db ops-1.jsonl --batch 100 --json
C1_DIGEST=$(json_get out.txt 'd[-1]["digest"]')

# --- a checkpoint, then the head moves on
expect_status 0 "$BT" checkpoint create db --label tx-0001 --json
[ "$(json_get out.txt 'd["id"]')" = 1 ] || fail "first checkpoint id"
[ "$(json_get out.txt 'd["label"]')" = tx-0001 ] || fail "label"
[ "$(json_get out.txt 'd["trees"][0]["digest"]')" = "$C1_DIGEST" ] || fail "checkpoint digest"
[ "$(json_get out.txt 'd["op_seq"]')" = 300 ] || fail "checkpoint op seq"
expect_status 2 "$BT" checkpoint create db --label "$(printf 'x%.0s' $(seq 1 200))"
gen 1 150 1000
expect_status 0 "$BT" apply db ops-1.jsonl --batch 50
gen 301 400 0
expect_status 0 "$BT" apply db ops-301.jsonl --batch 50 --json
HEAD=$(json_get out.txt 'd[-1]["digest"]')
[ "$HEAD" != "$C1_DIGEST" ] || fail "the head should have moved"
expect_status 0 "$BT" checkpoint create db
expect_status 0 "$BT" checkpoint list db --json
[ "$(json_get out.txt '[c["id"] for c in d]')" = "[1, 2]" ] || fail "two checkpoints"
expect_status 0 "$BT" checkpoint validate db --json
[ "$(json_get out.txt 'all(c["valid"] for c in d)')" = True ] || fail "validate"

# --- the redemption path: proofs against checkpoint 1 verify against its digest
expect_status 0 "$BT" get db --checkpoint 1 "$(key 7)"
[ "$(cat out.txt)" = "$(val 7)" ] || fail "old value at checkpoint 1"
expect_status 0 "$BT" get db "$(key 7)"
[ "$(cat out.txt)" = "$(val 1007)" ] || fail "new value at the head"
expect_status 1 "$BT" get db --checkpoint 1 "$(key 350)"
expect_status 1 "$BT" get db --checkpoint 9 "$(key 7)"
expect_status 0 "$BT" prove db --checkpoint 1 "$(key 7)" "$(key 350)" --json
cp out.txt prove1.json
[ "$(json_get prove1.json 'd["start_digest"]')" = "$C1_DIGEST" ] || fail "proof starts at the checkpoint"
printf '{"op":"Lookup","key":"%s"}\n{"op":"Lookup","key":"%s"}\n' "$(key 7)" "$(key 350)" >lk.jsonl
expect_status 0 "$BT" verify --params 32:8 --digest "$C1_DIGEST" \
    --proof "$(json_get prove1.json 'd["proof"]')" --ops lk.jsonl --expect "$C1_DIGEST"
grep -q "\"old\":\"$(val 7)\"" out.txt || fail "the verified value is the checkpoint's"

# --- the log: by sequence, by key, by time, export
expect_status 0 "$BT" log db --from 301 --to 305 --json
[ "$(json_get out.txt 'len(d)')" = 5 ] || fail "five ops"
[ "$(json_get out.txt 'd[0]["op_seq"]')" = 301 ] || fail "first seq"
[ "$(json_get out.txt 'd[0]["prev"]')" = "$(val 1)" ] || fail "previous value logged"
expect_status 0 "$BT" log db --tree notes --key "$(key 7)" --json
[ "$(json_get out.txt '[e["value"] for e in d]')" = "['$(val 7)', '$(val 1007)']" ] || fail "key history"
expect_status 0 "$BT" log db --since 0 --json
[ "$(json_get out.txt 'len(d)')" = 550 ] || fail "time query over all"
expect_status 0 "$BT" log db --since 99999999999999 --json
[ ! -s out.txt ] || fail "no ops in the future"
expect_status 2 "$BT" log db --key "$(key 7)"
expect_status 0 "$BT" log db --export all.jsonl
[ "$(wc -l <all.jsonl)" = 550 ] || fail "export lines"
expect_status 0 "$BT" log db --export all.bin --format binary
[ "$(head -c 4 all.bin)" = BTOL ] || fail "binary export magic"
[ "$(tail -c 4 all.bin | od -An -tx1 | tr -d ' \n')" = 00000000 ] || fail "binary export end"

# --- replay: verify, and point-in-time into a new directory
expect_status 0 "$BT" replay db --json
[ "$(json_get out.txt 'd["ops"]')" = 550 ] || fail "replayed every op"
expect_status 0 "$BT" replay db --into pit --to-seq 300 --json
expect_status 0 "$BT" root pit --json
[ "$(json_get out.txt 'd["digest"]')" = "$C1_DIGEST" ] || fail "point-in-time digest"
expect_status 1 "$BT" replay db --into pit

# --- rollback to checkpoint 1 (saving what it discards), then continue
expect_status 0 "$BT" checkpoint rollback db 1 --save-discarded discarded.jsonl
[ "$(wc -l <discarded.jsonl)" = 250 ] || fail "discarded ops saved"
expect_status 0 "$BT" root db --json
[ "$(json_get out.txt 'd["digest"]')" = "$C1_DIGEST" ] || fail "rolled back"
expect_status 1 "$BT" checkpoint show db 2
expect_status 0 "$BT" check db
gen 301 310 0
expect_status 0 "$BT" apply db ops-301.jsonl --json
[ "$(json_get out.txt 'd["commit"]')" = 4 ] || fail "commit seqs continue from the checkpoint's"
expect_status 0 "$BT" log db --from 301 --json
[ "$(json_get out.txt 'len(d)')" = 10 ] || fail "the log continues at op 301"

# --- prune: never below the oldest checkpoint
expect_status 0 "$BT" log prune db --before 1000 --json
[ "$(json_get out.txt 'd["first"] <= 301')" = True ] || fail "pruned past the checkpoint"
expect_status 1 "$BT" replay db
expect_status 0 "$BT" replay db --from-checkpoint 1 --json
[ "$(json_get out.txt 'd["ops"]')" = 10 ] || fail "replay from the checkpoint: the 10 ops after it"
expect_status 0 "$BT" checkpoint delete db 1
expect_status 1 "$BT" checkpoint delete db 1
expect_status 0 "$BT" check db
expect_status 0 "$BT" checkpoint list db --json
[ ! -s out.txt ] || fail "no checkpoints left"
echo "history.sh: ok"
