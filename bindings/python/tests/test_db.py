"""The database through the Python module: a persistence round trip with
the prover_random_var vectors, errors as exceptions, the tracker flow,
concurrent readers, checkpoints, rollback and the operation log."""
import os
import threading
import unittest

from helpers import Scratch, bt, check_result, op_from_json, params_of, vector_lines


def fast():
    return bt.DbOptions(durability=bt.DURABILITY_NONE, cache_bytes=8 << 20)


class Persistence(unittest.TestCase):
    def test_round_trip_with_vectors(self):
        with Scratch() as d:
            path = os.path.join(d, "db")
            finals = {}
            probe = None
            with bt.Db.open(path, fast()) as db:
                tree = None
                for line in vector_lines("prover_random_var.jsonl"):
                    if line["type"] == "scenario":
                        tree = line["scenario"]
                        db.create_tree(tree, params_of(line))
                        self.assertEqual(db.digest(tree).hex(), line["initial_digest"])
                    elif line["type"] == "batch":
                        ctx = "%s batch %d" % (tree, line["batch_index"])
                        ops = [op_from_json(o) for o in line["ops"]]
                        with db.begin() as b:
                            results = b.apply(tree, ops)
                            proof, digest = b.prove(tree)
                        for i, (r, w) in enumerate(zip(results, line["results"])):
                            check_result(self, r, w, "%s op %d" % (ctx, i))
                        self.assertEqual(proof.hex(), line["proof"], ctx)
                        self.assertEqual(digest.hex(), line["end_digest"], ctx)
                        self.assertEqual(db.digest(tree), digest, ctx)
                        self.assertEqual(db.count(tree), line["num_keys"], ctx)
                        for op, r in zip(ops, results):
                            if r.ok:
                                probe = (tree, op.key, db.get(tree, op.key))
                    elif line["type"] == "scenario_end":
                        finals[tree] = (line["final_digest"], line["num_keys"])
                s = db.stats()
                self.assertEqual(s["trees"], len(finals))
                self.assertGreater(s["commits"], 0)
            with bt.Db.open(path, fast()) as db:
                self.assertEqual(db.trees(), sorted(finals))
                for tree, (digest, count) in finals.items():
                    self.assertEqual(db.digest(tree).hex(), digest)
                    self.assertEqual(db.count(tree), count)
                    db.check(tree)
                tree, key, value = probe
                self.assertEqual(db.get(tree, key), value)
                got, proof = db.lookup_proof(tree, key)
                self.assertEqual(got, value)
                self.assertTrue(bt.verify_lookup(db.tree_params(tree), db.digest(tree), proof,
                                                 key, value))


class Errors(unittest.TestCase):
    def test_exceptions(self):
        with Scratch() as d, bt.Db.open(os.path.join(d, "db"), fast()) as db:
            db.create_tree("t")
            with self.assertRaises(bt.Exists) as cm:
                db.create_tree("t")
            self.assertEqual(cm.exception.code, -2)
            self.assertTrue(cm.exception.message)
            db.create_tree("t", exist_ok=True)
            with self.assertRaises(bt.InvalidArgument):
                db.create_tree("t", bt.Params.fixed(32, 8), exist_ok=True)
            with self.assertRaises(bt.NotFound):
                db.digest("nope")
            with self.assertRaises(bt.NotFound):
                db.get("nope", b"\1" * 32)
            self.assertIsNone(db.get("t", b"\1" * 32))
            with self.assertRaises(bt.KeyLength):
                db.get("t", b"\1" * 5)
            with self.assertRaises(TypeError):
                db.get("t", "not bytes")

            b = db.begin()
            with self.assertRaises(bt.Busy):
                db.begin()
            b.insert("t", b"\1" * 32, b"a")
            with self.assertRaises(bt.Exists) as cm:
                b.insert("t", b"\1" * 32, b"b")
            self.assertEqual(cm.exception.error_class, "key_already_exists")
            r = b.apply("t", [bt.Op.update(b"\2" * 32, b"x"), bt.Op.lookup(b"\1" * 32)])
            self.assertEqual((r[0].ok, r[0].error_class), (False, "key_not_found"))
            self.assertEqual((r[1].ok, r[1].old), (True, b"a"))
            with self.assertRaises(bt.KeyTooLow):
                b.insert("t", b"\0" * 32, b"x")
            info = b.commit()
            self.assertEqual(info.ops_logged, 1)
            with self.assertRaises(bt.BadState):
                b.commit()

            before = db.digest("t")
            with self.assertRaises(RuntimeError):
                with db.begin() as b2:
                    b2.insert("t", b"\3" * 32, b"c")
                    raise RuntimeError("abort the batch")
            self.assertEqual(db.digest("t"), before)
            self.assertIsNone(db.get("t", b"\3" * 32))

            with self.assertRaises(bt.Busy):
                bt.Db.open(os.path.join(d, "db"), fast())

    def test_options(self):
        bt.DbOptions().check()
        with self.assertRaises(bt.InvalidArgument) as cm:
            bt.DbOptions(zstd_level=99).check()
        self.assertIn("zstd", cm.exception.message)
        with self.assertRaises(TypeError):
            bt.DbOptions(no_such_option=1)


