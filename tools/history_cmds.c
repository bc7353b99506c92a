/*
 * history_cmds.c -- the history commands of the CLI: the operation log
 * (`log`), checkpoints (`checkpoint create|list|show|validate|rollback|
 * delete`) and `replay` (verification and point-in-time rebuild).
 *
 * Every command accepts --help, --json (one JSON object per line) and the
 * shared database options (dbcli.h).  Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <basistrees.h>

#include "cli.h"
#include "dbcli.h"
#include "hex.h"
#include "jsonio.h"

/* ---- shared parsing --------------------------------------------------------- */

enum {
    H_JSON = 1000 + 200,
    H_FROM,
    H_TO,
    H_SINCE,
    H_UNTIL,
    H_TREE,
    H_KEY,
    H_EXPORT,
    H_FORMAT,
    H_BEFORE,
    H_LABEL,
    H_INTO,
    H_TO_SEQ,
    H_TO_TIME,
    H_SAVE,
    H_FROM_CKPT
};

typedef struct hargs {
    db_cli db;
    int json;
    uint64_t from, to, since, until, before, to_seq, to_time, from_ckpt;
    int has_from, has_to, has_since, has_until, has_before;
    const char *tree, *key, *export_path, *format, *label, *into, *save;
    char **pos;
    int npos;
} hargs;

static int hparse(hargs *a, int argc, char **argv, const char *command, const char *usage)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, H_JSON},
        {"from", required_argument, NULL, H_FROM},
        {"to", required_argument, NULL, H_TO},
        {"since", required_argument, NULL, H_SINCE},
        {"until", required_argument, NULL, H_UNTIL},
        {"tree", required_argument, NULL, H_TREE},
        {"key", required_argument, NULL, H_KEY},
        {"export", required_argument, NULL, H_EXPORT},
        {"format", required_argument, NULL, H_FORMAT},
        {"before", required_argument, NULL, H_BEFORE},
        {"label", required_argument, NULL, H_LABEL},
        {"into", required_argument, NULL, H_INTO},
        {"to-seq", required_argument, NULL, H_TO_SEQ},
        {"to-time", required_argument, NULL, H_TO_TIME},
        {"save-discarded", required_argument, NULL, H_SAVE},
        {"from-checkpoint", required_argument, NULL, H_FROM_CKPT},
        {"help", no_argument, NULL, 'h'},
        DBOPT_LONGOPTS,
        {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->to = a->until = a->to_seq = a->to_time = UINT64_MAX;
    opterr = 0;
    optind = 1;
    int opt, taken;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if ((taken = dbopt_take(&a->db, opt, optarg, command)) != 0) {
            if (taken < 0) return CLI_USAGE;
            continue;
        }
        uint64_t *num = NULL;
        int *flag = NULL;
        switch (opt) {
        case 'h': fputs(usage, stdout); return CLI_OK;
        case ':': return cli_usage_error(command, "option '%s' needs a value", argv[optind - 1]);
        case H_JSON: a->json = 1; break;
        case H_FROM: num = &a->from; flag = &a->has_from; break;
        case H_TO: num = &a->to; flag = &a->has_to; break;
        case H_SINCE: num = &a->since; flag = &a->has_since; break;
        case H_UNTIL: num = &a->until; flag = &a->has_until; break;
        case H_BEFORE: num = &a->before; flag = &a->has_before; break;
        case H_TO_SEQ: num = &a->to_seq; break;
        case H_TO_TIME: num = &a->to_time; break;
        case H_FROM_CKPT: num = &a->from_ckpt; break;
        case H_TREE: a->tree = optarg; break;
        case H_KEY: a->key = optarg; break;
        case H_EXPORT: a->export_path = optarg; break;
        case H_FORMAT: a->format = optarg; break;
        case H_LABEL: a->label = optarg; break;
        case H_INTO: a->into = optarg; break;
        case H_SAVE: a->save = optarg; break;
        default: return cli_usage_error(command, "unknown option '%s'", argv[optind - 1]);
        }
        if (num && cli_parse_u64(num, optarg) != 0)
            return cli_usage_error(command, "'%s' wants a number, not '%s'", argv[optind - 2],
                                   optarg);
        if (flag) *flag = 1;
    }
    a->pos = argv + optind;
    a->npos = argc - optind;
    return -1;
}

static int hopen(bt_db **db, hargs *a, int writable, const char *command)
{
    bt_db_options o;
    int rc = dbopt_resolve(&o, &a->db, !writable, 0, command);
    if (rc != CLI_OK) return rc;
    if (db_open_cli(db, a->pos[0], &o, command) != CLI_OK) {
        dbopt_dispose(&a->db);
        return CLI_FAIL;
    }
    return -1;
}

