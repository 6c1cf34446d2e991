/*
 * conformance.c - the kernel conformance suite (the rules and tolerances are in conformance.h):
 * the driver, quantize_q8_0 and the vector ops; the products are in conformance_products.c,
 * the result checks in conformance_result.c.
 *
 * Every input comes from a splitmix64 stream seeded per slot, so a failure is reproduced by the
 * seed alone and one slot's inputs do not depend on how many cases another slot ran. Buffers
 * are allocated to their exact size, so in a sanitizer build a kernel reading past its input
 * is caught too. Plain C17 plus libm: no host code, no threads.
 */
#include <math.h>
#include <stdarg.h>

#include "conformance_internal.h"



static void test_quantize(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    void (*fp)(const float *, void *, int64_t) = SLOT(p, quantize_q8_0);
    void (*fr)(const float *, void *, int64_t) = SLOT(ref, quantize_q8_0);
    static const int64_t sizes[] = {32, 64, 96, 2048};
    static const char *const kinds[] = {"random", "zeros", "large", "tiny", "ties"};
    int ties = 0;
    a->r->tol = 1; /* at ties only */
    for (int k = 0; k < 5; k++)
        for (int si = 0; si < 4; si++) {
            const int64_t n = sizes[si], nb = n / CALGAE_QK;
            float *x = alloc_f(n);
            for (int64_t b = 0; b < nb; b++) {
                float *xb = x + b * CALGAE_QK;
                /* one block scale per block: the blocks of a row are quantized independently */
                double s = k == 0 ? ldexp(1.0, (int)rnd_int(g, 21) - 10)
                         : k == 2 ? (b & 1 ? 1e7 : 1e5) /* 1e7 / 127 overflows fp16 to Inf */
                         : 1e-30;                       /* k == 3: 1/d stays finite */
                for (int j = 0; j < CALGAE_QK; j++)
                    xb[j] = k == 1 ? 0.0f : rnd_pm(g, 0, s);
                if (k == 3) { /* denormal members */
                    const int64_t j = rnd_int(g, CALGAE_QK);
                    xb[j] = rnd_pm(g, 1e-42, 1e-40);
                }
                if (k == 4) {
                    /* amax = 127 gives d = 1: every other value k + 0.5 is an exact tie */
                    for (int j = 0; j < CALGAE_QK; j++)
                        xb[j] = (float)(rnd_int(g, 252) - 126) + 0.5f;
                    const int64_t j = rnd_int(g, CALGAE_QK);
                    xb[j] = rnd_u64(g) & 1 ? 127.0f : -127.0f;
                    xb[rnd_int(g, CALGAE_QK)] = -0.0f;
                }
            }
            calgae_block_q8_0 *qp = malloc((size_t)(nb + 1) * sizeof *qp), *qr = malloc((size_t)nb * sizeof *qr);
            if (!qp || !qr)
                abort();
            memset(qp, 0xa5, (size_t)(nb + 1) * sizeof *qp);
            fr(x, qr, n);
            fp(x, qp, n);
            a->r->cases++;
            snprintf(a->ctx, sizeof a->ctx, "%s n %lld", kinds[k], (long long)n);
            for (int64_t b = 0; b < nb; b++) {
                float amax = 0.0f;
                for (int j = 0; j < CALGAE_QK; j++)
                    amax = fmaxf(amax, fabsf(x[b * CALGAE_QK + j]));
                if (qp[b].d != qr[b].d)
                    conf_fail(a, "block %lld: d = 0x%04x, reference 0x%04x", (long long)b, qp[b].d,
                              qr[b].d);
                for (int j = 0; j < CALGAE_QK; j++) {
                    int dq = abs(qp[b].qs[j] - qr[b].qs[j]);
                    if (dq == 0)
                        continue;
                    double v = fabs((double)x[b * CALGAE_QK + j]) * 127.0 / (double)amax;
                    if (dq == 1 && fabs(v - floor(v) - 0.5) <= 0x1p-14) {
                        ties++;
                    } else {
                        conf_fail(a, "block %lld q[%d] = %d, reference %d", (long long)b, j,
                                  qp[b].qs[j], qr[b].qs[j]);
                    }
                    a->r->worst = fmax(a->r->worst, dq);
                }
            }
            const unsigned char *tail = (const unsigned char *)&qp[nb];
            for (size_t i = 0; i < sizeof *qp; i++)
                if (tail[i] != 0xa5) {
                    conf_fail(a, "wrote past block %lld", (long long)nb - 1);
                    break;
                }
            free(x);
            free(qp);
            free(qr);
        }
    a->ctx[0] = '\0';
    if (ties && a->r->status != CALGAE_CONF_FAIL)
        snprintf(a->r->detail, sizeof a->r->detail, "%d exact or near ties rounded the other way", ties);
}

