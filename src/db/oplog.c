/*
 * oplog.c -- the operation log as a queryable history: range, time and key
 * queries through the indexes of docs/FORMAT.md 4.4b, export, pruning,
 * truncation for rollback, and replay (point-in-time rebuild).
 *
 * Invariants:
 *  L1. Blocks are keyed by their first op seq; the retained blocks cover a
 *      gapless range first..last (pruning removes a prefix, rollback a
 *      suffix).
 *  L2. With BT_FEATURE_OPLOG_INDEX every retained block has exactly one `T`
 *      entry and every op of it one `K` entry; entries are written and
 *      deleted in the same batches as their blocks.
 *  L3. Queries decode every block they read (version, CRC, lengths) and
 *      report a damaged one as BT_ECORRUPT with its op seq; they never trust
 *      an index entry without finding its op in a block.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- index entries ------------------------------------------------------ */

#define KEY_INDEX_MAX (1 + 4 + 255 + 8)

static size_t key_index_key(uint8_t *out, uint32_t tree_id, const uint8_t *key, unsigned klen,
                            uint64_t op_seq)
{
    out[0] = 'K';
    bt_store_u32be(out + 1, tree_id);
    memcpy(out + 5, key, klen);
    bt_store_u64be(out + 5 + klen, op_seq);
    return 5 + (size_t)klen + 8;
}

void bt_db__oplog_index_op(bt_db *db, bt_kv_batch *b, uint32_t tree_id, const uint8_t *key,
                           unsigned klen, uint64_t op_seq)
{
    uint8_t k[KEY_INDEX_MAX];
    size_t n = key_index_key(k, tree_id, key, klen, op_seq);
    db->kv->v->batch_put(b, BT_CF_INDEXES, k, n, "", 0);
}

static void time_key(uint8_t out[17], uint64_t ts_ms, uint64_t first_op_seq)
{
    out[0] = 'T';
    bt_store_u64be(out + 1, ts_ms);
    bt_store_u64be(out + 9, first_op_seq);
}

void bt_db__oplog_index_commit(bt_db *db, bt_kv_batch *b, uint64_t ts_ms, uint64_t first_op_seq)
{
    uint8_t k[17];
    time_key(k, ts_ms, first_op_seq);
    db->kv->v->batch_put(b, BT_CF_INDEXES, k, 17, "", 0);
}

/* ---- reading blocks -------------------------------------------------------- */

typedef struct treeinfo {
    uint32_t id;
    unsigned klen;
    char name[BT_TREE_NAME_MAX + 1];
} treeinfo;

/* A copy of the tree table (ids, key lengths, names), so that log readers do
 * not hold db->rlock while they call back. */
typedef struct reader {
    bt_db *db;
    treeinfo *trees;
    size_t ntrees;
    bt_kv_iter *it;
} reader;

static unsigned reader_klen(void *ctx, uint32_t tree_id)
{
    reader *r = ctx;
    for (size_t i = 0; i < r->ntrees; i++)
        if (r->trees[i].id == tree_id) return r->trees[i].klen;
    return 0;
}

static const char *reader_name(reader *r, uint32_t tree_id)
{
    for (size_t i = 0; i < r->ntrees; i++)
        if (r->trees[i].id == tree_id) return r->trees[i].name;
    return "?";
}

