/*
 * avl.c -- AVL+ operations shared by the prover and the verifier.
 *
 * This follows ../../docs/FORMAT.md and the byte-level specification
 * (avl_format.md sections 5-9) step by step, including where nodes are marked
 * visited, because the marks decide which nodes a batch proof reveals.
 * See avl.h for the session invariants S1-S4.
 *
 * Memory discipline during one operation: every node created by the operation
 * starts with one reference held by the scratch list; storing a pointer into
 * a node takes a reference; overwriting one releases it.  Releases that reach
 * zero are deferred (the grave list) until the operation ends, because the
 * algorithms keep plain pointers to nodes that a rotation may detach and
 * re-attach.  At the end of the operation the scratch references are
 * dropped and whatever is still unreferenced is freed.
 */
#include "core/avl.h"
#include "util/alloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DEPTH_MAX (BT_VERIFY_DEPTH_MAX + 8)
#define SEMANTIC 1 /* internal: the operation failed; class in s->opfail */

typedef struct mres {
    bt_node *n;
    bool changed, grew, del;
} mres;

/* Per-operation context that the recursion needs besides the session. */
typedef struct opctx {
    const bt_op *op;
    int opfail;      /* failure class when SEMANTIC is returned */
    bt_buf *vals;    /* where the old value is copied */
    size_t old_off, old_len;
    bool have_old;
} opctx;

static int fail(bt_sess *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* A tree shape the algorithms cannot handle: corrupt storage in a prover,
 * a dishonest proof in a verifier. */
static int structural(bt_sess *s, const char *what)
{
    return fail(s, s->verifier ? BT_EPROOF : BT_ECORRUPT, "%s", what);
}

/* gen is read atomically: the store may set a sealed node's persisted id
 * (node.h) while a reader's session looks at it. */
static bool mine(const bt_sess *s, const bt_node *n)
{
    return __atomic_load_n(&n->gen, __ATOMIC_RELAXED) == s->gen;
}

/* Walks over many nodes are bound by memory latency: start loading both
 * children (header and label lines) before descending into the first. */
static inline void prefetch_node(const bt_node *n)
{
    __builtin_prefetch(n);
    __builtin_prefetch((const char *)n + 64);
    __builtin_prefetch((const char *)n + 96);
}

static int grow_ptrs(bt_node ***arr, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    bt_node **p = bt_realloc(*arr, c * sizeof *p);
    if (!p) return BT_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

/* Deferred release (see the top comment). */
static void release(bt_sess *s, bt_node *n)
{
    if (!n) return;
    if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1) return;
    if (n->flags & BT_NF_GRAVE) return;
    if (s->ngrave == s->capgrave && grow_ptrs(&s->grave, &s->capgrave, s->ngrave + 1)) {
        s->poison = BT_ENOMEM; /* cannot remember it: leak rather than crash */
        return;
    }
    n->flags |= BT_NF_GRAVE;
    s->grave[s->ngrave++] = n;
}

static int track(bt_sess *s, bt_node *n)
{
    if (s->nscratch == s->capscratch &&
        grow_ptrs(&s->scratch, &s->capscratch, s->nscratch + 1)) {
        bt_node_unref(n);
        return BT_ENOMEM;
    }
    s->scratch[s->nscratch++] = n;
    return 0;
}

static void end_op(bt_sess *s)
{
    for (size_t i = 0; i < s->nscratch; i++) release(s, s->scratch[i]);
    s->nscratch = 0;
    /* Keep only the entries still unreferenced; those cannot be reached by
     * anybody, so freeing one never frees another entry of the list. */
    size_t k = 0;
    for (size_t i = 0; i < s->ngrave; i++) {
        bt_node *n = s->grave[i];
        n->flags &= (uint8_t)~BT_NF_GRAVE;
        if (atomic_load_explicit(&n->refs, memory_order_acquire) == 0) s->grave[k++] = n;
    }
    for (size_t i = 0; i < k; i++) {
        atomic_store_explicit(&s->grave[i]->refs, 1, memory_order_relaxed);
        bt_node_unref(s->grave[i]);
    }
    s->ngrave = 0;
}

static void set_child(bt_sess *s, bt_node **slot, bt_node *c)
{
    if (*slot == c) return;
    bt_node_ref(c);
    bt_node *old = *slot;
    *slot = c;
    release(s, old);
}

static void set_root(bt_sess *s, bt_node *n)
{
    set_child(s, &s->root, n);
}

static int mark(bt_sess *s, bt_node *n)
{
    if (s->verifier || mine(s, n)) return 0;
    if ((s->visited.count + 1) * 2 > s->visited.cap && bt_ptrset_reserve(&s->visited, 64))
        return fail(s, BT_ENOMEM, "out of memory marking a node");
    bt_ptrset_add(&s->visited, n);
    return 0;
}

int bt_resolve(bt_node *x, const bt_node_source *src, bool verifier, unsigned klen, bool fixed,
               uint32_t vlen, bt_node **out, char *msg, size_t msgcap)
{
    if (x->kind != BT_NK_LABEL) {
        *out = x;
        return 0;
    }
    bt_node *l = atomic_load_explicit(&x->u.stub.loaded, memory_order_acquire);
    if (l) {
        *out = l;
        return 0;
    }
    if (verifier) {
        snprintf(msg, msgcap, "the proof does not reveal a node the operation needs");
        return BT_EPROOF;
    }
    if (!src || !src->load) {
        snprintf(msg, msgcap, "node %llu is not loaded and there is no node source",
                 (unsigned long long)x->u.stub.ref);
        return BT_ECORRUPT;
    }
    int rc = src->load(src->ctx, x, klen, fixed, vlen, &l, msg, msgcap);
    if (rc) return rc;
    uint8_t lab[32];
    if (l->kind == BT_NK_LEAF) {
        bt_label_leaf(lab, klen, bt_node_key(l), bt_leaf_value(l), l->u.leaf.vlen, bt_leaf_next(l));
    } else if (l->kind == BT_NK_INTERNAL && (l->u.in.left->flags & BT_NF_LABEL) &&
               (l->u.in.right->flags & BT_NF_LABEL)) {
        bt_label_internal(lab, l->balance, bt_node_label(l->u.in.left),
                          bt_node_label(l->u.in.right));
    } else {
        snprintf(msg, msgcap, "node %llu: the node source returned an unusable node",
                 (unsigned long long)x->u.stub.ref);
        bt_node_unref(l);
        return BT_ECORRUPT;
    }
    if (memcmp(lab, x->data, 32) != 0) {
        snprintf(msg, msgcap, "node %llu: label does not match the one its parent expects",
                 (unsigned long long)x->u.stub.ref);
        bt_node_unref(l);
        return BT_ECORRUPT;
    }
    memcpy(bt_node_label(l), lab, 32);
    l->flags |= BT_NF_LABEL;
    bt_node *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&x->u.stub.loaded, &expected, l,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        bt_node_unref(l); /* somebody else loaded it first */
        l = expected;
    }
    *out = l;
    return 0;
}

