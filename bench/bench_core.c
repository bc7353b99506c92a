/*
 * bench_core.c -- the `core` benchmark suite: the in-memory prover tree and
 * the verifier.  Every dataset, phase and metric is defined in
 * bench/BENCHMARKS.md; keep the two in step (if you change a phase here,
 * change its definition there first).
 *
 *   bench_core [--n N]... [--values 8|100] [--quick] [--full] [--json FILE]
 *              [--seed S] [--no-refcheck]
 *
 * Correctness is checked along the way, outside the timers; any failure makes
 * the exit status 1.  Goals that are missed do not (they are reported).
 */
#include <basistrees.h>
#include <sodium.h>

#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum {
    KEY_LEN = 32,
    BATCH = 1000,
    AT_N_BATCHES = 20,
    LOOKUP_SAMPLES_MAX = 1000000,
    LOOKUP_WARMUP = 10000,
    PROOF_SAMPLES = 20000,
    PROOF_WARMUP = 200,
    VERIFY_EVERY = 100,
    VALUE_MAX = 100,
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

#define BENCH_SUITE "core"
#include "bench_util.h"

static uint64_t rss_now_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Bytes handed out by malloc and not yet freed (glibc). */
static uint64_t heap_in_use_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* ------------------------------------------------------------------------ */
/* Results: JSON lines as they come, a table at the end                      */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Reference self-check: big_reference.jsonl, seed 3, var, inserts, 100k     */
/* ------------------------------------------------------------------------ */

