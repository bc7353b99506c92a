/*
 * commit.c -- transactions, commits, node flushes and group commit.
 *
 * A commit writes one engine batch: the operation records, the commit
 * record, the changed trees' heads and the `commit` metadata (D1).  Nodes are
 * not written by commits: a flush writes the new nodes of every tree, the
 * new root records and the deletion of obsolete nodes in one batch (D3),
 * after flush_ops operations or flush_bytes of new nodes, and at close.
 * Between flushes the log is the only durable copy of recent changes; open
 * replays it (recover.c).
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include <errno.h>
#include <string.h>
#include <time.h>

int bt_db__space_ok(bt_db *db);

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- transactions ------------------------------------------------------------- */

int bt_txn_begin(bt_txn **out, bt_db *db)
{
    *out = NULL;
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    pthread_mutex_lock(&db->wlock);
    int rc = 0;
    if (db->failed) rc = bt_db__set_msg(BT_EBADSTATE, "an earlier write failed; reopen the database");
    else if (db->txn_open) rc = bt_db__set_msg(BT_EBUSY, "another transaction is open");
    bt_txn *t = NULL;
    if (!rc) {
        t = bt_calloc(1, sizeof *t);
        if (t) t->batch = db->kv->v->batch_new(db->kv);
        if (!t || !t->batch) {
            bt_mem_free(t);
            t = NULL;
            rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
    }
    if (!rc) {
        t->db = db;
        t->ts_ms = bt_db__now_ms();
        db->txn_open = true;
        *out = t;
    }
    pthread_mutex_unlock(&db->wlock);
    return rc;
}

void bt_txn_set_time(bt_txn *t, uint64_t ts_ms)
{
    if (t) t->ts_ms = ts_ms;
}

static void txn_free(bt_txn *t)
{
    bt_db *db = t->db;
    pthread_mutex_lock(&db->wlock);
    db->txn_open = false;
    for (size_t i = 0; i < db->ntrees; i++) {
        dbtree *dt = db->trees[i];
        dt->touched = false;
        dt->txn_ops = 0;
    }
    pthread_mutex_unlock(&db->wlock);
    db->kv->v->batch_free(t->batch);
    bt_buf_free(&t->ops);
    bt_buf_free(&t->rec);
    bt_mem_free(t);
}

/* Puts a tree's working handle back on its committed version.  (Discarding
 * the handle's batch is not enough: bt_txn_prove starts a new batch inside
 * the transaction.) */
static void reset_to_committed(bt_db *db, dbtree *dt)
{
    bt_tree *t2 = NULL;
    if (bt_tree_open_root(&t2, &dt->p, dt->committed, dt->committed_height, dt->committed_count,
                          &db->src) == 0) {
        bt_tree_free(dt->t);
        dt->t = t2;
    } else {
        db->failed = bt_db__set_msg(BT_ENOMEM, "out of memory while aborting a transaction");
    }
}

void bt_txn_abort(bt_txn *t)
{
    if (!t) return;
    bt_db *db = t->db;
    for (size_t i = 0; i < db->ntrees; i++)
        if (db->trees[i]->touched) reset_to_committed(db, db->trees[i]);
    txn_free(t);
}

static bool logged(const bt_op *op, const bt_result *r)
{
    if (r->status || op->type == BT_OP_LOOKUP) return false;
    if (op->type == BT_OP_REMOVE_IF_EXISTS && !r->found) return false;
    return true;
}

int bt_txn_apply(bt_txn *t, const char *tree, const bt_op *ops, size_t n, bt_result *results)
{
    bt_db *db = t->db;
    if (t->failed) return bt_db__set_msg(BT_EBADSTATE, "the transaction failed; abort it");
    if (!tree) return bt_db__set_msg(BT_EINVAL, "no tree name");
    dbtree *dt = bt_db__find(db, tree);
    if (!dt) return bt_db__set_msg(BT_ENOTFOUND, "no tree named %s", tree);
    if (!results && n) return bt_db__set_msg(BT_EINVAL, "results array is required");
    dt->touched = true;
    int rc = bt_tree_apply_batch(dt->t, ops, n, results);
    if (rc) {
        t->failed = rc;
        return bt_db__set_msg(rc, "tree %s: %s", tree, bt_tree_errmsg(dt->t));
    }
    bt_db__metrics_txn_ops(&db->metrics, ops, results, n);
    for (size_t i = 0; i < n; i++) {
        if (!logged(&ops[i], &results[i])) continue;
        rc = bt_rec_op_append(&t->ops, ops[i].type, dt->id, ops[i].key, dt->p.key_len, ops[i].value,
                              ops[i].value_len, results[i].found != 0, results[i].old,
                              results[i].old_len);
        if (rc) {
            t->failed = rc;
            return bt_db__set_msg(rc, "out of memory");
        }
        t->nops++;
        dt->txn_ops++;
        if (db->features & BT_FEATURE_OPLOG_INDEX)
            bt_db__oplog_index_op(db, t->batch, dt->id, ops[i].key, dt->p.key_len,
                                  db->meta.op_seq + t->nops);
    }
    return 0;
}

int bt_txn_prove(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                 bt_txn *t, const char *tree)
{
    *out_proof = NULL;
    *out_len = 0;
    if (t->failed) return bt_db__set_msg(BT_EBADSTATE, "the transaction failed; abort it");
    dbtree *dt = tree ? bt_db__find(t->db, tree) : NULL;
    if (!dt) return bt_db__set_msg(BT_ENOTFOUND, "no tree named %s", tree ? tree : "(null)");
    int rc = bt_tree_prove(out_proof, out_len, dt->t);
    if (!rc) rc = bt_tree_digest(out_digest, dt->t);
    if (rc) {
        t->failed = rc;
        return bt_db__set_msg(rc, "%s", bt_tree_errmsg(dt->t));
    }
    return 0;
}

static int drop_cache(bt_db *db);
static void request_flush(bt_db *db, bool wait);

/* A flush is due after flush_ops logged ops or flush_bytes of new nodes. */
static bool flush_due(bt_db *db)
{
    pthread_mutex_lock(&db->wlock);
    bool due = db->ops_since_flush >= db->o.flush_ops || db->dirty_bytes >= db->o.flush_bytes;
    pthread_mutex_unlock(&db->wlock);
    return due;
}

int bt_txn_commit(bt_txn *t, bt_commit_info *info)
{
    bt_db *db = t->db;
    uint64_t t0 = mono_ns();
    if (info) memset(info, 0, sizeof *info);
    if (t->failed) {
        bt_txn_abort(t);
        return bt_db__set_msg(BT_EBADSTATE, "the transaction failed and was aborted");
    }
    int rc = 0;
    if (t->nops == 0) { /* nothing to log: lookups or failed ops only */
        for (size_t i = 0; i < db->ntrees; i++)
            if (db->trees[i]->touched) bt_tree_mark_committed(db->trees[i]->t);
        txn_free(t);
        return 0;
    }
    if ((rc = bt_db__space_ok(db))) {
        bt_txn_abort(t);
        return rc;
    }
    uint64_t commit_seq = db->meta.commit_seq + 1;
    bt_rec_commit_tree *ct = bt_calloc(db->ntrees ? db->ntrees : 1, sizeof *ct);
    uint16_t nct = 0;
    if (!ct) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < db->ntrees; i++) {
        dbtree *dt = db->trees[i];
        if (!dt->touched || !dt->txn_ops) continue;
        if ((rc = bt_tree_digest(ct[nct].digest, dt->t))) {
            bt_db__set_msg(rc, "tree %s: %s", dt->name, bt_tree_errmsg(dt->t));
            break;
        }
        ct[nct].tree_id = dt->id;
        bt_rec_head h = {commit_seq, {0}, dt->t->count};
        memcpy(h.digest, ct[nct].digest, BT_DIGEST_LEN);
        uint8_t k[9] = {'h', 'e', 'a', 'd', '/'};
        bt_store_u32be(k + 5, dt->id);
        t->rec.len = 0;
        if ((rc = bt_rec_head_encode(&t->rec, &h))) break;
        db->kv->v->batch_put(t->batch, BT_CF_META, k, 9, t->rec.data, t->rec.len);
        nct++;
    }
    bt_rec_commit_meta m = db->meta;
    m.next_node_id = atomic_load(&db->next_node_id);
    m.commit_seq = commit_seq;
    m.op_seq = db->meta.op_seq + t->nops;
    if (!rc) {
        uint8_t k[9];
        bt_key_u64(k, 'b', db->meta.op_seq + 1);
        t->rec.len = 0;
        rc = bt_rec_block_encode(&t->rec, commit_seq, db->meta.op_seq + 1, (uint32_t)t->nops,
                                 t->ts_ms, ct, nct, t->ops.data, t->ops.len);
        if (!rc) db->kv->v->batch_put(t->batch, BT_CF_OPS, k, 9, t->rec.data, t->rec.len);
        if (!rc && (db->features & BT_FEATURE_OPLOG_INDEX))
            bt_db__oplog_index_commit(db, t->batch, t->ts_ms, db->meta.op_seq + 1);
        t->rec.len = 0;
        if (!rc) rc = bt_rec_commit_meta_encode(&t->rec, &m);
        if (!rc) db->kv->v->batch_put(t->batch, BT_CF_META, "commit", 6, t->rec.data, t->rec.len);
        if (rc) bt_db__set_msg(rc, "out of memory");
    }
    bt_mem_free(ct);
    if (rc) {
        bt_txn_abort(t);
        return rc;
    }
    rc = bt_db__write(db, t->batch, db->o.durability == BT_DURABILITY_SYNC ? BT_KV_SYNC : 0);
    if (rc) {
        db->failed = rc;
        bt_txn_abort(t);
        return rc;
    }
    pthread_mutex_lock(&db->wlock);
    db->meta = m;
    db->ops_since_flush += t->nops;
    for (size_t i = 0; i < db->ntrees; i++) {
        dbtree *dt = db->trees[i];
        if (!dt->touched) continue;
        db->dirty_bytes += bt_tree_take_new_bytes(dt->t);
        bt_tree_mark_committed(dt->t);
        if (dt->txn_ops) bt_db__publish(db, dt, commit_seq);
    }
    pthread_mutex_unlock(&db->wlock);
    if (info) {
        info->commit_seq = commit_seq;
        info->last_op_seq = m.op_seq;
        info->ops_logged = t->nops;
    }
    uint64_t nops = t->nops;
    txn_free(t);
    bt_db__after_write(db, commit_seq, m.op_seq, nops);
    bool over_budget = atomic_load(&db->cache_bytes) > (int64_t)db->o.cache_bytes;
    if (over_budget) {
        /* The commit itself succeeded; a failed flush leaves the handle failed. */
        rc = drop_cache(db);
        if (rc) db->failed = rc;
    } else if (flush_due(db)) {
        /* in the background; wait only if the log since the last finished
         * flush would pass twice the bound (bounded replay, D6) */
        pthread_mutex_lock(&db->wlock);
        bool behind = db->ops_since_flush >= 2 * db->o.flush_ops ||
                      db->dirty_bytes >= 2 * db->o.flush_bytes;
        pthread_mutex_unlock(&db->wlock);
        request_flush(db, behind);
    }
    /* the latency the caller saw, flush included */
    pthread_mutex_lock(&db->wlock);
    bt_hist_add(&db->commit_ns, mono_ns() - t0);
    pthread_mutex_unlock(&db->wlock);
    return 0;
}

