/*
 * products_k.c - the avx2 plugin's K-quant products (ABI 1.3): Q4_K and Q6_K weights in ggml's
 * stored layout against Q8_K activations, the arithmetic of ggml's vec_dot_q4_K_q8_K and
 * vec_dot_q6_K_q8_K (calgae_plugin.h states it; plugins/scalar has the plain loops).
 *
 * The 4- and 6-bit codes are unsigned, so they are vpmaddubsw's unsigned operand as they are
 * and the activation bytes its signed one: pair sums of at most 2 * 63 * 127, no saturation.
 * vpmaddwd against the group's scale (Q4_K's 6-bit sc, Q6_K's int8) widens them to int32 lanes.
 * The parts that do not depend on the codes are taken from the activation's group sums
 * (bsums) once per super-block: Q4_K's minimum, dmin * sum_g m_g * sum(x_g), and Q6_K's
 * offset of 32, 32 * sum_g sc_g * sum(x_g). Each super-block's lanes are converted to float,
 * scaled by d_x * d_w and accumulated with FMA; a row's value depends only on the row and
 * the token, so matmul gives each token what matvec gives it and any row split agrees.
 */
#include <immintrin.h>

#include "kernels.h"

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static float dot_q4_k(const calgae_block_q4_k *w, const calgae_block_q8_k *x, int64_t nb)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t sc[8], m[8];
        int32_t msum = 0;
        for (int g = 0; g < 8; g++) {
            calgae_q4_k_scale_min(g, w[b].scales, &sc[g], &m[g]);
            msum += m[g] * (x[b].bsums[2 * g] + x[b].bsums[2 * g + 1]);
        }
        __m256i isum = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            /* 32 bytes: group 2j in the low nibbles, group 2j + 1 in the high ones */
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(q, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * j));
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(x[b].qs + 64 * j + 32));
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x0),
                                                 _mm256_set1_epi16(sc[2 * j]));
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x1),
                                                 _mm256_set1_epi16(sc[2 * j + 1]));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
        }
        const float dx = x[b].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dx * _cvtsh_ss(w[b].d)), _mm256_cvtepi32_ps(isum), acc);
        mins += (dx * _cvtsh_ss(w[b].dmin)) * (float)msum;
    }
    return hsum8(acc) - mins;
}

static float dot_q6_k(const calgae_block_q6_k *w, const calgae_block_q8_k *x, int64_t nb)
{
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float offs = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t off = 0;
        for (int g = 0; g < 16; g++)
            off += w[b].scales[g] * x[b].bsums[g];
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            /* 128 values: 64 bytes of low nibbles, 32 bytes of 2-bit high parts (four per byte) */
            const uint8_t *ql = w[b].ql + 64 * h;
            const int8_t *sc = w[b].scales + 8 * h;
            const __m256i la = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i lb = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(w[b].qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(la, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(lb, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(x[b].qs + 128 * h + 32 * k));
                /* lanes 0-7 are the group of values 0-15, lanes 8-15 the next group */
                const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], xv), s));
            }
        }
        const float d = x[b].d * _cvtsh_ss(w[b].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
        offs += d * (float)(32 * off);
    }
    return hsum8(acc) - offs;
}

#define K_PRODUCTS(T)                                                                          \
    int avx2_matvec_##T(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1) \
    {                                                                                          \
        const int64_t nb = w->cols / CALGAE_QK_K;                                              \
        for (int64_t r = r0; r < r1; r++)                                                      \
            y[r] = dot_##T((const void *)((const char *)w->data + (size_t)r * w->row_bytes), x, nb); \
        return CALGAE_KERNEL_OK;                                                               \
    }                                                                                          \
    int avx2_matmul_##T(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,       \
                        float *y, int64_t ys, int64_t r0, int64_t r1)                          \
    {                                                                                          \
        const int64_t nb = w->cols / CALGAE_QK_K;                                              \
        for (int64_t r = r0; r < r1; r++) {                                                    \
            const void *row = (const char *)w->data + (size_t)r * w->row_bytes;                \
            for (int64_t t = 0; t < n_tok; t++)                                                \
                y[t * ys + r] = dot_##T(row, (const void *)((const char *)x + (size_t)t * xs), nb); \
        }                                                                                      \
        return CALGAE_KERNEL_OK;                                                               \
    }

K_PRODUCTS(q4_k)
K_PRODUCTS(q6_k)

void avx2_quantize_q8_k(const float *x, void *out, int64_t n)
{
    calgae_quantize_q8_k_ref(x, out, n);
}
