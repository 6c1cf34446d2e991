/*
 * tokenizer.c - Llama SentencePiece-BPE vocabularies (llama2.c tokenizer.bin or GGUF metadata),
 * encoding as llama.cpp's llm_tokenizer_spm does it, llama2.c-style decoding (see tokenizer.h);
 * and the entry points both kinds share: byte-level BPE vocabularies are handed to bpe.c,
 * special tokens in the text to special.c.
 *
 * Every loader fills a private struct and hands it over only when complete, so a failed load
 * leaves the caller's struct zeroed and nothing allocated.
 */
#include "tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "special.h"
#include "spm.h"
#include "tok_gguf.h"
#include "utf8.h"
#include "util.h"

/* GGUF token types (llama.cpp's llama_token_type). */
enum { TT_UNDEFINED, TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE };

/* No real vocabulary comes near this; it bounds what a hostile GGUF can make us copy. */
#define MAX_PIECE_LEN 65536u

/* UTF-8 validity: utf8.h */

/* ---- vocabulary building, shared by both loaders ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The byte a piece of the form <0xXX> stands for, or -1. */
static int byte_piece_value(const char *p, uint32_t len)
{
    if (len != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>')
        return -1;
    int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi * 16 + lo;
}


static int alloc_vocab(calgae_tokenizer *t, int32_t n)
{
    t->pieces = calloc((size_t)n, sizeof *t->pieces);
    t->piece_lens = calloc((size_t)n, sizeof *t->piece_lens);
    t->scores = calloc((size_t)n, sizeof *t->scores);
    t->types = calloc((size_t)n, sizeof *t->types);
    /* Set with the arrays so that free walks exactly what was allocated. */
    t->n_vocab = n;
    return t->pieces && t->piece_lens && t->scores && t->types ? 0 : -1;
}

/* Copies a piece, turning U+2581 (SentencePiece's visible space) into ' ' if asked. */
static int set_piece(calgae_tokenizer *t, int32_t id, const char *src, size_t len, int unescape)
{
    char *p = malloc(len + 1);
    if (!p)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (unescape && len - i >= 3 && memcmp(src + i, "\xE2\x96\x81", 3) == 0) {
            p[o++] = ' ';
            i += 2;
            continue;
        }
        p[o++] = src[i];
    }
    p[o] = '\0';
    t->pieces[id] = p;
    t->piece_lens[id] = (uint32_t)o;
    return 0;
}

typedef struct sort_entry {
    const char *p;
    uint32_t len;
    int32_t id;
} sort_entry;


static int cmp_sort_entry(const void *pa, const void *pb)
{
    const sort_entry *a = pa, *b = pb;
    int c = calgae_spm_cmp_bytes(a->p, a->len, b->p, b->len);
    if (c != 0)
        return c;
    /* Duplicated pieces: the lower id first, so lookups are deterministic. */
    return (a->id > b->id) - (a->id < b->id);
}

/* llama2.c's format has no types: recover the ones encoding and decoding care about. */
static uint8_t infer_type(const calgae_tokenizer *t, int32_t i)
{
    if (i == t->unk_id)
        return TT_UNKNOWN;
    if (i == t->bos_id || i == t->eos_id)
        return TT_CONTROL;
    if (byte_piece_value(t->pieces[i], t->piece_lens[i]) >= 0)
        return TT_BYTE;
    return TT_NORMAL;
}

/* Given pieces, lengths, scores and ids, derives types (unless the file had them), byte
 * tokens, the sorted index and the longest piece. */
