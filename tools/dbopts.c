/*
 * dbopts.c -- the database options every database command shares (see
 * dbcli.h): --config FILE and the command-line overrides.
 *
 * The value syntax is the config file's (docs/OPERATIONS.md): sizes take
 * K/M/G/T suffixes, enums are lowercase words.  The CLI cannot reach the
 * library's own parsers (they are internal), so the few lines that parse a
 * size or an enum are repeated here; ranges are left to
 * bt_db_options_check, which names the field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <basistrees.h>

#include "cli.h"
#include "dbcli.h"

static const char *const partition_names[5] = {"nodes", "operations", "checkpoints", "metadata",
                                               "indexes"};

const char *db_partition_name(int i)
{
    return i >= 0 && i < 5 ? partition_names[i] : "?";
}

int cli_parse_size(uint64_t *out, const char *s)
{
    char digits[32];
    size_t n = strspn(s, "0123456789");
    unsigned shift = 0;
    uint64_t v;
    if (n == 0 || n >= sizeof digits)
        return -1;
    memcpy(digits, s, n);
    digits[n] = '\0';
    if (s[n] != '\0') {
        const char *units = "KMGT", *u = strchr(units, s[n] & ~0x20);
        if ((s[n] & ~0x20) == 0 || u == NULL)
            return -1;
        shift = 10u * (unsigned)(u - units + 1);
        if (s[n + 1] != '\0' && strcasecmp(s + n + 1, "iB") != 0)
            return -1;
    }
    if (cli_parse_u64(&v, digits) != 0 || (shift > 0 && v > (UINT64_MAX >> shift)))
        return -1;
    *out = v << shift;
    return 0;
}

int dbopt_take(db_cli *d, int opt, const char *arg, const char *command)
{
    if (opt < DBOPT_CONFIG || opt >= DBOPT_LAST)
        return 0;
    if (opt == DBOPT_CONFIG) {
        d->config = arg;
        return 1;
    }
    if (d->nset == sizeof d->set / sizeof d->set[0]) {
        cli_usage_error(command, "too many database options");
        return -1;
    }
    d->set[d->nset].code = opt;
    d->set[d->nset].arg = arg;
    d->nset++;
    return 1;
}

static int parse_compression(bt_compression *out, const char *s)
{
    if (strcmp(s, "none") == 0) *out = BT_COMPRESS_NONE;
    else if (strcmp(s, "lz4") == 0) *out = BT_COMPRESS_LZ4;
    else if (strcmp(s, "zstd") == 0) *out = BT_COMPRESS_ZSTD;
    else return -1;
    return 0;
}

/* Applies one override; returns 0 or -1 (bad value). */
static int apply_one(bt_db_options *o, int code, const char *arg)
{
    uint64_t v = 0;
    static const char *const levels[] = {"debug", "info", "warn", "error", "fatal"};
    switch (code) {
    case DBOPT_DURABILITY:
        if (strcmp(arg, "sync") == 0) o->durability = BT_DURABILITY_SYNC;
        else if (strcmp(arg, "group") == 0) o->durability = BT_DURABILITY_GROUP;
        else if (strcmp(arg, "none") == 0) o->durability = BT_DURABILITY_NONE;
        else return -1;
        return 0;
    case DBOPT_COMPRESSION: {
        bt_compression c;
        if (parse_compression(&c, arg) != 0)
            return -1;
        for (int i = 0; i < 5; i++)
            o->compression[i] = c;
        return 0;
    }
    case DBOPT_INFO_LOG_LEVEL:
        for (int i = 0; i < 5; i++)
            if (strcmp(arg, levels[i]) == 0 || (arg[0] == '0' + i && arg[1] == '\0')) {
                o->info_log_level = i;
                return 0;
            }
        return -1;
    case DBOPT_INFO_LOG_DIR:
        if (arg[0] == '\0')
            return -1;
        o->info_log_dir = arg;
        return 0;
    case DBOPT_CACHE_SIZE:
    case DBOPT_FLUSH_SIZE:
    case DBOPT_BLOCK_CACHE_SIZE:
    case DBOPT_WRITE_BUFFER_SIZE:
    case DBOPT_MIN_FREE:
        if (cli_parse_size(&v, arg) != 0)
            return -1;
        *(code == DBOPT_CACHE_SIZE ? &o->cache_bytes
          : code == DBOPT_FLUSH_SIZE ? &o->flush_bytes
          : code == DBOPT_BLOCK_CACHE_SIZE ? &o->block_cache_bytes
          : code == DBOPT_WRITE_BUFFER_SIZE ? &o->write_buffer_bytes
                                            : &o->min_free_bytes) = v;
        return 0;
    default:
        if (cli_parse_u64(&v, arg) != 0)
            return -1;
        if (code == DBOPT_FLUSH_OPS) {
            o->flush_ops = v;
            return 0;
        }
        if (v > INT32_MAX)
            return -1;
        if (code == DBOPT_GROUP_MS) o->group_ms = (unsigned)v;
        else if (code == DBOPT_GROUP_OPS) o->group_ops = (unsigned)v;
        else if (code == DBOPT_ZSTD_LEVEL) o->zstd_level = (int)v;
        else if (code == DBOPT_BLOOM_BITS) o->bloom_bits = (int)v;
        else if (code == DBOPT_INDEX_LABELS && v <= 1) o->index_labels = (int)v;
        else return -1;
        return 0;
    }
}

