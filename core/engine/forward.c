/*
 * forward.c - the transformer forward pass (see forward.h). Follows llama2.c's run.c step by
 * step: RMSNorm, Q/K/V (plus their biases for qwen2), RoPE (adjacent pairs for llama, rotate-half
 * "NeoX" pairs for qwen2, as llama.cpp's LLAMA_ROPE_TYPE_NORM / _NEOX; each pair's frequency
 * divided by the model's rope_freqs factor where it has one, as ggml_rope_ext does for Llama 3),
 * causal attention over the KV cache, output projection, residual, RMSNorm, SwiGLU FFN,
 * residual; final RMSNorm and classifier. Every
 * matrix product goes through the plugins, split into row ranges on the thread pool;
 * attention is split over (token, head) pairs. Nothing is allocated per token.
 *
 * A batch may mix sequences (llama.cpp's llama_batch with seq_id): each token carries its own
 * sequence and position, the products run over the whole batch at once, and only attention
 * looks at the token's own sequence's cache.
 */
#include "forward.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kblocks.h"
#include "types.h"

#define ROW_GRAIN 32
/* Below this many multiply-adds a fork/join costs more than it saves: run on the caller. */
#define MIN_PARALLEL_WORK (1 << 18)

static int64_t grain_for(int64_t items, int64_t work_per_item, int64_t grain)
{
    return items * work_per_item < MIN_PARALLEL_WORK ? items : grain;
}

int calgae_state_init(calgae_state *s, const calgae_transformer *m, const calgae_backends *be,
                      calgae_pool *pool, int ctx, int max_batch, char *err, size_t err_len)
{
    return calgae_state_init_seqs(s, m, be, pool, ctx, max_batch, 1, err, err_len);
}

/* Whether any matrix is stored as BF16, whether it runs natively (ABI 1.4's slot) or was widened
 * to F32 at load: both take BF16-rounded activations, as ggml's vec_dot_type for BF16 is BF16. */
static int has_bf16_matrix(const calgae_transformer *m)
{
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const calgae_layer *L = &m->layers[l];
        const calgae_weight *w[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_down,
                                     &L->w_up};
        for (int i = 0; i < 7; i++)
            if (calgae_weight_stored_type(m, w[i]) == CALGAE_TYPE_BF16)
                return 1;
    }
    return calgae_weight_stored_type(m, &m->output) == CALGAE_TYPE_BF16;
}


int calgae_state_init_seqs(calgae_state *s, const calgae_transformer *m,
                           const calgae_backends *be, calgae_pool *pool, int ctx, int max_batch,
                           int n_seq, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    const calgae_config *c = &m->cfg;
    if (ctx < 1 || max_batch < 1 || n_seq < 1)
        return calgae_fail(err, err_len, "context %d, batch %d and sequences %d must be positive",
                           ctx, max_batch, n_seq);
    s->model = m;
    s->be = be;
    s->pool = pool;
    s->ctx = ctx;
    s->max_batch = max_batch;
    s->n_seq = n_seq;
    const size_t B = (size_t)max_batch, dim = (size_t)c->dim, hid = (size_t)c->hidden_dim;
    const size_t kv_dim = (size_t)c->head_size * (size_t)c->n_kv_heads;
    const size_t widest = dim > hid ? dim : hid;
    const size_t kv = (size_t)n_seq * (size_t)c->n_layers * (size_t)ctx * kv_dim;
    s->x = calloc(B * dim, sizeof(float));
    s->xb = calloc(B * dim, sizeof(float));
    s->xb2 = calloc(B * dim, sizeof(float));
    s->q = calloc(B * dim, sizeof(float));
    s->hb = calloc(B * hid, sizeof(float));
    s->hb2 = calloc(B * hid, sizeof(float));
    s->att = calloc((size_t)calgae_pool_threads(pool) * (size_t)ctx, sizeof(float));
    s->cs = calloc(B * (size_t)c->n_rot, sizeof(float));
    /* the activation blocks: one buffer for whichever of Q8_0 and Q8_K needs more */
    size_t xq_row = 0;
    const uint32_t act_types[2] = {CALGAE_TYPE_Q8_0, CALGAE_TYPE_Q8_K};
    for (int i = 0; i < 2; i++) {
        const calgae_type_info *q8 = calgae_type_traits(act_types[i]);
        const size_t blocks = (widest + (size_t)q8->blck_size - 1) / (size_t)q8->blck_size;
        xq_row = blocks * q8->type_size > xq_row ? blocks * q8->type_size : xq_row;
    }
    s->xq = calloc(B, xq_row);
    /* matrices stored as BF16 take their activations rounded to BF16 (activation_form) */
    const int bf16 = has_bf16_matrix(m);
    s->xr = bf16 ? calloc(B * widest, sizeof(float)) : NULL;
    s->key_cache = calloc(kv, sizeof(float));
    s->value_cache = calloc(kv, sizeof(float));
    s->kbuf = calloc(B * kv_dim, sizeof(float));
    s->vbuf = calloc(B * kv_dim, sizeof(float));
    s->tok_seq = calloc(B, sizeof(int));
    s->tok_pos = calloc(B, sizeof(int));
    s->logits = calloc(B * (size_t)c->vocab_size, sizeof(float));
    if (!s->x || !s->xb || !s->xb2 || !s->q || !s->hb || !s->hb2 || !s->att || !s->cs ||
        !s->xq || (bf16 && !s->xr) || !s->key_cache || !s->value_cache || !s->kbuf ||
        !s->vbuf || !s->tok_seq || !s->tok_pos || !s->logits) {
        calgae_state_free(s);
        return calgae_fail(err, err_len, "out of memory for a context of %d (KV cache %zu MiB)",
                           ctx, 2 * kv * sizeof(float) >> 20);
    }
    return 0;
}

