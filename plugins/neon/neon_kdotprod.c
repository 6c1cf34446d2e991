/*
 * neon_kdotprod.c - the K-quant, IQ4 and 5-bit block products (neon_kquant.h) for CPUs with
 * the Armv8.2 dot-product extension: SDOT sums four int8 products into each int32 lane.
 * Compiled with -march=armv8.2-a+dotprod; neon.c calls in only when the probe has seen
 * HWCAP_ASIMDDP (calgae_neon_dotprod).
 */
#if !defined(__ARM_FEATURE_DOTPROD)
#error "neon_kdotprod.c must be compiled with -march=armv8.2-a+dotprod"
#endif

#include <arm_neon.h>

#define NEON_KVARIANT dotprod

/* Four int32 lanes whose sum is the exact dot product of the two 16-byte vectors. */
static inline int32x4_t neon_dot16(int8x16_t a, int8x16_t b)
{
    return vdotq_s32(vdupq_n_s32(0), a, b);
}

#include "neon_kquant.h"
