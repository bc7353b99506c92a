/*
 * test_checkpoint.c -- checkpoints, proofs against them, retention and
 * reclamation (the stored node set must be exactly what the head and the
 * retained checkpoints reach), rollback, op-log queries, pruning, replay.
 *
 * Every state is compared with in-memory mirror trees that received the
 * same operations (bt_tree is the reference: same digests as Ergo).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "codec/endian.h"
#include "codec/records.h"
#include "db/db_int.h"
#include "store/kv.h"
#include "testutil.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bt-test-ckpt-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s-replay", dir, dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static const bt_params P = {BT_PARAMS_VERSION, 32, 8, 0};

static bt_db *open_opts(uint64_t flush_ops, unsigned keep)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_NONE;
    o.flush_ops = flush_ops;
    o.min_free_bytes = 0;
    o.checkpoint_keep = keep;
    bt_db *db = NULL;
    char msg[256] = "";
    int rc = bt_db_open(&db, dir, &o, msg, sizeof msg);
    if (rc) fprintf(stderr, "open: %s\n", msg);
    assert_int_equal(rc, 0);
    return db;
}

static void key_of(uint8_t k[32], uint64_t i)
{
    uint64_t s = i * 7919 + 17;
    for (int j = 0; j < 4; j++) {
        uint64_t x = tu_rand(&s);
        memcpy(k + 8 * j, &x, 8);
    }
}

/* n random ops on keyspace into tree "t" of db and into mirror; ts given. */
static void batch(bt_db *db, bt_tree *mirror, uint64_t *rng, int n, int keyspace, uint64_t ts)
{
    bt_op *ops = calloc((size_t)n, sizeof *ops);
    bt_result *r1 = calloc((size_t)n, sizeof *r1), *r2 = calloc((size_t)n, sizeof *r2);
    uint8_t(*keys)[32] = calloc((size_t)n, 32), (*vals)[8] = calloc((size_t)n, 8);
    for (int i = 0; i < n; i++) {
        uint64_t x = tu_rand(rng);
        key_of(keys[i], x % (uint64_t)keyspace);
        memcpy(vals[i], &x, 8);
        ops[i] = (bt_op){(x >> 20) % 5 == 0 ? BT_OP_REMOVE_IF_EXISTS : BT_OP_INSERT_OR_UPDATE,
                         keys[i], 32, vals[i], 8};
    }
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    if (ts) bt_txn_set_time(t, ts);
    assert_int_equal(bt_txn_apply(t, "t", ops, (size_t)n, r1), 0);
    assert_int_equal(bt_txn_commit(t, NULL), 0);
    assert_int_equal(bt_tree_apply_batch(mirror, ops, (size_t)n, r2), 0);
    uint8_t d1[33], d2[33];
    assert_int_equal(bt_db_digest(d1, db, "t"), 0);
    assert_int_equal(bt_tree_digest(d2, mirror), 0);
    assert_memory_equal(d1, d2, 33);
    free(ops);
    free(r1);
    free(r2);
    free(keys);
    free(vals);
}

/* The ops batch() would apply next, applied to a tree only. */
static void batch_mem_only(bt_tree *t, uint64_t *rng, int n, int keyspace)
{
    bt_op *ops = calloc((size_t)n, sizeof *ops);
    bt_result *res = calloc((size_t)n, sizeof *res);
    uint8_t(*keys)[32] = calloc((size_t)n, 32), (*vals)[8] = calloc((size_t)n, 8);
    for (int i = 0; i < n; i++) {
        uint64_t x = tu_rand(rng);
        key_of(keys[i], x % (uint64_t)keyspace);
        memcpy(vals[i], &x, 8);
        ops[i] = (bt_op){(x >> 20) % 5 == 0 ? BT_OP_REMOVE_IF_EXISTS : BT_OP_INSERT_OR_UPDATE,
                         keys[i], 32, vals[i], 8};
    }
    assert_int_equal(bt_tree_apply_batch(t, ops, (size_t)n, res), 0);
    free(ops);
    free(res);
    free(keys);
    free(vals);
}

/* ---- the stored node set ------------------------------------------------- */

typedef struct idset {
    uint64_t *v;
    size_t n, cap;
} idset;

static void ids_add(idset *s, uint64_t id)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void ids_sort_unique(idset *s)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++)
        if (w == 0 || s->v[w - 1] != s->v[i]) s->v[w++] = s->v[i];
    s->n = w;
}

