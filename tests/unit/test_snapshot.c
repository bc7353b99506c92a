/*
 * test_snapshot.c -- snapshot export/import (docs/FORMAT.md section 5):
 * round trips of trees built by random histories (with removals) through
 * the in-memory tree and through databases (same digest, height, count and
 * proofs; byte-identical re-export), every truncation, random bit flips,
 * header lies and token lies with valid checksums, imports into a database
 * then reopen, checkpoint exports, a writer killed (SIGKILL) during import,
 * and the exact window between an import's node write and its records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "codec/endian.h"
#include "codec/snapshot.h"
#include "db/db_int.h"
#include "testutil.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bt-test-snap-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    bt_snap_chunk_bytes = BT_SNAP_CHUNK_DEFAULT;
    return 0;
}

static bt_params params_of(unsigned klen, uint32_t vlen)
{
    bt_params p = BT_PARAMS_INIT;
    p.key_len = klen;
    p.value_len = vlen;
    return p;
}

/* A random op over a key space of `space` keys. */
static void rand_op(bt_op *op, uint8_t *key, uint8_t *val, const bt_params *p, uint64_t *rng,
                    uint64_t space)
{
    uint64_t x = tu_rand(rng);
    tu_make_key(key, p->key_len, x % space);
    size_t vl = p->value_len == BT_VALUE_VARIABLE ? (size_t)(x >> 40) % 40 : p->value_len;
    for (size_t i = 0; i < vl; i++) val[i] = (uint8_t)(x >> (i % 8 * 8)) ^ (uint8_t)i;
    static const bt_op_type types[] = {BT_OP_INSERT, BT_OP_INSERT_OR_UPDATE, BT_OP_INSERT,
                                       BT_OP_UPDATE, BT_OP_REMOVE, BT_OP_REMOVE_IF_EXISTS,
                                       BT_OP_INSERT_OR_UPDATE};
    *op = (bt_op){types[(x >> 8) % 7], key, p->key_len, val, vl};
}

/* A tree built by n random ops in batches of 50 (proved: several sealed versions). */
static bt_tree *random_tree(const bt_params *p, uint64_t seed, int n, uint64_t space)
{
    bt_tree *t;
    assert_int_equal(bt_tree_new(&t, p), 0);
    uint64_t rng = seed;
    uint8_t key[BT_KEY_LEN_MAX], val[64];
    for (int i = 0; i < n; i++) {
        bt_op op;
        bt_result r;
        rand_op(&op, key, val, p, &rng, space);
        assert_int_equal(bt_tree_apply(t, &op, &r), 0);
        if (i % 50 == 49) {
            uint8_t *proof;
            size_t len;
            assert_int_equal(bt_tree_prove(&proof, &len, t), 0);
            bt_free(proof);
        }
    }
    return t;
}