/* ---- vector ops ------------------------------------------------------------------------ */

static const int64_t vec_sizes[] = {1, 7, 33, 100, 2048};

/* A vector of n values of one kind: 0 random, 1 zeros, 2 large, 3 denormal, 4 one NaN,
 * 5 one +Inf. */
static void fill_vec(rng_t *g, float *x, int64_t n, int kind, double scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = kind == 1   ? 0.0f
             : kind == 2   ? rnd_pm(g, scale * 100, scale * 1000)
             : kind == 3   ? (float)ldexp((double)(rnd_int(g, 2049) - 1024), -149)
                           : rnd_pm(g, 0, scale);
    if (kind == 4 || kind == 5)
        x[rnd_int(g, n)] = kind == 4 ? NAN : INFINITY;
}

static void test_rmsnorm(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    void (*fp)(float *, const float *, const float *, int64_t, float) = SLOT(p, rmsnorm);
    void (*fr)(float *, const float *, const float *, int64_t, float) = SLOT(ref, rmsnorm);
    for (int k = 0; k < 5; k++) /* x: random, zeros, large, denormal, NaN */
        for (int si = 0; si < 5; si++) {
            const int64_t n = vec_sizes[si];
            const float eps = si % 2 ? 1e-6f : 1e-5f;
            float *x = alloc_f(n), *w = alloc_f(n), *yr = alloc_f(n), *y = alloc_f(n + 4);
            fill_vec(g, x, n, k, k == 2 ? 1e3 : 1.0);
            for (int64_t i = 0; i < n; i++)
                w[i] = rnd_pm(g, 0.5, 1.5);
            fr(yr, x, w, n, eps);
            double ss = 0;
            for (int64_t i = 0; i < n; i++)
                ss += (double)x[i] * x[i];
            const double inv = 1.0 / sqrt(ss / (double)n + eps);
            for (int inplace = 0; inplace < 2; inplace++) {
                snprintf(a->ctx, sizeof a->ctx, "kind %d n %lld%s", k, (long long)n,
                         inplace ? " in place" : "");
                fill_sentinel(y, n + 4);
                if (inplace) {
                    memcpy(y, x, (size_t)n * sizeof *y);
                    fp(y, y, w, n, eps);
                } else {
                    fp(y, x, w, n, eps);
                }
                a->r->cases++;
                for (int64_t i = 0; i < n; i++)
                    if (!conf_check(a, "out", i, y[i], yr[i], fabs((double)w[i] * x[i] * inv),
                                    gam((double)n) + 16 * U, 0x1p-146))
                        break;
                conf_check_untouched(a, "out", y, NULL, n, n + 4);
            }
            free(x), free(w), free(yr), free(y);
        }
}

static void test_softmax(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    void (*fp)(float *, int64_t) = SLOT(p, softmax);
    void (*fr)(float *, int64_t) = SLOT(ref, softmax);
    static const char *const kinds[] = {"random", "large", "equal", "-Inf masks", "NaN"};
    for (int k = 0; k < 5; k++)
        for (int si = 0; si < 5; si++) {
            const int64_t n = vec_sizes[si];
            float *x = alloc_f(n), *yr = alloc_f(n), *y = alloc_f(n + 4);
            fill_vec(g, x, n, k == 1 ? 2 : 0, 10.0);
            for (int64_t i = 0; i < n && k == 2; i++)
                x[i] = 3.0f;
            for (int64_t i = 1; i < n && k == 3; i++) /* x[0] stays finite */
                x[i] = rnd_int(g, 3) ? x[i] : -INFINITY;
            if (k == 4)
                x[rnd_int(g, n)] = NAN;
            memcpy(yr, x, (size_t)n * sizeof *x);
            fr(yr, n);
            fill_sentinel(y, n + 4);
            memcpy(y, x, (size_t)n * sizeof *x);
            fp(y, n);
            a->r->cases++;
            snprintf(a->ctx, sizeof a->ctx, "%s n %lld", kinds[k], (long long)n);
            double mx = -HUGE_VAL, sum = 0;
            for (int64_t i = 0; i < n; i++)
                mx = fmax(mx, x[i]);
            for (int64_t i = 0; i < n; i++)
                sum += exp((double)x[i] - mx);
            for (int64_t i = 0; i < n; i++) {
                int masked = isinf(x[i]) && x[i] < 0; /* must be exactly 0 */
                if (!conf_check(a, "x", i, y[i], yr[i], exp((double)x[i] - mx) / sum,
                                masked ? 0 : 1e-5 + 2 * gam((double)n), masked ? 0 : 1e-30))
                    break;
            }
            conf_check_untouched(a, "x", y, NULL, n, n + 4);
            free(x), free(yr), free(y);
        }
}

