/*
 * verifier.c -- BatchAVLVerifier: rebuild the revealed part of the tree from
 * a batch proof, check it against the starting digest, replay operations.
 *
 * Proof layout (docs/FORMAT.md, "Batch proof"): a post-order token stream
 *   0x03 label[32]                          a subtree known by its label
 *   0x02 [key] next [u32be vlen] value      a leaf (key omitted after a leaf)
 *   any other byte b                        an internal node, balance (int8)b
 * terminated by 0x04, followed by the direction bits (LSB first).
 *
 * Limits, on any input:
 *  - every read is bounds-checked against the proof length;
 *  - nodes built <= tokens read <= proof length, so memory is O(proof);
 *  - parsing uses an explicit stack; operations recurse at most
 *    BT_VERIFY_DEPTH_MAX (+ a constant) levels deep (avl.h, S4);
 *  - after the first failure the verifier is dead (Ergo's semantics).
 */
#include "core/avl.h"
#include "core/tree_int.h"
#include "util/alloc.h"
#include <stdio.h>
#include <string.h>

struct bt_verifier {
    bt_sess s;
    uint8_t *proof;
    bool dead;
    bt_buf vals;
};

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* Ergo's node budget (scrypto BatchAVLVerifier; avl_format.md section 9). */
static uint64_t node_budget(uint64_t n, uint64_t d, uint64_t height)
{
    uint64_t log_n = 0, t = 1;
    while (t < n) {
        t *= 2;
        log_n++;
        if (log_n >= 64) break;
    }
    uint64_t h = 1 + (height > log_n ? height : log_n);
    uint64_t hnew = h + h / 2;
    uint64_t a = sat_mul(sat_add(n, d), 2 * height + 1);
    return sat_add(sat_add(a, sat_mul(d, hnew)), 1);
}

static int vfail(bt_verifier *v, int code, const char *what, size_t at)
{
    snprintf(v->s.msg, sizeof v->s.msg, "%s (proof byte %zu)", what, at);
    return code;
}

static int push(bt_node ***stack, size_t *n, size_t *cap, bt_node *x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        bt_node **p = bt_realloc(*stack, c * sizeof *p);
        if (!p) return BT_ENOMEM;
        *stack = p;
        *cap = c;
    }
    (*stack)[(*n)++] = x;
    return 0;
}