static int finish_vocab(calgae_tokenizer *t, int have_types, const char *path, char *err,
                        size_t err_len)
{
    if (!have_types)
        for (int32_t i = 0; i < t->n_vocab; i++)
            t->types[i] = infer_type(t, i);
    for (int b = 0; b < 256; b++)
        t->byte_ids[b] = -1;
    t->max_piece_len = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (t->piece_lens[i] > t->max_piece_len)
            t->max_piece_len = t->piece_lens[i];
        if (t->types[i] != TT_BYTE)
            continue;
        int b = byte_piece_value(t->pieces[i], t->piece_lens[i]);
        if (b >= 0 && t->byte_ids[b] < 0)
            t->byte_ids[b] = i;
    }

    sort_entry *e = malloc((size_t)t->n_vocab * sizeof *e);
    t->sorted = malloc((size_t)t->n_vocab * sizeof *t->sorted);
    if (!e || !t->sorted) {
        free(e);
        return calgae_fail(err, err_len, "%s: out of memory indexing %d tokens", path,
                           t->n_vocab);
    }
    for (int32_t i = 0; i < t->n_vocab; i++)
        e[i] = (sort_entry){t->pieces[i], t->piece_lens[i], i};
    qsort(e, (size_t)t->n_vocab, sizeof *e, cmp_sort_entry);
    for (int32_t i = 0; i < t->n_vocab; i++)
        t->sorted[i] = e[i].id;
    free(e);
    return 0;
}

void calgae_tokenizer_free(calgae_tokenizer *t)
{
    if (!t)
        return;
    if (t->pieces)
        for (int32_t i = 0; i < t->n_vocab; i++)
            free(t->pieces[i]);
    free(t->pieces);
    free(t->piece_lens);
    free(t->scores);
    free(t->types);
    free(t->sorted);
    calgae_bpe_free(t->bpe);
    calgae_specials_free(t->specials);
    memset(t, 0, sizeof *t);
}

/* ---- llama2.c tokenizer.bin ---- */

/* The format is little-endian whatever the host is. */
static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int32_t rd_i32(const uint8_t *p)
{
    return (int32_t)rd_u32(p); /* two's complement wrap, as gcc and clang define it */
}

