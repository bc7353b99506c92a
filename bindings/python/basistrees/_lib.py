"""ctypes declarations of include/basistrees.h (the parts the module uses).

The library is found, in this order:
  1. $BASISTREES_LIB: the path of libbasistrees.so(.N);
  2. $BASISTREES_BUILD_DIR: a CMake build directory;
  3. ``pkg-config --variable=libdir basistrees`` (an installed library;
     PKG_CONFIG_PATH works);
  4. ``build/`` of the checkout that holds bindings/;
  5. the loader's search path (ctypes.util.find_library).
tests/test_layout.py checks every Structure below against the header.
"""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_int, c_int64, c_size_t,
                    c_uint, c_uint8, c_uint32, c_uint64, c_void_p)

SONAME = "libbasistrees.so.0"
DIGEST_LEN = 33
LABEL_LEN = 32
VALUE_VARIABLE = 0xFFFFFFFF
CHECKPOINT_LABEL_MAX = 128
AVL_REGISTER_MAX = 48


def _candidates():
    env = os.environ.get("BASISTREES_LIB")
    if env:
        yield env
    if os.environ.get("BASISTREES_BUILD_DIR"):
        yield os.path.join(os.environ["BASISTREES_BUILD_DIR"], SONAME)
    if shutil.which("pkg-config"):
        try:
            out = subprocess.run(["pkg-config", "--variable=libdir", "basistrees"],
                                 capture_output=True, text=True, check=False)
            if out.returncode == 0 and out.stdout.strip():
                yield os.path.join(out.stdout.strip(), SONAME)
        except OSError:
            pass
    build = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "build")
    yield os.path.join(build, SONAME)
    found = ctypes.util.find_library("basistrees")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("libbasistrees not found; install it (cmake --install) or set "
                      "BASISTREES_LIB or BASISTREES_BUILD_DIR. Tried: " + "; ".join(tried))


lib, lib_path = _load()


class bt_params(Structure):
    _fields_ = [("version", c_uint), ("key_len", c_uint), ("value_len", c_uint32),
                ("value_max", c_uint32)]


class bt_op(Structure):
    _fields_ = [("type", c_int), ("key", c_void_p), ("key_len", c_size_t),
                ("value", c_void_p), ("value_len", c_size_t)]


class bt_result(Structure):
    _fields_ = [("status", c_int), ("found", c_int), ("old", c_void_p), ("old_len", c_size_t)]


class bt_verify_opts(Structure):
    _fields_ = [("version", c_uint), ("max_ops", c_int64), ("max_deletes", c_int64)]


class bt_db_options(Structure):
    _fields_ = [("version", c_uint), ("create_if_missing", c_int), ("read_only", c_int),
                ("durability", c_int), ("group_ms", c_uint), ("group_ops", c_uint),
                ("cache_bytes", c_uint64), ("flush_ops", c_uint64), ("flush_bytes", c_uint64),
                ("block_cache_bytes", c_uint64), ("write_buffer_bytes", c_uint64),
                ("compression", c_int * 5), ("zstd_level", c_int), ("bloom_bits", c_int),
                ("info_log_level", c_int), ("info_log_dir", c_char_p),
                ("min_free_bytes", c_uint64), ("index_labels", c_int), ("reserved", c_int),
                ("checkpoint_keep", c_uint), ("reserved2", c_uint),
                ("checkpoint_keep_ms", c_uint64), ("oplog_keep_ms", c_uint64)]


# BT_DB_OPTIONS_INIT, field by field (tests/test_layout.py compares the bytes).
DB_OPTIONS_INIT = dict(version=2, create_if_missing=1, read_only=0, durability=1, group_ms=10,
                       group_ops=10000, cache_bytes=256 << 20, flush_ops=50000,
                       flush_bytes=64 << 20, block_cache_bytes=32 << 20,
                       write_buffer_bytes=64 << 20, compression=(1, 1, 1, 0, 1), zstd_level=3,
                       bloom_bits=10, info_log_level=3, info_log_dir=None,
                       min_free_bytes=64 << 20, index_labels=0, reserved=0, checkpoint_keep=0,
                       reserved2=0, checkpoint_keep_ms=0, oplog_keep_ms=0)


class bt_commit_info(Structure):
    _fields_ = [("commit_seq", c_uint64), ("last_op_seq", c_uint64), ("ops_logged", c_uint64)]


