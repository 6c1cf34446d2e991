/*
 * conformance_products.c - the conformance suite's matrix products: matvec and matmul of every
 * weight type, on odd shapes, padded rows and strides, partial row ranges, prepared weights,
 * and the special inputs of conformance.h. Each call's output is checked against the
 * reference, bit for bit against the plugin's own full-range answer, and for writes outside
 * the rows it was given.
 */
#include <math.h>

#include "conformance_internal.h"
#include "types.h"

enum { K_RANDOM, K_ZERO, K_LARGE, K_TINY, K_DENORM, K_NAN, K_INF, K_COUNT };
static const char *const kind_names[K_COUNT] = {"random", "zero x", "large", "tiny",
                                                "denormal x", "NaN in x", "Inf in x"};

typedef struct {
    int matmul;
    calgae_weight w;        /* w.data points into wbuf */
    unsigned char *wbuf;
    int64_t n_tok, y_stride, nb;
    unsigned char *x;       /* what the kernel reads: token t at x + t * x_stride */
    size_t x_stride;
    double *scale;          /* per (t, r): the sum of |terms| the tolerance is relative to */
    double *exact;          /* per (t, r): the sum in double (exact for the denormal case) */
    double rel, abs;        /* the tolerance: rel * scale + abs */
} prod_t;

/* Sizes and activation forms from the type table: the block types are those whose products take
 * Q8_0 activations. */
static int is_block(uint32_t type)
{
    return calgae_type_traits(type)->vec_dot_type == CALGAE_TYPE_Q8_0;
}

/* The K types (ABI 1.3): products take Q8_K activations, 256 values per super-block. */
static int is_k(uint32_t type)
{
    return calgae_type_traits(type)->vec_dot_type == CALGAE_TYPE_Q8_K;
}

/* The activation block of a type's products: Q8_0 (32 values) or Q8_K (256). */
static size_t act_block_bytes(uint32_t type)
{
    return is_k(type) ? sizeof(calgae_block_q8_k) : sizeof(calgae_block_q8_0);
}

/* Values per weight block. */
static int64_t blck(uint32_t type)
{
    return calgae_type_traits(type)->blck_size;
}

static size_t block_bytes(uint32_t type)
{
    return calgae_type_traits(type)->type_size;
}

static size_t row_min_bytes(uint32_t type, int64_t cols)
{
    size_t bytes = 0;
    calgae_type_row_bytes(type, cols, &bytes); /* the shapes below are whole blocks */
    return bytes;
}

/* A weight element for the float types, by kind. */
static float weight_value(rng_t *g, int kind)
{
    switch (kind) {
    case K_LARGE: return rnd_pm(g, 500, 1000);
    case K_TINY: return rnd_pm(g, 1e-30, 1e-29);
    case K_DENORM: return rnd_small_int(g); /* exact */
    case K_INF: return rnd_pm(g, 0.1, 1); /* nonzero: Inf times it is an infinity */
    default: return rnd_pm(g, 0, 1);
    }
}

static calgae_fp16 block_scale(rng_t *g, int kind)
{
    uint16_t sign = rnd_u64(g) & 1 ? 0x8000u : 0; /* ggml's Q4_0 scales are often negative */
    if (kind == K_LARGE)
        return (calgae_fp16)(sign | 0x7800u | (uint16_t)rnd_int(g, 0x400)); /* up to 65504 */
    if (kind == K_TINY)
        return (calgae_fp16)(sign | (uint16_t)(1 + rnd_int(g, 0x400))); /* fp16 subnormals */
    if (rnd_int(g, 16) == 0)
        return 0; /* an all-zero block */
    return (calgae_fp16)(sign | calgae_fp32_to_fp16(rnd_f(g, 1e-3, 0.05)));
}

