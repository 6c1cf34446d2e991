/*
 * avx512_kquant2_impl.h - Q5_K, Q3_K, Q2_K and IQ4_XS weights (ggml's stored layout) against
 * Q8_K activations (ABI 1.4), 64 values per 512-bit register. Not a header to include
 * anywhere: avx512_kquant2.c and avx512_kquant2_vnni.c each define CALGAE_AVX512_VNNI (0 or 1)
 * and include it once, as avx512_kquant_impl.h is included for Q4_K and Q6_K.
 *
 * The integer sums are ggml's (vec_dot_q5_K_q8_K, _q3_K_, _q2_K_, _iq4_xs_q8_K), per
 * super-block: the codes times the activation bytes with vpmaddubsw (unsigned codes, signed
 * activations; int16 pair sums that never saturate, bounds per type below), each pair sum times
 * its group's scale summed into int32 lanes (vpdpwssd with AVX512_VNNI, vpmaddwd + vpaddd
 * without), the lanes summed to the block's integers. Those are scaled and summed in float
 * exactly as the scalar plugin (plugins/scalar/scalar_k2.c) does, operation for operation and
 * without FMA contraction, so both plugins give the same bits: a difference of summation order,
 * harmless in itself, was enough to move the logits of the golden file in
 * tests/kquant_native_test.py by 1% at 7 of 16 positions (its BF16 matrix rounds its
 * activations, and a value at a rounding midpoint flips). Reducing the lanes costs about a
 * tenth of a super-block's work. The codes are unpacked once per super-block and reused by every token of a tile
 * (KT2 tokens), so matmul gives each token exactly what matvec gives it, and any row split
 * agrees bit for bit. Per type:
 * - Q5_K: codes 0..31 (nibble | qh bit << 4), pair sums <= 2 * 31 * 127; the minimums' term
 *   dmin * sum_g m_g * sum(x_g) from the activation's group sums (bsums), as for Q4_K.
 * - Q3_K: ggml's codes -4..3 are stored here as 0..7 (the hmask bit adds 4 rather than a clear
 *   one subtracting it), so they are vpmaddubsw's unsigned operand; the 4 taken back is
 *   4 * sum_g sc_g * bsums[g], subtracted in int32 before the float conversion, so the block's
 *   integer sum is exactly ggml's.
 * - Q2_K: codes 0..3; the minimums as Q5_K's, one per group of 16.
 * - IQ4_XS: the levels -127..113 are signed, so the register holds |level| and the activation
 *   byte is negated where the level is negative (Q8_K codes are in [-127, 127], so negation is
 *   exact); pair sums <= 2 * 127 * 127 < 2^15.
 */
#ifndef CALGAE_AVX512_VNNI
#error "define CALGAE_AVX512_VNNI to 0 or 1 before including avx512_kquant2_impl.h"
#endif

#include <string.h>

#include "avx512_isa.h"
#include "avx512_kernels.h"
#include "avx512_krows.h"

/* The float steps must be the scalar plugin's: no a * b + c fused into one rounding. GCC does
 * not contract in ISO C mode (-std=c17); clang does unless told. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if CALGAE_AVX512_VNNI
#define K2FN(name) calgae_avx512_vnni_##name
#else
#define K2FN(name) calgae_avx512_##name
#endif

/* Tokens per pass of matmul: 8, as for Q4_K/Q6_K (four unpacked code vectors, four scale
 * vectors and the accumulators of eight tokens fit the 32 registers). */
#define KT2 8

/* The sum of the 16 int32 lanes of v (exact: the sums of the callers fit in int32). */
AVX512_INLINE int32_t k2_sum_epi32(__m512i v)
{
    const __m256i a = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i b = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0x4e));
    b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0xb1));
    return _mm_cvtsi128_si32(b);
}

/* The sums of the 16 lanes of v and of the 8 lanes of m, reduced together. */
AVX512_INLINE void k2_sum2_epi32(__m512i v, __m256i m, int32_t *sv, int32_t *sm)
{
    const __m256i a = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    const __m256i h = _mm256_hadd_epi32(a, m); /* per 128-bit lane: v pairs, m pairs */
    __m128i b = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    b = _mm_hadd_epi32(b, b);
    *sv = _mm_cvtsi128_si32(b);
    *sm = _mm_extract_epi32(b, 1);
}

