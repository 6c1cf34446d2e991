/*
 * quantize_write.c - the GGUF that `calgae quantize` writes (see quantize.h): llama.cpp's keys
 * and tensor names (ggml docs/gguf.md; llama.cpp's llama2.c converter for the vocabulary), a
 * type per tensor (the layers' matrices, the embeddings and the classifier may differ), ggml's
 * block layouts through blocks.h's reference quantizers.
 *
 * The general.*, llama.* and tokenizer.ggml.* keys come from convert.c, so that the two writers
 * cannot drift apart; the tensors are written here because convert takes one type for all
 * matrices, and a per-tensor type there would let this file go.
 */
#include <stdio.h>
#include <stdlib.h>

#include "convert.h"
#include "gguf.h"
#include "quantize.h"
#include "rtn.h"
#include "types.h"

struct writer {
    calgae_gguf_writer *w;
    void **bufs; /* tensor data we made; the writer only references it until written */
    size_t n_bufs;
    float *row;
    calgae_qsizes *sizes;
};

static int keep(struct writer *wr, void *p)
{
    void **b = realloc(wr->bufs, (wr->n_bufs + 1) * sizeof *b);
    if (!b) {
        free(p);
        return -1;
    }
    wr->bufs = b;
    wr->bufs[wr->n_bufs++] = p;
    return 0;
}

/* The stored type: llama-quantize's choice under a recipe, else the asked-for type, F32 where
 * its blocks do not tile the row. */
static uint32_t pick(const calgae_transformer *m, const calgae_qtypes *t, uint32_t asked,
                     enum calgae_tensor_role role, int layer, int64_t cols)
{
    if (!t->recipe)
        return calgae_rtn_storage_type(asked, cols);
    if ((role == CALGAE_ROLE_TOKEN_EMBD && t->embd_set) ||
        (role == CALGAE_ROLE_OUTPUT && t->output_set))
        return calgae_rtn_storage_type(asked, cols);
    const calgae_tensor_place p = {role, layer, m->cfg.n_layers,
                                   m->cfg.n_kv_heads > 0 ? m->cfg.n_heads / m->cfg.n_kv_heads : 1,
                                   m->tied, cols};
    return calgae_recipe_type(t->recipe, t->pure, &p);
}

static int add_matrix(struct writer *wr, const char *name, const calgae_weight *src, uint32_t type)
{
    size_t row_bytes;
    if (calgae_type_row_bytes(type, src->cols, &row_bytes) != 0)
        return -1;
    const size_t total = row_bytes * (size_t)src->rows;
    uint8_t *dst = malloc(total);
    if (!dst || keep(wr, dst) != 0)
        return -1;
    for (int64_t r = 0; r < src->rows; r++) {
        const void *in = (const char *)src->data + (size_t)r * src->row_bytes;
        if (calgae_dequantize_row(src->type, in, wr->row, src->cols) != 0 ||
            calgae_quantize_row(type, wr->row, dst + (size_t)r * row_bytes, src->cols) != 0)
            return -1;
    }
    wr->sizes->tensor_bytes += total;
    wr->sizes->params += (uint64_t)(src->rows * src->cols);
    const int64_t ne[2] = {src->cols, src->rows};
    return calgae_gguf_add_tensor(wr->w, name, type, 2, ne, dst, total);
}

static int add_vector(struct writer *wr, const char *name, const float *v, int64_t n)
{
    wr->sizes->tensor_bytes += (uint64_t)n * sizeof(float);
    wr->sizes->params += (uint64_t)n;
    return calgae_gguf_add_tensor(wr->w, name, CALGAE_TYPE_F32, 1, &n, v, (size_t)n * sizeof(float));
}

static int add_meta(calgae_gguf_writer *w, const calgae_qmeta *q)
{
    char hash[24];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)q->calib_hash);
    return calgae_gguf_add_str(w, "calgae.quantize.method", q->method) ||
           (q->calib_tokens > 0 &&
            (calgae_gguf_add_str(w, "calgae.quantize.calib_hash", hash) ||
             calgae_gguf_add_u32(w, "calgae.quantize.calib_tokens", (uint32_t)q->calib_tokens)));
}

