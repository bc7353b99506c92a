/*
 * test_tree_api.c -- the in-memory tree and the verifier through the public
 * API: the upstream behavioural checklist (docs: shared/spec/upstream.md
 * section 3, items 30-64, re-expressed for our API) and API misuse.
 *
 * "A lookup proof verifies" means here what a Basis client checks: the
 * verifier rebuilds the tree from (digest, proof), the Lookup completes with
 * the expected value (or absence), and the digest afterwards equals the
 * starting digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basistrees.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------- */

static bt_params mkparams(unsigned kl, uint32_t vl)
{
    bt_params p = BT_PARAMS_INIT;
    p.key_len = kl;
    p.value_len = vl;
    return p;
}

static bt_tree *mktree(unsigned kl, uint32_t vl)
{
    bt_params p = mkparams(kl, vl);
    bt_tree *t = NULL;
    assert_int_equal(bt_tree_new(&t, &p), 0);
    assert_non_null(t);
    return t;
}

/* Applies one op; the call itself must complete; returns the op's status. */
static int op1(bt_tree *t, bt_op_type type, const uint8_t *key, size_t kl, const uint8_t *val,
               size_t vl)
{
    bt_op op = {type, key, kl, val, vl};
    bt_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(bt_tree_apply(t, &op, &r), 0);
    return r.status;
}

static void fill(uint8_t *b, size_t n, uint8_t v)
{
    memset(b, v, n);
}

static void digest(bt_tree *t, uint8_t out[BT_DIGEST_LEN])
{
    assert_int_equal(bt_tree_digest(out, t), 0);
}

static uint8_t *prove(bt_tree *t, size_t *len)
{
    uint8_t *p = NULL;
    assert_int_equal(bt_tree_prove(&p, len, t), 0);
    assert_non_null(p);
    return p;
}

/* Commits pending work, then makes a proof of a single Lookup of key.
 * start receives the digest the proof starts from. */
static uint8_t *lookup_proof(bt_tree *t, const uint8_t *key, size_t kl, size_t *len,
                             uint8_t start[BT_DIGEST_LEN])
{
    size_t l0;
    bt_free(prove(t, &l0));
    digest(t, start);
    assert_int_equal(op1(t, BT_OP_LOOKUP, key, kl, NULL, 0), 0);
    return prove(t, len);
}

/* The client's check of a lookup proof; expect == NULL means "absent". */
static bool lookup_verifies(const bt_params *p, const uint8_t *dig, size_t dig_len,
                            const uint8_t *proof, size_t len, const uint8_t *key, size_t kl,
                            const uint8_t *expect, size_t expect_len)
{
    bt_verifier *v = NULL;
    if (bt_verifier_new(&v, p, dig, dig_len, proof, len, NULL) != 0) {
        assert_null(v);
        return false;
    }
    bt_op op = {BT_OP_LOOKUP, key, kl, NULL, 0};
    bt_result r;
    bool ok = bt_verifier_apply(v, &op, &r) == 0;
    if (ok) {
        if (expect) {
            ok = r.found == 1 && r.old_len == expect_len &&
                 (expect_len == 0 || memcmp(r.old, expect, expect_len) == 0);
        } else {
            ok = r.found == 0;
        }
    }
    uint8_t after[BT_DIGEST_LEN];
    if (ok) ok = bt_verifier_digest(after, v) == 0 && memcmp(after, dig, BT_DIGEST_LEN) == 0;
    bt_verifier_free(v);
    return ok;
}

/* Runs the verifier over ops; returns its code and the digest in out. */
static int verify_ops(const bt_params *p, const uint8_t *start, const uint8_t *proof, size_t len,
                      const bt_op *ops, size_t n, uint8_t out[BT_DIGEST_LEN])
{
    return tu_verify(out, p, start, proof, len, ops, n, NULL);
}

/* ---- checklist 30-39: basic tree behaviour -------------------------------- */

static void test_creation_digest(void **state)
{
    (void)state;
    static const char *var32 =
        "4ec61f485b98eb87153f7c57db4f5ecd75556fddbc403b41acf8441fde8e160900";
    static const char *fix32 =
        "aebde47e15b6bfb577265ea5a819f5779328085286d86e7e1089636641dae9b800";
    uint8_t d[BT_DIGEST_LEN], e[BT_DIGEST_LEN];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    digest(t, d);
    char *h = tu_hex(d, BT_DIGEST_LEN);
    assert_string_equal(h, var32);
    free(h);
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    assert_int_equal(bt_empty_digest(e, &p), 0);
    assert_memory_equal(d, e, BT_DIGEST_LEN);
    assert_int_equal(bt_tree_height(t), 0);
    assert_int_equal(bt_tree_count(t), 0);
    assert_int_equal(bt_tree_check(t), 0);
    bt_tree_free(t);

    t = mktree(32, 8);
    digest(t, d);
    h = tu_hex(d, BT_DIGEST_LEN);
    assert_string_equal(h, fix32);
    free(h);
    bt_tree_free(t);
}

static void test_insert_update_change_digest(void **state)
{
    (void)state;
    uint8_t k[32], v[32], d0[33], d1[33], d2[33], zero[33] = {0};
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    digest(t, d0);
    fill(k, 32, 1);
    fill(v, 32, 2);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), 0);
    digest(t, d1);
    assert_memory_not_equal(d1, zero, 33);
    assert_memory_not_equal(d1, d0, 33);
    assert_int_equal(d1[32], 1);
    fill(v, 32, 3);
    assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, 32), 0);
    digest(t, d2);
    assert_memory_not_equal(d2, d1, 33);
    /* Remove changes it back to the empty digest. */
    assert_int_equal(op1(t, BT_OP_REMOVE, k, 32, NULL, 0), 0);
    digest(t, d2);
    assert_memory_equal(d2, d0, 33);
    bt_tree_free(t);
}

