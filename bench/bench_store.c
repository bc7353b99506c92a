/*
 * bench_store.c -- the `store` benchmark suite: the persistent database
 * (RocksDB) against the in-memory tree, in one process.  Every dataset, phase
 * and metric is defined in bench/BENCHMARKS.md ("Suite store"); keep the two
 * in step.
 *
 *   bench_store [--n N]... [--values 8|100] [--quick] [--full] [--dir DIR]
 *               [--json FILE] [--seed S] [--cache-mb M] [--crash-ops C] [--keep]
 *               [--load-only] [--memory] [--config FILE]
 *
 * Correctness is checked along the way, outside the timers; any failure makes
 * the exit status 1.
 *
 * Internal mode (phase 8, the crashing child, started with fork + exec so it
 * is a fresh process without RocksDB's threads of the parent):
 *   bench_store --crash-child DIR N C SEED VALUE_BYTES CACHE_MB
 *
 * --memory replaces every phase by the memory check (bench/BENCHMARKS.md,
 * "Memory check"): a fresh child process loads N notes into a new database
 * with the configured caches, then proves random lookups; its peak RSS must
 * stay within the memory budget the options set (node cache + unflushed
 * nodes + RocksDB block cache + memtables) + 128 MiB:
 *   bench_store --mem-child DIR N SEED VALUE_BYTES CACHE_MB
 */
#define _GNU_SOURCE
#include <basistrees.h>
#include <sodium.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
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

enum {
    KEY_LEN = 32,
    BATCH = 1000,
    LOOKUP_SAMPLES_MAX = 1000000,
    COLD_SAMPLES = 10000,
    PROOF_SAMPLES = 20000,
    PROOF_WARMUP = 200,
    VERIFY_EVERY = 100,
    VALUE_MAX = 100,
    SYNC_MAX_N = 100000,
    CHECK_MAX_N = 1000000,
};

#define BENCH_SUITE "store"
#include "bench_util.h"

static const char *TREE = "notes";
static const char *PART_NAMES[5] = {"nodes", "operations", "checkpoints", "metadata", "indexes"};

/* ------------------------------------------------------------------------ */
/* Small helpers (as bench_core.c)                                           */
/* ------------------------------------------------------------------------ */

/* Resets the process's peak RSS (Linux >= 4.0).  Returns true on success. */
static bool rss_peak_reset(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0) return false;
    bool ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

/* ---- directories ---------------------------------------------------------- */

static uint64_t du_total;
static int du_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p, (void)flag, (void)f;
    du_total += (uint64_t)st->st_blocks * 512u;
    return 0;
}

/* Bytes allocated by a directory tree, as du counts them. */
static uint64_t du_bytes(const char *dir)
{
    du_total = 0;
    nftw(dir, du_cb, 16, FTW_PHYS);
    return du_total;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Evicts a directory's files from the OS page cache (only these files);
 * returns the bytes still resident afterwards (mincore), or -1. */
static int64_t evict_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int64_t resident = 0;
    long page = sysconf(_SC_PAGESIZE);
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) || !S_ISREG(st.st_mode)) continue;
        int fd = open(p, O_RDONLY);
        if (fd < 0) continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (st.st_size > 0) {
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
            if (m != MAP_FAILED) {
                size_t pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
                unsigned char *vec = malloc(pages);
                if (vec && mincore(m, (size_t)st.st_size, vec) == 0)
                    for (size_t i = 0; i < pages; i++) resident += (vec[i] & 1) ? page : 0;
                free(vec);
                munmap(m, (size_t)st.st_size);
            }
        }
        close(fd);
    }
    closedir(d);
    return resident;
}

/* ------------------------------------------------------------------------ */
/* Results: JSON lines as they come, a table at the end                      */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* One dataset at one size                                                   */
/* ------------------------------------------------------------------------ */

typedef struct ctx {
    int col;
    uint64_t n, seed, cache_bytes, crash_ops;
    const dataset *ds;
    bt_params p;
    char dir[4096];
    const char *exe;
    uint8_t mem_digest[BT_DIGEST_LEN];
    uint8_t keys[BATCH][KEY_LEN];
    uint8_t vals[BATCH][VALUE_MAX];
    bt_op ops[BATCH];
    bt_result res[BATCH];
} ctx;

#define FAILC(c, ...)                                                                           \
    do {                                                                                        \
        char m_[512];                                                                           \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                   \
        fail("%s@%" PRIu64 ": %s", (c)->ds->name, (c)->n, m_);                                  \
    } while (0)

static void gen_insert_batch(ctx *c, uint64_t first)
{
    for (unsigned j = 0; j < BATCH; j++) {
        make_key(c->keys[j], c->seed, first + j);
        make_value(c->vals[j], c->ds->value_bytes, "avlvec:val", c->seed, first + j);
        c->ops[j] = (bt_op){BT_OP_INSERT, c->keys[j], KEY_LEN, c->vals[j], c->ds->value_bytes};
    }
}

static bt_db_options db_opts(const ctx *c, bt_durability dur)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = dur;
    o.cache_bytes = c->cache_bytes;
    /* --config FILE (passed to children through the environment) */
    const char *cfg = getenv("BENCH_STORE_CONFIG");
    char msg[512];
    if (cfg && bt_db_options_load(&o, cfg, msg, sizeof msg)) {
        fprintf(stderr, "bench_store: %s\n", msg);
        exit(2);
    }
    return o;
}

