/*
 * config.c - calgae.ini (see config.h and config.md). inih reads the INI syntax; this file
 * feeds it one whole line at a time through a reader of its own, because inih alone gives no
 * line number to the handler, cuts a line longer than its buffer in two and parses the rest
 * as a new line, stops a line at a NUL byte, and takes an indented line as the continuation
 * of the value above. Everything a key means, and every check of a value, is here.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#ifndef CALGAE_NO_INIH
#include <ini.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/* Far above any real settings file; also what stops --config /dev/zero. */
#define MAX_FILE_BYTES (1u << 20)
#define MSG_LEN 480

enum section { SEC_NONE, SEC_PLUGINS, SEC_KERNELS, SEC_RUN, SEC_UNKNOWN };

/* Every key, for the duplicate check; the slots of [kernels] follow K_SLOT0. */
enum key { K_DIRS, K_ORDER, K_DENY, K_THREADS, K_BACKEND, K_CALIBRATE, K_SLOT0 };
#define K_COUNT (K_SLOT0 + CALGAE_SLOT_COUNT)

struct parser {
    calgae_settings *c;
    const char *name; /* the file, for messages and relative folders */
    const char *text;
    size_t len, pos;
    int line;    /* the line inih is on: the reader counts them */
    int section; /* enum section, of the last header the reader saw */
    int key_line[K_COUNT];
    int err_line; /* the first error found (0: none) */
    char err[MSG_LEN];
};

/* Hostile files end up in messages: show at most 40 characters, printable ASCII only. */
static const char *shown(const char *s, char out[64])
{
    size_t i = 0;
    for (; s[i] && i < 40; i++)
        out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (s[i])
        memcpy(out + i, "...", 4);
    else
        out[i] = '\0';
    return out;
}

__attribute__((format(printf, 3, 4))) static void bad_at(struct parser *p, int line,
                                                         const char *fmt, ...)
{
    /* the earliest line wins: checks that run after parsing may point above the first error */
    if (p->err_line && p->err_line <= line)
        return;
    p->err_line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CALGAE_SETTINGS_NAME_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* The loader's rule for --backend: a path has a '/' or ends in .so. */
static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n > 3 && strcmp(s + n - 3, ".so") == 0);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* A relative path in the file is taken from the file's folder, so that a file in
 * ~/.config/calgae can name folders beside it whatever the current folder is. */
static int resolve(const struct parser *p, const char *path, char *out, size_t out_len)
{
    const char *slash = strrchr(p->name, '/');
    int n;
    if (path[0] == '/' || !slash)
        n = snprintf(out, out_len, "%s", path);
    else
        n = snprintf(out, out_len, "%.*s/%s", (int)(slash - p->name), p->name, path);
    return n >= 0 && (size_t)n < out_len ? 0 : -1;
}

/* The next item of a sep-separated list, trimmed, in buf; NULL after the last. An empty item
 * ("a,,b", "a,") comes back as "" for the caller to refuse, where strtok would skip it. */
static char *next_item(const char **s, char sep, char *buf, size_t n)
{
    if (!*s)
        return NULL;
    const char *e = strchr(*s, sep);
    snprintf(buf, n, "%.*s", (int)(e ? (size_t)(e - *s) : strlen(*s)), *s);
    *s = e ? e + 1 : NULL;
    return trim(buf);
}

static int name_ok(struct parser *p, const char *key, const char *name)
{
    char tmp[64];
    if (!*name)
        bad_at(p, p->line, "%s: an empty name in the list", key);
    else if (!valid_name(name))
        bad_at(p, p->line, "%s: '%s' is not a plugin name ([a-z0-9_-], 1 to 32 characters)", key,
               shown(name, tmp));
    return *name && valid_name(name);
}

