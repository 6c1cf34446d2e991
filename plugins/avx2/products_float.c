/*
 * products_float.c - the avx2 plugin's F32, F16 and BF16 (ABI 1.4) products (matvec, matmul)
 * and the two vector ops of attention, dot_f32 and axpy_f32 (calgae_plugin.h).
 *
 * Each (row, token) dot product runs in one 8-lane accumulator, 8 columns per FMA, then a
 * zero-padded tail of cols % 8 (read with maskload for F32, through a small copy for F16, never
 * past the row's end), then the fixed lane reduction of simd.h. Against the scalar plugin's
 * left-to-right float sum the only differences are FMA (one rounding instead of two) and the
 * order: each lane sums n / 8 terms, so the error relative to sum |a_i b_i| is about
 * (n / 8 + 3) ulps at worst and typically ~sqrt(n) * 1e-7. NaN and Inf propagate as in the
 * scalar loop (a NaN anywhere in a row or the activation gives a NaN).
 *
 * A matvec reads every weight once and is bound by memory, so 4 rows share each activation
 * load and keep 4 independent FMA chains busy, the rows a quarter of the range apart; matmul
 * uses tiles of 4 rows x 3 tokens (12 accumulators, 3 activations and a weight in the 16 YMM
 * registers). The per-(row, token) instruction sequence is the same in every tile, so results
 * do not depend on row ranges, thread counts, or matvec versus matmul.
 */
#include "kernels.h"
#include "simd.h"

#define MAX_TILE 4

/* The weight type of a float row (the kind argument below). BF16 weights widen exactly; x stays
 * binary32 (the slot's contract; ggml would round it to BF16 first). */
enum { ROW_F32 = 0, ROW_F16 = 1, ROW_BF16 = 2 };

/* F16 row tail: the first n (< 8) halves of p as floats, zeros after */
AVX2_INLINE __m256 load_tail_ph(const calgae_fp16 *p, int n)
{
    calgae_fp16 buf[8] = {0};
    memcpy(buf, p, (size_t)n * sizeof *p);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)buf));
}

