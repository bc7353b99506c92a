/*
 * test_db.c -- the persistent database: commits, reopen (clean and after a
 * crash with replay), many trees, equivalence with the in-memory tree,
 * proofs against the committed version, single writer, and corruption.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "codec/endian.h"
#include "store/kv.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bt-test-db-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void key_of(uint8_t k[32], uint64_t i)
{
    uint64_t s = i + 1000;
    for (int j = 0; j < 4; j++) {
        uint64_t x = tu_rand(&s);
        memcpy(k + 8 * j, &x, 8);
    }
}

static bt_db *open_db(bt_durability d, uint64_t flush_ops)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = d;
    o.flush_ops = flush_ops;
    o.min_free_bytes = 0;
    bt_db *db = NULL;
    char msg[256] = "";
    int rc = bt_db_open(&db, dir, &o, msg, sizeof msg);
    if (rc) fprintf(stderr, "open: %s\n", msg);
    assert_int_equal(rc, 0);
    return db;
}

/* Applies a deterministic random batch to both the db and a mirror tree. */
static void batch(bt_db *db, const char *tree, bt_tree *mirror, uint64_t *rng, int n, int keyspace,
                  bool prove)
{
    bt_op *ops = calloc((size_t)n, sizeof *ops);
    bt_result *r1 = calloc((size_t)n, sizeof *r1), *r2 = calloc((size_t)n, sizeof *r2);
    uint8_t (*keys)[32] = calloc((size_t)n, 32), (*vals)[8] = calloc((size_t)n, 8);
    for (int i = 0; i < n; i++) {
        uint64_t x = tu_rand(rng);
        key_of(keys[i], x % (uint64_t)keyspace);
        memcpy(vals[i], &x, 8);
        ops[i] = (bt_op){(bt_op_type)(x % 6), keys[i], 32, vals[i], 8};
        if (i % 3 == 0) ops[i].type = BT_OP_INSERT_OR_UPDATE;
    }
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    assert_int_equal(bt_txn_apply(t, tree, ops, (size_t)n, r1), 0);
    assert_int_equal(bt_tree_apply_batch(mirror, ops, (size_t)n, r2), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(r1[i].status, r2[i].status);
        assert_int_equal(r1[i].found, r2[i].found);
    }
    uint8_t *p2;
    size_t l2;
    if (prove) {
        uint8_t *p1, d1[33], d2[33];
        size_t l1;
        assert_int_equal(bt_txn_prove(&p1, &l1, d1, t, tree), 0);
        assert_int_equal(bt_tree_prove(&p2, &l2, mirror), 0);
        assert_int_equal(bt_tree_digest(d2, mirror), 0);
        assert_int_equal(l1, l2);
        assert_memory_equal(p1, p2, l1);
        assert_memory_equal(d1, d2, 33);
        bt_free(p1);
    } else {
        assert_int_equal(bt_tree_prove(&p2, &l2, mirror), 0);
    }
    bt_free(p2);
    bt_commit_info info;
    assert_int_equal(bt_txn_commit(t, &info), 0);
    free(ops);
    free(r1);
    free(r2);
    free(keys);
    free(vals);
}

static void assert_same(bt_db *db, const char *tree, bt_tree *mirror)
{
    uint8_t d1[33], d2[33];
    assert_int_equal(bt_db_digest(d1, db, tree), 0);
    assert_int_equal(bt_tree_digest(d2, mirror), 0);
    assert_memory_equal(d1, d2, 33);
    uint64_t c;
    assert_int_equal(bt_db_count(&c, db, tree), 0);
    assert_int_equal(c, bt_tree_count(mirror));
}

