/*
 * db_int.h -- the inside of a bt_db: wires the core, the record codecs and
 * the engine boundary together.  Owns no algorithm of its own.
 *
 * Invariants:
 *  D1. Every committed change is in the operation log (partition
 *      `operations`) in the same engine batch as its commit record, the
 *      heads of the trees it changed and the `commit` metadata record (K1).
 *  D2. For each tree, `root/<id>` names a version all of whose nodes are in
 *      `nodes`; the log holds every operation after its flushed_op_seq.
 *      So replaying the log from there reproduces the head (checked on open
 *      against `head/<id>` and the commit records).
 *  D3. Nodes written by a flush get ids above every id before them; a flush
 *      deletes, in the same batch as the new root record, exactly the nodes
 *      of the previous flushed version that the new one no longer reaches.
 *  D4. Readers see only committed versions: dt->committed is swapped under
 *      db->rlock after the commit batch is written.
 *  D5. After a failed engine write the handle is failed (db->failed): writes
 *      return BT_EBADSTATE; the on-disk state is some committed prefix.
 *  D6. Node flushes run on a background thread on a snapshot of committed
 *      roots; only the flusher writes `root/` and `nodeid` records and only
 *      commits write `commit`; a commit waits for the flusher when the log
 *      since the last flush would exceed 2 x flush_ops (bounded replay).
 *  D8. A node is deleted only when no retained checkpoint's version and no
 *      flushed version reaches it: a flush that drops a node whose id is
 *      below the newest checkpoint's frontier records it as an orphan of
 *      that checkpoint instead (FORMAT.md 4.4c); deleting or rolling back
 *      to a checkpoint settles its orphans in the same batch.
 *  D9. Every WAL write carries the next write-chain number (walchain.c,
 *      FORMAT.md 4.6): the `wal/` records present are one run; two runs are
 *      a gap, repaired at open (store_rocksdb.c) or refused.
 */
#ifndef BT_DB_INT_H
#define BT_DB_INT_H
#include "basistrees.h"
#include "codec/records.h"
#include "core/tree_int.h"
#include "store/kv.h"
#include "util/hist.h"
#include "db/metrics.h"
#include <pthread.h>
#include <stdatomic.h>

typedef struct dbtree {
    char name[BT_TREE_NAME_MAX + 1];
    uint32_t id;
    bt_params p;
    bt_tree *t;            /* the writer's working handle */
    bool touched;          /* changed by the open transaction */
    uint64_t txn_ops;      /* logged ops of the open transaction */
    /* committed version (readers; under db->rlock) */
    bt_node *committed;
    int committed_height;
    uint64_t committed_count;
    uint8_t committed_digest[BT_DIGEST_LEN];
    uint64_t head_commit_seq;
    /* flushed version (writer only) */
    bt_node *flushed;
    uint64_t flushed_op_seq;
} dbtree;

/* A retained checkpoint (checkpoint.c), as loaded from its record.  The
 * table is changed only with db->fmu held (so flushes see a stable newest
 * checkpoint) and under db->rlock (readers take root references under it). */
typedef struct dbckpt_tree {
    uint32_t tree_id;
    uint64_t root_id;
    uint8_t digest[BT_DIGEST_LEN];
    uint64_t count;
    bt_node *root; /* a stub or a shared loaded node; reset by cache drops */
} dbckpt_tree;

typedef struct dbckpt {
    uint64_t id, ts_ms, commit_seq, op_seq, frontier;
    char label[BT_CKPT_LABEL_MAX + 1];
    size_t ntrees;
    dbckpt_tree *trees;
} dbckpt;

struct bt_db {
    bt_kv *kv;
    char *path;
    bt_db_options o;
    int lock_fd, marker_fd;
    bt_node_source src;

    pthread_mutex_t rlock; /* trees table and committed roots */
    dbtree **trees;
    size_t ntrees, captrees;

    pthread_mutex_t wlock; /* one transaction at a time */
    bool txn_open;
    _Atomic int failed;    /* sticky engine failure (D5); set by any thread */
    bt_rec_commit_meta meta;
    uint64_t ops_since_flush;
    uint64_t dirty_bytes;  /* node bytes committed since the last flush's
                              snapshot (bt_tree_take_new_bytes; flush_bytes) */

    /* group commit */
    pthread_t syncer;
    bool syncer_running, stop;
    pthread_mutex_t smu;
    pthread_cond_t scv, sdone;
    uint64_t written_commit, synced_commit, wanted_commit;
    uint64_t written_op, unsynced_ops;
    int sync_err;

    /* background node flushes (commit.c): fmu serialises flushes, cache
     * drops and tree creation; next_node_id is handed out atomically */
    pthread_t flusher;
    bool flusher_running, fstop, frequest;
    pthread_mutex_t fmu, fqmu;
    pthread_cond_t fcv, fdone;
    uint64_t fdone_count;
    _Atomic uint64_t next_node_id;

    /* node cache: bytes of nodes loaded from the store since the last drop */
    _Atomic int64_t cache_bytes; /* an estimate: may dip below zero briefly */
    uint64_t cache_drops;

    /* checkpoints (D8) and op-log features */
    dbckpt **ckpts;        /* oldest first */
    size_t nckpts, capckpts;
    uint64_t next_ckpt_id;
    uint32_t epoch;        /* rollbacks so far (FORMAT.md 4.4c) */
    uint32_t features;     /* BT_FEATURE_* recorded at creation */
    uint16_t format;       /* the `format` record's version */
    bool allow_old_format; /* the migration's own opens */

