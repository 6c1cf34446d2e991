/*
 * neon_qdot.h - the Q8_0, Q4_0 and Q4_1 products against Q8_0 activations, written once and
 * compiled once per variant (llamafile's pattern): the including file defines
 * NEON_QVARIANT (the name suffix) and a neon_block_dot() for its instruction set, then
 * includes this file. Not a normal header: it defines functions.
 *
 * Every output row is bitwise equal to the scalar plugin's: a 32-value block's product is an
 * exact integer sum whatever instructions form it, and the float part repeats scalar.c's
 * operations in its order (sum += (float)isum * (dw * dx), plus m * (dx * xsum) for Q4_1,
 * block after block, no fused multiply-add: the plugin is built with -ffp-contract=off).
 * Rows go four at a time, one float lane per row, so the four rows share each activation
 * load; a row gets the same result in a group of four or alone, so results never depend on
 * how the host split the rows.
 */
#ifndef NEON_QVARIANT
#error "define NEON_QVARIANT and neon_block_dot() before including neon_qdot.h"
#endif

#include <arm_neon.h>
#include <string.h>

#include "neon_internal.h"

#define NEON_QCAT_(a, b) a##_##b
#define NEON_QCAT(a, b) NEON_QCAT_(a, b)
#define NEON_QNAME(name) NEON_QCAT(name, NEON_QVARIANT)

/* The weight layouts; `kind` is a constant at every call, so its branches fold away. */
enum { KIND_Q8_0, KIND_Q4_0, KIND_Q4_1 };

/* An fp16 field of a block: d at offset 0 in every layout, Q4_1's m at offset 2. */
NEON_ALWAYS_INLINE uint16_t block_half(const char *blk, size_t offset)
{
    uint16_t h;
    memcpy(&h, blk + offset, sizeof h);
    return h;
}

NEON_ALWAYS_INLINE uint16_t block_d(const char *blk)
{
    return block_half(blk, 0);
}

NEON_ALWAYS_INLINE uint16_t block_m(const char *blk)
{
    return block_half(blk, offsetof(calgae_block_q4_1, m));
}

/* A weight block's 32 values as two int8 vectors: values 0-15 and 16-31. ggml's 4-bit
 * layouts keep value j in the low nibble of byte j and value j + 16 in the high one; Q4_0
 * centres them on 8, Q4_1 leaves them 0..15 (its offset m is added per block). */
NEON_ALWAYS_INLINE void load_block(int kind, const char *blk, int8x16_t *lo, int8x16_t *hi)
{
    if (kind == KIND_Q8_0) {
        const int8_t *q = (const int8_t *)blk + offsetof(calgae_block_q8_0, qs);
        *lo = vld1q_s8(q);
        *hi = vld1q_s8(q + 16);
        return;
    }
    const size_t qs = kind == KIND_Q4_0 ? offsetof(calgae_block_q4_0, qs)
                                        : offsetof(calgae_block_q4_1, qs);
    const uint8x16_t q = vld1q_u8((const uint8_t *)blk + qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
    if (kind == KIND_Q4_0) {
        *lo = vsubq_s8(*lo, vdupq_n_s8(8));
        *hi = vsubq_s8(*hi, vdupq_n_s8(8));
    }
}

NEON_ALWAYS_INLINE size_t block_bytes(int kind)
{
    return kind == KIND_Q8_0   ? sizeof(calgae_block_q8_0)
           : kind == KIND_Q4_0 ? sizeof(calgae_block_q4_0)
                               : sizeof(calgae_block_q4_1);
}

/* Sum of an activation block's 32 values (Q4_1's offset term), exact in int32. */
NEON_ALWAYS_INLINE int32_t block_xsum(int8x16_t x0, int8x16_t x1)
{
    return (int32_t)vaddlvq_s8(x0) + (int32_t)vaddlvq_s8(x1);
}

NEON_ALWAYS_INLINE float fp16_scale(uint16_t h)
{
    /* FCVTL is exact for every binary16 value, like calgae_fp16_to_fp32 */
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* Rows r .. r + 3 against one token's activation blocks: lane k holds row r + k. */
NEON_ALWAYS_INLINE float32x4_t rows4(int kind, const calgae_weight *w, int64_t r,
                                     const calgae_block_q8_0 *x)
{
    const char *row = (const char *)w->data + (size_t)r * w->row_bytes;
    const size_t rb = w->row_bytes, bb = block_bytes(kind);
    const int64_t nb = w->cols / CALGAE_QK;
    float32x4_t sum = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const char *blk = row + (size_t)b * bb;
        const int8x16_t x0 = vld1q_s8(x[b].qs), x1 = vld1q_s8(x[b].qs + 16);
        int8x16_t w0, w1;
        load_block(kind, blk, &w0, &w1);
        const int32x4_t p0 = neon_block_dot(w0, w1, x0, x1);
        load_block(kind, blk + rb, &w0, &w1);
        const int32x4_t p1 = neon_block_dot(w0, w1, x0, x1);
        load_block(kind, blk + 2 * rb, &w0, &w1);
        const int32x4_t p2 = neon_block_dot(w0, w1, x0, x1);
        load_block(kind, blk + 3 * rb, &w0, &w1);
        const int32x4_t p3 = neon_block_dot(w0, w1, x0, x1);
        /* two rounds of pairwise adds leave row k's exact block sum in lane k */
        const int32x4_t isum = vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
        const uint16_t d4[4] = {block_d(blk), block_d(blk + rb), block_d(blk + 2 * rb),
                                block_d(blk + 3 * rb)};
        const float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(d4)));
        const float dx = fp16_scale(x[b].d);
        const float32x4_t prod = vmulq_f32(vcvtq_f32_s32(isum), vmulq_n_f32(dw, dx));
        if (kind == KIND_Q4_1) {
            const uint16_t m4[4] = {block_m(blk), block_m(blk + rb), block_m(blk + 2 * rb),
                                    block_m(blk + 3 * rb)};
            const float32x4_t mw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(m4)));
            const float dxs = dx * (float)block_xsum(x0, x1);
            sum = vaddq_f32(sum, vaddq_f32(prod, vmulq_n_f32(mw, dxs)));
        } else {
            sum = vaddq_f32(sum, prod);
        }
    }
    return sum;
}

