/*
 * test_model.c -- seeded random operation streams against a sorted-map model.
 *
 * For each scenario (seed, key length, value mode) a few thousand operations
 * of all six types are applied in batches of random size.  Every result is
 * compared with tu_model; after every batch bt_tree_check must pass and the
 * batch proof must be accepted by the verifier, which must return the same
 * per-operation results and exactly the prover's digest.  Some batches are
 * discarded instead (the digest and contents must return to the last proved
 * state).  Each scenario ends by removing every key, which must give back
 * bt_empty_digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basistrees.h"
#include "testutil.h"

typedef struct scenario {
    uint64_t seed;
    unsigned key_len;
    uint32_t value_len;
    unsigned n_keys; /* key space: collisions are frequent */
    unsigned n_ops;
} scenario;

/* One succeeded op kept for the verifier, with its expected result. */
typedef struct kept {
    bt_op op; /* op.key / op.value point to key / val (heap, stable) */
    uint8_t *key;
    uint8_t *val;
    int found;
    uint8_t *old;
    size_t old_len;
} kept;

typedef struct run {
    const scenario *sc;
    bt_params params;
    uint64_t rng;
    bt_tree *tree;
    tu_model m, committed;
    uint8_t start[BT_DIGEST_LEN], empty[BT_DIGEST_LEN];
    kept *log;
    size_t n_log, cap_log;
    /* statistics, to make sure the stream exercised what it should */
    unsigned long ok_by_type[6], fail_by_status[32], proofs, discards;
} run;

static unsigned rnd(run *r, unsigned n)
{
    return (unsigned)(tu_rand(&r->rng) % n);
}

static void clear_log(run *r)
{
    for (size_t i = 0; i < r->n_log; i++) {
        free(r->log[i].key);
        free(r->log[i].val);
        free(r->log[i].old);
    }
    r->n_log = 0;
}

static void apply_checked(run *r, const bt_op *op)
{
    bt_result res;
    assert_int_equal(bt_tree_apply(r->tree, op, &res), 0);
    int found;
    uint8_t *old;
    size_t old_len;
    int st = tu_model_apply(&r->m, op, &found, &old, &old_len);
    assert_int_equal(res.status, st);
    if (st == 0) {
        assert_int_equal(res.found, found);
        if (found) {
            assert_int_equal(res.old_len, old_len);
            if (old_len) assert_memory_equal(res.old, old, old_len);
        }
        r->ok_by_type[op->type]++;
        if (r->n_log == r->cap_log) {
            r->cap_log = r->cap_log ? 2 * r->cap_log : 64;
            r->log = realloc(r->log, r->cap_log * sizeof *r->log);
            assert_non_null(r->log);
        }
        kept *k = &r->log[r->n_log++];
        k->key = malloc(op->key_len);
        assert_non_null(k->key);
        memcpy(k->key, op->key, op->key_len);
        k->val = NULL;
        if (op->value) {
            k->val = malloc(op->value_len ? op->value_len : 1);
            assert_non_null(k->val);
            if (op->value_len) memcpy(k->val, op->value, op->value_len);
        }
        k->op = *op;
        k->op.key = k->key;
        k->op.value = k->val;
        k->found = found;
        k->old = old;
        k->old_len = old_len;
    } else {
        r->fail_by_status[-st & 31]++;
        free(old);
    }
    assert_int_equal(bt_tree_count(r->tree), r->m.n);
}

static void prove_and_verify(run *r)
{
    uint8_t before[BT_DIGEST_LEN], after[BT_DIGEST_LEN], vd[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(before, r->tree), 0);
    uint8_t *proof = NULL;
    size_t len = 0;
    assert_int_equal(bt_tree_prove(&proof, &len, r->tree), 0);
    assert_non_null(proof);
    assert_int_equal(bt_tree_digest(after, r->tree), 0);
    assert_memory_equal(before, after, BT_DIGEST_LEN);
    assert_int_equal(after[32], bt_tree_height(r->tree));
    int crc = bt_tree_check(r->tree);
    if (crc) fail_msg("bt_tree_check: %s", bt_tree_errmsg(r->tree));

    bt_verifier *v = NULL;
    assert_int_equal(bt_verifier_new(&v, &r->params, r->start, BT_DIGEST_LEN, proof, len, NULL),
                     0);
    for (size_t i = 0; i < r->n_log; i++) {
        bt_result res;
        int rc = bt_verifier_apply(v, &r->log[i].op, &res);
        if (rc) fail_msg("verifier op %zu of %zu: %s", i, r->n_log, bt_verifier_errmsg(v));
        assert_int_equal(res.status, 0);
        assert_int_equal(res.found, r->log[i].found);
        if (res.found) {
            assert_int_equal(res.old_len, r->log[i].old_len);
            if (res.old_len) assert_memory_equal(res.old, r->log[i].old, res.old_len);
        }
    }
    assert_int_equal(bt_verifier_digest(vd, v), 0);
    assert_memory_equal(vd, after, BT_DIGEST_LEN);
    bt_verifier_free(v);
    bt_free(proof);

    if (r->m.n == 0) assert_memory_equal(after, r->empty, BT_DIGEST_LEN);
    memcpy(r->start, after, BT_DIGEST_LEN);
    tu_model_copy(&r->committed, &r->m);
    clear_log(r);
    r->proofs++;
}