/* int16 lane p of the result is lane (4k + p / 8) of a 16-lane int16 vector: the scale of the
 * group of 16 that pair sum p of register k belongs to (Q3_K, Q2_K). */
AVX512_INLINE __m512i k2_group16_index(int k)
{
    return _mm512_add_epi16(_mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                             1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                            _mm512_set1_epi16((short)(4 * k)));
}

/* The shift counts, per 64-bit lane, that bring bit 2k of each byte (low 256 bits) and bit
 * 2k + 1 (high 256 bits) down to bit 0: where Q5_K's qh and Q3_K's hmask keep the high bit of
 * register k's two halves. The bits shifted in from the next byte are masked off after. */
AVX512_INLINE __m512i k2_bit_shift(int k)
{
    const long long lo = 2 * k, hi = 2 * k + 1;
    return _mm512_set_epi64(hi, hi, hi, hi, lo, lo, lo, lo);
}

/* Q3_K's sixteen 6-bit scales (biased by 32) from their 12 bytes: low nibbles in bytes 0-7
 * (groups 0-7 the low nibble, 8-15 the high), the two high bits in bytes 8-11 (group g: bits
 * 2 * (g / 4) of byte 8 + g % 4). Byte g of the result is group g's biased scale. */
AVX512_INLINE __m128i q3_k_scales(const uint8_t *s)
{
    const uint32_t k1 = 0x03030303u, k2 = 0x0f0f0f0fu;
    uint32_t a0, a1, t;
    memcpy(&a0, s, 4);
    memcpy(&a1, s + 4, 4);
    memcpy(&t, s + 8, 4);
    const uint32_t g0 = (a0 & k2) | (t & k1) << 4;
    const uint32_t g4 = (a1 & k2) | ((t >> 2) & k1) << 4;
    const uint32_t g8 = ((a0 >> 4) & k2) | ((t >> 4) & k1) << 4;
    const uint32_t g12 = ((a1 >> 4) & k2) | ((t >> 6) & k1) << 4;
    return _mm_setr_epi32((int)g0, (int)g4, (int)g8, (int)g12);
}

/* The four nibbles of v (16 bits) into the low nibbles of four bytes. */
static inline uint32_t k2_spread_nibbles(uint32_t v)
{
    v = (v | v << 8) & 0x00ff00ffu;
    return (v | v << 4) & 0x0f0f0f0fu;
}

/* IQ4_XS's eight 6-bit scales (biased by 32): bytes 0-3 groups 0, 2, 4, 6 and bytes 4-7 groups
 * 1, 3, 5, 7 (group g: nibble g % 2 of scales_l[g / 2], bits 2g and 2g + 1 of scales_h). */
AVX512_INLINE __m128i iq4_xs_scales(const calgae_block_iq4_xs *b)
{
    uint32_t l;
    memcpy(&l, b->scales_l, 4);
    const uint32_t h = b->scales_h;
    const uint32_t even = (l & 0x0f0f0f0fu) | k2_spread_nibbles(h & 0x3333u) << 4;
    const uint32_t odd = ((l >> 4) & 0x0f0f0f0fu) | k2_spread_nibbles((h >> 2) & 0x3333u) << 4;
    return _mm_setr_epi32((int)even, (int)odd, 0, 0);
}

/* Q5_K row w against nt (<= KT2) tokens: Q4_K's codes with the fifth bit. Per token and
 * super-block the code products (int32 lanes) and the minimums' term (m_g against the pair
 * sums of bsums) are reduced to two integers and scaled as the scalar plugin does. */
