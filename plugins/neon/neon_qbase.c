/*
 * neon_qbase.c - the block products for every ARMv8-A CPU: a block's 32 int8 products are
 * widened to int16 (vmull_s8) and pairwise-accumulated into int32 lanes (vpadalq_s16), which
 * cannot overflow even for -128 * -128. Compiled with plain -march=armv8-a.
 */
#include <arm_neon.h>

#define NEON_QVARIANT base

/* Four int32 lanes whose sum is the exact dot product of the two 32-value blocks. */
static inline int32x4_t neon_block_dot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1)
{
    int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    acc = vpadalq_s16(acc, vmull_high_s8(w0, x0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    return vpadalq_s16(acc, vmull_high_s8(w1, x1));
}

#include "neon_qdot.h"
