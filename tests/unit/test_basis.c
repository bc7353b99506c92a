/*
 * test_basis.c -- the Basis encodings: note key, tracker/reserve values and
 * the SAvlTree register (src/codec/basis.c).
 *
 * Known answers come from shared/vectors/basis_upstream.jsonl (quoted here
 * with the line's "kind"/"description"); test_register_vectors_file also
 * walks that file and round-trips every register it contains.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basistrees.h"
#include "testutil.h"

#define EMPTY_DIGEST_HEX "4ec61f485b98eb87153f7c57db4f5ecd75556fddbc403b41acf8441fde8e160900"
#define EMPTY_TRACKER_REGISTER_HEX "64" EMPTY_DIGEST_HEX "032000"

/* ---- helpers ------------------------------------------------------------ */

/* Decodes a hex literal of a known length into buf; fails the test otherwise. */
static void unhex_into(uint8_t *buf, size_t want, const char *hex)
{
    size_t n = 0;
    uint8_t *b = tu_unhex(hex, &n);
    assert_non_null(b);
    assert_int_equal(n, want);
    memcpy(buf, b, n);
    free(b);
}

static void assert_bytes_hex(const uint8_t *buf, size_t len, const char *want_hex)
{
    char *got = tu_hex(buf, len);
    assert_non_null(got);
    assert_string_equal(got, want_hex);
    free(got);
}

static void assert_reg_equal(const bt_avl_register *a, const bt_avl_register *b)
{
    assert_memory_equal(a->digest, b->digest, BT_DIGEST_LEN);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->key_len, b->key_len);
    assert_int_equal(a->has_value_len, b->has_value_len);
    if (a->has_value_len) assert_int_equal(a->value_len, b->value_len);
}

/* Decodes hex, checks success, re-encodes and checks the bytes are identical. */
static void roundtrip_hex(bt_avl_register *out, const char *hex)
{
    size_t n = 0, enc_len = 0;
    uint8_t enc[BT_AVL_REGISTER_MAX];
    uint8_t *b = tu_unhex(hex, &n);
    assert_non_null(b);
    assert_int_equal(bt_avl_register_decode(out, b, n), 0);
    assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &enc_len, out), 0);
    assert_int_equal(enc_len, n);
    assert_memory_equal(enc, b, n);
    free(b);
}

/* Returns 0 or the decode error for hex input. */
static int decode_hex(const char *hex)
{
    size_t n = 0;
    bt_avl_register reg;
    uint8_t *b = tu_unhex(hex, &n);
    assert_non_null(b);
    int rc = bt_avl_register_decode(&reg, b, n);
    free(b);
    return rc;
}

/* ---- note key ----------------------------------------------------------- */

/* basis_upstream.jsonl, kind "key_derivation". */
#define ISSUER_HEX "0377709166937fcdc08bf7e841b31684e2377f489914c97ef7148de14d9c6e1f83"
#define RECIPIENT_HEX "03af13e39dd0ccc7429f9dfa5a056b71a8f5160eaf179763a03e0b55d8feec2cea"
#define NOTE_KEY_HEX "6995ccf33c8a09705612e6ee3808bb4cedb48cb7b7c019ecdc68b74e7ed912a4"

static void test_note_key_vector(void **state)
{
    (void)state;
    uint8_t issuer[BT_PUBKEY_LEN], recipient[BT_PUBKEY_LEN], key[BT_NOTE_KEY_LEN];
    unhex_into(issuer, sizeof issuer, ISSUER_HEX);
    unhex_into(recipient, sizeof recipient, RECIPIENT_HEX);

    assert_int_equal(bt_basis_note_key(key, issuer, recipient), 0);
    assert_bytes_hex(key, sizeof key, NOTE_KEY_HEX);

    /* The order matters: swapping the parties gives another key. */
    assert_int_equal(bt_basis_note_key(key, recipient, issuer), 0);
    assert_bytes_hex(key, sizeof key,
                     "f9424fa398c8faf85558b3fb87a97b2986893795fed3c153bb25b34d226068ff");

    /* out may alias an input. */
    uint8_t alias[BT_PUBKEY_LEN];
    memcpy(alias, issuer, sizeof alias);
    assert_int_equal(bt_basis_note_key(alias, alias, recipient), 0);
    assert_bytes_hex(alias, BT_NOTE_KEY_LEN, NOTE_KEY_HEX);
}

