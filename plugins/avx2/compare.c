/*
 * compare.c - checks the avx2 plugin against the scalar reference plugin, kernel by kernel:
 * dlopens both .so files, feeds them the same random inputs and compares.
 *
 *   avx2_compare SCALAR.so AVX2.so [--seed N] [--full-exp]
 *
 * What "agrees" means (see the file comments of the kernels for why):
 *  - quantize_q8_0, rope, axpy_f32: bit for bit (ties, zeros and subnormal blocks too); for
 *    blocks where the reference converts NaN or Inf to int (undefined in C, so it is not run on
 *    them), the rule quantize.c defines instead;
 *  - products: |avx2 - scalar| <= (1.125 k + 5) * 2^-24 * S per output, k the number of
 *    terms (blocks for Q8_0/Q4_0, twice that for Q4_1, columns for F32/F16) and S the sum of
 *    |terms| (both sums'
 *    worst-case rounding); the largest ratio seen is printed, per type, next to the
 *    "~1e-6 * sqrt(n)" yardstick. Also: rows outside [r0, r1) untouched, a NaN in a weight or
 *    activation of F32/F16 gives NaN as in the scalar loop, and matvec equals matmul bit for bit
 *    and does not depend on how rows are split into ranges (activations holding -128 too);
 *  - rmsnorm, softmax, swiglu, dot_f32: relative tolerances printed with the largest seen;
 *  - exp8 (softmax, swiglu): within 2 ulps of the true value over [-104, 89], every 251st float
 *    (every float with --full-exp).
 * Exit status: 0 all agree, 1 a failure, 77 (ctest's skip) when this CPU can't run the plugin.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calgae_plugin.h"

double avx2_exp_max_ulp(float lo, float hi, uint32_t step, float *worst_x);

static const calgae_plugin *ref, *cand;
static int failures;
static uint64_t rng = 42;

static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(void) /* [0, 1) */
{
    return (float)(next_u64() >> 40) * 0x1p-24f;
}

static float gauss(void)
{
    float s = 0;
    for (int i = 0; i < 4; i++)
        s += uniform() - 0.5f;
    return s * 1.7320508f;
}

static int64_t rand_int(int64_t lo, int64_t hi) /* [lo, hi] */
{
    return lo + (int64_t)(next_u64() % (uint64_t)(hi - lo + 1));
}

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void check(int ok, const char *fmt, ...)
{
    if (ok)
        return;
    failures++;
    if (failures > 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL ", stdout);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    va_end(ap);
}

static const calgae_plugin *open_plugin(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "avx2_compare: %s\n", dlerror());
        exit(1);
    }
    calgae_plugin_entry_fn entry;
    void *sym = dlsym(h, CALGAE_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    const calgae_plugin *t = NULL;
    char why[256] = "";
    if (!sym || entry(CALGAE_ABI_MAJOR, CALGAE_ABI_MINOR, &t, why, sizeof why) != 0) {
        fprintf(stderr, "avx2_compare: %s: no table: %s\n", path, why);
        exit(1);
    }
    return t;
}

/* ---- quantize_q8_0 ---- */

static void quantize_block_case(float *x, int kind)
{
    const float scales[] = {1e-30f, 1e-3f, 1.0f, 7.0f, 1e3f, 1e30f};
    switch (kind) {
    case 0: { /* plain random */
        float s = scales[rand_int(0, 5)];
        for (int j = 0; j < 32; j++)
            x[j] = gauss() * s;
        break;
    }
    case 1: { /* exact ties: amax 127 * 2^e makes d = 2^e and x / d = k + 0.5 */
        float p = ldexpf(1.0f, (int)rand_int(-20, 20));
        for (int j = 0; j < 32; j++)
            x[j] = ((float)rand_int(-127, 126) + 0.5f) * p;
        x[rand_int(0, 31)] = (rand_int(0, 1) ? 127.0f : -127.0f) * p;
        break;
    }
    case 2: /* zeros and negative zeros */
        for (int j = 0; j < 32; j++)
            x[j] = rand_int(0, 1) ? 0.0f : -0.0f;
        break;
    case 3: { /* subnormal and tiny blocks: 1 / d may overflow */
        float s = ldexpf(1.0f, (int)rand_int(-149, -120));
        for (int j = 0; j < 32; j++)
            x[j] = gauss() * s;
        break;
    }
    default: /* NaN or infinity somewhere */
        for (int j = 0; j < 32; j++)
            x[j] = gauss();
        x[rand_int(0, 31)] = kind == 4 ? NAN : (rand_int(0, 1) ? INFINITY : -INFINITY);
        break;
    }
}

