/*
 * store_rocksdb.c -- the kv.h engine on RocksDB 7.8 (C API).
 *
 * This is the ONLY file of the project that includes rocksdb/c.h.
 *
 * Layout on disk: one RocksDB database; each bt_cf is a column family named
 * by bt_cf_names[] (defined in store_mem.c so that the memory store does not
 * depend on RocksDB).  RocksDB's "default" family exists but is not used.
 * Column families that we do not know (a newer version of the library) are
 * opened with the base options and left alone, because RocksDB refuses to
 * open a read-write database without naming every family it holds.
 *
 * Object lifetimes (see RocksDB's db/c_test.c):
 *   - rocksdb_options_t and rocksdb_block_based_table_options_t are copied
 *     into the DB at open; we destroy them right after rocksdb_open*.
 *   - rocksdb_block_based_options_set_filter_policy TAKES OWNERSHIP of the
 *     filter policy: we never destroy a filter policy ourselves (doing so
 *     crashes later inside rocksdb_options_destroy).  Each column family
 *     gets its own policy object for that reason.
 *   - the LRU block cache is shared by every family; the table options keep
 *     their own reference, and we destroy our handle at close, after the DB.
 *   - close order: column family handles, then the DB, then the read/write
 *     options, then the cache.  Iterators (and their snapshots) must have
 *     been freed by the caller before close.
 *
 * WAL gaps (kv.h gap_check; FORMAT.md 4.6): a read-write open of an
 * existing store first opens it read-only -- which replays the WAL without
 * writing anything -- and lets the caller look for a gap.  Only when there
 * is none does the read-write open replay (and RocksDB then flush and delete)
 * the WAL.  A gap is repaired by moving the newest non-empty WAL file aside
 * (never deleting it) and looking again; the files moved are exactly the
 * writes after the gap, because a power cut keeps a prefix of each file.
 *
 * Errors: every char **errptr coming out of RocksDB goes through
 * rdb_err(), which maps it to a BT_E* code, writes a one-line message and
 * frees the string.  Nothing in this file aborts on an I/O error.
 */
#include "store/kv.h"
#include "util/msg.h"
#include "basistrees.h"
#include "util/alloc.h"

#include <rocksdb/c.h>

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define RDB_CACHE_DEFAULT_BYTES (8u * 1024u * 1024u) /* RocksDB's own default */
#define RDB_BG_JOBS_DEFAULT 2   /* measured-facts: 2 cores -> 2 jobs        */
#define RDB_BG_JOBS_MAX 64
#define RDB_BLOOM_BITS_MAX 64
#define RDB_ZSTD_LEVEL_MAX 22
#define RDB_INFO_LOG_FILE_MAX (16u * 1024u * 1024u) /* bound RocksDB's LOG */
#define RDB_INFO_LOG_KEEP 4
#define RDB_GAP_ROUNDS_MAX 64 /* WAL files moved aside by one open, at most */

typedef struct rdb {
    bt_kv base; /* must be first */
    rocksdb_t *db;
    rocksdb_column_family_handle_t *cf[BT_CF_COUNT];
    rocksdb_column_family_handle_t **other; /* "default" and unknown families */
    size_t nother;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts_sync;
    rocksdb_writeoptions_t *wopts_nosync;
    rocksdb_writeoptions_t *wopts_nowal;
    rocksdb_flushoptions_t *fopts;
    bool read_only;
    atomic_int failed; /* sticky: the code of the first write-path I/O error */
    rocksdb_options_t *bulk_opts[BT_CF_COUNT]; /* table options for bulk loads */
    rocksdb_envoptions_t *envopts;
    char *path;
    atomic_uint bulk_seq;
} rdb;

struct bt_kv_bulk {
    rdb *kv;
    int cf;
    rocksdb_sstfilewriter_t *w;
    size_t n;
    int err;
    char errmsg[160];
    char file[4096];
};

struct bt_kv_batch {
    rdb *kv;
    rocksdb_writebatch_t *wb;
    size_t count;
    size_t bytes; /* sum of key (and value) lengths, as in store_mem.c */
};