static void test_note_key_bad_prefix(void **state)
{
    (void)state;
    static const uint8_t bad[] = {0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0x12, 0x82, 0xff};
    uint8_t issuer[BT_PUBKEY_LEN], recipient[BT_PUBKEY_LEN], key[BT_NOTE_KEY_LEN];
    uint8_t bad_key[BT_PUBKEY_LEN];
    unhex_into(issuer, sizeof issuer, ISSUER_HEX);
    unhex_into(recipient, sizeof recipient, RECIPIENT_HEX);

    for (size_t i = 0; i < sizeof bad; i++) {
        memcpy(bad_key, issuer, sizeof bad_key);
        bad_key[0] = bad[i];
        assert_int_equal(bt_basis_note_key(key, bad_key, recipient), BT_EINVAL);
        assert_int_equal(bt_basis_note_key(key, recipient, bad_key), BT_EINVAL);
    }
    /* Both compressed prefixes are accepted. */
    memcpy(bad_key, issuer, sizeof bad_key);
    bad_key[0] = 0x02;
    assert_int_equal(bt_basis_note_key(key, bad_key, recipient), 0);

    assert_int_equal(bt_basis_note_key(NULL, issuer, recipient), BT_EINVAL);
    assert_int_equal(bt_basis_note_key(key, NULL, recipient), BT_EINVAL);
    assert_int_equal(bt_basis_note_key(key, issuer, NULL), BT_EINVAL);
}

/* ---- tracker and reserve values ----------------------------------------- */

static void test_tracker_value(void **state)
{
    (void)state;
    /* basis_upstream.jsonl: tracker_lookup_proof value (50,000,000) and the
     * single-entry reference trees (0.3, 0.4 and 1 ERG). */
    static const struct {
        uint64_t debt;
        const char *hex;
    } kat[] = {
        {50000000u, "0000000002faf080"},
        {300000000u, "0000000011e1a300"},
        {400000000u, "0000000017d78400"},
        {1000000000u, "000000003b9aca00"},
        {0, "0000000000000000"},
        {UINT64_MAX, "ffffffffffffffff"},
        {0x0102030405060708ull, "0102030405060708"},
    };
    uint8_t v[BT_TRACKER_VALUE_LEN + 1];
    uint64_t debt;

    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        bt_basis_tracker_value(v, kat[i].debt);
        assert_bytes_hex(v, BT_TRACKER_VALUE_LEN, kat[i].hex);
        debt = 0xdeadbeef;
        assert_int_equal(bt_basis_tracker_value_decode(&debt, v, BT_TRACKER_VALUE_LEN), 0);
        assert_true(debt == kat[i].debt);
    }
    memset(v, 0, sizeof v);
    static const size_t bad_len[] = {0, 1, 7, 9, 16};
    for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++)
        assert_int_equal(bt_basis_tracker_value_decode(&debt, v, bad_len[i]), BT_EINVAL);
    assert_int_equal(bt_basis_tracker_value_decode(NULL, v, 8), BT_EINVAL);
    assert_int_equal(bt_basis_tracker_value_decode(&debt, NULL, 8), BT_EINVAL);
}

