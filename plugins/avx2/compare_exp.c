/*
 * compare_exp.c - the accuracy check of simd.h's exp8 for compare.c, against exp() in double
 * (the true value to 53 bits). Compiled with the kernels' AVX flags, so compare.c calls it only
 * after the plugin's probe said this CPU runs AVX2.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "simd.h"

double avx2_exp_max_ulp(float lo, float hi, uint32_t step, float *worst_x);

/* spacing of floats around v (v finite, >= 0) */
static double float_ulp(double v)
{
    if (v < 0x1p-126)
        return 0x1p-149;
    int e;
    frexp(v, &e); /* v = m * 2^e, m in [0.5, 1) */
    return ldexp(1.0, e - 24);
}

struct walk {
    float xs[8];
    int k;
    double max_ulp;
    float worst_x;
};

static void flush(struct walk *w)
{
    float out[8];
    for (int i = w->k; i < 8; i++)
        w->xs[i] = 0.0f;
    _mm256_storeu_ps(out, exp8(_mm256_loadu_ps(w->xs)));
    for (int i = 0; i < w->k; i++) {
        const double ref = exp((double)w->xs[i]);
        double err;
        if (ref >= 0x1.ffffffp127) /* the float nearest is +Inf */
            err = isinf(out[i]) ? 0 : 1e9;
        else
            err = fabs((double)out[i] - ref) / float_ulp(ref);
        if (err > w->max_ulp) {
            w->max_ulp = err;
            w->worst_x = w->xs[i];
        }
    }
    w->k = 0;
}

/* every step-th float of magnitude <= mag, with the given sign */
static void walk_half(struct walk *w, float mag, float sign, uint32_t step)
{
    uint32_t top;
    memcpy(&top, &mag, sizeof top);
    for (uint64_t u = 0; u <= top; u += step) {
        const uint32_t bits = (uint32_t)u;
        float m;
        memcpy(&m, &bits, sizeof m);
        w->xs[w->k++] = sign * m;
        if (w->k == 8)
            flush(w);
    }
    if (w->k)
        flush(w);
}

/* Max error of exp8 in ulps of the true value over floats in [lo, hi] (lo < 0 < hi), every
 * step-th one; -1 if NaN, +-Inf or the clamped ends come out wrong. */
double avx2_exp_max_ulp(float lo, float hi, uint32_t step, float *worst_x)
{
    struct walk w = {.k = 0, .max_ulp = 0, .worst_x = 0};
    walk_half(&w, -lo, -1.0f, step);
    walk_half(&w, hi, 1.0f, step);
    *worst_x = w.worst_x;
    const float special[8] = {NAN, INFINITY, -INFINITY, 89.0f, 100.0f, -104.0f, -200.0f, 0.0f};
    float out[8];
    _mm256_storeu_ps(out, exp8(_mm256_loadu_ps(special)));
    if (!isnan(out[0]) || !isinf(out[1]) || out[2] != 0.0f || !isinf(out[3]) || !isinf(out[4]) ||
        out[5] != 0.0f || out[6] != 0.0f || out[7] != 1.0f)
        return -1;
    return w.max_ulp;
}