static int add_tensors(struct writer *wr, const calgae_transformer *m, const calgae_qtypes *t)
{
    const calgae_config *c = &m->cfg;
    if (add_matrix(wr, "token_embd.weight", &m->tok_embd,
                   pick(m, t, t->embd, CALGAE_ROLE_TOKEN_EMBD, 0, c->dim)))
        return -1;
    for (int l = 0; l < c->n_layers; l++) {
        const calgae_layer *L = &m->layers[l];
        char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s ".weight", l), name)
        if (add_vector(wr, NAME("attn_norm"), L->attn_norm, c->dim) ||
            add_matrix(wr, NAME("attn_q"), &L->wq,
                       pick(m, t, t->matrix, CALGAE_ROLE_ATTN_Q, l, L->wq.cols)) ||
            add_matrix(wr, NAME("attn_k"), &L->wk,
                       pick(m, t, t->matrix, CALGAE_ROLE_ATTN_K, l, L->wk.cols)) ||
            add_matrix(wr, NAME("attn_v"), &L->wv,
                       pick(m, t, t->matrix, CALGAE_ROLE_ATTN_V, l, L->wv.cols)) ||
            add_matrix(wr, NAME("attn_output"), &L->wo,
                       pick(m, t, t->matrix, CALGAE_ROLE_ATTN_OUTPUT, l, L->wo.cols)) ||
            add_vector(wr, NAME("ffn_norm"), L->ffn_norm, c->dim) ||
            add_matrix(wr, NAME("ffn_gate"), &L->w_gate,
                       pick(m, t, t->matrix, CALGAE_ROLE_FFN_GATE, l, L->w_gate.cols)) ||
            add_matrix(wr, NAME("ffn_down"), &L->w_down,
                       pick(m, t, t->matrix, CALGAE_ROLE_FFN_DOWN, l, L->w_down.cols)) ||
            add_matrix(wr, NAME("ffn_up"), &L->w_up,
                       pick(m, t, t->matrix, CALGAE_ROLE_FFN_UP, l, L->w_up.cols)))
            return -1;
#define BIAS(s) (snprintf(name, sizeof name, "blk.%d." s ".bias", l), name)
        if (L->bq && (add_vector(wr, BIAS("attn_q"), L->bq, c->dim) || /* qwen2, kept F32 */
                      add_vector(wr, BIAS("attn_k"), L->bk, L->wk.rows) ||
                      add_vector(wr, BIAS("attn_v"), L->bv, L->wv.rows)))
            return -1;
#undef BIAS
#undef NAME
    }
    if (add_vector(wr, "output_norm.weight", m->out_norm, c->dim) ||
        (m->rope_freqs && add_vector(wr, "rope_freqs.weight", m->rope_freqs, c->n_rot / 2)))
        return -1;
    /* a tied classifier stays tied (llama.cpp then reads token_embd, as we do) only when it is
     * stored like the embeddings; otherwise it becomes a tensor of its own */
    const uint32_t out = pick(m, t, t->output, CALGAE_ROLE_OUTPUT, 0, c->dim);
    if (m->tied && (t->recipe && !t->output_set
                        ? 1 /* llama-quantize keeps a tied classifier tied */
                        : out == pick(m, t, t->embd, CALGAE_ROLE_TOKEN_EMBD, 0, c->dim)))
        return 0;
    return add_matrix(wr, "output.weight", &m->output, out);
}

int calgae_quantize_write(const calgae_transformer *m, const calgae_tokenizer *t,
                          const calgae_qtypes *types, const calgae_qmeta *meta,
                          const char *out_path, calgae_qsizes *sizes, char *err, size_t err_len)
{
    if (t->n_vocab != m->cfg.vocab_size)
        return calgae_fail(err, err_len, "%s: vocabulary of %d tokens for a model of %d", m->path,
                           t->n_vocab, m->cfg.vocab_size);
    calgae_qsizes local = {0};
    struct writer wr = {.sizes = sizes ? sizes : &local};
    *wr.sizes = (calgae_qsizes){0};
    wr.w = calgae_gguf_writer_new();
    const int widest = m->cfg.dim > m->cfg.hidden_dim ? m->cfg.dim : m->cfg.hidden_dim;
    wr.row = malloc((size_t)widest * sizeof(float));
    int rc = -1;
    /* general.file_type after the layers' matrices, the bulk of the weights, or the mixture's
     * llama_ftype as llama-quantize records it; 2 is ggml's
     * GGML_QNT_VERSION, which llama.cpp's quantizer records */
    if (!wr.w || !wr.row || calgae_convert_add_hparams(wr.w, m, types->recipe ? CALGAE_FTYPE_FLAG | types->recipe->ftype : types->matrix, 2) ||
        add_meta(wr.w, meta) || calgae_convert_add_vocab(wr.w, t) || add_tensors(&wr, m, types)) {
        calgae_fail(err, err_len, "%s: out of memory while quantizing", m->path);
        goto out;
    }
    rc = calgae_gguf_write(wr.w, out_path, err, err_len);
out:
    calgae_gguf_writer_free(wr.w);
    for (size_t i = 0; i < wr.n_bufs; i++)
        free(wr.bufs[i]);
    free(wr.bufs);
    free(wr.row);
    return rc;
}
