/*
 * products_k2.c - the avx2 plugin's ABI 1.4 K-quant products: Q5_K, Q3_K, Q2_K and IQ4_XS
 * weights in ggml's stored layout against Q8_K activations, the integer sums of ggml's
 * vec_dot_q5_K_q8_K, vec_dot_q3_K_q8_K, vec_dot_q2_K_q8_K and vec_dot_iq4_xs_q8_K
 * (calgae_plugin.h states each; plugins/scalar/scalar_k2.c has the plain loops).
 *
 * Each super-block is first unpacked into one common form (a ublock): eight 32-byte vectors of
 * codes in value order, and for every group of 16 values an int16 scale and an int16 minimum.
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
 * by d_x * dmin_w) and accumulated with FMA. matmul unpacks each super-block once for four
 * tokens; a token's accumulation is the same sequence of operations whichever path computes
 * it, so matmul gives each token exactly what matvec gives it and any row split agrees.
 */
#include "kernels.h"
#include "simd.h"

/* ggml's kvalues_iq4nl, the 16 levels of IQ4_NL and IQ4_XS, twice (one per 128-bit lane of
 * vpshufb). */
static const int8_t iq4_levels[32] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38,
                                      53,   69,   89,  113, -127, -104, -83, -65, -49, -35,
                                      -22,  -10,  1,   13,  25,  38,  53,  69,  89,  113};

/* A super-block unpacked (see the header comment). Chunk c holds values 32c .. 32c + 31, that is
 * the groups of 16 number 2c (low 128-bit lane of s[c]) and 2c + 1 (high lane). */
typedef struct {
    __m256i q[8]; /* codes: the unsigned operand, or IQ4_XS's signed levels */
    __m256i s[8]; /* int16 scale of each value pair's group */
    __m256i m;    /* int16 minimum of each group of 16 (zero if none) */
    float d;      /* d_w */
    float dmin;   /* dmin_w; 0 where the minimum is taken off in integers (Q3_K) or absent */
} ublock;

/* 16 int16 lanes: the low 8 are a, the high 8 are b */
AVX2_INLINE __m256i pair16(int a, int b)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)b), _mm_set1_epi16((short)a));
}

AVX2_INLINE void unpack_q5_k(const calgae_block_q5_k *b, ublock *u)
{
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    const __m256i qh = _mm256_loadu_si256((const __m256i *)b->qh);
    int16_t m[16];
    for (int p = 0; p < 4; p++) {
        /* groups 2p and 2p + 1: the low and high nibbles of bytes 32p .. 32p + 31 */
        const __m256i qs = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * p));
        const __m256i lo = _mm256_and_si256(qs, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qs, 4), m4);
        /* the fifth bit of group g is bit g of each qh byte (a 16-bit shift by g < 8 leaves
         * bit 0 of each byte holding bit g of that same byte) */
        const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one);
        const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one);
        u->q[2 * p] = _mm256_or_si256(lo, _mm256_slli_epi16(h0, 4));
        u->q[2 * p + 1] = _mm256_or_si256(hi, _mm256_slli_epi16(h1, 4));
    }
    for (int g = 0; g < 8; g++) {
        uint8_t sc, mn;
        calgae_q4_k_scale_min(g, b->scales, &sc, &mn);
        u->s[g] = _mm256_set1_epi16(sc);
        m[2 * g] = m[2 * g + 1] = mn;
    }
    u->m = _mm256_loadu_si256((const __m256i *)m);
    u->d = _cvtsh_ss(b->d);
    u->dmin = _cvtsh_ss(b->dmin);
}

AVX2_INLINE void unpack_q2_k(const calgae_block_q2_k *b, ublock *u)
{
    const __m256i m2 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        /* values 128h + 32s + l: bits 2s, 2s + 1 of byte 32h + l */
        const __m256i qs = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        for (int s = 0; s < 4; s++)
            u->q[4 * h + s] = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * s), m2);
    }
    const __m128i sc = _mm_loadu_si128((const __m128i *)b->scales);
    const __m256i sc16 = _mm256_cvtepu8_epi16(sc);
    const __m256i lo = _mm256_and_si256(sc16, _mm256_set1_epi16(15));
    u->m = _mm256_srli_epi16(sc16, 4);
    int16_t s[16];
    _mm256_storeu_si256((__m256i *)s, lo);
    for (int c = 0; c < 8; c++)
        u->s[c] = pair16(s[2 * c], s[2 * c + 1]);
    u->d = _cvtsh_ss(b->d);
    u->dmin = _cvtsh_ss(b->dmin);
}

AVX2_INLINE void unpack_q3_k(const calgae_block_q3_k *b, ublock *u)
{
    const __m256i m2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    const __m256i hm = _mm256_loadu_si256((const __m256i *)b->hmask);
    for (int h = 0; h < 2; h++) {
        /* values 128h + 32s + l: bits 2s, 2s + 1 of qs[32h + l] and bit 4h + s of hmask[l] */
        const __m256i qs = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        for (int s = 0; s < 4; s++) {
            const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * s), m2);
            const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + s), one);
            u->q[4 * h + s] = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
        }
    }
    int16_t sc[16], m[16];
    for (int g = 0; g < 16; g++) {
        const int low = g < 8 ? b->scales[g] & 15 : b->scales[g - 8] >> 4;
        const int high = (b->scales[8 + g % 4] >> (2 * (g / 4))) & 3;
        sc[g] = (int16_t)((low | high << 4) - 32);
        m[g] = (int16_t)(4 * sc[g]); /* q = u - 4: the -4 as a minimum, taken off in integers */
    }
    for (int c = 0; c < 8; c++)
        u->s[c] = pair16(sc[2 * c], sc[2 * c + 1]);
    u->m = _mm256_loadu_si256((const __m256i *)m);
    u->d = _cvtsh_ss(b->d);
    u->dmin = 0.0f;
}

