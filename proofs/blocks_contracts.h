/*
 * blocks_contracts.h - ACSL contracts of quant/blocks.c for Frama-C (see quant_contracts.h);
 * proofs/run includes it just before quant/blocks.c, so the static helpers are covered too.
 */
#ifndef CALGAE_BLOCKS_CONTRACTS_H
#define CALGAE_BLOCKS_CONTRACTS_H

#include "quant_contracts.h"
#include "blocks.h"

/*@ assigns \nothing;
    ensures RANGE_Q4: 0 <= \result <= 15;
    ensures ROUND_Q4: 0 <= v < 16 ==> \result <= v < \result + 1;
    ensures ROUND_Q4: v >= 16 ==> \result == 15; */
static int q4_code(float v);

/*@ requires RANGE_Q4: 0 <= lo <= 15 && 0 <= hi <= 15;
    assigns \nothing;
    ensures RANGE_Q4: \result % 16 == lo && \result / 16 == hi; */
static uint8_t q4_pack(int lo, int hi);

/*@ requires n >= 0;
    requires \valid_read(x + (0 .. n - 1));
    requires \valid(y + (0 .. n / CALGAE_QK - 1));
    assigns y[0 .. n / CALGAE_QK - 1]; */
void calgae_quantize_row_q8_0(const float *x, calgae_block_q8_0 *y, int64_t n);

/*@ requires n >= 0;
    requires \valid_read(x + (0 .. n - 1));
    requires \valid(y + (0 .. n / CALGAE_QK - 1));
    assigns y[0 .. n / CALGAE_QK - 1]; */
void calgae_quantize_row_q4_0(const float *x, calgae_block_q4_0 *y, int64_t n);

/*@ requires n >= 0;
    requires \valid_read(x + (0 .. n - 1));
    requires \valid(y + (0 .. n / CALGAE_QK - 1));
    assigns y[0 .. n / CALGAE_QK - 1]; */
void calgae_quantize_row_q4_1(const float *x, calgae_block_q4_1 *y, int64_t n);

/*@ requires n >= 0;
    requires \valid_read(x + (0 .. n / CALGAE_QK - 1));
    requires \valid(y + (0 .. n / CALGAE_QK * CALGAE_QK - 1));
    requires \separated(x + (0 .. n / CALGAE_QK - 1), y + (0 .. n / CALGAE_QK * CALGAE_QK - 1));
    assigns y[0 .. n / CALGAE_QK * CALGAE_QK - 1];
    ensures SCALE_Q8_0: \forall integer b, k; 0 <= b < n / CALGAE_QK && 0 <= k < CALGAE_QK ==>
                          y[b * CALGAE_QK + k] == x[b].qs[k] * fp16_value(x[b].d); */
void calgae_dequantize_row_q8_0(const calgae_block_q8_0 *x, float *y, int64_t n);

/*@ requires n >= 0;
    requires \valid_read(x + (0 .. n / CALGAE_QK - 1));
    requires \valid(y + (0 .. n / CALGAE_QK * CALGAE_QK - 1));
    assigns y[0 .. n / CALGAE_QK * CALGAE_QK - 1]; */
void calgae_dequantize_row_q4_0(const calgae_block_q4_0 *x, float *y, int64_t n);

/*@ requires n >= 0;
    requires \valid_read(x + (0 .. n / CALGAE_QK - 1));
    requires \valid(y + (0 .. n / CALGAE_QK * CALGAE_QK - 1));
    assigns y[0 .. n / CALGAE_QK * CALGAE_QK - 1]; */
void calgae_dequantize_row_q4_1(const calgae_block_q4_1 *x, float *y, int64_t n);

#endif
