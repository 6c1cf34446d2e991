/*
 * avx512_plugin.c - the AVX-512 plugin's function tables and entry point. Compiled without any
 * ISA flag (see avx512_kernels.h for why), in both builds:
 * - native (calgae-avx512.so, "avx512", priority 200): the probe (avx512_probe.c) checks the
 *   CPU and the OS; the kernels were compiled for AVX-512.
 * - emulated (calgae-avx512-simde.so, "avx512-simde", CALGAE_AVX512_SIMDE defined): the same
 *   kernel sources on SIMDe, for testing on machines without AVX-512. No probe (it runs
 *   anywhere), priority 0 and a test-only folder, so it is never picked by accident.
 *
 * Two tables differ only in the Q8_0/Q4_0 products: vpdpbusd (VNNI) or vpmaddubsw + vpmaddwd.
 * The entry point picks one with CPUID, which is not an optional instruction set and changes
 * nothing, so the handshake stays free of side effects. CALGAE_AVX512_VNNI=0 in the
 * environment forces the maddubs table (to test both paths on a VNNI machine); the emulated
 * build "has" VNNI unless told so.
 */
#include <stdlib.h>
#include <string.h>

#include "avx512_kernels.h"
#include "avx512_kx.h"
#include "avx512_x16.h"
#include "calgae_plugin.h"

#ifdef CALGAE_AVX512_SIMDE
#define PLUGIN_NAME "avx512-simde"
#define PLUGIN_DESC "AVX-512 kernels emulated with SIMDe (tests only, slow)"
#define PLUGIN_ISA ""
#define PLUGIN_ISA_VNNI ""
#define PLUGIN_PRIORITY 0
#define PLUGIN_PROBE NULL
#else
#define PLUGIN_NAME "avx512"
#define PLUGIN_DESC "AVX-512 kernels: F32/F16 FMA, Q8_0/Q4_0/Q4_1 integer dot products"
#define PLUGIN_ISA "avx512f,avx512bw,f16c"
#define PLUGIN_ISA_VNNI "avx512f,avx512bw,f16c,avx512vnni"
#define PLUGIN_PRIORITY 200
#define PLUGIN_PROBE calgae_avx512_probe
#endif

static const calgae_plugin table_maddubs, table_vnni;

/* A weight this plugin prepared (under either table: the layout is the same) reads the x16
 * layout; any other the stored one. */
static int ours(const calgae_weight *w)
{
    return w->prepared && (w->owner == &table_vnni || w->owner == &table_maddubs);
}

/* Each product slot: the x16 kernels on a prepared weight, the stored-layout ones otherwise. */
#define DISPATCH(q, T)                                                                        \
    static int q##mv_##T(const calgae_weight *w, const void *x, float *y, int64_t r0,         \
                         int64_t r1)                                                           \
    {                                                                                          \
        return ours(w) ? q##x16_matvec(w, x, y, r0, r1) : q##matvec_##T(w, x, y, r0, r1);     \
    }                                                                                          \
    static int q##mm_##T(const calgae_weight *w, const void *x, size_t xs, int64_t n,         \
                         float *y, int64_t ys, int64_t r0, int64_t r1)                         \
    {                                                                                          \
        return ours(w) ? q##x16_matmul(w, x, xs, n, y, ys, r0, r1)                             \
                       : q##matmul_##T(w, x, xs, n, y, ys, r0, r1);                            \
    }
#define DISPATCH_ALL(q) DISPATCH(q, q8_0) DISPATCH(q, q4_0) DISPATCH(q, q4_1)
DISPATCH_ALL(calgae_avx512_)
DISPATCH_ALL(calgae_avx512_vnni_)

/* F32 and F16: the column layout on a prepared weight (avx512_x16f.c) */
#define DISPATCH_F(T)                                                                         \
    static int mv_##T(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1) \
    {                                                                                          \
        return ours(w) ? calgae_avx512_x16f_x16_matvec(w, x, y, r0, r1)                        \
                       : calgae_avx512_matvec_##T(w, x, y, r0, r1);                            \
    }                                                                                          \
    static int mm_##T(const calgae_weight *w, const void *x, size_t xs, int64_t n, float *y,   \
                      int64_t ys, int64_t r0, int64_t r1)                                      \
    {                                                                                          \
        return ours(w) ? calgae_avx512_x16f_x16_matmul(w, x, xs, n, y, ys, r0, r1)             \
                       : calgae_avx512_matmul_##T(w, x, xs, n, y, ys, r0, r1);                 \
    }
DISPATCH_F(f32)
DISPATCH_F(f16)

/* Q4_K and Q6_K: the kx layout on a prepared weight (avx512_kx_impl.h) */
#define DISPATCH_K(q, T)                                                                      \
    static int q##kmv_##T(const calgae_weight *w, const void *x, float *y, int64_t r0,        \
                          int64_t r1)                                                          \
    {                                                                                          \
        return ours(w) ? q##kx_matvec(w, x, y, r0, r1) : q##matvec_##T(w, x, y, r0, r1);      \
    }                                                                                          \
    static int q##kmm_##T(const calgae_weight *w, const void *x, size_t xs, int64_t n,        \
                          float *y, int64_t ys, int64_t r0, int64_t r1)                        \
    {                                                                                          \
        return ours(w) ? q##kx_matmul(w, x, xs, n, y, ys, r0, r1)                              \
                       : q##matmul_##T(w, x, xs, n, y, ys, r0, r1);                            \
    }
