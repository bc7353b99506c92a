/*
 * test_verifier_robust.c -- the verifier against damaged and hostile proofs.
 *
 * Starting from an honest batch proof (a 300-key tree, then a mixed batch
 * with every op type including removes), every prefix truncation and every
 * single-bit flip of the proof and of the start digest is verified.  The
 * verifier must never crash (run this under BT_SANITIZE=ON for the full
 * value) and must reject, except where the format says a change is
 * invisible: padding bits of the last direction byte, and the height byte
 * of the digest (not authenticated; it carries through to the result).
 * Completions are counted and checked against those rules.
 *
 * Also: garbage, empty and marker-only proofs, absurd declared value
 * lengths, a 100000-deep chain of internal-node tokens (must be refused
 * without deep recursion), a 200-deep chain with a correct root label (parses
 * within BT_VERIFY_DEPTH_MAX), and node-budget (max_ops / max_deletes)
 * rejections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "basistrees.h"
#include "testutil.h"

#define NKEYS 300
#define NOPS 40

typedef struct honest {
    bt_params params;
    uint8_t start[BT_DIGEST_LEN], end[BT_DIGEST_LEN];
    uint8_t *proof;
    size_t len;
    bt_op ops[NOPS];
    size_t n;
    size_t deletes;
    int found[NOPS];
    uint8_t keys[NOPS][32];
    uint8_t vals[NOPS][16];
} honest;

/* Builds the honest batch for the given value mode. */
static void make_honest(honest *h, uint32_t value_len)
{
    memset(h, 0, sizeof *h);
    bt_params p = BT_PARAMS_INIT;
    p.value_len = value_len;
    h->params = p;
    bt_tree *t;
    assert_int_equal(bt_tree_new(&t, &p), 0);
    uint8_t k[32], v[16];
    size_t vl = value_len == BT_VALUE_VARIABLE ? 5 : value_len;
    for (uint64_t i = 0; i < NKEYS; i++) {
        tu_make_key(k, 32, i);
        memset(v, (int)i, sizeof v);
        bt_op op = {BT_OP_INSERT, k, 32, v, vl};
        bt_result r;
        assert_int_equal(bt_tree_apply(t, &op, &r), 0);
        assert_int_equal(r.status, 0);
    }
    uint8_t *pr;
    size_t pl;
    assert_int_equal(bt_tree_prove(&pr, &pl, t), 0);
    bt_free(pr);
    assert_int_equal(bt_tree_digest(h->start, t), 0);
    uint64_t rng = 77;
    while (h->n < NOPS) {
        bt_op_type ty = (bt_op_type)(h->n % 6);
        /* Present keys for Update/Remove, fresh ones for Insert. */
        uint64_t ki = (ty == BT_OP_INSERT) ? NKEYS + h->n : tu_rand(&rng) % (NKEYS + 20);
        tu_make_key(h->keys[h->n], 32, ki);
        if (value_len == BT_VALUE_VARIABLE) vl = 1 + h->n % 16;
        memset(h->vals[h->n], 0xA0 + (int)h->n, sizeof h->vals[0]);
        bt_op op = {ty, h->keys[h->n], 32, h->vals[h->n], vl};
        bt_result r;
        assert_int_equal(bt_tree_apply(t, &op, &r), 0);
        if (r.status != 0) continue; /* failed ops are not given to the verifier */
        if (r.found && (ty == BT_OP_REMOVE || ty == BT_OP_REMOVE_IF_EXISTS)) h->deletes++;
        h->found[h->n] = r.found;
        h->ops[h->n++] = op;
    }
    assert_true(h->deletes >= 5);
    assert_int_equal(bt_tree_prove(&h->proof, &h->len, t), 0);
    assert_int_equal(bt_tree_digest(h->end, t), 0);
    bt_tree_free(t);
    uint8_t d[BT_DIGEST_LEN];
    size_t failed;
    assert_int_equal(bt_proof_verify(d, &failed, &h->params, h->start, BT_DIGEST_LEN, h->proof,
                                     h->len, h->ops, h->n, NULL),
                     0);
    assert_memory_equal(d, h->end, BT_DIGEST_LEN);
}

