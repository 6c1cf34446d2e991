/*
 * neon.c - the AArch64 NEON kernel plugin: its table, its entry point, and the wrappers that
 * pick a block-product variant per call.
 *
 * The table is const, so the variant cannot be chosen by swapping slots; the block-product
 * slots are wrappers that test the flag the probe set (one predictable branch per product,
 * nothing per row). Until the probe runs the flag is 0, so even a caller that skips the probe
 * only ever runs base ARMv8-A instructions. The entry point touches no optional instruction:
 * this file is compiled with plain -march=armv8-a and only hands out the table.
 */
#include "neon_internal.h"

/* One wrapper per block-product slot: the variant the probe chose, per call. */
#define NEON_QDISPATCH(type)                                                                   \
    static int matvec_##type(const calgae_weight *w, const void *x, float *y, int64_t r0,      \
                             int64_t r1)                                                       \
    {                                                                                          \
        return calgae_neon_dotprod ? calgae_neon_matvec_##type##_dotprod(w, x, y, r0, r1)      \
                                   : calgae_neon_matvec_##type##_base(w, x, y, r0, r1);        \
    }                                                                                          \
    static int matmul_##type(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,  \
                             float *y, int64_t ys, int64_t r0, int64_t r1)                     \
    {                                                                                          \
        return calgae_neon_dotprod                                                             \
                   ? calgae_neon_matmul_##type##_dotprod(w, x, xs, n_tok, y, ys, r0, r1)       \
                   : calgae_neon_matmul_##type##_base(w, x, xs, n_tok, y, ys, r0, r1);         \
    }

NEON_QDISPATCH(q8_0)
NEON_QDISPATCH(q4_0)
NEON_QDISPATCH(q4_1)
NEON_QDISPATCH(q4_k)
NEON_QDISPATCH(q6_k)
NEON_QDISPATCH(q5_k)
NEON_QDISPATCH(q3_k)
NEON_QDISPATCH(q2_k)
NEON_QDISPATCH(iq4_xs)
NEON_QDISPATCH(q5_0)
NEON_QDISPATCH(q5_1)
NEON_QDISPATCH(iq4_nl)

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "neon",
    .version = calgae_neon_version,
    .description = calgae_neon_description,
    .isa = calgae_neon_isa,
    .priority = 100,
    .probe = calgae_neon_probe,
    .quantize_q8_0 = calgae_neon_quantize_q8_0,
    .matvec_f32 = calgae_neon_matvec_f32,
    .matvec_f16 = calgae_neon_matvec_f16,
    .matvec_q8_0 = matvec_q8_0,
    .matvec_q4_0 = matvec_q4_0,
    .matmul_f32 = calgae_neon_matmul_f32,
    .matmul_f16 = calgae_neon_matmul_f16,
    .matmul_q8_0 = matmul_q8_0,
    .matmul_q4_0 = matmul_q4_0,
    .rmsnorm = calgae_neon_rmsnorm,
    .softmax = calgae_neon_softmax,
    .swiglu = calgae_neon_swiglu,
    .rope = calgae_neon_rope,
    .dot_f32 = calgae_neon_dot_f32,
    .axpy_f32 = calgae_neon_axpy_f32,
    .matvec_q4_1 = matvec_q4_1,
    .matmul_q4_1 = matmul_q4_1,
    .quantize_q8_k = calgae_neon_quantize_q8_k,
    .matvec_q4_k = matvec_q4_k,
    .matmul_q4_k = matmul_q4_k,
    .matvec_q6_k = matvec_q6_k,
    .matmul_q6_k = matmul_q6_k,
    .matvec_q5_k = matvec_q5_k,
    .matmul_q5_k = matmul_q5_k,
    .matvec_q3_k = matvec_q3_k,
    .matmul_q3_k = matmul_q3_k,
    .matvec_q2_k = matvec_q2_k,
    .matmul_q2_k = matmul_q2_k,
    .matvec_iq4_xs = matvec_iq4_xs,
    .matmul_iq4_xs = matmul_iq4_xs,
    .matvec_q5_0 = matvec_q5_0,
    .matmul_q5_0 = matmul_q5_0,
    .matvec_q5_1 = matvec_q5_1,
    .matmul_q5_1 = matmul_q5_1,
    .matvec_iq4_nl = matvec_iq4_nl,
    .matmul_iq4_nl = matmul_iq4_nl,
    .matvec_bf16 = calgae_neon_matvec_bf16,
    .matmul_bf16 = calgae_neon_matmul_bf16,
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_minor; /* a host of any minor reads what it knows of the table */
    return calgae_plugin_answer(host_abi_major, &table, out, why, why_len);
}