/* Adds every node reachable from root id (reading the nodes partition). */
static void reach(bt_db *db, uint64_t root, idset *out)
{
    uint64_t stack[600];
    size_t sp = 0;
    stack[sp++] = root;
    bt_buf v = BT_BUF_INIT;
    while (sp) {
        uint64_t id = stack[--sp];
        ids_add(out, id);
        uint8_t k[8];
        bt_store_u64be(k, id);
        v.len = 0;
        char msg[128];
        int rc = db->kv->v->get(db->kv, BT_CF_NODES, k, 8, &v, msg, sizeof msg);
        if (rc) fprintf(stderr, "node %llu: %d\n", (unsigned long long)id, rc);
        assert_int_equal(rc, 0);
        bt_rec_node r;
        assert_int_equal(bt_rec_node_decode(&r, v.data, v.len, 32, 8), 0);
        if (r.kind == 2) {
            assert_true(sp + 2 < 600);
            stack[sp++] = r.left_id;
            stack[sp++] = r.right_id;
        }
    }
    bt_buf_free(&v);
}

/* The stored node ids must be exactly those the flushed heads and the
 * retained checkpoints reach (no leak, nothing missing). */
static void check_node_set(bt_db *db)
{
    assert_int_equal(bt_db_flush(db), 0);
    idset want = {0}, have = {0};
    for (size_t i = 0; i < db->ntrees; i++) reach(db, bt_node_id(db->trees[i]->flushed), &want);
    for (size_t i = 0; i < db->nckpts; i++)
        for (size_t j = 0; j < db->ckpts[i]->ntrees; j++) reach(db, db->ckpts[i]->trees[j].root_id, &want);
    ids_sort_unique(&want);
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_NODES);
    for (db->kv->v->iter_seek(it, "", 0); db->kv->v->iter_valid(it); db->kv->v->iter_next(it)) {
        size_t kl;
        const uint8_t *k = db->kv->v->iter_key(it, &kl);
        assert_int_equal(kl, 8);
        ids_add(&have, bt_load_u64be(k));
    }
    db->kv->v->iter_free(it);
    if (want.n != have.n) fprintf(stderr, "want %zu nodes, have %zu\n", want.n, have.n);
    assert_int_equal(want.n, have.n);
    assert_memory_equal(want.v, have.v, want.n * sizeof *want.v);
    free(want.v);
    free(have.v);
}

/* Proves a few lookups against checkpoint id and verifies them against its
 * digest; values must equal those of the mirror taken at that time. */
static void prove_at(bt_db *db, uint64_t id, bt_tree *then, uint64_t *rng, int keyspace)
{
    uint8_t d[33], dm[33];
    assert_int_equal(bt_db_digest_at(d, db, "t", id), 0);
    assert_int_equal(bt_tree_digest(dm, then), 0);
    assert_memory_equal(d, dm, 33);
    bt_op ops[8];
    uint8_t keys[8][32];
    for (int i = 0; i < 8; i++) {
        key_of(keys[i], tu_rand(rng) % (uint64_t)keyspace);
        ops[i] = (bt_op){BT_OP_LOOKUP, keys[i], 32, NULL, 0};
    }
    uint8_t *proof;
    size_t plen;
    uint8_t after[33];
    bt_result res[8];
    assert_int_equal(bt_db_prove_at(&proof, &plen, after, res, db, "t", id, ops, 8), 0);
    assert_memory_equal(after, d, 33);
    uint8_t vd[33];
    assert_int_equal(tu_verify(vd, &P, d, proof, plen, ops, 8, NULL), 0);
    assert_memory_equal(vd, d, 33);
    for (int i = 0; i < 8; i++) {
        const uint8_t *mv;
        size_t ml;
        int mrc = bt_tree_get(&mv, &ml, then, keys[i], 32);
        uint8_t *v;
        size_t vl;
        int rc = bt_db_get_at(&v, &vl, db, "t", id, keys[i], 32);
        assert_int_equal(rc, mrc);
        assert_int_equal(res[i].found, mrc == 0);
        if (!rc) {
            assert_int_equal(vl, ml);
            assert_memory_equal(v, mv, ml);
            bt_free(v);
        }
    }
    bt_free(proof);
}

/* Checkpoints survive many later commits, flushes and a reopen; proofs
 * against them verify; retention keeps exactly the newest K and reclaims
 * every node only dropped checkpoints used. */
