/*
 * basistrees.h -- the public interface of libbasistrees.
 *
 * libbasistrees implements Ergo's authenticated AVL+ dictionary (the
 * BatchAVLProver / BatchAVLVerifier of scrypto and ergo_avltree_rust) in C:
 * labels are Blake2b-256, digests are 33 bytes (root label || height), and
 * every digest and batch proof is byte-identical to Ergo's.  This header is
 * the manual: each function says what its arguments are, which errors it
 * returns, and who owns what it returns.
 *
 * Conventions (the same everywhere):
 *   - Functions return int: 0 on success, a negative BT_E* code on failure.
 *     bt_strerror() turns a code into a short English phrase; handles keep a
 *     one-line message about their last failure (bt_tree_errmsg() ...).
 *   - Out-parameters come first and are named out*.
 *   - A pointer marked "borrowed" stays valid only as long as the text next
 *     to the function says; copy it if you need it longer.  A pointer marked
 *     "owned by the caller" must be released with bt_free().
 *   - bt_*_free(NULL) is a no-op.
 *   - Untrusted input (proofs, digests, encoded values) never causes a crash,
 *     an assertion failure or an out-of-bounds read: it yields an error code.
 *
 * Thread-safety: a bt_tree handle is not thread-safe; use one handle per
 * thread or serialise access yourself.  Distinct handles may be used from
 * distinct threads concurrently.  The verifier and the encoding functions are
 * reentrant.
 */
#ifndef BASISTREES_H
#define BASISTREES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BT_BUILDING_LIBRARY) && defined(__GNUC__)
#define BT_API __attribute__((visibility("default")))
#else
#define BT_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */
/* ------------------------------------------------------------------------ */

#define BT_VERSION_MAJOR 0
#define BT_VERSION_MINOR 1
#define BT_VERSION_PATCH 0
#define BT_VERSION_STRING "0.1.0"

/* Returns the library's version string (static storage). */
BT_API const char *bt_version(void);

/* ------------------------------------------------------------------------ */
/* Error codes                                                               */
/* ------------------------------------------------------------------------ */

#define BT_OK 0
#define BT_ENOTFOUND   (-1)  /* key not found (Update/Remove of an absent key) */
#define BT_EEXISTS     (-2)  /* key already exists (Insert of a present key)   */
#define BT_EINVAL      (-3)  /* invalid argument or parameter                  */
#define BT_ECORRUPT    (-4)  /* stored or supplied data failed a check          */
#define BT_EPROOF      (-5)  /* a proof is malformed or does not verify         */
#define BT_EIO         (-6)  /* an I/O operation failed                         */
#define BT_ENOSPC      (-7)  /* no space left on the device                     */
#define BT_ENOMEM      (-8)  /* out of memory                                   */
#define BT_ELIMIT      (-9)  /* a configured or built-in limit was exceeded     */
#define BT_EBUSY       (-10) /* resource held by someone else (second writer)   */
#define BT_EBADSTATE   (-11) /* handle is in a failed state or wrong state      */
#define BT_EKEYLOW     (-12) /* key is not above negative infinity (0x00..00)   */
#define BT_EKEYHIGH    (-13) /* key is not below positive infinity (0xFF..FF)   */
#define BT_EKEYLEN     (-14) /* key length differs from the tree's key length   */
#define BT_EVALLEN     (-15) /* value length not allowed by the tree parameters */
#define BT_ENOTSUP     (-16) /* operation not supported                         */

/* Returns a static, human-readable phrase for an error code ("key not found").
 * Unknown codes give "unknown error". Never returns NULL. */
BT_API const char *bt_strerror(int code);

/* Returns the stable identifier of an operation failure class as used by the
 * reference vectors ("key_already_exists", "key_not_found",
 * "key_not_above_negative_infinity", "key_not_below_positive_infinity",
 * "wrong_key_length", "wrong_value_length"), or NULL for other codes. */
BT_API const char *bt_error_class(int code);

/* ------------------------------------------------------------------------ */
/* Memory                                                                    */
/* ------------------------------------------------------------------------ */

/* Releases memory that a bt_* function returned as "owned by the caller".
 * bt_free(NULL) is a no-op. */
BT_API void bt_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Tree parameters                                                           */
/* ------------------------------------------------------------------------ */

#define BT_DIGEST_LEN 33          /* root label (32) || height (1)           */
#define BT_LABEL_LEN 32           /* Blake2b-256                              */
#define BT_KEY_LEN_MAX 255        /* keys are 1..255 bytes                    */
#define BT_VALUE_VARIABLE 0xFFFFFFFFu /* value_len: values of any length      */
#define BT_VALUE_LEN_LIMIT (16u * 1024u * 1024u) /* hard cap on any value     */
#define BT_VALUE_MAX_DEFAULT (1024u * 1024u) /* default cap, variable mode    */

#define BT_PARAMS_VERSION 1

/* Parameters of a tree.  They are part of the digest: the empty-tree digest
 * depends on value_len, because the -inf sentinel carries a zero value of the
 * fixed length (or the empty value in variable mode).
 *   key_len    1..255 (Basis uses 32).
 *   value_len  fixed value length in bytes (0..BT_VALUE_LEN_LIMIT), or
 *              BT_VALUE_VARIABLE for variable-length values.
 *   value_max  variable mode only: the longest value an operation may write;
 *              0 means BT_VALUE_MAX_DEFAULT; at most BT_VALUE_LEN_LIMIT.
 *              Ignored in fixed mode.  (The verifier accepts any length that
 *              the proof itself contains.) */
typedef struct bt_params {
    unsigned version; /* BT_PARAMS_VERSION */
    unsigned key_len;
    uint32_t value_len;
    uint32_t value_max;
} bt_params;

#define BT_PARAMS_INIT {BT_PARAMS_VERSION, 32, BT_VALUE_VARIABLE, 0}

/* Checks a parameter block.  Returns 0 or BT_EINVAL. */
BT_API int bt_params_check(const bt_params *params);

/* Writes the digest of the empty tree with these parameters to out (33 bytes).
 * Returns 0 or BT_EINVAL. */
BT_API int bt_empty_digest(uint8_t out[BT_DIGEST_LEN], const bt_params *params);

/* ------------------------------------------------------------------------ */
/* Operations and results                                                    */
/* ------------------------------------------------------------------------ */

typedef enum bt_op_type {
    BT_OP_LOOKUP = 0,          /* result: the value, or absent              */
    BT_OP_INSERT = 1,          /* fails with BT_EEXISTS if present          */
    BT_OP_UPDATE = 2,          /* fails with BT_ENOTFOUND if absent         */
    BT_OP_INSERT_OR_UPDATE = 3,
    BT_OP_REMOVE = 4,          /* fails with BT_ENOTFOUND if absent         */
    BT_OP_REMOVE_IF_EXISTS = 5
} bt_op_type;

/* One operation.  key/value are borrowed for the duration of the call.
 * value is ignored for Lookup, Remove and RemoveIfExists. */
typedef struct bt_op {
    bt_op_type type;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} bt_op;

/* Returns "Lookup", "Insert", "Update", "InsertOrUpdate", "Remove",
 * "RemoveIfExists", or NULL for an invalid type. */
BT_API const char *bt_op_name(bt_op_type type);

/* Parses one of the names above.  Returns 0 or BT_EINVAL. */
BT_API int bt_op_parse(bt_op_type *out, const char *name);