/* Independent parse of the token stream: returns the offset just after the
 * EndOfTree marker, or 0. */
static size_t tree_end(const uint8_t *p, size_t len, size_t kl, int variable)
{
    size_t i = 0;
    int prev_leaf = 0;
    while (i < len) {
        uint8_t b = p[i++];
        if (b == 0x04) return i;
        if (b == 0x03) {
            i += 32;
            prev_leaf = 0;
        } else if (b == 0x02) {
            i += (prev_leaf ? 0 : kl) + kl;
            size_t vl = 8;
            if (variable) {
                if (i + 4 > len) return 0;
                vl = (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
                i += 4;
            }
            i += vl;
            prev_leaf = 1;
        }
    }
    return 0;
}

typedef enum { V_REJECT, V_COMPLETE_SAME, V_COMPLETE_OTHER } vres;

static vres run_verify(const honest *h, const uint8_t *start, const uint8_t *proof, size_t len,
                       const bt_verify_opts *opts, uint8_t out[BT_DIGEST_LEN])
{
    size_t failed;
    int rc = bt_proof_verify(out, &failed, &h->params, start, BT_DIGEST_LEN, proof, len, h->ops,
                             h->n, opts);
    if (rc != 0) {
        assert_true(rc == BT_EPROOF || rc == BT_ELIMIT || rc == BT_EEXISTS ||
                    rc == BT_ENOTFOUND || rc == BT_EKEYLOW || rc == BT_EKEYHIGH ||
                    rc == BT_EVALLEN || rc == BT_EKEYLEN);
        return V_REJECT;
    }
    return memcmp(out, h->end, BT_DIGEST_LEN) == 0 ? V_COMPLETE_SAME : V_COMPLETE_OTHER;
}

static void mutate_all(uint32_t value_len)
{
    honest h;
    make_honest(&h, value_len);
    uint8_t out[BT_DIGEST_LEN];
    size_t dir_start = tree_end(h.proof, h.len, 32, value_len == BT_VALUE_VARIABLE);
    assert_true(dir_start > 0 && dir_start < h.len);

    /* Every truncation is refused: the tree part is incomplete or direction
     * bits run out (the last byte always holds at least one used bit). */
    unsigned long trunc_completed = 0;
    for (size_t cut = 0; cut < h.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, h.proof, cut);
        if (run_verify(&h, h.start, copy, cut, NULL, out) != V_REJECT) trunc_completed++;
        free(copy);
    }
    assert_int_equal(trunc_completed, 0);

    /* Every bit flip.  In the tree part every flip changes a hashed field,
     * a marker or a length, so the rebuild fails.  In the direction part a
     * completion is only allowed for padding bits above the last used one;
     * any other completion would be a soundness bug. */
    uint8_t *m = malloc(h.len);
    unsigned long flips = 0, tree_completed = 0, dir_completed = 0, dir_other = 0;
    size_t first_accepted_bit = (size_t)-1;
    for (size_t i = 0; i < h.len; i++) {
        for (int b = 0; b < 8; b++) {
            memcpy(m, h.proof, h.len);
            m[i] ^= (uint8_t)(1u << b);
            vres r = run_verify(&h, h.start, m, h.len, NULL, out);
            flips++;
            if (r == V_REJECT) continue;
            if (i < dir_start) {
                tree_completed++;
                fprintf(stderr, "tree-part flip accepted: byte %zu bit %d\n", i, b);
            } else {
                dir_completed++;
                if (r == V_COMPLETE_OTHER) dir_other++;
                size_t bit = (i - dir_start) * 8 + (size_t)b;
                if (bit < first_accepted_bit) first_accepted_bit = bit;
            }
        }
    }
    free(m);
    size_t dir_bits = (h.len - dir_start) * 8;
    print_message("proof %zu bytes (%zu direction bytes): %lu flips, %lu accepted (padding)\n",
                  h.len, h.len - dir_start, flips, dir_completed);
    assert_int_equal(tree_completed, 0);
    assert_int_equal(dir_other, 0);
    /* Accepted flips are exactly the bits from the first accepted one to the
     * end: the padding of the last byte. */
    if (dir_completed) {
        assert_int_equal(dir_completed, dir_bits - first_accepted_bit);
        assert_true(dir_bits - first_accepted_bit < 8);
    }

    /* Digest flips: every label bit is refused; a height-bit flip completes
     * with the height carried through. */
    unsigned long height_completed = 0;
    for (int i = 0; i < BT_DIGEST_LEN * 8; i++) {
        uint8_t d2[BT_DIGEST_LEN];
        memcpy(d2, h.start, BT_DIGEST_LEN);
        d2[i / 8] ^= (uint8_t)(1u << (i % 8));
        vres r = run_verify(&h, d2, h.proof, h.len, NULL, out);
        if (i < 256) {
            assert_int_equal(r, V_REJECT);
        } else if (r != V_REJECT) {
            height_completed++;
            assert_memory_equal(out, h.end, 32);
            assert_int_not_equal(out[32], h.end[32]);
        }
    }
    print_message("height-byte flips completed: %lu of 8\n", height_completed);

    /* Trailing bytes are ignored. */
    uint8_t *longer = malloc(h.len + 3);
    memcpy(longer, h.proof, h.len);
    memcpy(longer + h.len, "\x00\xff\x04", 3);
    assert_int_equal(run_verify(&h, h.start, longer, h.len + 3, NULL, out), V_COMPLETE_SAME);
    free(longer);
    bt_free(h.proof);
}