class bt_db_stats(Structure):
    _fields_ = [("trees", c_uint64), ("commits", c_uint64), ("ops", c_uint64),
                ("nodes_written", c_uint64), ("nodes_deleted", c_uint64),
                ("nodes_loaded", c_uint64), ("flushes", c_uint64), ("syncs", c_uint64),
                ("replayed_ops", c_uint64), ("open_ms", c_double),
                ("partition_bytes", c_uint64 * 5), ("commit_ns_p50", c_uint64),
                ("commit_ns_p95", c_uint64), ("commit_ns_p99", c_uint64), ("notes", c_uint64),
                ("nodes", c_uint64), ("cache_bytes", c_uint64), ("cache_drops", c_uint64)]


class bt_checkpoint_tree(Structure):
    _fields_ = [("name", c_char * 65), ("digest", c_uint8 * DIGEST_LEN), ("count", c_uint64)]


class bt_checkpoint(Structure):
    _fields_ = [("id", c_uint64), ("ts_ms", c_uint64), ("commit_seq", c_uint64),
                ("op_seq", c_uint64), ("label", c_char * (CHECKPOINT_LABEL_MAX + 1)),
                ("ntrees", c_size_t), ("trees", POINTER(bt_checkpoint_tree))]


class bt_oplog_entry(Structure):
    _fields_ = [("op_seq", c_uint64), ("commit_seq", c_uint64), ("ts_ms", c_uint64),
                ("type", c_int), ("tree", c_char_p), ("key", c_void_p), ("key_len", c_size_t),
                ("value", c_void_p), ("value_len", c_size_t), ("has_prev", c_int),
                ("prev", c_void_p), ("prev_len", c_size_t), ("digest", c_uint8 * DIGEST_LEN)]


class bt_avl_register(Structure):
    _fields_ = [("digest", c_uint8 * DIGEST_LEN), ("flags", c_uint8), ("key_len", c_uint32),
                ("has_value_len", c_int), ("value_len", c_uint32)]


# The structs tests/test_layout.py checks: C name -> ctypes class.
STRUCTS = {c.__name__: c for c in (bt_params, bt_op, bt_result, bt_verify_opts, bt_db_options,
                                   bt_commit_info, bt_db_stats, bt_checkpoint_tree,
                                   bt_checkpoint, bt_oplog_entry, bt_avl_register)}

OPLOG_FN = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(bt_oplog_entry))

