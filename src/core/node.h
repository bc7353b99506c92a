/*
 * node.h -- nodes of an AVL+ tree, shared by the prover and the verifier.
 *
 * A node is one allocation: a 32-byte header followed by its bytes.
 *
 *   kind      data layout                                   label at
 *   LEAF      key[klen] value[vlen] next[klen] label[32]    data + 2*klen + vlen
 *   INTERNAL  key[klen] label[32]                           data + klen
 *   LABEL     label[32]                                     data
 *
 * LABEL nodes stand for a subtree known only by its label.  In a verifier
 * they are the pruned parts of the proof; in a prover they are the hook for
 * lazy loading: a node source turns the stub into the real node, which is
 * kept in u.stub.loaded (set once, with a reference).
 *
 * Invariants:
 *  N1. refs counts the child pointers, stub links, roots and per-operation
 *      scratch entries that point at the node.  A node is freed when refs
 *      reaches 0 (during an operation, only at the end of the operation).
 *  N2. A node whose gen differs from the generation of the session working on
 *      it is immutable: it belongs to a sealed version (or to another
 *      session) and is copied, never changed (copy-on-write).  Only refs and
 *      a stub's loaded pointer (set once, atomically) ever change in it.
 *  N3. If flags has BT_NF_LABEL, the stored label equals the label computed
 *      from the node's bytes and its children's labels.  Every node of a
 *      sealed version has BT_NF_LABEL.  Changing a mutable node clears it.
 *  N4. An internal node has two non-NULL children.  balance is -1, 0 or +1
 *      in a prover tree (a verifier takes whatever the proof says and checks
 *      before relying on it).
 */
#ifndef BT_CORE_NODE_H
#define BT_CORE_NODE_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { BT_NK_LEAF = 1, BT_NK_INTERNAL = 2, BT_NK_LABEL = 3 };

/* A node stored in a database has gen = BT_GEN_PERSISTED | its node id (set
 * once, atomically, when it is written or loaded).  Session generations are
 * small numbers, so such a node is never mutable (N2). */
#define BT_GEN_PERSISTED (1ull << 63)


enum { BT_NF_LABEL = 1, BT_NF_GRAVE = 2 };

typedef struct bt_node bt_node;
struct bt_node {
    _Atomic uint32_t refs;
    uint8_t kind;
    int8_t balance;
    uint8_t flags;
    uint8_t klen;
    uint64_t gen; /* creating session's generation; link field once dead */
    union {
        struct {
            bt_node *left, *right;
        } in;
        struct {
            uint32_t vlen;
        } leaf;
        struct {
            _Atomic(bt_node *) loaded;
            uint64_t ref; /* opaque locator for the node source */
        } stub;
    } u;
    uint8_t data[];
};

static inline uint64_t bt_node_id(const bt_node *n)
{
    if (n->kind == BT_NK_LABEL) return n->u.stub.ref;
    uint64_t g = __atomic_load_n(&n->gen, __ATOMIC_RELAXED);
    return (g & BT_GEN_PERSISTED) ? (g & ~BT_GEN_PERSISTED) : 0;
}

static inline uint8_t *bt_node_key(bt_node *n) { return n->data; }
static inline const uint8_t *bt_node_ckey(const bt_node *n) { return n->data; }
static inline uint8_t *bt_leaf_value(bt_node *n) { return n->data + n->klen; }
static inline uint8_t *bt_leaf_next(bt_node *n) { return n->data + n->klen + n->u.leaf.vlen; }
static inline uint8_t *bt_node_label(bt_node *n)
{
    switch (n->kind) {
    case BT_NK_LEAF: return n->data + 2u * n->klen + n->u.leaf.vlen;
    case BT_NK_INTERNAL: return n->data + n->klen;
    default: return n->data;
    }
}

/* Bytes a node occupies in memory (without allocator overhead). */
static inline size_t bt_node_mem(const bt_node *n)
{
    switch (n->kind) {
    case BT_NK_LEAF: return sizeof *n + 2u * n->klen + n->u.leaf.vlen + 32u;
    case BT_NK_INTERNAL: return sizeof *n + n->klen + 32u;
    default: return sizeof *n + 32u;
    }
}

/* Allocation; every new node has refs = 1 and no label.  NULL on ENOMEM. */
bt_node *bt_node_new_leaf(unsigned klen, const uint8_t *key, const uint8_t *value, uint32_t vlen,
                          const uint8_t *next, uint64_t gen);
/* An internal node; takes a new reference on each child. */
bt_node *bt_node_new_internal(unsigned klen, const uint8_t *key, bt_node *left, bt_node *right,
                              int8_t balance, uint64_t gen);
bt_node *bt_node_new_label(const uint8_t label[32], uint64_t ref);

static inline bt_node *bt_node_ref(bt_node *n)
{
    atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
    return n;
}

/* Drops a reference; frees the node, and every node only it kept alive, when
 * the count reaches zero.  Iterative: constant stack on any tree shape. */
void bt_node_unref(bt_node *n);

/* Label computation (Blake2b-256). */
void bt_label_leaf(uint8_t out[32], unsigned klen, const uint8_t *key, const uint8_t *value,
                   uint32_t vlen, const uint8_t *next);
void bt_label_internal(uint8_t out[32], int8_t balance, const uint8_t left[32],
                       const uint8_t right[32]);
#endif