/* The outcome of one operation.
 *   status  0 if the operation succeeded, otherwise its failure class:
 *           BT_EKEYLOW, BT_EKEYHIGH, BT_EKEYLEN (checked in that order), then
 *           BT_EEXISTS, BT_ENOTFOUND or BT_EVALLEN.  A failed operation leaves
 *           no trace in the tree or in the next proof.
 *   found   1 if the key was present before the operation (old is its value),
 *           0 if absent.  Meaningful only when status == 0.
 *   old     the value before the operation (for Lookup: the value found).
 *           Borrowed; see the function that filled the result for how long it
 *           stays valid. */
typedef struct bt_result {
    int status;
    int found;
    const uint8_t *old;
    size_t old_len;
} bt_result;

/* ------------------------------------------------------------------------ */
/* In-memory prover tree                                                     */
/* ------------------------------------------------------------------------ */

/* A bt_tree is an AVL+ tree with Ergo's BatchAVLProver semantics: operations
 * are applied one by one; bt_tree_prove() then returns the batch proof of all
 * operations that succeeded since the previous proof.  Versions are
 * copy-on-write: a proved version is never modified, so the previous version
 * costs nothing to keep while the next batch is built. */
typedef struct bt_tree bt_tree;

/* Creates an empty tree.  *out is owned by the caller (bt_tree_free).
 * Errors: BT_EINVAL (bad parameters), BT_ENOMEM. */
BT_API int bt_tree_new(bt_tree **out, const bt_params *params);

/* Frees a tree and every node only it references.  NULL is a no-op. */
BT_API void bt_tree_free(bt_tree *tree);

/* The message describing the last failure on this handle ("" if none).
 * Borrowed: valid until the next call on the handle. */
BT_API const char *bt_tree_errmsg(const bt_tree *tree);

/* Copies the tree's parameters into *out. */
BT_API void bt_tree_params(bt_params *out, const bt_tree *tree);

/* Applies one operation to the tree.
 * Returns 0 if the call completed: the operation's own outcome (success or a
 * failure class such as BT_EEXISTS) is in out->status, and out->old is valid
 * until the next call on this tree.  Returns a negative code only if the call
 * itself could not be carried out (BT_EINVAL for a bad op type or NULL key,
 * BT_ENOMEM, BT_EBADSTATE after an earlier internal failure; then
 * bt_tree_discard() restores the last proved version). */
BT_API int bt_tree_apply(bt_tree *tree, const bt_op *op, bt_result *out);

/* Applies n operations in order, as n calls of bt_tree_apply.  results must
 * hold n entries; their old pointers stay valid until the next call on this
 * tree.  Returns 0 or a call-level error as above (then results of the ops
 * before the failing one are filled and the tree holds their effects). */
BT_API int bt_tree_apply_batch(bt_tree *tree, const bt_op *ops, size_t n, bt_result *results);

/* Generates the batch proof of every operation that succeeded since the last
 * proof (or since creation), then starts a new batch from the current state.
 * *out_proof is owned by the caller (bt_free).  Errors: BT_ENOMEM. */
BT_API int bt_tree_prove(uint8_t **out_proof, size_t *out_len, bt_tree *tree);

/* Drops every operation applied since the last proof, restoring the digest
 * the tree had then. */
BT_API void bt_tree_discard(bt_tree *tree);

/* Writes the current digest (33 bytes: root label || height).  Errors:
 * BT_ENOMEM (labels of the current batch are computed on demand). */
BT_API int bt_tree_digest(uint8_t out[BT_DIGEST_LEN], bt_tree *tree);

/* Height of the current root (0 for the empty tree). */
BT_API unsigned bt_tree_height(const bt_tree *tree);

/* Number of keys stored (the -inf sentinel is not counted). */
BT_API uint64_t bt_tree_count(const bt_tree *tree);

/* Unauthenticated lookup in the current state.  Returns 0 and sets
 * *out_value and *out_len (borrowed, valid until the next call on this tree), or
 * BT_ENOTFOUND, or BT_EKEYLEN / BT_EKEYLOW / BT_EKEYHIGH. */
BT_API int bt_tree_get(const uint8_t **out_value, size_t *out_len, bt_tree *tree,
                       const uint8_t *key, size_t key_len);

/* "What if": the proof and resulting digest of applying ops[0..n) to the
 * current state, without changing the tree.  Costs O(n log N), not a copy of
 * the tree.  results (n entries, may be NULL) receive each op's outcome; their
 * old pointers stay valid until the next call on this tree.  *out_proof is
 * owned by the caller (bt_free).  Failed operations are left out of the proof
 * exactly as in a real batch. */
BT_API int bt_tree_whatif(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                          bt_result *results, bt_tree *tree, const bt_op *ops, size_t n);

/* Walks the whole tree and checks every invariant: AVL balance and heights,
 * key order, the nextKey chain, routing keys, the sentinels, value lengths,
 * the key count and every label.  Returns 0, or BT_ECORRUPT with a message
 * naming the first bad node (bt_tree_errmsg), or BT_ENOMEM. */
BT_API int bt_tree_check(bt_tree *tree);

/* ------------------------------------------------------------------------ */
/* Verifier                                                                  */
/* ------------------------------------------------------------------------ */

/* Options of the verifier.  max_ops / max_deletes bound the number of nodes
 * the proof may contain (Ergo's maxNumOperations / maxDeletes); -1 means no
 * bound (as in ErgoScript).  max_deletes = -1 with max_ops set means
 * max_deletes = max_ops. */
typedef struct bt_verify_opts {
    unsigned version; /* BT_VERIFY_OPTS_VERSION */
    long long max_ops;
    long long max_deletes;
} bt_verify_opts;

#define BT_VERIFY_OPTS_VERSION 1
#define BT_VERIFY_OPTS_INIT {BT_VERIFY_OPTS_VERSION, -1, -1}

/* A verifier replays a batch proof: it rebuilds the part of the tree the
 * proof reveals, checks it against the starting digest, then performs the
 * operations one by one.  Its memory is bounded by a constant times the proof
 * size, it rebuilds the proof's tree without recursion, operations walk at
 * most BT_VERIFY_DEPTH_MAX (plus a small constant) levels deep -- deeper
 * paths are rejected with BT_EPROOF; honest trees are far shallower -- and it
 * never reads outside the proof. */
typedef struct bt_verifier bt_verifier;

#define BT_VERIFY_DEPTH_MAX 256

/* Rebuilds the tree from the proof.  proof is copied (the caller's buffer is
 * not needed after the call).  opts may be NULL.
 * Returns 0 and a verifier (owned by the caller, bt_verifier_free), or:
 *   BT_EINVAL  bad parameters, or start_digest_len != 33
 *   BT_EPROOF  the proof is malformed or its root label differs from the
 *              start digest's label (a message says which)
 *   BT_ELIMIT  the proof has more nodes than max_ops/max_deletes allow
 *   BT_ENOMEM
 * On failure *out is set to NULL; use bt_proof_verify's return code or
 * build with a verifier to learn more. */
BT_API int bt_verifier_new(bt_verifier **out, const bt_params *params,
                           const uint8_t *start_digest, size_t start_digest_len,
                           const uint8_t *proof, size_t proof_len,
                           const bt_verify_opts *opts);

/* Frees a verifier.  NULL is a no-op. */
BT_API void bt_verifier_free(bt_verifier *v);

/* Performs the next operation against the proof.  Returns 0 and the
 * operation's result (out->old borrowed: valid until the next call on v), or
 * an error: the operation's failure class (BT_EEXISTS, BT_ENOTFOUND,
 * BT_EKEY*, BT_EVALLEN) or BT_EPROOF when the proof does not support the
 * operation.  After any failure the verifier is dead: every later call
 * returns BT_EBADSTATE. */