class Tracker(unittest.TestCase):
    def test_tracker_flow(self):
        keys = [bt.basis.note_key(b"\2" + bytes([i]) * 32, b"\3" + bytes([i + 100]) * 32)
                for i in range(40)]
        with Scratch() as d, bt.Db.open(os.path.join(d, "db"), fast()) as db:
            db.create_tree("tracker", bt.Params.basis())
            empty = db.digest("tracker")
            with db.begin() as b:
                for i, k in enumerate(keys):
                    b.insert_or_update("tracker", k, bt.basis.tracker_value(1000 + i))
                proof, digest = b.prove("tracker")
            ops = [bt.Op.insert_or_update(k, bt.basis.tracker_value(1000 + i))
                   for i, k in enumerate(keys)]
            self.assertEqual(bt.verify(bt.Params.basis(), empty, proof, ops).digest, digest)

            op = bt.Op.insert_or_update(keys[7], bt.basis.tracker_value(5000))
            w = db.prove("tracker", [op])
            self.assertEqual(w.results[0].old, bt.basis.tracker_value(1007))
            self.assertEqual(db.digest("tracker"), digest)
            self.assertEqual(bt.verify(bt.Params.basis(), digest, w.proof, [op]).digest, w.digest)
            with db.begin() as b:
                b.apply("tracker", [op])
            self.assertEqual(db.digest("tracker"), w.digest)

            d2 = db.digest("tracker")
            value, proof = db.lookup_proof("tracker", keys[3])
            self.assertEqual(bt.basis.tracker_value_decode(value), 1003)
            self.assertTrue(bt.verify_lookup(bt.Params.basis(), d2, proof, keys[3], value))
            self.assertFalse(bt.verify_lookup(bt.Params.basis(), d2, proof, keys[3], b"x"))
            none, proof = db.lookup_proof("tracker", b"\x55" * 32)
            self.assertIsNone(none)
            self.assertTrue(bt.verify_lookup(bt.Params.basis(), d2, proof, b"\x55" * 32, None))
            self.assertEqual(bt.basis.reserve_value_decode(bt.basis.reserve_value(7, 9)), (7, 9))

    def test_tree_like_basis_avl_tree(self):
        t = bt.Tree()
        d0 = t.root_digest()
        t.insert(b"\1" * 32, b"\2" * 32)
        self.assertNotEqual(t.root_digest(), d0)
        self.assertEqual(t.update(b"\1" * 32, b"\3" * 32), b"\2" * 32)
        self.assertTrue(t.generate_proof())
        self.assertEqual(t.get(b"\1" * 32), b"\3" * 32)
        self.assertEqual(t.remove(b"\1" * 32), b"\3" * 32)
        with self.assertRaises(bt.NotFound):
            t.remove(b"\1" * 32)
        t.discard()
        self.assertEqual(len(t), 1)