/* Readers load nodes too: when the cache is well over budget and no
 * transaction is open, a reader performs the drop itself (never waiting for
 * the writer). */
void bt_db__reader_trim(bt_db *db)
{
    if (db->o.read_only ||
        atomic_load(&db->cache_bytes) <= (int64_t)(db->o.cache_bytes + db->o.cache_bytes / 4))
        return;
    if (pthread_mutex_trylock(&db->fmu) != 0) return; /* a flush or drop is running */
    pthread_mutex_unlock(&db->fmu);
    int rc = drop_cache(db);
    if (rc) db->failed = rc;
}

/* ---- node flush (D2, D3) ---------------------------------------------------------- */

typedef struct flushctx {
    bt_db *db;
    uint32_t tree_id;   /* of the tree being walked (label index keys) */
    bt_kv_bulk *b;      /* new nodes: a bulk load (sorted: ids increase) */
    bt_kv_batch *meta;  /* root records, deletions: one logged batch */
    bt_buf rec;
    bt_ptrset frontier; /* ids of stored nodes the new versions still use */
    uint64_t written, deleted;
    uint64_t pin_id, pin_frontier; /* newest checkpoint (D8) */
    uint64_t pinned;
} flushctx;

static int frontier_add(flushctx *f, uint64_t id)
{
    if (bt_ptrset_reserve(&f->frontier, 1)) return BT_ENOMEM;
    bt_ptrset_add(&f->frontier, (const void *)(uintptr_t)id);
    return 0;
}