BT_API int bt_verifier_apply(bt_verifier *v, const bt_op *op, bt_result *out);

/* The digest after the operations performed so far.  Returns 0, or
 * BT_EBADSTATE if an operation failed, or BT_ENOMEM. */
BT_API int bt_verifier_digest(uint8_t out[BT_DIGEST_LEN], bt_verifier *v);

/* The message describing the verifier's failure ("" if none).  Borrowed:
 * valid until the next call on v or bt_verifier_free. */
BT_API const char *bt_verifier_errmsg(const bt_verifier *v);

/* One call: rebuild, apply every op, compute the resulting digest.
 * results (n entries, may be NULL): old pointers are copied into
 * caller-invisible storage and NOT valid after return -- use bt_verifier_*
 * when you need returned values.  *out_failed_op (may be NULL) receives the
 * index of the failing operation, or n if the failure was in the proof
 * itself or no operation failed.  Returns 0 and the digest, or an error as
 * in bt_verifier_new / bt_verifier_apply. */
BT_API int bt_proof_verify(uint8_t out_digest[BT_DIGEST_LEN], size_t *out_failed_op,
                           const bt_params *params, const uint8_t *start_digest,
                           size_t start_digest_len, const uint8_t *proof, size_t proof_len,
                           const bt_op *ops, size_t n, const bt_verify_opts *opts);


/* ------------------------------------------------------------------------ */
/* Persistent database                                                       */
/* ------------------------------------------------------------------------ */

/* A database is a directory holding any number of named trees (RocksDB
 * column families nodes, operations, checkpoints, metadata, indexes; see
 * docs/FORMAT.md).  One handle may write; any number of threads may read
 * through it concurrently.  A second writer -- another handle, in this or
 * another process -- is refused with BT_EBUSY.
 *
 * Durability: every commit is atomic (all trees, the operation log and the
 * metadata, or nothing).  The operation log is the durable record; tree
 * nodes are written in large batches ("node flushes", after the commit that
 * crosses flush_ops operations, on a background thread) and the log since
 * the last finished flush is replayed on open: at most 2 x flush_ops plus one
 * commit's operations (commits wait for the flusher beyond that). */
typedef struct bt_db bt_db;

typedef enum bt_durability {
    BT_DURABILITY_SYNC = 0,  /* fsync before bt_txn_commit returns            */
    BT_DURABILITY_GROUP = 1, /* fsync at most every group_ms / group_ops;
                                bt_db_wait_durable() waits for a commit        */
    BT_DURABILITY_NONE = 2   /* never fsync (the OS decides)                    */
} bt_durability;

typedef enum bt_compression {
    BT_COMPRESS_NONE = 0,
    BT_COMPRESS_LZ4 = 1,
    BT_COMPRESS_ZSTD = 2
} bt_compression;

#define BT_DB_OPTIONS_VERSION 2 /* 2: the retention fields */

/* Options of bt_db_open.  Initialise with BT_DB_OPTIONS_INIT and change what
 * you need; the defaults are documented in docs/OPERATIONS.md.  A value out
 * of range makes bt_db_open fail with BT_EINVAL and a message naming it. */
typedef struct bt_db_options {
    unsigned version;            /* BT_DB_OPTIONS_VERSION                     */
    int create_if_missing;       /* 1 (default): create an empty database     */
    int read_only;               /* 0 (default); 1: open without writing      */
    bt_durability durability;    /* default BT_DURABILITY_GROUP               */
    unsigned group_ms;           /* group commit: max ms between syncs (10)   */
    unsigned group_ops;          /* group commit: max ops between syncs (10000) */
    uint64_t cache_bytes;        /* node cache budget (256 MiB)               */
    uint64_t flush_ops;          /* node flush after this many ops (50000)    */
    uint64_t flush_bytes;        /* ... or once commits allocated this many
                                    bytes of new nodes (64 MiB)               */
    uint64_t block_cache_bytes;  /* RocksDB block cache (32 MiB)              */
    uint64_t write_buffer_bytes; /* RocksDB memtables of all partitions
                                    together (64 MiB).  Memory of an open
                                    database: about cache_bytes + flush_bytes
                                    + block_cache_bytes + write_buffer_bytes
                                    + a fixed overhead (OPERATIONS.md)        */
    bt_compression compression[5]; /* per partition: nodes, operations,
                                      checkpoints, metadata, indexes          */
    int zstd_level;              /* 1..19 (3)                                 */
    int bloom_bits;              /* bloom filter bits per key, 0 = off (10)   */
    int info_log_level;          /* RocksDB LOG: 0 debug .. 4 fatal (3: error) */
    const char *info_log_dir;    /* RocksDB LOG directory (NULL: in the db)   */
    uint64_t min_free_bytes;     /* refuse commits when the disk has less (64 MiB) */
    int index_labels;            /* 1 at creation: keep a label -> node index
                                    (indexes partition) for bt_db_node_get
                                    and bt_db_nodes_range; ~48 bytes per
                                    node.  Recorded in the database; cannot
                                    be enabled later (BT_EINVAL) (0)         */
    int reserved;                /* 0 (keeps the struct free of padding)     */
    unsigned checkpoint_keep;    /* retention: keep the newest N checkpoints  */
    unsigned reserved2;          /* 0                                         */
    uint64_t checkpoint_keep_ms; /* ... and/or those younger than this.  A
                                    checkpoint (never the newest) is deleted
                                    when it is outside every limit that is
                                    set; both 0 (default): keep all          */
    uint64_t oplog_keep_ms;      /* after each checkpoint, prune operations
                                    older than this that no retained
                                    checkpoint or recovery needs; 0 (default):
                                    never prune automatically               */
} bt_db_options;

#define BT_DB_OPTIONS_INIT                                                        \
    {BT_DB_OPTIONS_VERSION, 1, 0, BT_DURABILITY_GROUP, 10, 10000,                 \
     256ull << 20, 50000, 64ull << 20, 32ull << 20, 64ull << 20,                  \
     {BT_COMPRESS_LZ4, BT_COMPRESS_LZ4, BT_COMPRESS_LZ4, BT_COMPRESS_NONE,         \
      BT_COMPRESS_LZ4},                                                           \
     3, 10, 3, NULL, 64ull << 20, 0, 0, 0, 0, 0, 0}

/* Checks an options block.  Returns 0, or BT_EINVAL and writes a message
 * naming the bad field into msg (capacity msgcap, may be NULL). */
BT_API int bt_db_options_check(const bt_db_options *opts, char *msg, size_t msgcap);

/* Reads options from the INI file at path on top of *opts (initialise it with
 * BT_DB_OPTIONS_INIT first).  Sections [db] (every key) and [rocksdb] (the
 * engine keys); keys, values and defaults are listed in docs/OPERATIONS.md.
 * Sizes take K/M/G/T suffixes (powers of 1024).  The result is checked with
 * bt_db_options_check.  If the file sets info_log_dir, opts->info_log_dir
 * points to a new string owned by the caller (bt_free; the previous pointer
 * is not freed).  Returns 0, or:
 *   BT_ENOTFOUND  no such file
 *   BT_EINVAL     unknown section or key, a key given twice, a bad value or
 *                 a syntax error; msg says "FILE:LINE: key 'x': why"
 *   BT_EIO / BT_ENOMEM
 * On failure *opts is unchanged and msg (capacity msgcap, may be NULL) holds
 * a one-line message. */
