#!/usr/bin/env python3
"""gen_corpus.py -- writes the seed corpora of the fuzz targets.

    python3 fuzz/gen_corpus.py [VECTORS_DIR]   (default ../shared/vectors)

fuzz/corpus/fuzz_verifier/: reference vectors converted into the input
layout documented at the top of fuzz/fuzz_verifier.c -- every verifier.jsonl
case except most of the long per-bit/per-byte series (a sample of those is
kept), plus honest batch proofs of the prover vectors (key length 32 and 1,
variable and fixed-8 values, with their succeeded ops).

fuzz/corpus/fuzz_ops/: deterministic pseudo-random command streams in the
layout of fuzz/fuzz_ops.c, covering every configuration byte, plus a few
shaped streams (fill-then-empty, what-if at batch boundaries, discards).

Only the Python standard library is used; output is deterministic, so
re-running it gives byte-identical files.  Keep the corpora small (< 2 MB).
"""
import json
import os
import random
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_V = os.path.join(HERE, "corpus", "fuzz_verifier")
OUT_O = os.path.join(HERE, "corpus", "fuzz_ops")

KEY_LENS = {32: 0, 1: 1, 31: 2, 2: 3}
OP_CODES = {"Lookup": 0, "Insert": 1, "Update": 2, "InsertOrUpdate": 3, "Remove": 4,
            "RemoveIfExists": 5}
MAX_PROOF = 6000


def enc_verifier(key_len, value_len, max_ops, max_deletes, digest, ops, proof):
    """Returns the fuzz_verifier input, or None if it cannot be encoded."""
    if key_len not in KEY_LENS or value_len not in (None, 8):
        return None
    if len(digest) != 33 or len(ops) > 255:
        return None
    cfg = KEY_LENS[key_len] | (4 if value_len == 8 else 0)
    mo = md = 0
    if max_ops is not None:
        if max_ops > 0xFFFF:
            return None
        mo = max_ops
        if max_deletes is None:
            cfg |= 0x30
        elif max_deletes <= 0xFF:
            cfg |= 0x20
            md = max_deletes
        else:
            return None
    out = bytearray([cfg]) + struct.pack(">HB", mo, md) + digest + bytes([len(ops)])
    for op in ops:
        k = bytes.fromhex(op["key"])
        t = OP_CODES[op["op"]]
        if len(k) == key_len:
            out.append(t)
        elif len(k) == (key_len - 1 if key_len > 1 else key_len + 1):
            out.append(t | 8)
        else:
            return None
        out += k
        if op["op"] in ("Insert", "Update", "InsertOrUpdate"):
            v = bytes.fromhex(op["value"])
            if len(v) > 0xFFFF:
                return None
            out += struct.pack(">H", len(v)) + v
    return bytes(out) + proof


def write(dirname, name, data):
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


def gen_verifier(vdir):
    n = 0
    for line in open(os.path.join(vdir, "verifier.jsonl")):
        d = json.loads(line)
        name = d["name"]
        m = re.match(r"(direction_bit|lookup_proof_byte)_(\d+)", name)
        if m and int(m.group(2)) % (8 if m.group(1) == "direction_bit" else 20) != 0:
            continue
        digest = bytes.fromhex(d["start_digest"])
        if len(digest) != 33:
            digest = (digest + bytes(33))[:33]  # the 32-byte case: pad
        data = enc_verifier(d["key_length"], d["value_length"], d["max_num_operations"],
                            d["max_deletes"], digest, d["ops"], bytes.fromhex(d["proof"]))
        if data is None:
            continue
        write(OUT_V, "vec-" + name, data)
        n += 1
    # Honest batches from the prover vectors.
    picks = {"prover_basic.jsonl": 8, "prover_random_var.jsonl": 6,
             "prover_random_fixed8.jsonl": 4}
    for fname, every in picks.items():
        scen, params, idx = None, None, 0
        for line in open(os.path.join(vdir, fname)):
            d = json.loads(line)
            if d["type"] == "scenario":
                scen, params, idx = d["scenario"], (d["key_length"], d["value_length"]), 0
                continue
            if d["type"] != "batch":
                continue
            idx += 1
            if d["proof_len"] > MAX_PROOF or idx % every != 1:
                continue
            ops = [o for o, r in zip(d["ops"], d["results"]) if r["ok"]]
            data = enc_verifier(params[0], params[1], None, None,
                                bytes.fromhex(d["start_digest"]), ops,
                                bytes.fromhex(d["proof"]))
            if data is None:
                continue
            base = fname.split(".")[0].replace("prover_", "p-")
            write(OUT_V, "%s-%s-%d" % (base, scen, d["batch_index"]), data)
            n += 1
    return n


