/*
 * baseline.h -- the upstream storage layer (basis-tracker at 6e9e3cc,
 * ../shared/spec/upstream.md section 2.1), re-implemented in C on RocksDB
 * for the `vs` benchmark suite only.  It never goes into the library.
 *
 * What is faithful to upstream:
 *  - four partitions (column families) tree_nodes, tree_operations,
 *    tree_checkpoints, tree_metadata, with RocksDB's default options (no
 *    compression: upstream's TreeStorage had none), default write options
 *    (WAL on, no fsync: upstream never synced);
 *  - keys with ASCII prefixes: "nodes/" || label(32), "operations/" ||
 *    seq u64 BE, "checkpoints/" || id u64 BE, metadata "current_sequence";
 *  - bincode 1.3 values: little-endian fixed-width integers, Vec<u8> = u64 LE
 *    length || bytes, Option = 1 tag byte (|| the value), enums = u32 LE;
 *      TreeNode      { digest: Vec, node_type: u32 (Leaf 0, Branch 1),
 *                      key: Option<Vec>, value: Option<Vec>,
 *                      left_digest: Option<Vec>, right_digest: Option<Vec>,
 *                      height: u8 }
 *      TreeOperation { sequence_number: u64, operation_type: u32 (Insert 0,
 *                      Update 1), timestamp: u64 (unix s), key: Vec,
 *                      value: Vec, previous_value: Option<Vec> (None),
 *                      tree_root_before: Vec(33), tree_root_after: Vec(33) }
 *      TreeCheckpoint{ checkpoint_id: u64 (unix s), timestamp: u64,
 *                      tree_root: Vec(33), operation_sequence: u64,
 *                      node_count: u64 (0), serialized_tree: Option (None) }
 *  - one Put per operation row, then a separate Put of current_sequence
 *    (u64 BE) after each operation; the digest after each operation
 *    (tree_root_after) is computed for the row, as upstream's prover did;
 *  - no cache: every node read is a RocksDB Get (RocksDB's own default 8 MiB
 *    block cache stays, as Fjall has its own);
 *  - the latest checkpoint is found by iterating the whole partition;
 *  - recovery replays every operation from sequence 1 (one Get each, as
 *    get_operations did), ignoring checkpoints.
 * What upstream never finished and we add (so that node lookups and the
 * node-storage numbers exist): the nodes each commit creates are written,
 * one Put per node, at the end of the commit (a batch of 1000 operations or
 * a single operation).  Branch nodes carry their key (Some), which AVL+
 * navigation needs; nothing is ever deleted (upstream had no reclamation).
 * The tree itself is our in-memory core (bt_tree_*), so digests are
 * byte-identical to the library's; bench_vs checks it.
 */
#ifndef BT_BENCH_BASELINE_H
#define BT_BENCH_BASELINE_H

enum { CF_DEFAULT, CF_NODES, CF_OPS, CF_CKPT, CF_META, CF_COUNT };
static const char *BASE_CF_NAMES[CF_COUNT] = {"default", "tree_nodes", "tree_operations",
                                              "tree_checkpoints", "tree_metadata"};

typedef struct base {
    rocksdb_t *db;
    rocksdb_options_t *opt;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    bt_params p;
    bt_tree *t;
    uint64_t seq;                 /* current_sequence                     */
    uint8_t cur[BT_DIGEST_LEN];   /* digest after the last operation      */
    pthread_mutex_t root_mu;      /* guards root (readers in other threads) */
    uint8_t root[BT_LABEL_LEN];   /* label of the last committed root     */
    bool has_root;
    uint64_t node_puts, op_puts, op_ns, open_ns;
    uint8_t buf[1024];
} base;

/* ---- bincode -------------------------------------------------------------- */

static uint8_t *bc_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8) *p++ = (uint8_t)v;
    return p;
}

static uint8_t *bc_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8) *p++ = (uint8_t)v;
    return p;
}

static uint8_t *bc_vec(uint8_t *p, const uint8_t *d, size_t n)
{
    p = bc_u64(p, n);
    memcpy(p, d, n);
    return p + n;
}

static uint8_t *bc_opt_vec(uint8_t *p, const uint8_t *d, size_t n)
{
    if (!d) {
        *p++ = 0;
        return p;
    }
    *p++ = 1;
    return bc_vec(p, d, n);
}

/* A bounded reader: every get fails (returns false) past the end. */
typedef struct bc_rd {
    const uint8_t *p, *end;
} bc_rd;

