/*
 * test_types.c - the type table (quant/types.h) against what it summarises: block sizes and
 * alignments against calgae_plugin.h's block structs (sizeof, _Alignof), every row's
 * row-to-float round trip through its quantizer within the type's bound, names both ways, the
 * plugin slots the host resolves for each row, unknown ids refused everywhere, and the row size's
 * overflow checks. A type added to the table without a bound here fails the round trip test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "quant_test_util.h"
#include "types.h"

/* Every id a GGUF file can name is below this; the table must be empty above its rows. */
enum { ID_SCAN = 256 };

static uint64_t rng = 0x243f6a8885a308d3ull;

/* ---- sizes ------------------------------------------------------------------------------ */

static void expect_row(uint32_t id, const char *name, int64_t blck, size_t size, size_t align)
{
    const calgae_type_info *t = calgae_type_traits(id);
    assert_non_null(t);
    assert_int_equal(t->type, id);
    assert_string_equal(t->name, name);
    assert_int_equal(t->blck_size, blck);
    assert_int_equal(t->type_size, size);
    assert_int_equal(t->align, align);
}

static void test_sizes_match_the_plugin_header(void **state)
{
    (void)state;
    expect_row(CALGAE_TYPE_F32, "F32", 1, sizeof(float), alignof(float));
    expect_row(CALGAE_TYPE_F16, "F16", 1, sizeof(calgae_fp16), alignof(calgae_fp16));
    expect_row(CALGAE_TYPE_Q8_0, "Q8_0", CALGAE_QK, sizeof(calgae_block_q8_0),
               alignof(calgae_block_q8_0));
    expect_row(CALGAE_TYPE_Q4_0, "Q4_0", CALGAE_QK, sizeof(calgae_block_q4_0),
               alignof(calgae_block_q4_0));
    expect_row(CALGAE_TYPE_Q4_1, "Q4_1", CALGAE_QK, sizeof(calgae_block_q4_1),
               alignof(calgae_block_q4_1));
    /* ggml's bytes, independently of the structs: a layout change shows here too */
    assert_int_equal(calgae_type_traits(CALGAE_TYPE_Q8_0)->type_size, 34);
    assert_int_equal(calgae_type_traits(CALGAE_TYPE_Q4_0)->type_size, 18);
    assert_int_equal(calgae_type_traits(CALGAE_TYPE_Q4_1)->type_size, 20);
}

