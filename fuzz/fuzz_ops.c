/*
 * fuzz_ops.c -- differential fuzzing of the prover tree against a model.
 *
 * The input is decoded into a stream of operations on a bt_tree; every result
 * is compared with a plain sorted array (the model), and every batch proof is
 * replayed by the verifier.  Any disagreement calls abort().
 *
 * Input layout:
 *   byte 0   config: bit 0     key length: 0 = 32 bytes, 1 = 1 byte
 *                    bit 1     values: 0 = variable, 1 = fixed 8 bytes
 *                    bits 2-3  key space: 3, 16, 60 or 250 keys
 *                    bit 4     apply through bt_tree_apply_batch(n = 1)
 *   then commands until the input ends, each starting with a byte t:
 *     t & 15 in 0..11  an operation of type (t & 15) % 6; (t >> 4) == 15
 *                      gives its key a wrong length.  Followed by a key byte
 *                      (0 = the -inf sentinel, 255 = +inf, otherwise key
 *                      number byte % keyspace) and, for Insert, Update and
 *                      InsertOrUpdate, a value byte (see make_value).
 *     12, 15           end of batch: prove, check, verify.
 *     13               discard the batch.
 *     14               what-if block: a byte n (n % 8 + 1 ops follow, encoded
 *                      as above); bit 4 of t: at a batch boundary, also
 *                      apply them for real and compare proof and digest.
 *
 * Checked:
 *   - each op's status class, found flag and old value against the model;
 *   - the key count after every op;
 *   - at each batch end: prove leaves the digest alone, bt_tree_check
 *     passes, the verifier replays the succeeded ops from the previous digest
 *     (unbounded, and with the tight max_ops/max_deletes budget) and returns
 *     the same results and exactly the prover's digest; an empty tree has
 *     bt_empty_digest; an empty batch proves as 03 || label || 04;
 *   - discard restores the last proved digest and contents;
 *   - what-if never changes the digest, its results match the model, its
 *     proof verifies from the current digest to its digest, and at a batch
 *     boundary it equals a real apply + prove byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basistrees.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FO_KEY_MAX 33 /* key length 32, plus one for wrong-length keys */
#define FO_OPS_MAX 4096
#define FO_WHATIF_MAX 8

#define REQUIRE(c)                                                                        \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "fuzz_ops: check failed at line %d: %s\n", __LINE__, #c);    \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* ---- the model: a sorted array -------------------------------------------- */

typedef struct ment {
    uint8_t key[FO_KEY_MAX];
    uint8_t *val;
    size_t vlen;
} ment;

typedef struct model {
    ment *e;
    size_t n, cap;
    size_t kl;
} model;

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *r = malloc(n ? n : 1);
    REQUIRE(r != NULL);
    if (n) memcpy(r, p, n);
    return r;
}

/* Index of key, or of the slot where it would go (*found says which). */
static size_t model_find(const model *m, const uint8_t *key, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(m->e[mid].key, key, m->kl);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

static void model_put(model *m, const uint8_t *key, const uint8_t *val, size_t vlen)
{
    int found;
    size_t i = model_find(m, key, &found);
    if (found) {
        free(m->e[i].val);
    } else {
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 16;
            m->e = realloc(m->e, m->cap * sizeof *m->e);
            REQUIRE(m->e != NULL);
        }
        memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof *m->e);
        memset(&m->e[i], 0, sizeof m->e[i]);
        memcpy(m->e[i].key, key, m->kl);
        m->n++;
    }
    m->e[i].val = dup_bytes(val, vlen);
    m->e[i].vlen = vlen;
}

static void model_del(model *m, size_t i)
{
    free(m->e[i].val);
    memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
    m->n--;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->e[i].val);
    free(m->e);
    m->e = NULL;
    m->n = m->cap = 0;
}

static void model_copy(model *dst, const model *src)
{
    model_free(dst);
    dst->kl = src->kl;
    dst->n = dst->cap = src->n;
    dst->e = malloc((src->n ? src->n : 1) * sizeof *dst->e);
    REQUIRE(dst->e != NULL);
    for (size_t i = 0; i < src->n; i++) {
        dst->e[i] = src->e[i];
        dst->e[i].val = dup_bytes(src->e[i].val, src->e[i].vlen);
    }
}

