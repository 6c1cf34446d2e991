/*
 * avx512_kquant_impl.h - Q4_K and Q6_K weights (ggml's stored layout) against Q8_K activations
 * (ABI 1.3), 64 values per 512-bit register. Not a header to include anywhere:
 * avx512_kquant.c and avx512_kquant_vnni.c each define CALGAE_AVX512_VNNI (0 or 1) and include
 * it once, as avx512_quant_impl.h is included, and the entry point picks one table by CPUID.
 *
 * The codes (Q4_K 0..15, Q6_K 0..63) are unsigned, so they are vpmaddubsw's unsigned operand as
 * they are, the activation bytes the signed one: int16 pair sums of at most 2 * 63 * 127, no
 * saturation. Each pair sum is then multiplied by its group's scale and summed into int32 lanes:
 * vpdpwssd (AVX512_VNNI) where the CPU has it, vpmaddwd and vpaddd without. The parts that do
 * not depend on the codes come from the activation's group sums (bsums) once per super-block:
 * Q4_K's minimum, dmin * sum_g m_g * sum(x_g), and Q6_K's offset, 32 * sum_g sc_g * sum(x_g).
 * Each super-block's lanes are converted to float, scaled by d_x * d_w and accumulated with
 * FMA. A row's value depends only on the row and the token: matmul gives each token what
 * matvec gives it, and any row split agrees bit for bit.
 */
#ifndef CALGAE_AVX512_VNNI
#error "define CALGAE_AVX512_VNNI to 0 or 1 before including avx512_kquant_impl.h"
#endif

#include <string.h>

#include "avx512_isa.h"
#include "avx512_kernels.h"
#include "avx512_krows.h"

#if CALGAE_AVX512_VNNI
#define KFN(name) calgae_avx512_vnni_##name
#else
#define KFN(name) calgae_avx512_##name
#endif

/* Tokens per pass of matmul: a super-block's codes and scales are unpacked once for KT (8:
 * the accumulators and unpacked vectors still fit the 32 registers). */
#define KT 8

/* Q4_K row w against nt (<= KT) tokens, the weight unpacked once per super-block. Per token: the
 * code products in int32 lanes, scaled by d_x * d_w into a float accumulator (FMA); the
 * minimum's term, m_g against the pair sums of bsums (vpmaddwd), scaled by d_x * dmin_w into a
 * second one (256 bits: multiply and add, as -mavx512f implies no 256-bit FMA); the two reduced
 * and subtracted at the end. The matvec is this with nt = 1, so matmul gives each token
 * exactly what matvec gives it. */
AVX512_INLINE void tile_q4_k(const calgae_block_q4_k *w, const char *x, size_t xs, int nt,
                             int64_t nb, float *out)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    __m512i pick[4];
    k_scale_picks(pick);
    __m512 acc[KT];
    __m256 macc[KT];
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm512_setzero_ps();
        macc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const __m256i sm = _mm256_cvtepu8_epi16(k_scales_mins(w[b].scales));
        const __m512i sc = _mm512_broadcast_i32x4(_mm256_castsi256_si128(sm));
        const __m128i mn = _mm256_extracti128_si256(sm, 1);
        __m512i qv[4], sv[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * j));
            qv[j] = k_join(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
            sv[j] = _mm512_shuffle_epi8(sc, pick[j]);
        }
        /* bsums[2g] and bsums[2g + 1] both belong to group g's minimum */
        const __m256i mv = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi16(mn, mn)),
                                                   _mm_unpackhi_epi16(mn, mn), 1);
        const float dw = FP16_TO_FP32(w[b].d), dmw = FP16_TO_FP32(w[b].dmin);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const calgae_block_q8_k *xb = (const calgae_block_q8_k *)(const void *)(x + (size_t)t * xs) + b;
            __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                isum = k_scaled_sum(isum,
                                  _mm512_maddubs_epi16(qv[j], _mm512_loadu_si512((const void *)(xb->qs + 64 * j))),
                                  sv[j]);
            const __m256i msum = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), mv);
            const float dx = xb->d;
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(dx * dw), _mm512_cvtepi32_ps(isum), acc[t]);
            macc[t] = _mm256_add_ps(macc[t], _mm256_mul_ps(_mm256_set1_ps(dx * dmw), _mm256_cvtepi32_ps(msum)));
        }
    }
    for (int t = 0; t < nt; t++) {
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(macc[t]), _mm256_extractf128_ps(macc[t], 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        out[t] = _mm512_reduce_add_ps(acc[t]) - _mm_cvtss_f32(h);
    }
}

/* The same for Q6_K; the offset of 32 is a second accumulator, as Q4_K's minimum. */
AVX512_INLINE void tile_q6_k(const calgae_block_q6_k *w, const char *x, size_t xs, int nt,
                             int64_t nb, float *out)
{
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    const __m512i sh01 = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
    const __m512i sh23 = _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4);
    const __m512i idx01 = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                           1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i idx23 = _mm512_add_epi16(idx01, _mm512_set1_epi16(4));
    __m512 acc[KT];
    __m256 oacc[KT];
    for (int t = 0; t < nt; t++) {
        acc[t] = _mm512_setzero_ps();
        oacc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        __m512i qv[4], sv[4];
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i l = _mm512_loadu_si512((const void *)(w[b].ql + 64 * h));
            const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w[b].qh + 32 * h)));
            qv[2 * h] = _mm512_or_si512(
                _mm512_and_si512(l, m4),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, sh01), m2), 4));
            qv[2 * h + 1] = _mm512_or_si512(
                _mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, sh23), m2), 4));
            const __m512i sc = _mm512_cvtepi8_epi16(
                _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(w[b].scales + 8 * h))));
            sv[2 * h] = _mm512_permutexvar_epi16(idx01, sc);
            sv[2 * h + 1] = _mm512_permutexvar_epi16(idx23, sc);
        }
        /* the offset of 32: the 16 scales against the 16 group sums (vpmaddwd) */
        const __m256i scw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[b].scales));
        const float dw = FP16_TO_FP32(w[b].d);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const calgae_block_q8_k *xb = (const calgae_block_q8_k *)(const void *)(x + (size_t)t * xs) + b;
            const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), scw);
            __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                isum = k_scaled_sum(isum,
                                  _mm512_maddubs_epi16(qv[k], _mm512_loadu_si512((const void *)(xb->qs + 64 * k))),
                                  sv[k]);
            const float d = xb->d * dw;
            acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(isum), acc[t]);
            /* 32 * off is exact in float: |off| <= 2 * 128 * 16 * 127 per lane */
            oacc[t] = _mm256_add_ps(oacc[t], _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_slli_epi32(off, 5))));
        }
    }
    for (int t = 0; t < nt; t++) {
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(oacc[t]), _mm256_extractf128_ps(oacc[t], 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        out[t] = _mm512_reduce_add_ps(acc[t]) - _mm_cvtss_f32(h);
    }
}

/* the row-by-row drivers (avx512_krows.h) */
AVX512_K_ROW_PRODUCTS(KFN, q4_k, KT)
AVX512_K_ROW_PRODUCTS(KFN, q6_k, KT)
