"""Python bindings to libbasistrees (ctypes): Ergo's authenticated AVL+
dictionary -- Blake2b-256 labels, 33-byte digests, byte-identical batch
proofs -- in memory (Tree) and persistent on RocksDB (Db).

    import basistrees as bt
    with bt.Db.open("/tmp/tracker-db") as db:
        db.create_tree("tracker", bt.Params.basis(), exist_ok=True)
        with db.begin() as batch:                 # commits on success
            batch.insert_or_update("tracker", key, bt.basis.tracker_value(1000))
            proof, new_digest = batch.prove("tracker")
        value, proof = db.lookup_proof("tracker", key)
        assert bt.verify_lookup(bt.Params.basis(), db.digest("tracker"), proof, key, value)

Errors raise BasisTreesError (or a subclass per code: NotFound, Exists,
InvalidArgument, Corrupt, ProofError, ...) with .code (the negative BT_E*
value) and .message.  The outcome of each operation in a batch is an
OpResult: .ok, .old (the previous value, for a Lookup the value found), or
.error (an exception object, not raised; .error.error_class is the
reference vectors' name such as "key_not_found").

Thread-safety follows the C library: a Db may be shared by threads (reads
and proofs concurrently with one writing Batch); a Tree or Verifier is used
by one thread at a time.  ctypes releases the GIL during each C call.
"""
import ctypes
import weakref
from collections import namedtuple
from ctypes import byref, c_char_p, c_size_t, c_uint64, c_void_p

from . import _lib
from ._lib import DIGEST_LEN, lib

__all__ = ["BasisTreesError", "NotFound", "Exists", "InvalidArgument", "Corrupt", "ProofError",
           "IOFailure", "NoSpace", "NoMemory", "LimitExceeded", "Busy", "BadState", "KeyTooLow",
           "KeyTooHigh", "KeyLength", "ValueLength", "NotSupported", "Params", "Op", "OpResult",
           "Proof", "Tree", "Verifier", "verify", "verify_lookup", "Db", "DbOptions", "Batch",
           "Checkpoint", "CheckpointTree", "OplogEntry", "basis", "version", "strerror",
           "DURABILITY_SYNC", "DURABILITY_GROUP", "DURABILITY_NONE"]

DURABILITY_SYNC, DURABILITY_GROUP, DURABILITY_NONE = 0, 1, 2
COMPRESS_NONE, COMPRESS_LZ4, COMPRESS_ZSTD = 0, 1, 2


def version():
    """The library's version string."""
    return lib.bt_version().decode()


def strerror(code):
    """The library's phrase for an error code."""
    return lib.bt_strerror(code).decode()


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class BasisTreesError(Exception):
    """An error of libbasistrees: .code (negative BT_E* value) and .message."""
    code = None

    def __init__(self, code, message=None):
        self.code = code
        self.message = message or strerror(code)
        super().__init__("%s (%d)" % (self.message, code) if self.message == strerror(code)
                         else "%s: %s (%d)" % (strerror(code), self.message, code))

    @property
    def error_class(self):
        """The reference vectors' name of an operation failure, or None."""
        c = lib.bt_error_class(self.code)
        return c.decode() if c else None


def _errclass(name, code, doc):
    return type(name, (BasisTreesError,), {"__doc__": doc, "CODE": code})


