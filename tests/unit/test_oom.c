/*
 * test_oom.c -- out-of-memory countdown over the database's commit path and
 * its open (docs/RELIABILITY.md, item 7).
 *
 * With the allocation hook of src/util/alloc.h, the n-th allocation of the
 * library (and every later one) fails, for n = 1, 2, ... until a run needs
 * fewer allocations than n.  Each run starts from a copy of the same
 * database and:
 *   - commit path: begins a transaction, applies a batch to two trees,
 *     commits.  Every call returns 0 or BT_ENOMEM (BT_EBADSTATE after an
 *     earlier failure); the process never crashes; the committed digests
 *     are the state before or after the commit (after, if it returned 0);
 *     after a reopen without the hook the same holds and bt_db_check passes.
 *   - open: bt_db_open returns 0 or BT_ENOMEM, and leaves nothing behind
 *     that stops the next open from succeeding with the right digests.
 * The hook is process-wide and not thread-safe, so the database runs in
 * sync mode (no syncer thread) with node flushes far away (no flusher
 * work); RocksDB's own allocations are not covered (they are C++ new).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "testutil.h"
#include "util/alloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NKEYS 60
#define NOPS 12
#define MAX_N 20000

static char dir[256], tmpl[300], work[300];
static const char *trees[2] = {"tracker", "reserve"};
static uint8_t d_before[2][BT_DIGEST_LEN], d_after[2][BT_DIGEST_LEN];
static bt_op ops[2][NOPS];
static uint8_t keys[2][NOPS][32], vals[2][NOPS][24];

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    assert_int_equal(system(cmd), 0);
}

/* work := a fresh copy of the template database */
static void copy_tmpl(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -a %s %s", work, tmpl, work);
    assert_int_equal(system(cmd), 0);
}

static bt_db_options opts(void)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_SYNC;
    o.flush_ops = 100000000;
    o.min_free_bytes = 0;
    o.write_buffer_bytes = 1u << 20;
    o.block_cache_bytes = 1u << 20;
    return o;
}

static bt_db *open_db(const char *path)
{
    bt_db_options o = opts();
    bt_db *db = NULL;
    char msg[512];
    int rc = bt_db_open(&db, path, &o, msg, sizeof msg);
    if (rc) fail_msg("open %s: %s: %s", path, bt_strerror(rc), msg);
    return db;
}

static void digests(uint8_t out[2][BT_DIGEST_LEN], bt_db *db)
{
    for (int t = 0; t < 2; t++) assert_int_equal(bt_db_digest(out[t], db, trees[t]), 0);
}

/* 0: before, 1: after, -1: neither */
static int which_state(uint8_t d[2][BT_DIGEST_LEN])
{
    if (!memcmp(d, d_before, sizeof d_before)) return 0;
    if (!memcmp(d, d_after, sizeof d_after)) return 1;
    return -1;
}

/* The template database: two trees with NKEYS keys each; the batch to
 * commit: NOPS operations per tree (updates, inserts, removals). */
static int setup(void **state)
{
    (void)state;
    /* tmpfs when there is one: thousands of synced commits and reopens */
    snprintf(dir, sizeof dir, "%s/bt-test-oom-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(tmpl, sizeof tmpl, "%s/tmpl", dir);
    snprintf(work, sizeof work, "%s/work", dir);
    bt_db *db = open_db(tmpl);
    bt_params p = BT_PARAMS_INIT;
    p.key_len = 32;
    p.value_len = BT_VALUE_VARIABLE;
    assert_int_equal(bt_db_tree_create(db, trees[0], &p), 0);
    p.value_len = 16;
    assert_int_equal(bt_db_tree_create(db, trees[1], &p), 0);
    uint64_t rs = 7;
    for (int t = 0; t < 2; t++) {
        bt_txn *txn;
        assert_int_equal(bt_txn_begin(&txn, db), 0);
        for (uint64_t i = 0; i < NKEYS; i++) {
            uint8_t k[32], v[16];
            tu_make_key(k, 32, i * 2);
            for (int j = 0; j < 16; j++) v[j] = (uint8_t)tu_rand(&rs);
            bt_op op = {BT_OP_INSERT, k, 32, v, 16};
            bt_result r;
            assert_int_equal(bt_txn_apply(txn, trees[t], &op, 1, &r), 0);
        }
        assert_int_equal(bt_txn_commit(txn, NULL), 0);
    }
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < NOPS; i++) {
            tu_make_key(keys[t][i], 32, (uint64_t)(tu_rand(&rs) % (2 * NKEYS)));
            size_t vl = t == 0 ? tu_rand(&rs) % 24 : 16;
            for (size_t j = 0; j < vl; j++) vals[t][i][j] = (uint8_t)tu_rand(&rs);
            bt_op_type ty = i % 4 == 3 ? BT_OP_REMOVE_IF_EXISTS : BT_OP_INSERT_OR_UPDATE;
            ops[t][i] = (bt_op){ty, keys[t][i], 32, ty == BT_OP_REMOVE_IF_EXISTS ? NULL : vals[t][i],
                                ty == BT_OP_REMOVE_IF_EXISTS ? 0 : vl};
        }
    }
    digests(d_before, db);
    assert_int_equal(bt_db_close(db), 0);
    /* the expected "after" state: commit once on a scratch copy */
    copy_tmpl();
    db = open_db(work);
    bt_txn *txn;
    assert_int_equal(bt_txn_begin(&txn, db), 0);
    bt_result res[NOPS];
    for (int t = 0; t < 2; t++) assert_int_equal(bt_txn_apply(txn, trees[t], ops[t], NOPS, res), 0);
    assert_int_equal(bt_txn_commit(txn, NULL), 0);
    digests(d_after, db);
    assert_int_equal(bt_db_close(db), 0);
    assert_memory_not_equal(d_before, d_after, sizeof d_before);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf %s %s", dir, "");
    return 0;
}

