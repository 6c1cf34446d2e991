/*
 * scalar.c - the portable reference plugin: every slot of calgae_plugin.h in plain C.
 *
 * It is the yardstick the SIMD plugins are checked against, so it favours the obvious loop
 * over speed: dot products accumulate left to right in float (as llama2.c's matmul does), and
 * the block-type products follow ggml's reference vec_dot: integer sums inside a 32-block,
 * scaled by both blocks' fp16 scales; the K-quant products (Q4_K, Q6_K against Q8_K, ABI 1.3)
 * sum a whole 256-value super-block in integers, as ggml's vec_dot_q4_K_q8_K and
 * vec_dot_q6_K_q8_K do, from the layouts written out in quant/kblocks.c; the ABI 1.4 types are
 * in scalar_k2.c. Built against plugin-api/ alone.
 *
 * The integer sum of one block pair is a function of its own (block_dot_*), which proofs/
 * shows cannot overflow its int32 accumulator for any block bytes (proofs/README.md); the
 * comments that start with @ are its loop annotations.
 */
#include <math.h>

#include "calgae_plugin.h"
#include "scalar_k2.h"

static float dot_f32(const float *a, const float *b, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float row_f32(const calgae_weight *w, int64_t r, const void *x)
{
    const float *row = (const float *)((const char *)w->data + (size_t)r * w->row_bytes);
    return dot_f32(row, x, w->cols);
}

static float row_f16(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_fp16 *row = (const calgae_fp16 *)((const char *)w->data + (size_t)r * w->row_bytes);
    const float *xf = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < w->cols; i++)
        sum += calgae_fp16_to_fp32(row[i]) * xf[i];
    return sum;
}

/* The integer dot product of two Q8_0 blocks: 32 products of bytes, |sum| <= 32 * 128 * 128. */
static int32_t block_dot_q8_0(const calgae_block_q8_0 *w, const calgae_block_q8_0 *x)
{
    int32_t isum = 0;
    /*@ loop invariant 0 <= j <= CALGAE_QK;
        loop invariant -j * 16384 <= isum <= j * 16384;
        loop assigns j, isum; */
    for (int j = 0; j < CALGAE_QK; j++)
        isum += (int32_t)w->qs[j] * (int32_t)x->qs[j];
    return isum;
}

/* The same for a Q4_0 block (codes 0..15 less 8) against a Q8_0 block: |sum| <= 32 * 8 * 128. */
static int32_t block_dot_q4_0(const calgae_block_q4_0 *w, const calgae_block_q8_0 *x)
{
    int32_t isum = 0;
    /*@ loop invariant 0 <= j <= CALGAE_QK / 2;
        loop invariant -j * 2048 <= isum <= j * 2048;
        loop assigns j, isum; */
    for (int j = 0; j < CALGAE_QK / 2; j++) {
        /* % and / by 16 are the nibbles (the same code as & 0x0f and >> 4 on an unsigned
         * byte), in the form the provers read */
        isum += (w->qs[j] % 16 - 8) * (int32_t)x->qs[j];
        isum += (w->qs[j] / 16 - 8) * (int32_t)x->qs[j + CALGAE_QK / 2];
    }
    return isum;
}

/* Q4_1 (codes 0..15) against Q8_0: the code products, and the activations' sum for the
 * minimum's term. |isum| <= 32 * 15 * 128, |xsum| <= 32 * 128. */
static int32_t block_dot_q4_1(const calgae_block_q4_1 *w, const calgae_block_q8_0 *x,
                              int32_t *xsum_out)
{
    int32_t isum = 0, xsum = 0;
    /*@ loop invariant 0 <= j <= CALGAE_QK / 2;
        loop invariant -j * 3840 <= isum <= j * 3840;
        loop invariant -j * 256 <= xsum <= j * 256;
        loop assigns j, isum, xsum; */
    for (int j = 0; j < CALGAE_QK / 2; j++) {
        isum += w->qs[j] % 16 * (int32_t)x->qs[j]; /* nibbles as in block_dot_q4_0 */
        isum += w->qs[j] / 16 * (int32_t)x->qs[j + CALGAE_QK / 2];
        xsum += x->qs[j] + x->qs[j + CALGAE_QK / 2];
    }
    *xsum_out = xsum;
    return isum;
}