NotFound = _errclass("NotFound", -1, "key, tree or checkpoint not found")
Exists = _errclass("Exists", -2, "key or tree already exists")
InvalidArgument = _errclass("InvalidArgument", -3, "invalid argument or parameter")
Corrupt = _errclass("Corrupt", -4, "stored or supplied data failed a check")
ProofError = _errclass("ProofError", -5, "a proof is malformed or does not verify")
IOFailure = _errclass("IOFailure", -6, "an I/O operation failed")
NoSpace = _errclass("NoSpace", -7, "no space left on the device")
NoMemory = _errclass("NoMemory", -8, "out of memory")
LimitExceeded = _errclass("LimitExceeded", -9, "a limit was exceeded")
Busy = _errclass("Busy", -10, "held by someone else (second writer, open batch)")
BadState = _errclass("BadState", -11, "handle in a failed or wrong state")
KeyTooLow = _errclass("KeyTooLow", -12, "key not above negative infinity")
KeyTooHigh = _errclass("KeyTooHigh", -13, "key not below positive infinity")
KeyLength = _errclass("KeyLength", -14, "wrong key length")
ValueLength = _errclass("ValueLength", -15, "value length not allowed")
NotSupported = _errclass("NotSupported", -16, "operation not supported")
_BY_CODE = {c.CODE: c for c in (NotFound, Exists, InvalidArgument, Corrupt, ProofError,
                                IOFailure, NoSpace, NoMemory, LimitExceeded, Busy, BadState,
                                KeyTooLow, KeyTooHigh, KeyLength, ValueLength, NotSupported)}


def _error(code, message=None):
    if isinstance(message, bytes):
        message = message.decode(errors="replace")
    return _BY_CODE.get(code, BasisTreesError)(code, message)


def _check(rc, message=None):
    if rc != 0:
        raise _error(rc, message)


def _need(name):
    if name in _lib.MISSING:
        raise NotSupported(-16, "%s is not in the loaded library (%s)" % (name, _lib.lib_path))


def _bytes(b, what="key"):
    if isinstance(b, (bytes, bytearray, memoryview)):
        return bytes(b)
    raise TypeError("%s must be bytes, not %s" % (what, type(b).__name__))


def _name(s):
    if isinstance(s, str):
        s = s.encode()
    if b"\0" in s:
        raise InvalidArgument(-3, "name contains a NUL byte")
    return s


def _take(ptr, n):
    """Copies a buffer the library allocated, then frees it."""
    if not ptr.value:
        return b""
    data = ctypes.string_at(ptr.value, n.value)
    lib.bt_free(ptr)
    return data


# ---------------------------------------------------------------------------
# Parameters and operations
# ---------------------------------------------------------------------------

class Params(namedtuple("Params", "key_len value_len value_max")):
    """Tree parameters: key length (1..255), fixed value length or None for
    variable-length values, and value_max (variable mode; 0 = default)."""
    __slots__ = ()

    @classmethod
    def basis(cls):
        """32-byte keys, variable values: the Basis tracker and reserve trees."""
        return cls(32, None, 0)

    @classmethod
    def fixed(cls, key_len, value_len):
        return cls(key_len, value_len, 0)

    @classmethod
    def variable(cls, key_len):
        return cls(key_len, None, 0)

    def _c(self):
        return _lib.bt_params(1, self.key_len,
                              _lib.VALUE_VARIABLE if self.value_len is None else self.value_len,
                              self.value_max)

    @classmethod
    def _from_c(cls, p):
        return cls(p.key_len, None if p.value_len == _lib.VALUE_VARIABLE else p.value_len,
                   p.value_max)

    def check(self):
        _check(lib.bt_params_check(byref(self._c())))

    def empty_digest(self):
        """The digest of the empty tree with these parameters."""
        out = (ctypes.c_uint8 * DIGEST_LEN)()
        _check(lib.bt_empty_digest(out, byref(self._c())))
        return bytes(out)


_OP_CODES = {"Lookup": 0, "Insert": 1, "Update": 2, "InsertOrUpdate": 3, "Remove": 4,
             "RemoveIfExists": 5}
_OP_NAMES = {v: k for k, v in _OP_CODES.items()}