static int reconstruct(bt_verifier *v, const uint8_t *digest, uint64_t budget)
{
    bt_sess *s = &v->s;
    const uint8_t *p = v->proof;
    size_t len = s->proof_len, i = 0, count = 0, sn = 0, scap = 0;
    unsigned klen = s->klen;
    bt_node **stack = NULL, *prev_leaf = NULL;
    int rc = 0;
    for (;;) {
        if (i >= len) { rc = vfail(v, BT_EPROOF, "the proof ends inside the tree", i); break; }
        uint8_t b = p[i++];
        if (b == 0x04) break;
        if (++count > budget) {
            rc = vfail(v, BT_ELIMIT, "the proof has more nodes than the operation limits allow", i - 1);
            break;
        }
        bt_node *n = NULL;
        if (b == 0x03) {
            if (len - i < 32) { rc = vfail(v, BT_EPROOF, "truncated label", i); break; }
            n = bt_node_new_label(p + i, 0);
            i += 32;
            prev_leaf = NULL;
        } else if (b == 0x02) {
            const uint8_t *key;
            if (prev_leaf) {
                key = bt_leaf_next(prev_leaf);
            } else {
                if (len - i < klen) { rc = vfail(v, BT_EPROOF, "truncated leaf key", i); break; }
                key = p + i;
                i += klen;
            }
            if (len - i < klen) { rc = vfail(v, BT_EPROOF, "truncated leaf nextKey", i); break; }
            const uint8_t *next = p + i;
            i += klen;
            uint32_t vl = s->vlen;
            if (!s->fixed) {
                if (len - i < 4) { rc = vfail(v, BT_EPROOF, "truncated value length", i); break; }
                vl = (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 | p[i + 3];
                i += 4;
            }
            if (len - i < vl) { rc = vfail(v, BT_EPROOF, "truncated or oversized value", i); break; }
            n = bt_node_new_leaf(klen, key, p + i, vl, next, 0);
            i += vl;
            if (n) {
                bt_label_leaf(bt_node_label(n), klen, bt_node_key(n), bt_leaf_value(n), vl, next);
                n->flags |= BT_NF_LABEL;
            }
            prev_leaf = n;
        } else {
            if (sn < 2) { rc = vfail(v, BT_EPROOF, "an internal node without two children", i - 1); break; }
            bt_node *r = stack[--sn], *l = stack[--sn];
            n = bt_node_new_internal(klen, NULL, l, r, (int8_t)b, 0);
            bt_node_unref(l);
            bt_node_unref(r);
            if (n) {
                bt_label_internal(bt_node_label(n), n->balance, bt_node_label(l), bt_node_label(r));
                n->flags |= BT_NF_LABEL;
            }
        }
        if (!n) { rc = vfail(v, BT_ENOMEM, "out of memory", i); break; }
        if (push(&stack, &sn, &scap, n)) {
            bt_node_unref(n);
            rc = vfail(v, BT_ENOMEM, "out of memory", i);
            break;
        }
    }
    if (!rc && sn != 1)
        rc = vfail(v, BT_EPROOF, sn ? "the proof leaves more than one tree" : "the proof holds no tree", i);
    if (!rc && memcmp(bt_node_label(stack[0]), digest, 32) != 0)
        rc = vfail(v, BT_EPROOF, "the proof's root label differs from the starting digest", 0);
    if (!rc) {
        s->root = stack[0];
        s->dir_index = i * 8;
    } else {
        while (sn) bt_node_unref(stack[--sn]);
    }
    bt_mem_free(stack);
    return rc;
}

int bt_verifier_new(bt_verifier **out, const bt_params *params, const uint8_t *start_digest,
                    size_t start_digest_len, const uint8_t *proof, size_t proof_len,
                    const bt_verify_opts *opts)
{
    *out = NULL;
    if (bt_params_check(params) || !start_digest || start_digest_len != BT_DIGEST_LEN ||
        (!proof && proof_len))
        return BT_EINVAL;
    if (opts && opts->version != BT_VERIFY_OPTS_VERSION) return BT_EINVAL;
    bt_crypto_init();
    bt_verifier *v = bt_calloc(1, sizeof *v);
    if (!v) return BT_ENOMEM;
    bt_sess *s = &v->s;
    s->klen = params->key_len;
    s->fixed = params->value_len != BT_VALUE_VARIABLE;
    s->vlen = s->fixed ? params->value_len : 0;
    s->vmax = UINT32_MAX;
    s->verifier = true;
    s->gen = 1; /* nodes from the proof have gen 0 */
    s->height = start_digest[32];
    v->proof = bt_malloc(proof_len);
    if (!v->proof) {
        bt_mem_free(v);
        return BT_ENOMEM;
    }
    if (proof_len) memcpy(v->proof, proof, proof_len);
    s->proof = v->proof;
    s->proof_len = proof_len;
    uint64_t budget = UINT64_MAX;
    if (opts && opts->max_ops >= 0) {
        uint64_t n = (uint64_t)opts->max_ops;
        uint64_t d = opts->max_deletes >= 0 ? (uint64_t)opts->max_deletes : n;
        budget = node_budget(n, d, (uint64_t)s->height);
    }
    int rc = reconstruct(v, start_digest, budget);
    if (rc) {
        bt_verifier_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void bt_verifier_free(bt_verifier *v)
{
    if (!v) return;
    if (v->s.root) bt_node_unref(v->s.root);
    v->s.root = NULL;
    bt_sess_dispose(&v->s);
    bt_buf_free(&v->vals);
    bt_mem_free(v->proof);
    bt_mem_free(v);
}

const char *bt_verifier_errmsg(const bt_verifier *v) { return v ? v->s.msg : ""; }

int bt_verifier_apply(bt_verifier *v, const bt_op *op, bt_result *out)
{
    out->status = 0;
    out->found = 0;
    out->old = NULL;
    out->old_len = 0;
    if (v->dead) return BT_EBADSTATE;
    if (!op || !op->key || (unsigned)op->type > BT_OP_REMOVE_IF_EXISTS ||
        (!op->value && op->value_len)) {
        v->dead = true;
        snprintf(v->s.msg, sizeof v->s.msg, "invalid operation");
        return BT_EINVAL;
    }
    v->vals.len = 0;
    int status, found;
    size_t off, len;
    int rc = bt_sess_apply(&v->s, op, &status, &found, &v->vals, &off, &len);
    if (!rc && status) {
        rc = status;
        snprintf(v->s.msg, sizeof v->s.msg, "operation failed: %s", bt_strerror(status));
    }
    if (rc) {
        v->dead = true;
        out->status = rc;
        return rc;
    }
    out->found = found;
    if (found) {
        out->old = v->vals.data ? v->vals.data + off : (const uint8_t *)"";
        out->old_len = len;
    }
    return 0;
}

int bt_verifier_digest(uint8_t out[BT_DIGEST_LEN], bt_verifier *v)
{
    if (v->dead) return BT_EBADSTATE;
    int rc = bt_sess_digest(&v->s, out);
    if (rc) v->dead = true;
    return rc;
}

int bt_proof_verify(uint8_t out_digest[BT_DIGEST_LEN], size_t *out_failed_op,
                    const bt_params *params, const uint8_t *start_digest, size_t start_digest_len,
                    const uint8_t *proof, size_t proof_len, const bt_op *ops, size_t n,
                    const bt_verify_opts *opts)
{
    bt_verifier *v;
    if (out_failed_op) *out_failed_op = n;
    if (!ops && n) return BT_EINVAL;
    int rc = bt_verifier_new(&v, params, start_digest, start_digest_len, proof, proof_len, opts);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        bt_result r;
        rc = bt_verifier_apply(v, &ops[i], &r);
        if (rc && out_failed_op) *out_failed_op = i;
    }
    if (!rc) rc = bt_verifier_digest(out_digest, v);
    bt_verifier_free(v);
    return rc;
}