static void test_mutations_variable(void **state)
{
    (void)state;
    mutate_all(BT_VALUE_VARIABLE);
}

static void test_mutations_fixed8(void **state)
{
    (void)state;
    mutate_all(8);
}

/* Wrong or absent operations against an honest proof. */
static void test_wrong_ops(void **state)
{
    (void)state;
    honest h;
    make_honest(&h, BT_VALUE_VARIABLE);
    uint8_t out[BT_DIGEST_LEN];
    size_t failed;
    /* Each modifying op's key changed: the verifier must fail (at or before
     * it) or produce a different digest.  (Lookups and RemoveIfExists of an
     * absent key are skipped: an absence proof covers every key in its gap,
     * so a changed key may legitimately complete with the same digest.) */
    for (size_t i = 0; i < h.n; i++) {
        if (h.ops[i].type == BT_OP_LOOKUP ||
            (h.ops[i].type == BT_OP_REMOVE_IF_EXISTS && !h.found[i]))
            continue;
        uint8_t saved = h.keys[i][5];
        h.keys[i][5] ^= 0x20;
        int rc = bt_proof_verify(out, &failed, &h.params, h.start, BT_DIGEST_LEN, h.proof, h.len,
                                 h.ops, h.n, NULL);
        assert_true(rc != 0 || memcmp(out, h.end, BT_DIGEST_LEN) != 0);
        if (rc != 0) assert_true(failed <= h.n);
        h.keys[i][5] = saved;
    }
    /* Op types swapped where it changes the meaning. */
    for (size_t i = 0; i < h.n; i++) {
        bt_op_type saved = h.ops[i].type;
        h.ops[i].type = saved == BT_OP_LOOKUP ? BT_OP_REMOVE_IF_EXISTS : BT_OP_LOOKUP;
        int rc = bt_proof_verify(out, &failed, &h.params, h.start, BT_DIGEST_LEN, h.proof, h.len,
                                 h.ops, h.n, NULL);
        /* RemoveIfExists of an absent key is a lookup in disguise. */
        if (rc == 0 && memcmp(out, h.end, BT_DIGEST_LEN) == 0) {
            /* Legitimate only if the swap changes nothing in the end: a
             * no-op RemoveIfExists, or a write whose key a later op of the
             * batch overwrites or removes anyway. */
            int later = 0;
            for (size_t j = i + 1; j < h.n; j++)
                if (memcmp(h.ops[j].key, h.ops[i].key, 32) == 0 &&
                    h.ops[j].type != BT_OP_LOOKUP && h.ops[j].type != BT_OP_INSERT)
                    later = 1;
            assert_true(saved == BT_OP_LOOKUP ||
                        (saved == BT_OP_REMOVE_IF_EXISTS && !h.found[i]) ||
                        (saved == BT_OP_UPDATE && later));
        }
        h.ops[i].type = saved;
    }
    /* Fewer ops: the digest differs (the last op is not a no-op lookup
     * here), more ops: out of direction bits or stubs. */
    int rc = bt_proof_verify(out, &failed, &h.params, h.start, BT_DIGEST_LEN, h.proof, h.len,
                             h.ops, h.n - 1, NULL);
    assert_true(rc != 0 || memcmp(out, h.end, BT_DIGEST_LEN) != 0 ||
                h.ops[h.n - 1].type == BT_OP_LOOKUP);
    bt_op more[NOPS + 1];
    memcpy(more, h.ops, h.n * sizeof *more);
    more[h.n] = h.ops[0];
    more[h.n].type = BT_OP_LOOKUP;
    rc = bt_proof_verify(out, &failed, &h.params, h.start, BT_DIGEST_LEN, h.proof, h.len, more,
                         h.n + 1, NULL);
    assert_int_not_equal(rc, 0);
    assert_int_equal(failed, h.n);
    bt_free(h.proof);
}