static int hclose(bt_db *db, hargs *a, int status, const char *command)
{
    int rc = bt_db_close(db);
    dbopt_dispose(&a->db);
    if (rc != 0) {
        cli_error("%s: closing the database: %s", command, bt_strerror(rc));
        return CLI_FAIL;
    }
    return status;
}

/* ---- log ---------------------------------------------------------------------- */

static const char log_usage[] =
    "usage: " CLI_NAME " log DIR [--from SEQ] [--to SEQ] [--json]\n"
    "       " CLI_NAME " log DIR --since MS [--until MS] [--json]\n"
    "       " CLI_NAME " log DIR --tree NAME --key KEYHEX [--json]\n"
    "       " CLI_NAME " log DIR --export FILE|- [--format json|binary] [--from SEQ] [--to SEQ]\n"
    "       " CLI_NAME " log prune DIR --before SEQ [--json]\n"
    "       " CLI_NAME " log reindex DIR [--json]\n"
    "\n"
    "Queries the operation log: by sequence range (default: all), by commit\n"
    "time (milliseconds since the Unix epoch, inclusive), or the history of one\n"
    "key.  One line per operation: seq, commit, time, tree, op, key, value,\n"
    "previous value, and the tree's digest after that commit.  --export writes\n"
    "JSON lines or the binary log format (docs/FORMAT.md 4.4d) for audit or a\n"
    "follower.  `log prune` deletes operations before SEQ that no retained\n"
    "checkpoint and no recovery needs.  `log reindex` builds the time and key\n"
    "indexes of a database created before they existed.\n"
    "\n" DBOPT_HELP;

typedef struct printer {
    int json;
    uint64_t n;
} printer;

static int print_entry(void *ctx, const bt_oplog_entry *e)
{
    printer *p = ctx;
    p->n++;
    if (p->json) {
        json_t *o = json_pack("{s:I,s:I,s:I,s:s,s:s,s:o}", "op_seq", (json_int_t)e->op_seq,
                              "commit_seq", (json_int_t)e->commit_seq, "ts_ms",
                              (json_int_t)e->ts_ms, "tree", e->tree, "op", bt_op_name(e->type),
                              "key", jsonio_hexstr(e->key, e->key_len));
        if (e->value) json_object_set_new(o, "value", jsonio_hexstr(e->value, e->value_len));
        json_object_set_new(o, "prev", e->has_prev ? jsonio_hexstr(e->prev, e->prev_len) : json_null());
        json_object_set_new(o, "digest", jsonio_hexstr(e->digest, BT_DIGEST_LEN));
        jsonio_print(o);
        return 0;
    }
    printf("%llu commit %llu t %llu %s %s ", (unsigned long long)e->op_seq,
           (unsigned long long)e->commit_seq, (unsigned long long)e->ts_ms, e->tree,
           bt_op_name(e->type));
    hex_fprint(stdout, e->key, e->key_len);
    if (e->value) {
        printf(" = ");
        hex_fprint(stdout, e->value, e->value_len);
    }
    if (e->has_prev) {
        printf(" (was ");
        hex_fprint(stdout, e->prev, e->prev_len);
        printf(")");
    }
    printf(" -> ");
    hex_fprint(stdout, e->digest, BT_DIGEST_LEN);
    printf("\n");
    return 0;
}

static int log_prune(int argc, char **argv)
{
    hargs a;
    int rc = hparse(&a, argc, argv, "log prune", log_usage);
    if (rc >= 0) return rc;
    if (a.npos != 1) return cli_usage_error("log prune", "needs DIR");
    if (!a.has_before) return cli_usage_error("log prune", "needs --before SEQ");
    bt_db *db;
    if ((rc = hopen(&db, &a, 1, "log prune")) >= 0) return rc;
    uint64_t pruned = 0, first = 0, last = 0;
    rc = bt_db_oplog_prune(&pruned, db, a.before);
    if (!rc) rc = bt_db_oplog_bounds(&first, &last, db);
    if (rc) return hclose(db, &a, db_fail(db, "log prune", "pruning", rc), "log prune");
    if (a.json)
        jsonio_print(json_pack("{s:I,s:I,s:I}", "pruned", (json_int_t)pruned, "first", (json_int_t)first,
                       "last", (json_int_t)last));
    else
        printf("pruned %llu operations; the log now holds ops %llu..%llu\n",
               (unsigned long long)pruned, (unsigned long long)first, (unsigned long long)last);
    return hclose(db, &a, CLI_OK, "log prune");
}

