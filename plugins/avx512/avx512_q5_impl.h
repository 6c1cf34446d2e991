/*
 * avx512_q5_impl.h - Q5_0, Q5_1 and IQ4_NL weights (ggml's stored layouts) against Q8_0
 * activations (ABI 1.4), two 32-value blocks per 512-bit register. Not a header to include
 * anywhere: avx512_q5.c and avx512_q5_vnni.c each define CALGAE_AVX512_VNNI (0 or 1) and
 * include it once, as avx512_quant_impl.h is included, and the entry point picks one table by
 * CPUID.
 *
 * Only the unpacking of a block pair into 64 byte codes is new here; the products are
 * avx512_quant_impl.h's DEFINE_ROW and DEFINE_PRODUCTS, so the numerics are those of Q4_0 and
 * Q4_1 there (exact int32 sums per block, scaled by d_w * d_x, summed with FMA):
 * - Q5_0 (ggml's vec_dot_q5_0_q8_0): the nibble with the block's qh bit j as a fifth bit, less
 *   16: a code in [-16, 15], through the sign trick as Q4_0's codes. A pair's two 32-bit qh
 *   words are one 64-bit mask, bit i for byte i of the register, so the fifth bit costs one
 *   masked subtraction: 16 is taken off the bytes whose bit is clear.
 * - Q5_1: the code in [0, 31] (a masked addition of 16), the unsigned operand as it is, and the
 *   minimum's term m_w * (d_x * sum_j x_j) with sum_j x_j the exact integer sum of the Q8_0
 *   codes, as the ABI and the scalar plugin take it (not ggml's Q8_1 s, rounded to fp16).
 * - IQ4_NL (ggml's vec_dot_iq4_nl_q8_0): each nibble indexes kvalues_iq4nl's 16 levels
 *   (-127 .. 113), looked up 64 at a time by vpshufb from the table in every 128-bit lane;
 *   |level| <= 127, so the sign trick's pair sums stay within int16 (2 * 127 * 127).
 */
#ifndef CALGAE_AVX512_VNNI
#error "define CALGAE_AVX512_VNNI to 0 or 1 before including avx512_q5_impl.h"
#endif

#include <string.h>

#define CALGAE_AVX512_BLOCK_MACROS_ONLY
#include "avx512_quant_impl.h"

/* The fifth bits of a block pair: block A's qh word in bits 0-31, B's (0 when absent) in 32-63,
 * bit i the fifth bit of the register's byte i. */
AVX512_INLINE __mmask64 fifth_bits(const uint8_t *qa, const uint8_t *qb)
{
    uint32_t a, b = 0;
    memcpy(&a, qa, sizeof a);
    if (qb)
        memcpy(&b, qb, sizeof b);
    return (__mmask64)((uint64_t)b << 32 | a);
}

AVX512_INLINE __m512i w_q5_0(const calgae_block_q5_0 *b, int two)
{
    const __m512i nib = nibbles_2x16(b[0].qs, two ? b[1].qs : NULL);
    const __mmask64 high = fifth_bits(b[0].qh, two ? b[1].qh : NULL);
    /* an absent second block reads as -16s against zero activations: it adds nothing */
    return _mm512_mask_sub_epi8(nib, (__mmask64)~high, nib, _mm512_set1_epi8(16));
}

AVX512_INLINE __m512i w_q5_1(const calgae_block_q5_1 *b, int two)
{
    const __m512i nib = nibbles_2x16(b[0].qs, two ? b[1].qs : NULL);
    const __mmask64 high = fifth_bits(b[0].qh, two ? b[1].qh : NULL);
    return _mm512_mask_add_epi8(nib, high, nib, _mm512_set1_epi8(16));
}

AVX512_INLINE __m512i w_iq4_nl(const calgae_block_iq4_nl *b, int two)
{
    const __m512i levels = _mm512_broadcast_i32x4(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    return _mm512_shuffle_epi8(levels, nibbles_2x16(b[0].qs, two ? b[1].qs : NULL));
}

DEFINE_ROW(q5_0, calgae_block_q5_0, 0)
DEFINE_ROW(q5_1, calgae_block_q5_1, 1)
DEFINE_ROW(iq4_nl, calgae_block_iq4_nl, 0)

DEFINE_PRODUCTS(q5_0, CALGAE_TYPE_Q5_0, calgae_block_q5_0)
DEFINE_PRODUCTS(q5_1, CALGAE_TYPE_Q5_1, calgae_block_q5_1)
DEFINE_PRODUCTS(iq4_nl, CALGAE_TYPE_IQ4_NL, calgae_block_iq4_nl)
