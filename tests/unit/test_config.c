/*
 * test_config.c -- bt_db_options_load (src/util/config.c): a complete good
 * file, size suffixes, every kind of bad value, unknown sections and keys,
 * syntax errors, a missing file, and "options unchanged on failure".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basistrees.h"
#include "util/config.h"

/* Writes text to a fresh temporary file; returns its path (static buffer). */
static const char *write_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/bt_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Loads text on top of the defaults; returns the code, message in msg. */
static int load_text(bt_db_options *o, const char *text, char *msg, size_t cap)
{
    bt_db_options init = BT_DB_OPTIONS_INIT;
    *o = init;
    const char *path = write_file(text);
    int rc = bt_db_options_load(o, path, msg, cap);
    unlink(path);
    return rc;
}

/* Expects BT_EINVAL with every needle in the message, and *o untouched. */
static void expect_bad(const char *text, const char *needle1, const char *needle2)
{
    bt_db_options o, init = BT_DB_OPTIONS_INIT;
    char msg[300] = "";
    int rc = load_text(&o, text, msg, sizeof msg);
    if (rc != BT_EINVAL || strstr(msg, needle1) == NULL ||
        (needle2 != NULL && strstr(msg, needle2) == NULL))
        print_error("input:\n%s\nrc %d, message: %s\n", text, rc, msg);
    assert_int_equal(rc, BT_EINVAL);
    assert_non_null(strstr(msg, "/tmp/bt_test_config_"));
    assert_non_null(strstr(msg, needle1));
    if (needle2 != NULL)
        assert_non_null(strstr(msg, needle2));
    assert_memory_equal(&o, &init, sizeof o);
}

static void test_good_file(void **state)
{
    (void)state;
    bt_db_options o;
    char msg[300] = "";
    static const char text[] =
        "; a comment\n"
        "# another comment\n"
        "[db]\n"
        "durability = sync\n"
        "group_ms = 25\n"
        "group_ops = 500\n"
        "cache_size = 512M\n"
        "flush_ops = 20000\n"
        "flush_size = 8MiB\n"
        "min_free_bytes = 1G\n"
        "read_only = no\n"
        "create_if_missing = false\n"
        "\n"
        "[rocksdb]\n"
        "block_cache_size = 16m\n"
        "write_buffer_size = 4194304\n"
        "compression = zstd\n"
        "compression.metadata = none  ; inline comment\n"
        "zstd_level = 7\n"
        "bloom_bits = 0\n"
        "info_log_level = warn\n"
        "info_log_dir = \"/var/log/bt\"\n";
    int rc = load_text(&o, text, msg, sizeof msg);
    if (rc != 0)
        print_error("%s\n", msg);
    assert_int_equal(rc, 0);
    assert_int_equal(o.durability, BT_DURABILITY_SYNC);
    assert_int_equal(o.group_ms, 25);
    assert_int_equal(o.group_ops, 500);
    assert_true(o.cache_bytes == 512ull << 20);
    assert_true(o.flush_ops == 20000);
    assert_true(o.flush_bytes == 8ull << 20);
    assert_true(o.min_free_bytes == 1ull << 30);
    assert_int_equal(o.read_only, 0);
    assert_int_equal(o.create_if_missing, 0);
    assert_true(o.block_cache_bytes == 16ull << 20);
    assert_true(o.write_buffer_bytes == 4194304);
    assert_int_equal(o.compression[0], BT_COMPRESS_ZSTD);
    assert_int_equal(o.compression[1], BT_COMPRESS_ZSTD);
    assert_int_equal(o.compression[2], BT_COMPRESS_ZSTD);
    assert_int_equal(o.compression[3], BT_COMPRESS_NONE);
    assert_int_equal(o.compression[4], BT_COMPRESS_ZSTD);
    assert_int_equal(o.zstd_level, 7);
    assert_int_equal(o.bloom_bits, 0);
    assert_int_equal(o.info_log_level, 2);
    assert_non_null(o.info_log_dir);
    assert_string_equal(o.info_log_dir, "/var/log/bt");
    assert_int_equal(bt_db_options_check(&o, NULL, 0), 0);
    bt_free((void *)o.info_log_dir);
}

/* "compression" fills only the partitions not named, whatever the order;
 * every key may also be given in [db]. */
static void test_compression_order(void **state)
{
    (void)state;
    bt_db_options o;
    char msg[300];
    assert_int_equal(load_text(&o, "[db]\ncompression.nodes = lz4\ncompression = none\n"
                                    "info_log_level = 0\n", msg, sizeof msg), 0);
    assert_int_equal(o.compression[0], BT_COMPRESS_LZ4);
    for (int i = 1; i < 5; i++)
        assert_int_equal(o.compression[i], BT_COMPRESS_NONE);
    assert_int_equal(o.info_log_level, 0);
    assert_null(o.info_log_dir);
}

/* The file applies on top of what the caller set; an empty file changes
 * nothing. */
static void test_overlay(void **state)
{
    (void)state;
    bt_db_options o = BT_DB_OPTIONS_INIT, want;
    char msg[300];
    o.group_ms = 77;
    o.durability = BT_DURABILITY_NONE;
    want = o;
    const char *path = write_file("");
    assert_int_equal(bt_db_options_load(&o, path, msg, sizeof msg), 0);
    assert_memory_equal(&o, &want, sizeof o);
    unlink(path);
    path = write_file("[db]\ngroup_ops = 3\n");
    assert_int_equal(bt_db_options_load(&o, path, msg, sizeof msg), 0);
    unlink(path);
    assert_int_equal(o.group_ms, 77);
    assert_int_equal(o.group_ops, 3);
    assert_int_equal(o.durability, BT_DURABILITY_NONE);
}

