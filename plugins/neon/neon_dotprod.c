/*
 * neon_dotprod.c - the block products for CPUs with the Armv8.2 dot-product extension
 * (SDOT: four int8 products summed into each int32 lane in one instruction). Compiled with
 * -march=armv8.2-a+dotprod, so nothing here may run before the probe has seen HWCAP_ASIMDDP;
 * neon.c only calls in when calgae_neon_dotprod is set.
 */
#if !defined(__ARM_FEATURE_DOTPROD)
#error "neon_dotprod.c must be compiled with -march=armv8.2-a+dotprod"
#endif

#include <arm_neon.h>

#define NEON_QVARIANT dotprod

/* Four int32 lanes whose sum is the exact dot product of the two 32-value blocks. */
static inline int32x4_t neon_block_dot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1)
{
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
}

#include "neon_qdot.h"
