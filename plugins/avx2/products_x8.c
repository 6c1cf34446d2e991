/*
 * products_x8.c - the avx2 plugin's own weight layout for Q4_0 and Q8_0 ("x8": 8 rows
 * interleaved), made once at load by prepare_weight (calgae_plugin.h), and the products that
 * read it.
 *
 * Why: in ggml's layout the 8 lanes of a vector hold parts of one row's block, so every block
 * dot product ends in a horizontal sum, which costs about as many shuffles as there are
 * multiplies (products_block.c). With 8 rows interleaved at 4-byte granularity, one vector holds
 * 4 consecutive quants of each of 8 rows; the activation's 4 matching bytes are broadcast to
 * all lanes, and each row's sum stays in its own lane: no horizontal work, and one scale FMA
 * per block serves 8 rows. (ggml's Q4_0_8x8 repacking and llamafile's tiles rest on the same
 * observation; the layout below is our own.)
 *
 * Layout: rows 8g .. 8g + 7 form group g, stored contiguously, groups in order. A group's
 * nb = cols / 32 blocks come in superblocks of 4 (the last one padded):
 *   64 bytes: the 4 blocks' scales, 8 fp16 each (block k's 8 rows at [8k .. 8k + 7]), then
 *   4 x QB bytes of quants: block k's as 32-byte chunks; chunk c's 4-byte word i is row i's
 *   4-byte word c of that block: for Q4_0 (QB = 128, 4 chunks) bytes 4c .. 4c + 3 of qs[16],
 *   whose low nibbles are elements 4c .. 4c + 3 and high nibbles 16 + 4c .. 19 + 4c; for Q8_0
 *   (QB = 256, 8 chunks) elements 4c .. 4c + 3.
 * So a row range is one sequential stream and every load is aligned. (Scales in a region of
 * their own were a second, short stream per group that the prefetchers never caught: the
 * matvec ran 10-20% slower.) Same bytes as the file, give or take the padding, so memory
 * stays file size: the host drops its mapped copy of a prepared matrix (core/cli/session.c).
 *
 * Numerics, per (row, token): each block's integer dot product is exact (Q4_0: nibble pairs
 * summed in int16, |.| <= 8 * 2 * 15 * 128 = 30720, minus 8 * sum x as in products_block.c;
 * Q8_0: |w| times x with w's sign, pairs <= 32512, widened to int32 at once), converted to
 * float and added with one FMA by d_w * d_x (a rounded float product), in block order. The
 * same sequence runs for matvec and matmul and any row range, so results depend neither on
 * the thread count nor on the batch. An activation holding -128 (which the Q8_0 quantizer with
 * d = amax / 127 never makes, but a foreign one might) can't take the sign trick: such calls
 * go to products_block.c's exact widening kernels on the stored layout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"
#include "simd.h"

#define ROWS 8       /* rows interleaved */
#define MAX_T 4      /* tokens per matmul tile */
#define STACK_NB 512 /* activation blocks whose scales fit the stack */

typedef struct {
    uint32_t type;
    int64_t nb;         /* blocks per row */
    size_t qb;          /* quant bytes per block of 8 rows: 128 or 256 */
    size_t sb;          /* bytes per superblock: 64 + 4 * qb */
    size_t group_bytes; /* sb * the superblocks */
    uint8_t *mem;       /* the groups */
} x8_weight;

/* block b of a group: its 8 scales and its quants */
static inline uint8_t *blk_d(const x8_weight *p, uint8_t *grp, int64_t b)
{
    return grp + (size_t)(b / 4) * p->sb + (size_t)(b % 4) * 16;
}

static inline uint8_t *blk_qs(const x8_weight *p, uint8_t *grp, int64_t b)
{
    return grp + (size_t)(b / 4) * p->sb + 64 + (size_t)(b % 4) * p->qb;
}

/* ---- load time ---- */

/* dst's 4 chunks of 32 bytes: chunk c holds word c (4 bytes) of the 16 bytes at src + i * stride,
 * for rows i = 0 .. 7 in order: a 4 x 8 transpose of 32-bit words. */
