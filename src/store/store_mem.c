/*
 * store_mem.c -- the kv.h engine in memory, for tests.
 *
 * Each partition is a sorted array of pointers to immutable, reference-
 * counted items (key and value in one allocation), ordered bytewise like
 * RocksDB's default comparator (memcmp, then the shorter key first).
 *
 * Invariants (checked by mem_check() in debug builds):
 *   M1. cf[i].a[0..n) is strictly increasing by key.
 *   M2. cf[i].bytes is the sum of key and value lengths of cf[i].
 *   M3. an item's refs counts the arrays (live partitions, snapshots of
 *       iterators, a write being prepared) that hold it; it is freed when
 *       refs reaches 0.  Items are never modified after creation.
 *
 * Atomic batches (K1) without an undo log: write() copies each touched
 * partition's pointer array (taking a reference on each item), applies the
 * batch to the copies, and only if every step succeeded swaps them in and
 * drops the old arrays.  Any failure (out of memory) drops the copies and
 * leaves the store exactly as it was.  This costs O(partition size) per
 * write: fine for the test-sized data this engine is meant for.
 *
 * Iterators copy the partition's pointer array (one reference per item)
 * under the lock, so they see a snapshot and need no lock afterwards.
 * Reference counts are atomic, so an iterator can be freed without the
 * store's lock (but, as with RocksDB, before the store is closed).
 *
 * bt_kv_mem_fail_after(kv, n): the n-th write/sync_wal/flush call from then
 * on, and every later one, fails with BT_EIO (n = 0 disables).
 */
#include "store/kv.h"
#include "util/msg.h"
#include "basistrees.h"
#include "util/alloc.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Defined here, not in store_rocksdb.c, so that this engine (and every test
 * built on it) does not depend on RocksDB. */
const char *const bt_cf_names[BT_CF_COUNT] = {"nodes", "operations", "checkpoints", "metadata",
                                              "indexes"};

typedef struct item {
    atomic_long refs;
    size_t klen, vlen;
    uint8_t data[]; /* key, then value */
} item;

typedef struct part {
    item **a;
    size_t n, cap;
    uint64_t bytes;
} part;

typedef struct mem {
    bt_kv base; /* must be first */
    pthread_mutex_t mu;
    part cf[BT_CF_COUNT];
    long fail_countdown; /* 0 = off; 1 = the next durability call fails */
    bool failing;
} mem;

enum { OP_PUT, OP_DEL, OP_DEL_RANGE };

typedef struct op {
    int type, cf;
    uint8_t *k; /* one allocation: key, then value (or range end) */
    size_t kl, vl;
} op;

struct bt_kv_batch {
    op *ops;
    size_t n, cap;
    size_t bytes;
    int err; /* sticky BT_ENOMEM from a put/del that could not be recorded */
};

struct bt_kv_iter {
    item **a;
    size_t n;
    size_t pos; /* == n: not valid */
};

static const bt_kv_vtbl mem_vtbl;


static bool cf_ok(int cf) { return cf >= 0 && cf < BT_CF_COUNT; }

/* ------------------------------------------------------------------------ */
/* Items and ordered arrays                                                  */
/* ------------------------------------------------------------------------ */

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

static item *item_new(const void *k, size_t kl, const void *v, size_t vl)
{
    if (kl > SIZE_MAX - sizeof(item) - vl) return NULL;
    item *it = bt_malloc(sizeof(item) + kl + vl);
    if (!it) return NULL;
    atomic_init(&it->refs, 1);
    it->klen = kl;
    it->vlen = vl;
    if (kl) memcpy(it->data, k, kl);
    if (vl) memcpy(it->data + kl, v, vl);
    return it;
}

static void item_ref(item *it) { atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed); }

static void item_unref(item *it)
{
    if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1) bt_mem_free(it);
}

/* First index whose key is >= k (or > k when strict). */
static size_t lower_bound(item *const *a, size_t n, const void *k, size_t kl, bool strict)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(a[mid]->data, a[mid]->klen, k, kl);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A copy of p's array with one more reference on each item. */
static int part_clone(part *dst, const part *src)
{
    dst->cap = src->n ? src->n : 1;
    dst->a = bt_malloc(dst->cap * sizeof *dst->a);
    if (!dst->a) return BT_ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        dst->a[i] = src->a[i];
        item_ref(src->a[i]);
    }
    dst->n = src->n;
    dst->bytes = src->bytes;
    return 0;
}

