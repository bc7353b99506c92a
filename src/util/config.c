/*
 * config.c -- bt_db_options_load: database options from an INI file.
 *
 * The file (docs/OPERATIONS.md, "Configuration") has two sections:
 *
 *   [db]        every key below may be written here
 *   [rocksdb]   the engine keys (block_cache_size .. info_log_dir) may be
 *               written here instead
 *
 * Rules, chosen so that a typo is reported instead of silently ignored:
 *   1. An unknown section, an unknown key, a key given twice, a key outside
 *      a section, a bad number or a bad enum is BT_EINVAL with the message
 *      "FILE:LINE: key 'x': <why>" (or "FILE:LINE: <why>" for lines that are
 *      not key = value).  The first error wins.
 *   2. The file is applied on top of *opts (so a caller sets defaults with
 *      BT_DB_OPTIONS_INIT, loads the file, then applies its own overrides).
 *      On any error *opts is left exactly as it was.
 *   3. "compression" sets every partition that has no "compression.NAME" key
 *      in the file, whatever the order of the two keys.
 *   4. After each key the whole block goes through bt_db_options_check, so a
 *      range error ("must be 1..19") is reported on the line that caused it.
 *
 * Line numbers: the Debian build of libinih has no line number in the handler
 * (INI_HANDLER_LINENO 0), so the file is fed through our own reader, which
 * counts lines; inih calls the handler for a line before it reads the next.
 * The reader also rejects lines longer than inih's buffer, which inih would
 * otherwise split into two lines.
 */
#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basistrees.h"
#include "util/alloc.h"

#define NPART 5
static const char *const part_names[NPART] = {"nodes", "operations", "checkpoints", "metadata",
                                              "indexes"};

enum key_kind { K_DURABILITY, K_UINT, K_U64, K_SIZE, K_COMPRESSION, K_INT, K_LOGLEVEL, K_STRING,
                K_BOOL };

/* One configuration key: where its value goes and what it accepts. */
typedef struct key_def {
    const char *name;
    enum key_kind kind;
    int engine;      /* 1: may also appear in [rocksdb]        */
    size_t offset;   /* into bt_db_options                     */
    uint64_t max;    /* K_UINT / K_U64 / K_INT: largest value  */
} key_def;

#define OFF(f) offsetof(bt_db_options, f)
static const key_def keys[] = {
    {"durability", K_DURABILITY, 0, OFF(durability), 0},
    {"group_ms", K_UINT, 0, OFF(group_ms), UINT32_MAX},
    {"group_ops", K_UINT, 0, OFF(group_ops), UINT32_MAX},
    {"cache_size", K_SIZE, 0, OFF(cache_bytes), 0},
    {"flush_ops", K_U64, 0, OFF(flush_ops), UINT64_MAX},
    {"flush_size", K_SIZE, 0, OFF(flush_bytes), 0},
    {"min_free_bytes", K_SIZE, 0, OFF(min_free_bytes), 0},
    {"read_only", K_BOOL, 0, OFF(read_only), 0},
    {"create_if_missing", K_BOOL, 0, OFF(create_if_missing), 0},
    {"index_labels", K_BOOL, 0, OFF(index_labels), 0},
    {"checkpoint_keep", K_UINT, 0, OFF(checkpoint_keep), UINT32_MAX},
    {"checkpoint_keep_ms", K_U64, 0, OFF(checkpoint_keep_ms), UINT64_MAX},
    {"oplog_keep_ms", K_U64, 0, OFF(oplog_keep_ms), UINT64_MAX},
    {"block_cache_size", K_SIZE, 1, OFF(block_cache_bytes), 0},
    {"write_buffer_size", K_SIZE, 1, OFF(write_buffer_bytes), 0},
    {"compression", K_COMPRESSION, 1, OFF(compression), 0},
    {"zstd_level", K_INT, 1, OFF(zstd_level), 1000},
    {"bloom_bits", K_INT, 1, OFF(bloom_bits), 1000},
    {"info_log_level", K_LOGLEVEL, 1, OFF(info_log_level), 0},
    {"info_log_dir", K_STRING, 1, OFF(info_log_dir), 0},
};
#undef OFF
#define NKEYS (sizeof keys / sizeof keys[0])

