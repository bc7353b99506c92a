/*
 * migrate.c -- upgrading a database to the current on-disk format
 * (bt_db_upgrade; docs/OPERATIONS.md "Format upgrades").
 *
 * Invariants:
 *  M1. The original directory is never written: it is opened read-only and
 *      its writer lock is held (so no writer can start) until the swap.
 *  M2. The upgrade happens on a copy (PATH.migrating); the copy is validated
 *      (every tree's digest and count, the commit and op sequence numbers
 *      and the number of checkpoints equal the original's; every tree passes
 *      its full check) before anything is renamed.
 *  M3. The swap is two renames: PATH -> PATH.format<N>-<unix time> (kept for
 *      the operator) and PATH.migrating -> PATH, then an fsync of the parent
 *      directory.  A crash between them leaves both directories complete;
 *      the message of a second run says what to do.
 * Format 1 -> 2: build the op-log indexes (bt_db_oplog_reindex) and rewrite
 * the `format` record.  Checkpoint and epoch records are new in format 2 and
 * simply absent in format 1.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIGRATE_TREES_MAX 4096

typedef struct state {
    size_t ntrees;
    char (*names)[BT_TREE_NAME_MAX + 1];
    uint8_t (*digests)[BT_DIGEST_LEN];
    uint64_t *counts;
    uint64_t commits, ops;
    size_t ckpts;
} state;

static void state_free(state *s)
{
    bt_mem_free(s->names);
    bt_mem_free(s->digests);
    bt_mem_free(s->counts);
    memset(s, 0, sizeof *s);
}

static int state_of(state *s, bt_db *db)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_lock(&db->rlock);
    size_t n = db->ntrees;
    pthread_mutex_unlock(&db->rlock);
    if (n > MIGRATE_TREES_MAX) return bt_db__set_msg(BT_ELIMIT, "too many trees");
    s->names = bt_calloc(n ? n : 1, sizeof *s->names);
    s->digests = bt_calloc(n ? n : 1, sizeof *s->digests);
    s->counts = bt_calloc(n ? n : 1, sizeof *s->counts);
    if (!s->names || !s->digests || !s->counts) {
        state_free(s);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    char **names = NULL;
    size_t got = 0;
    int rc = bt_db_tree_list(&names, &got, db);
    for (size_t i = 0; !rc && i < got && i < n; i++) {
        snprintf(s->names[i], sizeof s->names[i], "%s", names[i]);
        rc = bt_db_digest(s->digests[i], db, names[i]);
        if (!rc) rc = bt_db_count(&s->counts[i], db, names[i]);
    }
    bt_free(names);
    s->ntrees = got < n ? got : n;
    bt_db_stats st;
    if (!rc) rc = bt_db_stats_get(&st, db);
    if (!rc) {
        s->commits = st.commits;
        s->ops = st.ops;
    }
    pthread_mutex_lock(&db->rlock);
    s->ckpts = db->nckpts;
    pthread_mutex_unlock(&db->rlock);
    if (rc) state_free(s);
    return rc;
}

/* Copies the regular files of a flat directory (RocksDB's layout), each
 * synced, then the target directory.  `wal-gap-*` directories stay behind. */
