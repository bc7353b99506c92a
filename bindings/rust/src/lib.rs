//! Safe Rust bindings to libbasistrees: Ergo's authenticated AVL+ dictionary
//! (BatchAVLProver / BatchAVLVerifier, Blake2b-256 labels, 33-byte digests)
//! in memory and persistent on RocksDB.
//!
//! * [`Tree`]: an in-memory prover tree.  It has the shape of the Basis
//!   tracker's `BasisAvlTree` (`insert`, `update`, `generate_proof`,
//!   `root_digest`), with errors instead of panics, removals, lookups and
//!   non-mutating "what-if" proofs.
//! * [`Db`]: a database directory with any number of named trees; writes go
//!   through a [`Batch`] (one atomic commit over several trees), reads and
//!   proofs are served from the committed version by any number of threads;
//!   checkpoints pin versions (the on-chain commitment) for reads, proofs and
//!   rollback; the operation log can be queried.
//! * [`verify`] / [`Verifier`]: check an untrusted proof against a digest.
//! * [`basis`]: the Basis encodings (note keys, tracker and reserve values,
//!   the SAvlTree register).
//!
//! Every fallible call returns [`Result`]; an [`Error`] carries the library's
//! code (`BT_E*`, see [`code`]) and its message.
//!
//! ```no_run
//! use basistrees::{Db, DbOptions, Params, Op};
//! let db = Db::open("/tmp/tracker-db", &DbOptions::default())?;
//! db.create_tree_if_missing("tracker", &Params::basis())?;
//! let mut batch = db.begin()?;
//! batch.insert_or_update("tracker", &[7u8; 32], &1000u64.to_be_bytes())?;
//! let (proof, new_digest) = batch.prove("tracker")?;
//! batch.commit()?;
//! assert_eq!(db.digest("tracker")?, new_digest);
//! let lookup = db.prove("tracker", &[Op::Lookup(vec![7u8; 32])])?;
//! # let _ = (proof, lookup);
//! # Ok::<(), basistrees::Error>(())
//! ```
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;
use std::ptr;

mod ffi;

pub mod basis;

/// A tree digest: the 32-byte root label followed by the height.
pub type Digest = [u8; DIGEST_LEN];
/// Length of a [`Digest`].
pub const DIGEST_LEN: usize = ffi::BT_DIGEST_LEN;

/// The library's error codes (`BT_E*` in basistrees.h).
pub mod code {
    pub const NOT_FOUND: i32 = -1;
    pub const EXISTS: i32 = -2;
    pub const INVALID: i32 = -3;
    pub const CORRUPT: i32 = -4;
    pub const PROOF: i32 = -5;
    pub const IO: i32 = -6;
    pub const NO_SPACE: i32 = -7;
    pub const NO_MEMORY: i32 = -8;
    pub const LIMIT: i32 = -9;
    pub const BUSY: i32 = -10;
    pub const BAD_STATE: i32 = -11;
    pub const KEY_LOW: i32 = -12;
    pub const KEY_HIGH: i32 = -13;
    pub const KEY_LENGTH: i32 = -14;
    pub const VALUE_LENGTH: i32 = -15;
    pub const NOT_SUPPORTED: i32 = -16;
}

/// An error of the C library: its code (a negative `BT_E*` value, see
/// [`code`]) and a message (the handle's message when it had one, otherwise
/// the code's phrase).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: i32,
    message: String,
}

impl Error {
    /// An error with the code's standard phrase as message.
    pub fn from_code(code: i32) -> Error {
        Error { code, message: strerror(code) }
    }

    fn with_message(code: i32, msg: Option<String>) -> Error {
        match msg {
            Some(m) if !m.is_empty() => Error { code, message: m },
            _ => Error::from_code(code),
        }
    }

    /// The `BT_E*` code.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The message (never empty).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The reference vectors' name of an operation failure ("key_not_found",
    /// "key_already_exists", ...), or None for other codes.
    pub fn class(&self) -> Option<&'static str> {
        // SAFETY: bt_error_class returns NULL or a static string.
        unsafe { static_str(ffi::bt_error_class(self.code)) }
    }

    pub fn is_not_found(&self) -> bool {
        self.code == code::NOT_FOUND
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phrase = strerror(self.code);
        if self.message == phrase {
            write!(f, "{} ({})", phrase, self.code)
        } else {
            write!(f, "{}: {} ({})", phrase, self.message, self.code)
        }
    }
}

impl std::error::Error for Error {}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// The outcome of one operation inside a batch: the value the key had
/// before (for a Lookup: the value found), or the operation's failure (its
/// [`Error::class`] is the reference vectors' name).  A failed operation
/// leaves no trace in the tree or in the proof.
pub type OpResult = std::result::Result<Option<Vec<u8>>, Error>;

/// `bt_strerror`: the phrase for a code.
pub fn strerror(code: i32) -> String {
    // SAFETY: bt_strerror never returns NULL; the string is static.
    unsafe { static_str(ffi::bt_strerror(code)) }.unwrap_or("unknown error").to_string()
}

/// The library's version string ("0.1.0").
pub fn version() -> &'static str {
    // SAFETY: static storage.
    unsafe { static_str(ffi::bt_version()) }.unwrap_or("")
}

unsafe fn static_str(p: *const c_char) -> Option<&'static str> {
    if p.is_null() {
        None
    } else {
        CStr::from_ptr(p).to_str().ok()
    }
}

unsafe fn borrowed_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

fn check(rc: c_int) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::from_code(rc))
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error {
        code: code::INVALID,
        message: format!("name contains a NUL byte: {s:?}"),
    })
}

/// Copies a buffer the library allocated and frees it.
unsafe fn take_buffer(p: *mut u8, len: usize) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    let v = std::slice::from_raw_parts(p, len).to_vec();
    ffi::bt_free(p as *mut c_void);
    v
}

unsafe fn copy_bytes(p: *const u8, len: usize) -> Vec<u8> {
    if p.is_null() || len == 0 {
        Vec::new()
    } else {
        std::slice::from_raw_parts(p, len).to_vec()
    }
}

// ---------------------------------------------------------------------------
// Parameters and operations
// ---------------------------------------------------------------------------

/// Parameters of a tree (part of its digest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Key length, 1..=255 (Basis: 32).
    pub key_len: u32,
    /// Fixed value length, or None for values of any length.
    pub value_len: Option<u32>,
    /// Variable values only: the longest value an operation may write
    /// (0: the library's default, 1 MiB).
    pub value_max: u32,
}

impl Params {
    /// 32-byte keys, variable-length values: the Basis tracker and reserve
    /// trees.
    pub fn basis() -> Params {
        Params { key_len: 32, value_len: None, value_max: 0 }
    }

