/*
 * check.c -- the integrity checker: walks a whole tree and verifies every
 * invariant of avl_format.md section 2 and every label.
 *
 * Checked, for the first violation only (reported with the path from the
 * root, L/R per step, in the handle's message):
 *  C1. internal nodes: balance in {-1,0,1} and equal to height(right) -
 *      height(left); depth below the limit;
 *  C2. the routing key of an internal node is the smallest key of its right
 *      subtree;
 *  C3. leaves in order: the first is the -inf sentinel with the zero value,
 *      keys strictly increase, each nextKey equals the following leaf's key,
 *      the last nextKey is +inf;
 *  C4. value lengths obey the tree parameters;
 *  C5. every label equals the label recomputed from the node's bytes (stored
 *      labels are trusted nowhere);
 *  C6. the root height and the key count equal what the handle believes.
 */
#include "core/tree_int.h"
#include "util/alloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct chk {
    bt_tree *t;
    bt_node *prev_leaf;
    uint64_t leaves;
    char path[BT_VERIFY_DEPTH_MAX + 2];
    int rc;
} chk;

static int bad(chk *c, int depth, const char *fmt, ...)
{
    char what[80];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    c->path[depth] = 0;
    snprintf(c->t->msg, sizeof c->t->msg, "check: node at path '%.64s' (depth %d): %s",
             depth ? c->path : "root", depth, what);
    return c->rc = BT_ECORRUPT;
}

/* Returns the subtree height, or -1 after recording an error.  *minkey gets
 * the subtree's smallest key; label receives the recomputed label. */
static int walk(chk *c, bt_node *x, int depth, const uint8_t **minkey, uint8_t label[32])
{
    bt_tree *t = c->t;
    unsigned klen = t->s.klen;
    bt_node *n;
    if (depth > BT_VERIFY_DEPTH_MAX) return bad(c, depth, "deeper than %d levels", BT_VERIFY_DEPTH_MAX), -1;
    int rc = bt_resolve(x, &t->s.src, false, klen, t->s.fixed, t->s.vlen, &n, t->msg, sizeof t->msg);
    if (rc) {
        c->rc = rc;
        return -1;
    }
    if (n->klen != klen) return bad(c, depth, "key length %u, tree has %u", n->klen, klen), -1;
    if (n->kind == BT_NK_LEAF) {
        uint32_t vl = n->u.leaf.vlen;
        if (t->s.fixed ? vl != t->s.vlen : vl > BT_VALUE_LEN_LIMIT)
            return bad(c, depth, "value length %u not allowed", vl), -1;
        const uint8_t *key = bt_node_key(n);
        if (!c->prev_leaf) {
            for (unsigned i = 0; i < klen; i++)
                if (key[i]) return bad(c, depth, "first leaf is not the -inf sentinel"), -1;
            for (uint32_t i = 0; i < vl; i++)
                if (bt_leaf_value(n)[i]) return bad(c, depth, "sentinel value is not zero"), -1;
        } else {
            if (memcmp(bt_leaf_next(c->prev_leaf), key, klen) != 0)
                return bad(c, depth, "previous leaf's nextKey is not this leaf's key"), -1;
            if (memcmp(bt_node_key(c->prev_leaf), key, klen) >= 0)
                return bad(c, depth, "keys are not increasing"), -1;
        }
        c->prev_leaf = n;
        c->leaves++;
        *minkey = key;
        bt_label_leaf(label, klen, key, bt_leaf_value(n), vl, bt_leaf_next(n));
    } else if (n->kind == BT_NK_INTERNAL) {
        const uint8_t *lmin, *rmin;
        uint8_t ll[32], rl[32];
        c->path[depth] = 'L';
        int hl = walk(c, n->u.in.left, depth + 1, &lmin, ll);
        if (hl < 0) return -1;
        c->path[depth] = 'R';
        int hr = walk(c, n->u.in.right, depth + 1, &rmin, rl);
        if (hr < 0) return -1;
        if (n->balance < -1 || n->balance > 1 || n->balance != hr - hl)
            return bad(c, depth, "balance %d but subtree heights %d/%d", n->balance, hl, hr), -1;
        if (memcmp(bt_node_key(n), rmin, klen) != 0)
            return bad(c, depth, "routing key is not the smallest key of the right subtree"), -1;
        *minkey = lmin;
        bt_label_internal(label, n->balance, ll, rl);
        rc = (hl > hr ? hl : hr) + 1;
        if (memcmp(label, bt_node_label(n), 32) != 0 && (n->flags & BT_NF_LABEL))
            return bad(c, depth, "stored label differs from the recomputed one"), -1;
        if (x != n && memcmp(label, bt_node_label(x), 32) != 0)
            return bad(c, depth, "label differs from the one its parent expects"), -1;
        return rc;
    } else {
        return bad(c, depth, "unexpected node kind %d", n->kind), -1;
    }
    if ((n->flags & BT_NF_LABEL) && memcmp(label, bt_node_label(n), 32) != 0)
        return bad(c, depth, "stored label differs from the recomputed one"), -1;
    if (x != n && memcmp(label, bt_node_label(x), 32) != 0)
        return bad(c, depth, "label differs from the one its parent expects"), -1;
    return 0;
}

int bt_tree_check(bt_tree *t)
{
    chk c;
    memset(&c, 0, sizeof c);
    c.t = t;
    const uint8_t *minkey;
    uint8_t label[32];
    int h = walk(&c, t->s.root, 0, &minkey, label);
    if (h < 0) return c.rc;
    if (!c.prev_leaf) return bad(&c, 0, "no leaves");
    for (unsigned i = 0; i < t->s.klen; i++)
        if (bt_leaf_next(c.prev_leaf)[i] != 0xFF)
            return bad(&c, 0, "last leaf's nextKey is not +inf");
    if (h != t->s.height) return bad(&c, 0, "height %d but the handle says %d", h, t->s.height);
    if (c.leaves - 1 != t->count)
        return bad(&c, 0, "%llu keys but the handle counts %llu", (unsigned long long)(c.leaves - 1),
                   (unsigned long long)t->count);
    t->msg[0] = 0;
    return 0;
}
