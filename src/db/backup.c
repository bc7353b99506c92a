/*
 * backup.c -- online backups, their verification, restore and retention
 * (basistrees.h "backup and restore"; the record file is docs/FORMAT.md
 * section "Backup records").
 *
 * The engine does the copying (kv.h: backup, bt_kv_backup_*): RocksDB's
 * BackupEngine copies the live table files and the write-ahead log while
 * writes go on, so a backup restores to one committed state (commits are
 * single engine batches, K1; node flushes are a durable table ingest plus
 * one logged batch, so a backup holds either the old or the new root
 * records, with their nodes).  What this file adds:
 *   - the state a backup holds is learnt by restoring it into a scratch
 *     directory inside the backup directory, opening it (which runs the
 *     library's own verification and replay) and checking every tree; the
 *     result is kept in bt-backup-<id>.rec;
 *   - a restore goes to a new directory only, through <target>.restoring,
 *     and is opened (fresh DURABLE marker, no stale writer lock) and checked
 *     before it is renamed into place;
 *   - one process at a time per backup directory (flock on
 *     LOCK-bt-backup);
 *   - retention by age.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/msg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REC_LEN 76
#define PATH_CAP 4096

/* ---- small file helpers ------------------------------------------------------- */

static int lock_dir(int *out_fd, const char *dir, bool create, char *msg, size_t cap)
{
    char p[PATH_CAP];
    *out_fd = -1;
    if (create && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        bt_msgf(msg, cap, "cannot create backup directory %s: %s", dir, strerror(errno));
        return BT_EIO;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        bt_msgf(msg, cap, "backup directory %s: %s", dir, strerror(errno));
        return errno == ENOENT ? BT_ENOTFOUND : BT_EIO;
    }
    if ((size_t)snprintf(p, sizeof p, "%s/LOCK-bt-backup", dir) >= sizeof p) {
        bt_msgf(msg, cap, "backup directory path too long");
        return BT_EINVAL;
    }
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        bt_msgf(msg, cap, "cannot open %s: %s", p, strerror(errno));
        return BT_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        bt_msgf(msg, cap, "backup directory %s is in use by another process", dir);
        return BT_EBUSY;
    }
    *out_fd = fd;
    return 0;
}

static void unlock_dir(int fd)
{
    if (fd >= 0) close(fd);
}

/* Removes a directory we created (a scratch restore): its files and, one
 * level down, subdirectories' files.  Depth is bounded. */
static int remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int rc = 0;
    char p[PATH_CAP];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p) {
            rc = -1;
            continue;
        }
        if (unlink(p) != 0) {
            if ((errno == EISDIR || errno == EPERM) && depth < 2) {
                if (remove_tree(p, depth + 1) != 0) rc = -1;
            } else {
                rc = -1;
            }
        }
    }
    closedir(d);
    if (rmdir(dir) != 0) rc = -1;
    return rc;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* ---- the record ---------------------------------------------------------------- */

static void rec_path(char *p, size_t cap, const char *dir, uint32_t id)
{
    snprintf(p, cap, "%s/bt-backup-%u.rec", dir, id);
}

static int rec_write(const char *dir, const bt_backup_info *bi, char *msg, size_t cap)
{
    uint8_t r[REC_LEN];
    memset(r, 0, sizeof r);
    memcpy(r, "BTBK", 4);
    r[4] = 1;
    bt_store_u32be(r + 8, bi->id);
    bt_store_u64be(r + 12, bi->timestamp);
    bt_store_u64be(r + 20, bi->commit_seq);
    bt_store_u64be(r + 28, bi->op_seq);
    bt_store_u32be(r + 36, bi->trees);
    memcpy(r + 40, bi->state_hash, 32);
    bt_store_u32be(r + 72, bt_crc32(r, 72));
    char p[PATH_CAP], tmp[PATH_CAP + 8];
    rec_path(p, sizeof p, dir, bi->id);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, r, sizeof r) == (ssize_t)sizeof r && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    ok = ok && rename(tmp, p) == 0;
    if (!ok) {
        bt_msgf(msg, cap, "cannot write %s: %s", p, strerror(errno));
        unlink(tmp);
        return BT_EIO;
    }
    sync_dir(dir);
    return 0;
}