/* Writes every node of x's subtree that is not stored yet (post-order, so
 * children get their ids first) and returns x's id. */
static int write_new(flushctx *f, dbtree *dt, bt_node *x, int depth, uint64_t *out_id)
{
    uint64_t id = bt_node_id(x);
    if (id) {
        *out_id = id;
        return frontier_add(f, id);
    }
    if (depth > BT_VERIFY_DEPTH_MAX) return bt_db__set_msg(BT_ECORRUPT, "tree deeper than the limit");
    unsigned klen = dt->p.key_len;
    int rc;
    f->rec.len = 0;
    if (x->kind == BT_NK_INTERNAL) {
        uint64_t lid, rid;
        if ((rc = write_new(f, dt, x->u.in.left, depth + 1, &lid))) return rc;
        if ((rc = write_new(f, dt, x->u.in.right, depth + 1, &rid))) return rc;
        f->rec.len = 0;
        rc = bt_rec_node_internal_encode(&f->rec, x->balance, bt_node_key(x), klen, lid,
                                         bt_node_label(x->u.in.left), rid,
                                         bt_node_label(x->u.in.right));
    } else if (x->kind == BT_NK_LEAF) {
        rc = bt_rec_node_leaf_encode(&f->rec, bt_node_key(x), bt_leaf_next(x), klen,
                                     bt_leaf_value(x), x->u.leaf.vlen);
    } else {
        return bt_db__set_msg(BT_ECORRUPT, "a stub without an id");
    }
    if (rc) return bt_db__set_msg(rc, "out of memory");
    id = atomic_fetch_add(&f->db->next_node_id, 1);
    uint8_t k[8];
    bt_store_u64be(k, id);
    if ((rc = f->db->kv->v->bulk_put(f->b, k, 8, f->rec.data, f->rec.len)))
        return bt_db__set_msg(rc, "writing node %llu failed", (unsigned long long)id);
    if (f->db->o.index_labels) {
        uint8_t ik[BT_LABEL_INDEX_KEY];
        bt_db__label_key(ik, bt_node_label(x), f->tree_id, id);
        f->db->kv->v->batch_put(f->meta, BT_CF_INDEXES, ik, sizeof ik, "", 0);
    }
    __atomic_store_n(&x->gen, BT_GEN_PERSISTED | id, __ATOMIC_RELAXED);
    f->written++;
    /* written nodes stay in memory as cached stored nodes */
    atomic_fetch_add_explicit(&f->db->cache_bytes, (int64_t)bt_node_mem(x), memory_order_relaxed);
    *out_id = id;
    return 0;
}