/* Same digest, height, count; and the same ops give the same proof. */
static void assert_same_tree(bt_tree *a, bt_tree *b, const bt_params *p, uint64_t seed)
{
    uint8_t da[BT_DIGEST_LEN], db_[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(da, a), 0);
    assert_int_equal(bt_tree_digest(db_, b), 0);
    assert_memory_equal(da, db_, BT_DIGEST_LEN);
    assert_int_equal(bt_tree_height(a), bt_tree_height(b));
    assert_int_equal(bt_tree_count(a), bt_tree_count(b));
    assert_int_equal(bt_tree_check(b), 0);
    uint64_t rng = seed;
    enum { N = 40 };
    bt_op ops[N];
    uint8_t keys[N][BT_KEY_LEN_MAX], vals[N][64];
    for (int i = 0; i < N; i++) rand_op(&ops[i], keys[i], vals[i], p, &rng, 400);
    uint8_t *pa, *pb, oa[BT_DIGEST_LEN], ob[BT_DIGEST_LEN];
    size_t la, lb;
    bt_result ra[N], rb[N];
    assert_int_equal(bt_tree_whatif(&pa, &la, oa, ra, a, ops, N), 0);
    assert_int_equal(bt_tree_whatif(&pb, &lb, ob, rb, b, ops, N), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    assert_memory_equal(oa, ob, BT_DIGEST_LEN);
    bt_free(pa);
    bt_free(pb);
}

static int import_rc(const uint8_t *p, size_t n)
{
    bt_tree *t = NULL;
    char msg[256];
    int rc = bt_tree_import_mem(&t, p, n, msg, sizeof msg);
    if (rc == 0) bt_tree_free(t);
    else assert_null(t);
    return rc;
}

/* ---- in-memory round trips ------------------------------------------------ */

static void test_mem_roundtrip(void **state)
{
    (void)state;
    static const struct { unsigned klen; uint32_t vlen; int n; uint64_t space; } cases[] = {
        {32, 8, 0, 1},        {32, 8, 1, 1},          {32, 8, 700, 300},  {32, BT_VALUE_VARIABLE, 900, 400},
        {1, 0, 500, 254},     {5, BT_VALUE_VARIABLE, 300, 50}, {255, 3, 200, 120}, {32, 8, 3000, 100000}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        bt_params p = params_of(cases[c].klen, cases[c].vlen);
        bt_tree *t = random_tree(&p, 7 + c, cases[c].n, cases[c].space);
        uint8_t *snap;
        size_t len;
        assert_int_equal(bt_tree_export_mem(&snap, &len, t), 0);
        bt_tree *u = NULL;
        char msg[256] = "";
        int rc = bt_tree_import_mem(&u, snap, len, msg, sizeof msg);
        if (rc) fprintf(stderr, "case %zu: %s\n", c, msg);
        assert_int_equal(rc, 0);
        bt_params q;
        bt_tree_params(&q, u);
        assert_int_equal(q.key_len, p.key_len);
        assert_int_equal(q.value_len, p.value_len);
        assert_same_tree(t, u, &p, 99 + c);
        /* re-export is byte-identical */
        uint8_t *snap2;
        size_t len2;
        assert_int_equal(bt_tree_export_mem(&snap2, &len2, u), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(snap, snap2, len);
        bt_free(snap2);
        bt_free(snap);
        bt_tree_free(u);
        bt_tree_free(t);
    }
}

/* Same contents, different histories: different digests, each reproduced. */
static void test_history_matters(void **state)
{
    (void)state;
    bt_params p = params_of(32, 8);
    bt_tree *a, *b;
    assert_int_equal(bt_tree_new(&a, &p), 0);
    assert_int_equal(bt_tree_new(&b, &p), 0);
    uint8_t key[32], val[8] = {1};
    bt_result r;
    for (int i = 0; i < 64; i++) { /* a: ascending; b: descending plus an extra key removed */
        tu_make_key(key, 32, (uint64_t)i);
        bt_op op = {BT_OP_INSERT, key, 32, val, 8};
        assert_int_equal(bt_tree_apply(a, &op, &r), 0);
        tu_make_key(key, 32, (uint64_t)(63 - i));
        assert_int_equal(bt_tree_apply(b, &op, &r), 0);
    }
    uint8_t da[BT_DIGEST_LEN], db_[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(da, a), 0);
    assert_int_equal(bt_tree_digest(db_, b), 0);
    assert_memory_not_equal(da, db_, BT_DIGEST_LEN);
    bt_tree *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        uint8_t *s;
        size_t n;
        bt_tree *u;
        assert_int_equal(bt_tree_export_mem(&s, &n, both[i]), 0);
        assert_int_equal(bt_tree_import_mem(&u, s, n, NULL, 0), 0);
        assert_same_tree(both[i], u, &p, 5);
        bt_tree_free(u);
        bt_free(s);
    }
    bt_tree_free(a);
    bt_tree_free(b);
}

/* ---- damaged files ----------------------------------------------------------- */

static void test_every_truncation(void **state)
{
    (void)state;
    bt_params p = params_of(32, BT_VALUE_VARIABLE);
    bt_tree *t = random_tree(&p, 3, 400, 200);
    uint8_t *s;
    size_t n;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1); /* exact size: ASan sees overreads */
        memcpy(cut, s, k);
        assert_int_equal(import_rc(cut, k), BT_ECORRUPT);
        free(cut);
    }
    /* and a byte too many */
    uint8_t *more = malloc(n + 1);
    memcpy(more, s, n);
    more[n] = 0;
    assert_int_equal(import_rc(more, n + 1), BT_ECORRUPT);
    assert_int_equal(import_rc(s, n), 0);
    free(more);
    bt_free(s);
    bt_tree_free(t);
}

/* Many chunks (small chunk size): truncations near every chunk boundary. */
static void test_many_chunks(void **state)
{
    (void)state;
    bt_snap_chunk_bytes = BT_SNAP_CHUNK_MIN;
    bt_params p = params_of(32, BT_VALUE_VARIABLE);
    bt_tree *t = random_tree(&p, 11, 3000, 5000);
    uint8_t *s;
    size_t n;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    bt_tree *u;
    assert_int_equal(bt_tree_import_mem(&u, s, n, NULL, 0), 0);
    assert_same_tree(t, u, &p, 12);
    bt_tree_free(u);
    /* walk the chunks; cut at each boundary and a few bytes either side */
    size_t pos = BT_SNAP_HEADER_LEN, chunks = 0;
    while (pos < n && s[pos] == 'C') {
        for (long d = -2; d <= 14; d++) {
            size_t k = (size_t)((long)pos + d);
            if (k < n) assert_int_equal(import_rc(s, k), BT_ECORRUPT);
        }
        pos += 13 + bt_load_u32be(s + pos + 5);
        chunks++;
    }
    assert_true(chunks > 5);
    assert_int_equal(s[pos], 'E');
    bt_snap_chunk_bytes = BT_SNAP_CHUNK_DEFAULT;
    bt_free(s);
    bt_tree_free(t);
}

