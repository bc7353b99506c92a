"""The reference vectors through the Python module: the prover files on an
in-memory Tree (results, proofs, digests, verifier replay), verifier.jsonl,
and the Basis data points from the upstream tracker."""
import unittest

from helpers import bt, check_result, op_from_json, params_of, vector_lines


class ProverVectors(unittest.TestCase):
    def run_file(self, name):
        tree = params = None
        batches = 0
        for line in vector_lines(name):
            kind = line["type"]
            if kind == "scenario":
                params = params_of(line)
                tree = bt.Tree(params)
                self.assertEqual(tree.root_digest().hex(), line["initial_digest"])
                self.assertEqual(params.empty_digest().hex(), line["initial_digest"])
            elif kind == "batch":
                ctx = "%s %s batch %d" % (name, line["scenario"], line["batch_index"])
                ops = [op_from_json(o) for o in line["ops"]]
                start = tree.root_digest()
                self.assertEqual(start.hex(), line["start_digest"], ctx)
                results = tree.apply(ops)
                for i, (r, w) in enumerate(zip(results, line["results"])):
                    check_result(self, r, w, "%s op %d" % (ctx, i))
                proof = tree.generate_proof()
                self.assertEqual(proof.hex(), line["proof"], ctx)
                end = tree.root_digest()
                self.assertEqual(end.hex(), line["end_digest"], ctx)
                self.assertEqual(len(tree), line["num_keys"], ctx)
                self.assertEqual(tree.height, end[32], ctx)
                ok_ops = [o for o, r in zip(ops, results) if r.ok]
                v = bt.verify(params, start, proof, ok_ops)
                self.assertEqual(v.digest, end, ctx)
                self.assertEqual(v.values, [r.old for r in results if r.ok], ctx)
                batches += 1
            elif kind == "scenario_end":
                self.assertEqual(tree.root_digest().hex(), line["final_digest"])
                tree.check()
        return batches

    def test_prover_basic(self):
        self.assertGreater(self.run_file("prover_basic.jsonl"), 600)

    def test_prover_random_fixed8(self):
        self.assertGreater(self.run_file("prover_random_fixed8.jsonl"), 0)


class VerifierVectors(unittest.TestCase):
    def test_verifier_jsonl(self):
        n = 0
        for line in vector_lines("verifier.jsonl"):
            ctx = line["name"]
            params = params_of(line)
            ops = [op_from_json(o) for o in line["ops"]]
            ref = line["reference"]
            failed_at, values, digest = None, [], None
            try:
                v = bt.Verifier(params, bytes.fromhex(line["start_digest"]),
                                bytes.fromhex(line["proof"]), line["max_num_operations"],
                                line["max_deletes"])
            except bt.BasisTreesError:
                failed_at = -1
            else:
                for i, op in enumerate(ops):
                    try:
                        values.append(v.apply(op))
                    except bt.BasisTreesError:
                        failed_at = i
                        break
                if failed_at is None:
                    digest = v.digest()
                v.close()
            self.assertEqual(failed_at is None, line["verifier_completed"], ctx)
            if failed_at is None:
                self.assertEqual(digest.hex(), ref["digest"], ctx)
                for got, want in zip(values, ref["results"]):
                    self.assertEqual(got, None if want.get("old") is None
                                     else bytes.fromhex(want["old"]), ctx)
            elif ref["outcome"] == "op_error":
                self.assertEqual(failed_at, ref["op_index"], ctx)
            n += 1
        self.assertEqual(n, 427)


class BasisUpstream(unittest.TestCase):
    def test_upstream_data(self):
        checked = 0
        for line in vector_lines("basis_upstream.jsonl"):
            kind = line["kind"]
            if kind == "key_derivation":
                k = bt.basis.note_key(bytes.fromhex(line["issuer_pubkey"]),
                                      bytes.fromhex(line["recipient_pubkey"]))
                self.assertEqual(k.hex(), line["key"])
                checked += 1
            elif kind == "tracker_lookup_proof":
                key, value = bytes.fromhex(line["key"]), bytes.fromhex(line["value"])
                digest, proof = bytes.fromhex(line["tree_digest"]), bytes.fromhex(line["proof"])
                t = bt.Tree(bt.Params.basis())
                t.insert(key, value)
                t.generate_proof()
                self.assertEqual(t.root_digest(), digest)
                self.assertEqual(t.lookup(key), value)
                self.assertEqual(t.generate_proof(), proof)
                p = bt.Params.basis()
                self.assertTrue(bt.verify_lookup(p, digest, proof, key, value))
                self.assertFalse(bt.verify_lookup(p, digest, proof, key, b"\0" * 8))
                self.assertFalse(bt.verify_lookup(p, b"\0" * 33, proof, key, value))
                for n in range(len(proof)):
                    self.assertFalse(bt.verify_lookup(p, digest, proof[:n], key, value))
                checked += 1
            elif kind == "reserve_insert_proof":
                ops = [op_from_json(o) for o in line["ops"]]
                t = bt.Tree(bt.Params.basis())
                w = t.whatif(ops)
                self.assertEqual(w.proof.hex(), line["proof"])
                self.assertEqual(w.digest.hex(), line["end_digest"])
                self.assertEqual(t.root_digest().hex(), line["start_digest"])
                reg = bt.basis.AvlRegister.decode(bytes.fromhex(line["r5_register"]))
                self.assertEqual(reg.digest, w.digest)
                checked += 1
            elif kind == "avltree_register":
                raw = bytes.fromhex(line["register"])
                r = bt.basis.AvlRegister.decode(raw)
                self.assertEqual(r.encode(), raw)
                self.assertEqual((r.key_len, r.value_len), (32, None))
                checked += 1
        self.assertGreaterEqual(checked, 9)

    def test_empty_tracker_register(self):
        d = bt.Params.basis().empty_digest()
        self.assertEqual(bt.basis.AvlRegister.tracker(d).encode().hex(),
                         "644ec61f485b98eb87153f7c57db4f5ecd75556fddbc403b41acf8441fde8e1609"
                         "00032000")
        with self.assertRaises(bt.Corrupt):
            bt.basis.AvlRegister.decode(b"\x64\x00")


if __name__ == "__main__":
    unittest.main()
