/*
 * test_kv.c -- the kv.h contract, run against both engines: the in-memory
 * store (store_mem.c) and RocksDB (store_rocksdb.c, in a fresh mkdtemp
 * directory under /tmp that is removed afterwards).  Engine-specific tests
 * follow: reopen persistence, RocksDB's LOCK, checkpoints, read-only opens,
 * a flipped byte in the WAL, out-of-memory on every allocation of open and
 * write, and the memory store's failure injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "store/kv.h"
#include "testutil.h"
#include "util/alloc.h"
#include "codec/endian.h"
#include "codec/records.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { ENG_MEM = 0, ENG_ROCKS = 1 };
static int eng_mem = ENG_MEM, eng_rocks = ENG_ROCKS;

typedef struct fx {
    int engine;
    char dir[64];   /* temporary directory (rocksdb only) */
    char path[128]; /* the database inside it */
    bt_kv_config cfg;
    bt_kv *kv;
} fx;

static char msg[512];

/* ---------------------------------------------------------------- helpers */

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void default_config(bt_kv_config *c)
{
    memset(c, 0, sizeof *c);
    c->block_cache_bytes = 4u << 20;
    c->compression[BT_CF_NODES] = 0;
    c->compression[BT_CF_OPS] = 1;         /* lz4  */
    c->compression[BT_CF_CHECKPOINTS] = 2; /* zstd */
    c->compression[BT_CF_META] = 0;
    c->compression[BT_CF_INDEXES] = 2;
    c->zstd_level = 3;
    c->bloom_bits[BT_CF_NODES] = 10;
    c->bloom_bits[BT_CF_INDEXES] = 10;
    c->write_buffer_bytes = 1u << 20;
    c->background_jobs = 2;
    c->info_log_level = 3; /* ERROR */
    c->create_if_missing = true;
}

static bt_kv *open_rocks(const char *path, const bt_kv_config *cfg)
{
    bt_kv *kv = NULL;
    int rc = bt_kv_open_rocksdb(&kv, path, cfg, msg, sizeof msg);
    if (rc) fail_msg("open %s: %d %s", path, rc, msg);
    return kv;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->engine = *(int *)*state;
    default_config(&f->cfg);
    if (f->engine == ENG_MEM) {
        assert_int_equal(bt_kv_open_mem(&f->kv), 0);
    } else {
        strcpy(f->dir, "/tmp/bt_test_kv_XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/db", f->dir);
        f->kv = open_rocks(f->path, &f->cfg);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->kv) f->kv->v->close(f->kv);
    if (f->dir[0]) rm_rf(f->dir);
    free(f);
    return 0;
}

static void reopen(fx *f)
{
    f->kv->v->close(f->kv);
    f->kv = NULL;
    f->kv = open_rocks(f->path, &f->cfg);
}

static void put(bt_kv *kv, int cf, const void *k, size_t kl, const void *v, size_t vl)
{
    bt_kv_batch *b = kv->v->batch_new(kv);
    assert_non_null(b);
    kv->v->batch_put(b, cf, k, kl, v, vl);
    int rc = kv->v->write(kv, b, false, msg, sizeof msg);
    if (rc) fail_msg("write: %d %s", rc, msg);
    kv->v->batch_free(b);
}

static void puts_(bt_kv *kv, int cf, const char *k, const char *v)
{
    put(kv, cf, k, strlen(k), v, strlen(v));
}

static void del(bt_kv *kv, int cf, const char *k)
{
    bt_kv_batch *b = kv->v->batch_new(kv);
    assert_non_null(b);
    kv->v->batch_del(b, cf, k, strlen(k));
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
    kv->v->batch_free(b);
}

/* Returns the get() code; on success checks the value equals want (if given). */
static int get_check(bt_kv *kv, int cf, const void *k, size_t kl, const void *want, size_t wl)
{
    bt_buf out = BT_BUF_INIT;
    int rc = kv->v->get(kv, cf, k, kl, &out, msg, sizeof msg);
    if (rc == 0 && want) {
        assert_int_equal(out.len, wl);
        if (wl) assert_memory_equal(out.data, want, wl);
    }
    bt_buf_free(&out);
    return rc;
}

static int gets_(bt_kv *kv, int cf, const char *k, const char *want)
{
    return get_check(kv, cf, k, strlen(k), want, want ? strlen(want) : 0);
}

static void assert_iter_at(bt_kv *kv, bt_kv_iter *it, const char *k, const char *v)
{
    if (!k) {
        assert_false(kv->v->iter_valid(it));
        return;
    }
    assert_true(kv->v->iter_valid(it));
    size_t kl, vl;
    const uint8_t *kp = kv->v->iter_key(it, &kl);
    assert_int_equal(kl, strlen(k));
    assert_memory_equal(kp, k, kl);
    if (v) {
        const uint8_t *vp = kv->v->iter_value(it, &vl);
        assert_int_equal(vl, strlen(v));
        if (vl) assert_memory_equal(vp, v, vl);
    }
}

static size_t count_cf(bt_kv *kv, int cf)
{
    bt_kv_iter *it = kv->v->iter_new(kv, cf);
    assert_non_null(it);
    size_t n = 0;
    for (kv->v->iter_seek(it, "", 0); kv->v->iter_valid(it); kv->v->iter_next(it)) n++;
    assert_int_equal(kv->v->iter_status(it, msg, sizeof msg), 0);
    kv->v->iter_free(it);
    return n;
}

/* ------------------------------------------------------ contract (both) */

static void t_put_get_del(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    assert_int_equal(gets_(kv, BT_CF_NODES, "k1", NULL), BT_ENOTFOUND);
    puts_(kv, BT_CF_NODES, "k1", "v1");
    assert_int_equal(gets_(kv, BT_CF_NODES, "k1", "v1"), 0);
    assert_int_equal(gets_(kv, BT_CF_NODES, "k", NULL), BT_ENOTFOUND);
    assert_int_equal(gets_(kv, BT_CF_NODES, "k10", NULL), BT_ENOTFOUND);
    puts_(kv, BT_CF_NODES, "k1", "second");
    assert_int_equal(gets_(kv, BT_CF_NODES, "k1", "second"), 0);
    puts_(kv, BT_CF_NODES, "empty", ""); /* an empty value is a value */
    assert_int_equal(gets_(kv, BT_CF_NODES, "empty", ""), 0);

    /* get appends to what the buffer already holds */
    bt_buf out = BT_BUF_INIT;
    assert_int_equal(bt_buf_append(&out, "xx", 2), 0);
    assert_int_equal(kv->v->get(kv, BT_CF_NODES, "k1", 2, &out, msg, sizeof msg), 0);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.data, "xxsecond", 8);
    bt_buf_free(&out);

    del(kv, BT_CF_NODES, "k1");
    assert_int_equal(gets_(kv, BT_CF_NODES, "k1", NULL), BT_ENOTFOUND);
    del(kv, BT_CF_NODES, "never-there"); /* deleting an absent key is fine */
    assert_int_equal(gets_(kv, BT_CF_NODES, "empty", ""), 0);
}

