/*
 * records.h -- encoders and decoders of the database's own records
 * (docs/FORMAT.md section 4).  Every value: version byte first, CRC-32 last.
 * Decoders never trust their input: any length, version or CRC problem is
 * BT_ECORRUPT.  If you change a layout, also change docs/FORMAT.md and
 * tests/unit/test_records.c.
 */
#ifndef BT_CODEC_RECORDS_H
#define BT_CODEC_RECORDS_H
#include "basistrees.h"
#include "util/buf.h"
#include <stdbool.h>
#include <stdint.h>

#define BT_REC_VERSION 1
#define BT_FORMAT_VERSION 2 /* 2: op-log indexes, checkpoints (FORMAT.md 4.4b-c) */
#define BT_FORMAT_OLDEST 1  /* opened only by the migration (bt_db_upgrade) */
#define BT_TREE_NAME_MAX 64

/* CRC-32 (zlib) of a byte range. */
uint32_t bt_crc32(const void *p, size_t n);

/* Appends a CRC of b->data[start..len) to b. */
int bt_rec_seal(bt_buf *b, size_t start);
/* Checks the trailing CRC of a record; returns 0 or BT_ECORRUPT. */
int bt_rec_check(const uint8_t *p, size_t n);

typedef struct bt_rec_format {
    uint16_t format;
    uint64_t created_ms;
} bt_rec_format;

typedef struct bt_rec_commit_meta {
    uint64_t commit_seq, op_seq, next_node_id;
    uint32_t next_tree_id;
} bt_rec_commit_meta;

typedef struct bt_rec_tree {
    uint32_t id;
    bt_params params;
    uint64_t created_seq;
} bt_rec_tree;

typedef struct bt_rec_head {
    uint64_t commit_seq;
    uint8_t digest[BT_DIGEST_LEN];
    uint64_t count;
} bt_rec_head;

typedef struct bt_rec_root {
    uint64_t node_id;
    uint8_t label[32];
    uint8_t height;
    uint64_t count;
    uint64_t flushed_op_seq;
} bt_rec_root;

/* Features fixed when the database is created (FORMAT.md 4.1). */
#define BT_FEATURE_LABEL_INDEX 1u
#define BT_FEATURE_OPLOG_INDEX 2u /* T and K entries in `indexes` (4.4b) */
int bt_rec_features_encode(bt_buf *b, uint32_t features);
int bt_rec_features_decode(uint32_t *features, const uint8_t *p, size_t n);

int bt_rec_format_encode(bt_buf *b, const bt_rec_format *r);
int bt_rec_format_decode(bt_rec_format *r, const uint8_t *p, size_t n);
int bt_rec_commit_meta_encode(bt_buf *b, const bt_rec_commit_meta *r);
int bt_rec_commit_meta_decode(bt_rec_commit_meta *r, const uint8_t *p, size_t n);
int bt_rec_tree_encode(bt_buf *b, const bt_rec_tree *r);
int bt_rec_tree_decode(bt_rec_tree *r, const uint8_t *p, size_t n);
int bt_rec_head_encode(bt_buf *b, const bt_rec_head *r);
int bt_rec_head_decode(bt_rec_head *r, const uint8_t *p, size_t n);
int bt_rec_root_encode(bt_buf *b, const bt_rec_root *r);
int bt_rec_root_decode(bt_rec_root *r, const uint8_t *p, size_t n);

/* A decoded operation; pointers point into the block bytes. */
typedef struct bt_rec_op {
    bt_op_type type;
    uint32_t tree_id;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    bool has_prev;
    const uint8_t *prev;
    size_t prev_len;
} bt_rec_op;

typedef struct bt_rec_commit_tree {
    uint32_t tree_id;
    uint8_t digest[BT_DIGEST_LEN];
} bt_rec_commit_tree;

/* A commit block (docs/FORMAT.md 4.3): every operation of one commit. */
typedef struct bt_rec_block {
    uint64_t commit_seq, first_op_seq, ts_ms;
    uint32_t op_count;
    uint16_t ntrees;
    const uint8_t *trees; /* ntrees x (tree id u32 || digest) */
    const uint8_t *ops, *ops_end;
} bt_rec_block;