struct bt_kv_iter {
    rdb *kv;
    rocksdb_readoptions_t *ropts;
    const rocksdb_snapshot_t *snap;
    rocksdb_iterator_t *it;
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */


/* The one translation of a RocksDB error string.  Frees err.  `what` names
 * the operation ("open /path", "write", ...). */
static int rdb_err(char *err, const char *what, char *msg, size_t msgcap)
{
    int rc;
    if (strncmp(err, "Corruption", 10) == 0)
        rc = BT_ECORRUPT;
    else if (strstr(err, "No such file or directory") &&
             (strstr(err, "/MANIFEST-") || strstr(err, ".sst")))
        rc = BT_ECORRUPT; /* a file the store's own metadata names is gone
                           * (e.g. a damaged CURRENT): corruption, not I/O */
    else if (strstr(err, "No space left on device") || strncmp(err, "IO error: No space", 18) == 0)
        rc = BT_ENOSPC;
    else if (strncmp(err, "IO error: While lock", 20) == 0 ||
             strstr(err, "lock hold by current process"))
        rc = BT_EBUSY;
    else if (strncmp(err, "Invalid argument", 16) == 0)
        rc = BT_EINVAL;
    else if (strncmp(err, "Not implemented", 15) == 0)
        rc = BT_ENOTSUP;
    else
        rc = BT_EIO; /* "IO error", "Incomplete", "Aborted", anything else */
    bt_msgf(msg, msgcap, "rocksdb %s: %s", what, err);
    rocksdb_free(err);
    return rc;
}

static bool cf_ok(int cf) { return cf >= 0 && cf < BT_CF_COUNT; }

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */
/* ------------------------------------------------------------------------ */

static int r_get(bt_kv *kv_, int cf, const void *key, size_t klen, bt_buf *out, char *msg,
                 size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    char *err = NULL;
    if (!cf_ok(cf)) {
        bt_msgf(msg, msgcap, "get: bad partition");
        return BT_EINVAL;
    }
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(kv->db, kv->ropts, kv->cf[cf], key, klen, &err);
    if (err) return rdb_err(err, "get", msg, msgcap); /* ps is NULL then */
    if (!ps) return BT_ENOTFOUND;
    size_t vlen = 0;
    const char *v = rocksdb_pinnableslice_value(ps, &vlen);
    int rc = bt_buf_append(out, v, vlen);
    rocksdb_pinnableslice_destroy(ps);
    if (rc) bt_msgf(msg, msgcap, "get: out of memory");
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */
/* ------------------------------------------------------------------------ */

static bt_kv_batch *r_batch_new(bt_kv *kv_)
{
    bt_kv_batch *b = bt_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->kv = (rdb *)kv_;
    b->wb = rocksdb_writebatch_create();
    return b;
}

static void r_batch_put(bt_kv_batch *b, int cf, const void *k, size_t kl, const void *v, size_t vl)
{
    assert(cf_ok(cf));
    rocksdb_writebatch_put_cf(b->wb, b->kv->cf[cf], k, kl, v, vl);
    b->count++;
    b->bytes += kl + vl;
}

static void r_batch_del(bt_kv_batch *b, int cf, const void *k, size_t kl)
{
    assert(cf_ok(cf));
    rocksdb_writebatch_delete_cf(b->wb, b->kv->cf[cf], k, kl);
    b->count++;
    b->bytes += kl;
}

/* Bytewise order, as RocksDB's default comparator. */
static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

/* An empty or reversed range deletes nothing and is not handed to RocksDB:
 * measured on 7.8, a batch holding a DeleteRange with from > to fails with
 * "Invalid argument: end key comes before start key" AFTER the operations
 * before it reached the memtable (the batch is half applied, breaking K1),
 * and every later write of the handle fails with the same error. */
static void r_batch_del_range(bt_kv_batch *b, int cf, const void *from, size_t fl, const void *to,
                              size_t tl)
{
    assert(cf_ok(cf));
    if (key_cmp(from, fl, to, tl) < 0)
        rocksdb_writebatch_delete_range_cf(b->wb, b->kv->cf[cf], from, fl, to, tl);
    b->count++;
    b->bytes += fl + tl;
}

static size_t r_batch_count(const bt_kv_batch *b) { return b->count; }
static size_t r_batch_bytes(const bt_kv_batch *b) { return b->bytes; }

static void r_batch_clear(bt_kv_batch *b)
{
    rocksdb_writebatch_clear(b->wb);
    b->count = 0;
    b->bytes = 0;
}

static void r_batch_free(bt_kv_batch *b)
{
    if (!b) return;
    rocksdb_writebatch_destroy(b->wb);
    bt_mem_free(b);
}

/* ------------------------------------------------------------------------ */
/* Writes and durability                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Sticky failure.  After an I/O error on the write path (write, sync_wal,
 * flush) the handle refuses every later write-path call with BT_EBADSTATE;
 * reads keep working; close and reopen (which replays the WAL) recovers.
 * This is not only policy: measured on Debian's 7.8 (assertions enabled),
 * after a WAL append failed with ENOSPC, rocksdb_flush_wal(sync=1) either
 * returned OK without syncing anything or -- 3 runs in 15 -- hit
 * assert(sync_without_flush_called_) in WritableFileWriter and aborted the
 * process.  So we never touch RocksDB's write path again once it failed.
 */
static int refuse(rdb *kv, const char *what, char *msg, size_t msgcap)
{
    if (kv->read_only) {
        bt_msgf(msg, msgcap, "rocksdb %s: store opened read-only", what);
        return BT_ENOTSUP;
    }
    int failed = atomic_load(&kv->failed);
    if (failed) {
        bt_msgf(msg, msgcap, "rocksdb %s: refused after an earlier I/O failure (%s); reopen the store",
                what, bt_strerror(failed));
        return BT_EBADSTATE;
    }
    return 0;
}

/* Records rc as the sticky failure if it is one (not a usage error). */
static int note_failure(rdb *kv, int rc)
{
    if (rc == BT_EIO || rc == BT_ENOSPC || rc == BT_ECORRUPT) {
        int none = 0;
        atomic_compare_exchange_strong(&kv->failed, &none, rc);
    }
    return rc;
}

static int r_write(bt_kv *kv_, bt_kv_batch *b, int flags, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    char *err = NULL;
    int rc = refuse(kv, "write", msg, msgcap);
    if (rc) return rc;
    rocksdb_writeoptions_t *wo = (flags & BT_KV_NO_WAL) ? kv->wopts_nowal
                                 : (flags & BT_KV_SYNC) ? kv->wopts_sync : kv->wopts_nosync;
    rocksdb_write(kv->db, wo, b->wb, &err);
    return err ? note_failure(kv, rdb_err(err, "write", msg, msgcap)) : 0;
}

static int r_sync_wal(bt_kv *kv_, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    char *err = NULL;
    int rc = refuse(kv, "sync_wal", msg, msgcap);
    if (rc) return rc;
    rocksdb_flush_wal(kv->db, 1, &err);
    return err ? note_failure(kv, rdb_err(err, "sync_wal", msg, msgcap)) : 0;
}

static int r_flush(bt_kv *kv_, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    int rc = refuse(kv, "flush", msg, msgcap);
    if (rc) return rc;
    for (int i = 0; i < BT_CF_COUNT; i++) {
        char *err = NULL;
        rocksdb_flush_cf(kv->db, kv->fopts, kv->cf[i], &err);
        if (err) return note_failure(kv, rdb_err(err, "flush", msg, msgcap));
    }
    return 0;
}

/* rocksdb_compact_range_cf reports no status through the C API; a failed
 * background job surfaces on the next write or flush instead. */
static int r_compact(bt_kv *kv_, int cf, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    if (!cf_ok(cf)) {
        bt_msgf(msg, msgcap, "compact: bad partition");
        return BT_EINVAL;
    }
    int rc = refuse(kv, "compact", msg, msgcap);
    if (rc) return rc;
    rocksdb_compact_range_cf(kv->db, kv->cf[cf], NULL, 0, NULL, 0);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Iterators: each owns a snapshot, released in iter_free                    */
/* ------------------------------------------------------------------------ */

static bt_kv_iter *r_iter_new(bt_kv *kv_, int cf)
{
    rdb *kv = (rdb *)kv_;
    if (!cf_ok(cf)) return NULL;
    bt_kv_iter *it = bt_calloc(1, sizeof *it);
    if (!it) return NULL;
    it->kv = kv;
    it->ropts = rocksdb_readoptions_create();
    it->snap = rocksdb_create_snapshot(kv->db);
    rocksdb_readoptions_set_snapshot(it->ropts, it->snap);
    it->it = rocksdb_create_iterator_cf(kv->db, it->ropts, kv->cf[cf]);
    return it;
}

static void r_iter_seek(bt_kv_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek(it->it, key, klen);
}

static void r_iter_seek_last(bt_kv_iter *it) { rocksdb_iter_seek_to_last(it->it); }

static void r_iter_seek_for_prev(bt_kv_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek_for_prev(it->it, key, klen);
}

static bool r_iter_valid(bt_kv_iter *it) { return rocksdb_iter_valid(it->it) != 0; }

/* RocksDB requires Valid() before Next/Prev; we make them no-ops instead. */
static void r_iter_next(bt_kv_iter *it)
{
    if (rocksdb_iter_valid(it->it)) rocksdb_iter_next(it->it);
}

static void r_iter_prev(bt_kv_iter *it)
{
    if (rocksdb_iter_valid(it->it)) rocksdb_iter_prev(it->it);
}

static const uint8_t *r_iter_key(bt_kv_iter *it, size_t *len)
{
    *len = 0;
    if (!rocksdb_iter_valid(it->it)) return NULL;
    return (const uint8_t *)rocksdb_iter_key(it->it, len);
}

static const uint8_t *r_iter_value(bt_kv_iter *it, size_t *len)
{
    *len = 0;
    if (!rocksdb_iter_valid(it->it)) return NULL;
    return (const uint8_t *)rocksdb_iter_value(it->it, len);
}

static int r_iter_status(bt_kv_iter *it, char *msg, size_t msgcap)
{
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    return err ? rdb_err(err, "iterator", msg, msgcap) : 0;
}

static void r_iter_free(bt_kv_iter *it)
{
    if (!it) return;
    rocksdb_iter_destroy(it->it);
    rocksdb_release_snapshot(it->kv->db, it->snap);
    rocksdb_readoptions_destroy(it->ropts);
    bt_mem_free(it);
}

/* ------------------------------------------------------------------------ */
/* Sizes, checkpoint, close                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t prop_u64(rdb *kv, int cf, const char *name)
{
    char *s = rocksdb_property_value_cf(kv->db, kv->cf[cf], name);
    if (!s) return 0;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) v = 0;
    rocksdb_free(s);
    return (uint64_t)v;
}

static uint64_t r_cf_bytes(bt_kv *kv_, int cf)
{
    rdb *kv = (rdb *)kv_;
    if (!cf_ok(cf)) return 0;
    return prop_u64(kv, cf, "rocksdb.total-sst-files-size") +
           prop_u64(kv, cf, "rocksdb.cur-size-all-mem-tables");
}

/* RocksDB refuses a target that exists; it hard-links the table files, so
 * dir must be on the same filesystem.  log_size_for_flush = 0 flushes the
 * memtables first, so the copy needs no WAL replay. */
static int r_checkpoint(bt_kv *kv_, const char *dir, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    char *err = NULL;
    if (!dir || !*dir) {
        bt_msgf(msg, msgcap, "checkpoint: no directory given");
        return BT_EINVAL;
    }
    int rc = refuse(kv, "checkpoint", msg, msgcap); /* it flushes first */
    if (rc) return rc;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(kv->db, &err);
    if (err) {
        if (cp) rocksdb_checkpoint_object_destroy(cp);
        return rdb_err(err, "checkpoint", msg, msgcap);
    }
    rocksdb_checkpoint_create(cp, dir, 0, &err);
    rocksdb_checkpoint_object_destroy(cp);
    /* Not sticky: most failures concern the target (it exists, its disk is
     * full); a failed flush of the source fails its next write anyway. */
    return err ? rdb_err(err, "checkpoint", msg, msgcap) : 0;
}

/* ------------------------------------------------------------------------ */
/* Backups (BackupEngine) and table statistics                               */
/* ------------------------------------------------------------------------ */

/* Uncompressed vs stored bytes from the aggregated table properties: a line
 * of "name=value; " pairs; we read three of them. */
static uint64_t prop_field(const char *s, const char *name)
{
    const char *p = strstr(s, name);
    if (!p) return 0;
    p += strlen(name);
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(p, &end, 10);
    return (errno || end == p) ? 0 : (uint64_t)v;
}

static void r_cf_raw_bytes(bt_kv *kv_, int cf, uint64_t *out_raw, uint64_t *out_stored)
{
    rdb *kv = (rdb *)kv_;
    *out_raw = *out_stored = 0;
    if (!cf_ok(cf)) return;
    char *s = rocksdb_property_value_cf(kv->db, kv->cf[cf], "rocksdb.aggregated-table-properties");
    if (!s) return;
    *out_raw = prop_field(s, "raw key size=") + prop_field(s, "raw value size=");
    *out_stored = prop_field(s, "data block size=");
    rocksdb_free(s);
}

/* A BackupEngine on dir; create says whether a missing dir may be made. */
static rocksdb_backup_engine_t *be_open(const char *dir, bool create, char *msg, size_t msgcap,
                                        int *rc)
{
    struct stat st;
    if (!dir || !*dir) {
        bt_msgf(msg, msgcap, "backup: no backup directory given");
        *rc = BT_EINVAL;
        return NULL;
    }
    if (stat(dir, &st) != 0) {
        if (!create || errno != ENOENT) {
            bt_msgf(msg, msgcap, "backup directory %s: %s", dir, strerror(errno));
            *rc = errno == ENOENT ? BT_ENOTFOUND : BT_EIO;
            return NULL;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        bt_msgf(msg, msgcap, "backup directory %s is not a directory", dir);
        *rc = BT_EINVAL;
        return NULL;
    }
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_info_log_level(o, 4); /* keep RocksDB's LOG quiet */
    char *err = NULL;
    rocksdb_backup_engine_t *be = rocksdb_backup_engine_open(o, dir, &err);
    rocksdb_options_destroy(o);
    if (err) {
        *rc = rdb_err(err, "backup engine open", msg, msgcap);
        if (be) rocksdb_backup_engine_close(be);
        return NULL;
    }
    *rc = 0;
    return be;
}

static int r_backup(bt_kv *kv_, const char *dir, uint32_t *out_id, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    int rc = refuse(kv, "backup", msg, msgcap);
    if (rc) return rc;
    rocksdb_backup_engine_t *be = be_open(dir, true, msg, msgcap, &rc);
    if (!be) return rc;
    char *err = NULL;
    /* Flush first: the backup then needs little of the WAL; writes that
     * arrive meanwhile are in the live WAL, which the engine copies. */
    rocksdb_backup_engine_create_new_backup_flush(be, kv->db, 1, &err);
    if (err) {
        rc = rdb_err(err, "backup", msg, msgcap);
    } else {
        const rocksdb_backup_engine_info_t *info = rocksdb_backup_engine_get_backup_info(be);
        int n = info ? rocksdb_backup_engine_info_count(info) : 0;
        if (n < 1) {
            bt_msgf(msg, msgcap, "backup: the new backup is not listed");
            rc = BT_EIO;
        } else {
            *out_id = rocksdb_backup_engine_info_backup_id(info, n - 1);
        }
        if (info) rocksdb_backup_engine_info_destroy(info);
    }
    rocksdb_backup_engine_close(be);
    return rc;
}

int bt_kv_backup_list(bt_kv_backup **out, size_t *out_count, const char *dir, char *msg,
                      size_t msgcap)
{
    int rc;
    *out = NULL;
    *out_count = 0;
    rocksdb_backup_engine_t *be = be_open(dir, false, msg, msgcap, &rc);
    if (!be) return rc;
    const rocksdb_backup_engine_info_t *info = rocksdb_backup_engine_get_backup_info(be);
    int n = info ? rocksdb_backup_engine_info_count(info) : 0;
    bt_kv_backup *arr = bt_calloc(n > 0 ? (size_t)n : 1, sizeof *arr);
    if (!arr) {
        bt_msgf(msg, msgcap, "out of memory");
        rc = BT_ENOMEM;
    }
    for (int i = 0; arr && i < n; i++) {
        arr[i].id = rocksdb_backup_engine_info_backup_id(info, i);
        arr[i].timestamp = rocksdb_backup_engine_info_timestamp(info, i);
        arr[i].size = rocksdb_backup_engine_info_size(info, i);
        arr[i].files = rocksdb_backup_engine_info_number_files(info, i);
    }
    if (info) rocksdb_backup_engine_info_destroy(info);
    rocksdb_backup_engine_close(be);
    if (arr) {
        *out = arr;
        *out_count = (size_t)(n > 0 ? n : 0);
    }
    return rc;
}

int bt_kv_backup_verify(const char *dir, uint32_t id, char *msg, size_t msgcap)
{
    int rc;
    rocksdb_backup_engine_t *be = be_open(dir, false, msg, msgcap, &rc);
    if (!be) return rc;
    char *err = NULL;
    rocksdb_backup_engine_verify_backup(be, id, &err);
    rocksdb_backup_engine_close(be);
    if (!err) return 0;
    rc = rdb_err(err, "backup verify", msg, msgcap);
    /* a missing or short file is damage to the backup, not an I/O error */
    return rc == BT_EIO || rc == BT_EINVAL ? BT_ECORRUPT : rc;
}

int bt_kv_backup_restore(const char *dir, uint32_t id, const char *db_dir, char *msg,
                         size_t msgcap)
{
    int rc;
    rocksdb_backup_engine_t *be = be_open(dir, false, msg, msgcap, &rc);
    if (!be) return rc;
    rocksdb_restore_options_t *ro = rocksdb_restore_options_create();
    char *err = NULL;
    if (id == 0)
        rocksdb_backup_engine_restore_db_from_latest_backup(be, db_dir, db_dir, ro, &err);
    else
        rocksdb_backup_engine_restore_db_from_backup(be, db_dir, db_dir, ro, id, &err);
    rocksdb_restore_options_destroy(ro);
    rocksdb_backup_engine_close(be);
    return err ? rdb_err(err, "backup restore", msg, msgcap) : 0;
}

int bt_kv_backup_purge(const char *dir, uint32_t keep, char *msg, size_t msgcap)
{
    int rc;
    if (keep < 1) keep = 1;
    rocksdb_backup_engine_t *be = be_open(dir, false, msg, msgcap, &rc);
    if (!be) return rc;
    char *err = NULL;
    rocksdb_backup_engine_purge_old_backups(be, keep, &err);
    rocksdb_backup_engine_close(be);
    return err ? rdb_err(err, "backup purge", msg, msgcap) : 0;
}

/* Releases whatever part of kv has been set up; used by close and by every
 * error path of open. */
static void rdb_destroy(rdb *kv)
{
    if (!kv) return;
    for (int i = 0; i < BT_CF_COUNT; i++)
        if (kv->cf[i]) rocksdb_column_family_handle_destroy(kv->cf[i]);
    for (size_t i = 0; i < kv->nother; i++)
        if (kv->other[i]) rocksdb_column_family_handle_destroy(kv->other[i]);
    if (kv->db) rocksdb_close(kv->db);
    if (kv->fopts) rocksdb_flushoptions_destroy(kv->fopts);
    if (kv->wopts_nosync) rocksdb_writeoptions_destroy(kv->wopts_nosync);
    if (kv->wopts_nowal) rocksdb_writeoptions_destroy(kv->wopts_nowal);
    if (kv->wopts_sync) rocksdb_writeoptions_destroy(kv->wopts_sync);
    if (kv->ropts) rocksdb_readoptions_destroy(kv->ropts);
    for (int i = 0; i < BT_CF_COUNT; i++)
        if (kv->bulk_opts[i]) rocksdb_options_destroy(kv->bulk_opts[i]);
    if (kv->envopts) rocksdb_envoptions_destroy(kv->envopts);
    if (kv->cache) rocksdb_cache_destroy(kv->cache);
    bt_mem_free(kv->path);
    bt_mem_free(kv->other);
    bt_mem_free(kv);
}

/* ---- bulk loads: SST files written directly and ingested ---------------- */

static bt_kv_bulk *r_bulk_new(bt_kv *kv_, int cf, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    if (cf < 0 || cf >= BT_CF_COUNT || kv->read_only || !kv->bulk_opts[cf]) {
        bt_msgf(msg, msgcap, "bulk load: not possible on this store or partition");
        return NULL;
    }
    bt_kv_bulk *b = bt_calloc(1, sizeof *b);
    if (!b) {
        bt_msgf(msg, msgcap, "bulk load: out of memory");
        return NULL;
    }
    b->kv = kv;
    b->cf = cf;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(b->file, sizeof b->file, "%s/bt-ingest-%ld-%lld%09ld-%u.sst", kv->path,
             (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec, atomic_fetch_add(&kv->bulk_seq, 1));
    /* Never open (and so truncate) an existing name: after an ingestion the
     * name is a hard link to a live table file of the store.  Stale names
     * are removed at open (remove_stale_ingest_files). */
    unlink(b->file);
    b->w = rocksdb_sstfilewriter_create(kv->envopts, kv->bulk_opts[cf]);
    char *err = NULL;
    rocksdb_sstfilewriter_open(b->w, b->file, &err);
    if (err) {
        rdb_err(err, "bulk load open", msg, msgcap);
        rocksdb_sstfilewriter_destroy(b->w);
        unlink(b->file);
        bt_mem_free(b);
        return NULL;
    }
    return b;
}

static int r_bulk_put(bt_kv_bulk *b, const void *k, size_t kl, const void *v, size_t vl)
{
    if (b->err) return b->err;
    char *err = NULL;
    rocksdb_sstfilewriter_put(b->w, k, kl, v, vl, &err);
    if (err) return b->err = rdb_err(err, "bulk load put", b->errmsg, sizeof b->errmsg);
    b->n++;
    return 0;
}

static void r_bulk_abort(bt_kv_bulk *b)
{
    if (!b) return;
    rocksdb_sstfilewriter_destroy(b->w);
    unlink(b->file);
    bt_mem_free(b);
}

static int r_bulk_ingest(bt_kv *kv_, bt_kv_bulk *b, char *msg, size_t msgcap)
{
    rdb *kv = (rdb *)kv_;
    int rc = b->err;
    if (rc) bt_msgf(msg, msgcap, "%s", b->errmsg);
    if (!rc) rc = refuse(kv, "bulk load", msg, msgcap);
    if (!rc && b->n) {
        char *err = NULL;
        rocksdb_sstfilewriter_finish(b->w, &err);
        if (err) rc = note_failure(kv, rdb_err(err, "bulk load finish", msg, msgcap));
        if (!rc) {
            rocksdb_ingestexternalfileoptions_t *io = rocksdb_ingestexternalfileoptions_create();
            rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
            rocksdb_ingestexternalfileoptions_set_allow_global_seqno(io, 1);
            rocksdb_ingestexternalfileoptions_set_allow_blocking_flush(io, 1);
            const char *files[1] = {b->file};
            rocksdb_ingest_external_file_cf(kv->db, kv->cf[b->cf], files, 1, io, &err);
            rocksdb_ingestexternalfileoptions_destroy(io);
            if (err) rc = note_failure(kv, rdb_err(err, "bulk load ingest", msg, msgcap));
        }
    }
    r_bulk_abort(b); /* also removes our link to the (moved) file */
    return rc;
}

static void r_close(bt_kv *kv_) { rdb_destroy((rdb *)kv_); }

static const bt_kv_vtbl rdb_vtbl = {
    .get = r_get,
    .batch_new = r_batch_new,
    .batch_put = r_batch_put,
    .batch_del = r_batch_del,
    .batch_del_range = r_batch_del_range,
    .batch_count = r_batch_count,
    .batch_bytes = r_batch_bytes,
    .batch_clear = r_batch_clear,
    .batch_free = r_batch_free,
    .write = r_write,
    .sync_wal = r_sync_wal,
    .flush = r_flush,
    .compact = r_compact,
    .iter_new = r_iter_new,
    .iter_seek = r_iter_seek,
    .iter_seek_last = r_iter_seek_last,
    .iter_seek_for_prev = r_iter_seek_for_prev,
    .iter_valid = r_iter_valid,
    .iter_next = r_iter_next,
    .iter_prev = r_iter_prev,
    .iter_key = r_iter_key,
    .iter_value = r_iter_value,
    .iter_status = r_iter_status,
    .iter_free = r_iter_free,
    .cf_bytes = r_cf_bytes,
    .checkpoint = r_checkpoint,
    .close = r_close,
    .backup = r_backup,
    .cf_raw_bytes = r_cf_raw_bytes,
    .bulk_new = r_bulk_new,
    .bulk_put = r_bulk_put,
    .bulk_ingest = r_bulk_ingest,
    .bulk_abort = r_bulk_abort,
};

/* ------------------------------------------------------------------------ */
/* Open                                                                      */
/* ------------------------------------------------------------------------ */

static int check_config(const bt_kv_config *cfg, char *msg, size_t msgcap)
{
    const char *bad = NULL;
    for (int i = 0; i < BT_CF_COUNT && !bad; i++) {
        if (cfg->compression[i] < 0 || cfg->compression[i] > 2) bad = "compression";
        if (cfg->bloom_bits[i] < 0 || cfg->bloom_bits[i] > RDB_BLOOM_BITS_MAX) bad = "bloom_bits";
    }
    if (cfg->zstd_level < 0 || cfg->zstd_level > RDB_ZSTD_LEVEL_MAX) bad = "zstd_level";
    if (cfg->background_jobs < 0 || cfg->background_jobs > RDB_BG_JOBS_MAX) bad = "background_jobs";
    if (cfg->info_log_level < 0 || cfg->info_log_level > 4) bad = "info_log_level";
    if (cfg->block_cache_bytes > SIZE_MAX || cfg->write_buffer_bytes > SIZE_MAX) bad = "size";
    if (!bad) return 0;
    bt_msgf(msg, msgcap, "rocksdb open: bad configuration value: %s", bad);
    return BT_EINVAL;
}

/* Options shared by the DB and, copied, by every column family. */
static rocksdb_options_t *base_options(const bt_kv_config *cfg)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, cfg->create_if_missing && !cfg->read_only);
    rocksdb_options_set_create_missing_column_families(o, !cfg->read_only);
    rocksdb_options_set_paranoid_checks(o, 1);
    /*
     * WAL recovery mode.  RocksDB's default, kPointInTimeRecovery, stops
     * replay at the first bad record and opens "OK": measured here, one
     * flipped bit in the WAL silently dropped acknowledged writes in 25/25
     * trials.  kAbsoluteConsistency catches the flip but also refuses to open
     * after an ordinary torn tail (a crash in the middle of an append).
     * kTolerateCorruptedTailRecords accepts an incomplete last record (the
     * torn tail: 60/60 reopened) but reports a checksum failure anywhere as
     * Corruption (25/25 flips detected) -- the behaviour we want.  Note the
     * C enum: this mode is 0, not 1 (1 is kAbsoluteConsistency).
     */
    rocksdb_options_set_wal_recovery_mode(o, rocksdb_tolerate_corrupted_tail_records_recovery);
    /* Debian's RocksDB asserts (SIGABRT) when its info LOG hits ENOSPC; the
     * caller picks the level (FATAL = 4 avoids it) or another directory. */
    rocksdb_options_set_info_log_level(o, cfg->info_log_level);
    if (cfg->info_log_dir && cfg->info_log_dir[0]) rocksdb_options_set_db_log_dir(o, cfg->info_log_dir);
    rocksdb_options_set_max_log_file_size(o, RDB_INFO_LOG_FILE_MAX);
    rocksdb_options_set_keep_log_file_num(o, RDB_INFO_LOG_KEEP);
    rocksdb_options_set_max_background_jobs(
        o, cfg->background_jobs > 0 ? cfg->background_jobs : RDB_BG_JOBS_DEFAULT);
    if (cfg->write_buffer_bytes) {
        /* write_buffer_bytes bounds the memtables of all five families
         * together (RocksDB's write buffer manager flushes the largest when
         * they pass 7/8 of it); one family's memtable may take half.  Five
         * families x 2 memtables x the full size each (RocksDB's per-family
         * default) measured 300 MiB above the caches at 1M notes. */
        rocksdb_options_set_db_write_buffer_size(o, (size_t)cfg->write_buffer_bytes);
        rocksdb_options_set_write_buffer_size(o, (size_t)(cfg->write_buffer_bytes / 2));
    }
    return o;
}

/* Per-family options: table format, shared cache, bloom filter, compression. */
static rocksdb_options_t *cf_options(const rocksdb_options_t *base, const bt_kv_config *cfg, int cf,
                                     rocksdb_cache_t *cache)
{
    rocksdb_options_t *o = rocksdb_options_create_copy((rocksdb_options_t *)base);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, cache);
    /* Index and filter blocks go through the block cache, so that
     * block_cache_bytes bounds them: held by every open table's reader
     * instead (RocksDB's default) they grew with the data, ~40 MiB per
     * million notes.  Partitioned (a two-level index, partitioned filters)
     * with the top levels pinned: a lookup needs one small partition of
     * each, not a whole file's index and filter. */
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks_with_high_priority(t, 1);
    rocksdb_block_based_options_set_pin_top_level_index_and_filter(t, 1);
    rocksdb_block_based_options_set_index_type(t, rocksdb_block_based_table_index_type_two_level_index_search);
    rocksdb_block_based_options_set_partition_filters(t, 1);
    rocksdb_block_based_options_set_metadata_block_size(t, 4096);
    if (cfg->bloom_bits[cf] > 0) /* ownership passes to t: never destroy it ourselves */
        rocksdb_block_based_options_set_filter_policy(
            t, rocksdb_filterpolicy_create_bloom_full((double)cfg->bloom_bits[cf]));
    rocksdb_options_set_block_based_table_factory(o, t);
    rocksdb_block_based_options_destroy(t); /* the factory keeps its own copy */
    switch (cfg->compression[cf]) {
    case 1: rocksdb_options_set_compression(o, rocksdb_lz4_compression); break;
    case 2:
        rocksdb_options_set_compression(o, rocksdb_zstd_compression);
        /* (window_bits, level, strategy, max_dict_bytes); -14 is RocksDB's default */
        if (cfg->zstd_level > 0) rocksdb_options_set_compression_options(o, -14, cfg->zstd_level, 0, 0);
        break;
    default: rocksdb_options_set_compression(o, rocksdb_no_compression); break;
    }
    return o;
}

static int our_cf_index(const char *name)
{
    for (int i = 0; i < BT_CF_COUNT; i++)
        if (strcmp(name, bt_cf_names[i]) == 0) return i;
    return -1;
}

/* The list of families to open: ours (0..BT_CF_COUNT-1), then "default",
 * then any unknown families the store already holds.  *names (array only,
 * strings borrowed from bt_cf_names and from *existing) is bt_malloc'd;
 * *existing is RocksDB's list (free with rocksdb_list_column_families_destroy). */
static int family_list(const char ***names, size_t *n, char ***existing, size_t *nexisting,
                       const char *path, const rocksdb_options_t *base, const bt_kv_config *cfg,
                       char *msg, size_t msgcap)
{
    char *err = NULL;
    *existing = rocksdb_list_column_families(base, path, nexisting, &err);
    if (err) {
        /* A store that does not exist yet, or cannot be read: the open that
         * follows reports why (the lock, a non-directory path ...).  Even on
         * error the C API returns a malloc(0)'d list: free it. */
        if (*existing) rocksdb_list_column_families_destroy(*existing, 0);
        *existing = NULL;
        *nexisting = 0;
        if (cfg->read_only) return rdb_err(err, "open", msg, msgcap);
        rocksdb_free(err);
    }
    *names = bt_malloc((BT_CF_COUNT + 1 + *nexisting) * sizeof **names);
    if (!*names) {
        bt_msgf(msg, msgcap, "rocksdb open: out of memory");
        return BT_ENOMEM;
    }
    size_t k = 0;
    for (int i = 0; i < BT_CF_COUNT; i++) (*names)[k++] = bt_cf_names[i];
    (*names)[k++] = "default";
    bool have[BT_CF_COUNT] = {false};
    for (size_t i = 0; i < *nexisting; i++) {
        int ours = our_cf_index((*existing)[i]);
        if (ours >= 0)
            have[ours] = true;
        else if (strcmp((*existing)[i], "default") != 0)
            (*names)[k++] = (*existing)[i];
    }
    *n = k;
    for (int i = 0; i < BT_CF_COUNT && cfg->read_only; i++) {
        if (!have[i]) {
            bt_msgf(msg, msgcap, "rocksdb open: read-only store lacks partition \"%s\"",
                    bt_cf_names[i]);
            return BT_ECORRUPT;
        }
    }
    return 0;
}

/* A process killed between writing a bulk-load file and removing its name
 * leaves the name behind: either a hard link to a table file the store now
 * owns, or an unfinished file.  Removing the name is right in both cases,
 * and must happen before any new bulk load could reuse it. */
static void remove_stale_ingest_files(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "bt-ingest-", 10) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".sst") == 0) {
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

static int open_db(rdb *kv, const char *path, const bt_kv_config *cfg, char *msg, size_t msgcap)
{
    const char **names = NULL;
    char **existing = NULL;
    size_t n = 0, nexisting = 0;
    rocksdb_options_t **cfo = NULL;
    rocksdb_column_family_handle_t **h = NULL;
    char *err = NULL;
    rocksdb_options_t *base = base_options(cfg);
    int rc = family_list(&names, &n, &existing, &nexisting, path, base, cfg, msg, msgcap);
    if (rc) goto out;
    cfo = bt_calloc(n, sizeof *cfo);
    h = bt_calloc(n, sizeof *h);
    kv->other = bt_calloc(n - BT_CF_COUNT, sizeof *kv->other);
    if (!cfo || !h || !kv->other) {
        bt_msgf(msg, msgcap, "rocksdb open: out of memory");
        rc = BT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        cfo[i] = i < BT_CF_COUNT ? cf_options(base, cfg, (int)i, kv->cache)
                                 : rocksdb_options_create_copy(base);
    for (int i = 0; i < BT_CF_COUNT; i++) kv->bulk_opts[i] = cf_options(base, cfg, i, kv->cache);
    if (cfg->read_only)
        kv->db = rocksdb_open_for_read_only_column_families(
            base, path, (int)n, names, (const rocksdb_options_t *const *)cfo, h, 0, &err);
    else
        kv->db = rocksdb_open_column_families(base, path, (int)n, names,
                                              (const rocksdb_options_t *const *)cfo, h, &err);
    if (err) {
        char what[256];
        snprintf(what, sizeof what, "open %.240s", path);
        rc = rdb_err(err, what, msg, msgcap);
        kv->db = NULL; /* nothing was opened; no handles were returned */
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (i < BT_CF_COUNT)
            kv->cf[i] = h[i];
        else
            kv->other[kv->nother++] = h[i];
    }
    /* we hold RocksDB's LOCK now: no other instance is ingesting here */
    if (!cfg->read_only) remove_stale_ingest_files(path);
out:
    if (cfo)
        for (size_t i = 0; i < n; i++)
            if (cfo[i]) rocksdb_options_destroy(cfo[i]);
    bt_mem_free(cfo);
    bt_mem_free(h);
    bt_mem_free(names);
    if (existing) rocksdb_list_column_families_destroy(existing, nexisting);
    rocksdb_options_destroy(base);
    return rc;
}

/* RocksDB creates the directory and its info LOG before it notices that a
 * store is missing and create_if_missing is off; look first, so that a
 * mistyped path leaves nothing behind. */
static int check_exists(const char *path, const bt_kv_config *cfg, char *msg, size_t msgcap)
{
    if (cfg->create_if_missing && !cfg->read_only) return 0;
    size_t n = strlen(path);
    char *cur = bt_malloc(n + sizeof "/CURRENT");
    if (!cur) {
        bt_msgf(msg, msgcap, "rocksdb open: out of memory");
        return BT_ENOMEM;
    }
    memcpy(cur, path, n);
    memcpy(cur + n, "/CURRENT", sizeof "/CURRENT");
    int rc = 0;
    struct stat st;
    if (stat(cur, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
        bt_msgf(msg, msgcap, "rocksdb open %s: no store there (%s)", path,
                cfg->read_only ? "read-only open" : "create_if_missing is off");
        rc = BT_EINVAL;
    }
    bt_mem_free(cur);
    return rc;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* The WAL files (NNNNNN.log) of the store at path: the oldest number, and
 * the newest non-empty file (name, number).  Returns -1 if the directory
 * or a file cannot be read, else how many WAL files there are. */
typedef struct walscan {
    unsigned long long oldest, newest_full;
    char newest_full_name[64]; /* "" if every WAL file is empty */
} walscan;

static int scan_wals(const char *path, walscan *w)
{
    memset(w, 0, sizeof *w);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int count = 0;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || n >= sizeof w->newest_full_name || strcmp(e->d_name + n - 4, ".log") != 0 ||
            strspn(e->d_name, "0123456789") != n - 4)
            continue;
        unsigned long long num = strtoull(e->d_name, NULL, 10);
        if (!count++ || num < w->oldest) w->oldest = num;
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &st) != 0) {
            closedir(d);
            return -1;
        }
        if (S_ISREG(st.st_mode) && st.st_size > 0 && (!w->newest_full_name[0] || num > w->newest_full)) {
            w->newest_full = num;
            memcpy(w->newest_full_name, e->d_name, n + 1);
        }
    }
    closedir(d);
    return count;
}