/* One row, the same operations in scalar form. */
NEON_ALWAYS_INLINE float row1(int kind, const calgae_weight *w, int64_t r,
                              const calgae_block_q8_0 *x)
{
    const char *row = (const char *)w->data + (size_t)r * w->row_bytes;
    const size_t bb = block_bytes(kind);
    const int64_t nb = w->cols / CALGAE_QK;
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        const char *blk = row + (size_t)b * bb;
        const int8x16_t x0 = vld1q_s8(x[b].qs), x1 = vld1q_s8(x[b].qs + 16);
        int8x16_t w0, w1;
        load_block(kind, blk, &w0, &w1);
        const int32_t isum = vaddvq_s32(neon_block_dot(w0, w1, x0, x1));
        const float dx = fp16_scale(x[b].d);
        if (kind == KIND_Q4_1)
            sum += (float)isum * (fp16_scale(block_d(blk)) * dx) +
                   fp16_scale(block_m(blk)) * (dx * (float)block_xsum(x0, x1));
        else
            sum += (float)isum * (fp16_scale(block_d(blk)) * dx);
    }
    return sum;
}

NEON_ALWAYS_INLINE int qmatvec(int kind, const calgae_weight *w, const void *x, float *y,
                               int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        vst1q_f32(y + r, rows4(kind, w, r, x));
    for (; r < r1; r++)
        y[r] = row1(kind, w, r, x);
    return CALGAE_KERNEL_OK;
}

NEON_ALWAYS_INLINE int qmatmul(int kind, const calgae_weight *w, const void *x, size_t xs,
                               int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1)
{
    /* a group of four rows stays in cache while every token of the batch passes over it */
    const char *xc = x;
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        for (int64_t t = 0; t < n_tok; t++)
            vst1q_f32(y + t * ys + r, rows4(kind, w, r, (const void *)(xc + (size_t)t * xs)));
    for (; r < r1; r++)
        for (int64_t t = 0; t < n_tok; t++)
            y[t * ys + r] = row1(kind, w, r, (const void *)(xc + (size_t)t * xs));
    return CALGAE_KERNEL_OK;
}

int NEON_QNAME(calgae_neon_matvec_q8_0)(const calgae_weight *w, const void *x, float *y,
                                        int64_t r0, int64_t r1)
{
    return qmatvec(KIND_Q8_0, w, x, y, r0, r1);
}

int NEON_QNAME(calgae_neon_matvec_q4_0)(const calgae_weight *w, const void *x, float *y,
                                        int64_t r0, int64_t r1)
{
    return qmatvec(KIND_Q4_0, w, x, y, r0, r1);
}

int NEON_QNAME(calgae_neon_matmul_q8_0)(const calgae_weight *w, const void *x, size_t xs,
                                        int64_t n_tok, float *y, int64_t ys, int64_t r0,
                                        int64_t r1)
{
    return qmatmul(KIND_Q8_0, w, x, xs, n_tok, y, ys, r0, r1);
}

int NEON_QNAME(calgae_neon_matmul_q4_0)(const calgae_weight *w, const void *x, size_t xs,
                                        int64_t n_tok, float *y, int64_t ys, int64_t r0,
                                        int64_t r1)
{
    return qmatmul(KIND_Q4_0, w, x, xs, n_tok, y, ys, r0, r1);
}

int NEON_QNAME(calgae_neon_matvec_q4_1)(const calgae_weight *w, const void *x, float *y,
                                        int64_t r0, int64_t r1)
{
    return qmatvec(KIND_Q4_1, w, x, y, r0, r1);
}

int NEON_QNAME(calgae_neon_matmul_q4_1)(const calgae_weight *w, const void *x, size_t xs,
                                        int64_t n_tok, float *y, int64_t ys, int64_t r0,
                                        int64_t r1)
{
    return qmatmul(KIND_Q4_1, w, x, xs, n_tok, y, ys, r0, r1);
}
