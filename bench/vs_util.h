/*
 * vs_util.h -- helpers of bench_vs.c (suite `vs`): input batches, directory
 * sizes and page-cache eviction, the growth curves and latency CDFs written
 * for the plots, the CSV files, the target table and the gnuplot script.
 * Included by bench_vs.c only, after bench_util.h.
 */
#ifndef BT_BENCH_VS_UTIL_H
#define BT_BENCH_VS_UTIL_H

/* ---- inputs --------------------------------------------------------------- */

typedef struct batch {
    uint8_t keys[BATCH][KEY_LEN];
    uint8_t vals[BATCH][VALUE_MAX];
    bt_op ops[BATCH];
    bt_result res[BATCH];
} batch;

/* Inserts of key(first .. first+n-1) with their values (bench/BENCHMARKS.md). */
static void batch_inserts(batch *in, const dataset *ds, uint64_t seed, uint64_t first, unsigned n)
{
    for (unsigned j = 0; j < n; j++) {
        make_key(in->keys[j], seed, first + j);
        make_value(in->vals[j], ds->value_bytes, "avlvec:val", seed, first + j);
        in->ops[j] = (bt_op){BT_OP_INSERT, in->keys[j], KEY_LEN, in->vals[j], ds->value_bytes};
    }
}

/* One Update of key(k) to value; in->ops[0]. */
static void batch_update(batch *in, const dataset *ds, uint64_t seed, uint64_t k, const uint8_t *value)
{
    make_key(in->keys[0], seed, k);
    memcpy(in->vals[0], value, ds->value_bytes);
    in->ops[0] = (bt_op){BT_OP_UPDATE, in->keys[0], KEY_LEN, in->vals[0], ds->value_bytes};
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

static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* Evicts a directory's files (not subdirectories) from the OS page cache. */
static void evict_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) || !S_ISREG(st.st_mode)) continue;
        int fd = open(p, O_RDONLY);
        if (fd < 0) continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    closedir(d);
}

/* ---- growth curves: insert throughput per segment of the load ------------ */

typedef struct growth {
    uint64_t step, next, last_keys, last_ns;
    uint64_t *keys;
    double *ops;
    size_t n, cap;
} growth;

static growth growth_new(uint64_t n, uint64_t step)
{
    growth g = {.step = step, .next = step};
    g.cap = (size_t)(n / step) + 2;
    g.keys = calloc(g.cap, sizeof *g.keys);
    g.ops = calloc(g.cap, sizeof *g.ops);
    if (!g.keys || !g.ops) g.cap = 0;
    return g;
}

/* keys loaded so far, total_ns the load's time so far. */
static void growth_note(growth *g, uint64_t keys, uint64_t total_ns)
{
    if (keys < g->next || g->n == g->cap || total_ns <= g->last_ns) return;
    g->keys[g->n] = keys;
    g->ops[g->n++] = (double)(keys - g->last_keys) * 1e9 / (double)(total_ns - g->last_ns);
    g->last_keys = keys;
    g->last_ns = total_ns;
    while (g->next <= keys) g->next += g->step;
}

static void growth_free(growth *g)
{
    free(g->keys);
    free(g->ops);
}

static void growth_reset(const char *out)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/growth.csv", out);
    FILE *f = fopen(p, "w");
    if (f) {
        fprintf(f, "dataset,n,keys,base_ops_per_s,ours_ops_per_s\n");
        fclose(f);
    }
}

static void growth_write(const char *out, const char *ds, uint64_t n, const growth *b, const growth *o)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/growth.csv", out);
    FILE *f = fopen(p, "a");
    if (!f) return;
    for (size_t i = 0; i < b->n && i < o->n; i++)
        fprintf(f, "%s,%" PRIu64 ",%" PRIu64 ",%.1f,%.1f\n", ds, n, b->keys[i], b->ops[i], o->ops[i]);
    fclose(f);
}

/* Last growth point of a side (the insert throughput at the full size). */
static double growth_last(const growth *g) { return g->n ? g->ops[g->n - 1] : 0; }

/* ---- latency CDFs (sorted samples) --------------------------------------- */