/* Moves the newest (highest-numbered) non-empty WAL file of the store at
 * path into report->aside_dir (created on first use).  BT_ENOTFOUND when
 * there is none. */
static int set_aside_newest_wal(const char *path, bt_kv_open_report *rep, char *msg, size_t msgcap)
{
    walscan w;
    if (scan_wals(path, &w) < 0) {
        bt_msgf(msg, msgcap, "rocksdb open %s: cannot list the store: %s", path, strerror(errno));
        return BT_EIO;
    }
    if (!w.newest_full_name[0]) return BT_ENOTFOUND;
    char p[4096];
    if (!rep->aside_dir[0]) {
        int n = snprintf(rep->aside_dir, sizeof rep->aside_dir, "%s/wal-gap-%lld", path,
                         (long long)time(NULL));
        if (n < 0 || (size_t)n >= sizeof rep->aside_dir) {
            rep->aside_dir[0] = '\0';
            bt_msgf(msg, msgcap, "rocksdb open %s: path too long", path);
            return BT_EINVAL;
        }
        if (mkdir(rep->aside_dir, 0755) != 0 && errno != EEXIST) {
            bt_msgf(msg, msgcap, "rocksdb open: cannot create %s: %s", rep->aside_dir, strerror(errno));
            rep->aside_dir[0] = '\0';
            return errno == ENOSPC ? BT_ENOSPC : BT_EIO;
        }
        fsync_dir(path);
    }
    char to[4096 + 64];
    snprintf(p, sizeof p, "%s/%s", path, w.newest_full_name);
    snprintf(to, sizeof to, "%s/%s", rep->aside_dir, w.newest_full_name);
    if (rename(p, to) != 0) {
        bt_msgf(msg, msgcap, "rocksdb open: cannot move %s to %s: %s", p, rep->aside_dir, strerror(errno));
        return BT_EIO;
    }
    if (fsync_dir(rep->aside_dir) != 0 || fsync_dir(path) != 0) {
        bt_msgf(msg, msgcap, "rocksdb open: cannot sync %s: %s", path, strerror(errno));
        return BT_EIO;
    }
    rep->wal_files_set_aside++;
    return 0;
}

