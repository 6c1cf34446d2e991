/*
 * products_k2.c - the avx2 plugin's ABI 1.4 K-quant products: Q5_K, Q3_K, Q2_K and IQ4_XS
 * weights in ggml's stored layout against Q8_K activations, the integer sums of ggml's
 * vec_dot_q5_K_q8_K, vec_dot_q3_K_q8_K, vec_dot_q2_K_q8_K and vec_dot_iq4_xs_q8_K
 * (calgae_plugin.h states each; plugins/scalar/scalar_k2.c has the plain loops).
 *
 * Each super-block is read in eight chunks of 32 values in value order (chunk_<type>, made in
 * registers), with an int16 scale per value pair from the group scales, which prep_<type>
 * decodes once per super-block into 16 bytes that vpshufb then spreads over each chunk's lanes.
 * vpmaddubsw multiplies the codes (its unsigned operand) by the activation bytes (signed) in
 * pairs, vpmaddwd by the group's scale widens them to int32 lanes, so a super-block's sum is
 * exact in integers: the largest pair is IQ4_XS's 2 * 127 * 127 = 32258 < 2^15, the largest
 * |isum| 256 * 32 * 127 * 127 < 2^31.
 *  - Q5_K and Q2_K codes are unsigned ([0, 31], [0, 3]); their minimum, dmin * sum_g m_g *
 *    sum(x_g), comes from the activation's group sums (bsums), one vpmaddwd per super-block.
 *  - Q3_K's codes are q = u - 4 with u = (2-bit code | hmask bit << 2) in [0, 7]: the unpacked
 *    code is u, and the -4 is a minimum of 4 * sc_g against bsums taken off in integers, so
 *    the super-block's integer equals ggml's sum_g sc_g * sum_j q_j x_j exactly.
 *  - IQ4_XS's levels are signed (-127 .. 113): vpmaddubsw takes |L| and the activation with
 *    L's sign (vpsignb), as the product of two signed bytes.
 * The super-block's int32 lanes are converted to float, scaled by d_x * d_w (and the minimum's
 * by d_x * dmin_w) and accumulated with FMA. matmul makes each chunk once for eight tokens; a
 * token's accumulation is the same sequence of operations whichever path computes it, so
 * matmul gives each token exactly what matvec gives it and any row split agrees.
 */
#include "kernels.h"
#include "simd.h"

#include <string.h>

/* ggml's kvalues_iq4nl, the 16 levels of IQ4_NL and IQ4_XS, twice (one per 128-bit lane of
 * vpshufb). */
static const int8_t iq4_levels[32] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38,
                                      53,   69,   89,  113, -127, -104, -83, -65, -49, -35,
                                      -22,  -10,  1,   13,  25,  38,  53,  69,  89,  113};

/* Tokens per matmul pass: each chunk of weights is made once for these. Eight int32 sums stay in
 * registers beside the chunk, its scales and an activation (calibration's matmul ns/row/token,
 * this machine: 20-30% less than with four). */
#define K2_T 8

/* A super-block prepared for its chunks: chunk c (0..7) holds values 32c .. 32c + 31, that is
 * the groups of 16 number 2c (low 128-bit lane) and 2c + 1 (high lane). The chunks themselves are
 * made on the fly (chunk_<type>, below) so that they stay in registers. */
typedef struct {
    __m256i scb;  /* the group scales as bytes, the same 16 in both 128-bit lanes */
    __m256i bits; /* Q5_K's qh, Q3_K's hmask: the extra bit of value 32c + l is bit c of byte l */
    __m256i m;    /* int16 minimum of each group of 16 (unused where none) */
    float d;      /* d_w */
    float dmin;   /* dmin_w (Q5_K, Q2_K) */
} kprep;

/* The int16 scale of each value pair of chunk c from scb: byte lo for the low 128-bit lane, byte
 * hi for the high one, sign-extended when the scales are signed (shuffled into the high byte,
 * then shifted down arithmetically). c is a constant after unrolling, so the masks are too. */
