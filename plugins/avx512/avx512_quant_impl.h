/*
 * avx512_quant_impl.h - Q8_0, Q4_0 and Q4_1 weights against Q8_0 activations, two 32-value
 * blocks per 512-bit register. Not a header to include anywhere: avx512_quant.c and
 * avx512_quant_vnni.c each define CALGAE_AVX512_VNNI (0 or 1) and include it once, so the
 * same source gives both variants (llamafile's trick), and the plugin's entry point picks one
 * table by CPUID.
 *
 * The int8 products use the sign trick of ggml's x86 kernels: |w| as the unsigned operand and
 * x with w's sign as the signed one, since both instructions multiply unsigned by signed
 * bytes. VNNI sums 4 products into each int32 lane in one instruction (vpdpbusd); without it,
 * vpmaddubsw makes int16 pair sums (at most 2 * 128 * 127, no saturation because activations
 * from the quantizer lie in [-127, 127]) and vpmaddwd against ones widens them to int32. Either
 * way lanes 0-7 hold block A's partial sums and lanes 8-15 block B's. Eight pairs (16 blocks)
 * are then folded into each block's exact integer sum (the reference's isum), which is scaled
 * by d_w * d_x (the float product the reference forms, scales fetched 16 at a time by a gather)
 * and accumulated lane-wise with FMA. The only roundings are thus the scale product and the
 * sum over blocks, as in the reference, just in another order: the suite's error bound holds
 * however the integers inside a block cancel. Q4_1 weights (0..15 and a per-block minimum m)
 * need no sign trick: they are the unsigned operand as they are, and m_w * d_x * sum(x) adds a
 * second folded dot product, of x against ones.
 * Each token's accumulation does not depend on how many tokens share the pass, so matmul gives
 * each token exactly what matvec gives it.
 */
#ifndef CALGAE_AVX512_VNNI
#error "define CALGAE_AVX512_VNNI to 0 or 1 before including avx512_quant_impl.h"
#endif

#include "avx512_isa.h"
#include "avx512_kernels.h"

#if CALGAE_AVX512_VNNI
#define QFN(name) calgae_avx512_vnni_##name
#else
#define QFN(name) calgae_avx512_##name
#endif

/* Tokens per pass of matmul: a group's weights are loaded, unpacked and sign-split once for 4. */
#define NT 4

/* 16 int32 lanes, each the sum of 4 products aw[k] * sx[k] (aw unsigned, sx signed). */
AVX512_INLINE __m512i dot_u8s8(__m512i aw, __m512i sx)
{
#if CALGAE_AVX512_VNNI
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx);
#else
    return _mm512_madd_epi16(_mm512_maddubs_epi16(aw, sx), _mm512_set1_epi16(1));
#endif
}

/* 32 bytes at p in the low half, 32 at q (or zeros when q is NULL) in the high half. */
AVX512_INLINE __m512i load_2x32(const int8_t *p, const int8_t *q)
{
    const __m512i lo = _mm512_inserti64x4(_mm512_setzero_si512(),
                                          _mm256_loadu_si256((const __m256i *)p), 0);
    return q ? _mm512_inserti64x4(lo, _mm256_loadu_si256((const __m256i *)q), 1) : lo;
}

AVX512_INLINE __m512i w_q8_0(const calgae_block_q8_0 *b, int two)
{
    return load_2x32(b[0].qs, two ? b[1].qs : NULL);
}

/* A Q4 block's 16 bytes as its 32 values in order (low nibbles are values 0-15, high nibbles
 * values 16-31), 0..15; p1 NULL gives zeros for the second block. */
