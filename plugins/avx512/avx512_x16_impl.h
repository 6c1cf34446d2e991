/*
 * avx512_x16_impl.h - Q4_0, Q4_1 and Q8_0 products on the x16 layout (avx512_x16.h). Not a
 * header to include anywhere: avx512_x16.c and avx512_x16_vnni.c each define
 * CALGAE_AVX512_VNNI (0 or 1) and include it once, so the same source gives the vpdpbusd
 * variant and the AVX-512BW one (vpmaddubsw + vpmaddwd), and the entry point picks by CPUID.
 *
 * Generation (matvec) is bound by memory bandwidth: four groups from the four quarters of the
 * row range are read at once, so that four sequential streams are in flight (one stream alone
 * reads well below what a core can pull). Prompt processing (matmul) is bound by the integer
 * multiply rate: a tile of 16 rows x up to TMAX tokens lives in registers (an int32 block sum
 * and a float accumulator per token), each 64-byte vector of codes is loaded and unpacked once
 * and used by every token of the tile, and a group's codes (18 KiB at 2048 columns of Q4_0)
 * stay in L1 across the tiles of all the tokens. Activations are rewritten once per call into
 * records that the tile reads as one stream (the codes of its tokens, then their scales and
 * sums), so the hot loop needs a single activation pointer.
 */
#ifndef CALGAE_AVX512_VNNI
#error "define CALGAE_AVX512_VNNI to 0 or 1 before including avx512_x16_impl.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "avx512_isa.h"
#include "avx512_kernels.h"
#include "avx512_x16.h"
#include "avx512_x16_tile.h"

#if CALGAE_AVX512_VNNI
#define XFN(name) calgae_avx512_vnni_##name
#else
#define XFN(name) calgae_avx512_##name
#endif

#define TMAX 8 /* tokens per matmul tile */

/* Activation record of T tokens for one block: their codes (32 bytes each), then d_x as float,
 * the accumulator's start -o * sum x (int32), and d_x * sum x (float, for Q4_1), T of each. */
#define REC_BYTES(T) ((size_t)(T) * (32 + 3 * 4))

enum { KIND_Q4_0, KIND_Q4_1, KIND_Q8_0 };

/* ---- the integer dot product of 4-byte lanes ---- */

/* s + sum of 4 products u[k] * x[k] per int32 lane, for codes u in 0..15 (x signed). Without
 * VNNI, vpmaddubsw's int16 pair sums stay below 2 * 15 * 128, far from saturation. */
AVX512_INLINE __m512i dp_u4(__m512i s, __m512i u, __m512i x)
{
#if CALGAE_AVX512_VNNI
    return _mm512_dpbusd_epi32(s, u, x);
#else
    return _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_maddubs_epi16(u, x), _mm512_set1_epi16(1)));
#endif
}

/* The same for codes u in 0..255 (Q8_0's w + 128). Without VNNI, pair sums of up to
 * 2 * 255 * 128 would saturate int16, so u is split into nibbles: sum u x = 16 sum hi x +
 * sum lo x, each half exact. */
AVX512_INLINE __m512i dp_u8(__m512i s, __m512i u, __m512i x)
{
#if CALGAE_AVX512_VNNI
    return _mm512_dpbusd_epi32(s, u, x);
#else
    const __m512i low = _mm512_set1_epi8(0x0F);
    const __m512i lo = _mm512_and_si512(u, low), hi = _mm512_and_si512(_mm512_srli_epi16(u, 4), low);
    const __m512i plo = _mm512_madd_epi16(_mm512_maddubs_epi16(lo, x), _mm512_set1_epi16(1));
    const __m512i phi = _mm512_madd_epi16(_mm512_maddubs_epi16(hi, x), _mm512_set1_epi16(1));
    return _mm512_add_epi32(s, _mm512_add_epi32(plo, _mm512_slli_epi32(phi, 4)));
#endif
}

/* the 4 activation bytes at p, in every lane */
AVX512_INLINE __m512i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* ---- R groups of 16 rows against T tokens (constants after inlining) ---- */