static int get(bt_sess *s, bt_node *x, bt_node **out)
{
    return bt_resolve(x, &s->src, s->verifier, s->klen, s->fixed, s->vlen, out, s->msg,
                      sizeof s->msg);
}

/* ---- copy-on-write constructors ----------------------------------------- */

static int new_internal(bt_sess *s, const uint8_t *key, bt_node *l, bt_node *r, int bal,
                        bt_node **out)
{
    bt_node *n = bt_node_new_internal(s->klen, key, l, r, (int8_t)bal, s->gen);
    if (!n) return fail(s, BT_ENOMEM, "out of memory allocating a node");
    s->new_bytes += bt_node_mem(n);
    if (track(s, n)) return fail(s, BT_ENOMEM, "out of memory");
    *out = n;
    return 0;
}

/* r with the given children and balance: r itself if it is ours, else a copy. */
static int upd(bt_sess *s, bt_node *r, bt_node *l, bt_node *rt, int bal, bt_node **out)
{
    if (!mine(s, r)) return new_internal(s, bt_node_key(r), l, rt, bal, out);
    set_child(s, &r->u.in.left, l);
    set_child(s, &r->u.in.right, rt);
    r->balance = (int8_t)bal;
    r->flags &= (uint8_t)~BT_NF_LABEL;
    *out = r;
    return 0;
}

/* r with a new routing key. */
static int upd_key(bt_sess *s, bt_node *r, const uint8_t *key, bt_node **out)
{
    if (!mine(s, r))
        return new_internal(s, key, r->u.in.left, r->u.in.right, r->balance, out);
    memmove(bt_node_key(r), key, s->klen);
    r->flags &= (uint8_t)~BT_NF_LABEL;
    *out = r;
    return 0;
}

/* A leaf with the given contents, reusing r when it is ours and the value
 * length is unchanged.  The inputs may point into r itself. */