/* The parse in progress. */
typedef struct load_ctx {
    bt_db_options o;          /* the candidate; copied out only on success */
    const char *path;
    FILE *f;
    unsigned line;            /* line most recently read                    */
    int rc;                   /* first error (0: none)                      */
    unsigned err_line;        /* its line                                   */
    char *msg;
    size_t msgcap;
    unsigned char seen[NKEYS];
    unsigned char part_seen[NPART];
    char *log_dir;            /* bt_malloc'd copy of info_log_dir           */
} load_ctx;

static void fail_at(load_ctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error with its FILE:LINE prefix. */
static void fail_at(load_ctx *c, int rc, const char *fmt, ...)
{
    if (c->rc != 0)
        return;
    c->rc = rc;
    c->err_line = c->line;
    if (c->msg == NULL || c->msgcap == 0)
        return;
    int n = snprintf(c->msg, c->msgcap, "%s:%u: ", c->path, c->line);
    if (n < 0 || (size_t)n >= c->msgcap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg + n, c->msgcap - (size_t)n, fmt, ap);
    va_end(ap);
}

static int why(char *buf, size_t cap, const char *text)
{
    if (buf != NULL && cap > 0)
        snprintf(buf, cap, "%s", text);
    return -1;
}

/* ---- value parsers ------------------------------------------------------- */

int bt_config_parse_uint(uint64_t *out, const char *s, uint64_t max, char *w, size_t wcap)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return why(w, wcap, "empty value");
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return why(w, wcap, "not a non-negative decimal number");
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return why(w, wcap, "number too large");
        v = v * 10 + d;
    }
    if (v > max) {
        if (w != NULL && wcap > 0)
            snprintf(w, wcap, "number too large (at most %llu)", (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int bt_config_parse_size(uint64_t *out, const char *s, char *w, size_t wcap)
{
    char digits[32];
    size_t n = 0;
    unsigned shift = 0;
    if (s == NULL)
        return why(w, wcap, "empty value");
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0)
        return why(w, wcap, "not a size (digits, then optionally K, M, G or T)");
    if (n >= sizeof digits)
        return why(w, wcap, "number too large");
    memcpy(digits, s, n);
    digits[n] = '\0';
    const char *suffix = s + n;
    if (*suffix != '\0') {
        switch (toupper((unsigned char)suffix[0])) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: return why(w, wcap, "unknown size suffix (use K, M, G or T)");
        }
        if (suffix[1] != '\0' && strcasecmp(suffix + 1, "iB") != 0)
            return why(w, wcap, "unknown size suffix (use K, M, G or T)");
    }
    uint64_t v;
    if (bt_config_parse_uint(&v, digits, UINT64_MAX, w, wcap) != 0)
        return -1;
    if (shift > 0 && v > (UINT64_MAX >> shift))
        return why(w, wcap, "size too large");
    *out = v << shift;
    return 0;
}

int bt_config_parse_bool(int *out, const char *s, char *w, size_t wcap)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return why(w, wcap, "not a boolean (true/false, yes/no, on/off, 1/0)");
}

static int parse_compression(bt_compression *out, const char *s)
{
    if (strcasecmp(s, "none") == 0) *out = BT_COMPRESS_NONE;
    else if (strcasecmp(s, "lz4") == 0) *out = BT_COMPRESS_LZ4;
    else if (strcasecmp(s, "zstd") == 0) *out = BT_COMPRESS_ZSTD;
    else return -1;
    return 0;
}

static int parse_loglevel(int *out, const char *s)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "fatal"};
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, names[i]) == 0 || (s[0] == '0' + i && s[1] == '\0')) {
            *out = i;
            return 0;
        }
    return -1;
}

/* ---- the handler --------------------------------------------------------- */