static void cdf_write(const char *out, const char *ds, uint64_t n, const char *kind,
                      const uint64_t *b, const uint64_t *o, size_t m)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/cdf_%s_%s_%" PRIu64 ".csv", out, kind, ds, n);
    FILE *f = fopen(p, "w");
    if (!f) return;
    fprintf(f, "quantile,base_ns,ours_ns\n");
    for (int i = 1; i <= CDF_POINTS; i++) {
        double q = (double)i / CDF_POINTS;
        if (i == CDF_POINTS) q = 0.999;
        fprintf(f, "%.4f,%.0f,%.0f\n", q, pct(b, m, q), pct(o, m, q));
    }
    fclose(f);
}

/* ---- results ------------------------------------------------------------- */

static void write_csv(const char *out)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/results.csv", out);
    FILE *f = fopen(p, "w");
    if (!f) return;
    fprintf(f, "suite,dataset,n,value_bytes,metric,value,unit\n");
    for (size_t i = 0; i < n_records; i++) {
        const record *r = &records[i];
        const column *c = r->col >= 0 ? &columns[r->col] : NULL;
        fprintf(f, "vs,%s,%" PRIu64 ",%u,%s,%.3f,%s\n", c ? c->ds->name : "", c ? c->n : 0,
                c ? c->ds->value_bytes : 0, r->metric, r->value, r->unit);
    }
    fclose(f);
}

/* The value of metric in the column of (dataset, n), or NAN. */
static double rec(const char *ds, uint64_t n, const char *metric)
{
    for (size_t i = 0; i < n_records; i++) {
        const record *r = &records[i];
        if (r->col >= 0 && columns[r->col].n == n && !strcmp(columns[r->col].ds->name, ds) &&
            !strcmp(r->metric, metric))
            return r->value;
    }
    return NAN;
}

typedef struct target {
    const char *what;   /* the plan's words                                 */
    const char *metric; /* base_<metric> and ours_<metric>                  */
    int higher_better;  /* 1: ratio ours/base >= want; 0: ours/base <= want */
    double want;        /* relative target as a ratio ours/base              */
    const char *plan;   /* the plan's text                                   */
} target;

static const target TARGETS[] = {
    {"write throughput (1-op commits)", "write_throughput", 1, 1.5, "+50%"},
    {"read latency (warm p50)", "warm_lookup_p50", 0, 0.7, "-30%"},
    {"recovery time (clean reopen)", "recovery_ms", 0, 0.6, "-40%"},
    {"storage size (disk B/note)", "disk_bytes_per_note", 0, 0.75, "-25%"},
    {"batch operations (1000/batch)", "batch_insert_throughput", 1, 1.6, "+60%"},
    {"node lookup (cold p50)", "cold_lookup_p50", 0, 0.5, "-50%"},
    {"batch insertion at size N", "insert_throughput_at_n", 1, 1.6, "+60%"},
    {"node storage (B/note)", "node_bytes_per_note", 0, 0.6, "-40%"},
    {"op-log throughput", "oplog_throughput", 1, 1.7, "+70%"},
    {"op-log size (B/op)", "oplog_bytes_per_op", 0, 0.5, "-50%"},
    {"replay speed (ops/s)", "replay_ops_per_s", 1, 1.6, "+60%"},
    {"checkpoint creation (ms)", "checkpoint_create_ms", 0, 0.2, "-80%"},
    {"recovery from checkpoint (ms)", "checkpoint_recovery_ms", 0, 0.3, "-70%"},
    {"checkpoint size (bytes)", "checkpoint_bytes", 0, 0.5, "-50%"},
    {"GOAL write throughput >= 5x", "write_throughput", 1, 5.0, ">=5x"},
    {"GOAL recovery time >= 5x faster", "recovery_ms", 0, 0.2, ">=5x"},
};