static void test_checkpoints_pin_and_reclaim(void **state)
{
    (void)state;
    bt_db *db = open_opts(500, 3);
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &P), 0);
    /* mirrors of the retained checkpoints: rebuilt by replaying a copy */
    uint64_t rng = 1;
    const int keyspace = 3000;
    for (int i = 0; i < 6; i++) batch(db, mirror, &rng, 500, keyspace, 0);
    enum { ROUNDS = 8 };
    bt_tree *then[ROUNDS + 1];
    uint64_t ids[ROUNDS + 1];
    uint64_t rng_hist[ROUNDS + 1];
    for (int r = 0; r < ROUNDS; r++) {
        assert_int_equal(bt_db_checkpoint_create(&ids[r], db, "round"), 0);
        assert_int_equal(ids[r], (uint64_t)r + 1);
        rng_hist[r] = rng;
        then[r] = NULL;
        /* the whole log replays from empty to the recorded digests */
        bt_replay_info info;
        assert_int_equal(bt_db_replay(&info, db, NULL, NULL, UINT64_MAX, UINT64_MAX), 0);
        /* then[r]: keep a tree with the same digest: rebuild by applying the
         * same random stream to a fresh tree */
        uint64_t rr = 1;
        assert_int_equal(bt_tree_new(&then[r], &P), 0);
        for (int i = 0; i < 6 + r * 3; i++) {
            bt_op ops[500];
            bt_result res[500];
            uint8_t keys[500][32], vals[500][8];
            for (int j = 0; j < 500; j++) {
                uint64_t x = tu_rand(&rr);
                key_of(keys[j], x % (uint64_t)keyspace);
                memcpy(vals[j], &x, 8);
                ops[j] = (bt_op){(x >> 20) % 5 == 0 ? BT_OP_REMOVE_IF_EXISTS : BT_OP_INSERT_OR_UPDATE,
                                 keys[j], 32, vals[j], 8};
            }
            assert_int_equal(bt_tree_apply_batch(then[r], ops, 500, res), 0);
        }
        assert_int_equal(rr, rng);
        prove_at(db, ids[r], then[r], &rng_hist[r], keyspace);
        /* move on: 3 batches (several flushes) */
        for (int i = 0; i < 3; i++) batch(db, mirror, &rng, 500, keyspace, 0);
        check_node_set(db);
        /* retention: the newest 3 */
        bt_checkpoint *list;
        size_t n;
        assert_int_equal(bt_db_checkpoint_list(&list, &n, db), 0);
        assert_int_equal(n, r + 1 < 3 ? (size_t)r + 1 : 3);
        assert_int_equal(list[n - 1].id, ids[r]);
        bt_free(list);
        for (int q = r > 2 ? r - 2 : 0; q <= r; q++) {
            uint64_t s = 99 + (uint64_t)q;
            prove_at(db, ids[q], then[q], &s, keyspace);
            assert_int_equal(bt_db_checkpoint_validate(db, ids[q]), 0);
        }
        if (r >= 3) {
            uint8_t d[33];
            assert_int_equal(bt_db_digest_at(d, db, "t", ids[r - 3]), BT_ENOTFOUND);
        }
    }
    /* reopen: checkpoints and proofs against them survive */
    assert_int_equal(bt_db_close(db), 0);
    db = open_opts(500, 3);
    for (int q = ROUNDS - 3; q < ROUNDS; q++) {
        uint64_t s = 7 + (uint64_t)q;
        prove_at(db, ids[q], then[q], &s, keyspace);
        assert_int_equal(bt_db_checkpoint_validate(db, ids[q]), 0);
    }
    check_node_set(db);
    /* deleting the middle one keeps the others whole */
    assert_int_equal(bt_db_checkpoint_delete(db, ids[ROUNDS - 2]), 0);
    assert_int_equal(bt_db_checkpoint_delete(db, ids[ROUNDS - 2]), BT_ENOTFOUND);
    check_node_set(db);
    for (int q = ROUNDS - 3; q < ROUNDS; q += 2) {
        uint64_t s = 5 + (uint64_t)q;
        prove_at(db, ids[q], then[q], &s, keyspace);
        assert_int_equal(bt_db_checkpoint_validate(db, ids[q]), 0);
    }
    /* deleting all: back to the head's nodes only */
    assert_int_equal(bt_db_checkpoint_delete(db, ids[ROUNDS - 3]), 0);
    assert_int_equal(bt_db_checkpoint_delete(db, ids[ROUNDS - 1]), 0);
    batch(db, mirror, &rng, 500, keyspace, 0);
    check_node_set(db);
    for (int r = 0; r < ROUNDS; r++) bt_tree_free(then[r]);
    bt_tree_free(mirror);
    assert_int_equal(bt_db_close(db), 0);
}

/* Rollback restores the checkpoint's state, drops later checkpoints, the
 * log after it and the nodes only they used; the database then continues
 * from the checkpoint's sequence numbers, also after reopening. */