/* What the avx2 plugin defines where the reference converts a non-finite float to int (C
 * leaves that undefined): 0 for those elements; elsewhere the reference's rule, in plain C. */
static void defined_ref(const float *x, calgae_block_q8_0 *y)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        float a = fabsf(x[j]);
        amax = a > amax ? a : amax;
    }
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = calgae_fp32_to_fp16(d);
    for (int j = 0; j < 32; j++) {
        const float v = x[j] * id;
        if (!isfinite(v)) {
            y->qs[j] = 0;
            continue;
        }
        int q = (int)v; /* |v| <= 127 here: the reference's rounding, defined */
        const float frac = v - (float)q;
        y->qs[j] = (int8_t)(q + (frac >= 0.5f) - (frac <= -0.5f));
    }
}

/* the reference's arithmetic stays defined: no NaN or Inf, and 1 / d finite */
static int reference_defined(const float *x)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (!isfinite(x[j]))
            return 0;
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    }
    const float d = amax / 127.0f;
    return d == 0.0f || isfinite(1.0f / d);
}

static void test_quantize(void)
{
    enum { BLOCKS = 4096 };
    float *x = malloc(BLOCKS * 32 * sizeof *x);
    calgae_block_q8_0 *a = malloc(BLOCKS * sizeof *a), *b = malloc(BLOCKS * sizeof *b);
    for (int i = 0; i < BLOCKS; i++)
        quantize_block_case(x + 32 * i, i % 16 < 10 ? i % 2 : (i % 16) - 8);
    cand->quantize_q8_0(x, b, BLOCKS * 32);
    int bad = 0, regular = 0;
    for (int i = 0; i < BLOCKS; i++) {
        if (reference_defined(x + 32 * i)) {
            ref->quantize_q8_0(x + 32 * i, &a[i], 32);
            regular++;
        } else {
            defined_ref(x + 32 * i, &a[i]);
        }
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0 && bad++ < 5)
            check(0, "quantize_q8_0: block %d (case %d) differs", i, i % 16 < 10 ? i % 2 : (i % 16) - 8);
    }
    check(bad == 0, "quantize_q8_0: %d of %d blocks differ", bad, BLOCKS);
    printf("quantize_q8_0: %d blocks (random, exact ties, zeros, subnormal) equal the scalar plugin's "
           "bit for bit; %d (NaN, Inf, 1/d overflowing) the defined rule: %s\n",
           regular, BLOCKS - regular, bad ? "DIFFER" : "ok");
    free(x);
    free(a);
    free(b);
}

/* ---- products ---- */

struct matrix {
    calgae_weight w;
    void *data;
    float *deq; /* rows x cols, dequantized weights */
};

static void make_matrix(struct matrix *m, uint32_t type, int64_t rows, int64_t cols)
{
    const int64_t nb = cols / 32;
    size_t rb = type == CALGAE_TYPE_F32 ? (size_t)cols * 4 : type == CALGAE_TYPE_F16 ? (size_t)cols * 2
                : type == CALGAE_TYPE_Q8_0 ? (size_t)nb * 34 : type == CALGAE_TYPE_Q4_1 ? (size_t)nb * 20
                : (size_t)nb * 18;
    m->data = malloc(rb * (size_t)rows + 1);
    m->deq = malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        char *row = (char *)m->data + (size_t)r * rb;
        float *dq = m->deq + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            if (type == CALGAE_TYPE_F32) {
                ((float *)row)[c] = dq[c] = gauss();
            } else if (type == CALGAE_TYPE_F16) {
                calgae_fp16 h = calgae_fp32_to_fp16(gauss());
                ((calgae_fp16 *)row)[c] = h;
                dq[c] = calgae_fp16_to_fp32(h);
            }
        }
        for (int64_t b = 0; b < nb && type == CALGAE_TYPE_Q8_0; b++) {
            calgae_block_q8_0 *blk = (calgae_block_q8_0 *)row + b;
            blk->d = calgae_fp32_to_fp16(0.001f + 0.05f * uniform());
            for (int j = 0; j < 32; j++) {
                blk->qs[j] = (int8_t)(next_u64() & 0xff); /* -128 included */
                dq[b * 32 + j] = (float)blk->qs[j] * calgae_fp16_to_fp32(blk->d);
            }
        }
        for (int64_t b = 0; b < nb && type == CALGAE_TYPE_Q4_0; b++) {
            calgae_block_q4_0 *blk = (calgae_block_q4_0 *)row + b;
            blk->d = calgae_fp32_to_fp16(0.001f + 0.05f * uniform());
            for (int j = 0; j < 16; j++) {
                blk->qs[j] = (uint8_t)(next_u64() & 0xff);
                dq[b * 32 + j] = (float)((blk->qs[j] & 15) - 8) * calgae_fp16_to_fp32(blk->d);
                dq[b * 32 + j + 16] = (float)((blk->qs[j] >> 4) - 8) * calgae_fp16_to_fp32(blk->d);
            }
        }
        for (int64_t b = 0; b < nb && type == CALGAE_TYPE_Q4_1; b++) {
            calgae_block_q4_1 *blk = (calgae_block_q4_1 *)row + b;
            blk->d = calgae_fp32_to_fp16(0.001f + 0.05f * uniform());
            blk->m = calgae_fp32_to_fp16(gauss() * 0.2f);
            const float d = calgae_fp16_to_fp32(blk->d), mn = calgae_fp16_to_fp32(blk->m);
            for (int j = 0; j < 16; j++) {
                blk->qs[j] = (uint8_t)(next_u64() & 0xff);
                dq[b * 32 + j] = (float)(blk->qs[j] & 15) * d + mn;
                dq[b * 32 + j + 16] = (float)(blk->qs[j] >> 4) * d + mn;
            }
        }
    }
    m->w = (calgae_weight){.type = type, .rows = rows, .cols = cols, .row_bytes = rb, .data = m->data};
}

