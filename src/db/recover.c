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

static int verify_commit(bt_db *db, uint64_t commit_seq, uint64_t last_op)
{
    uint8_t k[9];
    bt_key_u64(k, 'c', commit_seq);
    bt_buf v = BT_BUF_INIT;
    int rc = db->kv->v->get(db->kv, BT_CF_OPS, k, 9, &v, bt_db__msg, sizeof bt_db__msg);
    if (rc == BT_ENOTFOUND)
        rc = bt_db__set_msg(BT_ECORRUPT, "operation log: commit record %llu is missing",
                            (unsigned long long)commit_seq);
    bt_rec_commit c;
    if (!rc && bt_rec_commit_decode(&c, v.data, v.len))
        rc = bt_db__set_msg(BT_ECORRUPT, "operation log: commit record %llu is damaged",
                            (unsigned long long)commit_seq);
    if (!rc && c.first_op_seq + c.op_count - 1 != last_op)
        rc = bt_db__set_msg(BT_ECORRUPT, "operation log: commit %llu should end at op %llu, not %llu",
                            (unsigned long long)commit_seq,
                            (unsigned long long)(c.first_op_seq + c.op_count - 1),
                            (unsigned long long)last_op);
    for (unsigned i = 0; !rc && i < c.ntrees; i++) {
        bt_rec_commit_tree ct;
        bt_rec_commit_tree_at(&ct, &c, i);
        dbtree *dt = bt_db__find_id(db, ct.tree_id);
        uint8_t d[BT_DIGEST_LEN];
        if (!dt) {
            rc = bt_db__set_msg(BT_ECORRUPT, "commit %llu names unknown tree %u",
                                (unsigned long long)commit_seq, ct.tree_id);
        } else if ((rc = bt_tree_digest(d, dt->t))) {
            bt_db__set_msg(rc, "tree %s: %s", dt->name, bt_tree_errmsg(dt->t));
        } else if (memcmp(d, ct.digest, BT_DIGEST_LEN) != 0) {
            rc = bt_db__set_msg(BT_ECORRUPT,
                                "replay of commit %llu did not reproduce tree %s's recorded digest",
                                (unsigned long long)commit_seq, dt->name);
        } else {
            bt_tree_mark_committed(dt->t);
        }
    }
    bt_buf_free(&v);
    return rc;
}

static int decode_op(bt_db *db, uint64_t seq, const uint8_t *val, size_t vl, bt_rec_op *r,
                     dbtree **out)
{
    uint32_t tid;
    dbtree *dt = NULL;
    if (bt_rec_op_tree(&tid, val, vl) == 0) dt = bt_db__find_id(db, tid);
    if (!dt || bt_rec_op_decode(r, val, vl, dt->p.key_len))
        return bt_db__set_msg(BT_ECORRUPT, "operation log: record %llu is damaged",
                              (unsigned long long)seq);
    *out = dt;
    return 0;
}

static int replay_one(bt_db *db, uint64_t seq, const bt_rec_op *rp, dbtree *dt)
{
    const bt_rec_op r = *rp;
    if (seq <= dt->flushed_op_seq) return 0;
    bt_op op = {r.type, r.key, r.key_len, r.value, r.value_len};
    bt_result res;
    int rc = bt_tree_apply(dt->t, &op, &res);
    if (rc) return bt_db__set_msg(rc, "replaying op %llu: %s", (unsigned long long)seq, bt_tree_errmsg(dt->t));
    if (res.status || (res.found != 0) != r.has_prev ||
        (r.has_prev && (res.old_len != r.prev_len || memcmp(res.old, r.prev, r.prev_len) != 0)))
        return bt_db__set_msg(BT_ECORRUPT, "replay of op %llu on tree %s diverged from the log",
                              (unsigned long long)seq, dt->name);
    dt->touched = true;
    db->replayed_ops++;
    return 0;
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
    uint64_t expect = start + 1, cur_commit = 0, last = start;
    if (start < db->meta.op_seq) {
        bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_OPS);
        if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
        uint8_t k0[9];
        bt_key_u64(k0, 'o', expect);
        for (db->kv->v->iter_seek(it, k0, 9); !rc && db->kv->v->iter_valid(it);
             db->kv->v->iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = db->kv->v->iter_key(it, &kl);
            const uint8_t *val = db->kv->v->iter_value(it, &vl);
            if (kl != 9 || k[0] != 'o') break;
            uint64_t seq = bt_load_u64be(k + 1);
            if (seq != expect) {
                rc = bt_db__set_msg(BT_ECORRUPT, "operation log: op %llu is missing",
                                    (unsigned long long)expect);
                break;
            }
            bt_rec_op r;
            dbtree *dt = NULL;
            if ((rc = decode_op(db, seq, val, vl, &r, &dt))) break;
            if (cur_commit && r.commit_seq != cur_commit &&
                (rc = verify_commit(db, cur_commit, seq - 1)))
                break;
            cur_commit = r.commit_seq;
            if ((rc = replay_one(db, seq, &r, dt))) break;
            last = seq;
            expect++;
        }
        if (!rc) rc = db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
        db->kv->v->iter_free(it);
        if (!rc && cur_commit) rc = verify_commit(db, cur_commit, last);
        if (!rc && last != db->meta.op_seq)
            rc = bt_db__set_msg(BT_ECORRUPT,
                                "operation log ends at op %llu but commit %llu ends at op %llu",
                                (unsigned long long)last, (unsigned long long)db->meta.commit_seq,
                                (unsigned long long)db->meta.op_seq);
        if (!rc && cur_commit != db->meta.commit_seq)
            rc = bt_db__set_msg(BT_ECORRUPT, "operation log ends at commit %llu, metadata says %llu",
                                (unsigned long long)cur_commit,
                                (unsigned long long)db->meta.commit_seq);
    }
    if (!rc) rc = check_heads(db);
    for (size_t i = 0; !rc && i < db->ntrees; i++) {
        dbtree *dt = db->trees[i];
        bt_tree_mark_committed(dt->t);
        if (dt->touched) bt_db__publish(db, dt, 0);
        dt->touched = false;
    }
    db->ops_since_flush = db->meta.op_seq - start;
    db->written_commit = db->synced_commit = db->meta.commit_seq;
    db->written_op = db->meta.op_seq;
    return rc;
}
