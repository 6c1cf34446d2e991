/*
 * rtn.h - round-to-nearest (RTN) quantization into ggml's block formats, the baseline that
 * AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
 * Acceleration", MLSys 2024) improves on. The rounding is ggml's reference rounding
 * (quantize_row_q8_0_ref / _q4_0_ref / _q4_1_ref, see blocks.h), so a matrix quantized here is
 * the same bytes llama.cpp's quantizer writes for the same floats. This file adds what the
 * searches need on top of blocks.h: which matrices a type can hold, and fake quantization
 * (quantize, then dequantize) to measure the error a type would introduce.
 */
#ifndef CALGAE_RTN_H
#define CALGAE_RTN_H

#include <stdint.h>

#include "calgae_plugin.h"

/* 1 for the block types of the type table (types.h) that have a quantizer (Q8_0, Q4_0, Q4_1),
 * 0 for F32, F16 and unknown ids. */
int calgae_rtn_is_block_type(uint32_t type);

/* The type a row of cols values is actually stored in when `type` is asked for: a block type
 * needs whole blocks (the type table's block size), otherwise the row stays F32 (llama.cpp's
 * rule). */
uint32_t calgae_rtn_storage_type(uint32_t type, int64_t cols);

/* y = dequantize(quantize(x)) for n values (whole blocks of the type) through the
 * reference quantizer of type; x and y may be the same array. Returns -1 for other types. */
int calgae_rtn_roundtrip(uint32_t type, const float *x, float *y, int64_t n);

#endif
