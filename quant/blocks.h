/*
 * blocks.h - ggml's block formats (Q8_0, Q4_0) in plain C: binary16 rounding, reference
 * quantization and dequantization of rows. The rounding follows ggml's reference functions
 * (quantize_row_q8_0_ref, quantize_row_q4_0_ref) so our blocks are the same bytes as
 * llama.cpp's for the same floats.
 */
#ifndef CALGAE_BLOCKS_H
#define CALGAE_BLOCKS_H

#include <stdint.h>

#include "calgae_plugin.h"

/* binary16 conversions in both directions are in calgae_plugin.h (calgae_fp16_to_fp32,
 * calgae_fp32_to_fp16), shared with the plugins. */

/* n must be a multiple of CALGAE_QK. */
void calgae_quantize_row_q8_0(const float *x, calgae_block_q8_0 *y, int64_t n);
void calgae_quantize_row_q4_0(const float *x, calgae_block_q4_0 *y, int64_t n);
void calgae_dequantize_row_q8_0(const calgae_block_q8_0 *x, float *y, int64_t n);
void calgae_dequantize_row_q4_0(const calgae_block_q4_0 *x, float *y, int64_t n);
/* Q4_1: d = (max - min) / 15, m = min, q = trunc((x - min) / d + 0.5) clamped to 15
 * (ggml's quantize_row_q4_1_ref). */
void calgae_quantize_row_q4_1(const float *x, calgae_block_q4_1 *y, int64_t n);
void calgae_dequantize_row_q4_1(const calgae_block_q4_1 *x, float *y, int64_t n);

/* Rows of any type, chosen by id: calgae_dequantize_row and calgae_quantize_row in types.h, which
 * reach these functions through the type table. */

#endif
