/*
 * dbcli.h -- what the database commands share (dbopts.c): the options that
 * configure bt_db_open, and small helpers around the public database API.
 *
 * Every command that opens a database accepts the same option set:
 *   --config FILE                  an INI file read with bt_db_options_load
 *   --durability sync|group|none   and the other overrides in DBOPT_HELP,
 * applied in this order: library defaults, the config file, the overrides
 * (whatever their order on the command line).  The command itself decides
 * read_only and create_if_missing (reading commands open read-only; only
 * init and the vector runners create a database).
 */
#ifndef BT_TOOLS_DBCLI_H
#define BT_TOOLS_DBCLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <basistrees.h>

/* getopt codes of the shared options (above any short option letter). */
enum {
    DBOPT_CONFIG = 1000,
    DBOPT_DURABILITY,
    DBOPT_GROUP_MS,
    DBOPT_GROUP_OPS,
    DBOPT_CACHE_SIZE,
    DBOPT_FLUSH_OPS,
    DBOPT_FLUSH_SIZE,
    DBOPT_BLOCK_CACHE_SIZE,
    DBOPT_WRITE_BUFFER_SIZE,
    DBOPT_COMPRESSION,
    DBOPT_ZSTD_LEVEL,
    DBOPT_BLOOM_BITS,
    DBOPT_INFO_LOG_LEVEL,
    DBOPT_INFO_LOG_DIR,
    DBOPT_MIN_FREE,
    DBOPT_INDEX_LABELS,
    DBOPT_LAST
};

/* Entries for a command's struct option array. */
#define DBOPT_LONGOPTS                                                              \
    {"config", required_argument, NULL, DBOPT_CONFIG},                              \
    {"durability", required_argument, NULL, DBOPT_DURABILITY},                      \
    {"group-ms", required_argument, NULL, DBOPT_GROUP_MS},                          \
    {"group-ops", required_argument, NULL, DBOPT_GROUP_OPS},                        \
    {"cache-size", required_argument, NULL, DBOPT_CACHE_SIZE},                      \
    {"flush-ops", required_argument, NULL, DBOPT_FLUSH_OPS},                        \
    {"flush-size", required_argument, NULL, DBOPT_FLUSH_SIZE},                      \
    {"block-cache-size", required_argument, NULL, DBOPT_BLOCK_CACHE_SIZE},          \
    {"write-buffer-size", required_argument, NULL, DBOPT_WRITE_BUFFER_SIZE},        \
    {"compression", required_argument, NULL, DBOPT_COMPRESSION},                    \
    {"zstd-level", required_argument, NULL, DBOPT_ZSTD_LEVEL},                      \
    {"bloom-bits", required_argument, NULL, DBOPT_BLOOM_BITS},                      \
    {"info-log-level", required_argument, NULL, DBOPT_INFO_LOG_LEVEL},              \
    {"info-log-dir", required_argument, NULL, DBOPT_INFO_LOG_DIR},                  \
    {"min-free-bytes", required_argument, NULL, DBOPT_MIN_FREE},                    \
    {"index-labels", required_argument, NULL, DBOPT_INDEX_LABELS}

/* Help text of the shared options (for each command's usage). */
#define DBOPT_HELP                                                                   \
    "Database options (defaults, then --config FILE, then these overrides):\n"      \
    "  --config FILE             INI file, sections [db] and [rocksdb] (OPERATIONS.md)\n" \
    "  --durability MODE         sync | group | none\n"                              \
    "  --group-ms N, --group-ops N   group commit interval\n"                       \
    "  --cache-size SIZE         node cache budget (SIZE: bytes, or with K/M/G/T)\n" \
    "  --flush-ops N, --flush-size SIZE   node flush thresholds (bound replay)\n"   \
    "  --block-cache-size SIZE, --write-buffer-size SIZE   RocksDB memory\n"        \
    "  --compression C           none | lz4 | zstd for every partition\n"           \
    "  --zstd-level N, --bloom-bits N, --min-free-bytes SIZE\n"                      \
    "  --info-log-level L        debug | info | warn | error | fatal\n"             \
    "  --info-log-dir DIR        where RocksDB writes its LOG\n"                    \
    "  --index-labels 0|1        keep the label -> node index (see `nodes`)\n"

/* The shared options seen on a command line. */
typedef struct db_cli {
    const char *config;
    struct {
        int code;
        const char *arg;
    } set[32];
    size_t nset;
    char *owned_log_dir; /* info_log_dir allocated by bt_db_options_load */
} db_cli;

/* If opt is a shared option, records it and returns 1; else returns 0.
 * Returns -1 (after printing a usage error) when too many are given. */
int dbopt_take(db_cli *d, int opt, const char *arg, const char *command);

/* Builds the options: defaults, the config file, the overrides; then sets
 * read_only and create_if_missing as given.  Returns CLI_OK, CLI_USAGE (bad
 * override or config contents, message printed) or CLI_FAIL (the config
 * file cannot be read).  opts->info_log_dir may point into argv or into d:
 * call dbopt_dispose(d) after the database is closed. */
int dbopt_resolve(bt_db_options *opts, db_cli *d, int read_only, int create_if_missing,
                  const char *command);

/* Frees what dbopt_resolve allocated (the config's info_log_dir). */
void dbopt_dispose(db_cli *d);

/* Opens dir; prints "COMMAND: cannot open DIR: why" on failure.  Returns
 * CLI_OK or CLI_FAIL. */
int db_open_cli(bt_db **out, const char *dir, const bt_db_options *opts, const char *command);

/* Prints "basis-trees: COMMAND: WHAT: <strerror> (<db message>)"; returns
 * CLI_FAIL. */
int db_fail(bt_db *db, const char *command, const char *what, int rc);

/* Parses a byte count with an optional K/M/G/T suffix.  Returns 0 or -1. */
int cli_parse_size(uint64_t *out, const char *s);

/* The name of partition i (0..4): nodes, operations, ... */
const char *db_partition_name(int i);

#endif
