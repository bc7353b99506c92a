/*
 * db_cmds.c -- the database commands of basis-trees (public API only):
 *
 *   init DIR [--tree NAME [--key-len N] [--values var|N]]...
 *   tree create DIR NAME [--key-len N] [--values var|N] [--value-max N]
 *   tree list DIR
 *   apply DIR [--tree NAME] FILE|- [--batch N] [--proof-dir D]
 *   get DIR [--tree NAME] KEYHEX
 *   prove DIR [--tree NAME] KEYHEX... | --whatif FILE
 *   root DIR [--tree NAME] [--flags N]
 *   stats DIR, check DIR [--tree NAME], flush DIR, compact DIR
 *
 * All accept --help, --json (one JSON object per line instead of text) and
 * the database options of dbcli.h.  --tree may be left out when the database
 * holds exactly one tree.  Reading commands open the database read-only;
 * only init creates one.  Exit status: 0 ok, 1 failure (a call failed, a key
 * is absent, a check found corruption), 2 usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <basistrees.h>

#include "cli.h"
#include "dbcli.h"
#include "hex.h"
#include "jsonio.h"

#define MAX_TREE_SPECS 64
#define BATCH_MAX 10000000u

/* Which command-specific options a command accepts. */
enum {
    A_TREE = 1 << 0,      /* --tree NAME                                   */
    A_JSON = 1 << 1,      /* --json                                        */
    A_BATCH = 1 << 2,     /* --batch N                                     */
    A_PROOFDIR = 1 << 3,  /* --proof-dir D                                 */
    A_WHATIF = 1 << 4,    /* --whatif FILE                                 */
    A_FLAGS = 1 << 5,     /* --flags N                                     */
    A_PARAMS = 1 << 6,    /* --key-len, --values, --value-max              */
    A_MULTITREE = 1 << 7, /* --tree starts a tree spec; params follow it   */
    A_CKPT = 1 << 8       /* --checkpoint ID                               */
};

typedef struct tree_spec {
    const char *name;
    bt_params params;
} tree_spec;

typedef struct cmd_args {
    db_cli db;
    int json;
    const char *tree;
    uint64_t batch;
    const char *proof_dir;
    const char *whatif;
    uint64_t flags;
    uint64_t checkpoint; /* 0: the head */
    tree_spec specs[MAX_TREE_SPECS];
    size_t nspecs;
    char **pos; /* positional arguments */
    int npos;
} cmd_args;

static int parse_values(bt_params *p, const char *s)
{
    uint64_t v;
    if (strcmp(s, "var") == 0) {
        p->value_len = BT_VALUE_VARIABLE;
        return 0;
    }
    if (cli_parse_u64(&v, s) != 0 || v > BT_VALUE_LEN_LIMIT)
        return -1;
    p->value_len = (uint32_t)v;
    return 0;
}

/* Parses argv; returns -1 to go on, or the exit status (help printed,
 * usage error). */
