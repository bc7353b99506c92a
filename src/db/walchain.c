/*
 * walchain.c -- the write chain (docs/FORMAT.md 4.6): every batch the
 * library writes through the engine's WAL carries the marker `wal/` n and
 * deletes `wal/` n-BT_WALCHAIN_KEEP, so that a lost batch whose successors
 * survived (a gap) can be seen at open.
 *
 * Invariants:
 *  W1. Batch numbers are handed out under db->chainmu, held across the
 *      engine write, so they follow the order the engine applies batches.
 *  W2. After any sequence of completed writes, crashes and power cuts that
 *      lose only a suffix of the batches, the `wal/` records present form
 *      one run of consecutive numbers (at most BT_WALCHAIN_KEEP).  Two runs
 *      or more mean a gap: batches were lost while later ones survived.
 *  W3. A failed write does not advance the number: the engine's failure is
 *      sticky (kv.h), so no later batch follows it in this handle.
 * The checker is bt_db__chain_scan(), run by the engine's read-only
 * pre-open (store_rocksdb.c repairs a gap), by every open, and by
 * bt_db_check.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "codec/records.h"
#include "util/msg.h"
#include <string.h>

#define CHAIN_KEY_LEN 12 /* "wal/" u64 */
#define CHAIN_SCAN_MAX 4096 /* records examined; W2 allows 2 x KEEP after a gap */

static void chain_key(uint8_t k[CHAIN_KEY_LEN], uint64_t n)
{
    memcpy(k, "wal/", 4);
    bt_store_u64be(k + 4, n);
}

int bt_db__chain_scan(bt_kv *kv, uint64_t *out_next, char *msg, size_t msgcap)
{
    *out_next = 1;
    bt_kv_iter *it = kv->v->iter_new(kv, BT_CF_META);
    if (!it) {
        bt_msgf(msg, msgcap, "out of memory");
        return BT_ENOMEM;
    }
    int rc = 0;
    uint64_t prev = 0, count = 0, runs = 0, gap_from = 0, gap_to = 0;
    kv->v->iter_seek(it, "wal/", 4);
    for (; kv->v->iter_valid(it); kv->v->iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = kv->v->iter_key(it, &kl);
        if (kl < 4 || memcmp(k, "wal/", 4) != 0) break;
        const uint8_t *v = kv->v->iter_value(it, &vl);
        uint64_t n = 0;
        if (kl != CHAIN_KEY_LEN || bt_rec_u64_decode(&n, v, vl) || n != bt_load_u64be(k + 4) ||
            n == 0) {
            bt_msgf(msg, msgcap, "metadata: write-chain record %llu is damaged",
                    kl == CHAIN_KEY_LEN ? (unsigned long long)bt_load_u64be(k + 4) : 0ULL);
            rc = BT_ECORRUPT;
            break;
        }
        if (++count > CHAIN_SCAN_MAX) {
            bt_msgf(msg, msgcap, "metadata: more than %d write-chain records", CHAIN_SCAN_MAX);
            rc = BT_ECORRUPT;
            break;
        }
        if (!runs) {
            runs = 1;
        } else if (n != prev + 1) { /* a second run begins */
            if (runs == 1) {
                gap_from = prev + 1;
                gap_to = n - 1;
            }
            runs++;
        }
        prev = n;
    }
    if (!rc) rc = kv->v->iter_status(it, msg, msgcap);
    kv->v->iter_free(it);
    if (rc) return rc;
    if (runs) *out_next = prev + 1;
    if (runs > 1) {
        bt_msgf(msg, msgcap,
                "write chain has a gap: batches %llu..%llu are missing while %llu..%llu, written after them, "
                "survived (writes lost out of order, e.g. unsynced WAL after a power cut)",
                (unsigned long long)gap_from, (unsigned long long)gap_to,
                (unsigned long long)(gap_to + 1), (unsigned long long)prev);
        return BT_KV_GAP;
    }
    return 0;
}

int bt_db__write(bt_db *db, bt_kv_batch *b, int flags)
{
    uint8_t k[CHAIN_KEY_LEN], old[CHAIN_KEY_LEN];
    bt_buf v = BT_BUF_INIT;
    pthread_mutex_lock(&db->chainmu);
    uint64_t n = db->chain_next;
    int rc = bt_rec_u64_encode(&v, n);
    if (rc) {
        pthread_mutex_unlock(&db->chainmu);
        bt_buf_free(&v);
        return bt_db__set_msg(rc, "out of memory");
    }
    chain_key(k, n);
    db->kv->v->batch_put(b, BT_CF_META, k, sizeof k, v.data, v.len);
    if (n > BT_WALCHAIN_KEEP) {
        chain_key(old, n - BT_WALCHAIN_KEEP);
        db->kv->v->batch_del(b, BT_CF_META, old, sizeof old);
    }
    rc = db->kv->v->write(db->kv, b, flags, bt_db__msg, sizeof bt_db__msg);
    if (!rc) db->chain_next = n + 1; /* W3 */
    pthread_mutex_unlock(&db->chainmu);
    bt_buf_free(&v);
    return rc;
}
