/*
 * ops_cmds.h -- the operations commands: backups (backup_cmds.c), metrics
 * and the maintenance loop (metrics_cmds.c), migration from the upstream
 * tracker's data (migrate.c), and the CLI's log level.
 */
#ifndef BT_TOOLS_OPS_CMDS_H
#define BT_TOOLS_OPS_CMDS_H

int cmd_backup(int argc, char **argv);
/* "stats": with --prometheus the metrics text, otherwise cmd_stats. */
int cmd_stats_dispatch(int argc, char **argv);
int cmd_serve_metrics(int argc, char **argv);
int cmd_maintain(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

/* Removes every "--log-level L" / "--log-level=L" from argv (updating
 * *argc) and installs the stderr log handler at that level (default warn).
 * Returns 0, or 2 after printing a usage error. */
int cli_log_setup(int *argc, char **argv);

#endif
