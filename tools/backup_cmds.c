/*
 * backup_cmds.c -- basis-trees backup create|list|verify|restore|prune.
 *
 *   backup create DB BACKUP_DIR [--no-verify] [--keep-days N] [db options]
 *   backup list BACKUP_DIR [--json]
 *   backup verify BACKUP_DIR [ID] [--json]
 *   backup restore BACKUP_DIR [ID] TARGET_DIR [--json]
 *   backup prune BACKUP_DIR --keep-days N [--keep-min N]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <basistrees.h>

#include "cli.h"
#include "dbcli.h"
#include "hex.h"
#include "ops_cmds.h"

static const char backup_usage[] =
    "usage: " CLI_NAME " backup create DB BACKUP_DIR [--no-verify] [--keep-days N] [DATABASE OPTIONS]\n"
    "       " CLI_NAME " backup list BACKUP_DIR [--json]\n"
    "       " CLI_NAME " backup verify BACKUP_DIR [ID] [--json]\n"
    "       " CLI_NAME " backup restore BACKUP_DIR [ID] TARGET_DIR [--json]\n"
    "       " CLI_NAME " backup prune BACKUP_DIR --keep-days N [--keep-min N]\n"
    "\n"
    "Online, incremental backups (RocksDB BackupEngine) while the database is in use.\n"
    "create    opens DB as its writer (stop other writers, or call bt_db_backup from the\n"
    "          program that owns it), backs it up, then restores the backup into a\n"
    "          scratch directory and checks it (unless --no-verify); --keep-days N then\n"
    "          prunes backups older than N days (keeping the newest).\n"
    "list      the backups, oldest first, with the committed state each restores to.\n"
    "verify    every file's size, then a full restore, check and comparison with the\n"
    "          backup's record (ID defaults to the newest).\n"
    "restore   into TARGET_DIR, which must not exist; the copy is opened and checked\n"
    "          before it appears under its name.\n"
    "prune     deletes backups older than N days, keeping at least --keep-min (1).\n"
    "\n" DBOPT_HELP;

static void print_info(const bt_backup_info *b, int json)
{
    char *h = b->verified ? hex_encode(b->state_hash, sizeof b->state_hash) : NULL;
    if (json) {
        printf("{\"id\":%u,\"timestamp\":%llu,\"size_bytes\":%llu,\"files\":%u,\"verified\":%s",
               b->id, (unsigned long long)b->timestamp, (unsigned long long)b->size_bytes,
               b->files, b->verified ? "true" : "false");
        if (b->verified)
            printf(",\"commit_seq\":%llu,\"op_seq\":%llu,\"trees\":%u,\"state_hash\":\"%s\"",
                   (unsigned long long)b->commit_seq, (unsigned long long)b->op_seq, b->trees,
                   h ? h : "");
        printf("}\n");
    } else {
        char when[32] = "?";
        time_t t = (time_t)b->timestamp;
        struct tm tm;
        if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("backup %u  %s  %llu bytes  %u files", b->id, when,
               (unsigned long long)b->size_bytes, b->files);
        if (b->verified)
            printf("  commit %llu  %u trees  state %.16s", (unsigned long long)b->commit_seq,
                   b->trees, h ? h : "");
        else
            printf("  (not verified)");
        printf("\n");
    }
    free(h);
}

static int parse_id(uint32_t *out, const char *s)
{
    uint64_t v;
    if (cli_parse_u64(&v, s) != 0 || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int backup_create(int argc, char **argv)
{
    static const struct option longopts[] = {{"no-verify", no_argument, NULL, 'n'},
                                             {"keep-days", required_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             DBOPT_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    db_cli d;
    memset(&d, 0, sizeof d);
    int verify = 1, c;
    uint64_t keep_days = 0;
    int have_keep = 0;
    opterr = 0; /* our own messages, naming the option */
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int t = dbopt_take(&d, c, optarg, "backup");
        if (t < 0) return CLI_USAGE;
        if (t > 0) continue;
        switch (c) {
        case 'n': verify = 0; break;
        case 'k':
            if (cli_parse_u64(&keep_days, optarg) != 0 || keep_days > 100000)
                return cli_usage_error("backup", "--keep-days: a number of days");
            have_keep = 1;
            break;
        case 'h': fputs(backup_usage, stdout); return CLI_OK;
        case ':': return cli_usage_error("backup", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("backup", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) return cli_usage_error("backup", "create needs DB and BACKUP_DIR");
    const char *dir = argv[optind], *bdir = argv[optind + 1];
    bt_db_options o;
    int rc = dbopt_resolve(&o, &d, 0, 0, "backup");
    if (rc != CLI_OK) return rc;
    bt_db *db = NULL;
    if ((rc = db_open_cli(&db, dir, &o, "backup")) != CLI_OK) {
        dbopt_dispose(&d);
        return rc;
    }
    bt_backup_info bi;
    int r = bt_db_backup(&bi, db, bdir, verify);
    if (r) rc = db_fail(db, "backup", "create", r);
    else print_info(&bi, 0);
    int cr = bt_db_close(db);
    if (cr && rc == CLI_OK) rc = db_fail(NULL, "backup", "close", cr);
    dbopt_dispose(&d);
    if (rc == CLI_OK && have_keep) {
        char msg[512] = "";
        uint32_t removed = 0;
        r = bt_backup_prune(&removed, bdir, keep_days * 86400u, 1, 0, msg, sizeof msg);
        if (r) {
            cli_error("backup: prune: %s (%s)", bt_strerror(r), msg);
            rc = CLI_FAIL;
        } else if (removed) {
            printf("pruned %u backups older than %llu days\n", removed,
                   (unsigned long long)keep_days);
        }
    }
    return rc;
}

int cmd_backup(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(backup_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "create") == 0) return backup_create(argc - 1, argv + 1);
    /* the other subcommands: positional arguments, --json, a few numbers */
    int json = 0;
    const char *pos[4];
    size_t npos = 0;
    uint64_t keep_days = 0, keep_min = 1;
    int have_keep = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(backup_usage, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--keep-days") == 0 && i + 1 < argc) {
            if (cli_parse_u64(&keep_days, argv[++i]) != 0 || keep_days > 100000)
                return cli_usage_error("backup", "--keep-days: a number of days");
            have_keep = 1;
        } else if (strcmp(argv[i], "--keep-min") == 0 && i + 1 < argc) {
            if (cli_parse_u64(&keep_min, argv[++i]) != 0 || keep_min > 100000)
                return cli_usage_error("backup", "--keep-min: a number");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("backup", "unknown option '%s'", argv[i]);
        } else if (npos < 4) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage_error("backup", "too many arguments");
        }
    }
    char msg[512] = "";
    int r;
    if (strcmp(sub, "list") == 0) {
        if (npos != 1) return cli_usage_error("backup", "list needs BACKUP_DIR");
        bt_backup_info *arr = NULL;
        size_t n = 0;
        if ((r = bt_backup_list(&arr, &n, pos[0], msg, sizeof msg)) != 0) {
            cli_error("backup: list: %s (%s)", bt_strerror(r), msg);
            return CLI_FAIL;
        }
        for (size_t i = 0; i < n; i++) print_info(&arr[i], json);
        bt_free(arr);
        return CLI_OK;
    }
    if (strcmp(sub, "verify") == 0 || strcmp(sub, "restore") == 0) {
        int restore = sub[0] == 'r';
        size_t need = restore ? 2 : 1;
        uint32_t id = 0;
        if (npos != need && npos != need + 1)
            return cli_usage_error("backup", restore ? "restore needs BACKUP_DIR [ID] TARGET_DIR"
                                                     : "verify needs BACKUP_DIR [ID]");
        if (npos == need + 1 && parse_id(&id, pos[1]) != 0)
            return cli_usage_error("backup", "ID must be a number");
        bt_backup_info bi;
        if (restore) r = bt_backup_restore(&bi, pos[0], id, pos[npos - 1], msg, sizeof msg);
        else r = bt_backup_verify(&bi, pos[0], id, msg, sizeof msg);
        if (r) {
            cli_error("backup: %s: %s (%s)", sub, bt_strerror(r), msg);
            return CLI_FAIL;
        }
        if (!json) printf("%s: ", restore ? "restored" : "verified");
        print_info(&bi, json);
        return CLI_OK;
    }
    if (strcmp(sub, "prune") == 0) {
        if (npos != 1 || !have_keep) return cli_usage_error("backup", "prune needs BACKUP_DIR --keep-days N");
        uint32_t removed = 0;
        r = bt_backup_prune(&removed, pos[0], keep_days * 86400u, (uint32_t)keep_min, 0, msg,
                            sizeof msg);
        if (r) {
            cli_error("backup: prune: %s (%s)", bt_strerror(r), msg);
            return CLI_FAIL;
        }
        printf("pruned %u backups\n", removed);
        return CLI_OK;
    }
    return cli_usage_error("backup", "unknown subcommand '%s'", sub);
}
