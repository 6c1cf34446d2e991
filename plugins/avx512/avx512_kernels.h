/*
 * avx512_kernels.h - the AVX-512 plugin's internal interface: kernels compiled with AVX-512
 * flags (avx512_float.c, avx512_quant*.c) and the probe compiled without them
 * (avx512_probe.c), seen by the table in avx512_plugin.c.
 *
 * The table and entry point live in a file of their own, built without any ISA flag, because
 * a compiler given -mavx512f may use AVX-512 instructions in any function of that file (a
 * struct copy, a memset), and the entry point and probe must run on every x86-64 CPU.
 * Everything here has hidden visibility (the plugin exports only calgae_plugin_entry).
 */
#ifndef CALGAE_AVX512_KERNELS_H
#define CALGAE_AVX512_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"

/* ---- avx512_float.c ---- */
void calgae_avx512_quantize_q8_0(const float *x, void *out, int64_t n);
int calgae_avx512_matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0,
                             int64_t r1);
int calgae_avx512_matmul_f32(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                             float *y, int64_t ys, int64_t r0, int64_t r1);
int calgae_avx512_matvec_f16(const calgae_weight *w, const void *x, float *y, int64_t r0,
                             int64_t r1);
int calgae_avx512_matmul_f16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                             float *y, int64_t ys, int64_t r0, int64_t r1);
void calgae_avx512_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void calgae_avx512_softmax(float *x, int64_t n);
void calgae_avx512_swiglu(float *gate, const float *up, int64_t n);
void calgae_avx512_rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot,
                        const float *cs);
float calgae_avx512_dot_f32(const float *a, const float *b, int64_t n);
void calgae_avx512_axpy_f32(float *y, float a, const float *x, int64_t n);

/* ---- avx512_quant.c (maddubs + madd) and avx512_quant_vnni.c (vpdpbusd): Q8_0, Q4_0, Q4_1 ---- */
#define CALGAE_AVX512_DECLARE_BLOCK_PRODUCTS(prefix)                                       \
    int prefix##matvec_q8_0(const calgae_weight *w, const void *x, float *y, int64_t r0,   \
                            int64_t r1);                                                   \
    int prefix##matvec_q4_0(const calgae_weight *w, const void *x, float *y, int64_t r0,   \
                            int64_t r1);                                                   \
    int prefix##matmul_q8_0(const calgae_weight *w, const void *x, size_t xs,              \
                            int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);  \
    int prefix##matmul_q4_0(const calgae_weight *w, const void *x, size_t xs,              \
                            int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);  \
    int prefix##matvec_q4_1(const calgae_weight *w, const void *x, float *y, int64_t r0,   \
                            int64_t r1);                                                   \
    int prefix##matmul_q4_1(const calgae_weight *w, const void *x, size_t xs,              \
                            int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);

CALGAE_AVX512_DECLARE_BLOCK_PRODUCTS(calgae_avx512_)
CALGAE_AVX512_DECLARE_BLOCK_PRODUCTS(calgae_avx512_vnni_)

/* ---- avx512_kquant.c (vpmaddwd) and avx512_kquant_vnni.c (vpdpwssd): Q4_K, Q6_K (ABI 1.3) ---- */
#define CALGAE_AVX512_DECLARE_K_PRODUCTS(prefix)                                           \
    int prefix##matvec_q4_k(const calgae_weight *w, const void *x, float *y, int64_t r0,   \
                            int64_t r1);                                                   \
    int prefix##matmul_q4_k(const calgae_weight *w, const void *x, size_t xs,              \
                            int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);  \
    int prefix##matvec_q6_k(const calgae_weight *w, const void *x, float *y, int64_t r0,   \
                            int64_t r1);                                                   \
    int prefix##matmul_q6_k(const calgae_weight *w, const void *x, size_t xs,              \
                            int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);

CALGAE_AVX512_DECLARE_K_PRODUCTS(calgae_avx512_)
CALGAE_AVX512_DECLARE_K_PRODUCTS(calgae_avx512_vnni_)

/* ---- avx512_kquant2.c (vpmaddwd) and avx512_kquant2_vnni.c (vpdpwssd): Q5_K, Q3_K, Q2_K,
 * IQ4_XS (ABI 1.4) ---- */
#define CALGAE_AVX512_DECLARE_K2_PRODUCTS(prefix, T)                                       \
    int prefix##matvec_##T(const calgae_weight *w, const void *x, float *y, int64_t r0,    \
                           int64_t r1);                                                    \
    int prefix##matmul_##T(const calgae_weight *w, const void *x, size_t xs,               \
                           int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);
#define CALGAE_AVX512_DECLARE_K2_ALL(prefix)                                               \
    CALGAE_AVX512_DECLARE_K2_PRODUCTS(prefix, q5_k)                                        \
    CALGAE_AVX512_DECLARE_K2_PRODUCTS(prefix, q3_k)                                        \
    CALGAE_AVX512_DECLARE_K2_PRODUCTS(prefix, q2_k)                                        \
    CALGAE_AVX512_DECLARE_K2_PRODUCTS(prefix, iq4_xs)

CALGAE_AVX512_DECLARE_K2_ALL(calgae_avx512_)
CALGAE_AVX512_DECLARE_K2_ALL(calgae_avx512_vnni_)
/* ---- avx512_q5.c (maddubs + madd) and avx512_q5_vnni.c (vpdpbusd): Q5_0, Q5_1, IQ4_NL
 * against Q8_0 (ABI 1.4); avx512_float.c: BF16 against floats (ABI 1.4) ---- */
#define CALGAE_AVX512_DECLARE_Q5_PRODUCTS(prefix)                                          \
    int prefix##matvec_q5_0(const calgae_weight *w, const void *x, float *y, int64_t r0,   \
                            int64_t r1);                                                   \
    int prefix##matmul_q5_0(const calgae_weight *w, const void *x, size_t xs,              \
                            int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);  \
    int prefix##matvec_q5_1(const calgae_weight *w, const void *x, float *y, int64_t r0,   \
                            int64_t r1);                                                   \
    int prefix##matmul_q5_1(const calgae_weight *w, const void *x, size_t xs,              \
                            int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);  \
    int prefix##matvec_iq4_nl(const calgae_weight *w, const void *x, float *y, int64_t r0, \
                              int64_t r1);                                                 \
    int prefix##matmul_iq4_nl(const calgae_weight *w, const void *x, size_t xs,            \
                              int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1);

CALGAE_AVX512_DECLARE_Q5_PRODUCTS(calgae_avx512_)
CALGAE_AVX512_DECLARE_Q5_PRODUCTS(calgae_avx512_vnni_)
int calgae_avx512_matvec_bf16(const calgae_weight *w, const void *x, float *y, int64_t r0,
                              int64_t r1);
int calgae_avx512_matmul_bf16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                              float *y, int64_t ys, int64_t r0, int64_t r1);

/* ---- avx512_probe.c (no ISA flags) ---- */
/* The plugin's probe: 1 if CPU and OS can run the kernels, else 0 and the reason. */
int calgae_avx512_probe(char *why, size_t why_len);
/* 1 if the CPU has AVX512_VNNI (meaningful only where the probe passes). */
int calgae_avx512_cpu_has_vnni(void);

#endif /* CALGAE_AVX512_KERNELS_H */
