/*
 * wrong_kernels.c - plugins that load fine but compute subtly wrong answers, for the
 * conformance tests (tests/conformance_cli_test.sh): `calgae backends verify` must fail the
 * broken slot, and only that one. One source, one bug per build, chosen by a -D flag:
 *
 *   WRONG_Q4TAIL   Q4_0 products skip the last block of each row
 *   WRONG_ROPE     rope rotates the wrong way (the sign of the sine flipped)
 *   WRONG_RANGE    matvec_f32 also writes the row just past row_end
 *   WRONG_SPLIT    matvec_f32 sums the first row of a range backwards: right to within
 *                  rounding, but the answer depends on how the host split the rows
 *   WRONG_DECLINE  every product declines: not wrong, but useless (reported, not failed)
 *   WRONG_NANSKIP  matvec_f32 writes nothing when x holds a NaN (every row's answer is NaN, so
 *                  the unwritten rows hold the suite's NaN sentinel)
 *   WRONG_EMPTY    provides no slot at all: verifying it checks nothing, which must fail
 *   WRONG_WIDE     Q8_0 products add 1 to the integer sum of the last block of rows of 64 blocks
 *                  or more: within the sum-of-|terms| bound at 2048 columns, caught only by the
 *                  exact block check
 *
 * Each provides only the slots it breaks (the rest fall back to scalar, as in a real plugin).
 * Built against plugin-api/ alone, like any plugin.
 */
#include "calgae_plugin.h"

#if defined(WRONG_NANSKIP)
static int matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    const float *xf = x;
    for (int64_t i = 0; i < w->cols; i++)
        if (xf[i] != xf[i])
            return CALGAE_KERNEL_OK; /* the bug: "the answer is NaN anyway" */
    for (int64_t r = r0; r < r1; r++) {
        const float *row = (const float *)(const void *)((const char *)w->data + (size_t)r * w->row_bytes);
        float sum = 0.0f;
        for (int64_t i = 0; i < w->cols; i++)
            sum += row[i] * xf[i];
        y[r] = sum;
    }
    return CALGAE_KERNEL_OK;
}
#endif

#ifdef WRONG_WIDE
static float q8_row(const calgae_weight *w, int64_t r, const calgae_block_q8_0 *xb)
{
    const calgae_block_q8_0 *wb =
        (const calgae_block_q8_0 *)(const void *)((const char *)w->data + (size_t)r * w->row_bytes);
    const int64_t nb = w->cols / CALGAE_QK;
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = nb >= 64 && b == nb - 1; /* the bug */
        for (int j = 0; j < CALGAE_QK; j++)
            isum += wb[b].qs[j] * xb[b].qs[j];
        sum += (float)isum * (calgae_fp16_to_fp32(wb[b].d) * calgae_fp16_to_fp32(xb[b].d));
    }
    return sum;
}

static int matvec_q8_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++)
        y[r] = q8_row(w, r, x);
    return CALGAE_KERNEL_OK;
}

static int matmul_q8_0(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                       int64_t ys, int64_t r0, int64_t r1)
{
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ys + r] = q8_row(w, r, (const void *)((const char *)x + (size_t)t * xs));
    return CALGAE_KERNEL_OK;
}
#endif

#if defined(WRONG_RANGE) || defined(WRONG_SPLIT)
static float dot(const float *a, const float *b, int64_t n, int backwards)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = backwards ? n - 1 - i : i;
        sum += a[k] * b[k];
    }
    return sum;
}

static const float *f32_row(const calgae_weight *w, int64_t r)
{
    return (const float *)(const void *)((const char *)w->data + (size_t)r * w->row_bytes);
}

static int matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
#ifdef WRONG_RANGE
    if (r1 < w->rows)
        r1++;
#endif
    for (int64_t r = r0; r < r1; r++) {
#ifdef WRONG_SPLIT
        int backwards = r == r0;
#else
        int backwards = 0;
#endif
        y[r] = dot(f32_row(w, r), x, w->cols, backwards);
    }
    return CALGAE_KERNEL_OK;
}
#endif

#ifdef WRONG_DECLINE
static int matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    (void)w, (void)x, (void)y, (void)r0, (void)r1;
    return CALGAE_KERNEL_DECLINED;
}

static int matmul_f32(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                      int64_t ys, int64_t r0, int64_t r1)
{
    (void)w, (void)x, (void)xs, (void)n_tok, (void)y, (void)ys, (void)r0, (void)r1;
    return CALGAE_KERNEL_DECLINED;
}
#endif

#ifdef WRONG_Q4TAIL
static float q4_row(const calgae_weight *w, int64_t r, const calgae_block_q8_0 *xb)
{
    const calgae_block_q4_0 *wb =
        (const calgae_block_q4_0 *)(const void *)((const char *)w->data + (size_t)r * w->row_bytes);
    const int64_t nb = w->cols / CALGAE_QK - 1; /* the bug */
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int j = 0; j < CALGAE_QK / 2; j++)
            isum += ((wb[b].qs[j] & 15) - 8) * xb[b].qs[j] + ((wb[b].qs[j] >> 4) - 8) * xb[b].qs[j + 16];
        sum += (float)isum * (calgae_fp16_to_fp32(wb[b].d) * calgae_fp16_to_fp32(xb[b].d));
    }
    return sum;
}

static int matvec_q4_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++)
        y[r] = q4_row(w, r, x);
    return CALGAE_KERNEL_OK;
}

static int matmul_q4_0(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                       int64_t ys, int64_t r0, int64_t r1)
{
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = r0; r < r1; r++)
            y[t * ys + r] = q4_row(w, r, (const void *)((const char *)x + (size_t)t * xs));
    return CALGAE_KERNEL_OK;
}
#endif

#ifdef WRONG_ROPE
static void rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs)
{
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t i = 0; i < n_rot / 2; i++) {
            float *v = x + h * head_size + 2 * i, c = cs[2 * i], s = -cs[2 * i + 1]; /* the bug */
            const float v0 = v[0], v1 = v[1];
            v[0] = v0 * c - v1 * s;
            v[1] = v0 * s + v1 * c;
        }
}
#endif

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "wrong",
    .version = "0.0.1",
    .description = "deliberately wrong kernels for the conformance tests",
    .isa = "",
    .priority = 1,
#if defined(WRONG_Q4TAIL)
    .matvec_q4_0 = matvec_q4_0,
    .matmul_q4_0 = matmul_q4_0,
#elif defined(WRONG_ROPE)
    .rope = rope,
#elif defined(WRONG_DECLINE)
    .matvec_f32 = matvec_f32,
    .matmul_f32 = matmul_f32,
#elif defined(WRONG_WIDE)
    .matvec_q8_0 = matvec_q8_0,
    .matmul_q8_0 = matmul_q8_0,
#elif defined(WRONG_EMPTY)
    /* no slot at all */
#else
    .matvec_f32 = matvec_f32,
#endif
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_minor;
    if (host_abi_major != CALGAE_ABI_MAJOR) {
        if (why && why_len > 0) {
            const char msg[] = "speaks ABI major 1 only";
            size_t n = sizeof msg < why_len ? sizeof msg : why_len;
            memcpy(why, msg, n);
            why[n - 1] = '\0';
        }
        return 1;
    }
    *out = &table;
    return 0;
}