static int leaf_with(bt_sess *s, bt_node *r, const uint8_t *key, const uint8_t *val,
                     uint32_t vlen, const uint8_t *next, bt_node **out)
{
    if (mine(s, r) && r->u.leaf.vlen == vlen) {
        memmove(bt_node_key(r), key, s->klen);
        if (vlen) memmove(bt_leaf_value(r), val, vlen);
        memmove(bt_leaf_next(r), next, s->klen);
        r->flags &= (uint8_t)~BT_NF_LABEL;
        *out = r;
        return 0;
    }
    bt_node *n = bt_node_new_leaf(s->klen, key, val, vlen, next, s->gen);
    if (!n) return fail(s, BT_ENOMEM, "out of memory allocating a leaf");
    s->new_bytes += bt_node_mem(n);
    if (track(s, n)) return fail(s, BT_ENOMEM, "out of memory");
    *out = n;
    return 0;
}

/* ---- directions ------------------------------------------------------------ */

static int next_is_left(bt_sess *s, bt_node *r, const uint8_t *key, bool *left)
{
    if (s->verifier) {
        if ((s->dir_index >> 3) >= s->proof_len)
            return fail(s, BT_EPROOF, "the proof ran out of direction bits");
        bool l = (s->proof[s->dir_index >> 3] >> (s->dir_index & 7)) & 1;
        if (!l) s->last_right_step = s->dir_index;
        s->dir_index++;
        *left = l;
        return 0;
    }
    bool l;
    if (s->found) {
        l = true;
    } else {
        int c = memcmp(key, bt_node_key(r), s->klen);
        if (c == 0) {
            s->found = true;
            s->last_right_step = s->dir_bits;
            l = false;
        } else {
            l = c < 0;
        }
    }
    if ((s->dir_bits & 7) == 0) {
        if (bt_buf_put(&s->dirs, l ? 1 : 0)) return fail(s, BT_ENOMEM, "out of memory");
    } else if (l) {
        s->dirs.data[s->dir_bits >> 3] |= (uint8_t)(1u << (s->dir_bits & 7));
    }
    s->dir_bits++;
    *left = l;
    return 0;
}

/* The delete pass's replay of this operation's comparisons (spec section 7). */
static int replay(bt_sess *s, int *d)
{
    size_t i = s->replay_index++;
    if (i == s->last_right_step) {
        *d = 0;
        return 0;
    }
    const uint8_t *bits = s->verifier ? s->proof : s->dirs.data;
    size_t nbytes = s->verifier ? s->proof_len : s->dirs.len;
    if ((i >> 3) >= nbytes) return structural(s, "deletion ran past the direction bits");
    bool right = ((bits[i >> 3] >> (i & 7)) & 1) == 0;
    *d = (right && i < s->last_right_step) ? 1 : -1;
    return 0;
}

/* ---- rotations (spec section 6, "Double rotations") ---------------------- */

static int pivot_balances(bt_sess *s, int b, int *bl, int *br)
{
    switch (b) {
    case 0: *bl = 0; *br = 0; return 0;
    case -1: *bl = 0; *br = 1; return 0;
    case 1: *bl = -1; *br = 0; return 0;
    default: return structural(s, "a node on a rotation has an invalid balance");
    }
}

static int double_left(bt_sess *s, bt_node *cur, bt_node *L, bt_node *R, bt_node **out)
{
    bt_node *p;
    int rc, bl = 0, br = 0;
    if (R->kind != BT_NK_INTERNAL) return structural(s, "rotation below a leaf");
    if ((rc = get(s, R->u.in.left, &p))) return rc;
    if (p->kind != BT_NK_INTERNAL) return structural(s, "rotation pivot is a leaf");
    if ((rc = pivot_balances(s, p->balance, &bl, &br))) return rc;
    bt_node *pl = p->u.in.left, *pr = p->u.in.right, *rr = R->u.in.right;
    bt_node *nleft, *nright;
    if ((rc = upd(s, cur, L, pl, bl, &nleft))) return rc;
    if ((rc = upd(s, R, pr, rr, br, &nright))) return rc;
    return upd(s, p, nleft, nright, 0, out);
}

static int double_right(bt_sess *s, bt_node *cur, bt_node *L, bt_node *R, bt_node **out)
{
    bt_node *p;
    int rc, bl = 0, br = 0;
    if (L->kind != BT_NK_INTERNAL) return structural(s, "rotation below a leaf");
    if ((rc = get(s, L->u.in.right, &p))) return rc;
    if (p->kind != BT_NK_INTERNAL) return structural(s, "rotation pivot is a leaf");
    if ((rc = pivot_balances(s, p->balance, &bl, &br))) return rc;
    bt_node *pl = p->u.in.left, *pr = p->u.in.right, *ll = L->u.in.left;
    bt_node *nleft, *nright;
    if ((rc = upd(s, cur, pr, R, br, &nright))) return rc;
    if ((rc = upd(s, L, ll, pl, bl, &nleft))) return rc;
    return upd(s, p, nleft, nright, 0, out);
}

