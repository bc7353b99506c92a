/*
 * tree.c -- the public in-memory prover tree (bt_tree) on top of a session.
 *
 * Invariants:
 *  T1. t->s.old_root is the version at the last proof (or creation); it is
 *      sealed: fully labelled and immutable.
 *  T2. t->count is the number of keys of t->s.root; t->count_at_proof that of
 *      old_root.
 *  T3. After a session failure (poison) every modifying call returns
 *      BT_EBADSTATE until bt_tree_discard().
 */
#include "core/avl.h"
#include "core/tree_int.h"
#include "util/alloc.h"
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Atomic uint64_t next_gen = 2; /* 0: proof nodes, 1: verifier sessions */

uint64_t bt_gen_next(void) { return atomic_fetch_add(&next_gen, 1); }

void bt_crypto_init(void)
{
    /* Selects libsodium's fastest Blake2b code for this CPU; thread-safe and
     * idempotent.  It can only fail if no randomness source is available,
     * which hashing does not need. */
    if (sodium_init() < 0) return;
}

int bt_params_check(const bt_params *p)
{
    if (!p || p->version != BT_PARAMS_VERSION) return BT_EINVAL;
    if (p->key_len < 1 || p->key_len > BT_KEY_LEN_MAX) return BT_EINVAL;
    if (p->value_len != BT_VALUE_VARIABLE && p->value_len > BT_VALUE_LEN_LIMIT) return BT_EINVAL;
    if (p->value_len == BT_VALUE_VARIABLE && p->value_max > BT_VALUE_LEN_LIMIT) return BT_EINVAL;
    return 0;
}

bt_node *bt_empty_root(const bt_params *p)
{
    uint8_t neg[BT_KEY_LEN_MAX], pos[BT_KEY_LEN_MAX];
    uint32_t vl = p->value_len == BT_VALUE_VARIABLE ? 0 : p->value_len;
    uint8_t *zero = vl ? bt_calloc(1, vl) : NULL;
    if (vl && !zero) return NULL;
    memset(neg, 0x00, p->key_len);
    memset(pos, 0xFF, p->key_len);
    bt_node *n = bt_node_new_leaf(p->key_len, neg, zero, vl, pos, 0);
    bt_mem_free(zero);
    if (!n) return NULL;
    bt_label_leaf(bt_node_label(n), p->key_len, neg, bt_leaf_value(n), vl, pos);
    n->flags |= BT_NF_LABEL;
    return n;
}

int bt_empty_digest(uint8_t out[BT_DIGEST_LEN], const bt_params *params)
{
    if (bt_params_check(params)) return BT_EINVAL;
    bt_node *n = bt_empty_root(params);
    if (!n) return BT_ENOMEM;
    memcpy(out, bt_node_label(n), 32);
    out[32] = 0;
    bt_node_unref(n);
    return 0;
}

static int set_err(bt_tree *t, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    va_end(ap);
    return code;
}

int bt_tree_open_root(bt_tree **out, const bt_params *params, bt_node *root, int height,
                      uint64_t count, const bt_node_source *src)
{
    *out = NULL;
    if (bt_params_check(params)) return BT_EINVAL;
    bt_crypto_init();
    bt_tree *t = bt_calloc(1, sizeof *t);
    if (!t) return BT_ENOMEM;
    t->p = *params;
    bt_sess_init_prover(&t->s, params, root, height, bt_gen_next());
    if (src) t->s.src = *src;
    t->count = t->count_at_proof = count;
    t->height_at_proof = height;
    *out = t;
    return 0;
}

int bt_tree_new(bt_tree **out, const bt_params *params)
{
    if (!out) return BT_EINVAL;
    *out = NULL;
    if (bt_params_check(params)) return BT_EINVAL;
    bt_node *root = bt_empty_root(params);
    if (!root) return BT_ENOMEM;
    int rc = bt_tree_open_root(out, params, root, 0, 0, NULL);
    bt_node_unref(root);
    return rc;
}

void bt_tree_free(bt_tree *t)
{
    if (!t) return;
    bt_sess_dispose(&t->s);
    bt_buf_free(&t->vals);
    bt_mem_free(t);
}

const char *bt_tree_errmsg(const bt_tree *t) { return t ? t->msg : ""; }

void bt_tree_params(bt_params *out, const bt_tree *t) { *out = t->p; }