static bool rd_u64(bc_rd *r, uint64_t *v)
{
    if (r->end - r->p < 8) return false;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = (x << 8) | r->p[i];
    r->p += 8;
    *v = x;
    return true;
}

static bool rd_u32(bc_rd *r, uint32_t *v)
{
    if (r->end - r->p < 4) return false;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return true;
}

static bool rd_vec(bc_rd *r, const uint8_t **d, size_t *n)
{
    uint64_t len;
    if (!rd_u64(r, &len) || len > (uint64_t)(r->end - r->p)) return false;
    *d = r->p;
    *n = (size_t)len;
    r->p += len;
    return true;
}

static bool rd_opt_vec(bc_rd *r, const uint8_t **d, size_t *n)
{
    if (r->p >= r->end) return false;
    uint8_t tag = *r->p++;
    if (tag == 0) {
        *d = NULL;
        *n = 0;
        return true;
    }
    return tag == 1 && rd_vec(r, d, n);
}

/* ---- open / close --------------------------------------------------------- */

static void base_close(base *b)
{
    if (!b) return;
    for (int i = 0; i < CF_COUNT; i++)
        if (b->cf[i]) rocksdb_column_family_handle_destroy(b->cf[i]);
    if (b->db) rocksdb_close(b->db);
    if (b->opt) rocksdb_options_destroy(b->opt);
    if (b->wo) rocksdb_writeoptions_destroy(b->wo);
    if (b->ro) rocksdb_readoptions_destroy(b->ro);
    bt_tree_free(b->t);
    pthread_mutex_destroy(&b->root_mu);
    free(b);
}

/* Opens (or creates) the store, reads current_sequence (missing or of the
 * wrong length: 0, as upstream).  The tree is empty: base_recover rebuilds it. */
static base *base_open(const char *path, const bt_params *p, bool create)
{
    base *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    pthread_mutex_init(&b->root_mu, NULL);
    b->p = *p;
    uint64_t t0 = now_ns();
    b->opt = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(b->opt, create);
    rocksdb_options_set_create_missing_column_families(b->opt, create);
    rocksdb_options_set_compression(b->opt, rocksdb_no_compression);
    b->wo = rocksdb_writeoptions_create();
    b->ro = rocksdb_readoptions_create();
    const rocksdb_options_t *cfo[CF_COUNT];
    for (int i = 0; i < CF_COUNT; i++) cfo[i] = b->opt;
    char *err = NULL;
    b->db = rocksdb_open_column_families(b->opt, path, CF_COUNT, BASE_CF_NAMES, cfo, b->cf, &err);
    if (err) {
        fail("baseline: open %s: %s", path, err);
        rocksdb_free(err);
        b->db = NULL;
        for (int i = 0; i < CF_COUNT; i++) b->cf[i] = NULL;
        base_close(b);
        return NULL;
    }
    size_t vl = 0;
    char *v = rocksdb_get_cf(b->db, b->ro, b->cf[CF_META], "current_sequence", 16, &vl, &err);
    if (err) rocksdb_free(err), err = NULL;
    b->seq = 0;
    if (v && vl == 8)
        for (int i = 0; i < 8; i++) b->seq = (b->seq << 8) | (uint8_t)v[i];
    rocksdb_free(v);
    b->open_ns = now_ns() - t0;
    if (bt_tree_new(&b->t, &b->p) || bt_tree_digest(b->cur, b->t)) {
        base_close(b);
        return NULL;
    }
    return b;
}

static int base_put(base *b, int cf, const void *k, size_t kl, const void *v, size_t vl)
{
    char *err = NULL;
    rocksdb_put_cf(b->db, b->wo, b->cf[cf], k, kl, v, vl, &err);
    if (err) {
        fail("baseline: put: %s", err);
        rocksdb_free(err);
        return -1;
    }
    return 0;
}

/* Flushes the WAL to the OS (the crash child: what survives a process crash). */
static void base_flush_wal(base *b)
{
    char *err = NULL;
    rocksdb_flush_wal(b->db, 0, &err);
    if (err) rocksdb_free(err);
}

/* ---- writes --------------------------------------------------------------- */

