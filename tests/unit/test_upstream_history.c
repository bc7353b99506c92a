/*
 * test_upstream_history.c -- the behaviours of the upstream tracker's storage
 * and recovery tests (../shared/spec/upstream.md, "Behavioural checklist"
 * items 6-11, 16, 17, 20, 22-29 and the in-module op-log / checkpoint tests),
 * re-expressed with our semantics: the log is written by commits (sequence
 * numbers are ours to hand out, gapless from 1), a checkpoint pins every
 * tree's committed version, and reopening must give back the same roots,
 * log and checkpoints.  Keys of 64 bytes and values of 32 bytes, as there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static const bt_params P = {BT_PARAMS_VERSION, 64, 32, 0};

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bt-test-uph-XXXXXX");
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

static bt_db *db_open(void)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_SYNC;
    o.min_free_bytes = 0;
    bt_db *db = NULL;
    char msg[256];
    assert_int_equal(bt_db_open(&db, dir, &o, msg, sizeof msg), 0);
    return db;
}

static void key_of(uint8_t k[64], unsigned i)
{
    memset(k, 0, 64);
    k[0] = 1;
    k[62] = (uint8_t)(i >> 8);
    k[63] = (uint8_t)i;
}

static void val_of(uint8_t v[32], unsigned x)
{
    memset(v, 0, 32);
    v[31] = (uint8_t)x;
    v[30] = (uint8_t)(x >> 8);
}

/* One commit of one op; returns the commit info. */
static bt_commit_info one(bt_db *db, bt_op_type type, unsigned k, unsigned v)
{
    uint8_t key[64], val[32];
    key_of(key, k);
    val_of(val, v);
    bt_op op = {type, key, 64, val, 32};
    bt_result r;
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    assert_int_equal(bt_txn_apply(t, "t", &op, 1, &r), 0);
    assert_int_equal(r.status, 0);
    bt_commit_info ci;
    assert_int_equal(bt_txn_commit(t, &ci), 0);
    return ci;
}

typedef struct seen {
    uint64_t n;
    uint64_t seq[128];
    bt_op_type type[128];
    uint8_t key_last[128];
    uint64_t ts[128];
} seen;

static int record(void *ctx, const bt_oplog_entry *e)
{
    seen *s = ctx;
    if (s->n < 128) {
        s->seq[s->n] = e->op_seq;
        s->type[s->n] = e->type;
        s->key_last[s->n] = e->key[63];
        s->ts[s->n] = e->ts_ms;
    }
    s->n++;
    return 0;
}

/* 6, 7, 11, 16, 20 and the op-log integrity test: sequence numbers are
 * gapless from 1, every op is retrievable with its type and key, they
 * survive reopening and the next commit continues after them. */