/* Expected outcome of op on m; applies it to m when it succeeds.  Returns
 * the status; *found / *old (a copy, caller frees) describe the old value. */
static int model_apply(model *m, const bt_params *p, const bt_op *op, int *found,
                       uint8_t **old, size_t *old_len)
{
    size_t kl = p->key_len;
    *found = 0;
    *old = NULL;
    *old_len = 0;
    /* Sentinel checks compare against KL-byte sentinels, in memcmp order. */
    static const uint8_t zeros[FO_KEY_MAX], ffs[FO_KEY_MAX] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    if (op->key_len == kl && memcmp(op->key, zeros, kl) == 0) return BT_EKEYLOW;
    if (op->key_len == kl && memcmp(op->key, ffs, kl) == 0) return BT_EKEYHIGH;
    if (op->key_len != kl) return BT_EKEYLEN;
    int f;
    size_t i = model_find(m, op->key, &f);
    int has_val = op->type == BT_OP_INSERT || op->type == BT_OP_UPDATE ||
                  op->type == BT_OP_INSERT_OR_UPDATE;
    if (op->type == BT_OP_INSERT && f) return BT_EEXISTS;
    if ((op->type == BT_OP_UPDATE || op->type == BT_OP_REMOVE) && !f) return BT_ENOTFOUND;
    if (has_val && p->value_len != BT_VALUE_VARIABLE && op->value_len != p->value_len)
        return BT_EVALLEN;
    if (f) {
        *found = 1;
        *old = dup_bytes(m->e[i].val, m->e[i].vlen);
        *old_len = m->e[i].vlen;
    }
    switch (op->type) {
    case BT_OP_LOOKUP: break;
    case BT_OP_INSERT:
    case BT_OP_UPDATE:
    case BT_OP_INSERT_OR_UPDATE: model_put(m, op->key, op->value, op->value_len); break;
    case BT_OP_REMOVE:
    case BT_OP_REMOVE_IF_EXISTS:
        if (f) model_del(m, i);
        break;
    }
    return 0;
}

/* ---- the log of succeeded ops of the current batch ------------------------ */

typedef struct logged {
    bt_op op; /* op.key / op.value point to key / val (heap, stable) */
    uint8_t *key;
    uint8_t *val;
    int found;
    uint8_t *old;
    size_t old_len;
} logged;

typedef struct oplog {
    logged *e;
    size_t n, cap;
    size_t deletes;
} oplog;

static void log_clear(oplog *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].key);
        free(l->e[i].val);
        free(l->e[i].old);
    }
    l->n = 0;
    l->deletes = 0;
}

static void log_add(oplog *l, const bt_op *op, int found, uint8_t *old, size_t old_len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
        REQUIRE(l->e != NULL);
    }
    logged *g = &l->e[l->n++];
    g->key = dup_bytes(op->key, op->key_len);
    g->val = op->value ? dup_bytes(op->value, op->value_len) : NULL;
    g->op = *op;
    g->op.key = g->key;
    g->op.value = g->val;
    g->found = found;
    g->old = old;
    g->old_len = old_len;
    if (found && (op->type == BT_OP_REMOVE || op->type == BT_OP_REMOVE_IF_EXISTS))
        l->deletes++;
}

/* ---- decoding ------------------------------------------------------------- */

typedef struct fuzzer {
    const uint8_t *p;
    size_t left;
    bt_params params;
    size_t keyspace;
    int use_batch;
    unsigned long salt;
    bt_tree *tree;
    model m, committed;
    oplog log;
    uint8_t start[BT_DIGEST_LEN];
    uint8_t empty[BT_DIGEST_LEN];
    /* storage behind decoded ops (keys/values) */
    uint8_t keys[FO_WHATIF_MAX][FO_KEY_MAX];
    uint8_t *vals[FO_WHATIF_MAX];
} fuzzer;

static int next_byte(fuzzer *f, uint8_t *out)
{
    if (!f->left) return 0;
    *out = *f->p++;
    f->left--;
    return 1;
}