static int log_reindex(int argc, char **argv)
{
    hargs a;
    int rc = hparse(&a, argc, argv, "log reindex", log_usage);
    if (rc >= 0) return rc;
    if (a.npos != 1) return cli_usage_error("log reindex", "needs DIR");
    bt_db *db;
    if ((rc = hopen(&db, &a, 1, "log reindex")) >= 0) return rc;
    uint64_t n = 0;
    if ((rc = bt_db_oplog_reindex(&n, db)))
        return hclose(db, &a, db_fail(db, "log reindex", "indexing", rc), "log reindex");
    if (a.json) jsonio_print(json_pack("{s:I}", "indexed_ops", (json_int_t)n));
    else printf("indexed %llu operations\n", (unsigned long long)n);
    return hclose(db, &a, CLI_OK, "log reindex");
}

int cmd_log(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "prune") == 0) return log_prune(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "reindex") == 0) return log_reindex(argc - 1, argv + 1);
    hargs a;
    int rc = hparse(&a, argc, argv, "log", log_usage);
    if (rc >= 0) return rc;
    if (a.npos != 1) return cli_usage_error("log", "needs DIR");
    int modes = (a.has_since || a.has_until) + (a.key != NULL) + (a.export_path != NULL);
    if (modes > 1) return cli_usage_error("log", "give one of --since/--until, --key, --export");
    if ((a.key != NULL) != (a.tree != NULL) && !a.export_path)
        return cli_usage_error("log", "--key and --tree go together");
    int format = 0;
    if (a.format) {
        if (strcmp(a.format, "json") == 0) format = 0;
        else if (strcmp(a.format, "binary") == 0) format = 1;
        else return cli_usage_error("log", "--format wants json or binary, not '%s'", a.format);
    }
    uint8_t *key = NULL;
    size_t key_len = 0;
    if (a.key && hex_decode(&key, &key_len, a.key) != 0)
        return cli_usage_error("log", "--key is not hex: '%s'", a.key);
    bt_db *db;
    if ((rc = hopen(&db, &a, 0, "log")) >= 0) {
        free(key);
        return rc;
    }
    printer p = {a.json, 0};
    if (a.export_path) {
        int fd = strcmp(a.export_path, "-") == 0
                     ? STDOUT_FILENO
                     : open(a.export_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            cli_error("log: cannot create %s: %s", a.export_path, strerror(errno));
            return hclose(db, &a, CLI_FAIL, "log");
        }
        rc = bt_db_oplog_export(db, fd, format, a.from, a.to);
        if (!rc && fd != STDOUT_FILENO && fsync(fd) != 0) rc = BT_EIO;
        if (fd != STDOUT_FILENO && close(fd) != 0 && !rc) rc = BT_EIO;
    } else if (a.key) {
        rc = bt_db_oplog_key(db, a.tree, key, key_len, print_entry, &p);
    } else if (a.has_since || a.has_until) {
        rc = bt_db_oplog_time(db, a.since, a.until, print_entry, &p);
    } else {
        rc = bt_db_oplog_range(db, a.from, a.to, print_entry, &p);
    }
    free(key);
    if (rc) return hclose(db, &a, db_fail(db, "log", "reading the log", rc), "log");
    return hclose(db, &a, CLI_OK, "log");
}

/* ---- checkpoint ------------------------------------------------------------------ */

static const char ckpt_usage[] =
    "usage: " CLI_NAME " checkpoint create DIR [--label TEXT] [--json]\n"
    "       " CLI_NAME " checkpoint list DIR [--json]\n"
    "       " CLI_NAME " checkpoint show DIR [ID] [--json]        (default: the newest)\n"
    "       " CLI_NAME " checkpoint validate DIR [ID] [--json]    (default: all)\n"
    "       " CLI_NAME " checkpoint rollback DIR ID [--save-discarded FILE] [--json]\n"
    "       " CLI_NAME " checkpoint delete DIR ID [--json]\n"
    "\n"
    "Checkpoints pin the committed version of every tree (the tracker's on-chain\n"
    "commitment), so that proofs against it keep working while the head moves on\n"
    "(`prove --checkpoint ID`).  `validate` reloads every node of the checkpoint\n"
    "from disk and recomputes every label.  `rollback` discards everything after\n"
    "the checkpoint (operations, later checkpoints); --save-discarded first writes\n"
    "the discarded operations as JSON lines.  Retention: the options\n"
    "checkpoint_keep and checkpoint_keep_ms (config file, section [db]).\n"
    "\n" DBOPT_HELP;