static int parse_args(cmd_args *a, int argc, char **argv, unsigned allowed, const char *command,
                      const char *usage)
{
    static const struct option longopts[] = {
        {"tree", required_argument, NULL, 'T'},     {"json", no_argument, NULL, 'j'},
        {"batch", required_argument, NULL, 'b'},    {"proof-dir", required_argument, NULL, 'P'},
        {"whatif", required_argument, NULL, 'w'},   {"flags", required_argument, NULL, 'f'},
        {"key-len", required_argument, NULL, 'k'},  {"values", required_argument, NULL, 'v'},
        {"value-max", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {"checkpoint", required_argument, NULL, 'C'},
        DBOPT_LONGOPTS,                             {NULL, 0, NULL, 0}};
    static const struct { int opt; unsigned need; } needs[] = {
        {'T', A_TREE | A_MULTITREE}, {'j', A_JSON}, {'b', A_BATCH}, {'P', A_PROOFDIR},
        {'w', A_WHATIF}, {'f', A_FLAGS}, {'k', A_PARAMS}, {'v', A_PARAMS}, {'m', A_PARAMS}, {'C', A_CKPT}};
    const bt_params defaults = BT_PARAMS_INIT;
    int opt, taken;
    uint64_t num;

    memset(a, 0, sizeof *a);
    a->batch = 1000;
    a->flags = BT_AVL_INSERT_ALLOWED | BT_AVL_UPDATE_ALLOWED;
    if (!(allowed & A_MULTITREE) && (allowed & A_PARAMS)) {
        a->specs[0].params = defaults; /* tree create: one implicit spec */
        a->nspecs = 1;
    }
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if ((taken = dbopt_take(&a->db, opt, optarg, command)) != 0) {
            if (taken < 0)
                return CLI_USAGE;
            continue;
        }
        if (opt == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (opt == ':')
            return cli_usage_error(command, "option '%s' needs a value", argv[optind - 1]);
        unsigned need = 0;
        for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
            if (needs[i].opt == opt)
                need = needs[i].need;
        if (opt == '?' || !(need & allowed))
            return cli_usage_error(command, "unknown option '%s'", argv[optind - 1]);
        tree_spec *cur = a->nspecs > 0 ? &a->specs[a->nspecs - 1] : NULL;
        switch (opt) {
        case 'T':
            if (allowed & A_MULTITREE) {
                if (a->nspecs == MAX_TREE_SPECS)
                    return cli_usage_error(command, "at most %d trees", MAX_TREE_SPECS);
                a->specs[a->nspecs].name = optarg;
                a->specs[a->nspecs].params = defaults;
                a->nspecs++;
            } else {
                a->tree = optarg;
            }
            break;
        case 'j': a->json = 1; break;
        case 'C':
            if (cli_parse_u64(&a->checkpoint, optarg) != 0 || a->checkpoint == 0)
                return cli_usage_error(command, "--checkpoint wants an id >= 1, not '%s'", optarg);
            break;
        case 'P': a->proof_dir = optarg; break;
        case 'w': a->whatif = optarg; break;
        case 'b':
            if (cli_parse_u64(&a->batch, optarg) != 0 || a->batch == 0 || a->batch > BATCH_MAX)
                return cli_usage_error(command, "--batch wants 1..%u, not '%s'", BATCH_MAX, optarg);
            break;
        case 'f':
            if (cli_parse_u64(&a->flags, optarg) != 0 || a->flags > 7)
                return cli_usage_error(command, "--flags wants 0..7, not '%s'", optarg);
            break;
        case 'k':
        case 'v':
        case 'm':
            if (cur == NULL)
                return cli_usage_error(command, "'%s' must follow --tree NAME", argv[optind - 1]);
            if (opt == 'v') {
                if (parse_values(&cur->params, optarg) != 0)
                    return cli_usage_error(command, "--values wants 'var' or a length, not '%s'",
                                           optarg);
            } else if (cli_parse_u64(&num, optarg) != 0 ||
                       num > (opt == 'k' ? BT_KEY_LEN_MAX : BT_VALUE_LEN_LIMIT) ||
                       (opt == 'k' && num == 0)) {
                return cli_usage_error(command, "bad value '%s' for %s", optarg,
                                       opt == 'k' ? "--key-len (1..255)" : "--value-max");
            } else if (opt == 'k') {
                cur->params.key_len = (unsigned)num;
            } else {
                cur->params.value_max = (uint32_t)num;
            }
            break;
        }
    }
    a->pos = argv + optind;
    a->npos = argc - optind;
    return -1;
}

/* Checks the number of positional arguments. */
static int want_pos(const cmd_args *a, int min, int max, const char *command, const char *what)
{
    if (a->npos < min)
        return cli_usage_error(command, "needs %s", what);
    if (max >= 0 && a->npos > max)
        return cli_usage_error(command, "unexpected argument '%s'", a->pos[max]);
    return -1;
}

/* Parses, then builds the options and opens the database.  Returns -1 to go
 * on (with *db open), or the exit status. */
static int begin(bt_db **db, cmd_args *a, int argc, char **argv, unsigned allowed, int min_pos,
                 int max_pos, const char *what, int writable, const char *command,
                 const char *usage)
{
    bt_db_options o;
    int rc = parse_args(a, argc, argv, allowed, command, usage);
    if (rc >= 0)
        return rc;
    if ((rc = want_pos(a, min_pos, max_pos, command, what)) >= 0)
        return rc;
    if ((rc = dbopt_resolve(&o, &a->db, !writable, 0, command)) != CLI_OK)
        return rc;
    if (db_open_cli(db, a->pos[0], &o, command) != CLI_OK) {
        dbopt_dispose(&a->db);
        return CLI_FAIL;
    }
    return -1;
}

/* Closes the database; a failed close turns status into CLI_FAIL. */
static int finish(bt_db *db, cmd_args *a, int status, const char *command)
{
    int rc = bt_db_close(db);
    dbopt_dispose(&a->db);
    if (rc != 0) {
        cli_error("%s: closing the database: %s", command, bt_strerror(rc));
        return CLI_FAIL;
    }
    return status;
}

/* The tree to work on: --tree, or the only tree of the database.  Returns
 * -1 to go on, or an exit status. */
static int pick_tree(const char **out, bt_db *db, const cmd_args *a, const char *command)
{
    char **names = NULL;
    size_t n = 0;
    bt_params p;
    if (a->tree != NULL) {
        int rc = bt_db_tree_params(&p, db, a->tree);
        if (rc != 0)
            return db_fail(db, command, a->tree, rc);
        *out = a->tree;
        return -1;
    }
    int rc = bt_db_tree_list(&names, &n, db);
    if (rc != 0)
        return db_fail(db, command, "listing trees", rc);
    static char only[256];
    if (n == 1)
        snprintf(only, sizeof only, "%s", names[0]);
    bt_free(names);
    if (n != 1)
        return cli_usage_error(command, "the database has %zu trees: name one with --tree", n);
    *out = only;
    return -1;
}

/* ---- output helpers ---------------------------------------------------- */

static void print_hex_line(const char *label, const uint8_t *buf, size_t len)
{
    printf("%s ", label);
    hex_fprint(stdout, buf, len);
    printf("\n");
}

static json_t *params_json(const bt_params *p)
{
    return json_pack("{s:i,s:o}", "key_length", (json_int_t)p->key_len, "value_length",
                     p->value_len == BT_VALUE_VARIABLE ? json_null()
                                                       : json_integer((json_int_t)p->value_len));
}

/* Adds key_length / value_length to o. */
static void add_params(json_t *o, const bt_params *p)
{
    json_t *pj = params_json(p);
    if (o != NULL && pj != NULL)
        json_object_update(o, pj);
    json_decref(pj);
}

static void params_text(char *buf, size_t cap, const bt_params *p)
{
    if (p->value_len == BT_VALUE_VARIABLE)
        snprintf(buf, cap, "key_len=%u values=var", p->key_len);
    else
        snprintf(buf, cap, "key_len=%u values=%u", p->key_len, (unsigned)p->value_len);
}

/* ---- ops files ----------------------------------------------------------- */

/* A stream of operations, one JSON object per line (blank lines skipped). */
typedef struct ops_reader {
    const char *path;
    FILE *f;
    char *line;
    size_t cap;
    unsigned long lineno;
} ops_reader;

static int ops_open(ops_reader *r, const char *path, const char *command)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (r->f == NULL) {
        cli_error("%s: cannot open %s: %s", command, path, strerror(errno));
        return -1;
    }
    return 0;
}

static void ops_close(ops_reader *r)
{
    if (r->f != NULL && r->f != stdin)
        fclose(r->f);
    free(r->line);
}

/* Appends up to max operations to list.  Returns the number read (0 at the
 * end of the input) or -1 after printing FILE:LINE: why. */
