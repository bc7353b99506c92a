/*
 * recover.c -- bringing trees from their flushed roots up to the last commit
 * by replaying the operation log, and cross-checking what the engine
 * recovered (D2).
 *
 * Rules:
 *  R1. Operation records are read in sequence order starting after the
 *      smallest flushed_op_seq of all trees; sequence numbers must be
 *      gapless.  An op of a tree is applied only if it is newer than that
 *      tree's flushed_op_seq.
 *  R2. Every replayed operation must succeed again and find the same
 *      previous value that the log recorded (determinism check).
 *  R3. At each commit boundary the digests in the commit record must be
 *      reproduced; at the end the log must reach exactly the `commit`
 *      metadata record's op and commit seqs, and every tree's digest must
 *      equal its `head/` record.  Anything else is BT_ECORRUPT: the store
 *      lost or damaged acknowledged data, and we refuse to guess.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include <string.h>

static unsigned klen_of(void *ctx, uint32_t tree_id)
{
    dbtree *dt = bt_db__find_id(ctx, tree_id);
    return dt ? dt->p.key_len : 0;
}

/* R3: the commit's recorded digests are reproduced. */
static int verify_commit(bt_db *db, const bt_rec_block *blk)
{
    int rc = 0;
    for (unsigned i = 0; !rc && i < blk->ntrees; i++) {
        bt_rec_commit_tree ct;
        bt_rec_block_tree_at(&ct, blk, i);
        dbtree *dt = bt_db__find_id(db, ct.tree_id);
        uint8_t d[BT_DIGEST_LEN];
        if (!dt) {
            rc = bt_db__set_msg(BT_ECORRUPT, "commit %llu names unknown tree %u",
                                (unsigned long long)blk->commit_seq, ct.tree_id);
        } else if (!dt->touched) {
            continue; /* its ops were all older than its flushed version */
        } else if ((rc = bt_tree_digest(d, dt->t))) {
            bt_db__set_msg(rc, "tree %s: %s", dt->name, bt_tree_errmsg(dt->t));
        } else if (memcmp(d, ct.digest, BT_DIGEST_LEN) != 0) {
            rc = bt_db__set_msg(BT_ECORRUPT,
                                "replay of commit %llu did not reproduce tree %s's recorded digest",
                                (unsigned long long)blk->commit_seq, dt->name);
        }
    }
    for (size_t i = 0; !rc && i < db->ntrees; i++)
        if (db->trees[i]->touched) bt_tree_mark_committed(db->trees[i]->t);
    return rc;
}

/* R2: re-applies one logged op if it is newer than its tree's flushed version. */
static int replay_one(bt_db *db, uint64_t seq, const bt_rec_op *r)
{
    dbtree *dt = bt_db__find_id(db, r->tree_id);
    if (!dt) return bt_db__set_msg(BT_ECORRUPT, "op %llu names unknown tree %u",
                                   (unsigned long long)seq, r->tree_id);
    if (seq <= dt->flushed_op_seq) return 0;
    bt_op op = {r->type, r->key, r->key_len, r->value, r->value_len};
    bt_result res;
    int rc = bt_tree_apply(dt->t, &op, &res);
    if (rc) return bt_db__set_msg(rc, "replaying op %llu: %s", (unsigned long long)seq, bt_tree_errmsg(dt->t));
    if (res.status || (res.found != 0) != r->has_prev ||
        (r->has_prev && (res.old_len != r->prev_len || memcmp(res.old, r->prev, r->prev_len) != 0)))
        return bt_db__set_msg(BT_ECORRUPT, "replay of op %llu on tree %s diverged from the log",
                              (unsigned long long)seq, dt->name);
    dt->touched = true;
    db->replayed_ops++;
    return 0;
}

static int replay_block(bt_db *db, const uint8_t *key, size_t kl, const uint8_t *val, size_t vl,
                        uint64_t *expect_op, uint64_t *expect_commit)
{
    bt_rec_block blk;
    if (kl != 9 || bt_rec_block_decode(&blk, val, vl) ||
        bt_load_u64be(key + 1) != blk.first_op_seq)
        return bt_db__set_msg(BT_ECORRUPT, "operation log: block at op %llu is damaged",
                              (unsigned long long)*expect_op);
    uint64_t last = blk.first_op_seq + blk.op_count - 1;
    if (last < *expect_op) return 0; /* entirely older than every tree's flush */
    if (*expect_commit && blk.commit_seq != *expect_commit)
        return bt_db__set_msg(BT_ECORRUPT, "operation log: commit %llu is missing",
                              (unsigned long long)*expect_commit);
    if (blk.first_op_seq > *expect_op)
        return bt_db__set_msg(BT_ECORRUPT, "operation log: op %llu is missing",
                              (unsigned long long)*expect_op);
    const uint8_t *cur = blk.ops;
    for (uint64_t seq = blk.first_op_seq; seq <= last; seq++) {
        bt_rec_op r;
        if (bt_rec_block_next(&r, &cur, blk.ops_end, klen_of, db))
            return bt_db__set_msg(BT_ECORRUPT, "operation log: op %llu is damaged",
                                  (unsigned long long)seq);
        int rc = replay_one(db, seq, &r);
        if (rc) return rc;
    }
    if (cur != blk.ops_end)
        return bt_db__set_msg(BT_ECORRUPT, "operation log: commit %llu has trailing bytes",
                              (unsigned long long)blk.commit_seq);
    *expect_op = last + 1;
    *expect_commit = blk.commit_seq + 1;
    return verify_commit(db, &blk);
}