void calgae_state_free(calgae_state *s)
{
    free(s->x);
    free(s->xb);
    free(s->xb2);
    free(s->q);
    free(s->hb);
    free(s->hb2);
    free(s->att);
    free(s->cs);
    free(s->xq);
    free(s->xr);
    free(s->key_cache);
    free(s->value_cache);
    free(s->kbuf);
    free(s->vbuf);
    free(s->tok_seq);
    free(s->tok_pos);
    free(s->logits);
    memset(s, 0, sizeof *s);
}

/* ---- matrix products on the pool ---- */

#define MAX_GROUP 3

/* Several weights that read the same input (Q, K, V or gate, up) share one fork/join: their
 * rows are laid end to end and the pool splits the combined range. */
struct product_job {
    const calgae_backends *be;
    int n_w;
    const calgae_weight *w[MAX_GROUP];
    float *y[MAX_GROUP];
    int64_t y_stride[MAX_GROUP];
    int64_t start[MAX_GROUP + 1];
    const void *x;
    size_t x_stride;
    int64_t n_tok;
    atomic_int failed;
};

static void product_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    struct product_job *j = ctx;
    for (int i = 0; i < j->n_w; i++) {
        int64_t lo = begin > j->start[i] ? begin : j->start[i];
        int64_t hi = end < j->start[i + 1] ? end : j->start[i + 1];
        if (lo >= hi)
            continue;
        int rc = j->n_tok == 1
                     ? calgae_backends_matvec(j->be, j->w[i], j->x, j->y[i], lo - j->start[i],
                                              hi - j->start[i])
                     : calgae_backends_matmul(j->be, j->w[i], j->x, j->x_stride, j->n_tok,
                                              j->y[i], j->y_stride[i], lo - j->start[i],
                                              hi - j->start[i]);
        if (rc != 0)
            atomic_store(&j->failed, 1);
    }
}

/* Whether w's products take floats (form 0), Q8_0 activations (form 1), Q8_K ones (form 2, the
 * K types), as the type table says, or floats rounded to BF16 (form 3: a matrix stored as BF16,
 * native or widened to F32 at load, whose activations ggml rounds to BF16, its vec_dot_type);
 * -1 for a type whose activations no slot here makes. */
static int activation_form(const calgae_state *s, const calgae_weight *w)
{
    const calgae_type_info *t = calgae_type_traits(w->type);
    if (!t)
        return -1;
    if (s->xr && calgae_weight_stored_type(s->model, w) == CALGAE_TYPE_BF16)
        return 3;
    switch (t->vec_dot_type) {
    case CALGAE_TYPE_F32: return 0;
    case CALGAE_TYPE_Q8_0: return 1;
    case CALGAE_TYPE_Q8_K: return 2;
    default: return -1;
    }
}

/* x rounded to BF16 and back, as ggml_compute_fp32_to_bf16 rounds (the quantizer's own code) */
static void round_bf16(const float *x, float *y, int64_t n)
{
    calgae_bf16 chunk[256];
    for (int64_t i = 0; i < n; i += 256) {
        const int64_t k = n - i < 256 ? n - i : 256;
        calgae_quantize_row_bf16(x + i, chunk, k);
        calgae_dequantize_row_bf16(chunk, y + i, k);
    }
}

