#include "util/ptrset.h"
#include "util/alloc.h"
#include "basistrees.h"
#include <assert.h>
#include <string.h>

static size_t slot_of(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 29;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static void insert_raw(const void **slots, size_t cap, const void *p)
{
    size_t i = slot_of(p, cap);
    while (slots[i]) i = (i + 1) & (cap - 1);
    slots[i] = p;
}

int bt_ptrset_reserve(bt_ptrset *s, size_t extra)
{
    if (extra > SIZE_MAX / 4 - s->count) return BT_ENOMEM;
    size_t need = (s->count + extra) * 2 + 1;
    if (need <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need) cap *= 2;
    const void **slots = bt_calloc(cap, sizeof *slots);
    if (!slots) return BT_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i]) insert_raw(slots, cap, s->slots[i]);
    bt_mem_free((void *)s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int bt_ptrset_add(bt_ptrset *s, const void *p)
{
    assert(p && s->cap && (s->count + 1) * 2 <= s->cap);
    size_t i = slot_of(p, s->cap);
    while (s->slots[i]) {
        if (s->slots[i] == p) return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = p;
    s->count++;
    return 1;
}

int bt_ptrset_has(const bt_ptrset *s, const void *p)
{
    if (!s->cap) return 0;
    size_t i = slot_of(p, s->cap);
    while (s->slots[i]) {
        if (s->slots[i] == p) return 1;
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

void bt_ptrset_clear(bt_ptrset *s)
{
    /* A set that grew for a big batch and now holds little would make every
     * clear cost its whole capacity: give the memory back instead. */
    if (s->cap > 4096 && s->count * 16 < s->cap) {
        bt_ptrset_free(s);
        return;
    }
    if (s->count) memset((void *)s->slots, 0, s->cap * sizeof *s->slots);
    s->count = 0;
}

void bt_ptrset_free(bt_ptrset *s)
{
    bt_mem_free((void *)s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}
