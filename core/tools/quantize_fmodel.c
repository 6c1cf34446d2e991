/*
 * quantize_fmodel.c - the F32 working copy AWQ edits (see quantize.h): every tensor of a loaded
 * model dequantized into one private allocation, with an ordinary calgae_transformer view of it that
 * the forward pass runs and the GGUF writer writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize.h"
#include "types.h"

static calgae_weight f32_view(float *data, int64_t rows, int64_t cols)
{
    calgae_weight w = {0};
    w.type = CALGAE_TYPE_F32;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = (size_t)cols * sizeof(float);
    w.data = data;
    return w;
}

static int copy_matrix(float *dst, const calgae_weight *w)
{
    for (int64_t r = 0; r < w->rows; r++)
        if (calgae_dequantize_row(w->type, (const char *)w->data + (size_t)r * w->row_bytes,
                                  dst + r * w->cols, w->cols) != 0)
            return -1;
    return 0;
}

int calgae_fmodel_init(calgae_fmodel *f, const calgae_transformer *src, char *err, size_t err_len)
{
    memset(f, 0, sizeof *f);
    const calgae_config *c = &src->cfg;
    const size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim;
    const size_t kv = (size_t)c->head_size * (size_t)c->n_kv_heads, L = (size_t)c->n_layers;
    const size_t vocab = (size_t)c->vocab_size;
    const size_t per_layer = 2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hid * dim;
    /* the classifier always gets its own copy, so that scaling it never touches the embeddings */
    const size_t total = 2 * vocab * dim + dim + L * per_layer;
    f->data = malloc(total * sizeof(float));
    f->layers = calloc(L, sizeof *f->layers);
    f->model.layers = calloc(L, sizeof *f->model.layers);
    if (!f->data || !f->layers || !f->model.layers) {
        calgae_fmodel_free(f);
        return calgae_fail(err, err_len, "%s: out of memory for an F32 copy (%zu MiB)", src->path,
                           total * sizeof(float) >> 20);
    }
    calgae_transformer *m = &f->model;
    snprintf(m->path, sizeof m->path, "%s", src->path);
    m->format = CALGAE_FORMAT_BIN; /* nothing mapped behind it: never calgae_transformer_free it */
    m->cfg = *c;
    m->tied = src->tied;
    m->file_type = CALGAE_TYPE_F32;
    float *p = f->data;
    f->embd = p, p += vocab * dim;
    f->output = p, p += vocab * dim;
    f->out_norm = p, p += dim;
    int bad = copy_matrix(f->embd, &src->tok_embd) || copy_matrix(f->output, &src->output);
    memcpy(f->out_norm, src->out_norm, dim * sizeof(float));
    m->tok_embd = f32_view(f->embd, c->vocab_size, c->dim);
    m->output = f32_view(f->output, c->vocab_size, c->dim);
    m->out_norm = f->out_norm;
    for (size_t l = 0; l < L && !bad; l++) {
        const calgae_layer *S = &src->layers[l];
        calgae_flayer *F = &f->layers[l];
        calgae_layer *V = &m->layers[l];
        F->attn_norm = p, p += dim;
        F->ffn_norm = p, p += dim;
        memcpy(F->attn_norm, S->attn_norm, dim * sizeof(float));
        memcpy(F->ffn_norm, S->ffn_norm, dim * sizeof(float));
        V->attn_norm = F->attn_norm;
        V->ffn_norm = F->ffn_norm;
        struct { float **dst; const calgae_weight *w; calgae_weight *view; } mats[] = {
            {&F->wq, &S->wq, &V->wq},         {&F->wk, &S->wk, &V->wk},
            {&F->wv, &S->wv, &V->wv},         {&F->wo, &S->wo, &V->wo},
            {&F->gate, &S->w_gate, &V->w_gate}, {&F->down, &S->w_down, &V->w_down},
            {&F->up, &S->w_up, &V->w_up}};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0] && !bad; i++) {
            *mats[i].dst = p;
            p += (size_t)mats[i].w->rows * (size_t)mats[i].w->cols;
            bad = copy_matrix(*mats[i].dst, mats[i].w);
            *mats[i].view = f32_view(*mats[i].dst, mats[i].w->rows, mats[i].w->cols);
        }
    }
    if (bad) {
        calgae_fmodel_free(f);
        return calgae_fail(err, err_len, "%s: a tensor type cannot be read back as floats",
                           src->path);
    }
    return 0;
}

void calgae_fmodel_free(calgae_fmodel *f)
{
    free(f->model.layers);
    free(f->layers);
    free(f->data);
    memset(f, 0, sizeof *f);
}
