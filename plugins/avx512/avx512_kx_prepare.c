/*
 * avx512_kx_prepare.c - prepare_weight and release_weight for Q4_K and Q6_K in the avx512
 * plugin: ggml's super-blocks (calgae_plugin.h) rewritten in the kx layout (avx512_kx.h) at
 * load time. Plain C, compiled with the kernels' flags but needing none of them. Touches only
 * its own weight, so the host may prepare several weights at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "avx512_kx.h"

/* 64-byte aligned memory, huge pages when large (as avx512_x16_prepare.c); NULL when out of
 * memory. */
static uint8_t *alloc_groups(size_t bytes)
{
    const size_t align = bytes >= (2u << 20) ? (2u << 20) : 64;
    const size_t alloc = (bytes + align - 1) / align * align;
    uint8_t *mem = aligned_alloc(align, alloc);
#ifdef MADV_HUGEPAGE
    if (mem && align > 64)
        (void)madvise(mem, alloc, MADV_HUGEPAGE);
#endif
    return mem;
}

/* Q4_K's 256 codes of a super-block, in value order: ggml stores values 64j + l (l < 32) in the
 * low nibbles of qs[32j + l] and 64j + 32 + l in the high ones. */
static void q4_k_codes(const calgae_block_q4_k *b, uint8_t q[CALGAE_QK_K])
{
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++) {
            const uint8_t v = b->qs[32 * j + l];
            q[64 * j + l] = v & 15;
            q[64 * j + 32 + l] = v >> 4;
        }
}

/* Q6_K's 256 unsigned codes (0..63), in value order, as ggml's dequantize_row_q6_K reads them:
 * in half n, value 32k + l takes the low or high nibble of ql and bits 2k, 2k + 1 of qh[l]. */
static void q6_k_codes(const calgae_block_q6_k *b, uint8_t u[CALGAE_QK_K])
{
    for (int n = 0; n < 2; n++)
        for (int l = 0; l < 32; l++) {
            const uint8_t a = b->ql[64 * n + l], c = b->ql[64 * n + l + 32], h = b->qh[32 * n + l];
            u[128 * n + l] = (uint8_t)((a & 15) | (h & 3) << 4);
            u[128 * n + l + 32] = (uint8_t)((c & 15) | ((h >> 2) & 3) << 4);
            u[128 * n + l + 64] = (uint8_t)((a >> 4) | ((h >> 4) & 3) << 4);
            u[128 * n + l + 96] = (uint8_t)((c >> 4) | ((h >> 6) & 3) << 4);
        }
}

/* One Q4_K super-block of 16 rows (row i's block at src + i * stride) into dst. */
static void fill_q4_k(const uint8_t *src, size_t stride, uint8_t *dst)
{
    for (int i = 0; i < KX_ROWS; i++) {
        const calgae_block_q4_k *b = (const void *)(src + (size_t)i * stride);
        memcpy(dst + 2 * i, &b->d, 2);
        memcpy(dst + 32 + 2 * i, &b->dmin, 2);
        for (int s = 0; s < 8; s++) {
            uint8_t sc, m;
            calgae_q4_k_scale_min(s, b->scales, &sc, &m);
            dst[64 + 32 * (s / 2) + 2 * i + s % 2] = sc;
            dst[192 + 32 * (s / 2) + 2 * i + s % 2] = m;
        }
        uint8_t q[CALGAE_QK_K];
        q4_k_codes(b, q);
        for (int s = 0; s < 8; s++)
            for (int c = 0; c < 4; c++)
                for (int k = 0; k < 4; k++) {
                    const int e = 32 * s + 4 * c + k;
                    dst[320 + 64 * (4 * s + c) + 4 * i + k] = (uint8_t)(q[e] | q[e + 16] << 4);
                }
    }
}