/* 0 and the state in *bi, BT_ENOTFOUND (no record), BT_ECORRUPT. */
static int rec_read(bt_backup_info *bi, const char *dir, uint32_t id, char *msg, size_t cap)
{
    char p[PATH_CAP];
    rec_path(p, sizeof p, dir, id);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return BT_ENOTFOUND;
    uint8_t r[REC_LEN + 1];
    ssize_t n = read(fd, r, sizeof r);
    close(fd);
    if (n != REC_LEN || memcmp(r, "BTBK", 4) != 0 || r[4] != 1 ||
        bt_load_u32be(r + 72) != bt_crc32(r, 72) || bt_load_u32be(r + 8) != id) {
        bt_msgf(msg, cap, "backup record %s is damaged", p);
        return BT_ECORRUPT;
    }
    bi->commit_seq = bt_load_u64be(r + 20);
    bi->op_seq = bt_load_u64be(r + 28);
    bi->trees = bt_load_u32be(r + 36);
    memcpy(bi->state_hash, r + 40, 32);
    bi->verified = 1;
    return 0;
}

/* ---- the state a database directory holds ---------------------------------------- */

/* Opens the database at path (read-write: the open replays its log and
 * writes its marker), checks every tree, and fills the state fields of bi. */
static int inspect(bt_backup_info *bi, const char *path, bool durable, char *msg, size_t cap)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.create_if_missing = 0;
    o.durability = durable ? BT_DURABILITY_SYNC : BT_DURABILITY_NONE;
    o.info_log_level = 4;
    bt_db *db = NULL;
    char m[BT_DB_MSG_CAP];
    int rc = bt_db_open(&db, path, &o, m, sizeof m);
    if (rc) {
        bt_msgf(msg, cap, "the restored copy does not open: %s", m);
        return rc == BT_EIO || rc == BT_ENOSPC || rc == BT_ENOMEM ? rc : BT_ECORRUPT;
    }
    char **names = NULL;
    size_t n = 0;
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    rc = bt_db_tree_list(&names, &n, db);
    for (size_t i = 0; !rc && i < n; i++) {
        uint8_t d[BT_DIGEST_LEN], cnt[8], nl = (uint8_t)strlen(names[i]);
        uint64_t count = 0;
        rc = bt_db_check(db, names[i]);
        if (rc) {
            bt_msgf(msg, cap, "the restored copy fails its check: %s", bt_db_errmsg(db));
            rc = rc == BT_ENOMEM || rc == BT_EIO ? rc : BT_ECORRUPT;
            break;
        }
        if (!rc) rc = bt_db_digest(d, db, names[i]);
        if (!rc) rc = bt_db_count(&count, db, names[i]);
        bt_store_u64be(cnt, count);
        crypto_generichash_update(&h, &nl, 1);
        crypto_generichash_update(&h, (const uint8_t *)names[i], nl);
        crypto_generichash_update(&h, d, sizeof d);
        crypto_generichash_update(&h, cnt, sizeof cnt);
    }
    if (rc && !msg[0]) bt_msgf(msg, cap, "reading the restored copy: %s", bt_db_errmsg(db));
    bt_db_stats st;
    if (!rc) rc = bt_db_stats_get(&st, db);
    if (!rc) {
        crypto_generichash_final(&h, bi->state_hash, 32);
        bi->commit_seq = st.commits;
        bi->op_seq = st.ops;
        bi->trees = (uint32_t)n;
        bi->verified = 1;
    }
    bt_free(names);
    int crc = bt_db_close(db);
    if (!rc && crc) {
        bt_msgf(msg, cap, "closing the restored copy: %s", bt_strerror(crc));
        rc = crc;
    }
    return rc;
}

/* Restores backup id into a scratch directory of dir, inspects it, removes
 * it. */
static int scratch_inspect(bt_backup_info *bi, const char *dir, uint32_t id, char *msg,
                           size_t cap)
{
    char s[PATH_CAP];
    if ((size_t)snprintf(s, sizeof s, "%s/.scratch-%ld-%u", dir, (long)getpid(), id) >= sizeof s) {
        bt_msgf(msg, cap, "backup directory path too long");
        return BT_EINVAL;
    }
    remove_tree(s, 0); /* a leftover of a crashed verification */
    int rc = bt_kv_backup_restore(dir, id, s, msg, cap);
    if (!rc) rc = inspect(bi, s, false, msg, cap);
    if (remove_tree(s, 0) != 0 && !rc)
        bt_log(BT_LOG_WARN, "could not remove the scratch directory %s", s);
    return rc;
}

/* The highest id of a bt-backup-<id>.rec record in dir (0: none); only for
 * telling a missing backup from one whose engine metadata is damaged. */
static uint32_t newest_record_id(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    uint32_t best = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned id;
        char tail[8];
        if (sscanf(e->d_name, "bt-backup-%u.re%7s", &id, tail) == 2 && !strcmp(tail, "c") &&
            id > best)
            best = id;
    }
    closedir(d);
    return best;
}

