/*
 * bpe_encode.c - byte-level BPE encoding (see bpe.h), as llama.cpp's
 * llm_tokenizer_bpe_session: the pre-tokenizer's regex splits the text into words (each match,
 * and each stretch between matches), then in each word the adjacent pair of lowest merge rank is
 * merged, the leftmost among equal ranks, until none is left; Llama 3's ignore_merges takes a
 * word that is a token as it is. Words are bytes and symbols token ids: the byte alphabet is
 * never materialised.
 */
#include <stdlib.h>
#include <string.h>

#include "bpe_priv.h"
#include "tokenizer.h"
#include "util.h"

/* A symbol of the word being merged: a byte at first, then the token of a merged run; id -1
 * once merged into its left neighbour. */
typedef struct bsym {
    int32_t prev, next, id;
} bsym;

/* A candidate merge of the symbols left and right at rank. Ranks are unique per id pair, so
 * the candidate is still valid exactly when the pair there now has that rank (a symbol's text,
 * and so its id, only grows, and llama.cpp's check is that the texts are unchanged). 12 bytes:
 * a word of n bytes needs 3n of them. */
typedef struct cand {
    int32_t rank, left, right;
} cand;

typedef struct work {
    const calgae_bpe *b;
    bsym *sym;
    cand *heap;
    size_t cap, n_heap; /* sym holds cap entries, heap 3 * cap: n - 1 at first, 2 per merge */
} work;

/* Lowest rank first, the leftmost among equal ranks (llama.cpp's llm_bigram_bpe order). */
static int cand_before(const cand *a, const cand *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->left < b->left;
}

static void add_cand(work *w, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    const merge_slot *m = bpe_find_merge(w->b, w->sym[left].id, w->sym[right].id);
    if (!m)
        return;
    cand c = {m->rank, left, right};
    size_t i = w->n_heap++;
    while (i > 0 && cand_before(&c, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = c;
}

static cand pop_cand(work *w)
{
    cand top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (size_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && cand_before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!cand_before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

static int encode_word(work *w, const char *p, size_t n, int32_t *out, size_t *n_out)
{
    const calgae_bpe *b = w->b;
    if (n == 1 || (b->ignore_merges && n <= CALGAE_BPE_MAX_TOKEN_LEN)) {
        int32_t id = n == 1 ? b->byte_tok[(uint8_t)p[0]] : bpe_lookup(b, p, n);
        if (id >= 0) {
            out[(*n_out)++] = id;
            return 0;
        }
    }
    if (n > w->cap) {
        size_t cap = n; /* exactly: a word may be the whole text, and 48 bytes a byte is much */
        bsym *s = realloc(w->sym, cap * sizeof *s);
        if (s)
            w->sym = s;
        cand *h = realloc(w->heap, 3 * cap * sizeof *h);
        if (h)
            w->heap = h;
        if (!s || !h)
            return -1;
        w->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        w->sym[i] = (bsym){(int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1,
                           b->byte_tok[(uint8_t)p[i]]};
    w->n_heap = 0;
    for (size_t i = 1; i < n; i++)
        add_cand(w, (int32_t)i - 1, (int32_t)i);
    while (w->n_heap > 0) {
        cand c = pop_cand(w);
        bsym *l = &w->sym[c.left], *r = &w->sym[c.right];
        const merge_slot *m = l->id >= 0 && r->id >= 0 ? bpe_find_merge(b, l->id, r->id) : NULL;
        if (!m || m->rank != c.rank)
            continue; /* stale: one side has merged since */
        l->id = m->id;
        r->id = -1;
        l->next = r->next;
        if (r->next >= 0)
            w->sym[r->next].prev = c.left;
        add_cand(w, l->prev, c.left);
        add_cand(w, c.left, l->next);
    }
    for (int32_t i = 0; i >= 0; i = w->sym[i].next)
        out[(*n_out)++] = w->sym[i].id;
    return 0;
}

int calgae_bpe_encode(const calgae_tokenizer *t, const char *text, size_t len, int32_t *out,
                      size_t *n_out, char *err, size_t err_len)
{
    work w = {t->bpe, NULL, NULL, 0, 0};
    calgae_regex_scan *sc = calgae_regex_scan_new(t->bpe->re);
    int rc = 0, oom = !sc;
    size_t off = 0;
    /* llama.cpp's unicode_regex_split: each match is a word, and so is each stretch between
     * matches (invalid UTF-8 is never matched and lands there, keeping its bytes). */
    while (off < len && !oom) {
        size_t start = len, end = len;
        char msg[256];
        int m = calgae_regex_next(sc, text, len, off, &start, &end, msg, sizeof msg);
        if (m < 0) {
            rc = calgae_fail(err, err_len, "tokenizer: pre-tokenizer regex failed at byte %zu: %s",
                             off, msg);
            break;
        }
        if (m > 0 && end <= start)
            end = start + 1; /* no alternative matches empty text; never loop on one */
        if (start > off)
            oom = encode_word(&w, text + off, start - off, out, n_out) != 0;
        if (!oom && end > start)
            oom = encode_word(&w, text + start, end - start, out, n_out) != 0;
        off = end;
    }
    if (oom)
        rc = calgae_fail(err, err_len, "tokenizer: out of memory for %zu bytes of text", len);
    free(w.sym);
    free(w.heap);
    calgae_regex_scan_free(sc);
    return rc;
}