static void test_proof_nonempty(void **state)
{
    (void)state;
    uint8_t k[32], v[32], d[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    digest(t, d);
    size_t l0, l1;
    uint8_t *p0 = prove(t, &l0);
    /* Nothing done: the proof is the root label alone. */
    assert_int_equal(l0, 34);
    assert_int_equal(p0[0], 0x03);
    assert_memory_equal(p0 + 1, d, 32);
    assert_int_equal(p0[33], 0x04);
    fill(k, 32, 1);
    fill(v, 32, 2);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), 0);
    uint8_t *p1 = prove(t, &l1);
    assert_true(l1 > 0);
    assert_true(l1 != l0 || memcmp(p0, p1, l0) != 0);
    bt_free(p0);
    bt_free(p1);
    bt_tree_free(t);
}

static void test_multiple_and_sequential(void **state)
{
    (void)state;
    uint8_t k[32] = {0}, v[32], d0[33], d1[33], d2[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    digest(t, d0);
    for (int i = 1; i <= 10; i++) {
        k[0] = (uint8_t)i;
        fill(v, 32, (uint8_t)(2 * i));
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), 0);
    }
    digest(t, d1);
    assert_memory_not_equal(d0, d1, 33);
    assert_int_equal(bt_tree_count(t), 10);
    /* Sequential updates of one key. */
    k[0] = 1;
    for (int i = 11; i <= 15; i++) {
        fill(v, 32, (uint8_t)i);
        assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, 32), 0);
    }
    digest(t, d2);
    assert_memory_not_equal(d1, d2, 33);
    const uint8_t *got;
    size_t gl;
    assert_int_equal(bt_tree_get(&got, &gl, t, k, 32), 0);
    assert_int_equal(gl, 32);
    assert_int_equal(got[0], 15);
    assert_int_equal(bt_tree_check(t), 0);
    bt_tree_free(t);
}

static void test_mixed_and_many(void **state)
{
    (void)state;
    uint8_t k[32] = {0}, v[32], d0[33], d1[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    digest(t, d0);
    for (int i = 1; i <= 5; i++) {
        k[0] = (uint8_t)i;
        if (i % 2 == 0) {
            fill(v, 32, (uint8_t)i);
            assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), 0);
        } else {
            fill(v, 32, (uint8_t)(2 * i));
            assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), 0);
            fill(v, 32, (uint8_t)(3 * i));
            assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, 32), 0);
        }
    }
    digest(t, d1);
    assert_memory_not_equal(d0, d1, 33);
    bt_tree_free(t);

    /* 100 inserts, key[0] = i % 256, key[1] = i / 256; i = 0 is the -inf
     * sentinel (all zero) and must be refused. */
    t = mktree(32, BT_VALUE_VARIABLE);
    memset(k, 0, 32);
    fill(v, 32, 7);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), BT_EKEYLOW);
    for (int i = 1; i <= 100; i++) {
        k[0] = (uint8_t)(i % 256);
        k[1] = (uint8_t)(i / 256);
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), 0);
    }
    digest(t, d1);
    assert_memory_not_equal(d0, d1, 33);
    assert_int_equal(bt_tree_count(t), 100);
    assert_int_equal(bt_tree_check(t), 0);
    bt_tree_free(t);
}

static void test_prove_keeps_digest(void **state)
{
    (void)state;
    uint8_t k[32], v[8], d0[33], d1[33];
    bt_tree *t = mktree(32, 8);
    for (uint64_t i = 0; i < 50; i++) {
        tu_make_key(k, 32, i);
        fill(v, 8, (uint8_t)i);
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), 0);
    }
    digest(t, d0);
    size_t l;
    bt_free(prove(t, &l));
    digest(t, d1);
    assert_memory_equal(d0, d1, 33);
    bt_free(prove(t, &l));
    digest(t, d1);
    assert_memory_equal(d0, d1, 33);
    assert_int_equal(bt_tree_count(t), 50);
    bt_tree_free(t);
}

static void test_lookup_proof_verifies(void **state)
{
    (void)state;
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    uint8_t k[32], v[8], other[32], wrongv[8], d[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    fill(k, 32, 1);
    fill(v, 8, 2);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), 0);
    size_t len;
    uint8_t *pr = lookup_proof(t, k, 32, &len, d);
    assert_true(lookup_verifies(&p, d, 33, pr, len, k, 32, v, 8));
    /* Wrong value. */
    fill(wrongv, 8, 3);
    assert_false(lookup_verifies(&p, d, 33, pr, len, k, 32, wrongv, 8));
    /* Claimed absent. */
    assert_false(lookup_verifies(&p, d, 33, pr, len, k, 32, NULL, 0));
    /* Wrong key: outside the leaf's range, the verifier refuses. */
    fill(other, 32, 0x05);
    assert_false(lookup_verifies(&p, d, 33, pr, len, other, 32, v, 8));
    /* Flipped byte of the proof (inside the value). */
    uint8_t *bad = malloc(len);
    memcpy(bad, pr, len);
    bad[len - 4] ^= 0x01;
    assert_false(lookup_verifies(&p, d, 33, bad, len, k, 32, v, 8));
    /* First byte of the proof flipped. */
    memcpy(bad, pr, len);
    bad[0] ^= 0x01;
    assert_false(lookup_verifies(&p, d, 33, bad, len, k, 32, v, 8));
    free(bad);
    /* Flipped digest byte (label part). */
    uint8_t d2[33];
    memcpy(d2, d, 33);
    d2[0] ^= 0x80;
    assert_false(lookup_verifies(&p, d2, 33, pr, len, k, 32, v, 8));
    /* All-zero digest. */
    uint8_t z[33] = {0};
    assert_false(lookup_verifies(&p, z, 33, pr, len, k, 32, v, 8));
    /* Digest of the wrong length. */
    assert_false(lookup_verifies(&p, d, 32, pr, len, k, 32, v, 8));
    /* The height byte is not authenticated (avl_format.md section 4): a
     * wrong height still verifies and carries through to the result. */
    memcpy(d2, d, 33);
    d2[32] ^= 0x01;
    assert_true(lookup_verifies(&p, d2, 33, pr, len, k, 32, v, 8));
    bt_free(pr);
    bt_tree_free(t);
}

/* ---- checklist 40-42, 61-62: what-if proofs ------------------------------- */