static void make_key(fuzzer *f, uint8_t *key, uint8_t kb, int wrong_len, size_t *out_len)
{
    size_t kl = f->params.key_len;
    if (wrong_len && (kb == 0 || kb == 255)) kb = 1;
    if (kb == 0) {
        memset(key, 0, kl);
    } else if (kb == 255) {
        memset(key, 0xFF, kl);
    } else {
        unsigned idx = kb % f->keyspace;
        if (kl == 1) {
            key[0] = (uint8_t)(1 + idx);
        } else {
            /* A permuted first byte, so key order differs from index order. */
            key[0] = (uint8_t)(idx * 167u + 3u);
            for (size_t i = 1; i < kl; i++) key[i] = (uint8_t)(idx * 31u + i * 7u);
            key[kl - 1] = 0x5A; /* never a sentinel */
        }
    }
    *out_len = kl;
    if (wrong_len) {
        key[kl] = 0x33;
        *out_len = kl + 1;
    }
}

/* Value byte vb: fixed mode: 0xFF -> 7 bytes, 0xFE -> 9 bytes (both wrong),
 * else 8 bytes; variable mode: 0xFF -> 5000 bytes, else vb % 37 bytes. */
static uint8_t *make_value(fuzzer *f, uint8_t vb, size_t *out_len)
{
    size_t len;
    if (f->params.value_len != BT_VALUE_VARIABLE)
        len = vb == 0xFF ? 7 : vb == 0xFE ? 9 : 8;
    else
        len = vb == 0xFF ? 5000 : (size_t)(vb % 37);
    uint8_t *v = malloc(len ? len : 1);
    REQUIRE(v != NULL);
    f->salt++;
    for (size_t i = 0; i < len; i++) v[i] = (uint8_t)(vb + i * 31u + f->salt * 13u);
    *out_len = len;
    return v;
}

/* Decodes one op whose type byte is t into slot s.  Returns 0 at input end. */
static int decode_op(fuzzer *f, uint8_t t, int s, bt_op *op)
{
    uint8_t kb, vb;
    if (!next_byte(f, &kb)) return 0;
    memset(op, 0, sizeof *op);
    op->type = (bt_op_type)((t & 15) % 6);
    make_key(f, f->keys[s], kb, (t >> 4) == 15, &op->key_len);
    op->key = f->keys[s];
    free(f->vals[s]);
    f->vals[s] = NULL;
    if (op->type == BT_OP_INSERT || op->type == BT_OP_UPDATE ||
        op->type == BT_OP_INSERT_OR_UPDATE) {
        if (!next_byte(f, &vb)) return 0;
        f->vals[s] = make_value(f, vb, &op->value_len);
        op->value = f->vals[s];
    }
    return 1;
}

/* ---- checks --------------------------------------------------------------- */

static void check_result(const bt_result *r, int st, int found, const uint8_t *old,
                         size_t old_len)
{
    REQUIRE(r->status == st);
    if (st != 0) return;
    REQUIRE(r->found == found);
    if (found) {
        REQUIRE(r->old_len == old_len);
        REQUIRE(old_len == 0 || memcmp(r->old, old, old_len) == 0);
    }
}

static void do_op(fuzzer *f, const bt_op *op)
{
    bt_result r;
    memset(&r, 0x5A, sizeof r);
    int rc = f->use_batch ? bt_tree_apply_batch(f->tree, op, 1, &r)
                          : bt_tree_apply(f->tree, op, &r);
    REQUIRE(rc == 0);
    int found;
    uint8_t *old;
    size_t old_len;
    int st = model_apply(&f->m, &f->params, op, &found, &old, &old_len);
    check_result(&r, st, found, old, old_len);
    if (st == 0) log_add(&f->log, op, found, old, old_len);
    else free(old);
    REQUIRE(bt_tree_count(f->tree) == f->m.n);
    if (op->key_len == f->params.key_len && st == 0) {
        const uint8_t *v;
        size_t vl;
        int fd;
        size_t i = model_find(&f->m, op->key, &fd);
        int grc = bt_tree_get(&v, &vl, f->tree, op->key, op->key_len);
        if (fd) {
            REQUIRE(grc == 0);
            REQUIRE(vl == f->m.e[i].vlen);
            REQUIRE(vl == 0 || memcmp(v, f->m.e[i].val, vl) == 0);
        } else {
            REQUIRE(grc == BT_ENOTFOUND);
        }
    }
}