static void t_batch_semantics(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    bt_kv_batch *b = kv->v->batch_new(kv);
    assert_non_null(b);
    assert_int_equal(kv->v->batch_count(b), 0);
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), 0); /* empty batch */

    kv->v->batch_put(b, BT_CF_NODES, "a", 1, "1", 1);
    kv->v->batch_put(b, BT_CF_NODES, "b", 1, "22", 2);
    kv->v->batch_del(b, BT_CF_NODES, "a", 1);   /* later op wins */
    kv->v->batch_put(b, BT_CF_META, "c", 1, "3", 1);
    kv->v->batch_del(b, BT_CF_META, "c", 1);
    kv->v->batch_put(b, BT_CF_META, "c", 1, "33", 2);
    kv->v->batch_del_range(b, BT_CF_OPS, "x", 1, "y", 1);
    assert_int_equal(kv->v->batch_count(b), 7);
    assert_int_equal(kv->v->batch_bytes(b), 2 + 3 + 1 + 2 + 1 + 3 + 2);
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), 0);
    assert_int_equal(gets_(kv, BT_CF_NODES, "a", NULL), BT_ENOTFOUND);
    assert_int_equal(gets_(kv, BT_CF_NODES, "b", "22"), 0);
    assert_int_equal(gets_(kv, BT_CF_META, "c", "33"), 0);

    /* a batch is unchanged by write; clear empties it for reuse */
    kv->v->batch_clear(b);
    assert_int_equal(kv->v->batch_count(b), 0);
    assert_int_equal(kv->v->batch_bytes(b), 0);
    kv->v->batch_put(b, BT_CF_NODES, "d", 1, "4", 1);
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
    assert_int_equal(gets_(kv, BT_CF_NODES, "d", "4"), 0);
    assert_int_equal(gets_(kv, BT_CF_NODES, "b", "22"), 0);
    kv->v->batch_free(b);
    kv->v->batch_free(NULL);
}

/* K1/K3/K5: readers on other threads never see half a batch, nor a later
 * batch without an earlier one. */
typedef struct race {
    bt_kv *kv;
    atomic_int done;
    atomic_int bad;
    atomic_long scans;
} race;

static void *race_reader(void *arg)
{
    race *r = arg;
    bt_kv *kv = r->kv;
    while (!atomic_load(&r->done)) {
        bt_kv_iter *it = kv->v->iter_new(kv, BT_CF_NODES);
        if (!it) {
            atomic_store(&r->bad, 1);
            break;
        }
        long na = 0, nb = 0, maxa = -1;
        for (kv->v->iter_seek(it, "", 0); kv->v->iter_valid(it); kv->v->iter_next(it)) {
            size_t kl;
            const uint8_t *k = kv->v->iter_key(it, &kl);
            if (kl == 6 && k[0] == 'a') {
                char num[8];
                memcpy(num, k + 1, 5);
                num[5] = 0;
                long idx = strtol(num, NULL, 10);
                na++;
                if (idx > maxa) maxa = idx;
            } else if (kl == 6 && k[0] == 'b') {
                nb++;
            }
        }
        if (na != nb || na != maxa + 1) atomic_store(&r->bad, 1);
        kv->v->iter_free(it);
        /* point reads: b<i> present whenever a<i> is */
        char key[32];
        snprintf(key, sizeof key, "a%05ld", maxa);
        bt_buf out = BT_BUF_INIT;
        char m[128];
        if (maxa >= 0) {
            key[0] = 'b';
            if (kv->v->get(kv, BT_CF_NODES, key, 6, &out, m, sizeof m) != 0)
                atomic_store(&r->bad, 1);
        }
        bt_buf_free(&out);
        atomic_fetch_add(&r->scans, 1);
    }
    return NULL;
}

static void t_batch_atomic_visibility(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    /* an iterator taken before a batch sees none of it; after, all of it */
    bt_kv_iter *before = kv->v->iter_new(kv, BT_CF_NODES);
    bt_kv_batch *b = kv->v->batch_new(kv);
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        kv->v->batch_put(b, BT_CF_NODES, k, strlen(k), "v", 1);
    }
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
    kv->v->iter_seek(before, "", 0);
    assert_false(kv->v->iter_valid(before));
    kv->v->iter_free(before);
    assert_int_equal(count_cf(kv, BT_CF_NODES), 10);
    kv->v->batch_clear(b);
    kv->v->batch_del_range(b, BT_CF_NODES, "k", 1, "l", 1);
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
    assert_int_equal(count_cf(kv, BT_CF_NODES), 0);

    race r = {.kv = kv};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, race_reader, &r), 0);
    for (int i = 0; i < 400; i++) {
        char ka[16], kb[16];
        snprintf(ka, sizeof ka, "a%05d", i);
        snprintf(kb, sizeof kb, "b%05d", i);
        kv->v->batch_clear(b);
        kv->v->batch_put(b, BT_CF_NODES, ka, 6, "x", 1);
        kv->v->batch_put(b, BT_CF_OPS, ka, 6, "y", 1);
        kv->v->batch_put(b, BT_CF_NODES, kb, 6, "z", 1);
        assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
        if (i % 40 == 0) { /* let the readers interleave (bounded wait) */
            long seen = atomic_load(&r.scans);
            for (int w = 0; w < 20000 && atomic_load(&r.scans) < seen + 2; w++) {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
            }
        }
    }
    atomic_store(&r.done, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    kv->v->batch_free(b);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.scans) >= 10);
    assert_int_equal(count_cf(kv, BT_CF_NODES), 800);
    assert_int_equal(count_cf(kv, BT_CF_OPS), 400);
}

static void t_delete_range(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    char k[16];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "k%02d", i);
        puts_(kv, BT_CF_INDEXES, k, "v");
        puts_(kv, BT_CF_NODES, k, "w");
    }
    bt_kv_batch *b = kv->v->batch_new(kv);
    kv->v->batch_put(b, BT_CF_META, "before", 6, "1", 1);
    kv->v->batch_del_range(b, BT_CF_INDEXES, "k05", 3, "k10", 3); /* [k05, k10) */
    /* from > to deletes nothing.  (Handed to RocksDB 7.8 as is, it would
     * fail the write after applying "before" but not "after", and poison
     * every later write: the engine must drop it.) */
    kv->v->batch_del_range(b, BT_CF_INDEXES, "k15", 3, "k12", 3);
    kv->v->batch_del_range(b, BT_CF_INDEXES, "k17", 3, "k17", 3); /* empty */
    kv->v->batch_put(b, BT_CF_META, "after", 5, "2", 1);
    assert_int_equal(kv->v->batch_count(b), 5);
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
    kv->v->batch_free(b);
    assert_int_equal(gets_(kv, BT_CF_META, "before", "1"), 0);
    assert_int_equal(gets_(kv, BT_CF_META, "after", "2"), 0);
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "k%02d", i);
        assert_int_equal(gets_(kv, BT_CF_INDEXES, k, "v"), i >= 5 && i < 10 ? BT_ENOTFOUND : 0);
        assert_int_equal(gets_(kv, BT_CF_NODES, k, "w"), 0); /* other partition untouched */
    }
    assert_int_equal(count_cf(kv, BT_CF_INDEXES), 15);
    /* a range with a prefix bound: "k1" < "k10" ... "k19" < "k2" */
    b = kv->v->batch_new(kv);
    kv->v->batch_del_range(b, BT_CF_INDEXES, "k1", 2, "k2", 2);
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
    kv->v->batch_free(b);
    assert_int_equal(count_cf(kv, BT_CF_INDEXES), 5); /* k00..k04 */
    /* then put again inside the deleted range */
    puts_(kv, BT_CF_INDEXES, "k07", "again");
    assert_int_equal(gets_(kv, BT_CF_INDEXES, "k07", "again"), 0);
}

