/*
 * conformance.h - the kernel conformance suite: every slot of a plugin's table checked against
 * a reference plugin (normally "scalar") on seeded random inputs, odd sizes, zeros, extreme
 * scales, denormals and NaN/Inf. Used by `calgae backends verify`, by the plain driver
 * conformance_main and by ctest.
 *
 * It depends on plugin-api/calgae_plugin.h, libc and libm only (it is also cross-compiled for
 * aarch64), calls every kernel single-threaded, and never reads a slot that lies beyond the
 * table's struct_size (such a slot is "not provided", as the host treats it).
 *
 * What each slot must satisfy. u = 2^-24 (binary32 unit roundoff), g(n) = n*u / (1 - n*u) (the
 * bound of any order of summing n terms, FMA or not: Higham's gamma_n). "ref" is the reference
 * plugin's output on the same input; "exact" is computed by the suite in double. Errors are
 * bounds on |got - ref|; `worst` and `tol` in the results are that error and the allowed error
 * at the worst point, both divided by the point's scale (the sum below), so worst <= tol.
 *
 *  slot            allowed |got - ref|                            why
 *  quantize_q8_0   d bitwise equal; each q equal, or off by one    d = amax/127 is one IEEE
 *                  only where x*127/amax (in double) lies within   division; q may differ only
 *                  2^-14 of a half-integer (exact ties included)   where 1/d vs 127/amax or
 *                                                                  round-half-even flip a tie
 *  matvec/matmul   2*g(n) * sum|w_i*x_i| + n*2^-149, n = cols      both sides are some order
 *   f32, f16       (F16 weights widen exactly; x stays f32)        of summation; the 2^-149
 *                                                                  term is gradual underflow
 *  matvec/matmul   2*g(n+3) * sum_b |d_w*d_x| * sum_j |qw_j*qx_j|  integer products are exact,
 *   q8_0, q4_0,    + n*2^-149, n = cols; Q4_1 adds                 but not every kernel sums a
 *   q4_1           |m_w*d_x| * sum_j |qx_j| per block              whole block in integers
 *                  (element magnitudes, not |isum_b|: see below)
 *  quantize_q8_k   every byte equal (d, codes, bsums)              iscale * x is one rounding
 *                  (ABI 1.3)                                       and nearest-even is exact
 *  matvec/matmul   2*g(n+3) * sum over elements of                 integer sums are exact in
 *   q4_k, q6_k     |d_x*d_w*sc_g*q_j*x_j| + |d_x*dmin_w*m_g*x_j|   any kernel; a kernel may
 *                  (Q4_K's minimum term; Q6_K: q_j - 32, no m)     convert lane partial sums
 *                  + n*2^-149, n = cols                            to float and add them in
 *                                                                  any order (<= n adds)
 *  matvec/matmul   2*g(n+3) * sum over elements of B_b * |d_x*x_j|  as q4_k; the expected sum
 *   q5_k, q3_k,    + n*2^-149, n = cols, B_b a bound of the    is quant/kblocks.c's dequant
 *   q2_k, iq4_xs,  block's |d_w*sc*q| + |dmin_w*m| from its    (one rounding per weight,
 *   q5_0, q5_1,    scales: |d|*63*31 + |dmin|*63 (Q5_K),       <= u * B_b), apart from
 *   iq4_nl         |d|*32*4 (Q3_K), |d|*45 + |dmin|*15 (Q2_K), every plugin; B_b is per
 *   (ABI 1.4)      |d|*32*127 (IQ4_XS), |d|*16 (Q5_0),        block, not per element, so
 *                  |d|*31 + |m| (Q5_1), |d|*127 (IQ4_NL)       2x-4x looser than q4_k's
 *  matvec/matmul   as f32 (weights widen exactly; x stays      any order of summation
 *   bf16 (1.4)     f32; NaN/Inf/denormal cases too)
 *  dot_f32         as f32 matvec with one row
 *  rmsnorm         (g(n) + 16u) * |exact_i| + 2^-146               sum of squares, then ~8
 *                                                                  roundings each side
 *  softmax         (1e-5 + 2*g(n)) * |exact_i| + 1e-30             a vector exp good to a few
 *                                                                  ulp, plus the normaliser's
 *                                                                  sum; 1e-30 absorbs exp
 *                                                                  underflowing differently
 *  swiglu          1e-5 * |exact_i| + 1e-30 * max(1, |up_i|)       exp again
 *  rope            4u * (|x0*c| + |x1*s|) + 2^-146                 two products and a sum each
 *  axpy_f32        4u * (|y_i| + |a*x_i|) + 2^-146                 with or without FMA
 *
 *  block products  exactly 0 (got == exact), on inputs whose      every scale a power of two
 *   (exact cases)  partial sums are all representable: rows 16,   and sum |terms| < 2^24
 *                  53, 131; 1-67 blocks; 1, 4, 5, 9 tokens;       units: any order of any
 *                  prepared layouts too (conformance_exact.c)     correct kernel is exact
 *
 * Why the block types are not judged relative to sum_b |isum_b * d_w * d_x|: that bound holds
 * only for a kernel that finishes each block's integer sum before converting it, as the scalar
 * plugin does. ggml's own AVX2 vec_dot converts eight lane partial sums per block to float and
 * adds them in float, and a BLAS-style kernel dequantizes and sums floats; both are correct, and
 * their error is bounded by the element magnitudes, which exceed |isum_b| when a block's
 * products cancel. That bound is loose at 2048 columns (about 1% of a random-sign result), so
 * the exact cases above are what fail an integer sum off by one in a wide row.
 *
 * Structural rules, checked bitwise:
 *  - products write y[t * y_stride + r] for t < n_tok and r in [row_begin, row_end), nothing
 *    else (the rest of y, stride gaps included, is filled with a sentinel and must keep it);
 *    they read token t's activation at x + t * x_stride and weight row r at data + r * row_bytes
 *    (both strides are tested larger than the minimum, the gaps holding NaN or wrong blocks);
 *  - a row's value does not depend on the range it is computed in (each partial range is
 *    compared bit for bit with the full range): the host's thread count must not change results;
 *  - vector ops write nothing past n; rope leaves elements at i >= n_rot of each head alone;
 *  - rmsnorm gives the same answer in place (out == x).
 * Products are also run on the weight as the plugin's prepare_weight converted it, if it has one.
 *
 * NaN and Inf, float ops only (the Q8_0 quantization of a NaN is undefined, so block products
 * get no NaN/Inf inputs). The reference shows the required behaviour, compared by class (a NaN
 * must be a NaN, an infinity the same infinity):
 *  - f32/f16 products and dot_f32: a NaN in x makes every row NaN; a +Inf in x_j (one, the rest
 *    finite, w_rj nonzero) makes row r an infinity of w_rj's sign;
 *  - rmsnorm: a NaN anywhere in x makes every output NaN;
 *  - softmax: a NaN anywhere makes every output NaN; -Inf inputs (masks) give exactly 0;
 *  - swiglu: a NaN in gate_i or up_i makes out_i NaN; gate_i = +Inf gives an infinity of up_i's
 *    sign;
 *  - rope: a NaN in either element of a pair makes both NaN;
 *  - axpy_f32: a NaN in x_i makes y_i NaN, a NaN a makes all NaN, x_i = Inf (a != 0) an infinity.
 * Denormals must be kept: a plugin (or a -ffast-math library that set flush-to-zero for the
 * whole process) that flushes them fails the denormal cases, which are exact.
 *
 * A product that returns CALGAE_KERNEL_DECLINED is counted as declined, not failed (the host
 * falls back); a slot that declines every call is reported as declined.
 */