AVX2_INLINE __m256i chunk_scale(__m256i scb, int lo, int hi, int is_signed)
{
    if (is_signed) {
        const __m256i idx = _mm256_set_m128i(_mm_set1_epi16((short)(hi << 8 | 0x80)),
                                             _mm_set1_epi16((short)(lo << 8 | 0x80)));
        return _mm256_srai_epi16(_mm256_shuffle_epi8(scb, idx), 8);
    }
    const __m256i idx = _mm256_set_m128i(_mm_set1_epi16((short)(0x8000 | hi)),
                                         _mm_set1_epi16((short)(0x8000 | lo)));
    return _mm256_shuffle_epi8(scb, idx);
}

/* bit c of each byte of v, moved to bit `to` (a 16-bit shift by c < 8 leaves bit 0 of each byte
 * holding bit c of that same byte) */
AVX2_INLINE __m256i bit_of(__m256i v, int c, int to)
{
    return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(v, c), _mm256_set1_epi8(1)), to);
}

AVX2_INLINE void prep_q5_k(const calgae_block_q5_k *b, kprep *k)
{
    /* the eight 6-bit scales and mins (calgae_q4_k_scale_min), four at a time in 32-bit words:
     * a, bw, c are bytes 0-3, 4-7, 8-11 of the packed 12 */
    uint32_t w[3];
    memcpy(w, b->scales, sizeof w);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    const uint32_t sc_lo = w[0] & m6, mn_lo = w[1] & m6;
    const uint32_t sc_hi = (w[2] & m4) | ((w[0] >> 6) & m2) << 4;
    const uint32_t mn_hi = ((w[2] >> 4) & m4) | ((w[1] >> 6) & m2) << 4;
    const __m128i v = _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)mn_lo, (int)mn_hi);
    k->scb = _mm256_broadcastsi128_si256(v);
    /* each group's minimum twice, for its two groups of 16 */
    const __m128i mn = _mm_cvtepu8_epi16(_mm_srli_si128(v, 8));
    k->m = _mm256_set_m128i(_mm_unpackhi_epi16(mn, mn), _mm_unpacklo_epi16(mn, mn));
    k->bits = _mm256_loadu_si256((const __m256i *)b->qh);
    k->d = _cvtsh_ss(b->d);
    k->dmin = _cvtsh_ss(b->dmin);
}

AVX2_INLINE __m256i chunk_q5_k(const calgae_block_q5_k *b, const kprep *k, int c, __m256i *s)
{
    /* groups 2p and 2p + 1 are the low and high nibbles of bytes 32p .. 32p + 31 */
    const __m256i qs = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (c / 2)));
    const __m256i m4 = _mm256_set1_epi8(15);
    const __m256i nib = _mm256_and_si256(c % 2 ? _mm256_srli_epi16(qs, 4) : qs, m4);
    *s = chunk_scale(k->scb, c, c, 0);
    return _mm256_or_si256(nib, bit_of(k->bits, c, 4));
}

AVX2_INLINE void prep_q2_k(const calgae_block_q2_k *b, kprep *k)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)b->scales);
    const __m128i m4 = _mm_set1_epi8(15);
    k->scb = _mm256_broadcastsi128_si256(_mm_and_si128(v, m4));
    k->m = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), m4));
    k->d = _cvtsh_ss(b->d);
    k->dmin = _cvtsh_ss(b->dmin);
}

AVX2_INLINE __m256i chunk_q2_k(const calgae_block_q2_k *b, const kprep *k, int c, __m256i *s)
{
    /* values 128h + 32j + l (c = 4h + j): bits 2j, 2j + 1 of byte 32h + l */
    const __m256i qs = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (c / 4)));
    *s = chunk_scale(k->scb, 2 * c, 2 * c + 1, 0);
    return _mm256_and_si256(_mm256_srli_epi16(qs, 2 * (c % 4)), _mm256_set1_epi8(3));
}