/* Finds backup id (0: newest) in the engine's list.  A backup that has our
 * record but is unknown to the engine (or newer than the engine's newest)
 * lost its engine metadata (meta/<id>, which RocksDB skips when damaged):
 * BT_ECORRUPT, not "no such backup". */
static int find_backup(bt_backup_info *bi, const char *dir, uint32_t id, char *msg, size_t cap)
{
    bt_kv_backup *arr = NULL;
    size_t n = 0;
    int rc = bt_kv_backup_list(&arr, &n, dir, msg, cap);
    if (rc) return rc;
    uint32_t rec_newest = newest_record_id(dir);
    if (id == 0 && rec_newest && (n == 0 || arr[n - 1].id < rec_newest)) {
        bt_mem_free(arr);
        bt_msgf(msg, cap, "%s: backup %u has a record but its engine metadata (meta/%u) is missing or damaged",
                dir, rec_newest, rec_newest);
        return BT_ECORRUPT;
    }
    if (id) {
        char rp[4200];
        struct stat st;
        bool known = false;
        for (size_t i = 0; i < n; i++) known |= arr[i].id == id;
        snprintf(rp, sizeof rp, "%s/bt-backup-%u.rec", dir, id);
        if (!known && stat(rp, &st) == 0) {
            bt_mem_free(arr);
            bt_msgf(msg, cap, "%s: backup %u has a record but its engine metadata (meta/%u) is missing or damaged",
                    dir, id, id);
            return BT_ECORRUPT;
        }
    }
    rc = BT_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (arr[i].id == id || (id == 0 && i == n - 1)) {
            memset(bi, 0, sizeof *bi);
            bi->id = arr[i].id;
            bi->timestamp = arr[i].timestamp > 0 ? (uint64_t)arr[i].timestamp : 0;
            bi->size_bytes = arr[i].size;
            bi->files = arr[i].files;
            rc = 0;
        }
    }
    bt_mem_free(arr);
    if (rc) {
        if (id) bt_msgf(msg, cap, "backup %u does not exist in %s", id, dir);
        else bt_msgf(msg, cap, "%s holds no backup", dir);
    }
    return rc;
}

/* ---- public -------------------------------------------------------------------- */

int bt_db_backup(bt_backup_info *out, bt_db *db, const char *backup_dir, int verify)
{
    char msg[BT_DB_MSG_CAP] = "";
    bt_backup_info bi;
    memset(&bi, 0, sizeof bi);
    uint64_t t0 = bt_db__mono_ns();
    int lfd = -1, rc = 0;
    if (!backup_dir || !*backup_dir) {
        rc = BT_EINVAL;
        bt_msgf(msg, sizeof msg, "no backup directory given");
    } else if (db->o.read_only) {
        rc = BT_ENOTSUP;
        bt_msgf(msg, sizeof msg, "database is open read-only: back it up from its writer");
    }
    if (!rc) rc = lock_dir(&lfd, backup_dir, true, msg, sizeof msg);
    uint32_t id = 0;
    if (!rc) rc = db->kv->v->backup ? db->kv->v->backup(db->kv, backup_dir, &id, msg, sizeof msg)
                                    : (bt_msgf(msg, sizeof msg, "engine has no backup"), BT_ENOTSUP);
    if (!rc) rc = find_backup(&bi, backup_dir, id, msg, sizeof msg);
    if (!rc && verify) {
        rc = scratch_inspect(&bi, backup_dir, id, msg, sizeof msg);
        if (!rc) rc = rec_write(backup_dir, &bi, msg, sizeof msg);
    }
    unlock_dir(lfd);
    double secs = (double)(bt_db__mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&db->metrics.mu);
    if (rc) db->metrics.backup_failures++;
    else {
        db->metrics.backups++;
        db->metrics.last_backup_id = bi.id;
    }
    db->metrics.last_backup_unix = bt_db__now_ms() / 1000u;
    db->metrics.last_backup_seconds = secs;
    pthread_mutex_unlock(&db->metrics.mu);
    if (rc) {
        bt_log(BT_LOG_ERROR, "backup of %s into %s failed: %s", db->path,
               backup_dir ? backup_dir : "(null)", msg);
        return bt_db__set_msg(rc, "%s", msg);
    }
    if (verify)
        bt_log(BT_LOG_INFO, "backup %u of %s into %s: commit %llu, %u trees, %.2f s, verified",
               bi.id, db->path, backup_dir, (unsigned long long)bi.commit_seq, bi.trees, secs);
    else
        bt_log(BT_LOG_INFO, "backup %u of %s into %s: %.2f s (not verified)", bi.id, db->path,
               backup_dir, secs);
    if (out) *out = bi;
    return 0;
}