/* Can the WAL files of the store at path hold a gap at all?  The writes
 * after a gap sit in a WAL file newer than the one that lost writes, and
 * that one still exists (RocksDB keeps a WAL until every family has flushed
 * past it; a power cut empties an unsynced file but leaves its name, as the
 * creation of the newer one came after it).  So: a non-empty WAL file that
 * is not the oldest.  Anything unreadable answers yes. */
static bool wal_gap_possible(const char *path)
{
    walscan w;
    if (scan_wals(path, &w) < 0) return true;
    return w.newest_full_name[0] && w.newest_full > w.oldest;
}

/* Puts every WAL file set aside back (a repair that did not work must
 * leave the store as it found it: the read-only opens wrote nothing). */
static void undo_set_aside(const char *path, bt_kv_open_report *rep)
{
    if (!rep->aside_dir[0]) return;
    DIR *d = opendir(rep->aside_dir);
    if (d) {
        struct dirent *e;
        char from[4096 + 300], to[4096 + 300];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(from, sizeof from, "%s/%s", rep->aside_dir, e->d_name);
            snprintf(to, sizeof to, "%s/%s", path, e->d_name);
            if (rename(from, to) == 0) rep->wal_files_set_aside--;
        }
        closedir(d);
    }
    fsync_dir(path);
    if (rep->wal_files_set_aside == 0 && rmdir(rep->aside_dir) == 0) {
        rep->aside_dir[0] = '\0';
        fsync_dir(path);
    }
}

