/*
 * avx512_simde_shim.h - what SIMDe 0.7.4 (Debian 12's libsimde-dev) lacks or declares wrongly
 * among the AVX-512 intrinsics the kernels use. Included by avx512_isa.h in the emulated
 * build only (CALGAE_AVX512_SIMDE), after <simde/x86/avx512.h>; never in the native build.
 *
 * Each function is written from the intrinsic's documented semantics (Intel Intrinsics Guide),
 * lane by lane through plain arrays: slow, obviously correct, and touching only the elements
 * a masked load or store names (so AddressSanitizer sees the same accesses the hardware's
 * fault suppression allows). Every one is guarded, so a newer SIMDe that provides the
 * intrinsic wins. Two are replaced outright, being wrong in 0.7.4: _mm512_madd_epi16 (its
 * alias takes the four arguments of the masked form) and _mm512_roundscale_ps (truncation
 * returns its input unchanged).
 */
#ifndef CALGAE_AVX512_SIMDE_SHIM_H
#define CALGAE_AVX512_SIMDE_SHIM_H

#ifndef CALGAE_AVX512_SIMDE
#error "avx512_simde_shim.h is for the SIMDe build only"
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "calgae_plugin.h"

/* Mask types and rounding constants without native aliases in 0.7.4. Macros, not typedefs:
 * harmless should a system header define the real types. */
#define __mmask8 simde__mmask8
#define __mmask16 simde__mmask16
#define __mmask32 simde__mmask32
#define __mmask64 simde__mmask64
#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#endif

/* Vector <-> array, by memcpy: the SIMDe types are plain 64-byte objects. */
#define SHIM_TO(arr, v) memcpy((arr), &(v), sizeof(v))
#define SHIM_FROM(v, arr) memcpy(&(v), (arr), sizeof(v))

/* vpmaddwd: dst.i32[j] = a.i16[2j] * b.i16[2j] + a.i16[2j+1] * b.i16[2j+1], wrapping in the
 * one case that overflows (both pairs -32768 * -32768: 2^31 becomes INT32_MIN). SIMDe 0.7.4's
 * alias macro takes (src, k, a, b), and its function adds in int, which is undefined there
 * (UBSan reports it), so both are replaced. The kernels never reach the wrap (their operands
 * are vpmaddubsw's pair sums against ones), avx512_shim_test.c does. */