static void discard_batch(run *r)
{
    bt_tree_discard(r->tree);
    uint8_t d[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(d, r->tree), 0);
    assert_memory_equal(d, r->start, BT_DIGEST_LEN);
    tu_model_copy(&r->m, &r->committed);
    clear_log(r);
    assert_int_equal(bt_tree_count(r->tree), r->m.n);
    assert_int_equal(bt_tree_check(r->tree), 0);
    r->discards++;
}

/* A random op with the key and value in the caller's buffers. */
static void random_op(run *r, bt_op *op, uint8_t *key, uint8_t *val)
{
    size_t kl = r->params.key_len;
    unsigned t = rnd(r, 100);
    /* Inserts dominate a little so the tree grows. */
    op->type = t < 30 ? BT_OP_INSERT : t < 45 ? BT_OP_INSERT_OR_UPDATE
             : t < 57 ? BT_OP_UPDATE : t < 72 ? BT_OP_REMOVE
             : t < 84 ? BT_OP_REMOVE_IF_EXISTS : BT_OP_LOOKUP;
    op->key = key;
    op->key_len = kl;
    unsigned k = rnd(r, 1000);
    if (k == 0) {
        memset(key, 0x00, kl);
    } else if (k == 1) {
        memset(key, 0xFF, kl);
    } else if (k == 2) {
        tu_make_key(key, kl, rnd(r, r->sc->n_keys));
        key[kl] = 0x42;
        op->key_len = kl + 1;
    } else {
        tu_make_key(key, kl, rnd(r, r->sc->n_keys));
    }
    size_t vl;
    if (r->params.value_len != BT_VALUE_VARIABLE) {
        vl = r->params.value_len;
        if (rnd(r, 300) == 0) vl = rnd(r, 2) ? vl + 1 : vl - 1;
    } else {
        vl = rnd(r, 200) == 0 ? 1000 + rnd(r, 3000) : rnd(r, 40);
    }
    for (size_t i = 0; i < vl; i++) val[i] = (uint8_t)tu_rand(&r->rng);
    op->value = val;
    op->value_len = vl;
}

static void run_scenario(const scenario *sc)
{
    run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->sc = sc;
    r->rng = sc->seed;
    bt_params p = BT_PARAMS_INIT;
    p.key_len = sc->key_len;
    p.value_len = sc->value_len;
    r->params = p;
    assert_int_equal(bt_tree_new(&r->tree, &p), 0);
    tu_model_init(&r->m, &p);
    tu_model_init(&r->committed, &p);
    assert_int_equal(bt_empty_digest(r->empty, &p), 0);
    assert_int_equal(bt_tree_digest(r->start, r->tree), 0);
    assert_memory_equal(r->start, r->empty, BT_DIGEST_LEN);

    uint8_t key[BT_KEY_LEN_MAX + 1];
    uint8_t *val = malloc(4096);
    assert_non_null(val);
    unsigned done = 0;
    while (done < sc->n_ops) {
        unsigned size = rnd(r, 10) == 0 ? 1 + rnd(r, 400) : rnd(r, 40);
        for (unsigned i = 0; i < size && done < sc->n_ops; i++, done++) {
            bt_op op;
            random_op(r, &op, key, val);
            apply_checked(r, &op);
        }
        if (rnd(r, 10) == 0) discard_batch(r);
        else prove_and_verify(r);
    }

    /* Remove everything, in random order, in random batches. */
    while (r->m.n > 0) {
        unsigned size = 1 + rnd(r, 50);
        for (unsigned i = 0; i < size && r->m.n > 0; i++) {
            size_t j = rnd(r, (unsigned)r->m.n);
            bt_op op = {rnd(r, 2) ? BT_OP_REMOVE : BT_OP_REMOVE_IF_EXISTS, key, p.key_len, NULL,
                        0};
            memcpy(key, r->m.e[j].key, p.key_len);
            apply_checked(r, &op);
        }
        prove_and_verify(r);
    }
    assert_int_equal(bt_tree_count(r->tree), 0);
    assert_int_equal(bt_tree_height(r->tree), 0);
    uint8_t d[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(d, r->tree), 0);
    assert_memory_equal(d, r->empty, BT_DIGEST_LEN);

    /* The stream must have covered every op type and the failure classes. */
    for (int t = 0; t < 6; t++) assert_true(r->ok_by_type[t] > 0);
    assert_true(r->fail_by_status[-BT_EEXISTS] > 0);
    assert_true(r->fail_by_status[-BT_ENOTFOUND] > 0);
    assert_true(r->discards > 0);

    free(val);
    clear_log(r);
    free(r->log);
    tu_model_free(&r->m);
    tu_model_free(&r->committed);
    bt_tree_free(r->tree);
    free(r);
}