static int print_target_row(FILE *csv, const char *what, const char *ds, uint64_t n, double b,
                            double o, double ratio, const char *plan, bool have, bool pass)
{
    char bs[32] = "-", os[32] = "-", rs[32] = "-";
    if (!isnan(b)) snprintf(bs, sizeof bs, "%.4g", b);
    if (!isnan(o)) snprintf(os, sizeof os, "%.4g", o);
    if (!isnan(ratio)) snprintf(rs, sizeof rs, "%.3f", ratio);
    const char *verdict = !have ? "n/a" : pass ? "PASS" : "FAIL";
    printf("%-34s %-8s %9" PRIu64 " %12s %12s %9s %8s  %s\n", what, ds, n, bs, os, rs, plan, verdict);
    if (csv)
        fprintf(csv, "\"%s\",%s,%" PRIu64 ",%s,%s,%s,%s,%s\n", what, ds, n, bs, os, rs, plan, verdict);
    return have && !pass;
}

/* The table of every plan target and goal. Relative targets use the largest
 * size of the tracker dataset (fixed8), and are also given for the other
 * datasets at that size; absolute goals need their size. */
static void print_targets(const char *out, bool full)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/targets.csv", out);
    FILE *csv = fopen(p, "w");
    if (csv) fprintf(csv, "target,dataset,n,baseline,ours,ratio,plan,verdict\n");
    uint64_t nmax = 0;
    for (int c = 0; c < n_columns; c++)
        if (columns[c].n > nmax) nmax = columns[c].n;
    printf("\nPlan targets: ours against the upstream-style baseline, same run (ratio = ours/baseline)\n");
    printf("%-34s %-8s %9s %12s %12s %9s %8s  %s\n", "target", "dataset", "notes", "baseline",
           "ours", "ratio", "plan", "verdict");
    int fails = 0;
    static const char *dss[] = {"fixed8", "fixed16", "var100"};
    for (size_t t = 0; t < sizeof TARGETS / sizeof TARGETS[0]; t++) {
        const target *tg = &TARGETS[t];
        for (size_t d = 0; d < 3; d++) {
            char bm[64], om[64];
            snprintf(bm, sizeof bm, "base_%s", tg->metric);
            snprintf(om, sizeof om, "ours_%s", tg->metric);
            double b = rec(dss[d], nmax, bm), o = rec(dss[d], nmax, om);
            if (isnan(b) && isnan(o)) continue;
            double r = o / b;
            bool have = !isnan(r) && b > 0;
            bool pass = have && (tg->higher_better ? r >= tg->want : r <= tg->want);
            char plan[32];
            snprintf(plan, sizeof plan, "%s", tg->plan);
            fails += print_target_row(csv, tg->what, dss[d], nmax, b, o, r, plan, have, pass);
        }
    }
    printf("\nAbsolute goals (ours, fixed8 = the tracker tree)\n");
    struct {
        const char *what, *metric;
        uint64_t n;
        double limit;
        int higher_better;
    } goals[] = {
        {"GOAL >=150k durable inserts/s @1M", "ours_batch_insert_throughput", 1000000, 150000, 1},
        {"GOAL >=100k durable inserts/s @10M", "ours_batch_insert_throughput", 10000000, 100000, 1},
        {"GOAL lookup p99 <=3us warm @1M", "ours_warm_lookup_p99", 1000000, 3000, 0},
        {"GOAL reopen <=100 ms @10M", "ours_recovery_ms", 10000000, 100, 0},
        {"GOAL <=120 B on disk/note (8-byte)", "ours_disk_bytes_per_note", 0, 120, 0},
    };
    for (size_t g = 0; g < sizeof goals / sizeof goals[0]; g++) {
        uint64_t n = goals[g].n ? goals[g].n : nmax;
        double o = rec("fixed8", n, goals[g].metric);
        bool have = !isnan(o);
        bool pass = have && (goals[g].higher_better ? o >= goals[g].limit : o <= goals[g].limit);
        char plan[32];
        snprintf(plan, sizeof plan, "%s%g", goals[g].higher_better ? ">=" : "<=", goals[g].limit);
        fails += print_target_row(csv, goals[g].what, "fixed8", n, NAN, o, NAN, plan, have, pass);
    }
    if (!full) printf("(quick profile: goals at 1M/10M are measured by --profile full)\n");
    printf("targets not met: %d (a FAIL is a measurement, not an error of the benchmark)\n", fails);
    if (csv) fclose(csv);
}

/* ---- plots ---------------------------------------------------------------- */

