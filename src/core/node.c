/* node.c -- node allocation, reference counting and labels (see node.h). */
#include "core/node.h"
#include "util/alloc.h"
#include <sodium.h>
#include <string.h>

bt_node *bt_node_new_leaf(unsigned klen, const uint8_t *key, const uint8_t *value, uint32_t vlen,
                          const uint8_t *next, uint64_t gen)
{
    bt_node *n = bt_malloc(sizeof *n + 2u * klen + vlen + 32u);
    if (!n) return NULL;
    atomic_init(&n->refs, 1);
    n->kind = BT_NK_LEAF;
    n->balance = 0;
    n->flags = 0;
    n->klen = (uint8_t)klen;
    n->gen = gen;
    n->u.leaf.vlen = vlen;
    memcpy(n->data, key, klen);
    if (vlen) memcpy(n->data + klen, value, vlen);
    memcpy(n->data + klen + vlen, next, klen);
    return n;
}

bt_node *bt_node_new_internal(unsigned klen, const uint8_t *key, bt_node *left, bt_node *right,
                              int8_t balance, uint64_t gen)
{
    bt_node *n = bt_malloc(sizeof *n + klen + 32u);
    if (!n) return NULL;
    atomic_init(&n->refs, 1);
    n->kind = BT_NK_INTERNAL;
    n->balance = balance;
    n->flags = 0;
    n->klen = (uint8_t)klen;
    n->gen = gen;
    n->u.in.left = bt_node_ref(left);
    n->u.in.right = bt_node_ref(right);
    if (key)
        memcpy(n->data, key, klen);
    else
        memset(n->data, 0, klen);
    return n;
}

bt_node *bt_node_new_label(const uint8_t label[32], uint64_t ref)
{
    bt_node *n = bt_malloc(sizeof *n + 32u);
    if (!n) return NULL;
    atomic_init(&n->refs, 1);
    n->kind = BT_NK_LABEL;
    n->balance = 0;
    n->flags = BT_NF_LABEL;
    n->klen = 0;
    n->gen = 0;
    atomic_init(&n->u.stub.loaded, NULL);
    n->u.stub.ref = ref;
    memcpy(n->data, label, 32);
    return n;
}

/* Dead nodes are chained through their gen field, which nobody reads once the
 * count is zero; so freeing a tree of any shape needs no extra memory. */
static void push_dead(bt_node **head, bt_node *n)
{
    n->gen = (uint64_t)(uintptr_t)*head;
    *head = n;
}

static void drop(bt_node **head, bt_node *n)
{
    if (n && atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1) push_dead(head, n);
}

void bt_node_unref(bt_node *n)
{
    bt_node *head = NULL;
    drop(&head, n);
    while (head) {
        bt_node *x = head;
        head = (bt_node *)(uintptr_t)x->gen;
        if (x->kind == BT_NK_INTERNAL) {
            drop(&head, x->u.in.left);
            drop(&head, x->u.in.right);
        } else if (x->kind == BT_NK_LABEL) {
            drop(&head, atomic_load_explicit(&x->u.stub.loaded, memory_order_acquire));
        }
        bt_mem_free(x);
    }
}

void bt_label_leaf(uint8_t out[32], unsigned klen, const uint8_t *key, const uint8_t *value,
                   uint32_t vlen, const uint8_t *next)
{
    size_t total = 1u + 2u * klen + (size_t)vlen;
    if (total <= 640) {
        uint8_t buf[640];
        buf[0] = 0x00;
        memcpy(buf + 1, key, klen);
        if (vlen) memcpy(buf + 1 + klen, value, vlen);
        memcpy(buf + 1 + klen + vlen, next, klen);
        crypto_generichash(out, 32, buf, total, NULL, 0);
        return;
    }
    crypto_generichash_state st;
    static const uint8_t prefix = 0x00;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, &prefix, 1);
    crypto_generichash_update(&st, key, klen);
    crypto_generichash_update(&st, value, vlen);
    crypto_generichash_update(&st, next, klen);
    crypto_generichash_final(&st, out, 32);
}

void bt_label_internal(uint8_t out[32], int8_t balance, const uint8_t left[32],
                       const uint8_t right[32])
{
    uint8_t buf[66];
    buf[0] = 0x01;
    buf[1] = (uint8_t)balance;
    memcpy(buf + 2, left, 32);
    memcpy(buf + 34, right, 32);
    crypto_generichash(out, 32, buf, sizeof buf, NULL, 0);
}