/* order = a, b, c and deny = ...: valid names, none twice. */
static void parse_names(struct parser *p, const char *key, const char *value,
                        calgae_settings_name *list, int *n)
{
    char buf[256];
    for (const char *s = value, *item; (item = next_item(&s, ',', buf, sizeof buf));) {
        if (!name_ok(p, key, item))
            return;
        for (int i = 0; i < *n; i++) {
            if (strcmp(list[i].name, item) == 0) {
                bad_at(p, p->line, "%s: '%s' is listed twice", key, item);
                return;
            }
        }
        if (*n == CALGAE_MAX_PLUGINS) {
            bad_at(p, p->line, "%s: more than %d names", key, CALGAE_MAX_PLUGINS);
            return;
        }
        snprintf(list[*n].name, sizeof list[*n].name, "%s", item);
        list[(*n)++].line = p->line;
    }
}

static void parse_dirs(struct parser *p, const char *value)
{
    char buf[256], tmp[64];
    calgae_settings *c = p->c;
    for (const char *s = value, *d; (d = next_item(&s, ':', buf, sizeof buf));) {
        if (!*d) {
            bad_at(p, p->line, "dirs: an empty folder in the list");
            return;
        }
        if (c->n_dirs == CALGAE_SETTINGS_MAX_DIRS) {
            bad_at(p, p->line, "dirs: more than %d folders", CALGAE_SETTINGS_MAX_DIRS);
            return;
        }
        if (resolve(p, d, c->dirs[c->n_dirs], sizeof c->dirs[0]) != 0) {
            bad_at(p, p->line, "dirs: folder name too long: '%s'", shown(d, tmp));
            return;
        }
        c->n_dirs++;
    }
    c->dirs_line = p->line;
}

static void parse_threads(struct parser *p, const char *value)
{
    char *end, tmp[64];
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < 1 || v > 1024) {
        bad_at(p, p->line, "threads: '%s' is not an integer in 1..1024", shown(value, tmp));
        return;
    }
    p->c->threads = (int)v;
    p->c->threads_line = p->line;
}

static void parse_backend(struct parser *p, const char *value)
{
    calgae_settings *c = p->c;
    char tmp[64];
    if (strcmp(value, "auto") != 0 && !is_path(value) && !valid_name(value)) {
        bad_at(p, p->line, "backend: '%s' is not auto, a plugin name ([a-z0-9_-]) or a FILE.so",
               shown(value, tmp));
        return;
    }
    if (is_path(value) ? resolve(p, value, c->backend, sizeof c->backend) != 0
                       : snprintf(c->backend, sizeof c->backend, "%s", value) < 0) {
        bad_at(p, p->line, "backend: path too long");
        return;
    }
    c->backend_line = p->line;
}

int calgae_calibrate_mode_parse(const char *s)
{
    return !strcmp(s, "auto") ? CALGAE_CALIB_AUTO : !strcmp(s, "redo") ? CALGAE_CALIB_REDO
         : !strcmp(s, "off") ? CALGAE_CALIB_OFF : -1;
}

static void parse_calibrate(struct parser *p, const char *value)
{
    char tmp[64];
    p->c->calibrate = calgae_calibrate_mode_parse(value);
    if (p->c->calibrate < 0)
        bad_at(p, p->line, "calibrate: '%s' is not auto, redo or off", shown(value, tmp));
    p->c->calibrate_line = p->line;
}

static const char *section_name(int s)
{
    return s == SEC_PLUGINS ? "plugins" : s == SEC_KERNELS ? "kernels" : "run";
}

/* The key's index, or -1 if the section has no such key. */
static int key_of(int section, const char *name)
{
    if (section == SEC_PLUGINS)
        return !strcmp(name, "dirs") ? K_DIRS : !strcmp(name, "order") ? K_ORDER
             : !strcmp(name, "deny") ? K_DENY : -1;
    if (section == SEC_RUN)
        return !strcmp(name, "threads") ? K_THREADS : !strcmp(name, "backend") ? K_BACKEND
             : !strcmp(name, "calibrate") ? K_CALIBRATE : -1;
    int s = calgae_slot_by_name(name);
    return s < 0 ? -1 : K_SLOT0 + s;
}