/* Replays the log with the verifier from start; expects end. */
static void verify_log(fuzzer *f, const uint8_t *start, const uint8_t *proof, size_t len,
                       const oplog *l, const uint8_t *end, int tight)
{
    bt_verify_opts o = BT_VERIFY_OPTS_INIT;
    if (tight) {
        o.max_ops = (long long)l->n;
        o.max_deletes = (long long)l->deletes;
    }
    bt_verifier *v = NULL;
    int rc = bt_verifier_new(&v, &f->params, start, BT_DIGEST_LEN, proof, len, &o);
    if (rc != 0) fprintf(stderr, "verifier_new: %d (tight %d, ops %zu)\n", rc, tight, l->n);
    REQUIRE(rc == 0);
    for (size_t i = 0; i < l->n; i++) {
        bt_result r;
        rc = bt_verifier_apply(v, &l->e[i].op, &r);
        if (rc) fprintf(stderr, "verifier_apply op %zu: %d %s\n", i, rc, bt_verifier_errmsg(v));
        REQUIRE(rc == 0);
        check_result(&r, 0, l->e[i].found, l->e[i].old, l->e[i].old_len);
    }
    uint8_t d[BT_DIGEST_LEN];
    REQUIRE(bt_verifier_digest(d, v) == 0);
    REQUIRE(memcmp(d, end, BT_DIGEST_LEN) == 0);
    bt_verifier_free(v);
}

static void end_batch(fuzzer *f)
{
    uint8_t before[BT_DIGEST_LEN], after[BT_DIGEST_LEN];
    REQUIRE(bt_tree_digest(before, f->tree) == 0);
    uint8_t *proof = NULL;
    size_t len = 0;
    REQUIRE(bt_tree_prove(&proof, &len, f->tree) == 0);
    REQUIRE(proof != NULL);
    REQUIRE(bt_tree_digest(after, f->tree) == 0);
    REQUIRE(memcmp(before, after, BT_DIGEST_LEN) == 0);
    REQUIRE(after[32] == bt_tree_height(f->tree));
    REQUIRE(bt_tree_check(f->tree) == 0);
    if (f->log.n == 0) {
        REQUIRE(memcmp(after, f->start, BT_DIGEST_LEN) == 0);
        REQUIRE(len == 34 && proof[0] == 0x03 && proof[33] == 0x04);
        REQUIRE(memcmp(proof + 1, f->start, 32) == 0);
    }
    if (f->m.n == 0) REQUIRE(memcmp(after, f->empty, BT_DIGEST_LEN) == 0);
    verify_log(f, f->start, proof, len, &f->log, after, 0);
    if (f->log.n) verify_log(f, f->start, proof, len, &f->log, after, 1);
    bt_free(proof);
    memcpy(f->start, after, BT_DIGEST_LEN);
    model_copy(&f->committed, &f->m);
    log_clear(&f->log);
}

static void discard(fuzzer *f)
{
    bt_tree_discard(f->tree);
    uint8_t d[BT_DIGEST_LEN];
    REQUIRE(bt_tree_digest(d, f->tree) == 0);
    REQUIRE(memcmp(d, f->start, BT_DIGEST_LEN) == 0);
    model_copy(&f->m, &f->committed);
    log_clear(&f->log);
    REQUIRE(bt_tree_count(f->tree) == f->m.n);
    REQUIRE(bt_tree_check(f->tree) == 0);
}

