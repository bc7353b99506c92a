/*
 * kv.h -- the engine boundary: the only interface the rest of the library
 * uses to reach persistent storage.
 *
 * An engine stores ordered byte-string keys and values in a fixed set of
 * partitions (column families).  Implementations:
 *   store_rocksdb.c  RocksDB 7.8 (the ONLY file that includes rocksdb/c.h)
 *   store_mem.c      a sorted in-memory map, for tests (optionally fails the
 *                    N-th write or sync to exercise error paths)
 *
 * Contract (every implementation):
 *  K1. A batch is applied atomically: after a crash either all of its
 *      puts/deletes are visible or none.
 *  K2. write(BT_KV_SYNC) returns only after the batch is durable; sync_wal()
 *      makes every batch written before the call durable (except BT_KV_NO_WAL
 *      batches, which flush() makes durable).
 *  K3. Batches become visible in the order they were written.
 *  K4. Errors are returned as BT_E* codes with a one-line message in msg;
 *      no implementation aborts the process on an I/O error.
 *  K5. get/iterators may run on several threads at once, concurrently with
 *      one writer.  An iterator sees a consistent snapshot taken when it was
 *      created.
 */
#ifndef BT_STORE_KV_H
#define BT_STORE_KV_H
#include "util/buf.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bt_cf {
    BT_CF_NODES = 0,       /* tree pages / nodes            */
    BT_CF_OPS = 1,         /* operation log                 */
    BT_CF_CHECKPOINTS = 2, /* checkpoints                   */
    BT_CF_META = 3,        /* metadata: format, trees, heads */
    BT_CF_INDEXES = 4,     /* secondary indexes             */
    BT_CF_COUNT = 5
};

/* Names of the partitions as stored by the engine. */
extern const char *const bt_cf_names[BT_CF_COUNT];

/* write() flags.  BT_KV_NO_WAL skips the engine's write-ahead log: the
 * batch is durable only after a later flush() (and lost, entirely, by a
 * crash before it); used for node flushes, whose durability point is the
 * flush of the memtables that follows. */
#define BT_KV_SYNC 1
#define BT_KV_NO_WAL 2

typedef struct bt_kv bt_kv;
typedef struct bt_kv_batch bt_kv_batch;
typedef struct bt_kv_iter bt_kv_iter;
typedef struct bt_kv_bulk bt_kv_bulk;

/* What an open repaired (bt_kv_config.report). */
typedef struct bt_kv_open_report {
    unsigned wal_files_set_aside; /* WAL files moved out after a gap */
    char aside_dir[4096];         /* where they went ("" if none) */
} bt_kv_open_report;

/* gap_check's answer when the store's state has a gap (FORMAT.md 4.6). */
#define BT_KV_GAP 1

/* Engine tuning, filled from the database options (see basistrees.h). */
typedef struct bt_kv_config {
    uint64_t block_cache_bytes;
    int compression[BT_CF_COUNT];   /* 0 none, 1 lz4, 2 zstd */
    int zstd_level;
    int bloom_bits[BT_CF_COUNT];    /* 0 = no bloom filter */
    uint64_t write_buffer_bytes;
    int background_jobs;
    int info_log_level;             /* 0 debug .. 4 fatal */
    const char *info_log_dir;       /* NULL: inside the database directory */
    bool create_if_missing;
    bool read_only;
    /* Read-write opens of an existing store (engines with a WAL): before
     * replaying the WAL for writing -- RocksDB then flushes what it replayed
     * and deletes the WAL files -- the engine opens the store read-only and
     * asks gap_check whether that state has a gap (a lost batch whose
     * successors survived a power cut).  gap_check returns 0 (no gap),
     * BT_KV_GAP, or a BT_E* error, which the open returns.  On a gap the
     * engine moves its newest non-empty WAL file into `wal-gap-<unix
     * time>/` inside the store and asks again; if no WAL file is left, the
     * open fails with BT_ECORRUPT.  NULL: no check. */
    int (*gap_check)(bt_kv *kv, void *arg, char *msg, size_t msgcap);
    void *gap_check_arg;
    bt_kv_open_report *report; /* optional: filled by the open */
} bt_kv_config;