static void t_iterators(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    bt_kv_iter *it = kv->v->iter_new(kv, BT_CF_OPS);
    assert_non_null(it);
    assert_false(kv->v->iter_valid(it));
    kv->v->iter_seek_last(it); /* empty partition */
    assert_false(kv->v->iter_valid(it));
    size_t l;
    assert_null(kv->v->iter_key(it, &l));
    assert_int_equal(l, 0);
    kv->v->iter_free(it);

    puts_(kv, BT_CF_OPS, "b", "B");
    puts_(kv, BT_CF_OPS, "d", "D");
    puts_(kv, BT_CF_OPS, "f", "F");
    it = kv->v->iter_new(kv, BT_CF_OPS);
    kv->v->iter_seek(it, "a", 1);
    assert_iter_at(kv, it, "b", "B");
    kv->v->iter_seek(it, "b", 1);
    assert_iter_at(kv, it, "b", "B");
    kv->v->iter_seek(it, "c", 1);
    assert_iter_at(kv, it, "d", "D");
    kv->v->iter_next(it);
    assert_iter_at(kv, it, "f", "F");
    kv->v->iter_next(it);
    assert_iter_at(kv, it, NULL, NULL);
    kv->v->iter_next(it); /* no-op when not valid */
    assert_iter_at(kv, it, NULL, NULL);
    kv->v->iter_seek(it, "g", 1);
    assert_iter_at(kv, it, NULL, NULL);
    kv->v->iter_seek_for_prev(it, "c", 1);
    assert_iter_at(kv, it, "b", "B");
    kv->v->iter_seek_for_prev(it, "d", 1);
    assert_iter_at(kv, it, "d", "D");
    kv->v->iter_seek_for_prev(it, "zzz", 3);
    assert_iter_at(kv, it, "f", "F");
    kv->v->iter_seek_for_prev(it, "a", 1);
    assert_iter_at(kv, it, NULL, NULL);
    kv->v->iter_seek_for_prev(it, "b", 1);
    assert_iter_at(kv, it, "b", "B");
    kv->v->iter_prev(it);
    assert_iter_at(kv, it, NULL, NULL);
    kv->v->iter_seek_last(it);
    assert_iter_at(kv, it, "f", "F");
    kv->v->iter_prev(it);
    assert_iter_at(kv, it, "d", "D");
    kv->v->iter_prev(it);
    assert_iter_at(kv, it, "b", "B");
    kv->v->iter_next(it);
    assert_iter_at(kv, it, "d", "D");
    kv->v->iter_prev(it);
    kv->v->iter_prev(it);
    assert_iter_at(kv, it, NULL, NULL);
    assert_int_equal(kv->v->iter_status(it, msg, sizeof msg), 0);
    kv->v->iter_free(it);
    kv->v->iter_free(NULL);
}

static void t_snapshot_isolation(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    puts_(kv, BT_CF_META, "a", "1");
    puts_(kv, BT_CF_META, "b", "2");
    puts_(kv, BT_CF_META, "c", "3");
    bt_kv_iter *old = kv->v->iter_new(kv, BT_CF_META);
    bt_kv_batch *b = kv->v->batch_new(kv);
    kv->v->batch_put(b, BT_CF_META, "a", 1, "one", 3); /* overwrite */
    kv->v->batch_del(b, BT_CF_META, "b", 1);           /* delete */
    kv->v->batch_put(b, BT_CF_META, "bb", 2, "new", 3); /* insert */
    kv->v->batch_del_range(b, BT_CF_META, "c", 1, "d", 1);
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), 0);
    kv->v->batch_free(b);
    if (f->engine == ENG_ROCKS) /* the snapshot survives a flush too */
        assert_int_equal(kv->v->flush(kv, msg, sizeof msg), 0);

    kv->v->iter_seek(old, "", 0);
    assert_iter_at(kv, old, "a", "1");
    kv->v->iter_next(old);
    assert_iter_at(kv, old, "b", "2");
    kv->v->iter_next(old);
    assert_iter_at(kv, old, "c", "3");
    kv->v->iter_next(old);
    assert_iter_at(kv, old, NULL, NULL);

    bt_kv_iter *cur = kv->v->iter_new(kv, BT_CF_META);
    kv->v->iter_seek(cur, "", 0);
    assert_iter_at(kv, cur, "a", "one");
    kv->v->iter_next(cur);
    assert_iter_at(kv, cur, "bb", "new");
    kv->v->iter_next(cur);
    assert_iter_at(kv, cur, NULL, NULL);
    kv->v->iter_free(cur);
    kv->v->iter_free(old);
}

static void t_partitions_independent(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    for (int c = 0; c < BT_CF_COUNT; c++) {
        char v[32];
        snprintf(v, sizeof v, "value-%d", c);
        puts_(kv, c, "same", v);
    }
    for (int c = 0; c < BT_CF_COUNT; c++) {
        char v[32];
        snprintf(v, sizeof v, "value-%d", c);
        assert_int_equal(gets_(kv, c, "same", v), 0);
        assert_int_equal(count_cf(kv, c), 1);
    }
    del(kv, BT_CF_CHECKPOINTS, "same");
    for (int c = 0; c < BT_CF_COUNT; c++)
        assert_int_equal(gets_(kv, c, "same", NULL), c == BT_CF_CHECKPOINTS ? BT_ENOTFOUND : 0);
    /* a bad partition number is an error, not a crash */
    bt_buf out = BT_BUF_INIT;
    assert_int_equal(kv->v->get(kv, BT_CF_COUNT, "same", 4, &out, msg, sizeof msg), BT_EINVAL);
    assert_int_equal(kv->v->get(kv, -1, "same", 4, &out, msg, sizeof msg), BT_EINVAL);
    assert_null(kv->v->iter_new(kv, BT_CF_COUNT));
    assert_int_equal(kv->v->compact(kv, 99, msg, sizeof msg), BT_EINVAL);
    assert_int_equal(kv->v->cf_bytes(kv, 99), 0);
    for (int i = 0; i < BT_CF_COUNT; i++) assert_non_null(bt_cf_names[i]);
    assert_string_equal(bt_cf_names[BT_CF_OPS], "operations");
}

static void t_binary_keys(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    /* in bytewise order */
    static const struct { const char *k; size_t kl; } keys[] = {
        {"", 0}, {"\0", 1}, {"\0\0", 2}, {"\0\x01", 2}, {"a", 1},
        {"a\0", 2}, {"a\0b", 3}, {"a\x01", 2}, {"\x7f", 1}, {"\x80", 1}, {"\xff\xff", 2},
    };
    const size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = n; i-- > 0;) {
        uint8_t v[2] = {(uint8_t)i, 0};
        put(kv, BT_CF_NODES, keys[i].k, keys[i].kl, v, 2);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t v[2] = {(uint8_t)i, 0};
        assert_int_equal(get_check(kv, BT_CF_NODES, keys[i].k, keys[i].kl, v, 2), 0);
    }
    assert_int_equal(get_check(kv, BT_CF_NODES, "\0\0\0", 3, NULL, 0), BT_ENOTFOUND);
    bt_kv_iter *it = kv->v->iter_new(kv, BT_CF_NODES);
    size_t i = 0;
    for (kv->v->iter_seek(it, "", 0); kv->v->iter_valid(it); kv->v->iter_next(it), i++) {
        size_t kl, vl;
        const uint8_t *k = kv->v->iter_key(it, &kl);
        const uint8_t *v = kv->v->iter_value(it, &vl);
        assert_true(i < n);
        assert_int_equal(kl, keys[i].kl);
        if (kl) assert_memory_equal(k, keys[i].k, kl);
        assert_int_equal(vl, 2);
        assert_int_equal(v[0], i);
    }
    assert_int_equal(i, n);
    kv->v->iter_seek(it, "a\0", 2);
    assert_true(kv->v->iter_valid(it));
    size_t kl;
    assert_memory_equal(kv->v->iter_key(it, &kl), "a\0", 2);
    kv->v->iter_seek_for_prev(it, "\0\x02", 2);
    assert_memory_equal(kv->v->iter_key(it, &kl), "\0\x01", 2);
    kv->v->iter_free(it);
}

