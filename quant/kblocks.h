/*
 * kblocks.h - ggml's 5-bit (Q5_0, Q5_1), K-quant (Q2_K .. Q6_K, Q8_K), IQ4 (IQ4_NL, IQ4_XS)
 * and BF16 formats in plain C: dequantization of rows for every one of them, and ggml's
 * reference quantization of each (the plain roundings here, the fitted ones in kquantize.c). The block
 * layouts are in calgae_plugin.h; the arithmetic follows ggml-quants.c (dequantize_row_*,
 * quantize_row_*_ref) operation for operation, so our floats are llama.cpp's floats.
 */
#ifndef CALGAE_KBLOCKS_H
#define CALGAE_KBLOCKS_H

#include <stdint.h>

#include "calgae_plugin.h"

/* n must be a multiple of the type's block size (32, or CALGAE_QK_K for the K and XS types). */
void calgae_dequantize_row_q5_0(const calgae_block_q5_0 *x, float *y, int64_t n);
void calgae_dequantize_row_q5_1(const calgae_block_q5_1 *x, float *y, int64_t n);
void calgae_dequantize_row_q2_k(const calgae_block_q2_k *x, float *y, int64_t n);
void calgae_dequantize_row_q3_k(const calgae_block_q3_k *x, float *y, int64_t n);
void calgae_dequantize_row_q4_k(const calgae_block_q4_k *x, float *y, int64_t n);
void calgae_dequantize_row_q5_k(const calgae_block_q5_k *x, float *y, int64_t n);
void calgae_dequantize_row_q6_k(const calgae_block_q6_k *x, float *y, int64_t n);
void calgae_dequantize_row_q8_k(const calgae_block_q8_k *x, float *y, int64_t n);
void calgae_dequantize_row_iq4_nl(const calgae_block_iq4_nl *x, float *y, int64_t n);
void calgae_dequantize_row_iq4_xs(const calgae_block_iq4_xs *x, float *y, int64_t n);
void calgae_dequantize_row_bf16(const calgae_bf16 *x, float *y, int64_t n);

/* Q5_0: d = x_at_max|x| / -16, q = trunc(x / d + 16.5) capped at 31 (quantize_row_q5_0_ref).
 * Q5_1: d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5) (quantize_row_q5_1_ref).
 * Q8_K: scale -127 / x_at_max|x|, q = nearest (ties to even), with the group sums.
 * BF16: round to nearest even, NaN kept quiet (ggml_compute_fp32_to_bf16). */
void calgae_quantize_row_q5_0(const float *x, calgae_block_q5_0 *y, int64_t n);
void calgae_quantize_row_q5_1(const float *x, calgae_block_q5_1 *y, int64_t n);
void calgae_quantize_row_q8_k(const float *x, calgae_block_q8_k *y, int64_t n);
void calgae_quantize_row_bf16(const float *x, calgae_bf16 *y, int64_t n);

/* ggml's reference quantizers of the K and IQ4 types (quant/kquantize.c): what llama-quantize
 * writes for them without an importance matrix, byte for byte. */
void calgae_quantize_row_q2_k(const float *x, calgae_block_q2_k *y, int64_t n);
void calgae_quantize_row_q3_k(const float *x, calgae_block_q3_k *y, int64_t n);
void calgae_quantize_row_q4_k(const float *x, calgae_block_q4_k *y, int64_t n);
void calgae_quantize_row_q5_k(const float *x, calgae_block_q5_k *y, int64_t n);
void calgae_quantize_row_q6_k(const float *x, calgae_block_q6_k *y, int64_t n);
void calgae_quantize_row_iq4_nl(const float *x, calgae_block_iq4_nl *y, int64_t n);
void calgae_quantize_row_iq4_xs(const float *x, calgae_block_iq4_xs *y, int64_t n);

/* The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl). */
extern const int8_t calgae_iq4nl_levels[16];

#endif