static void test_rollback(void **state)
{
    (void)state;
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &P), 0);
    uint64_t rng = 5;
    bt_db *db = open_opts(400, 0);
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    for (int i = 0; i < 4; i++) batch(db, mirror, &rng, 300, 2000, 0);
    uint8_t dc[33];
    assert_int_equal(bt_db_digest(dc, db, "t"), 0);
    uint64_t c, d;
    assert_int_equal(bt_db_checkpoint_create(&c, db, "commitment-1"), 0);
    bt_checkpoint *cp;
    assert_int_equal(bt_db_checkpoint_get(&cp, db, c), 0);
    uint64_t c_ops = cp->op_seq, c_commit = cp->commit_seq;
    assert_string_equal(cp->label, "commitment-1");
    assert_memory_equal(cp->trees[0].digest, dc, 33);
    bt_free(cp);
    for (int i = 0; i < 3; i++) batch(db, mirror, &rng, 300, 2000, 0);
    assert_int_equal(bt_db_checkpoint_create(&d, db, NULL), 0);
    for (int i = 0; i < 3; i++) batch(db, mirror, &rng, 300, 2000, 0);
    check_node_set(db);

    /* an open transaction blocks it */
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    assert_int_equal(bt_db_rollback(db, c), BT_EBUSY);
    bt_txn_abort(t);
    assert_int_equal(bt_db_rollback(db, 999), BT_ENOTFOUND);

    assert_int_equal(bt_db_rollback(db, c), 0);
    uint8_t now[33];
    assert_int_equal(bt_db_digest(now, db, "t"), 0);
    assert_memory_equal(now, dc, 33);
    assert_int_equal(bt_db_checkpoint_validate(db, c), 0);
    assert_int_equal(bt_db_digest_at(now, db, "t", d), BT_ENOTFOUND);
    uint64_t first, last;
    assert_int_equal(bt_db_oplog_bounds(&first, &last, db), 0);
    assert_int_equal(last, c_ops);
    check_node_set(db);

    /* continue from the checkpoint's sequence numbers; then reopen */
    bt_tree_free(mirror);
    assert_int_equal(bt_tree_new(&mirror, &P), 0);
    uint64_t r3 = 5;
    for (int i = 0; i < 4; i++) {
        bt_op ops[300];
        bt_result res[300];
        uint8_t keys[300][32], vals[300][8];
        for (int j = 0; j < 300; j++) {
            uint64_t x = tu_rand(&r3);
            key_of(keys[j], x % 2000);
            memcpy(vals[j], &x, 8);
            ops[j] = (bt_op){(x >> 20) % 5 == 0 ? BT_OP_REMOVE_IF_EXISTS : BT_OP_INSERT_OR_UPDATE,
                             keys[j], 32, vals[j], 8};
        }
        assert_int_equal(bt_tree_apply_batch(mirror, ops, 300, res), 0);
    }
    uint64_t rng4 = 77;
    batch(db, mirror, &rng4, 300, 2000, 0);
    bt_commit_info ci;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    uint8_t k[32], v[8] = {1};
    key_of(k, 123456);
    bt_op op = {BT_OP_INSERT_OR_UPDATE, k, 32, v, 8};
    bt_result res;
    assert_int_equal(bt_txn_apply(t, "t", &op, 1, &res), 0);
    assert_int_equal(bt_txn_commit(t, &ci), 0);
    assert_int_equal(ci.commit_seq, c_commit + 2);
    assert_int_equal(bt_tree_apply(mirror, &op, &res), 0);
    assert_int_equal(bt_db_close(db), 0);
    db = open_opts(400, 0);
    uint8_t d1[33], d2[33];
    assert_int_equal(bt_db_digest(d1, db, "t"), 0);
    assert_int_equal(bt_tree_digest(d2, mirror), 0);
    assert_memory_equal(d1, d2, 33);
    assert_int_equal(bt_db_check(db, "t"), 0);
    /* the whole log still replays to the head */
    bt_replay_info info;
    assert_int_equal(bt_db_replay(&info, db, NULL, NULL, UINT64_MAX, UINT64_MAX), 0);
    assert_int_equal(info.last_commit_seq, c_commit + 2);
    check_node_set(db);
    bt_tree_free(mirror);
    assert_int_equal(bt_db_close(db), 0);
}

typedef struct collect {
    uint64_t n, last_seq;
    int ordered;
    uint64_t ts_min, ts_max;
    uint8_t key[32];
    int key_only;
} collect;

static int on_entry(void *ctx, const bt_oplog_entry *e)
{
    collect *c = ctx;
    if (c->n && e->op_seq <= c->last_seq) c->ordered = 0;
    c->last_seq = e->op_seq;
    c->n++;
    if (e->ts_ms < c->ts_min) c->ts_min = e->ts_ms;
    if (e->ts_ms > c->ts_max) c->ts_max = e->ts_ms;
    if (c->key_only && memcmp(e->key, c->key, 32) != 0) return 99;
    return 0;
}

/* Op-log queries by sequence, time and key; pruning; replay into a new
 * database as of a sequence number and as of a time. */