static void unknown_key(struct parser *p, const char *name)
{
    char tmp[64];
    if (p->section != SEC_KERNELS) {
        bad_at(p, p->line, "unknown key '%s' in [%s] (keys: %s)", shown(name, tmp),
               section_name(p->section),
               p->section == SEC_PLUGINS ? "dirs, order, deny" : "threads, backend, calibrate");
        return;
    }
    char slots[512] = "";
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        snprintf(slots + strlen(slots), sizeof slots - strlen(slots), "%s%s", s ? ", " : "",
                 calgae_slot_name(s));
    bad_at(p, p->line, "unknown kernel slot '%s' in [kernels] (slots: %s)", shown(name, tmp),
           slots);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    (void)section; /* the reader tracks sections itself, trimmed and checked */
    struct parser *p = user;
    char tmp[64];
    if (p->err_line) /* only the first error is reported */
        return 1;
    if (!*name) {
        bad_at(p, p->line, "a value without a key");
        return 1;
    }
    if (p->section == SEC_NONE) {
        bad_at(p, p->line, "key '%s' before any section ([plugins], [kernels] or [run])",
               shown(name, tmp));
        return 1;
    }
    int key = key_of(p->section, name);
    if (key < 0) {
        unknown_key(p, name);
        return 1;
    }
    if (p->key_line[key]) {
        bad_at(p, p->line, "duplicate key '%s' in [%s] (first set on line %d)", name,
               section_name(p->section), p->key_line[key]);
        return 1;
    }
    p->key_line[key] = p->line;
    if (!*value) {
        bad_at(p, p->line, "%s: empty value", name);
        return 1;
    }
    calgae_settings *c = p->c;
    switch (key) {
    case K_DIRS: parse_dirs(p, value); break;
    case K_ORDER: parse_names(p, "order", value, c->order, &c->n_order); break;
    case K_DENY: parse_names(p, "deny", value, c->deny, &c->n_deny); break;
    case K_THREADS: parse_threads(p, value); break;
    case K_BACKEND: parse_backend(p, value); break;
    case K_CALIBRATE: parse_calibrate(p, value); break;
    default:
        if (name_ok(p, name, value)) {
            snprintf(c->slot[key - K_SLOT0].name, sizeof c->slot[0].name, "%s", value);
            c->slot[key - K_SLOT0].line = p->line;
        }
    }
    return 1;
}

/* "[name]" lines: the reader, not inih, decides the section, so an unknown one is reported
 * on its own line even when no key follows, and " run " means run. */
static void header(struct parser *p, char *line)
{
    char *close = strchr(line, ']');
    if (!close) /* inih reports the line */
        return;
    char name[256], tmp[64];
    snprintf(name, sizeof name, "%.*s", (int)(close - line - 1), line + 1);
    char *n = trim(name);
    p->section = !strcmp(n, "plugins") ? SEC_PLUGINS : !strcmp(n, "kernels") ? SEC_KERNELS
               : !strcmp(n, "run") ? SEC_RUN : SEC_UNKNOWN;
    if (p->section == SEC_UNKNOWN)
        bad_at(p, p->line, "unknown section [%s] (sections: [plugins], [kernels], [run])",
               shown(n, tmp));
}

/* inih's fgets-like source: one whole line per call, or an empty one (and an error) for a line
 * inih would mangle. Returning NULL once an error is known ends the parse early. */