static void test_db_commit_reopen(void **state)
{
    (void)state;
    bt_params p = BT_PARAMS_INIT;
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &p), 0);
    bt_db *db = open_db(BT_DURABILITY_SYNC, 100000);
    assert_int_equal(bt_db_tree_create(db, "tracker", &p), 0);
    assert_int_equal(bt_db_tree_create(db, "tracker", &p), BT_EEXISTS);
    assert_int_equal(bt_db_tree_create(db, "bad name", &p), BT_EINVAL);
    assert_same(db, "tracker", mirror);
    uint64_t rng = 1;
    for (int b = 0; b < 20; b++) batch(db, "tracker", mirror, &rng, 200, 3000, b % 2 == 0);
    assert_same(db, "tracker", mirror);
    assert_int_equal(bt_db_check(db, "tracker"), 0);
    assert_int_equal(bt_db_close(db), 0);

    db = open_db(BT_DURABILITY_SYNC, 100000);
    assert_same(db, "tracker", mirror);
    bt_db_stats st;
    assert_int_equal(bt_db_stats_get(&st, db), 0);
    assert_int_equal(st.replayed_ops, 0); /* clean close flushed everything */
    assert_int_equal(bt_db_check(db, "tracker"), 0);
    /* values read back */
    for (uint64_t i = 0; i < 3000; i += 97) {
        uint8_t k[32];
        key_of(k, i);
        const uint8_t *v1;
        size_t n1;
        uint8_t *v2;
        size_t n2;
        int r1 = bt_tree_get(&v1, &n1, mirror, k, 32);
        int r2 = bt_db_get(&v2, &n2, db, "tracker", k, 32);
        assert_int_equal(r1, r2);
        if (!r1) {
            assert_int_equal(n1, n2);
            assert_memory_equal(v1, v2, n1);
            bt_free(v2);
        }
    }
    /* more commits after reopen, with a flush in the middle */
    for (int b = 0; b < 10; b++) batch(db, "tracker", mirror, &rng, 300, 3000, true);
    assert_int_equal(bt_db_flush(db), 0);
    for (int b = 0; b < 5; b++) batch(db, "tracker", mirror, &rng, 300, 3000, false);
    assert_int_equal(bt_db_close(db), 0);
    db = open_db(BT_DURABILITY_GROUP, 100000);
    assert_same(db, "tracker", mirror);
    assert_int_equal(bt_db_check(db, "tracker"), 0);
    assert_int_equal(bt_db_close(db), 0);
    bt_tree_free(mirror);
}

/* A child commits without flushing and dies; the parent reopens and must
 * find every synced commit by replaying the log. */
static void test_db_crash_replay(void **state)
{
    (void)state;
    bt_params p = BT_PARAMS_INIT;
    p.value_len = 8;
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &p), 0);
    uint64_t rng = 7;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bt_db *db = open_db(BT_DURABILITY_SYNC, 1000000);
        if (bt_db_tree_create(db, "reserve", &p)) _exit(3);
        for (int b = 0; b < 15; b++) batch(db, "reserve", mirror, &rng, 100, 1000, false);
        _exit(0); /* no close: nothing flushed, the log is all there is */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int b = 0; b < 15; b++) {
        /* rebuild the mirror with the same stream */
        static bt_db *none;
        (void)none;
    }
    /* Replay the same random stream into the mirror (batch() needs a db: use
     * a scratch database for the mirror's sake). */
    bt_db *db = open_db(BT_DURABILITY_SYNC, 1000000);
    bt_db_stats st;
    assert_int_equal(bt_db_stats_get(&st, db), 0);
    assert_int_equal(st.replayed_ops, st.ops);
    assert_true(st.ops > 0);
    assert_int_equal(st.commits, 15);
    assert_int_equal(bt_db_check(db, "reserve"), 0);
    uint8_t d1[33];
    assert_int_equal(bt_db_digest(d1, db, "reserve"), 0);
    assert_int_equal(bt_db_close(db), 0);
    /* After the clean close the flushed state must open to the same digest. */
    db = open_db(BT_DURABILITY_SYNC, 1000000);
    uint8_t d2[33];
    assert_int_equal(bt_db_digest(d2, db, "reserve"), 0);
    assert_memory_equal(d1, d2, 33);
    assert_int_equal(bt_db_stats_get(&st, db), 0);
    assert_int_equal(st.replayed_ops, 0);
    assert_int_equal(bt_db_close(db), 0);
    bt_tree_free(mirror);
}