class Threads(unittest.TestCase):
    def test_readers_while_writing(self):
        p = bt.Params.fixed(8, 8)
        with Scratch() as d, bt.Db.open(os.path.join(d, "db"), fast()) as db:
            db.create_tree("t", p)
            stop = threading.Event()
            errors, counts = [], []

            def reader():
                n, i = 0, 0
                try:
                    while not stop.is_set() or n == 0:
                        key = (i % 300 + 1).to_bytes(8, "big")
                        pr = db.prove("t", [bt.Op.lookup(key)])
                        v = bt.verify(p, pr.digest, pr.proof, [bt.Op.lookup(key)])
                        assert v.digest == pr.digest and v.values[0] == pr.results[0].old
                        n, i = n + 1, i + 7
                except Exception as e:  # reported by the main thread
                    errors.append(e)
                counts.append(n)

            threads = [threading.Thread(target=reader) for _ in range(3)]
            for t in threads:
                t.start()
            for c in range(12):
                with db.begin() as b:
                    b.apply("t", [bt.Op.insert((c * 25 + k + 1).to_bytes(8, "big"),
                                               (c * 1000 + k).to_bytes(8, "big"))
                                  for k in range(25)])
            stop.set()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(counts), 3)
            self.assertEqual(db.count("t"), 300)


class Checkpoints(unittest.TestCase):
    def put(self, db, kvs, ts):
        with db.begin() as b:
            b.set_time(ts)
            for k, v in kvs:
                b.insert_or_update("tracker", bytes([k]) * 32, v.to_bytes(8, "big"))

    def test_checkpoints_rollback_oplog(self):
        with Scratch() as d, bt.Db.open(os.path.join(d, "db"), fast()) as db:
            db.create_tree("tracker")
            with self.assertRaises(bt.NotFound):
                db.checkpoint()
            self.put(db, [(1, 10), (2, 20)], 1000)
            d1 = db.digest("tracker")
            c1 = db.checkpoint_create("tx-confirmed")
            self.put(db, [(1, 11), (3, 30)], 2000)
            d2 = db.digest("tracker")
            c2 = db.checkpoint_create()
            cp = db.checkpoint(c1)
            self.assertEqual((cp.id, cp.label), (c1, "tx-confirmed"))
            self.assertEqual(cp.trees, [bt.CheckpointTree("tracker", d1, 2)])
            self.assertEqual(db.checkpoint().id, c2)
            self.assertEqual([c.id for c in db.checkpoints()], [c1, c2])
            db.checkpoint_validate(c1)

            self.assertEqual(db.digest("tracker", checkpoint=c1), d1)
            self.assertEqual(db.count("tracker", checkpoint=c1), 2)
            self.assertEqual(db.get("tracker", b"\1" * 32, checkpoint=c1), (10).to_bytes(8, "big"))
            self.assertIsNone(db.get("tracker", b"\3" * 32, checkpoint=c1))
            with self.assertRaises(bt.NotFound):
                db.get("tracker", b"\1" * 32, checkpoint=999)
            value, proof = db.lookup_proof("tracker", b"\1" * 32, checkpoint=c1)
            self.assertTrue(bt.verify_lookup(bt.Params.basis(), d1, proof, b"\1" * 32, value))
            self.assertFalse(bt.verify_lookup(bt.Params.basis(), d2, proof, b"\1" * 32, value))

            self.assertEqual(db.oplog_bounds(), (1, 4))
            log = db.oplog_range()
            self.assertEqual([e.op_seq for e in log], [1, 2, 3, 4])
            self.assertEqual(log[0].op, bt.Op.insert_or_update(b"\1" * 32, (10).to_bytes(8, "big")))
            self.assertIsNone(log[0].prev)
            self.assertEqual(log[2].prev, (10).to_bytes(8, "big"))
            self.assertEqual((log[0].digest, log[3].digest), (d1, d2))
            self.assertEqual(log[2].ts_ms, 2000)
            try:
                self.assertEqual([e.op_seq for e in db.oplog_key("tracker", b"\1" * 32)], [1, 3])
                self.assertEqual([e.op_seq for e in db.oplog_time(1500, 2500)], [3, 4])
            except bt.NotSupported:
                pass

            b = db.begin()
            with self.assertRaises(bt.Busy):
                db.rollback(c1)
            b.abort()
            db.rollback(c1)
            self.assertEqual(db.digest("tracker"), d1)
            self.assertEqual([c.id for c in db.checkpoints()], [c1])
            self.assertEqual(db.oplog_bounds()[1], 2)
            db.checkpoint_delete(c1)
            with self.assertRaises(bt.NotFound):
                db.checkpoint_delete(c1)


if __name__ == "__main__":
    unittest.main()
