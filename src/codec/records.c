/*
 * records.c -- the database's record encodings (docs/FORMAT.md section 4;
 * layouts repeated in records.h).  Writers append to a bt_buf; readers use a
 * cursor that fails closed on every short read.
 */
#include "codec/records.h"
#include "codec/endian.h"
#include <string.h>
#include <zlib.h>

uint32_t bt_crc32(const void *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const uint8_t *b = p;
    while (n > 0) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

int bt_rec_seal(bt_buf *b, size_t start)
{
    uint8_t c[4];
    bt_store_u32be(c, bt_crc32(b->data + start, b->len - start));
    return bt_buf_append(b, c, 4);
}

int bt_rec_check(const uint8_t *p, size_t n)
{
    if (n < 5 || p[0] != BT_REC_VERSION) return BT_ECORRUPT;
    return bt_load_u32be(p + n - 4) == bt_crc32(p, n - 4) ? 0 : BT_ECORRUPT;
}

/* ---- writer helpers ----------------------------------------------------------- */

typedef struct w {
    bt_buf *b;
    size_t start;
    int rc;
} w;

static void w_begin(w *x, bt_buf *b)
{
    x->b = b;
    x->start = b->len;
    x->rc = bt_buf_put(b, BT_REC_VERSION);
}

static void w_bytes(w *x, const void *p, size_t n)
{
    if (!x->rc && n) x->rc = bt_buf_append(x->b, p, n);
}

static void w_u8(w *x, uint8_t v) { w_bytes(x, &v, 1); }

static void w_u16(w *x, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    w_bytes(x, t, 2);
}

static void w_u32(w *x, uint32_t v)
{
    uint8_t t[4];
    bt_store_u32be(t, v);
    w_bytes(x, t, 4);
}

static void w_u64(w *x, uint64_t v)
{
    uint8_t t[8];
    bt_store_u64be(t, v);
    w_bytes(x, t, 8);
}

static void w_varint(w *x, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    w_bytes(x, t, n);
}

static int w_end(w *x)
{
    if (x->rc) {
        x->b->len = x->start;
        return x->rc;
    }
    return bt_rec_seal(x->b, x->start);
}

/* ---- reader helpers ------------------------------------------------------------ */

typedef struct r {
    const uint8_t *p;
    size_t n, i;
    int bad;
} r;

/* Checks version and CRC, and sets up a cursor over the payload. */
static int r_begin(r *x, const uint8_t *p, size_t n)
{
    if (bt_rec_check(p, n)) return BT_ECORRUPT;
    x->p = p;
    x->n = n - 4;
    x->i = 1;
    x->bad = 0;
    return 0;
}

static const uint8_t *r_bytes(r *x, size_t k)
{
    if (x->bad || x->n - x->i < k) {
        x->bad = 1;
        return NULL;
    }
    const uint8_t *q = x->p + x->i;
    x->i += k;
    return q;
}

static uint8_t r_u8(r *x)
{
    const uint8_t *q = r_bytes(x, 1);
    return q ? q[0] : 0;
}

static uint16_t r_u16(r *x)
{
    const uint8_t *q = r_bytes(x, 2);
    return q ? (uint16_t)(q[0] << 8 | q[1]) : 0;
}

static uint32_t r_u32(r *x)
{
    const uint8_t *q = r_bytes(x, 4);
    return q ? bt_load_u32be(q) : 0;
}

static uint64_t r_u64(r *x)
{
    const uint8_t *q = r_bytes(x, 8);
    return q ? bt_load_u64be(q) : 0;
}

static uint64_t r_varint(r *x, int maxbytes)
{
    uint64_t v = 0;
    for (int k = 0; k < maxbytes; k++) {
        const uint8_t *q = r_bytes(x, 1);
        if (!q) return 0;
        v |= (uint64_t)(q[0] & 0x7F) << (7 * k);
        if (!(q[0] & 0x80)) {
            if (k > 0 && q[0] == 0) x->bad = 1; /* not the shortest form */
            return v;
        }
    }
    x->bad = 1;
    return 0;
}

static int r_end(r *x) { return (x->bad || x->i != x->n) ? BT_ECORRUPT : 0; }

/* ---- records --------------------------------------------------------------------- */

int bt_rec_format_encode(bt_buf *b, const bt_rec_format *v)
{
    w x;
    w_begin(&x, b);
    w_bytes(&x, "BTDB", 4);
    w_u16(&x, v->format);
    w_u64(&x, v->created_ms);
    return w_end(&x);
}

int bt_rec_format_decode(bt_rec_format *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    const uint8_t *m = r_bytes(&x, 4);
    if (!m || memcmp(m, "BTDB", 4) != 0) return BT_ECORRUPT;
    v->format = r_u16(&x);
    v->created_ms = r_u64(&x);
    return r_end(&x);
}

int bt_rec_features_encode(bt_buf *b, uint32_t features)
{
    w x;
    w_begin(&x, b);
    w_u32(&x, features);
    return w_end(&x);
}

int bt_rec_features_decode(uint32_t *features, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    *features = r_u32(&x);
    return r_end(&x);
}

int bt_rec_commit_meta_encode(bt_buf *b, const bt_rec_commit_meta *v)
{
    w x;
    w_begin(&x, b);
    w_u64(&x, v->commit_seq);
    w_u64(&x, v->op_seq);
    w_u64(&x, v->next_node_id);
    w_u32(&x, v->next_tree_id);
    return w_end(&x);
}

int bt_rec_commit_meta_decode(bt_rec_commit_meta *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    v->commit_seq = r_u64(&x);
    v->op_seq = r_u64(&x);
    v->next_node_id = r_u64(&x);
    v->next_tree_id = r_u32(&x);
    return r_end(&x);
}

int bt_rec_tree_encode(bt_buf *b, const bt_rec_tree *v)
{
    w x;
    w_begin(&x, b);
    w_u32(&x, v->id);
    w_u8(&x, (uint8_t)v->params.key_len);
    w_u32(&x, v->params.value_len);
    w_u32(&x, v->params.value_max);
    w_u64(&x, v->created_seq);
    return w_end(&x);
}

int bt_rec_tree_decode(bt_rec_tree *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    v->id = r_u32(&x);
    v->params.version = BT_PARAMS_VERSION;
    v->params.key_len = r_u8(&x);
    v->params.value_len = r_u32(&x);
    v->params.value_max = r_u32(&x);
    v->created_seq = r_u64(&x);
    if (r_end(&x) || bt_params_check(&v->params)) return BT_ECORRUPT;
    return 0;
}

int bt_rec_head_encode(bt_buf *b, const bt_rec_head *v)
{
    w x;
    w_begin(&x, b);
    w_u64(&x, v->commit_seq);
    w_bytes(&x, v->digest, BT_DIGEST_LEN);
    w_u64(&x, v->count);
    return w_end(&x);
}

int bt_rec_head_decode(bt_rec_head *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    v->commit_seq = r_u64(&x);
    const uint8_t *d = r_bytes(&x, BT_DIGEST_LEN);
    if (d) memcpy(v->digest, d, BT_DIGEST_LEN);
    v->count = r_u64(&x);
    return r_end(&x);
}

int bt_rec_root_encode(bt_buf *b, const bt_rec_root *v)
{
    w x;
    w_begin(&x, b);
    w_u64(&x, v->node_id);
    w_bytes(&x, v->label, 32);
    w_u8(&x, v->height);
    w_u64(&x, v->count);
    w_u64(&x, v->flushed_op_seq);
    return w_end(&x);
}

int bt_rec_root_decode(bt_rec_root *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    v->node_id = r_u64(&x);
    const uint8_t *l = r_bytes(&x, 32);
    if (l) memcpy(v->label, l, 32);
    v->height = r_u8(&x);
    v->count = r_u64(&x);
    v->flushed_op_seq = r_u64(&x);
    return r_end(&x);
}

static bool op_has_value(bt_op_type t)
{
    return t == BT_OP_INSERT || t == BT_OP_UPDATE || t == BT_OP_INSERT_OR_UPDATE;
}

/* Op entries have no version or CRC of their own: the block has both. */
int bt_rec_op_append(bt_buf *b, bt_op_type type, uint32_t tree_id, const uint8_t *key,
                     unsigned klen, const uint8_t *value, size_t value_len, bool has_prev,
                     const uint8_t *prev, size_t prev_len)
{
    w x = {b, b->len, 0};
    w_u8(&x, (uint8_t)type);
    w_u32(&x, tree_id);
    w_bytes(&x, key, klen);
    if (op_has_value(type)) {
        w_varint(&x, value_len);
        w_bytes(&x, value, value_len);
    }
    w_u8(&x, has_prev ? 1 : 0);
    if (has_prev) {
        w_varint(&x, prev_len);
        w_bytes(&x, prev, prev_len);
    }
    if (x.rc) b->len = x.start;
    return x.rc;
}

int bt_rec_block_encode(bt_buf *b, uint64_t commit_seq, uint64_t first_op_seq, uint32_t op_count,
                        uint64_t ts_ms, const bt_rec_commit_tree *trees, uint16_t ntrees,
                        const uint8_t *ops, size_t ops_len)
{
    w x;
    w_begin(&x, b);
    w_u64(&x, commit_seq);
    w_u64(&x, first_op_seq);
    w_u32(&x, op_count);
    w_u64(&x, ts_ms);
    w_u16(&x, ntrees);
    for (unsigned i = 0; i < ntrees; i++) {
        w_u32(&x, trees[i].tree_id);
        w_bytes(&x, trees[i].digest, BT_DIGEST_LEN);
    }
    w_bytes(&x, ops, ops_len);
    return w_end(&x);
}

int bt_rec_block_decode(bt_rec_block *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    v->commit_seq = r_u64(&x);
    v->first_op_seq = r_u64(&x);
    v->op_count = r_u32(&x);
    v->ts_ms = r_u64(&x);
    v->ntrees = r_u16(&x);
    v->trees = r_bytes(&x, (size_t)v->ntrees * (4 + BT_DIGEST_LEN));
    if (x.bad) return BT_ECORRUPT;
    v->ops = x.p + x.i;
    v->ops_end = x.p + x.n;
    return 0;
}

void bt_rec_block_tree_at(bt_rec_commit_tree *out, const bt_rec_block *v, unsigned i)
{
    const uint8_t *q = v->trees + (size_t)i * (4 + BT_DIGEST_LEN);
    out->tree_id = bt_load_u32be(q);
    memcpy(out->digest, q + 4, BT_DIGEST_LEN);
}

int bt_rec_block_next(bt_rec_op *op, const uint8_t **cursor, const uint8_t *end,
                      unsigned (*klen_of)(void *ctx, uint32_t tree_id), void *ctx)
{
    r x = {*cursor, (size_t)(end - *cursor), 0, 0};
    uint8_t t = r_u8(&x);
    if (x.bad || t > BT_OP_REMOVE_IF_EXISTS || t == BT_OP_LOOKUP) return BT_ECORRUPT;
    op->type = (bt_op_type)t;
    op->tree_id = r_u32(&x);
    unsigned klen = x.bad ? 0 : klen_of(ctx, op->tree_id);
    if (!klen) return BT_ECORRUPT;
    op->key = r_bytes(&x, klen);
    op->key_len = klen;
    op->value = NULL;
    op->value_len = 0;
    if (op_has_value(op->type)) {
        op->value_len = (size_t)r_varint(&x, 5);
        op->value = r_bytes(&x, op->value_len);
    }
    uint8_t hp = r_u8(&x);
    if (hp > 1) return BT_ECORRUPT;
    op->has_prev = hp;
    op->prev = NULL;
    op->prev_len = 0;
    if (hp) {
        op->prev_len = (size_t)r_varint(&x, 5);
        op->prev = r_bytes(&x, op->prev_len);
    }
    if (x.bad) return BT_ECORRUPT;
    *cursor += x.i;
    return 0;
}

int bt_rec_node_internal_encode(bt_buf *b, int8_t balance, const uint8_t *key, unsigned klen,
                                uint64_t left_id, const uint8_t left_label[32], uint64_t right_id,
                                const uint8_t right_label[32])
{
    w x;
    w_begin(&x, b);
    w_u8(&x, 2);
    w_u8(&x, (uint8_t)balance);
    w_bytes(&x, key, klen);
    w_u64(&x, left_id);
    w_bytes(&x, left_label, 32);
    w_u64(&x, right_id);
    w_bytes(&x, right_label, 32);
    return w_end(&x);
}

int bt_rec_node_leaf_encode(bt_buf *b, const uint8_t *key, const uint8_t *next, unsigned klen,
                            const uint8_t *value, uint32_t vlen)
{
    w x;
    w_begin(&x, b);
    w_u8(&x, 1);
    w_bytes(&x, key, klen);
    w_bytes(&x, next, klen);
    w_varint(&x, vlen);
    w_bytes(&x, value, vlen);
    return w_end(&x);
}

int bt_rec_node_decode(bt_rec_node *v, const uint8_t *p, size_t n, unsigned klen,
                       uint32_t fixed_vlen)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    v->kind = r_u8(&x);
    if (v->kind == 2) {
        v->balance = (int8_t)r_u8(&x);
        v->key = r_bytes(&x, klen);
        v->left_id = r_u64(&x);
        v->left_label = r_bytes(&x, 32);
        v->right_id = r_u64(&x);
        v->right_label = r_bytes(&x, 32);
        if (v->balance < -1 || v->balance > 1 || !v->left_id || !v->right_id) return BT_ECORRUPT;
    } else if (v->kind == 1) {
        v->key = r_bytes(&x, klen);
        v->next = r_bytes(&x, klen);
        uint64_t vl = r_varint(&x, 5);
        if (vl > BT_VALUE_LEN_LIMIT) return BT_ECORRUPT;
        if (fixed_vlen != BT_VALUE_VARIABLE && vl != fixed_vlen) return BT_ECORRUPT;
        v->vlen = (uint32_t)vl;
        v->value = r_bytes(&x, v->vlen);
    } else {
        return BT_ECORRUPT;
    }
    return r_end(&x);
}