static json_t *ckpt_json(const bt_checkpoint *c)
{
    json_t *trees = json_array();
    for (size_t i = 0; i < c->ntrees; i++)
        json_array_append_new(trees, json_pack("{s:s,s:o,s:I}", "name", c->trees[i].name, "digest",
                                               jsonio_hexstr(c->trees[i].digest, BT_DIGEST_LEN), "count",
                                               (json_int_t)c->trees[i].count));
    return json_pack("{s:I,s:I,s:I,s:I,s:s,s:o}", "id", (json_int_t)c->id, "ts_ms",
                     (json_int_t)c->ts_ms, "commit_seq", (json_int_t)c->commit_seq, "op_seq",
                     (json_int_t)c->op_seq, "label", c->label, "trees", trees);
}

static void ckpt_print(const bt_checkpoint *c, int json)
{
    if (json) {
        jsonio_print(ckpt_json(c));
        return;
    }
    printf("checkpoint %llu  time %llu  commit %llu  op %llu%s%s\n", (unsigned long long)c->id,
           (unsigned long long)c->ts_ms, (unsigned long long)c->commit_seq,
           (unsigned long long)c->op_seq, c->label[0] ? "  label " : "", c->label);
    for (size_t i = 0; i < c->ntrees; i++) {
        printf("  %-20s %llu notes  ", c->trees[i].name, (unsigned long long)c->trees[i].count);
        hex_fprint(stdout, c->trees[i].digest, BT_DIGEST_LEN);
        printf("\n");
    }
}

static int want_id(uint64_t *id, const hargs *a, int required, const char *command)
{
    *id = 0;
    if (a->npos < 2) return required ? cli_usage_error(command, "needs DIR and ID") : -1;
    if (a->npos > 2) return cli_usage_error(command, "unexpected argument '%s'", a->pos[2]);
    if (cli_parse_u64(id, a->pos[1]) != 0 || *id == 0)
        return cli_usage_error(command, "ID wants a number >= 1, not '%s'", a->pos[1]);
    return -1;
}

typedef struct saver {
    FILE *f;
} saver;

int cmd_checkpoint(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(ckpt_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    static const char *const subs[] = {"create", "list", "show", "validate", "rollback", "delete"};
    int which = -1;
    for (int i = 0; i < 6; i++)
        if (strcmp(sub, subs[i]) == 0) which = i;
    if (which < 0) return cli_usage_error("checkpoint", "unknown subcommand '%s'", sub);
    char command[64];
    snprintf(command, sizeof command, "checkpoint %s", sub);
    hargs a;
    int rc = hparse(&a, argc - 1, argv + 1, command, ckpt_usage);
    if (rc >= 0) return rc;
    if (a.npos < 1) return cli_usage_error(command, "needs DIR");
    uint64_t id = 0;
    if (which == 0 || which == 1) {
        if (a.npos > 1) return cli_usage_error(command, "unexpected argument '%s'", a.pos[1]);
    } else if ((rc = want_id(&id, &a, which >= 4, command)) >= 0) {
        return rc;
    }
    if (a.label && which != 0) return cli_usage_error(command, "--label is for create");
    if (a.label && strlen(a.label) > BT_CHECKPOINT_LABEL_MAX)
        return cli_usage_error(command, "--label: at most %d bytes", BT_CHECKPOINT_LABEL_MAX);
    if (a.save && which != 4) return cli_usage_error(command, "--save-discarded is for rollback");
    bt_db *db;
    int writable = which == 0 || which >= 4;
    if ((rc = hopen(&db, &a, writable, command)) >= 0) return rc;
    int status = CLI_OK;
    bt_checkpoint *c = NULL;
    size_t n = 0;
    switch (which) {
    case 0:
        rc = bt_db_checkpoint_create(&id, db, a.label);
        if (!rc) rc = bt_db_checkpoint_get(&c, db, id);
        if (!rc) ckpt_print(c, a.json);
        break;
    case 1:
        rc = bt_db_checkpoint_list(&c, &n, db);
        for (size_t i = 0; !rc && i < n; i++) ckpt_print(&c[i], a.json);
        if (!rc && !n && !a.json) printf("no checkpoints\n");
        break;
    case 2:
        rc = bt_db_checkpoint_get(&c, db, id);
        if (!rc) ckpt_print(c, a.json);
        break;
    case 3:
        if (id) {
            rc = bt_db_checkpoint_validate(db, id);
            if (a.json) jsonio_print(json_pack("{s:I,s:b}", "id", (json_int_t)id, "valid", rc == 0));
            else if (!rc) printf("checkpoint %llu: valid\n", (unsigned long long)id);
        } else {
            rc = bt_db_checkpoint_list(&c, &n, db);
            for (size_t i = 0; !rc && i < n; i++) {
                rc = bt_db_checkpoint_validate(db, c[i].id);
                if (a.json) jsonio_print(json_pack("{s:I,s:b}", "id", (json_int_t)c[i].id, "valid", rc == 0));
                else if (!rc) printf("checkpoint %llu: valid\n", (unsigned long long)c[i].id);
            }
        }
        break;
    case 4: {
        if (a.save) {
            rc = bt_db_checkpoint_get(&c, db, id);
            int fd = rc ? -1 : open(a.save, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (!rc && fd < 0) {
                cli_error("%s: cannot create %s: %s", command, a.save, strerror(errno));
                status = CLI_FAIL;
                break;
            }
            if (!rc) rc = bt_db_oplog_export(db, fd, 0, c->op_seq + 1, UINT64_MAX);
            if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0) && !rc) rc = BT_EIO;
            bt_free(c);
            c = NULL;
        }
        if (!rc) rc = bt_db_rollback(db, id);
        if (!rc) {
            uint64_t first, last;
            rc = bt_db_oplog_bounds(&first, &last, db);
            if (a.json) jsonio_print(json_pack("{s:I,s:I}", "rolled_back_to", (json_int_t)id, "op_seq",
                                       (json_int_t)last));
            else printf("rolled back to checkpoint %llu (op %llu)\n", (unsigned long long)id,
                        (unsigned long long)last);
        }
        break;
    }
    case 5:
        rc = bt_db_checkpoint_delete(db, id);
        if (!rc) {
            if (a.json) jsonio_print(json_pack("{s:I}", "deleted", (json_int_t)id));
            else printf("deleted checkpoint %llu\n", (unsigned long long)id);
        }
        break;
    }
    bt_free(c);
    if (rc) status = db_fail(db, command, sub, rc);
    return hclose(db, &a, status, command);
}