static void test_oom_commit(void **state)
{
    (void)state;
    long n, failed_runs = 0, committed_with_failures = 0;
    int dirty = 1;
    for (n = 1; n <= MAX_N; n++) {
        if (dirty) copy_tmpl(); /* a run that left the "before" state is reused */
        bt_db *db = open_db(work);
        bt_alloc_fail_after(n);
        bt_txn *txn = NULL;
        int rc = bt_txn_begin(&txn, db);
        for (int t = 0; t < 2 && rc == 0; t++) {
            bt_result res[NOPS];
            rc = bt_txn_apply(txn, trees[t], ops[t], NOPS, res);
        }
        int stage = rc ? 1 : 2;
        if (rc == 0) {
            rc = bt_txn_commit(txn, NULL);
            txn = NULL;
        }
        long failures = bt_alloc_failures();
        bt_alloc_fail_after(0);
        if (txn) bt_txn_abort(txn);
        if (rc != 0 && rc != BT_ENOMEM && rc != BT_EBADSTATE)
            fail_msg("n=%ld: stage %d returned %d (%s): %s", n, stage, rc, bt_strerror(rc),
                     bt_db_errmsg(db));
        if (rc) assert_true(failures > 0); /* an error without an injected failure? */
        uint8_t d[2][BT_DIGEST_LEN];
        digests(d, db);
        int st = which_state(d);
        if (st < 0) fail_msg("n=%ld: committed digests are neither before nor after", n);
        if (rc == 0 && st != 1) fail_msg("n=%ld: commit returned 0 but the digest is the old one", n);
        if (rc != 0 && st != 0) fail_msg("n=%ld: commit failed (%s) but its digest is visible", n, bt_strerror(rc));
        (void)bt_db_close(db); /* may report the failed state; must not crash */
        db = open_db(work);
        digests(d, db);
        int st2 = which_state(d);
        if (st2 < 0) fail_msg("n=%ld: after reopen the digests are neither before nor after", n);
        if (rc == 0 && st2 != 1) fail_msg("n=%ld: a returned commit was lost on reopen", n);
        for (int t = 0; t < 2; t++) {
            int crc = bt_db_check(db, trees[t]);
            if (crc) fail_msg("n=%ld: bt_db_check(%s) after reopen: %s", n, trees[t], bt_db_errmsg(db));
        }
        assert_int_equal(bt_db_close(db), 0);
        dirty = st2 != 0;
        if (rc) failed_runs++;
        else if (failures) committed_with_failures++;
        if (failures == 0) break; /* the whole path needed fewer than n allocations */
    }
    assert_true(n <= MAX_N);
    print_message("oom commit path: %ld countdown runs, %ld failed cleanly, %ld absorbed\n", n,
                  failed_runs, committed_with_failures);
    assert_true(failed_runs > 0);
}

static void test_oom_open(void **state)
{
    (void)state;
    long n, failed = 0;
    copy_tmpl();
    for (n = 1; n <= MAX_N; n++) {
        bt_db_options o = opts();
        bt_db *db = NULL;
        char msg[512] = "";
        bt_alloc_fail_after(n);
        int rc = bt_db_open(&db, work, &o, msg, sizeof msg);
        long failures = bt_alloc_failures();
        bt_alloc_fail_after(0);
        if (rc != 0 && rc != BT_ENOMEM)
            fail_msg("n=%ld: bt_db_open returned %d (%s): %s", n, rc, bt_strerror(rc), msg);
        if (rc) {
            assert_null(db);
            if (!msg[0]) fail_msg("n=%ld: bt_db_open failed with %s and no message", n, bt_strerror(rc));
            failed++;
            continue;
        }
        uint8_t d[2][BT_DIGEST_LEN];
        digests(d, db);
        if (which_state(d) != 0) fail_msg("n=%ld: open under memory pressure gave other digests", n);
        assert_int_equal(bt_db_close(db), 0);
        if (failures == 0) break;
    }
    assert_true(n <= MAX_N);
    print_message("oom open: %ld countdown runs, %ld failed cleanly\n", n, failed);
    assert_true(failed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_commit),
        cmocka_unit_test(test_oom_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
