/*
 * avx512_x16_prepare.c - prepare_weight and release_weight of the avx512 plugin: a Q4_0, Q4_1,
 * Q8_0, F16 or F32 matrix rewritten in the x16 layouts (avx512_x16.h) at load time. Touches only its own
 * weight, so the host may prepare several weights at once (CALGAE_PLUGIN_CONCURRENT_PREPARE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "avx512_isa.h"
#include "avx512_kx.h"
#include "avx512_x16.h"

/* Codes of one block of 16 rows (each row's block starts at src + i * stride): word c of
 * row i (4 bytes of qs) goes to dst + 64 c + 4 i, for c < words; flip XORs each byte (0x80
 * turns Q8_0's signed codes into unsigned w + 128). A 16 x words transpose of 32-bit words. */
static void transpose_words(const uint8_t *src, size_t stride, int words, uint32_t flip,
                            uint8_t *dst)
{
    for (int i = 0; i < X16_ROWS; i++) {
        const uint8_t *row = src + (size_t)i * stride;
        for (int c = 0; c < words; c++) {
            uint32_t v;
            memcpy(&v, row + 4 * c, 4);
            v ^= flip;
            memcpy(dst + 64 * c + 4 * i, &v, 4);
        }
    }
}

/* 64-byte aligned memory for p->mem, huge pages when large; NULL when out of memory. */
static uint8_t *alloc_groups(size_t bytes)
{
    /* 2 MiB alignment lets the kernel back large matrices with huge pages */
    const size_t align = bytes >= (2u << 20) ? (2u << 20) : 64;
    const size_t alloc = (bytes + align - 1) / align * align;
    uint8_t *mem = aligned_alloc(align, alloc);
#ifdef MADV_HUGEPAGE
    /* fewer page faults while the copy fills the memory, fewer TLB misses while products
     * stream it (advice: ignoring it changes nothing) */
    if (mem && align > 64)
        (void)madvise(mem, alloc, MADV_HUGEPAGE);
#endif
    return mem;
}

/* F32 and F16: column k of each group's 16 rows side by side (avx512_x16.h). */
static void fill_columns(const calgae_weight *w, x16_weight *p)
{
    const size_t es = w->type == CALGAE_TYPE_F16 ? 2 : 4;
    for (int64_t g = 0; g < w->rows / X16_ROWS; g++) {
        uint8_t *grp = p->mem + (size_t)g * p->group_bytes;
        for (int i = 0; i < X16_ROWS; i++) {
            const uint8_t *row = (const uint8_t *)w->data + (size_t)(g * X16_ROWS + i) * w->row_bytes;
            for (int64_t k = 0; k < w->cols; k++)
                memcpy(grp + ((size_t)k * X16_ROWS + (size_t)i) * es, row + (size_t)k * es, es);
        }
    }
}

int calgae_avx512_x16_prepare(calgae_weight *w, char *why, size_t why_len)
{
    if (kx_type(w->type))
        return calgae_avx512_kx_prepare(w, why, why_len); /* Q4_K, Q6_K: avx512_kx.h */
    const char *no = NULL;
    const int is_float = w->type == CALGAE_TYPE_F32 || w->type == CALGAE_TYPE_F16;
    if (!is_float && w->type != CALGAE_TYPE_Q4_0 && w->type != CALGAE_TYPE_Q4_1 &&
        w->type != CALGAE_TYPE_Q8_0)
        no = "no interleaved layout for this type";
    else if (w->rows <= 0 || w->rows % X16_ROWS != 0 || (!is_float && w->cols % CALGAE_QK != 0))
        no = "rows not a multiple of 16: the stored layout serves it";
    else if (w->cols <= 0 || (uint64_t)w->cols > SIZE_MAX / 64 / (uint64_t)w->rows)
        no = "too large";
    x16_weight *p = no ? NULL : calloc(1, sizeof *p);
    if (!no && !p)
        no = "out of memory";
    if (no) {
        snprintf(why, why_len, "%s", no);
        return 1;
    }
    p->type = w->type;
    if (is_float) {
        p->group_bytes = (size_t)w->cols * X16_ROWS * (w->type == CALGAE_TYPE_F16 ? 2 : 4);
        p->mem = alloc_groups(p->group_bytes * (size_t)(w->rows / X16_ROWS));
        if (!p->mem) {
            free(p);
            snprintf(why, why_len, "out of memory");
            return 1;
        }
        fill_columns(w, p);
        w->prepared = p;
        return 0;
    }
    const int q8 = w->type == CALGAE_TYPE_Q8_0, q41 = w->type == CALGAE_TYPE_Q4_1;
    const size_t bsz = q8 ? sizeof(calgae_block_q8_0)
                          : q41 ? sizeof(calgae_block_q4_1) : sizeof(calgae_block_q4_0);
    const size_t head = q41 ? 4 : 2; /* fp16 fields before qs */
    p->nb = w->cols / CALGAE_QK;
    p->db = q41 ? 64 : 32;
    p->qb = q8 ? 512 : 256;
    p->sb = X16_SUPER * (p->db + p->qb);
    p->group_bytes = (size_t)(p->nb + X16_SUPER - 1) / X16_SUPER * p->sb;
    const size_t groups = (size_t)(w->rows / X16_ROWS), bytes = groups * p->group_bytes;
    p->mem = alloc_groups(bytes);
    if (!p->mem) {
        free(p);
        snprintf(why, why_len, "out of memory for %zu bytes", bytes);
        return 1;
    }
    for (size_t g = 0; g < groups; g++) {
        uint8_t *grp = p->mem + g * p->group_bytes;
        memset(grp + p->group_bytes - p->sb, 0, p->sb); /* the last superblock's padding */
        const uint8_t *rows = (const uint8_t *)w->data + g * X16_ROWS * w->row_bytes;
        for (int64_t b = 0; b < p->nb; b++) {
            const uint8_t *src = rows + (size_t)b * bsz;
            uint8_t *d = (uint8_t *)x16_scales(p, grp, b), *qs = (uint8_t *)x16_codes(p, grp, b);
            for (int i = 0; i < X16_ROWS; i++) {
                memcpy(d + 2 * i, src + (size_t)i * w->row_bytes, 2);
                if (q41)
                    memcpy(d + 32 + 2 * i, src + (size_t)i * w->row_bytes + 2, 2);
            }
            transpose_words(src + head, w->row_bytes, q8 ? 8 : 4, q8 ? 0x80808080u : 0, qs);
        }
    }
    w->prepared = p;
    return 0;
}

void calgae_avx512_x16_release(calgae_weight *w)
{
    if (kx_type(w->type)) {
        calgae_avx512_kx_release(w);
        return;
    }
    x16_weight *p = w->prepared;
    if (!p)
        return;
    free(p->mem);
    free(p);
    w->prepared = NULL;
}
