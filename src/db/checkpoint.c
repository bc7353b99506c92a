/*
 * checkpoint.c -- checkpoints: pinned versions of every tree, their orphan
 * lists, retention, validation and rollback (docs/FORMAT.md 4.4c).
 *
 * Invariants (with D8 in db_int.h):
 *  K1. A checkpoint names, for every tree that existed when it was taken,
 *      the flushed version's root id and digest; a flush runs first, so that
 *      version is the committed head of that moment.
 *  K2. Node lifetimes are intervals of flushed versions: a node is written
 *      by one flush and, once a flush no longer reaches it, no later version
 *      reaches it again.  So a node dropped by a flush, whose id is below the
 *      newest checkpoint's frontier, is in that checkpoint's version, and it
 *      is in an older checkpoint's version iff its id is below that
 *      checkpoint's frontier.
 *  K3. Every stored node that no flushed head reaches has exactly one orphan
 *      record, under the newest retained checkpoint whose version holds it.
 *  K4. The table db->ckpts mirrors the `c` records, oldest first; it changes
 *      only with db->fmu held, and under db->rlock.
 * Every change here is one logged, synced engine batch: a crash leaves the
 * database before or after it, never between.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include <stdio.h>
#include <string.h>

static void ckpt_free(dbckpt *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->ntrees; i++)
        if (c->trees[i].root) bt_node_unref(c->trees[i].root);
    bt_mem_free(c->trees);
    bt_mem_free(c);
}

void bt_db__ckpt_free_all(bt_db *db)
{
    for (size_t i = 0; i < db->nckpts; i++) ckpt_free(db->ckpts[i]);
    bt_mem_free(db->ckpts);
    db->ckpts = NULL;
    db->nckpts = db->capckpts = 0;
}

dbckpt *bt_db__ckpt_find(bt_db *db, uint64_t id)
{
    if (!db->nckpts) return NULL;
    if (id == 0) return db->ckpts[db->nckpts - 1];
    size_t lo = 0, hi = db->nckpts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (db->ckpts[mid]->id < id) lo = mid + 1;
        else hi = mid;
    }
    return (lo < db->nckpts && db->ckpts[lo]->id == id) ? db->ckpts[lo] : NULL;
}

static size_t ckpt_index(bt_db *db, const dbckpt *c)
{
    for (size_t i = 0; i < db->nckpts; i++)
        if (db->ckpts[i] == c) return i;
    return db->nckpts;
}

void bt_db__ckpt_pin(bt_db *db, uint64_t *id, uint64_t *frontier)
{
    pthread_mutex_lock(&db->rlock);
    dbckpt *c = db->nckpts ? db->ckpts[db->nckpts - 1] : NULL;
    *id = c ? c->id : 0;
    *frontier = c ? c->frontier : 0;
    pthread_mutex_unlock(&db->rlock);
}

/* Builds a table entry from a decoded record; roots are fresh stubs. */
static int ckpt_from_rec(dbckpt **out, bt_db *db, const bt_rec_ckpt *r)
{
    dbckpt *c = bt_calloc(1, sizeof *c);
    if (!c) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    c->id = r->id;
    c->ts_ms = r->ts_ms;
    c->commit_seq = r->commit_seq;
    c->op_seq = r->op_seq;
    c->frontier = r->frontier;
    memcpy(c->label, r->label, sizeof c->label);
    c->ntrees = r->ntrees;
    c->trees = bt_calloc(r->ntrees ? r->ntrees : 1, sizeof *c->trees);
    if (!c->trees) {
        ckpt_free(c);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < r->ntrees; i++) {
        bt_rec_ckpt_tree t;
        bt_rec_ckpt_tree_at(&t, r, i);
        dbckpt_tree *ct = &c->trees[i];
        ct->tree_id = t.tree_id;
        ct->root_id = t.root_id;
        memcpy(ct->digest, t.digest, BT_DIGEST_LEN);
        ct->count = t.count;
        if (!bt_db__find_id(db, t.tree_id) || t.root_id == 0 || t.root_id >= r->frontier) {
            ckpt_free(c);
            return bt_db__set_msg(BT_ECORRUPT, "checkpoint %llu: tree entry %u is invalid",
                                  (unsigned long long)r->id, i);
        }
        ct->root = bt_node_new_label(t.digest, t.root_id);
        if (!ct->root) {
            ckpt_free(c);
            return bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
    }
    *out = c;
    return 0;
}

static int table_append(bt_db *db, dbckpt *c)
{
    /* readers search the table under rlock: grow it under rlock too */
    pthread_mutex_lock(&db->rlock);
    if (db->nckpts == db->capckpts) {
        size_t cap = db->capckpts ? 2 * db->capckpts : 8;
        dbckpt **p = bt_realloc(db->ckpts, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&db->rlock);
            return bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
        db->ckpts = p;
        db->capckpts = cap;
    }
    db->ckpts[db->nckpts++] = c;
    pthread_mutex_unlock(&db->rlock);
    return 0;
}

static void table_remove(bt_db *db, dbckpt *c)
{
    pthread_mutex_lock(&db->rlock);
    size_t i = ckpt_index(db, c);
    if (i < db->nckpts) {
        memmove(db->ckpts + i, db->ckpts + i + 1, (db->nckpts - i - 1) * sizeof *db->ckpts);
        db->nckpts--;
    }
    pthread_mutex_unlock(&db->rlock);
    ckpt_free(c);
}

static int meta_u64(bt_db *db, const char *key, uint64_t *out, uint64_t dflt)
{
    bt_buf v = BT_BUF_INIT;
    int rc = db->kv->v->get(db->kv, BT_CF_META, key, strlen(key), &v, bt_db__msg, sizeof bt_db__msg);
    if (rc == BT_ENOTFOUND) {
        *out = dflt;
        rc = 0;
    } else if (!rc && bt_rec_u64_decode(out, v.data, v.len)) {
        rc = bt_db__set_msg(BT_ECORRUPT, "metadata record '%s' is damaged", key);
    }
    bt_buf_free(&v);
    return rc;
}

int bt_db__ckpt_load(bt_db *db)
{
    int rc = meta_u64(db, "ckpt", &db->next_ckpt_id, 1);
    if (rc) return rc;
    bt_buf v = BT_BUF_INIT;
    rc = db->kv->v->get(db->kv, BT_CF_META, "epoch", 5, &v, bt_db__msg, sizeof bt_db__msg);
    if (rc == BT_ENOTFOUND) {
        db->epoch = 0;
        rc = 0;
    } else if (!rc && bt_rec_u32_decode(&db->epoch, v.data, v.len)) {
        rc = bt_db__set_msg(BT_ECORRUPT, "metadata record 'epoch' is damaged");
    }
    bt_buf_free(&v);
    if (rc) return rc;
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_CHECKPOINTS);
    if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    for (db->kv->v->iter_seek(it, "c", 1); !rc && db->kv->v->iter_valid(it);
         db->kv->v->iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = db->kv->v->iter_key(it, &kl);
        const uint8_t *val = db->kv->v->iter_value(it, &vl);
        if (kl < 1 || k[0] != 'c') break;
        bt_rec_ckpt r;
        if (kl != 9 || bt_rec_ckpt_decode(&r, val, vl) || r.id != bt_load_u64be(k + 1) ||
            r.id >= db->next_ckpt_id || r.op_seq > db->meta.op_seq) {
            rc = bt_db__set_msg(BT_ECORRUPT, "checkpoint record %llu is damaged",
                                kl == 9 ? (unsigned long long)bt_load_u64be(k + 1) : 0ull);
            break;
        }
        dbckpt *c = NULL;
        if ((rc = ckpt_from_rec(&c, db, &r))) break;
        if ((rc = table_append(db, c))) ckpt_free(c);
    }
    if (!rc) rc = db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
    db->kv->v->iter_free(it);
    return rc;
}

