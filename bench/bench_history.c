/*
 * bench_history.c -- the history benchmarks (issue 4; bench/BENCHMARKS.md
 * "history"): checkpoint creation time against tree size (must be flat),
 * rollback time, proof latency against a checkpoint while a writer commits,
 * op-log bytes per operation, query latency by key and by time range, replay
 * speed, and disk use over rounds of "update 10% of the notes + checkpoint,
 * retain 3".
 *
 *   bench_history [--sizes 100000,1000000] [--dir DIR] [--rounds 10]
 *
 * Data: 32-byte keys, 8-byte values (the tracker tree), deterministic
 * (splitmix64).  Output: JSON lines {"suite":"history","metric":...,
 * "value":...,"unit":...,"n":...} on stdout as they come, then a table.
 * Not a test: numbers only, compare them as ratios within one run.
 */
#include "basistrees.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BATCH 10000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void key_of(uint8_t k[32], uint64_t i)
{
    for (int j = 0; j < 4; j++) {
        uint64_t x = mix(i * 4 + (uint64_t)j + 1);
        memcpy(k + 8 * j, &x, 8);
    }
    if (k[0] == 0) k[0] = 1;
    if (k[0] == 0xFF) k[0] = 0xFE;
}

static void die(const char *what, int rc, bt_db *db)
{
    fprintf(stderr, "bench_history: %s: %s: %s\n", what, bt_strerror(rc), db ? bt_db_errmsg(db) : "");
    exit(1);
}

typedef struct row {
    char metric[64];
    double value;
    const char *unit;
    uint64_t n;
} row;
static row rows[256];
static size_t nrows;

static void report(const char *metric, double value, const char *unit, uint64_t n)
{
    printf("{\"suite\":\"history\",\"metric\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"n\":%llu}\n",
           metric, value, unit, (unsigned long long)n);
    fflush(stdout);
    if (nrows < sizeof rows / sizeof rows[0]) {
        snprintf(rows[nrows].metric, sizeof rows[nrows].metric, "%s", metric);
        rows[nrows].value = value;
        rows[nrows].unit = unit;
        rows[nrows].n = n;
        nrows++;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i];
}

/* Commits InsertOrUpdates for i in [from, to): key i when stride == 1 (a
 * load), else a pseudo-random existing key below stride (updates). */
static void upsert_range(bt_db *db, uint64_t from, uint64_t to, uint64_t round, uint64_t stride,
                         uint64_t ts)
{
    static bt_op ops[BATCH];
    static bt_result res[BATCH];
    static uint8_t keys[BATCH][32], vals[BATCH][8];
    uint64_t i = from;
    while (i < to) {
        size_t n = 0;
        for (; n < BATCH && i < to; n++, i++) {
            key_of(keys[n], stride == 1 ? i : mix(i + round * 7919) % stride);
            uint64_t v = mix(i ^ (round << 40));
            memcpy(vals[n], &v, 8);
            ops[n] = (bt_op){BT_OP_INSERT_OR_UPDATE, keys[n], 32, vals[n], 8};
        }
        bt_txn *t;
        int rc = bt_txn_begin(&t, db);
        if (rc) die("bt_txn_begin", rc, db);
        if (ts) bt_txn_set_time(t, ts + i);
        if ((rc = bt_txn_apply(t, "tracker", ops, n, res))) die("bt_txn_apply", rc, db);
        if ((rc = bt_txn_commit(t, NULL))) die("bt_txn_commit", rc, db);
    }
}

static uint64_t du_bytes(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "du -sb '%s' 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long b = 0;
    if (p) {
        if (fscanf(p, "%llu", &b) != 1) b = 0;
        pclose(p);
    }
    return b;
}

typedef struct prover_ctx {
    bt_db *db;
    uint64_t n;
    _Atomic int stop;
    uint64_t *lat;
    size_t nlat, cap;
    int err;
} prover_ctx;