static int is_block(uint32_t t)
{
    return t == CALGAE_TYPE_Q8_0 || t == CALGAE_TYPE_Q4_0 || t == CALGAE_TYPE_Q4_1;
}

/* S = sum of |terms| of row r . token x, as the kernels' terms are: products for F32/F16;
 * isum_b d_w d_x per block for the block types, and m_w d_x sum(x_b) too for Q4_1 */
static double abs_terms(const struct matrix *m, int64_t r, const void *x)
{
    const int64_t cols = m->w.cols;
    double s = 0;
    if (!is_block(m->w.type)) {
        for (int64_t c = 0; c < cols; c++)
            s += fabs((double)m->deq[r * cols + c] * ((const float *)x)[c]);
        return s;
    }
    const calgae_block_q8_0 *xb = x;
    const char *row = (const char *)m->data + (size_t)r * m->w.row_bytes;
    for (int64_t b = 0; b < cols / 32; b++) {
        const float dx = calgae_fp16_to_fp32(xb[b].d);
        double isum = 0, xsum = 0;
        for (int j = 0; j < 32; j++)
            xsum += xb[b].qs[j];
        if (m->w.type == CALGAE_TYPE_Q4_1) {
            const calgae_block_q4_1 *blk = (const calgae_block_q4_1 *)row + b;
            for (int j = 0; j < 16; j++)
                isum += (double)(blk->qs[j] & 15) * xb[b].qs[j] + (double)(blk->qs[j] >> 4) * xb[b].qs[j + 16];
            s += fabs(isum) * (double)(calgae_fp16_to_fp32(blk->d) * dx) +
                 fabs((double)calgae_fp16_to_fp32(blk->m) * dx * xsum);
            continue;
        }
        calgae_fp16 d = m->w.type == CALGAE_TYPE_Q8_0 ? ((const calgae_block_q8_0 *)row)[b].d
                                                      : ((const calgae_block_q4_0 *)row)[b].d;
        const float wd = calgae_fp16_to_fp32(d);
        for (int j = 0; j < 32; j++)
            isum += (double)(m->deq[r * cols + b * 32 + j] / wd) * xb[b].qs[j];
        s += fabs(isum) * (double)(wd * dx);
    }
    return s;
}

static calgae_matvec_fn matvec_of(const calgae_plugin *p, uint32_t t)
{
    return t == CALGAE_TYPE_F32 ? p->matvec_f32 : t == CALGAE_TYPE_F16 ? p->matvec_f16
           : t == CALGAE_TYPE_Q8_0 ? p->matvec_q8_0 : t == CALGAE_TYPE_Q4_1 ? p->matvec_q4_1
           : p->matvec_q4_0;
}

static calgae_matmul_fn matmul_of(const calgae_plugin *p, uint32_t t)
{
    return t == CALGAE_TYPE_F32 ? p->matmul_f32 : t == CALGAE_TYPE_F16 ? p->matmul_f16
           : t == CALGAE_TYPE_Q8_0 ? p->matmul_q8_0 : t == CALGAE_TYPE_Q4_1 ? p->matmul_q4_1
           : p->matmul_q4_0;
}