class Op(namedtuple("Op", "name key value")):
    """One operation: name is "Lookup", "Insert", "Update", "InsertOrUpdate",
    "Remove" or "RemoveIfExists"; value is None unless it writes."""
    __slots__ = ()

    def __new__(cls, name, key, value=None):
        if name not in _OP_CODES:
            raise ValueError("unknown operation %r" % (name,))
        key = _bytes(key)
        if name in ("Insert", "Update", "InsertOrUpdate"):
            value = _bytes(value if value is not None else b"", "value")
        else:
            value = None
        return super().__new__(cls, name, key, value)

    @classmethod
    def lookup(cls, key):
        return cls("Lookup", key)

    @classmethod
    def insert(cls, key, value):
        return cls("Insert", key, value)

    @classmethod
    def update(cls, key, value):
        return cls("Update", key, value)

    @classmethod
    def insert_or_update(cls, key, value):
        return cls("InsertOrUpdate", key, value)

    @classmethod
    def remove(cls, key):
        return cls("Remove", key)

    @classmethod
    def remove_if_exists(cls, key):
        return cls("RemoveIfExists", key)


def _ops_c(ops):
    """A C array of bt_op borrowing the ops' bytes (keep ops alive)."""
    ops = list(ops)
    arr = (_lib.bt_op * max(len(ops), 1))()
    keep = []
    for i, op in enumerate(ops):
        if not isinstance(op, Op):
            op = Op(*op)
            ops[i] = op
        kb = ctypes.create_string_buffer(op.key, len(op.key) or 1)
        keep.append(kb)
        arr[i].type = _OP_CODES[op.name]
        arr[i].key = ctypes.addressof(kb)
        arr[i].key_len = len(op.key)
        if op.value is not None:
            vb = ctypes.create_string_buffer(op.value, len(op.value) or 1)
            keep.append(vb)
            arr[i].value = ctypes.addressof(vb)
            arr[i].value_len = len(op.value)
    return arr, len(ops), keep


class OpResult(namedtuple("OpResult", "ok old error")):
    """Outcome of one operation: ok (bool), old (previous value or None; for
    a Lookup the value found), error (the failure as an exception object, or
    None).  A failed operation leaves no trace in the tree or the proof."""
    __slots__ = ()

    @property
    def error_class(self):
        return self.error.error_class if self.error is not None else None


def _results(arr, n):
    out = []
    for i in range(n):
        r = arr[i]
        if r.status != 0:
            out.append(OpResult(False, None, _error(r.status)))
        elif r.found:
            out.append(OpResult(True, ctypes.string_at(r.old, r.old_len) if r.old_len else b"",
                                None))
        else:
            out.append(OpResult(True, None, None))
    return out


Proof = namedtuple("Proof", "proof digest results")
Proof.__doc__ = "A serialized batch proof, the digest it leads to, one OpResult per operation."


def _strict(result):
    if not result.ok:
        raise result.error
    return result.old


# ---------------------------------------------------------------------------
# In-memory prover tree
# ---------------------------------------------------------------------------

