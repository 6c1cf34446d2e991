/*
 * avx512_kx_impl.h - Q4_K and Q6_K products on the kx layout (avx512_kx.h) against Q8_K
 * activations. Not a header to include anywhere: avx512_kx.c and avx512_kx_vnni.c each define
 * CALGAE_AVX512_VNNI (0 or 1) and include it once, as avx512_x16_impl.h is included.
 *
 * The structure is avx512_x16_impl.h's: generation (matvec) reads four groups of 16 rows from
 * the four quarters of the row range at once (four sequential streams); prompt processing
 * (matmul) holds a tile of 16 rows x up to KX_TMAX tokens in registers (per token a group's
 * int32 sum, the super-block's int32 sum and a float accumulator), each code vector is loaded
 * and unpacked once for all the tile's tokens, and the group's super-blocks stay in L1/L2
 * across the tiles. Activations are rewritten once per call into records the tile reads as one
 * stream: per super-block, the codes of its tokens, their d, and their group sums.
 */
#ifndef CALGAE_AVX512_VNNI
#error "define CALGAE_AVX512_VNNI to 0 or 1 before including avx512_kx_impl.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "avx512_isa.h"
#include "avx512_kx.h"
#include "avx512_x16_tile.h"

#if CALGAE_AVX512_VNNI
#define KXFN(name) calgae_avx512_vnni_##name
#else
#define KXFN(name) calgae_avx512_##name
#endif

#define KX_TMAX 8 /* tokens per matmul tile */

/* Activation record of T tokens for one super-block: their codes (256 bytes each), then d_x
 * (float), then 32 bytes of group sums: Q4_K the 8 sums of 32 codes (int16), Q6_K the 16 bsums. */
#define KX_REC(T) ((size_t)(T) * (256 + 4 + 32))

/* s + sum of 4 products u[k] * x[k] per int32 lane, u in 0..63, x signed. Without VNNI,
 * vpmaddubsw's int16 pair sums stay within 2 * 63 * 128, far from saturation. */
AVX512_INLINE __m512i kx_dp(__m512i s, __m512i u, __m512i x)
{
#if CALGAE_AVX512_VNNI
    return _mm512_dpbusd_epi32(s, u, x);
#else
    return _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_maddubs_epi16(u, x), _mm512_set1_epi16(1)));
#endif
}

/* s + the int32 pair sums of int16 a times int16 b */
AVX512_INLINE __m512i kx_dpw(__m512i s, __m512i a, __m512i b)
{
#if CALGAE_AVX512_VNNI
    return _mm512_dpwssd_epi32(s, a, b);
#else
    return _mm512_add_epi32(s, _mm512_madd_epi16(a, b));
#endif
}

