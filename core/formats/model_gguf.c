/*
 * model_gguf.c - a llama- or qwen2-architecture model from a GGUF file, with llama.cpp's tensor
 * names (token_embd, blk.N.attn_q / attn_k / attn_v / attn_output / ffn_gate / ffn_up / ffn_down /
 * attn_norm / ffn_norm, output_norm, output, rope_freqs) and hyperparameter keys (ARCH.*, ARCH
 * being general.architecture). For llama the Q and K matrices are in the adjacent-pair RoPE
 * layout llama.cpp's converter permutes them to; qwen2's are left in Hugging Face's rotate-half
 * layout (llama.cpp's LLM_ARCH_QWEN2 uses LLAMA_ROPE_TYPE_NEOX) and have blk.N.attn_{q,k,v}.bias.
 * Llama 3 files carry rope_freqs.weight, the per-pair frequency factors of its RoPE scaling.
 * Every tensor's shape and type is checked against the hyperparameters before use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const calgae_gguf_tensor *need_tensor(const calgae_gguf *g, const char *name,
                                             const char *path, char *err, size_t err_len)
{
    const calgae_gguf_tensor *t = calgae_gguf_find_tensor(g, name);
    if (!t)
        calgae_fail(err, err_len, "%s: tensor %s is missing", path, name);
    return t;
}

/* A matrix of a type the table reads but no plugin multiplies yet (the K-quant and IQ4 types,
 * Q5_0, Q5_1, BF16) is widened to F32 once, at load: slower and larger than a kernel of its own
 * would be, but every value is the one llama.cpp's dequantization gives. The buffer is the
 * model's (m->widened), freed with it. */
static int widen_to_f32(calgae_transformer *m, const calgae_gguf_tensor *t, int64_t rows,
                        int64_t cols, size_t row_bytes, calgae_weight *w, const char *path,
                        char *err, size_t err_len)
{
    if ((uint64_t)rows > SIZE_MAX / sizeof(float) / (uint64_t)cols)
        return calgae_fail(err, err_len, "%s: tensor %s is too large", path, t->name);
    void **list = realloc(m->widened, (m->n_widened + 1) * sizeof *list);
    if (!list)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    m->widened = list;
    uint32_t *from = realloc(m->widened_from, (m->n_widened + 1) * sizeof *from);
    if (!from)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    m->widened_from = from;
    from[m->n_widened] = t->type;
    float *f = malloc((size_t)rows * (size_t)cols * sizeof(float));
    if (!f)
        return calgae_fail(err, err_len, "%s: out of memory widening %s to F32", path, t->name);
    m->widened[m->n_widened++] = f;
    for (int64_t r = 0; r < rows; r++)
        calgae_dequantize_row(t->type, (const char *)t->data + (size_t)r * row_bytes,
                              f + (size_t)r * (size_t)cols, cols);
    w->type = CALGAE_TYPE_F32;
    w->row_bytes = (size_t)cols * sizeof(float);
    w->data = f;
    return 0;
}

static int get_matrix(calgae_transformer *m, const char *name, int64_t rows, int64_t cols,
                      calgae_weight *w, const char *path, char *err, size_t err_len)
{
    const calgae_gguf_tensor *t = need_tensor(&m->gguf, name, path, err, err_len);
    if (!t)
        return -1;
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return calgae_fail(err, err_len,
                           "%s: tensor %s has shape [%lld, %lld] (%u dims), expected [%lld, %lld]",
                           path, name, (long long)t->ne[0], (long long)t->ne[1], t->n_dims,
                           (long long)cols, (long long)rows);
    /* a matrix type is one the plugins multiply (the type table gives it product slots), or
     * one the table can dequantize, widened below */
    const calgae_type_info *ti = calgae_type_traits(t->type);
    size_t row_bytes;
    if (!ti || calgae_type_row_bytes(t->type, cols, &row_bytes) != 0)
        return calgae_fail(err, err_len, "%s: tensor %s has type %s, which is not supported",
                           path, name, calgae_type_name(t->type));
    if ((uintptr_t)t->data % ti->align != 0)
        return calgae_fail(err, err_len, "%s: tensor %s is misaligned", path, name);
    /* ggml's validate_row_data refuses these (llama.cpp runs it with --check-tensors; without,
     * it computes NaN logits): one error here, before a NaN reaches an int conversion */
    const int64_t bad = calgae_type_bad_scale(t->type, t->data, t->nbytes);
    if (bad >= 0)
        return calgae_fail(err, err_len, "%s: tensor %s: block %lld has a NaN or infinite scale",
                           path, name, (long long)bad);
    memset(w, 0, sizeof *w);
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = row_bytes;
    w->data = t->data;
    if (!calgae_type_has_products(t->type))
        return widen_to_f32(m, t, rows, cols, row_bytes, w, path, err, err_len);
    return 0;
}