class Tree:
    """An in-memory AVL+ prover tree (bt_tree), shaped like the Basis
    tracker's BasisAvlTree: insert / update / generate_proof / root_digest,
    plus removals, lookups, what-if proofs and an invariant check.  One
    thread at a time."""

    def __init__(self, params=None):
        params = params or Params.basis()
        self._h = c_void_p()
        _check(lib.bt_tree_new(byref(self._h), byref(params._c())))

    def close(self):
        if self._h:
            lib.bt_tree_free(self._h)
            self._h = c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _raise(self, rc):
        raise _error(rc, lib.bt_tree_errmsg(self._h))

    @property
    def params(self):
        p = _lib.bt_params()
        lib.bt_tree_params(byref(p), self._h)
        return Params._from_c(p)

    def apply(self, ops):
        """Applies operations in order; returns one OpResult each.  Raises
        only if the call itself fails."""
        arr, n, keep = _ops_c(ops)
        res = (_lib.bt_result * max(n, 1))()
        rc = lib.bt_tree_apply_batch(self._h, arr, n, res)
        if rc != 0:
            self._raise(rc)
        return _results(res, n)

    def insert(self, key, value):
        """Inserts a new key (Exists if present)."""
        _strict(self.apply([Op.insert(key, value)])[0])

    def update(self, key, value):
        """Updates a present key (NotFound if absent); returns the old value."""
        return _strict(self.apply([Op.update(key, value)])[0])

    def insert_or_update(self, key, value):
        return _strict(self.apply([Op.insert_or_update(key, value)])[0])

    def remove(self, key):
        """Removes a present key (NotFound if absent); returns its value."""
        return _strict(self.apply([Op.remove(key)])[0])

    def remove_if_exists(self, key):
        return _strict(self.apply([Op.remove_if_exists(key)])[0])

    def lookup(self, key):
        """A Lookup operation (part of the next proof); the value or None."""
        return _strict(self.apply([Op.lookup(key)])[0])

    def get(self, key):
        """Unauthenticated read of the current state; the value or None."""
        key = _bytes(key)
        v, n = c_void_p(), c_size_t()
        rc = lib.bt_tree_get(byref(v), byref(n), self._h, key, len(key))
        if rc == -1:
            return None
        if rc != 0:
            self._raise(rc)
        return ctypes.string_at(v, n.value) if n.value else b""

    def generate_proof(self):
        """The batch proof of the operations since the previous proof."""
        p, n = c_void_p(), c_size_t()
        rc = lib.bt_tree_prove(byref(p), byref(n), self._h)
        if rc != 0:
            self._raise(rc)
        return _take(p, n)

    def discard(self):
        """Drops the operations applied since the last proof."""
        lib.bt_tree_discard(self._h)

    def root_digest(self):
        out = (ctypes.c_uint8 * DIGEST_LEN)()
        rc = lib.bt_tree_digest(out, self._h)
        if rc != 0:
            self._raise(rc)
        return bytes(out)

    @property
    def height(self):
        return lib.bt_tree_height(self._h)

    def __len__(self):
        return lib.bt_tree_count(self._h)

    def whatif(self, ops):
        """Proof, digest and results of ops without changing the tree."""
        arr, n, keep = _ops_c(ops)
        res = (_lib.bt_result * max(n, 1))()
        p, plen = c_void_p(), c_size_t()
        d = (ctypes.c_uint8 * DIGEST_LEN)()
        rc = lib.bt_tree_whatif(byref(p), byref(plen), d, res, self._h, arr, n)
        if rc != 0:
            self._raise(rc)
        results = _results(res, n)
        return Proof(_take(p, plen), bytes(d), results)

    def check(self):
        """Checks every invariant (Corrupt with the first bad node)."""
        rc = lib.bt_tree_check(self._h)
        if rc != 0:
            self._raise(rc)


# ---------------------------------------------------------------------------
# Verifier
# ---------------------------------------------------------------------------

class Verifier:
    """Replays a batch proof against a starting digest, one operation at a
    time.  Untrusted input only ever raises (ProofError, LimitExceeded, ...).
    max_ops / max_deletes: Ergo's node budget (None: unbounded)."""

    def __init__(self, params, start_digest, proof, max_ops=None, max_deletes=None):
        start_digest, proof = _bytes(start_digest, "digest"), _bytes(proof, "proof")
        opts = _lib.bt_verify_opts(1, -1 if max_ops is None else max_ops,
                                   -1 if max_deletes is None else max_deletes)
        self._h = c_void_p()
        _check(lib.bt_verifier_new(byref(self._h), byref(params._c()), start_digest,
                                   len(start_digest), proof, len(proof), byref(opts)))

    def close(self):
        if self._h:
            lib.bt_verifier_free(self._h)
            self._h = c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def apply(self, op):
        """Performs the next operation; returns the value found/replaced."""
        if not isinstance(op, Op):
            op = Op(*op)
        arr, n, keep = _ops_c([op])
        res = _lib.bt_result()
        rc = lib.bt_verifier_apply(self._h, arr, byref(res))
        if rc != 0:
            raise _error(rc, lib.bt_verifier_errmsg(self._h))
        return ctypes.string_at(res.old, res.old_len) if res.found else None

    def digest(self):
        out = (ctypes.c_uint8 * DIGEST_LEN)()
        _check(lib.bt_verifier_digest(out, self._h))
        return bytes(out)