static void test_reserve_value(void **state)
{
    (void)state;
    /* basis_upstream.jsonl: "second test: new reserve R5 after 0.3 ERG
     * redemption" (ts 1783588179731) and placeholder AVL_R001, whose bytes
     * say timestamp 1739340677120 although its description says
     * 1743379200000 -- the bytes are what the reference tree hashed. */
    static const struct {
        uint64_t ts, redeemed;
        const char *hex;
    } kat[] = {
        {1783588179731ull, 300000000u, "0000019f4623cf130000000011e1a300"},
        {1739340677120ull, 25000000u, "00000194f8c8800000000000017d7840"},
        {0, 0, "00000000000000000000000000000000"},
        {UINT64_MAX, 1, "ffffffffffffffff0000000000000001"},
    };
    uint8_t v[BT_RESERVE_VALUE_LEN + 1];
    uint64_t ts, red;

    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        bt_basis_reserve_value(v, kat[i].ts, kat[i].redeemed);
        assert_bytes_hex(v, BT_RESERVE_VALUE_LEN, kat[i].hex);
        ts = red = 0xdeadbeef;
        assert_int_equal(bt_basis_reserve_value_decode(&ts, &red, v, BT_RESERVE_VALUE_LEN), 0);
        assert_true(ts == kat[i].ts);
        assert_true(red == kat[i].redeemed);
    }
    memset(v, 0, sizeof v);
    static const size_t bad_len[] = {0, 8, 15, 17};
    for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++)
        assert_int_equal(bt_basis_reserve_value_decode(&ts, &red, v, bad_len[i]), BT_EINVAL);
    assert_int_equal(bt_basis_reserve_value_decode(NULL, &red, v, 16), BT_EINVAL);
    assert_int_equal(bt_basis_reserve_value_decode(&ts, NULL, v, 16), BT_EINVAL);
    assert_int_equal(bt_basis_reserve_value_decode(&ts, &red, NULL, 16), BT_EINVAL);
}

/* ---- SAvlTree register: known answers ----------------------------------- */

static void test_register_empty_tracker(void **state)
{
    (void)state;
    bt_avl_register reg;
    uint8_t enc[BT_AVL_REGISTER_MAX];
    size_t len = 0;

    memset(&reg, 0, sizeof reg);
    unhex_into(reg.digest, BT_DIGEST_LEN, EMPTY_DIGEST_HEX);
    reg.flags = BT_AVL_INSERT_ALLOWED | BT_AVL_UPDATE_ALLOWED;
    reg.key_len = 32;
    reg.has_value_len = 0;
    assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &len, &reg), 0);
    assert_int_equal(len, 37);
    assert_bytes_hex(enc, len, EMPTY_TRACKER_REGISTER_HEX);

    bt_avl_register back;
    assert_int_equal(bt_avl_register_decode(&back, enc, len), 0);
    assert_reg_equal(&back, &reg);
}