/* ---- checkpoints --------------------------------------------------------------- */

#define CKPT_TREE_LEN (4 + 8 + BT_DIGEST_LEN + 8)

int bt_rec_ckpt_encode(bt_buf *b, const bt_rec_ckpt *v, const bt_rec_ckpt_tree *trees)
{
    if (v->label_len > BT_CKPT_LABEL_MAX || v->ntrees > BT_CKPT_TREES_MAX) return BT_EINVAL;
    w x;
    w_begin(&x, b);
    w_u64(&x, v->id);
    w_u64(&x, v->ts_ms);
    w_u64(&x, v->commit_seq);
    w_u64(&x, v->op_seq);
    w_u64(&x, v->frontier);
    w_u8(&x, v->label_len);
    w_bytes(&x, v->label, v->label_len);
    w_u16(&x, v->ntrees);
    for (unsigned i = 0; i < v->ntrees; i++) {
        w_u32(&x, trees[i].tree_id);
        w_u64(&x, trees[i].root_id);
        w_bytes(&x, trees[i].digest, BT_DIGEST_LEN);
        w_u64(&x, trees[i].count);
    }
    return w_end(&x);
}

int bt_rec_ckpt_decode(bt_rec_ckpt *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    v->id = r_u64(&x);
    v->ts_ms = r_u64(&x);
    v->commit_seq = r_u64(&x);
    v->op_seq = r_u64(&x);
    v->frontier = r_u64(&x);
    v->label_len = r_u8(&x);
    if (v->label_len > BT_CKPT_LABEL_MAX) return BT_ECORRUPT;
    const uint8_t *l = r_bytes(&x, v->label_len);
    if (l) memcpy(v->label, l, v->label_len);
    v->label[l ? v->label_len : 0] = 0;
    v->ntrees = r_u16(&x);
    if (v->ntrees > BT_CKPT_TREES_MAX) return BT_ECORRUPT;
    v->trees = r_bytes(&x, (size_t)v->ntrees * CKPT_TREE_LEN);
    if (x.bad) return BT_ECORRUPT;
    if (memchr(v->label, 0, v->label_len)) return BT_ECORRUPT;
    return r_end(&x);
}

