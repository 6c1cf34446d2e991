/* train_ops.c - the training forward (keeping activations) and its backward, op by op; see
 * train.h. Shapes: D = dim, KV = kv heads x head size, H = FFN width, V = vocabulary, T = the
 * window allocated (max_t), n <= T the tokens of this call. */
#include "train.h"

#include <math.h>
#include <string.h>

struct acts_layer {
    float *x, *xn1, *q, *k, *v, *ao, *xmid, *xn2, *gate, *up, *hb, *rms1, *rms2, *att;
};

struct acts {
    struct acts_layer l; /* of one layer, see layer_acts */
    float *xfin, *xnf, *logits, *rmsf;
};

static size_t kv_dim(const calgae_train_shape *s)
{
    return (size_t)(s->dim / s->heads) * (size_t)s->kv_heads;
}

static size_t layer_size(const calgae_train_model *tm)
{
    const calgae_train_shape *s = &tm->shape;
    const size_t T = (size_t)tm->max_t, D = (size_t)s->dim, H = (size_t)s->hidden;
    return T * (D * 6 + kv_dim(s) * 2 + H * 3 + 2) + (size_t)s->heads * T * T;
}

static struct acts_layer layer_acts(const calgae_train_model *tm, int l)
{
    const calgae_train_shape *s = &tm->shape;
    const size_t T = (size_t)tm->max_t, D = (size_t)s->dim, H = (size_t)s->hidden, KV = kv_dim(s);
    float *p = tm->acts + layer_size(tm) * (size_t)l;
    struct acts_layer a;
    a.x = p, p += T * D;
    a.xn1 = p, p += T * D;
    a.q = p, p += T * D;
    a.k = p, p += T * KV;
    a.v = p, p += T * KV;
    a.ao = p, p += T * D;
    a.xmid = p, p += T * D;
    a.xn2 = p, p += T * D;
    a.gate = p, p += T * H;
    a.up = p, p += T * H;
    a.hb = p, p += T * H;
    a.rms1 = p, p += T;
    a.rms2 = p, p += T;
    a.att = p;
    return a;
}

static struct acts final_acts(const calgae_train_model *tm)
{
    const size_t T = (size_t)tm->max_t, D = (size_t)tm->shape.dim;
    float *p = tm->acts + layer_size(tm) * (size_t)tm->shape.layers;
    struct acts a;
    memset(&a.l, 0, sizeof a.l);
    a.xfin = p, p += T * D;
    a.xnf = p, p += T * D;
    a.logits = p, p += T * (size_t)tm->shape.vocab;
    a.rmsf = p;
    return a;
}

float *calgae_train_logits(calgae_train_model *tm)
{
    return final_acts(tm).logits;
}

void calgae_train_zero_grad(calgae_train_model *tm)
{
    memset(tm->grads, 0, tm->n_params * sizeof(float));
}

static void run(calgae_pool *pool, int64_t n, calgae_task_fn fn, void *ctx)
{
    if (pool && n > 1)
        calgae_pool_for(pool, n, 1, fn, ctx);
    else
        fn(ctx, 0, n, 0);
}

/* ---- matrix products: out[n x R] = in[n x C] W^T, and their gradients ---- */

struct mm {
    float *out, *din, *dw;
    const float *in, *w, *dout;
    int64_t n, R, C;
};

static void mm_fwd_task(void *ctx, int64_t b, int64_t e, int thread)
{
    const struct mm *m = ctx;
    (void)thread;
    for (int64_t t = b; t < e; t++)
        for (int64_t r = 0; r < m->R; r++) {
            const float *w = m->w + r * m->C, *x = m->in + t * m->C;
            float acc = 0.0f;
            for (int64_t c = 0; c < m->C; c++)
                acc += w[c] * x[c];
            m->out[t * m->R + r] = acc;
        }
}

static void mm_din_task(void *ctx, int64_t b, int64_t e, int thread)
{
    const struct mm *m = ctx;
    (void)thread;
    for (int64_t t = b; t < e; t++) {
        float *dx = m->din + t * m->C;
        for (int64_t r = 0; r < m->R; r++) {
            const float g = m->dout[t * m->R + r], *w = m->w + r * m->C;
            for (int64_t c = 0; c < m->C; c++)
                dx[c] += g * w[c];
        }
    }
}