static void test_db_many_trees_and_proofs(void **state)
{
    (void)state;
    bt_params pv = BT_PARAMS_INIT, pf = BT_PARAMS_INIT;
    pf.value_len = 16;
    bt_db *db = open_db(BT_DURABILITY_GROUP, 500);
    assert_int_equal(bt_db_tree_create(db, "tracker", &pv), 0);
    assert_int_equal(bt_db_tree_create(db, "reserve:03ab", &pf), 0);
    uint8_t k[32], v8[8] = {0, 0, 0, 0, 0, 0, 0, 5}, v16[16] = {1};
    key_of(k, 1);
    bt_op a = {BT_OP_INSERT, k, 32, v8, 8}, b = {BT_OP_INSERT_OR_UPDATE, k, 32, v16, 16};
    bt_result ra, rb;
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    bt_txn *t2;
    assert_int_equal(bt_txn_begin(&t2, db), BT_EBUSY);
    assert_int_equal(bt_txn_apply(t, "tracker", &a, 1, &ra), 0);
    assert_int_equal(bt_txn_apply(t, "reserve:03ab", &b, 1, &rb), 0);
    assert_int_equal(bt_txn_apply(t, "nope", &a, 1, &ra), BT_ENOTFOUND);
    bt_commit_info ci;
    assert_int_equal(bt_txn_commit(t, &ci), 0);
    assert_int_equal(ci.ops_logged, 2);
    assert_int_equal(bt_db_wait_durable(db, ci.commit_seq), 0);
    /* a lookup proof against the committed version verifies */
    bt_op look = {BT_OP_LOOKUP, k, 32, NULL, 0};
    uint8_t *proof, d[33], start[33];
    size_t plen;
    bt_result lr;
    assert_int_equal(bt_db_digest(start, db, "tracker"), 0);
    assert_int_equal(bt_db_prove(&proof, &plen, d, &lr, db, "tracker", &look, 1), 0);
    assert_true(lr.found);
    assert_int_equal(lr.old_len, 8);
    assert_memory_equal(lr.old, v8, 8);
    assert_memory_equal(d, start, 33);
    uint8_t out[33];
    assert_int_equal(bt_proof_verify(out, NULL, &pv, start, 33, proof, plen, &look, 1, NULL), 0);
    bt_free(proof);
    /* what-if on the reserve tree does not change it */
    uint8_t before[33], after[33];
    assert_int_equal(bt_db_digest(before, db, "reserve:03ab"), 0);
    v16[15] = 9;
    assert_int_equal(bt_db_prove(&proof, &plen, d, NULL, db, "reserve:03ab", &b, 1), 0);
    assert_int_equal(bt_db_digest(after, db, "reserve:03ab"), 0);
    assert_memory_equal(before, after, 33);
    assert_int_equal(bt_proof_verify(out, NULL, &pf, before, 33, proof, plen, &b, 1, NULL), 0);
    assert_memory_equal(out, d, 33);
    bt_free(proof);
    char **names;
    size_t n;
    assert_int_equal(bt_db_tree_list(&names, &n, db), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "reserve:03ab");
    assert_string_equal(names[1], "tracker");
    bt_free(names);
    /* a second writer is refused, in this process too */
    bt_db *db2 = NULL;
    char msg[256];
    assert_int_equal(bt_db_open(&db2, dir, NULL, msg, sizeof msg), BT_EBUSY);
    assert_null(db2);
    assert_non_null(strstr(msg, "open for writing"));
    assert_int_equal(bt_db_close(db), 0);
}

