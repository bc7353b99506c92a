/*
 * test_lazy.c -- the core's lazy-loading hook: a tree opened on a label stub
 * loads nodes on demand through a context-carrying, failable node source,
 * and behaves exactly like the fully in-memory tree with the same history.
 * Corrupt or failing loads surface as errors, never as wrong answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tree_int.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A toy "disk": one record per node, children referenced by index. */
typedef struct rec {
    int kind;
    int8_t balance;
    uint8_t key[32], next[32], value[64];
    uint32_t vlen;
    uint64_t left, right;
    uint8_t llabel[32], rlabel[32];
} rec;

typedef struct disk {
    rec *recs;
    size_t n, cap;
    int fail_after; /* 0: never; k: the k-th load fails */
    int loads;
} disk;

static uint64_t store(disk *d, bt_node *n)
{
    rec r;
    memset(&r, 0, sizeof r);
    r.kind = n->kind;
    r.balance = n->balance;
    memcpy(r.key, bt_node_key(n), 32);
    if (n->kind == BT_NK_LEAF) {
        r.vlen = n->u.leaf.vlen;
        assert_true(r.vlen <= sizeof r.value);
        memcpy(r.value, bt_leaf_value(n), r.vlen);
        memcpy(r.next, bt_leaf_next(n), 32);
    } else {
        r.left = store(d, n->u.in.left);
        r.right = store(d, n->u.in.right);
        memcpy(r.llabel, bt_node_label(n->u.in.left), 32);
        memcpy(r.rlabel, bt_node_label(n->u.in.right), 32);
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->recs = realloc(d->recs, d->cap * sizeof *d->recs);
    }
    d->recs[d->n] = r;
    return d->n++;
}

static int load(void *ctx, const bt_node *stub, unsigned klen, bool fixed, uint32_t vlen,
                bt_node **out, char *msg, size_t msgcap)
{
    disk *d = ctx;
    (void)fixed;
    (void)vlen;
    d->loads++;
    if (d->fail_after && d->loads >= d->fail_after) {
        snprintf(msg, msgcap, "simulated read error");
        return BT_EIO;
    }
    if (stub->u.stub.ref >= d->n) {
        snprintf(msg, msgcap, "no such node");
        return BT_ECORRUPT;
    }
    const rec *r = &d->recs[stub->u.stub.ref];
    if (r->kind == BT_NK_LEAF) {
        *out = bt_node_new_leaf(klen, r->key, r->value, r->vlen, r->next, 0);
    } else {
        bt_node *l = bt_node_new_label(r->llabel, r->left);
        bt_node *rt = bt_node_new_label(r->rlabel, r->right);
        *out = bt_node_new_internal(klen, r->key, l, rt, r->balance, 0);
        bt_node_unref(l);
        bt_node_unref(rt);
    }
    return *out ? 0 : BT_ENOMEM;
}

static void make_key(uint8_t key[32], uint64_t i)
{
    uint64_t st = i * 7919 + 1;
    for (int j = 0; j < 4; j++) {
        uint64_t x = tu_rand(&st);
        memcpy(key + 8 * j, &x, 8);
    }
}

/* Builds a 2000-key in-memory tree, "stores" it and reopens it lazily. */
static void build(bt_tree **mem, bt_tree **lazy, disk *d)
{
    bt_params p = BT_PARAMS_INIT;
    assert_int_equal(bt_tree_new(mem, &p), 0);
    for (uint64_t i = 0; i < 2000; i++) {
        uint8_t k[32], v[8];
        make_key(k, i);
        memcpy(v, &i, 8);
        bt_op op = {BT_OP_INSERT, k, 32, v, 8};
        bt_result r;
        assert_int_equal(bt_tree_apply(*mem, &op, &r), 0);
        assert_int_equal(r.status, 0);
    }
    uint8_t *proof;
    size_t len;
    assert_int_equal(bt_tree_prove(&proof, &len, *mem), 0);
    bt_free(proof);
    bt_node *root = (*mem)->s.root;
    uint64_t rid = store(d, root);
    bt_node *stub = bt_node_new_label(bt_node_label(root), rid);
    bt_node_source src = {load, d};
    assert_int_equal(bt_tree_open_root(lazy, &p, stub, (int)bt_tree_height(*mem),
                                       bt_tree_count(*mem), &src),
                     0);
    bt_node_unref(stub);
}

