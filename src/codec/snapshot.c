/*
 * snapshot.c -- the snapshot file format (docs/FORMAT.md section 5):
 * header, zstd chunks with CRC-32s, trailer.  Bytes only; see snapshot.h.
 *
 *   header  85 bytes, fixed (magic, version, parameters, height, count,
 *           node count, chunk limit, checkpoint id, digest, CRC)
 *   chunk   'C' || raw_len u32 || comp_len u32 || crc u32 || zstd frame, where
 *           crc = crc32(raw_len || comp_len || frame): the stored bytes
 *   trailer 'E' || chunks u32 || tokens u64 || raw bytes u64 ||
 *           crc32(all raw bytes) u32 || crc32(trailer bytes 0..24) u32
 *
 * The raw body is the token stream; a token may span two chunks.
 */
#include "codec/snapshot.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

uint32_t bt_snap_chunk_bytes = BT_SNAP_CHUNK_DEFAULT;

static const uint8_t magic[8] = {'B', 'T', 'S', 'N', 'A', 'P', 'S', 'H'};

#define CHUNK_HDR 13
#define TRAILER_LEN 29

static uint32_t crc_up(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n) { /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

static uint32_t value_limit(const bt_params *p)
{
    if (p->value_len != BT_VALUE_VARIABLE) return p->value_len;
    return p->value_max ? p->value_max : BT_VALUE_MAX_DEFAULT;
}

/* The checks both directions share; returns NULL or what is wrong. */
static const char *header_problem(const bt_snap_header *h)
{
    if (bt_params_check(&h->params)) return "invalid tree parameters";
    if (h->height > BT_SNAP_HEIGHT_MAX || h->digest[32] != h->height)
        return "height differs from the digest's height byte";
    if (h->count > BT_SNAP_COUNT_MAX) return "key count above the limit";
    if (h->nodes != 2 * h->count + 1) return "node count is not 2 x keys + 1";
    if (h->chunk_max < BT_SNAP_CHUNK_MIN || h->chunk_max > BT_SNAP_CHUNK_MAX)
        return "chunk size limit out of range";
    /* an AVL tree of height h has at most 2^h leaves, and needs height
     * >= log2(leaves) */
    if (h->height < 64 && (h->count + 1) > (1ull << h->height)) return "too many keys for the height";
    if (h->count == 0 && h->height != 0) return "empty tree with a height";
    return NULL;
}

int bt_snap_header_encode(uint8_t out[BT_SNAP_HEADER_LEN], const bt_snap_header *h)
{
    if (header_problem(h)) return BT_EINVAL;
    memset(out, 0, BT_SNAP_HEADER_LEN);
    memcpy(out, magic, 8);
    out[8] = BT_SNAP_VERSION;
    out[9] = (uint8_t)h->params.key_len;
    out[10] = (uint8_t)h->height;
    out[11] = 0;
    bt_store_u32be(out + 12, h->params.value_len);
    bt_store_u32be(out + 16, h->params.value_len == BT_VALUE_VARIABLE ? h->params.value_max : 0);
    bt_store_u32be(out + 20, h->chunk_max);
    bt_store_u64be(out + 24, h->count);
    bt_store_u64be(out + 32, h->nodes);
    bt_store_u64be(out + 40, h->checkpoint_id);
    memcpy(out + 48, h->digest, BT_DIGEST_LEN);
    bt_store_u32be(out + 81, crc_up(0, out, 81));
    return 0;
}

static int fail(char *msg, size_t cap, const char *fmt, ...)
{
    if (msg && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return BT_ECORRUPT;
}

int bt_snap_header_decode(bt_snap_header *h, const uint8_t *p, size_t n, char *msg, size_t cap)
{
    memset(h, 0, sizeof *h);
    if (n < BT_SNAP_HEADER_LEN) return fail(msg, cap, "snapshot: truncated header (%zu bytes)", n);
    if (memcmp(p, magic, 8) != 0) return fail(msg, cap, "snapshot: not a snapshot file (bad magic)");
    if (bt_load_u32be(p + 81) != crc_up(0, p, 81))
        return fail(msg, cap, "snapshot: header checksum mismatch");
    if (p[8] != BT_SNAP_VERSION)
        return fail(msg, cap, "snapshot: format version %u is not supported (this library reads %u)",
                    p[8], BT_SNAP_VERSION);
    if (p[11] != 0) return fail(msg, cap, "snapshot: unknown header flags 0x%02x", p[11]);
    h->params.version = BT_PARAMS_VERSION;
    h->params.key_len = p[9];
    h->height = p[10];
    h->params.value_len = bt_load_u32be(p + 12);
    h->params.value_max = bt_load_u32be(p + 16);
    if (h->params.value_len != BT_VALUE_VARIABLE && h->params.value_max != 0)
        return fail(msg, cap, "snapshot: header: value_max set for fixed-length values");
    h->chunk_max = bt_load_u32be(p + 20);
    h->count = bt_load_u64be(p + 24);
    h->nodes = bt_load_u64be(p + 32);
    h->checkpoint_id = bt_load_u64be(p + 40);
    memcpy(h->digest, p + 48, BT_DIGEST_LEN);
    const char *why = header_problem(h);
    if (why) return fail(msg, cap, "snapshot: header: %s", why);
    return 0;
}

/* ---- writer ----------------------------------------------------------------- */

struct bt_snap_writer {
    bt_snap_header h;
    bt_snap_sink sink;
    void *ctx;
    ZSTD_CCtx *cctx;
    int level;
    uint8_t *raw, *comp;
    size_t rawlen, compcap;
    uint32_t chunks;
    uint64_t tokens, raw_total, bytes;
    uint32_t body_crc;
    int err; /* sticky */
};

static int emit(bt_snap_writer *w, const void *p, size_t n)
{
    int rc = w->sink(w->ctx, p, n);
    if (rc) return w->err = rc;
    w->bytes += n;
    return 0;
}

static int flush_chunk(bt_snap_writer *w)
{
    if (!w->rawlen) return 0;
    size_t c = ZSTD_compressCCtx(w->cctx, w->comp + CHUNK_HDR, w->compcap - CHUNK_HDR, w->raw,
                                 w->rawlen, w->level);
    if (ZSTD_isError(c)) return w->err = BT_ENOMEM; /* only allocation can fail here */
    w->comp[0] = 'C';
    bt_store_u32be(w->comp + 1, (uint32_t)w->rawlen);
    bt_store_u32be(w->comp + 5, (uint32_t)c);
    uint32_t crc = crc_up(crc_up(0, w->comp + 1, 8), w->comp + CHUNK_HDR, c);
    bt_store_u32be(w->comp + 9, crc);
    w->body_crc = crc_up(w->body_crc, w->raw, w->rawlen);
    w->raw_total += w->rawlen;
    w->chunks++;
    w->rawlen = 0;
    return emit(w, w->comp, CHUNK_HDR + c);
}

static int put(bt_snap_writer *w, const uint8_t *p, size_t n)
{
    while (n) {
        size_t room = w->h.chunk_max - w->rawlen;
        size_t k = n < room ? n : room;
        memcpy(w->raw + w->rawlen, p, k);
        w->rawlen += k;
        p += k;
        n -= k;
        if (w->rawlen == w->h.chunk_max) {
            int rc = flush_chunk(w);
            if (rc) return rc;
        }
    }
    return 0;
}

int bt_snap_writer_new(bt_snap_writer **out, const bt_snap_header *h, int level, bt_snap_sink sink,
                       void *ctx)
{
    *out = NULL;
    uint8_t hdr[BT_SNAP_HEADER_LEN];
    if (level < 1 || level > 19 || bt_snap_header_encode(hdr, h)) return BT_EINVAL;
    bt_snap_writer *w = bt_calloc(1, sizeof *w);
    if (!w) return BT_ENOMEM;
    w->h = *h;
    w->sink = sink;
    w->ctx = ctx;
    w->level = level;
    w->compcap = CHUNK_HDR + ZSTD_compressBound(h->chunk_max);
    w->raw = bt_malloc(h->chunk_max);
    w->comp = bt_malloc(w->compcap);
    w->cctx = ZSTD_createCCtx();
    if (!w->raw || !w->comp || !w->cctx) {
        bt_snap_writer_free(w);
        return BT_ENOMEM;
    }
    int rc = emit(w, hdr, sizeof hdr);
    if (rc) {
        bt_snap_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

int bt_snap_put_leaf(bt_snap_writer *w, const uint8_t *next, const uint8_t *value, uint32_t vlen)
{
    if (w->err) return w->err;
    if (w->tokens >= w->h.nodes) return BT_EINVAL;
    bool var = w->h.params.value_len == BT_VALUE_VARIABLE;
    if (!var && vlen != w->h.params.value_len) return BT_EINVAL;
    uint8_t t[1 + BT_KEY_LEN_MAX + 5];
    size_t n = 0;
    t[n++] = BT_SNAP_TOK_LEAF;
    memcpy(t + n, next, w->h.params.key_len);
    n += w->h.params.key_len;
    if (var) n += put_varint(t + n, vlen);
    int rc = put(w, t, n);
    if (!rc && vlen) rc = put(w, value, vlen);
    if (!rc) w->tokens++;
    return rc;
}

int bt_snap_put_internal(bt_snap_writer *w, int balance)
{
    if (w->err) return w->err;
    if (balance < -1 || balance > 1 || w->tokens >= w->h.nodes) return BT_EINVAL;
    uint8_t t = (uint8_t)(BT_SNAP_TOK_INTERNAL_BASE + balance);
    int rc = put(w, &t, 1);
    if (!rc) w->tokens++;
    return rc;
}

int bt_snap_writer_finish(bt_snap_writer *w)
{
    if (w->err) return w->err;
    if (w->tokens != w->h.nodes) return BT_EINVAL;
    int rc = flush_chunk(w);
    if (rc) return rc;
    uint8_t t[TRAILER_LEN];
    t[0] = 'E';
    bt_store_u32be(t + 1, w->chunks);
    bt_store_u64be(t + 5, w->tokens);
    bt_store_u64be(t + 13, w->raw_total);
    bt_store_u32be(t + 21, w->body_crc);
    bt_store_u32be(t + 25, crc_up(0, t, 25));
    return emit(w, t, sizeof t);
}

uint64_t bt_snap_writer_bytes(const bt_snap_writer *w) { return w->bytes; }

void bt_snap_writer_free(bt_snap_writer *w)
{
    if (!w) return;
    ZSTD_freeCCtx(w->cctx);
    bt_mem_free(w->raw);
    bt_mem_free(w->comp);
    bt_mem_free(w);
}

/* ---- reader ----------------------------------------------------------------- */

struct bt_snap_reader {
    bt_snap_header h;
    bt_snap_source src;
    void *ctx;
    ZSTD_DCtx *dctx;
    uint8_t *raw, *comp;
    size_t rawlen, rawpos, compcap;
    uint32_t chunks;
    uint64_t tokens, raw_total;
    uint32_t body_crc;
    bool ended;      /* the trailer was read */
    uint8_t next[BT_KEY_LEN_MAX];
    uint8_t *val;    /* scratch for one value */
    size_t valcap;
    int err;         /* sticky */
    char msg[200];
};

static int rfail(bt_snap_reader *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return r->err = code;
}

/* Reads exactly n bytes from the source; running out is a truncation. */
static int src_exact(bt_snap_reader *r, uint8_t *p, size_t n, const char *what)
{
    while (n) {
        size_t got = 0;
        int rc = r->src(r->ctx, p, n, &got);
        if (rc) return rfail(r, rc, "snapshot: reading %s failed", what);
        if (got == 0 || got > n) return rfail(r, BT_ECORRUPT, "snapshot: file is truncated (in %s)", what);
        p += got;
        n -= got;
    }
    return 0;
}

int bt_snap_mem_read(void *ctx, void *p, size_t n, size_t *got)
{
    bt_snap_mem *m = ctx;
    size_t k = m->n - m->pos;
    if (k > n) k = n;
    if (k) memcpy(p, m->p + m->pos, k);
    m->pos += k;
    *got = k;
    return 0;
}

int bt_snap_reader_new(bt_snap_reader **out, bt_snap_header *h, bt_snap_source src, void *ctx,
                       uint64_t total_size, char *msg, size_t cap)
{
    *out = NULL;
    bt_snap_reader *r = bt_calloc(1, sizeof *r);
    if (!r) {
        snprintf(msg, cap, "out of memory");
        return BT_ENOMEM;
    }
    r->src = src;
    r->ctx = ctx;
    uint8_t hdr[BT_SNAP_HEADER_LEN];
    int rc = src_exact(r, hdr, sizeof hdr, "the header");
    if (!rc) rc = bt_snap_header_decode(&r->h, hdr, sizeof hdr, r->msg, sizeof r->msg);
    if (!rc && total_size != UINT64_MAX && r->h.count / BT_SNAP_KEYS_PER_BYTE > total_size)
        rc = rfail(r, BT_ECORRUPT, "snapshot: header claims %llu keys, more than a %llu-byte file "
                                   "can hold", (unsigned long long)r->h.count,
                   (unsigned long long)total_size);
    if (!rc) {
        r->compcap = ZSTD_compressBound(r->h.chunk_max);
        r->raw = bt_malloc(r->h.chunk_max);
        r->comp = bt_malloc(r->compcap);
        r->dctx = ZSTD_createDCtx();
        if (!r->raw || !r->comp || !r->dctx) rc = rfail(r, BT_ENOMEM, "out of memory");
    }
    if (rc) {
        snprintf(msg, cap, "%s", r->msg);
        bt_snap_reader_free(r);
        return rc;
    }
    *h = r->h;
    *out = r;
    return 0;
}

/* Reads the trailer after its tag byte and checks it against what was read. */
static int read_trailer(bt_snap_reader *r)
{
    uint8_t t[TRAILER_LEN];
    t[0] = 'E';
    int rc = src_exact(r, t + 1, TRAILER_LEN - 1, "the trailer");
    if (rc) return rc;
    if (bt_load_u32be(t + 25) != crc_up(0, t, 25))
        return rfail(r, BT_ECORRUPT, "snapshot: trailer checksum mismatch");
    if (bt_load_u32be(t + 1) != r->chunks || bt_load_u64be(t + 5) != r->h.nodes ||
        bt_load_u64be(t + 13) != r->raw_total)
        return rfail(r, BT_ECORRUPT, "snapshot: trailer totals differ from the file's contents");
    if (bt_load_u32be(t + 21) != r->body_crc)
        return rfail(r, BT_ECORRUPT, "snapshot: whole-body checksum mismatch");
    uint8_t extra;
    size_t got = 0;
    if ((rc = r->src(r->ctx, &extra, 1, &got))) return rfail(r, rc, "snapshot: read failed");
    if (got) return rfail(r, BT_ECORRUPT, "snapshot: trailing bytes after the trailer");
    r->ended = true;
    return 0;
}

/* Loads the next chunk into raw.  Returns 1 (loaded), 0 (the trailer came
 * instead and checked out) or an error. */
static int next_chunk(bt_snap_reader *r)
{
    uint8_t hd[CHUNK_HDR];
    int rc = src_exact(r, hd, 1, "a chunk header");
    if (rc) return rc;
    if (hd[0] == 'E') {
        rc = read_trailer(r);
        return rc ? rc : 0;
    }
    if (hd[0] != 'C') return rfail(r, BT_ECORRUPT, "snapshot: chunk %u: bad tag byte 0x%02x", r->chunks, hd[0]);
    if ((rc = src_exact(r, hd + 1, CHUNK_HDR - 1, "a chunk header"))) return rc;
    uint32_t raw_len = bt_load_u32be(hd + 1), comp_len = bt_load_u32be(hd + 5);
    uint32_t crc = bt_load_u32be(hd + 9);
    if (raw_len == 0 || raw_len > r->h.chunk_max)
        return rfail(r, BT_ECORRUPT, "snapshot: chunk %u: raw length %u out of range", r->chunks, raw_len);
    if (comp_len == 0 || comp_len > r->compcap)
        return rfail(r, BT_ECORRUPT, "snapshot: chunk %u: compressed length %u out of range",
                     r->chunks, comp_len);
    if ((rc = src_exact(r, r->comp, comp_len, "a chunk"))) return rc;
    if (crc_up(crc_up(0, hd + 1, 8), r->comp, comp_len) != crc)
        return rfail(r, BT_ECORRUPT, "snapshot: chunk %u: checksum mismatch", r->chunks);
    unsigned long long fcs = ZSTD_getFrameContentSize(r->comp, comp_len);
    if (fcs != raw_len || ZSTD_findFrameCompressedSize(r->comp, comp_len) != comp_len)
        return rfail(r, BT_ECORRUPT, "snapshot: chunk %u: damaged zstd frame", r->chunks);
    size_t d = ZSTD_decompressDCtx(r->dctx, r->raw, raw_len, r->comp, comp_len);
    if (ZSTD_isError(d) || d != raw_len)
        return rfail(r, BT_ECORRUPT, "snapshot: chunk %u: decompression failed (%s)", r->chunks,
                     ZSTD_isError(d) ? ZSTD_getErrorName(d) : "wrong length");
    r->body_crc = crc_up(r->body_crc, r->raw, raw_len);
    r->raw_total += raw_len;
    r->chunks++;
    r->rawlen = raw_len;
    r->rawpos = 0;
    return 1;
}

/* Reads n body bytes (across chunks). */
static int body(bt_snap_reader *r, uint8_t *p, size_t n)
{
    while (n) {
        if (r->rawpos == r->rawlen) {
            int rc = next_chunk(r);
            if (rc < 0) return rc;
            if (rc == 0) return rfail(r, BT_ECORRUPT, "snapshot: body ends inside node %llu",
                                      (unsigned long long)r->tokens);
        }
        size_t k = r->rawlen - r->rawpos;
        if (k > n) k = n;
        memcpy(p, r->raw + r->rawpos, k);
        r->rawpos += k;
        p += k;
        n -= k;
    }
    return 0;
}

int bt_snap_next(bt_snap_reader *r, bt_snap_token *tok)
{
    if (r->err) return r->err;
    if (r->ended) return 0;
    memset(tok, 0, sizeof *tok);
    if (r->rawpos == r->rawlen) {
        int rc = next_chunk(r);
        if (rc < 0) return rc;
        if (rc == 0) {
            if (r->tokens != r->h.nodes)
                return rfail(r, BT_ECORRUPT, "snapshot: %llu nodes, header says %llu",
                             (unsigned long long)r->tokens, (unsigned long long)r->h.nodes);
            return 0;
        }
    }
    if (r->tokens >= r->h.nodes)
        return rfail(r, BT_ECORRUPT, "snapshot: more nodes than the header's %llu",
                     (unsigned long long)r->h.nodes);
    uint8_t tag;
    int rc = body(r, &tag, 1);
    if (rc) return rc;
    if (tag >= BT_SNAP_TOK_INTERNAL_BASE - 1 && tag <= BT_SNAP_TOK_INTERNAL_BASE + 1) {
        tok->kind = 2;
        tok->balance = (int)tag - BT_SNAP_TOK_INTERNAL_BASE;
        r->tokens++;
        return 1;
    }
    if (tag != BT_SNAP_TOK_LEAF)
        return rfail(r, BT_ECORRUPT, "snapshot: node %llu: unknown token 0x%02x",
                     (unsigned long long)r->tokens, tag);
    unsigned klen = r->h.params.key_len;
    if ((rc = body(r, r->next, klen))) return rc;
    uint64_t vlen = r->h.params.value_len;
    if (vlen == BT_VALUE_VARIABLE) {
        vlen = 0;
        for (int i = 0;; i++) {
            uint8_t b;
            if (i == 5) return rfail(r, BT_ECORRUPT, "snapshot: node %llu: value length too long",
                                     (unsigned long long)r->tokens);
            if ((rc = body(r, &b, 1))) return rc;
            vlen |= (uint64_t)(b & 0x7F) << (7 * i);
            if (!(b & 0x80)) {
                if (b == 0 && i > 0)
                    return rfail(r, BT_ECORRUPT, "snapshot: node %llu: value length not in "
                                                 "shortest form", (unsigned long long)r->tokens);
                break;
            }
        }
        if (vlen > value_limit(&r->h.params))
            return rfail(r, BT_ECORRUPT, "snapshot: node %llu: value of %llu bytes exceeds the "
                                         "tree's limit", (unsigned long long)r->tokens,
                         (unsigned long long)vlen);
    }
    if (vlen > r->valcap) {
        uint8_t *nv = bt_realloc(r->val, (size_t)vlen);
        if (!nv) return rfail(r, BT_ENOMEM, "out of memory");
        r->val = nv;
        r->valcap = (size_t)vlen;
    }
    if (vlen && (rc = body(r, r->val, (size_t)vlen))) return rc;
    tok->kind = 1;
    tok->next = r->next;
    tok->value = r->val ? r->val : (const uint8_t *)"";
    tok->vlen = (uint32_t)vlen;
    r->tokens++;
    return 1;
}

const char *bt_snap_reader_msg(const bt_snap_reader *r) { return r->msg; }

void bt_snap_reader_free(bt_snap_reader *r)
{
    if (!r) return;
    ZSTD_freeDCtx(r->dctx);
    bt_mem_free(r->raw);
    bt_mem_free(r->comp);
    bt_mem_free(r->val);
    bt_mem_free(r);
}
