# db_vectors_check.sh -- 'vectors check --db': the prover vectors through the
# persistent store, reopening the database after every batch (the default),
# and a second run with other settings that force node flushes and replay.
. "$(dirname "$0")/lib/common.sh"

for f in prover_random_fixed8 prover_basic; do
    expect_status 0 "$BT" vectors check --db "db-$f" "$VECTORS/$f.jsonl"
    grep -q ", 0 failed" out.txt || fail "$f: $(tail -1 out.txt)"
done
expect_status 0 "$BT" check "db-prover_basic"

# small flush thresholds and no fsync: reopen every 5 batches replays the log
expect_status 0 "$BT" vectors check --db db-var --reopen-every 5 --durability none \
    --flush-ops 50 --compression zstd "$VECTORS/prover_random_var.jsonl"
grep -q ", 0 failed" out.txt || fail "prover_random_var: $(tail -1 out.txt)"
echo "ok"