static void t_big_value(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    const size_t n = 1u << 20;
    uint8_t *v = malloc(n);
    assert_non_null(v);
    uint64_t seed = 42;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = tu_rand(&seed);
        memcpy(v + i, &r, 8);
    }
    put(kv, BT_CF_CHECKPOINTS, "big", 3, v, n);
    assert_int_equal(get_check(kv, BT_CF_CHECKPOINTS, "big", 3, v, n), 0);
    if (f->engine == ENG_ROCKS) {
        assert_int_equal(kv->v->flush(kv, msg, sizeof msg), 0); /* through zstd */
        reopen(f);
        kv = f->kv;
        assert_int_equal(get_check(kv, BT_CF_CHECKPOINTS, "big", 3, v, n), 0);
    }
    bt_kv_iter *it = kv->v->iter_new(kv, BT_CF_CHECKPOINTS);
    kv->v->iter_seek_last(it);
    size_t vl;
    const uint8_t *p = kv->v->iter_value(it, &vl);
    assert_int_equal(vl, n);
    assert_memory_equal(p, v, n);
    kv->v->iter_free(it);
    assert_true(kv->v->cf_bytes(kv, BT_CF_CHECKPOINTS) > 0);
    free(v);
}

static void t_durability_calls_and_sizes(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    /* an empty RocksDB memtable already reports its arena block (2 KiB) */
    if (f->engine == ENG_MEM) assert_int_equal(kv->v->cf_bytes(kv, BT_CF_OPS), 0);
    else assert_true(kv->v->cf_bytes(kv, BT_CF_OPS) <= 64 * 1024);
    char k[16], v[64];
    memset(v, 'v', sizeof v);
    bt_kv_batch *b = kv->v->batch_new(kv);
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "op%06d", i);
        kv->v->batch_put(b, BT_CF_OPS, k, 8, v, sizeof v);
        if (i % 100 == 99) {
            assert_int_equal(kv->v->write(kv, b, i % 200 == 199, msg, sizeof msg), 0);
            kv->v->batch_clear(b);
        }
    }
    kv->v->batch_free(b);
    assert_int_equal(kv->v->sync_wal(kv, msg, sizeof msg), 0);
    uint64_t before = kv->v->cf_bytes(kv, BT_CF_OPS);
    if (f->engine == ENG_MEM) assert_int_equal(before, 1000 * (8 + 64));
    else assert_true(before > 0); /* memtable */
    assert_int_equal(kv->v->flush(kv, msg, sizeof msg), 0);
    for (int c = 0; c < BT_CF_COUNT; c++) assert_int_equal(kv->v->compact(kv, c, msg, sizeof msg), 0);
    uint64_t after = kv->v->cf_bytes(kv, BT_CF_OPS);
    assert_true(after > 0);
    if (f->engine == ENG_ROCKS) assert_true(after < 1000 * (8 + 64)); /* lz4 on a constant value */
    assert_int_equal(count_cf(kv, BT_CF_OPS), 1000);
}

/* ------------------------------------------------------------ memory only */

static void t_mem_fail_after(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    puts_(kv, BT_CF_NODES, "a", "1");
    bt_kv_mem_fail_after(kv, 3); /* the 3rd durability call from now */
    bt_kv_batch *b = kv->v->batch_new(kv);
    kv->v->batch_put(b, BT_CF_NODES, "b", 1, "2", 1);
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), 0); /* 1 */
    assert_int_equal(kv->v->sync_wal(kv, msg, sizeof msg), 0);       /* 2 */
    msg[0] = 0;
    assert_int_equal(kv->v->flush(kv, msg, sizeof msg), BT_EIO); /* 3 */
    assert_true(strlen(msg) > 0);
    kv->v->batch_clear(b);
    kv->v->batch_put(b, BT_CF_NODES, "c", 1, "3", 1);
    msg[0] = 0;
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), BT_EIO); /* and later */
    assert_non_null(strstr(msg, "injected"));
    assert_int_equal(kv->v->sync_wal(kv, msg, sizeof msg), BT_EIO);
    assert_int_equal(gets_(kv, BT_CF_NODES, "c", NULL), BT_ENOTFOUND); /* not applied */
    assert_int_equal(gets_(kv, BT_CF_NODES, "b", "2"), 0);            /* reads still work */
    bt_kv_mem_fail_after(kv, 0);
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), 0);
    assert_int_equal(gets_(kv, BT_CF_NODES, "c", "3"), 0);
    bt_kv_mem_fail_after(kv, 1);
    assert_int_equal(kv->v->write(kv, b, true, msg, sizeof msg), BT_EIO);
    bt_kv_mem_fail_after(kv, 0);
    kv->v->batch_free(b);
}

static void t_mem_checkpoint(void **state)
{
    fx *f = *state;
    msg[0] = 0;
    assert_int_equal(f->kv->v->checkpoint(f->kv, "/tmp/never-created", msg, sizeof msg), BT_ENOTSUP);
    assert_true(strlen(msg) > 0);
}

/* Every allocation of a write may fail: the write is then all-or-nothing. */
static void t_mem_oom(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%02d", i);
        puts_(kv, BT_CF_NODES, k, "old");
    }
    bt_kv_batch *b = kv->v->batch_new(kv);
    kv->v->batch_put(b, BT_CF_NODES, "k10", 3, "new", 3);
    kv->v->batch_put(b, BT_CF_NODES, "k99", 3, "new", 3);
    kv->v->batch_del_range(b, BT_CF_NODES, "k20", 3, "k30", 3);
    kv->v->batch_put(b, BT_CF_META, "m", 1, "new", 3);
    int rc = BT_ENOMEM;
    long n;
    for (n = 1; rc == BT_ENOMEM && n < 1000; n++) {
        bt_alloc_fail_after(n);
        rc = kv->v->write(kv, b, false, msg, sizeof msg);
        bt_alloc_fail_after(0);
        if (rc == BT_ENOMEM) { /* nothing visible */
            assert_int_equal(gets_(kv, BT_CF_NODES, "k10", "old"), 0);
            assert_int_equal(gets_(kv, BT_CF_NODES, "k99", NULL), BT_ENOTFOUND);
            assert_int_equal(gets_(kv, BT_CF_NODES, "k25", "old"), 0);
            assert_int_equal(gets_(kv, BT_CF_META, "m", NULL), BT_ENOTFOUND);
            assert_int_equal(kv->v->cf_bytes(kv, BT_CF_NODES), 50 * 6);
        }
    }
    assert_int_equal(rc, 0);
    assert_true(n > 3);
    assert_int_equal(gets_(kv, BT_CF_NODES, "k10", "new"), 0);
    assert_int_equal(gets_(kv, BT_CF_NODES, "k25", NULL), BT_ENOTFOUND);
    assert_int_equal(gets_(kv, BT_CF_META, "m", "new"), 0);
    kv->v->batch_free(b);

    /* a batch that could not record an op refuses to be written */
    b = kv->v->batch_new(kv);
    bt_alloc_fail_after(1);
    kv->v->batch_put(b, BT_CF_NODES, "lost", 4, "x", 1);
    bt_alloc_fail_after(0);
    kv->v->batch_put(b, BT_CF_NODES, "kept", 4, "x", 1);
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), BT_ENOMEM);
    assert_int_equal(gets_(kv, BT_CF_NODES, "kept", NULL), BT_ENOTFOUND);
    kv->v->batch_clear(b); /* clears the failure too */
    kv->v->batch_put(b, BT_CF_NODES, "kept", 4, "x", 1);
    assert_int_equal(kv->v->write(kv, b, false, msg, sizeof msg), 0);
    kv->v->batch_free(b);

    /* iterators and open under OOM */
    bt_alloc_fail_after(1);
    assert_null(kv->v->iter_new(kv, BT_CF_NODES));
    bt_alloc_fail_after(2);
    assert_null(kv->v->iter_new(kv, BT_CF_NODES));
    bt_alloc_fail_after(1);
    bt_kv *other = (bt_kv *)1;
    assert_int_equal(bt_kv_open_mem(&other), BT_ENOMEM);
    assert_null(other);
    bt_alloc_fail_after(0);
}