static int copy_dir(const char *from, const char *to, uint64_t *bytes)
{
    if (mkdir(to, 0755) != 0)
        return bt_db__set_msg(BT_EIO, "cannot create %s: %s", to, strerror(errno));
    DIR *d = opendir(from);
    if (!d) return bt_db__set_msg(BT_EIO, "cannot read %s: %s", from, strerror(errno));
    int rc = 0;
    struct dirent *e;
    static uint8_t buf[1 << 16];
    while (!rc && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strcmp(e->d_name, "LOCK-writer")) continue; /* the copy gets its own */
        char src[4400], dst[4400];
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        struct stat st;
        if (lstat(src, &st) != 0) {
            rc = bt_db__set_msg(BT_EIO, "cannot stat %s: %s", src, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode) && !strncmp(e->d_name, "wal-gap-", 8))
            continue; /* WAL files an open set aside (OPERATIONS.md 2): not the database */
        if (!S_ISREG(st.st_mode)) {
            rc = bt_db__set_msg(BT_EINVAL, "%s is not a regular file: not a database layout "
                                           "this version knows", src);
            break;
        }
        int in = open(src, O_RDONLY | O_CLOEXEC);
        int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (in < 0 || out < 0) {
            rc = bt_db__set_msg(BT_EIO, "cannot copy %s: %s", src, strerror(errno));
        } else {
            for (;;) {
                ssize_t r = read(in, buf, sizeof buf);
                if (r < 0 && errno == EINTR) continue;
                if (r < 0) {
                    rc = bt_db__set_msg(BT_EIO, "reading %s: %s", src, strerror(errno));
                    break;
                }
                if (r == 0) break;
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = write(out, buf + off, (size_t)(r - off));
                    if (w < 0 && errno == EINTR) continue;
                    if (w <= 0) {
                        rc = bt_db__set_msg(errno == ENOSPC ? BT_ENOSPC : BT_EIO, "writing %s: %s",
                                            dst, strerror(errno));
                        break;
                    }
                    off += w;
                }
                if (rc) break;
                *bytes += (uint64_t)r;
            }
            if (!rc && fsync(out) != 0)
                rc = bt_db__set_msg(BT_EIO, "syncing %s: %s", dst, strerror(errno));
        }
        if (in >= 0) close(in);
        if (out >= 0 && close(out) != 0 && !rc)
            rc = bt_db__set_msg(BT_EIO, "closing %s: %s", dst, strerror(errno));
    }
    closedir(d);
    if (!rc) {
        int fd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0) rc = bt_db__set_msg(BT_EIO, "syncing %s", to);
        if (fd >= 0) close(fd);
    }
    return rc;
}

static int rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        unlink(p);
    }
    closedir(d);
    return rmdir(path);
}

static int same_state(const state *a, const state *b)
{
    if (a->ntrees != b->ntrees || a->commits != b->commits || a->ops != b->ops)
        return bt_db__set_msg(BT_ECORRUPT, "the upgraded copy differs from the original (trees "
                                           "%zu/%zu, commit %llu/%llu, op %llu/%llu)",
                              b->ntrees, a->ntrees, (unsigned long long)b->commits,
                              (unsigned long long)a->commits, (unsigned long long)b->ops,
                              (unsigned long long)a->ops);
    for (size_t i = 0; i < a->ntrees; i++)
        if (strcmp(a->names[i], b->names[i]) || memcmp(a->digests[i], b->digests[i], BT_DIGEST_LEN) ||
            a->counts[i] != b->counts[i])
            return bt_db__set_msg(BT_ECORRUPT, "the upgraded copy's tree %s differs from the "
                                               "original", a->names[i]);
    if (a->ckpts != b->ckpts)
        return bt_db__set_msg(BT_ECORRUPT, "the upgraded copy has %zu checkpoints, the original %zu",
                              b->ckpts, a->ckpts);
    return 0;
}

static int write_format(bt_db *db)
{
    bt_buf v = BT_BUF_INIT;
    int rc = db->kv->v->get(db->kv, BT_CF_META, "format", 6, &v, bt_db__msg, sizeof bt_db__msg);
    bt_rec_format f;
    if (!rc && bt_rec_format_decode(&f, v.data, v.len)) rc = bt_db__set_msg(BT_ECORRUPT, "format record");
    bt_kv_batch *b = rc ? NULL : db->kv->v->batch_new(db->kv);
    if (!rc && !b) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    if (!rc) {
        f.format = BT_FORMAT_VERSION;
        v.len = 0;
        rc = bt_rec_format_encode(&v, &f);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, "format", 6, v.data, v.len);
        if (!rc) rc = bt_db__write(db, b, BT_KV_SYNC);
    }
    if (b) db->kv->v->batch_free(b);
    bt_buf_free(&v);
    return rc;
}