static const float *get_vector(const calgae_gguf *g, const char *name, int64_t n,
                               const char *path, char *err, size_t err_len)
{
    const calgae_gguf_tensor *t = need_tensor(g, name, path, err, err_len);
    if (!t)
        return NULL;
    if (t->n_dims != 1 || t->ne[0] != n || t->type != CALGAE_TYPE_F32 ||
        (uintptr_t)t->data % 4 != 0) {
        calgae_fail(err, err_len, "%s: tensor %s must be an aligned F32 vector of %lld", path,
                    name, (long long)n);
        return NULL;
    }
    return t->data;
}

/* Missing keys keep the default in *out; present but bad ones are errors. */
static int meta_u32(const calgae_gguf *g, const char *key, int *out, int required,
                    const char *path, char *err, size_t err_len)
{
    uint32_t v;
    int rc = calgae_gguf_get_u32(g, key, &v, path, err, err_len);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return required ? calgae_fail(err, err_len, "%s: metadata %s is missing", path, key) : 0;
    if (v > (uint32_t)INT32_MAX)
        return calgae_fail(err, err_len, "%s: metadata %s = %u is out of range", path, key, v);
    *out = (int)v;
    return 0;
}

static int read_config(calgae_transformer *m, const char *path, char *err, size_t err_len)
{
    const calgae_gguf *g = &m->gguf;
    calgae_gguf_str arch;
    int rc = calgae_gguf_get_str(g, "general.architecture", &arch, path, err, err_len);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return calgae_fail(err, err_len, "%s: metadata general.architecture is missing", path);
    calgae_config *c = &m->cfg;
    if (arch.len == 5 && memcmp(arch.ptr, "llama", 5) == 0)
        c->arch = CALGAE_ARCH_LLAMA;
    else if (arch.len == 5 && memcmp(arch.ptr, "qwen2", 5) == 0)
        c->arch = CALGAE_ARCH_QWEN2;
    else
        return calgae_fail(err, err_len, "%s: architecture '%.*s' is not supported (llama, "
                           "qwen2)", path, (int)(arch.len > 40 ? 40 : arch.len), arch.ptr);
    c->rope_neox = c->arch == CALGAE_ARCH_QWEN2;
    const char *a = calgae_arch_name(c->arch);
    char key[96];
#define KEY(s) (snprintf(key, sizeof key, "%s." s, a), key)
    c->ctx = 2048;
    if (meta_u32(g, KEY("embedding_length"), &c->dim, 1, path, err, err_len) ||
        meta_u32(g, KEY("feed_forward_length"), &c->hidden_dim, 1, path, err, err_len) ||
        meta_u32(g, KEY("block_count"), &c->n_layers, 1, path, err, err_len) ||
        meta_u32(g, KEY("attention.head_count"), &c->n_heads, 1, path, err, err_len) ||
        meta_u32(g, KEY("context_length"), &c->ctx, 0, path, err, err_len))
        return -1;
    c->n_kv_heads = c->n_heads;
    if (meta_u32(g, KEY("attention.head_count_kv"), &c->n_kv_heads, 0, path, err, err_len))
        return -1;
    c->head_size = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->n_rot = c->head_size;
    if (meta_u32(g, KEY("rope.dimension_count"), &c->n_rot, 0, path, err, err_len))
        return -1;
    c->eps = c->arch == CALGAE_ARCH_QWEN2 ? 1e-6f : 1e-5f;
    c->rope_theta = 10000.0f;
    if (calgae_gguf_get_f32(g, KEY("attention.layer_norm_rms_epsilon"), &c->eps, path, err,
                            err_len) < 0 ||
        calgae_gguf_get_f32(g, KEY("rope.freq_base"), &c->rope_theta, path, err, err_len) < 0)
        return -1;
    /* linear/YaRN scaling would need more than frequency factors: refused, not run wrong */
    float scale = 1.0f;
    if (calgae_gguf_get_f32(g, KEY("rope.scaling.factor"), &scale, path, err, err_len) < 0)
        return -1;
    calgae_gguf_str st = {0};
    rc = calgae_gguf_get_str(g, KEY("rope.scaling.type"), &st, path, err, err_len);
    if (rc < 0)
        return -1;
    /* a factor without a type is linear scaling to llama.cpp */
    const int none = rc == 0 && st.len == 4 && memcmp(st.ptr, "none", 4) == 0;
    if (scale != 1.0f && !none)
        return calgae_fail(err, err_len, "%s: RoPE scaling '%.*s' (factor %g) is not supported",
                           path, (int)(st.len > 20 ? 20 : st.len), st.ptr, (double)scale);
#undef KEY
    const calgae_gguf_tensor *emb = need_tensor(g, "token_embd.weight", path, err, err_len);
    if (!emb)
        return -1;
    if (emb->n_dims != 2 || emb->ne[1] <= 0 || emb->ne[1] > INT32_MAX)
        return calgae_fail(err, err_len, "%s: tensor token_embd.weight has a bad shape", path);
    c->vocab_size = (int)emb->ne[1];
    return calgae_config_check(c, path, err, err_len);
}

static int load_layer(calgae_transformer *m, int l, calgae_layer *L, const char *path, char *err,
                      size_t err_len)
{
    const calgae_gguf *g = &m->gguf;
    const calgae_config *c = &m->cfg;
    const int64_t kv_dim = (int64_t)c->head_size * c->n_kv_heads;
    char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s ".weight", l), name)