/* Phase 1: the in-memory reference build. */
static int phase_mem(ctx *c)
{
    bt_tree *t = NULL;
    int rc = bt_tree_new(&t, &c->p);
    if (rc) {
        FAILC(c, "bt_tree_new: %s", bt_strerror(rc));
        return -1;
    }
    uint64_t total = 0;
    for (uint64_t b = 0; b < c->n && !rc; b += BATCH) {
        gen_insert_batch(c, b);
        uint8_t *proof = NULL;
        size_t len;
        uint8_t d[BT_DIGEST_LEN];
        uint64_t t0 = now_ns();
        rc = bt_tree_apply_batch(t, c->ops, BATCH, c->res);
        if (!rc) rc = bt_tree_digest(d, t);
        if (!rc) rc = bt_tree_prove(&proof, &len, t);
        total += now_ns() - t0;
        bt_free(proof);
        for (unsigned j = 0; j < BATCH && !rc; j++)
            if (c->res[j].status || c->res[j].found) rc = BT_ECORRUPT;
    }
    if (!rc) rc = bt_tree_digest(c->mem_digest, t);
    if (rc) FAILC(c, "in-memory build: %s", bt_strerror(rc));
    else emit(c->col, "mem_insert_throughput", (double)c->n * 1e9 / (double)total, "ops/s");
    bt_tree_free(t);
    malloc_trim(0);
    return rc ? -1 : 0;
}

typedef struct load_result {
    uint64_t apply_ns, prove_ns, commit_ns, wait_ns, total_ns, last_commit;
    uint64_t *commit_calls; /* n / BATCH samples */
} load_result;

/* The durable load (phases 2 and 9) of key(first .. first+count-1) into an
 * open database.  start: the committed digest before.  Returns 0 or -1. */
static int load(ctx *c, bt_db *db, uint64_t first, uint64_t count, const uint8_t *start,
                load_result *lr, bool wait)
{
    uint8_t prev[BT_DIGEST_LEN];
    memcpy(prev, start, BT_DIGEST_LEN);
    uint64_t nb = count / BATCH, next_report = now_ns() + 10000000000ull;
    for (uint64_t b = 0; b < nb; b++) {
        gen_insert_batch(c, first + b * BATCH);
        bt_txn *txn = NULL;
        uint8_t *proof = NULL, d[BT_DIGEST_LEN];
        size_t len = 0;
        bt_commit_info info;
        uint64_t t0 = now_ns();
        int rc = bt_txn_begin(&txn, db);
        if (!rc) rc = bt_txn_apply(txn, TREE, c->ops, BATCH, c->res);
        uint64_t t1 = now_ns();
        if (!rc) rc = bt_txn_prove(&proof, &len, d, txn, TREE);
        uint64_t t2 = now_ns();
        if (!rc) {
            rc = bt_txn_commit(txn, &info);
            txn = NULL;
        }
        uint64_t t3 = now_ns();
        if (rc) {
            if (txn) bt_txn_abort(txn);
            bt_free(proof);
            FAILC(c, "load batch %" PRIu64 ": %s (%s)", b, bt_strerror(rc), bt_db_errmsg(db));
            return -1;
        }
        lr->apply_ns += t1 - t0;
        lr->prove_ns += t2 - t1;
        lr->commit_ns += t3 - t2;
        if (lr->commit_calls) lr->commit_calls[b] = t3 - t2;
        lr->last_commit = info.commit_seq;
        for (unsigned j = 0; j < BATCH; j++)
            if (c->res[j].status || c->res[j].found) {
                FAILC(c, "load insert %u: status %d found %d", j, c->res[j].status, c->res[j].found);
                bt_free(proof);
                return -1;
            }
        if (info.ops_logged != BATCH)
            FAILC(c, "commit logged %" PRIu64 " ops, want %d", info.ops_logged, BATCH);
        if (b % VERIFY_EVERY == VERIFY_EVERY - 1 || b == nb - 1) {
            uint8_t vd[BT_DIGEST_LEN], cd[BT_DIGEST_LEN];
            int vrc = bt_proof_verify(vd, NULL, &c->p, prev, BT_DIGEST_LEN, proof, len, c->ops,
                                      BATCH, NULL);
            if (vrc || memcmp(vd, d, BT_DIGEST_LEN)) FAILC(c, "load batch proof %" PRIu64 " does not verify", b);
            if (bt_db_digest(cd, db, TREE) || memcmp(cd, d, BT_DIGEST_LEN))
                FAILC(c, "committed digest differs from bt_txn_prove's");
        }
        memcpy(prev, d, BT_DIGEST_LEN);
        bt_free(proof);
        if (now_ns() > next_report) {
            fprintf(stderr, "    %" PRIu64 " keys, %.0f inserts/s\n", (b + 1) * BATCH,
                    (double)(b + 1) * BATCH * 1e9 / (double)(lr->apply_ns + lr->prove_ns + lr->commit_ns));
            next_report += 10000000000ull;
        }
    }
    if (wait) {
        uint64_t t0 = now_ns();
        int rc = bt_db_wait_durable(db, lr->last_commit);
        lr->wait_ns = now_ns() - t0;
        if (rc) {
            FAILC(c, "bt_db_wait_durable: %s (%s)", bt_strerror(rc), bt_db_errmsg(db));
            return -1;
        }
    }
    lr->total_ns = lr->apply_ns + lr->prove_ns + lr->commit_ns + lr->wait_ns;
    return 0;
}