static bool op_valid(const bt_op *op)
{
    return op && op->key && (unsigned)op->type <= BT_OP_REMOVE_IF_EXISTS &&
           (op->value || !op->value_len);
}

static void count_effect(bt_tree *t, const bt_op *op, int found)
{
    switch (op->type) {
    case BT_OP_INSERT: t->count++; break;
    case BT_OP_INSERT_OR_UPDATE: if (!found) t->count++; break;
    case BT_OP_REMOVE: t->count--; break;
    case BT_OP_REMOVE_IF_EXISTS: if (found) t->count--; break;
    default: break;
    }
}

/* Applies one op, leaving its old value at an offset into t->vals. */
static int apply_one(bt_tree *t, const bt_op *op, bt_result *out, size_t *off)
{
    out->status = 0;
    out->found = 0;
    out->old = NULL;
    out->old_len = 0;
    if (!op_valid(op)) return set_err(t, BT_EINVAL, "invalid operation (type, key or value)");
    if (t->s.poison)
        return set_err(t, BT_EBADSTATE, "an earlier failure left the batch unusable; discard it");
    int status, found;
    size_t len;
    int rc = bt_sess_apply(&t->s, op, &status, &found, &t->vals, off, &len);
    if (rc) return set_err(t, rc, "%s", t->s.msg);
    out->status = status;
    if (!status) {
        out->found = found;
        out->old_len = found ? len : 0;
        count_effect(t, op, found);
    }
    return 0;
}

int bt_tree_apply(bt_tree *t, const bt_op *op, bt_result *out)
{
    size_t off = 0;
    t->vals.len = 0;
    int rc = apply_one(t, op, out, &off);
    if (!rc && out->found) out->old = t->vals.data ? t->vals.data + off : (const uint8_t *)"";
    return rc;
}

int bt_tree_apply_batch(bt_tree *t, const bt_op *ops, size_t n, bt_result *results)
{
    if (!ops && n) return set_err(t, BT_EINVAL, "no operations");
    t->vals.len = 0;
    int rc = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        size_t off = 0;
        if ((rc = apply_one(t, &ops[i], &results[i], &off))) break;
        results[i].old = (const uint8_t *)(uintptr_t)off; /* fixed up below */
    }
    for (size_t j = 0; j < i; j++) {
        size_t off = (size_t)(uintptr_t)results[j].old;
        results[j].old = results[j].found ? (t->vals.data ? t->vals.data + off : (const uint8_t *)"") : NULL;
    }
    return rc;
}

int bt_tree_prove(uint8_t **out_proof, size_t *out_len, bt_tree *t)
{
    *out_proof = NULL;
    *out_len = 0;
    if (t->s.poison)
        return set_err(t, BT_EBADSTATE, "an earlier failure left the batch unusable; discard it");
    bt_buf b = BT_BUF_INIT;
    int rc = bt_sess_proof(&t->s, &b);
    if (rc) {
        bt_buf_free(&b);
        return set_err(t, rc, "proof generation failed: %s", rc == BT_ENOMEM ? "out of memory" : t->s.msg);
    }
    t->s.gen = bt_gen_next(); /* seal: nodes of this batch become immutable */
    t->count_at_proof = t->count;
    t->height_at_proof = t->s.height;
    *out_proof = bt_buf_take(&b, out_len);
    if (!*out_proof) return set_err(t, BT_ENOMEM, "out of memory");
    return 0;
}

void bt_tree_discard(bt_tree *t)
{
    bt_sess_rollback(&t->s);
    t->s.height = t->height_at_proof;
    t->s.gen = bt_gen_next();
    t->count = t->count_at_proof;
    t->msg[0] = 0;
}

int bt_tree_digest(uint8_t out[BT_DIGEST_LEN], bt_tree *t)
{
    int rc = bt_sess_digest(&t->s, out);
    if (rc) return set_err(t, rc, "%s", t->s.msg);
    return 0;
}

unsigned bt_tree_height(const bt_tree *t) { return (unsigned)t->s.height; }

uint64_t bt_tree_count(const bt_tree *t) { return t->count; }

