/*
 * util.h - small shared helpers of the host: error messages as values and read-only file maps.
 *
 * Convention used across core/: a function that can fail returns 0 on success and non-zero on
 * failure, having written a one-line, NUL-terminated message into the caller's buffer
 * (err, err_len). Messages name the file and what is wrong; the CLI prints them.
 */
#ifndef CALGAE_UTIL_H
#define CALGAE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Room for a path of PATH_MAX (4096) bytes and a reason after it. */
#define CALGAE_ERR_LEN 4608
/* The longest path the host accepts; longer ones are refused, never truncated. */
#define CALGAE_PATH_MAX 4096

/* Formats into err (if err_len > 0) and returns -1, so error paths read `return calgae_fail(...)`. */
int calgae_fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A whole file mapped read-only. */
typedef struct calgae_map {
    const uint8_t *data;
    size_t size;
} calgae_map;

/* Maps path read-only (a zero-length file gives data == NULL, size 0). */
int calgae_map_file(calgae_map *m, const char *path, char *err, size_t err_len);
void calgae_unmap(calgae_map *m);

/* Drops this process's mapped pages of [p, p + n) of a read-only file mapping (the whole pages
 * inside it): they leave the resident set, and a later read maps them again from the page
 * cache, so the bytes stay valid. */
void calgae_drop_pages(const void *p, size_t n);

/* The median of v[0 .. n), n >= 1 (the mean of the middle two when n is even); sorts v. */
double calgae_median(double *v, int n);

/* Monotonic clock in milliseconds. */
double calgae_now_ms(void);

/* Writes path atomically, as every file the library writes is written: a temporary file beside
 * it (mode 0644), filled by fill(f, ctx), which returns 0 or an errno value; then flushed,
 * fsynced, renamed over path and the folder synced, so a reader sees the old file or the whole
 * new one and a failure leaves an existing file intact and no temporary behind. Messages:
 * "PATH: cannot create a temporary file: ..." and "PATH: cannot write[ WHAT]: ..." (what may be
 * NULL). */
int calgae_write_atomic(const char *path, const char *what, int (*fill)(FILE *f, void *ctx),
                        void *ctx, char *err, size_t err_len);

/* a * b into *out, returning 0, or -1 if it overflows size_t. */
int calgae_mul_size(size_t a, size_t b, size_t *out);

#endif
