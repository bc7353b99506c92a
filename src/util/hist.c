#include "util/hist.h"

static unsigned bucket_of(uint64_t v)
{
    if (v < 8) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (msb - 3)) & 7u;
    unsigned b = (msb - 2) * 8u + sub;
    return b < BT_HIST_BUCKETS ? b : BT_HIST_BUCKETS - 1;
}

static uint64_t bucket_top(unsigned b)
{
    if (b < 8) return b;
    unsigned msb = b / 8 + 2, sub = b % 8;
    return ((uint64_t)(8 + sub + 1) << (msb - 3)) - 1;
}

void bt_hist_add(bt_hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
}

uint64_t bt_hist_quantile(const bt_hist *h, double q)
{
    if (!h->count) return 0;
    uint64_t want = (uint64_t)(q * (double)h->count);
    if (want >= h->count) want = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BT_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > want) return bucket_top(i);
    }
    return bucket_top(BT_HIST_BUCKETS - 1);
}

void bt_hist_add_atomic(bt_hist *h, uint64_t v)
{
    __atomic_fetch_add(&h->b[bucket_of(v)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

void bt_hist_snapshot(bt_hist *out, const bt_hist *h)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < BT_HIST_BUCKETS; i++) {
        out->b[i] = __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
        n += out->b[i];
    }
    out->count = n;
}
