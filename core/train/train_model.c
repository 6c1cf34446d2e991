/* train_model.c - parameter layout, initialisation and conversion for train.h. */
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"
#include "util.h"

/* The parameters in one array, in this order: embedding, per layer (attn_norm, wq, wk, wv, wo,
 * ffn_norm, w_gate, w_down, w_up), out_norm, classifier (absent when tied). Returns the count;
 * fills v when base is not NULL. */
static size_t layout(const calgae_train_shape *s, float *base, calgae_train_view *v, uint8_t *decay)
{
    const size_t D = (size_t)s->dim, H = (size_t)s->hidden, V = (size_t)s->vocab;
    const size_t KV = D / (size_t)s->heads * (size_t)s->kv_heads;
    if (!base) /* the count alone */
        return V * D * (s->tied ? 1 : 2) + D +
               (size_t)s->layers * (2 * D + 2 * D * D + 2 * KV * D + 3 * H * D);
    size_t off = 0;
#define TAKE(ptr, count, is_matrix)                                                              \
    do {                                                                                         \
        (ptr) = base + off;                                                                      \
        if (decay)                                                                               \
            memset(decay + off, (is_matrix), (count));                                           \
        off += (count);                                                                          \
    } while (0)
    TAKE(v->embd, V * D, 1);
    for (int l = 0; l < s->layers; l++) {
        calgae_train_layer *L = &v->layer[l];
        TAKE(L->attn_norm, D, 0);
        TAKE(L->wq, D * D, 1);
        TAKE(L->wk, KV * D, 1);
        TAKE(L->wv, KV * D, 1);
        TAKE(L->wo, D * D, 1);
        TAKE(L->ffn_norm, D, 0);
        TAKE(L->w_gate, H * D, 1);
        TAKE(L->w_down, D * H, 1);
        TAKE(L->w_up, H * D, 1);
    }
    TAKE(v->out_norm, D, 0);
    if (s->tied)
        v->cls = v->embd;
    else
        TAKE(v->cls, V * D, 1);
#undef TAKE
    return off;
}

/* Per layer: x, xn1, q, ao, xmid, xn2 (rows of D), k, v (KV), gate, up, hb (H), rms1, rms2 (t), att
 * (heads x t x t); then final x, xnf, logits, rmsf. */
static size_t acts_size(const calgae_train_shape *s, size_t T)
{
    const size_t D = (size_t)s->dim, H = (size_t)s->hidden, V = (size_t)s->vocab;
    const size_t KV = D / (size_t)s->heads * (size_t)s->kv_heads;
    const size_t per_layer = T * (D * 6 + KV * 2 + H * 3 + 2) + (size_t)s->heads * T * T;
    return per_layer * (size_t)s->layers + T * (2 * D + V + 1);
}

static int shape_check(const calgae_train_shape *s, char *err, size_t err_len)
{
    if (s->dim <= 0 || s->hidden <= 0 || s->layers <= 0 || s->heads <= 0 || s->kv_heads <= 0 ||
        s->vocab <= 0 || s->dim > 65536 || s->hidden > 262144 || s->layers > 1024 ||
        s->vocab > 1 << 20)
        return calgae_fail(err, err_len, "student shape: every size must be positive (and sane)");
    if (s->dim % s->heads || s->heads % s->kv_heads)
        return calgae_fail(err, err_len, "student shape: dim %d must divide into heads %d, heads "
                           "into kv_heads %d", s->dim, s->heads, s->kv_heads);
    if ((s->dim / s->heads) % 2)
        return calgae_fail(err, err_len, "student shape: head size %d must be even (RoPE pairs)",
                           s->dim / s->heads);
    return 0;
}

int calgae_train_parse_shape(const char *str, calgae_train_shape *out, char *err, size_t err_len)
{
    static const char *const keys[] = {"dim", "layers", "heads", "kv_heads", "ffn"};
    int vals[5] = {0}, seen[5] = {0};
    const char *p = str;
    while (*p) {
        const char *eq = strchr(p, '=');
        if (!eq)
            return calgae_fail(err, err_len, "--student-shape: '%s' is not key=value,...", p);
        int k = -1;
        for (int i = 0; i < 5; i++)
            if (strlen(keys[i]) == (size_t)(eq - p) && !strncmp(p, keys[i], (size_t)(eq - p)))
                k = i;
        if (k < 0)
            return calgae_fail(err, err_len, "--student-shape: unknown key '%.*s' (dim, layers, "
                               "heads, kv_heads, ffn)", (int)(eq - p), p);
        if (seen[k]++)
            return calgae_fail(err, err_len, "--student-shape: %s given twice", keys[k]);
        char *end;
        long v = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || (*end && *end != ',') || v <= 0 || v > 1 << 20)
            return calgae_fail(err, err_len, "--student-shape: %s needs a positive integer",
                               keys[k]);
        vals[k] = (int)v;
        p = *end ? end + 1 : end;
    }
    for (int i = 0; i < 5; i++)
        if (!seen[i])
            return calgae_fail(err, err_len, "--student-shape: %s missing (need dim, layers, "
                               "heads, kv_heads, ffn)", keys[i]);
    out->dim = vals[0];
    out->layers = vals[1];
    out->heads = vals[2];
    out->kv_heads = vals[3];
    out->hidden = vals[4];
    return 0;
}

