/*
 * kblocks.c - dequantization of ggml's Q5, K-quant, IQ4 and BF16 rows and the plain
 * quantizers among them (see kblocks.h). Every product is taken in the order ggml takes it
 * (a group's scale d * sc first, then times the code, then the min subtracted), so a value
 * rounds as llama.cpp rounds it; tests/kquant_dequant_test.py checks that bit for bit against
 * a numpy reading of blocks written by llama-quantize.
 */
#include "kblocks.h"

#include <math.h>
#include <string.h>

const int8_t calgae_iq4nl_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};

/* the fifth bits of a Q5 block, stored as a little-endian 32-bit word */
static uint32_t q5_high_bits(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void q5_store_high_bits(uint8_t qh[4], uint32_t bits)
{
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(bits >> (8 * k));
}

void calgae_dequantize_row_q5_0(const calgae_block_q5_0 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++, y += CALGAE_QK) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        const uint32_t qh = q5_high_bits(x[i].qh);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            const int lo = (x[i].qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4;
            const int hi = (x[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(lo - 16) * d;
            y[j + CALGAE_QK / 2] = (float)(hi - 16) * d;
        }
    }
}

void calgae_dequantize_row_q5_1(const calgae_block_q5_1 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++, y += CALGAE_QK) {
        const float d = calgae_fp16_to_fp32(x[i].d), m = calgae_fp16_to_fp32(x[i].m);
        const uint32_t qh = q5_high_bits(x[i].qh);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            const int lo = (x[i].qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4;
            const int hi = (x[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)lo * d + m;
            y[j + CALGAE_QK / 2] = (float)hi * d + m;
        }
    }
}

void calgae_dequantize_row_q2_k(const calgae_block_q2_k *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d), dmin = calgae_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        /* two halves of 128 values; each reads 32 code bytes four times, 2 bits deeper each
         * time, and a scale byte per 16 values */
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; part++) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0x0f), ml = dmin * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * (float)((q[l + 16 * part] >> shift) & 3) - ml;
                }
            }
        }
    }
}

/* Q3_K's sixteen 6-bit scales: low 4 bits in bytes 0..7 (two per byte), high 2 bits in
 * bytes 8..11 (four per byte); returned minus the bias of 32. */
static void q3_k_scales(const uint8_t s[12], int out[16])
{
    for (int j = 0; j < 16; j++) {
        const int low = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
        const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (low | high << 4) - 32;
    }
}

void calgae_dequantize_row_q3_k(const calgae_block_q3_k *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        int sc[16];
        q3_k_scales(x[i].scales, sc);
        const uint8_t *q = x[i].qs;
        int is = 0;
        unsigned bit = 1; /* the hmask bit of the current pass */
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, bit <<= 1) {
                for (int part = 0; part < 2; part++) {
                    const float dl = d * (float)sc[is++];
                    for (int l = 0; l < 16; l++) {
                        const int k = l + 16 * part;
                        const int code = ((q[k] >> shift) & 3) - (x[i].hmask[k] & bit ? 0 : 4);
                        *y++ = dl * (float)code;
                    }
                }
            }
        }
    }
}

