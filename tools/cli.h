/*
 * cli.h -- what the parts of the basis-trees command share.
 *
 * The CLI uses only the public header <basistrees.h> (plus jansson for JSON
 * and libsodium for hashing scenario inputs), like any other client of the
 * library.  Each command is one function taking the arguments after its own
 * name; every command answers --help.
 *
 * Exit codes: 0 success, 1 failure (a check failed, a proof was rejected, an
 * input file could not be read), 2 usage error.
 */
#ifndef BT_TOOLS_CLI_H
#define BT_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

#define CLI_NAME "basis-trees"

/* Commands (argv[0] is the command's own name). */
int cmd_vectors(int argc, char **argv);
int cmd_verify(int argc, char **argv);
/* progress.c: an activity line on stderr while a long command runs (tty only). */
void cli_progress_start(const char *label);
void cli_progress_stop(void);

int cmd_demo(int argc, char **argv);
int cmd_demo_day(int argc, char **argv); /* demo_day.c: demo DIR */
/* database commands (db_cmds.c) */
int cmd_init(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_prove(int argc, char **argv);
int cmd_root(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_db_check(int argc, char **argv);
int cmd_flush(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_nodes(int argc, char **argv);
int cmd_log(int argc, char **argv);        /* history_cmds.c */
int cmd_checkpoint(int argc, char **argv); /* history_cmds.c */
int cmd_replay(int argc, char **argv);     /* history_cmds.c */

/* Prints "basis-trees: <message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the usage error and a pointer to --help; returns CLI_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a decimal unsigned integer (no sign, no junk, no overflow).
 * Returns 0 or -1. */
int cli_parse_u64(uint64_t *out, const char *s);

/* Reads a whole file ("-" = stdin) into a NUL-terminated buffer owned by the
 * caller (free()).  Returns 0, or -1 with errno set. */
int cli_read_file(char **out, size_t *out_len, const char *path);

/* Monotonic clock in seconds. */
double cli_now(void);

#endif
