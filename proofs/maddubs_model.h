/*
 * maddubs_model.h - a scalar model of the 16-bit lane arithmetic of the avx2 plugin's int8
 * block products (plugins/avx2/products_block.c, products_x8.c), with ACSL contracts that
 * proofs/run proves: for the code ranges the quantizers produce, no lane saturates or wraps.
 * tests/test_maddubs.c runs the model and the real intrinsics side by side on the extreme codes,
 * which ties the model to the instructions.
 *
 * _mm256_maddubs_epi16 (PMADDUBSW): each int16 lane = a0 * b0 + a1 * b1 with a unsigned bytes,
 * b signed bytes, the sum saturated to [-32768, 32767]. _mm256_add_epi16 wraps modulo 2^16.
 */
#ifndef CALGAE_MADDUBS_MODEL_H
#define CALGAE_MADDUBS_MODEL_H

#include <stdint.h>

/*@ assigns \nothing;
    behavior nibbles: // Q4: weight nibbles (0..15) times any activation byte
      assumes a0 <= 15 && a1 <= 15;
      ensures \result == a0 * b0 + a1 * b1;
      ensures -3840 <= \result <= 3840;
    behavior sign_trick: // Q8_0 matmul: |w| (0..128) times x carrying w's sign, x never -128
      assumes a0 <= 128 && a1 <= 128 && b0 != -128 && b1 != -128;
      ensures \result == a0 * b0 + a1 * b1;
      ensures -32512 <= \result <= 32512;
*/
static inline int16_t maddubs_lane(uint8_t a0, int8_t b0, uint8_t a1, int8_t b1)
{
    const int32_t s = (int32_t)a0 * b0 + (int32_t)a1 * b1;
    return (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
}

/*@ requires NO_WRAP: -32768 <= a + b <= 32767;
    assigns \nothing;
    ensures \result == a + b; */
static inline int16_t add16_lane(int16_t a, int16_t b)
{
    /* modulo 2^16, as the instruction does; the contract is the no-wrap case */
    const int32_t s = (int32_t)a + b;
    return (int16_t)(s > 32767 ? s - 65536 : s < -32768 ? s + 65536 : s);
}

/* The int16 partial sum one lane of the Q4 products keeps for a block: 8 maddubs lanes of
 * nibble codes (16 products), added in 16 bits one after another (products_x8.c) or as a
 * tree (products_block.c's s[p] then reduce8_16: the same 8 terms, partial sums of 2 and 4,
 * each bounded as the sequence's prefixes are). */
/*@ requires \valid_read(n + (0 .. 15)) && \valid_read(x + (0 .. 15));
    requires NIBBLES: \forall integer k; 0 <= k < 16 ==> n[k] <= 15;
    assigns \nothing;
    ensures -30720 <= \result <= 30720; */
static inline int16_t q4_lane_sum(const uint8_t *n, const int8_t *x)
{
    int16_t s = 0;
    /*@ loop invariant 0 <= i <= 8;
        loop invariant -3840 * i <= s <= 3840 * i;
        loop assigns i, s; */
    for (int i = 0; i < 8; i++)
        s = add16_lane(s, maddubs_lane(n[2 * i], x[2 * i], n[2 * i + 1], x[2 * i + 1]));
    return s;
}

/* The largest row the loader accepts (CALGAE_MAX_COLS) times the largest product of a stored
 * weight code (-128 from a file) and an activation code ([-127, 127] from the quantizers):
 * even a whole row summed in one int32 stays below 2^31. */
/*@ lemma row_sum_fits_int32: 131072 * (128 * 127) <= 2147483647; */

#endif