static void make_weight(prod_t *c, rng_t *g, uint32_t type, int64_t rows, int64_t cols, int kind)
{
    const size_t min = row_min_bytes(type, cols);
    /* rows 3, 17 and 33 get padded rows (poisoned): row r starts at r * row_bytes, not r * min */
    const int blocks = is_block(type) || is_k(type);
    size_t pad = rows % 2 && rows > 1 ? (blocks ? block_bytes(type) : 16) : 0;
    c->w = (calgae_weight){.type = type, .rows = rows, .cols = cols, .row_bytes = min + pad};
    c->wbuf = malloc((size_t)rows * c->w.row_bytes);
    if (!c->wbuf)
        abort();
    memset(c->wbuf, blocks ? 0xa5 : 0xff, (size_t)rows * c->w.row_bytes);
    for (int64_t r = 0; r < rows; r++) {
        unsigned char *row = c->wbuf + (size_t)r * c->w.row_bytes;
        for (int64_t i = 0; i < cols; i++) {
            if (type == CALGAE_TYPE_F32) {
                float v = weight_value(g, kind);
                memcpy(row + 4 * i, &v, 4);
            } else if (type == CALGAE_TYPE_F16) {
                calgae_fp16 h = calgae_fp32_to_fp16(weight_value(g, kind));
                if (kind == K_LARGE || kind == K_TINY) /* the extremes of binary16 */
                    h = block_scale(g, kind);
                memcpy(row + 2 * i, &h, 2);
            }
        }
        /* K types: random bytes everywhere (every code, 6-bit scale and minimum is valid),
         * then the fp16 scales by kind */
        for (int64_t b = 0; b < cols / blck(type) && conf_is_k2(type); b++) {
            const calgae_fp16 d = block_scale(g, kind), m = block_scale(g, kind);
            conf_k2_fill_block(row + (size_t)b * block_bytes(type), type, block_bytes(type), g, d, m);
        }
        if (type == CALGAE_TYPE_BF16) /* the top halves of binary32 weights: exact widening */
            for (int64_t i = 0; i < cols; i++) {
                const float v = weight_value(g, kind);
                uint32_t bits;
                memcpy(&bits, &v, 4);
                const calgae_bf16 h = (calgae_bf16)(bits >> 16);
                memcpy(row + 2 * i, &h, 2);
            }
        for (int64_t b = 0; b < cols / CALGAE_QK_K && is_k(type) && !conf_is_k2(type); b++) {
            unsigned char *blk = row + (size_t)b * block_bytes(type);
            for (size_t i = 0; i < block_bytes(type); i++)
                blk[i] = (unsigned char)rnd_int(g, 256);
            calgae_fp16 d = block_scale(g, kind), dmin = block_scale(g, kind);
            if (type == CALGAE_TYPE_Q4_K) {
                memcpy(blk + offsetof(calgae_block_q4_k, d), &d, sizeof d);
                memcpy(blk + offsetof(calgae_block_q4_k, dmin), &dmin, sizeof dmin);
            } else {
                memcpy(blk + offsetof(calgae_block_q6_k, d), &d, sizeof d);
            }
        }
        for (int64_t b = 0; b < cols / CALGAE_QK && is_block(type); b++) {
            if (type == CALGAE_TYPE_Q8_0) {
                calgae_block_q8_0 blk = {.d = block_scale(g, kind)};
                for (int j = 0; j < CALGAE_QK; j++)
                    blk.qs[j] = (int8_t)(rnd_int(g, 256) - 128); /* -128 is a valid byte too */
                memcpy(row + (size_t)b * sizeof blk, &blk, sizeof blk);
            } else if (type == CALGAE_TYPE_Q4_0) {
                calgae_block_q4_0 blk = {.d = block_scale(g, kind)};
                for (int j = 0; j < CALGAE_QK / 2; j++)
                    blk.qs[j] = (uint8_t)rnd_int(g, 256);
                memcpy(row + (size_t)b * sizeof blk, &blk, sizeof blk);
            }
            if (type == CALGAE_TYPE_Q4_1) { /* the minimum gets the extremes too */
                calgae_block_q4_1 blk = {.d = block_scale(g, kind)};
                blk.m = block_scale(g, kind);
                for (int j = 0; j < CALGAE_QK / 2; j++)
                    blk.qs[j] = (uint8_t)rnd_int(g, 256);
                memcpy(row + (size_t)b * sizeof blk, &blk, sizeof blk);
            }
        }
    }
    c->w.data = c->wbuf;
}