static void test_oplog_queries_prune_replay(void **state)
{
    (void)state;
    bt_db *db = open_opts(1000, 0);
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &P), 0);
    uint64_t rng = 9;
    /* 20 commits of 100 ops on 150 keys, at times 1000, 2000, ... */
    uint64_t ops_at[21] = {0};
    uint8_t digest_at[21][33];
    for (int i = 1; i <= 20; i++) {
        batch(db, mirror, &rng, 100, 150, 1000u * (uint64_t)i);
        uint64_t f, l;
        assert_int_equal(bt_db_oplog_bounds(&f, &l, db), 0);
        ops_at[i] = l;
        assert_int_equal(bt_db_digest(digest_at[i], db, "t"), 0);
    }
    collect c = {0, 0, 1, UINT64_MAX, 0, {0}, 0};
    assert_int_equal(bt_db_oplog_range(db, 1, UINT64_MAX, on_entry, &c), 0);
    assert_int_equal(c.n, ops_at[20]);
    assert_true(c.ordered);
    memset(&c, 0, sizeof c);
    c.ordered = 1;
    c.ts_min = UINT64_MAX;
    assert_int_equal(bt_db_oplog_range(db, ops_at[3] + 1, ops_at[5], on_entry, &c), 0);
    assert_int_equal(c.n, ops_at[5] - ops_at[3]);
    /* by time: commits 4..6 */
    memset(&c, 0, sizeof c);
    c.ordered = 1;
    c.ts_min = UINT64_MAX;
    assert_int_equal(bt_db_oplog_time(db, 3500, 6000, on_entry, &c), 0);
    assert_int_equal(c.n, ops_at[6] - ops_at[3]);
    assert_int_equal(c.ts_min, 4000);
    assert_int_equal(c.ts_max, 6000);
    /* by key: every entry is of that key, and their number matches a scan */
    uint8_t k[32];
    key_of(k, 42);
    memset(&c, 0, sizeof c);
    c.ordered = 1;
    c.ts_min = UINT64_MAX;
    c.key_only = 1;
    memcpy(c.key, k, 32);
    assert_int_equal(bt_db_oplog_key(db, "t", k, 32, on_entry, &c), 0);
    assert_true(c.ordered);
    assert_true(c.n > 0);
    assert_int_equal(bt_db_oplog_key(db, "t", k, 31, on_entry, &c), BT_EKEYLEN);
    assert_int_equal(bt_db_oplog_key(db, "nope", k, 32, on_entry, &c), BT_ENOTFOUND);

    /* replay into new databases: as of commit 7 (by seq) and as of time 12000 */
    char target[300];
    snprintf(target, sizeof target, "%s-replay", dir);
    bt_replay_info info;
    assert_int_equal(bt_db_replay(&info, db, target, NULL, ops_at[7], UINT64_MAX), 0);
    assert_int_equal(info.last_op_seq, ops_at[7]);
    assert_int_equal(bt_db_replay(&info, db, target, NULL, ops_at[7], UINT64_MAX), BT_EEXISTS);
    bt_db *r;
    char msg[256];
    assert_int_equal(bt_db_open(&r, target, NULL, msg, sizeof msg), 0);
    uint8_t d[33];
    assert_int_equal(bt_db_digest(d, r, "t"), 0);
    assert_memory_equal(d, digest_at[7], 33);
    assert_int_equal(bt_db_check(r, "t"), 0);
    bt_db_close(r);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", target);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(bt_db_replay(&info, db, target, NULL, UINT64_MAX, 12000), 0);
    assert_int_equal(bt_db_open(&r, target, NULL, msg, sizeof msg), 0);
    assert_int_equal(bt_db_digest(d, r, "t"), 0);
    assert_memory_equal(d, digest_at[12], 33);
    bt_db_close(r);

    /* export: JSON lines, one per op */
    char path[300];
    snprintf(path, sizeof path, "%s/export.jsonl", dir);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    assert_int_equal(bt_db_oplog_export(db, fileno(f), 0, 1, UINT64_MAX), 0);
    fflush(f);
    rewind(f);
    int lines = 0, ch;
    while ((ch = fgetc(f)) != EOF) lines += ch == '\n';
    fclose(f);
    assert_int_equal((uint64_t)lines, ops_at[20]);

    /* pruning stops at the oldest checkpoint and at the flushed version */
    uint64_t id;
    batch(db, mirror, &rng, 100, 150, 21000);
    assert_int_equal(bt_db_flush(db), 0);
    assert_int_equal(bt_db_checkpoint_create(&id, db, NULL), 0);
    batch(db, mirror, &rng, 100, 150, 22000);
    uint64_t pruned;
    assert_int_equal(bt_db_oplog_prune(&pruned, db, UINT64_MAX), 0);
    uint64_t first, last;
    assert_int_equal(bt_db_oplog_bounds(&first, &last, db), 0);
    assert_true(pruned > 0);
    assert_int_equal(first, pruned + 1);
    bt_checkpoint *cp;
    assert_int_equal(bt_db_checkpoint_get(&cp, db, id), 0);
    assert_true(first <= cp->op_seq + 1);
    bt_free(cp);
    memset(&c, 0, sizeof c);
    assert_int_equal(bt_db_oplog_range(db, 1, 10, on_entry, &c), BT_ENOTFOUND);
    assert_int_equal(bt_db_replay(&info, db, NULL, NULL, UINT64_MAX, UINT64_MAX), BT_ENOTFOUND);
    /* ... but from the checkpoint it can: in memory, and into a new database */
    assert_int_equal(bt_db_replay_from(&info, db, id, NULL, NULL, UINT64_MAX, UINT64_MAX), 0);
    assert_true(info.ops > 0);
    assert_int_equal(bt_db_replay_from(&info, db, 999, NULL, NULL, UINT64_MAX, UINT64_MAX),
                     BT_ENOTFOUND);
    snprintf(cmd, sizeof cmd, "rm -rf %s", target);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(bt_db_replay_from(&info, db, id, target, NULL, UINT64_MAX, UINT64_MAX), 0);
    assert_int_equal(bt_db_open(&r, target, NULL, msg, sizeof msg), 0);
    uint8_t dh[33], dr[33];
    assert_int_equal(bt_db_digest(dh, db, "t"), 0);
    assert_int_equal(bt_db_digest(dr, r, "t"), 0);
    assert_memory_equal(dh, dr, 33);
    assert_int_equal(bt_db_check(r, "t"), 0);
    bt_db_close(r);
    /* pruned index entries are gone too: key 42's history starts later */
    memset(&c, 0, sizeof c);
    c.ordered = 1;
    c.key_only = 1;
    memcpy(c.key, k, 32);
    assert_int_equal(bt_db_oplog_key(db, "t", k, 32, on_entry, &c), 0);
    assert_int_equal(bt_db_close(db), 0);
    db = open_opts(1000, 0);
    assert_int_equal(bt_db_check(db, "t"), 0);
    uint8_t d1[33], d2[33];
    assert_int_equal(bt_db_digest(d1, db, "t"), 0);
    assert_int_equal(bt_tree_digest(d2, mirror), 0);
    assert_memory_equal(d1, d2, 33);
    bt_tree_free(mirror);
    assert_int_equal(bt_db_close(db), 0);
}