/* acc[r * T + t] = the 16 rows of group grp[r] against token t of the records at xr. */
AVX512_INLINE void kern(const x16_weight *p, const uint8_t *const *grp, const int R,
                        const uint8_t *xr, const int T, const int kind, __m512 *acc)
{
    const size_t rec = REC_BYTES(T);
    const __m512i low = _mm512_set1_epi8(0x0F);
UNROLL(16)
    for (int k = 0; k < R * T; k++)
        acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < p->nb; b++, xr += rec) {
        const int8_t *xq = (const int8_t *)xr;
        const float *xd = (const float *)(const void *)(xr + 32 * T);
        const int32_t *xc = (const int32_t *)(const void *)(xr + 36 * T);
        const float *xs = (const float *)(const void *)(xr + 40 * T);
        /* With few tokens, each accumulator's chain of dependent vpdpbusd is what limits the
         * rate: a second set (integer sums are exact, so the split changes no result) halves
         * the chain's length. */
        const int split = T <= 2;
        __m512i s[4 * TMAX], s2[4 * TMAX];
UNROLL(16)
        for (int r = 0; r < R; r++)
UNROLL(16)
            for (int t = 0; t < T; t++) {
                s[r * T + t] = kind == KIND_Q4_1 ? _mm512_setzero_si512() : _mm512_set1_epi32(xc[t]);
                s2[r * T + t] = _mm512_setzero_si512();
            }
        if (kind == KIND_Q8_0) {
UNROLL(8)
            for (int c = 0; c < 8; c++)
UNROLL(4)
                for (int r = 0; r < R; r++) {
                    const __m512i u = _mm512_load_si512((const void *)(x16_codes(p, grp[r], b) + 64 * c));
UNROLL(16)
                    for (int t = 0; t < T; t++) {
                        __m512i *acc_i = split && (c & 1) ? &s2[r * T + t] : &s[r * T + t];
                        *acc_i = dp_u8(*acc_i, u, bcast4(xq + 32 * t + 4 * c));
                    }
                }
        } else {
UNROLL(4)
            for (int c = 0; c < 4; c++)
UNROLL(4)
                for (int r = 0; r < R; r++) {
                    const __m512i raw = _mm512_load_si512((const void *)(x16_codes(p, grp[r], b) + 64 * c));
                    const __m512i lo = _mm512_and_si512(raw, low);
                    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
UNROLL(16)
                    for (int t = 0; t < T; t++) {
                        s[r * T + t] = dp_u4(s[r * T + t], lo, bcast4(xq + 32 * t + 4 * c));
                        __m512i *acc_hi = split ? &s2[r * T + t] : &s[r * T + t];
                        *acc_hi = dp_u4(*acc_hi, hi, bcast4(xq + 32 * t + 16 + 4 * c));
                    }
                }
        }
        if (split)
UNROLL(16)
            for (int k = 0; k < R * T; k++)
                s[k] = _mm512_add_epi32(s[k], s2[k]);
UNROLL(4)
        for (int r = 0; r < R; r++) {
            const uint8_t *sc = x16_scales(p, grp[r], b);
            const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)sc));
UNROLL(16)
            for (int t = 0; t < T; t++)
                acc[r * T + t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r * T + t]),
                                                 _mm512_mul_ps(dw, _mm512_set1_ps(xd[t])),
                                                 acc[r * T + t]);
            if (kind == KIND_Q4_1) {
                const __m512 mw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(sc + 32)));
UNROLL(16)
                for (int t = 0; t < T; t++)
                    acc[r * T + t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(xs[t]), acc[r * T + t]);
            }
        }
    }
}

/* Groups grp[0 .. R) (numbers g[]) against the T tokens of records xr, stored. */
AVX512_INLINE void tile(const x16_weight *p, const int64_t *g, const int R, const uint8_t *xr,
                        const int T, int64_t r0, int64_t r1, float *y, int64_t t0, int64_t ys)
{
    const uint8_t *grp[4];
    for (int r = 0; r < R; r++)
        grp[r] = p->mem + (size_t)g[r] * p->group_bytes;
    __m512 acc[4 * TMAX];
    if (p->type == CALGAE_TYPE_Q8_0)
        kern(p, grp, R, xr, T, KIND_Q8_0, acc);
    else if (p->type == CALGAE_TYPE_Q4_1)
        kern(p, grp, R, xr, T, KIND_Q4_1, acc);
    else
        kern(p, grp, R, xr, T, KIND_Q4_0, acc);
    for (int r = 0; r < R; r++)
        x16_store_group(acc + r * T, T, g[r], r0, r1, y, t0, ys);
}

/* ---- activations ---- */

/* The sum of 32 signed bytes: flipped to unsigned (x + 128), summed by vpsadbw in 4 lanes. */
AVX512_INLINE int32_t sum32(const int8_t *q)
{
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)q),
                                       _mm256_set1_epi8(-128));
    const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
}