static void transpose_words(const uint8_t *src, size_t stride, uint8_t *dst)
{
    __m256i v[4];
    for (int i = 0; i < 4; i++) /* rows i and i + 4 in the two 128-bit halves */
        v[i] = _mm256_loadu2_m128i((const __m128i *)(const void *)(src + (size_t)(i + 4) * stride),
                                   (const __m128i *)(const void *)(src + (size_t)i * stride));
    const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    _mm256_store_si256((__m256i *)(void *)dst, _mm256_unpacklo_epi64(t0, t2));
    _mm256_store_si256((__m256i *)(void *)(dst + 32), _mm256_unpackhi_epi64(t0, t2));
    _mm256_store_si256((__m256i *)(void *)(dst + 64), _mm256_unpacklo_epi64(t1, t3));
    _mm256_store_si256((__m256i *)(void *)(dst + 96), _mm256_unpackhi_epi64(t1, t3));
}

int avx2_x8_prepare(calgae_weight *w, char *why, size_t why_len)
{
    const char *no = NULL;
    if (w->type != CALGAE_TYPE_Q4_0 && w->type != CALGAE_TYPE_Q8_0)
        no = "only Q4_0 and Q8_0 have an interleaved layout";
    else if (w->rows % ROWS != 0 || w->cols % CALGAE_QK != 0 || w->rows <= 0)
        no = "rows not a multiple of 8: the stored layout serves it";
    x8_weight *p = no ? NULL : calloc(1, sizeof *p);
    if (!no && !p)
        no = "out of memory";
    if (no) {
        snprintf(why, why_len, "%s", no);
        return 1;
    }
    const int q8 = w->type == CALGAE_TYPE_Q8_0;
    const size_t bsz = q8 ? sizeof(calgae_block_q8_0) : sizeof(calgae_block_q4_0);
    const int chunks = q8 ? 8 : 4;
    p->type = w->type;
    p->nb = w->cols / CALGAE_QK;
    p->qb = (size_t)chunks * 32;
    p->sb = 64 + 4 * p->qb;
    p->group_bytes = (size_t)(p->nb + 3) / 4 * p->sb;
    const size_t groups = (size_t)(w->rows / ROWS), bytes = groups * p->group_bytes;
    /* 2 MiB alignment lets the kernel back large matrices with huge pages */
    const size_t align = bytes >= (2u << 20) ? (2u << 20) : 64;
    p->mem = aligned_alloc(align, (bytes + align - 1) / align * align);
#ifdef MADV_HUGEPAGE
    /* huge pages: 512 times fewer page faults while the copy below fills the memory, and
     * fewer TLB misses while the products stream it (advice: ignoring it changes nothing) */
    if (p->mem && align > 64)
        (void)madvise(p->mem, (bytes + align - 1) / align * align, MADV_HUGEPAGE);
#endif
    if (!p->mem) {
        free(p);
        snprintf(why, why_len, "out of memory for %zu bytes", bytes);
        return 1;
    }
    for (size_t g = 0; g < groups; g++) {
        uint8_t *grp = p->mem + g * p->group_bytes;
        memset(grp + p->group_bytes - p->sb, 0, p->sb); /* the last superblock's padding */
        const uint8_t *rows = (const uint8_t *)w->data + g * ROWS * w->row_bytes;
        for (int64_t b = 0; b < p->nb; b++) {
            const uint8_t *src = rows + (size_t)b * bsz;
            uint8_t *d = blk_d(p, grp, b), *qs = blk_qs(p, grp, b);
            for (int i = 0; i < ROWS; i++)
                memcpy(d + i * 2, src + (size_t)i * w->row_bytes, 2);
            for (int h = 0; h < chunks / 4; h++)
                transpose_words(src + 2 + h * 16, w->row_bytes, qs + h * 128);
        }
    }
    w->prepared = p;
    return 0;
}

void avx2_x8_release(calgae_weight *w)
{
    x8_weight *p = w->prepared;
    if (!p)
        return;
    free(p->mem);
    free(p);
    w->prepared = NULL;
}

/* ---- activations ---- */

/* Per token: the blocks, their scales as floats and (Q4_0) 8 * the sum of each block. */
typedef struct {
    const calgae_block_q8_0 *x;
    float *d;
    int32_t *sum8;
} x8_act;