static const char *type_name(uint32_t t)
{
    return t == CALGAE_TYPE_F32 ? "F32" : t == CALGAE_TYPE_F16 ? "F16" : t == CALGAE_TYPE_Q8_0 ? "Q8_0"
           : t == CALGAE_TYPE_Q4_1 ? "Q4_1" : "Q4_0";
}

struct stats {
    double worst;      /* max |diff| / (2^-24 S k-bound) */
    double worst_sqrt; /* max |diff| / (S sqrt(k)) */
    long outputs;
};

static void test_product(uint32_t type, int64_t rows, int64_t cols, struct stats *st)
{
    struct matrix m;
    make_matrix(&m, type, rows, cols);
    const int n_tok = (int)rand_int(1, 7);
    const int64_t nb = cols / 32;
    /* activations with a stride larger than a token, as a host with padding would have */
    const size_t xs = is_block(type) ? (size_t)nb * 34 + 2 * (size_t)rand_int(0, 3)
                                     : (size_t)cols * 4 + 4 * (size_t)rand_int(0, 3);
    char *x = calloc((size_t)n_tok, xs);
    float *xf = malloc((size_t)cols * sizeof *xf);
    for (int t = 0; t < n_tok; t++) {
        const float scale = 0.1f + 10.0f * uniform();
        for (int64_t c = 0; c < cols; c++)
            xf[c] = gauss() * scale;
        if (is_block(type)) {
            calgae_block_q8_0 *xb = (calgae_block_q8_0 *)(void *)(x + (size_t)t * xs);
            calgae_quantize_q8_0_ref(xf, xb, cols);
            /* no quantizer with d = amax / 127 makes -128, but the products must take it:
             * Q8_0's matmul then leaves its sign trick for widening */
            if (rand_int(0, 1))
                xb[rand_int(0, nb - 1)].qs[rand_int(0, 31)] = -128;
        } else
            memcpy(x + (size_t)t * xs, xf, (size_t)cols * 4);
    }
    const int64_t ys = rows + rand_int(0, 3);
    float *ya = malloc((size_t)(n_tok * ys) * sizeof(float)), *yb = malloc((size_t)(n_tok * ys) * sizeof(float));
    float *yv = malloc((size_t)rows * sizeof(float));
    const int64_t r0 = rand_int(0, rows - 1), r1 = rand_int(r0 + 1, rows);
    for (int64_t i = 0; i < n_tok * ys; i++)
        ya[i] = yb[i] = -12345.0f;
    check(matmul_of(ref, type)(&m.w, x, xs, n_tok, ya, ys, r0, r1) == 0, "scalar matmul failed");
    check(matmul_of(cand, type)(&m.w, x, xs, n_tok, yb, ys, r0, r1) == 0, "%s matmul declined", type_name(type));
    const double u = 0x1p-24;
    const double k = type == CALGAE_TYPE_Q4_1 ? 2.0 * (double)nb : is_block(type) ? (double)nb : (double)cols;
    for (int t = 0; t < n_tok; t++) {
        const void *xt = x + (size_t)t * xs;
        /* matvec over the same rows, split into random ranges, must equal matmul exactly */
        for (int64_t a = r0; a < r1;) {
            int64_t b = rand_int(a + 1, r1);
            check(matvec_of(cand, type)(&m.w, xt, yv, a, b) == 0, "%s matvec declined", type_name(type));
            a = b;
        }
        for (int64_t r = 0; r < ys; r++) {
            const float s = ya[t * ys + r], v = yb[t * ys + r];
            if (r < r0 || r >= r1) {
                check(v == -12345.0f, "%s matmul wrote row %lld outside [%lld, %lld)", type_name(type),
                      (long long)r, (long long)r0, (long long)r1);
                continue;
            }
            check(memcmp(&v, &yv[r], sizeof v) == 0, "%s %lldx%lld: matvec %.9g != matmul %.9g (row %lld tok %d)",
                  type_name(type), (long long)rows, (long long)cols, yv[r], v, (long long)r, t);
            const double S = abs_terms(&m, r, xt), diff = fabs((double)v - s);
            const double bound = (1.125 * k + 5) * u * S;
            check(diff <= bound, "%s %lldx%lld row %lld tok %d: avx2 %.9g scalar %.9g (diff %.3g > %.3g)",
                  type_name(type), (long long)rows, (long long)cols, (long long)r, t, v, s, diff, bound);
            if (S > 0) {
                st->worst = fmax(st->worst, diff / (u * S * (1.125 * k + 5)));
                st->worst_sqrt = fmax(st->worst_sqrt, diff / (S * sqrt(k)));
            }
            st->outputs++;
        }
    }
    /* NaN propagation for the float types: in an activation, then in one weight */
    if (!is_block(type)) {
        float *x0 = (float *)(void *)x;
        const float keep = x0[cols - 1];
        x0[cols - 1] = NAN;
        matvec_of(cand, type)(&m.w, x0, yv, 0, rows);
        for (int64_t r = 0; r < rows; r++)
            check(isnan(yv[r]), "%s: NaN activation gave %g in row %lld", type_name(type), yv[r], (long long)r);
        x0[cols - 1] = keep;
        const int64_t nr = rand_int(0, rows - 1), nc = rand_int(0, cols - 1);
        char *row = (char *)m.data + (size_t)nr * m.w.row_bytes;
        if (type == CALGAE_TYPE_F32)
            ((float *)(void *)row)[nc] = NAN;
        else
            ((calgae_fp16 *)(void *)row)[nc] = 0x7e00;
        matvec_of(cand, type)(&m.w, x0, yv, 0, rows);
        check(isnan(yv[nr]), "%s: NaN weight gave %g", type_name(type), yv[nr]);
    }
    free(m.data);
    free(m.deq);
    free(x);
    free(xf);
    free(ya);
    free(yb);
    free(yv);
}