#define BIAS(s) (snprintf(name, sizeof name, "blk.%d." s ".bias", l), name)
    if (!(L->attn_norm = get_vector(g, NAME("attn_norm"), c->dim, path, err, err_len)) ||
        !(L->ffn_norm = get_vector(g, NAME("ffn_norm"), c->dim, path, err, err_len)))
        return -1;
    if (get_matrix(m, NAME("attn_q"), c->dim, c->dim, &L->wq, path, err, err_len) ||
        get_matrix(m, NAME("attn_k"), kv_dim, c->dim, &L->wk, path, err, err_len) ||
        get_matrix(m, NAME("attn_v"), kv_dim, c->dim, &L->wv, path, err, err_len) ||
        get_matrix(m, NAME("attn_output"), c->dim, c->dim, &L->wo, path, err, err_len) ||
        get_matrix(m, NAME("ffn_gate"), c->hidden_dim, c->dim, &L->w_gate, path, err, err_len) ||
        get_matrix(m, NAME("ffn_down"), c->dim, c->hidden_dim, &L->w_down, path, err, err_len) ||
        get_matrix(m, NAME("ffn_up"), c->hidden_dim, c->dim, &L->w_up, path, err, err_len))
        return -1;
    L->bq = L->bk = L->bv = NULL;
    if (c->arch == CALGAE_ARCH_QWEN2 &&
        (!(L->bq = get_vector(g, BIAS("attn_q"), c->dim, path, err, err_len)) ||
         !(L->bk = get_vector(g, BIAS("attn_k"), kv_dim, path, err, err_len)) ||
         !(L->bv = get_vector(g, BIAS("attn_v"), kv_dim, path, err, err_len))))
        return -1;
#undef BIAS
#undef NAME
    return 0;
}

int calgae_transformer_load_gguf(calgae_transformer *m, const char *path, char *err, size_t err_len)
{
    m->format = CALGAE_FORMAT_GGUF;
    if (calgae_gguf_open(&m->gguf, path, err, err_len) != 0)
        return -1;
    if (read_config(m, path, err, err_len) != 0)
        return -1;
    const calgae_config *c = &m->cfg;
    if (get_matrix(m, "token_embd.weight", c->vocab_size, c->dim, &m->tok_embd, path,
                   err, err_len) != 0)
        return -1;
    if (!(m->out_norm = get_vector(&m->gguf, "output_norm.weight", c->dim, path, err, err_len)))
        return -1;
    m->tied = calgae_gguf_find_tensor(&m->gguf, "output.weight") == NULL;
    if (m->tied)
        m->output = m->tok_embd;
    else if (get_matrix(m, "output.weight", c->vocab_size, c->dim, &m->output, path, err,
                        err_len) != 0)
        return -1;
    if (calgae_gguf_find_tensor(&m->gguf, "rope_freqs.weight") &&
        !(m->rope_freqs = get_vector(&m->gguf, "rope_freqs.weight", c->n_rot / 2, path, err,
                                     err_len)))
        return -1;
    for (int i = 0; m->rope_freqs && i < c->n_rot / 2; i++)
        if (!(m->rope_freqs[i] > 0.0f && m->rope_freqs[i] < 1e30f))
            return calgae_fail(err, err_len, "%s: rope_freqs.weight[%d] = %g is not a positive "
                               "factor", path, i, (double)m->rope_freqs[i]);
    /* The layer array is sized by block_count, a header value: bound it by the file first. Each
     * layer has 9 tensors of distinct names, so fewer tensors than that means one is missing,
     * and the same checks below, on a scratch layer, name the first. */
    if ((uint64_t)c->n_layers * 9 > m->gguf.n_tensors) {
        calgae_layer scratch;
        for (int l = 0; l < c->n_layers; l++)
            if (load_layer(m, l, &scratch, path, err, err_len) != 0)
                return -1;
        return calgae_fail(err, err_len, "%s: %d layers need %d tensors, the file has %llu", path,
                           c->n_layers, 9 * c->n_layers, (unsigned long long)m->gguf.n_tensors);
    }
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    for (int l = 0; l < c->n_layers; l++)
        if (load_layer(m, l, &m->layers[l], path, err, err_len) != 0)
            return -1;
    /* the stored type, also where the matrix was widened to F32 */
    const calgae_gguf_tensor *q0 = calgae_gguf_find_tensor(&m->gguf, "blk.0.attn_q.weight");
    m->file_type = q0 ? q0->type : m->layers[0].wq.type;
    if (calgae_gguf_find_kv(&m->gguf, "tokenizer.ggml.tokens")) {
        if (calgae_tokenizer_load_gguf(&m->tokenizer, &m->gguf, path, err, err_len) != 0)
            return -1;
        m->has_tokenizer = 1;
        if (m->tokenizer.n_vocab > c->vocab_size)
            return calgae_fail(err, err_len, "%s: vocabulary has %d tokens but the model only %d",
                               path, m->tokenizer.n_vocab, c->vocab_size);
    }
    return 0;
}