static void test_swiglu(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    void (*fp)(float *, const float *, int64_t) = SLOT(p, swiglu);
    void (*fr)(float *, const float *, int64_t) = SLOT(ref, swiglu);
    /* kinds of gate: random, large (exp overflows), denormal, NaN (and NaN in up), +Inf */
    static const int kinds[] = {0, 2, 3, 4, 5};
    for (int ki = 0; ki < 5; ki++)
        for (int si = 0; si < 5; si++) {
            const int64_t n = vec_sizes[si];
            float *gate = alloc_f(n), *up = alloc_f(n), *yr = alloc_f(n), *y = alloc_f(n + 4);
            fill_vec(g, gate, n, kinds[ki], kinds[ki] == 2 ? 0.1 : 8.0);
            fill_vec(g, up, n, 0, 2.0);
            if (kinds[ki] == 4)
                up[rnd_int(g, n)] = NAN;
            memcpy(yr, gate, (size_t)n * sizeof *gate);
            fr(yr, up, n);
            fill_sentinel(y, n + 4);
            memcpy(y, gate, (size_t)n * sizeof *gate);
            fp(y, up, n);
            a->r->cases++;
            snprintf(a->ctx, sizeof a->ctx, "n %lld kind %d", (long long)n, kinds[ki]);
            for (int64_t i = 0; i < n; i++) {
                double v = gate[i], e = v / (1.0 + exp(-v)) * up[i];
                if (!conf_check(a, "gate", i, y[i], yr[i], fabs(e), 1e-5,
                                1e-30 * fmax(1.0, fabs(up[i]))))
                    break;
            }
            conf_check_untouched(a, "gate", y, NULL, n, n + 4);
            free(gate), free(up), free(yr), free(y);
        }
}

static void test_rope(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    void (*fp)(float *, int64_t, int64_t, int64_t, const float *) = SLOT(p, rope);
    void (*fr)(float *, int64_t, int64_t, int64_t, const float *) = SLOT(ref, rope);
    /* heads, head size, rotated dims: odd head counts, odd head sizes, partial rotation */
    static const int64_t shapes[][3] = {{1, 2, 2},  {1, 7, 6},    {3, 8, 8},    {3, 33, 32},
                                        {8, 16, 8}, {4, 100, 100}, {2, 64, 64}, {1, 2048, 2048}};
    for (int k = 0; k < 5; k++) /* x: random, exact angles, large, denormal, NaN */
        for (int si = 0; si < 8; si++) {
            const int64_t nh = shapes[si][0], hs = shapes[si][1], nr = shapes[si][2], n = nh * hs;
            float *x = alloc_f(n), *cs = alloc_f(nr), *yr = alloc_f(n), *y = alloc_f(n + 4);
            fill_vec(g, x, n, k == 2 ? 2 : k == 3 ? 3 : k == 4 ? 4 : 0, k == 2 ? 10.0 : 1.0);
            for (int64_t i = 0; i < nr / 2; i++) {
                double th = k == 1 ? (double)rnd_int(g, 4) * 1.5707963267948966
                                   : (double)rnd_f(g, -3.2, 3.2);
                cs[2 * i] = k == 1 ? (float)round(cos(th)) : (float)cos(th);
                cs[2 * i + 1] = k == 1 ? (float)round(sin(th)) : (float)sin(th);
            }
            memcpy(yr, x, (size_t)n * sizeof *x);
            fr(yr, nh, hs, nr, cs);
            fill_sentinel(y, n + 4);
            memcpy(y, x, (size_t)n * sizeof *x);
            fp(y, nh, hs, nr, cs);
            a->r->cases++;
            snprintf(a->ctx, sizeof a->ctx, "kind %d heads %lld head_size %lld n_rot %lld", k,
                     (long long)nh, (long long)hs, (long long)nr);
            for (int64_t i = 0; i < n; i++) {
                const int64_t h = i - i % hs, j = i % hs, pr = j & ~(int64_t)1;
                if (j >= nr) {
                    conf_check_untouched(a, "x", y, x, i, i + 1);
                    continue;
                }
                double sc = fabs((double)x[h + pr] * cs[pr]) + fabs((double)x[h + pr + 1] * cs[pr + 1]);
                if (!conf_check(a, "x", i, y[i], yr[i], sc, 4 * U, 0x1p-146))
                    break;
            }
            conf_check_untouched(a, "x", y, NULL, n, n + 4);
            free(x), free(cs), free(yr), free(y);
        }
}

