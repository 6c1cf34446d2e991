/*
 * avx512_krows.h - what the avx512 plugin's stored-layout K-quant products share
 * (avx512_kquant_impl.h: Q4_K, Q6_K; avx512_kquant2_impl.h: Q5_K, Q3_K, Q2_K, IQ4_XS): the
 * unpacking of the Q4_K/Q5_K scales, two vector helpers and the row-by-row drivers. Included
 * after avx512_isa.h, with CALGAE_AVX512_VNNI defined (0 or 1) by the includer. Each includer
 * defines a tile function per type, tile_T(row, x, xs, nt, nb, out): nt tokens (at
 * most its tile width) against one row of nb super-blocks, one float per token in out.
 *
 * Rows outside, tiles of KW tokens inside: a weight row (a few KB) stays in L1 across the batch;
 * the last tile may be short. A token gets the same float from matvec as from matmul, since both
 * call the same tile function.
 */
#ifndef CALGAE_AVX512_KROWS_H
#define CALGAE_AVX512_KROWS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "calgae_plugin.h"

/* acc + the int32 pair sums of p (32 int16) times s (32 int16). */
AVX512_INLINE __m512i k_scaled_sum(__m512i acc, __m512i p, __m512i s)
{
#if CALGAE_AVX512_VNNI
    return _mm512_dpwssd_epi32(acc, p, s);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p, s));
#endif
}

/* a in the low 256 bits, b in the high. */
AVX512_INLINE __m512i k_join(__m256i a, __m256i b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

/* ggml's 12-byte packing of Q4_K's and Q5_K's eight 6-bit scales and eight 6-bit minimums,
 * unpacked with four 32-bit words (the layout of calgae_q4_k_scale_min, a byte per lane): bytes
 * 0-7 the scales, 8-15 the minimums. Scalar word operations beat eight byte-wise look-ups,
 * which cost more than the products themselves on a single token. */
AVX512_INLINE __m128i k_scales_mins(const uint8_t *s)
{
    const uint32_t k1 = 0x3f3f3f3fu, k2 = 0x0f0f0f0fu, k3 = 0x03030303u;
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    const uint32_t sc03 = u0 & k1, m03 = u1 & k1;
    const uint32_t sc47 = (u2 & k2) | ((u0 >> 6) & k3) << 4;
    const uint32_t m47 = ((u2 >> 4) & k2) | ((u1 >> 6) & k3) << 4;
    return _mm_setr_epi32((int)sc03, (int)sc47, (int)m03, (int)m47);
}

/* The vpshufb controls that pick, in every 128-bit lane of the broadcast int16 scales of the
 * eight groups, the scale of the group the lane's pair sums belong to: pick[j]'s low 256 bits
 * group 2j, its high 256 bits group 2j + 1. */
AVX512_INLINE void k_scale_picks(__m512i pick[4])
{
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        pick[j] = k_join(_mm256_set1_epi16((short)((4 * j) | (4 * j + 1) << 8)),
                         _mm256_set1_epi16((short)((4 * j + 2) | (4 * j + 3) << 8)));
}

#define AVX512_K_ROW_PRODUCTS(FN, T, KW)                                                       \
    int FN(matvec_##T)(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1) \
    {                                                                                          \
        const int64_t nb = w->cols / CALGAE_QK_K;                                              \
        for (int64_t r = r0; r < r1; r++)                                                      \
            tile_##T((const void *)((const char *)w->data + (size_t)r * w->row_bytes), x, 0,  \
                     1, nb, &y[r]);                                                            \
        return CALGAE_KERNEL_OK;                                                               \
    }                                                                                          \
    int FN(matmul_##T)(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,        \
                       float *y, int64_t ys, int64_t r0, int64_t r1)                           \
    {                                                                                          \
        const int64_t nb = w->cols / CALGAE_QK_K;                                              \
        for (int64_t r = r0; r < r1; r++) {                                                    \
            const void *row = (const char *)w->data + (size_t)r * w->row_bytes;                \
            for (int64_t t0 = 0; t0 < n_tok; t0 += KW) {                                       \
                const char *xt = (const char *)x + (size_t)t0 * xs;                            \
                float out[KW];                                                                 \
                if (n_tok - t0 >= KW)                                                          \
                    tile_##T(row, xt, xs, KW, nb, out);                                        \
                else                                                                           \
                    tile_##T(row, xt, xs, (int)(n_tok - t0), nb, out);                         \
                for (int64_t t = t0; t < n_tok && t < t0 + KW; t++)                            \
                    y[t * ys + r] = out[t - t0];                                               \
            }                                                                                  \
        }                                                                                      \
        return CALGAE_KERNEL_OK;                                                               \
    }

#endif /* CALGAE_AVX512_KROWS_H */
