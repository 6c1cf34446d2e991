/*
 * conformance_k2.c - the conformance suite's inputs and expected sums for the ABI 1.4 weight
 * types (Q5_K, Q3_K, Q2_K, IQ4_XS against Q8_K; Q5_0, Q5_1, IQ4_NL against Q8_0). Weights are
 * random bytes (every code, scale and minimum of these layouts is valid) with the fp16 scales
 * set by kind. The expected sum comes from quant/kblocks.c's dequantizer (ggml's, checked bit
 * for bit against llama-quantize's blocks by tests/kquant_dequant_test.py), not from any
 * plugin: each weight w_j = a_j - b_j (the scaled code and the minimum) rounds once there, so
 * |w_j - exact| <= u * (|a_j| + |b_j|), far inside the tolerance.
 *
 * The tolerance's scale is a bound per block rather than per element: |a_j| + |b_j| <= B with
 * B = |d| * max|sc| * max|q| + |dmin| * max m over the type's ranges (table in conformance.h),
 * times |d_x * q_x,j|. It is looser than the per-element scale of Q4_K/Q6_K (about 2x to 4x on
 * random blocks), still a relative bound of about 2^-12 at 2048 columns: a wrong bit layout is
 * off by O(1) of the result.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_internal.h"
#include "types.h"

int conf_is_k2(uint32_t type)
{
    switch (type) {
    case CALGAE_TYPE_Q5_K:
    case CALGAE_TYPE_Q3_K:
    case CALGAE_TYPE_Q2_K:
    case CALGAE_TYPE_IQ4_XS:
    case CALGAE_TYPE_Q5_0:
    case CALGAE_TYPE_Q5_1:
    case CALGAE_TYPE_IQ4_NL: return 1;
    default: return 0;
    }
}

/* Where a block keeps its fp16 scale d and its second fp16 (dmin or m; -1 for none). */
static void scale_offsets(uint32_t type, long *d, long *m)
{
    *m = -1;
    switch (type) {
    case CALGAE_TYPE_Q5_K:
        *d = offsetof(calgae_block_q5_k, d);
        *m = offsetof(calgae_block_q5_k, dmin);
        break;
    case CALGAE_TYPE_Q3_K: *d = offsetof(calgae_block_q3_k, d); break;
    case CALGAE_TYPE_Q2_K:
        *d = offsetof(calgae_block_q2_k, d);
        *m = offsetof(calgae_block_q2_k, dmin);
        break;
    case CALGAE_TYPE_IQ4_XS: *d = offsetof(calgae_block_iq4_xs, d); break;
    case CALGAE_TYPE_Q5_0: *d = offsetof(calgae_block_q5_0, d); break;
    case CALGAE_TYPE_Q5_1:
        *d = offsetof(calgae_block_q5_1, d);
        *m = offsetof(calgae_block_q5_1, m);
        break;
    default: *d = offsetof(calgae_block_iq4_nl, d); break;
    }
}

/* The bound B of |a_j| + |b_j| for a block of the type, from its two fp16 scales: the largest
 * |scale * code| of the layout times |d|, plus the largest minimum multiplier times |dmin|
 * (Q5_K: 63 * 31 + 63; Q3_K: 32 * 4; Q2_K: 15 * 3 + 15; IQ4_XS: 32 * 127; Q5_0: 16; Q5_1:
 * 31 + 1 (m itself); IQ4_NL: 127). */
static double block_bound(uint32_t type, double d, double m)
{
    switch (type) {
    case CALGAE_TYPE_Q5_K: return fabs(d) * 63 * 31 + fabs(m) * 63;
    case CALGAE_TYPE_Q3_K: return fabs(d) * 32 * 4;
    case CALGAE_TYPE_Q2_K: return fabs(d) * 15 * 3 + fabs(m) * 15;
    case CALGAE_TYPE_IQ4_XS: return fabs(d) * 32 * 127;
    case CALGAE_TYPE_Q5_0: return fabs(d) * 16;
    case CALGAE_TYPE_Q5_1: return fabs(d) * 31 + fabs(m);
    default: return fabs(d) * 127;
    }
}

void conf_k2_fill_block(unsigned char *blk, uint32_t type, size_t bytes, rng_t *g, calgae_fp16 d,
                        calgae_fp16 m)
{
    for (size_t i = 0; i < bytes; i++)
        blk[i] = (unsigned char)rnd_int(g, 256);
    long od, om;
    scale_offsets(type, &od, &om);
    memcpy(blk + od, &d, sizeof d);
    if (om >= 0)
        memcpy(blk + om, &m, sizeof m);
}

void conf_k2_block_terms(uint32_t type, const unsigned char *blk, const int8_t *qx, double dx,
                         double *exact, double *scale)
{
    const calgae_type_info *t = calgae_type_traits(type);
    const int n = (int)t->blck_size;
    float wf[CALGAE_QK_K];
    calgae_dequantize_row(type, blk, wf, n);
    long od, om;
    scale_offsets(type, &od, &om);
    calgae_fp16 d, m = 0;
    memcpy(&d, blk + od, sizeof d);
    if (om >= 0)
        memcpy(&m, blk + om, sizeof m);
    const double bound = block_bound(type, calgae_fp16_to_fp32(d), calgae_fp16_to_fp32(m));
    double e = 0, s = 0;
    for (int j = 0; j < n; j++) {
        e += (double)wf[j] * qx[j];
        s += bound * abs(qx[j]);
    }
    *exact = dx * e;
    *scale = fabs(dx) * s;
}