/* The same for Q6_K. */
static void fill_q6_k(const uint8_t *src, size_t stride, uint8_t *dst)
{
    memset(dst, 0, 64);
    for (int i = 0; i < KX_ROWS; i++) {
        const calgae_block_q6_k *b = (const void *)(src + (size_t)i * stride);
        memcpy(dst + 2 * i, &b->d, 2);
        for (int s = 0; s < 16; s++)
            dst[64 + 32 * (s / 2) + 2 * i + s % 2] = (uint8_t)b->scales[s];
        uint8_t u[CALGAE_QK_K];
        q6_k_codes(b, u);
        for (int s = 0; s < 16; s++)
            for (int k = 0; k < 4; k++) {
                const uint8_t *v = u + 16 * s + k; /* values 16s + 4q + k are v[4q] */
                dst[320 + 64 * (2 * s) + 4 * i + k] = (uint8_t)((v[0] & 15) | (v[8] & 15) << 4);
                dst[320 + 64 * (2 * s + 1) + 4 * i + k] = (uint8_t)((v[4] & 15) | (v[12] & 15) << 4);
                dst[2368 + 64 * s + 4 * i + k] =
                    (uint8_t)(v[0] >> 4 | (v[4] >> 4) << 2 | (v[8] >> 4) << 4 | (v[12] >> 4) << 6);
            }
    }
}

int calgae_avx512_kx_prepare(calgae_weight *w, char *why, size_t why_len)
{
    const char *no = NULL;
    const int q4 = w->type == CALGAE_TYPE_Q4_K;
    const size_t bsz = q4 ? sizeof(calgae_block_q4_k) : sizeof(calgae_block_q6_k);
    if (!kx_type(w->type))
        no = "no kx layout for this type";
    else if (w->rows <= 0 || w->rows % KX_ROWS != 0)
        no = "rows not a multiple of 16: the stored layout serves it";
    else if (w->cols <= 0 || w->cols % CALGAE_QK_K != 0)
        no = "columns not a multiple of 256";
    else if ((uint64_t)w->cols > SIZE_MAX / 16 / (uint64_t)w->rows)
        no = "too large";
    else if (w->row_bytes < (size_t)(w->cols / CALGAE_QK_K) * bsz)
        no = "rows shorter than their super-blocks";
    kx_weight *p = no ? NULL : calloc(1, sizeof *p);
    if (!no && !p)
        no = "out of memory";
    if (no) {
        snprintf(why, why_len, "%s", no);
        return 1;
    }
    p->type = w->type;
    p->nb = w->cols / CALGAE_QK_K;
    p->sb = q4 ? KX_Q4_K_SB : KX_Q6_K_SB;
    p->group_bytes = (size_t)p->nb * p->sb;
    const size_t groups = (size_t)(w->rows / KX_ROWS), bytes = groups * p->group_bytes;
    p->mem = alloc_groups(bytes);
    if (!p->mem) {
        free(p);
        snprintf(why, why_len, "out of memory for %zu bytes", bytes);
        return 1;
    }
    for (size_t g = 0; g < groups; g++) {
        const uint8_t *rows = (const uint8_t *)w->data + g * KX_ROWS * w->row_bytes;
        for (int64_t b = 0; b < p->nb; b++) {
            /* filled in a buffer that stays in L1, then copied out in one sequential run: the
             * scattered byte stores straight into fresh memory each missed the cache */
            _Alignas(64) uint8_t tmp[KX_Q6_K_SB];
            if (q4)
                fill_q4_k(rows + (size_t)b * bsz, w->row_bytes, tmp);
            else
                fill_q6_k(rows + (size_t)b * bsz, w->row_bytes, tmp);
            memcpy(p->mem + g * p->group_bytes + (size_t)b * p->sb, tmp, p->sb);
        }
    }
    w->prepared = p;
    return 0;
}

void calgae_avx512_kx_release(calgae_weight *w)
{
    kx_weight *p = w->prepared;
    if (!p)
        return;
    free(p->mem);
    free(p);
    w->prepared = NULL;
}