/* the 4 bytes at p, in every lane */
AVX512_INLINE __m512i kx_bcast(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* Pair k of the int8 pairs at p (avx512_kx.h): lane i = row i's two values as int16. Signed
 * widening serves Q4_K's unsigned 6-bit scales and minimums as well (they are below 64). */
AVX512_INLINE __m512i kx_pairs(const uint8_t *p, int k)
{
    return _mm512_cvtepi8_epi16(_mm256_load_si256((const __m256i *)(const void *)(p + 32 * k)));
}

/* Group g's scale as int32 in row i's lane, from the pairs at p: vpmaddwd with (1, 0) or (0, 1)
 * picks one int16 of each pair, sign-extended. */
AVX512_INLINE __m512i kx_scale(const uint8_t *p, int g)
{
    return _mm512_madd_epi16(kx_pairs(p, g / 2), _mm512_set1_epi32(g % 2 ? 0x10000 : 1));
}

/* ---- R groups of 16 rows against T tokens (constants after inlining) ---- */

/* acc[r * T + t] += the super-block at sb[r] (Q4_K) against token t of the record xr */
AVX512_INLINE void kern_q4_k(const uint8_t *const *sb, const int R, const uint8_t *xr, const int T,
                             __m512 *acc)
{
    const __m512i low = _mm512_set1_epi8(0x0F);
    const float *xd = (const float *)(const void *)(xr + 256 * T);
    const uint8_t *xsum = xr + 260 * T;
    __m512i a[4 * KX_TMAX], s[4 * KX_TMAX];
UNROLL(32)
    for (int k = 0; k < R * T; k++)
        a[k] = _mm512_setzero_si512();
    /* a loop, not unrolled: unrolled, the compiler hoists the code loads of every group and
     * spills them */
UNROLL(1)
    for (int g = 0; g < 8; g++) {
UNROLL(32)
        for (int k = 0; k < R * T; k++)
            s[k] = _mm512_setzero_si512();
UNROLL(4)
        for (int c = 0; c < 4; c++)
UNROLL(4)
            for (int r = 0; r < R; r++) {
                const __m512i raw = _mm512_load_si512((const void *)(sb[r] + 320 + 64 * (4 * g + c)));
                const __m512i lo = _mm512_and_si512(raw, low);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
UNROLL(8)
                for (int t = 0; t < T; t++) {
                    const int8_t *xq = (const int8_t *)xr + 256 * t + 32 * g + 4 * c;
                    s[r * T + t] = kx_dp(s[r * T + t], lo, kx_bcast(xq));
                    s[r * T + t] = kx_dp(s[r * T + t], hi, kx_bcast(xq + 16));
                }
            }
UNROLL(4)
        for (int r = 0; r < R; r++) {
            const __m512i sc = kx_scale(sb[r] + 64, g);
UNROLL(8)
            for (int t = 0; t < T; t++)
                a[r * T + t] = _mm512_add_epi32(a[r * T + t], _mm512_mullo_epi32(s[r * T + t], sc));
        }
    }
    /* the minimum: sum_s m_s * (sum of the 32 codes of group s), pairs of groups per vpmaddwd */
UNROLL(4)
    for (int r = 0; r < R; r++) {
        __m512i mp[4];
UNROLL(4)
        for (int k = 0; k < 4; k++)
            mp[k] = kx_pairs(sb[r] + 192, k);
        const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)sb[r]));
        const __m512 dm = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)(sb[r] + 32)));
UNROLL(8)
        for (int t = 0; t < T; t++) {
            __m512i m = _mm512_setzero_si512();
UNROLL(4)
            for (int k = 0; k < 4; k++)
                m = kx_dpw(m, mp[k], kx_bcast(xsum + 32 * t + 4 * k));
            const __m512 dx = _mm512_set1_ps(xd[t]);
            acc[r * T + t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[r * T + t]), _mm512_mul_ps(dw, dx),
                                             acc[r * T + t]);
            acc[r * T + t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dm, dx),
                                              acc[r * T + t]);
        }
    }
}

/* The same for Q6_K: codes 0..63 from a low-nibble and a high-bits vector, the offset of 32 as
 * 32 * sum_s sc_s * bsums[s], subtracted in int32. */
AVX512_INLINE void kern_q6_k(const uint8_t *const *sb, const int R, const uint8_t *xr, const int T,
                             __m512 *acc)
{
    const __m512i low = _mm512_set1_epi8(0x0F), hib = _mm512_set1_epi8(0x30);
    const float *xd = (const float *)(const void *)(xr + 256 * T);
    const uint8_t *xsum = xr + 260 * T;
    __m512i a[4 * KX_TMAX], s[4 * KX_TMAX];
UNROLL(32)
    for (int k = 0; k < R * T; k++)
        a[k] = _mm512_setzero_si512();
UNROLL(1)
    for (int g = 0; g < 16; g++) {
UNROLL(32)
        for (int k = 0; k < R * T; k++)
            s[k] = _mm512_setzero_si512();
UNROLL(4)
        for (int r = 0; r < R; r++) {
            const __m512i qa = _mm512_load_si512((const void *)(sb[r] + 320 + 64 * (2 * g)));
            const __m512i qb = _mm512_load_si512((const void *)(sb[r] + 320 + 64 * (2 * g + 1)));
            const __m512i qh = _mm512_load_si512((const void *)(sb[r] + 2368 + 64 * g));
            __m512i u[4];
            u[0] = _mm512_or_si512(_mm512_and_si512(qa, low),
                                   _mm512_and_si512(_mm512_slli_epi16(qh, 4), hib));
            u[1] = _mm512_or_si512(_mm512_and_si512(qb, low),
                                   _mm512_and_si512(_mm512_slli_epi16(qh, 2), hib));
            u[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qa, 4), low),
                                   _mm512_and_si512(qh, hib));
            u[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qb, 4), low),
                                   _mm512_and_si512(_mm512_srli_epi16(qh, 2), hib));