int bt_backup_list(bt_backup_info **out, size_t *out_count, const char *backup_dir, char *errmsg,
                   size_t errmsg_cap)
{
    *out = NULL;
    *out_count = 0;
    bt_kv_backup *arr = NULL;
    size_t n = 0;
    char msg[BT_DB_MSG_CAP] = "";
    int rc = bt_kv_backup_list(&arr, &n, backup_dir, msg, sizeof msg);
    bt_backup_info *res = NULL;
    if (!rc) {
        res = bt_calloc(n ? n : 1, sizeof *res);
        if (!res) {
            rc = BT_ENOMEM;
            bt_msgf(msg, sizeof msg, "out of memory");
        }
    }
    for (size_t i = 0; !rc && i < n; i++) {
        res[i].id = arr[i].id;
        res[i].timestamp = arr[i].timestamp > 0 ? (uint64_t)arr[i].timestamp : 0;
        res[i].size_bytes = arr[i].size;
        res[i].files = arr[i].files;
        char m2[BT_DB_MSG_CAP];
        if (rec_read(&res[i], backup_dir, arr[i].id, m2, sizeof m2) == BT_ECORRUPT)
            bt_log(BT_LOG_WARN, "%s", m2); /* listed as unverified */
    }
    bt_mem_free(arr);
    if (rc) {
        bt_mem_free(res);
        bt_msgf(errmsg, errmsg_cap, "%s", msg);
        return rc;
    }
    *out = res;
    *out_count = n;
    return 0;
}

int bt_backup_verify(bt_backup_info *out, const char *backup_dir, uint32_t id, char *errmsg,
                     size_t errmsg_cap)
{
    char msg[BT_DB_MSG_CAP] = "";
    bt_backup_info bi, seen;
    int lfd = -1;
    int rc = lock_dir(&lfd, backup_dir, false, msg, sizeof msg);
    if (!rc) rc = find_backup(&bi, backup_dir, id, msg, sizeof msg);
    if (!rc) rc = bt_kv_backup_verify(backup_dir, bi.id, msg, sizeof msg);
    if (!rc) {
        seen = bi;
        rc = scratch_inspect(&seen, backup_dir, bi.id, msg, sizeof msg);
    }
    if (!rc) {
        int r2 = rec_read(&bi, backup_dir, bi.id, msg, sizeof msg);
        if (r2 == BT_ENOTFOUND) {
            rc = rec_write(backup_dir, &seen, msg, sizeof msg);
            bi = seen;
        } else if (r2) {
            rc = r2;
        } else if (bi.commit_seq != seen.commit_seq || bi.op_seq != seen.op_seq ||
                   bi.trees != seen.trees || memcmp(bi.state_hash, seen.state_hash, 32) != 0) {
            rc = BT_ECORRUPT;
            bt_msgf(msg, sizeof msg,
                    "backup %u restores to commit %llu, but its record says commit %llu "
                    "(or the trees' digests differ)",
                    bi.id, (unsigned long long)seen.commit_seq, (unsigned long long)bi.commit_seq);
        }
    }
    unlock_dir(lfd);
    if (rc) {
        bt_log(BT_LOG_ERROR, "backup verify %s: %s", backup_dir ? backup_dir : "(null)", msg);
        bt_msgf(errmsg, errmsg_cap, "%s", msg);
        return rc;
    }
    bt_log(BT_LOG_INFO, "backup %u in %s verified: commit %llu, %u trees", bi.id, backup_dir,
           (unsigned long long)bi.commit_seq, bi.trees);
    if (out) *out = bi;
    return 0;
}

