/*
 * avx512_x16f.c - F32 and F16 products on the avx512 plugin's x16 float layout (avx512_x16.h):
 * 16 rows interleaved per column, so that one vector holds column k of 16 rows.
 *
 * Why: in the stored layout a vector holds 16 columns of one row, and each output ends in a
 * horizontal sum; a batch of tokens then needs a load of the weight and one of each token per
 * FMA, and the products ran at a third of OpenBLAS's rate. With column k of 16 rows in one
 * vector, a token contributes through one broadcast of x[k] (an embedded {1to16} operand):
 * y[16 rows] += w[k] * x[k], as a GEMM micro-kernel does. A tile of up to 2 groups x 8 tokens
 * keeps 16 accumulators in registers; the tokens' activations are rewritten once per call into
 * column-major panels (x[k] of the tile's tokens side by side), so the hot loop reads one
 * stream of activations and one or two of weights.
 *
 * Numerics: each (row, token) is a sum over k in order, one FMA per term, the same sequence for
 * matvec and matmul and any row range or thread count. It differs from the scalar reference
 * only in rounding each product into the sum (FMA) instead of separately, well inside the
 * suite's bound of a few ulps of the sum of |terms|.
 */
#include <stdlib.h>
#include <string.h>

#include "avx512_isa.h"
#include "avx512_kernels.h"
#include "avx512_x16.h"
#include "avx512_x16_tile.h"

#define TMAX 8 /* tokens per tile */


/* column k of the 16 rows of a group, as floats */
AVX512_INLINE __m512 col16(const uint8_t *grp, int f16, int64_t k)
{
    if (f16)
        return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(grp + (size_t)k * 32)));
    return _mm512_load_ps((const void *)(grp + (size_t)k * 64));
}

/* acc[r * T + t] = groups grp[r] (R of them) against T tokens whose activations are the
 * column-major panel xp (xp[k * T + t] = token t's x[k]). */
AVX512_INLINE void kern_f(const uint8_t *const *grp, const int R, int f16, int64_t cols,
                          const float *xp, const int T, __m512 *acc)
{
UNROLL(16)
    for (int k = 0; k < R * T; k++)
        acc[k] = _mm512_setzero_ps();
    for (int64_t k = 0; k < cols; k++, xp += T) {
        __m512 w[4];
UNROLL(4)
        for (int r = 0; r < R; r++)
            w[r] = col16(grp[r], f16, k);
UNROLL(8)
        for (int t = 0; t < T; t++) {
            const __m512 xb = _mm512_set1_ps(xp[t]);
UNROLL(4)
            for (int r = 0; r < R; r++)
                acc[r * T + t] = _mm512_fmadd_ps(w[r], xb, acc[r * T + t]);
        }
    }
}

AVX512_INLINE void tile_f(const x16_weight *p, const int64_t *g, const int R, int64_t cols,
                          const float *xp, const int T, int64_t r0, int64_t r1, float *y,
                          int64_t t0, int64_t ys)
{
    const uint8_t *grp[4];
    for (int r = 0; r < R; r++)
        grp[r] = p->mem + (size_t)g[r] * p->group_bytes;
    __m512 acc[4 * TMAX];
    if (p->type == CALGAE_TYPE_F16)
        kern_f(grp, R, 1, cols, xp, T, acc);
    else
        kern_f(grp, R, 0, cols, xp, T, acc);
    for (int r = 0; r < R; r++)
        x16_store_group(acc + r * T, T, g[r], r0, r1, y, t0, ys);
}

int calgae_avx512_x16f_x16_matvec(const calgae_weight *w, const void *x, float *y, int64_t r0,
                              int64_t r1)
{
    const x16_weight *p = w->prepared;
    const int64_t cols = w->cols;
    /* 4 groups at once, one from each quarter of the range: 4 sequential streams and 4
     * independent FMA chains */
    const int64_t g0 = r0 / X16_ROWS, g1 = (r1 + X16_ROWS - 1) / X16_ROWS, q = (g1 - g0) / 4;
    for (int64_t i = 0; i < q; i++) {
        const int64_t g[4] = {g0 + i, g0 + q + i, g0 + 2 * q + i, g0 + 3 * q + i};
        tile_f(p, g, 4, cols, x, 1, r0, r1, y, 0, 0);
    }
    for (int64_t g = g0 + 4 * q; g < g1; g++)
        tile_f(p, &g, 1, cols, x, 1, r0, r1, y, 0, 0);
    return CALGAE_KERNEL_OK;
}

/* Tokens [t0, t0 + T) (panel xp) against groups g, g + 1 when two are left in the range. */
static void tile_tokens_f(const x16_weight *p, const int64_t *g, int R, int64_t cols,
                          const float *xp, int T, int64_t r0, int64_t r1, float *y, int64_t t0,
                          int64_t ys)
{
#define TF_CASE(n)                                                                                \
    case n:                                                                                       \
        if (R == 2)                                                                               \
            tile_f(p, g, 2, cols, xp, n, r0, r1, y, t0, ys);                                      \
        else                                                                                      \
            tile_f(p, g, 1, cols, xp, n, r0, r1, y, t0, ys);                                      \
        break;
    switch (T) {
        TF_CASE(8)
        TF_CASE(7)
        TF_CASE(6)
        TF_CASE(5)
        TF_CASE(4)
        TF_CASE(3)
        TF_CASE(2)
    default:
        tile_f(p, g, 1, cols, xp, 1, r0, r1, y, t0, ys);
        if (R == 2)
            tile_f(p, g + 1, 1, cols, xp, 1, r0, r1, y, t0, ys);
        break;
    }
#undef TF_CASE
}

int calgae_avx512_x16f_x16_matmul(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                              float *y, int64_t ys, int64_t r0, int64_t r1)
{
    const x16_weight *p = w->prepared;
    const int64_t cols = w->cols;
    if (n_tok <= 0 || (size_t)n_tok > SIZE_MAX / sizeof(float) / (size_t)cols)
        return CALGAE_KERNEL_DECLINED;
    float *xp = aligned_alloc(64, ((size_t)n_tok * (size_t)cols * sizeof(float) + 63) / 64 * 64);
    if (!xp)
        return CALGAE_KERNEL_DECLINED;
    /* panels of TMAX tokens (the last one shorter), column-major inside */
    for (int64_t t0 = 0; t0 < n_tok; t0 += TMAX) {
        const int T = n_tok - t0 < TMAX ? (int)(n_tok - t0) : TMAX;
        float *panel = xp + (size_t)t0 * (size_t)cols;
        for (int t = 0; t < T; t++) {
            const float *xt = (const float *)(const void *)((const char *)x + (size_t)(t0 + t) * xs);
            for (int64_t k = 0; k < cols; k++)
                panel[k * T + t] = xt[k];
        }
    }
    /* pairs of groups outside, panels inside: the pair's weights stay in L2 for all tokens */
    const int64_t g0 = r0 / X16_ROWS, g1 = (r1 + X16_ROWS - 1) / X16_ROWS;
    for (int64_t g = g0; g < g1; g += 2) {
        const int64_t pair[2] = {g, g + 1};
        const int R = g + 1 < g1 ? 2 : 1;
        for (int64_t t0 = 0; t0 < n_tok; t0 += TMAX) {
            const int T = n_tok - t0 < TMAX ? (int)(n_tok - t0) : TMAX;
            tile_tokens_f(p, pair, R, cols, xp + (size_t)t0 * (size_t)cols, T, r0, r1, y, t0, ys);
        }
    }
    free(xp);
    return CALGAE_KERNEL_OK;
}