/* What every row must satisfy, whatever the type. */
static void test_every_row_is_consistent(void **state)
{
    (void)state;
    int rows = 0;
    for (uint32_t id = 0; id < ID_SCAN; id++) {
        const calgae_type_info *t = calgae_type_traits(id);
        if (!t)
            continue;
        rows++;
        assert_int_equal(t->type, id);
        assert_non_null(t->name);
        assert_non_null(t->to_float);
        assert_true(t->blck_size >= 1 && t->blck_size <= CALGAE_TYPE_MAX_BLCK);
        assert_true(t->type_size >= 1);
        assert_true(t->align >= 1 && t->type_size % t->align == 0);
        /* a chunk of rtn.c's buffer (CALGAE_TYPE_MAX_BLCK floats) holds a whole block */
        assert_true((size_t)(CALGAE_TYPE_MAX_BLCK / t->blck_size) * t->type_size <=
                    CALGAE_TYPE_MAX_BLCK * sizeof(float));
        /* the activation form is a row too, with blocks that tile the weight's */
        const calgae_type_info *v = calgae_type_traits(t->vec_dot_type);
        assert_non_null(v);
        assert_int_equal(t->blck_size % v->blck_size, 0);
        /* names come back to the id, in either case */
        uint32_t back = UINT32_MAX;
        assert_int_equal(calgae_type_by_name(t->name, &back), 0);
        assert_int_equal(back, id);
        char lower[32];
        size_t n = strlen(t->name);
        assert_true(n < sizeof lower);
        for (size_t i = 0; i <= n; i++) {
            const char c = t->name[i];
            lower[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        back = UINT32_MAX;
        assert_int_equal(calgae_type_by_name(lower, &back), 0);
        assert_int_equal(back, id);
        assert_string_equal(calgae_type_name(id), t->name);
    }
    assert_true(rows >= 5);
}

/* ---- round trips ------------------------------------------------------------------------ */

/* |x - to_float(from_float(x))| <= rel_value * |x| + rel_block * max|x over the block| + abs:
 * exact for F32; binary16's half an ulp for F16 (half its subnormal spacing below 2^-14); half a
 * step for Q8_0 (d = amax / 127) plus the scale's fp16 rounding moving the grid point (up to
 * 127 d 2^-11 = amax 2^-11); one step for Q4_0 (d = amax / 8; the side opposite the extreme
 * clamps +8 to 7) plus 8 d 2^-11; half a step for Q4_1 (d = (max - min) / 15 <= 2 amax / 15)
 * plus the fp16 rounding of d (15 d 2^-11 <= 2 amax 2^-11) and of m (amax 2^-11).
 * Q5_0 and Q5_1 as Q4_0 and Q4_1 with twice the levels (d = amax / 16, (max - min) / 31);
 * Q8_K half a step of amax / 127 with a float scale (its rounding, 2^-24 relative, well
 * inside the 1.01); BF16 half an ulp of an 8-bit mantissa, at any exponent (a binary32's).
 * The fitted types (K, IQ4) have no closed-form bound as tight: a group of 16 or 32 spans at
 * most 2 amax, split into 3 (Q2_K), 7 (Q3_K), 15, 31, 63 steps (Q4_K, Q5_K, Q6_K), so half a
 * step is 1/3, 1/7, 1/15, 1/31, 1/63 of amax; the 4- or 6-bit quantized group scales can add
 * as much again (a group's scale is rounded against the block's largest), hence twice that.
 * IQ4's widest gap between levels is 24 of 127 at the ends: half of it, 12 / 127 of the
 * group's largest, twice over for IQ4_XS's rounded group scales (and IQ4_NL's fit may pick a
 * scale up to 7 tries off the extreme). */
static const struct bound {
    uint32_t type;
    double rel_value, rel_block, abs;
} bounds[] = {
    {CALGAE_TYPE_F32, 0.0, 0.0, 0.0},
    {CALGAE_TYPE_F16, 0x1p-11, 0.0, 0x1p-25},
    {CALGAE_TYPE_Q8_0, 0.0, 0.5 / 127.0 + 1.01 * 0x1p-11, 0.0},
    {CALGAE_TYPE_Q4_0, 0.0, 1.0 / 8.0 + 1.01 * 0x1p-11, 0.0},
    {CALGAE_TYPE_Q4_1, 0.0, 1.0 / 15.0 + 3.01 * 0x1p-11, 0.0},
    {CALGAE_TYPE_Q5_0, 0.0, 1.0 / 16.0 + 1.01 * 0x1p-11, 0.0},
    {CALGAE_TYPE_Q5_1, 0.0, 1.0 / 31.0 + 3.01 * 0x1p-11, 0.0},
    {CALGAE_TYPE_Q8_K, 0.0, 1.01 * 0.5 / 127.0, 0.0},
    {CALGAE_TYPE_BF16, 0x1p-8, 0.0, 0x1p-133},
    {CALGAE_TYPE_Q2_K, 0.0, 2.0 / 3.0, 0.0},
    {CALGAE_TYPE_Q3_K, 0.0, 2.0 / 7.0, 0.0},
    {CALGAE_TYPE_Q4_K, 0.0, 2.0 / 15.0, 0.0},
    {CALGAE_TYPE_Q5_K, 0.0, 2.0 / 31.0, 0.0},
    {CALGAE_TYPE_Q6_K, 0.0, 2.0 / 63.0, 0.0},
    {CALGAE_TYPE_IQ4_NL, 0.0, 2.0 * 12.0 / 127.0, 0.0},
    {CALGAE_TYPE_IQ4_XS, 0.0, 2.0 * 12.0 / 127.0, 0.0},
};

static const struct bound *bound_of(uint32_t type)
{
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++)
        if (bounds[i].type == type)
            return &bounds[i];
    return NULL;
}

static void check_roundtrip(const calgae_type_info *t, const struct bound *b, float scale)
{
    enum { N = 2 * CALGAE_TYPE_MAX_BLCK };
    float x[N], y[N];
    _Alignas(16) unsigned char q[N * sizeof(float)];
    for (int i = 0; i < N; i++)
        x[i] = scale * gauss(&rng);
    x[5] = 0.0f;
    x[N - 1] = -scale * 4.0f; /* an outlier in the last block */
    const int64_t n = N / t->blck_size * t->blck_size;
    size_t bytes = 0;
    assert_int_equal(calgae_type_row_bytes(t->type, n, &bytes), 0);
    assert_true(bytes <= sizeof q);
    assert_int_equal(calgae_quantize_row(t->type, x, q, n), 0);
    assert_int_equal(calgae_dequantize_row(t->type, q, y, n), 0);
    for (int64_t b0 = 0; b0 < n; b0 += t->blck_size) {
        double amax = 0.0;
        for (int64_t j = b0; j < b0 + t->blck_size; j++)
            amax = fmax(amax, fabs((double)x[j]));
        for (int64_t j = b0; j < b0 + t->blck_size; j++) {
            const double err = fabs((double)x[j] - (double)y[j]);
            const double lim = b->rel_value * fabs((double)x[j]) + b->rel_block * amax + b->abs;
            if (!(err <= lim))
                fail_msg("%s: value %lld: %g came back as %g (error %g, bound %g)", t->name,
                         (long long)j, (double)x[j], (double)y[j], err, lim);
        }
    }
}

static void test_every_type_round_trips(void **state)
{
    (void)state;
    for (uint32_t id = 0; id < ID_SCAN; id++) {
        const calgae_type_info *t = calgae_type_traits(id);
        if (!t || !t->from_float)
            continue;
        const struct bound *b = bound_of(id);
        if (!b)
            fail_msg("type %s has a quantizer but no round-trip bound in test_types.c", t->name);
        for (int rep = 0; rep < 20; rep++)
            check_roundtrip(t, b, (float)pow(10.0, 4.0 * uniform(&rng) - 2.0));
    }
}

/* The generic row functions refuse what is not whole blocks, or negative. */
static void test_partial_blocks_refused(void **state)
{
    (void)state;
    float x[2 * CALGAE_QK] = {0}, y[2 * CALGAE_QK];
    calgae_block_q8_0 q[2];
    assert_int_equal(calgae_quantize_row(CALGAE_TYPE_Q8_0, x, q, CALGAE_QK + 1), -1);
    assert_int_equal(calgae_dequantize_row(CALGAE_TYPE_Q4_0, q, y, CALGAE_QK - 1), -1);
    assert_int_equal(calgae_quantize_row(CALGAE_TYPE_F32, x, y, -1), -1);
    assert_int_equal(calgae_quantize_row(CALGAE_TYPE_Q4_1, x, q, 0), 0); /* nothing to do */
}

/* ---- unknown ids ------------------------------------------------------------------------ */

static void test_unknown_ids_rejected(void **state)
{
    (void)state;
    /* 4 and 5 were ggml's Q4_2 and Q4_3, removed: no file may use them */
    const uint32_t bad[] = {4, 5, ID_SCAN, 1000, 0xffff, UINT32_MAX};
    float x[CALGAE_QK] = {0}, y[CALGAE_QK];
    unsigned char q[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(calgae_type_traits(bad[i]));
        assert_string_equal(calgae_type_name(bad[i]), "unknown");
        size_t out = 77;
        assert_int_equal(calgae_type_row_bytes(bad[i], CALGAE_QK, &out), -1);
        assert_int_equal(out, 77);
        assert_false(calgae_type_has_products(bad[i]));
        assert_int_equal(calgae_quantize_row(bad[i], x, q, CALGAE_QK), -1);
        assert_int_equal(calgae_dequantize_row(bad[i], q, y, CALGAE_QK), -1);
        assert_int_equal(calgae_product_slot(bad[i], 0), -1);
        assert_int_equal(calgae_product_slot(bad[i], 1), -1);
    }
    for (uint32_t id = 0; id < ID_SCAN; id++)
        if (!calgae_type_traits(id))
            assert_int_equal(calgae_type_row_bytes(id, 1, &(size_t){0}), -1);
    uint32_t t = 12345;
    assert_int_equal(calgae_type_by_name("q9_9", &t), -1);
    assert_int_equal(calgae_type_by_name("", &t), -1);
    assert_int_equal(calgae_type_by_name("q4_0 ", &t), -1);
    assert_int_equal(calgae_type_by_name("q4", &t), -1);
    assert_int_equal(t, 12345);
}

/* ---- row sizes -------------------------------------------------------------------------- */

static void test_row_bytes(void **state)
{
    (void)state;
    size_t out = 0;
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F32, 5, &out), 0);
    assert_int_equal(out, 20);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F16, 7, &out), 0);
    assert_int_equal(out, 14);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_Q4_0, 64, &out), 0);
    assert_int_equal(out, 36);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_Q8_0, 96, &out), 0);
    assert_int_equal(out, 102);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_Q4_1, 32, &out), 0);
    assert_int_equal(out, 20);
    /* not whole blocks, empty, negative: refused, out untouched */
    out = 99;
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_Q4_0, 33, &out), -1);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_Q8_0, 16, &out), -1);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F32, 0, &out), -1);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F32, -4, &out), -1);
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_Q4_1, INT64_MIN, &out), -1);
    assert_int_equal(out, 99);
}

