/*
 * fuzz_records.c -- every decoder of src/codec/records.c (docs/FORMAT.md
 * section 4) on arbitrary bytes: node records, commit blocks with their
 * operation entries, and the metadata records (format, features, commit,
 * tree descriptor, head, root, checkpoint, orphan, u64, u32).
 *
 * Input layout: byte 0 = decoder (low 4 bits) | 0x80 "seal": replace the
 * last 4 bytes of the record with its correct CRC-32 first, so that the
 * fuzzer gets past the checksum and into the field parsing; byte 1 = the key
 * length the decoder is told (1 + b % 64); byte 2 = fixed value length
 * (0: variable, else b - 1); bytes 3.. = the record.
 *
 * Properties (abort() on violation, which libFuzzer and the replay driver
 * report):
 *   1. no read outside the input, no UB (ASan/UBSan);
 *   2. errors are only BT_ECORRUPT;
 *   3. whatever a decoder accepts, its encoder re-encodes to exactly the
 *      same bytes (the encodings are canonical: a second byte string that
 *      decodes to the same record would be a second on-disk truth);
 *   4. a block's operation entries are walked to the end within op_count
 *      and the bytes; each accepted entry re-encodes to the same bytes.
 *
 * Seeds: fuzz/corpus/fuzz_records/ (valid records made by
 * fuzz/gen_records_corpus.c's logic, replayed as fuzz-replay/fuzz_records).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basistrees.h"
#include "codec/records.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REC (1u << 20)

static void same(const bt_buf *b, const uint8_t *p, size_t n)
{
    if (b->len != n || (n && memcmp(b->data, p, n) != 0)) abort();
}

static void err_ok(int rc)
{
    if (rc != BT_ECORRUPT) abort();
}

static unsigned g_klen;
static unsigned klen_of(void *ctx, uint32_t tree_id)
{
    (void)ctx;
    return tree_id < 8 ? g_klen : 0; /* trees 0..7 exist; any other id is unknown */
}

static void node(const uint8_t *p, size_t n, unsigned klen, uint32_t fixed)
{
    bt_rec_node r;
    int rc = bt_rec_node_decode(&r, p, n, klen, fixed);
    if (rc) return err_ok(rc);
    bt_buf b = BT_BUF_INIT;
    if (r.kind == 1) {
        if (fixed != BT_VALUE_VARIABLE && r.vlen != fixed) abort();
        rc = bt_rec_node_leaf_encode(&b, r.key, r.next, klen, r.value, r.vlen);
    } else if (r.kind == 2) {
        if (r.balance < -1 || r.balance > 1 || !r.left_id || !r.right_id) abort();
        rc = bt_rec_node_internal_encode(&b, r.balance, r.key, klen, r.left_id, r.left_label,
                                         r.right_id, r.right_label);
    } else {
        abort();
    }
    if (rc) abort();
    same(&b, p, n);
    bt_buf_free(&b);
}

static void block(const uint8_t *p, size_t n, unsigned klen)
{
    bt_rec_block r;
    int rc = bt_rec_block_decode(&r, p, n);
    if (rc) return err_ok(rc);
    if (r.ops < p || r.ops_end != p + n - 4 || r.ops > r.ops_end) abort();
    g_klen = klen;
    bt_buf ops = BT_BUF_INIT;
    const uint8_t *cur = r.ops;
    uint32_t count = 0;
    int whole = 1;
    while (cur < r.ops_end) {
        bt_rec_op op;
        const uint8_t *before = cur;
        rc = bt_rec_block_next(&op, &cur, r.ops_end, klen_of, NULL);
        if (rc) {
            err_ok(rc);
            if (cur != before) abort(); /* a failed read must not move the cursor */
            whole = 0;
            break;
        }
        if (cur <= before || cur > r.ops_end) abort();
        if (op.key_len != klen || (op.value_len && !op.value) || (op.prev_len && !op.prev)) abort();
        size_t at = ops.len;
        if (bt_rec_op_append(&ops, op.type, op.tree_id, op.key, klen, op.value, op.value_len,
                             op.has_prev, op.prev, op.prev_len))
            abort();
        if (ops.len - at != (size_t)(cur - before) || memcmp(ops.data + at, before, ops.len - at))
            abort();
        if (++count > MAX_REC) abort();
    }
    if (whole) {
        bt_rec_commit_tree *t = r.ntrees ? malloc(r.ntrees * sizeof *t) : NULL;
        if (r.ntrees && !t) abort();
        for (unsigned i = 0; i < r.ntrees; i++) bt_rec_block_tree_at(&t[i], &r, i);
        bt_buf b = BT_BUF_INIT;
        if (bt_rec_block_encode(&b, r.commit_seq, r.first_op_seq, r.op_count, r.ts_ms, t, r.ntrees,
                                ops.data, ops.len))
            abort();
        same(&b, p, n);
        bt_buf_free(&b);
        free(t);
    }
    bt_buf_free(&ops);
}