int bt_db__ckpt_reset_roots(bt_db *db)
{
    for (size_t i = 0; i < db->nckpts; i++) {
        dbckpt *c = db->ckpts[i];
        for (size_t j = 0; j < c->ntrees; j++) {
            bt_node *stub = bt_node_new_label(c->trees[j].digest, c->trees[j].root_id);
            if (!stub) return bt_db__set_msg(BT_ENOMEM, "out of memory");
            pthread_mutex_lock(&db->rlock);
            bt_node *old = c->trees[j].root;
            c->trees[j].root = stub;
            pthread_mutex_unlock(&db->rlock);
            if (old) bt_node_unref(old);
        }
    }
    return 0;
}

/* ---- exclusive access ------------------------------------------------------ */

/* Checkpoint creation and rollback act as a transaction: no commit may run
 * meanwhile, so the flushed versions are the committed heads. */
static int writer_enter(bt_db *db)
{
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    pthread_mutex_lock(&db->wlock);
    int rc = 0;
    if (db->failed) rc = bt_db__set_msg(BT_EBADSTATE, "an earlier write failed; reopen the database");
    else if (db->txn_open) rc = bt_db__set_msg(BT_EBUSY, "a transaction is open");
    else db->txn_open = true;
    pthread_mutex_unlock(&db->wlock);
    return rc;
}