static int open_db(ctx *c, bt_db **db, const char *path, const bt_db_options *o, uint64_t *wall_ns)
{
    char msg[512] = "";
    uint64_t t0 = now_ns();
    int rc = bt_db_open(db, path, o, msg, sizeof msg);
    if (wall_ns) *wall_ns = now_ns() - t0;
    if (rc) FAILC(c, "bt_db_open %s: %s (%s)", path, bt_strerror(rc), msg);
    return rc;
}

static int check_digest(ctx *c, bt_db *db, const uint8_t *want, uint64_t count, const char *when)
{
    uint8_t d[BT_DIGEST_LEN];
    uint64_t cnt = 0;
    int rc = bt_db_digest(d, db, TREE);
    if (!rc) rc = bt_db_count(&cnt, db, TREE);
    if (rc || memcmp(d, want, BT_DIGEST_LEN) || cnt != count) {
        char a[2 * BT_DIGEST_LEN + 1], b[2 * BT_DIGEST_LEN + 1];
        hex(a, d, BT_DIGEST_LEN);
        hex(b, want, BT_DIGEST_LEN);
        FAILC(c, "%s: digest %s count %" PRIu64 " (want %s, %" PRIu64 ") %s", when, a, cnt, b,
              count, rc ? bt_strerror(rc) : "");
        return -1;
    }
    return 0;
}

static void emit_stats_load(ctx *c, bt_db *db, const char *prefix)
{
    bt_db_stats st;
    char name[48];
    if (bt_db_stats_get(&st, db)) {
        FAILC(c, "bt_db_stats_get");
        return;
    }
    snprintf(name, sizeof name, "%scommit_latency_p50", prefix);
    emit(c->col, name, (double)st.commit_ns_p50, "ns");
    snprintf(name, sizeof name, "%scommit_latency_p95", prefix);
    emit(c->col, name, (double)st.commit_ns_p95, "ns");
    snprintf(name, sizeof name, "%scommit_latency_p99", prefix);
    emit(c->col, name, (double)st.commit_ns_p99, "ns");
    if (*prefix) return;
    emit(c->col, "syncs", (double)st.syncs, "");
    emit(c->col, "flushes", (double)st.flushes, "");
    emit(c->col, "nodes_written_per_note", (double)st.nodes_written / (double)c->n, "");
    emit(c->col, "nodes_deleted_per_note", (double)st.nodes_deleted / (double)c->n, "");
    emit(c->col, "cache_drops", (double)st.cache_drops, "");
    emit(c->col, "cache_bytes_after_load", (double)st.cache_bytes, "bytes");
}