Verified = namedtuple("Verified", "digest values")


def verify(params, start_digest, proof, ops, max_ops=None, max_deletes=None):
    """Verifies a whole batch proof; returns Verified(digest, values).  The
    caller still compares .digest with the digest it expects."""
    v = Verifier(params, start_digest, proof, max_ops, max_deletes)
    try:
        values = [v.apply(op) for op in ops]
        return Verified(v.digest(), values)
    finally:
        v.close()


def verify_lookup(params, digest, proof, key, value):
    """True if proof shows that key has value (None: is absent) in the tree
    with this digest.  Never raises for malformed input."""
    try:
        r = verify(params, digest, proof, [Op.lookup(key)])
    except BasisTreesError:
        return False
    return r.digest == bytes(digest) and r.values[0] == value


# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------

class DbOptions:
    """Options of Db.open; defaults are BT_DB_OPTIONS_INIT.  Any field of
    bt_db_options may be given as a keyword (info_log_dir as str)."""

    def __init__(self, **kw):
        self.__dict__.update(_lib.DB_OPTIONS_INIT)
        for k, v in kw.items():
            if k not in _lib.DB_OPTIONS_INIT or k in ("version", "reserved", "reserved2"):
                raise TypeError("unknown option %r" % (k,))
            setattr(self, k, v)

    def _c(self):
        c = _lib.bt_db_options()
        for k in _lib.DB_OPTIONS_INIT:
            v = getattr(self, k)
            if k == "compression":
                c.compression[:] = list(v)
            elif k == "info_log_dir":
                c.info_log_dir = v.encode() if isinstance(v, str) else v
            elif isinstance(v, bool):
                setattr(c, k, int(v))
            else:
                setattr(c, k, v)
        return c

    def check(self):
        """The library's range checks (InvalidArgument naming the field)."""
        msg = ctypes.create_string_buffer(256)
        _check(lib.bt_db_options_check(byref(self._c()), msg, 256), msg.value)


class CommitInfo(namedtuple("CommitInfo", "commit_seq last_op_seq ops_logged")):
    __slots__ = ()


CheckpointTree = namedtuple("CheckpointTree", "name digest count")
Checkpoint = namedtuple("Checkpoint", "id ts_ms commit_seq op_seq label trees")
OplogEntry = namedtuple("OplogEntry", "op_seq commit_seq ts_ms tree op prev digest")
OplogEntry.__doc__ = ("One logged operation: op is the Op as logged (with its new value), "
                      "prev the key's previous value or None, digest the tree's after the commit.")


def _checkpoint(c):
    trees = [CheckpointTree(c.trees[i].name.decode(errors="replace"),
                            bytes(c.trees[i].digest), c.trees[i].count)
             for i in range(c.ntrees)]
    return Checkpoint(c.id, c.ts_ms, c.commit_seq, c.op_seq, c.label.decode(errors="replace"),
                      trees)


def _oplog_entry(e):
    key = ctypes.string_at(e.key, e.key_len) if e.key_len else b""
    name = _OP_NAMES.get(e.type, "Lookup")
    value = ctypes.string_at(e.value, e.value_len) if e.value_len else b""
    prev = (ctypes.string_at(e.prev, e.prev_len) if e.prev_len else b"") if e.has_prev else None
    return OplogEntry(e.op_seq, e.commit_seq, e.ts_ms, (e.tree or b"").decode(errors="replace"),
                      Op(name, key, value), prev, bytes(e.digest))


