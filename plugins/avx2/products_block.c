/*
 * products_block.c - the avx2 plugin's Q8_0, Q4_0 and Q4_1 products: matvec and matmul against
 * activations already quantized to Q8_0 (calgae_plugin.h), ggml's block layouts as stored.
 *
 * Numerics. As in the scalar reference, each 32-block's integer dot product is exact and is
 * then scaled once by d_w * d_x (a float product rounded as the reference rounds it):
 *  - Q4_0: the nibbles n in [0, 15] are unsigned bytes and the activations signed bytes, so
 *    _mm256_maddubs_epi16(n, x) gives exact pair sums (|.| <= 2 * 15 * 128). The "- 8" of the
 *    weights is applied to the block sum: sum (n - 8) x = sum n x - 8 sum x, with sum x
 *    computed once per activation block. No sign trick, so every byte value, -128 included,
 *    is exact.
 *  - Q4_1: the same nibble products without the offset; the minimum's term m_w * (d_x * sum x)
 *    is a second FMA per group, with d_x * sum x rounded as the scalar plugin rounds it.
 *  - Q8_0: both sides signed. matvec widens both to int16 and multiplies with
 *    _mm256_madd_epi16 (exact for every byte). matmul uses maddubs on |w| and x carrying w's
 *    sign, |w| computed once per weight block for all the tokens: exact as long as no
 *    activation is -128 (|w| <= 128, |x| <= 127: pairs <= 32512), which a Q8_0 quantizer
 *    with d = amax / 127 never produces; a batch holding one is widened instead.
 * The partial sums of 8 consecutive blocks are reduced in integers by a transposing tree,
 * giving one vector of 8 exact block sums; with the 8 scale products d_w * d_x that is one FMA
 * per 8 blocks into an 8-lane accumulator per (row, token). So the result differs from the
 * scalar plugin only in the float summation order of the n_blocks terms
 * t_b = isum_b * (d_w,b * d_x,b): 8 interleaved partial sums, a fixed lane reduction, FMA's
 * single rounding. Both results lie within about n_blocks * 2^-24 * sum_b |t_b| of the exact
 * sum (the scalar one's worst case; ours is (n_blocks / 8 + 4) * 2^-24 * sum_b |t_b|), and
 * compare.c checks that bound.
 *
 * Speed (Zen 3 measurements behind the choices):
 *  - Q4: one register holds two blocks' 16 bytes; masking gives the low nibbles of both
 *    (elements 0-15 of each block) and a shift the high ones (16-31), against activations
 *    rearranged to match once per call. The int16 partial sums (16 products, |.| <= 30720) are
 *    reduced in 16 bits until the last step. The tree returns the blocks of a group in the
 *    lane order 0 2 4 6 1 3 5 7, so the scales and sums are laid out in that order instead of
 *    permuting the result.
 *  - The trees use unpacks (about 0.45 cycles each), not vphaddd (1.7 cycles); the 8 weight
 *    scales of a group are assembled in general-purpose registers (loads, shifts, ors: off the
 *    vector pipes), not with vpgatherdd (12 cycles).
 *  - A row's last blocks, when not a multiple of 8, run through the same 8-block code
 *    zero-padded: a runtime block count in the hot loop cost 25% more instructions.
 *  - A matvec tile of 4 rows shares the activation loads, its rows a quarter of the range
 *    apart so that they stream (matvec_rows); matmul unpacks a group of weight blocks once per
 *    tile of tokens.
 * Every (row, token) goes through the same instruction sequence whatever the tile shape, so
 * results do not depend on the row range, the thread count, or on matvec versus matmul.
 */
#include <stdlib.h>

#include "kernels.h"
#include "simd.h"

#define GROUP 8           /* blocks whose sums one tree reduces */
#define MAX_NR 4          /* rows per tile */
#define MAX_NT 4          /* tokens per tile */
#define STACK_BLOCKS 1024 /* activation blocks whose prepared form fits the stack buffers */

/* Q8_0 matmuls run as Q8_0 (maddubs sign trick) unless an activation holds -128, then as
 * Q8_0_WIDE (int16 widening), as Q8_0 matvecs always do: see group_sums. */
enum kind { Q8_0, Q8_0_WIDE, Q4_0, Q4_1 };

/* The lane of a group's result that holds block k, per kind: Q4's tree leaves the even blocks
 * in the low half. */
static inline int lane_of(enum kind kind, int k)
{
    return kind == Q8_0 || kind == Q8_0_WIDE ? k : (k % 2) * 4 + k / 2;
}