static void test_row_bytes_overflow(void **state)
{
    (void)state;
    size_t out = 99;
    if (SIZE_MAX > (uint64_t)INT64_MAX) { /* 64-bit size_t: the largest F32 row just fits */
        const int64_t most = (int64_t)(SIZE_MAX / sizeof(float));
        assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F32, most, &out), 0);
        assert_int_equal(out, (size_t)most * sizeof(float));
        out = 99;
        assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F32, most + 1, &out), -1);
        assert_int_equal(out, 99);
    }
    assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F32, INT64_MAX, &out), -1);
    assert_int_equal(out, 99);
    /* 2 * (2^63 - 1) = 2^64 - 2 still fits a 64-bit size_t; the block types never overflow
     * from an int64_t count, having fewer bytes than values */
    if (SIZE_MAX > (uint64_t)INT64_MAX)
        assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F16, INT64_MAX, &out), 0);
    else
        assert_int_equal(calgae_type_row_bytes(CALGAE_TYPE_F16, INT64_MAX, &out), -1);
}

/* ---- plugin slots ----------------------------------------------------------------------- */

static void test_slots_resolve(void **state)
{
    (void)state;
    for (uint32_t id = 0; id < ID_SCAN; id++) {
        const calgae_type_info *t = calgae_type_traits(id);
        if (!t || !calgae_type_has_products(id))
            continue;
        for (int matmul = 0; matmul < 2; matmul++) {
            const int s = calgae_product_slot(id, matmul);
            assert_true(s >= 0 && s < CALGAE_SLOT_COUNT);
            /* the slot's name is the field's: matvec_q4_0 for Q4_0 */
            char want[48];
            snprintf(want, sizeof want, "%s_%s", matmul ? "matmul" : "matvec", t->name);
            for (char *c = want; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            assert_string_equal(calgae_slot_name(s), want);
        }
    }
    assert_int_equal(calgae_product_slot(CALGAE_TYPE_Q4_1, 1), CALGAE_SLOT_MATMUL_Q4_1);
    assert_int_equal(calgae_product_slot(CALGAE_TYPE_F16, 0), CALGAE_SLOT_MATVEC_F16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_match_the_plugin_header),
        cmocka_unit_test(test_every_row_is_consistent),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_partial_blocks_refused),
        cmocka_unit_test(test_unknown_ids_rejected),
        cmocka_unit_test(test_row_bytes),
        cmocka_unit_test(test_row_bytes_overflow),
        cmocka_unit_test(test_slots_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
