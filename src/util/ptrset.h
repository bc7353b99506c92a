/*
 * ptrset.h -- a set of pointers (open addressing, linear probing).
 *
 * Invariants: cap is 0 or a power of two; count < cap / 2 after every
 * successful insert; the empty slot is NULL (NULL is never a member).
 * bt_ptrset_reserve() makes room in advance so that the next `extra`
 * inserts cannot fail -- the tree code reserves before each operation and
 * never allocates while it is half-way through changing a tree.
 */
#ifndef BT_UTIL_PTRSET_H
#define BT_UTIL_PTRSET_H
#include <stddef.h>
#include <stdint.h>

typedef struct bt_ptrset {
    const void **slots;
    size_t cap;
    size_t count;
} bt_ptrset;

#define BT_PTRSET_INIT {NULL, 0, 0}

int bt_ptrset_reserve(bt_ptrset *s, size_t extra); /* 0 or BT_ENOMEM */
/* Adds p; returns 1 if added, 0 if already present.  Capacity must have been
 * reserved. */
int bt_ptrset_add(bt_ptrset *s, const void *p);
int bt_ptrset_has(const bt_ptrset *s, const void *p);
void bt_ptrset_clear(bt_ptrset *s); /* keeps the memory */
void bt_ptrset_free(bt_ptrset *s);
#endif