static char *reader(char *buf, int num, void *user)
{
    struct parser *p = user;
    if (p->err_line || p->pos >= p->len)
        return NULL;
    const char *s = p->text + p->pos;
    const size_t rest = p->len - p->pos;
    const char *nl = memchr(s, '\n', rest);
    size_t n = nl ? (size_t)(nl - s) : rest;
    p->pos += nl ? n + 1 : n;
    p->line++;
    buf[0] = '\0';
    if (n && s[n - 1] == '\r')
        n--;
    if (p->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        s += 3;
        n -= 3;
    }
    if (memchr(s, '\0', n)) {
        bad_at(p, p->line, "a NUL byte: this is not a text file");
        return buf;
    }
    /* inih's own limit is its buffer less "\r\n\0" */
    const int max = num - 3;
    if (max < 1 || n > (size_t)max) {
        bad_at(p, p->line, "line longer than %d bytes", max);
        return buf;
    }
    /* no leading blanks: inih would read an indented line as a continuation of the last value */
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (buf[0] == '[')
        header(p, buf);
    return buf;
}

/* Why inih refused line `line`: it only says which line. */
static void syntax_error(struct parser *p, int line)
{
    const char *s = p->text, *end = p->text + p->len;
    for (int l = 1; l < line && s < end; l++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        s = nl ? nl + 1 : end;
    }
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    char text[256], tmp[64];
    snprintf(text, sizeof text, "%.*s", (int)((nl ? nl : end) - s), s);
    const char *t = trim(text);
    if (*t == '[')
        bad_at(p, line, "section header without a closing ']': '%s'", shown(t, tmp));
    else
        bad_at(p, line, "cannot parse '%s': want 'key = value', a [section] or a ; comment",
               shown(t, tmp));
}

/* A name both denied and asked for is a contradiction, not a preference: say so. */
static void cross_checks(struct parser *p)
{
    const calgae_settings *c = p->c;
    for (int d = 0; d < c->n_deny; d++) {
        const calgae_settings_name *dn = &c->deny[d];
        for (int i = 0; i < c->n_order; i++)
            if (strcmp(c->order[i].name, dn->name) == 0)
                bad_at(p, c->order[i].line, "order: '%s' is also denied (line %d)", dn->name,
                       dn->line);
        for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
            if (strcmp(c->slot[s].name, dn->name) == 0)
                bad_at(p, c->slot[s].line, "%s: '%s' is denied (line %d)", calgae_slot_name(s),
                       dn->name, dn->line);
        if (strcmp(c->backend, dn->name) == 0)
            bad_at(p, c->backend_line, "backend: '%s' is denied (line %d)", dn->name, dn->line);
    }
}

int calgae_settings_parse_string(calgae_settings *c, const char *name, const char *text,
                                 size_t len, char *err, size_t err_len)
{
    memset(c, 0, sizeof *c);
    c->source = CALGAE_SETTINGS_FLAG;
    snprintf(c->path, sizeof c->path, "%s", name);
    struct parser *p = calloc(1, sizeof *p);
    if (!p)
        return calgae_fail(err, err_len, "%s: out of memory", name);
    p->c = c;
    p->name = name;
    p->text = text;
    p->len = len;
#ifdef CALGAE_NO_INIH
    /* the minimal cross build has no inih: a file is only read when one exists or is named */
    (void)reader;
    (void)handler;
    int rc = 0;
    size_t blank = 0;
    while (blank < len && isspace((unsigned char)text[blank]))
        blank++;
    if (blank < len) /* an empty file (CALGAE_CONFIG=/dev/null) says nothing: fine */
        bad_at(p, 1, "configuration files are not supported by this build (built without inih)");
#else
    int rc = ini_parse_stream(reader, p, handler, p);
#endif
    if (rc > 0 && (!p->err_line || rc < p->err_line))
        syntax_error(p, rc);
    else if (rc < 0 && !p->err_line)
        bad_at(p, 1, "inih failed (%d)", rc);
    if (!p->err_line)
        cross_checks(p);
    rc = p->err_line ? calgae_fail(err, err_len, "%s:%d: %s", name, p->err_line, p->err) : 0;
    free(p);
    return rc;
}