/* ---- reduction trees ---- */

/* Q8_0: lane k of the result = the sum of the 8 int32 lanes of v[k] (exact, |.| < 2^20) */
AVX2_INLINE __m256i reduce8_32(const __m256i v[GROUP])
{
    __m256i s[4], q[2];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) /* blocks 2i and 2i + 1 interleaved, half summed */
        s[i] = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) /* blocks 4i .. 4i + 3: low lanes in the low 128 bits */
        q[i] = _mm256_add_epi32(_mm256_unpacklo_epi64(s[2 * i], s[2 * i + 1]),
                                _mm256_unpackhi_epi64(s[2 * i], s[2 * i + 1]));
    return _mm256_add_epi32(_mm256_blend_epi32(q[0], q[1], 0xf0), _mm256_permute2x128_si256(q[0], q[1], 0x21));
}

/* Q4: s[p] holds int16 partial sums of blocks 2p (low 128 bits) and 2p + 1 (high), 4 products
 * each (|.| <= 7680). Returns the 8 block sums as int32 in lane order 0 2 4 6 1 3 5 7. */
AVX2_INLINE __m256i reduce8_16(const __m256i s[GROUP / 2])
{
    /* per 128-bit half: blocks (0, 2) then (4, 6) interleaved, 8 then 16 products a lane */
    const __m256i u0 = _mm256_add_epi16(_mm256_unpacklo_epi16(s[0], s[1]), _mm256_unpackhi_epi16(s[0], s[1]));
    const __m256i u1 = _mm256_add_epi16(_mm256_unpacklo_epi16(s[2], s[3]), _mm256_unpackhi_epi16(s[2], s[3]));
    const __m256i w = _mm256_add_epi16(_mm256_unpacklo_epi32(u0, u1), _mm256_unpackhi_epi32(u0, u1));
    /* int16 lanes j and j + 4 of a half belong to one block: pair them, add them in int32 */
    const __m256i pair = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
                                          0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
    return _mm256_madd_epi16(_mm256_shuffle_epi8(w, pair), _mm256_set1_epi16(1));
}

/* The fp16 scales (first 2 bytes) of 8 consecutive blocks of `stride` bytes as floats, in the
 * kind's lane order. */
AVX2_INLINE __m256 weight_scales(const enum kind kind, const char *first, const int stride)
{
    uint64_t half[2] = {0, 0};
#pragma GCC unroll 8
    for (int k = 0; k < GROUP; k++) {
        uint16_t h;
        memcpy(&h, first + k * stride, sizeof h);
        const int lane = lane_of(kind, k);
        half[lane / 4] |= (uint64_t)h << (16 * (lane % 4));
    }
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)half[1], (long long)half[0]));
}

/* ---- the activation side, prepared once per call ---- */

/* One token's activation. d, sum8 and dsum hold one entry per block, in groups of 8 in the
 * kind's lane order, zero-padded to whole groups. */
typedef struct {
    const calgae_block_q8_0 *x; /* the blocks (Q8_0 reads them as they are) */
    __m256i *xr;                /* Q4: per pair of blocks A, B: [A 0-15 | B 0-15], [A 16-31 | B 16-31] */
    float *d;                   /* the blocks' scales as floats */
    int32_t *sum8;              /* Q4_0: 8 * the sum of each block's values (the correction) */
    float *dsum;                /* Q4_1: d * the sum of each block's values */
} act;

/* Fills a's prepared form; returns whether some activation value is -128 (which no Q8_0
 * quantizer with d = amax / 127 produces, but which the sign trick can't take). */
