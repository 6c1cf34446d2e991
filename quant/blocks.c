/*
 * blocks.c - reference quantization into ggml's Q8_0 / Q4_0 blocks (see blocks.h).
 * Q8_0: d = max|x| / 127, q = round(x / d).  Q4_0: d = x_at_max|x| / -8, q = x / d + 8
 * truncated after adding 0.5 and clamped to 15 - both exactly as ggml's _ref functions.
 */
#include "blocks.h"

#include <math.h>
#include <string.h>

void calgae_quantize_row_q8_0(const float *x, calgae_block_q8_0 *y, int64_t n)
{
    calgae_quantize_q8_0_ref(x, y, n);
}

void calgae_quantize_row_q4_0(const float *x, calgae_block_q4_0 *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float *xb = x + i * CALGAE_QK;
        float amax = 0.0f, max = 0.0f; /* max keeps the sign of the largest magnitude */
        for (int j = 0; j < CALGAE_QK; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            int q0 = (int8_t)(xb[j] * id + 8.5f);
            int q1 = (int8_t)(xb[j + CALGAE_QK / 2] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void calgae_dequantize_row_q8_0(const calgae_block_q8_0 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        for (int j = 0; j < CALGAE_QK; j++)
            y[i * CALGAE_QK + j] = (float)x[i].qs[j] * d;
    }
}

void calgae_dequantize_row_q4_0(const calgae_block_q4_0 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            y[i * CALGAE_QK + j] = (float)((x[i].qs[j] & 0x0f) - 8) * d;
            y[i * CALGAE_QK + j + CALGAE_QK / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void calgae_quantize_row_q4_1(const float *x, calgae_block_q4_1 *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float *xb = x + i * CALGAE_QK;
        float min = xb[0], max = xb[0];
        for (int j = 1; j < CALGAE_QK; j++) {
            min = xb[j] < min ? xb[j] : min;
            max = xb[j] > max ? xb[j] : max;
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        y[i].m = calgae_fp32_to_fp16(min);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            int q0 = (int8_t)((xb[j] - min) * id + 0.5f);
            int q1 = (int8_t)((xb[j + CALGAE_QK / 2] - min) * id + 0.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void calgae_dequantize_row_q4_1(const calgae_block_q4_1 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d), m = calgae_fp16_to_fp32(x[i].m);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            y[i * CALGAE_QK + j] = (float)(x[i].qs[j] & 0x0f) * d + m;
            y[i * CALGAE_QK + j + CALGAE_QK / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

int calgae_dequantize_row(uint32_t type, const void *x, float *y, int64_t n)
{
    switch (type) {
    case CALGAE_TYPE_F32:
        memcpy(y, x, (size_t)n * sizeof(float));
        return 0;
    case CALGAE_TYPE_F16: {
        const calgae_fp16 *h = x;
        for (int64_t i = 0; i < n; i++)
            y[i] = calgae_fp16_to_fp32(h[i]);
        return 0;
    }
    case CALGAE_TYPE_Q8_0:
        calgae_dequantize_row_q8_0(x, y, n);
        return 0;
    case CALGAE_TYPE_Q4_0:
        calgae_dequantize_row_q4_0(x, y, n);
        return 0;
    case CALGAE_TYPE_Q4_1:
        calgae_dequantize_row_q4_1(x, y, n);
        return 0;
    default:
        return -1;
    }
}

int calgae_quantize_row(uint32_t type, const float *x, void *y, int64_t n)
{
    switch (type) {
    case CALGAE_TYPE_F32:
        memcpy(y, x, (size_t)n * sizeof(float));
        return 0;
    case CALGAE_TYPE_F16: {
        calgae_fp16 *h = y;
        for (int64_t i = 0; i < n; i++)
            h[i] = calgae_fp32_to_fp16(x[i]);
        return 0;
    }
    case CALGAE_TYPE_Q8_0:
        calgae_quantize_row_q8_0(x, y, n);
        return 0;
    case CALGAE_TYPE_Q4_0:
        calgae_quantize_row_q4_0(x, y, n);
        return 0;
    case CALGAE_TYPE_Q4_1:
        calgae_quantize_row_q4_1(x, y, n);
        return 0;
    default:
        return -1;
    }
}