    /// Keys of `key_len` bytes and values of exactly `value_len` bytes.
    pub fn fixed(key_len: u32, value_len: u32) -> Params {
        Params { key_len, value_len: Some(value_len), value_max: 0 }
    }

    /// Keys of `key_len` bytes and values of any length.
    pub fn variable(key_len: u32) -> Params {
        Params { key_len, value_len: None, value_max: 0 }
    }

    fn to_c(self) -> ffi::bt_params {
        let mut p: ffi::bt_params = ffi::from_init(&ffi::BT_PARAMS_INIT);
        p.key_len = self.key_len;
        p.value_len = self.value_len.unwrap_or(ffi::BT_VALUE_VARIABLE);
        p.value_max = self.value_max;
        p
    }

    fn from_c(p: &ffi::bt_params) -> Params {
        Params {
            key_len: p.key_len,
            value_len: if p.value_len == ffi::BT_VALUE_VARIABLE { None } else { Some(p.value_len) },
            value_max: p.value_max,
        }
    }

    /// `bt_params_check`.
    pub fn check(&self) -> Result<()> {
        let p = self.to_c();
        // SAFETY: p is a valid parameter block.
        check(unsafe { ffi::bt_params_check(&p) })
    }

    /// The digest of the empty tree with these parameters.
    pub fn empty_digest(&self) -> Result<Digest> {
        let p = self.to_c();
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: d has room for 33 bytes.
        check(unsafe { ffi::bt_empty_digest(d.as_mut_ptr(), &p) })?;
        Ok(d)
    }
}

impl Default for Params {
    fn default() -> Params {
        Params::basis()
    }
}

/// One operation of Ergo's AVL+ dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Result: the value, or None.
    Lookup(Vec<u8>),
    /// Fails with [`code::EXISTS`] if the key is present.
    Insert(Vec<u8>, Vec<u8>),
    /// Fails with [`code::NOT_FOUND`] if the key is absent.
    Update(Vec<u8>, Vec<u8>),
    InsertOrUpdate(Vec<u8>, Vec<u8>),
    /// Fails with [`code::NOT_FOUND`] if the key is absent.
    Remove(Vec<u8>),
    RemoveIfExists(Vec<u8>),
}

impl Op {
    /// The key the operation is about.
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Lookup(k) | Op::Remove(k) | Op::RemoveIfExists(k) => k,
            Op::Insert(k, _) | Op::Update(k, _) | Op::InsertOrUpdate(k, _) => k,
        }
    }

    /// The value it writes, if any.
    pub fn value(&self) -> Option<&[u8]> {
        match self {
            Op::Insert(_, v) | Op::Update(_, v) | Op::InsertOrUpdate(_, v) => Some(v),
            _ => None,
        }
    }

    /// The name used by the reference vectors and the CLI ("InsertOrUpdate").
    pub fn name(&self) -> &'static str {
        match self {
            Op::Lookup(_) => "Lookup",
            Op::Insert(..) => "Insert",
            Op::Update(..) => "Update",
            Op::InsertOrUpdate(..) => "InsertOrUpdate",
            Op::Remove(_) => "Remove",
            Op::RemoveIfExists(_) => "RemoveIfExists",
        }
    }

    /// Builds an operation from its name, key and value (ignored by Lookup,
    /// Remove and RemoveIfExists).  None for an unknown name.
    pub fn from_name(name: &str, key: Vec<u8>, value: Vec<u8>) -> Option<Op> {
        Some(match name {
            "Lookup" => Op::Lookup(key),
            "Insert" => Op::Insert(key, value),
            "Update" => Op::Update(key, value),
            "InsertOrUpdate" => Op::InsertOrUpdate(key, value),
            "Remove" => Op::Remove(key),
            "RemoveIfExists" => Op::RemoveIfExists(key),
            _ => return None,
        })
    }

    fn type_code(&self) -> ffi::bt_op_type {
        match self {
            Op::Lookup(_) => ffi::BT_OP_LOOKUP,
            Op::Insert(..) => ffi::BT_OP_INSERT,
            Op::Update(..) => ffi::BT_OP_UPDATE,
            Op::InsertOrUpdate(..) => ffi::BT_OP_INSERT_OR_UPDATE,
            Op::Remove(_) => ffi::BT_OP_REMOVE,
            Op::RemoveIfExists(_) => ffi::BT_OP_REMOVE_IF_EXISTS,
        }
    }

    /// The C view; borrows self's buffers.
    fn to_c(&self) -> ffi::bt_op {
        let key = self.key();
        let (vp, vl) = match self.value() {
            Some(v) => (v.as_ptr(), v.len()),
            None => (ptr::null(), 0),
        };
        ffi::bt_op { type_: self.type_code(), key: key.as_ptr(), key_len: key.len(), value: vp,
                     value_len: vl }
    }
}

fn ops_to_c(ops: &[Op]) -> Vec<ffi::bt_op> {
    ops.iter().map(Op::to_c).collect()
}

fn empty_results(n: usize) -> Vec<ffi::bt_result> {
    vec![ffi::bt_result { status: 0, found: 0, old: ptr::null(), old_len: 0 }; n]
}

/// Converts a filled result; the old pointer must still be valid.
unsafe fn result_from_c(r: &ffi::bt_result) -> OpResult {
    if r.status != 0 {
        Err(Error::from_code(r.status))
    } else if r.found != 0 {
        Ok(Some(copy_bytes(r.old, r.old_len)))
    } else {
        Ok(None)
    }
}

/// A proof with the digest it leads to and each operation's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The serialized batch proof (Ergo's format).
    pub proof: Vec<u8>,
    /// The digest after the operations (for lookups: unchanged).
    pub digest: Digest,
    /// One outcome per operation.
    pub results: Vec<OpResult>,
}

// ---------------------------------------------------------------------------
// In-memory prover tree
// ---------------------------------------------------------------------------

/// An in-memory AVL+ prover tree (`bt_tree`): operations are applied one by
/// one and [`Tree::generate_proof`] returns the batch proof of every
/// operation that succeeded since the previous proof.
///
/// A `Tree` may be moved to another thread (`Send`) but not shared (`Sync`
/// is not implemented): the C handle is not thread-safe.
pub struct Tree {
    raw: *mut ffi::bt_tree,
}

// SAFETY: a bt_tree handle may be used from any thread, one at a time.
unsafe impl Send for Tree {}

impl Tree {
    /// An empty tree.
    pub fn new(params: &Params) -> Result<Tree> {
        let p = params.to_c();
        let mut raw = ptr::null_mut();
        // SAFETY: out-pointer and parameter block are valid.
        check(unsafe { ffi::bt_tree_new(&mut raw, &p) })?;
        Ok(Tree { raw })
    }