static void writer_leave(bt_db *db)
{
    pthread_mutex_lock(&db->wlock);
    db->txn_open = false;
    pthread_mutex_unlock(&db->wlock);
}

/* ---- orphans ------------------------------------------------------------- */

/* Settles the orphans of checkpoint c into batch b (K3):
 *   alive_below: orphans with ids below it are alive again (rollback) and
 *                lose their record only;
 *   heir:        otherwise an orphan below heir's frontier moves to heir;
 *   the rest are deleted with their nodes. */
static int settle_orphans(bt_db *db, bt_kv_batch *b, const dbckpt *c, uint64_t alive_below,
                          const dbckpt *heir, uint64_t *deleted)
{
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_CHECKPOINTS);
    if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    uint8_t k0[9];
    bt_key_u64(k0, 'o', c->id);
    int rc = 0;
    for (db->kv->v->iter_seek(it, k0, 9); db->kv->v->iter_valid(it); db->kv->v->iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = db->kv->v->iter_key(it, &kl);
        const uint8_t *val = db->kv->v->iter_value(it, &vl);
        if (kl < 9 || memcmp(k, k0, 9) != 0) break;
        uint32_t tree_id;
        uint8_t label[32];
        if (kl != 17 || bt_rec_orphan_decode(&tree_id, label, val, vl)) {
            rc = bt_db__set_msg(BT_ECORRUPT, "orphan record of checkpoint %llu is damaged",
                                (unsigned long long)c->id);
            break;
        }
        uint64_t node = bt_load_u64be(k + 9);
        db->kv->v->batch_del(b, BT_CF_CHECKPOINTS, k, kl);
        if (node < alive_below) continue;
        if (heir && node < heir->frontier) {
            uint8_t nk[17];
            bt_key_u64(nk, 'o', heir->id);
            bt_store_u64be(nk + 9, node);
            db->kv->v->batch_put(b, BT_CF_CHECKPOINTS, nk, 17, val, vl);
        } else {
            bt_db__node_del(db, b, node, tree_id, label);
            (*deleted)++;
        }
    }
    if (!rc) rc = db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
    db->kv->v->iter_free(it);
    return rc;
}

/* Deletes checkpoint c (fmu held). */
static int delete_locked(bt_db *db, dbckpt *c)
{
    size_t i = ckpt_index(db, c);
    const dbckpt *heir = i > 0 ? db->ckpts[i - 1] : NULL;
    bt_kv_batch *b = db->kv->v->batch_new(db->kv);
    if (!b) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    uint64_t deleted = 0;
    int rc = settle_orphans(db, b, c, 0, heir, &deleted);
    if (!rc) {
        uint8_t k[9];
        bt_key_u64(k, 'c', c->id);
        db->kv->v->batch_del(b, BT_CF_CHECKPOINTS, k, 9);
        rc = bt_db__write(db, b, BT_KV_SYNC);
        if (rc) db->failed = rc;
    }
    db->kv->v->batch_free(b);
    if (!rc) {
        pthread_mutex_lock(&db->wlock);
        db->nodes_deleted += deleted;
        pthread_mutex_unlock(&db->wlock);
        table_remove(db, c);
    }
    return rc;
}