static float act_value(rng_t *g, uint32_t type, int kind, double tok_scale)
{
    switch (kind) {
    case K_ZERO: return 0.0f;
    case K_LARGE: return is_block(type) || is_k(type) ? rnd_pm(g, 0, 1e5) : rnd_pm(g, 1e3, 1e4);
    case K_TINY: return is_block(type) || is_k(type) ? rnd_pm(g, 0, 1e-20) : rnd_pm(g, 0, 1);
    case K_DENORM: return (float)ldexp((double)(rnd_int(g, 2049) - 1024), -149);
    default: return rnd_pm(g, 0, tok_scale);
    }
}

/* Weight element i of row r as a double (float types), or block b's scale and integers. */
static double w_elem(const calgae_weight *w, int64_t r, int64_t i)
{
    const unsigned char *row = (const unsigned char *)w->data + (size_t)r * w->row_bytes;
    if (w->type == CALGAE_TYPE_F16) {
        calgae_fp16 h;
        memcpy(&h, row + 2 * i, 2);
        return calgae_fp16_to_fp32(h);
    }
    if (w->type == CALGAE_TYPE_BF16) {
        calgae_bf16 h;
        memcpy(&h, row + 2 * i, 2);
        const uint32_t bits = (uint32_t)h << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    float f;
    memcpy(&f, row + 4 * i, 4);
    return f;
}

/* Block b of weight row r. */
static const unsigned char *w_block(const calgae_weight *w, int64_t r, int64_t b)
{
    return (const unsigned char *)w->data + (size_t)r * w->row_bytes + (size_t)b * block_bytes(w->type);
}

/* Block b of weight row r against activation block xb: its contribution to the dot product
 * (*exact, in double) and to the tolerance's scale (*scale: the magnitudes of the terms a kernel
 * may round, element by element). Q4_1's terms are d_w q_j d_x x_j and m_w d_x x_j. */
static void block_terms(const calgae_weight *w, int64_t r, int64_t b, const calgae_block_q8_0 *xb,
                        double *exact, double *scale)
{
    const unsigned char *row =
        (const unsigned char *)w->data + (size_t)r * w->row_bytes + (size_t)b * block_bytes(w->type);
    int q[CALGAE_QK];
    calgae_fp16 d, m = 0;
    if (w->type == CALGAE_TYPE_Q8_0) {
        calgae_block_q8_0 blk;
        memcpy(&blk, row, sizeof blk);
        for (int j = 0; j < CALGAE_QK; j++)
            q[j] = blk.qs[j];
        d = blk.d;
    } else {
        /* Q4_0 and Q4_1 share the nibble order; Q4_0 centres them on 8, Q4_1 adds m instead */
        const int q41 = w->type == CALGAE_TYPE_Q4_1;
        uint8_t qs[CALGAE_QK / 2];
        memcpy(&d, row, sizeof d);
        if (q41)
            memcpy(&m, row + offsetof(calgae_block_q4_1, m), sizeof m);
        memcpy(qs, row + (q41 ? offsetof(calgae_block_q4_1, qs) : offsetof(calgae_block_q4_0, qs)),
               sizeof qs);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            q[j] = (qs[j] & 15) - (q41 ? 0 : 8);
            q[j + 16] = (qs[j] >> 4) - (q41 ? 0 : 8);
        }
    }
    int64_t isum = 0, abs_sum = 0, xsum = 0, abs_x = 0;
    for (int j = 0; j < CALGAE_QK; j++) {
        isum += q[j] * xb->qs[j];
        abs_sum += abs(q[j] * xb->qs[j]);
        xsum += xb->qs[j];
        abs_x += abs(xb->qs[j]);
    }
    const double dx = calgae_fp16_to_fp32(xb->d), dd = calgae_fp16_to_fp32(d) * dx,
                 md = calgae_fp16_to_fp32(m) * dx;
    *exact = dd * (double)isum + md * (double)xsum;
    *scale = fabs(dd) * (double)abs_sum + fabs(md) * (double)abs_x;
}

