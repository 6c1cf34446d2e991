/*
 * plugin.c - the avx2 plugin's function table and entry point (calgae_plugin.h's contract).
 *
 * Compiled without AVX flags: the host calls the entry point and the probe before it knows
 * whether this CPU can run AVX2, so neither may contain an AVX instruction. The kernels live in
 * the other files of this folder, which are compiled with -mavx2 -mfma -mf16c.
 */
#include "kernels.h"

static const calgae_plugin table;

/* A weight this plugin prepared reads its interleaved layout; any other the stored one. */
static int ours(const calgae_weight *w)
{
    return w->prepared && w->owner == &table;
}

static int matvec_q8_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return ours(w) ? avx2_x8_matvec(w, x, y, r0, r1) : avx2_matvec_q8_0(w, x, y, r0, r1);
}

static int matvec_q4_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return ours(w) ? avx2_x8_matvec(w, x, y, r0, r1) : avx2_matvec_q4_0(w, x, y, r0, r1);
}

static int matmul_q8_0(const calgae_weight *w, const void *x, size_t xs, int64_t n, float *y,
                       int64_t ys, int64_t r0, int64_t r1)
{
    return ours(w) ? avx2_x8_matmul(w, x, xs, n, y, ys, r0, r1)
                   : avx2_matmul_q8_0(w, x, xs, n, y, ys, r0, r1);
}

static int matmul_q4_0(const calgae_weight *w, const void *x, size_t xs, int64_t n, float *y,
                       int64_t ys, int64_t r0, int64_t r1)
{
    return ours(w) ? avx2_x8_matmul(w, x, xs, n, y, ys, r0, r1)
                   : avx2_matmul_q4_0(w, x, xs, n, y, ys, r0, r1);
}

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "avx2",
    .version = "1.0.0",
    .description = "x86-64 AVX2/FMA/F16C kernels (int8 block dot products, Q4_0/Q8_0 rows interleaved by 8)",
    .isa = "avx2,fma,f16c",
    .priority = 100,
    .probe = avx2_probe,
    .prepare_weight = avx2_x8_prepare,
    .release_weight = avx2_x8_release,
    .quantize_q8_0 = avx2_quantize_q8_0,
    .matvec_f32 = avx2_matvec_f32,
    .matvec_f16 = avx2_matvec_f16,
    .matvec_q8_0 = matvec_q8_0,
    .matvec_q4_0 = matvec_q4_0,
    .matmul_f32 = avx2_matmul_f32,
    .matmul_f16 = avx2_matmul_f16,
    .matmul_q8_0 = matmul_q8_0,
    .matmul_q4_0 = matmul_q4_0,
    .rmsnorm = avx2_rmsnorm,
    .softmax = avx2_softmax,
    .swiglu = avx2_swiglu,
    .rope = avx2_rope,
    .dot_f32 = avx2_dot_f32,
    .axpy_f32 = avx2_axpy_f32,
    /* ABI 1.1 */
    .matvec_q4_1 = avx2_matvec_q4_1,
    .matmul_q4_1 = avx2_matmul_q4_1,
    /* ABI 1.2 */
    .flags = CALGAE_PLUGIN_CONCURRENT_PREPARE, /* avx2_x8_prepare touches only its weight */
    /* ABI 1.3 */
    .quantize_q8_k = avx2_quantize_q8_k,
    .matvec_q4_k = avx2_matvec_q4_k,
    .matmul_q4_k = avx2_matmul_q4_k,
    .matvec_q6_k = avx2_matvec_q6_k,
    .matmul_q6_k = avx2_matmul_q6_k,
    /* ABI 1.4 */
    .matvec_q5_k = avx2_matvec_q5_k,
    .matmul_q5_k = avx2_matmul_q5_k,
    .matvec_q3_k = avx2_matvec_q3_k,
    .matmul_q3_k = avx2_matmul_q3_k,
    .matvec_q2_k = avx2_matvec_q2_k,
    .matmul_q2_k = avx2_matmul_q2_k,
    .matvec_iq4_xs = avx2_matvec_iq4_xs,
    .matmul_iq4_xs = avx2_matmul_iq4_xs,
    .matvec_q5_0 = avx2_matvec_q5_0,
    .matmul_q5_0 = avx2_matmul_q5_0,
    .matvec_q5_1 = avx2_matvec_q5_1,
    .matmul_q5_1 = avx2_matmul_q5_1,
    .matvec_iq4_nl = avx2_matvec_iq4_nl,
    .matmul_iq4_nl = avx2_matmul_iq4_nl,
    .matvec_bf16 = avx2_matvec_bf16,
    .matmul_bf16 = avx2_matmul_bf16,
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_minor; /* a host of any minor reads what it knows of the table */
    return calgae_plugin_answer(host_abi_major, &table, out, why, why_len);
}