/* Random distinct present keys: partial Fisher-Yates over 0..n-1. */
static uint64_t *random_indexes(uint64_t n, uint64_t m, uint64_t seed)
{
    uint32_t *perm = malloc(n * sizeof *perm);
    uint64_t *idx = malloc(m * sizeof *idx);
    if (!perm || !idx) {
        free(perm);
        free(idx);
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    uint64_t s = seed;
    for (uint64_t i = 0; i < m; i++) {
        uint64_t j = i + xorshift64(&s) % (n - i);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        idx[i] = perm[i];
    }
    free(perm);
    return idx;
}

/* Times one bt_db_get per key of idx[0..m); checks values. */
static int timed_gets(ctx *c, bt_db *db, const uint64_t *idx, uint64_t m, uint64_t *lat)
{
    uint8_t(*keys)[KEY_LEN] = malloc(m * KEY_LEN);
    uint8_t want[VALUE_MAX];
    if (!keys) return -1;
    for (uint64_t i = 0; i < m; i++) make_key(keys[i], c->seed, idx[i]);
    int ret = 0;
    for (uint64_t i = 0; i < m; i++) {
        uint8_t *v = NULL;
        size_t vl = 0;
        uint64_t t0 = now_ns();
        int rc = bt_db_get(&v, &vl, db, TREE, keys[i], KEY_LEN);
        uint64_t t1 = now_ns();
        lat[i] = t1 - t0;
        make_value(want, c->ds->value_bytes, "avlvec:val", c->seed, idx[i]);
        if (rc || vl != c->ds->value_bytes || memcmp(v, want, vl)) {
            FAILC(c, "bt_db_get of key %" PRIu64 ": %s %s", idx[i], rc ? bt_strerror(rc) : "wrong value",
                  rc ? bt_db_errmsg(db) : "");
            bt_free(v);
            ret = -1;
            break;
        }
        bt_free(v);
    }
    free(keys);
    return ret;
}

/* Phase 3. */
static int phase_warm_lookups(ctx *c, bt_db *db)
{
    /* every key once, in chunks whose keys are generated before the timer */
    uint8_t want[VALUE_MAX];
    uint64_t total = 0;
    for (uint64_t b = 0; b < c->n; b += BATCH) {
        for (unsigned j = 0; j < BATCH; j++) make_key(c->keys[j], c->seed, b + j);
        uint8_t *vals[BATCH];
        size_t lens[BATCH];
        int rcs[BATCH];
        uint64_t t0 = now_ns();
        for (unsigned j = 0; j < BATCH; j++) rcs[j] = bt_db_get(&vals[j], &lens[j], db, TREE, c->keys[j], KEY_LEN);
        total += now_ns() - t0;
        int bad = 0;
        for (unsigned j = 0; j < BATCH; j++) {
            if (!rcs[j]) {
                make_value(want, c->ds->value_bytes, "avlvec:val", c->seed, b + j);
                if (lens[j] != c->ds->value_bytes || memcmp(vals[j], want, lens[j])) bad = 1;
                bt_free(vals[j]);
            } else {
                bad = 1;
            }
        }
        if (bad) {
            FAILC(c, "first read pass: a lookup failed near key %" PRIu64, b);
            return -1;
        }
    }
    emit(c->col, "first_read_throughput", (double)c->n * 1e9 / (double)total, "ops/s");
    uint64_t m = c->n < LOOKUP_SAMPLES_MAX ? c->n : LOOKUP_SAMPLES_MAX;
    uint64_t *idx = random_indexes(c->n, m, 0x9E3779B97F4A7C15ull ^ c->n);
    uint64_t *lat = malloc(m * sizeof *lat);
    int ret = -1;
    if (idx && lat && timed_gets(c, db, idx, m, lat) == 0) {
        emit_latency(c->col, "warm_lookup_latency", lat, m, true);
        ret = 0;
    }
    free(idx);
    free(lat);
    return ret;
}

/* Phase 4. */
static int phase_lookup_proofs(ctx *c, bt_db *db)
{
    uint8_t d[BT_DIGEST_LEN], key[KEY_LEN], want[VALUE_MAX];
    if (bt_db_digest(d, db, TREE)) return -1;
    uint64_t *lat = malloc(PROOF_SAMPLES * sizeof *lat);
    if (!lat) return -1;
    uint64_t s = 0xD1B54A32D192ED03ull ^ c->n, bytes = 0;
    for (unsigned i = 0; i < PROOF_WARMUP + PROOF_SAMPLES; i++) {
        uint64_t ki = xorshift64(&s) % c->n;
        make_key(key, c->seed, ki);
        bt_op op = {BT_OP_LOOKUP, key, KEY_LEN, NULL, 0};
        bt_result r;
        uint8_t *proof = NULL, pd[BT_DIGEST_LEN];
        size_t len = 0;
        uint64_t t0 = now_ns();
        int rc = bt_db_prove(&proof, &len, pd, &r, db, TREE, &op, 1);
        uint64_t t1 = now_ns();
        make_value(want, c->ds->value_bytes, "avlvec:val", c->seed, ki);
        if (rc || r.status || !r.found || r.old_len != c->ds->value_bytes ||
            memcmp(r.old, want, r.old_len) || memcmp(pd, d, BT_DIGEST_LEN)) {
            FAILC(c, "bt_db_prove lookup of key %" PRIu64 ": %s", ki, rc ? bt_strerror(rc) : "wrong result");
            bt_free(proof);
            free(lat);
            return -1;
        }
        if (i % VERIFY_EVERY == 0) {
            uint8_t vd[BT_DIGEST_LEN];
            rc = bt_proof_verify(vd, NULL, &c->p, d, BT_DIGEST_LEN, proof, len, &op, 1, NULL);
            if (rc || memcmp(vd, d, BT_DIGEST_LEN)) FAILC(c, "lookup proof of key %" PRIu64 " does not verify", ki);
        }
        bt_free(proof);
        if (i >= PROOF_WARMUP) {
            lat[i - PROOF_WARMUP] = t1 - t0;
            bytes += len;
        }
    }
    emit_latency(c->col, "lookup_proof_latency", lat, PROOF_SAMPLES, false);
    emit(c->col, "lookup_proof_bytes", (double)bytes / PROOF_SAMPLES, "bytes");
    free(lat);
    return 0;
}

/* The context of a child process (phases 8 and the memory check) from its
 * argument strings: size, seed, value bytes, node cache MiB. */
static ctx *child_ctx(const char *n, const char *seed, const char *vb, const char *cache_mb)
{
    ctx *c = calloc(1, sizeof *c);
    if (!c || sodium_init() < 0) _exit(3);
    c->n = strtoull(n, NULL, 10);
    c->seed = strtoull(seed, NULL, 10);
    c->cache_bytes = strtoull(cache_mb, NULL, 10) << 20;
    c->ds = atoi(vb) == 8 ? &DATASETS[0] : &DATASETS[1];
    c->p = (bt_params)BT_PARAMS_INIT;
    c->p.value_len = c->ds->value_len_param;
    c->col = -1;
    json_out = stderr;
    return c;
}

/* Phase 8: the crashing child (a fresh process).  Prints the digest (hex) of
 * its last durable commit on stdout, then _exit(0) without closing. */
static int crash_child(int argc, char **argv)
{
    if (argc < 8) return 2;
    ctx *c = child_ctx(argv[3], argv[5], argv[6], argv[7]);
    const char *dir = argv[2];
    uint64_t count = strtoull(argv[4], NULL, 10);
    bt_db *db = NULL;
    bt_db_options o = db_opts(c, BT_DURABILITY_GROUP);
    if (open_db(c, &db, dir, &o, NULL)) _exit(4);
    uint8_t start[BT_DIGEST_LEN];
    if (bt_db_digest(start, db, TREE)) _exit(5);
    load_result lr = {0};
    if (load(c, db, c->n, count, start, &lr, true)) _exit(6);
    uint8_t d[BT_DIGEST_LEN];
    char h[2 * BT_DIGEST_LEN + 1];
    if (bt_db_digest(d, db, TREE)) _exit(7);
    hex(h, d, BT_DIGEST_LEN);
    printf("%s\n", h);
    fflush(stdout);
    _exit(failures ? 8 : 0); /* no bt_db_close: a crash after a durable commit */
}

static int phase_crash(ctx *c)
{
    int pfd[2];
    if (pipe(pfd)) return -1;
    char nbuf[32], cbuf[32], sbuf[32], vbuf[16], mbuf[32];
    snprintf(nbuf, sizeof nbuf, "%" PRIu64, c->n);
    snprintf(cbuf, sizeof cbuf, "%" PRIu64, c->crash_ops);
    snprintf(sbuf, sizeof sbuf, "%" PRIu64, c->seed);
    snprintf(vbuf, sizeof vbuf, "%u", c->ds->value_bytes);
    snprintf(mbuf, sizeof mbuf, "%" PRIu64, c->cache_bytes >> 20);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(c->exe, c->exe, "--crash-child", c->dir, nbuf, cbuf, sbuf, vbuf, mbuf, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[128] = "";
    FILE *f = fdopen(pfd[0], "r");
    if (!f || !fgets(line, sizeof line, f)) line[0] = 0;
    if (f) fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        FAILC(c, "crash child: status %d", status);
        return -1;
    }
    line[strcspn(line, "\n")] = 0;
    uint8_t want[BT_DIGEST_LEN];
    if (strlen(line) != 2 * BT_DIGEST_LEN) {
        FAILC(c, "crash child sent no digest");
        return -1;
    }
    for (int i = 0; i < BT_DIGEST_LEN; i++) {
        unsigned x;
        sscanf(line + 2 * i, "%2x", &x);
        want[i] = (uint8_t)x;
    }
    bt_db *db = NULL;
    bt_db_options o = db_opts(c, BT_DURABILITY_GROUP);
    uint64_t wall;
    if (open_db(c, &db, c->dir, &o, &wall)) return -1;
    bt_db_stats st;
    bt_db_stats_get(&st, db);
    emit(c->col, "crash_reopen_ms", (double)wall / 1e6, "ms");
    emit(c->col, "crash_reopen_open_ms", st.open_ms, "ms");
    emit(c->col, "crash_replayed_ops", (double)st.replayed_ops, "");
    int ret = check_digest(c, db, want, c->n + c->crash_ops, "after the crash reopen");
    int rc = bt_db_close(db);
    if (rc) FAILC(c, "bt_db_close after the crash reopen: %s", bt_strerror(rc));
    return ret;
}

/* Kernel's view of this process: VmRSS or VmHWM (peak) in bytes, 0 if unknown. */
static uint64_t proc_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t v = 0;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            v = strtoull(line + fl + 1, NULL, 10) * 1024u;
            break;
        }
    fclose(f);
    return v;
}

