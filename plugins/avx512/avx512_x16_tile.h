/*
 * avx512_x16_tile.h - what the x16 block kernels (avx512_x16_impl.h) and float kernels
 * (avx512_x16f.c) share: the unrolling pragma and the store of a group's 16 rows. Included only
 * by files compiled with the AVX-512 flags (or the SIMDe build).
 */
#ifndef CALGAE_AVX512_X16_TILE_H
#define CALGAE_AVX512_X16_TILE_H

#include "avx512_isa.h"
#include "avx512_x16.h"

/* Full unrolling makes a tile's accumulators registers. Not in the emulated build: there each
 * intrinsic is a function of its own, and unrolled SIMDe code takes minutes to compile while
 * the loops compute the same thing. */
#ifdef CALGAE_AVX512_SIMDE
#define UNROLL(n)
#else
#define UNROLL_STR(x) #x
#define UNROLL(n) _Pragma(UNROLL_STR(GCC unroll n))
#endif

/* y[(t0 + t) * ys + row] for the rows of group g inside [r0, r1) */
AVX512_INLINE void x16_store_group(const __m512 *acc, const int T, int64_t g, int64_t r0,
                                   int64_t r1, float *y, int64_t t0, int64_t ys)
{
    const int64_t first = g * X16_ROWS;
    const int64_t lo = r0 > first ? r0 - first : 0, hi = r1 < first + X16_ROWS ? r1 - first : X16_ROWS;
    const __mmask16 m = (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    for (int t = 0; t < T; t++) {
        float *out = y + (t0 + t) * ys + first;
        if (m == 0xFFFF)
            _mm512_storeu_ps(out, acc[t]);
        else
            _mm512_mask_storeu_ps(out, m, acc[t]);
    }
}

#endif /* CALGAE_AVX512_X16_TILE_H */
