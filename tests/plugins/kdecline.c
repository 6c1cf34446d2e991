/*
 * kdecline.c - a good plugin whose products decline every call (CALGAE_KERNEL_DECLINED), as a
 * SIMD plugin does for a shape it does not handle. The host must then run the next plugin in
 * the slot's chain and still produce the right numbers.
 */
#include <stdatomic.h>

#include "test_plugin.h"

static atomic_long calls; /* products may run on several threads at once */

static int matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t row_begin,
                      int64_t row_end)
{
    (void)w, (void)x, (void)y, (void)row_begin, (void)row_end;
    atomic_fetch_add(&calls, 1);
    return CALGAE_KERNEL_DECLINED;
}

static int matmul_f32(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                      float *y, int64_t y_stride, int64_t row_begin, int64_t row_end)
{
    (void)w, (void)x, (void)x_stride, (void)n_tok, (void)y, (void)y_stride;
    (void)row_begin, (void)row_end;
    atomic_fetch_add(&calls, 1);
    return CALGAE_KERNEL_DECLINED;
}

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "kdecline",
    .version = "1.0.0",
    .description = "test plugin whose products always decline",
    .isa = "",
    .priority = 60,
    .matvec_f32 = matvec_f32,
    .matmul_f32 = matmul_f32,
};

TP_DEFINE_ENTRY(table)

/* Lets the test see that the declining kernel really was asked first (read through dlsym). */
CALGAE_PLUGIN_EXPORT long calgae_test_kdecline_calls(void)
{
    return atomic_load(&calls);
}
