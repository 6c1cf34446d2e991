/*
 * quantize.c - the avx2 plugin's quantize_q8_0: floats to Q8_0 activation blocks, byte for
 * byte what calgae_quantize_q8_0_ref (ggml's quantize_row_q8_0_ref) produces.
 *
 * Every step is an IEEE operation the reference performs too, so the bytes match exactly:
 * max|x| is order-independent (lanes only ever hold non-NaN values; _mm256_max_ps(a, m) keeps
 * m when a is NaN, as the reference's `a > amax ? a : amax` does), d = amax / 127 and 1 / d are
 * computed in scalar as the reference does, x * id is the same float multiply, and rounding
 * half away from zero is the reference's trunc-and-compare (trunc(v) and v - trunc(v) are exact).
 * The scale's binary16 form comes from the header's own converter.
 *
 * Where x * id is not finite (x NaN; a block with an infinity, where d = Inf and id = 0; a
 * block so tiny that 1 / d overflows) the reference converts NaN or Inf to int, which C leaves
 * undefined. Those elements are 0 here (which is also what the reference gives for NaN on
 * x86); all other inputs give the reference's bytes.
 */
#include <math.h>

#include "kernels.h"
#include "simd.h"

static float block_amax(const float *x)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < CALGAE_QK; j += 8)
        m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask), m);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* x * id rounded half away from zero, as integers; 0 where x * id is not finite */
static __m256i quantize8(const float *x, __m256 id)
{
    const __m256 half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), id);
    /* |v| < Inf is false for Inf and (ordered compare) for NaN */
    v = _mm256_and_ps(v, _mm256_cmp_ps(_mm256_and_ps(v, abs_mask), _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_sub_ps(v, t);
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), one);
    const __m256 down = _mm256_and_ps(_mm256_cmp_ps(frac, mhalf, _CMP_LE_OQ), one);
    return _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(t, up), down));
}

void avx2_quantize_q8_0(const float *x, void *out, int64_t n)
{
    calgae_block_q8_0 *y = out;
    /* packs interleaves 128-bit lanes; this puts the 8 groups of 4 bytes back in order */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < n / CALGAE_QK; b++) {
        const float *xb = x + b * CALGAE_QK;
        const float d = block_amax(xb) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = calgae_fp32_to_fp16(d);
        const __m256 vid = _mm256_set1_ps(id);
        const __m256i q0 = quantize8(xb, vid), q1 = quantize8(xb + 8, vid);
        const __m256i q2 = quantize8(xb + 16, vid), q3 = quantize8(xb + 24, vid);
        __m256i q = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
        q = _mm256_permutevar8x32_epi32(q, order);
        _mm256_storeu_si256((__m256i *)(void *)y[b].qs, q);
    }
}