AVX512_INLINE __m512i nibbles_2x16(const uint8_t *p0, const uint8_t *p1)
{
    const __m128i q0 = _mm_loadu_si128((const __m128i *)p0);
    const __m128i q1 = p1 ? _mm_loadu_si128((const __m128i *)p1) : _mm_setzero_si128();
    __m512i v = _mm512_inserti32x4(_mm512_setzero_si512(), q0, 0);
    v = _mm512_inserti32x4(v, q0, 1);
    v = _mm512_inserti32x4(v, q1, 2);
    v = _mm512_inserti32x4(v, q1, 3);
    /* 128-bit lanes 1 and 3 (qwords 2, 3, 6, 7) take the high nibbles */
    v = _mm512_mask_blend_epi64((__mmask8)0xCC, v, _mm512_srli_epi16(v, 4));
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

AVX512_INLINE __m512i w_q4_0(const calgae_block_q4_0 *b, int two)
{
    /* a missing second block reads as -8s; the activation's high half is zero there, so
     * those lanes add nothing */
    return _mm512_sub_epi8(nibbles_2x16(b[0].qs, two ? b[1].qs : NULL), _mm512_set1_epi8(8));
}

AVX512_INLINE __m512i w_q4_1(const calgae_block_q4_1 *b, int two)
{
    return nibbles_2x16(b[0].qs, two ? b[1].qs : NULL);
}

/* Blocks per step: 8 register pairs, whose per-block sums fold into one vector. */
#define GROUP 16

/* The exact int32 sum of each of 16 blocks, from the dot products of 8 pairs (pair k: lanes 0-7
 * block 2k, lanes 8-15 block 2k+1): the reference's isum, block by block, before any rounding.
 * Three folding levels: 32-bit interleave, 64-bit interleave, 128-bit lanes. The result's lanes
 * hold blocks in BLOCK_ORDER (below), which the scales follow. */
AVX512_INLINE __m512i block_sums16(const __m512i *dp)
{
    __m512i s[4];
    for (int k = 0; k < 4; k++) /* per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] */
        s[k] = _mm512_add_epi32(_mm512_unpacklo_epi32(dp[2 * k], dp[2 * k + 1]),
                                _mm512_unpackhi_epi32(dp[2 * k], dp[2 * k + 1]));
    /* per 128-bit lane: the sum of that lane of dp[0..3] (q0) and dp[4..7] (q1) */
    const __m512i q0 = _mm512_add_epi32(_mm512_unpacklo_epi64(s[0], s[1]),
                                        _mm512_unpackhi_epi64(s[0], s[1]));
    const __m512i q1 = _mm512_add_epi32(_mm512_unpacklo_epi64(s[2], s[3]),
                                        _mm512_unpackhi_epi64(s[2], s[3]));
    /* a block is two 128-bit lanes: lanes 0+1 (even blocks), 2+3 (odd blocks) */
    return _mm512_add_epi32(_mm512_shuffle_i32x4(q0, q1, 0x88), _mm512_shuffle_i32x4(q0, q1, 0xDD));
}

/* Block numbers in block_sums16's lanes, times a byte stride: gather offsets of the scales. */
#define BLOCK_ORDER(S)                                                                        \
    _mm512_setr_epi32(0 * (S), 2 * (S), 4 * (S), 6 * (S), 1 * (S), 3 * (S), 5 * (S), 7 * (S),  \
                      8 * (S), 10 * (S), 12 * (S), 14 * (S), 9 * (S), 11 * (S), 13 * (S),       \
                      15 * (S))

/* An fp16 field (d, or Q4_1's m) of 16 blocks, at `first` + offsets (BLOCK_ORDER of the block
 * size), as floats; lanes outside `valid` are 0 and read nothing. Each lane loads 4 bytes: the
 * field and the next two bytes of its block, all inside the block. */
AVX512_INLINE __m512 scales16(const void *first, __m512i offsets, __mmask16 valid)
{
    const __m512i raw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, offsets,
                                                    first, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(raw));
}