/* Sets key k (index ki; partition part for "compression.NAME", else -1). */
static int set_value(load_ctx *c, size_t ki, int part, const char *value, char *w, size_t wcap)
{
    const key_def *k = &keys[ki];
    char *field = (char *)&c->o + k->offset;
    uint64_t u;
    switch (k->kind) {
    case K_DURABILITY: {
        bt_durability d;
        if (strcasecmp(value, "sync") == 0) d = BT_DURABILITY_SYNC;
        else if (strcasecmp(value, "group") == 0) d = BT_DURABILITY_GROUP;
        else if (strcasecmp(value, "none") == 0) d = BT_DURABILITY_NONE;
        else return why(w, wcap, "must be sync, group or none");
        memcpy(field, &d, sizeof d);
        return 0;
    }
    case K_UINT:
    case K_U64:
    case K_INT:
        if (bt_config_parse_uint(&u, value, k->max, w, wcap) != 0)
            return -1;
        if (k->kind == K_UINT) {
            unsigned v = (unsigned)u;
            memcpy(field, &v, sizeof v);
        } else if (k->kind == K_INT) {
            int v = (int)u;
            memcpy(field, &v, sizeof v);
        } else {
            memcpy(field, &u, sizeof u);
        }
        return 0;
    case K_SIZE:
        if (bt_config_parse_size(&u, value, w, wcap) != 0)
            return -1;
        memcpy(field, &u, sizeof u);
        return 0;
    case K_BOOL: {
        int v;
        if (bt_config_parse_bool(&v, value, w, wcap) != 0)
            return -1;
        memcpy(field, &v, sizeof v);
        return 0;
    }
    case K_LOGLEVEL: {
        int v;
        if (parse_loglevel(&v, value) != 0)
            return why(w, wcap, "must be debug, info, warn, error, fatal or 0..4");
        memcpy(field, &v, sizeof v);
        return 0;
    }
    case K_COMPRESSION: {
        bt_compression v;
        if (parse_compression(&v, value) != 0)
            return why(w, wcap, "must be none, lz4 or zstd");
        if (part < 0) {
            for (int i = 0; i < NPART; i++)
                if (!c->part_seen[i])
                    c->o.compression[i] = v;
        } else {
            c->o.compression[part] = v;
        }
        return 0;
    }
    case K_STRING: {
        size_t len = strlen(value);
        if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
            value++;
            len -= 2;
        }
        if (len == 0)
            return why(w, wcap, "empty path");
        char *copy = bt_malloc(len + 1);
        if (copy == NULL)
            return why(w, wcap, "out of memory");
        memcpy(copy, value, len);
        copy[len] = '\0';
        bt_mem_free(c->log_dir);
        c->log_dir = copy;
        c->o.info_log_dir = copy;
        return 0;
    }
    }
    return why(w, wcap, "internal error: unknown key kind");
}

/* Finds name ("compression.NAME" gives *part); returns the index or -1. */
static int find_key(const char *name, int *part)
{
    *part = -1;
    if (strncmp(name, "compression.", 12) == 0) {
        for (int i = 0; i < NPART; i++)
            if (strcmp(name + 12, part_names[i]) == 0)
                *part = i;
        if (*part < 0)
            return -1;
        name = "compression";
    }
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *c = user;
    char w[200];
    int part, ki;
    int is_db = strcmp(section, "db") == 0, is_engine = strcmp(section, "rocksdb") == 0;

    if (c->rc != 0)
        return 1; /* only the first error is reported; inih keeps going */
    if (section[0] == '\0') {
        fail_at(c, BT_EINVAL, "key '%s': outside a section (start with [db])", name);
        return 0;
    }
    if (!is_db && !is_engine) {
        fail_at(c, BT_EINVAL, "key '%s': unknown section [%s] (want [db] or [rocksdb])", name,
                section);
        return 0;
    }
    ki = find_key(name, &part);
    if (ki < 0) {
        fail_at(c, BT_EINVAL, "key '%s': unknown key", name);
        return 0;
    }
    if (is_engine && !keys[ki].engine) {
        fail_at(c, BT_EINVAL, "key '%s': belongs in section [db], not [rocksdb]", name);
        return 0;
    }
    unsigned char *seen = part >= 0 ? &c->part_seen[part] : &c->seen[ki];
    if (*seen) {
        fail_at(c, BT_EINVAL, "key '%s': given twice (or continued on an indented line)", name);
        return 0;
    }
    *seen = 1;
    if (set_value(c, (size_t)ki, part, value, w, sizeof w) != 0) {
        fail_at(c, BT_EINVAL, "key '%s': %s", name, w);
        return 0;
    }
    /* Range checks live in one place: bt_db_options_check.  The block was
     * valid before this key, so a failure now is this key's. */
    if (bt_db_options_check(&c->o, w, sizeof w) != 0) {
        fail_at(c, BT_EINVAL, "key '%s': %s", name, w);
        return 0;
    }
    return 1;
}

