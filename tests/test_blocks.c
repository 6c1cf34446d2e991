/*
 * test_blocks.c - ggml block formats against vectors computed by hand: binary16 rounding,
 * Q8_0 (d = max|x| / 127, round half away from zero) and Q4_0 (d = signed max / -8,
 * q = trunc(x / d + 8.5) clamped to 15) and Q4_1 (d = (max - min) / 15, m = min) as ggml's
 * reference quantizers define them.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blocks.h"

static void test_fp16_rounding(void **state)
{
    (void)state;
    assert_int_equal(calgae_fp32_to_fp16(1.0f), 0x3C00);
    assert_int_equal(calgae_fp32_to_fp16(-2.0f), 0xC000);
    assert_int_equal(calgae_fp32_to_fp16(65504.0f), 0x7BFF);   /* largest finite */
    assert_int_equal(calgae_fp32_to_fp16(65519.0f), 0x7BFF);   /* below the halfway point */
    assert_int_equal(calgae_fp32_to_fp16(65520.0f), 0x7C00);   /* halfway rounds to Inf */
    assert_int_equal(calgae_fp32_to_fp16(0.1f), 0x2E66);
    assert_int_equal(calgae_fp32_to_fp16(1.0f / 3.0f), 0x3555);
    assert_int_equal(calgae_fp32_to_fp16(0x1p-24f), 0x0001);   /* smallest subnormal */
    assert_int_equal(calgae_fp32_to_fp16(0x1p-25f), 0x0000);   /* tie, to even (zero) */
    assert_int_equal(calgae_fp32_to_fp16(0x3p-25f), 0x0002);   /* 1.5 units: to even */
    assert_int_equal(calgae_fp32_to_fp16(0x1p-14f), 0x0400);   /* smallest normal */
    assert_int_equal(calgae_fp32_to_fp16(1.0f + 0x1p-11f), 0x3C00); /* tie, to even */
    assert_int_equal(calgae_fp32_to_fp16(1.0f + 0x3p-11f), 0x3C02); /* tie, to even (up) */
    assert_int_equal(calgae_fp32_to_fp16(-0.0f), 0x8000);
    assert_int_equal(calgae_fp32_to_fp16(INFINITY), 0x7C00);
    assert_int_equal(calgae_fp32_to_fp16(NAN) & 0x7E00, 0x7E00);
}

static void test_fp16_round_trip(void **state)
{
    (void)state;
    /* every finite binary16 value survives fp16 -> fp32 -> fp16 */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7C00) == 0x7C00)
            continue;
        assert_int_equal(calgae_fp32_to_fp16(calgae_fp16_to_fp32((calgae_fp16)h)), h);
    }
    assert_true(calgae_fp16_to_fp32(0x0001) == 0x1p-24f);
    assert_true(calgae_fp16_to_fp32(0x3555) == 0.333251953125f);
    assert_true(isinf(calgae_fp16_to_fp32(0xFC00)) && calgae_fp16_to_fp32(0xFC00) < 0);
    assert_true(isnan(calgae_fp16_to_fp32(0x7E00)));
}

static void test_q8_0(void **state)
{
    (void)state;
    float x[64] = {0};
    /* block 0: max|x| = 127, so d = 1 and q is x rounded half away from zero */
    x[0] = 127.0f;
    x[1] = 1.4f;
    x[2] = 1.6f;
    x[3] = -2.5f;
    x[4] = -0.4f;
    x[5] = 2.5f;
    x[31] = -127.0f;
    /* block 1: max|x| = 254, so d = 2 */
    x[32] = 254.0f;
    x[33] = 3.0f;  /* 1.5 -> 2 */
    x[34] = -1.0f; /* -0.5 -> -1 */
    x[35] = 0.9f;  /* 0.45 -> 0 */
    calgae_block_q8_0 b[2];
    calgae_quantize_row_q8_0(x, b, 64);
    assert_int_equal(b[0].d, 0x3C00);
    const int8_t want0[] = {127, 1, 2, -3, 0, 3};
    assert_memory_equal(b[0].qs, want0, sizeof want0);
    assert_int_equal(b[0].qs[6], 0);
    assert_int_equal(b[0].qs[31], -127);
    assert_int_equal(b[1].d, 0x4000);
    const int8_t want1[] = {127, 2, -1, 0};
    assert_memory_equal(b[1].qs, want1, sizeof want1);

    float y[64];
    calgae_dequantize_row_q8_0(b, y, 64);
    assert_true(y[0] == 127.0f && y[3] == -3.0f && y[32] == 254.0f && y[33] == 4.0f);
}

static void test_q8_0_zero_block(void **state)
{
    (void)state;
    float x[32] = {0};
    calgae_block_q8_0 b;
    memset(&b, 0x55, sizeof b);
    calgae_quantize_row_q8_0(x, &b, 32);
    assert_int_equal(b.d, 0);
    for (int j = 0; j < 32; j++)
        assert_int_equal(b.qs[j], 0);
}

