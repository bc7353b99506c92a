# ops_migrate.sh -- `migrate` rebuilds Basis trees from upstream-style
# exports: (1) an export generated here whose reference digest comes from
# the core through `init` + `apply` of the same ordered updates (as
# InsertOrUpdate on Blake2b-256(issuer||recipient) keys), in JSON lines and
# CSV, also written into a database; (2) the real Basis data points of
# basis_upstream.jsonl (tracker note of 50,000,000 and the reserve entry).
. "$(dirname "$0")/lib/common.sh"

# --- (1) generated export and its reference through the core
python3 - <<'PY'
import hashlib, json, random
rnd = random.Random(11)
def pk():
    return bytes([rnd.choice([2, 3])]) + bytes(rnd.getrandbits(8) for _ in range(32))
issuers = [pk() for _ in range(5)]
recips = [pk() for _ in range(40)]
debt = {}
with open("tracker.jsonl", "w") as j, open("tracker.csv", "w") as c, open("ops.jsonl", "w") as o, \
     open("reserve.jsonl", "w") as r:
    c.write("issuer_pubkey,recipient_pubkey,total_debt,timestamp\n")
    ts = 1700000000000
    for i in range(600):
        a, b = rnd.choice(issuers), rnd.choice(recips)
        debt[(a, b)] = debt.get((a, b), 0) + rnd.randint(1, 10**9)
        ts += rnd.randint(0, 5000)
        j.write(json.dumps({"issuer_pubkey": a.hex(), "recipient_pubkey": b.hex(),
                            "total_debt": debt[(a, b)], "timestamp": ts}) + "\n")
        c.write("%s,%s,%d,%d\n" % (a.hex(), b.hex(), debt[(a, b)], ts))
        key = hashlib.blake2b(a + b, digest_size=32).hexdigest()
        o.write(json.dumps({"op": "InsertOrUpdate", "key": key,
                            "value": debt[(a, b)].to_bytes(8, "big").hex()}) + "\n")
        r.write(json.dumps({"issuer_pubkey": issuers[0].hex(), "recipient_pubkey": b.hex(),
                            "timestamp": ts, "redeemed": str(debt[(a, b)] // 3)}) + "\n")
    # an out-of-order file
    with open("unordered.jsonl", "w") as u:
        for t in (5, 4):
            u.write(json.dumps({"issuer_pubkey": a.hex(), "recipient_pubkey": b.hex(),
                                "total_debt": 1, "timestamp": t}) + "\n")
PY
expect_status 0 "$BT" init ref --tree t --key-len 32 --values var
expect_status 0 "$BT" apply ref --tree t ops.jsonl --batch 97
expect_status 0 "$BT" root ref --json
REF=$(json_get out.txt 'd[0]["digest"] if isinstance(d, list) else d["t"]["digest"] if "t" in d else d["digest"]')
[ ${#REF} = 66 ] || fail "reference digest: $REF"

expect_status 0 "$BT" migrate --tracker tracker.jsonl --json
[ "$(json_get out.txt 'd["trees"][0]["digest"]')" = "$REF" ] || fail "JSONL import digest differs from the core's"
[ "$(json_get out.txt 'd["updates"]')" = 600 ] || fail "600 updates"
expect_status 0 "$BT" migrate --tracker tracker.csv --expect "$REF"
expect_status 0 "$BT" migrate --tracker tracker.jsonl --json
REG=$(json_get out.txt 'd["trees"][0]["register"]')
expect_status 0 "$BT" migrate --tracker tracker.csv --expect "$REG"   # the register form
expect_status 2 "$BT" migrate --tracker tracker.csv --expect 64zz
expect_status 1 "$BT" migrate --tracker tracker.csv --expect "00$(printf '%064d' 0)"
expect_status 0 "$BT" migrate --tracker tracker.jsonl --db mig --tree tracker --batch 64
expect_status 0 "$BT" root mig --tree tracker --json
grep -q "$REF" out.txt || fail "database written by migrate has another digest"
expect_status 0 "$BT" check mig
expect_status 1 "$BT" migrate --tracker tracker.jsonl --db mig --tree tracker   # tree exists
expect_status 1 "$BT" migrate --tracker unordered.jsonl
grep -q "before the previous" err.txt || fail "out-of-order updates must be refused"
expect_status 2 "$BT" migrate --reserve reserve.jsonl --expect "$REF"           # per issuer
expect_status 0 "$BT" migrate --reserve reserve.jsonl --json
[ "$(json_get out.txt 'len(d["trees"])')" = 1 ] || fail "one issuer, one reserve tree"

# --- (2) the real Basis data: key derivation + the 50,000,000 tracker note,
# and the reserve entry (timestamp 1743379200000, redeemed 25,000,000)
python3 - "$VECTORS/basis_upstream.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
kd = next(l for l in lines if l["kind"] == "key_derivation")
tl = next(l for l in lines if l["kind"] == "tracker_lookup_proof")
assert tl["key"] == kd["key"]
debt = int(tl["value"], 16)
with open("real_tracker.jsonl", "w") as f:
    f.write(json.dumps({"issuer_pubkey": kd["issuer_pubkey"], "recipient_pubkey": kd["recipient_pubkey"],
                        "total_debt": debt, "timestamp": 1}) + "\n")
open("real_tracker.digest", "w").write(tl["tree_digest"])
pv = next(l for l in lines if l["kind"] == "placeholder_vector" and l["tree_type"] == "reserve"
          and l["key"] == kd["key"])
v = bytes.fromhex(pv["value"])
with open("real_reserve.jsonl", "w") as f:
    f.write(json.dumps({"issuer_pubkey": kd["issuer_pubkey"], "recipient_pubkey": kd["recipient_pubkey"],
                        "timestamp": int.from_bytes(v[:8], "big"),
                        "redeemed": int.from_bytes(v[8:], "big")}) + "\n")
open("real_reserve.digest", "w").write(pv["reference_values"]["digest_after_insert"])
PY
expect_status 0 "$BT" migrate --tracker real_tracker.jsonl --expect "$(cat real_tracker.digest)"
expect_status 0 "$BT" migrate --reserve real_reserve.jsonl --one-tree --expect "$(cat real_reserve.digest)"
echo "ok"