typedef struct bt_kv_vtbl {
    int (*get)(bt_kv *kv, int cf, const void *key, size_t klen, bt_buf *out, char *msg,
               size_t msgcap); /* 0, BT_ENOTFOUND or an error; value appended to out */
    bt_kv_batch *(*batch_new)(bt_kv *kv);
    void (*batch_put)(bt_kv_batch *b, int cf, const void *k, size_t kl, const void *v, size_t vl);
    void (*batch_del)(bt_kv_batch *b, int cf, const void *k, size_t kl);
    void (*batch_del_range)(bt_kv_batch *b, int cf, const void *from, size_t fl, const void *to,
                            size_t tl); /* [from, to) */
    size_t (*batch_count)(const bt_kv_batch *b);
    size_t (*batch_bytes)(const bt_kv_batch *b);
    void (*batch_clear)(bt_kv_batch *b);
    void (*batch_free)(bt_kv_batch *b);
    int (*write)(bt_kv *kv, bt_kv_batch *b, int flags, char *msg, size_t msgcap); /* BT_KV_* */
    int (*sync_wal)(bt_kv *kv, char *msg, size_t msgcap);
    int (*flush)(bt_kv *kv, char *msg, size_t msgcap); /* memtables to files */
    int (*compact)(bt_kv *kv, int cf, char *msg, size_t msgcap);
    bt_kv_iter *(*iter_new)(bt_kv *kv, int cf);
    void (*iter_seek)(bt_kv_iter *it, const void *key, size_t klen); /* first key >= key */
    void (*iter_seek_last)(bt_kv_iter *it);
    void (*iter_seek_for_prev)(bt_kv_iter *it, const void *key, size_t klen); /* last <= key */
    bool (*iter_valid)(bt_kv_iter *it);
    void (*iter_next)(bt_kv_iter *it);
    void (*iter_prev)(bt_kv_iter *it);
    const uint8_t *(*iter_key)(bt_kv_iter *it, size_t *len);
    const uint8_t *(*iter_value)(bt_kv_iter *it, size_t *len);
    int (*iter_status)(bt_kv_iter *it, char *msg, size_t msgcap);
    void (*iter_free)(bt_kv_iter *it);
    /* Bulk load: pairs put in strictly increasing key order go straight
     * into a table file (no log, no memtable); bulk_ingest adds the file to
     * the partition atomically and durably (K1, K2), replacing older values
     * of the same keys; it frees the loader whatever the outcome.
     * bulk_abort drops a loader without ingesting it. */
    bt_kv_bulk *(*bulk_new)(bt_kv *kv, int cf, char *msg, size_t msgcap);
    int (*bulk_put)(bt_kv_bulk *b, const void *k, size_t kl, const void *v, size_t vl);
    int (*bulk_ingest)(bt_kv *kv, bt_kv_bulk *b, char *msg, size_t msgcap);
    void (*bulk_abort)(bt_kv_bulk *b);
    /* Approximate bytes on disk (or in memory) of a partition. */
    uint64_t (*cf_bytes)(bt_kv *kv, int cf);
    /* Consistent copy of the whole store into an empty directory (RocksDB
     * checkpoint); BT_ENOTSUP where impossible. */
    int (*checkpoint)(bt_kv *kv, const char *dir, char *msg, size_t msgcap);
    void (*close)(bt_kv *kv);
    /* Online backup into backup_dir (RocksDB BackupEngine: consistent while
     * writes go on, table files shared with earlier backups); *out_id is
     * the new backup's id.  BT_ENOTSUP where impossible (memory store,
     * read-only handle).  NULL in an engine means BT_ENOTSUP. */
    int (*backup)(bt_kv *kv, const char *backup_dir, uint32_t *out_id, char *msg, size_t msgcap);
    /* Uncompressed key+value bytes and stored (data block) bytes of a
     * partition's table files, for the compression ratio; 0/0 if unknown. */
    void (*cf_raw_bytes)(bt_kv *kv, int cf, uint64_t *out_raw, uint64_t *out_stored);
} bt_kv_vtbl;

struct bt_kv {
    const bt_kv_vtbl *v;
};

/* Opens RocksDB at path, creating missing partitions.  Returns 0 or an error
 * (BT_EIO, BT_ECORRUPT for a damaged store, BT_EBUSY if RocksDB's own lock
 * is held, BT_EINVAL for a bad configuration) with a message. */
int bt_kv_open_rocksdb(bt_kv **out, const char *path, const bt_kv_config *cfg, char *msg,
                       size_t msgcap);

/* Backup directories of the RocksDB engine (no open store needed).  Ids
 * start at 1; id 0 means the newest backup where an id is taken. */
typedef struct bt_kv_backup {
    uint32_t id;
    int64_t timestamp; /* Unix seconds */
    uint64_t size;
    uint32_t files;
} bt_kv_backup;
/* The backups in dir, oldest first (*out: bt_mem_free).  BT_ENOTFOUND if
 * dir does not exist. */
int bt_kv_backup_list(bt_kv_backup **out, size_t *out_count, const char *dir, char *msg,
                      size_t msgcap);
/* Checks that every file of backup id exists with its recorded size. */
int bt_kv_backup_verify(const char *dir, uint32_t id, char *msg, size_t msgcap);
/* Restores backup id (0: newest) into the directory db_dir (which should
 * be new). */
int bt_kv_backup_restore(const char *dir, uint32_t id, const char *db_dir, char *msg,
                         size_t msgcap);
/* Deletes all but the keep newest backups (keep >= 1). */
int bt_kv_backup_purge(const char *dir, uint32_t keep, char *msg, size_t msgcap);

/* An empty in-memory store.  fail_write_after > 0 makes the n-th write (and
 * every later one) fail with BT_EIO, to test error paths. */
int bt_kv_open_mem(bt_kv **out);
void bt_kv_mem_fail_after(bt_kv *kv, long n);

#endif