/* Blocks [b0, b0 + n) of a row (n = GROUP in the main loop, a constant after inlining; fewer
 * at the row's end) against nt tokens' activations, accumulated into acc[t] lane-wise:
 * isum_b * (d_w * d_x), plus m_w * (d_x * xsum_b) for Q4_1, in the reference's order. Q8_0 and
 * Q4_0 weights are signed (the sign trick); Q4_1's are 0..15, the unsigned operand as they are,
 * and xsum_b = sum_j x_j comes from a second dot product against ones. */
#define DEFINE_ROW(T, block_t, affine)                                                         \
    AVX512_INLINE void group_##T(const block_t *wb, const calgae_block_q8_0 *const *xb,        \
                                 int64_t b0, int n, int nt, __m512 *acc)                       \
    {                                                                                          \
        __m512i uw[GROUP / 2];                                                                 \
        __mmask64 neg[GROUP / 2];                                                              \
        for (int k = 0; k < GROUP / 2; k++) {                                                  \
            /* pairs past the row's end are zero, never read (set for gcc -O3's sake) */       \
            const __m512i wv = 2 * k < n ? w_##T(wb + b0 + 2 * k, 2 * k + 1 < n)               \
                                         : _mm512_setzero_si512();                             \
            uw[k] = affine ? wv : _mm512_abs_epi8(wv);                                         \
            neg[k] = affine ? 0 : _mm512_movepi8_mask(wv);                                     \
        }                                                                                      \
        const __m512i order = BLOCK_ORDER(1);                                                  \
        const __mmask16 valid = n == GROUP ? (__mmask16)0xFFFF                                 \
                                           : _mm512_cmpgt_epi32_mask(_mm512_set1_epi32(n), order); \
        const __m512i w_offsets = BLOCK_ORDER((int)sizeof(block_t));                           \
        const __m512 dw = scales16(&wb[b0].d, w_offsets, valid);                               \
        const __m512 mw = affine ? scales16((const char *)&wb[b0].d + 2, w_offsets, valid)     \
                                 : _mm512_setzero_ps();                                        \
        for (int t = 0; t < nt; t++) {                                                         \
            const calgae_block_q8_0 *x = xb[t] + b0;                                           \
            __m512i dp[GROUP / 2], ds[GROUP / 2];                                              \
            for (int k = 0; k < GROUP / 2; k++) {                                              \
                dp[k] = ds[k] = _mm512_setzero_si512();                                        \
                if (2 * k >= n)                                                                \
                    continue;                                                                  \
                const __m512i xv = load_2x32(x[2 * k].qs, 2 * k + 1 < n ? x[2 * k + 1].qs : NULL); \
                if (affine) {                                                                  \
                    dp[k] = dot_u8s8(uw[k], xv);                                               \
                    ds[k] = dot_u8s8(_mm512_set1_epi8(1), xv);                                 \
                } else {                                                                       \
                    const __m512i zero = _mm512_setzero_si512();                               \
                    dp[k] = dot_u8s8(uw[k], _mm512_mask_sub_epi8(xv, neg[k], zero, xv));       \
                }                                                                              \
            }                                                                                  \
            const __m512 dx = scales16(x, BLOCK_ORDER((int)sizeof *x), valid);                 \
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(block_sums16(dp)), _mm512_mul_ps(dw, dx), \
                                     acc[t]);                                                  \
            if (affine)                                                                        \
                acc[t] = _mm512_fmadd_ps(                                                      \
                    mw, _mm512_mul_ps(dx, _mm512_cvtepi32_ps(block_sums16(ds))), acc[t]);      \
        }                                                                                      \
    }                                                                                          \
    /* out[t] = dot(row, x[t]) over the nb blocks of a row */                                  \
    AVX512_INLINE void row_##T(const block_t *wb, int64_t nb, const calgae_block_q8_0 *const *xb, \
                               int nt, float *out)                                             \
    {                                                                                          \
        __m512 acc[NT];                                                                        \
        for (int t = 0; t < nt; t++)                                                           \
            acc[t] = _mm512_setzero_ps();                                                      \
        int64_t b = 0;                                                                         \
        for (; b + GROUP <= nb; b += GROUP)                                                    \
            group_##T(wb, xb, b, GROUP, nt, acc);                                              \
        if (b < nb)                                                                            \
            group_##T(wb, xb, b, (int)(nb - b), nt, acc);                                      \
        for (int t = 0; t < nt; t++)                                                           \
            out[t] = _mm512_reduce_add_ps(acc[t]);                                             \
    }

