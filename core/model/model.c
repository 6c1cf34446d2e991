/*
 * model.c - what every loader's model shares once loaded: freeing it, the hyperparameter
 * checks, sizes. Reading files is formats/'s job (model_load.h).
 */
#define _GNU_SOURCE
#include "model.h"
#include "hf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void calgae_transformer_free(calgae_transformer *m)
{
    free(m->layers);
    for (size_t i = 0; i < m->n_widened; i++)
        free(m->widened[i]);
    free(m->widened);
    free(m->widened_from);
    if (m->has_tokenizer)
        calgae_tokenizer_free(&m->tokenizer);
    if (m->format == CALGAE_FORMAT_GGUF)
        calgae_gguf_close(&m->gguf);
    calgae_unmap(&m->map);
    calgae_hf_free(m->hf);
    memset(m, 0, sizeof *m);
}

uint32_t calgae_weight_stored_type(const calgae_transformer *m, const calgae_weight *w)
{
    for (size_t i = 0; w->type == CALGAE_TYPE_F32 && i < m->n_widened; i++)
        if (m->widened[i] == w->data)
            return m->widened_from[i];
    return w->type;
}

const calgae_map *calgae_transformer_file(const calgae_transformer *m)
{
    const calgae_map *map = m->format == CALGAE_FORMAT_GGUF ? &m->gguf.map : &m->map;
    return map->data ? map : NULL;
}

const calgae_gguf *calgae_transformer_meta(const calgae_transformer *m)
{
    if (m->format == CALGAE_FORMAT_HF && m->hf)
        return calgae_hf_meta(m->hf);
    return m->format == CALGAE_FORMAT_GGUF ? &m->gguf : NULL;
}

const char *calgae_arch_name(int arch)
{
    return arch == CALGAE_ARCH_QWEN2 ? "qwen2" : "llama";
}

void calgae_llama3_rope_freqs(const calgae_config *c, float factor, float low, float high,
                              int orig_ctx, float *out)
{
    const double low_wl = orig_ctx / (double)low, high_wl = orig_ctx / (double)high;
    for (int i = 0; i < c->n_rot / 2; i++) {
        /* the base frequency in float, as the engine's table and torch's float32 arange have it */
        const float freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)c->n_rot);
        const double wavelen = 2 * M_PI / freq;
        double f = 1.0;
        if (wavelen > low_wl) {
            f = factor;
        } else if (wavelen >= high_wl) {
            const double smooth = (orig_ctx / wavelen - low) / (high - low);
            f = 1.0 / ((1.0 - smooth) / factor + smooth);
        }
        out[i] = (float)f;
    }
}

int calgae_config_check(const calgae_config *c, const char *path, char *err, size_t err_len)
{
    /* generous limits that still keep every size computation far from overflow */
    const int big = 1 << 20;
    if (c->dim <= 0 || c->dim > big || c->hidden_dim <= 0 || c->hidden_dim > 4 * big)
        return calgae_fail(err, err_len, "%s: bad dimensions (dim %d, ffn %d)", path, c->dim,
                           c->hidden_dim);
    if (c->dim > CALGAE_MAX_COLS || c->hidden_dim > CALGAE_MAX_COLS)
        return calgae_fail(err, err_len,
                           "%s: rows of %d values (dim %d, ffn %d) are longer than the %d that "
                           "kernels may sum in 32-bit integers",
                           path, c->dim > c->hidden_dim ? c->dim : c->hidden_dim, c->dim,
                           c->hidden_dim, CALGAE_MAX_COLS);
    if (c->n_layers <= 0 || c->n_layers > 1024)
        return calgae_fail(err, err_len, "%s: bad layer count %d", path, c->n_layers);
    if (c->n_heads <= 0 || c->n_heads > 4096 || c->dim % c->n_heads != 0)
        return calgae_fail(err, err_len, "%s: head count %d does not divide dim %d", path,
                           c->n_heads, c->dim);
    if (c->n_kv_heads <= 0 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return calgae_fail(err, err_len, "%s: KV head count %d does not divide head count %d",
                           path, c->n_kv_heads, c->n_heads);
    if (c->vocab_size <= 0 || c->vocab_size > 4 * big)
        return calgae_fail(err, err_len, "%s: bad vocabulary size %d", path, c->vocab_size);
    if (c->ctx <= 0 || c->ctx > 16 * big)
        return calgae_fail(err, err_len, "%s: bad context length %d", path, c->ctx);
    if (c->head_size % 2 != 0 || c->n_rot <= 0 || c->n_rot > c->head_size || c->n_rot % 2 != 0)
        return calgae_fail(err, err_len, "%s: bad RoPE dimensions (%d of head size %d)", path,
                           c->n_rot, c->head_size);
    if (!(c->eps > 0.0f && c->eps < 1.0f))
        return calgae_fail(err, err_len, "%s: bad RMSNorm epsilon %g", path, (double)c->eps);
    if (c->arch != CALGAE_ARCH_LLAMA && c->arch != CALGAE_ARCH_QWEN2)
        return calgae_fail(err, err_len, "%s: unknown architecture %d", path, c->arch);
    if (!(c->rope_theta > 0.0f && c->rope_theta < 1e12f))
        return calgae_fail(err, err_len, "%s: bad RoPE base %g", path, (double)c->rope_theta);
    return 0;
}

static size_t weight_bytes(const calgae_weight *w)
{
    return (size_t)w->rows * w->row_bytes;
}

size_t calgae_transformer_weight_bytes(const calgae_transformer *m)
{
    size_t total = weight_bytes(&m->output);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const calgae_layer *L = &m->layers[l];
        total += weight_bytes(&L->wq) + weight_bytes(&L->wk) + weight_bytes(&L->wv) +
                 weight_bytes(&L->wo) + weight_bytes(&L->w_gate) + weight_bytes(&L->w_down) +
                 weight_bytes(&L->w_up);
    }
    return total;
}

static uint64_t weight_params(const calgae_weight *w)
{
    return (uint64_t)w->rows * (uint64_t)w->cols;
}

uint64_t calgae_transformer_params(const calgae_transformer *m)
{
    const calgae_config *c = &m->cfg;
    uint64_t n = weight_params(&m->tok_embd) + (uint64_t)c->dim;
    if (!m->tied)
        n += weight_params(&m->output);
    for (int l = 0; l < c->n_layers; l++) {
        const calgae_layer *L = &m->layers[l];
        n += 2 * (uint64_t)c->dim + weight_params(&L->wq) + weight_params(&L->wk) +
             weight_params(&L->wv) + weight_params(&L->wo) + weight_params(&L->w_gate) +
             weight_params(&L->w_down) + weight_params(&L->w_up);
        if (L->bq) /* biases come as a set (qwen2) */
            n += (uint64_t)L->wq.rows + (uint64_t)L->wk.rows + (uint64_t)L->wv.rows;
    }
    return n;
}
