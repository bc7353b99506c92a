/*
 * endian.h -- explicit big-endian load/store helpers.
 *
 * Every multi-byte integer in our formats and in Ergo's (proof value lengths,
 * Basis tree values) is big-endian.  These helpers assemble and split the
 * integer byte by byte, so they do not depend on the host's byte order or on
 * the pointer's alignment, and compilers turn them into a single bswap+mov.
 * They never fail: the caller guarantees that 4 or 8 bytes are addressable.
 */
#ifndef BT_CODEC_ENDIAN_H
#define BT_CODEC_ENDIAN_H

#include <stdint.h>

static inline uint32_t bt_load_u32be(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

static inline void bt_store_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint64_t bt_load_u64be(const uint8_t *p)
{
    return ((uint64_t)bt_load_u32be(p) << 32) | (uint64_t)bt_load_u32be(p + 4);
}

static inline void bt_store_u64be(uint8_t *p, uint64_t v)
{
    bt_store_u32be(p, (uint32_t)(v >> 32));
    bt_store_u32be(p + 4, (uint32_t)v);
}

#endif /* BT_CODEC_ENDIAN_H */