static void test_bit_flips(void **state)
{
    (void)state;
    bt_params p = params_of(32, 8);
    bt_tree *t = random_tree(&p, 5, 500, 400);
    uint8_t *s;
    size_t n;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    uint64_t rng = 42;
    uint8_t *c = malloc(n);
    for (int i = 0; i < 3000; i++) {
        memcpy(c, s, n);
        uint64_t x = tu_rand(&rng);
        size_t at = (size_t)(x % n);
        if (i < (int)n * 8 && i < 1200) at = (size_t)i / 8 % n; /* every bit of the first 150 bytes */
        c[at] ^= (uint8_t)(1u << (x >> 32) % 8);
        if (i >= 2000) { /* bursts of random bytes */
            for (int j = 0; j < 8 && at + (size_t)j < n; j++) c[at + (size_t)j] = (uint8_t)tu_rand(&rng);
            if (memcmp(c, s, n) == 0) continue;
        }
        int rc = import_rc(c, n);
        if (rc != BT_ECORRUPT) fprintf(stderr, "flip %d at byte %zu of %zu accepted\n", i, at, n);
        assert_int_equal(rc, BT_ECORRUPT);
    }
    free(c);
    bt_free(s);
    bt_tree_free(t);
}

/* Header lies with a valid header CRC. */
static void patch_hdr(uint8_t *c, size_t at, const uint8_t *v, size_t k)
{
    memcpy(c + at, v, k);
    bt_store_u32be(c + 81, (uint32_t)crc32(0, c, 81));
}

static void test_header_lies(void **state)
{
    (void)state;
    bt_params p = params_of(32, 8);
    bt_tree *t = random_tree(&p, 9, 300, 300);
    uint8_t *s;
    size_t n;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    bt_snap_header h;
    char msg[200];
    assert_int_equal(bt_snap_header_decode(&h, s, n, msg, sizeof msg), 0);
    assert_int_equal(h.count, bt_tree_count(t));
    uint8_t *c = malloc(n);
    uint8_t b8[8];
    struct { size_t at; uint64_t v; int width; } lies[] = {
        {8, 2, 1},                         /* version */
        {9, 31, 1},                        /* key length */
        {9, 0, 1},                         /* key length 0 */
        {10, h.height + 1, 1},             /* height (digest byte differs) */
        {11, 1, 1},                        /* flags */
        {12, 9, 4},                        /* value length */
        {12, BT_VALUE_VARIABLE, 4},        /* variable values */
        {16, 5, 4},                        /* value_max in fixed mode */
        {20, 16, 4},                       /* chunk limit too small */
        {20, 4096, 4},                     /* smaller than the chunk */
        {24, h.count + 1, 8},              /* count */
        {24, h.count - 1, 8},
        {24, (uint64_t)1 << 39, 8},        /* count vs file size */
        {32, h.nodes + 2, 8},              /* node count */
        {48, (uint64_t)s[48] ^ 1, 1},      /* digest */
        {80, (uint64_t)s[80] + 1, 1},      /* digest's height byte */
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        memcpy(c, s, n);
        for (int j = 0; j < lies[i].width; j++)
            b8[j] = (uint8_t)(lies[i].v >> (8 * (lies[i].width - 1 - j)));
        patch_hdr(c, lies[i].at, b8, (size_t)lies[i].width);
        assert_int_equal(import_rc(c, n), BT_ECORRUPT);
    }
    /* height and digest byte raised together, count and nodes together */
    memcpy(c, s, n);
    b8[0] = (uint8_t)(h.height + 1);
    patch_hdr(c, 10, b8, 1);
    patch_hdr(c, 80, b8, 1);
    assert_int_equal(import_rc(c, n), BT_ECORRUPT);
    memcpy(c, s, n);
    bt_store_u64be(b8, h.count + 1);
    patch_hdr(c, 24, b8, 8);
    bt_store_u64be(b8, h.nodes + 2);
    patch_hdr(c, 32, b8, 8);
    assert_int_equal(import_rc(c, n), BT_ECORRUPT);
    /* not a snapshot at all */
    assert_int_equal(import_rc((const uint8_t *)"hello", 5), BT_ECORRUPT);
    assert_int_equal(import_rc(NULL, 0), BT_ECORRUPT);
    free(c);
    bt_free(s);
    bt_tree_free(t);
}

