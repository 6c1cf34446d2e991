/* args.c - see args.h. */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void calgae_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("calgae: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int calgae_parse_int(const char *flag, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        calgae_cli_error("%s: '%s' is not an integer in %ld..%ld", flag, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int calgae_parse_float(const char *flag, const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= min && v <= max)) {
        calgae_cli_error("%s: '%s' is not a number in %g..%g", flag, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int calgae_parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-') {
        calgae_cli_error("%s: '%s' must not be negative", flag, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) {
        calgae_cli_error("%s: '%s' is not an unsigned integer", flag, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}