/* The gap check of kv.h: read-only opens until the caller sees no gap,
 * moving one WAL file aside after each gap. */
static int check_gap(const char *path, const bt_kv_config *cfg, bt_kv_open_report *rep, char *msg,
                     size_t msgcap)
{
    bt_kv_config ro = *cfg;
    ro.read_only = true;
    ro.create_if_missing = false;
    ro.gap_check = NULL;
    ro.report = NULL;
    for (unsigned round = 0;; round++) {
        bt_kv *kv = NULL;
        int rc = bt_kv_open_rocksdb(&kv, path, &ro, msg, msgcap);
        /* A store the read-only open cannot take as it is (one still being
         * created, a partition missing) has no chain to check: the
         * read-write open that follows decides. */
        if (rc == BT_ECORRUPT && msg && strstr(msg, "lacks partition")) return 0;
        if (rc) return rc;
        rc = cfg->gap_check(kv, cfg->gap_check_arg, msg, msgcap);
        kv->v->close(kv);
        if (rc != BT_KV_GAP) return rc;
        char gap[512];
        snprintf(gap, sizeof gap, "%s", msg ? msg : "a gap in the store");
        if (round == RDB_GAP_ROUNDS_MAX) {
            bt_msgf(msg, msgcap, "%s; still there with the %u newest WAL files set aside", gap,
                    rep->wal_files_set_aside);
            return BT_ECORRUPT;
        }
        rc = set_aside_newest_wal(path, rep, msg, msgcap);
        if (rc == BT_ENOTFOUND) {
            if (rep->wal_files_set_aside)
                bt_msgf(msg, msgcap, "%s; still there with every WAL file (%u) set aside", gap,
                        rep->wal_files_set_aside);
            else
                bt_msgf(msg, msgcap, "%s, and no write-ahead log holds the writes after it", gap);
            return BT_ECORRUPT;
        }
        if (rc) return rc;
    }
}