/* ---- the modify pass (spec section 6) ------------------------------------ */

static bool value_allowed(const bt_sess *s, size_t len)
{
    if (s->fixed) return len == s->vlen;
    if (s->verifier) return len <= UINT32_MAX - 1024;
    return len <= s->vmax;
}

static int keep_old(bt_sess *s, opctx *c, bt_node *leaf)
{
    c->old_off = c->vals->len;
    c->old_len = leaf->u.leaf.vlen;
    c->have_old = true;
    if (bt_buf_append(c->vals, bt_leaf_value(leaf), leaf->u.leaf.vlen))
        return fail(s, BT_ENOMEM, "out of memory copying a value");
    return 0;
}

static int modify_leaf(bt_sess *s, opctx *c, bt_node *r, mres *o)
{
    const bt_op *op = c->op;
    bool match;
    if (!s->verifier) {
        match = s->found;
        s->found = false;
    } else {
        int cmp = memcmp(op->key, bt_node_key(r), s->klen);
        if (cmp == 0) {
            match = true;
        } else {
            if (cmp < 0 || memcmp(op->key, bt_leaf_next(r), s->klen) >= 0)
                return fail(s, BT_EPROOF, "the key is not in the gap of the leaf the proof leads to");
            match = false;
        }
    }
    o->n = r;
    o->changed = o->grew = o->del = false;
    bool write = false;
    switch (op->type) {
    case BT_OP_LOOKUP: break;
    case BT_OP_INSERT:
        if (match) { c->opfail = BT_EEXISTS; return SEMANTIC; }
        write = true;
        break;
    case BT_OP_UPDATE:
        if (!match) { c->opfail = BT_ENOTFOUND; return SEMANTIC; }
        write = true;
        break;
    case BT_OP_INSERT_OR_UPDATE: write = true; break;
    case BT_OP_REMOVE:
        if (!match) { c->opfail = BT_ENOTFOUND; return SEMANTIC; }
        o->del = true;
        break;
    case BT_OP_REMOVE_IF_EXISTS: o->del = match; break;
    }
    if (write && !value_allowed(s, op->value_len)) { c->opfail = BT_EVALLEN; return SEMANTIC; }
    int rc;
    if (match && (rc = keep_old(s, c, r))) return rc;
    if ((rc = mark(s, r))) return rc;
    if (!write) return 0;
    o->changed = true;
    if (match)
        return leaf_with(s, r, bt_node_key(r), op->value, (uint32_t)op->value_len, bt_leaf_next(r),
                         &o->n);
    /* Insertion: r keeps its key and value but now points at the new key; the
     * new leaf takes r's old nextKey. */
    uint8_t oldnext[BT_KEY_LEN_MAX];
    memcpy(oldnext, bt_leaf_next(r), s->klen);
    bt_node *nl, *nr;
    if ((rc = leaf_with(s, r, bt_node_key(r), bt_leaf_value(r), r->u.leaf.vlen, op->key, &nl)))
        return rc;
    nr = bt_node_new_leaf(s->klen, op->key, op->value, (uint32_t)op->value_len, oldnext, s->gen);
    if (!nr) return fail(s, BT_ENOMEM, "out of memory allocating a leaf");
    s->new_bytes += bt_node_mem(nr);
    if (track(s, nr)) return fail(s, BT_ENOMEM, "out of memory");
    o->grew = true;
    return new_internal(s, op->key, nl, nr, 0, &o->n);
}

