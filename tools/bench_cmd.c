/*
 * bench_cmd.c -- `basis-trees bench`: runs the benchmark suite that compares
 * the database with the upstream-style baseline (bench/bench_vs.c, defined in
 * bench/BENCHMARKS.md "Suite vs") and prints the table of the plan's targets.
 *
 *   basis-trees bench [--profile quick|full] [--out DIR] [--dir DIR] [--keep]
 *
 * The benchmark is its own program, bench_vs, built beside basis-trees (it
 * links the static library and RocksDB's C API directly, which the CLI does
 * not); this command finds it next to its own executable and runs it, so its
 * output, files and exit status are bench_vs's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_bench(int argc, char **argv);

static const char bench_usage[] =
    "usage: " CLI_NAME " bench [--profile quick|full] [--out DIR] [--dir DIR] [--keep]\n"
    "\n"
    "Measures the database against a re-implementation of the upstream storage\n"
    "layer on the same operations, in one run, and prints every plan target:\n"
    "baseline, ours, their ratio, the target and pass/fail (bench/BENCHMARKS.md).\n"
    "\n"
    "  --profile quick   100k notes, 8-, 16- and 100-byte values (about 2 minutes)\n"
    "  --profile full    100k and 1M notes (tens of minutes, several GB of disk)\n"
    "  --out DIR         results: results.jsonl, results.csv, targets.csv, *.png\n"
    "                    (default ./bench-results; plots need gnuplot)\n"
    "  --dir DIR         where the databases are created (default /tmp/bench_vs.PID)\n"
    "  --keep            keep the databases\n"
    "Further options are passed to bench_vs (see bench_vs --help).\n"
    "\n"
    "Exit status: 0 ok, 1 a correctness check failed (or bench_vs is missing),\n"
    "2 usage error.  A target that is not met is reported, not an error.\n";

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(bench_usage, stdout);
            return CLI_OK;
        }
    if (argc > 60) return cli_usage_error("bench", "too many arguments");
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        cli_error("bench: cannot find my own executable: %s", strerror(errno));
        return CLI_FAIL;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return CLI_FAIL;
    char exe[PATH_MAX + 16];
    snprintf(exe, sizeof exe, "%.*s/bench_vs", (int)(slash - self), self);
    if (access(exe, X_OK) != 0) {
        cli_error("bench: %s not found; build it (cmake --build BUILD --target bench_vs)", exe);
        return CLI_FAIL;
    }
    char *args[64];
    int k = 0;
    args[k++] = exe;
    for (int i = 1; i < argc; i++) args[k++] = argv[i];
    args[k] = NULL;
    fflush(NULL);
    execv(exe, args);
    cli_error("bench: cannot run %s: %s", exe, strerror(errno));
    return CLI_FAIL;
}