static void test_products(void)
{
    static const uint32_t types[] = {CALGAE_TYPE_F32, CALGAE_TYPE_F16, CALGAE_TYPE_Q8_0, CALGAE_TYPE_Q4_0,
                                     CALGAE_TYPE_Q4_1};
    static const int64_t fcols[] = {1, 7, 33, 100, 2048}, bcols[] = {32, 64, 96, 2048, 5632};
    static const int64_t rows[] = {1, 5, 37, 64};
    for (int ti = 0; ti < 5; ti++) {
        if (types[ti] == CALGAE_TYPE_Q4_1 && (ref->struct_size < sizeof(calgae_plugin) ||
                                              !ref->matvec_q4_1 || !cand->matvec_q4_1))
            continue; /* a plugin older than ABI 1.1 */
        struct stats st = {0, 0, 0};
        for (int ci = 0; ci < 5; ci++)
            for (int ri = 0; ri < 4; ri++)
                for (int rep = 0; rep < 3; rep++)
                    test_product(types[ti], rows[ri], is_block(types[ti]) ? bcols[ci] : fcols[ci], &st);
        printf("%-4s products: %ld outputs (matvec = matmul bit for bit, n_tok 1..7, odd row "
               "ranges); max |avx2 - scalar| = %.3f of the bound, = %.2e * S * sqrt(k)\n",
               type_name(types[ti]), st.outputs, st.worst, st.worst_sqrt);
    }
}

/* ---- small ops ---- */

static double rel(float a, float s)
{
    if (isnan(a) || isnan(s))
        return isnan(a) && isnan(s) ? 0 : INFINITY;
    if (a == s)
        return 0;
    return fabs((double)a - s) / fmax(fabs((double)s), 1e-30);
}