AVX2_INLINE void prep_q3_k(const calgae_block_q3_k *b, kprep *k)
{
    /* the sixteen 6-bit scales: low 4 bits in the nibbles of bytes 0-7 (groups 0-7 low, 8-15
     * high), high 2 bits of group g at bits 2 (g / 4) of byte 8 + g % 4 */
    uint32_t w[3];
    memcpy(w, b->scales, sizeof w);
    const uint32_t m4 = 0x0f0f0f0f, m2 = 0x03030303;
    const __m128i lo = _mm_setr_epi32((int)(w[0] & m4), (int)(w[1] & m4), (int)((w[0] >> 4) & m4),
                                      (int)((w[1] >> 4) & m4));
    const __m128i hi = _mm_setr_epi32((int)((w[2] & m2) << 4), (int)(((w[2] >> 2) & m2) << 4),
                                      (int)(((w[2] >> 4) & m2) << 4),
                                      (int)(((w[2] >> 6) & m2) << 4));
    const __m128i sc = _mm_sub_epi8(_mm_or_si128(lo, hi), _mm_set1_epi8(32));
    k->scb = _mm256_broadcastsi128_si256(sc);
    /* q = u - 4: the -4 as a minimum of 4 sc_g, taken off in integers */
    k->m = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 2);
    k->bits = _mm256_loadu_si256((const __m256i *)b->hmask);
    k->d = _cvtsh_ss(b->d);
    k->dmin = 0.0f;
}

AVX2_INLINE __m256i chunk_q3_k(const calgae_block_q3_k *b, const kprep *k, int c, __m256i *s)
{
    /* values 128h + 32j + l (c = 4h + j): bits 2j, 2j + 1 of qs[32h + l], bit c of hmask[l] */
    const __m256i qs = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (c / 4)));
    const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * (c % 4)), _mm256_set1_epi8(3));
    *s = chunk_scale(k->scb, 2 * c, 2 * c + 1, 1);
    return _mm256_or_si256(lo, bit_of(k->bits, c, 2));
}

AVX2_INLINE void prep_iq4_xs(const calgae_block_iq4_xs *b, kprep *k)
{
    int8_t ls[16] = {0};
    for (int g = 0; g < 8; g++) {
        const int low = (b->scales_l[g / 2] >> (4 * (g % 2))) & 15;
        ls[g] = (int8_t)((low | ((b->scales_h >> (2 * g)) & 3) << 4) - 32);
    }
    k->scb = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)ls));
    k->d = _cvtsh_ss(b->d);
    k->dmin = 0.0f;
}

AVX2_INLINE __m256i chunk_iq4_xs(const calgae_block_iq4_xs *b, const kprep *k, int c, __m256i *s)
{
    /* group c: values 0..15 in the low nibbles of qs[16c ..], 16..31 in the high ones */
    const __m128i v = _mm_loadu_si128((const __m128i *)(b->qs + 16 * c));
    const __m128i m4 = _mm_set1_epi8(15);
    const __m256i idx =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
    *s = chunk_scale(k->scb, c, c, 1);
    return _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)iq4_levels), idx);
}

/* One super-block against T tokens' activation blocks x[t], added to acc[t]. is_signed: the
 * codes are signed levels (IQ4_XS); int_min: the minimum shares d_w and is taken off in integers
 * (Q3_K); has_min: a minimum scaled by dmin_w (Q5_K, Q2_K). */