/* Deletes the nodes of the previous flushed version that the new versions
 * no longer reach: everything not below a frontier node. */
static int drop_old(flushctx *f, dbtree *dt, bt_node *x, int depth)
{
    uint64_t id = bt_node_id(x);
    if (!id) return bt_db__set_msg(BT_ECORRUPT, "flushed version holds an unstored node");
    if (bt_ptrset_has(&f->frontier, (const void *)(uintptr_t)id)) return 0;
    if (depth > BT_VERIFY_DEPTH_MAX) return bt_db__set_msg(BT_ECORRUPT, "tree deeper than the limit");
    if (f->pin_id && id < f->pin_frontier) {
        /* alive at the newest checkpoint: an orphan of it, not deleted (D8) */
        uint8_t ok[17];
        bt_key_u64(ok, 'o', f->pin_id);
        bt_store_u64be(ok + 9, id);
        f->rec.len = 0;
        int rc = bt_rec_orphan_encode(&f->rec, f->tree_id, bt_node_label(x));
        if (rc) return bt_db__set_msg(rc, "out of memory");
        f->db->kv->v->batch_put(f->meta, BT_CF_CHECKPOINTS, ok, 17, f->rec.data, f->rec.len);
        f->pinned++;
    } else {
        bt_db__node_del(f->db, f->meta, id, f->tree_id, bt_node_label(x));
        f->deleted++;
    }
    bt_node *n;
    int rc = bt_resolve(x, &f->db->src, false, dt->p.key_len, dt->p.value_len != BT_VALUE_VARIABLE,
                        dt->p.value_len, &n, bt_db__msg, sizeof bt_db__msg);
    if (rc) return rc;
    /* the obsolete node leaves the cached versions with the next flush */
    atomic_fetch_sub(&f->db->cache_bytes, (int64_t)bt_node_mem(n));
    if (n->kind != BT_NK_INTERNAL) return 0;
    if ((rc = drop_old(f, dt, n->u.in.left, depth + 1))) return rc;
    return drop_old(f, dt, n->u.in.right, depth + 1);
}

