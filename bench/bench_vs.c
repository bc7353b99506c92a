/*
 * bench_vs.c -- the `vs` benchmark suite: the upstream-style storage layer
 * (the baseline, bench/baseline.h) against our database (bt_db_*), on the
 * same operations in the same process, and the plan's targets as a table.
 * Every dataset, phase and metric is defined in bench/BENCHMARKS.md ("Suite
 * vs"); keep the two in step.
 *
 *   bench_vs [--profile quick|full] [--n N]... [--values 8|16|100]... [--out DIR]
 *            [--dir DIR] [--seed S] [--no-plots] [--keep]
 *
 * Writes DIR/results.jsonl, DIR/results.csv, DIR/targets.csv, the plot data
 * (DIR/growth.csv, DIR/cdf_KIND_DATASET_N.csv) and, when gnuplot is installed, DIR/NAME.png.
 * Correctness (same digests, values, proofs) is checked outside the timers;
 * any failure makes the exit status 1.
 *
 * Internal modes (fresh processes started with exec, so that RocksDB's
 * threads of the parent are not inherited):
 *   bench_vs --crash-child base|ours DIR N C SEED VALUE_BYTES
 *   bench_vs --mem-child base|ours DIR N SEED VALUE_BYTES CACHE_MB
 */
#define _GNU_SOURCE
#include <basistrees.h>
#include <rocksdb/c.h>
#include <sodium.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The baseline walks the nodes a batch created; it needs the inside of a
 * bt_tree (bench-only code; the library itself never exposes it). */
#include "core/tree_int.h"

enum {
    KEY_LEN = 32,
    BATCH = 1000,
    VALUE_MAX = 100,
    VERIFY_EVERY = 50,
    CDF_POINTS = 200,
};

#define BENCH_SUITE "vs"
#include "bench_util.h"

static const dataset VS_DATASETS[] = {
    {"fixed8", 8, 8},                  /* tracker tree: total debt u64 BE        */
    {"fixed16", 16, 16},               /* reserve tree: timestamp || redeemed    */
    {"var100", 100, BT_VALUE_VARIABLE} /* for comparison                         */
};

static const char *TREE = "notes";

#include "vs_util.h"
#include "baseline.h"

/* ------------------------------------------------------------------------ */
/* Profiles                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct profile {
    uint64_t single_ops;   /* single-operation commits (write throughput)   */
    uint64_t warm_samples; /* warm lookups timed per side                   */
    uint64_t cold_samples; /* cold lookups timed per side                   */
    uint64_t crash_ops;    /* operations committed by the crashing child    */
    double conc_seconds;   /* per concurrency configuration and side        */
    uint64_t growth_step;  /* keys per point of the growth curve            */
} profile;

static const profile QUICK = {10000, 20000, 3000, 20000, 1.0, 10000};
static const profile FULL = {50000, 200000, 10000, 99000, 3.0, 100000};
static profile prof;

/* ------------------------------------------------------------------------ */
/* One dataset at one size                                                   */
/* ------------------------------------------------------------------------ */

typedef struct ctx {
    int col;
    uint64_t n, seed;
    const dataset *ds;
    bt_params p;
    char dir[4000];  /* DIR/<dataset>-<N>: base/ and ours/ under it */
    char bdir[4200], odir[4200];
    const char *exe, *out;
    uint8_t mem_digest[BT_DIGEST_LEN];
    uint32_t *last_upd; /* per key: 1 + index of its last single update, or 0 */
    batch in;
} ctx;

#define FAILC(c, ...)                                                                           \
    do {                                                                                        \
        char m_[600];                                                                           \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                   \
        fail("%s@%" PRIu64 ": %s", (c)->ds->name, (c)->n, m_);                                  \
    } while (0)


/* The i-th single update: its key index and value (tag "avlvec:upd"). */
static uint64_t single_key(const ctx *c, uint64_t *state) { return xorshift64(state) % c->n; }

static void update_value(const ctx *c, uint8_t *out, uint64_t i)
{
    make_value(out, c->ds->value_bytes, "avlvec:upd", c->seed, i);
}

/* The value key(k) holds after the single updates. */
static void current_value(const ctx *c, uint8_t *out, uint64_t k)
{
    if (c->last_upd && k < c->n && c->last_upd[k]) update_value(c, out, c->last_upd[k] - 1);
    else make_value(out, c->ds->value_bytes, "avlvec:val", c->seed, k);
}

/* in->ops[0] = the i-th single update. */
static void single_op(ctx *c, uint64_t i, uint64_t *state)
{
    uint8_t v[VALUE_MAX];
    uint64_t k = single_key(c, state);
    update_value(c, v, i);
    batch_update(&c->in, c->ds, c->seed, k, v);
}

#define SINGLE_SEED(c) (0x5151515151ull ^ (c)->n)

static bt_db_options ours_opts(uint64_t cache_bytes)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    if (cache_bytes) o.cache_bytes = cache_bytes;
    return o;
}

static int ours_open(bt_db **db, const char *path, uint64_t cache_bytes, uint64_t *wall_ns)
{
    char msg[512] = "";
    bt_db_options o = ours_opts(cache_bytes);
    uint64_t t0 = now_ns();
    int rc = bt_db_open(db, path, &o, msg, sizeof msg);
    if (wall_ns) *wall_ns = now_ns() - t0;
    if (rc) fail("bt_db_open %s: %s (%s)", path, bt_strerror(rc), msg);
    return rc;
}

/* Our durable load of key(first .. first+count-1) in transactions of BATCH
 * Inserts, each proved (bt_txn_prove) as the baseline proves its batches.
 * growth: optional, a growth-curve callback every prof.growth_step keys. */