static float rd_f32(const uint8_t *p)
{
    uint32_t u = rd_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* First pass: validates every record and counts them, so the second pass can allocate once
 * and copy without checks. */
static int scan_bin(const calgae_map *m, const char *path, int32_t n_vocab, int32_t *count,
                    char *err, size_t err_len)
{
    const uint8_t *d = m->data;
    int32_t max_len = rd_i32(d);
    if (max_len <= 0)
        return calgae_fail(err, err_len, "%s: invalid max_token_length %d", path, max_len);
    size_t off = 4;
    int32_t n = 0;
    while ((n_vocab <= 0 || n < n_vocab) && off < m->size) {
        size_t left = m->size - off;
        if (left < 8)
            return calgae_fail(err, err_len,
                               "%s: token %d: truncated record (%zu of 8 header bytes)", path, n,
                               left);
        float score = rd_f32(d + off);
        int32_t len = rd_i32(d + off + 4);
        if (isnan(score))
            return calgae_fail(err, err_len, "%s: token %d: score is NaN", path, n);
        if (len < 0)
            return calgae_fail(err, err_len, "%s: token %d: negative length %d", path, n, len);
        if (len > max_len)
            return calgae_fail(err, err_len,
                               "%s: token %d: length %d exceeds max_token_length %d", path, n,
                               len, max_len);
        if ((size_t)len > left - 8)
            return calgae_fail(err, err_len,
                               "%s: token %d: length %d runs past the end of the file "
                               "(%zu bytes left)",
                               path, n, len, left - 8);
        if (!calgae_utf8_valid(d + off + 8, (size_t)len))
            return calgae_fail(err, err_len, "%s: token %d: piece is not valid UTF-8", path, n);
        off += 8 + (size_t)len;
        if (n == INT32_MAX)
            return calgae_fail(err, err_len, "%s: too many tokens", path);
        n++;
    }
    if (n == 0)
        return calgae_fail(err, err_len, "%s: no tokens after the header", path);
    if (n_vocab > 0 && n < n_vocab)
        return calgae_fail(err, err_len, "%s: has only %d tokens, the model needs %d", path, n,
                           n_vocab);
    *count = n;
    return 0;
}

static int load_bin_map(calgae_tokenizer *t, const calgae_map *m, const char *path,
                        int32_t n_vocab, char *err, size_t err_len)
{
    if (m->size == 0)
        return calgae_fail(err, err_len, "%s: empty tokenizer file", path);
    if (m->size < 4)
        return calgae_fail(err, err_len, "%s: truncated header (%zu of 4 bytes)", path, m->size);
    int32_t n = 0;
    if (scan_bin(m, path, n_vocab, &n, err, err_len) != 0)
        return -1;
    if (alloc_vocab(t, n) != 0)
        return calgae_fail(err, err_len, "%s: out of memory for %d tokens", path, n);
    size_t off = 4;
    for (int32_t i = 0; i < n; i++) {
        uint32_t len = rd_u32(m->data + off + 4);
        t->scores[i] = rd_f32(m->data + off);
        if (set_piece(t, i, (const char *)m->data + off + 8, len, 0) != 0)
            return calgae_fail(err, err_len, "%s: out of memory for token %d", path, i);
        off += 8 + (size_t)len;
    }
    /* llama2.c's fixed conventions. */
    t->unk_id = 0;
    t->bos_id = n > 1 ? 1 : -1;
    t->eos_id = n > 2 ? 2 : -1;
    t->add_bos = 1;
    return finish_vocab(t, 0, path, err, err_len);
}

int calgae_tokenizer_load_bin(calgae_tokenizer *t, const char *path, int32_t n_vocab,
                              char *err, size_t err_len)
{
    memset(t, 0, sizeof *t);
    calgae_map m;
    if (calgae_map_file(&m, path, err, err_len) != 0)
        return -1;
    calgae_tokenizer tmp = {0};
    int rc = load_bin_map(&tmp, &m, path, n_vocab, err, err_len);
    calgae_unmap(&m);
    if (rc == 0 && calgae_specials_build(&tmp.specials, &tmp) != 0)
        rc = calgae_fail(err, err_len, "%s: out of memory indexing special tokens", path);
    if (rc != 0) {
        calgae_tokenizer_free(&tmp);
        return -1;
    }
    *t = tmp;
    return 0;
}

/* ---- GGUF metadata ---- */

/* Finds an optional per-token array and checks its element type and length. */
static int gguf_token_array(const calgae_gguf *g, const char *key, uint32_t elem_type,
                            const char *elem_name, int32_t n, const calgae_gguf_kv **out,
                            const char *path, char *err, size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, key);
    *out = kv;
    if (!kv)
        return 0;
    if (kv->type != CALGAE_GGUF_ARRAY || kv->arr_type != elem_type)
        return calgae_fail(err, err_len, "%s: %s is not an array of %s", path, key, elem_name);
    if (kv->arr_len != (uint64_t)n)
        return calgae_fail(err, err_len, "%s: %s has %llu entries but there are %d tokens",
                           path, key, (unsigned long long)kv->arr_len, n);
    return 0;
}

