/*
 * basis.c -- the byte encodings the Basis tracker builds on top of the tree:
 * the note key, the tracker and reserve values, and the SAvlTree register
 * value that carries a tree's digest on chain (R5 of the tracker and reserve
 * boxes).
 *
 * Sources: BetterMoneyLabs/basis-tracker (NoteKey::from_keys, the tracker box
 * updater, contract/basis.es) and sigma-rust's AvlTreeData serializer; see
 * shared/spec/upstream.md 1.4-1.5 and avl_format.md 12.  If you change a
 * layout here, also change docs/FORMAT.md, tests/unit/test_basis.c and the
 * seeds in fuzz/corpus/fuzz_avl_register/.
 *
 * Note key (32 bytes; the key of both trees)
 *
 *   offset  size  field
 *   ------  ----  ------------------------------------------------------
 *        0    32  Blake2b-256(issuer_pubkey(33) || recipient_pubkey(33))
 *
 *   Both public keys are compressed secp256k1 points: first byte 0x02 or
 *   0x03.  The order matters (issuer first), as in the contract's
 *   blake2b256(ownerKey.getEncoded ++ receiver.getEncoded).
 *
 * Tracker value (8 bytes)
 *
 *   offset  size  field
 *   ------  ----  ------------------------------------------------------
 *        0     8  total debt (cumulative amount collected), u64 big-endian
 *
 * Reserve value (16 bytes)
 *
 *   offset  size  field
 *   ------  ----  ------------------------------------------------------
 *        0     8  timestamp (ms), u64 big-endian
 *        8     8  cumulative amount redeemed, u64 big-endian
 *
 * SAvlTree register value (37..46 bytes)
 *
 *   offset  size  field
 *   ------  ----  ------------------------------------------------------
 *        0     1  type code 0x64 (SAvlTree)
 *        1    33  digest: root label(32) || tree height(1)
 *       34     1  flags: 0x01 insert, 0x02 update, 0x04 remove allowed;
 *                 higher bits must be zero
 *       35   1-5  VLQ(key_len), u32
 *        n     1  value length option tag: 0x00 = None (variable length),
 *                 0x01 = Some
 *      n+1   1-5  VLQ(value_len), u32 -- present only when the tag is 0x01
 *
 *   VLQ: unsigned, 7 bits per byte, least significant group first; the high
 *   bit of a byte says another byte follows (sigma-rust's put_u32).  A u32
 *   needs at most 5 bytes.  Example: the empty Basis tracker tree is
 *   64 4ec61f...e16090 00 03 20 00.
 *
 * Decoding is strict so that decode(encode(x)) == x and encode(decode(b)) ==
 * b for every accepted b (the fuzz target checks the second identity).  It
 * therefore rejects, besides truncation and trailing bytes, VLQ encodings
 * that are not the shortest one (a last byte 0x00 after a continuation
 * byte): sigma-rust would accept them, but they would not re-encode to the
 * same bytes and no honest writer produces them.
 */
#include "basistrees.h"
#include "codec/endian.h"

#include <sodium.h>
#include <string.h>

#define AVL_TREE_TYPE_CODE 0x64
#define AVL_FLAGS_MASK (BT_AVL_INSERT_ALLOWED | BT_AVL_UPDATE_ALLOWED | BT_AVL_REMOVE_ALLOWED)
#define VLQ_U32_MAX_BYTES 5

/* ------------------------------------------------------------------------ */
/* Note key and tree values                                                  */
/* ------------------------------------------------------------------------ */

static int is_compressed_pubkey(const uint8_t *pk)
{
    return pk[0] == 0x02 || pk[0] == 0x03;
}

BT_API int bt_basis_note_key(uint8_t out[BT_NOTE_KEY_LEN], const uint8_t issuer[BT_PUBKEY_LEN],
                             const uint8_t recipient[BT_PUBKEY_LEN])
{
    uint8_t msg[2 * BT_PUBKEY_LEN];

    if (!out || !issuer || !recipient) return BT_EINVAL;
    if (!is_compressed_pubkey(issuer) || !is_compressed_pubkey(recipient)) return BT_EINVAL;
    /* Copy first: out may alias one of the keys. */
    memcpy(msg, issuer, BT_PUBKEY_LEN);
    memcpy(msg + BT_PUBKEY_LEN, recipient, BT_PUBKEY_LEN);
    /* Cannot fail for a 32-byte output without a key; checked anyway. */
    if (crypto_generichash(out, BT_NOTE_KEY_LEN, msg, sizeof msg, NULL, 0) != 0) return BT_EINVAL;
    return 0;
}

BT_API void bt_basis_tracker_value(uint8_t out[BT_TRACKER_VALUE_LEN], uint64_t total_debt)
{
    bt_store_u64be(out, total_debt);
}