static int ours_load(ctx *c, bt_db *db, uint64_t first, uint64_t count, uint64_t *out_ns,
                     growth *g)
{
    uint8_t prev[BT_DIGEST_LEN];
    if (bt_db_digest(prev, db, TREE)) return -1;
    uint64_t total = 0, last = 0;
    for (uint64_t b = 0; b < count / BATCH; b++) {
        batch_inserts(&c->in, c->ds, c->seed, first + b * BATCH, BATCH);
        bt_txn *txn = NULL;
        uint8_t *proof = NULL, d[BT_DIGEST_LEN];
        size_t len = 0;
        bt_commit_info info;
        uint64_t t0 = now_ns();
        int rc = bt_txn_begin(&txn, db);
        if (!rc) rc = bt_txn_apply(txn, TREE, c->in.ops, BATCH, c->in.res);
        if (!rc) rc = bt_txn_prove(&proof, &len, d, txn, TREE);
        if (!rc) {
            rc = bt_txn_commit(txn, &info);
            txn = NULL;
        }
        total += now_ns() - t0;
        if (rc) {
            if (txn) bt_txn_abort(txn);
            bt_free(proof);
            FAILC(c, "ours: load batch: %s (%s)", bt_strerror(rc), bt_db_errmsg(db));
            return -1;
        }
        last = info.commit_seq;
        for (unsigned j = 0; j < BATCH; j++)
            if (c->in.res[j].status || c->in.res[j].found) rc = -1;
        if (!rc && (b % VERIFY_EVERY == 0)) {
            uint8_t vd[BT_DIGEST_LEN];
            if (bt_proof_verify(vd, NULL, &c->p, prev, BT_DIGEST_LEN, proof, len, c->in.ops, BATCH,
                                NULL) ||
                memcmp(vd, d, BT_DIGEST_LEN))
                rc = -1;
        }
        bt_free(proof);
        if (rc) {
            FAILC(c, "ours: load batch %" PRIu64 " failed a check", b);
            return -1;
        }
        memcpy(prev, d, BT_DIGEST_LEN);
        if (g) growth_note(g, first + (b + 1) * BATCH, total);
    }
    uint64_t t0 = now_ns();
    int rc = last ? bt_db_wait_durable(db, last) : 0;
    total += now_ns() - t0;
    if (rc) {
        FAILC(c, "ours: wait durable: %s", bt_strerror(rc));
        return -1;
    }
    if (g) growth_note(g, first + count, total);
    *out_ns = total;
    return 0;
}

/* Single-operation commits: count Updates of existing keys (the tracker's
 * AddNote of a known edge), one transaction each, no proof. */
static int ours_single(ctx *c, bt_db *db, uint64_t count, uint64_t *out_ns)
{
    uint64_t rs = SINGLE_SEED(c), total = 0, last = 0;
    for (uint64_t i = 0; i < count; i++) {
        single_op(c, i, &rs);
        bt_txn *txn = NULL;
        bt_commit_info info;
        uint64_t t0 = now_ns();
        int rc = bt_txn_begin(&txn, db);
        if (!rc) rc = bt_txn_apply(txn, TREE, c->in.ops, 1, c->in.res);
        if (!rc) {
            rc = bt_txn_commit(txn, &info);
            txn = NULL;
        }
        total += now_ns() - t0;
        if (rc || c->in.res[0].status) {
            if (txn) bt_txn_abort(txn);
            FAILC(c, "ours: single update: %s", bt_strerror(rc ? rc : c->in.res[0].status));
            return -1;
        }
        last = info.commit_seq;
    }
    uint64_t t0 = now_ns();
    int rc = bt_db_wait_durable(db, last);
    total += now_ns() - t0;
    *out_ns = total;
    return rc ? -1 : 0;
}

/* The same Updates on the in-memory reference tree, so both sides can be
 * checked against one digest. */
static int mem_reference(ctx *c, uint64_t single)
{
    bt_tree *t = NULL;
    if (bt_tree_new(&t, &c->p)) return -1;
    int rc = 0;
    for (uint64_t b = 0; b < c->n && !rc; b += BATCH) {
        batch_inserts(&c->in, c->ds, c->seed, b, BATCH);
        rc = bt_tree_apply_batch(t, c->in.ops, BATCH, c->in.res);
    }
    uint64_t rs = SINGLE_SEED(c);
    free(c->last_upd);
    c->last_upd = calloc(c->n, sizeof *c->last_upd);
    if (!c->last_upd) rc = BT_ENOMEM;
    for (uint64_t i = 0; i < single && !rc; i++) {
        uint64_t state = rs;
        uint64_t k = single_key(c, &state);
        single_op(c, i, &rs);
        c->last_upd[k] = (uint32_t)(i + 1);
        rc = bt_tree_apply(t, c->in.ops, c->in.res);
        if (!rc && c->in.res[0].status) rc = c->in.res[0].status;
    }
    if (!rc) rc = bt_tree_digest(c->mem_digest, t);
    bt_tree_free(t);
    malloc_trim(0);
    return rc;
}

static void emit_ratio_pair(ctx *c, const char *metric, double bval, double oval, const char *unit)
{
    char name[48];
    snprintf(name, sizeof name, "base_%s", metric);
    emit(c->col, name, bval, unit);
    snprintf(name, sizeof name, "ours_%s", metric);
    emit(c->col, name, oval, unit);
}

static int check_ours(ctx *c, bt_db *db, const char *when)
{
    uint8_t d[BT_DIGEST_LEN];
    if (bt_db_digest(d, db, TREE) || memcmp(d, c->mem_digest, BT_DIGEST_LEN)) {
        FAILC(c, "ours: digest differs from the in-memory reference %s", when);
        return -1;
    }
    return 0;
}

static int check_base(ctx *c, const uint8_t *d, const char *when)
{
    if (memcmp(d, c->mem_digest, BT_DIGEST_LEN)) {
        FAILC(c, "baseline: digest differs from the in-memory reference %s", when);
        return -1;
    }
    return 0;
}