int calgae_train_create(calgae_train_model *tm, const calgae_train_shape *s, int max_t, char *err,
                        size_t err_len)
{
    memset(tm, 0, sizeof *tm);
    if (shape_check(s, err, err_len) != 0)
        return -1;
    if (max_t <= 0 || max_t > 4096)
        return calgae_fail(err, err_len, "training window of %d tokens (1..4096)", max_t);
    tm->shape = *s;
    tm->max_t = max_t;
    tm->n_params = layout(s, NULL, NULL, NULL);
    tm->n_acts = acts_size(s, (size_t)max_t);
    tm->params = calloc(tm->n_params, sizeof(float));
    tm->grads = calloc(tm->n_params, sizeof(float));
    tm->acts = calloc(tm->n_acts, sizeof(float));
    tm->decay = malloc(tm->n_params);
    const size_t T = (size_t)max_t, D = (size_t)s->dim, H = (size_t)s->hidden;
    const size_t KV = D / (size_t)s->heads * (size_t)s->kv_heads;
    tm->n_scratch = T * (4 * D + 2 * KV + 3 * H) + (size_t)s->heads * T;
    tm->scratch = calloc(tm->n_scratch, sizeof(float));
    tm->p.layer = calloc((size_t)s->layers, sizeof *tm->p.layer);
    tm->g.layer = calloc((size_t)s->layers, sizeof *tm->g.layer);
    if (!tm->params || !tm->grads || !tm->acts || !tm->decay || !tm->scratch || !tm->p.layer || !tm->g.layer) {
        calgae_train_free(tm);
        return calgae_fail(err, err_len, "out of memory for a model of %zu parameters",
                           tm->n_params);
    }
    layout(s, tm->params, &tm->p, tm->decay);
    layout(s, tm->grads, &tm->g, NULL);
    return 0;
}

void calgae_train_free(calgae_train_model *tm)
{
    free(tm->params);
    free(tm->grads);
    free(tm->adam_m);
    free(tm->adam_v);
    free(tm->acts);
    free(tm->decay);
    free(tm->scratch);
    free(tm->p.layer);
    free(tm->g.layer);
    memset(tm, 0, sizeof *tm);
}