void bt_rec_ckpt_tree_at(bt_rec_ckpt_tree *out, const bt_rec_ckpt *v, unsigned i)
{
    const uint8_t *q = v->trees + (size_t)i * CKPT_TREE_LEN;
    out->tree_id = bt_load_u32be(q);
    out->root_id = bt_load_u64be(q + 4);
    memcpy(out->digest, q + 12, BT_DIGEST_LEN);
    out->count = bt_load_u64be(q + 12 + BT_DIGEST_LEN);
}

int bt_rec_orphan_encode(bt_buf *b, uint32_t tree_id, const uint8_t label[32])
{
    w x;
    w_begin(&x, b);
    w_u32(&x, tree_id);
    w_bytes(&x, label, 32);
    return w_end(&x);
}

int bt_rec_orphan_decode(uint32_t *tree_id, uint8_t label[32], const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    *tree_id = r_u32(&x);
    const uint8_t *l = r_bytes(&x, 32);
    if (l) memcpy(label, l, 32);
    return r_end(&x);
}

int bt_rec_u64_encode(bt_buf *b, uint64_t v)
{
    w x;
    w_begin(&x, b);
    w_u64(&x, v);
    return w_end(&x);
}

int bt_rec_u64_decode(uint64_t *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    *v = r_u64(&x);
    return r_end(&x);
}

int bt_rec_u32_encode(bt_buf *b, uint32_t v)
{
    w x;
    w_begin(&x, b);
    w_u32(&x, v);
    return w_end(&x);
}

int bt_rec_u32_decode(uint32_t *v, const uint8_t *p, size_t n)
{
    r x;
    if (r_begin(&x, p, n)) return BT_ECORRUPT;
    *v = r_u32(&x);
    return r_end(&x);
}

size_t bt_key_u64(uint8_t out[9], char prefix, uint64_t v)
{
    size_t n = 0;
    if (prefix) out[n++] = (uint8_t)prefix;
    bt_store_u64be(out + n, v);
    return n + 8;
}