class Db:
    """A database directory of named trees (bt_db).  Open with Db.open();
    close with close() or a with block.  Reads and proofs may run from any
    number of threads while one Batch writes."""

    def __init__(self, handle):
        self._h = handle
        self._batch = None  # weak reference to the open Batch

    @classmethod
    def open(cls, path, options=None, **kw):
        """Opens (or creates) the database at path.  options: a DbOptions,
        or keywords for one.  Raises Busy (another writer), Corrupt, ..."""
        opts = options or DbOptions(**kw)
        copts = opts._c()
        h = c_void_p()
        msg = ctypes.create_string_buffer(512)
        _check(lib.bt_db_open(byref(h), _name(str(path)), byref(copts), msg, 512), msg.value)
        return cls(h)

    def close(self):
        """Flushes, syncs and closes; raises the final flush's error."""
        if self._h:
            self._abort_batch()
            h, self._h = self._h, c_void_p()
            _check(lib.bt_db_close(h))

    def _abort_batch(self):
        b = self._batch() if self._batch is not None else None
        if b is not None:
            b.abort()

    def __del__(self):
        try:
            if getattr(self, "_h", None):
                self._abort_batch()
                lib.bt_db_close(self._h)
                self._h = c_void_p()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ok(self, rc):
        if rc != 0:
            raise _error(rc, lib.bt_db_errmsg(self._h))

    # ---- trees --------------------------------------------------------------

    def create_tree(self, name, params=None, exist_ok=False):
        """Creates a tree (Exists if present, unless exist_ok and the
        parameters agree)."""
        params = params or Params.basis()
        rc = lib.bt_db_tree_create(self._h, _name(name), byref(params._c()))
        if rc == Exists.CODE and exist_ok:
            have = self.tree_params(name)
            if (have.key_len, have.value_len) != (params.key_len, params.value_len):
                raise InvalidArgument(-3, "tree %s exists with %r" % (name, have))
            return
        self._ok(rc)

    def tree_params(self, name):
        p = _lib.bt_params()
        self._ok(lib.bt_db_tree_params(byref(p), self._h, _name(name)))
        return Params._from_c(p)

    def trees(self):
        """Names of all trees, sorted."""
        names, n = ctypes.POINTER(c_char_p)(), c_size_t()
        self._ok(lib.bt_db_tree_list(byref(names), byref(n), self._h))
        out = [names[i].decode() for i in range(n.value)]
        lib.bt_free(names)
        return out

    # ---- writes -------------------------------------------------------------

    def begin(self):
        """A write Batch (Busy if one is open).  As a context manager it
        commits when the block succeeds and aborts on an exception."""
        h = c_void_p()
        self._ok(lib.bt_txn_begin(byref(h), self._h))
        b = Batch(self, h)
        self._batch = weakref.ref(b)
        return b

    def wait_durable(self, commit_seq):
        self._ok(lib.bt_db_wait_durable(self._h, commit_seq))

    # ---- reads --------------------------------------------------------------

    def digest(self, tree, checkpoint=0):
        """A tree's committed digest (or at a checkpoint id)."""
        out = (ctypes.c_uint8 * DIGEST_LEN)()
        if checkpoint:
            _need("bt_db_digest_at")
            self._ok(lib.bt_db_digest_at(out, self._h, _name(tree), checkpoint))
        else:
            self._ok(lib.bt_db_digest(out, self._h, _name(tree)))
        return bytes(out)

    def count(self, tree, checkpoint=0):
        n = c_uint64()
        if checkpoint:
            _need("bt_db_count_at")
            self._ok(lib.bt_db_count_at(byref(n), self._h, _name(tree), checkpoint))
        else:
            self._ok(lib.bt_db_count(byref(n), self._h, _name(tree)))
        return n.value

    def get(self, tree, key, checkpoint=0):
        """The value of key in the committed version (or at a checkpoint),
        or None.  NotFound is raised for a missing tree or checkpoint."""
        key = _bytes(key)
        v, n = c_void_p(), c_size_t()
        if checkpoint:
            _need("bt_db_get_at")
            rc = lib.bt_db_get_at(byref(v), byref(n), self._h, _name(tree), checkpoint, key,
                                  len(key))
        else:
            rc = lib.bt_db_get(byref(v), byref(n), self._h, _name(tree), key, len(key))
        if rc == 0:
            return _take(v, n)
        if rc == NotFound.CODE:
            msg = lib.bt_db_errmsg(self._h)
            # BT_ENOTFOUND also means no such tree / checkpoint: tell them apart.
            try:
                self.digest(tree, checkpoint)
            except NotFound:
                raise _error(rc, msg) from None
            return None
        self._ok(rc)

    def prove(self, tree, ops, checkpoint=0):
        """A proof for ops against the committed version (or a checkpoint),
        without changing it: lookups give (non-)membership proofs, writes
        what-if proofs and the digest they would lead to."""
        arr, n, keep = _ops_c(ops)
        res = (_lib.bt_result * max(n, 1))()
        p, plen = c_void_p(), c_size_t()
        d = (ctypes.c_uint8 * DIGEST_LEN)()
        if checkpoint:
            _need("bt_db_prove_at")
            rc = lib.bt_db_prove_at(byref(p), byref(plen), d, res, self._h, _name(tree),
                                    checkpoint, arr, n)
        else:
            rc = lib.bt_db_prove(byref(p), byref(plen), d, res, self._h, _name(tree), arr, n)
        self._ok(rc)
        results = _results(res, n)  # old pointers live until the proof is freed
        return Proof(_take(p, plen), bytes(d), results)

    def lookup_proof(self, tree, key, checkpoint=0):
        """(value or None, proof) for key: the tracker's lookup proof."""
        pr = self.prove(tree, [Op.lookup(key)], checkpoint)
        return _strict(pr.results[0]), pr.proof

    def check(self, tree):
        self._ok(lib.bt_db_check(self._h, _name(tree)))

    def flush(self):
        self._ok(lib.bt_db_flush(self._h))

    def compact(self):
        self._ok(lib.bt_db_compact(self._h))

    def stats(self):
        """Statistics as a dict (the fields of bt_db_stats)."""
        s = _lib.bt_db_stats()
        self._ok(lib.bt_db_stats_get(byref(s), self._h))
        out = {}
        for name, _ in s._fields_:
            v = getattr(s, name)
            out[name] = list(v) if name == "partition_bytes" else v
        return out

    # ---- checkpoints ----------------------------------------------------------

    def checkpoint_create(self, label=None):
        """Pins every tree's committed version; returns the checkpoint id."""
        _need("bt_db_checkpoint_create")
        cid = c_uint64()
        self._ok(lib.bt_db_checkpoint_create(byref(cid), self._h,
                                             None if label is None else _name(label)))
        return cid.value

    def checkpoint(self, cid=0):
        """One checkpoint (0: the newest); NotFound if none."""
        _need("bt_db_checkpoint_get")
        c = ctypes.POINTER(_lib.bt_checkpoint)()
        self._ok(lib.bt_db_checkpoint_get(byref(c), self._h, cid))
        try:
            return _checkpoint(c.contents)
        finally:
            lib.bt_free(c)

    def checkpoints(self):
        """Every retained checkpoint, oldest first."""
        _need("bt_db_checkpoint_list")
        c, n = ctypes.POINTER(_lib.bt_checkpoint)(), c_size_t()
        self._ok(lib.bt_db_checkpoint_list(byref(c), byref(n), self._h))
        try:
            return [_checkpoint(c[i]) for i in range(n.value)]
        finally:
            if c:
                lib.bt_free(c)

    def checkpoint_delete(self, cid):
        _need("bt_db_checkpoint_delete")
        self._ok(lib.bt_db_checkpoint_delete(self._h, cid))

    def checkpoint_validate(self, cid):
        _need("bt_db_checkpoint_validate")
        self._ok(lib.bt_db_checkpoint_validate(self._h, cid))

    def rollback(self, cid):
        """Rolls every tree back to checkpoint cid (reorg)."""
        _need("bt_db_rollback")
        self._ok(lib.bt_db_rollback(self._h, cid))

    # ---- operation log --------------------------------------------------------

    def _oplog(self, call):
        out, err = [], []

        def cb(_ctx, e):
            try:
                out.append(_oplog_entry(e.contents))
                return 0
            except BaseException as ex:  # never unwind through C
                err.append(ex)
                return 1

        fn = _lib.OPLOG_FN(cb)
        rc = call(fn)
        if err:
            raise err[0]
        self._ok(rc)
        return out

    def oplog_range(self, from_seq=1, to_seq=2**64 - 1):
        """Logged operations from_seq..to_seq, in order."""
        _need("bt_db_oplog_range")
        return self._oplog(lambda fn: lib.bt_db_oplog_range(self._h, from_seq, to_seq, fn, None))

    def oplog_time(self, from_ms, to_ms):
        _need("bt_db_oplog_time")
        return self._oplog(lambda fn: lib.bt_db_oplog_time(self._h, from_ms, to_ms, fn, None))

    def oplog_key(self, tree, key):
        _need("bt_db_oplog_key")
        key = _bytes(key)
        return self._oplog(lambda fn: lib.bt_db_oplog_key(self._h, _name(tree), key, len(key),
                                                          fn, None))

    def oplog_bounds(self):
        """(first retained op seq, last op seq)."""
        _need("bt_db_oplog_bounds")
        a, b = c_uint64(), c_uint64()
        self._ok(lib.bt_db_oplog_bounds(byref(a), byref(b), self._h))
        return a.value, b.value