/* fgets-style reader that counts lines and refuses over-long ones. */
static char *reader(char *str, int num, void *stream)
{
    load_ctx *c = stream;
    if (c->rc != 0)
        return NULL; /* stop at the first error we found ourselves */
    if (fgets(str, num, c->f) == NULL)
        return NULL;
    c->line++;
    size_t len = strlen(str);
    if (len > 0 && str[len - 1] != '\n' && !feof(c->f)) {
        fail_at(c, BT_EINVAL, "line longer than %d characters", num - 2);
        return NULL;
    }
    /* inih does not tell the handler about empty sections: check headers
     * here so that a misspelt, empty [section] is still reported. */
    const char *p = str + strspn(str, " \t");
    if (*p == '[') {
        size_t n = strcspn(p + 1, "]");
        if (p[1 + n] == ']' && !(n == 2 && strncmp(p + 1, "db", 2) == 0) &&
            !(n == 7 && strncmp(p + 1, "rocksdb", 7) == 0)) {
            fail_at(c, BT_EINVAL, "unknown section [%.*s] (want [db] or [rocksdb])", (int)n, p + 1);
            return NULL;
        }
    }
    return str;
}

int bt_db_options_load(bt_db_options *opts, const char *path, char *msg, size_t msgcap)
{
    load_ctx c;
    if (msg != NULL && msgcap > 0)
        msg[0] = '\0';
    if (opts == NULL || path == NULL) {
        if (msg != NULL && msgcap > 0)
            snprintf(msg, msgcap, "bt_db_options_load: NULL argument");
        return BT_EINVAL;
    }
    if (bt_db_options_check(opts, msg, msgcap) != 0)
        return BT_EINVAL; /* the starting block must be valid (rule 4) */
    memset(&c, 0, sizeof c);
    c.o = *opts;
    c.path = path;
    c.msg = msg;
    c.msgcap = msgcap;
    c.f = fopen(path, "r");
    if (c.f == NULL) {
        int e = errno;
        if (msg != NULL && msgcap > 0)
            snprintf(msg, msgcap, "%s: %s", path, strerror(e));
        return e == ENOENT || e == ENOTDIR ? BT_ENOTFOUND : e == ENOMEM ? BT_ENOMEM : BT_EIO;
    }
    int ret = ini_parse_stream(reader, &c, handler, &c);
    int read_error = ferror(c.f);
    fclose(c.f);
    if (ret == -2 && c.rc == 0) {
        c.line = 0;
        fail_at(&c, BT_ENOMEM, "out of memory");
    } else if (ret > 0 && (c.rc == 0 || (unsigned)ret < c.err_line)) {
        /* inih found a line that is not "key = value", "[section]" or a
         * comment, before any error of ours. */
        c.rc = 0;
        c.line = (unsigned)ret;
        fail_at(&c, BT_EINVAL, "syntax error (want 'key = value' or '[section]')");
    } else if (read_error && c.rc == 0) {
        fail_at(&c, BT_EIO, "read error");
    }
    if (c.rc != 0) {
        bt_mem_free(c.log_dir);
        return c.rc;
    }
    *opts = c.o;
    return 0;
}