static void test_log_sequence(void **state)
{
    (void)state;
    bt_db *db = db_open();
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    bt_commit_info ci = one(db, BT_OP_INSERT, 1, 1);
    assert_int_equal(ci.last_op_seq, 1);
    /* a batch of 10: alternating Insert / Update */
    bt_op ops[10];
    bt_result res[10];
    uint8_t keys[10][64], vals[10][32];
    for (unsigned i = 0; i < 10; i++) {
        key_of(keys[i], i < 5 ? 100 + i : 100 + i - 5);
        val_of(vals[i], i);
        ops[i] = (bt_op){i < 5 ? BT_OP_INSERT : BT_OP_UPDATE, keys[i], 64, vals[i], 32};
    }
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    assert_int_equal(bt_txn_apply(t, "t", ops, 10, res), 0);
    assert_int_equal(bt_txn_commit(t, &ci), 0);
    assert_int_equal(ci.last_op_seq, 11);
    assert_int_equal(ci.ops_logged, 10);
    for (unsigned i = 0; i < 89; i++) one(db, BT_OP_INSERT_OR_UPDATE, 300 + i, i);
    seen s = {0};
    assert_int_equal(bt_db_oplog_range(db, 1, 100, record, &s), 0);
    assert_int_equal(s.n, 100);
    for (unsigned i = 0; i < 100; i++) assert_int_equal(s.seq[i], i + 1);
    assert_int_equal(s.type[1], BT_OP_INSERT);
    assert_int_equal(s.type[6], BT_OP_UPDATE);
    assert_int_equal(s.key_last[6], 100);
    for (unsigned i = 1; i < 100; i++) assert_true(s.ts[i] >= s.ts[i - 1]); /* clock: non-decreasing here */
    assert_int_equal(bt_db_close(db), 0);
    db = db_open();
    memset(&s, 0, sizeof s);
    assert_int_equal(bt_db_oplog_range(db, 1, UINT64_MAX, record, &s), 0);
    assert_int_equal(s.n, 100);
    ci = one(db, BT_OP_INSERT, 999, 9);
    assert_int_equal(ci.last_op_seq, 101);
    /* three inserts advance the sequence by exactly three */
    for (unsigned i = 0; i < 3; i++) ci = one(db, BT_OP_INSERT, 1000 + i, i);
    assert_int_equal(ci.last_op_seq, 104);
    assert_int_equal(bt_db_close(db), 0);
}

/* 8, 9, 10, 17: checkpoint fields; several; latest is the last; each keeps
 * its own count; all survive reopening. */
static void test_checkpoint_records(void **state)
{
    (void)state;
    bt_db *db = db_open();
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    uint64_t ids[5];
    uint8_t d[5][33];
    for (unsigned c = 0; c < 5; c++) {
        for (unsigned i = 0; i < 3; i++) one(db, BT_OP_INSERT, c * 10 + i, i);
        assert_int_equal(bt_db_checkpoint_create(&ids[c], db, NULL), 0);
        assert_int_equal(bt_db_digest(d[c], db, "t"), 0);
    }
    bt_checkpoint *cp;
    assert_int_equal(bt_db_checkpoint_get(&cp, db, 0), 0);
    assert_int_equal(cp->id, ids[4]);
    assert_int_equal(cp->op_seq, 15);
    bt_free(cp);
    assert_int_equal(bt_db_close(db), 0);
    db = db_open();
    for (unsigned c = 0; c < 5; c++) {
        assert_int_equal(bt_db_checkpoint_get(&cp, db, ids[c]), 0);
        assert_int_equal(cp->op_seq, 3 * (c + 1));
        assert_int_equal(cp->commit_seq, 3 * (c + 1));
        assert_int_equal(cp->ntrees, 1);
        assert_int_equal(cp->trees[0].count, 3 * (c + 1));
        assert_memory_equal(cp->trees[0].digest, d[c], 33);
        assert_true(cp->ts_ms > 1600000000000ull);
        bt_free(cp);
    }
    assert_int_equal(bt_db_checkpoint_get(&cp, db, 77), BT_ENOTFOUND);
    assert_int_equal(bt_db_close(db), 0);
}

