/*
 * snapshot_cmds.c -- snapshot files of one tree version (public API only;
 * format in docs/FORMAT.md section 5):
 *
 *   export DIR --tree NAME [--checkpoint ID] FILE   write a snapshot
 *   import DIR --tree NAME FILE                     create a tree from one
 *
 * Both accept --json, --help and the database options of dbcli.h.  export
 * opens the database read-only (it may run beside a writer); import opens
 * it for writing and creates the database if DIR does not exist.  Exit
 * status: 0 ok, 1 failure (a damaged snapshot, an existing tree, I/O),
 * 2 usage error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#include "cli.h"
#include "dbcli.h"
#include "hex.h"
#include "jsonio.h"

int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);

static const char export_usage[] =
    "usage: " CLI_NAME " export DIR --tree NAME [--checkpoint ID] FILE [--json]\n"
    "                         [DATABASE OPTIONS]\n"
    "\n"
    "Writes the last committed version of tree NAME (or checkpoint ID) to the\n"
    "snapshot file FILE: parameters, digest, key count and every node, zstd-\n"
    "compressed and checksummed (docs/FORMAT.md section 5).  FILE is replaced\n"
    "atomically.  Importing it reproduces the exact tree and digest.  Opens the\n"
    "database read-only, so it can run while another process writes.\n"
    "\n" DBOPT_HELP;

static const char import_usage[] =
    "usage: " CLI_NAME " import DIR --tree NAME FILE [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Creates the new tree NAME in the database DIR (created if missing) from\n"
    "the snapshot file FILE, with the snapshot's parameters and exact shape.\n"
    "The whole file is verified first -- checksums, tree invariants, and the\n"
    "rebuilt root against the digest it records; a damaged file is rejected\n"
    "and nothing is imported.  Fails if NAME exists.\n"
    "\n" DBOPT_HELP;

typedef struct snap_args {
    db_cli db;
    const char *tree;
    uint64_t checkpoint;
    int json;
    char **pos;
    int npos;
} snap_args;

/* Returns -1 to go on, or an exit status. */
static int parse(snap_args *a, int argc, char **argv, int is_export, const char *usage)
{
    const char *command = is_export ? "export" : "import";
    static const struct option longopts[] = {
        {"tree", required_argument, NULL, 'T'},       {"json", no_argument, NULL, 'j'},
        {"checkpoint", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        DBOPT_LONGOPTS,                               {NULL, 0, NULL, 0}};
    int opt, taken;
    memset(a, 0, sizeof *a);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if ((taken = dbopt_take(&a->db, opt, optarg, command)) != 0) {
            if (taken < 0)
                return CLI_USAGE;
            continue;
        }
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return CLI_OK;
        case 'T':
            a->tree = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'c':
            if (!is_export)
                return cli_usage_error(command, "unknown option '--checkpoint'");
            if (cli_parse_u64(&a->checkpoint, optarg) != 0)
                return cli_usage_error(command, "--checkpoint wants a number, not '%s'", optarg);
            break;
        case ':':
            return cli_usage_error(command, "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error(command, "unknown option '%s'", argv[optind - 1]);
        }
    }
    a->pos = argv + optind;
    a->npos = argc - optind;
    if (a->npos < 2)
        return cli_usage_error(command, "needs DIR and FILE");
    if (a->npos > 2)
        return cli_usage_error(command, "unexpected argument '%s'", a->pos[2]);
    if (a->tree == NULL)
        return cli_usage_error(command, "needs --tree NAME");
    return -1;
}

static void report(const char *what, const snap_args *a, const bt_snapshot_info *in, double secs)
{
    const char *file = a->pos[1];
    double per_key = in->count ? (double)in->file_bytes / (double)in->count : 0.0;
    if (a->json) {
        char *d = hex_encode(in->digest, BT_DIGEST_LEN);
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:i,s:I,s:I,s:f,s:f}", "done", what, "tree",
                              a->tree, "file", file, "digest", d ? d : "", "keys",
                              (json_int_t)in->count, "height", (int)in->height, "checkpoint",
                              (json_int_t)in->checkpoint_id, "file_bytes",
                              (json_int_t)in->file_bytes, "bytes_per_key", per_key, "seconds",
                              secs);
        if (o != NULL)
            json_object_set_new(o, "key_length", json_integer((json_int_t)in->params.key_len));
        if (o != NULL)
            json_object_set_new(o, "value_length",
                                in->params.value_len == BT_VALUE_VARIABLE
                                    ? json_null()
                                    : json_integer((json_int_t)in->params.value_len));
        free(d);
        jsonio_print(o);
    } else {
        printf("%s: tree %s, %llu keys, height %u, %llu bytes (%.1f per key) in %.2f s\ndigest ",
               what, a->tree, (unsigned long long)in->count, in->height,
               (unsigned long long)in->file_bytes, per_key, secs);
        hex_fprint(stdout, in->digest, BT_DIGEST_LEN);
        printf("\n");
    }
}

static int run(int argc, char **argv, int is_export)
{
    const char *command = is_export ? "export" : "import";
    snap_args a;
    bt_db_options o;
    bt_db *db = NULL;
    int rc = parse(&a, argc, argv, is_export, is_export ? export_usage : import_usage);
    if (rc >= 0)
        return rc;
    if ((rc = dbopt_resolve(&o, &a.db, is_export, !is_export, command)) != CLI_OK)
        return rc;
    if (db_open_cli(&db, a.pos[0], &o, command) != CLI_OK) {
        dbopt_dispose(&a.db);
        return CLI_FAIL;
    }
    bt_snapshot_info info;
    double t0 = cli_now();
    int status = CLI_OK;
    rc = is_export ? bt_db_export(&info, db, a.tree, a.checkpoint, a.pos[1])
                   : bt_db_import(&info, db, a.tree, a.pos[1]);
    double secs = cli_now() - t0;
    if (rc != 0) {
        char what[300];
        snprintf(what, sizeof what, "%s %s", is_export ? "exporting tree" : "importing into tree",
                 a.tree);
        status = db_fail(db, command, what, rc);
    }
    int crc = bt_db_close(db);
    dbopt_dispose(&a.db);
    if (crc != 0) {
        cli_error("%s: closing the database: %s", command, bt_strerror(crc));
        return CLI_FAIL;
    }
    if (status == CLI_OK)
        report(is_export ? "export" : "import", &a, &info, secs);
    return status;
}

int cmd_export(int argc, char **argv)
{
    return run(argc, argv, 1);
}

int cmd_import(int argc, char **argv)
{
    return run(argc, argv, 0);
}