/* Fills a (x already set) for nb blocks; returns whether some value is -128. */
static int act_prepare(x8_act *a, int64_t nb, int q4)
{
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1), m128 = _mm256_set1_epi8(-128);
    __m256i seen = _mm256_setzero_si256();
    for (int64_t b = 0; b < nb; b++) {
        a->d[b] = calgae_fp16_to_fp32(a->x[b].d);
        const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)a->x[b].qs);
        seen = _mm256_or_si256(seen, _mm256_cmpeq_epi8(q, m128));
        if (q4) {
            const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
            a->sum8[b] = 8 * _mm_cvtsi128_si32(h);
        }
    }
    return !_mm256_testz_si256(seen, seen);
}

/* the 4 activation bytes at p, in every lane */
AVX2_INLINE __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* ---- R groups of 8 rows against T tokens (R * T <= 4, constants after inlining) ---- */

/* acc[r * T + t] = the 8 rows of group g[r] against token t */
AVX2_INLINE void groups_q4_0(const x8_weight *p, const int64_t *g, const int R, const x8_act *a,
                             const int T, __m256 *acc)
{
    uint8_t *grp[MAX_T];
    for (int r = 0; r < R; r++)
        grp[r] = p->mem + (size_t)g[r] * p->group_bytes;
    const __m256i low = _mm256_set1_epi8(0x0f), ones16 = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int k = 0; k < R * T; k++)
        acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < p->nb; b++) {
        __m256i s[MAX_T];
#pragma GCC unroll 4
        for (int k = 0; k < R * T; k++)
            s[k] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                const __m256i raw = _mm256_load_si256((const __m256i *)(const void *)(blk_qs(p, grp[r], b) + c * 32));
                const __m256i lo = _mm256_and_si256(raw, low);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
#pragma GCC unroll 4
                for (int t = 0; t < T; t++) {
                    const int8_t *xq = a[t].x[b].qs;
                    s[r * T + t] = _mm256_add_epi16(s[r * T + t], _mm256_maddubs_epi16(lo, bcast4(xq + 4 * c)));
                    s[r * T + t] = _mm256_add_epi16(s[r * T + t], _mm256_maddubs_epi16(hi, bcast4(xq + 16 + 4 * c)));
                }
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(const void *)blk_d(p, grp[r], b)));
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                const __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(s[r * T + t], ones16), _mm256_set1_epi32(a[t].sum8[b]));
                acc[r * T + t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(a[t].d[b])), acc[r * T + t]);
            }
        }
    }
}

AVX2_INLINE void groups_q8_0(const x8_weight *p, const int64_t *g, const int R, const x8_act *a,
                             const int T, __m256 *acc)
{
    uint8_t *grp[MAX_T];
    for (int r = 0; r < R; r++)
        grp[r] = p->mem + (size_t)g[r] * p->group_bytes;
    const __m256i ones16 = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int k = 0; k < R * T; k++)
        acc[k] = _mm256_setzero_ps();
    for (int64_t b = 0; b < p->nb; b++) {
        __m256i s[MAX_T];
#pragma GCC unroll 4
        for (int k = 0; k < R * T; k++)
            s[k] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                const __m256i wq = _mm256_load_si256((const __m256i *)(const void *)(blk_qs(p, grp[r], b) + c * 32));
                const __m256i aw = _mm256_abs_epi8(wq);
#pragma GCC unroll 4
                for (int t = 0; t < T; t++) {
                    const __m256i pr = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast4(a[t].x[b].qs + 4 * c), wq));
                    s[r * T + t] = _mm256_add_epi32(s[r * T + t], _mm256_madd_epi16(pr, ones16));
                }
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(const void *)blk_d(p, grp[r], b)));
#pragma GCC unroll 4
            for (int t = 0; t < T; t++)
                acc[r * T + t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[r * T + t]), _mm256_mul_ps(dw, _mm256_set1_ps(a[t].d[b])), acc[r * T + t]);
        }
    }
}