/* ---- hostile proofs ------------------------------------------------------- */

static int verify_raw(const bt_params *p, const uint8_t *digest, const uint8_t *proof, size_t len)
{
    uint8_t k[32];
    memset(k, 0x42, sizeof k);
    bt_op op = {BT_OP_LOOKUP, k, p->key_len, NULL, 0};
    uint8_t out[BT_DIGEST_LEN];
    size_t failed;
    return bt_proof_verify(out, &failed, p, digest, BT_DIGEST_LEN, proof, len, &op, 1, NULL);
}

static void test_garbage_and_empty(void **state)
{
    (void)state;
    bt_params pv = BT_PARAMS_INIT, pf = BT_PARAMS_INIT;
    pf.value_len = 8;
    uint8_t d[BT_DIGEST_LEN];
    assert_int_equal(bt_empty_digest(d, &pv), 0);
    bt_verifier *v = (bt_verifier *)&pv;
    assert_int_equal(bt_verifier_new(&v, &pv, d, BT_DIGEST_LEN, NULL, 0, NULL), BT_EPROOF);
    assert_null(v);
    uint8_t one = 0x04;
    assert_int_equal(bt_verifier_new(&v, &pv, d, BT_DIGEST_LEN, &one, 1, NULL), BT_EPROOF);
    one = 0x00;
    assert_int_equal(bt_verifier_new(&v, &pv, d, BT_DIGEST_LEN, &one, 1, NULL), BT_EPROOF);
    /* A label then a balance byte: stack underflow. */
    uint8_t under[35] = {0x03};
    under[33] = 0x00;
    under[34] = 0x04;
    assert_int_equal(bt_verifier_new(&v, &pv, d, BT_DIGEST_LEN, under, sizeof under, NULL),
                     BT_EPROOF);
    /* Two labels and no internal node: two roots. */
    uint8_t two[67] = {0x03};
    two[33] = 0x03;
    two[66] = 0x04;
    assert_int_equal(bt_verifier_new(&v, &pv, d, BT_DIGEST_LEN, two, sizeof two, NULL),
                     BT_EPROOF);

    /* Random garbage of many lengths, some starting with plausible markers. */
    uint64_t rng = 4242;
    uint8_t *g = malloc(5000);
    for (int round = 0; round < 3000; round++) {
        size_t len = tu_rand(&rng) % 5000;
        for (size_t i = 0; i < len; i++) {
            uint64_t r = tu_rand(&rng);
            /* Bias toward marker bytes so the parser goes deep. */
            g[i] = (r & 3) == 0 ? (uint8_t)(2 + (r >> 8) % 3) : (uint8_t)(r >> 16);
        }
        int rc = verify_raw(round & 1 ? &pf : &pv, d, g, len);
        assert_true(rc != 0);
    }
    free(g);
}