static void test_whatif_insert(void **state)
{
    (void)state;
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    uint8_t k[32], v[8], d0[33], d1[33], w1[33], w2[33], rd[33], vd[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    digest(t, d0);
    fill(k, 32, 0x11);
    fill(v, 8, 0x22);
    bt_op op = {BT_OP_INSERT, k, 32, v, 8};
    uint8_t *p1, *p2;
    size_t l1, l2;
    bt_result r;
    assert_int_equal(bt_tree_whatif(&p1, &l1, w1, &r, t, &op, 1), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.found, 0);
    digest(t, d1);
    assert_memory_equal(d0, d1, 33);
    assert_memory_not_equal(w1, d0, 33);
    assert_true(l1 > 0);
    assert_int_equal(bt_tree_count(t), 0);
    /* Deterministic. */
    assert_int_equal(bt_tree_whatif(&p2, &l2, w2, NULL, t, &op, 1), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(p1, p2, l1);
    assert_memory_equal(w1, w2, 33);
    /* The verifier replays it from the empty digest. */
    assert_int_equal(verify_ops(&p, d0, p1, l1, &op, 1, vd), 0);
    assert_memory_equal(vd, w1, 33);
    /* The real insert reaches the same digest and proof. */
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), 0);
    digest(t, rd);
    assert_memory_equal(rd, w1, 33);
    size_t lr;
    uint8_t *pr = prove(t, &lr);
    assert_int_equal(lr, l1);
    assert_memory_equal(pr, p1, l1);
    bt_free(p1);
    bt_free(p2);
    bt_free(pr);
    bt_tree_free(t);
}

static void test_whatif_update(void **state)
{
    (void)state;
    bt_params p = mkparams(32, 8);
    uint8_t k[32], v[8], v2[8], d0[33], d1[33], w1[33], w2[33], vd[33];
    bt_tree *t = mktree(32, 8);
    for (uint64_t i = 0; i < 20; i++) {
        tu_make_key(k, 32, i);
        fill(v, 8, (uint8_t)i);
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), 0);
    }
    size_t l;
    bt_free(prove(t, &l));
    digest(t, d0);
    tu_make_key(k, 32, 7);
    fill(v2, 8, 0x99);
    bt_op op = {BT_OP_UPDATE, k, 32, v2, 8};
    uint8_t *p1, *p2;
    size_t l1, l2;
    bt_result r;
    assert_int_equal(bt_tree_whatif(&p1, &l1, w1, &r, t, &op, 1), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.found, 1);
    assert_int_equal(r.old_len, 8);
    assert_int_equal(r.old[0], 7);
    digest(t, d1);
    assert_memory_equal(d0, d1, 33);
    assert_int_equal(bt_tree_whatif(&p2, &l2, w2, NULL, t, &op, 1), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(p1, p2, l1);
    assert_memory_equal(w1, w2, 33);
    /* Replayed as InsertOrUpdate (the key exists, so the same path). */
    bt_op iou = {BT_OP_INSERT_OR_UPDATE, k, 32, v2, 8};
    assert_int_equal(verify_ops(&p, d0, p1, l1, &iou, 1, vd), 0);
    assert_memory_equal(vd, w1, 33);
    /* A wrong claimed new root is not what the verifier computes. */
    uint8_t wrong[33];
    memcpy(wrong, w1, 33);
    wrong[5] ^= 0x10;
    assert_memory_not_equal(vd, wrong, 33);
    /* A different value gives a different digest. */
    uint8_t v3[8];
    fill(v3, 8, 0x98);
    bt_op other = {BT_OP_UPDATE, k, 32, v3, 8};
    assert_int_equal(verify_ops(&p, d0, p1, l1, &other, 1, vd), 0);
    assert_memory_not_equal(vd, w1, 33);
    /* Real update reaches the prediction. */
    assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v2, 8), 0);
    digest(t, d1);
    assert_memory_equal(d1, w1, 33);
    bt_free(p1);
    bt_free(p2);
    bt_tree_free(t);
}

/* A what-if on top of pending (unproved) operations starts from the current
 * state, and leaves the pending batch's proof intact. */