/* Builds a file from a header and a raw token body, with valid CRCs. */
static uint8_t *reframe(size_t *out_len, const uint8_t *hdr, const uint8_t *raw, size_t rawlen,
                        uint64_t tokens)
{
    size_t cap = BT_SNAP_HEADER_LEN + 13 + ZSTD_compressBound(rawlen) + 29;
    uint8_t *f = malloc(cap);
    memcpy(f, hdr, BT_SNAP_HEADER_LEN);
    size_t pos = BT_SNAP_HEADER_LEN;
    size_t c = ZSTD_compress(f + pos + 13, cap - pos - 13 - 29, raw, rawlen, 3);
    assert_false(ZSTD_isError(c));
    f[pos] = 'C';
    bt_store_u32be(f + pos + 1, (uint32_t)rawlen);
    bt_store_u32be(f + pos + 5, (uint32_t)c);
    bt_store_u32be(f + pos + 9, (uint32_t)crc32(crc32(0, f + pos + 1, 8), f + pos + 13, (uInt)c));
    uint32_t crc = (uint32_t)crc32(0, raw, (uInt)rawlen);
    pos += 13 + c;
    uint8_t *t = f + pos;
    t[0] = 'E';
    bt_store_u32be(t + 1, 1);
    bt_store_u64be(t + 5, tokens);
    bt_store_u64be(t + 13, rawlen);
    bt_store_u32be(t + 21, crc);
    bt_store_u32be(t + 25, (uint32_t)crc32(0, t, 25));
    *out_len = pos + 29;
    return f;
}

/* The token body of a one-chunk file. */
static uint8_t *raw_body(size_t *out_len, const uint8_t *s, size_t n)
{
    size_t pos = BT_SNAP_HEADER_LEN;
    assert_int_equal(s[pos], 'C');
    size_t raw = bt_load_u32be(s + pos + 1), comp = bt_load_u32be(s + pos + 5);
    assert_true(pos + 13 + comp + 29 == n);
    uint8_t *r = malloc(raw);
    assert_int_equal(ZSTD_decompress(r, raw, s + pos + 13, comp), raw);
    *out_len = raw;
    return r;
}

static void test_token_lies(void **state)
{
    (void)state;
    bt_params p = params_of(8, 8);
    bt_tree *t = random_tree(&p, 21, 200, 150);
    uint64_t count = bt_tree_count(t);
    uint8_t *s;
    size_t n, rl, fl;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    uint8_t *raw = raw_body(&rl, s, n);
    uint64_t nodes = 2 * count + 1;
    /* the body reframed unchanged imports: the helper is right */
    uint8_t *f = reframe(&fl, s, raw, rl, nodes);
    assert_int_equal(import_rc(f, fl), 0);
    free(f);
    uint8_t *m = malloc(rl + 17);
    size_t leaf = 1 + 8 + 8;
    /* positions of the first few leaf and internal tokens */
    size_t first_internal = 0;
    for (size_t i = 0; i < rl;) {
        if (raw[i] == BT_SNAP_TOK_LEAF) { i += leaf; continue; }
        first_internal = i;
        break;
    }
    assert_true(first_internal > 0);
    struct { const char *what; size_t at; int delta; } lies[] = {
        {"balance", first_internal, 1},
        {"balance down", first_internal, -1},
        {"value byte", 1 + 8, 1},            /* the sentinel's value: not zero */
        {"second value", leaf + 1 + 8, 1},   /* a value: digest differs */
        {"nextKey", 1 + 7, 1},               /* key order / digest */
        {"token kind", 0, 7},
        {"leaf as internal", leaf, 2},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        memcpy(m, raw, rl);
        m[lies[i].at] = (uint8_t)(m[lies[i].at] + lies[i].delta);
        f = reframe(&fl, s, m, rl, nodes);
        int rc = import_rc(f, fl);
        if (rc != BT_ECORRUPT) fprintf(stderr, "lie '%s' accepted\n", lies[i].what);
        assert_int_equal(rc, BT_ECORRUPT);
        free(f);
    }
    /* swap two leaves: keys no longer increase */
    memcpy(m, raw, rl);
    memcpy(m, raw + leaf, leaf);
    memcpy(m + leaf, raw, leaf);
    f = reframe(&fl, s, m, rl, nodes);
    assert_int_equal(import_rc(f, fl), BT_ECORRUPT);
    free(f);
    /* the last token dropped; an extra token added */
    f = reframe(&fl, s, raw, rl - 1, nodes - 1);
    assert_int_equal(import_rc(f, fl), BT_ECORRUPT);
    free(f);
    memcpy(m, raw, rl);
    m[rl] = 0x03;
    f = reframe(&fl, s, m, rl + 1, nodes + 1);
    assert_int_equal(import_rc(f, fl), BT_ECORRUPT);
    free(f);
    /* a leaf more: many trees on the stack */
    memcpy(m, raw, rl);
    memcpy(m + rl, raw + rl - leaf - 1, leaf);
    f = reframe(&fl, s, m, rl + leaf, nodes + 1);
    assert_int_equal(import_rc(f, fl), BT_ECORRUPT);
    free(f);
    free(m);
    free(raw);
    bt_free(s);
    bt_tree_free(t);
}