static int check_heads(bt_db *db)
{
    bt_buf v = BT_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; !rc && i < db->ntrees; i++) {
        dbtree *dt = db->trees[i];
        uint8_t k[9] = {'h', 'e', 'a', 'd', '/'};
        bt_store_u32be(k + 5, dt->id);
        v.len = 0;
        rc = db->kv->v->get(db->kv, BT_CF_META, k, 9, &v, bt_db__msg, sizeof bt_db__msg);
        bt_rec_head h;
        uint8_t d[BT_DIGEST_LEN];
        if (rc == BT_ENOTFOUND || (!rc && bt_rec_head_decode(&h, v.data, v.len)))
            rc = bt_db__set_msg(BT_ECORRUPT, "head record of tree %s is missing or damaged", dt->name);
        if (!rc && (rc = bt_tree_digest(d, dt->t)))
            bt_db__set_msg(rc, "tree %s: %s", dt->name, bt_tree_errmsg(dt->t));
        if (!rc && (memcmp(d, h.digest, BT_DIGEST_LEN) != 0 || h.count != dt->t->count))
            rc = bt_db__set_msg(BT_ECORRUPT,
                                "tree %s: recovered state differs from its head record "
                                "(commit %llu); acknowledged data may have been lost",
                                dt->name, (unsigned long long)h.commit_seq);
        if (!rc) dt->head_commit_seq = h.commit_seq;
    }
    bt_buf_free(&v);
    return rc;
}

int bt_db__recover(bt_db *db)
{
    uint64_t start = db->meta.op_seq;
    for (size_t i = 0; i < db->ntrees; i++)
        if (db->trees[i]->flushed_op_seq < start) start = db->trees[i]->flushed_op_seq;
    int rc = 0;
    uint64_t expect = start + 1, expect_commit = 0;
    if (start < db->meta.op_seq) {
        bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_OPS);
        if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
        uint8_t k0[9];
        bt_key_u64(k0, 'b', expect);
        db->kv->v->iter_seek_for_prev(it, k0, 9); /* the block holding op `expect` */
        if (!db->kv->v->iter_valid(it)) db->kv->v->iter_seek(it, k0, 9);
        for (; !rc && db->kv->v->iter_valid(it); db->kv->v->iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = db->kv->v->iter_key(it, &kl);
            const uint8_t *val = db->kv->v->iter_value(it, &vl);
            if (kl < 1 || k[0] != 'b') {
                if (k[0] < 'b') continue;
                break;
            }
            rc = replay_block(db, k, kl, val, vl, &expect, &expect_commit);
        }
        if (!rc) rc = db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
        db->kv->v->iter_free(it);
        if (!rc && expect != db->meta.op_seq + 1)
            rc = bt_db__set_msg(BT_ECORRUPT,
                                "operation log ends at op %llu but commit %llu ends at op %llu",
                                (unsigned long long)(expect - 1),
                                (unsigned long long)db->meta.commit_seq,
                                (unsigned long long)db->meta.op_seq);
        if (!rc && expect_commit != db->meta.commit_seq + 1)
            rc = bt_db__set_msg(BT_ECORRUPT, "operation log ends at commit %llu, metadata says %llu",
                                (unsigned long long)(expect_commit - 1),
                                (unsigned long long)db->meta.commit_seq);
    }
    if (!rc) rc = check_heads(db);
    for (size_t i = 0; !rc && i < db->ntrees; i++) {
        dbtree *dt = db->trees[i];
        db->dirty_bytes += bt_tree_take_new_bytes(dt->t);
        bt_tree_mark_committed(dt->t);
        if (dt->touched) bt_db__publish(db, dt, 0);
        dt->touched = false;
    }
    db->ops_since_flush = db->meta.op_seq - start;
    db->written_commit = db->synced_commit = db->meta.commit_seq;
    db->written_op = db->meta.op_seq;
    return rc;
}