static void test_sizes(void **state)
{
    (void)state;
    char w[100];
    uint64_t v = 0;
    static const struct { const char *s; uint64_t v; } good[] = {
        {"0", 0}, {"1", 1}, {"1K", 1024}, {"1k", 1024}, {"2KiB", 2048}, {"3M", 3ull << 20},
        {"3mib", 3ull << 20}, {"5G", 5ull << 30}, {"7T", 7ull << 40},
        {"18446744073709551615", UINT64_MAX}, {"16777215T", 16777215ull << 40}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(bt_config_parse_size(&v, good[i].s, w, sizeof w), 0);
        assert_true(v == good[i].v);
    }
    static const char *const bad[] = {"", "K", "-1", "1.5M", "1 M", "1KB", "1X", "0x10",
                                      "18446744073709551616", "16777216T", "1Mi"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(bt_config_parse_size(&v, bad[i], w, sizeof w), -1);
    int b;
    assert_int_equal(bt_config_parse_bool(&b, "ON", w, sizeof w), 0);
    assert_int_equal(b, 1);
    assert_int_equal(bt_config_parse_bool(&b, "maybe", w, sizeof w), -1);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_bad("[db]\ndurability = fast\n", ":2: key 'durability'", "sync, group or none");
    expect_bad("[db]\ngroup_ms = ten\n", ":2: key 'group_ms'", "not a");
    expect_bad("[db]\ngroup_ms = 0\n", ":2: key 'group_ms'", "1..10000");
    expect_bad("[db]\ngroup_ops = 99999999999\n", "key 'group_ops'", "too large");
    expect_bad("[db]\n\ncache_size = 12Q\n", ":3: key 'cache_size'", "suffix");
    expect_bad("[db]\ncache_size = 1K\n", "key 'cache_size'", "at least");
    expect_bad("[db]\nflush_ops = -5\n", "key 'flush_ops'", NULL);
    expect_bad("[db]\nflush_size = 99999999999999999999\n", "key 'flush_size'", "too large");
    expect_bad("[db]\nread_only = perhaps\n", "key 'read_only'", "boolean");
    expect_bad("[rocksdb]\ncompression = gzip\n", "key 'compression'", "none, lz4 or zstd");
    expect_bad("[rocksdb]\ncompression.indexes = snappy\n", "key 'compression.indexes'", NULL);
    expect_bad("[rocksdb]\nzstd_level = 40\n", "key 'zstd_level'", "1..19");
    expect_bad("[rocksdb]\nbloom_bits = 33\n", "key 'bloom_bits'", "0..32");
    expect_bad("[rocksdb]\ninfo_log_level = verbose\n", "key 'info_log_level'", "debug");
    expect_bad("[rocksdb]\ninfo_log_level = 5\n", "key 'info_log_level'", NULL);
    expect_bad("[rocksdb]\ninfo_log_dir = \"\"\n", "key 'info_log_dir'", "empty");
    /* the first error wins, and a later good key does not hide it */
    expect_bad("[db]\ngroup_ms = 5\ngroup_ops = x\ndurability = y\n", ":3: key 'group_ops'", NULL);
}

static void test_unknown(void **state)
{
    (void)state;
    expect_bad("[db]\ncache_sise = 1M\n", ":2: key 'cache_sise'", "unknown key");
    expect_bad("[db]\ncompression.blobs = lz4\n", "key 'compression.blobs'", "unknown key");
    expect_bad("[database]\ncache_size = 1M\n", ":1:", "unknown section [database]");
    expect_bad("[db]\n[extra]\n", ":2:", "unknown section [extra]");
    expect_bad("cache_size = 1M\n", ":1: key 'cache_size'", "outside a section");
    expect_bad("[rocksdb]\ndurability = sync\n", "key 'durability'", "[db]");
    expect_bad("[db]\ngroup_ms = 5\ngroup_ms = 6\n", ":3: key 'group_ms'", "twice");
    expect_bad("[db]\njust some words\n", ":2:", "syntax error");
    expect_bad("[db]\nbad line\ncache_sise = 1\n", ":2:", "syntax error");
    char longline[400];
    snprintf(longline, sizeof longline, "[db]\ninfo_log_dir = %0300d\n", 0);
    expect_bad(longline, ":2:", "longer than");
}

static void test_missing_and_args(void **state)
{
    (void)state;
    bt_db_options o = BT_DB_OPTIONS_INIT;
    char msg[300] = "";
    assert_int_equal(bt_db_options_load(&o, "/nonexistent/dir/bt.conf", msg, sizeof msg),
                     BT_ENOTFOUND);
    assert_non_null(strstr(msg, "/nonexistent/dir/bt.conf"));
    assert_int_equal(bt_db_options_load(&o, "/tmp", msg, sizeof msg) < 0, 1);
    assert_int_equal(bt_db_options_load(NULL, "x", NULL, 0), BT_EINVAL);
    o.zstd_level = 99; /* a bad starting block is refused before reading */
    assert_int_equal(bt_db_options_load(&o, "/nonexistent", msg, sizeof msg), BT_EINVAL);
    assert_non_null(strstr(msg, "zstd_level"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),        cmocka_unit_test(test_compression_order),
        cmocka_unit_test(test_overlay),          cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_bad_values),       cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_missing_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