/* log_operation: the row, then current_sequence as a separate write. */
static int base_log_op(base *b, const bt_op *op, const uint8_t before[BT_DIGEST_LEN],
                       const uint8_t after[BT_DIGEST_LEN])
{
    uint64_t seq = ++b->seq; /* next_sequence_number */
    uint8_t key[11 + 8], *p = b->buf;
    memcpy(key, "operations/", 11);
    put_be64(key + 11, seq);
    p = bc_u64(p, seq);
    p = bc_u32(p, op->type == BT_OP_INSERT ? 0 : 1);
    p = bc_u64(p, (uint64_t)time(NULL));
    p = bc_vec(p, op->key, op->key_len);
    p = bc_vec(p, op->value, op->value_len);
    p = bc_opt_vec(p, NULL, 0);
    p = bc_vec(p, before, BT_DIGEST_LEN);
    p = bc_vec(p, after, BT_DIGEST_LEN);
    uint8_t cs[8];
    put_be64(cs, seq);
    uint64_t t0 = now_ns();
    int rc = base_put(b, CF_OPS, key, sizeof key, b->buf, (size_t)(p - b->buf));
    if (!rc) rc = base_put(b, CF_META, "current_sequence", 16, cs, 8);
    b->op_ns += now_ns() - t0;
    b->op_puts++;
    return rc;
}

/* store_node of every node the current batch created (gen == the session's),
 * top-down from the root with heights derived from the balances. */
static int base_store_new(base *b, bt_node *n, int height, uint64_t gen, int depth)
{
    if (n->gen != gen || depth > 200) return 0;
    uint8_t key[6 + BT_LABEL_LEN], *p = b->buf;
    memcpy(key, "nodes/", 6);
    memcpy(key + 6, bt_node_label(n), BT_LABEL_LEN);
    p = bc_vec(p, bt_node_label(n), BT_LABEL_LEN);
    if (n->kind == BT_NK_LEAF) {
        p = bc_u32(p, 0);
        p = bc_opt_vec(p, bt_node_key(n), n->klen);
        p = bc_opt_vec(p, bt_leaf_value(n), n->u.leaf.vlen);
        p = bc_opt_vec(p, NULL, 0);
        p = bc_opt_vec(p, NULL, 0);
    } else if (n->kind == BT_NK_INTERNAL) {
        p = bc_u32(p, 1);
        p = bc_opt_vec(p, bt_node_key(n), n->klen);
        p = bc_opt_vec(p, NULL, 0);
        p = bc_opt_vec(p, bt_node_label(n->u.in.left), BT_LABEL_LEN);
        p = bc_opt_vec(p, bt_node_label(n->u.in.right), BT_LABEL_LEN);
    } else {
        return 0; /* a stub: never created by a batch */
    }
    *p++ = (uint8_t)height;
    if (base_put(b, CF_NODES, key, sizeof key, b->buf, (size_t)(p - b->buf))) return -1;
    b->node_puts++;
    if (n->kind == BT_NK_INTERNAL) {
        int hl = height - 1 - (n->balance > 0), hr = height - 1 - (n->balance < 0);
        if (base_store_new(b, n->u.in.left, hl, gen, depth + 1)) return -1;
        if (base_store_new(b, n->u.in.right, hr, gen, depth + 1)) return -1;
    }
    return 0;
}

/* End of a commit: write the new nodes, publish the root, seal the version
 * (with the batch proof when prove is set, as our side proves its batches). */
static int base_commit(base *b, bool prove)
{
    if (base_store_new(b, b->t->s.root, (int)bt_tree_height(b->t), b->t->s.gen, 0)) return -1;
    pthread_mutex_lock(&b->root_mu);
    memcpy(b->root, b->cur, BT_LABEL_LEN);
    b->has_root = true;
    pthread_mutex_unlock(&b->root_mu);
    if (prove) {
        uint8_t *proof = NULL;
        size_t len;
        int rc = bt_tree_prove(&proof, &len, b->t);
        bt_free(proof);
        return rc;
    }
    bt_tree_mark_committed(b->t);
    return 0;
}

/* One operation: apply, digest after, log it. */
static int base_apply_log(base *b, const bt_op *op)
{
    bt_result r;
    uint8_t before[BT_DIGEST_LEN];
    memcpy(before, b->cur, BT_DIGEST_LEN);
    int rc = bt_tree_apply(b->t, op, &r);
    if (!rc && r.status) rc = r.status;
    if (!rc) rc = bt_tree_digest(b->cur, b->t);
    if (!rc) rc = base_log_op(b, op, before, b->cur);
    return rc;
}