/* Super-block b of K-type weight row r against activation block xb, as block_terms: every
 * element's term d_x * (d_w * sc_g * q_j - dmin_w * m_g) * x_j (Q6_K: no minimum, q_j - 32). */
static void k_block_terms(const calgae_weight *w, int64_t r, int64_t b, const calgae_block_q8_k *xb,
                          double *exact, double *scale)
{
    const unsigned char *row =
        (const unsigned char *)w->data + (size_t)r * w->row_bytes + (size_t)b * block_bytes(w->type);
    double e = 0, s = 0;
    if (w->type == CALGAE_TYPE_Q4_K) {
        calgae_block_q4_k blk;
        memcpy(&blk, row, sizeof blk);
        const double d = calgae_fp16_to_fp32(blk.d), dmin = calgae_fp16_to_fp32(blk.dmin);
        for (int g = 0; g < 8; g++) {
            uint8_t sc, m;
            calgae_q4_k_scale_min(g, blk.scales, &sc, &m);
            for (int l = 0; l < 32; l++) {
                const uint8_t byte = blk.qs[32 * (g / 2) + l];
                const int q = g % 2 ? byte >> 4 : byte & 15;
                const double xq = xb->qs[32 * g + l];
                const double t1 = d * sc * q * xq, t2 = dmin * m * xq;
                e += t1 - t2;
                s += fabs(t1) + fabs(t2);
            }
        }
    } else {
        calgae_block_q6_k blk;
        memcpy(&blk, row, sizeof blk);
        const double d = calgae_fp16_to_fp32(blk.d);
        for (int i = 0; i < CALGAE_QK_K; i++) {
            const int h = i / 128, k = (i % 128) / 32, l = i % 32;
            const uint8_t lo = blk.ql[64 * h + 32 * (k % 2) + l];
            const int q = ((k < 2 ? lo & 15 : lo >> 4) | ((blk.qh[32 * h + l] >> (2 * k)) & 3) << 4) - 32;
            const double t = d * blk.scales[i / 16] * q * xb->qs[i];
            e += t;
            s += fabs(t);
        }
    }
    *exact = (double)xb->d * e;
    *scale = fabs((double)xb->d) * s;
}

/* Activations (quantized with the header's reference quantizer for the block types, so the
 * products are judged apart from quantize_q8_0), scales and tolerances. */