/* Damage a node record; the damage is found, never served. */
static void test_db_corrupt_node(void **state)
{
    (void)state;
    bt_params p = BT_PARAMS_INIT;
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &p), 0);
    bt_db *db = open_db(BT_DURABILITY_SYNC, 100000);
    assert_int_equal(bt_db_tree_create(db, "t", &p), 0);
    uint64_t rng = 3;
    for (int b = 0; b < 5; b++) batch(db, "t", mirror, &rng, 200, 2000, false);
    assert_int_equal(bt_db_close(db), 0);

    bt_kv *kv;
    bt_kv_config c;
    memset(&c, 0, sizeof c);
    c.block_cache_bytes = 8 << 20;
    c.write_buffer_bytes = 8 << 20;
    c.background_jobs = 2;
    c.info_log_level = 4;
    char msg[256];
    assert_int_equal(bt_kv_open_rocksdb(&kv, dir, &c, msg, sizeof msg), 0);
    bt_kv_iter *it = kv->v->iter_new(kv, BT_CF_NODES);
    int flipped = 0;
    bt_kv_batch *b = kv->v->batch_new(kv);
    int i = 0;
    for (kv->v->iter_seek(it, "", 0); kv->v->iter_valid(it); kv->v->iter_next(it), i++) {
        if (i % 7) continue;
        size_t kl, vl;
        const uint8_t *key = kv->v->iter_key(it, &kl);
        const uint8_t *val = kv->v->iter_value(it, &vl);
        uint8_t *copy = malloc(vl);
        memcpy(copy, val, vl);
        copy[vl / 2] ^= 0x10;
        kv->v->batch_put(b, BT_CF_NODES, key, kl, copy, vl);
        free(copy);
        flipped++;
    }
    kv->v->iter_free(it);
    assert_true(flipped > 0);
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), 0);
    kv->v->batch_free(b);
    kv->v->close(kv);

    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.min_free_bytes = 0;
    int rc = bt_db_open(&db, dir, &o, msg, sizeof msg);
    if (rc == 0) {
        /* the root survived; a full check must find the damage */
        assert_int_equal(bt_db_check(db, "t"), BT_ECORRUPT);
        assert_non_null(strstr(bt_db_errmsg(db), "node"));
        bt_db_close(db);
    } else {
        assert_int_equal(rc, BT_ECORRUPT);
    }
    bt_tree_free(mirror);
}