/* ---- replay ----------------------------------------------------------------------- */

static const char replay_usage[] =
    "usage: " CLI_NAME " replay DIR [--from-checkpoint ID] [--into NEWDIR] [--to-seq SEQ]\n"
    "                      [--to-time MS] [--json]\n"
    "\n"
    "Replays the operation log from empty (or from the versions checkpoint ID\n"
    "pinned), checking after every commit that the digests it recorded are\n"
    "reproduced.  With --into, writes the result into a new database\n"
    "(point-in-time recovery: whole commits only, stopping before the first\n"
    "commit that would pass op SEQ and/or the first commit later than MS\n"
    "milliseconds since the Unix epoch).  From empty it needs the log from op 1\n"
    "(not pruned); from a checkpoint, the log after it (never pruned).\n"
    "\n" DBOPT_HELP;

int cmd_replay(int argc, char **argv)
{
    hargs a;
    int rc = hparse(&a, argc, argv, "replay", replay_usage);
    if (rc >= 0) return rc;
    if (a.npos != 1) return cli_usage_error("replay", "needs DIR");
    bt_db *db;
    if ((rc = hopen(&db, &a, 0, "replay")) >= 0) return rc;
    bt_db_options o;
    if (a.into && dbopt_resolve(&o, &a.db, 0, 1, "replay") != CLI_OK)
        return hclose(db, &a, CLI_USAGE, "replay");
    bt_replay_info info;
    rc = bt_db_replay_from(&info, db, a.from_ckpt, a.into, a.into ? &o : NULL, a.to_seq,
                           a.to_time);
    if (rc) return hclose(db, &a, db_fail(db, "replay", "replaying", rc), "replay");
    double rate = info.seconds > 0 ? (double)info.ops / info.seconds : 0;
    if (a.json)
        jsonio_print(json_pack("{s:I,s:I,s:I,s:I,s:f,s:f,s:s?}", "commits", (json_int_t)info.commits, "ops",
                       (json_int_t)info.ops, "last_op_seq", (json_int_t)info.last_op_seq,
                       "last_ts_ms", (json_int_t)info.last_ts_ms, "seconds", info.seconds,
                       "ops_per_s", rate, "into", a.into));
    else
        printf("replayed %llu commits, %llu ops (to op %llu) in %.2f s (%.0f ops/s): every "
               "recorded digest reproduced%s%s\n",
               (unsigned long long)info.commits, (unsigned long long)info.ops,
               (unsigned long long)info.last_op_seq, info.seconds, rate,
               a.into ? "; written to " : "", a.into ? a.into : "");
    return hclose(db, &a, CLI_OK, "replay");
}