    /* the write chain (walchain.c, FORMAT.md 4.6) */
    pthread_mutex_t chainmu;
    uint64_t chain_next;
    unsigned wal_files_set_aside; /* by this open's gap repair */

    /* statistics */
    _Atomic uint64_t nodes_loaded;
    uint64_t nodes_written, nodes_deleted, flushes, syncs, replayed_ops;
    double open_ms;
    bt_hist commit_ns;
    bt_db_metrics metrics; /* metrics.c: counters for bt_db_metrics_text */
};

struct bt_txn {
    bt_db *db;
    bt_kv_batch *batch;
    uint64_t nops;      /* ops logged so far */
    uint64_t ts_ms;
    int failed;
    bt_buf ops;         /* op entries of the commit block */
    bt_buf rec;         /* scratch for encoding */
};

/* db.c */
int bt_db__open(bt_db **out, const char *path, const bt_db_options *opts, bool allow_old_format,
                char *errmsg, size_t errmsg_cap);
int bt_db__set_msg(int code, const char *fmt, ...);
dbtree *bt_db__find(bt_db *db, const char *name);
dbtree *bt_db__find_id(bt_db *db, uint32_t id);
int bt_db__load_node(void *ctx, const bt_node *stub, unsigned klen, bool fixed, uint32_t vlen,
                     bt_node **out, char *msg, size_t msgcap);
uint64_t bt_db__now_ms(void);
void bt_db__write_marker(bt_db *db, uint64_t commit_seq, uint64_t op_seq);
void bt_db__publish(bt_db *db, dbtree *dt, uint64_t commit_seq);

/* commit.c */
int bt_db__flush(bt_db *db);
int bt_db__flush_locked(bt_db *db); /* db->fmu held */
void bt_db__reader_trim(bt_db *db);
int bt_db__flusher_start(bt_db *db);
void bt_db__flusher_stop(bt_db *db);
int bt_db__syncer_start(bt_db *db);
void bt_db__syncer_stop(bt_db *db);
void bt_db__after_write(bt_db *db, uint64_t commit_seq, uint64_t last_op_seq, uint64_t nops);
int bt_db__write_tree_nodes(bt_db *db, uint32_t tree_id, const bt_params *p, bt_node *root,
                            bt_kv_batch *meta, uint64_t *out_root_id, uint64_t *out_written);

/* snapshot.c: writes a snapshot of one version (root may be a stub; height,
 * count and digest as committed) to path; checkpoint exports call this
 * with the checkpoint's root */
int bt_db__export_root(bt_snapshot_info *out, bt_db *db, const bt_params *p, bt_node *root,
                       int height, uint64_t count, const uint8_t digest[BT_DIGEST_LEN],
                       uint64_t checkpoint_id, const char *path);

/* Label index key (docs/FORMAT.md 4.4a): 'L' || label || tree id || node id. */
#define BT_LABEL_INDEX_KEY (1 + 32 + 4 + 8)
void bt_db__label_key(uint8_t out[BT_LABEL_INDEX_KEY], const uint8_t label[32], uint32_t tree_id,
                      uint64_t node_id);
/* Deletes stored node node_id of tree tree_id, and its label-index entry
 * when the database keeps one, in batch b. */
void bt_db__node_del(bt_db *db, bt_kv_batch *b, uint64_t node_id, uint32_t tree_id,
                     const uint8_t label[32]);

/* checkpoint.c */
int bt_db__ckpt_load(bt_db *db);
void bt_db__ckpt_free_all(bt_db *db);
int bt_db__ckpt_retention(bt_db *db); /* at open */
/* The newest checkpoint's id and frontier (0, 0: none); with fmu held. */
void bt_db__ckpt_pin(bt_db *db, uint64_t *id, uint64_t *frontier);
/* Replaces every checkpoint root with a fresh stub (cache drops). */
int bt_db__ckpt_reset_roots(bt_db *db);
/* A root reference of tree tree_id at checkpoint id (rlock held). */
dbckpt *bt_db__ckpt_find(bt_db *db, uint64_t id);

/* oplog.c */
/* Adds the key index entry of op op_seq to a commit batch. */
void bt_db__oplog_index_op(bt_db *db, bt_kv_batch *b, uint32_t tree_id, const uint8_t *key,
                           unsigned klen, uint64_t op_seq);
void bt_db__oplog_index_commit(bt_db *db, bt_kv_batch *b, uint64_t ts_ms, uint64_t first_op_seq);
/* Deletes blocks with op seq > after_seq and their index entries (rollback). */
int bt_db__oplog_truncate(bt_db *db, bt_kv_batch *b, uint64_t after_seq);

/* walchain.c */
#define BT_WALCHAIN_KEEP 16
/* Writes batch b (BT_KV_* flags) with the next write-chain marker; every
 * WAL write of the library goes through here. */
int bt_db__write(bt_db *db, bt_kv_batch *b, int flags);
/* Checks W2 on any open store: 0, BT_KV_GAP (msg says where) or a BT_E*
 * error; *out_next is the number the next batch gets. */
int bt_db__chain_scan(bt_kv *kv, uint64_t *out_next, char *msg, size_t msgcap);

/* recover.c */
int bt_db__recover(bt_db *db);

#define BT_DB_MSG_CAP 256
extern _Thread_local char bt_db__msg[BT_DB_MSG_CAP];
#endif