#ifndef CALGAE_CONFORMANCE_H
#define CALGAE_CONFORMANCE_H

#include <stdint.h>

#include "calgae_plugin.h"

enum calgae_conf_status {
    CALGAE_CONF_PASS = 0,
    CALGAE_CONF_FAIL = 1,
    CALGAE_CONF_ABSENT = 2,   /* not provided (NULL or beyond struct_size): falls back, fine */
    CALGAE_CONF_DECLINED = 3, /* provided, but declined every call: falls back, fine */
};

typedef struct {
    const char *slot;  /* the slot's field name in calgae_plugin ("matvec_q4_0") */
    int status;        /* enum calgae_conf_status */
    int cases;         /* kernel calls checked */
    int declined;      /* of those, how many the kernel declined */
    double worst;      /* the worst error, relative to its point's scale (see the table above) */
    double tol;        /* the tolerance at that point, in the same unit */
    char detail[200];  /* the first failure, or a note ("" if none) */
} calgae_conf_result;

/* One result per slot of the contract (ABI 1.4), in the table's order. */
#define CALGAE_CONF_SLOTS 38

/* Runs the suite on plugin p, comparing with ref (which must provide every slot p provides),
 * with inputs drawn from seed. Fills up to max_out results and returns how many it filled. */
int calgae_conformance_run(const calgae_plugin *p, const calgae_plugin *ref, uint64_t seed,
                           calgae_conf_result *out, int max_out);

/* "pass", "FAIL", "not provided", "declined". */
const char *calgae_conf_status_name(int status);

#endif