/* Checkpoint, orphan and small-integer records (FORMAT.md 4.4c) exist from
 * the checkpoint work on; older trees build without them. */
#ifdef BT_CKPT_LABEL_MAX
static void ckpt(const uint8_t *p, size_t n)
{
    bt_rec_ckpt r;
    int rc = bt_rec_ckpt_decode(&r, p, n);
    if (rc) return err_ok(rc);
    if (r.label_len > BT_CKPT_LABEL_MAX || r.ntrees > BT_CKPT_TREES_MAX) abort();
    if (strlen(r.label) != r.label_len && memchr(r.label, 0, r.label_len) == NULL) abort();
    bt_rec_ckpt_tree *t = r.ntrees ? malloc(r.ntrees * sizeof *t) : NULL;
    if (r.ntrees && !t) abort();
    for (unsigned i = 0; i < r.ntrees; i++) bt_rec_ckpt_tree_at(&t[i], &r, i);
    bt_buf b = BT_BUF_INIT;
    if (bt_rec_ckpt_encode(&b, &r, t)) abort();
    same(&b, p, n);
    bt_buf_free(&b);
    free(t);
}
#endif

static void meta(unsigned which, const uint8_t *p, size_t n)
{
    bt_buf b = BT_BUF_INIT;
    int rc;
    switch (which) {
    case 2: {
        bt_rec_format r;
        if ((rc = bt_rec_format_decode(&r, p, n))) return err_ok(rc);
        rc = bt_rec_format_encode(&b, &r);
        break;
    }
    case 3: {
        uint32_t f;
        if ((rc = bt_rec_features_decode(&f, p, n))) return err_ok(rc);
        rc = bt_rec_features_encode(&b, f);
        break;
    }
    case 4: {
        bt_rec_commit_meta r;
        if ((rc = bt_rec_commit_meta_decode(&r, p, n))) return err_ok(rc);
        rc = bt_rec_commit_meta_encode(&b, &r);
        break;
    }
    case 5: {
        bt_rec_tree r;
        if ((rc = bt_rec_tree_decode(&r, p, n))) return err_ok(rc);
        if (bt_params_check(&r.params)) abort();
        rc = bt_rec_tree_encode(&b, &r);
        break;
    }
    case 6: {
        bt_rec_head r;
        if ((rc = bt_rec_head_decode(&r, p, n))) return err_ok(rc);
        rc = bt_rec_head_encode(&b, &r);
        break;
    }
    case 7: {
        bt_rec_root r;
        if ((rc = bt_rec_root_decode(&r, p, n))) return err_ok(rc);
        rc = bt_rec_root_encode(&b, &r);
        break;
    }
#ifdef BT_CKPT_LABEL_MAX
    case 9: {
        uint32_t id;
        uint8_t label[32];
        if ((rc = bt_rec_orphan_decode(&id, label, p, n))) return err_ok(rc);
        rc = bt_rec_orphan_encode(&b, id, label);
        break;
    }
    case 10: {
        uint64_t v;
        if ((rc = bt_rec_u64_decode(&v, p, n))) return err_ok(rc);
        rc = bt_rec_u64_encode(&b, v);
        break;
    }
    case 11: {
        uint32_t v;
        if ((rc = bt_rec_u32_decode(&v, p, n))) return err_ok(rc);
        rc = bt_rec_u32_encode(&b, v);
        break;
    }
#endif
    default:
        return;
    }
    if (rc) abort();
    same(&b, p, n);
    bt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size - 3 > MAX_REC) return 0;
    unsigned which = data[0] & 0x0f;
    unsigned klen = 1u + data[1] % 64u;
    uint32_t fixed = data[2] ? (uint32_t)data[2] - 1u : BT_VALUE_VARIABLE;
    size_t n = size - 3;
    /* an exactly-sized copy, so ASan sees reads past the end */
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return 0;
    if (n) memcpy(p, data + 3, n);
    if ((data[0] & 0x80) && n >= 5) {
        uint32_t c = bt_crc32(p, n - 4);
        p[n - 4] = (uint8_t)(c >> 24);
        p[n - 3] = (uint8_t)(c >> 16);
        p[n - 2] = (uint8_t)(c >> 8);
        p[n - 1] = (uint8_t)c;
    }
    if (which == 0) node(p, n, klen, fixed);
    else if (which == 1) block(p, n, klen);
#ifdef BT_CKPT_LABEL_MAX
    else if (which == 8) ckpt(p, n);
#endif
    else meta(which, p, n);
    free(p);
    return 0;
}
