/*
 * fuzz_avl_register.c -- the SAvlTree register codec and the Basis value
 * decoders on arbitrary bytes.
 *
 * Properties checked (a violation calls abort(), which libFuzzer and the
 * replay driver both report):
 *   1. No decoder reads outside the input (ASan) or hits UB (UBSan).
 *   2. Every register the decoder accepts re-encodes to exactly the input
 *      bytes, the encoder's length fits BT_AVL_REGISTER_MAX, and a buffer
 *      one byte short is refused with BT_ELIMIT.
 *   3. Decode errors are only BT_ECORRUPT.
 *   4. The tracker/reserve decoders accept exactly their fixed lengths, and
 *      what they accept re-encodes to the input.
 *
 * Seeds: fuzz/corpus/fuzz_avl_register/ (replayed as the test
 * fuzz-replay/fuzz_avl_register).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basistrees.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_register(const uint8_t *data, size_t size)
{
    bt_avl_register reg, back;
    uint8_t enc[BT_AVL_REGISTER_MAX];
    size_t len = 0;

    int rc = bt_avl_register_decode(&reg, data, size);
    if (rc != 0) {
        if (rc != BT_ECORRUPT) abort();
        return;
    }
    if (size > BT_AVL_REGISTER_MAX) abort();
    if (reg.flags & ~0x07u) abort();
    if (reg.has_value_len != 0 && reg.has_value_len != 1) abort();

    if (bt_avl_register_encode(enc, sizeof enc, &len, &reg) != 0) abort();
    if (len != size || memcmp(enc, data, size) != 0) abort();

    if (bt_avl_register_encode(enc, size - 1, &len, &reg) != BT_ELIMIT) abort();

    if (bt_avl_register_decode(&back, enc, size) != 0) abort();
    if (memcmp(back.digest, reg.digest, BT_DIGEST_LEN) != 0 || back.flags != reg.flags ||
        back.key_len != reg.key_len || back.has_value_len != reg.has_value_len ||
        back.value_len != reg.value_len)
        abort();
}

static void check_values(const uint8_t *data, size_t size)
{
    uint64_t debt, ts, redeemed;
    uint8_t enc[BT_RESERVE_VALUE_LEN];

    int rc = bt_basis_tracker_value_decode(&debt, data, size);
    if (size == BT_TRACKER_VALUE_LEN) {
        if (rc != 0) abort();
        bt_basis_tracker_value(enc, debt);
        if (memcmp(enc, data, BT_TRACKER_VALUE_LEN) != 0) abort();
    } else if (rc != BT_EINVAL) {
        abort();
    }

    rc = bt_basis_reserve_value_decode(&ts, &redeemed, data, size);
    if (size == BT_RESERVE_VALUE_LEN) {
        if (rc != 0) abort();
        bt_basis_reserve_value(enc, ts, redeemed);
        if (memcmp(enc, data, BT_RESERVE_VALUE_LEN) != 0) abort();
    } else if (rc != BT_EINVAL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer may pass NULL for an empty input; the decoders accept NULL
     * only with length 0, which is what we have then. */
    check_register(data, size);
    if (data) check_values(data, size);
    return 0;
}