BT_API int bt_db_options_load(bt_db_options *opts, const char *path, char *msg, size_t msgcap);

/* Opens (or creates) the database in directory path.  opts may be NULL for
 * the defaults.  On open the library verifies the stored state: every tree's
 * root label against its recorded digest, the operation log's last commit
 * against the metadata and the durability marker; then replays the log
 * written since the last node flush (bounded by 2 x flush_ops + one commit).
 * A read-write open first looks for a gap in the write-ahead log -- writes
 * that were never synced, lost while later ones survived (a power cut; in
 * durability NONE any write): it then moves the WAL files holding the writes
 * after the gap into DIR/wal-gap-<unix time>/, reopens at the last commit
 * before the gap, and logs a warning; the durability marker still makes the
 * open fail if that lost a commit that was durable.  A read-only open
 * reports such a gap as BT_ECORRUPT.
 * Returns 0 and *out (owned by the caller, bt_db_close), or:
 *   BT_EBUSY    another writer holds the database
 *   BT_ECORRUPT the stored state failed a check (message says where)
 *   BT_EIO / BT_ENOSPC / BT_ENOMEM / BT_EINVAL (bad options, not a database)
 * On failure *out is NULL; if errmsg is non-NULL a message is copied into it
 * (capacity errmsg_cap). */
BT_API int bt_db_open(bt_db **out, const char *path, const bt_db_options *opts, char *errmsg,
                      size_t errmsg_cap);

/* Flushes tree nodes (so the next open replays nothing), syncs and closes.
 * Returns 0 or the error of the final flush (the database is still
 * consistent: the next open replays the log).  NULL is a no-op. */
BT_API int bt_db_close(bt_db *db);

/* One line about the last failure on this handle ("" if none).  Borrowed:
 * valid until the next call on db from the same thread. */
BT_API const char *bt_db_errmsg(const bt_db *db);

/* Creates a tree.  Durable when it returns.  Errors: BT_EEXISTS, BT_EINVAL
 * (bad name or parameters), BT_EBADSTATE (read-only or failed handle), I/O. */
BT_API int bt_db_tree_create(bt_db *db, const char *name, const bt_params *params);

/* Parameters of a tree.  BT_ENOTFOUND if there is no such tree. */
BT_API int bt_db_tree_params(bt_params *out, bt_db *db, const char *name);

/* Names of all trees, sorted.  *out_names is an array of *out_count strings,
 * owned by the caller: free with bt_free(*out_names) (one allocation). */
BT_API int bt_db_tree_list(char ***out_names, size_t *out_count, bt_db *db);

/* A write transaction: operations on one or more trees, committed together.
 * Only one transaction may be open per database at a time (BT_EBUSY). */
typedef struct bt_txn bt_txn;

BT_API int bt_txn_begin(bt_txn **out, bt_db *db);

/* Applies operations to a tree inside the transaction, as bt_tree_apply_batch
 * does (results' old pointers valid until the next call on txn).  Returns 0
 * or a call-level error (BT_ENOTFOUND: no such tree).  After an I/O or
 * corruption error the transaction can only be aborted. */
BT_API int bt_txn_apply(bt_txn *txn, const char *tree, const bt_op *ops, size_t n,
                        bt_result *results);

/* The batch proof of this transaction's operations on tree (against the
 * tree's last committed digest), and the digest they lead to.  *out_proof is
 * owned by the caller (bt_free).  Call before bt_txn_commit. */
BT_API int bt_txn_prove(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                        bt_txn *txn, const char *tree);

/* What a commit produced. */
typedef struct bt_commit_info {
    uint64_t commit_seq;   /* 1, 2, ... (0 if the transaction changed nothing) */
    uint64_t last_op_seq;  /* sequence number of the last logged operation     */
    uint64_t ops_logged;   /* operations logged by this commit                 */
} bt_commit_info;

/* Commits and frees the transaction.  On success every changed tree's new
 * digest is the committed one (bt_db_digest) and the commit is durable as
 * the durability mode says.  On failure nothing of the transaction is
 * visible, the handle enters a failed state (BT_EBADSTATE for later writes)
 * and must be closed and reopened. info may be NULL. */
BT_API int bt_txn_commit(bt_txn *txn, bt_commit_info *info);

/* Drops the transaction.  NULL is a no-op. */
BT_API void bt_txn_abort(bt_txn *txn);

/* Waits until commit commit_seq is durable (group mode; immediate in the
 * others: sync mode commits are durable when they return, mode none never
 * promises it).  Returns 0, BT_EINVAL if commit_seq was never written by
 * this handle's database, or the sync error. */
BT_API int bt_db_wait_durable(bt_db *db, uint64_t commit_seq);

/* ---- reads: safe from any number of threads, concurrently with a writer -- */

/* The last committed digest of a tree. */
BT_API int bt_db_digest(uint8_t out[BT_DIGEST_LEN], bt_db *db, const char *tree);

/* Number of keys in a tree (last committed version). */
BT_API int bt_db_count(uint64_t *out, bt_db *db, const char *tree);

/* Looks a key up in the last committed version.  Returns 0 and a copy of the
 * value (*out_value owned by the caller, bt_free), BT_ENOTFOUND, a key error,
 * or BT_ECORRUPT/BT_EIO if a node cannot be loaded. */
BT_API int bt_db_get(uint8_t **out_value, size_t *out_len, bt_db *db, const char *tree,
                     const uint8_t *key, size_t key_len);

/* Proof for ops[0..n) against the last committed version of tree, without
 * changing it: lookups give membership / non-membership proofs; modifying
 * operations give what-if proofs and the digest they would lead to.  results
 * (may be NULL): old pointers valid until bt_free(*out_proof).  *out_proof is
 * owned by the caller (bt_free). */
BT_API int bt_db_prove(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                       bt_result *results, bt_db *db, const char *tree, const bt_op *ops,
                       size_t n);

/* Full integrity walk of a tree's committed version (loads every node):
 * as bt_tree_check, plus the database's write chain (docs/FORMAT.md 4.6).
 * Returns 0 or BT_ECORRUPT with a message. */
BT_API int bt_db_check(bt_db *db, const char *tree);

/* Writes every tree's new nodes to the nodes partition now. */
BT_API int bt_db_flush(bt_db *db);

/* Compacts every partition (reclaims space of deleted nodes). */
BT_API int bt_db_compact(bt_db *db);

/* Statistics. */
typedef struct bt_db_stats {
    uint64_t trees;
    uint64_t commits;             /* last commit seq                         */
    uint64_t ops;                 /* last op seq                             */
    uint64_t nodes_written;       /* since open                              */
    uint64_t nodes_deleted;       /* obsolete nodes reclaimed since open      */
    uint64_t nodes_loaded;        /* loaded from the store since open (cache
                                     misses; hits are not counted: they are
                                     plain pointer reads on the hot path)    */
    uint64_t flushes;             /* node flushes since open                 */
    uint64_t syncs;               /* WAL syncs since open                    */
    uint64_t replayed_ops;        /* operations replayed by the last open    */
    double open_ms;               /* time bt_db_open took                    */
    uint64_t partition_bytes[5];  /* approximate bytes per partition         */
    uint64_t commit_ns_p50, commit_ns_p95, commit_ns_p99; /* since open      */
    uint64_t notes;               /* keys over all trees (bt_db_count: one)  */
    uint64_t nodes;               /* live nodes over all trees (2 x keys + 1 each) */
    uint64_t cache_bytes;         /* bytes of stored nodes held in memory    */
    uint64_t cache_drops;         /* times the cache was emptied to stay in
                                     budget (see docs/DESIGN.md)             */
} bt_db_stats;