static long ops_read(op_list *list, ops_reader *r, size_t max, const char *command)
{
    size_t got = 0;
    ssize_t len;
    while (got < max && (len = getline(&r->line, &r->cap, r->f)) >= 0) {
        char err[200];
        json_error_t jerr;
        r->lineno++;
        if (strspn(r->line, " \t\r\n") == (size_t)len)
            continue;
        json_t *obj = json_loadb(r->line, (size_t)len, 0, &jerr);
        int rc = obj ? jsonio_op_append(list, obj, err, sizeof err) : -1;
        json_decref(obj);
        if (rc != 0) {
            cli_error("%s: %s:%lu: %s", command, r->path, r->lineno, obj ? err : jerr.text);
            return -1;
        }
        got++;
    }
    if (ferror(r->f)) {
        cli_error("%s: reading %s: %s", command, r->path, strerror(errno));
        return -1;
    }
    return (long)got;
}

static json_t *op_json(const bt_op *op)
{
    json_t *o = json_pack("{s:s,s:o}", "op", bt_op_name(op->type), "key",
                          jsonio_hexstr(op->key, op->key_len));
    if (o != NULL && (op->type == BT_OP_INSERT || op->type == BT_OP_UPDATE ||
                      op->type == BT_OP_INSERT_OR_UPDATE))
        json_object_set_new(o, "value", jsonio_hexstr(op->value, op->value_len));
    return o;
}

/* ---- init / tree ----------------------------------------------------------- */

static int dir_has_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int found = 0;
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    while (!found && (e = readdir(d)) != NULL)
        found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return found;
}

/* Creates one tree and reports it. */
static int create_tree(bt_db *db, const tree_spec *t, int json, const char *command)
{
    uint8_t digest[BT_DIGEST_LEN];
    char ptext[64];
    int rc = bt_db_tree_create(db, t->name, &t->params);
    if (rc == 0)
        rc = bt_db_digest(digest, db, t->name);
    if (rc != 0) {
        char what[128];
        snprintf(what, sizeof what, "creating tree %s", t->name);
        return db_fail(db, command, what, rc);
    }
    if (json) {
        json_t *o = json_pack("{s:s,s:o}", "tree", t->name, "digest", jsonio_hexstr(digest, sizeof digest));
        add_params(o, &t->params);
        jsonio_print(o);
    } else {
        params_text(ptext, sizeof ptext, &t->params);
        printf("tree %s %s digest ", t->name, ptext);
        hex_fprint(stdout, digest, sizeof digest);
        printf("\n");
    }
    return CLI_OK;
}

static const char init_usage[] =
    "usage: " CLI_NAME " init DIR [--tree NAME [--key-len N] [--values var|N] [--value-max N]]...\n"
    "                       [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Creates a database in DIR (which must not exist or be empty) and the trees\n"
    "named with --tree; --key-len (default 32), --values (default var) and\n"
    "--value-max apply to the --tree before them.  Prints each tree's empty digest.\n"
    "\n" DBOPT_HELP;

int cmd_init(int argc, char **argv)
{
    cmd_args a;
    bt_db_options o;
    bt_db *db = NULL;
    int rc = parse_args(&a, argc, argv, A_JSON | A_PARAMS | A_MULTITREE, "init", init_usage);
    if (rc >= 0)
        return rc;
    if ((rc = want_pos(&a, 1, 1, "init", "a directory")) >= 0)
        return rc;
    int used = dir_has_entries(a.pos[0]);
    if (used != 0) {
        cli_error("init: %s %s", a.pos[0],
                  used < 0 ? "cannot be read" : "is not empty (add trees with 'tree create')");
        return CLI_FAIL;
    }
    if ((rc = dbopt_resolve(&o, &a.db, 0, 1, "init")) != CLI_OK)
        return rc;
    if (db_open_cli(&db, a.pos[0], &o, "init") != CLI_OK) {
        dbopt_dispose(&a.db);
        return CLI_FAIL;
    }
    int status = CLI_OK;
    for (size_t i = 0; i < a.nspecs && status == CLI_OK; i++)
        status = create_tree(db, &a.specs[i], a.json, "init");
    if (status == CLI_OK && !a.json)
        printf("created %s with %zu tree%s\n", a.pos[0], a.nspecs, a.nspecs == 1 ? "" : "s");
    return finish(db, &a, status, "init");
}

static const char tree_create_usage[] =
    "usage: " CLI_NAME " tree create DIR NAME [--key-len N] [--values var|N] [--value-max N]\n"
    "                              [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Creates tree NAME (1..64 characters of A-Z a-z 0-9 _ . : -) in the database\n"
    "in DIR.  Defaults: --key-len 32, --values var (any length up to --value-max,\n"
    "default 1 MiB); --values N makes every value exactly N bytes.\n"
    "\n" DBOPT_HELP;

static const char tree_list_usage[] =
    "usage: " CLI_NAME " tree list DIR [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Lists the trees of the database in DIR: name, parameters, number of keys and\n"
    "digest.\n"
    "\n" DBOPT_HELP;

static const char tree_usage[] =
    "usage: " CLI_NAME " tree create DIR NAME [OPTIONS]\n"
    "       " CLI_NAME " tree list DIR [OPTIONS]\n"
    "\n"
    "Creates or lists the trees of a database.  See '" CLI_NAME " tree create --help'.\n";

static int tree_create(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    int rc = begin(&db, &a, argc, argv, A_JSON | A_PARAMS, 2, 2, "DIR and NAME", 1,
                   "tree create", tree_create_usage);
    if (rc >= 0)
        return rc;
    a.specs[0].name = a.pos[1];
    return finish(db, &a, create_tree(db, &a.specs[0], a.json, "tree create"), "tree create");
}

