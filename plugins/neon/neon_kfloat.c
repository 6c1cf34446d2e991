/*
 * neon_kfloat.c - the NEON plugin's Q8_K activation quantizer (ABI 1.3) and BF16 products
 * (ABI 1.4), in base ARMv8-A Advanced SIMD: neither gains from the dot-product extension.
 *
 *   - quantize_q8_k is byte for byte calgae_quantize_q8_k_ref (ggml's quantize_row_q8_K_ref):
 *     the same single rounding of iscale * x (no fused multiply-add: the plugin is built with
 *     -ffp-contract=off), FCVTNS's round-to-nearest-even where ggml adds 1.5 * 2^23, and the
 *     first value of largest magnitude as `max`, whose sign the scale takes;
 *   - the BF16 products widen each weight exactly (its 16 bits become the top half of a
 *     binary32) and sum with fused multiply-adds over several lanes, which the slot allows
 *     (any order of summation; conformance bounds it as for F32).
 */
#include <arm_neon.h>
#include <float.h>
#include <string.h>

#include "neon_internal.h"

/* ---- quantize_q8_k ---------------------------------------------------------------------- */

static void quantize_block_q8_k(const float *x, calgae_block_q8_k *y)
{
    float32x4_t amax4 = vdupq_n_f32(0.0f);
    for (int j = 0; j < CALGAE_QK_K; j += 4)
        amax4 = vmaxq_f32(amax4, vabsq_f32(vld1q_f32(x + j))); /* FMAX keeps a NaN */
    const float amax = vmaxvq_f32(amax4);
    memset(y, 0, sizeof *y);
    /* a NaN or an infinity anywhere, or all zeros: d = 0 and codes 0, as the reference */
    if (!(amax <= FLT_MAX) || !(amax > 0.0f))
        return;
    float max = 0.0f;
    for (int j = 0; j < CALGAE_QK_K; j++) {
        if (x[j] == amax || x[j] == -amax) { /* the reference keeps the first of the largest */
            max = x[j];
            break;
        }
    }
    const float iscale = -127.0f / max;
    if (!(iscale >= -FLT_MAX && iscale <= FLT_MAX)) {
        /* max below 127 / FLT_MAX: the reference's bit trick on infinite or NaN products is
         * not what FCVTNS gives, so such a block takes the reference itself */
        calgae_quantize_q8_k_ref(x, y, CALGAE_QK_K);
        return;
    }
    const int32x4_t lim = vdupq_n_s32(127);
    for (int j = 0; j < CALGAE_QK_K; j += 16) {
        int32x4_t q[4];
        for (int i = 0; i < 4; i++) {
            const float32x4_t v = vmulq_n_f32(vld1q_f32(x + j + 4 * i), iscale);
            q[i] = vmaxq_s32(vminq_s32(vcvtnq_s32_f32(v), lim), vnegq_s32(lim));
        }
        const int16x8_t h0 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
        const int16x8_t h1 = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
        const int8x16_t codes = vcombine_s8(vmovn_s16(h0), vmovn_s16(h1));
        vst1q_s8(y->qs + j, codes);
        y->bsums[j / 16] = vaddlvq_s8(codes);
    }
    y->d = 1.0f / iscale;
}

void calgae_neon_quantize_q8_k(const float *x, void *out, int64_t n)
{
    calgae_block_q8_k *y = out;
    for (int64_t b = 0; b < n / CALGAE_QK_K; b++)
        quantize_block_q8_k(x + b * CALGAE_QK_K, &y[b]);
}

/* ---- BF16 products ---------------------------------------------------------------------- */

NEON_ALWAYS_INLINE float32x4_t bf16_widen(uint16x4_t h)
{
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

/* One row against x: two FMA accumulators over 8 columns a step, a fixed-order reduction,
 * then the leftover columns in order; the same operations whatever range the row is in. */
static float bf16_row(const calgae_weight *w, int64_t r, const float *x)
{
    const uint16_t *row = (const uint16_t *)((const char *)w->data + (size_t)r * w->row_bytes);
    const int64_t n = w->cols;
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t h = vld1q_u16(row + i);
        a0 = vfmaq_f32(a0, bf16_widen(vget_low_u16(h)), vld1q_f32(x + i));
        a1 = vfmaq_f32(a1, bf16_widen(vget_high_u16(h)), vld1q_f32(x + i + 4));
    }
    float sum = vaddvq_f32(vaddq_f32(a0, a1));
    for (; i < n; i++) {
        const uint32_t bits = (uint32_t)row[i] << 16;
        float v;
        memcpy(&v, &bits, sizeof v);
        sum += v * x[i];
    }
    return sum;
}

int calgae_neon_matvec_bf16(const calgae_weight *w, const void *x, float *y, int64_t r0,
                            int64_t r1)
{
    for (int64_t r = r0; r < r1; r++)
        y[r] = bf16_row(w, r, x);
    return CALGAE_KERNEL_OK;
}

int calgae_neon_matmul_bf16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                            float *y, int64_t ys, int64_t r0, int64_t r1)
{
    const char *xc = x;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < n_tok; t++)
            y[t * ys + r] = bf16_row(w, r, (const float *)(xc + (size_t)t * xs));
    return CALGAE_KERNEL_OK;
}