static int prepare_act(act *a, int64_t nb, enum kind kind)
{
    const int64_t padded = (nb + GROUP - 1) / GROUP * GROUP;
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i min = _mm256_setzero_si256();
    for (int64_t g = 0; g < padded; g += GROUP) {
        __m256i xq[GROUP], v[GROUP];
        for (int k = 0; k < GROUP; k++) {
            const int64_t b = g + k;
            xq[k] = b < nb ? _mm256_loadu_si256((const __m256i *)(const void *)a->x[b].qs) : _mm256_setzero_si256();
            a->d[g + lane_of(kind, k)] = b < nb ? calgae_fp16_to_fp32(a->x[b].d) : 0.0f;
            v[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, xq[k]), ones16);
            min = _mm256_or_si256(min, _mm256_cmpeq_epi8(xq[k], _mm256_set1_epi8(-128)));
        }
        if (kind == Q8_0 || kind == Q8_0_WIDE)
            continue;
        for (int p = 0; p < GROUP / 2; p++) { /* storeu: heap buffers are 16-byte aligned */
            _mm256_storeu_si256(&a->xr[g + 2 * p], _mm256_permute2x128_si256(xq[2 * p], xq[2 * p + 1], 0x20));
            _mm256_storeu_si256(&a->xr[g + 2 * p + 1], _mm256_permute2x128_si256(xq[2 * p], xq[2 * p + 1], 0x31));
        }
        int32_t s[GROUP]; /* block sums of x, in natural order */
        _mm256_storeu_si256((__m256i *)(void *)s, reduce8_32(v));
        for (int k = 0; k < GROUP; k++) {
            const int64_t j = g + lane_of(kind, k);
            if (kind == Q4_0)
                a->sum8[j] = 8 * s[k];
            else
                a->dsum[j] = a->d[j] * (float)s[k];
        }
    }
    return !_mm256_testz_si256(min, min);
}

/* ---- one group of 8 blocks: the exact block sums of a tile ---- */

/* Q4: the nibbles of blocks 2p and 2p + 1 of a group: lo = elements 0-15 of both, hi = 16-31 */
AVX2_INLINE void q4_unpack(const enum kind kind, const char *first, int p, __m256i *lo, __m256i *hi)
{
    const int stride = kind == Q4_0 ? (int)sizeof(calgae_block_q4_0) : (int)sizeof(calgae_block_q4_1);
    const int off = kind == Q4_0 ? 2 : 4; /* the quants follow d (and m) */
    const char *qa = first + (2 * p) * stride + off;
    const __m256i raw = _mm256_loadu2_m128i((const __m128i *)(const void *)(qa + stride),
                                            (const __m128i *)(const void *)qa);
    const __m256i low = _mm256_set1_epi8(0x0f);
    *lo = _mm256_and_si256(raw, low);
    *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
}

/* Q8_0: the 32 values widened to int16, in two halves */
typedef struct {
    __m256i lo, hi;
} wide8;

AVX2_INLINE wide8 q8_widen(const int8_t *qs)
{
    wide8 w = {_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)qs)),
               _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(qs + 16)))};
    return w;
}

AVX2_INLINE wide8 q8_widen_w(const char *first, int k)
{
    return q8_widen(((const calgae_block_q8_0 *)(const void *)first)[k].qs);
}

AVX2_INLINE __m256i q8_dot(wide8 w, wide8 x)
{
    return _mm256_add_epi32(_mm256_madd_epi16(w.lo, x.lo), _mm256_madd_epi16(w.hi, x.hi));
}

/* isum[i][t] = the sums of the 8 blocks from wb[i] (weights) and a[t] (activations, moved to
 * the group), in the kind's lane order. One token: the weights are unpacked where they are
 * used; several: once per group into a small buffer that the tokens share. */