/* A database from before the op-log indexes: queries say BT_ENOTSUP until
 * bt_db_oplog_reindex builds the entries; then they answer as usual. */
static void test_reindex_old_database(void **state)
{
    (void)state;
    bt_db *db = open_opts(1000, 0);
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &P), 0);
    uint64_t rng = 3;
    for (int i = 1; i <= 5; i++) batch(db, mirror, &rng, 100, 80, 1000u * (uint64_t)i);
    uint8_t k[32];
    key_of(k, 11);
    collect c0 = {0, 0, 1, UINT64_MAX, 0, {0}, 0};
    assert_int_equal(bt_db_oplog_key(db, "t", k, 32, on_entry, &c0), 0);
    /* make it old: no index entries, no feature bit */
    bt_kv_batch *b = db->kv->v->batch_new(db->kv);
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_INDEXES);
    for (db->kv->v->iter_seek(it, "", 0); db->kv->v->iter_valid(it); db->kv->v->iter_next(it)) {
        size_t kl;
        const uint8_t *key = db->kv->v->iter_key(it, &kl);
        db->kv->v->batch_del(b, BT_CF_INDEXES, key, kl);
    }
    db->kv->v->iter_free(it);
    bt_buf v = BT_BUF_INIT;
    assert_int_equal(bt_rec_features_encode(&v, 0), 0);
    db->kv->v->batch_put(b, BT_CF_META, "features", 8, v.data, v.len);
    char msg[128];
    assert_int_equal(db->kv->v->write(db->kv, b, BT_KV_SYNC, msg, sizeof msg), 0);
    db->kv->v->batch_free(b);
    bt_buf_free(&v);
    assert_int_equal(bt_db_close(db), 0);
    db = open_opts(1000, 0);
    collect c = {0, 0, 1, UINT64_MAX, 0, {0}, 0};
    assert_int_equal(bt_db_oplog_key(db, "t", k, 32, on_entry, &c), BT_ENOTSUP);
    assert_int_equal(bt_db_oplog_time(db, 0, UINT64_MAX, on_entry, &c), BT_ENOTSUP);
    batch(db, mirror, &rng, 100, 80, 6000); /* commits go on without entries */
    uint64_t n = 0;
    assert_int_equal(bt_db_oplog_reindex(&n, db), 0);
    uint64_t first, last;
    assert_int_equal(bt_db_oplog_bounds(&first, &last, db), 0);
    assert_int_equal(n, last); /* every logged op (absent RemoveIfExists are not) */
    memset(&c, 0, sizeof c);
    c.ordered = 1;
    c.ts_min = UINT64_MAX;
    assert_int_equal(bt_db_oplog_time(db, 0, UINT64_MAX, on_entry, &c), 0);
    assert_int_equal(c.n, last);
    assert_int_equal(bt_db_close(db), 0);
    db = open_opts(1000, 0);
    memset(&c, 0, sizeof c);
    c.ordered = 1;
    assert_int_equal(bt_db_oplog_key(db, "t", k, 32, on_entry, &c), 0);
    assert_true(c.n >= c0.n);
    bt_tree_free(mirror);
    assert_int_equal(bt_db_close(db), 0);
}