BT_API int bt_basis_tracker_value_decode(uint64_t *out_total_debt, const uint8_t *value,
                                         size_t len)
{
    if (!out_total_debt || !value || len != BT_TRACKER_VALUE_LEN) return BT_EINVAL;
    *out_total_debt = bt_load_u64be(value);
    return 0;
}

BT_API void bt_basis_reserve_value(uint8_t out[BT_RESERVE_VALUE_LEN], uint64_t timestamp,
                                   uint64_t redeemed)
{
    bt_store_u64be(out, timestamp);
    bt_store_u64be(out + 8, redeemed);
}

BT_API int bt_basis_reserve_value_decode(uint64_t *out_timestamp, uint64_t *out_redeemed,
                                         const uint8_t *value, size_t len)
{
    if (!out_timestamp || !out_redeemed || !value || len != BT_RESERVE_VALUE_LEN)
        return BT_EINVAL;
    *out_timestamp = bt_load_u64be(value);
    *out_redeemed = bt_load_u64be(value + 8);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* VLQ (u32)                                                                 */
/* ------------------------------------------------------------------------ */

/* Number of bytes VLQ(v) takes: 1..5. */
static size_t vlq_u32_size(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes VLQ(v) at out (room for vlq_u32_size(v) bytes); returns its size. */
static size_t vlq_u32_put(uint8_t *out, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(0x80 | (v & 0x7F));
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/* Reads one VLQ u32 from in[*pos..len).  Advances *pos past it.  Returns 0,
 * or BT_ECORRUPT if the input ends inside it, it has more than 5 bytes, its
 * value exceeds UINT32_MAX, or it is not the shortest encoding. */
static int vlq_u32_get(uint32_t *out, const uint8_t *in, size_t len, size_t *pos)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < VLQ_U32_MAX_BYTES; i++) {
        if (*pos >= len) return BT_ECORRUPT; /* truncated */
        uint8_t b = in[(*pos)++];
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0) return BT_ECORRUPT; /* non-shortest form */
            if (v > UINT32_MAX) return BT_ECORRUPT;
            *out = (uint32_t)v;
            return 0;
        }
    }
    return BT_ECORRUPT; /* a sixth byte would follow */
}

/* ------------------------------------------------------------------------ */
/* SAvlTree register                                                         */
/* ------------------------------------------------------------------------ */

BT_API int bt_avl_register_encode(uint8_t *out, size_t cap, size_t *out_len,
                                  const bt_avl_register *reg)
{
    size_t need, n;

    if (out_len) *out_len = 0;
    if (!out_len || !reg || (!out && cap)) return BT_EINVAL;
    if (reg->flags & ~AVL_FLAGS_MASK) return BT_EINVAL;

    need = 1 + BT_DIGEST_LEN + 1 + vlq_u32_size(reg->key_len) + 1;
    if (reg->has_value_len) need += vlq_u32_size(reg->value_len);
    if (need > cap) {
        *out_len = need; /* lets a caller size its buffer */
        return BT_ELIMIT;
    }

    n = 0;
    out[n++] = AVL_TREE_TYPE_CODE;
    memcpy(out + n, reg->digest, BT_DIGEST_LEN);
    n += BT_DIGEST_LEN;
    out[n++] = reg->flags;
    n += vlq_u32_put(out + n, reg->key_len);
    if (reg->has_value_len) {
        out[n++] = 0x01;
        n += vlq_u32_put(out + n, reg->value_len);
    } else {
        out[n++] = 0x00;
    }
    *out_len = n;
    return 0;
}

BT_API int bt_avl_register_decode(bt_avl_register *out, const uint8_t *in, size_t len)
{
    bt_avl_register reg;
    size_t pos = 0;
    int rc;

    if (!out || (!in && len)) return BT_EINVAL;
    memset(out, 0, sizeof *out);
    memset(&reg, 0, sizeof reg);

    /* Fixed part: type code, digest, flags. */
    if (len < 1 + BT_DIGEST_LEN + 1) return BT_ECORRUPT;
    if (in[pos++] != AVL_TREE_TYPE_CODE) return BT_ECORRUPT;
    memcpy(reg.digest, in + pos, BT_DIGEST_LEN);
    pos += BT_DIGEST_LEN;
    reg.flags = in[pos++];
    if (reg.flags & ~AVL_FLAGS_MASK) return BT_ECORRUPT;

    rc = vlq_u32_get(&reg.key_len, in, len, &pos);
    if (rc) return rc;

    if (pos >= len) return BT_ECORRUPT;
    switch (in[pos++]) {
    case 0x00:
        break;
    case 0x01:
        reg.has_value_len = 1;
        rc = vlq_u32_get(&reg.value_len, in, len, &pos);
        if (rc) return rc;
        break;
    default:
        return BT_ECORRUPT;
    }

    if (pos != len) return BT_ECORRUPT; /* trailing bytes */
    *out = reg;
    return 0;
}
