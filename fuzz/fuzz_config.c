/*
 * fuzz_config.c -- the configuration loader (bt_db_options_load, the INI
 * format of docs/OPERATIONS.md section 1) and its value parsers on
 * arbitrary bytes.
 *
 * Input: byte 0 selects: 0 size parser, 1 unsigned parser, 2 boolean parser
 * (each on the rest as a C string), anything else the whole loader on the
 * rest written to a scratch file.
 *
 * Properties (abort() on violation):
 *   1. no out-of-bounds access or UB (ASan/UBSan), no leak (LSan);
 *   2. the loader returns 0, BT_EINVAL, BT_ENOTFOUND, BT_EIO or BT_ENOMEM,
 *      with a non-empty message on error;
 *   3. on error the options block is unchanged (byte for byte);
 *   4. on success the block passes bt_db_options_check;
 *   5. a value the size parser accepts is digits then an optional unit, and
 *      "N" (its decimal value) parses back to the same number.
 *
 * Seeds: fuzz/corpus/fuzz_config/ (replayed as fuzz-replay/fuzz_config).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basistrees.h"
#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 65536

static char g_path[64];

static void remove_scratch(void) { unlink(g_path); }

static void loader(const uint8_t *p, size_t n)
{
    if (!g_path[0]) {
        snprintf(g_path, sizeof g_path, "/tmp/fuzz_config.%ld.ini", (long)getpid());
        atexit(remove_scratch);
    }
    FILE *f = fopen(g_path, "wb");
    if (!f) return;
    if (n && fwrite(p, 1, n, f) != n) {
        fclose(f);
        return;
    }
    if (fclose(f) != 0) return;
    bt_db_options o = BT_DB_OPTIONS_INIT, before;
    memcpy(&before, &o, sizeof o);
    char msg[512] = "";
    int rc = bt_db_options_load(&o, g_path, msg, sizeof msg);
    unlink(g_path); /* libFuzzer may end with _exit: leave nothing behind */
    if (rc == 0) {
        if (bt_db_options_check(&o, NULL, 0) != 0) abort();
        if (o.info_log_dir && o.info_log_dir != before.info_log_dir) bt_free((void *)o.info_log_dir);
    } else {
        if (rc != BT_EINVAL && rc != BT_ENOTFOUND && rc != BT_EIO && rc != BT_ENOMEM) abort();
        if (!msg[0] || !memchr(msg, 0, sizeof msg)) abort();
        if (memcmp(&o, &before, sizeof o) != 0) abort();
    }
}

static void values(unsigned which, const char *s)
{
    char why[128] = "";
    uint64_t v = 0;
    int rc;
    if (which == 0) {
        rc = bt_config_parse_size(&v, s, why, sizeof why);
        if (rc == 0) {
            const char *q = s;
            while (*q == ' ' || *q == '\t') q++;
            if (*q < '0' || *q > '9') abort();
            char back[32];
            snprintf(back, sizeof back, "%llu", (unsigned long long)v);
            uint64_t w = 0;
            if (bt_config_parse_size(&w, back, why, sizeof why) != 0 || w != v) abort();
        }
    } else if (which == 1) {
        rc = bt_config_parse_uint(&v, s, 1000000u, why, sizeof why);
        if (rc == 0 && v > 1000000u) abort();
    } else {
        int b = -1;
        rc = bt_config_parse_bool(&b, s, why, sizeof why);
        if (rc == 0 && b != 0 && b != 1) abort();
    }
    if (rc != 0 && (rc != -1 || !why[0])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT) return 0;
    if (data[0] < 3) {
        char *s = malloc(size);
        if (!s) return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = 0;
        values(data[0], s);
        free(s);
    } else {
        loader(data + 1, size - 1);
    }
    return 0;
}