/* Registers quoted in basis_upstream.jsonl, with their decoded fields. */
static const struct {
    const char *hex;
    const char *digest;
    uint8_t flags;
} upstream_regs[] = {
    /* reserve_insert_proof r5_register */
    {"642c1d1fb21a9df51972a5439ca7ce8d5601f99c871f15cbf2c4ff6ae53d57a96f01012000",
     "2c1d1fb21a9df51972a5439ca7ce8d5601f99c871f15cbf2c4ff6ae53d57a96f01", 1},
    /* first test: tracker R5 after 0.7 ERG note */
    {"64d5d44e152c7e42673dea178b918d9195c2ba689da94046384dc40c55a64c836a01012000",
     "d5d44e152c7e42673dea178b918d9195c2ba689da94046384dc40c55a64c836a01", 1},
    /* first test: new reserve R5 after 0.7 ERG redemption */
    {"641e7449a1967e7413e775aba413f24028c709fc7e15e8bd90bf34f24d6926ea9e01012000",
     "1e7449a1967e7413e775aba413f24028c709fc7e15e8bd90bf34f24d6926ea9e01", 1},
    /* second test: tracker R5 after 0.3 ERG note */
    {"648055c595de309006f31c4941908a066abab1dbbcc263ac0e5b498461386ad92d01012000",
     "8055c595de309006f31c4941908a066abab1dbbcc263ac0e5b498461386ad92d01", 1},
    /* second test: new reserve R5 after 0.3 ERG redemption */
    {"64e3caf2764ba4e91ba94876f34f65b4ad6ba58cff4be9b4f9b233e9bd9d4cb12301012000",
     "e3caf2764ba4e91ba94876f34f65b4ad6ba58cff4be9b4f9b233e9bd9d4cb12301", 1},
    /* third test: new reserve R5 after 0.2 ERG partial redemption */
    {"64c6db7c180c70664a4d71c8dd3c43ec47842e7d691d8e399753a793d32a4318b301012000",
     "c6db7c180c70664a4d71c8dd3c43ec47842e7d691d8e399753a793d32a4318b301", 1},
    /* second test: empty reserve tree R5 (insert-only) */
    {"64" EMPTY_DIGEST_HEX "012000", EMPTY_DIGEST_HEX, 1},
    /* placeholder_vector upstream_root_digest_hex / spec_note: all-zero digest */
    {"64000000000000000000000000000000000000000000000000000000000000000000012000",
     "000000000000000000000000000000000000000000000000000000000000000000", 1},
    /* the tracker updater's empty tree (flags 0x03), upstream.md 1.5 */
    {EMPTY_TRACKER_REGISTER_HEX, EMPTY_DIGEST_HEX, 3},
};

static void test_register_upstream(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof upstream_regs / sizeof upstream_regs[0]; i++) {
        bt_avl_register reg;
        roundtrip_hex(&reg, upstream_regs[i].hex);
        assert_bytes_hex(reg.digest, BT_DIGEST_LEN, upstream_regs[i].digest);
        assert_int_equal(reg.flags, upstream_regs[i].flags);
        assert_int_equal(reg.key_len, 32);
        assert_int_equal(reg.has_value_len, 0);
    }
}

/* Walks basis_upstream.jsonl and round-trips every register-valued field
 * ("register", "r5_register", "upstream_root_digest_hex").  A plain string
 * scan keeps this test free of a JSON dependency. */
static void test_register_vectors_file(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/basis_upstream.jsonl", tu_vectors_dir());
    FILE *f = fopen(path, "r");
    if (!f) {
        print_message("cannot open %s (set BT_VECTORS_DIR)\n", path);
        skip();
    }
    static const char *const fields[] = {"\"register\": \"", "\"r5_register\": \"",
                                         "\"upstream_root_digest_hex\": \""};
    char line[16384];
    unsigned found = 0;
    while (fgets(line, sizeof line, f)) {
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            for (char *p = strstr(line, fields[k]); p; p = strstr(p + 1, fields[k])) {
                char hex[2 * BT_AVL_REGISTER_MAX + 1];
                const char *s = p + strlen(fields[k]);
                const char *e = strchr(s, '"');
                assert_non_null(e);
                assert_true((size_t)(e - s) < sizeof hex);
                memcpy(hex, s, (size_t)(e - s));
                hex[e - s] = 0;
                bt_avl_register reg;
                roundtrip_hex(&reg, hex);
                assert_int_equal(reg.key_len, 32);
                found++;
            }
        }
    }
    fclose(f);
    /* 6 avltree_register + 1 r5_register + 3 placeholders + 1 spec_note. */
    assert_true(found >= 11);
}

static void test_register_fixed_value_len(void **state)
{
    (void)state;
    bt_avl_register reg;

    /* Some(16): tag 0x01 then VLQ(16) = 0x10. */
    roundtrip_hex(&reg, "64" EMPTY_DIGEST_HEX "07" "20" "01" "10");
    assert_int_equal(reg.flags, 7);
    assert_int_equal(reg.key_len, 32);
    assert_int_equal(reg.has_value_len, 1);
    assert_int_equal(reg.value_len, 16);

    /* Some(0) is distinct from None. */
    roundtrip_hex(&reg, "64" EMPTY_DIGEST_HEX "00" "20" "01" "00");
    assert_int_equal(reg.flags, 0);
    assert_int_equal(reg.has_value_len, 1);
    assert_int_equal(reg.value_len, 0);
}

