/*
 * products_q5.c - the avx2 plugin's Q5_0, Q5_1 and IQ4_NL products (ABI 1.4): ggml's stored
 * block layouts against Q8_0 activations (calgae_plugin.h), as ggml's vec_dot_q5_0_q8_0,
 * vec_dot_q5_1_q8_1 (with the ABI's integer activation sum for the minimum, see below) and
 * vec_dot_iq4_nl_q8_0 compute them.
 *
 * A weight block is unpacked once into 32 int8 codes in the order of the activation's values
 * (low nibbles are values 0-15, high nibbles 16-31), then multiplied with each token's block:
 * - Q5_0: the fifth bit (bit j of the little-endian qh word) spread to a byte mask by a byte
 *   shuffle and a compare; bytes whose bit is clear get 0xF0 ORed in, which makes nibble n the
 *   int8 n - 16. Signed codes go through the sign trick: |w| is vpmaddubsw's unsigned operand,
 *   x with w's sign (vpsignb) the signed one; pair sums <= 2 * 16 * 127, no saturation.
 * - Q5_1: the fifth bit adds 16; codes 0..31 are the unsigned operand as they are. The
 *   minimum's term m_w * d_x * sum_j x_j uses the exact integer sum of the activation codes
 *   (vpmaddubsw against ones), as the ABI and the scalar plugin define it, not ggml's Q8_1 s
 *   (d_x * sum rounded to fp16).
 * - IQ4_NL: the nibbles index kvalues_iq4nl (-127 .. 113) by vpshufb; then the sign trick, pair
 *   sums <= 2 * 127 * 127 < 2^15.
 * vpmaddwd against ones leaves 8 exact int32 partial sums per block; they are converted to
 * float and accumulated with one FMA by d_w * d_x (the reference's scale product), as ggml's
 * AVX2 kernels do. The conformance suite's q5_0/q5_1/iq4_nl bound allows that (lane partial sums
 * added in float). Each (row, token) runs the same instruction sequence whether it comes from
 * matvec or from any tile of matmul, so results do not depend on row ranges or thread counts.
 */
#include "kernels.h"
#include "simd.h"

#define NT 4 /* tokens per pass of matmul: a weight block is unpacked once for NT tokens */

enum q5_kind { K_Q5_0, K_Q5_1, K_IQ4_NL };

/* A block's 16 code bytes as its 32 nibbles in value order: low nibbles, then high. */
AVX2_INLINE __m256i nibbles32(const uint8_t *qs)
{
    const __m128i q = _mm_loadu_si128((const __m128i *)(const void *)qs);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* Byte j = 0xFF where bit j of the little-endian 32-bit word at qh is set, else 0. */
AVX2_INLINE __m256i fifth_bits(const uint8_t *qh)
{
    uint32_t h;
    memcpy(&h, qh, sizeof h);
    /* byte j takes byte j / 8 of the word, ORed with all bits but j % 8: all ones iff set */
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)h),
        _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL));
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL);
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi8(-1));
}

/* Block b's codes: int8 in value order (Q5_0 -16..15, Q5_1 0..31, IQ4_NL -127..113). */
AVX2_INLINE __m256i codes(const enum q5_kind kind, const void *row, int64_t b)
{
    if (kind == K_Q5_0) {
        const calgae_block_q5_0 *w = (const calgae_block_q5_0 *)row + b;
        return _mm256_or_si256(nibbles32(w->qs),
                               _mm256_andnot_si256(fifth_bits(w->qh), _mm256_set1_epi8((char)0xF0)));
    }
    if (kind == K_Q5_1) {
        const calgae_block_q5_1 *w = (const calgae_block_q5_1 *)row + b;
        return _mm256_or_si256(nibbles32(w->qs),
                               _mm256_and_si256(fifth_bits(w->qh), _mm256_set1_epi8(0x10)));
    }
    const calgae_block_iq4_nl *w = (const calgae_block_iq4_nl *)row + b;
    const __m256i levels = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    return _mm256_shuffle_epi8(levels, nibbles32(w->qs));
}

/* The fp16 fields d and (Q5_1) m of block b; every type here starts with d. */
AVX2_INLINE float block_d(const enum q5_kind kind, const void *row, int64_t b)
{
    const size_t size = kind == K_Q5_0 ? sizeof(calgae_block_q5_0)
                        : kind == K_Q5_1 ? sizeof(calgae_block_q5_1)
                                         : sizeof(calgae_block_iq4_nl);
    calgae_fp16 h;
    memcpy(&h, (const char *)row + (size_t)b * size, sizeof h);
    return _cvtsh_ss(h);
}