static void *prover_main(void *arg)
{
    prover_ctx *c = arg;
    uint64_t i = 0;
    while (!atomic_load(&c->stop) && c->nlat < c->cap) {
        uint8_t k[32];
        key_of(k, mix(i++) % c->n);
        bt_op op = {BT_OP_LOOKUP, k, 32, NULL, 0};
        bt_checkpoint *cp; /* the newest checkpoint, as a redeemer would ask */
        int rc = bt_db_checkpoint_get(&cp, c->db, 0);
        if (rc) {
            c->err = rc;
            break;
        }
        uint64_t id = cp->id;
        bt_free(cp);
        uint8_t *proof;
        size_t plen;
        uint8_t d[BT_DIGEST_LEN];
        uint64_t t0 = now_ns();
        rc = bt_db_prove_at(&proof, &plen, d, NULL, c->db, "tracker", id, &op, 1);
        uint64_t dt = now_ns() - t0;
        if (rc == BT_ENOTFOUND) continue; /* deleted by retention meanwhile */
        if (rc) {
            c->err = rc;
            break;
        }
        bt_free(proof);
        c->lat[c->nlat++] = dt;
    }
    return NULL;
}

static int count_entry(void *ctx, const bt_oplog_entry *e)
{
    (void)e;
    (*(uint64_t *)ctx)++;
    return 0;
}

