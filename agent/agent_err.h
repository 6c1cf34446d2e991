/*
 * agent_err.h - how the agent's modules report an error: a printf-style one-line message into
 * the caller's buffer, and -1 to return. (The agent is a client of the public library header,
 * which keeps the engine's own helper private.)
 */
#ifndef CALGAE_AGENT_ERR_H
#define CALGAE_AGENT_ERR_H

#include <stddef.h>

/* Formats the message into err (when err_len > 0) and returns -1. */
int calgae_agent_fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
