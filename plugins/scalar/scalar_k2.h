/*
 * scalar_k2.h - the scalar plugin's ABI 1.4 products (scalar_k2.c): Q5_K, Q3_K, Q2_K and IQ4_XS
 * against Q8_K activations, Q5_0, Q5_1 and IQ4_NL against Q8_0, BF16 against floats.
 */
#ifndef CALGAE_SCALAR_K2_H
#define CALGAE_SCALAR_K2_H

#include "calgae_plugin.h"

#define SCALAR_K2_DECLARE(t)                                                                  \
    int scalar_matvec_##t(const calgae_weight *w, const void *x, float *y, int64_t r0,        \
                          int64_t r1);                                                        \
    int scalar_matmul_##t(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,    \
                          float *y, int64_t ys, int64_t r0, int64_t r1);
SCALAR_K2_DECLARE(q5_k)
SCALAR_K2_DECLARE(q3_k)
SCALAR_K2_DECLARE(q2_k)
SCALAR_K2_DECLARE(iq4_xs)
SCALAR_K2_DECLARE(q5_0)
SCALAR_K2_DECLARE(q5_1)
SCALAR_K2_DECLARE(iq4_nl)
SCALAR_K2_DECLARE(bf16)
#undef SCALAR_K2_DECLARE

#endif