static void test_whatif_mid_batch(void **state)
{
    (void)state;
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    uint8_t k[32], v[4] = {1, 2, 3, 4}, d0[33], dc[33], w[33], vd[33], dn[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    digest(t, d0);
    bt_op ops[10];
    uint8_t keys[10][32];
    for (int i = 0; i < 10; i++) {
        tu_make_key(keys[i], 32, (uint64_t)i);
        ops[i] = (bt_op){BT_OP_INSERT, keys[i], 32, v, 4};
    }
    for (int i = 0; i < 5; i++) assert_int_equal(op1(t, BT_OP_INSERT, keys[i], 32, v, 4), 0);
    digest(t, dc);
    uint8_t *wp;
    size_t wl;
    assert_int_equal(bt_tree_whatif(&wp, &wl, w, NULL, t, &ops[5], 5), 0);
    digest(t, dn);
    assert_memory_equal(dc, dn, 33);
    assert_int_equal(verify_ops(&p, dc, wp, wl, &ops[5], 5, vd), 0);
    assert_memory_equal(vd, w, 33);
    bt_free(wp);
    /* The pending batch still proves the first five. */
    size_t l;
    uint8_t *pr = prove(t, &l);
    assert_int_equal(verify_ops(&p, d0, pr, l, ops, 5, vd), 0);
    assert_memory_equal(vd, dc, 33);
    bt_free(pr);
    (void)k;
    bt_tree_free(t);
}

/* ---- checklist 43-56 ------------------------------------------------------ */

static void test_remove_and_membership(void **state)
{
    (void)state;
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    uint8_t k[5][32], v[32], d0[33], d1[33], d[33], absent[32];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    size_t l0, l1;
    uint8_t *pe = prove(t, &l0);
    for (int i = 0; i < 5; i++) {
        fill(k[i], 32, (uint8_t)(i + 1));
        fill(v, 32, (uint8_t)(0x40 + i));
        assert_int_equal(op1(t, BT_OP_INSERT, k[i], 32, v, 32), 0);
    }
    uint8_t *pi = prove(t, &l1);
    assert_true(l1 != l0 || memcmp(pe, pi, l0) != 0);
    bt_free(pe);
    bt_free(pi);
    digest(t, d0);
    /* Each key's lookup proof verifies with its value. */
    for (int i = 0; i < 5; i++) {
        size_t len;
        uint8_t *pr = lookup_proof(t, k[i], 32, &len, d);
        fill(v, 32, (uint8_t)(0x40 + i));
        assert_true(lookup_verifies(&p, d, 33, pr, len, k[i], 32, v, 32));
        /* ... and not with a neighbour's value. */
        fill(v, 32, (uint8_t)(0x41 + i));
        assert_false(lookup_verifies(&p, d, 33, pr, len, k[i], 32, v, 32));
        bt_free(pr);
    }
    /* An absent key: the proof shows absence, not presence. */
    fill(absent, 32, 99);
    size_t len;
    uint8_t *pr = lookup_proof(t, absent, 32, &len, d);
    assert_true(lookup_verifies(&p, d, 33, pr, len, absent, 32, NULL, 0));
    fill(v, 32, 0x40);
    assert_false(lookup_verifies(&p, d, 33, pr, len, absent, 32, v, 32));
    bt_free(pr);
    /* Two removes change the digest. */
    assert_int_equal(op1(t, BT_OP_REMOVE, k[1], 32, NULL, 0), 0);
    assert_int_equal(op1(t, BT_OP_REMOVE, k[3], 32, NULL, 0), 0);
    digest(t, d1);
    assert_memory_not_equal(d0, d1, 33);
    assert_int_equal(bt_tree_count(t), 3);
    assert_int_equal(bt_tree_check(t), 0);
    /* A removed key now proves absent. */
    pr = lookup_proof(t, k[1], 32, &len, d);
    assert_true(lookup_verifies(&p, d, 33, pr, len, k[1], 32, NULL, 0));
    bt_free(pr);
    bt_tree_free(t);
}

static void test_empty_tree_lookup(void **state)
{
    (void)state;
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    uint8_t k[32], v[32], d[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    fill(k, 32, 0x42);
    const uint8_t *got;
    size_t gl;
    assert_int_equal(bt_tree_get(&got, &gl, t, k, 32), BT_ENOTFOUND);
    bt_op op = {BT_OP_LOOKUP, k, 32, NULL, 0};
    bt_result r;
    assert_int_equal(bt_tree_apply(t, &op, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.found, 0);
    bt_tree_discard(t);
    size_t len;
    uint8_t *pr = lookup_proof(t, k, 32, &len, d);
    /* 02 || NEG || POS || 00000000 || 04: no direction bytes. */
    assert_int_equal(len, 1 + 32 + 32 + 4 + 1);
    assert_int_equal(pr[0], 0x02);
    assert_int_equal(pr[len - 1], 0x04);
    assert_true(lookup_verifies(&p, d, 33, pr, len, k, 32, NULL, 0));
    fill(v, 32, 0);
    assert_false(lookup_verifies(&p, d, 33, pr, len, k, 32, v, 32));
    assert_false(lookup_verifies(&p, d, 33, pr, len, k, 32, v, 0));
    bt_free(pr);
    bt_tree_free(t);
}

static void test_update_then_old_proof(void **state)
{
    (void)state;
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    uint8_t k1[32], k2[32], v1[8], v2[8], vn[8], dold[33], dnew[33];
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    fill(k1, 32, 0x10);
    fill(k2, 32, 0x20);
    fill(v1, 8, 1);
    fill(v2, 8, 2);
    fill(vn, 8, 9);
    assert_int_equal(op1(t, BT_OP_INSERT, k1, 32, v1, 8), 0);
    assert_int_equal(op1(t, BT_OP_INSERT, k2, 32, v2, 8), 0);
    size_t lo, ln, l2;
    uint8_t *pold = lookup_proof(t, k1, 32, &lo, dold);
    uint8_t *p2 = lookup_proof(t, k2, 32, &l2, dold);
    assert_true(lookup_verifies(&p, dold, 33, pold, lo, k1, 32, v1, 8));
    assert_true(lookup_verifies(&p, dold, 33, p2, l2, k2, 32, v2, 8));
    assert_int_equal(op1(t, BT_OP_UPDATE, k1, 32, vn, 8), 0);
    uint8_t *pnew = lookup_proof(t, k1, 32, &ln, dnew);
    assert_true(lookup_verifies(&p, dnew, 33, pnew, ln, k1, 32, vn, 8));
    assert_false(lookup_verifies(&p, dnew, 33, pold, lo, k1, 32, vn, 8));
    assert_false(lookup_verifies(&p, dold, 33, pold, lo, k1, 32, vn, 8));
    assert_false(lookup_verifies(&p, dnew, 33, pnew, ln, k1, 32, v1, 8));
    bt_free(pold);
    bt_free(pnew);
    bt_free(p2);
    bt_tree_free(t);
}

static void test_sorted_inserts(void **state)
{
    (void)state;
    uint8_t k[32] = {0}, v[32], d[33], zero[33] = {0};
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    for (int i = 1; i <= 19; i++) {
        memset(k, i, 32);
        fill(v, 32, (uint8_t)i);
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 32), 0);
    }
    size_t l;
    uint8_t *pr = prove(t, &l);
    assert_true(l > 34);
    digest(t, d);
    assert_memory_not_equal(d, zero, 33);
    assert_int_equal(bt_tree_count(t), 19);
    assert_true(bt_tree_height(t) >= 5 && bt_tree_height(t) <= 7);
    assert_int_equal(bt_tree_check(t), 0);
    bt_free(pr);
    bt_tree_free(t);
}

/* ---- checklist 57-60, 63 ------------------------------------------------- */

static void test_fixed_shapes(void **state)
{
    (void)state;
    static const uint32_t lens[2] = {8, 24};
    for (int s = 0; s < 2; s++) {
        uint32_t vl = lens[s];
        bt_params p = mkparams(32, vl);
        bt_tree *t = mktree(32, vl);
        uint8_t k[32], v[32], d0[33], d1[33], vd[33];
        digest(t, d0);
        fill(k, 32, 0x31);
        fill(v, 32, 0x01);
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, vl), 0);
        assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, vl + 1), BT_EVALLEN);
        assert_int_equal(op1(t, BT_OP_INSERT_OR_UPDATE, k, 32, v, vl - 1), BT_EVALLEN);
        fill(v, 32, 0x02);
        assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, vl), 0);
        size_t l;
        uint8_t *pr = prove(t, &l);
        digest(t, d1);
        bt_op ops[2] = {{BT_OP_INSERT, k, 32, v, vl}, {BT_OP_UPDATE, k, 32, v, vl}};
        fill(v, 32, 0x02);
        /* The proof replays with the values that were really written. */
        uint8_t v1[32];
        fill(v1, 32, 0x01);
        ops[0].value = v1;
        assert_int_equal(verify_ops(&p, d0, pr, l, ops, 2, vd), 0);
        assert_memory_equal(vd, d1, 33);
        /* A verifier told the wrong value length refuses. */
        bt_params wrong = mkparams(32, vl == 8 ? 24 : 8);
        assert_int_not_equal(verify_ops(&wrong, d0, pr, l, ops, 2, vd), 0);
        bt_free(pr);
        bt_tree_free(t);
    }
}