static int modify(bt_sess *s, opctx *c, bt_node *r, int depth, mres *o)
{
    int rc;
    if (depth > DEPTH_MAX) return structural(s, "a search path exceeds the depth limit");
    if (r->kind == BT_NK_LEAF) return modify_leaf(s, c, r, o);
    if (r->kind != BT_NK_INTERNAL) return structural(s, "unexpected node kind");
    __builtin_prefetch(r->u.in.left);
    __builtin_prefetch(r->u.in.right);
    bool left = false;
    if ((rc = next_is_left(s, r, c->op->key, &left))) return rc;
    bt_node *child;
    if ((rc = get(s, left ? r->u.in.left : r->u.in.right, &child))) return rc;
    mres cr;
    if ((rc = modify(s, c, child, depth + 1, &cr))) return rc;
    if ((rc = mark(s, r))) return rc;
    o->del = false;
    o->grew = false;
    o->changed = cr.changed;
    if (!cr.changed) {
        o->n = r;
        o->del = cr.del;
        return 0;
    }
    int bal = r->balance;
    if (left) {
        if (cr.grew && bal < 0) {
            bt_node *nl = cr.n;
            if (nl->kind != BT_NK_INTERNAL) return structural(s, "a grown subtree is a leaf");
            if (nl->balance < 0) { /* single right rotation */
                bt_node *nr;
                if ((rc = upd(s, r, nl->u.in.right, r->u.in.right, 0, &nr))) return rc;
                return upd(s, nl, nl->u.in.left, nr, 0, &o->n);
            }
            return double_right(s, r, nl, r->u.in.right, &o->n);
        }
        o->grew = cr.grew && bal == 0;
        return upd(s, r, cr.n, r->u.in.right, cr.grew ? bal - 1 : bal, &o->n);
    }
    if (cr.grew && bal > 0) {
        bt_node *nr = cr.n;
        if (nr->kind != BT_NK_INTERNAL) return structural(s, "a grown subtree is a leaf");
        if (nr->balance > 0) { /* single left rotation */
            bt_node *nl;
            if ((rc = upd(s, r, r->u.in.left, nr->u.in.left, 0, &nl))) return rc;
            return upd(s, nr, nl, nr->u.in.right, 0, &o->n);
        }
        return double_left(s, r, r->u.in.left, nr, &o->n);
    }
    o->grew = cr.grew && bal == 0;
    return upd(s, r, r->u.in.left, cr.n, cr.grew ? bal + 1 : bal, &o->n);
}

/* ---- the delete pass (spec section 7) ------------------------------------ */

static int next_of_max(bt_sess *s, bt_node *x, const uint8_t *next, int depth, bt_node **out)
{
    int rc;
    if (depth > DEPTH_MAX) return structural(s, "a spine exceeds the depth limit");
    if ((rc = mark(s, x))) return rc;
    if (x->kind == BT_NK_LEAF)
        return leaf_with(s, x, bt_node_key(x), bt_leaf_value(x), x->u.leaf.vlen, next, out);
    if (x->kind != BT_NK_INTERNAL) return structural(s, "unexpected node kind");
    bt_node *r, *nr;
    if ((rc = get(s, x->u.in.right, &r))) return rc;
    if ((rc = next_of_max(s, r, next, depth + 1, &nr))) return rc;
    return upd(s, x, x->u.in.left, nr, x->balance, out);
}

static int kv_of_min(bt_sess *s, bt_node *x, const uint8_t *key, const uint8_t *val,
                     uint32_t vlen, int depth, bt_node **out)
{
    int rc;
    if (depth > DEPTH_MAX) return structural(s, "a spine exceeds the depth limit");
    if ((rc = mark(s, x))) return rc;
    if (x->kind == BT_NK_LEAF) return leaf_with(s, x, key, val, vlen, bt_leaf_next(x), out);
    if (x->kind != BT_NK_INTERNAL) return structural(s, "unexpected node kind");
    bt_node *l, *nl;
    if ((rc = get(s, x->u.in.left, &l))) return rc;
    if ((rc = kv_of_min(s, l, key, val, vlen, depth + 1, &nl))) return rc;
    return upd(s, x, nl, x->u.in.right, x->balance, out);
}

static int del(bt_sess *s, bt_node *r, bool delete_max, int depth, bt_node **out, bool *shrank);

/* Going left (d <= 0): the left child is internal. */
static int del_left(bt_sess *s, bt_node *r, int d, int depth, bt_node **out, bool *shrank)
{
    int rc;
    bt_node *l, *nl, *root = r;
    bool cs;
    if ((rc = get(s, r->u.in.left, &l))) return rc;
    if ((rc = del(s, l, d == 0, depth + 1, &nl, &cs))) return rc;
    if (d == 0) {
        /* The key was here but both children are internal: the maximum leaf of
         * the left subtree was removed instead; its key and value move here
         * and into the minimum leaf of the right subtree. */
        bt_node *sv = s->saved, *rk, *rr, *nrr;
        s->saved = NULL;
        if (!sv) return structural(s, "deleteMax removed no leaf");
        if ((rc = upd_key(s, r, bt_node_key(sv), &rk))) return rc;
        if ((rc = get(s, rk->u.in.right, &rr))) return rc;
        if ((rc = kv_of_min(s, rr, bt_node_key(sv), bt_leaf_value(sv), sv->u.leaf.vlen, depth + 1,
                            &nrr)))
            return rc;
        if ((rc = upd(s, rk, rk->u.in.left, nrr, rk->balance, &root))) return rc;
    }
    int rb = root->balance;
    if (cs && rb > 0) {
        bt_node *rc_;
        if ((rc = get(s, root->u.in.right, &rc_))) return rc;
        if ((rc = mark(s, rc_))) return rc;
        if (rc_->kind != BT_NK_INTERNAL) return structural(s, "the taller side is a leaf");
        if (rc_->balance < 0) {
            bt_node *p;
            if ((rc = get(s, rc_->u.in.left, &p))) return rc;
            if ((rc = mark(s, p))) return rc;
            *shrank = true;
            return double_left(s, root, nl, rc_, out);
        }
        int b = rc_->balance;
        bt_node *nlc;
        if ((rc = upd(s, root, nl, rc_->u.in.left, 1 - b, &nlc))) return rc;
        *shrank = (b - 1) == 0;
        return upd(s, rc_, nlc, rc_->u.in.right, b - 1, out);
    }
    int nb = cs ? rb + 1 : rb;
    *shrank = cs && nb == 0;
    return upd(s, root, nl, root->u.in.right, nb, out);
}

