/*
 * snapshot.h -- the snapshot file format (docs/FORMAT.md section 5): a
 * header with the tree's parameters, digest, count and height, then the
 * tree's nodes in post-order as zstd-compressed chunks, each with a CRC-32,
 * then a trailer with the totals and a CRC-32 of the whole body.
 *
 * This layer knows bytes only: the writer turns tokens (leaf / internal)
 * into the file, streaming, in memory bounded by one chunk; the reader
 * turns a byte source back into tokens and checks every length, limit and
 * checksum.  Whether the tokens form a valid tree (key order, balances,
 * the root label) is checked by the builder in src/db/snapshot.c.
 *
 * Untrusted input: every problem the reader finds is BT_ECORRUPT with a
 * message (never an assert); it allocates at most one chunk of each kind
 * plus one value, all bounded by the limits below.
 */
#ifndef BT_CODEC_SNAPSHOT_H
#define BT_CODEC_SNAPSHOT_H
#include "basistrees.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_SNAP_VERSION 1
#define BT_SNAP_HEADER_LEN 85
#define BT_SNAP_CHUNK_DEFAULT (1u << 20)  /* raw bytes per chunk (writer)      */
#define BT_SNAP_CHUNK_MIN (1u << 12)      /* limits a header may declare      */
#define BT_SNAP_CHUNK_MAX (8u << 20)
#define BT_SNAP_HEIGHT_MAX 255            /* the digest's height byte         */
#define BT_SNAP_COUNT_MAX (1ull << 40)    /* keys                             */
#define BT_SNAP_KEYS_PER_BYTE 16          /* a file holds >= count/16 bytes   */

/* Raw bytes per chunk that exports write (BT_SNAP_CHUNK_DEFAULT; tests lower
 * it to exercise many chunks; not thread-safe to change). */
extern uint32_t bt_snap_chunk_bytes;

/* Token bytes of the body. */
#define BT_SNAP_TOK_LEAF 0x01
#define BT_SNAP_TOK_INTERNAL_BASE 0x03 /* 0x02, 0x03, 0x04: balance -1, 0, +1 */

typedef struct bt_snap_header {
    bt_params params;
    uint8_t digest[BT_DIGEST_LEN]; /* root label || height */
    unsigned height;               /* == digest[32] */
    uint64_t count;                /* keys, not counting the -inf sentinel */
    uint64_t nodes;                /* == 2 * count + 1 */
    uint32_t chunk_max;            /* largest raw chunk the file holds */
    uint64_t checkpoint_id;        /* informative: 0 = the head */
} bt_snap_header;

/* Encodes a header (checks it first: BT_EINVAL if inconsistent). */
int bt_snap_header_encode(uint8_t out[BT_SNAP_HEADER_LEN], const bt_snap_header *h);
/* Decodes and checks a header.  BT_ECORRUPT with a message on any problem. */
int bt_snap_header_decode(bt_snap_header *h, const uint8_t *p, size_t n, char *msg, size_t cap);

/* ---- writer ------------------------------------------------------------- */

/* Output: writes all n bytes or returns a negative BT_E* code. */
typedef int (*bt_snap_sink)(void *ctx, const void *p, size_t n);

typedef struct bt_snap_writer bt_snap_writer;

/* Starts a file: writes the header at once.  level: zstd level 1..19.
 * Returns 0, BT_EINVAL (bad header or level), BT_ENOMEM or the sink's error. */
int bt_snap_writer_new(bt_snap_writer **out, const bt_snap_header *h, int level,
                       bt_snap_sink sink, void *ctx);
/* A leaf: its nextKey (key_len bytes) and value. */
int bt_snap_put_leaf(bt_snap_writer *w, const uint8_t *next, const uint8_t *value, uint32_t vlen);
/* An internal node with this balance (-1, 0, +1); its children are the two
 * subtrees just before it. */
int bt_snap_put_internal(bt_snap_writer *w, int balance);
/* Writes the last chunk and the trailer.  BT_EINVAL if the number of
 * tokens differs from the header's node count. */
int bt_snap_writer_finish(bt_snap_writer *w);
/* Bytes written so far (header, chunks, trailer). */
uint64_t bt_snap_writer_bytes(const bt_snap_writer *w);
void bt_snap_writer_free(bt_snap_writer *w);

/* ---- reader ------------------------------------------------------------- */

/* Input: reads up to n bytes into p and sets *got (0 at the end of input),
 * or returns a negative BT_E* code. */
typedef int (*bt_snap_source)(void *ctx, void *p, size_t n, size_t *got);

typedef struct bt_snap_reader bt_snap_reader;

typedef struct bt_snap_token {
    int kind;             /* 1 leaf, 2 internal */
    int balance;          /* internal */
    const uint8_t *next;  /* leaf: nextKey (key_len bytes) */
    const uint8_t *value; /* leaf */
    uint32_t vlen;
} bt_snap_token;

/* Reads and checks the header.  total_size: the size of the whole input in
 * bytes (UINT64_MAX if unknown); a header declaring more keys than
 * BT_SNAP_KEYS_PER_BYTE x total_size is rejected.  Returns 0 and a reader
 * (bt_snap_reader_free), or BT_ECORRUPT / BT_ENOMEM / the source's error
 * with a message in msg. */
int bt_snap_reader_new(bt_snap_reader **out, bt_snap_header *h, bt_snap_source src, void *ctx,
                       uint64_t total_size, char *msg, size_t cap);
/* The next token: returns 1 and *tok (pointers valid until the next call),
 * 0 at the end (after the trailer, its totals and whole-body CRC, and the
 * end of the input were checked), or a negative code with a message. */
int bt_snap_next(bt_snap_reader *r, bt_snap_token *tok);
const char *bt_snap_reader_msg(const bt_snap_reader *r);
void bt_snap_reader_free(bt_snap_reader *r);

/* A byte source over a memory buffer (ctx: a bt_snap_mem). */
typedef struct bt_snap_mem {
    const uint8_t *p;
    size_t n, pos;
} bt_snap_mem;
int bt_snap_mem_read(void *ctx, void *p, size_t n, size_t *got);
#endif