/* y[(t0 + t) * ys + row] for the rows of group g inside [r0, r1) */
AVX2_INLINE void store_group(const __m256 *acc, const int T, int64_t g, int64_t r0, int64_t r1,
                             float *y, int64_t t0, int64_t ys)
{
    const int64_t first = g * ROWS;
    for (int t = 0; t < T; t++) {
        float *out = y + (t0 + t) * ys;
        if (first >= r0 && first + ROWS <= r1) {
            _mm256_storeu_ps(out + first, acc[t]);
            continue;
        }
        float v[ROWS];
        _mm256_storeu_ps(v, acc[t]);
        for (int i = 0; i < ROWS; i++)
            if (first + i >= r0 && first + i < r1)
                out[first + i] = v[i];
    }
}

/* One Q4_0 group against 4 tokens, written out with named registers: the generic form above
 * kept its accumulators and partial sums in stack arrays at this size (gcc 12 unrolls the
 * pragma loops after scalar replacement), which ran at a third of the multiply rate. Same
 * operations in the same order per (row, token), so the same results. */
#define Q4_STEP(k, lo, hi, c)                                                                       \
    s##k = _mm256_add_epi16(s##k, _mm256_maddubs_epi16(lo, bcast4(x##k[b].qs + 4 * (c))));          \
    s##k = _mm256_add_epi16(s##k, _mm256_maddubs_epi16(hi, bcast4(x##k[b].qs + 16 + 4 * (c))))