    fn err(&self, rc: c_int) -> Error {
        // SAFETY: the handle is live; the message is copied at once.
        Error::with_message(rc, unsafe { borrowed_string(ffi::bt_tree_errmsg(self.raw)) })
    }

    /// The tree's parameters.
    pub fn params(&self) -> Params {
        let mut p: ffi::bt_params = ffi::from_init(&ffi::BT_PARAMS_INIT);
        // SAFETY: live handle, valid out-pointer.
        unsafe { ffi::bt_tree_params(&mut p, self.raw) };
        Params::from_c(&p)
    }

    /// Applies one operation.  The outer `Result` is a failure of the call
    /// itself (out of memory, a failed handle); the inner one the
    /// operation's own outcome.
    pub fn apply(&mut self, op: &Op) -> Result<OpResult> {
        let c = op.to_c();
        let mut r = empty_results(1);
        // SAFETY: c borrows op, which outlives the call; r has one entry.
        let rc = unsafe { ffi::bt_tree_apply(self.raw, &c, r.as_mut_ptr()) };
        if rc != 0 {
            return Err(self.err(rc));
        }
        // SAFETY: old stays valid until the next call on the tree.
        Ok(unsafe { result_from_c(&r[0]) })
    }

    /// Applies operations in order (as many [`Tree::apply`] calls).
    pub fn apply_batch(&mut self, ops: &[Op]) -> Result<Vec<OpResult>> {
        let c = ops_to_c(ops);
        let mut r = empty_results(ops.len());
        // SAFETY: arrays of ops.len() entries; the ops outlive the call.
        let rc = unsafe { ffi::bt_tree_apply_batch(self.raw, c.as_ptr(), c.len(), r.as_mut_ptr()) };
        if rc != 0 {
            return Err(self.err(rc));
        }
        // SAFETY: the old pointers are valid until the next call on the tree.
        Ok(r.iter().map(|x| unsafe { result_from_c(x) }).collect())
    }

    fn apply_strict(&mut self, op: Op) -> Result<Option<Vec<u8>>> {
        self.apply(&op)?
    }

    /// Inserts a new key; [`code::EXISTS`] if it is present.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.apply_strict(Op::Insert(key.to_vec(), value.to_vec())).map(|_| ())
    }

    /// Changes the value of a present key ([`code::NOT_FOUND`] if absent);
    /// returns the previous value.
    pub fn update(&mut self, key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        self.apply_strict(Op::Update(key.to_vec(), value.to_vec())).map(Option::unwrap_or_default)
    }

    /// Inserts or updates; returns the previous value, if any.
    pub fn insert_or_update(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.apply_strict(Op::InsertOrUpdate(key.to_vec(), value.to_vec()))
    }

    /// Removes a present key ([`code::NOT_FOUND`] if absent); returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Result<Vec<u8>> {
        self.apply_strict(Op::Remove(key.to_vec())).map(Option::unwrap_or_default)
    }

    /// Removes a key if present; returns its value.
    pub fn remove_if_exists(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.apply_strict(Op::RemoveIfExists(key.to_vec()))
    }

    /// A Lookup operation: it becomes part of the next proof (a membership
    /// or non-membership proof).  For a plain read use [`Tree::get`].
    pub fn lookup(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.apply_strict(Op::Lookup(key.to_vec()))
    }

    /// Unauthenticated read of the current state (no trace in the proof).
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = ptr::null();
        let mut n = 0usize;
        // SAFETY: out-pointers valid; the value is copied before the next call.
        let rc = unsafe { ffi::bt_tree_get(&mut v, &mut n, self.raw, key.as_ptr(), key.len()) };
        match rc {
            0 => Ok(Some(unsafe { copy_bytes(v, n) })),
            code::NOT_FOUND => Ok(None),
            _ => Err(self.err(rc)),
        }
    }

    /// The batch proof of every operation that succeeded since the previous
    /// proof; starts a new batch.
    pub fn generate_proof(&mut self) -> Result<Vec<u8>> {
        let mut p = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: out-pointers valid; the proof is copied and freed.
        let rc = unsafe { ffi::bt_tree_prove(&mut p, &mut n, self.raw) };
        if rc != 0 {
            return Err(self.err(rc));
        }
        Ok(unsafe { take_buffer(p, n) })
    }

    /// Drops the operations applied since the last proof.
    pub fn discard(&mut self) {
        // SAFETY: live handle.
        unsafe { ffi::bt_tree_discard(self.raw) }
    }

    /// The current digest (root label || height).
    pub fn root_digest(&mut self) -> Result<Digest> {
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: d holds 33 bytes.
        let rc = unsafe { ffi::bt_tree_digest(d.as_mut_ptr(), self.raw) };
        if rc != 0 {
            return Err(self.err(rc));
        }
        Ok(d)
    }

    /// Height of the root (0 for the empty tree).
    pub fn height(&self) -> u32 {
        // SAFETY: live handle.
        unsafe { ffi::bt_tree_height(self.raw) }
    }

    /// Number of keys.
    pub fn len(&self) -> u64 {
        // SAFETY: live handle.
        unsafe { ffi::bt_tree_count(self.raw) }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// "What if": the proof, digest and outcomes of applying `ops` to the
    /// current state, without changing the tree.
    pub fn whatif(&mut self, ops: &[Op]) -> Result<Proof> {
        let c = ops_to_c(ops);
        let mut r = empty_results(ops.len());
        let mut p = ptr::null_mut();
        let mut n = 0usize;
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: arrays of ops.len() entries; out-pointers valid.
        let rc = unsafe {
            ffi::bt_tree_whatif(&mut p, &mut n, d.as_mut_ptr(), r.as_mut_ptr(), self.raw,
                                c.as_ptr(), c.len())
        };
        if rc != 0 {
            return Err(self.err(rc));
        }
        // Results first: their old pointers are valid until the next call.
        let results = r.iter().map(|x| unsafe { result_from_c(x) }).collect();
        Ok(Proof { proof: unsafe { take_buffer(p, n) }, digest: d, results })
    }

    /// Checks every invariant of the tree (`bt_tree_check`).
    pub fn check(&mut self) -> Result<()> {
        // SAFETY: live handle.
        let rc = unsafe { ffi::bt_tree_check(self.raw) };
        if rc != 0 {
            return Err(self.err(rc));
        }
        Ok(())
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and freed once.
        unsafe { ffi::bt_tree_free(self.raw) }
    }
}

// ---------------------------------------------------------------------------
// Verifier
// ---------------------------------------------------------------------------

/// Bounds for the verifier (Ergo's maxNumOperations / maxDeletes); None =
/// unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    pub max_ops: Option<u64>,
    pub max_deletes: Option<u64>,
}