/* The whole file in memory (NUL-terminated for convenience, len excludes it). */
static int read_all(const char *path, const char *why, char **out, size_t *len, char *err,
                    size_t err_len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return calgae_fail(err, err_len, "%s: cannot open the configuration file: %s%s", path,
                           strerror(errno), why);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    int rc = 0;
    while (buf) {
        if (n == cap) {
            /* the buffer grows to one byte past the limit, so a full one means too much */
            if (cap > MAX_FILE_BYTES) {
                rc = calgae_fail(err, err_len, "%s: more than %u bytes: not a configuration file",
                                 path, MAX_FILE_BYTES);
                break;
            }
            size_t next = 2 * cap > MAX_FILE_BYTES ? MAX_FILE_BYTES + 1 : 2 * cap;
            char *bigger = realloc(buf, next + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap = next;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = calgae_fail(err, err_len, "%s: cannot read the configuration file: %s%s",
                                 path, strerror(errno), why);
            break;
        }
    }
    fclose(f);
    if (!buf)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int parse_file_from(calgae_settings *c, const char *path, int source, char *err,
                           size_t err_len)
{
    const char *why = source == CALGAE_SETTINGS_FLAG  ? " (named by --config)"
                      : source == CALGAE_SETTINGS_ENV ? " (named by $CALGAE_CONFIG)"
                                                      : "";
    memset(c, 0, sizeof *c);
    char *text = NULL;
    size_t len = 0;
    if (read_all(path, why, &text, &len, err, err_len) != 0)
        return -1;
    int rc = calgae_settings_parse_string(c, path, text, len, err, err_len);
    free(text);
    c->source = source;
    return rc;
}

int calgae_settings_parse_file(calgae_settings *c, const char *path, char *err, size_t err_len)
{
    return parse_file_from(c, path, CALGAE_SETTINGS_FLAG, err, err_len);
}

const char *calgae_settings_source_name(int source)
{
    switch (source) {
    case CALGAE_SETTINGS_FLAG: return "--config";
    case CALGAE_SETTINGS_ENV: return "$CALGAE_CONFIG";
    case CALGAE_SETTINGS_CWD: return "the current folder";
    case CALGAE_SETTINGS_XDG: return "the XDG config folder";
    default: return "none";
    }
}

/* A default place holds a file unless it plainly doesn't; anything else (no permission, a
 * folder) is reported by the read, not skipped. */
static int present(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

int calgae_settings_locate(const char *flag_path, int *source, char *path, size_t path_len,
                           char *err, size_t err_len)
{
    *source = CALGAE_SETTINGS_NONE;
    path[0] = '\0';
    const char *env = getenv("CALGAE_CONFIG");
    const char *named = flag_path ? flag_path : env && *env ? env : NULL;
    if (flag_path && !*flag_path)
        return calgae_fail(err, err_len, "--config: empty file name");
    if (named) {
        if ((size_t)snprintf(path, path_len, "%s", named) >= path_len)
            return calgae_fail(err, err_len, "configuration file name too long");
        *source = flag_path ? CALGAE_SETTINGS_FLAG : CALGAE_SETTINGS_ENV;
        return 0;
    }
    if (present("./calgae.ini")) {
        snprintf(path, path_len, "./calgae.ini");
        *source = CALGAE_SETTINGS_CWD;
        return 0;
    }
    /* XDG Base Directory: a relative $XDG_CONFIG_HOME is invalid and ignored */
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(path, path_len, "%s/calgae/calgae.ini", xdg);
    else if (home && home[0] == '/')
        n = snprintf(path, path_len, "%s/.config/calgae/calgae.ini", home);
    else
        n = -1;
    if (n >= 0 && (size_t)n < path_len && present(path)) {
        *source = CALGAE_SETTINGS_XDG;
        return 0;
    }
    path[0] = '\0';
    return 0;
}

int calgae_settings_load(calgae_settings *c, const char *flag_path, char *err, size_t err_len)
{
    memset(c, 0, sizeof *c);
    int source;
    char path[CALGAE_SETTINGS_PATH_LEN];
    if (calgae_settings_locate(flag_path, &source, path, sizeof path, err, err_len) != 0)
        return -1;
    if (source == CALGAE_SETTINGS_NONE)
        return 0;
    return parse_file_from(c, path, source, err, err_len);
}

void calgae_settings_backend_options(const calgae_settings *c, const char *cli_backend,
                                     calgae_backend_options *o)
{
    /* the default folders' strings live in o->dir_storage, which the memset must not clear */
    memset(o, 0, sizeof *o);
    calgae_default_plugin_dirs(o);
    const char *def[CALGAE_MAX_PLUGIN_DIRS];
    const int n_def = o->n_dirs;
    memcpy(def, o->dirs, sizeof def);
    o->n_dirs = 0;
    for (int i = 0; i < c->n_dirs; i++)
        o->dirs[o->n_dirs++] = c->dirs[i];
    /* when $CALGAE_PLUGIN_PATH and the file name too many folders, the installed folders (the
     * last defaults, where scalar lives) are the ones kept */
    const int room = CALGAE_MAX_PLUGIN_DIRS - o->n_dirs;
    for (int i = 0; i < n_def; i++)
        if (i < room - 2 || i >= n_def - 2)
            o->dirs[o->n_dirs++] = def[i];
    o->forced = cli_backend && *cli_backend ? cli_backend : c->backend[0] ? c->backend : NULL;
    for (int i = 0; i < c->n_order; i++)
        o->order[o->n_order++] = c->order[i].name;
    for (int i = 0; i < c->n_deny; i++)
        o->deny[o->n_deny++] = c->deny[i].name;
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        o->slot_plugin[s] = c->slot[s].name[0] ? c->slot[s].name : NULL;
}

static int found(const calgae_backends *b, const char *name)
{
    for (int i = 0; i < b->n_candidates; i++)
        if (b->candidates[i].have_table && strcmp(b->candidates[i].name, name) == 0)
            return 1;
    return 0;
}

/* Keeps the earliest line that names an unknown plugin. */
static void check_one(const calgae_backends *b, const calgae_settings_name *n, int *line,
                      const char **name)
{
    if (n->name[0] && !found(b, n->name) && (!*line || n->line < *line)) {
        *line = n->line;
        *name = n->name;
    }
}

int calgae_settings_check_names(const calgae_settings *c, const calgae_backends *b, char *err,
                                size_t err_len)
{
    int line = 0;
    const char *name = NULL;
    for (int i = 0; i < c->n_order; i++)
        check_one(b, &c->order[i], &line, &name);
    for (int i = 0; i < c->n_deny; i++)
        check_one(b, &c->deny[i], &line, &name);
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        check_one(b, &c->slot[s], &line, &name);
    calgae_settings_name be = {.line = c->backend_line};
    if (c->backend[0] && strcmp(c->backend, "auto") != 0 && !is_path(c->backend)) {
        snprintf(be.name, sizeof be.name, "%.*s", (int)sizeof be.name - 1, c->backend);
        check_one(b, &be, &line, &name);
    }
    if (!line)
        return 0;
    char seen[400] = "";
    for (int i = 0; i < b->n_candidates; i++) {
        const calgae_candidate *k = &b->candidates[i];
        int again = 0;
        for (int j = 0; j < i && !again; j++)
            again = strcmp(b->candidates[j].name, k->name) == 0;
        size_t used = strlen(seen);
        if (k->have_table && k->name[0] && !again)
            snprintf(seen + used, sizeof seen - used, "%s%s", used ? ", " : "", k->name);
    }
    calgae_fail(err, err_len, "%s:%d: unknown backend '%s' (plugins found: %s)", c->path, line,
                name, seen[0] ? seen : "none");
    return CALGAE_SETTINGS_BAD;
}