/* A single-operation commit. */
static int base_single(base *b, const bt_op *op, bool commit)
{
    int rc = base_apply_log(b, op);
    if (!rc && commit) rc = base_commit(b, false);
    return rc;
}

/* Inserts of key(first .. first+count-1), commits of BATCH, each proved. */
static int base_load(base *b, const dataset *ds, uint64_t seed, uint64_t first, uint64_t count,
                     batch *in, uint64_t *out_ns, growth *g)
{
    uint64_t total = 0;
    for (uint64_t k = 0; k < count; k += BATCH) {
        batch_inserts(in, ds, seed, first + k, BATCH);
        uint64_t t0 = now_ns();
        int rc = 0;
        for (unsigned j = 0; j < BATCH && !rc; j++) rc = base_apply_log(b, &in->ops[j]);
        if (!rc) rc = base_commit(b, true);
        total += now_ns() - t0;
        if (rc) {
            fail("baseline: load at %" PRIu64 ": %s", first + k, bt_strerror(rc));
            return -1;
        }
        if (g) growth_note(g, first + k + BATCH, total);
    }
    if (g) growth_note(g, first + count, total);
    if (out_ns) *out_ns = total;
    return 0;
}

/* ---- reads ---------------------------------------------------------------- */

typedef struct base_node {
    int leaf;
    const uint8_t *key, *value, *left, *right;
    size_t key_len, value_len;
} base_node;

static bool base_decode_node(base_node *nd, const char *v, size_t vl)
{
    bc_rd r = {(const uint8_t *)v, (const uint8_t *)v + vl};
    const uint8_t *dig;
    size_t dl, ll, rl;
    uint32_t type;
    if (!rd_vec(&r, &dig, &dl) || dl != BT_LABEL_LEN || !rd_u32(&r, &type) || type > 1) return false;
    if (!rd_opt_vec(&r, &nd->key, &nd->key_len) || !rd_opt_vec(&r, &nd->value, &nd->value_len) ||
        !rd_opt_vec(&r, &nd->left, &ll) || !rd_opt_vec(&r, &nd->right, &rl) || r.p >= r.end)
        return false;
    nd->leaf = type == 0;
    if (!nd->key || nd->key_len != KEY_LEN) return false;
    if (nd->leaf) return nd->value != NULL;
    return nd->left && nd->right && ll == BT_LABEL_LEN && rl == BT_LABEL_LEN;
}

/* get_node by label, then down the tree: the value of key from storage.
 * Returns 0 (value copied to out, at most VALUE_MAX bytes), 1 absent, -1 error. */
static int base_get(base *b, const uint8_t *key, uint8_t *out, size_t *out_len)
{
    uint8_t nk[6 + BT_LABEL_LEN];
    memcpy(nk, "nodes/", 6);
    pthread_mutex_lock(&b->root_mu);
    memcpy(nk + 6, b->root, BT_LABEL_LEN);
    bool has = b->has_root;
    pthread_mutex_unlock(&b->root_mu);
    if (!has) return 1;
    for (int depth = 0; depth < 128; depth++) {
        char *err = NULL;
        size_t vl = 0;
        char *v = rocksdb_get_cf(b->db, b->ro, b->cf[CF_NODES], (const char *)nk, sizeof nk, &vl, &err);
        if (err || !v) {
            rocksdb_free(err);
            rocksdb_free(v);
            return -1;
        }
        base_node nd;
        if (!base_decode_node(&nd, v, vl)) {
            rocksdb_free(v);
            return -1;
        }
        if (nd.leaf) {
            int rc = memcmp(nd.key, key, KEY_LEN) == 0 ? 0 : 1;
            if (!rc) {
                if (nd.value_len > VALUE_MAX) rc = -1;
                else {
                    memcpy(out, nd.value, nd.value_len);
                    *out_len = nd.value_len;
                }
            }
            rocksdb_free(v);
            return rc;
        }
        /* AVL+: an internal node's key is the least key of its right subtree */
        memcpy(nk + 6, memcmp(key, nd.key, KEY_LEN) < 0 ? nd.left : nd.right, BT_LABEL_LEN);
        rocksdb_free(v);
    }
    return -1;
}

#define base_get_shared base_get

/* ---- checkpoints and recovery -------------------------------------------- */