/* ----------------------------------------------------------- RocksDB only */

static void t_rocks_reopen(void **state)
{
    fx *f = *state;
    puts_(f->kv, BT_CF_NODES, "unsynced", "1"); /* WAL only, no sync: survives close */
    bt_kv_batch *b = f->kv->v->batch_new(f->kv);
    f->kv->v->batch_put(b, BT_CF_META, "synced", 6, "2", 1);
    f->kv->v->batch_put(b, BT_CF_INDEXES, "i", 1, "3", 1);
    assert_int_equal(f->kv->v->write(f->kv, b, true, msg, sizeof msg), 0);
    f->kv->v->batch_free(b);
    reopen(f);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "unsynced", "1"), 0);
    assert_int_equal(gets_(f->kv, BT_CF_META, "synced", "2"), 0);
    assert_int_equal(gets_(f->kv, BT_CF_INDEXES, "i", "3"), 0);
    del(f->kv, BT_CF_NODES, "unsynced");
    assert_int_equal(f->kv->v->flush(f->kv, msg, sizeof msg), 0);
    reopen(f);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "unsynced", NULL), BT_ENOTFOUND);
    assert_int_equal(gets_(f->kv, BT_CF_META, "synced", "2"), 0);
    /* different tuning on reopen is fine */
    f->cfg.compression[BT_CF_NODES] = 2;
    f->cfg.bloom_bits[BT_CF_META] = 16;
    f->cfg.background_jobs = 0;  /* default */
    f->cfg.block_cache_bytes = 0; /* default */
    f->cfg.write_buffer_bytes = 0;
    f->cfg.zstd_level = 0;
    reopen(f);
    assert_int_equal(gets_(f->kv, BT_CF_INDEXES, "i", "3"), 0);
}

static void t_rocks_lock_busy(void **state)
{
    fx *f = *state;
    bt_kv *second = (bt_kv *)1;
    msg[0] = 0;
    int rc = bt_kv_open_rocksdb(&second, f->path, &f->cfg, msg, sizeof msg);
    assert_int_equal(rc, BT_EBUSY);
    assert_null(second);
    assert_non_null(strstr(msg, "LOCK"));
    assert_null(strchr(msg, '\n'));
    /* the first handle is unaffected */
    puts_(f->kv, BT_CF_NODES, "k", "v");
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "k", "v"), 0);
    /* once closed, the store opens again */
    reopen(f);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "k", "v"), 0);
}

/* Set by main: this test binary, re-executed as a second process. */
static const char *self_exe;

static void t_rocks_lock_other_process(void **state)
{
    fx *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(self_exe, self_exe, "--try-open", f->path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), -BT_EBUSY);
}

/* The child of t_rocks_lock_other_process: exit status = -rc. */
static int try_open(const char *path)
{
    bt_kv_config c;
    default_config(&c);
    bt_kv *kv = NULL;
    int rc = bt_kv_open_rocksdb(&kv, path, &c, msg, sizeof msg);
    fprintf(stderr, "  second process: %d (%s) %s\n", rc, bt_strerror(rc), msg);
    if (kv) kv->v->close(kv);
    return -rc;
}

static void t_rocks_bad_paths(void **state)
{
    fx *f = *state;
    char p[256];
    bt_kv *kv = (bt_kv *)1;

    /* a regular file where the store should be */
    snprintf(p, sizeof p, "%s/plainfile", f->dir);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    msg[0] = 0;
    int rc = bt_kv_open_rocksdb(&kv, p, &f->cfg, msg, sizeof msg);
    assert_true(rc < 0);
    assert_null(kv);
    assert_true(strlen(msg) > 0);
    print_message("  path is a file: %d (%s) %s\n", rc, bt_strerror(rc), msg);
    struct stat st;
    assert_int_equal(stat(p, &st), 0); /* left alone */
    assert_int_equal(st.st_size, 5);

    /* below a regular file */
    snprintf(p, sizeof p, "%s/plainfile/db", f->dir);
    kv = (bt_kv *)1;
    rc = bt_kv_open_rocksdb(&kv, p, &f->cfg, msg, sizeof msg);
    assert_true(rc < 0);
    assert_null(kv);
    print_message("  path below a file: %d (%s) %s\n", rc, bt_strerror(rc), msg);

    /* missing, not to be created */
    snprintf(p, sizeof p, "%s/missing", f->dir);
    bt_kv_config c = f->cfg;
    c.create_if_missing = false;
    rc = bt_kv_open_rocksdb(&kv, p, &c, msg, sizeof msg);
    assert_int_equal(rc, BT_EINVAL);
    assert_null(kv);
    assert_int_not_equal(stat(p, &st), 0);

    /* bad configuration values and arguments */
    c = f->cfg;
    c.compression[BT_CF_OPS] = 7;
    assert_int_equal(bt_kv_open_rocksdb(&kv, p, &c, msg, sizeof msg), BT_EINVAL);
    c = f->cfg;
    c.info_log_level = 5;
    assert_int_equal(bt_kv_open_rocksdb(&kv, p, &c, msg, sizeof msg), BT_EINVAL);
    c = f->cfg;
    c.bloom_bits[0] = -1;
    assert_int_equal(bt_kv_open_rocksdb(&kv, p, &c, msg, sizeof msg), BT_EINVAL);
    c = f->cfg;
    c.zstd_level = 99;
    assert_int_equal(bt_kv_open_rocksdb(&kv, p, &c, msg, sizeof msg), BT_EINVAL);
    assert_int_equal(bt_kv_open_rocksdb(&kv, p, NULL, msg, sizeof msg), BT_EINVAL);
    assert_int_equal(bt_kv_open_rocksdb(&kv, "", &f->cfg, msg, sizeof msg), BT_EINVAL);
    assert_int_not_equal(stat(p, &st), 0); /* nothing was created */
    /* NULL message buffer is allowed */
    assert_int_equal(bt_kv_open_rocksdb(&kv, p, NULL, NULL, 0), BT_EINVAL);
}

static void t_rocks_checkpoint(void **state)
{
    fx *f = *state;
    puts_(f->kv, BT_CF_NODES, "n", "1");
    puts_(f->kv, BT_CF_OPS, "o", "2"); /* memtable only: checkpoint flushes */
    char cp[256];
    snprintf(cp, sizeof cp, "%s/cp", f->dir);
    assert_int_equal(f->kv->v->checkpoint(f->kv, cp, msg, sizeof msg), 0);
    puts_(f->kv, BT_CF_NODES, "after", "x"); /* not in the copy */

    /* into an existing directory: refused */
    msg[0] = 0;
    int rc = f->kv->v->checkpoint(f->kv, cp, msg, sizeof msg);
    assert_true(rc < 0);
    assert_true(strlen(msg) > 0);
    print_message("  checkpoint into existing dir: %d (%s) %s\n", rc, bt_strerror(rc), msg);

    bt_kv *copy = open_rocks(cp, &f->cfg);
    assert_int_equal(gets_(copy, BT_CF_NODES, "n", "1"), 0);
    assert_int_equal(gets_(copy, BT_CF_OPS, "o", "2"), 0);
    assert_int_equal(gets_(copy, BT_CF_NODES, "after", NULL), BT_ENOTFOUND);
    puts_(copy, BT_CF_NODES, "copy-only", "y"); /* the copy is independent */
    copy->v->close(copy);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "copy-only", NULL), BT_ENOTFOUND);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "after", "x"), 0);
}