#define Q4_TAIL(k)                                                                                  \
    acc##k = _mm256_fmadd_ps(                                                                       \
        _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(s##k, ones16), _mm256_set1_epi32(m##k[b]))), \
        _mm256_mul_ps(dw, _mm256_set1_ps(d##k[b])), acc##k)

AVX2_INLINE void group_q4_0_t4(const x8_weight *p, int64_t g, const x8_act *a, __m256 acc[4])
{
    uint8_t *grp = p->mem + (size_t)g * p->group_bytes;
    const calgae_block_q8_0 *x0 = a[0].x, *x1 = a[1].x, *x2 = a[2].x, *x3 = a[3].x;
    const float *d0 = a[0].d, *d1 = a[1].d, *d2 = a[2].d, *d3 = a[3].d;
    const int32_t *m0 = a[0].sum8, *m1 = a[1].sum8, *m2 = a[2].sum8, *m3 = a[3].sum8;
    const __m256i low = _mm256_set1_epi8(0x0f), ones16 = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t b = 0; b < p->nb; b++) {
        const uint8_t *q = blk_qs(p, grp, b);
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (int c = 0; c < 4; c++) {
            const __m256i raw = _mm256_load_si256((const __m256i *)(const void *)(q + c * 32));
            const __m256i lo = _mm256_and_si256(raw, low);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
            Q4_STEP(0, lo, hi, c);
            Q4_STEP(1, lo, hi, c);
            Q4_STEP(2, lo, hi, c);
            Q4_STEP(3, lo, hi, c);
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(const void *)blk_d(p, grp, b)));
        Q4_TAIL(0);
        Q4_TAIL(1);
        Q4_TAIL(2);
        Q4_TAIL(3);
    }
    acc[0] = acc0;
    acc[1] = acc1;
    acc[2] = acc2;
    acc[3] = acc3;
}

/* Groups g[0 .. R) against tokens t0 .. t0 + T (a holds them), stored. */
AVX2_INLINE void tile(const x8_weight *p, const int64_t *g, const int R, const x8_act *a,
                      const int T, int64_t r0, int64_t r1, float *y, int64_t t0, int64_t ys)
{
    __m256 acc[MAX_T];
    if (p->type == CALGAE_TYPE_Q4_0 && R == 1 && T == 4)
        group_q4_0_t4(p, g[0], a, acc);
    else if (p->type == CALGAE_TYPE_Q4_0)
        groups_q4_0(p, g, R, a, T, acc);

    else
        groups_q8_0(p, g, R, a, T, acc);
    for (int r = 0; r < R; r++)
        store_group(acc + r * T, T, g[r], r0, r1, y, t0, ys);
}

/* ---- entry points (plugin.c calls them for weights this plugin prepared) ---- */

/* Room for the per-token activation scalars: on the stack below STACK_NB blocks a call. */
typedef struct {
    float d[STACK_NB];
    int32_t sum8[STACK_NB];
    void *heap;
} act_store;

static int acts_alloc(act_store *s, x8_act *a, int64_t n, int64_t nb)
{
    s->heap = NULL;
    float *d = s->d;
    int32_t *sum8 = s->sum8;
    if (nb * n > STACK_NB) {
        s->heap = malloc((size_t)(nb * n) * (sizeof(float) + sizeof(int32_t)));
        if (!s->heap)
            return -1;
        d = s->heap;
        sum8 = (int32_t *)(void *)(d + nb * n);
    }
    for (int64_t t = 0; t < n; t++) {
        a[t].d = d + nb * t;
        a[t].sum8 = sum8 + nb * t;
    }
    return 0;
}

int avx2_x8_matvec(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    const x8_weight *p = w->prepared;
    x8_act a = {.x = x};
    act_store st;
    if (acts_alloc(&st, &a, 1, p->nb) != 0)
        return CALGAE_KERNEL_DECLINED;
    const int q4 = p->type == CALGAE_TYPE_Q4_0;
    if (act_prepare(&a, p->nb, q4) && !q4) {
        free(st.heap);
        return avx2_matvec_q8_0(w, x, y, r0, r1);
    }
    /* 4 groups at once, one from each quarter of the range, so that 4 sequential streams are
     * in flight: one stream alone reads about 30% below what a core can pull */
    const int64_t g0 = r0 / ROWS, g1 = (r1 + ROWS - 1) / ROWS, q = (g1 - g0) / 4;
    for (int64_t i = 0; i < q; i++) {
        const int64_t g[4] = {g0 + i, g0 + q + i, g0 + 2 * q + i, g0 + 3 * q + i};
        tile(p, g, 4, &a, 1, r0, r1, y, 0, 0);
    }
    for (int64_t g = g0 + 4 * q; g < g1; g++)
        tile(p, &g, 1, &a, 1, r0, r1, y, 0, 0);
    free(st.heap);
    return CALGAE_KERNEL_OK;
}

int avx2_x8_matmul(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                   int64_t ys, int64_t r0, int64_t r1)
{
    const x8_weight *p = w->prepared;
    const int q4 = p->type == CALGAE_TYPE_Q4_0;
    if (n_tok > INT32_MAX)
        return CALGAE_KERNEL_DECLINED;
    x8_act *a = malloc((size_t)n_tok * sizeof *a);
    act_store st;
    if (!a || acts_alloc(&st, a, (int)n_tok, p->nb) != 0) {
        free(a);
        return CALGAE_KERNEL_DECLINED;
    }
    int has_min = 0;
    for (int64_t t = 0; t < n_tok; t++) {
        a[t].x = (const calgae_block_q8_0 *)(const void *)((const char *)x + (size_t)t * xs);
        has_min |= act_prepare(&a[t], p->nb, q4);
    }
    if (has_min && !q4) {
        free(st.heap);
        free(a);
        return avx2_matmul_q8_0(w, x, xs, n_tok, y, ys, r0, r1);
    }
    /* groups outside, tiles of tokens inside: a group's weights (9 KiB at 2048 columns of
     * Q4_0) stay in L1 for all the tokens, so each weight byte comes from memory once */
    for (int64_t g = r0 / ROWS; g * ROWS < r1; g++) {
        for (int64_t t0 = 0; t0 < n_tok; t0 += MAX_T) {
            const x8_act *at = a + t0;
            switch (n_tok - t0 < MAX_T ? n_tok - t0 : MAX_T) {
            case 4: tile(p, &g, 1, at, 4, r0, r1, y, t0, ys); break;
            case 3: tile(p, &g, 1, at, 3, r0, r1, y, t0, ys); break;
            case 2: tile(p, &g, 1, at, 2, r0, r1, y, t0, ys); break;
            default: tile(p, &g, 1, at, 1, r0, r1, y, t0, ys); break;
            }
        }
    }
    free(st.heap);
    free(a);
    return CALGAE_KERNEL_OK;
}