impl VerifyOptions {
    fn to_c(self) -> ffi::bt_verify_opts {
        let mut o: ffi::bt_verify_opts = ffi::from_init(&ffi::BT_VERIFY_OPTS_INIT);
        o.max_ops = self.max_ops.map_or(-1, |v| v.min(i64::MAX as u64) as i64);
        o.max_deletes = self.max_deletes.map_or(-1, |v| v.min(i64::MAX as u64) as i64);
        o
    }
}

/// Replays a batch proof against a starting digest, one operation at a time.
/// After any failure the verifier is dead ([`code::BAD_STATE`]).
pub struct Verifier {
    raw: *mut ffi::bt_verifier,
}

// SAFETY: a verifier may be used from any thread, one at a time.
unsafe impl Send for Verifier {}

impl Verifier {
    /// Rebuilds the proven part of the tree and checks it against
    /// `start_digest`.  Errors: [`code::PROOF`] (malformed, or the root does
    /// not match), [`code::LIMIT`] (over the node budget), [`code::INVALID`].
    pub fn new(params: &Params, start_digest: &[u8], proof: &[u8],
               opts: &VerifyOptions) -> Result<Verifier> {
        let p = params.to_c();
        let o = opts.to_c();
        let mut raw = ptr::null_mut();
        // SAFETY: buffers valid for the call (the proof is copied).
        check(unsafe {
            ffi::bt_verifier_new(&mut raw, &p, start_digest.as_ptr(), start_digest.len(),
                                 proof.as_ptr(), proof.len(), &o)
        })?;
        Ok(Verifier { raw })
    }

    /// Performs the next operation.  An error is the operation's failure
    /// class or [`code::PROOF`] when the proof does not support it.
    pub fn apply(&mut self, op: &Op) -> Result<Option<Vec<u8>>> {
        let c = op.to_c();
        let mut r = empty_results(1);
        // SAFETY: op outlives the call; r has one entry.
        let rc = unsafe { ffi::bt_verifier_apply(self.raw, &c, r.as_mut_ptr()) };
        if rc != 0 {
            let msg = unsafe { borrowed_string(ffi::bt_verifier_errmsg(self.raw)) };
            return Err(Error::with_message(rc, msg));
        }
        // SAFETY: old is valid until the next call on the verifier.
        unsafe { result_from_c(&r[0]) }
    }

    /// The digest after the operations performed so far.
    pub fn digest(&mut self) -> Result<Digest> {
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: d holds 33 bytes.
        check(unsafe { ffi::bt_verifier_digest(d.as_mut_ptr(), self.raw) })?;
        Ok(d)
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { ffi::bt_verifier_free(self.raw) }
    }
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The digest the proof leads to: compare it with the one you expect.
    pub digest: Digest,
    /// What each operation found (the previous value; for a Lookup the value).
    pub values: Vec<Option<Vec<u8>>>,
}

/// Verifies a whole batch proof: `Ok` if every operation is supported by the
/// proof.  The caller must still compare [`Verified::digest`] with the
/// digest it expects.  On failure the error says why; operations after a
/// failed one are not attempted.
pub fn verify(params: &Params, start_digest: &[u8], proof: &[u8], ops: &[Op],
              opts: &VerifyOptions) -> Result<Verified> {
    let mut v = Verifier::new(params, start_digest, proof, opts)?;
    let mut values = Vec::with_capacity(ops.len());
    for op in ops {
        values.push(v.apply(op)?);
    }
    Ok(Verified { digest: v.digest()?, values })
}

/// The upstream tracker's check: does `proof` show that `key` has `value`
/// (or is absent, for None) in the tree with `digest`?  Never panics on
/// malformed input.
pub fn verify_lookup(params: &Params, digest: &[u8], proof: &[u8], key: &[u8],
                     value: Option<&[u8]>) -> bool {
    match verify(params, digest, proof, &[Op::Lookup(key.to_vec())], &VerifyOptions::default()) {
        Ok(v) => v.digest[..] == digest[..] && v.values[0].as_deref() == value,
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------
// Database
// ---------------------------------------------------------------------------

/// When a commit is on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync before the commit returns.
    Sync,
    /// fsync at most every group_ms / group_ops; [`Db::wait_durable`].
    Group,
    /// never fsync (the OS decides).
    None,
}

/// Compression of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
    Zstd,
}

/// Options of [`Db::open`]; `Default` is the library's `BT_DB_OPTIONS_INIT`
/// (documented in docs/OPERATIONS.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbOptions {
    pub create_if_missing: bool,
    pub read_only: bool,
    pub durability: Durability,
    pub group_ms: u32,
    pub group_ops: u32,
    pub cache_bytes: u64,
    pub flush_ops: u64,
    pub flush_bytes: u64,
    pub block_cache_bytes: u64,
    pub write_buffer_bytes: u64,
    /// Per partition: nodes, operations, checkpoints, metadata, indexes.
    pub compression: [Compression; 5],
    pub zstd_level: i32,
    pub bloom_bits: i32,
    pub info_log_level: i32,
    pub info_log_dir: Option<String>,
    pub min_free_bytes: u64,
    pub index_labels: bool,
    pub checkpoint_keep: u32,
    pub checkpoint_keep_ms: u64,
    pub oplog_keep_ms: u64,
}

fn durability_from_c(d: c_int) -> Durability {
    match d {
        0 => Durability::Sync,
        2 => Durability::None,
        _ => Durability::Group,
    }
}

fn compression_from_c(c: c_int) -> Compression {
    match c {
        1 => Compression::Lz4,
        2 => Compression::Zstd,
        _ => Compression::None,
    }
}

impl Default for DbOptions {
    fn default() -> DbOptions {
        let c: ffi::bt_db_options = ffi::from_init(&ffi::BT_DB_OPTIONS_INIT);
        DbOptions {
            create_if_missing: c.create_if_missing != 0,
            read_only: c.read_only != 0,
            durability: durability_from_c(c.durability),
            group_ms: c.group_ms,
            group_ops: c.group_ops,
            cache_bytes: c.cache_bytes,
            flush_ops: c.flush_ops,
            flush_bytes: c.flush_bytes,
            block_cache_bytes: c.block_cache_bytes,
            write_buffer_bytes: c.write_buffer_bytes,
            compression: c.compression.map(compression_from_c),
            zstd_level: c.zstd_level,
            bloom_bits: c.bloom_bits,
            info_log_level: c.info_log_level,
            info_log_dir: None,
            min_free_bytes: c.min_free_bytes,
            index_labels: c.index_labels != 0,
            checkpoint_keep: c.checkpoint_keep,
            checkpoint_keep_ms: c.checkpoint_keep_ms,
            oplog_keep_ms: c.oplog_keep_ms,
        }
    }
}