AVX512_INLINE void tile_q5_k(const calgae_block_q5_k *w, const char *x, size_t xs, int nt,
                             int64_t nb, float *out)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    const __m512i one = _mm512_set1_epi8(1);
    __m512i pick[4];
    k_scale_picks(pick);
    float sum[KT2];
    for (int t = 0; t < nt; t++)
        sum[t] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const __m256i sm = _mm256_cvtepu8_epi16(k_scales_mins(w[b].scales));
        const __m512i sc = _mm512_broadcast_i32x4(_mm256_castsi256_si128(sm));
        const __m128i mn = _mm256_extracti128_si256(sm, 1);
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)w[b].qh));
        __m512i qv[4], sv[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            /* bytes 32j .. 32j + 31: group 2j in the low nibbles, 2j + 1 in the high; their
             * fifth bits are bits 2j and 2j + 1 of qh */
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * j));
            const __m512i h = _mm512_and_si512(_mm512_srlv_epi64(qh, k2_bit_shift(j)), one);
            qv[j] = _mm512_or_si512(
                k_join(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4)),
                _mm512_slli_epi16(h, 4));
            sv[j] = _mm512_shuffle_epi8(sc, pick[j]);
        }
        /* bsums[2g] and bsums[2g + 1] both belong to group g's minimum */
        const __m256i mv = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_unpacklo_epi16(mn, mn)), _mm_unpackhi_epi16(mn, mn), 1);
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
            int32_t is, ms;
            k2_sum2_epi32(isum, msum, &is, &ms);
            sum[t] += (dx * dw) * (float)is - (dx * dmw) * (float)ms;
        }
    }
    memcpy(out, sum, (size_t)nt * sizeof *out);
}

/* Q3_K and Q2_K share the code layout: value 128h + 32s + l is bits 2s, 2s + 1 of
 * qs[32h + l], so register k (values 64k .. 64k + 63) is bytes 32 (k / 2) .. + 31 shifted by
 * 4 (k % 2) in its low half and 4 (k % 2) + 2 in its high half. */
AVX512_INLINE __m512i k2_crumbs(const uint8_t *qs, int k)
{
    const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * (k / 2))));
    const long long lo = 4 * (k % 2), hi = lo + 2;
    return _mm512_and_si512(_mm512_srlv_epi64(q, _mm512_set_epi64(hi, hi, hi, hi, lo, lo, lo, lo)),
                            _mm512_set1_epi8(3));
}

/* Q3_K row w against nt tokens: codes 0..7 (the module comment says why), their group sums
 * scaled in int32; 4 * sum_g sc_g * bsums[g] (vpmaddwd) taken off in int32. */
AVX512_INLINE void tile_q3_k(const calgae_block_q3_k *w, const char *x, size_t xs, int nt,
                             int64_t nb, float *out)
{
    const __m512i one = _mm512_set1_epi8(1);
    float sum[KT2];
    for (int t = 0; t < nt; t++)
        sum[t] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const __m256i sc16 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(q3_k_scales(w[b].scales)),
                                              _mm256_set1_epi16(32));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)w[b].hmask));
        __m512i qv[4], sv[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            /* the hmask bit of value 128h + 32s + l is bit 4h + s of hmask[l]: 2k and 2k + 1
             * for register k's halves */
            const __m512i h = _mm512_and_si512(_mm512_srlv_epi64(hm, k2_bit_shift(k)), one);
            qv[k] = _mm512_or_si512(k2_crumbs(w[b].qs, k), _mm512_slli_epi16(h, 2));
            sv[k] = _mm512_permutexvar_epi16(k2_group16_index(k), sc);
        }
        const float dw = FP16_TO_FP32(w[b].d);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const calgae_block_q8_k *xb = (const calgae_block_q8_k *)(const void *)(x + (size_t)t * xs) + b;
            __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                isum = k_scaled_sum(isum,
                                     _mm512_maddubs_epi16(qv[k], _mm512_loadu_si512((const void *)(xb->qs + 64 * k))),
                                     sv[k]);
            /* |4 * off| <= 4 * 2 * 32 * 16 * 127 per lane */
            const __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), sc16);
            isum = _mm512_sub_epi32(isum, _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_slli_epi32(off, 2), 0));
            sum[t] += (xb->d * dw) * (float)k2_sum_epi32(isum);
        }
    }
    memcpy(out, sum, (size_t)nt * sizeof *out);
}

/* Q2_K row w against nt tokens: scales (low nibbles) on the code products, minimums (high
 * nibbles) against bsums, reduced and scaled as Q5_K's. */