static void test_dot(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    float (*fp)(const float *, const float *, int64_t) = SLOT(p, dot_f32);
    float (*fr)(const float *, const float *, int64_t) = SLOT(ref, dot_f32);
    for (int k = 0; k < 6; k++) /* random, zeros, large, denormal, NaN, +Inf */
        for (int si = 0; si < 5; si++) {
            const int64_t n = vec_sizes[si];
            float *x = alloc_f(n), *w = alloc_f(n);
            fill_vec(g, x, n, k, 1.0);
            for (int64_t i = 0; i < n; i++)
                w[i] = k == 3 ? rnd_small_int(g) : rnd_pm(g, 0.1, k == 2 ? 100 : 1);
            float got = fp(w, x, n), want = fr(w, x, n);
            a->r->cases++;
            snprintf(a->ctx, sizeof a->ctx, "kind %d n %lld", k, (long long)n);
            double s = 0, e = 0;
            for (int64_t i = 0; i < n; i++) {
                double term = (double)w[i] * x[i];
                s += isfinite(term) ? fabs(term) : 0;
                e += term;
            }
            if (k == 3 && (double)want != e)
                conf_fail(a, "denormals are flushed to zero in this process (-ffast-math?)");
            conf_check(a, "dot", 0, got, want, s, 2 * gam((double)n), (double)n * 0x1p-149);
            free(x), free(w);
        }
}

static void test_axpy(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    void (*fp)(float *, float, const float *, int64_t) = SLOT(p, axpy_f32);
    void (*fr)(float *, float, const float *, int64_t) = SLOT(ref, axpy_f32);
    for (int k = 0; k < 7; k++) /* x: random, zeros, large, denormal, NaN, +Inf; 6: a = NaN */
        for (int si = 0; si < 5; si++) {
            const int64_t n = vec_sizes[si];
            float *x = alloc_f(n), *y0 = alloc_f(n), *yr = alloc_f(n), *y = alloc_f(n + 4);
            fill_vec(g, x, n, k < 6 ? k : 0, 1.0);
            fill_vec(g, y0, n, k == 3 ? 3 : 0, k == 2 ? 1e5 : 1.0);
            float alpha = k == 6 ? NAN : k == 3 ? 2.0f : si == 0 ? 0.0f : rnd_pm(g, 0.1, 2);
            memcpy(yr, y0, (size_t)n * sizeof *y0);
            fr(yr, alpha, x, n);
            fill_sentinel(y, n + 4);
            memcpy(y, y0, (size_t)n * sizeof *y0);
            fp(y, alpha, x, n);
            a->r->cases++;
            snprintf(a->ctx, sizeof a->ctx, "kind %d n %lld a %g", k, (long long)n, alpha);
            for (int64_t i = 0; i < n; i++)
                if (!conf_check(a, "y", i, y[i], yr[i],
                                fabs((double)y0[i]) + fabs((double)alpha * x[i]),
                                4 * U, 0x1p-146))
                    break;
            conf_check_untouched(a, "y", y, NULL, n, n + 4);
            free(x), free(y0), free(yr), free(y);
        }
}

/* quantize_q8_k: bit for bit the reference's blocks (d, codes, group sums). Both sides form
 * iscale * x with one rounding and round it to nearest even, so no tie may differ. */