/* Snapshot import (snapshot.c): writes every unstored node under root (a
 * new, fully labelled tree) as a flush does -- post-order, fresh ids, one
 * ingested table file, durable on return; label-index entries go into
 * meta, which the caller writes with the tree's records.  Called with
 * db->fmu and db->wlock held. */
int bt_db__write_tree_nodes(bt_db *db, uint32_t tree_id, const bt_params *p, bt_node *root,
                            bt_kv_batch *meta, uint64_t *out_root_id, uint64_t *out_written)
{
    flushctx f;
    dbtree dt;
    memset(&f, 0, sizeof f);
    memset(&dt, 0, sizeof dt);
    dt.p = *p;
    f.db = db;
    f.tree_id = tree_id;
    f.meta = meta;
    f.b = db->kv->v->bulk_new(db->kv, BT_CF_NODES, bt_db__msg, sizeof bt_db__msg);
    if (!f.b) return BT_EIO;
    int rc = write_new(&f, &dt, root, 0, out_root_id);
    if (!rc) rc = db->kv->v->bulk_ingest(db->kv, f.b, bt_db__msg, sizeof bt_db__msg);
    else db->kv->v->bulk_abort(f.b);
    if (!rc) db->nodes_written += f.written;
    *out_written = f.written;
    bt_buf_free(&f.rec);
    bt_ptrset_free(&f.frontier);
    return rc;
}

/* Writes the committed versions of every tree, as they are when it starts
 * (a snapshot taken under wlock), while commits go on.  Called with db->fmu
 * held and db->wlock NOT held. */
