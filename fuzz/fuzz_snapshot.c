/*
 * fuzz_snapshot.c -- snapshot import (docs/FORMAT.md section 5) on arbitrary
 * bytes.
 *
 * The first input byte picks the mode:
 *   even: the rest is a snapshot file, imported as it is;
 *   odd:  the rest is a small header description and a raw token body,
 *         framed here into a file with valid checksums, so that mutations
 *         reach the tree rebuild instead of stopping at a CRC.
 *
 * Properties checked (a violation calls abort()):
 *   1. No read outside the input (ASan), no UB (UBSan), no crash, bounded
 *      memory (the header's count is bounded by the input size).
 *   2. Import returns 0 or BT_ECORRUPT (never another code, except
 *      BT_ENOMEM which libFuzzer's rss limit would report anyway).
 *   3. An accepted snapshot gives a tree that passes bt_tree_check, whose
 *      digest, height and count are those of the header, and whose export
 *      imports again to the same digest.
 *
 * Seeds: fuzz/corpus/fuzz_snapshot/ (replayed as fuzz-replay/fuzz_snapshot).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "basistrees.h"
#include "codec/endian.h"
#include "codec/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_import(const uint8_t *p, size_t n)
{
    bt_tree *t = NULL;
    char msg[256];
    int rc = bt_tree_import_mem(&t, p, n, msg, sizeof msg);
    if (rc) {
        if (t || (rc != BT_ECORRUPT && rc != BT_ENOMEM)) abort();
        return;
    }
    bt_snap_header h;
    if (bt_snap_header_decode(&h, p, n, msg, sizeof msg)) abort();
    uint8_t d[BT_DIGEST_LEN], d2[BT_DIGEST_LEN];
    if (bt_tree_check(t) || bt_tree_digest(d, t) || memcmp(d, h.digest, BT_DIGEST_LEN) ||
        bt_tree_count(t) != h.count || bt_tree_height(t) != h.height)
        abort();
    uint8_t *again;
    size_t alen;
    if (bt_tree_export_mem(&again, &alen, t)) abort();
    bt_tree *u = NULL;
    if (bt_tree_import_mem(&u, again, alen, msg, sizeof msg) || bt_tree_digest(d2, u) ||
        memcmp(d, d2, BT_DIGEST_LEN))
        abort();
    bt_tree_free(u);
    bt_free(again);
    bt_tree_free(t);
}

/* Mode 1: [klen][vmode][height][count u16][digest byte] then the raw body. */
static void check_framed(const uint8_t *p, size_t n)
{
    if (n < 6) return;
    bt_snap_header h;
    memset(&h, 0, sizeof h);
    h.params.version = BT_PARAMS_VERSION;
    h.params.key_len = (unsigned)(p[0] % 8) + 1;
    h.params.value_len = p[1] < 128 ? BT_VALUE_VARIABLE : (uint32_t)(p[1] % 9);
    h.height = p[2] % 24;
    h.digest[32] = (uint8_t)h.height;
    h.count = ((uint64_t)p[3] << 8 | p[4]) % 4096;
    memset(h.digest, p[5], 32);
    h.nodes = 2 * h.count + 1;
    h.chunk_max = BT_SNAP_CHUNK_MIN;
    p += 6;
    n -= 6;
    uint8_t hdr[BT_SNAP_HEADER_LEN];
    if (bt_snap_header_encode(hdr, &h)) return; /* inconsistent header: not interesting */
    if (n > BT_SNAP_CHUNK_MIN) n = BT_SNAP_CHUNK_MIN;
    size_t cap = BT_SNAP_HEADER_LEN + 13 + ZSTD_compressBound(n) + 29;
    uint8_t *f = malloc(cap);
    if (!f) return;
    memcpy(f, hdr, sizeof hdr);
    size_t pos = BT_SNAP_HEADER_LEN;
    uint32_t body_crc = (uint32_t)crc32(0, p, (uInt)n);
    uint32_t chunks = 0;
    if (n) {
        size_t c = ZSTD_compress(f + pos + 13, cap - pos - 13, p, n, 1);
        if (ZSTD_isError(c)) abort();
        f[pos] = 'C';
        bt_store_u32be(f + pos + 1, (uint32_t)n);
        bt_store_u32be(f + pos + 5, (uint32_t)c);
        bt_store_u32be(f + pos + 9, (uint32_t)crc32(crc32(0, f + pos + 1, 8), f + pos + 13, (uInt)c));
        pos += 13 + c;
        chunks = 1;
    }
    uint8_t *t = f + pos;
    t[0] = 'E';
    bt_store_u32be(t + 1, chunks);
    bt_store_u64be(t + 5, h.nodes);
    bt_store_u64be(t + 13, n);
    bt_store_u32be(t + 21, body_crc);
    bt_store_u32be(t + 25, (uint32_t)crc32(0, t, 25));
    pos += 29;
    uint8_t *exact = malloc(pos);
    if (exact) {
        memcpy(exact, f, pos);
        check_import(exact, pos);
        free(exact);
    }
    free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        check_import(data, 0);
        return 0;
    }
    if (data[0] & 1) check_framed(data + 1, size - 1);
    else check_import(data + 1, size - 1);
    return 0;
}