static void mm_dw_task(void *ctx, int64_t b, int64_t e, int thread)
{
    const struct mm *m = ctx;
    (void)thread;
    for (int64_t r = b; r < e; r++) {
        float *dw = m->dw + r * m->C;
        for (int64_t t = 0; t < m->n; t++) {
            const float g = m->dout[t * m->R + r], *x = m->in + t * m->C;
            for (int64_t c = 0; c < m->C; c++)
                dw[c] += g * x[c];
        }
    }
}

static void matmul(calgae_pool *pool, float *out, const float *in, const float *w, int n,
                   int64_t R, int64_t C)
{
    struct mm m = {.out = out, .in = in, .w = w, .n = n, .R = R, .C = C};
    run(pool, n, mm_fwd_task, &m);
}

/* din += dout W (when din is not NULL); dw += dout^T in */
static void matmul_back(calgae_pool *pool, float *din, float *dw, const float *dout,
                        const float *in, const float *w, int n, int64_t R, int64_t C)
{
    struct mm m = {.din = din, .dw = dw, .in = in, .w = w, .dout = dout, .n = n, .R = R, .C = C};
    if (din)
        run(pool, n, mm_din_task, &m);
    run(pool, R, mm_dw_task, &m);
}

/* ---- RMSNorm: y = x * r * w, r = 1 / sqrt(mean(x^2) + eps), as llama2.c computes it ---- */

static void rmsnorm(float *y, float *rs, const float *x, const float *w, int n, int D, float eps)
{
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * D;
        float ss = 0.0f;
        for (int i = 0; i < D; i++)
            ss += xt[i] * xt[i];
        const float r = 1.0f / sqrtf(ss / (float)D + eps);
        rs[t] = r;
        for (int i = 0; i < D; i++)
            y[(size_t)t * D + i] = w[i] * (r * xt[i]);
    }
}

/* dx += r (w dy) - x r^3 / D * sum(w dy x); dw += dy x r */
static void rmsnorm_back(float *dx, float *dw, const float *dy, const float *x, const float *rs,
                         const float *w, int n, int D)
{
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * D, *dyt = dy + (size_t)t * D;
        const float r = rs[t];
        float dot = 0.0f;
        for (int i = 0; i < D; i++) {
            dot += w[i] * dyt[i] * xt[i];
            dw[i] += dyt[i] * xt[i] * r;
        }
        const float k = dot * r * r * r / (float)D;
        for (int i = 0; i < D; i++)
            dx[(size_t)t * D + i] += r * w[i] * dyt[i] - k * xt[i];
    }
}

/* ---- RoPE on adjacent pairs, frequencies as engine/forward.c computes them ---- */

static void rope(float *x, int n, int heads, int hs, float theta, int inverse)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < hs / 2; i++) {
            const float freq = 1.0f / powf(theta, (float)(2 * i) / (float)hs);
            const float val = (float)t * freq;
            const float c = cosf(val), s = inverse ? -sinf(val) : sinf(val);
            for (int h = 0; h < heads; h++) {
                float *v = x + (size_t)t * heads * hs + (size_t)h * hs;
                const float v0 = v[2 * i], v1 = v[2 * i + 1];
                v[2 * i] = v0 * c - v1 * s;
                v[2 * i + 1] = v0 * s + v1 * c;
            }
        }
}

/* ---- causal attention with grouped-query heads ---- */

struct attn {
    const calgae_train_model *tm;
    struct acts_layer a;
    float *dao, *dq, *dk, *dv, *datt;
    int n;
};

static void attn_fwd_task(void *ctx, int64_t b, int64_t e, int thread)
{
    const struct attn *A = ctx;
    const calgae_train_shape *s = &A->tm->shape;
    const int hs = s->dim / s->heads, kvd = (int)kv_dim(s), group = s->heads / s->kv_heads;
    const size_t T = (size_t)A->tm->max_t;
    const float scale = 1.0f / sqrtf((float)hs);
    (void)thread;
    for (int64_t h = b; h < e; h++) {
        const int kh = (int)h / group;
        for (int i = 0; i < A->n; i++) {
            const float *q = A->a.q + (size_t)i * s->dim + (size_t)h * hs;
            float *att = A->a.att + (size_t)h * T * T + (size_t)i * T;
            float mx = -INFINITY;
            for (int j = 0; j <= i; j++) {
                const float *k = A->a.k + (size_t)j * kvd + (size_t)kh * hs;
                float d = 0.0f;
                for (int c = 0; c < hs; c++)
                    d += q[c] * k[c];
                att[j] = d * scale;
                mx = att[j] > mx ? att[j] : mx;
            }
            float sum = 0.0f;
            for (int j = 0; j <= i; j++) {
                att[j] = expf(att[j] - mx);
                sum += att[j];
            }
            float *out = A->a.ao + (size_t)i * s->dim + (size_t)h * hs;
            memset(out, 0, (size_t)hs * sizeof(float));
            for (int j = 0; j <= i; j++) {
                att[j] /= sum;
                const float *v = A->a.v + (size_t)j * kvd + (size_t)kh * hs;
                for (int c = 0; c < hs; c++)
                    out[c] += att[j] * v[c];
            }
        }
    }
}

