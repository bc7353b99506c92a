/*
 * hist.h -- a latency histogram with log-linear buckets (8 per power of
 * two, so quantiles are within ~12%).  Fixed size, no allocation; callers
 * serialise access.
 */
#ifndef BT_UTIL_HIST_H
#define BT_UTIL_HIST_H
#include <stdint.h>

#define BT_HIST_BUCKETS (64 * 8)

typedef struct bt_hist {
    uint64_t count;
    uint64_t b[BT_HIST_BUCKETS];
} bt_hist;

void bt_hist_add(bt_hist *h, uint64_t v);
/* The same, safe from several threads at once (relaxed atomic increments;
 * read it with bt_hist_snapshot). */
void bt_hist_add_atomic(bt_hist *h, uint64_t v);
/* A consistent-enough copy of a histogram updated with bt_hist_add_atomic:
 * count is recomputed from the buckets. */
void bt_hist_snapshot(bt_hist *out, const bt_hist *h);
/* The value below which a fraction q (0..1) of samples fall (bucket upper
 * bound); 0 if empty. */
uint64_t bt_hist_quantile(const bt_hist *h, double q);
#endif