static int tree_list(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = begin(&db, &a, argc, argv, A_JSON, 1, 1, "a directory", 0, "tree list",
                   tree_list_usage);
    if (rc >= 0)
        return rc;
    int status = CLI_OK;
    rc = bt_db_tree_list(&names, &n, db);
    if (rc != 0)
        status = db_fail(db, "tree list", "listing trees", rc);
    for (size_t i = 0; i < n && status == CLI_OK; i++) {
        bt_params p;
        uint64_t count = 0;
        uint8_t digest[BT_DIGEST_LEN];
        if ((rc = bt_db_tree_params(&p, db, names[i])) != 0 ||
            (rc = bt_db_count(&count, db, names[i])) != 0 ||
            (rc = bt_db_digest(digest, db, names[i])) != 0) {
            status = db_fail(db, "tree list", names[i], rc);
            break;
        }
        if (a.json) {
            json_t *o = json_pack("{s:s}", "tree", names[i]);
            add_params(o, &p);
            json_object_set_new(o, "keys", json_integer((json_int_t)count));
            json_object_set_new(o, "digest", jsonio_hexstr(digest, sizeof digest));
            jsonio_print(o);
        } else {
            char ptext[64];
            params_text(ptext, sizeof ptext, &p);
            printf("%s %s keys=%llu digest=", names[i], ptext, (unsigned long long)count);
            hex_fprint(stdout, digest, sizeof digest);
            printf("\n");
        }
    }
    bt_free(names);
    return finish(db, &a, status, "tree list");
}

int cmd_tree(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("tree", "needs a subcommand: create or list");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(tree_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "create") == 0)
        return tree_create(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return tree_list(argc - 1, argv + 1);
    return cli_usage_error("tree", "unknown subcommand '%s'", argv[1]);
}

/* ---- apply ------------------------------------------------------------------ */

static const char apply_usage[] =
    "usage: " CLI_NAME " apply DIR [--tree NAME] FILE|- [--batch N] [--proof-dir D] [--json]\n"
    "                        [DATABASE OPTIONS]\n"
    "\n"
    "Applies operations, one JSON object per line as in the reference vectors:\n"
    "  {\"op\":\"Insert\",\"key\":HEX,\"value\":HEX}   (also Update, InsertOrUpdate)\n"
    "  {\"op\":\"Remove\",\"key\":HEX}                (also RemoveIfExists, Lookup)\n"
    "in transactions of --batch N operations (default 1000), one commit each.\n"
    "Prints per batch: commit sequence number (0 if the batch changed nothing),\n"
    "operations, failed operations (a failed op, such as an Insert of a present\n"
    "key, is normal: it leaves no trace), start and end digest.\n"
    "With --proof-dir D, writes each batch's proof as hex to D/commit-SEQ.proof\n"
    "(D/batch-N.proof when nothing was committed) and the operations it covers\n"
    "(those that succeeded) to D/commit-SEQ.ops, ready for '" CLI_NAME " verify'.\n"
    "A malformed line stops the run before its batch is committed (exit 1).\n"
    "\n" DBOPT_HELP;

/* Writes text to path; returns 0 or -1 (message printed). */
static int write_text(const char *path, const char *text, const char *command)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        cli_error("%s: cannot write %s: %s", command, path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    return 0;
}

/* Writes the proof (hex) and the succeeded ops (JSON lines) of one batch. */
static int write_proof_files(const char *dir, const char *base, const uint8_t *proof,
                             size_t proof_len, const op_list *ops, const bt_result *res,
                             char *proof_path, size_t cap)
{
    char path[4096];
    char *hex = hex_encode(proof, proof_len);
    size_t tcap = 64, tlen = 0;
    char *text = malloc(tcap);
    int rc = -1;
    if (hex == NULL || text == NULL)
        goto done;
    text[0] = '\0';
    for (size_t i = 0; i < ops->n; i++) {
        if (res[i].status != 0)
            continue;
        json_t *o = op_json(&ops->ops[i]);
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (line == NULL)
            goto done;
        size_t l = strlen(line);
        while (tlen + l + 2 > tcap) {
            char *g = realloc(text, tcap *= 2);
            if (g == NULL) {
                free(line);
                goto done;
            }
            text = g;
        }
        memcpy(text + tlen, line, l);
        tlen += l;
        text[tlen++] = '\n';
        text[tlen] = '\0';
        free(line);
    }
    snprintf(proof_path, cap, "%s/%s.proof", dir, base);
    snprintf(path, sizeof path, "%s/%s.ops", dir, base);
    size_t hl = strlen(hex);
    char *hexnl = realloc(hex, hl + 2);
    if (hexnl == NULL)
        goto done;
    hex = hexnl;
    memcpy(hex + hl, "\n", 2);
    if (write_text(proof_path, hex, "apply") == 0 && write_text(path, text, "apply") == 0)
        rc = 0;
done:
    if (rc != 0 && (hex == NULL || text == NULL))
        cli_error("apply: out of memory");
    free(hex);
    free(text);
    return rc;
}

typedef struct apply_totals {
    uint64_t ops, failed, batches, commits;
} apply_totals;

