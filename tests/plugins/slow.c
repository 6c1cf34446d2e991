/*
 * slow.c - a correct plugin that is deliberately slow, at a priority above every real one: its
 * F32 products compute what scalar computes, then wait about a microsecond per row. Priority
 * alone would put it first; calibration (core/host/calibrate.c) must measure it and put a
 * faster plugin first instead (tests/calibrate_test.sh).
 */
#include "test_plugin.h"

static float dot(const float *a, const float *b, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* A busy wait the compiler cannot drop: the slowness is the point. */
static _Thread_local volatile unsigned stall_sink; /* per thread: no race */
static void stall(void)
{
    for (unsigned i = 0; i < 3000; i++)
        stall_sink = stall_sink + i;
}

static int slow_matvec(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        y[r] = dot((const float *)((const char *)w->data + r * w->row_bytes), x, w->cols);
        stall();
    }
    return CALGAE_KERNEL_OK;
}

static int slow_matmul(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                       int64_t ys, int64_t r0, int64_t r1)
{
    for (int64_t t = 0; t < n_tok; t++)
        slow_matvec(w, (const char *)x + (size_t)t * xs, y + t * ys, r0, r1);
    return CALGAE_KERNEL_OK;
}

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "test-slow",
    .version = "1.0.0",
    .description = "correct F32 products, slowed on purpose (calibration test)",
    .isa = "",
    .priority = TP_BROKEN_PRIORITY,
    .matvec_f32 = slow_matvec,
    .matmul_f32 = slow_matmul,
};

TP_DEFINE_ENTRY(table)