/* Going right (d > 0): the right child is internal. */
static int del_right(bt_sess *s, bt_node *r, bool delete_max, int depth, bt_node **out,
                     bool *shrank)
{
    int rc;
    bt_node *rt, *nr;
    bool cs;
    if ((rc = get(s, r->u.in.right, &rt))) return rc;
    if ((rc = del(s, rt, delete_max, depth + 1, &nr, &cs))) return rc;
    int bal = r->balance;
    if (cs && bal < 0) {
        bt_node *lc;
        if ((rc = get(s, r->u.in.left, &lc))) return rc;
        if ((rc = mark(s, lc))) return rc;
        if (lc->kind != BT_NK_INTERNAL) return structural(s, "the taller side is a leaf");
        if (lc->balance > 0) {
            bt_node *p;
            if ((rc = get(s, lc->u.in.right, &p))) return rc;
            if ((rc = mark(s, p))) return rc;
            *shrank = true;
            return double_right(s, r, lc, nr, out);
        }
        int b = lc->balance;
        bt_node *nrc;
        if ((rc = upd(s, r, lc->u.in.right, nr, -b - 1, &nrc))) return rc;
        *shrank = (1 + b) == 0;
        return upd(s, lc, lc->u.in.left, nrc, 1 + b, out);
    }
    int nb = cs ? bal - 1 : bal;
    *shrank = cs && nb == 0;
    return upd(s, r, r->u.in.left, nr, nb, out);
}

static int del(bt_sess *s, bt_node *r, bool delete_max, int depth, bt_node **out, bool *shrank)
{
    int rc, d = 1;
    if (depth > DEPTH_MAX) return structural(s, "a deletion path exceeds the depth limit");
    if ((rc = mark(s, r))) return rc;
    if (!delete_max && (rc = replay(s, &d))) return rc;
    if (r->kind != BT_NK_INTERNAL) return structural(s, "deletion reached a leaf");
    if (d >= 0) {
        bt_node *rt;
        if ((rc = get(s, r->u.in.right, &rt))) return rc;
        if (rt->kind == BT_NK_LEAF) {
            if ((rc = mark(s, rt))) return rc;
            *shrank = true;
            if (delete_max) {
                s->saved = rt;
                *out = r->u.in.left;
                return 0;
            }
            if (d != 0) return structural(s, "deletion found no key");
            bt_node *l;
            if ((rc = get(s, r->u.in.left, &l))) return rc;
            return next_of_max(s, l, bt_leaf_next(rt), depth + 1, out);
        }
    }
    if (d == 0) {
        bt_node *l;
        if ((rc = get(s, r->u.in.left, &l))) return rc;
        if (l->kind == BT_NK_LEAF) {
            bt_node *rt;
            if ((rc = mark(s, l))) return rc;
            if ((rc = get(s, r->u.in.right, &rt))) return rc;
            *shrank = true;
            return kv_of_min(s, rt, bt_node_key(l), bt_leaf_value(l), l->u.leaf.vlen, depth + 1,
                             out);
        }
    }
    if (d <= 0) return del_left(s, r, d, depth, out, shrank);
    return del_right(s, r, delete_max, depth, out, shrank);
}

/* ---- operations ------------------------------------------------------------ */

int bt_key_check(const uint8_t *key, size_t len, unsigned klen)
{
    /* Byte-string comparisons with NEG = 0x00 x klen and POS = 0xFF x klen,
     * a shorter string being smaller when it is a prefix of the longer. */
    size_t m = len < klen ? len : klen, i;
    for (i = 0; i < m && key[i] == 0x00; i++) {}
    if (i == m && len <= klen) return BT_EKEYLOW;
    for (i = 0; i < m && key[i] == 0xFF; i++) {}
    if (i == m && len >= klen) return BT_EKEYHIGH;
    if (len != klen) return BT_EKEYLEN;
    return 0;
}

