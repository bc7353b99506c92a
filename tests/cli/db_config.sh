# db_config.sh -- --config FILE and the command-line overrides: a good file
# is used, a bad one is refused with exit 2 and FILE:LINE: key named, a
# missing one gives exit 1, overrides beat the file.
. "$(dirname "$0")/lib/common.sh"

cat >good.ini <<'INI'
; every key of docs/OPERATIONS.md
[db]
durability = sync
group_ms = 20
group_ops = 100
cache_size = 64M
flush_ops = 500
flush_size = 1M
min_free_bytes = 1M
read_only = false
create_if_missing = true

[rocksdb]
block_cache_size = 8M
write_buffer_size = 4MiB
compression = zstd
compression.metadata = none
zstd_level = 5
bloom_bits = 12
info_log_level = warn
INI
echo "info_log_dir = $WORK/logs" >>good.ini
mkdir logs

expect_status 0 "$BT" init db --tree t --key-len 8 --config good.ini
: >ops.jsonl
for i in $(seq 1 1200); do
    printf '{"op":"InsertOrUpdate","key":"%016x","value":"%02x"}\n' "$i" $((i % 256)) >>ops.jsonl
done
expect_status 0 "$BT" apply db ops.jsonl --batch 300 --config good.ini --json
[ "$(json_get out.txt 'len(d)')" = 4 ] || fail "four commits"
ls logs | grep -q LOG || fail "info_log_dir not used"
expect_status 0 "$BT" check db --config good.ini
expect_status 0 "$BT" stats db --config good.ini --json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ops"] == 1200, d' <out.txt || fail "stats"

# each kind of bad file: exit 2, message names file, line and key
bad() { # bad LINE KEY TEXT...
    local line=$1 key=$2
    shift 2
    printf '%s\n' "$@" >bad.ini
    expect_status 2 "$BT" stats db --config bad.ini
    grep -q "bad.ini:$line: key '$key'" err.txt || { cat err.txt >&2; fail "message for $key"; }
}
bad 2 cache_sise '[db]' 'cache_sise = 12M'
bad 3 durability '[db]' 'cache_size = 12M' 'durability = fast'
bad 2 cache_size '[db]' 'cache_size = 12Q'
bad 2 zstd_level '[rocksdb]' 'zstd_level = 99'
bad 2 flush_ops '[db]' 'flush_ops = many'
bad 2 compression.nodes '[rocksdb]' 'compression.nodes = gzip'
bad 2 durability '[rocksdb]' 'durability = sync'
printf '[dbase]\ncache_size = 1M\n' >bad.ini
expect_status 2 "$BT" get db --config bad.ini 0000000000000001
grep -q "bad.ini:1: unknown section \[dbase\]" err.txt || fail "unknown section"
printf '[db]\nnonsense\n' >bad.ini
expect_status 2 "$BT" get db --config bad.ini 0000000000000001
grep -q "bad.ini:2: syntax error" err.txt || fail "syntax error"
expect_status 1 "$BT" stats db --config missing.ini
grep -q "missing.ini" err.txt || fail "missing config file named"

# overrides: bad values are usage errors; an override beats the file
expect_status 2 "$BT" stats db --durability fast
expect_status 2 "$BT" stats db --cache-size 10X
expect_status 2 "$BT" stats db --zstd-level 40
grep -q "zstd_level" err.txt || fail "range error names the field"
printf '[db]\nflush_ops = 0\n' >bad.ini
expect_status 2 "$BT" stats db --config bad.ini --flush-ops 10
printf '[db]\nflush_ops = 10\n' >ok.ini
expect_status 2 "$BT" stats db --config ok.ini --flush-ops 0
expect_status 0 "$BT" stats db --config ok.ini --flush-ops 1000 --durability none --cache-size 2M
echo "ok"