static void test_order_dependence(void **state)
{
    (void)state;
    uint8_t k[4][32], v[8], da[33], db[33], dr[33];
    for (int i = 0; i < 4; i++) fill(k[i], 32, (uint8_t)(0x10 * (i + 1)));
    fill(v, 8, 0x77);
    bt_tree *a = mktree(32, 8), *b = mktree(32, 8), *r = mktree(32, 8);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(op1(a, BT_OP_INSERT, k[i], 32, v, 8), 0);
        assert_int_equal(op1(b, BT_OP_INSERT, k[i], 32, v, 8), 0);
        assert_int_equal(op1(r, BT_OP_INSERT, k[3 - i], 32, v, 8), 0);
    }
    digest(a, da);
    digest(b, db);
    digest(r, dr);
    assert_memory_equal(da, db, 33);
    assert_memory_not_equal(da, dr, 33);
    assert_int_equal(bt_tree_check(r), 0);
    bt_tree_free(a);
    bt_tree_free(b);
    bt_tree_free(r);
}

static void test_strict_insert_update(void **state)
{
    (void)state;
    uint8_t k[32], v[8], d0[33], d1[33];
    bt_tree *t = mktree(32, 8);
    fill(k, 32, 0x21);
    fill(v, 8, 1);
    assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, 8), BT_ENOTFOUND);
    assert_int_equal(op1(t, BT_OP_REMOVE, k, 32, NULL, 0), BT_ENOTFOUND);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), 0);
    digest(t, d0);
    fill(v, 8, 2);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), BT_EEXISTS);
    digest(t, d1);
    assert_memory_equal(d0, d1, 33);
    const uint8_t *got;
    size_t gl;
    assert_int_equal(bt_tree_get(&got, &gl, t, k, 32), 0);
    assert_int_equal(got[0], 1);
    /* RemoveIfExists of an absent key succeeds with found = 0. */
    uint8_t other[32];
    fill(other, 32, 0x22);
    bt_op op = {BT_OP_REMOVE_IF_EXISTS, other, 32, NULL, 0};
    bt_result r;
    assert_int_equal(bt_tree_apply(t, &op, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.found, 0);
    /* InsertOrUpdate both ways. */
    bt_op iou = {BT_OP_INSERT_OR_UPDATE, other, 32, v, 8};
    assert_int_equal(bt_tree_apply(t, &iou, &r), 0);
    assert_int_equal(r.found, 0);
    assert_int_equal(bt_tree_apply(t, &iou, &r), 0);
    assert_int_equal(r.found, 1);
    assert_int_equal(r.old_len, 8);
    assert_int_equal(bt_tree_count(t), 2);
    bt_tree_free(t);
}

/* A failed operation leaves no trace in the proof: the batch [ok, fail, ok]
 * proves exactly like [ok, ok]. */