static void make_case(prod_t *c, rng_t *g, uint32_t type, int64_t rows, int64_t cols, int kind,
                      int matmul, int64_t n_tok)
{
    make_weight(c, g, type, rows, cols, kind);
    c->matmul = matmul;
    c->n_tok = n_tok;
    c->nb = cols / (is_k(type) ? CALGAE_QK_K : CALGAE_QK);
    const int blocks = is_block(type) || is_k(type);
    const size_t act = blocks ? (size_t)c->nb * act_block_bytes(type) : (size_t)cols * 4;
    /* even batches get strides larger than the minimum, with poison in the gaps */
    int padded = matmul && n_tok % 2 == 0;
    c->x_stride = act + (padded ? (blocks ? act_block_bytes(type) : 12) : 0);
    c->y_stride = matmul ? rows + (padded ? 3 : 0) : rows;
    c->x = malloc(c->x_stride * (size_t)n_tok);
    c->scale = malloc(sizeof(double) * (size_t)(n_tok * rows));
    c->exact = malloc(sizeof(double) * (size_t)(n_tok * rows));
    float *xf = alloc_f(cols);
    if (!c->x || !c->scale || !c->exact)
        abort();
    memset(c->x, blocks ? 0xa5 : 0xff, c->x_stride * (size_t)n_tok);
    for (int64_t t = 0; t < n_tok; t++) {
        unsigned char *xt = c->x + (size_t)t * c->x_stride;
        double tok_scale = ldexp(1.0, (int)rnd_int(g, 9) - 4);
        for (int64_t i = 0; i < cols; i++)
            xf[i] = act_value(g, type, kind, tok_scale);
        if (kind == K_NAN || kind == K_INF)
            xf[rnd_int(g, cols)] = kind == K_NAN ? NAN : INFINITY;
        if (is_k(type))
            calgae_quantize_q8_k_ref(xf, (calgae_block_q8_k *)(void *)xt, cols);
        else if (is_block(type))
            calgae_quantize_q8_0_ref(xf, (calgae_block_q8_0 *)(void *)xt, cols);
        else
            memcpy(xt, xf, (size_t)cols * 4);
        for (int64_t r = 0; r < rows; r++) {
            double s = 0, e = 0;
            if (is_k(type)) {
                for (int64_t b = 0; b < c->nb; b++) {
                    calgae_block_q8_k xb;
                    memcpy(&xb, xt + (size_t)b * sizeof xb, sizeof xb);
                    double be, bs;
                    if (conf_is_k2(type))
                        conf_k2_block_terms(type, w_block(&c->w, r, b), xb.qs, xb.d, &be, &bs);
                    else
                        k_block_terms(&c->w, r, b, &xb, &be, &bs);
                    s += bs;
                    e += be;
                }
            } else if (is_block(type)) {
                for (int64_t b = 0; b < c->nb; b++) {
                    calgae_block_q8_0 xb;
                    memcpy(&xb, xt + (size_t)b * sizeof xb, sizeof xb);
                    double be, bs;
                    if (conf_is_k2(type))
                        conf_k2_block_terms(type, w_block(&c->w, r, b), xb.qs,
                                            calgae_fp16_to_fp32(xb.d), &be, &bs);
                    else
                        block_terms(&c->w, r, b, &xb, &be, &bs);
                    s += bs;
                    e += be;
                }
            } else {
                for (int64_t i = 0; i < cols; i++) {
                    double term = w_elem(&c->w, r, i) * xf[i];
                    s += isfinite(term) ? fabs(term) : 0;
                    e += term;
                }
            }
            c->scale[t * rows + r] = s;
            c->exact[t * rows + r] = e;
        }
    }
    free(xf);
    /* block types: the scale products and the products by (partial) sums round a few times
     * more (Q4_1's minimum term once more) */
    c->rel = 2 * gam(is_block(type) || is_k(type) ? (double)cols + 3 : (double)cols);
    c->abs = (double)cols * 0x1p-149;
}

static void free_case(prod_t *c)
{
    free(c->wbuf);
    free(c->x);
    free(c->scale);
    free(c->exact);
}

