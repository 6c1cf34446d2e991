/*
 * calib_cache.c - calibration's keys and its cache file (see calibrate.h), like FFTW's wisdom:
 * a text file of one line per measured case, read whole, rewritten whole through a temporary
 * file and a rename so that a reader never sees half a file. Anything that does not parse as a
 * line of this version is dropped on the next write, so a corrupt or foreign file costs one
 * measurement, never a crash.
 */
#define _GNU_SOURCE
#include "calibrate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CACHE_MAX_BYTES (1u << 20) /* a longer file is foreign: ignored, then replaced */
#define LINE_MAX_LEN 2048

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

uint64_t calgae_calib_cpu_key(void)
{
    uint64_t h = 0xcbf29ce484222325ull;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return h;
    char line[8192];
    int seen = 0;
    /* the first processor's lines: the others repeat them */
    while (seen < 2 && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) || !strncmp(line, "flags", 5) ||
            !strncmp(line, "Features", 8) || !strncmp(line, "CPU part", 8)) {
            h = fnv_str(h, line);
            seen++;
        }
    fclose(f);
    return h;
}

uint64_t calgae_calib_plugins_key(const calgae_backends *b)
{
    uint64_t sum = 0;
    for (int i = 0; i < b->n_plugins; i++) {
        const calgae_plugin *t = b->plugins[i].table;
        uint64_t h = fnv_str(0xcbf29ce484222325ull, b->plugins[i].path);
        struct stat st;
        if (stat(b->plugins[i].path, &st) == 0) {
            int64_t v[3] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                            (int64_t)st.st_mtim.tv_nsec};
            h = fnv(h, v, sizeof v);
        }
        h = fnv_str(fnv_str(fnv_str(fnv_str(h, t->name), t->version), t->isa), t->description);
        sum += h; /* a sum: the ranking's order does not change the key */
    }
    return sum;
}

static void append(char *out, size_t out_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *out, size_t out_len, const char *fmt, ...)
{
    size_t used = strlen(out);
    if (used >= out_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + used, out_len - used, fmt, ap);
    va_end(ap);
}

void calgae_calib_format(const calgae_calib_entry *e, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s cpu=%016llx plugins=%016llx type=%u cols=%lld threads=%d repack=%d mv",
             CALGAE_CALIB_MAGIC, (unsigned long long)e->cpu, (unsigned long long)e->plugins,
             e->type, (long long)e->cols, e->threads, e->repack);
    for (int i = 0; i < e->n_mv; i++)
        append(out, out_len, " %s=%.4g", e->mv_name[i], e->mv[i]);
    append(out, out_len, " mm");
    for (int i = 0; i < e->n_mm; i++)
        append(out, out_len, " %s=%.4g/%.4g", e->mm_name[i], e->mm_own[i], e->mm_stored[i]);
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

/* "key=value" with the expected key; value parsed by scanf's format into dst. */
static int field(const char *tok, const char *key, const char *fmt, void *dst)
{
    size_t n = strlen(key);
    char end;
    return tok && !strncmp(tok, key, n) && tok[n] == '=' && sscanf(tok + n + 1, fmt, dst, &end) == 1
               ? 0 : -1;
}

/* "name=a" or "name=a/b": the name and the figures (NaN and Inf refused: a figure is finite). */
static int figure(const char *tok, char *name, double *a, double *b)
{
    const char *eq = strchr(tok, '=');
    if (!eq || !valid_name(tok, (size_t)(eq - tok)))
        return -1;
    memcpy(name, tok, (size_t)(eq - tok));
    name[eq - tok] = '\0';
    char *end;
    *a = strtod(eq + 1, &end);
    if (b) {
        if (*end != '/')
            return -1;
        *b = strtod(end + 1, &end);
    }
    if (*end || !(*a > -1e300 && *a < 1e300) || (b && !(*b > -1e300 && *b < 1e300)))
        return -1;
    return 0;
}

int calgae_calib_parse(const char *line, calgae_calib_entry *e)
{
    char buf[LINE_MAX_LEN];
    if (strlen(line) >= sizeof buf)
        return -1;
    memcpy(buf, line, strlen(line) + 1);
    buf[strcspn(buf, "\r\n")] = '\0';
    memset(e, 0, sizeof *e);
    char *save = NULL;
    const char *t = strtok_r(buf, " ", &save);
    unsigned long long cpu = 0, plugins = 0;
    long long cols = 0;
    if (!t || strcmp(t, CALGAE_CALIB_MAGIC) != 0 ||
        field(strtok_r(NULL, " ", &save), "cpu", "%llx%c", &cpu) ||
        field(strtok_r(NULL, " ", &save), "plugins", "%llx%c", &plugins) ||
        field(strtok_r(NULL, " ", &save), "type", "%u%c", &e->type) ||
        field(strtok_r(NULL, " ", &save), "cols", "%lld%c", &cols) ||
        field(strtok_r(NULL, " ", &save), "threads", "%d%c", &e->threads) ||
        field(strtok_r(NULL, " ", &save), "repack", "%d%c", &e->repack))
        return -1;
    e->cpu = cpu;
    e->plugins = plugins;
    e->cols = cols;
    if (cols <= 0 || e->threads <= 0 || (e->repack != 0 && e->repack != 1))
        return -1;
    t = strtok_r(NULL, " ", &save);
    if (!t || strcmp(t, "mv") != 0)
        return -1;
    while ((t = strtok_r(NULL, " ", &save)) != NULL && strcmp(t, "mm") != 0) {
        if (e->n_mv == CALGAE_CALIB_MAX || figure(t, e->mv_name[e->n_mv], &e->mv[e->n_mv], NULL))
            return -1;
        e->n_mv++;
    }
    if (!t)
        return -1;
    while ((t = strtok_r(NULL, " ", &save)) != NULL) {
        int i = e->n_mm;
        if (i == CALGAE_CALIB_MAX || figure(t, e->mm_name[i], &e->mm_own[i], &e->mm_stored[i]))
            return -1;
        e->n_mm++;
    }
    return 0;
}