/* Makes the database at dir look like format 1: format record 1, no op-log
 * index entries, no feature bit. */
static void make_format1(void)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.min_free_bytes = 0;
    bt_kv *kv;
    bt_kv_config c;
    memset(&c, 0, sizeof c);
    c.create_if_missing = false;
    char msg[256];
    (void)o;
    assert_int_equal(bt_kv_open_rocksdb(&kv, dir, &c, msg, sizeof msg), 0);
    bt_kv_batch *b = kv->v->batch_new(kv);
    bt_kv_iter *it = kv->v->iter_new(kv, BT_CF_INDEXES);
    for (kv->v->iter_seek(it, "", 0); kv->v->iter_valid(it); kv->v->iter_next(it)) {
        size_t kl;
        const uint8_t *key = kv->v->iter_key(it, &kl);
        kv->v->batch_del(b, BT_CF_INDEXES, key, kl);
    }
    kv->v->iter_free(it);
    bt_buf v = BT_BUF_INIT;
    assert_int_equal(bt_rec_features_encode(&v, 0), 0);
    kv->v->batch_put(b, BT_CF_META, "features", 8, v.data, v.len);
    v.len = 0;
    bt_rec_format f = {1, 1700000000000ull};
    assert_int_equal(bt_rec_format_encode(&v, &f), 0);
    kv->v->batch_put(b, BT_CF_META, "format", 6, v.data, v.len);
    assert_int_equal(kv->v->write(kv, b, BT_KV_SYNC, msg, sizeof msg), 0);
    kv->v->batch_free(b);
    bt_buf_free(&v);
    kv->v->close(kv);
}

/* A format-1 database: a normal open refuses it and names the migration;
 * bt_db_upgrade upgrades a validated copy, swaps, keeps the original. */
static void test_format_upgrade(void **state)
{
    (void)state;
    bt_db *db = open_opts(1000, 0);
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &P), 0);
    uint64_t rng = 21;
    for (int i = 1; i <= 4; i++) batch(db, mirror, &rng, 200, 300, 1000u * (uint64_t)i);
    uint8_t want[33];
    assert_int_equal(bt_db_digest(want, db, "t"), 0);
    assert_int_equal(bt_db_close(db), 0);
    make_format1();
    bt_db_options o = BT_DB_OPTIONS_INIT;
    char msg[512] = "";
    assert_int_equal(bt_db_open(&db, dir, &o, msg, sizeof msg), BT_EINVAL);
    assert_non_null(strstr(msg, "migrate"));
    bt_upgrade_info info;
    int rc = bt_db_upgrade(&info, dir, msg, sizeof msg);
    if (rc) fprintf(stderr, "upgrade: %s\n", msg);
    assert_int_equal(rc, 0);
    assert_int_equal(info.from_format, 1);
    assert_int_equal(info.to_format, 2);
    assert_int_equal(info.trees, 1);
    assert_true(info.ops_indexed > 0);
    assert_non_null(strstr(info.original_kept_at, ".format1-"));
    db = open_opts(1000, 0);
    uint8_t d[33];
    assert_int_equal(bt_db_digest(d, db, "t"), 0);
    assert_memory_equal(d, want, 33);
    collect c = {0, 0, 1, UINT64_MAX, 0, {0}, 0};
    assert_int_equal(bt_db_oplog_time(db, 0, UINT64_MAX, on_entry, &c), 0);
    assert_int_equal(c.n, info.ops);
    /* a writer holding the database makes a second upgrade wait its turn */
    assert_int_equal(bt_db_upgrade(&info, dir, msg, sizeof msg), BT_EBUSY);
    assert_int_equal(bt_db_close(db), 0);
    assert_int_equal(bt_db_upgrade(&info, dir, msg, sizeof msg), 0);
    assert_true(info.already_current);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf %s.format1-*", dir);
    assert_int_equal(system(cmd), 0);
    bt_tree_free(mirror);
}

/* One writer and four readers.  Readers prove against the newest checkpoint
 * and against the head, and read the log, while the writer commits, creates
 * checkpoints (retention deletes old ones) and prunes.  Every proof must
 * verify against the digest of the checkpoint asked for, or, for the head,
 * against a digest the writer committed (run under ThreadSanitizer by
 * `make tsan`). */
/* Every digest the writer committed, so that readers can check that what
 * they were shown is a committed state. */