static void test_ops(void)
{
    static const int64_t sizes[] = {1, 3, 7, 8, 9, 33, 64, 100, 288, 2048, 5632};
    float *a = malloc(6000 * sizeof *a), *b = malloc(6000 * sizeof *b), *c = malloc(6000 * sizeof *c);
    float *w = malloc(6000 * sizeof *w), *o1 = malloc(6000 * sizeof *o1), *o2 = malloc(6000 * sizeof *o2);
    double rms = 0, sm = 0, sw = 0, dot = 0;
    int exact_rope = 1, exact_axpy = 1;
    for (int si = 0; si < 11; si++) {
        const int64_t n = sizes[si];
        for (int64_t i = 0; i < n; i++) {
            a[i] = gauss() * 3;
            b[i] = gauss() * 4;
            w[i] = gauss();
        }
        ref->rmsnorm(o1, a, w, n, 1e-5f);
        cand->rmsnorm(o2, a, w, n, 1e-5f);
        for (int64_t i = 0; i < n; i++)
            rms = fmax(rms, rel(o2[i], o1[i]));
        memcpy(o1, b, (size_t)n * 4);
        memcpy(o2, b, (size_t)n * 4);
        ref->softmax(o1, n);
        cand->softmax(o2, n);
        for (int64_t i = 0; i < n; i++)
            sm = fmax(sm, rel(o2[i], o1[i]));
        /* swiglu over the whole range, extremes and NaN included */
        for (int64_t i = 0; i < n; i++)
            c[i] = i % 17 == 5 ? (i % 2 ? 120.0f : -120.0f) : i % 31 == 7 ? NAN : gauss() * 6;
        memcpy(o1, c, (size_t)n * 4);
        memcpy(o2, c, (size_t)n * 4);
        ref->swiglu(o1, b, n);
        cand->swiglu(o2, b, n);
        for (int64_t i = 0; i < n; i++)
            sw = fmax(sw, rel(o2[i], o1[i]));
        double S = 0;
        for (int64_t i = 0; i < n; i++)
            S += fabs((double)a[i] * b[i]);
        dot = fmax(dot, fabs((double)cand->dot_f32(a, b, n) - ref->dot_f32(a, b, n)) / (S * sqrt((double)n)));
        memcpy(o1, w, (size_t)n * 4);
        memcpy(o2, w, (size_t)n * 4);
        ref->axpy_f32(o1, 0.37f, a, n);
        cand->axpy_f32(o2, 0.37f, a, n);
        exact_axpy &= memcmp(o1, o2, (size_t)n * 4) == 0;
    }
    static const int64_t rots[][2] = {{64, 64}, {48, 48}, {64, 30}, {8, 2}, {6, 6}};
    for (int k = 0; k < 5; k++) {
        const int64_t hs = rots[k][0], nrot = rots[k][1], heads = 3;
        for (int64_t i = 0; i < heads * hs; i++)
            o1[i] = o2[i] = gauss();
        for (int64_t i = 0; i < nrot; i++)
            c[i] = gauss();
        ref->rope(o1, heads, hs, nrot, c);
        cand->rope(o2, heads, hs, nrot, c);
        exact_rope &= memcmp(o1, o2, (size_t)(heads * hs) * 4) == 0;
    }
    check(rms <= 2e-6, "rmsnorm: relative difference %.3g > 2e-6", rms);
    check(sm <= 1e-5, "softmax: relative difference %.3g > 1e-5", sm);
    check(sw <= 1e-6, "swiglu: relative difference %.3g > 1e-6", sw);
    check(dot <= 1e-6, "dot_f32: difference %.3g * S * sqrt(n) > 1e-6", dot);
    check(exact_rope, "rope differs from scalar");
    check(exact_axpy, "axpy_f32 differs from scalar");
    printf("rmsnorm: max relative difference %.2e (limit 2e-6)\n", rms);
    printf("softmax: max relative difference %.2e (limit 1e-5; sums of up to 5632 terms)\n", sm);
    printf("swiglu: max relative difference %.2e (limit 1e-6; +-120 and NaN included)\n", sw);
    printf("dot_f32: max difference %.2e * S * sqrt(n) (limit 1e-6)\n", dot);
    printf("rope: %s; axpy_f32: %s\n", exact_rope ? "bit for bit equal" : "DIFFER",
           exact_axpy ? "bit for bit equal" : "DIFFER");
    free(a);
    free(b);
    free(c);
    free(w);
    free(o1);
    free(o2);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: avx2_compare SCALAR.so AVX2.so [--seed N] [--full-exp]\n");
        return 2;
    }
    int full_exp = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--full-exp") == 0)
            full_exp = 1;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            rng = strtoull(argv[++i], NULL, 10);
    }
    ref = open_plugin(argv[1]);
    cand = open_plugin(argv[2]);
    char why[200] = "";
    if (cand->probe && !cand->probe(why, sizeof why)) {
        printf("skipped: %s cannot run here: %s\n", argv[2], why);
        return 77;
    }
    test_quantize();
    test_products();
    test_ops();
    float worst_x;
    double ulp = avx2_exp_max_ulp(-104.0f, 89.0f, full_exp ? 1 : 251, &worst_x);
    check(ulp >= 0 && ulp <= 2.0, "exp8: %.3f ulps at x = %.9g (limit 2)", ulp, worst_x);
    printf("exp8: max error %.3f ulp (at x = %.9g) over %s float in [-104, 89]; NaN/Inf/ends ok: %s\n",
           ulp, worst_x, full_exp ? "every" : "every 251st", ulp >= 0 ? "yes" : "NO");
    printf("%s\n", failures ? "avx2_compare: FAILED" : "avx2_compare: all checks passed");
    return failures ? 1 : 0;
}
