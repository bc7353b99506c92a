#include "util/msg.h"
#include <stdarg.h>
#include <stdio.h>

void bt_msgf(char *msg, size_t msgcap, const char *fmt, ...)
{
    if (!msg || msgcap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msgcap, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}
