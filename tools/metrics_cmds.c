/*
 * metrics_cmds.c -- stats --prometheus, serve-metrics, maintain, and the
 * CLI's --log-level.
 *
 *   stats DB --prometheus [db options]
 *   serve-metrics DB --listen HOST:PORT [--seconds N] [--writer] [db options]
 *   maintain DB --backup-dir DIR [--compact-interval S] [--backup-interval S]
 *            [--retention-days N] [--listen HOST:PORT] [--run-for S] [--once]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <basistrees.h>

#include "cli.h"
#include "dbcli.h"
#include "ops_cmds.h"

/* ---- --log-level ------------------------------------------------------------ */

static void log_stderr(void *ctx, bt_log_level level, const char *msg)
{
    (void)ctx;
    char when[32] = "";
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (gmtime_r(&ts.tv_sec, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s " CLI_NAME ": %s: %s\n", when, bt_log_level_name(level), msg);
}

int cli_log_setup(int *argc, char **argv)
{
    bt_log_level level = BT_LOG_WARN;
    int w = 0;
    for (int i = 0; i < *argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--log-level") == 0) {
            if (i + 1 >= *argc) {
                cli_error("--log-level needs debug|info|warn|error|off");
                return CLI_USAGE;
            }
            v = argv[++i];
        } else if (strncmp(argv[i], "--log-level=", 12) == 0) {
            v = argv[i] + 12;
        } else {
            argv[w++] = argv[i];
            continue;
        }
        if (bt_log_level_parse(&level, v) != 0) {
            cli_error("--log-level: '%s' is not debug|info|warn|error|off", v);
            return CLI_USAGE;
        }
    }
    argv[w] = NULL;
    *argc = w;
    bt_log_set_handler(log_stderr, NULL, level);
    return CLI_OK;
}

/* ---- shared: open a database with the common options ---------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- stats --prometheus --------------------------------------------------------- */

static const char prom_usage[] =
    "usage: " CLI_NAME " stats DB --prometheus [DATABASE OPTIONS]\n"
    "\n"
    "Prints the database's metrics in the Prometheus text format (read-only open;\n"
    "counters that count work since open are zero here: scrape a running writer\n"
    "with serve-metrics/maintain --listen, or bt_metrics_server_start).\n\n" DBOPT_HELP;

int cmd_stats_dispatch(int argc, char **argv)
{
    int prom = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--prometheus") == 0) prom = 1;
    if (!prom) return cmd_stats(argc, argv);
    static const struct option longopts[] = {{"prometheus", no_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             DBOPT_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    db_cli d;
    memset(&d, 0, sizeof d);
    int c;
    opterr = 0; /* our own messages, naming the option */
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int t = dbopt_take(&d, c, optarg, "stats");
        if (t < 0) return CLI_USAGE;
        if (t > 0 || c == 'p') continue;
        if (c == 'h') {
            fputs(prom_usage, stdout);
            return CLI_OK;
        }
        if (c == ':') return cli_usage_error("stats", "option '%s' needs a value", argv[optind - 1]);
        return cli_usage_error("stats", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 1) return cli_usage_error("stats", "expected DB");
    bt_db_options o;
    int rc = dbopt_resolve(&o, &d, 1, 0, "stats");
    if (rc != CLI_OK) return rc;
    bt_db *db = NULL;
    if ((rc = db_open_cli(&db, argv[optind], &o, "stats")) == CLI_OK) {
        char *text = NULL;
        size_t len = 0;
        int r = bt_db_metrics_text(&text, &len, db);
        if (r) rc = db_fail(db, "stats", "bt_db_metrics_text", r);
        else fwrite(text, 1, len, stdout);
        bt_free(text);
        bt_db_close(db);
    }
    dbopt_dispose(&d);
    return rc;
}

/* ---- serve-metrics ----------------------------------------------------------------- */

static const char serve_usage[] =
    "usage: " CLI_NAME " serve-metrics DB --listen HOST:PORT [--seconds N] [--writer]\n"
    "                             [DATABASE OPTIONS]\n"
    "\n"
    "Serves GET /metrics (Prometheus text format) for DB until SIGINT/SIGTERM, or for\n"
    "N seconds.  Prints 'listening on HOST:PORT' first (port 0 picks a free port).\n"
    "The database is opened read-only (it shows the state as of the open) unless\n"
    "--writer is given; a program that writes the database serves live metrics by\n"
    "calling bt_metrics_server_start itself (or runs `maintain --listen`).\n\n" DBOPT_HELP;

int cmd_serve_metrics(int argc, char **argv)
{
    static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"seconds", required_argument, NULL, 's'},
                                             {"writer", no_argument, NULL, 'w'},
                                             {"help", no_argument, NULL, 'h'},
                                             DBOPT_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    db_cli d;
    memset(&d, 0, sizeof d);
    const char *listen_addr = NULL;
    uint64_t seconds = 0;
    int writer = 0, c;
    opterr = 0; /* our own messages, naming the option */
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int t = dbopt_take(&d, c, optarg, "serve-metrics");
        if (t < 0) return CLI_USAGE;
        if (t > 0) continue;
        switch (c) {
        case 'l': listen_addr = optarg; break;
        case 's':
            if (cli_parse_u64(&seconds, optarg) != 0 || seconds > 100000000)
                return cli_usage_error("serve-metrics", "--seconds: a number");
            break;
        case 'w': writer = 1; break;
        case 'h': fputs(serve_usage, stdout); return CLI_OK;
        case ':': return cli_usage_error("serve-metrics", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("serve-metrics", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1 || !listen_addr)
        return cli_usage_error("serve-metrics", "expected DB and --listen HOST:PORT");
    bt_db_options o;
    int rc = dbopt_resolve(&o, &d, !writer, 0, "serve-metrics");
    if (rc != CLI_OK) return rc;
    bt_db *db = NULL;
    if ((rc = db_open_cli(&db, argv[optind], &o, "serve-metrics")) != CLI_OK) {
        dbopt_dispose(&d);
        return rc;
    }
    bt_metrics_server *srv = NULL;
    char msg[512] = "";
    int r = bt_metrics_server_start(&srv, db, listen_addr, msg, sizeof msg);
    if (r) {
        cli_error("serve-metrics: %s: %s", bt_strerror(r), msg);
        rc = r == BT_EINVAL ? CLI_USAGE : CLI_FAIL;
    } else {
        printf("listening on %.*s:%u\n", (int)(strrchr(listen_addr, ':') - listen_addr),
               listen_addr, bt_metrics_server_port(srv));
        fflush(stdout);
        catch_signals();
        double end = now_s() + (double)seconds;
        while (!stop_flag && (seconds == 0 || now_s() < end)) sleep_ms(100);
        bt_metrics_server_stop(srv);
    }
    int cr = bt_db_close(db);
    if (cr && rc == CLI_OK) rc = db_fail(NULL, "serve-metrics", "close", cr);
    dbopt_dispose(&d);
    return rc;
}

/* ---- maintain ---------------------------------------------------------------------- */

static const char maintain_usage[] =
    "usage: " CLI_NAME " maintain DB --backup-dir DIR [--compact-interval S]\n"
    "                        [--backup-interval S] [--retention-days N] [--no-verify]\n"
    "                        [--listen HOST:PORT] [--run-for S] [--once] [DATABASE OPTIONS]\n"
    "\n"
    "Holds DB open as its writer and, on schedule, compacts it (every S seconds,\n"
    "default 3600), backs it up into DIR (default every 86400 s, verified) and\n"
    "prunes backups older than N days (default 7).  Both run once at start.  What\n"
    "it did is logged (--log-level info) and exported as metrics (--listen).\n"
    "--once: one round, then exit; --run-for S: stop after S seconds; otherwise\n"
    "until SIGINT/SIGTERM.\n\n" DBOPT_HELP;

int cmd_maintain(int argc, char **argv)
{
    static const struct option longopts[] = {{"backup-dir", required_argument, NULL, 'b'},
                                             {"compact-interval", required_argument, NULL, 'c'},
                                             {"backup-interval", required_argument, NULL, 'i'},
                                             {"retention-days", required_argument, NULL, 'r'},
                                             {"no-verify", no_argument, NULL, 'n'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"run-for", required_argument, NULL, 'f'},
                                             {"once", no_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             DBOPT_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    db_cli d;
    memset(&d, 0, sizeof d);
    const char *bdir = NULL, *listen_addr = NULL;
    uint64_t compact_s = 3600, backup_s = 86400, retention_d = 7, run_for = 0;
    int verify = 1, once = 0, c;
    opterr = 0; /* our own messages, naming the option */
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int t = dbopt_take(&d, c, optarg, "maintain");
        if (t < 0) return CLI_USAGE;
        if (t > 0) continue;
        uint64_t *num = NULL;
        switch (c) {
        case 'b': bdir = optarg; break;
        case 'c': num = &compact_s; break;
        case 'i': num = &backup_s; break;
        case 'r': num = &retention_d; break;
        case 'f': num = &run_for; break;
        case 'n': verify = 0; break;
        case 'o': once = 1; break;
        case 'l': listen_addr = optarg; break;
        case 'h': fputs(maintain_usage, stdout); return CLI_OK;
        case ':': return cli_usage_error("maintain", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("maintain", "unknown option '%s'", argv[optind - 1]);
        }
        if (num && (cli_parse_u64(num, optarg) != 0 || *num > 100000000))
            return cli_usage_error("maintain", "a number of seconds or days expected");
    }
    if (argc - optind != 1 || !bdir)
        return cli_usage_error("maintain", "expected DB and --backup-dir DIR");
    if (compact_s < 1 || backup_s < 1)
        return cli_usage_error("maintain", "intervals must be at least 1 second");
    bt_db_options o;
    int rc = dbopt_resolve(&o, &d, 0, 0, "maintain");
    if (rc != CLI_OK) return rc;
    bt_db *db = NULL;
    if ((rc = db_open_cli(&db, argv[optind], &o, "maintain")) != CLI_OK) {
        dbopt_dispose(&d);
        return rc;
    }
    bt_metrics_server *srv = NULL;
    char msg[512] = "";
    if (listen_addr) {
        int r = bt_metrics_server_start(&srv, db, listen_addr, msg, sizeof msg);
        if (r) {
            cli_error("maintain: %s: %s", bt_strerror(r), msg);
            bt_db_close(db);
            dbopt_dispose(&d);
            return CLI_FAIL;
        }
        printf("listening on port %u\n", bt_metrics_server_port(srv));
        fflush(stdout);
    }
    catch_signals();
    double start = now_s(), next_compact = start, next_backup = start;
    int failures = 0;
    while (!stop_flag) {
        double t = now_s();
        if (t >= next_compact) {
            int r = bt_db_compact(db);
            if (r) {
                db_fail(db, "maintain", "compact", r);
                failures++;
            }
            next_compact = t + (double)compact_s;
        }
        if (t >= next_backup) {
            bt_backup_info bi;
            int r = bt_db_backup(&bi, db, bdir, verify);
            if (r) {
                db_fail(db, "maintain", "backup", r);
                failures++;
            } else {
                uint32_t removed = 0;
                r = bt_backup_prune(&removed, bdir, retention_d * 86400u, 1, 0, msg, sizeof msg);
                if (r) {
                    cli_error("maintain: prune: %s (%s)", bt_strerror(r), msg);
                    failures++;
                }
                printf("backup %u: commit %llu, %u trees%s; pruned %u\n", bi.id,
                       (unsigned long long)bi.commit_seq, bi.trees,
                       verify ? ", verified" : "", removed);
                fflush(stdout);
            }
            next_backup = t + (double)backup_s;
        }
        if (once || (run_for && now_s() - start >= (double)run_for)) break;
        sleep_ms(200);
    }
    bt_metrics_server_stop(srv);
    int cr = bt_db_close(db);
    if (cr) rc = db_fail(NULL, "maintain", "close", cr);
    dbopt_dispose(&d);
    return rc != CLI_OK ? rc : failures ? CLI_FAIL : CLI_OK;
}
