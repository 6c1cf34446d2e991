/* convert.c - see convert.h. */
#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "gguf.h"
#include "types.h"

struct conv {
    calgae_gguf_writer *w;
    void **bufs; /* tensor data we made; the writer only references it */
    size_t n_bufs;
    float *row;  /* one dequantized row */
};

static int keep(struct conv *cv, void *p)
{
    void **b = realloc(cv->bufs, (cv->n_bufs + 1) * sizeof *b);
    if (!b) {
        free(p);
        return -1;
    }
    cv->bufs = b;
    cv->bufs[cv->n_bufs++] = p;
    return 0;
}

static int add_matrix(struct conv *cv, const char *name, const calgae_weight *src, uint32_t type)
{
    size_t row_bytes;
    if (type == CALGAE_CONVERT_KEEP) {
        const int64_t ne[2] = {src->cols, src->rows};
        return calgae_gguf_add_tensor(cv->w, name, src->type, 2, ne, src->data,
                                      src->row_bytes * (size_t)src->rows);
    }
    if (calgae_type_row_bytes(type, src->cols, &row_bytes) != 0) {
        type = CALGAE_TYPE_F32; /* rows that are not whole blocks stay F32, as llama.cpp does */
        if (calgae_type_row_bytes(type, src->cols, &row_bytes) != 0)
            return -1;
    }
    const size_t total = row_bytes * (size_t)src->rows;
    uint8_t *dst = malloc(total);
    if (!dst || keep(cv, dst) != 0)
        return -1;
    for (int64_t r = 0; r < src->rows; r++) {
        const void *in = (const char *)src->data + (size_t)r * src->row_bytes;
        if (calgae_dequantize_row(src->type, in, cv->row, src->cols) != 0 ||
            calgae_quantize_row(type, cv->row, dst + (size_t)r * row_bytes, src->cols) != 0)
            return -1;
    }
    const int64_t ne[2] = {src->cols, src->rows};
    return calgae_gguf_add_tensor(cv->w, name, type, 2, ne, dst, total);
}

static int add_vector(struct conv *cv, const char *name, const float *v, int64_t n)
{
    return calgae_gguf_add_tensor(cv->w, name, CALGAE_TYPE_F32, 1, &n, v, (size_t)n * sizeof(float));
}

int calgae_convert_add_hparams(calgae_gguf_writer *w, const calgae_transformer *m, uint32_t type,
                               uint32_t quantization_version)
{
    const calgae_config *c = &m->cfg;
    const char *base = strrchr(m->path, '/');
    const calgae_type_info *ti = calgae_type_traits(type); /* llama.cpp's ftype for the type */
    const char *a = calgae_arch_name(c->arch);
    char k[9][64]; /* the ARCH.* keys, in llama.cpp's names */
    const char *names[9] = {"context_length", "embedding_length", "block_count",
                            "feed_forward_length", "rope.dimension_count", "attention.head_count",
                            "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
                            "rope.freq_base"};
    for (int i = 0; i < 9; i++)
        snprintf(k[i], sizeof k[i], "%s.%s", a, names[i]);
    return calgae_gguf_add_str(w, "general.architecture", a) ||
           calgae_gguf_add_str(w, "general.name", base ? base + 1 : m->path) ||
           calgae_gguf_add_u32(w, "general.file_type",
                               type & CALGAE_FTYPE_FLAG ? type & ~CALGAE_FTYPE_FLAG
                               : ti                     ? ti->file_type
                                                        : 0) ||
           (quantization_version != 0 &&
            calgae_gguf_add_u32(w, "general.quantization_version", quantization_version)) ||
           calgae_gguf_add_u32(w, k[0], (uint32_t)c->ctx) ||
           calgae_gguf_add_u32(w, k[1], (uint32_t)c->dim) ||
           calgae_gguf_add_u32(w, k[2], (uint32_t)c->n_layers) ||
           calgae_gguf_add_u32(w, k[3], (uint32_t)c->hidden_dim) ||
           calgae_gguf_add_u32(w, k[4], (uint32_t)c->n_rot) ||
           calgae_gguf_add_u32(w, k[5], (uint32_t)c->n_heads) ||
           calgae_gguf_add_u32(w, k[6], (uint32_t)c->n_kv_heads) ||
           calgae_gguf_add_f32(w, k[7], c->eps) ||
           calgae_gguf_add_f32(w, k[8], c->rope_theta);
}