static void part_release(part *p)
{
    for (size_t i = 0; i < p->n; i++) item_unref(p->a[i]);
    bt_mem_free(p->a);
    memset(p, 0, sizeof *p);
}

static int part_put(part *p, const op *o)
{
    size_t i = lower_bound(p->a, p->n, o->k, o->kl, false);
    item *it = item_new(o->k, o->kl, o->k + o->kl, o->vl);
    if (!it) return BT_ENOMEM;
    if (i < p->n && key_cmp(p->a[i]->data, p->a[i]->klen, o->k, o->kl) == 0) {
        p->bytes -= p->a[i]->klen + p->a[i]->vlen;
        item_unref(p->a[i]);
        p->a[i] = it;
    } else {
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 16;
            item **na = bt_realloc(p->a, cap * sizeof *na);
            if (!na) {
                item_unref(it);
                return BT_ENOMEM;
            }
            p->a = na;
            p->cap = cap;
        }
        memmove(p->a + i + 1, p->a + i, (p->n - i) * sizeof *p->a);
        p->a[i] = it;
        p->n++;
    }
    p->bytes += o->kl + o->vl;
    return 0;
}

/* Removes [from, to): the items at indexes [lo, hi). */
static void part_remove(part *p, size_t lo, size_t hi)
{
    if (lo >= hi) return;
    for (size_t i = lo; i < hi; i++) {
        p->bytes -= p->a[i]->klen + p->a[i]->vlen;
        item_unref(p->a[i]);
    }
    memmove(p->a + lo, p->a + hi, (p->n - hi) * sizeof *p->a);
    p->n -= hi - lo;
}

static void part_apply_del(part *p, const op *o)
{
    if (o->type == OP_DEL) {
        size_t i = lower_bound(p->a, p->n, o->k, o->kl, false);
        if (i < p->n && key_cmp(p->a[i]->data, p->a[i]->klen, o->k, o->kl) == 0)
            part_remove(p, i, i + 1);
    } else { /* [from, to); RocksDB also treats from >= to as empty */
        const uint8_t *to = o->k + o->kl;
        if (key_cmp(o->k, o->kl, to, o->vl) >= 0) return;
        size_t lo = lower_bound(p->a, p->n, o->k, o->kl, false);
        size_t hi = lower_bound(p->a, p->n, to, o->vl, false);
        part_remove(p, lo, hi);
    }
}

#ifndef NDEBUG
static void mem_check(const mem *m)
{
    for (int c = 0; c < BT_CF_COUNT; c++) {
        const part *p = &m->cf[c];
        uint64_t bytes = 0;
        for (size_t i = 0; i < p->n; i++) {
            bytes += p->a[i]->klen + p->a[i]->vlen;
            if (i)
                assert(key_cmp(p->a[i - 1]->data, p->a[i - 1]->klen, p->a[i]->data,
                               p->a[i]->klen) < 0); /* M1 */
        }
        assert(bytes == p->bytes); /* M2 */
    }
}
#else
#define mem_check(m) ((void)0)
#endif

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */
/* ------------------------------------------------------------------------ */