static void t_rocks_read_only(void **state)
{
    fx *f = *state;
    puts_(f->kv, BT_CF_META, "m", "1");
    f->kv->v->close(f->kv);
    f->kv = NULL;
    bt_kv_config c = f->cfg;
    c.read_only = true;
    bt_kv *ro = open_rocks(f->path, &c);
    assert_int_equal(gets_(ro, BT_CF_META, "m", "1"), 0); /* recovered from the WAL */
    assert_int_equal(count_cf(ro, BT_CF_META), 1);
    bt_kv_batch *b = ro->v->batch_new(ro);
    ro->v->batch_put(b, BT_CF_META, "x", 1, "y", 1);
    msg[0] = 0;
    assert_int_equal(ro->v->write(ro, b, true, msg, sizeof msg), BT_ENOTSUP);
    assert_true(strlen(msg) > 0);
    ro->v->batch_free(b);
    assert_true(ro->v->flush(ro, msg, sizeof msg) < 0);
    ro->v->close(ro);

    /* a read-only open never creates anything */
    char p[256];
    snprintf(p, sizeof p, "%s/nothing", f->dir);
    bt_kv *kv = (bt_kv *)1;
    int rc = bt_kv_open_rocksdb(&kv, p, &c, msg, sizeof msg);
    assert_true(rc < 0);
    assert_null(kv);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);

    f->kv = open_rocks(f->path, &f->cfg); /* read-write again */
    assert_int_equal(gets_(f->kv, BT_CF_META, "m", "1"), 0);
}

static void t_rocks_info_log_dir(void **state)
{
    fx *f = *state;
    char logs[256];
    snprintf(logs, sizeof logs, "%s/logs", f->dir);
    assert_int_equal(mkdir(logs, 0755), 0);
    f->kv->v->close(f->kv);
    f->kv = NULL;
    f->cfg.info_log_dir = logs;
    f->cfg.info_log_level = 0; /* DEBUG: make sure something is written */
    f->kv = open_rocks(f->path, &f->cfg);
    f->cfg.info_log_dir = NULL;
    DIR *d = opendir(logs);
    assert_non_null(d);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') files++;
    closedir(d);
    assert_true(files >= 1);
}

/* Finds the largest *.log (WAL) file in dir; returns its size or -1. */
static long find_wal(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".log") != 0) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_size > best) {
            best = (long)st.st_size;
            snprintf(out, cap, "%s", p);
        }
    }
    closedir(d);
    return best;
}

/* One flipped byte in the middle of the WAL of a cleanly closed store whose
 * data lives only in the WAL: with kTolerateCorruptedTailRecords the reopen
 * must report corruption instead of silently dropping the tail (which is
 * what the default kPointInTimeRecovery does). */
static void t_rocks_wal_flip(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    char v[100];
    memset(v, 'w', sizeof v);
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "w%05d", i);
        put(kv, BT_CF_OPS, k, 6, v, sizeof v); /* no flush: data only in the WAL */
    }
    kv->v->close(kv);
    f->kv = NULL;

    char wal[512];
    long size = find_wal(f->path, wal, sizeof wal);
    assert_true(size > 300 * 100);
    int fd = open(wal, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, size / 2), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, size / 2), 1);
    close(fd);

    bt_kv *again = (bt_kv *)1;
    msg[0] = 0;
    int rc = bt_kv_open_rocksdb(&again, f->path, &f->cfg, msg, sizeof msg);
    print_message("  WAL flip at %ld of %ld: %d (%s) %s\n", size / 2, size, rc, bt_strerror(rc), msg);
    if (rc == 0) again->v->close(again);
    assert_int_equal(rc, BT_ECORRUPT);
    assert_null(again);
}

/* ------------------------------------------ WAL gaps (FORMAT.md 4.6) */

/* The write chain's checker, as the database layer passes it. */
int bt_db__chain_scan(bt_kv *kv, uint64_t *out_next, char *msg, size_t msgcap);
static int gap_cb(bt_kv *kv, void *arg, char *m, size_t cap)
{
    uint64_t next;
    (*(int *)arg)++;
    return bt_db__chain_scan(kv, &next, m, cap);
}

/* Batch n of a chain, as bt_db__write writes it, plus one data key. */
static void chain_batch(bt_kv *kv, uint64_t n, bool sync)
{
    bt_kv_batch *b = kv->v->batch_new(kv);
    assert_non_null(b);
    uint8_t k[12] = {'w', 'a', 'l', '/'};
    bt_store_u64be(k + 4, n);
    bt_buf v = BT_BUF_INIT;
    assert_int_equal(bt_rec_u64_encode(&v, n), 0);
    kv->v->batch_put(b, BT_CF_META, k, sizeof k, v.data, v.len);
    if (n > 16) {
        bt_store_u64be(k + 4, n - 16);
        kv->v->batch_del(b, BT_CF_META, k, sizeof k);
    }
    char dk[16];
    snprintf(dk, sizeof dk, "k%03u", (unsigned)n);
    kv->v->batch_put(b, BT_CF_META, dk, strlen(dk), "x", 1);
    int rc = kv->v->write(kv, b, sync ? BT_KV_SYNC : 0, msg, sizeof msg);
    if (rc) fail_msg("write: %d %s", rc, msg);
    kv->v->batch_free(b);
    bt_buf_free(&v);
}

/* A flush of one partition starts a new WAL file; the old one stays live
 * while the metadata memtable still needs it. */
static void switch_wal(bt_kv *kv)
{
    puts_(kv, BT_CF_INDEXES, "dummy", "1");
    assert_int_equal(kv->v->compact(kv, BT_CF_INDEXES, msg, sizeof msg), 0);
}

/* The WAL files of dir, oldest first: names and sizes. */
static int list_wals(const char *dir, char names[][32], long *sizes, int cap)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || l >= 32 || strcmp(e->d_name + l - 4, ".log") != 0 || n == cap) continue;
        strcpy(names[n], e->d_name);
        n++;
    }
    closedir(d);
    for (int i = 0; i < n; i++) /* names have the same width: sort as strings */
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char t[32];
                strcpy(t, names[i]);
                strcpy(names[i], names[j]);
                strcpy(names[j], t);
            }
    for (int i = 0; i < n; i++) {
        char p[512];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        assert_int_equal(stat(p, &st), 0);
        sizes[i] = (long)st.st_size;
    }
    return n;
}

static bool has_key(bt_kv *kv, const char *k)
{
    bt_buf v = BT_BUF_INIT;
    int rc = kv->v->get(kv, BT_CF_META, k, strlen(k), &v, msg, sizeof msg);
    bt_buf_free(&v);
    assert_true(rc == 0 || rc == BT_ENOTFOUND);
    return rc == 0;
}

/* A power cut that keeps a newer WAL file's writes but loses the end of an
 * older one: the open moves the newer file aside and reopens at the gap. */