enum { MEM_SLACK_MIB = 128 };

/* The memory check's child (a fresh process: no in-memory reference tree,
 * no parent heap).  Prints one line "MEM empty load_peak peak end cache" in
 * bytes on stdout. */
static int mem_child(int argc, char **argv)
{
    if (argc < 7) return 2;
    ctx *c = child_ctx(argv[3], argv[4], argv[5], argv[6]);
    const char *dir = argv[2];
    bt_db *db = NULL;
    bt_db_options o = db_opts(c, BT_DURABILITY_GROUP);
    if (open_db(c, &db, dir, &o, NULL)) _exit(4);
    uint8_t start[BT_DIGEST_LEN];
    if (bt_db_tree_create(db, TREE, &c->p) || bt_empty_digest(start, &c->p)) _exit(5);
    uint64_t empty = proc_status_bytes("VmRSS");
    load_result lr = {0};
    if (load(c, db, 0, c->n, start, &lr, true)) _exit(6);
    uint64_t load_peak = proc_status_bytes("VmHWM");
    /* Reads over the whole key space fill the node cache and block cache. */
    if (phase_lookup_proofs(c, db)) _exit(7);
    bt_db_stats st;
    if (bt_db_stats_get(&st, db)) _exit(8);
    struct mallinfo2 mi = mallinfo2();
    fprintf(stderr, "  malloc: arena %zu MiB, mmapped %zu MiB, in use %zu MiB, free %zu MiB\n",
            mi.arena >> 20, mi.hblkhd >> 20, mi.uordblks >> 20, mi.fordblks >> 20);
    printf("MEM %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", empty, load_peak,
           proc_status_bytes("VmHWM"), proc_status_bytes("VmRSS"), st.cache_bytes);
    fflush(stdout);
    if (bt_db_close(db)) _exit(9);
    _exit(failures ? 10 : 0);
}

