/*
 * spm.c - SentencePiece-BPE encoding as llama.cpp's llm_tokenizer_spm does it (see spm.h):
 * the text, with its dummy-prefix space, split into characters, then adjacent pieces merged
 * highest score first (the leftmost among equals); what no token spells falls back to byte
 * tokens, else to the unknown token.
 */
#include "spm.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

/* GGUF token types (llama.cpp's llama_token_type). */
enum { TT_UNDEFINED, TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE };

/* Tokens that raw text may turn into. SentencePiece never matches control, unknown, unused or
 * byte pieces against text: "<s>" or "<0x41>" typed by a user stay plain characters. */
static int matchable(const calgae_tokenizer *t, int32_t id)
{
    if (!t->types)
        return 1;
    uint8_t ty = t->types[id];
    return ty == TT_NORMAL || ty == TT_USER_DEFINED || ty == TT_UNDEFINED;
}

/* Byte-wise order (shorter first on a common prefix). A plain loop: pieces are a few bytes,
 * and encoding calls this in its inner loop, where a memcmp call costs more than it saves. */
int calgae_spm_cmp_bytes(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (uint8_t)a[i] < (uint8_t)b[i] ? -1 : 1;
    return (alen > blen) - (alen < blen);
}

/* The matchable token whose piece is exactly s[0..n), or -1: a binary search for the first
 * equal piece in the sorted index, then past any unmatchable duplicates. */
static int32_t lookup(const calgae_tokenizer *t, const char *s, uint32_t n)
{
    size_t lo = 0, hi = (size_t)t->n_vocab;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int32_t id = t->sorted[mid];
        if (calgae_spm_cmp_bytes(t->pieces[id], t->piece_lens[id], s, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < (size_t)t->n_vocab; lo++) {
        int32_t id = t->sorted[lo];
        if (calgae_spm_cmp_bytes(t->pieces[id], t->piece_lens[id], s, n) != 0)
            return -1;
        if (matchable(t, id))
            return id;
    }
    return -1;
}

/* A run of text: a character at first, a token after merges; n == 0 once merged away. */
typedef struct symbol {
    int32_t prev, next;
    uint32_t start, n;
    int32_t id; /* token once known, -1 before */
} symbol;

/* A candidate merge of two adjacent symbols; size detects candidates that went stale. */
typedef struct bigram {
    float score;
    int32_t left, right;
    uint32_t size;
    int32_t id;
} bigram;

typedef struct encoder {
    const calgae_tokenizer *t;
    const char *text;
    symbol *sym;
    bigram *heap;
    size_t n_heap;
} encoder;

/* Heap order: the highest score first, the leftmost among equal scores (llama.cpp's order). */
static int bigram_before(const bigram *a, const bigram *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    return a->left < b->left;
}

static void heap_push(encoder *e, bigram b)
{
    size_t i = e->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_before(&b, &e->heap[parent]))
            break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = b;
}

static bigram heap_pop(encoder *e)
{
    bigram top = e->heap[0];
    bigram last = e->heap[--e->n_heap];
    size_t i = 0, n = e->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && bigram_before(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!bigram_before(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n > 0)
        e->heap[i] = last;
    return top;
}

static void try_add_bigram(encoder *e, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    const symbol *l = &e->sym[left], *r = &e->sym[right];
    uint32_t size = l->n + r->n;
    if (size > e->t->max_piece_len)
        return;
    int32_t id = lookup(e->t, e->text + l->start, size);
    if (id < 0)
        return;
    heap_push(e, (bigram){e->t->scores[id], left, right, size, id});
}

/* Splits text into characters: a valid-looking lead byte with its continuation bytes, or a
 * lone byte when the sequence is broken (it can only become byte tokens). */
static int32_t split_chars(encoder *e, size_t len)
{
    int32_t n = 0;
    size_t off = 0;
    while (off < len) {
        int cl = calgae_utf8_seq_len((uint8_t)e->text[off]);
        if (cl == 0 || (size_t)cl > len - off)
            cl = 1;
        for (int k = 1; k < cl; k++) {
            if (((uint8_t)e->text[off + (size_t)k] & 0xC0) != 0x80) {
                cl = 1;
                break;
            }
        }
        e->sym[n] = (symbol){n - 1, n + 1, (uint32_t)off, (uint32_t)cl, -1};
        off += (size_t)cl;
        n++;
    }
    if (n > 0)
        e->sym[n - 1].next = -1;
    return n;
}

static void merge_all(encoder *e, int32_t n_sym)
{
    for (int32_t i = 1; i < n_sym; i++)
        try_add_bigram(e, i - 1, i);
    while (e->n_heap > 0) {
        bigram b = heap_pop(e);
        symbol *l = &e->sym[b.left], *r = &e->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        l->id = b.id;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            e->sym[r->next].prev = b.left;
        try_add_bigram(e, l->prev, b.left);
        try_add_bigram(e, b.left, l->next);
    }
}

/* Appends a final symbol: its token, else one byte token per byte, else unk. */
static int emit_symbol(const encoder *e, const symbol *s, int32_t *out, size_t *n_out,
                       char *err, size_t err_len)
{
    const calgae_tokenizer *t = e->t;
    int32_t id = s->id >= 0 ? s->id : lookup(t, e->text + s->start, s->n);
    if (id >= 0) {
        out[(*n_out)++] = id;
        return 0;
    }
    const uint8_t *p = (const uint8_t *)e->text + s->start;
    int all_bytes = 1;
    for (uint32_t k = 0; k < s->n; k++)
        all_bytes &= t->byte_ids[p[k]] >= 0;
    if (all_bytes) {
        for (uint32_t k = 0; k < s->n; k++)
            out[(*n_out)++] = t->byte_ids[p[k]];
        return 0;
    }
    if (t->unk_id < 0)
        return calgae_fail(err, err_len,
                           "tokenizer: text byte 0x%02X has no token and the vocabulary has "
                           "neither byte tokens nor an unknown token",
                           p[0]);
    out[(*n_out)++] = t->unk_id;
    return 0;
}

/* SentencePiece: appends the ids of text (with its dummy prefix) to out, which has room for
 * text_len + 1 more. */
int calgae_spm_encode(const calgae_tokenizer *t, const char *text, size_t text_len, int32_t *out,
                      size_t *n_out, char *err, size_t err_len)
{
    /* SentencePiece's dummy prefix: the first word gets its leading space like the others. */
    size_t len = text_len > 0 ? text_len + 1 : 0;
    char *buf = malloc(len + 1);
    symbol *sym = malloc((len + 1) * sizeof *sym);
    /* Each merge adds at most two candidates to the initial len - 1. */
    bigram *heap = malloc((3 * len + 1) * sizeof *heap);
    int rc = 0;
    if (!buf || !sym || !heap) {
        rc = calgae_fail(err, err_len, "tokenizer: out of memory for %zu bytes of text",
                         text_len);
    } else {
        if (len > 0) {
            buf[0] = ' ';
            memcpy(buf + 1, text, text_len);
        }
        encoder e = {t, buf, sym, heap, 0};
        int32_t n_sym = split_chars(&e, len);
        merge_all(&e, n_sym);
        for (int32_t i = n_sym > 0 ? 0 : -1; i >= 0 && rc == 0; i = sym[i].next)
            rc = emit_symbol(&e, &sym[i], out, n_out, err, err_len);
    }
    free(buf);
    free(sym);
    free(heap);
    return rc;
}