static void t_rocks_wal_gap_repaired(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    for (uint64_t n = 1; n <= 3; n++) chain_batch(kv, n, true);
    char names[16][32];
    long sizes[16];
    int nw = list_wals(f->path, names, sizes, 16);
    assert_int_equal(nw, 1);
    long synced = sizes[0];
    char older[32];
    strcpy(older, names[0]);
    for (uint64_t n = 4; n <= 6; n++) chain_batch(kv, n, false);
    switch_wal(kv);
    for (uint64_t n = 7; n <= 12; n++) chain_batch(kv, n, false);
    kv->v->close(kv);
    f->kv = NULL;
    nw = list_wals(f->path, names, sizes, 16);
    assert_true(nw >= 2);
    assert_string_equal(names[0], older);
    assert_true(sizes[0] > synced);
    /* the cut: the older file back to its last sync, the newer one kept */
    char p[512];
    snprintf(p, sizeof p, "%s/%s", f->path, older);
    assert_int_equal(truncate(p, synced), 0);

    /* a read-only open sees the gap and refuses */
    bt_kv_config ro = f->cfg;
    int calls = 0;
    ro.read_only = true;
    bt_kv *r = NULL;
    assert_int_equal(bt_kv_open_rocksdb(&r, f->path, &ro, msg, sizeof msg), 0);
    uint64_t next = 0;
    assert_int_equal(bt_db__chain_scan(r, &next, msg, sizeof msg), BT_KV_GAP);
    print_message("  %s\n", msg);
    assert_non_null(strstr(msg, "batches 4..6 are missing"));
    r->v->close(r);

    bt_kv_config c = f->cfg;
    bt_kv_open_report rep;
    c.gap_check = gap_cb;
    c.gap_check_arg = &calls;
    c.report = &rep;
    assert_int_equal(bt_kv_open_rocksdb(&f->kv, f->path, &c, msg, sizeof msg), 0);
    print_message("  repaired: %u file(s) to %s after %d looks\n", rep.wal_files_set_aside,
                  rep.aside_dir, calls);
    assert_int_equal(rep.wal_files_set_aside, 1);
    assert_int_equal(calls, 2);
    struct stat st;
    assert_int_equal(stat(rep.aside_dir, &st), 0);
    assert_true(has_key(f->kv, "k003"));
    assert_false(has_key(f->kv, "k004"));
    assert_false(has_key(f->kv, "k007"));
    assert_int_equal(bt_db__chain_scan(f->kv, &next, msg, sizeof msg), 0);
    assert_int_equal(next, 4);
}

/* A gap that no set of newer WAL files explains: the open fails and puts
 * every file it moved back. */
static void t_rocks_wal_gap_unrepairable(void **state)
{
    fx *f = *state;
    bt_kv *kv = f->kv;
    for (uint64_t n = 1; n <= 3; n++) chain_batch(kv, n, true);
    chain_batch(kv, 10, false);                                /* the gap */
    assert_int_equal(kv->v->flush(kv, msg, sizeof msg), 0); /* in tables */
    puts_(kv, BT_CF_META, "m1", "1"); /* keeps the next WAL file live */
    switch_wal(kv);
    chain_batch(kv, 11, false);
    kv->v->close(kv);
    f->kv = NULL;
    char names[16][32], names2[16][32];
    long sizes[16], sizes2[16];
    int nw = list_wals(f->path, names, sizes, 16);
    assert_true(nw >= 2);

    bt_kv_config c = f->cfg;
    bt_kv_open_report rep;
    int calls = 0;
    c.gap_check = gap_cb;
    c.gap_check_arg = &calls;
    c.report = &rep;
    bt_kv *kv2 = (bt_kv *)1;
    int rc = bt_kv_open_rocksdb(&kv2, f->path, &c, msg, sizeof msg);
    print_message("  %d %s\n", rc, msg);
    assert_int_equal(rc, BT_ECORRUPT);
    assert_null(kv2);
    assert_non_null(strstr(msg, "back in place"));
    assert_int_equal(rep.wal_files_set_aside, 0);
    assert_true(calls >= 3);
    int nw2 = list_wals(f->path, names2, sizes2, 16);
    assert_int_equal(nw2, nw);
    for (int i = 0; i < nw; i++) {
        assert_string_equal(names2[i], names[i]);
        assert_int_equal(sizes2[i], sizes[i]);
    }
    DIR *d = opendir(f->path);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) assert_null(strstr(e->d_name, "wal-gap"));
    closedir(d);
    /* without the check the store still opens: nothing was lost */
    f->kv = open_rocks(f->path, &f->cfg);
    assert_true(has_key(f->kv, "k010"));
    assert_true(has_key(f->kv, "k011"));
}

/* A gap whose repair would go below a durable commit (a damaged WAL, not a
 * power cut): the database open puts the moved WAL file back and fails. */
static void t_rocks_wal_gap_below_durable(void **state)
{
    fx *f = *state;
    f->kv->v->close(f->kv);
    f->kv = NULL;
    rm_rf(f->path);
    /* a database with commits 1..3, durable (mode sync), closed */
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_SYNC;
    o.min_free_bytes = 0;
    bt_db *db = NULL;
    assert_int_equal(bt_db_open(&db, f->path, &o, msg, sizeof msg), 0);
    bt_params p = BT_PARAMS_INIT;
    assert_int_equal(bt_db_tree_create(db, "t", &p), 0);
    for (int i = 0; i < 3; i++) {
        uint8_t k[32];
        memset(k, 0x10 + i, sizeof k);
        bt_op op = {BT_OP_INSERT, k, 32, (const uint8_t *)"v", 1};
        bt_txn *t;
        bt_result r;
        assert_int_equal(bt_txn_begin(&t, db), 0);
        assert_int_equal(bt_txn_apply(t, "t", &op, 1, &r), 0);
        assert_int_equal(bt_txn_commit(t, NULL), 0);
    }
    assert_int_equal(bt_db_close(db), 0);

    /* Behind its back: batch n (synced) sets `commit` to an older value,
     * n+1 (unsynced) sets it back; a newer WAL file holds n+2. */
    bt_kv *kv = open_rocks(f->path, &f->cfg);
    uint64_t n = 0;
    assert_int_equal(bt_db__chain_scan(kv, &n, msg, sizeof msg), 0);
    bt_buf v = BT_BUF_INIT;
    assert_int_equal(kv->v->get(kv, BT_CF_META, "commit", 6, &v, msg, sizeof msg), 0);
    bt_rec_commit_meta cm, old;
    assert_int_equal(bt_rec_commit_meta_decode(&cm, v.data, v.len), 0);
    assert_true(cm.commit_seq >= 3);
    old = cm;
    old.commit_seq--;
    old.op_seq--;
    v.len = 0;
    assert_int_equal(bt_rec_commit_meta_encode(&v, &old), 0);
    put(kv, BT_CF_META, "commit", 6, v.data, v.len);
    chain_batch(kv, n, true);
    char names[16][32], names2[16][32];
    long sizes[16], sizes2[16];
    int nw = list_wals(f->path, names, sizes, 16);
    long synced = sizes[nw - 1];
    char older[32];
    strcpy(older, names[nw - 1]);
    v.len = 0;
    assert_int_equal(bt_rec_commit_meta_encode(&v, &cm), 0);
    put(kv, BT_CF_META, "commit", 6, v.data, v.len);
    chain_batch(kv, n + 1, false);
    switch_wal(kv);
    chain_batch(kv, n + 2, false);
    kv->v->close(kv);
    bt_buf_free(&v);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->path, older);
    assert_int_equal(truncate(path, synced), 0);
    nw = list_wals(f->path, names, sizes, 16);

    db = NULL;
    msg[0] = 0;
    int rc = bt_db_open(&db, f->path, &o, msg, sizeof msg);
    print_message("  %d %s\n", rc, msg);
    assert_int_equal(rc, BT_ECORRUPT);
    assert_null(db);
    assert_non_null(strstr(msg, "acknowledged commits were lost"));
    assert_non_null(strstr(msg, "back in place"));
    int nw2 = list_wals(f->path, names2, sizes2, 16);
    assert_int_equal(nw2, nw);
    for (int i = 0; i < nw; i++) {
        assert_string_equal(names2[i], names[i]);
        assert_int_equal(sizes2[i], sizes[i]);
    }
    f->kv = open_rocks(f->path, &f->cfg); /* for the teardown */
}