def op_cmd(rng, kinds=range(12), wrong_key=0.02):
    t = rng.choice(list(kinds))
    if rng.random() < wrong_key:
        t |= 0xF0
    else:
        t |= rng.randrange(15) << 4
    out = [t, rng.randrange(256)]
    if (t & 15) % 6 in (1, 2, 3):
        out.append(rng.randrange(256))
    return out


def random_stream(rng, length):
    out = []
    while len(out) < length:
        r = rng.random()
        if r < 0.80:
            out += op_cmd(rng)
        elif r < 0.90:
            out.append(12 | rng.randrange(16) << 4)
        elif r < 0.93:
            out.append(13)
        else:
            out.append(14 | rng.randrange(16) << 4)
            out.append(rng.randrange(256))
            for _ in range(out[-1] % 8 + 1):
                out += op_cmd(rng)
    return bytes(out)


def gen_ops():
    rng = random.Random(20240601)
    n = 0
    for cfg in range(32):
        write(OUT_O, "rand-cfg%02x" % cfg, bytes([cfg]) + random_stream(rng, 200 + rng.randrange(900)))
        n += 1
    # Fill every key of a 16-key space, then remove them all (empty digest).
    for cfg in (0x04, 0x05, 0x06, 0x07):
        s = bytearray([cfg])
        for k in range(1, 17):
            s += bytes([1, k, k * 7])          # Insert key k
        s.append(12)
        for k in range(1, 17):
            s += bytes([4, k])                 # Remove key k
        s.append(12)
        write(OUT_O, "fill-empty-cfg%02x" % cfg, bytes(s))
        n += 1
    # What-if at batch boundaries, compared with the real thing.
    for cfg in (0x00, 0x03, 0x0C, 0x1D):
        s = bytearray([cfg])
        for _ in range(30):
            s += bytes([1, rng.randrange(1, 255), rng.randrange(256)])
        s.append(12)
        for _ in range(20):
            s += bytes([0x1E, 7])
            for _ in range(8):
                s += bytes(op_cmd(rng, kinds=range(6)))
            s.append(12)
        write(OUT_O, "whatif-cfg%02x" % cfg, bytes(s))
        n += 1
    # Sentinel keys and wrong lengths.
    s = bytearray([0x02])
    for t in range(6):
        s += bytes([t, 0, 5]) if t in (1, 2, 3) else bytes([t, 0])
        s += bytes([t, 255, 5]) if t in (1, 2, 3) else bytes([t, 255])
        s += bytes([t | 0xF0, 9, 0xFF]) if t in (1, 2, 3) else bytes([t | 0xF0, 9])
        s += bytes([1, 20 + t, 0xFE, 2, 20 + t, 0xFF])
    s.append(12)
    write(OUT_O, "sentinels", bytes(s))
    n += 1
    return n


def main():
    vdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "vectors")
    for d in (OUT_V, OUT_O):
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
    nv = gen_verifier(vdir)
    no = gen_ops()
    print("fuzz_verifier: %d seeds, fuzz_ops: %d seeds" % (nv, no))


if __name__ == "__main__":
    main()
