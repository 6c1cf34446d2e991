/*
 * simd.h - small AVX2 helpers shared by the kernel files of the avx2 plugin. Include it only
 * from files compiled with -mavx2 -mfma -mf16c (see CMakeLists.txt): every function here is
 * an AVX instruction sequence.
 */
#ifndef CALGAE_AVX2_SIMD_H
#define CALGAE_AVX2_SIMD_H

#include <immintrin.h>

#include "calgae_plugin.h"

#define AVX2_INLINE static inline __attribute__((always_inline))

/* Sum of the 8 lanes in a fixed order: every kernel reduces a row's accumulator this way,
 * so a row's value never depends on which kernel or tile computed it. */
AVX2_INLINE float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The first n (< 8) floats of p, zeros after: loads a row's tail without touching memory past
 * its end (maskload skips masked lanes, so sanitizers and page ends are safe). */
AVX2_INLINE __m256 load_tail_ps(const float *p, int n)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx));
}

/*
 * e^x for 8 floats. Cody-Waite reduction x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in a
 * 9-bit head, so n * head is exact, and a tail), Cephes expf's polynomial for
 * (e^r - 1 - r) / r^2 evaluated with FMA, then 2^n applied as two factors 2^(n/2) so that
 * results that overflow or land in the subnormal range round once, like expf's.
 * The input is clamped to [-104, 89]: below, e^x rounds to 0; above, to +Inf. The clamp keeps
 * NaN (min/max return their second operand when one is NaN), and NaN flows through.
 */
AVX2_INLINE __m256 exp8(__m256 x)
{
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2_hi = _mm256_set1_ps(0.693359375f), ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, ln2_hi, x);
    r = _mm256_fnmadd_ps(n, ln2_lo, r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    const __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    /* n in [-150, 128]: each half in [-75, 64] is a normal power of two */
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(e, s1), s2);
}

#endif