/* 22-29: recovery with and without checkpoints gives back the same root. */
static void test_recovery_scenarios(void **state)
{
    (void)state;
    /* 23: an empty store reopens empty */
    bt_db *db = db_open();
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    uint8_t empty[33], d[33], d2[33];
    assert_int_equal(bt_db_digest(empty, db, "t"), 0);
    uint8_t e2[33];
    assert_int_equal(bt_empty_digest(e2, &P), 0);
    assert_memory_equal(empty, e2, 33);
    /* empty-tree checkpoint; rolling back to it restores the empty tree */
    uint64_t c0;
    assert_int_equal(bt_db_checkpoint_create(&c0, db, "empty"), 0);
    assert_int_equal(bt_db_close(db), 0);
    db = db_open();
    assert_int_equal(bt_db_digest(d, db, "t"), 0);
    assert_memory_equal(d, empty, 33);
    /* 22, 24, 25: inserts, checkpoint, more changes (updates of even keys,
     * inserts of odd+10); the reopened root is the final one and differs
     * from the checkpoint's */
    for (unsigned i = 1; i <= 5; i++) one(db, BT_OP_INSERT, i, i);
    uint64_t c1;
    assert_int_equal(bt_db_checkpoint_create(&c1, db, NULL), 0);
    uint8_t at_c1[33];
    assert_int_equal(bt_db_digest(at_c1, db, "t"), 0);
    for (unsigned i = 1; i <= 5; i++) {
        if (i % 2 == 0) one(db, BT_OP_UPDATE, i, 2 * i);
        else one(db, BT_OP_INSERT, i + 10, i);
    }
    assert_int_equal(bt_db_digest(d, db, "t"), 0);
    assert_memory_not_equal(d, at_c1, 33);
    /* 26: a second checkpoint and more inserts */
    uint64_t c2;
    assert_int_equal(bt_db_checkpoint_create(&c2, db, NULL), 0);
    for (unsigned i = 7; i <= 9; i++) one(db, BT_OP_INSERT, 100 + i, i);
    /* 27: many operations */
    for (unsigned i = 0; i < 80; i++) one(db, BT_OP_INSERT_OR_UPDATE, 200 + i % 256, i);
    assert_int_equal(bt_db_digest(d, db, "t"), 0);
    assert_int_equal(bt_db_close(db), 0);
    db = db_open();
    assert_int_equal(bt_db_digest(d2, db, "t"), 0);
    assert_memory_equal(d, d2, 33);
    assert_int_equal(bt_db_check(db, "t"), 0);
    /* the checkpoints still answer with their own roots */
    assert_int_equal(bt_db_digest_at(d2, db, "t", c1), 0);
    assert_memory_equal(d2, at_c1, 33);
    assert_int_equal(bt_db_checkpoint_validate(db, c2), 0);
    /* 29: a checkpoint with nothing after it: rollback to c1 then reopen */
    assert_int_equal(bt_db_rollback(db, c1), 0);
    assert_int_equal(bt_db_close(db), 0);
    db = db_open();
    assert_int_equal(bt_db_digest(d2, db, "t"), 0);
    assert_memory_equal(d2, at_c1, 33);
    uint64_t n;
    assert_int_equal(bt_db_count(&n, db, "t"), 0);
    assert_int_equal(n, 5);
    /* rolling back to the empty checkpoint empties the tree */
    assert_int_equal(bt_db_rollback(db, c0), 0);
    assert_int_equal(bt_db_digest(d2, db, "t"), 0);
    assert_memory_equal(d2, empty, 33);
    assert_int_equal(bt_db_close(db), 0);
    db = db_open();
    assert_int_equal(bt_db_digest(d2, db, "t"), 0);
    assert_memory_equal(d2, empty, 33);
    assert_int_equal(bt_db_count(&n, db, "t"), 0);
    assert_int_equal(n, 0);
    assert_int_equal(bt_db_close(db), 0);
}

/* 13, re-expressed: a second writer is refused while a checkpoint-holding
 * database is open; after closing, a reopen sees everything. */
static void test_single_writer(void **state)
{
    (void)state;
    bt_db *db = db_open();
    assert_int_equal(bt_db_tree_create(db, "t", &P), 0);
    one(db, BT_OP_INSERT, 1, 1);
    assert_int_equal(bt_db_checkpoint_create(NULL, db, NULL), 0);
    bt_db *second = NULL;
    char msg[256];
    assert_int_equal(bt_db_open(&second, dir, NULL, msg, sizeof msg), BT_EBUSY);
    assert_null(second);
    assert_int_equal(bt_db_close(db), 0);
    db = db_open();
    bt_checkpoint *list;
    size_t nl;
    assert_int_equal(bt_db_checkpoint_list(&list, &nl, db), 0);
    assert_int_equal(nl, 1);
    bt_free(list);
    assert_int_equal(bt_db_close(db), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_scenarios, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_writer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