/* check_gap; if that does not end in a store without a gap, the files go
 * back and the open fails. */
static int check_gap_or_undo(const char *path, const bt_kv_config *cfg, bt_kv_open_report *rep,
                             char *msg, size_t msgcap)
{
    int rc = check_gap(path, cfg, rep, msg, msgcap);
    if (rc && rep->wal_files_set_aside) {
        unsigned moved = rep->wal_files_set_aside;
        undo_set_aside(path, rep);
        if (msg && msgcap) {
            size_t n = strlen(msg);
            if (rep->wal_files_set_aside == 0)
                snprintf(msg + n, msgcap - n, " (the %u WAL file(s) set aside are back in place)", moved);
            else
                snprintf(msg + n, msgcap - n, " (%u WAL file(s) could not be put back from %s)",
                         rep->wal_files_set_aside, rep->aside_dir);
        }
    }
    return rc;
}

int bt_kv_open_rocksdb(bt_kv **out, const char *path, const bt_kv_config *cfg, char *msg,
                       size_t msgcap)
{
    *out = NULL;
    if (msg && msgcap) msg[0] = '\0';
    if (!path || !*path || !cfg) {
        bt_msgf(msg, msgcap, "rocksdb open: no path or configuration");
        return BT_EINVAL;
    }
    int rc = check_config(cfg, msg, msgcap);
    if (rc) return rc;
    rc = check_exists(path, cfg, msg, msgcap);
    if (rc) return rc;
    if (cfg->report) memset(cfg->report, 0, sizeof *cfg->report);
    if (cfg->gap_check && !cfg->read_only) {
        bt_kv_open_report local;
        bt_kv_open_report *rep = cfg->report ? cfg->report : &local;
        memset(&local, 0, sizeof local);
        char cur[4096];
        struct stat st;
        snprintf(cur, sizeof cur, "%s/CURRENT", path);
        if (stat(cur, &st) == 0 && wal_gap_possible(path) &&
            (rc = check_gap_or_undo(path, cfg, rep, msg, msgcap)))
            return rc;
        if (msg && msgcap) msg[0] = '\0';
    }
    rdb *kv = bt_calloc(1, sizeof *kv);
    if (!kv) {
        bt_msgf(msg, msgcap, "rocksdb open: out of memory");
        return BT_ENOMEM;
    }
    kv->base.v = &rdb_vtbl;
    kv->read_only = cfg->read_only;
    kv->cache = rocksdb_cache_create_lru(
        cfg->block_cache_bytes ? (size_t)cfg->block_cache_bytes : RDB_CACHE_DEFAULT_BYTES);
    kv->ropts = rocksdb_readoptions_create();
    kv->wopts_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(kv->wopts_sync, 1);
    kv->wopts_nosync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(kv->wopts_nosync, 0);
    kv->wopts_nowal = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(kv->wopts_nowal, 0);
    rocksdb_writeoptions_disable_WAL(kv->wopts_nowal, 1);
    kv->fopts = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(kv->fopts, 1);
    kv->envopts = rocksdb_envoptions_create();
    kv->path = bt_malloc(strlen(path) + 1);
    if (kv->path) strcpy(kv->path, path);
    if (kv->path) {
        rc = open_db(kv, path, cfg, msg, msgcap);
    } else {
        bt_msgf(msg, msgcap, "rocksdb open: out of memory");
        rc = BT_ENOMEM;
    }
    if (rc) {
        rdb_destroy(kv);
        return rc;
    }
    *out = &kv->base;
    return 0;
}
