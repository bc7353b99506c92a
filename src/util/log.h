/*
 * log.h -- the library's log: every message the library wants an operator
 * to see goes through bt_log(), which hands it to the handler installed with
 * bt_log_set_handler() (basistrees.h) or, by default, writes warnings and
 * errors to stderr.  Messages are one line, at most BT_LOG_LINE_MAX bytes.
 */
#ifndef BT_UTIL_LOG_H
#define BT_UTIL_LOG_H
#include "basistrees.h"

#define BT_LOG_LINE_MAX 1024

/* Formats and delivers one message if level passes the current minimum.
 * Safe from any thread; handlers are called one at a time. */
void bt_log(bt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 if a message of this level would be delivered (to skip costly
 * formatting). */
int bt_log_enabled(bt_log_level level);
#endif