/* Random distinct present keys for lookups (xorshift, fixed seed). */
static uint64_t *pick_keys(uint64_t n, uint64_t m, uint64_t seed)
{
    uint64_t *v = malloc(m * sizeof *v);
    if (!v) return NULL;
    uint64_t s = seed | 1;
    for (uint64_t i = 0; i < m; i++) v[i] = xorshift64(&s) % n;
    return v;
}

/* Times one lookup per sample, all of ours then all of the baseline's (so
 * neither evicts the other's data from the CPU caches between two samples);
 * values are checked outside the timers. */
static int lookups(ctx *c, bt_db *db, base *bsd, uint64_t m, uint64_t seed, uint64_t *lat_o,
                   uint64_t *lat_b, const char *what)
{
    uint64_t *idx = pick_keys(c->n, m, seed);
    if (!idx) return -1;
    uint8_t key[KEY_LEN], want[VALUE_MAX], bv[VALUE_MAX];
    int ret = 0;
    for (uint64_t i = 0; i < m && !ret; i++) {
        make_key(key, c->seed, idx[i]);
        uint8_t *v = NULL;
        size_t vl = 0;
        uint64_t t0 = now_ns();
        int rc = bt_db_get(&v, &vl, db, TREE, key, KEY_LEN);
        lat_o[i] = now_ns() - t0;
        current_value(c, want, idx[i]);
        if (rc || vl != c->ds->value_bytes || memcmp(v, want, vl)) {
            FAILC(c, "ours: %s lookup of key %" PRIu64 ": wrong value (%s)", what, idx[i],
                  bt_strerror(rc));
            ret = -1;
        }
        bt_free(v);
    }
    for (uint64_t i = 0; i < m && !ret; i++) {
        make_key(key, c->seed, idx[i]);
        size_t bl = 0;
        uint64_t t0 = now_ns();
        int brc = base_get(bsd, key, bv, &bl);
        lat_b[i] = now_ns() - t0;
        current_value(c, want, idx[i]);
        if (brc || bl != c->ds->value_bytes || memcmp(bv, want, bl)) {
            FAILC(c, "baseline: %s lookup of key %" PRIu64 ": wrong value (%d)", what, idx[i], brc);
            ret = -1;
        }
    }
    free(idx);
    return ret;
}

static void emit_lat3(ctx *c, const char *side, const char *base_name, uint64_t *v, size_t n)
{
    char name[48];
    qsort(v, n, sizeof *v, cmp_u64);
    static const double qs[3] = {0.50, 0.95, 0.99};
    static const char *qn[3] = {"p50", "p95", "p99"};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s_%s_%s", side, base_name, qn[i]);
        emit(c->col, name, pct(v, n, qs[i]), "ns");
    }
    snprintf(name, sizeof name, "%s_%s_mean", side, base_name);
    emit(c->col, name, mean_u64(v, n), "ns");
}


/* ---- our checkpoints ------------------------------------------------------
 * VS_HAVE_CHECKPOINTS (1; 0 builds against a library without issue 4's
 * checkpoint API).  The rows "checkpoint creation", "recovery from
 * checkpoint" and "checkpoint size" get our numbers:
 *   ours_checkpoint_create_ms   one bt_db_checkpoint_create on the loaded tree
 *   ours_checkpoint_bytes       growth of the checkpoints partition / 1
 *   ours_checkpoint_recovery_ms bt_db_rollback to that checkpoint after 1000
 *                               more single updates moved past it; the digest
 *                               must be the checkpoint's again
 */
#ifndef VS_HAVE_CHECKPOINTS
#define VS_HAVE_CHECKPOINTS 1
#endif
static uint64_t ours_ckpt_id;

/* Bytes of a checkpoint record as docs/FORMAT.md section 4.4c lays it out
 * (key `c` || id, then v || id || timestamp || commit seq || op seq ||
 * frontier || label length || label || tree count || per tree (id || root
 * node id || digest || count) || crc), from what bt_db_checkpoint_get
 * reports.  Orphan records the checkpoint later causes are not included. */
static size_t ours_checkpoint_record_bytes(const bt_checkpoint *ck)
{
    return (1 + 8) + (1 + 5 * 8 + 1 + strlen(ck->label) + 2 + ck->ntrees * (4 + 8 + BT_DIGEST_LEN + 8) + 4);
}

static void ours_checkpoint(ctx *c, bt_db *db)
{
#if VS_HAVE_CHECKPOINTS
    uint64_t t0 = now_ns();
    int rc = bt_db_checkpoint_create(&ours_ckpt_id, db, "bench");
    uint64_t el = now_ns() - t0;
    if (rc) {
        FAILC(c, "bt_db_checkpoint_create: %s", bt_strerror(rc));
        return;
    }
    emit(c->col, "ours_checkpoint_create_ms", (double)el / 1e6, "ms");
    bt_checkpoint *ck = NULL;
    rc = bt_db_checkpoint_get(&ck, db, ours_ckpt_id);
    if (rc || !ck || ck->id != ours_ckpt_id || ck->ntrees != 1 ||
        memcmp(ck->trees[0].digest, c->mem_digest, BT_DIGEST_LEN)) {
        FAILC(c, "bt_db_checkpoint_get does not describe the checkpoint just made");
    } else {
        emit(c->col, "ours_checkpoint_bytes", (double)ours_checkpoint_record_bytes(ck), "bytes");
    }
    bt_free(ck);
#else
    (void)c, (void)db, (void)ours_ckpt_id;
#endif
}