static void put_be32(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

static void test_huge_value_lengths(void **state)
{
    (void)state;
    bt_params p = BT_PARAMS_INIT;
    uint8_t d[BT_DIGEST_LEN];
    assert_int_equal(bt_empty_digest(d, &p), 0);
    /* 02 NEG POS len value 04: the empty tree's leaf with a lying length. */
    static const uint32_t lens[] = {1,          2,          100,        0x7FFFFFFFu, 0x80000000u,
                                    0xFFFFFFFFu, 0x01000000u, 0x01000001u, 0xFFFFFFF0u};
    uint8_t buf[1 + 32 + 32 + 4 + 16];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(buf, 0, sizeof buf);
        buf[0] = 0x02;
        memset(buf + 33, 0xFF, 32);
        put_be32(buf + 65, lens[i]);
        buf[sizeof buf - 1] = 0x04;
        bt_verifier *v = NULL;
        int rc = bt_verifier_new(&v, &p, d, BT_DIGEST_LEN, buf, sizeof buf, NULL);
        assert_int_equal(rc, BT_EPROOF);
        assert_null(v);
    }
    /* The honest encoding is accepted (length 0). */
    uint8_t ok[1 + 32 + 32 + 4 + 1] = {0x02};
    memset(ok + 33, 0xFF, 32);
    ok[sizeof ok - 1] = 0x04;
    bt_verifier *v = NULL;
    assert_int_equal(bt_verifier_new(&v, &p, d, BT_DIGEST_LEN, ok, sizeof ok, NULL), 0);
    bt_verifier_free(v);
}

static void hash_internal(uint8_t out[32], uint8_t bal, const uint8_t l[32], const uint8_t r[32])
{
    uint8_t in[66];
    in[0] = 0x01;
    in[1] = bal;
    memcpy(in + 2, l, 32);
    memcpy(in + 34, r, 32);
    crypto_generichash(out, 32, in, sizeof in, NULL, 0);
}

/* The empty variable-length tree's leaf: 02 NEG POS 00000000. */
#define EMPTY_LEAF_LEN (1 + 32 + 32 + 4)
static void empty_leaf(uint8_t *p, uint8_t label[32])
{
    memset(p, 0, EMPTY_LEAF_LEN);
    p[0] = 0x02;
    memset(p + 33, 0xFF, 32);
    uint8_t in[1 + 64];
    in[0] = 0x00;
    memset(in + 1, 0x00, 32);
    memset(in + 33, 0xFF, 32);
    crypto_generichash(label, 32, in, sizeof in, NULL, 0);
}

/* A chain of depth internal nodes, each with a label stub on the right and
 * the deeper chain on the left, the empty tree's leaf at the bottom:
 *   02 NEG POS 00000000 (03 Li FF)*depth 04 FF*(depth/8+1)
 * The direction bytes say "left" all the way down, so a Lookup would reach
 * the leaf (and prove absence) if depth were not limited.  The correct root
 * label is computed, so only the depth can make it fail. */
static uint8_t *left_chain(size_t depth, size_t *len, uint8_t digest[BT_DIGEST_LEN])
{
    size_t ndir = depth / 8 + 1;
    *len = EMPTY_LEAF_LEN + depth * 34 + 1 + ndir;
    uint8_t *p = malloc(*len);
    assert_non_null(p);
    uint8_t lab[32], cur[32];
    empty_leaf(p, cur);
    size_t o = EMPTY_LEAF_LEN;
    for (size_t i = 0; i < depth; i++) {
        memset(lab, (int)(i * 7 + 3), 32);
        lab[0] = (uint8_t)(i >> 8);
        p[o] = 0x03;
        memcpy(p + o + 1, lab, 32);
        p[o + 33] = 0xFF;
        o += 34;
        hash_internal(cur, 0xFF, cur, lab);
    }
    p[o++] = 0x04;
    memset(p + o, 0xFF, ndir);
    memcpy(digest, cur, 32);
    digest[32] = (uint8_t)(depth > 255 ? 255 : depth);
    return p;
}