static int load_gguf_vocab(calgae_tokenizer *t, const calgae_gguf *g, const char *path,
                           char *err, size_t err_len)
{
    const calgae_gguf_kv *model = calgae_gguf_find_kv(g, "tokenizer.ggml.model");
    if (model) {
        if (model->type != CALGAE_GGUF_STRING)
            return calgae_fail(err, err_len, "%s: tokenizer.ggml.model is not a string", path);
        const calgae_gguf_str *s = &model->v.s;
        if (s->len == 4 && memcmp(s->ptr, "gpt2", 4) == 0)
            return calgae_bpe_load_gguf(t, g, path, err, err_len);
        if (s->len != 5 || memcmp(s->ptr, "llama", 5) != 0)
            return calgae_fail(err, err_len,
                               "%s: unsupported tokenizer model %.*s (llama, SentencePiece BPE, "
                               "and gpt2, byte-level BPE, are supported)",
                               path, (int)(s->len < 64 ? s->len : 64), s->ptr);
    }

    const calgae_gguf_kv *toks = calgae_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!toks)
        return calgae_fail(err, err_len, "%s: no tokenizer.ggml.tokens (no vocabulary)", path);
    if (toks->type != CALGAE_GGUF_ARRAY || toks->arr_type != CALGAE_GGUF_STRING)
        return calgae_fail(err, err_len, "%s: tokenizer.ggml.tokens is not an array of strings",
                           path);
    if (toks->arr_len == 0 || toks->arr_len > INT32_MAX)
        return calgae_fail(err, err_len, "%s: tokenizer.ggml.tokens has %llu entries", path,
                           (unsigned long long)toks->arr_len);
    int32_t n = (int32_t)toks->arr_len;

    const calgae_gguf_kv *scores, *types;
    if (gguf_token_array(g, "tokenizer.ggml.scores", CALGAE_GGUF_FLOAT32, "float32", n, &scores,
                         path, err, err_len) != 0 ||
        gguf_token_array(g, "tokenizer.ggml.token_type", CALGAE_GGUF_INT32, "int32", n, &types,
                         path, err, err_len) != 0)
        return -1;

    if (alloc_vocab(t, n) != 0)
        return calgae_fail(err, err_len, "%s: out of memory for %d tokens", path, n);
    for (int32_t i = 0; i < n; i++) {
        const calgae_gguf_str *s = &toks->arr_strs[i];
        if (s->len > MAX_PIECE_LEN)
            return calgae_fail(err, err_len, "%s: token %d is %llu bytes long", path, i,
                               (unsigned long long)s->len);
        if (!calgae_utf8_valid((const uint8_t *)s->ptr, (size_t)s->len))
            return calgae_fail(err, err_len, "%s: token %d is not valid UTF-8", path, i);
        if (set_piece(t, i, s->ptr, (size_t)s->len, 1) != 0)
            return calgae_fail(err, err_len, "%s: out of memory for token %d", path, i);
        if (scores) {
            t->scores[i] = calgae_gguf_arr_f32(scores, (uint64_t)i);
            if (isnan(t->scores[i]))
                return calgae_fail(err, err_len, "%s: token %d: score is NaN", path, i);
        }
        if (types) {
            int32_t ty = calgae_gguf_arr_i32(types, (uint64_t)i);
            if (ty < TT_UNDEFINED || ty > TT_BYTE)
                return calgae_fail(err, err_len, "%s: token %d has unknown token_type %d", path,
                                   i, ty);
            t->types[i] = (uint8_t)ty;
        }
    }

    /* Defaults are llama.cpp's for SentencePiece vocabularies. */
    t->add_bos = 1; /* llama.cpp's defaults for SentencePiece, then the file's word */
    if (calgae_tok_gguf_specials(g, n, 1, 2, 0, t, path, err, err_len) != 0)
        return -1;
    return finish_vocab(t, types != NULL, path, err, err_len);
}

int calgae_tokenizer_load_gguf(calgae_tokenizer *t, const calgae_gguf *g, const char *path,
                               char *err, size_t err_len)
{
    memset(t, 0, sizeof *t);
    calgae_tokenizer tmp = {0};
    if (load_gguf_vocab(&tmp, g, path, err, err_len) != 0) {
        calgae_tokenizer_free(&tmp);
        return -1;
    }
    if (calgae_specials_build(&tmp.specials, &tmp) != 0) {
        calgae_tokenizer_free(&tmp);
        return calgae_fail(err, err_len, "%s: out of memory indexing special tokens", path);
    }
    *t = tmp;
    return 0;
}

/* ---- encoding ---- */