BT_API int bt_db_stats_get(bt_db_stats *out, bt_db *db);

/* ---- stored nodes (inspection, state sync): the plan's node API --------- */

/* A stored node.  data holds every byte the pointers point to and is owned
 * by the caller: release it with bt_free(info->data). */
typedef struct bt_node_info {
    int kind;                    /* 1 leaf, 2 internal                       */
    int balance;                 /* internal: -1, 0 or +1                    */
    uint64_t id;                 /* the node's id in the nodes partition     */
    uint8_t label[BT_LABEL_LEN]; /* recomputed from the stored bytes         */
    const uint8_t *key;          /* leaf key or routing key (tree key length) */
    size_t key_len;
    const uint8_t *next;         /* leaf: the next leaf's key                */
    const uint8_t *value;        /* leaf */
    size_t value_len;
    uint64_t left_id, right_id;  /* internal */
    uint8_t left_label[BT_LABEL_LEN], right_label[BT_LABEL_LEN];
    uint8_t *data;
} bt_node_info;

/* The stored node of tree with this label (flushed versions only; call
 * bt_db_flush first for the newest nodes).  Needs index_labels.  Returns 0,
 * BT_ENOTFOUND, BT_ENOTSUP (no label index), BT_ECORRUPT. */
BT_API int bt_db_node_get(bt_node_info *out, bt_db *db, const char *tree,
                          const uint8_t label[BT_LABEL_LEN]);

/* Batch form: out[i] for labels[i]; a missing node gives out[i].kind == 0
 * and data == NULL (not an error).  Returns 0 or the first hard error. */
BT_API int bt_db_nodes_get(bt_node_info *out, bt_db *db, const char *tree,
                           const uint8_t (*labels)[BT_LABEL_LEN], size_t n);

/* Calls fn for every stored node of any tree whose label is in [from, to]
 * (inclusive, byte order), in label order, until fn returns non-zero
 * (which is then returned).  from > to visits nothing.  info is valid only
 * during the call.  Needs index_labels. */
BT_API int bt_db_nodes_range(bt_db *db, const uint8_t from[BT_LABEL_LEN],
                             const uint8_t to[BT_LABEL_LEN],
                             int (*fn)(void *ctx, const char *tree, const bt_node_info *info),
                             void *ctx);

/* ------------------------------------------------------------------------ */
/* Operations: logging, metrics, backup and restore                          */
/* ------------------------------------------------------------------------ */

/* ---- logging ------------------------------------------------------------ */

/* The library reports what an operator should know (a database opened and
 * what it replayed, a backup taken or failed, a compaction) through one
 * process-wide log handler.  Without a handler, messages of level
 * BT_LOG_WARN and above are written to stderr as "basistrees: LEVEL: text". */
typedef enum bt_log_level {
    BT_LOG_DEBUG = 0,
    BT_LOG_INFO = 1,
    BT_LOG_WARN = 2,
    BT_LOG_ERROR = 3,
    BT_LOG_OFF = 4 /* as a minimum level: deliver nothing */
} bt_log_level;

/* A log handler.  msg is one line (no newline, at most 1023 bytes), borrowed
 * for the duration of the call.  It may be called from any thread (the
 * background flusher, a metrics server thread), but never by two threads at
 * once.  It must not call bt_log_set_handler. */
typedef void (*bt_log_fn)(void *ctx, bt_log_level level, const char *msg);

/* Installs fn (NULL: the default stderr handler) with its ctx, delivering
 * messages of min_level and above (BT_LOG_OFF: none).  Returns once no call
 * of the previous handler is running, so its ctx may then be freed.
 * Thread-safe.  Returns 0 or BT_EINVAL (bad level). */
BT_API int bt_log_set_handler(bt_log_fn fn, void *ctx, bt_log_level min_level);

/* "debug", "info", "warn", "error", "off"; NULL for an invalid level. */
BT_API const char *bt_log_level_name(bt_log_level level);

/* Parses one of the names above (also "warning").  Returns 0 or BT_EINVAL. */
BT_API int bt_log_level_parse(bt_log_level *out, const char *name);

/* ---- metrics ------------------------------------------------------------ */

/* The database's metrics in the Prometheus text exposition format (version
 * 0.0.4): operation counts by type, commit / lookup / proof latency
 * summaries (p50, p95, p99), node-cache bytes, loads and hit ratio, bytes
 * and compression ratio per partition, the operation log's length and its
 * unflushed tail, the last replay length, and what maintenance did (see
 * docs/OPERATIONS.md "Metrics" for every name).  *out is a NUL-terminated
 * string owned by the caller (bt_free), *out_len its length.  Safe from any
 * thread, concurrently with the writer.  Errors: BT_ENOMEM. */
BT_API int bt_db_metrics_text(char **out, size_t *out_len, bt_db *db);

/* A small HTTP server that answers GET /metrics with bt_db_metrics_text
 * (and 404 elsewhere), on its own thread, one request at a time (requests
 * are bounded to 8 KiB and 2 s).  Lets an embedding program be scraped
 * without writing its own endpoint. */
typedef struct bt_metrics_server bt_metrics_server;

/* Starts serving db on listen, "HOST:PORT" with a numeric IPv4 host
 * ("127.0.0.1:9464"; port 0 picks a free port, see
 * bt_metrics_server_port).  *out is owned by the caller: stop it with
 * bt_metrics_server_stop BEFORE bt_db_close(db).  Errors: BT_EINVAL (bad
 * address), BT_EBUSY (address in use), BT_EIO, BT_ENOMEM; a message goes to
 * errmsg (capacity errmsg_cap, may be NULL). */
BT_API int bt_metrics_server_start(bt_metrics_server **out, bt_db *db, const char *listen,
                                   char *errmsg, size_t errmsg_cap);

/* The TCP port the server listens on. */
BT_API unsigned bt_metrics_server_port(const bt_metrics_server *s);

/* Stops the server, waits for its thread and frees it.  NULL is a no-op. */
BT_API void bt_metrics_server_stop(bt_metrics_server *s);

/* ---- backup and restore ------------------------------------------------- */

/* Backups live in a backup directory managed by RocksDB's BackupEngine:
 * table files are shared between backups (each backup copies only the files
 * the previous ones lack: incremental), every file is recorded with its
 * size and checksum.  Beside them the library keeps one record per backup,
 * bt-backup-<id>.rec (docs/FORMAT.md), with the committed state the backup
 * holds (commit and operation sequence numbers, each tree's digest and key
 * count), learnt by restoring the backup into a scratch directory and
 * checking it.  Only one process may use a backup directory at a time
 * (BT_EBUSY). */
typedef struct bt_backup_info {
    uint32_t id;            /* 1, 2, ... in creation order                  */
    uint64_t timestamp;     /* creation time, Unix seconds                  */
    uint64_t size_bytes;    /* bytes of the files this backup references    */
    uint32_t files;         /* number of those files                        */
    int verified;           /* 1: the record exists (the fields below are set) */
    uint64_t commit_seq;    /* the committed state the backup restores to   */
    uint64_t op_seq;
    uint32_t trees;
    uint8_t state_hash[BT_LABEL_LEN]; /* Blake2b-256 over every tree's name,
                                         digest and count, in name order   */
} bt_backup_info;

