/*
 * fuzz_common.c - see fuzz_common.h.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: property broken: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("calgae-fuzz", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0, "memfd_create failed");
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(n > 0, "pwrite failed");
        done += (size_t)n;
    }
    return path;
}

/* [p, p + n) inside the map. */
static void check_inside(const calgae_map *map, const void *p, size_t n, const char *what)
{
    const uint8_t *b = p;
    FUZZ_CHECK(b != NULL && b >= map->data && (size_t)(b - map->data) <= map->size &&
                   n <= map->size - (size_t)(b - map->data),
               "%s: %zu bytes at %p outside the %zu-byte file", what, n, p, map->size);
}

/* A weight lies in the file, or (types without kernels, widened at load) in one of the model's
 * own F32 copies; there its last byte is read, so ASan checks the copy is as large as the shape. */
static int widened_copy(const calgae_transformer *m, const calgae_weight *w, size_t total)
{
    for (size_t i = 0; i < m->n_widened; i++)
        if (w->data == m->widened[i]) {
            FUZZ_CHECK(w->type == CALGAE_TYPE_F32, "a widened copy of type %u", w->type);
            if (total > 0)
                (void)((volatile const uint8_t *)w->data)[total - 1];
            return 1;
        }
    return 0;
}

static void check_weight(const calgae_transformer *m, const calgae_weight *w, int64_t rows,
                         int64_t cols, const char *what)
{
    const calgae_map *map = calgae_transformer_file(m);
    FUZZ_CHECK(w->rows == rows && w->cols == cols, "%s: shape %lld x %lld, expected %lld x %lld",
               what, (long long)w->rows, (long long)w->cols, (long long)rows, (long long)cols);
    size_t want = 0;
    FUZZ_CHECK(calgae_type_row_bytes(w->type, cols, &want) == 0 && w->row_bytes == want,
               "%s: row_bytes %zu for type %u", what, w->row_bytes, w->type);
    size_t total;
    FUZZ_CHECK(calgae_mul_size((size_t)rows, w->row_bytes, &total) == 0, "%s: size overflows",
               what);
    if (!widened_copy(m, w, total))
        check_inside(map, w->data, total, what);
}

void fuzz_check_model(const calgae_transformer *m)
{
    const calgae_config *c = &m->cfg;
    char err[CALGAE_ERR_LEN];
    FUZZ_CHECK(calgae_config_check(c, m->path, err, sizeof err) == 0, "config: %s", err);
    const calgae_map *map = calgae_transformer_file(m);
    const int64_t dim = c->dim, hid = c->hidden_dim, kv = (int64_t)c->head_size * c->n_kv_heads;
    check_weight(m, &m->tok_embd, c->vocab_size, dim, "tok_embd");
    check_weight(m, &m->output, c->vocab_size, dim, "output");
    check_inside(map, m->out_norm, (size_t)dim * sizeof(float), "out_norm");
    for (int l = 0; l < c->n_layers; l++) {
        const calgae_layer *L = &m->layers[l];
        check_inside(map, L->attn_norm, (size_t)dim * sizeof(float), "attn_norm");
        check_inside(map, L->ffn_norm, (size_t)dim * sizeof(float), "ffn_norm");
        check_weight(m, &L->wq, dim, dim, "wq");
        check_weight(m, &L->wk, kv, dim, "wk");
        check_weight(m, &L->wv, kv, dim, "wv");
        check_weight(m, &L->wo, dim, dim, "wo");
        check_weight(m, &L->w_gate, hid, dim, "w_gate");
        check_weight(m, &L->w_down, dim, hid, "w_down");
        check_weight(m, &L->w_up, hid, dim, "w_up");
    }
    (void)calgae_transformer_weight_bytes(m);
    if (m->has_tokenizer) {
        FUZZ_CHECK(m->tokenizer.n_vocab <= c->vocab_size, "vocabulary %d > model %d",
                   m->tokenizer.n_vocab, c->vocab_size);
        fuzz_check_vocab(&m->tokenizer);
    }
}

/* Token types a text may be matched against (llama.cpp: normal, user-defined, undefined). */
static int matchable_type(uint8_t ty)
{
    return ty == 0 || ty == 1 || ty == 4;
}

void fuzz_check_vocab(const calgae_tokenizer *t)
{
    const int bpe = t->kind == CALGAE_TOK_BPE;
    FUZZ_CHECK(t->n_vocab > 0 && t->pieces && t->piece_lens && t->scores && t->types &&
                   (bpe ? t->bpe != NULL && t->sorted == NULL : t->sorted != NULL),
               "vocabulary of %d tokens half built", t->n_vocab);
    FUZZ_CHECK(t->bos_id >= -1 && t->bos_id < t->n_vocab, "bos %d", t->bos_id);
    FUZZ_CHECK(t->eos_id >= -1 && t->eos_id < t->n_vocab, "eos %d", t->eos_id);
    FUZZ_CHECK(t->unk_id >= -1 && t->unk_id < t->n_vocab, "unk %d", t->unk_id);
    uint32_t longest = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        FUZZ_CHECK(t->pieces[i] && strlen(t->pieces[i]) <= t->piece_lens[i],
                   "piece %d not terminated", i);
        FUZZ_CHECK(t->pieces[i][t->piece_lens[i]] == '\0', "piece %d length", i);
        longest = t->piece_lens[i] > longest ? t->piece_lens[i] : longest;
        if (bpe) {
            FUZZ_CHECK(t->piece_lens[i] > 0, "empty piece %d", i);
            continue;
        }
        const int32_t s = t->sorted[i];
        FUZZ_CHECK(s >= 0 && s < t->n_vocab, "sorted[%d] = %d", i, s);
    }
    FUZZ_CHECK(longest == t->max_piece_len, "max_piece_len %u, longest %u", t->max_piece_len,
               longest);
    for (int b = 0; b < 256; b++) {
        const int32_t id = t->byte_ids[b];
        FUZZ_CHECK(id >= -1 && id < t->n_vocab, "byte_ids[%d] = %d", b, id);
        if (id >= 0) {
            const char *out;
            FUZZ_CHECK(calgae_tokenizer_decode(t, -1, id, &out) == 1 && (uint8_t)out[0] == b,
                       "byte token %d does not decode to byte %d", id, b);
        }
    }
}

