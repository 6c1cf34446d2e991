/*
 * fnsig.c - signature and example parsing for function mode (fnsig.h). Types are read as the
 * words of a C declaration (qualifiers, base words, stars) and mapped onto the x86-64/aarch64
 * Linux sizes (LP64: long is 8 bytes, char is 1 and signed on x86-64).
 */
#include "fnsig.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_err.h"

static const struct {
    const char *word;
    calgae_fn_kind kind;
    int size;
} fixed[] = {
    {"int8_t", CALGAE_FN_INT, 1},    {"int16_t", CALGAE_FN_INT, 2},   {"int32_t", CALGAE_FN_INT, 4},
    {"int64_t", CALGAE_FN_INT, 8},   {"uint8_t", CALGAE_FN_UINT, 1},  {"uint16_t", CALGAE_FN_UINT, 2},
    {"uint32_t", CALGAE_FN_UINT, 4}, {"uint64_t", CALGAE_FN_UINT, 8}, {"size_t", CALGAE_FN_UINT, 8},
    {"ssize_t", CALGAE_FN_INT, 8},   {"float", CALGAE_FN_FLOAT, 4},   {"double", CALGAE_FN_FLOAT, 8},
};

/* One parameter or return declaration: words and stars, an optional name last. */
static int parse_type(const char *s, size_t n, calgae_fn_type *t, int is_ret, char *err,
                      size_t err_len)
{
    char buf[256];
    if (n >= sizeof buf)
        return calgae_agent_fail(err, err_len, "function signature: type too long");
    memcpy(buf, s, n);
    buf[n] = '\0';
    int stars = 0, n_unsigned = 0, n_signed = 0, n_char = 0, n_short = 0, n_int = 0, n_long = 0;
    int words = 0, fixed_i = -1, is_void = 0, named = 0;
    char *p = buf;
    while (*p) {
        if (isspace((unsigned char)*p)) { p++; continue; }
        if (*p == '*') { stars++; p++; continue; }
        if (!isalpha((unsigned char)*p) && *p != '_')
            return calgae_agent_fail(err, err_len, "function signature: unexpected '%c' in '%s'",
                                     *p, buf);
        char *w = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        char c = *p;
        *p = '\0';
        int known = 1;
        if (!strcmp(w, "const") || !strcmp(w, "restrict") || !strcmp(w, "volatile")) ;
        else if (!strcmp(w, "unsigned")) n_unsigned++;
        else if (!strcmp(w, "signed")) n_signed++;
        else if (!strcmp(w, "char")) n_char++;
        else if (!strcmp(w, "short")) n_short++;
        else if (!strcmp(w, "int")) n_int++;
        else if (!strcmp(w, "long")) n_long++;
        else if (!strcmp(w, "void")) is_void = 1;
        else if (!strcmp(w, "struct") || !strcmp(w, "union") || !strcmp(w, "enum"))
            return calgae_agent_fail(err, err_len,
                                     "function signature: %s types cannot be called through "
                                     "the examples (numbers, strings and arrays only)",
                                     w);
        else {
            known = 0;
            for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
                if (!strcmp(w, fixed[i].word)) { fixed_i = (int)i; known = 1; }
        }
        if (!known) {
            /* an unknown word is the parameter's name when it comes last */
            char *rest = p + (c ? 1 : 0);
            *p = c;
            while (*rest && isspace((unsigned char)*rest)) rest++;
            if (*rest || c == '*' || named || words == 0)
                return calgae_agent_fail(err, err_len, "function signature: unknown type '%.*s'",
                                         (int)(p - w), w);
            named = 1;
            break;
        }
        words++;
        *p = c;
    }
    const int ints = n_unsigned + n_signed + n_char + n_short + n_int + n_long;
    if (is_void) {
        if (stars)
            return calgae_agent_fail(err, err_len,
                                     "function signature: void pointers carry no type to fill");
        return calgae_agent_fail(err, err_len,
                                 "function signature: a void %s has no value to check",
                                 is_ret ? "return" : "parameter");
    }
    if (fixed_i >= 0 && ints)
        return calgae_agent_fail(err, err_len, "function signature: '%s' mixes type words", buf);
    if (fixed_i < 0 && !ints)
        return calgae_agent_fail(err, err_len, "function signature: no type in '%s'", buf);
    if (n_unsigned && n_signed)
        return calgae_agent_fail(err, err_len,
                                 "function signature: both signed and unsigned in '%s'", buf);
    calgae_fn_type base;
    if (fixed_i >= 0) {
        base.kind = fixed[fixed_i].kind;
        base.size = fixed[fixed_i].size;
    } else {
        if (n_char + n_short + (n_long > 0) > 1 || n_long > 2 || n_char > 1 || n_short > 1 || n_int > 1)
            return calgae_agent_fail(err, err_len, "function signature: not a C integer type: '%s'",
                                     buf);
        base.kind = n_unsigned ? CALGAE_FN_UINT : CALGAE_FN_INT;
        base.size = n_char ? 1 : n_short ? 2 : n_long ? 8 : 4;
    }
    base.elem = base.kind;
    if (stars > 1)
        return calgae_agent_fail(err, err_len,
                                 "function signature: pointers to pointers are not supported");
    if (stars == 0) {
        *t = base;
        return 0;
    }
    if (n_char && base.size == 1 && !n_unsigned && !n_signed) {
        t->kind = CALGAE_FN_STRING;
        t->size = 8;
        t->elem = CALGAE_FN_STRING;
        return 0;
    }
    if (is_ret)
        return calgae_agent_fail(err, err_len,
                                 "function signature: a returned array has no length to read");
    t->kind = CALGAE_FN_ARRAY;
    t->size = base.size;
    t->elem = base.kind;
    return 0;
}