static int phase_memory(ctx *c)
{
    int pfd[2];
    if (pipe(pfd)) return -1;
    char nbuf[32], sbuf[32], vbuf[16], mbuf[32];
    snprintf(nbuf, sizeof nbuf, "%" PRIu64, c->n);
    snprintf(sbuf, sizeof sbuf, "%" PRIu64, c->seed);
    snprintf(vbuf, sizeof vbuf, "%u", c->ds->value_bytes);
    snprintf(mbuf, sizeof mbuf, "%" PRIu64, c->cache_bytes >> 20);
    rm_rf(c->dir);
    fflush(NULL);
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(c->exe, c->exe, "--mem-child", c->dir, nbuf, sbuf, vbuf, mbuf, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[256] = "";
    FILE *f = fdopen(pfd[0], "r");
    if (!f || !fgets(line, sizeof line, f)) line[0] = 0;
    if (f) fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    uint64_t empty, load_peak, peak, end, cache;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(line, "MEM %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &empty, &load_peak,
               &peak, &end, &cache) != 5) {
        FAILC(c, "memory child: status %d, line '%s'", status, line);
        return -1;
    }
    /* every memory bound the options set: node cache, unflushed nodes,
     * RocksDB's block cache and memtables (docs/OPERATIONS.md, "Memory") */
    bt_db_options d = db_opts(c, BT_DURABILITY_GROUP);
    uint64_t budget = d.cache_bytes + d.flush_bytes + d.block_cache_bytes + d.write_buffer_bytes;
    double over = ((double)peak - (double)budget) / 1048576.0;
    emit(c->col, "mem_seconds", (double)(now_ns() - t0) / 1e9, "s");
    emit(c->col, "mem_budget", (double)budget, "bytes");
    emit(c->col, "mem_rss_empty_db", (double)empty, "bytes");
    emit(c->col, "mem_peak_rss_load", (double)load_peak, "bytes");
    emit(c->col, "mem_peak_rss", (double)peak, "bytes");
    emit(c->col, "mem_rss_end", (double)end, "bytes");
    emit(c->col, "mem_node_cache_used", (double)cache, "bytes");
    emit(c->col, "mem_peak_over_budget", over, "MiB");
    emit(c->col, "mem_goal_met", over <= MEM_SLACK_MIB, "");
    fprintf(stderr, "  memory: peak RSS %.0f MiB, budget %.0f MiB: %s (goal: at most %d MiB over)\n",
            (double)peak / 1048576.0, (double)budget / 1048576.0,
            over <= MEM_SLACK_MIB ? "within" : "OVER", MEM_SLACK_MIB);
    return 0;
}

/* Phase 9. */
static int phase_sync(ctx *c)
{
    char path[4200];
    snprintf(path, sizeof path, "%s-sync", c->dir);
    rm_rf(path);
    bt_db *db = NULL;
    bt_db_options o = db_opts(c, BT_DURABILITY_SYNC);
    if (open_db(c, &db, path, &o, NULL)) return -1;
    int rc = bt_db_tree_create(db, TREE, &c->p);
    uint8_t start[BT_DIGEST_LEN];
    if (!rc) rc = bt_empty_digest(start, &c->p);
    load_result lr = {0};
    int ret = -1;
    if (rc) FAILC(c, "sync: tree create: %s", bt_strerror(rc));
    else if (load(c, db, 0, c->n, start, &lr, true) == 0 &&
             check_digest(c, db, c->mem_digest, c->n, "sync load") == 0) {
        emit(c->col, "sync_insert_throughput", (double)c->n * 1e9 / (double)lr.total_ns, "ops/s");
        emit_stats_load(c, db, "sync_");
        ret = 0;
    }
    rc = bt_db_close(db);
    if (rc) FAILC(c, "sync: bt_db_close: %s", bt_strerror(rc));
    return ret;
}

static bool load_only; /* --load-only: phases 1 and 2 (for profiling) */
static bool memory_only; /* --memory: the memory check alone */

