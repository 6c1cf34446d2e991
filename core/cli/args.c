/* args.c - see args.h. */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calgae.h"

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

int calgae_edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64)
        return 255;
    int d[65][65];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1; /* two neighbours swapped: one edit */
            d[i][j] = best;
        }
    }
    return d[na][nb] > 255 ? 255 : d[na][nb];
}

const char *calgae_nearest(const char *word, const char *const *names, int n)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < n; i++) {
        int d = calgae_edit_distance(word, names[i]);
        int len = (int)strlen(word);
        if (d < best_d && d < len && d <= (len >= 5 ? 2 : 1)) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

/* ---- the check before getopt ---------------------------------------------------------- */

/* llama.cpp flags that Calgae does not have, known by their multi-letter short spelling and
 * their long ones, so that -ngl 99 is never read as -n gl. Those about GPUs mean nothing on a
 * CPU and are dropped with a note; the others are refused by name. */
static const struct llama_flag {
    const char *shrt, *lng, *alt;
    int value;  /* takes a value */
    int ignore; /* meaningless on a CPU: dropped with a note */
} llama_flags[] = {
    {"-ngl", "--n-gpu-layers", "--gpu-layers", 1, 1},
    {"-ngld", "--n-gpu-layers-draft", "--gpu-layers-draft", 1, 1},
    {"-mg", "--main-gpu", NULL, 1, 1},
    {"-sm", "--split-mode", NULL, 1, 1},
    {"-ts", "--tensor-split", NULL, 1, 1},
    {"-dev", "--device", NULL, 1, 1},
    {"-nkvo", "--no-kv-offload", NULL, 0, 1},
    {"-fa", "--flash-attn", NULL, 0, 0},
    {"-ctk", "--cache-type-k", NULL, 1, 0},
    {"-ctv", "--cache-type-v", NULL, 1, 0},
    {"-tb", "--threads-batch", NULL, 1, 0},
    {"-ub", "--ubatch-size", NULL, 1, 0},
    {"-np", "--parallel", NULL, 1, 0},
    {"-ns", "--sequences", NULL, 1, 0},
    {"-cb", "--cont-batching", NULL, 0, 0},
    {"-nocb", "--no-cont-batching", NULL, 0, 0},
    {"-md", "--model-draft", NULL, 1, 0},
    {"-mu", "--model-url", NULL, 1, 0},
    {"-hf", "--hf-repo", "-hfr", 1, 0},
    {"-hff", "--hf-file", NULL, 1, 0},
    {"-ot", "--override-tensor", NULL, 1, 0},
    {"-lv", "--verbosity", "--log-verbosity", 1, 0},
    {"-cnv", "--conversation", NULL, 0, 0},
    {"-no-cnv", "--no-conversation", NULL, 0, 0},
    {"-mli", "--multiline-input", NULL, 0, 0},
    {"-sys", "--system-prompt", NULL, 1, 0},
    {"-sp", "--special", NULL, 0, 0},
    {"-cml", "--chatml", NULL, 0, 0},
    {"-st", "--single-turn", NULL, 0, 0},
    {"-dt", "--defrag-thold", NULL, 1, 0},
    {"-gan", "--grp-attn-n", NULL, 1, 0},
    {"-gaw", "--grp-attn-w", NULL, 1, 0},
    {"-nommq", "--no-mmq", NULL, 0, 1},
};

static const struct llama_flag *llama_flag(const char *arg)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    for (size_t i = 0; i < sizeof llama_flags / sizeof llama_flags[0]; i++) {
        const struct llama_flag *f = &llama_flags[i];
        if (!strcmp(name, f->shrt) || !strcmp(name, f->lng) || (f->alt && !strcmp(name, f->alt)))
            return f;
    }
    return NULL;
}