int calgae_fn_sig_parse(const char *text, calgae_fn_sig *sig, char *err, size_t err_len)
{
    memset(sig, 0, sizeof *sig);
    const char *open = strchr(text, '('), *close = strrchr(text, ')');
    if (!open || !close || close < open)
        return calgae_agent_fail(err, err_len, "function signature: expected 'TYPE NAME(PARAMS)'");
    for (const char *q = close + 1; *q; q++)
        if (!isspace((unsigned char)*q) && *q != ';' && *q != '{')
            return calgae_agent_fail(err, err_len, "function signature: text after ')'");
    /* the name: the identifier just before '(' */
    const char *e = open;
    while (e > text && isspace((unsigned char)e[-1])) e--;
    const char *b = e;
    while (b > text && (isalnum((unsigned char)b[-1]) || b[-1] == '_')) b--;
    if (b == e || isdigit((unsigned char)*b) || (size_t)(e - b) >= sizeof sig->name)
        return calgae_agent_fail(err, err_len, "function signature: no function name before '('");
    memcpy(sig->name, b, (size_t)(e - b));
    sig->name[e - b] = '\0';
    if (parse_type(text, (size_t)(b - text), &sig->ret, 1, err, err_len) != 0)
        return -1;
    const char *p = open + 1;
    int n = 0;
    const char *q = p;
    while (isspace((unsigned char)*q)) q++;
    if (q == close || (!strncmp(q, "void", 4) && q + 4 <= close &&
                       strspn(q + 4, " \t") == (size_t)(close - q - 4)))
        p = close; /* no parameters */
    while (p < close) {
        const char *comma = memchr(p, ',', (size_t)(close - p));
        const char *end = comma ? comma : close;
        if (n == CALGAE_FN_MAX_PARAMS)
            return calgae_agent_fail(err, err_len, "function signature: over %d parameters",
                                     CALGAE_FN_MAX_PARAMS);
        const char *d = p;
        while (d < end && isspace((unsigned char)*d)) d++;
        if (end - d >= 3 && !strncmp(d, "...", 3))
            return calgae_agent_fail(err, err_len,
                                     "function signature: variadic functions are not supported");
        if (parse_type(p, (size_t)(end - p), &sig->params[n], 0, err, err_len) != 0)
            return -1;
        n++;
        p = comma ? comma + 1 : close;
    }
    sig->n_params = n;
    for (int i = 0; i < n; i++) {
        if (sig->params[i].kind != CALGAE_FN_ARRAY) {
            sig->n_args++;
            continue;
        }
        if (i + 1 >= n || (sig->params[i + 1].kind != CALGAE_FN_INT &&
                           sig->params[i + 1].kind != CALGAE_FN_UINT))
            return calgae_agent_fail(err, err_len,
                                     "function signature: parameter %d is a pointer, and an "
                                     "integer length must follow it",
                                     i + 1);
        sig->n_args++;
        i++; /* the length comes from the example's array */
    }
    return 0;
}