/* create_checkpoint: id = unix seconds, node_count 0, serialized_tree None. */
static int base_checkpoint(base *b, size_t *out_bytes)
{
    uint64_t now = (uint64_t)time(NULL);
    uint8_t key[12 + 8], *p = b->buf;
    memcpy(key, "checkpoints/", 12);
    put_be64(key + 12, now);
    p = bc_u64(p, now);
    p = bc_u64(p, now);
    p = bc_vec(p, b->cur, BT_DIGEST_LEN);
    p = bc_u64(p, b->seq);
    p = bc_u64(p, 0);
    p = bc_opt_vec(p, NULL, 0);
    *out_bytes = sizeof key + (size_t)(p - b->buf);
    return base_put(b, CF_CKPT, key, sizeof key, b->buf, (size_t)(p - b->buf));
}

typedef struct base_recover_stats {
    uint64_t replayed, replay_ns, latest_checkpoint;
} base_recover_stats;

/* from_storage: the latest checkpoint by a full scan (then ignored, as
 * upstream), then replay_all_operations 1..current_sequence. */
static int base_recover(base *b, base_recover_stats *st)
{
    base_recover_stats local = {0};
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(b->db, b->ro, b->cf[CF_CKPT]);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t vl;
        const char *v = rocksdb_iter_value(it, &vl);
        bc_rd r = {(const uint8_t *)v, (const uint8_t *)v + vl};
        uint64_t id;
        if (rd_u64(&r, &id) && id > st->latest_checkpoint) st->latest_checkpoint = id;
    }
    rocksdb_iter_destroy(it);
    bt_tree_free(b->t);
    b->t = NULL;
    if (bt_tree_new(&b->t, &b->p)) return -1;
    uint64_t t0 = now_ns();
    uint8_t key[11 + 8];
    memcpy(key, "operations/", 11);
    for (uint64_t seq = 1; seq <= b->seq; seq++) {
        put_be64(key + 11, seq);
        char *err = NULL;
        size_t vl = 0;
        char *v = rocksdb_get_cf(b->db, b->ro, b->cf[CF_OPS], (const char *)key, sizeof key, &vl, &err);
        if (err) {
            rocksdb_free(err);
            return -1;
        }
        if (!v) continue; /* upstream skips missing rows */
        bc_rd r = {(const uint8_t *)v, (const uint8_t *)v + vl};
        uint64_t s, ts;
        uint32_t type;
        const uint8_t *k, *val;
        size_t kl, vl2;
        bool ok = rd_u64(&r, &s) && rd_u32(&r, &type) && type <= 1 && rd_u64(&r, &ts) &&
                  rd_vec(&r, &k, &kl) && rd_vec(&r, &val, &vl2);
        int rc = ok ? 0 : -1;
        if (ok) {
            bt_op op = {type == 0 ? BT_OP_INSERT : BT_OP_UPDATE, k, kl, val, vl2};
            bt_result res;
            rc = bt_tree_apply(b->t, &op, &res);
            if (!rc && res.status) rc = res.status;
        }
        rocksdb_free(v);
        if (rc) return -1;
        st->replayed++;
        if (seq % 10000 == 0) { /* keep the batch bookkeeping small */
            uint8_t d[BT_DIGEST_LEN];
            if (bt_tree_digest(d, b->t)) return -1;
            bt_tree_mark_committed(b->t);
        }
    }
    if (bt_tree_digest(b->cur, b->t)) return -1;
    bt_tree_mark_committed(b->t);
    st->replay_ns = now_ns() - t0;
    pthread_mutex_lock(&b->root_mu);
    memcpy(b->root, b->cur, BT_LABEL_LEN);
    b->has_root = b->seq > 0;
    pthread_mutex_unlock(&b->root_mu);
    return 0;
}

typedef struct base_sizes {
    uint64_t bytes[CF_COUNT];
} base_sizes;

/* Flushes and compacts every partition, then reads its table-file bytes. */
static void base_partition_sizes(base *b, base_sizes *out)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < CF_COUNT; i++) {
        char *err = NULL;
        rocksdb_flush_cf(b->db, fo, b->cf[i], &err);
        if (err) rocksdb_free(err);
        rocksdb_compact_range_cf(b->db, b->cf[i], NULL, 0, NULL, 0);
        char *v = rocksdb_property_value_cf(b->db, b->cf[i], "rocksdb.total-sst-files-size");
        out->bytes[i] = v ? strtoull(v, NULL, 10) : 0;
        rocksdb_free(v);
    }
    rocksdb_flushoptions_destroy(fo);
}

#endif