static int same_key(const calgae_calib_entry *a, const calgae_calib_entry *b)
{
    return a->cpu == b->cpu && a->plugins == b->plugins && a->type == b->type &&
           a->cols == b->cols && a->threads == b->threads && a->repack == b->repack;
}

/* The whole file as text (NUL-terminated), or NULL when there is none, or it is too long;
 * the buffer is the file's size, not the limit's. */
static char *read_all(const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size >= 0 && st.st_size <= CACHE_MAX_BYTES)
        buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0'; /* a file that shrank meanwhile reads shorter: still text */
    return buf;
}

/* Calls fn on every line of the file that parses; stops when fn returns nonzero. */
static void each_entry(const char *text, int (*fn)(void *, const calgae_calib_entry *, const char *),
                       void *user)
{
    calgae_calib_entry e;
    char line[LINE_MAX_LEN];
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n < sizeof line) {
            memcpy(line, p, n);
            line[n] = '\0';
            /* a NUL inside the line ends it early: the rest is not a field, so it fails */
            if (strlen(line) == n && calgae_calib_parse(line, &e) == 0 && fn(user, &e, line))
                return;
        }
        p = nl ? nl + 1 : NULL;
    }
}

struct find_ctx {
    calgae_calib_entry *want;
    int found;
};

static int find_fn(void *user, const calgae_calib_entry *e, const char *line)
{
    (void)line;
    struct find_ctx *c = user;
    if (!same_key(c->want, e))
        return 0;
    *c->want = *e;
    c->found = 1;
    return 1;
}

int calgae_calib_cache_find(const char *path, calgae_calib_entry *e)
{
    char *text = read_all(path);
    struct find_ctx c = {e, 0};
    each_entry(text, find_fn, &c);
    free(text);
    return c.found ? 0 : -1;
}

struct list_ctx {
    uint64_t cpu, plugins;
    calgae_calib_entry *out;
    int max, n;
};

static int list_fn(void *user, const calgae_calib_entry *e, const char *line)
{
    (void)line;
    struct list_ctx *c = user;
    if (e->cpu == c->cpu && e->plugins == c->plugins && c->n < c->max)
        c->out[c->n++] = *e;
    return c->n == c->max;
}

int calgae_calib_cache_list(const char *path, uint64_t cpu, uint64_t plugins,
                            calgae_calib_entry *out, int max)
{
    char *text = read_all(path);
    struct list_ctx c = {cpu, plugins, out, max, 0};
    each_entry(text, list_fn, &c);
    free(text);
    return c.n;
}

struct keep_ctx {
    const calgae_calib_entry *skip;
    FILE *f;
    size_t written;
};

/* The other valid lines of the old file, unless the file would outgrow its limit. */
static int keep_fn(void *user, const calgae_calib_entry *e, const char *line)
{
    struct keep_ctx *c = user;
    size_t n = strlen(line) + 1;
    if (same_key(c->skip, e) || c->written + n > CACHE_MAX_BYTES / 2)
        return 0;
    fprintf(c->f, "%s\n", line);
    c->written += n;
    return 0;
}

/* mkdir -p of path's folder (the XDG cache folder may not exist yet). */
static void make_parents(const char *path)
{
    char dir[4096];
    if (strlen(path) >= sizeof dir)
        return;
    snprintf(dir, sizeof dir, "%s", path);
    for (char *s = dir + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        (void)mkdir(dir, 0755);
        *s = '/';
    }
}

int calgae_calib_cache_store(const char *path, const calgae_calib_entry *e, char *why,
                             size_t why_len)
{
    char tmp[4096 + 32];
    if (!path || strlen(path) >= 4096)
        return calgae_fail(why, why_len, "no usable cache path");
    make_parents(path);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return calgae_fail(why, why_len, "%s: %s", tmp, strerror(errno));
    char *old = read_all(path);
    fprintf(f, "# calgae kernel calibration: figures in ns per row (mv) and per row and token "
               "(mm: own layout/stored layout); safe to delete\n");
    struct keep_ctx c = {e, f, 0};
    each_entry(old, keep_fn, &c);
    free(old);
    char line[LINE_MAX_LEN];
    calgae_calib_format(e, line, sizeof line);
    fprintf(f, "%s\n", line);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return calgae_fail(why, why_len, "%s: %s", path, strerror(saved));
    }
    return 0;
}