/* Values above 127 take several VLQ bytes, least significant group first. */
static void test_register_vlq_multibyte(void **state)
{
    (void)state;
    bt_avl_register reg, back;
    uint8_t enc[BT_AVL_REGISTER_MAX];
    size_t len = 0;

    memset(&reg, 0, sizeof reg);
    unhex_into(reg.digest, BT_DIGEST_LEN, EMPTY_DIGEST_HEX);
    reg.flags = 0x05;
    reg.key_len = 200;       /* 0xc8 0x01 */
    reg.has_value_len = 1;
    reg.value_len = 70000;   /* 0x11170 -> 0xf0 0xa2 0x04 */
    assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &len, &reg), 0);
    assert_bytes_hex(enc, len, "64" EMPTY_DIGEST_HEX "05" "c801" "01" "f0a204");
    assert_int_equal(bt_avl_register_decode(&back, enc, len), 0);
    assert_reg_equal(&back, &reg);

    /* Boundaries of each VLQ width, and the longest register. */
    static const struct {
        uint32_t v;
        const char *hex;
    } w[] = {
        {127, "7f"},
        {128, "8001"},
        {16383, "ff7f"},
        {16384, "808001"},
        {2097151, "ffff7f"},
        {2097152, "80808001"},
        {268435455, "ffffff7f"},
        {268435456, "8080808001"},
        {UINT32_MAX, "ffffffff0f"},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        char want[256];
        reg.flags = 0;
        reg.key_len = w[i].v;
        reg.has_value_len = 1;
        reg.value_len = w[i].v;
        assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &len, &reg), 0);
        snprintf(want, sizeof want, "64%s00%s01%s", EMPTY_DIGEST_HEX, w[i].hex, w[i].hex);
        assert_bytes_hex(enc, len, want);
        assert_int_equal(bt_avl_register_decode(&back, enc, len), 0);
        assert_reg_equal(&back, &reg);
    }
    /* UINT32_MAX twice is the longest encoding: 1 + 33 + 1 + 5 + 1 + 5. */
    assert_int_equal(len, 46);
    assert_true(len <= BT_AVL_REGISTER_MAX);
}

/* ---- SAvlTree register: rejection --------------------------------------- */

static void test_register_truncations(void **state)
{
    (void)state;
    static const char *const valid[] = {
        EMPTY_TRACKER_REGISTER_HEX,
        "64" EMPTY_DIGEST_HEX "05" "c801" "01" "f0a204",
        "64" EMPTY_DIGEST_HEX "07" "ffffffff0f" "01" "ffffffff0f",
        "64" EMPTY_DIGEST_HEX "00" "20" "01" "10",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        size_t n = 0;
        uint8_t *b = tu_unhex(valid[i], &n);
        assert_non_null(b);
        bt_avl_register reg;
        assert_int_equal(bt_avl_register_decode(&reg, b, n), 0);
        for (size_t cut = 0; cut < n; cut++) {
            /* An exactly-sized copy, so ASan sees any read past the end. */
            uint8_t *t = malloc(cut ? cut : 1);
            assert_non_null(t);
            memcpy(t, b, cut);
            assert_int_equal(bt_avl_register_decode(&reg, t, cut), BT_ECORRUPT);
            free(t);
        }
        free(b);
    }
    bt_avl_register reg;
    assert_int_equal(bt_avl_register_decode(&reg, NULL, 0), BT_ECORRUPT);
}