static void test_failed_op_no_trace(void **state)
{
    (void)state;
    uint8_t k[3][32], v[8];
    for (int i = 0; i < 3; i++) tu_make_key(k[i], 32, (uint64_t)i + 100);
    fill(v, 8, 5);
    bt_tree *a = mktree(32, 8), *b = mktree(32, 8);
    for (uint64_t i = 0; i < 30; i++) {
        uint8_t kk[32];
        tu_make_key(kk, 32, i);
        assert_int_equal(op1(a, BT_OP_INSERT, kk, 32, v, 8), 0);
        assert_int_equal(op1(b, BT_OP_INSERT, kk, 32, v, 8), 0);
    }
    size_t l;
    bt_free(prove(a, &l));
    bt_free(prove(b, &l));
    assert_int_equal(op1(a, BT_OP_INSERT, k[0], 32, v, 8), 0);
    assert_int_equal(op1(a, BT_OP_UPDATE, k[1], 32, v, 8), BT_ENOTFOUND);
    assert_int_equal(op1(a, BT_OP_INSERT, k[0], 32, v, 8), BT_EEXISTS);
    assert_int_equal(op1(a, BT_OP_INSERT, k[2], 32, v, 7), BT_EVALLEN);
    assert_int_equal(op1(a, BT_OP_REMOVE, k[2], 32, NULL, 0), BT_ENOTFOUND);
    assert_int_equal(op1(a, BT_OP_INSERT, k[2], 32, v, 8), 0);
    assert_int_equal(op1(b, BT_OP_INSERT, k[0], 32, v, 8), 0);
    assert_int_equal(op1(b, BT_OP_INSERT, k[2], 32, v, 8), 0);
    size_t la, lb;
    uint8_t *pa = prove(a, &la), *pb = prove(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    bt_free(pa);
    bt_free(pb);
    bt_tree_free(a);
    bt_tree_free(b);
}

/* Item 63: every truncation and every bit flip of a lookup proof.  A
 * truncation must always be refused; a bit flip may only be accepted in the
 * unused (padding) bits of the last direction byte. */
static void test_lookup_proof_mutations(void **state)
{
    (void)state;
    bt_params p = mkparams(32, 8);
    uint8_t k[32], v[8], d[33];
    bt_tree *t = mktree(32, 8);
    for (uint64_t i = 0; i < 40; i++) {
        tu_make_key(k, 32, i);
        fill(v, 8, (uint8_t)i);
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), 0);
    }
    tu_make_key(k, 32, 17);
    fill(v, 8, 17);
    size_t len;
    uint8_t *pr = lookup_proof(t, k, 32, &len, d);
    assert_true(lookup_verifies(&p, d, 33, pr, len, k, 32, v, 8));
    for (size_t cut = 0; cut < len; cut++)
        assert_false(lookup_verifies(&p, d, 33, pr, cut, k, 32, v, 8));
    /* 40 keys: height <= 8, so the lookup's direction bits fit in the last
     * byte; its unused high bits are padding, which the verifier ignores. */
    assert_true(bt_tree_height(t) <= 8);
    uint8_t *m = malloc(len);
    size_t accepted = 0;
    int lowest_ok = 8;
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            memcpy(m, pr, len);
            m[i] ^= (uint8_t)(1u << b);
            if (lookup_verifies(&p, d, 33, m, len, k, 32, v, 8)) {
                accepted++;
                assert_int_equal(i, len - 1);
                if (b < lowest_ok) lowest_ok = b;
            }
        }
    }
    /* The accepted flips are exactly the bits above the path length. */
    assert_true(lowest_ok >= 1);
    assert_int_equal(accepted, (size_t)(8 - lowest_ok));
    /* Every bit flip of the digest's label is refused. */
    for (int i = 0; i < 32 * 8; i++) {
        uint8_t d2[33];
        memcpy(d2, d, 33);
        d2[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_false(lookup_verifies(&p, d2, 33, pr, len, k, 32, v, 8));
    }
    free(m);
    bt_free(pr);
    bt_tree_free(t);
}

/* Key length 1: all 254 usable keys. */
static void test_key_len_1(void **state)
{
    (void)state;
    bt_params p = mkparams(1, BT_VALUE_VARIABLE);
    bt_tree *t = mktree(1, BT_VALUE_VARIABLE);
    uint8_t k, d0[33], vd[33];
    digest(t, d0);
    bt_op ops[254];
    uint8_t keys[254];
    for (int i = 1; i <= 254; i++) {
        keys[i - 1] = (uint8_t)i;
        ops[i - 1] = (bt_op){BT_OP_INSERT, &keys[i - 1], 1, &keys[i - 1], 1};
        assert_int_equal(op1(t, BT_OP_INSERT, &keys[i - 1], 1, &keys[i - 1], 1), 0);
    }
    k = 0;
    assert_int_equal(op1(t, BT_OP_INSERT, &k, 1, &k, 1), BT_EKEYLOW);
    k = 0xFF;
    assert_int_equal(op1(t, BT_OP_INSERT, &k, 1, &k, 1), BT_EKEYHIGH);
    assert_int_equal(bt_tree_count(t), 254);
    size_t l;
    uint8_t *pr = prove(t, &l);
    uint8_t d1[33];
    digest(t, d1);
    assert_int_equal(verify_ops(&p, d0, pr, l, ops, 254, vd), 0);
    assert_memory_equal(vd, d1, 33);
    bt_free(pr);
    assert_int_equal(bt_tree_check(t), 0);
    bt_tree_free(t);
}

/* ---- API misuse ----------------------------------------------------------- */

static void test_misuse_op_type_and_null(void **state)
{
    (void)state;
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    uint8_t k[32], v[4] = {0};
    fill(k, 32, 0x55);
    bt_result r;
    bt_op op = {(bt_op_type)6, k, 32, v, 4};
    assert_int_equal(bt_tree_apply(t, &op, &r), BT_EINVAL);
    op.type = (bt_op_type)-1;
    assert_int_equal(bt_tree_apply(t, &op, &r), BT_EINVAL);
    op.type = (bt_op_type)1000;
    assert_int_equal(bt_tree_apply_batch(t, &op, 1, &r), BT_EINVAL);
    op.type = BT_OP_INSERT;
    op.key = NULL;
    assert_int_equal(bt_tree_apply(t, &op, &r), BT_EINVAL);
    /* The tree is still usable afterwards. */
    op.key = k;
    assert_int_equal(bt_tree_apply(t, &op, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(bt_tree_count(t), 1);
    assert_int_equal(bt_tree_check(t), 0);
    /* What-if refuses a bad op too. */
    bt_op bad = {(bt_op_type)7, k, 32, v, 4};
    uint8_t *pr = NULL, wd[33];
    size_t pl;
    assert_int_equal(bt_tree_whatif(&pr, &pl, wd, NULL, t, &bad, 1), BT_EINVAL);
    bt_tree_free(t);

    assert_null(bt_op_name((bt_op_type)6));
    assert_string_equal(bt_op_name(BT_OP_INSERT_OR_UPDATE), "InsertOrUpdate");
    bt_op_type ty;
    assert_int_equal(bt_op_parse(&ty, "RemoveIfExists"), 0);
    assert_int_equal(ty, BT_OP_REMOVE_IF_EXISTS);
    assert_int_equal(bt_op_parse(&ty, "Delete"), BT_EINVAL);
    assert_string_equal(bt_strerror(-12345), "unknown error");
    assert_non_null(bt_strerror(BT_EPROOF));
    assert_string_equal(bt_error_class(BT_EEXISTS), "key_already_exists");
    assert_string_equal(bt_error_class(BT_ENOTFOUND), "key_not_found");
    assert_string_equal(bt_error_class(BT_EKEYLOW), "key_not_above_negative_infinity");
    assert_string_equal(bt_error_class(BT_EKEYHIGH), "key_not_below_positive_infinity");
    assert_string_equal(bt_error_class(BT_EKEYLEN), "wrong_key_length");
    assert_string_equal(bt_error_class(BT_EVALLEN), "wrong_value_length");
    assert_null(bt_error_class(BT_EIO));
}

static void test_misuse_keys(void **state)
{
    (void)state;
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    uint8_t k[33], v[4] = {1, 2, 3, 4};
    for (int type = 0; type < 6; type++) {
        fill(k, 32, 0x00);
        assert_int_equal(op1(t, (bt_op_type)type, k, 32, v, 4), BT_EKEYLOW);
        fill(k, 32, 0xFF);
        assert_int_equal(op1(t, (bt_op_type)type, k, 32, v, 4), BT_EKEYHIGH);
        fill(k, 33, 0x44);
        assert_int_equal(op1(t, (bt_op_type)type, k, 31, v, 4), BT_EKEYLEN);
        assert_int_equal(op1(t, (bt_op_type)type, k, 33, v, 4), BT_EKEYLEN);
    }
    /* The same key sizes through bt_tree_get. */
    const uint8_t *got;
    size_t gl;
    fill(k, 32, 0x00);
    assert_int_equal(bt_tree_get(&got, &gl, t, k, 32), BT_EKEYLOW);
    fill(k, 32, 0xFF);
    assert_int_equal(bt_tree_get(&got, &gl, t, k, 32), BT_EKEYHIGH);
    fill(k, 33, 0x44);
    assert_int_equal(bt_tree_get(&got, &gl, t, k, 31), BT_EKEYLEN);
    assert_int_equal(bt_tree_count(t), 0);
    /* Nothing succeeded: the proof is the bare root label. */
    size_t l;
    uint8_t *pr = prove(t, &l);
    assert_int_equal(l, 34);
    bt_free(pr);
    /* Key 00..01 and FF..FE are ordinary keys. */
    fill(k, 32, 0x00);
    k[31] = 1;
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 4), 0);
    fill(k, 32, 0xFF);
    k[31] = 0xFE;
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 4), 0);
    assert_int_equal(bt_tree_check(t), 0);
    bt_tree_free(t);
}

