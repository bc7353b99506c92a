/*
 * powercut.c -- turns a killed process's files into what a machine crash
 * would have left (README.md, "Power cut").
 *
 *   powercut base ROOT BASEFILE
 *       records every regular file under ROOT (one level, plus one level of
 *       subdirectories) with its size: at the start of a writer session all
 *       of them count as durable.
 *   powercut apply ROOT BASEFILE LOG [--torn SEED] [--delete-unsynced]
 *       replays LOG (written by relshim.so) over BASEFILE and cuts every file
 *       under ROOT to its durable size: the size at its last fsync/fdatasync,
 *       0 for a file created or truncated since and never synced.  Names
 *       (create, rename, link, unlink) are taken as they are: the model is
 *       "data not synced is lost", not "directory entries are lost".
 *       --torn SEED: for one file in three (chosen by SEED), keep a random
 *       part of the unsynced tail instead of none (a torn write-back).
 *       --delete-unsynced: remove files whose durable size is 0 and that did
 *       not exist at the session start instead of leaving them empty.
 *       Prints one line: files, cut files, bytes dropped.
 * Exit 0 ok, 2 usage or I/O error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 100000

typedef struct ent {
    char *path;
    long long durable; /* -1: not durable at all (new, never synced) */
    int in_base;
} ent;

static ent *g_e;
static size_t g_n;

static void die(const char *what)
{
    fprintf(stderr, "powercut: %s: %s\n", what, strerror(errno));
    exit(2);
}

static ent *find(const char *p, int create)
{
    for (size_t i = 0; i < g_n; i++)
        if (strcmp(g_e[i].path, p) == 0) return &g_e[i];
    if (!create) return NULL;
    if (g_n >= MAX_FILES) {
        fprintf(stderr, "powercut: too many files\n");
        exit(2);
    }
    g_e[g_n].path = strdup(p);
    if (!g_e[g_n].path) die("strdup");
    g_e[g_n].durable = -1;
    g_e[g_n].in_base = 0;
    return &g_e[g_n++];
}

static void drop(const char *p)
{
    ent *e = find(p, 0);
    if (!e) return;
    free(e->path);
    *e = g_e[--g_n];
}

typedef void (*file_fn)(const char *path, const struct stat *st, void *ctx);

static void walk(const char *dir, int depth, file_fn fn, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d) die(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISREG(st.st_mode)) fn(p, &st, ctx);
        else if (S_ISDIR(st.st_mode) && depth < 2) walk(p, depth + 1, fn, ctx);
    }
    closedir(d);
}

static void base_one(const char *p, const struct stat *st, void *ctx)
{
    fprintf((FILE *)ctx, "%lld %s\n", (long long)st->st_size, p);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t x = rng_state;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

typedef struct apply_ctx {
    int torn, del;
    long files, cut;
    long long dropped;
} apply_ctx;

static void apply_one(const char *p, const struct stat *st, void *vctx)
{
    apply_ctx *c = vctx;
    c->files++;
    ent *e = find(p, 0);
    long long keep = e ? (e->durable < 0 ? 0 : e->durable) : 0;
    if (keep >= st->st_size) return;
    if (!e || (!e->in_base && e->durable < 0)) {
        if (c->del) {
            if (unlink(p) != 0) die(p);
            c->cut++;
            c->dropped += st->st_size;
            return;
        }
    }
    if (c->torn && rnd() % 3 == 0) keep += (long long)(rnd() % (uint64_t)(st->st_size - keep + 1));
    if (keep >= st->st_size) return;
    if (truncate(p, keep) != 0) die(p);
    c->cut++;
    c->dropped += st->st_size - keep;
}

static char *canon(const char *root)
{
    static char r[PATH_MAX];
    if (!realpath(root, r)) die(root);
    return r;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "base") == 0) {
        FILE *f = fopen(argv[3], "w");
        if (!f) die(argv[3]);
        walk(canon(argv[2]), 0, base_one, f);
        if (fclose(f) != 0) die(argv[3]);
        return 0;
    }
    if (argc < 5 || strcmp(argv[1], "apply") != 0) {
        fprintf(stderr, "usage: powercut base ROOT BASEFILE\n"
                        "       powercut apply ROOT BASEFILE LOG [--torn SEED] [--delete-unsynced]\n");
        return 2;
    }
    apply_ctx c = {0};
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--torn") && i + 1 < argc) {
            c.torn = 1;
            rng_state = strtoull(argv[++i], NULL, 10) * 2 + 1;
        } else if (!strcmp(argv[i], "--delete-unsynced")) {
            c.del = 1;
        } else {
            fprintf(stderr, "powercut: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    g_e = calloc(MAX_FILES, sizeof *g_e);
    if (!g_e) die("calloc");
    char *root = canon(argv[2]);
    char line[3 * PATH_MAX];
    FILE *b = fopen(argv[3], "r");
    if (!b) die(argv[3]);
    while (fgets(line, sizeof line, b)) {
        long long sz;
        char p[PATH_MAX];
        if (sscanf(line, "%lld %4095[^\n]", &sz, p) != 2) continue;
        ent *e = find(p, 1);
        e->durable = sz;
        e->in_base = 1;
    }
    fclose(b);
    FILE *l = fopen(argv[4], "r");
    if (!l && errno != ENOENT) die(argv[4]);
    long events = 0;
    char pend_old[PATH_MAX] = "", pend_new[PATH_MAX] = "";
    while (l && fgets(line, sizeof line, l)) {
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') break; /* torn last line */
        line[len - 1] = 0;
        char a[PATH_MAX], bb[PATH_MAX];
        long long n;
        events++;
        switch (line[0]) {
        case 'S':
            if (sscanf(line + 2, "%4095s %lld", a, &n) == 2) find(a, 1)->durable = n;
            break;
        case 'T':
            if (sscanf(line + 2, "%4095s", a) == 1) find(a, 1)->durable = -1;
            break;
        case 'Z':
            if (sscanf(line + 2, "%4095s %lld", a, &n) == 2) {
                ent *e = find(a, 1);
                if (e->durable > n) e->durable = n;
            }
            break;
        case 'R':
            if (sscanf(line + 2, "%4095s %4095s", pend_old, pend_new) != 2) pend_old[0] = 0;
            break;
        case 'r':
        case 'L':
            if (sscanf(line + 2, "%4095s %4095s", a, bb) == 2) {
                ent *o = find(a, 0);
                long long d = o ? o->durable : -1;
                int ib = o ? o->in_base : 0;
                if (line[0] == 'r') drop(a);
                ent *e = find(bb, 1);
                e->durable = d;
                e->in_base = ib;
                pend_old[0] = 0;
            }
            break;
        case 'U':
            if (sscanf(line + 2, "%4095s", a) == 1) drop(a);
            break;
        default:
            break;
        }
    }
    if (l) fclose(l);
    /* A rename killed between its intent and its completion record. */
    struct stat st;
    if (pend_old[0] && lstat(pend_old, &st) != 0 && lstat(pend_new, &st) == 0) {
        ent *o = find(pend_old, 0);
        long long d = o ? o->durable : -1;
        drop(pend_old);
        find(pend_new, 1)->durable = d;
    }
    walk(root, 0, apply_one, &c);
    printf("powercut: %ld events, %ld files, %ld cut, %lld bytes dropped\n", events, c.files, c.cut,
           c.dropped);
    return 0;
}
