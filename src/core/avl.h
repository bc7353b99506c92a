/*
 * avl.h -- one pass of AVL+ operations over a tree: the algorithms shared by
 * the prover and the verifier (avl_format.md sections 5-7).
 *
 * A session (bt_sess) owns a working root and performs operations on it.
 * In prover mode it compares keys, records direction bits and marks the
 * nodes of the batch's starting version (old_root) that each successful
 * operation visits; bt_sess_proof() then serialises old_root with those marks.
 * In verifier mode it reads the direction bits from a proof instead, and
 * label-only stubs may not be entered.
 *
 * Invariants:
 *  S1. Nodes with gen == s->gen were created by this session and are mutable
 *      (node.h N2); every ancestor of such a node in the working tree also has
 *      gen == s->gen (path copying).
 *  S2. old_root and every node reachable from it are immutable while the
 *      session lives; marks (visited) refer only to such nodes.
 *  S3. Before an operation changes anything, every buffer it may need except
 *      node memory is reserved, and a semantic failure (key checks, Insert of
 *      a present key, ...) is decided before the first change.  So a failed
 *      operation leaves no trace.  A failure to allocate or load a node part
 *      way through poisons the session (s->poison); the owner must throw the
 *      working root away.
 *  S4. Recursion depth is bounded by BT_VERIFY_DEPTH_MAX + a constant on any
 *      input.
 */
#ifndef BT_CORE_AVL_H
#define BT_CORE_AVL_H
#include "basistrees.h"
#include "core/node.h"
#include "util/buf.h"
#include "util/ptrset.h"
#include <stdbool.h>

/* Loads the node a stub stands for.  Returns 0 and *out (a new reference),
 * or a negative BT_E* code with a message written into msg. */
typedef struct bt_node_source {
    int (*load)(void *ctx, const bt_node *stub, unsigned klen, bool fixed, uint32_t vlen,
                bt_node **out, char *msg, size_t msgcap);
    void *ctx;
} bt_node_source;

typedef struct bt_sess {
    /* parameters */
    unsigned klen;
    bool fixed;      /* fixed-length values */
    uint32_t vlen;   /* the fixed length */
    uint32_t vmax;   /* variable mode: longest value an op may write */
    bool verifier;
    uint64_t gen;

    bt_node *root;   /* working root (one reference) */
    int height;
    bt_node *old_root; /* prover: root when the batch began (one reference) */
    uint64_t new_bytes; /* prover: bt_node_mem of every node allocated since the
                           owner last took the count (bt_tree_take_new_bytes) */

    /* per-operation bookkeeping */
    bt_node **scratch; size_t nscratch, capscratch;
    bt_node **grave; size_t ngrave, capgrave;
    bt_node *old_leaf;   /* leaf holding the key before the op, or NULL */
    bt_node *saved;      /* deleteMax's removed leaf */
    bool found;          /* prover: key met on the way down */
    int poison;          /* sticky internal failure, 0 if none */

    /* direction bits (prover: written; verifier: read from the proof) */
    bt_buf dirs;
    size_t dir_bits;     /* prover: bits written */
    size_t last_right_step, replay_index;
    bt_ptrset visited;   /* prover: marked nodes of old_root's tree */

    const uint8_t *proof; size_t proof_len; /* verifier */
    size_t dir_index;    /* verifier: absolute bit index of the next direction */

    bt_node_source src;
    char msg[160];
} bt_sess;

/* Starts a prover session on root (takes a new reference; root may be a
 * stub), with the given generation (unique among live sessions). */
int bt_sess_init_prover(bt_sess *s, const bt_params *p, bt_node *root, int height, uint64_t gen);
void bt_sess_dispose(bt_sess *s);

/* Performs one operation.  Returns 0 when the operation was decided: its
 * outcome is in out->status (0 or a failure class); the old value is copied
 * into vals (out->old points into vals->data once the caller fixes it up via
 * out_old_off).  Returns a negative code when the session failed (poison,
 * ENOMEM, ECORRUPT/EIO from the node source; EPROOF in a verifier). */
int bt_sess_apply(bt_sess *s, const bt_op *op, int *out_status, int *out_found, bt_buf *vals,
                  size_t *out_old_off, size_t *out_old_len);

/* Computes the labels of every node of the working tree that lacks one. */
int bt_sess_labels(bt_sess *s);
/* Digest of the working tree (computes labels). */
int bt_sess_digest(bt_sess *s, uint8_t out[BT_DIGEST_LEN]);
/* Prover: serialises the batch proof into out (appending), then clears marks
 * and bits and makes the working root the new old_root. */
int bt_sess_proof(bt_sess *s, bt_buf *out);
/* Prover: starts a new batch from the working root without writing a proof
 * (clears marks and bits; old_root := root). */
void bt_sess_reset(bt_sess *s);
/* Prover: drops the working root and returns to old_root. */
void bt_sess_rollback(bt_sess *s);

/* Compares a key with the sentinels and the key length (spec section 5). */
int bt_key_check(const uint8_t *key, size_t len, unsigned klen);

/* Resolves a stub to its node (loading it); returns the node itself if it is
 * not a stub.  Used by readers outside a session as well. */
int bt_resolve(bt_node *x, const bt_node_source *src, bool verifier, unsigned klen, bool fixed,
               uint32_t vlen, bt_node **out, char *msg, size_t msgcap);
#endif