/* out[t] = dot(row, x_t) over nb blocks for t < nt (a constant after inlining). */
AVX2_INLINE void row_dot(const enum q5_kind kind, const void *row, int64_t nb,
                         const calgae_block_q8_0 *const *x, const int nt, float *out)
{
    const __m256i ones16 = _mm256_set1_epi16(1), ones8 = _mm256_set1_epi8(1);
    __m256 acc[NT], accm[NT];
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        acc[t] = accm[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256i w = codes(kind, row, b);
        const __m256i uw = kind == K_Q5_1 ? w : _mm256_sign_epi8(w, w); /* |w| */
        const float dw = block_d(kind, row, b);
        const float mw = kind == K_Q5_1 ? _cvtsh_ss(((const calgae_block_q5_1 *)row)[b].m) : 0.0f;
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            const calgae_block_q8_0 *xb = x[t] + b;
            const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)xb->qs);
            const __m256i sx = kind == K_Q5_1 ? xv : _mm256_sign_epi8(xv, w);
            const __m256i isum = _mm256_madd_epi16(_mm256_maddubs_epi16(uw, sx), ones16);
            const float dx = _cvtsh_ss(xb->d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dw * dx), acc[t]);
            if (kind == K_Q5_1) {
                const __m256i xsum = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xv), ones16);
                accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(xsum), _mm256_set1_ps(mw * dx), accm[t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        out[t] = hsum_ps(kind == K_Q5_1 ? _mm256_add_ps(acc[t], accm[t]) : acc[t]);
}

AVX2_INLINE const void *row_of(const calgae_weight *w, int64_t r)
{
    return (const char *)w->data + (size_t)r * w->row_bytes;
}

AVX2_INLINE int q5_matvec(const enum q5_kind kind, uint32_t type, const calgae_weight *w,
                          const void *x, float *y, int64_t r0, int64_t r1)
{
    if (w->type != type || w->cols % CALGAE_QK != 0)
        return CALGAE_KERNEL_DECLINED;
    const calgae_block_q8_0 *xb[1] = {x};
    for (int64_t r = r0; r < r1; r++)
        row_dot(kind, row_of(w, r), w->cols / CALGAE_QK, xb, 1, &y[r]);
    return CALGAE_KERNEL_OK;
}

AVX2_INLINE int q5_matmul(const enum q5_kind kind, uint32_t type, const calgae_weight *w,
                          const void *x, size_t xs, int64_t n_tok, float *y, int64_t ys,
                          int64_t r0, int64_t r1)
{
    if (w->type != type || w->cols % CALGAE_QK != 0)
        return CALGAE_KERNEL_DECLINED;
    const int64_t nb = w->cols / CALGAE_QK;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t t0 = 0; t0 < n_tok; t0 += NT) {
            const calgae_block_q8_0 *xb[NT];
            float out[NT] = {0};
            const int nt = n_tok - t0 < NT ? (int)(n_tok - t0) : NT;
            for (int t = 0; t < nt; t++)
                xb[t] = (const calgae_block_q8_0 *)(const void *)((const char *)x + (size_t)(t0 + t) * xs);
            switch (nt) { /* constant token counts, so each case unrolls */
            case 4: row_dot(kind, row_of(w, r), nb, xb, 4, out); break;
            case 3: row_dot(kind, row_of(w, r), nb, xb, 3, out); break;
            case 2: row_dot(kind, row_of(w, r), nb, xb, 2, out); break;
            default: row_dot(kind, row_of(w, r), nb, xb, 1, out); break;
            }
            for (int t = 0; t < nt; t++)
                y[(t0 + t) * ys + r] = out[t];
        }
    }
    return CALGAE_KERNEL_OK;
}

#define Q5_PRODUCTS(T, KIND, TYPE)                                                            \
    int avx2_matvec_##T(const calgae_weight *w, const void *x, float *y, int64_t r0,          \
                        int64_t r1)                                                           \
    {                                                                                         \
        return q5_matvec(KIND, TYPE, w, x, y, r0, r1);                                        \
    }                                                                                         \
    int avx2_matmul_##T(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,      \
                        float *y, int64_t ys, int64_t r0, int64_t r1)                         \
    {                                                                                         \
        return q5_matmul(KIND, TYPE, w, x, xs, n_tok, y, ys, r0, r1);                         \
    }
Q5_PRODUCTS(q5_0, K_Q5_0, CALGAE_TYPE_Q5_0)
Q5_PRODUCTS(q5_1, K_Q5_1, CALGAE_TYPE_Q5_1)
Q5_PRODUCTS(iq4_nl, K_IQ4_NL, CALGAE_TYPE_IQ4_NL)