AVX2_INLINE __m256 load8_ph(const calgae_fp16 *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* 8 BF16 as floats: each is the high half of its binary32 */
AVX2_INLINE __m256 load8_bf16(const calgae_bf16 *p)
{
    const __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AVX2_INLINE __m256 load_tail_bf16(const calgae_bf16 *p, int n)
{
    calgae_bf16 buf[8] = {0};
    memcpy(buf, p, (size_t)n * sizeof *p);
    return load8_bf16(buf);
}

/* 8 weights of a row from element c, or its first rest < 8 (rest 0: all 8) */
AVX2_INLINE __m256 load_w(const int kind, const char *row, int64_t c, int rest)
{
    if (kind == ROW_BF16)
        return rest ? load_tail_bf16((const calgae_bf16 *)(const void *)row + c, rest)
                    : load8_bf16((const calgae_bf16 *)(const void *)row + c);
    if (kind == ROW_F16)
        return rest ? load_tail_ph((const calgae_fp16 *)(const void *)row + c, rest)
                    : load8_ph((const calgae_fp16 *)(const void *)row + c);
    return rest ? load_tail_ps((const float *)(const void *)row + c, rest)
                : _mm256_loadu_ps((const float *)(const void *)row + c);
}

/* y[(t0 + t) * ys + r + i rs] = dot(W[r + i rs], x_(t0 + t)) for i < nr, t < nt (constants
 * after inlining); kind picks the weight type. */
AVX2_INLINE void float_tile(const calgae_weight *w, const int kind, int64_t r, int64_t rs,
                            const int nr, const float *x, size_t xs, int64_t t0, const int nt,
                            float *y, int64_t ys)
{
    const int64_t n = w->cols, n8 = n & ~(int64_t)7;
    const char *wr[MAX_TILE];
    const float *xt[MAX_TILE];
    __m256 acc[MAX_TILE][MAX_TILE];
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
        wr[i] = (const char *)w->data + (size_t)(r + i * rs) * w->row_bytes;
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        xt[t] = (const float *)(const void *)((const char *)x + (size_t)(t0 + t) * xs);
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            acc[i][t] = _mm256_setzero_ps();

    for (int64_t c = 0; c < n8; c += 8) {
        __m256 xv[MAX_TILE];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            xv[t] = _mm256_loadu_ps(xt[t] + c);
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++) {
            const __m256 wv = load_w(kind, wr[i], c, 0);
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                acc[i][t] = _mm256_fmadd_ps(wv, xv[t], acc[i][t]);
        }
    }
    if (n8 < n) {
        const int rest = (int)(n - n8);
        __m256 xv[MAX_TILE];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            xv[t] = load_tail_ps(xt[t] + n8, rest);
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++) {
            const __m256 wv = load_w(kind, wr[i], n8, rest);
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                acc[i][t] = _mm256_fmadd_ps(wv, xv[t], acc[i][t]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            y[(t0 + t) * ys + r + i * rs] = hsum_ps(acc[i][t]);
}

/* A tile's 4 rows come from the 4 quarters of the range, so that they are 4 long streams
 * (see products_block.c's matvec_rows): F16 streamed 40% faster so than with adjacent rows. */
AVX2_INLINE int float_matvec(const calgae_weight *w, const int kind, const float *x, float *y,
                             int64_t r0, int64_t r1)
{
    const int64_t q = (r1 - r0) / 4;
    for (int64_t t = 0; t < q; t++)
        float_tile(w, kind, r0 + t, q, 4, x, 0, 0, 1, y, 0);
    for (int64_t r = r0 + q * 4; r < r1; r++)
        float_tile(w, kind, r, 1, 1, x, 0, 0, 1, y, 0);
    return CALGAE_KERNEL_OK;
}

#define MM_NR 4
#define MM_NT 3

AVX2_INLINE int float_matmul(const calgae_weight *w, const int kind, const float *x, size_t xs,
                             int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + MM_NR <= r1; r += MM_NR) {
        int64_t t = 0;
        for (; t + MM_NT <= n_tok; t += MM_NT)
            float_tile(w, kind, r, 1, MM_NR, x, xs, t, MM_NT, y, ys);
        for (; t < n_tok; t++)
            float_tile(w, kind, r, 1, MM_NR, x, xs, t, 1, y, ys);
    }
    for (; r < r1; r++) {
        int64_t t = 0;
        for (; t + MM_NT <= n_tok; t += MM_NT)
            float_tile(w, kind, r, 1, 1, x, xs, t, MM_NT, y, ys);
        for (; t < n_tok; t++)
            float_tile(w, kind, r, 1, 1, x, xs, t, 1, y, ys);
    }
    return CALGAE_KERNEL_OK;
}

int avx2_matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return float_matvec(w, ROW_F32, x, y, r0, r1);
}

int avx2_matvec_f16(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return float_matvec(w, ROW_F16, x, y, r0, r1);
}

int avx2_matmul_f32(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                    int64_t ys, int64_t r0, int64_t r1)
{
    return float_matmul(w, ROW_F32, x, xs, n_tok, y, ys, r0, r1);
}

int avx2_matmul_f16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                    int64_t ys, int64_t r0, int64_t r1)
{
    return float_matmul(w, ROW_F16, x, xs, n_tok, y, ys, r0, r1);
}

int avx2_matvec_bf16(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    if (w->type != CALGAE_TYPE_BF16)
        return CALGAE_KERNEL_DECLINED;
    return float_matvec(w, ROW_BF16, x, y, r0, r1);
}

int avx2_matmul_bf16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                     int64_t ys, int64_t r0, int64_t r1)
{
    if (w->type != CALGAE_TYPE_BF16)
        return CALGAE_KERNEL_DECLINED;
    return float_matmul(w, ROW_BF16, x, xs, n_tok, y, ys, r0, r1);
}

/* Attention scores: short vectors (a head, 64 floats for TinyLlama), so two accumulators are
 * enough to hide the FMA latency. */
float avx2_dot_f32(const float *a, const float *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < n)
        s1 = _mm256_fmadd_ps(load_tail_ps(a + i, (int)(n - i)), load_tail_ps(b + i, (int)(n - i)), s1);
    return hsum_ps(_mm256_add_ps(s0, s1));
}

/* y += a * x with a separate multiply and add, as the scalar loop rounds it: the attention
 * output then matches the reference bit for bit, for the price of nothing measurable. */
void avx2_axpy_f32(float *y, float a, const float *x, int64_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++)
        y[i] += a * x[i];
}