/* Backs up db into backup_dir (created if missing) while commits go on:
 * the backup holds exactly one committed state (some commit between the
 * call and its return).  If verify is non-zero the backup is then restored
 * into a scratch directory inside backup_dir, opened, every tree checked
 * (bt_db_check), and the record written; without verify no record is
 * written until bt_backup_verify.  *out (may be NULL) describes the new
 * backup.  Errors: BT_ENOTSUP (in-memory engine or a read-only handle),
 * BT_EBUSY (backup_dir in use), BT_EIO / BT_ENOSPC, BT_ECORRUPT (the
 * verification failed: the backup is kept, see bt_backup_prune).  The
 * message is in bt_db_errmsg.  Thread-safety: may run on any thread while
 * other threads commit and read through db (it does not take the writer's
 * lock; commits are not paused), but not concurrently with bt_db_close. */
BT_API int bt_db_backup(bt_backup_info *out, bt_db *db, const char *backup_dir, int verify);

/* The backups in backup_dir, oldest first.  *out is an array of *out_count
 * entries owned by the caller (bt_free).  Errors: BT_ENOTFOUND (no backup
 * directory), BT_EIO, BT_ENOMEM; message in errmsg (may be NULL). */
BT_API int bt_backup_list(bt_backup_info **out, size_t *out_count, const char *backup_dir,
                          char *errmsg, size_t errmsg_cap);

/* Verifies backup id (0 = the newest): the engine's check of every file's
 * size, then a full restore into a scratch directory, a check of every tree,
 * and a comparison with the backup's record (written now if it had none).
 * *out (may be NULL) receives the backup's description.  Errors:
 * BT_ENOTFOUND (no such backup), BT_ECORRUPT (a file is missing or damaged,
 * a tree fails its check, or the state differs from the record), BT_EBUSY,
 * BT_EIO, BT_ENOMEM; message in errmsg (may be NULL). */
BT_API int bt_backup_verify(bt_backup_info *out, const char *backup_dir, uint32_t id,
                            char *errmsg, size_t errmsg_cap);

/* Restores backup id (0 = the newest) into target_dir, which must not exist
 * (a restore never writes over a database; BT_EEXISTS).  The files are
 * restored into target_dir.restoring, the database is opened there (which
 * checks it, replays its log and writes a fresh durability marker), every
 * tree is checked, and the directory is renamed to target_dir only then.
 * *out (may be NULL) receives the restored state.  Errors: BT_EEXISTS,
 * BT_ENOTFOUND, BT_ECORRUPT, BT_EBUSY, BT_EIO, BT_ENOSPC, BT_ENOMEM;
 * message in errmsg (may be NULL). */
BT_API int bt_backup_restore(bt_backup_info *out, const char *backup_dir, uint32_t id,
                             const char *target_dir, char *errmsg, size_t errmsg_cap);

/* Retention: deletes every backup older than keep_seconds before now (Unix
 * seconds; 0 = the current time), always keeping the keep_min newest
 * (at least 1), and the records of deleted backups.  *out_removed (may be
 * NULL) receives the count.  Errors as bt_backup_list. */
BT_API int bt_backup_prune(uint32_t *out_removed, const char *backup_dir, uint64_t keep_seconds,
                           uint32_t keep_min, uint64_t now, char *errmsg, size_t errmsg_cap);

/* ------------------------------------------------------------------------ */
/* Operation log, checkpoints, rollback, replay                              */
/* ------------------------------------------------------------------------ */

/* Every successful modifying operation is logged in the commit that makes
 * it: op seq (gapless from 1), commit seq, timestamp, tree, type, key, new
 * value, previous value, and the tree's digest after that commit.  Lookups
 * and failed operations are not logged.  The log may be pruned below the
 * oldest retained checkpoint (bt_db_oplog_prune); queries then start at
 * bt_db_oplog_first(). */

/* Sets the timestamp (ms since the Unix epoch) recorded for this
 * transaction's operations; the default is the clock at bt_txn_begin. */
BT_API void bt_txn_set_time(bt_txn *txn, uint64_t ts_ms);

/* One logged operation, as the query functions pass it to their callback.
 * Every pointer is borrowed: valid only during the callback. */
typedef struct bt_oplog_entry {
    uint64_t op_seq, commit_seq, ts_ms;
    bt_op_type type;
    const char *tree;                    /* tree name                       */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;                /* Insert/Update/InsertOrUpdate    */
    size_t value_len;
    int has_prev;                        /* the key had a value before      */
    const uint8_t *prev;
    size_t prev_len;
    uint8_t digest[BT_DIGEST_LEN];       /* the tree's digest after the commit */
} bt_oplog_entry;

/* Return non-zero from the callback to stop; that value is returned. */
typedef int (*bt_oplog_fn)(void *ctx, const bt_oplog_entry *e);

/* Calls fn for every logged operation with from_seq <= op_seq <= to_seq in
 * sequence order (to_seq UINT64_MAX: to the end).  Returns 0, fn's value,
 * BT_ENOTFOUND if from_seq was pruned (see bt_db_oplog_first),
 * BT_ECORRUPT (a damaged record, with the place in the message), BT_EIO. */
BT_API int bt_db_oplog_range(bt_db *db, uint64_t from_seq, uint64_t to_seq, bt_oplog_fn fn,
                             void *ctx);

/* Operations of the commits whose timestamp is in [from_ms, to_ms], in
 * (timestamp, sequence) order, through the time index.  BT_ENOTSUP on a
 * database created without op-log indexes (run `basis-trees migrate`). */
BT_API int bt_db_oplog_time(bt_db *db, uint64_t from_ms, uint64_t to_ms, bt_oplog_fn fn,
                            void *ctx);

/* The retained history of one key of tree, oldest first, through the key
 * index.  BT_ENOTFOUND: no such tree; BT_ENOTSUP as above. */
BT_API int bt_db_oplog_key(bt_db *db, const char *tree, const uint8_t *key, size_t key_len,
                           bt_oplog_fn fn, void *ctx);

/* The first retained op seq (1 unless pruned; last op seq + 1 if the log
 * is empty) and the last one. */
BT_API int bt_db_oplog_bounds(uint64_t *out_first, uint64_t *out_last, bt_db *db);

/* Builds the time and key indexes for the whole retained log and records
 * that the database has them: for databases created before they existed
 * (the queries above return BT_ENOTSUP there).  Safe to repeat; a crash
 * midway leaves the database usable and the call can be run again.  No
 * transaction may be open (BT_EBUSY).  *out_ops (may be NULL): operations
 * indexed. */
BT_API int bt_db_oplog_reindex(uint64_t *out_ops, bt_db *db);

/* Writes operations from_seq..to_seq to the file descriptor fd (not closed):
 * format 0 = JSON lines (docs/OPERATIONS.md "op-log export"), 1 = binary (the
 * commit blocks as stored, framed: docs/FORMAT.md 4.4d), for audit tools
 * and followers.  Returns 0 or an error (BT_EIO / BT_ENOSPC on a write
 * error). */
BT_API int bt_db_oplog_export(bt_db *db, int fd, int format, uint64_t from_seq, uint64_t to_seq);

/* Deletes log blocks (and their index entries) that end at or before
 * before_seq, but never one that recovery or a retained checkpoint needs:
 * the bound is lowered to the oldest retained checkpoint's op seq and to
 * every tree's last flushed op seq.  *out_pruned (may be NULL) receives the
 * number of operations deleted.  Read-only handles: BT_EBADSTATE. */
