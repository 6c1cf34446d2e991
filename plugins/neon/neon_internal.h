/*
 * neon_internal.h - what the files of the NEON plugin share (none of it is exported: the
 * plugin is built with hidden visibility, so only calgae_plugin_entry leaves the .so).
 *
 * The plugin is four objects so that no instruction beyond the base ARMv8-A Advanced SIMD set
 * can run before the probe has said the CPU has it:
 *   neon.c          the table, the entry point and the dispatch wrappers      -march=armv8-a
 *   neon_probe.c    the CPU probe (getauxval) and the variant it chose        -march=armv8-a
 *   neon_kernels.c  every kernel in base NEON, block dots with vmull/vpadal   -march=armv8-a
 *   neon_dotprod.c  the block products again, block dots with vdotq_s32       +dotprod
 */
#ifndef CALGAE_NEON_INTERNAL_H
#define CALGAE_NEON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"

/* For the kernels' helpers that take a layout or row count as a constant argument: inlining
 * is what folds those branches away and keeps per-row accumulators in registers. */
#define NEON_ALWAYS_INLINE static inline __attribute__((always_inline))

/* Set by the probe when the CPU has the dot-product extension (HWCAP_ASIMDDP). Zero until the
 * probe runs, so a caller that skips the probe still gets kernels every ARMv8-A CPU can run. */
extern int calgae_neon_dotprod;

/* The table's version and isa strings: the probe rewrites them to name the variant it chose,
 * since the table itself is const and `calgae run --verbose` prints the version. */
extern char calgae_neon_version[];
extern char calgae_neon_isa[];
extern char calgae_neon_description[];

int calgae_neon_probe(char *why, size_t why_len);

/* Block products (Q8_0, Q4_0, Q4_1 weights against Q8_0 activations), one set per variant; the
 * results are bitwise equal across variants and to the scalar plugin. */
#define CALGAE_NEON_DECLARE_QPRODUCTS(variant)                                                   \
    int calgae_neon_matvec_q8_0_##variant(const calgae_weight *w, const void *x, float *y,      \
                                          int64_t r0, int64_t r1);                              \
    int calgae_neon_matvec_q4_0_##variant(const calgae_weight *w, const void *x, float *y,      \
                                          int64_t r0, int64_t r1);                              \
    int calgae_neon_matmul_q8_0_##variant(const calgae_weight *w, const void *x, size_t xs,     \
                                          int64_t n_tok, float *y, int64_t ys, int64_t r0,      \
                                          int64_t r1);                                          \
    int calgae_neon_matmul_q4_0_##variant(const calgae_weight *w, const void *x, size_t xs,     \
                                          int64_t n_tok, float *y, int64_t ys, int64_t r0,      \
                                          int64_t r1);                                          \
    int calgae_neon_matvec_q4_1_##variant(const calgae_weight *w, const void *x, float *y,      \
                                          int64_t r0, int64_t r1);                              \
    int calgae_neon_matmul_q4_1_##variant(const calgae_weight *w, const void *x, size_t xs,     \
                                          int64_t n_tok, float *y, int64_t ys, int64_t r0,      \
                                          int64_t r1);

CALGAE_NEON_DECLARE_QPRODUCTS(base)
CALGAE_NEON_DECLARE_QPRODUCTS(dotprod)

/* Everything else: base NEON only (nothing there gains from dotprod). */
void calgae_neon_quantize_q8_0(const float *x, void *out, int64_t n);
int calgae_neon_matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int calgae_neon_matvec_f16(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int calgae_neon_matmul_f32(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                           float *y, int64_t ys, int64_t r0, int64_t r1);
int calgae_neon_matmul_f16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                           float *y, int64_t ys, int64_t r0, int64_t r1);
void calgae_neon_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void calgae_neon_softmax(float *x, int64_t n);
void calgae_neon_swiglu(float *gate, const float *up, int64_t n);
void calgae_neon_rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs);
float calgae_neon_dot_f32(const float *a, const float *b, int64_t n);
void calgae_neon_axpy_f32(float *y, float a, const float *x, int64_t n);

/* ---- ABI 1.3 and 1.4 slots (neon_kquant.h, neon_kfloat.c) ---- */

/* The K-quant and IQ4_XS products against Q8_K, and Q5_0, Q5_1, IQ4_NL against Q8_0, one set
 * per variant (neon_kbase.c, neon_kdotprod.c); bitwise equal across variants and to scalar. */
#define CALGAE_NEON_DECLARE_KPRODUCT(t, variant)                                                 \
    int calgae_neon_matvec_##t##_##variant(const calgae_weight *w, const void *x, float *y,     \
                                           int64_t r0, int64_t r1);                             \
    int calgae_neon_matmul_##t##_##variant(const calgae_weight *w, const void *x, size_t xs,    \
                                           int64_t n_tok, float *y, int64_t ys, int64_t r0,     \
                                           int64_t r1);
#define CALGAE_NEON_DECLARE_KPRODUCTS(variant)                                                   \
    CALGAE_NEON_DECLARE_KPRODUCT(q4_k, variant)                                                  \
    CALGAE_NEON_DECLARE_KPRODUCT(q6_k, variant)                                                  \
    CALGAE_NEON_DECLARE_KPRODUCT(q5_k, variant)                                                  \
    CALGAE_NEON_DECLARE_KPRODUCT(q3_k, variant)                                                  \
    CALGAE_NEON_DECLARE_KPRODUCT(q2_k, variant)                                                  \
    CALGAE_NEON_DECLARE_KPRODUCT(iq4_xs, variant)                                                \
    CALGAE_NEON_DECLARE_KPRODUCT(q5_0, variant)                                                  \
    CALGAE_NEON_DECLARE_KPRODUCT(q5_1, variant)                                                  \
    CALGAE_NEON_DECLARE_KPRODUCT(iq4_nl, variant)

CALGAE_NEON_DECLARE_KPRODUCTS(base)
CALGAE_NEON_DECLARE_KPRODUCTS(dotprod)

/* Base NEON only: the Q8_K quantizer (byte for byte the reference) and the BF16 products. */
void calgae_neon_quantize_q8_k(const float *x, void *out, int64_t n);
int calgae_neon_matvec_bf16(const calgae_weight *w, const void *x, float *y, int64_t r0,
                            int64_t r1);
int calgae_neon_matmul_bf16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                            float *y, int64_t ys, int64_t r0, int64_t r1);

#endif /* CALGAE_NEON_INTERNAL_H */