/* Retention (fmu held): a checkpoint other than the newest goes when it is
 * outside every limit that is set. */
static int apply_retention(bt_db *db, uint64_t now_ms)
{
    unsigned keep = db->o.checkpoint_keep;
    uint64_t keep_ms = db->o.checkpoint_keep_ms;
    if (!keep && !keep_ms) return 0;
    int rc = 0;
    size_t i = 0;
    while (!rc && i + 1 < db->nckpts) {
        dbckpt *c = db->ckpts[i];
        size_t newer = db->nckpts - 1 - i; /* checkpoints newer than c */
        bool in_count = keep && newer < keep;
        bool in_age = keep_ms && now_ms - c->ts_ms < keep_ms && c->ts_ms <= now_ms;
        if (in_count || in_age) {
            i++;
            continue;
        }
        rc = delete_locked(db, c); /* c leaves the table; i now names the next */
    }
    return rc;
}

/* At open: a crash between a checkpoint's creation and its retention pass
 * leaves one checkpoint too many. */
int bt_db__ckpt_retention(bt_db *db)
{
    if (db->o.read_only) return 0;
    pthread_mutex_lock(&db->fmu);
    int rc = apply_retention(db, bt_db__now_ms());
    pthread_mutex_unlock(&db->fmu);
    return rc;
}

/* ---- public ------------------------------------------------------------- */

static int label_ok(const char *label, size_t *len)
{
    *len = label ? strlen(label) : 0;
    if (*len > BT_CKPT_LABEL_MAX) return 0;
    for (size_t i = 0; i < *len; i++)
        if ((unsigned char)label[i] < 0x20 || (unsigned char)label[i] == 0x7F) return 0;
    return 1;
}