AVX2_INLINE void group_sums(const enum kind kind, const char *const *wb, const int nr, const act *a,
                            const int nt, __m256i isum[MAX_NR][MAX_NT])
{
    if (kind == Q4_0 || kind == Q4_1) {
        __m256i lo[MAX_NR][GROUP / 2], hi[MAX_NR][GROUP / 2];
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
            for (int p = 0; p < GROUP / 2; p++)
                if (nt > 1)
                    q4_unpack(kind, wb[i], p, &lo[i][p], &hi[i][p]);
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m256i s[GROUP / 2];
#pragma GCC unroll 4
                for (int p = 0; p < GROUP / 2; p++) {
                    __m256i l, h;
                    if (nt > 1) {
                        l = lo[i][p];
                        h = hi[i][p];
                    } else {
                        q4_unpack(kind, wb[i], p, &l, &h);
                    }
                    /* proofs/maddubs_model.h models these lanes (maddubs_lane's "nibbles"
                     * behaviour, q4_lane_sum for s[p] and reduce8_16's 16-bit adds): proved
                     * never to saturate or wrap; tests/test_maddubs.c runs model and
                     * instructions on the extreme codes */
                    s[p] = _mm256_add_epi16(_mm256_maddubs_epi16(l, _mm256_loadu_si256(&a[t].xr[2 * p])),
                                            _mm256_maddubs_epi16(h, _mm256_loadu_si256(&a[t].xr[2 * p + 1])));
                }
                isum[i][t] = reduce8_16(s);
                if (kind == Q4_0)
                    isum[i][t] = _mm256_sub_epi32(isum[i][t], _mm256_loadu_si256((const __m256i *)(const void *)a[t].sum8));
            }
        return;
    }
    if (kind == Q8_0) {
        /* |w| as unsigned bytes times x with w's sign: exact, as |w| <= 128 and, x never being
         * -128 here, |x| <= 127 (pairs <= 32512, no saturation) */
        __m256i wq[MAX_NR][GROUP], aw[MAX_NR][GROUP];
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++)
#pragma GCC unroll 8
            for (int k = 0; k < GROUP; k++) {
                wq[i][k] = _mm256_loadu_si256((const __m256i *)(const void *)((const calgae_block_q8_0 *)(const void *)wb[i])[k].qs);
                aw[i][k] = _mm256_abs_epi8(wq[i][k]);
            }
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m256i v[GROUP];
#pragma GCC unroll 8
                for (int k = 0; k < GROUP; k++) {
                    const __m256i xq = _mm256_loadu_si256((const __m256i *)(const void *)a[t].x[k].qs);
                    /* maddubs_lane's "sign_trick" behaviour in proofs/maddubs_model.h */
                    const __m256i p = _mm256_maddubs_epi16(aw[i][k], _mm256_sign_epi8(xq, wq[i][k]));
                    v[k] = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
                }
                isum[i][t] = reduce8_32(v);
            }
        return;
    }
    wide8 ww[MAX_NR][GROUP], xw[MAX_NT][GROUP];
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
#pragma GCC unroll 8
        for (int k = 0; k < GROUP; k++)
            xw[t][k] = q8_widen(a[t].x[k].qs);
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 8
        for (int k = 0; k < GROUP; k++)
            if (nt > 1)
                ww[i][k] = q8_widen_w(wb[i], k);
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            __m256i v[GROUP];
#pragma GCC unroll 8
            for (int k = 0; k < GROUP; k++)
                v[k] = q8_dot(nt > 1 ? ww[i][k] : q8_widen_w(wb[i], k), xw[t][k]);
            isum[i][t] = reduce8_32(v);
        }
}

/* ---- tiles ---- */

/* One group of 8 blocks into the tile's accumulators: wb[i] is row i's first block of the
 * group, a[t] token t's activation moved to the group. */
AVX2_INLINE void group_step(const enum kind kind, const char *const *wb, const int wstride,
                            const int nr, const act *a, const int nt, __m256 acc[MAX_NR][MAX_NT])
{
    __m256i isum[MAX_NR][MAX_NT];
    group_sums(kind, wb, nr, a, nt, isum);
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++) {
        const __m256 dw = weight_scales(kind, wb[i], wstride);
        /* Q4_1: the minimum m follows d */
        const __m256 mw = kind == Q4_1 ? weight_scales(kind, wb[i] + 2, wstride) : dw;
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps(a[t].d));
            acc[i][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][t]), scale, acc[i][t]);
            if (kind == Q4_1)
                acc[i][t] = _mm256_fmadd_ps(mw, _mm256_loadu_ps(a[t].dsum), acc[i][t]);
        }
    }
}

/* token t's activation moved to block g (a multiple of 8) */
AVX2_INLINE act act_at(const act *a, int64_t g)
{
    act r = {a->x + g, a->xr ? a->xr + g : NULL, a->d + g, a->sum8 + g, a->dsum + g};
    return r;
}

/* y[(t0 + t) * ys + r + i rs] = W[r + i rs] . x_(t0 + t) for i < nr, t < nt (constants after
 * inlining, as is kind); a holds the tokens t0 .. t0 + nt - 1. */