BT_API int bt_db_oplog_prune(uint64_t *out_pruned, bt_db *db, uint64_t before_seq);

/* A checkpoint pins the committed version of every tree (the tracker's
 * on-chain commitment): reads and proofs against it keep working while the
 * head moves on, until it is deleted.  Creation writes the nodes changed
 * since the last node flush and one record: O(changes), not O(tree). */
#define BT_CHECKPOINT_LABEL_MAX 128

typedef struct bt_checkpoint_tree {
    char name[65];
    uint8_t digest[BT_DIGEST_LEN];
    uint64_t count;
} bt_checkpoint_tree;

typedef struct bt_checkpoint {
    uint64_t id;            /* 1, 2, ... never reused                        */
    uint64_t ts_ms;         /* when it was created                           */
    uint64_t commit_seq;    /* last commit it contains                       */
    uint64_t op_seq;        /* last operation it contains                    */
    char label[BT_CHECKPOINT_LABEL_MAX + 1]; /* e.g. the Ergo transaction id */
    size_t ntrees;
    bt_checkpoint_tree *trees; /* ntrees entries, inside the same allocation */
} bt_checkpoint;

/* Creates a checkpoint of every tree's committed version.  label may be
 * NULL; at most BT_CHECKPOINT_LABEL_MAX bytes of printable text.  Then
 * applies the retention options (checkpoint_keep, checkpoint_keep_ms).
 * Durable when it returns.  Returns 0 and *out_id (may be NULL), or
 * BT_EBUSY (a transaction is open), BT_EINVAL (label), BT_EBADSTATE, I/O. */
BT_API int bt_db_checkpoint_create(uint64_t *out_id, bt_db *db, const char *label);

/* One checkpoint (id 0: the newest).  *out is one allocation owned by the
 * caller (bt_free).  BT_ENOTFOUND if there is none. */
BT_API int bt_db_checkpoint_get(bt_checkpoint **out, bt_db *db, uint64_t id);

/* Every retained checkpoint, oldest first: *out is an array of *out_count
 * entries in one allocation owned by the caller (bt_free(*out)). */
BT_API int bt_db_checkpoint_list(bt_checkpoint **out, size_t *out_count, bt_db *db);

/* Deletes a checkpoint; nodes only it kept are reclaimed in the same atomic
 * batch.  BT_ENOTFOUND if there is no such checkpoint. */
BT_API int bt_db_checkpoint_delete(bt_db *db, uint64_t id);

/* Walks every tree of the checkpoint, loading every node and recomputing
 * every label.  Returns 0, or BT_ECORRUPT with the tree and the first bad
 * node in bt_db_errmsg. */
BT_API int bt_db_checkpoint_validate(bt_db *db, uint64_t id);

/* Rolls the head of every tree back to checkpoint id: later operations,
 * later checkpoints and the nodes only they used are discarded, in one
 * atomic, synced batch.  Afterwards the op seq and commit seq continue
 * from the checkpoint's.  To keep the discarded operations, export them
 * first (bt_db_oplog_export from checkpoint op_seq + 1).  Trees created
 * after the checkpoint make it fail with BT_EBADSTATE.  No transaction may
 * be open (BT_EBUSY). */
BT_API int bt_db_rollback(bt_db *db, uint64_t checkpoint_id);

/* Reads against a checkpoint: as bt_db_digest / bt_db_count / bt_db_get /
 * bt_db_prove / bt_db_check, on the version checkpoint_id pinned (0: the
 * head).  BT_ENOTFOUND if there is no such checkpoint, or if the tree is not
 * in it.  Safe from any thread while the writer commits. */
BT_API int bt_db_digest_at(uint8_t out[BT_DIGEST_LEN], bt_db *db, const char *tree,
                           uint64_t checkpoint_id);
BT_API int bt_db_count_at(uint64_t *out, bt_db *db, const char *tree, uint64_t checkpoint_id);
BT_API int bt_db_get_at(uint8_t **out_value, size_t *out_len, bt_db *db, const char *tree,
                        uint64_t checkpoint_id, const uint8_t *key, size_t key_len);
BT_API int bt_db_prove_at(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                          bt_result *results, bt_db *db, const char *tree,
                          uint64_t checkpoint_id, const bt_op *ops, size_t n);

/* Upgrading a database written by an older version of the library to the
 * current on-disk format (docs/OPERATIONS.md "Format upgrades").  Opening
 * an older format fails with BT_EINVAL and a message naming this. */
typedef struct bt_upgrade_info {
    unsigned from_format, to_format;
    int already_current;        /* 1: nothing was done                       */
    size_t trees;
    uint64_t ops;               /* last op seq (equal before and after)      */
    uint64_t ops_indexed;       /* op-log index entries built                */
    uint64_t bytes_copied;
    char original_kept_at[4200]; /* where the untouched original now is      */
} bt_upgrade_info;

/* Upgrades the database at path: holds its writer lock throughout (no
 * writer may have it open: BT_EBUSY), copies it to PATH.migrating, upgrades
 * the copy, validates it against the original (every tree's digest and
 * count, the commit and op sequence numbers, the checkpoints; every tree
 * fully checked) and only then swaps: the original is renamed to
 * PATH.format<N>-<unix time> and kept; delete it once satisfied.  Nothing
 * is changed if any step fails (the copy is removed).  *out may be NULL;
 * errmsg (capacity errmsg_cap, may be NULL) receives a message on failure. */
BT_API int bt_db_upgrade(bt_upgrade_info *out, const char *path, char *errmsg, size_t errmsg_cap);

/* What a replay did. */
typedef struct bt_replay_info {
    uint64_t commits, ops;           /* replayed                             */
    uint64_t last_op_seq, last_commit_seq, last_ts_ms;
    double seconds;
} bt_replay_info;

/* Rebuilds every tree from the operation log, from empty, checking after
 * each commit that the digests the log recorded are reproduced, up to and
 * including op seq upto_seq (UINT64_MAX: everything) and only commits with
 * timestamp <= upto_ms (UINT64_MAX: no limit); the replay stops at the
 * first commit beyond either bound.  If target_path is non-NULL the result
 * is written into a NEW database there (opened with target_opts, may be
 * NULL; it must not exist yet: BT_EEXISTS), with the same trees, the same
 * operations and the same sequence numbers; otherwise the replay only
 * verifies.  Needs the log from op 1 (BT_ENOTFOUND if it was pruned).
 * Returns 0 or BT_ECORRUPT (a digest was not reproduced: which commit and
 * tree in the message). */
BT_API int bt_db_replay(bt_replay_info *out, bt_db *db, const char *target_path,
                        const bt_db_options *target_opts, uint64_t upto_seq, uint64_t upto_ms);

/* As bt_db_replay, but starting from checkpoint from_checkpoint (0: from
 * empty): every tree starts at its version in that checkpoint (trees created
 * after it start empty) and the log is replayed from the checkpoint's op
 * seq + 1, which retention never prunes.  A target database gets each
 * tree's checkpoint version by snapshot (its own sequence numbers then
 * start at 1).  BT_ENOTFOUND: no such checkpoint. */
BT_API int bt_db_replay_from(bt_replay_info *out, bt_db *db, uint64_t from_checkpoint,
                             const char *target_path, const bt_db_options *target_opts,
                             uint64_t upto_seq, uint64_t upto_ms);

/* ------------------------------------------------------------------------ */
/* Snapshots: export and import of one tree version                          */
/* ------------------------------------------------------------------------ */

