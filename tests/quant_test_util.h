/*
 * quant_test_util.h - helpers that test_quant.c and test_quant_model.c share: a tolerance check
 * in double and a seeded random source.
 *
 * Static functions for the files of the one test program (test_quant); include it after
 * cmocka.h. Each file passes a generator state of its own, with its own seed, so that a draw
 * added in one file does not change the numbers the other's tests see.
 */
#ifndef CALGAE_QUANT_TEST_UTIL_H
#define CALGAE_QUANT_TEST_UTIL_H

#include <math.h>
#include <stdint.h>

/* cmocka's assert_float_equal compares in float; these tolerances need double */
#define assert_close(a, b, tol)                                                                \
    do {                                                                                       \
        const double a_ = (a), b_ = (b);                                                       \
        if (!(fabs(a_ - b_) <= (tol)))                                                         \
            fail_msg("%s = %.12g, expected %.12g (+- %g)", #a, a_, b_, (double)(tol));       \
    } while (0)

/* xorshift64; [0, 1) */
static double uniform(uint64_t *rng)
{
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return (double)(*rng >> 11) * 0x1p-53;
}

/* Box-Muller */
static float gauss(uint64_t *rng)
{
    const double u = uniform(rng) + 1e-12, v = uniform(rng);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

#endif
