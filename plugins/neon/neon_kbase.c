/*
 * neon_kbase.c - the K-quant, IQ4 and 5-bit block products (neon_kquant.h) for every ARMv8-A
 * CPU: 16 int8 products widened to int16 (vmull_s8) and pairwise-accumulated into int32 lanes
 * (vpadalq_s16), exact for any codes here (|q| <= 127, |x| <= 127). Plain -march=armv8-a.
 */
#include <arm_neon.h>

#define NEON_KVARIANT base

/* Four int32 lanes whose sum is the exact dot product of the two 16-byte vectors. */
static inline int32x4_t neon_dot16(int8x16_t a, int8x16_t b)
{
    const int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

#include "neon_kquant.h"