/* The mirror image: labels on the left, the leaf at the bottom right; all
 * tokens first, then all balance bytes, so the parse stack itself grows to
 * depth + 1.  Direction bits: all right (0). */
static uint8_t *right_chain(size_t depth, size_t *len, uint8_t digest[BT_DIGEST_LEN])
{
    size_t ndir = depth / 8 + 1;
    *len = depth * 33 + EMPTY_LEAF_LEN + depth + 1 + ndir;
    uint8_t *p = malloc(*len);
    assert_non_null(p);
    uint8_t(*labs)[32] = malloc((depth + 1) * 32);
    for (size_t i = 0; i < depth; i++) {
        memset(labs[i], (int)(i * 5 + 1), 32);
        labs[i][1] = (uint8_t)(i >> 8);
        p[i * 33] = 0x03;
        memcpy(p + i * 33 + 1, labs[i], 32);
    }
    size_t o = depth * 33;
    uint8_t cur[32];
    empty_leaf(p + o, cur);
    o += EMPTY_LEAF_LEN;
    for (size_t i = depth; i-- > 0;) {
        p[o++] = 0x01;
        hash_internal(cur, 0x01, labs[i], cur);
    }
    p[o++] = 0x04;
    memset(p + o, 0x00, ndir);
    memcpy(digest, cur, 32);
    digest[32] = (uint8_t)(depth > 255 ? 255 : depth);
    free(labs);
    return p;
}

/* Rebuild + one Lookup; returns the first error (0 if the lookup completed). */
static int chain_lookup(const bt_params *p, const uint8_t *d, const uint8_t *pr, size_t len,
                        int *new_rc)
{
    bt_verifier *v = NULL;
    *new_rc = bt_verifier_new(&v, p, d, BT_DIGEST_LEN, pr, len, NULL);
    if (*new_rc) {
        assert_null(v);
        return *new_rc;
    }
    uint8_t k[32];
    memset(k, 0x42, 32);
    bt_op op = {BT_OP_LOOKUP, k, 32, NULL, 0};
    bt_result r;
    int rc = bt_verifier_apply(v, &op, &r);
    if (rc == 0) assert_int_equal(r.found, 0);
    bt_verifier_free(v);
    return rc;
}