/* A snapshot is a portable file holding one version of one tree: its
 * parameters, digest, key count and height, then every node in a fixed
 * order, zstd-compressed in chunks of at most 1 MiB, a CRC-32 per chunk and
 * one over the whole body (docs/FORMAT.md section 5).  Importing it
 * reproduces the exact tree -- the same shape, so the same digest (which
 * depends on the insertion history, not only on the contents) and the same
 * proofs.  Labels are not stored: import recomputes every one, checks key
 * order, balances and heights, and accepts the file only if the rebuilt
 * root equals the digest in its header.  A damaged, truncated or lying file
 * is rejected with BT_ECORRUPT and a message saying where; nothing is
 * imported.  Export streams (memory: one chunk plus one root-to-leaf path);
 * import holds the rebuilt tree in memory (about 250 bytes per key) and
 * refuses headers that declare more keys than 16 per byte of file. */
typedef struct bt_snapshot_info {
    bt_params params;
    uint8_t digest[BT_DIGEST_LEN];
    unsigned height;
    uint64_t count;          /* keys                                        */
    uint64_t nodes;          /* 2 x count + 1                               */
    uint64_t checkpoint_id;  /* the exported checkpoint (0: the head)       */
    uint64_t file_bytes;     /* size of the snapshot file                   */
} bt_snapshot_info;

/* Writes the version of tree named by checkpoint_id (0: the last committed
 * version) to the file path, replacing it atomically (written to
 * "path.tmp-PID", synced, renamed).  Runs as a reader: commits go on.
 * *out (may be NULL) describes the snapshot.  Returns 0, or:
 *   BT_ENOTFOUND  no such tree, no checkpoint checkpoint_id, or the tree is
 *                 not in that checkpoint
 *   BT_ECORRUPT   a stored node failed its check while being read
 *   BT_EIO / BT_ENOSPC / BT_ENOMEM / BT_EINVAL (NULL tree or path)
 * The message is in bt_db_errmsg. */
BT_API int bt_db_export(bt_snapshot_info *out, bt_db *db, const char *tree,
                        uint64_t checkpoint_id, const char *path);

/* Creates the NEW tree `tree` from the snapshot file at path, with the
 * snapshot's parameters and exact shape.  The file is read and verified
 * completely before anything is written; then the nodes are written as a
 * node flush writes them and one logged batch adds the tree: when this
 * returns 0 the tree is durable (D2: its nodes are stored, it has no
 * operations to replay), and a crash at any point leaves either no tree
 * or the whole tree.  Commits wait while the nodes are written; a
 * transaction must not be open.  *out (may be NULL) describes the
 * snapshot.  Returns 0, or:
 *   BT_EEXISTS    a tree of that name exists
 *   BT_EINVAL     bad tree name
 *   BT_ENOTFOUND  no file at path
 *   BT_ECORRUPT   the file is damaged or inconsistent (nothing imported)
 *   BT_EBUSY      a transaction is open
 *   BT_EBADSTATE  read-only or failed handle
 *   BT_EIO / BT_ENOSPC / BT_ENOMEM
 * The message is in bt_db_errmsg. */
BT_API int bt_db_import(bt_snapshot_info *out, bt_db *db, const char *tree, const char *path);

/* In-memory forms, for the bt_tree prover (and bindings): the snapshot of
 * the tree's current state (operations since the last proof included; the
 * tree is not changed) as one buffer, *out owned by the caller (bt_free).
 * Errors: BT_ENOMEM, or a node source's error for lazily loaded trees
 * (message in bt_tree_errmsg). */
BT_API int bt_tree_export_mem(uint8_t **out, size_t *out_len, bt_tree *tree);

/* A new tree (owned by the caller, bt_tree_free) rebuilt from snapshot
 * bytes, which are only read during the call.  Returns 0, or BT_ECORRUPT
 * (any problem with the bytes; *out is NULL and errmsg, capacity
 * errmsg_cap, may be NULL, says what), BT_EINVAL (data NULL with len > 0),
 * BT_ENOMEM. */
BT_API int bt_tree_import_mem(bt_tree **out, const uint8_t *data, size_t len, char *errmsg,
                              size_t errmsg_cap);

/* ------------------------------------------------------------------------ */
/* Basis encodings                                                           */
/* ------------------------------------------------------------------------ */

#define BT_PUBKEY_LEN 33       /* compressed secp256k1 public key           */
#define BT_NOTE_KEY_LEN 32
#define BT_TRACKER_VALUE_LEN 8 /* total debt, u64 big-endian                */
#define BT_RESERVE_VALUE_LEN 16 /* timestamp u64 BE || redeemed u64 BE      */

/* Note key = Blake2b-256(issuer_pubkey || recipient_pubkey), both 33-byte
 * compressed keys.  Returns 0, or BT_EINVAL if a key's first byte is not 0x02
 * or 0x03 (not a compressed point encoding). */
BT_API int bt_basis_note_key(uint8_t out[BT_NOTE_KEY_LEN], const uint8_t issuer[BT_PUBKEY_LEN],
                             const uint8_t recipient[BT_PUBKEY_LEN]);

/* Tracker-tree value: the total debt as u64 big-endian. */
BT_API void bt_basis_tracker_value(uint8_t out[BT_TRACKER_VALUE_LEN], uint64_t total_debt);
/* Decodes a tracker value.  Returns 0 or BT_EINVAL if len != 8. */
BT_API int bt_basis_tracker_value_decode(uint64_t *out_total_debt, const uint8_t *value, size_t len);

/* Reserve-tree value: timestamp u64 BE || redeemed u64 BE. */
BT_API void bt_basis_reserve_value(uint8_t out[BT_RESERVE_VALUE_LEN], uint64_t timestamp,
                                   uint64_t redeemed);
/* Decodes a reserve value.  Returns 0 or BT_EINVAL if len != 16. */
BT_API int bt_basis_reserve_value_decode(uint64_t *out_timestamp, uint64_t *out_redeemed,
                                         const uint8_t *value, size_t len);

/* Flags of an Ergo SAvlTree value. */
#define BT_AVL_INSERT_ALLOWED 0x01
#define BT_AVL_UPDATE_ALLOWED 0x02
#define BT_AVL_REMOVE_ALLOWED 0x04

/* The contents of an Ergo SAvlTree register value. */
typedef struct bt_avl_register {
    uint8_t digest[BT_DIGEST_LEN];
    uint8_t flags;          /* BT_AVL_*_ALLOWED bits                         */
    uint32_t key_len;       /* key length                                    */
    int has_value_len;      /* 1 if values have a fixed length               */
    uint32_t value_len;     /* that length, if has_value_len                 */
} bt_avl_register;

#define BT_AVL_REGISTER_MAX 48 /* longest encoding bt_avl_register_encode writes */

/* Encodes 0x64 || digest || flags || VLQ(key_len) || (0x00 | 0x01 VLQ(value_len))
 * into out (capacity cap; BT_AVL_REGISTER_MAX always suffices).  Returns 0 and
 * *out_len, or BT_EINVAL (flags above 0x07), or BT_ELIMIT (cap too small). */
BT_API int bt_avl_register_encode(uint8_t *out, size_t cap, size_t *out_len,
                                  const bt_avl_register *reg);

/* Decodes a register value.  Returns 0, or BT_ECORRUPT for a wrong type byte,
 * truncated input, an over-long VLQ, an option tag other than 0/1, unknown
 * flag bits, or trailing bytes. */
BT_API int bt_avl_register_decode(bt_avl_register *out, const uint8_t *in, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* BASISTREES_H */