/* One transaction: apply, optionally prove and write files, commit, print. */
static int apply_batch(bt_db *db, const char *tree, const op_list *ops, const cmd_args *a,
                       apply_totals *t)
{
    uint8_t start[BT_DIGEST_LEN], end[BT_DIGEST_LEN], proof_digest[BT_DIGEST_LEN];
    uint8_t *proof = NULL;
    size_t proof_len = 0;
    bt_txn *txn = NULL;
    bt_commit_info info = {0};
    uint64_t failed = 0;
    char proof_path[4200] = "";
    bt_result *res = calloc(ops->n, sizeof *res);
    int rc, status = CLI_FAIL;

    if (res == NULL) {
        cli_error("apply: out of memory");
        return CLI_FAIL;
    }
    if ((rc = bt_db_digest(start, db, tree)) != 0) {
        db_fail(db, "apply", "digest", rc);
        goto done;
    }
    if ((rc = bt_txn_begin(&txn, db)) != 0) {
        db_fail(db, "apply", "bt_txn_begin", rc);
        goto done;
    }
    if ((rc = bt_txn_apply(txn, tree, ops->ops, ops->n, res)) != 0) {
        db_fail(db, "apply", "bt_txn_apply", rc);
        goto done;
    }
    for (size_t i = 0; i < ops->n; i++)
        failed += res[i].status != 0;
    if (a->proof_dir != NULL &&
        (rc = bt_txn_prove(&proof, &proof_len, proof_digest, txn, tree)) != 0) {
        db_fail(db, "apply", "bt_txn_prove", rc);
        goto done;
    }
    rc = bt_txn_commit(txn, &info);
    txn = NULL;
    if (rc != 0) {
        db_fail(db, "apply", "bt_txn_commit", rc);
        goto done;
    }
    if ((rc = bt_db_digest(end, db, tree)) != 0) {
        db_fail(db, "apply", "digest", rc);
        goto done;
    }
    t->batches++;
    t->ops += ops->n;
    t->failed += failed;
    t->commits += info.commit_seq != 0;
    if (a->proof_dir != NULL) {
        char base[64];
        if (memcmp(proof_digest, end, sizeof end) != 0) {
            cli_error("apply: bt_txn_prove digest differs from the committed digest");
            goto done;
        }
        if (info.commit_seq != 0)
            snprintf(base, sizeof base, "commit-%llu", (unsigned long long)info.commit_seq);
        else
            snprintf(base, sizeof base, "batch-%llu", (unsigned long long)t->batches);
        if (write_proof_files(a->proof_dir, base, proof, proof_len, ops, res, proof_path,
                              sizeof proof_path) != 0)
            goto done;
    }
    if (a->json) {
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:o,s:o}", "commit", (json_int_t)info.commit_seq,
                              "batch", (json_int_t)t->batches, "ops", (json_int_t)ops->n,
                              "failed", (json_int_t)failed, "start_digest",
                              jsonio_hexstr(start, sizeof start), "digest", jsonio_hexstr(end, sizeof end));
        if (proof_path[0] != '\0') {
            json_object_set_new(o, "proof_len", json_integer((json_int_t)proof_len));
            json_object_set_new(o, "proof_file", json_string(proof_path));
        }
        jsonio_print(o);
    } else {
        printf("commit %llu ops %zu failed %llu digest ", (unsigned long long)info.commit_seq,
               ops->n, (unsigned long long)failed);
        hex_fprint(stdout, end, sizeof end);
        if (proof_path[0] != '\0')
            printf(" proof %s", proof_path);
        printf("\n");
    }
    status = CLI_OK;
done:
    bt_txn_abort(txn);
    bt_free(proof);
    free(res);
    return status;
}

int cmd_apply(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    const char *tree = NULL;
    ops_reader r;
    apply_totals t = {0};
    int rc = begin(&db, &a, argc, argv, A_TREE | A_JSON | A_BATCH | A_PROOFDIR, 2, 2,
                   "DIR and an ops FILE (or -)", 1, "apply", apply_usage);
    if (rc >= 0)
        return rc;
    if ((rc = pick_tree(&tree, db, &a, "apply")) >= 0)
        return finish(db, &a, rc, "apply");
    if (a.proof_dir != NULL && mkdir(a.proof_dir, 0777) != 0 && errno != EEXIST) {
        cli_error("apply: cannot create %s: %s", a.proof_dir, strerror(errno));
        return finish(db, &a, CLI_FAIL, "apply");
    }
    if (ops_open(&r, a.pos[1], "apply") != 0)
        return finish(db, &a, CLI_FAIL, "apply");
    int status = CLI_OK;
    for (;;) {
        op_list ops = {0};
        long got = ops_read(&ops, &r, a.batch, "apply");
        if (got > 0)
            status = apply_batch(db, tree, &ops, &a, &t);
        else if (got < 0)
            status = CLI_FAIL;
        op_list_free(&ops);
        if (got <= 0 || status != CLI_OK)
            break;
    }
    ops_close(&r);
    if (!a.json) {
        uint8_t digest[BT_DIGEST_LEN];
        printf("applied %llu ops (%llu failed) in %llu batches, %llu commits",
               (unsigned long long)t.ops, (unsigned long long)t.failed,
               (unsigned long long)t.batches, (unsigned long long)t.commits);
        if (bt_db_digest(digest, db, tree) == 0) {
            printf("; %s digest ", tree);
            hex_fprint(stdout, digest, sizeof digest);
        }
        printf("\n");
    }
    return finish(db, &a, status, "apply");
}

/* ---- get / prove / root ---------------------------------------------------- */

static const char get_usage[] =
    "usage: " CLI_NAME " get DIR [--tree NAME] [--checkpoint ID] KEYHEX [--json]\n"
    "                    [DATABASE OPTIONS]\n"
    "\n"
    "Prints the value stored under KEYHEX (hex) in the last committed version of\n"
    "the tree, or in the version checkpoint ID pinned.  Exit status 1 if the key\n"
    "is absent.\n"
    "\n" DBOPT_HELP;

int cmd_get(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    const char *tree = NULL;
    uint8_t *key = NULL, *value = NULL;
    size_t key_len = 0, value_len = 0;
    int rc = begin(&db, &a, argc, argv, A_TREE | A_JSON | A_CKPT, 2, 2, "DIR and KEYHEX", 0, "get",
                   get_usage);
    if (rc >= 0)
        return rc;
    if ((rc = pick_tree(&tree, db, &a, "get")) >= 0)
        return finish(db, &a, rc, "get");
    if (hex_decode(&key, &key_len, a.pos[1]) != 0) {
        finish(db, &a, CLI_OK, "get");
        return cli_usage_error("get", "KEYHEX is not hex: '%s'", a.pos[1]);
    }
    bt_params tp;
    if (bt_db_tree_params(&tp, db, tree) == 0 && key_len != tp.key_len) {
        finish(db, &a, CLI_OK, "get");
        free(key);
        return cli_usage_error("get", "KEYHEX has %zu bytes; tree %s has %u-byte keys", key_len,
                               tree, tp.key_len);
    }
    int status = CLI_OK;
    rc = bt_db_get_at(&value, &value_len, db, tree, a.checkpoint, key, key_len);
    if (rc == 0 || rc == BT_ENOTFOUND) {
        if (a.json) {
            json_t *o = json_pack("{s:s,s:s,s:b}", "tree", tree, "key", a.pos[1], "found", rc == 0);
            if (rc == 0)
                json_object_set_new(o, "value", jsonio_hexstr(value, value_len));
            jsonio_print(o);
        } else if (rc == 0) {
            hex_fprint(stdout, value, value_len);
            printf("\n");
        } else {
            cli_error("get: key not found in %s", tree);
        }
        status = rc == 0 ? CLI_OK : CLI_FAIL;
    } else {
        status = db_fail(db, "get", "bt_db_get", rc);
    }
    bt_free(value);
    free(key);
    return finish(db, &a, status, "get");
}