static void whatif(fuzzer *f, uint8_t t)
{
    uint8_t nb;
    if (!next_byte(f, &nb)) return;
    size_t n = nb % FO_WHATIF_MAX + 1;
    bt_op ops[FO_WHATIF_MAX];
    for (size_t i = 0; i < n; i++) {
        uint8_t ot;
        if (!next_byte(f, &ot)) return;
        if ((ot & 15) >= 12) ot &= 0xF7; /* keep it an op */
        if (!decode_op(f, ot, (int)i, &ops[i])) return;
    }
    uint8_t d0[BT_DIGEST_LEN], d1[BT_DIGEST_LEN], wd[BT_DIGEST_LEN];
    REQUIRE(bt_tree_digest(d0, f->tree) == 0);
    bt_result res[FO_WHATIF_MAX];
    uint8_t *proof = NULL;
    size_t len = 0;
    REQUIRE(bt_tree_whatif(&proof, &len, wd, res, f->tree, ops, n) == 0);
    /* Results against a scratch copy of the model (before any other call). */
    model scratch = {0};
    model_copy(&scratch, &f->m);
    oplog wl = {0};
    for (size_t i = 0; i < n; i++) {
        int found;
        uint8_t *old;
        size_t old_len;
        int st = model_apply(&scratch, &f->params, &ops[i], &found, &old, &old_len);
        check_result(&res[i], st, found, old, old_len);
        if (st == 0) log_add(&wl, &ops[i], found, old, old_len);
        else free(old);
    }
    REQUIRE(bt_tree_digest(d1, f->tree) == 0);
    REQUIRE(memcmp(d0, d1, BT_DIGEST_LEN) == 0);
    REQUIRE(bt_tree_count(f->tree) == f->m.n);
    if (scratch.n == 0) REQUIRE(memcmp(wd, f->empty, BT_DIGEST_LEN) == 0);
    /* Deterministic. */
    uint8_t *proof2 = NULL;
    size_t len2 = 0;
    uint8_t wd2[BT_DIGEST_LEN];
    REQUIRE(bt_tree_whatif(&proof2, &len2, wd2, NULL, f->tree, ops, n) == 0);
    REQUIRE(len2 == len && memcmp(proof2, proof, len) == 0);
    REQUIRE(memcmp(wd2, wd, BT_DIGEST_LEN) == 0);
    bt_free(proof2);
    verify_log(f, d0, proof, len, &wl, wd, 0);
    if (f->log.n == 0 && (t & 16)) {
        /* At a batch boundary: the real thing must give the same bytes. */
        for (size_t i = 0; i < n; i++) do_op(f, &ops[i]);
        uint8_t *rp = NULL;
        size_t rl = 0;
        uint8_t rd[BT_DIGEST_LEN];
        REQUIRE(bt_tree_digest(rd, f->tree) == 0);
        REQUIRE(memcmp(rd, wd, BT_DIGEST_LEN) == 0);
        REQUIRE(bt_tree_prove(&rp, &rl, f->tree) == 0);
        REQUIRE(rl == len && memcmp(rp, proof, len) == 0);
        bt_free(rp);
        REQUIRE(bt_tree_check(f->tree) == 0);
        memcpy(f->start, rd, BT_DIGEST_LEN);
        model_copy(&f->committed, &f->m);
        log_clear(&f->log);
    }
    bt_free(proof);
    model_free(&scratch);
    log_clear(&wl);
    free(wl.e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t spaces[4] = {3, 16, 60, 250};
    if (size < 1) return 0;
    fuzzer *f = calloc(1, sizeof *f);
    REQUIRE(f != NULL);
    f->p = data + 1;
    f->left = size - 1;
    bt_params p = BT_PARAMS_INIT;
    p.key_len = (data[0] & 1) ? 1 : 32;
    p.value_len = (data[0] & 2) ? 8 : BT_VALUE_VARIABLE;
    f->params = p;
    f->keyspace = spaces[(data[0] >> 2) & 3];
    f->use_batch = (data[0] >> 4) & 1;
    f->m.kl = f->committed.kl = p.key_len;
    REQUIRE(bt_tree_new(&f->tree, &p) == 0);
    REQUIRE(bt_empty_digest(f->empty, &p) == 0);
    REQUIRE(bt_tree_digest(f->start, f->tree) == 0);
    REQUIRE(memcmp(f->start, f->empty, BT_DIGEST_LEN) == 0);
    REQUIRE(bt_tree_check(f->tree) == 0);

    size_t n_ops = 0;
    uint8_t t;
    while (n_ops < FO_OPS_MAX && next_byte(f, &t)) {
        unsigned cls = t & 15;
        n_ops++;
        if (cls < 12) {
            bt_op op;
            if (!decode_op(f, t, 0, &op)) break;
            do_op(f, &op);
        } else if (cls == 12 || cls == 15) {
            end_batch(f);
        } else if (cls == 13) {
            discard(f);
        } else {
            whatif(f, t);
        }
    }
    end_batch(f);

    bt_tree_free(f->tree);
    model_free(&f->m);
    model_free(&f->committed);
    log_clear(&f->log);
    free(f->log.e);
    for (int i = 0; i < FO_WHATIF_MAX; i++) free(f->vals[i]);
    free(f);
    return 0;
}