/* y_i[t][r] = W_i[r] . x[t] for each weight of the group; x is n_tok rows of cols floats. */
static int products(calgae_state *s, const float *x, int n_tok, int64_t cols, int n_w,
                    const calgae_weight *const *w, float *const *y, const int64_t *y_stride)
{
    /* float-input and block-input weights need different activation forms: one job each */
    for (int i = 0; i < n_w; i++)
        if (activation_form(s, w[i]) < 0)
            return -1;
    for (int form = 0; form < 4; form++) {
        struct product_job j = {.be = s->be, .n_tok = n_tok};
        for (int i = 0; i < n_w; i++) {
            if (activation_form(s, w[i]) != form)
                continue;
            j.w[j.n_w] = w[i];
            j.y[j.n_w] = y[i];
            j.y_stride[j.n_w] = y_stride[i];
            j.start[j.n_w + 1] = j.start[j.n_w] + w[i]->rows;
            j.n_w++;
        }
        if (j.n_w == 0)
            continue;
        if (form == 3) {
            round_bf16(x, s->xr, (int64_t)n_tok * cols);
            j.x = s->xr;
            j.x_stride = (size_t)cols * sizeof(float);
        } else if (form > 0) {
            const uint32_t act = form == 1 ? CALGAE_TYPE_Q8_0 : CALGAE_TYPE_Q8_K;
            void (*quantize)(const float *, void *, int64_t) =
                form == 1 ? s->be->quantize_q8_0 : s->be->quantize_q8_k;
            size_t row;
            if (calgae_type_row_bytes(act, cols, &row) != 0)
                return -1;
            for (int t = 0; t < n_tok; t++)
                quantize(x + (size_t)t * (size_t)cols, (char *)s->xq + t * row, cols);
            j.x = s->xq;
            j.x_stride = row;
        } else {
            j.x = x;
            j.x_stride = (size_t)cols * sizeof(float);
        }
        atomic_init(&j.failed, 0);
        calgae_pool_for(s->pool, j.start[j.n_w], grain_for(j.start[j.n_w], cols * n_tok, ROW_GRAIN),
                        product_task, &j);
        if (atomic_load(&j.failed))
            return -1;
    }
    return 0;
}

static int product1(calgae_state *s, const float *x, int n_tok, const calgae_weight *w,
                    float *y, int64_t y_stride)
{
    return products(s, x, n_tok, w->cols, 1, &w, &y, &y_stride);
}

/* ---- attention ---- */

struct attn_job {
    calgae_state *s;
    int layer;
};

/* Where sequence seq's rows of layer l start in the key (or value) cache. */
static size_t cache_offset(const calgae_state *s, int seq, int l)
{
    const calgae_config *c = &s->model->cfg;
    const size_t kv_dim = (size_t)c->head_size * (size_t)c->n_kv_heads;
    return ((size_t)seq * (size_t)c->n_layers + (size_t)l) * (size_t)s->ctx * kv_dim;
}

static void attn_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const struct attn_job *j = ctx;
    calgae_state *s = j->s;
    const calgae_config *c = &s->model->cfg;
    const int hs = c->head_size, dim = c->dim;
    const int kv_dim = hs * c->n_kv_heads, group = c->n_heads / c->n_kv_heads;
    const float scale = 1.0f / sqrtf((float)hs);
    float *att = s->att + (size_t)thread * (size_t)s->ctx;
    for (int64_t item = begin; item < end; item++) {
        const int t = (int)(item / c->n_heads), h = (int)(item % c->n_heads);
        const int p = s->tok_pos[t]; /* causal: this token sees its sequence's 0..p */
        const float *q = s->q + (size_t)t * dim + (size_t)h * hs;
        const size_t head_off = cache_offset(s, s->tok_seq[t], j->layer) + (size_t)(h / group) * hs;
        for (int k = 0; k <= p; k++)
            att[k] = s->be->dot_f32(q, s->key_cache + head_off + (size_t)k * kv_dim, hs) * scale;
        s->be->softmax(att, p + 1);
        float *out = s->xb + (size_t)t * dim + (size_t)h * hs;
        memset(out, 0, (size_t)hs * sizeof(float));
        for (int k = 0; k <= p; k++)
            s->be->axpy_f32(out, att[k], s->value_cache + head_off + (size_t)k * kv_dim, hs);
    }
}

/* ---- the pass ---- */

static void rope_table(const calgae_transformer *m, int pos, float *cs)
{
    const calgae_config *c = &m->cfg;
    /* computed as llama2.c does, in float, so greedy text matches it token for token */
    for (int i = 0; i < c->n_rot / 2; i++) {
        float freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)c->n_rot);
        if (m->rope_freqs)
            freq /= m->rope_freqs[i];
        const float val = (float)pos * freq;
        cs[2 * i] = cosf(val);
        cs[2 * i + 1] = sinf(val);
    }
}