impl DbOptions {
    /// The C block; `dir` keeps info_log_dir's string alive.
    fn to_c(&self, dir: &Option<CString>) -> ffi::bt_db_options {
        let mut c: ffi::bt_db_options = ffi::from_init(&ffi::BT_DB_OPTIONS_INIT);
        c.create_if_missing = self.create_if_missing as c_int;
        c.read_only = self.read_only as c_int;
        c.durability = match self.durability {
            Durability::Sync => 0,
            Durability::Group => 1,
            Durability::None => 2,
        };
        c.group_ms = self.group_ms;
        c.group_ops = self.group_ops;
        c.cache_bytes = self.cache_bytes;
        c.flush_ops = self.flush_ops;
        c.flush_bytes = self.flush_bytes;
        c.block_cache_bytes = self.block_cache_bytes;
        c.write_buffer_bytes = self.write_buffer_bytes;
        c.compression = self.compression.map(|x| match x {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd => 2,
        });
        c.zstd_level = self.zstd_level;
        c.bloom_bits = self.bloom_bits;
        c.info_log_level = self.info_log_level;
        c.info_log_dir = dir.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        c.min_free_bytes = self.min_free_bytes;
        c.index_labels = self.index_labels as c_int;
        c.checkpoint_keep = self.checkpoint_keep;
        c.checkpoint_keep_ms = self.checkpoint_keep_ms;
        c.oplog_keep_ms = self.oplog_keep_ms;
        c
    }

    /// `bt_db_options_check`: the library's range checks, with a message
    /// naming the bad field.
    pub fn check(&self) -> Result<()> {
        let dir = self.info_log_dir.as_deref().map(cstring).transpose()?;
        let c = self.to_c(&dir);
        let mut msg = [0 as c_char; 256];
        // SAFETY: msg has the capacity given.
        let rc = unsafe { ffi::bt_db_options_check(&c, msg.as_mut_ptr(), msg.len()) };
        if rc != 0 {
            return Err(Error::with_message(rc, unsafe { borrowed_string(msg.as_ptr()) }));
        }
        Ok(())
    }
}

/// What a commit produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitInfo {
    /// 1, 2, ... (0 if the batch changed nothing).
    pub commit_seq: u64,
    pub last_op_seq: u64,
    pub ops_logged: u64,
}

/// Database statistics (`bt_db_stats`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
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

/// One tree of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointTree {
    pub name: String,
    pub digest: Digest,
    pub count: u64,
}

/// A checkpoint: the committed version of every tree at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub id: u64,
    pub ts_ms: u64,
    pub commit_seq: u64,
    pub op_seq: u64,
    pub label: String,
    pub trees: Vec<CheckpointTree>,
}

unsafe fn c_chars(s: &[c_char]) -> String {
    let bytes: Vec<u8> = s.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

unsafe fn checkpoint_from_c(c: &ffi::bt_checkpoint) -> Checkpoint {
    let trees = if c.trees.is_null() {
        Vec::new()
    } else {
        std::slice::from_raw_parts(c.trees, c.ntrees)
            .iter()
            .map(|t| CheckpointTree { name: c_chars(&t.name), digest: t.digest, count: t.count })
            .collect()
    };
    Checkpoint { id: c.id, ts_ms: c.ts_ms, commit_seq: c.commit_seq, op_seq: c.op_seq,
                 label: c_chars(&c.label), trees }
}

/// One logged operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OplogEntry {
    pub op_seq: u64,
    pub commit_seq: u64,
    pub ts_ms: u64,
    pub tree: String,
    /// The operation as logged (with its new value for writes).
    pub op: Op,
    /// The key's value before the operation, if it had one.
    pub prev: Option<Vec<u8>>,
    /// The tree's digest after the commit.
    pub digest: Digest,
}

unsafe fn oplog_from_c(e: &ffi::bt_oplog_entry) -> OplogEntry {
    let key = copy_bytes(e.key, e.key_len);
    let value = copy_bytes(e.value, e.value_len);
    let op = match e.type_ {
        ffi::BT_OP_INSERT => Op::Insert(key, value),
        ffi::BT_OP_UPDATE => Op::Update(key, value),
        ffi::BT_OP_INSERT_OR_UPDATE => Op::InsertOrUpdate(key, value),
        ffi::BT_OP_REMOVE => Op::Remove(key),
        ffi::BT_OP_REMOVE_IF_EXISTS => Op::RemoveIfExists(key),
        _ => Op::Lookup(key),
    };
    OplogEntry {
        op_seq: e.op_seq,
        commit_seq: e.commit_seq,
        ts_ms: e.ts_ms,
        tree: borrowed_string(e.tree).unwrap_or_default(),
        op,
        prev: if e.has_prev != 0 { Some(copy_bytes(e.prev, e.prev_len)) } else { None },
        digest: e.digest,
    }
}

/// Callback context for the op-log queries: the user's closure, and a panic
/// caught on the C side of the boundary.
struct OplogCtx<'a> {
    f: &'a mut dyn FnMut(OplogEntry) -> bool,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

unsafe extern "C" fn oplog_trampoline(ctx: *mut c_void, e: *const ffi::bt_oplog_entry) -> c_int {
    let ctx = &mut *(ctx as *mut OplogCtx);
    let entry = oplog_from_c(&*e);
    let f = &mut ctx.f;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(entry))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(p) => {
            ctx.panic = Some(p);
            1
        }
    }
}

/// A database: a directory of named trees (`bt_db`).
///
/// `Db` is `Send` and `Sync`: reads ([`Db::get`], [`Db::prove`],
/// [`Db::digest`], the `*_at` reads, ...) may run from any number of threads
/// while one thread writes through a [`Batch`].  Only one batch may be open
/// at a time ([`code::BUSY`]).  Closing happens on drop, or with
/// [`Db::close`] to see the final flush's error.
pub struct Db {
    raw: *mut ffi::bt_db,
}

// SAFETY: the C API allows any number of reader threads concurrently with
// the writer on one handle, and refuses a second transaction with BT_EBUSY;
// messages are per thread (bt_db_errmsg).
unsafe impl Send for Db {}
unsafe impl Sync for Db {}

impl Db {
    /// Opens (or creates, per `opts.create_if_missing`) the database in `path`.
    /// Errors: [`code::BUSY`] (another writer), [`code::CORRUPT`],
    /// [`code::IO`], [`code::INVALID`] (options), ...
    pub fn open<P: AsRef<Path>>(path: P, opts: &DbOptions) -> Result<Db> {
        let path = path.as_ref().to_str().ok_or_else(|| Error {
            code: code::INVALID,
            message: "path is not valid UTF-8".into(),
        })?;
        let cpath = cstring(path)?;
        let dir = opts.info_log_dir.as_deref().map(cstring).transpose()?;
        let c = opts.to_c(&dir);
        let mut raw = ptr::null_mut();
        let mut msg = [0 as c_char; 512];
        // SAFETY: every pointer is valid for the call; msg has its capacity.
        let rc = unsafe { ffi::bt_db_open(&mut raw, cpath.as_ptr(), &c, msg.as_mut_ptr(), msg.len()) };
        if rc != 0 {
            return Err(Error::with_message(rc, unsafe { borrowed_string(msg.as_ptr()) }));
        }
        Ok(Db { raw })
    }

