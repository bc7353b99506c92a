/* Shared helpers for the unit tests (not part of the library). */
#ifndef BT_TESTUTIL_H
#define BT_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

/* Decodes lowercase/uppercase hex into a malloc'd buffer; returns NULL on bad
 * input.  *out_len receives the byte count. */
uint8_t *tu_unhex(const char *hex, size_t *out_len);
/* Encodes bytes as lowercase hex into a malloc'd NUL-terminated string. */
char *tu_hex(const uint8_t *buf, size_t len);
/* Deterministic PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);
/* Directory holding the reference vectors (env BT_VECTORS_DIR or ../shared/vectors). */
const char *tu_vectors_dir(void);
#endif

/* ---- A plain sorted-map model of a tree (appended for the model tests). --- */
#include "basistrees.h"

typedef struct tu_entry {
    uint8_t *key;
    uint8_t *val;
    size_t val_len;
} tu_entry;

typedef struct tu_model {
    tu_entry *e; /* sorted by key (memcmp over key_len) */
    size_t n, cap;
    size_t key_len;
    uint32_t value_len; /* fixed length or BT_VALUE_VARIABLE */
} tu_model;

void tu_model_init(tu_model *m, const bt_params *params);
void tu_model_free(tu_model *m);
/* Deep copy (dst is freed first; dst may be zero-initialised). */
void tu_model_copy(tu_model *dst, const tu_model *src);
/* Index of key in m, or -1. */
long tu_model_find(const tu_model *m, const uint8_t *key);
/* The status bt_tree_apply would report for op (same precedence as the
 * library: -inf, +inf, key length, then the op's own rule, then the value
 * length).  On success the op is applied to m and *found / *old / *old_len
 * describe the previous value (*old is malloc'd, caller frees; NULL if
 * absent). */
int tu_model_apply(tu_model *m, const bt_op *op, int *found, uint8_t **old, size_t *old_len);

/* A deterministic KL-byte key for index i that is never a sentinel
 * (for KL == 1: 1 + i % 254). */
void tu_make_key(uint8_t *out, size_t key_len, uint64_t i);

/* Replays ops with bt_verifier_* from start over proof; returns the first
 * error code (0 if all completed) and writes the resulting digest to out
 * (if it completed). */
int tu_verify(uint8_t out[BT_DIGEST_LEN], const bt_params *params,
              const uint8_t start[BT_DIGEST_LEN], const uint8_t *proof, size_t proof_len,
              const bt_op *ops, size_t n, const bt_verify_opts *opts);