/* avx512_q5_impl.h includes this file for the helpers and the two macros alone (its own
 * block types go through DEFINE_ROW and DEFINE_PRODUCTS) */
#ifndef CALGAE_AVX512_BLOCK_MACROS_ONLY
DEFINE_ROW(q8_0, calgae_block_q8_0, 0)
DEFINE_ROW(q4_0, calgae_block_q4_0, 0)
DEFINE_ROW(q4_1, calgae_block_q4_1, 1)
#endif

#define DEFINE_PRODUCTS(T, TYPE, block_t)                                                      \
    int QFN(matvec_##T)(const calgae_weight *w, const void *x, float *y, int64_t r0,           \
                        int64_t r1)                                                            \
    {                                                                                          \
        if (w->type != TYPE || w->cols % CALGAE_QK != 0)                                       \
            return CALGAE_KERNEL_DECLINED;                                                     \
        const calgae_block_q8_0 *xb[1] = {x};                                                  \
        for (int64_t r = r0; r < r1; r++)                                                      \
            row_##T((const block_t *)((const char *)w->data + (size_t)r * w->row_bytes),       \
                    w->cols / CALGAE_QK, xb, 1, &y[r]);                                        \
        return CALGAE_KERNEL_OK;                                                               \
    }                                                                                          \
    int QFN(matmul_##T)(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,       \
                        float *y, int64_t ys, int64_t r0, int64_t r1)                          \
    {                                                                                          \
        if (w->type != TYPE || w->cols % CALGAE_QK != 0)                                       \
            return CALGAE_KERNEL_DECLINED;                                                     \
        const int64_t nb = w->cols / CALGAE_QK;                                                \
        for (int64_t r = r0; r < r1; r++) {                                                    \
            const block_t *wb =                                                                \
                (const block_t *)((const char *)w->data + (size_t)r * w->row_bytes);           \
            for (int64_t t0 = 0; t0 < n_tok; t0 += NT) {                                       \
                const calgae_block_q8_0 *xb[NT];                                               \
                float out[NT] = {0};                                                           \
                const int nt = n_tok - t0 < NT ? (int)(n_tok - t0) : NT;                       \
                for (int t = 0; t < nt; t++)                                                   \
                    xb[t] = (const calgae_block_q8_0 *)((const char *)x + (size_t)(t0 + t) * xs); \
                switch (nt) {                                                                  \
                case 4: row_##T(wb, nb, xb, 4, out); break;                                    \
                case 3: row_##T(wb, nb, xb, 3, out); break;                                    \
                case 2: row_##T(wb, nb, xb, 2, out); break;                                    \
                default: row_##T(wb, nb, xb, 1, out); break;                                   \
                }                                                                              \
                for (int t = 0; t < nt; t++)                                                   \
                    y[(t0 + t) * ys + r] = out[t];                                             \
            }                                                                                  \
        }                                                                                      \
        return CALGAE_KERNEL_OK;                                                               \
    }

#ifndef CALGAE_AVX512_BLOCK_MACROS_ONLY
DEFINE_PRODUCTS(q8_0, CALGAE_TYPE_Q8_0, calgae_block_q8_0)
DEFINE_PRODUCTS(q4_0, CALGAE_TYPE_Q4_0, calgae_block_q4_0)
DEFINE_PRODUCTS(q4_1, CALGAE_TYPE_Q4_1, calgae_block_q4_1)
#endif
