/*
 * alloc.h -- the one allocation hook of the library.
 *
 * Every allocation goes through bt_malloc/bt_realloc/bt_mem_free so that
 * out-of-memory paths can be tested: bt_alloc_fail_after(n) makes the n-th
 * following allocation (and every later one until reset) fail.
 */
#ifndef BT_UTIL_ALLOC_H
#define BT_UTIL_ALLOC_H
#include <stddef.h>

void *bt_malloc(size_t n);
void *bt_calloc(size_t count, size_t size);
void *bt_realloc(void *p, size_t n);
void bt_mem_free(void *p);

/* Hands whole free pages of the C heap back to the kernel (glibc's
 * malloc_trim; nothing elsewhere).  Called after the node cache is emptied:
 * without it glibc kept ~340 MiB of freed node memory at 2M notes. */
void bt_mem_release(void);

/* Test hook: fail the n-th allocation from now on (1 = the next one) and all
 * that follow; n = 0 disables failure injection.  Not thread-safe: use only
 * in single-threaded tests. */
void bt_alloc_fail_after(long n);
/* Number of allocations refused so far by the hook. */
long bt_alloc_failures(void);
#endif