static int m_get(bt_kv *kv, int cf, const void *key, size_t klen, bt_buf *out, char *msg,
                 size_t msgcap)
{
    mem *m = (mem *)kv;
    if (!cf_ok(cf)) {
        bt_msgf(msg, msgcap, "mem get: bad partition %d", cf);
        return BT_EINVAL;
    }
    int rc = BT_ENOTFOUND;
    pthread_mutex_lock(&m->mu);
    part *p = &m->cf[cf];
    size_t i = lower_bound(p->a, p->n, key, klen, false);
    if (i < p->n && key_cmp(p->a[i]->data, p->a[i]->klen, key, klen) == 0) {
        rc = bt_buf_append(out, p->a[i]->data + p->a[i]->klen, p->a[i]->vlen);
        if (rc) bt_msgf(msg, msgcap, "mem get: out of memory");
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */
/* ------------------------------------------------------------------------ */

static bt_kv_batch *m_batch_new(bt_kv *kv) { return bt_calloc(1, sizeof(bt_kv_batch)); }

static void batch_add(bt_kv_batch *b, int type, int cf, const void *k, size_t kl, const void *v,
                      size_t vl)
{
    assert(cf_ok(cf));
    if (b->err) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        op *na = bt_realloc(b->ops, cap * sizeof *na);
        if (!na) goto nomem;
        b->ops = na;
        b->cap = cap;
    }
    if (kl > SIZE_MAX - vl) goto nomem;
    uint8_t *buf = bt_malloc(kl + vl);
    if (!buf) goto nomem;
    if (kl) memcpy(buf, k, kl);
    if (vl) memcpy(buf + kl, v, vl);
    b->ops[b->n++] = (op){type, cf, buf, kl, vl};
    b->bytes += kl + vl;
    return;
nomem:
    b->err = BT_ENOMEM; /* reported by write(); the batch is then unusable */
}

static void m_batch_put(bt_kv_batch *b, int cf, const void *k, size_t kl, const void *v, size_t vl)
{
    batch_add(b, OP_PUT, cf, k, kl, v, vl);
}

static void m_batch_del(bt_kv_batch *b, int cf, const void *k, size_t kl)
{
    batch_add(b, OP_DEL, cf, k, kl, NULL, 0);
}

static void m_batch_del_range(bt_kv_batch *b, int cf, const void *from, size_t fl, const void *to,
                              size_t tl)
{
    batch_add(b, OP_DEL_RANGE, cf, from, fl, to, tl);
}

static size_t m_batch_count(const bt_kv_batch *b) { return b->n; }
static size_t m_batch_bytes(const bt_kv_batch *b) { return b->bytes; }

static void m_batch_clear(bt_kv_batch *b)
{
    for (size_t i = 0; i < b->n; i++) bt_mem_free(b->ops[i].k);
    b->n = 0;
    b->bytes = 0;
    b->err = 0;
}

static void m_batch_free(bt_kv_batch *b)
{
    if (!b) return;
    m_batch_clear(b);
    bt_mem_free(b->ops);
    bt_mem_free(b);
}

/* ------------------------------------------------------------------------ */
/* Writes and durability                                                     */
/* ------------------------------------------------------------------------ */

/* Called with the lock held by every durability call. */
static int injected_failure(mem *m, const char *what, char *msg, size_t msgcap)
{
    if (!m->failing && m->fail_countdown > 0 && --m->fail_countdown == 0) m->failing = true;
    if (!m->failing) return 0;
    bt_msgf(msg, msgcap, "mem %s: injected I/O error", what);
    return BT_EIO;
}

static int m_write(bt_kv *kv, bt_kv_batch *b, int flags, char *msg, size_t msgcap)
{
    mem *m = (mem *)kv;
    part next[BT_CF_COUNT];
    bool touched[BT_CF_COUNT] = {false};
    int rc = 0;
    memset(next, 0, sizeof next);
    if (b->err) {
        bt_msgf(msg, msgcap, "mem write: batch incomplete (out of memory while building it)");
        return b->err;
    }
    pthread_mutex_lock(&m->mu);
    rc = injected_failure(m, "write", msg, msgcap);
    for (size_t i = 0; i < b->n && !rc; i++) {
        const op *o = &b->ops[i];
        if (!touched[o->cf]) {
            rc = part_clone(&next[o->cf], &m->cf[o->cf]);
            if (rc) break;
            touched[o->cf] = true;
        }
        if (o->type == OP_PUT)
            rc = part_put(&next[o->cf], o);
        else
            part_apply_del(&next[o->cf], o);
    }
    if (rc == BT_ENOMEM) bt_msgf(msg, msgcap, "mem write: out of memory");
    for (int c = 0; c < BT_CF_COUNT; c++) {
        if (!touched[c]) continue;
        if (rc) {
            part_release(&next[c]); /* the store is untouched */
        } else {
            part_release(&m->cf[c]);
            m->cf[c] = next[c];
        }
    }
    mem_check(m);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int m_sync_wal(bt_kv *kv, char *msg, size_t msgcap)
{
    mem *m = (mem *)kv;
    pthread_mutex_lock(&m->mu);
    int rc = injected_failure(m, "sync_wal", msg, msgcap);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int m_flush(bt_kv *kv, char *msg, size_t msgcap)
{
    mem *m = (mem *)kv;
    pthread_mutex_lock(&m->mu);
    int rc = injected_failure(m, "flush", msg, msgcap);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int m_compact(bt_kv *kv, int cf, char *msg, size_t msgcap)
{
    if (cf_ok(cf)) return 0;
    bt_msgf(msg, msgcap, "mem compact: bad partition %d", cf);
    return BT_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Iterators                                                                 */
/* ------------------------------------------------------------------------ */

static bt_kv_iter *m_iter_new(bt_kv *kv, int cf)
{
    mem *m = (mem *)kv;
    if (!cf_ok(cf)) return NULL;
    bt_kv_iter *it = bt_calloc(1, sizeof *it);
    if (!it) return NULL;
    part snap;
    pthread_mutex_lock(&m->mu);
    int rc = part_clone(&snap, &m->cf[cf]);
    pthread_mutex_unlock(&m->mu);
    if (rc) {
        bt_mem_free(it);
        return NULL;
    }
    it->a = snap.a;
    it->n = snap.n;
    it->pos = snap.n; /* not positioned, like a fresh RocksDB iterator */
    return it;
}

static void m_iter_seek(bt_kv_iter *it, const void *key, size_t klen)
{
    it->pos = lower_bound(it->a, it->n, key, klen, false);
}

static void m_iter_seek_last(bt_kv_iter *it) { it->pos = it->n ? it->n - 1 : it->n; }

static void m_iter_seek_for_prev(bt_kv_iter *it, const void *key, size_t klen)
{
    size_t i = lower_bound(it->a, it->n, key, klen, true); /* first > key */
    it->pos = i ? i - 1 : it->n;
}

static bool m_iter_valid(bt_kv_iter *it) { return it->pos < it->n; }

static void m_iter_next(bt_kv_iter *it)
{
    if (it->pos < it->n) it->pos++;
}

static void m_iter_prev(bt_kv_iter *it)
{
    if (it->pos < it->n) it->pos = it->pos ? it->pos - 1 : it->n;
}

static const uint8_t *m_iter_key(bt_kv_iter *it, size_t *len)
{
    if (it->pos >= it->n) {
        *len = 0;
        return NULL;
    }
    *len = it->a[it->pos]->klen;
    return it->a[it->pos]->data;
}

static const uint8_t *m_iter_value(bt_kv_iter *it, size_t *len)
{
    if (it->pos >= it->n) {
        *len = 0;
        return NULL;
    }
    *len = it->a[it->pos]->vlen;
    return it->a[it->pos]->data + it->a[it->pos]->klen;
}

static int m_iter_status(bt_kv_iter *it, char *msg, size_t msgcap) { return 0; }

static void m_iter_free(bt_kv_iter *it)
{
    if (!it) return;
    for (size_t i = 0; i < it->n; i++) item_unref(it->a[i]);
    bt_mem_free(it->a);
    bt_mem_free(it);
}

/* ------------------------------------------------------------------------ */
/* Sizes, checkpoint, close, open                                            */
/* ------------------------------------------------------------------------ */

static uint64_t m_cf_bytes(bt_kv *kv, int cf)
{
    mem *m = (mem *)kv;
    if (!cf_ok(cf)) return 0;
    pthread_mutex_lock(&m->mu);
    uint64_t n = m->cf[cf].bytes;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static int m_checkpoint(bt_kv *kv, const char *dir, char *msg, size_t msgcap)
{
    bt_msgf(msg, msgcap, "mem checkpoint: not supported by the memory store");
    return BT_ENOTSUP;
}

static int m_backup(bt_kv *kv, const char *dir, uint32_t *out_id, char *msg, size_t msgcap)
{
    (void)kv;
    (void)dir;
    (void)out_id;
    bt_msgf(msg, msgcap, "mem backup: not supported by the memory store");
    return BT_ENOTSUP;
}

/* Values are kept as they are: stored bytes are the raw bytes. */
static void m_cf_raw_bytes(bt_kv *kv, int cf, uint64_t *out_raw, uint64_t *out_stored)
{
    *out_raw = *out_stored = m_cf_bytes(kv, cf);
}

static void m_close(bt_kv *kv)
{
    mem *m = (mem *)kv;
    if (!m) return;
    for (int c = 0; c < BT_CF_COUNT; c++) part_release(&m->cf[c]);
    pthread_mutex_destroy(&m->mu);
    bt_mem_free(m);
}

/* Bulk loads: a batch in disguise (same atomicity; ordering is checked). */
struct bt_kv_bulk {
    bt_kv_batch *b;
    int cf;
    uint8_t last[64];
    size_t lastlen;
    bool any;
    int err;
};

static bt_kv_bulk *m_bulk_new(bt_kv *kv, int cf, char *msg, size_t msgcap)
{
    bt_kv_bulk *u = bt_calloc(1, sizeof *u);
    if (u) u->b = m_batch_new(kv);
    if (!u || !u->b) {
        bt_mem_free(u);
        bt_msgf(msg, msgcap, "mem bulk: out of memory");
        return NULL;
    }
    u->cf = cf;
    return u;
}

static int m_bulk_put(bt_kv_bulk *u, const void *k, size_t kl, const void *v, size_t vl)
{
    if (u->err) return u->err;
    size_t n = kl < u->lastlen ? kl : u->lastlen;
    int c = n ? memcmp(k, u->last, n) : 0;
    if (u->any && (c < 0 || (c == 0 && kl <= u->lastlen))) return u->err = BT_EINVAL;
    u->any = true;
    u->lastlen = kl < sizeof u->last ? kl : sizeof u->last;
    memcpy(u->last, k, u->lastlen);
    m_batch_put(u->b, u->cf, k, kl, v, vl);
    return 0;
}

static void m_bulk_abort(bt_kv_bulk *u)
{
    if (!u) return;
    m_batch_free(u->b);
    bt_mem_free(u);
}

static int m_bulk_ingest(bt_kv *kv, bt_kv_bulk *u, char *msg, size_t msgcap)
{
    int rc = u->err;
    if (rc) bt_msgf(msg, msgcap, "mem bulk: keys not in increasing order");
    else rc = m_write(kv, u->b, BT_KV_SYNC, msg, msgcap);
    m_bulk_abort(u);
    return rc;
}

static const bt_kv_vtbl mem_vtbl = {
    .get = m_get,
    .batch_new = m_batch_new,
    .batch_put = m_batch_put,
    .batch_del = m_batch_del,
    .batch_del_range = m_batch_del_range,
    .batch_count = m_batch_count,
    .batch_bytes = m_batch_bytes,
    .batch_clear = m_batch_clear,
    .batch_free = m_batch_free,
    .write = m_write,
    .sync_wal = m_sync_wal,
    .flush = m_flush,
    .compact = m_compact,
    .iter_new = m_iter_new,
    .iter_seek = m_iter_seek,
    .iter_seek_last = m_iter_seek_last,
    .iter_seek_for_prev = m_iter_seek_for_prev,
    .iter_valid = m_iter_valid,
    .iter_next = m_iter_next,
    .iter_prev = m_iter_prev,
    .iter_key = m_iter_key,
    .iter_value = m_iter_value,
    .iter_status = m_iter_status,
    .iter_free = m_iter_free,
    .cf_bytes = m_cf_bytes,
    .checkpoint = m_checkpoint,
    .close = m_close,
    .backup = m_backup,
    .cf_raw_bytes = m_cf_raw_bytes,
    .bulk_new = m_bulk_new,
    .bulk_put = m_bulk_put,
    .bulk_ingest = m_bulk_ingest,
    .bulk_abort = m_bulk_abort,
};

int bt_kv_open_mem(bt_kv **out)
{
    *out = NULL;
    mem *m = bt_calloc(1, sizeof *m);
    if (!m) return BT_ENOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        bt_mem_free(m);
        return BT_ENOMEM;
    }
    m->base.v = &mem_vtbl;
    *out = &m->base;
    return 0;
}

void bt_kv_mem_fail_after(bt_kv *kv, long n)
{
    if (!kv || kv->v != &mem_vtbl) return; /* not a memory store: nothing to do */
    mem *m = (mem *)kv;
    pthread_mutex_lock(&m->mu);
    m->fail_countdown = n > 0 ? n : 0;
    m->failing = false;
    pthread_mutex_unlock(&m->mu);
}
