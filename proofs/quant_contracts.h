/*
 * quant_contracts.h - the ACSL contracts of the quantization code, for Frama-C only (proofs/run
 * includes it between plugin-api/calgae_plugin.h and quant/blocks.c; nothing compiles it).
 * A contract given on a later declaration is merged with the function's own definition, so
 * these are the contracts of the functions users run. RANGE_* name the code-range clauses.
 */
#ifndef CALGAE_QUANT_CONTRACTS_H
#define CALGAE_QUANT_CONTRACTS_H

#include "calgae_plugin.h"

/*@ // the value of a binary16 bit pattern: calgae_fp16_to_fp32 is assumed to compute it
    // (tests/test_blocks.c checks it on every pattern); Eva checks it has no undefined behaviour
    logic real fp16_value(calgae_fp16 h);
*/

/*@ assigns \nothing;
    ensures \result == fp16_value(h); */
static inline float calgae_fp16_to_fp32(calgae_fp16 h);

/*@ assigns \nothing; */
static inline calgae_fp16 calgae_fp32_to_fp16(float f);

/*@ assigns \nothing;
    ensures RANGE_Q8: -127 <= \result <= 127;
    ensures ROUND_Q8: -127.5 <= v <= 127.5 ==> \abs(v - \result) <= 0.5; */
static inline int calgae_q8_code(float v);

/*@ requires n >= 0;
    requires \valid_read(x + (0 .. n - 1));
    requires \valid(y + (0 .. n / CALGAE_QK - 1));
    assigns y[0 .. n / CALGAE_QK - 1];
    ensures RANGE_Q8_0: \forall integer b, k; 0 <= b < n / CALGAE_QK && 0 <= k < CALGAE_QK ==>
                          -127 <= y[b].qs[k] <= 127; */
static inline void calgae_quantize_q8_0_ref(const float *x, calgae_block_q8_0 *y, int64_t n);

#endif