static const char prove_usage[] =
    "usage: " CLI_NAME " prove DIR [--tree NAME] [--checkpoint ID] KEYHEX... [--json]\n"
    "       " CLI_NAME " prove DIR [--tree NAME] [--checkpoint ID] --whatif FILE|- [--json]\n"
    "                      [DATABASE OPTIONS]\n"
    "\n"
    "Proves lookups of the keys against the tree's last committed digest (or the\n"
    "digest of checkpoint ID: the redemption path)\n"
    "(membership or non-membership), or, with --whatif, the operations of FILE\n"
    "(JSON lines as for 'apply') without changing the tree.  Prints the start\n"
    "digest, the proof (hex), the digest the operations lead to, and one result\n"
    "per operation ({\"ok\":true,\"old\":HEX|null} or {\"ok\":false,\"error\":...}).\n"
    "Check it with: " CLI_NAME " verify --digest START --proof HEX --ops OPS\n"
    "(giving only the operations whose result is ok).\n"
    "\n" DBOPT_HELP;

int cmd_prove(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    const char *tree = NULL;
    op_list ops = {0};
    uint8_t start[BT_DIGEST_LEN], end[BT_DIGEST_LEN], *proof = NULL;
    size_t proof_len = 0;
    bt_result *res = NULL;
    int rc = begin(&db, &a, argc, argv, A_TREE | A_JSON | A_WHATIF | A_CKPT, 1, -1, "DIR", 0,
                   "prove",
                   prove_usage);
    if (rc >= 0)
        return rc;
    if ((a.whatif != NULL) == (a.npos > 1)) {
        finish(db, &a, CLI_OK, "prove");
        return cli_usage_error("prove", "give either KEYHEX... or --whatif FILE");
    }
    if ((rc = pick_tree(&tree, db, &a, "prove")) >= 0)
        return finish(db, &a, rc, "prove");
    int status = CLI_FAIL;
    if (a.whatif != NULL) {
        ops_reader r;
        if (ops_open(&r, a.whatif, "prove") != 0)
            goto done;
        long got = ops_read(&ops, &r, SIZE_MAX, "prove");
        ops_close(&r);
        if (got < 0)
            goto done;
    } else {
        for (int i = 1; i < a.npos; i++) {
            json_t *o = json_pack("{s:s,s:s}", "op", "Lookup", "key", a.pos[i]);
            char err[200];
            int bad = o == NULL || jsonio_op_append(&ops, o, err, sizeof err) != 0;
            json_decref(o);
            if (bad) {
                finish(db, &a, CLI_OK, "prove");
                op_list_free(&ops);
                return cli_usage_error("prove", "KEYHEX is not hex: '%s'", a.pos[i]);
            }
        }
    }
    res = calloc(ops.n + 1, sizeof *res);
    if (res == NULL) {
        cli_error("prove: out of memory");
        goto done;
    }
    if ((rc = bt_db_digest_at(start, db, tree, a.checkpoint)) != 0 ||
        (rc = bt_db_prove_at(&proof, &proof_len, end, res, db, tree, a.checkpoint, ops.ops,
                             ops.n)) != 0) {
        db_fail(db, "prove", "bt_db_prove", rc);
        goto done;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < ops.n; i++)
        json_array_append_new(results, jsonio_result(&res[i]));
    if (a.json) {
        json_t *o = json_pack("{s:s,s:o,s:o,s:o,s:o}", "tree", tree, "start_digest",
                              jsonio_hexstr(start, sizeof start), "proof", jsonio_hexstr(proof, proof_len),
                              "digest", jsonio_hexstr(end, sizeof end), "results", results);
        jsonio_print(o);
    } else {
        print_hex_line("start_digest", start, sizeof start);
        print_hex_line("proof", proof, proof_len);
        print_hex_line("digest", end, sizeof end);
        for (size_t i = 0; i < ops.n; i++)
            jsonio_print(json_incref(json_array_get(results, i)));
        json_decref(results);
    }
    status = CLI_OK;
done:
    bt_free(proof); /* after the results: their old pointers live in it */
    free(res);
    op_list_free(&ops);
    return finish(db, &a, status, "prove");
}

static const char root_usage[] =
    "usage: " CLI_NAME " root DIR [--tree NAME] [--flags N] [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Prints the committed digest of each tree (or of --tree NAME) and its Ergo\n"
    "SAvlTree register value: 0x64 || digest || flags || key length || value\n"
    "length option.  --flags: insert 1 | update 2 | remove 4 (default 3).\n"
    "\n" DBOPT_HELP;

