//! Raw declarations of the C API (include/basistrees.h).  Only the structs
//! and functions the safe API uses are declared; build.rs checks every
//! struct's size and field offsets against the header at build time.
#![allow(non_camel_case_types, dead_code)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

pub const BT_DIGEST_LEN: usize = 33;
pub const BT_LABEL_LEN: usize = 32;
pub const BT_VALUE_VARIABLE: u32 = 0xFFFF_FFFF;
pub const BT_CHECKPOINT_LABEL_MAX: usize = 128;
pub const BT_AVL_REGISTER_MAX: usize = 48;

pub type bt_op_type = c_int;
pub const BT_OP_LOOKUP: bt_op_type = 0;
pub const BT_OP_INSERT: bt_op_type = 1;
pub const BT_OP_UPDATE: bt_op_type = 2;
pub const BT_OP_INSERT_OR_UPDATE: bt_op_type = 3;
pub const BT_OP_REMOVE: bt_op_type = 4;
pub const BT_OP_REMOVE_IF_EXISTS: bt_op_type = 5;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct bt_params {
    pub version: c_uint,
    pub key_len: c_uint,
    pub value_len: u32,
    pub value_max: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct bt_op {
    pub type_: bt_op_type,
    pub key: *const u8,
    pub key_len: usize,
    pub value: *const u8,
    pub value_len: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct bt_result {
    pub status: c_int,
    pub found: c_int,
    pub old: *const u8,
    pub old_len: usize,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct bt_verify_opts {
    pub version: c_uint,
    pub max_ops: i64,
    pub max_deletes: i64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct bt_db_options {
    pub version: c_uint,
    pub create_if_missing: c_int,
    pub read_only: c_int,
    pub durability: c_int,
    pub group_ms: c_uint,
    pub group_ops: c_uint,
    pub cache_bytes: u64,
    pub flush_ops: u64,
    pub flush_bytes: u64,
    pub block_cache_bytes: u64,
    pub write_buffer_bytes: u64,
    pub compression: [c_int; 5],
    pub zstd_level: c_int,
    pub bloom_bits: c_int,
    pub info_log_level: c_int,
    pub info_log_dir: *const c_char,
    pub min_free_bytes: u64,
    pub index_labels: c_int,
    pub reserved: c_int,
    pub checkpoint_keep: c_uint,
    pub reserved2: c_uint,
    pub checkpoint_keep_ms: u64,
    pub oplog_keep_ms: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct bt_commit_info {
    pub commit_seq: u64,
    pub last_op_seq: u64,
    pub ops_logged: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct bt_db_stats {
    pub trees: u64,
    pub commits: u64,
    pub ops: u64,
    pub nodes_written: u64,
    pub nodes_deleted: u64,
    pub nodes_loaded: u64,
    pub flushes: u64,
    pub syncs: u64,
    pub replayed_ops: u64,
    pub open_ms: f64,
    pub partition_bytes: [u64; 5],
    pub commit_ns_p50: u64,
    pub commit_ns_p95: u64,
    pub commit_ns_p99: u64,
    pub notes: u64,
    pub nodes: u64,
    pub cache_bytes: u64,
    pub cache_drops: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct bt_checkpoint_tree {
    pub name: [c_char; 65],
    pub digest: [u8; BT_DIGEST_LEN],
    pub count: u64,
}

#[repr(C)]
pub struct bt_checkpoint {
    pub id: u64,
    pub ts_ms: u64,
    pub commit_seq: u64,
    pub op_seq: u64,
    pub label: [c_char; BT_CHECKPOINT_LABEL_MAX + 1],
    pub ntrees: usize,
    pub trees: *mut bt_checkpoint_tree,
}

#[repr(C)]
pub struct bt_oplog_entry {
    pub op_seq: u64,
    pub commit_seq: u64,
    pub ts_ms: u64,
    pub type_: bt_op_type,
    pub tree: *const c_char,
    pub key: *const u8,
    pub key_len: usize,
    pub value: *const u8,
    pub value_len: usize,
    pub has_prev: c_int,
    pub prev: *const u8,
    pub prev_len: usize,
    pub digest: [u8; BT_DIGEST_LEN],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct bt_avl_register {
    pub digest: [u8; BT_DIGEST_LEN],
    pub flags: u8,
    pub key_len: u32,
    pub has_value_len: c_int,
    pub value_len: u32,
}

impl Default for bt_avl_register {
    fn default() -> Self {
        bt_avl_register { digest: [0; BT_DIGEST_LEN], flags: 0, key_len: 0, has_value_len: 0,
                          value_len: 0 }
    }
}

pub type bt_oplog_fn = unsafe extern "C" fn(ctx: *mut c_void, e: *const bt_oplog_entry) -> c_int;

#[repr(C)]
pub struct bt_tree {
    _private: [u8; 0],
}
#[repr(C)]
pub struct bt_verifier {
    _private: [u8; 0],
}
#[repr(C)]
pub struct bt_db {
    _private: [u8; 0],
}
#[repr(C)]
pub struct bt_txn {
    _private: [u8; 0],
}

// Sizes, offsets and *_INIT bytes measured from the header by build.rs.
include!(concat!(env!("OUT_DIR"), "/layout.rs"));

/// Reads a C struct from the bytes of its INIT macro.
pub fn from_init<T: Copy>(bytes: &[u8]) -> T {
    assert_eq!(bytes.len(), std::mem::size_of::<T>());
    // SAFETY: the length matches, the bytes come from the C initialiser of
    // this very struct (checked layout), and every field is plain data or a
    // null pointer.
    unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const T) }
}

extern "C" {
    pub fn bt_version() -> *const c_char;
    pub fn bt_strerror(code: c_int) -> *const c_char;
    pub fn bt_error_class(code: c_int) -> *const c_char;
    pub fn bt_free(ptr: *mut c_void);
    pub fn bt_params_check(params: *const bt_params) -> c_int;
    pub fn bt_empty_digest(out: *mut u8, params: *const bt_params) -> c_int;

    pub fn bt_tree_new(out: *mut *mut bt_tree, params: *const bt_params) -> c_int;
    pub fn bt_tree_free(tree: *mut bt_tree);
    pub fn bt_tree_errmsg(tree: *const bt_tree) -> *const c_char;
    pub fn bt_tree_params(out: *mut bt_params, tree: *const bt_tree);
    pub fn bt_tree_apply(tree: *mut bt_tree, op: *const bt_op, out: *mut bt_result) -> c_int;
    pub fn bt_tree_apply_batch(tree: *mut bt_tree, ops: *const bt_op, n: usize,
                               results: *mut bt_result) -> c_int;
    pub fn bt_tree_prove(out_proof: *mut *mut u8, out_len: *mut usize, tree: *mut bt_tree) -> c_int;
    pub fn bt_tree_discard(tree: *mut bt_tree);
    pub fn bt_tree_digest(out: *mut u8, tree: *mut bt_tree) -> c_int;
    pub fn bt_tree_height(tree: *const bt_tree) -> c_uint;
    pub fn bt_tree_count(tree: *const bt_tree) -> u64;
    pub fn bt_tree_get(out_value: *mut *const u8, out_len: *mut usize, tree: *mut bt_tree,
                       key: *const u8, key_len: usize) -> c_int;
    pub fn bt_tree_whatif(out_proof: *mut *mut u8, out_len: *mut usize, out_digest: *mut u8,
                          results: *mut bt_result, tree: *mut bt_tree, ops: *const bt_op,
                          n: usize) -> c_int;
    pub fn bt_tree_check(tree: *mut bt_tree) -> c_int;

    pub fn bt_verifier_new(out: *mut *mut bt_verifier, params: *const bt_params,
                           start_digest: *const u8, start_digest_len: usize, proof: *const u8,
                           proof_len: usize, opts: *const bt_verify_opts) -> c_int;
    pub fn bt_verifier_free(v: *mut bt_verifier);
    pub fn bt_verifier_apply(v: *mut bt_verifier, op: *const bt_op, out: *mut bt_result) -> c_int;
    pub fn bt_verifier_digest(out: *mut u8, v: *mut bt_verifier) -> c_int;
    pub fn bt_verifier_errmsg(v: *const bt_verifier) -> *const c_char;

    pub fn bt_db_options_check(opts: *const bt_db_options, msg: *mut c_char, msgcap: usize) -> c_int;
    pub fn bt_db_open(out: *mut *mut bt_db, path: *const c_char, opts: *const bt_db_options,
                      errmsg: *mut c_char, errmsg_cap: usize) -> c_int;
    pub fn bt_db_close(db: *mut bt_db) -> c_int;
    pub fn bt_db_errmsg(db: *const bt_db) -> *const c_char;
    pub fn bt_db_tree_create(db: *mut bt_db, name: *const c_char, params: *const bt_params) -> c_int;
    pub fn bt_db_tree_params(out: *mut bt_params, db: *mut bt_db, name: *const c_char) -> c_int;
    pub fn bt_db_tree_list(out_names: *mut *mut *mut c_char, out_count: *mut usize,
                           db: *mut bt_db) -> c_int;
    pub fn bt_txn_begin(out: *mut *mut bt_txn, db: *mut bt_db) -> c_int;
    pub fn bt_txn_apply(txn: *mut bt_txn, tree: *const c_char, ops: *const bt_op, n: usize,
                        results: *mut bt_result) -> c_int;
    pub fn bt_txn_prove(out_proof: *mut *mut u8, out_len: *mut usize, out_digest: *mut u8,
                        txn: *mut bt_txn, tree: *const c_char) -> c_int;
    pub fn bt_txn_commit(txn: *mut bt_txn, info: *mut bt_commit_info) -> c_int;
    pub fn bt_txn_abort(txn: *mut bt_txn);
    pub fn bt_txn_set_time(txn: *mut bt_txn, ts_ms: u64);
    pub fn bt_db_wait_durable(db: *mut bt_db, commit_seq: u64) -> c_int;
    pub fn bt_db_digest(out: *mut u8, db: *mut bt_db, tree: *const c_char) -> c_int;
    pub fn bt_db_count(out: *mut u64, db: *mut bt_db, tree: *const c_char) -> c_int;
    pub fn bt_db_get(out_value: *mut *mut u8, out_len: *mut usize, db: *mut bt_db,
                     tree: *const c_char, key: *const u8, key_len: usize) -> c_int;
    pub fn bt_db_prove(out_proof: *mut *mut u8, out_len: *mut usize, out_digest: *mut u8,
                       results: *mut bt_result, db: *mut bt_db, tree: *const c_char,
                       ops: *const bt_op, n: usize) -> c_int;
    pub fn bt_db_check(db: *mut bt_db, tree: *const c_char) -> c_int;
    pub fn bt_db_flush(db: *mut bt_db) -> c_int;
    pub fn bt_db_compact(db: *mut bt_db) -> c_int;
    pub fn bt_db_stats_get(out: *mut bt_db_stats, db: *mut bt_db) -> c_int;

    pub fn bt_db_oplog_range(db: *mut bt_db, from_seq: u64, to_seq: u64, f: bt_oplog_fn,
                             ctx: *mut c_void) -> c_int;
    pub fn bt_db_oplog_time(db: *mut bt_db, from_ms: u64, to_ms: u64, f: bt_oplog_fn,
                            ctx: *mut c_void) -> c_int;
    pub fn bt_db_oplog_key(db: *mut bt_db, tree: *const c_char, key: *const u8, key_len: usize,
                           f: bt_oplog_fn, ctx: *mut c_void) -> c_int;
    pub fn bt_db_oplog_bounds(out_first: *mut u64, out_last: *mut u64, db: *mut bt_db) -> c_int;
    pub fn bt_db_checkpoint_create(out_id: *mut u64, db: *mut bt_db, label: *const c_char) -> c_int;
    pub fn bt_db_checkpoint_get(out: *mut *mut bt_checkpoint, db: *mut bt_db, id: u64) -> c_int;
    pub fn bt_db_checkpoint_list(out: *mut *mut bt_checkpoint, out_count: *mut usize,
                                 db: *mut bt_db) -> c_int;
    pub fn bt_db_checkpoint_delete(db: *mut bt_db, id: u64) -> c_int;
    pub fn bt_db_checkpoint_validate(db: *mut bt_db, id: u64) -> c_int;
    pub fn bt_db_rollback(db: *mut bt_db, checkpoint_id: u64) -> c_int;
    pub fn bt_db_digest_at(out: *mut u8, db: *mut bt_db, tree: *const c_char,
                           checkpoint_id: u64) -> c_int;
    pub fn bt_db_count_at(out: *mut u64, db: *mut bt_db, tree: *const c_char,
                          checkpoint_id: u64) -> c_int;
    pub fn bt_db_get_at(out_value: *mut *mut u8, out_len: *mut usize, db: *mut bt_db,
                        tree: *const c_char, checkpoint_id: u64, key: *const u8,
                        key_len: usize) -> c_int;
    pub fn bt_db_prove_at(out_proof: *mut *mut u8, out_len: *mut usize, out_digest: *mut u8,
                          results: *mut bt_result, db: *mut bt_db, tree: *const c_char,
                          checkpoint_id: u64, ops: *const bt_op, n: usize) -> c_int;

    pub fn bt_basis_note_key(out: *mut u8, issuer: *const u8, recipient: *const u8) -> c_int;
    pub fn bt_basis_tracker_value(out: *mut u8, total_debt: u64);
    pub fn bt_basis_tracker_value_decode(out_total_debt: *mut u64, value: *const u8,
                                         len: usize) -> c_int;
    pub fn bt_basis_reserve_value(out: *mut u8, timestamp: u64, redeemed: u64);
    pub fn bt_basis_reserve_value_decode(out_timestamp: *mut u64, out_redeemed: *mut u64,
                                         value: *const u8, len: usize) -> c_int;
    pub fn bt_avl_register_encode(out: *mut u8, cap: usize, out_len: *mut usize,
                                  reg: *const bt_avl_register) -> c_int;
    pub fn bt_avl_register_decode(out: *mut bt_avl_register, input: *const u8, len: usize) -> c_int;
}