#define K2_BLOCK_DOT(TY, is_signed, int_min, has_min)                                          \
    AVX2_INLINE void block_dot_##TY(const calgae_block_##TY *b,                                \
                                    const calgae_block_q8_k *const *x, int T, __m256 *acc)     \
    {                                                                                          \
        kprep k;                                                                               \
        prep_##TY(b, &k);                                                                      \
        __m256i isum[K2_T];                                                                    \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                    \
            isum[t] = _mm256_setzero_si256();                                                  \
        _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++)                                    \
        {                                                                                      \
            __m256i s;                                                                         \
            const __m256i q = chunk_##TY(b, &k, c, &s);                                        \
            const __m256i uq = is_signed ? _mm256_abs_epi8(q) : q;                             \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                              \
                __m256i xv = _mm256_loadu_si256((const __m256i *)(x[t]->qs + 32 * c));         \
                if (is_signed)                                                                 \
                    xv = _mm256_sign_epi8(xv, q);                                              \
                const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(uq, xv), s);          \
                isum[t] = _mm256_add_epi32(isum[t], p);                                        \
            }                                                                                  \
        }                                                                                      \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                  \
            const float dx = x[t]->d;                                                          \
            __m256i is = isum[t];                                                              \
            if (int_min || has_min) {                                                          \
                const __m256i bs = _mm256_loadu_si256((const __m256i *)x[t]->bsums);           \
                const __m256i ms = _mm256_madd_epi16(bs, k.m);                                 \
                if (int_min)                                                                   \
                    is = _mm256_sub_epi32(is, ms);                                             \
                else                                                                           \
                    acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(dx * k.dmin),                     \
                                              _mm256_cvtepi32_ps(ms), acc[t]);                 \
            }                                                                                  \
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * k.d), _mm256_cvtepi32_ps(is), acc[t]); \
        }                                                                                      \
    }

K2_BLOCK_DOT(q5_k, 0, 0, 1)
K2_BLOCK_DOT(q3_k, 0, 1, 0)
K2_BLOCK_DOT(q2_k, 0, 0, 1)
K2_BLOCK_DOT(iq4_xs, 1, 0, 0)

/* matvec and matmul for type TY. matmul takes the tokens K2_T at a time (each chunk made once
 * for them), the rest one at a time. */
#define K2_PRODUCTS(TY)                                                             \
    AVX2_INLINE void rows_##TY(const calgae_block_##TY *wb, int64_t nb, const char *x, size_t xs, \
                              int T, float *y, int64_t ys)                                      \
    {                                                                                           \
        __m256 acc[K2_T];                                                                       \
        const calgae_block_q8_k *xb[K2_T];                                                      \
        _Pragma("GCC unroll 8") for (int k = 0; k < T; k++)                                     \
            acc[k] = _mm256_setzero_ps();                                                       \
        for (int64_t b = 0; b < nb; b++) {                                                      \
            _Pragma("GCC unroll 8") for (int k = 0; k < T; k++)                                 \
                xb[k] = (const calgae_block_q8_k *)(x + (size_t)k * xs) + b;                    \
            block_dot_##TY(&wb[b], xb, T, acc);                                                 \
        }                                                                                       \
        _Pragma("GCC unroll 8") for (int k = 0; k < T; k++)                                     \
            y[k * ys] = hsum_ps(acc[k]);                                                        \
    }                                                                                           \
    int avx2_matvec_##TY(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1) \
    {                                                                                           \
        const int64_t nb = w->cols / CALGAE_QK_K;                                               \
        for (int64_t r = r0; r < r1; r++)                                                       \
            rows_##TY((const void *)((const char *)w->data + (size_t)r * w->row_bytes), nb, x, \
                      0, 1, &y[r], 0);                                                          \
        return CALGAE_KERNEL_OK;                                                                \
    }                                                                                           \
    int avx2_matmul_##TY(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,        \
                        float *y, int64_t ys, int64_t r0, int64_t r1)                           \
    {                                                                                           \
        const int64_t nb = w->cols / CALGAE_QK_K;                                               \
        for (int64_t r = r0; r < r1; r++) {                                                     \
            const void *row = (const char *)w->data + (size_t)r * w->row_bytes;                 \
            int64_t t = 0;                                                                      \
            for (; t + K2_T <= n_tok; t += K2_T)                                                \
                rows_##TY(row, nb, (const char *)x + (size_t)t * xs, xs, K2_T, &y[t * ys + r],    \
                          ys);                                                                  \
            for (; t < n_tok; t++)                                                              \
                rows_##TY(row, nb, (const char *)x + (size_t)t * xs, xs, 1, &y[t * ys + r], ys); \
        }                                                                                       \
        return CALGAE_KERNEL_OK;                                                                \
    }

K2_PRODUCTS(q5_k)
K2_PRODUCTS(q3_k)
K2_PRODUCTS(q2_k)
K2_PRODUCTS(iq4_xs)