static int reserve_for_op(bt_sess *s)
{
    size_t est = (size_t)(s->verifier ? DEPTH_MAX : (s->height > 0 ? s->height : 0)) + 8;
    if (grow_ptrs(&s->scratch, &s->capscratch, 6 * est) ||
        grow_ptrs(&s->grave, &s->capgrave, 8 * est))
        return fail(s, BT_ENOMEM, "out of memory");
    if (!s->verifier &&
        (bt_ptrset_reserve(&s->visited, 4 * est) || bt_buf_reserve(&s->dirs, est / 8 + 2)))
        return fail(s, BT_ENOMEM, "out of memory");
    return 0;
}

int bt_sess_apply(bt_sess *s, const bt_op *op, int *out_status, int *out_found, bt_buf *vals,
                  size_t *out_old_off, size_t *out_old_len)
{
    *out_status = 0;
    *out_found = 0;
    *out_old_off = *out_old_len = 0;
    if (s->poison) return s->poison;
    int kc = bt_key_check(op->key, op->key_len, s->klen);
    if (kc) {
        *out_status = kc;
        return 0;
    }
    int rc = reserve_for_op(s);
    if (rc) return rc;
    opctx c = {op, 0, vals, 0, 0, false};
    size_t bits0 = s->dir_bits, vals0 = vals->len;
    s->found = false;
    s->saved = NULL;
    s->replay_index = s->verifier ? s->dir_index : s->dir_bits;
    bt_node *root;
    mres m;
    rc = get(s, s->root, &root);
    if (!rc) rc = modify(s, &c, root, 0, &m);
    if (rc == SEMANTIC) {
        vals->len = vals0;
        if (s->verifier) {
            end_op(s);
            snprintf(s->msg, sizeof s->msg, "operation failed: %s", bt_strerror(c.opfail));
            return c.opfail;
        }
        /* A failed operation leaves no trace: drop its direction bits. */
        s->dir_bits = bits0;
        s->dirs.len = (bits0 + 7) / 8;
        if (bits0 & 7) s->dirs.data[bits0 >> 3] &= (uint8_t)((1u << (bits0 & 7)) - 1);
        s->found = false;
        end_op(s);
        *out_status = c.opfail;
        return 0;
    }
    if (!rc && m.del) {
        bt_node *nr;
        bool shrank = false;
        rc = del(s, root, false, 0, &nr, &shrank);
        if (!rc) {
            set_root(s, nr);
            if (shrank) s->height--;
        }
    } else if (!rc) {
        set_root(s, m.n);
        if (m.grew) s->height++;
    }
    if (!rc && (s->height < 0 || s->height > 255))
        rc = structural(s, "the tree height left the range 0..255");
    end_op(s);
    if (rc) {
        if (!s->verifier) s->poison = rc;
        return rc;
    }
    if (c.have_old) {
        *out_found = 1;
        *out_old_off = c.old_off;
        *out_old_len = c.old_len;
    }
    return s->poison;
}

/* ---- labels, digest, proof -------------------------------------------------- */



static int labels(bt_sess *s, bt_node *n, int depth)
{
    if (n->flags & BT_NF_LABEL) return 0;
    if (depth > 2 * DEPTH_MAX) return structural(s, "unlabelled path exceeds the depth limit");
    if (n->kind == BT_NK_LEAF) {
        bt_label_leaf(bt_node_label(n), n->klen, bt_node_key(n), bt_leaf_value(n), n->u.leaf.vlen,
                      bt_leaf_next(n));
    } else if (n->kind == BT_NK_INTERNAL) {
        int rc;
        prefetch_node(n->u.in.left);
        prefetch_node(n->u.in.right);
        if ((rc = labels(s, n->u.in.left, depth + 1))) return rc;
        if ((rc = labels(s, n->u.in.right, depth + 1))) return rc;
        bt_label_internal(bt_node_label(n), n->balance, bt_node_label(n->u.in.left),
                          bt_node_label(n->u.in.right));
    } else {
        return structural(s, "a stub without a label");
    }
    n->flags |= BT_NF_LABEL;
    return 0;
}

int bt_sess_labels(bt_sess *s) { return labels(s, s->root, 0); }

int bt_sess_digest(bt_sess *s, uint8_t out[BT_DIGEST_LEN])
{
    int rc = labels(s, s->root, 0);
    if (rc) return rc;
    if (s->height < 0 || s->height > 255)
        return structural(s, "the tree height left the range 0..255");
    memcpy(out, bt_node_label(s->root), 32);
    out[32] = (uint8_t)s->height;
    return 0;
}

