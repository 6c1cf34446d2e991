/*
 * test_maddubs.c - ties proofs/maddubs_model.h to the instructions: on the extreme codes (nibbles
 * 0 and 15, |w| up to 128, activations -128, -127, 127) every lane of _mm256_maddubs_epi16 and
 * of the avx2 plugin's Q4 16-bit partial sum (maddubs, then add_epi16 of 8 lanes) equals the
 * scalar model and the exact integer result. Exit 77 (skip) on a CPU without AVX2.
 */
#include <immintrin.h>
#include <stdio.h>

#include "maddubs_model.h"

static int fails;

static void check(const char *what, int got, int model, int exact)
{
    if (got != model || got != exact) {
        printf("%s: instruction %d, model %d, exact %d\n", what, got, model, exact);
        fails++;
    }
}

__attribute__((target("avx2"))) static void run(void)
{
    static const int8_t xs[] = {-128, -127, 127, 0, 1};
    static const uint8_t nib[] = {0, 15};
    static const uint8_t aw[] = {0, 127, 128};
    int16_t out[16];
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 5; k++)
            for (int a = 0; a < 2; a++)
                for (int c = 0; c < 2; c++) { /* Q4: nibbles times any byte */
                    _mm256_storeu_si256((__m256i *)out,
                                        _mm256_maddubs_epi16(_mm256_set1_epi16((short)(nib[a] | nib[c] << 8)),
                                                             _mm256_set1_epi16((short)((uint8_t)xs[i] | (uint8_t)xs[k] << 8))));
                    check("nibble lane", out[0], maddubs_lane(nib[a], xs[i], nib[c], xs[k]), nib[a] * xs[i] + nib[c] * xs[k]);
                    /* the Q4 partial sum: 8 lanes added in 16 bits */
                    uint8_t n[16];
                    int8_t x[16];
                    __m256i s = _mm256_setzero_si256();
                    int exact = 0;
                    for (int t = 0; t < 8; t++) {
                        n[2 * t] = nib[a], n[2 * t + 1] = nib[c], x[2 * t] = xs[i], x[2 * t + 1] = xs[k];
                        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_set1_epi16((short)(nib[a] | nib[c] << 8)),
                                                                     _mm256_set1_epi16((short)((uint8_t)xs[i] | (uint8_t)xs[k] << 8))));
                        exact += nib[a] * xs[i] + nib[c] * xs[k];
                    }
                    _mm256_storeu_si256((__m256i *)out, s);
                    check("q4 partial sum", out[0], q4_lane_sum(n, x), exact);
                }
    for (int i = 1; i < 5; i++) /* the sign trick: |w| <= 128, x never -128 */
        for (int k = 1; k < 5; k++)
            for (int a = 0; a < 3; a++)
                for (int c = 0; c < 3; c++) {
                    _mm256_storeu_si256((__m256i *)out,
                                        _mm256_maddubs_epi16(_mm256_set1_epi16((short)(aw[a] | aw[c] << 8)),
                                                             _mm256_set1_epi16((short)((uint8_t)xs[i] | (uint8_t)xs[k] << 8))));
                    check("sign-trick lane", out[0], maddubs_lane(aw[a], xs[i], aw[c], xs[k]), aw[a] * xs[i] + aw[c] * xs[k]);
                }
    /* and the model saturates where the instruction does: -128 with |w| = 128 is outside the proof */
    _mm256_storeu_si256((__m256i *)out, _mm256_maddubs_epi16(_mm256_set1_epi16((short)(128 | 128 << 8)),
                                                             _mm256_set1_epi16((short)(0x80 | 0x80 << 8))));
    check("saturated lane", out[0], maddubs_lane(128, -128, 128, -128), -32768);
}

int main(void)
{
    if (!__builtin_cpu_supports("avx2")) {
        puts("SKIP: this CPU has no AVX2");
        return 77;
    }
    run();
    printf("%s: %d mismatches\n", fails ? "FAIL" : "ok", fails);
    return fails != 0;
}