void calgae_fn_type_code(const calgae_fn_type *t, char *out, size_t cap)
{
    const char k = t->kind == CALGAE_FN_INT ? 'i' : t->kind == CALGAE_FN_UINT ? 'u' : 'f';
    const char ek = t->elem == CALGAE_FN_INT ? 'i' : t->elem == CALGAE_FN_UINT ? 'u' : 'f';
    if (t->kind == CALGAE_FN_STRING)
        snprintf(out, cap, "s");
    else if (t->kind == CALGAE_FN_ARRAY)
        snprintf(out, cap, "a:%c%d", ek, t->size);
    else
        snprintf(out, cap, "%c%d", k, t->size);
}

/* A growing string for the runner's argument forms. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static int sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_add(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof tmp)
        return -1;
    if (b->n + (size_t)k + 1 > b->cap) {
        size_t cap = b->cap * 2 + (size_t)k + 64;
        char *p = realloc(b->s, cap);
        if (!p)
            return -1;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, tmp, (size_t)k + 1);
    b->n += (size_t)k;
    return 0;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

/* One number of kind/size from [p, end) (the whole span): into b in the runner's form. */
static int number(const char *p, const char *end, calgae_fn_kind kind, int size, sbuf *b,
                  char *err, size_t err_len)
{
    p = skip_ws(p, end);
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    char buf[64];
    if (end <= p || (size_t)(end - p) >= sizeof buf)
        return calgae_agent_fail(err, err_len, "examples: expected a number, got '%.*s'",
                                 (int)(end - p > 40 ? 40 : end - p), p);
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = '\0';
    char *stop;
    errno = 0;
    if (kind == CALGAE_FN_FLOAT) {
        double v = strtod(buf, &stop);
        if (*stop || errno || !isfinite(v))
            return calgae_agent_fail(err, err_len, "examples: '%s' is not a finite number", buf);
        return sb_add(b, "%.17g", size == 4 ? (double)(float)v : v)
                   ? calgae_agent_fail(err, err_len, "out of memory")
                   : 0;
    }
    if (kind == CALGAE_FN_UINT) {
        if (buf[0] == '-')
            return calgae_agent_fail(err, err_len,
                                     "examples: '%s' is negative for an unsigned type", buf);
        unsigned long long v = strtoull(buf, &stop, 0);
        unsigned long long max = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
        if (*stop || errno || v > max)
            return calgae_agent_fail(err, err_len,
                                     "examples: '%s' is not a %d-byte unsigned integer", buf, size);
        return sb_add(b, "%llu", v) ? calgae_agent_fail(err, err_len, "out of memory") : 0;
    }
    long long v = strtoll(buf, &stop, 0);
    long long max = size == 8 ? 0x7fffffffffffffffLL : (1LL << (8 * size - 1)) - 1;
    if (*stop || errno || v > max || v < -max - 1)
        return calgae_agent_fail(err, err_len, "examples: '%s' is not a %d-byte integer", buf,
                                 size);
    return sb_add(b, "%lld", v) ? calgae_agent_fail(err, err_len, "out of memory") : 0;
}

