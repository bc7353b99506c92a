# ops_backup_metrics.sh -- the operations commands end to end: backup
# create/list/verify/restore/prune, maintain --once, stats --prometheus, and
# serve-metrics scraped over HTTP (python's urllib) with the text parsed
# line by line as Prometheus exposition format 0.0.4.
. "$(dirname "$0")/lib/common.sh"

key() { printf '%064x' "$1"; }
: >ops.jsonl
for i in $(seq 1 400); do
    printf '{"op":"Insert","key":"%s","value":"%016x"}\n' "$(key "$i")" "$i" >>ops.jsonl
done
expect_status 0 "$BT" init db --tree notes --key-len 32 --values var
expect_status 0 "$BT" apply db --tree notes ops.jsonl --batch 100
expect_status 0 "$BT" root db --tree notes
DIGEST=$(sed -n 's/.*digest=\([0-9a-f]*\).*/\1/p' out.txt)

# --- backups
expect_status 0 "$BT" backup create db bk
expect_status 0 "$BT" --log-level info maintain db --backup-dir bk --once --retention-days 7
grep -q "info: compacted" err.txt || fail "maintain should log its compaction at info level"
expect_status 0 "$BT" backup list bk --json
[ "$(json_get out.txt 'len(d)')" = 2 ] || fail "two backups expected"
[ "$(json_get out.txt 'd[1]["commit_seq"]')" = 4 ] || fail "backup holds commit 4"
expect_status 0 "$BT" backup verify bk 1
expect_status 0 "$BT" backup restore bk 1 restored --json
expect_status 0 "$BT" root restored --tree notes
grep -q "$DIGEST" out.txt || fail "restored digest differs"
expect_status 0 "$BT" check restored
[ -s restored/DURABLE ] || fail "restored copy has no durability marker"
expect_status 1 "$BT" backup restore bk 1 restored          # exists
expect_status 1 "$BT" backup restore bk 1 db                # never over a database
expect_status 2 "$BT" backup restore bk                     # usage
expect_status 0 "$BT" backup prune bk --keep-days 0 --keep-min 1
expect_status 0 "$BT" backup list bk --json
[ "$(json_get out.txt '[b["id"] for b in (d if isinstance(d, list) else [d])]')" = "[2]" ] || fail "prune keeps the newest"

# --- metrics as text
expect_status 0 "$BT" stats db --prometheus
cp out.txt stats.prom
cat >check_prom.py <<'PY'
import re, sys
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "text must end with a newline"
types, helps, samples = {}, set(), {}
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
sample = re.compile(r"^(" + name_re + r")(\{(" + name_re.replace(":", "") +
                    r'="(?:[^"\\\n]|\\.)*"(?:,' + name_re.replace(":", "") +
                    r'="(?:[^"\\\n]|\\.)*")*)?\})? (\S+)$')
for n, line in enumerate(text.splitlines(), 1):
    if line.startswith("# HELP "):
        helps.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        parts = line.split()
        assert len(parts) == 4 and parts[3] in ("counter", "gauge", "summary", "histogram", "untyped"), line
        assert parts[2] not in types, "TYPE twice: " + line
        types[parts[2]] = parts[3]; continue
    assert not line.startswith("#"), "bad comment line %d" % n
    m = sample.match(line)
    assert m, "line %d is not a sample: %r" % (n, line)
    name, value = m.group(1), m.group(4)
    float(value)  # parses as a float (NaN/+Inf allowed by float())
    base = re.sub(r"_(sum|count)$", "", name)
    fam = name if name in types else base
    assert fam in types, "sample without TYPE: " + name
    if types[fam] == "counter": assert float(value) >= 0
    samples[name + (m.group(2) or "")] = float(value)
need = ["basistrees_partition_bytes{partition=\"nodes\"}", "basistrees_oplog_length",
        "basistrees_commit_latency_seconds{quantile=\"0.99\"}", "basistrees_node_cache_hit_ratio",
        "basistrees_lookup_latency_seconds_count", "basistrees_last_replay_ops",
        "basistrees_partition_compression_ratio{partition=\"nodes\"}"]
for k in need: assert k in samples, "missing " + k
want = dict(a.split("=", 1) for a in sys.argv[2:])
for k, v in want.items():
    assert samples.get(k) == float(v), "%s = %s, want %s" % (k, samples.get(k), v)
print(len(samples), "samples ok")
PY
python3 check_prom.py stats.prom basistrees_keys=400 basistrees_oplog_length=400 || fail "stats --prometheus is not valid"

# --- the HTTP endpoint
"$BT" serve-metrics db --listen 127.0.0.1:0 --seconds 20 >srv.txt 2>srv.err &
SRV=$!
for _ in $(seq 1 100); do grep -q listening srv.txt 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' srv.txt)
[ -n "$PORT" ] || { kill $SRV; fail "serve-metrics did not start: $(cat srv.err)"; }
python3 - "$PORT" <<'PY' || { kill $SRV; fail "scrape failed"; }
import sys, urllib.request, urllib.error
port = sys.argv[1]
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5)
assert r.status == 200
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
open("http.prom", "wb").write(r.read())
try:
    urllib.request.urlopen("http://127.0.0.1:%s/nothing" % port, timeout=5)
    raise SystemExit("404 expected")
except urllib.error.HTTPError as e:
    assert e.code == 404
PY
kill -TERM $SRV
wait $SRV || fail "serve-metrics should exit 0 on SIGTERM"
python3 check_prom.py http.prom basistrees_keys=400 || fail "scraped text is not valid"
expect_status 2 "$BT" serve-metrics db --listen nonsense
echo ok
