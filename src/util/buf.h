/*
 * buf.h -- a growable byte buffer.  Invariant: len <= cap; data is NULL only
 * when cap == 0.  Growth doubles, so appends are amortised O(1).
 */
#ifndef BT_UTIL_BUF_H
#define BT_UTIL_BUF_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct bt_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} bt_buf;

#define BT_BUF_INIT {NULL, 0, 0}

/* Makes room for at least extra more bytes.  Returns 0 or BT_ENOMEM. */
int bt_buf_reserve(bt_buf *b, size_t extra);
int bt_buf_append(bt_buf *b, const void *p, size_t n);
void bt_buf_free(bt_buf *b);
/* Hands the bytes to the caller (who frees them with bt_mem_free) and resets b. */
uint8_t *bt_buf_take(bt_buf *b, size_t *out_len);

static inline int bt_buf_put(bt_buf *b, uint8_t c)
{
    if (b->len == b->cap) {
        int rc = bt_buf_reserve(b, 1);
        if (rc) return rc;
    }
    b->data[b->len++] = c;
    return 0;
}
#endif