int calgae_tokenizer_encode_opts(const calgae_tokenizer *t, const char *text, size_t text_len,
                                 const calgae_encode_opts *o, int32_t **ids, size_t *n_ids,
                                 char *err, size_t err_len)
{
    *ids = NULL;
    *n_ids = 0;
    const int bpe = t->kind == CALGAE_TOK_BPE;
    if (!t->pieces || (bpe ? !t->bpe : !t->sorted) || t->n_vocab <= 0)
        return calgae_fail(err, err_len, "tokenizer: no vocabulary loaded");
    const int add_bos = o->add_special && t->add_bos, add_eos = o->add_special && t->add_eos;
    if (add_bos && t->bos_id < 0)
        return calgae_fail(err, err_len, "tokenizer: the vocabulary has no BOS token");
    if (add_eos && t->eos_id < 0)
        return calgae_fail(err, err_len, "tokenizer: the vocabulary has no EOS token");
    if (text_len > (size_t)INT32_MAX / 2 - 2)
        return calgae_fail(err, err_len, "tokenizer: text of %zu bytes is too long", text_len);

    /* SentencePiece text is cut at special tokens only when asked (as before there was a
     * choice); byte-level text always at user-defined ones, as llama.cpp does. */
    calgae_fragment whole = {0, text_len, -1}, *frags = &whole;
    size_t n_frags = text_len > 0;
    if ((bpe || o->parse_special) && text_len > 0 &&
        calgae_specials_split(t->specials, t, text, text_len, o->parse_special, &frags,
                              &n_frags) != 0)
        return calgae_fail(err, err_len, "tokenizer: out of memory for %zu bytes of text",
                           text_len);
    /* A stretch of text gives at most one id per byte, plus SentencePiece's dummy prefix. */
    size_t cap = 2 + text_len + n_frags;
    int32_t *out = malloc(cap * sizeof *out);
    size_t n_out = 0;
    int rc = out ? 0
                 : calgae_fail(err, err_len, "tokenizer: out of memory for %zu bytes of text",
                               text_len);
    if (rc == 0 && add_bos)
        out[n_out++] = t->bos_id;
    for (size_t i = 0; i < n_frags && rc == 0; i++) {
        const calgae_fragment *f = &frags[i];
        if (f->id >= 0)
            out[n_out++] = f->id;
        else if (bpe)
            rc = calgae_bpe_encode(t, text + f->off, f->len, out, &n_out, err, err_len);
        else
            rc = calgae_spm_encode(t, text + f->off, f->len, out, &n_out, err, err_len);
    }
    if (rc == 0 && add_eos)
        out[n_out++] = t->eos_id;
    if (frags != &whole)
        free(frags);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *ids = out;
    *n_ids = n_out;
    return 0;
}

int calgae_tokenizer_encode(const calgae_tokenizer *t, const char *text, size_t text_len,
                            int add_bos, int32_t **ids, size_t *n_ids, char *err, size_t err_len)
{
    const calgae_encode_opts o = {.add_special = add_bos, .parse_special = 0};
    return calgae_tokenizer_encode_opts(t, text, text_len, &o, ids, n_ids, err, err_len);
}

/* ---- decoding ---- */

/* Every byte value once, so a byte token's text can be returned as a pointer. */
#define B4(n) (n), (n) + 1, (n) + 2, (n) + 3
#define B16(n) B4(n), B4((n) + 4), B4((n) + 8), B4((n) + 12)
#define B64(n) B16(n), B16((n) + 16), B16((n) + 32), B16((n) + 48)
static const unsigned char k_bytes[256] = {B64(0), B64(64), B64(128), B64(192)};

size_t calgae_tokenizer_decode(const calgae_tokenizer *t, int32_t prev, int32_t id,
                               const char **out)
{
    *out = "";
    if (!t->pieces || id < 0 || id >= t->n_vocab)
        return 0;
    const char *p = t->pieces[id];
    size_t n = t->piece_lens[id];
    if (t->kind == CALGAE_TOK_BPE) { /* the piece is already the bytes */
        *out = p;
        return n;
    }
    if (!t->types || t->types[id] == TT_BYTE) {
        int b = byte_piece_value(p, (uint32_t)n);
        if (b >= 0) {
            *out = (const char *)&k_bytes[b];
            return 1;
        }
    }
    /* SentencePiece's decoder drops the dummy prefix the encoder added. */
    if (t->bos_id >= 0 && prev == t->bos_id && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    *out = p;
    return n;
}