static void test_lazy_matches_memory(void **state)
{
    (void)state;
    disk d = {0};
    bt_tree *mem, *lazy;
    build(&mem, &lazy, &d);
    uint8_t d1[33], d2[33];
    assert_int_equal(bt_tree_digest(d1, mem), 0);
    assert_int_equal(bt_tree_digest(d2, lazy), 0);
    assert_memory_equal(d1, d2, 33);
    assert_int_equal(d.loads, 0); /* opening loads nothing */

    uint64_t rng = 42;
    for (int batch = 0; batch < 20; batch++) {
        for (int i = 0; i < 50; i++) {
            uint8_t k[32], v[8];
            uint64_t x = tu_rand(&rng);
            make_key(k, x % 2600); /* some present, some absent */
            memcpy(v, &x, 8);
            bt_op op = {(bt_op_type)(x % 6), k, 32, v, 8};
            bt_result r1, r2;
            assert_int_equal(bt_tree_apply(mem, &op, &r1), 0);
            assert_int_equal(bt_tree_apply(lazy, &op, &r2), 0);
            assert_int_equal(r1.status, r2.status);
            assert_int_equal(r1.found, r2.found);
            if (r1.found) {
                assert_int_equal(r1.old_len, r2.old_len);
                assert_memory_equal(r1.old, r2.old, r1.old_len);
            }
        }
        uint8_t *p1, *p2;
        size_t l1, l2;
        assert_int_equal(bt_tree_prove(&p1, &l1, mem), 0);
        assert_int_equal(bt_tree_prove(&p2, &l2, lazy), 0);
        assert_int_equal(l1, l2);
        assert_memory_equal(p1, p2, l1);
        bt_free(p1);
        bt_free(p2);
    }
    assert_true(d.loads > 0);
    assert_true((size_t)d.loads < d.n); /* only what the operations needed */
    assert_int_equal(bt_tree_check(lazy), 0);
    assert_int_equal(bt_tree_digest(d1, mem), 0);
    assert_int_equal(bt_tree_digest(d2, lazy), 0);
    assert_memory_equal(d1, d2, 33);
    bt_tree_free(mem);
    bt_tree_free(lazy);
    free(d.recs);
}

static void test_lazy_corrupt_node(void **state)
{
    (void)state;
    disk d = {0};
    bt_tree *mem, *lazy;
    build(&mem, &lazy, &d);
    for (size_t i = 0; i < d.n; i++) d.recs[i].balance = (int8_t)-d.recs[i].balance;
    for (size_t i = 0; i < d.n; i++)
        if (d.recs[i].kind == BT_NK_LEAF && d.recs[i].vlen) d.recs[i].value[0] ^= 1;
    const uint8_t *v;
    size_t vl;
    uint8_t k[32];
    make_key(k, 5);
    /* The root record's label no longer matches: every path fails. */
    assert_int_equal(bt_tree_get(&v, &vl, lazy, k, 32), BT_ECORRUPT);
    assert_non_null(strstr(bt_tree_errmsg(lazy), "label"));
    bt_op op = {BT_OP_LOOKUP, k, 32, NULL, 0};
    bt_result r;
    assert_int_equal(bt_tree_apply(lazy, &op, &r), BT_ECORRUPT);
    assert_int_equal(bt_tree_check(lazy), BT_ECORRUPT);
    bt_tree_free(mem);
    bt_tree_free(lazy);
    free(d.recs);
}

static void test_lazy_io_error_poisons_batch(void **state)
{
    (void)state;
    disk d = {0};
    bt_tree *mem, *lazy;
    build(&mem, &lazy, &d);
    uint8_t before[33], after[33];
    assert_int_equal(bt_tree_digest(before, lazy), 0);
    d.fail_after = 8; /* fail in the middle of the first descent */
    uint8_t k[32], v[8] = {1};
    make_key(k, 100000);
    bt_op op = {BT_OP_INSERT, k, 32, v, 8};
    bt_result r;
    assert_int_equal(bt_tree_apply(lazy, &op, &r), BT_EIO);
    assert_int_equal(bt_tree_apply(lazy, &op, &r), BT_EBADSTATE);
    d.fail_after = 0;
    bt_tree_discard(lazy);
    assert_int_equal(bt_tree_digest(after, lazy), 0);
    assert_memory_equal(before, after, 33);
    assert_int_equal(bt_tree_apply(lazy, &op, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(bt_tree_check(lazy), 0);
    bt_tree_free(mem);
    bt_tree_free(lazy);
    free(d.recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_matches_memory),
        cmocka_unit_test(test_lazy_corrupt_node),
        cmocka_unit_test(test_lazy_io_error_poisons_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