int bt_backup_restore(bt_backup_info *out, const char *backup_dir, uint32_t id,
                      const char *target_arg, char *errmsg, size_t errmsg_cap)
{
    char msg[BT_DB_MSG_CAP] = "", tmp[PATH_CAP], target_dir[PATH_CAP];
    bt_backup_info bi, seen;
    struct stat st;
    int lfd = -1, rc = 0;
    /* "dir/" names dir: the scratch name is a sibling, not a child */
    size_t tl = target_arg ? strlen(target_arg) : 0;
    while (tl > 1 && target_arg[tl - 1] == '/') tl--;
    if (tl >= sizeof target_dir) tl = 0;
    if (tl) memcpy(target_dir, target_arg, tl);
    target_dir[tl] = 0;
    if (!*target_dir) {
        rc = BT_EINVAL;
        bt_msgf(msg, sizeof msg, "no target directory given");
    } else if (lstat(target_dir, &st) == 0) {
        rc = BT_EEXISTS;
        bt_msgf(msg, sizeof msg, "%s exists: a restore only creates a new directory", target_dir);
    } else if ((size_t)snprintf(tmp, sizeof tmp, "%s.restoring", target_dir) >= sizeof tmp) {
        rc = BT_EINVAL;
        bt_msgf(msg, sizeof msg, "target path too long");
    } else if (lstat(tmp, &st) == 0) {
        rc = BT_EEXISTS;
        bt_msgf(msg, sizeof msg, "%s exists (an interrupted restore?): remove it first", tmp);
    }
    if (!rc) rc = lock_dir(&lfd, backup_dir, false, msg, sizeof msg);
    if (!rc) rc = find_backup(&bi, backup_dir, id, msg, sizeof msg);
    bool made = false;
    if (!rc) {
        rc = bt_kv_backup_restore(backup_dir, bi.id, tmp, msg, sizeof msg);
        made = true;
    }
    if (!rc) {
        seen = bi;
        rc = inspect(&seen, tmp, true, msg, sizeof msg);
    }
    if (!rc) {
        bt_backup_info rec = bi;
        int r2 = rec_read(&rec, backup_dir, bi.id, msg, sizeof msg);
        if (r2 == BT_ECORRUPT) {
            rc = r2;
        } else if (r2 == 0 && (rec.commit_seq != seen.commit_seq ||
                               memcmp(rec.state_hash, seen.state_hash, 32) != 0)) {
            rc = BT_ECORRUPT;
            bt_msgf(msg, sizeof msg, "backup %u restored to commit %llu but its record says %llu",
                    bi.id, (unsigned long long)seen.commit_seq, (unsigned long long)rec.commit_seq);
        }
    }
    if (!rc && rename(tmp, target_dir) != 0) {
        rc = BT_EIO;
        bt_msgf(msg, sizeof msg, "rename %s -> %s: %s", tmp, target_dir, strerror(errno));
    }
    if (rc && made) remove_tree(tmp, 0);
    unlock_dir(lfd);
    if (rc) {
        bt_log(BT_LOG_ERROR, "restore from %s failed: %s", backup_dir ? backup_dir : "(null)", msg);
        bt_msgf(errmsg, errmsg_cap, "%s", msg);
        return rc;
    }
    char parent[PATH_CAP];
    snprintf(parent, sizeof parent, "%s", target_dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = 0;
    else snprintf(parent, sizeof parent, "%s", slash ? "/" : ".");
    sync_dir(parent);
    bt_log(BT_LOG_INFO, "restored backup %u of %s into %s: commit %llu, %u trees", bi.id,
           backup_dir, target_dir, (unsigned long long)seen.commit_seq, seen.trees);
    if (out) *out = seen;
    return 0;
}

int bt_backup_prune(uint32_t *out_removed, const char *backup_dir, uint64_t keep_seconds,
                    uint32_t keep_min, uint64_t now, char *errmsg, size_t errmsg_cap)
{
    char msg[BT_DB_MSG_CAP] = "";
    if (out_removed) *out_removed = 0;
    if (!now) now = (uint64_t)time(NULL);
    if (keep_min < 1) keep_min = 1;
    int lfd = -1;
    int rc = lock_dir(&lfd, backup_dir, false, msg, sizeof msg);
    bt_kv_backup *arr = NULL;
    size_t n = 0;
    if (!rc) rc = bt_kv_backup_list(&arr, &n, backup_dir, msg, sizeof msg);
    size_t keep = 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (arr[i].timestamp >= 0 && (uint64_t)arr[i].timestamp + keep_seconds > now) keep++;
    if (keep < keep_min) keep = keep_min;
    uint32_t removed = 0;
    if (!rc && keep < n) {
        rc = bt_kv_backup_purge(backup_dir, (uint32_t)keep, msg, sizeof msg);
        for (size_t i = 0; !rc && i < n - keep; i++) {
            char p[PATH_CAP];
            rec_path(p, sizeof p, backup_dir, arr[i].id);
            unlink(p);
            removed++;
        }
    }
    bt_mem_free(arr);
    unlock_dir(lfd);
    if (rc) {
        bt_msgf(errmsg, errmsg_cap, "%s", msg);
        return rc;
    }
    if (removed)
        bt_log(BT_LOG_INFO, "pruned %u backups from %s (keeping %zu)", removed, backup_dir, keep);
    if (out_removed) *out_removed = removed;
    return 0;
}