/* Appends one operation entry to an op buffer (the block body). */
int bt_rec_op_append(bt_buf *b, bt_op_type type, uint32_t tree_id, const uint8_t *key,
                     unsigned klen, const uint8_t *value, size_t value_len, bool has_prev,
                     const uint8_t *prev, size_t prev_len);
/* Encodes a whole block from its header, trees and the op entries. */
int bt_rec_block_encode(bt_buf *b, uint64_t commit_seq, uint64_t first_op_seq, uint32_t op_count,
                        uint64_t ts_ms, const bt_rec_commit_tree *trees, uint16_t ntrees,
                        const uint8_t *ops, size_t ops_len);
/* Checks and decodes a block's header; ops are read with bt_rec_block_next. */
int bt_rec_block_decode(bt_rec_block *r, const uint8_t *p, size_t n);
void bt_rec_block_tree_at(bt_rec_commit_tree *out, const bt_rec_block *r, unsigned i);
/* Reads the next op at *cursor (advanced); klen_of gives a tree's key
 * length (0: unknown tree).  Returns 0 or BT_ECORRUPT. */
int bt_rec_block_next(bt_rec_op *op, const uint8_t **cursor, const uint8_t *end,
                      unsigned (*klen_of)(void *ctx, uint32_t tree_id), void *ctx);

/* Node records.  Children: id and label of each. */
int bt_rec_node_internal_encode(bt_buf *b, int8_t balance, const uint8_t *key, unsigned klen,
                                uint64_t left_id, const uint8_t left_label[32], uint64_t right_id,
                                const uint8_t right_label[32]);
int bt_rec_node_leaf_encode(bt_buf *b, const uint8_t *key, const uint8_t *next, unsigned klen,
                            const uint8_t *value, uint32_t vlen);

typedef struct bt_rec_node {
    int kind; /* 1 leaf, 2 internal */
    int8_t balance;
    const uint8_t *key, *next, *value;
    uint32_t vlen;
    uint64_t left_id, right_id;
    const uint8_t *left_label, *right_label;
} bt_rec_node;

/* fixed_vlen: BT_VALUE_VARIABLE or the fixed length the value must have. */
int bt_rec_node_decode(bt_rec_node *r, const uint8_t *p, size_t n, unsigned klen,
                       uint32_t fixed_vlen);

/* Checkpoints (FORMAT.md 4.4c). */
#define BT_CKPT_LABEL_MAX 128
#define BT_CKPT_TREES_MAX 4096
typedef struct bt_rec_ckpt_tree {
    uint32_t tree_id;
    uint64_t root_id;
    uint8_t digest[BT_DIGEST_LEN];
    uint64_t count;
} bt_rec_ckpt_tree;

typedef struct bt_rec_ckpt {
    uint64_t id, ts_ms, commit_seq, op_seq, frontier;
    uint8_t label_len;
    char label[BT_CKPT_LABEL_MAX + 1]; /* NUL-terminated copy */
    uint16_t ntrees;
    const uint8_t *trees; /* decode: ntrees x 53 bytes, read with _tree_at */
} bt_rec_ckpt;

int bt_rec_ckpt_encode(bt_buf *b, const bt_rec_ckpt *r, const bt_rec_ckpt_tree *trees);
int bt_rec_ckpt_decode(bt_rec_ckpt *r, const uint8_t *p, size_t n);
void bt_rec_ckpt_tree_at(bt_rec_ckpt_tree *out, const bt_rec_ckpt *r, unsigned i);

int bt_rec_orphan_encode(bt_buf *b, uint32_t tree_id, const uint8_t label[32]);
int bt_rec_orphan_decode(uint32_t *tree_id, uint8_t label[32], const uint8_t *p, size_t n);

/* Small metadata records holding one integer: `ckpt` (u64), `epoch` (u32). */
int bt_rec_u64_encode(bt_buf *b, uint64_t v);
int bt_rec_u64_decode(uint64_t *v, const uint8_t *p, size_t n);
int bt_rec_u32_encode(bt_buf *b, uint32_t v);
int bt_rec_u32_decode(uint32_t *v, const uint8_t *p, size_t n);

/* Keys. */
size_t bt_key_u64(uint8_t out[9], char prefix, uint64_t v); /* prefix 0: no prefix */
#endif