/* splitmix64 and Box-Muller: a fixed, portable stream for a seed */
static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float normal(uint64_t *st)
{
    const double u1 = ((double)(next_u64(st) >> 11) + 1.0) / 9007199254740993.0;
    const double u2 = (double)(next_u64(st) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void calgae_train_init_random(calgae_train_model *tm, uint64_t seed)
{
    uint64_t st = seed;
    const float proj = 0.02f / sqrtf(2.0f * (float)tm->shape.layers);
    for (size_t i = 0; i < tm->n_params; i++)
        tm->params[i] = tm->decay[i] ? 0.02f * normal(&st) : 1.0f;
    for (int l = 0; l < tm->shape.layers; l++) {
        const calgae_train_layer *L = &tm->p.layer[l];
        const size_t D = (size_t)tm->shape.dim, H = (size_t)tm->shape.hidden;
        for (size_t i = 0; i < D * D; i++)
            L->wo[i] *= proj / 0.02f;
        for (size_t i = 0; i < D * H; i++)
            L->w_down[i] *= proj / 0.02f;
    }
}

static int copy_weight(float *dst, const calgae_weight *w, int64_t rows, int64_t cols)
{
    if (w->rows != rows || w->cols != cols)
        return -1;
    for (int64_t r = 0; r < rows; r++)
        if (calgae_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes,
                                  dst + (size_t)r * (size_t)cols, cols) != 0)
            return -1;
    return 0;
}

int calgae_train_from_transformer(calgae_train_model *tm, const calgae_transformer *m, int max_t,
                                  char *err, size_t err_len)
{
    const calgae_config *c = &m->cfg;
    if (c->n_rot != c->head_size)
        return calgae_fail(err, err_len, "%s: partial RoPE (%d of %d) is not trainable here",
                           m->path, c->n_rot, c->head_size);
    if (c->arch != CALGAE_ARCH_LLAMA || m->rope_freqs) /* no biases, no NeoX or scaled RoPE */
        return calgae_fail(err, err_len, "%s: only llama models without RoPE scaling are "
                           "trainable here (this one is %s%s)", m->path,
                           calgae_arch_name(c->arch), m->rope_freqs ? " with rope_freqs" : "");
    calgae_train_shape s = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                            c->vocab_size, m->tied, c->eps, c->rope_theta};
    if (calgae_train_create(tm, &s, max_t, err, err_len) != 0)
        return -1;
    const int64_t D = c->dim, H = c->hidden_dim, KV = (int64_t)c->head_size * c->n_kv_heads;
    int bad = copy_weight(tm->p.embd, &m->tok_embd, c->vocab_size, D);
    for (int l = 0; l < c->n_layers && !bad; l++) {
        const calgae_layer *src = &m->layers[l];
        calgae_train_layer *L = &tm->p.layer[l];
        memcpy(L->attn_norm, src->attn_norm, (size_t)D * sizeof(float));
        memcpy(L->ffn_norm, src->ffn_norm, (size_t)D * sizeof(float));
        bad = copy_weight(L->wq, &src->wq, D, D) || copy_weight(L->wk, &src->wk, KV, D) ||
              copy_weight(L->wv, &src->wv, KV, D) || copy_weight(L->wo, &src->wo, D, D) ||
              copy_weight(L->w_gate, &src->w_gate, H, D) ||
              copy_weight(L->w_down, &src->w_down, D, H) || copy_weight(L->w_up, &src->w_up, H, D);
    }
    if (!bad) {
        memcpy(tm->p.out_norm, m->out_norm, (size_t)D * sizeof(float));
        if (!m->tied)
            bad = copy_weight(tm->p.cls, &m->output, c->vocab_size, D);
    }
    if (bad) {
        calgae_train_free(tm);
        return calgae_fail(err, err_len, "%s: a weight has an unexpected shape or type", m->path);
    }
    return 0;
}

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

int calgae_train_as_transformer(const calgae_train_model *tm, const char *name,
                                calgae_transformer *out, char *err, size_t err_len)
{
    const calgae_train_shape *s = &tm->shape;
    memset(out, 0, sizeof *out);
    out->layers = calloc((size_t)s->layers, sizeof *out->layers);
    if (!out->layers)
        return calgae_fail(err, err_len, "out of memory");
    snprintf(out->path, sizeof out->path, "%s", name);
    calgae_config *c = &out->cfg;
    c->dim = s->dim;
    c->hidden_dim = s->hidden;
    c->n_layers = s->layers;
    c->n_heads = s->heads;
    c->n_kv_heads = s->kv_heads;
    c->vocab_size = s->vocab;
    c->ctx = tm->max_t;
    c->head_size = s->dim / s->heads;
    c->n_rot = c->head_size;
    c->eps = s->eps;
    c->rope_theta = s->rope_theta;
    const int64_t D = s->dim, H = s->hidden, KV = (int64_t)c->head_size * s->kv_heads;
    out->tok_embd = f32_weight(tm->p.embd, s->vocab, D);
    out->output = f32_weight(tm->p.cls, s->vocab, D);
    out->out_norm = tm->p.out_norm;
    out->tied = s->tied;
    out->format = CALGAE_FORMAT_GGUF;
    out->file_type = CALGAE_TYPE_F32;
    for (int l = 0; l < s->layers; l++) {
        const calgae_train_layer *L = &tm->p.layer[l];
        calgae_layer *d = &out->layers[l];
        d->attn_norm = L->attn_norm;
        d->ffn_norm = L->ffn_norm;
        d->wq = f32_weight(L->wq, D, D);
        d->wk = f32_weight(L->wk, KV, D);
        d->wv = f32_weight(L->wv, KV, D);
        d->wo = f32_weight(L->wo, D, D);
        d->w_gate = f32_weight(L->w_gate, H, D);
        d->w_down = f32_weight(L->w_down, D, H);
        d->w_up = f32_weight(L->w_up, H, D);
    }
    return 0;
}

void calgae_train_view_free(calgae_transformer *m)
{
    free(m->layers);
    m->layers = NULL;
}