/* ", did you mean --x?" for a mistyped long flag name, or "". */
static void suggest(const char *name, const struct option *longs, char *out, size_t out_len)
{
    const char *names[96];
    int n = 0;
    for (; longs && longs->name && n < 96; longs++)
        names[n++] = longs->name;
    const char *near = calgae_nearest(name, names, n);
    snprintf(out, out_len, near ? " (did you mean --%s?)" : "%s", near ? near : "");
}

/* The long option named by name (up to '=' or the end): an exact match, else the one it is an
 * unambiguous prefix of, as getopt_long takes them. NULL with *ambiguous set when two fit. */
static const struct option *find_long(const struct option *longs, const char *name, int *ambiguous)
{
    size_t len = strcspn(name, "=");
    const struct option *hit = NULL;
    *ambiguous = 0;
    for (const struct option *o = longs; o && o->name; o++) {
        if (strncmp(o->name, name, len) != 0)
            continue;
        if (strlen(o->name) == len)
            return o;
        *ambiguous = hit != NULL;
        hit = o;
    }
    return *ambiguous ? NULL : hit;
}

/* Removes argv[i..i+k) from argv. */
static void drop(int *argc, char **argv, int i, int k)
{
    if (i + k > *argc)
        k = *argc - i;
    memmove(argv + i, argv + i + k, (size_t)(*argc - i - k + 1) * sizeof *argv);
    *argc -= k;
}

/* A llama.cpp flag at argv[i]: the number of arguments to drop (ignored), or -1 (refused). */
static int llama(const char *cmd, const struct llama_flag *f, int argc, char **argv, int i)
{
    const char *arg = argv[i];
    if (!f->ignore) {
        calgae_cli_error("%s: %s is a llama.cpp flag (%s) that Calgae does not have (see 'calgae %s "
                     "--help')", cmd, arg, f->lng, cmd);
        return -1;
    }
    int k = f->value && !strchr(arg, '=') ? 2 : 1;
    if (k == 2 && i + 1 >= argc) {
        calgae_cli_error("option %s needs a value", arg);
        return -1;
    }
    fprintf(stderr, "calgae: note: %s%s%s ignored: Calgae runs on the CPU\n", arg,
            k == 2 ? " " : "", k == 2 ? argv[i + 1] : "");
    return k;
}

/* One "--name[=value]" at argv[i]: how many arguments it spans, 0 when dropped, -1 bad. */
static int check_long(const char *cmd, int *argc, char **argv, int i, const struct option *longs)
{
    const char *arg = argv[i];
    int ambiguous;
    const struct option *o = find_long(longs, arg + 2, &ambiguous);
    if (o)
        return o->has_arg == required_argument && !strchr(arg, '=') ? 2 : 1;
    const struct llama_flag *f = llama_flag(arg);
    if (f && !ambiguous) {
        int k = llama(cmd, f, *argc, argv, i);
        if (k < 0)
            return -1;
        drop(argc, argv, i, k);
        return 0;
    }
    char name[64], hint[80];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    if (ambiguous) {
        calgae_cli_error("%s: option --%s is ambiguous (see 'calgae %s --help')", cmd, name, cmd);
        return -1;
    }
    suggest(name, longs, hint, sizeof hint);
    if (hint[0])
        calgae_cli_error("%s: unknown option --%s%s", cmd, name, hint);
    else
        calgae_cli_error("%s: unknown option --%s (see 'calgae %s --help')", cmd, name, cmd);
    return -1;
}