int bt_tree_get(const uint8_t **out_value, size_t *out_len, bt_tree *t, const uint8_t *key,
                size_t key_len)
{
    *out_value = NULL;
    *out_len = 0;
    if (!key) return set_err(t, BT_EINVAL, "no key");
    int rc = bt_key_check(key, key_len, t->s.klen);
    if (rc) return rc;
    bool found = false;
    t->vals.len = 0;
    rc = bt_root_get(&t->vals, &found, t->s.root, t->s.klen, t->s.fixed, t->s.vlen, &t->s.src, key,
                     t->msg, sizeof t->msg);
    if (rc) return rc;
    if (!found) return BT_ENOTFOUND;
    *out_value = t->vals.data ? t->vals.data : (const uint8_t *)"";
    *out_len = t->vals.len;
    return 0;
}

int bt_tree_whatif(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                   bt_result *results, bt_tree *t, const bt_op *ops, size_t n)
{
    *out_proof = NULL;
    *out_len = 0;
    if (!ops && n) return set_err(t, BT_EINVAL, "no operations");
    if (t->s.poison)
        return set_err(t, BT_EBADSTATE, "an earlier failure left the batch unusable; discard it");
    int rc = bt_sess_labels(&t->s); /* the what-if proof reveals labels of our nodes */
    if (rc) return set_err(t, rc, "%s", t->s.msg);
    bt_sess w;
    bt_sess_init_prover(&w, &t->p, t->s.root, t->s.height, bt_gen_next());
    w.src = t->s.src;
    t->vals.len = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        bt_result r = {0, 0, NULL, 0};
        size_t off = 0, len = 0;
        int status, found;
        if (!op_valid(&ops[i])) {
            rc = set_err(t, BT_EINVAL, "invalid operation %zu", i);
            break;
        }
        if ((rc = bt_sess_apply(&w, &ops[i], &status, &found, &t->vals, &off, &len))) {
            set_err(t, rc, "%s", w.msg);
            break;
        }
        r.status = status;
        r.found = !status && found;
        r.old_len = r.found ? len : 0;
        r.old = (const uint8_t *)(uintptr_t)off;
        if (results) results[i] = r;
    }
    if (results) {
        for (size_t j = 0; j < i; j++) {
            size_t off = (size_t)(uintptr_t)results[j].old;
            results[j].old = results[j].found ? (t->vals.data ? t->vals.data + off : (const uint8_t *)"") : NULL;
        }
    }
    bt_buf b = BT_BUF_INIT;
    if (!rc && (rc = bt_sess_proof(&w, &b))) set_err(t, rc, "what-if proof failed");
    if (!rc && (rc = bt_sess_digest(&w, out_digest))) set_err(t, rc, "%s", w.msg);
    bt_sess_dispose(&w);
    if (rc) {
        bt_buf_free(&b);
        return rc;
    }
    *out_proof = bt_buf_take(&b, out_len);
    return *out_proof ? 0 : set_err(t, BT_ENOMEM, "out of memory");
}

uint64_t bt_tree_take_new_bytes(bt_tree *t)
{
    uint64_t b = t->s.new_bytes;
    t->s.new_bytes = 0;
    return b;
}

void bt_tree_mark_committed(bt_tree *t)
{
    bt_sess_reset(&t->s);
    t->s.gen = bt_gen_next();
    t->count_at_proof = t->count;
    t->height_at_proof = t->s.height;
}

int bt_root_get(bt_buf *out, bool *found, bt_node *root, unsigned klen, bool fixed, uint32_t vlen,
                const bt_node_source *src, const uint8_t *key, char *msg, size_t msgcap)
{
    bt_node *n;
    bool hit = false;
    int rc = bt_resolve(root, src, false, klen, fixed, vlen, &n, msg, msgcap);
    if (rc) return rc;
    for (int depth = 0; n->kind == BT_NK_INTERNAL; depth++) {
        if (depth > BT_VERIFY_DEPTH_MAX) {
            snprintf(msg, msgcap, "tree deeper than %d levels", BT_VERIFY_DEPTH_MAX);
            return BT_ECORRUPT;
        }
        __builtin_prefetch(n->u.in.left);
        __builtin_prefetch(n->u.in.right);
        bool left = hit;
        if (!hit) {
            int c = memcmp(key, bt_node_key(n), klen);
            if (c == 0) hit = true;
            left = c < 0;
        }
        if ((rc = bt_resolve(left ? n->u.in.left : n->u.in.right, src, false, klen, fixed, vlen, &n,
                             msg, msgcap)))
            return rc;
    }
    *found = hit;
    if (hit && bt_buf_append(out, bt_leaf_value(n), n->u.leaf.vlen)) return BT_ENOMEM;
    return 0;
}
