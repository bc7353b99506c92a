/*
 * progress.c -- the activity line of long-running commands: on a terminal
 * only (stderr is a tty and NO_PROGRESS is unset), a line
 *   "basis-trees replay: working... 12.4 s"
 * rewritten every quarter second once the command has run for a second, and
 * erased when it ends, so that scripts and logs never see it.  A background
 * thread draws it; the commands themselves need not report anything.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static pthread_t prog_thread;
static _Atomic int prog_stop;
static int prog_running, prog_drawn;
static char prog_label[64];
static pthread_mutex_t prog_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t prog_cv = PTHREAD_COND_INITIALIZER;

static void *prog_main(void *arg)
{
    (void)arg;
    static const char spin[] = "|/-\\";
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned tick = 0;
    pthread_mutex_lock(&prog_mu);
    while (!atomic_load(&prog_stop)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&prog_cv, &prog_mu, &until);
        if (atomic_load(&prog_stop)) break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double s = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (s < 1.0) continue;
        fprintf(stderr, "\r" CLI_NAME " %s: working %c %.1f s ", prog_label, spin[tick++ % 4], s);
        fflush(stderr);
        prog_drawn = 1;
    }
    if (prog_drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    pthread_mutex_unlock(&prog_mu);
    return NULL;
}

void cli_progress_start(const char *label)
{
    if (prog_running || !isatty(STDERR_FILENO) || getenv("NO_PROGRESS")) return;
    snprintf(prog_label, sizeof prog_label, "%s", label);
    atomic_store(&prog_stop, 0);
    prog_drawn = 0;
    if (pthread_create(&prog_thread, NULL, prog_main, NULL) == 0) prog_running = 1;
}

void cli_progress_stop(void)
{
    if (!prog_running) return;
    pthread_mutex_lock(&prog_mu);
    atomic_store(&prog_stop, 1);
    pthread_cond_signal(&prog_cv);
    pthread_mutex_unlock(&prog_mu);
    pthread_join(prog_thread, NULL);
    prog_running = 0;
}