static int reference_check(void)
{
    static const char *want_digest =
        "ed6888fe6d4fabaabdcf6e279a2794b031b0b3bce70b518ac07748cc23163abe14";
    const uint64_t seed = 3, n = 100000, want_bytes = 23352425;
    const unsigned want_height = 20;
    bt_params p = BT_PARAMS_INIT;
    bt_tree *t = NULL;
    if (bt_tree_new(&t, &p)) {
        fail("refcheck: bt_tree_new");
        return -1;
    }
    static uint8_t keys[BATCH][KEY_LEN], vals[BATCH][32];
    bt_op ops[BATCH];
    bt_result res[BATCH];
    uint64_t total = 0, t0 = now_ns();
    int rc = 0;
    for (uint64_t b = 0; b < n && !rc; b += BATCH) {
        for (unsigned j = 0; j < BATCH; j++) {
            uint64_t i = b + j;
            uint8_t vl[32];
            make_key(keys[j], seed, i);
            derive(vals[j], "avlvec:val", seed, i, 0);
            derive(vl, "avlvec:vlen", seed, i, 0);
            ops[j] = (bt_op){BT_OP_INSERT, keys[j], KEY_LEN, vals[j], vl[0] % 33u};
        }
        uint8_t *proof;
        size_t len;
        if ((rc = bt_tree_apply_batch(t, ops, BATCH, res)) || (rc = bt_tree_prove(&proof, &len, t))) {
            fail("refcheck: %s", bt_strerror(rc));
            break;
        }
        for (unsigned j = 0; j < BATCH; j++)
            if (res[j].status) rc = res[j].status;
        total += len;
        bt_free(proof);
    }
    uint8_t d[BT_DIGEST_LEN];
    char dh[2 * BT_DIGEST_LEN + 1];
    if (!rc && (rc = bt_tree_digest(d, t)) == 0) {
        hex(dh, d, BT_DIGEST_LEN);
        if (strcmp(dh, want_digest) || total != want_bytes || bt_tree_height(t) != want_height) {
            fail("refcheck: digest %s height %u proof bytes %" PRIu64 " (want %s, %u, %" PRIu64 ")",
                 dh, bt_tree_height(t), total, want_digest, want_height, want_bytes);
            rc = -1;
        }
    } else if (rc) {
        fail("refcheck: an operation failed: %s", bt_strerror(rc));
    }
    bt_tree_free(t);
    fprintf(stderr, "refcheck (big_reference seed 3, 100k var inserts): %s in %.2f s\n",
            rc ? "FAILED" : "ok", (double)(now_ns() - t0) / 1e9);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* One dataset at one size                                                   */
/* ------------------------------------------------------------------------ */

typedef struct ctx {
    int col;
    uint64_t n, seed;
    const dataset *ds;
    bt_params p;
    bt_tree *t;
    uint8_t keys[BATCH][KEY_LEN];
    uint8_t vals[BATCH][VALUE_MAX];
    bt_op ops[BATCH];
    bt_result res[BATCH];
} ctx;

/* Fills c->ops with Insert(key(first + j), value(first + j)), j < BATCH. */
static void gen_insert_batch(ctx *c, uint64_t first)
{
    for (unsigned j = 0; j < BATCH; j++) {
        make_key(c->keys[j], c->seed, first + j);
        make_value(c->vals[j], c->ds->value_bytes, "avlvec:val", c->seed, first + j);
        c->ops[j] = (bt_op){BT_OP_INSERT, c->keys[j], KEY_LEN, c->vals[j], c->ds->value_bytes};
    }
}

typedef struct batch_times {
    uint64_t apply_ns, digest_ns, prove_ns, proof_bytes, ops;
} batch_times;

/* Applies c->ops, digest, prove; adds the times.  Returns 0 and the proof
 * (owned by the caller) and the end digest, or -1 after reporting. */
static int run_insert_batch(ctx *c, batch_times *bt, uint8_t **proof, size_t *len,
                            uint8_t digest[BT_DIGEST_LEN])
{
    uint64_t t0 = now_ns();
    int rc = bt_tree_apply_batch(c->t, c->ops, BATCH, c->res);
    uint64_t t1 = now_ns();
    if (!rc) rc = bt_tree_digest(digest, c->t);
    uint64_t t2 = now_ns();
    if (!rc) rc = bt_tree_prove(proof, len, c->t);
    uint64_t t3 = now_ns();
    if (rc) {
        fail("%s@%" PRIu64 ": batch: %s (%s)", c->ds->name, c->n, bt_strerror(rc),
             bt_tree_errmsg(c->t));
        return -1;
    }
    for (unsigned j = 0; j < BATCH; j++)
        if (c->res[j].status || c->res[j].found) {
            fail("%s@%" PRIu64 ": insert %u: status %d found %d", c->ds->name, c->n, j,
                 c->res[j].status, c->res[j].found);
            return -1;
        }
    bt->apply_ns += t1 - t0;
    bt->digest_ns += t2 - t1;
    bt->prove_ns += t3 - t2;
    bt->proof_bytes += *len;
    bt->ops += BATCH;
    return 0;
}

static void verify_batch(ctx *c, const uint8_t *start, const uint8_t *end, const uint8_t *proof,
                         size_t len, const char *what)
{
    uint8_t d[BT_DIGEST_LEN];
    size_t failed = 0;
    int rc = bt_proof_verify(d, &failed, &c->p, start, BT_DIGEST_LEN, proof, len, c->ops, BATCH, NULL);
    if (rc || memcmp(d, end, BT_DIGEST_LEN))
        fail("%s@%" PRIu64 ": %s proof does not verify: %s (op %zu)", c->ds->name, c->n, what,
             rc ? bt_strerror(rc) : "digest differs", failed);
}

static int phase_build(ctx *c)
{
    batch_times bt = {0, 0, 0, 0, 0};
    uint8_t prev[BT_DIGEST_LEN], d[BT_DIGEST_LEN];
    if (bt_empty_digest(prev, &c->p)) return -1;
    uint64_t t0 = now_ns(), next_report = t0 + 10000000000ull;
    for (uint64_t b = 0; b * BATCH < c->n; b++) {
        gen_insert_batch(c, b * BATCH);
        uint8_t *proof;
        size_t len;
        if (run_insert_batch(c, &bt, &proof, &len, d)) return -1;
        if (b % VERIFY_EVERY == VERIFY_EVERY - 1) verify_batch(c, prev, d, proof, len, "build");
        bt_free(proof);
        memcpy(prev, d, sizeof d);
        if (now_ns() > next_report) {
            fprintf(stderr, "  build %s: %" PRIu64 " keys, %.0f inserts/s\n", c->ds->name, bt.ops,
                    (double)bt.ops * 1e9 / (double)(bt.apply_ns + bt.digest_ns + bt.prove_ns));
            next_report += 10000000000ull;
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    double all = (double)(bt.apply_ns + bt.digest_ns + bt.prove_ns);
    emit(c->col, "insert_throughput", (double)bt.ops * 1e9 / all, "ops/s");
    emit(c->col, "apply_digest_throughput", (double)bt.ops * 1e9 / (double)(bt.apply_ns + bt.digest_ns),
         "ops/s");
    emit(c->col, "apply_ns_per_op", (double)bt.apply_ns / (double)bt.ops, "ns");
    emit(c->col, "digest_ns_per_op", (double)bt.digest_ns / (double)bt.ops, "ns");
    emit(c->col, "prove_ns_per_op", (double)bt.prove_ns / (double)bt.ops, "ns");
    emit(c->col, "proof_bytes_per_insert", (double)bt.proof_bytes / (double)bt.ops, "bytes");
    emit(c->col, "build_seconds", secs, "s");
    return 0;
}

static int phase_check(ctx *c)
{
    if (bt_tree_count(c->t) != c->n) {
        fail("%s@%" PRIu64 ": count %" PRIu64, c->ds->name, c->n, bt_tree_count(c->t));
        return -1;
    }
    uint64_t t0 = now_ns();
    int rc = bt_tree_check(c->t);
    if (rc) {
        fail("%s@%" PRIu64 ": bt_tree_check: %s", c->ds->name, c->n, bt_tree_errmsg(c->t));
        return -1;
    }
    emit(c->col, "check_seconds", (double)(now_ns() - t0) / 1e9, "s");
    emit(c->col, "height", bt_tree_height(c->t), "");
    return 0;
}

static int phase_lookup(ctx *c)
{
    uint64_t m = c->n < LOOKUP_SAMPLES_MAX ? c->n : LOOKUP_SAMPLES_MAX;
    uint32_t *perm = malloc(c->n * sizeof *perm);
    uint64_t *idx = malloc(m * sizeof *idx);
    uint8_t(*keys)[KEY_LEN] = malloc(m * KEY_LEN);
    uint64_t *lat = malloc(m * sizeof *lat);
    uint8_t want[VALUE_MAX];
    int ret = -1;
    if (!perm || !idx || !keys || !lat) goto out;
    for (uint64_t i = 0; i < c->n; i++) perm[i] = (uint32_t)i;
    uint64_t s = 0x9E3779B97F4A7C15ull ^ c->n;
    for (uint64_t i = 0; i < m; i++) { /* partial Fisher-Yates */
        uint64_t j = i + xorshift64(&s) % (c->n - i);
        uint32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        idx[i] = perm[i];
        make_key(keys[i], c->seed, idx[i]);
    }
    free(perm);
    perm = NULL;
    const uint8_t *v;
    size_t vl;
    for (uint64_t i = 0; i < LOOKUP_WARMUP; i++)
        if (bt_tree_get(&v, &vl, c->t, keys[i % m], KEY_LEN)) {
            fail("%s@%" PRIu64 ": warm-up lookup failed", c->ds->name, c->n);
            goto out;
        }
    for (uint64_t i = 0; i < m; i++) {
        uint64_t t0 = now_ns();
        int rc = bt_tree_get(&v, &vl, c->t, keys[i], KEY_LEN);
        uint64_t t1 = now_ns();
        lat[i] = t1 - t0;
        make_value(want, c->ds->value_bytes, "avlvec:val", c->seed, idx[i]);
        if (rc || vl != c->ds->value_bytes || memcmp(v, want, vl)) {
            fail("%s@%" PRIu64 ": lookup of key %" PRIu64 ": %s", c->ds->name, c->n, idx[i],
                 rc ? bt_strerror(rc) : "wrong value");
            goto out;
        }
    }
    emit_latency(c->col, "lookup_latency", lat, m, true);
    ret = 0;
out:
    free(perm);
    free(idx);
    free(keys);
    free(lat);
    return ret;
}

typedef struct kept_proof {
    uint8_t *proof;
    size_t len;
    uint8_t start[BT_DIGEST_LEN], end[BT_DIGEST_LEN];
    uint64_t first; /* batch: first key index; lookup: the key index */
} kept_proof;

static int phase_at_n(ctx *c, kept_proof *kept)
{
    batch_times bt = {0, 0, 0, 0, 0};
    uint8_t start[BT_DIGEST_LEN];
    if (bt_tree_digest(start, c->t)) return -1;
    for (unsigned b = 0; b < AT_N_BATCHES; b++) {
        kept_proof *k = &kept[b];
        k->first = c->n + (uint64_t)b * BATCH;
        memcpy(k->start, start, BT_DIGEST_LEN);
        gen_insert_batch(c, k->first);
        if (run_insert_batch(c, &bt, &k->proof, &k->len, k->end)) return -1;
        verify_batch(c, k->start, k->end, k->proof, k->len, "at-N");
        memcpy(start, k->end, BT_DIGEST_LEN);
    }
    double all = (double)(bt.apply_ns + bt.digest_ns + bt.prove_ns);
    emit(c->col, "insert_throughput_at_n", (double)bt.ops * 1e9 / all, "ops/s");
    emit(c->col, "apply_digest_throughput_at_n",
         (double)bt.ops * 1e9 / (double)(bt.apply_ns + bt.digest_ns), "ops/s");
    emit(c->col, "proof_bytes_per_insert_at_n", (double)bt.proof_bytes / (double)bt.ops, "bytes");
    return 0;
}

static int phase_lookup_proofs(ctx *c, kept_proof *kept, uint64_t *lat)
{
    uint8_t d[BT_DIGEST_LEN], key[KEY_LEN];
    if (bt_tree_digest(d, c->t)) return -1;
    uint64_t s = 0xD1B54A32D192ED03ull ^ c->n, bytes = 0;
    for (unsigned i = 0; i < PROOF_WARMUP + PROOF_SAMPLES; i++) {
        uint64_t ki = xorshift64(&s) % c->n;
        make_key(key, c->seed, ki);
        bt_op op = {BT_OP_LOOKUP, key, KEY_LEN, NULL, 0};
        bt_result r;
        uint8_t *proof = NULL;
        size_t len = 0;
        uint64_t t0 = now_ns();
        int rc = bt_tree_apply(c->t, &op, &r);
        if (!rc) rc = bt_tree_prove(&proof, &len, c->t);
        uint64_t t1 = now_ns();
        if (rc || r.status || !r.found) {
            fail("%s@%" PRIu64 ": lookup proof: %s", c->ds->name, c->n,
                 rc ? bt_strerror(rc) : "key not found");
            bt_free(proof);
            return -1;
        }
        if (i < PROOF_WARMUP) {
            bt_free(proof);
            continue;
        }
        kept_proof *k = &kept[i - PROOF_WARMUP];
        lat[i - PROOF_WARMUP] = t1 - t0;
        k->proof = proof;
        k->len = len;
        k->first = ki;
        memcpy(k->start, d, BT_DIGEST_LEN);
        memcpy(k->end, d, BT_DIGEST_LEN);
        bytes += len;
    }
    uint8_t after[BT_DIGEST_LEN];
    if (bt_tree_digest(after, c->t) || memcmp(after, d, BT_DIGEST_LEN))
        fail("%s@%" PRIu64 ": lookups changed the digest", c->ds->name, c->n);
    emit_latency(c->col, "lookup_proof_latency", lat, PROOF_SAMPLES, false);
    emit(c->col, "lookup_proof_bytes", (double)bytes / PROOF_SAMPLES, "bytes");
    return 0;
}

static int phase_whatif(ctx *c, uint64_t *lat)
{
    uint8_t d[BT_DIGEST_LEN], key[KEY_LEN], val[VALUE_MAX], wd[BT_DIGEST_LEN];
    if (bt_tree_digest(d, c->t)) return -1;
    uint64_t s = 0xA0761D6478BD642Full ^ c->n;
    for (unsigned i = 0; i < PROOF_WARMUP + PROOF_SAMPLES; i++) {
        uint64_t ki = xorshift64(&s) % c->n;
        make_key(key, c->seed, ki);
        make_value(val, c->ds->value_bytes, "avlvec:val2", c->seed, ki);
        bt_op op = {BT_OP_INSERT_OR_UPDATE, key, KEY_LEN, val, c->ds->value_bytes};
        bt_result r;
        uint8_t *proof = NULL;
        size_t len = 0;
        uint64_t t0 = now_ns();
        int rc = bt_tree_whatif(&proof, &len, wd, &r, c->t, &op, 1);
        uint64_t t1 = now_ns();
        if (rc || r.status || !r.found) {
            fail("%s@%" PRIu64 ": what-if: %s", c->ds->name, c->n,
                 rc ? bt_strerror(rc) : "key not found");
            bt_free(proof);
            return -1;
        }
        if (i >= PROOF_WARMUP) lat[i - PROOF_WARMUP] = t1 - t0;
        if (i % VERIFY_EVERY == 0) {
            uint8_t vd[BT_DIGEST_LEN];
            rc = bt_proof_verify(vd, NULL, &c->p, d, BT_DIGEST_LEN, proof, len, &op, 1, NULL);
            if (rc || memcmp(vd, wd, BT_DIGEST_LEN))
                fail("%s@%" PRIu64 ": what-if proof does not verify", c->ds->name, c->n);
        }
        bt_free(proof);
    }
    uint8_t after[BT_DIGEST_LEN];
    if (bt_tree_digest(after, c->t) || memcmp(after, d, BT_DIGEST_LEN))
        fail("%s@%" PRIu64 ": what-if changed the digest", c->ds->name, c->n);
    emit_latency(c->col, "whatif_proof_latency", lat, PROOF_SAMPLES, false);
    return 0;
}

/* Replays a lookup proof step by step and checks the value it returns. */
static void replay_lookup(ctx *c, const kept_proof *k)
{
    uint8_t key[KEY_LEN], want[VALUE_MAX], d[BT_DIGEST_LEN];
    make_key(key, c->seed, k->first);
    make_value(want, c->ds->value_bytes, "avlvec:val", c->seed, k->first);
    bt_verifier *v = NULL;
    bt_op op = {BT_OP_LOOKUP, key, KEY_LEN, NULL, 0};
    bt_result r;
    int rc = bt_verifier_new(&v, &c->p, k->start, BT_DIGEST_LEN, k->proof, k->len, NULL);
    if (!rc) rc = bt_verifier_apply(v, &op, &r);
    bool ok = !rc && r.found && r.old_len == c->ds->value_bytes && !memcmp(r.old, want, r.old_len);
    if (ok) ok = !bt_verifier_digest(d, v) && !memcmp(d, k->end, BT_DIGEST_LEN);
    if (!ok) fail("%s@%" PRIu64 ": lookup proof replay of key %" PRIu64 " failed", c->ds->name,
                  c->n, k->first);
    bt_verifier_free(v);
}

static void phase_verify(ctx *c, kept_proof *lookups, kept_proof *batches, uint64_t *lat)
{
    uint8_t key[KEY_LEN], d[BT_DIGEST_LEN];
    for (unsigned i = 0; i < PROOF_SAMPLES; i++) {
        kept_proof *k = &lookups[i];
        make_key(key, c->seed, k->first);
        bt_op op = {BT_OP_LOOKUP, key, KEY_LEN, NULL, 0};
        uint64_t t0 = now_ns();
        int rc = bt_proof_verify(d, NULL, &c->p, k->start, BT_DIGEST_LEN, k->proof, k->len, &op, 1,
                                 NULL);
        uint64_t t1 = now_ns();
        lat[i] = t1 - t0;
        if (rc || memcmp(d, k->end, BT_DIGEST_LEN))
            fail("%s@%" PRIu64 ": lookup proof %u does not verify", c->ds->name, c->n, i);
        if (i % VERIFY_EVERY == 0) replay_lookup(c, k);
    }
    emit_latency(c->col, "verify_lookup_latency", lat, PROOF_SAMPLES, false);
    uint64_t total = 0, ops = 0;
    for (unsigned b = 0; b < AT_N_BATCHES; b++) {
        kept_proof *k = &batches[b];
        gen_insert_batch(c, k->first);
        uint64_t t0 = now_ns();
        int rc = bt_proof_verify(d, NULL, &c->p, k->start, BT_DIGEST_LEN, k->proof, k->len, c->ops,
                                 BATCH, NULL);
        total += now_ns() - t0;
        ops += BATCH;
        if (rc || memcmp(d, k->end, BT_DIGEST_LEN))
            fail("%s@%" PRIu64 ": batch proof %u does not verify", c->ds->name, c->n, b);
    }
    emit(c->col, "batch_verify_throughput", (double)ops * 1e9 / (double)total, "ops/s");
}

static void run_one(ctx *c)
{
    kept_proof *batches = calloc(AT_N_BATCHES, sizeof *batches);
    kept_proof *lookups = calloc(PROOF_SAMPLES, sizeof *lookups);
    uint64_t *lat = malloc(PROOF_SAMPLES * sizeof *lat);
    if (!batches || !lookups || !lat) {
        fail("out of memory");
        goto out;
    }
    malloc_trim(0); /* give freed memory of earlier datasets back, so the RSS delta is the tree's */
    uint64_t rss0 = rss_now_bytes(), heap0 = heap_in_use_bytes();
    int rc = bt_tree_new(&c->t, &c->p);
    if (rc) {
        fail("bt_tree_new: %s", bt_strerror(rc));
        goto out;
    }
    fprintf(stderr, "%s, %" PRIu64 " keys: build\n", c->ds->name, c->n);
    if (phase_build(c)) goto out;
    uint64_t rss1 = rss_now_bytes(), heap1 = heap_in_use_bytes();
    emit(c->col, "tree_rss_bytes_per_key", ((double)rss1 - (double)rss0) / (double)c->n, "bytes");
    emit(c->col, "tree_heap_bytes_per_key", ((double)heap1 - (double)heap0) / (double)c->n, "bytes");
    fprintf(stderr, "  check\n");
    if (phase_check(c)) goto out;
    fprintf(stderr, "  lookups\n");
    if (phase_lookup(c)) goto out;
    fprintf(stderr, "  inserts at N\n");
    if (phase_at_n(c, batches)) goto out;
    fprintf(stderr, "  lookup proofs\n");
    if (phase_lookup_proofs(c, lookups, lat)) goto out;
    fprintf(stderr, "  what-if\n");
    if (phase_whatif(c, lat)) goto out;
    fprintf(stderr, "  verify\n");
    phase_verify(c, lookups, batches, lat);
    emit(c->col, "peak_rss", (double)rss_peak_bytes(), "bytes");
out:
    bt_tree_free(c->t);
    c->t = NULL;
    for (unsigned i = 0; batches && i < AT_N_BATCHES; i++) bt_free(batches[i].proof);
    for (unsigned i = 0; lookups && i < PROOF_SAMPLES; i++) bt_free(lookups[i].proof);
    free(batches);
    free(lookups);
    free(lat);
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_core [--n N]... [--values 8|100] [--quick] [--full] "
                    "[--json FILE] [--seed S] [--no-refcheck]\n");
}

static double timer_overhead_ns(void)
{
    enum { PAIRS = 100001 };
    static uint64_t v[PAIRS];
    for (unsigned i = 0; i < PAIRS; i++) {
        uint64_t a = now_ns();
        v[i] = now_ns() - a;
    }
    qsort(v, PAIRS, sizeof *v, cmp_u64);
    return (double)v[PAIRS / 2];
}

int main(int argc, char **argv)
{
    uint64_t sizes[16];
    int n_sizes = 0, values = 0;
    bool full = false, refcheck = true;
    uint64_t seed = 42;
    const char *json_path = NULL;
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
        } else if (!strcmp(a, "--seed") && next) {
            seed = strtoull(next, NULL, 10);
            i++;
        } else if (!strcmp(a, "--quick")) {
            full = false;
        } else if (!strcmp(a, "--full")) {
            full = true;
        } else if (!strcmp(a, "--no-refcheck")) {
            refcheck = false;
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
    json_out = stdout;
    if (json_path && !(json_out = fopen(json_path, "w"))) {
        perror(json_path);
        return 2;
    }
    if (sodium_init() < 0) return 2;

    double load[1] = {0};
    if (getloadavg(load, 1) == 1) emit(-1, "loadavg_1m_start", load[0], "");
    emit(-1, "timer_overhead", timer_overhead_ns(), "ns");
    if (refcheck) reference_check();

    for (int s = 0; s < n_sizes && !failures; s++) {
        for (size_t d = 0; d < sizeof DATASETS / sizeof DATASETS[0] && !failures; d++) {
            const dataset *ds = &DATASETS[d];
            if (values && ds->value_bytes != (unsigned)values) continue;
            if (n_columns == (int)(sizeof columns / sizeof columns[0])) break;
            static ctx c; /* large; zeroed once, reused */
            memset(&c, 0, sizeof c);
            c.col = n_columns;
            columns[n_columns++] = (column){sizes[s], ds};
            c.n = sizes[s];
            c.seed = seed;
            c.ds = ds;
            c.p = (bt_params)BT_PARAMS_INIT;
            c.p.value_len = ds->value_len_param;
            run_one(&c);
        }
    }
    if (getloadavg(load, 1) == 1) emit(-1, "loadavg_1m_end", load[0], "");
    emit(-1, "correctness_failures", failures, "");
    print_table();
    printf("\ngoals: insert_throughput fixed8@1M >= 150000 ops/s; lookup_latency_p99 @1M <= 3000 ns\n");
    for (size_t i = 0; i < n_records; i++) {
        const record *r = &records[i];
        if (r->col < 0 || columns[r->col].n != 1000000) continue;
        if (!strcmp(r->metric, "insert_throughput") && !strcmp(columns[r->col].ds->name, "fixed8"))
            printf("  insert_throughput fixed8@1M = %.0f ops/s: %s\n", r->value,
                   r->value >= 150000 ? "MET" : "MISSED");
        if (!strcmp(r->metric, "lookup_latency_p99"))
            printf("  lookup_latency_p99 %s@1M = %.0f ns: %s\n", columns[r->col].ds->name, r->value,
                   r->value <= 3000 ? "MET" : "MISSED");
    }
    for (size_t i = 0; i < n_records; i++)
        if (records[i].col < 0) printf("%s = %.2f %s\n", records[i].metric, records[i].value, records[i].unit);
    printf("(a load average above ~1 means other processes shared the 2 cores: numbers are low)\n");
    printf("correctness failures: %d\n", failures);
    if (json_out != stdout) fclose(json_out);
    free(records);
    return failures ? 1 : 0;
}