/* Rotate-half RoPE over n_heads heads of hs values: pair i of a head is (i, i + n_rot/2), the
 * layout Hugging Face's and llama.cpp's qwen2 Q/K rows have. The plugins' RoPE slot is the
 * adjacent-pair one; this is the engine's own, scalar: it is O(dim) per token. */
static void rope_neox(float *x, int n_heads, int hs, int n_rot, const float *cs)
{
    const int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * hs;
        for (int i = 0; i < half; i++) {
            const float c = cs[2 * i], s = cs[2 * i + 1], x0 = v[i], x1 = v[i + half];
            v[i] = x0 * c - x1 * s;
            v[i + half] = x0 * s + x1 * c;
        }
    }
}

static void add_bias(float *y, const float *b, int n_tok, int64_t n)
{
    for (int t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < n; i++)
            y[(size_t)t * (size_t)n + (size_t)i] += b[i];
}

/* Whether the batch is one run of consecutive positions of one sequence, whose keys and values
 * the products can write straight into the cache. */
static int contiguous(const calgae_state *s, int n)
{
    for (int t = 1; t < n; t++)
        if (s->tok_seq[t] != s->tok_seq[0] || s->tok_pos[t] != s->tok_pos[0] + t)
            return 0;
    return 1;
}

static int layer_forward(calgae_state *s, int l, int n)
{
    const calgae_transformer *m = s->model;
    const calgae_config *c = &m->cfg;
    const calgae_layer *L = &m->layers[l];
    const calgae_backends *be = s->be;
    const int dim = c->dim, hid = c->hidden_dim, hs = c->head_size;
    const int64_t kv_dim = (int64_t)hs * c->n_kv_heads;
    const int direct = contiguous(s, n);
    const size_t first_row = cache_offset(s, s->tok_seq[0], l) + (size_t)s->tok_pos[0] * kv_dim;
    float *kc = direct ? s->key_cache + first_row : s->kbuf;
    float *vc = direct ? s->value_cache + first_row : s->vbuf;

    for (int t = 0; t < n; t++)
        be->rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->attn_norm, dim, c->eps);
    if (s->observe)
        s->observe(s->observe_user, l, CALGAE_SITE_ATTN_IN, s->xb, n, dim);
    /* K and V go straight into the cache rows of their positions */
    const calgae_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[3] = {s->q, kc, vc};
    const int64_t qkv_stride[3] = {dim, kv_dim, kv_dim};
    if (products(s, s->xb, n, dim, 3, qkv, qkv_out, qkv_stride) != 0)
        return -1;
    if (L->bq) { /* qwen2: each of Q, K, V has a bias, added after the product as nn.Linear */
        add_bias(s->q, L->bq, n, dim);
        add_bias(kc, L->bk, n, kv_dim);
        add_bias(vc, L->bv, n, kv_dim);
    }
    for (int t = 0; t < n; t++) {
        const float *cs = s->cs + (size_t)t * c->n_rot;
        if (c->rope_neox) {
            rope_neox(s->q + (size_t)t * dim, c->n_heads, hs, c->n_rot, cs);
            rope_neox(kc + (size_t)t * kv_dim, c->n_kv_heads, hs, c->n_rot, cs);
        } else {
            be->rope(s->q + (size_t)t * dim, c->n_heads, hs, c->n_rot, cs);
            be->rope(kc + (size_t)t * kv_dim, c->n_kv_heads, hs, c->n_rot, cs);
        }
    }
    if (!direct) /* scatter the batch's keys and values to their sequences' cache rows */
        for (int t = 0; t < n; t++) {
            const size_t row = cache_offset(s, s->tok_seq[t], l) + (size_t)s->tok_pos[t] * kv_dim;
            memcpy(s->key_cache + row, kc + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
            memcpy(s->value_cache + row, vc + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
        }
    int longest = 0;
    for (int t = 0; t < n; t++)
        longest = s->tok_pos[t] + 1 > longest ? s->tok_pos[t] + 1 : longest;
    struct attn_job aj = {s, l};
    const int64_t pairs = (int64_t)n * c->n_heads;
    calgae_pool_for(s->pool, pairs, grain_for(pairs, (int64_t)longest * hs * 2, 1), attn_task, &aj);
    if (s->observe)
        s->observe(s->observe_user, l, CALGAE_SITE_ATTN_OUT, s->xb, n, dim);
    if (product1(s, s->xb, n, &L->wo, s->xb2, dim) != 0)
        return -1;
    for (size_t i = 0; i < (size_t)n * dim; i++)
        s->x[i] += s->xb2[i];

    for (int t = 0; t < n; t++)
        be->rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->ffn_norm, dim, c->eps);
    if (s->observe)
        s->observe(s->observe_user, l, CALGAE_SITE_FFN_IN, s->xb, n, dim);
    const calgae_weight *gu[2] = {&L->w_gate, &L->w_up};
    float *gu_out[2] = {s->hb, s->hb2};
    const int64_t gu_stride[2] = {hid, hid};
    if (products(s, s->xb, n, dim, 2, gu, gu_out, gu_stride) != 0)
        return -1;
    for (int t = 0; t < n; t++)
        be->swiglu(s->hb + (size_t)t * hid, s->hb2 + (size_t)t * hid, hid);
    if (s->observe)
        s->observe(s->observe_user, l, CALGAE_SITE_FFN_MID, s->hb, n, hid);
    if (product1(s, s->hb, n, &L->w_down, s->xb, dim) != 0)
        return -1;
    for (size_t i = 0; i < (size_t)n * dim; i++)
        s->x[i] += s->xb[i];
    return 0;
}