int bt_db_upgrade(bt_upgrade_info *out, const char *path, char *errmsg, size_t errmsg_cap)
{
    bt_upgrade_info info;
    memset(&info, 0, sizeof info);
    int rc = 0, lock_fd = -1;
    bt_db *orig = NULL, *copy = NULL;
    state so = {0}, sc = {0};
    char mig[4096], old[4096], lockp[4096];
    if (!path || !*path || strlen(path) > 3900) {
        rc = bt_db__set_msg(BT_EINVAL, "bad database path");
        goto done;
    }
    snprintf(mig, sizeof mig, "%s.migrating", path);
    /* M1: exclude writers for the whole upgrade */
    snprintf(lockp, sizeof lockp, "%s/LOCK-writer", path);
    lock_fd = open(lockp, O_RDWR | O_CLOEXEC);
    if (lock_fd < 0) {
        rc = bt_db__set_msg(errno == ENOENT ? BT_ENOTFOUND : BT_EIO, "%s is not a database "
                            "(no LOCK-writer): %s", path, strerror(errno));
        goto done;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = bt_db__set_msg(BT_EBUSY, "database %s is open for writing elsewhere; stop it first", path);
        goto done;
    }
    bt_db_options ro = BT_DB_OPTIONS_INIT;
    ro.read_only = 1;
    ro.create_if_missing = 0;
    char m[256];
    if ((rc = bt_db__open(&orig, path, &ro, true, m, sizeof m))) {
        bt_db__set_msg(rc, "opening %s: %s", path, m);
        goto done;
    }
    info.from_format = orig->format;
    info.to_format = BT_FORMAT_VERSION;
    if (orig->format == BT_FORMAT_VERSION) {
        info.already_current = 1;
        goto done;
    }
    if ((rc = state_of(&so, orig))) goto done;
    info.trees = so.ntrees;
    info.ops = so.ops;
    /* M2: the copy */
    struct stat st;
    if (stat(mig, &st) == 0 && rm_tree(mig) != 0) {
        rc = bt_db__set_msg(BT_EIO, "cannot remove the leftover %s", mig);
        goto done;
    }
    if ((rc = copy_dir(path, mig, &info.bytes_copied))) goto done;
    bt_db_options wo = BT_DB_OPTIONS_INIT;
    wo.create_if_missing = 0;
    wo.durability = BT_DURABILITY_SYNC;
    wo.min_free_bytes = 0;
    if ((rc = bt_db__open(&copy, mig, &wo, true, m, sizeof m))) {
        bt_db__set_msg(rc, "opening the copy: %s", m);
        goto done;
    }
    if (!(copy->features & BT_FEATURE_OPLOG_INDEX) || info.from_format < 2)
        rc = bt_db_oplog_reindex(&info.ops_indexed, copy);
    if (!rc) rc = write_format(copy);
    int rc2 = bt_db_close(copy);
    copy = NULL;
    if (!rc) rc = rc2;
    if (rc) goto done;
    /* validate the copy as a normal open sees it */
    if ((rc = bt_db_open(&copy, mig, &ro, m, sizeof m))) {
        bt_db__set_msg(rc, "reopening the upgraded copy: %s", m);
        goto done;
    }
    if ((rc = state_of(&sc, copy))) goto done;
    if ((rc = same_state(&so, &sc))) goto done;
    for (size_t i = 0; !rc && i < sc.ntrees; i++) rc = bt_db_check(copy, sc.names[i]);
    if (rc) goto done;
    bt_db_close(copy);
    copy = NULL;
    bt_db_close(orig);
    orig = NULL;
    /* M3: the swap */
    snprintf(old, sizeof old, "%s.format%u-%llu", path, info.from_format,
             (unsigned long long)time(NULL));
    if (rename(path, old) != 0) {
        rc = bt_db__set_msg(BT_EIO, "renaming %s: %s", path, strerror(errno));
        goto done;
    }
    if (rename(mig, path) != 0) {
        rc = bt_db__set_msg(BT_EIO, "renaming %s to %s: %s (the original is now %s; rename it "
                            "back to undo)", mig, path, strerror(errno), old);
        goto done;
    }
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    int pfd = open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd >= 0) {
        if (fsync(pfd) != 0) rc = bt_db__set_msg(BT_EIO, "syncing the parent directory");
        close(pfd);
    }
    snprintf(info.original_kept_at, sizeof info.original_kept_at, "%s", old);
done:
    if (copy) bt_db_close(copy);
    if (orig) bt_db_close(orig);
    if (rc && rc != BT_EBUSY && rc != BT_ENOTFOUND) {
        char keep[BT_DB_MSG_CAP];
        snprintf(keep, sizeof keep, "%s", bt_db__msg);
        struct stat st2;
        if (stat(mig, &st2) == 0 && !info.original_kept_at[0]) rm_tree(mig);
        bt_db__set_msg(rc, "%s", keep);
    }
    if (lock_fd >= 0) close(lock_fd);
    state_free(&so);
    state_free(&sc);
    if (rc && errmsg && errmsg_cap) snprintf(errmsg, errmsg_cap, "%s", bt_db__msg);
    if (out) *out = info;
    return rc;
}