/* An aborted transaction leaves nothing, even after it produced a proof. */
static void test_db_abort(void **state)
{
    (void)state;
    bt_params p = BT_PARAMS_INIT;
    bt_db *db = open_db(BT_DURABILITY_SYNC, 100000);
    assert_int_equal(bt_db_tree_create(db, "t", &p), 0);
    uint8_t k[32], v[1] = {7}, d0[33], d1[33];
    key_of(k, 42);
    bt_op ins = {BT_OP_INSERT, k, 32, v, 1};
    bt_result r;
    assert_int_equal(bt_db_digest(d0, db, "t"), 0);
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    assert_int_equal(bt_txn_apply(t, "t", &ins, 1, &r), 0);
    uint8_t *proof, d[33];
    size_t plen;
    assert_int_equal(bt_txn_prove(&proof, &plen, d, t, "t"), 0);
    bt_free(proof);
    bt_txn_abort(t);
    assert_int_equal(bt_db_digest(d1, db, "t"), 0);
    assert_memory_equal(d0, d1, 33);
    /* the next transaction starts from the committed state: Insert succeeds */
    assert_int_equal(bt_txn_begin(&t, db), 0);
    assert_int_equal(bt_txn_apply(t, "t", &ins, 1, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(bt_txn_commit(t, NULL), 0);
    uint64_t n;
    assert_int_equal(bt_db_count(&n, db, "t"), 0);
    assert_int_equal(n, 1);
    assert_int_equal(bt_db_check(db, "t"), 0);
    assert_int_equal(bt_db_close(db), 0);
}

static void test_db_options(void **state)
{
    (void)state;
    bt_db_options o = BT_DB_OPTIONS_INIT;
    char msg[128];
    assert_int_equal(bt_db_options_check(&o, msg, sizeof msg), 0);
    o.zstd_level = 40;
    assert_int_equal(bt_db_options_check(&o, msg, sizeof msg), BT_EINVAL);
    assert_non_null(strstr(msg, "zstd_level"));
    o = (bt_db_options)BT_DB_OPTIONS_INIT;
    o.durability = (bt_durability)7;
    assert_int_equal(bt_db_options_check(&o, msg, sizeof msg), BT_EINVAL);
    assert_non_null(strstr(msg, "durability"));
    bt_db *db;
    o = (bt_db_options)BT_DB_OPTIONS_INIT;
    o.create_if_missing = 0;
    char path[300];
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(bt_db_open(&db, path, &o, msg, sizeof msg), BT_ENOTFOUND);
}

static int count_node(void *ctx, const char *tree, const bt_node_info *info)
{
    (void)tree;
    assert_true(info->kind == 1 || info->kind == 2);
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The plan's node API over the optional label index. */
static void test_db_label_index(void **state)
{
    (void)state;
    bt_params p = BT_PARAMS_INIT;
    bt_tree *mirror;
    assert_int_equal(bt_tree_new(&mirror, &p), 0);
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.index_labels = 1;
    o.min_free_bytes = 0;
    bt_db *db;
    char msg[256];
    assert_int_equal(bt_db_open(&db, dir, &o, msg, sizeof msg), 0);
    assert_int_equal(bt_db_tree_create(db, "t", &p), 0);
    uint64_t rng = 11;
    for (int b = 0; b < 6; b++) {
        batch(db, "t", mirror, &rng, 150, 800, false);
        assert_int_equal(bt_db_flush(db), 0);
        uint8_t lo[32], hi[32];
        memset(lo, 0, 32);
        memset(hi, 0xFF, 32);
        uint64_t n = 0, keys;
        assert_int_equal(bt_db_nodes_range(db, lo, hi, count_node, &n), 0);
        assert_int_equal(bt_db_count(&keys, db, "t"), 0);
        assert_int_equal(n, 2 * keys + 1); /* obsolete nodes left the index */
    }
    uint8_t d[33];
    assert_int_equal(bt_db_digest(d, db, "t"), 0);
    bt_node_info root;
    assert_int_equal(bt_db_node_get(&root, db, "t", d), 0);
    assert_int_equal(root.kind, 2);
    assert_memory_equal(root.label, d, 32);
    bt_node_info kids[2];
    const uint8_t labels[2][32];
    memcpy((void *)labels[0], root.left_label, 32);
    memcpy((void *)labels[1], root.right_label, 32);
    assert_int_equal(bt_db_nodes_get(kids, db, "t", labels, 2), 0);
    assert_memory_equal(kids[0].label, root.left_label, 32);
    assert_memory_equal(kids[1].label, root.right_label, 32);
    assert_int_equal(kids[0].id, root.left_id);
    bt_free(kids[0].data);
    bt_free(kids[1].data);
    bt_free(root.data);
    uint8_t none[32] = {1, 2, 3};
    assert_int_equal(bt_db_node_get(&root, db, "t", none), BT_ENOTFOUND);
    assert_int_equal(bt_db_close(db), 0);
    /* the index is a property of the database: no need to ask again */
    o.index_labels = 0;
    assert_int_equal(bt_db_open(&db, dir, &o, msg, sizeof msg), 0);
    assert_int_equal(bt_db_node_get(&root, db, "t", d), 0);
    bt_free(root.data);
    assert_int_equal(bt_db_close(db), 0);
    bt_tree_free(mirror);
    /* and cannot be switched on later */
    char other[300];
    snprintf(other, sizeof other, "%s/plain", dir);
    assert_int_equal(bt_db_open(&db, other, &o, msg, sizeof msg), 0);
    assert_int_equal(bt_db_node_get(&root, db, "t", d), BT_ENOTSUP);
    assert_int_equal(bt_db_close(db), 0);
    o.index_labels = 1;
    assert_int_equal(bt_db_open(&db, other, &o, msg, sizeof msg), BT_EINVAL);
    assert_non_null(strstr(msg, "index_labels"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_db_commit_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_crash_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_many_trees_and_proofs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_corrupt_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_label_index, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