AVX2_INLINE void unpack_iq4_xs(const calgae_block_iq4_xs *b, ublock *u)
{
    const __m256i table = _mm256_loadu_si256((const __m256i *)iq4_levels);
    const __m128i m4 = _mm_set1_epi8(15);
    for (int g = 0; g < 8; g++) {
        /* group g: values 0..15 in the low nibbles of qs[16g ..], 16..31 in the high ones */
        const __m128i v = _mm_loadu_si128((const __m128i *)(b->qs + 16 * g));
        const __m256i idx = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
        u->q[g] = _mm256_shuffle_epi8(table, idx);
        const int ls = ((b->scales_l[g / 2] >> (4 * (g % 2))) & 15) | ((b->scales_h >> (2 * g)) & 3) << 4;
        u->s[g] = _mm256_set1_epi16((short)(ls - 32));
    }
    u->m = _mm256_setzero_si256();
    u->d = _cvtsh_ss(b->d);
    u->dmin = 0.0f;
}

/* The unpacked super-block against T tokens' activation blocks x[t], added to acc[t].
 * is_signed: the codes are signed levels (IQ4_XS); int_min: the minimum shares d_w and is taken
 * off in integers (Q3_K); has_min: a minimum scaled by dmin_w (Q5_K, Q2_K). */
AVX2_INLINE void ublock_dot(const ublock *u, const calgae_block_q8_k *const *x, int T,
                            __m256 *acc, int is_signed, int int_min, int has_min)
{
    __m256i isum[4];
    for (int t = 0; t < T; t++)
        isum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 8; c++) {
        const __m256i q = u->q[c];
        const __m256i uq = is_signed ? _mm256_abs_epi8(q) : q;
        for (int t = 0; t < T; t++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(x[t]->qs + 32 * c));
            if (is_signed)
                xv = _mm256_sign_epi8(xv, q);
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(uq, xv), u->s[c]));
        }
    }
    for (int t = 0; t < T; t++) {
        const float dx = x[t]->d;
        __m256i is = isum[t];
        if (int_min || has_min) {
            const __m256i bs = _mm256_loadu_si256((const __m256i *)x[t]->bsums);
            const __m256i ms = _mm256_madd_epi16(bs, u->m);
            if (int_min)
                is = _mm256_sub_epi32(is, ms);
            else
                acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(dx * u->dmin), _mm256_cvtepi32_ps(ms), acc[t]);
        }
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * u->d), _mm256_cvtepi32_ps(is), acc[t]);
    }
}

/* matvec and matmul for type t, whose ublock_dot flags are (sg, im, hm). matmul takes the
 * tokens four at a time (one unpack per super-block for the four), the rest one at a time. */
#define K2_PRODUCTS(TY, sg, im, hm)                                                             \
    AVX2_INLINE void rows_##TY(const calgae_block_##TY *wb, int64_t nb, const char *x, size_t xs, \
                              int T, float *y, int64_t ys)                                      \
    {                                                                                           \
        __m256 acc[4];                                                                          \
        const calgae_block_q8_k *xb[4];                                                         \
        for (int k = 0; k < T; k++)                                                             \
            acc[k] = _mm256_setzero_ps();                                                       \
        for (int64_t b = 0; b < nb; b++) {                                                      \
            ublock u;                                                                           \
            unpack_##TY(&wb[b], &u);                                                             \
            for (int k = 0; k < T; k++)                                                         \
                xb[k] = (const calgae_block_q8_k *)(x + (size_t)k * xs) + b;                    \
            ublock_dot(&u, xb, T, acc, sg, im, hm);                                             \
        }                                                                                       \
        for (int k = 0; k < T; k++)                                                             \
            y[k * ys] = hsum_ps(acc[k]);                                                        \
    }                                                                                           \
    int avx2_matvec_##TY(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1) \
    {                                                                                           \
        const int64_t nb = w->cols / CALGAE_QK_K;                                               \
        for (int64_t r = r0; r < r1; r++)                                                       \
            rows_##TY((const void *)((const char *)w->data + (size_t)r * w->row_bytes), nb, x, 0, 1, \
                     &y[r], 0);                                                                 \
        return CALGAE_KERNEL_OK;                                                                \
    }                                                                                           \
    int avx2_matmul_##TY(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,        \
                        float *y, int64_t ys, int64_t r0, int64_t r1)                           \
    {                                                                                           \
        const int64_t nb = w->cols / CALGAE_QK_K;                                               \
        for (int64_t r = r0; r < r1; r++) {                                                     \
            const void *row = (const char *)w->data + (size_t)r * w->row_bytes;                 \
            int64_t t = 0;                                                                      \
            for (; t + 4 <= n_tok; t += 4)                                                      \
                rows_##TY(row, nb, (const char *)x + (size_t)t * xs, xs, 4, &y[t * ys + r], ys); \
            for (; t < n_tok; t++)                                                              \
                rows_##TY(row, nb, (const char *)x + (size_t)t * xs, xs, 1, &y[t * ys + r], ys); \
        }                                                                                       \
        return CALGAE_KERNEL_OK;                                                                \
    }

K2_PRODUCTS(q5_k, 0, 0, 1)
K2_PRODUCTS(q3_k, 0, 1, 0)
K2_PRODUCTS(q2_k, 0, 0, 1)
K2_PRODUCTS(iq4_xs, 1, 0, 0)