static int call_product(const calgae_plugin *t, const prod_t *c, const calgae_weight *w,
                        float *y, int64_t r0, int64_t r1)
{
    calgae_matvec_fn mv = NULL;
    calgae_matmul_fn mm = NULL;
    switch (w->type) {
    case CALGAE_TYPE_Q5_K: mv = SLOT(t, matvec_q5_k); mm = SLOT(t, matmul_q5_k); break;
    case CALGAE_TYPE_Q3_K: mv = SLOT(t, matvec_q3_k); mm = SLOT(t, matmul_q3_k); break;
    case CALGAE_TYPE_Q2_K: mv = SLOT(t, matvec_q2_k); mm = SLOT(t, matmul_q2_k); break;
    case CALGAE_TYPE_IQ4_XS: mv = SLOT(t, matvec_iq4_xs); mm = SLOT(t, matmul_iq4_xs); break;
    case CALGAE_TYPE_Q5_0: mv = SLOT(t, matvec_q5_0); mm = SLOT(t, matmul_q5_0); break;
    case CALGAE_TYPE_Q5_1: mv = SLOT(t, matvec_q5_1); mm = SLOT(t, matmul_q5_1); break;
    case CALGAE_TYPE_IQ4_NL: mv = SLOT(t, matvec_iq4_nl); mm = SLOT(t, matmul_iq4_nl); break;
    case CALGAE_TYPE_BF16: mv = SLOT(t, matvec_bf16); mm = SLOT(t, matmul_bf16); break;
    case CALGAE_TYPE_F32: mv = SLOT(t, matvec_f32); mm = SLOT(t, matmul_f32); break;
    case CALGAE_TYPE_F16: mv = SLOT(t, matvec_f16); mm = SLOT(t, matmul_f16); break;
    case CALGAE_TYPE_Q8_0: mv = SLOT(t, matvec_q8_0); mm = SLOT(t, matmul_q8_0); break;
    case CALGAE_TYPE_Q4_0: mv = SLOT(t, matvec_q4_0); mm = SLOT(t, matmul_q4_0); break;
    case CALGAE_TYPE_Q4_K: mv = SLOT(t, matvec_q4_k); mm = SLOT(t, matmul_q4_k); break;
    case CALGAE_TYPE_Q6_K: mv = SLOT(t, matvec_q6_k); mm = SLOT(t, matmul_q6_k); break;
    default: mv = SLOT(t, matvec_q4_1); mm = SLOT(t, matmul_q4_1); break;
    }
    if (c->matmul)
        return mm(w, c->x, c->x_stride, c->n_tok, y, c->y_stride, r0, r1);
    return mv(w, c->x, y, r0, r1);
}

/* Checks one call's y: rows in [r0, r1) against the reference (and bit for bit against the
 * plugin's own full-range answer, if given), everything else untouched. */
static void check_y(acc_t *a, const prod_t *c, const float *y, const float *yref,
                    const float *yfull, int64_t r0, int64_t r1, int64_t len)
{
    const int64_t rows = c->w.rows;
    for (int64_t pos = 0; pos < len; pos++) {
        int64_t t = pos / c->y_stride, r = pos % c->y_stride;
        if (t >= c->n_tok || r < r0 || r >= r1) {
            if (f_bits(y[pos]) != SENTINEL) {
                conf_fail(a, "y[%lld] (token %lld, row %lld) written outside rows [%lld, %lld)",
                     (long long)pos, (long long)t, (long long)r, (long long)r0, (long long)r1);
                return;
            }
            continue;
        }
        if (!conf_check(a, "y", pos, y[pos], yref[pos], c->scale[t * rows + r], c->rel, c->abs))
            return;
        if (yfull && f_bits(y[pos]) != f_bits(yfull[pos]) && !(isnan(y[pos]) && isnan(yfull[pos]))) {
            conf_fail(a, "row %lld = %.9g in this range but %.9g in [0, %lld): results depend on "
                         "the row split", (long long)r, y[pos], yfull[pos], (long long)rows);
            return;
        }
    }
}

