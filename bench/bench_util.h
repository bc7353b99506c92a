/*
 * bench_util.h -- what bench_core.c and bench_store.c share: the datasets
 * (bench/BENCHMARKS.md), deterministic inputs, percentiles, and the results
 * (JSON lines as they come, a table at the end).  Header-only, because
 * every bench source file is its own program.  Define BENCH_SUITE ("core", "store")
 * and include it after the system headers.
 */
#ifndef BT_BENCH_UTIL_H
#define BT_BENCH_UTIL_H

static int failures;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

/* out = Blake2b-256(tag || u64be(seed) || u64be(i) [|| u8(block) if block > 0]) */
static void derive(uint8_t out[32], const char *tag, uint64_t seed, uint64_t i, unsigned block)
{
    uint8_t msg[64];
    size_t tl = strlen(tag);
    memcpy(msg, tag, tl);
    put_be64(msg + tl, seed);
    put_be64(msg + tl + 8, i);
    size_t len = tl + 16;
    if (block > 0) msg[len++] = (uint8_t)block;
    crypto_generichash(out, 32, msg, len, NULL, 0);
}

static void make_key(uint8_t out[KEY_LEN], uint64_t seed, uint64_t i)
{
    derive(out, "avlvec:key", seed, i, 0);
}

/* The first len bytes of H(tag..i) || H(tag..i||1) || H(tag..i||2) ... */
static void make_value(uint8_t *out, size_t len, const char *tag, uint64_t seed, uint64_t i)
{
    uint8_t h[32];
    for (unsigned block = 0; len > 0; block++) {
        derive(h, tag, seed, i, block);
        size_t take = len < 32 ? len : 32;
        memcpy(out, h, take);
        out += take;
        len -= take;
    }
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples (q in 0..1). */
static double pct(const uint64_t *sorted, size_t n, double q)
{
    if (n == 0) return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)sorted[rank - 1];
}

static double mean_u64(const uint64_t *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i];
    return n ? s / (double)n : 0;
}

static uint64_t rss_peak_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_maxrss * 1024u;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
}

typedef struct dataset {
    const char *name;
    unsigned value_bytes;
    uint32_t value_len_param;
} dataset;

static const dataset DATASETS[] = {
    {"fixed8", 8, 8},
    {"var100", 100, BT_VALUE_VARIABLE},
};

typedef struct column {
    uint64_t n;
    const dataset *ds;
} column;

typedef struct record {
    int col;
    char metric[48];
    char unit[8];
    double value;
} record;

static FILE *json_out;
static record *records;
static size_t n_records, cap_records;
static column columns[32];
static int n_columns;

static void emit(int col, const char *metric, double value, const char *unit)
{
    uint64_t n = col >= 0 ? columns[col].n : 0;
    const dataset *ds = col >= 0 ? columns[col].ds : NULL;
    fprintf(json_out,
            "{\"metric\":\"%s\",\"value\":%.3f,\"unit\":\"%s\",\"n\":%" PRIu64
            ",\"value_bytes\":%u,\"dataset\":\"%s\",\"suite\":\"" BENCH_SUITE "\",\"version\":\"%s\"}\n",
            metric, value, unit, n, ds ? ds->value_bytes : 0, ds ? ds->name : "", bt_version());
    fflush(json_out);
    if (n_records == cap_records) {
        cap_records = cap_records ? 2 * cap_records : 64;
        records = realloc(records, cap_records * sizeof *records);
        if (!records) abort();
    }
    record *r = &records[n_records++];
    r->col = col;
    snprintf(r->metric, sizeof r->metric, "%s", metric);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->value = value;
}

static void emit_latency(int col, const char *base, uint64_t *v, size_t n, bool p999)
{
    char name[48];
    qsort(v, n, sizeof *v, cmp_u64);
    snprintf(name, sizeof name, "%s_p50", base);
    emit(col, name, pct(v, n, 0.50), "ns");
    snprintf(name, sizeof name, "%s_p99", base);
    emit(col, name, pct(v, n, 0.99), "ns");
    if (p999) {
        snprintf(name, sizeof name, "%s_p999", base);
        emit(col, name, pct(v, n, 0.999), "ns");
    }
    snprintf(name, sizeof name, "%s_mean", base);
    emit(col, name, mean_u64(v, n), "ns");
    snprintf(name, sizeof name, "%s_max", base);
    emit(col, name, n ? (double)v[n - 1] : 0, "ns");
}

static void print_table(void)
{
    printf("\n%-36s %-6s", "metric", "unit");
    for (int c = 0; c < n_columns; c++) {
        char h[32];
        snprintf(h, sizeof h, "%s@%" PRIu64, columns[c].ds->name, columns[c].n);
        printf(" %16s", h);
    }
    printf("\n");
    for (size_t i = 0; i < n_records; i++) {
        if (records[i].col < 0) continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = records[j].col >= 0 && strcmp(records[j].metric, records[i].metric) == 0;
        if (seen) continue;
        printf("%-36s %-6s", records[i].metric, records[i].unit);
        for (int c = 0; c < n_columns; c++) {
            const record *hit = NULL;
            for (size_t j = i; j < n_records; j++)
                if (records[j].col == c && strcmp(records[j].metric, records[i].metric) == 0)
                    hit = &records[j];
            if (!hit) printf(" %16s", "-");
            else if (strcmp(hit->unit, "bytes") == 0 && hit->value >= 1e6)
                printf(" %14.1fMB", hit->value / 1048576.0);
            else if (strcmp(hit->unit, "s") == 0 || strcmp(hit->unit, "ms") == 0 ||
                     (hit->value != 0 && hit->value < 100 && hit->value > -100))
                printf(" %16.2f", hit->value);
            else printf(" %16.0f", hit->value);
        }
        printf("\n");
    }
}

#endif