/* Over kv heads: each owns the dk, dv rows of its group, so threads never share a sum. */
static void attn_back_task(void *ctx, int64_t b, int64_t e, int thread)
{
    const struct attn *A = ctx;
    const calgae_train_shape *s = &A->tm->shape;
    const int hs = s->dim / s->heads, kvd = (int)kv_dim(s), group = s->heads / s->kv_heads;
    const size_t T = (size_t)A->tm->max_t;
    const float scale = 1.0f / sqrtf((float)hs);
    (void)thread;
    for (int64_t kh = b; kh < e; kh++) {
        float *datt = A->datt + (size_t)kh * T;
        for (int h = (int)kh * group; h < (int)(kh + 1) * group; h++)
            for (int i = 0; i < A->n; i++) {
                const float *att = A->a.att + (size_t)h * T * T + (size_t)i * T;
                const float *dout = A->dao + (size_t)i * s->dim + (size_t)h * hs;
                const float *q = A->a.q + (size_t)i * s->dim + (size_t)h * hs;
                float *dq = A->dq + (size_t)i * s->dim + (size_t)h * hs;
                float dot = 0.0f;
                for (int j = 0; j <= i; j++) {
                    const float *v = A->a.v + (size_t)j * kvd + (size_t)kh * hs;
                    float *dv = A->dv + (size_t)j * kvd + (size_t)kh * hs;
                    float d = 0.0f;
                    for (int c = 0; c < hs; c++) {
                        d += dout[c] * v[c];
                        dv[c] += att[j] * dout[c];
                    }
                    datt[j] = d;
                    dot += att[j] * d;
                }
                for (int j = 0; j <= i; j++) {
                    const float ds = att[j] * (datt[j] - dot) * scale;
                    const float *k = A->a.k + (size_t)j * kvd + (size_t)kh * hs;
                    float *dk = A->dk + (size_t)j * kvd + (size_t)kh * hs;
                    for (int c = 0; c < hs; c++) {
                        dq[c] += ds * k[c];
                        dk[c] += ds * q[c];
                    }
                }
            }
    }
}

/* ---- the pass ---- */

static float silu(float g)
{
    return g / (1.0f + expf(-g));
}

void calgae_train_forward(calgae_train_model *tm, const int32_t *tokens, int n, calgae_pool *pool)
{
    const calgae_train_shape *s = &tm->shape;
    const int D = s->dim, H = s->hidden, hs = D / s->heads;
    const int64_t KV = (int64_t)kv_dim(s);
    for (int t = 0; t < n; t++)
        memcpy(layer_acts(tm, 0).x + (size_t)t * D, tm->p.embd + (size_t)tokens[t] * D,
               (size_t)D * sizeof(float));
    for (int l = 0; l < s->layers; l++) {
        const calgae_train_layer *L = &tm->p.layer[l];
        struct acts_layer a = layer_acts(tm, l);
        rmsnorm(a.xn1, a.rms1, a.x, L->attn_norm, n, D, s->eps);
        matmul(pool, a.q, a.xn1, L->wq, n, D, D);
        matmul(pool, a.k, a.xn1, L->wk, n, KV, D);
        matmul(pool, a.v, a.xn1, L->wv, n, KV, D);
        rope(a.q, n, s->heads, hs, s->rope_theta, 0);
        rope(a.k, n, s->kv_heads, hs, s->rope_theta, 0);
        struct attn A = {.tm = tm, .a = a, .n = n};
        run(pool, s->heads, attn_fwd_task, &A);
        matmul(pool, a.xmid, a.ao, L->wo, n, D, D);
        for (size_t i = 0; i < (size_t)n * D; i++)
            a.xmid[i] += a.x[i];
        rmsnorm(a.xn2, a.rms2, a.xmid, L->ffn_norm, n, D, s->eps);
        matmul(pool, a.gate, a.xn2, L->w_gate, n, H, D);
        matmul(pool, a.up, a.xn2, L->w_up, n, H, D);
        for (size_t i = 0; i < (size_t)n * H; i++)
            a.hb[i] = silu(a.gate[i]) * a.up[i];
        float *next = l + 1 < s->layers ? layer_acts(tm, l + 1).x : final_acts(tm).xfin;
        matmul(pool, next, a.hb, L->w_down, n, D, H);
        for (size_t i = 0; i < (size_t)n * D; i++)
            next[i] += a.xmid[i];
    }
    struct acts f = final_acts(tm);
    rmsnorm(f.xnf, f.rmsf, f.xfin, tm->p.out_norm, n, D, s->eps);
    matmul(pool, f.logits, f.xnf, tm->p.cls, n, s->vocab, D);
}