/* The pass over tokens whose sequences and positions are already in s->tok_seq/tok_pos.
 * Logits for the tokens want marks; with want NULL, for every token, or the last alone. */
static int forward_batch(calgae_state *s, const int32_t *tokens, int n, const unsigned char *want,
                         int only_last, char *err, size_t err_len)
{
    const calgae_transformer *m = s->model;
    const calgae_config *c = &m->cfg;
    const int dim = c->dim;
    for (int t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return calgae_fail(err, err_len, "token id %d is outside the vocabulary (0..%d)",
                               tokens[t], c->vocab_size - 1);
        const char *row = (const char *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes;
        calgae_dequantize_row(m->tok_embd.type, row, s->x + (size_t)t * dim, dim);
        rope_table(m, s->tok_pos[t], s->cs + (size_t)t * c->n_rot);
    }
    for (int l = 0; l < c->n_layers; l++)
        if (layer_forward(s, l, n) != 0)
            return calgae_fail(err, err_len, "no plugin could compute layer %d", l);

    int rows = 0;
    for (int t = 0; t < n; t++)
        if (want ? want[t] != 0 : !only_last || t == n - 1)
            s->be->rmsnorm(s->xb + (size_t)rows++ * dim, s->x + (size_t)t * dim, m->out_norm, dim,
                           c->eps);
    if (rows == 0)
        return 0;
    if (s->observe)
        s->observe(s->observe_user, c->n_layers, CALGAE_SITE_OUTPUT, s->xb, rows, dim);
    if (product1(s, s->xb, rows, &m->output, s->logits, c->vocab_size) != 0)
        return calgae_fail(err, err_len, "no plugin could compute the classifier");
    return 0;
}

int calgae_forward(calgae_state *s, const int32_t *tokens, int n, int pos, int all_logits,
                   char *err, size_t err_len)
{
    if (n < 1 || n > s->max_batch)
        return calgae_fail(err, err_len, "batch of %d tokens (at most %d)", n, s->max_batch);
    if (pos < 0 || pos > s->ctx - n)
        return calgae_fail(err, err_len, "context full: %d tokens do not fit after position %d "
                           "of %d (raise --ctx)", n, pos, s->ctx);
    for (int t = 0; t < n; t++) {
        s->tok_seq[t] = 0;
        s->tok_pos[t] = pos + t;
    }
    return forward_batch(s, tokens, n, NULL, !all_logits, err, err_len);
}

int calgae_forward_seqs(calgae_state *s, const int32_t *tokens, const int *seq, const int *pos,
                        const unsigned char *want, int n, char *err, size_t err_len)
{
    if (n < 1 || n > s->max_batch)
        return calgae_fail(err, err_len, "batch of %d tokens (at most %d)", n, s->max_batch);
    for (int t = 0; t < n; t++) {
        if (seq[t] < 0 || seq[t] >= s->n_seq)
            return calgae_fail(err, err_len, "sequence %d out of range (0..%d)", seq[t],
                               s->n_seq - 1);
        if (pos[t] < 0 || pos[t] >= s->ctx)
            return calgae_fail(err, err_len, "context full: position %d of sequence %d is past "
                               "%d (raise --ctx)", pos[t], seq[t], s->ctx);
        s->tok_seq[t] = seq[t];
        s->tok_pos[t] = pos[t];
    }
    return forward_batch(s, tokens, n, want, 0, err, err_len);
}