static int32_t token_type(const calgae_tokenizer *t, int32_t id)
{
    if (t->types)
        return t->types[id];
    if (id == t->unk_id)
        return 2; /* unknown */
    if (id == t->bos_id || id == t->eos_id)
        return 3; /* control */
    for (int b = 0; b < 256; b++)
        if (t->byte_ids[b] == id)
            return 6; /* byte */
    return 1; /* normal */
}

/* SentencePiece writes a space as U+2581 in its vocabulary. */
static char *to_sp_piece(const char *piece)
{
    size_t spaces = 0, n = strlen(piece);
    for (size_t i = 0; i < n; i++)
        spaces += piece[i] == ' ';
    char *out = malloc(n + 2 * spaces + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (piece[i] == ' ') {
            memcpy(o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            *o++ = piece[i];
        }
    }
    *o = '\0';
    return out;
}

/* A byte-level BPE vocabulary as its file had it: the texts as written (the pieces are what
 * they decode to), the types, the merges as "A B", the pre-tokenizer, the special ids and
 * flags. */
static int add_bpe_vocab(calgae_gguf_writer *w, const calgae_tokenizer *t)
{
    const size_t n = (size_t)t->n_vocab, n_merges = calgae_bpe_n_merges(t->bpe);
    const char **texts = malloc(n * sizeof *texts);
    int32_t *types = malloc(n * sizeof *types);
    char **merges = calloc(n_merges + 1, sizeof *merges);
    int rc = -1;
    if (!texts || !types || !merges)
        goto out;
    for (size_t i = 0; i < n; i++) {
        texts[i] = calgae_bpe_token_text(t->bpe, (int32_t)i);
        types[i] = t->types[i];
    }
    for (size_t i = 0; i < n_merges; i++) {
        int32_t l, r;
        calgae_bpe_merge(t->bpe, i, &l, &r);
        const char *a = texts[l], *b = texts[r];
        size_t la = strlen(a), lb = strlen(b);
        if (!(merges[i] = malloc(la + lb + 2)))
            goto out;
        memcpy(merges[i], a, la);
        merges[i][la] = ' ';
        memcpy(merges[i] + la + 1, b, lb + 1);
    }
    rc = calgae_gguf_add_str(w, "tokenizer.ggml.model", "gpt2") ||
         calgae_gguf_add_str(w, "tokenizer.ggml.pre", calgae_bpe_pre(t->bpe)) ||
         calgae_gguf_add_arr_str(w, "tokenizer.ggml.tokens", texts, n) ||
         calgae_gguf_add_arr_i32(w, "tokenizer.ggml.token_type", types, n) ||
         calgae_gguf_add_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges,
                                 n_merges) ||
         (t->bos_id >= 0 &&
          calgae_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos_id)) ||
         (t->eos_id >= 0 &&
          calgae_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos_id)) ||
         (t->unk_id >= 0 &&
          calgae_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)t->unk_id)) ||
         calgae_gguf_add_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos) ||
         calgae_gguf_add_bool(w, "tokenizer.ggml.add_eos_token", t->add_eos)
             ? -1
             : 0;
out:
    if (merges)
        for (size_t i = 0; i < n_merges; i++)
            free(merges[i]);
    free(merges);
    free(texts);
    free(types);
    return rc;
}

int calgae_convert_add_vocab(calgae_gguf_writer *w, const calgae_tokenizer *t)
{
    if (t->kind == CALGAE_TOK_BPE)
        return add_bpe_vocab(w, t);
    const size_t n = (size_t)t->n_vocab;
    char **pieces = calloc(n, sizeof *pieces);
    int32_t *types = malloc(n * sizeof *types);
    int rc = -1;
    if (!pieces || !types)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (!(pieces[i] = to_sp_piece(t->pieces[i])))
            goto out;
        types[i] = token_type(t, (int32_t)i);
    }
    rc = calgae_gguf_add_str(w, "tokenizer.ggml.model", "llama") ||
         calgae_gguf_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)pieces, n) ||
         calgae_gguf_add_arr_f32(w, "tokenizer.ggml.scores", t->scores, n) ||
         calgae_gguf_add_arr_i32(w, "tokenizer.ggml.token_type", types, n) ||
         calgae_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos_id) ||
         calgae_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos_id) ||
         (t->unk_id >= 0 &&
          calgae_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)t->unk_id))
             ? -1
             : 0;
