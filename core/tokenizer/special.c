/*
 * special.c - special tokens found in prompt text (see special.h), with the outcome of
 * llama.cpp's tokenizer_st_partition: it takes the special tokens longest first (llama.cpp's
 * order among equal lengths is std::sort's, unspecified; here the lower id goes first) and cuts
 * each one's occurrences, left to right without overlap, out of the text that is still text.
 *
 * One pass finds every occurrence of every token (a table of first bytes and first byte pairs
 * keeps the pass cheap when the text has none), then the occurrences are taken in that order
 * unless an earlier one already covers a byte of theirs: the same result, without a pass over
 * the text per token (Llama 3 has 256 of them).
 */
#include "special.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* GGUF token types (llama.cpp's llama_token_type). */
enum { TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4 };

struct calgae_specials {
    int32_t n;
    int32_t *ids;           /* grouped by first byte, each group in priority order */
    uint32_t *prio;         /* the priority of ids[k]: 0 first */
    uint32_t first[257];    /* ids[first[c] .. first[c + 1]) start with byte c */
    uint8_t pair[256][32];  /* bit (c, d): some token of two or more bytes starts with c d */
    uint8_t single[256];    /* a one-byte token is c */
};

typedef struct by_len {
    uint32_t len;
    int32_t id;
} by_len;

/* Priority: the longer piece first, then the lower id. */
static int cmp_priority(const void *pa, const void *pb)
{
    const by_len *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static int is_special(uint8_t ty)
{
    return ty == TT_CONTROL || ty == TT_UNKNOWN || ty == TT_USER_DEFINED;
}

int calgae_specials_build(calgae_specials **out, const calgae_tokenizer *t)
{
    *out = NULL;
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        n += is_special(t->types[i]) && t->piece_lens[i] > 0;
    if (n == 0)
        return 0;
    calgae_specials *s = calloc(1, sizeof *s);
    by_len *order = malloc((size_t)n * sizeof *order);
    if (!s || !order || !(s->ids = malloc((size_t)n * sizeof *s->ids)) ||
        !(s->prio = malloc((size_t)n * sizeof *s->prio))) {
        free(order);
        calgae_specials_free(s);
        return -1;
    }
    s->n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (is_special(t->types[i]) && t->piece_lens[i] > 0)
            order[s->n++] = (by_len){t->piece_lens[i], i};
    qsort(order, (size_t)n, sizeof *order, cmp_priority);
    /* Bucket by first byte, keeping priority order inside each bucket. */
    uint32_t count[256] = {0};
    for (int32_t k = 0; k < n; k++)
        count[(uint8_t)t->pieces[order[k].id][0]]++;
    s->first[0] = 0;
    for (int c = 0; c < 256; c++)
        s->first[c + 1] = s->first[c] + count[c];
    uint32_t fill[256];
    memcpy(fill, s->first, sizeof fill);
    for (int32_t k = 0; k < n; k++) {
        const char *p = t->pieces[order[k].id];
        uint8_t c = (uint8_t)p[0];
        s->ids[fill[c]] = order[k].id;
        s->prio[fill[c]++] = (uint32_t)k;
        if (order[k].len == 1)
            s->single[c] = 1;
        else
            s->pair[c][(uint8_t)p[1] >> 3] |= (uint8_t)(1u << ((uint8_t)p[1] & 7));
    }
    free(order);
    *out = s;
    return 0;
}

void calgae_specials_free(calgae_specials *s)
{
    if (!s)
        return;
    free(s->ids);
    free(s->prio);
    free(s);
}

/* An occurrence of a special token: its priority, then where. */
typedef struct occ {
    uint32_t prio;
    int32_t id;
    size_t pos;
} occ;

static int cmp_occ(const void *pa, const void *pb)
{
    const occ *a = pa, *b = pb;
    if (a->prio != b->prio)
        return a->prio < b->prio ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int cmp_occ_pos(const void *pa, const void *pb)
{
    const occ *a = pa, *b = pb;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* Every occurrence of every token the mode looks for, in a grown array. */
static int find_all(const calgae_specials *s, const calgae_tokenizer *t, const uint8_t *p,
                    size_t len, int parse_special, occ **out, size_t *n_out)
{
    size_t n = 0, cap = 0;
    occ *v = NULL;
    for (size_t pos = 0; pos < len; pos++) {
        const uint8_t c = p[pos];
        if (s->first[c] == s->first[c + 1])
            continue;
        if (!s->single[c] &&
            (pos + 1 >= len || !(s->pair[c][p[pos + 1] >> 3] & (1u << (p[pos + 1] & 7)))))
            continue;
        for (uint32_t k = s->first[c]; k < s->first[c + 1]; k++) {
            const int32_t id = s->ids[k];
            const size_t l = t->piece_lens[id];
            if (l > len - pos || memcmp(t->pieces[id], p + pos, l) != 0 ||
                (!parse_special && t->types[id] != TT_USER_DEFINED))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                occ *g = realloc(v, cap * sizeof *v);
                if (!g) {
                    free(v);
                    return -1;
                }
                v = g;
            }
            v[n++] = (occ){s->prio[k], id, pos};
        }
    }
    *out = v;
    *n_out = n;
    return 0;
}

int calgae_specials_split(const calgae_specials *s, const calgae_tokenizer *t, const char *text,
                          size_t len, int parse_special, calgae_fragment **frags,
                          size_t *n_frags)
{
    *frags = NULL;
    *n_frags = 0;
    occ *v = NULL;
    size_t n = 0;
    if (s && find_all(s, t, (const uint8_t *)text, len, parse_special, &v, &n) != 0)
        return -1;
    uint8_t *taken = n ? calloc(len, 1) : NULL;
    calgae_fragment *f = malloc((2 * n + 1) * sizeof *f);
    if ((n && !taken) || !f) {
        free(v);
        free(taken);
        free(f);
        return -1;
    }
    /* Take occurrences by priority unless they overlap one taken before. */
    size_t kept = 0;
    if (n > 0) { /* v is NULL without occurrences, and qsort must not see NULL */
        qsort(v, n, sizeof *v, cmp_occ);
        for (size_t i = 0; i < n; i++) {
            const size_t l = t->piece_lens[v[i].id];
            if (memchr(taken + v[i].pos, 1, l))
                continue;
            memset(taken + v[i].pos, 1, l);
            v[kept++] = v[i];
        }
        qsort(v, kept, sizeof *v, cmp_occ_pos);
    }
    size_t nf = 0, at = 0;
    for (size_t i = 0; i < kept; i++) {
        if (v[i].pos > at)
            f[nf++] = (calgae_fragment){at, v[i].pos - at, -1};
        f[nf++] = (calgae_fragment){v[i].pos, t->piece_lens[v[i].id], v[i].id};
        at = v[i].pos + t->piece_lens[v[i].id];
    }
    if (at < len)
        f[nf++] = (calgae_fragment){at, len - at, -1};
    free(v);
    free(taken);
    *frags = f;
    *n_frags = nf;
    return 0;
}