static int print_root(bt_db *db, const char *name, const cmd_args *a)
{
    bt_params p;
    bt_avl_register reg = {0};
    uint8_t enc[BT_AVL_REGISTER_MAX];
    size_t enc_len = 0;
    uint64_t count = 0;
    int rc;
    if ((rc = bt_db_tree_params(&p, db, name)) != 0 ||
        (rc = bt_db_digest(reg.digest, db, name)) != 0 ||
        (rc = bt_db_count(&count, db, name)) != 0)
        return db_fail(db, "root", name, rc);
    reg.flags = (uint8_t)a->flags;
    reg.key_len = p.key_len;
    reg.has_value_len = p.value_len != BT_VALUE_VARIABLE;
    reg.value_len = reg.has_value_len ? p.value_len : 0;
    if ((rc = bt_avl_register_encode(enc, sizeof enc, &enc_len, &reg)) != 0)
        return db_fail(NULL, "root", "bt_avl_register_encode", rc);
    if (a->json) {
        json_t *o = json_pack("{s:s,s:o,s:i,s:I,s:o}", "tree", name, "digest",
                              jsonio_hexstr(reg.digest, sizeof reg.digest), "height",
                              (json_int_t)reg.digest[BT_DIGEST_LEN - 1], "keys", (json_int_t)count,
                              "register", jsonio_hexstr(enc, enc_len));
        jsonio_print(o);
    } else {
        printf("%s digest=", name);
        hex_fprint(stdout, reg.digest, sizeof reg.digest);
        printf(" register=");
        hex_fprint(stdout, enc, enc_len);
        printf("\n");
    }
    return CLI_OK;
}

int cmd_root(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = begin(&db, &a, argc, argv, A_TREE | A_JSON | A_FLAGS, 1, 1, "DIR", 0, "root",
                   root_usage);
    if (rc >= 0)
        return rc;
    int status = CLI_OK;
    if (a.tree != NULL) {
        status = print_root(db, a.tree, &a);
    } else if ((rc = bt_db_tree_list(&names, &n, db)) != 0) {
        status = db_fail(db, "root", "listing trees", rc);
    } else {
        for (size_t i = 0; i < n && status == CLI_OK; i++)
            status = print_root(db, names[i], &a);
        bt_free(names);
    }
    return finish(db, &a, status, "root");
}

/* ---- stats / check / flush / compact ------------------------------------- */

static const char stats_usage[] =
    "usage: " CLI_NAME " stats DIR [--json] [DATABASE OPTIONS]\n"
    "       " CLI_NAME " stats DIR --prometheus [DATABASE OPTIONS]\n"
    "\n"
    "Opens the database read-only and prints bt_db_stats_get: trees, notes (keys\n"
    "of all trees), nodes, last commit and op sequence numbers, operations replayed\n"
    "by this open and its duration, approximate bytes per partition (counters\n"
    "'since open' describe this short session).  See docs/OPERATIONS.md,\n"
    "\"Monitoring\".  --prometheus prints the metrics in the Prometheus text format\n"
    "instead (see 'stats DIR --prometheus --help').\n"
    "\n" DBOPT_HELP;