/* Q4_K and Q5_K's eight 6-bit scales and mins in 12 bytes (ggml's get_scale_min_k4). */
static void k4_scale_min(int j, const uint8_t s[12], uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4);
        *m = (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

void calgae_dequantize_row_q4_k(const calgae_block_q4_k *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d), dmin = calgae_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int g = 0; g < 8; g += 2, q += 32) {
            uint8_t sc, m;
            k4_scale_min(g, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            k4_scale_min(g + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void calgae_dequantize_row_q5_k(const calgae_block_q5_k *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d), dmin = calgae_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        unsigned u1 = 1, u2 = 2; /* qh bits of the two groups of this pass */
        for (int g = 0; g < 8; g += 2, q += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            k4_scale_min(g, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            k4_scale_min(g + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((q[l] & 0x0f) + (x[i].qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((q[l] >> 4) + (x[i].qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

void calgae_dequantize_row_q6_k(const calgae_block_q6_k *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        /* each half of 128 values: 64 low-nibble bytes and 32 bytes of 2-bit high parts */
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
                const int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
                const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

void calgae_dequantize_row_q8_k(const calgae_block_q8_k *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++)
        for (int j = 0; j < CALGAE_QK_K; j++)
            *y++ = x[i].d * (float)x[i].qs[j];
}

void calgae_dequantize_row_iq4_nl(const calgae_block_iq4_nl *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++, y += CALGAE_QK) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            y[j] = d * (float)calgae_iq4nl_levels[x[i].qs[j] & 0x0f];
            y[j + CALGAE_QK / 2] = d * (float)calgae_iq4nl_levels[x[i].qs[j] >> 4];
        }
    }
}

void calgae_dequantize_row_iq4_xs(const calgae_block_iq4_xs *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++) {
        const float d = calgae_fp16_to_fp32(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int g = 0; g < CALGAE_QK_K / 32; g++, y += 32, qs += 16) {
            const int ls = ((x[i].scales_l[g / 2] >> (4 * (g % 2))) & 0x0f) |
                           ((x[i].scales_h >> (2 * g)) & 3) << 4;
            const float dl = d * (float)(ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)calgae_iq4nl_levels[qs[j] & 0x0f];
                y[j + 16] = dl * (float)calgae_iq4nl_levels[qs[j] >> 4];
            }
        }
    }
}

void calgae_dequantize_row_bf16(const calgae_bf16 *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const uint32_t bits = (uint32_t)x[i] << 16;
        memcpy(&y[i], &bits, sizeof bits);
    }
}

/* ggml's MIN(31, (int8_t)v) for the v in (-1, 32.5] that finite scales give; 0 for NaN and
 * v <= -1, 31 above, where ggml's conversion would be undefined. */
static int q5_code(float v)
{
    int q = v > -1.0f && v < 32.0f ? (int)v : v >= 32.0f ? 31 : 0;
    return q < 0 ? 0 : q > 31 ? 31 : q;
}

void calgae_quantize_row_q5_0(const float *x, calgae_block_q5_0 *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float *xb = x + i * CALGAE_QK;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < CALGAE_QK; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            const int lo = q5_code(xb[j] * id + 16.5f);
            const int hi = q5_code(xb[j + CALGAE_QK / 2] * id + 16.5f);
            y[i].qs[j] = (uint8_t)((lo & 0x0f) | (hi & 0x0f) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        q5_store_high_bits(y[i].qh, qh);
    }
}

void calgae_quantize_row_q5_1(const float *x, calgae_block_q5_1 *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++) {
        const float *xb = x + i * CALGAE_QK;
        float min = xb[0], max = xb[0];
        for (int j = 1; j < CALGAE_QK; j++) {
            min = xb[j] < min ? xb[j] : min;
            max = xb[j] > max ? xb[j] : max;
        }
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        y[i].m = calgae_fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < CALGAE_QK / 2; j++) {
            /* ggml truncates to uint8_t; (x - min) * id + 0.5 lies in [0.5, 31.5] */
            const int lo = q5_code((xb[j] - min) * id + 0.5f);
            const int hi = q5_code((xb[j + CALGAE_QK / 2] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((lo & 0x0f) | (hi & 0x0f) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        q5_store_high_bits(y[i].qh, qh);
    }
}

/* round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int, by the same trick of
 * adding 1.5 * 2^23 and reading the mantissa) */
static int nearest_int(float v)
{
    const float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

void calgae_quantize_row_q8_k(const float *x, calgae_block_q8_k *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++, x += CALGAE_QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < CALGAE_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (!(amax > 0.0f) || !isfinite(amax))
            continue; /* ggml writes zeros for an all-zero block; we do so for non-finite too */
        const float iscale = -127.0f / max;
        for (int j = 0; j < CALGAE_QK_K; j++) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
        }
        for (int g = 0; g < CALGAE_QK_K / 16; g++) {
            int sum = 0;
            for (int k = 0; k < 16; k++)
                sum += y[i].qs[16 * g + k];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

void calgae_quantize_row_bf16(const float *x, calgae_bf16 *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            y[i] = (calgae_bf16)((u >> 16) | 64); /* NaN stays NaN, made quiet */
        else
            y[i] = (calgae_bf16)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
    }
}