UNROLL(4)
            for (int q = 0; q < 4; q++)
UNROLL(8)
                for (int t = 0; t < T; t++)
                    s[r * T + t] = kx_dp(s[r * T + t], u[q],
                                         kx_bcast((const int8_t *)xr + 256 * t + 16 * g + 4 * q));
        }
UNROLL(4)
        for (int r = 0; r < R; r++) {
            const __m512i sc = kx_scale(sb[r] + 64, g);
UNROLL(8)
            for (int t = 0; t < T; t++)
                a[r * T + t] = _mm512_add_epi32(a[r * T + t], _mm512_mullo_epi32(s[r * T + t], sc));
        }
    }
UNROLL(4)
    for (int r = 0; r < R; r++) {
        __m512i sp[8];
UNROLL(8)
        for (int k = 0; k < 8; k++)
            sp[k] = kx_pairs(sb[r] + 64, k);
        const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(const void *)sb[r]));
UNROLL(8)
        for (int t = 0; t < T; t++) {
            __m512i o = _mm512_setzero_si512();
UNROLL(8)
            for (int k = 0; k < 8; k++)
                o = kx_dpw(o, sp[k], kx_bcast(xsum + 32 * t + 4 * k));
            const __m512i v = _mm512_sub_epi32(a[r * T + t], _mm512_slli_epi32(o, 5));
            acc[r * T + t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v),
                                             _mm512_mul_ps(dw, _mm512_set1_ps(xd[t])), acc[r * T + t]);
        }
    }
}

/* Groups g[0 .. R) against the T tokens of records xr (nb super-blocks), stored. */
AVX512_INLINE void kx_tile(const kx_weight *p, const int64_t *g, const int R, const uint8_t *xr,
                           const int T, int64_t r0, int64_t r1, float *y, int64_t t0, int64_t ys)
{
    const uint8_t *sb[4];
    for (int r = 0; r < R; r++)
        sb[r] = p->mem + (size_t)g[r] * p->group_bytes;
    __m512 acc[4 * KX_TMAX];
UNROLL(32)
    for (int k = 0; k < R * T; k++)
        acc[k] = _mm512_setzero_ps();
    for (int64_t b = 0; b < p->nb; b++, xr += KX_REC(T)) {
        if (p->type == CALGAE_TYPE_Q4_K)
            kern_q4_k(sb, R, xr, T, acc);
        else
            kern_q6_k(sb, R, xr, T, acc);
        for (int r = 0; r < R; r++)
            sb[r] += p->sb;
    }
    for (int r = 0; r < R; r++)
        x16_store_group(acc + r * T, T, g[r], r0, r1, y, t0, ys);
}

/* ---- activations ---- */

/* Records for tokens [t0, t0 + T) of x (stride xs), all nb super-blocks, at out. */
static void kx_pack(const kx_weight *p, const void *x, size_t xs, int64_t t0, int T, uint8_t *out)
{
    const int q4 = p->type == CALGAE_TYPE_Q4_K;
    for (int t = 0; t < T; t++) {
        const calgae_block_q8_k *xb =
            (const calgae_block_q8_k *)(const void *)((const char *)x + (size_t)(t0 + t) * xs);
        uint8_t *rec = out;
        for (int64_t b = 0; b < p->nb; b++, rec += KX_REC(T)) {
            memcpy(rec + 256 * t, xb[b].qs, 256);
            memcpy(rec + 256 * T + 4 * t, &xb[b].d, 4);
            int16_t sums[16];
            for (int k = 0; k < 16; k++)
                sums[k] = q4 ? (k < 8 ? (int16_t)(xb[b].bsums[2 * k] + xb[b].bsums[2 * k + 1]) : 0)
                             : xb[b].bsums[k];
            memcpy(rec + 260 * T + 32 * t, sums, 32);
        }
    }
}