/* A deep stack of leaves without internal nodes must stop at the height. */
static void test_leaf_flood(void **state)
{
    (void)state;
    bt_params p = params_of(4, 0);
    enum { L = 5000 };
    uint8_t *raw = malloc(L * 5);
    for (uint32_t i = 0; i < L; i++) {
        raw[i * 5] = BT_SNAP_TOK_LEAF;
        bt_store_u32be(raw + i * 5 + 1, i + 1 == L ? 0xFFFFFFFFu : i + 1);
    }
    bt_snap_header h;
    memset(&h, 0, sizeof h);
    h.params = p;
    h.count = L - 1;
    h.nodes = 2 * h.count + 1;
    h.height = 13;
    h.digest[32] = 13;
    h.chunk_max = BT_SNAP_CHUNK_DEFAULT;
    uint8_t hdr[BT_SNAP_HEADER_LEN];
    assert_int_equal(bt_snap_header_encode(hdr, &h), 0);
    size_t fl;
    uint8_t *f = reframe(&fl, hdr, raw, L * 5, L);
    bt_tree *t = NULL;
    char msg[256];
    assert_int_equal(bt_tree_import_mem(&t, f, fl, msg, sizeof msg), BT_ECORRUPT);
    assert_non_null(strstr(msg, "higher"));
    free(f);
    free(raw);
}

/* ---- databases ------------------------------------------------------------------ */

static bt_db *open_at(const char *path, int index_labels)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_SYNC;
    o.flush_ops = 500;
    o.min_free_bytes = 0;
    o.index_labels = index_labels;
    bt_db *db = NULL;
    char msg[256] = "";
    int rc = bt_db_open(&db, path, &o, msg, sizeof msg);
    if (rc) fprintf(stderr, "open %s: %s\n", path, msg);
    assert_int_equal(rc, 0);
    return db;
}

static void db_history(bt_db *db, const char *tree, const bt_params *p, uint64_t seed, int n)
{
    uint64_t rng = seed;
    enum { B = 100 };
    bt_op ops[B];
    bt_result res[B];
    uint8_t keys[B][BT_KEY_LEN_MAX], vals[B][64];
    for (int done = 0; done < n; done += B) {
        for (int i = 0; i < B; i++) rand_op(&ops[i], keys[i], vals[i], p, &rng, 3000);
        bt_txn *t;
        assert_int_equal(bt_txn_begin(&t, db), 0);
        assert_int_equal(bt_txn_apply(t, tree, ops, B, res), 0);
        assert_int_equal(bt_txn_commit(t, NULL), 0);
    }
}

