/*
 * args.h - what the subcommands share for their command lines: strict number parsing for
 * flags and the one way errors reach the user.
 */
#ifndef CALGAE_ARGS_H
#define CALGAE_ARGS_H

#include <stdint.h>

/* Strict number parsing for flags: the whole string must be a number in range. */
int calgae_parse_int(const char *flag, const char *s, long min, long max, long *out);
int calgae_parse_float(const char *flag, const char *s, double min, double max, double *out);
int calgae_parse_u64(const char *flag, const char *s, uint64_t *out);

/* Prints "calgae: <msg>" to stderr. */
void calgae_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