void calgae_train_backward(calgae_train_model *tm, const int32_t *tokens, int n, float *dlogits,
                           calgae_pool *pool)
{
    const calgae_train_shape *s = &tm->shape;
    const int D = s->dim, H = s->hidden, hs = D / s->heads;
    const int64_t KV = (int64_t)kv_dim(s);
    const size_t T = (size_t)tm->max_t;
    float *p = tm->scratch;
    float *dx = p, *dxn = p + T * D, *dq = p + 2 * T * D, *dao = p + 3 * T * D;
    float *dk = p + 4 * T * D, *dv = dk + T * KV, *dg = dv + T * KV, *du = dg + T * H;
    float *dhb = du + T * H, *datt = dhb + T * H;
    memset(tm->scratch, 0, tm->n_scratch * sizeof(float));

    struct acts f = final_acts(tm);
    const float *last = f.xfin;
    matmul_back(pool, dxn, tm->g.cls, dlogits, f.xnf, tm->p.cls, n, s->vocab, D);
    rmsnorm_back(dx, tm->g.out_norm, dxn, last, f.rmsf, tm->p.out_norm, n, D);
    for (int l = s->layers - 1; l >= 0; l--) {
        const calgae_train_layer *L = &tm->p.layer[l];
        const calgae_train_layer *G = &tm->g.layer[l];
        struct acts_layer a = layer_acts(tm, l);
        /* FFN: dx is the gradient at the layer's output, which the residual passes to xmid */
        memset(dhb, 0, (size_t)n * H * sizeof(float));
        matmul_back(pool, dhb, G->w_down, dx, a.hb, L->w_down, n, D, H);
        for (size_t i = 0; i < (size_t)n * H; i++) {
            const float g = a.gate[i], sg = 1.0f / (1.0f + expf(-g));
            du[i] = dhb[i] * g * sg;
            dg[i] = dhb[i] * a.up[i] * sg * (1.0f + g * (1.0f - sg));
        }
        memset(dxn, 0, (size_t)n * D * sizeof(float));
        matmul_back(pool, dxn, G->w_gate, dg, a.xn2, L->w_gate, n, H, D);
        matmul_back(pool, dxn, G->w_up, du, a.xn2, L->w_up, n, H, D);
        rmsnorm_back(dx, G->ffn_norm, dxn, a.xmid, a.rms2, L->ffn_norm, n, D);
        /* attention: dx is now the gradient at xmid, passed on to x by the residual */
        memset(dao, 0, (size_t)n * D * sizeof(float));
        matmul_back(pool, dao, G->wo, dx, a.ao, L->wo, n, D, D);
        memset(dq, 0, (size_t)n * D * sizeof(float));
        memset(dk, 0, (size_t)n * KV * sizeof(float));
        memset(dv, 0, (size_t)n * KV * sizeof(float));
        struct attn A = {.tm = tm, .a = a, .dao = dao, .dq = dq, .dk = dk, .dv = dv,
                         .datt = datt, .n = n};
        run(pool, s->kv_heads, attn_back_task, &A);
        rope(dq, n, s->heads, hs, s->rope_theta, 1);
        rope(dk, n, s->kv_heads, hs, s->rope_theta, 1);
        memset(dxn, 0, (size_t)n * D * sizeof(float));
        matmul_back(pool, dxn, G->wq, dq, a.xn1, L->wq, n, D, D);
        matmul_back(pool, dxn, G->wk, dk, a.xn1, L->wk, n, KV, D);
        matmul_back(pool, dxn, G->wv, dv, a.xn1, L->wv, n, KV, D);
        rmsnorm_back(dx, G->attn_norm, dxn, a.x, a.rms1, L->attn_norm, n, D);
    }
    for (int t = 0; t < n; t++) {
        float *row = tm->g.embd + (size_t)tokens[t] * D;
        for (int i = 0; i < D; i++)
            row[i] += dx[(size_t)t * D + i];
    }
}
