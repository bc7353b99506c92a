#include "util/alloc.h"
#include <stdlib.h> /* first: it defines __GLIBC__ */
#ifdef __GLIBC__
#include <malloc.h>
#endif

static long fail_countdown; /* 0 = off; otherwise allocations left + 1 */
static long failures;

static int should_fail(void)
{
    if (fail_countdown == 0) return 0;
    if (fail_countdown == 1) { failures++; return 1; }
    fail_countdown--;
    return 0;
}

void *bt_malloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *bt_calloc(size_t count, size_t size)
{
    if (should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *bt_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void bt_mem_free(void *p) { free(p); }

void bt_mem_release(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void bt_alloc_fail_after(long n) { fail_countdown = n > 0 ? n : 0; failures = 0; }
long bt_alloc_failures(void) { return failures; }