static void test_misuse_value_lengths(void **state)
{
    (void)state;
    bt_tree *t = mktree(32, 8);
    uint8_t k[32], v[16] = {0};
    fill(k, 32, 0x66);
    for (size_t vl = 0; vl <= 16; vl++) {
        int want = vl == 8 ? 0 : BT_EVALLEN;
        assert_int_equal(op1(t, BT_OP_INSERT_OR_UPDATE, k, 32, v, vl), want);
    }
    assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, 0), BT_EVALLEN);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 8), BT_EEXISTS);
    /* Lookup / Remove ignore the value. */
    assert_int_equal(op1(t, BT_OP_LOOKUP, k, 32, v, 3), 0);
    assert_int_equal(op1(t, BT_OP_REMOVE, k, 32, v, 3), 0);
    assert_int_equal(bt_tree_count(t), 0);
    bt_tree_free(t);

    /* Fixed length 0 is allowed. */
    bt_params p0 = mkparams(32, 0);
    assert_int_equal(bt_params_check(&p0), 0);
    assert_int_equal(bt_tree_new(&t, &p0), 0);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 0), 0);
    assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, 1), BT_EVALLEN);
    bt_tree_free(t);

    /* Variable mode: value_max bounds what an op may write. */
    bt_params pv = mkparams(32, BT_VALUE_VARIABLE);
    pv.value_max = 16;
    assert_int_equal(bt_tree_new(&t, &pv), 0);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 16), 0);
    uint8_t big[17] = {0};
    assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, big, 17), BT_EVALLEN);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 0), BT_EEXISTS);
    assert_int_equal(op1(t, BT_OP_UPDATE, k, 32, v, 0), 0);
    bt_tree_free(t);

    /* Large values round-trip through prove + verify. */
    bt_params pl = mkparams(32, BT_VALUE_VARIABLE);
    assert_int_equal(bt_tree_new(&t, &pl), 0);
    size_t n = 70000;
    uint8_t *large = malloc(n);
    for (size_t i = 0; i < n; i++) large[i] = (uint8_t)(i * 7);
    uint8_t d0[33], d1[33], vd[33];
    digest(t, d0);
    assert_int_equal(op1(t, BT_OP_INSERT, k, 32, large, n), 0);
    size_t len;
    uint8_t *pr = prove(t, &len);
    digest(t, d1);
    bt_op op = {BT_OP_INSERT, k, 32, large, n};
    assert_int_equal(verify_ops(&pl, d0, pr, len, &op, 1, vd), 0);
    assert_memory_equal(vd, d1, 33);
    bt_free(pr);
    pr = lookup_proof(t, k, 32, &len, d1);
    assert_true(len > n);
    assert_true(lookup_verifies(&pl, d1, 33, pr, len, k, 32, large, n));
    bt_free(pr);
    free(large);
    bt_tree_free(t);
}