static void run_case(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, prod_t *c,
                     const char *kind)
{
    const int64_t rows = c->w.rows, len = c->n_tok * c->y_stride + 4;
    float *yref = alloc_f(len), *yfull = alloc_f(len), *y = alloc_f(len);
    fill_sentinel(yref, len);
    snprintf(a->ctx, sizeof a->ctx, "%s rows %lld cols %lld n_tok %lld", kind, (long long)rows,
             (long long)c->w.cols, (long long)c->n_tok);
    if (call_product(ref, c, &c->w, yref, 0, rows) != CALGAE_KERNEL_OK) {
        conf_fail(a, "the reference declined");
        goto out;
    }
    if (is_k(c->w.type) || conf_is_k2(c->w.type)) {
        /* the reference itself against the suite's own double sum of every element's term
         * (k_block_terms, written from the layouts apart from the scalar plugin) */
        for (int64_t t = 0; t < c->n_tok; t++)
            for (int64_t r = 0; r < rows; r++)
                if (!conf_check(a, "reference y", t * rows + r, yref[t * c->y_stride + r],
                                (float)c->exact[t * rows + r], c->scale[t * rows + r], c->rel,
                                c->abs))
                    goto out;
    }
    if (strcmp(kind, kind_names[K_DENORM]) == 0) {
        /* exact sums: a reference that flushes means the process flushes denormals */
        for (int64_t r = 0; r < rows; r++)
            if ((double)yref[r] != c->exact[r]) {
                conf_fail(a, "denormals are flushed to zero in this process (-ffast-math?)");
                goto out;
            }
    }
    int (*prepare)(calgae_weight *, char *, size_t) = SLOT(p, prepare_weight);
    void (*release)(calgae_weight *) = SLOT(p, release_weight);
    for (int variant = 0; variant < (prepare ? 2 : 1); variant++) {
        calgae_weight w = c->w;
        if (variant == 1) {
            char why[200] = "";
            if (prepare(&w, why, sizeof why) != 0)
                continue; /* the host keeps the stored layout: already tested */
            w.owner = p;
        }
        const int64_t ranges[4][2] = {
            {0, rows}, {rows / 3, rows - rows / 4}, {rows - 1, rows}, {rows / 2, rows / 2}};
        int full_ok = 0;
        for (int k = 0; k < 4; k++) {
            const int64_t r0 = ranges[k][0], r1 = ranges[k][1];
            float *out = k == 0 ? yfull : y;
            fill_sentinel(out, len);
            snprintf(a->ctx, sizeof a->ctx, "%s rows %lld cols %lld n_tok %lld range [%lld,%lld)%s",
                     kind, (long long)rows, (long long)c->w.cols, (long long)c->n_tok,
                     (long long)r0, (long long)r1, variant ? " prepared" : "");
            a->r->cases++;
            if (call_product(p, c, &w, out, r0, r1) != CALGAE_KERNEL_OK) {
                a->r->declined++;
                continue;
            }
            check_y(a, c, out, yref, k > 0 && full_ok ? yfull : NULL, r0, r1, len);
            full_ok |= k == 0;
        }
        if (variant == 1 && release)
            release(&w);
    }
out:
    free(yref);
    free(yfull);
    free(y);
}

void conf_test_product(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g,
                       uint32_t type, int matmul)
{
    /* 16 and 48: multiples of 8 and 16, which row-interleaving plugins prepare (range ends cut
     * groups) */
    static const int64_t rows_list[] = {1, 3, 16, 17, 33, 48, 100};
    static const int64_t cols_f[] = {1, 7, 33, 100, 2048}, cols_q[] = {32, 64, 96, 2048},
                         cols_k[] = {256, 512, 768, 2048};
    const int64_t *cols_list = is_k(type) ? cols_k : is_block(type) ? cols_q : cols_f;
    const int n_cols = is_block(type) || is_k(type) ? 4 : 5;
    for (int kind = 0; kind < K_COUNT; kind++) {
        if ((is_block(type) || is_k(type)) && (kind == K_DENORM || kind == K_NAN || kind == K_INF))
            continue; /* no defined Q8_0 activation for these */
        for (int ri = 0; ri < 7; ri++)
            for (int ci = 0; ci < n_cols; ci++) {
                const int64_t rows = rows_list[ri], cols = cols_list[ci];
                if (kind != K_RANDOM && rows != 3 && rows != 48)
                    continue; /* the special inputs on two shapes per column count */
                /* random matmuls: 1 to 9 tokens and 19, so that tiles of up to 8 tokens run
                 * whole, short, and both (19 = 8 + 8 + 3) */
                int64_t tok_lo = 1, tok_hi = 1;
                if (matmul && kind == K_RANDOM)
                    tok_hi = 10;
                else if (matmul)
                    tok_lo = tok_hi = 2;
                for (int64_t n_tok = tok_lo; n_tok <= tok_hi; n_tok++) {
                    if (n_tok == 10)
                        n_tok = 19;
                    prod_t c;
                    make_case(&c, g, type, rows, cols, kind, matmul, n_tok);
                    run_case(a, p, ref, &c, kind_names[kind]);
                    free_case(&c);
                }
            }
    }
    if (is_block(type) && !conf_is_k2(type))
        conf_test_product_exact(a, p, g, type, matmul);
}