int cmd_stats(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    bt_db_stats s;
    int rc = begin(&db, &a, argc, argv, A_JSON, 1, 1, "DIR", 0, "stats", stats_usage);
    if (rc >= 0)
        return rc;
    if ((rc = bt_db_stats_get(&s, db)) != 0)
        return finish(db, &a, db_fail(db, "stats", "bt_db_stats_get", rc), "stats");
    const struct { const char *name; uint64_t v; } rows[] = {
        {"trees", s.trees},           {"notes", s.notes},
        {"nodes", s.nodes},           {"commits", s.commits},
        {"ops", s.ops},               {"replayed_ops", s.replayed_ops},
        {"nodes_written", s.nodes_written}, {"nodes_deleted", s.nodes_deleted},
        {"nodes_loaded", s.nodes_loaded},   {"flushes", s.flushes},
        {"syncs", s.syncs},           {"commit_ns_p50", s.commit_ns_p50},
        {"commit_ns_p95", s.commit_ns_p95}, {"commit_ns_p99", s.commit_ns_p99},
        {"cache_bytes", s.cache_bytes},     {"cache_drops", s.cache_drops}};
    if (a.json) {
        json_t *o = json_object(), *parts = json_object();
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            json_object_set_new(o, rows[i].name, json_integer((json_int_t)rows[i].v));
        json_object_set_new(o, "open_ms", json_real(s.open_ms));
        for (int i = 0; i < 5; i++)
            json_object_set_new(parts, db_partition_name(i),
                                json_integer((json_int_t)s.partition_bytes[i]));
        json_object_set_new(o, "partition_bytes", parts);
        jsonio_print(o);
    } else {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            printf("%-28s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
        printf("%-28s %.3f\n", "open_ms", s.open_ms);
        for (int i = 0; i < 5; i++) {
            char label[64];
            snprintf(label, sizeof label, "partition_bytes.%s", db_partition_name(i));
            printf("%-28s %llu\n", label, (unsigned long long)s.partition_bytes[i]);
        }
    }
    return finish(db, &a, CLI_OK, "stats");
}

static const char check_usage[] =
    "usage: " CLI_NAME " check DIR [--tree NAME] [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Opens the database read-only (which verifies every root against its digest\n"
    "and replays the log) and walks every tree (or --tree NAME) with bt_db_check:\n"
    "AVL balance, key order, the nextKey chain, value lengths, the key count and\n"
    "every label.  Exit status 1 if anything is corrupt.\n"
    "\n" DBOPT_HELP;

static int check_one(bt_db *db, const char *name, int json)
{
    uint64_t count = 0;
    int rc = bt_db_check(db, name);
    if (rc == 0)
        rc = bt_db_count(&count, db, name);
    const char *msg = rc != 0 ? bt_db_errmsg(db) : "";
    if (json) {
        json_t *o = json_pack("{s:s,s:b}", "tree", name, "ok", rc == 0);
        if (rc == 0)
            json_object_set_new(o, "keys", json_integer((json_int_t)count));
        else
            json_object_set_new(o, "error", json_sprintf("%s: %s", bt_strerror(rc), msg));
        jsonio_print(o);
    } else if (rc == 0) {
        printf("%s ok (%llu keys)\n", name, (unsigned long long)count);
    } else {
        printf("%s FAILED: %s (%s)\n", name, bt_strerror(rc), msg);
    }
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

int cmd_db_check(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc = begin(&db, &a, argc, argv, A_TREE | A_JSON, 1, 1, "DIR", 0, "check", check_usage);
    if (rc >= 0)
        return rc;
    int status = CLI_OK;
    if (a.tree != NULL) {
        status = check_one(db, a.tree, a.json);
    } else if ((rc = bt_db_tree_list(&names, &n, db)) != 0) {
        status = db_fail(db, "check", "listing trees", rc);
    } else {
        for (size_t i = 0; i < n; i++)
            if (check_one(db, names[i], a.json) != CLI_OK)
                status = CLI_FAIL;
        bt_free(names);
    }
    return finish(db, &a, status, "check");
}

static const char flush_usage[] =
    "usage: " CLI_NAME " flush DIR [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Writes every tree's new nodes to the nodes partition (so that the next open\n"
    "replays nothing) and syncs.  Normally not needed: the library flushes every\n"
    "flush_ops operations and on close.\n"
    "\n" DBOPT_HELP;

static const char compact_usage[] =
    "usage: " CLI_NAME " compact DIR [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Compacts every partition of the database, reclaiming the space of deleted\n"
    "nodes, and prints the approximate partition sizes before and after.\n"
    "\n" DBOPT_HELP;

static int maintenance(int argc, char **argv, int compact)
{
    const char *command = compact ? "compact" : "flush";
    cmd_args a;
    bt_db *db = NULL;
    bt_db_stats before, after;
    int rc = begin(&db, &a, argc, argv, A_JSON, 1, 1, "DIR", 1, command,
                   compact ? compact_usage : flush_usage);
    if (rc >= 0)
        return rc;
    int status = CLI_OK;
    if ((rc = bt_db_stats_get(&before, db)) != 0 ||
        (rc = compact ? bt_db_compact(db) : bt_db_flush(db)) != 0 ||
        (rc = bt_db_stats_get(&after, db)) != 0) {
        status = db_fail(db, command, compact ? "bt_db_compact" : "bt_db_flush", rc);
    } else if (a.json) {
        json_t *o = json_pack("{s:s,s:I,s:I}", "done", command, "replayed_ops",
                              (json_int_t)after.replayed_ops, "flushes", (json_int_t)after.flushes);
        json_t *b = json_object(), *c = json_object();
        for (int i = 0; i < 5; i++) {
            json_object_set_new(b, db_partition_name(i), json_integer((json_int_t)before.partition_bytes[i]));
            json_object_set_new(c, db_partition_name(i), json_integer((json_int_t)after.partition_bytes[i]));
        }
        json_object_set_new(o, "partition_bytes_before", b);
        json_object_set_new(o, "partition_bytes_after", c);
        jsonio_print(o);
    } else {
        printf("%s: done (open replayed %llu ops)\n", command,
               (unsigned long long)after.replayed_ops);
        for (int i = 0; compact && i < 5; i++)
            printf("  %-12s %llu -> %llu bytes\n", db_partition_name(i),
                   (unsigned long long)before.partition_bytes[i],
                   (unsigned long long)after.partition_bytes[i]);
    }
    return finish(db, &a, status, command);
}

int cmd_flush(int argc, char **argv)
{
    return maintenance(argc, argv, 0);
}

int cmd_compact(int argc, char **argv)
{
    return maintenance(argc, argv, 1);
}

/* ---- nodes: the label index (the plan's node API) ------------------------- */

static const char nodes_usage[] =
    "usage: " CLI_NAME " nodes DIR [FROM [TO]] [--json] [DATABASE OPTIONS]\n"
    "\n"
    "Lists the stored nodes of every tree whose label (64 hex digits) lies in\n"
    "[FROM, TO] (default: all), in label order: tree, node id, kind, label, and\n"
    "key.  Needs a database created with --index-labels 1 (option index_labels);\n"
    "nodes newer than the last node flush are not stored yet.\n"
    "\n" DBOPT_HELP;

typedef struct nodes_ctx {
    int json;
    uint64_t n;
} nodes_ctx;

static int print_node(void *ctx, const char *tree, const bt_node_info *info)
{
    nodes_ctx *c = ctx;
    char *label = hex_encode(info->label, BT_LABEL_LEN);
    char *key = hex_encode(info->key, info->key_len);
    if (!label || !key) {
        free(label);
        free(key);
        return BT_ENOMEM;
    }
    if (c->json) {
        json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s}", "tree", tree, "id", (json_int_t)info->id,
                              "kind", info->kind == 1 ? "leaf" : "internal", "label", label,
                              "key", key);
        jsonio_print(o);
    } else {
        printf("%-16s %10llu %-8s %s %s\n", tree, (unsigned long long)info->id,
               info->kind == 1 ? "leaf" : "internal", label, key);
    }
    free(label);
    free(key);
    c->n++;
    return 0;
}

int cmd_nodes(int argc, char **argv)
{
    cmd_args a;
    bt_db *db = NULL;
    int rc = begin(&db, &a, argc, argv, A_JSON, 1, 3, "DIR", 0, "nodes", nodes_usage);
    if (rc >= 0)
        return rc;
    uint8_t from[BT_LABEL_LEN], to[BT_LABEL_LEN];
    memset(from, 0x00, sizeof from);
    memset(to, 0xFF, sizeof to);
    if ((a.npos > 1 && hex_decode_exact(from, sizeof from, a.pos[1]) != 0) ||
        (a.npos > 2 && hex_decode_exact(to, sizeof to, a.pos[2]) != 0)) {
        bt_db_close(db);
        dbopt_dispose(&a.db);
        return cli_usage_error("nodes", "FROM and TO are labels: 64 hex digits");
    }
    nodes_ctx c = {a.json, 0};
    int status = CLI_OK;
    if ((rc = bt_db_nodes_range(db, from, to, print_node, &c)) != 0)
        status = db_fail(db, "nodes", "bt_db_nodes_range", rc);
    else if (!a.json)
        printf("%llu nodes\n", (unsigned long long)c.n);
    return finish(db, &a, status, "nodes");
}