static void test_register_trailing(void **state)
{
    (void)state;
    assert_int_equal(decode_hex(EMPTY_TRACKER_REGISTER_HEX "00"), BT_ECORRUPT);
    assert_int_equal(decode_hex(EMPTY_TRACKER_REGISTER_HEX "ff"), BT_ECORRUPT);
    assert_int_equal(decode_hex("64" EMPTY_DIGEST_HEX "032001" "1000"), BT_ECORRUPT);
    /* The register followed by a second register. */
    assert_int_equal(decode_hex(EMPTY_TRACKER_REGISTER_HEX EMPTY_TRACKER_REGISTER_HEX),
                     BT_ECORRUPT);
}

static void test_register_bad_type(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "00" EMPTY_DIGEST_HEX "032000", "63" EMPTY_DIGEST_HEX "032000",
        "65" EMPTY_DIGEST_HEX "032000", "e4" EMPTY_DIGEST_HEX "032000",
        "ff" EMPTY_DIGEST_HEX "032000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(decode_hex(bad[i]), BT_ECORRUPT);
}

static void test_register_bad_flags(void **state)
{
    (void)state;
    size_t n = 0;
    uint8_t *b = tu_unhex(EMPTY_TRACKER_REGISTER_HEX, &n);
    assert_non_null(b);
    bt_avl_register reg;
    for (unsigned fl = 0; fl < 256; fl++) {
        b[34] = (uint8_t)fl;
        int rc = bt_avl_register_decode(&reg, b, n);
        if (fl <= 7) {
            assert_int_equal(rc, 0);
            assert_int_equal(reg.flags, fl);
        } else {
            assert_int_equal(rc, BT_ECORRUPT);
        }
    }
    free(b);

    /* The encoder refuses unknown flag bits too. */
    uint8_t enc[BT_AVL_REGISTER_MAX];
    size_t len = 99;
    memset(&reg, 0, sizeof reg);
    reg.key_len = 32;
    reg.flags = 0x08;
    assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &len, &reg), BT_EINVAL);
    reg.flags = 0x80;
    assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &len, &reg), BT_EINVAL);
}

static void test_register_bad_option_tag(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "64" EMPTY_DIGEST_HEX "0320" "02",
        "64" EMPTY_DIGEST_HEX "0320" "02" "10",
        "64" EMPTY_DIGEST_HEX "0320" "80" "10",
        "64" EMPTY_DIGEST_HEX "0320" "ff",
        "64" EMPTY_DIGEST_HEX "0320" "81" "10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(decode_hex(bad[i]), BT_ECORRUPT);
}

static void test_register_bad_vlq(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* key_len: six bytes */
        "64" EMPTY_DIGEST_HEX "03" "ffffffffff01" "00",
        "64" EMPTY_DIGEST_HEX "03" "808080808000" "00",
        /* key_len: five bytes, above UINT32_MAX */
        "64" EMPTY_DIGEST_HEX "03" "ffffffff10" "00",
        "64" EMPTY_DIGEST_HEX "03" "ffffffff7f" "00",
        "64" EMPTY_DIGEST_HEX "03" "8080808010" "00",
        /* key_len: not the shortest form (32 as a0 00, 0 as 80 00) */
        "64" EMPTY_DIGEST_HEX "03" "a000" "00",
        "64" EMPTY_DIGEST_HEX "03" "8000" "00",
        "64" EMPTY_DIGEST_HEX "03" "a0808000" "00",
        /* value_len: the same faults */
        "64" EMPTY_DIGEST_HEX "03" "20" "01" "ffffffffff01",
        "64" EMPTY_DIGEST_HEX "03" "20" "01" "ffffffff10",
        "64" EMPTY_DIGEST_HEX "03" "20" "01" "9000",
        /* value_len: continuation bit on the last input byte */
        "64" EMPTY_DIGEST_HEX "03" "20" "01" "ff",
        "64" EMPTY_DIGEST_HEX "03" "20" "01" "ffffffffff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(decode_hex(bad[i]), BT_ECORRUPT);
}