/* Can this vocabulary spell any text so that decoding gives it back? */
int fuzz_spells_everything(const calgae_tokenizer *t)
{
    if (t->kind == CALGAE_TOK_BPE) {
        /* The loader refuses a byte-level vocabulary without all 256 bytes, so every text has
         * tokens; but a token other than a normal one decodes to its text as written (as in
         * llama.cpp), which is its bytes only when that text is ASCII (a non-ASCII text may
         * be in the byte alphabet, 'Ġ' for a space, and merges may still make it). */
        for (int32_t i = 0; i < t->n_vocab; i++)
            for (uint32_t k = 0; t->types[i] != 1 && k < t->piece_lens[i]; k++)
                if ((uint8_t)t->pieces[i][k] >= 0x80)
                    return 0;
        return 1;
    }
    if (t->bos_id < 0 || matchable_type(t->types[t->bos_id]))
        return 0;
    /* a BOS that is also a byte token (a GGUF may say so) would drop the space after it */
    for (int b = 0; b < 256; b++)
        if (t->byte_ids[b] < 0 || t->byte_ids[b] == t->bos_id)
            return 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->piece_lens[i] == 1 && t->pieces[i][0] == ' ' && matchable_type(t->types[i]))
            return 1;
    return 0;
}

/* Decodes ids[from..n) into out (room for cap bytes); returns the length or cap + 1. */
static size_t decode_all(const calgae_tokenizer *t, const int32_t *ids, size_t from, size_t n,
                         int32_t prev, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = from; i < n; i++) {
        const char *p;
        size_t k = calgae_tokenizer_decode(t, prev, ids[i], &p);
        if (k > cap - len)
            return cap + 1;
        memcpy(out + len, p, k);
        len += k;
        prev = ids[i];
    }
    return len;
}

void fuzz_check_encode(const calgae_tokenizer *t, const char *text, size_t len)
{
    const int exact = fuzz_spells_everything(t);
    char err[256];
    for (int bos = 0; bos <= 1; bos++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (calgae_tokenizer_encode(t, text, len, bos, &ids, &n, err, sizeof err) != 0) {
            /* only a vocabulary that cannot spell some byte (no byte tokens, no unk) or lacks
             * BOS may refuse */
            FUZZ_CHECK(!exact && err[0], "encode failed: %s", err);
            FUZZ_CHECK(ids == NULL, "ids left allocated");
            continue;
        }
        const int add_bos = bos && t->add_bos, add_eos = bos && t->add_eos;
        FUZZ_CHECK(n <= len + 1 + (size_t)add_bos + (size_t)add_eos, "%zu ids for %zu bytes", n,
                   len);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < t->n_vocab, "id %d of %d", ids[i], t->n_vocab);
        if (add_bos)
            FUZZ_CHECK(n >= 1 && ids[0] == t->bos_id, "no BOS first");
        if (add_eos)
            FUZZ_CHECK(n >= 1 && ids[n - 1] == t->eos_id, "no EOS last");
        if (exact && t->kind == CALGAE_TOK_BPE) {
            /* byte-level: the text's own bytes back, no dummy prefix; user-defined tokens
             * decode to their text like the rest */
            char *out = malloc(len + 1);
            FUZZ_CHECK(out != NULL, "out of memory");
            size_t got = decode_all(t, ids, (size_t)add_bos, n - (size_t)add_eos, -1, out, len);
            FUZZ_CHECK(got == len && memcmp(out, text, len) == 0,
                       "byte-level decode(encode(x)) != x (%zu bytes back for %zu)", got, len);
            free(out);
        } else if (exact) {
            /* the dummy prefix: a space before the text, dropped after BOS */
            const size_t cap = len + 1;
            char *out = malloc(cap + 1);
            FUZZ_CHECK(out != NULL, "out of memory");
            size_t got = decode_all(t, ids, (size_t)add_bos, n - (size_t)add_eos,
                                    add_bos ? t->bos_id : -1, out, cap);
            if (add_bos || len == 0)
                FUZZ_CHECK(got == len && memcmp(out, text, len) == 0,
                           "decode(encode(x)) != x (%zu bytes back for %zu)", got, len);
            else
                FUZZ_CHECK(got == len + 1 && out[0] == ' ' && memcmp(out + 1, text, len) == 0,
                           "decode(encode(x)) without BOS != ' ' + x (%zu bytes for %zu)", got,
                           len);
            free(out);
        }
        free(ids);
    }
}
