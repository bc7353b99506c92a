/*
 * metrics.h -- counters and latency histograms a bt_db keeps for
 * bt_db_metrics_text (metrics.c).  Counters and the read-latency
 * histograms are relaxed atomics bumped on the read and write paths (no
 * lock: readers on many threads never meet here); the maintenance records
 * are under mu.
 */
#ifndef BT_DB_METRICS_H
#define BT_DB_METRICS_H
#include "util/hist.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define BT_METRICS_OP_TYPES 6

typedef struct bt_db_metrics {
    pthread_mutex_t mu;
    /* operations applied in transactions, by bt_op_type, and how many of
     * them failed with an operation-level status */
    _Atomic uint64_t txn_ops[BT_METRICS_OP_TYPES];
    _Atomic uint64_t txn_ops_failed[BT_METRICS_OP_TYPES];
    /* bt_db_prove operations by type */
    _Atomic uint64_t prove_ops[BT_METRICS_OP_TYPES];
    /* reads (bt_db_get and bt_db_prove calls) that found every node they
     * visited in memory, and those that loaded at least one */
    _Atomic uint64_t reads_cached, reads_loading;
    /* latencies of reads: bt_hist_add_atomic / bt_hist_snapshot */
    bt_hist get_ns, prove_ns;
    _Atomic uint64_t get_sum_ns, prove_sum_ns;
    /* under mu */
    uint64_t backups, backup_failures, last_backup_unix, last_backup_id;
    double last_backup_seconds;
    uint64_t compactions, compaction_failures, last_compaction_unix;
    double last_compaction_seconds;
} bt_db_metrics;

/* Node loads by the current thread (bumped by bt_db__load_node), so that a
 * read can tell whether it was served from the cache. */
extern _Thread_local uint64_t bt_db__thread_loads;

struct bt_db;
void bt_db__metrics_init(bt_db_metrics *m);
void bt_db__metrics_destroy(bt_db_metrics *m);
/* A finished read: which kind (0 get, 1 prove), its latency and whether it
 * loaded a node (loads_before: bt_db__thread_loads when it started). */
void bt_db__metrics_read(bt_db_metrics *m, int kind, uint64_t ns, uint64_t loads_before);
uint64_t bt_db__mono_ns(void);
/* Operations applied by bt_txn_apply (results: their outcomes). */
struct bt_op;
struct bt_result;
void bt_db__metrics_txn_ops(bt_db_metrics *m, const struct bt_op *ops,
                            const struct bt_result *results, size_t n);
#endif
