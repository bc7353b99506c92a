/*
 * log.c -- the log callback (see log.h and basistrees.h "Operations").
 *
 * The handler, its context and the minimum level live under one mutex,
 * which is also held while the handler runs: handlers never run
 * concurrently, and bt_log_set_handler() returns only after any call of the
 * previous handler has finished, so the caller may then free its context.
 */
#include "util/log.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static bt_log_fn log_fn;            /* NULL: the default (stderr) handler */
static void *log_ctx;
static _Atomic int log_min = BT_LOG_WARN;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

const char *bt_log_level_name(bt_log_level level)
{
    if ((unsigned)level > BT_LOG_OFF) return NULL;
    return level_names[level];
}

int bt_log_level_parse(bt_log_level *out, const char *name)
{
    if (!name) return BT_EINVAL;
    for (int i = 0; i <= BT_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (bt_log_level)i;
            return 0;
        }
    }
    if (strcmp(name, "warning") == 0) {
        *out = BT_LOG_WARN;
        return 0;
    }
    return BT_EINVAL;
}

int bt_log_set_handler(bt_log_fn fn, void *ctx, bt_log_level min_level)
{
    if ((unsigned)min_level > BT_LOG_OFF) return BT_EINVAL;
    pthread_mutex_lock(&log_mu);
    log_fn = fn;
    log_ctx = ctx;
    atomic_store(&log_min, (int)min_level);
    pthread_mutex_unlock(&log_mu);
    return 0;
}

int bt_log_enabled(bt_log_level level)
{
    int min = atomic_load(&log_min);
    return min != BT_LOG_OFF && (int)level >= min && (unsigned)level < BT_LOG_OFF;
}

void bt_log(bt_log_level level, const char *fmt, ...)
{
    if (!bt_log_enabled(level)) return;
    char line[BT_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    pthread_mutex_lock(&log_mu);
    if (bt_log_enabled(level)) { /* the level may have changed meanwhile */
        if (log_fn) log_fn(log_ctx, level, line);
        else fprintf(stderr, "basistrees: %s: %s\n", level_names[level], line);
    }
    pthread_mutex_unlock(&log_mu);
}