/* ---- entry points (avx512_plugin.c calls them for weights this plugin prepared) ---- */

int KXFN(kx_matvec)(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    const kx_weight *p = w->prepared;
    uint8_t stack[16384]; /* 56 super-blocks: 14336 columns */
    const size_t need = (size_t)p->nb * KX_REC(1);
    uint8_t *xr = need <= sizeof stack ? stack : malloc(need);
    if (!xr)
        return CALGAE_KERNEL_DECLINED;
    kx_pack(p, x, 0, 0, 1, xr);
    /* 4 groups at once, one from each quarter of the range: 4 sequential streams */
    const int64_t g0 = r0 / KX_ROWS, g1 = (r1 + KX_ROWS - 1) / KX_ROWS, q = (g1 - g0) / 4;
    for (int64_t i = 0; i < q; i++) {
        const int64_t g[4] = {g0 + i, g0 + q + i, g0 + 2 * q + i, g0 + 3 * q + i};
        kx_tile(p, g, 4, xr, 1, r0, r1, y, 0, 0);
    }
    for (int64_t g = g0 + 4 * q; g < g1; g++)
        kx_tile(p, &g, 1, xr, 1, r0, r1, y, 0, 0);
    if (xr != stack)
        free(xr);
    return CALGAE_KERNEL_OK;
}

/* Tokens [t0, t0 + T) against group g, T a constant in each case. */
static void kx_tile_tokens(const kx_weight *p, int64_t g, const uint8_t *xr, int T, int64_t r0,
                           int64_t r1, float *y, int64_t t0, int64_t ys)
{
    switch (T) {
    case 8: kx_tile(p, &g, 1, xr, 8, r0, r1, y, t0, ys); break;
    case 7: kx_tile(p, &g, 1, xr, 7, r0, r1, y, t0, ys); break;
    case 6: kx_tile(p, &g, 1, xr, 6, r0, r1, y, t0, ys); break;
    case 5: kx_tile(p, &g, 1, xr, 5, r0, r1, y, t0, ys); break;
    case 4: kx_tile(p, &g, 1, xr, 4, r0, r1, y, t0, ys); break;
    case 3: kx_tile(p, &g, 1, xr, 3, r0, r1, y, t0, ys); break;
    case 2: kx_tile(p, &g, 1, xr, 2, r0, r1, y, t0, ys); break;
    default: kx_tile(p, &g, 1, xr, 1, r0, r1, y, t0, ys); break;
    }
}

int KXFN(kx_matmul)(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                    int64_t ys, int64_t r0, int64_t r1)
{
    const kx_weight *p = w->prepared;
    const size_t per_token = (size_t)p->nb * KX_REC(1);
    if (n_tok <= 0 || (size_t)n_tok > SIZE_MAX / per_token)
        return CALGAE_KERNEL_DECLINED;
    uint8_t *xr = aligned_alloc(64, ((size_t)n_tok * per_token + 63) / 64 * 64);
    if (!xr)
        return CALGAE_KERNEL_DECLINED;
    /* tiles of KX_TMAX tokens, the last one shorter; tile k's records start at k * KX_TMAX
     * tokens */
    for (int64_t t0 = 0; t0 < n_tok; t0 += KX_TMAX) {
        const int T = n_tok - t0 < KX_TMAX ? (int)(n_tok - t0) : KX_TMAX;
        kx_pack(p, x, xs, t0, T, xr + (size_t)t0 * per_token);
    }
    /* groups outside, tiles of tokens inside: a group's super-blocks stay in cache for all the
     * tokens, so each weight byte comes from memory once */
    for (int64_t g = r0 / KX_ROWS; g * KX_ROWS < r1; g++)
        for (int64_t t0 = 0; t0 < n_tok; t0 += KX_TMAX) {
            const int T = n_tok - t0 < KX_TMAX ? (int)(n_tok - t0) : KX_TMAX;
            kx_tile_tokens(p, g, xr + (size_t)t0 * per_token, T, r0, r1, y, t0, ys);
        }
    free(xr);
    return CALGAE_KERNEL_OK;
}