static const char *option_name(int code)
{
    static const struct option all[] = {DBOPT_LONGOPTS};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i].val == code)
            return all[i].name;
    return "?";
}

int dbopt_resolve(bt_db_options *opts, db_cli *d, int read_only, int create_if_missing,
                  const char *command)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    char msg[512];
    d->owned_log_dir = NULL;
    if (d->config != NULL) {
        int rc = bt_db_options_load(&o, d->config, msg, sizeof msg);
        if (rc == BT_EINVAL)
            return cli_usage_error(command, "bad config file: %s", msg);
        if (rc != 0) {
            cli_error("%s: cannot read config file: %s", command, msg);
            return CLI_FAIL;
        }
        d->owned_log_dir = (char *)o.info_log_dir; /* NULL unless the file set it */
    }
    for (size_t i = 0; i < d->nset; i++)
        if (apply_one(&o, d->set[i].code, d->set[i].arg) != 0) {
            dbopt_dispose(d);
            return cli_usage_error(command, "bad value '%s' for --%s", d->set[i].arg,
                                   option_name(d->set[i].code));
        }
    o.read_only = read_only;
    o.create_if_missing = create_if_missing;
    if (bt_db_options_check(&o, msg, sizeof msg) != 0) {
        dbopt_dispose(d);
        return cli_usage_error(command, "bad database option: %s", msg);
    }
    *opts = o;
    return CLI_OK;
}

void dbopt_dispose(db_cli *d)
{
    bt_free(d->owned_log_dir);
    d->owned_log_dir = NULL;
}

int db_open_cli(bt_db **out, const char *dir, const bt_db_options *opts, const char *command)
{
    char msg[512] = "";
    int rc = bt_db_open(out, dir, opts, msg, sizeof msg);
    if (rc != 0) {
        cli_error("%s: cannot open %s: %s", command, dir, msg[0] ? msg : bt_strerror(rc));
        return CLI_FAIL;
    }
    return CLI_OK;
}

int db_fail(bt_db *db, const char *command, const char *what, int rc)
{
    const char *m = db != NULL ? bt_db_errmsg(db) : "";
    if (m != NULL && m[0] != '\0')
        cli_error("%s: %s: %s (%s)", command, what, bt_strerror(rc), m);
    else
        cli_error("%s: %s: %s", command, what, bt_strerror(rc));
    return CLI_FAIL;
}