static void ours_checkpoint_recovery(ctx *c, bt_db *db)
{
#if VS_HAVE_CHECKPOINTS
    /* a few more updates so the rollback has something to undo */
    uint64_t rs = 0xDEADull, t0;
    for (uint64_t i = 0; i < 1000; i++) {
        single_op(c, prof.single_ops + i, &rs);
        bt_txn *txn = NULL;
        bt_commit_info info;
        if (bt_txn_begin(&txn, db) || bt_txn_apply(txn, TREE, c->in.ops, 1, c->in.res) ||
            bt_txn_commit(txn, &info)) {
            if (txn) bt_txn_abort(txn);
            FAILC(c, "updates before the rollback failed");
            return;
        }
    }
    t0 = now_ns();
    int rc = bt_db_rollback(db, ours_ckpt_id);
    uint64_t el = now_ns() - t0;
    if (rc) FAILC(c, "bt_db_rollback: %s", bt_strerror(rc));
    else emit(c->col, "ours_checkpoint_recovery_ms", (double)el / 1e6, "ms");
    check_ours(c, db, "after the rollback to the checkpoint");
#else
    (void)c, (void)db;
#endif
}

/* ---- the crashing child and the memory child ----------------------------- */

static int run_child(const char *exe, char *const argv[], char *line, size_t cap,
                     struct rusage *ru)
{
    int pfd[2];
    if (pipe(pfd)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(exe, argv);
        _exit(127);
    }
    close(pfd[1]);
    line[0] = 0;
    FILE *f = fdopen(pfd[0], "r");
    if (!f || !fgets(line, (int)cap, f)) line[0] = 0;
    if (f) fclose(f);
    int status = 0;
    struct rusage r0;
    if (wait4(pid, &status, 0, ru ? ru : &r0) < 0) return -1;
    line[strcspn(line, "\n")] = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int parse_hex_digest(uint8_t out[BT_DIGEST_LEN], const char *s)
{
    if (strlen(s) < 2 * BT_DIGEST_LEN) return -1;
    for (int i = 0; i < BT_DIGEST_LEN; i++) {
        unsigned x;
        if (sscanf(s + 2 * i, "%2x", &x) != 1) return -1;
        out[i] = (uint8_t)x;
    }
    return 0;
}

static const dataset *dataset_by_bytes(unsigned vb)
{
    for (size_t i = 0; i < sizeof VS_DATASETS / sizeof VS_DATASETS[0]; i++)
        if (VS_DATASETS[i].value_bytes == vb) return &VS_DATASETS[i];
    return NULL;
}

static ctx *child_ctx(const char *dir, const char *n, const char *seed, const char *vb)
{
    static ctx c;
    c.n = strtoull(n, NULL, 10);
    c.seed = strtoull(seed, NULL, 10);
    c.ds = dataset_by_bytes((unsigned)atoi(vb));
    if (!c.ds || sodium_init() < 0) _exit(3);
    c.p = (bt_params)BT_PARAMS_INIT;
    c.p.value_len = c.ds->value_len_param;
    c.col = -1;
    snprintf(c.dir, sizeof c.dir, "%s", dir);
    json_out = stderr;
    return &c;
}

/* Commits C more inserts (durably), prints the digest, exits without closing. */
static int crash_child(int argc, char **argv)
{
    if (argc < 8) return 2;
    ctx *c = child_ctx(argv[3], argv[4], argv[6], argv[7]);
    uint64_t count = strtoull(argv[5], NULL, 10);
    uint8_t d[BT_DIGEST_LEN];
    char h[2 * BT_DIGEST_LEN + 1];
    if (!strcmp(argv[2], "ours")) {
        bt_db *db = NULL;
        uint64_t ns;
        if (ours_open(&db, c->dir, 0, NULL)) _exit(4);
        if (ours_load(c, db, c->n, count, &ns, NULL)) _exit(5);
        if (bt_db_digest(d, db, TREE)) _exit(6);
    } else {
        base *bs = base_open(c->dir, &c->p, true);
        if (!bs) _exit(4);
        /* the baseline has no persisted tree: it rebuilds it first */
        if (base_recover(bs, NULL)) _exit(5);
        if (base_load(bs, c->ds, c->seed, c->n, count, &c->in, NULL, NULL)) _exit(6);
        if (bt_tree_digest(d, bs->t)) _exit(7);
        /* upstream never syncs; flushing the WAL to the OS is what a
         * process crash keeps */
        base_flush_wal(bs);
    }
    hex(h, d, BT_DIGEST_LEN);
    printf("%s\n", h);
    fflush(stdout);
    _exit(failures ? 8 : 0);
}

/* Opens, performs lookups, prints nothing but its exit status; the parent
 * reads the peak RSS from wait4. */
static int mem_child(int argc, char **argv)
{
    if (argc < 9) return 2;
    ctx *c = child_ctx(argv[3], argv[4], argv[5], argv[6]);
    uint64_t cache = strtoull(argv[7], NULL, 10) << 20;
    uint64_t m = strtoull(argv[8], NULL, 10);
    uint64_t *idx = pick_keys(c->n, m, 0xABCDEFull);
    uint8_t key[KEY_LEN], bv[VALUE_MAX];
    if (!idx) _exit(3);
    if (!strcmp(argv[2], "ours")) {
        bt_db *db = NULL;
        if (ours_open(&db, c->dir, cache, NULL)) _exit(4);
        for (uint64_t i = 0; i < m; i++) {
            uint8_t *v = NULL;
            size_t vl;
            make_key(key, c->seed, idx[i]);
            if (bt_db_get(&v, &vl, db, TREE, key, KEY_LEN)) _exit(5);
            bt_free(v);
        }
        bt_db_close(db);
    } else {
        base *bs = base_open(c->dir, &c->p, false);
        if (!bs || base_recover(bs, NULL)) _exit(4);
        for (uint64_t i = 0; i < m; i++) {
            size_t bl;
            make_key(key, c->seed, idx[i]);
            if (base_get(bs, key, bv, &bl)) _exit(5);
        }
        base_close(bs);
    }
    /* the peak of this process image only (ru_maxrss would include the
     * parent's resident set inherited through fork) */
    char line[256];
    unsigned long long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    printf("%llu\n", kb);
    fflush(stdout);
    _exit(kb ? 0 : 9);
}

static int phase_crash(ctx *c, bool ours, uint8_t want[BT_DIGEST_LEN])
{
    char nbuf[32], cbuf[32], sbuf[32], vbuf[16], line[256];
    snprintf(nbuf, sizeof nbuf, "%" PRIu64, c->n);
    snprintf(cbuf, sizeof cbuf, "%" PRIu64, prof.crash_ops);
    snprintf(sbuf, sizeof sbuf, "%" PRIu64, c->seed);
    snprintf(vbuf, sizeof vbuf, "%u", c->ds->value_bytes);
    char *argv[] = {(char *)c->exe, "--crash-child", ours ? "ours" : "base",
                    ours ? c->odir : c->bdir, nbuf, cbuf, sbuf, vbuf, NULL};
    if (run_child(c->exe, argv, line, sizeof line, NULL) || parse_hex_digest(want, line)) {
        FAILC(c, "%s crash child failed", ours ? "ours" : "baseline");
        return -1;
    }
    return 0;
}

static double phase_mem_child(ctx *c, bool ours, uint64_t cache_mb, uint64_t m)
{
    char nbuf[32], sbuf[32], vbuf[16], cbuf[32], mbuf[32], line[64];
    snprintf(nbuf, sizeof nbuf, "%" PRIu64, c->n + prof.crash_ops);
    snprintf(sbuf, sizeof sbuf, "%" PRIu64, c->seed);
    snprintf(vbuf, sizeof vbuf, "%u", c->ds->value_bytes);
    snprintf(cbuf, sizeof cbuf, "%" PRIu64, cache_mb);
    snprintf(mbuf, sizeof mbuf, "%" PRIu64, m);
    char *argv[] = {(char *)c->exe, "--mem-child", ours ? "ours" : "base",
                    ours ? c->odir : c->bdir, nbuf, sbuf, vbuf, cbuf, mbuf, NULL};
    if (run_child(c->exe, argv, line, sizeof line, NULL)) {
        FAILC(c, "%s memory child failed", ours ? "ours" : "baseline");
        return -1;
    }
    return (double)strtoull(line, NULL, 10) * 1024.0;
}

/* ---- concurrency: one writer, R readers ---------------------------------- */

typedef struct conc {
    ctx *c;
    bt_db *db;
    base *bs;
    atomic_bool stop;
    atomic_uint_fast64_t reads;
    uint64_t writes;
    int failed;
} conc;

typedef struct reader_arg {
    conc *k;
    uint64_t seed;
} reader_arg;

static void *reader_main(void *arg)
{
    reader_arg *ra = arg;
    conc *k = ra->k;
    uint64_t s = ra->seed | 1, done = 0;
    uint8_t key[KEY_LEN], bv[VALUE_MAX];
    while (!atomic_load(&k->stop)) {
        make_key(key, k->c->seed, xorshift64(&s) % k->c->n);
        if (k->db) {
            uint8_t *v = NULL;
            size_t vl;
            if (bt_db_get(&v, &vl, k->db, TREE, key, KEY_LEN)) k->failed = 1;
            bt_free(v);
        } else {
            size_t bl;
            if (base_get_shared(k->bs, key, bv, &bl)) k->failed = 1;
        }
        done++;
    }
    atomic_fetch_add(&k->reads, done);
    return NULL;
}

/* Runs the writer (single-op Updates) on this thread for `seconds` while
 * `readers` threads read; returns writer ops/s and reader ops/s. */
static int conc_run(ctx *c, bt_db *db, base *bs, int readers, double seconds, double *w_ops,
                    double *r_ops, uint64_t *upd_counter)
{
    conc k = {.c = c, .db = db, .bs = bs};
    atomic_init(&k.stop, false);
    atomic_init(&k.reads, 0);
    pthread_t th[4];
    reader_arg ra[4];
    for (int i = 0; i < readers; i++) {
        ra[i] = (reader_arg){&k, 0x77ull * (uint64_t)(i + 1) + c->n};
        if (pthread_create(&th[i], NULL, reader_main, &ra[i])) return -1;
    }
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), writes = 0, last = 0;
    uint64_t rs = 0x99ull + (uint64_t)readers;
    int rc = 0;
    while (!rc && now_ns() < end) {
        /* an Update to the value the key already holds: every later check
         * of values and digests stays valid */
        uint64_t key = xorshift64(&rs) % c->n;
        uint8_t v[VALUE_MAX];
        current_value(c, v, key);
        batch_update(&c->in, c->ds, c->seed, key, v);
        (*upd_counter)++;
        if (db) {
            bt_txn *txn = NULL;
            bt_commit_info info;
            rc = bt_txn_begin(&txn, db);
            if (!rc) rc = bt_txn_apply(txn, TREE, c->in.ops, 1, c->in.res);
            if (!rc) rc = bt_txn_commit(txn, &info);
            else if (txn) bt_txn_abort(txn);
            if (!rc) last = info.commit_seq;
        } else {
            rc = base_single(bs, c->in.ops, true);
        }
        writes++;
    }
    if (db && last && !rc) rc = bt_db_wait_durable(db, last);
    uint64_t el = now_ns() - t0;
    atomic_store(&k.stop, true);
    for (int i = 0; i < readers; i++) pthread_join(th[i], NULL);
    if (rc || k.failed) {
        FAILC(c, "%s concurrency run with %d readers failed", db ? "ours" : "baseline", readers);
        return -1;
    }
    *w_ops = (double)writes * 1e9 / (double)el;
    *r_ops = (double)atomic_load(&k.reads) * 1e9 / (double)el;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* run_one: every phase for one dataset and size                             */
/* ------------------------------------------------------------------------ */

static void run_one(ctx *c, bool keep, bool concurrency, bool memory)
{
    bt_db *db = NULL;
    base *bs = NULL;
    rm_rf(c->dir);
    mkdir(c->dir, 0755);
    snprintf(c->bdir, sizeof c->bdir, "%s/base", c->dir);
    snprintf(c->odir, sizeof c->odir, "%s/ours", c->dir);
    uint64_t single = prof.single_ops;

    fprintf(stderr, "%s, %" PRIu64 " notes: in-memory reference\n", c->ds->name, c->n);
    if (mem_reference(c, single)) {
        FAILC(c, "in-memory reference failed");
        return;
    }

    /* 1. Batch load (batches of 1000 Inserts, each proved). */
    fprintf(stderr, "  batch load: ours\n");
    growth go = growth_new(c->n, prof.growth_step), gb = growth_new(c->n, prof.growth_step);
    uint64_t ons = 0, bns = 0;
    if (ours_open(&db, c->odir, 0, NULL)) goto out;
    if (bt_db_tree_create(db, TREE, &c->p)) {
        FAILC(c, "tree create: %s", bt_db_errmsg(db));
        goto out;
    }
    if (ours_load(c, db, 0, c->n, &ons, &go)) goto out;
    bt_db_stats st;
    bt_db_stats_get(&st, db);
    uint64_t ours_nodes = st.nodes_written;
    fprintf(stderr, "  batch load: baseline\n");
    bs = base_open(c->bdir, &c->p, true);
    if (!bs) {
        FAILC(c, "baseline open failed");
        goto out;
    }
    if (base_load(bs, c->ds, c->seed, 0, c->n, &c->in, &bns, &gb)) {
        FAILC(c, "baseline load failed");
        goto out;
    }
    emit_ratio_pair(c, "batch_insert_throughput", (double)c->n * 1e9 / (double)bns,
                    (double)c->n * 1e9 / (double)ons, "ops/s");
    emit_ratio_pair(c, "nodes_per_second", (double)bs->node_puts * 1e9 / (double)bns,
                    (double)ours_nodes * 1e9 / (double)ons, "ops/s");
    emit(c->col, "base_oplog_throughput", (double)bs->op_puts * 1e9 / (double)bs->op_ns, "ops/s");
    emit(c->col, "ours_oplog_throughput", (double)c->n * 1e9 / (double)ons, "ops/s");
    emit_ratio_pair(c, "nodes_written_per_note", (double)bs->node_puts / (double)c->n,
                    (double)ours_nodes / (double)c->n, "");
    emit_ratio_pair(c, "insert_throughput_at_n", growth_last(&gb), growth_last(&go), "ops/s");
    growth_write(c->out, c->ds->name, c->n, &gb, &go);
    growth_free(&gb);
    growth_free(&go);

    /* 2. Single-operation commits (Updates of existing notes). */
    fprintf(stderr, "  single-operation commits (%" PRIu64 " each)\n", single);
    uint64_t os_ns = 0, bs_ns = 0;
    if (ours_single(c, db, single, &os_ns)) goto out;
    {
        uint64_t rs = SINGLE_SEED(c), t0 = now_ns();
        for (uint64_t i = 0; i < single; i++) {
            single_op(c, i, &rs);
            if (base_single(bs, c->in.ops, true)) {
                FAILC(c, "baseline: single update failed");
                goto out;
            }
        }
        bs_ns = now_ns() - t0;
    }
    emit_ratio_pair(c, "write_throughput", (double)single * 1e9 / (double)bs_ns,
                    (double)single * 1e9 / (double)os_ns, "ops/s");
    uint8_t bd[BT_DIGEST_LEN];
    if (bt_tree_digest(bd, bs->t) || check_base(c, bd, "after the writes")) goto out;
    if (check_ours(c, db, "after the writes")) goto out;

    /* 3. Warm lookups. */
    fprintf(stderr, "  warm lookups\n");
    uint64_t m = prof.warm_samples < c->n ? prof.warm_samples : c->n;
    uint64_t *lo = malloc(m * sizeof *lo), *lb = malloc(m * sizeof *lb);
    if (!lo || !lb) goto out_lat;
    lookups(c, db, bs, m < 2000 ? m : 2000, 0x1234ull, lo, lb, "warm-up");
    if (lookups(c, db, bs, m, 0xC0FFEEull ^ c->n, lo, lb, "warm")) goto out_lat;
    emit_lat3(c, "ours", "warm_lookup", lo, m);
    emit_lat3(c, "base", "warm_lookup", lb, m);
    cdf_write(c->out, c->ds->name, c->n, "warm", lb, lo, m);

    /* 4. Checkpoint creation (baseline; ours when the API exists). */
    fprintf(stderr, "  checkpoints\n");
    {
        uint64_t t0 = now_ns();
        size_t ck_bytes = 0;
        if (base_checkpoint(bs, &ck_bytes)) {
            FAILC(c, "baseline checkpoint failed");
            goto out_lat;
        }
        emit(c->col, "base_checkpoint_create_ms", (double)(now_ns() - t0) / 1e6, "ms");
        emit(c->col, "base_checkpoint_bytes", (double)ck_bytes, "bytes");
        ours_checkpoint(c, db);
    }

    /* 5. Clean close, disk bytes, reopen (cold), cold lookups. */
    fprintf(stderr, "  close, sizes, reopen, cold lookups\n");
    base_sizes sz;
    base_partition_sizes(bs, &sz);
    bt_db_compact(db);
    bt_db_stats_get(&st, db);
    emit_ratio_pair(c, "node_bytes_per_note", (double)sz.bytes[1] / (double)c->n,
                    (double)st.partition_bytes[0] / (double)c->n, "bytes");
    emit_ratio_pair(c, "oplog_bytes_per_op", (double)sz.bytes[2] / (double)bs->seq,
                    (double)st.partition_bytes[1] / (double)st.ops, "bytes");
    base_close(bs);
    bs = NULL;
    int rc = bt_db_close(db);
    db = NULL;
    if (rc) {
        FAILC(c, "bt_db_close: %s", bt_strerror(rc));
        goto out_lat;
    }
    emit_ratio_pair(c, "disk_bytes_per_note", (double)du_bytes(c->bdir) / (double)c->n,
                    (double)du_bytes(c->odir) / (double)c->n, "bytes");
    evict_dir(c->odir);
    evict_dir(c->bdir);
    uint64_t owall = 0, bwall = 0;
    if (ours_open(&db, c->odir, 0, &owall) || check_ours(c, db, "after the clean reopen"))
        goto out_lat;
    bs = base_open(c->bdir, &c->p, false);
    uint64_t t0 = now_ns();
    base_recover_stats rs = {0};
    if (!bs || base_recover(bs, &rs)) {
        FAILC(c, "baseline recovery failed");
        goto out_lat;
    }
    bwall = now_ns() - t0 + bs->open_ns;
    if (bt_tree_digest(bd, bs->t) || check_base(c, bd, "after the recovery")) goto out_lat;
    emit_ratio_pair(c, "recovery_ms", (double)bwall / 1e6, (double)owall / 1e6, "ms");
    emit(c->col, "base_recovery_replayed_ops", (double)rs.replayed, "");
    emit(c->col, "base_replay_ops_per_s", (double)rs.replayed * 1e9 / (double)rs.replay_ns, "ops/s");
    /* the baseline ignores checkpoints: recovery from one is the same replay */
    emit(c->col, "base_checkpoint_recovery_ms", (double)bwall / 1e6, "ms");
    uint64_t mc = prof.cold_samples < c->n ? prof.cold_samples : c->n;
    if (lookups(c, db, bs, mc, 0xBADC0DEull ^ c->n, lo, lb, "cold")) goto out_lat;
    emit_lat3(c, "ours", "cold_lookup", lo, mc);
    emit_lat3(c, "base", "cold_lookup", lb, mc);
    cdf_write(c->out, c->ds->name, c->n, "cold", lb, lo, mc);
    {
        /* ours: the whole operation log from op 1, verify-only (the
         * baseline's recovery is this replay) */
        bt_replay_info ri;
        uint64_t r0 = now_ns();
        rc = bt_db_replay(&ri, db, NULL, NULL, UINT64_MAX, UINT64_MAX);
        uint64_t rel = now_ns() - r0;
        if (rc) FAILC(c, "bt_db_replay: %s (%s)", bt_strerror(rc), bt_db_errmsg(db));
        else {
            emit(c->col, "ours_replay_ops_per_s", (double)ri.ops * 1e9 / (double)rel, "ops/s");
            emit(c->col, "ours_replayed_ops", (double)ri.ops, "");
        }
    }
    ours_checkpoint_recovery(c, db);
    base_close(bs);
    bs = NULL;
    bt_db_close(db);
    db = NULL;

    /* 6. Crash: a child commits more operations and dies; reopen both. */
    fprintf(stderr, "  crash (%" PRIu64 " more inserts in a child) and reopen\n", prof.crash_ops);
    {
        uint8_t wo[BT_DIGEST_LEN], wb[BT_DIGEST_LEN];
        if (phase_crash(c, true, wo) || phase_crash(c, false, wb)) goto out_lat;
        if (memcmp(wo, wb, BT_DIGEST_LEN)) FAILC(c, "crash children disagree on the digest");
        memcpy(c->mem_digest, wo, BT_DIGEST_LEN);
        if (ours_open(&db, c->odir, 0, &owall) || check_ours(c, db, "after the crash reopen"))
            goto out_lat;
        bt_db_stats_get(&st, db);
        bs = base_open(c->bdir, &c->p, false);
        t0 = now_ns();
        if (!bs || base_recover(bs, &rs)) {
            FAILC(c, "baseline crash recovery failed");
            goto out_lat;
        }
        bwall = now_ns() - t0 + bs->open_ns;
        if (bt_tree_digest(bd, bs->t) || check_base(c, bd, "after the crash recovery")) goto out_lat;
        emit_ratio_pair(c, "crash_recovery_ms", (double)bwall / 1e6, (double)owall / 1e6, "ms");
        emit(c->col, "ours_crash_replayed_ops", (double)st.replayed_ops, "");
        if (st.replayed_ops && st.open_ms > 0)
            emit(c->col, "ours_crash_replay_ops_per_s", (double)st.replayed_ops * 1e3 / st.open_ms, "ops/s");
    }

    /* 7. Concurrency (after the recoveries, so that they replay only the
     * load and the single updates). */
    if (concurrency) {
        fprintf(stderr, "  concurrency (1 writer + 0..4 readers)\n");
        uint64_t upd = 0;
        static const int RS[] = {0, 1, 2, 4};
        double w0o = 0, w0b = 0;
        for (size_t i = 0; i < sizeof RS / sizeof RS[0]; i++) {
            double wo, ro, wb, rb;
            if (conc_run(c, db, NULL, RS[i], prof.conc_seconds, &wo, &ro, &upd)) break;
            if (conc_run(c, NULL, bs, RS[i], prof.conc_seconds, &wb, &rb, &upd)) break;
            if (RS[i] == 0) w0o = wo, w0b = wb;
            char name[48];
            if (RS[i] > 0) {
                snprintf(name, sizeof name, "conc_r%d_reader_ops", RS[i]);
                emit_ratio_pair(c, name, rb, ro, "ops/s");
            }
            snprintf(name, sizeof name, "conc_r%d_writer_slowdown", RS[i]);
            emit_ratio_pair(c, name, w0b / wb, w0o / wo, "");
        }
        /* the writers rewrote values in place: digests are unchanged */
        uint8_t od[BT_DIGEST_LEN];
        if (bt_tree_digest(bd, bs->t) || bt_db_digest(od, db, TREE) ||
            memcmp(bd, c->mem_digest, BT_DIGEST_LEN) || memcmp(od, c->mem_digest, BT_DIGEST_LEN))
            FAILC(c, "after the concurrency runs a digest changed");
    }

    base_close(bs);
    bs = NULL;
    bt_db_close(db);
    db = NULL;

    /* 8. Memory: peak RSS of a fresh process opening and reading. */
    if (memory) {
        fprintf(stderr, "  memory (peak RSS of a reader process)\n");
        uint64_t mm = c->n < 100000 ? c->n : 100000;
        static const uint64_t budgets[] = {16, 64, 256};
        for (size_t i = 0; i < 3; i++) {
            char name[48];
            snprintf(name, sizeof name, "ours_peak_rss_cache%" PRIu64 "m", budgets[i]);
            double r = phase_mem_child(c, true, budgets[i], mm);
            if (r > 0) emit(c->col, name, r, "bytes");
        }
        double r = phase_mem_child(c, false, 0, mm);
        if (r > 0) emit(c->col, "base_peak_rss", r, "bytes");
    }
out_lat:
    free(lo);
    free(lb);
out:
    free(c->last_upd);
    c->last_upd = NULL;
    if (bs) base_close(bs);
    if (db) bt_db_close(db);
    if (!keep) rm_rf(c->dir);
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--crash-child")) return crash_child(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--mem-child")) return mem_child(argc, argv);
    uint64_t sizes[8];
    int n_sizes = 0, n_values = 0;
    unsigned values[3];
    bool full = false, keep = false, plots = true;
    uint64_t seed = 42;
    const char *out = "bench-results", *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--profile") && next) {
            if (!strcmp(next, "full")) full = true;
            else if (strcmp(next, "quick")) {
                fprintf(stderr, "bench: --profile: quick or full, not '%s'\n", next);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--n") && next) {
            char *end;
            unsigned long long v = strtoull(next, &end, 10);
            if (*end || v < 10 * BATCH || v % BATCH || v > 100000000ull || n_sizes == 8) {
                fprintf(stderr, "--n: a multiple of %d between 10000 and 1e8\n", BATCH);
                return 2;
            }
            sizes[n_sizes++] = v;
            i++;
        } else if (!strcmp(a, "--values") && next) {
            unsigned v = (unsigned)atoi(next);
            if (!dataset_by_bytes(v) || n_values == 3) {
                fprintf(stderr, "bench: --values: 8, 16 or 100 (at most three times), not '%s'\n", next);
                return 2;
            }
            values[n_values++] = v;
            i++;
        } else if (!strcmp(a, "--out") && next) {
            out = next;
            i++;
        } else if (!strcmp(a, "--dir") && next) {
            dir = next;
            i++;
        } else if (!strcmp(a, "--seed") && next) {
            seed = strtoull(next, NULL, 10);
            i++;
        } else if (!strcmp(a, "--no-plots")) {
            plots = false;
        } else if (!strcmp(a, "--keep")) {
            keep = true;
        } else {
            fprintf(stderr, "bench: unknown option or missing value '%s' (usage: --help)\n", a);
            return 2;
        }
    }
    prof = full ? FULL : QUICK;
    if (n_sizes == 0) {
        sizes[n_sizes++] = 100000;
        if (full) sizes[n_sizes++] = 1000000;
    }
    if (n_values == 0)
        for (size_t i = 0; i < 3; i++) values[n_values++] = VS_DATASETS[i].value_bytes;
    char dirbuf[256];
    if (!dir) {
        snprintf(dirbuf, sizeof dirbuf, "/tmp/bench_vs.%d", (int)getpid());
        dir = dirbuf;
    }
    if ((mkdir(dir, 0755) && errno != EEXIST) || (mkdir(out, 0755) && errno != EEXIST)) {
        perror("mkdir");
        return 2;
    }
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0) return 2;
    exe[el] = 0;
    char path[4600];
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    if (!(json_out = fopen(path, "w"))) {
        perror(path);
        return 2;
    }
    if (sodium_init() < 0) return 2;
    (void)DATASETS;
    (void)emit_latency;
    (void)rss_peak_bytes;
    growth_reset(out);

    double load[1] = {0};
    if (getloadavg(load, 1) == 1) emit(-1, "loadavg_1m_start", load[0], "");
    uint64_t t_start = now_ns();
    for (int s = 0; s < n_sizes && !failures; s++) {
        for (int v = 0; v < n_values && !failures; v++) {
            const dataset *ds = dataset_by_bytes(values[v]);
            if (n_columns == (int)(sizeof columns / sizeof columns[0])) break;
            static ctx c;
            memset(&c, 0, sizeof c);
            c.col = n_columns;
            columns[n_columns++] = (column){sizes[s], ds};
            c.n = sizes[s];
            c.seed = seed;
            c.ds = ds;
            c.exe = exe;
            c.out = out;
            c.p = (bt_params)BT_PARAMS_INIT;
            c.p.value_len = ds->value_len_param;
            snprintf(c.dir, sizeof c.dir, "%.3000s/%s-%" PRIu64, dir, ds->name, sizes[s]);
            bool tracker = ds->value_bytes == 8;
            run_one(&c, keep, tracker, tracker);
        }
    }
    if (getloadavg(load, 1) == 1) emit(-1, "loadavg_1m_end", load[0], "");
    emit(-1, "elapsed_seconds", (double)(now_ns() - t_start) / 1e9, "s");
    emit(-1, "correctness_failures", failures, "");
    fclose(json_out);
    json_out = stdout;

    print_table();
    write_csv(out);
    print_targets(out, full);
    for (size_t i = 0; i < n_records; i++)
        if (records[i].col < 0) printf("%s = %.2f %s\n", records[i].metric, records[i].value, records[i].unit);
    printf("(a load average above ~1 means other processes shared the 2 cores; compare the\n"
           " ratios, which were measured in the same run)\n");
    if (plots) make_plots(out);
    printf("results: %s/results.jsonl, %s/results.csv, %s/targets.csv\n", out, out, out);
    printf("correctness failures: %d\n", failures);
    if (!keep) rmdir(dir);
    free(records);
    return failures ? 1 : 0;
}