int bt_db_checkpoint_create(uint64_t *out_id, bt_db *db, const char *label)
{
    if (out_id) *out_id = 0;
    size_t llen;
    if (!label_ok(label, &llen))
        return bt_db__set_msg(BT_EINVAL, "checkpoint label: at most %d bytes of printable text",
                              BT_CKPT_LABEL_MAX);
    int rc = writer_enter(db);
    if (rc) return rc;
    pthread_mutex_lock(&db->fmu);
    rc = bt_db__flush_locked(db);
    bt_rec_ckpt r;
    memset(&r, 0, sizeof r);
    bt_rec_ckpt_tree *trees = NULL;
    if (!rc) {
        trees = bt_calloc(db->ntrees ? db->ntrees : 1, sizeof *trees);
        if (!trees) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    if (!rc && db->ntrees > BT_CKPT_TREES_MAX)
        rc = bt_db__set_msg(BT_ELIMIT, "a checkpoint holds at most %d trees", BT_CKPT_TREES_MAX);
    if (!rc) {
        pthread_mutex_lock(&db->wlock);
        r.id = db->next_ckpt_id;
        r.ts_ms = bt_db__now_ms();
        r.commit_seq = db->meta.commit_seq;
        r.op_seq = db->meta.op_seq;
        r.frontier = atomic_load(&db->next_node_id);
        r.label_len = (uint8_t)llen;
        if (llen) memcpy(r.label, label, llen);
        r.ntrees = (uint16_t)db->ntrees;
        for (size_t i = 0; !rc && i < db->ntrees; i++) {
            dbtree *dt = db->trees[i];
            trees[i].tree_id = dt->id;
            trees[i].root_id = bt_node_id(dt->flushed);
            trees[i].count = dt->committed_count;
            memcpy(trees[i].digest, dt->committed_digest, BT_DIGEST_LEN);
            if (dt->flushed != dt->committed || !trees[i].root_id)
                rc = bt_db__set_msg(BT_EBADSTATE, "tree %s is not flushed", dt->name);
        }
        pthread_mutex_unlock(&db->wlock);
    }
    bt_buf v = BT_BUF_INIT;
    bt_kv_batch *b = rc ? NULL : db->kv->v->batch_new(db->kv);
    if (!rc && !b) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    if (!rc) {
        uint8_t k[9];
        bt_key_u64(k, 'c', r.id);
        rc = bt_rec_ckpt_encode(&v, &r, trees);
        if (!rc) db->kv->v->batch_put(b, BT_CF_CHECKPOINTS, k, 9, v.data, v.len);
        v.len = 0;
        if (!rc) rc = bt_rec_u64_encode(&v, r.id + 1);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, "ckpt", 4, v.data, v.len);
        if (rc) rc = bt_db__set_msg(rc, "out of memory");
    }
    if (!rc) {
        rc = bt_db__write(db, b, BT_KV_SYNC);
        if (rc) db->failed = rc;
    }
    dbckpt *c = NULL;
    if (!rc) db->next_ckpt_id = r.id + 1;
    if (!rc) {
        /* roots: share the heads' nodes (already loaded; K1) */
        c = bt_calloc(1, sizeof *c);
        if (c) c->trees = bt_calloc(r.ntrees ? r.ntrees : 1, sizeof *c->trees);
        if (!c || !c->trees) {
            ckpt_free(c);
            c = NULL;
            rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
    }
    if (!rc) {
        c->id = r.id;
        c->ts_ms = r.ts_ms;
        c->commit_seq = r.commit_seq;
        c->op_seq = r.op_seq;
        c->frontier = r.frontier;
        memcpy(c->label, r.label, sizeof c->label);
        c->ntrees = r.ntrees;
        pthread_mutex_lock(&db->wlock);
        for (size_t i = 0; i < r.ntrees; i++) {
            c->trees[i].tree_id = trees[i].tree_id;
            c->trees[i].root_id = trees[i].root_id;
            c->trees[i].count = trees[i].count;
            memcpy(c->trees[i].digest, trees[i].digest, BT_DIGEST_LEN);
            c->trees[i].root = bt_node_ref(db->trees[i]->flushed);
        }
        pthread_mutex_unlock(&db->wlock);
        rc = table_append(db, c);
        if (rc) ckpt_free(c);
    }
    if (!rc) rc = apply_retention(db, r.ts_ms);
    pthread_mutex_unlock(&db->fmu);
    if (b) db->kv->v->batch_free(b);
    bt_buf_free(&v);
    bt_mem_free(trees);
    writer_leave(db);
    if (!rc && db->o.oplog_keep_ms && r.ts_ms > db->o.oplog_keep_ms) {
        /* automatic log compaction: what the oldest checkpoint, recovery and
         * the retention period do not need */
        uint64_t bound = r.op_seq;
        rc = bt_db_oplog_prune(NULL, db, bound);
    }
    if (!rc && out_id) *out_id = r.id;
    return rc;
}

static int copy_out(bt_checkpoint *out, bt_checkpoint_tree *trees, bt_db *db, const dbckpt *c)
{
    memset(out, 0, sizeof *out);
    out->id = c->id;
    out->ts_ms = c->ts_ms;
    out->commit_seq = c->commit_seq;
    out->op_seq = c->op_seq;
    snprintf(out->label, sizeof out->label, "%s", c->label);
    out->ntrees = c->ntrees;
    out->trees = trees;
    for (size_t i = 0; i < c->ntrees; i++) {
        dbtree *dt = bt_db__find_id(db, c->trees[i].tree_id);
        snprintf(trees[i].name, sizeof trees[i].name, "%s", dt ? dt->name : "?");
        memcpy(trees[i].digest, c->trees[i].digest, BT_DIGEST_LEN);
        trees[i].count = c->trees[i].count;
    }
    return 0;
}

int bt_db_checkpoint_get(bt_checkpoint **out, bt_db *db, uint64_t id)
{
    *out = NULL;
    pthread_mutex_lock(&db->rlock);
    dbckpt *c = bt_db__ckpt_find(db, id);
    int rc = 0;
    if (!c) {
        rc = bt_db__set_msg(BT_ENOTFOUND, id ? "no checkpoint %llu" : "there is no checkpoint",
                            (unsigned long long)id);
    } else {
        bt_checkpoint *p = bt_calloc(1, sizeof *p + c->ntrees * sizeof(bt_checkpoint_tree));
        if (!p) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
        else copy_out(p, (bt_checkpoint_tree *)(p + 1), db, c);
        *out = p;
    }
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

int bt_db_checkpoint_list(bt_checkpoint **out, size_t *out_count, bt_db *db)
{
    *out = NULL;
    *out_count = 0;
    pthread_mutex_lock(&db->rlock);
    size_t n = db->nckpts, nt = 0;
    for (size_t i = 0; i < n; i++) nt += db->ckpts[i]->ntrees;
    bt_checkpoint *p = bt_calloc(1, n * sizeof *p + nt * sizeof(bt_checkpoint_tree) + 1);
    int rc = 0;
    if (!p) {
        rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    } else {
        bt_checkpoint_tree *t = (bt_checkpoint_tree *)(p + n);
        for (size_t i = 0; i < n; i++) {
            copy_out(&p[i], t, db, db->ckpts[i]);
            t += db->ckpts[i]->ntrees;
        }
        *out = p;
        *out_count = n;
    }
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

int bt_db_checkpoint_delete(bt_db *db, uint64_t id)
{
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    if (db->failed) return bt_db__set_msg(BT_EBADSTATE, "an earlier write failed; reopen the database");
    if (id == 0) return bt_db__set_msg(BT_ENOTFOUND, "no checkpoint 0");
    pthread_mutex_lock(&db->fmu);
    dbckpt *c = bt_db__ckpt_find(db, id);
    int rc = c ? delete_locked(db, c)
               : bt_db__set_msg(BT_ENOTFOUND, "no checkpoint %llu", (unsigned long long)id);
    pthread_mutex_unlock(&db->fmu);
    return rc;
}

int bt_db_checkpoint_validate(bt_db *db, uint64_t id)
{
    /* fresh stubs: every node comes from the store and is checked (not the
     * cached copies the readers use) */
    pthread_mutex_lock(&db->rlock);
    dbckpt *c = bt_db__ckpt_find(db, id);
    size_t n = c ? c->ntrees : 0;
    dbckpt_tree *trees = n ? bt_calloc(n, sizeof *trees) : NULL;
    uint64_t cid = c ? c->id : id;
    if (trees) memcpy(trees, c->trees, n * sizeof *trees);
    pthread_mutex_unlock(&db->rlock);
    if (!c) return bt_db__set_msg(BT_ENOTFOUND, "no checkpoint %llu", (unsigned long long)id);
    if (n && !trees) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        pthread_mutex_lock(&db->rlock);
        dbtree *dt = bt_db__find_id(db, trees[i].tree_id);
        bt_params p = dt->p;
        char name[BT_TREE_NAME_MAX + 1];
        snprintf(name, sizeof name, "%s", dt->name);
        pthread_mutex_unlock(&db->rlock);
        bt_node *stub = bt_node_new_label(trees[i].digest, trees[i].root_id);
        bt_tree *t = NULL;
        if (!stub || bt_tree_open_root(&t, &p, stub, trees[i].digest[32], trees[i].count, &db->src)) {
            if (stub) bt_node_unref(stub);
            rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
            break;
        }
        bt_node_unref(stub);
        rc = bt_tree_check(t);
        if (rc) {
            bt_db__set_msg(rc, "checkpoint %llu, tree %s: %s", (unsigned long long)cid, name,
                           bt_tree_errmsg(t));
        } else {
            uint8_t d[BT_DIGEST_LEN];
            rc = bt_tree_digest(d, t);
            if (!rc && (memcmp(d, trees[i].digest, BT_DIGEST_LEN) != 0 || t->count != trees[i].count))
                rc = bt_db__set_msg(BT_ECORRUPT, "checkpoint %llu, tree %s: digest or count differs "
                                                 "from the checkpoint record",
                                    (unsigned long long)cid, name);
        }
        bt_tree_free(t);
    }
    bt_mem_free(trees);
    return rc;
}

/* Deletes the nodes of a tree's abandoned head that the checkpoint does not
 * hold: those with ids at or above its frontier (K2).  Walks with an explicit
 * stack bounded by the height limit. */
static int drop_newer(bt_db *db, bt_kv_batch *b, dbtree *dt, bt_node *root, uint64_t frontier,
                      uint64_t *deleted)
{
    bt_node *stack[2 * BT_VERIFY_DEPTH_MAX + 2];
    size_t sp = 0;
    stack[sp++] = root;
    bool fixed = dt->p.value_len != BT_VALUE_VARIABLE;
    while (sp) {
        bt_node *x = stack[--sp];
        uint64_t id = bt_node_id(x);
        if (!id) return bt_db__set_msg(BT_ECORRUPT, "tree %s: flushed head holds an unstored node",
                                       dt->name);
        if (id < frontier) continue;
        bt_db__node_del(db, b, id, dt->id, bt_node_label(x));
        (*deleted)++;
        bt_node *n;
        int rc = bt_resolve(x, &db->src, false, dt->p.key_len, fixed, dt->p.value_len, &n,
                            bt_db__msg, sizeof bt_db__msg);
        if (rc) return rc;
        if (n->kind != BT_NK_INTERNAL) continue;
        if (sp + 2 > sizeof stack / sizeof stack[0])
            return bt_db__set_msg(BT_ECORRUPT, "tree %s deeper than the limit", dt->name);
        stack[sp++] = n->u.in.left;
        stack[sp++] = n->u.in.right;
    }
    return 0;
}

int bt_db_rollback(bt_db *db, uint64_t checkpoint_id)
{
    int rc = writer_enter(db);
    if (rc) return rc;
    pthread_mutex_lock(&db->fmu);
    dbckpt *c = checkpoint_id ? bt_db__ckpt_find(db, checkpoint_id) : NULL;
    if (!c) rc = bt_db__set_msg(BT_ENOTFOUND, "no checkpoint %llu", (unsigned long long)checkpoint_id);
    for (size_t i = 0; !rc && i < db->ntrees; i++) {
        bool in = false;
        for (size_t j = 0; j < c->ntrees; j++) in |= c->trees[j].tree_id == db->trees[i]->id;
        if (!in)
            rc = bt_db__set_msg(BT_EBADSTATE,
                                "tree %s was created after checkpoint %llu; cannot roll back",
                                db->trees[i]->name, (unsigned long long)checkpoint_id);
    }
    if (!rc) rc = bt_db__flush_locked(db); /* flushed == committed for every tree */
    bt_kv_batch *b = rc ? NULL : db->kv->v->batch_new(db->kv);
    if (!rc && !b) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    uint64_t deleted = 0;
    size_t ci = c ? ckpt_index(db, c) : 0;
    /* 1. later checkpoints: their orphans below c's frontier are alive
     *    again, the rest go; c's own orphans are alive again */
    for (size_t i = db->nckpts; !rc && i-- > ci + 1;) {
        rc = settle_orphans(db, b, db->ckpts[i], c->frontier, NULL, &deleted);
        uint8_t k[9];
        bt_key_u64(k, 'c', db->ckpts[i]->id);
        if (!rc) db->kv->v->batch_del(b, BT_CF_CHECKPOINTS, k, 9);
    }
    if (!rc) rc = settle_orphans(db, b, c, c->frontier, NULL, &deleted);
    /* 2. nodes of the abandoned heads that c does not hold */
    for (size_t i = 0; !rc && i < db->ntrees; i++)
        rc = drop_newer(db, b, db->trees[i], db->trees[i]->flushed, c->frontier, &deleted);
    /* 3. the log after c, records of the heads, roots, commit and epoch */
    if (!rc) rc = bt_db__oplog_truncate(db, b, c->op_seq);
    bt_buf v = BT_BUF_INIT;
    bt_rec_commit_meta m = db->meta;
    m.commit_seq = c ? c->commit_seq : 0;
    m.op_seq = c ? c->op_seq : 0;
    m.next_node_id = atomic_load(&db->next_node_id);
    for (size_t j = 0; !rc && j < c->ntrees; j++) {
        const dbckpt_tree *ct = &c->trees[j];
        bt_rec_head h = {c->commit_seq, {0}, ct->count};
        memcpy(h.digest, ct->digest, BT_DIGEST_LEN);
        uint8_t k[9] = {'h', 'e', 'a', 'd', '/'};
        bt_store_u32be(k + 5, ct->tree_id);
        v.len = 0;
        if ((rc = bt_rec_head_encode(&v, &h))) break;
        db->kv->v->batch_put(b, BT_CF_META, k, 9, v.data, v.len);
        bt_rec_root rr = {ct->root_id, {0}, ct->digest[32], ct->count, c->op_seq};
        memcpy(rr.label, ct->digest, 32);
        memcpy(k, "root/", 5);
        v.len = 0;
        if ((rc = bt_rec_root_encode(&v, &rr))) break;
        db->kv->v->batch_put(b, BT_CF_META, k, 9, v.data, v.len);
    }
    v.len = 0;
    if (!rc && !(rc = bt_rec_commit_meta_encode(&v, &m)))
        db->kv->v->batch_put(b, BT_CF_META, "commit", 6, v.data, v.len);
    v.len = 0;
    if (!rc && !(rc = bt_rec_u32_encode(&v, db->epoch + 1)))
        db->kv->v->batch_put(b, BT_CF_META, "epoch", 5, v.data, v.len);
    if (!rc) {
        rc = bt_db__write(db, b, BT_KV_SYNC);
        if (rc) db->failed = rc;
    } else if (rc == BT_ENOMEM) {
        bt_db__set_msg(rc, "out of memory");
    }
    bt_buf_free(&v);
    if (b) db->kv->v->batch_free(b);
    if (!rc) {
        /* the in-memory state follows the store */
        pthread_mutex_lock(&db->wlock);
        db->epoch++;
        db->meta = m;
        db->ops_since_flush = 0;
        db->dirty_bytes = 0;
        db->nodes_deleted += deleted;
        for (size_t j = 0; j < c->ntrees; j++) {
            const dbckpt_tree *ct = &c->trees[j];
            dbtree *dt = bt_db__find_id(db, ct->tree_id);
            bt_node *stub = bt_node_new_label(ct->digest, ct->root_id);
            bt_tree *t2 = NULL;
            if (!stub || bt_tree_open_root(&t2, &dt->p, stub, ct->digest[32], ct->count, &db->src)) {
                if (stub) bt_node_unref(stub);
                db->failed = rc = bt_db__set_msg(BT_ENOMEM, "out of memory after a rollback; reopen");
                break;
            }
            bt_tree_free(dt->t);
            dt->t = t2;
            bt_node_unref(dt->flushed);
            dt->flushed = stub; /* takes the creation reference */
            dt->flushed_op_seq = c->op_seq;
            bt_db__publish(db, dt, c->commit_seq);
        }
        atomic_store(&db->cache_bytes, 0);
        pthread_mutex_unlock(&db->wlock);
        pthread_mutex_lock(&db->smu);
        db->written_commit = db->synced_commit = m.commit_seq;
        db->written_op = m.op_seq;
        db->unsynced_ops = 0;
        pthread_mutex_unlock(&db->smu);
        bt_db__write_marker(db, m.commit_seq, m.op_seq);
        while (db->nckpts > ci + 1) table_remove(db, db->ckpts[db->nckpts - 1]);
    }
    pthread_mutex_unlock(&db->fmu);
    writer_leave(db);
    return rc;
}