AVX512_INLINE void tile_q2_k(const calgae_block_q2_k *w, const char *x, size_t xs, int nt,
                             int64_t nb, float *out)
{
    const __m128i m4 = _mm_set1_epi8(15);
    float sum[KT2];
    for (int t = 0; t < nt; t++)
        sum[t] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const __m128i s = _mm_loadu_si128((const __m128i *)w[b].scales);
        const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(s, m4)));
        const __m256i mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), m4));
        __m512i qv[4], sv[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            qv[k] = k2_crumbs(w[b].qs, k);
            sv[k] = _mm512_permutexvar_epi16(k2_group16_index(k), sc);
        }
        const float dw = FP16_TO_FP32(w[b].d), dmw = FP16_TO_FP32(w[b].dmin);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const calgae_block_q8_k *xb = (const calgae_block_q8_k *)(const void *)(x + (size_t)t * xs) + b;
            __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                isum = k_scaled_sum(isum,
                                     _mm512_maddubs_epi16(qv[k], _mm512_loadu_si512((const void *)(xb->qs + 64 * k))),
                                     sv[k]);
            const __m256i msum = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), mn);
            const float dx = xb->d;
            int32_t is, ms;
            k2_sum2_epi32(isum, msum, &is, &ms);
            sum[t] += (dx * dw) * (float)is - (dx * dmw) * (float)ms;
        }
    }
    memcpy(out, sum, (size_t)nt * sizeof *out);
}

/* IQ4_XS row w against nt tokens. Group g is qs[16g .. 16g + 15], low nibbles values 32g ..
 * 32g + 15, high nibbles 32g + 16 .. 32g + 31: a 64-byte load holds four groups' nibbles,
 * which vpermt2q puts in value order, two groups per register; vpshufb looks the levels up. */
AVX512_INLINE void tile_iq4_xs(const calgae_block_iq4_xs *w, const char *x, size_t xs, int nt,
                               int64_t nb, float *out)
{
    static const int8_t levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)levels));
    const __m512i m4 = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
    /* qword indices of the two sources (low nibbles 0-7, high 8-15): lane g of each */
    const __m512i first = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i second = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    /* register k: group 2k (scale byte k) in the low 256 bits, 2k + 1 (byte 4 + k) high */
    __m512i pick[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        pick[k] = k_join(_mm256_set1_epi16((short)k), _mm256_set1_epi16((short)(4 + k)));
    float sum[KT2];
    for (int t = 0; t < nt; t++)
        sum[t] = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const __m512i sc = _mm512_castsi256_si512(_mm256_sub_epi16(
            _mm256_cvtepu8_epi16(iq4_xs_scales(&w[b])), _mm256_set1_epi16(32)));
        __m512i qv[4], sv[4];
        __mmask64 neg[4];
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i q = _mm512_loadu_si512((const void *)(w[b].qs + 64 * h));
            const __m512i lo = _mm512_and_si512(q, m4);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            const __m512i l0 = _mm512_shuffle_epi8(table, _mm512_permutex2var_epi64(lo, first, hi));
            const __m512i l1 = _mm512_shuffle_epi8(table, _mm512_permutex2var_epi64(lo, second, hi));
            neg[2 * h] = _mm512_movepi8_mask(l0);
            neg[2 * h + 1] = _mm512_movepi8_mask(l1);
            qv[2 * h] = _mm512_abs_epi8(l0);
            qv[2 * h + 1] = _mm512_abs_epi8(l1);
        }
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            sv[k] = _mm512_permutexvar_epi16(pick[k], sc);
        const float dw = FP16_TO_FP32(w[b].d);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const calgae_block_q8_k *xb = (const calgae_block_q8_k *)(const void *)(x + (size_t)t * xs) + b;
            __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m512i xk = _mm512_loadu_si512((const void *)(xb->qs + 64 * k));
                isum = k_scaled_sum(isum,
                                     _mm512_maddubs_epi16(qv[k], _mm512_mask_sub_epi8(xk, neg[k], zero, xk)),
                                     sv[k]);
            }
            sum[t] += (xb->d * dw) * (float)k2_sum_epi32(isum);
        }
    }
    memcpy(out, sum, (size_t)nt * sizeof *out);
}

/* the row-by-row drivers (avx512_krows.h) */
AVX512_K_ROW_PRODUCTS(K2FN, q5_k, KT2)
AVX512_K_ROW_PRODUCTS(K2FN, q3_k, KT2)
AVX512_K_ROW_PRODUCTS(K2FN, q2_k, KT2)
AVX512_K_ROW_PRODUCTS(K2FN, iq4_xs, KT2)
