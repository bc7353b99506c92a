/*
 * main.c -- basis-trees: command dispatch and the helpers every command uses.
 *
 *   basis-trees vectors check FILE...   run reference vector files
 *   basis-trees vectors big [...]       the large deterministic scenario
 *   basis-trees verify [...]            verify a batch proof
 *   basis-trees demo [...]              the Basis tracker-tree demo
 *   basis-trees init|tree|apply|get|prove|root|stats|check|flush|compact|nodes
 *                                       the persistent database (db_cmds.c)
 *   basis-trees version
 *
 * The CLI is a client of the public API only (see cli.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <basistrees.h>

#include "cli.h"
#include "ops_cmds.h"

static const char main_usage[] =
    "usage: " CLI_NAME " COMMAND [OPTIONS]\n"
    "\n"
    "Authenticated AVL+ trees, byte-compatible with Ergo (libbasistrees " BT_VERSION_STRING ").\n"
    "\n"
    "Commands:\n"
    "  vectors check FILE...  check the library against reference vector files\n"
    "                         (--db DIR: through a database)\n"
    "  vectors big [OPTIONS]  run the large deterministic scenario, print one JSON line\n"
    "  verify [OPTIONS]       verify a batch proof against a starting digest\n"
    "  demo DIR [OPTIONS]     a tracker's day on data directory DIR (make run): updates,\n"
    "                         commitments, redemption proofs, reopen, backup, restore\n"
    "  demo [OPTIONS]         the in-memory tree demo: batches, proofs, what-if, R5 register\n"
    "  version                print the library version\n"
    "\n"
    "Database commands (a database is a directory of named trees; see\n"
    "docs/OPERATIONS.md):\n"
    "  init DIR [--tree NAME [--key-len N] [--values var|N]]...   create a database\n"
    "  tree create DIR NAME [...] | tree list DIR                 manage trees\n"
    "  apply DIR [--tree NAME] FILE|- [--batch N] [--proof-dir D] apply JSON-line ops\n"
    "  get DIR [--tree NAME] [--checkpoint ID] KEYHEX              look a key up\n"
    "  prove DIR [--tree NAME] [--checkpoint ID] KEYHEX... | --whatif FILE\n"
    "                                       lookup / what-if / redemption proof\n"
    "  root DIR [--tree NAME]                                      digests and registers\n"
    "  stats DIR | check DIR | flush DIR | compact DIR             operations\n"
    "  nodes DIR [FROM [TO]]                stored nodes by label (label index)\n"
    "  log DIR [--from/--to SEQ | --since/--until MS | --tree T --key K | --export F]\n"
    "                                       the operation log; `log prune DIR --before SEQ`\n"
    "  checkpoint create|list|show|validate|rollback|delete DIR [ID]\n"
    "                                       pinned versions (on-chain commitments)\n"
    "  replay DIR [--into NEWDIR] [--to-seq N] [--to-time MS]\n"
    "                                       verify the log; point-in-time rebuild\n"
    "  export DIR --tree NAME [--checkpoint ID] FILE | import DIR --tree NAME FILE\n"
    "                                       snapshot files of one tree version\n"
    "These accept --json, --config FILE and overrides such as --durability.\n"
    "\n"
    "Operations (docs/OPERATIONS.md):\n"
    "  backup create|list|verify|restore|prune ...  online backups and restore\n"
    "  stats DIR --prometheus | serve-metrics DIR --listen HOST:PORT   metrics\n"
    "  maintain DIR --backup-dir D ...   scheduled compaction, backup, retention\n"
    "  migrate --tracker FILE | --reserve FILE ...   rebuild from upstream data\n"
    "  bench [--profile quick|full] ...  measure against the upstream storage layer\n"
    "  --log-level debug|info|warn|error|off (anywhere): library log on stderr\n"
    "  help [COMMAND]         this text, or a command's own help\n"
    "\n"
    "Every command accepts --help.  Exit status: 0 ok, 1 failure, 2 usage error.\n";

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs(CLI_NAME ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, CLI_NAME " %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try '" CLI_NAME " %s --help')\n", command);
    return CLI_USAGE;
}

int cli_parse_u64(uint64_t *out, const char *s)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int cli_read_file(char **out, size_t *out_len, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t len = 0, cap = 4096;
    char *buf = NULL;
    *out = NULL;
    *out_len = 0;
    if (f == NULL)
        return -1;
    errno = 0;
    for (;;) {
        char *grown = realloc(buf, cap + 1);
        if (grown == NULL) {
            errno = ENOMEM;
            break;
        }
        buf = grown;
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) {
            if (ferror(f)) {
                if (errno == 0)
                    errno = EIO;
                break;
            }
            buf[len] = '\0';
            if (f != stdin)
                fclose(f);
            *out = buf;
            *out_len = len;
            return 0;
        }
        cap *= 2;
    }
    free(buf);
    if (f != stdin)
        fclose(f);
    return -1;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && is_help(argv[1])) {
        printf("usage: " CLI_NAME " version\n\nPrints the library version.\n");
        return CLI_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("%s\n", bt_version());
    return CLI_OK;
}

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
};

int cmd_bench(int argc, char **argv); /* tools/bench_cmd.c */
int cmd_export(int argc, char **argv); /* tools/snapshot_cmds.c */
int cmd_import(int argc, char **argv);
static const struct command commands[] = {
    {"vectors", cmd_vectors},
    {"verify", cmd_verify},
    {"demo", cmd_demo},
    {"version", cmd_version},
    {"init", cmd_init},
    {"tree", cmd_tree},
    {"apply", cmd_apply},
    {"get", cmd_get},
    {"prove", cmd_prove},
    {"root", cmd_root},
    {"stats", cmd_stats_dispatch},
    {"check", cmd_db_check},
    {"flush", cmd_flush},
    {"compact", cmd_compact},
    {"nodes", cmd_nodes},
    {"log", cmd_log},
    {"checkpoint", cmd_checkpoint},
    {"replay", cmd_replay},
    {"export", cmd_export},
    {"import", cmd_import},
    {"backup", cmd_backup},
    {"serve-metrics", cmd_serve_metrics},
    {"maintain", cmd_maintain},
    {"migrate", cmd_migrate},
    {"bench", cmd_bench},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (cli_log_setup(&argc, argv) != CLI_OK)
        return CLI_USAGE;
    if (argc < 2) {
        fputs(main_usage, stderr);
        return CLI_USAGE;
    }
    if (is_help(argv[1])) {
        fputs(main_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3 || is_help(argv[2])) {
            fputs(main_usage, stdout);
            return CLI_OK;
        }
        const struct command *c = find_command(argv[2]);
        if (c == NULL) {
            cli_error("unknown command '%s' (try '" CLI_NAME " --help')", argv[2]);
            return CLI_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return c->run(2, help_argv);
    }
    const struct command *c = find_command(argv[1]);
    if (c == NULL) {
        cli_error("unknown command '%s' (try '" CLI_NAME " --help')", argv[1]);
        return CLI_USAGE;
    }
    /* commands that can run for more than a second show an activity line
     * on a terminal (never when asked for help or for the demo's table) */
    static const char *const long_running[] = {"import", "export", "replay", "check", "backup",
                                               "migrate", "compact", "apply", "vectors", "bench"};
    int show = 0;
    for (size_t i = 0; i < sizeof long_running / sizeof long_running[0]; i++)
        show |= strcmp(argv[1], long_running[i]) == 0;
    for (int i = 2; i < argc; i++) show &= !is_help(argv[i]);
    if (show) cli_progress_start(argv[1]);
    int status = c->run(argc - 1, argv + 1);
    cli_progress_stop();
    return status;
}
