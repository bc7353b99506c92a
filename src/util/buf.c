#include "util/buf.h"
#include "util/alloc.h"
#include "basistrees.h"

int bt_buf_reserve(bt_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return BT_ENOMEM;
    size_t want = b->len + extra, cap = b->cap ? b->cap : 64;
    while (cap < want) cap *= 2;
    uint8_t *p = bt_realloc(b->data, cap);
    if (!p) return BT_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int bt_buf_append(bt_buf *b, const void *p, size_t n)
{
    if (n == 0) return 0;
    int rc = bt_buf_reserve(b, n);
    if (rc) return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void bt_buf_free(bt_buf *b)
{
    bt_mem_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint8_t *bt_buf_take(bt_buf *b, size_t *out_len)
{
    uint8_t *p = b->data;
    *out_len = b->len;
    if (!p) p = bt_malloc(1); /* a valid pointer even for an empty result */
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