static void test_misuse_params_and_free(void **state)
{
    (void)state;
    bt_tree_free(NULL);
    bt_verifier_free(NULL);
    bt_free(NULL);
    bt_params p = BT_PARAMS_INIT;
    assert_int_equal(bt_params_check(&p), 0);
    bt_tree *t = (bt_tree *)&p;
    p.key_len = 0;
    assert_int_equal(bt_params_check(&p), BT_EINVAL);
    assert_int_equal(bt_tree_new(&t, &p), BT_EINVAL);
    p.key_len = 256;
    assert_int_equal(bt_params_check(&p), BT_EINVAL);
    p.key_len = 255;
    assert_int_equal(bt_params_check(&p), 0);
    p.key_len = 32;
    p.version = 99;
    assert_int_equal(bt_params_check(&p), BT_EINVAL);
    p.version = BT_PARAMS_VERSION;
    p.value_len = BT_VALUE_LEN_LIMIT + 1;
    assert_int_equal(bt_params_check(&p), BT_EINVAL);
    p.value_len = BT_VALUE_VARIABLE;
    p.value_max = BT_VALUE_LEN_LIMIT + 1;
    assert_int_equal(bt_params_check(&p), BT_EINVAL);
    uint8_t d[33];
    assert_int_equal(bt_empty_digest(d, &p), BT_EINVAL);
    p.value_max = 0;

    /* Verifier: digest of the wrong length, dead after failure. */
    bt_verifier *v = (bt_verifier *)&p;
    assert_int_equal(bt_empty_digest(d, &p), 0);
    uint8_t proof[70] = {0x02};
    memset(proof + 33, 0xFF, 32);
    proof[69] = 0x04;
    assert_int_equal(bt_verifier_new(&v, &p, d, 32, proof, 70, NULL), BT_EINVAL);
    assert_null(v);
    /* 02 NEG POS 00000000 04 -- the empty tree's proof, then a lookup. */
    uint8_t pe[1 + 32 + 32 + 4 + 1] = {0x02};
    memset(pe + 33, 0xFF, 32);
    pe[sizeof pe - 1] = 0x04;
    assert_int_equal(bt_verifier_new(&v, &p, d, 33, pe, sizeof pe, NULL), 0);
    assert_string_equal(bt_verifier_errmsg(v), "");
    uint8_t k[32];
    fill(k, 32, 0x12);
    bt_op bad = {(bt_op_type)9, k, 32, NULL, 0};
    bt_result r;
    assert_int_equal(bt_verifier_apply(v, &bad, &r), BT_EINVAL);
    bt_op look = {BT_OP_LOOKUP, k, 32, NULL, 0};
    assert_int_equal(bt_verifier_apply(v, &look, &r), BT_EBADSTATE);
    assert_int_equal(bt_verifier_digest(d, v), BT_EBADSTATE);
    bt_verifier_free(v);

    assert_int_equal(bt_empty_digest(d, &p), 0);
    d[7] ^= 0x01;
    assert_int_equal(bt_verifier_new(&v, &p, d, 33, pe, sizeof pe, NULL), BT_EPROOF);
    assert_null(v);
    assert_int_equal(bt_empty_digest(d, &p), 0);
    assert_int_equal(bt_verifier_new(&v, &p, d, 33, pe, sizeof pe, NULL), 0);
    fill(k, 32, 0x00);
    assert_int_equal(bt_verifier_apply(v, &look, &r), BT_EKEYLOW);
    assert_int_equal(bt_verifier_apply(v, &look, &r), BT_EBADSTATE);
    assert_true(strlen(bt_verifier_errmsg(v)) > 0);
    bt_verifier_free(v);
    /* Insert of an existing key: the verifier reports the failure class. */
    assert_int_equal(bt_verifier_new(&v, &p, d, 33, pe, sizeof pe, NULL), 0);
    fill(k, 32, 0x12);
    bt_op upd = {BT_OP_UPDATE, k, 32, k, 4};
    assert_int_equal(bt_verifier_apply(v, &upd, &r), BT_ENOTFOUND);
    bt_verifier_free(v);
    (void)t;
}

/* Ops the verifier is given must be exactly the succeeded ones: including a
 * failed op makes the verifier fail at that op. */
static void test_verifier_failed_op_included(void **state)
{
    (void)state;
    bt_params p = mkparams(32, BT_VALUE_VARIABLE);
    bt_tree *t = mktree(32, BT_VALUE_VARIABLE);
    uint8_t k[32], v[3] = {1, 2, 3}, d0[33], vd[33];
    for (uint64_t i = 0; i < 20; i++) {
        tu_make_key(k, 32, i);
        assert_int_equal(op1(t, BT_OP_INSERT, k, 32, v, 3), 0);
    }
    size_t l;
    bt_free(prove(t, &l));
    digest(t, d0);
    uint8_t ka[32], kb[32];
    tu_make_key(ka, 32, 3);
    tu_make_key(kb, 32, 500);
    assert_int_equal(op1(t, BT_OP_INSERT, ka, 32, v, 3), BT_EEXISTS);
    assert_int_equal(op1(t, BT_OP_INSERT, kb, 32, v, 3), 0);
    uint8_t *pr = prove(t, &l);
    bt_op all[2] = {{BT_OP_INSERT, ka, 32, v, 3}, {BT_OP_INSERT, kb, 32, v, 3}};
    size_t failed = 99;
    int rc = bt_proof_verify(vd, &failed, &p, d0, 33, pr, l, all, 2, NULL);
    assert_int_not_equal(rc, 0);
    assert_int_equal(failed, 0);
    rc = bt_proof_verify(vd, &failed, &p, d0, 33, pr, l, &all[1], 1, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(failed, 1);
    uint8_t d1[33];
    digest(t, d1);
    assert_memory_equal(vd, d1, 33);
    bt_free(pr);
    bt_tree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_creation_digest),
        cmocka_unit_test(test_insert_update_change_digest),
        cmocka_unit_test(test_proof_nonempty),
        cmocka_unit_test(test_multiple_and_sequential),
        cmocka_unit_test(test_mixed_and_many),
        cmocka_unit_test(test_prove_keeps_digest),
        cmocka_unit_test(test_lookup_proof_verifies),
        cmocka_unit_test(test_whatif_insert),
        cmocka_unit_test(test_whatif_update),
        cmocka_unit_test(test_whatif_mid_batch),
        cmocka_unit_test(test_remove_and_membership),
        cmocka_unit_test(test_empty_tree_lookup),
        cmocka_unit_test(test_update_then_old_proof),
        cmocka_unit_test(test_sorted_inserts),
        cmocka_unit_test(test_fixed_shapes),
        cmocka_unit_test(test_order_dependence),
        cmocka_unit_test(test_strict_insert_update),
        cmocka_unit_test(test_failed_op_no_trace),
        cmocka_unit_test(test_lookup_proof_mutations),
        cmocka_unit_test(test_key_len_1),
        cmocka_unit_test(test_misuse_op_type_and_null),
        cmocka_unit_test(test_misuse_keys),
        cmocka_unit_test(test_misuse_value_lengths),
        cmocka_unit_test(test_misuse_params_and_free),
        cmocka_unit_test(test_verifier_failed_op_included),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
