/*
 * scalar_k2.c - the scalar plugin's ABI 1.4 products, from ggml's block layouts as
 * quant/kblocks.c writes them out: each super-block (or 32-block) is first unpacked into its
 * integer codes and per-group integer scales and minimums, then summed in integers the way
 * ggml's reference vec_dot_<type>_q8_K / _q8_0 do, and scaled by the blocks' float scales once
 * per block. Integer bounds: a Q8_K or Q8_0 code is in [-127, 127]; the largest |scale * code|
 * is IQ4_XS's 32 * 127, so |isum| <= 256 * 32 * 127 * 127 < 2^31.
 */
#include "scalar_k2.h"

#include <string.h>

/* ggml's kvalues_iq4nl: the 16 levels of IQ4_NL and IQ4_XS. */
static const int8_t iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

/* A super-block unpacked: codes q[i], and for each group of 16 values an integer scale and an
 * integer minimum (0 for the types without one); the value is d * sc * q - dmin * m. */
typedef struct {
    int8_t q[CALGAE_QK_K];
    int32_t sc[16];
    int32_t m[16];
    float d, dmin;
} kblock;

static const void *row_of(const calgae_weight *w, int64_t r)
{
    return (const char *)w->data + (size_t)r * w->row_bytes;
}

static void unpack_q5_k(const calgae_block_q5_k *b, kblock *k)
{
    k->d = calgae_fp16_to_fp32(b->d);
    k->dmin = calgae_fp16_to_fp32(b->dmin);
    for (int g = 0; g < 8; g++) {
        uint8_t sc, m;
        calgae_q4_k_scale_min(g, b->scales, &sc, &m);
        k->sc[2 * g] = k->sc[2 * g + 1] = sc;
        k->m[2 * g] = k->m[2 * g + 1] = m;
        /* groups 2p and 2p + 1 are the low and high nibbles of bytes 32p .. 32p + 31; the fifth
         * bit of group g is bit g of qh[l] */
        const uint8_t *qs = b->qs + 32 * (g / 2);
        for (int l = 0; l < 32; l++) {
            const int lo = g % 2 ? qs[l] >> 4 : qs[l] & 15;
            k->q[32 * g + l] = (int8_t)(lo | ((b->qh[l] >> g) & 1) << 4);
        }
    }
}

static void unpack_q3_k(const calgae_block_q3_k *b, kblock *k)
{
    k->d = calgae_fp16_to_fp32(b->d);
    k->dmin = 0.0f;
    for (int g = 0; g < 16; g++) {
        const int low = g < 8 ? b->scales[g] & 15 : b->scales[g - 8] >> 4;
        const int high = (b->scales[8 + g % 4] >> (2 * (g / 4))) & 3;
        k->sc[g] = (low | high << 4) - 32;
        k->m[g] = 0;
    }
    /* value i: half h = i / 128 (32 code bytes each), pass s = (i % 128) / 32 (2 bits deeper
     * each pass; hmask bit 4h + s), byte l = i % 32 */
    for (int i = 0; i < CALGAE_QK_K; i++) {
        const int h = i / 128, s = (i % 128) / 32, l = i % 32;
        const int code = (b->qs[32 * h + l] >> (2 * s)) & 3;
        k->q[i] = (int8_t)(code - ((b->hmask[l] >> (4 * h + s)) & 1 ? 0 : 4));
    }
}

static void unpack_q2_k(const calgae_block_q2_k *b, kblock *k)
{
    k->d = calgae_fp16_to_fp32(b->d);
    k->dmin = calgae_fp16_to_fp32(b->dmin);
    for (int g = 0; g < 16; g++) {
        k->sc[g] = b->scales[g] & 15;
        k->m[g] = b->scales[g] >> 4;
    }
    for (int i = 0; i < CALGAE_QK_K; i++) {
        const int h = i / 128, s = (i % 128) / 32, l = i % 32;
        k->q[i] = (int8_t)((b->qs[32 * h + l] >> (2 * s)) & 3);
    }
}

static void unpack_iq4_xs(const calgae_block_iq4_xs *b, kblock *k)
{
    k->d = calgae_fp16_to_fp32(b->d);
    k->dmin = 0.0f;
    for (int g = 0; g < 8; g++) {
        const int ls = ((b->scales_l[g / 2] >> (4 * (g % 2))) & 15) | ((b->scales_h >> (2 * g)) & 3) << 4;
        k->sc[2 * g] = k->sc[2 * g + 1] = ls - 32;
        k->m[2 * g] = k->m[2 * g + 1] = 0;
        const uint8_t *qs = b->qs + 16 * g;
        for (int j = 0; j < 16; j++) {
            k->q[32 * g + j] = iq4_levels[qs[j] & 15];
            k->q[32 * g + j + 16] = iq4_levels[qs[j] >> 4];
        }
    }
}

/* One super-block against its activation block: d_x * d_w * sum_g sc_g * sum_j q_j x_j -
 * d_x * dmin_w * sum_g m_g * bsums[g]. */
