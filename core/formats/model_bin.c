/*
 * model_bin.c - llama2.c's legacy float32 checkpoint, the layout its run.c reads:
 * a header of seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; a negative vocab_size means the classifier is stored separately), then float32
 * arrays token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim],
 * wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim], w1[L][hidden][dim],
 * w2[L][dim][hidden], w3[L][hidden][dim], rms_final[dim], two RoPE tables of
 * seq_len * head_size / 2 floats each (unused: we compute RoPE), then wcls[vocab][dim] if not
 * shared. RMSNorm epsilon 1e-5 and RoPE base 10000 are fixed by the format.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static calgae_weight f32_weight(const float *data, int64_t rows, int64_t cols)
{
    calgae_weight w = {0};
    w.type = CALGAE_TYPE_F32;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = (size_t)cols * sizeof(float);
    w.data = data;
    return w;
}

/* No GGUF magic and a header no checkpoint has: whatever the file is, it is not a model. The
 * header check's reason ("PATH: bad dimensions ...") stays, after the verdict. */
static int not_a_checkpoint(const char *path, char *err, size_t err_len)
{
    if (!err || err_len == 0)
        return -1;
    char why[512];
    size_t n = strlen(path);
    const char *reason = strncmp(err, path, n) == 0 && err[n] == ':' ? err + n + 2 : err;
    snprintf(why, sizeof why, "%s", reason);
    return calgae_fail(err, err_len, "%s: not a GGUF file or llama2.c checkpoint: %s", path, why);
}

int calgae_transformer_load_bin(calgae_transformer *m, const char *path, char *err, size_t err_len)
{
    m->format = CALGAE_FORMAT_BIN;
    if (calgae_map_file(&m->map, path, err, err_len) != 0)
        return -1;
    int32_t h[7];
    if (m->map.size < sizeof h)
        return calgae_fail(err, err_len, "%s: not a GGUF file or llama2.c checkpoint: too short "
                           "for a llama2.c checkpoint header (%zu bytes)", path, m->map.size);
    memcpy(h, m->map.data, sizeof h);
    calgae_config *c = &m->cfg;
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    if (h[5] == INT_MIN)
        return calgae_fail(err, err_len, "%s: not a GGUF file or llama2.c checkpoint: bad "
                           "vocabulary size", path);
    c->vocab_size = abs(h[5]);
    m->tied = h[5] > 0;
    c->ctx = h[6];
    c->eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->head_size = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->n_rot = c->head_size;
    if (calgae_config_check(c, path, err, err_len) != 0)
        return not_a_checkpoint(path, err, err_len);

    /* the limits in calgae_config_check keep these products far below 2^63 */
    const size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, L = (size_t)c->n_layers;
    const size_t kv_dim = dim / (size_t)c->n_heads * (size_t)c->n_kv_heads;
    const size_t vocab = (size_t)c->vocab_size;
    size_t floats = vocab * dim + L * dim + L * dim * dim * 2 + L * kv_dim * dim * 2 + L * dim +
                    L * hid * dim * 3 + dim + (size_t)c->ctx * (size_t)c->head_size +
                    (m->tied ? 0 : vocab * dim);
    size_t want = sizeof h + floats * sizeof(float);
    if (m->map.size != want)
        return calgae_fail(err, err_len,
                           "%s: %s: the header implies %zu bytes, the file has %zu", path,
                           m->map.size < want ? "truncated" : "unexpected trailing data", want,
                           m->map.size);

    m->layers = calloc(L, sizeof *m->layers);
    if (!m->layers)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    const float *p = (const float *)(m->map.data + sizeof h);
    m->tok_embd = f32_weight(p, c->vocab_size, c->dim);
    p += vocab * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].attn_norm = p + l * dim;
    p += L * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].wq = f32_weight(p + l * dim * dim, c->dim, c->dim);
    p += L * dim * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].wk = f32_weight(p + l * kv_dim * dim, (int64_t)kv_dim, c->dim);
    p += L * kv_dim * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].wv = f32_weight(p + l * kv_dim * dim, (int64_t)kv_dim, c->dim);
    p += L * kv_dim * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].wo = f32_weight(p + l * dim * dim, c->dim, c->dim);
    p += L * dim * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].ffn_norm = p + l * dim;
    p += L * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].w_gate = f32_weight(p + l * hid * dim, c->hidden_dim, c->dim);
    p += L * hid * dim;
    for (size_t l = 0; l < L; l++)
        m->layers[l].w_down = f32_weight(p + l * dim * hid, c->dim, c->hidden_dim);
    p += L * dim * hid;
    for (size_t l = 0; l < L; l++)
        m->layers[l].w_up = f32_weight(p + l * hid * dim, c->hidden_dim, c->dim);
    p += L * hid * dim;
    m->out_norm = p;
    p += dim;
    p += (size_t)c->ctx * (size_t)c->head_size; /* freq_cis_real and _imag, half a head each */
    m->output = m->tied ? m->tok_embd : f32_weight(p, c->vocab_size, c->dim);
    m->file_type = CALGAE_TYPE_F32;
    return 0;
}