/* A "quoted" string with \\ \" \n \t escapes, spanning [p, end) exactly, as hex into b. */
static int string_value(const char *p, const char *end, sbuf *b, char *err, size_t err_len)
{
    p = skip_ws(p, end);
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (end - p < 2 || *p != '"' || end[-1] != '"')
        return calgae_agent_fail(err, err_len, "examples: a string is written in double quotes");
    size_t len = 0;
    for (const char *q = p + 1; q < end - 1; q++, len++) {
        unsigned char c = (unsigned char)*q;
        if (c == '\\') {
            if (++q >= end - 1)
                return calgae_agent_fail(err, err_len,
                                         "examples: a string ends in a lone backslash");
            c = *q == 'n' ? '\n' : *q == 't' ? '\t' : (unsigned char)*q;
        } else if (c == '"') {
            return calgae_agent_fail(err, err_len, "examples: an unescaped quote inside a string");
        }
        if (c == 0 || len >= CALGAE_FN_MAX_STRING)
            return calgae_agent_fail(err, err_len,
                                     "examples: a string holds NUL or is over %d bytes",
                                     CALGAE_FN_MAX_STRING);
        if (sb_add(b, "%02x", c))
            return calgae_agent_fail(err, err_len, "out of memory");
    }
    return 0;
}

/* The top-level pieces of [p, end) split at sep, outside quotes and brackets. */
static int split(const char *p, const char *end, char sep, const char **starts, const char **ends,
                 int max, char *err, size_t err_len)
{
    int n = 0, depth = 0, quoted = 0;
    const char *s = p;
    for (const char *q = p; q <= end; q++) {
        if (q < end && quoted) {
            if (*q == '\\' && q + 1 < end) q++;
            else if (*q == '"') quoted = 0;
            continue;
        }
        if (q < end && *q == '"') { quoted = 1; continue; }
        if (q < end && *q == '[') depth++;
        if (q < end && *q == ']' && --depth < 0)
            return calgae_agent_fail(err, err_len, "examples: unbalanced ']'");
        if (q == end || (*q == sep && depth == 0)) {
            if (n == max)
                return calgae_agent_fail(err, err_len, "examples: more than %d pieces", max);
            starts[n] = s;
            ends[n++] = q;
            s = q + 1;
        }
    }
    if (quoted || depth)
        return calgae_agent_fail(err, err_len, "examples: unclosed quote or '['");
    return n;
}

static int value(const char *p, const char *end, const calgae_fn_type *t, sbuf *b, int *count,
                 char *err, size_t err_len)
{
    if (t->kind == CALGAE_FN_STRING)
        return string_value(p, end, b, err, err_len);
    if (t->kind != CALGAE_FN_ARRAY)
        return number(p, end, t->kind, t->size, b, err, err_len);
    p = skip_ws(p, end);
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (end - p < 2 || *p != '[' || end[-1] != ']')
        return calgae_agent_fail(err, err_len, "examples: an array is written [1, 2, 3]");
    const char *s[CALGAE_FN_MAX_ARRAY], *e[CALGAE_FN_MAX_ARRAY];
    if (skip_ws(p + 1, end - 1) == end - 1) {
        *count = 0;
        return 0;
    }
    int n = split(p + 1, end - 1, ',', s, e, CALGAE_FN_MAX_ARRAY, err, err_len);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if ((i && sb_add(b, ",")) || number(s[i], e[i], t->elem, t->size, b, err, err_len))
            return -1;
    *count = n;
    return 0;
}

void calgae_fn_examples_free(calgae_fn_example *ex, int n)
{
    for (int i = 0; ex && i < n; i++) {
        for (int j = 0; j < CALGAE_FN_MAX_PARAMS; j++)
            free(ex[i].args[j]);
        free(ex[i].expect);
        free(ex[i].text);
    }
    free(ex);
}

