/*
 * test_backup.c -- online backups while a writer commits, restore, verify,
 * retention, and the log callback.
 *
 * The central check: a backup taken in the middle of a write-heavy run
 * restores to a state whose digest is the digest some commit produced (the
 * writer records every committed digest by commit number), and the
 * restored copy passes bt_db_check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include "store/kv.h"
#include "testutil.h"
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bt-test-backup-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static bt_db *open_at(const char *p, int create)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_NONE;
    o.flush_ops = 3000; /* node flushes happen during the run */
    o.min_free_bytes = 0;
    o.create_if_missing = create;
    bt_db *db = NULL;
    char msg[256] = "";
    int rc = bt_db_open(&db, p, &o, msg, sizeof msg);
    if (rc) fprintf(stderr, "open %s: %s\n", p, msg);
    assert_int_equal(rc, 0);
    return db;
}

/* ---- the writer ------------------------------------------------------------ */

#define MAX_COMMITS 100000

typedef struct writer {
    bt_db *db;
    atomic_int stop;
    atomic_ulong commits;
    uint8_t (*digests)[BT_DIGEST_LEN]; /* by commit seq */
    int rc;
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    uint64_t rng = 7;
    enum { N = 40 };
    uint8_t keys[N][32], vals[N][8];
    bt_op ops[N];
    bt_result res[N];
    while (!atomic_load(&w->stop) && atomic_load(&w->commits) < MAX_COMMITS - 1) {
        for (int i = 0; i < N; i++) {
            uint64_t k = tu_rand(&rng) % 20000 + 1, v = tu_rand(&rng);
            memset(keys[i], 0, 32);
            for (int j = 0; j < 8; j++) keys[i][24 + j] = (uint8_t)(k >> (56 - 8 * j));
            keys[i][0] = 1;
            memcpy(vals[i], &v, 8);
            ops[i] = (bt_op){BT_OP_INSERT_OR_UPDATE, keys[i], 32, vals[i], 8};
        }
        bt_txn *t = NULL;
        bt_commit_info ci;
        int rc = bt_txn_begin(&t, w->db);
        if (!rc) rc = bt_txn_apply(t, "notes", ops, N, res);
        if (!rc) rc = bt_txn_commit(t, &ci);
        else bt_txn_abort(t);
        if (!rc) rc = bt_db_digest(w->digests[ci.commit_seq], w->db, "notes");
        if (rc) {
            w->rc = rc;
            break;
        }
        atomic_store(&w->commits, ci.commit_seq);
    }
    return NULL;
}

/* A reader and a scraper next to the writer and the backups. */
static void *reader_main(void *arg)
{
    writer *w = arg;
    uint8_t k[32] = {1};
    uint64_t i = 0;
    while (!atomic_load(&w->stop)) {
        k[31] = (uint8_t)i++;
        uint8_t *v = NULL;
        size_t len = 0;
        int rc = bt_db_get(&v, &len, w->db, "notes", k, 32);
        bt_free(v);
        if (rc && rc != BT_ENOTFOUND) break;
        if (i % 64 == 0) {
            char *text = NULL;
            if (bt_db_metrics_text(&text, &len, w->db) == 0) bt_free(text);
        }
    }
    return NULL;
}

static void check_restored(const char *target, const bt_backup_info *bi, writer *w)
{
    bt_db *r = open_at(target, 0);
    uint8_t d[BT_DIGEST_LEN];
    assert_int_equal(bt_db_digest(d, r, "notes"), 0);
    assert_int_equal(bt_db_check(r, "notes"), 0);
    bt_db_stats st;
    assert_int_equal(bt_db_stats_get(&st, r), 0);
    assert_int_equal(st.commits, bi->commit_seq);
    assert_true(bi->commit_seq >= 1 && bi->commit_seq < MAX_COMMITS);
    /* the digest the writer saw right after that very commit */
    assert_memory_equal(d, w->digests[bi->commit_seq], BT_DIGEST_LEN);
    assert_int_equal(bt_db_close(r), 0);
    /* a fresh marker and no stale writer lock: a second open works too */
    r = open_at(target, 0);
    assert_int_equal(bt_db_close(r), 0);
}

static void wait_commits(writer *w, unsigned long n)
{
    while (atomic_load(&w->commits) < n && !w->rc) usleep(1000);
}