    /// Flushes, syncs and closes; returns the final flush's error (the
    /// database is consistent either way).
    pub fn close(mut self) -> Result<()> {
        let raw = std::mem::replace(&mut self.raw, ptr::null_mut());
        // SAFETY: owned handle, closed once (Drop sees NULL).
        check(unsafe { ffi::bt_db_close(raw) })
    }

    /// An error with this thread's message about the last failure.
    fn err(&self, rc: c_int) -> Error {
        // SAFETY: live handle; the message is per thread and copied at once.
        Error::with_message(rc, unsafe { borrowed_string(ffi::bt_db_errmsg(self.raw)) })
    }

    fn ok(&self, rc: c_int) -> Result<()> {
        if rc == 0 {
            Ok(())
        } else {
            Err(self.err(rc))
        }
    }

    /// Creates a tree (durable when it returns); [`code::EXISTS`] if there
    /// is one with that name.
    pub fn create_tree(&self, name: &str, params: &Params) -> Result<()> {
        let n = cstring(name)?;
        let p = params.to_c();
        // SAFETY: valid strings and parameter block.
        self.ok(unsafe { ffi::bt_db_tree_create(self.raw, n.as_ptr(), &p) })
    }

    /// Creates the tree unless it exists; an existing tree must have the
    /// same parameters ([`code::INVALID`] otherwise).
    pub fn create_tree_if_missing(&self, name: &str, params: &Params) -> Result<()> {
        match self.create_tree(name, params) {
            Err(e) if e.code() == code::EXISTS => {
                let have = self.tree_params(name)?;
                if have.key_len != params.key_len || have.value_len != params.value_len {
                    return Err(Error {
                        code: code::INVALID,
                        message: format!("tree {name} exists with parameters {have:?}"),
                    });
                }
                Ok(())
            }
            r => r,
        }
    }

    /// Parameters of a tree ([`code::NOT_FOUND`] if there is none).
    pub fn tree_params(&self, name: &str) -> Result<Params> {
        let n = cstring(name)?;
        let mut p: ffi::bt_params = ffi::from_init(&ffi::BT_PARAMS_INIT);
        // SAFETY: valid pointers.
        self.ok(unsafe { ffi::bt_db_tree_params(&mut p, self.raw, n.as_ptr()) })?;
        Ok(Params::from_c(&p))
    }

    /// Names of all trees, sorted.
    pub fn trees(&self) -> Result<Vec<String>> {
        let mut names = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: out-pointers valid; the array is one allocation freed below.
        self.ok(unsafe { ffi::bt_db_tree_list(&mut names, &mut n, self.raw) })?;
        let mut out = Vec::with_capacity(n);
        unsafe {
            for i in 0..n {
                out.push(borrowed_string(*names.add(i)).unwrap_or_default());
            }
            ffi::bt_free(names as *mut c_void);
        }
        Ok(out)
    }

