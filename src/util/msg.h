/*
 * msg.h -- the one-line error message formatter every layer uses: writes
 * into a caller's buffer (NULL or zero capacity: nothing), truncates, and
 * turns line breaks into spaces so a message is always one line.
 */
#ifndef BT_UTIL_MSG_H
#define BT_UTIL_MSG_H
#include <stddef.h>

void bt_msgf(char *msg, size_t msgcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