static void test_online_backup(void **state)
{
    (void)state;
    char dbp[300], bk[300], r1[300], r2[300];
    path(dbp, sizeof dbp, "db");
    path(bk, sizeof bk, "backups");
    path(r1, sizeof r1, "restore1");
    path(r2, sizeof r2, "restore2");
    bt_db *db = open_at(dbp, 1);
    bt_params p = BT_PARAMS_INIT;
    assert_int_equal(bt_db_tree_create(db, "notes", &p), 0);
    writer w;
    memset(&w, 0, sizeof w);
    w.db = db;
    w.digests = calloc(MAX_COMMITS, BT_DIGEST_LEN);
    assert_non_null(w.digests);
    pthread_t th, rd;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    assert_int_equal(pthread_create(&rd, NULL, reader_main, &w), 0);
    wait_commits(&w, 50);
    bt_backup_info b1, b2;
    assert_int_equal(bt_db_backup(&b1, db, bk, 1), 0);
    unsigned long after1 = atomic_load(&w.commits);
    wait_commits(&w, after1 + 50);
    assert_int_equal(bt_db_backup(&b2, db, bk, 1), 0);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    pthread_join(rd, NULL);
    assert_int_equal(w.rc, 0);
    unsigned long total = atomic_load(&w.commits);
    fprintf(stderr, "# %lu commits; backups at commits %llu and %llu\n", total,
            (unsigned long long)b1.commit_seq, (unsigned long long)b2.commit_seq);
    assert_true(b1.verified && b2.verified);
    assert_true(b1.id < b2.id);
    assert_true(b1.commit_seq <= b2.commit_seq);
    assert_true(b2.commit_seq <= total);

    /* restore both; each is exactly one committed state */
    bt_backup_info got;
    assert_int_equal(bt_backup_restore(&got, bk, b1.id, r1, NULL, 0), 0);
    assert_int_equal(got.commit_seq, b1.commit_seq);
    check_restored(r1, &b1, &w);
    assert_int_equal(bt_backup_restore(&got, bk, 0, r2, NULL, 0), 0); /* newest */
    assert_int_equal(got.commit_seq, b2.commit_seq);
    check_restored(r2, &b2, &w);

    /* never over an existing directory (here: the live database) */
    char msg[256] = "";
    assert_int_equal(bt_backup_restore(NULL, bk, b1.id, dbp, msg, sizeof msg), BT_EEXISTS);
    assert_int_equal(bt_backup_restore(NULL, bk, 99, r1, msg, sizeof msg), BT_EEXISTS);
    char r3[300];
    path(r3, sizeof r3, "restore3");
    assert_int_equal(bt_backup_restore(NULL, bk, 99, r3, msg, sizeof msg), BT_ENOTFOUND);

    /* verify and list */
    bt_backup_info v;
    assert_int_equal(bt_backup_verify(&v, bk, b1.id, msg, sizeof msg), 0);
    assert_int_equal(v.commit_seq, b1.commit_seq);
    assert_memory_equal(v.state_hash, b1.state_hash, 32);
    bt_backup_info *list = NULL;
    size_t n = 0;
    assert_int_equal(bt_backup_list(&list, &n, bk, msg, sizeof msg), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, b1.id);
    assert_int_equal(list[1].commit_seq, b2.commit_seq);
    bt_free(list);

    /* a damaged record is caught by verify */
    char rec[400];
    snprintf(rec, sizeof rec, "%s/bt-backup-%u.rec", bk, b2.id);
    FILE *f = fopen(rec, "r+b");
    assert_non_null(f);
    fseek(f, 45, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    assert_int_equal(bt_backup_verify(NULL, bk, b2.id, msg, sizeof msg), BT_ECORRUPT);

    /* retention: everything is younger than an hour; keep_seconds 0 keeps
     * only keep_min */
    uint32_t removed = 9;
    assert_int_equal(bt_backup_prune(&removed, bk, 3600, 1, 0, msg, sizeof msg), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(bt_backup_prune(&removed, bk, 0, 1, (uint64_t)time(NULL) + 10, msg, sizeof msg), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(bt_backup_list(&list, &n, bk, msg, sizeof msg), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, b2.id);
    bt_free(list);

    /* a missing backup file is caught by verify */
    assert_int_equal(bt_backup_verify(NULL, bk, 0, msg, sizeof msg), BT_ECORRUPT); /* record */
    assert_int_equal(bt_db_close(db), 0);
    free(w.digests);
}

static void test_missing_file(void **state)
{
    (void)state;
    char dbp[300], bk[300], cmd[700];
    path(dbp, sizeof dbp, "db");
    path(bk, sizeof bk, "backups");
    bt_db *db = open_at(dbp, 1);
    bt_params p = BT_PARAMS_INIT;
    assert_int_equal(bt_db_tree_create(db, "notes", &p), 0);
    bt_backup_info b;
    assert_int_equal(bt_db_backup(&b, db, bk, 0), 0); /* not verified yet */
    assert_int_equal(b.verified, 0);
    assert_int_equal(bt_db_close(db), 0);
    char msg[256] = "";
    bt_backup_info v;
    assert_int_equal(bt_backup_verify(&v, bk, 0, msg, sizeof msg), 0); /* writes the record */
    assert_int_equal(v.verified, 1);
    /* remove one table file of the backup */
    snprintf(cmd, sizeof cmd, "f=$(find %s/shared* -type f | head -n1); [ -n \"$f\" ] && rm \"$f\"",
             bk);
    assert_int_equal(system(cmd), 0);
    assert_int_not_equal(bt_backup_verify(NULL, bk, 0, msg, sizeof msg), 0);
    /* read-only handles cannot back up */
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.read_only = 1;
    assert_int_equal(bt_db_open(&db, dbp, &o, NULL, 0), 0);
    assert_int_equal(bt_db_backup(NULL, db, bk, 1), BT_ENOTSUP);
    assert_int_equal(bt_db_close(db), 0);
}

static void test_mem_engine_unsupported(void **state)
{
    (void)state;
    bt_kv *kv = NULL;
    assert_int_equal(bt_kv_open_mem(&kv), 0);
    uint32_t id = 0;
    char msg[128];
    assert_int_equal(kv->v->backup(kv, "/nonexistent", &id, msg, sizeof msg), BT_ENOTSUP);
    kv->v->close(kv);
    bt_backup_info *list = NULL;
    size_t n = 0;
    assert_int_equal(bt_backup_list(&list, &n, "/nonexistent/bt-backups", msg, sizeof msg),
                     BT_ENOTFOUND);
}

/* ---- the log callback ------------------------------------------------------ */

typedef struct logcap {
    int n, infos, warns;
    char last[256];
} logcap;

static void capture(void *ctx, bt_log_level level, const char *msg)
{
    logcap *c = ctx;
    c->n++;
    if (level == BT_LOG_INFO) c->infos++;
    if (level == BT_LOG_WARN) c->warns++;
    snprintf(c->last, sizeof c->last, "%s", msg);
}

static void test_log_handler(void **state)
{
    (void)state;
    char dbp[300], nodb[300];
    path(dbp, sizeof dbp, "db");
    path(nodb, sizeof nodb, "does-not-exist");
    logcap c;
    memset(&c, 0, sizeof c);
    assert_int_equal(bt_log_set_handler(capture, &c, BT_LOG_INFO), 0);
    bt_db *db = open_at(dbp, 1);
    assert_int_equal(c.infos, 1);
    assert_non_null(strstr(c.last, "opened"));
    assert_int_equal(bt_db_compact(db), 0);
    assert_int_equal(c.infos, 2);
    assert_non_null(strstr(c.last, "compacted"));
    assert_int_equal(bt_db_close(db), 0);
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.create_if_missing = 0;
    assert_int_equal(bt_db_open(&db, nodb, &o, NULL, 0), BT_ENOTFOUND);
    /* a failed open is the caller's to report: logged at info */
    assert_int_equal(c.infos, 3);
    assert_int_equal(c.warns, 0);
    assert_non_null(strstr(c.last, "failed"));
    /* above the minimum level: nothing */
    assert_int_equal(bt_log_set_handler(capture, &c, BT_LOG_ERROR), 0);
    db = open_at(dbp, 1);
    assert_int_equal(bt_db_close(db), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(bt_log_set_handler(NULL, NULL, (bt_log_level)9), BT_EINVAL);
    assert_int_equal(bt_log_set_handler(NULL, NULL, BT_LOG_WARN), 0);
    bt_log_level l;
    assert_int_equal(bt_log_level_parse(&l, "info"), 0);
    assert_int_equal(l, BT_LOG_INFO);
    assert_int_equal(bt_log_level_parse(&l, "loud"), BT_EINVAL);
    assert_string_equal(bt_log_level_name(BT_LOG_ERROR), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_online_backup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test(test_mem_engine_unsupported),
        cmocka_unit_test_setup_teardown(test_log_handler, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