/* Every allocation of open may fail: a clean BT_ENOMEM, nothing leaked
 * (LeakSanitizer checks), the store still opens afterwards. */
static void t_rocks_oom_open(void **state)
{
    fx *f = *state;
    f->kv->v->close(f->kv);
    f->kv = NULL;
    int rc = BT_ENOMEM;
    long n;
    for (n = 1; rc == BT_ENOMEM && n < 100; n++) {
        bt_kv *kv = NULL;
        bt_alloc_fail_after(n);
        rc = bt_kv_open_rocksdb(&kv, f->path, &f->cfg, msg, sizeof msg);
        bt_alloc_fail_after(0);
        if (rc == 0) {
            f->kv = kv;
        } else {
            assert_int_equal(rc, BT_ENOMEM);
            assert_null(kv);
        }
    }
    assert_int_equal(rc, 0);
    assert_true(n > 2);
    bt_alloc_fail_after(1);
    assert_null(f->kv->v->iter_new(f->kv, BT_CF_NODES));
    bt_alloc_fail_after(1);
    assert_null(f->kv->v->batch_new(f->kv));
    bt_alloc_fail_after(0);
    /* get into a buffer that cannot grow */
    puts_(f->kv, BT_CF_NODES, "k", "v");
    bt_buf out = BT_BUF_INIT;
    bt_alloc_fail_after(1);
    assert_int_equal(f->kv->v->get(f->kv, BT_CF_NODES, "k", 1, &out, msg, sizeof msg), BT_ENOMEM);
    bt_alloc_fail_after(0);
    bt_buf_free(&out);
}

/* ------------------------------------------------------------------- main */

/* Named "mem/..." and "rocksdb/..." so that the two runs are told apart. */
#define MEM(fn) {"mem/" #fn, fn, setup, teardown, &eng_mem}
#define ROCKS(fn) {"rocksdb/" #fn, fn, setup, teardown, &eng_rocks}
#define BOTH(fn) MEM(fn), ROCKS(fn)

/* Bulk loads on both engines: sorted puts become visible atomically on
 * ingest; out-of-order keys are refused. */
static void t_bulk_load(void **state)
{
    fx *f = *state;
    bt_kv_bulk *b = f->kv->v->bulk_new(f->kv, BT_CF_NODES, msg, sizeof msg);
    assert_non_null(b);
    char k[16], v[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "n%06d", i);
        snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(f->kv->v->bulk_put(b, k, strlen(k), v, strlen(v)), 0);
    }
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "n000007", NULL), BT_ENOTFOUND);
    assert_int_equal(f->kv->v->bulk_ingest(f->kv, b, msg, sizeof msg), 0);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "n000007", "v7"), 0);
    assert_int_equal(count_cf(f->kv, BT_CF_NODES), 1000);
    /* a second load replaces values of the same keys */
    b = f->kv->v->bulk_new(f->kv, BT_CF_NODES, msg, sizeof msg);
    assert_int_equal(f->kv->v->bulk_put(b, "n000007", 7, "w", 1), 0);
    assert_int_equal(f->kv->v->bulk_ingest(f->kv, b, msg, sizeof msg), 0);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "n000007", "w"), 0);
    /* an abandoned load leaves nothing */
    b = f->kv->v->bulk_new(f->kv, BT_CF_NODES, msg, sizeof msg);
    assert_int_equal(f->kv->v->bulk_put(b, "zz", 2, "1", 1), 0);
    f->kv->v->bulk_abort(b);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "zz", NULL), BT_ENOTFOUND);
    /* keys must increase */
    b = f->kv->v->bulk_new(f->kv, BT_CF_NODES, msg, sizeof msg);
    assert_int_equal(f->kv->v->bulk_put(b, "b", 1, "1", 1), 0);
    int rc = f->kv->v->bulk_put(b, "a", 1, "1", 1);
    if (rc == 0) rc = f->kv->v->bulk_ingest(f->kv, b, msg, sizeof msg);
    else f->kv->v->bulk_abort(b);
    assert_int_not_equal(rc, 0);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "a", NULL), BT_ENOTFOUND);
}

/* Regression: a killed writer leaves its bulk-load file name behind as a
 * hard link to a live table file.  Reopening must remove the name, and a
 * new load must never truncate what the name points to. */
static void t_rocks_stale_ingest_name(void **state)
{
    fx *f = *state;
    bt_kv_bulk *b = f->kv->v->bulk_new(f->kv, BT_CF_NODES, msg, sizeof msg);
    for (int i = 0; i < 500; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%05d", i);
        assert_int_equal(f->kv->v->bulk_put(b, k, strlen(k), "value-value-value", 17), 0);
    }
    assert_int_equal(f->kv->v->bulk_ingest(f->kv, b, msg, sizeof msg), 0);
    /* link every live table file under a bulk-load name, as a kill would */
    DIR *d = opendir(f->path);
    assert_non_null(d);
    struct dirent *e;
    int linked = 0;
    char from[700], to[700];
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".sst") == 0 && strncmp(e->d_name, "bt-", 3) != 0) {
            snprintf(from, sizeof from, "%s/%s", f->path, e->d_name);
            snprintf(to, sizeof to, "%s/bt-ingest-%d.sst", f->path, linked);
            assert_int_equal(link(from, to), 0);
            linked++;
        }
    }
    closedir(d);
    assert_true(linked > 0);
    reopen(f);
    snprintf(to, sizeof to, "%s/bt-ingest-0.sst", f->path);
    assert_int_equal(access(to, F_OK), -1); /* the stale name is gone */
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "k00499", "value-value-value"), 0);
    b = f->kv->v->bulk_new(f->kv, BT_CF_NODES, msg, sizeof msg);
    assert_int_equal(f->kv->v->bulk_put(b, "x", 1, "1", 1), 0);
    assert_int_equal(f->kv->v->bulk_ingest(f->kv, b, msg, sizeof msg), 0);
    reopen(f);
    assert_int_equal(gets_(f->kv, BT_CF_NODES, "k00250", "value-value-value"), 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--try-open") == 0) return try_open(argv[2]);
    self_exe = "/proc/self/exe";
    const struct CMUnitTest tests[] = {
        BOTH(t_put_get_del),
        BOTH(t_batch_semantics),
        BOTH(t_batch_atomic_visibility),
        BOTH(t_delete_range),
        BOTH(t_iterators),
        BOTH(t_snapshot_isolation),
        BOTH(t_partitions_independent),
        BOTH(t_binary_keys),
        BOTH(t_big_value),
        BOTH(t_durability_calls_and_sizes),
        BOTH(t_bulk_load),
        MEM(t_mem_fail_after),
        MEM(t_mem_checkpoint),
        MEM(t_mem_oom),
        ROCKS(t_rocks_reopen),
        ROCKS(t_rocks_lock_busy),
        ROCKS(t_rocks_lock_other_process),
        ROCKS(t_rocks_bad_paths),
        ROCKS(t_rocks_checkpoint),
        ROCKS(t_rocks_read_only),
        ROCKS(t_rocks_info_log_dir),
        ROCKS(t_rocks_wal_flip),
        ROCKS(t_rocks_wal_gap_repaired),
        ROCKS(t_rocks_wal_gap_unrepairable),
        ROCKS(t_rocks_wal_gap_below_durable),
        ROCKS(t_rocks_oom_open),
        ROCKS(t_rocks_stale_ingest_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
