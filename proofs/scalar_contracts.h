/*
 * scalar_contracts.h - ACSL contracts of the scalar plugin's integer block dot products
 * (plugins/scalar/scalar.c) for Frama-C: for ANY block bytes (codes a loaded file may hold, not
 * only those our quantizers write), the int32 sum of one block pair stays within the bound
 * stated, so it never overflows. proofs/run includes this before scalar.c (wp_scalar.c).
 */
#ifndef CALGAE_SCALAR_CONTRACTS_H
#define CALGAE_SCALAR_CONTRACTS_H

#include "calgae_plugin.h"

/*@ requires \valid_read(w) && \valid_read(x);
    assigns \nothing;
    ensures ACC_Q8_0: -32 * 128 * 128 <= \result <= 32 * 128 * 128; */
static int32_t block_dot_q8_0(const calgae_block_q8_0 *w, const calgae_block_q8_0 *x);

/*@ requires \valid_read(w) && \valid_read(x);
    assigns \nothing;
    ensures ACC_Q4_0: -32 * 8 * 128 <= \result <= 32 * 8 * 128; */
static int32_t block_dot_q4_0(const calgae_block_q4_0 *w, const calgae_block_q8_0 *x);

/*@ requires \valid_read(w) && \valid_read(x) && \valid(xsum_out);
    requires \separated(xsum_out, w) && \separated(xsum_out, x);
    assigns *xsum_out;
    ensures ACC_Q4_1: -32 * 15 * 128 <= \result <= 32 * 15 * 128;
    ensures ACC_Q4_1: -32 * 128 <= *xsum_out <= 32 * 128; */
static int32_t block_dot_q4_1(const calgae_block_q4_1 *w, const calgae_block_q8_0 *x,
                              int32_t *xsum_out);

#endif