static void make_plots(const char *out)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("plots: gnuplot not found; install it (Debian: apt-get install gnuplot-nox) and\n"
               "       run: gnuplot %s/plots.gp\n", out);
    }
    char p[4400];
    snprintf(p, sizeof p, "%s/plots.gp", out);
    FILE *f = fopen(p, "w");
    if (!f) return;
    /* Growth curves and CDFs of every column, disk bytes and reopen times
     * per size from results.csv. */
    fprintf(f, "# generated by bench_vs: plots of the vs suite (run from any directory)\n"
               "cd '%s'\n"
               "set datafile separator ','\n"
               "set terminal pngcairo size 900,560 noenhanced\n"
               "set key top right\nset grid\n",
            out);
    for (int c = 0; c < n_columns; c++) {
        const char *ds = columns[c].ds->name;
        uint64_t n = columns[c].n;
        fprintf(f,
                "set output 'throughput_%s_%" PRIu64 ".png'\n"
                "set title 'Batch insert throughput vs tree size (%s, batches of 1000)'\n"
                "set xlabel 'notes in the tree'\nset ylabel 'inserts/s'\nset logscale y\n"
                "plot '< grep \"^%s,%" PRIu64 ",\" growth.csv' using 3:5 with linespoints title 'ours', \\\n"
                "     '' using 3:4 with linespoints title 'baseline'\nunset logscale y\n",
                ds, n, ds, ds, n);
        for (int k = 0; k < 2; k++) {
            const char *kind = k ? "cold" : "warm";
            fprintf(f,
                    "set output 'cdf_%s_%s_%" PRIu64 ".png'\n"
                    "set title 'Lookup latency CDF, %s (%s, %" PRIu64 " notes)'\n"
                    "set xlabel 'latency (ns, log)'\nset ylabel 'fraction'\nset logscale x\n"
                    "plot 'cdf_%s_%s_%" PRIu64 ".csv' every ::1 using 3:1 with lines title 'ours', \\\n"
                    "     '' every ::1 using 2:1 with lines title 'baseline'\nunset logscale x\n",
                    kind, ds, n, kind, ds, n, kind, ds, n);
        }
    }
    fprintf(f,
            "set output 'disk_bytes_per_note.png'\n"
            "set title 'Disk bytes per note after a clean close (log)'\n"
            "set style data histograms\nset style fill solid 0.8\nset logscale y\n"
            "set xlabel 'dataset@notes'\nset ylabel 'bytes'\nset xtics rotate by -30\n"
            "plot '< grep \"_disk_bytes_per_note,\" results.csv | grep base_ ' using 6:xtic(sprintf(\"%%s@%%s\",stringcolumn(2),stringcolumn(3))) title 'baseline', \\\n"
            "     '< grep \"_disk_bytes_per_note,\" results.csv | grep ours_ ' using 6 title 'ours'\n"
            "unset logscale y\nset xtics norotate\nset style data linespoints\n"
            "set output 'reopen_ms.png'\n"
            "set title 'Reopen (recovery) time vs tree size: clean close (page cache evicted), and after a crash'\n"
            "set xlabel 'notes'\nset ylabel 'ms (log)'\nset logscale xy\n"
            "plot '< grep \"fixed8,.*,base_recovery_ms,\" results.csv' using 3:6 with linespoints title 'baseline fixed8', \\\n"
            "     '< grep \"fixed8,.*,ours_recovery_ms,\" results.csv' using 3:6 with linespoints title 'ours fixed8', \\\n"
            "     '< grep \"fixed8,.*,base_crash_recovery_ms,\" results.csv' using 3:6 with linespoints title 'baseline fixed8 after crash', \\\n"
            "     '< grep \"fixed8,.*,ours_crash_recovery_ms,\" results.csv' using 3:6 with linespoints title 'ours fixed8 after crash'\n");
    fclose(f);
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        char cmd[4600];
        snprintf(cmd, sizeof cmd, "gnuplot '%s/plots.gp' 2>'%s/plots.log'", out, out);
        if (system(cmd) == 0) printf("plots: %s/*.png\n", out);
        else printf("plots: gnuplot failed, see %s/plots.log\n", out);
    }
}

#endif
