# db_vectors_big.sh -- 'vectors big --db' must print line 1 of
# big_reference.jsonl (seed 1, n 10000, full mode, checkpoint every 10), also
# when the database is reopened every 7 batches with tiny flush thresholds.
. "$(dirname "$0")/lib/common.sh"

head -n 1 "$VECTORS/big_reference.jsonl" >want.json
same() {
    python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a != b)' \
        "$1" want.json || fail "$2: output differs from big_reference.jsonl line 1"
}
expect_status 0 "$BT" vectors big --db db1 --seed 1 --n 10000 --mode full --checkpoint 10
same out.txt "vectors big --db"
expect_status 0 "$BT" vectors big --db db2 --tree other --seed 1 --n 10000 --mode full \
    --checkpoint 10 --reopen-every 7 --flush-ops 3000 --durability sync
same out.txt "vectors big --db --reopen-every 7"
expect_status 0 "$BT" check db2 --tree other
echo "ok"