static void test_q4_0(void **state)
{
    (void)state;
    float x[32] = {0};
    /* the largest magnitude is -8, so d = -8 / -8 = 1 and q = trunc(x + 8.5), max 15 */
    x[0] = -8.0f;  /* 0 */
    x[1] = 7.0f;   /* 15.5 -> 15 */
    x[2] = 7.4f;   /* 15.9 -> 15 */
    x[3] = -0.4f;  /* 8.1 -> 8 */
    x[4] = 0.6f;   /* 9.1 -> 9 */
    x[5] = -3.5f;  /* 5.0 -> 5 */
    x[16] = 2.0f;  /* 10.5 -> 10 */
    x[17] = -7.9f; /* 0.6 -> 0 */
    calgae_block_q4_0 b;
    calgae_quantize_row_q4_0(x, &b, 32);
    assert_int_equal(b.d, 0x3C00);
    const uint8_t want[] = {0 | 10 << 4, 15 | 0 << 4, 15 | 8 << 4, 8 | 8 << 4, 9 | 8 << 4, 5 | 8 << 4};
    assert_memory_equal(b.qs, want, sizeof want);
    float y[32];
    calgae_dequantize_row_q4_0(&b, y, 32);
    assert_true(y[0] == -8.0f && y[1] == 7.0f && y[3] == 0.0f && y[5] == -3.0f && y[16] == 2.0f &&
                y[17] == -8.0f);
}

static void test_q4_0_positive_max_clamps(void **state)
{
    (void)state;
    float x[32] = {0};
    /* a positive largest value gives a negative scale: d = 16 / -8 = -2 */
    x[0] = 16.0f;  /* 16 * -0.5 + 8.5 = 0.5 -> 0 -> (0 - 8) * -2 = 16 */
    x[1] = -14.0f; /* 15.5 -> 15 -> -14 */
    x[2] = -15.9f; /* 16.45 -> 16, clamped to 15 -> -14 */
    calgae_block_q4_0 b;
    calgae_quantize_row_q4_0(x, &b, 32);
    assert_int_equal(b.d, 0xC000);
    assert_int_equal(b.qs[0] & 15, 0);
    assert_int_equal(b.qs[1] & 15, 15);
    assert_int_equal(b.qs[2] & 15, 15);
    float y[32];
    calgae_dequantize_row_q4_0(&b, y, 32);
    assert_true(y[0] == 16.0f && y[1] == -14.0f && y[2] == -14.0f && y[3] == 0.0f);
}

static void test_q4_1(void **state)
{
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = 0.0f;
    /* min -1, max 14: d = 15 / 15 = 1, m = -1, q = trunc(x + 1 + 0.5) */
    x[0] = -1.0f; /* 0 */
    x[1] = 14.0f; /* 15 */
    x[2] = 3.4f;  /* 4.9 -> 4 -> 3 */
    x[3] = 3.6f;  /* 5.1 -> 5 -> 4 */
    x[16] = 0.5f; /* 2.0 -> 2 -> 1 */
    calgae_block_q4_1 b;
    calgae_quantize_row_q4_1(x, &b, 32);
    assert_int_equal(b.d, 0x3C00);
    assert_int_equal(b.m, 0xBC00);
    assert_int_equal(b.qs[0], 0 | 2 << 4);
    assert_int_equal(b.qs[1], 15 | 1 << 4); /* x[17] = 0 -> 1.5 -> 1 */
    assert_int_equal(b.qs[2], 4 | 1 << 4);
    assert_int_equal(b.qs[3], 5 | 1 << 4);
    float y[32];
    calgae_dequantize_row_q4_1(&b, y, 32);
    assert_true(y[0] == -1.0f && y[1] == 14.0f && y[2] == 3.0f && y[3] == 4.0f && y[16] == 1.0f &&
                y[4] == 0.0f);
}

static void test_q4_1_constant_block(void **state)
{
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = -2.5f; /* all equal: d = 0, every value is the minimum */
    calgae_block_q4_1 b;
    calgae_quantize_row_q4_1(x, &b, 32);
    assert_int_equal(b.d, 0);
    assert_int_equal(b.m, 0xC100);
    float y[32];
    calgae_dequantize_row_q4_1(&b, y, 32);
    for (int j = 0; j < 32; j++)
        assert_true(y[j] == -2.5f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_rounding),
        cmocka_unit_test(test_fp16_round_trip),
        cmocka_unit_test(test_q8_0),
        cmocka_unit_test(test_q8_0_zero_block),
        cmocka_unit_test(test_q4_0),
        cmocka_unit_test(test_q4_0_positive_max_clamps),
        cmocka_unit_test(test_q4_1),
        cmocka_unit_test(test_q4_1_constant_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
