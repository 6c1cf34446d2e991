/*
 * example.c - an example third-party Calgae kernel plugin, built out of tree against the
 * installed calgae_plugin.h alone (see README.md in this folder for the rules it follows).
 *
 * It provides three slots: F32 matrix x vector and matrix x matrix, with the dot product
 * unrolled four ways into four independent sums (what lets a compiler keep four multiply-adds
 * in flight), and RMSNorm. Every other slot is left NULL, so the host takes it from the next
 * plugin (in the end the portable "scalar" plugin): a plugin only writes what it improves.
 *
 * Four sums add the terms in another order than scalar's left-to-right loop, so results differ
 * from it in the last bits; `calgae backends verify` accepts that within the documented
 * summation bound. What it does not accept is a row whose value depends on the row range it was
 * computed in: every row here goes through the same function whatever the range.
 *
 * Build with -DEXAMPLE_OLD_TABLE to pretend to be a plugin compiled against an older header
 * whose table ended after matvec_q4_0: the host must then ignore matmul_f32 and rmsnorm.
 */
#include <math.h>

#include "calgae_plugin.h"

static float dot4(const float *a, const float *b, int64_t n)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) /* the tail: cols need not be a multiple of 4 */
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Row r of an F32 weight. row_bytes, not cols * 4: rows may be padded. */
static const float *row_f32(const calgae_weight *w, int64_t r)
{
    return (const float *)(const void *)((const char *)w->data + (size_t)r * w->row_bytes);
}

static int matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t row_begin,
                      int64_t row_end)
{
    if (w->type != CALGAE_TYPE_F32)
        return CALGAE_KERNEL_DECLINED; /* never happens through this slot; costs nothing */
    for (int64_t r = row_begin; r < row_end; r++)
        y[r] = dot4(row_f32(w, r), x, w->cols);
    return CALGAE_KERNEL_OK;
}

static int matmul_f32(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                      float *y, int64_t y_stride, int64_t row_begin, int64_t row_end)
{
    if (w->type != CALGAE_TYPE_F32)
        return CALGAE_KERNEL_DECLINED;
    /* rows outside, tokens inside: each weight row is read from memory once per batch */
    for (int64_t r = row_begin; r < row_end; r++) {
        const float *row = row_f32(w, r);
        for (int64_t t = 0; t < n_tok; t++)
            y[t * y_stride + r] =
                dot4(row, (const float *)(const void *)((const char *)x + (size_t)t * x_stride),
                     w->cols);
    }
    return CALGAE_KERNEL_OK;
}

static void rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    const float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) /* out may be x: read x[i] before writing out[i] */
        out[i] = w[i] * (scale * x[i]);
}

static const calgae_plugin table = {
#ifdef EXAMPLE_OLD_TABLE
    .struct_size = offsetof(calgae_plugin, matmul_f32),
#else
    .struct_size = sizeof(calgae_plugin),
#endif
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "example",
    .version = "1.0.0",
    .description = "example out-of-tree plugin: unrolled F32 products and RMSNorm",
    .isa = "", /* portable C: no probe needed */
    .priority = 10, /* above scalar (0), below the SIMD plugins (100 and up) */
    .probe = NULL,
    .matvec_f32 = matvec_f32,
    .matmul_f32 = matmul_f32, /* past struct_size with EXAMPLE_OLD_TABLE: never read */
    .rmsnorm = rmsnorm,
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_minor; /* a host of any minor reads what it knows of the table */
    return calgae_plugin_answer(host_abi_major, &table, out, why, why_len);
}