AVX2_INLINE void block_tile(const calgae_weight *w, const enum kind kind, int64_t r, int64_t rs,
                            const int nr, const act *a, int64_t t0, const int nt, float *y,
                            int64_t ys)
{
    const int64_t nb = w->cols / CALGAE_QK;
    const int wstride = kind == Q4_0 ? (int)sizeof(calgae_block_q4_0)
                        : kind == Q4_1 ? (int)sizeof(calgae_block_q4_1) : (int)sizeof(calgae_block_q8_0);
    const int is_q8 = kind == Q8_0 || kind == Q8_0_WIDE;
    const char *wr[MAX_NR], *wb[MAX_NR];
    act ag[MAX_NT];
    __m256 acc[MAX_NR][MAX_NT];
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
        wr[i] = (const char *)w->data + (size_t)(r + i * rs) * w->row_bytes;
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            acc[i][t] = _mm256_setzero_ps();
    int64_t g = 0;
    for (; g + GROUP <= nb; g += GROUP) {
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++)
            wb[i] = wr[i] + g * wstride;
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            ag[t] = act_at(&a[t], g);
        group_step(kind, wb, wstride, nr, ag, nt, acc);
    }
    if (g < nb) {
        /* the last blocks, zero-padded to a group (the prepared activations already are): a
         * zero scale and zero values add exactly 0, and every (row, token) still runs the
         * same instructions */
        const int nk = (int)(nb - g);
        char wpad[MAX_NR][GROUP * sizeof(calgae_block_q8_0)];
        calgae_block_q8_0 xpad[MAX_NT][GROUP];
        memset(wpad, 0, sizeof wpad);
        for (int i = 0; i < nr; i++) {
            memcpy(wpad[i], wr[i] + g * wstride, (size_t)nk * (size_t)wstride);
            wb[i] = wpad[i];
        }
        for (int t = 0; t < nt; t++) {
            ag[t] = act_at(&a[t], g);
            if (is_q8) {
                memset(xpad[t], 0, sizeof xpad[t]);
                memcpy(xpad[t], a[t].x + g, (size_t)nk * sizeof xpad[t][0]);
                ag[t].x = xpad[t];
            }
        }
        group_step(kind, wb, wstride, nr, ag, nt, acc);
    }
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            y[(t0 + t) * ys + r + i * rs] = hsum_ps(acc[i][t]);
}

/* ---- entry points ---- */

/* The prepared activations: on the stack when they fit, else on the heap. */
typedef struct {
    __m256i xr[STACK_BLOCKS];
    float d[STACK_BLOCKS], dsum[STACK_BLOCKS];
    int32_t sum8[STACK_BLOCKS];
    char *heap;
    int64_t padded; /* blocks per token, rounded up to whole groups */
} act_store;

/* Room for n_tok tokens of nb blocks each; 0, or -1 if out of memory. */
static int act_alloc(act_store *s, int64_t nb, int64_t n_tok)
{
    s->heap = NULL;
    s->padded = (nb + GROUP - 1) / GROUP * GROUP;
    const int64_t blocks = s->padded * n_tok;
    if (blocks <= STACK_BLOCKS)
        return 0;
    /* one allocation, four regions (malloc'd memory takes the type of what is stored) */
    const size_t per = sizeof(__m256i) + 2 * sizeof(float) + sizeof(int32_t);
    s->heap = malloc((size_t)blocks * per);
    return s->heap ? 0 : -1;
}

/* Token t's act in the store (t < the n_tok of act_alloc); prepare_act fills it. */
static act act_view(const act_store *s, const void *x, size_t xs, int64_t t, int64_t n_tok)
{
    const int64_t at = t * s->padded, all = s->padded * n_tok;
    act a = {.x = (const calgae_block_q8_0 *)(const void *)((const char *)x + (size_t)t * xs)};
    if (!s->heap) {
        a.xr = (__m256i *)s->xr + at;
        a.d = (float *)s->d + at;
        a.dsum = (float *)s->dsum + at;
        a.sum8 = (int32_t *)s->sum8 + at;
        return a;
    }
    char *p = s->heap;
    a.xr = (__m256i *)(void *)p + at;
    p += (size_t)all * sizeof(__m256i);
    a.d = (float *)(void *)p + at;
    a.dsum = (float *)(void *)p + all + at;
    p += (size_t)all * 2 * sizeof(float);
    a.sum8 = (int32_t *)(void *)p + at;
    return a;
}

/* The rows [r0, r1) of a matvec, the activation prepared. A tile takes one row from each
 * quarter of the range (r, r + q, r + 2q, r + 3q), so the tile after it reads the rows right
 * after these: the 4 rows are 4 long sequential streams, which the hardware prefetcher
 * follows. Tiles of 4 adjacent rows instead make 3 new 1152-byte streams per tile (at 2048
 * columns of Q4_0), too short for it: that streamed at half the speed, software prefetch of
 * the next tile included (measured on Zen 3). */
AVX2_INLINE void matvec_rows(const calgae_weight *w, const enum kind kind, const act *a, float *y,
                             int64_t r0, int64_t r1)
{
    const int64_t q = (r1 - r0) / MAX_NR;
    for (int64_t t = 0; t < q; t++)
        block_tile(w, kind, r0 + t, q, MAX_NR, a, 0, 1, y, 0);
    for (int64_t r = r0 + q * MAX_NR; r < r1; r++)
        block_tile(w, kind, r, 1, 1, a, 0, 1, y, 0);
}