static int flush_locked(bt_db *db)
{
    pthread_mutex_lock(&db->wlock);
    int rc = db->failed;
    size_t n = db->ntrees;
    dbtree **dts = NULL;
    bt_node **roots = NULL;
    int *heights = NULL;
    uint64_t *counts = NULL, op_seq = db->meta.op_seq, dirty0 = db->dirty_bytes;
    if (!rc && n) {
        dts = bt_calloc(n, sizeof *dts);
        roots = bt_calloc(n, sizeof *roots);
        heights = bt_calloc(n, sizeof *heights);
        counts = bt_calloc(n, sizeof *counts);
        if (!dts || !roots || !heights || !counts) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    bool any = false;
    for (size_t i = 0; !rc && i < n; i++) {
        dts[i] = db->trees[i];
        roots[i] = bt_node_ref(dts[i]->committed);
        heights[i] = dts[i]->committed_height;
        counts[i] = dts[i]->committed_count;
        if (bt_node_id(roots[i]) == 0 || bt_node_id(roots[i]) != bt_node_id(dts[i]->flushed))
            any = true;
    }
    if (!rc && !any) {
        db->ops_since_flush = db->meta.op_seq - op_seq;
        db->dirty_bytes = 0;
    }
    pthread_mutex_unlock(&db->wlock);

    flushctx f;
    memset(&f, 0, sizeof f);
    f.db = db;
    bt_db__ckpt_pin(db, &f.pin_id, &f.pin_frontier);
    if (!rc && any) {
        f.b = db->kv->v->bulk_new(db->kv, BT_CF_NODES, bt_db__msg, sizeof bt_db__msg);
        f.meta = f.b ? db->kv->v->batch_new(db->kv) : NULL;
        if (!f.b) rc = BT_EIO;
        else if (!f.meta) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && any && i < n; i++) {
        dbtree *dt = dts[i];
        uint64_t rid;
        f.tree_id = dt->id;
        bt_ptrset_clear(&f.frontier);
        if ((rc = write_new(&f, dt, roots[i], 0, &rid))) break;
        if (rid != bt_node_id(dt->flushed) && (rc = drop_old(&f, dt, dt->flushed, 0))) break;
        bt_rec_root rr = {rid, {0}, (uint8_t)heights[i], counts[i], op_seq};
        memcpy(rr.label, bt_node_label(roots[i]), 32);
        uint8_t k[9] = {'r', 'o', 'o', 't', '/'};
        bt_store_u32be(k + 5, dt->id);
        f.rec.len = 0;
        if ((rc = bt_rec_root_encode(&f.rec, &rr))) break;
        db->kv->v->batch_put(f.meta, BT_CF_META, k, 9, f.rec.data, f.rec.len);
    }
    if (!rc && any) {
        uint8_t v[8];
        bt_store_u64be(v, atomic_load(&db->next_node_id));
        db->kv->v->batch_put(f.meta, BT_CF_META, "nodeid", 6, v, 8);
    }
    /* 1. the new nodes as one table file, ingested durably (they are not
     *    referenced yet, so losing them loses nothing; their ids are handed
     *    out again);
     * 2. the switch to the new roots and the deletion of the nodes only the
     *    old roots reached, atomically.  Not synced: if it is lost, the old
     *    roots and their nodes are still in place and the operation log
     *    covers the difference (D2). */
    if (f.b) {
        bt_kv_bulk *bulk = f.b;
        f.b = NULL;
        if (!rc) rc = db->kv->v->bulk_ingest(db->kv, bulk, bt_db__msg, sizeof bt_db__msg);
        else db->kv->v->bulk_abort(bulk);
    }
    if (!rc && any) rc = bt_db__write(db, f.meta, 0);
    pthread_mutex_lock(&db->wlock);
    if (!rc && any) {
        for (size_t i = 0; i < n; i++) {
            dbtree *dt = dts[i];
            bt_node_unref(dt->flushed);
            dt->flushed = roots[i];
            roots[i] = NULL;
            dt->flushed_op_seq = op_seq;
        }
        db->nodes_written += f.written;
        db->nodes_deleted += f.deleted;
        db->flushes++;
        db->ops_since_flush = db->meta.op_seq - op_seq;
        db->dirty_bytes -= dirty0 < db->dirty_bytes ? dirty0 : db->dirty_bytes;
    } else if (rc) {
        db->failed = rc; /* nodes may carry ids that are not stored */
    }
    pthread_mutex_unlock(&db->wlock);
    for (size_t i = 0; roots && i < n; i++)
        if (roots[i]) bt_node_unref(roots[i]);
    bt_mem_free(dts);
    bt_mem_free(roots);
    bt_mem_free(heights);
    bt_mem_free(counts);
    if (f.meta) db->kv->v->batch_free(f.meta);
    bt_buf_free(&f.rec);
    bt_ptrset_free(&f.frontier);
    return rc;
}

/* A flush by a caller that already holds db->fmu (checkpoints). */
int bt_db__flush_locked(bt_db *db) { return flush_locked(db); }

/* A synchronous flush (close, bt_db_flush, cache drops).  Called with
 * neither fmu nor wlock held. */
int bt_db__flush(bt_db *db)
{
    pthread_mutex_lock(&db->fmu);
    int rc = flush_locked(db);
    pthread_mutex_unlock(&db->fmu);
    return rc;
}

/* The two background threads (flusher, syncer) start and stop alike: a
 * stop flag and a condition variable under the thread's own mutex. */
static int thread_start(pthread_t *th, bool *running, void *(*fn)(void *), bt_db *db,
                        const char *what)
{
    if (pthread_create(th, NULL, fn, db) != 0)
        return bt_db__set_msg(BT_ENOMEM, "cannot start the %s thread", what);
    *running = true;
    return 0;
}

static void thread_stop(pthread_t th, bool *running, bool *stop, pthread_mutex_t *mu,
                        pthread_cond_t *cv)
{
    if (!*running) return;
    pthread_mutex_lock(mu);
    *stop = true;
    pthread_cond_broadcast(cv);
    pthread_mutex_unlock(mu);
    pthread_join(th, NULL);
    *running = false;
}

static void *flusher_main(void *arg)
{
    bt_db *db = arg;
    pthread_mutex_lock(&db->fqmu);
    while (!db->fstop) {
        if (!db->frequest) {
            pthread_cond_wait(&db->fcv, &db->fqmu);
            continue;
        }
        db->frequest = false;
        pthread_mutex_unlock(&db->fqmu);
        bt_db__flush(db);
        pthread_mutex_lock(&db->fqmu);
        db->fdone_count++;
        pthread_cond_broadcast(&db->fdone);
    }
    pthread_mutex_unlock(&db->fqmu);
    return NULL;
}

int bt_db__flusher_start(bt_db *db)
{
    return thread_start(&db->flusher, &db->flusher_running, flusher_main, db, "node flush");
}

void bt_db__flusher_stop(bt_db *db)
{
    thread_stop(db->flusher, &db->flusher_running, &db->fstop, &db->fqmu, &db->fcv);
}

/* Asks the flusher for a flush; if wait, returns after one has completed. */
static void request_flush(bt_db *db, bool wait)
{
    if (!db->flusher_running) {
        int rc = bt_db__flush(db);
        if (rc) db->failed = rc;
        return;
    }
    pthread_mutex_lock(&db->fqmu);
    uint64_t c = db->fdone_count;
    db->frequest = true;
    pthread_cond_signal(&db->fcv);
    while (wait && db->fdone_count < c + 2 && !db->fstop) {
        pthread_cond_wait(&db->fdone, &db->fqmu);
        if (db->fdone_count >= c + 1 && !db->frequest) break; /* ours ran */
    }
    pthread_mutex_unlock(&db->fqmu);
}

/* The node cache (D6): stored nodes loaded on demand stay attached to the
 * stubs that loaded them.  When their bytes exceed the budget, every tree is
 * re-rooted on a fresh copy of its top levels (the part every operation
 * walks through) whose lower edge is fresh stubs: the old node objects
 * become unreachable from the current versions and are freed as soon as the
 * last reader snapshot that still uses them is released.  Readers are never
 * disturbed: they hold references to the roots they walk, and no node a
 * reader can see is changed.  Called with db->wlock held, no transaction
 * open, after a flush (every node of the current versions is stored). */

typedef struct topcopy {
    int levels;          /* copy this many levels of internal nodes */
    uint64_t bytes;      /* memory of the copy */
} topcopy;

static bt_node *copy_top(topcopy *c, bt_node *x, unsigned klen, int depth)
{
    bt_node *n = x;
    if (n->kind == BT_NK_LABEL) {
        bt_node *l = atomic_load_explicit(&n->u.stub.loaded, memory_order_acquire);
        if (l) n = l;
    }
    uint64_t id = bt_node_id(x);
    if (n->kind != BT_NK_INTERNAL || depth >= c->levels) {
        c->bytes += sizeof *n + 32u;
        return bt_node_new_label(bt_node_label(x), id);
    }
    bt_node *l = copy_top(c, n->u.in.left, klen, depth + 1);
    bt_node *r = l ? copy_top(c, n->u.in.right, klen, depth + 1) : NULL;
    bt_node *cp = (l && r) ? bt_node_new_internal(klen, bt_node_key(n), l, r, n->balance,
                                                  BT_GEN_PERSISTED | id)
                           : NULL;
    if (l) bt_node_unref(l);
    if (r) bt_node_unref(r);
    if (!cp) return NULL;
    memcpy(bt_node_label(cp), bt_node_label(n), 32);
    cp->flags |= BT_NF_LABEL;
    c->bytes += bt_node_mem(cp);
    return cp;
}

/* Called with fmu and wlock held. */
static int reroot_all(bt_db *db)
{
    /* keep about a quarter of the budget: the top levels of every tree */
    uint64_t per_tree = db->o.cache_bytes / 4 / (db->ntrees ? db->ntrees : 1);
    int levels = 0;
    while (levels < 30 && ((uint64_t)2 << levels) * 160u < per_tree) levels++;
    uint64_t kept = 0;
    for (size_t i = 0; i < db->ntrees; i++) {
        dbtree *dt = db->trees[i];
        uint64_t id = bt_node_id(dt->committed);
        if (!id) return bt_db__set_msg(BT_ECORRUPT, "tree %s: committed root is not stored", dt->name);
        topcopy c = {levels, 0};
        bt_node *top = copy_top(&c, dt->committed, dt->p.key_len, 0);
        bt_tree *t2 = NULL;
        if (!top || bt_tree_open_root(&t2, &dt->p, top, dt->committed_height,
                                      dt->committed_count, &db->src)) {
            if (top) bt_node_unref(top);
            return bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
        kept += c.bytes;
        bt_tree_free(dt->t);
        dt->t = t2;
        pthread_mutex_lock(&db->rlock);
        bt_node *old = dt->committed;
        dt->committed = bt_node_ref(top);
        pthread_mutex_unlock(&db->rlock);
        bt_node_unref(old);
        bt_node_unref(dt->flushed);
        dt->flushed = top; /* takes the creation reference */
    }
    atomic_store(&db->cache_bytes, (int64_t)kept);
    db->cache_drops++;
    return bt_db__ckpt_reset_roots(db);
}

static int drop_cache(bt_db *db)
{
    pthread_mutex_lock(&db->fmu);
    int rc = flush_locked(db);
    if (rc) {
        pthread_mutex_unlock(&db->fmu);
        return rc;
    }
    pthread_mutex_lock(&db->wlock);
    bool ok = !db->txn_open && !db->failed;
    for (size_t i = 0; ok && i < db->ntrees; i++)
        if (db->trees[i]->committed != db->trees[i]->flushed) ok = false; /* a commit slipped in */
    if (ok) rc = reroot_all(db);
    pthread_mutex_unlock(&db->wlock);
    pthread_mutex_unlock(&db->fmu);
    if (ok && !rc) bt_mem_release(); /* the dropped nodes' pages */
    return rc;
}

int bt_db_flush(bt_db *db)
{
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    return bt_db__flush(db);
}

/* ---- durability ---------------------------------------------------------------------- */

void bt_db__after_write(bt_db *db, uint64_t commit_seq, uint64_t last_op_seq, uint64_t nops)
{
    switch (db->o.durability) {
    case BT_DURABILITY_SYNC:
        pthread_mutex_lock(&db->smu);
        db->written_commit = db->synced_commit = commit_seq;
        db->written_op = last_op_seq;
        db->syncs++;
        pthread_mutex_unlock(&db->smu);
        bt_db__write_marker(db, commit_seq, last_op_seq);
        break;
    case BT_DURABILITY_GROUP:
        pthread_mutex_lock(&db->smu);
        db->written_commit = commit_seq;
        db->written_op = last_op_seq;
        db->unsynced_ops += nops;
        if (db->unsynced_ops >= db->o.group_ops) pthread_cond_signal(&db->scv);
        pthread_mutex_unlock(&db->smu);
        break;
    default:
        pthread_mutex_lock(&db->smu);
        db->written_commit = commit_seq;
        db->written_op = last_op_seq;
        pthread_mutex_unlock(&db->smu);
        break;
    }
}

static void *syncer_main(void *arg)
{
    bt_db *db = arg;
    char msg[BT_DB_MSG_CAP];
    pthread_mutex_lock(&db->smu);
    while (!db->stop) {
        if (db->written_commit == db->synced_commit) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)db->o.group_ms * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&db->scv, &db->smu, &ts);
            continue;
        }
        uint64_t target = db->written_commit, target_op = db->written_op;
        db->unsynced_ops = 0;
        pthread_mutex_unlock(&db->smu);
        int rc = db->kv->v->sync_wal(db->kv, msg, sizeof msg);
        if (!rc) bt_db__write_marker(db, target, target_op);
        pthread_mutex_lock(&db->smu);
        if (rc) {
            /* Never pretend a failed fsync succeeded: the handle fails. */
            db->sync_err = rc;
            db->failed = rc;
            pthread_cond_broadcast(&db->sdone);
            break;
        }
        db->synced_commit = target;
        db->syncs++;
        pthread_cond_broadcast(&db->sdone);
        if (db->written_commit == db->synced_commit) {
            /* wait out the group interval before the next sync */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)db->o.group_ms * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&db->scv, &db->smu, &ts);
        }
    }
    pthread_mutex_unlock(&db->smu);
    return NULL;
}