    /// Begins a write batch (a transaction over any number of trees).
    /// [`code::BUSY`] if one is already open.
    pub fn begin(&self) -> Result<Batch<'_>> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid out-pointer.
        self.ok(unsafe { ffi::bt_txn_begin(&mut raw, self.raw) })?;
        Ok(Batch { db: self, raw })
    }

    /// Waits until commit `commit_seq` is durable (group durability).
    pub fn wait_durable(&self, commit_seq: u64) -> Result<()> {
        // SAFETY: live handle.
        self.ok(unsafe { ffi::bt_db_wait_durable(self.raw, commit_seq) })
    }

    /// The last committed digest of a tree.
    pub fn digest(&self, tree: &str) -> Result<Digest> {
        self.digest_at(tree, 0)
    }

    /// Number of keys in a tree's committed version.
    pub fn count(&self, tree: &str) -> Result<u64> {
        let t = cstring(tree)?;
        let mut n = 0u64;
        // SAFETY: valid pointers.
        self.ok(unsafe { ffi::bt_db_count(&mut n, self.raw, t.as_ptr()) })?;
        Ok(n)
    }

    /// The value of a key in the committed version, or None.
    pub fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = cstring(tree)?;
        let mut v = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: valid pointers; the value is copied and freed.
        let rc = unsafe { ffi::bt_db_get(&mut v, &mut n, self.raw, t.as_ptr(), key.as_ptr(), key.len()) };
        match rc {
            0 => Ok(Some(unsafe { take_buffer(v, n) })),
            // BT_ENOTFOUND is also the code for a missing tree: tell them apart.
            code::NOT_FOUND if self.tree_params(tree).is_ok() => Ok(None),
            _ => Err(self.err(rc)),
        }
    }

    /// A proof for `ops` against the committed version, without changing it:
    /// lookups give (non-)membership proofs, writes give what-if proofs and
    /// the digest they would lead to.
    pub fn prove(&self, tree: &str, ops: &[Op]) -> Result<Proof> {
        let t = cstring(tree)?;
        let c = ops_to_c(ops);
        let mut r = empty_results(ops.len());
        let mut p = ptr::null_mut();
        let mut n = 0usize;
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: arrays of ops.len() entries; out-pointers valid.
        let rc = unsafe {
            ffi::bt_db_prove(&mut p, &mut n, d.as_mut_ptr(), r.as_mut_ptr(), self.raw, t.as_ptr(),
                             c.as_ptr(), c.len())
        };
        self.ok(rc)?;
        // The results' old pointers are valid until the proof is freed.
        let results = r.iter().map(|x| unsafe { result_from_c(x) }).collect();
        Ok(Proof { proof: unsafe { take_buffer(p, n) }, digest: d, results })
    }

    /// The upstream tracker's "lookup proof": proof that `key` has its
    /// current value (or is absent) in the committed version.
    pub fn lookup_proof(&self, tree: &str, key: &[u8]) -> Result<(Option<Vec<u8>>, Vec<u8>)> {
        let mut p = self.prove(tree, &[Op::Lookup(key.to_vec())])?;
        let value = p.results.pop().expect("one result")?;
        Ok((value, p.proof))
    }

    /// Full integrity walk of a tree's committed version.
    pub fn check(&self, tree: &str) -> Result<()> {
        let t = cstring(tree)?;
        // SAFETY: valid pointers.
        self.ok(unsafe { ffi::bt_db_check(self.raw, t.as_ptr()) })
    }

    /// Writes the trees' new nodes now (the next open replays nothing).
    pub fn flush(&self) -> Result<()> {
        // SAFETY: live handle.
        self.ok(unsafe { ffi::bt_db_flush(self.raw) })
    }

    /// Compacts every partition.
    pub fn compact(&self) -> Result<()> {
        // SAFETY: live handle.
        self.ok(unsafe { ffi::bt_db_compact(self.raw) })
    }

    /// Statistics.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = ffi::bt_db_stats::default();
        // SAFETY: valid out-pointer.
        self.ok(unsafe { ffi::bt_db_stats_get(&mut s, self.raw) })?;
        Ok(Stats {
            trees: s.trees,
            commits: s.commits,
            ops: s.ops,
            nodes_written: s.nodes_written,
            nodes_deleted: s.nodes_deleted,
            nodes_loaded: s.nodes_loaded,
            flushes: s.flushes,
            syncs: s.syncs,
            replayed_ops: s.replayed_ops,
            open_ms: s.open_ms,
            partition_bytes: s.partition_bytes,
            commit_ns_p50: s.commit_ns_p50,
            commit_ns_p95: s.commit_ns_p95,
            commit_ns_p99: s.commit_ns_p99,
            notes: s.notes,
            nodes: s.nodes,
            cache_bytes: s.cache_bytes,
            cache_drops: s.cache_drops,
        })
    }

    // ---- checkpoints -----------------------------------------------------

    /// Pins the committed version of every tree (e.g. the on-chain
    /// commitment; `label` such as the Ergo transaction id).  Returns its id.
    pub fn checkpoint_create(&self, label: Option<&str>) -> Result<u64> {
        let l = label.map(cstring).transpose()?;
        let mut id = 0u64;
        // SAFETY: valid pointers; label may be NULL.
        self.ok(unsafe {
            ffi::bt_db_checkpoint_create(&mut id, self.raw, l.as_ref().map_or(ptr::null(), |s| s.as_ptr()))
        })?;
        Ok(id)
    }

    /// One checkpoint (id 0: the newest); [`code::NOT_FOUND`] if none.
    pub fn checkpoint(&self, id: u64) -> Result<Checkpoint> {
        let mut c = ptr::null_mut();
        // SAFETY: valid out-pointer; one allocation freed below.
        self.ok(unsafe { ffi::bt_db_checkpoint_get(&mut c, self.raw, id) })?;
        let out = unsafe { checkpoint_from_c(&*c) };
        unsafe { ffi::bt_free(c as *mut c_void) };
        Ok(out)
    }

    /// Every retained checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let mut c = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: valid out-pointers; one allocation freed below.
        self.ok(unsafe { ffi::bt_db_checkpoint_list(&mut c, &mut n, self.raw) })?;
        let mut out = Vec::with_capacity(n);
        unsafe {
            for i in 0..n {
                out.push(checkpoint_from_c(&*c.add(i)));
            }
            ffi::bt_free(c as *mut c_void);
        }
        Ok(out)
    }

    /// Deletes a checkpoint.
    pub fn checkpoint_delete(&self, id: u64) -> Result<()> {
        // SAFETY: live handle.
        self.ok(unsafe { ffi::bt_db_checkpoint_delete(self.raw, id) })
    }

    /// Loads and checks every node of every tree of a checkpoint.
    pub fn checkpoint_validate(&self, id: u64) -> Result<()> {
        // SAFETY: live handle.
        self.ok(unsafe { ffi::bt_db_checkpoint_validate(self.raw, id) })
    }

    /// Rolls every tree back to a checkpoint (later operations and
    /// checkpoints are discarded).  No batch may be open.
    pub fn rollback(&self, checkpoint_id: u64) -> Result<()> {
        // SAFETY: live handle.
        self.ok(unsafe { ffi::bt_db_rollback(self.raw, checkpoint_id) })
    }

    /// A tree's digest at a checkpoint (0: the head).
    pub fn digest_at(&self, tree: &str, checkpoint_id: u64) -> Result<Digest> {
        let t = cstring(tree)?;
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: d holds 33 bytes.
        let rc = if checkpoint_id == 0 {
            unsafe { ffi::bt_db_digest(d.as_mut_ptr(), self.raw, t.as_ptr()) }
        } else {
            unsafe { ffi::bt_db_digest_at(d.as_mut_ptr(), self.raw, t.as_ptr(), checkpoint_id) }
        };
        self.ok(rc)?;
        Ok(d)
    }

    /// Number of keys at a checkpoint.
    pub fn count_at(&self, tree: &str, checkpoint_id: u64) -> Result<u64> {
        let t = cstring(tree)?;
        let mut n = 0u64;
        // SAFETY: valid pointers.
        self.ok(unsafe { ffi::bt_db_count_at(&mut n, self.raw, t.as_ptr(), checkpoint_id) })?;
        Ok(n)
    }

    /// A key's value at a checkpoint.
    pub fn get_at(&self, tree: &str, checkpoint_id: u64, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = cstring(tree)?;
        let mut v = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: valid pointers; the value is copied and freed.
        let rc = unsafe {
            ffi::bt_db_get_at(&mut v, &mut n, self.raw, t.as_ptr(), checkpoint_id, key.as_ptr(),
                              key.len())
        };
        match rc {
            0 => Ok(Some(unsafe { take_buffer(v, n) })),
            // BT_ENOTFOUND also means no such checkpoint or tree.
            code::NOT_FOUND if self.digest_at(tree, checkpoint_id).is_ok() => Ok(None),
            _ => Err(self.err(rc)),
        }
    }

    /// As [`Db::prove`], against a checkpoint's version.
    pub fn prove_at(&self, tree: &str, checkpoint_id: u64, ops: &[Op]) -> Result<Proof> {
        let t = cstring(tree)?;
        let c = ops_to_c(ops);
        let mut r = empty_results(ops.len());
        let mut p = ptr::null_mut();
        let mut n = 0usize;
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: arrays of ops.len() entries; out-pointers valid.
        let rc = unsafe {
            ffi::bt_db_prove_at(&mut p, &mut n, d.as_mut_ptr(), r.as_mut_ptr(), self.raw,
                                t.as_ptr(), checkpoint_id, c.as_ptr(), c.len())
        };
        self.ok(rc)?;
        let results = r.iter().map(|x| unsafe { result_from_c(x) }).collect();
        Ok(Proof { proof: unsafe { take_buffer(p, n) }, digest: d, results })
    }

    // ---- operation log ---------------------------------------------------

    fn oplog_query(&self, f: &mut dyn FnMut(OplogEntry) -> bool,
                   call: &dyn Fn(*mut c_void) -> c_int) -> Result<()> {
        let mut ctx = OplogCtx { f, panic: None };
        let rc = call(&mut ctx as *mut OplogCtx as *mut c_void);
        if let Some(p) = ctx.panic.take() {
            std::panic::resume_unwind(p);
        }
        // 1 is our own "stop" value, not an error.
        if rc == 0 || rc == 1 {
            Ok(())
        } else {
            Err(self.err(rc))
        }
    }

    /// Calls `f` for every logged operation with `from_seq <= op_seq <=
    /// to_seq` (u64::MAX: to the end), in order, until `f` returns false.
    pub fn oplog_range_with(&self, from_seq: u64, to_seq: u64,
                            mut f: impl FnMut(OplogEntry) -> bool) -> Result<()> {
        let raw = self.raw;
        self.oplog_query(&mut f, &|ctx| unsafe {
            ffi::bt_db_oplog_range(raw, from_seq, to_seq, oplog_trampoline, ctx)
        })
    }

    /// The logged operations `from_seq..=to_seq` (u64::MAX: to the end).
    pub fn oplog_range(&self, from_seq: u64, to_seq: u64) -> Result<Vec<OplogEntry>> {
        let mut v = Vec::new();
        self.oplog_range_with(from_seq, to_seq, |e| {
            v.push(e);
            true
        })?;
        Ok(v)
    }

    /// Operations of the commits with timestamps in `[from_ms, to_ms]`.
    pub fn oplog_time(&self, from_ms: u64, to_ms: u64) -> Result<Vec<OplogEntry>> {
        let mut v = Vec::new();
        let raw = self.raw;
        self.oplog_query(&mut |e| { v.push(e); true }, &|ctx| unsafe {
            ffi::bt_db_oplog_time(raw, from_ms, to_ms, oplog_trampoline, ctx)
        })?;
        Ok(v)
    }

    /// The retained history of one key, oldest first.
    pub fn oplog_key(&self, tree: &str, key: &[u8]) -> Result<Vec<OplogEntry>> {
        let t = cstring(tree)?;
        let mut v = Vec::new();
        let raw = self.raw;
        self.oplog_query(&mut |e| { v.push(e); true }, &|ctx| unsafe {
            ffi::bt_db_oplog_key(raw, t.as_ptr(), key.as_ptr(), key.len(), oplog_trampoline, ctx)
        })?;
        Ok(v)
    }

    /// (first retained op seq, last op seq).
    pub fn oplog_bounds(&self) -> Result<(u64, u64)> {
        let (mut a, mut b) = (0u64, 0u64);
        // SAFETY: valid out-pointers.
        self.ok(unsafe { ffi::bt_db_oplog_bounds(&mut a, &mut b, self.raw) })?;
        Ok((a, b))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: owned handle, closed once.  The error of the final
            // flush is lost here; use Db::close to see it.
            unsafe { ffi::bt_db_close(self.raw) };
        }
    }
}

