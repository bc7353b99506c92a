/*
 * test_db_threads.c -- one writer commits while reader threads look keys up
 * and prove them against the committed version.  Every reader result must
 * be consistent with one committed state: each lookup proof verifies against
 * the digest it was made for, and the proven value is what the writer
 * committed for that key at some point.  The node cache is kept tiny so that
 * it is dropped (trees re-rooted) many times under the readers' feet.
 * Run under ASan in CI; under TSan by hand (docs/RELIABILITY.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "testutil.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS 12000
#define COMMITS 120

static char dir[256];
static bt_db *db;
static atomic_int stop;
static atomic_long reads_ok, proofs_ok;

static void key_of(uint8_t k[32], uint64_t i)
{
    uint64_t s = i * 31 + 5;
    for (int j = 0; j < 4; j++) {
        uint64_t x = tu_rand(&s);
        memcpy(k + 8 * j, &x, 8);
    }
}

/* Values encode (key index, version) so a reader can check plausibility. */
static void value_of(uint8_t v[8], uint32_t key, uint32_t version)
{
    memcpy(v, &key, 4);
    memcpy(v + 4, &version, 4);
}

static void *reader(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    bt_params p = BT_PARAMS_INIT;
    p.value_len = 8;
    while (!atomic_load(&stop)) {
        uint32_t ki = (uint32_t)(tu_rand(&rng) % KEYS);
        uint8_t k[32];
        key_of(k, ki);
        uint8_t *val;
        size_t vl;
        int rc = bt_db_get(&val, &vl, db, "t", k, 32);
        if (rc == 0) {
            uint32_t got;
            if (vl != 8) abort();
            memcpy(&got, val, 4);
            if (got != ki) abort(); /* a value of another key: torn read */
            bt_free(val);
            atomic_fetch_add(&reads_ok, 1);
        } else if (rc != BT_ENOTFOUND) {
            fprintf(stderr, "reader get: %d %s\n", rc, bt_db_errmsg(db));
            abort();
        }
        bt_op look = {BT_OP_LOOKUP, k, 32, NULL, 0};
        uint8_t *proof, d[33], out[33];
        size_t plen;
        bt_result r;
        rc = bt_db_prove(&proof, &plen, d, &r, db, "t", &look, 1);
        if (rc) {
            fprintf(stderr, "reader prove: %d %s\n", rc, bt_db_errmsg(db));
            abort();
        }
        /* a lookup does not change the digest: d is the snapshot's digest */
        bt_verifier *v;
        if (bt_verifier_new(&v, &p, d, 33, proof, plen, NULL)) abort();
        bt_result vr;
        if (bt_verifier_apply(v, &look, &vr)) abort();
        if (vr.found != r.found) abort();
        if (r.found && (vr.old_len != 8 || memcmp(vr.old, r.old, 8) != 0)) abort();
        if (bt_verifier_digest(out, v) || memcmp(out, d, 33) != 0) abort();
        bt_verifier_free(v);
        bt_free(proof);
        atomic_fetch_add(&proofs_ok, 1);
    }
    return NULL;
}

static void test_one_writer_many_readers(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bt-test-threads-XXXXXX");
    assert_non_null(mkdtemp(dir));
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.cache_bytes = 1 << 20; /* tiny: forces cache drops */
    o.flush_ops = 3000;
    o.min_free_bytes = 0;
    o.durability = BT_DURABILITY_NONE;
    char msg[256];
    assert_int_equal(bt_db_open(&db, dir, &o, msg, sizeof msg), 0);
    bt_params p = BT_PARAMS_INIT;
    p.value_len = 8;
    assert_int_equal(bt_db_tree_create(db, "t", &p), 0);
    /* seed the tree so that readers have something to load */
    {
        bt_txn *t;
        bt_op ops[KEYS];
        bt_result res[KEYS];
        static uint8_t keys[KEYS][32], vals[KEYS][8];
        for (uint32_t i = 0; i < KEYS; i += 2) {
            key_of(keys[i], i);
            value_of(vals[i], i, 0);
            ops[i / 2] = (bt_op){BT_OP_INSERT, keys[i], 32, vals[i], 8};
        }
        assert_int_equal(bt_txn_begin(&t, db), 0);
        assert_int_equal(bt_txn_apply(t, "t", ops, KEYS / 2, res), 0);
        assert_int_equal(bt_txn_commit(t, NULL), 0);
        assert_int_equal(bt_db_flush(db), 0);
    }
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)(i + 1)), 0);
    uint64_t rng = 99;
    for (uint32_t c = 1; c <= COMMITS; c++) {
        enum { N = 200 };
        bt_op ops[N];
        bt_result res[N];
        uint8_t keys[N][32], vals[N][8];
        for (int i = 0; i < N; i++) {
            uint32_t ki = (uint32_t)(tu_rand(&rng) % KEYS);
            key_of(keys[i], ki);
            value_of(vals[i], ki, c);
            bt_op_type ty = (tu_rand(&rng) % 5 == 0) ? BT_OP_REMOVE_IF_EXISTS : BT_OP_INSERT_OR_UPDATE;
            ops[i] = (bt_op){ty, keys[i], 32, vals[i], 8};
        }
        bt_txn *t;
        assert_int_equal(bt_txn_begin(&t, db), 0);
        assert_int_equal(bt_txn_apply(t, "t", ops, N, res), 0);
        assert_int_equal(bt_txn_commit(t, NULL), 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    bt_db_stats st;
    assert_int_equal(bt_db_stats_get(&st, db), 0);
    assert_true(st.cache_drops > 0);
    assert_true(atomic_load(&proofs_ok) > 0);
    assert_int_equal(bt_db_check(db, "t"), 0);
    assert_int_equal(bt_db_close(db), 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_writer_many_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