int bt_db__syncer_start(bt_db *db)
{
    return thread_start(&db->syncer, &db->syncer_running, syncer_main, db, "group-commit");
}

void bt_db__syncer_stop(bt_db *db)
{
    thread_stop(db->syncer, &db->syncer_running, &db->stop, &db->smu, &db->scv);
}

int bt_db_wait_durable(bt_db *db, uint64_t commit_seq)
{
    pthread_mutex_lock(&db->smu);
    int rc = 0;
    if (db->o.durability == BT_DURABILITY_GROUP) {
        while (db->synced_commit < commit_seq && !db->sync_err && db->syncer_running &&
               commit_seq <= db->written_commit) {
            pthread_cond_signal(&db->scv);
            pthread_cond_wait(&db->sdone, &db->smu);
        }
        if (db->synced_commit < commit_seq)
            rc = db->sync_err ? db->sync_err : BT_EINVAL;
    } else if (commit_seq > db->written_commit) {
        rc = BT_EINVAL; /* sync and none: nothing to wait for, but it must exist */
    }
    pthread_mutex_unlock(&db->smu);
    if (rc == BT_EINVAL) return bt_db__set_msg(rc, "commit %llu was never written", (unsigned long long)commit_seq);
    if (rc) return bt_db__set_msg(rc, "syncing the log failed");
    return 0;
}