/* Two db trees answer the same proofs. */
static void assert_same_db_tree(bt_db *a, const char *ta, bt_db *b, const char *tb, const bt_params *p)
{
    uint8_t da[BT_DIGEST_LEN], db_[BT_DIGEST_LEN];
    uint64_t ca, cb;
    assert_int_equal(bt_db_digest(da, a, ta), 0);
    assert_int_equal(bt_db_digest(db_, b, tb), 0);
    assert_memory_equal(da, db_, BT_DIGEST_LEN);
    assert_int_equal(bt_db_count(&ca, a, ta), 0);
    assert_int_equal(bt_db_count(&cb, b, tb), 0);
    assert_int_equal(ca, cb);
    assert_int_equal(bt_db_check(b, tb), 0);
    uint64_t rng = 77;
    enum { N = 30 };
    bt_op ops[N];
    uint8_t keys[N][BT_KEY_LEN_MAX], vals[N][64];
    for (int i = 0; i < N; i++) rand_op(&ops[i], keys[i], vals[i], p, &rng, 3000);
    uint8_t *pa, *pb, oa[BT_DIGEST_LEN], ob[BT_DIGEST_LEN];
    size_t la, lb;
    assert_int_equal(bt_db_prove(&pa, &la, oa, NULL, a, ta, ops, N), 0);
    assert_int_equal(bt_db_prove(&pb, &lb, ob, NULL, b, tb, ops, N), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    assert_memory_equal(oa, ob, BT_DIGEST_LEN);
    bt_free(pa);
    bt_free(pb);
}

static void test_db_roundtrip(void **state)
{
    (void)state;
    char src[300], dst[300], file[300], bad[300];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(dst, sizeof dst, "%s/dst", dir);
    snprintf(file, sizeof file, "%s/notes.snap", dir);
    snprintf(bad, sizeof bad, "%s/bad.snap", dir);
    bt_params p = params_of(32, 8), pv = params_of(16, BT_VALUE_VARIABLE);
    bt_db *a = open_at(src, 0);
    assert_int_equal(bt_db_tree_create(a, "notes", &p), 0);
    assert_int_equal(bt_db_tree_create(a, "blobs", &pv), 0);
    db_history(a, "notes", &p, 1, 3000);
    db_history(a, "blobs", &pv, 2, 1000);
    assert_int_equal(bt_db_close(a), 0);
    a = open_at(src, 0); /* cold cache: export loads stored nodes */
    bt_snapshot_info info;
    assert_int_equal(bt_db_export(&info, a, "notes", 0, file), 0);
    uint64_t cnt;
    assert_int_equal(bt_db_count(&cnt, a, "notes"), 0);
    assert_int_equal(info.count, cnt);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(info.file_bytes, (uint64_t)st.st_size);
    assert_int_equal(bt_db_export(NULL, a, "nope", 0, file), BT_ENOTFOUND);
    assert_int_equal(bt_db_export(NULL, a, "notes", 5, file), BT_ENOTFOUND); /* no checkpoint */

    /* into an empty database */
    bt_db *b = open_at(dst, 1);
    bt_snapshot_info in;
    assert_int_equal(bt_db_import(&in, b, "copy", file), 0);
    assert_memory_equal(in.digest, info.digest, BT_DIGEST_LEN);
    assert_same_db_tree(a, "notes", b, "copy", &p);
    assert_int_equal(bt_db_import(NULL, b, "copy", file), BT_EEXISTS);
    assert_int_equal(bt_db_import(NULL, b, "bad name!", file), BT_EINVAL);
    char missing[320];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    assert_int_equal(bt_db_import(NULL, b, "x", missing), BT_ENOTFOUND);
    /* the label index knows the imported root */
    bt_node_info ni;
    assert_int_equal(bt_db_node_get(&ni, b, "copy", info.digest), 0);
    assert_int_equal(ni.kind, info.count ? 2 : 1);
    bt_free(ni.data);
    /* a corrupted file imports nothing */
    FILE *f = fopen(file, "rb");
    uint8_t *buf = malloc((size_t)st.st_size);
    assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    buf[st.st_size / 2] ^= 0x10;
    f = fopen(bad, "wb");
    assert_int_equal(fwrite(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    assert_int_equal(bt_db_import(NULL, b, "broken", bad), BT_ECORRUPT);
    assert_non_null(strstr(bt_db_errmsg(b), "snapshot"));
    char **names;
    size_t nn;
    assert_int_equal(bt_db_tree_list(&names, &nn, b), 0);
    assert_int_equal(nn, 1);
    bt_free(names);
    free(buf);
    /* the imported tree takes new commits, and all survives reopening */
    db_history(b, "copy", &p, 3, 700);
    db_history(a, "notes", &p, 3, 700);
    assert_same_db_tree(a, "notes", b, "copy", &p);
    assert_int_equal(bt_db_close(b), 0);
    b = open_at(dst, 1);
    assert_same_db_tree(a, "notes", b, "copy", &p);
    /* a second import into the same database, of a variable-value tree */
    assert_int_equal(bt_db_export(NULL, a, "blobs", 0, file), 0);
    assert_int_equal(bt_db_import(NULL, b, "blobs2", file), 0);
    assert_same_db_tree(a, "blobs", b, "blobs2", &pv);
    assert_int_equal(bt_db_close(b), 0);
    b = open_at(dst, 1);
    assert_same_db_tree(a, "blobs", b, "blobs2", &pv);
    /* export of the imported tree equals the export of its source */
    char f2[320];
    snprintf(f2, sizeof f2, "%s/again.snap", dir);
    assert_int_equal(bt_db_export(NULL, b, "blobs2", 0, f2), 0);
    bt_snapshot_info i2;
    assert_int_equal(bt_db_export(&i2, a, "blobs", 0, file), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", file, f2);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(bt_db_close(b), 0);
    assert_int_equal(bt_db_close(a), 0);
}

/* A checkpoint's version, exported after later commits (and a flush that
 * would have deleted its nodes but for the checkpoint). */
static void test_checkpoint_export(void **state)
{
    (void)state;
    char path[300], file[300], path2[300];
    snprintf(path, sizeof path, "%s/db", dir);
    snprintf(path2, sizeof path2, "%s/db2", dir);
    snprintf(file, sizeof file, "%s/ck.snap", dir);
    bt_params p = params_of(32, 8);
    bt_db *db = open_at(path, 0);
    assert_int_equal(bt_db_tree_create(db, "t", &p), 0);
    db_history(db, "t", &p, 51, 1500);
    uint64_t ck;
    assert_int_equal(bt_db_checkpoint_create(&ck, db, NULL), 0);
    uint8_t at[BT_DIGEST_LEN], head[BT_DIGEST_LEN];
    assert_int_equal(bt_db_digest(at, db, "t"), 0);
    db_history(db, "t", &p, 52, 1500);
    assert_int_equal(bt_db_flush(db), 0);
    assert_int_equal(bt_db_digest(head, db, "t"), 0);
    assert_memory_not_equal(at, head, BT_DIGEST_LEN);
    assert_int_equal(bt_db_close(db), 0);
    db = open_at(path, 0);
    bt_snapshot_info in;
    assert_int_equal(bt_db_export(&in, db, "t", ck, file), 0);
    assert_int_equal(in.checkpoint_id, ck);
    assert_memory_equal(in.digest, at, BT_DIGEST_LEN);
    assert_int_equal(bt_db_export(NULL, db, "t", ck + 1, file), BT_ENOTFOUND);
    assert_int_equal(bt_db_close(db), 0);
    bt_db *b = open_at(path2, 0);
    assert_int_equal(bt_db_import(&in, b, "old", file), 0);
    uint8_t got[BT_DIGEST_LEN];
    assert_int_equal(bt_db_digest(got, b, "old"), 0);
    assert_memory_equal(got, at, BT_DIGEST_LEN);
    assert_int_equal(in.checkpoint_id, ck);
    assert_int_equal(bt_db_check(b, "old"), 0);
    assert_int_equal(bt_db_close(b), 0);
}

/* The in-memory tree and the database read each other's snapshots. */
static void test_mem_to_db(void **state)
{
    (void)state;
    bt_params p = params_of(32, 8);
    bt_tree *t = random_tree(&p, 31, 2000, 1500);
    uint8_t *s;
    size_t n;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    char file[300], path[300];
    snprintf(file, sizeof file, "%s/mem.snap", dir);
    snprintf(path, sizeof path, "%s/db", dir);
    FILE *f = fopen(file, "wb");
    assert_int_equal(fwrite(s, 1, n, f), n);
    fclose(f);
    bt_db *db = open_at(path, 0);
    assert_int_equal(bt_db_import(NULL, db, "t", file), 0);
    uint8_t d1[BT_DIGEST_LEN], d2[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(d1, t), 0);
    assert_int_equal(bt_db_digest(d2, db, "t"), 0);
    assert_memory_equal(d1, d2, BT_DIGEST_LEN);
    assert_int_equal(bt_db_close(db), 0);
    db = open_at(path, 0);
    assert_int_equal(bt_db_export(NULL, db, "t", 0, file), 0);
    assert_int_equal(bt_db_close(db), 0);
    f = fopen(file, "rb");
    uint8_t *back = malloc(n + 1);
    assert_int_equal(fread(back, 1, n + 1, f), n);
    fclose(f);
    assert_memory_equal(back, s, n);
    free(back);
    bt_free(s);
    bt_tree_free(t);
}

/* SIGKILL while importing: afterwards the tree is absent, or complete. */
static void test_crash_during_import(void **state)
{
    (void)state;
    bt_params p = params_of(32, 8);
    bt_tree *t = random_tree(&p, 41, 60000, 1u << 30);
    uint8_t d[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(d, t), 0);
    uint8_t *s;
    size_t n;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    bt_tree_free(t);
    char file[300];
    snprintf(file, sizeof file, "%s/big.snap", dir);
    FILE *f = fopen(file, "wb");
    assert_int_equal(fwrite(s, 1, n, f), n);
    fclose(f);
    bt_free(s);
    /* how long an import takes here */
    char path[300];
    snprintf(path, sizeof path, "%s/timing", dir);
    bt_db *db = open_at(path, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(bt_db_import(NULL, db, "t", file), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(bt_db_close(db), 0);
    long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
    int present = 0, absent = 0;
    for (int round = 0; round < 8; round++) {
        snprintf(path, sizeof path, "%s/crash%d", dir, round);
        db = open_at(path, round % 2); /* created, with another tree */
        bt_params q = params_of(8, 8);
        assert_int_equal(bt_db_tree_create(db, "other", &q), 0);
        assert_int_equal(bt_db_close(db), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            bt_db *c = NULL;
            bt_db_options o = BT_DB_OPTIONS_INIT;
            o.durability = BT_DURABILITY_SYNC;
            o.min_free_bytes = 0;
            if (bt_db_open(&c, path, &o, NULL, 0)) _exit(3);
            int rc = bt_db_import(NULL, c, "t", file);
            _exit(rc ? 4 : 0); /* no close: as abrupt as possible */
        }
        /* kill somewhere in the import (open included); the last round lets it finish */
        long delay = round == 7 ? 0 : (long)(us * (round + 1) / 3);
        if (delay) {
            struct timespec ts = {delay / 1000000, (delay % 1000000) * 1000};
            nanosleep(&ts, NULL);
            kill(pid, SIGKILL);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status)) assert_int_equal(WEXITSTATUS(status), 0);
        db = open_at(path, round % 2);
        uint8_t got[BT_DIGEST_LEN];
        int rc = bt_db_digest(got, db, "t");
        if (rc == BT_ENOTFOUND) {
            absent++;
        } else {
            assert_int_equal(rc, 0);
            assert_memory_equal(got, d, BT_DIGEST_LEN);
            assert_int_equal(bt_db_check(db, "t"), 0);
            present++;
        }
        /* either way the database goes on: (re)import works */
        if (rc == BT_ENOTFOUND) assert_int_equal(bt_db_import(NULL, db, "t", file), 0);
        assert_int_equal(bt_db_check(db, "t"), 0);
        assert_int_equal(bt_db_close(db), 0);
        db = open_at(path, round % 2);
        assert_int_equal(bt_db_digest(got, db, "t"), 0);
        assert_memory_equal(got, d, BT_DIGEST_LEN);
        assert_int_equal(bt_db_close(db), 0);
    }
    fprintf(stderr, "crash during import: %d rounds found the tree, %d found none (import %ld us)\n",
            present, absent, us);
    assert_true(present >= 1);
}

/* The window a kill can hit between the two writes of an import: the nodes
 * ingested (durable), the tree's records not written.  Reproduced exactly:
 * a child writes the nodes through the import's own helper and exits.  The
 * reopened database has no such tree, hands the same node ids out again,
 * and imports, commits, flushes and reopens normally. */
static void test_crash_window(void **state)
{
    (void)state;
    bt_params p = params_of(32, 8);
    bt_tree *t = random_tree(&p, 61, 3000, 1u << 30);
    uint8_t d[BT_DIGEST_LEN];
    assert_int_equal(bt_tree_digest(d, t), 0);
    uint8_t *s;
    size_t n;
    assert_int_equal(bt_tree_export_mem(&s, &n, t), 0);
    char file[300], path[300];
    snprintf(file, sizeof file, "%s/w.snap", dir);
    snprintf(path, sizeof path, "%s/db", dir);
    FILE *f = fopen(file, "wb");
    assert_int_equal(fwrite(s, 1, n, f), n);
    fclose(f);
    bt_db *db = open_at(path, 1);
    bt_params q = params_of(8, 8);
    assert_int_equal(bt_db_tree_create(db, "other", &q), 0);
    db_history(db, "other", &q, 62, 300);
    assert_int_equal(bt_db_close(db), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bt_db *c = NULL;
        bt_db_options o = BT_DB_OPTIONS_INIT;
        o.min_free_bytes = 0;
        o.index_labels = 1;
        if (bt_db_open(&c, path, &o, NULL, 0)) _exit(3);
        bt_tree *u = NULL;
        if (bt_tree_import_mem(&u, s, n, NULL, 0)) _exit(4);
        bt_kv_batch *b = c->kv->v->batch_new(c->kv);
        uint64_t root_id, written;
        pthread_mutex_lock(&c->fmu);
        pthread_mutex_lock(&c->wlock);
        int rc = bt_db__write_tree_nodes(c, c->meta.next_tree_id, &p, u->s.root, b, &root_id, &written);
        _exit(rc == 0 && written == 2 * bt_tree_count(u) + 1 ? 0 : 5); /* the batch is never written */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    db = open_at(path, 1);
    uint8_t got[BT_DIGEST_LEN];
    assert_int_equal(bt_db_digest(got, db, "t"), BT_ENOTFOUND);
    char **names;
    size_t nn;
    assert_int_equal(bt_db_tree_list(&names, &nn, db), 0);
    assert_int_equal(nn, 1);
    bt_free(names);
    assert_int_equal(bt_db_check(db, "other"), 0);
    assert_int_equal(bt_db_import(NULL, db, "t", file), 0);
    db_history(db, "other", &q, 63, 600); /* flushes reuse nothing wrongly */
    assert_int_equal(bt_db_flush(db), 0);
    assert_int_equal(bt_db_close(db), 0);
    db = open_at(path, 1);
    assert_int_equal(bt_db_digest(got, db, "t"), 0);
    assert_memory_equal(got, d, BT_DIGEST_LEN);
    assert_int_equal(bt_db_check(db, "t"), 0);
    assert_int_equal(bt_db_check(db, "other"), 0);
    bt_node_info ni;
    assert_int_equal(bt_db_node_get(&ni, db, "t", d), 0);
    bt_free(ni.data);
    assert_int_equal(bt_db_close(db), 0);
    bt_free(s);
    bt_tree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mem_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_matters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_lies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_lies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaf_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mem_to_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_during_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_window, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