P = POINTER
u8p = c_void_p  # byte buffers are passed as addresses
_SIGS = {
    "bt_version": (c_char_p, []),
    "bt_strerror": (c_char_p, [c_int]),
    "bt_error_class": (c_char_p, [c_int]),
    "bt_free": (None, [c_void_p]),
    "bt_params_check": (c_int, [P(bt_params)]),
    "bt_empty_digest": (c_int, [u8p, P(bt_params)]),
    "bt_tree_new": (c_int, [P(c_void_p), P(bt_params)]),
    "bt_tree_free": (None, [c_void_p]),
    "bt_tree_errmsg": (c_char_p, [c_void_p]),
    "bt_tree_params": (None, [P(bt_params), c_void_p]),
    "bt_tree_apply_batch": (c_int, [c_void_p, P(bt_op), c_size_t, P(bt_result)]),
    "bt_tree_prove": (c_int, [P(c_void_p), P(c_size_t), c_void_p]),
    "bt_tree_discard": (None, [c_void_p]),
    "bt_tree_digest": (c_int, [u8p, c_void_p]),
    "bt_tree_height": (c_uint, [c_void_p]),
    "bt_tree_count": (c_uint64, [c_void_p]),
    "bt_tree_get": (c_int, [P(c_void_p), P(c_size_t), c_void_p, u8p, c_size_t]),
    "bt_tree_whatif": (c_int, [P(c_void_p), P(c_size_t), u8p, P(bt_result), c_void_p,
                               P(bt_op), c_size_t]),
    "bt_tree_check": (c_int, [c_void_p]),
    "bt_verifier_new": (c_int, [P(c_void_p), P(bt_params), u8p, c_size_t, u8p, c_size_t,
                                P(bt_verify_opts)]),
    "bt_verifier_free": (None, [c_void_p]),
    "bt_verifier_apply": (c_int, [c_void_p, P(bt_op), P(bt_result)]),
    "bt_verifier_digest": (c_int, [u8p, c_void_p]),
    "bt_verifier_errmsg": (c_char_p, [c_void_p]),
    "bt_db_options_check": (c_int, [P(bt_db_options), c_char_p, c_size_t]),
    "bt_db_open": (c_int, [P(c_void_p), c_char_p, P(bt_db_options), c_char_p, c_size_t]),
    "bt_db_close": (c_int, [c_void_p]),
    "bt_db_errmsg": (c_char_p, [c_void_p]),
    "bt_db_tree_create": (c_int, [c_void_p, c_char_p, P(bt_params)]),
    "bt_db_tree_params": (c_int, [P(bt_params), c_void_p, c_char_p]),
    "bt_db_tree_list": (c_int, [P(P(c_char_p)), P(c_size_t), c_void_p]),
    "bt_txn_begin": (c_int, [P(c_void_p), c_void_p]),
    "bt_txn_apply": (c_int, [c_void_p, c_char_p, P(bt_op), c_size_t, P(bt_result)]),
    "bt_txn_prove": (c_int, [P(c_void_p), P(c_size_t), u8p, c_void_p, c_char_p]),
    "bt_txn_commit": (c_int, [c_void_p, P(bt_commit_info)]),
    "bt_txn_abort": (None, [c_void_p]),
    "bt_txn_set_time": (None, [c_void_p, c_uint64]),
    "bt_db_wait_durable": (c_int, [c_void_p, c_uint64]),
    "bt_db_digest": (c_int, [u8p, c_void_p, c_char_p]),
    "bt_db_count": (c_int, [P(c_uint64), c_void_p, c_char_p]),
    "bt_db_get": (c_int, [P(c_void_p), P(c_size_t), c_void_p, c_char_p, u8p, c_size_t]),
    "bt_db_prove": (c_int, [P(c_void_p), P(c_size_t), u8p, P(bt_result), c_void_p, c_char_p,
                            P(bt_op), c_size_t]),
    "bt_db_check": (c_int, [c_void_p, c_char_p]),
    "bt_db_flush": (c_int, [c_void_p]),
    "bt_db_compact": (c_int, [c_void_p]),
    "bt_db_stats_get": (c_int, [P(bt_db_stats), c_void_p]),
    "bt_db_oplog_range": (c_int, [c_void_p, c_uint64, c_uint64, OPLOG_FN, c_void_p]),
    "bt_db_oplog_time": (c_int, [c_void_p, c_uint64, c_uint64, OPLOG_FN, c_void_p]),
    "bt_db_oplog_key": (c_int, [c_void_p, c_char_p, u8p, c_size_t, OPLOG_FN, c_void_p]),
    "bt_db_oplog_bounds": (c_int, [P(c_uint64), P(c_uint64), c_void_p]),
    "bt_db_checkpoint_create": (c_int, [P(c_uint64), c_void_p, c_char_p]),
    "bt_db_checkpoint_get": (c_int, [P(P(bt_checkpoint)), c_void_p, c_uint64]),
    "bt_db_checkpoint_list": (c_int, [P(P(bt_checkpoint)), P(c_size_t), c_void_p]),
    "bt_db_checkpoint_delete": (c_int, [c_void_p, c_uint64]),
    "bt_db_checkpoint_validate": (c_int, [c_void_p, c_uint64]),
    "bt_db_rollback": (c_int, [c_void_p, c_uint64]),
    "bt_db_digest_at": (c_int, [u8p, c_void_p, c_char_p, c_uint64]),
    "bt_db_count_at": (c_int, [P(c_uint64), c_void_p, c_char_p, c_uint64]),
    "bt_db_get_at": (c_int, [P(c_void_p), P(c_size_t), c_void_p, c_char_p, c_uint64, u8p,
                             c_size_t]),
    "bt_db_prove_at": (c_int, [P(c_void_p), P(c_size_t), u8p, P(bt_result), c_void_p, c_char_p,
                               c_uint64, P(bt_op), c_size_t]),
    "bt_basis_note_key": (c_int, [u8p, u8p, u8p]),
    "bt_basis_tracker_value": (None, [u8p, c_uint64]),
    "bt_basis_tracker_value_decode": (c_int, [P(c_uint64), u8p, c_size_t]),
    "bt_basis_reserve_value": (None, [u8p, c_uint64, c_uint64]),
    "bt_basis_reserve_value_decode": (c_int, [P(c_uint64), P(c_uint64), u8p, c_size_t]),
    "bt_avl_register_encode": (c_int, [u8p, c_size_t, P(c_size_t), P(bt_avl_register)]),
    "bt_avl_register_decode": (c_int, [P(bt_avl_register), u8p, c_size_t]),
}

MISSING = []
for _name, (_res, _args) in _SIGS.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:  # an older library: the function raises when called
        MISSING.append(_name)
        continue
    _f.restype = _res
    _f.argtypes = _args