static void test_deep_chains(void **state)
{
    (void)state;
    assert_int_equal(sodium_init() < 0, 0);
    bt_params p = BT_PARAMS_INIT;
    size_t len;
    uint8_t d[BT_DIGEST_LEN];
    int nrc;

    /* Within the depth limit, with the right label: the rebuild succeeds and
     * the lookup walks down to the leaf. */
    uint8_t *pr = left_chain(200, &len, d);
    assert_int_equal(chain_lookup(&p, d, pr, len, &nrc), 0);
    /* One byte of the bottom leaf changed: label mismatch. */
    pr[40] ^= 1;
    assert_int_equal(chain_lookup(&p, d, pr, len, &nrc), BT_EPROOF);
    free(pr);
    pr = right_chain(200, &len, d);
    assert_int_equal(chain_lookup(&p, d, pr, len, &nrc), 0);
    free(pr);

    /* Beyond it: refused (at rebuild or at the operation), never a crash or
     * an unbounded recursion, even with the correct root label.  (Depth 257
     * is only recorded: the operations recurse up to BT_VERIFY_DEPTH_MAX plus
     * a small constant, and an honest tree is never that high anyway.) */
    static const size_t deep[] = {BT_VERIFY_DEPTH_MAX + 1, 300, 5000, 100000};
    for (size_t i = 0; i < sizeof deep / sizeof deep[0]; i++) {
        pr = left_chain(deep[i], &len, d);
        int rc = chain_lookup(&p, d, pr, len, &nrc);
        print_message("left chain depth %zu: rebuild %d, lookup %d\n", deep[i], nrc, rc);
        if (deep[i] >= 300) assert_true(rc == BT_EPROOF || rc == BT_ELIMIT);
        free(pr);
        pr = right_chain(deep[i], &len, d);
        rc = chain_lookup(&p, d, pr, len, &nrc);
        print_message("right chain depth %zu: rebuild %d, lookup %d\n", deep[i], nrc, rc);
        if (deep[i] >= 300) assert_true(rc == BT_EPROOF || rc == BT_ELIMIT);
        free(pr);
    }
    /* 100000 bare balance bytes after one label: underflow, no recursion. */
    len = 33 + 100000 + 1;
    pr = malloc(len);
    pr[0] = 0x03;
    memset(pr + 1, 0x22, 32);
    memset(pr + 33, 0xFF, 100000);
    pr[len - 1] = 0x04;
    bt_verifier *v = NULL;
    assert_int_equal(bt_verifier_new(&v, &p, d, BT_DIGEST_LEN, pr, len, NULL), BT_EPROOF);
    free(pr);
}

static void test_budget(void **state)
{
    (void)state;
    honest h;
    make_honest(&h, BT_VALUE_VARIABLE);
    uint8_t out[BT_DIGEST_LEN];
    /* Tight budget (the succeeded op count and delete count): accepted. */
    bt_verify_opts o = BT_VERIFY_OPTS_INIT;
    o.max_ops = (long long)h.n;
    o.max_deletes = (long long)h.deletes;
    assert_int_equal(run_verify(&h, h.start, h.proof, h.len, &o, out), V_COMPLETE_SAME);
    o.max_deletes = -1; /* = max_ops */
    assert_int_equal(run_verify(&h, h.start, h.proof, h.len, &o, out), V_COMPLETE_SAME);
    /* Too small: refused with BT_ELIMIT at construction. */
    o.max_ops = 1;
    o.max_deletes = 0;
    bt_verifier *v = (bt_verifier *)&o;
    assert_int_equal(
        bt_verifier_new(&v, &h.params, h.start, BT_DIGEST_LEN, h.proof, h.len, &o), BT_ELIMIT);
    assert_null(v);
    size_t failed;
    assert_int_equal(bt_proof_verify(out, &failed, &h.params, h.start, BT_DIGEST_LEN, h.proof,
                                     h.len, h.ops, h.n, &o),
                     BT_ELIMIT);
    assert_int_equal(failed, h.n);
    /* Find the smallest max_ops that is accepted: everything below fails
     * with ELIMIT, everything above completes. */
    long long lo = 0;
    for (long long m = 1; m <= (long long)h.n; m++) {
        o.max_ops = m;
        o.max_deletes = 0;
        int rc = bt_verifier_new(&v, &h.params, h.start, BT_DIGEST_LEN, h.proof, h.len, &o);
        if (rc == 0) {
            bt_verifier_free(v);
            if (!lo) lo = m;
        } else {
            assert_int_equal(rc, BT_ELIMIT);
            assert_int_equal(lo, 0);
        }
    }
    print_message("smallest accepted max_ops (max_deletes = 0): %lld of %zu ops\n", lo, h.n);
    /* Unbounded: accepted. */
    assert_int_equal(run_verify(&h, h.start, h.proof, h.len, NULL, out), V_COMPLETE_SAME);
    bt_free(h.proof);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutations_variable), cmocka_unit_test(test_mutations_fixed8),
        cmocka_unit_test(test_wrong_ops),          cmocka_unit_test(test_garbage_and_empty),
        cmocka_unit_test(test_huge_value_lengths), cmocka_unit_test(test_deep_chains),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
