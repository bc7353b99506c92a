/*
 * tree_int.h -- the inside of a bt_tree, for the layers above the core
 * (the store opens trees on lazily loaded roots) and for the checker.
 */
#ifndef BT_CORE_TREE_INT_H
#define BT_CORE_TREE_INT_H
#include "core/avl.h"

struct bt_tree {
    bt_params p;
    bt_sess s;
    uint64_t count, count_at_proof;
    int height_at_proof;
    bt_buf vals; /* old values returned by the last call */
    char msg[256];
};

/* Initialises the hash implementation (idempotent). */
void bt_crypto_init(void);

/* A unique session generation (process-wide counter). */
uint64_t bt_gen_next(void);

/* The empty tree's root: the -inf sentinel leaf, labelled.  NULL on ENOMEM. */
bt_node *bt_empty_root(const bt_params *p);

/* Opens a tree handle on an existing sealed root (takes its own reference),
 * with a node source for stubs (may be NULL). */
int bt_tree_open_root(bt_tree **out, const bt_params *params, bt_node *root, int height,
                      uint64_t count, const bt_node_source *src);
/* After a commit: the working version becomes the batch start (no proof is
 * written) and is sealed. */
void bt_tree_mark_committed(bt_tree *t);

/* Bytes of the nodes the tree allocated since the last call (an upper bound
 * of the memory its unstored nodes hold: a node later replaced in the same
 * batch is counted too); resets the count.  The database bounds its
 * unflushed nodes with it (flush_bytes). */
uint64_t bt_tree_take_new_bytes(bt_tree *t);

/* Unauthenticated lookup from any root, usable by concurrent readers: appends
 * the value to out and sets *found.  Returns 0 or a load error. */
int bt_root_get(bt_buf *out, bool *found, bt_node *root, unsigned klen, bool fixed, uint32_t vlen,
                const bt_node_source *src, const uint8_t *key, char *msg, size_t msgcap);
#endif