#define MAX_COMMITTED 256
static uint8_t committed[MAX_COMMITTED][33];
static _Atomic size_t ncommitted;

static int was_committed(const uint8_t d[33])
{
    size_t n = atomic_load(&ncommitted);
    for (size_t i = 0; i < n; i++)
        if (memcmp(committed[i], d, 33) == 0) return 1;
    return 0;
}

typedef struct reader_ctx {
    bt_db *db;
    _Atomic int stop;
    uint64_t proofs, queries, head_proofs;
    int err;
} reader_ctx;

static void *reader_main(void *arg)
{
    reader_ctx *r = arg;
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    while (!atomic_load(&r->stop) && !r->err) {
        bt_checkpoint *cp;
        int rc = bt_db_checkpoint_get(&cp, r->db, 0);
        if (rc == BT_ENOTFOUND) continue;
        if (rc) {
            r->err = rc;
            break;
        }
        uint64_t id = cp->id;
        uint8_t want[33];
        memcpy(want, cp->trees[0].digest, 33);
        bt_free(cp);
        uint8_t k[32];
        key_of(k, tu_rand(&rng) % 2000);
        bt_op op = {BT_OP_LOOKUP, k, 32, NULL, 0};
        uint8_t *proof, d[33];
        size_t plen;
        rc = bt_db_prove_at(&proof, &plen, d, NULL, r->db, "t", id, &op, 1);
        if (rc == BT_ENOTFOUND) continue; /* deleted by retention meanwhile */
        if (rc) {
            r->err = rc;
            break;
        }
        uint8_t vd[33];
        if (memcmp(d, want, 33) != 0 || tu_verify(vd, &P, want, proof, plen, &op, 1, NULL) != 0 ||
            memcmp(vd, want, 33) != 0)
            r->err = -1000;
        bt_free(proof);
        r->proofs++;
        /* a lookup proof against the head: its digest must be a committed one */
        rc = bt_db_prove(&proof, &plen, d, NULL, r->db, "t", &op, 1);
        if (rc) {
            r->err = rc;
            break;
        }
        if (!was_committed(d) || tu_verify(vd, &P, d, proof, plen, &op, 1, NULL) != 0 ||
            memcmp(vd, d, 33) != 0)
            r->err = -1001;
        bt_free(proof);
        r->head_proofs++;
        collect c = {0, 0, 1, UINT64_MAX, 0, {0}, 0};
        uint64_t first, last;
        if ((rc = bt_db_oplog_bounds(&first, &last, r->db))) r->err = rc;
        else if ((rc = bt_db_oplog_range(r->db, last > 50 ? last - 50 : first, last, on_entry, &c)) &&
                 rc != BT_ENOTFOUND)
            r->err = rc;
        r->queries++;
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    bt_db *db = open_opts(300, 2);
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &P), 0);
    uint64_t rng = 11;
    batch(db, mirror, &rng, 200, 2000, 0);
    atomic_store(&ncommitted, 0);
    assert_int_equal(bt_db_digest(committed[0], db, "t"), 0);
    atomic_store(&ncommitted, 1);
    reader_ctx r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].db = db;
        pthread_create(&th[i], NULL, reader_main, &r[i]);
    }
    for (int i = 0; i < 40; i++) {
        /* the digest is published before the commit: a reader may see the
         * new state as soon as the commit returns */
        bt_tree *next;
        uint8_t *snapbuf;
        size_t snaplen;
        assert_int_equal(bt_tree_export_mem(&snapbuf, &snaplen, mirror), 0);
        char emsg[128];
        assert_int_equal(bt_tree_import_mem(&next, snapbuf, snaplen, emsg, sizeof emsg), 0);
        bt_free(snapbuf);
        uint64_t peek = rng;
        batch_mem_only(next, &peek, 100, 2000);
        size_t k = atomic_load(&ncommitted);
        assert_true(k < MAX_COMMITTED);
        assert_int_equal(bt_tree_digest(committed[k], next), 0);
        atomic_store(&ncommitted, k + 1);
        bt_tree_free(next);
        batch(db, mirror, &rng, 100, 2000, 0);
        if (i % 4 == 0) assert_int_equal(bt_db_checkpoint_create(NULL, db, NULL), 0);
        if (i % 10 == 9) assert_int_equal(bt_db_oplog_prune(NULL, db, UINT64_MAX), 0);
    }
    for (int i = 0; i < 4; i++) {
        atomic_store(&r[i].stop, 1);
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].err, 0);
        assert_true(r[i].proofs > 0);
        assert_true(r[i].head_proofs > 0);
    }
    check_node_set(db);
    bt_tree_free(mirror);
    assert_int_equal(bt_db_close(db), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoints_pin_and_reclaim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oplog_queries_prune_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reindex_old_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_upgrade, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