static void test_quantize_k(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g)
{
    void (*fp)(const float *, void *, int64_t) = SLOT(p, quantize_q8_k);
    void (*fr)(const float *, void *, int64_t) = SLOT(ref, quantize_q8_k);
    static const int64_t sizes[] = {256, 512, 2048, 5632};
    /* "tied": each block's largest magnitude twice, with both signs in a random order (the
     * first one's sign is the scale's); "subnormal": max below 127 / FLT_MAX, so -127 / max
     * overflows to an infinity and the reference's rounding of infinite products decides */
    static const char *const kinds[] = {"random", "zeros", "large", "tiny", "NaN/Inf block",
                                        "tied", "subnormal"};
    a->r->tol = 0;
    for (int k = 0; k < 7; k++)
        for (int si = 0; si < 4; si++) {
            const int64_t n = sizes[si], nb = n / CALGAE_QK_K;
            float *x = alloc_f(n);
            const double s = k == 0   ? ldexp(1.0, (int)rnd_int(g, 21) - 10)
                             : k == 2 ? 1e30
                             : k == 5 ? 1.0
                             : k == 6 ? 1e-38
                                      : 1e-30;
            for (int64_t i = 0; i < n; i++)
                x[i] = k == 1 ? 0.0f : rnd_pm(g, 0, s);
            if (k == 4)
                x[rnd_int(g, n)] = rnd_u64(g) & 1 ? NAN : -INFINITY;
            for (int64_t b = 0; k == 5 && b < nb; b++) {
                const float m = rnd_u64(g) & 1 ? 2.0f : -2.0f;
                x[b * CALGAE_QK_K + (int64_t)rnd_int(g, 128)] = m;
                x[b * CALGAE_QK_K + 128 + (int64_t)rnd_int(g, 128)] = -m;
            }
            const size_t bytes = (size_t)nb * sizeof(calgae_block_q8_k);
            unsigned char *qp = malloc(bytes + sizeof(calgae_block_q8_k)), *qr = malloc(bytes);
            if (!qp || !qr)
                abort();
            memset(qp, 0xa5, bytes + sizeof(calgae_block_q8_k));
            fr(x, qr, n);
            fp(x, qp, n);
            a->r->cases++;
            snprintf(a->ctx, sizeof a->ctx, "%s n %lld", kinds[k], (long long)n);
            if (memcmp(qp, qr, bytes) != 0) {
                int64_t i = 0;
                while (qp[i] == qr[i])
                    i++;
                conf_fail(a, "byte %lld (block %lld) = 0x%02x, reference 0x%02x", (long long)i,
                          (long long)(i / (int64_t)sizeof(calgae_block_q8_k)), qp[i], qr[i]);
            }
            for (size_t i = bytes; i < bytes + sizeof(calgae_block_q8_k); i++)
                if (qp[i] != 0xa5) {
                    conf_fail(a, "byte %zu written past the last block", i);
                    break;
                }
            free(x), free(qp), free(qr);
        }
}

/* ---- the suite ------------------------------------------------------------------------- */

/* Whether table t provides the slot at offset off (all slots are function pointers). */
static int present(const calgae_plugin *t, size_t off)
{
    void (*f)(void);
    if (off + sizeof f > t->struct_size)
        return 0;
    memcpy(&f, (const char *)t + off, sizeof f);
    return f != NULL;
}

const char *calgae_conf_status_name(int status)
{
    switch (status) {
    case CALGAE_CONF_PASS: return "pass";
    case CALGAE_CONF_FAIL: return "FAIL";
    case CALGAE_CONF_ABSENT: return "not provided";
    case CALGAE_CONF_DECLINED: return "declined";
    default: return "?";
    }
}