static float kblock_dot(const kblock *k, const calgae_block_q8_k *x)
{
    int32_t isum = 0, msum = 0;
    for (int g = 0; g < 16; g++) {
        int32_t gsum = 0;
        for (int j = 16 * g; j < 16 * g + 16; j++)
            gsum += k->q[j] * (int32_t)x->qs[j];
        isum += k->sc[g] * gsum;
        msum += k->m[g] * x->bsums[g];
    }
    return (x->d * k->d) * (float)isum - (x->d * k->dmin) * (float)msum;
}

#define K_ROW(t)                                                                              \
    static float row_##t(const calgae_weight *w, int64_t r, const void *x)                    \
    {                                                                                         \
        const calgae_block_##t *wb = row_of(w, r);                                            \
        const calgae_block_q8_k *xb = x;                                                      \
        float sum = 0.0f;                                                                     \
        kblock k;                                                                             \
        for (int64_t b = 0; b < w->cols / CALGAE_QK_K; b++) {                                 \
            unpack_##t(&wb[b], &k);                                                           \
            sum += kblock_dot(&k, &xb[b]);                                                    \
        }                                                                                     \
        return sum;                                                                           \
    }
K_ROW(q5_k)
K_ROW(q3_k)
K_ROW(q2_k)
K_ROW(iq4_xs)

/* Q5_0 and Q5_1's codes: low nibbles give values j < 16, high nibbles j + 16; bit j of the
 * little-endian qh word is the fifth bit of value j. */
static void q5_codes(const uint8_t qh[4], const uint8_t qs[16], int q[CALGAE_QK])
{
    const uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                       (uint32_t)qh[3] << 24;
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 15) | (int)((h >> j) & 1) << 4;
        q[j + 16] = (qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
    }
}

static float row_q5_0(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_q5_0 *wb = row_of(w, r);
    const calgae_block_q8_0 *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK; b++) {
        int q[CALGAE_QK];
        q5_codes(wb[b].qh, wb[b].qs, q);
        int32_t isum = 0;
        for (int j = 0; j < CALGAE_QK; j++)
            isum += (q[j] - 16) * (int32_t)xb[b].qs[j];
        sum += (calgae_fp16_to_fp32(wb[b].d) * calgae_fp16_to_fp32(xb[b].d)) * (float)isum;
    }
    return sum;
}

static float row_q5_1(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_q5_1 *wb = row_of(w, r);
    const calgae_block_q8_0 *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK; b++) {
        int q[CALGAE_QK];
        q5_codes(wb[b].qh, wb[b].qs, q);
        int32_t isum = 0, xsum = 0;
        for (int j = 0; j < CALGAE_QK; j++) {
            isum += q[j] * (int32_t)xb[b].qs[j];
            xsum += xb[b].qs[j];
        }
        const float dx = calgae_fp16_to_fp32(xb[b].d);
        sum += (calgae_fp16_to_fp32(wb[b].d) * dx) * (float)isum +
               (calgae_fp16_to_fp32(wb[b].m) * dx) * (float)xsum;
    }
    return sum;
}

static float row_iq4_nl(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_iq4_nl *wb = row_of(w, r);
    const calgae_block_q8_0 *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK; b++) {
        int32_t isum = 0;
        for (int j = 0; j < CALGAE_QK / 2; j++)
            isum += iq4_levels[wb[b].qs[j] & 15] * (int32_t)xb[b].qs[j] +
                    iq4_levels[wb[b].qs[j] >> 4] * (int32_t)xb[b].qs[j + 16];
        sum += (calgae_fp16_to_fp32(wb[b].d) * calgae_fp16_to_fp32(xb[b].d)) * (float)isum;
    }
    return sum;
}

/* BF16: each weight is the top half of a binary32 (exact), summed left to right in float. */
static float row_bf16(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_bf16 *row = row_of(w, r);
    const float *xf = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < w->cols; i++) {
        const uint32_t bits = (uint32_t)row[i] << 16;
        float v;
        memcpy(&v, &bits, sizeof v);
        sum += v * xf[i];
    }
    return sum;
}

#define K2_PRODUCTS(t)                                                                        \
    int scalar_matvec_##t(const calgae_weight *w, const void *x, float *y, int64_t r0,        \
                          int64_t r1)                                                         \
    {                                                                                         \
        for (int64_t r = r0; r < r1; r++)                                                     \
            y[r] = row_##t(w, r, x);                                                          \
        return CALGAE_KERNEL_OK;                                                              \
    }                                                                                         \
    int scalar_matmul_##t(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,    \
                          float *y, int64_t ys, int64_t r0, int64_t r1)                       \
    {                                                                                         \
        for (int64_t r = r0; r < r1; r++)                                                     \
            for (int64_t t = 0; t < n_tok; t++)                                               \
                y[t * ys + r] = row_##t(w, r, (const char *)x + (size_t)t * xs);              \
        return CALGAE_KERNEL_OK;                                                              \
    }
K2_PRODUCTS(q5_k)
K2_PRODUCTS(q3_k)
K2_PRODUCTS(q2_k)
K2_PRODUCTS(iq4_xs)
K2_PRODUCTS(q5_0)
K2_PRODUCTS(q5_1)
K2_PRODUCTS(iq4_nl)
K2_PRODUCTS(bf16)
