/*
 * avx512_krows.h - the row-by-row drivers of the avx512 plugin's stored-layout K-quant products
 * (avx512_kquant_impl.h: Q4_K, Q6_K; avx512_kquant2_impl.h: Q5_K, Q3_K, Q2_K, IQ4_XS). Each
 * includer defines a tile function per type, tile_T(row, x, xs, nt, nb, out): nt tokens (at
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

#include "calgae_plugin.h"

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