static void test_var_key32(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        scenario sc = {seed, 32, BT_VALUE_VARIABLE, 300, 4000};
        run_scenario(&sc);
    }
}

static void test_fixed8_key32(void **state)
{
    (void)state;
    for (uint64_t seed = 11; seed <= 14; seed++) {
        scenario sc = {seed, 32, 8, 300, 4000};
        run_scenario(&sc);
    }
}

static void test_var_key1(void **state)
{
    (void)state;
    for (uint64_t seed = 21; seed <= 23; seed++) {
        scenario sc = {seed, 1, BT_VALUE_VARIABLE, 254, 4000};
        run_scenario(&sc);
    }
}

static void test_fixed8_key1(void **state)
{
    (void)state;
    for (uint64_t seed = 31; seed <= 33; seed++) {
        scenario sc = {seed, 1, 8, 254, 4000};
        run_scenario(&sc);
    }
}

/* Few keys: almost every op hits an existing key or a tiny tree. */
static void test_tiny_keyspace(void **state)
{
    (void)state;
    for (uint64_t seed = 41; seed <= 44; seed++) {
        scenario sc = {seed, 32, seed & 1 ? 8 : BT_VALUE_VARIABLE, 5, 3000};
        run_scenario(&sc);
    }
}

/* Larger tree: a few thousand keys, mostly inserts first. */
static void test_larger_tree(void **state)
{
    (void)state;
    scenario sc = {99, 32, BT_VALUE_VARIABLE, 5000, 12000};
    run_scenario(&sc);
}

/* Discard restores exactly the previous digest, many times in a row. */
static void test_discard_restores(void **state)
{
    (void)state;
    bt_params p = BT_PARAMS_INIT;
    bt_tree *t;
    assert_int_equal(bt_tree_new(&t, &p), 0);
    uint8_t key[32], val[4] = {1, 2, 3, 4};
    for (uint64_t i = 0; i < 200; i++) {
        tu_make_key(key, 32, i);
        bt_op op = {BT_OP_INSERT, key, 32, val, 4};
        bt_result r;
        assert_int_equal(bt_tree_apply(t, &op, &r), 0);
        assert_int_equal(r.status, 0);
    }
    uint8_t *pr;
    size_t pl;
    assert_int_equal(bt_tree_prove(&pr, &pl, t), 0);
    bt_free(pr);
    uint8_t d0[BT_DIGEST_LEN], d1[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(d0, t), 0);
    uint64_t rng = 5;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 30; i++) {
            tu_make_key(key, 32, tu_rand(&rng) % 400);
            bt_op op = {(bt_op_type)(tu_rand(&rng) % 6), key, 32, val, 4};
            bt_result r;
            assert_int_equal(bt_tree_apply(t, &op, &r), 0);
        }
        bt_tree_discard(t);
        assert_int_equal(bt_tree_digest(d1, t), 0);
        assert_memory_equal(d0, d1, BT_DIGEST_LEN);
        assert_int_equal(bt_tree_count(t), 200);
        assert_int_equal(bt_tree_check(t), 0);
    }
    /* Discard with nothing pending is a no-op. */
    bt_tree_discard(t);
    assert_int_equal(bt_tree_digest(d1, t), 0);
    assert_memory_equal(d0, d1, BT_DIGEST_LEN);
    bt_tree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_var_key32),     cmocka_unit_test(test_fixed8_key32),
        cmocka_unit_test(test_var_key1),      cmocka_unit_test(test_fixed8_key1),
        cmocka_unit_test(test_tiny_keyspace), cmocka_unit_test(test_larger_tree),
        cmocka_unit_test(test_discard_restores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