static void test_register_encode_args(void **state)
{
    (void)state;
    bt_avl_register reg;
    uint8_t enc[BT_AVL_REGISTER_MAX];
    size_t len = 0;

    memset(&reg, 0, sizeof reg);
    reg.flags = 3;
    reg.key_len = 32;
    /* Exactly enough room, then one byte short. */
    assert_int_equal(bt_avl_register_encode(enc, 37, &len, &reg), 0);
    assert_int_equal(len, 37);
    assert_int_equal(bt_avl_register_encode(enc, 36, &len, &reg), BT_ELIMIT);
    assert_int_equal(bt_avl_register_encode(NULL, 0, &len, &reg), BT_ELIMIT);

    assert_int_equal(bt_avl_register_encode(enc, sizeof enc, NULL, &reg), BT_EINVAL);
    assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &len, NULL), BT_EINVAL);
    assert_int_equal(bt_avl_register_encode(NULL, sizeof enc, &len, &reg), BT_EINVAL);
    assert_int_equal(bt_avl_register_decode(NULL, enc, 37), BT_EINVAL);
}

/* Random registers round-trip; random single-byte corruptions either fail
 * or decode to something that re-encodes to exactly the corrupted bytes. */
static void test_register_random(void **state)
{
    (void)state;
    uint64_t seed = 0x6261736973ull;
    for (int iter = 0; iter < 20000; iter++) {
        bt_avl_register reg, back;
        uint8_t enc[BT_AVL_REGISTER_MAX], enc2[BT_AVL_REGISTER_MAX];
        size_t len = 0, len2 = 0;

        memset(&reg, 0, sizeof reg);
        for (size_t i = 0; i < BT_DIGEST_LEN; i++) reg.digest[i] = (uint8_t)tu_rand(&seed);
        reg.flags = (uint8_t)(tu_rand(&seed) & 7);
        reg.key_len = (uint32_t)(tu_rand(&seed) >> (32 + tu_rand(&seed) % 32));
        reg.has_value_len = (int)(tu_rand(&seed) & 1);
        if (reg.has_value_len)
            reg.value_len = (uint32_t)(tu_rand(&seed) >> (32 + tu_rand(&seed) % 32));

        assert_int_equal(bt_avl_register_encode(enc, sizeof enc, &len, &reg), 0);
        assert_int_equal(bt_avl_register_decode(&back, enc, len), 0);
        assert_reg_equal(&back, &reg);

        /* Corrupt one byte past the digest (the digest itself is opaque). */
        size_t at = 34 + (size_t)(tu_rand(&seed) % (len - 34));
        enc[at] ^= (uint8_t)(1u << (tu_rand(&seed) % 8));
        if (bt_avl_register_decode(&back, enc, len) == 0) {
            assert_int_equal(bt_avl_register_encode(enc2, sizeof enc2, &len2, &back), 0);
            assert_int_equal(len2, len);
            assert_memory_equal(enc2, enc, len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note_key_vector),
        cmocka_unit_test(test_note_key_bad_prefix),
        cmocka_unit_test(test_tracker_value),
        cmocka_unit_test(test_reserve_value),
        cmocka_unit_test(test_register_empty_tracker),
        cmocka_unit_test(test_register_upstream),
        cmocka_unit_test(test_register_vectors_file),
        cmocka_unit_test(test_register_fixed_value_len),
        cmocka_unit_test(test_register_vlq_multibyte),
        cmocka_unit_test(test_register_truncations),
        cmocka_unit_test(test_register_trailing),
        cmocka_unit_test(test_register_bad_type),
        cmocka_unit_test(test_register_bad_flags),
        cmocka_unit_test(test_register_bad_option_tag),
        cmocka_unit_test(test_register_bad_vlq),
        cmocka_unit_test(test_register_encode_args),
        cmocka_unit_test(test_register_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
