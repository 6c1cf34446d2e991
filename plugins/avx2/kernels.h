/*
 * kernels.h - the avx2 plugin's kernels as plugin.c's table sees them. Portable declarations
 * only: plugin.c and probe.c include it and are compiled without AVX flags, so nothing here may
 * expand to an AVX instruction. The plugin is built with hidden visibility, so none of these
 * names leave the .so.
 */
#ifndef CALGAE_AVX2_KERNELS_H
#define CALGAE_AVX2_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"

int avx2_probe(char *why, size_t why_len);

void avx2_quantize_q8_0(const float *x, void *out, int64_t n);

int avx2_matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matvec_f16(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matvec_q8_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matvec_q4_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matvec_q4_1(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);

int avx2_matmul_f32(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                    float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matmul_f16(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                    float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matmul_q8_0(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matmul_q4_0(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matmul_q4_1(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);

/* products_x8.c: the interleaved layout of Q4_0 and Q8_0 weights and its products */
int avx2_x8_prepare(calgae_weight *w, char *why, size_t why_len);
void avx2_x8_release(calgae_weight *w);
int avx2_x8_matvec(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_x8_matmul(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                   float *y, int64_t y_stride, int64_t r0, int64_t r1);

void avx2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void avx2_softmax(float *x, int64_t n);
void avx2_swiglu(float *gate, const float *up, int64_t n);
void avx2_rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs);
float avx2_dot_f32(const float *a, const float *b, int64_t n);
void avx2_axpy_f32(float *y, float a, const float *x, int64_t n);

/* products_k.c: Q4_K and Q6_K against Q8_K (ABI 1.3), stored layout */
void avx2_quantize_q8_k(const float *x, void *out, int64_t n);
int avx2_matvec_q4_k(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_q4_k(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matvec_q6_k(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_q6_k(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);


/* products_k2.c: Q5_K, Q3_K, Q2_K and IQ4_XS against Q8_K (ABI 1.4), stored layout */
int avx2_matvec_q5_k(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_q5_k(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matvec_q3_k(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_q3_k(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matvec_q2_k(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_q2_k(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matvec_iq4_xs(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_iq4_xs(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                       float *y, int64_t y_stride, int64_t r0, int64_t r1);
/* products_q5.c: Q5_0, Q5_1 and IQ4_NL against Q8_0 (ABI 1.4), stored layout;
 * products_float.c: BF16 against floats (ABI 1.4) */
int avx2_matvec_q5_0(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_q5_0(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matvec_q5_1(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_q5_1(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matvec_iq4_nl(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_iq4_nl(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                       float *y, int64_t y_stride, int64_t r0, int64_t r1);
int avx2_matvec_bf16(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1);
int avx2_matmul_bf16(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);

#endif
