/* agent_err.c - the agent's error messages (see agent_err.h). */
#include "agent_err.h"

#include <stdarg.h>
#include <stdio.h>

int calgae_agent_fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err_len)
        vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}