static int reader_open(reader *r, bt_db *db)
{
    memset(r, 0, sizeof *r);
    r->db = db;
    pthread_mutex_lock(&db->rlock);
    r->ntrees = db->ntrees;
    r->trees = bt_calloc(db->ntrees ? db->ntrees : 1, sizeof *r->trees);
    for (size_t i = 0; r->trees && i < db->ntrees; i++) {
        r->trees[i].id = db->trees[i]->id;
        r->trees[i].klen = db->trees[i]->p.key_len;
        memcpy(r->trees[i].name, db->trees[i]->name, sizeof r->trees[i].name);
    }
    pthread_mutex_unlock(&db->rlock);
    if (r->trees) r->it = db->kv->v->iter_new(db->kv, BT_CF_OPS);
    if (!r->trees || !r->it) {
        bt_mem_free(r->trees);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    return 0;
}

static void reader_close(reader *r)
{
    if (r->it) r->db->kv->v->iter_free(r->it);
    bt_mem_free(r->trees);
}

static int damaged(uint64_t seq)
{
    return bt_db__set_msg(BT_ECORRUPT, "operation log: the block holding op %llu is damaged",
                          (unsigned long long)seq);
}

/* The block under r->it (L1, L3): 1 with *blk decoded (its key is its first
 * op seq, it holds at least one op) and, if asked, its key and stored bytes;
 * 0 once the iterator has left the blocks; BT_ECORRUPT naming the place. */
static int block_here(reader *r, bt_rec_block *blk, const uint8_t **key, const uint8_t **val,
                      size_t *vlen)
{
    bt_db *db = r->db;
    if (!db->kv->v->iter_valid(r->it)) return 0;
    size_t kl, vl;
    const uint8_t *k = db->kv->v->iter_key(r->it, &kl);
    const uint8_t *v = db->kv->v->iter_value(r->it, &vl);
    if (kl < 1 || k[0] != 'b') return 0;
    uint64_t seq = kl == 9 ? bt_load_u64be(k + 1) : 0;
    if (kl != 9 || bt_rec_block_decode(blk, v, vl) || blk->first_op_seq != seq ||
        blk->op_count == 0)
        return damaged(seq);
    if (key) *key = k;
    if (val) *val = v;
    if (vlen) *vlen = vl;
    return 1;
}

/* Positions r->it on the block holding op seq and decodes it.  Returns 0,
 * BT_ENOTFOUND (no such op retained), BT_ECORRUPT or an engine error. */
static int block_at(reader *r, uint64_t seq, bt_rec_block *blk)
{
    bt_db *db = r->db;
    uint8_t k0[9];
    bt_key_u64(k0, 'b', seq);
    db->kv->v->iter_seek_for_prev(r->it, k0, 9);
    if (!db->kv->v->iter_valid(r->it)) {
        int rc = db->kv->v->iter_status(r->it, bt_db__msg, sizeof bt_db__msg);
        return rc ? rc : BT_ENOTFOUND;
    }
    int got = block_here(r, blk, NULL, NULL, NULL);
    if (got <= 0) return got < 0 ? got : BT_ENOTFOUND;
    if (seq >= blk->first_op_seq + blk->op_count) return BT_ENOTFOUND;
    return 0;
}

/* Calls fn for the ops of blk with seq in [from, to]. */
static int emit_block(reader *r, const bt_rec_block *blk, uint64_t from, uint64_t to,
                      bt_oplog_fn fn, void *ctx)
{
    const uint8_t *cur = blk->ops;
    uint64_t last = blk->first_op_seq + blk->op_count - 1;
    for (uint64_t seq = blk->first_op_seq; seq <= last; seq++) {
        bt_rec_op op;
        if (bt_rec_block_next(&op, &cur, blk->ops_end, reader_klen, r)) return damaged(seq);
        if (seq < from || seq > to) continue;
        bt_oplog_entry e;
        memset(&e, 0, sizeof e);
        e.op_seq = seq;
        e.commit_seq = blk->commit_seq;
        e.ts_ms = blk->ts_ms;
        e.type = op.type;
        e.tree = reader_name(r, op.tree_id);
        e.key = op.key;
        e.key_len = op.key_len;
        e.value = op.value;
        e.value_len = op.value_len;
        e.has_prev = op.has_prev;
        e.prev = op.prev;
        e.prev_len = op.prev_len;
        for (unsigned i = 0; i < blk->ntrees; i++) {
            bt_rec_commit_tree ct;
            bt_rec_block_tree_at(&ct, blk, i);
            if (ct.tree_id == op.tree_id) memcpy(e.digest, ct.digest, BT_DIGEST_LEN);
        }
        int rc = fn(ctx, &e);
        if (rc) return rc;
    }
    if (cur != blk->ops_end) return damaged(blk->first_op_seq);
    return 0;
}

int bt_db_oplog_bounds(uint64_t *out_first, uint64_t *out_last, bt_db *db)
{
    pthread_mutex_lock(&db->wlock);
    uint64_t last = db->meta.op_seq;
    pthread_mutex_unlock(&db->wlock);
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_OPS);
    if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    uint64_t first = last + 1;
    db->kv->v->iter_seek(it, "b", 1);
    if (db->kv->v->iter_valid(it)) {
        size_t kl;
        const uint8_t *k = db->kv->v->iter_key(it, &kl);
        if (kl == 9 && k[0] == 'b') first = bt_load_u64be(k + 1);
    }
    int rc = db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
    db->kv->v->iter_free(it);
    if (first > last + 1) first = last + 1;
    *out_first = first;
    *out_last = last;
    return rc;
}

int bt_db_oplog_range(bt_db *db, uint64_t from_seq, uint64_t to_seq, bt_oplog_fn fn, void *ctx)
{
    if (!fn) return bt_db__set_msg(BT_EINVAL, "no callback");
    if (from_seq == 0) from_seq = 1;
    uint64_t first, last;
    int rc = bt_db_oplog_bounds(&first, &last, db);
    if (rc) return rc;
    if (to_seq > last) to_seq = last;
    if (from_seq > to_seq) return 0;
    if (from_seq < first)
        return bt_db__set_msg(BT_ENOTFOUND, "operations before %llu were pruned",
                              (unsigned long long)first);
    reader r;
    if ((rc = reader_open(&r, db))) return rc;
    bt_rec_block blk;
    uint64_t seq = from_seq;
    rc = block_at(&r, seq, &blk);
    while (!rc) {
        if ((rc = emit_block(&r, &blk, from_seq, to_seq, fn, ctx))) break;
        seq = blk.first_op_seq + blk.op_count;
        if (seq > to_seq) break;
        db->kv->v->iter_next(r.it);
        int got = block_here(&r, &blk, NULL, NULL, NULL);
        if (got <= 0) {
            rc = got < 0 ? got : db->kv->v->iter_status(r.it, bt_db__msg, sizeof bt_db__msg);
            if (!rc) rc = bt_db__set_msg(BT_ECORRUPT, "operation log: op %llu is missing",
                                         (unsigned long long)seq);
            break;
        }
        if (blk.first_op_seq != seq)
            rc = bt_db__set_msg(BT_ECORRUPT, "operation log: op %llu is missing",
                                (unsigned long long)seq);
    }
    if (rc == BT_ENOTFOUND)
        rc = bt_db__set_msg(BT_ECORRUPT, "operation log: op %llu is missing",
                            (unsigned long long)seq);
    reader_close(&r);
    return rc;
}