AVX2_INLINE int block_matvec(const calgae_weight *w, const enum kind kind, const void *x,
                             float *y, int64_t r0, int64_t r1)
{
    if (w->cols % CALGAE_QK != 0)
        return CALGAE_KERNEL_DECLINED;
    const int64_t nb = w->cols / CALGAE_QK;
    act_store store;
    if (act_alloc(&store, nb, 1) != 0)
        return CALGAE_KERNEL_DECLINED;
    act a = act_view(&store, x, 0, 0, 1);
    prepare_act(&a, nb, kind);
    matvec_rows(w, kind, &a, y, r0, r1);
    free(store.heap);
    return CALGAE_KERNEL_OK;
}

/* The rows [r0, r1) of a matmul, the activations prepared. Row tiles outside, token tiles
 * inside: a tile's weight blocks stay in L1 for every token. */
AVX2_INLINE void matmul_rows(const calgae_weight *w, const enum kind kind, const int mm_nr,
                             const int mm_nt, const act_store *store, const void *x, size_t xs,
                             int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1)
{
    act a[MAX_NT];
    for (int64_t r = r0; r < r1;) {
        const int nr = r + mm_nr <= r1 ? mm_nr : 1;
        for (int64_t t = 0; t < n_tok;) {
            const int nt = t + mm_nt <= n_tok ? mm_nt : 1;
            for (int k = 0; k < nt; k++)
                a[k] = act_view(store, x, xs, t + k, n_tok);
            if (nr == mm_nr && nt == mm_nt)
                block_tile(w, kind, r, 1, mm_nr, a, t, mm_nt, y, ys);
            else if (nr == mm_nr)
                block_tile(w, kind, r, 1, mm_nr, a, t, 1, y, ys);
            else if (nt == mm_nt)
                block_tile(w, kind, r, 1, 1, a, t, mm_nt, y, ys);
            else
                block_tile(w, kind, r, 1, 1, a, t, 1, y, ys);
            t += nt;
        }
        r += nr;
    }
}

AVX2_INLINE int block_matmul(const calgae_weight *w, const enum kind kind, const int mm_nr,
                             const int mm_nt, const void *x, size_t xs, int64_t n_tok, float *y,
                             int64_t ys, int64_t r0, int64_t r1)
{
    if (w->cols % CALGAE_QK != 0)
        return CALGAE_KERNEL_DECLINED;
    const int64_t nb = w->cols / CALGAE_QK;
    act_store store;
    if (act_alloc(&store, nb, n_tok) != 0)
        return CALGAE_KERNEL_DECLINED;
    int has_min = 0;
    for (int64_t t = 0; t < n_tok; t++) {
        act at = act_view(&store, x, xs, t, n_tok);
        has_min |= prepare_act(&at, nb, kind);
    }
    if (has_min && kind == Q8_0)
        matmul_rows(w, Q8_0_WIDE, mm_nr, mm_nt, &store, x, xs, n_tok, y, ys, r0, r1);
    else
        matmul_rows(w, kind, mm_nr, mm_nt, &store, x, xs, n_tok, y, ys, r0, r1);
    free(store.heap);
    return CALGAE_KERNEL_OK;
}

int avx2_matvec_q4_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return block_matvec(w, Q4_0, x, y, r0, r1);
}

int avx2_matvec_q4_1(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return block_matvec(w, Q4_1, x, y, r0, r1);
}

/* matvec widens: with one token, the sign trick's extra per-row work (|w| and a sign per row
 * and block) measured slower than widening both sides; matmul shares |w| across tokens */
int avx2_matvec_q8_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return block_matvec(w, Q8_0_WIDE, x, y, r0, r1);
}

int avx2_matmul_q4_0(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                     int64_t ys, int64_t r0, int64_t r1)
{
    return block_matmul(w, Q4_0, 4, 4, x, xs, n_tok, y, ys, r0, r1);
}

int avx2_matmul_q4_1(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                     int64_t ys, int64_t r0, int64_t r1)
{
    return block_matmul(w, Q4_1, 4, 4, x, xs, n_tok, y, ys, r0, r1);
}

int avx2_matmul_q8_0(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                     int64_t ys, int64_t r0, int64_t r1)
{
    return block_matmul(w, Q8_0, 2, 4, x, xs, n_tok, y, ys, r0, r1);
}