static int pack(bt_sess *s, bt_node *x, bt_buf *out, bool *prev_leaf, int depth)
{
    int rc;
    bt_node *n = x;
    if (n->kind == BT_NK_LABEL) {
        bt_node *l = atomic_load_explicit(&n->u.stub.loaded, memory_order_acquire);
        if (l) n = l;
    }
    if (n->kind == BT_NK_LABEL || !bt_ptrset_has(&s->visited, n)) {
        if ((rc = bt_buf_reserve(out, 33))) return rc;
        out->data[out->len++] = 0x03;
        memcpy(out->data + out->len, bt_node_label(n), 32);
        out->len += 32;
        *prev_leaf = false;
        return 0;
    }
    if (depth > DEPTH_MAX) return structural(s, "proof tree exceeds the depth limit");
    if (n->kind == BT_NK_LEAF) {
        uint32_t vl = n->u.leaf.vlen;
        if ((rc = bt_buf_reserve(out, 1 + 2u * s->klen + 4 + (size_t)vl))) return rc;
        uint8_t *p = out->data + out->len;
        *p++ = 0x02;
        if (!*prev_leaf) {
            memcpy(p, bt_node_key(n), s->klen);
            p += s->klen;
        }
        memcpy(p, bt_leaf_next(n), s->klen);
        p += s->klen;
        if (!s->fixed) {
            p[0] = (uint8_t)(vl >> 24);
            p[1] = (uint8_t)(vl >> 16);
            p[2] = (uint8_t)(vl >> 8);
            p[3] = (uint8_t)vl;
            p += 4;
        }
        if (vl) memcpy(p, bt_leaf_value(n), vl);
        p += vl;
        out->len = (size_t)(p - out->data);
        *prev_leaf = true;
        return 0;
    }
    prefetch_node(n->u.in.left);
    prefetch_node(n->u.in.right);
    if ((rc = pack(s, n->u.in.left, out, prev_leaf, depth + 1))) return rc;
    if ((rc = pack(s, n->u.in.right, out, prev_leaf, depth + 1))) return rc;
    return bt_buf_put(out, (uint8_t)n->balance);
}

int bt_sess_proof(bt_sess *s, bt_buf *out)
{
    int rc = labels(s, s->root, 0);
    if (rc) return rc;
    bool prev_leaf = false;
    if ((rc = pack(s, s->old_root, out, &prev_leaf, 0))) return rc;
    if ((rc = bt_buf_put(out, 0x04))) return rc;
    if ((rc = bt_buf_append(out, s->dirs.data, s->dirs.len))) return rc;
    bt_ptrset_clear(&s->visited);
    s->dirs.len = 0;
    s->dir_bits = 0;
    s->last_right_step = 0;
    bt_node_unref(s->old_root);
    s->old_root = bt_node_ref(s->root);
    return 0;
}

void bt_sess_reset(bt_sess *s)
{
    bt_ptrset_clear(&s->visited);
    s->dirs.len = 0;
    s->dir_bits = 0;
    s->last_right_step = 0;
    if (s->old_root != s->root) {
        bt_node_unref(s->old_root);
        s->old_root = bt_node_ref(s->root);
    }
}

void bt_sess_rollback(bt_sess *s)
{
    bt_node *old = s->root;
    s->root = bt_node_ref(s->old_root);
    bt_node_unref(old);
    bt_ptrset_clear(&s->visited);
    s->dirs.len = 0;
    s->dir_bits = 0;
    s->last_right_step = 0;
    s->poison = 0;
}

int bt_sess_init_prover(bt_sess *s, const bt_params *p, bt_node *root, int height, uint64_t gen)
{
    memset(s, 0, sizeof *s);
    s->klen = p->key_len;
    s->fixed = p->value_len != BT_VALUE_VARIABLE;
    s->vlen = s->fixed ? p->value_len : 0;
    s->vmax = p->value_max ? p->value_max : BT_VALUE_MAX_DEFAULT;
    s->verifier = false;
    s->gen = gen;
    s->root = bt_node_ref(root);
    s->old_root = bt_node_ref(root);
    s->height = height;
    return 0;
}

void bt_sess_dispose(bt_sess *s)
{
    if (s->root) bt_node_unref(s->root);
    if (s->old_root) bt_node_unref(s->old_root);
    s->root = s->old_root = NULL;
    bt_mem_free(s->scratch);
    bt_mem_free(s->grave);
    s->scratch = s->grave = NULL;
    s->capscratch = s->capgrave = s->nscratch = s->ngrave = 0;
    bt_buf_free(&s->dirs);
    bt_ptrset_free(&s->visited);
}