out:
    if (pieces)
        for (size_t i = 0; i < n; i++)
            free(pieces[i]);
    free(pieces);
    free(types);
    return rc;
}

static int add_tensors(struct conv *cv, const calgae_transformer *m, uint32_t type)
{
    const calgae_config *c = &m->cfg;
    if (add_matrix(cv, "token_embd.weight", &m->tok_embd, type))
        return -1;
    for (int l = 0; l < c->n_layers; l++) {
        const calgae_layer *L = &m->layers[l];
        char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s ".weight", l), name)
        if (add_vector(cv, NAME("attn_norm"), L->attn_norm, c->dim) ||
            add_matrix(cv, NAME("attn_q"), &L->wq, type) ||
            add_matrix(cv, NAME("attn_k"), &L->wk, type) ||
            add_matrix(cv, NAME("attn_v"), &L->wv, type) ||
            add_matrix(cv, NAME("attn_output"), &L->wo, type) ||
            add_vector(cv, NAME("ffn_norm"), L->ffn_norm, c->dim) ||
            add_matrix(cv, NAME("ffn_gate"), &L->w_gate, type) ||
            add_matrix(cv, NAME("ffn_down"), &L->w_down, type) ||
            add_matrix(cv, NAME("ffn_up"), &L->w_up, type))
            return -1;
        const int64_t kv_dim = L->wk.rows;
#define BIAS(s) (snprintf(name, sizeof name, "blk.%d." s ".bias", l), name)
        if (L->bq && (add_vector(cv, BIAS("attn_q"), L->bq, c->dim) ||
                      add_vector(cv, BIAS("attn_k"), L->bk, kv_dim) ||
                      add_vector(cv, BIAS("attn_v"), L->bv, kv_dim)))
            return -1;
#undef BIAS
#undef NAME
    }
    if (add_vector(cv, "output_norm.weight", m->out_norm, c->dim) ||
        (m->rope_freqs && add_vector(cv, "rope_freqs.weight", m->rope_freqs, c->n_rot / 2)))
        return -1;
    /* a tied classifier is left out: llama.cpp then uses token_embd, as we do */
    return m->tied ? 0 : add_matrix(cv, "output.weight", &m->output, type);
}

int calgae_convert_to_gguf(const calgae_transformer *m, const calgae_tokenizer *t, uint32_t type,
                           const char *out_path, char *err, size_t err_len)
{
    const int keep_types = type == CALGAE_CONVERT_KEEP;
    const calgae_type_info *ti = calgae_type_traits(keep_types ? m->file_type : type);
    if (!ti || (!keep_types && (!ti->from_float || !calgae_type_has_products(type))))
        return calgae_fail(err, err_len, "cannot convert to type %s", calgae_type_name(type));
    if (t->n_vocab != m->cfg.vocab_size)
        return calgae_fail(err, err_len, "%s: vocabulary of %d tokens for a model of %d", m->path,
                           t->n_vocab, m->cfg.vocab_size);
    struct conv cv = {0};
    cv.w = calgae_gguf_writer_new();
    const int widest = m->cfg.dim > m->cfg.hidden_dim ? m->cfg.dim : m->cfg.hidden_dim;
    cv.row = malloc((size_t)widest * sizeof(float));
    int rc = -1;
    /* no general.quantization_version: convert's files never had it, and they stay as they were */
    if (!cv.w || !cv.row || calgae_convert_add_hparams(cv.w, m, keep_types ? m->file_type : type,
                                                        keep_types ? 2 : 0) ||
        calgae_convert_add_vocab(cv.w, t) || add_tensors(&cv, m, type)) {
        calgae_fail(err, err_len, "%s: out of memory while converting", m->path);
        goto out;
    }
    rc = calgae_gguf_write(cv.w, out_path, err, err_len);
out:
    calgae_gguf_writer_free(cv.w);
    for (size_t i = 0; i < cv.n_bufs; i++)
        free(cv.bufs[i]);
    free(cv.bufs);
    free(cv.row);
    return rc;
}