/// A write batch (`bt_txn`): operations on any trees of one [`Db`], made
/// durable together by [`Batch::commit`].  Dropping it aborts.  A batch
/// stays on the thread that began it (`Send` is not implemented).
pub struct Batch<'db> {
    db: &'db Db,
    raw: *mut ffi::bt_txn,
}

impl<'db> Batch<'db> {
    /// Applies operations to a tree ([`code::NOT_FOUND`]: no such tree).
    /// Returns each operation's outcome; failed operations leave no trace.
    pub fn apply(&mut self, tree: &str, ops: &[Op]) -> Result<Vec<OpResult>> {
        let t = cstring(tree)?;
        let c = ops_to_c(ops);
        let mut r = empty_results(ops.len());
        // SAFETY: arrays of ops.len() entries; the ops outlive the call.
        let rc = unsafe { ffi::bt_txn_apply(self.raw, t.as_ptr(), c.as_ptr(), c.len(), r.as_mut_ptr()) };
        self.db.ok(rc)?;
        // SAFETY: old pointers valid until the next call on the batch.
        Ok(r.iter().map(|x| unsafe { result_from_c(x) }).collect())
    }

    fn apply_one(&mut self, tree: &str, op: Op) -> Result<Option<Vec<u8>>> {
        self.apply(tree, std::slice::from_ref(&op))?.pop().expect("one result")
    }

    /// Inserts a new key ([`code::EXISTS`] if present).
    pub fn insert(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.apply_one(tree, Op::Insert(key.to_vec(), value.to_vec())).map(|_| ())
    }

    /// Updates a present key ([`code::NOT_FOUND`] if absent); returns the old value.
    pub fn update(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        self.apply_one(tree, Op::Update(key.to_vec(), value.to_vec())).map(Option::unwrap_or_default)
    }

    /// Inserts or updates; returns the old value, if any.
    pub fn insert_or_update(&mut self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.apply_one(tree, Op::InsertOrUpdate(key.to_vec(), value.to_vec()))
    }

    /// Removes a present key ([`code::NOT_FOUND`] if absent); returns its value.
    pub fn remove(&mut self, tree: &str, key: &[u8]) -> Result<Vec<u8>> {
        self.apply_one(tree, Op::Remove(key.to_vec())).map(Option::unwrap_or_default)
    }

    /// The batch proof of this batch's operations on `tree` (against its last
    /// committed digest) and the digest they lead to.
    pub fn prove(&mut self, tree: &str) -> Result<(Vec<u8>, Digest)> {
        let t = cstring(tree)?;
        let mut p = ptr::null_mut();
        let mut n = 0usize;
        let mut d = [0u8; DIGEST_LEN];
        // SAFETY: out-pointers valid.
        let rc = unsafe { ffi::bt_txn_prove(&mut p, &mut n, d.as_mut_ptr(), self.raw, t.as_ptr()) };
        self.db.ok(rc)?;
        Ok((unsafe { take_buffer(p, n) }, d))
    }

    /// Sets the timestamp (ms since the Unix epoch) logged for this batch.
    pub fn set_time(&mut self, ts_ms: u64) {
        // SAFETY: live transaction.
        unsafe { ffi::bt_txn_set_time(self.raw, ts_ms) }
    }

    /// Commits.  On failure nothing is visible and the database handle is
    /// failed: close and reopen it.
    pub fn commit(mut self) -> Result<CommitInfo> {
        let raw = std::mem::replace(&mut self.raw, ptr::null_mut());
        let mut info = ffi::bt_commit_info::default();
        // SAFETY: the commit frees the transaction in every case.
        let rc = unsafe { ffi::bt_txn_commit(raw, &mut info) };
        self.db.ok(rc)?;
        Ok(CommitInfo { commit_seq: info.commit_seq, last_op_seq: info.last_op_seq,
                        ops_logged: info.ops_logged })
    }

    /// Drops the batch without committing (as dropping it does).
    pub fn abort(self) {}
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: owned transaction, freed once.
            unsafe { ffi::bt_txn_abort(self.raw) }
        }
    }
}