#undef _mm512_madd_epi16
static inline simde__m512i calgae_shim_madd_epi16(simde__m512i a, simde__m512i b)
{
    int16_t x[32], y[32];
    int32_t out[16];
    simde__m512i r;
    SHIM_TO(x, a);
    SHIM_TO(y, b);
    for (int j = 0; j < 16; j++) {
        const uint32_t sum = (uint32_t)((int32_t)x[2 * j] * y[2 * j]) +
                             (uint32_t)((int32_t)x[2 * j + 1] * y[2 * j + 1]);
        out[j] = (int32_t)sum; /* modulo 2^32, as gcc and clang define the conversion */
    }
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_madd_epi16(a, b) calgae_shim_madd_epi16((a), (b))

/* vcvtdq2ps: int32 -> float, rounded by the current mode (as C's conversion is). */
#ifndef _mm512_cvtepi32_ps
static inline simde__m512 calgae_shim_cvtepi32_ps(simde__m512i a)
{
    int32_t in[16];
    float out[16];
    simde__m512 r;
    SHIM_TO(in, a);
    for (int j = 0; j < 16; j++)
        out[j] = (float)in[j];
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_cvtepi32_ps(a) calgae_shim_cvtepi32_ps(a)
#endif

/* vcvttps2dq: truncate toward zero; NaN and out-of-range lanes give the "integer indefinite"
 * 0x80000000 (C leaves those undefined, so they are spelled out). */
#ifndef _mm512_cvttps_epi32
static inline simde__m512i calgae_shim_cvttps_epi32(simde__m512 a)
{
    float in[16];
    int32_t out[16];
    simde__m512i r;
    SHIM_TO(in, a);
    for (int j = 0; j < 16; j++) {
        const float f = in[j];
        out[j] = (f != f || f >= 2147483648.0f || f < -2147483648.0f) ? INT32_MIN : (int32_t)f;
    }
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_cvttps_epi32(a) calgae_shim_cvttps_epi32(a)
#endif

/* vpmovdb: each int32 truncated to its low byte (no saturation), 16 bytes. */
#ifndef _mm512_cvtepi32_epi8
static inline simde__m128i calgae_shim_cvtepi32_epi8(simde__m512i a)
{
    int32_t in[16];
    uint8_t out[16];
    simde__m128i r;
    SHIM_TO(in, a);
    for (int j = 0; j < 16; j++)
        out[j] = (uint8_t)((uint32_t)in[j] & 0xffu);
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_cvtepi32_epi8(a) calgae_shim_cvtepi32_epi8(a)
#endif

/* vcvtph2ps: 16 binary16 values (the low 256 bits) -> binary32, exactly. */
#ifndef _mm512_cvtph_ps
static inline simde__m512 calgae_shim_cvtph_ps(simde__m256i a)
{
    uint16_t in[16];
    float out[16];
    simde__m512 r;
    SHIM_TO(in, a);
    for (int j = 0; j < 16; j++)
        out[j] = calgae_fp16_to_fp32(in[j]);
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_cvtph_ps(a) calgae_shim_cvtph_ps(a)
#endif

/* Horizontal sum and max. The guide defines the sum as a bisection: the upper half added to
 * the lower half, repeatedly (16 -> 8 -> 4 -> 2 -> 1), which fixes the rounding; the emulated
 * build follows it so that it gives the native build's bits. */
#ifndef _mm512_reduce_add_ps
static inline float calgae_shim_reduce_add_ps(simde__m512 a)
{
    float v[16];
    SHIM_TO(v, a);
    for (int len = 8; len >= 1; len /= 2)
        for (int j = 0; j < len; j++)
            v[j] = v[j] + v[j + len];
    return v[0];
}
#define _mm512_reduce_add_ps(a) calgae_shim_reduce_add_ps(a)
#endif

#ifndef _mm512_reduce_max_ps
static inline float calgae_shim_reduce_max_ps(simde__m512 a)
{
    float v[16];
    SHIM_TO(v, a);
    for (int len = 8; len >= 1; len /= 2)
        for (int j = 0; j < len; j++)
            v[j] = v[j] > v[j + len] ? v[j] : v[j + len];
    return v[0];
}
#define _mm512_reduce_max_ps(a) calgae_shim_reduce_max_ps(a)
#endif

/* Masked loads and stores: only the lanes whose mask bit is set touch memory; the others load
 * as zero or are left alone. */
#ifndef _mm512_maskz_loadu_ps
static inline simde__m512 calgae_shim_maskz_loadu_ps(simde__mmask16 k, const void *p)
{
    float out[16] = {0};
    simde__m512 r;
    for (int j = 0; j < 16; j++)
        if ((k >> j) & 1)
            memcpy(&out[j], (const char *)p + 4 * j, 4);
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_maskz_loadu_ps(k, p) calgae_shim_maskz_loadu_ps((k), (p))
#endif

#ifndef _mm512_maskz_loadu_epi16
static inline simde__m512i calgae_shim_maskz_loadu_epi16(simde__mmask32 k, const void *p)
{
    uint16_t out[32] = {0};
    simde__m512i r;
    for (int j = 0; j < 32; j++)
        if ((k >> j) & 1)
            memcpy(&out[j], (const char *)p + 2 * j, 2);
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_maskz_loadu_epi16(k, p) calgae_shim_maskz_loadu_epi16((k), (p))
#endif

#ifndef _mm512_mask_storeu_ps
static inline void calgae_shim_mask_storeu_ps(void *p, simde__mmask16 k, simde__m512 a)
{
    float in[16];
    SHIM_TO(in, a);
    for (int j = 0; j < 16; j++)
        if ((k >> j) & 1)
            memcpy((char *)p + 4 * j, &in[j], 4);
}
#define _mm512_mask_storeu_ps(p, k, a) calgae_shim_mask_storeu_ps((p), (k), (a))
#endif

/* vmovsldup / vmovshdup: each even (odd) element copied into its pair. */
#ifndef _mm512_moveldup_ps
static inline simde__m512 calgae_shim_movedup_ps(simde__m512 a, int odd)
{
    float in[16], out[16];
    simde__m512 r;
    SHIM_TO(in, a);
    for (int j = 0; j < 16; j += 2)
        out[j] = out[j + 1] = in[j + odd];
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_moveldup_ps(a) calgae_shim_movedup_ps((a), 0)
#define _mm512_movehdup_ps(a) calgae_shim_movedup_ps((a), 1)
#endif

/* vpermilps with an immediate: within each 128-bit lane, element j takes the lane's element
 * number (imm >> 2j) & 3. */
#ifndef _mm512_permute_ps
static inline simde__m512 calgae_shim_permute_ps(simde__m512 a, int imm)
{
    float in[16], out[16];
    simde__m512 r;
    SHIM_TO(in, a);
    for (int lane = 0; lane < 16; lane += 4)
        for (int j = 0; j < 4; j++)
            out[lane + j] = in[lane + ((imm >> (2 * j)) & 3)];
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_permute_ps(a, imm) calgae_shim_permute_ps((a), (imm))
#endif

/* vpmovdw: each int32 truncated to its low 16 bits, 16 words. */
#ifndef _mm512_cvtepi32_epi16
static inline simde__m256i calgae_shim_cvtepi32_epi16(simde__m512i a)
{
    int32_t in[16];
    uint16_t out[16];
    simde__m256i r;
    SHIM_TO(in, a);
    for (int j = 0; j < 16; j++)
        out[j] = (uint16_t)((uint32_t)in[j] & 0xffffu);
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_cvtepi32_epi16(a) calgae_shim_cvtepi32_epi16(a)
#endif

/* vpgatherdd with a mask: lane j loads 4 bytes at base + index[j] * scale when mask bit j is
 * set, else keeps src[j] and reads nothing. */
#ifndef _mm512_mask_i32gather_epi32
static inline simde__m512i calgae_shim_mask_i32gather_epi32(simde__m512i src, simde__mmask16 k,
                                                            simde__m512i index, const void *base,
                                                            int scale)
{
    int32_t out[16], idx[16];
    simde__m512i r;
    SHIM_TO(out, src);
    SHIM_TO(idx, index);
    for (int j = 0; j < 16; j++)
        if ((k >> j) & 1)
            memcpy(&out[j], (const char *)base + (int64_t)idx[j] * scale, 4);
    SHIM_FROM(r, out);
    return r;
}
#define _mm512_mask_i32gather_epi32(src, k, index, base, scale)                                \
    calgae_shim_mask_i32gather_epi32((src), (k), (index), (base), (scale))
#endif

/* vrndscaleps: 2^-M * round(2^M * a), M = imm[7:4], rounding by imm[1:0] (nearest even, down,
 * up, toward zero) or by MXCSR when imm[2] is set. SIMDe 0.7.4 returns a unchanged for
 * imm = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC, so it is replaced outright. NaN and
 * infinities pass through (the C functions below do the same). */
#undef _mm512_roundscale_ps
static inline simde__m512 calgae_shim_roundscale_ps(simde__m512 a, int imm)
{
    float v[16];
    simde__m512 r;
    SHIM_TO(v, a);
    const int m = (imm >> 4) & 15;
    for (int j = 0; j < 16; j++) {
        const float x = ldexpf(v[j], m); /* exact: a power-of-two scaling */
        float y;
        if (imm & 4)
            y = nearbyintf(x); /* the current rounding mode, as MXCSR */
        else if ((imm & 3) == 1)
            y = floorf(x);
        else if ((imm & 3) == 2)
            y = ceilf(x);
        else if ((imm & 3) == 3)
            y = truncf(x);
        else
            y = nearbyintf(x); /* the process keeps the default mode: nearest, ties to even */
        v[j] = ldexpf(y, -m);
    }
    SHIM_FROM(r, v);
    return r;
}
#define _mm512_roundscale_ps(a, imm) calgae_shim_roundscale_ps((a), (imm))

#endif /* CALGAE_AVX512_SIMDE_SHIM_H */