/* Records for tokens [t0, t0 + T) of x (stride xs), all nb blocks, at out. */
static void pack_tokens(const x16_weight *p, const void *x, size_t xs, int64_t t0, int T,
                        uint8_t *out)
{
    const int32_t off = p->type == CALGAE_TYPE_Q8_0 ? 128 : p->type == CALGAE_TYPE_Q4_0 ? 8 : 0;
    for (int t = 0; t < T; t++) {
        const calgae_block_q8_0 *xb =
            (const calgae_block_q8_0 *)(const void *)((const char *)x + (size_t)(t0 + t) * xs);
        uint8_t *rec = out;
        for (int64_t b = 0; b < p->nb; b++, rec += REC_BYTES(T)) {
            const int32_t sum = sum32(xb[b].qs);
            const float d = FP16_TO_FP32(xb[b].d);
            const int32_t start = -off * sum;
            const float dsum = d * (float)sum;
            memcpy(rec + 32 * t, xb[b].qs, 32);
            memcpy(rec + 32 * T + 4 * t, &d, 4);
            memcpy(rec + 36 * T + 4 * t, &start, 4);
            memcpy(rec + 40 * T + 4 * t, &dsum, 4);
        }
    }
}

/* ---- entry points (avx512_plugin.c calls them for weights this plugin prepared) ---- */

int XFN(x16_matvec)(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    const x16_weight *p = w->prepared;
    uint8_t stack[16384]; /* 372 blocks: every TinyLlama and 7B row */
    const size_t need = (size_t)p->nb * REC_BYTES(1);
    uint8_t *xr = need <= sizeof stack ? stack : malloc(need);
    if (!xr)
        return CALGAE_KERNEL_DECLINED;
    pack_tokens(p, x, 0, 0, 1, xr);
    /* 4 groups at once, one from each quarter of the range: 4 sequential streams */
    const int64_t g0 = r0 / X16_ROWS, g1 = (r1 + X16_ROWS - 1) / X16_ROWS, q = (g1 - g0) / 4;
    for (int64_t i = 0; i < q; i++) {
        const int64_t g[4] = {g0 + i, g0 + q + i, g0 + 2 * q + i, g0 + 3 * q + i};
        tile(p, g, 4, xr, 1, r0, r1, y, 0, 0);
    }
    for (int64_t g = g0 + 4 * q; g < g1; g++)
        tile(p, &g, 1, xr, 1, r0, r1, y, 0, 0);
    if (xr != stack)
        free(xr);
    return CALGAE_KERNEL_OK;
}

/* Tokens [t0, t0 + T) against group g, T a constant in each case. */
static void tile_tokens(const x16_weight *p, int64_t g, const uint8_t *xr, int T, int64_t r0,
                        int64_t r1, float *y, int64_t t0, int64_t ys)
{
    switch (T) {
    case 8: tile(p, &g, 1, xr, 8, r0, r1, y, t0, ys); break;
    case 7: tile(p, &g, 1, xr, 7, r0, r1, y, t0, ys); break;
    case 6: tile(p, &g, 1, xr, 6, r0, r1, y, t0, ys); break;
    case 5: tile(p, &g, 1, xr, 5, r0, r1, y, t0, ys); break;
    case 4: tile(p, &g, 1, xr, 4, r0, r1, y, t0, ys); break;
    case 3: tile(p, &g, 1, xr, 3, r0, r1, y, t0, ys); break;
    case 2: tile(p, &g, 1, xr, 2, r0, r1, y, t0, ys); break;
    default: tile(p, &g, 1, xr, 1, r0, r1, y, t0, ys); break;
    }
}

int XFN(x16_matmul)(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                    int64_t ys, int64_t r0, int64_t r1)
{
    const x16_weight *p = w->prepared;
    const size_t per_token = (size_t)p->nb * REC_BYTES(1);
    if (n_tok <= 0 || (size_t)n_tok > SIZE_MAX / per_token)
        return CALGAE_KERNEL_DECLINED;
    uint8_t *xr = aligned_alloc(64, ((size_t)n_tok * per_token + 63) / 64 * 64);
    if (!xr)
        return CALGAE_KERNEL_DECLINED;
    /* tiles of TMAX tokens, the last one shorter; tile k's records start at k * TMAX tokens */
    for (int64_t t0 = 0; t0 < n_tok; t0 += TMAX) {
        const int T = n_tok - t0 < TMAX ? (int)(n_tok - t0) : TMAX;
        pack_tokens(p, x, xs, t0, T, xr + (size_t)t0 * per_token);
    }
    /* groups outside, tiles of tokens inside: a group's codes stay in L1 for all the tokens,
     * so each weight byte comes from memory once */
    for (int64_t g = r0 / X16_ROWS; g * X16_ROWS < r1; g++)
        for (int64_t t0 = 0; t0 < n_tok; t0 += TMAX) {
            const int T = n_tok - t0 < TMAX ? (int)(n_tok - t0) : TMAX;
            tile_tokens(p, g, xr + (size_t)t0 * per_token, T, r0, r1, y, t0, ys);
        }
    free(xr);
    return CALGAE_KERNEL_OK;
}