static void run_one(ctx *c, bool keep)
{
    bt_db *db = NULL;
    load_result lr = {0};
    uint64_t nb = c->n / BATCH;
    rm_rf(c->dir);
    if (memory_only) {
        fprintf(stderr, "%s, %" PRIu64 " keys: memory check\n", c->ds->name, c->n);
        phase_memory(c);
        if (!keep) rm_rf(c->dir);
        return;
    }

    fprintf(stderr, "%s, %" PRIu64 " keys: in-memory build\n", c->ds->name, c->n);
    if (phase_mem(c)) return;
    bool reset = rss_peak_reset();
    emit(c->col, "rss_peak_reset_ok", reset, "");

    fprintf(stderr, "  durable load (group commit)\n");
    bt_db_options o = db_opts(c, BT_DURABILITY_GROUP);
    if (open_db(c, &db, c->dir, &o, NULL)) return;
    int rc = bt_db_tree_create(db, TREE, &c->p);
    uint8_t start[BT_DIGEST_LEN];
    if (!rc) rc = bt_empty_digest(start, &c->p);
    if (rc) {
        FAILC(c, "tree create: %s (%s)", bt_strerror(rc), bt_db_errmsg(db));
        goto out;
    }
    lr.commit_calls = malloc(nb * sizeof *lr.commit_calls);
    if (!lr.commit_calls || load(c, db, 0, c->n, start, &lr, true)) goto out;
    double mem = 0;
    for (size_t i = 0; i < n_records; i++)
        if (records[i].col == c->col && !strcmp(records[i].metric, "mem_insert_throughput"))
            mem = records[i].value;
    double store = (double)c->n * 1e9 / (double)lr.total_ns;
    emit(c->col, "store_insert_throughput", store, "ops/s");
    emit(c->col, "mem_to_store_ratio", mem / store, "");
    emit(c->col, "store_apply_ns_per_op", (double)lr.apply_ns / (double)c->n, "ns");
    emit(c->col, "store_prove_ns_per_op", (double)lr.prove_ns / (double)c->n, "ns");
    emit(c->col, "store_commit_ns_per_op", (double)lr.commit_ns / (double)c->n, "ns");
    emit(c->col, "store_wait_durable_ms", (double)lr.wait_ns / 1e6, "ms");
    emit_stats_load(c, db, "");
    qsort(lr.commit_calls, nb, sizeof *lr.commit_calls, cmp_u64);
    emit(c->col, "commit_call_p50", pct(lr.commit_calls, nb, 0.5), "ns");
    emit(c->col, "commit_call_p99", pct(lr.commit_calls, nb, 0.99), "ns");
    emit(c->col, "commit_call_max", (double)lr.commit_calls[nb - 1], "ns");
    if (check_digest(c, db, c->mem_digest, c->n, "after the load")) goto out;
    if (load_only) goto out;

    fprintf(stderr, "  warm lookups\n");
    if (phase_warm_lookups(c, db)) goto out;
    fprintf(stderr, "  lookup proofs\n");
    if (phase_lookup_proofs(c, db)) goto out;
    emit(c->col, "store_peak_rss", (double)rss_peak_bytes(), "bytes");
    bt_db_stats st;
    bt_db_stats_get(&st, db);
    emit(c->col, "cache_bytes_after_reads", (double)st.cache_bytes, "bytes");
    emit(c->col, "cache_drops_after_reads", (double)st.cache_drops, "");
    if (c->n <= CHECK_MAX_N) {
        fprintf(stderr, "  bt_db_check\n");
        uint64_t t0 = now_ns();
        rc = bt_db_check(db, TREE);
        if (rc) {
            FAILC(c, "bt_db_check: %s (%s)", bt_strerror(rc), bt_db_errmsg(db));
            goto out;
        }
        emit(c->col, "db_check_seconds", (double)(now_ns() - t0) / 1e9, "s");
    }

    fprintf(stderr, "  close, reopen, cold lookups\n");
    uint64_t t0 = now_ns();
    rc = bt_db_close(db);
    db = NULL;
    emit(c->col, "close_ms", (double)(now_ns() - t0) / 1e6, "ms");
    if (rc) {
        FAILC(c, "bt_db_close: %s", bt_strerror(rc));
        goto out;
    }
    emit(c->col, "disk_bytes_per_note", (double)du_bytes(c->dir) / (double)c->n, "bytes");
    int64_t resident = evict_dir(c->dir);
    emit(c->col, "cold_resident_bytes", (double)resident, "bytes");
    uint64_t wall;
    if (open_db(c, &db, c->dir, &o, &wall)) goto out;
    bt_db_stats_get(&st, db);
    emit(c->col, "reopen_ms", (double)wall / 1e6, "ms");
    emit(c->col, "reopen_open_ms", st.open_ms, "ms");
    emit(c->col, "reopen_replayed_ops", (double)st.replayed_ops, "");
    if (st.replayed_ops) FAILC(c, "clean reopen replayed %" PRIu64 " ops", st.replayed_ops);
    {
        uint64_t m = c->n < COLD_SAMPLES ? c->n : COLD_SAMPLES;
        uint64_t *idx = random_indexes(c->n, m, 0xC0FFEE123456789ull ^ c->n);
        uint64_t *lat = malloc(m * sizeof *lat);
        int grc = idx && lat ? timed_gets(c, db, idx, m, lat) : -1;
        if (!grc) {
            emit(c->col, "cold_first_lookup", (double)lat[0], "ns");
            emit_latency(c->col, "cold_lookup_latency", lat, m, false);
        }
        free(idx);
        free(lat);
        if (grc) goto out;
    }
    if (check_digest(c, db, c->mem_digest, c->n, "after the clean reopen")) goto out;
    t0 = now_ns();
    rc = bt_db_compact(db);
    if (rc) {
        FAILC(c, "bt_db_compact: %s (%s)", bt_strerror(rc), bt_db_errmsg(db));
        goto out;
    }
    emit(c->col, "compact_seconds", (double)(now_ns() - t0) / 1e9, "s");
    bt_db_stats_get(&st, db);
    for (int p = 0; p < 5; p++) {
        char name[48];
        snprintf(name, sizeof name, "partition_%s_bytes_per_note", PART_NAMES[p]);
        emit(c->col, name, (double)st.partition_bytes[p] / (double)c->n, "bytes");
    }
    rc = bt_db_close(db);
    db = NULL;
    if (rc) {
        FAILC(c, "bt_db_close after compaction: %s", bt_strerror(rc));
        goto out;
    }
    emit(c->col, "disk_bytes_per_note_compacted", (double)du_bytes(c->dir) / (double)c->n, "bytes");

    if (c->crash_ops) {
        fprintf(stderr, "  crash (%" PRIu64 " ops in a child) and reopen\n", c->crash_ops);
        phase_crash(c);
    }
    if (c->n <= SYNC_MAX_N) {
        fprintf(stderr, "  sync-mode load\n");
        phase_sync(c);
    }
out:
    if (db) bt_db_close(db);
    free(lr.commit_calls);
    if (!keep) {
        char path[4200];
        rm_rf(c->dir);
        snprintf(path, sizeof path, "%s-sync", c->dir);
        rm_rf(path);
    }
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_store [--n N]... [--values 8|100] [--quick] [--full] [--dir DIR]\n"
                    "                   [--json FILE] [--seed S] [--cache-mb M] [--crash-ops C] [--keep]\n"
                    "                   [--load-only] [--memory] [--config FILE]\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--crash-child")) return crash_child(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--mem-child")) return mem_child(argc, argv);
    uint64_t sizes[16];
    int n_sizes = 0, values = 0;
    bool full = false, keep = false;
    uint64_t seed = 42, cache_mb = 256, crash_ops = 99000;
    const char *json_path = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--n") && next) {
            char *end;
            unsigned long long v = strtoull(next, &end, 10);
            if (*end || v < BATCH || v % BATCH || v > 4000000000ull || n_sizes == 16) {
                fprintf(stderr, "--n: a multiple of %d, at most 4e9\n", BATCH);
                return 2;
            }
            sizes[n_sizes++] = v;
            i++;
        } else if (!strcmp(a, "--values") && next) {
            values = atoi(next);
            if (values != 8 && values != 100) {
                usage();
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--json") && next) {
            json_path = next;
            i++;
        } else if (!strcmp(a, "--dir") && next) {
            dir = next;
            i++;
        } else if (!strcmp(a, "--seed") && next) {
            seed = strtoull(next, NULL, 10);
            i++;
        } else if (!strcmp(a, "--cache-mb") && next) {
            cache_mb = strtoull(next, NULL, 10);
            i++;
        } else if (!strcmp(a, "--crash-ops") && next) {
            crash_ops = strtoull(next, NULL, 10);
            if (crash_ops % BATCH) {
                fprintf(stderr, "--crash-ops: a multiple of %d\n", BATCH);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--quick")) {
            full = false;
        } else if (!strcmp(a, "--full")) {
            full = true;
        } else if (!strcmp(a, "--config") && next) {
            setenv("BENCH_STORE_CONFIG", next, 1);
            i++;
        } else if (!strcmp(a, "--memory")) {
            memory_only = true;
        } else if (!strcmp(a, "--load-only")) {
            load_only = true;
        } else if (!strcmp(a, "--keep")) {
            keep = true;
        } else {
            usage();
            return 2;
        }
    }
    if (n_sizes == 0) {
        sizes[n_sizes++] = 100000;
        sizes[n_sizes++] = 1000000;
        if (full) sizes[n_sizes++] = 10000000;
    }
    char dirbuf[4096];
    if (!dir) {
        snprintf(dirbuf, sizeof dirbuf, "/tmp/bench_store.%d", (int)getpid());
        dir = dirbuf;
    }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        perror(dir);
        return 2;
    }
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0) {
        perror("/proc/self/exe");
        return 2;
    }
    exe[el] = 0;
    json_out = stdout;
    if (json_path && !(json_out = fopen(json_path, "w"))) {
        perror(json_path);
        return 2;
    }
    if (sodium_init() < 0) return 2;

    double load[1] = {0};
    if (getloadavg(load, 1) == 1) emit(-1, "loadavg_1m_start", load[0], "");
    for (int s = 0; s < n_sizes && !failures; s++) {
        for (size_t d = 0; d < sizeof DATASETS / sizeof DATASETS[0] && !failures; d++) {
            const dataset *ds = &DATASETS[d];
            if (values && ds->value_bytes != (unsigned)values) continue;
            if (n_columns == (int)(sizeof columns / sizeof columns[0])) break;
            static ctx c;
            memset(&c, 0, sizeof c);
            c.col = n_columns;
            columns[n_columns++] = (column){sizes[s], ds};
            c.n = sizes[s];
            c.seed = seed;
            c.ds = ds;
            c.cache_bytes = cache_mb << 20;
            c.crash_ops = crash_ops;
            c.exe = exe;
            c.p = (bt_params)BT_PARAMS_INIT;
            c.p.value_len = ds->value_len_param;
            snprintf(c.dir, sizeof c.dir, "%s/%s-%" PRIu64, dir, ds->name, sizes[s]);
            run_one(&c, keep);
        }
    }
    if (getloadavg(load, 1) == 1) emit(-1, "loadavg_1m_end", load[0], "");
    emit(-1, "correctness_failures", failures, "");
    print_table();
    for (size_t i = 0; i < n_records; i++)
        if (records[i].col < 0) printf("%s = %.2f %s\n", records[i].metric, records[i].value, records[i].unit);
    printf("(a load average above ~1 means other processes shared the 2 cores: numbers are low)\n");
    printf("correctness failures: %d\n", failures);
    if (json_out != stdout) fclose(json_out);
    if (!keep) rmdir(dir);
    free(records);
    return failures ? 1 : 0;
}
