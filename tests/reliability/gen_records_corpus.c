/*
 * gen_records_corpus.c -- writes the seed corpus of fuzz/fuzz_records.c:
 * one valid record of every kind (encoded by src/codec/records.c), each
 * prefixed with the target's 3-byte header (decoder, key length, fixed value
 * length).  Usage: gen_records_corpus OUTDIR   (fuzz/corpus/fuzz_records)
 */
#include "basistrees.h"
#include "codec/records.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_dir;

static void put(const char *name, unsigned which, unsigned klen, unsigned fixed, const bt_buf *b)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(2); }
    uint8_t h[3] = {(uint8_t)which, (uint8_t)(klen - 1), (uint8_t)fixed};
    if (fwrite(h, 1, 3, f) != 3 || fwrite(b->data, 1, b->len, f) != b->len || fclose(f)) {
        perror(p);
        exit(2);
    }
}

#define EMIT(name, which, klen, fixed, call)                                             \
    do {                                                                                 \
        bt_buf b_ = BT_BUF_INIT;                                                         \
        bt_buf *b = &b_;                                                                 \
        if (call) { fprintf(stderr, "encode %s failed\n", name); exit(2); }              \
        put(name, which, klen, fixed, b);                                                \
        bt_buf_free(b);                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: gen_records_corpus OUTDIR\n"); return 2; }
    g_dir = argv[1];
    uint8_t k[64], n[64], v[300], l1[32], l2[32];
    for (unsigned i = 0; i < sizeof k; i++) { k[i] = (uint8_t)(i * 7 + 1); n[i] = (uint8_t)(i * 7 + 2); }
    for (unsigned i = 0; i < sizeof v; i++) v[i] = (uint8_t)(i * 13);
    memset(l1, 0xA5, 32);
    memset(l2, 0x5A, 32);
    EMIT("node_leaf_k32_var", 0, 32, 0, bt_rec_node_leaf_encode(b, k, n, 32, v, 40));
    EMIT("node_leaf_k32_fixed16", 0, 32, 17, bt_rec_node_leaf_encode(b, k, n, 32, v, 16));
    EMIT("node_leaf_k8_v200", 0, 8, 0, bt_rec_node_leaf_encode(b, k, n, 8, v, 200));
    EMIT("node_leaf_empty_value", 0, 32, 0, bt_rec_node_leaf_encode(b, k, n, 32, v, 0));
    EMIT("node_internal_k32", 0, 32, 0, bt_rec_node_internal_encode(b, -1, k, 32, 7, l1, 9, l2));
    EMIT("node_internal_k1", 0, 1, 0, bt_rec_node_internal_encode(b, 1, k, 1, 1ull << 40, l1, 3, l2));

    /* a commit block with every operation kind over two trees */
    bt_buf ops = BT_BUF_INIT;
    bt_rec_op_append(&ops, BT_OP_INSERT, 0, k, 32, v, 5, false, NULL, 0);
    bt_rec_op_append(&ops, BT_OP_UPDATE, 1, n, 32, v, 16, true, v + 1, 16);
    bt_rec_op_append(&ops, BT_OP_INSERT_OR_UPDATE, 0, k, 32, v, 130, true, v, 3);
    bt_rec_op_append(&ops, BT_OP_REMOVE, 1, n, 32, NULL, 0, true, v, 16);
    bt_rec_op_append(&ops, BT_OP_REMOVE_IF_EXISTS, 0, k, 32, NULL, 0, false, NULL, 0);
    bt_rec_commit_tree trees[2] = {{0, {0}}, {1, {0}}};
    memset(trees[0].digest, 0x11, BT_DIGEST_LEN);
    memset(trees[1].digest, 0x22, BT_DIGEST_LEN);
    EMIT("block_5ops_2trees", 1, 32, 0,
         bt_rec_block_encode(b, 42, 1000, 5, 1700000000000ull, trees, 2, ops.data, ops.len));
    EMIT("block_empty", 1, 32, 0, bt_rec_block_encode(b, 1, 1, 0, 0, NULL, 0, NULL, 0));
    bt_buf_free(&ops);

    bt_rec_format f = {BT_FORMAT_VERSION, 1700000000000ull};
    EMIT("format", 2, 1, 0, bt_rec_format_encode(b, &f));
    EMIT("features", 3, 1, 0, bt_rec_features_encode(b, 3u));
    bt_rec_commit_meta m = {77, 12345, 999, 3};
    EMIT("commit_meta", 4, 1, 0, bt_rec_commit_meta_encode(b, &m));
    bt_rec_tree t = {2, BT_PARAMS_INIT, 5};
    t.params.key_len = 32;
    t.params.value_len = BT_VALUE_VARIABLE;
    EMIT("tree_var", 5, 1, 0, bt_rec_tree_encode(b, &t));
    t.params.value_len = 16;
    EMIT("tree_fixed16", 5, 1, 0, bt_rec_tree_encode(b, &t));
    bt_rec_head h = {77, {0}, 3000};
    memset(h.digest, 0x33, BT_DIGEST_LEN);
    EMIT("head", 6, 1, 0, bt_rec_head_encode(b, &h));
    bt_rec_root r = {123, {0}, 12, 3000, 4000};
    memset(r.label, 0x44, 32);
    EMIT("root", 7, 1, 0, bt_rec_root_encode(b, &r));
#ifdef BT_CKPT_LABEL_MAX
    bt_rec_ckpt c;
    memset(&c, 0, sizeof c);
    c.id = 4;
    c.ts_ms = 1700000000000ull;
    c.commit_seq = 70;
    c.op_seq = 9000;
    c.frontier = 88;
    c.label_len = 5;
    memcpy(c.label, "daily", 6);
    c.ntrees = 2;
    bt_rec_ckpt_tree ct[2] = {{0, 17, {0}, 100}, {1, 18, {0}, 200}};
    memset(ct[0].digest, 0x55, BT_DIGEST_LEN);
    EMIT("ckpt_2trees", 8, 1, 0, bt_rec_ckpt_encode(b, &c, ct));
    c.label_len = 0;
    c.label[0] = 0;
    c.ntrees = 0;
    EMIT("ckpt_empty", 8, 1, 0, bt_rec_ckpt_encode(b, &c, ct));
    EMIT("orphan", 9, 1, 0, bt_rec_orphan_encode(b, 3, l1));
    EMIT("u64", 10, 1, 0, bt_rec_u64_encode(b, 0x0102030405060708ull));
    EMIT("u32", 11, 1, 0, bt_rec_u32_encode(b, 0xdeadbeefu));
#endif
    return 0;
}
