/* util.c - error formatting, read-only file maps, atomic file writes and a clock (see util.h). */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int calgae_fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int calgae_map_file(calgae_map *m, const char *path, char *err, size_t err_len)
{
    m->data = NULL;
    m->size = 0;
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise block before the regular-file
     * check below; it changes nothing for regular files */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return calgae_fail(err, err_len, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return calgae_fail(err, err_len, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return calgae_fail(err, err_len, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (p == MAP_FAILED)
        return calgae_fail(err, err_len, "%s: cannot map: %s", path, strerror(e));
    m->data = p;
    m->size = (size_t)st.st_size;
    return 0;
}

void calgae_unmap(calgae_map *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

double calgae_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int calgae_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

void calgae_drop_pages(const void *p, size_t n)
{
    const long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0 || n == 0)
        return;
    const uintptr_t page = (uintptr_t)ps;
    const uintptr_t lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + n) / page * page;
    if (lo < hi)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice: failing changes nothing */
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double calgae_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Makes the rename itself durable; best effort, as not every file system supports it. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int calgae_write_atomic(const char *path, const char *what, int (*fill)(FILE *f, void *ctx),
                        void *ctx, char *err, size_t err_len)
{
    const size_t tmp_len = strlen(path) + sizeof ".tmp.XXXXXX";
    char *tmp = malloc(tmp_len);
    if (!tmp)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    snprintf(tmp, tmp_len, "%s.tmp.XXXXXX", path);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        const int e = errno;
        free(tmp);
        return calgae_fail(err, err_len, "%s: cannot create a temporary file: %s", path,
                           strerror(e));
    }
    fchmod(fd, 0644); /* mkstemp makes it 0600; outputs are readable like any other file */
    FILE *f = fdopen(fd, "wb");
    int e = f ? 0 : errno;
    if (!f)
        close(fd);
    if (f) {
        errno = 0;
        e = fill(f, ctx);
        if (e == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
            e = errno ? errno : EIO;
        if (fclose(f) != 0 && e == 0)
            e = errno ? errno : EIO;
    }
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0)
        unlink(tmp);
    free(tmp);
    if (e != 0)
        return calgae_fail(err, err_len, "%s: cannot write%s%s: %s", path, what ? " " : "",
                           what ? what : "", strerror(e));
    sync_parent_dir(path);
    return 0;
}