static void run_size(const char *base, uint64_t n, int rounds)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/hist-%llu", base, (unsigned long long)n);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) exit(1);
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_GROUP;
    o.checkpoint_keep = 3;
    o.min_free_bytes = 0;
    bt_db *db;
    char msg[256];
    int rc = bt_db_open(&db, dir, &o, msg, sizeof msg);
    if (rc) {
        fprintf(stderr, "open %s: %s\n", dir, msg);
        exit(1);
    }
    bt_params p = {BT_PARAMS_VERSION, 32, 8, 0};
    if ((rc = bt_db_tree_create(db, "tracker", &p))) die("tree create", rc, db);
    uint64_t ts0 = 1700000000000ull;
    upsert_range(db, 0, n, 0, 1, ts0);
    if ((rc = bt_db_flush(db))) die("flush", rc, db);

    /* checkpoint creation after 1000 updates (5 times, median) */
    uint64_t ck[5];
    for (int r = 0; r < 5; r++) {
        upsert_range(db, 0, 1000, 100 + (uint64_t)r, n, ts0 + n + 1000u * (uint64_t)r);
        uint64_t t0 = now_ns();
        if ((rc = bt_db_checkpoint_create(NULL, db, "bench"))) die("checkpoint", rc, db);
        ck[r] = now_ns() - t0;
    }
    report("checkpoint_create_after_1k_updates_ms", pct(ck, 5, 0.5) / 1e6, "ms", n);

    /* proofs against the newest checkpoint while the writer commits */
    prover_ctx pc = {db, n, 0, NULL, 0, 200000, 0};
    pc.lat = malloc(pc.cap * sizeof *pc.lat);
    pthread_t th;
    pthread_create(&th, NULL, prover_main, &pc);
    uint64_t upd = n / 10 < 50000 ? n / 10 : 50000;
    uint64_t t0 = now_ns();
    upsert_range(db, 0, upd, 500, n, ts0 + 2 * n);
    double wsec = (double)(now_ns() - t0) / 1e9;
    atomic_store(&pc.stop, 1);
    pthread_join(th, NULL);
    if (pc.err) die("prove at checkpoint", pc.err, db);
    report("checkpoint_proof_p50_us_writer_running", pct(pc.lat, pc.nlat, 0.5) / 1e3, "us", n);
    report("checkpoint_proof_p99_us_writer_running", pct(pc.lat, pc.nlat, 0.99) / 1e3, "us", n);
    report("writer_upserts_per_s_with_prover", (double)upd / wsec, "ops/s", n);
    free(pc.lat);

    /* rounds: update 10% + checkpoint, retain 3: disk use */
    uint64_t tenth = n / 10;
    uint64_t before = du_bytes(dir);
    for (int r = 0; r < rounds; r++) {
        upsert_range(db, 0, tenth, 1000 + (uint64_t)r, n, ts0 + 3 * n + tenth * (uint64_t)r);
        if ((rc = bt_db_checkpoint_create(NULL, db, "round"))) die("checkpoint", rc, db);
        if ((rc = bt_db_compact(db))) die("compact", rc, db);
        uint64_t b = du_bytes(dir);
        char m[64];
        snprintf(m, sizeof m, "disk_bytes_after_round_%d", r + 1);
        report(m, (double)b, "B", n);
    }
    report("disk_bytes_before_rounds", (double)before, "B", n);

    /* op log: bytes per op (compacted) */
    bt_db_stats st;
    if ((rc = bt_db_stats_get(&st, db))) die("stats", rc, db);
    report("oplog_bytes_per_op", (double)st.partition_bytes[1] / (double)st.ops, "B/op", n);
    report("index_bytes_per_op", (double)st.partition_bytes[4] / (double)st.ops, "B/op", n);

    /* queries: a key's history; a time window of about one commit */
    enum { Q = 2000 };
    uint64_t *lat = malloc(Q * sizeof *lat), seen = 0;
    for (int i = 0; i < Q; i++) {
        uint8_t k[32];
        key_of(k, mix((uint64_t)i + 77) % n);
        uint64_t q0 = now_ns();
        if ((rc = bt_db_oplog_key(db, "tracker", k, 32, count_entry, &seen))) die("oplog_key", rc, db);
        lat[i] = now_ns() - q0;
    }
    report("oplog_key_query_p50_us", pct(lat, Q, 0.5) / 1e3, "us", n);
    report("oplog_key_query_p99_us", pct(lat, Q, 0.99) / 1e3, "us", n);
    report("oplog_key_history_entries_avg", (double)seen / Q, "ops", n);
    seen = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t from = ts0 + mix((uint64_t)i) % n;
        uint64_t q0 = now_ns();
        if ((rc = bt_db_oplog_time(db, from, from + BATCH - 1, count_entry, &seen)))
            die("oplog_time", rc, db);
        lat[i] = now_ns() - q0;
    }
    report("oplog_time_query_p50_ms", pct(lat, 200, 0.5) / 1e6, "ms", n);
    report("oplog_time_query_entries_avg", (double)seen / 200, "ops", n);
    free(lat);

    /* replay of the whole log, in memory, every commit's digest checked */
    bt_replay_info ri;
    if ((rc = bt_db_replay(&ri, db, NULL, NULL, UINT64_MAX, UINT64_MAX))) die("replay", rc, db);
    report("replay_ops_per_s", (double)ri.ops / ri.seconds, "ops/s", n);
    report("replay_ops", (double)ri.ops, "ops", n);

    /* rollback to the previous checkpoint after another 10% of updates */
    bt_checkpoint *list;
    size_t nck;
    if ((rc = bt_db_checkpoint_list(&list, &nck, db))) die("list", rc, db);
    uint64_t target = nck ? list[nck - 1].id : 0;
    bt_free(list);
    upsert_range(db, 0, tenth, 5000, n, ts0 + 5 * n);
    t0 = now_ns();
    if ((rc = bt_db_rollback(db, target))) die("rollback", rc, db);
    report("rollback_after_10pct_updates_ms", (double)(now_ns() - t0) / 1e6, "ms", n);

    t0 = now_ns();
    if ((rc = bt_db_close(db))) die("close", rc, NULL);
    report("close_ms", (double)(now_ns() - t0) / 1e6, "ms", n);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) exit(1);
}

int main(int argc, char **argv)
{
    const char *sizes = "100000,1000000", *base = "/tmp";
    int rounds = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sizes")) sizes = argv[i + 1];
        else if (!strcmp(argv[i], "--dir")) base = argv[i + 1];
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_history [--sizes N,N] [--dir DIR] [--rounds R]\n");
            return 2;
        }
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", sizes);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        uint64_t n = strtoull(tok, NULL, 10);
        if (n < 10000) {
            fprintf(stderr, "bench_history: sizes must be >= 10000\n");
            return 2;
        }
        run_size(base, n, rounds);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    report("peak_rss_mib", (double)ru.ru_maxrss / 1024.0, "MiB", 0);
    printf("\n%-44s %14s %-6s %10s\n", "history metric", "value", "unit", "notes");
    for (size_t i = 0; i < nrows; i++)
        printf("%-44s %14.4g %-6s %10llu\n", rows[i].metric, rows[i].value, rows[i].unit,
               (unsigned long long)rows[i].n);
    return 0;
}