/* One "-xyz" at argv[i]: how many arguments it spans, 0 when dropped, -1 bad. */
static int check_short(const char *cmd, int *argc, char **argv, int i, const char *shorts,
                       const struct option *longs)
{
    const char *arg = argv[i];
    const struct llama_flag *f = llama_flag(arg);
    if (f) {
        int k = llama(cmd, f, *argc, argv, i);
        if (k < 0)
            return -1;
        drop(argc, argv, i, k);
        return 0;
    }
    int ambiguous;
    const struct option *o = strlen(arg) > 2 ? find_long(longs, arg + 1, &ambiguous) : NULL;
    if (o && strlen(o->name) == strcspn(arg + 1, "=")) { /* -tokens: a long flag, one dash */
        calgae_cli_error("%s: unknown option %s (did you mean --%s?)", cmd, arg, o->name);
        return -1;
    }
    for (const char *p = arg + 1; *p; p++) {
        const char *s = *p != ':' ? strchr(shorts, *p) : NULL;
        if (!s) {
            char hint[80] = "";
            if (p == arg + 1 && strlen(arg) > 2)
                suggest(arg + 1, longs, hint, sizeof hint);
            calgae_cli_error("%s: unknown option -%c%s%s%s", cmd, *p, p == arg + 1 ? "" : " in ",
                         p == arg + 1 ? "" : arg, hint);
            return -1;
        }
        if (s[1] == ':')
            return p[1] ? 1 : 2; /* the value is the rest of the word, or the next one */
    }
    return 1;
}

int calgae_args_check(const char *cmd, int *argc, char **argv, const char *shorts,
                      const struct option *longs)
{
    optind = 1;
    opterr = 0;
    for (int i = 1; i < *argc;) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--"))
            break;
        if (arg[0] != '-' || !arg[1]) {
            i++;
            continue;
        }
        int k = arg[1] == '-' ? check_long(cmd, argc, argv, i, longs)
                              : check_short(cmd, argc, argv, i, shorts, longs);
        if (k < 0)
            return 2;
        i += k;
    }
    return 0;
}

int calgae_option_error(const char *cmd, int c, char **argv, const struct option *longs)
{
    (void)longs;
    const char *arg = argv[optind - 1];
    if (c == ':')
        calgae_cli_error("%s: option %s needs a value", cmd, arg);
    else if (optopt > ' ' && optopt < 127 && arg[0] == '-' && arg[1] != '-')
        calgae_cli_error("%s: unknown option -%c (see 'calgae %s --help')", cmd, optopt, cmd);
    else
        calgae_cli_error("%s: bad option %s (see 'calgae %s --help')", cmd, arg, cmd);
    return 2;
}

int calgae_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int calgae_check_out(const char *cmd, const char *out, const char *in1, const char *in2)
{
    const char *in = in1 && calgae_same_file(out, in1) ? in1
                     : in2 && calgae_same_file(out, in2) ? in2 : NULL;
    if (!in)
        return 0;
    calgae_cli_error("%s: --out %s is the input file %s itself; write to another file", cmd, out, in);
    return 2;
}

void calgae_format_count(double n, char *out, size_t out_len)
{
    static const char units[] = " KMBT"; /* thousand, million, billion, trillion */
    int u = 0;
    while (n >= 999.5 && u < 4) {
        n /= 1000.0;
        u++;
    }
    if (u == 0) {
        snprintf(out, out_len, "%.0f", n);
        return;
    }
    const char *fmt = n >= 99.95 ? "%.0f%c" : n >= 9.995 ? "%.1f%c" : "%.2f%c";
    snprintf(out, out_len, fmt, n, units[u]);
}

int calgae_calibrate_flag(const char *value)
{
    if (!strcmp(value, "auto"))
        return CALGAE_CALIBRATE_AUTO;
    if (!strcmp(value, "redo"))
        return CALGAE_CALIBRATE_REDO;
    if (!strcmp(value, "off"))
        return CALGAE_CALIBRATE_OFF;
    calgae_cli_error("--calibrate: '%s' is not auto, redo or off", value);
    return -1;
}

void calgae_calibration_path(char *out, size_t out_len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    out[0] = '\0';
    if (xdg && xdg[0] == '/')
        snprintf(out, out_len, "%s/calgae/calibration", xdg);
    else if (home && home[0])
        snprintf(out, out_len, "%s/.cache/calgae/calibration", home);
}