static float row_q8_0(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_q8_0 *wb = (const calgae_block_q8_0 *)((const char *)w->data + (size_t)r * w->row_bytes);
    const calgae_block_q8_0 *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK; b++) {
        const int32_t isum = block_dot_q8_0(&wb[b], &xb[b]);
        sum += (float)isum * (calgae_fp16_to_fp32(wb[b].d) * calgae_fp16_to_fp32(xb[b].d));
    }
    return sum;
}

static float row_q4_0(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_q4_0 *wb = (const calgae_block_q4_0 *)((const char *)w->data + (size_t)r * w->row_bytes);
    const calgae_block_q8_0 *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK; b++) {
        const int32_t isum = block_dot_q4_0(&wb[b], &xb[b]);
        sum += (float)isum * (calgae_fp16_to_fp32(wb[b].d) * calgae_fp16_to_fp32(xb[b].d));
    }
    return sum;
}

static float row_q4_1(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_q4_1 *wb = (const calgae_block_q4_1 *)((const char *)w->data + (size_t)r * w->row_bytes);
    const calgae_block_q8_0 *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK; b++) {
        int32_t xsum;
        const int32_t isum = block_dot_q4_1(&wb[b], &xb[b], &xsum);
        const float dx = calgae_fp16_to_fp32(xb[b].d);
        sum += (float)isum * (calgae_fp16_to_fp32(wb[b].d) * dx) +
               calgae_fp16_to_fp32(wb[b].m) * (dx * (float)xsum);
    }
    return sum;
}

/* Q4_K against Q8_K (ggml's vec_dot_q4_K_q8_K): per super-block, the code products of each
 * group of 32 in integers times the group's 6-bit scale, and the minimums against the
 * activation's group sums. |isum| <= 8 * 63 * 32 * 15 * 127, |msum| <= 8 * 63 * 2 * 16 * 127. */
static float row_q4_k(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_q4_k *wb = (const calgae_block_q4_k *)((const char *)w->data + (size_t)r * w->row_bytes);
    const calgae_block_q8_k *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK_K; b++) {
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 8; g++) {
            uint8_t sc, m;
            calgae_q4_k_scale_min(g, wb[b].scales, &sc, &m);
            /* groups 2k and 2k + 1 are the low and high nibbles of the same 32 bytes */
            const uint8_t *q = wb[b].qs + 32 * (g / 2);
            const int8_t *a = xb[b].qs + 32 * g;
            int32_t gsum = 0;
            for (int l = 0; l < 32; l++)
                gsum += (g % 2 ? q[l] >> 4 : q[l] & 15) * (int32_t)a[l];
            isum += sc * gsum;
            msum += m * (xb[b].bsums[2 * g] + xb[b].bsums[2 * g + 1]);
        }
        const float dx = xb[b].d;
        sum += (dx * calgae_fp16_to_fp32(wb[b].d)) * (float)isum -
               (dx * calgae_fp16_to_fp32(wb[b].dmin)) * (float)msum;
    }
    return sum;
}

/* Q6_K against Q8_K (ggml's vec_dot_q6_K_q8_K): codes of 6 bits (low 4 in ql, high 2 in qh) less
 * 32, per group of 16 times its int8 scale. |isum| <= 16 * 128 * 16 * 32 * 127 < 2^31. */
static float row_q6_k(const calgae_weight *w, int64_t r, const void *x)
{
    const calgae_block_q6_k *wb = (const calgae_block_q6_k *)((const char *)w->data + (size_t)r * w->row_bytes);
    const calgae_block_q8_k *xb = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK_K; b++) {
        int32_t isum = 0;
        for (int i = 0; i < CALGAE_QK_K; i++) {
            /* value i: half h = i / 128, quarter k = (i % 128) / 32, lane l = i % 32 */
            const int h = i / 128, k = (i % 128) / 32, l = i % 32;
            const uint8_t lo = wb[b].ql[64 * h + 32 * (k % 2) + l];
            const int low = k < 2 ? lo & 15 : lo >> 4;
            const int high = (wb[b].qh[32 * h + l] >> (2 * k)) & 3;
            const int q = (low | high << 4) - 32;
            isum += wb[b].scales[i / 16] * q * (int32_t)xb[b].qs[i];
        }
        sum += (xb[b].d * calgae_fp16_to_fp32(wb[b].d)) * (float)isum;
    }
    return sum;
}

typedef float (*row_fn)(const calgae_weight *w, int64_t r, const void *x);

