/*
 * blocks.c - reference quantization into ggml's Q8_0 / Q4_0 blocks (see blocks.h).
 * Q8_0: d = max|x| / 127, q = round(x / d).  Q4_0: d = x_at_max|x| / -8, q = x / d + 8
 * truncated after adding 0.5 and clamped to 15 - both exactly as ggml's _ref functions.
 * The comments that start with @ are loop annotations for the proofs in proofs/ (Frama-C).
 */
#include "blocks.h"

#include <math.h>

/* ggml's MIN(15, (int8_t)v) for every v > -1 where that is defined, which covers the
 * (-1, 16.5] that blocks with a finite 1 / d give. Elsewhere it is 0 for NaN and v <= -1 and 15
 * for v >= 16, where ggml converts NaN or Inf to int (undefined in C): v is NaN or infinite
 * when 1 / d overflows (a block whose largest magnitude, or range for Q4_1, is below about
 * 2^-124) or the block holds an infinity. The clamps make the code range [0, 15] hold by
 * construction; proofs/ checks it. */
static int q4_code(float v)
{
    int q = v > -1.0f && v < 16.0f ? (int)v : v >= 16.0f ? 15 : 0;
    return q < 0 ? 0 : q > 15 ? 15 : q;
}

/* two codes in [0, 15] as one byte: lo in the low nibble */
static uint8_t q4_pack(int lo, int hi)
{
    return (uint8_t)(lo + 16 * hi);
}

void calgae_quantize_row_q8_0(const float *x, calgae_block_q8_0 *y, int64_t n)
{
    calgae_quantize_q8_0_ref(x, y, n);
}

void calgae_quantize_row_q4_0(const float *x, calgae_block_q4_0 *y, int64_t n)
{
    /*@ loop invariant 0 <= i <= n / CALGAE_QK;
        loop assigns i, y[0 .. n / CALGAE_QK - 1]; */
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float *xb = x + i * CALGAE_QK;
        float amax = 0.0f, max = 0.0f; /* max keeps the sign of the largest magnitude */
        /*@ loop invariant 0 <= j <= CALGAE_QK;
            loop assigns j, amax, max; */
        for (int j = 0; j < CALGAE_QK; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        /*@ loop invariant 0 <= j <= CALGAE_QK / 2;
            loop assigns j, y[i].qs[0 .. CALGAE_QK / 2 - 1]; */
        for (int j = 0; j < CALGAE_QK / 2; j++)
            y[i].qs[j] = q4_pack(q4_code(xb[j] * id + 8.5f), q4_code(xb[j + CALGAE_QK / 2] * id + 8.5f));
    }
}

void calgae_dequantize_row_q8_0(const calgae_block_q8_0 *x, float *y, int64_t n)
{
    /*@ loop invariant 0 <= i <= n / CALGAE_QK;
        loop invariant \forall integer b, k; 0 <= b < i && 0 <= k < CALGAE_QK ==>
                         y[b * CALGAE_QK + k] == x[b].qs[k] * fp16_value(x[b].d);
        loop assigns i, y[0 .. n / CALGAE_QK * CALGAE_QK - 1]; */
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        /*@ loop invariant 0 <= j <= CALGAE_QK;
            loop invariant \forall integer k; 0 <= k < j ==>
                             y[i * CALGAE_QK + k] == x[i].qs[k] * fp16_value(x[i].d);
            loop invariant \forall integer b, k; 0 <= b < i && 0 <= k < CALGAE_QK ==>
                             y[b * CALGAE_QK + k] == x[b].qs[k] * fp16_value(x[b].d);
            loop assigns j, y[i * CALGAE_QK .. i * CALGAE_QK + CALGAE_QK - 1]; */
        for (int j = 0; j < CALGAE_QK; j++)
            y[i * CALGAE_QK + j] = (float)x[i].qs[j] * d;
    }
}

void calgae_dequantize_row_q4_0(const calgae_block_q4_0 *x, float *y, int64_t n)
{
    /*@ loop invariant 0 <= i <= n / CALGAE_QK;
        loop assigns i, y[0 .. n / CALGAE_QK * CALGAE_QK - 1]; */
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        /*@ loop invariant 0 <= j <= CALGAE_QK / 2;
            loop assigns j, y[i * CALGAE_QK .. i * CALGAE_QK + CALGAE_QK - 1]; */
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            float *yb = y + i * CALGAE_QK;
            yb[j] = (float)(x[i].qs[j] % 16 - 8) * d; /* % and / by 16: the nibbles, in a form the provers read */
            yb[j + CALGAE_QK / 2] = (float)(x[i].qs[j] / 16 - 8) * d;
        }
    }
}

void calgae_quantize_row_q4_1(const float *x, calgae_block_q4_1 *y, int64_t n)
{
    /*@ loop invariant 0 <= i <= n / CALGAE_QK;
        loop assigns i, y[0 .. n / CALGAE_QK - 1]; */
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float *xb = x + i * CALGAE_QK;
        float min = xb[0], max = xb[0];
        /*@ loop invariant 1 <= j <= CALGAE_QK;
            loop assigns j, min, max; */
        for (int j = 1; j < CALGAE_QK; j++) {
            min = xb[j] < min ? xb[j] : min;
            max = xb[j] > max ? xb[j] : max;
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        y[i].m = calgae_fp32_to_fp16(min);
        /*@ loop invariant 0 <= j <= CALGAE_QK / 2;
            loop assigns j, y[i].qs[0 .. CALGAE_QK / 2 - 1]; */
        for (int j = 0; j < CALGAE_QK / 2; j++)
            y[i].qs[j] = q4_pack(q4_code((xb[j] - min) * id + 0.5f),
                                 q4_code((xb[j + CALGAE_QK / 2] - min) * id + 0.5f));
    }
}

void calgae_dequantize_row_q4_1(const calgae_block_q4_1 *x, float *y, int64_t n)
{
    /*@ loop invariant 0 <= i <= n / CALGAE_QK;
        loop assigns i, y[0 .. n / CALGAE_QK * CALGAE_QK - 1]; */
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d), m = calgae_fp16_to_fp32(x[i].m);
        /*@ loop invariant 0 <= j <= CALGAE_QK / 2;
            loop assigns j, y[i * CALGAE_QK .. i * CALGAE_QK + CALGAE_QK - 1]; */
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            float *yb = y + i * CALGAE_QK;
            yb[j] = (float)(x[i].qs[j] & 0x0f) * d + m;
            yb[j + CALGAE_QK / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}