DISPATCH_K(calgae_avx512_, q4_k)
DISPATCH_K(calgae_avx512_, q6_k)
DISPATCH_K(calgae_avx512_vnni_, q4_k)
DISPATCH_K(calgae_avx512_vnni_, q6_k)

/* Q8_K activations: the header's reference rounding in plain C (this file has no ISA flags);
 * a quantization per product row of activations costs little beside the products. */
static void quantize_q8_k(const float *x, void *out, int64_t n)
{
    calgae_quantize_q8_k_ref(x, out, n);
}

#define TABLE(isa_, desc_, q)                                                                 \
    {                                                                                       \
        .struct_size = sizeof(calgae_plugin),                                               \
        .abi_major = CALGAE_ABI_MAJOR,                                                      \
        .abi_minor = CALGAE_ABI_MINOR,                                                      \
        .name = PLUGIN_NAME,                                                                \
        .version = "1.0.0",                                                                 \
        .description = desc_,                                                                \
        .isa = isa_,                                                                         \
        .priority = PLUGIN_PRIORITY,                                                        \
        .probe = PLUGIN_PROBE,                                                              \
        .prepare_weight = calgae_avx512_x16_prepare,                                        \
        .release_weight = calgae_avx512_x16_release,                                        \
        .quantize_q8_0 = calgae_avx512_quantize_q8_0,                                       \
        .matvec_f32 = mv_f32,                                             \
        .matvec_f16 = mv_f16,                                             \
        .matvec_q8_0 = q##mv_q8_0,                                                      \
        .matvec_q4_0 = q##mv_q4_0,                                                      \
        .matmul_f32 = mm_f32,                                             \
        .matmul_f16 = mm_f16,                                             \
        .matmul_q8_0 = q##mm_q8_0,                                                      \
        .matmul_q4_0 = q##mm_q4_0,                                                      \
        .rmsnorm = calgae_avx512_rmsnorm,                                                   \
        .softmax = calgae_avx512_softmax,                                                   \
        .swiglu = calgae_avx512_swiglu,                                                     \
        .rope = calgae_avx512_rope,                                                         \
        .dot_f32 = calgae_avx512_dot_f32,                                                   \
        .axpy_f32 = calgae_avx512_axpy_f32,                                                 \
        .matvec_q4_1 = q##mv_q4_1,                                                      \
        .matmul_q4_1 = q##mm_q4_1,                                                      \
        /* x16_prepare touches only its weight */                                           \
        .flags = CALGAE_PLUGIN_CONCURRENT_PREPARE,                                          \
        /* ABI 1.3: the kx layout when prepared (avx512_kx.h), else the stored one */       \
        .quantize_q8_k = quantize_q8_k,                                                     \
        .matvec_q4_k = q##kmv_q4_k,                                                         \
        .matmul_q4_k = q##kmm_q4_k,                                                         \
        .matvec_q6_k = q##kmv_q6_k,                                                         \
        .matmul_q6_k = q##kmm_q6_k,                                                         \
        /* ABI 1.4: the stored layout (avx512_kquant2_impl.h) */                            \
        .matvec_q5_k = q##matvec_q5_k,                                                      \
        .matmul_q5_k = q##matmul_q5_k,                                                      \
        .matvec_q3_k = q##matvec_q3_k,                                                      \
        .matmul_q3_k = q##matmul_q3_k,                                                      \
        .matvec_q2_k = q##matvec_q2_k,                                                      \
        .matmul_q2_k = q##matmul_q2_k,                                                      \
        .matvec_iq4_xs = q##matvec_iq4_xs,                                                  \
        .matmul_iq4_xs = q##matmul_iq4_xs,                                                  \
        /* ABI 1.4: the stored layout (x16_prepare declines these types too) */             \
        .matvec_q5_0 = q##matvec_q5_0,                                                      \
        .matmul_q5_0 = q##matmul_q5_0,                                                      \
        .matvec_q5_1 = q##matvec_q5_1,                                                      \
        .matmul_q5_1 = q##matmul_q5_1,                                                      \
        .matvec_iq4_nl = q##matvec_iq4_nl,                                                  \
        .matmul_iq4_nl = q##matmul_iq4_nl,                                                  \
        .matvec_bf16 = calgae_avx512_matvec_bf16,                                           \
        .matmul_bf16 = calgae_avx512_matmul_bf16,                                           \
    }

static const calgae_plugin table_maddubs =
    TABLE(PLUGIN_ISA, PLUGIN_DESC " (vpmaddubsw)", calgae_avx512_);
static const calgae_plugin table_vnni =
    TABLE(PLUGIN_ISA_VNNI, PLUGIN_DESC " (vpdpbusd)", calgae_avx512_vnni_);

static int use_vnni(void)
{
    const char *env = getenv("CALGAE_AVX512_VNNI");
    if (env && strcmp(env, "0") == 0)
        return 0;
#ifdef CALGAE_AVX512_SIMDE
    return 1;
#else
    return calgae_avx512_cpu_has_vnni();
#endif
}

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_minor; /* a host of any minor reads what it knows of the table */
    return calgae_plugin_answer(host_abi_major, use_vnni() ? &table_vnni : &table_maddubs, out, why,
                                why_len);
}