static int one_example(const char *p, const char *end, const calgae_fn_sig *sig,
                       calgae_fn_example *x, char *err, size_t err_len)
{
    const char *arrow = NULL;
    int quoted = 0;
    for (const char *q = p; q + 1 < end; q++) {
        if (quoted) { if (*q == '\\') q++; else if (*q == '"') quoted = 0; continue; }
        if (*q == '"') quoted = 1;
        else if (q[0] == '-' && q[1] == '>') { arrow = q; break; }
    }
    if (!arrow)
        return calgae_agent_fail(err, err_len, "examples: '%.*s' has no '->'",
                                 (int)(end - p > 40 ? 40 : end - p), p);
    const char *s[CALGAE_FN_MAX_PARAMS], *e[CALGAE_FN_MAX_PARAMS];
    int n = skip_ws(p, arrow) == arrow ? 0
            : split(p, arrow, ',', s, e, CALGAE_FN_MAX_PARAMS, err, err_len);
    if (n < 0)
        return -1;
    if (n != sig->n_args)
        return calgae_agent_fail(err, err_len, "examples: '%.*s' gives %d values, %s takes %d",
                                 (int)(arrow - p > 40 ? 40 : arrow - p), p, n, sig->name,
                                 sig->n_args);
    for (int i = 0, a = 0; i < sig->n_params; i++, a++) {
        sbuf b = {0};
        char code[16];
        int count = 0;
        calgae_fn_type_code(&sig->params[i], code, sizeof code);
        if (sb_add(&b, "%s=", code) || value(s[a], e[a], &sig->params[i], &b, &count, err, err_len)) {
            free(b.s);
            return -1;
        }
        x->args[i] = b.s;
        if (sig->params[i].kind == CALGAE_FN_ARRAY) {
            sbuf l = {0};
            calgae_fn_type_code(&sig->params[++i], code, sizeof code);
            if (sb_add(&l, "%s=%d", code, count)) {
                free(l.s);
                return calgae_agent_fail(err, err_len, "out of memory");
            }
            x->args[i] = l.s;
        }
    }
    sbuf r = {0};
    if (value(arrow + 2, end, &sig->ret, &r, NULL, err, err_len)) {
        free(r.s);
        return -1;
    }
    x->expect = r.s ? r.s : calloc(1, 1);
    const char *tp = skip_ws(p, end), *te = end;
    while (te > tp && isspace((unsigned char)te[-1]))
        te--;
    x->text = malloc((size_t)(te - tp) + 1);
    if (!x->expect || !x->text)
        return calgae_agent_fail(err, err_len, "out of memory");
    memcpy(x->text, tp, (size_t)(te - tp));
    x->text[te - tp] = '\0';
    return 0;
}

int calgae_fn_examples_parse(const char *text, const calgae_fn_sig *sig, calgae_fn_example **ex,
                             int *n, char *err, size_t err_len)
{
    const char *s[CALGAE_FN_MAX_EXAMPLES], *e[CALGAE_FN_MAX_EXAMPLES];
    *ex = NULL;
    *n = 0;
    const char *end = text + strlen(text);
    while (end > text && (isspace((unsigned char)end[-1]) || end[-1] == ';'))
        end--;
    int k = split(text, end, ';', s, e, CALGAE_FN_MAX_EXAMPLES, err, err_len);
    if (k < 0)
        return -1;
    if (k == 0 || skip_ws(text, end) == end)
        return calgae_agent_fail(err, err_len, "examples: none given ('ARGS->RESULT; ...')");
    calgae_fn_example *x = calloc((size_t)k, sizeof *x);
    if (!x)
        return calgae_agent_fail(err, err_len, "out of memory");
    for (int i = 0; i < k; i++)
        if (one_example(s[i], e[i], sig, &x[i], err, err_len) != 0) {
            calgae_fn_examples_free(x, k);
            return -1;
        }
    *ex = x;
    *n = k;
    return 0;
}

int calgae_fn_result_matches(const calgae_fn_type *ret, const char *got, const char *expect)
{
    if (ret->kind != CALGAE_FN_FLOAT)
        return !strcmp(got, expect);
    char *a, *b;
    double g = strtod(got, &a), x = strtod(expect, &b);
    if (*a || *b || a == got)
        return 0;
    double tol = ret->size == 4 ? 1e-6 : 1e-9;
    return fabs(g - x) <= tol * (fabs(x) > 1 ? fabs(x) : 1);
}
