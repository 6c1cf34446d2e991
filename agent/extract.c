/*
 * extract.c - fenced code blocks (extract.h), after CommonMark 0.30 section 4.5. Indented code
 * blocks are not taken: a model's prose indents lists, not programs.
 */
#include "extract.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line of text without its LF and a CR before it. */
typedef struct line {
    const char *s;
    size_t n;
} line;

static line next_line(const char *text, size_t len, size_t *pos)
{
    line l = {text + *pos, 0};
    const char *nl = memchr(l.s, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - l.s) : len - *pos;
    *pos += nl ? n + 1 : n;
    if (n > 0 && l.s[n - 1] == '\r')
        n--;
    l.n = n;
    return l;
}

/* A fence line: its character, length and the info string after it. */
static int is_fence(line l, char *ch, size_t *flen, line *info)
{
    size_t i = 0;
    while (i < l.n && i < 3 && l.s[i] == ' ')
        i++;
    if (i >= l.n || (l.s[i] != '`' && l.s[i] != '~'))
        return 0;
    const char c = l.s[i];
    size_t j = i;
    while (j < l.n && l.s[j] == c)
        j++;
    if (j - i < 3)
        return 0;
    if (c == '`' && memchr(l.s + j, '`', l.n - j))
        return 0; /* a backtick fence's info string has no backtick */
    *ch = c;
    *flen = j - i;
    info->s = l.s + j;
    info->n = l.n - j;
    return 1;
}

static int is_closing(line l, char ch, size_t flen)
{
    char c;
    size_t n;
    line info;
    if (!is_fence(l, &c, &n, &info) || c != ch || n < flen)
        return 0;
    for (size_t i = 0; i < info.n; i++)
        if (info.s[i] != ' ' && info.s[i] != '\t')
            return 0;
    return 1;
}

static void take_tag(line info, char *tag, size_t cap)
{
    size_t i = 0, k = 0;
    while (i < info.n && isspace((unsigned char)info.s[i]))
        i++;
    if (i < info.n && info.s[i] == '{') /* {.python} */
        i++;
    if (i < info.n && info.s[i] == '.')
        i++;
    while (i < info.n && !isspace((unsigned char)info.s[i]) && info.s[i] != '}' &&
           info.s[i] != ',' && k + 1 < cap)
        tag[k++] = (char)tolower((unsigned char)info.s[i++]);
    tag[k] = '\0';
}

static int append(calgae_code_block *b, size_t *cap, line l)
{
    if (b->len + l.n + 2 > *cap) {
        size_t nc = (*cap ? *cap * 2 : 256) + l.n + 2;
        char *p = realloc(b->code, nc);
        if (!p)
            return -1;
        b->code = p;
        *cap = nc;
    }
    memcpy(b->code + b->len, l.s, l.n);
    b->len += l.n;
    b->code[b->len++] = '\n';
    b->code[b->len] = '\0';
    return 0;
}

void calgae_blocks_free(calgae_code_block *blocks, int n)
{
    for (int i = 0; i < n; i++)
        free(blocks[i].code);
    free(blocks);
}

int calgae_extract_blocks(const char *text, size_t len, calgae_code_block **blocks, int *n,
                          char *err, size_t err_len)
{
    calgae_code_block *v = NULL;
    int nb = 0, cap_b = 0, lineno = 0;
    size_t pos = 0;
    *blocks = NULL;
    *n = 0;
    while (pos < len) {
        line l = next_line(text, len, &pos);
        lineno++;
        char ch;
        size_t flen;
        line info;
        if (!is_fence(l, &ch, &flen, &info))
            continue;
        if (nb == cap_b) {
            int nc = cap_b ? cap_b * 2 : 4;
            calgae_code_block *p = realloc(v, (size_t)nc * sizeof *p);
            if (!p)
                goto oom;
            v = p;
            cap_b = nc;
        }
        calgae_code_block *b = &v[nb++];
        memset(b, 0, sizeof *b);
        take_tag(info, b->tag, sizeof b->tag);
        b->line = lineno;
        b->unterminated = 1;
        size_t cap = 0;
        if (!(b->code = calloc(1, 1)))
            goto oom;
        cap = 1;
        while (pos < len) {
            line c = next_line(text, len, &pos);
            lineno++;
            if (is_closing(c, ch, flen)) {
                b->unterminated = 0;
                break;
            }
            if (append(b, &cap, c) != 0)
                goto oom;
        }
    }
    *blocks = v;
    *n = nb;
    return 0;
oom:
    calgae_blocks_free(v, nb);
    if (err_len)
        snprintf(err, err_len, "out of memory extracting code blocks");
    return -1;
}
