"""Shared helpers of the Python binding tests."""
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import basistrees as bt  # noqa: E402


def vectors_dir():
    d = os.environ.get("BT_VECTORS_DIR") or os.path.join(HERE, "..", "..", "..", "..",
                                                         "shared", "vectors")
    if not os.path.exists(os.path.join(d, "prover_basic.jsonl")):
        raise RuntimeError("reference vectors not found in %s (set BT_VECTORS_DIR)" % d)
    return d


def vector_lines(name):
    with open(os.path.join(vectors_dir(), name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def op_from_json(j):
    return bt.Op(j["op"], bytes.fromhex(j["key"]),
                 bytes.fromhex(j["value"]) if "value" in j else None)


def params_of(j):
    if j["value_length"] is None:
        return bt.Params.variable(j["key_length"])
    return bt.Params.fixed(j["key_length"], j["value_length"])


def check_result(tc, got, want, ctx):
    if want["ok"]:
        tc.assertTrue(got.ok, "%s: expected success, got %r" % (ctx, got.error))
        old = want.get("old")
        tc.assertEqual(got.old, None if old is None else bytes.fromhex(old), ctx)
    else:
        tc.assertFalse(got.ok, "%s: expected %s" % (ctx, want["error"]))
        tc.assertEqual(got.error_class, want["error"], ctx)


class Scratch:
    """A temporary directory, removed on exit."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="bt-py-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