static int matmul_rows(row_fn f, const calgae_weight *w, const void *x, size_t x_stride,
                       int64_t n_tok, float *y, int64_t y_stride, int64_t r0, int64_t r1)
{
    /* rows outside, tokens inside: a weight row is read from memory once per batch */
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < n_tok; t++)
            y[t * y_stride + r] = f(w, r, (const char *)x + (size_t)t * x_stride);
    return CALGAE_KERNEL_OK;
}

#define DEFINE_PRODUCTS(T)                                                                 \
    static int matvec_##T(const calgae_weight *w, const void *x, float *y, int64_t r0,     \
                          int64_t r1)                                                      \
    {                                                                                      \
        for (int64_t r = r0; r < r1; r++)                                                  \
            y[r] = row_##T(w, r, x);                                                       \
        return CALGAE_KERNEL_OK;                                                           \
    }                                                                                      \
    static int matmul_##T(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, \
                          float *y, int64_t ys, int64_t r0, int64_t r1)                    \
    {                                                                                      \
        return matmul_rows(row_##T, w, x, xs, n_tok, y, ys, r0, r1);                       \
    }

DEFINE_PRODUCTS(f32)
DEFINE_PRODUCTS(f16)
DEFINE_PRODUCTS(q8_0)
DEFINE_PRODUCTS(q4_0)
DEFINE_PRODUCTS(q4_1)
DEFINE_PRODUCTS(q4_k)
DEFINE_PRODUCTS(q6_k)

static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    calgae_quantize_q8_0_ref(x, out, n);
}

static void quantize_q8_k(const float *x, void *out, int64_t n)
{
    calgae_quantize_q8_k_ref(x, out, n);
}

static void rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int64_t i = 0; i < n; i++)
        out[i] = w[i] * (ss * x[i]);
}

static void softmax(float *x, int64_t n)
{
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int64_t i = 0; i < n; i++)
        x[i] /= sum;
}

static void swiglu(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = gate[i];
        gate[i] = v * (1.0f / (1.0f + expf(-v))) * up[i];
    }
}

static void rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs)
{
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_size;
        for (int64_t i = 0; i < n_rot / 2; i++) {
            const float c = cs[2 * i], s = cs[2 * i + 1];
            const float v0 = v[2 * i], v1 = v[2 * i + 1];
            v[2 * i] = v0 * c - v1 * s;
            v[2 * i + 1] = v0 * s + v1 * c;
        }
    }
}

static void axpy_f32(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "scalar",
    .version = "1.0.0",
    .description = "portable C reference kernels",
    .isa = "",
    .priority = 0,
    .probe = NULL,
    .quantize_q8_0 = quantize_q8_0,
    .matvec_f32 = matvec_f32,
    .matvec_f16 = matvec_f16,
    .matvec_q8_0 = matvec_q8_0,
    .matvec_q4_0 = matvec_q4_0,
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
    .matmul_q8_0 = matmul_q8_0,
    .matmul_q4_0 = matmul_q4_0,
    .rmsnorm = rmsnorm,
    .softmax = softmax,
    .swiglu = swiglu,
    .rope = rope,
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .matvec_q4_1 = matvec_q4_1,
    .matmul_q4_1 = matmul_q4_1,
    .quantize_q8_k = quantize_q8_k,
    .matvec_q4_k = matvec_q4_k,
    .matmul_q4_k = matmul_q4_k,
    .matvec_q6_k = matvec_q6_k,
    .matmul_q6_k = matmul_q6_k,
    .matvec_q5_k = scalar_matvec_q5_k,
    .matmul_q5_k = scalar_matmul_q5_k,
    .matvec_q3_k = scalar_matvec_q3_k,
    .matmul_q3_k = scalar_matmul_q3_k,
    .matvec_q2_k = scalar_matvec_q2_k,
    .matmul_q2_k = scalar_matmul_q2_k,
    .matvec_iq4_xs = scalar_matvec_iq4_xs,
    .matmul_iq4_xs = scalar_matmul_iq4_xs,
    .matvec_q5_0 = scalar_matvec_q5_0,
    .matmul_q5_0 = scalar_matmul_q5_0,
    .matvec_q5_1 = scalar_matvec_q5_1,
    .matmul_q5_1 = scalar_matmul_q5_1,
    .matvec_iq4_nl = scalar_matvec_iq4_nl,
    .matmul_iq4_nl = scalar_matmul_iq4_nl,
    .matvec_bf16 = scalar_matvec_bf16,
    .matmul_bf16 = scalar_matmul_bf16,
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_minor; /* a host of any minor reads what it knows of the table */
    return calgae_plugin_answer(host_abi_major, &table, out, why, why_len);
}