static int need_index(bt_db *db)
{
    if (db->features & BT_FEATURE_OPLOG_INDEX) return 0;
    return bt_db__set_msg(BT_ENOTSUP, "this database was created without op-log indexes; "
                                      "run `basis-trees migrate` to build them");
}

int bt_db_oplog_time(bt_db *db, uint64_t from_ms, uint64_t to_ms, bt_oplog_fn fn, void *ctx)
{
    if (!fn) return bt_db__set_msg(BT_EINVAL, "no callback");
    int rc = need_index(db);
    if (rc || from_ms > to_ms) return rc;
    reader r;
    if ((rc = reader_open(&r, db))) return rc;
    bt_kv_iter *ix = db->kv->v->iter_new(db->kv, BT_CF_INDEXES);
    if (!ix) {
        reader_close(&r);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    uint8_t k0[17];
    time_key(k0, from_ms, 0);
    for (db->kv->v->iter_seek(ix, k0, 17); !rc && db->kv->v->iter_valid(ix);
         db->kv->v->iter_next(ix)) {
        size_t kl;
        const uint8_t *k = db->kv->v->iter_key(ix, &kl);
        if (kl < 1 || k[0] != 'T') break;
        if (kl != 17) {
            rc = bt_db__set_msg(BT_ECORRUPT, "time index: an entry is damaged");
            break;
        }
        uint64_t ts = bt_load_u64be(k + 1), first = bt_load_u64be(k + 9);
        if (ts > to_ms) break;
        bt_rec_block blk;
        rc = block_at(&r, first, &blk);
        if (rc == BT_ENOTFOUND || (!rc && (blk.first_op_seq != first || blk.ts_ms != ts)))
            rc = bt_db__set_msg(BT_ECORRUPT, "time index names op %llu, which the log does not hold",
                                (unsigned long long)first);
        if (!rc) rc = emit_block(&r, &blk, 0, UINT64_MAX, fn, ctx);
    }
    if (!rc) rc = db->kv->v->iter_status(ix, bt_db__msg, sizeof bt_db__msg);
    db->kv->v->iter_free(ix);
    reader_close(&r);
    return rc;
}

typedef struct one_op {
    uint64_t seq;
    bt_oplog_fn fn;
    void *ctx;
    int seen;
} one_op;

static int emit_one(void *ctx, const bt_oplog_entry *e)
{
    one_op *o = ctx;
    if (e->op_seq != o->seq) return 0;
    o->seen = 1;
    return o->fn(o->ctx, e);
}

int bt_db_oplog_key(bt_db *db, const char *tree, const uint8_t *key, size_t key_len,
                    bt_oplog_fn fn, void *ctx)
{
    if (!fn || !tree || !key) return bt_db__set_msg(BT_EINVAL, "missing argument");
    int rc = need_index(db);
    if (rc) return rc;
    pthread_mutex_lock(&db->rlock);
    dbtree *dt = bt_db__find(db, tree);
    uint32_t tid = dt ? dt->id : 0;
    unsigned klen = dt ? dt->p.key_len : 0;
    pthread_mutex_unlock(&db->rlock);
    if (!dt) return bt_db__set_msg(BT_ENOTFOUND, "no tree named %s", tree);
    if (key_len != klen)
        return bt_db__set_msg(BT_EKEYLEN, "key of %zu bytes; tree %s has %u-byte keys", key_len,
                              tree, klen);
    reader r;
    if ((rc = reader_open(&r, db))) return rc;
    bt_kv_iter *ix = db->kv->v->iter_new(db->kv, BT_CF_INDEXES);
    if (!ix) {
        reader_close(&r);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    uint8_t k0[KEY_INDEX_MAX];
    size_t plen = key_index_key(k0, tid, key, klen, 0) - 8;
    for (db->kv->v->iter_seek(ix, k0, plen); !rc && db->kv->v->iter_valid(ix);
         db->kv->v->iter_next(ix)) {
        size_t kl;
        const uint8_t *k = db->kv->v->iter_key(ix, &kl);
        if (kl != plen + 8 || memcmp(k, k0, plen) != 0) break;
        uint64_t seq = bt_load_u64be(k + plen);
        bt_rec_block blk;
        rc = block_at(&r, seq, &blk);
        one_op o = {seq, fn, ctx, 0};
        if (!rc) rc = emit_block(&r, &blk, seq, seq, emit_one, &o);
        if (rc == BT_ENOTFOUND || (!rc && !o.seen))
            rc = bt_db__set_msg(BT_ECORRUPT, "key index names op %llu, which the log does not hold",
                                (unsigned long long)seq);
    }
    if (!rc) rc = db->kv->v->iter_status(ix, bt_db__msg, sizeof bt_db__msg);
    db->kv->v->iter_free(ix);
    reader_close(&r);
    return rc;
}

/* ---- deleting blocks ------------------------------------------------------- */

/* Adds the deletion of one block and its index entries to b. */
static int delete_block(reader *r, bt_kv_batch *b, const uint8_t *key, const bt_rec_block *blk)
{
    bt_db *db = r->db;
    db->kv->v->batch_del(b, BT_CF_OPS, key, 9);
    if (!(db->features & BT_FEATURE_OPLOG_INDEX)) return 0;
    uint8_t tk[17];
    time_key(tk, blk->ts_ms, blk->first_op_seq);
    db->kv->v->batch_del(b, BT_CF_INDEXES, tk, 17);
    const uint8_t *cur = blk->ops;
    for (uint64_t seq = blk->first_op_seq; seq < blk->first_op_seq + blk->op_count; seq++) {
        bt_rec_op op;
        if (bt_rec_block_next(&op, &cur, blk->ops_end, reader_klen, r)) return damaged(seq);
        uint8_t k[KEY_INDEX_MAX];
        size_t n = key_index_key(k, op.tree_id, op.key, (unsigned)op.key_len, seq);
        db->kv->v->batch_del(b, BT_CF_INDEXES, k, n);
    }
    return 0;
}

int bt_db__oplog_truncate(bt_db *db, bt_kv_batch *b, uint64_t after_seq)
{
    reader r;
    int rc = reader_open(&r, db);
    if (rc) return rc;
    uint8_t k0[9];
    bt_key_u64(k0, 'b', after_seq + 1);
    for (db->kv->v->iter_seek(r.it, k0, 9); !rc && db->kv->v->iter_valid(r.it);
         db->kv->v->iter_next(r.it)) {
        bt_rec_block blk;
        const uint8_t *k = NULL, *v = NULL;
        size_t vl = 0;
        int got = block_here(&r, &blk, &k, &v, &vl);
        if (got <= 0) {
            if (got < 0) rc = got;
            break;
        }
        rc = delete_block(&r, b, k, &blk);
    }
    if (!rc) rc = db->kv->v->iter_status(r.it, bt_db__msg, sizeof bt_db__msg);
    reader_close(&r);
    return rc;
}

#define PRUNE_CHUNK_OPS 20000u

int bt_db_oplog_prune(uint64_t *out_pruned, bt_db *db, uint64_t before_seq)
{
    if (out_pruned) *out_pruned = 0;
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    /* never what recovery or a retained checkpoint needs (L1) */
    pthread_mutex_lock(&db->fmu);
    pthread_mutex_lock(&db->wlock);
    uint64_t bound = before_seq;
    for (size_t i = 0; i < db->ntrees; i++)
        if (db->trees[i]->flushed_op_seq < bound) bound = db->trees[i]->flushed_op_seq;
    if (db->nckpts && db->ckpts[0]->op_seq < bound) bound = db->ckpts[0]->op_seq;
    uint64_t keep_ms = db->o.oplog_keep_ms;
    pthread_mutex_unlock(&db->wlock);
    uint64_t now = bt_db__now_ms();
    reader r;
    int rc = reader_open(&r, db);
    uint64_t pruned = 0;
    bool done = false;
    while (!rc && !done) {
        /* one atomic batch per chunk: a prefix of the log goes at a time */
        bt_kv_batch *b = db->kv->v->batch_new(db->kv);
        if (!b) {
            rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
            break;
        }
        uint64_t chunk = 0;
        db->kv->v->iter_seek(r.it, "b", 1);
        for (; !rc && db->kv->v->iter_valid(r.it) && chunk < PRUNE_CHUNK_OPS;
             db->kv->v->iter_next(r.it)) {
            bt_rec_block blk;
            const uint8_t *k = NULL, *v = NULL;
            size_t vl = 0;
            int got = block_here(&r, &blk, &k, &v, &vl);
            if (got <= 0) {
                if (got < 0) rc = got;
                break;
            }
            uint64_t last = blk.first_op_seq + blk.op_count - 1;
            bool old_enough = !keep_ms || (blk.ts_ms <= now && now - blk.ts_ms >= keep_ms);
            if (last > bound || !old_enough) break;
            rc = delete_block(&r, b, k, &blk);
            chunk += blk.op_count;
        }
        if (!rc) rc = db->kv->v->iter_status(r.it, bt_db__msg, sizeof bt_db__msg);
        if (!rc && chunk) {
            rc = bt_db__write(db, b, 0);
            if (rc) db->failed = rc;
            pruned += chunk;
        }
        done = chunk < PRUNE_CHUNK_OPS;
        db->kv->v->batch_free(b);
        /* the iterator saw the state before the write: reopen it */
        if (!rc && !done) {
            db->kv->v->iter_free(r.it);
            r.it = db->kv->v->iter_new(db->kv, BT_CF_OPS);
            if (!r.it) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
    }
    reader_close(&r);
    pthread_mutex_unlock(&db->fmu);
    if (out_pruned) *out_pruned = pruned;
    return rc;
}

/* ---- building the indexes of an older database ------------------------------ */

int bt_db_oplog_reindex(uint64_t *out_ops, bt_db *db)
{
    if (out_ops) *out_ops = 0;
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    /* the writer lock: no commit may add blocks (or index entries) meanwhile */
    pthread_mutex_lock(&db->wlock);
    int rc = db->failed ? bt_db__set_msg(BT_EBADSTATE, "an earlier write failed; reopen the database")
             : db->txn_open ? bt_db__set_msg(BT_EBUSY, "a transaction is open")
                            : 0;
    if (!rc) db->txn_open = true;
    pthread_mutex_unlock(&db->wlock);
    if (rc) return rc;
    reader r;
    rc = reader_open(&r, db);
    uint64_t ops = 0;
    bt_kv_batch *b = rc ? NULL : db->kv->v->batch_new(db->kv);
    if (!rc && !b) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    uint32_t was = db->features;
    db->features |= BT_FEATURE_OPLOG_INDEX; /* delete_block-style encoders look at it */
    for (db->kv->v->iter_seek(r.it, "b", 1); !rc && db->kv->v->iter_valid(r.it);
         db->kv->v->iter_next(r.it)) {
        bt_rec_block blk;
        const uint8_t *k = NULL, *v = NULL;
        size_t vl = 0;
        int got = block_here(&r, &blk, &k, &v, &vl);
        if (got <= 0) {
            if (got < 0) rc = got;
            break;
        }
        bt_db__oplog_index_commit(db, b, blk.ts_ms, blk.first_op_seq);
        const uint8_t *cur = blk.ops;
        for (uint64_t seq = blk.first_op_seq; !rc && seq < blk.first_op_seq + blk.op_count; seq++) {
            bt_rec_op op;
            if (bt_rec_block_next(&op, &cur, blk.ops_end, reader_klen, &r)) rc = damaged(seq);
            else bt_db__oplog_index_op(db, b, op.tree_id, op.key, (unsigned)op.key_len, seq);
        }
        ops += blk.op_count;
        if (!rc && ops % 100000 < blk.op_count) { /* bounded batches; puts are idempotent */
            rc = bt_db__write(db, b, 0);
            db->kv->v->batch_free(b);
            b = rc ? NULL : db->kv->v->batch_new(db->kv);
            if (!rc && !b) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
    }
    if (!rc) rc = db->kv->v->iter_status(r.it, bt_db__msg, sizeof bt_db__msg);
    /* the feature is recorded last, with the final entries, synced */
    bt_buf v = BT_BUF_INIT;
    if (!rc && !(rc = bt_rec_features_encode(&v, db->features)))
        db->kv->v->batch_put(b, BT_CF_META, "features", 8, v.data, v.len);
    if (!rc) rc = bt_db__write(db, b, BT_KV_SYNC);
    bt_buf_free(&v);
    if (b) db->kv->v->batch_free(b);
    if (rc) db->features = was;
    reader_close(&r);
    pthread_mutex_lock(&db->wlock);
    db->txn_open = false;
    pthread_mutex_unlock(&db->wlock);
    if (out_ops) *out_ops = ops;
    return rc;
}

/* ---- export --------------------------------------------------------------- */

typedef struct exporter {
    int fd;
    int format;
    bt_buf b;
    int err;
} exporter;

static int flush_out(exporter *x, bool force)
{
    if (!force && x->b.len < (1u << 16)) return 0;
    size_t off = 0;
    while (off < x->b.len) {
        ssize_t w = write(x->fd, x->b.data + off, x->b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            x->err = bt_db__set_msg(errno == ENOSPC ? BT_ENOSPC : BT_EIO, "export: write failed: %s",
                                    strerror(errno));
            return x->err;
        }
        off += (size_t)w;
    }
    x->b.len = 0;
    return 0;
}

static int put_hex(bt_buf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    int rc = bt_buf_reserve(b, 2 * n + 2);
    if (rc) return rc;
    b->data[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = (uint8_t)hx[p[i] >> 4];
        b->data[b->len++] = (uint8_t)hx[p[i] & 15];
    }
    b->data[b->len++] = '"';
    return 0;
}

static int put_str(bt_buf *b, const char *s) { return bt_buf_append(b, s, strlen(s)); }

static int export_json(void *ctx, const bt_oplog_entry *e)
{
    exporter *x = ctx;
    char head[256];
    snprintf(head, sizeof head,
             "{\"op_seq\":%llu,\"commit_seq\":%llu,\"ts_ms\":%llu,\"tree\":\"%s\",\"op\":\"%s\","
             "\"key\":",
             (unsigned long long)e->op_seq, (unsigned long long)e->commit_seq,
             (unsigned long long)e->ts_ms, e->tree, bt_op_name(e->type));
    int rc = put_str(&x->b, head);
    if (!rc) rc = put_hex(&x->b, e->key, e->key_len);
    if (!rc && e->value) {
        rc = put_str(&x->b, ",\"value\":");
        if (!rc) rc = put_hex(&x->b, e->value, e->value_len);
    }
    if (!rc) rc = put_str(&x->b, ",\"prev\":");
    if (!rc) rc = e->has_prev ? put_hex(&x->b, e->prev, e->prev_len) : put_str(&x->b, "null");
    if (!rc) rc = put_str(&x->b, ",\"digest\":");
    if (!rc) rc = put_hex(&x->b, e->digest, BT_DIGEST_LEN);
    if (!rc) rc = put_str(&x->b, "}\n");
    if (rc) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    return flush_out(x, false);
}

/* Binary export (FORMAT.md 4.4d): header, then the stored blocks framed. */
static int export_binary(bt_db *db, exporter *x, uint64_t from, uint64_t to)
{
    reader r;
    int rc = reader_open(&r, db);
    if (rc) return rc;
    uint8_t h[16] = {'B', 'T', 'O', 'L', 1};
    h[5] = (uint8_t)(r.ntrees >> 8);
    h[6] = (uint8_t)r.ntrees;
    rc = bt_buf_append(&x->b, h, 7);
    for (size_t i = 0; !rc && i < r.ntrees; i++) {
        pthread_mutex_lock(&db->rlock);
        dbtree *dt = bt_db__find_id(db, r.trees[i].id);
        bt_params p = dt->p;
        pthread_mutex_unlock(&db->rlock);
        uint8_t t[14];
        size_t nl = strlen(r.trees[i].name);
        bt_store_u32be(t, r.trees[i].id);
        t[4] = (uint8_t)p.key_len;
        bt_store_u32be(t + 5, p.value_len);
        bt_store_u32be(t + 9, p.value_max);
        t[13] = (uint8_t)nl;
        rc = bt_buf_append(&x->b, t, 14);
        if (!rc) rc = bt_buf_append(&x->b, r.trees[i].name, nl);
    }
    if (rc) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    uint8_t k0[9];
    bt_key_u64(k0, 'b', from);
    if (!rc) db->kv->v->iter_seek_for_prev(r.it, k0, 9);
    if (!rc && !db->kv->v->iter_valid(r.it)) db->kv->v->iter_seek(r.it, k0, 9);
    for (; !rc && db->kv->v->iter_valid(r.it); db->kv->v->iter_next(r.it)) {
        bt_rec_block blk;
        const uint8_t *k = NULL, *v = NULL;
        size_t vl = 0;
        int got = block_here(&r, &blk, &k, &v, &vl);
        if (got <= 0) {
            if (got < 0) rc = got;
            break;
        }
        if (blk.first_op_seq + blk.op_count - 1 < from) continue;
        if (blk.first_op_seq > to) break;
        uint8_t len[4];
        bt_store_u32be(len, (uint32_t)vl);
        rc = bt_buf_append(&x->b, len, 4);
        if (!rc) rc = bt_buf_append(&x->b, v, vl);
        if (rc) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
        if (!rc) rc = flush_out(x, false);
    }
    if (!rc) rc = db->kv->v->iter_status(r.it, bt_db__msg, sizeof bt_db__msg);
    if (!rc) {
        uint8_t end[4] = {0, 0, 0, 0};
        rc = bt_buf_append(&x->b, end, 4);
    }
    reader_close(&r);
    return rc;
}

int bt_db_oplog_export(bt_db *db, int fd, int format, uint64_t from_seq, uint64_t to_seq)
{
    if (fd < 0 || (format != 0 && format != 1))
        return bt_db__set_msg(BT_EINVAL, "export: bad file descriptor or format");
    exporter x = {fd, format, BT_BUF_INIT, 0};
    int rc = format == 0 ? bt_db_oplog_range(db, from_seq, to_seq, export_json, &x)
                         : export_binary(db, &x, from_seq ? from_seq : 1, to_seq);
    if (!rc) rc = flush_out(&x, true);
    bt_buf_free(&x.b);
    return rc;
}

/* ---- replay ---------------------------------------------------------------- */

typedef struct replayer {
    bt_db *db;       /* source */
    bt_db *target;   /* NULL: verify only */
    bt_tree **mem;   /* verify only: one tree per source tree (by index) */
    reader r;
    bt_replay_info *info;
    bt_result *res;  /* per op of the largest block so far */
    bt_op *ops;
    bool *has_prev;
    size_t rescap;
} replayer;

/* Applies a run of ops of one tree (target: one bt_txn_apply call). */
static int replay_run(replayer *p, bt_txn *txn, size_t ti, const bt_op *ops, const bool *has_prev,
                      size_t n, uint64_t first_seq)
{
    reader *r = &p->r;
    int rc;
    if (p->target) {
        rc = bt_txn_apply(txn, r->trees[ti].name, ops, n, p->res);
    } else {
        rc = bt_tree_apply_batch(p->mem[ti], ops, n, p->res);
        if (rc) bt_db__set_msg(rc, "%s", bt_tree_errmsg(p->mem[ti]));
    }
    for (size_t i = 0; !rc && i < n; i++)
        if (p->res[i].status || (p->res[i].found != 0) != has_prev[i])
            rc = bt_db__set_msg(BT_ECORRUPT, "replay of op %llu on tree %s diverged from the log",
                                (unsigned long long)(first_seq + i), r->trees[ti].name);
    p->info->ops += n;
    return rc;
}

static int replay_block_into(replayer *p, const bt_rec_block *blk)
{
    reader *r = &p->r;
    const uint8_t *cur = blk->ops;
    bt_txn *txn = NULL;
    int rc = 0;
    if (blk->op_count > p->rescap) {
        size_t cap = blk->op_count;
        bt_result *res = bt_realloc(p->res, cap * sizeof *res);
        bt_op *ops = res ? bt_realloc(p->ops, cap * sizeof *ops) : NULL;
        if (ops) p->ops = ops;
        bool *hp = ops ? bt_realloc(p->has_prev, cap * sizeof *hp) : NULL;
        if (res) p->res = res;
        if (hp) p->has_prev = hp;
        if (!res || !ops || !hp) return bt_db__set_msg(BT_ENOMEM, "out of memory");
        p->rescap = cap;
    }
    if (p->target) {
        if ((rc = bt_txn_begin(&txn, p->target))) return rc;
        bt_txn_set_time(txn, blk->ts_ms);
    }
    size_t run = 0, run_ti = 0;
    uint64_t run_seq = blk->first_op_seq;
    for (uint64_t seq = blk->first_op_seq; !rc && seq < blk->first_op_seq + blk->op_count; seq++) {
        bt_rec_op op;
        if (bt_rec_block_next(&op, &cur, blk->ops_end, reader_klen, r)) {
            rc = damaged(seq);
            break;
        }
        size_t ti = 0;
        while (ti < r->ntrees && r->trees[ti].id != op.tree_id) ti++;
        if (ti == r->ntrees) {
            rc = bt_db__set_msg(BT_ECORRUPT, "op %llu names unknown tree %u",
                                (unsigned long long)seq, op.tree_id);
            break;
        }
        if (run && ti != run_ti) {
            rc = replay_run(p, txn, run_ti, p->ops, p->has_prev, run, run_seq);
            run = 0;
        }
        if (!run) {
            run_ti = ti;
            run_seq = seq;
        }
        p->ops[run] = (bt_op){op.type, op.key, op.key_len, op.value, op.value_len};
        p->has_prev[run] = op.has_prev;
        run++;
    }
    if (!rc && run) rc = replay_run(p, txn, run_ti, p->ops, p->has_prev, run, run_seq);
    if (!rc && cur != blk->ops_end) rc = damaged(blk->first_op_seq);
    if (txn) {
        if (!rc) rc = bt_txn_commit(txn, NULL);
        else bt_txn_abort(txn);
    }
    for (unsigned i = 0; !rc && i < blk->ntrees; i++) {
        bt_rec_commit_tree ct;
        bt_rec_block_tree_at(&ct, blk, i);
        size_t ti = 0;
        while (ti < r->ntrees && r->trees[ti].id != ct.tree_id) ti++;
        uint8_t d[BT_DIGEST_LEN];
        if (ti == r->ntrees) rc = bt_db__set_msg(BT_ECORRUPT, "commit %llu names unknown tree %u",
                                                 (unsigned long long)blk->commit_seq, ct.tree_id);
        else if (p->target) rc = bt_db_digest(d, p->target, r->trees[ti].name);
        else rc = bt_tree_digest(d, p->mem[ti]);
        if (!rc && memcmp(d, ct.digest, BT_DIGEST_LEN) != 0)
            rc = bt_db__set_msg(BT_ECORRUPT,
                                "replay of commit %llu did not reproduce tree %s's recorded digest",
                                (unsigned long long)blk->commit_seq, r->trees[ti].name);
    }
    if (!rc && !p->target)
        for (size_t i = 0; i < r->ntrees; i++) bt_tree_mark_committed(p->mem[i]);
    if (!rc) {
        p->info->commits++;
        p->info->last_op_seq = blk->first_op_seq + blk->op_count - 1;
        p->info->last_commit_seq = blk->commit_seq;
        p->info->last_ts_ms = blk->ts_ms;
    }
    return rc;
}

int bt_db_replay(bt_replay_info *out, bt_db *db, const char *target_path,
                 const bt_db_options *target_opts, uint64_t upto_seq, uint64_t upto_ms)
{
    return bt_db_replay_from(out, db, 0, target_path, target_opts, upto_seq, upto_ms);
}

/* A checkpoint's trees, copied under rlock. */
typedef struct ckcopy {
    uint64_t id, op_seq;
    size_t n;
    dbckpt_tree *trees; /* roots not referenced: only ids and digests are used */
} ckcopy;

static int ckpt_copy(ckcopy *out, bt_db *db, uint64_t id)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->rlock);
    dbckpt *c = bt_db__ckpt_find(db, id);
    if (c) {
        out->id = c->id;
        out->op_seq = c->op_seq;
        out->n = c->ntrees;
        out->trees = bt_calloc(c->ntrees ? c->ntrees : 1, sizeof *out->trees);
        if (out->trees) memcpy(out->trees, c->trees, c->ntrees * sizeof *out->trees);
        for (size_t i = 0; out->trees && i < out->n; i++) out->trees[i].root = NULL;
    }
    pthread_mutex_unlock(&db->rlock);
    if (!c) return bt_db__set_msg(BT_ENOTFOUND, "no checkpoint %llu", (unsigned long long)id);
    return out->trees ? 0 : bt_db__set_msg(BT_ENOMEM, "out of memory");
}

static const dbckpt_tree *ckpt_tree(const ckcopy *c, uint32_t tree_id)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (c->trees[i].tree_id == tree_id) return &c->trees[i];
    return NULL;
}

int bt_db_replay_from(bt_replay_info *out, bt_db *db, uint64_t from_checkpoint,
                      const char *target_path, const bt_db_options *target_opts, uint64_t upto_seq,
                      uint64_t upto_ms)
{
    bt_replay_info info;
    memset(&info, 0, sizeof info);
    if (out) *out = info;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t first, last;
    int rc = bt_db_oplog_bounds(&first, &last, db);
    if (rc) return rc;
    ckcopy ck = {0};
    uint64_t start = 1;
    if (from_checkpoint) {
        if ((rc = ckpt_copy(&ck, db, from_checkpoint))) return rc;
        start = ck.op_seq + 1;
    }
    if (first > start && last >= first) {
        bt_mem_free(ck.trees);
        return bt_db__set_msg(BT_ENOTFOUND, "the operation log was pruned before op %llu; this "
                                            "replay needs it from op %llu",
                              (unsigned long long)first, (unsigned long long)start);
    }
    if (target_path && strlen(target_path) > 3900) {
        bt_mem_free(ck.trees);
        return bt_db__set_msg(BT_EINVAL, "replay target path too long");
    }
    replayer p;
    memset(&p, 0, sizeof p);
    p.db = db;
    p.info = &info;
    if ((rc = reader_open(&p.r, db))) {
        bt_mem_free(ck.trees);
        return rc;
    }
    if (target_path) {
        struct stat st;
        if (stat(target_path, &st) == 0) {
            reader_close(&p.r);
            bt_mem_free(ck.trees);
            return bt_db__set_msg(BT_EEXISTS, "%s exists; replay writes a new database",
                                  target_path);
        }
        bt_db_options o = BT_DB_OPTIONS_INIT;
        if (target_opts) o = *target_opts;
        o.create_if_missing = 1;
        o.read_only = 0;
        char msg[256];
        rc = bt_db_open(&p.target, target_path, &o, msg, sizeof msg);
        if (rc) bt_db__set_msg(rc, "replay target: %s", msg);
    } else {
        p.mem = bt_calloc(p.r.ntrees ? p.r.ntrees : 1, sizeof *p.mem);
        if (!p.mem) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    /* trees in id order, so the target hands out the same ids; from a
     * checkpoint, each tree starts at its version there (a snapshot through
     * a temporary file for a target; the stored nodes, loaded lazily, for a
     * verification) and trees created later start empty */
    for (size_t i = 0; !rc && i < p.r.ntrees; i++) {
        pthread_mutex_lock(&db->rlock);
        bt_params prm = bt_db__find_id(db, p.r.trees[i].id)->p;
        pthread_mutex_unlock(&db->rlock);
        const dbckpt_tree *ct = ckpt_tree(&ck, p.r.trees[i].id);
        if (p.target && ct) {
            char snap[4096];
            snprintf(snap, sizeof snap, "%s.replay-%u.snap", target_path, p.r.trees[i].id);
            rc = bt_db_export(NULL, db, p.r.trees[i].name, ck.id, snap);
            if (!rc) {
                rc = bt_db_import(NULL, p.target, p.r.trees[i].name, snap);
                if (rc) bt_db__set_msg(rc, "replay target: %s", bt_db_errmsg(p.target));
            }
            unlink(snap);
        } else if (p.target) {
            rc = bt_db_tree_create(p.target, p.r.trees[i].name, &prm);
            if (rc) bt_db__set_msg(rc, "replay target: %s", bt_db_errmsg(p.target));
        } else if (ct) {
            bt_node *stub = bt_node_new_label(ct->digest, ct->root_id);
            rc = stub ? bt_tree_open_root(&p.mem[i], &prm, stub, ct->digest[32], ct->count, &db->src)
                      : BT_ENOMEM;
            if (stub) bt_node_unref(stub);
            if (rc) bt_db__set_msg(rc, "out of memory");
        } else {
            rc = bt_tree_new(&p.mem[i], &prm);
            if (rc) bt_db__set_msg(rc, "out of memory");
        }
    }
    if (!rc && last >= start) {
        uint8_t k0[9];
        bt_key_u64(k0, 'b', start);
        uint64_t expect = start;
        for (db->kv->v->iter_seek(p.r.it, k0, 9); !rc && db->kv->v->iter_valid(p.r.it);
             db->kv->v->iter_next(p.r.it)) {
            bt_rec_block blk;
            const uint8_t *k = NULL, *v = NULL;
            size_t vl = 0;
            int got = block_here(&p.r, &blk, &k, &v, &vl);
            if (got <= 0) {
                if (got < 0) rc = got;
                break;
            }
            if (blk.first_op_seq != expect) {
                rc = bt_db__set_msg(BT_ECORRUPT, "operation log: op %llu is missing",
                                    (unsigned long long)expect);
                break;
            }
            if (blk.first_op_seq + blk.op_count - 1 > upto_seq || blk.ts_ms > upto_ms) break;
            rc = replay_block_into(&p, &blk);
            expect = blk.first_op_seq + blk.op_count;
        }
        if (!rc) rc = db->kv->v->iter_status(p.r.it, bt_db__msg, sizeof bt_db__msg);
    }
    if (p.target) {
        char m[BT_DB_MSG_CAP];
        snprintf(m, sizeof m, "%s", bt_db__msg);
        int rc2 = bt_db_close(p.target);
        if (!rc && rc2) rc = bt_db__set_msg(rc2, "replay target: closing failed");
        else if (rc) bt_db__set_msg(rc, "%s", m);
    }
    for (size_t i = 0; p.mem && i < p.r.ntrees; i++) bt_tree_free(p.mem[i]);
    bt_mem_free(p.mem);
    bt_mem_free(p.res);
    bt_mem_free(p.ops);
    bt_mem_free(p.has_prev);
    reader_close(&p.r);
    bt_mem_free(ck.trees);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    info.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (out) *out = info;
    return rc;
}
