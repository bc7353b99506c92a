# tour.sh -- the five-minute tour of README.md, run as written (the
# non-interactive commands), on a small demo directory instead of `make run`'s.
# Checks every exit status and a few --json fields, so that the README stays
# true.  When the tour in README.md changes, change this script with it.
. "$(dirname "$0")/lib/common.sh"
B=$BT

# json_num FILE NAME: the first "NAME":number in FILE (no jq on a fresh machine).
json_num() { grep -o "\"$2\":[0-9]*" "$1" | head -1 | cut -d: -f2; }
json_str() { grep -o "\"$2\":\"[^\"]*\"" "$1" | head -1 | cut -d'"' -f4; }

# --- make run, small: a tracker's day on ./demo-data; --keep 3 so that, as
# after `make run`, the first checkpoints have been deleted by retention.
expect_status 0 "$B" demo demo-data --fresh --updates 5000 --participants 300 --checkpoint-every 1000 \
    --keep 3
for d in demo-data/db demo-data/backups demo-data/restored; do
    [ -d "$d" ] || fail "demo did not create $d"
done
grep -q "R5 register" out.txt || fail "demo summary has no R5 register"
DB=demo-data/db

# --- 1. the demo's database
expect_status 0 "$B" tree list "$DB" --json
grep -q '"tree":"tracker"' out.txt || fail "no tracker tree in the demo database"
expect_status 0 "$B" root "$DB" --tree tracker --json
ROOT=$(json_str out.txt digest)
[ ${#ROOT} = 66 ] || fail "root digest '$ROOT' is not 33 bytes"
expect_status 0 "$B" stats "$DB" --json
[ "$(json_num out.txt ops)" -ge 5000 ] || fail "stats: fewer than 5000 ops logged"
expect_status 0 "$B" checkpoint list "$DB"
[ "$(grep -c '^checkpoint ' out.txt)" = 3 ] || fail "checkpoint list: want the 3 kept"
expect_status 0 "$B" checkpoint list "$DB" --json
OLDEST=$(head -1 out.txt | grep -o '"id":[0-9]*' | cut -d: -f2)
expect_status 0 "$B" checkpoint show "$DB" --json
CP=$(json_num out.txt id)
[ "$CP" = 5 ] && [ "$OLDEST" = 3 ] || fail "checkpoints $OLDEST..$CP kept, want 3..5"
expect_status 0 "$B" log "$DB" --from 1 --to 5
[ "$(wc -l <out.txt)" = 5 ] || fail "log --from 1 --to 5 printed $(wc -l <out.txt) lines"

# a note key from the log, its history, its value now and at the first commitment
expect_status 0 "$B" log "$DB" --from 1 --to 1 --json
KEY=$(json_str out.txt key)
[ ${#KEY} = 64 ] || fail "key '$KEY' from the log"
expect_status 0 "$B" log "$DB" --tree tracker --key "$KEY"
[ -s out.txt ] || fail "the key's history is empty"
expect_status 0 "$B" get "$DB" --tree tracker "$KEY"
expect_status 0 "$B" get "$DB" --tree tracker --checkpoint "$OLDEST" "$KEY" --json
[ "$(json_str out.txt value)" != "" ] || fail "get --checkpoint OLDEST --json has no value"
expect_status 1 "$B" get "$DB" --tree tracker --checkpoint 1 "$KEY"

# a redemption proof against the newest commitment, checked as a light client would
"$B" prove "$DB" --tree tracker --checkpoint "$CP" "$KEY" >proof.txt || fail "prove --checkpoint"
awk '$1 == "proof" { print $2 }' proof.txt >proof.hex
START=$(awk '$1 == "start_digest" { print $2 }' proof.txt)
echo "{\"op\":\"Lookup\",\"key\":\"$KEY\"}" >lookup.jsonl
expect_status 0 "$B" verify --params 32:8 --digest "$START" --proof @proof.hex --ops lookup.jsonl
grep -q '"ok":true' out.txt || fail "verify: the lookup did not succeed"
expect_status 0 "$B" checkpoint show "$DB" "$CP" --json
grep -q "\"digest\":\"$START\"" out.txt || fail "the proof's start digest is not checkpoint $CP's"
# ... and the verifier rejects it against another digest
OTHER=$("$B" checkpoint show "$DB" "$OLDEST" --json | grep -o '"digest":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)
expect_status 1 "$B" verify --params 32:8 --digest "$OTHER" --proof @proof.hex --ops lookup.jsonl

# --- 2. a database of your own
K1=0000000000000000000000000000000000000000000000000000000000000001
K2=0000000000000000000000000000000000000000000000000000000000000002
K3=0000000000000000000000000000000000000000000000000000000000000003
expect_status 0 "$B" init mydb --tree tracker --key-len 32 --values 8
cat >ops.jsonl <<EOF
{"op":"Insert","key":"$K1","value":"0000000000000064"}
{"op":"Insert","key":"$K2","value":"00000000000000c8"}
{"op":"InsertOrUpdate","key":"$K3","value":"000000000000012c"}
EOF
expect_status 0 "$B" apply mydb ops.jsonl --json
[ "$(json_num out.txt commit)" = 1 ] && [ "$(json_num out.txt failed)" = 0 ] ||
    fail "apply: want commit 1 with no failed op"
expect_status 0 "$B" get mydb $K1
[ "$(cat out.txt)" = 0000000000000064 ] || fail "get K1: $(cat out.txt)"
expect_status 1 "$B" get mydb 0000000000000000000000000000000000000000000000000000000000000009
expect_status 0 "$B" prove mydb $K1 $K2 --json
[ "$(grep -o '"ok":true' out.txt | wc -l)" = 2 ] || fail "prove: two found keys"

expect_status 0 "$B" checkpoint create mydb --label "block 1" --json
[ "$(json_num out.txt id)" = 1 ] || fail "first checkpoint id"
echo "{\"op\":\"Update\",\"key\":\"$K1\",\"value\":\"00000000000003e8\"}" >update.jsonl
expect_status 0 "$B" apply mydb update.jsonl --proof-dir proofs --json
START=$(json_str out.txt start_digest)
END=$(json_str out.txt digest)
[ -f proofs/commit-2.proof ] && [ -f proofs/commit-2.ops ] || fail "apply --proof-dir wrote no proof"
expect_status 0 "$B" verify --params 32:8 --digest "$START" --proof @proofs/commit-2.proof \
    --ops proofs/commit-2.ops --expect "$END"
expect_status 0 "$B" get mydb $K1
[ "$(cat out.txt)" = 00000000000003e8 ] || fail "get K1 after the update: $(cat out.txt)"
expect_status 0 "$B" get mydb --checkpoint 1 $K1
[ "$(cat out.txt)" = 0000000000000064 ] || fail "get --checkpoint 1 K1: $(cat out.txt)"

expect_status 0 "$B" checkpoint rollback mydb 1 --save-discarded discarded.jsonl
[ "$(wc -l <discarded.jsonl)" = 1 ] || fail "rollback discarded $(wc -l <discarded.jsonl) ops, want 1"
expect_status 0 "$B" get mydb $K1
[ "$(cat out.txt)" = 0000000000000064 ] || fail "get K1 after the rollback: $(cat out.txt)"

expect_status 0 "$B" replay mydb --json
[ "$(json_num out.txt ops)" = 3 ] || fail "replay: want 3 ops"
expect_status 0 "$B" replay mydb --into mydb-at-op-3 --to-seq 3 --json
expect_status 0 "$B" root mydb-at-op-3 --json
AT3=$(json_str out.txt digest)
expect_status 0 "$B" root mydb --json
[ "$AT3" = "$(json_str out.txt digest)" ] || fail "replay --into: digest differs"

expect_status 0 "$B" backup create mydb mybackups
expect_status 0 "$B" backup list mybackups --json
[ "$(json_num out.txt id)" = 1 ] || fail "backup list: id"
expect_status 0 "$B" backup restore mybackups mydb-restored
expect_status 0 "$B" check mydb-restored --json
grep -q '"ok":true' out.txt || fail "check of the restored copy"
expect_status 0 "$B" root mydb-restored --json
[ "$AT3" = "$(json_str out.txt digest)" ] || fail "restored digest differs"

expect_status 0 "$B" stats mydb --prometheus
grep -q '^basistrees_keys 3$' out.txt || fail "stats --prometheus: basistrees_keys"

I=021111111111111111111111111111111111111111111111111111111111111111
R=032222222222222222222222222222222222222222222222222222222222222222
cat >notes.jsonl <<EOF
{"issuer_pubkey":"$I","recipient_pubkey":"$R","total_debt":50000000,"timestamp":1}
{"issuer_pubkey":"$I","recipient_pubkey":"$R","total_debt":70000000,"timestamp":2}
EOF
expect_status 0 "$B" migrate --tracker notes.jsonl --db migrated --tree tracker --json
MIG=$(json_str out.txt digest)
expect_status 0 "$B" root migrated --json
[ "$MIG" = "$(json_str out.txt digest)" ] || fail "migrate --db: digest differs"
[ "$(json_num out.txt keys)" = 1 ] || fail "migrate: two updates of one note make one key"
echo "tour.sh: ok"