int calgae_conformance_run(const calgae_plugin *p, const calgae_plugin *ref, uint64_t seed,
                           calgae_conf_result *out, int max_out)
{
    enum { QUANT, PROD, OP };
#define ENTRY(f, what, type, matmul, op) {#f, offsetof(calgae_plugin, f), what, type, matmul, op}
    static const struct {
        const char *name;
        size_t off;
        int what;
        uint32_t type;
        int matmul;
        void (*op)(acc_t *, const calgae_plugin *, const calgae_plugin *, rng_t *);
    } suite[CALGAE_CONF_SLOTS] = {
        ENTRY(quantize_q8_0, QUANT, 0, 0, test_quantize),
        ENTRY(matvec_f32, PROD, CALGAE_TYPE_F32, 0, NULL),
        ENTRY(matvec_f16, PROD, CALGAE_TYPE_F16, 0, NULL),
        ENTRY(matvec_q8_0, PROD, CALGAE_TYPE_Q8_0, 0, NULL),
        ENTRY(matvec_q4_0, PROD, CALGAE_TYPE_Q4_0, 0, NULL),
        ENTRY(matmul_f32, PROD, CALGAE_TYPE_F32, 1, NULL),
        ENTRY(matmul_f16, PROD, CALGAE_TYPE_F16, 1, NULL),
        ENTRY(matmul_q8_0, PROD, CALGAE_TYPE_Q8_0, 1, NULL),
        ENTRY(matmul_q4_0, PROD, CALGAE_TYPE_Q4_0, 1, NULL),
        ENTRY(rmsnorm, OP, 0, 0, test_rmsnorm),
        ENTRY(softmax, OP, 0, 0, test_softmax),
        ENTRY(swiglu, OP, 0, 0, test_swiglu),
        ENTRY(rope, OP, 0, 0, test_rope),
        ENTRY(dot_f32, OP, 0, 0, test_dot),
        ENTRY(axpy_f32, OP, 0, 0, test_axpy),
        ENTRY(matvec_q4_1, PROD, CALGAE_TYPE_Q4_1, 0, NULL), /* ABI 1.1 */
        ENTRY(matmul_q4_1, PROD, CALGAE_TYPE_Q4_1, 1, NULL),
        ENTRY(quantize_q8_k, QUANT, 0, 0, test_quantize_k), /* ABI 1.3 */
        ENTRY(matvec_q4_k, PROD, CALGAE_TYPE_Q4_K, 0, NULL),
        ENTRY(matmul_q4_k, PROD, CALGAE_TYPE_Q4_K, 1, NULL),
        ENTRY(matvec_q6_k, PROD, CALGAE_TYPE_Q6_K, 0, NULL),
        ENTRY(matmul_q6_k, PROD, CALGAE_TYPE_Q6_K, 1, NULL),
        ENTRY(matvec_q5_k, PROD, CALGAE_TYPE_Q5_K, 0, NULL), /* ABI 1.4 */
        ENTRY(matmul_q5_k, PROD, CALGAE_TYPE_Q5_K, 1, NULL),
        ENTRY(matvec_q3_k, PROD, CALGAE_TYPE_Q3_K, 0, NULL),
        ENTRY(matmul_q3_k, PROD, CALGAE_TYPE_Q3_K, 1, NULL),
        ENTRY(matvec_q2_k, PROD, CALGAE_TYPE_Q2_K, 0, NULL),
        ENTRY(matmul_q2_k, PROD, CALGAE_TYPE_Q2_K, 1, NULL),
        ENTRY(matvec_iq4_xs, PROD, CALGAE_TYPE_IQ4_XS, 0, NULL),
        ENTRY(matmul_iq4_xs, PROD, CALGAE_TYPE_IQ4_XS, 1, NULL),
        ENTRY(matvec_q5_0, PROD, CALGAE_TYPE_Q5_0, 0, NULL),
        ENTRY(matmul_q5_0, PROD, CALGAE_TYPE_Q5_0, 1, NULL),
        ENTRY(matvec_q5_1, PROD, CALGAE_TYPE_Q5_1, 0, NULL),
        ENTRY(matmul_q5_1, PROD, CALGAE_TYPE_Q5_1, 1, NULL),
        ENTRY(matvec_iq4_nl, PROD, CALGAE_TYPE_IQ4_NL, 0, NULL),
        ENTRY(matmul_iq4_nl, PROD, CALGAE_TYPE_IQ4_NL, 1, NULL),
        ENTRY(matvec_bf16, PROD, CALGAE_TYPE_BF16, 0, NULL),
        ENTRY(matmul_bf16, PROD, CALGAE_TYPE_BF16, 1, NULL),
    };
#undef ENTRY
    int n = 0;
    for (int s = 0; s < CALGAE_CONF_SLOTS && n < max_out; s++) {
        calgae_conf_result *r = &out[n++];
        memset(r, 0, sizeof *r);
        r->slot = suite[s].name;
        if (!present(p, suite[s].off)) {
            r->status = CALGAE_CONF_ABSENT;
            continue;
        }
        if (!present(ref, suite[s].off)) {
            r->status = CALGAE_CONF_FAIL;
            snprintf(r->detail, sizeof r->detail, "the reference plugin does not provide it");
            continue;
        }
        acc_t a = {.r = r, .ratio = -1};
        rng_t g = {seed ^ (0x9e3779b97f4a7c15u * (uint64_t)(s + 1))};
        if (suite[s].what == PROD)
            conf_test_product(&a, p, ref, &g, suite[s].type, suite[s].matmul);
        else
            suite[s].op(&a, p, ref, &g);
        if (r->status != CALGAE_CONF_FAIL && r->cases > 0 && r->declined == r->cases)
            r->status = CALGAE_CONF_DECLINED;
        else if (r->status != CALGAE_CONF_FAIL && r->declined > 0 && !r->detail[0])
            snprintf(r->detail, sizeof r->detail, "declined %d of %d calls", r->declined, r->cases);
    }
    return n;
}