class Batch:
    """A write transaction over any trees of one Db; commit() makes it
    durable atomically, abort() (or garbage collection) drops it."""

    def __init__(self, db, handle):
        self._db = db
        self._h = handle

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self._h:
            self.commit()
        else:
            self.abort()

    def __del__(self):
        try:
            self.abort()
        except Exception:  # interpreter shutdown
            pass

    def _live(self):
        if not self._h:
            raise BadState(-11, "the batch was committed or aborted")
        return self._h

    def apply(self, tree, ops):
        """Applies ops to tree; one OpResult each (NotFound: no such tree)."""
        arr, n, keep = _ops_c(ops)
        res = (_lib.bt_result * max(n, 1))()
        self._db._ok(lib.bt_txn_apply(self._live(), _name(tree), arr, n, res))
        return _results(res, n)

    def insert(self, tree, key, value):
        _strict(self.apply(tree, [Op.insert(key, value)])[0])

    def update(self, tree, key, value):
        return _strict(self.apply(tree, [Op.update(key, value)])[0])

    def insert_or_update(self, tree, key, value):
        return _strict(self.apply(tree, [Op.insert_or_update(key, value)])[0])

    def remove(self, tree, key):
        return _strict(self.apply(tree, [Op.remove(key)])[0])

    def prove(self, tree):
        """(batch proof of this batch's ops on tree, digest they lead to)."""
        p, n = c_void_p(), c_size_t()
        d = (ctypes.c_uint8 * DIGEST_LEN)()
        self._db._ok(lib.bt_txn_prove(byref(p), byref(n), d, self._live(), _name(tree)))
        return _take(p, n), bytes(d)

    def set_time(self, ts_ms):
        """The timestamp (ms since the epoch) logged for this batch."""
        lib.bt_txn_set_time(self._live(), ts_ms)

    def commit(self):
        """Commits; on failure the Db handle must be closed and reopened."""
        h, self._h = self._live(), c_void_p()
        info = _lib.bt_commit_info()
        self._db._ok(lib.bt_txn_commit(h, byref(info)))
        return CommitInfo(info.commit_seq, info.last_op_seq, info.ops_logged)

    def abort(self):
        if getattr(self, "_h", None):
            lib.bt_txn_abort(self._h)
            self._h = c_void_p()


from . import basis  # noqa: E402  (uses the names above)
